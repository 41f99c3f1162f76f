/*
 * remote.h: what the client commands (attest check, upload, grant, query,
 * audit, budget, status) share: the --server/--contract/--key options, and
 * opening a verified, pinned connection before anything is sent.
 */
#ifndef DCR_CLI_REMOTE_H
#define DCR_CLI_REMOTE_H

#include <getopt.h>
#include <stdbool.h>

#include "cli/result.h"
#include "client/client.h"
#include "cli/command.h"
#include "contract/contract.h"
#include "crypto/party_key.h"

typedef struct {
    const char *server, *contract_path, *key_path;
    dcr_contract contract;
    bool have_contract;
    dcr_party_key key;
    bool have_key;
    dcr_client *cl;
    bool quiet; /* no "verified" line on stderr */
} cli_remote;

/* Options every client command takes; append to a command's table. */
#define CLI_REMOTE_OPTIONS                                                                         \
    {"server", required_argument, 0, 1001}, {"contract", required_argument, 0, 1002},              \
        {"key", required_argument, 0, 1003},                                                       \
    {                                                                                              \
        "quiet", no_argument, 0, 1004                                                              \
    }
#define CLI_REMOTE_USAGE                                                                           \
    "  --server URL      the clean room, https://HOST:PORT\n"                                      \
    "  --contract FILE   the contract you signed (its accepted evidence decides\n"                 \
    "                    whether the server is trusted)\n"                                         \
    "  --key NAME.key    your party key (signs every request)\n"                                   \
    "  --quiet           no attestation summary on stderr\n"

/* Handles one of the options above; false when c is not one of them. */
bool cli_remote_opt(cli_remote *r, int c, const char *arg);

/* Parses argv for a command that prints an answer: the options above,
 * --format table|csv|json, --out FILE and --force (into *out, see
 * result.h), --file FILE when file_ok (into *file: the argument is then
 * read from it, and none may follow the options), and otherwise exactly
 * one argument (*arg). Returns 0, or the usage error's exit code after
 * reporting. */
int cli_remote_parse_answer(cli_remote *r, const dcr_command *cmd, int argc, char **argv,
                            bool file_ok, cli_output *out, const char **file, const char **arg);
#define CLI_OUTPUT_USAGE                                                                           \
    "  --format F        table (default), csv or json (the server's whole answer)\n"               \
    "  --out FILE        write the result to FILE (atomically, mode 0600) instead of\n"            \
    "                    stdout; its format from --format or the name (.csv, .json)\n"             \
    "  --force           replace an existing --out FILE\n"

/* Loads the contract and key, verifies the server's attestation and pins
 * its TLS key. Returns 0, or the exit code after reporting. */
int cli_remote_open(cli_remote *r, const dcr_command *cmd, bool need_key);
void cli_remote_close(cli_remote *r);

/* The caller's party name. */
const char *cli_remote_party(const cli_remote *r);

#endif

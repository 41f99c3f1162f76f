/*
 * command.h: the seam between main.c's dispatcher and each `dcr <command>`.
 *
 * A command is a name, a one-line summary, a usage text and a run function.
 * run() gets argv with argv[0] == the command name, parses its own options,
 * and returns the process exit code (a dcr_status). Commands report errors
 * through cli_report() so every message has the same "dcr CMD: ..." shape.
 */
#ifndef DCR_CLI_COMMAND_H
#define DCR_CLI_COMMAND_H

#include "base/error.h"

typedef struct {
    const char *name;
    const char *summary;
    const char *usage; /* full --help text */
    int (*run)(int argc, char **argv);
} dcr_command;

extern const dcr_command dcr_cmd_keygen;
extern const dcr_command dcr_cmd_seal;
extern const dcr_command dcr_cmd_inspect;
extern const dcr_command dcr_cmd_unseal;
extern const dcr_command dcr_cmd_contract;
extern const dcr_command dcr_cmd_attest;
extern const dcr_command dcr_cmd_sql;
extern const dcr_command dcr_cmd_serve;
extern const dcr_command dcr_cmd_upload;
extern const dcr_command dcr_cmd_grant;
extern const dcr_command dcr_cmd_query;
extern const dcr_command dcr_cmd_fetch;
extern const dcr_command dcr_cmd_audit;
extern const dcr_command dcr_cmd_budget;
extern const dcr_command dcr_cmd_status;
extern const dcr_command dcr_cmd_health;

/* `dcr attest check` (cmd_attest_check.c), dispatched by cmd_attest.c. */
int cli_attest_check(int argc, char **argv);

/* Prints "dcr CMD: MESSAGE" to stderr and returns err->code. */
int cli_report(const char *cmd, const dcr_error *err);

/* Prints a usage error and the hint to run --help; returns DCR_EUSAGE. */
int cli_usage_error(const dcr_command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* True when argv holds -h or --help; the command then prints its usage. */
int cli_wants_help(int argc, char **argv);

/* Seconds on a monotonic clock, for --stats. */
double cli_now(void);
/* Peak resident memory of this process so far, in MiB. */
double cli_peak_rss_mib(void);
/* Parses a decimal int in [min, max]; false if not. */
int cli_parse_int(const char *s, long min, long max, long *out);
/* Parses a --delimiter argument: one byte, or "tab" / "\\t" for TSV (a
 * shell makes a literal tab awkward to type). Multi-byte characters are
 * refused: fields are split on one byte. Returns 0, or reports the usage
 * error and returns its exit code. */
int cli_parse_delimiter(const dcr_command *cmd, const char *arg, char *out);

#endif

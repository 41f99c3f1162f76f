/*
 * main.c: the dcr command line. Finds the command named by argv[1] and runs
 * it; everything else lives in the command's own file.
 */
#include <stdio.h>
#include <string.h>

#include "cli/command.h"

#ifndef DCR_VERSION
#define DCR_VERSION "0.1.0"
#endif

static const dcr_command *const commands[] = {
    &dcr_cmd_keygen, &dcr_cmd_contract, &dcr_cmd_seal,   &dcr_cmd_inspect,
    &dcr_cmd_unseal, &dcr_cmd_attest,   &dcr_cmd_sql,    &dcr_cmd_serve,
    &dcr_cmd_upload, &dcr_cmd_grant,    &dcr_cmd_query,  &dcr_cmd_fetch,
    &dcr_cmd_audit,  &dcr_cmd_budget,   &dcr_cmd_status, &dcr_cmd_health,
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void print_help(FILE *out)
{
    fprintf(out,
            "dcr %s: a confidential data clean room\n\n"
            "Usage: dcr <command> [options]\n\nCommands:\n",
            DCR_VERSION);
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(out, "  %-10s %s\n", "help", "show this help, or a command's: dcr help COMMAND");
    fprintf(out, "  %-10s %s\n", "version", "print the version");
    fprintf(out, "\nExit codes:\n"
                 "  0  success\n"
                 "  2  usage error (bad command line)\n"
                 "  3  input error (bad file, CSV value, schema, or I/O failure)\n"
                 "  4  cryptographic failure (authentication, decryption or verification)\n"
                 "  5  internal error (out of memory, library failure)\n");
}

static const dcr_command *find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i]->name, name) == 0)
            return commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_help(stderr);
        return DCR_EUSAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "help") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        if (argc > 2) {
            const dcr_command *cmd = find_command(argv[2]);
            if (!cmd) {
                fprintf(stderr, "dcr: unknown command '%s'; run 'dcr help'\n", argv[2]);
                return DCR_EUSAGE;
            }
            fputs(cmd->usage, stdout);
            return 0;
        }
        print_help(stdout);
        return 0;
    }
    if (strcmp(name, "version") == 0 || strcmp(name, "--version") == 0) {
        printf("dcr %s\n", DCR_VERSION);
        return 0;
    }
    const dcr_command *cmd = find_command(name);
    if (!cmd) {
        fprintf(stderr, "dcr: unknown command '%s'; run 'dcr help'\n", name);
        return DCR_EUSAGE;
    }
    if (cli_wants_help(argc - 1, argv + 1)) {
        fputs(cmd->usage, stdout);
        return 0;
    }
    return cmd->run(argc - 1, argv + 1);
}

/*
 * command.c: the error and usage reporting every command shares.
 */
#include "cli/command.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <stdio.h>
#include <string.h>

int cli_report(const char *cmd, const dcr_error *err)
{
    fprintf(stderr, "dcr %s: %s\n", cmd, err->msg);
    return err->code == DCR_OK ? DCR_EINTERNAL : (int)err->code;
}

int cli_usage_error(const dcr_command *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "dcr %s: ", cmd->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nRun 'dcr %s --help' for usage.\n", cmd->name);
    return DCR_EUSAGE;
}

int cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return 0;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return 1;
    }
    return 0;
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double cli_peak_rss_mib(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)ru.ru_maxrss / 1024.0; /* Linux reports KiB */
}

int cli_parse_int(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return 0;
    *out = v;
    return 1;
}

int cli_parse_delimiter(const dcr_command *cmd, const char *arg, char *out)
{
    if (strcmp(arg, "tab") == 0 || strcmp(arg, "\\t") == 0) {
        *out = '\t';
        return 0;
    }
    if (strlen(arg) != 1 || (unsigned char)arg[0] >= 0x80)
        return cli_usage_error(cmd,
                               "--delimiter wants one ASCII character (',' ';' '|'), or tab for "
                               "tab-separated files; got '%s'",
                               arg);
    if (arg[0] == '"' || arg[0] == '\r' || arg[0] == '\n')
        return cli_usage_error(cmd, "--delimiter cannot be '\"', CR or LF: they quote fields and "
                                    "end records");
    *out = arg[0];
    return 0;
}

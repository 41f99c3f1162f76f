/*
 * cmd_status.c: `dcr status` and `dcr budget`: small signed GETs whose JSON
 * answer is printed as is (status: datasets, grants, limits, audit head;
 * budget: the analyst's differential-privacy spend).
 */
#include <stdio.h>
#include <string.h>

#include "cli/remote.h"

static const char status_usage[] =
    "Usage: dcr status --server URL --contract FILE --key NAME.key\n"
    "\n"
    "Prints the clean room's status as JSON: which datasets are uploaded and\n"
    "granted to this instance, counters, limits and the audit head.\n"
    "\n" CLI_REMOTE_USAGE "\nExit codes: 0 ok, 2 usage, 3 input, 4 verification, 5 internal.\n";

static const char budget_usage[] =
    "Usage: dcr budget --server URL --contract FILE --key NAME.key\n"
    "\n"
    "Prints your differential-privacy budget (analysts only) as JSON: spent,\n"
    "budget and remaining epsilon, per-query epsilon, delta spent.\n"
    "\n" CLI_REMOTE_USAGE "\nExit codes: 0 ok, 2 usage, 3 input, 4 verification, 5 internal.\n";

static int get_json(const dcr_command *cmd, int argc, char **argv, const char *path)
{
    static const struct option opts[] = {CLI_REMOTE_OPTIONS, {0, 0, 0, 0}};
    cli_remote r = {0};
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1)
        if (!cli_remote_opt(&r, c, optarg))
            return cli_usage_error(cmd, "unknown or incomplete option '%s'", argv[optind - 1]);
    if (optind != argc)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    int rc = cli_remote_open(&r, cmd, true);
    if (rc == 0) {
        dcr_client_response resp = {0};
        dcr_error err = {0};
        json_t *o = NULL;
        dcr_status st = dcr_client_call(r.cl, "GET", path, NULL, 0, &resp, &err);
        if (st == DCR_OK)
            st = dcr_client_json(&resp, &o, &err);
        if (st == DCR_OK) {
            char *s = json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
            printf("%s\n", s ? s : "{}");
            free(s);
        } else {
            rc = cli_report(cmd->name, &err);
        }
        json_decref(o);
        dcr_client_response_free(&resp);
    }
    cli_remote_close(&r);
    return rc;
}

static int run_status(int argc, char **argv)
{
    return get_json(&dcr_cmd_status, argc, argv, "/v1/status");
}

static int run_budget(int argc, char **argv)
{
    return get_json(&dcr_cmd_budget, argc, argv, "/v1/budget");
}

const dcr_command dcr_cmd_status = {
    "status", "show the clean room's datasets, limits and audit head", status_usage, run_status};
const dcr_command dcr_cmd_budget = {"budget", "show your differential-privacy budget (analyst)",
                                    budget_usage, run_budget};

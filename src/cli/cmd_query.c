/*
 * cmd_query.c: `dcr query`: send SQL to the clean room as the analyst and
 * print the released result as a table, CSV or JSON, with what the privacy
 * layer did (threshold, suppressed groups, epsilon spent) on stderr. A
 * refusal prints the rule that refused and where in the SQL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/remote.h"
#include "cli/result.h"

static const char usage[] =
    "Usage: dcr query --server URL --contract FILE --key NAME.key [--format table|csv|json] SQL\n"
    "\n"
    "Runs SQL (PostgreSQL dialect, docs/sql.md) in the clean room under the\n"
    "contract's rules (docs/privacy.md). You must have the analyst role.\n"
    "\n" CLI_REMOTE_USAGE
    "  --format F        table (default), csv or json (the server's whole answer)\n"
    "\n"
    "Exit codes: 0 result, 2 usage, 3 refused or failed (the message names the\n"
    "rule and the SQL position), 4 verification, 5 internal.\n";

static int query(cli_remote *r, const char *sql, const char *format)
{
    json_t *req = json_pack("{s:s}", "sql", sql);
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!body)
        return DCR_EINTERNAL;
    dcr_client_response resp = {0};
    dcr_error err = {0};
    json_t *o = NULL;
    dcr_status st = dcr_client_call(r->cl, "POST", "/v1/query", body, strlen(body), &resp, &err);
    free(body);
    if (st == DCR_OK)
        st = dcr_client_json(&resp, &o, &err);
    if (st != DCR_OK) {
        dcr_client_response_free(&resp);
        return cli_report("query", &err);
    }
    if (strcmp(format, "json") == 0) {
        fwrite(resp.body.data, 1, resp.body.len, stdout);
        printf("\n");
    } else {
        cli_result_print(stdout, o, strcmp(format, "csv") == 0);
    }
    fflush(stdout);
    if (strcmp(format, "json") != 0)
        cli_result_print_privacy(stderr, o);
    json_decref(o);
    dcr_client_response_free(&resp);
    return 0;
}

static int run(int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_REMOTE_OPTIONS, {"format", required_argument, 0, 'f'}, {0, 0, 0, 0}};
    cli_remote r = {0};
    const char *format = "table";
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'f')
            format = optarg;
        else if (!cli_remote_opt(&r, c, optarg))
            return cli_usage_error(&dcr_cmd_query, "unknown or incomplete option '%s'",
                                   argv[optind - 1]);
    }
    if (strcmp(format, "table") && strcmp(format, "csv") && strcmp(format, "json"))
        return cli_usage_error(&dcr_cmd_query, "--format must be table, csv or json");
    if (optind != argc - 1)
        return cli_usage_error(&dcr_cmd_query, "give the SQL as one argument");
    int rc = cli_remote_open(&r, &dcr_cmd_query, true);
    if (rc == 0)
        rc = query(&r, argv[optind], format);
    cli_remote_close(&r);
    return rc;
}

const dcr_command dcr_cmd_query = {"query", "run SQL in the clean room (analyst)", usage, run};

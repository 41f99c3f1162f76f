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
    cli_result_print_answer(o, (const char *)resp.body.data, resp.body.len, format);
    json_decref(o);
    dcr_client_response_free(&resp);
    return 0;
}

static int run(int argc, char **argv)
{
    cli_remote r = {0};
    const char *format, *sql;
    int rc = cli_remote_parse_one(&r, &dcr_cmd_query, argc, argv, &format, &sql);
    if (rc == 0)
        rc = cli_remote_open(&r, &dcr_cmd_query, true);
    if (rc == 0)
        rc = query(&r, sql, format);
    cli_remote_close(&r);
    return rc;
}

const dcr_command dcr_cmd_query = {"query", "run SQL in the clean room (analyst)", usage, run};

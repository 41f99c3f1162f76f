/*
 * cmd_query.c: `dcr query`: send SQL to the clean room as the analyst and
 * print the released result as a table, CSV or JSON, with what the privacy
 * layer did (threshold, suppressed groups, epsilon spent) on stderr. A
 * refusal prints the rule that refused and where in the SQL. --out FILE
 * writes the result atomically; --file reads the SQL from a file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/remote.h"
#include "cli/result.h"

static const char usage[] =
    "Usage: dcr query --server URL --contract FILE --key NAME.key [--format table|csv|json]\n"
    "                 [--out FILE [--force]] (SQL | --file QUERY.sql)\n"
    "\n"
    "Runs SQL (PostgreSQL dialect, docs/sql.md) in the clean room under the\n"
    "contract's rules (docs/privacy.md). You must have the analyst role.\n"
    "\n" CLI_REMOTE_USAGE CLI_OUTPUT_USAGE
    "  --file FILE       read the SQL from FILE instead of the argument\n"
    "\n"
    "Exit codes: 0 result, 2 usage, 3 refused or failed (the message names the\n"
    "rule and the SQL position), 4 verification, 5 internal.\n";

static int query(cli_remote *r, const char *sql, cli_output *out)
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
    st = cli_output_answer(out, o, (const char *)resp.body.data, resp.body.len, &err);
    st = st ? st : cli_output_commit(out, &err);
    json_decref(o);
    dcr_client_response_free(&resp);
    return st ? cli_report("query", &err) : 0;
}

static int run(int argc, char **argv)
{
    cli_remote r = {0};
    cli_output out;
    const char *file, *arg;
    char *from_file = NULL;
    dcr_error err = {0};
    int rc = cli_remote_parse_answer(&r, &dcr_cmd_query, argc, argv, true, &out, &file, &arg);
    if (rc == 0 && file && cli_read_sql_file(file, &from_file, &err) != DCR_OK)
        rc = cli_report("query", &err);
    /* the output file first: a name that exists is refused before the query
     * spends any budget */
    if (rc == 0 && cli_output_open(&out, &err) != DCR_OK)
        rc = cli_report("query", &err);
    if (rc == 0)
        rc = cli_remote_open(&r, &dcr_cmd_query, true);
    if (rc == 0)
        rc = query(&r, from_file ? from_file : arg, &out);
    cli_output_abort(&out);
    free(from_file);
    cli_remote_close(&r);
    return rc;
}

const dcr_command dcr_cmd_query = {"query", "run SQL in the clean room (analyst)", usage, run};

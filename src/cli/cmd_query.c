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

/* The text of a result cell; NULL prints as the empty string. */
static char *cell(json_t *v)
{
    char buf[64];
    if (json_is_null(v))
        return strdup("");
    if (json_is_string(v))
        return strdup(json_string_value(v));
    if (json_is_integer(v))
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(buf, sizeof buf, "%.15g", json_real_value(v));
    else
        snprintf(buf, sizeof buf, "%s", json_is_true(v) ? "true" : "false");
    return strdup(buf);
}

static size_t utf8_width(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

static void print_table(json_t *cols, json_t *rows)
{
    size_t nc = json_array_size(cols), nr = json_array_size(rows);
    size_t *w = calloc(nc ? nc : 1, sizeof *w);
    if (!w)
        return;
    for (size_t c = 0; c < nc; c++)
        w[c] = utf8_width(json_string_value(json_object_get(json_array_get(cols, c), "name")));
    for (size_t r = 0; r < nr; r++)
        for (size_t c = 0; c < nc; c++) {
            char *t = cell(json_array_get(json_array_get(rows, r), c));
            if (t && utf8_width(t) > w[c])
                w[c] = utf8_width(t);
            free(t);
        }
    for (size_t c = 0; c < nc; c++) {
        const char *n = json_string_value(json_object_get(json_array_get(cols, c), "name"));
        printf("%s %s%*s", c ? " |" : "", n, (int)(w[c] - utf8_width(n)), "");
    }
    printf("\n");
    for (size_t c = 0; c < nc; c++) {
        printf("%s", c ? "-+-" : "-");
        for (size_t i = 0; i < w[c]; i++)
            putchar('-');
    }
    printf("-\n");
    for (size_t r = 0; r < nr; r++) {
        for (size_t c = 0; c < nc; c++) {
            json_t *v = json_array_get(json_array_get(rows, r), c);
            char *t = cell(v);
            int pad = (int)(w[c] - utf8_width(t ? t : ""));
            if (json_is_number(v))
                printf("%s %*s%s", c ? " |" : "", pad, "", t);
            else
                printf("%s %s%*s", c ? " |" : "", t ? t : "", pad, "");
            free(t);
        }
        printf("\n");
    }
    printf("(%zu row%s)\n", nr, nr == 1 ? "" : "s");
    free(w);
}

static void print_csv_field(const char *s, json_t *v)
{
    if (json_is_null(v))
        return;
    if (!strpbrk(s, ",\"\r\n") && *s) {
        fputs(s, stdout);
        return;
    }
    putchar('"');
    for (; *s; s++) {
        if (*s == '"')
            putchar('"');
        putchar(*s);
    }
    putchar('"');
}

static void print_csv(json_t *cols, json_t *rows)
{
    size_t nc = json_array_size(cols);
    for (size_t c = 0; c < nc; c++) {
        json_t *n = json_object_get(json_array_get(cols, c), "name");
        printf("%s", c ? "," : "");
        print_csv_field(json_string_value(n), n);
    }
    printf("\n");
    for (size_t r = 0; r < json_array_size(rows); r++) {
        for (size_t c = 0; c < nc; c++) {
            json_t *v = json_array_get(json_array_get(rows, r), c);
            char *t = cell(v);
            printf("%s", c ? "," : "");
            print_csv_field(t ? t : "", v);
            free(t);
        }
        printf("\n");
    }
}

static void print_privacy(json_t *p)
{
    long long sup = json_integer_value(json_object_get(p, "rows_suppressed"));
    double eps = json_real_value(json_object_get(p, "epsilon"));
    fprintf(stderr,
            "privacy: k = %lld; %lld row%s released, %lld group%s suppressed (fewer than k "
            "people)",
            (long long)json_integer_value(json_object_get(p, "k")),
            (long long)json_integer_value(json_object_get(p, "rows_released")),
            json_integer_value(json_object_get(p, "rows_released")) == 1 ? "" : "s", sup,
            sup == 1 ? "" : "s");
    if (eps > 0)
        fprintf(stderr, "; epsilon %.4g spent", eps);
    const char *t = json_string_value(json_object_get(p, "template"));
    if (t && *t)
        fprintf(stderr, "; template %s", t);
    fprintf(stderr, "\n");
}

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
    } else if (strcmp(format, "csv") == 0) {
        print_csv(json_object_get(o, "columns"), json_object_get(o, "rows"));
    } else {
        print_table(json_object_get(o, "columns"), json_object_get(o, "rows"));
    }
    fflush(stdout);
    if (strcmp(format, "json") != 0)
        print_privacy(json_object_get(o, "privacy"));
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

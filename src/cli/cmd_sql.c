/*
 * cmd_sql.c: `dcr sql`, one SQL query over sealed datasets a key holder can
 * open. Binds the SQL against the datasets' schemas (sql/), then runs the
 * plan (exec/) reading only the columns the query needs; the plaintext
 * stays in memory and is wiped when freed. This is the local, single-party
 * form of what the clean-room service will run after its privacy checks.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fileio.h"
#include "cli/command.h"
#include "crypto/util.h"
#include "exec/source.h"
#include "sql/sql.h"
#include "store/sealed_reader.h"

#define MAX_DATA 16
#define MAX_KEYS 8

static const char usage[] =
    "Usage: dcr sql --data NAME=FILE.dcr [--data ...] --key NAME.key [--key ...]\n"
    "               [--format table|csv|json] [--explain] [--memory-limit MIB] \"SELECT ...\"\n"
    "\n"
    "Runs one PostgreSQL-dialect SELECT over sealed datasets. Each --data names a\n"
    "sealed file as a table; a --key must be a recipient of every file. Only the\n"
    "columns the query uses are decrypted and decoded. docs/sql.md lists the SQL\n"
    "that is supported; anything else is refused with its position (SQL:LINE:COL).\n"
    "\n"
    "Options:\n"
    "  --data NAME=FILE    a sealed dataset, queried as table NAME (repeatable)\n"
    "  --key FILE          a recipient's private key (NAME.key; repeatable)\n"
    "  --format F          table (default), csv or json\n"
    "  --explain           print the logical plan instead of running the query\n"
    "  --memory-limit MIB  stop queries that need more memory (default 4096)\n"
    "  --stats             print rows, time and peak memory to stderr\n"
    "\n"
    "Exit codes: 0 ok, 2 usage, 3 input (bad SQL, unsupported SQL, runtime error such\n"
    "as division by zero, damaged file, memory limit), 4 crypto (no key opens a file,\n"
    "failed authentication), 5 internal.\n";

typedef struct {
    const char *names[MAX_DATA], *paths[MAX_DATA];
    size_t ndata;
    const char *keys[MAX_KEYS];
    size_t nkeys;
    dcr_format format;
    int explain, stats;
    long mem_mib;
    const char *sql;
} sql_args;

static int add_data(sql_args *a, const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || !eq[1])
        return cli_usage_error(&dcr_cmd_sql, "--data wants NAME=FILE, got '%s'", arg);
    if (!dcr_name_valid(arg, (size_t)(eq - arg)))
        return cli_usage_error(&dcr_cmd_sql, "--data: '%.*s' is not a valid table name",
                               (int)(eq - arg), arg);
    if (a->ndata == MAX_DATA)
        return cli_usage_error(&dcr_cmd_sql, "at most %d --data options", MAX_DATA);
    char *name = strndup(arg, (size_t)(eq - arg));
    if (!name)
        return cli_usage_error(&dcr_cmd_sql, "out of memory");
    for (size_t i = 0; i < a->ndata; i++)
        if (strcmp(a->names[i], name) == 0) {
            free(name);
            return cli_usage_error(&dcr_cmd_sql, "--data: table '%s' given twice", a->names[i]);
        }
    a->names[a->ndata] = name;
    a->paths[a->ndata++] = eq + 1;
    return 0;
}

static int parse_option(sql_args *a, int c, const char *arg)
{
    switch (c) {
    case 'd':
        return add_data(a, arg);
    case 'k':
        if (a->nkeys == MAX_KEYS)
            return cli_usage_error(&dcr_cmd_sql, "at most %d --key options", MAX_KEYS);
        a->keys[a->nkeys++] = arg;
        return 0;
    case 'f':
        if (strcmp(arg, "table") == 0)
            a->format = DCR_FORMAT_TABLE;
        else if (strcmp(arg, "csv") == 0)
            a->format = DCR_FORMAT_CSV;
        else if (strcmp(arg, "json") == 0)
            a->format = DCR_FORMAT_JSON;
        else
            return cli_usage_error(&dcr_cmd_sql, "--format must be table, csv or json");
        return 0;
    case 'e':
        a->explain = 1;
        return 0;
    case 's':
        a->stats = 1;
        return 0;
    case 'm':
        if (!cli_parse_int(arg, 1, 1L << 22, &a->mem_mib))
            return cli_usage_error(&dcr_cmd_sql, "--memory-limit must be 1..4194304 (MiB)");
        return 0;
    default:
        return cli_usage_error(&dcr_cmd_sql, "unknown or incomplete option '%s'", arg);
    }
}

static int parse_args(int argc, char **argv, sql_args *a)
{
    static const struct option opts[] = {{"data", required_argument, 0, 'd'},
                                         {"key", required_argument, 0, 'k'},
                                         {"format", required_argument, 0, 'f'},
                                         {"explain", no_argument, 0, 'e'},
                                         {"stats", no_argument, 0, 's'},
                                         {"memory-limit", required_argument, 0, 'm'},
                                         {0, 0, 0, 0}};
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        int rc = parse_option(a, c, c == '?' || c == ':' ? argv[optind - 1] : optarg);
        if (rc)
            return rc;
    }
    if (optind != argc - 1)
        return cli_usage_error(&dcr_cmd_sql, "exactly one SQL statement is needed");
    a->sql = argv[optind];
    if (a->ndata == 0)
        return cli_usage_error(&dcr_cmd_sql, "at least one --data NAME=FILE is needed");
    if (a->nkeys == 0 && !a->explain)
        return cli_usage_error(&dcr_cmd_sql, "--key is required");
    return 0;
}

typedef struct {
    dcr_sealed_reader readers[MAX_DATA];
    size_t nopen;
    dcr_sealed_source src[MAX_DATA];
    dcr_exec_source sources[MAX_DATA];
    dcr_catalog_entry entries[MAX_DATA];
    dcr_party_key keys[MAX_KEYS];
    size_t nkeys;
} session;

static void session_free(session *s)
{
    for (size_t i = 0; i < s->nopen; i++) {
        dcr_sealed_reader_close(&s->readers[i]);
        dcr_wipe(s->src[i].key, sizeof s->src[i].key);
    }
    for (size_t i = 0; i < s->nkeys; i++)
        dcr_party_key_wipe(&s->keys[i]);
}

/* Finds a key among ours that opens file i. */
static dcr_status unwrap_any(session *s, size_t i, const char *path, dcr_error *err)
{
    dcr_status st = dcr_fail(err, DCR_ECRYPTO, "%s: none of the --key files is a recipient", path);
    for (size_t k = 0; k < s->nkeys; k++) {
        st = dcr_sealed_unwrap_key(&s->readers[i].header, &s->keys[k], s->src[i].key, err);
        if (st == DCR_OK)
            return DCR_OK;
    }
    return dcr_error_prefix(err, "%s", path);
}

static dcr_status open_all(const sql_args *a, session *s, bool need_keys, dcr_error *err)
{
    for (size_t k = 0; k < a->nkeys; k++) {
        dcr_status st = dcr_party_key_load(a->keys[k], &s->keys[k], err);
        if (st != DCR_OK)
            return st;
        s->nkeys++;
    }
    for (size_t i = 0; i < a->ndata; i++) {
        dcr_status st = dcr_sealed_reader_open(&s->readers[i], a->paths[i], err);
        if (st != DCR_OK)
            return st;
        s->nopen++;
        s->src[i].path = a->paths[i];
        if (need_keys && (st = unwrap_any(s, i, a->paths[i], err)) != DCR_OK)
            return st;
        dcr_sealed_source_bind(&s->sources[i], &s->src[i]);
        s->entries[i] = (dcr_catalog_entry){a->names[i], &s->readers[i].header.schema};
    }
    return DCR_OK;
}

static dcr_status write_out(const dcr_buf *b, dcr_error *err)
{
    return dcr_write_all(STDOUT_FILENO, b->data, b->len, "standard output", err);
}

static dcr_status run_query(const sql_args *a, session *s, size_t *rows, dcr_error *err)
{
    dcr_catalog cat = {a->ndata, s->entries};
    dcr_plan *plan = NULL;
    bool explain = false;
    dcr_status st = dcr_sql_compile(a->sql, &cat, &plan, &explain, err);
    dcr_buf out = DCR_BUF_INIT;
    if (st == DCR_OK && (explain || a->explain)) {
        st = dcr_plan_explain(plan, &out, err);
        st = st ? st : write_out(&out, err);
    } else if (st == DCR_OK) {
        dcr_exec_opts opts = {.mem_limit = (size_t)(a->mem_mib ? a->mem_mib : 4096) << 20};
        dcr_result res;
        int loc = -1;
        st = dcr_exec_run(plan, s->sources, a->ndata, &opts, &res, &loc, err);
        if (st != DCR_OK && loc >= 0)
            dcr_sql_locate(err, a->sql, loc);
        if (st == DCR_OK) {
            *rows = res.nrows;
            st = dcr_result_format(&res, a->format, &out, err);
            st = st ? st : write_out(&out, err);
            dcr_result_free(&res);
        }
    }
    dcr_buf_wipe_free(&out);
    dcr_plan_free(plan);
    return st;
}

static int run(int argc, char **argv)
{
    sql_args a = {.format = DCR_FORMAT_TABLE};
    int rc = parse_args(argc, argv, &a);
    session *s = rc ? NULL : calloc(1, sizeof *s);
    if (!rc && !s)
        rc = DCR_EINTERNAL;
    if (!rc) {
        dcr_error err = {0};
        double t0 = cli_now();
        size_t rows = 0;
        dcr_status st = open_all(&a, s, !a.explain, &err);
        st = st ? st : run_query(&a, s, &rows, &err);
        session_free(s);
        if (st != DCR_OK)
            rc = cli_report("sql", &err);
        else if (a.stats)
            fprintf(stderr, "stats: %zu rows, %.3f s, peak RSS %.1f MiB\n", rows, cli_now() - t0,
                    cli_peak_rss_mib());
    }
    free(s);
    for (size_t i = 0; i < a.ndata; i++)
        free((char *)a.names[i]);
    return rc;
}

const dcr_command dcr_cmd_sql = {"sql", "run a SQL query over sealed datasets", usage, run};

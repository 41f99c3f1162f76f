/*
 * cmd_sql.c: `dcr sql`, one SQL query over sealed datasets a key holder can
 * open. Binds the SQL against the datasets' schemas (sql/), then runs the
 * plan (exec/) reading only the columns the query needs; the plaintext
 * stays in memory and is wiped when freed.
 *
 * With --contract FILE --as PARTY the query runs the way the clean room runs
 * it: through the guarded entry point (privacy/privacy.h), with the
 * contract's column roles, joins, aggregates and threshold; each --data must
 * be a contract dataset sealed for this contract (its header's context is
 * the contract hash, its columns the contract's). With --state DIR the run
 * goes through the room (room/room.h) exactly as in the server: charged,
 * audited, serialised with other runs on DIR, and rows only for the
 * contract's receivers; --fetch ID is a receiver taking a stored result.
 * --out FILE writes what would go to stdout atomically; --file reads the SQL.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fileio.h"
#include "cli/command.h"
#include "cli/result.h"
#include "base/hygiene.h"
#include "exec/source.h"
#include "privacy/privacy.h"
#include "room/room.h"
#include "sql/sql.h"
#include "store/sealed_reader.h"

#define MAX_DATA 16
#define MAX_KEYS 8

static const char usage[] =
    "Usage: dcr sql --data NAME=FILE.dcr [--data ...] --key NAME.key [--key ...]\n"
    "               [--contract FILE --as PARTY [--state DIR]]\n"
    "               [--format table|csv|json] [--out FILE [--force]] [--explain]\n"
    "               [--memory-limit MIB] (\"SELECT ...\" | --file QUERY.sql)\n"
    "       dcr sql --contract FILE --as PARTY --state DIR --key PARTY.key --fetch ID\n"
    "\n"
    "Runs one PostgreSQL-dialect SELECT over sealed datasets. Each --data names a\n"
    "sealed file as a table; a --key must be a recipient of every file. Only the\n"
    "columns the query uses are read, authenticated, decrypted and decoded (each\n"
    "column of a chunk is sealed apart). docs/sql.md lists the SQL that is\n"
    "supported; anything else is refused with its position (SQL:LINE:COL).\n"
    "\n"
    "Options:\n"
    "  --data NAME=FILE    a sealed dataset, queried as table NAME (repeatable)\n"
    "  --key FILE          a recipient's private key (NAME.key; repeatable)\n"
    "  --contract FILE     run under this contract's privacy rules (docs/privacy.md):\n"
    "                      each --data NAME must be a contract dataset sealed for it\n"
    "  --as PARTY          the contract party asking (needs the analyst role)\n"
    "  --state DIR         the clean room's state (docs/architecture.md, State): the\n"
    "                      query is charged to the budget ledger and audited there\n"
    "  --fetch ID          as a receiver (--as), print result ID that the contract\n"
    "                      sent to you from another analyst's query (stored in DIR\n"
    "                      sealed to your key; --key opens it)\n"
    "  --format F          table (default), csv or json\n"
    "  --out FILE          write the result to FILE (atomically, mode 0600) instead\n"
    "                      of stdout; its format from --format or the name (.csv,\n"
    "                      .json). Refused if FILE exists, unless --force\n"
    "  --force             replace an existing --out FILE\n"
    "  --file FILE         read the SQL from FILE instead of the argument\n"
    "  --explain           print the logical plan instead of running the query\n"
    "  --memory-limit MIB  stop queries that need more memory (default 4096)\n"
    "  --stats             print rows, time and peak memory to stderr\n"
    "\n"
    "Under --contract, a refused query names its rule and SQL position (exit 3), and\n"
    "stderr says how many rows were released, k, the protection and who receives\n"
    "(never how many groups were withheld). A contract with differential privacy\n"
    "needs --state: the budget is charged there. Rows go only to the contract's\n"
    "receivers for PARTY: when PARTY is not one of them it gets that report and a\n"
    "result id, no rows (docs/privacy.md, Receivers).\n"
    "\n"
    "Exit codes: 0 ok, 2 usage, 3 input (bad SQL, unsupported SQL, refused by the\n"
    "contract, runtime error such as division by zero, damaged file, memory limit), 4 crypto (no "
    "key opens a file,\n"
    "failed authentication), 5 internal.\n";

typedef struct {
    const char *names[MAX_DATA], *paths[MAX_DATA];
    size_t ndata;
    const char *keys[MAX_KEYS];
    size_t nkeys;
    dcr_format format;
    int explain, stats;
    long mem_mib;
    const char *contract, *as, *state, *fetch;
    const char *sql;
    const char *sql_file;
    char *sql_owned; /* the SQL read from --file */
    cli_output out;  /* stdout or --out FILE; settles format */
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
        if (strcmp(arg, "table") && strcmp(arg, "csv") && strcmp(arg, "json"))
            return cli_usage_error(&dcr_cmd_sql, "--format must be table, csv or json");
        a->out.format = arg;
        return 0;
    case 'o':
        a->out.path = arg;
        return 0;
    case 'O':
        a->out.force = true;
        return 0;
    case 'i':
        a->sql_file = arg;
        return 0;
    case 'e':
        a->explain = 1;
        return 0;
    case 's':
        a->stats = 1;
        return 0;
    case 'c':
        a->contract = arg;
        return 0;
    case 'a':
        a->as = arg;
        return 0;
    case 'S':
        a->state = arg;
        return 0;
    case 'F':
        a->fetch = arg;
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
    static const struct option opts[] = {
        {"data", required_argument, 0, 'd'},     {"key", required_argument, 0, 'k'},
        {"format", required_argument, 0, 'f'},   {"explain", no_argument, 0, 'e'},
        {"stats", no_argument, 0, 's'},          {"memory-limit", required_argument, 0, 'm'},
        {"contract", required_argument, 0, 'c'}, {"as", required_argument, 0, 'a'},
        {"state", required_argument, 0, 'S'},    {"fetch", required_argument, 0, 'F'},
        {"out", required_argument, 0, 'o'},      {"force", no_argument, 0, 'O'},
        {"file", required_argument, 0, 'i'},     {0, 0, 0, 0}};
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        int rc = parse_option(a, c, c == '?' || c == ':' ? argv[optind - 1] : optarg);
        if (rc)
            return rc;
    }
    if (a->out.force && !a->out.path)
        return cli_usage_error(&dcr_cmd_sql, "--force goes with --out FILE");
    if (a->fetch) {
        if (optind != argc || a->ndata || !a->contract || !a->state || a->nkeys != 1 || a->sql_file)
            return cli_usage_error(&dcr_cmd_sql, "--fetch ID takes --contract, --as, --state and "
                                                 "one --key, no --data and no SQL");
        return 0;
    }
    if (a->sql_file && optind != argc)
        return cli_usage_error(&dcr_cmd_sql,
                               "give the SQL either with --file or as the argument, not both");
    if (!a->sql_file && optind != argc - 1)
        return cli_usage_error(&dcr_cmd_sql, "exactly one SQL statement is needed");
    a->sql = a->sql_file ? NULL : argv[optind];
    if (a->ndata == 0)
        return cli_usage_error(&dcr_cmd_sql, "at least one --data NAME=FILE is needed");
    if (a->nkeys == 0 && !a->explain)
        return cli_usage_error(&dcr_cmd_sql, "--key is required");
    if (!a->contract != !a->as)
        return cli_usage_error(&dcr_cmd_sql, "--contract and --as go together");
    if (a->state && !a->contract)
        return cli_usage_error(&dcr_cmd_sql, "--state needs --contract and --as");
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
    /* --contract */
    dcr_contract contract;
    bool has_contract;
    size_t party;
    dcr_exec_source by_dataset[MAX_DATA]; /* indexed by contract dataset */
} session;

static void session_free(session *s)
{
    for (size_t i = 0; i < s->nopen; i++) {
        dcr_sealed_reader_close(&s->readers[i]);
        dcr_wipe(s->src[i].key, sizeof s->src[i].key);
    }
    for (size_t i = 0; i < s->nkeys; i++)
        dcr_party_key_wipe(&s->keys[i]);
    if (s->has_contract)
        dcr_contract_free(&s->contract);
}

static dcr_status load_contract(const sql_args *a, session *s, dcr_error *err)
{
    dcr_contract_diags d = {0};
    dcr_status st = dcr_contract_load(a->contract, &s->contract, &d, NULL, NULL, err);
    s->has_contract = true;
    if (st == DCR_OK && d.n)
        st = dcr_fail(err, DCR_EINPUT, "%s: the contract is not valid", a->contract);
    if (st != DCR_OK && d.n)
        dcr_contract_diags_print(&d, a->contract, stderr);
    dcr_contract_diags_free(&d);
    if (st != DCR_OK)
        return st;
    int p = dcr_contract_find_party(&s->contract, a->as);
    if (p < 0)
        return dcr_fail(err, DCR_EINPUT, "--as: \"%s\" is not a party of %s", a->as, a->contract);
    s->party = (size_t)p;
    if (s->contract.ndatasets > MAX_DATA)
        return dcr_fail(err, DCR_EINPUT, "the contract has more than %d datasets", MAX_DATA);
    return DCR_OK;
}

/* File i must be contract dataset `name`, sealed for this contract. */
static dcr_status check_sealed_for(session *s, size_t i, const char *name, const char *path,
                                   dcr_error *err)
{
    const dcr_contract *c = &s->contract;
    int d = dcr_contract_find_dataset(c, name);
    if (d < 0)
        return dcr_fail(err, DCR_EINPUT, "--data %s: the contract has no dataset \"%s\"", name,
                        name);
    const dcr_sealed_header *h = &s->readers[i].header;
    if (h->context_len != sizeof c->hash || memcmp(h->context, c->hash, sizeof c->hash) != 0)
        return dcr_fail(err, DCR_EINPUT,
                        "%s: not sealed for this contract (its context is not the contract "
                        "hash; seal it with dcr seal --contract)",
                        path);
    const dcr_contract_dataset *ds = &c->datasets[d];
    bool same = h->schema.ncols == ds->ncols;
    for (size_t k = 0; same && k < ds->ncols; k++)
        same = strcmp(h->schema.cols[k].name, ds->cols[k].name) == 0 &&
               h->schema.cols[k].type == ds->cols[k].type;
    if (!same)
        return dcr_fail(err, DCR_EINPUT, "%s: its columns are not those of contract dataset %s",
                        path, name);
    if (s->by_dataset[d].open)
        return dcr_fail(err, DCR_EINPUT, "--data: dataset %s given twice", name);
    s->by_dataset[d] = s->sources[i];
    return DCR_OK;
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
        if (a->contract && (st = check_sealed_for(s, i, a->names[i], a->paths[i], err)) != DCR_OK)
            return st;
    }
    return DCR_OK;
}

static dcr_status write_out(const sql_args *a, const dcr_buf *b, dcr_error *err)
{
    return cli_output_write((cli_output *)&a->out, b->data, b->len, err);
}

static void print_report(const dcr_contract *c, const dcr_privacy_report *r)
{
    /* Groups under k (or the noisy threshold, or too close to an earlier
     * release) are withheld without saying how many: that number is a
     * function of the people in them (docs/privacy.md). */
    fprintf(stderr, "dcr sql: %zu rows released (groups under k = %lld units withheld); %s",
            r->rows_released, (long long)r->k, r->protection ? r->protection : "");
    if (r->template_name[0])
        fprintf(stderr, "; template %s", r->template_name);
    fprintf(stderr, "; results for");
    for (size_t i = 0; i < r->nreceivers; i++)
        fprintf(stderr, "%s %s", i ? "," : "", c->parties[r->receivers[i]].name);
    fprintf(stderr, "\n");
}

/* Prints the budget the analyst has spent, after a run on a state. */
static void print_budget(dcr_room *room, const char *party)
{
    dcr_budget b;
    dcr_error err = {0};
    if (dcr_state_budget_get(dcr_room_state(room), party, &b, &err) == DCR_OK && b.eps_limit > 0)
        fprintf(stderr,
                "dcr sql: budget of %s: epsilon %" PRId64 ".%09" PRId64 " of %" PRId64 ".%09" PRId64
                " spent\n",
                party, (int64_t)(b.eps_spent / DCR_EPS_UNIT), (int64_t)(b.eps_spent % DCR_EPS_UNIT),
                (int64_t)(b.eps_limit / DCR_EPS_UNIT), (int64_t)(b.eps_limit % DCR_EPS_UNIT));
}

/* What happened to the rows when PARTY does not receive them. */
static void print_withheld(const dcr_contract *c, size_t party, const dcr_room_answer *ans)
{
    fprintf(stderr, "dcr sql: %s is not a receiver of its results: no rows here",
            c->parties[party].name);
    if (ans->stored)
        fprintf(stderr, "; stored as result %s for its receivers (dcr sql --fetch %s)",
                ans->result_id, ans->result_id);
    else
        fprintf(stderr, "; nothing stored (without --state there is nowhere to keep it)");
    fprintf(stderr, "\n");
}

/* The query in the room over DIR: charged, audited, serialised. */
static dcr_status run_in_room(const sql_args *a, session *s, dcr_room_answer *ans, dcr_error *err)
{
    dcr_room_config rc = {.contract = &s->contract, .dir = a->state};
    dcr_room *room = NULL;
    memset(ans, 0, sizeof *ans); /* freed by the caller whether or not the room opens */
    dcr_status st = dcr_room_open_local(&rc, &room, err);
    dcr_room_query_opts o = {.exec = {.mem_limit = (size_t)(a->mem_mib ? a->mem_mib : 4096) << 20}};
    st = st ? st : dcr_room_query(room, s->party, a->sql, s->by_dataset, &o, ans, err);
    if (room)
        print_budget(room, s->contract.parties[s->party].name);
    dcr_room_close(room);
    return st;
}

/* Without --state: the guarded query alone (no budget, no audit), and the
 * same receivers rule (rows only for a receiver; nothing stored). */
static dcr_status run_stateless(const sql_args *a, session *s, dcr_room_answer *ans, dcr_error *err)
{
    dcr_exec_opts opts = {.mem_limit = (size_t)(a->mem_mib ? a->mem_mib : 4096) << 20};
    memset(ans, 0, sizeof *ans);
    dcr_status st = dcr_guarded_query(&s->contract, s->party, a->sql, s->by_dataset, NULL, &opts,
                                      &ans->rows, &ans->report, err);
    ans->delivered = st == DCR_OK && dcr_room_is_receiver(&ans->report, s->party);
    if (!ans->delivered)
        dcr_result_free(&ans->rows);
    return st;
}

/* The query through the guarded entry point, as the clean room runs it. */
static dcr_status run_guarded(const sql_args *a, session *s, size_t *rows, dcr_error *err)
{
    dcr_privacy_report rep;
    dcr_buf out = DCR_BUF_INIT;
    dcr_status st;
    if (a->explain) {
        dcr_plan *plan = NULL;
        st = dcr_guarded_plan(&s->contract, s->party, a->sql, &plan, &rep, err);
        st = st ? st : dcr_plan_explain(plan, &out, err);
        dcr_plan_free(plan);
    } else {
        /* Without a ledger every DP answer would be free: the budget is
         * the guarantee (docs/privacy.md, Accounting). */
        if (s->contract.dp.enabled && !a->state)
            return dcr_fail(err, DCR_EINPUT,
                            "the contract uses differential privacy, whose answers are charged "
                            "to each analyst's budget: give --state DIR (the budget ledger and "
                            "audit log) so this query is charged");
        for (size_t d = 0; d < s->contract.ndatasets && d < MAX_DATA; d++)
            if (!s->by_dataset[d].open)
                s->by_dataset[d].unavailable =
                    "it was not given to this run: add --data NAME=FILE.dcr for it";
        dcr_room_answer ans;
        st = a->state ? run_in_room(a, s, &ans, err) : run_stateless(a, s, &ans, err);
        if (st == DCR_OK && a->format == DCR_FORMAT_JSON) {
            /* The clean room's answer exactly as `dcr query --format json`
             * prints it: columns, rows (when delivered), privacy. */
            *rows = ans.delivered ? ans.rows.nrows : 0;
            json_t *o = dcr_room_answer_json(&s->contract, s->party, &ans);
            char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
            st = text ? dcr_buf_append(&out, text, strlen(text), err) : DCR_OK;
            st = st     ? st
                 : text ? dcr_buf_append(&out, "\n", 1, err)
                        : dcr_fail(err, DCR_EINTERNAL, "out of memory");
            free(text);
            json_decref(o);
        } else if (st == DCR_OK && ans.delivered) {
            *rows = ans.rows.nrows;
            st = dcr_result_format(&ans.rows, a->format, &out, err);
        }
        if (st == DCR_OK) {
            print_report(&s->contract, &ans.report);
            if (!ans.delivered)
                print_withheld(&s->contract, s->party, &ans);
        }
        dcr_room_answer_free(&ans);
    }
    st = st ? st : write_out(a, &out, err);
    dcr_buf_wipe_free(&out);
    return st;
}

/* --fetch ID: a receiver's stored result, opened with its key. */
static dcr_status run_fetch(const sql_args *a, session *s, dcr_error *err)
{
    dcr_room_config rc = {.contract = &s->contract, .dir = a->state};
    dcr_room *room = NULL;
    dcr_room_sealed sealed = {0};
    json_t *o = NULL;
    dcr_status st = dcr_party_key_load(a->keys[0], &s->keys[0], err);
    if (st == DCR_OK)
        s->nkeys = 1;
    st = st ? st : dcr_room_open_local(&rc, &room, err);
    st = st ? st : dcr_room_fetch(room, s->party, a->fetch, &sealed, err);
    dcr_room_close(room);
    st = st ? st
            : dcr_room_sealed_open(&s->contract, s->party, a->fetch, &sealed, &s->keys[0], &o, err);
    dcr_room_sealed_free(&sealed);
    if (st == DCR_OK)
        st = cli_output_answer((cli_output *)&a->out, o, NULL, 0, err);
    json_decref(o);
    return st;
}

static dcr_status run_query(const sql_args *a, session *s, size_t *rows, dcr_error *err)
{
    if (a->contract)
        return run_guarded(a, s, rows, err);
    dcr_catalog cat = {a->ndata, s->entries};
    dcr_plan *plan = NULL;
    bool explain = false;
    dcr_status st = dcr_sql_compile(a->sql, &cat, &plan, &explain, err);
    dcr_buf out = DCR_BUF_INIT;
    if (st == DCR_OK && (explain || a->explain)) {
        st = dcr_plan_explain(plan, &out, err);
        st = st ? st : write_out(a, &out, err);
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
            st = st ? st : write_out(a, &out, err);
            dcr_result_free(&res);
        }
    }
    dcr_buf_wipe_free(&out);
    dcr_plan_free(plan);
    return st;
}

/* Reads --file, then settles the output (format, and --out's temp file,
 * made before the query runs so an existing file refuses before any budget
 * is spent). */
static dcr_status open_output(sql_args *a, dcr_error *err)
{
    if (a->sql_file) {
        dcr_status st = cli_read_sql_file(a->sql_file, &a->sql_owned, err);
        if (st != DCR_OK)
            return st;
        a->sql = a->sql_owned;
    }
    dcr_status st = cli_output_open(&a->out, err);
    if (st == DCR_OK)
        a->format = strcmp(a->out.format, "csv") == 0    ? DCR_FORMAT_CSV
                    : strcmp(a->out.format, "json") == 0 ? DCR_FORMAT_JSON
                                                         : DCR_FORMAT_TABLE;
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
        dcr_status st = open_output(&a, &err);
        st = st ? st : a.contract ? load_contract(&a, s, &err) : DCR_OK;
        if (a.fetch) {
            st = st ? st : run_fetch(&a, s, &err);
        } else {
            st = st ? st : open_all(&a, s, !a.explain, &err);
            st = st ? st : run_query(&a, s, &rows, &err);
        }
        session_free(s);
        st = st ? st : cli_output_commit(&a.out, &err);
        cli_output_abort(&a.out);
        if (st != DCR_OK)
            rc = cli_report("sql", &err);
        else if (a.stats)
            fprintf(stderr, "stats: %zu rows, %.3f s, peak RSS %.1f MiB\n", rows, cli_now() - t0,
                    cli_peak_rss_mib());
    }
    free(s);
    free(a.sql_owned);
    for (size_t i = 0; i < a.ndata; i++)
        free((char *)a.names[i]);
    return rc;
}

const dcr_command dcr_cmd_sql = {"sql", "run a SQL query over sealed datasets", usage, run};

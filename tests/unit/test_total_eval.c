/*
 * test_total_eval.c: total evaluation (docs/sql.md, "Guarded evaluation").
 *
 * For every row-level failure in the executor (each dcr_eval_row_fail call
 * site) a guarded query whose CASE branch only the planted person p7
 * reaches (day = 2024-01-08 singles p7 out) is run on a dataset D with p7
 * and on its neighbour D' without p7 (and on D'' where p7's day moves, so
 * no row reaches the branch): the status, the message and the report must
 * be the same, so whether the query fails tells nothing about p7. Threshold
 * and DP contracts both. The same expressions run as plain SQL (no
 * contract, dcr_exec_run without `total`) still raise PostgreSQL's errors.
 *
 * Data (people): p0..p19, city a (even) / b (odd), tag "t<i>", big = i,
 * x = i * 1.5, ts = 2024-01-01 + i hours, day = 2024-01-01 + i days,
 * amount = 1, but p7's amount is the largest BIGINT (its bound), so a SUM
 * over p7 does not fit in BIGINT.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "answers.h"
#include "check.h"
#include "exec/source.h"
#include "privacy/privacy.h"
#include "sql/sql.h"

static const char contract_fmt[] =
    "{\"dcr_contract\": 1, \"name\": \"t\", \"version\": 1, \"purpose\": \"test\",\n"
    " \"development\": true,\n"
    " \"parties\": [\n"
    "  {\"name\": \"analyst\", \"roles\": [\"provider\", \"analyst\", \"receiver\"], "
    "\"public_key\": \"%s\"}],\n"
    " \"datasets\": [\n"
    "  {\"name\": \"people\", \"owner\": \"analyst\", \"privacy_unit\": \"email\", "
    "\"columns\": [\n"
    "    {\"name\": \"email\", \"type\": \"TEXT\", \"role\": \"id\"},\n"
    "    {\"name\": \"city\", \"type\": \"TEXT\", \"role\": \"dimension\"},\n"
    "    {\"name\": \"tag\", \"type\": \"TEXT\", \"role\": \"dimension\"},\n"
    "    {\"name\": \"big\", \"type\": \"BIGINT\", \"role\": \"dimension\"},\n"
    "    {\"name\": \"x\", \"type\": \"DOUBLE PRECISION\", \"role\": \"dimension\"},\n"
    "    {\"name\": \"ts\", \"type\": \"TIMESTAMP\", \"role\": \"dimension\"},\n"
    "    {\"name\": \"day\", \"type\": \"DATE\", \"role\": \"dimension\"},\n"
    "    {\"name\": \"amount\", \"type\": \"BIGINT\", \"role\": \"metric\", \"bounds\": [0, "
    "9223372036854775807]}]}],\n"
    " \"rules\": {\n"
    "  \"aggregation\": {\"min_units\": 3, \"aggregates\": {\"people.amount\": [\"SUM\"]},\n"
    "   \"unsafe_free_form_sql_open_to_differencing\": true},\n"
    "%s"
    "  \"receivers\": {\"analyst\": [\"analyst\"]}},\n"
    " \"evidence\": [{\"type\": \"sim\"}]}\n";

static const char dp_rules[] =
    "  \"differential_privacy\": {\"enabled\": true, \"epsilon_per_query\": 1, \"delta\": 1e-6,\n"
    "   \"budget_per_analyst\": 1000, \"max_contributions_per_unit\": 1},\n";

#define NCOLS 8
#define PLANTED 7
static dcr_column_def defs[NCOLS] = {
    {"email", DCR_TYPE_TEXT, 0, false}, {"city", DCR_TYPE_TEXT, 0, false},
    {"tag", DCR_TYPE_TEXT, 0, false},   {"big", DCR_TYPE_BIGINT, 0, false},
    {"x", DCR_TYPE_DOUBLE, 0, false},   {"ts", DCR_TYPE_TIMESTAMP, 0, false},
    {"day", DCR_TYPE_DATE, 0, false},   {"amount", DCR_TYPE_BIGINT, 0, false}};
static dcr_schema schema = {"people", NCOLS, defs};

/* The three neighbouring datasets. */
enum { WITH_P7, WITHOUT_P7, P7_MOVED, NDATA };
static dcr_column cols[NDATA][NCOLS];
static dcr_table_source tabs[NDATA];
static dcr_contract threshold_contract, dp_contract, timed_contract;

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void make_contract(dcr_contract *c, const char *rules)
{
    char a[DCR_PUB_TEXT_LEN + 2];
    static char text[8192];
    answer_pub_text(a);
    snprintf(text, sizeof text, contract_fmt, a, rules);
    dcr_contract_diags d = {0};
    dcr_error err = {0};
    if (dcr_contract_parse(text, strlen(text), "t", c, &d, &err) != DCR_OK) {
        fprintf(stderr, "contract: %s\n", err.msg);
        abort();
    }
    dcr_contract_diags_free(&d);
}
#pragma GCC diagnostic pop

static void push_person(dcr_column *c, int i, int day_shift)
{
    char e[8], tag[8];
    snprintf(e, sizeof e, "p%d", i);
    snprintf(tag, sizeof tag, "t%d", i);
    int bad = dcr_column_push_text(&c[0], e, strlen(e), NULL);
    bad |= dcr_column_push_text(&c[1], i % 2 ? "b" : "a", 1, NULL);
    bad |= dcr_column_push_text(&c[2], tag, strlen(tag), NULL);
    bad |= dcr_column_push_i64(&c[3], i, NULL);
    bad |= dcr_column_push_f64(&c[4], i * 1.5, NULL);
    bad |= dcr_column_push_i64(&c[5], 1704067200000000LL + i * 3600000000LL, NULL);
    bad |= dcr_column_push_i32(&c[6], 19723 + i + day_shift, NULL);
    bad |= dcr_column_push_i64(&c[7], i == PLANTED ? INT64_MAX : 1, NULL);
    if (bad)
        abort();
}

static void make_tables(void)
{
    for (int k = 0; k < NDATA; k++) {
        for (int j = 0; j < NCOLS; j++)
            dcr_column_init(&cols[k][j], defs[j].type);
        for (int i = 0; i < 20; i++) {
            if (i == PLANTED && k == WITHOUT_P7)
                continue;
            push_person(cols[k], i, i == PLANTED && k == P7_MOVED ? 100 : 0);
        }
        tabs[k] = (dcr_table_source){NCOLS, cols[k], 3};
    }
}

/* What an analyst observes of one answer. */
typedef struct {
    dcr_status st;
    char msg[DCR_ERROR_MSG_MAX];
    dcr_privacy_report rep;
} seen;

static seen guarded(const dcr_contract *c, int data, const char *sql)
{
    dcr_exec_source src[1];
    dcr_table_source_bind(&src[0], &tabs[data]);
    dcr_exec_opts opts = {.batch_rows = 4};
    dcr_result r;
    seen v = {0};
    dcr_error err = {0};
    v.st = dcr_guarded_query(c, 0, sql, src, NULL, &opts, &r, &v.rep, &err);
    snprintf(v.msg, sizeof v.msg, "%s", v.st == DCR_OK ? "" : err.msg);
    if (v.st == DCR_OK)
        dcr_result_free(&r);
    return v;
}

/* Everything but the noisy values (DP) and the rows themselves. */
static bool same(const seen *a, const seen *b)
{
    return a->st == b->st && strcmp(a->msg, b->msg) == 0 && strcmp(a->rep.rule, b->rep.rule) == 0 &&
           a->rep.k == b->rep.k && a->rep.rows_released == b->rep.rows_released &&
           a->rep.rows_suppressed == b->rep.rows_suppressed && a->rep.epsilon == b->rep.epsilon &&
           a->rep.delta == b->rep.delta;
}

/* sql's answers on D, D' and D'' look alike under contract c. */
static void check_neighbours(const dcr_contract *c, const char *sql, int line)
{
    seen v[NDATA];
    for (int k = 0; k < NDATA; k++)
        v[k] = guarded(c, k, sql);
    for (int k = 1; k < NDATA; k++)
        if (!same(&v[0], &v[k])) {
            fprintf(stderr,
                    "  %s:%d: %s\n    with p7: %d %s (rule %s)\n    neighbour %d: %d %s "
                    "(rule %s)\n",
                    __FILE__, line, sql, v[0].st, v[0].msg, v[0].rep.rule, k, v[k].st, v[k].msg,
                    v[k].rep.rule);
            check_current_failed = 1;
        }
}

/* Plain SQL (no contract, no `total`): "ERR <message>" or the rows. */
static char *plain(const char *sql, bool total)
{
    dcr_catalog_entry ent[1] = {{"people", &schema}};
    dcr_catalog cat = {1, ent};
    dcr_exec_source src[1];
    dcr_table_source_bind(&src[0], &tabs[WITH_P7]);
    dcr_plan *p;
    dcr_error err = {0};
    dcr_result r;
    int loc = -1;
    dcr_exec_opts opts = {.batch_rows = 4, .total = total};
    dcr_status s = dcr_sql_compile(sql, &cat, &p, NULL, &err);
    if (s == DCR_OK) {
        s = dcr_exec_run(p, src, 1, &opts, &r, &loc, &err);
        dcr_plan_free(p);
    }
    if (s != DCR_OK)
        return answer_error(&err);
    return answer_rows(&r);
}

/* One row-level failure: `expr` fails on p7's row only. */
typedef struct {
    const char *expr; /* a value computed only in p7's CASE branch */
    const char *pg;   /* the error plain SQL raises */
} site;

static const site sites[] = {
    {"big * 9223372036854775807", "bigint out of range"},
    {"big + 9223372036854775801", "bigint out of range"},
    {"(big - 7 - 9223372036854775807 - 1) / -1", "bigint out of range"},
    {"big / (big - 7)", "division by zero"},
    {"big % (big - 7)", "division by zero"},
    {"-(big - 7 - 9223372036854775807 - 1)", "bigint out of range"},
    {"x * 1e308", "value out of range: overflow"},
    {"x * 1e-300 * 1e-300", "value out of range: underflow"},
    {"x / (x - 10.5)", "division by zero"},
    {"CAST(x * 1e300 AS BIGINT)", "bigint out of range"},
    {"CAST(tag AS BIGINT)", "invalid input syntax for type BIGINT in CAST"},
    {"length(substr(tag, 1, big - 8))", "negative substring length not allowed"},
    {"abs(big - 7 - 9223372036854775807 - 1)", "bigint out of range"},
    {"day + 100000000", "date out of range"},
    {"day - big * 100000000", "date out of range"},
    {"ts + INTERVAL '300000 years'", "timestamp out of range"},
    {"ts - INTERVAL '-178956970 years -8 months'", "interval out of range"},
    {"(ts - TIMESTAMP '2000-01-01') + INTERVAL '2147483600 days'", "interval out of range"},
    {"(ts - TIMESTAMP '2000-01-01') * 1e300", "interval out of range"},
    {"(ts - TIMESTAMP '2000-01-01') / (x - 10.5)", "division by zero"},
    {"-(INTERVAL '-178956970 years -8 months' + (ts - ts))", "interval out of range"},
    {"CASE WHEN 'a' LIKE 'a' ESCAPE tag THEN 1 END", "invalid escape string"},
    {"CASE WHEN 'a' LIKE tag ESCAPE '7' THEN 1 END", "LIKE pattern must not end with escape"},
};
#define NSITES (sizeof sites / sizeof sites[0])

/* The guarded queries that put site s in p7's branch: a filter, a group
 * key and a COUNT argument. */
static void site_queries(const site *s, char q[3][512])
{
    const char *branch = "CASE WHEN day = DATE '2024-01-08' THEN";
    snprintf(q[0], 512, "SELECT city, COUNT(*) FROM people WHERE (%s %s END) IS NULL GROUP BY city",
             branch, s->expr);
    snprintf(q[1], 512, "SELECT city, COUNT(*) FROM people GROUP BY city, %s %s END", branch,
             s->expr);
    snprintf(q[2], 512, "SELECT city, COUNT(%s %s END) FROM people GROUP BY city", branch, s->expr);
}

static void test_plain_sql_keeps_postgres_errors(void)
{
    for (size_t i = 0; i < NSITES; i++) {
        char sql[512], *got;
        snprintf(sql, sizeof sql,
                 "SELECT COUNT(CASE WHEN day = DATE '2024-01-08' THEN %s END) FROM people",
                 sites[i].expr);
        got = plain(sql, false);
        if (strncmp(got, "ERR ", 4) != 0 || !strstr(got, sites[i].pg)) {
            fprintf(stderr, "  %s: plain SQL gave %s, want the error %s\n", sql, got, sites[i].pg);
            check_current_failed = 1;
        }
        free(got);
        got = plain(sql, true); /* total: p7's value is NULL, so 0 counted */
        if (strcmp(got, "0\n") != 0) {
            fprintf(stderr, "  %s: total evaluation gave %s, want 0\n", sql, got);
            check_current_failed = 1;
        }
        free(got);
    }
    char *got = plain("SELECT SUM(amount) FROM people", false);
    CHECK_STR(got, "ERR bigint out of range (SUM)");
    free(got);
    got = plain("SELECT SUM(amount) FROM people", true); /* saturates */
    CHECK_STR(got, "9223372036854775807\n");
    free(got);
}

static void test_threshold_neighbours(void)
{
    for (size_t i = 0; i < NSITES; i++) {
        char q[3][512];
        site_queries(&sites[i], q);
        for (int k = 0; k < 3; k++)
            check_neighbours(&threshold_contract, q[k], __LINE__);
    }
    /* SUM over p7's amount does not fit: saturated, not an error */
    check_neighbours(&threshold_contract, "SELECT city, SUM(amount) FROM people GROUP BY city",
                     __LINE__);
    check_neighbours(&threshold_contract, "SELECT SUM(amount) FROM people", __LINE__);
}

static void test_dp_neighbours(void)
{
    for (size_t i = 0; i < NSITES; i++) {
        char q[3][512];
        site_queries(&sites[i], q);
        check_neighbours(&dp_contract, q[0], __LINE__);
        check_neighbours(&dp_contract, q[2], __LINE__);
    }
}

/* The released answer itself: p7's failing value became NULL, so the
 * filter keeps p7 and the count is the one of D with p7's value NULL. */
static void test_failing_row_is_null(void)
{
    seen v = guarded(&threshold_contract, WITH_P7,
                     "SELECT COUNT(*) FROM people WHERE (CASE WHEN day = DATE '2024-01-08' THEN "
                     "big * 9223372036854775807 END) IS NULL");
    CHECK(v.st == DCR_OK);
    CHECK(v.rep.rows_released == 1);
}

static double ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* rules.release_interval_ms: a result, a refusal and a failure all leave
 * at the first multiple of the interval after the query arrived. */
static void test_release_interval(void)
{
    const char *sqls[] = {"SELECT city, COUNT(*) FROM people GROUP BY city",
                          "SELECT email FROM people", "SELECT nosuch FROM people"};
    for (int i = 0; i < 3; i++) {
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        seen v = guarded(&timed_contract, WITH_P7, sqls[i]);
        double ms = ms_since(&t0);
        CHECK((v.st == DCR_OK) == (i == 0));
        CHECK(ms >= 200 && ms < 400);
    }
}

int main(void)
{
    make_contract(&threshold_contract, "");
    make_contract(&dp_contract, dp_rules);
    make_contract(&timed_contract, "  \"release_interval_ms\": 200,\n");
    make_tables();
    RUN(test_plain_sql_keeps_postgres_errors);
    RUN(test_threshold_neighbours);
    RUN(test_dp_neighbours);
    RUN(test_failing_row_is_null);
    RUN(test_release_interval);
    for (int k = 0; k < NDATA; k++)
        for (int j = 0; j < NCOLS; j++)
            dcr_column_free(&cols[k][j]);
    dcr_contract_free(&threshold_contract);
    dcr_contract_free(&dp_contract);
    dcr_contract_free(&timed_contract);
    return check_summary();
}

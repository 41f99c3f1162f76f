/*
 * fuzz_guarded.c: the guarded query path (dcr_guarded_plan: parse + bind
 * against the contract's datasets, template match, policy checks, threshold
 * rewrite; then dcr_guarded_query: execution with suppression at every
 * aggregate and the charge hook) under the fixed contract of fuzz_fixture.h,
 * for the analyst and for a party without the analyst role, on small
 * in-memory tables (some groups above k, some below). Analysts may be
 * malicious, so every SQL string is hostile input.
 *
 * Invariants beyond "no crash": an accepted query gives a plan (printed with
 * EXPLAIN, which walks the whole rewritten tree), no refusal rule, and a
 * threshold k of the contract's; a refusal is DCR_EINPUT; a party without
 * the analyst role is always refused by rule analyst-role; a query whose
 * plan was refused is refused when run too, and one that runs charges the
 * budget exactly once and returns exactly the rows the report says.
 * Neighbours: every query also runs on the same tables without person u9
 * and with u9's values moved to extremes (the latest timestamp and date, a
 * campaign that ends in LIKE's escape character, huge metrics); the status,
 * message and refusal rule must be the same on all three (total evaluation
 * and data-independent refusals: docs/privacy.md).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "exec/source.h"
#include "fuzz_fixture.h"
#include "privacy/privacy.h"
#include "sql/sql.h"

/* impressions (email, campaign, shown_at, cost), purchases (email,
 * bought_at, amount): 12 people; campaign "a" reaches 8 of them, "b" 3.
 * Variant 0 is that; 1 lacks person u9; 2 has u9's values at extremes. */
#define NPEOPLE 12
#define NVARIANTS 3
#define ODD 9
static dcr_column imp_v[NVARIANTS][4], pur_v[NVARIANTS][3];
static dcr_table_source imp_tab[NVARIANTS], pur_tab[NVARIANTS];

static int push_extreme_imp(dcr_column *imp, int u, dcr_error *err)
{
    char e[8];
    snprintf(e, sizeof e, "u%d", u);
    int bad = dcr_column_push_text(&imp[0], e, strlen(e), err);
    bad |= dcr_column_push_text(&imp[1], "b\\", 2, err);
    bad |= dcr_column_push_i64(&imp[2], DCR_TIMESTAMP_MAX, err);
    bad |= dcr_column_push_f64(&imp[3], 1e308, err);
    return bad;
}

static int push_extreme_pur(dcr_column *pur, int u, dcr_error *err)
{
    char e[8];
    snprintf(e, sizeof e, "u%d", u);
    int bad = dcr_column_push_text(&pur[0], e, strlen(e), err);
    bad |= dcr_column_push_i32(&pur[1], DCR_DATE_MAX, err);
    bad |= dcr_column_push_i64(&pur[2], INT64_MAX, err);
    return bad;
}

static void make_variant(int v, dcr_column *imp, dcr_column *pur)
{
    static const dcr_type it[4] = {DCR_TYPE_TEXT, DCR_TYPE_TEXT, DCR_TYPE_TIMESTAMP,
                                   DCR_TYPE_DOUBLE};
    static const dcr_type pt[3] = {DCR_TYPE_TEXT, DCR_TYPE_DATE, DCR_TYPE_BIGINT};
    for (int i = 0; i < 4; i++)
        dcr_column_init(&imp[i], it[i]);
    for (int i = 0; i < 3; i++)
        dcr_column_init(&pur[i], pt[i]);
    dcr_error err;
    char e[8];
    int bad = 0;
    for (int r = 0; r < 3 * NPEOPLE; r++) {
        int u = r % NPEOPLE;
        if (u == ODD && v > 0) {
            bad |= v == 2 ? push_extreme_imp(imp, u, &err) : 0;
            continue;
        }
        snprintf(e, sizeof e, "u%d", u);
        bad |= dcr_column_push_text(&imp[0], e, strlen(e), &err);
        bad |= dcr_column_push_text(&imp[1],
                                    u < 8    ? "a"
                                    : u < 11 ? "b"
                                             : "c'\n",
                                    u < 11 ? 1 : 3, &err);
        bad |= r == 5 ? dcr_column_push_null(&imp[2], &err)
                      : dcr_column_push_i64(&imp[2], 1704067200000000LL + r * 3600000000LL, &err);
        bad |= dcr_column_push_f64(&imp[3], r % 7 == 0 ? 11.5 : r * 0.25, &err);
    }
    for (int u = 0; u < NPEOPLE + 2; u++) {
        if (u == ODD && v > 0) {
            bad |= v == 2 ? push_extreme_pur(pur, u, &err) : 0;
            continue;
        }
        snprintf(e, sizeof e, "u%d", u);
        bad |= dcr_column_push_text(&pur[0], e, strlen(e), &err);
        bad |= dcr_column_push_i32(&pur[1], 19723 + u * 20, &err);
        bad |= u == 3 ? dcr_column_push_null(&pur[2], &err)
                      : dcr_column_push_i64(&pur[2], u == 9 ? 5000 : 100 * u, &err);
    }
    if (bad)
        __builtin_trap();
}

static void make_tables(void)
{
    for (int v = 0; v < NVARIANTS; v++) {
        make_variant(v, imp_v[v], pur_v[v]);
        imp_tab[v] = (dcr_table_source){4, imp_v[v], 7};
        pur_tab[v] = (dcr_table_source){3, pur_v[v], 0};
    }
}

static int charges;
static dcr_status charge(void *ctx, const char *analyst, double eps, double delta, dcr_error *err)
{
    (void)ctx, (void)err;
    if (strcmp(analyst, "advertiser") != 0 || eps != 0 || delta != 0)
        __builtin_trap(); /* threshold-only contract: nothing to spend */
    charges++;
    return DCR_OK;
}

/* What the asker sees of one answer but its rows. */
typedef struct {
    dcr_status st;
    char msg[DCR_ERROR_MSG_MAX];
    char rule[40];
} outcome;

/* Runs sql for real on variant v; accepted tells whether dcr_guarded_plan
 * accepted it. */
static outcome run_on(int v, const char *sql, size_t party, bool accepted)
{
    dcr_exec_source src[2];
    dcr_table_source_bind(&src[0], &imp_tab[v]);
    dcr_table_source_bind(&src[1], &pur_tab[v]);
    dcr_privacy_hooks hooks = {.charge = charge};
    dcr_exec_opts opts = {.mem_limit = (size_t)64 << 20, .batch_rows = 5, .threads = 1};
    dcr_result out;
    dcr_privacy_report rep;
    dcr_error err = {0};
    charges = 0;
    dcr_status s =
        dcr_guarded_query(&fx_contract, party, sql, src, &hooks, &opts, &out, &rep, &err);
    if (s == DCR_OK) {
        if (!accepted || charges != 1 || out.nrows != rep.rows_released || rep.rule[0])
            __builtin_trap();
    } else if (s != DCR_EINPUT || charges != 0) {
        fprintf(stderr, "guarded query: %d %s\n", (int)s, err.msg);
        __builtin_trap();
    }
    dcr_result_free(&out);
    outcome o = {.st = s};
    snprintf(o.msg, sizeof o.msg, "%s", s == DCR_OK ? "" : err.msg);
    snprintf(o.rule, sizeof o.rule, "%s", rep.rule);
    return o;
}

/* Runs sql on the tables and on their two neighbours: one person must not
 * change whether (and how) the query fails. */
static void run(const char *sql, size_t party, bool accepted)
{
    outcome o[NVARIANTS];
    for (int v = 0; v < NVARIANTS; v++)
        o[v] = run_on(v, sql, party, accepted);
    for (int v = 1; v < NVARIANTS; v++)
        if (o[v].st != o[0].st || strcmp(o[v].msg, o[0].msg) != 0 ||
            strcmp(o[v].rule, o[0].rule) != 0) {
            fprintf(stderr, "neighbour %d differs:\n  %d %s\n  %d %s\n", v, (int)o[0].st, o[0].msg,
                    (int)o[v].st, o[v].msg);
            __builtin_trap();
        }
}

static const char *const seeds[] = {
    "SELECT campaign, COUNT(*) FROM impressions GROUP BY campaign",
    "SELECT i.campaign, COUNT(DISTINCT p.email), SUM(p.amount) FROM impressions i JOIN purchases "
    "p ON i.email = p.email WHERE p.bought_at >= '2024-03-01' GROUP BY i.campaign",
    "SELECT i.campaign, SUM(p.amount) FROM impressions i JOIN purchases p ON i.email = p.email "
    "WHERE p.amount BETWEEN 10 AND 900 AND i.cost < 2.5 AND i.campaign = 'spring' AND (true OR "
    "i.shown_at < '2024-06-01 12:00:00') AND p.bought_at > '2024-01-31' GROUP BY i.campaign "
    "HAVING COUNT(*) > 10 LIMIT 20",
    "SELECT i.campaign, COUNT(*) FROM impressions i WHERE i.cost - -4.5 > 0 OR i.cost < -4.5 "
    "GROUP BY i.campaign",
    "SELECT email FROM purchases",
    "SELECT COUNT(*) FROM purchases WHERE email = 'u3'",
    "SELECT SUM(cost) FROM impressions WHERE campaign = 'c'",
    "SELECT campaign FROM impressions GROUP BY campaign HAVING MIN(email) = 'u8'",
    "SELECT COUNT(*) FROM (SELECT email AS x FROM purchases) s WHERE x = 'u1'",
    "SELECT MIN(n) FROM (SELECT campaign, COUNT(*) AS n FROM impressions GROUP BY campaign) t",
    "WITH t AS (SELECT bought_at, amount FROM purchases) SELECT date_trunc('month', bought_at), "
    "SUM(amount) FROM t GROUP BY 1 ORDER BY 2 DESC LIMIT 3",
    "SELECT campaign FROM impressions UNION ALL SELECT email FROM purchases",
    "EXPLAIN SELECT COUNT(DISTINCT email) FROM impressions",
    "SELECT COUNT(*) FROM impressions i JOIN purchases p ON i.campaign = p.email",
    "SELECT CASE WHEN cost > 5 THEN 1/0 ELSE 0 END, COUNT(*) FROM impressions GROUP BY 1",
    "SELECT campaign, COUNT(*) FROM impressions WHERE (CASE WHEN shown_at > '2024-01-02' THEN "
    "shown_at + INTERVAL '8000 years' END) IS NULL GROUP BY campaign",
    "SELECT campaign, COUNT(*) FROM impressions WHERE 'b' LIKE campaign GROUP BY campaign",
    "SELECT COUNT(*) FROM purchases WHERE bought_at + 3000000 > '2024-01-01'",
    "SELECT SUM(amount), AVG(amount) FROM purchases",
    "SELECT campaign, COUNT(*) FROM impressions GROUP BY campaign, substr(campaign, 1, "
    "length(campaign) - 2)",
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fx_init();
    make_tables();
    if (fx_seed_dir()) {
        /* the tables are what the comment says: one campaign of three above k */
        dcr_exec_source src[2];
        dcr_table_source_bind(&src[0], &imp_tab[0]);
        dcr_table_source_bind(&src[1], &pur_tab[0]);
        dcr_privacy_hooks hooks = {.charge = charge};
        dcr_result out;
        dcr_privacy_report rep;
        dcr_error err = {0};
        if (dcr_guarded_query(&fx_contract, FX_ADVERTISER, seeds[0], src, &hooks, NULL, &out, &rep,
                              &err) != DCR_OK ||
            out.nrows != 1 || rep.rows_suppressed != 2) {
            fprintf(stderr, "fixture tables: %s (%zu rows)\n", err.msg, out.nrows);
            exit(1);
        }
        dcr_result_free(&out);
        for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
            char name[32];
            snprintf(name, sizeof name, "seed-%02zu.sql", i);
            fx_write(fx_seed_dir(), name, seeds[i], strlen(seeds[i]));
        }
        exit(0);
    }
    return 0;
}

static void check_one(const char *sql, size_t party)
{
    dcr_plan *plan = NULL;
    dcr_privacy_report rep;
    dcr_error err = {0};
    dcr_status s = dcr_guarded_plan(&fx_contract, party, sql, &plan, &rep, &err);
    bool analyst = fx_contract.parties[party].roles & DCR_ROLE_ANALYST;
    if (s == DCR_OK) {
        if (!plan || rep.rule[0] || !analyst || rep.k < 5)
            __builtin_trap();
        dcr_buf text = DCR_BUF_INIT;
        if (dcr_plan_explain(plan, &text, &err) != DCR_OK)
            __builtin_trap();
        dcr_buf_free(&text);
        dcr_plan_free(plan);
        run(sql, party, true);
    } else if (s != DCR_EINPUT || plan || !err.msg[0]) {
        fprintf(stderr, "guarded plan: %d %s\n", (int)s, err.msg);
        __builtin_trap();
    } else if (!analyst && strcmp(rep.rule, DCR_RULE_ANALYST) != 0) {
        __builtin_trap();
    } else if (analyst) {
        run(sql, party, false);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *sql = malloc(size + 1); /* the API takes a NUL-terminated string */
    if (!sql)
        return 0;
    memcpy(sql, data, size);
    sql[size] = '\0';
    check_one(sql, FX_ADVERTISER);
    check_one(sql, FX_PUBLISHER);
    free(sql);
    return 0;
}

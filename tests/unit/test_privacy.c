/*
 * test_privacy.c: the privacy layer through its one entry point,
 * dcr_guarded_query(), over in-memory tables under a real (parsed) contract:
 * every column-role and analysis rule with the exact SQL position of its
 * refusal, the aggregation threshold (suppression counts, k = the strictest
 * dataset read), and the attacks of docs/privacy.md, each a query that would
 * leak on a naive engine.
 *
 * Data (k = 4: impressions' own min_units; the contract's is 3):
 *   impressions: u0..u8, two rows each; campaign a = u0..u5 (6 units),
 *                b = u6, u7 (2 units), c = u8 (1 unit); cost 1..18
 *   purchases:   u0..u9, one row each; product p; amount 100*i (u9: 5000,
 *                above the bound 1000)
 *   crafted:     one row, u8 (a provider's crafted upload)
 */
#include <stdlib.h>
#include <string.h>

#include "answers.h"
#include "check.h"
#include "exec/source.h"
#include "privacy/privacy.h"
#include "sql/sql.h"

static const char contract_fmt[] =
    "{\"dcr_contract\": 1, \"name\": \"t\", \"version\": 1, \"purpose\": \"test\",\n"
    " \"development\": true,\n"
    " \"parties\": [\n"
    "  {\"name\": \"publisher\", \"roles\": [\"provider\", \"receiver\"], \"public_key\": "
    "\"%1$s\"},\n"
    "  {\"name\": \"advertiser\", \"roles\": [\"provider\", \"analyst\", \"receiver\"], "
    "\"public_key\": \"%2$s\"},\n"
    "  {\"name\": \"mallory\", \"roles\": [\"provider\"], \"public_key\": \"%3$s\"}],\n"
    " \"datasets\": [\n"
    "  {\"name\": \"impressions\", \"owner\": \"publisher\", \"privacy_unit\": \"email\", "
    "\"min_units\": 4, \"columns\": [\n"
    "    {\"name\": \"email\", \"type\": \"TEXT\", \"role\": \"id\"},\n"
    "    {\"name\": \"campaign\", \"type\": \"TEXT\", \"role\": \"dimension\"},\n"
    "    {\"name\": \"secret\", \"type\": \"TEXT\", \"role\": \"hidden\"},\n"
    "    {\"name\": \"cost\", \"type\": \"DOUBLE PRECISION\", \"role\": \"metric\", \"bounds\": "
    "[0, 10]}]},\n"
    "  {\"name\": \"purchases\", \"owner\": \"advertiser\", \"privacy_unit\": \"email\", "
    "\"columns\": [\n"
    "    {\"name\": \"email\", \"type\": \"TEXT\", \"role\": \"id\"},\n"
    "    {\"name\": \"customer\", \"type\": \"BIGINT\", \"role\": \"join\"},\n"
    "    {\"name\": \"product\", \"type\": \"TEXT\", \"role\": \"dimension\"},\n"
    "    {\"name\": \"amount\", \"type\": \"BIGINT\", \"role\": \"metric\", \"bounds\": [0, "
    "1000]}]},\n"
    "  {\"name\": \"crafted\", \"owner\": \"mallory\", \"privacy_unit\": \"email\", "
    "\"columns\": [\n"
    "    {\"name\": \"email\", \"type\": \"TEXT\", \"role\": \"id\"},\n"
    "    {\"name\": \"tag\", \"type\": \"TEXT\", \"role\": \"dimension\"}]}],\n"
    " \"rules\": {\n"
    "  \"aggregation\": {\"min_units\": 3, \"unsafe_free_form_sql_open_to_differencing\": true,\n"
    "   \"unsafe_min_max_reveal_one_value\": true,\n"
    "   \"aggregates\": {\"impressions.cost\": [\"SUM\", \"AVG\"], \"purchases.amount\": "
    "[\"SUM\", \"MAX\"], \"purchases.email\": [\"COUNT_DISTINCT\"]},\n"
    "   \"joins\": [{\"left\": \"impressions.email\", \"right\": \"purchases.email\"},\n"
    "             {\"left\": \"crafted.email\", \"right\": \"purchases.email\"}]},\n"
    "  \"receivers\": {\"advertiser\": [\"advertiser\", \"publisher\"]}},\n"
    " \"evidence\": [{\"type\": \"sim\"}]}\n";

static dcr_contract contract;
static dcr_column imp[4], pur[4], cra[2];
static dcr_table_source imp_src = {4, imp, 3}, pur_src = {4, pur, 4}, cra_src = {2, cra, 0};

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void make_contract(void)
{
    char a[DCR_PUB_TEXT_LEN + 2], b[DCR_PUB_TEXT_LEN + 2], c[DCR_PUB_TEXT_LEN + 2];
    static char text[8192];
    answer_pub_text(a);
    answer_pub_text(b);
    answer_pub_text(c);
    snprintf(text, sizeof text, contract_fmt, a, b, c);
    dcr_contract_diags d = {0};
    dcr_error err = {0};
    if (dcr_contract_parse(text, strlen(text), "t", &contract, &d, &err) != DCR_OK) {
        fprintf(stderr, "contract: %s\n", err.msg);
        abort();
    }
    dcr_contract_diags_free(&d);
}
#pragma GCC diagnostic pop

static void make_tables(void)
{
    dcr_type it[4] = {DCR_TYPE_TEXT, DCR_TYPE_TEXT, DCR_TYPE_TEXT, DCR_TYPE_DOUBLE};
    dcr_type pt[4] = {DCR_TYPE_TEXT, DCR_TYPE_BIGINT, DCR_TYPE_TEXT, DCR_TYPE_BIGINT};
    for (int i = 0; i < 4; i++) {
        dcr_column_init(&imp[i], it[i]);
        dcr_column_init(&pur[i], pt[i]);
    }
    dcr_column_init(&cra[0], DCR_TYPE_TEXT);
    dcr_column_init(&cra[1], DCR_TYPE_TEXT);
    char e[8];
    for (int r = 0; r < 18; r++) {
        int u = r / 2;
        snprintf(e, sizeof e, "u%d", u);
        dcr_column_push_text(&imp[0], e, strlen(e), NULL);
        dcr_column_push_text(&imp[1], u < 6 ? "a" : u < 8 ? "b" : "c", 1, NULL);
        dcr_column_push_text(&imp[2], "s", 1, NULL);
        dcr_column_push_f64(&imp[3], r + 1, NULL);
    }
    for (int u = 0; u < 10; u++) {
        snprintf(e, sizeof e, "u%d", u);
        dcr_column_push_text(&pur[0], e, strlen(e), NULL);
        dcr_column_push_i64(&pur[1], u, NULL);
        dcr_column_push_text(&pur[2], "p", 1, NULL);
        dcr_column_push_i64(&pur[3], u == 9 ? 5000 : 100 * u, NULL);
    }
    dcr_column_push_text(&cra[0], "u8", 2, NULL);
    dcr_column_push_text(&cra[1], "x", 1, NULL);
}

static dcr_privacy_report rep;

/* Runs sql as party `as`; returns the CSV rows (no header) or "ERR msg". */
static char *run_as(const char *as, const char *sql)
{
    dcr_exec_source src[3];
    dcr_table_source_bind(&src[0], &imp_src);
    dcr_table_source_bind(&src[1], &pur_src);
    dcr_table_source_bind(&src[2], &cra_src);
    dcr_error err = {0};
    dcr_result r;
    dcr_exec_opts opts = {.batch_rows = 4};
    int party = dcr_contract_find_party(&contract, as);
    dcr_status s = dcr_guarded_query(&contract, party < 0 ? 99 : (size_t)party, sql, src, NULL,
                                     &opts, &r, &rep, &err);
    if (s != DCR_OK) {
        return answer_error(&err);
    }
    return answer_rows(&r);
}

static char *run(const char *sql)
{
    return run_as("advertiser", sql);
}

/* The query gives exactly `want`. */
#define EXPECT(sql, want)                                                                          \
    do {                                                                                           \
        char *got_ = run(sql);                                                                     \
        if (strcmp(got_, want) != 0) {                                                             \
            fprintf(stderr, "  %s:%d: %s\n    got  %s\n    want %s\n", __FILE__, __LINE__, sql,    \
                    got_, want);                                                                   \
            check_current_failed = 1;                                                              \
        }                                                                                          \
        free(got_);                                                                                \
    } while (0)

/* The query is refused by `rule` with a message starting with `prefix`. */
#define REFUSED(sql, rule_, prefix)                                                                \
    do {                                                                                           \
        char *got_ = run(sql);                                                                     \
        char want_[512];                                                                           \
        snprintf(want_, sizeof want_, "ERR %s: refused by rule %s:", prefix, rule_);               \
        if (strncmp(got_, want_, strlen(want_)) != 0 || strcmp(rep.rule, rule_) != 0) {            \
            fprintf(stderr, "  %s:%d: %s\n    got  %s (rule %s)\n    want %s\n", __FILE__,         \
                    __LINE__, sql, got_, rep.rule, want_);                                         \
            check_current_failed = 1;                                                              \
        }                                                                                          \
        free(got_);                                                                                \
    } while (0)

static void test_threshold_basic(void)
{
    /* a: 6 units released; b (2) and c (1) suppressed; k = 4 from impressions. */
    EXPECT("SELECT campaign, COUNT(*) FROM impressions GROUP BY campaign", "a,12\n");
    CHECK(rep.k == 4);
    CHECK(rep.rows_released == 1);
    CHECK(rep.rows_suppressed == 2);
    CHECK(rep.nreceivers == 2);
    /* Only purchases: k = 3 (the contract's). */
    EXPECT("SELECT product, COUNT(*) FROM purchases GROUP BY product", "p,10\n");
    CHECK(rep.k == 3);
    CHECK(rep.rows_suppressed == 0);
}

static void test_analyst_role(void)
{
    char *got = run_as("publisher", "SELECT COUNT(*) FROM purchases");
    CHECK(strstr(got, "refused by rule analyst-role: party \"publisher\" does not have the "
                      "analyst role") != NULL);
    CHECK_STR(rep.rule, "analyst-role");
    free(got);
}

static void test_id_rules(void)
{
    REFUSED("SELECT email FROM purchases", "id-column", "SQL:1:8");
    REFUSED("SELECT COUNT(*) FROM purchases WHERE email = 'u3'", "id-literal", "SQL:1:38");
    REFUSED("SELECT COUNT(*) FROM purchases GROUP BY email", "id-column", "SQL:1:41");
    REFUSED("SELECT lower(email), COUNT(*) FROM purchases GROUP BY 1", "id-column", "SQL:1:14");
    REFUSED("WITH t AS (SELECT email AS x, product FROM purchases) SELECT x FROM t", "id-column",
            "SQL:1:62");
    REFUSED("SELECT COUNT(*) FROM purchases WHERE customer = 7", "id-literal", "SQL:1:38");
}

static void test_hidden_metric(void)
{
    REFUSED("SELECT COUNT(*) FROM impressions WHERE secret = 's'", "hidden-column", "SQL:1:40");
    REFUSED("SELECT amount, COUNT(*) FROM purchases GROUP BY amount", "metric-column", "SQL:1:49");
    REFUSED("SELECT COUNT(*) FROM purchases WHERE amount > 100", "metric-column", "SQL:1:38");
    REFUSED("SELECT AVG(amount) FROM purchases", "aggregate-not-allowed", "SQL:1:8");
    REFUSED("SELECT SUM(amount * 2) FROM purchases", "aggregate-not-allowed", "SQL:1:19");
}

static void test_joins(void)
{
    EXPECT("SELECT i.campaign, COUNT(DISTINCT p.email) FROM impressions i JOIN purchases p ON "
           "i.email = p.email GROUP BY i.campaign ORDER BY 1",
           "a,6\n");
    CHECK(rep.rows_suppressed == 2);
    REFUSED("SELECT COUNT(*) FROM impressions i JOIN purchases p ON i.campaign = p.product",
            "join-not-allowed", "SQL:1:56");
    /* A crafted one-row dataset joined in: its one unit is under k. */
    EXPECT("SELECT p.product, COUNT(*) FROM purchases p JOIN crafted c ON c.email = p.email "
           "GROUP BY p.product",
           "");
    CHECK(rep.rows_suppressed == 1);
}

static void test_clamp(void)
{
    /* u9's 5000 counts as the bound 1000. */
    EXPECT("SELECT SUM(amount), MAX(amount) FROM purchases", "4600,1000\n");
}

static void test_not_aggregated(void)
{
    REFUSED("SELECT campaign FROM impressions", "not-aggregated", "SQL:1:8");
    REFUSED("SELECT 1 AS one FROM purchases", "not-aggregated", "SQL:1:8");
    /* DISTINCT groups like GROUP BY: thresholded, b and c suppressed. */
    EXPECT("SELECT DISTINCT campaign FROM impressions", "a\n");
    CHECK(rep.rows_suppressed == 2);
    /* No dataset at all: nothing to protect. */
    EXPECT("SELECT 1 + 1", "2\n");
}

static void test_group_of_one(void)
{
    /* Naive engine: c,9 (u8's own cost: rows 17, 18 -> 10 + 10 after clamping). */
    EXPECT("SELECT campaign, SUM(cost) FROM impressions WHERE campaign = 'c' GROUP BY campaign",
           "");
    CHECK(rep.rows_suppressed == 1);
    CHECK(rep.rows_released == 0);
    /* A global aggregate over one person's rows. */
    EXPECT("SELECT SUM(cost) FROM impressions WHERE campaign = 'c'", "");
    CHECK(rep.rows_suppressed == 1);
    /* ... and over nobody (0 units) is suppressed too. */
    EXPECT("SELECT COUNT(*) FROM impressions WHERE campaign = 'zz'", "");
}

static void test_having_tricks(void)
{
    /* Naive: b,4 and c,2 (the small groups HAVING picks out). */
    EXPECT("SELECT campaign, COUNT(*) FROM impressions GROUP BY campaign HAVING COUNT(*) < 5", "");
    CHECK(rep.rows_suppressed == 2);
    /* The suppressed count is taken at the aggregate, before HAVING: it is
     * the same whatever HAVING says about the small groups' values. */
    EXPECT("SELECT campaign FROM impressions GROUP BY campaign HAVING SUM(cost) > 1000", "");
    CHECK(rep.rows_suppressed == 2);
    EXPECT("SELECT campaign FROM impressions GROUP BY campaign HAVING SUM(cost) < 1000", "a\n");
    CHECK(rep.rows_suppressed == 2);
    REFUSED("SELECT campaign FROM impressions GROUP BY campaign HAVING MIN(email) = 'u8'",
            "aggregate-not-allowed", "SQL:1:59");
    REFUSED("SELECT campaign FROM impressions GROUP BY campaign HAVING COUNT(DISTINCT email) = 1",
            "aggregate-not-allowed", "SQL:1:59");
}

static void test_subquery_laundering(void)
{
    REFUSED("SELECT x FROM (SELECT email AS x FROM purchases) s", "id-column", "SQL:1:8");
    REFUSED("SELECT COUNT(*) FROM (SELECT email AS x FROM purchases) s WHERE x = 'u1'",
            "id-literal", "SQL:1:65");
    REFUSED("SELECT y, COUNT(*) FROM (SELECT amount AS y FROM purchases) s GROUP BY y",
            "metric-column", "SQL:1:72");
    REFUSED("WITH t AS (SELECT amount + 0 AS y FROM purchases) SELECT SUM(y) FROM t",
            "aggregate-not-allowed", "SQL:1:62");
    /* An id passed through a subquery may still be a join key. */
    EXPECT("SELECT p.product, COUNT(*) FROM impressions i JOIN (SELECT email AS e, product FROM "
           "purchases) p ON i.email = p.e GROUP BY p.product",
           "p,18\n");
}

static void test_nested_aggregates(void)
{
    /* Naive: 3 (a, b and c); the inner b and c groups are under k. */
    EXPECT("SELECT COUNT(*) FROM (SELECT campaign, COUNT(*) AS n FROM impressions GROUP BY "
           "campaign) s",
           "1\n");
    CHECK(rep.inner_suppressed == 2);
    CHECK(rep.rows_suppressed == 0);
    CHECK(rep.aggregates == 2);
    /* Naive: the smallest group's size (2). */
    EXPECT("SELECT MIN(n) FROM (SELECT campaign, COUNT(*) AS n FROM impressions GROUP BY "
           "campaign) s",
           "12\n");
}

static void test_union_tricks(void)
{
    /* Each branch's aggregate is thresholded on its own. */
    EXPECT("SELECT campaign, COUNT(*) FROM impressions WHERE campaign = 'c' GROUP BY campaign "
           "UNION ALL SELECT product, COUNT(*) FROM purchases GROUP BY product",
           "p,10\n");
    CHECK(rep.rows_suppressed == 1);
    /* A union under one aggregate: group c rests on one impressions unit. */
    EXPECT("SELECT g, COUNT(*) FROM (SELECT campaign AS g FROM impressions WHERE campaign = 'c' "
           "UNION ALL SELECT product FROM purchases) s GROUP BY g ORDER BY g",
           "p,10\n");
    CHECK(rep.rows_suppressed == 1);
    /* The crafted one-person dataset padded with a large one. */
    EXPECT("SELECT COUNT(*) FROM (SELECT tag AS t FROM crafted UNION ALL SELECT product FROM "
           "purchases) s",
           "");
    REFUSED("SELECT e FROM (SELECT email AS e FROM crafted UNION ALL SELECT email FROM purchases) "
            "s",
            "id-column", "SQL:1:8");
    REFUSED("SELECT campaign FROM impressions UNION ALL SELECT product FROM purchases GROUP BY "
            "product",
            "not-aggregated", "SQL:1:8");
}

static void test_limit_order_tricks(void)
{
    /* Naive: c,2 (the smallest group comes first). */
    EXPECT("SELECT campaign, COUNT(*) FROM impressions GROUP BY campaign ORDER BY 2 LIMIT 1",
           "a,12\n");
    CHECK(rep.rows_suppressed == 2);
    EXPECT("SELECT campaign, COUNT(*) FROM impressions GROUP BY campaign ORDER BY 2 LIMIT 1 "
           "OFFSET 1",
           "");
    REFUSED("SELECT COUNT(*) FROM (SELECT campaign FROM impressions LIMIT 2) s", "limit-on-rows",
            "SQL");
    REFUSED("SELECT COUNT(*) FROM (SELECT campaign FROM impressions ORDER BY email) s", "id-column",
            "SQL:1:65");
}

static void test_error_oracle(void)
{
    REFUSED("SELECT COUNT(*) FROM purchases WHERE 1 / (length(product) - 1) = 1", "error-oracle",
            "SQL:1:40");
    REFUSED("SELECT COUNT(*) FROM purchases WHERE CAST(product AS BIGINT) = 1", "error-oracle",
            "SQL:1:38");
    /* Date/time arithmetic: out of range on one row's amount */
    REFUSED("SELECT COUNT(*) FROM purchases WHERE DATE '2024-01-01' + length(product) > "
            "DATE '2024-01-02'",
            "error-oracle", "SQL:1:56");
    REFUSED("SELECT COUNT(*) FROM purchases WHERE TIMESTAMP '2024-01-01' + INTERVAL '1 day' * "
            "customer > TIMESTAMP '2024-01-02'",
            "error-oracle", "SQL:1:61");
    REFUSED("SELECT COUNT(*) FROM purchases WHERE INTERVAL '1 day' * length(product) > "
            "INTERVAL '1 day'",
            "error-oracle", "SQL:1:55");
    /* moving by constants (which can only fail on the constants) is fine */
    EXPECT("SELECT product, COUNT(*) FROM purchases WHERE DATE '2024-01-01' + 1 - INTERVAL '1 "
           "hour' * 2 > TIMESTAMP '2024-01-01' GROUP BY product",
           "p,10\n");
    /* After aggregation a failure depends only on released groups. */
    EXPECT("SELECT product, SUM(amount) / COUNT(*) FROM purchases GROUP BY product", "p,460\n");
}

static void test_joins_more(void)
{
    REFUSED("SELECT COUNT(*) FROM purchases a JOIN purchases b ON a.customer = b.customer",
            "join-not-allowed", "SQL:1:54");
    REFUSED("SELECT COUNT(*) FROM impressions i JOIN purchases p ON lower(i.email) = p.email",
            "id-column", "SQL:1:62");
    /* LEFT JOIN: unmatched rows rest on impressions only. */
    EXPECT("SELECT i.campaign, COUNT(*) FROM impressions i LEFT JOIN purchases p ON i.email = "
           "p.email GROUP BY i.campaign",
           "a,12\n");
}

static void test_unavailable_and_dp(void)
{
    dcr_exec_source src[3];
    memset(src, 0, sizeof src);
    dcr_table_source_bind(&src[1], &pur_src);
    dcr_error err = {0};
    dcr_result r;
    CHECK(dcr_guarded_query(&contract, 1, "SELECT COUNT(*) FROM impressions", src, NULL, NULL, &r,
                            &rep, &err) == DCR_EINPUT);
    CHECK_STR(rep.rule, "dataset-unavailable");
    CHECK(dcr_guarded_query(&contract, 1, "SELECT product, COUNT(*) FROM purchases GROUP BY 1", src,
                            NULL, NULL, &r, &rep, &err) == DCR_OK);
    CHECK(r.nrows == 1);
    dcr_result_free(&r);
    /* The same contract with DP on: a DP answer (one noisy row); a shape DP
     * cannot answer is refused by rule (test_dp.c has the details). */
    dcr_contract_dp saved = contract.dp;
    contract.dp = (dcr_contract_dp){.present = true,
                                    .enabled = true,
                                    .epsilon_per_query = 1,
                                    .delta = 1e-6,
                                    .budget_per_analyst = 1,
                                    .max_contributions_per_unit = 1};
    CHECK(dcr_guarded_query(&contract, 1, "SELECT COUNT(*) FROM purchases", src, NULL, NULL, &r,
                            &rep, &err) == DCR_OK);
    CHECK(r.nrows == 1 && rep.epsilon > 0);
    dcr_result_free(&r);
    CHECK(dcr_guarded_query(&contract, 1, "SELECT MAX(amount) FROM purchases", src, NULL, NULL, &r,
                            &rep, &err) == DCR_EINPUT);
    CHECK_STR(rep.rule, "differential-privacy");
    contract.dp = saved;
}

static double charged = -1;
static dcr_status charge(void *ctx, const char *analyst, double eps, double delta, dcr_error *err)
{
    (void)delta;
    if (strcmp(analyst, "advertiser") != 0)
        return dcr_fail(err, DCR_EINTERNAL, "wrong analyst");
    charged = eps;
    return ctx ? dcr_fail(err, DCR_EINPUT, "budget exhausted: 0 left") : DCR_OK;
}

static void test_charge_hook(void)
{
    dcr_exec_source src[3];
    dcr_table_source_bind(&src[0], &imp_src);
    dcr_table_source_bind(&src[1], &pur_src);
    dcr_table_source_bind(&src[2], &cra_src);
    dcr_privacy_hooks hooks = {.charge = charge};
    dcr_error err = {0};
    dcr_result r;
    CHECK(dcr_guarded_query(&contract, 1, "SELECT COUNT(*) FROM purchases", src, &hooks, NULL, &r,
                            &rep, &err) == DCR_OK);
    CHECK(charged == 0);
    dcr_result_free(&r);
    hooks.ctx = &hooks; /* refuse */
    CHECK(dcr_guarded_query(&contract, 1, "SELECT COUNT(*) FROM purchases", src, &hooks, NULL, &r,
                            &rep, &err) == DCR_EINPUT);
    CHECK_MSG(err, "budget exhausted");
    CHECK(r.nrows == 0 && r.nbatches == 0);
}

static void test_guarded_plan(void)
{
    dcr_plan *p = NULL;
    dcr_error err = {0};
    CHECK(dcr_guarded_plan(&contract, 1, "SELECT campaign, COUNT(*) FROM impressions GROUP BY 1",
                           &p, &rep, &err) == DCR_OK);
    dcr_buf b = DCR_BUF_INIT;
    CHECK(p && dcr_plan_explain(p, &b, &err) == DCR_OK);
    dcr_buf_append(&b, "", 1, &err);
    CHECK(strstr((char *)b.data, "count(DISTINCT email)") != NULL);
    dcr_buf_free(&b);
    dcr_plan_free(p);
}

int main(void)
{
    make_contract();
    make_tables();
    RUN(test_threshold_basic);
    RUN(test_analyst_role);
    RUN(test_id_rules);
    RUN(test_hidden_metric);
    RUN(test_joins);
    RUN(test_clamp);
    RUN(test_not_aggregated);
    RUN(test_group_of_one);
    RUN(test_having_tricks);
    RUN(test_subquery_laundering);
    RUN(test_nested_aggregates);
    RUN(test_union_tricks);
    RUN(test_limit_order_tricks);
    RUN(test_error_oracle);
    RUN(test_joins_more);
    RUN(test_unavailable_and_dp);
    RUN(test_charge_hook);
    RUN(test_guarded_plan);
    for (int i = 0; i < 4; i++) {
        dcr_column_free(&imp[i]);
        dcr_column_free(&pur[i]);
    }
    dcr_column_free(&cra[0]);
    dcr_column_free(&cra[1]);
    dcr_contract_free(&contract);
    return check_summary();
}

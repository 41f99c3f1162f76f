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
    "  \"aggregation\": {\"min_units\": 3,\n"
    "   \"aggregates\": {\"impressions.cost\": [\"SUM\", \"AVG\"], \"purchases.amount\": "
    "[\"SUM\", \"MAX\"], \"purchases.email\": [\"COUNT_DISTINCT\"]},\n"
    "   \"joins\": [{\"left\": \"impressions.email\", \"right\": \"purchases.email\"},\n"
    "             {\"left\": \"crafted.email\", \"right\": \"purchases.email\"}]},\n"
    "  \"receivers\": {\"advertiser\": [\"advertiser\", \"publisher\"]}},\n"
    " \"evidence\": [{\"type\": \"sim\"}]}\n";

static dcr_contract contract;
static dcr_column imp[4], pur[4], cra[2];
static dcr_table_source imp_src = {4, imp, 3}, pur_src = {4, pur, 4}, cra_src = {2, cra, 0};

static void pub_text(char out[DCR_PUB_TEXT_LEN + 2])
{
    dcr_party_key k;
    dcr_error err;
    if (dcr_party_key_generate(&k, &err))
        abort();
    dcr_party_pub_format(&k.pub, out, DCR_PUB_TEXT_LEN + 2);
    out[DCR_PUB_TEXT_LEN] = 0;
    dcr_party_key_wipe(&k);
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void make_contract(void)
{
    char a[DCR_PUB_TEXT_LEN + 2], b[DCR_PUB_TEXT_LEN + 2], c[DCR_PUB_TEXT_LEN + 2];
    static char text[8192];
    pub_text(a);
    pub_text(b);
    pub_text(c);
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
        char *m = malloc(strlen(err.msg) + 5);
        sprintf(m, "ERR %s", err.msg);
        return m;
    }
    dcr_buf b = DCR_BUF_INIT;
    dcr_result_format(&r, DCR_FORMAT_CSV, &b, &err);
    dcr_buf_append(&b, "", 1, &err);
    dcr_result_free(&r);
    char *nl = strchr((char *)b.data, '\n');
    char *out = strdup(nl ? nl + 1 : "");
    dcr_buf_free(&b);
    return out;
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
    for (int i = 0; i < 4; i++) {
        dcr_column_free(&imp[i]);
        dcr_column_free(&pur[i]);
    }
    dcr_column_free(&cra[0]);
    dcr_column_free(&cra[1]);
    dcr_contract_free(&contract);
    return check_summary();
}

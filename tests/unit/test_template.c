/*
 * test_template.c: contract query templates (privacy/template.c over
 * sql/shape.c): matching submitted SQL by fingerprint and then by parse
 * tree, each parameter type, range checks, counts, instantiation by name,
 * and the tricks that keep the fingerprint but change the query.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "contract/contract.h"
#include "privacy/template.h"

static const char contract_fmt[] =
    "{\"dcr_contract\": 1, \"name\": \"t\", \"version\": 1, \"purpose\": \"p\",\n"
    " \"development\": true,\n"
    " \"parties\": [\n"
    "  {\"name\": \"publisher\", \"roles\": [\"provider\", \"receiver\"], \"public_key\": "
    "\"%s\"},\n"
    "  {\"name\": \"advertiser\", \"roles\": [\"provider\", \"analyst\", \"receiver\"],\n"
    "   \"public_key\": \"%s\"}],\n"
    " \"datasets\": [\n"
    "  {\"name\": \"impressions\", \"owner\": \"publisher\", \"privacy_unit\": \"email\",\n"
    "   \"columns\": [{\"name\": \"email\", \"type\": \"TEXT\", \"role\": \"id\"},\n"
    "    {\"name\": \"campaign\", \"type\": \"TEXT\", \"role\": \"dimension\"},\n"
    "    {\"name\": \"shown_at\", \"type\": \"TIMESTAMP\", \"role\": \"dimension\"},\n"
    "    {\"name\": \"cost\", \"type\": \"DOUBLE PRECISION\", \"role\": \"metric\", \"bounds\": "
    "[0, "
    "10]}]},\n"
    "  {\"name\": \"purchases\", \"owner\": \"advertiser\", \"privacy_unit\": \"email\",\n"
    "   \"columns\": [{\"name\": \"email\", \"type\": \"TEXT\", \"role\": \"id\"},\n"
    "    {\"name\": \"bought_at\", \"type\": \"DATE\", \"role\": \"dimension\"},\n"
    "    {\"name\": \"amount\", \"type\": \"BIGINT\", \"role\": \"metric\", \"bounds\": [0, "
    "1000]}]}],\n"
    " \"rules\": {\n"
    "  \"aggregation\": {\"min_units\": 5,\n"
    "   \"joins\": [{\"left\": \"impressions.email\", \"right\": \"purchases.email\"}]},\n"
    "  \"templates\": [%s],\n"
    "  \"receivers\": {\"advertiser\": [\"advertiser\"]}},\n"
    " \"evidence\": [{\"type\": \"sim\"}]}\n";

/* Template 0: the documented example. */
#define T_SINCE                                                                                    \
    "{\"name\": \"by_campaign\", \"sql\": \"SELECT i.campaign, COUNT(DISTINCT p.email), "          \
    "SUM(p.amount) FROM impressions i JOIN purchases p ON i.email = p.email WHERE p.bought_at >= " \
    "$1 GROUP BY i.campaign\", \"parameters\": [{\"name\": \"since\", \"type\": \"DATE\", "        \
    "\"min\": \"2024-01-01\", \"max\": \"2024-12-31\"}]}"
/* Template 1: one parameter of each type, fixed constants around them. */
#define T_TYPES                                                                                    \
    "{\"name\": \"typed\", \"sql\": \"SELECT i.campaign, SUM(p.amount) FROM impressions i JOIN "   \
    "purchases p ON i.email = p.email WHERE p.amount BETWEEN $1 AND 900 AND i.cost < $2 AND "      \
    "i.campaign = $3 AND ($4 OR i.shown_at < $5) AND p.bought_at > $6 GROUP BY i.campaign HAVING " \
    "COUNT(*) > 10 LIMIT 20\", \"parameters\": [{\"name\": \"lo\", \"type\": \"BIGINT\", "         \
    "\"min\": 0, \"max\": 1000}, {\"name\": \"maxcost\", \"type\": \"DOUBLE PRECISION\", "         \
    "\"min\": 0.5, \"max\": 10}, {\"name\": \"camp\", \"type\": \"TEXT\"}, {\"name\": \"flag\", "  \
    "\"type\": \"BOOLEAN\"}, {\"name\": \"before\", \"type\": \"TIMESTAMP\", \"min\": "            \
    "\"2024-01-01 00:00:00\"}, {\"name\": \"after\", \"type\": \"DATE\", \"max\": "                \
    "\"2030-01-01\"}]}"
/* Template 2: one parameter used twice, and next to a minus sign. */
#define T_TWICE                                                                                    \
    "{\"name\": \"twice\", \"sql\": \"SELECT i.campaign, COUNT(*) FROM impressions i WHERE "       \
    "i.cost -$1 > 0 OR i.cost < $1 GROUP BY i.campaign\", \"parameters\": [{\"name\": \"x\", "     \
    "\"type\": \"DOUBLE PRECISION\", \"min\": -5, \"max\": 5}]}"
/* Template 3: an IN list and aliases that matter. */
#define T_IN                                                                                       \
    "{\"name\": \"in_list\", \"sql\": \"SELECT a.campaign, SUM(b.amount) FROM impressions a JOIN " \
    "purchases b ON a.email = b.email WHERE a.campaign IN ($1) GROUP BY a.campaign\", "            \
    "\"parameters\": [{\"name\": \"c\", \"type\": \"TEXT\"}]}"

static char pub_a[DCR_PUB_TEXT_LEN + 2], pub_b[DCR_PUB_TEXT_LEN + 2];

static void make_keys(void)
{
    dcr_party_key a, b;
    dcr_error err;
    if (dcr_party_key_generate(&a, &err) || dcr_party_key_generate(&b, &err))
        abort();
    dcr_party_pub_format(&a.pub, pub_a, sizeof pub_a);
    dcr_party_pub_format(&b.pub, pub_b, sizeof pub_b);
    pub_a[DCR_PUB_TEXT_LEN] = pub_b[DCR_PUB_TEXT_LEN] = 0;
}

/* Parses a contract with the given templates (a JSON array body). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static int load_contract(const char *templates, dcr_contract *c)
{
    static char text[16384];
    snprintf(text, sizeof text, contract_fmt, pub_a, pub_b, templates);
    dcr_contract_diags d = {0};
    dcr_error err;
    dcr_status s = dcr_contract_parse(text, strlen(text), "c.json", c, &d, &err);
    if (s != DCR_OK)
        fprintf(stderr, "  contract: %s\n", err.msg);
    dcr_contract_diags_free(&d);
    return s == DCR_OK;
}
#pragma GCC diagnostic pop

static dcr_contract contract;
static dcr_templates templates;

/* Matches sql; returns the status, fills m (caller frees) and err. */
static dcr_status match(const char *sql, dcr_template_match *m, dcr_error *err)
{
    return dcr_template_match_sql(&templates, sql, m, err);
}

static void test_match_documented(void)
{
    dcr_template_match m;
    dcr_error err;
    CHECK(match("select i.campaign, count(distinct p.email), sum(p.amount)\n"
                "  FROM impressions i JOIN purchases p ON (i.email = p.email) -- approved\n"
                " WHERE p.bought_at >= '2024-03-01' GROUP BY i.campaign",
                &m, &err) == DCR_OK);
    CHECK(m.matched && m.index == 0 && m.nvalues == 1);
    CHECK(m.matched && strcmp(m.values[0], "2024-03-01") == 0);
    dcr_template_match_free(&m);
}

static void test_mismatch_other_query(void)
{
    dcr_template_match m;
    dcr_error err;
    CHECK(match("SELECT i.campaign, COUNT(*) FROM impressions i GROUP BY i.campaign", &m, &err) ==
          DCR_OK);
    CHECK(!m.matched && m.near_miss[0] == '\0');
    dcr_template_match_free(&m);
    /* A syntax error is an error, not a mismatch. */
    CHECK(match("SELECT FROM WHERE", &m, &err) == DCR_EINPUT);
    CHECK_MSG(err, "SQL:1:");
}

static const char typed_fmt[] =
    "SELECT i.campaign, SUM(p.amount) FROM impressions i JOIN purchases p ON i.email = p.email "
    "WHERE p.amount BETWEEN %s AND 900 AND i.cost < %s AND i.campaign = %s AND (%s OR i.shown_at "
    "< %s) AND p.bought_at > %s GROUP BY i.campaign HAVING COUNT(*) > 10 LIMIT 20";

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static dcr_status typed(const char *v1, const char *v2, const char *v3, const char *v4,
                        const char *v5, const char *v6, dcr_template_match *m, dcr_error *err)
{
    char sql[1024];
    snprintf(sql, sizeof sql, typed_fmt, v1, v2, v3, v4, v5, v6);
    return match(sql, m, err);
}
#pragma GCC diagnostic pop

static void test_each_type(void)
{
    dcr_template_match m;
    dcr_error err;
    CHECK(typed("5", "2.5", "'spring'", "true", "'2024-06-01 12:30:00'", "'2025-01-01'", &m,
                &err) == DCR_OK);
    CHECK(m.matched && m.index == 1 && m.nvalues == 6);
    if (m.matched) {
        CHECK_STR(m.values[0], "5");
        CHECK_STR(m.values[1], "2.5");
        CHECK_STR(m.values[2], "spring");
        CHECK_STR(m.values[3], "true");
        CHECK_STR(m.values[4], "2024-06-01 12:30:00");
        CHECK_STR(m.values[5], "2025-01-01");
    }
    dcr_template_match_free(&m);
    /* An integer literal is a fine DOUBLE; a BIGINT beyond 32 bits arrives
     * as a numeric literal and still fits when it is integral. */
    CHECK(typed("1000", "3", "''", "false", "'2024-01-01'", "'2029-12-31'", &m, &err) == DCR_OK);
    CHECK(m.matched && strcmp(m.values[1], "3") == 0 && strcmp(m.values[2], "") == 0);
    dcr_template_match_free(&m);
}

static void test_wrong_types(void)
{
    static const struct {
        const char *v[6];
        const char *want;
    } cases[] = {
        {{"'5'", "2.5", "'a'", "true", "'2024-06-01'", "'2025-01-01'"},
         "parameter lo ($1): expected a BIGINT between 0 and 1000; got a string"},
        {{"1.5", "2.5", "'a'", "true", "'2024-06-01'", "'2025-01-01'"},
         "parameter lo ($1): expected a BIGINT between 0 and 1000; the value is not a valid "
         "BIGINT"},
        {{"5", "'2.5'", "'a'", "true", "'2024-06-01'", "'2025-01-01'"},
         "parameter maxcost ($2): expected a DOUBLE PRECISION between 0.5 and 10; got a string"},
        {{"5", "2.5", "7", "true", "'2024-06-01'", "'2025-01-01'"},
         "parameter camp ($3): expected a TEXT; got a number"},
        {{"5", "2.5", "'a'", "'t'", "'2024-06-01'", "'2025-01-01'"},
         "parameter flag ($4): expected a BOOLEAN; got a string"},
        {{"5", "2.5", "'a'", "true", "20240601", "'2025-01-01'"},
         "parameter before ($5): expected a TIMESTAMP of at least 2024-01-01 00:00:00; got a "
         "number"},
        {{"5", "2.5", "'a'", "true", "'2024-06-01'", "'2025-02-30'"},
         "parameter after ($6): expected a DATE of at most 2030-01-01; the value is not a valid "
         "DATE"},
        {{"5", "2.5", "NULL", "true", "'2024-06-01'", "'2025-01-01'"},
         "parameter camp ($3): expected a TEXT; got NULL"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dcr_template_match m;
        dcr_error err = {0};
        const char *const *v = cases[i].v;
        CHECK(typed(v[0], v[1], v[2], v[3], v[4], v[5], &m, &err) == DCR_EINPUT);
        CHECK(!m.matched);
        CHECK_MSG(err, cases[i].want);
        CHECK_MSG(err, "template typed");
        CHECK_MSG(err, "refused by rule template-parameter: template typed");
    }
}

static void test_out_of_range(void)
{
    dcr_template_match m;
    dcr_error err;
    const char *sql = "SELECT i.campaign, COUNT(DISTINCT p.email), SUM(p.amount) FROM impressions "
                      "i JOIN purchases p ON i.email = p.email WHERE p.bought_at >= '2023-12-31' "
                      "GROUP BY i.campaign";
    CHECK(match(sql, &m, &err) == DCR_EINPUT);
    /* The literal starts at byte 136: column 137. */
    CHECK(strstr(sql, "'2023") - sql == 136);
    CHECK_MSG(err, "SQL:1:137: refused by rule template-parameter: template by_campaign, parameter "
                   "since ($1): expected a DATE between "
                   "2024-01-01 and 2024-12-31; the value is out of range");
    CHECK(strstr(err.msg, "2023-12-31") == NULL); /* the value is not echoed */

    dcr_template_match m2;
    CHECK(typed("1001", "2.5", "'a'", "true", "'2024-06-01'", "'2025-01-01'", &m2, &err) ==
          DCR_EINPUT);
    CHECK_MSG(err, "parameter lo ($1)");
    CHECK_MSG(err, "out of range");
    CHECK(typed("-1", "2.5", "'a'", "true", "'2024-06-01'", "'2025-01-01'", &m2, &err) ==
          DCR_EINPUT);
    CHECK_MSG(err, "out of range");
    CHECK(typed("5", "0.25", "'a'", "true", "'2024-06-01'", "'2025-01-01'", &m2, &err) ==
          DCR_EINPUT);
    CHECK_MSG(err, "parameter maxcost ($2)");
    CHECK(typed("5", "'NaN'", "'a'", "true", "'2024-06-01'", "'2025-01-01'", &m2, &err) ==
          DCR_EINPUT);
    CHECK(typed("5", "2.5", "'a'", "true", "'2023-12-31 23:59:59'", "'2025-01-01'", &m2, &err) ==
          DCR_EINPUT);
    CHECK_MSG(err, "parameter before ($5)");
    CHECK(typed("5", "2.5", "'a'", "true", "'2024-06-01'", "'2030-01-02'", &m2, &err) ==
          DCR_EINPUT);
    CHECK_MSG(err, "parameter after ($6)");
    /* The bounds themselves are inside. */
    CHECK(typed("0", "0.5", "'a'", "true", "'2024-01-01'", "'2030-01-01'", &m2, &err) == DCR_OK);
    CHECK(m2.matched);
    dcr_template_match_free(&m2);
}

static void test_instantiate(void)
{
    dcr_template_match m;
    dcr_error err;
    char *sql = NULL;
    const char *v[] = {"2024-03-01"};
    CHECK(dcr_template_instantiate(&templates, "by_campaign", v, 1, &sql, &m, &err) == DCR_OK);
    CHECK(m.matched && m.index == 0 && strcmp(m.values[0], "2024-03-01") == 0);
    CHECK(sql && strstr(sql, ">=  '2024-03-01'  GROUP BY"));
    dcr_template_match_free(&m);
    /* The produced SQL matches the template when sent as SQL. */
    CHECK(sql && match(sql, &m, &err) == DCR_OK && m.matched && m.index == 0);
    dcr_template_match_free(&m);
    free(sql);

    /* Quotes in TEXT cannot break out of the literal; a negative value
     * next to a minus sign does not become a comment. */
    const char *tv[] = {"5", "2.5", "x' OR '1'='1", "on", "2024-06-01T12:00:00Z", "2025-01-01"};
    CHECK(dcr_template_instantiate(&templates, "typed", tv, 6, &sql, &m, &err) == DCR_OK);
    CHECK(m.matched && strcmp(m.values[2], "x' OR '1'='1") == 0);
    CHECK(m.matched && strcmp(m.values[3], "true") == 0);
    CHECK(m.matched && strcmp(m.values[4], "2024-06-01 12:00:00") == 0);
    dcr_template_match_free(&m);
    free(sql);
    const char *neg[] = {"-2.5"};
    CHECK(dcr_template_instantiate(&templates, "twice", neg, 1, &sql, &m, &err) == DCR_OK);
    CHECK(m.matched && strcmp(m.values[0], "-2.5") == 0);
    CHECK(sql && strstr(sql, "i.cost - -2.5  > 0"));
    dcr_template_match_free(&m);
    free(sql);
}

static void test_instantiate_refusals(void)
{
    dcr_template_match m;
    dcr_error err;
    char *sql = NULL;
    const char *two[] = {"2024-03-01", "2024-04-01"};
    CHECK(dcr_template_instantiate(&templates, "by_campaign", two, 2, &sql, &m, &err) ==
          DCR_EINPUT);
    CHECK_MSG(err, "template by_campaign takes 1 parameter, got 2 values");
    CHECK(dcr_template_instantiate(&templates, "by_campaign", two, 0, &sql, &m, &err) ==
          DCR_EINPUT);
    CHECK_MSG(err, "takes 1 parameter, got 0 values");
    CHECK(dcr_template_instantiate(&templates, "nope\x1b", two, 1, &sql, &m, &err) == DCR_EINPUT);
    CHECK_MSG(err, "template \"nope\\x1b\" is not in the contract");
    const char *old[] = {"2023-01-01"};
    CHECK(dcr_template_instantiate(&templates, "by_campaign", old, 1, &sql, &m, &err) ==
          DCR_EINPUT);
    CHECK_MSG(err, "value 1: refused by rule template-parameter: template by_campaign, parameter "
                   "since ($1): expected a DATE between "
                   "2024-01-01 and 2024-12-31; the value is out of range");
    const char *bad[] = {"yesterday"};
    CHECK(dcr_template_instantiate(&templates, "by_campaign", bad, 1, &sql, &m, &err) ==
          DCR_EINPUT);
    CHECK_MSG(err, "the value is not a valid DATE");
    const char *tv[] = {"5", "inf", "a", "true", "2024-06-01", "2025-01-01"};
    CHECK(dcr_template_instantiate(&templates, "typed", tv, 6, &sql, &m, &err) == DCR_EINPUT);
    CHECK_MSG(err, "parameter maxcost ($2)");
    CHECK(sql == NULL);
}

/* Statements with the template's fingerprint that are not the template. */
static void test_fingerprint_tricks(void)
{
    static const struct {
        const char *sql, *why;
    } tricks[] = {
        /* A fixed constant changed (LIMIT 20 -> 2000, HAVING > 10 -> > 0). */
        {"SELECT i.campaign, SUM(p.amount) FROM impressions i JOIN purchases p ON i.email = "
         "p.email WHERE p.amount BETWEEN 5 AND 900 AND i.cost < 2 AND i.campaign = 'a' AND (true "
         "OR i.shown_at < '2024-06-01') AND p.bought_at > '2025-01-01' GROUP BY i.campaign HAVING "
         "COUNT(*) > 10 LIMIT 2000",
         "SQL:1:"},
        {"SELECT i.campaign, SUM(p.amount) FROM impressions i JOIN purchases p ON i.email = "
         "p.email WHERE p.amount BETWEEN 5 AND 900 AND i.cost < 2 AND i.campaign = 'a' AND (true "
         "OR i.shown_at < '2024-06-01') AND p.bought_at > '2025-01-01' GROUP BY i.campaign HAVING "
         "COUNT(*) > 0 LIMIT 20",
         "the statement differs from the template here"},
        /* Swapped table aliases: a.campaign would now be another table's. */
        {"SELECT a.campaign, SUM(b.amount) FROM impressions b JOIN purchases a ON a.email = "
         "b.email WHERE a.campaign IN ('x') GROUP BY a.campaign",
         "differs from the template"},
        /* A longer IN list where the template has one value. */
        {"SELECT a.campaign, SUM(b.amount) FROM impressions a JOIN purchases b ON a.email = "
         "b.email WHERE a.campaign IN ('x', 'y', 'z') GROUP BY a.campaign",
         "a different number of"},
        /* A renamed output column. */
        {"SELECT a.campaign AS email, SUM(b.amount) FROM impressions a JOIN purchases b ON a.email "
         "= b.email WHERE a.campaign IN ('x') GROUP BY a.campaign",
         "differs from the template"},
        /* One parameter used twice, given two different values. */
        {"SELECT i.campaign, COUNT(*) FROM impressions i WHERE i.cost - 1 > 0 OR i.cost < 4 GROUP "
         "BY i.campaign",
         "$1 appears more than once"},
        /* A placeholder instead of a value. */
        {"SELECT i.campaign, COUNT(DISTINCT p.email), SUM(p.amount) FROM impressions i JOIN "
         "purchases p ON i.email = p.email WHERE p.bought_at >= $1 GROUP BY i.campaign",
         "must have a literal value"},
    };
    for (size_t i = 0; i < sizeof tricks / sizeof tricks[0]; i++) {
        dcr_template_match m;
        dcr_error err;
        CHECK(match(tricks[i].sql, &m, &err) == DCR_OK);
        CHECK(!m.matched);
        if (!strstr(m.near_miss, tricks[i].why) || !strstr(m.near_miss, "same fingerprint")) {
            fprintf(stderr, "  trick %zu: near miss \"%s\" lacks \"%s\"\n", i, m.near_miss,
                    tricks[i].why);
            CHECK(0);
        }
        dcr_template_match_free(&m);
    }
    /* The same value twice is fine. */
    dcr_template_match m;
    dcr_error err;
    CHECK(match("SELECT i.campaign, COUNT(*) FROM impressions i WHERE i.cost - 1.5 > 0 OR i.cost "
                "< 1.5 GROUP BY i.campaign",
                &m, &err) == DCR_OK);
    CHECK(m.matched && m.index == 2 && strcmp(m.values[0], "1.5") == 0);
    dcr_template_match_free(&m);
    /* A typed literal is another node (a cast), not the template. */
    CHECK(match("SELECT i.campaign, COUNT(DISTINCT p.email), SUM(p.amount) FROM impressions i JOIN "
                "purchases p ON i.email = p.email WHERE p.bought_at >= DATE '2024-03-01' GROUP BY "
                "i.campaign",
                &m, &err) == DCR_OK);
    CHECK(!m.matched);
    dcr_template_match_free(&m);
}

static void load_expect(const char *tmpl, const char *want)
{
    dcr_contract c;
    memset(&c, 0, sizeof c);
    if (!load_contract(tmpl, &c)) {
        CHECK(0);
        dcr_contract_free(&c);
        return;
    }
    dcr_templates t;
    dcr_error err = {0};
    CHECK(dcr_templates_load(&c, &t, &err) == DCR_EINPUT);
    CHECK_MSG(err, want);
    dcr_templates_free(&t);
    dcr_contract_free(&c);
}

static void test_load_refusals(void)
{
    load_expect("{\"name\": \"a\", \"sql\": \"SELECT $2\", \"parameters\": [{\"name\": \"x\", "
                "\"type\": \"BIGINT\"}]}",
                "contract template a: SQL:1:8: $2 is not a declared parameter");
    load_expect("{\"name\": \"a\", \"sql\": \"SELECT 1\", \"parameters\": [{\"name\": \"x\", "
                "\"type\": \"BIGINT\"}]}",
                "contract template a: SQL: parameter $1 is declared but not used");
    load_expect("{\"name\": \"a\", \"sql\": \"SELECT 1; SELECT 2\"}",
                "a template must be exactly one statement");
    load_expect("{\"name\": \"a\", \"sql\": \"DELETE FROM impressions\"}",
                "a template must be a SELECT statement");
    load_expect("{\"name\": \"a\", \"sql\": \"SELECT FROM WHERE\"}", "contract template a: SQL:1:");
}

int main(void)
{
    make_keys();
    memset(&contract, 0, sizeof contract);
    if (!load_contract(T_SINCE ", " T_TYPES ", " T_TWICE ", " T_IN, &contract))
        return 1;
    dcr_error err;
    if (dcr_templates_load(&contract, &templates, &err) != DCR_OK) {
        fprintf(stderr, "templates: %s\n", err.msg);
        return 1;
    }
    RUN(test_match_documented);
    RUN(test_mismatch_other_query);
    RUN(test_each_type);
    RUN(test_wrong_types);
    RUN(test_out_of_range);
    RUN(test_instantiate);
    RUN(test_instantiate_refusals);
    RUN(test_fingerprint_tricks);
    RUN(test_load_refusals);
    dcr_templates_free(&templates);
    dcr_contract_free(&contract);
    return check_summary();
}

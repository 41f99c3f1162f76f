/*
 * test_modes.c: which protection answers a query (docs/privacy.md,
 * "Modes"). Without differential privacy a contract runs only its
 * templates (and overlap queries) unless the parties opted into free-form
 * SQL by a key that names the risk; MIN/MAX over rows (one person's exact
 * value) need their own opt-in and are refused under DP; every answer's
 * report names its protection; `contract lint/show` warn in plain words.
 *
 * Data: people(email id, city dimension, amount metric in [0, 1000]): 12
 * people in city "a", one in city "b"; k = 3. A refusal's report may still
 * name the protection whose rules refused it.
 */
#include <stdlib.h>
#include <string.h>

#include "answers.h"
#include "check.h"
#include "contract/contract.h"
#include "exec/source.h"
#include "privacy/privacy.h"

static const char contract_fmt[] =
    "{\"dcr_contract\": 1, \"name\": \"m\", \"version\": 1, \"purpose\": \"p\",\n"
    " \"development\": true,\n"
    " \"parties\": [{\"name\": \"owner\", \"roles\": [\"provider\", \"analyst\", "
    "\"receiver\"], \"public_key\": \"%s\"}],\n"
    " \"datasets\": [{\"name\": \"people\", \"owner\": \"owner\", \"privacy_unit\": \"email\",\n"
    "   \"columns\": [{\"name\": \"email\", \"type\": \"TEXT\", \"role\": \"id\"},\n"
    "    {\"name\": \"city\", \"type\": \"TEXT\", \"role\": \"dimension\"},\n"
    "    {\"name\": \"amount\", \"type\": \"BIGINT\", \"role\": \"metric\", \"bounds\": [0, "
    "1000]}]}],\n"
    " \"rules\": {\"aggregation\": {\"min_units\": 3%s,\n"
    "   \"aggregates\": {\"people.amount\": [\"SUM\", \"MIN\", \"MAX\"]}},\n"
    "  \"templates\": [{\"name\": \"by_city\", \"sql\": \"SELECT city, SUM(amount) FROM people "
    "GROUP BY city\"}],\n"
    "  \"receivers\": {\"owner\": [\"owner\"]}%s},\n"
    " \"evidence\": [{\"type\": \"sim\"}]}\n";

#define FREE_FORM ", \"unsafe_free_form_sql_open_to_differencing\": true"
#define MIN_MAX ", \"unsafe_min_max_reveal_one_value\": true"
#define DP                                                                                         \
    ",\n  \"differential_privacy\": {\"enabled\": true, \"epsilon_per_query\": 1, \"delta\": "     \
    "1e-6, \"budget_per_analyst\": 100, \"max_contributions_per_unit\": 1}"

static char pub[DCR_PUB_TEXT_LEN + 2];
static dcr_column cols[3];
static dcr_table_source table = {3, cols, 0};
static dcr_privacy_report rep;

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static int load(const char *agg_keys, const char *dp, dcr_contract *c)
{
    static char text[8192];
    snprintf(text, sizeof text, contract_fmt, pub, agg_keys, dp);
    dcr_contract_diags d = {0};
    dcr_error err = {0};
    dcr_status s = dcr_contract_parse(text, strlen(text), "m.json", c, &d, &err);
    if (s != DCR_OK)
        fprintf(stderr, "  contract: %s\n", err.msg);
    dcr_contract_diags_free(&d);
    return s == DCR_OK;
}
#pragma GCC diagnostic pop

static void make_table(void)
{
    dcr_column_init(&cols[0], DCR_TYPE_TEXT);
    dcr_column_init(&cols[1], DCR_TYPE_TEXT);
    dcr_column_init(&cols[2], DCR_TYPE_BIGINT);
    char e[8];
    for (int u = 0; u < 13; u++) {
        snprintf(e, sizeof e, "u%d", u);
        dcr_column_push_text(&cols[0], e, strlen(e), NULL);
        dcr_column_push_text(&cols[1], u < 12 ? "a" : "b", 1, NULL);
        dcr_column_push_i64(&cols[2], u == 5 ? 777 : 10 * u, NULL);
    }
}

/* The answer as CSV rows, or "ERR message"; rep holds the report. */
static char *run(const dcr_contract *c, const char *sql)
{
    dcr_exec_source src;
    dcr_table_source_bind(&src, &table);
    dcr_error err = {0};
    dcr_result r;
    dcr_status s = dcr_guarded_query(c, 0, sql, &src, NULL, NULL, &r, &rep, &err);
    return s == DCR_OK ? answer_rows(&r) : answer_error(&err);
}

/* sql gets `want` ("ERR ..." prefixes compare as prefixes) and protection. */
static void expect(const dcr_contract *c, const char *sql, const char *want, const char *prot)
{
    char *got = run(c, sql);
    bool ok = strncmp(want, "ERR", 3) == 0 ? strstr(got, want + 4) != NULL : !strcmp(got, want);
    if (prot && (!rep.protection || strcmp(rep.protection, prot) != 0))
        ok = false;
    if (!ok) {
        fprintf(stderr, "  %s\n    got  %s (protection %s)\n    want %s (%s)\n", sql, got,
                rep.protection ? rep.protection : "-", want, prot ? prot : "-");
        check_current_failed = 1;
    }
    free(got);
}

/* Whether `contract lint` would print a warning containing text. */
static bool warns(const dcr_contract *c, const char *text)
{
    const char *w[8];
    size_t n = dcr_contract_warnings(c, w, 8);
    for (size_t i = 0; i < n; i++)
        if (strstr(w[i], text))
            return true;
    return false;
}

static void test_templates_only_by_default(void)
{
    dcr_contract c;
    CHECK(load("", "", &c));
    expect(&c, "SELECT city, SUM(amount) FROM people GROUP BY city", "a,1387\n",
           DCR_PROTECT_TEMPLATE);
    CHECK(strcmp(rep.template_name, "by_city") == 0);
    /* Any SQL of the analyst's own, harmless or not, is the same refusal. */
    const char *own[] = {"SELECT COUNT(*) FROM people",
                         "SELECT city, COUNT(*) FROM people GROUP BY city",
                         "SELECT city, SUM(amount) FROM people WHERE city <> 'x' GROUP BY city"};
    for (size_t i = 0; i < sizeof own / sizeof *own; i++) {
        expect(&c, own[i], "ERR refused by rule free-form-sql: this contract answers only", NULL);
        CHECK(strcmp(rep.rule, DCR_RULE_FREE_FORM) == 0);
    }
    CHECK(warns(&c, "lists MIN or MAX, which are refused without"));
    CHECK(!warns(&c, "thresholds cannot stop"));
    dcr_contract_free(&c);
}

static void test_free_form_opt_in(void)
{
    dcr_contract c;
    CHECK(load(FREE_FORM, "", &c));
    expect(&c, "SELECT city, COUNT(*) FROM people GROUP BY city", "a,12\n", DCR_PROTECT_FREE_FORM);
    expect(&c, "SELECT city, SUM(amount) FROM people GROUP BY city", "a,1387\n",
           DCR_PROTECT_TEMPLATE);
    CHECK(warns(&c, "thresholds cannot stop"));
    dcr_contract_free(&c);
}

static void test_min_max(void)
{
    dcr_contract c;
    CHECK(load(FREE_FORM, "", &c));
    /* Listed in the contract, still refused: each is one person's value. */
    expect(&c, "SELECT MAX(amount) FROM people", "ERR refused by rule min-max: MAX(people.amount)",
           NULL);
    expect(&c, "SELECT city, MIN(amount) FROM people GROUP BY city",
           "ERR refused by rule min-max: MIN(people.amount)", NULL);
    expect(&c, "SELECT MIN(city) FROM people", "ERR refused by rule min-max: MIN(people.city)",
           NULL);
    expect(&c, "SELECT MAX(m) FROM (SELECT MAX(amount) AS m FROM people) t",
           "ERR refused by rule min-max", NULL);
    /* Over released groups (each resting on k people) it is an ordinary
     * function of released values. */
    expect(&c, "SELECT MAX(n) FROM (SELECT city, COUNT(*) AS n FROM people GROUP BY city) t",
           "12\n", DCR_PROTECT_FREE_FORM);
    dcr_contract_free(&c);

    CHECK(load(FREE_FORM MIN_MAX, "", &c));
    expect(&c, "SELECT MAX(amount) FROM people", "777\n", DCR_PROTECT_FREE_FORM);
    CHECK(warns(&c, "each releases one person's exact value"));
    dcr_contract_free(&c);

    /* Under DP the opt-in changes nothing: DP refuses them. */
    CHECK(load(MIN_MAX, DP, &c));
    expect(&c, "SELECT MAX(amount) FROM people", "ERR refused by rule differential-privacy", NULL);
    dcr_contract_free(&c);
}

/* A long text literal is laid out for every row of a batch; past 4 GiB a
 * batch fails, so its length is capped where it meets dataset rows. */
static void test_long_text_literal(void)
{
    dcr_contract c;
    CHECK(load(FREE_FORM, "", &c));
    static char sql[2200];
    for (size_t len = 1024; len <= 1025; len++) {
        int n = snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM people WHERE city <> '");
        memset(sql + n, 'x', len);
        snprintf(sql + n + len, sizeof sql - (size_t)n - len, "'");
        expect(&c, sql,
               len == 1024 ? "13\n"
                           : "ERR refused by rule error-oracle: a text literal of 1025 bytes",
               DCR_PROTECT_FREE_FORM);
    }
    dcr_contract_free(&c);
}

static void test_dp_answers_free_form(void)
{
    dcr_contract c;
    CHECK(load("", DP, &c));
    char *got = run(&c, "SELECT COUNT(*) FROM people");
    CHECK(strncmp(got, "ERR", 3) != 0);
    CHECK(rep.protection && strcmp(rep.protection, DCR_PROTECT_DP) == 0);
    free(got);
    CHECK(warns(&c, "differential privacy always refuses")); /* MIN/MAX listed */
    CHECK(!warns(&c, "thresholds cannot stop"));
    dcr_contract_free(&c);
}

int main(void)
{
    answer_pub_text(pub);
    make_table();
    RUN(test_templates_only_by_default);
    RUN(test_free_form_opt_in);
    RUN(test_min_max);
    RUN(test_long_text_literal);
    RUN(test_dp_answers_free_form);
    for (int i = 0; i < 3; i++)
        dcr_column_free(&cols[i]);
    return check_summary();
}

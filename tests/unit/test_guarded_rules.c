/*
 * test_guarded_rules.c: templates and the differencing defence through the
 * guarded entry point (dcr_guarded_query / dcr_guarded_template) under a
 * parsed contract, over in-memory tables, with the released-row history in
 * an in-memory store.
 *
 * Data (k = 5): purchases of people p0..p59, one row each; product a for
 * p0..p29, b for p30..p59; day = 2024-01-01 + i (so a day singles out one
 * person); amount = 10 * i. impressions (the publisher's): p10..p49, two
 * rows each, campaign x for p10..p19, y for the others.
 */
#include <stdlib.h>
#include <string.h>

#include "answers.h"
#include "check.h"
#include "exec/source.h"
#include "privacy/privacy.h"
#include "privacy/template.h"

static const char contract_fmt[] =
    "{\"dcr_contract\": 1, \"name\": \"t\", \"version\": 1, \"purpose\": \"test\",\n"
    " \"development\": true,\n"
    " \"parties\": [\n"
    "  {\"name\": \"publisher\", \"roles\": [\"provider\", \"receiver\"], \"public_key\": "
    "\"%s\"},\n"
    "  {\"name\": \"advertiser\", \"roles\": [\"provider\", \"analyst\", \"receiver\"], "
    "\"public_key\": \"%s\"},\n"
    "  {\"name\": \"auditor\", \"roles\": [\"analyst\", \"receiver\"], \"public_key\": "
    "\"%s\"}],\n"
    " \"datasets\": [\n"
    "  {\"name\": \"purchases\", \"owner\": \"advertiser\", \"privacy_unit\": \"email\", "
    "\"columns\": [\n"
    "    {\"name\": \"email\", \"type\": \"TEXT\", \"role\": \"id\"},\n"
    "    {\"name\": \"product\", \"type\": \"TEXT\", \"role\": \"dimension\"},\n"
    "    {\"name\": \"day\", \"type\": \"DATE\", \"role\": \"dimension\"},\n"
    "    {\"name\": \"amount\", \"type\": \"BIGINT\", \"role\": \"metric\", \"bounds\": [0, "
    "1000]}]},\n"
    "  {\"name\": \"impressions\", \"owner\": \"publisher\", \"privacy_unit\": \"email\", "
    "\"columns\": [\n"
    "    {\"name\": \"email\", \"type\": \"TEXT\", \"role\": \"id\"},\n"
    "    {\"name\": \"campaign\", \"type\": \"TEXT\", \"role\": \"dimension\"}]}],\n"
    " \"rules\": {\n"
    "  \"aggregation\": {\"min_units\": 5, \"unsafe_free_form_sql_open_to_differencing\": true, "
    "\"joins\": [{\"left\": \"impressions.email\", "
    "\"right\": \"purchases.email\"}]},\n"
    "  \"overlap\": [{\"receiver\": \"advertiser\", \"dataset\": \"purchases\", \"column\": "
    "\"email\"}],\n"
    "  \"templates\": [{\"name\": \"spend_since\", \"sql\": \"SELECT product, SUM(amount) FROM "
    "purchases WHERE day >= $1 GROUP BY product\", \"parameters\": [{\"name\": \"since\", "
    "\"type\": \"DATE\", \"min\": \"2024-01-01\", \"max\": \"2024-01-31\"}]}],\n"
    "  \"receivers\": {\"advertiser\": [\"advertiser\", \"publisher\"], \"auditor\": "
    "[\"auditor\"]}},\n"
    " \"evidence\": [{\"type\": \"sim\"}]}\n";

static dcr_contract contract;
static dcr_column cols[4], icols[2];
static dcr_table_source src_tab = {4, cols, 7}, imp_tab = {2, icols, 5};

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

static void make_table(void)
{
    dcr_type t[4] = {DCR_TYPE_TEXT, DCR_TYPE_TEXT, DCR_TYPE_DATE, DCR_TYPE_BIGINT};
    for (int i = 0; i < 4; i++)
        dcr_column_init(&cols[i], t[i]);
    for (int i = 0; i < 60; i++) {
        char e[8];
        snprintf(e, sizeof e, "p%d", i);
        dcr_column_push_text(&cols[0], e, strlen(e), NULL);
        dcr_column_push_text(&cols[1], i < 30 ? "a" : "b", 1, NULL);
        dcr_column_push_i32(&cols[2], 19723 + i, NULL); /* 2024-01-01 + i */
        dcr_column_push_i64(&cols[3], 10 * i, NULL);
    }
    dcr_column_init(&icols[0], DCR_TYPE_TEXT);
    dcr_column_init(&icols[1], DCR_TYPE_TEXT);
    for (int r = 0; r < 2; r++)
        for (int i = 10; i < 50; i++) {
            char e[8];
            snprintf(e, sizeof e, "p%d", i);
            dcr_column_push_text(&icols[0], e, strlen(e), NULL);
            dcr_column_push_text(&icols[1], i < 20 ? "x" : "y", 1, NULL);
        }
}

static void bind_sources(dcr_exec_source src[2])
{
    dcr_table_source_bind(&src[0], &src_tab);
    dcr_table_source_bind(&src[1], &imp_tab);
}

/* ---- the history store ---- */

#define STORE_MAX 64
static struct {
    size_t n;
    uint8_t fp[STORE_MAX][32];
    char scope[STORE_MAX][64]; /* the history the entry belongs to */
    uint8_t *blob[STORE_MAX];
    size_t len[STORE_MAX];
} store;

static dcr_status store_each(void *ctx, const char *scope, dcr_history_cb cb, void *cbctx,
                             dcr_error *err)
{
    (void)ctx;
    for (size_t i = 0; i < store.n; i++) {
        if (strcmp(store.scope[i], scope) != 0)
            continue;
        dcr_status s = cb(cbctx, store.fp[i], 32, store.blob[i], store.len[i], err);
        if (s != DCR_OK)
            return s;
    }
    return DCR_OK;
}

static dcr_status store_put(void *ctx, const char *scope, const uint8_t *fp, size_t fp_len,
                            const uint8_t *blob, size_t len, dcr_error *err)
{
    (void)ctx;
    for (size_t i = 0; i < store.n; i++)
        if (strcmp(store.scope[i], scope) == 0 && memcmp(store.fp[i], fp, fp_len) == 0)
            return DCR_OK;
    if (store.n == STORE_MAX)
        return dcr_fail(err, DCR_EINPUT, "history full");
    snprintf(store.scope[store.n], sizeof store.scope[store.n], "%s", scope);
    memcpy(store.fp[store.n], fp, 32);
    store.blob[store.n] = malloc(len);
    memcpy(store.blob[store.n], blob, len);
    store.len[store.n++] = len;
    return DCR_OK;
}

static void store_clear(void)
{
    for (size_t i = 0; i < store.n; i++)
        free(store.blob[i]);
    store.n = 0;
}

static dcr_diff_history hist = {store_each, store_put, NULL, {42}};
static dcr_privacy_report rep;

/* Runs sql as the advertiser; returns the CSV rows (no header) or "ERR
 * msg". with_history: the differencing defence on. */
static const dcr_templates *prepared; /* hooks.templates of run(); NULL: per query */

static char *run_as(size_t party, const char *sql, bool with_history)
{
    dcr_exec_source src[2];
    bind_sources(src);
    dcr_privacy_hooks hooks = {.history = with_history ? &hist : NULL, .templates = prepared};
    dcr_exec_opts opts = {.batch_rows = 8};
    dcr_result r;
    dcr_error err = {0};
    dcr_status s = dcr_guarded_query(&contract, party, sql, src, &hooks, &opts, &r, &rep, &err);
    if (s != DCR_OK) {
        return answer_error(&err);
    }
    return answer_rows(&r);
}

static char *run(const char *sql, bool with_history)
{
    return run_as(1, sql, with_history);
}

static bool run_as_is(size_t party, const char *sql, bool with_history, const char *want)
{
    char *got = run_as(party, sql, with_history);
    bool ok = strcmp(got, want) == 0;
    if (!ok)
        fprintf(stderr, "  %s\n    got:  %s\n    want: %s\n", sql, got, want);
    free(got);
    return ok;
}

static bool run_is(const char *sql, bool with_history, const char *want)
{
    return run_as_is(1, sql, with_history, want);
}

static void test_differencing_one_person(void)
{
    store_clear();
    CHECK(run_is("SELECT COUNT(*) FROM purchases WHERE product = 'a'", true, "30\n"));
    CHECK(rep.rows_released == 1 && rep.rows_differencing == 0);
    /* Everyone in a but p7 (who alone bought on 2024-01-08). */
    CHECK(run_is("SELECT COUNT(*) FROM purchases WHERE product = 'a' AND day <> '2024-01-08'", true,
                 ""));
    CHECK(rep.rows_released == 0 && rep.rows_suppressed == 1 && rep.rows_differencing == 1);
    /* Without the defence (no history hook) the naive answer leaks p7. */
    CHECK(run_is("SELECT COUNT(*) FROM purchases WHERE product = 'a' AND day <> '2024-01-08'",
                 false, "29\n"));
    /* The same set as before is released again, in another shape too. */
    CHECK(run_is("SELECT product, COUNT(*) FROM purchases WHERE product = 'a' GROUP BY product",
                 true, "a,30\n"));
    CHECK(rep.rows_differencing == 0);
}

static void test_differencing_tracker(void)
{
    store_clear();
    /* Pad two targets (p0, p1: days 01-01 and 01-02) with product b. */
    CHECK(run_is("SELECT COUNT(*) FROM purchases WHERE product = 'b' OR day < '2024-01-03'", true,
                 "32\n"));
    CHECK(run_is("SELECT COUNT(*) FROM purchases WHERE product = 'b'", true, ""));
    CHECK(rep.rows_differencing == 1);
    /* Both in one query (UNION ALL): the second row is suppressed. */
    store_clear();
    CHECK(run_is("SELECT COUNT(*) FROM purchases WHERE product = 'b' OR day < '2024-01-03' UNION "
                 "ALL SELECT COUNT(*) FROM purchases WHERE product = 'b'",
                 true, "32\n"));
    CHECK(rep.rows_differencing == 1);
    /* Disjoint groups and differences of k or more are released. */
    store_clear();
    CHECK(run_is("SELECT product, COUNT(*) FROM purchases GROUP BY product ORDER BY product", true,
                 "a,30\nb,30\n"));
    CHECK(run_is("SELECT COUNT(*) FROM purchases WHERE product = 'a' AND day >= '2024-01-06'", true,
                 "25\n"));
    CHECK(rep.rows_differencing == 0);
}

/* Everyone (60 people), then everyone but p7 (who alone bought on
 * 2024-01-08) through an outer aggregate over released groups: the groups
 * (29 and 30 people) are new, but the outer row rests on their union. */
#define ALL "SELECT COUNT(*) FROM purchases"
#define BY_PRODUCT_BUT_P7                                                                          \
    "SELECT product, COUNT(*) n FROM purchases WHERE day <> '2024-01-08' GROUP BY product"

static void test_differencing_nested_aggregate(void)
{
    store_clear();
    CHECK(run_is(ALL, true, "60\n"));
    CHECK(rep.rows_released == 1 && rep.rows_differencing == 0);
    CHECK(run_is("SELECT SUM(n) FROM (" BY_PRODUCT_BUT_P7 ") t", true, ""));
    CHECK(rep.rows_released == 0 && rep.rows_differencing == 1);
    /* Without the defence the outer row gives p7 away. */
    CHECK(run_is("SELECT SUM(n) FROM (" BY_PRODUCT_BUT_P7 ") t", false, "59\n"));
    /* Through a projection, HAVING, ORDER BY and LIMIT over the groups. */
    CHECK(run_is("SELECT SUM(n) * 2 AS s FROM (SELECT n + 0 AS n FROM (" BY_PRODUCT_BUT_P7
                 ") t ORDER BY n LIMIT 5) u HAVING SUM(n) > 0",
                 true, ""));
    CHECK(rep.rows_differencing == 1);
    /* In the other order too: the nested row first, then the whole set. */
    store_clear();
    CHECK(run_is("SELECT SUM(n) FROM (" BY_PRODUCT_BUT_P7 ") t", true, "59\n"));
    CHECK(run_is(ALL, true, ""));
    CHECK(rep.rows_differencing == 1);
    /* Two levels of nesting. */
    store_clear();
    CHECK(run_is(ALL, true, "60\n"));
    CHECK(run_is("SELECT SUM(m) FROM (SELECT n, SUM(n) m FROM (" BY_PRODUCT_BUT_P7
                 ") t GROUP BY n) u",
                 true, ""));
    CHECK(rep.rows_differencing == 1);
    /* The identical set through both shapes is released again. */
    store_clear();
    CHECK(run_is(ALL, true, "60\n"));
    CHECK(
        run_is("SELECT SUM(n) FROM (SELECT product, COUNT(*) n FROM purchases GROUP BY product) t",
               true, "60\n"));
    CHECK(rep.rows_differencing == 0);
}

static void test_differencing_union_all_and_cte(void)
{
    /* Both halves in one query, the second in a UNION ALL branch. */
    store_clear();
    CHECK(run_is(ALL " UNION ALL SELECT SUM(n) FROM (" BY_PRODUCT_BUT_P7 ") t", true, "60\n"));
    CHECK(rep.rows_released == 1 && rep.rows_differencing == 1);
    /* ... or in a UNION ALL under the outer aggregate. */
    store_clear();
    CHECK(run_is(ALL, true, "60\n"));
    CHECK(
        run_is("SELECT SUM(n) FROM (SELECT COUNT(*) n FROM purchases WHERE product = 'a' AND day "
               "<> '2024-01-08' UNION ALL SELECT COUNT(*) n FROM purchases WHERE product = 'b') t",
               true, ""));
    CHECK(rep.rows_differencing == 1);
    /* A CTE. */
    store_clear();
    CHECK(run_is(ALL, true, "60\n"));
    CHECK(run_is("WITH g AS (" BY_PRODUCT_BUT_P7 ") SELECT SUM(n) FROM g", true, ""));
    CHECK(rep.rows_released == 0 && rep.rows_differencing == 1);
    /* A CTE read twice, once per UNION ALL branch. */
    store_clear();
    CHECK(run_is("WITH g AS (SELECT product, COUNT(*) n FROM purchases WHERE day <> '2024-01-08' "
                 "GROUP BY product) SELECT SUM(n) FROM g UNION ALL SELECT COUNT(*) FROM purchases",
                 true, "59\n"));
    CHECK(rep.rows_differencing == 1);
}

static void test_differencing_colluding_analysts(void)
{
    store_clear();
    /* The advertiser releases one half of the pair, the auditor the other. */
    CHECK(run_as_is(1, "SELECT COUNT(*) FROM purchases WHERE product = 'a'", true, "30\n"));
    CHECK(rep.rows_differencing == 0);
    CHECK(run_as_is(2, "SELECT COUNT(*) FROM purchases WHERE product = 'a' AND day <> '2024-01-08'",
                    true, ""));
    CHECK(rep.rows_released == 0 && rep.rows_differencing == 1);
    /* And the other way round. */
    store_clear();
    CHECK(run_as_is(2, ALL, true, "60\n"));
    CHECK(run_as_is(1, "SELECT SUM(n) FROM (" BY_PRODUCT_BUT_P7 ") t", true, ""));
    CHECK(rep.rows_differencing == 1);
}

static void test_template_relaxes_allow_lists(void)
{
    /* SUM(amount) is not in rules.aggregation.aggregates ... */
    char *got = run("SELECT product, SUM(amount) FROM purchases WHERE day >= '2024-01-10' GROUP BY "
                    "product ORDER BY product",
                    false);
    CHECK(strstr(got, "refused by rule aggregate-not-allowed") != NULL);
    CHECK(rep.template_name[0] == '\0');
    free(got);
    /* ... but the approved template may use it. */
    CHECK(run_is("select product, sum(amount) from purchases where day >= '2024-01-10' group by "
                 "product",
                 false, "a,3990\nb,13350\n"));
    CHECK(strcmp(rep.template_name, "spend_since") == 0);
    /* Out of range: refused by the template rule, with its position. */
    got = run("SELECT product, SUM(amount) FROM purchases WHERE day >= '2023-12-31' GROUP BY "
              "product",
              false);
    CHECK(strstr(got, "SQL:1:57: refused by rule template-parameter: template spend_since, "
                      "parameter since ($1)") != NULL);
    CHECK(strcmp(rep.rule, "template-parameter") == 0);
    free(got);
}

/* Templates loaded once (as the server does) behave as loaded per query;
 * a set loaded for another contract is refused, not trusted. */
static void test_templates_prepared_once(void)
{
    dcr_templates ts;
    dcr_error err = {0};
    CHECK(dcr_templates_load(&contract, &ts, &err) == DCR_OK);
    prepared = &ts;
    test_template_relaxes_allow_lists();
    dcr_templates wrong = ts;
    wrong.n = 0;
    prepared = &wrong;
    char *got = run("select product, sum(amount) from purchases where day >= '2024-01-10' group "
                    "by product",
                    false);
    CHECK(strstr(got, "templates loaded for another contract") != NULL);
    free(got);
    prepared = NULL;
    dcr_templates_free(&ts);
}

static void test_template_by_name(void)
{
    dcr_exec_source src[2];
    bind_sources(src);
    dcr_result r;
    dcr_error err;
    const char *v[] = {"2024-01-10"};
    CHECK(dcr_guarded_template(&contract, 1, "spend_since", v, 1, src, NULL, NULL, &r, &rep,
                               &err) == DCR_OK);
    CHECK(r.nrows == 2 && strcmp(rep.template_name, "spend_since") == 0);
    dcr_result_free(&r);
    const char *bad[] = {"2025-01-01"};
    CHECK(dcr_guarded_template(&contract, 1, "spend_since", bad, 1, src, NULL, NULL, &r, &rep,
                               &err) == DCR_EINPUT);
    CHECK_MSG(
        err,
        "value 1: refused by rule template-parameter: template spend_since, parameter since ($1)");
    CHECK(strcmp(rep.rule, "template-parameter") == 0);
    CHECK(dcr_guarded_template(&contract, 1, "nope", v, 1, src, NULL, NULL, &r, &rep, &err) ==
          DCR_EINPUT);
    CHECK_MSG(err, "is not in the contract");
}

static void test_overlap_allowed(void)
{
    /* The advertiser learns which of ITS purchasers also saw an impression. */
    char *got =
        run("SELECT p.email FROM purchases p JOIN impressions i ON p.email = i.email", false);
    size_t lines = 0;
    for (const char *c = got; *c; c++)
        lines += *c == '\n';
    CHECK(lines == 40 && strncmp(got, "p10\np11\n", 8) == 0);
    free(got);
    CHECK(rep.rule[0] == '\0' && rep.k == 5);
    /* Only to itself, not to its other receiver (the publisher). */
    CHECK(rep.nreceivers == 1 && rep.receivers && rep.receivers[0] == 1);
    /* Conditions on its own columns, DISTINCT and ORDER BY are fine. */
    CHECK(run_is("SELECT DISTINCT p.email FROM purchases p JOIN impressions i ON p.email = "
                 "i.email WHERE p.product = 'a' AND p.day >= '2024-01-25' ORDER BY p.email",
                 false, "p24\np25\np26\np27\np28\np29\n"));
    /* Fewer than k matches: the list is withheld. */
    CHECK(run_is("SELECT p.email FROM purchases p JOIN impressions i ON p.email = i.email WHERE "
                 "p.day = '2024-01-12'",
                 false, ""));
    CHECK(rep.rows_suppressed == 1);
}

static void test_overlap_refused(void)
{
    static const struct {
        const char *sql, *want;
    } cases[] = {
        /* The other side's attributes about its customers. */
        {"SELECT p.email FROM purchases p JOIN impressions i ON p.email = i.email WHERE "
         "i.campaign = 'x'",
         "refused by rule id-column"},
        /* The other party's identifiers. */
        {"SELECT i.email FROM purchases p JOIN impressions i ON p.email = i.email",
         "refused by rule id-column"},
        /* No match at all: its own list back is no overlap query. */
        {"SELECT email FROM purchases", "refused by rule id-column"},
        /* A LEFT JOIN would list the non-matches too. */
        {"SELECT p.email FROM purchases p LEFT JOIN impressions i ON p.email = i.email",
         "refused by rule id-column"},
        /* More than the identifier. */
        {"SELECT p.email, i.campaign FROM purchases p JOIN impressions i ON p.email = i.email",
         "refused by rule id-column"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = run(cases[i].sql, false);
        if (!strstr(got, cases[i].want)) {
            fprintf(stderr, "  %s\n    got: %s\n", cases[i].sql, got);
            CHECK(0);
        }
        free(got);
    }
}

int main(void)
{
    make_contract();
    make_table();
    RUN(test_differencing_one_person);
    RUN(test_differencing_tracker);
    RUN(test_differencing_nested_aggregate);
    RUN(test_differencing_union_all_and_cte);
    RUN(test_differencing_colluding_analysts);
    RUN(test_template_relaxes_allow_lists);
    RUN(test_templates_prepared_once);
    RUN(test_template_by_name);
    RUN(test_overlap_allowed);
    RUN(test_overlap_refused);
    store_clear();
    for (int i = 0; i < 4; i++)
        dcr_column_free(&cols[i]);
    dcr_column_free(&icols[0]);
    dcr_column_free(&icols[1]);
    dcr_contract_free(&contract);
    return check_summary();
}

/*
 * test_dp.c: the differential-privacy mechanism (privacy/dp.h), the
 * contribution-bounding operator (exec/bound.c) and the budget arithmetic
 * (privacy/budget.h), over in-memory tables.
 *
 * Noisy answers are checked against generous bounds (many standard
 * deviations), so a correct mechanism practically never fails them, while
 * a missing bound, a missing clamp or a wrong scale does.
 */
#include <math.h>
#include <stdlib.h>

#include "answers.h"
#include "check.h"
#include "crypto/party_key.h"
#include "exec/source.h"
#include "privacy/budget.h"
#include "privacy/dp.h"
#include "privacy/privacy.h"
#include "sql/sql.h"
#include "state/state.h"

/* ---- a contract and data, built by hand ---- */

static dcr_contract_column v_cols[] = {
    {.name = "uid", .type = DCR_TYPE_TEXT, .role = DCR_COL_ID, .not_null = true},
    {.name = "page", .type = DCR_TYPE_TEXT, .role = DCR_COL_DIMENSION},
    {.name = "spend",
     .type = DCR_TYPE_DOUBLE,
     .role = DCR_COL_METRIC,
     .has_bounds = true,
     .lo = 0,
     .hi = 10},
    {.name = "n",
     .type = DCR_TYPE_BIGINT,
     .role = DCR_COL_METRIC,
     .has_bounds = true,
     .lo = 0,
     .hi = 100},
};
static dcr_contract_column b_cols[] = {
    {.name = "uid", .type = DCR_TYPE_TEXT, .role = DCR_COL_ID, .not_null = true},
    {.name = "item", .type = DCR_TYPE_TEXT, .role = DCR_COL_DIMENSION},
    {.name = "hh", .type = DCR_TYPE_TEXT, .role = DCR_COL_JOIN},
};
static dcr_contract_dataset datasets[] = {
    {.name = "visits", .privacy_unit = 0, .min_units = 2, .ncols = 4, .cols = v_cols},
    {.name = "buys", .privacy_unit = 0, .min_units = 2, .ncols = 3, .cols = b_cols},
};

static dcr_contract make_contract(double eps, double delta, double budget, int64_t contrib)
{
    dcr_contract c = {0};
    c.ndatasets = 2;
    c.datasets = datasets;
    c.dp = (dcr_contract_dp){.present = true,
                             .enabled = true,
                             .epsilon_per_query = eps,
                             .delta = delta,
                             .budget_per_analyst = budget,
                             .max_contributions_per_unit = contrib};
    return c;
}

/* visits: nunits units; unit u has rows_per_unit rows, page "p<u % npages>"
 * for grouped tests, spend = spend_value, n = 7. */
typedef struct {
    dcr_column cols[4];
    dcr_table_source t;
    dcr_column bcols[3];
    dcr_table_source bt;
    dcr_exec_source src[2];
} tables;

static void add_visit(tables *x, const char *uid, const char *page, double spend, int64_t n)
{
    dcr_error err;
    dcr_column_push_text(&x->cols[0], uid, strlen(uid), &err);
    dcr_column_push_text(&x->cols[1], page, strlen(page), &err);
    dcr_column_push_f64(&x->cols[2], spend, &err);
    dcr_column_push_i64(&x->cols[3], n, &err);
}

static void add_buy(tables *x, const char *uid, const char *item, const char *hh)
{
    dcr_error err;
    dcr_column_push_text(&x->bcols[0], uid, strlen(uid), &err);
    dcr_column_push_text(&x->bcols[1], item, strlen(item), &err);
    dcr_column_push_text(&x->bcols[2], hh, strlen(hh), &err);
}

static void tables_init(tables *x)
{
    memset(x, 0, sizeof *x);
    for (int i = 0; i < 4; i++)
        dcr_column_init(&x->cols[i], v_cols[i].type);
    for (int i = 0; i < 3; i++)
        dcr_column_init(&x->bcols[i], b_cols[i].type);
}

static void tables_bind(tables *x)
{
    x->t = (dcr_table_source){4, x->cols, 7};
    x->bt = (dcr_table_source){3, x->bcols, 5};
    dcr_table_source_bind(&x->src[0], &x->t);
    dcr_table_source_bind(&x->src[1], &x->bt);
}

static void tables_free(tables *x)
{
    for (int i = 0; i < 4; i++)
        dcr_column_free(&x->cols[i]);
    for (int i = 0; i < 3; i++)
        dcr_column_free(&x->bcols[i]);
}

static dcr_plan *compile(const dcr_contract *c, const char *sql)
{
    dcr_schema s[2];
    dcr_error err = {0};
    for (int i = 0; i < 2; i++)
        if (dcr_contract_dataset_schema(c, datasets[i].name, &s[i], &err) != DCR_OK)
            return NULL;
    dcr_catalog_entry ent[2] = {{"visits", &s[0]}, {"buys", &s[1]}};
    dcr_catalog cat = {2, ent};
    dcr_plan *p = NULL;
    if (dcr_sql_compile(sql, &cat, &p, NULL, &err) != DCR_OK)
        fprintf(stderr, "  compile: %s\n", err.msg);
    dcr_schema_free(&s[0]);
    dcr_schema_free(&s[1]);
    return p;
}

static int64_t cell_i64(const dcr_result *r, size_t row, size_t col)
{
    for (size_t b = 0; b < r->nbatches; b++) {
        if (row < r->batches[b].nrows)
            return ((const int64_t *)r->batches[b].cols[col].values)[row];
        row -= r->batches[b].nrows;
    }
    return INT64_MIN;
}

static double cell_f64(const dcr_result *r, size_t row, size_t col)
{
    for (size_t b = 0; b < r->nbatches; b++) {
        if (row < r->batches[b].nrows)
            return ((const double *)r->batches[b].cols[col].values)[row];
        row -= r->batches[b].nrows;
    }
    return NAN;
}

static const char *cell_text(const dcr_result *r, size_t row, size_t col, size_t *len)
{
    for (size_t b = 0; b < r->nbatches; b++) {
        if (row < r->batches[b].nrows)
            return dcr_vec_text(&r->batches[b].cols[col], row, len);
        row -= r->batches[b].nrows;
    }
    return NULL;
}

/* Runs sql under c; returns the status, fills *out and *rep. */
static dcr_status run(const dcr_contract *c, tables *x, const char *sql, dcr_result *out,
                      dcr_dp_report *rep, dcr_error *err)
{
    dcr_plan *p = compile(c, sql);
    if (!p)
        return DCR_EUSAGE;
    tables_bind(x);
    return dcr_dp_run(c, p, "analyst", NULL, NULL, x->src, 2, NULL, out, rep, NULL, err);
}

/* ---- the bounding operator ---- */

/* Runs BOUND(unit=0, keys=[1], rows, groups) over visits directly. */
static void run_bound(tables *x, int64_t rows, int64_t groups, dcr_result *out)
{
    dcr_error err = {0};
    dcr_plan *scan = dcr_plan_new(DCR_PLAN_SCAN), *b = dcr_plan_new(DCR_PLAN_BOUND);
    dcr_plan_set_ncols(scan, 3, &err);
    dcr_plan_set_ncols(b, 3, &err);
    scan->scan_cols = calloc(3, sizeof(size_t));
    scan->dataset_name = strdup("visits");
    for (size_t i = 0; i < 3; i++) {
        scan->scan_cols[i] = i;
        scan->types[i] = b->types[i] = v_cols[i].type;
        dcr_plan_set_name(scan, i, v_cols[i].name, &err);
        dcr_plan_set_name(b, i, v_cols[i].name, &err);
    }
    b->child[0] = scan;
    b->bound_unit = 0;
    b->nbound_keys = 1;
    b->bound_keys = calloc(1, sizeof(size_t));
    b->bound_keys[0] = 1;
    b->bound_rows = rows;
    b->bound_groups = groups;
    dcr_buf ex = {0};
    CHECK(dcr_plan_explain(b, &ex, &err) == DCR_OK);
    CHECK(dcr_buf_append(&ex, "", 1, &err) == DCR_OK); /* NUL for strstr */
    CHECK(strstr((char *)ex.data, "Bound contributions of unit uid: random <= ") != NULL);
    dcr_buf_free(&ex);
    tables_bind(x);
    dcr_exec_opts opts = {.batch_rows = 16};
    CHECK(dcr_exec_run(b, x->src, 2, &opts, out, NULL, &err) == DCR_OK);
    dcr_plan_free(b);
}

static void test_bound_limits(void)
{
    tables x;
    tables_init(&x);
    char page[16];
    /* u0: 50 rows in each of 20 pages; u1: 2 rows in 1 page. */
    for (int p = 0; p < 20; p++)
        for (int r = 0; r < 50; r++) {
            snprintf(page, sizeof page, "p%d", p);
            add_visit(&x, "u0", page, r, 1);
        }
    add_visit(&x, "u1", "p0", 1, 1);
    add_visit(&x, "u1", "p0", 2, 1);
    dcr_result out;
    run_bound(&x, 3, 5, &out);
    /* u0: 5 pages x 3 rows; u1 untouched. */
    CHECK(out.nrows == 5 * 3 + 2);
    int per_page[20] = {0}, u1 = 0;
    for (size_t r = 0; r < out.nrows; r++) {
        size_t len;
        const char *u = cell_text(&out, r, 0, &len);
        const char *pg = cell_text(&out, r, 1, &len);
        if (u[1] == '1')
            u1++;
        else
            per_page[atoi(pg + 1)]++;
    }
    int pages = 0;
    for (int p = 0; p < 20; p++) {
        CHECK(per_page[p] == 0 || per_page[p] == 3);
        pages += per_page[p] > 0;
    }
    CHECK(pages == 5);
    CHECK(u1 == 2);
    dcr_result_free(&out);
    tables_free(&x);
}

/* The kept rows are random, not the first ones: over many runs every one of
 * 10 rows is kept at some point (a "first N" rule would keep only row 0). */
static void test_bound_random(void)
{
    tables x;
    tables_init(&x);
    for (int r = 0; r < 10; r++)
        add_visit(&x, "u0", "p0", r, 1);
    int seen[10] = {0};
    for (int run_i = 0; run_i < 300; run_i++) {
        dcr_result out;
        run_bound(&x, 1, 1, &out);
        CHECK(out.nrows == 1);
        if (out.nrows == 1)
            seen[(int)cell_f64(&out, 0, 2)]++;
        dcr_result_free(&out);
    }
    for (int r = 0; r < 10; r++)
        CHECK(seen[r] > 0); /* each misses with probability 0.9^300 */
    tables_free(&x);
}

/* ---- the mechanism ---- */

static void fill_units(tables *x, int units, const char *page, int rows_each, double spend)
{
    char uid[32];
    for (int u = 0; u < units; u++) {
        snprintf(uid, sizeof uid, "%s-u%d", page, u);
        for (int r = 0; r < rows_each; r++)
            add_visit(x, uid, page, spend, 7);
    }
}

static void test_grouped_count_threshold(void)
{
    dcr_contract c = make_contract(8, 1e-6, 100, 1);
    tables x;
    tables_init(&x);
    fill_units(&x, 3000, "big", 1, 1);
    fill_units(&x, 1, "tiny", 1, 1);
    dcr_result out;
    dcr_dp_report rep;
    dcr_error err = {0};
    CHECK(run(&c, &x,
              "SELECT page, COUNT(*) AS n, COUNT(DISTINCT uid) AS users FROM visits GROUP BY page",
              &out, &rep, &err) == DCR_OK);
    printf("     grouped: released=%zu suppressed=%zu tau=%lld quantities=%zu\n",
           rep.groups_released, rep.groups_suppressed, (long long)rep.tau, rep.quantities);
    CHECK(rep.gaussian);
    CHECK(rep.tau >= 3);
    CHECK(rep.quantities == 2); /* COUNT(DISTINCT uid) doubles as the release count */
    CHECK(out.nrows == 1 && rep.groups_released == 1 && rep.groups_suppressed == 1);
    if (out.nrows == 1) {
        size_t len;
        CHECK(memcmp(cell_text(&out, 0, 0, &len), "big", 3) == 0);
        CHECK(llabs(cell_i64(&out, 0, 1) - 3000) < 60);
        CHECK(llabs(cell_i64(&out, 0, 2) - 3000) < 60);
    }
    dcr_result_free(&out);
    tables_free(&x);
}

/* One unit with 500 rows moves a count by at most N (= contributions). */
static void test_bounding_limits_influence(void)
{
    dcr_contract c = make_contract(50, 1e-6, 100, 2);
    tables x;
    tables_init(&x);
    fill_units(&x, 1000, "p", 1, 1);
    for (int r = 0; r < 500; r++)
        add_visit(&x, "heavy", "p", 1000, 7); /* spend far above its bound 10 */
    dcr_result out;
    dcr_dp_report rep;
    dcr_error err = {0};
    CHECK(run(&c, &x, "SELECT COUNT(*), SUM(spend), AVG(spend), SUM(n) FROM visits", &out, &rep,
              &err) == DCR_OK);
    CHECK(out.nrows == 1);
    if (out.nrows == 1) {
        int64_t n = cell_i64(&out, 0, 0);
        double sum = cell_f64(&out, 0, 1), avg = cell_f64(&out, 0, 2);
        int64_t sn = cell_i64(&out, 0, 3);
        printf("     bounded: count=%lld sum=%.2f avg=%.4f sum(n)=%lld\n", (long long)n, sum, avg,
               (long long)sn);
        CHECK(llabs(n - 1002) < 40);          /* not 1500 */
        CHECK(fabs(sum - (1000 + 20)) < 400); /* heavy: 2 rows clamped to 10 */
        CHECK(avg >= 0 && avg <= 10);
        CHECK(llabs(sn - 1002 * 7) < 2000);
    }
    CHECK(!rep.gaussian || rep.tau == 0); /* no GROUP BY: no threshold */
    dcr_result_free(&out);
    tables_free(&x);
}

/* Pure DP (delta = 0): discrete Laplace with scale N / epsilon; the
 * variance over repeated runs matches 2 e^{-1/t} / (1 - e^{-1/t})^2. */
static void test_laplace_scale(void)
{
    dcr_contract c = make_contract(1, 0, 1000, 1);
    tables x;
    tables_init(&x);
    fill_units(&x, 20, "p", 1, 1);
    double sum = 0, sumsq = 0;
    int runs = 3000;
    for (int i = 0; i < runs; i++) {
        dcr_result out;
        dcr_dp_report rep;
        dcr_error err = {0};
        if (run(&c, &x, "SELECT COUNT(*) FROM visits", &out, &rep, &err) != DCR_OK) {
            CHECK(0);
            break;
        }
        CHECK(!rep.gaussian && rep.quantities == 1);
        /* Counts are clamped at 0 after noise; with 20 true units and scale
         * 1 that practically never happens, so the raw noise is seen. */
        double d = (double)cell_i64(&out, 0, 0) - 20;
        sum += d;
        sumsq += d * d;
        dcr_result_free(&out);
    }
    double q = exp(-1.0), var = 2 * q / ((1 - q) * (1 - q));
    double v = sumsq / runs - (sum / runs) * (sum / runs);
    printf("     laplace t=1: mean=%.3f var=%.3f exact=%.3f\n", sum / runs, v, var);
    CHECK(fabs(sum / runs) < 5.5 * sqrt(var / runs));
    CHECK(fabs(v - var) < 0.25 * var);
    tables_free(&x);
}

static void test_join_on_unit(void)
{
    dcr_contract c = make_contract(20, 1e-6, 100, 3);
    tables x;
    tables_init(&x);
    char uid[32];
    for (int u = 0; u < 2000; u++) {
        snprintf(uid, sizeof uid, "u%d", u);
        add_visit(&x, uid, u % 2 ? "odd" : "even", 1, 1);
        add_buy(&x, uid, "thing", "h");
    }
    dcr_result out;
    dcr_dp_report rep;
    dcr_error err = {0};
    CHECK(run(&c, &x,
              "SELECT v.page, COUNT(*) FROM visits v JOIN buys b ON v.uid = b.uid GROUP BY "
              "v.page ORDER BY v.page",
              &out, &rep, &err) == DCR_OK);
    CHECK(out.nrows == 2);
    if (out.nrows == 2) {
        CHECK(llabs(cell_i64(&out, 0, 1) - 1000) < 100);
        CHECK(llabs(cell_i64(&out, 1, 1) - 1000) < 100);
        size_t len;
        CHECK(memcmp(cell_text(&out, 0, 0, &len), "even", 4) == 0);
    }
    dcr_result_free(&out);
    /* A join that is not on the privacy units is refused. */
    CHECK(run(&c, &x, "SELECT COUNT(*) FROM visits v JOIN buys b ON v.page = b.hh", &out, &rep,
              &err) == DCR_EINPUT);
    CHECK_MSG(err, "privacy-unit columns");
    /* A subquery side (PROJECT) grows the join row: still correct. */
    CHECK(run(&c, &x,
              "SELECT s.page, COUNT(*) FROM (SELECT uid, page FROM visits) s JOIN buys b ON "
              "s.uid = b.uid GROUP BY s.page HAVING COUNT(*) > 10 ORDER BY 2 DESC LIMIT 5",
              &out, &rep, &err) == DCR_OK);
    CHECK(out.nrows == 2);
    dcr_result_free(&out);
    tables_free(&x);
}

static void test_refusals(void)
{
    tables x;
    tables_init(&x);
    fill_units(&x, 10, "p", 1, 1);
    dcr_result out;
    dcr_dp_report rep;
    dcr_error err = {0};
    dcr_contract c = make_contract(1, 1e-6, 10, 1);
    CHECK(run(&c, &x, "SELECT MAX(spend) FROM visits", &out, &rep, &err) == DCR_EINPUT);
    CHECK_MSG(err, "MIN and MAX");
    CHECK(run(&c, &x, "SELECT SUM(spend * 2) FROM visits", &out, &rep, &err) == DCR_EINPUT);
    CHECK_MSG(err, "metric column");
    CHECK(run(&c, &x, "SELECT SUM(LENGTH(page)) FROM visits", &out, &rep, &err) == DCR_EINPUT);
    CHECK(run(&c, &x, "SELECT page FROM visits", &out, &rep, &err) == DCR_EINPUT);
    CHECK_MSG(err, "one aggregation");
    CHECK(run(&c, &x, "SELECT COUNT(*) FROM (SELECT page, COUNT(*) FROM visits GROUP BY page) s",
              &out, &rep, &err) == DCR_EINPUT);
    CHECK_MSG(err, "only one aggregation");
    CHECK(run(&c, &x, "SELECT COUNT(*) FROM (SELECT * FROM visits LIMIT 3) s", &out, &rep, &err) ==
          DCR_EINPUT);
    CHECK_MSG(err, "LIMIT");
    dcr_contract pure = make_contract(1, 0, 10, 1);
    CHECK(run(&pure, &x, "SELECT page, COUNT(*) FROM visits GROUP BY page", &out, &rep, &err) ==
          DCR_EINPUT);
    CHECK_MSG(err, "delta > 0");
    tables_free(&x);
}

/* The charge happens once, before execution, with the query's cost; a
 * refused charge means no result. */
typedef struct {
    int calls;
    double eps, delta;
    bool refuse;
} charge_log;

static dcr_status charge_cb(void *ctx, const char *analyst, double eps, double delta,
                            dcr_error *err)
{
    charge_log *l = ctx;
    l->calls++;
    l->eps = eps;
    l->delta = delta;
    CHECK_STR(analyst, "ana");
    if (l->refuse)
        return dcr_fail(err, DCR_EINPUT, "budget exhausted: 0.1 left");
    return DCR_OK;
}

static void test_charge(void)
{
    dcr_contract c = make_contract(0.5, 1e-6, 5, 10);
    tables x;
    tables_init(&x);
    fill_units(&x, 10, "p", 1, 1);
    tables_bind(&x);
    dcr_result out;
    dcr_dp_report rep;
    dcr_error err = {0};
    charge_log log = {0};
    dcr_plan *p = compile(&c, "SELECT COUNT(*) FROM visits");
    CHECK(dcr_dp_run(&c, p, "ana", charge_cb, &log, x.src, 2, NULL, &out, &rep, NULL, &err) ==
          DCR_OK);
    CHECK(log.calls == 1);
    dcr_dp_cost cost;
    CHECK(dcr_dp_cost_of(&c.dp, &cost, &err) == DCR_OK);
    CHECK(log.eps == cost.charge_epsilon && rep.epsilon_charged == cost.charge_epsilon);
    dcr_result_free(&out);
    log.refuse = true;
    p = compile(&c, "SELECT COUNT(*) FROM visits");
    CHECK(dcr_dp_run(&c, p, "ana", charge_cb, &log, x.src, 2, NULL, &out, &rep, NULL, &err) ==
          DCR_EINPUT);
    CHECK_MSG(err, "budget exhausted");
    CHECK(out.nrows == 0 && out.nbatches == 0);
    /* A refused query is not charged. */
    p = compile(&c, "SELECT MIN(spend) FROM visits");
    CHECK(dcr_dp_run(&c, p, "ana", charge_cb, &log, x.src, 2, NULL, &out, &rep, NULL, &err) ==
          DCR_EINPUT);
    CHECK(log.calls == 2);
    tables_free(&x);
}

static void test_explain(void)
{
    dcr_contract c = make_contract(1, 1e-6, 10, 4);
    dcr_plan *p = compile(&c, "SELECT page, SUM(spend) FROM visits WHERE n > 3 GROUP BY page");
    dcr_dp_query *q;
    dcr_error err = {0};
    CHECK(dcr_dp_prepare(&c, p, &q, &err) == DCR_OK);
    dcr_buf b = {0};
    CHECK(dcr_dp_explain(q, &b, &err) == DCR_OK);
    dcr_buf_append(&b, "", 1, &err);
    printf("%s", (char *)b.data);
    CHECK(strstr((char *)b.data, "Bound contributions of unit privacy_unit: random <= 4 rows per "
                                 "group, <= 4 groups [page]") != NULL);
    CHECK(strstr((char *)b.data, "discrete Gaussian") != NULL);
    CHECK(strstr((char *)b.data, "Scan dp_noisy_aggregate") != NULL);
    dcr_buf_free(&b);
    dcr_dp_query_free(q);
}

/* ---- through the guarded entry point (privacy.h) ---- */

static const char dp_contract_fmt[] =
    "{\"dcr_contract\": 1, \"name\": \"t\", \"version\": 1, \"purpose\": \"test\",\n"
    " \"development\": true,\n"
    " \"parties\": [\n"
    "  {\"name\": \"publisher\", \"roles\": [\"provider\", \"receiver\"], \"public_key\": "
    "\"%s\"},\n"
    "  {\"name\": \"advertiser\", \"roles\": [\"analyst\", \"receiver\"], \"public_key\": "
    "\"%s\"}],\n"
    " \"datasets\": [\n"
    "  {\"name\": \"visits\", \"owner\": \"publisher\", \"privacy_unit\": \"uid\", "
    "\"columns\": [\n"
    "    {\"name\": \"uid\", \"type\": \"TEXT\", \"role\": \"id\"},\n"
    "    {\"name\": \"page\", \"type\": \"TEXT\", \"role\": \"dimension\"},\n"
    "    {\"name\": \"spend\", \"type\": \"DOUBLE PRECISION\", \"role\": \"metric\", \"bounds\": "
    "[0, 10]},\n"
    "    {\"name\": \"n\", \"type\": \"BIGINT\", \"role\": \"metric\", \"bounds\": [0, 100]}]}],\n"
    " \"rules\": {\n"
    "  \"aggregation\": {\"min_units\": 2, \"aggregates\": {\"visits.spend\": [\"SUM\"]}},\n"
    "  \"differential_privacy\": {\"enabled\": true, \"epsilon_per_query\": 4, \"delta\": 1e-6,\n"
    "   \"budget_per_analyst\": 8, \"max_contributions_per_unit\": 1},\n"
    "  \"receivers\": {\"advertiser\": [\"advertiser\"]}},\n"
    " \"evidence\": [{\"type\": \"sim\"}]}\n";

static void test_guarded(void)
{
    char a[DCR_PUB_TEXT_LEN + 2], b[DCR_PUB_TEXT_LEN + 2], text[4096];
    answer_pub_text(a);
    answer_pub_text(b);
    snprintf(text, sizeof text, dp_contract_fmt, a, b);
    dcr_contract c;
    dcr_contract_diags d = {0};
    dcr_error err = {0};
    if (dcr_contract_parse(text, strlen(text), "t", &c, &d, &err) != DCR_OK) {
        fprintf(stderr, "  contract: %s\n", err.msg);
        CHECK(0);
        dcr_contract_diags_free(&d);
        dcr_contract_free(&c);
        return;
    }
    dcr_contract_diags_free(&d);
    tables x;
    tables_init(&x);
    fill_units(&x, 800, "big", 1, 1);
    fill_units(&x, 1, "tiny", 1, 1);
    x.t = (dcr_table_source){4, x.cols, 0};
    dcr_exec_source src[1];
    dcr_table_source_bind(&src[0], &x.t);
    charge_log log = {0};
    dcr_privacy_hooks hooks = {.charge = charge_cb, .ctx = &log};
    dcr_result out;
    dcr_privacy_report rep;
    /* The analyst's name is checked by charge_cb. */
    c.parties[1].name[0] = 'a', c.parties[1].name[1] = 'n', c.parties[1].name[2] = 'a';
    c.parties[1].name[3] = 0;
    CHECK(dcr_guarded_query(&c, 1,
                            "SELECT page, COUNT(*) AS n, SUM(spend) FROM visits GROUP BY page", src,
                            &hooks, NULL, &out, &rep, &err) == DCR_OK);
    dcr_dp_cost cost;
    CHECK(dcr_dp_cost_of(&c.dp, &cost, &err) == DCR_OK);
    CHECK(log.calls == 1 && log.eps == cost.charge_epsilon && log.delta == cost.charge_delta);
    CHECK(rep.epsilon == cost.charge_epsilon && rep.delta == cost.charge_delta);
    CHECK(out.nrows == 1 && rep.rows_released == 1 && rep.rows_suppressed == 1);
    if (out.nrows == 1) {
        CHECK(llabs(cell_i64(&out, 0, 1) - 800) < 60);
        CHECK(fabs(cell_f64(&out, 0, 2) - 800) < 600);
    }
    dcr_result_free(&out);
    /* A shape DP cannot answer is refused by rule, and costs nothing. */
    CHECK(dcr_guarded_query(&c, 1,
                            "SELECT COUNT(*) FROM (SELECT page, COUNT(*) AS k FROM visits GROUP BY "
                            "page) s",
                            src, &hooks, NULL, &out, &rep, &err) == DCR_EINPUT);
    CHECK_MSG(err, "refused by rule differential-privacy");
    CHECK_STR(rep.rule, DCR_RULE_DP);
    CHECK(log.calls == 1);
    /* A refused charge: no result. */
    log.refuse = true;
    CHECK(dcr_guarded_query(&c, 1, "SELECT COUNT(*) FROM visits", src, &hooks, NULL, &out, &rep,
                            &err) == DCR_EINPUT);
    CHECK_MSG(err, "budget exhausted");
    CHECK(out.nrows == 0);
    /* The plan for EXPLAIN is the bounded one. */
    dcr_plan *p = NULL;
    CHECK(dcr_guarded_plan(&c, 1, "SELECT page, COUNT(*) FROM visits GROUP BY page", &p, &rep,
                           &err) == DCR_OK);
    dcr_buf ex = {0};
    CHECK(p && dcr_plan_explain(p, &ex, &err) == DCR_OK);
    dcr_buf_append(&ex, "", 1, &err);
    CHECK(ex.data && strstr((char *)ex.data, "Bound contributions of unit") != NULL);
    dcr_buf_free(&ex);
    dcr_plan_free(p);
    tables_free(&x);
    dcr_contract_free(&c);
}

/* ---- budget arithmetic ---- */

static void test_budget(void)
{
    /* rho <-> epsilon are inverse. */
    for (double e = 0.01; e < 20; e *= 3) {
        double r = dcr_dp_rho_from_eps(e, 1e-6);
        CHECK(fabs(dcr_dp_eps_from_rho(r, 1e-6) - e) < 1e-9 * e);
    }
    dcr_error err = {0};
    dcr_dp_cost c;
    dcr_contract_dp pure = {.enabled = true,
                            .epsilon_per_query = 0.5,
                            .delta = 0,
                            .budget_per_analyst = 5,
                            .max_contributions_per_unit = 10};
    CHECK(dcr_dp_cost_of(&pure, &c, &err) == DCR_OK);
    CHECK(!c.zcdp && c.charge_epsilon == 0.5 && c.max_queries == 10);
    dcr_contract_dp z = pure;
    z.delta = 1e-6;
    CHECK(dcr_dp_cost_of(&z, &c, &err) == DCR_OK);
    printf("     zCDP 0.5/5/1e-6: rho_q=%.6f rho_B=%.6f max_queries=%lld charge=%.6f\n", c.rho,
           c.rho_budget, (long long)c.max_queries, c.charge_epsilon);
    CHECK(c.zcdp && c.max_queries > 10);
    /* Exactly max_queries charges fit under the budget. */
    double sum = 0;
    for (int64_t i = 0; i < c.max_queries; i++)
        sum += c.charge_epsilon;
    CHECK(sum <= z.budget_per_analyst);
    CHECK(sum + c.charge_epsilon > z.budget_per_analyst);
    /* Lifetime: max_queries * rho_q <= rho_B, and converts back to <= B. */
    CHECK((double)c.max_queries * c.rho <= c.rho_budget);
    CHECK(dcr_dp_eps_from_rho((double)c.max_queries * c.rho, c.delta_conv) <= 5);
    CHECK(dcr_dp_eps_from_rho(c.rho, c.delta_conv) <= 0.5);
    /* The same in the state ledger's exact units (charges rounded up,
     * limits down): n_max queries fit, one more does not, for epsilon and
     * for delta. */
    int64_t ce, cd, le, ld;
    CHECK(dcr_budget_units_up(c.charge_epsilon, DCR_EPS_UNIT, &ce, &err) == DCR_OK);
    CHECK(dcr_budget_units_up(c.charge_delta, DCR_DELTA_UNIT, &cd, &err) == DCR_OK);
    CHECK(dcr_budget_units_down(z.budget_per_analyst, DCR_EPS_UNIT, &le, &err) == DCR_OK);
    CHECK(dcr_budget_units_down(z.delta, DCR_DELTA_UNIT, &ld, &err) == DCR_OK);
    CHECK(ce * c.max_queries <= le && ce * (c.max_queries + 1) > le);
    CHECK(cd * c.max_queries <= ld && cd * (c.max_queries + 1) > ld);
    double left;
    int64_t nq;
    dcr_dp_remaining(&c, sum - c.charge_epsilon, &left, &nq);
    CHECK(nq == 1);
    z.enabled = false;
    CHECK(dcr_dp_cost_of(&z, &c, &err) == DCR_EINPUT);
}

int main(void)
{
    RUN(test_bound_limits);
    RUN(test_bound_random);
    RUN(test_grouped_count_threshold);
    RUN(test_bounding_limits_influence);
    RUN(test_laplace_scale);
    RUN(test_join_on_unit);
    RUN(test_refusals);
    RUN(test_charge);
    RUN(test_explain);
    RUN(test_guarded);
    RUN(test_budget);
    return check_summary();
}

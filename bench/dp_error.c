/*
 * dp_error.c: the error of differentially private answers on the benchmark
 * data (bench/dp_error.sh builds and runs it; see bench/README.md).
 *
 *   dp_error KEY IMPRESSIONS.dcr PURCHASES.dcr RUNS EPSILON DELTA CONTRIB BUDGET
 *
 * For each attribution query of bench/queries.tsv (COUNT(*) or COUNT(DISTINCT
 * i.email), and SUM(p.amount), by campaign) it runs the exact query once
 * and the DP query RUNS times under a contract like docs/contract.md's
 * example (amount is a metric with bounds [0, 1000]; epsilon, delta,
 * max_contributions_per_unit and budget_per_analyst from the command line:
 * the budget sets how many queries share delta, hence the release
 * threshold; it is not enforced here, nothing is charged), then prints per
 * campaign and aggregate: the exact value, the mean DP answer over the runs
 * (its difference from the exact value is the bias of contribution
 * bounding), the standard deviation of the DP answers (the noise), and the
 * median absolute relative error; and how many campaigns were released.
 * Output: tab-separated lines, one per (query, aggregate, campaign), and a
 * summary per (query, aggregate) with the medians over campaigns.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contract/contract.h"
#include "crypto/party_key.h"
#include "base/hygiene.h"
#include "exec/source.h"
#include "privacy/dp.h"
#include "sql/sql.h"
#include "store/sealed.h"
#include "store/sealed_reader.h"

#define MAXC 256 /* campaigns */

static dcr_contract_column imp_cols[] = {
    {.name = "email", .type = DCR_TYPE_TEXT, .role = DCR_COL_ID, .not_null = true},
    {.name = "campaign", .type = DCR_TYPE_TEXT, .role = DCR_COL_DIMENSION},
    {.name = "ts", .type = DCR_TYPE_TIMESTAMP, .role = DCR_COL_DIMENSION},
    {.name = "amount",
     .type = DCR_TYPE_DOUBLE,
     .role = DCR_COL_METRIC,
     .has_bounds = true,
     .lo = 0,
     .hi = 1000},
};
static dcr_contract_column pur_cols[] = {
    {.name = "email", .type = DCR_TYPE_TEXT, .role = DCR_COL_ID, .not_null = true},
    {.name = "amount",
     .type = DCR_TYPE_DOUBLE,
     .role = DCR_COL_METRIC,
     .has_bounds = true,
     .lo = 0,
     .hi = 1000},
    {.name = "ts", .type = DCR_TYPE_TIMESTAMP, .role = DCR_COL_DIMENSION},
};
static dcr_contract_dataset datasets[] = {
    {.name = "impressions", .privacy_unit = 0, .min_units = 50, .ncols = 4, .cols = imp_cols},
    {.name = "purchases", .privacy_unit = 0, .min_units = 50, .ncols = 3, .cols = pur_cols},
};

static const char *queries[][2] = {
    {"count_sum", "SELECT i.campaign, COUNT(*) AS n, SUM(p.amount) AS revenue FROM impressions i "
                  "JOIN purchases p ON i.email = p.email GROUP BY i.campaign ORDER BY i.campaign"},
    {"distinct_sum",
     "SELECT i.campaign, COUNT(DISTINCT i.email) AS users, SUM(p.amount) AS revenue FROM "
     "impressions i JOIN purchases p ON i.email = p.email GROUP BY i.campaign ORDER BY "
     "i.campaign"},
};

typedef struct {
    char name[128];
    double exact[2];
    double sum[2], sumsq[2];
    double *relerr[2]; /* per run */
    int released;
} campaign;

static int die(const dcr_error *err)
{
    fprintf(stderr, "dp_error: %s\n", err->msg);
    return 1;
}

static double cell(const dcr_result *r, size_t row, size_t col)
{
    for (size_t b = 0; b < r->nbatches; b++) {
        if (row < r->batches[b].nrows) {
            const dcr_column *c = &r->batches[b].cols[col];
            if (dcr_column_is_null(c, row))
                return NAN;
            return c->type == DCR_TYPE_BIGINT ? (double)((const int64_t *)c->values)[row]
                                              : ((const double *)c->values)[row];
        }
        row -= r->batches[b].nrows;
    }
    return NAN;
}

static void key_of(const dcr_result *r, size_t row, char *out, size_t n)
{
    for (size_t b = 0; b < r->nbatches; b++) {
        if (row < r->batches[b].nrows) {
            size_t len;
            const char *t = dcr_vec_text(&r->batches[b].cols[0], row, &len);
            snprintf(out, n, "%.*s", (int)len, t);
            return;
        }
        row -= r->batches[b].nrows;
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
    if (n == 0)
        return NAN;
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
    if (argc != 9) {
        fprintf(stderr, "usage: dp_error KEY IMPRESSIONS.dcr PURCHASES.dcr RUNS EPSILON DELTA "
                        "CONTRIB BUDGET\n");
        return 2;
    }
    int runs = atoi(argv[4]);
    dcr_contract c = {0};
    c.ndatasets = 2;
    c.datasets = datasets;
    c.dp = (dcr_contract_dp){.present = true,
                             .enabled = true,
                             .epsilon_per_query = atof(argv[5]),
                             .delta = atof(argv[6]),
                             .budget_per_analyst = atof(argv[8]),
                             .max_contributions_per_unit = atoll(argv[7])};
    dcr_error err = {0};
    dcr_party_key key;
    if (dcr_party_key_load(argv[1], &key, &err) != DCR_OK)
        return die(&err);
    dcr_sealed_reader rd[2];
    dcr_sealed_source ss[2];
    dcr_exec_source src[2];
    dcr_catalog_entry ent[2];
    for (int i = 0; i < 2; i++) {
        if (dcr_sealed_reader_open(&rd[i], argv[2 + i], &err) != DCR_OK ||
            dcr_sealed_unwrap_key(&rd[i].header, &key, ss[i].key, &err) != DCR_OK)
            return die(&err);
        ss[i].path = argv[2 + i];
        dcr_sealed_source_bind(&src[i], &ss[i]);
        ent[i] = (dcr_catalog_entry){datasets[i].name, &rd[i].header.schema};
    }
    dcr_catalog cat = {2, ent};
    printf("query\taggregate\tcampaign\texact\tdp_mean\tbias_pct\tnoise_sd\tmedian_abs_rel_err_"
           "pct\treleased\n");
    for (size_t qi = 0; qi < sizeof queries / sizeof queries[0]; qi++) {
        dcr_plan *p;
        dcr_result exact;
        if (dcr_sql_compile(queries[qi][1], &cat, &p, NULL, &err) != DCR_OK ||
            dcr_exec_run(p, src, 2, NULL, &exact, NULL, &err) != DCR_OK)
            return die(&err);
        dcr_plan_free(p);
        size_t nc = exact.nrows < MAXC ? exact.nrows : MAXC;
        campaign *cs = calloc(nc, sizeof *cs);
        for (size_t r = 0; r < nc; r++) {
            key_of(&exact, r, cs[r].name, sizeof cs[r].name);
            for (int a = 0; a < 2; a++) {
                cs[r].exact[a] = cell(&exact, r, 1 + (size_t)a);
                cs[r].relerr[a] = calloc((size_t)runs, sizeof(double));
            }
        }
        dcr_dp_report rep = {0};
        for (int run = 0; run < runs; run++) {
            dcr_result dp;
            if (dcr_sql_compile(queries[qi][1], &cat, &p, NULL, &err) != DCR_OK ||
                dcr_dp_run(&c, p, "bench", NULL, NULL, src, 2, NULL, &dp, &rep, NULL, &err) !=
                    DCR_OK)
                return die(&err);
            for (size_t r = 0; r < dp.nrows; r++) {
                char k[128];
                key_of(&dp, r, k, sizeof k);
                for (size_t j = 0; j < nc; j++) {
                    if (strcmp(k, cs[j].name) != 0)
                        continue;
                    for (int a = 0; a < 2; a++) {
                        double v = cell(&dp, r, 1 + (size_t)a);
                        cs[j].sum[a] += v;
                        cs[j].sumsq[a] += v * v;
                        cs[j].relerr[a][cs[j].released] =
                            fabs(v - cs[j].exact[a]) / fabs(cs[j].exact[a]);
                    }
                    cs[j].released++;
                }
            }
            dcr_result_free(&dp);
        }
        fprintf(stderr, "%s: tau=%lld, %zu noisy values per group, %s\n", queries[qi][0],
                (long long)rep.tau, rep.quantities,
                rep.gaussian ? "discrete Gaussian" : "discrete Laplace");
        const char *agg_names[2] = {qi == 0 ? "COUNT(*)" : "COUNT(DISTINCT email)", "SUM(amount)"};
        for (int a = 0; a < 2; a++) {
            double *meds = calloc(nc, sizeof *meds), *bias = calloc(nc, sizeof *bias),
                   *sds = calloc(nc, sizeof *sds);
            size_t nm = 0, released_all = 0;
            for (size_t j = 0; j < nc; j++) {
                campaign *x = &cs[j];
                int n = x->released;
                double mean = n ? x->sum[a] / n : NAN;
                double sd = n > 1 ? sqrt(fmax(0, (x->sumsq[a] - n * mean * mean) / (n - 1))) : NAN;
                double med = median(x->relerr[a], (size_t)n);
                double b = (mean - x->exact[a]) / x->exact[a];
                printf("%s\t%s\t%s\t%.2f\t%.2f\t%.2f\t%.1f\t%.2f\t%d/%d\n", queries[qi][0],
                       agg_names[a], x->name, x->exact[a], mean, 100 * b, sd, 100 * med, n, runs);
                if (n == runs) {
                    meds[nm] = med;
                    bias[nm] = b;
                    sds[nm] = sd / x->exact[a];
                    nm++;
                    released_all++;
                }
            }
            printf("# %s %s: %zu of %zu campaigns released in every run; over them, median of "
                   "(median |relative error|) %.2f%%, median bias %.2f%%, median noise sd "
                   "%.2f%% of the exact value\n",
                   queries[qi][0], agg_names[a], released_all, nc, 100 * median(meds, nm),
                   100 * median(bias, nm), 100 * median(sds, nm));
            free(meds);
            free(bias);
            free(sds);
        }
        for (size_t j = 0; j < nc; j++)
            for (int a = 0; a < 2; a++)
                free(cs[j].relerr[a]);
        free(cs);
        dcr_result_free(&exact);
    }
    for (int i = 0; i < 2; i++) {
        dcr_sealed_reader_close(&rd[i]);
        dcr_wipe(ss[i].key, sizeof ss[i].key);
    }
    dcr_party_key_wipe(&key);
    return 0;
}

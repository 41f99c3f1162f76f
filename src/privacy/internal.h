/*
 * internal.h: what the files of src/privacy/ share, nothing outside it.
 *
 * policy.c checks a bound plan against the contract (column roles, joins,
 * aggregates, aggregated output) and finds k; threshold.c rewrites the plan
 * so every aggregate also counts the distinct privacy units it rests on and
 * runs it aggregate by aggregate, dropping small groups where they are
 * formed; guarded.c strings the steps together (privacy.h).
 */
#ifndef DCR_PRIVACY_INTERNAL_H
#define DCR_PRIVACY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "privacy/differencing.h"
#include "privacy/privacy.h"

/* One guarded query in progress. */
typedef struct {
    const dcr_contract *c;
    const char *sql;
    dcr_error *err;
    dcr_privacy_report *report;
    bool *used; /* c->ndatasets flags: datasets the query reads (policy.c fills) */
    /* Aggregates over a metric column (policy.c fills; threshold.c clamps
     * their argument into the column's bounds). */
    size_t nmetric, metric_cap;
    struct pv_metric_agg {
        const dcr_expr *agg;
        dcr_colref col;
    } * metric_aggs;
    /* The query is a contract template (template.c): its own aggregates and
     * joins count as approved by every party (docs/privacy.md). */
    bool template_approved;
    /* The contract's loaded templates, NULL: load them for this query. */
    const struct dcr_templates *templates;
    /* The differencing defence of this query, NULL when off (diffguard.c). */
    dcr_diff *diff;
    /* The query is an allowed list/overlap query (overlap.c). */
    bool overlap;
} pv_ctx;

/* Records a refusal: err = "SQL:L:C: refused by rule RULE: <fmt>",
 * report->rule = rule; returns DCR_EINPUT. */
dcr_status pv_refuse(pv_ctx *x, const char *rule, int location, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* policy.c: checks every operator and expression of plan; fills x->used and
 * report->k (the max min_units of the datasets read, or the contract's
 * rules.aggregation.min_units when none is read). */
dcr_status pv_policy_check(pv_ctx *x, const dcr_plan *plan);

/* One thresholded aggregate after the rewrite: `agg` computes its groups,
 * its nvisible output columns, then nslots hidden COUNT(DISTINCT unit)
 * columns (one per dataset instance its rows rest on directly), a hidden
 * COUNT(*), and with the differencing defence on nsketch hidden unit sets
 * (UNIT_SKETCH per instance, UNIT_SKETCH_MERGE per set of released groups
 * under it); `drop` is the Project above it that drops the hidden columns
 * but the first nexport sets (what the rest of the plan reads: an inner
 * aggregate passes its sets up, an outer one nothing). outer: no aggregate
 * above it. */
typedef struct {
    dcr_plan *drop, *agg;
    size_t nvisible, nslots, nsketch, nexport;
    bool outer;
} pv_thr;

typedef struct {
    size_t n, cap;
    pv_thr *items;
} pv_thresholds;

void pv_thresholds_free(pv_thresholds *t);

/* threshold.c: rewrites *plan in place (policy-checked first). */
dcr_status pv_threshold_rewrite(pv_ctx *x, dcr_plan **plan, pv_thresholds *t);

/* Which groups of a thresholded aggregate are released: sets keep[i] for
 * each row i of `rows` (all of agg's columns, hidden ones included) and may
 * change visible values (noise). The exact rule (threshold.c) keeps a group
 * when every unit count is 0 or >= k and COUNT(*) >= 1. The dp helper
 * provides the noisy variant. */
typedef dcr_status (*pv_release_fn)(void *ctx, pv_ctx *x, const pv_thr *t, dcr_batch *rows,
                                    bool *keep, dcr_error *err);
dcr_status pv_release_exact(void *ctx, pv_ctx *x, const pv_thr *t, dcr_batch *rows, bool *keep,
                            dcr_error *err);

/* Runs the rewritten plan: each thresholded aggregate bottom up, keeping
 * the groups `release` keeps (counting the rest in x->report), replacing it
 * by a scan of its released groups; then the rest of the plan. Consumes
 * *plan's aggregates (the plan is changed). *err_location as dcr_exec_run. */
dcr_status pv_threshold_run(pv_ctx *x, dcr_plan **plan, pv_thresholds *t,
                            const dcr_exec_source *sources, const dcr_exec_opts *opts,
                            pv_release_fn release, void *release_ctx, dcr_result *out,
                            int *err_location);

/* template.c: matches x->sql against the contract's templates; sets
 * x->template_approved and report->template_name on a match; refuses (rule
 * "template-parameter") a template use with bad parameter values. */
dcr_status pv_template_match(pv_ctx *x);

/* diffguard.c: the differencing defence inside the threshold machinery.
 * pv_diff_add_sketch appends a hidden UNIT_SKETCH of unit slot `pos`
 * (dataset `dataset`; merge: UNIT_SKETCH_MERGE of the unit sets of released
 * groups in column pos) to an aggregate; pv_release_guarded is
 * pv_release_exact followed by the defence on the kept rows of every
 * aggregate (ctx unused). */
/* overlap.c: *overlap = the bound plan is the list/overlap shape that the
 * contract allows `analyst` (then x->used, report->k and the receivers are
 * set, and the ordinary policy and threshold do not apply); otherwise
 * nothing changes. pv_overlap_run runs it: distinct identifiers, withheld
 * entirely when fewer than k. */
dcr_status pv_overlap_check(pv_ctx *x, size_t analyst, const dcr_plan *plan, bool *overlap);
dcr_status pv_overlap_run(pv_ctx *x, dcr_plan **plan, const dcr_exec_source *sources,
                          const dcr_exec_opts *opts, dcr_result *out, int *err_location);

dcr_status pv_diff_add_sketch(pv_ctx *x, dcr_plan *agg, size_t dataset, size_t pos, bool merge);
dcr_status pv_release_guarded(void *ctx, pv_ctx *x, const pv_thr *t, dcr_batch *rows, bool *keep,
                              dcr_error *err);

#endif

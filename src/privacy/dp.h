/*
 * dp.h: the differential-privacy mechanism for aggregate queries.
 *
 * Given a bound logical plan (sql/plan.h) whose SCAN dataset indexes are the
 * contract's dataset indexes, dcr_dp_prepare checks that the query has the
 * one shape DP can answer, and rewrites it:
 *
 *     [upper: PROJECT / FILTER (HAVING) / SORT / LIMIT over the aggregate]
 *       AGGREGATE(groups, aggs)
 *         lower input (SCAN, FILTER, PROJECT, SORT, JOIN on privacy units)
 *
 *   becomes
 *
 *     lower:  AGGREGATE(groups, raw quantities)
 *               BOUND(unit, groups, N, M)        -- exec/bound.c
 *                 PROJECT(groups, unit, clamped metrics on a grid)
 *                   lower input (+ the privacy unit column where missing)
 *     noise:  every raw quantity of every group gets exact integer noise
 *             (privacy/noise.h); groups whose noisy count of distinct units
 *             is below the threshold tau are dropped; the aggregates are
 *             rebuilt from the noisy quantities (AVG = noisy SUM / noisy
 *             COUNT)
 *     upper:  the original operators above the aggregate, run over the noisy
 *             rows (so HAVING, ORDER BY and LIMIT only ever see noisy values)
 *
 * N (rows per unit per group) and M (groups per unit) are both the
 * contract's max_contributions_per_unit. docs/privacy.md ("Differential
 * privacy") explains the sensitivities, the noise, the threshold and the
 * expected error.
 *
 * Queries DP refuses (DCR_EINPUT, the reason in err->msg): no aggregate or
 * more than one; MIN/MAX; SUM/AVG of anything but a metric column;
 * DISTINCT SUM/AVG; joins not on privacy-unit columns; UNION ALL, LIMIT or
 * a subquery aggregate below the aggregate; group keys with delta = 0
 * (pure DP cannot release keys taken from the data).
 *
 * Use: prepare (static checks, no data read), charge the budget
 * (cost->charge_epsilon / charge_delta; refuse when it would overspend),
 * then execute. A query that fails while running has still been charged:
 * whether it fails can depend on the data.
 */
#ifndef DCR_PRIVACY_DP_H
#define DCR_PRIVACY_DP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buffer.h"
#include "base/error.h"
#include "contract/contract.h"
#include "exec/exec.h"
#include "privacy/budget.h"
#include "sql/plan.h"

typedef struct dcr_dp_query dcr_dp_query;

/* What a DP query did, for the caller's report. */
typedef struct {
    double epsilon_charged, delta_charged; /* what the ledger was (or is to be) charged */
    double epsilon, delta;                 /* the query's own (epsilon, delta)-DP guarantee */
    double rho;                            /* zCDP: the query's rho (0 for pure DP) */
    bool gaussian;                         /* discrete Gaussian (else discrete Laplace) */
    size_t quantities;                     /* noisy values per group (the budget split) */
    int64_t tau;                           /* threshold on the noisy unit count; 0 = none */
    size_t groups_released, groups_suppressed;
} dcr_dp_report;

/* Checks and rewrites plan (taking ownership of it, also on failure) for
 * the contract's DP settings. *out is the caller's (dcr_dp_query_free).
 * Reads no data. */
dcr_status dcr_dp_prepare(const dcr_contract *c, dcr_plan *plan, dcr_dp_query **out,
                          dcr_error *err);

/* The query's cost (what to charge before executing). */
const dcr_dp_cost *dcr_dp_query_cost(const dcr_dp_query *q);

/* Runs the rewritten query: lower plan over sources[0..nsources) (the
 * contract's datasets), noise and thresholds, upper plan. *out receives
 * the noisy result (caller frees with dcr_result_free); *err_location as in
 * dcr_exec_run. report may be NULL. */
dcr_status dcr_dp_execute(dcr_dp_query *q, const dcr_exec_source *sources, size_t nsources,
                          const dcr_exec_opts *opts, dcr_result *out, dcr_dp_report *report,
                          int *err_location, dcr_error *err);

/* Appends the rewritten plan: lower plan, noise step, upper plan. */
dcr_status dcr_dp_explain(const dcr_dp_query *q, dcr_buf *out, dcr_error *err);

/* Hands the lower plan (AGGREGATE over BOUND ...) to the caller, for
 * EXPLAIN; q can then only be freed. */
dcr_plan *dcr_dp_take_lower(dcr_dp_query *q);

void dcr_dp_query_free(dcr_dp_query *q);

/* The budget hook of the guarded path (privacy.h): charges (epsilon, delta)
 * to `analyst` atomically and durably, or refuses with DCR_EINPUT and the
 * remaining budget in err->msg. */
typedef dcr_status (*dcr_dp_charge_fn)(void *ctx, const char *analyst, double epsilon, double delta,
                                       dcr_error *err);

/* prepare + charge + execute in one call: the charge happens after the
 * static checks and before any data is read, so no result (and no
 * data-dependent error) is ever produced without it. charge may be NULL
 * only in tests and benchmarks (then nothing is charged). Takes ownership
 * of plan. */
dcr_status dcr_dp_run(const dcr_contract *c, dcr_plan *plan, const char *analyst,
                      dcr_dp_charge_fn charge, void *charge_ctx, const dcr_exec_source *sources,
                      size_t nsources, const dcr_exec_opts *opts, dcr_result *out,
                      dcr_dp_report *report, int *err_location, dcr_error *err);

#endif

/*
 * budget.h: privacy-budget arithmetic for differential privacy: what one
 * query costs, how costs compose, and what is left.
 *
 * The durable, atomic ledger lives in src/state/; it is reached through the
 * `charge` hook of the guarded query path (privacy.h) and adds the
 * per-query charges computed here. This file only does the arithmetic, so
 * that the ledger can stay a plain sum compared with the contract's
 * budget_per_analyst (B):
 *
 *   - delta == 0 (pure DP, discrete Laplace): basic sequential composition.
 *     A query costs its epsilon; n queries are (n * epsilon)-DP; the ledger
 *     is charged epsilon_per_query, and B / epsilon_per_query queries fit.
 *
 *   - delta > 0 (zero-concentrated DP, discrete Gaussian): costs are zCDP
 *     rho values, which add. Half of delta converts rho to (epsilon, delta)
 *     (Bun and Steinke 2016: rho-zCDP implies (rho + 2 sqrt(rho ln(1/d)),
 *     d)-DP), the other half is spread over the noisy thresholds of the
 *     analyst's queries. One query gets rho_q = rho(epsilon_per_query,
 *     delta/2); the analyst's lifetime gets rho_B = rho(B, delta/2); so
 *     n_max = floor(rho_B / rho_q) queries fit, and each one's threshold may
 *     fail with probability delta / (2 n_max). Every query alone is
 *     (epsilon_per_query, delta)-DP, all of them together (B, delta)-DP.
 *     Because rho grows with epsilon squared, n_max is far more than
 *     B / epsilon_per_query (86 instead of 10 for 0.5, 5, 1e-6).
 *     The ledger is charged in units of B: B / (n_max + 1/2) per query, so
 *     exactly n_max charges fit under B whatever the rounding of the sum
 *     (the state ledger rounds each charge up to 1e-9); likewise delta /
 *     (n_max + 1/2) against a lifetime delta limit of delta.
 */
#ifndef DCR_PRIVACY_BUDGET_H
#define DCR_PRIVACY_BUDGET_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "contract/contract.h"

typedef struct {
    bool zcdp;              /* delta > 0 */
    double epsilon, delta;  /* the contract's per-query values */
    double budget;          /* the contract's budget_per_analyst */
    double rho;             /* zCDP: one query's rho (already rounded down) */
    double rho_budget;      /* zCDP: the analyst's lifetime rho */
    double delta_conv;      /* zCDP: delta of the rho -> (epsilon, delta) conversion */
    double delta_threshold; /* zCDP: failure probability of one query's thresholds */
    int64_t max_queries;    /* queries that fit in the budget */
    double charge_epsilon;  /* what the ledger is charged per query */
    double charge_delta;    /* delta recorded with the charge */
} dcr_dp_cost;

/* The smallest rho whose zCDP guarantee implies (epsilon, delta)-DP by
 * the Bun-Steinke conversion: (sqrt(ln(1/delta) + epsilon) -
 * sqrt(ln(1/delta)))^2. epsilon > 0, 0 < delta < 1. */
double dcr_dp_rho_from_eps(double epsilon, double delta);
/* The inverse: rho + 2 sqrt(rho ln(1/delta)). */
double dcr_dp_eps_from_rho(double rho, double delta);

/* The cost of one query under the contract's settings. DCR_EINPUT when DP
 * is not enabled or a setting is out of range. */
dcr_status dcr_dp_cost_of(const dcr_contract_dp *dp, dcr_dp_cost *out, dcr_error *err);

/* An analyst's limits under contract c, for the ledger (state/): epsilon
 * is the contract's budget_per_analyst; delta is spent at most dp.delta per
 * query, so its limit is dp.delta times the queries the epsilon budget
 * allows. Both 0 when DP is off (threshold-only queries charge (0, 0)). */
void dcr_budget_limits(const dcr_contract *c, double *eps_limit, double *delta_limit);

/* Given what the ledger holds (`spent`, in the units charged), the budget
 * left in those units and how many more queries fit. */
void dcr_dp_remaining(const dcr_dp_cost *c, double spent, double *remaining, int64_t *queries);

#endif

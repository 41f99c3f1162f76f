/*
 * budget.c: per-query cost and composition of the privacy budget
 * (budget.h has the accounting rules).
 *
 * Floating point is fine here (it only decides how much noise to add and
 * how many queries fit), but every rounding goes the safe way: rho for a
 * query is shaded down (less rho means more noise), the lifetime rho and
 * the query count are shaded down too.
 */
#include <math.h>

#include "privacy/budget.h"

#define SAFE_DOWN (1 - 1e-12)

double dcr_dp_rho_from_eps(double epsilon, double delta)
{
    double l = log(1 / delta);
    double r = sqrt(l + epsilon) - sqrt(l);
    return r * r;
}

double dcr_dp_eps_from_rho(double rho, double delta)
{
    return rho + 2 * sqrt(rho * log(1 / delta));
}

dcr_status dcr_dp_cost_of(const dcr_contract_dp *dp, dcr_dp_cost *out, dcr_error *err)
{
    *out = (dcr_dp_cost){0};
    if (!dp->enabled)
        return dcr_fail(err, DCR_EINPUT, "differential privacy is not enabled in the contract");
    if (!(dp->epsilon_per_query > 0) || !isfinite(dp->epsilon_per_query) ||
        !(dp->delta >= 0 && dp->delta < 1) || !(dp->budget_per_analyst >= dp->epsilon_per_query) ||
        !isfinite(dp->budget_per_analyst) || dp->max_contributions_per_unit < 1)
        return dcr_fail(err, DCR_EINPUT, "differential privacy settings out of range");
    out->epsilon = dp->epsilon_per_query;
    out->delta = dp->delta;
    out->budget = dp->budget_per_analyst;
    if (dp->delta == 0) {
        out->max_queries = (int64_t)floor(dp->budget_per_analyst / dp->epsilon_per_query);
        out->charge_epsilon = dp->epsilon_per_query;
        return DCR_OK;
    }
    out->zcdp = true;
    out->delta_conv = dp->delta / 2;
    out->rho = dcr_dp_rho_from_eps(dp->epsilon_per_query, out->delta_conv) * SAFE_DOWN;
    out->rho_budget = dcr_dp_rho_from_eps(dp->budget_per_analyst, out->delta_conv) * SAFE_DOWN;
    double n = floor(out->rho_budget / out->rho * SAFE_DOWN);
    if (n < 1)
        n = 1; /* budget >= epsilon_per_query, so one query always fits */
    if (n > 1e12)
        return dcr_fail(err, DCR_EINPUT,
                        "differential privacy budget too large for one query's "
                        "epsilon");
    out->max_queries = (int64_t)n;
    out->delta_threshold = dp->delta / 2 / n;
    out->charge_epsilon = dp->budget_per_analyst / (n + 0.5);
    out->charge_delta = dp->delta / (n + 0.5);
    return DCR_OK;
}

void dcr_dp_remaining(const dcr_dp_cost *c, double spent, double *remaining, int64_t *queries)
{
    double left = c->budget - spent;
    if (left < 0)
        left = 0;
    *remaining = left;
    double q = c->charge_epsilon > 0 ? floor(left / c->charge_epsilon) : 0;
    if (q > (double)c->max_queries)
        q = (double)c->max_queries;
    *queries = (int64_t)q;
}

void dcr_budget_limits(const dcr_contract *c, double *eps_limit, double *delta_limit)
{
    const dcr_contract_dp *dp = &c->dp;
    bool on = dp->present && dp->enabled && dp->epsilon_per_query > 0;
    *eps_limit = on ? dp->budget_per_analyst : 0;
    *delta_limit = on ? dp->delta * (dp->budget_per_analyst / dp->epsilon_per_query) : 0;
}

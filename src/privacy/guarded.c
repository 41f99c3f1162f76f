/*
 * guarded.c: dcr_guarded_query(), the one way a query runs under a
 * contract (privacy.h): who may ask, parse + bind against the contract's
 * datasets, the policy check, the threshold rewrite, execution with
 * suppression at every aggregate, the differential-privacy seam, the
 * budget/audit hook, and the report.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "privacy/dp.h"
#include "privacy/internal.h"
#include "sql/sql.h"

/* A refusal that has no place in the SQL text. */
static dcr_status refuse_plain(pv_ctx *x, const char *rule, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static dcr_status refuse_plain(pv_ctx *x, const char *rule, const char *fmt, ...)
{
    char why[DCR_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    snprintf(x->report->rule, sizeof x->report->rule, "%s", rule);
    return dcr_fail(x->err, DCR_EINPUT, "refused by rule %s: %s", rule, why);
}

static void report_init(const dcr_contract *c, size_t analyst, dcr_privacy_report *r)
{
    memset(r, 0, sizeof *r);
    for (size_t i = 0; i < c->nreceivers; i++)
        if (c->receivers[i].analyst == analyst) {
            r->nreceivers = c->receivers[i].n;
            r->receivers = c->receivers[i].receivers;
        }
}

static dcr_status check_analyst(pv_ctx *x, size_t analyst)
{
    const dcr_contract *c = x->c;
    if (analyst >= c->nparties)
        return refuse_plain(x, DCR_RULE_ANALYST, "no such party in the contract");
    if (!(c->parties[analyst].roles & DCR_ROLE_ANALYST))
        return refuse_plain(x, DCR_RULE_ANALYST,
                            "party \"%s\" does not have the analyst role in the contract",
                            c->parties[analyst].name);
    if (x->report->nreceivers == 0)
        return refuse_plain(x, DCR_RULE_ANALYST,
                            "party \"%s\" has no result receivers in the contract",
                            c->parties[analyst].name);
    return DCR_OK;
}

typedef struct {
    dcr_schema *schemas;
    dcr_catalog_entry *entries;
    dcr_catalog cat;
    size_t n;
} contract_catalog;

static void catalog_free(contract_catalog *k)
{
    for (size_t i = 0; i < k->n; i++)
        dcr_schema_free(&k->schemas[i]);
    free(k->schemas);
    free(k->entries);
    memset(k, 0, sizeof *k);
}

/* The contract's datasets as SQL tables, named as in the contract. */
static dcr_status catalog_make(const dcr_contract *c, contract_catalog *k, dcr_error *err)
{
    memset(k, 0, sizeof *k);
    size_t n = c->ndatasets;
    k->schemas = calloc(n ? n : 1, sizeof *k->schemas);
    k->entries = calloc(n ? n : 1, sizeof *k->entries);
    if (!k->schemas || !k->entries)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        dcr_status s = dcr_contract_dataset_schema(c, c->datasets[i].name, &k->schemas[i], err);
        if (s != DCR_OK)
            return s;
        k->n++;
        k->entries[i] = (dcr_catalog_entry){c->datasets[i].name, &k->schemas[i]};
    }
    k->cat = (dcr_catalog){n, k->entries};
    return DCR_OK;
}

/* The DP rewrite (dp.h) of a checked plan, which it takes; its shape
 * refusals become refusals by rule DCR_RULE_DP. */
static dcr_status dp_prepare(pv_ctx *x, dcr_plan **plan, dcr_dp_query **dpq)
{
    dcr_status s = dcr_dp_prepare(x->c, *plan, dpq, x->err);
    *plan = NULL;
    if (s == DCR_EINPUT)
        return refuse_plain(x, DCR_RULE_DP, "%s", x->err->msg);
    return s;
}

/* Which protection answers the query (docs/privacy.md, "Modes"): DP
 * defends free-form SQL; thresholds alone do not (differencing, padding,
 * reconstruction over several answers), so without DP only the templates
 * every party approved run, unless the parties opted in by name. */
static dcr_status check_mode(pv_ctx *x)
{
    if (x->c->dp.enabled)
        x->report->protection = DCR_PROTECT_DP;
    else if (x->template_approved)
        x->report->protection = DCR_PROTECT_TEMPLATE;
    else if (x->c->unsafe_free_form_sql)
        x->report->protection = DCR_PROTECT_FREE_FORM;
    else
        return refuse_plain(
            x, DCR_RULE_FREE_FORM,
            "this contract answers only its templates (%zu: see 'dcr contract show') and overlap "
            "queries: without differential privacy an aggregation threshold cannot stop several "
            "answers being combined to single out one person. Run a template, or agree a "
            "contract with rules.differential_privacy enabled",
            x->c->ntemplates);
    return DCR_OK;
}

/* Everything up to execution: on DCR_OK *plan is checked and rewritten, or,
 * when the contract asks for differential privacy, *dpq holds the DP query
 * (and *plan is NULL). */
static dcr_status prepare(pv_ctx *x, size_t analyst, dcr_plan **plan, pv_thresholds *t,
                          dcr_dp_query **dpq)
{
    *plan = NULL;
    *dpq = NULL;
    dcr_status s = check_analyst(x, analyst);
    s = s ? s : pv_template_match(x);
    if (s != DCR_OK)
        return s;
    contract_catalog k;
    s = catalog_make(x->c, &k, x->err);
    s = s ? s : dcr_sql_compile(x->sql, &k.cat, plan, NULL, x->err);
    catalog_free(&k);
    if (s != DCR_OK)
        return s;
    if (!(x->used = calloc(x->c->ndatasets ? x->c->ndatasets : 1, sizeof *x->used)))
        s = dcr_fail(x->err, DCR_EINTERNAL, "out of memory");
    s = s ? s : pv_overlap_check(x, analyst, *plan, &x->overlap);
    if (s == DCR_OK && x->overlap) {
        x->report->protection = DCR_PROTECT_OVERLAP;
        return DCR_OK; /* the list/overlap rule instead of the aggregation rules */
    }
    s = s ? s : check_mode(x);
    s = s ? s : pv_policy_check(x, *plan);
    if (x->c->dp.enabled)
        s = s ? s : dp_prepare(x, plan, dpq);
    else
        s = s ? s : pv_threshold_rewrite(x, plan, t);
    if (s != DCR_OK) {
        dcr_plan_free(*plan);
        *plan = NULL;
    }
    return s;
}

static void ctx_free(pv_ctx *x)
{
    dcr_diff_free(x->diff);
    free(x->used);
    free(x->metric_aggs);
}

dcr_status dcr_guarded_plan(const dcr_contract *c, size_t analyst, const char *sql, dcr_plan **plan,
                            dcr_privacy_report *report, dcr_error *err)
{
    report_init(c, analyst, report);
    pv_ctx x = {.c = c, .sql = sql, .err = err, .report = report};
    pv_thresholds t = {0};
    dcr_dp_query *dpq = NULL;
    dcr_status s = prepare(&x, analyst, plan, &t, &dpq);
    if (s == DCR_OK && dpq) /* the DP plan below the noise: Bound, clamps, quantities */
        *plan = dcr_dp_take_lower(dpq);
    dcr_dp_query_free(dpq);
    report->aggregates = t.n;
    pv_thresholds_free(&t);
    ctx_free(&x);
    return s;
}

static dcr_status check_sources(pv_ctx *x, const dcr_exec_source *sources)
{
    for (size_t d = 0; d < x->c->ndatasets; d++)
        if (x->used[d] && (!sources || !sources[d].open))
            return refuse_plain(x, DCR_RULE_DATASET, "dataset \"%s\" is not available: %s",
                                x->c->datasets[d].name,
                                sources && sources[d].unavailable
                                    ? sources[d].unavailable
                                    : "it was not uploaded, or not given to this run");
    return DCR_OK;
}

/* rules.release_interval_ms (privacy.h; docs/privacy.md gives what is
 * left of the timing channel). */
void dcr_release_on_schedule(const struct timespec *arrived, int64_t interval_ms)
{
    struct timespec now;
    if (interval_ms <= 0 || clock_gettime(CLOCK_MONOTONIC, &now) != 0)
        return;
    int64_t step = interval_ms * 1000000;
    int64_t took =
        (int64_t)(now.tv_sec - arrived->tv_sec) * 1000000000 + (now.tv_nsec - arrived->tv_nsec);
    int64_t slots = took / step + 1; /* at least one whole interval */
    int64_t at = (int64_t)arrived->tv_nsec + slots * step;
    struct timespec until = {.tv_sec = arrived->tv_sec + (time_t)(at / 1000000000),
                             .tv_nsec = (long)(at % 1000000000)};
    /* absolute: a signal cannot make the answer leave early or drift */
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR)
        ;
}

dcr_status dcr_guarded_query(const dcr_contract *c, size_t analyst, const char *sql,
                             const dcr_exec_source *sources, const dcr_privacy_hooks *hooks,
                             const dcr_exec_opts *opts, dcr_result *out, dcr_privacy_report *report,
                             dcr_error *err)
{
    struct timespec arrived;
    bool timed = clock_gettime(CLOCK_MONOTONIC, &arrived) == 0;
    memset(out, 0, sizeof *out);
    report_init(c, analyst, report);
    pv_ctx x = {.c = c,
                .sql = sql,
                .err = err,
                .report = report,
                .templates = hooks ? hooks->templates : NULL};
    pv_thresholds t = {0};
    dcr_plan *plan = NULL;
    dcr_exec_opts dflt = {0};
    int loc = -1;
    dcr_dp_query *dpq = NULL;
    dcr_status s = DCR_OK;
    /* The differencing defence (threshold mode; DP is the principled
     * defence there): started before the rewrite, which adds its sketches. */
    if (hooks && hooks->history && !c->dp.enabled && analyst < c->nparties)
        s = dcr_diff_begin(c, hooks->history, &x.diff, err);
    s = s ? s : prepare(&x, analyst, &plan, &t, &dpq);
    s = s ? s : check_sources(&x, sources);
    if (s == DCR_OK && x.overlap) {
        s = pv_overlap_run(&x, &plan, sources, opts ? opts : &dflt, out, &loc);
        if (s != DCR_OK && loc >= 0)
            dcr_sql_locate(err, sql, loc);
    } else if (s == DCR_OK && dpq) {
        /* DP: charge first (before any data is read), then run. */
        const dcr_dp_cost *cost = dcr_dp_query_cost(dpq);
        report->epsilon = cost->charge_epsilon;
        report->delta = cost->charge_delta;
        if (hooks && hooks->charge)
            s = hooks->charge(hooks->ctx, c->parties[analyst].name, cost->charge_epsilon,
                              cost->charge_delta, err);
        dcr_dp_report rep = {0};
        s = s ? s
              : dcr_dp_execute(dpq, sources, c->ndatasets, opts ? opts : &dflt, out, &rep, &loc,
                               err);
        if (s != DCR_OK && loc >= 0)
            dcr_sql_locate(err, sql, loc);
        report->rows_suppressed = rep.groups_suppressed;
        report->k = rep.tau;
    } else if (s == DCR_OK) {
        s = pv_threshold_run(&x, &plan, &t, sources, opts ? opts : &dflt,
                             x.diff ? pv_release_guarded : pv_release_exact, NULL, out, &loc);
        if (s != DCR_OK && loc >= 0)
            dcr_sql_locate(err, sql, loc);
    }
    /* Released rows are recorded before the result can leave (fail closed). */
    if (s == DCR_OK && x.diff)
        s = dcr_diff_commit(x.diff, err);
    if (s == DCR_OK && !dpq && hooks && hooks->charge)
        s = hooks->charge(hooks->ctx, c->parties[analyst].name, report->epsilon, report->delta,
                          err);
    if (s == DCR_OK)
        report->rows_released = out->nrows;
    else
        dcr_result_free(out);
    dcr_plan_free(plan);
    dcr_dp_query_free(dpq);
    pv_thresholds_free(&t);
    ctx_free(&x);
    if (timed && !(hooks && hooks->caller_releases))
        dcr_release_on_schedule(&arrived, c->release_interval_ms);
    return s;
}

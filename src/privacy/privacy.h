/*
 * privacy.h: the clean room's privacy layer and its ONE guarded query entry
 * point, used by `dcr sql --contract --as` and by the server.
 *
 * dcr_guarded_query() runs one SQL query for an analyst under a contract:
 *
 *   parse + bind (sql/)                 the SQL against the contract's datasets
 *   -> policy check (privacy/policy.c)  column roles, joins, aggregates, output
 *                                       must be aggregated; refusals name the
 *                                       rule and the SQL position
 *   -> threshold rewrite (threshold.c)  hidden COUNT(DISTINCT privacy unit)
 *                                       per dataset instance on every
 *                                       aggregate, metrics clamped to bounds
 *   -> execute (exec/), aggregate by aggregate, bottom up: groups resting on
 *      fewer than k units of a dataset are dropped AT the aggregate, before
 *      HAVING, ORDER BY, LIMIT or an outer query can see them
 *   -> hooks->charge (durable budget + audit) -> the result.
 *
 * With differential privacy enabled in the contract, the threshold rewrite
 * is replaced by privacy/dp.h: the budget is charged after the checks and
 * BEFORE any data is read, then the bounded, noisy query runs (groups are
 * released above a noisy threshold that includes k); report.epsilon/delta
 * are what was charged.
 *
 * Refusals are DCR_EINPUT with err->msg = "SQL:LINE:COL: refused by rule
 * RULE: why" and report->rule = "RULE" (the rule names are listed below and
 * in docs/privacy.md). Messages never contain row data; they may point at
 * literals the analyst wrote.
 *
 * Ownership: the caller owns *out (dcr_result_free) and the report (plain
 * data; `receivers` points into the contract, valid while it lives).
 */
#ifndef DCR_PRIVACY_PRIVACY_H
#define DCR_PRIVACY_PRIVACY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "contract/contract.h"
#include "exec/exec.h"
#include "privacy/differencing.h"
#include "sql/plan.h"

struct dcr_templates;

/* Rule names, as they appear in refusals and in report.rule. */
#define DCR_RULE_ANALYST "analyst-role"            /* the party may not query */
#define DCR_RULE_DATASET "dataset-unavailable"     /* a dataset was not provided */
#define DCR_RULE_HIDDEN "hidden-column"            /* a hidden column is referenced */
#define DCR_RULE_ID "id-column"                    /* id/join column outside a join condition */
#define DCR_RULE_ID_LITERAL "id-literal"           /* id/join column compared to a literal */
#define DCR_RULE_METRIC "metric-column"            /* metric outside an allowed aggregate */
#define DCR_RULE_AGGREGATE "aggregate-not-allowed" /* aggregate not in the contract */
#define DCR_RULE_JOIN "join-not-allowed"           /* join not in the contract */
#define DCR_RULE_NOT_AGGREGATED "not-aggregated"   /* output rows are dataset rows */
#define DCR_RULE_RAW_LIMIT "limit-on-rows"         /* LIMIT/OFFSET over dataset rows */
#define DCR_RULE_ERROR_ORACLE "error-oracle"       /* may fail depending on one row's value */
#define DCR_RULE_DP "differential-privacy"         /* a query DP cannot answer (dp.h) */
#define DCR_RULE_TEMPLATE "template-parameter"     /* a template used with bad values */
#define DCR_RULE_FREE_FORM "free-form-sql"         /* own SQL where only templates are run */
#define DCR_RULE_MIN_MAX "min-max"                 /* MIN/MAX over rows: one person's value */
#define DCR_RULE_BUDGET "budget"                   /* the analyst's DP budget is spent */

/* What protected an answer (report.protection), from strongest to weakest. */
#define DCR_PROTECT_DP "differential-privacy"
#define DCR_PROTECT_TEMPLATE "threshold-template"          /* a template approved by all parties */
#define DCR_PROTECT_OVERLAP "overlap"                      /* the contract's list/overlap rule */
#define DCR_PROTECT_FREE_FORM "threshold-free-form-unsafe" /* the parties' opt-in */

/* Callbacks the caller provides; any may be NULL. ctx is passed to each. */
typedef struct {
    /* Charges (epsilon, delta) to party `analyst` atomically and durably
     * before the result is returned; DCR_EINPUT with the remaining budget
     * in err->msg when it would overspend. Called exactly once per query
     * that is about to return a result, with (0, 0) in threshold-only mode
     * so the caller can audit every release in the same transaction. */
    dcr_status (*charge)(void *ctx, const char *analyst, double epsilon, double delta,
                         dcr_error *err);
    void *ctx;
    /* The released-row history for the differencing defence (threshold
     * mode): NULL turns the defence off (docs/privacy.md). */
    const dcr_diff_history *history;
    /* The contract's templates loaded once (dcr_templates_load, template.h),
     * e.g. at server start; NULL: each query loads them itself. */
    const struct dcr_templates *templates;
    /* The caller holds the answer to rules.release_interval_ms itself
     * (dcr_release_on_schedule), e.g. after giving back a lock other
     * queries wait on; false: dcr_guarded_query waits before returning. */
    bool caller_releases;
} dcr_privacy_hooks;

struct timespec;
/* Waits until the next multiple of interval_ms (> 0) since `arrived`
 * (CLOCK_MONOTONIC), at least one whole interval: how long a query took,
 * which can depend on one person's rows, shows only as the schedule. */
void dcr_release_on_schedule(const struct timespec *arrived, int64_t interval_ms);

typedef struct {
    char rule[40];          /* the rule that refused the query, "" when none did */
    const char *protection; /* DCR_PROTECT_*, NULL until the query is accepted */
    int64_t k;              /* the threshold used (max min_units of the datasets read) */
    size_t rows_released;   /* output rows returned */
    /* WITHHELD. Exact functions of the suppressed groups, hence of the
     * people in them: for tests and the engine's own checks only. Never
     * put them in an answer, an audit record, a log or a message
     * (docs/privacy.md, "Nothing about suppressed rows"). */
    size_t rows_suppressed;               /* output-level groups dropped for resting on < k units */
    size_t rows_differencing;             /* of those, dropped by the differencing defence */
    size_t inner_suppressed;              /* groups of inner (nested) aggregates dropped */
    size_t aggregates;                    /* aggregates thresholded */
    double epsilon, delta;                /* charged to the analyst (0 without DP) */
    char template_name[DCR_NAME_MAX + 1]; /* "" unless a template matched (templates helper) */
    size_t nreceivers;                    /* who receives the result: party indexes */
    const size_t *receivers;              /* points into the contract */
} dcr_privacy_report;

/* Runs sql for party `analyst` (an index into c->parties) under contract c.
 * sources[i] serves contract dataset i (c->ndatasets entries); an entry with
 * open == NULL is a dataset that is not available (a query reading it is
 * refused). opts may be NULL. On DCR_OK *out holds only released rows;
 * report is filled on every path (rule set on refusals). */
dcr_status dcr_guarded_query(const dcr_contract *c, size_t analyst, const char *sql,
                             const dcr_exec_source *sources, const dcr_privacy_hooks *hooks,
                             const dcr_exec_opts *opts, dcr_result *out, dcr_privacy_report *report,
                             dcr_error *err);

/* The checks and rewrite without execution (EXPLAIN, tests, template
 * vetting): on DCR_OK *plan is the rewritten plan (caller frees) whose
 * thresholded aggregates carry their hidden unit counts. */
dcr_status dcr_guarded_plan(const dcr_contract *c, size_t analyst, const char *sql, dcr_plan **plan,
                            dcr_privacy_report *report, dcr_error *err);

#endif

/*
 * template.h: the contract's query templates (rules.templates), the queries
 * every party approved in advance, with typed, range-checked parameters.
 *
 * At contract load every template's SQL is parsed, its $1..$n checked
 * against the declared parameters and fingerprinted with libpg_query; the
 * privacy layer then binds and checks each once with sample values
 * (dcr_template_sample_sql) so a template that cannot run is refused when
 * the contract is loaded, not when used.
 *
 * An analyst uses a template in one of two ways:
 *   - by name with parameter values as text (dcr_template_instantiate): the
 *     values are type- and range-checked, then written into the template's
 *     SQL as literals, giving ordinary SQL that runs like any other;
 *   - by sending SQL that is the template with each $n written as a literal
 *     (dcr_template_match_sql): the fingerprint finds the candidate, the
 *     parse trees must then be identical (sql/shape.h), and the literals in
 *     the $n places become the parameters, checked the same way.
 * A type or range error is a refusal naming the template, the parameter,
 * the expected type and range, and where it is (SQL position, or "value N"
 * for the by-name form); values are never echoed.
 *
 * Which rules a matched template relaxes is decided by the privacy layer
 * (docs/privacy.md, "Templates"): the template is the approval of its own
 * aggregates and joins, nothing more.
 */
#ifndef DCR_PRIVACY_TEMPLATE_H
#define DCR_PRIVACY_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "contract/contract.h"
#include "privacy/privacy.h"
#include "sql/shape.h"

/* The compiled templates of one contract. The contract must outlive it.
 * Read-only once loaded, so one copy serves concurrent queries. */
typedef struct dcr_templates {
    const dcr_contract *contract;
    size_t n;               /* == contract->ntemplates */
    dcr_sql_shape **shapes; /* owned, one per contract template */
} dcr_templates;

/* The outcome of matching a statement against the templates. */
typedef struct {
    bool matched;
    size_t index;   /* contract template index when matched */
    size_t nvalues; /* == that template's nparams */
    char **values;  /* owned, in parameter order: each checked value in its
                       canonical text form (for the report and the audit) */
    /* Not matched although a template has the same fingerprint: which one
     * and the first structural difference (for the caller's report). */
    char near_miss[320];
} dcr_template_match;

/* Compiles c's templates. DCR_EINPUT names the broken template and why. */
dcr_status dcr_templates_load(const dcr_contract *c, dcr_templates *out, dcr_error *err);
void dcr_templates_free(dcr_templates *t);

/* Matches sql. DCR_OK: m says whether (and which) template it is.
 * DCR_EINPUT: sql does not parse, or it is a template whose parameter
 * values are of the wrong type or out of range (a refusal). */
dcr_status dcr_template_match_sql(const dcr_templates *t, const char *sql, dcr_template_match *m,
                                  dcr_error *err);

/* Builds the SQL for template `name` with the given values (text in the
 * CSV value syntax: 42, 1.5, true, 2024-01-31, 2024-01-31 12:00:00, any
 * text). *sql_out (caller frees) is the statement to run; m is filled as by
 * dcr_template_match_sql. DCR_EINPUT: unknown template, wrong number of
 * values, a value of the wrong type or out of range. */
dcr_status dcr_template_instantiate(const dcr_templates *t, const char *name,
                                    const char *const *values, size_t nvalues, char **sql_out,
                                    dcr_template_match *m, dcr_error *err);

void dcr_template_match_free(dcr_template_match *m);

/* Template i with sample values (each parameter's min, else max, else 0 /
 * false / '' / 1970-01-01) in *sql_out (caller frees): what the privacy
 * layer binds and checks once at load, so a template that cannot run under
 * the contract is found before anyone uses it. */
dcr_status dcr_template_sample_sql(const dcr_templates *t, size_t i, char **sql_out,
                                   dcr_error *err);

/* Runs template `name` with the given values (as dcr_template_instantiate)
 * through dcr_guarded_query: the by-name way for an analyst to use a
 * template. A bad name, count or value is refused with report->rule
 * "template-parameter". */
dcr_status dcr_guarded_template(const dcr_contract *c, size_t analyst, const char *name,
                                const char *const *values, size_t nvalues,
                                const dcr_exec_source *sources, const dcr_privacy_hooks *hooks,
                                const dcr_exec_opts *opts, dcr_result *out,
                                dcr_privacy_report *report, dcr_error *err);

#endif

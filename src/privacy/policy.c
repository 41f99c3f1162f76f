/*
 * policy.c: checks a bound logical plan against the contract's column
 * roles and analysis rules, before anything runs.
 *
 * The plan is walked bottom up. Every operator's output columns get a
 * provenance: the strictest contract role of the columns they derive from
 * (hidden > id > join > metric > dimension > released > constant), and,
 * for a column passed through unchanged, the dataset column it is. So a
 * column renamed in a subquery, a WITH query or a UNION ALL keeps its role
 * (`WITH t AS (SELECT email AS x FROM a) SELECT x FROM t` is refused like
 * `SELECT email FROM a`). Every relation also says what its rows are:
 * dataset rows (RAW), groups of an aggregate (AGG, thresholded later, so
 * their columns are "released") or constants (no dataset at all).
 *
 * Rules (docs/privacy.md has the table):
 *   hidden-column   a hidden column is referenced anywhere
 *   id-column       an id or join column anywhere but as a join key (or the
 *                   argument of an aggregate the contract lists for it)
 *   id-literal      the same, compared with a literal
 *   metric-column   a metric outside an aggregate argument (filter, group,
 *                   sort, output, expression feeding an aggregate)
 *   aggregate-not-allowed  an aggregate over dataset rows whose argument is
 *                   not a column listed with that function in the contract
 *   join-not-allowed  join keys that are not a pair listed in the contract
 *   limit-on-rows   LIMIT/OFFSET over dataset rows (a row-picking probe)
 *   error-oracle    division or modulo by a non-constant, or a cast from
 *                   TEXT, over dataset rows: whether the query fails
 *                   would depend on one row's value
 *   not-aggregated  output rows that are dataset rows
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "privacy/internal.h"
#include "sql/sql.h"

typedef enum {
    R_CONST,
    R_RELEASED,
    R_DIMENSION,
    R_METRIC,
    R_JOIN,
    R_ID,
    R_HIDDEN,
} prole;

typedef struct {
    prole role;
    bool has_src; /* passed through unchanged from a dataset column */
    dcr_colref src;
    int loc;
} pcol;

typedef enum { K_CONST, K_RAW, K_AGG } pkind;

typedef struct {
    pkind kind;
    size_t ncols;
    pcol *cols;
} prel;

/* Where an expression is used: decides what its columns may be. */
typedef enum {
    USE_DERIVE, /* select list / projection: computes a new column */
    USE_FILTER, /* WHERE, ON residual, HAVING */
    USE_GROUP,  /* GROUP BY key */
    USE_ARG,    /* inside an aggregate over released rows */
} puse;

dcr_status pv_refuse(pv_ctx *x, const char *rule, int location, const char *fmt, ...)
{
    char pos[64], why[DCR_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    dcr_sql_position(x->sql, location, pos, sizeof pos);
    snprintf(x->report->rule, sizeof x->report->rule, "%s", rule);
    return dcr_fail(x->err, DCR_EINPUT, "%s: refused by rule %s: %s", pos, rule, why);
}

static dcr_status oom(pv_ctx *x)
{
    return dcr_fail(x->err, DCR_EINTERNAL, "out of memory");
}

static void rel_free(prel *r)
{
    free(r->cols);
    r->cols = NULL;
    r->ncols = 0;
}

static dcr_status rel_alloc(pv_ctx *x, prel *r, size_t n, pkind kind)
{
    r->kind = kind;
    r->ncols = n;
    r->cols = calloc(n ? n : 1, sizeof *r->cols);
    return r->cols ? DCR_OK : oom(x);
}

/* "dataset.column" of a column with a source, for messages. */
static void col_name(const pv_ctx *x, const pcol *c, const char *label, char *out, size_t n)
{
    if (c->has_src) {
        const dcr_contract_dataset *d = &x->c->datasets[c->src.dataset];
        snprintf(out, n, "%s.%s", d->name, d->cols[c->src.column].name);
    } else
        snprintf(out, n, "%s", label ? label : "?");
}

static const char *role_word(prole r)
{
    switch (r) {
    case R_HIDDEN:
        return "hidden";
    case R_ID:
        return "id";
    case R_JOIN:
        return "join";
    case R_METRIC:
        return "metric";
    default:
        return "dimension";
    }
}

/* Refuses column c (referenced by e) in a context where its role is not
 * allowed; `literal` when it is compared with a constant. */
static dcr_status refuse_col(pv_ctx *x, const pcol *c, const dcr_expr *e, const char *where,
                             bool literal)
{
    char nm[2 * DCR_NAME_MAX + 4];
    col_name(x, c, e ? e->label : NULL, nm, sizeof nm);
    int loc = e && e->location >= 0 ? e->location : c->loc;
    if (c->role == R_HIDDEN)
        return pv_refuse(x, DCR_RULE_HIDDEN, loc,
                         "column %s is hidden by the contract and cannot be used in a query", nm);
    if (c->role == R_ID || c->role == R_JOIN) {
        if (literal)
            return pv_refuse(x, DCR_RULE_ID_LITERAL, loc,
                             "column %s has role %s: it may not be compared with a literal", nm,
                             role_word(c->role));
        return pv_refuse(x, DCR_RULE_ID, loc,
                         "column %s has role %s: it may only be used in a join condition "
                         "listed in the contract, not %s",
                         nm, role_word(c->role), where);
    }
    return pv_refuse(x, DCR_RULE_METRIC, loc,
                     "column %s has role metric: it may only be aggregated (with an aggregate "
                     "the contract allows), not used %s",
                     nm, where);
}

static bool is_const(const dcr_expr *e)
{
    if (e->kind == DCR_EXPR_CONST)
        return true;
    if (e->kind == DCR_EXPR_CAST || e->kind == DCR_EXPR_NEG)
        return e->nargs == 1 && is_const(e->args[0]);
    return false;
}

static const char *use_word(puse use)
{
    switch (use) {
    case USE_FILTER:
        return "in a filter (WHERE, ON or HAVING)";
    case USE_GROUP:
        return "as a GROUP BY key";
    case USE_ARG:
        return "in an aggregate";
    default:
        return "in an expression";
    }
}

static bool reads_rows(const dcr_expr *e)
{
    if (e->kind == DCR_EXPR_COLUMN)
        return true;
    for (size_t i = 0; i < e->nargs; i++)
        if (reads_rows(e->args[i]))
            return true;
    return false;
}

static bool is_fixed(const dcr_expr *e)
{
    return !reads_rows(e);
}

/* Whether date/timestamp/interval arithmetic moves its value by an amount
 * that does not depend on the rows: the days of DATE +/- BIGINT, the
 * interval of TIMESTAMP +/- INTERVAL, the factor of INTERVAL * or / a
 * number, one side of INTERVAL +/- INTERVAL. *applies is false when e is
 * not such arithmetic or cannot fail (DATE - DATE, TIMESTAMP - TIMESTAMP). */
static bool amount_is_const(const dcr_expr *e, bool *applies)
{
    const dcr_expr *a = e->args[0], *b = e->args[1];
    bool at = a->type == DCR_TYPE_DATE || a->type == DCR_TYPE_TIMESTAMP,
         bt = b->type == DCR_TYPE_DATE || b->type == DCR_TYPE_TIMESTAMP;
    bool ai = a->type == DCR_TYPE_INTERVAL, bi = b->type == DCR_TYPE_INTERVAL;
    *applies = (at || bt || ai || bi) && !(at && bt);
    if (!*applies)
        return true;
    if (ai && bi)
        return is_fixed(a) || is_fixed(b);
    if (at || bt) /* the other side is the amount (BIGINT days or INTERVAL) */
        return is_fixed(at ? b : a);
    return is_fixed(ai ? b : a); /* the number scaling an interval */
}

#define DCR_GUARDED_TEXT_LITERAL_MAX 1024

/* Expressions over dataset rows that can fail on one row's value would let
 * a query's success tell whether such a row exists. */
static dcr_status check_oracle(pv_ctx *x, const dcr_expr *e, pkind kind)
{
    if (kind != K_RAW)
        return DCR_OK;
    bool dated = false;
    if (e->kind == DCR_EXPR_ARITH && e->nargs == 2 && !amount_is_const(e, &dated) && dated)
        return pv_refuse(x, DCR_RULE_ERROR_ORACLE, e->location,
                         "date/time arithmetic by an amount computed from dataset rows could "
                         "fail (out of range) on one row's value; move dates and intervals by "
                         "constants");
    if (e->kind == DCR_EXPR_ARITH && (e->op == DCR_OP_DIV || e->op == DCR_OP_MOD)) {
        const dcr_expr *d = e->args[1];
        bool nonzero_const = d->kind == DCR_EXPR_CONST && !d->value.null &&
                             ((d->type == DCR_TYPE_BIGINT && d->value.i64 != 0) ||
                              (d->type == DCR_TYPE_DOUBLE && d->value.f64 != 0));
        if (!nonzero_const)
            return pv_refuse(x, DCR_RULE_ERROR_ORACLE, e->location,
                             "%s by an expression over dataset rows could fail on one row's "
                             "value; divide after aggregating, or by a non-zero constant",
                             e->op == DCR_OP_DIV ? "division" : "modulo");
    }
    if (e->kind == DCR_EXPR_CAST && e->nargs == 1 && e->args[0]->type == DCR_TYPE_TEXT &&
        e->type != DCR_TYPE_TEXT && !is_const(e->args[0]))
        return pv_refuse(x, DCR_RULE_ERROR_ORACLE, e->location,
                         "a cast from TEXT over dataset rows could fail on one row's value");
    return DCR_OK;
}

/* Provenance of expression e over input relation in, used as `use`.
 * Columns of role id/join/metric/hidden are refused wherever they would
 * be used rather than passed through. */
static dcr_status expr_prov(pv_ctx *x, const dcr_expr *e, const prel *in, puse use, pcol *out)
{
    memset(out, 0, sizeof *out);
    out->loc = e->location;
    if (e->kind == DCR_EXPR_COLUMN) {
        if (e->col >= in->ncols)
            return dcr_fail(x->err, DCR_EINTERNAL, "plan column %zu out of range", e->col);
        *out = in->cols[e->col];
        if (e->location >= 0)
            out->loc = e->location;
        if (out->role == R_HIDDEN)
            return refuse_col(x, out, e, "", false);
        /* A bare column in a projection is passed on with its role. */
        bool restricted = use != USE_DERIVE && out->role >= R_METRIC;
        return restricted ? refuse_col(x, out, e, use_word(use), false) : DCR_OK;
    }
    if (e->kind == DCR_EXPR_CONST) {
        out->role = R_CONST;
        /* A text constant is laid out once per row of a batch, and a scan's
         * batch is a sealed chunk: past 4 GiB per batch the query fails, so
         * a long literal would make failure depend on one row more or
         * less. 1 KiB x the largest chunk (1 Mi rows) stays far below. */
        if (in->kind == K_RAW && e->type == DCR_TYPE_TEXT && !e->value.null &&
            e->value.len > DCR_GUARDED_TEXT_LITERAL_MAX)
            return pv_refuse(x, DCR_RULE_ERROR_ORACLE, e->location,
                             "a text literal of %zu bytes over dataset rows; guarded queries "
                             "take literals of at most %d bytes (a longer one, repeated for "
                             "every row, could make the query fail depending on one row)",
                             (size_t)e->value.len, DCR_GUARDED_TEXT_LITERAL_MAX);
        return DCR_OK;
    }
    if (e->kind == DCR_EXPR_AGG)
        return dcr_fail(x->err, DCR_EINTERNAL, "aggregate outside an Aggregate operator");
    dcr_status s = check_oracle(x, e, in->kind);
    bool compares = e->kind == DCR_EXPR_CMP || e->kind == DCR_EXPR_IN;
    bool with_literal = false;
    for (size_t i = 0; compares && i < e->nargs; i++)
        with_literal = with_literal || is_const(e->args[i]);
    out->role = R_CONST;
    for (size_t i = 0; s == DCR_OK && i < e->nargs; i++) {
        const dcr_expr *a = e->args[i];
        pcol pa;
        if (a->kind == DCR_EXPR_COLUMN && a->col < in->ncols) {
            /* A column inside an expression is used, not passed through. */
            pa = in->cols[a->col];
            if (pa.role >= R_JOIN)
                return refuse_col(x, &pa, a,
                                  use == USE_DERIVE ? "inside an expression or function"
                                                    : use_word(use),
                                  with_literal);
        }
        s = expr_prov(x, a, in, use, &pa);
        if (s == DCR_OK && pa.role > out->role)
            out->role = pa.role;
    }
    return s;
}

/* ---- operators ---- */

static dcr_status walk(pv_ctx *x, const dcr_plan *p, prel *out);

static dcr_status scan_prov(pv_ctx *x, const dcr_plan *p, prel *out)
{
    const dcr_contract *c = x->c;
    if (p->dataset >= c->ndatasets)
        return dcr_fail(x->err, DCR_EINTERNAL, "scan of dataset %zu out of range", p->dataset);
    const dcr_contract_dataset *d = &c->datasets[p->dataset];
    x->used[p->dataset] = true;
    dcr_status s = rel_alloc(x, out, p->ncols, K_RAW);
    for (size_t i = 0; s == DCR_OK && i < p->ncols; i++) {
        size_t col = p->scan_cols[i];
        if (col >= d->ncols)
            return dcr_fail(x->err, DCR_EINTERNAL, "scan column out of range");
        pcol *o = &out->cols[i];
        o->has_src = true;
        o->src = (dcr_colref){p->dataset, col};
        o->loc = -1;
        switch (d->cols[col].role) {
        case DCR_COL_ID:
            o->role = R_ID;
            break;
        case DCR_COL_JOIN:
            o->role = R_JOIN;
            break;
        case DCR_COL_METRIC:
            o->role = R_METRIC;
            break;
        case DCR_COL_HIDDEN:
            o->role = R_HIDDEN;
            break;
        default:
            o->role = R_DIMENSION;
        }
    }
    return s;
}

static bool join_listed(const dcr_contract *c, dcr_colref a, dcr_colref b)
{
    for (size_t i = 0; i < c->njoins; i++) {
        const dcr_contract_join *j = &c->joins[i];
        bool ab = j->left.dataset == a.dataset && j->left.column == a.column &&
                  j->right.dataset == b.dataset && j->right.column == b.column;
        bool ba = j->left.dataset == b.dataset && j->left.column == b.column &&
                  j->right.dataset == a.dataset && j->right.column == a.column;
        if (ab || ba)
            return true;
    }
    return false;
}

static dcr_status key_col(pv_ctx *x, const dcr_expr *k, const prel *side, const pcol **out)
{
    *out = NULL;
    if (k->kind != DCR_EXPR_COLUMN) {
        pcol tmp;
        /* Refuses an id inside the expression first (the sharper rule). */
        dcr_status s = expr_prov(x, k, side, USE_FILTER, &tmp);
        return s ? s
                 : pv_refuse(x, DCR_RULE_JOIN, k->location,
                             "join keys must be columns paired in rules.aggregation.joins, not "
                             "expressions");
    }
    if (k->col >= side->ncols)
        return dcr_fail(x->err, DCR_EINTERNAL, "join key out of range");
    const pcol *c = &side->cols[k->col];
    if (c->role == R_HIDDEN)
        return refuse_col(x, c, k, "", false);
    *out = c;
    return DCR_OK;
}

static dcr_status join_prov(pv_ctx *x, const dcr_plan *p, const prel *l, const prel *r, prel *out)
{
    for (size_t i = 0; i < p->nkeys; i++) {
        const pcol *a, *b;
        dcr_status s = key_col(x, p->left_keys[i], l, &a);
        s = s ? s : key_col(x, p->right_keys[i], r, &b);
        if (s != DCR_OK)
            return s;
        int loc = p->left_keys[i]->location;
        if (!a->has_src || !b->has_src ||
            (!join_listed(x->c, a->src, b->src) && !x->template_approved)) {
            char na[2 * DCR_NAME_MAX + 4], nb[2 * DCR_NAME_MAX + 4];
            col_name(x, a, p->left_keys[i]->label, na, sizeof na);
            col_name(x, b, p->right_keys[i]->label, nb, sizeof nb);
            return pv_refuse(x, DCR_RULE_JOIN, loc,
                             "the join %s = %s is not listed in rules.aggregation.joins", na, nb);
        }
    }
    if (l->kind != K_RAW || r->kind != K_RAW)
        return pv_refuse(x, DCR_RULE_JOIN, p->nkeys ? p->left_keys[0]->location : -1,
                         "only dataset rows can be joined, not aggregated results");
    dcr_status s = rel_alloc(x, out, l->ncols + r->ncols, K_RAW);
    if (s != DCR_OK)
        return s;
    memcpy(out->cols, l->cols, l->ncols * sizeof *l->cols);
    memcpy(out->cols + l->ncols, r->cols, r->ncols * sizeof *r->cols);
    if (p->pred) {
        pcol tmp;
        s = expr_prov(x, p->pred, out, USE_FILTER, &tmp);
    }
    return s;
}

/* The contract's function bit for an aggregate, 0 when it has none. */
static unsigned agg_bit(const dcr_expr *a)
{
    switch (a->agg) {
    case DCR_AGG_COUNT:
        return a->distinct ? DCR_AGGFN_COUNT_DISTINCT : DCR_AGGFN_COUNT;
    case DCR_AGG_SUM:
        return a->distinct ? 0 : DCR_AGGFN_SUM;
    case DCR_AGG_AVG:
        return a->distinct ? 0 : DCR_AGGFN_AVG;
    case DCR_AGG_MIN:
        return DCR_AGGFN_MIN;
    case DCR_AGG_MAX:
        return DCR_AGGFN_MAX;
    default:
        return 0;
    }
}

static unsigned allowed_funcs(const dcr_contract *c, dcr_colref col)
{
    for (size_t i = 0; i < c->naggregates; i++)
        if (c->aggregates[i].col.dataset == col.dataset &&
            c->aggregates[i].col.column == col.column)
            return c->aggregates[i].funcs;
    return 0;
}

static dcr_status check_agg(pv_ctx *x, const dcr_expr *a, const prel *in)
{
    if (a->kind != DCR_EXPR_AGG)
        return dcr_fail(x->err, DCR_EINTERNAL, "non-aggregate in aggregate list");
    if (a->agg == DCR_AGG_COUNT_STAR || a->nargs == 0)
        return DCR_OK;
    const dcr_expr *arg = a->args[0];
    pcol pa;
    if (in->kind != K_RAW)
        return expr_prov(x, arg, in, USE_ARG, &pa);
    if (arg->kind != DCR_EXPR_COLUMN) {
        dcr_status s = expr_prov(x, arg, in, USE_DERIVE, &pa);
        if (s != DCR_OK || pa.role <= R_RELEASED)
            return s; /* over constants or released values only */
        return pv_refuse(x, DCR_RULE_AGGREGATE, arg->location,
                         "an aggregate over dataset rows takes a column listed in "
                         "rules.aggregation.aggregates, not an expression");
    }
    if (arg->col >= in->ncols)
        return dcr_fail(x->err, DCR_EINTERNAL, "aggregate column out of range");
    pa = in->cols[arg->col];
    if (pa.role == R_HIDDEN)
        return refuse_col(x, &pa, arg, "", false);
    if (pa.role <= R_RELEASED)
        return DCR_OK;
    char nm[2 * DCR_NAME_MAX + 4];
    col_name(x, &pa, arg->label, nm, sizeof nm);
    unsigned bit = agg_bit(a);
    const char *fname = bit ? dcr_agg_name(bit) : a->distinct ? "DISTINCT aggregate" : "?";
    if ((a->agg == DCR_AGG_MIN || a->agg == DCR_AGG_MAX) && !x->c->dp.enabled &&
        !x->c->unsafe_min_max)
        return pv_refuse(x, DCR_RULE_MIN_MAX, a->location,
                         "%s(%s) over rows would release one person's exact value (the smallest "
                         "or largest), however many people the group has; the contract allows "
                         "it only with rules.aggregation.unsafe_min_max_reveal_one_value",
                         a->agg == DCR_AGG_MIN ? "MIN" : "MAX", nm);
    if (!pa.has_src)
        return pv_refuse(x, DCR_RULE_AGGREGATE, arg->location,
                         "column %s is computed from %s columns; aggregates over dataset rows "
                         "take a column listed in rules.aggregation.aggregates",
                         nm, role_word(pa.role));
    if ((!bit || !(allowed_funcs(x->c, pa.src) & bit)) && !x->template_approved)
        return pv_refuse(x, DCR_RULE_AGGREGATE, a->location,
                         "%s(%s) is not allowed by rules.aggregation.aggregates", fname, nm);
    if (pa.role != R_METRIC)
        return DCR_OK;
    if (x->nmetric == x->metric_cap) {
        size_t cap = x->metric_cap ? 2 * x->metric_cap : 8;
        struct pv_metric_agg *m = realloc(x->metric_aggs, cap * sizeof *m);
        if (!m)
            return oom(x);
        x->metric_aggs = m;
        x->metric_cap = cap;
    }
    x->metric_aggs[x->nmetric++] = (struct pv_metric_agg){a, pa.src};
    return DCR_OK;
}

static dcr_status aggregate_prov(pv_ctx *x, const dcr_plan *p, const prel *in, prel *out)
{
    dcr_status s = DCR_OK;
    for (size_t i = 0; s == DCR_OK && i < p->ngroups; i++) {
        pcol g;
        s = expr_prov(x, p->exprs[i], in, USE_GROUP, &g);
    }
    for (size_t i = 0; s == DCR_OK && i < p->naggs; i++)
        s = check_agg(x, p->exprs[p->ngroups + i], in);
    s = s ? s : rel_alloc(x, out, p->ngroups + p->naggs, K_AGG);
    for (size_t i = 0; s == DCR_OK && i < out->ncols; i++) {
        out->cols[i].role = R_RELEASED;
        out->cols[i].loc = p->exprs[i]->location;
    }
    return s;
}

static dcr_status project_prov(pv_ctx *x, const dcr_plan *p, const prel *in, prel *out)
{
    dcr_status s = rel_alloc(x, out, p->ncols, in->kind);
    for (size_t i = 0; s == DCR_OK && i < p->ncols; i++)
        s = expr_prov(x, p->exprs[i], in, USE_DERIVE, &out->cols[i]);
    return s;
}

static dcr_status copy_rel(pv_ctx *x, const prel *in, prel *out)
{
    dcr_status s = rel_alloc(x, out, in->ncols, in->kind);
    if (s == DCR_OK)
        memcpy(out->cols, in->cols, in->ncols * sizeof *in->cols);
    return s;
}

static dcr_status sort_prov(pv_ctx *x, const dcr_plan *p, const prel *in, prel *out)
{
    for (size_t i = 0; in->kind == K_RAW && i < p->nsort; i++) {
        if (p->sort[i].col >= in->ncols)
            return dcr_fail(x->err, DCR_EINTERNAL, "sort key out of range");
        const pcol *c = &in->cols[p->sort[i].col];
        if (c->role >= R_METRIC)
            return refuse_col(x, c, NULL, "as an ORDER BY key over dataset rows", false);
    }
    return copy_rel(x, in, out);
}

static dcr_status union_prov(pv_ctx *x, const prel *a, const prel *b, prel *out)
{
    if (a->ncols != b->ncols)
        return dcr_fail(x->err, DCR_EINTERNAL, "UNION ALL sides differ");
    pkind k = a->kind == K_RAW || b->kind == K_RAW   ? K_RAW
              : a->kind == K_AGG || b->kind == K_AGG ? K_AGG
                                                     : K_CONST;
    dcr_status s = rel_alloc(x, out, a->ncols, k);
    for (size_t i = 0; s == DCR_OK && i < a->ncols; i++) {
        const pcol *ca = &a->cols[i], *cb = &b->cols[i];
        pcol *o = &out->cols[i];
        *o = ca->role >= cb->role ? *ca : *cb;
        o->has_src = ca->has_src && cb->has_src && ca->src.dataset == cb->src.dataset &&
                     ca->src.column == cb->src.column;
    }
    return s;
}

static dcr_status walk(pv_ctx *x, const dcr_plan *p, prel *out)
{
    memset(out, 0, sizeof *out);
    if (p->kind == DCR_PLAN_SCAN)
        return scan_prov(x, p, out);
    if (p->kind == DCR_PLAN_VALUES)
        return rel_alloc(x, out, p->ncols, K_CONST);
    prel in[2];
    memset(in, 0, sizeof in);
    dcr_status s = DCR_OK;
    for (int i = 0; s == DCR_OK && i < 2; i++)
        if (p->child[i])
            s = walk(x, p->child[i], &in[i]);
    if (s == DCR_OK && !p->child[0])
        s = dcr_fail(x->err, DCR_EINTERNAL, "operator without input");
    if (s != DCR_OK)
        goto done;
    switch (p->kind) {
    case DCR_PLAN_FILTER: {
        pcol tmp;
        s = expr_prov(x, p->pred, &in[0], USE_FILTER, &tmp);
        s = s ? s : copy_rel(x, &in[0], out);
        break;
    }
    case DCR_PLAN_JOIN:
        s = in[1].cols ? join_prov(x, p, &in[0], &in[1], out)
                       : dcr_fail(x->err, DCR_EINTERNAL, "join without right side");
        break;
    case DCR_PLAN_AGGREGATE:
        s = aggregate_prov(x, p, &in[0], out);
        break;
    case DCR_PLAN_PROJECT:
        s = project_prov(x, p, &in[0], out);
        break;
    case DCR_PLAN_SORT:
        s = sort_prov(x, p, &in[0], out);
        break;
    case DCR_PLAN_LIMIT:
        if (in[0].kind == K_RAW && (p->limit >= 0 || p->offset > 0))
            s = pv_refuse(x, DCR_RULE_RAW_LIMIT, -1,
                          "LIMIT/OFFSET over dataset rows picks individual rows; it is allowed "
                          "only over aggregated results");
        s = s ? s : copy_rel(x, &in[0], out);
        break;
    case DCR_PLAN_UNION_ALL:
        s = in[1].cols ? union_prov(x, &in[0], &in[1], out)
                       : dcr_fail(x->err, DCR_EINTERNAL, "union without right side");
        break;
    default:
        s = dcr_fail(x->err, DCR_EINTERNAL, "unknown plan operator");
    }
done:
    rel_free(&in[0]);
    rel_free(&in[1]);
    if (s != DCR_OK)
        rel_free(out);
    return s;
}

dcr_status pv_policy_check(pv_ctx *x, const dcr_plan *plan)
{
    prel top;
    dcr_status s = walk(x, plan, &top);
    if (s != DCR_OK)
        return s;
    for (size_t i = 0; s == DCR_OK && i < top.ncols; i++)
        if (top.cols[i].role > R_DIMENSION)
            s = refuse_col(x, &top.cols[i], NULL, "in the output", false);
    if (s == DCR_OK && top.kind == K_RAW) {
        int loc = -1;
        for (size_t i = 0; loc < 0 && i < top.ncols; i++)
            loc = top.cols[i].loc;
        s = pv_refuse(x, DCR_RULE_NOT_AGGREGATED, loc,
                      "the output rows are dataset rows; every output row must be a group of "
                      "an aggregate (GROUP BY, COUNT, SUM, ...) so the threshold can apply");
    }
    rel_free(&top);
    int64_t k = 0;
    for (size_t d = 0; d < x->c->ndatasets; d++)
        if (x->used[d] && x->c->datasets[d].min_units > k)
            k = x->c->datasets[d].min_units;
    if (x->c->min_units > k)
        k = x->c->min_units;
    x->report->k = k;
    return s;
}

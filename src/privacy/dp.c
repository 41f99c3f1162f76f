/*
 * dp.c: the differential-privacy rewrite, noise and thresholds of dp.h.
 *
 * Terms used below. A "quantity" is one integer the lower plan computes per
 * group and that gets noise: a row count, a count of (distinct) values, a
 * sum of clamped metric values on a grid, or the count of distinct privacy
 * units that decides whether a group is released. Its sensitivity is how
 * much one privacy unit can change it in one group (after bounding: at most
 * N rows there); a unit is in at most M groups (1 without GROUP BY).
 *
 * Budget split: the query's epsilon (pure DP) or rho (zCDP) is divided
 * equally among its Q quantities. Pure DP: quantity i gets discrete
 * Laplace noise of scale M * sens_i / (epsilon / Q) (its L1 sensitivity
 * over the M groups over its share). zCDP: discrete Gaussian noise with
 * sigma_i^2 = M * sens_i^2 / (2 rho / Q) (its squared L2 sensitivity), which
 * is (rho / Q)-zCDP (Canonne, Kamath, Steinke 2020, Theorem 14 via the
 * L2 sensitivity over groups); the shares add up to rho.
 *
 * Sums use a grid: each clamped value v becomes round(v / g) with g a
 * power of two chosen so the noise is about 2^24 grid steps (never finer
 * than 1 for BIGINT columns, never coarser than bound / 16); the noisy sum
 * is g * (sum + noise). Adding integer noise to a value that is not on the
 * grid would leak the value's fractional part through the output, so the
 * values are put on the grid before summing, and the sensitivity is
 * computed in grid steps.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/util.h"
#include "exec/source.h"
#include "privacy/dp.h"
#include "privacy/noise.h"

typedef enum { Q_COUNT, Q_SUM, Q_UNITS } qkind;

typedef struct {
    qkind kind;
    int64_t sens;      /* per group, in integer units (grid steps for sums) */
    double value_sens; /* SUM: N * max(|lo|, |hi|) in value units (before the grid) */
    double grid;       /* SUM: value of one grid step; 1 otherwise */
    bool big;          /* SUM of a BIGINT column */
    double lo, hi;     /* SUM: metric bounds */
    size_t proj_col;   /* SUM: its argument's column in the lower PROJECT */
    uint64_t num, den; /* noise: Laplace scale or Gaussian sigma^2; den 0 = no noise */
    double scale;      /* the same as a double, for the report and tau */
} quantity;

typedef struct {
    dcr_agg_func func;
    dcr_type type;
    size_t q, qcount; /* value quantity; AVG: its count quantity */
} out_agg;

struct dcr_dp_query {
    dcr_dp_cost cost;
    dcr_plan *lower, *upper;
    size_t ndatasets;
    size_t ngroups, naggs, nq;
    quantity *q;
    out_agg *aggs;
    size_t units_q; /* quantity deciding release; SIZE_MAX = none (no GROUP BY) */
    int64_t tau;    /* release when the noisy unit count >= tau */
    int64_t k;      /* the contract's k for the datasets read */
    bool gaussian;
    dcr_type *types; /* the aggregate's output row */
    char **names;
    size_t ncols;
};

static dcr_status oom(dcr_error *err)
{
    return dcr_fail(err, DCR_EINTERNAL, "out of memory");
}

static dcr_status refuse(dcr_error *err, const char *why)
{
    return dcr_fail(err, DCR_EINPUT, "differential privacy: %s", why);
}

/* ---- plan building helpers ---- */

static dcr_expr *col_expr(size_t col, dcr_type t, const char *label)
{
    dcr_expr *e = dcr_expr_new(DCR_EXPR_COLUMN, t, -1);
    if (e) {
        e->col = col;
        if (label && !(e->label = strdup(label))) {
            dcr_expr_free(e);
            return NULL;
        }
    }
    return e;
}

static dcr_expr *f64_const(double v)
{
    dcr_expr *e = dcr_expr_new(DCR_EXPR_CONST, DCR_TYPE_DOUBLE, -1);
    if (e)
        e->value.f64 = v;
    return e;
}

static dcr_expr *binop(dcr_expr_kind kind, dcr_expr_op op, dcr_type t, dcr_expr *a, dcr_expr *b,
                       dcr_error *err)
{
    dcr_expr *e = dcr_expr_new(kind, t, -1);
    if (!e) {
        dcr_expr_free(a);
        dcr_expr_free(b);
        return NULL;
    }
    e->op = op;
    if (dcr_expr_add_arg(e, a, err) != DCR_OK) {
        dcr_expr_free(b);
        dcr_expr_free(e);
        return NULL;
    }
    if (dcr_expr_add_arg(e, b, err) != DCR_OK) {
        dcr_expr_free(e);
        return NULL;
    }
    return e;
}

static dcr_expr *cast_to(dcr_expr *a, dcr_type t, dcr_error *err)
{
    dcr_expr *e = dcr_expr_new(DCR_EXPR_CAST, t, -1);
    if (!e) {
        dcr_expr_free(a);
        return NULL;
    }
    if (dcr_expr_add_arg(e, a, err) != DCR_OK) {
        dcr_expr_free(e);
        return NULL;
    }
    return e;
}

/* CAST(CASE WHEN x < lo THEN lo WHEN x > hi THEN hi ELSE x END * (1/g) AS
 * BIGINT) with x = CAST(arg AS DOUBLE) when arg is BIGINT. NULL stays NULL;
 * NaN (above every value, as in PostgreSQL) becomes hi. Rounding is half
 * to even, monotone, so the result stays within [round(lo/g), round(hi/g)]. */
static dcr_expr *clamp_grid(const dcr_expr *arg, double lo, double hi, double g, dcr_error *err)
{
    dcr_expr *x = dcr_expr_copy(arg);
    if (x && x->type == DCR_TYPE_BIGINT)
        x = cast_to(x, DCR_TYPE_DOUBLE, err);
    dcr_expr *c = dcr_expr_new(DCR_EXPR_CASE, DCR_TYPE_DOUBLE, -1);
    if (!x || !c) {
        dcr_expr_free(x);
        dcr_expr_free(c);
        return NULL;
    }
    c->has_else = true;
    dcr_expr *x2 = dcr_expr_copy(x), *x3 = dcr_expr_copy(x);
    dcr_status s = dcr_expr_add_arg(
        c, binop(DCR_EXPR_CMP, DCR_OP_LT, DCR_TYPE_BOOLEAN, x, f64_const(lo), err), err);
    s = s ? s : dcr_expr_add_arg(c, f64_const(lo), err);
    if (s == DCR_OK) {
        s = dcr_expr_add_arg(
            c, binop(DCR_EXPR_CMP, DCR_OP_GT, DCR_TYPE_BOOLEAN, x2, f64_const(hi), err), err);
        x2 = NULL;
    }
    s = s ? s : dcr_expr_add_arg(c, f64_const(hi), err);
    if (s == DCR_OK) {
        s = dcr_expr_add_arg(c, x3, err);
        x3 = NULL;
    }
    dcr_expr_free(x2);
    dcr_expr_free(x3);
    if (s != DCR_OK) {
        dcr_expr_free(c);
        return NULL;
    }
    dcr_expr *m = binop(DCR_EXPR_ARITH, DCR_OP_MUL, DCR_TYPE_DOUBLE, c, f64_const(1 / g), err);
    return m ? cast_to(m, DCR_TYPE_BIGINT, err) : NULL;
}

static dcr_expr *agg_expr(dcr_agg_func f, bool distinct, dcr_expr *arg, dcr_error *err)
{
    dcr_expr *e = dcr_expr_new(DCR_EXPR_AGG, DCR_TYPE_BIGINT, -1);
    if (!e) {
        dcr_expr_free(arg);
        return NULL;
    }
    e->agg = f;
    e->distinct = distinct;
    if (arg && dcr_expr_add_arg(e, arg, err) != DCR_OK) {
        dcr_expr_free(e);
        return NULL;
    }
    return e;
}

/* Appends one output column (type, name) to p. */
static dcr_status add_col(dcr_plan *p, dcr_type t, const char *name, dcr_error *err)
{
    dcr_type *ty = realloc(p->types, (p->ncols + 1) * sizeof *ty);
    if (!ty)
        return oom(err);
    p->types = ty;
    char **nm = realloc(p->names, (p->ncols + 1) * sizeof *nm);
    if (!nm)
        return oom(err);
    p->names = nm;
    if (!(nm[p->ncols] = strdup(name ? name : "?column?")))
        return oom(err);
    ty[p->ncols++] = t;
    return DCR_OK;
}

/* ---- lineage and privacy units ---- */

/* The base (dataset, column) of output column col of p, when it is a plain
 * reference to one. */
static bool lineage(const dcr_plan *p, size_t col, size_t *ds, size_t *dcol)
{
    switch (p->kind) {
    case DCR_PLAN_SCAN:
        *ds = p->dataset;
        *dcol = p->scan_cols[col];
        return true;
    case DCR_PLAN_FILTER:
    case DCR_PLAN_SORT:
    case DCR_PLAN_LIMIT:
    case DCR_PLAN_BOUND:
        return lineage(p->child[0], col, ds, dcol);
    case DCR_PLAN_PROJECT:
        return p->exprs[col]->kind == DCR_EXPR_COLUMN &&
               lineage(p->child[0], p->exprs[col]->col, ds, dcol);
    case DCR_PLAN_JOIN:
        if (col < p->child[0]->ncols)
            return lineage(p->child[0], col, ds, dcol);
        return lineage(p->child[1], col - p->child[0]->ncols, ds, dcol);
    default:
        return false;
    }
}

static bool is_unit_expr(const dcr_contract *c, const dcr_plan *in, const dcr_expr *e)
{
    size_t ds, col;
    return e->kind == DCR_EXPR_COLUMN && lineage(in, e->col, &ds, &col) && ds < c->ndatasets &&
           col == c->datasets[ds].privacy_unit;
}

static void shift_cols(dcr_expr *e, size_t from, size_t by)
{
    if (!e)
        return;
    if (e->kind == DCR_EXPR_COLUMN && e->col >= from)
        e->col += by;
    for (size_t i = 0; i < e->nargs; i++)
        shift_cols(e->args[i], from, by);
}

/* Makes the privacy unit available in the output of *slot, keeping every
 * existing column at its position (new columns are appended); *unit is its
 * position. Refuses operators DP cannot bound through. *k collects the
 * largest k of the datasets read. */
static dcr_status ensure_unit(const dcr_contract *c, dcr_plan **slot, size_t *unit, int64_t *k,
                              dcr_error *err)
{
    dcr_plan *p = *slot;
    dcr_status s = DCR_OK;
    switch (p->kind) {
    case DCR_PLAN_SCAN: {
        if (p->dataset >= c->ndatasets ||
            strcmp(c->datasets[p->dataset].name, p->dataset_name) != 0)
            return dcr_fail(err, DCR_EINTERNAL, "dataset %s is not the contract's",
                            p->dataset_name);
        const dcr_contract_dataset *d = &c->datasets[p->dataset];
        if (d->min_units > *k)
            *k = d->min_units;
        for (size_t i = 0; i < p->ncols; i++)
            if (p->scan_cols[i] == d->privacy_unit) {
                *unit = i;
                return DCR_OK;
            }
        size_t *sc = realloc(p->scan_cols, (p->ncols + 1) * sizeof *sc);
        if (!sc)
            return oom(err);
        p->scan_cols = sc;
        sc[p->ncols] = d->privacy_unit;
        *unit = p->ncols;
        const dcr_contract_column *uc = &d->cols[d->privacy_unit];
        return add_col(p, uc->type, uc->name, err);
    }
    case DCR_PLAN_FILTER:
    case DCR_PLAN_SORT: {
        size_t before = p->child[0]->ncols;
        s = ensure_unit(c, &p->child[0], unit, k, err);
        for (size_t i = before; s == DCR_OK && i < p->child[0]->ncols; i++)
            s = add_col(p, p->child[0]->types[i], p->child[0]->names[i], err);
        return s;
    }
    case DCR_PLAN_PROJECT: {
        size_t u;
        s = ensure_unit(c, &p->child[0], &u, k, err);
        if (s != DCR_OK)
            return s;
        dcr_expr *e = col_expr(u, p->child[0]->types[u], p->child[0]->names[u]);
        dcr_expr **ex = e ? realloc(p->exprs, (p->ncols + 1) * sizeof *ex) : NULL;
        if (!ex) {
            dcr_expr_free(e);
            return oom(err);
        }
        p->exprs = ex;
        ex[p->ncols] = e;
        *unit = p->ncols;
        s = add_col(p, e->type, p->child[0]->names[u], err);
        if (s != DCR_OK) /* not counted in ncols, so dcr_plan_free would miss it */
            dcr_expr_free(e);
        return s;
    }
    case DCR_PLAN_JOIN: {
        size_t nl = p->child[0]->ncols, nr = p->child[1]->ncols, ul, ur;
        s = ensure_unit(c, &p->child[0], &ul, k, err);
        s = s ? s : ensure_unit(c, &p->child[1], &ur, k, err);
        if (s != DCR_OK)
            return s;
        /* One privacy unit per row: the join must equate the two sides'
         * privacy units, so every joined row belongs to one person. */
        bool on_unit = false;
        for (size_t i = 0; i < p->nkeys; i++)
            on_unit |= is_unit_expr(c, p->child[0], p->left_keys[i]) &&
                       is_unit_expr(c, p->child[1], p->right_keys[i]);
        if (!on_unit)
            return refuse(err, "every join must be on the privacy-unit columns of both sides "
                               "(ON a.unit = b.unit), so that each row belongs to one privacy "
                               "unit");
        size_t kl = p->child[0]->ncols - nl, kr = p->child[1]->ncols - nr;
        if (kl == 0 && kr == 0) {
            *unit = ul;
            return DCR_OK;
        }
        /* A side grew: rebuild the joined row, then restore the old layout
         * (left, right) with the unit appended by a PROJECT on top. */
        shift_cols(p->pred, nl, kl);
        size_t old = p->ncols;
        for (size_t i = 0; i < p->ncols; i++)
            free(p->names[i]);
        free(p->names);
        free(p->types);
        p->names = NULL;
        p->types = NULL;
        p->ncols = 0;
        for (int side = 0; s == DCR_OK && side < 2; side++)
            for (size_t i = 0; s == DCR_OK && i < p->child[side]->ncols; i++)
                s = add_col(p, p->child[side]->types[i], p->child[side]->names[i], err);
        dcr_plan *pr = s == DCR_OK ? dcr_plan_new(DCR_PLAN_PROJECT) : NULL;
        if (!pr)
            return s ? s : oom(err);
        pr->child[0] = p;
        *slot = pr;
        if (!(pr->exprs = calloc(old + 1, sizeof *pr->exprs)))
            return oom(err);
        for (size_t i = 0; s == DCR_OK && i <= old; i++) {
            size_t from = i == old ? ul : i < nl ? i : i + kl;
            dcr_expr *e = col_expr(from, p->types[from], p->names[from]);
            if (!e)
                return oom(err);
            pr->exprs[i] = e;
            s = add_col(pr, e->type, p->names[from], err);
        }
        *unit = old;
        return s;
    }
    case DCR_PLAN_AGGREGATE:
        return refuse(err, "only one aggregation per query (no aggregating subqueries)");
    case DCR_PLAN_LIMIT:
        return refuse(err, "LIMIT below the aggregation is not supported");
    case DCR_PLAN_UNION_ALL:
        return refuse(err, "UNION ALL below the aggregation is not supported");
    case DCR_PLAN_VALUES:
        return refuse(err, "the query must read a dataset");
    case DCR_PLAN_BOUND:
        break;
    }
    return dcr_fail(err, DCR_EINTERNAL, "unexpected plan operator");
}

/* ---- noise parameters ---- */

/* Smallest z with P[N(0,1) >= z] <= p (bisection on erfc; upper end). */
static double normal_tail_inv(double p)
{
    double lo = 0, hi = 40;
    for (int i = 0; i < 200; i++) {
        double mid = (lo + hi) / 2;
        if (0.5 * erfc(mid / sqrt(2.0)) <= p)
            hi = mid;
        else
            lo = mid;
    }
    return hi;
}

static double pow2_floor(double x)
{
    int e;
    frexp(x, &e); /* x = m 2^e, 0.5 <= m < 1 */
    return ldexp(1, e - 1);
}

static dcr_status set_noise(dcr_dp_query *q, int64_t m, dcr_error *err)
{
    const dcr_dp_cost *c = &q->cost;
    double share_eps = c->epsilon / (double)q->nq, share_rho = c->rho / (double)q->nq;
    for (size_t i = 0; i < q->nq; i++) {
        quantity *x = &q->q[i];
        if (x->kind == Q_SUM) {
            double maxabs = fmax(fabs(x->lo), fabs(x->hi));
            if (maxabs == 0) {
                x->sens = 0;
            } else {
                /* Noise in value units, then a grid about 2^-24 of it. */
                double noise = q->gaussian ? sqrt((double)m) * x->value_sens / sqrt(2 * share_rho)
                                           : (double)m * x->value_sens / share_eps;
                double g = fmin(pow2_floor(noise) * 0x1p-24, pow2_floor(maxabs) / 16);
                if (x->big && g < 1)
                    g = 1;
                x->grid = g;
                double lg = fmax(fabs(nearbyint(x->lo / g)), fabs(nearbyint(x->hi / g)));
                double sens = lg * (x->value_sens / maxabs); /* N * max|round(bound/g)| */
                if (!(sens < 0x1p52))
                    return refuse(err, "metric bounds too wide for the noise grid");
                x->sens = (int64_t)sens;
            }
        }
        if (x->sens == 0) {
            x->den = 0; /* a constant: no noise needed */
            continue;
        }
        double sens = (double)x->sens;
        double p =
            q->gaussian ? (double)m * sens * sens / (2 * share_rho) : (double)m * sens / share_eps;
        dcr_status s = dcr_noise_rational_up(p, q->gaussian, &x->num, &x->den, err);
        if (s != DCR_OK)
            return dcr_error_prefix(err, "differential privacy");
        x->scale = (double)x->num / (double)x->den;
    }
    if (q->units_q != SIZE_MAX) {
        /* A group that exists only because of one unit has a true unit count
         * of 1. For the discrete Gaussian, P[X >= t] <= P[N(0, sigma^2) >=
         * t - 1] (each term is below the integral over the unit interval to
         * its left, and the normaliser is at least sqrt(2 pi) sigma). So
         * P[1 + X >= tau] <= P[N >= (tau - 2) / sigma], and with tau = 2 +
         * ceil(sigma z), P[N(0,1) >= z] = delta_t / M, the unit's (at most
         * M) own groups all stay hidden except with probability delta_t. */
        double sigma = sqrt(q->q[q->units_q].scale);
        double z = normal_tail_inv(c->delta_threshold / (double)m);
        double t = 2 + ceil(sigma * z * (1 + 1e-9));
        if (!(t < 0x1p62))
            return refuse(err, "release threshold out of range");
        q->tau = (int64_t)t;
        if (q->k > q->tau)
            q->tau = q->k;
    }
    return DCR_OK;
}

/* ---- prepare ---- */

void dcr_dp_query_free(dcr_dp_query *q)
{
    if (!q)
        return;
    dcr_plan_free(q->lower);
    dcr_plan_free(q->upper);
    free(q->q);
    free(q->aggs);
    for (size_t i = 0; q->names && i < q->ncols; i++)
        free(q->names[i]);
    free(q->names);
    free(q->types);
    free(q);
}

dcr_plan *dcr_dp_take_lower(dcr_dp_query *q)
{
    dcr_plan *p = q->lower;
    q->lower = NULL;
    return p;
}

const dcr_dp_cost *dcr_dp_query_cost(const dcr_dp_query *q)
{
    return &q->cost;
}

static dcr_status add_quantity(dcr_dp_query *q, quantity x, size_t *idx, dcr_error *err)
{
    quantity *n = realloc(q->q, (q->nq + 1) * sizeof *n);
    if (!n)
        return oom(err);
    q->q = n;
    x.grid = x.grid > 0 ? x.grid : 1;
    n[q->nq] = x;
    *idx = q->nq++;
    return DCR_OK;
}

/* The P(roject) -> BOUND -> AGGREGATE stack. agg is the original
 * aggregate (its child already carries the unit at position unit). */
typedef struct {
    dcr_plan *proj, *bound, *agg;
} lower_stack;

static dcr_status proj_add(dcr_plan *p, dcr_expr *e, const char *name, size_t *pos, dcr_error *err)
{
    if (!e)
        return oom(err);
    dcr_expr **ex = realloc(p->exprs, (p->ncols + 1) * sizeof *ex);
    if (!ex) {
        dcr_expr_free(e);
        return oom(err);
    }
    p->exprs = ex;
    ex[p->ncols] = e;
    dcr_status s = add_col(p, e->type, name, err);
    if (s != DCR_OK) {
        ex[p->ncols] = NULL;
        dcr_expr_free(e);
        return s;
    }
    *pos = p->ncols - 1;
    return DCR_OK;
}

static dcr_status agg_add(dcr_plan *a, dcr_expr *e, const char *name, dcr_error *err)
{
    if (!e)
        return oom(err);
    dcr_expr **ex = realloc(a->exprs, (a->ngroups + a->naggs + 1) * sizeof *ex);
    if (!ex) {
        dcr_expr_free(e);
        return oom(err);
    }
    a->exprs = ex;
    ex[a->ngroups + a->naggs++] = e;
    return add_col(a, e->type, name, err);
}

/* Analyses the original aggregates, builds quantities and the lower stack. */
static dcr_status build_lower(const dcr_contract *c, dcr_dp_query *q, const dcr_plan *orig,
                              dcr_plan *in, size_t unit, lower_stack *ls, dcr_error *err)
{
    int64_t n_rows = c->dp.max_contributions_per_unit;
    dcr_plan *proj = dcr_plan_new(DCR_PLAN_PROJECT), *bound = dcr_plan_new(DCR_PLAN_BOUND),
             *agg = dcr_plan_new(DCR_PLAN_AGGREGATE);
    ls->proj = proj;
    ls->bound = bound;
    ls->agg = agg;
    if (!proj || !bound || !agg)
        return oom(err);
    dcr_status s = DCR_OK;
    size_t pos;
    char name[32];
    /* Group keys, then the unit. */
    for (size_t g = 0; s == DCR_OK && g < orig->ngroups; g++)
        s = proj_add(proj, dcr_expr_copy(orig->exprs[g]), orig->names[g], &pos, err);
    size_t upos = 0;
    s = s ? s
          : proj_add(proj, col_expr(unit, in->types[unit], in->names[unit]), "privacy_unit", &upos,
                     err);
    if (s != DCR_OK)
        return s;
    /* The aggregate's group keys and the quantities. */
    agg->ngroups = orig->ngroups;
    if (!(agg->exprs = calloc(orig->ngroups ? orig->ngroups : 1, sizeof *agg->exprs)))
        return oom(err);
    for (size_t g = 0; s == DCR_OK && g < orig->ngroups; g++) {
        agg->exprs[g] = col_expr(g, orig->types[g], orig->names[g]);
        s = agg->exprs[g] ? add_col(agg, orig->types[g], orig->names[g], err) : oom(err);
    }
    for (size_t a = 0; s == DCR_OK && a < orig->naggs; a++) {
        const dcr_expr *e = orig->exprs[orig->ngroups + a];
        out_agg *oa = &q->aggs[a];
        oa->func = e->agg;
        oa->type = orig->types[orig->ngroups + a];
        const dcr_expr *arg = e->nargs ? e->args[0] : NULL;
        quantity x = {.kind = Q_COUNT, .sens = n_rows};
        switch (e->agg) {
        case DCR_AGG_COUNT_STAR:
            s = add_quantity(q, x, &oa->q, err);
            snprintf(name, sizeof name, "q%zu", oa->q);
            s = s ? s : agg_add(agg, agg_expr(DCR_AGG_COUNT_STAR, false, NULL, err), name, err);
            break;
        case DCR_AGG_COUNT:
            if (e->distinct && is_unit_expr(c, in, arg))
                x.kind = Q_UNITS, x.sens = 1;
            s = add_quantity(q, x, &oa->q, err);
            snprintf(name, sizeof name, "q%zu", oa->q);
            s = s ? s : proj_add(proj, dcr_expr_copy(arg), name, &pos, err);
            s = s ? s
                  : agg_add(agg,
                            agg_expr(DCR_AGG_COUNT, e->distinct,
                                     col_expr(pos, proj->types[pos], name), err),
                            name, err);
            /* With GROUP BY, a requested count of distinct units doubles as
             * the release count (no extra share of the budget). */
            if (s == DCR_OK && x.kind == Q_UNITS && orig->ngroups > 0 && q->units_q == SIZE_MAX)
                q->units_q = oa->q;
            break;
        case DCR_AGG_SUM:
        case DCR_AGG_AVG: {
            size_t ds, col;
            if (e->distinct)
                return refuse(err, "DISTINCT is not supported inside SUM or AVG");
            if (!arg || arg->kind != DCR_EXPR_COLUMN || !lineage(in, arg->col, &ds, &col) ||
                ds >= c->ndatasets || c->datasets[ds].cols[col].role != DCR_COL_METRIC ||
                !c->datasets[ds].cols[col].has_bounds)
                return refuse(err, "SUM and AVG need a metric column (with contract bounds) as "
                                   "their argument");
            const dcr_contract_column *mc = &c->datasets[ds].cols[col];
            quantity xs = {.kind = Q_SUM,
                           .lo = mc->lo,
                           .hi = mc->hi,
                           .big = arg->type == DCR_TYPE_BIGINT,
                           .value_sens = (double)n_rows * fmax(fabs(mc->lo), fabs(mc->hi))};
            s = add_quantity(q, xs, &oa->q, err);
            /* The grid is only known once the budget split is: the clamp
             * expression is added by finish_sums(). Keep the argument here. */
            snprintf(name, sizeof name, "q%zu", oa->q);
            s = s ? s : proj_add(proj, dcr_expr_copy(arg), name, &pos, err);
            if (s == DCR_OK)
                q->q[oa->q].proj_col = pos;
            s = s ? s
                  : agg_add(agg,
                            agg_expr(DCR_AGG_SUM, false, col_expr(pos, DCR_TYPE_BIGINT, name), err),
                            name, err);
            if (s == DCR_OK && e->agg == DCR_AGG_AVG) {
                s = add_quantity(q, x, &oa->qcount, err);
                snprintf(name, sizeof name, "q%zu", oa->qcount);
                s = s ? s
                      : agg_add(agg,
                                agg_expr(DCR_AGG_COUNT, false, col_expr(pos, DCR_TYPE_BIGINT, name),
                                         err),
                                name, err);
            }
            break;
        }
        case DCR_AGG_MIN:
        case DCR_AGG_MAX:
            return refuse(err, "MIN and MAX are not supported (their sensitivity is unbounded)");
        case DCR_AGG_UNIT_SKETCH: /* internal to the differencing defence */
        case DCR_AGG_UNIT_SKETCH_MERGE:
            return dcr_fail(err, DCR_EINTERNAL, "unexpected aggregate in a DP query");
        }
    }
    if (s == DCR_OK && orig->ngroups > 0 && q->units_q == SIZE_MAX) {
        /* A count of distinct units only to decide which groups to release. */
        size_t idx;
        s = add_quantity(q, (quantity){.kind = Q_UNITS, .sens = 1}, &idx, err);
        snprintf(name, sizeof name, "q%zu", idx);
        s = s ? s
              : agg_add(agg,
                        agg_expr(DCR_AGG_COUNT, true,
                                 col_expr(upos, proj->types[upos], "privacy_unit"), err),
                        name, err);
        q->units_q = idx;
    }
    if (s != DCR_OK)
        return s;
    /* BOUND over the projection: unit at upos, keys 0..ngroups-1. */
    bound->bound_unit = upos;
    bound->nbound_keys = orig->ngroups;
    if (!(bound->bound_keys = calloc(orig->ngroups ? orig->ngroups : 1, sizeof(size_t))))
        return oom(err);
    for (size_t g = 0; g < orig->ngroups; g++)
        bound->bound_keys[g] = g;
    bound->bound_rows = n_rows;
    bound->bound_groups = orig->ngroups ? c->dp.max_contributions_per_unit : 1;
    for (size_t i = 0; s == DCR_OK && i < proj->ncols; i++)
        s = add_col(bound, proj->types[i], proj->names[i], err);
    return s;
}

/* Replaces each SUM argument in the projection by its clamped grid value,
 * now that the grid is known; fixes the projection's column types. */
static dcr_status finish_sums(dcr_dp_query *q, lower_stack *ls, dcr_error *err)
{
    for (size_t i = 0; i < q->nq; i++) {
        const quantity *x = &q->q[i];
        if (x->kind != Q_SUM)
            continue;
        size_t pos = x->proj_col;
        dcr_expr *cg = clamp_grid(ls->proj->exprs[pos], x->lo, x->hi, x->grid, err);
        if (!cg)
            return oom(err);
        dcr_expr_free(ls->proj->exprs[pos]);
        ls->proj->exprs[pos] = cg;
        ls->proj->types[pos] = DCR_TYPE_BIGINT;
        ls->bound->types[pos] = DCR_TYPE_BIGINT;
    }
    return DCR_OK;
}

static dcr_status copy_row_desc(dcr_dp_query *q, const dcr_plan *agg, dcr_error *err)
{
    q->ncols = agg->ncols;
    q->types = calloc(agg->ncols ? agg->ncols : 1, sizeof *q->types);
    q->names = calloc(agg->ncols ? agg->ncols : 1, sizeof *q->names);
    if (!q->types || !q->names)
        return oom(err);
    for (size_t i = 0; i < agg->ncols; i++) {
        q->types[i] = agg->types[i];
        if (!(q->names[i] = strdup(agg->names[i] ? agg->names[i] : "?column?")))
            return oom(err);
    }
    return DCR_OK;
}

/* The SCAN that stands for the noisy aggregate in the upper plan. */
static dcr_plan *noisy_scan(const dcr_dp_query *q, size_t dataset, dcr_error *err)
{
    dcr_plan *s = dcr_plan_new(DCR_PLAN_SCAN);
    if (!s)
        return NULL;
    s->dataset = dataset;
    s->dataset_name = strdup("dp_noisy_aggregate");
    s->alias = strdup("dp_noisy_aggregate");
    s->scan_cols = calloc(q->ncols ? q->ncols : 1, sizeof *s->scan_cols);
    if (!s->dataset_name || !s->alias || !s->scan_cols) {
        dcr_plan_free(s);
        return NULL;
    }
    for (size_t i = 0; i < q->ncols; i++) {
        s->scan_cols[i] = i;
        if (add_col(s, q->types[i], q->names[i], err) != DCR_OK) {
            dcr_plan_free(s);
            return NULL;
        }
    }
    return s;
}

dcr_status dcr_dp_prepare(const dcr_contract *c, dcr_plan *plan, dcr_dp_query **out, dcr_error *err)
{
    *out = NULL;
    dcr_dp_query *q = calloc(1, sizeof *q);
    if (!q) {
        dcr_plan_free(plan);
        return oom(err);
    }
    q->upper = plan;
    q->units_q = SIZE_MAX;
    q->ndatasets = c->ndatasets;
    dcr_status s = dcr_dp_cost_of(&c->dp, &q->cost, err);
    q->gaussian = q->cost.zcdp;
    /* Find the aggregate under PROJECT / FILTER (HAVING) / SORT / LIMIT. */
    dcr_plan **slot = &q->upper;
    while (s == DCR_OK && (*slot)->kind != DCR_PLAN_AGGREGATE) {
        dcr_plan_kind k = (*slot)->kind;
        if (k != DCR_PLAN_PROJECT && k != DCR_PLAN_FILTER && k != DCR_PLAN_SORT &&
            k != DCR_PLAN_LIMIT)
            s = refuse(err, "the query must be one aggregation (GROUP BY and/or aggregate "
                            "functions), optionally with HAVING, ORDER BY and LIMIT");
        else
            slot = &(*slot)->child[0];
    }
    dcr_plan *agg = s == DCR_OK ? *slot : NULL;
    if (s == DCR_OK && agg->ngroups > 0 && !q->gaussian)
        s = refuse(err, "with delta = 0 (pure differential privacy) group keys taken from the "
                        "data cannot be released; the contract needs delta > 0 for GROUP BY");
    if (s == DCR_OK && agg->naggs == 0)
        s = refuse(err, "SELECT DISTINCT / GROUP BY without an aggregate function is not "
                        "supported; add COUNT(*)");
    size_t unit = 0;
    q->k = 0;
    s = s ? s : ensure_unit(c, &agg->child[0], &unit, &q->k, err);
    lower_stack ls = {0};
    if (s == DCR_OK) {
        q->ngroups = agg->ngroups;
        q->naggs = agg->naggs;
        if (!(q->aggs = calloc(agg->naggs, sizeof *q->aggs)))
            s = oom(err);
    }
    s = s ? s : copy_row_desc(q, agg, err);
    s = s ? s : build_lower(c, q, agg, agg->child[0], unit, &ls, err);
    s = s ? s : set_noise(q, agg->ngroups ? c->dp.max_contributions_per_unit : 1, err);
    s = s ? s : finish_sums(q, &ls, err);
    if (s == DCR_OK) {
        /* Assemble: agg -> bound -> proj -> original input. */
        ls.proj->child[0] = agg->child[0];
        agg->child[0] = NULL;
        ls.bound->child[0] = ls.proj;
        ls.agg->child[0] = ls.bound;
        q->lower = ls.agg;
        ls = (lower_stack){0};
        dcr_plan *scan = noisy_scan(q, c->ndatasets, err);
        if (!scan) {
            s = oom(err);
        } else {
            dcr_plan_free(agg);
            *slot = scan;
        }
    }
    dcr_plan_free(ls.proj); /* not assembled: the pieces own no children */
    dcr_plan_free(ls.bound);
    dcr_plan_free(ls.agg);
    if (s != DCR_OK) {
        dcr_dp_query_free(q);
        return s;
    }
    *out = q;
    return DCR_OK;
}

/* ---- execute ---- */

static dcr_status draw(dcr_rng *r, const dcr_dp_query *q, const quantity *x, int64_t *noise,
                       dcr_error *err)
{
    if (x->den == 0) {
        *noise = 0;
        return DCR_OK;
    }
    return q->gaussian ? dcr_sample_dgauss(r, x->num, x->den, noise, err)
                       : dcr_sample_dlaplace(r, x->num, x->den, noise, err);
}

static int64_t sat_add(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

/* One output aggregate from the noisy quantities (post-processing only:
 * clamping to what the true value could be never costs privacy). */
static dcr_status emit(const dcr_dp_query *q, const out_agg *a, const int64_t *noisy,
                       dcr_column *out, dcr_error *err)
{
    const quantity *x = &q->q[a->q];
    switch (a->func) {
    case DCR_AGG_COUNT_STAR:
    case DCR_AGG_COUNT:
        return dcr_column_push_i64(out, noisy[a->q] < 0 ? 0 : noisy[a->q], err);
    case DCR_AGG_SUM: {
        long double v = (long double)noisy[a->q] * x->grid;
        if (x->lo >= 0 && v < 0)
            v = 0;
        if (x->hi <= 0 && v > 0)
            v = 0;
        if (a->type == DCR_TYPE_BIGINT) {
            if (v >= 0x1p63L)
                return dcr_column_push_i64(out, INT64_MAX, err);
            if (v < -0x1p63L)
                return dcr_column_push_i64(out, INT64_MIN, err);
            return dcr_column_push_i64(out, (int64_t)v, err);
        }
        return dcr_column_push_f64(out, (double)v, err);
    }
    case DCR_AGG_AVG: {
        int64_t n = noisy[a->qcount];
        if (n <= 0)
            return dcr_column_push_null(out, err);
        double v = (double)((long double)noisy[a->q] * x->grid / (long double)n);
        v = v < x->lo ? x->lo : v > x->hi ? x->hi : v;
        return dcr_column_push_f64(out, v, err);
    }
    default:
        return dcr_fail(err, DCR_EINTERNAL, "unexpected aggregate under differential privacy");
    }
}

/* Noise, thresholds and the final aggregates, from the lower result into
 * cols (the aggregate's output row). */
static dcr_status add_noise(const dcr_dp_query *q, const dcr_result *raw, dcr_column *cols,
                            dcr_dp_report *rep, dcr_error *err)
{
    dcr_rng rng;
    dcr_rng_init(&rng);
    int64_t *noisy = calloc(q->nq ? q->nq : 1, sizeof *noisy);
    dcr_status s = noisy ? DCR_OK : oom(err);
    for (size_t b = 0; s == DCR_OK && b < raw->nbatches; b++) {
        const dcr_batch *in = &raw->batches[b];
        for (size_t r = 0; s == DCR_OK && r < in->nrows; r++) {
            for (size_t i = 0; s == DCR_OK && i < q->nq; i++) {
                const dcr_column *c = &in->cols[q->ngroups + i];
                int64_t v = dcr_column_is_null(c, r) ? 0 : ((const int64_t *)c->values)[r], z;
                s = draw(&rng, q, &q->q[i], &z, err);
                noisy[i] = sat_add(v, z);
            }
            if (s != DCR_OK)
                break;
            if (q->units_q != SIZE_MAX && noisy[q->units_q] < q->tau) {
                rep->groups_suppressed++;
                continue;
            }
            rep->groups_released++;
            for (size_t g = 0; s == DCR_OK && g < q->ngroups; g++)
                s = dcr_vec_push_from(&cols[g], &in->cols[g], r, err);
            for (size_t a = 0; s == DCR_OK && a < q->naggs; a++)
                s = emit(q, &q->aggs[a], noisy, &cols[q->ngroups + a], err);
        }
    }
    if (noisy)
        dcr_wipe(noisy, q->nq * sizeof *noisy);
    free(noisy);
    dcr_rng_free(&rng);
    return s;
}

static void fill_report(const dcr_dp_query *q, dcr_dp_report *rep)
{
    rep->epsilon_charged = q->cost.charge_epsilon;
    rep->delta_charged = q->cost.charge_delta;
    rep->epsilon = q->cost.epsilon;
    rep->delta = q->cost.delta;
    rep->rho = q->cost.rho;
    rep->gaussian = q->gaussian;
    rep->quantities = q->nq;
    rep->tau = q->units_q != SIZE_MAX ? q->tau : 0;
}

dcr_status dcr_dp_execute(dcr_dp_query *q, const dcr_exec_source *sources, size_t nsources,
                          const dcr_exec_opts *opts, dcr_result *out, dcr_dp_report *report,
                          int *err_location, dcr_error *err)
{
    dcr_dp_report rep = {0};
    memset(out, 0, sizeof *out);
    if (err_location)
        *err_location = -1;
    if (nsources != q->ndatasets || !q->lower)
        return dcr_fail(err, DCR_EINTERNAL, "expected one source per contract dataset");
    fill_report(q, &rep);
    dcr_result raw;
    dcr_exec_opts run = dcr_exec_opts_total(opts); /* no row may decide a failure */
    dcr_status s = dcr_exec_run(q->lower, sources, nsources, &run, &raw, err_location, err);
    if (s != DCR_OK)
        return s;
    dcr_column *cols = calloc(q->ncols ? q->ncols : 1, sizeof *cols);
    dcr_exec_source *src = calloc(nsources + 1, sizeof *src);
    if (!cols || !src) {
        free(cols);
        free(src);
        dcr_result_free(&raw);
        return oom(err);
    }
    for (size_t i = 0; i < q->ncols; i++)
        dcr_column_init(&cols[i], q->types[i]);
    s = add_noise(q, &raw, cols, &rep, err);
    dcr_result_free(&raw);
    if (s == DCR_OK) {
        dcr_table_source table = {.ncols = q->ncols, .cols = cols};
        memcpy(src, sources, nsources * sizeof *src);
        dcr_table_source_bind(&src[nsources], &table);
        s = dcr_exec_run(q->upper, src, nsources + 1, &run, out, err_location, err);
    }
    for (size_t i = 0; i < q->ncols; i++)
        dcr_column_free(&cols[i]);
    free(cols);
    free(src);
    if (s == DCR_OK && report)
        *report = rep;
    return s;
}

dcr_status dcr_dp_explain(const dcr_dp_query *q, dcr_buf *out, dcr_error *err)
{
    char line[256];
    dcr_status s = dcr_plan_explain(q->lower, out, err);
    snprintf(line, sizeof line,
             "Noise: %s, %zu noisy values per group, each with 1/%zu of the budget",
             q->gaussian ? "discrete Gaussian (zCDP)" : "discrete Laplace (pure DP)", q->nq, q->nq);
    s = s ? s : dcr_buf_append(out, line, strlen(line), err);
    if (s == DCR_OK && q->units_q != SIZE_MAX) {
        snprintf(line, sizeof line, "; release groups with noisy unit count >= %lld",
                 (long long)q->tau);
        s = dcr_buf_append(out, line, strlen(line), err);
    }
    s = s ? s : dcr_buf_append(out, "\n", 1, err);
    return s ? s : dcr_plan_explain(q->upper, out, err);
}

dcr_status dcr_dp_run(const dcr_contract *c, dcr_plan *plan, const char *analyst,
                      dcr_dp_charge_fn charge, void *charge_ctx, const dcr_exec_source *sources,
                      size_t nsources, const dcr_exec_opts *opts, dcr_result *out,
                      dcr_dp_report *report, int *err_location, dcr_error *err)
{
    dcr_dp_query *q;
    if (err_location)
        *err_location = -1;
    dcr_status s = dcr_dp_prepare(c, plan, &q, err);
    if (s != DCR_OK)
        return s;
    if (charge)
        s = charge(charge_ctx, analyst, q->cost.charge_epsilon, q->cost.charge_delta, err);
    s = s ? s : dcr_dp_execute(q, sources, nsources, opts, out, report, err_location, err);
    dcr_dp_query_free(q);
    return s;
}

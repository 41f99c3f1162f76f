/*
 * threshold.c: the aggregation threshold as a plan rewrite, and running the
 * rewritten plan so small groups never leave the aggregate that forms them.
 *
 * Rewrite (pv_threshold_rewrite), for every Aggregate, innermost first:
 *   - below it, every Scan of a contract dataset also reads the dataset's
 *     privacy unit, and Filter/Join/Project/Sort/Union All pass these "unit
 *     slots" up (a Join keeps one slot per side, so a self-join counts each
 *     instance; a Union All merges slots by (dataset, instance) and gives a
 *     side without one NULLs);
 *   - the Aggregate gets hidden aggregates COUNT(DISTINCT slot) per slot and
 *     COUNT(*), and a Project above it drops them again;
 *   - aggregate arguments over metric columns are clamped to the column's
 *     contract bounds (CASE WHEN x < lo THEN lo WHEN x > hi THEN hi ELSE x).
 *   An inner (already thresholded) aggregate is a relation without slots:
 *   its groups each rest on >= k units already.
 *
 * Run (pv_threshold_run): each thresholded aggregate is executed on its own,
 * bottom up; `release` decides which of its groups are kept (exactly: every
 * slot count is 0 (that dataset instance is not under this group, e.g. the
 * other side of a UNION ALL or an unmatched LEFT JOIN) or >= k, and the
 * group has at least one row); the kept groups become an in-memory table
 * the rest of the plan scans in its place. So HAVING, expressions of the
 * select list, ORDER BY, LIMIT and outer queries only ever see released
 * groups, and an error in them cannot depend on a small group.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/source.h"
#include "privacy/internal.h"

/* A unit slot: column pos holds the privacy unit of one dataset instance
 * (set: the UNIT_SKETCH value of released groups instead, which an
 * aggregate above merges; only with the differencing defence on). */
typedef struct {
    size_t dataset, ordinal, pos;
    bool set;
} slot;

typedef struct {
    size_t n, cap;
    slot *v;
} slots;

static dcr_status oom(pv_ctx *x)
{
    return dcr_fail(x->err, DCR_EINTERNAL, "out of memory");
}

static dcr_status slots_push(pv_ctx *x, slots *s, slot v)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 4;
        slot *p = realloc(s->v, cap * sizeof *p);
        if (!p)
            return oom(x);
        s->v = p;
        s->cap = cap;
    }
    s->v[s->n++] = v;
    return DCR_OK;
}

void pv_thresholds_free(pv_thresholds *t)
{
    free(t->items);
    memset(t, 0, sizeof *t);
}

static int thr_find(const pv_thresholds *t, const dcr_plan *drop)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->items[i].drop == drop)
            return (int)i;
    return -1;
}

/* Replaces p's output row by n columns (types, names may alias another
 * plan's arrays: they are copied). */
static dcr_status row_set(pv_ctx *x, dcr_plan *p, size_t n, const dcr_type *types,
                          char *const *names)
{
    dcr_type *t = calloc(n ? n : 1, sizeof *t);
    char **nm = calloc(n ? n : 1, sizeof *nm);
    bool ok = t && nm;
    for (size_t i = 0; ok && i < n; i++) {
        t[i] = types[i];
        ok = (nm[i] = strdup(names[i] ? names[i] : "")) != NULL;
    }
    if (!ok) {
        for (size_t i = 0; nm && i < n; i++)
            free(nm[i]);
        free(t);
        free(nm);
        return oom(x);
    }
    for (size_t i = 0; i < p->ncols; i++)
        free(p->names[i]);
    free(p->names);
    free(p->types);
    p->types = t;
    p->names = nm;
    p->ncols = n;
    return DCR_OK;
}

/* Appends one column to p's row. */
static dcr_status row_add(pv_ctx *x, dcr_plan *p, dcr_type type, const char *name)
{
    dcr_type *t = realloc(p->types, (p->ncols + 1) * sizeof *t);
    if (!t)
        return oom(x);
    p->types = t;
    char **nm = realloc(p->names, (p->ncols + 1) * sizeof *nm);
    if (!nm)
        return oom(x);
    p->names = nm;
    if (!(nm[p->ncols] = strdup(name)))
        return oom(x);
    t[p->ncols++] = type;
    return DCR_OK;
}

static dcr_expr *col_expr(dcr_type t, size_t col, const char *label)
{
    dcr_expr *e = dcr_expr_new(DCR_EXPR_COLUMN, t, -1);
    if (e) {
        e->col = col;
        e->rel = SIZE_MAX;
        if (!(e->label = strdup(label ? label : ""))) {
            dcr_expr_free(e);
            return NULL;
        }
    }
    return e;
}

static void remap(dcr_expr *e, const size_t *map)
{
    if (!e)
        return;
    if (e->kind == DCR_EXPR_COLUMN)
        e->col = map[e->col];
    for (size_t i = 0; i < e->nargs; i++)
        remap(e->args[i], map);
}

static size_t *identity(size_t n)
{
    size_t *m = calloc(n ? n : 1, sizeof *m);
    for (size_t i = 0; m && i < n; i++)
        m[i] = i;
    return m;
}

static dcr_type unit_type(const pv_ctx *x, size_t d)
{
    const dcr_contract_dataset *ds = &x->c->datasets[d];
    return ds->cols[ds->privacy_unit].type;
}

static const char *unit_name(const pv_ctx *x, size_t d)
{
    const dcr_contract_dataset *ds = &x->c->datasets[d];
    return ds->cols[ds->privacy_unit].name;
}

static dcr_type slot_type(const pv_ctx *x, slot v)
{
    return v.set ? DCR_TYPE_TEXT : unit_type(x, v.dataset);
}

static const char *slot_name(const pv_ctx *x, slot v)
{
    return v.set ? "unit_sketch" : unit_name(x, v.dataset);
}

static bool same_slot(slot a, slot b)
{
    return a.dataset == b.dataset && a.ordinal == b.ordinal && a.set == b.set;
}

static dcr_status add_units(pv_ctx *x, const pv_thresholds *t, dcr_plan **pp, size_t **map,
                            slots *out);

static dcr_status scan_units(pv_ctx *x, dcr_plan *p, slots *out)
{
    if (p->dataset >= x->c->ndatasets)
        return DCR_OK;
    size_t u = x->c->datasets[p->dataset].privacy_unit, pos = p->ncols;
    for (size_t i = 0; i < p->ncols; i++)
        if (p->scan_cols[i] == u)
            pos = i;
    if (pos == p->ncols) {
        size_t *sc = realloc(p->scan_cols, (p->ncols + 1) * sizeof *sc);
        if (!sc)
            return oom(x);
        p->scan_cols = sc;
        sc[p->ncols] = u;
        dcr_status s = row_add(x, p, unit_type(x, p->dataset), unit_name(x, p->dataset));
        if (s != DCR_OK)
            return s;
    }
    return slots_push(x, out, (slot){p->dataset, 0, pos, false});
}

static dcr_status join_units(pv_ctx *x, const pv_thresholds *t, dcr_plan *p, size_t **map,
                             slots *out)
{
    size_t n0 = p->child[0]->ncols, n1 = p->child[1]->ncols;
    size_t *m0 = NULL, *m1 = NULL, *m = NULL;
    slots s0 = {0}, s1 = {0};
    dcr_status s = add_units(x, t, &p->child[0], &m0, &s0);
    s = s ? s : add_units(x, t, &p->child[1], &m1, &s1);
    if (s == DCR_OK && !(m = calloc(n0 + n1 ? n0 + n1 : 1, sizeof *m)))
        s = oom(x);
    if (s != DCR_OK)
        goto done;
    dcr_plan *l = p->child[0], *r = p->child[1];
    for (size_t i = 0; i < p->nkeys; i++) {
        remap(p->left_keys[i], m0);
        remap(p->right_keys[i], m1);
    }
    for (size_t i = 0; i < n0; i++)
        m[i] = m0[i];
    for (size_t i = 0; i < n1; i++)
        m[n0 + i] = l->ncols + m1[i];
    remap(p->pred, m);
    size_t n = l->ncols + r->ncols;
    dcr_type *types = calloc(n ? n : 1, sizeof *types);
    char **names = calloc(n ? n : 1, sizeof *names);
    if (!types || !names)
        s = oom(x);
    for (size_t i = 0; s == DCR_OK && i < n; i++) {
        types[i] = i < l->ncols ? l->types[i] : r->types[i - l->ncols];
        names[i] = i < l->ncols ? l->names[i] : r->names[i - l->ncols];
    }
    s = s ? s : row_set(x, p, n, types, names);
    free(types);
    free(names);
    for (size_t i = 0; s == DCR_OK && i < s0.n; i++)
        s = slots_push(x, out, s0.v[i]);
    for (size_t i = 0; s == DCR_OK && i < s1.n; i++) {
        slot v = s1.v[i];
        for (size_t k = 0; k < s0.n; k++)
            v.ordinal += s0.v[k].dataset == v.dataset;
        v.pos += l->ncols;
        s = slots_push(x, out, v);
    }
done:
    free(m0);
    free(m1);
    free(s0.v);
    free(s1.v);
    if (s == DCR_OK)
        *map = m;
    else
        free(m);
    return s;
}

/* A Project over *pp giving its first n columns as remapped by map, then
 * the given slots in order: side slot `have[i]` (SIZE_MAX: a NULL). */
static dcr_status wrap_side(pv_ctx *x, dcr_plan **pp, size_t n, const size_t *map,
                            const char *const *onames, const slots *u, const size_t *have)
{
    dcr_plan *below = *pp, *p = dcr_plan_new(DCR_PLAN_PROJECT);
    size_t total = n + u->n;
    if (!p || !(p->exprs = calloc(total ? total : 1, sizeof *p->exprs))) {
        dcr_plan_free(p);
        return oom(x);
    }
    p->child[0] = below;
    *pp = p;
    for (size_t i = 0; i < total; i++) {
        dcr_type ty;
        const char *nm;
        dcr_expr *e;
        if (i < n) {
            ty = below->types[map[i]];
            nm = onames[i];
            e = col_expr(ty, map[i], nm);
        } else {
            size_t k = i - n;
            ty = slot_type(x, u->v[k]);
            nm = slot_name(x, u->v[k]);
            if (have[k] != SIZE_MAX)
                e = col_expr(ty, have[k], nm);
            else if ((e = dcr_expr_new(DCR_EXPR_CONST, ty, -1)))
                e->value.null = true;
        }
        if (!e)
            return oom(x);
        p->exprs[i] = e;
        dcr_status s = row_add(x, p, ty, nm);
        if (s != DCR_OK)
            return s;
    }
    return DCR_OK;
}

static dcr_status union_units(pv_ctx *x, const pv_thresholds *t, dcr_plan *p, size_t **map,
                              slots *out)
{
    size_t n = p->ncols;
    size_t *m[2] = {NULL, NULL}, *have = NULL;
    slots side[2] = {{0}, {0}}, u = {0};
    dcr_status s = DCR_OK;
    for (int i = 0; s == DCR_OK && i < 2; i++)
        s = add_units(x, t, &p->child[i], &m[i], &side[i]);
    for (int i = 0; s == DCR_OK && i < 2; i++)
        for (size_t k = 0; s == DCR_OK && k < side[i].n; k++) {
            bool seen = false;
            for (size_t j = 0; j < u.n; j++)
                seen = seen || same_slot(u.v[j], side[i].v[k]);
            if (!seen) {
                slot v = side[i].v[k];
                v.pos = n + u.n;
                s = slots_push(x, &u, v);
            }
        }
    if (s == DCR_OK && !(have = calloc(u.n ? u.n : 1, sizeof *have)))
        s = oom(x);
    for (int i = 0; s == DCR_OK && i < 2; i++) {
        for (size_t j = 0; j < u.n; j++) {
            have[j] = SIZE_MAX;
            for (size_t k = 0; k < side[i].n; k++)
                if (same_slot(side[i].v[k], u.v[j]))
                    have[j] = side[i].v[k].pos;
        }
        s = wrap_side(x, &p->child[i], n, m[i], (const char *const *)p->names, &u, have);
    }
    for (size_t j = 0; s == DCR_OK && j < u.n; j++)
        s = row_add(x, p, slot_type(x, u.v[j]), slot_name(x, u.v[j]));
    for (size_t j = 0; s == DCR_OK && j < u.n; j++)
        s = slots_push(x, out, u.v[j]);
    free(m[0]);
    free(m[1]);
    free(side[0].v);
    free(side[1].v);
    free(u.v);
    free(have);
    if (s == DCR_OK && !(*map = identity(n)))
        s = oom(x);
    return s;
}

/* The unit sets a thresholded aggregate's released groups carry (the
 * columns after its visible ones; none for an outer aggregate or with the
 * defence off). An instance keeps its ordinal among its dataset's sets. */
static dcr_status released_sets(pv_ctx *x, const pv_thr *r, slots *out)
{
    const dcr_plan *a = r->agg;
    dcr_status s = DCR_OK;
    for (size_t i = 0; s == DCR_OK && i < r->nexport; i++) {
        const dcr_expr *g = a->exprs[r->nvisible + r->nslots + 1 + i];
        assert(g->agg == DCR_AGG_UNIT_SKETCH || g->agg == DCR_AGG_UNIT_SKETCH_MERGE);
        size_t d = (size_t)g->value.i64, ord = 0;
        for (size_t k = 0; k < i; k++)
            ord += (size_t)a->exprs[r->nvisible + r->nslots + 1 + k]->value.i64 == d;
        s = slots_push(x, out, (slot){d, ord, r->nvisible + i, true});
    }
    return s;
}

/* Makes the relation *pp also output the privacy unit of every dataset
 * instance its rows rest on. *map (caller frees) takes each old output
 * position to its new one; out receives the unit slots. */
static dcr_status add_units(pv_ctx *x, const pv_thresholds *t, dcr_plan **pp, size_t **map,
                            slots *out)
{
    dcr_plan *p = *pp;
    size_t n = p->ncols;
    *map = NULL;
    int j = thr_find(t, p);
    if (j >= 0) { /* released groups: no units, but their sets with the defence on */
        dcr_status s = released_sets(x, &t->items[j], out);
        return s ? s : (*map = identity(n)) ? DCR_OK : oom(x);
    }
    if (p->kind == DCR_PLAN_VALUES) /* constants rest on nobody */
        return (*map = identity(n)) ? DCR_OK : oom(x);
    if (p->kind == DCR_PLAN_SCAN) {
        dcr_status s = scan_units(x, p, out);
        return s ? s : (*map = identity(n)) ? DCR_OK : oom(x);
    }
    if (p->kind == DCR_PLAN_JOIN)
        return join_units(x, t, p, map, out);
    if (p->kind == DCR_PLAN_UNION_ALL)
        return union_units(x, t, p, map, out);
    if (p->kind == DCR_PLAN_AGGREGATE)
        return dcr_fail(x->err, DCR_EINTERNAL, "aggregate not thresholded");
    size_t *m = NULL;
    dcr_status s = add_units(x, t, &p->child[0], &m, out);
    if (s != DCR_OK)
        return s;
    dcr_plan *c = p->child[0];
    if (p->kind == DCR_PLAN_PROJECT) {
        for (size_t i = 0; i < p->ncols; i++)
            remap(p->exprs[i], m);
        free(m);
        dcr_expr **e = realloc(p->exprs, (n + out->n ? n + out->n : 1) * sizeof *e);
        if (!e)
            return oom(x);
        p->exprs = e;
        for (size_t i = 0; s == DCR_OK && i < out->n; i++) {
            slot v = out->v[i];
            if (!(e[n + i] = col_expr(slot_type(x, v), v.pos, slot_name(x, v))))
                return oom(x);
            s = row_add(x, p, slot_type(x, v), slot_name(x, v));
            out->v[i].pos = n + i;
        }
        return s ? s : (*map = identity(n)) ? DCR_OK : oom(x);
    }
    /* Filter, Sort, Limit: the child's row. */
    remap(p->pred, m);
    for (size_t i = 0; i < p->nsort; i++)
        p->sort[i].col = m[p->sort[i].col];
    s = row_set(x, p, c->ncols, c->types, c->names);
    if (s == DCR_OK)
        *map = m;
    else
        free(m);
    return s;
}

/* CASE WHEN a < lo THEN lo WHEN a > hi THEN hi ELSE a END, replacing *a. */
static dcr_status clamp(pv_ctx *x, dcr_expr **a, double lo, double hi)
{
    dcr_type t = (*a)->type;
    dcr_expr *cs = dcr_expr_new(DCR_EXPR_CASE, t, (*a)->location);
    if (!cs)
        return oom(x);
    cs->has_else = true;
    dcr_status s = DCR_OK;
    for (int side = 0; s == DCR_OK && side < 2; side++) {
        double b = side ? hi : lo;
        dcr_expr *cmp = dcr_expr_new(DCR_EXPR_CMP, DCR_TYPE_BOOLEAN, -1);
        dcr_expr *k1 = dcr_expr_new(DCR_EXPR_CONST, t, -1),
                 *k2 = dcr_expr_new(DCR_EXPR_CONST, t, -1);
        dcr_expr *v = dcr_expr_copy(*a);
        if (!cmp || !k1 || !k2 || !v) {
            dcr_expr_free(cmp);
            dcr_expr_free(k1);
            dcr_expr_free(k2);
            dcr_expr_free(v);
            dcr_expr_free(cs);
            return oom(x);
        }
        cmp->op = side ? DCR_OP_GT : DCR_OP_LT;
        /* A DOUBLE metric's bounds may lie outside BIGINT's range: converting
         * them would be undefined, and only a BIGINT column reads .i64. */
        if (t == DCR_TYPE_BIGINT)
            k1->value.i64 = k2->value.i64 = (int64_t)b;
        else
            k1->value.f64 = k2->value.f64 = b;
        s = dcr_expr_add_arg(cmp, v, x->err);
        if (s == DCR_OK)
            s = dcr_expr_add_arg(cmp, k1, x->err);
        else
            dcr_expr_free(k1);
        if (s == DCR_OK)
            s = dcr_expr_add_arg(cs, cmp, x->err);
        else
            dcr_expr_free(cmp);
        if (s == DCR_OK)
            s = dcr_expr_add_arg(cs, k2, x->err);
        else
            dcr_expr_free(k2);
    }
    if (s != DCR_OK) {
        dcr_expr_free(cs);
        return s;
    }
    s = dcr_expr_add_arg(cs, *a, x->err);
    *a = cs; /* add_arg took *a, also on failure */
    return s;
}

static dcr_status clamp_metrics(pv_ctx *x, dcr_plan *agg)
{
    for (size_t i = agg->ngroups; i < agg->ngroups + agg->naggs; i++) {
        dcr_expr *a = agg->exprs[i];
        for (size_t k = 0; k < x->nmetric; k++) {
            if (x->metric_aggs[k].agg != a || a->nargs != 1)
                continue;
            const dcr_contract_column *col =
                &x->c->datasets[x->metric_aggs[k].col.dataset].cols[x->metric_aggs[k].col.column];
            dcr_status s = clamp(x, &a->args[0], col->lo, col->hi);
            if (s != DCR_OK)
                return s;
        }
    }
    return DCR_OK;
}

static dcr_status thr_push(pv_ctx *x, pv_thresholds *t, pv_thr v)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 4;
        pv_thr *p = realloc(t->items, cap * sizeof *p);
        if (!p)
            return oom(x);
        t->items = p;
        t->cap = cap;
    }
    t->items[t->n++] = v;
    return DCR_OK;
}

/* Thresholds Aggregate *pp (whose inner aggregates are done). */
static dcr_status threshold_one(pv_ctx *x, dcr_plan **pp, pv_thresholds *t, bool outer)
{
    dcr_plan *a = *pp;
    size_t *m = NULL;
    slots u = {0};
    size_t nvis = a->ncols;
    assert(nvis == a->ngroups + a->naggs); /* output column i is expression i */
    dcr_status s = clamp_metrics(x, a);
    s = s ? s : add_units(x, t, &a->child[0], &m, &u);
    for (size_t i = 0; s == DCR_OK && i < a->ngroups + a->naggs; i++)
        remap(a->exprs[i], m);
    free(m);
    /* Unit counts for the slots of units (released groups under it were
     * counted where they formed), then COUNT(*). */
    size_t nx = a->ngroups + a->naggs, nraw = 0;
    for (size_t i = 0; i < u.n; i++)
        nraw += !u.v[i].set;
    assert(nraw == u.n || x->diff); /* sets are carried only for the defence */
    size_t extra = nraw + 1;
    dcr_expr **e = s == DCR_OK ? realloc(a->exprs, (nx + extra) * sizeof *e) : NULL;
    if (s == DCR_OK && !e)
        s = oom(x);
    if (e)
        a->exprs = e;
    for (size_t i = 0, r = 0; s == DCR_OK && i < extra; i++, r++) {
        while (r < u.n && u.v[r].set)
            r++;
        dcr_expr *g = dcr_expr_new(DCR_EXPR_AGG, DCR_TYPE_BIGINT, -1);
        char nm[96];
        if (!g) {
            s = oom(x);
            break;
        }
        if (i < nraw) {
            size_t d = u.v[r].dataset;
            g->agg = DCR_AGG_COUNT;
            g->distinct = true;
            dcr_expr *c = col_expr(unit_type(x, d), u.v[r].pos, unit_name(x, d));
            s = c ? dcr_expr_add_arg(g, c, x->err) : oom(x);
            snprintf(nm, sizeof nm, "units_%s_%zu", x->c->datasets[d].name, u.v[r].ordinal);
        } else {
            g->agg = DCR_AGG_COUNT_STAR;
            snprintf(nm, sizeof nm, "rows");
        }
        if (s != DCR_OK) {
            dcr_expr_free(g);
            break;
        }
        e[a->ngroups + a->naggs++] = g;
        s = row_add(x, a, DCR_TYPE_BIGINT, nm);
    }
    /* With the defence on, every aggregate's groups carry their unit sets
     * (after COUNT(*)): they are checked where they form, and an inner
     * aggregate passes them on to the aggregate above, whose groups rest on
     * their union. */
    size_t nsk = 0;
    for (size_t i = 0; s == DCR_OK && x->diff && i < u.n; i++, nsk++)
        s = pv_diff_add_sketch(x, a, u.v[i].dataset, u.v[i].pos, u.v[i].set);
    free(u.v);
    size_t nexport = outer ? 0 : nsk, nout = nvis + nexport;
    dcr_plan *drop = s == DCR_OK ? dcr_plan_new(DCR_PLAN_PROJECT) : NULL;
    if (s == DCR_OK && (!drop || !(drop->exprs = calloc(nout ? nout : 1, sizeof *drop->exprs)))) {
        dcr_plan_free(drop);
        return oom(x);
    }
    if (s != DCR_OK)
        return s;
    drop->child[0] = a;
    *pp = drop;
    for (size_t i = 0; s == DCR_OK && i < nout; i++) {
        size_t from = i < nvis ? i : i + nraw + 1; /* past the counts to the sets */
        if (!(drop->exprs[i] = col_expr(a->types[from], from, a->names[from])))
            return oom(x);
        s = row_add(x, drop, a->types[from], a->names[from]);
    }
    return s ? s : thr_push(x, t, (pv_thr){drop, a, nvis, nraw, nsk, nexport, outer});
}

static dcr_status rewrite(pv_ctx *x, dcr_plan **pp, pv_thresholds *t, bool under_agg)
{
    dcr_plan *p = *pp;
    bool agg = p->kind == DCR_PLAN_AGGREGATE;
    for (int i = 0; i < 2; i++)
        if (p->child[i]) {
            dcr_status s = rewrite(x, &p->child[i], t, under_agg || agg);
            if (s != DCR_OK)
                return s;
        }
    return agg ? threshold_one(x, pp, t, !under_agg) : DCR_OK;
}

dcr_status pv_threshold_rewrite(pv_ctx *x, dcr_plan **plan, pv_thresholds *t)
{
    return rewrite(x, plan, t, false);
}

/* ---- running ---- */

dcr_status pv_release_exact(void *ctx, pv_ctx *x, const pv_thr *t, dcr_batch *rows, bool *keep,
                            dcr_error *err)
{
    (void)ctx;
    (void)err;
    int64_t k = x->report->k;
    for (size_t r = 0; r < rows->nrows; r++) {
        bool ok = ((const int64_t *)rows->cols[t->nvisible + t->nslots].values)[r] >= 1;
        for (size_t j = 0; ok && j < t->nslots; j++) {
            int64_t units = ((const int64_t *)rows->cols[t->nvisible + j].values)[r];
            ok = units == 0 || units >= k;
        }
        keep[r] = ok;
    }
    return DCR_OK;
}

typedef struct {
    dcr_batch data;
    dcr_table_source table;
} mat;

typedef struct {
    pv_ctx *x;
    pv_thresholds *t;
    dcr_exec_source *srcs;
    size_t nsrcs;
    mat *mats;
    const dcr_exec_opts *opts;
    pv_release_fn release;
    void *release_ctx;
    int *err_location;
} runner;

/* All rows of r in one batch. */
static dcr_status gather(pv_ctx *x, const dcr_result *r, dcr_batch *all)
{
    dcr_status s = dcr_batch_init(all, r->types, r->ncols, x->err);
    for (size_t b = 0; s == DCR_OK && b < r->nbatches; b++)
        s = dcr_batch_append_rows(all, &r->batches[b], NULL, 0, r->batches[b].nrows, x->err);
    if (s == DCR_OK)
        all->nrows = r->nrows;
    return s;
}

/* Rows `rows` of all into out: the visible columns, then the unit sets
 * passed to the aggregate above (what the drop Project outputs). */
static dcr_status keep_rows(pv_ctx *x, const pv_thr *t, const dcr_batch *all, const uint32_t *rows,
                            size_t nkeep, dcr_batch *out)
{
    size_t n = t->nvisible + t->nexport;
    dcr_column *cols = calloc(n ? n : 1, sizeof *cols);
    dcr_type *types = calloc(n ? n : 1, sizeof *types);
    dcr_status s = cols && types ? DCR_OK : oom(x);
    for (size_t i = 0; s == DCR_OK && i < n; i++) {
        size_t from = i < t->nvisible ? i : i + t->nslots + 1;
        cols[i] = all->cols[from]; /* a shallow view */
        types[i] = t->agg->types[from];
    }
    s = s ? s : dcr_batch_init(out, types, n, x->err);
    if (s == DCR_OK) {
        dcr_batch view = {all->nrows, n, cols};
        s = dcr_batch_append_rows(out, &view, rows, 0, nkeep, x->err);
        out->nrows = nkeep;
    }
    free(cols);
    free(types);
    return s;
}

/* The released groups of thresholded aggregate j as table j. */
static dcr_status release_groups(runner *R, size_t j, const dcr_result *res)
{
    pv_ctx *x = R->x;
    const pv_thr *t = &R->t->items[j];
    dcr_batch all = {0};
    bool *keep = NULL;
    uint32_t *rows = NULL;
    dcr_status s = gather(x, res, &all);
    if (s == DCR_OK && all.nrows > UINT32_MAX)
        s = dcr_fail(x->err, DCR_EINPUT, "an aggregate produced more than 2^32 groups");
    if (s == DCR_OK && (!(keep = calloc(all.nrows ? all.nrows : 1, sizeof *keep)) ||
                        !(rows = calloc(all.nrows ? all.nrows : 1, sizeof *rows))))
        s = oom(x);
    s = s ? s : R->release(R->release_ctx, x, t, &all, keep, x->err);
    size_t nkeep = 0;
    for (size_t r = 0; s == DCR_OK && r < all.nrows; r++)
        if (keep[r])
            rows[nkeep++] = (uint32_t)r;
    mat *m = &R->mats[j];
    s = s ? s : keep_rows(x, t, &all, rows, nkeep, &m->data);
    if (s == DCR_OK) {
        size_t dropped = all.nrows - nkeep;
        if (t->outer)
            x->report->rows_suppressed += dropped;
        else
            x->report->inner_suppressed += dropped;
        m->table = (dcr_table_source){m->data.ncols, m->data.cols, DCR_BATCH_ROWS};
        dcr_table_source_bind(&R->srcs[x->c->ndatasets + j], &m->table);
    }
    dcr_batch_free(&all);
    free(keep);
    free(rows);
    return s;
}

/* A Scan of table j standing for thresholded aggregate j. */
static dcr_status table_scan(runner *R, size_t j, dcr_plan **out)
{
    const dcr_plan *drop = R->t->items[j].drop;
    dcr_plan *p = dcr_plan_new(DCR_PLAN_SCAN);
    if (!p || !(p->dataset_name = strdup("(released groups)")) ||
        !(p->scan_cols = calloc(drop->ncols ? drop->ncols : 1, sizeof *p->scan_cols))) {
        dcr_plan_free(p);
        return oom(R->x);
    }
    p->dataset = R->x->c->ndatasets + j;
    for (size_t i = 0; i < drop->ncols; i++)
        p->scan_cols[i] = i;
    dcr_status s = row_set(R->x, p, drop->ncols, drop->types, drop->names);
    if (s != DCR_OK) {
        dcr_plan_free(p);
        return s;
    }
    *out = p;
    return DCR_OK;
}

static dcr_status materialize(runner *R, dcr_plan **pp)
{
    dcr_plan *p = *pp;
    for (int i = 0; i < 2; i++)
        if (p->child[i]) {
            dcr_status s = materialize(R, &p->child[i]);
            if (s != DCR_OK)
                return s;
        }
    int j = thr_find(R->t, p);
    if (j < 0)
        return DCR_OK;
    dcr_plan *scan = NULL;
    dcr_status s = table_scan(R, (size_t)j, &scan);
    if (s != DCR_OK)
        return s;
    dcr_result res;
    memset(&res, 0, sizeof res);
    /* The aggregate's operator subtree reads contract datasets and the
     * tables of the aggregates below it, never this one's. */
    s = dcr_exec_run(p->child[0], R->srcs, R->nsrcs, R->opts, &res, R->err_location, R->x->err);
    s = s ? s : release_groups(R, (size_t)j, &res);
    if (s == DCR_OK)
        R->x->report->aggregates++;
    dcr_result_free(&res);
    if (s != DCR_OK) {
        dcr_plan_free(scan);
        return s;
    }
    R->t->items[j].drop = R->t->items[j].agg = NULL;
    dcr_plan_free(p);
    *pp = scan;
    return DCR_OK;
}

dcr_status pv_threshold_run(pv_ctx *x, dcr_plan **plan, pv_thresholds *t,
                            const dcr_exec_source *sources, const dcr_exec_opts *opts,
                            pv_release_fn release, void *release_ctx, dcr_result *out,
                            int *err_location)
{
    dcr_exec_opts run = dcr_exec_opts_total(opts); /* no row may decide a failure */
    runner R = {.x = x,
                .t = t,
                .nsrcs = x->c->ndatasets + t->n,
                .opts = &run,
                .release = release,
                .release_ctx = release_ctx,
                .err_location = err_location};
    R.srcs = calloc(R.nsrcs ? R.nsrcs : 1, sizeof *R.srcs);
    R.mats = calloc(t->n ? t->n : 1, sizeof *R.mats);
    dcr_status s = R.srcs && R.mats ? DCR_OK : oom(x);
    for (size_t i = 0; s == DCR_OK && i < x->c->ndatasets; i++)
        R.srcs[i] = sources[i];
    s = s ? s : materialize(&R, plan);
    s = s ? s : dcr_exec_run(*plan, R.srcs, R.nsrcs, &run, out, err_location, x->err);
    for (size_t j = 0; R.mats && j < t->n; j++)
        dcr_batch_free(&R.mats[j].data);
    free(R.mats);
    free(R.srcs);
    return s;
}

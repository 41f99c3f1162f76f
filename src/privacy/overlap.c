/*
 * overlap.c: the list / overlap rule (docs/privacy.md, "List / overlap"):
 * matched identifiers go only to the party that owns them, and only where
 * the contract's rules.overlap allows.
 *
 * The one query shape that releases identifiers:
 *
 *   SELECT [DISTINCT] r.c FROM r_dataset r JOIN other o ON r.x = o.y
 *     [JOIN ...] [WHERE <conditions on r's columns only>] [ORDER BY r.c]
 *
 * where the analyst owns r_dataset, rules.overlap has an entry (receiver =
 * the analyst, column = r_dataset.c), every join is an inner equi-join
 * listed in rules.aggregation.joins, and nothing of the other datasets is
 * read but their join keys: the answer is which of the analyst's OWN
 * identifiers have a match, nothing about the other side. The result is
 * de-duplicated, released only when it holds at least k identifiers, and
 * goes to the analyst alone (not to its other receivers).
 *
 * A query of any other shape is left to the ordinary rules (which refuse
 * an id column in the output), so this file can only allow, never weaken.
 */
#include <stdlib.h>
#include <string.h>

#include "privacy/internal.h"

typedef struct {
    int dataset; /* contract dataset index, -1 when not a plain dataset column */
    size_t col;
} ocol;

typedef struct {
    size_t n;
    ocol *c;
} orel;

typedef struct {
    pv_ctx *x;
    size_t owner; /* the analyst */
    bool ok;      /* still the overlap shape */
} ostate;

static bool join_listed(const dcr_contract *c, ocol a, ocol b)
{
    for (size_t i = 0; i < c->njoins; i++) {
        const dcr_contract_join *j = &c->joins[i];
        if ((j->left.dataset == (size_t)a.dataset && j->left.column == a.col &&
             j->right.dataset == (size_t)b.dataset && j->right.column == b.col) ||
            (j->left.dataset == (size_t)b.dataset && j->left.column == b.col &&
             j->right.dataset == (size_t)a.dataset && j->right.column == a.col))
            return true;
    }
    return false;
}

static bool owned(ostate *o, int dataset)
{
    return dataset >= 0 && o->x->c->datasets[dataset].owner == o->owner;
}

/* Every column an expression reads is one of the owner's dataset columns. */
static bool reads_owner_only(ostate *o, const dcr_expr *e, const orel *in)
{
    if (!e)
        return true;
    if (e->kind == DCR_EXPR_COLUMN)
        return e->col < in->n && owned(o, in->c[e->col].dataset);
    if (e->kind == DCR_EXPR_AGG)
        return false;
    for (size_t i = 0; i < e->nargs; i++)
        if (!reads_owner_only(o, e->args[i], in))
            return false;
    return true;
}

static bool plain_col(const dcr_expr *e, const orel *in, ocol *out)
{
    if (e->kind != DCR_EXPR_COLUMN || e->col >= in->n)
        return false;
    *out = in->c[e->col];
    return out->dataset >= 0;
}

static dcr_status walk(ostate *o, const dcr_plan *p, orel *out);

static dcr_status rel_new(ostate *o, orel *r, size_t n)
{
    r->n = n;
    r->c = calloc(n ? n : 1, sizeof *r->c);
    return r->c ? DCR_OK : dcr_fail(o->x->err, DCR_EINTERNAL, "out of memory");
}

static dcr_status join_shape(ostate *o, const dcr_plan *p, const orel *l, const orel *r, orel *out)
{
    if (p->left_outer || p->pred || p->nkeys == 0)
        o->ok = false;
    for (size_t i = 0; o->ok && i < p->nkeys; i++) {
        ocol a, b;
        if (!plain_col(p->left_keys[i], l, &a) || !plain_col(p->right_keys[i], r, &b) ||
            !join_listed(o->x->c, a, b))
            o->ok = false;
    }
    dcr_status s = rel_new(o, out, l->n + r->n);
    if (s == DCR_OK) {
        memcpy(out->c, l->c, l->n * sizeof *l->c);
        memcpy(out->c + l->n, r->c, r->n * sizeof *r->c);
    }
    return s;
}

/* Column provenance through the operators the shape allows; anything else
 * clears o->ok. */
static dcr_status walk(ostate *o, const dcr_plan *p, orel *out)
{
    memset(out, 0, sizeof *out);
    if (!o->ok)
        return DCR_OK;
    if (p->kind == DCR_PLAN_SCAN) {
        dcr_status s = rel_new(o, out, p->ncols);
        for (size_t i = 0; s == DCR_OK && i < p->ncols; i++)
            out->c[i] =
                (ocol){p->dataset < o->x->c->ndatasets ? (int)p->dataset : -1, p->scan_cols[i]};
        if (s == DCR_OK && p->dataset < o->x->c->ndatasets)
            o->x->used[p->dataset] = true;
        return s;
    }
    orel in[2] = {{0}, {0}};
    dcr_status s = DCR_OK;
    for (int i = 0; s == DCR_OK && i < 2; i++)
        if (p->child[i])
            s = walk(o, p->child[i], &in[i]);
    if (s == DCR_OK && o->ok) {
        switch (p->kind) {
        case DCR_PLAN_JOIN:
            s = join_shape(o, p, &in[0], &in[1], out);
            break;
        case DCR_PLAN_FILTER:
            o->ok = reads_owner_only(o, p->pred, &in[0]);
            s = rel_new(o, out, in[0].n);
            if (s == DCR_OK)
                memcpy(out->c, in[0].c, in[0].n * sizeof *in[0].c);
            break;
        case DCR_PLAN_SORT:
            s = rel_new(o, out, in[0].n);
            if (s == DCR_OK)
                memcpy(out->c, in[0].c, in[0].n * sizeof *in[0].c);
            break;
        case DCR_PLAN_PROJECT:
        case DCR_PLAN_AGGREGATE: /* DISTINCT: group keys only */
            if (p->kind == DCR_PLAN_AGGREGATE && p->naggs > 0)
                o->ok = false;
            s = rel_new(o, out, p->ncols);
            for (size_t i = 0; s == DCR_OK && o->ok && i < p->ncols; i++)
                if (!plain_col(p->exprs[i], &in[0], &out->c[i]))
                    o->ok = false;
            break;
        default: /* VALUES, LIMIT, UNION ALL */
            o->ok = false;
        }
    }
    free(in[0].c);
    free(in[1].c);
    return s;
}

dcr_status pv_overlap_check(pv_ctx *x, size_t analyst, const dcr_plan *plan, bool *overlap)
{
    *overlap = false;
    if (x->c->noverlap == 0 || plan->ncols != 1)
        return DCR_OK;
    ostate o = {x, analyst, true};
    orel top;
    dcr_status s = walk(&o, plan, &top);
    if (s != DCR_OK || !o.ok) {
        free(top.c);
        memset(x->used, 0, x->c->ndatasets * sizeof *x->used);
        return s;
    }
    /* The output is an owner's column with an overlap entry for the owner,
     * and the query reads some other party's dataset (else it is no match). */
    bool other = false;
    for (size_t d = 0; d < x->c->ndatasets; d++)
        other |= x->used[d] && x->c->datasets[d].owner != analyst;
    for (size_t i = 0; other && top.n == 1 && i < x->c->noverlap; i++) {
        const dcr_contract_overlap *e = &x->c->overlap[i];
        if (e->receiver == analyst && top.c[0].dataset == (int)e->col.dataset &&
            top.c[0].col == e->col.column) {
            *overlap = true;
            x->report->nreceivers = 1; /* the owner alone */
            x->report->receivers = &e->receiver;
        }
    }
    free(top.c);
    if (!*overlap) {
        memset(x->used, 0, x->c->ndatasets * sizeof *x->used);
        return DCR_OK;
    }
    int64_t k = x->c->min_units;
    for (size_t d = 0; d < x->c->ndatasets; d++)
        if (x->used[d] && x->c->datasets[d].min_units > k)
            k = x->c->datasets[d].min_units;
    x->report->k = k;
    return DCR_OK;
}

dcr_status pv_overlap_run(pv_ctx *x, dcr_plan **plan, const dcr_exec_source *sources,
                          const dcr_exec_opts *opts, dcr_result *out, int *err_location)
{
    /* De-duplicate: one row per matched identifier. */
    dcr_plan *top = *plan;
    if (top->kind != DCR_PLAN_AGGREGATE) {
        dcr_plan *a = dcr_plan_new(DCR_PLAN_AGGREGATE);
        dcr_expr *c = dcr_expr_new(DCR_EXPR_COLUMN, top->types[0], -1);
        if (!a || !c || !(a->exprs = calloc(1, sizeof *a->exprs)) ||
            dcr_plan_set_ncols(a, 1, x->err) != DCR_OK ||
            dcr_plan_set_name(a, 0, top->names[0], x->err) != DCR_OK) {
            dcr_plan_free(a);
            dcr_expr_free(c);
            return dcr_fail(x->err, DCR_EINTERNAL, "out of memory");
        }
        c->rel = SIZE_MAX;
        a->exprs[0] = c;
        a->ngroups = 1;
        a->types[0] = top->types[0];
        a->child[0] = top;
        *plan = a;
    }
    dcr_exec_opts run = dcr_exec_opts_total(opts); /* no row may decide a failure */
    dcr_status s = dcr_exec_run(*plan, sources, x->c->ndatasets, &run, out, err_location, x->err);
    if (s != DCR_OK)
        return s;
    int64_t k = x->report->k;
    if ((int64_t)out->nrows < k) {
        /* A list of fewer than k matches is withheld entirely. */
        dcr_result empty = {0};
        empty.ncols = out->ncols;
        empty.types = out->types;
        empty.names = out->names;
        out->types = NULL;
        out->names = NULL;
        out->ncols = 0;
        dcr_result_free(out);
        *out = empty;
        x->report->rows_suppressed = 1;
    }
    return DCR_OK;
}

/*
 * bind_layout.c: the last step of binding a SELECT. Columns are bound as
 * (FROM item, dataset column); once every clause is bound it is known which
 * columns each FROM item must produce, so each Scan is given exactly those
 * (the only columns decrypted and decoded), each subquery's Project
 * selects those of its output, and every column reference above the FROM
 * row is rewritten into a position in its operator's input.
 */
#include <stdlib.h>
#include <string.h>

#include "sql/bind.h"

typedef struct {
    bool *used[DCR_SQL_MAX_RELS];
    size_t *slot[DCR_SQL_MAX_RELS]; /* slot within the rel's scan */
    size_t base[DCR_SQL_MAX_RELS];  /* first slot of the rel in the FROM row */
    size_t nused[DCR_SQL_MAX_RELS];
} layout_t;

static void mark_used(layout_t *l, const dcr_expr *e)
{
    if (e->kind == DCR_EXPR_COLUMN && e->rel != SIZE_MAX)
        l->used[e->rel][e->col] = true;
    for (size_t i = 0; i < e->nargs; i++)
        mark_used(l, e->args[i]);
}

static void remap(const layout_t *l, dcr_expr *e, bool relative)
{
    if (e->kind == DCR_EXPR_COLUMN && e->rel != SIZE_MAX) {
        e->col = l->slot[e->rel][e->col] + (relative ? 0 : l->base[e->rel]);
        e->rel = SIZE_MAX;
    }
    for (size_t i = 0; i < e->nargs; i++)
        remap(l, e->args[i], relative);
}

/* Calls fn on every expression of the FROM-level operators: the consumer
 * (the first Aggregate or Project) and everything below it. */
static void walk_from_exprs(dcr_plan *p, void (*fn)(void *, dcr_expr *, bool), void *ctx)
{
    if (!p)
        return;
    size_t n = p->kind == DCR_PLAN_AGGREGATE ? p->ngroups + p->naggs
               : p->kind == DCR_PLAN_PROJECT ? p->ncols
                                             : 0;
    for (size_t i = 0; i < n; i++)
        fn(ctx, p->exprs[i], false);
    if (p->pred)
        fn(ctx, p->pred, false);
    for (size_t i = 0; i < p->nkeys; i++) {
        fn(ctx, p->left_keys[i], false);
        fn(ctx, p->right_keys[i], true);
    }
    if (p->kind != DCR_PLAN_SCAN && !p->from_subquery) {
        walk_from_exprs(p->child[0], fn, ctx);
        walk_from_exprs(p->child[1], fn, ctx);
    }
}

static void mark_fn(void *ctx, dcr_expr *e, bool relative)
{
    (void)relative;
    mark_used(ctx, e);
}

static void remap_fn(void *ctx, dcr_expr *e, bool relative)
{
    remap(ctx, e, relative);
}

/* Sets each Scan's columns and each Join's output row from the layout. */
static dcr_status set_from_rows(dcr_binder *b, const layout_t *l, dcr_plan *p)
{
    if (p->from_subquery) { /* the used columns of the subquery's output */
        size_t r = p->from_item;
        const dcr_schema *sc = b->rels[r].schema;
        p->exprs = calloc(l->nused[r] ? l->nused[r] : 1, sizeof *p->exprs);
        dcr_status s = p->exprs ? dcr_plan_set_ncols(p, l->nused[r], b->err) : dcr_bind_oom(b);
        for (size_t c = 0, k = 0; s == DCR_OK && c < sc->ncols; c++) {
            if (!l->used[r][c])
                continue;
            dcr_expr *e = dcr_expr_new(DCR_EXPR_COLUMN, sc->cols[c].type, -1);
            if (!e || !(e->label = strdup(sc->cols[c].name))) {
                dcr_expr_free(e);
                return dcr_bind_oom(b);
            }
            e->col = c;
            p->exprs[k] = e;
            p->types[k] = sc->cols[c].type;
            s = dcr_plan_set_name(p, k++, sc->cols[c].name, b->err);
        }
        return s;
    }
    if (p->kind == DCR_PLAN_SCAN) {
        size_t r = p->from_item;
        const dcr_schema *sc = b->rels[r].schema;
        p->scan_cols = calloc(l->nused[r] ? l->nused[r] : 1, sizeof *p->scan_cols);
        dcr_status s = p->scan_cols ? dcr_plan_set_ncols(p, l->nused[r], b->err) : dcr_bind_oom(b);
        for (size_t c = 0, k = 0; s == DCR_OK && c < sc->ncols; c++) {
            if (!l->used[r][c])
                continue;
            p->scan_cols[k] = c;
            p->types[k] = sc->cols[c].type;
            s = dcr_plan_set_name(p, k++, sc->cols[c].name, b->err);
        }
        return s;
    }
    dcr_status s = DCR_OK;
    for (int c = 0; s == DCR_OK && c < 2; c++)
        if (p->child[c])
            s = set_from_rows(b, l, p->child[c]);
    if (s != DCR_OK || (p->kind != DCR_PLAN_JOIN && p->kind != DCR_PLAN_FILTER))
        return s;
    size_t n0 = p->child[0]->ncols, n1 = p->kind == DCR_PLAN_JOIN ? p->child[1]->ncols : 0;
    s = dcr_plan_set_ncols(p, n0 + n1, b->err);
    for (size_t i = 0; s == DCR_OK && i < n0 + n1; i++) {
        const dcr_plan *src = i < n0 ? p->child[0] : p->child[1];
        size_t k = i < n0 ? i : i - n0;
        p->types[i] = src->types[k];
        s = dcr_plan_set_name(p, i, src->names[k], b->err);
    }
    return s;
}

/* consumer: the first operator above the FROM row (Aggregate or Project). */
dcr_status dcr_bind_layout(dcr_binder *b, dcr_plan *consumer)
{
    layout_t l;
    memset(&l, 0, sizeof l);
    dcr_status s = DCR_OK;
    for (size_t r = 0; s == DCR_OK && r < b->nrels; r++) {
        size_t nc = b->rels[r].schema->ncols;
        l.used[r] = calloc(nc, sizeof *l.used[r]);
        l.slot[r] = calloc(nc, sizeof *l.slot[r]);
        if (!l.used[r] || !l.slot[r])
            s = dcr_bind_oom(b);
    }
    if (s == DCR_OK) {
        walk_from_exprs(consumer, mark_fn, &l);
        size_t base = 0;
        for (size_t r = 0; r < b->nrels; r++) {
            l.base[r] = base;
            for (size_t c = 0; c < b->rels[r].schema->ncols; c++)
                if (l.used[r][c])
                    l.slot[r][c] = l.nused[r]++;
            base += l.nused[r];
        }
        walk_from_exprs(consumer, remap_fn, &l);
        s = set_from_rows(b, &l, consumer->child[0]);
    }
    for (size_t r = 0; r < b->nrels; r++) {
        free(l.used[r]);
        free(l.slot[r]);
    }
    return s;
}

/*
 * diffguard.c: the differencing defence inside the guarded query (the
 * sketches themselves and the comparison are differencing.c).
 *
 * The threshold rewrite (threshold.c) calls pv_diff_add_sketch for every
 * unit slot of EVERY aggregate when the defence is on: a hidden
 * UNIT_SKETCH(unit) column after the hidden counts, or for the unit sets
 * of released groups under it a UNIT_SKETCH_MERGE(set), its dataset
 * recorded in the expression's constant. So a group of an outer aggregate
 * over released groups carries the exact units of each dataset under it
 * (the union of its groups' units), however deep the nesting.
 * pv_release_guarded then applies the exact threshold and, to the groups
 * that pass it, the differencing check: inner groups too, since an outer
 * expression can single out one group (a CASE on its key, MAX) and release
 * its values; a group it suppresses is dropped like a small group, before
 * anything above sees it (counted in rows_differencing).
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "privacy/internal.h"

static dcr_status oom(pv_ctx *x)
{
    return dcr_fail(x->err, DCR_EINTERNAL, "out of memory");
}

dcr_status pv_diff_add_sketch(pv_ctx *x, dcr_plan *agg, size_t dataset, size_t pos, bool merge)
{
    if (!agg->child[0] || pos >= agg->child[0]->ncols)
        return dcr_fail(x->err, DCR_EINTERNAL, "differencing: unit slot out of range");
    size_t n = agg->ngroups + agg->naggs;
    dcr_expr **e = realloc(agg->exprs, (n + 1) * sizeof *e);
    if (!e)
        return oom(x);
    agg->exprs = e;
    dcr_type *t = realloc(agg->types, (agg->ncols + 1) * sizeof *t);
    if (!t)
        return oom(x);
    agg->types = t;
    char **nm = realloc(agg->names, (agg->ncols + 1) * sizeof *nm);
    if (!nm)
        return oom(x);
    agg->names = nm;
    dcr_expr *g = dcr_expr_new(DCR_EXPR_AGG, DCR_TYPE_TEXT, -1);
    dcr_expr *c = dcr_expr_new(DCR_EXPR_COLUMN, agg->child[0]->types[pos], -1);
    char *name = strdup("unit_sketch");
    char *label = strdup("unit");
    if (!g || !c || !name || !label) {
        dcr_expr_free(g);
        dcr_expr_free(c);
        free(name);
        free(label);
        return oom(x);
    }
    c->col = pos;
    c->rel = SIZE_MAX;
    c->label = label;
    g->agg = merge ? DCR_AGG_UNIT_SKETCH_MERGE : DCR_AGG_UNIT_SKETCH;
    g->value.i64 = (int64_t)dataset;
    dcr_status s = dcr_expr_add_arg(g, c, x->err);
    if (s != DCR_OK) {
        dcr_expr_free(g);
        free(name);
        return s;
    }
    e[n] = g;
    agg->naggs++;
    t[agg->ncols] = DCR_TYPE_TEXT;
    nm[agg->ncols] = name;
    agg->ncols++;
    return DCR_OK;
}

dcr_status pv_release_guarded(void *ctx, pv_ctx *x, const pv_thr *t, dcr_batch *rows, bool *keep,
                              dcr_error *err)
{
    dcr_status s = pv_release_exact(ctx, x, t, rows, keep, err);
    if (s != DCR_OK || !x->diff)
        return s;
    const dcr_plan *a = t->agg;
    size_t nsk = t->nsketch;
    if (nsk == 0)
        return DCR_OK; /* rests on no dataset (constants) */
    dcr_diff_slot *slots = calloc(nsk, sizeof *slots);
    size_t *cols = calloc(nsk, sizeof *cols);
    if (!slots || !cols) {
        free(slots);
        free(cols);
        return oom(x);
    }
    size_t j;
    for (j = 0; j < nsk; j++) {
        size_t i = t->nvisible + t->nslots + 1 + j; /* output column i is expression i */
        assert(a->exprs[i]->agg == DCR_AGG_UNIT_SKETCH ||
               a->exprs[i]->agg == DCR_AGG_UNIT_SKETCH_MERGE);
        slots[j].dataset = (size_t)a->exprs[i]->value.i64;
        cols[j] = i;
    }
    for (size_t r = 0; s == DCR_OK && r < rows->nrows; r++) {
        if (!keep[r])
            continue;
        for (j = 0; j < nsk; j++) {
            size_t len;
            const char *v = dcr_vec_text(&rows->cols[cols[j]], r, &len);
            slots[j].hashes = (const uint8_t *)v;
            slots[j].len = len;
        }
        bool suppress;
        uint64_t diff;
        s = dcr_diff_check_row(x->diff, slots, nsk, &suppress, &diff, err);
        if (s == DCR_OK && suppress) {
            keep[r] = false;
            x->report->rows_differencing++;
        }
    }
    free(slots);
    free(cols);
    return s;
}

/*
 * aggregate.c: hash aggregation (GROUP BY, aggregates, SELECT DISTINCT).
 *
 * Consumes its whole input: per batch it evaluates the group keys and the
 * aggregate arguments as vectors, maps each row to a dense group number
 * through a dcr_keytab (NULL keys form one group, as in SQL), and updates
 * per-group state arrays. DISTINCT aggregates first pass each (group,
 * value) pair through a second keytab and only count pairs seen first.
 * Without GROUP BY there is exactly one group, even for empty input.
 *
 * Results follow PostgreSQL except where docs/sql.md says otherwise:
 *   COUNT -> BIGINT; SUM(BIGINT) -> BIGINT, summed exactly in 128 bits and
 *   an error if the total does not fit (PostgreSQL returns NUMERIC);
 *   SUM(DOUBLE) -> DOUBLE; AVG -> DOUBLE (PostgreSQL: NUMERIC for BIGINT);
 *   MIN/MAX -> the argument's type; every aggregate but COUNT is NULL over
 *   no non-NULL values.
 */
#include <stdlib.h>
#include <string.h>

#include "exec/agg_sketch.h"
#include "exec/internal.h"

typedef struct {
    const dcr_expr *e;
    dcr_type in_type;
    int64_t *count;
    __int128 *isum;
    double *fsum;
    dcr_column best; /* MIN/MAX fixed-width: one row per group */
    char **txt;      /* MIN/MAX TEXT */
    size_t *txtlen;
    bool distinct;
    dcr_keytab seen;        /* (group, value) pairs, for DISTINCT */
    dcr_agg_sketch *sketch; /* UNIT_SKETCH (agg_sketch.c) */
} agg_state;

typedef struct {
    dcr_keytab groups;
    size_t cap; /* groups the per-group arrays can hold */
    size_t naggs;
    agg_state *aggs;
    size_t charged;
    uint32_t *gids;
    size_t gids_cap;
    uint64_t *hashes; /* scratch for dcr_keytab_upsert_batch, gids_cap each */
    uint32_t *ids;
    uint8_t *fresh;
    bool consumed;
    size_t emit;
    dcr_batch out;
} agg_op;

static dcr_status oom(dcr_error *err)
{
    return dcr_fail(err, DCR_EINTERNAL, "out of memory");
}

static void *grow(void *p, size_t old, size_t cap, size_t elem)
{
    uint8_t *q = realloc(p, cap * elem);
    if (q)
        memset(q + old * elem, 0, (cap - old) * elem);
    return q;
}

static dcr_status grow_state(agg_op *a, size_t need, dcr_error *err)
{
    if (need <= a->cap)
        return DCR_OK;
    size_t cap = a->cap ? a->cap : 64;
    while (cap < need)
        cap *= 2;
    for (size_t k = 0; k < a->naggs; k++) {
        agg_state *s = &a->aggs[k];
        if (s->sketch && dcr_agg_sketch_grow(s->sketch, cap, err) != DCR_OK)
            return DCR_EINTERNAL;
        void *c = grow(s->count, a->cap, cap, sizeof *s->count);
        if (!c)
            return oom(err);
        s->count = c;
        if (s->isum) {
            void *x = grow(s->isum, a->cap, cap, sizeof *s->isum);
            if (!x)
                return oom(err);
            s->isum = x;
        }
        if (s->fsum) {
            void *x = grow(s->fsum, a->cap, cap, sizeof *s->fsum);
            if (!x)
                return oom(err);
            s->fsum = x;
        }
        if (s->txt) {
            void *x = grow(s->txt, a->cap, cap, sizeof *s->txt);
            if (x)
                s->txt = x;
            void *y = x ? grow(s->txtlen, a->cap, cap, sizeof *s->txtlen) : NULL;
            if (!y)
                return oom(err);
            s->txtlen = y;
        }
        while (s->best.type != DCR_TYPE_TEXT &&
               (s->e->agg == DCR_AGG_MIN || s->e->agg == DCR_AGG_MAX) && s->best.nrows < cap) {
            dcr_status st = dcr_column_push_null(&s->best, err);
            if (st != DCR_OK)
                return st;
        }
    }
    a->cap = cap;
    return DCR_OK;
}

static dcr_status init_agg(agg_state *s, const dcr_expr *e, dcr_error *err)
{
    memset(s, 0, sizeof *s);
    s->e = e;
    s->in_type = e->nargs ? e->args[0]->type : DCR_TYPE_BIGINT;
    s->distinct = e->distinct;
    dcr_column_init(&s->best, s->in_type);
    if (e->agg == DCR_AGG_UNIT_SKETCH)
        return dcr_agg_sketch_new(&s->sketch, err); /* de-duplicates by itself */
    if (e->agg == DCR_AGG_SUM || e->agg == DCR_AGG_AVG) {
        if (s->in_type == DCR_TYPE_BIGINT)
            s->isum = calloc(1, sizeof *s->isum);
        else
            s->fsum = calloc(1, sizeof *s->fsum);
        if (!s->isum && !s->fsum)
            return oom(err);
    }
    if ((e->agg == DCR_AGG_MIN || e->agg == DCR_AGG_MAX) && s->in_type == DCR_TYPE_TEXT) {
        s->txt = calloc(1, sizeof *s->txt);
        s->txtlen = calloc(1, sizeof *s->txtlen);
        if (!s->txt || !s->txtlen)
            return oom(err);
    }
    if (s->distinct) {
        dcr_type kt[2] = {DCR_TYPE_BIGINT, s->in_type};
        return dcr_keytab_init(&s->seen, kt, 2, err);
    }
    return DCR_OK;
}

static void free_agg(agg_state *s, size_t cap)
{
    for (size_t g = 0; s->txt && g < cap; g++)
        if (s->txt[g]) {
            memset(s->txt[g], 0, s->txtlen[g]);
            free(s->txt[g]);
        }
    free(s->txt);
    free(s->txtlen);
    free(s->count);
    free(s->isum);
    free(s->fsum);
    dcr_column_free(&s->best);
    dcr_agg_sketch_free(s->sketch);
    if (s->distinct)
        dcr_keytab_free(&s->seen);
}

static size_t state_bytes(const agg_op *a)
{
    size_t n = dcr_keytab_bytes(&a->groups) + a->gids_cap * (sizeof *a->gids + 8 + 4 + 1);
    for (size_t k = 0; k < a->naggs; k++) {
        const agg_state *s = &a->aggs[k];
        n += a->cap * (sizeof *s->count + (s->isum ? 16 : 0) + (s->fsum ? 8 : 0));
        n += dcr_column_bytes(&s->best);
        for (size_t g = 0; s->txt && g < a->cap; g++)
            n += s->txtlen[g] + sizeof *s->txt + sizeof *s->txtlen;
        if (s->distinct)
            n += dcr_keytab_bytes(&s->seen);
        if (s->sketch)
            n += dcr_agg_sketch_bytes(s->sketch);
    }
    return n;
}

/* ---- updating ---- */

static dcr_status update_minmax_text(agg_state *s, size_t g, const dcr_column *v, size_t i,
                                     dcr_error *err)
{
    size_t len;
    const char *t = dcr_vec_text(v, i, &len);
    if (s->count[g] > 1) {
        size_t ol = s->txtlen[g];
        int c = memcmp(t, s->txt[g], len < ol ? len : ol);
        c = c ? c : (len > ol) - (len < ol);
        if ((s->e->agg == DCR_AGG_MIN) == (c >= 0))
            return DCR_OK;
    }
    char *copy = malloc(len + 1);
    if (!copy)
        return oom(err);
    memcpy(copy, t, len);
    if (s->txt[g]) {
        memset(s->txt[g], 0, s->txtlen[g]);
        free(s->txt[g]);
    }
    s->txt[g] = copy;
    s->txtlen[g] = len;
    return DCR_OK;
}

static void update_minmax_fixed(agg_state *s, size_t g, const dcr_column *v, size_t i)
{
    if (s->count[g] > 1) {
        int c = dcr_value_cmp(v, i, &s->best, g);
        if ((s->e->agg == DCR_AGG_MIN) == (c >= 0))
            return;
    }
    size_t w = dcr_type_width(v->type);
    memcpy((uint8_t *)s->best.values + g * w, (const uint8_t *)v->values + i * w, w);
    if (dcr_column_is_null(&s->best, g)) {
        s->best.valid[g >> 3] |= (uint8_t)(1u << (g & 7));
        s->best.nnulls--;
    }
}

static dcr_status update_agg(agg_op *a, agg_state *s, const dcr_column *gidvec, const dcr_column *v,
                             size_t n, dcr_error *err)
{
    const uint32_t *gids = a->gids;
    if (s->sketch)
        return dcr_agg_sketch_add(s->sketch, gids, v, n, err);
    if (s->distinct) { /* which (group, value) pairs are new; NULL values are skipped below */
        const dcr_column *cols[2] = {gidvec, v};
        dcr_status st =
            dcr_keytab_upsert_batch(&s->seen, cols, n, a->hashes, a->ids, a->fresh, err);
        if (st != DCR_OK)
            return st;
    }
    for (size_t i = 0; i < n; i++) {
        size_t g = gids[i];
        if (s->e->agg == DCR_AGG_COUNT_STAR) {
            s->count[g]++;
            continue;
        }
        if (dcr_column_is_null(v, i))
            continue;
        if (s->distinct && !a->fresh[i])
            continue;
        s->count[g]++;
        if (s->isum)
            s->isum[g] += ((const int64_t *)v->values)[i];
        else if (s->fsum)
            s->fsum[g] += ((const double *)v->values)[i];
        else if (s->txt) {
            dcr_status st = update_minmax_text(s, g, v, i, err);
            if (st != DCR_OK)
                return st;
        } else if (s->e->agg == DCR_AGG_MIN || s->e->agg == DCR_AGG_MAX)
            update_minmax_fixed(s, g, v, i);
    }
    return DCR_OK;
}

static dcr_status assign_groups(dcr_exec_node *n, agg_op *a, const dcr_batch *in, dcr_error *err)
{
    const dcr_plan *p = n->plan;
    if (p->ngroups == 0) { /* one group: no hashing */
        size_t id;
        bool fresh;
        dcr_status s =
            a->groups.n ? DCR_OK : dcr_keytab_upsert(&a->groups, NULL, 0, 0, &id, &fresh, err);
        memset(a->gids, 0, in->nrows * sizeof *a->gids);
        return s;
    }
    dcr_vec *keys = calloc(p->ngroups ? p->ngroups : 1, sizeof *keys);
    const dcr_column **cols = calloc(p->ngroups ? p->ngroups : 1, sizeof *cols);
    dcr_status s = keys && cols ? DCR_OK : oom(err);
    for (size_t k = 0; s == DCR_OK && k < p->ngroups; k++) {
        s = dcr_eval(n->ctx, p->exprs[k], in, NULL, &keys[k], err);
        cols[k] = keys[k].c;
    }
    if (s == DCR_OK)
        s = dcr_keytab_upsert_batch(&a->groups, cols, in->nrows, a->hashes, a->gids, NULL, err);
    s = s ? s : grow_state(a, a->groups.n, err);
    for (size_t k = 0; keys && k < p->ngroups; k++)
        dcr_vec_free(&keys[k]);
    free(keys);
    free(cols);
    return s;
}

static dcr_status consume_batch(dcr_exec_node *n, agg_op *a, const dcr_batch *in, dcr_error *err)
{
    if (in->nrows > a->gids_cap) {
        free(a->gids);
        free(a->hashes);
        free(a->ids);
        free(a->fresh);
        a->gids = malloc(in->nrows * sizeof *a->gids);
        a->hashes = malloc(in->nrows * sizeof *a->hashes);
        a->ids = malloc(in->nrows * sizeof *a->ids);
        a->fresh = malloc(in->nrows);
        a->gids_cap = in->nrows;
        if (!a->gids || !a->hashes || !a->ids || !a->fresh) {
            a->gids_cap = 0;
            return oom(err);
        }
    }
    dcr_status s = assign_groups(n, a, in, err);
    dcr_column gidvec;
    dcr_column_init(&gidvec, DCR_TYPE_BIGINT);
    bool need_gidvec = false;
    for (size_t k = 0; k < a->naggs; k++)
        need_gidvec |= a->aggs[k].distinct;
    if (s == DCR_OK && need_gidvec) {
        s = dcr_vec_alloc(&gidvec, DCR_TYPE_BIGINT, in->nrows, err);
        for (size_t i = 0; s == DCR_OK && i < in->nrows; i++)
            ((int64_t *)gidvec.values)[i] = a->gids[i];
    }
    for (size_t k = 0; s == DCR_OK && k < a->naggs; k++) {
        const dcr_expr *e = a->aggs[k].e;
        dcr_vec v = {0};
        if (e->nargs)
            s = dcr_eval(n->ctx, e->args[0], in, NULL, &v, err);
        if (s == DCR_OK)
            s = update_agg(a, &a->aggs[k], &gidvec, v.c, in->nrows, err);
        if (e->nargs)
            dcr_vec_free(&v);
    }
    dcr_column_free(&gidvec);
    if (s == DCR_OK) {
        size_t now = state_bytes(a);
        if (now > a->charged) {
            s = dcr_exec_charge(n->ctx, now - a->charged, err);
            a->charged = now;
        }
    }
    return s;
}

/* ---- output ---- */

static dcr_status emit_agg(dcr_exec_ctx *ctx, const agg_state *s, size_t g, dcr_column *out,
                           dcr_error *err)
{
    const dcr_expr *e = s->e;
    if (s->sketch)
        return dcr_agg_sketch_emit(s->sketch, g, out, err);
    int64_t c = s->count[g];
    if (e->agg == DCR_AGG_COUNT || e->agg == DCR_AGG_COUNT_STAR)
        return dcr_column_push_i64(out, c, err);
    if (c == 0)
        return dcr_column_push_null(out, err);
    if (e->agg == DCR_AGG_SUM && s->isum) {
        __int128 v = s->isum[g];
        if (v > INT64_MAX || v < INT64_MIN)
            return dcr_eval_fail(ctx, e, err, "bigint out of range (SUM)");
        return dcr_column_push_i64(out, (int64_t)v, err);
    }
    if (e->agg == DCR_AGG_SUM)
        return dcr_column_push_f64(out, s->fsum[g], err);
    if (e->agg == DCR_AGG_AVG) {
        double avg =
            s->isum ? (double)((long double)s->isum[g] / (long double)c) : s->fsum[g] / (double)c;
        return dcr_column_push_f64(out, avg, err);
    }
    if (s->txt)
        return dcr_column_push_text(out, s->txt[g], s->txtlen[g], err);
    return dcr_vec_push_from(out, &s->best, g, err);
}

static dcr_status agg_next(dcr_exec_node *n, dcr_batch **out, dcr_error *err)
{
    agg_op *a = n->state;
    const dcr_plan *p = n->plan;
    *out = NULL;
    dcr_status s = DCR_OK;
    while (!a->consumed) {
        dcr_batch *in;
        if ((s = n->child[0]->next(n->child[0], &in, err)) != DCR_OK)
            return s;
        if (!in) {
            a->consumed = true;
            break;
        }
        if ((s = consume_batch(n, a, in, err)) != DCR_OK)
            return s;
    }
    if (p->ngroups == 0 && a->groups.n == 0) { /* one row, even for no input */
        size_t id;
        bool fresh;
        s = dcr_keytab_upsert(&a->groups, NULL, 0, 0, &id, &fresh, err);
        s = s ? s : grow_state(a, 1, err);
        if (s != DCR_OK)
            return s;
    }
    if (a->emit >= a->groups.n)
        return DCR_OK;
    dcr_batch_clear(&a->out);
    size_t end = a->emit + n->ctx->batch_rows;
    end = end < a->groups.n ? end : a->groups.n;
    for (size_t k = 0; s == DCR_OK && k < p->ngroups; k++)
        for (size_t g = a->emit; s == DCR_OK && g < end; g++)
            s = dcr_vec_push_from(&a->out.cols[k], &a->groups.keys[k], g, err);
    for (size_t k = 0; s == DCR_OK && k < a->naggs; k++)
        for (size_t g = a->emit; s == DCR_OK && g < end; g++)
            s = emit_agg(n->ctx, &a->aggs[k], g, &a->out.cols[p->ngroups + k], err);
    a->out.nrows = end - a->emit;
    a->emit = end;
    *out = &a->out;
    return s;
}

static void agg_destroy(dcr_exec_node *n)
{
    agg_op *a = n->state;
    if (!a)
        return;
    for (size_t k = 0; a->aggs && k < a->naggs; k++)
        free_agg(&a->aggs[k], a->cap);
    free(a->aggs);
    dcr_keytab_free(&a->groups);
    free(a->gids);
    free(a->hashes);
    free(a->ids);
    free(a->fresh);
    dcr_batch_free(&a->out);
    dcr_exec_release(n->ctx, a->charged);
    free(a);
    n->state = NULL;
}

dcr_status dcr_exec_aggregate_init(dcr_exec_node *n, dcr_error *err)
{
    const dcr_plan *p = n->plan;
    agg_op *a = calloc(1, sizeof *a);
    if (!a)
        return oom(err);
    n->state = a;
    n->next = agg_next;
    n->destroy = agg_destroy;
    dcr_type *kt = calloc(p->ngroups ? p->ngroups : 1, sizeof *kt);
    if (!kt)
        return oom(err);
    for (size_t k = 0; k < p->ngroups; k++)
        kt[k] = p->exprs[k]->type;
    dcr_status s = dcr_keytab_init(&a->groups, kt, p->ngroups, err);
    free(kt);
    s = s ? s : dcr_batch_init(&a->out, p->types, p->ncols, err);
    if (s == DCR_OK && !(a->aggs = calloc(p->naggs ? p->naggs : 1, sizeof *a->aggs)))
        s = oom(err);
    for (size_t k = 0; s == DCR_OK && k < p->naggs; k++) {
        s = init_agg(&a->aggs[k], p->exprs[p->ngroups + k], err);
        a->naggs++;
    }
    return s ? s : grow_state(a, 1, err);
}

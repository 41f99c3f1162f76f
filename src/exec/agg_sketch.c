/*
 * agg_sketch.c: the UNIT_SKETCH aggregate: per group, the set of distinct
 * privacy-unit hashes (see agg_sketch.h).
 *
 * UNIT_SKETCH_MERGE (merge set) unions such values instead: an outer
 * aggregate over released groups rests on the units of the groups it
 * aggregates.
 *
 * A unit value is reduced to dcr_value_hash (the executor's 64-bit value
 * hash, equal values hash alike). Two distinct units colliding in 64 bits
 * merely look like one unit to the differencing defence; the privacy layer
 * maps these hashes through a keyed PRF before anything is stored, so the
 * stored sketches reveal nothing about the units.
 */
#include "exec/agg_sketch.h"

#include <stdlib.h>
#include <string.h>

#include "base/bytes.h"
#include "exec/batch.h"

typedef struct {
    uint64_t *h;
    size_t n, cap;
} group_set;

struct dcr_agg_sketch {
    group_set *groups;
    size_t ngroups;
    size_t bytes; /* of all h arrays */
    bool merge;   /* inputs are sets of hashes (UNIT_SKETCH_MERGE) */
};

static dcr_status oom(dcr_error *err)
{
    return dcr_fail(err, DCR_EINTERNAL, "out of memory");
}

dcr_status dcr_agg_sketch_new(dcr_agg_sketch **out, bool merge, dcr_error *err)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return oom(err);
    (*out)->merge = merge;
    return DCR_OK;
}

void dcr_agg_sketch_free(dcr_agg_sketch *s)
{
    if (!s)
        return;
    for (size_t g = 0; g < s->ngroups; g++)
        free(s->groups[g].h);
    free(s->groups);
    free(s);
}

dcr_status dcr_agg_sketch_grow(dcr_agg_sketch *s, size_t ngroups, dcr_error *err)
{
    if (ngroups <= s->ngroups)
        return DCR_OK;
    group_set *g = realloc(s->groups, ngroups * sizeof *g);
    if (!g)
        return oom(err);
    memset(g + s->ngroups, 0, (ngroups - s->ngroups) * sizeof *g);
    s->groups = g;
    s->ngroups = ngroups;
    return DCR_OK;
}

static int u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Sorts and de-duplicates a group's hashes. */
static void compact(group_set *g)
{
    if (g->n < 2)
        return;
    qsort(g->h, g->n, sizeof *g->h, u64_cmp);
    size_t w = 1;
    for (size_t i = 1; i < g->n; i++)
        if (g->h[i] != g->h[w - 1])
            g->h[w++] = g->h[i];
    g->n = w;
}

static dcr_status push(dcr_agg_sketch *s, group_set *g, uint64_t h, dcr_error *err)
{
    if (g->n == g->cap) {
        compact(g);
        /* Grow only when de-duplication freed less than half: the buffer
         * stays within twice the distinct count. */
        if (g->cap == 0 || g->n > g->cap / 2) {
            size_t cap = g->cap ? 2 * g->cap : 8;
            uint64_t *x = realloc(g->h, cap * sizeof *x);
            if (!x)
                return oom(err);
            s->bytes += (cap - g->cap) * sizeof *x;
            g->h = x;
            g->cap = cap;
        }
    }
    g->h[g->n++] = h;
    return DCR_OK;
}

/* Adds the hashes of one UNIT_SKETCH value (8 bytes each, little-endian). */
static dcr_status push_set(dcr_agg_sketch *s, group_set *g, const dcr_column *v, size_t i,
                           dcr_error *err)
{
    if (v->type != DCR_TYPE_TEXT)
        return dcr_fail(err, DCR_EINTERNAL, "unit sketch merge: not a sketch column");
    size_t len;
    const uint8_t *b = (const uint8_t *)dcr_vec_text(v, i, &len);
    if (len % 8 != 0)
        return dcr_fail(err, DCR_EINTERNAL, "unit sketch merge: a malformed sketch");
    dcr_status st = DCR_OK;
    for (size_t j = 0; st == DCR_OK && j < len; j += 8)
        st = push(s, g, dcr_get_u64le(b + j), err);
    return st;
}

dcr_status dcr_agg_sketch_add(dcr_agg_sketch *s, const uint32_t *gids, const dcr_column *v,
                              size_t n, dcr_error *err)
{
    for (size_t i = 0; i < n; i++) {
        if (dcr_column_is_null(v, i))
            continue;
        if (gids[i] >= s->ngroups)
            return dcr_fail(err, DCR_EINTERNAL, "unit sketch: group %u out of range", gids[i]);
        group_set *g = &s->groups[gids[i]];
        dcr_status st =
            s->merge ? push_set(s, g, v, i, err) : push(s, g, dcr_value_hash(v, i, 0), err);
        if (st != DCR_OK)
            return st;
    }
    return DCR_OK;
}

dcr_status dcr_agg_sketch_emit(dcr_agg_sketch *s, size_t g, dcr_column *out, dcr_error *err)
{
    if (g >= s->ngroups)
        return dcr_column_push_text(out, "", 0, err);
    group_set *gs = &s->groups[g];
    compact(gs);
    if (gs->n > UINT32_MAX / 8)
        return dcr_fail(err, DCR_EINPUT, "unit sketch: a group rests on more than %u units",
                        UINT32_MAX / 8);
    /* Rewrite in place as little-endian bytes, then append as one value. */
    for (size_t i = 0; i < gs->n; i++)
        dcr_put_u64le((uint8_t *)&gs->h[i], gs->h[i]);
    dcr_status st = dcr_column_push_text(out, (const char *)gs->h, gs->n * 8, err);
    free(gs->h);
    s->bytes -= gs->cap * sizeof *gs->h;
    *gs = (group_set){0};
    return st;
}

size_t dcr_agg_sketch_bytes(const dcr_agg_sketch *s)
{
    return s->bytes + s->ngroups * sizeof *s->groups;
}

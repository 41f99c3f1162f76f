/*
 * sort.c: ORDER BY. Holds its whole input (charged to the memory budget),
 * sorts references (batch, row) with a stable merge sort on the key
 * columns, then emits rows in order.
 *
 * Order per key: NULLs first or last as the plan says (PostgreSQL's
 * default: NULLS LAST for ASC, NULLS FIRST for DESC); values by
 * dcr_value_cmp (TEXT bytewise, DOUBLE with NaN above all numbers). Ties
 * keep input order.
 */
#include <stdlib.h>
#include <string.h>

#include "exec/internal.h"

typedef struct {
    dcr_batch *held;
    size_t nheld, capheld;
    uint64_t *refs; /* batch << 32 | row */
    size_t nrefs;
    size_t charged;
    bool sorted;
    size_t emit;
    dcr_batch out;
} sort_op;

static dcr_status oom(dcr_error *err)
{
    return dcr_fail(err, DCR_EINTERNAL, "out of memory");
}

static int compare_refs(const dcr_plan *p, const dcr_batch *held, uint64_t x, uint64_t y)
{
    const dcr_batch *bx = &held[x >> 32], *by = &held[y >> 32];
    size_t rx = (uint32_t)x, ry = (uint32_t)y;
    for (size_t k = 0; k < p->nsort; k++) {
        const dcr_sort_key *key = &p->sort[k];
        const dcr_column *cx = &bx->cols[key->col], *cy = &by->cols[key->col];
        bool nx = dcr_column_is_null(cx, rx), ny = dcr_column_is_null(cy, ry);
        if (nx || ny) {
            if (nx && ny)
                continue;
            return (nx ? 1 : -1) * (key->nulls_first ? -1 : 1);
        }
        int c = dcr_value_cmp(cx, rx, cy, ry);
        if (c)
            return key->desc ? -c : c;
    }
    return 0;
}

static void merge_sort(const dcr_plan *p, const dcr_batch *held, uint64_t *a, uint64_t *tmp,
                       size_t n)
{
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n;
            size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                tmp[k++] = compare_refs(p, held, a[j], a[i]) < 0 ? a[j++] : a[i++];
            while (i < mid)
                tmp[k++] = a[i++];
            while (j < hi)
                tmp[k++] = a[j++];
        }
        memcpy(a, tmp, n * sizeof *a);
    }
}

static dcr_status hold(dcr_exec_node *n, sort_op *s, const dcr_batch *in, dcr_error *err)
{
    if (s->nheld == UINT32_MAX)
        return dcr_fail(err, DCR_EINPUT, "too many batches to sort");
    if (s->nheld == s->capheld) {
        size_t cap = s->capheld ? s->capheld * 2 : 16;
        dcr_batch *h = realloc(s->held, cap * sizeof *h);
        if (!h)
            return oom(err);
        s->held = h;
        s->capheld = cap;
    }
    dcr_batch *b = &s->held[s->nheld];
    dcr_status st = dcr_batch_init(b, n->plan->types, n->plan->ncols, err);
    if (st != DCR_OK)
        return st;
    s->nheld++;
    st = dcr_batch_append_rows(b, in, NULL, 0, in->nrows, err);
    size_t bytes = dcr_batch_bytes(b) + in->nrows * 2 * sizeof(uint64_t);
    s->charged += bytes;
    return st ? st : dcr_exec_charge(n->ctx, bytes, err);
}

static dcr_status sort_all(sort_op *s, const dcr_plan *p, dcr_error *err)
{
    size_t n = 0;
    for (size_t b = 0; b < s->nheld; b++)
        n += s->held[b].nrows;
    s->refs = malloc((n ? n : 1) * sizeof *s->refs);
    uint64_t *tmp = malloc((n ? n : 1) * sizeof *tmp);
    if (!s->refs || !tmp) {
        free(tmp);
        return oom(err);
    }
    for (size_t b = 0; b < s->nheld; b++)
        for (size_t r = 0; r < s->held[b].nrows; r++)
            s->refs[s->nrefs++] = (uint64_t)b << 32 | r;
    merge_sort(p, s->held, s->refs, tmp, n);
    free(tmp);
    return DCR_OK;
}

static dcr_status sort_next(dcr_exec_node *n, dcr_batch **out, dcr_error *err)
{
    sort_op *s = n->state;
    *out = NULL;
    dcr_status st;
    while (!s->sorted) {
        dcr_batch *in;
        if ((st = n->child[0]->next(n->child[0], &in, err)) != DCR_OK)
            return st;
        if (!in) {
            if ((st = sort_all(s, n->plan, err)) != DCR_OK)
                return st;
            s->sorted = true;
        } else if (in->nrows && (st = hold(n, s, in, err)) != DCR_OK) {
            return st;
        }
    }
    if (s->emit >= s->nrefs)
        return DCR_OK;
    dcr_batch_clear(&s->out);
    size_t end = s->emit + n->ctx->batch_rows;
    end = end < s->nrefs ? end : s->nrefs;
    st = DCR_OK;
    for (size_t c = 0; st == DCR_OK && c < s->out.ncols; c++)
        for (size_t i = s->emit; st == DCR_OK && i < end; i++)
            st = dcr_vec_push_from(&s->out.cols[c], &s->held[s->refs[i] >> 32].cols[c],
                                   (uint32_t)s->refs[i], err);
    s->out.nrows = end - s->emit;
    s->emit = end;
    *out = &s->out;
    return st;
}

static void sort_destroy(dcr_exec_node *n)
{
    sort_op *s = n->state;
    if (!s)
        return;
    for (size_t b = 0; b < s->nheld; b++)
        dcr_batch_free(&s->held[b]);
    free(s->held);
    free(s->refs);
    dcr_batch_free(&s->out);
    dcr_exec_release(n->ctx, s->charged);
    free(s);
    n->state = NULL;
}

dcr_status dcr_exec_sort_init(dcr_exec_node *n, dcr_error *err)
{
    sort_op *s = calloc(1, sizeof *s);
    if (!s)
        return oom(err);
    n->state = s;
    n->next = sort_next;
    n->destroy = sort_destroy;
    return dcr_batch_init(&s->out, n->plan->types, n->plan->ncols, err);
}

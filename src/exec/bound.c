/*
 * bound.c: the contribution-bounding operator (plan kind BOUND), which
 * differential privacy (privacy/dp.c) puts under an aggregate so that one
 * privacy unit can change the aggregate's output only by a known amount.
 *
 * It consumes its whole input, then keeps, per privacy unit:
 *   - at most bound_rows rows of each (unit, group key) pair, and
 *   - at most bound_groups distinct group keys,
 * and passes the kept rows on in input order. Which rows and which keys are
 * kept is decided by independent random priorities from the CSPRNG (the
 * smallest win), so the choice is uniform and independent of the order of
 * the data: an analyst cannot steer it by how rows happen to be stored, and
 * the choice for one unit does not depend on any other unit's rows (which
 * the privacy proof needs).
 *
 * Memory: the input is held (charged to the query's memory limit) plus a
 * few words per row and per (unit, key) pair.
 */
#include <stdlib.h>
#include <string.h>

#include "crypto/util.h"
#include "exec/internal.h"

typedef struct {
    size_t nbatches;
    dcr_batch *batches; /* the input, copied */
    size_t nrows;
    uint32_t *pair;  /* row -> (unit, key) pair */
    uint64_t *rprio; /* row priority */
    dcr_keytab pairs, units;
    uint32_t *pair_unit; /* pair -> unit */
    uint64_t *pprio;     /* pair priority */
    size_t pcap;
    uint8_t *keep_row, *keep_pair;
    bool consumed;
    size_t emit; /* next input batch to emit */
    dcr_batch out;
    size_t charged;
} bound_op;

static dcr_status oom(dcr_error *err)
{
    return dcr_fail(err, DCR_EINTERNAL, "out of memory");
}

static dcr_status charge(dcr_exec_node *n, bound_op *b, size_t bytes, dcr_error *err)
{
    b->charged += bytes;
    return dcr_exec_charge(n->ctx, bytes, err);
}

static dcr_status grow_rows(dcr_exec_node *n, bound_op *b, size_t need, dcr_error *err)
{
    uint32_t *p = realloc(b->pair, need * sizeof *p);
    if (p)
        b->pair = p;
    uint64_t *r = realloc(b->rprio, need * sizeof *r);
    if (r)
        b->rprio = r;
    if (!p || !r)
        return oom(err);
    return charge(n, b, (need - b->nrows) * (sizeof *p + sizeof *r + 1), err);
}

static dcr_status grow_pairs(bound_op *b, size_t need, dcr_error *err)
{
    if (need <= b->pcap)
        return DCR_OK;
    size_t cap = b->pcap ? b->pcap * 2 : 1024;
    while (cap < need)
        cap *= 2;
    uint32_t *u = realloc(b->pair_unit, cap * sizeof *u);
    if (u)
        b->pair_unit = u;
    uint64_t *p = realloc(b->pprio, cap * sizeof *p);
    if (p)
        b->pprio = p;
    if (!u || !p)
        return oom(err);
    b->pcap = cap;
    return DCR_OK;
}

/* Copies one input batch and maps its rows to (unit, key) pairs. */
static dcr_status consume(dcr_exec_node *n, bound_op *b, const dcr_batch *in, dcr_error *err)
{
    const dcr_plan *p = n->plan;
    if (b->nrows + in->nrows > UINT32_MAX)
        return dcr_fail(err, DCR_EINPUT,
                        "contribution bounding holds at most 2^32 rows; make the query smaller");
    dcr_batch *bs = realloc(b->batches, (b->nbatches + 1) * sizeof *bs);
    if (!bs)
        return oom(err);
    b->batches = bs;
    const dcr_type *types = p->types;
    dcr_status s = dcr_batch_init(&bs[b->nbatches], types, p->ncols, err);
    if (s != DCR_OK)
        return s;
    dcr_batch *copy = &bs[b->nbatches++];
    s = dcr_batch_append_rows(copy, in, NULL, 0, in->nrows, err);
    s = s ? s : charge(n, b, dcr_batch_bytes(copy), err);
    s = s ? s : grow_rows(n, b, b->nrows + in->nrows, err);
    s = s ? s : dcr_random_bytes(b->rprio + b->nrows, in->nrows * sizeof *b->rprio, err);
    if (s != DCR_OK)
        return s;
    size_t nk = 1 + p->nbound_keys;
    const dcr_column *cols[1 + 64];
    if (nk > sizeof cols / sizeof cols[0])
        return dcr_fail(err, DCR_EINPUT, "contribution bounding supports at most 64 group keys");
    cols[0] = &copy->cols[p->bound_unit];
    for (size_t k = 0; k < p->nbound_keys; k++)
        cols[1 + k] = &copy->cols[p->bound_keys[k]];
    size_t before = dcr_keytab_bytes(&b->pairs) + dcr_keytab_bytes(&b->units);
    for (size_t r = 0; s == DCR_OK && r < copy->nrows; r++) {
        size_t pid, uid;
        bool fresh;
        s = dcr_keytab_upsert(&b->pairs, cols, r, dcr_keytab_hash(cols, nk, r), &pid, &fresh, err);
        if (s == DCR_OK && fresh) {
            s = dcr_keytab_upsert(&b->units, cols, r, dcr_keytab_hash(cols, 1, r), &uid, &fresh,
                                  err);
            s = s ? s : grow_pairs(b, pid + 1, err);
            s = s ? s : dcr_random_bytes(&b->pprio[pid], sizeof b->pprio[pid], err);
            if (s == DCR_OK)
                b->pair_unit[pid] = (uint32_t)uid;
        }
        if (s == DCR_OK)
            b->pair[b->nrows + r] = (uint32_t)pid;
    }
    b->nrows += copy->nrows;
    size_t after = dcr_keytab_bytes(&b->pairs) + dcr_keytab_bytes(&b->units);
    return s ? s : charge(n, b, after > before ? after - before : 0, err);
}

typedef struct {
    uint64_t prio;
    uint32_t idx;
} ranked;

/* By priority; ties (practically impossible with 64 random bits) by index. */
static int by_prio(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->prio != y->prio)
        return x->prio < y->prio ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* items[0..n) each belong to one of nbuckets buckets (owner[i]); keeps, in
 * every bucket, the `limit` items with the smallest priority: keep[i] = 1
 * for kept items, 0 otherwise. A counting sort groups the buckets; only
 * buckets over the limit are sorted. */
static dcr_status keep_smallest(size_t n, const uint32_t *owner, size_t nbuckets,
                                const uint64_t *prio, int64_t limit, uint8_t *keep, dcr_error *err)
{
    size_t *start = calloc(nbuckets + 1, sizeof *start);
    size_t *fill = malloc((nbuckets ? nbuckets : 1) * sizeof *fill);
    ranked *order = malloc((n ? n : 1) * sizeof *order);
    if (!start || !fill || !order) {
        free(start);
        free(fill);
        free(order);
        return oom(err);
    }
    for (size_t i = 0; i < n; i++)
        start[owner[i] + 1]++;
    for (size_t k = 0; k < nbuckets; k++)
        start[k + 1] += start[k];
    memcpy(fill, start, nbuckets * sizeof *fill);
    for (size_t i = 0; i < n; i++)
        order[fill[owner[i]]++] = (ranked){prio[i], (uint32_t)i};
    free(fill);
    memset(keep, 1, n);
    for (size_t k = 0; k < nbuckets; k++) {
        size_t cnt = start[k + 1] - start[k];
        if (cnt <= (uint64_t)limit)
            continue;
        qsort(order + start[k], cnt, sizeof *order, by_prio);
        for (size_t j = (size_t)limit; j < cnt; j++)
            keep[order[start[k] + j].idx] = 0;
    }
    free(start);
    free(order);
    return DCR_OK;
}

static dcr_status select_rows(dcr_exec_node *n, bound_op *b, dcr_error *err)
{
    const dcr_plan *p = n->plan;
    size_t npairs = b->pairs.n;
    b->keep_row = malloc(b->nrows ? b->nrows : 1);
    b->keep_pair = malloc(npairs ? npairs : 1);
    if (!b->keep_row || !b->keep_pair)
        return oom(err);
    dcr_status s = charge(n, b, npairs * (sizeof(uint32_t) + 1), err);
    s = s ? s : keep_smallest(b->nrows, b->pair, npairs, b->rprio, p->bound_rows, b->keep_row, err);
    s = s ? s
          : keep_smallest(npairs, b->pair_unit, b->units.n, b->pprio, p->bound_groups, b->keep_pair,
                          err);
    for (size_t r = 0; s == DCR_OK && r < b->nrows; r++)
        b->keep_row[r] &= b->keep_pair[b->pair[r]];
    return s;
}

static dcr_status bound_next(dcr_exec_node *n, dcr_batch **out, dcr_error *err)
{
    bound_op *b = n->state;
    *out = NULL;
    dcr_status s = DCR_OK;
    while (!b->consumed) {
        dcr_batch *in;
        if ((s = n->child[0]->next(n->child[0], &in, err)) != DCR_OK)
            return s;
        if (!in) {
            b->consumed = true;
            s = select_rows(n, b, err);
            if (s != DCR_OK)
                return s;
            break;
        }
        if (in->nrows && (s = consume(n, b, in, err)) != DCR_OK)
            return s;
    }
    uint32_t *sel = NULL;
    size_t first = 0;
    for (size_t k = 0; k < b->emit; k++)
        first += b->batches[k].nrows;
    while (b->emit < b->nbatches) {
        const dcr_batch *in = &b->batches[b->emit];
        free(sel);
        if (!(sel = malloc((in->nrows ? in->nrows : 1) * sizeof *sel)))
            return oom(err);
        size_t m = 0;
        for (size_t r = 0; r < in->nrows; r++)
            if (b->keep_row[first + r])
                sel[m++] = (uint32_t)r;
        first += in->nrows;
        b->emit++;
        if (m == 0)
            continue;
        dcr_batch_clear(&b->out);
        s = dcr_batch_append_rows(&b->out, in, sel, 0, m, err);
        free(sel);
        if (s != DCR_OK)
            return s;
        *out = &b->out;
        return DCR_OK;
    }
    free(sel);
    return DCR_OK;
}

static void bound_destroy(dcr_exec_node *n)
{
    bound_op *b = n->state;
    if (!b)
        return;
    for (size_t i = 0; i < b->nbatches; i++)
        dcr_batch_free(&b->batches[i]);
    free(b->batches);
    free(b->pair);
    free(b->rprio);
    free(b->pair_unit);
    free(b->pprio);
    free(b->keep_row);
    free(b->keep_pair);
    dcr_keytab_free(&b->pairs);
    dcr_keytab_free(&b->units);
    dcr_batch_free(&b->out);
    dcr_exec_release(n->ctx, b->charged);
    free(b);
    n->state = NULL;
}

dcr_status dcr_exec_bound_init(dcr_exec_node *n, dcr_error *err)
{
    const dcr_plan *p = n->plan;
    if (p->bound_rows < 1 || p->bound_groups < 1 || p->bound_unit >= p->ncols)
        return dcr_fail(err, DCR_EINTERNAL, "bad contribution bound");
    for (size_t k = 0; k < p->nbound_keys; k++)
        if (p->bound_keys[k] >= p->ncols)
            return dcr_fail(err, DCR_EINTERNAL, "bad contribution bound key");
    bound_op *b = calloc(1, sizeof *b);
    if (!b)
        return oom(err);
    n->state = b;
    n->next = bound_next;
    n->destroy = bound_destroy;
    dcr_type kt[1 + 64];
    if (p->nbound_keys > 64)
        return dcr_fail(err, DCR_EINPUT, "contribution bounding supports at most 64 group keys");
    kt[0] = p->types[p->bound_unit];
    for (size_t k = 0; k < p->nbound_keys; k++)
        kt[1 + k] = p->types[p->bound_keys[k]];
    dcr_status s = dcr_keytab_init(&b->pairs, kt, 1 + p->nbound_keys, err);
    s = s ? s : dcr_keytab_init(&b->units, kt, 1, err);
    return s ? s : dcr_batch_init(&b->out, p->types, p->ncols, err);
}

/*
 * aggregate.c: hash aggregation (GROUP BY, aggregates, SELECT DISTINCT), on
 * all the query's threads.
 *
 * Consumes its whole input. The groups are split by the hash of their key
 * into P partitions (P = the query's threads), each with its own dcr_keytab
 * (key -> dense group number; NULL keys form one group, as in SQL) and its
 * own per-group state arrays, so no two threads ever touch one group. Per
 * input batch:
 *   1. the query's thread evaluates the group keys and aggregate arguments
 *      as vectors;
 *   2. (parallel, by row range) each row's key hash and partition;
 *   3. (parallel, a part per partition) each partition finds or inserts its
 *      rows' keys, in row order;
 *   4. DISTINCT aggregates only: each non-NULL value gets a number from an
 *      intern table (value -> number, P keytabs split by the value's hash,
 *      filled in step 3 alongside the groups; its hash is taken in step 2),
 *      so a (group, value) pair is one 64-bit word; then (parallel, by row
 *      range) each pair's hash, and (a part per pair partition) which pairs
 *      are new, in P u64sets split by the pair's hash. So COUNT(DISTINCT
 *      user) over a few groups (50 campaigns x 2M users) spreads its big
 *      table and its lookups over all threads, and holds each user's bytes
 *      once, not once per campaign;
 *   5. (a part per partition) each partition updates its groups' states
 *      from its rows, in row order.
 * Why partitions rather than per-thread partial states merged at the end:
 * every group's state is updated by one thread in input order, so results
 * are bit-identical whatever the thread count (a float SUM adds in the same
 * order), there is nothing to merge (the DISTINCT pair sets are disjoint by
 * construction), and a GROUP BY over 2M users holds each group once, not
 * once per thread. The price: with one group (no GROUP BY) or a few skewed
 * ones, step 5 runs mostly on one thread; it is the cheap step (adding to
 * arrays), and the hashing and the DISTINCT pairs are still split evenly.
 * One GROUP BY key that came from a dictionary-encoded chunk carries codes
 * (store/column.h): its hash is then taken once per code, and a partition
 * looks each code up once per batch (coded_groups), so grouping 10M rows by
 * 50 campaign names costs an array read per row instead of a hash, a probe
 * and a key comparison.
 * Output keeps the single-threaded order (groups by first appearance): each
 * group remembers the input row it first appeared in, and the partitions
 * are merged on that.
 *
 * Memory: the query's thread charges every partition's tables and arrays
 * after each batch (the parts never call dcr_exec_charge), so the limit
 * error is raised as without threads, at most one batch late.
 * UNIT_SKETCH and UNIT_SKETCH_MERGE (agg_sketch.c, the privacy layer's
 * hidden columns) keep one
 * partition, i.e. runs single-threaded: its per-group buffers are not
 * partitioned, and its inputs are small (privacy queries), so exactness is
 * not worth risking for speed there.
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

#include "base/memory.h"
#include "crypto/util.h"
#include "exec/agg_sketch.h"
#include "exec/internal.h"

enum { MAX_PARTS = 64 };

typedef struct {
    const dcr_expr *e;
    dcr_type in_type;
    int64_t *count;
    __int128 *isum;
    double *fsum;
    dcr_column best; /* MIN/MAX fixed-width: one row per group */
    char **txt;      /* MIN/MAX TEXT */
    size_t *txtlen;
    /* Each array's own capacity, for dcr_big_free: a grow that fails half
     * way leaves the arrays at different sizes. */
    size_t count_cap, isum_cap, fsum_cap, txt_cap, txtlen_cap;
    bool distinct;
    dcr_keytab values;      /* DISTINCT, in part q: value partition q's values -> numbers */
    dcr_u64set pairs;       /* DISTINCT, in part q: pair partition q's (group, value) pairs */
    dcr_agg_sketch *sketch; /* UNIT_SKETCH (agg_sketch.c) */
} agg_state;

/* One partition of the groups (and, for DISTINCT, of the pairs). */
typedef struct {
    dcr_keytab groups;
    size_t cap; /* groups the per-group arrays can hold */
    agg_state *aggs;
    uint64_t *first;  /* per group: the input row it first appeared in */
    size_t first_cap; /* its capacity (see agg_state) */
    uint32_t *rows;   /* this batch's rows of the partition, in order */
    size_t nrows;
    uint32_t *prows; /* scratch: the rows new groups came from; a pair partition's rows */
    uint32_t *cgid;  /* coded key: per code, its group in this batch (NO_GROUP: not seen) */
} agg_part;

#define NO_GROUP UINT32_MAX
enum { CODED_MAX = 4096 }; /* codes worth a per-batch table */

/* A DISTINCT aggregate's per-row scratch. A pair is (the group's number
 * over all partitions << 32 | the value's number over all partitions); a
 * partition's k-th entry is number k * P + partition. */
typedef struct {
    uint64_t *hash; /* per row: its value's hash (steps 2-3), then its pair's */
    uint8_t *part;  /* per row: its value's partition, then its pair's; NO_PART if NULL */
    uint32_t *vid;  /* per row: its value's entry in its value partition */
    uint64_t *key;  /* per row: its pair */
    uint8_t *fresh; /* per row: the pair is new */
} pair_rows;

#define NO_PART 0xff

typedef struct {
    dcr_exec_node *n;
    size_t nparts;
    agg_part *parts;
    size_t naggs;
    bool any_distinct;
    size_t charged;
    /* the current batch */
    size_t rows, cap; /* rows, and rows the per-row arrays hold */
    size_t ranges;    /* row ranges the per-row steps are split into */
    uint64_t base;    /* input rows before this batch */
    const dcr_column **keys;
    dcr_vec *keyvecs;
    dcr_vec *args; /* per aggregate: its argument (c NULL for COUNT(*)) */
    uint64_t *ghash;
    uint8_t *gpart;
    const uint16_t *codes; /* the key's codes this batch, or NULL (see the top) */
    uint64_t *chash;       /* per code: its key's hash */
    uint32_t *gid;         /* per row: its group within its partition */
    pair_rows *pairs;      /* per aggregate (DISTINCT ones) */
    /* output */
    bool consumed;
    bool released;  /* every group was emitted and freed (release_groups) */
    size_t *cursor; /* per partition: its next group to emit */
    uint32_t *opart, *ogid;
    /* one output batch's keys or counts, gathered for a bulk append */
    const char **otext;
    uint32_t *olen;
    int64_t *oval;
    dcr_batch out;
} agg_op;

static dcr_status oom(dcr_error *err)
{
    return dcr_fail(err, DCR_EINTERNAL, "out of memory");
}

/* Grows a zero-filled state array from old to cap elements; NULL (p still
 * valid) when out of memory. A big one grows by mremap (dcr_big_resize):
 * neither copied nor zeroed by hand, as its new pages come zero; free it
 * with dcr_big_free and its capacity. */
static void *grow(void *p, size_t old, size_t cap, size_t elem)
{
    uint8_t *q = dcr_big_resize(p, old * elem, cap * elem);
    if (q && cap * elem < DCR_BIG_BYTES)
        memset(q + old * elem, 0, (cap - old) * elem);
    return q;
}

/* The partition of a hash: from its bits mixed, so it is independent of
 * the bits the keytabs use for slots and tags. */
static inline size_t part_of(uint64_t h, size_t nparts)
{
    return (size_t)((((h * 0x9e3779b97f4a7c15ull) >> 32) * nparts) >> 32);
}

static dcr_status grow_state(agg_op *a, agg_part *pt, size_t need, dcr_error *err)
{
    if (need <= pt->cap)
        return DCR_OK;
    size_t cap = pt->cap ? pt->cap : 64;
    while (cap < need)
        cap *= 2;
    void *f = grow(pt->first, pt->first_cap, cap, sizeof *pt->first);
    if (!f)
        return oom(err);
    pt->first = f;
    pt->first_cap = cap;
    for (size_t k = 0; k < a->naggs; k++) {
        agg_state *s = &pt->aggs[k];
        if (s->sketch && dcr_agg_sketch_grow(s->sketch, cap, err) != DCR_OK)
            return DCR_EINTERNAL;
        void *c = grow(s->count, s->count_cap, cap, sizeof *s->count);
        if (!c)
            return oom(err);
        s->count = c;
        s->count_cap = cap;
        if (s->isum) {
            void *x = grow(s->isum, s->isum_cap, cap, sizeof *s->isum);
            if (!x)
                return oom(err);
            s->isum = x;
            s->isum_cap = cap;
        }
        if (s->fsum) {
            void *x = grow(s->fsum, s->fsum_cap, cap, sizeof *s->fsum);
            if (!x)
                return oom(err);
            s->fsum = x;
            s->fsum_cap = cap;
        }
        if (s->txt) {
            void *x = grow(s->txt, s->txt_cap, cap, sizeof *s->txt);
            if (!x)
                return oom(err);
            s->txt = x;
            s->txt_cap = cap;
            void *y = grow(s->txtlen, s->txtlen_cap, cap, sizeof *s->txtlen);
            if (!y)
                return oom(err);
            s->txtlen = y;
            s->txtlen_cap = cap;
        }
        while (s->best.type != DCR_TYPE_TEXT &&
               (s->e->agg == DCR_AGG_MIN || s->e->agg == DCR_AGG_MAX) && s->best.nrows < cap) {
            dcr_status st = dcr_column_push_null(&s->best, err);
            if (st != DCR_OK)
                return st;
        }
    }
    pt->cap = cap;
    return DCR_OK;
}

static dcr_status init_agg(agg_state *s, const dcr_expr *e, dcr_error *err)
{
    memset(s, 0, sizeof *s);
    s->e = e;
    s->in_type = e->nargs ? e->args[0]->type : DCR_TYPE_BIGINT;
    s->distinct = e->distinct;
    dcr_column_init(&s->best, s->in_type);
    if (e->agg == DCR_AGG_UNIT_SKETCH || e->agg == DCR_AGG_UNIT_SKETCH_MERGE)
        return dcr_agg_sketch_new(&s->sketch, e->agg == DCR_AGG_UNIT_SKETCH_MERGE,
                                  err); /* de-duplicates by itself */
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
    dcr_u64set_init(&s->pairs);
    return s->distinct ? dcr_keytab_init(&s->values, &s->in_type, 1, err) : DCR_OK;
}

static void free_agg(agg_state *s)
{
    for (size_t g = 0; s->txt && g < s->txt_cap; g++)
        if (s->txt[g]) /* a memset before free may be optimised away */
            dcr_wipe_free(s->txt[g], g < s->txtlen_cap ? s->txtlen[g] : 0);
    dcr_big_free(s->txt, s->txt_cap * sizeof *s->txt);
    dcr_big_free(s->txtlen, s->txtlen_cap * sizeof *s->txtlen);
    dcr_big_free(s->count, s->count_cap * sizeof *s->count);
    dcr_big_free(s->isum, s->isum_cap * sizeof *s->isum);
    dcr_big_free(s->fsum, s->fsum_cap * sizeof *s->fsum);
    dcr_column_free(&s->best);
    dcr_agg_sketch_free(s->sketch);
    if (s->distinct)
        dcr_keytab_free(&s->values);
    dcr_u64set_free(&s->pairs);
}

static size_t state_bytes(const agg_op *a)
{
    size_t n = a->cap * (8 + 1 + 4 + 8);
    for (size_t k = 0; k < a->naggs; k++)
        if (a->pairs[k].hash)
            n += a->cap * (8 + 1 + 4 + 8 + 1);
    for (size_t t = 0; t < a->nparts; t++) {
        const agg_part *pt = &a->parts[t];
        n += dcr_keytab_bytes(&pt->groups) + pt->cap * sizeof *pt->first;
        n += a->cap * 2 * sizeof *pt->rows;
        for (size_t k = 0; k < a->naggs; k++) {
            const agg_state *s = &pt->aggs[k];
            n += pt->cap * (sizeof *s->count + (s->isum ? 16 : 0) + (s->fsum ? 8 : 0));
            n += dcr_column_bytes(&s->best);
            for (size_t g = 0; s->txt && g < pt->cap; g++)
                n += s->txtlen[g] + sizeof *s->txt + sizeof *s->txtlen;
            if (s->distinct)
                n += dcr_keytab_bytes(&s->values) + dcr_u64set_bytes(&s->pairs);
            if (s->sketch)
                n += dcr_agg_sketch_bytes(s->sketch);
        }
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
    if (s->txt[g])
        dcr_wipe_free(s->txt[g], s->txtlen[g]);
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

/* Step 5 for partition t: its rows, in order, into its groups' states. */
static dcr_status update_part(agg_op *a, size_t t, dcr_error *err)
{
    agg_part *pt = &a->parts[t];
    for (size_t k = 0; k < a->naggs; k++) {
        agg_state *s = &pt->aggs[k];
        const dcr_column *v = a->args[k].c;
        const uint8_t *fresh = a->pairs[k].fresh;
        if (s->sketch) { /* one partition: rows are 0..rows-1 */
            dcr_status st = dcr_agg_sketch_add(s->sketch, a->gid, v, a->rows, err);
            if (st != DCR_OK)
                return st;
            continue;
        }
        const uint32_t *rows = pt->rows, *gid = a->gid;
        int64_t *count = s->count;
        if (s->e->agg == DCR_AGG_COUNT_STAR) { /* the common kinds in loops of their own */
            for (size_t j = 0; j < pt->nrows; j++)
                count[gid[rows[j]]]++;
            continue;
        }
        bool nulls = v->nnulls != 0;
        if (s->e->agg == DCR_AGG_COUNT) { /* COUNT(x), COUNT(DISTINCT x) */
            for (size_t j = 0; j < pt->nrows; j++) {
                size_t i = rows[j];
                if (!(nulls && dcr_column_is_null(v, i)) && !(s->distinct && !fresh[i]))
                    count[gid[i]]++;
            }
            continue;
        }
        for (size_t j = 0; j < pt->nrows; j++) {
            size_t i = pt->rows[j], g = a->gid[i];
            if (dcr_column_is_null(v, i))
                continue;
            if (s->distinct && !fresh[i])
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
    }
    return DCR_OK;
}

/* Step 2: key hashes and partitions of a range of rows. */
static dcr_status hash_range(void *arg, size_t r, dcr_error *err)
{
    (void)err;
    agg_op *a = arg;
    size_t from = a->rows * r / a->ranges, to = a->rows * (r + 1) / a->ranges;
    size_t nk = a->n->plan->ngroups;
    if (!a->codes)
        dcr_keytab_hash_rows(a->keys, nk, from, to, a->ghash + from);
    else /* a coded key: each code's hash was taken once (use_codes) */
        for (size_t i = from; i < to; i++)
            a->ghash[i] = !dcr_column_is_null(a->keys[0], i) ? a->chash[a->codes[i]]
                                                             : dcr_keytab_hash(a->keys, nk, i);
    for (size_t i = from; i < to; i++)
        a->gpart[i] = (uint8_t)part_of(a->ghash[i], a->nparts);
    for (size_t k = 0; k < a->naggs; k++) {
        pair_rows *pr = &a->pairs[k];
        const dcr_column *v = a->args[k].c;
        if (pr->hash)
            dcr_keytab_hash_rows(&v, 1, from, to, pr->hash + from);
        for (size_t i = from; pr->hash && i < to; i++)
            pr->part[i] =
                dcr_column_is_null(v, i) ? NO_PART : (uint8_t)part_of(pr->hash[i], a->nparts);
    }
    return DCR_OK;
}

/* The batch's rows whose partition (part[row]) is t, in order, into out;
 * returns how many. */
static size_t rows_of_part(const agg_op *a, uint32_t *out, const uint8_t *part, size_t t)
{
    size_t m = 0;
    for (size_t i = 0; i < a->rows; i++) { /* branch-free: partitions are random */
        out[m] = (uint32_t)i;
        m += part[i] == t;
    }
    return m;
}

/* Step 3 for the values of DISTINCT aggregates in value partition t. */
static dcr_status intern_part(agg_op *a, size_t t, dcr_error *err)
{
    agg_part *pt = &a->parts[t];
    size_t limit = ((size_t)1 << 32) / a->nparts; /* entries that keep k * P + t below 2^32 */
    if (pt->groups.n > limit)
        return dcr_fail(err, DCR_EINPUT, "DISTINCT aggregate over more than %zu groups",
                        limit * a->nparts);
    for (size_t k = 0; k < a->naggs; k++) {
        pair_rows *pr = &a->pairs[k];
        if (!pr->hash)
            continue;
        const dcr_column *v = a->args[k].c;
        size_t m = rows_of_part(a, pt->prows, pr->part, t);
        dcr_status s = dcr_keytab_upsert_rows(&pt->aggs[k].values, &v, pt->prows, m, pr->hash,
                                              pr->vid, NULL, NULL, err);
        if (s != DCR_OK)
            return s;
        if (pt->aggs[k].values.n > limit)
            return dcr_fail(err, DCR_EINPUT, "DISTINCT aggregate over more than %zu values",
                            limit * a->nparts);
    }
    return DCR_OK;
}

/* Step 3 without GROUP BY: every row is in the one group (all rows share
 * the empty key's hash, so they are all in this partition); the group is
 * made on the first row, without a lookup per row. */
static dcr_status one_group(agg_part *pt, size_t m, const uint64_t *ghash, uint32_t *gid,
                            dcr_error *err)
{
    if (m == 0)
        return DCR_OK;
    if (pt->groups.n == 0) {
        size_t id;
        bool fresh;
        dcr_status s =
            dcr_keytab_upsert(&pt->groups, NULL, 0, ghash[pt->rows[0]], &id, &fresh, err);
        if (s != DCR_OK)
            return s;
        pt->prows[0] = pt->rows[0];
    }
    for (size_t j = 0; j < m; j++)
        gid[pt->rows[j]] = 0;
    return DCR_OK;
}

/* Step 3 for a coded key: each code's group is found once per batch (its
 * first row's key looked up as usual), then shared by its other rows; new
 * groups still come in row order. */
static dcr_status coded_groups(agg_op *a, agg_part *pt, size_t m, dcr_error *err)
{
    size_t ncodes = a->keys[0]->ncodes, before = pt->groups.n;
    for (size_t c = 0; c < ncodes; c++)
        pt->cgid[c] = NO_GROUP;
    for (size_t j = 0; j < m; j++) {
        size_t i = pt->rows[j];
        bool null = dcr_column_is_null(a->keys[0], i);
        uint32_t *known = null ? NULL : &pt->cgid[a->codes[i]];
        if (known && *known != NO_GROUP) {
            a->gid[i] = *known;
            continue;
        }
        size_t id;
        bool fresh;
        dcr_status s = dcr_keytab_upsert(&pt->groups, a->keys, i, a->ghash[i], &id, &fresh, err);
        if (s != DCR_OK)
            return s;
        if (fresh)
            pt->prows[id - before] = (uint32_t)i;
        a->gid[i] = (uint32_t)id;
        if (known)
            *known = (uint32_t)id;
    }
    return DCR_OK;
}

/* Step 3 (and 5 when there is no DISTINCT) for partition t. */
static dcr_status group_part(void *arg, size_t t, dcr_error *err)
{
    agg_op *a = arg;
    agg_part *pt = &a->parts[t];
    size_t m = rows_of_part(a, pt->rows, a->gpart, t);
    pt->nrows = m;
    size_t before = pt->groups.n;
    dcr_status s = a->n->plan->ngroups == 0 ? one_group(pt, m, a->ghash, a->gid, err)
                   : a->codes               ? coded_groups(a, pt, m, err)
                              : dcr_keytab_upsert_rows(&pt->groups, a->keys, pt->rows, m, a->ghash,
                                                       a->gid, NULL, pt->prows, err);
    s = s ? s : grow_state(a, pt, pt->groups.n, err);
    if (s != DCR_OK)
        return s;
    for (size_t g = before; g < pt->groups.n; g++) /* prows: the rows new groups came from */
        pt->first[g] = a->base + pt->prows[g - before];
    return a->any_distinct ? intern_part(a, t, err) : update_part(a, t, err);
}

/* Step 4a: the (group, value) pairs, their hashes and partitions over a range. */
static dcr_status pair_hash_range(void *arg, size_t r, dcr_error *err)
{
    (void)err;
    agg_op *a = arg;
    size_t from = a->rows * r / a->ranges, to = a->rows * (r + 1) / a->ranges;
    for (size_t k = 0; k < a->naggs; k++) {
        pair_rows *pr = &a->pairs[k];
        for (size_t i = from; pr->hash && i < to; i++) {
            if (pr->part[i] == NO_PART)
                continue;
            uint64_t g = (uint64_t)a->gid[i] * a->nparts + a->gpart[i];
            uint64_t v = (uint64_t)pr->vid[i] * a->nparts + pr->part[i];
            pr->key[i] = g << 32 | v;
            pr->hash[i] = dcr_u64set_hash(pr->key[i]);
            pr->part[i] = (uint8_t)part_of(pr->hash[i], a->nparts);
        }
    }
    return DCR_OK;
}

/* Step 4b: which pairs of pair partition q are new. */
static dcr_status pair_part(void *arg, size_t q, dcr_error *err)
{
    agg_op *a = arg;
    agg_part *pt = &a->parts[q];
    for (size_t k = 0; k < a->naggs; k++) {
        pair_rows *pr = &a->pairs[k];
        if (!pr->hash)
            continue;
        size_t m = rows_of_part(a, pt->prows, pr->part, q);
        dcr_status s = dcr_u64set_insert_rows(&pt->aggs[k].pairs, pr->key, pr->hash, pt->prows, m,
                                              pr->fresh, err);
        if (s != DCR_OK)
            return s;
    }
    return DCR_OK;
}

static dcr_status update_step(void *arg, size_t t, dcr_error *err)
{
    return update_part(arg, t, err);
}

/* Runs a step over parts; on the query's thread alone for a small batch. */
static dcr_status step(agg_op *a, size_t nparts, dcr_exec_part_fn fn, dcr_error *err)
{
    dcr_exec_ctx *ctx = a->n->ctx;
    if (a->rows >= ctx->split_rows)
        return dcr_exec_parallel(ctx, nparts, fn, a, err);
    for (size_t i = 0; i < nparts; i++) {
        dcr_status s = fn(a, i, err);
        if (s != DCR_OK)
            return s;
    }
    return DCR_OK;
}

static dcr_status ensure_rows(agg_op *a, size_t rows, dcr_error *err)
{
    if (rows <= a->cap)
        return DCR_OK;
    size_t old = a->cap; /* the hashes of the last batches' keys: wiped */
    a->cap = 0;
    dcr_wipe_free(a->ghash, old * sizeof *a->ghash);
    free(a->gpart);
    free(a->gid);
    a->ghash = malloc(rows * sizeof *a->ghash);
    a->gpart = malloc(rows);
    a->gid = malloc(rows * sizeof *a->gid);
    bool ok = a->ghash && a->gpart && a->gid;
    for (size_t t = 0; t < a->nparts; t++) {
        agg_part *pt = &a->parts[t];
        free(pt->rows);
        free(pt->prows);
        pt->rows = malloc(rows * sizeof *pt->rows);
        pt->prows = malloc(rows * sizeof *pt->prows);
        ok = ok && pt->rows && pt->prows;
    }
    for (size_t k = 0; k < a->naggs; k++) {
        pair_rows *pr = &a->pairs[k];
        if (!a->parts[0].aggs[k].distinct || a->parts[0].aggs[k].sketch)
            continue;
        dcr_wipe_free(pr->hash, old * sizeof *pr->hash);
        free(pr->part);
        free(pr->vid);
        free(pr->key);
        free(pr->fresh);
        pr->hash = malloc(rows * sizeof *pr->hash);
        pr->part = malloc(rows);
        pr->vid = malloc(rows * sizeof *pr->vid);
        pr->key = malloc(rows * sizeof *pr->key);
        pr->fresh = malloc(rows);
        ok = ok && pr->hash && pr->part && pr->vid && pr->key && pr->fresh;
    }
    if (!ok)
        return oom(err);
    a->cap = rows;
    return DCR_OK;
}

static void free_batch_vecs(agg_op *a)
{
    const dcr_plan *p = a->n->plan;
    for (size_t k = 0; k < p->ngroups; k++)
        dcr_vec_free(&a->keyvecs[k]);
    for (size_t k = 0; k < a->naggs; k++)
        dcr_vec_free(&a->args[k]);
}

/* Whether this batch's key is coded (see the top); if so, each code's hash. */
static void use_codes(agg_op *a)
{
    const dcr_column *k = a->n->plan->ngroups == 1 ? a->keys[0] : NULL;
    a->codes = NULL;
    if (!a->chash || !k || !k->ncodes || k->ncodes > CODED_MAX || k->nrows < a->rows)
        return;
    uint8_t seen[CODED_MAX] = {0};
    for (size_t i = 0; i < a->rows; i++) {
        uint16_t c = k->codes[i];
        if (!seen[c] && !dcr_column_is_null(k, i)) {
            a->chash[c] = dcr_keytab_hash(&k, 1, i);
            seen[c] = 1;
        }
    }
    a->codes = k->codes;
}

static dcr_status consume_batch(agg_op *a, const dcr_batch *in, dcr_error *err)
{
    dcr_exec_node *n = a->n;
    const dcr_plan *p = n->plan;
    dcr_status s = ensure_rows(a, in->nrows, err);
    a->rows = in->nrows;
    a->ranges = dcr_exec_parts(n->ctx, in->nrows);
    for (size_t k = 0; s == DCR_OK && k < p->ngroups; k++) {
        s = dcr_eval(n->ctx, p->exprs[k], in, NULL, &a->keyvecs[k], err);
        a->keys[k] = a->keyvecs[k].c;
    }
    for (size_t k = 0; s == DCR_OK && k < a->naggs; k++) {
        const dcr_expr *e = a->parts[0].aggs[k].e;
        if (e->nargs)
            s = dcr_eval(n->ctx, e->args[0], in, NULL, &a->args[k], err);
    }
    if (s == DCR_OK)
        use_codes(a);
    s = s ? s : step(a, a->ranges, hash_range, err);
    s = s ? s : step(a, a->nparts, group_part, err);
    if (s == DCR_OK && a->any_distinct) {
        s = step(a, a->ranges, pair_hash_range, err);
        s = s ? s : step(a, a->nparts, pair_part, err);
        s = s ? s : step(a, a->nparts, update_step, err);
    }
    free_batch_vecs(a);
    a->base += in->nrows;
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
        if ((v > INT64_MAX || v < INT64_MIN) &&
            dcr_eval_row_fail(ctx, e, err, "bigint out of range (SUM)"))
            return DCR_EINPUT;
        /* total: saturate, a clamp that moves by no more than the sum
         * itself when one person's rows change (NULL would not) */
        v = v > INT64_MAX ? INT64_MAX : v < INT64_MIN ? INT64_MIN : v;
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

/* Group key c of the k groups (opart, ogid) into out: a one-TEXT-key
 * table's keys (GROUP BY email: millions of them) gathered and appended in
 * one go, others a row at a time. */
static dcr_status emit_keys(agg_op *a, size_t c, size_t k, dcr_column *out, dcr_error *err)
{
    if (!a->parts[0].groups.inline_text) {
        dcr_status s = DCR_OK;
        for (size_t r = 0; s == DCR_OK && r < k; r++)
            s = dcr_keytab_push_key(&a->parts[a->opart[r]].groups, c, a->ogid[r], out, err);
        return s;
    }
    for (size_t r = 0; r < k; r++) {
        size_t len;
        a->otext[r] = dcr_keytab_key_text(&a->parts[a->opart[r]].groups, a->ogid[r], &len);
        a->olen[r] = (uint32_t)len; /* a key is one row's TEXT: below 4 GiB */
    }
    return dcr_vec_append_texts(out, a->otext, a->olen, k, err);
}

/* Aggregate c of the k groups into out: counts in one go, others a row at
 * a time (emit_agg). */
static dcr_status emit_aggs(dcr_exec_ctx *ctx, agg_op *a, size_t c, size_t k, dcr_column *out,
                            dcr_error *err)
{
    const agg_state *s0 = &a->parts[0].aggs[c];
    dcr_agg_func f = s0->e->agg;
    if (!s0->sketch && (f == DCR_AGG_COUNT || f == DCR_AGG_COUNT_STAR)) {
        for (size_t r = 0; r < k; r++)
            a->oval[r] = a->parts[a->opart[r]].aggs[c].count[a->ogid[r]];
        return dcr_vec_append_i64s(out, a->oval, k, err);
    }
    dcr_status s = DCR_OK;
    for (size_t r = 0; s == DCR_OK && r < k; r++)
        s = emit_agg(ctx, &a->parts[a->opart[r]].aggs[c], a->ogid[r], out, err);
    return s;
}

static size_t total_groups(const agg_op *a)
{
    size_t n = 0;
    for (size_t t = 0; t < a->nparts; t++)
        n += a->parts[t].groups.n;
    return n;
}

/* The next group in first-appearance order (every partition's groups are
 * in that order already): its partition; false when all are emitted. */
static bool next_group(agg_op *a, size_t *part)
{
    bool any = false;
    uint64_t best = 0;
    for (size_t t = 0; t < a->nparts; t++) {
        const agg_part *pt = &a->parts[t];
        if (a->cursor[t] < pt->groups.n && (!any || pt->first[a->cursor[t]] < best)) {
            any = true;
            best = pt->first[a->cursor[t]];
            *part = t;
        }
    }
    return any;
}

/* Every group is out: frees the groups, their states and DISTINCT sets
 * (wiped: they hold plaintext) and gives their memory back to the query's
 * budget, so an operator above that still has work to do (a join building
 * its table from these rows) runs without them. Later calls find no
 * groups; agg_destroy frees what is left. */
static void release_groups(dcr_exec_node *n, agg_op *a)
{
    for (size_t t = 0; a->parts && t < a->nparts; t++) {
        agg_part *pt = &a->parts[t];
        for (size_t k = 0; pt->aggs && k < a->naggs; k++) {
            free_agg(&pt->aggs[k]);
            memset(&pt->aggs[k], 0, sizeof pt->aggs[k]);
        }
        dcr_keytab_free(&pt->groups); /* leaves it empty: n = 0 */
        dcr_big_free(pt->first, pt->first_cap * sizeof *pt->first);
        pt->first = NULL;
        pt->first_cap = pt->cap = 0;
        a->cursor[t] = 0;
    }
    dcr_exec_release(n->ctx, a->charged);
    a->charged = 0;
    a->released = true;
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
        if (in->nrows && (s = consume_batch(a, in, err)) != DCR_OK)
            return s;
    }
    if (a->released)
        return DCR_OK;
    if (p->ngroups == 0 && total_groups(a) == 0) { /* one row, even for no input */
        uint64_t h = dcr_keytab_hash(NULL, 0, 0);
        agg_part *pt = &a->parts[part_of(h, a->nparts)];
        size_t id;
        bool fresh;
        s = dcr_keytab_upsert(&pt->groups, NULL, 0, h, &id, &fresh, err);
        s = s ? s : grow_state(a, pt, 1, err);
        if (s != DCR_OK)
            return s;
        pt->first[0] = 0;
    }
    size_t k = 0, t = 0;
    while (k < n->ctx->batch_rows && next_group(a, &t)) {
        a->opart[k] = (uint32_t)t;
        a->ogid[k++] = (uint32_t)a->cursor[t]++;
    }
    if (k == 0) {
        release_groups(n, a);
        return DCR_OK;
    }
    dcr_batch_clear(&a->out);
    for (size_t c = 0; s == DCR_OK && c < p->ngroups + a->naggs; c++) {
        if (n->need && !n->need[c]) /* unread: NULLs */
            s = dcr_vec_append_nulls(&a->out.cols[c], k, err);
        else if (c < p->ngroups)
            s = emit_keys(a, c, k, &a->out.cols[c], err);
        else
            s = emit_aggs(n->ctx, a, c - p->ngroups, k, &a->out.cols[c], err);
    }
    a->out.nrows = k;
    *out = &a->out;
    return s;
}

static void agg_destroy(dcr_exec_node *n)
{
    agg_op *a = n->state;
    if (!a)
        return;
    for (size_t t = 0; a->parts && t < a->nparts; t++) {
        agg_part *pt = &a->parts[t];
        for (size_t k = 0; pt->aggs && k < a->naggs; k++)
            free_agg(&pt->aggs[k]);
        free(pt->aggs);
        dcr_keytab_free(&pt->groups);
        dcr_big_free(pt->first, pt->first_cap * sizeof *pt->first);
        free(pt->rows);
        free(pt->prows);
        free(pt->cgid);
    }
    free(a->parts);
    for (size_t k = 0; a->pairs && k < a->naggs; k++) {
        dcr_wipe_free(a->pairs[k].hash, a->cap * sizeof *a->pairs[k].hash);
        free(a->pairs[k].part);
        free(a->pairs[k].vid);
        free(a->pairs[k].key);
        free(a->pairs[k].fresh);
    }
    free(a->pairs);
    free(a->keys);
    free(a->keyvecs);
    free(a->args);
    dcr_wipe_free(a->ghash, a->cap * sizeof *a->ghash);
    free(a->gpart);
    free(a->gid);
    dcr_wipe_free(a->chash, a->chash ? CODED_MAX * sizeof *a->chash : 0);
    free(a->cursor);
    free(a->opart);
    free(a->ogid);
    free(a->otext); /* pointers into the (wiped) groups */
    dcr_wipe_free(a->olen, a->olen ? n->ctx->batch_rows * sizeof *a->olen : 0);
    dcr_wipe_free(a->oval, a->oval ? n->ctx->batch_rows * sizeof *a->oval : 0);
    dcr_batch_free(&a->out);
    dcr_exec_release(n->ctx, a->charged);
    free(a);
    n->state = NULL;
}

static dcr_status init_part(agg_op *a, agg_part *pt, const dcr_type *kt, dcr_error *err)
{
    const dcr_plan *p = a->n->plan;
    dcr_status s = dcr_keytab_init(&pt->groups, kt, p->ngroups, err);
    if (s == DCR_OK && !(pt->aggs = calloc(p->naggs ? p->naggs : 1, sizeof *pt->aggs)))
        s = oom(err);
    for (size_t k = 0; s == DCR_OK && k < p->naggs; k++)
        s = init_agg(&pt->aggs[k], p->exprs[p->ngroups + k], err);
    return s ? s : grow_state(a, pt, 1, err);
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
    a->n = n;
    a->naggs = p->naggs;
    a->nparts = n->ctx->threads < MAX_PARTS ? n->ctx->threads : MAX_PARTS;
    for (size_t k = 0; k < p->naggs; k++) {
        const dcr_expr *e = p->exprs[p->ngroups + k];
        bool sketch = e->agg == DCR_AGG_UNIT_SKETCH || e->agg == DCR_AGG_UNIT_SKETCH_MERGE;
        a->any_distinct |= e->distinct && !sketch;
        if (sketch)
            a->nparts = 1; /* see the top */
    }
    a->nparts = a->nparts ? a->nparts : 1;
    size_t ng = p->ngroups ? p->ngroups : 1, na = p->naggs ? p->naggs : 1;
    dcr_type *kt = calloc(ng, sizeof *kt);
    a->parts = calloc(a->nparts, sizeof *a->parts);
    a->pairs = calloc(na, sizeof *a->pairs);
    a->keys = calloc(ng, sizeof *a->keys);
    a->keyvecs = calloc(ng, sizeof *a->keyvecs);
    a->args = calloc(na, sizeof *a->args);
    a->cursor = calloc(a->nparts, sizeof *a->cursor);
    a->opart = malloc(n->ctx->batch_rows * sizeof *a->opart);
    a->ogid = malloc(n->ctx->batch_rows * sizeof *a->ogid);
    a->otext = malloc(n->ctx->batch_rows * sizeof *a->otext);
    a->olen = malloc(n->ctx->batch_rows * sizeof *a->olen);
    a->oval = malloc(n->ctx->batch_rows * sizeof *a->oval);
    dcr_status s = DCR_OK;
    if (!kt || !a->parts || !a->pairs || !a->keys || !a->keyvecs || !a->args || !a->cursor ||
        !a->opart || !a->ogid || !a->otext || !a->olen || !a->oval)
        s = oom(err);
    for (size_t k = 0; s == DCR_OK && k < p->ngroups; k++)
        kt[k] = p->exprs[k]->type;
    for (size_t t = 0; s == DCR_OK && t < a->nparts; t++)
        s = init_part(a, &a->parts[t], kt, err);
    if (s == DCR_OK && p->ngroups == 1 && kt[0] == DCR_TYPE_TEXT) { /* may come coded */
        bool ok = (a->chash = malloc(CODED_MAX * sizeof *a->chash)) != NULL;
        for (size_t t = 0; ok && t < a->nparts; t++)
            ok = (a->parts[t].cgid = malloc(CODED_MAX * sizeof *a->parts[t].cgid)) != NULL;
        if (!ok)
            s = oom(err);
    }
    free(kt);
    return s ? s : dcr_batch_init(&a->out, p->types, p->ncols, err);
}

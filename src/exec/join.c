/*
 * join.c: inner and left outer equi-join by hashing, streaming the probe
 * side.
 *
 * Only the build side is held (charged to the memory budget). The right
 * input is drained first; for an INNER JOIN the left input is then buffered
 * only until it has more rows than the right one: if it ends first, it is
 * the smaller and becomes the build side, otherwise the right side is built
 * and the buffered left rows, then the rest of the left input batch by
 * batch, probe it. A LEFT JOIN always builds the right side. So memory is
 * bounded by (about twice) the smaller input, never the larger one. When
 * the left input is a scan, buffering stops as soon as the scan's guess at
 * its size (rows so far over the part of the file read) is over twice the
 * right side's: the attribution query then copies one chunk of
 * impressions, not a million rows. A wrong guess costs memory, never a
 * wrong result, and the memory limit still holds.
 *
 * The build table sorts the build rows by hash bucket (a counting sort,
 * stable, so matches come out in build-row order): a bucket is a contiguous
 * run of (hash, row) entries, and the matches of a key are found without
 * chasing pointers; a blocked Bloom filter
 * (one 64-bit word per key, three bits, ~8 bits per build row so it stays in
 * cache) rejects most probe keys that have no match before any random read
 * of the table. A NULL key never matches, as `=` is never true on NULL.
 * With one TEXT key, an entry is one 32-byte record (its build row, the
 * key's length and its first 27 bytes; see erec_put), so checking a
 * candidate reads one cache line: not a hash, a row number and the build
 * row's offsets and bytes from four arrays. A key that fits is decided by
 * its record alone; a longer one by its column after its first 27 bytes.
 *
 * Every matching pair becomes a candidate row (left columns, then right); the
 * join's extra ON condition (plan->pred, over the joined row) then keeps the
 * candidates where it is TRUE. A LEFT JOIN remembers which rows of the
 * current probe batch kept a pair; once that batch is probed it emits the
 * others padded with NULLs on the right (PostgreSQL semantics). Rows thus come
 * out probe batch by probe batch; SQL gives unordered joins no order.
 */
#include <stdlib.h>
#include <string.h>

#include "base/bytes.h"
#include "base/memory.h"
#include "base/hygiene.h"
#include "exec/internal.h"

#define NONE UINT32_MAX
#define KEY_HASH_SEED 0x243f6a8885a308d3ull

typedef struct {
    dcr_batch build;  /* the build side's rows */
    int build_side;   /* 0 (left) or 1 (right) */
    dcr_vec *bkv;     /* build key vectors */
    uint32_t *bstart; /* per bucket b: its entries are [bstart[b], bstart[b + 1]) */
    uint32_t *order;  /* per entry: its build row (row order within a bucket); NULL with erec */
    uint64_t *ehash;  /* per entry: its key's hash; NULL with erec */
    uint8_t *erec;    /* one TEXT key: per entry, its record (erec_put); else NULL */
    size_t bmask;     /* buckets - 1 */
    uint64_t *bloom;
    size_t bloom_shift; /* 64 - log2(words) */
    bool ready;

    dcr_batch pbuf;        /* probe rows buffered while choosing the build side */
    size_t pbuf_charged;   /* part of `charged` that pbuf holds */
    bool pbuf_taken;       /* pbuf was handed out as a probe batch */
    bool probe_done;       /* the probe child is exhausted */
    dcr_batch *pin;        /* current probe batch, or NULL */
    dcr_vec *pkv;          /* probe key vectors over pin */
    uint64_t *phash;       /* per pin row; only meaningful where pfirst != NONE */
    uint32_t *pfirst;      /* per pin row: its first matching entry, or NONE */
    uint32_t *psecond;     /* per pin row with a first match: its second, or NONE (probe_range
                            * keeps the row's bucket end there until then) */
    uint32_t *pcand;       /* per probe part, from its first row on: its rows with a match */
    uint32_t *pkept;       /* per probe part: how many such rows */
    size_t pparts, ppart;  /* probe parts; the part fill_candidates is in */
    size_t ppos;           /* fill_candidates: next row of that part's list */
    uint8_t *pmatched;     /* LEFT JOIN: per pin row, kept a pair */
    size_t pcap;           /* rows phash/pfirst/pmatched hold */
    size_t prow;           /* the pin row whose matches are being walked */
    uint32_t chain;        /* next entry that matches prow, or NONE */
    bool chain_past_first; /* chain is not prow's first match: search on from it */
    bool probed;           /* every pin row probed */
    size_t pad_row;        /* LEFT JOIN: next pin row to check for padding */

    size_t charged;
    dcr_batch out;  /* candidates */
    dcr_batch kept; /* candidates passing plan->pred */
    uint32_t *cand_p, *cand_b, *keep_rows;
} join_op;

/* One TEXT key's build entry: bytes 0-3 its build row (little-endian),
 * byte 4 the key's length if at most EREC_INLINE, else EREC_LONG, then the
 * key's first EREC_INLINE bytes, zero-padded. Entries of equal keys agree
 * on bytes 4-31; a probe key is put the same way with row 0. */
#define EREC_BYTES 32
#define EREC_INLINE 27
#define EREC_LONG 0xff

static inline void erec_put(uint8_t *rec, uint32_t row, const char *s, size_t len)
{
    memset(rec, 0, EREC_BYTES);
    dcr_put_u32le(rec, row);
    rec[4] = len <= EREC_INLINE ? (uint8_t)len : EREC_LONG;
    dcr_copy_small(rec + 5, s, len <= EREC_INLINE ? len : EREC_INLINE);
}

static inline uint32_t erec_row(const uint8_t *rec)
{
    return dcr_get_u32le(rec);
}

/* A probe key as the four words its record would hold (erec_put with row
 * 0), so matching compares registers. A key that fits is read straight
 * from its column, masking the bytes past its end, when the column's
 * capacity covers the 32 bytes from it: writing a record to the stack and
 * reading it back as words stalls on a failed store forward. */
typedef struct {
    uint64_t w[4];
} erec_key;

/* x with only its first bytes kept: those of the key's bytes [from, len). */
static inline uint64_t key_bytes(uint64_t x, size_t len, size_t from)
{
    size_t n = len > from ? len - from : 0;
    return n >= 8 ? x : x & ((1ull << (8 * n)) - 1);
}

static inline erec_key erec_key_of(const dcr_column *c, const char *s, size_t len)
{
    erec_key k;
    if (len > 0 && len <= EREC_INLINE && (size_t)(s - c->text) + EREC_BYTES <= c->text_cap) {
        const uint8_t *u = (const uint8_t *)s;
        k.w[0] = (uint64_t)len << 32 | key_bytes(dcr_get_u64le(u), len < 3 ? len : 3, 0) << 40;
        k.w[1] = key_bytes(dcr_get_u64le(u + 3), len, 3);
        k.w[2] = key_bytes(dcr_get_u64le(u + 11), len, 11);
        k.w[3] = key_bytes(dcr_get_u64le(u + 19), len, 19);
        return k;
    }
    _Alignas(EREC_BYTES) uint8_t rec[EREC_BYTES];
    erec_put(rec, 0, s, len);
    memcpy(k.w, rec, EREC_BYTES);
    return k;
}

/* Whether entry rec (of build column c) holds the probe key k, whose bytes
 * are s (len). Four word compares, the row's bytes shifted out of the first
 * (bytes 0-3 are its low half: the host is little-endian, checked below). */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "join.c's record compare assumes a little-endian host"
#endif
static inline bool erec_same(const uint8_t *rec, const dcr_column *c, const erec_key *k,
                             const char *s, size_t len)
{
    uint64_t a[4];
    memcpy(a, rec, EREC_BYTES);
    if ((((a[0] ^ k->w[0]) >> 32) | (a[1] ^ k->w[1]) | (a[2] ^ k->w[2]) | (a[3] ^ k->w[3])) != 0)
        return false;
    if (len <= EREC_INLINE)
        return true;
    size_t klen;
    const char *t = dcr_vec_text(c, erec_row(rec), &klen);
    return klen == len && memcmp(t + EREC_INLINE, s + EREC_INLINE, len - EREC_INLINE) == 0;
}

/* Entry e's build row. */
static inline uint32_t entry_row(const join_op *j, uint32_t e)
{
    return j->erec ? erec_row(j->erec + (size_t)e * EREC_BYTES) : j->order[e];
}

static dcr_status oom(dcr_error *err)
{
    return dcr_fail(err, DCR_EINTERNAL, "out of memory");
}

static dcr_status charge(dcr_exec_node *n, join_op *j, size_t bytes, dcr_error *err)
{
    j->charged += bytes;
    return dcr_exec_charge(n->ctx, bytes, err);
}

/* Appends in to b (charged); fails past 4 billion rows. */
static dcr_status hold(dcr_exec_node *n, join_op *j, dcr_batch *b, const dcr_batch *in,
                       size_t *held, dcr_error *err)
{
    if (b->nrows + in->nrows >= NONE)
        return dcr_fail(err, DCR_EINPUT, "a join input has more than 4 billion rows");
    size_t before = dcr_batch_bytes(b);
    dcr_status s = dcr_batch_append_rows(b, in, NULL, 0, in->nrows, err);
    size_t grew = dcr_batch_bytes(b) - before;
    if (held)
        *held += grew;
    return s ? s : charge(n, j, grew, err);
}

static void free_vecs(dcr_vec **v, size_t n)
{
    for (size_t k = 0; *v && k < n; k++)
        dcr_vec_free(&(*v)[k]);
    free(*v);
    *v = NULL;
}

static dcr_status eval_keys(dcr_exec_node *n, int side, const dcr_batch *b, dcr_vec **out,
                            dcr_error *err)
{
    const dcr_plan *p = n->plan;
    dcr_expr **keys = side == 0 ? p->left_keys : p->right_keys;
    free_vecs(out, p->nkeys);
    if (!(*out = calloc(p->nkeys ? p->nkeys : 1, sizeof **out)))
        return oom(err);
    for (size_t k = 0; k < p->nkeys; k++) {
        dcr_status s = dcr_eval(n->ctx, keys[k], b, NULL, &(*out)[k], err);
        if (s != DCR_OK)
            return s;
    }
    return DCR_OK;
}

/* Whether any key column has a NULL at all: most have none, and then no
 * row needs its validity bits checked. */
static bool keys_may_be_null(const dcr_vec *kv, size_t nkeys)
{
    for (size_t k = 0; k < nkeys; k++)
        if (kv[k].c->nnulls)
            return true;
    return false;
}

static bool any_null(const dcr_vec *kv, size_t nkeys, size_t row)
{
    for (size_t k = 0; k < nkeys; k++)
        if (dcr_column_is_null(kv[k].c, row))
            return true;
    return false;
}

static uint64_t key_hash(const dcr_vec *kv, size_t nkeys, size_t row)
{
    uint64_t h = KEY_HASH_SEED;
    for (size_t k = 0; k < nkeys; k++)
        h = dcr_value_hash(kv[k].c, row, h);
    return h;
}

/* key_hash of rows [from, to) into out[0..): one key's values in a loop
 * of their type (dcr_value_hash_rows), not a call per row. */
static void hash_keys(const dcr_vec *kv, size_t nkeys, size_t from, size_t to, uint64_t *out)
{
    if (nkeys == 1) {
        dcr_value_hash_rows(kv[0].c, from, to, KEY_HASH_SEED, out);
        return;
    }
    for (size_t r = from; r < to; r++)
        out[r - from] = key_hash(kv, nkeys, r);
}

static bool keys_equal(const dcr_vec *a, size_t ia, const dcr_vec *b, size_t ib, size_t nkeys)
{
    for (size_t k = 0; k < nkeys; k++)
        if (dcr_value_cmp(a[k].c, ia, b[k].c, ib) != 0)
            return false;
    return true;
}

/* The Bloom word of h and its three bits (from bits the bucket index does
 * not use). */
static inline uint64_t bloom_bits(uint64_t h)
{
    uint64_t g = h * 0x9e3779b97f4a7c15ull;
    return (1ull << (g & 63)) | (1ull << ((g >> 6) & 63)) | (1ull << ((g >> 12) & 63));
}

static inline size_t bloom_word(const join_op *j, uint64_t h)
{
    return (size_t)((h * 0x9e3779b97f4a7c15ull) >> j->bloom_shift);
}

typedef struct {
    join_op *j;
    size_t nk;
    uint64_t *h;
    size_t rows, parts;
} hash_job;

/* The build keys' hashes over a range of rows (0 for a NULL key). */
static dcr_status hash_part(void *arg, size_t part, dcr_error *err)
{
    (void)err;
    hash_job *hj = arg;
    size_t from = hj->rows * part / hj->parts, to = hj->rows * (part + 1) / hj->parts;
    hash_keys(hj->j->bkv, hj->nk, from, to, hj->h + from);
    if (!keys_may_be_null(hj->j->bkv, hj->nk))
        return DCR_OK;
    for (size_t r = from; r < to; r++)
        if (any_null(hj->j->bkv, hj->nk, r))
            hj->h[r] = 0;
    return DCR_OK;
}

/* The counting sort's two passes, a part per slice of the buckets, so no
 * two parts write the same counter or entry. Each part first lists its own
 * rows (those whose bucket is in its slice and whose key is not NULL), in
 * row order, without a branch per row: a test per row and pass, taken half
 * the time at random, cost more than the counting. Both passes then walk
 * that list, so each bucket's entries stay in row order. */
typedef struct {
    join_op *j;
    size_t nk;
    const uint64_t *h;
    size_t rows, nb, parts;
    bool place;      /* false: count rows per bucket; true: place them */
    uint32_t **mine; /* per part: its rows (made by the counting pass) */
    size_t *nmine;
} sort_job;

/* Part `part`'s rows into sj->mine[part] (room for all rows). */
static void list_part_rows(sort_job *sj, size_t part)
{
    const join_op *j = sj->j;
    uint64_t lo = sj->nb * part / sj->parts, span = sj->nb * (part + 1) / sj->parts - lo;
    uint32_t *m = sj->mine[part];
    size_t k = 0;
    for (size_t r = 0; r < sj->rows; r++) {
        m[k] = (uint32_t)r;
        k += (uint64_t)((sj->h[r] & j->bmask) - lo) < span; /* wraps below lo */
    }
    if (keys_may_be_null(j->bkv, sj->nk)) { /* NULL keys never match: left out */
        size_t kept = 0;
        for (size_t i = 0; i < k; i++)
            if (!any_null(j->bkv, sj->nk, m[i]))
                m[kept++] = m[i];
        k = kept;
    }
    sj->nmine[part] = k;
}

/* Cache hints for a row SORT_AHEAD rows before its turn: its bucket's
 * counter at step 0, then (placing, with that counter read) the entry it
 * will fill. The counter may still move before the row's turn; the hint
 * is then an entry off, the same cache line or the next. */
enum { SORT_AHEAD = 16 };
DCR_PREFETCHER prefetch_sort_row(const sort_job *sj, uint32_t r, int step)
{
    const join_op *j = sj->j;
    size_t b = sj->h[r] & j->bmask;
    if (step == 0) {
        __builtin_prefetch(&j->bstart[sj->place ? b : b + 1], 1);
        return;
    }
    size_t e = j->bstart[b];
    if (j->erec)
        __builtin_prefetch(j->erec + e * EREC_BYTES, 1);
    else
        __builtin_prefetch(&j->order[e], 1);
}

static dcr_status sort_part(void *arg, size_t part, dcr_error *err)
{
    (void)err;
    sort_job *sj = arg;
    join_op *j = sj->j;
    if (!sj->place)
        list_part_rows(sj, part);
    const uint32_t *m = sj->mine[part];
    size_t n = sj->nmine[part];
    for (size_t i = 0; i < n; i++) {
        if (i + 2 * SORT_AHEAD < n)
            prefetch_sort_row(sj, m[i + 2 * SORT_AHEAD], 0);
        if (sj->place && i + SORT_AHEAD < n)
            prefetch_sort_row(sj, m[i + SORT_AHEAD], 1);
        size_t r = m[i], b = sj->h[r] & j->bmask;
        if (!sj->place) {
            j->bstart[b + 1]++;
            continue;
        }
        size_t e = j->bstart[b]++; /* bucket b's next entry; shifted back after */
        if (j->erec) {
            size_t len;
            const char *t = dcr_vec_text(j->bkv[0].c, r, &len);
            erec_put(j->erec + e * EREC_BYTES, (uint32_t)r, t, len);
        } else {
            j->order[e] = (uint32_t)r;
            j->ehash[e] = sj->h[r];
        }
    }
    return DCR_OK;
}

/* The Bloom filter's bits, a part per slice of its words. No atomics: a
 * locked OR in the place pass above waited, row by row, for that row's
 * scattered stores to drain, and cost more than the rest of the sort. A
 * NULL key's hash (0) sets bits too: harmless, a NULL probe never gets
 * that far. The row loop has no branch on the slice: rows outside it OR
 * into a spare word. */
typedef struct {
    join_op *j;
    const uint64_t *h;
    size_t rows, words, parts;
} bloom_job;

static dcr_status bloom_part(void *arg, size_t part, dcr_error *err)
{
    (void)err;
    bloom_job *bj = arg;
    join_op *j = bj->j;
    size_t lo = bj->words * part / bj->parts, hi = bj->words * (part + 1) / bj->parts;
    uint64_t spare = 0, *bloom = j->bloom;
    for (size_t r = 0; r < bj->rows; r++) {
        size_t w = bloom_word(j, bj->h[r]);
        uint64_t *word = w - lo < hi - lo ? &bloom[w] : &spare;
        *word |= bloom_bits(bj->h[r]);
    }
    return DCR_OK;
}

static dcr_status build_table(dcr_exec_node *n, join_op *j, dcr_error *err)
{
    size_t nk = n->plan->nkeys, rows = j->build.nrows;
    dcr_status s = eval_keys(n, j->build_side, &j->build, &j->bkv, err);
    if (s != DCR_OK)
        return s;
    size_t nb = 64, words = 8;
    while (nb < rows)
        nb *= 2;
    while (words * 8 < rows) /* ~8 bits per row */
        words *= 2;
    j->bmask = nb - 1;
    j->bloom_shift = 64;
    for (size_t w = words; w > 1; w >>= 1)
        j->bloom_shift--;
    uint64_t *h = malloc((rows ? rows : 1) * sizeof *h);
    j->bstart = dcr_zalloc_huge(nb + 1, sizeof *j->bstart);
    j->bloom = dcr_zalloc_huge(words, sizeof *j->bloom);
    bool recs = nk == 1 && j->bkv[0].c->type == DCR_TYPE_TEXT && rows <= SIZE_MAX / EREC_BYTES;
    size_t entry_bytes = recs ? EREC_BYTES : sizeof *j->order + sizeof *j->ehash;
    if (recs) {
        if ((j->erec = aligned_alloc(EREC_BYTES, (rows ? rows : 1) * EREC_BYTES)))
            dcr_advise_huge(j->erec, rows * EREC_BYTES);
    } else {
        j->order = malloc((rows ? rows : 1) * sizeof *j->order);
        j->ehash = malloc((rows ? rows : 1) * sizeof *j->ehash);
        dcr_advise_huge(j->order, (rows ? rows : 1) * sizeof *j->order);
        dcr_advise_huge(j->ehash, (rows ? rows : 1) * sizeof *j->ehash);
    }
    dcr_advise_huge(h, (rows ? rows : 1) * sizeof *h);
    if (!h || !j->bstart || !j->bloom || (recs ? !j->erec : !j->order || !j->ehash)) {
        free(h); /* nothing written to it yet */
        return oom(err);
    }
    s = charge(n, j, rows * entry_bytes + (nb + 1) * sizeof *j->bstart + words * sizeof *j->bloom,
               err);
    /* Counting sort of the rows by bucket, stable, so a bucket's entries
     * are contiguous and in row order. NULL keys are left out. The hashes
     * are computed on all threads first, then each pass runs a part per
     * thread (sort_part). */
    hash_job hj = {j, nk, h, rows, dcr_exec_parts(n->ctx, rows)};
    s = s ? s : dcr_exec_parallel(n->ctx, hj.parts, hash_part, &hj, err);
    size_t threads = n->ctx->threads ? n->ctx->threads : 1;
    sort_job sj = {j, nk, h, rows, nb, rows < n->ctx->split_rows ? 1 : threads, false, NULL, NULL};
    uint32_t *lists = s ? NULL : malloc((rows ? rows : 1) * sj.parts * sizeof *lists);
    sj.mine = calloc(sj.parts, sizeof *sj.mine);
    sj.nmine = calloc(sj.parts, sizeof *sj.nmine);
    if (s == DCR_OK && (!lists || !sj.mine || !sj.nmine))
        s = oom(err);
    for (size_t t = 0; s == DCR_OK && t < sj.parts; t++)
        sj.mine[t] = lists + t * (rows ? rows : 1);
    s = s ? s : dcr_exec_parallel(n->ctx, sj.parts, sort_part, &sj, err);
    for (size_t b = 1; s == DCR_OK && b <= nb; b++)
        j->bstart[b] += j->bstart[b - 1];
    sj.place = true;
    s = s ? s : dcr_exec_parallel(n->ctx, sj.parts, sort_part, &sj, err);
    if (s == DCR_OK) { /* placing moved each start to the next bucket's: move them back */
        memmove(j->bstart + 1, j->bstart, nb * sizeof *j->bstart);
        j->bstart[0] = 0;
    }
    /* the row lists say which rows share bucket ranges: wiped with the hashes */
    dcr_wipe_free(lists, lists ? (rows ? rows : 1) * sj.parts * sizeof *lists : 0);
    free(sj.mine);
    free(sj.nmine);
    bloom_job bj = {j, h, rows, words, sj.parts};
    s = s ? s : dcr_exec_parallel(n->ctx, bj.parts, bloom_part, &bj, err);
    dcr_wipe_free(h, rows * sizeof *h);
    return s;
}

/* Drains the inputs and builds the table on the smaller one (see top). */
static dcr_status prepare(dcr_exec_node *n, join_op *j, dcr_error *err)
{
    dcr_status s = DCR_OK;
    for (;;) {
        dcr_batch *in;
        if ((s = n->child[1]->next(n->child[1], &in, err)) != DCR_OK)
            return s;
        if (!in)
            break;
        if ((s = hold(n, j, &j->build, in, NULL, err)) != DCR_OK)
            return s;
    }
    j->build_side = 1;
    if (!n->plan->left_outer) {
        while (j->pbuf.nrows <= j->build.nrows) {
            dcr_batch *in;
            if ((s = n->child[0]->next(n->child[0], &in, err)) != DCR_OK)
                return s;
            if (!in) {
                j->probe_done = true;
                break;
            }
            if ((s = hold(n, j, &j->pbuf, in, &j->pbuf_charged, err)) != DCR_OK)
                return s;
            uint64_t guess;
            if (dcr_exec_scan_estimate(n->child[0], &guess) && guess / 2 > j->build.nrows)
                break; /* clearly the larger: build the right side now */
        }
        if (j->probe_done && j->pbuf.nrows < j->build.nrows) { /* left is smaller */
            dcr_batch t = j->build;
            j->build = j->pbuf;
            j->pbuf = t;
            j->pbuf_charged = dcr_batch_bytes(&j->pbuf);
            j->build_side = 0;
        }
    }
    size_t br = n->ctx->batch_rows;
    j->cand_p = malloc(br * sizeof *j->cand_p);
    j->cand_b = malloc(br * sizeof *j->cand_b);
    j->keep_rows = malloc(br * sizeof *j->keep_rows);
    if (!j->cand_p || !j->cand_b || !j->keep_rows)
        return oom(err);
    s = build_table(n, j, err);
    j->ready = true;
    return s;
}

/* The first entry in [e, end) whose key equals pin row r's; NONE if there
 * is none. */
static uint32_t match_in(const dcr_exec_node *n, const join_op *j, uint32_t e, uint32_t end,
                         size_t r)
{
    if (j->erec) {
        if (e >= end)
            return NONE;
        size_t len;
        const char *s = dcr_vec_text(j->pkv[0].c, r, &len);
        erec_key k = erec_key_of(j->pkv[0].c, s, len);
        for (; e < end; e++)
            if (erec_same(j->erec + (size_t)e * EREC_BYTES, j->bkv[0].c, &k, s, len))
                return e;
        return NONE;
    }
    uint64_t h = j->phash[r];
    for (; e < end; e++)
        if (j->ehash[e] == h && keys_equal(j->bkv, j->order[e], j->pkv, r, n->plan->nkeys))
            return e;
    return NONE;
}

/* The first entry from e on, before the end of its bucket, whose key equals
 * pin row r's; NONE if there is none. */
static uint32_t match_from(const dcr_exec_node *n, const join_op *j, uint32_t e, size_t r)
{
    return match_in(n, j, e, j->bstart[(j->phash[r] & j->bmask) + 1], r);
}

/* Prefetches, in three steps, what matching entry e reads: its hash and
 * build row number; then, for TEXT keys, the row's offsets; then its bytes.
 * (DCR_PREFETCHER: internal.h says why they must be inlined.) */
DCR_PREFETCHER prefetch_entry(const join_op *j, uint32_t e, uint32_t end)
{
    if (j->erec) { /* the bucket's first and last records: two lines when e is odd */
        __builtin_prefetch(j->erec + (size_t)e * EREC_BYTES);
        __builtin_prefetch(j->erec + (size_t)(end - 1) * EREC_BYTES);
        return;
    }
    __builtin_prefetch(&j->ehash[e]);
    __builtin_prefetch(&j->order[e]);
}

DCR_PREFETCHER prefetch_key_offsets(const join_op *j, size_t nk, uint32_t e)
{
    if (j->erec) /* the record is enough but for long keys */
        return;
    for (size_t k = 0; k < nk; k++)
        if (j->bkv[k].c->type == DCR_TYPE_TEXT)
            __builtin_prefetch(&j->bkv[k].c->offsets[j->order[e]]);
}

DCR_PREFETCHER prefetch_key_bytes(const join_op *j, size_t nk, uint32_t e)
{
    if (j->erec)
        return;
    for (size_t k = 0; k < nk; k++)
        if (j->bkv[k].c->type == DCR_TYPE_TEXT && j->bkv[k].c->text)
            __builtin_prefetch(j->bkv[k].c->text + j->bkv[k].c->offsets[j->order[e]]);
}

/* Hashes pin rows [from, to) and finds each one's first matching entry
 * (pfirst; NONE for a NULL key or no match) and the second (psecond), so
 * the query's thread, which walks the matches into candidates alone, only
 * searches for a third and later match. Each step runs over the whole
 * range, prefetching AHEAD rows ahead, so the random reads of the Bloom
 * filter, the buckets and the build rows overlap instead of stalling one by
 * one. Leaves the rows with a match, in order, at pcand + from and returns
 * how many. */
static size_t probe_range(const dcr_exec_node *n, join_op *j, size_t from, size_t to)
{
    enum { AHEAD = 32 };
    size_t nk = n->plan->nkeys, m = 0;
    uint64_t *ph = j->phash;
    uint32_t *pf = j->pfirst, *pend = j->psecond, *cand = j->pcand + from; /* rows still in play */
    hash_keys(j->pkv, nk, from, to, ph + from);
    bool nulls = keys_may_be_null(j->pkv, nk);
    for (size_t r = from; r < to; r++) {
        pf[r] = nulls && any_null(j->pkv, nk, r) ? NONE : 0;
        ph[r] = pf[r] ? 0 : ph[r];
    }
    for (size_t r = from; r < to; r++) {
        if (r + AHEAD < to)
            __builtin_prefetch(&j->bloom[bloom_word(j, ph[r + AHEAD])]);
        /* no branch on the outcome: a probe key passes at random (40% of
         * the attribution query's), so a branch would mispredict often */
        uint64_t bits = bloom_bits(ph[r]);
        bool pass = (pf[r] == 0) & ((j->bloom[bloom_word(j, ph[r])] & bits) == bits);
        cand[m] = (uint32_t)r;
        m += pass;
        pf[r] = pass ? 0 : NONE;
    }
    size_t kept = 0, matched = 0;
    for (size_t i = 0; i < m; i++) {
        if (i + AHEAD < m)
            __builtin_prefetch(&j->bstart[ph[cand[i + AHEAD]] & j->bmask]);
        uint32_t r = cand[i];
        size_t b = ph[r] & j->bmask;
        pf[r] = j->bstart[b] < j->bstart[b + 1] ? j->bstart[b] : NONE;
        pend[r] = j->bstart[b + 1]; /* the bucket's end, until the second match replaces it */
        if (pf[r] != NONE)
            cand[kept++] = r;
    }
    for (size_t i = 0; i < kept; i++) {
        if (i + 3 * AHEAD < kept)
            prefetch_entry(j, pf[cand[i + 3 * AHEAD]], pend[cand[i + 3 * AHEAD]]);
        if (i + 2 * AHEAD < kept)
            prefetch_key_offsets(j, nk, pf[cand[i + 2 * AHEAD]]);
        if (i + AHEAD < kept)
            prefetch_key_bytes(j, nk, pf[cand[i + AHEAD]]);
        uint32_t r = cand[i];
        uint32_t end = pend[r];
        pf[r] = match_in(n, j, pf[r], end, r);
        if (pf[r] != NONE) {
            j->psecond[r] = match_in(n, j, pf[r] + 1, end, r);
            cand[matched++] = r; /* never past i: the prefetches above still read ahead */
        }
    }
    return matched;
}

typedef struct {
    const dcr_exec_node *n;
    join_op *j;
    size_t rows, parts;
} probe_job;

static dcr_status probe_part(void *arg, size_t part, dcr_error *err)
{
    (void)err;
    probe_job *pj = arg;
    pj->j->pkept[part] =
        probe_range(pj->n, pj->j, pj->rows * part / pj->parts, pj->rows * (part + 1) / pj->parts);
    return DCR_OK;
}

/* probe_range over rows [0, rows) split across the query's threads (the
 * parts write disjoint rows and only read the build table); each part
 * leaves the list of its rows with a match, for fill_candidates. */
static dcr_status probe_all(dcr_exec_node *n, join_op *j, size_t rows, dcr_error *err)
{
    probe_job pj = {n, j, rows, dcr_exec_parts(n->ctx, rows)};
    uint32_t *k = realloc(j->pkept, (pj.parts ? pj.parts : 1) * sizeof *k);
    if (!k)
        return oom(err);
    j->pkept = k;
    j->pparts = pj.parts;
    j->ppart = j->ppos = 0;
    return dcr_exec_parallel(n->ctx, pj.parts, probe_part, &pj, err);
}

/* Moves prow to the next pin row with a match (in row order: the parts'
 * lists one after the other); false when there is none. Idempotent until
 * ppos moves on. */
static bool next_matched_row(join_op *j)
{
    while (j->ppart < j->pparts && j->ppos >= j->pkept[j->ppart]) {
        j->ppart++;
        j->ppos = 0;
    }
    if (j->ppart >= j->pparts)
        return false;
    j->prow = j->pcand[j->pin->nrows * j->ppart / j->pparts + j->ppos];
    return true;
}

/* Takes the next probe batch into j->pin (NULL at the end) and hashes it. */
static dcr_status next_probe_batch(dcr_exec_node *n, join_op *j, dcr_error *err)
{
    int probe = 1 - j->build_side;
    if (j->pin == &j->pbuf) { /* the buffered rows are probed: let them go */
        dcr_batch_free(&j->pbuf);
        dcr_exec_release(n->ctx, j->pbuf_charged);
        j->charged -= j->pbuf_charged;
        j->pbuf_charged = 0;
    }
    j->pin = NULL;
    if (!j->pbuf_taken) {
        j->pbuf_taken = true;
        if (j->pbuf.nrows)
            j->pin = &j->pbuf;
    }
    while (!j->pin && !j->probe_done) {
        dcr_batch *in;
        dcr_status s = n->child[probe]->next(n->child[probe], &in, err);
        if (s != DCR_OK)
            return s;
        if (!in)
            j->probe_done = true;
        else if (in->nrows)
            j->pin = in;
    }
    if (!j->pin)
        return DCR_OK;
    size_t rows = j->pin->nrows;
    if (rows > j->pcap) {
        dcr_wipe_free(j->phash, j->pcap * sizeof *j->phash);
        free(j->pfirst);
        free(j->psecond);
        free(j->pcand);
        free(j->pmatched);
        j->phash = malloc(rows * sizeof *j->phash);
        j->pfirst = malloc(rows * sizeof *j->pfirst);
        j->psecond = malloc(rows * sizeof *j->psecond);
        j->pcand = malloc(rows * sizeof *j->pcand);
        j->pmatched = malloc(rows);
        if (!j->phash || !j->pfirst || !j->psecond || !j->pcand || !j->pmatched) {
            j->pcap = 0;
            return oom(err);
        }
        j->pcap = rows;
    }
    dcr_status s = eval_keys(n, probe, j->pin, &j->pkv, err);
    if (s != DCR_OK)
        return s;
    if ((s = probe_all(n, j, rows, err)) != DCR_OK)
        return s;
    memset(j->pmatched, 0, rows);
    j->chain = NONE;
    j->probed = false;
    j->pad_row = 0;
    return DCR_OK;
}

static dcr_status gather(dcr_exec_node *n, join_op *j, size_t k, dcr_error *err);

/* Fills j->out with up to batch_rows candidate pairs from pin; sets probed. */
static dcr_status fill_candidates(dcr_exec_node *n, join_op *j, dcr_error *err)
{
    size_t k = 0, br = n->ctx->batch_rows;
    while (k < br) {
        if (j->chain == NONE) {
            if (!next_matched_row(j)) {
                j->probed = true;
                break;
            }
            j->chain = j->pfirst[j->prow];
            j->chain_past_first = false;
        }
        j->cand_p[k] = (uint32_t)j->prow;
        j->cand_b[k++] = entry_row(j, j->chain);
        if (!j->chain_past_first) {
            j->chain = j->psecond[j->prow];
            j->chain_past_first = true;
        } else {
            j->chain = match_from(n, j, j->chain + 1, j->prow);
        }
        if (j->chain == NONE)
            j->ppos++;
    }
    if (j->chain == NONE && !next_matched_row(j))
        j->probed = true;
    j->out.nrows = k;
    return gather(n, j, k, err);
}

typedef struct {
    const dcr_exec_node *n;
    join_op *j;
    size_t k;
    const dcr_batch *src[2];
    const uint32_t *idx[2];
} gather_job;

/* Output column c of the candidates: gathered, or NULLs when nobody reads it. */
static dcr_status gather_part(void *arg, size_t c, dcr_error *err)
{
    gather_job *g = arg;
    size_t nl = g->src[0]->ncols;
    int side = c < nl ? 0 : 1;
    dcr_column *out = &g->j->out.cols[c];
    if (g->n->need && !g->n->need[c])
        return dcr_vec_append_nulls(out, g->k, err);
    const dcr_column *in = &g->src[side]->cols[side ? c - nl : c];
    dcr_status s = dcr_vec_append_rows(out, in, g->idx[side], 0, g->k, err);
    /* a probe column's dictionary codes (one chunk's) come along, so a
     * GROUP BY on it above still groups by code (aggregate.c); so do a
     * LEFT JOIN's padded rows' (fill_unmatched) */
    return s ? s : dcr_vec_copy_codes(out, in, g->idx[side], 0, g->k, err);
}

/* Gathers the k candidates' columns (left, then right), a column per part. */
static dcr_status gather(dcr_exec_node *n, join_op *j, size_t k, dcr_error *err)
{
    gather_job g = {.n = n, .j = j, .k = k};
    g.src[j->build_side] = &j->build;
    g.idx[j->build_side] = j->cand_b;
    g.src[1 - j->build_side] = j->pin;
    g.idx[1 - j->build_side] = j->cand_p;
    size_t ncols = j->out.ncols;
    if (k < n->ctx->split_rows) {
        for (size_t c = 0; c < ncols; c++) {
            dcr_status s = gather_part(&g, c, err);
            if (s != DCR_OK)
                return s;
        }
        return DCR_OK;
    }
    return dcr_exec_parallel(n->ctx, ncols, gather_part, &g, err);
}

/* Applies the extra ON condition to the candidates; *res is what passes. */
static dcr_status apply_pred(dcr_exec_node *n, join_op *j, dcr_batch **res, dcr_error *err)
{
    *res = &j->out;
    if (!n->plan->pred) {
        for (size_t i = 0; i < j->out.nrows; i++)
            j->pmatched[j->cand_p[i]] = 1;
        return DCR_OK;
    }
    dcr_vec v = {0};
    dcr_status s = dcr_eval(n->ctx, n->plan->pred, &j->out, NULL, &v, err);
    if (s != DCR_OK)
        return s;
    size_t k = 0;
    const uint8_t *t = v.c->values;
    for (size_t i = 0; i < j->out.nrows; i++)
        if (t[i] && !dcr_column_is_null(v.c, i)) {
            j->keep_rows[k++] = (uint32_t)i;
            j->pmatched[j->cand_p[i]] = 1;
        }
    dcr_vec_free(&v);
    dcr_batch_clear(&j->kept);
    *res = &j->kept;
    return dcr_batch_append_rows(&j->kept, &j->out, j->keep_rows, 0, k, err);
}

/* LEFT JOIN: rows of pin without a kept pair, padded with NULLs. */
static dcr_status fill_unmatched(dcr_exec_node *n, join_op *j, dcr_error *err)
{
    size_t nl = j->pin->ncols, nr = j->build.ncols, k = 0;
    while (k < n->ctx->batch_rows && j->pad_row < j->pin->nrows) {
        size_t r = j->pad_row++;
        if (!j->pmatched[r])
            j->keep_rows[k++] = (uint32_t)r;
    }
    dcr_status s = DCR_OK;
    for (size_t c = 0; s == DCR_OK && c < nl; c++) {
        dcr_column *o = &j->out.cols[c];
        if (n->need && !n->need[c]) {
            s = dcr_vec_append_nulls(o, k, err);
            continue;
        }
        s = dcr_vec_append_rows(o, &j->pin->cols[c], j->keep_rows, 0, k, err);
        s = s ? s : dcr_vec_copy_codes(o, &j->pin->cols[c], j->keep_rows, 0, k, err);
    }
    for (size_t c = 0; s == DCR_OK && c < nr; c++)
        s = dcr_vec_append_nulls(&j->out.cols[nl + c], k, err);
    j->out.nrows = k;
    return s;
}

static dcr_status join_next(dcr_exec_node *n, dcr_batch **out, dcr_error *err)
{
    join_op *j = n->state;
    *out = NULL;
    dcr_status s = j->ready ? DCR_OK : prepare(n, j, err);
    while (s == DCR_OK) {
        if (!j->pin) {
            if ((s = next_probe_batch(n, j, err)) != DCR_OK || !j->pin)
                return s;
        }
        dcr_batch_clear(&j->out);
        if (!j->probed) {
            s = fill_candidates(n, j, err);
            dcr_batch *res = NULL;
            s = s ? s : apply_pred(n, j, &res, err);
            if (s == DCR_OK && res->nrows) {
                *out = res;
                return DCR_OK;
            }
        } else if (n->plan->left_outer && j->pad_row < j->pin->nrows) {
            s = fill_unmatched(n, j, err);
            if (s == DCR_OK && j->out.nrows) {
                *out = &j->out;
                return DCR_OK;
            }
        } else {
            s = next_probe_batch(n, j, err);
            if (s == DCR_OK && !j->pin)
                return DCR_OK;
        }
    }
    return s;
}

static void join_destroy(dcr_exec_node *n)
{
    join_op *j = n->state;
    if (!j)
        return;
    if (j->erec) /* before the build batch goes: its rows say how many records */
        dcr_wipe(j->erec, j->build.nrows * EREC_BYTES);
    free_vecs(&j->bkv, n->plan->nkeys);
    free_vecs(&j->pkv, n->plan->nkeys);
    /* what is derived from the keys goes too: their hashes, bucket counts
     * and Bloom bits, and the order of the build rows by hash */
    size_t rows = j->build.nrows, buckets = j->bstart ? j->bmask + 1 : 0;
    dcr_wipe_free(j->bstart, (buckets + 1) * sizeof *j->bstart);
    dcr_wipe_free(j->order, j->order ? rows * sizeof *j->order : 0);
    dcr_wipe_free(j->ehash, j->ehash ? rows * sizeof *j->ehash : 0);
    dcr_wipe_free(j->bloom, j->bloom ? ((size_t)1 << (64 - j->bloom_shift)) * sizeof *j->bloom : 0);
    dcr_wipe_free(j->phash, j->pcap * sizeof *j->phash);
    dcr_batch_free(&j->build);
    dcr_batch_free(&j->pbuf);
    free(j->erec);
    free(j->pfirst);
    free(j->psecond);
    free(j->pcand);
    free(j->pkept);
    free(j->pmatched);
    dcr_batch_free(&j->out);
    dcr_batch_free(&j->kept);
    free(j->cand_p);
    free(j->cand_b);
    free(j->keep_rows);
    dcr_exec_release(n->ctx, j->charged);
    free(j);
    n->state = NULL;
}

dcr_status dcr_exec_join_init(dcr_exec_node *n, dcr_error *err)
{
    join_op *j = calloc(1, sizeof *j);
    if (!j)
        return oom(err);
    n->state = j;
    n->next = join_next;
    n->destroy = join_destroy;
    const dcr_plan *l = n->plan->child[0], *r = n->plan->child[1];
    dcr_status s = dcr_batch_init(&j->out, n->plan->types, n->plan->ncols, err);
    s = s ? s : dcr_batch_init(&j->kept, n->plan->types, n->plan->ncols, err);
    s = s ? s : dcr_batch_init(&j->build, r->types, r->ncols, err);
    return s ? s : dcr_batch_init(&j->pbuf, l->types, l->ncols, err);
}

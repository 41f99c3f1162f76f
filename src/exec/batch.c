/*
 * batch.c: batches and the per-value helpers operators share (batch.h).
 */
#include "exec/batch.h"

#include "base/bytes.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

dcr_status dcr_batch_init(dcr_batch *b, const dcr_type *types, size_t ncols, dcr_error *err)
{
    b->nrows = 0;
    b->ncols = ncols;
    b->cols = calloc(ncols ? ncols : 1, sizeof *b->cols);
    if (!b->cols)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    for (size_t i = 0; i < ncols; i++)
        dcr_column_init(&b->cols[i], types[i]);
    return DCR_OK;
}

void dcr_batch_free(dcr_batch *b)
{
    for (size_t i = 0; b->cols && i < b->ncols; i++)
        dcr_column_free(&b->cols[i]);
    free(b->cols);
    b->cols = NULL;
    b->ncols = b->nrows = 0;
}

void dcr_batch_clear(dcr_batch *b)
{
    for (size_t i = 0; i < b->ncols; i++)
        dcr_column_clear(&b->cols[i]);
    b->nrows = 0;
}

size_t dcr_column_bytes(const dcr_column *c)
{
    size_t n = (c->cap + 7) / 8 + c->text_cap + c->dict_cap * sizeof *c->dict;
    n += c->type == DCR_TYPE_TEXT ? (c->cap + 1) * sizeof(uint32_t)
                                  : c->cap * dcr_type_width(c->type);
    return n;
}

size_t dcr_batch_bytes(const dcr_batch *b)
{
    size_t n = 0;
    for (size_t i = 0; i < b->ncols; i++)
        n += dcr_column_bytes(&b->cols[i]);
    return n;
}

dcr_status dcr_vec_push_from(dcr_column *dst, const dcr_column *src, size_t row, dcr_error *err)
{
    if (dcr_column_is_null(src, row))
        return dcr_column_push_null(dst, err);
    switch (src->type) {
    case DCR_TYPE_BIGINT:
    case DCR_TYPE_TIMESTAMP:
        return dcr_column_push_i64(dst, ((const int64_t *)src->values)[row], err);
    case DCR_TYPE_DOUBLE:
        return dcr_column_push_f64(dst, ((const double *)src->values)[row], err);
    case DCR_TYPE_DATE:
        return dcr_column_push_i32(dst, ((const int32_t *)src->values)[row], err);
    case DCR_TYPE_BOOLEAN:
        return dcr_column_push_bool(dst, ((const uint8_t *)src->values)[row] != 0, err);
    case DCR_TYPE_INTERVAL:
        return dcr_column_push_interval(dst, ((const dcr_interval *)src->values)[row], err);
    case DCR_TYPE_TEXT:
        if (src->deferred) /* a row's entry (column.h) */
            return dcr_vec_append_rows(dst, src, NULL, row, 1, err);
        size_t len;
        const char *s = dcr_vec_text(src, row, &len);
        return dcr_column_push_text(dst, s, len, err);
    }
    return dcr_fail(err, DCR_EINTERNAL, "unknown column type");
}

/* Makes room in c for `more` rows and, for TEXT, `bytes` more text bytes. */
static dcr_status reserve(dcr_column *c, size_t more, size_t bytes, dcr_error *err)
{
    dcr_status s = dcr_column_reserve_rows(c, c->nrows + more, err);
    if (s != DCR_OK)
        return s;
    if (c->type != DCR_TYPE_TEXT || c->text_len + bytes <= c->text_cap)
        return DCR_OK;
    if (bytes > UINT32_MAX - c->text_len)
        return dcr_fail(err, DCR_EINPUT, "text data of one batch exceeds 4 GiB");
    return dcr_column_reserve_text(c, c->text_len + bytes, err);
}

/* Copies the values of fixed width w; rows NULL = the range from first. */
static void copy_fixed(void *dst, const void *src, size_t w, const uint32_t *rows, size_t first,
                       size_t n)
{
    if (!rows) {
        memcpy(dst, (const uint8_t *)src + first * w, n * w);
        return;
    }
    switch (w) {
    case 8:
        for (size_t i = 0; i < n; i++)
            ((uint64_t *)dst)[i] = ((const uint64_t *)src)[rows[i]];
        return;
    case 4:
        for (size_t i = 0; i < n; i++)
            ((uint32_t *)dst)[i] = ((const uint32_t *)src)[rows[i]];
        return;
    default:
        for (size_t i = 0; i < n; i++)
            memcpy((uint8_t *)dst + i * w, (const uint8_t *)src + rows[i] * w, w);
    }
}

static inline void put_bit(uint8_t *valid, size_t i, bool on)
{
    uint8_t m = (uint8_t)(1u << (i & 7));
    valid[i >> 3] = on ? (uint8_t)(valid[i >> 3] | m) : (uint8_t)(valid[i >> 3] & ~m);
}

/* Sets (on) or clears bits [from, from + n) of a validity bitmap: the
 * edges bit by bit, whole bytes between them. */
static void fill_bits(uint8_t *valid, size_t from, size_t n, bool on)
{
    size_t i = from, end = from + n;
    for (; i < end && (i & 7); i++)
        put_bit(valid, i, on);
    size_t bytes = (end - i) >> 3;
    memset(valid + (i >> 3), on ? 0xff : 0, bytes);
    i += 8 * bytes;
    for (; i < end; i++)
        put_bit(valid, i, on);
}

/* Source row r's entry in a deferred column (column.h): its offsets in
 * s->text, [*from, return). A NULL row is empty. */
static inline uint32_t entry_span(const dcr_column *s, size_t r, uint32_t *from)
{
    if (s->nnulls && dcr_column_is_null(s, r)) {
        *from = 0;
        return 0;
    }
    uint16_t k = s->codes[r];
    *from = s->dict[k];
    return s->dict[k + 1];
}

/* The text of rows[0..n) (NULL: first on) of a deferred column, expanded
 * into d's offsets and text from row `base` on; d has room for them. */
static void append_deferred_text(dcr_column *d, const dcr_column *s, const uint32_t *rows,
                                 size_t first, size_t n, size_t base)
{
    size_t tl = d->text_len;
    for (size_t i = 0; i < n; i++) {
        uint32_t from, to = entry_span(s, rows ? rows[i] : first + i, &from);
        if (to > from)
            dcr_copy_bytes(d->text + tl, s->text + from, to - from);
        tl += to - from;
        d->offsets[base + i + 1] = (uint32_t)tl;
    }
    d->text_len = tl;
}

/* The text bytes rows[0..n) (NULL: first on) of TEXT column s take. */
static size_t text_bytes(const dcr_column *s, const uint32_t *rows, size_t first, size_t n)
{
    size_t bytes = 0;
    if (s->deferred) {
        for (size_t i = 0; i < n; i++) {
            uint32_t from, to = entry_span(s, rows ? rows[i] : first + i, &from);
            bytes += to - from;
        }
        return bytes;
    }
    const uint32_t *so = s->offsets;
    if (!rows)
        return so[first + n] - so[first];
    for (size_t i = 0; i < n; i++)
        bytes += so[rows[i] + 1] - so[rows[i]];
    return bytes;
}

dcr_status dcr_vec_append_rows(dcr_column *d, const dcr_column *s, const uint32_t *rows,
                               size_t first, size_t n, dcr_error *err)
{
    if (n == 0)
        return DCR_OK;
    d->ncodes = 0;
    const uint32_t *so = s->offsets;
    size_t bytes = s->type == DCR_TYPE_TEXT ? text_bytes(s, rows, first, n) : 0;
    dcr_status st = reserve(d, n, bytes, err);
    if (st != DCR_OK)
        return st;
    size_t base = d->nrows, nulls = 0;
    if (!s->nnulls)
        fill_bits(d->valid, base, n, true);
    for (size_t i = 0; s->nnulls && i < n; i++) {
        size_t r = rows ? rows[i] : first + i, o = base + i;
        uint8_t bit = (uint8_t)(1u << (o & 7));
        if (dcr_column_is_null(s, r)) {
            d->valid[o >> 3] &= (uint8_t)~bit;
            nulls++;
        } else {
            d->valid[o >> 3] |= bit;
        }
    }
    if (s->type == DCR_TYPE_TEXT && s->deferred) {
        append_deferred_text(d, s, rows, first, n, base);
    } else if (s->type == DCR_TYPE_TEXT) {
        size_t tl = d->text_len;
        if (!rows && !s->nnulls) { /* a range: its bytes in one copy, its offsets shifted */
            uint32_t start = so[first];
            if (bytes)
                memcpy(d->text + tl, s->text + start, bytes);
            for (size_t i = 0; i < n; i++)
                d->offsets[base + i + 1] = (uint32_t)(tl + (so[first + i + 1] - start));
            tl += bytes;
        } else { /* a NULL row decoded from a plain chunk may hold bytes: not copied */
            for (size_t i = 0; i < n; i++) {
                size_t r = rows ? rows[i] : first + i, len = so[r + 1] - so[r];
                if (s->nnulls && dcr_column_is_null(s, r))
                    len = 0;
                if (len)
                    dcr_copy_bytes(d->text + tl, s->text + so[r], len);
                tl += len;
                d->offsets[base + i + 1] = (uint32_t)tl;
            }
        }
        d->text_len = tl;
    } else {
        size_t w = dcr_type_width(s->type);
        uint8_t *dv = (uint8_t *)d->values + base * w;
        copy_fixed(dv, s->values, w, rows, first, n);
        for (size_t i = 0; nulls && i < n; i++) /* NULLs hold zeros, as pushed ones do */
            if (dcr_column_is_null(d, base + i))
                memset(dv + i * w, 0, w);
    }
    d->nnulls += nulls;
    d->nrows += n;
    return DCR_OK;
}

dcr_status dcr_vec_copy_codes(dcr_column *dst, const dcr_column *src, const uint32_t *rows,
                              size_t first, size_t n, dcr_error *err)
{
    if (!src->ncodes || n == 0 || dst->nrows != n)
        return DCR_OK;
    dcr_status s = dcr_column_reserve_codes(dst, n, err);
    if (s != DCR_OK)
        return s;
    for (size_t i = 0; i < n; i++)
        dst->codes[i] = src->codes[rows ? rows[i] : first + i];
    dst->ncodes = src->ncodes;
    return DCR_OK;
}

dcr_status dcr_vec_append_nulls(dcr_column *d, size_t n, dcr_error *err)
{
    dcr_status st = n ? reserve(d, n, 0, err) : DCR_OK;
    if (st != DCR_OK || n == 0)
        return st;
    d->ncodes = 0;
    size_t base = d->nrows;
    fill_bits(d->valid, base, n, false);
    if (d->type == DCR_TYPE_TEXT)
        for (size_t i = 0; i < n; i++)
            d->offsets[base + i + 1] = (uint32_t)d->text_len;
    else
        memset((uint8_t *)d->values + base * dcr_type_width(d->type), 0,
               n * dcr_type_width(d->type));
    d->nnulls += n;
    d->nrows += n;
    return DCR_OK;
}

dcr_status dcr_vec_append_i64s(dcr_column *d, const int64_t *v, size_t n, dcr_error *err)
{
    dcr_status st = n ? reserve(d, n, 0, err) : DCR_OK;
    if (st != DCR_OK || n == 0)
        return st;
    d->ncodes = 0;
    fill_bits(d->valid, d->nrows, n, true);
    memcpy((int64_t *)d->values + d->nrows, v, n * sizeof *v);
    d->nrows += n;
    return DCR_OK;
}

dcr_status dcr_vec_append_texts(dcr_column *d, const char *const *s, const uint32_t *len, size_t n,
                                dcr_error *err)
{
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += s[i] ? len[i] : 0;
    dcr_status st = n ? reserve(d, n, bytes, err) : DCR_OK;
    if (st != DCR_OK || n == 0)
        return st;
    d->ncodes = 0;
    size_t base = d->nrows, tl = d->text_len, nulls = 0;
    fill_bits(d->valid, base, n, true);
    for (size_t i = 0; i < n; i++) {
        if (!s[i]) {
            put_bit(d->valid, base + i, false);
            nulls++;
        } else if (len[i]) {
            dcr_copy_bytes(d->text + tl, s[i], len[i]);
            tl += len[i];
        }
        d->offsets[base + i + 1] = (uint32_t)tl;
    }
    d->text_len = tl;
    d->nnulls += nulls;
    d->nrows += n;
    return DCR_OK;
}

dcr_status dcr_batch_append_rows(dcr_batch *dst, const dcr_batch *src, const uint32_t *rows,
                                 size_t first, size_t n, dcr_error *err)
{
    for (size_t c = 0; c < src->ncols; c++) {
        dcr_status st = dcr_vec_append_rows(&dst->cols[c], &src->cols[c], rows, first, n, err);
        if (st != DCR_OK)
            return st;
    }
    dst->nrows += n;
    return DCR_OK;
}

dcr_status dcr_vec_alloc(dcr_column *c, dcr_type t, size_t n, dcr_error *err)
{
    dcr_column_init(c, t);
    size_t cap = n ? n : 1;
    c->valid = malloc((cap + 7) / 8);
    c->values = calloc(cap, dcr_type_width(t));
    if (!c->valid || !c->values) {
        dcr_column_free(c);
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    }
    memset(c->valid, 0xff, (cap + 7) / 8);
    c->cap = cap;
    c->nrows = n;
    return DCR_OK;
}

void dcr_vec_set_null(dcr_column *c, size_t i)
{
    c->ncodes = 0;
    if (dcr_column_is_null(c, i))
        return;
    c->valid[i >> 3] &= (uint8_t) ~(1u << (i & 7));
    c->nnulls++;
    size_t w = dcr_type_width(c->type);
    memset((uint8_t *)c->values + i * w, 0, w);
}

dcr_status dcr_vec_copy(dcr_column *dst, const dcr_column *src, dcr_error *err)
{
    dcr_column_free(dst);
    dcr_column_init(dst, src->type);
    return dcr_vec_append_rows(dst, src, NULL, 0, src->nrows, err);
}

int dcr_f64_cmp(double a, double b)
{
    bool na = isnan(a), nb = isnan(b);
    if (na || nb)
        return na && nb ? 0 : na ? 1 : -1;
    return a < b ? -1 : a > b ? 1 : 0;
}

int dcr_value_cmp(const dcr_column *a, size_t ia, const dcr_column *b, size_t ib)
{
    switch (a->type) {
    case DCR_TYPE_BIGINT:
    case DCR_TYPE_TIMESTAMP: {
        int64_t x = ((const int64_t *)a->values)[ia], y = ((const int64_t *)b->values)[ib];
        return x < y ? -1 : x > y;
    }
    case DCR_TYPE_DOUBLE:
        return dcr_f64_cmp(((const double *)a->values)[ia], ((const double *)b->values)[ib]);
    case DCR_TYPE_DATE: {
        int32_t x = ((const int32_t *)a->values)[ia], y = ((const int32_t *)b->values)[ib];
        return x < y ? -1 : x > y;
    }
    case DCR_TYPE_BOOLEAN:
        return (int)((const uint8_t *)a->values)[ia] - (int)((const uint8_t *)b->values)[ib];
    case DCR_TYPE_INTERVAL: /* by the 30-day-month span: '1 day' = '24 hours' */
        return dcr_interval_cmp(((const dcr_interval *)a->values)[ia],
                                ((const dcr_interval *)b->values)[ib]);
    case DCR_TYPE_TEXT: {
        size_t la, lb;
        const char *x = dcr_vec_text(a, ia, &la), *y = dcr_vec_text(b, ib, &lb);
        int c = memcmp(x, y, la < lb ? la : lb);
        return c ? (c < 0 ? -1 : 1) : la < lb ? -1 : la > lb;
    }
    }
    return 0;
}

bool dcr_value_equal(const dcr_column *a, size_t ia, const dcr_column *b, size_t ib)
{
    bool na = dcr_column_is_null(a, ia), nb = dcr_column_is_null(b, ib);
    if (na || nb)
        return na && nb;
    return dcr_value_cmp(a, ia, b, ib) == 0;
}

#define NULL_HASH_WORD 0x5bd1e995u /* what a NULL mixes in (all NULLs group together) */

static inline uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

/* 64x64 -> 128-bit multiply, folded: one step mixes 16 bytes. */
static inline uint64_t fold_mul(uint64_t a, uint64_t b)
{
    unsigned __int128 p = (unsigned __int128)a * b;
    return (uint64_t)p ^ (uint64_t)(p >> 64);
}

/* Hash of a byte string (join and grouping keys are often short TEXT such
 * as emails): 16 bytes per multiply, the last block read overlapping. */
static inline __attribute__((always_inline)) uint64_t text_hash(const char *s, size_t len)
{
    const uint64_t k0 = 0xa0761d6478bd642full, k1 = 0xe7037ed1a0b428dbull;
    uint64_t x = k0 ^ len, a, b;
    if (len <= 16) {
        a = b = 0;
        if (len >= 8) {
            memcpy(&a, s, 8);
            memcpy(&b, s + len - 8, 8);
        } else if (len >= 4) {
            uint32_t u, v;
            memcpy(&u, s, 4);
            memcpy(&v, s + len - 4, 4);
            a = u;
            b = v;
        } else if (len > 0) {
            a = ((uint64_t)(uint8_t)s[0] << 16) | ((uint64_t)(uint8_t)s[len / 2] << 8) |
                (uint8_t)s[len - 1];
        }
        return fold_mul(a ^ k1, b ^ x);
    }
    size_t i = 0;
    for (; i + 16 < len; i += 16) {
        memcpy(&a, s + i, 8);
        memcpy(&b, s + i + 8, 8);
        x = fold_mul(a ^ k1, b ^ x);
    }
    memcpy(&a, s + len - 16, 8);
    memcpy(&b, s + len - 8, 8);
    return fold_mul(a ^ k1, b ^ x);
}

uint64_t dcr_value_hash(const dcr_column *c, size_t row, uint64_t h)
{
    if (dcr_column_is_null(c, row))
        return mix(h, NULL_HASH_WORD);
    switch (c->type) {
    case DCR_TYPE_BIGINT:
    case DCR_TYPE_TIMESTAMP:
        return mix(h, (uint64_t)((const int64_t *)c->values)[row]);
    case DCR_TYPE_DOUBLE: {
        double d = ((const double *)c->values)[row];
        if (d == 0)
            d = 0; /* -0 and 0 are equal, so must hash alike */
        if (isnan(d))
            d = NAN;
        uint64_t bits;
        memcpy(&bits, &d, sizeof bits);
        return mix(h, bits);
    }
    case DCR_TYPE_DATE:
        return mix(h, (uint64_t)(uint32_t)((const int32_t *)c->values)[row]);
    case DCR_TYPE_BOOLEAN:
        return mix(h, ((const uint8_t *)c->values)[row]);
    case DCR_TYPE_INTERVAL:
        return mix(h, dcr_interval_hash_key(((const dcr_interval *)c->values)[row]));
    case DCR_TYPE_TEXT: {
        size_t len;
        const char *s = dcr_vec_text(c, row, &len);
        return mix(h, text_hash(s, len));
    }
    }
    return h;
}

void dcr_value_hash_rows(const dcr_column *c, size_t from, size_t to, uint64_t h, uint64_t *out)
{
    if (c->type == DCR_TYPE_TEXT) {
        for (size_t r = from; r < to; r++) {
            size_t len;
            const char *t = dcr_vec_text(c, r, &len);
            out[r - from] = mix(h, text_hash(t, len));
        }
    } else if (c->type == DCR_TYPE_BIGINT || c->type == DCR_TYPE_TIMESTAMP) {
        const int64_t *v = c->values;
        for (size_t r = from; r < to; r++)
            out[r - from] = mix(h, (uint64_t)v[r]);
    } else {
        for (size_t r = from; r < to; r++)
            out[r - from] = dcr_value_hash(c, r, h);
        return;
    }
    for (size_t r = from; c->nnulls && r < to; r++) /* NULL hashes as NULL, whatever it holds */
        if (dcr_column_is_null(c, r))
            out[r - from] = mix(h, NULL_HASH_WORD);
}

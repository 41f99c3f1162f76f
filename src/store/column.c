/*
 * column.c: building columns row by row, and their plain encoding:
 *
 *   u8 has_nulls; [validity bitmap, (nrows+7)/8 bytes, if has_nulls];
 *   fixed-width types: nrows little-endian values;
 *   TEXT: (nrows+1) u32 offsets (offsets[0] = 0, non-decreasing), then bytes.
 *
 * Decoding dispatches on the encoding: TEXT's lengths and dictionary
 * encodings (after the shared validity head) live in store/text_encoding.c.
 */
#include "base/memory.h"
#include "store/column.h"

#include <stdlib.h>
#include <string.h>

#include "base/bytes.h"
#include "base/value.h"
#include "store/text_encoding.h"

void dcr_column_init(dcr_column *c, dcr_type type)
{
    memset(c, 0, sizeof *c);
    c->type = type;
}

/* Remembers the extent written so far, before nrows or text_len shrink. */
static void note_dirty(dcr_column *c)
{
    if (c->nrows > c->dirty_rows)
        c->dirty_rows = c->nrows;
    if (c->text_len > c->dirty_text)
        c->dirty_text = c->text_len;
}

/* A deferred column back to the normal form's (empty) arrays. */
static void undefer(dcr_column *c)
{
    if (!c->deferred)
        return;
    c->offsets = c->parked_offsets;
    c->parked_offsets = NULL;
    c->deferred = false;
}

void dcr_column_free(dcr_column *c)
{
    note_dirty(c);
    undefer(c);
    size_t w = dcr_type_width(c->type);
    if (c->values)
        explicit_bzero(c->values, (c->dirty_rows < c->cap ? c->dirty_rows : c->cap) * w);
    if (c->text)
        explicit_bzero(c->text, c->dirty_text < c->text_cap ? c->dirty_text : c->text_cap);
    free(c->valid);
    free(c->values);
    free(c->offsets);
    free(c->parked_offsets);
    free(c->text);
    if (c->codes) /* which rows hold equal values: derived from plaintext too */
        explicit_bzero(c->codes, c->codes_cap * sizeof *c->codes);
    free(c->codes);
    if (c->dict) /* the dictionary's entry lengths */
        explicit_bzero(c->dict, c->dict_cap * sizeof *c->dict);
    free(c->dict);
    dcr_column_init(c, c->type);
}

dcr_status dcr_column_defer(dcr_column *c, dcr_error *err)
{
    if (c->type != DCR_TYPE_TEXT || c->deferred || !c->ncodes)
        return DCR_OK;
    size_t nd = c->ncodes;
    uint32_t *first = malloc(nd * sizeof *first), *dict = malloc((nd + 1) * sizeof *dict);
    if (!first || !dict) {
        free(first);
        free(dict);
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    }
    for (size_t k = 0; k < nd; k++)
        first[k] = UINT32_MAX;
    for (size_t i = 0; i < c->nrows; i++)
        if (!dcr_column_is_null(c, i) && first[c->codes[i]] == UINT32_MAX)
            first[c->codes[i]] = (uint32_t)i;
    /* the entries in code order, gathered apart (their rows may sit
     * anywhere in text) and then written to its front */
    size_t total = 0;
    for (size_t k = 0; k < nd; k++) {
        dict[k] = (uint32_t)total;
        if (first[k] != UINT32_MAX)
            total += c->offsets[first[k] + 1] - c->offsets[first[k]];
    }
    dict[nd] = (uint32_t)total;
    char *entries = malloc(total ? total : 1);
    if (!entries) {
        free(first);
        free(dict);
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    }
    for (size_t k = 0; k < nd; k++) /* (text is NULL while every value is empty) */
        if (first[k] != UINT32_MAX && dict[k + 1] > dict[k])
            memcpy(entries + dict[k], c->text + c->offsets[first[k]], dict[k + 1] - dict[k]);
    free(first);
    note_dirty(c);
    if (total) /* total <= text_len: the entries are distinct rows' bytes */
        memcpy(c->text, entries, total);
    explicit_bzero(entries, total);
    free(entries);
    c->text_len = total;
    if (c->dict)
        explicit_bzero(c->dict, c->dict_cap * sizeof *c->dict);
    free(c->dict);
    c->dict = dict;
    c->dict_cap = nd + 1;
    c->parked_offsets = c->offsets;
    c->offsets = NULL;
    c->deferred = true;
    return DCR_OK;
}

void dcr_column_clear(dcr_column *c)
{
    note_dirty(c);
    undefer(c);
    c->ncodes = 0;
    c->nrows = 0;
    c->nnulls = 0;
    c->text_len = 0;
    if (c->offsets)
        c->offsets[0] = 0;
}

void dcr_column_pop(dcr_column *c)
{
    if (c->nrows == 0)
        return;
    note_dirty(c);
    c->ncodes = 0;
    c->nrows--;
    if (dcr_column_is_null(c, c->nrows))
        c->nnulls--;
    if (c->type == DCR_TYPE_TEXT)
        c->text_len = c->offsets[c->nrows];
}

dcr_status dcr_column_reserve_rows(dcr_column *c, size_t want, dcr_error *err)
{
    if (want <= c->cap)
        return DCR_OK;
    size_t cap = c->cap ? c->cap : 1024;
    while (cap < want)
        cap *= 2;
    if (cap > UINT32_MAX)
        return dcr_fail(err, DCR_EINPUT, "too many rows in one column (at most 2^32)");
    uint8_t *valid = realloc(c->valid, (cap + 7) / 8);
    if (!valid)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    c->valid = valid;
    if (c->type == DCR_TYPE_TEXT) {
        uint32_t *off = realloc(c->offsets, (cap + 1) * sizeof *off);
        if (!off)
            return dcr_fail(err, DCR_EINTERNAL, "out of memory");
        if (!c->offsets)
            off[0] = 0;
        c->offsets = off;
    } else {
        void *v = realloc(c->values, cap * dcr_type_width(c->type));
        if (!v)
            return dcr_fail(err, DCR_EINTERNAL, "out of memory");
        c->values = v;
        dcr_advise_huge(v, cap * dcr_type_width(c->type));
    }
    if (c->offsets)
        dcr_advise_huge(c->offsets, (cap + 1) * sizeof *c->offsets);
    c->cap = cap;
    return DCR_OK;
}

/* Marks row c->nrows valid or not and advances; the caller has stored the value. */
static inline void set_valid(dcr_column *c, bool valid)
{
    size_t r = c->nrows;
    uint8_t bit = (uint8_t)(1u << (r & 7));
    c->ncodes = 0;
    if (valid)
        c->valid[r >> 3] |= bit;
    else {
        c->valid[r >> 3] &= (uint8_t)~bit;
        c->nnulls++;
    }
    c->nrows++;
}

static inline dcr_status reserve_one(dcr_column *c, dcr_error *err)
{
    return c->nrows < c->cap ? DCR_OK : dcr_column_reserve_rows(c, c->nrows + 1, err);
}

dcr_status dcr_column_push_null(dcr_column *c, dcr_error *err)
{
    dcr_status s = reserve_one(c, err);
    if (s != DCR_OK)
        return s;
    if (c->type == DCR_TYPE_TEXT)
        c->offsets[c->nrows + 1] = (uint32_t)c->text_len;
    else
        memset((uint8_t *)c->values + c->nrows * dcr_type_width(c->type), 0,
               dcr_type_width(c->type));
    set_valid(c, false);
    return DCR_OK;
}

#define DEFINE_PUSH(fn, ctype)                                                                     \
    dcr_status fn(dcr_column *c, ctype v, dcr_error *err)                                          \
    {                                                                                              \
        dcr_status s = reserve_one(c, err);                                                        \
        if (s != DCR_OK)                                                                           \
            return s;                                                                              \
        ((ctype *)c->values)[c->nrows] = v;                                                        \
        set_valid(c, true);                                                                        \
        return DCR_OK;                                                                             \
    }

DEFINE_PUSH(dcr_column_push_i64, int64_t)
DEFINE_PUSH(dcr_column_push_f64, double)
DEFINE_PUSH(dcr_column_push_i32, int32_t)
DEFINE_PUSH(dcr_column_push_interval, dcr_interval)

dcr_status dcr_column_push_bool(dcr_column *c, bool v, dcr_error *err)
{
    dcr_status s = reserve_one(c, err);
    if (s != DCR_OK)
        return s;
    ((uint8_t *)c->values)[c->nrows] = v ? 1 : 0;
    set_valid(c, true);
    return DCR_OK;
}

dcr_status dcr_column_push_text(dcr_column *c, const char *str, size_t len, dcr_error *err)
{
    dcr_status s = reserve_one(c, err);
    if (s != DCR_OK)
        return s;
    if (len > UINT32_MAX - c->text_len)
        return dcr_fail(err, DCR_EINPUT, "text data of one chunk exceeds 4 GiB");
    if (c->text_len + len > c->text_cap &&
        (s = dcr_column_reserve_text(c, c->text_len + len, err)) != DCR_OK)
        return s;
    if (len) /* short values (most): a few moves, not a call */
        dcr_copy_bytes(c->text + c->text_len, str, len);
    c->text_len += len;
    c->offsets[c->nrows + 1] = (uint32_t)c->text_len;
    set_valid(c, true);
    return DCR_OK;
}

static size_t validity_size(const dcr_column *c)
{
    return 1 + (c->nnulls ? (c->nrows + 7) / 8 : 0);
}

static size_t encoded_size(const dcr_column *c)
{
    size_t n = c->nrows;
    size_t size = validity_size(c);
    if (c->type == DCR_TYPE_TEXT)
        return size + 4 * (n + 1) + c->text_len;
    return size + n * dcr_type_width(c->type);
}

/* Writes has_nulls and the bitmap at p; returns the end. */
static uint8_t *put_validity(const dcr_column *c, uint8_t *p)
{
    size_t n = c->nrows;
    *p++ = c->nnulls ? 1 : 0;
    if (c->nnulls) {
        size_t bytes = (n + 7) / 8;
        memcpy(p, c->valid, bytes);
        if (n & 7) /* bits past the last row are zero, so equal columns encode equally */
            p[bytes - 1] &= (uint8_t)((1u << (n & 7)) - 1);
        p += bytes;
    }
    return p;
}

dcr_status dcr_column_encode_validity(const dcr_column *c, dcr_buf *out, dcr_error *err)
{
    dcr_status s = dcr_buf_reserve(out, validity_size(c), err);
    if (s != DCR_OK)
        return s;
    out->len = (size_t)(put_validity(c, out->data + out->len) - out->data);
    return DCR_OK;
}

dcr_status dcr_column_encode(const dcr_column *c, dcr_buf *out, dcr_error *err)
{
    size_t n = c->nrows;
    dcr_status s = dcr_buf_reserve(out, encoded_size(c), err);
    if (s != DCR_OK)
        return s;
    uint8_t *p = put_validity(c, out->data + out->len);
    if (c->type == DCR_TYPE_TEXT) {
        if (n == 0) {
            dcr_put_u32le(p, 0);
            p += 4;
        } else {
            for (size_t i = 0; i <= n; i++, p += 4)
                dcr_put_u32le(p, c->offsets[i]);
        }
        if (c->text_len)
            memcpy(p, c->text, c->text_len);
        p += c->text_len;
    } else {
        /* x86-64 and aarch64 are little-endian, the format's byte order. */
        size_t bytes = n * dcr_type_width(c->type);
        if (bytes)
            memcpy(p, c->values, bytes);
        p += bytes;
    }
    out->len = (size_t)(p - out->data);
    return DCR_OK;
}

static dcr_status check_fixed(const dcr_column *c, dcr_error *err)
{
    size_t n = c->nrows;
    if (c->type == DCR_TYPE_BOOLEAN) {
        const uint8_t *v = c->values;
        for (size_t i = 0; i < n; i++)
            if (v[i] > 1)
                return dcr_fail(err, DCR_EINPUT, "row %zu: BOOLEAN byte is not 0 or 1", i);
    } else if (c->type == DCR_TYPE_DATE) {
        const int32_t *v = c->values;
        for (size_t i = 0; i < n; i++)
            if (v[i] < DCR_DATE_MIN || v[i] > DCR_DATE_MAX)
                return dcr_fail(err, DCR_EINPUT, "row %zu: DATE out of range", i);
    } else if (c->type == DCR_TYPE_TIMESTAMP) {
        const int64_t *v = c->values;
        for (size_t i = 0; i < n; i++)
            if (v[i] < DCR_TIMESTAMP_MIN || v[i] > DCR_TIMESTAMP_MAX)
                return dcr_fail(err, DCR_EINPUT, "row %zu: TIMESTAMP out of range", i);
    }
    return DCR_OK;
}

dcr_status dcr_column_reserve_codes(dcr_column *c, size_t n, dcr_error *err)
{
    if (n <= c->codes_cap)
        return DCR_OK;
    if (c->codes)
        explicit_bzero(c->codes, c->codes_cap * sizeof *c->codes);
    free(c->codes);
    c->codes = malloc(n * sizeof *c->codes);
    c->codes_cap = c->codes ? n : 0;
    return c->codes ? DCR_OK : dcr_fail(err, DCR_EINTERNAL, "out of memory");
}

dcr_status dcr_column_reserve_text(dcr_column *c, size_t len, dcr_error *err)
{
    if (len <= c->text_cap)
        return DCR_OK;
    size_t cap = c->text_cap ? c->text_cap : 4096;
    while (cap < len) /* doubling: callers that append grow it often */
        cap *= 2;
    char *t = realloc(c->text, cap);
    if (!t)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    dcr_advise_huge(t, cap);
    c->text = t;
    c->text_cap = cap;
    return DCR_OK;
}

dcr_status dcr_text_check(const char *text, size_t len, const uint32_t *offsets, size_t n,
                          const char *what, dcr_error *err)
{
    size_t bad = dcr_utf8_check(text, len);
    if (bad != len)
        return dcr_fail(err, DCR_EINPUT, "%s: not valid UTF-8 (byte %zu)", what, bad);
    if (len && memchr(text, '\0', len))
        return dcr_fail(err, DCR_EINPUT, "%s: contains a NUL byte", what);
    /* The whole is valid UTF-8, so a value that ends inside a character makes
     * the next one start with a continuation byte. */
    for (size_t i = 1; i < n; i++) {
        uint32_t o = offsets[i];
        if (o < len && ((unsigned char)text[o] & 0xc0) == 0x80)
            return dcr_fail(err, DCR_EINPUT,
                            "%s: value %zu ends inside a UTF-8 character (byte %u)", what, i - 1,
                            o);
    }
    return DCR_OK;
}

static dcr_status decode_plain_text(dcr_column *c, const uint8_t *p, size_t left, size_t text_max,
                                    dcr_error *err)
{
    size_t n = c->nrows;
    if (left / 4 < n + 1)
        return dcr_fail(err, DCR_EINPUT, "TEXT offsets truncated");
    const uint8_t *off = p;
    size_t data_len = left - 4 * (n + 1);
    if (dcr_get_u32le(off) != 0)
        return dcr_fail(err, DCR_EINPUT, "TEXT offsets do not start at 0");
    c->offsets[0] = 0;
    for (size_t i = 1; i <= n; i++) {
        uint32_t o = dcr_get_u32le(off + 4 * i);
        if (o < c->offsets[i - 1] || o > data_len)
            return dcr_fail(err, DCR_EINPUT, "row %zu: TEXT offset out of order or range", i - 1);
        c->offsets[i] = o;
    }
    if (c->offsets[n] != data_len)
        return dcr_fail(err, DCR_EINPUT, "TEXT data length does not match its offsets");
    if (data_len > text_max)
        return dcr_fail(err, DCR_EINPUT, "TEXT data of %zu bytes exceeds the chunk's limit %zu",
                        data_len, text_max);
    const char *text = (const char *)p + 4 * (n + 1);
    dcr_status s = dcr_text_check(text, data_len, c->offsets, n, "TEXT data", err);
    if (s == DCR_OK)
        s = dcr_column_reserve_text(c, data_len, err);
    if (s != DCR_OK)
        return s;
    if (data_len)
        memcpy(c->text, text, data_len);
    c->text_len = data_len;
    return DCR_OK;
}

static dcr_status decode_text(dcr_column *c, uint8_t encoding, const uint8_t *p, size_t left,
                              size_t text_max, bool defer, dcr_error *err)
{
    switch (encoding) {
    case DCR_ENCODING_PLAIN:
        return decode_plain_text(c, p, left, text_max, err);
    case DCR_ENCODING_LENGTHS:
        return dcr_text_decode_lengths(c, p, left, text_max, err);
    case DCR_ENCODING_DICTIONARY:
        return dcr_text_decode_dictionary(c, p, left, text_max, defer, err);
    }
    return dcr_fail(err, DCR_EINPUT, "unknown TEXT encoding %u", encoding);
}

static dcr_status decode(dcr_column *c, size_t nrows, uint8_t encoding, const uint8_t *data,
                         size_t len, size_t text_max, bool defer, dcr_error *err)
{
    dcr_column_clear(c);
    if (encoding != DCR_ENCODING_PLAIN && c->type != DCR_TYPE_TEXT)
        return dcr_fail(err, DCR_EINPUT, "encoding %u is not one for a %s column", encoding,
                        dcr_type_name(c->type));
    dcr_status s = dcr_column_reserve_rows(c, nrows ? nrows : 1, err);
    if (s != DCR_OK)
        return s;
    if (len < 1 || data[0] > 1)
        return dcr_fail(err, DCR_EINPUT, "bad column flags");
    bool has_nulls = data[0] == 1;
    size_t pos = 1, bitmap = (nrows + 7) / 8;
    if (has_nulls) {
        if (len - pos < bitmap)
            return dcr_fail(err, DCR_EINPUT, "validity bitmap truncated");
        memcpy(c->valid, data + pos, bitmap);
        if ((nrows & 7) && (c->valid[bitmap - 1] >> (nrows & 7)))
            return dcr_fail(err, DCR_EINPUT, "validity bitmap has bits past the last row");
        pos += bitmap;
    } else {
        memset(c->valid, 0xff, bitmap);
    }
    c->nrows = nrows;
    size_t nulls = 0;
    for (size_t i = 0; has_nulls && i < nrows; i++)
        nulls += dcr_column_is_null(c, i);
    c->nnulls = nulls;
    if (has_nulls && nulls == 0)
        return dcr_fail(err, DCR_EINPUT, "column says it has NULLs but has none");
    if (c->type == DCR_TYPE_TEXT) {
        if (text_max > UINT32_MAX) /* offsets are 32-bit */
            text_max = UINT32_MAX;
        s = decode_text(c, encoding, data + pos, len - pos, text_max, defer, err);
        if (s != DCR_OK) /* leave no half-checked offsets behind */
            dcr_column_clear(c);
        return s;
    }
    size_t bytes = nrows * dcr_type_width(c->type);
    if (len - pos != bytes)
        return dcr_fail(err, DCR_EINPUT, "column has %zu value bytes, expected %zu", len - pos,
                        bytes);
    if (bytes)
        memcpy(c->values, data + pos, bytes);
    return check_fixed(c, err);
}

dcr_status dcr_column_decode(dcr_column *c, size_t nrows, uint8_t encoding, const uint8_t *data,
                             size_t len, size_t text_max, dcr_error *err)
{
    return decode(c, nrows, encoding, data, len, text_max, false, err);
}

dcr_status dcr_column_decode_deferred(dcr_column *c, size_t nrows, uint8_t encoding,
                                      const uint8_t *data, size_t len, size_t text_max,
                                      dcr_error *err)
{
    return decode(c, nrows, encoding, data, len, text_max, true, err);
}

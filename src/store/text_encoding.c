/*
 * text_encoding.c: TEXT columns' lengths and dictionary encodings (after the
 * validity head that column.c writes and reads):
 *
 *   lengths:    u8 width (1, 2, 4), nrows lengths of that width, bytes
 *   dictionary: u32 ndict, u8 width, ndict lengths, entry bytes,
 *               u8 code width (1, 2), nrows codes
 *
 * NULL rows have length 0 / code 0. Both are smaller and faster to
 * decompress than the plain u32 offsets; a dictionary also collapses a
 * low-cardinality column (campaign names) to a byte per row. The decoders
 * write straight into the column's offsets and text, treating the bytes as
 * hostile: a provider who holds its data key can write anything.
 */
#include "store/text_encoding.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/bytes.h"

typedef struct {
    uint32_t hash;
    uint32_t code1; /* code + 1; 0 = empty slot */
} slot;

struct dcr_text_encoder {
    slot *slots;
    size_t slots_cap, nslots;              /* allocated; in use for this column (a power of 2) */
    uint32_t first_row[DCR_TEXT_DICT_MAX]; /* code -> the first row holding it */
    uint16_t *codes;                       /* per row */
    size_t codes_cap;
};

dcr_status dcr_text_encoder_new(dcr_text_encoder **out, dcr_error *err)
{
    dcr_text_encoder *e = calloc(1, sizeof *e);
    if (!e)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    *out = e;
    return DCR_OK;
}

void dcr_text_encoder_free(dcr_text_encoder *e)
{
    if (!e)
        return;
    if (e->codes)
        explicit_bzero(e->codes, e->codes_cap * sizeof *e->codes);
    if (e->slots)
        explicit_bzero(e->slots, e->slots_cap * sizeof *e->slots);
    free(e->codes);
    free(e->slots);
    free(e);
}

/* Row i's bytes (text is NULL while a column holds only empty strings). */
static inline const char *row_text(const dcr_column *c, size_t i)
{
    return c->text ? c->text + c->offsets[i] : "";
}

static inline size_t row_len(const dcr_column *c, size_t i)
{
    return dcr_column_is_null(c, i) ? 0 : c->offsets[i + 1] - c->offsets[i];
}

/* The smallest of 1, 2, 4 that holds max. */
static unsigned width_for(uint64_t max)
{
    return max <= UINT8_MAX ? 1 : max <= UINT16_MAX ? 2 : 4;
}

static inline void put_width(uint8_t *p, unsigned w, uint32_t v)
{
    if (w == 1)
        *p = (uint8_t)v;
    else if (w == 2)
        dcr_put_u16le(p, (uint16_t)v);
    else
        dcr_put_u32le(p, v);
}

static uint64_t hash_bytes(const unsigned char *p, size_t n)
{
    uint64_t h = UINT64_C(0x9e3779b97f4a7c15) ^ n;
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * UINT64_C(0xff51afd7ed558ccd);
        h ^= h >> 32;
    }
    uint64_t w = 0;
    memcpy(&w, p, n);
    h = (h ^ w) * UINT64_C(0xc4ceb9fe1a85ec53);
    return h ^ (h >> 29);
}

static dcr_status prepare(dcr_text_encoder *e, size_t nrows, dcr_error *err)
{
    size_t want = nrows < DCR_TEXT_DICT_MAX ? nrows : DCR_TEXT_DICT_MAX;
    size_t nslots = 16;
    while (nslots < 2 * want)
        nslots *= 2;
    if (nslots > e->slots_cap) {
        free(e->slots); /* holds hashes and codes only, no text */
        e->slots_cap = 0;
        if (!(e->slots = malloc(nslots * sizeof *e->slots)))
            return dcr_fail(err, DCR_EINTERNAL, "out of memory");
        e->slots_cap = nslots;
    }
    e->nslots = nslots;
    memset(e->slots, 0, nslots * sizeof *e->slots);
    if (nrows > e->codes_cap) {
        if (e->codes)
            explicit_bzero(e->codes, e->codes_cap * sizeof *e->codes);
        free(e->codes);
        e->codes_cap = 0;
        if (!(e->codes = malloc(nrows * sizeof *e->codes)))
            return dcr_fail(err, DCR_EINTERNAL, "out of memory");
        e->codes_cap = nrows;
    }
    return DCR_OK;
}

/* The dictionary in first-appearance order, or false when the column has
 * more distinct values than a dictionary holds or the dictionary cannot be
 * smaller than `limit` bytes (checked as it grows, so a column of distinct
 * values gives up early). */
typedef struct {
    size_t ndict;
    uint64_t bytes; /* sum of the entries' lengths */
    uint64_t max_len;
} dict_info;

static bool build_dictionary(dcr_text_encoder *e, const dcr_column *c, size_t head, uint64_t limit,
                             dict_info *d)
{
    size_t n = c->nrows, mask = e->nslots - 1;
    memset(d, 0, sizeof *d);
    for (size_t i = 0; i < n; i++) {
        if (dcr_column_is_null(c, i)) {
            e->codes[i] = 0;
            continue;
        }
        const char *s = row_text(c, i);
        size_t len = c->offsets[i + 1] - c->offsets[i];
        uint64_t h = hash_bytes((const unsigned char *)s, len);
        size_t k = (size_t)h & mask;
        uint32_t h32 = (uint32_t)(h >> 32);
        for (;; k = (k + 1) & mask) {
            slot *sl = &e->slots[k];
            if (!sl->code1)
                break;
            uint32_t r = e->first_row[sl->code1 - 1];
            if (sl->hash == h32 && c->offsets[r + 1] - c->offsets[r] == len &&
                memcmp(row_text(c, r), s, len) == 0)
                break;
        }
        slot *sl = &e->slots[k];
        if (!sl->code1) {
            if (d->ndict == DCR_TEXT_DICT_MAX)
                return false;
            e->first_row[d->ndict] = (uint32_t)i;
            sl->hash = h32;
            sl->code1 = (uint32_t)++d->ndict;
            d->bytes += len;
            if (len > d->max_len)
                d->max_len = len;
            /* narrowest widths: if even that is not smaller, give up early */
            if (head + 4 + 1 + d->ndict + d->bytes + 1 + n >= limit)
                return false;
        }
        e->codes[i] = (uint16_t)(sl->code1 - 1);
    }
    return true;
}

static uint8_t *put_lengths(const dcr_column *c, unsigned w, uint8_t *p)
{
    size_t n = c->nrows;
    *p++ = (uint8_t)w;
    for (size_t i = 0; i < n; i++, p += w)
        put_width(p, w, (uint32_t)row_len(c, i));
    return p;
}

/* The bytes of the non-NULL rows (a NULL row decoded from a plain chunk may
 * hold some; they are not part of the value). */
static uint8_t *put_row_bytes(const dcr_column *c, uint8_t *p)
{
    if (!c->nnulls) {
        size_t len = c->nrows ? c->offsets[c->nrows] : 0;
        if (len)
            memcpy(p, c->text, len);
        return p + len;
    }
    for (size_t i = 0; i < c->nrows; i++) {
        size_t len = row_len(c, i);
        memcpy(p, row_text(c, i), len);
        p += len;
    }
    return p;
}

static dcr_status write_dictionary(const dcr_text_encoder *e, const dcr_column *c,
                                   const dict_info *d, size_t size, dcr_buf *out, dcr_error *err)
{
    dcr_status s = dcr_column_encode_validity(c, out, err);
    if (s == DCR_OK)
        s = dcr_buf_reserve(out, size, err);
    if (s != DCR_OK)
        return s;
    uint8_t *p = out->data + out->len;
    unsigned w = width_for(d->max_len), cw = d->ndict <= 256 ? 1 : 2;
    dcr_put_u32le(p, (uint32_t)d->ndict);
    p += 4;
    *p++ = (uint8_t)w;
    for (size_t k = 0; k < d->ndict; k++, p += w) {
        uint32_t r = e->first_row[k];
        put_width(p, w, c->offsets[r + 1] - c->offsets[r]);
    }
    for (size_t k = 0; k < d->ndict; k++) {
        uint32_t r = e->first_row[k];
        size_t len = c->offsets[r + 1] - c->offsets[r];
        memcpy(p, row_text(c, r), len);
        p += len;
    }
    *p++ = (uint8_t)cw;
    if (cw == 1)
        for (size_t i = 0; i < c->nrows; i++)
            *p++ = (uint8_t)e->codes[i];
    else
        for (size_t i = 0; i < c->nrows; i++, p += 2)
            dcr_put_u16le(p, e->codes[i]);
    out->len = (size_t)(p - out->data);
    return DCR_OK;
}

dcr_status dcr_text_encode(dcr_text_encoder *e, const dcr_column *c, dcr_buf *out,
                           uint8_t *encoding, dcr_error *err)
{
    size_t n = c->nrows, head = 1 + (c->nnulls ? (n + 7) / 8 : 0);
    uint64_t max_len = 0, text = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t len = row_len(c, i);
        text += len;
        if (len > max_len)
            max_len = len;
    }
    unsigned w = width_for(max_len);
    uint64_t lengths_size = head + 1 + (uint64_t)n * w + text;
    dcr_status s = prepare(e, n, err);
    if (s != DCR_OK)
        return s;
    dict_info d;
    /* A dictionary must halve the size: see docs/format.md for why. */
    if (n && build_dictionary(e, c, head, lengths_size / 2 + 1, &d)) {
        uint64_t size = 4 + 1 + d.ndict * width_for(d.max_len) + d.bytes + 1 +
                        (uint64_t)n * (d.ndict <= 256 ? 1 : 2);
        if (2 * (head + size) <= lengths_size) {
            *encoding = DCR_ENCODING_DICTIONARY;
            return write_dictionary(e, c, &d, size, out, err);
        }
    }
    *encoding = DCR_ENCODING_LENGTHS;
    if ((s = dcr_column_encode_validity(c, out, err)) ||
        (s = dcr_buf_reserve(out, lengths_size - head, err)))
        return s;
    uint8_t *p = put_lengths(c, w, out->data + out->len);
    out->len = (size_t)(put_row_bytes(c, p) - out->data);
    return DCR_OK;
}

/* ---- decoding ---- */

/* Reads "u8 width, n lengths" from p[0..len) into offs[0..n] (running sums)
 * and sets *used to the bytes read and *total to the sum. The sum is kept in
 * 64 bits: n lengths of up to 2^32 - 1 cannot overflow it. */
static dcr_status read_lengths(const uint8_t *p, size_t len, size_t n, const char *what,
                               uint32_t *offs, size_t *used, uint64_t *total, dcr_error *err)
{
    if (len < 1)
        return dcr_fail(err, DCR_EINPUT, "%s: length width missing", what);
    unsigned w = p[0];
    if (w != 1 && w != 2 && w != 4)
        return dcr_fail(err, DCR_EINPUT, "%s: length width %u is not 1, 2 or 4", what, w);
    if ((len - 1) / w < n)
        return dcr_fail(err, DCR_EINPUT, "%s: %zu lengths of %u bytes do not fit in %zu bytes",
                        what, n, w, len - 1);
    const uint8_t *q = p + 1;
    uint64_t sum = 0;
    offs[0] = 0;
    /* offsets are 32-bit: a sum past that is refused below, so wrapping
     * stores in between never survive */
    if (w == 1)
        for (size_t i = 0; i < n; i++)
            offs[i + 1] = (uint32_t)(sum += q[i]);
    else if (w == 2)
        for (size_t i = 0; i < n; i++)
            offs[i + 1] = (uint32_t)(sum += dcr_get_u16le(q + 2 * i));
    else
        for (size_t i = 0; i < n; i++)
            offs[i + 1] = (uint32_t)(sum += dcr_get_u32le(q + 4 * i));
    *used = 1 + n * w;
    *total = sum;
    return DCR_OK;
}

dcr_status dcr_text_decode_lengths(dcr_column *c, const uint8_t *p, size_t len, size_t text_max,
                                   dcr_error *err)
{
    size_t n = c->nrows, used;
    uint64_t total;
    dcr_status s = read_lengths(p, len, n, "TEXT lengths", c->offsets, &used, &total, err);
    if (s != DCR_OK)
        return s;
    size_t bytes = len - used;
    if (total != bytes)
        return dcr_fail(err, DCR_EINPUT,
                        "TEXT lengths add up to %llu bytes but %zu bytes follow them",
                        (unsigned long long)total, bytes);
    if (bytes > text_max)
        return dcr_fail(err, DCR_EINPUT, "TEXT data of %zu bytes exceeds the chunk's limit %zu",
                        bytes, text_max);
    for (size_t i = 0; c->nnulls && i < n; i++)
        if (dcr_column_is_null(c, i) && c->offsets[i + 1] != c->offsets[i])
            return dcr_fail(err, DCR_EINPUT, "row %zu: a NULL row has a TEXT length other than 0",
                            i);
    const char *text = (const char *)p + used;
    if ((s = dcr_text_check(text, bytes, c->offsets, n, "TEXT data", err)) ||
        (s = dcr_column_reserve_text(c, bytes, err)))
        return s;
    if (bytes)
        memcpy(c->text, text, bytes);
    c->text_len = bytes;
    return DCR_OK;
}

/* k[0..n) = the n one-byte codes, widened; returns their OR. Sixteen at a
 * time in vector registers (GCC and clang vector extensions): at -O2 the
 * compiler leaves the plain loop scalar, and it ran at a few cycles per
 * row on every chunk's campaign column. */
typedef uint8_t u8x16 __attribute__((vector_size(16)));
typedef uint16_t u16x16 __attribute__((vector_size(32)));
static uint16_t widen_codes(uint16_t *k, const uint8_t *codes, size_t n)
{
    u8x16 acc = {0};
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        u8x16 v;
        memcpy(&v, codes + i, sizeof v);
        acc |= v;
        u16x16 w = __builtin_convertvector(v, u16x16);
        memcpy(k + i, &w, sizeof w);
    }
    uint16_t top = 0;
    for (int j = 0; j < 16; j++)
        top |= acc[j];
    for (; i < n; i++)
        top |= k[i] = codes[i];
    return top;
}

/* The codes after the dictionary: checks them and keeps them in c->codes. */
static dcr_status read_codes(dcr_column *c, const uint8_t *codes, unsigned cw, uint32_t ndict,
                             dcr_error *err)
{
    dcr_status s = dcr_column_reserve_codes(c, c->nrows, err);
    if (s != DCR_OK)
        return s;
    uint16_t *k = c->codes, top = 0;
    if (cw == 1)
        top = widen_codes(k, codes, c->nrows);
    else
        for (size_t i = 0; i < c->nrows; i++)
            top |= k[i] = dcr_get_u16le(codes + 2 * i);
    /* top, the OR of all codes, is at least each of them: only when it
     * reaches ndict need each code be checked (naming the row). */
    for (size_t i = 0; (size_t)top + 1 > ndict && i < c->nrows; i++)
        if (k[i] >= ndict && !(c->nnulls && dcr_column_is_null(c, i)))
            return dcr_fail(err, DCR_EINPUT, "row %zu: code %u is past the dictionary's %u entries",
                            i, k[i], ndict);
    for (size_t i = 0; c->nnulls && i < c->nrows; i++)
        if (dcr_column_is_null(c, i) && k[i] != 0)
            return dcr_fail(err, DCR_EINPUT, "row %zu: a NULL row has code %u, not 0", i, k[i]);
    return DCR_OK;
}

/* The error for rows that expand past text_max, naming the first row past it. */
static dcr_status too_big(const dcr_column *c, const uint32_t *doffs, size_t text_max,
                          dcr_error *err)
{
    const uint16_t *k = c->codes;
    uint64_t run = 0;
    size_t i = 0;
    for (; i < c->nrows; i++)
        if (!(c->nnulls && dcr_column_is_null(c, i)) &&
            (run += doffs[k[i] + 1] - doffs[k[i]]) > text_max)
            break;
    return dcr_fail(err, DCR_EINPUT,
                    "the dictionary expands to more than the chunk's limit of %zu "
                    "text bytes (at row %zu)",
                    text_max, i);
}

/* Fills c->offsets from the codes read, failing as soon as the
 * materialised text would pass text_max. */
static dcr_status expand_offsets(dcr_column *c, const uint32_t *doffs, size_t text_max,
                                 dcr_error *err)
{
    const uint16_t *k = c->codes;
    /* A NULL row's code is 0, so it would add entry 0's length: NULL rows
     * are summed apart. The sum cannot wrap (at most 2^20 rows of at most
     * 2^32 bytes); offsets that wrapped past 32 bits are never used, as the
     * decode then fails on text_max. */
    uint64_t sum = 0;
    c->offsets[0] = 0;
    if (!c->nnulls)
        for (size_t i = 0; i < c->nrows; i++)
            c->offsets[i + 1] = (uint32_t)(sum += doffs[k[i] + 1] - doffs[k[i]]);
    else
        for (size_t i = 0; i < c->nrows; i++) {
            if (!dcr_column_is_null(c, i))
                sum += doffs[k[i] + 1] - doffs[k[i]];
            c->offsets[i + 1] = (uint32_t)sum;
        }
    return sum > text_max ? too_big(c, doffs, text_max, err) : DCR_OK;
}

/* What the rows would expand to, without writing offsets: a deferred
 * column is held to the same limit as an expanded one, so that its rows,
 * expanded later wherever they go, never take more than a chunk may. */
static dcr_status check_expansion(const dcr_column *c, const uint32_t *doffs, uint32_t ndict,
                                  size_t text_max, dcr_error *err)
{
    const uint16_t *k = c->codes;
    uint64_t sum = 0, longest = 0;
    for (uint32_t d = 0; d < ndict; d++) /* every row at the longest still fits: done */
        if (doffs[d + 1] - doffs[d] > longest)
            longest = doffs[d + 1] - doffs[d];
    if ((uint64_t)c->nrows * longest <= text_max)
        return DCR_OK;
    for (size_t i = 0; ndict && i < c->nrows; i++) /* no entry: every row is NULL */
        sum += doffs[k[i] + 1] - doffs[k[i]];
    if (c->nnulls && sum) /* each NULL row added entry 0 (its code) */
        sum -= (uint64_t)c->nnulls * (doffs[1] - doffs[0]);
    return sum > text_max ? too_big(c, doffs, text_max, err) : DCR_OK;
}

/* Values up to SHORT_VALUE bytes are copied as one fixed-size block (a few
 * vector moves rather than a call per row) when that many bytes can be read
 * at the entry (readable: bytes from dict to the end of the column's data,
 * which the codes follow); the text has that much slack, and each row's
 * spill is overwritten by the next row. */
#define SHORT_VALUE 32

static void expand_text(dcr_column *c, uint32_t ndict, const char *dict, size_t readable,
                        const uint32_t *doffs)
{
    char *text = c->text;
    const uint16_t *k = c->codes;
    /* then no row needs the test below; with no entries at all (every row
     * NULL) there is nothing to copy from */
    bool all_short = ndict > 0;
    for (uint32_t d = 0; all_short && d < ndict; d++)
        all_short = doffs[d + 1] - doffs[d] <= SHORT_VALUE && doffs[d] + SHORT_VALUE <= readable;
    if (all_short) { /* an empty or NULL row's block is overwritten by the next row's */
        for (size_t i = 0; i < c->nrows; i++)
            memcpy(text + c->offsets[i], dict + doffs[k[i]], SHORT_VALUE);
        return;
    }
    for (size_t i = 0; i < c->nrows; i++) {
        size_t len = c->offsets[i + 1] - c->offsets[i];
        if (!len)
            continue;
        const char *src = dict + doffs[k[i]];
        if (len <= SHORT_VALUE && doffs[k[i]] + SHORT_VALUE <= readable)
            memcpy(text + c->offsets[i], src, SHORT_VALUE);
        else
            memcpy(text + c->offsets[i], src, len);
    }
}

/* Room for a deferred column's n + 1 dictionary offsets in c->dict. */
static dcr_status reserve_dict(dcr_column *c, size_t n, dcr_error *err)
{
    if (n + 1 <= c->dict_cap)
        return DCR_OK;
    if (c->dict)
        explicit_bzero(c->dict, c->dict_cap * sizeof *c->dict);
    free(c->dict);
    c->dict_cap = 0;
    if (!(c->dict = malloc((n + 1) * sizeof *c->dict)))
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    c->dict_cap = n + 1;
    return DCR_OK;
}

/* Keeps the dictionary's entries in the column and leaves the rows as
 * codes (column.h, `deferred`); doffs is c->dict. */
static dcr_status keep_deferred(dcr_column *c, const char *dict, size_t dict_len, uint32_t ndict,
                                dcr_error *err)
{
    dcr_status s = dcr_column_reserve_text(c, dict_len, err);
    if (s != DCR_OK)
        return s;
    if (dict_len)
        memcpy(c->text, dict, dict_len);
    c->text_len = dict_len;
    c->ncodes = ndict;
    c->parked_offsets = c->offsets;
    c->offsets = NULL;
    c->deferred = true;
    return DCR_OK;
}

dcr_status dcr_text_decode_dictionary(dcr_column *c, const uint8_t *p, size_t len, size_t text_max,
                                      bool defer, dcr_error *err)
{
    size_t n = c->nrows;
    if (len < 4)
        return dcr_fail(err, DCR_EINPUT, "dictionary size truncated");
    uint32_t ndict = dcr_get_u32le(p);
    if (ndict > DCR_TEXT_DICT_MAX || ndict > n)
        return dcr_fail(err, DCR_EINPUT,
                        "dictionary has %u entries, more than its %zu rows or the %u allowed",
                        ndict, n, DCR_TEXT_DICT_MAX);
    if (defer) {
        dcr_status r = reserve_dict(c, ndict, err);
        if (r != DCR_OK)
            return r;
    }
    uint32_t *doffs = defer ? c->dict : malloc(((size_t)ndict + 1) * sizeof *doffs);
    if (!doffs)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    size_t pos = 4, used;
    uint64_t dict_len;
    dcr_status s =
        read_lengths(p + pos, len - pos, ndict, "dictionary", doffs, &used, &dict_len, err);
    if (s != DCR_OK)
        goto out;
    pos += used;
    if (dict_len > len - pos) {
        s = dcr_fail(err, DCR_EINPUT, "dictionary entries need %llu bytes, %zu are left",
                     (unsigned long long)dict_len, len - pos);
        goto out;
    }
    const char *dict = (const char *)p + pos;
    pos += (size_t)dict_len;
    if ((s = dcr_text_check(dict, (size_t)dict_len, doffs, ndict, "dictionary", err)))
        goto out;
    unsigned cw = pos < len ? p[pos++] : 0;
    if (cw != 1 && cw != 2) {
        s = dcr_fail(err, DCR_EINPUT, "dictionary code width %u is not 1 or 2", cw);
        goto out;
    }
    if ((len - pos) % cw || (len - pos) / cw != n) {
        s = dcr_fail(err, DCR_EINPUT, "%zu bytes of %u-byte codes for %zu rows", len - pos, cw, n);
        goto out;
    }
    const uint8_t *codes = p + pos;
    if ((s = read_codes(c, codes, cw, ndict, err)))
        goto out;
    if (defer) { /* doffs is the column's */
        if ((s = check_expansion(c, doffs, ndict, text_max, err)) == DCR_OK)
            s = keep_deferred(c, dict, (size_t)dict_len, ndict, err);
        return s;
    }
    if ((s = expand_offsets(c, doffs, text_max, err)) ||
        (s = dcr_column_reserve_text(c, c->offsets[n] + SHORT_VALUE, err)))
        goto out;
    expand_text(c, ndict, dict, (size_t)((const char *)p + len - dict), doffs);
    c->text_len = c->offsets[n];
    c->ncodes = ndict; /* every code was checked against it */
    /* the block copies may have spilled into the slack: wipe that too */
    if (c->dirty_text < c->text_len + SHORT_VALUE)
        c->dirty_text = c->text_len + SHORT_VALUE;
out:
    if (!defer)
        free(doffs);
    return s;
}

/*
 * keyrec.h: 32-byte records of TEXT keys, kept next to hash-table entries
 * (keytab.c, join.c) so that checking a candidate key reads one aligned
 * record instead of a column's validity bit, offsets and bytes: three
 * dependent cache misses on a big table.
 *
 * A record is a tag byte (the length if at most 31, LONG, or NULL), then
 * the key's first 31 bytes, zero-padded. Records of equal keys are equal;
 * a long key whose first 31 bytes match is decided by its column. A lookup
 * makes its key's record once and compares records as words.
 */
#ifndef DCR_EXEC_KEYREC_H
#define DCR_EXEC_KEYREC_H

#include <stdbool.h>
#include <string.h>

#include "base/bytes.h"
#include "exec/batch.h"

#define DCR_KEYREC_BYTES 32

enum { DCR_KEYREC_INLINE = DCR_KEYREC_BYTES - 1, DCR_KEYREC_LONG = 0xfe, DCR_KEYREC_NULL = 0xff };

/* Row's TEXT value, or NULL (and *len 0) when the row is NULL. */
static inline const char *dcr_keyrec_text(const dcr_column *c, size_t row, size_t *len)
{
    if (dcr_column_is_null(c, row)) {
        *len = 0;
        return NULL;
    }
    return dcr_vec_text(c, row, len);
}

/* Writes the record of s (len bytes; NULL for a NULL key). */
static inline void dcr_keyrec_put(uint8_t *rec, const char *s, size_t len)
{
    memset(rec, 0, DCR_KEYREC_BYTES);
    if (!s) {
        rec[0] = DCR_KEYREC_NULL;
        return;
    }
    rec[0] = len <= DCR_KEYREC_INLINE ? (uint8_t)len : DCR_KEYREC_LONG;
    dcr_copy_small(rec + 1, s, len <= DCR_KEYREC_INLINE ? len : DCR_KEYREC_INLINE);
}

/* Whether the key of record rec, row `row` of column c, equals the key
 * whose record is probe and whose bytes are s (len; NULL for a NULL key).
 * Records are compared as four words: no call, no byte loop. */
static inline bool dcr_keyrec_same(const uint8_t *rec, const dcr_column *c, size_t row,
                                   const uint8_t *probe, const char *s, size_t len)
{
    uint64_t x = 0;
    for (int w = 0; w < DCR_KEYREC_BYTES / 8; w++) {
        uint64_t a, b;
        memcpy(&a, rec + 8 * w, 8);
        memcpy(&b, probe + 8 * w, 8);
        x |= a ^ b;
    }
    if (x != 0)
        return false;
    if (probe[0] != DCR_KEYREC_LONG)
        return true;
    size_t klen;
    const char *k = dcr_vec_text(c, row, &klen);
    return klen == len &&
           memcmp(k + DCR_KEYREC_INLINE, s + DCR_KEYREC_INLINE, len - DCR_KEYREC_INLINE) == 0;
}

#endif

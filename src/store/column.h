/*
 * column.h: one column of a chunk in memory, and its byte encoding inside a
 * sealed chunk (see docs/format.md, "Column encoding").
 *
 * A column owns its arrays. Fixed-width values live in `values` (int64_t,
 * double, int32_t, uint8_t or, for computed INTERVALs, dcr_interval elements
 * by type); TEXT lives in `offsets`
 * (nrows + 1 entries) and `text`. `valid` is a bitmap, bit i (LSB first) set
 * when row i is not NULL; a NULL row holds 0 or the empty string.
 */
#ifndef DCR_STORE_COLUMN_H
#define DCR_STORE_COLUMN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buffer.h"
#include "base/error.h"
#include "base/interval.h"
#include "base/types.h"

typedef struct {
    dcr_type type;
    size_t nrows;
    size_t cap; /* rows allocated */
    size_t nnulls;
    uint8_t *valid;    /* (cap + 7) / 8 bytes */
    void *values;      /* fixed-width types: cap elements */
    uint32_t *offsets; /* TEXT: cap + 1 entries */
    char *text;        /* TEXT: bytes */
    size_t text_len, text_cap;
    /* The most rows and text bytes ever held before a clear or pop: what
     * dcr_column_free wipes besides the current ones. Capacity never
     * written is not wiped: touching it would only fault in fresh pages. */
    size_t dirty_rows, dirty_text;
    /* Left by a dictionary decode (text_encoding.c) until the column next
     * changes (ncodes 0 otherwise): per row a number below ncodes, equal
     * for rows whose values are equal; the executor groups by it without
     * hashing every row. */
    uint16_t *codes;
    size_t ncodes, codes_cap;
    /* A dictionary-encoded TEXT column decoded without expanding its rows
     * (dcr_column_decode with defer_text), for a consumer that copies only
     * some rows out (a join's probe side, exec/join.c): then `deferred` is
     * set, `offsets` is NULL (its array is parked in parked_offsets, back
     * on clear), text[0..text_len) holds the ncodes dictionary entries,
     * entry k being [dict[k], dict[k + 1]), and codes[i] is row i's entry
     * (0 for a NULL row). Only dcr_vec_append_rows, dcr_vec_copy_codes,
     * clear and free take a deferred column; anything reading rows' text
     * would fault on the NULL offsets rather than read wrong bytes. */
    bool deferred;
    uint32_t *dict, *parked_offsets;
    size_t dict_cap;
} dcr_column;

void dcr_column_init(dcr_column *c, dcr_type type);
/* Wipes the data (it is plaintext) and frees it. */
void dcr_column_free(dcr_column *c);
/* Empties the column, keeping its allocations. */
void dcr_column_clear(dcr_column *c);

/* Makes room for `rows` rows in all (grows by doubling; text bytes are
 * reserved separately). */
dcr_status dcr_column_reserve_rows(dcr_column *c, size_t rows, dcr_error *err);
dcr_status dcr_column_push_null(dcr_column *c, dcr_error *err);
dcr_status dcr_column_push_i64(dcr_column *c, int64_t v, dcr_error *err);
dcr_status dcr_column_push_f64(dcr_column *c, double v, dcr_error *err);
dcr_status dcr_column_push_i32(dcr_column *c, int32_t v, dcr_error *err);
dcr_status dcr_column_push_bool(dcr_column *c, bool v, dcr_error *err);
dcr_status dcr_column_push_interval(dcr_column *c, dcr_interval v, dcr_error *err);
dcr_status dcr_column_push_text(dcr_column *c, const char *s, size_t len, dcr_error *err);

/* Removes the last row (used to take back a partly appended bad row). */
void dcr_column_pop(dcr_column *c);

static inline bool dcr_column_is_null(const dcr_column *c, size_t row)
{
    return !(c->valid[row >> 3] & (1u << (row & 7)));
}

/* Column encodings (the directory's encoding byte, docs/format.md). PLAIN
 * is every type's; LENGTHS and DICTIONARY are TEXT's (store/text_encoding.c)
 * and the only ones the writer emits for TEXT. */
#define DCR_ENCODING_PLAIN 0
#define DCR_ENCODING_LENGTHS 1
#define DCR_ENCODING_DICTIONARY 2

/* Appends the column's plain encoding to out. */
dcr_status dcr_column_encode(const dcr_column *c, dcr_buf *out, dcr_error *err);
/* Appends has_nulls and, if there are NULLs, the validity bitmap: the head
 * every encoding shares. */
dcr_status dcr_column_encode_validity(const dcr_column *c, dcr_buf *out, dcr_error *err);
/* Decodes nrows rows of the given type and encoding from exactly len bytes,
 * checking everything (sizes, offsets, lengths, codes, booleans, UTF-8,
 * date/timestamp ranges): the bytes may come from a malicious provider who
 * holds the data key. A TEXT column may materialise at most text_max bytes
 * (checked before allocating them; a dictionary can expand far beyond its
 * encoded size). On error the message says what was wrong, never the data.
 * c must be initialised with the same type; it is cleared first. */
dcr_status dcr_column_decode(dcr_column *c, size_t nrows, uint8_t encoding, const uint8_t *data,
                             size_t len, size_t text_max, dcr_error *err);
/* The same, but a DICTIONARY-encoded TEXT column is left deferred (see
 * dcr_column above; every check is still made, text_max bounds the
 * dictionary itself). Other encodings decode as above. */
dcr_status dcr_column_decode_deferred(dcr_column *c, size_t nrows, uint8_t encoding,
                                      const uint8_t *data, size_t len, size_t text_max,
                                      dcr_error *err);
/* Puts a TEXT column that carries codes (ncodes > 0; rows with equal codes
 * hold equal values) into the deferred form a dictionary chunk decodes to:
 * entry k is the value of the first row coded k ("" if none is). For the
 * in-memory table source, so that tests reach the deferred paths; a column
 * without codes is left as it is. */
dcr_status dcr_column_defer(dcr_column *c, dcr_error *err);
/* Makes c->codes hold at least n codes, for a writer about to set all n
 * (the old ones are wiped, not kept: codes tell which rows are equal). */
dcr_status dcr_column_reserve_codes(dcr_column *c, size_t n, dcr_error *err);

/* Makes c->text hold at least len bytes (growing by doubling), for the
 * decoders that write there and for appends. */
dcr_status dcr_column_reserve_text(dcr_column *c, size_t len, dcr_error *err);
/* Checks that text[0..len) is valid UTF-8 without NUL bytes and that each of
 * the n+1 offsets (ascending, within len) starts a character, so every row
 * on its own is valid UTF-8. what names the bytes in messages. */
dcr_status dcr_text_check(const char *text, size_t len, const uint32_t *offsets, size_t n,
                          const char *what, dcr_error *err);

#endif

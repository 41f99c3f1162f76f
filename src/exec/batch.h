/*
 * batch.h: columnar batches, the unit of data between operators.
 *
 * A batch is up to DCR_BATCH_ROWS rows held as one dcr_column (store/
 * column.h) per output column, so the vectors operators compute on are the
 * same structs the sealed format decodes into. Batches own their columns;
 * values are plaintext and are wiped when freed (dcr_column_free).
 *
 * Helpers here copy rows between columns of the same type, and compare and
 * hash single values (for hash tables and sorting):
 *   - equality treats NULL as equal to NULL (grouping semantics);
 *   - DOUBLE compares as PostgreSQL does: -0 = 0, NaN = NaN, NaN above
 *     every other value;
 *   - TEXT compares bytewise (memcmp, shorter prefix first), i.e. the "C"
 *     collation.
 */
#ifndef DCR_EXEC_BATCH_H
#define DCR_EXEC_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "store/column.h"

#define DCR_BATCH_ROWS 65536

typedef struct {
    size_t nrows;
    size_t ncols;
    dcr_column *cols; /* owned */
} dcr_batch;

/* Empty batch with columns of the given types. */
dcr_status dcr_batch_init(dcr_batch *b, const dcr_type *types, size_t ncols, dcr_error *err);
void dcr_batch_free(dcr_batch *b);
/* Empties every column, keeping allocations. */
void dcr_batch_clear(dcr_batch *b);
/* Bytes held (for memory accounting). */
size_t dcr_batch_bytes(const dcr_batch *b);
size_t dcr_column_bytes(const dcr_column *c);

/* Appends rows[0..n) of src to dst (same column types); rows NULL = all
 * rows from `first` on, n of them. */
dcr_status dcr_batch_append_rows(dcr_batch *dst, const dcr_batch *src, const uint32_t *rows,
                                 size_t first, size_t n, dcr_error *err);

/* Allocates c as n rows of type t, all valid, values zero (not for TEXT). */
dcr_status dcr_vec_alloc(dcr_column *c, dcr_type t, size_t n, dcr_error *err);
/* Marks row i NULL in a vector made by dcr_vec_alloc (its value is zeroed). */
void dcr_vec_set_null(dcr_column *c, size_t i);
/* Appends src[row] (value or NULL) to dst. */
dcr_status dcr_vec_push_from(dcr_column *dst, const dcr_column *src, size_t row, dcr_error *err);
/* Appends rows[0..n) of src (rows NULL = n rows from `first` on) to dst,
 * values and NULLs, in bulk. */
dcr_status dcr_vec_append_rows(dcr_column *dst, const dcr_column *src, const uint32_t *rows,
                               size_t first, size_t n, dcr_error *err);
/* After dst received exactly rows[0..n) of src (rows NULL: first..first+n)
 * and nothing else, gives dst the matching dictionary codes of src, if src
 * has any (store/column.h), so a coded key stays coded through a copy. */
dcr_status dcr_vec_copy_codes(dcr_column *dst, const dcr_column *src, const uint32_t *rows,
                              size_t first, size_t n, dcr_error *err);
/* Appends n NULLs to dst. */
dcr_status dcr_vec_append_nulls(dcr_column *dst, size_t n, dcr_error *err);
/* Appends n BIGINT (or TIMESTAMP) values, none NULL, to dst. */
dcr_status dcr_vec_append_i64s(dcr_column *dst, const int64_t *v, size_t n, dcr_error *err);
/* Appends n TEXT values to dst: s[i] (len[i] bytes), or NULL for a NULL. */
dcr_status dcr_vec_append_texts(dcr_column *dst, const char *const *s, const uint32_t *len,
                                size_t n, dcr_error *err);
/* Replaces dst with a copy of src. */
dcr_status dcr_vec_copy(dcr_column *dst, const dcr_column *src, dcr_error *err);

/* Bytes of a TEXT value (never NULL; "" for the empty string). */
static inline const char *dcr_vec_text(const dcr_column *c, size_t row, size_t *len)
{
    uint32_t a = c->offsets[row], b = c->offsets[row + 1];
    *len = b - a;
    return a == b ? "" : c->text + a;
}

/* Order of two non-NULL values of the same type: <0, 0, >0. */
int dcr_value_cmp(const dcr_column *a, size_t ia, const dcr_column *b, size_t ib);
/* Grouping equality: NULL equals NULL. */
bool dcr_value_equal(const dcr_column *a, size_t ia, const dcr_column *b, size_t ib);
/* Hash of one value, combined with h (equal values hash equally). */
uint64_t dcr_value_hash(const dcr_column *c, size_t row, uint64_t h);
/* out[i] = dcr_value_hash(c, from + i, h) for the rows [from, to), with
 * TEXT and BIGINT in loops of their own (no call or type switch per row). */
void dcr_value_hash_rows(const dcr_column *c, size_t from, size_t to, uint64_t h, uint64_t *out);
int dcr_f64_cmp(double a, double b);

#endif

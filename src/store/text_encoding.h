/*
 * text_encoding.h: TEXT columns' lengths and dictionary encodings
 * (docs/format.md, "Column encodings for TEXT"). The writer picks whichever
 * is smaller per chunk and column; readers materialise either into the
 * column's offsets and text, so everything after the store sees one form.
 */
#ifndef DCR_STORE_TEXT_ENCODING_H
#define DCR_STORE_TEXT_ENCODING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buffer.h"
#include "base/error.h"
#include "store/column.h"

/* At most this many distinct values in one chunk's dictionary (u16 codes). */
#define DCR_TEXT_DICT_MAX 65536u

/* Reusable state for encoding TEXT columns: the hash table that finds a
 * chunk's distinct values and the codes. One per worker thread. */
typedef struct dcr_text_encoder dcr_text_encoder;
dcr_status dcr_text_encoder_new(dcr_text_encoder **out, dcr_error *err);
/* Wipes the codes (they reveal which rows are equal) and frees. */
void dcr_text_encoder_free(dcr_text_encoder *e);

/* Appends the smaller of c's lengths and dictionary encodings to out
 * (validity head included) and sets *encoding to its DCR_ENCODING_ id. */
dcr_status dcr_text_encode(dcr_text_encoder *e, const dcr_column *c, dcr_buf *out,
                           uint8_t *encoding, dcr_error *err);

/* Decode the part after the validity head into c (c->nrows, c->valid and
 * c->nnulls are set, c->offsets has room for nrows + 1), checking every rule
 * and materialising at most text_max bytes (checked before allocating). */
dcr_status dcr_text_decode_lengths(dcr_column *c, const uint8_t *p, size_t len, size_t text_max,
                                   dcr_error *err);
/* With defer, the rows stay codes and the entries are kept (column.h,
 * `deferred`): text_max then bounds the dictionary's bytes. */
dcr_status dcr_text_decode_dictionary(dcr_column *c, const uint8_t *p, size_t len, size_t text_max,
                                      bool defer, dcr_error *err);

#endif

/*
 * sealed_reader.h: walking a sealed file chunk by chunk.
 *
 * open() reads and validates the header; next() returns each chunk's
 * ciphertext in order, and whether it ends exactly at the end of the file
 * (then it must be the chunk sealed as last, which decryption checks). The
 * reader works without the data key, so `dcr inspect` can use it; decryption
 * is the caller's (dcr_chunk_decrypt).
 */
#ifndef DCR_STORE_SEALED_READER_H
#define DCR_STORE_SEALED_READER_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buffer.h"
#include "base/error.h"
#include "store/sealed.h"

typedef struct {
    int fd;
    const char *path;
    uint64_t file_size;
    dcr_sealed_header header;
    uint64_t offset; /* of the next chunk's length prefix */
    uint32_t index;  /* of the next chunk */
    dcr_buf ct;
} dcr_sealed_reader;

dcr_status dcr_sealed_reader_open(dcr_sealed_reader *r, const char *path, dcr_error *err);
void dcr_sealed_reader_close(dcr_sealed_reader *r);

/* Goes back to the first chunk. */
void dcr_sealed_reader_rewind(dcr_sealed_reader *r);

/* Reads the next chunk. *ct points into the reader (valid until the next
 * call); *index is its position, *last whether it ends the file. Returns
 * DCR_OK with *ct == NULL after the last chunk. A file that ends inside a
 * chunk, or a length out of the header's bounds, is DCR_EINPUT. */
dcr_status dcr_sealed_reader_next(dcr_sealed_reader *r, const uint8_t **ct, size_t *ct_len,
                                  uint32_t *index, bool *last, dcr_error *err);

/* The next chunk's place, checked as next() checks it, without reading
 * it: its ciphertext is the *ct_len bytes at file offset *offset (*ct_len
 * = 0 after the last chunk). The scan's workers then read their chunks
 * themselves, so the copy out of the page cache is not the query thread's. */
dcr_status dcr_sealed_reader_next_span(dcr_sealed_reader *r, uint64_t *offset, size_t *ct_len,
                                       uint32_t *index, bool *last, dcr_error *err);

/* Reads the ct_len bytes at offset into ct (its old contents replaced).
 * Safe from several threads at once (pread on the reader's descriptor). */
dcr_status dcr_sealed_reader_read(const dcr_sealed_reader *r, uint64_t offset, size_t ct_len,
                                  dcr_buf *ct, dcr_error *err);
/* The same, appending the len bytes at offset to what ct holds. */
dcr_status dcr_sealed_reader_read_more(const dcr_sealed_reader *r, uint64_t offset, size_t len,
                                       dcr_buf *ct, dcr_error *err);

/* Decrypts a chunk returned by next(), with an error that says which chunk
 * failed and what that means. */
dcr_status dcr_sealed_reader_decrypt(const dcr_sealed_reader *r,
                                     const uint8_t key[DCR_DATA_KEY_LEN], const uint8_t *ct,
                                     size_t ct_len, uint32_t index, bool last, dcr_buf *plain,
                                     dcr_error *err);
/* dcr_chunk_wanted_prefix, with the same errors as decrypt's. */
dcr_status dcr_sealed_reader_wanted_prefix(const dcr_sealed_reader *r,
                                           const uint8_t key[DCR_DATA_KEY_LEN], const uint8_t *ct,
                                           size_t ct_len, uint32_t index, bool last,
                                           const uint8_t *want, size_t *prefix, dcr_buf *plain,
                                           dcr_error *err);
/* The same for only the columns want[] names (dcr_chunk_decrypt_columns). */
dcr_status dcr_sealed_reader_decrypt_columns(const dcr_sealed_reader *r,
                                             const uint8_t key[DCR_DATA_KEY_LEN], const uint8_t *ct,
                                             size_t ct_len, uint32_t index, bool last,
                                             const uint8_t *want, dcr_buf *plain, dcr_error *err);

#endif

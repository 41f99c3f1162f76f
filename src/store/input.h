/*
 * input.h: the bytes of a data file for sealing, decompressed on the fly.
 *
 * Exports arrive plain or compressed, and their names cannot be trusted
 * (a gzip file called data.csv is common), so the format is told by the
 * first bytes: gzip (1f 8b) and zstd (28 b5 2f fd) are decompressed in
 * streaming fashion into the caller's buffer, with bounded memory and no
 * temporary file (plaintext never touches disk); anything else is read as
 * it is. Other archive formats a user might hand over by mistake (xz,
 * bzip2, ZIP, which includes .xlsx workbooks) are refused with a message
 * saying what to do. Truncated or damaged compressed data is an error
 * naming the compressed byte offset, never a silently short input.
 *
 * The decompressors' internal windows hold plaintext: they are allocated
 * through wiping allocators, so they are zeroed when freed like every
 * other plaintext buffer in the seal pipeline.
 */
#ifndef DCR_STORE_INPUT_H
#define DCR_STORE_INPUT_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define DCR_INPUT_WUR __attribute__((warn_unused_result))

typedef enum { DCR_INPUT_PLAIN, DCR_INPUT_GZIP, DCR_INPUT_ZSTD } dcr_input_kind;

typedef struct dcr_input dcr_input;

/* Opens fd for reading (the caller keeps ownership of fd) and tells its
 * format from the first bytes. name is for messages and must outlive in. */
dcr_status dcr_input_open_fd(dcr_input **in, int fd, const char *name,
                             dcr_error *err) DCR_INPUT_WUR;

/* The same over bytes in memory (which must outlive in): for tests and
 * fuzzing of exactly the path files take. */
dcr_status dcr_input_open_mem(dcr_input **in, const void *data, size_t len, const char *name,
                              dcr_error *err) DCR_INPUT_WUR;

/* Reads up to len decompressed bytes; *got < len only at the end of the
 * data. Fails with DCR_EINPUT on damaged or truncated compressed data. */
dcr_status dcr_input_read(dcr_input *in, void *buf, size_t len, size_t *got,
                          dcr_error *err) DCR_INPUT_WUR;

dcr_input_kind dcr_input_kind_of(const dcr_input *in);
/* "plain", "gzip" or "zstd". */
const char *dcr_input_kind_name(dcr_input_kind kind);
/* Bytes taken from the file so far (compressed bytes when compressed). */
uint64_t dcr_input_raw_bytes(const dcr_input *in);

/* Frees in (NULL is fine), wiping what it held. */
void dcr_input_close(dcr_input *in);

#endif

/*
 * source.h: the two kinds of dataset the executor reads (exec.h's
 * dcr_exec_source).
 *
 * - A sealed file: each scan opens its own reader, decrypts chunk by chunk
 *   with the data key and decodes (decompresses) only the columns the scan
 *   needs, on worker threads a few chunks ahead of the consumer, in file
 *   order; plaintext buffers are wiped when freed. A file that does not end
 *   with its final chunk is refused, as in `dcr unseal`.
 * - An in-memory table of columns (tests, the differential test against
 *   SQLite), served in chunks of chunk_rows rows to exercise batch edges;
 *   a column's dictionary codes (store/column.h) are served along, as a
 *   dictionary-encoded sealed chunk gives them.
 */
#ifndef DCR_EXEC_SOURCE_H
#define DCR_EXEC_SOURCE_H

#include <stdint.h>

#include "exec/exec.h"
#include "store/sealed.h"

typedef struct {
    const char *path;
    uint8_t key[DCR_DATA_KEY_LEN];
} dcr_sealed_source;

/* Points src at a sealed file whose data key is known (s must outlive src;
 * the caller wipes s->key when done). */
void dcr_sealed_source_bind(dcr_exec_source *src, dcr_sealed_source *s);

typedef struct {
    size_t ncols;
    const dcr_column *cols; /* all with the same nrows */
    size_t chunk_rows;      /* 0 = all rows in one chunk */
} dcr_table_source;

void dcr_table_source_bind(dcr_exec_source *src, dcr_table_source *t);

#endif

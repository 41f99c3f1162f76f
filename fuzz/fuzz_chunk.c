/*
 * fuzz_chunk.c: the decrypted chunk payload decoder. A provider holds its own
 * data key, so it can encrypt any payload it likes: the decoder must treat
 * authenticated bytes as hostile too. Input = a payload for a fixed schema
 * with one column of each type.
 */
#include <stdint.h>
#include <string.h>

#include "store/sealed.h"

static const char schema_json[] =
    "{\"dataset\": \"f\", \"columns\": [{\"name\": \"a\", \"type\": \"BIGINT\"},"
    "{\"name\": \"b\", \"type\": \"DOUBLE PRECISION\"}, {\"name\": \"c\", \"type\": \"TEXT\"},"
    "{\"name\": \"d\", \"type\": \"BOOLEAN\"}, {\"name\": \"e\", \"type\": \"DATE\"},"
    "{\"name\": \"t\", \"type\": \"TIMESTAMP\", \"not_null\": true}]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dcr_error err;
    dcr_sealed_header h;
    memset(&h, 0, sizeof h);
    if (dcr_schema_parse_json(schema_json, sizeof schema_json - 1, "fuzz", &h.schema, &err))
        __builtin_trap();
    h.chunk_rows_max = 1 << 16;
    h.chunk_bytes_max = 1 << 22;
    dcr_chunk chunk;
    dcr_buf scratch = DCR_BUF_INIT;
    if (dcr_chunk_init(&chunk, &h.schema, &err))
        __builtin_trap();
    bool want[6] = {true, false, true, true, false, true};
    uint32_t nrows;
    dcr_chunk_column_info info[6];
    (void)dcr_chunk_describe(&h, data, size, &nrows, info, &err);
    if (dcr_chunk_decode(&h, data, size, NULL, &chunk, &scratch, &err) == DCR_OK) {
        /* a payload that decodes must re-encode to something that decodes the same */
        dcr_chunk_encoder *enc;
        dcr_buf again = DCR_BUF_INIT;
        if (dcr_chunk_encoder_new(&enc, 1, &err) || dcr_chunk_encode(enc, &h, &chunk, &again, &err))
            __builtin_trap();
        dcr_chunk second;
        if (dcr_chunk_init(&second, &h.schema, &err) ||
            dcr_chunk_decode(&h, again.data, again.len, NULL, &second, &scratch, &err) ||
            second.nrows != chunk.nrows)
            __builtin_trap();
        for (size_t i = 0; i < chunk.ncols; i++)
            if (second.cols[i].nnulls != chunk.cols[i].nnulls)
                __builtin_trap();
        dcr_chunk_free(&second);
        dcr_buf_free(&again);
        dcr_chunk_encoder_free(enc);
    }
    (void)dcr_chunk_decode(&h, data, size, want, &chunk, &scratch, &err);
    dcr_buf_free(&scratch);
    dcr_chunk_free(&chunk);
    dcr_schema_free(&h.schema);
    return 0;
}

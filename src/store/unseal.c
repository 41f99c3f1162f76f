/*
 * unseal.c: authenticating a sealed file and turning it back into CSV.
 */
#include "store/unseal.h"

#include <string.h>

#include "base/fileio.h"
#include "csv/csv.h"
#include "csv/value.h"

#define FLUSH_BYTES (1u << 20)

dcr_status dcr_unseal_verify(dcr_sealed_reader *r, const uint8_t key[DCR_DATA_KEY_LEN],
                             uint64_t *chunks, dcr_error *err)
{
    dcr_buf plain = DCR_BUF_INIT;
    dcr_status s = DCR_OK;
    *chunks = 0;
    bool saw_last = false;
    dcr_sealed_reader_rewind(r);
    for (;;) {
        const uint8_t *ct;
        size_t ct_len;
        uint32_t index;
        bool last;
        if ((s = dcr_sealed_reader_next(r, &ct, &ct_len, &index, &last, err)) || !ct) break;
        if ((s = dcr_sealed_reader_decrypt(r, key, ct, ct_len, index, last, &plain, err))) break;
        saw_last = last;
        (*chunks)++;
    }
    if (s == DCR_OK && !saw_last) s = dcr_fail(err, DCR_EINPUT, "%s: no final chunk", r->path);
    dcr_buf_wipe_free(&plain);
    dcr_sealed_reader_rewind(r);
    return s;
}

static dcr_status write_value(const dcr_column *c, size_t row, dcr_buf *out, dcr_error *err)
{
    if (dcr_column_is_null(c, row)) return DCR_OK;
    char text[DCR_VALUE_TEXT_MAX];
    size_t n = 0;
    switch (c->type) {
    case DCR_TYPE_TEXT: {
        uint32_t a = c->offsets[row], b = c->offsets[row + 1];
        return dcr_csv_write_field(out, c->text + a, b - a, a == b, err);
    }
    case DCR_TYPE_BIGINT:
        n = dcr_format_bigint(((const int64_t *)c->values)[row], text);
        break;
    case DCR_TYPE_DOUBLE:
        n = dcr_format_double(((const double *)c->values)[row], text);
        break;
    case DCR_TYPE_BOOLEAN:
        n = dcr_format_bool(((const uint8_t *)c->values)[row], text);
        break;
    case DCR_TYPE_DATE:
        n = dcr_format_date(((const int32_t *)c->values)[row], text);
        break;
    case DCR_TYPE_TIMESTAMP:
        n = dcr_format_timestamp(((const int64_t *)c->values)[row], text);
        break;
    }
    return dcr_csv_write_field(out, text, n, false, err);
}

static dcr_status write_chunk_rows(const dcr_chunk *chunk, dcr_buf *out, dcr_error *err)
{
    dcr_status s = DCR_OK;
    for (size_t row = 0; s == DCR_OK && row < chunk->nrows; row++) {
        for (size_t c = 0; s == DCR_OK && c < chunk->ncols; c++) {
            if (c > 0) s = dcr_buf_append(out, ",", 1, err);
            if (s == DCR_OK) s = write_value(&chunk->cols[c], row, out, err);
        }
        if (s == DCR_OK) s = dcr_buf_append(out, "\n", 1, err);
    }
    return s;
}

static dcr_status write_header_row(const dcr_schema *schema, dcr_buf *out, dcr_error *err)
{
    dcr_status s = DCR_OK;
    for (size_t c = 0; s == DCR_OK && c < schema->ncols; c++) {
        if (c > 0) s = dcr_buf_append(out, ",", 1, err);
        if (s == DCR_OK)
            s = dcr_buf_append(out, schema->cols[c].name, strlen(schema->cols[c].name), err);
    }
    return s == DCR_OK ? dcr_buf_append(out, "\n", 1, err) : s;
}

static dcr_status flush(int fd, dcr_buf *out, dcr_unseal_stats *stats, dcr_error *err)
{
    dcr_status s = dcr_write_all(fd, out->data, out->len, "output", err);
    stats->bytes_out += out->len;
    out->len = 0;
    return s;
}

dcr_status dcr_unseal_csv(dcr_sealed_reader *r, const uint8_t key[DCR_DATA_KEY_LEN], int out_fd,
                          dcr_unseal_stats *stats, dcr_error *err)
{
    memset(stats, 0, sizeof *stats);
    uint64_t verified;
    dcr_status s = dcr_unseal_verify(r, key, &verified, err);
    if (s != DCR_OK) return s;
    dcr_buf plain = DCR_BUF_INIT, scratch = DCR_BUF_INIT, out = DCR_BUF_INIT;
    dcr_chunk chunk = {0};
    if ((s = dcr_chunk_init(&chunk, &r->header.schema, err)) ||
        (s = write_header_row(&r->header.schema, &out, err)))
        goto done;
    for (;;) {
        const uint8_t *ct;
        size_t ct_len;
        uint32_t index;
        bool last;
        if ((s = dcr_sealed_reader_next(r, &ct, &ct_len, &index, &last, err)) || !ct) break;
        if ((s = dcr_sealed_reader_decrypt(r, key, ct, ct_len, index, last, &plain, err))) break;
        if ((s = dcr_chunk_decode(&r->header, plain.data, plain.len, NULL, &chunk, &scratch,
                                  err))) {
            dcr_error_prefix(err, "%s: chunk %u", r->path, index);
            break;
        }
        if ((s = write_chunk_rows(&chunk, &out, err))) break;
        stats->rows += chunk.nrows;
        stats->chunks++;
        if (out.len >= FLUSH_BYTES && (s = flush(out_fd, &out, stats, err))) break;
    }
    if (s == DCR_OK && stats->chunks != verified)
        s = dcr_fail(err, DCR_EINPUT, "%s: file changed while being read", r->path);
    if (s == DCR_OK) s = flush(out_fd, &out, stats, err);
done:
    dcr_chunk_free(&chunk);
    dcr_buf_wipe_free(&plain);
    dcr_buf_wipe_free(&scratch);
    dcr_buf_wipe_free(&out);
    return s;
}

/*
 * fuzz_chunk.c: the decrypted chunk payload decoder. A provider holds its own
 * data key, so it can encrypt any payload it likes: the decoder must treat
 * authenticated bytes as hostile too. Input = a payload for a fixed schema
 * with one column of each type.
 *
 * Seeds (DCR_FUZZ_WRITE_SEEDS=DIR) are payloads the writer makes (TEXT in
 * the lengths and the dictionary encodings, lz4 and zstd) and the same columns stored
 * uncompressed, so mutations reach the encodings' fields directly, plus an
 * old writer's all-plain payload.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/bytes.h"
#include "exec/batch.h"
#include "fuzz_fixture.h"
#include "store/sealed.h"
#include "store/text_encoding.h"

static const char schema_json[] =
    "{\"dataset\": \"f\", \"columns\": [{\"name\": \"a\", \"type\": \"BIGINT\"},"
    "{\"name\": \"b\", \"type\": \"DOUBLE PRECISION\"}, {\"name\": \"c\", \"type\": \"TEXT\"},"
    "{\"name\": \"d\", \"type\": \"BOOLEAN\"}, {\"name\": \"e\", \"type\": \"DATE\"},"
    "{\"name\": \"t\", \"type\": \"TIMESTAMP\", \"not_null\": true}]}";

static void schema_header(dcr_sealed_header *h)
{
    dcr_error err;
    memset(h, 0, sizeof *h);
    if (dcr_schema_parse_json(schema_json, sizeof schema_json - 1, "fuzz", &h->schema, &err))
        __builtin_trap();
    h->chunk_rows_max = 1 << 16;
    h->chunk_bytes_max = 1 << 22;
}

/* n rows; TEXT row i is one of `distinct` values (every 5th NULL), `len`
 * bytes long at least. */
static void seed_chunk(dcr_chunk *c, size_t n, size_t distinct, size_t len)
{
    dcr_error err;
    char text[600];
    for (size_t i = 0; i < n; i++) {
        int k = snprintf(text, sizeof text, "%zu-\xc3\xa9", i % distinct);
        memset(text + k, 'x', len > (size_t)k ? len - (size_t)k : 0);
        size_t l = len > (size_t)k ? len : (size_t)k;
        if (dcr_column_push_i64(&c->cols[0], (int64_t)i, &err) ||
            dcr_column_push_f64(&c->cols[1], (double)i / 3, &err) ||
            (i % 5 == 4 ? dcr_column_push_null(&c->cols[2], &err)
                        : dcr_column_push_text(&c->cols[2], text, l, &err)) ||
            dcr_column_push_bool(&c->cols[3], i & 1, &err) ||
            dcr_column_push_i32(&c->cols[4], (int32_t)i, &err) ||
            dcr_column_push_i64(&c->cols[5], (int64_t)i * 1000000, &err))
            __builtin_trap();
    }
    c->nrows = n;
}

/* The chunk's columns uncompressed: TEXT as the writer encodes it, or every
 * column plain as writers before the TEXT encodings did. */
static void stored_payload(const dcr_chunk *c, bool all_plain, dcr_buf *out)
{
    dcr_error err;
    dcr_text_encoder *te;
    dcr_buf cols = DCR_BUF_INIT;
    if (dcr_text_encoder_new(&te, &err) || dcr_buf_reserve(out, 6 + 10 * c->ncols, &err))
        __builtin_trap();
    dcr_put_u32le(out->data, (uint32_t)c->nrows);
    dcr_put_u16le(out->data + 4, (uint16_t)c->ncols);
    for (size_t i = 0; i < c->ncols; i++) {
        size_t before = cols.len;
        uint8_t encoding = DCR_ENCODING_PLAIN;
        if (c->cols[i].type == DCR_TYPE_TEXT && !all_plain
                ? dcr_text_encode(te, &c->cols[i], &cols, &encoding, &err)
                : dcr_column_encode(&c->cols[i], &cols, &err))
            __builtin_trap();
        uint8_t *d = out->data + 6 + 10 * i;
        d[0] = encoding;
        d[1] = 0;
        dcr_put_u32le(d + 2, (uint32_t)(cols.len - before));
        dcr_put_u32le(d + 6, (uint32_t)(cols.len - before));
    }
    out->len = 6 + 10 * c->ncols;
    if (dcr_buf_append(out, cols.data, cols.len, &err))
        __builtin_trap();
    dcr_buf_free(&cols);
    dcr_text_encoder_free(te);
}

/* Writes one seed, checking first that it decodes. */
static void write_seed(const char *dir, const char *name, const dcr_sealed_header *h,
                       const dcr_buf *p)
{
    dcr_error err;
    dcr_chunk c;
    dcr_buf scratch = DCR_BUF_INIT;
    if (dcr_chunk_init(&c, &h->schema, &err) ||
        dcr_chunk_decode(h, p->data, p->len, NULL, &c, &scratch, &err)) {
        fprintf(stderr, "seed %s does not decode: %s\n", name, err.msg);
        exit(1);
    }
    dcr_chunk_free(&c);
    dcr_buf_free(&scratch);
    fx_write(dir, name, p->data, p->len);
}

static void write_seeds(const char *dir)
{
    static const struct {
        const char *name;
        size_t n, distinct, len;
    } seeds[] = {
        {"dictionary", 40, 3, 4},        {"lengths", 12, 12, 4}, {"wide", 6, 6, 300},
        {"wide-dictionary", 30, 2, 300}, {"empty", 0, 1, 0},
    };
    dcr_error err;
    dcr_sealed_header h;
    schema_header(&h);
    dcr_chunk_encoder *enc, *small;
    if (dcr_chunk_encoder_new(&enc, 1, DCR_COMPRESS_FAST, &err) ||
        dcr_chunk_encoder_new(&small, 1, DCR_COMPRESS_SMALL, &err))
        __builtin_trap();
    for (size_t k = 0; k < sizeof seeds / sizeof *seeds; k++) {
        dcr_chunk c;
        dcr_buf p = DCR_BUF_INIT;
        char name[64];
        if (dcr_chunk_init(&c, &h.schema, &err))
            __builtin_trap();
        seed_chunk(&c, seeds[k].n, seeds[k].distinct, seeds[k].len);
        if (dcr_chunk_encode(enc, &h, &c, &p, &err))
            __builtin_trap();
        snprintf(name, sizeof name, "%s-fast", seeds[k].name); /* lz4 and zstd */
        write_seed(dir, name, &h, &p);
        if (dcr_chunk_encode(small, &h, &c, &p, &err))
            __builtin_trap();
        snprintf(name, sizeof name, "%s-zstd", seeds[k].name);
        write_seed(dir, name, &h, &p);
        stored_payload(&c, false, &p);
        write_seed(dir, seeds[k].name, &h, &p);
        stored_payload(&c, true, &p);
        snprintf(name, sizeof name, "%s-plain", seeds[k].name);
        write_seed(dir, name, &h, &p);
        dcr_buf_free(&p);
        dcr_chunk_free(&c);
    }
    dcr_chunk_encoder_free(enc);
    dcr_chunk_encoder_free(small);
    dcr_schema_free(&h.schema);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (fx_seed_dir()) {
        write_seeds(fx_seed_dir());
        exit(0);
    }
    return 0;
}

/* Whether two TEXT columns hold the same values in their non-NULL rows. */
static bool same_text(const dcr_column *a, const dcr_column *b)
{
    for (size_t i = 0; i < a->nrows; i++) {
        if (dcr_column_is_null(a, i) != dcr_column_is_null(b, i))
            return false;
        size_t la = a->offsets[i + 1] - a->offsets[i], lb = b->offsets[i + 1] - b->offsets[i];
        if (!dcr_column_is_null(a, i) &&
            (la != lb || (la && memcmp(a->text + a->offsets[i], b->text + b->offsets[i], la))))
            return false;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dcr_error err;
    dcr_sealed_header h;
    schema_header(&h);
    dcr_chunk chunk;
    dcr_buf scratch = DCR_BUF_INIT;
    if (dcr_chunk_init(&chunk, &h.schema, &err))
        __builtin_trap();
    const uint8_t want[6] = {DCR_CHUNK_DECODE, DCR_CHUNK_SKIP, DCR_CHUNK_DEFER,
                             DCR_CHUNK_DECODE, DCR_CHUNK_SKIP, DCR_CHUNK_DECODE};
    bool decoded = false;
    uint32_t nrows;
    dcr_chunk_column_info info[6];
    (void)dcr_chunk_describe(&h, data, size, &nrows, info, &err);
    if (dcr_chunk_decode(&h, data, size, NULL, &chunk, &scratch, &err) == DCR_OK) {
        decoded = true;
        /* a payload that decodes must re-encode to something that decodes the same */
        dcr_chunk_encoder *enc;
        dcr_buf again = DCR_BUF_INIT;
        if (dcr_chunk_encoder_new(&enc, 1, DCR_COMPRESS_FAST, &err) ||
            dcr_chunk_encode(enc, &h, &chunk, &again, &err))
            __builtin_trap();
        dcr_chunk second;
        if (dcr_chunk_init(&second, &h.schema, &err) ||
            dcr_chunk_decode(&h, again.data, again.len, NULL, &second, &scratch, &err) ||
            second.nrows != chunk.nrows)
            __builtin_trap();
        for (size_t i = 0; i < chunk.ncols; i++)
            if (second.cols[i].nnulls != chunk.cols[i].nnulls)
                __builtin_trap();
        if (!same_text(&chunk.cols[2], &second.cols[2]))
            __builtin_trap();
        dcr_chunk_free(&second);
        dcr_buf_free(&again);
        dcr_chunk_encoder_free(enc);
    }
    /* The TEXT column deferred: it decodes exactly when the whole payload
     * does (the skipped columns aside), and its rows, copied out in the
     * order of a join's gather, are the full decode's. */
    dcr_chunk part;
    if (dcr_chunk_init(&part, &h.schema, &err))
        __builtin_trap();
    if (dcr_chunk_decode(&h, data, size, want, &part, &scratch, &err) == DCR_OK && decoded) {
        const dcr_column *c = &part.cols[2];
        if (!c->deferred && c->offsets == NULL)
            __builtin_trap();
        uint32_t *rows = malloc((part.nrows ? part.nrows : 1) * sizeof *rows);
        dcr_column out;
        dcr_column_init(&out, DCR_TYPE_TEXT);
        for (size_t i = 0; rows && i < part.nrows; i++) /* backwards, with repeats */
            rows[i] = (uint32_t)((part.nrows - 1 - i) / 2 * 2);
        if (!rows || dcr_vec_append_rows(&out, c, rows, 0, part.nrows, &err) ||
            dcr_vec_copy_codes(&out, c, rows, 0, part.nrows, &err))
            __builtin_trap();
        for (size_t i = 0; i < part.nrows; i++) {
            size_t r = rows[i], la, lb;
            if (dcr_column_is_null(&out, i) != dcr_column_is_null(&chunk.cols[2], r))
                __builtin_trap();
            if (dcr_column_is_null(&out, i))
                continue;
            const char *x = dcr_vec_text(&out, i, &la), *y = dcr_vec_text(&chunk.cols[2], r, &lb);
            if (la != lb || memcmp(x, y, la) != 0)
                __builtin_trap();
            if (c->deferred && out.codes[i] != c->codes[r])
                __builtin_trap();
        }
        free(rows);
        dcr_column_free(&out);
    }
    dcr_chunk_free(&part);
    (void)dcr_chunk_decode(&h, data, size, want, &chunk, &scratch, &err);
    dcr_buf_free(&scratch);
    dcr_chunk_free(&chunk);
    dcr_schema_free(&h.schema);
    return 0;
}

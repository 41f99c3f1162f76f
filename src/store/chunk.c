/*
 * chunk.c: the payload of one sealed chunk (columns, encoded and compressed)
 * and its encryption (docs/format.md, "Chunks").
 *
 *   payload = u32 nrows, u16 ncols, ncols x {u8 encoding, u8 codec,
 *             u32 raw_len, u32 stored_len}, then the stored column bytes.
 *
 * TEXT columns take the smaller of the lengths and dictionary encodings
 * (store/text_encoding.c); other types the plain one (store/column.c).
 * Each column is then compressed (docs/format.md, "Which codec the writer
 * picks"): a TEXT column
 * in the lengths encoding (high-cardinality text such as e-mails, which
 * joins and distinct counts read whole on every query) with LZ4, which
 * decodes it at about twice zstd's speed for about twice the bytes, unless
 * the writer asks for DCR_COMPRESS_SMALL; everything else with zstd, whose
 * entropy coding suits codes and numbers. A column that does not shrink is
 * stored.
 *
 * Encoding happens in worker threads (dcr_chunk_encoder); encryption happens
 * in file order in the writer, which is the only place that knows each
 * chunk's index and whether it is the last.
 */
#include "store/sealed.h"

#include <stdlib.h>
#include <string.h>
#include <lz4.h>
#include <zstd.h>

#include "base/bytes.h"
#include "crypto/aead.h"
#include "base/hygiene.h"
#include "store/text_encoding.h"

#define CODEC_STORED 0
#define CODEC_ZSTD 1
#define CODEC_LZ4 2
#define PAYLOAD_HEAD 6
/* LZ4 takes int sizes: a column's raw and stored sizes are bounded by the
 * chunk's (read_directory), and those by this. */
_Static_assert(DCR_SEALED_CHUNK_BYTES_LIMIT <= LZ4_MAX_INPUT_SIZE, "chunks too big for lz4");
#define COLUMN_DIR_ENTRY 10

struct dcr_chunk_encoder {
    ZSTD_CCtx *zctx;
    int level;
    dcr_compress_mode mode;
    dcr_text_encoder *text;
    dcr_buf raw; /* one column's encoding, before compression */
};

dcr_status dcr_chunk_init(dcr_chunk *c, const dcr_schema *schema, dcr_error *err)
{
    c->nrows = 0;
    c->ncols = schema->ncols;
    c->cols = calloc(schema->ncols, sizeof *c->cols);
    if (!c->cols)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    for (size_t i = 0; i < schema->ncols; i++)
        dcr_column_init(&c->cols[i], schema->cols[i].type);
    return DCR_OK;
}

void dcr_chunk_free(dcr_chunk *c)
{
    for (size_t i = 0; c->cols && i < c->ncols; i++)
        dcr_column_free(&c->cols[i]);
    free(c->cols);
    c->cols = NULL;
    c->ncols = c->nrows = 0;
}

dcr_status dcr_chunk_encoder_new(dcr_chunk_encoder **out, int level, dcr_compress_mode mode,
                                 dcr_error *err)
{
    dcr_chunk_encoder *e = calloc(1, sizeof *e);
    if (!e || !(e->zctx = ZSTD_createCCtx())) {
        free(e);
        return dcr_fail(err, DCR_EINTERNAL, "out of memory creating a zstd context");
    }
    dcr_status s = dcr_text_encoder_new(&e->text, err);
    if (s != DCR_OK) {
        dcr_chunk_encoder_free(e);
        return s;
    }
    e->level = level;
    e->mode = mode;
    *out = e;
    return DCR_OK;
}

void dcr_chunk_encoder_free(dcr_chunk_encoder *e)
{
    if (!e)
        return;
    ZSTD_freeCCtx(e->zctx);
    dcr_text_encoder_free(e->text);
    dcr_buf_wipe_free(&e->raw);
    free(e);
}

/* Appends one column to the payload: compressed if that is smaller. */
static dcr_status encode_column(dcr_chunk_encoder *e, const dcr_column *col, uint8_t *dir,
                                dcr_buf *payload, dcr_error *err)
{
    e->raw.len = 0;
    uint8_t encoding = DCR_ENCODING_PLAIN;
    dcr_status s = col->type == DCR_TYPE_TEXT
                       ? dcr_text_encode(e->text, col, &e->raw, &encoding, err)
                       : dcr_column_encode(col, &e->raw, err);
    if (s != DCR_OK)
        return s;
    if (e->raw.len > UINT32_MAX || e->raw.len > LZ4_MAX_INPUT_SIZE)
        return dcr_fail(err, DCR_EINPUT, "column too large for one chunk");
    uint8_t codec =
        encoding == DCR_ENCODING_LENGTHS && e->mode == DCR_COMPRESS_FAST ? CODEC_LZ4 : CODEC_ZSTD;
    size_t bound = codec == CODEC_LZ4 ? (size_t)LZ4_compressBound((int)e->raw.len)
                                      : ZSTD_compressBound(e->raw.len);
    if ((s = dcr_buf_reserve(payload, bound, err)))
        return s;
    uint8_t *dst = payload->data + payload->len;
    size_t n;
    if (codec == CODEC_LZ4) { /* 0 only when dst is too small, which bound rules out */
        int k = LZ4_compress_default((const char *)e->raw.data, (char *)dst, (int)e->raw.len,
                                     (int)bound);
        if (k <= 0 && e->raw.len > 0)
            return dcr_fail(err, DCR_EINTERNAL, "lz4 compression failed");
        n = (size_t)k;
    } else {
        n = ZSTD_compressCCtx(e->zctx, dst, bound, e->raw.data, e->raw.len, e->level);
        if (ZSTD_isError(n))
            return dcr_fail(err, DCR_EINTERNAL, "zstd compression failed: %s",
                            ZSTD_getErrorName(n));
    }
    if (n >= e->raw.len) {
        memcpy(payload->data + payload->len, e->raw.data, e->raw.len);
        n = e->raw.len;
        codec = CODEC_STORED;
    }
    if (e->raw.len > UINT32_MAX || n > UINT32_MAX)
        return dcr_fail(err, DCR_EINPUT, "column too large for one chunk");
    payload->len += n;
    dir[0] = encoding;
    dir[1] = codec;
    dcr_put_u32le(dir + 2, (uint32_t)e->raw.len);
    dcr_put_u32le(dir + 6, (uint32_t)n);
    return DCR_OK;
}

dcr_status dcr_chunk_encode(dcr_chunk_encoder *e, const dcr_sealed_header *h,
                            const dcr_chunk *chunk, dcr_buf *payload, dcr_error *err)
{
    if (chunk->nrows > h->chunk_rows_max)
        return dcr_fail(err, DCR_EINTERNAL, "chunk has %zu rows, more than %u", chunk->nrows,
                        h->chunk_rows_max);
    size_t dir_len = PAYLOAD_HEAD + chunk->ncols * COLUMN_DIR_ENTRY;
    payload->len = 0;
    dcr_status s = dcr_buf_reserve(payload, dir_len, err);
    if (s != DCR_OK)
        return s;
    dcr_put_u32le(payload->data, (uint32_t)chunk->nrows);
    dcr_put_u16le(payload->data + 4, (uint16_t)chunk->ncols);
    payload->len = dir_len;
    uint64_t raw_total = 0, text_total = 0;
    for (size_t i = 0; i < chunk->ncols; i++) {
        text_total += chunk->cols[i].text_len;
        /* payload->data may move as it grows, so address the directory by offset */
        uint8_t dir[COLUMN_DIR_ENTRY];
        if ((s = encode_column(e, &chunk->cols[i], dir, payload, err)))
            return s;
        memcpy(payload->data + PAYLOAD_HEAD + i * COLUMN_DIR_ENTRY, dir, sizeof dir);
        raw_total += dcr_get_u32le(dir + 2);
    }
    /* readers refuse a chunk whose TEXT materialises to more than the limit */
    if (raw_total < text_total)
        raw_total = text_total;
    if (payload->len > h->chunk_bytes_max || raw_total > h->chunk_bytes_max)
        return dcr_fail(err, DCR_EINPUT,
                        "a chunk would hold %llu bytes, more than the %u "
                        "allowed",
                        (unsigned long long)raw_total, h->chunk_bytes_max);
    return DCR_OK;
}

/* Seals len bytes at pt as segment `seg` of chunk `index` into out. */
static dcr_status seal_segment(const dcr_sealed_header *h, const uint8_t *key, uint32_t index,
                               bool last, uint16_t seg, const uint8_t *pt, size_t len, dcr_buf *out,
                               dcr_error *err)
{
    uint8_t nonce[12];
    dcr_sealed_segment_nonce(h, index, last, seg, nonce);
    dcr_status s = dcr_aes256gcm_seal(key, nonce, h->core_hash, sizeof h->core_hash, pt, len,
                                      out->data + out->len, err);
    if (s == DCR_OK)
        out->len += len + DCR_AES256GCM_TAG_LEN;
    return s;
}

dcr_status dcr_chunk_encrypt(const dcr_sealed_header *h, const uint8_t key[DCR_DATA_KEY_LEN],
                             uint32_t index, bool last, const uint8_t *payload, size_t len,
                             dcr_buf *out, dcr_error *err)
{
    size_t ncols = h->schema.ncols, dir_len = PAYLOAD_HEAD + ncols * COLUMN_DIR_ENTRY;
    if (len > h->chunk_bytes_max || (h->segmented && len < dir_len))
        return dcr_fail(err, DCR_EINTERNAL, "chunk payload of %zu bytes is out of range", len);
    size_t ct_len = len + dcr_chunk_overhead(h);
    dcr_status s = dcr_buf_reserve(out, 4 + ct_len, err);
    if (s != DCR_OK)
        return s;
    dcr_put_u32le(out->data + out->len, (uint32_t)ct_len);
    out->len += 4;
    if (!h->segmented) {
        uint8_t nonce[12];
        dcr_sealed_nonce(h, index, last, nonce);
        s = dcr_aes256gcm_seal(key, nonce, h->core_hash, sizeof h->core_hash, payload, len,
                               out->data + out->len, err);
        if (s == DCR_OK)
            out->len += ct_len;
        return s;
    }
    /* the writer's own payload: its directory's sizes add up (dcr_chunk_encode) */
    s = seal_segment(h, key, index, last, 0, payload, dir_len, out, err);
    size_t at = dir_len;
    for (size_t i = 0; s == DCR_OK && i < ncols; i++) {
        size_t n = dcr_get_u32le(payload + PAYLOAD_HEAD + i * COLUMN_DIR_ENTRY + 6);
        if (n > len - at)
            return dcr_fail(err, DCR_EINTERNAL, "chunk payload sizes do not add up");
        s = seal_segment(h, key, index, last, (uint16_t)(i + 1), payload + at, n, out, err);
        at += n;
    }
    if (s == DCR_OK && at != len) /* else ct_len above would not match what was written */
        return dcr_fail(err, DCR_EINTERNAL, "chunk payload sizes do not add up");
    return s;
}

/* Opens segment `seg` (len bytes of plaintext, then its tag) at ct into pt. */
static dcr_status open_segment(const dcr_sealed_header *h, const uint8_t *key, uint32_t index,
                               bool last, uint16_t seg, const uint8_t *ct, size_t len, uint8_t *pt,
                               dcr_error *err)
{
    uint8_t nonce[12];
    dcr_sealed_segment_nonce(h, index, last, seg, nonce);
    return dcr_aes256gcm_open(key, nonce, h->core_hash, sizeof h->core_hash, ct,
                              len + DCR_AES256GCM_TAG_LEN, pt, err);
}

static dcr_status read_directory(const dcr_sealed_header *h, const uint8_t *plain, size_t len,
                                 uint32_t *nrows, dcr_chunk_column_info *info, dcr_error *err);

/* A segmented chunk's directory: checks ct_len, opens segment 0 into
 * plain and reads it into *info (ncols entries, the caller frees), its
 * sizes checked against the payload length ct_len implies. */
static dcr_status open_directory(const dcr_sealed_header *h, const uint8_t *key, uint32_t index,
                                 bool last, const uint8_t *ct, size_t ct_len, size_t plain_room,
                                 dcr_buf *plain, dcr_chunk_column_info **info, dcr_error *err)
{
    size_t ncols = h->schema.ncols, dir_len = PAYLOAD_HEAD + ncols * COLUMN_DIR_ENTRY;
    size_t overhead = dcr_chunk_overhead(h);
    *info = NULL;
    if (!h->segmented || ct_len < overhead + dir_len || ct_len - overhead > h->chunk_bytes_max)
        return dcr_fail(err, DCR_EINPUT, "chunk %u has an invalid length %zu", index, ct_len);
    plain->len = 0;
    dcr_status s = dcr_buf_reserve(plain, plain_room > dir_len ? plain_room : dir_len, err);
    s = s ? s : open_segment(h, key, index, last, 0, ct, dir_len, plain->data, err);
    if (s == DCR_OK && !(*info = malloc(ncols * sizeof **info)))
        s = dcr_fail(err, DCR_EINTERNAL, "out of memory");
    uint32_t nrows;
    s = s ? s : read_directory(h, plain->data, ct_len - overhead, &nrows, *info, err);
    if (s != DCR_OK) {
        free(*info);
        *info = NULL;
    }
    return s;
}

/* A segmented chunk: the directory, which places every column, then the
 * wanted columns. */
static dcr_status decrypt_segments(const dcr_sealed_header *h, const uint8_t *key, uint32_t index,
                                   bool last, const uint8_t *ct, size_t ct_len, const uint8_t *want,
                                   dcr_buf *plain, dcr_error *err)
{
    size_t len = ct_len - dcr_chunk_overhead(h); /* if ct_len is valid: open_directory */
    dcr_chunk_column_info *info;
    dcr_status s = open_directory(h, key, index, last, ct, ct_len, len + 1, plain, &info, err);
    size_t at = PAYLOAD_HEAD + h->schema.ncols * COLUMN_DIR_ENTRY;
    size_t ct_at = at + DCR_AES256GCM_TAG_LEN;
    for (size_t i = 0; s == DCR_OK && i < h->schema.ncols; i++) {
        size_t n = info[i].stored_len; /* read_directory: they add up to len */
        if (!want || want[i] != DCR_CHUNK_SKIP)
            s = open_segment(h, key, index, last, (uint16_t)(i + 1), ct + ct_at, n,
                             plain->data + at, err);
        at += n;
        ct_at += n + DCR_AES256GCM_TAG_LEN;
    }
    free(info);
    if (s == DCR_OK)
        plain->len = len;
    return s;
}

dcr_status dcr_chunk_wanted_prefix(const dcr_sealed_header *h, const uint8_t key[DCR_DATA_KEY_LEN],
                                   uint32_t index, bool last, const uint8_t *ct, size_t ct_len,
                                   const uint8_t *want, size_t *prefix, dcr_buf *plain,
                                   dcr_error *err)
{
    dcr_chunk_column_info *info;
    dcr_status s = open_directory(h, key, index, last, ct, ct_len, 0, plain, &info, err);
    size_t at = PAYLOAD_HEAD + h->schema.ncols * COLUMN_DIR_ENTRY + DCR_AES256GCM_TAG_LEN;
    *prefix = at;
    for (size_t i = 0; s == DCR_OK && i < h->schema.ncols; i++) {
        at += info[i].stored_len + DCR_AES256GCM_TAG_LEN;
        if (!want || want[i] != DCR_CHUNK_SKIP)
            *prefix = at;
    }
    free(info);
    return s;
}

dcr_status dcr_chunk_decrypt_columns(const dcr_sealed_header *h,
                                     const uint8_t key[DCR_DATA_KEY_LEN], uint32_t index, bool last,
                                     const uint8_t *ct, size_t ct_len, const uint8_t *want,
                                     dcr_buf *plain, dcr_error *err)
{
    if (h->segmented)
        return decrypt_segments(h, key, index, last, ct, ct_len, want, plain, err);
    if (ct_len < DCR_AES256GCM_TAG_LEN || ct_len - DCR_AES256GCM_TAG_LEN > h->chunk_bytes_max)
        return dcr_fail(err, DCR_EINPUT, "chunk %u has an invalid length %zu", index, ct_len);
    size_t len = ct_len - DCR_AES256GCM_TAG_LEN;
    plain->len = 0;
    dcr_status s = dcr_buf_reserve(plain, len + 1, err);
    if (s != DCR_OK)
        return s;
    uint8_t nonce[12];
    dcr_sealed_nonce(h, index, last, nonce);
    s = dcr_aes256gcm_open(key, nonce, h->core_hash, sizeof h->core_hash, ct, ct_len, plain->data,
                           err);
    if (s != DCR_OK)
        return s;
    plain->len = len;
    return DCR_OK;
}

dcr_status dcr_chunk_decrypt(const dcr_sealed_header *h, const uint8_t key[DCR_DATA_KEY_LEN],
                             uint32_t index, bool last, const uint8_t *ct, size_t ct_len,
                             dcr_buf *plain, dcr_error *err)
{
    return dcr_chunk_decrypt_columns(h, key, index, last, ct, ct_len, NULL, plain, err);
}

/* Reads the payload's directory, checking that the column sizes add up. */
static dcr_status read_directory(const dcr_sealed_header *h, const uint8_t *plain, size_t len,
                                 uint32_t *nrows, dcr_chunk_column_info *info, dcr_error *err)
{
    size_t ncols = h->schema.ncols;
    if (len < PAYLOAD_HEAD)
        return dcr_fail(err, DCR_EINPUT, "chunk payload truncated");
    *nrows = dcr_get_u32le(plain);
    if (*nrows > h->chunk_rows_max)
        return dcr_fail(err, DCR_EINPUT, "chunk has %u rows, more than the header's limit %u",
                        *nrows, h->chunk_rows_max);
    if (dcr_get_u16le(plain + 4) != ncols)
        return dcr_fail(err, DCR_EINPUT, "chunk column count does not match the schema");
    size_t dir_len = PAYLOAD_HEAD + ncols * COLUMN_DIR_ENTRY;
    if (len < dir_len)
        return dcr_fail(err, DCR_EINPUT, "chunk directory truncated");
    uint64_t stored_total = 0, raw_total = 0;
    for (size_t i = 0; i < ncols; i++) {
        const uint8_t *d = plain + PAYLOAD_HEAD + i * COLUMN_DIR_ENTRY;
        info[i].encoding = d[0];
        info[i].codec = d[1];
        info[i].raw_len = dcr_get_u32le(d + 2);
        info[i].stored_len = dcr_get_u32le(d + 6);
        bool text = h->schema.cols[i].type == DCR_TYPE_TEXT;
        if (d[0] > (text ? DCR_ENCODING_DICTIONARY : DCR_ENCODING_PLAIN))
            return dcr_fail(err, DCR_EINPUT, "column %zu has an unknown encoding %u for %s", i + 1,
                            d[0], dcr_type_name(h->schema.cols[i].type));
        if (d[1] > CODEC_LZ4)
            return dcr_fail(err, DCR_EINPUT, "column %zu has an unknown codec %u", i + 1, d[1]);
        if (d[1] == CODEC_STORED && info[i].raw_len != info[i].stored_len)
            return dcr_fail(err, DCR_EINPUT, "column %zu: stored size mismatch", i + 1);
        stored_total += info[i].stored_len;
        raw_total += info[i].raw_len;
    }
    if (stored_total != len - dir_len)
        return dcr_fail(err, DCR_EINPUT, "chunk column sizes do not add up to the payload");
    if (raw_total > h->chunk_bytes_max)
        return dcr_fail(err, DCR_EINPUT, "chunk decodes to more than the header's limit");
    return DCR_OK;
}

dcr_status dcr_chunk_describe(const dcr_sealed_header *h, const uint8_t *plain, size_t len,
                              uint32_t *nrows, dcr_chunk_column_info *info, dcr_error *err)
{
    return read_directory(h, plain, len, nrows, info, err);
}

static dcr_status decode_column(const dcr_chunk_column_info *ci, const uint8_t *stored,
                                uint32_t nrows, size_t text_max, bool defer, dcr_column *col,
                                dcr_buf *scratch, dcr_error *err)
{
    const uint8_t *raw = stored;
    if (ci->codec != CODEC_STORED) {
        scratch->len = 0;
        dcr_status s = dcr_buf_reserve(scratch, ci->raw_len + 1, err);
        if (s != DCR_OK)
            return s;
        raw = scratch->data;
    }
    if (ci->codec == CODEC_ZSTD) {
        unsigned long long size = ZSTD_getFrameContentSize(stored, ci->stored_len);
        if (size != ci->raw_len)
            return dcr_fail(err, DCR_EINPUT, "compressed size header does not match");
        size_t n = ZSTD_decompress(scratch->data, ci->raw_len, stored, ci->stored_len);
        if (ZSTD_isError(n) || n != ci->raw_len)
            return dcr_fail(err, DCR_EINPUT, "zstd decompression failed");
    } else if (ci->codec == CODEC_LZ4) {
        /* the safe decoder: never reads or writes past the sizes given */
        int n = LZ4_decompress_safe((const char *)stored, (char *)scratch->data,
                                    (int)ci->stored_len, (int)ci->raw_len);
        if (n < 0 || (size_t)n != ci->raw_len)
            return dcr_fail(err, DCR_EINPUT, "lz4 decompression failed");
    }
    return defer ? dcr_column_decode_deferred(col, nrows, ci->encoding, raw, ci->raw_len, text_max,
                                              err)
                 : dcr_column_decode(col, nrows, ci->encoding, raw, ci->raw_len, text_max, err);
}

dcr_status dcr_chunk_decode(const dcr_sealed_header *h, const uint8_t *plain, size_t len,
                            const uint8_t *want, dcr_chunk *chunk, dcr_buf *scratch, dcr_error *err)
{
    size_t ncols = h->schema.ncols;
    dcr_chunk_column_info *info = malloc(ncols * sizeof *info);
    if (!info)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    uint32_t nrows;
    dcr_status s = read_directory(h, plain, len, &nrows, info, err);
    const uint8_t *p = plain + PAYLOAD_HEAD + ncols * COLUMN_DIR_ENTRY;
    /* what the decoded TEXT may take in all: dictionaries expand */
    size_t text_left = h->chunk_bytes_max;
    for (size_t i = 0; s == DCR_OK && i < ncols; i++) {
        if (!want || want[i] != DCR_CHUNK_SKIP) {
            bool defer = want && want[i] == DCR_CHUNK_DEFER;
            s = decode_column(&info[i], p, nrows, text_left, defer, &chunk->cols[i], scratch, err);
            if (s == DCR_OK)
                text_left -= chunk->cols[i].text_len;
            if (s == DCR_OK && h->schema.cols[i].not_null && chunk->cols[i].nnulls)
                s = dcr_fail(err, DCR_EINPUT, "NULL in a NOT NULL column");
            if (s != DCR_OK)
                dcr_error_prefix(err, "column \"%s\"", h->schema.cols[i].name);
        } else {
            dcr_column_clear(&chunk->cols[i]);
        }
        p += info[i].stored_len;
    }
    free(info);
    chunk->nrows = s == DCR_OK ? nrows : 0;
    return s;
}

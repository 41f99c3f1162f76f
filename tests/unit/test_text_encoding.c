/*
 * test_text_encoding.c: TEXT columns' lengths and dictionary encodings
 * (store/text_encoding.c): round trips at every width and size boundary,
 * old plain chunks still decoding the same, and every malformed input a
 * hostile provider could write refused with its own message.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/bytes.h"
#include "check.h"
#include "store/sealed.h"
#include "exec/batch.h"
#include "store/text_encoding.h"

/* ---- helpers ---- */

/* Appends row i of a column under construction: NULL when s is NULL. */
static void push(dcr_column *c, const char *s, size_t len)
{
    dcr_error err;
    if (s)
        CHECK(dcr_column_push_text(c, s, len, &err) == DCR_OK);
    else
        CHECK(dcr_column_push_null(c, &err) == DCR_OK);
}

static void push_str(dcr_column *c, const char *s)
{
    push(c, s, s ? strlen(s) : 0);
}

/* Whether a and b hold the same rows: NULL-ness and, for the others, bytes;
 * b's NULL rows must be empty unless it was decoded from a plain encoding. */
static bool same_rows_as(const dcr_column *a, const dcr_column *b, bool plain)
{
    if (a->nrows != b->nrows || a->nnulls != b->nnulls)
        return false;
    for (size_t i = 0; i < a->nrows; i++) {
        if (dcr_column_is_null(a, i) != dcr_column_is_null(b, i))
            return false;
        if (dcr_column_is_null(a, i)) {
            if (!plain && b->offsets[i + 1] != b->offsets[i])
                return false;
            continue;
        }
        size_t la = a->offsets[i + 1] - a->offsets[i], lb = b->offsets[i + 1] - b->offsets[i];
        if (la != lb || (la && memcmp(a->text + a->offsets[i], b->text + b->offsets[i], la)))
            return false;
    }
    return true;
}

static bool same_rows(const dcr_column *a, const dcr_column *b)
{
    return same_rows_as(a, b, false);
}

typedef struct {
    uint8_t encoding;
    dcr_buf bytes; /* the encoded column, validity head included */
} encoded;

static encoded encode(const dcr_column *c)
{
    dcr_error err;
    dcr_text_encoder *e;
    encoded out = {0xff, DCR_BUF_INIT};
    CHECK(dcr_text_encoder_new(&e, &err) == DCR_OK);
    CHECK(dcr_text_encode(e, c, &out.bytes, &out.encoding, &err) == DCR_OK);
    dcr_text_encoder_free(e);
    return out;
}

/* The byte after the validity head: the lengths' width, or ndict's first. */
static size_t head_len(const dcr_column *c)
{
    return 1 + (c->nnulls ? (c->nrows + 7) / 8 : 0);
}

/* Encodes c, checks the encoding chosen, decodes, compares, and checks that
 * re-encoding gives the same bytes. Returns the encoded form (caller frees). */
static encoded roundtrip(const dcr_column *c, uint8_t want_encoding)
{
    dcr_error err;
    encoded e = encode(c);
    CHECK(e.encoding == want_encoding);
    dcr_column d;
    dcr_column_init(&d, DCR_TYPE_TEXT);
    CHECK(dcr_column_decode(&d, c->nrows, e.encoding, e.bytes.data, e.bytes.len, SIZE_MAX, &err) ==
          DCR_OK);
    CHECK(same_rows(c, &d));
    encoded again = encode(&d);
    CHECK(again.encoding == e.encoding && again.bytes.len == e.bytes.len &&
          memcmp(again.bytes.data, e.bytes.data, e.bytes.len) == 0);
    dcr_buf_free(&again.bytes);
    /* the plain encoding of the same rows decodes to the same too */
    dcr_buf plain = DCR_BUF_INIT;
    CHECK(dcr_column_encode(c, &plain, &err) == DCR_OK);
    CHECK(dcr_column_decode(&d, c->nrows, DCR_ENCODING_PLAIN, plain.data, plain.len, SIZE_MAX,
                            &err) == DCR_OK);
    CHECK(same_rows_as(c, &d, true));
    dcr_buf_free(&plain);
    dcr_column_free(&d);
    return e;
}

/* A column of n rows whose row i is value (i % distinct), each `len` bytes
 * long at least (padded with 'x'). */
static void fill(dcr_column *c, size_t n, size_t distinct, size_t len)
{
    char *buf = malloc(len + 32);
    for (size_t i = 0; i < n; i++) {
        int k = snprintf(buf, 32, "v%zu-", i % distinct);
        size_t l = (size_t)k < len ? len : (size_t)k;
        memset(buf + k, 'x', l - (size_t)k);
        push(c, buf, l);
    }
    free(buf);
}

/* ---- round trips ---- */

static void test_small_columns(void)
{
    dcr_column c;
    dcr_column_init(&c, DCR_TYPE_TEXT);
    encoded e = roundtrip(&c, DCR_ENCODING_LENGTHS); /* 0 rows */
    CHECK(e.bytes.len == 2 && e.bytes.data[1] == 1);
    dcr_buf_free(&e.bytes);

    for (int i = 0; i < 5; i++) /* all NULL */
        push_str(&c, NULL);
    e = roundtrip(&c, DCR_ENCODING_LENGTHS);
    dcr_buf_free(&e.bytes);
    dcr_column_free(&c);

    dcr_column_init(&c, DCR_TYPE_TEXT); /* empty strings, NULLs, UTF-8 */
    const char *rows[] = {"", NULL, "", "é", "日本", NULL, "", "a", "é", ""};
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++)
        push_str(&c, rows[i]);
    e = roundtrip(&c, DCR_ENCODING_LENGTHS);
    dcr_buf_free(&e.bytes);
    dcr_column_free(&c);

    dcr_column_init(&c, DCR_TYPE_TEXT); /* only empty strings and NULLs: no text at all */
    for (int i = 0; i < 100; i++)
        push_str(&c, i % 3 ? "" : NULL);
    CHECK(c.text == NULL);
    e = roundtrip(&c, DCR_ENCODING_LENGTHS);
    dcr_buf_free(&e.bytes);
    dcr_column_free(&c);
}

/* Dictionary sizes at the code width boundaries; each value repeats so a
 * dictionary pays off. */
static void test_distinct_counts(void)
{
    static const struct {
        size_t distinct, repeat;
        uint8_t encoding;
        unsigned code_width;
    } cases[] = {
        {1, 1000, DCR_ENCODING_DICTIONARY, 1},  {255, 20, DCR_ENCODING_DICTIONARY, 1},
        {256, 20, DCR_ENCODING_DICTIONARY, 1},  {257, 20, DCR_ENCODING_DICTIONARY, 2},
        {65536, 3, DCR_ENCODING_DICTIONARY, 2}, {65537, 3, DCR_ENCODING_LENGTHS, 0},
        {1000, 1, DCR_ENCODING_LENGTHS, 0}, /* all distinct: no gain */
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        dcr_column c;
        dcr_column_init(&c, DCR_TYPE_TEXT);
        fill(&c, cases[k].distinct * cases[k].repeat, cases[k].distinct, 12);
        encoded e = roundtrip(&c, cases[k].encoding);
        if (e.encoding == DCR_ENCODING_DICTIONARY) {
            const uint8_t *p = e.bytes.data + head_len(&c);
            CHECK(dcr_get_u32le(p) == cases[k].distinct);
            CHECK(p[4] == 1); /* entries of 12..14 bytes */
            size_t codes = c.nrows * cases[k].code_width;
            CHECK(e.bytes.data[e.bytes.len - codes - 1] == cases[k].code_width);
        }
        dcr_buf_free(&e.bytes);
        dcr_column_free(&c);
    }
}

/* Long strings widen the lengths: >= 256 bytes takes 2, >= 65,536 takes 4. */
static void test_long_strings(void)
{
    static const struct {
        size_t len, rows, distinct;
        uint8_t encoding;
        unsigned width;
    } cases[] = {
        {255, 10, 10, DCR_ENCODING_LENGTHS, 1},   {256, 10, 10, DCR_ENCODING_LENGTHS, 2},
        {65535, 3, 3, DCR_ENCODING_LENGTHS, 2},   {65536, 3, 3, DCR_ENCODING_LENGTHS, 4},
        {300, 50, 2, DCR_ENCODING_DICTIONARY, 2}, {70000, 20, 1, DCR_ENCODING_DICTIONARY, 4},
        {70000, 2, 2, DCR_ENCODING_LENGTHS, 4},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        dcr_column c;
        dcr_column_init(&c, DCR_TYPE_TEXT);
        fill(&c, cases[k].rows, cases[k].distinct, cases[k].len);
        push_str(&c, NULL);
        push_str(&c, "short");
        encoded e = roundtrip(&c, cases[k].encoding);
        const uint8_t *p = e.bytes.data + head_len(&c);
        CHECK(p[cases[k].encoding == DCR_ENCODING_DICTIONARY ? 4 : 0] == cases[k].width);
        dcr_buf_free(&e.bytes);
        dcr_column_free(&c);
    }
}

/* A plain chunk may hold bytes in a NULL row (readers ignore them); the new
 * encodings drop them, and the rows stay the same. */
static void test_null_row_bytes_from_plain(void)
{
    dcr_error err;
    const uint8_t plain[] = {1, 0x05, 0, 0, 0, 0, 1, 0,   0,   0,  2,
                             0, 0,    0, 3, 0, 0, 0, 'a', 'b', 'c'};
    dcr_column c;
    dcr_column_init(&c, DCR_TYPE_TEXT);
    CHECK(dcr_column_decode(&c, 3, DCR_ENCODING_PLAIN, plain, sizeof plain, SIZE_MAX, &err) ==
          DCR_OK);
    CHECK(c.nnulls == 1 && c.text_len == 3);
    encoded e = roundtrip(&c, DCR_ENCODING_LENGTHS);
    const uint8_t want[] = {1, 0x05, 1, 1, 0, 1, 'a', 'c'};
    CHECK(e.bytes.len == sizeof want && memcmp(e.bytes.data, want, sizeof want) == 0);
    dcr_buf_free(&e.bytes);
    dcr_column_free(&c);
}

/* One encoder serves a worker's every chunk: a small column after a large
 * one must not see the large one's dictionary. */
static void test_encoder_reuse(void)
{
    dcr_error err;
    dcr_text_encoder *e;
    CHECK(dcr_text_encoder_new(&e, &err) == DCR_OK);
    static const size_t sizes[][2] = {{5000, 40},   {200, 40}, {30, 3},
                                      {5000, 4000}, {12, 2},   {0, 1}};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        dcr_column c, d;
        dcr_column_init(&c, DCR_TYPE_TEXT);
        dcr_column_init(&d, DCR_TYPE_TEXT);
        for (size_t i = 0; i < sizes[k][0]; i++) { /* same values, other orders */
            char v[32];
            snprintf(v, sizeof v, "value %zu", (i * 7 + k / 2) % sizes[k][1]);
            push_str(&c, v);
        }
        dcr_buf b = DCR_BUF_INIT;
        uint8_t enc;
        CHECK(dcr_text_encode(e, &c, &b, &enc, &err) == DCR_OK);
        CHECK(dcr_column_decode(&d, c.nrows, enc, b.data, b.len, SIZE_MAX, &err) == DCR_OK);
        CHECK(same_rows(&c, &d));
        dcr_buf_free(&b);
        dcr_column_free(&c);
        dcr_column_free(&d);
    }
    dcr_text_encoder_free(e);
}

/* ---- chunks ---- */

static dcr_sealed_header text_header(bool not_null)
{
    char json[256];
    snprintf(json, sizeof json,
             "{\"dataset\": \"t\", \"columns\": [{\"name\": \"n\", \"type\": \"BIGINT\"},"
             "{\"name\": \"s\", \"type\": \"TEXT\", \"not_null\": %s},"
             "{\"name\": \"u\", \"type\": \"TEXT\"}]}",
             not_null ? "true" : "false");
    dcr_sealed_header h;
    dcr_error err;
    memset(&h, 0, sizeof h);
    CHECK(dcr_schema_parse_json(json, strlen(json), "test", &h.schema, &err) == DCR_OK);
    h.chunk_rows_max = 1 << 20;
    h.chunk_bytes_max = 1 << 20;
    return h;
}

/* A chunk payload with the given (uncompressed) columns. */
static void payload(dcr_buf *out, uint32_t nrows, const uint8_t *encodings, const dcr_buf *cols,
                    size_t ncols)
{
    dcr_error err;
    out->len = 0;
    CHECK(dcr_buf_reserve(out, 6 + 10 * ncols, &err) == DCR_OK);
    dcr_put_u32le(out->data, nrows);
    dcr_put_u16le(out->data + 4, (uint16_t)ncols);
    for (size_t i = 0; i < ncols; i++) {
        uint8_t *d = out->data + 6 + 10 * i;
        d[0] = encodings[i];
        d[1] = 0;
        dcr_put_u32le(d + 2, (uint32_t)cols[i].len);
        dcr_put_u32le(d + 6, (uint32_t)cols[i].len);
    }
    out->len = 6 + 10 * ncols;
    for (size_t i = 0; i < ncols; i++)
        CHECK(dcr_buf_append(out, cols[i].data, cols[i].len, &err) == DCR_OK);
}

/* DCR_COMPRESS_FAST puts a lengths-encoded TEXT column in LZ4 (codec 2)
 * and the others in zstd (1); SMALL puts all in zstd; both decode to the
 * same rows. A damaged LZ4 column, a wrong size or an unknown codec is
 * refused, naming the column. */
static void test_chunk_codecs(void)
{
    dcr_error err;
    dcr_sealed_header h = text_header(false);
    dcr_chunk chunk, back;
    CHECK(dcr_chunk_init(&chunk, &h.schema, &err) == DCR_OK);
    CHECK(dcr_chunk_init(&back, &h.schema, &err) == DCR_OK);
    for (int i = 0; i < 5000; i++) {
        char s[32];
        snprintf(s, sizeof s, "user%07d@example.com", i * 7919 % 100000);
        CHECK(dcr_column_push_i64(&chunk.cols[0], i, &err) == DCR_OK);
        push_str(&chunk.cols[1], i % 11 ? s : NULL);
        push_str(&chunk.cols[2], i % 3 ? "campaign_a" : "campaign_b");
    }
    chunk.nrows = 5000;
    dcr_chunk_encoder *fast, *small;
    dcr_buf p = DCR_BUF_INIT, q = DCR_BUF_INIT, scratch = DCR_BUF_INIT;
    CHECK(dcr_chunk_encoder_new(&fast, 1, DCR_COMPRESS_FAST, &err) == DCR_OK);
    CHECK(dcr_chunk_encoder_new(&small, 1, DCR_COMPRESS_SMALL, &err) == DCR_OK);
    CHECK(dcr_chunk_encode(fast, &h, &chunk, &p, &err) == DCR_OK);
    CHECK(dcr_chunk_encode(small, &h, &chunk, &q, &err) == DCR_OK);
    uint32_t nrows;
    dcr_chunk_column_info fi[3], si[3];
    CHECK(dcr_chunk_describe(&h, p.data, p.len, &nrows, fi, &err) == DCR_OK);
    CHECK(dcr_chunk_describe(&h, q.data, q.len, &nrows, si, &err) == DCR_OK);
    CHECK(fi[0].codec == 1 && fi[1].codec == 2 && fi[2].codec == 1);
    CHECK(fi[1].encoding == DCR_ENCODING_LENGTHS && fi[2].encoding == DCR_ENCODING_DICTIONARY);
    CHECK(si[0].codec == 1 && si[1].codec == 1 && si[2].codec == 1);
    CHECK(fi[1].stored_len < fi[1].raw_len / 2 && si[1].stored_len < fi[1].stored_len);
    const dcr_buf *both[2] = {&p, &q};
    for (int k = 0; k < 2; k++) {
        CHECK(dcr_chunk_decode(&h, both[k]->data, both[k]->len, NULL, &back, &scratch, &err) ==
              DCR_OK);
        CHECK(back.nrows == 5000 && same_rows(&chunk.cols[1], &back.cols[1]) &&
              same_rows(&chunk.cols[2], &back.cols[2]));
    }
    /* the LZ4 column's bytes start after column 0's */
    size_t at = 6 + 3 * 10 + fi[0].stored_len;
    uint8_t saved = p.data[at + 40];
    p.data[at + 40] ^= 0xff; /* inside a sequence: a bad offset or length */
    dcr_status s = dcr_chunk_decode(&h, p.data, p.len, NULL, &back, &scratch, &err);
    if (s == DCR_OK) /* a flipped literal decodes: the rows then differ */
        CHECK(!same_rows(&chunk.cols[1], &back.cols[1]));
    else
        CHECK_MSG(err, "column \"s\"");
    p.data[at + 40] = saved;
    p.data[at] = 0xff; /* the first token: a literal run far past the input */
    CHECK(dcr_chunk_decode(&h, p.data, p.len, NULL, &back, &scratch, &err) == DCR_EINPUT);
    CHECK_MSG(err, "column \"s\": lz4 decompression failed");
    /* raw_len one more than what the frame decodes to */
    dcr_put_u32le(p.data + 6 + 10 + 2, fi[1].raw_len + 1);
    CHECK(dcr_chunk_decode(&h, p.data, p.len, NULL, &back, &scratch, &err) == DCR_EINPUT);
    CHECK_MSG(err, "lz4 decompression failed");
    p.data[6 + 10 + 1] = 3;
    CHECK(dcr_chunk_decode(&h, p.data, p.len, NULL, &back, &scratch, &err) == DCR_EINPUT);
    CHECK_MSG(err, "column 2 has an unknown codec 3");
    dcr_buf_free(&p);
    dcr_buf_free(&q);
    dcr_buf_free(&scratch);
    dcr_chunk_encoder_free(fast);
    dcr_chunk_encoder_free(small);
    dcr_chunk_free(&chunk);
    dcr_chunk_free(&back);
    dcr_schema_free(&h.schema);
}

/* The writer never emits plain for TEXT; plain chunks written before still
 * decode to the same rows. */
static void test_chunks_old_and_new(void)
{
    dcr_error err;
    dcr_sealed_header h = text_header(false);
    dcr_chunk chunk, back;
    CHECK(dcr_chunk_init(&chunk, &h.schema, &err) == DCR_OK);
    CHECK(dcr_chunk_init(&back, &h.schema, &err) == DCR_OK);
    for (int i = 0; i < 3000; i++) {
        char s[32];
        snprintf(s, sizeof s, "user%d@example.com", i);
        CHECK(dcr_column_push_i64(&chunk.cols[0], i, &err) == DCR_OK);
        push_str(&chunk.cols[1], i % 7 ? s : NULL);
        push_str(&chunk.cols[2], i % 3 ? "campaign_a" : "campaign_b");
    }
    chunk.nrows = 3000;
    dcr_chunk_encoder *enc;
    dcr_buf p = DCR_BUF_INIT, scratch = DCR_BUF_INIT;
    CHECK(dcr_chunk_encoder_new(&enc, 1, DCR_COMPRESS_FAST, &err) == DCR_OK);
    CHECK(dcr_chunk_encode(enc, &h, &chunk, &p, &err) == DCR_OK);
    CHECK(p.data[6] == DCR_ENCODING_PLAIN);
    CHECK(p.data[16] == DCR_ENCODING_LENGTHS);
    CHECK(p.data[26] == DCR_ENCODING_DICTIONARY);
    CHECK(dcr_chunk_decode(&h, p.data, p.len, NULL, &back, &scratch, &err) == DCR_OK);
    CHECK(back.nrows == 3000 && same_rows(&chunk.cols[1], &back.cols[1]) &&
          same_rows(&chunk.cols[2], &back.cols[2]));

    /* the same rows as an old writer made them: plain everywhere */
    dcr_buf cols[3] = {DCR_BUF_INIT, DCR_BUF_INIT, DCR_BUF_INIT};
    for (int i = 0; i < 3; i++)
        CHECK(dcr_column_encode(&chunk.cols[i], &cols[i], &err) == DCR_OK);
    const uint8_t plain_enc[3] = {0, 0, 0};
    payload(&p, 3000, plain_enc, cols, 3);
    CHECK(dcr_chunk_decode(&h, p.data, p.len, NULL, &back, &scratch, &err) == DCR_OK);
    CHECK(back.nrows == 3000 && same_rows(&chunk.cols[1], &back.cols[1]) &&
          same_rows(&chunk.cols[2], &back.cols[2]));
    CHECK(memcmp(back.cols[0].values, chunk.cols[0].values, 3000 * 8) == 0);

    /* an encoding meant for TEXT on a BIGINT column */
    const uint8_t wrong[3] = {1, 0, 0};
    payload(&p, 3000, wrong, cols, 3);
    CHECK(dcr_chunk_decode(&h, p.data, p.len, NULL, &back, &scratch, &err) == DCR_EINPUT);
    CHECK_MSG(err, "column 1 has an unknown encoding 1 for BIGINT");
    const uint8_t unknown[3] = {0, 3, 0};
    payload(&p, 3000, unknown, cols, 3);
    CHECK(dcr_chunk_decode(&h, p.data, p.len, NULL, &back, &scratch, &err) == DCR_EINPUT);
    CHECK_MSG(err, "column 2 has an unknown encoding 3 for TEXT");
    for (int i = 0; i < 3; i++)
        dcr_buf_free(&cols[i]);
    dcr_buf_free(&p);
    dcr_buf_free(&scratch);
    dcr_chunk_encoder_free(enc);
    dcr_chunk_free(&chunk);
    dcr_chunk_free(&back);
    dcr_schema_free(&h.schema);
}

/* NOT NULL still refuses NULLs; dictionaries of two columns together may not
 * expand past chunk_bytes_max, though each alone fits. */
static void test_chunk_limits(void)
{
    dcr_error err;
    dcr_sealed_header h = text_header(true);
    dcr_chunk back;
    dcr_buf p = DCR_BUF_INIT, scratch = DCR_BUF_INIT;
    CHECK(dcr_chunk_init(&back, &h.schema, &err) == DCR_OK);
    dcr_buf cols[3] = {DCR_BUF_INIT, DCR_BUF_INIT, DCR_BUF_INIT};
    const uint32_t rows = 3000;
    /* BIGINT: no NULLs, zeros */
    CHECK(dcr_buf_reserve(&cols[0], 1 + 8 * rows, &err) == DCR_OK);
    memset(cols[0].data, 0, 1 + 8 * rows);
    cols[0].len = 1 + 8 * rows;
    /* TEXT: one 200-byte entry, every row: 600,000 bytes, over half the limit */
    for (int k = 1; k < 3; k++) {
        CHECK(dcr_buf_reserve(&cols[k], 8 + 200 + rows + 1, &err) == DCR_OK);
        uint8_t *q = cols[k].data;
        *q++ = 0;
        dcr_put_u32le(q, 1);
        q += 4;
        *q++ = 1;
        *q++ = 200;
        memset(q, 'a', 200);
        q += 200;
        *q++ = 1;
        memset(q, 0, rows);
        cols[k].len = (size_t)(q - cols[k].data) + rows;
    }
    const uint8_t encs[3] = {0, 2, 2};
    payload(&p, rows, encs, cols, 3);
    CHECK(dcr_chunk_decode(&h, p.data, p.len, NULL, &back, &scratch, &err) == DCR_EINPUT);
    CHECK_MSG(err, "column \"u\"");
    CHECK_MSG(err, "expands to more than the chunk's limit of 448576");
    const uint8_t want_s[3] = {DCR_CHUNK_DECODE, DCR_CHUNK_DECODE, DCR_CHUNK_SKIP};
    CHECK(dcr_chunk_decode(&h, p.data, p.len, want_s, &back, &scratch, &err) == DCR_OK);
    CHECK(back.cols[1].text_len == 600000);

    /* a NULL in the NOT NULL column s, in the lengths encoding */
    dcr_buf_free(&cols[1]);
    const uint8_t with_null[] = {1, 0x02, 1, 0, 1, 'x'};
    CHECK(dcr_buf_append(&cols[1], with_null, sizeof with_null, &err) == DCR_OK);
    cols[0].len = 1 + 8 * 2;
    const uint8_t u_col[] = {0, 1, 1, 1, 'p', 'q'};
    dcr_buf_free(&cols[2]);
    CHECK(dcr_buf_append(&cols[2], u_col, sizeof u_col, &err) == DCR_OK);
    const uint8_t encs2[3] = {0, 1, 1};
    payload(&p, 2, encs2, cols, 3);
    CHECK(dcr_chunk_decode(&h, p.data, p.len, NULL, &back, &scratch, &err) == DCR_EINPUT);
    CHECK_MSG(err, "column \"s\": NULL in a NOT NULL column");
    for (int i = 0; i < 3; i++)
        dcr_buf_free(&cols[i]);
    dcr_buf_free(&p);
    dcr_buf_free(&scratch);
    dcr_chunk_free(&back);
    dcr_schema_free(&h.schema);
}

/* ---- hostile columns ---- */

typedef struct {
    const char *name;
    uint8_t encoding;
    size_t nrows;
    size_t len;
    uint8_t bytes[48];
    const char *message;
} bad_case;

static void test_hostile_columns(void)
{
    static const bad_case cases[] = {
        /* lengths */
        {"width missing", 1, 1, 1, {0}, "TEXT lengths: length width missing"},
        {"width 3", 1, 1, 5, {0, 3, 1, 0, 0}, "TEXT lengths: length width 3 is not 1, 2 or 4"},
        {"width 0", 1, 0, 2, {0, 0}, "length width 0 is not"},
        {"lengths truncated", 1, 3, 5, {0, 2, 1, 0, 1}, "3 lengths of 2 bytes do not fit in 3"},
        {"sum short", 1, 2, 6, {0, 1, 2, 2, 'a', 'b'}, "add up to 4 bytes but 2 bytes follow"},
        {"sum long", 1, 1, 5, {0, 1, 1, 'a', 'b'}, "add up to 1 bytes but 2 bytes follow"},
        {"sum overflows 32 bits",
         1,
         2,
         11,
         {0, 4, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 'a'},
         "add up to 4294967297 bytes but 1 bytes follow"},
        {"NULL row with bytes", 1, 2, 6, {1, 0x02, 1, 1, 0, 'a'}, "row 0: a NULL row has a TEXT"},
        {"bad UTF-8", 1, 1, 5, {0, 1, 2, 0xc3, 0x28}, "TEXT data: not valid UTF-8 (byte 0)"},
        {"NUL byte", 1, 1, 5, {0, 1, 2, 'a', 0}, "TEXT data: contains a NUL byte"},
        {"row splits a character",
         1,
         2,
         6,
         {0, 1, 1, 1, 0xc3, 0xa9},
         "TEXT data: value 0 ends inside a UTF-8 character (byte 1)"},
        {"unknown TEXT encoding", 3, 1, 2, {0, 0}, "unknown TEXT encoding 3"},
        /* dictionary */
        {"size truncated", 2, 1, 3, {0, 1, 0}, "dictionary size truncated"},
        {"too many entries",
         2,
         70000,
         11,
         {0, 0x01, 0, 0x01, 0, 1, 0, 0, 0, 0, 0},
         "dictionary has 65537 entries, more than its 70000 rows or the 65536 allowed"},
        {"more entries than rows",
         2,
         1,
         12,
         {0, 2, 0, 0, 0, 1, 1, 1, 'a', 'b', 1, 0},
         "dictionary has 2 entries, more than its 1 rows"},
        {"entry width 5", 2, 1, 8, {0, 1, 0, 0, 0, 5, 1, 'a'}, "dictionary: length width 5"},
        {"entry lengths truncated", 2, 2, 7, {0, 2, 0, 0, 0, 2, 1}, "dictionary: 2 lengths of 2"},
        {"entries truncated",
         2,
         1,
         10,
         {0, 1, 0, 0, 0, 1, 9, 'a', 1, 0},
         "dictionary entries need 9 bytes, 3 are left"},
        {"entry not UTF-8",
         2,
         1,
         10,
         {0, 1, 0, 0, 0, 1, 1, 0xff, 1, 0},
         "dictionary: not valid UTF-8 (byte 0)"},
        {"entry with NUL", 2, 1, 10, {0, 1, 0, 0, 0, 1, 1, 0, 1, 0}, "dictionary: contains a NUL"},
        {"entries split a character",
         2,
         2,
         13,
         {0, 2, 0, 0, 0, 1, 1, 1, 0xc3, 0xa9, 1, 0, 1},
         "dictionary: value 0 ends inside a UTF-8 character"},
        {"code width missing", 2, 1, 8, {0, 1, 0, 0, 0, 1, 1, 'a'}, "code width 0 is not 1 or 2"},
        {"code width 4", 2, 1, 13, {0, 1, 0, 0, 0, 1, 1, 'a', 4, 0, 0, 0, 0}, "code width 4"},
        {"codes short", 2, 3, 11, {0, 1, 0, 0, 0, 1, 1, 'a', 1, 0, 0}, "2 bytes of 1-byte codes"},
        {"codes long", 2, 1, 12, {0, 1, 0, 0, 0, 1, 1, 'a', 2, 0, 0, 0}, "3 bytes of 2-byte codes"},
        {"code past the end",
         2,
         2,
         11,
         {0, 1, 0, 0, 0, 1, 1, 'a', 1, 0, 1},
         "row 1: code 1 is past the dictionary's 1 entries"},
        {"no entries",
         2,
         1,
         8,
         {0, 0, 0, 0, 0, 1, 1, 0},
         "row 0: code 0 is past the dictionary's 0"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        const bad_case *b = &cases[k];
        dcr_error err;
        dcr_column c;
        dcr_column_init(&c, DCR_TYPE_TEXT);
        dcr_status s =
            dcr_column_decode(&c, b->nrows, b->encoding, b->bytes, b->len, SIZE_MAX, &err);
        if (s != DCR_EINPUT)
            fprintf(stderr, "  case \"%s\" was not refused\n", b->name);
        CHECK(s == DCR_EINPUT);
        CHECK_MSG(err, b->message);
        CHECK(c.nrows == 0); /* nothing half-checked left behind */
        /* left deferred, the same bytes are refused for the same reason */
        s = dcr_column_decode_deferred(&c, b->nrows, b->encoding, b->bytes, b->len, SIZE_MAX, &err);
        CHECK(s == DCR_EINPUT);
        CHECK_MSG(err, b->message);
        CHECK(c.nrows == 0 && !c.deferred && c.offsets);
        dcr_column_free(&c);
    }
    /* a NULL row's code must be 0 */
    uint8_t null_code[] = {1, 0x01, 1, 0, 0, 0, 1, 1, 'a', 1, 0, 0};
    dcr_error err;
    dcr_column c;
    dcr_column_init(&c, DCR_TYPE_TEXT);
    CHECK(dcr_column_decode(&c, 2, 2, null_code, sizeof null_code, SIZE_MAX, &err) == DCR_OK);
    CHECK(c.nnulls == 1 && c.offsets[1] == 1 && c.offsets[2] == 1);
    null_code[sizeof null_code - 1] = 1;
    CHECK(dcr_column_decode(&c, 2, 2, null_code, sizeof null_code, SIZE_MAX, &err) == DCR_EINPUT);
    CHECK_MSG(err, "row 1: a NULL row has code 1, not 0");
    /* every row NULL, so no entry at all: nothing is read from the empty
     * dictionary (its 32-byte block copies would read past the data) */
    const uint8_t all_null[] = {1, 0x00, 0, 0, 0, 0, 1, 1, 0, 0};
    CHECK(dcr_column_decode(&c, 2, 2, all_null, sizeof all_null, SIZE_MAX, &err) == DCR_OK);
    CHECK(c.nnulls == 2 && c.text_len == 0 && c.offsets[2] == 0);
    /* a fixed-width column with a TEXT encoding */
    dcr_column_free(&c);
    dcr_column_init(&c, DCR_TYPE_BIGINT);
    const uint8_t big[] = {0, 1, 0, 0, 0, 0, 0, 0, 0};
    CHECK(dcr_column_decode(&c, 1, 1, big, sizeof big, SIZE_MAX, &err) == DCR_EINPUT);
    CHECK_MSG(err, "encoding 1 is not one for a BIGINT column");
    dcr_column_free(&c);
}

/* A column of `rows` rows, all code 0 of a one-entry dictionary of `entry`
 * bytes ('z'). */
static void one_entry_dictionary(dcr_buf *b, size_t rows, size_t entry)
{
    dcr_error err;
    b->len = 0;
    CHECK(dcr_buf_reserve(b, 16 + entry + 2 * rows, &err) == DCR_OK);
    uint8_t *q = b->data;
    *q++ = 0;
    dcr_put_u32le(q, 1);
    q += 4;
    *q++ = 4;
    dcr_put_u32le(q, (uint32_t)entry);
    q += 4;
    memset(q, 'z', entry);
    q += entry;
    *q++ = 2;
    memset(q, 0, 2 * rows);
    b->len = (size_t)(q - b->data) + 2 * rows;
}

/* A tiny dictionary with many codes: refused before the text is allocated. */
static void test_dictionary_bomb(void)
{
    dcr_buf b = DCR_BUF_INIT;
    dcr_error err;
    dcr_column c;
    dcr_column_init(&c, DCR_TYPE_TEXT);
    one_entry_dictionary(&b, 65536, 65535); /* 4 GiB of text if it were expanded */
    CHECK(dcr_column_decode(&c, 65536, DCR_ENCODING_DICTIONARY, b.data, b.len, 1u << 28, &err) ==
          DCR_EINPUT);
    CHECK_MSG(err, "expands to more than the chunk's limit of 268435456 text bytes (at row 4096)");
    CHECK(c.text_cap == 0);
    /* no limit given: still no more than 32-bit offsets can address */
    one_entry_dictionary(&b, 65536, 70000);
    CHECK(dcr_column_decode(&c, 65536, DCR_ENCODING_DICTIONARY, b.data, b.len, SIZE_MAX, &err) ==
          DCR_EINPUT);
    CHECK_MSG(err, "limit of 4294967295 text bytes (at row 61356)");
    CHECK(c.text_cap == 0);
    /* within the limit it expands */
    one_entry_dictionary(&b, 100, 65535);
    CHECK(dcr_column_decode(&c, 100, DCR_ENCODING_DICTIONARY, b.data, b.len, 1u << 28, &err) ==
          DCR_OK);
    CHECK(c.text_len == 100 * 65535 && c.offsets[100] == 100 * 65535);
    CHECK(dcr_column_decode(&c, 100, DCR_ENCODING_DICTIONARY, b.data, b.len, 100 * 65535 - 1,
                            &err) == DCR_EINPUT);
    /* deferred, nothing is expanded, but the rows are held to the same
     * limit: wherever they are expanded later, a chunk's worth at most */
    CHECK(dcr_column_decode_deferred(&c, 100, DCR_ENCODING_DICTIONARY, b.data, b.len,
                                     100 * 65535 - 1, &err) == DCR_EINPUT);
    CHECK_MSG(err, "expands to more than the chunk's limit of 6553499 text bytes (at row 99)");
    CHECK(dcr_column_decode_deferred(&c, 100, DCR_ENCODING_DICTIONARY, b.data, b.len, 100 * 65535,
                                     &err) == DCR_OK);
    CHECK(c.deferred && c.text_len == 65535 && c.ncodes == 1);
    dcr_column_free(&c);
    dcr_buf_free(&b);
}

/* A dictionary column decoded deferred (store/column.h) holds its entries
 * and codes only, and gives back exactly the rows the full decode gives,
 * whichever rows are copied out and in whatever order; clearing it makes
 * it an ordinary column again, ready for any decode. */
static void test_deferred_dictionary(void)
{
    dcr_error err;
    dcr_column c, full, lazy, out;
    dcr_column_init(&c, DCR_TYPE_TEXT);
    dcr_column_init(&full, DCR_TYPE_TEXT);
    dcr_column_init(&lazy, DCR_TYPE_TEXT);
    dcr_column_init(&out, DCR_TYPE_TEXT);
    static const char *vals[] = {"alpha", "", "b", "\xc3\xa9t\xc3\xa9",
                                 "a long value, past 32 bytes of it"};
    for (size_t i = 0; i < 1000; i++) {
        if (i % 9 == 4)
            CHECK(dcr_column_push_null(&c, &err) == DCR_OK);
        else
            push(&c, vals[i * 7 % 5], strlen(vals[i * 7 % 5]));
    }
    encoded e = encode(&c);
    CHECK(e.encoding == DCR_ENCODING_DICTIONARY);
    CHECK(dcr_column_decode(&full, 1000, e.encoding, e.bytes.data, e.bytes.len, SIZE_MAX, &err) ==
          DCR_OK);
    CHECK(dcr_column_decode_deferred(&lazy, 1000, e.encoding, e.bytes.data, e.bytes.len, SIZE_MAX,
                                     &err) == DCR_OK);
    size_t entries = 0;
    for (size_t k = 0; k < 5; k++)
        entries += strlen(vals[k]);
    CHECK(lazy.deferred && !lazy.offsets && lazy.ncodes == 5 && lazy.text_len == entries);
    CHECK(lazy.nrows == 1000 && lazy.nnulls == full.nnulls && full.nnulls == 111);
    uint32_t rows[1500];
    for (size_t i = 0; i < 1500; i++)
        rows[i] = (uint32_t)((i * 613) % 1000); /* scattered, with repeats */
    CHECK(dcr_vec_append_rows(&out, &lazy, rows, 0, 1500, &err) == DCR_OK);
    CHECK(dcr_vec_copy_codes(&out, &lazy, rows, 0, 1500, &err) == DCR_OK);
    CHECK(out.nrows == 1500 && !out.deferred && out.ncodes == 5);
    bool same = true;
    for (size_t i = 0; i < 1500; i++) {
        size_t r = rows[i], la, lb;
        same = same && dcr_column_is_null(&out, i) == dcr_column_is_null(&full, r) &&
               out.codes[i] == full.codes[r];
        if (!same || dcr_column_is_null(&out, i))
            continue;
        const char *x = dcr_vec_text(&out, i, &la), *y = dcr_vec_text(&full, r, &lb);
        same = la == lb && memcmp(x, y, la) == 0;
    }
    CHECK(same);
    /* a range, and single rows */
    dcr_column_clear(&out);
    CHECK(dcr_vec_append_rows(&out, &lazy, NULL, 10, 990, &err) == DCR_OK);
    CHECK(dcr_vec_push_from(&out, &lazy, 4, &err) == DCR_OK); /* NULL */
    CHECK(dcr_vec_push_from(&out, &lazy, 3, &err) == DCR_OK);
    dcr_column want;
    dcr_column_init(&want, DCR_TYPE_TEXT);
    CHECK(dcr_vec_append_rows(&want, &full, NULL, 10, 990, &err) == DCR_OK);
    CHECK(dcr_vec_push_from(&want, &full, 4, &err) == DCR_OK);
    CHECK(dcr_vec_push_from(&want, &full, 3, &err) == DCR_OK);
    CHECK(same_rows(&want, &out));
    /* cleared, it is an ordinary column, and decodes either way again */
    dcr_column_clear(&lazy);
    CHECK(!lazy.deferred && lazy.offsets && lazy.nrows == 0);
    CHECK(dcr_column_decode_deferred(&lazy, 1000, e.encoding, e.bytes.data, e.bytes.len, SIZE_MAX,
                                     &err) == DCR_OK &&
          lazy.deferred);
    CHECK(dcr_column_decode(&lazy, 1000, e.encoding, e.bytes.data, e.bytes.len, SIZE_MAX, &err) ==
          DCR_OK);
    CHECK(!lazy.deferred && same_rows(&full, &lazy));
    /* every row NULL: no entry, nothing to read */
    const uint8_t all_null[] = {1, 0x00, 0, 0, 0, 0, 1, 1, 0, 0};
    CHECK(dcr_column_decode_deferred(&lazy, 2, DCR_ENCODING_DICTIONARY, all_null, sizeof all_null,
                                     SIZE_MAX, &err) == DCR_OK);
    dcr_column_clear(&out);
    CHECK(dcr_vec_append_rows(&out, &lazy, NULL, 0, 2, &err) == DCR_OK);
    CHECK(out.nrows == 2 && out.nnulls == 2 && out.text_len == 0);
    /* a lengths-encoded column is decoded in full either way */
    dcr_column l;
    dcr_column_init(&l, DCR_TYPE_TEXT);
    fill(&l, 100, 100, 4);
    encoded le = encode(&l);
    CHECK(le.encoding == DCR_ENCODING_LENGTHS);
    CHECK(dcr_column_decode_deferred(&lazy, 100, le.encoding, le.bytes.data, le.bytes.len, SIZE_MAX,
                                     &err) == DCR_OK);
    CHECK(!lazy.deferred && same_rows(&l, &lazy));
    dcr_buf_free(&le.bytes);
    dcr_buf_free(&e.bytes);
    dcr_column_free(&l);
    dcr_column_free(&want);
    dcr_column_free(&c);
    dcr_column_free(&full);
    dcr_column_free(&lazy);
    dcr_column_free(&out);
}

int main(void)
{
    RUN(test_small_columns);
    RUN(test_distinct_counts);
    RUN(test_long_strings);
    RUN(test_null_row_bytes_from_plain);
    RUN(test_encoder_reuse);
    RUN(test_chunks_old_and_new);
    RUN(test_chunk_codecs);
    RUN(test_chunk_limits);
    RUN(test_hostile_columns);
    RUN(test_dictionary_bomb);
    RUN(test_deferred_dictionary);
    return check_summary();
}

/*
 * test_store.c: columns, the sealed header, chunks, and whole files sealed
 * and unsealed in-process, including every tampering the format must detect.
 */
#define _GNU_SOURCE /* memmem */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "check.h"
#include "base/bytes.h"
#include "base/hygiene.h"
#include "exec/batch.h"
#include "store/input.h"
#include "store/seal.h"
#include "store/sealed.h"
#include "store/sealed_reader.h"
#include "store/unseal.h"

static dcr_party_key alice, bob;
static char tmpdir[] = "/tmp/dcr-test-store-XXXXXX";

/* ---- helpers ---- */

/* A path in the test's scratch directory; valid for the next 7 calls. */
static char *tmp_path(const char *name)
{
    static char buf[8][256];
    static int i;
    char *p = buf[i++ % 8];
    snprintf(p, 256, "%s/%s", tmpdir, name);
    return p;
}

static void write_text(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    CHECK(write(fd, data, len) == (ssize_t)len);
    close(fd);
}

static char *read_text(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY);
    struct stat st;
    fstat(fd, &st);
    char *buf = malloc((size_t)st.st_size + 1);
    *len = (size_t)read(fd, buf, (size_t)st.st_size);
    buf[*len] = 0;
    close(fd);
    return buf;
}

static dcr_schema all_types_schema(void)
{
    static const char json[] =
        "{\"dataset\": \"events\", \"columns\": ["
        "{\"name\": \"id\", \"type\": \"BIGINT\"},"
        "{\"name\": \"email\", \"type\": \"TEXT\", \"normalize\": [\"trim\", \"lower\"]},"
        "{\"name\": \"amount\", \"type\": \"DOUBLE PRECISION\"},"
        "{\"name\": \"ok\", \"type\": \"BOOLEAN\"},"
        "{\"name\": \"day\", \"type\": \"DATE\"},"
        "{\"name\": \"at\", \"type\": \"TIMESTAMP\"},"
        "{\"name\": \"note\", \"type\": \"TEXT\"}]}";
    dcr_schema s;
    dcr_error err;
    CHECK(dcr_schema_parse_json(json, sizeof json - 1, "test", &s, &err) == DCR_OK);
    return s;
}

/* Seals data (any bytes: CSV, compressed CSV) to out_path with the input
 * options of *how (delimiter, no_header, validate, allow_empty,
 * max_reported) to alice; *st is filled (the caller frees its report). */
static dcr_status seal_bytes(const void *data, size_t len, const char *out_path,
                             const dcr_seal_options *how, dcr_seal_stats *st, dcr_error *err)
{
    dcr_schema schema = all_types_schema();
    const char *in_path = tmp_path("in.csv");
    write_text(in_path, data, len);
    dcr_party_pub pubs[2] = {alice.pub, bob.pub};
    dcr_seal_options opt = *how;
    opt.schema = &schema;
    opt.recipients = pubs;
    opt.nrecipients = 1;
    opt.threads = 2;
    opt.in_name = "in.csv";
    int in = open(in_path, O_RDONLY);
    int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dcr_status s = dcr_seal_csv(in, out, &opt, st, err);
    close(in);
    close(out);
    dcr_schema_free(&schema);
    return s;
}

/* Seals csv to out_path for the given recipients; returns the status. */
static dcr_status seal_text(const char *csv, const char *out_path, uint32_t chunk_rows,
                            dcr_error *err)
{
    dcr_seal_options how = {.chunk_rows = chunk_rows};
    dcr_seal_stats st;
    dcr_status s = seal_bytes(csv, strlen(csv), out_path, &how, &st, err);
    dcr_buf_free(&st.bad_report);
    return s;
}

/* Unseals path with key into a string (NULL and *status set on failure). */
static char *unseal_text(const char *path, const dcr_party_key *key, dcr_status *status,
                         dcr_error *err, size_t *out_len)
{
    dcr_sealed_reader r;
    uint8_t dk[DCR_DATA_KEY_LEN];
    *status = dcr_sealed_reader_open(&r, path, err);
    if (*status != DCR_OK)
        return NULL;
    *status = dcr_sealed_unwrap_key(&r.header, key, dk, err);
    const char *out_path = tmp_path("out.csv");
    int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dcr_unseal_stats st;
    if (*status == DCR_OK)
        *status = dcr_unseal_csv(&r, dk, fd, &st, err);
    close(fd);
    dcr_sealed_reader_close(&r);
    size_t len;
    char *text = read_text(out_path, &len);
    *out_len = len;
    if (*status != DCR_OK) {
        CHECK(len == 0); /* no plaintext on failure */
        free(text);
        return NULL;
    }
    return text;
}

/* ---- columns ---- */

static void test_column_roundtrip(void)
{
    dcr_error err;
    dcr_type types[] = {DCR_TYPE_BIGINT,  DCR_TYPE_DOUBLE, DCR_TYPE_TEXT,
                        DCR_TYPE_BOOLEAN, DCR_TYPE_DATE,   DCR_TYPE_TIMESTAMP};
    for (size_t t = 0; t < 6; t++) {
        dcr_column c, d;
        dcr_column_init(&c, types[t]);
        dcr_column_init(&d, types[t]);
        for (int i = 0; i < 3000; i++) {
            if (i % 7 == 3) {
                CHECK(dcr_column_push_null(&c, &err) == DCR_OK);
                continue;
            }
            switch (types[t]) {
            case DCR_TYPE_BIGINT:
            case DCR_TYPE_TIMESTAMP:
                dcr_column_push_i64(&c, (int64_t)i * 1000003, &err);
                break;
            case DCR_TYPE_DOUBLE:
                dcr_column_push_f64(&c, i / 3.0, &err);
                break;
            case DCR_TYPE_BOOLEAN:
                dcr_column_push_bool(&c, i & 1, &err);
                break;
            case DCR_TYPE_DATE:
                dcr_column_push_i32(&c, i - 1500, &err);
                break;
            case DCR_TYPE_TEXT: {
                char s[32];
                int n = snprintf(s, sizeof s, "v%d", i * 31);
                dcr_column_push_text(&c, s, i % 5 == 0 ? 0 : (size_t)n, &err);
                break;
            }
            case DCR_TYPE_INTERVAL: /* computed by queries, never stored */
                break;
            }
        }
        dcr_buf buf = DCR_BUF_INIT;
        CHECK(dcr_column_encode(&c, &buf, &err) == DCR_OK);
        CHECK(dcr_column_decode(&d, c.nrows, DCR_ENCODING_PLAIN, buf.data, buf.len, SIZE_MAX,
                                &err) == DCR_OK);
        CHECK(d.nrows == c.nrows && d.nnulls == c.nnulls);
        dcr_buf buf2 = DCR_BUF_INIT;
        CHECK(dcr_column_encode(&d, &buf2, &err) == DCR_OK);
        CHECK(buf.len == buf2.len && memcmp(buf.data, buf2.data, buf.len) == 0);
        dcr_buf_free(&buf);
        dcr_buf_free(&buf2);
        dcr_column_free(&c);
        dcr_column_free(&d);
    }
}

/* INTERVAL is a type queries compute, never a dataset column's. */
static void test_interval_is_not_a_column_type(void)
{
    dcr_type t;
    CHECK(!dcr_type_valid(DCR_TYPE_INTERVAL));
    CHECK(!dcr_type_from_name("INTERVAL", &t) && !dcr_type_from_name("interval", &t));
    static const char json[] =
        "{\"dataset\": \"e\", \"columns\": [{\"name\": \"span\", \"type\": \"INTERVAL\"}]}";
    dcr_schema s;
    dcr_error err;
    CHECK(dcr_schema_parse_json(json, sizeof json - 1, "test", &s, &err) != DCR_OK);
}

static void test_column_decode_rejects(void)
{
    dcr_error err;
    dcr_column c;
    /* BOOLEAN rows: flags, bitmap, then bytes */
    dcr_column_init(&c, DCR_TYPE_BOOLEAN);
    const uint8_t bad_flag[] = {2, 1};
    CHECK(dcr_column_decode(&c, 1, DCR_ENCODING_PLAIN, bad_flag, sizeof bad_flag, SIZE_MAX, &err) ==
          DCR_EINPUT);
    const uint8_t bad_bool[] = {0, 1, 2};
    CHECK(dcr_column_decode(&c, 2, DCR_ENCODING_PLAIN, bad_bool, sizeof bad_bool, SIZE_MAX, &err) ==
          DCR_EINPUT);
    CHECK_MSG(err, "BOOLEAN");
    const uint8_t short_values[] = {0, 1};
    CHECK(dcr_column_decode(&c, 2, DCR_ENCODING_PLAIN, short_values, sizeof short_values, SIZE_MAX,
                            &err) == DCR_EINPUT);
    const uint8_t stray_bits[] = {1, 0xff, 0, 0};
    CHECK(dcr_column_decode(&c, 2, DCR_ENCODING_PLAIN, stray_bits, sizeof stray_bits, SIZE_MAX,
                            &err) == DCR_EINPUT);
    const uint8_t no_nulls[] = {1, 0x03, 0, 0};
    CHECK(dcr_column_decode(&c, 2, DCR_ENCODING_PLAIN, no_nulls, sizeof no_nulls, SIZE_MAX, &err) ==
          DCR_EINPUT);
    dcr_column_free(&c);

    dcr_column_init(&c, DCR_TYPE_TEXT);
    const uint8_t ok_text[] = {0, 0, 0, 0, 0, 2, 0, 0, 0, 'h', 'i'};
    CHECK(dcr_column_decode(&c, 1, DCR_ENCODING_PLAIN, ok_text, sizeof ok_text, SIZE_MAX, &err) ==
          DCR_OK);
    const uint8_t backwards[] = {0, 0, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 'h', 'i'};
    CHECK(dcr_column_decode(&c, 2, DCR_ENCODING_PLAIN, backwards, sizeof backwards, SIZE_MAX,
                            &err) == DCR_EINPUT);
    const uint8_t past_end[] = {0, 0, 0, 0, 0, 9, 0, 0, 0, 'h', 'i'};
    CHECK(dcr_column_decode(&c, 1, DCR_ENCODING_PLAIN, past_end, sizeof past_end, SIZE_MAX, &err) ==
          DCR_EINPUT);
    const uint8_t bad_utf8[] = {0, 0, 0, 0, 0, 2, 0, 0, 0, 0xc3, 0x28};
    CHECK(dcr_column_decode(&c, 1, DCR_ENCODING_PLAIN, bad_utf8, sizeof bad_utf8, SIZE_MAX, &err) ==
          DCR_EINPUT);
    CHECK_MSG(err, "UTF-8");
    const uint8_t nul_text[] = {0, 0, 0, 0, 0, 2, 0, 0, 0, 'a', 0};
    CHECK(dcr_column_decode(&c, 1, DCR_ENCODING_PLAIN, nul_text, sizeof nul_text, SIZE_MAX, &err) ==
          DCR_EINPUT);
    CHECK_MSG(err, "NUL");
    const uint8_t huge_rows[] = {0, 0, 0, 0, 0};
    CHECK(dcr_column_decode(&c, 1u << 30, DCR_ENCODING_PLAIN, huge_rows, sizeof huge_rows, SIZE_MAX,
                            &err) != DCR_OK);
    dcr_column_free(&c);

    dcr_column_init(&c, DCR_TYPE_DATE);
    uint8_t date[5] = {0, 0xff, 0xff, 0xff, 0x7f}; /* INT32_MAX days */
    CHECK(dcr_column_decode(&c, 1, DCR_ENCODING_PLAIN, date, sizeof date, SIZE_MAX, &err) ==
          DCR_EINPUT);
    dcr_column_free(&c);
}

/* ---- header ---- */

static void test_header_roundtrip_and_keys(void)
{
    dcr_error err;
    dcr_schema schema = all_types_schema();
    dcr_party_pub pubs[2] = {alice.pub, bob.pub};
    uint8_t ctx[32], key[32], got[32];
    memset(ctx, 0xab, sizeof ctx);
    dcr_sealed_header h, p;
    dcr_buf buf = DCR_BUF_INIT;
    CHECK(dcr_sealed_header_create(&h, &schema, ctx, sizeof ctx, 1000, 1 << 20, pubs, 2, key, &buf,
                                   &err) == DCR_OK);
    size_t need;
    CHECK(dcr_sealed_header_parse(buf.data, buf.len, &p, &need, &err) == DCR_OK);
    CHECK(need == buf.len && p.header_len == buf.len);
    CHECK(p.schema.ncols == 7 && strcmp(p.schema.dataset, "events") == 0);
    CHECK(p.schema.cols[1].normalize == (DCR_NORM_TRIM | DCR_NORM_LOWER));
    CHECK(p.context_len == 32 && memcmp(p.context, ctx, 32) == 0);
    CHECK(memcmp(p.core_hash, h.core_hash, 32) == 0);
    CHECK(dcr_sealed_unwrap_key(&p, &alice, got, &err) == DCR_OK && memcmp(got, key, 32) == 0);
    CHECK(dcr_sealed_unwrap_key(&p, &bob, got, &err) == DCR_OK && memcmp(got, key, 32) == 0);
    dcr_party_key eve;
    CHECK(dcr_party_key_generate(&eve, &err) == DCR_OK);
    CHECK(dcr_sealed_unwrap_key(&p, &eve, got, &err) == DCR_ECRYPTO);
    CHECK_MSG(err, "not sealed to the given key");
    /* every prefix is refused without reading past it */
    for (size_t len = 0; len < buf.len; len++) {
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, buf.data, len);
        dcr_sealed_header q;
        CHECK(dcr_sealed_header_parse(copy, len, &q, &need, &err) == DCR_EINPUT);
        free(copy);
    }
    /* every single-bit flip is refused or fails to unwrap */
    for (size_t bit = 0; bit < buf.len * 8; bit++) {
        buf.data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        dcr_sealed_header q;
        if (dcr_sealed_header_parse(buf.data, buf.len, &q, &need, &err) == DCR_OK) {
            CHECK(dcr_sealed_unwrap_key(&q, &alice, got, &err) != DCR_OK ||
                  dcr_sealed_unwrap_key(&q, &bob, got, &err) != DCR_OK ||
                  memcmp(q.core_hash, h.core_hash, 32) != 0);
            dcr_sealed_header_free(&q);
        }
        buf.data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    dcr_party_key_wipe(&eve);
    dcr_sealed_header_free(&h);
    dcr_sealed_header_free(&p);
    dcr_buf_free(&buf);
    dcr_schema_free(&schema);
}

/* ---- whole files ---- */

static const char edge_csv[] =
    "note,at,day,ok,amount,email,id\r\n" /* columns in another order, CRLF */
    "\"a,b\",2024-03-01 12:34:56,2024-02-29,true,1.5,  Alice@Example.COM ,1\r\n"
    "\"say "
    "\"\"hi\"\"\",2024-03-01T00:00:00.25Z,1970-01-01,f,-0.001,bob@x.org,-9223372036854775808\n"
    "\"multi\nline\",,,,,,\n"
    "\"\",1999-12-31 23:59:59.999999,0001-01-01,yes,1e300,\"\",9223372036854775807\n"
    "ünïcødé ✓,2024-01-01 00:00:00+02:00,9999-12-31,0,NaN,x@y.z, 42 \n"
    "last,,,,Infinity,,0";

static const char edge_expected[] =
    "id,email,amount,ok,day,at,note\n"
    "1,alice@example.com,1.5,true,2024-02-29,2024-03-01 12:34:56,\"a,b\"\n"
    "-9223372036854775808,bob@x.org,-0.001,false,1970-01-01,2024-03-01 00:00:00.25,"
    "\"say \"\"hi\"\"\"\n"
    ",,,,,,\"multi\nline\"\n"
    "9223372036854775807,\"\",1e+300,true,0001-01-01,1999-12-31 23:59:59.999999,\"\"\n"
    "42,x@y.z,NaN,false,9999-12-31,2023-12-31 22:00:00,ünïcødé ✓\n"
    "0,,Infinity,,,,last\n";

static void test_seal_unseal_roundtrip(void)
{
    dcr_error err;
    dcr_status s;
    char path[256];
    snprintf(path, sizeof path, "%s", tmp_path("edge.dcr"));
    CHECK(seal_text(edge_csv, path, 0, &err) == DCR_OK);
    size_t len;
    char *out = unseal_text(path, &alice, &s, &err, &len);
    CHECK(s == DCR_OK);
    if (out && strcmp(out, edge_expected) != 0)
        fprintf(stderr, "  got:\n%s\n  want:\n%s\n", out, edge_expected);
    CHECK(out && strcmp(out, edge_expected) == 0);
    /* the canonical output seals and unseals to itself, across chunk sizes */
    for (uint32_t rows = 1; rows <= 4; rows++) {
        CHECK(seal_text(edge_expected, path, rows, &err) == DCR_OK);
        char *again = unseal_text(path, &alice, &s, &err, &len);
        CHECK(again && strcmp(again, edge_expected) == 0);
        free(again);
    }
    free(out);
    CHECK(unseal_text(path, &bob, &s, &err, &len) == NULL && s == DCR_ECRYPTO);
}

static void test_empty_inputs(void)
{
    dcr_error err;
    dcr_status s;
    size_t len;
    const char *path = tmp_path("empty.dcr");
    /* no rows is refused (a wrong or truncated export), unless allowed */
    CHECK(seal_text("id,email,amount,ok,day,at,note\n", path, 0, &err) == DCR_EINPUT);
    CHECK_MSG(err, "in.csv: no data rows after the header row");
    CHECK_MSG(err, "--allow-empty");
    static const char header[] = "id,email,amount,ok,day,at,note\n";
    dcr_seal_options how = {.allow_empty = true};
    dcr_seal_stats st;
    CHECK(seal_bytes(header, sizeof header - 1, path, &how, &st, &err) == DCR_OK);
    char *out = unseal_text(path, &alice, &s, &err, &len);
    CHECK(out && strcmp(out, "id,email,amount,ok,day,at,note\n") == 0);
    free(out);
    CHECK(seal_text("", path, 0, &err) == DCR_EINPUT);
    CHECK_MSG(err, "header row");
    /* every row bad and skipped: refused too, saying so */
    static const char bad[] = "id,email,amount,ok,day,at,note\nx,a,1,t,2024-01-01,2024-01-01,n\n";
    how = (dcr_seal_options){.max_bad_rows = 5};
    CHECK(seal_bytes(bad, sizeof bad - 1, path, &how, &st, &err) == DCR_EINPUT);
    CHECK_MSG(err, "all 1 data rows are bad");
    dcr_buf_free(&st.bad_report);
}

/* ---- input formats ---- */

static const char plain_rows[] = "id,email,amount,ok,day,at,note\n"
                                 "1,a@x.com,1.5,true,2024-01-01,2024-01-01 10:00:00,\"n, 1\"\n"
                                 "2,b@x.com,,false,2024-02-29,2024-03-01 00:00:00,\n";

/* Many rows, so compressed input spans several reads and blocks. */
static char *many_rows(size_t *len)
{
    dcr_buf b = DCR_BUF_INIT;
    dcr_error err;
    const char *h = "id,email,amount,ok,day,at,note\n";
    CHECK(dcr_buf_append(&b, h, strlen(h), &err) == DCR_OK);
    for (int i = 0; i < 120000; i++) {
        char line[128];
        int n = snprintf(line, sizeof line, "%d,u%d@x.com,%d.25,t,2024-01-%02d,2024-01-01,n%d\n", i,
                         i * 7919 % 100003, i % 1000, 1 + i % 28, i % 7);
        CHECK(dcr_buf_append(&b, line, (size_t)n, &err) == DCR_OK);
    }
    *len = b.len;
    return (char *)b.data;
}

/* gzip (one member) of data; caller frees. */
static unsigned char *gzip_of(const void *data, size_t len, size_t *out_len)
{
    z_stream z = {0};
    CHECK(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    size_t cap = deflateBound(&z, (uLong)len) + 64;
    unsigned char *out = malloc(cap);
    z.next_in = (unsigned char *)(uintptr_t)data;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    CHECK(deflate(&z, Z_FINISH) == Z_STREAM_END);
    *out_len = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

static unsigned char *zstd_of(const void *data, size_t len, size_t *out_len)
{
    size_t cap = ZSTD_compressBound(len);
    unsigned char *out = malloc(cap);
    *out_len = ZSTD_compress(out, cap, data, len, 3);
    CHECK(!ZSTD_isError(*out_len));
    return out;
}

/* Reads all of an in-memory input in reads of `step` bytes. */
static dcr_status drain(const void *data, size_t len, size_t step, dcr_buf *out, dcr_error *err)
{
    dcr_input *in;
    dcr_status s = dcr_input_open_mem(&in, data, len, "mem", err);
    if (s != DCR_OK)
        return s;
    char buf[1 << 16];
    for (;;) {
        size_t got;
        if ((s = dcr_input_read(in, buf, step, &got, err)) != DCR_OK)
            break;
        if ((s = dcr_buf_append(out, buf, got, err)) != DCR_OK || got < step)
            break;
    }
    dcr_input_close(in);
    return s;
}

static void test_input_decompression(void)
{
    size_t n, gz_len, zs_len;
    char *text = many_rows(&n);
    unsigned char *gz = gzip_of(text, n, &gz_len), *zs = zstd_of(text, n, &zs_len);
    dcr_error err;
    size_t steps[] = {1, 7, 4096, 65536};
    for (size_t i = 0; i < 4; i++) {
        dcr_buf a = DCR_BUF_INIT, b = DCR_BUF_INIT, c = DCR_BUF_INIT;
        size_t cut = steps[i] < 100 ? 300000 : gz_len; /* byte-wise reads of a prefix */
        CHECK(drain(gz, cut, steps[i], &a, &err) == (cut == gz_len ? DCR_OK : DCR_EINPUT));
        if (cut == gz_len)
            CHECK(a.len == n && memcmp(a.data, text, n) == 0);
        CHECK(drain(zs, zs_len, steps[i] < 100 ? 4096 : steps[i], &b, &err) == DCR_OK);
        CHECK(b.len == n && memcmp(b.data, text, n) == 0);
        CHECK(drain(text, n, steps[i] < 100 ? 4096 : steps[i], &c, &err) == DCR_OK);
        CHECK(c.len == n && memcmp(c.data, text, n) == 0);
        dcr_buf_free(&a);
        dcr_buf_free(&b);
        dcr_buf_free(&c);
    }
    /* concatenated members and frames are one stream, as gzip -d and zstd -d see them */
    size_t pg, pz;
    unsigned char *g1 = gzip_of(plain_rows, strlen(plain_rows), &pg);
    unsigned char *z1 = zstd_of("9,c@x.com,,,,,\n", 15, &pz);
    unsigned char cat[4096];
    memcpy(cat, g1, pg);
    unsigned char *g2 = gzip_of("9,c@x.com,,,,,\n", 15, &gz_len);
    memcpy(cat + pg, g2, gz_len);
    dcr_buf d = DCR_BUF_INIT;
    CHECK(drain(cat, pg + gz_len, 4096, &d, &err) == DCR_OK);
    CHECK(d.len == strlen(plain_rows) + 15 && memcmp(d.data + strlen(plain_rows), "9,c@", 4) == 0);
    d.len = 0;
    unsigned char *z0 = zstd_of(plain_rows, strlen(plain_rows), &zs_len);
    memcpy(cat, z0, zs_len);
    memcpy(cat + zs_len, z1, pz);
    CHECK(drain(cat, zs_len + pz, 4096, &d, &err) == DCR_OK);
    CHECK(d.len == strlen(plain_rows) + 15);
    dcr_buf_free(&d);
    free(g1);
    free(g2);
    free(z0);
    free(z1);
    free(gz);
    free(zs);
    free(text);
}

/* Every cut of a compressed file is an error naming the problem, never a
 * shorter input taken as whole; a flipped byte is caught by the checksums. */
static void test_input_truncated_and_damaged(void)
{
    size_t gz_len, zs_len;
    unsigned char *gz = gzip_of(plain_rows, strlen(plain_rows), &gz_len);
    unsigned char *zs = zstd_of(plain_rows, strlen(plain_rows), &zs_len);
    dcr_error err;
    for (size_t cut = 2; cut < gz_len; cut++) {
        dcr_buf b = DCR_BUF_INIT;
        CHECK(drain(gz, cut, 4096, &b, &err) == DCR_EINPUT);
        CHECK(strstr(err.msg, "ends early") || strstr(err.msg, "damaged gzip"));
        dcr_buf_free(&b);
    }
    for (size_t cut = 4; cut < zs_len; cut++) {
        dcr_buf b = DCR_BUF_INIT;
        CHECK(drain(zs, cut, 4096, &b, &err) == DCR_EINPUT);
        CHECK(strstr(err.msg, "ends early") || strstr(err.msg, "damaged zstd"));
        dcr_buf_free(&b);
    }
    dcr_buf b = DCR_BUF_INIT;
    CHECK(drain(gz, gz_len - 5, 4096, &b, &err) == DCR_EINPUT);
    CHECK_MSG(err, "mem: the gzip data ends early");
    CHECK_MSG(err, "truncated");
    gz[gz_len - 6] ^= 0x40; /* inside the CRC-32 */
    b.len = 0;
    CHECK(drain(gz, gz_len, 4096, &b, &err) == DCR_EINPUT);
    CHECK_MSG(err, "damaged gzip data");
    dcr_buf_free(&b);
    /* a sealed file of a truncated gzip input is never produced */
    dcr_seal_options how = {0};
    dcr_seal_stats st;
    CHECK(seal_bytes(zs, zs_len - 3, tmp_path("t.dcr"), &how, &st, &err) == DCR_EINPUT);
    CHECK_MSG(err, "in.csv: the zstd data ends early");
    dcr_buf_free(&st.bad_report);
    free(gz);
    free(zs);
}

static void test_input_refused_formats(void)
{
    static const struct {
        const char *bytes;
        size_t len;
        const char *want;
    } cases[] = {
        {"\xFD"
         "7zXZ\0\0\0",
         8, "xz-compressed"},
        {"BZh91AY&SY\0\0", 12, "bzip2-compressed"},
        {"PK\x03\x04\x14\0", 6, "ZIP archive"},
        {"DCRSEAL\0\x01\0", 10, "a sealed dcr file"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dcr_buf b = DCR_BUF_INIT;
        dcr_error err;
        CHECK(drain(cases[i].bytes, cases[i].len, 4096, &b, &err) == DCR_EINPUT);
        CHECK_MSG(err, cases[i].want);
        dcr_buf_free(&b);
    }
    /* text that merely starts like a magic is data */
    dcr_buf b = DCR_BUF_INIT;
    dcr_error err;
    CHECK(drain("BZh,x\n", 6, 4096, &b, &err) == DCR_OK && b.len == 6);
    dcr_buf_free(&b);
}

/* Every input form seals to the same rows. */
static void test_seal_input_forms(void)
{
    dcr_error err;
    dcr_status s;
    size_t len, n = strlen(plain_rows);
    char path[256]; /* tmp_path's buffers rotate */
    snprintf(path, sizeof path, "%s", tmp_path("forms.dcr"));
    CHECK(seal_text(plain_rows, path, 0, &err) == DCR_OK);
    char *want = unseal_text(path, &alice, &s, &err, &len);
    CHECK(want != NULL);
    char semi[512], tsv[512];
    for (size_t i = 0; i <= n; i++) { /* the rows hold no ';' or tab, one quoted comma */
        semi[i] = plain_rows[i] == ',' ? ';' : plain_rows[i];
        tsv[i] = plain_rows[i] == ',' ? '\t' : plain_rows[i];
    }
    char *q = strstr(semi, "n; 1");
    q[1] = ',';
    q = strstr(tsv, "n\t 1");
    q[1] = ',';
    const char *no_header = strchr(plain_rows, '\n') + 1;
    size_t gz_len, zs_len;
    unsigned char *gz = gzip_of(plain_rows, n, &gz_len), *zs = zstd_of(plain_rows, n, &zs_len);
    const struct {
        const void *data;
        size_t len;
        dcr_seal_options how;
        const char *kind;
    } forms[] = {
        {semi, n, {.delimiter = ';'}, "plain"},
        {tsv, n, {.delimiter = '\t'}, "plain"},
        {no_header, strlen(no_header), {.no_header = true}, "plain"},
        {gz, gz_len, {0}, "gzip"},
        {zs, zs_len, {0}, "zstd"},
    };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        dcr_seal_stats st;
        CHECK(seal_bytes(forms[i].data, forms[i].len, path, &forms[i].how, &st, &err) == DCR_OK);
        CHECK(st.rows == 2 && strcmp(st.input_kind, forms[i].kind) == 0);
        char *got = unseal_text(path, &alice, &s, &err, &len);
        CHECK(got && strcmp(got, want) == 0);
        free(got);
        dcr_buf_free(&st.bad_report);
    }
    /* a header under the wrong separator is one unknown column */
    dcr_seal_stats st;
    dcr_seal_options how = {0};
    CHECK(seal_bytes(semi, n, path, &how, &st, &err) == DCR_EINPUT);
    CHECK_MSG(err, "is not in the schema");
    how.delimiter = '"';
    CHECK(seal_bytes(plain_rows, n, path, &how, &st, &err) == DCR_EUSAGE);
    free(gz);
    free(zs);
    free(want);
}

/* Whether a seal's bad-row report (not NUL-terminated) holds text. */
static bool report_has(const dcr_seal_stats *st, const char *text)
{
    return st->bad_report.data &&
           memmem(st->bad_report.data, st->bad_report.len, text, strlen(text)) != NULL;
}

/* JSON Lines: keys name the columns, values become the CSV texts; bad
 * lines are bad rows, never the end of the file. */
static void test_seal_jsonl(void)
{
    dcr_error err;
    dcr_status s;
    size_t len;
    char path[256];
    snprintf(path, sizeof path, "%s", tmp_path("jsonl.dcr"));
    CHECK(seal_text(plain_rows, path, 0, &err) == DCR_OK);
    char *want = unseal_text(path, &alice, &s, &err, &len);
    static const char jl[] = "{\"id\": 1, \"EMAIL\": \"a@x.com\", \"amount\": 1.5, \"ok\": true, "
                             "\"day\": \"2024-01-01\", "
                             "\"at\": \"2024-01-01 10:00:00\", \"note\": \"n, 1\"}\n"
                             "\n"
                             "{\"note\": null, \"id\": 2, \"email\": \"b@x.com\", \"ok\": false, "
                             "\"day\": \"2024-02-29\", "
                             "\"at\": \"2024-03-01T00:00:00Z\"}\r\n";
    dcr_seal_options how = {.jsonl = true};
    dcr_seal_stats st;
    CHECK(seal_bytes(jl, sizeof jl - 1, path, &how, &st, &err) == DCR_OK && st.rows == 2);
    char *got = unseal_text(path, &alice, &s, &err, &len);
    CHECK(got && want && strcmp(got, want) == 0);
    free(got);
    free(want);
    dcr_buf_free(&st.bad_report);
    static const struct {
        const char *line, *why;
    } bad[] = {
        {"[1, 2]", "line 1: not a JSON object"},
        {"{\"id\": 1", "line 1, character 8: not valid JSON"},
        {"{\"id\": 1, \"zz\": 2}", "key \"zz\" is not a column of dataset \"events\""},
        {"{\"id\": 1, \"ID\": 2}", "column \"id\" appears twice"},
        {"{\"id\": 1, \"id\": 2}", "not valid JSON"},
        {"{\"id\": 1.5}", "invalid BIGINT value \"1.5\""},
        {"{\"ok\": \"maybe\"}", "invalid BOOLEAN value \"maybe\""},
        {"{\"note\": {\"a\": 1}}", "column \"note\": an object or array"},
        {"{\"note\": \"a\\u0000b\"}", "contains a NUL byte"},
        {"{\"id\": 1e400}", "not valid JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dcr_seal_options v = {.jsonl = true, .validate = true};
        CHECK(seal_bytes(bad[i].line, strlen(bad[i].line), path, &v, &st, &err) == DCR_EINPUT);
        CHECK(st.bad_rows == 1 && report_has(&st, bad[i].why));
        dcr_buf_free(&st.bad_report);
    }
}

/* validate: every bad row counted, the first ones reported, nothing sealed. */
static void test_validate(void)
{
    static const char csv[] = "id,email,amount,ok,day,at,note\n"
                              "1,a,1,t,2024-01-01,2024-01-01,n\n"
                              "x,a,1,t,2024-01-01,2024-01-01,n\n"
                              "2,a,1,maybe,2024-01-01,2024-01-01,n\n"
                              "3,a,1,t\n"
                              "4,a,1,t,2024-02-30,2024-01-01,n\n"
                              "5,a,1,t,2024-01-01,2024-01-01,n\n";
    const char *path = tmp_path("validate.dcr");
    dcr_seal_options how = {.validate = true, .max_reported = 3};
    dcr_seal_stats st;
    dcr_error err;
    CHECK(seal_bytes(csv, sizeof csv - 1, path, &how, &st, &err) == DCR_OK);
    CHECK(st.rows == 2 && st.bad_rows == 4 && st.bad_reported == 3 && st.bytes_out == 0);
    CHECK(report_has(&st, "in.csv: line 3, column \"id\"") &&
          report_has(&st, "line 4, column \"ok\"") &&
          report_has(&st, "line 5: expected 7 fields, found 4") && !report_has(&st, "line 6"));
    dcr_buf_free(&st.bad_report);
    struct stat sb;
    CHECK(stat(path, &sb) == 0 && sb.st_size == 0); /* opened by the helper, never written */
}

static void test_bad_values_are_refused(void)
{
    static const struct {
        const char *csv, *want;
    } cases[] = {
        {"id,email,amount,ok,day,at,note\n1,a,x1.5,t,2024-01-01,2024-01-01,n\n",
         "in.csv: line 2, column \"amount\" (field 3): invalid DOUBLE PRECISION value \"x1.5\""},
        {"id,email,amount,ok,day,at,note\n1,a,1,t,2024-01-01,2024-01-01,n\n"
         "99999999999999999999,a,1,t,2024-01-01,2024-01-01,n\n",
         "line 3, column \"id\" (field 1): invalid BIGINT value \"99999999999999999999\""},
        {"id,email,amount,ok,day,at,note\n1,a,1,maybe,2024-01-01,2024-01-01,n\n",
         "column \"ok\" (field 4): invalid BOOLEAN value \"maybe\""},
        {"id,email,amount,ok,day,at,note\n1,a,1,t,2023-02-29,2024-01-01,n\n",
         "column \"day\" (field 5): invalid DATE value \"2023-02-29\""},
        {"id,email,amount,ok,day,at,note\n1,a,1,t,2024-01-01,2024-01-01 25:00,n\n",
         "column \"at\" (field 6): invalid TIMESTAMP value"},
        {"id,email,amount,ok,day,at,note\n1,a,1,t,2024-01-01,2024-01-01,\xc3\x28\n",
         "column \"note\" (field 7): invalid TEXT value \"\\xc3(\": not valid UTF-8"},
        {"id,email,amount,ok,day,at,note\n1,a,1,t\n", "line 2: expected 7 fields, found 4"},
        {"id,email,amount,ok,day,at,note\n\"multi\nline\",a,1,t,x,y\n", "line 2"},
        {"id,email,amount,ok,day,at,note\n1,a,1,t,2024-01-01,2024-01-01,\"open\n", "line 2"},
        {"id,email,amount,ok,day,at\n", "the header lacks column \"note\""},
        {"id,email,amount,ok,day,at,note,extra\n", "column \"extra\" is not in the schema"},
        {"id,id,email,amount,ok,day,at,note\n", "column \"id\" appears twice"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dcr_error err = {0};
        CHECK(seal_text(cases[i].csv, tmp_path("bad.dcr"), 0, &err) == DCR_EINPUT);
        CHECK_MSG(err, cases[i].want);
    }
}

/* Offsets of each chunk frame in a sealed file. */
static size_t chunk_offsets(const uint8_t *file, size_t len, size_t header_len, size_t *offs,
                            size_t max)
{
    size_t n = 0, off = header_len;
    while (off + 4 <= len && n < max) {
        offs[n++] = off;
        uint32_t l = (uint32_t)file[off] | (uint32_t)file[off + 1] << 8 |
                     (uint32_t)file[off + 2] << 16 | (uint32_t)file[off + 3] << 24;
        off += 4 + l;
    }
    offs[n] = off;
    return n;
}

static dcr_status try_unseal(const void *data, size_t len)
{
    const char *path = tmp_path("tampered.dcr");
    write_text(path, data, len);
    dcr_error err;
    dcr_status s;
    size_t out_len;
    char *out = unseal_text(path, &alice, &s, &err, &out_len);
    free(out);
    return s;
}

static void test_every_bit_flip_is_detected(void)
{
    dcr_error err;
    const char *path = tmp_path("small.dcr");
    CHECK(seal_text("id,email,amount,ok,day,at,note\n1,a@b.c,2.5,t,2024-01-01,2024-01-01,x\n"
                    "2,,,,,,\n",
                    path, 1, &err) == DCR_OK);
    size_t len;
    uint8_t *file = (uint8_t *)read_text(path, &len);
    CHECK(try_unseal(file, len) == DCR_OK);
    size_t undetected = 0;
    for (size_t bit = 0; bit < len * 8; bit++) {
        file[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        if (try_unseal(file, len) == DCR_OK)
            undetected++;
        file[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    if (undetected)
        fprintf(stderr, "  %zu of %zu bit flips went undetected\n", undetected, len * 8);
    CHECK(undetected == 0);
    free(file);
}

static void test_truncation_reorder_duplicate_drop(void)
{
    dcr_error err;
    const char *path = tmp_path("multi.dcr");
    const char *csv = "id,email,amount,ok,day,at,note\n1,,,,,,\n2,,,,,,\n3,,,,,,\n4,,,,,,\n";
    CHECK(seal_text(csv, path, 1, &err) == DCR_OK);
    size_t len;
    uint8_t *file = (uint8_t *)read_text(path, &len);
    dcr_sealed_header h;
    size_t header_len;
    CHECK(dcr_sealed_header_parse(file, len, &h, &header_len, &err) == DCR_OK);
    dcr_sealed_header_free(&h);
    size_t offs[16];
    size_t n = chunk_offsets(file, len, header_len, offs, 15);
    CHECK(n == 4 && offs[n] == len);
    /* truncation anywhere, at and between chunk boundaries */
    for (size_t cut = 0; cut < len; cut++)
        CHECK(try_unseal(file, cut) != DCR_OK);
    uint8_t *work = malloc(len * 2);
    size_t clen[4];
    for (size_t i = 0; i < 4; i++)
        clen[i] = offs[i + 1] - offs[i];
    /* swap chunks 0 and 1 (same sizes) */
    memcpy(work, file, len);
    memcpy(work + offs[0], file + offs[1], clen[1]);
    memcpy(work + offs[0] + clen[1], file + offs[0], clen[0]);
    CHECK(try_unseal(work, len) == DCR_ECRYPTO);
    /* duplicate chunk 1 */
    memcpy(work, file, offs[2]);
    memcpy(work + offs[2], file + offs[1], clen[1]);
    memcpy(work + offs[2] + clen[1], file + offs[2], len - offs[2]);
    CHECK(try_unseal(work, len + clen[1]) == DCR_ECRYPTO);
    /* drop chunk 1 */
    memcpy(work, file, offs[1]);
    memcpy(work + offs[1], file + offs[2], len - offs[2]);
    CHECK(try_unseal(work, len - clen[1]) == DCR_ECRYPTO);
    /* drop the last chunk (a cut exactly at a boundary) */
    CHECK(try_unseal(file, offs[3]) == DCR_ECRYPTO);
    /* append a copy of the last chunk after it */
    memcpy(work, file, len);
    memcpy(work + len, file + offs[3], clen[3]);
    CHECK(try_unseal(work, len + clen[3]) == DCR_ECRYPTO);
    free(work);
    free(file);
}

static bool same_column_text(const dcr_column *a, const dcr_column *b)
{
    for (size_t i = 0; i < a->nrows; i++) {
        size_t la, lb;
        const char *x = dcr_vec_text(a, i, &la), *y = dcr_vec_text(b, i, &lb);
        if (la != lb || memcmp(x, y, la) != 0)
            return false;
    }
    return a->nrows == b->nrows;
}

/* A segmented chunk (docs/format.md): the directory and each column are
 * sealed apart, so a reader that wants some columns authenticates just
 * those and the directory. A damaged wanted column or directory is caught,
 * a damaged unwanted column is not read at all; column segments cannot be
 * swapped, nor the chunk's index or last flag changed; a file without the
 * flag (one whole AEAD per chunk) still reads. */
static void test_segmented_chunks(void)
{
    dcr_error err;
    dcr_schema schema = all_types_schema();
    dcr_buf head = DCR_BUF_INIT, payload = DCR_BUF_INIT, ct = DCR_BUF_INIT, plain = DCR_BUF_INIT;
    dcr_buf scratch = DCR_BUF_INIT;
    uint8_t key[DCR_DATA_KEY_LEN];
    dcr_sealed_header h;
    CHECK(dcr_sealed_header_create(&h, &schema, NULL, 0, 1024, 1 << 20, &alice.pub, 1, key, &head,
                                   &err) == DCR_OK);
    CHECK(h.segmented && (dcr_get_u16le(head.data + 10) & DCR_SEALED_FLAG_SEGMENTED));
    dcr_chunk c, back;
    CHECK(dcr_chunk_init(&c, &h.schema, &err) == DCR_OK &&
          dcr_chunk_init(&back, &h.schema, &err) == DCR_OK);
    for (int i = 0; i < 200; i++) {
        char e[32];
        int n = snprintf(e, sizeof e, "u%d@example.com", i * 37 % 1000);
        CHECK(dcr_column_push_i64(&c.cols[0], i, &err) == DCR_OK);
        CHECK(dcr_column_push_text(&c.cols[1], e, (size_t)n, &err) == DCR_OK);
        CHECK(dcr_column_push_f64(&c.cols[2], i / 4.0, &err) == DCR_OK);
        CHECK(dcr_column_push_bool(&c.cols[3], i & 1, &err) == DCR_OK);
        CHECK(dcr_column_push_i32(&c.cols[4], i, &err) == DCR_OK);
        CHECK(dcr_column_push_i64(&c.cols[5], i, &err) == DCR_OK); /* the same bytes as id */
        CHECK(dcr_column_push_text(&c.cols[6], i % 3 ? "a" : "b", 1, &err) == DCR_OK);
    }
    c.nrows = 200;
    dcr_chunk_encoder *enc;
    CHECK(dcr_chunk_encoder_new(&enc, 1, DCR_COMPRESS_FAST, &err) == DCR_OK);
    CHECK(dcr_chunk_encode(enc, &h, &c, &payload, &err) == DCR_OK);
    CHECK(dcr_chunk_encrypt(&h, key, 3, false, payload.data, payload.len, &ct, &err) == DCR_OK);
    const uint8_t *x = ct.data + 4;
    size_t xlen = ct.len - 4, ncols = h.schema.ncols;
    CHECK(xlen == payload.len + 16 * (ncols + 1) && dcr_get_u32le(ct.data) == xlen);
    CHECK(dcr_chunk_decrypt(&h, key, 3, false, x, xlen, &plain, &err) == DCR_OK);
    CHECK(plain.len == payload.len && memcmp(plain.data, payload.data, payload.len) == 0);
    CHECK(dcr_chunk_decrypt(&h, key, 4, false, x, xlen, &plain, &err) == DCR_ECRYPTO);
    CHECK(dcr_chunk_decrypt(&h, key, 3, true, x, xlen, &plain, &err) == DCR_ECRYPTO);
    /* where each segment is: the directory, then column i's stored bytes + tag */
    size_t dir = 6 + 10 * ncols, at[16];
    at[0] = dir + 16;
    for (size_t i = 0; i < ncols; i++)
        at[i + 1] = at[i] + dcr_get_u32le(payload.data + 6 + 10 * i + 6) + 16;
    CHECK(at[ncols] == xlen);
    uint8_t want[16] = {0};
    want[1] = DCR_CHUNK_DECODE; /* email only */
    uint8_t *bad = malloc(xlen);
    /* damage column 2 (amount): a scan of email does not read it, unseal does */
    memcpy(bad, x, xlen);
    bad[at[2] + 1] ^= 1;
    CHECK(dcr_chunk_decrypt_columns(&h, key, 3, false, bad, xlen, want, &plain, &err) == DCR_OK);
    CHECK(dcr_chunk_decode(&h, plain.data, plain.len, want, &back, &scratch, &err) == DCR_OK);
    CHECK(back.nrows == 200 && back.cols[1].nrows == 200 && back.cols[2].nrows == 0);
    size_t l0, l1;
    const char *t0 = dcr_vec_text(&back.cols[1], 199, &l0),
               *t1 = dcr_vec_text(&c.cols[1], 199, &l1);
    CHECK(l0 == l1 && memcmp(t0, t1, l0) == 0);
    CHECK(dcr_chunk_decrypt(&h, key, 3, false, bad, xlen, &plain, &err) == DCR_ECRYPTO);
    /* a scan reads the directory, then only up to its last column: a copy
     * of just those bytes decrypts (ASan would see a read past them) */
    size_t prefix = 0;
    CHECK(dcr_chunk_wanted_prefix(&h, key, 3, false, x, xlen, want, &prefix, &plain, &err) ==
          DCR_OK);
    CHECK(prefix == at[2]);
    uint8_t *part = malloc(prefix);
    memcpy(part, x, prefix);
    CHECK(dcr_chunk_decrypt_columns(&h, key, 3, false, part, xlen, want, &plain, &err) == DCR_OK);
    CHECK(dcr_chunk_decode(&h, plain.data, plain.len, want, &back, &scratch, &err) == DCR_OK);
    CHECK(back.cols[1].nrows == 200 && same_column_text(&back.cols[1], &c.cols[1]));
    part[3] ^= 1; /* the directory */
    CHECK(dcr_chunk_wanted_prefix(&h, key, 3, false, part, xlen, want, &prefix, &plain, &err) ==
          DCR_ECRYPTO);
    free(part);
    /* damage the wanted column, or the directory: refused */
    memcpy(bad, x, xlen);
    bad[at[1] + 2] ^= 1;
    CHECK(dcr_chunk_decrypt_columns(&h, key, 3, false, bad, xlen, want, &plain, &err) ==
          DCR_ECRYPTO);
    memcpy(bad, x, xlen);
    bad[5] ^= 1;
    uint8_t none[16] = {0};
    CHECK(dcr_chunk_decrypt_columns(&h, key, 3, false, bad, xlen, none, &plain, &err) ==
          DCR_ECRYPTO);
    /* two columns with the same plaintext swapped (BIGINT id and TIMESTAMP
     * at): only the segment number in the nonce tells them apart */
    size_t n0 = at[1] - at[0], n5 = at[6] - at[5];
    CHECK(n0 == n5);
    memcpy(bad, x, xlen);
    memcpy(bad + at[0], x + at[5], n5);
    memcpy(bad + at[5], x + at[0], n0);
    CHECK(memcmp(bad, x, xlen) != 0);
    CHECK(dcr_chunk_decrypt(&h, key, 3, false, bad, xlen, &plain, &err) == DCR_ECRYPTO);
    /* a segment's bytes moved into another chunk's: a different nonce */
    CHECK(dcr_chunk_encrypt(&h, key, 4, false, payload.data, payload.len, &ct, &err) == DCR_OK);
    x = ct.data + 4;                           /* ct may have moved */
    const uint8_t *y = ct.data + 4 + 4 + xlen; /* chunk 4, after chunk 3 in ct */
    memcpy(bad, x, xlen);
    memcpy(bad + at[1], y + at[1], at[2] - at[1]);
    CHECK(memcmp(bad, x, xlen) != 0);
    CHECK(dcr_chunk_decrypt_columns(&h, key, 3, false, bad, xlen, want, &plain, &err) ==
          DCR_ECRYPTO);
    /* lengths that do not fit the directory's sizes */
    CHECK(dcr_chunk_decrypt(&h, key, 3, false, x, xlen - 1, &plain, &err) != DCR_OK);
    CHECK(dcr_chunk_decrypt(&h, key, 3, false, x, dir + 16 * ncols, &plain, &err) == DCR_EINPUT);
    /* the same payload in a file without the flag: one AEAD, still read */
    h.segmented = false;
    ct.len = 0;
    CHECK(dcr_chunk_encrypt(&h, key, 3, false, payload.data, payload.len, &ct, &err) == DCR_OK);
    CHECK(ct.len - 4 == payload.len + 16);
    CHECK(dcr_chunk_decrypt_columns(&h, key, 3, false, ct.data + 4, ct.len - 4, want, &plain,
                                    &err) == DCR_OK);
    CHECK(plain.len == payload.len && memcmp(plain.data, payload.data, payload.len) == 0);
    free(bad);
    dcr_chunk_encoder_free(enc);
    dcr_chunk_free(&c);
    dcr_chunk_free(&back);
    dcr_sealed_header_free(&h);
    dcr_schema_free(&schema);
    dcr_wipe(key, sizeof key);
    dcr_buf_free(&head);
    dcr_buf_free(&payload);
    dcr_buf_free(&ct);
    dcr_buf_wipe_free(&plain);
    dcr_buf_wipe_free(&scratch);
}

static void test_splicing_between_files(void)
{
    dcr_error err;
    const char *csv = "id,email,amount,ok,day,at,note\n1,,,,,,\n2,,,,,,\n";
    const char *pa = tmp_path("a.dcr"), *pb = tmp_path("b.dcr");
    CHECK(seal_text(csv, pa, 1, &err) == DCR_OK);
    CHECK(seal_text(csv, pb, 1, &err) == DCR_OK);
    size_t la, lb, ha, hb;
    uint8_t *a = (uint8_t *)read_text(pa, &la), *b = (uint8_t *)read_text(pb, &lb);
    dcr_sealed_header h;
    CHECK(dcr_sealed_header_parse(a, la, &h, &ha, &err) == DCR_OK);
    dcr_sealed_header_free(&h);
    CHECK(dcr_sealed_header_parse(b, lb, &h, &hb, &err) == DCR_OK);
    dcr_sealed_header_free(&h);
    CHECK(la == lb && ha == hb);
    /* header of a, chunks of b */
    uint8_t *mix = malloc(la);
    memcpy(mix, a, ha);
    memcpy(mix + ha, b + hb, lb - hb);
    CHECK(try_unseal(mix, la) == DCR_ECRYPTO);
    /* a with its first chunk taken from b */
    size_t offs[8];
    chunk_offsets(a, la, ha, offs, 7);
    memcpy(mix, a, la);
    memcpy(mix + offs[0], b + offs[0], offs[1] - offs[0]);
    CHECK(try_unseal(mix, la) == DCR_ECRYPTO);
    free(mix);
    free(a);
    free(b);
}

int main(void)
{
    dcr_error err;
    if (!mkdtemp(tmpdir) || dcr_party_key_generate(&alice, &err) != DCR_OK ||
        dcr_party_key_generate(&bob, &err) != DCR_OK) {
        fprintf(stderr, "setup failed\n");
        return 1;
    }
    RUN(test_column_roundtrip);
    RUN(test_interval_is_not_a_column_type);
    RUN(test_column_decode_rejects);
    RUN(test_header_roundtrip_and_keys);
    RUN(test_seal_unseal_roundtrip);
    RUN(test_empty_inputs);
    RUN(test_bad_values_are_refused);
    RUN(test_input_decompression);
    RUN(test_input_truncated_and_damaged);
    RUN(test_input_refused_formats);
    RUN(test_seal_input_forms);
    RUN(test_validate);
    RUN(test_seal_jsonl);
    RUN(test_every_bit_flip_is_detected);
    RUN(test_truncation_reorder_duplicate_drop);
    RUN(test_segmented_chunks);
    RUN(test_splicing_between_files);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return check_summary();
}

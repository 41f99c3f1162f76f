/*
 * fuzz_csv.c: libFuzzer target for the CSV layer (csv.h, value.h) and the
 * seal input decoder (store/input.h: plain, gzip, zstd by content).
 *
 * The input is treated as a CSV file arriving in one read. It is cut with
 * dcr_csv_complete_prefix (at_eof false; at_eof true may only differ by
 * taking everything) and the two blocks are tokenized on exactly sized heap copies, so ASan catches
 * any read past a block. The invariants that would otherwise fail silently are checked with
 * abort():
 *
 *   - the prefix ends with '\n' and parsing prefix then rest (line numbers
 *     carried over) gives the same records and error as parsing the whole;
 *   - every field that a parser accepts formats to text that parses back to
 *     the identical value (bit-identical doubles, -0.0 included; any NaN
 *     stays NaN), and formatted text is canonical (formatting it again gives
 *     the same bytes);
 *   - dcr_utf8_check returns an offset within the field;
 *   - the same holds with another separator (one chosen by the input's last
 *     byte), since dcr_csv_complete_prefix ignores the separator;
 *   - the input decoder, reading the input as a file in two different read
 *     sizes, gives the same bytes and the same outcome both times (the
 *     error's byte offset may differ by the decoder's lookahead); plain
 *     input comes back unchanged; decompressed bytes (bounded, so a bomb
 *     only costs time) go through the CSV checks as well;
 *   - each line read as a JSON Lines record (store/jsonl.h) against a small
 *     schema either fails with a message or gives one field per column,
 *     each inside the scratch buffer, each passing the value checks.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv/csv.h"
#include "base/value.h"
#include "store/input.h"
#include "store/jsonl.h"

#define DECODED_MAX (1u << 20) /* decompressed bytes looked at */

#define MAX_FIELDS 16

/* A running digest of a parse, so two parses compare without storing them. */
typedef struct {
    uint64_t hash;
    uint64_t records;
    char error[DCR_ERROR_MSG_MAX];
} digest;

static void mix(digest *d, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++)
        d->hash = (d->hash ^ p[i]) * 0x100000001b3ULL; /* FNV-1a */
}

/* s is not NUL-terminated: the parsers must respect len alone. */
static void check_text_round_trip(const char *s, size_t len)
{
    char out[DCR_VALUE_TEXT_MAX], again[DCR_VALUE_TEXT_MAX];
    int64_t i, i2;
    if (!dcr_parse_bigint(s, len, &i)) {
        size_t n = dcr_format_bigint(i, out);
        if (dcr_parse_bigint(out, n, &i2) || i2 != i)
            abort();
    }
    double d, d2;
    if (!dcr_parse_double(s, len, &d)) {
        if (isinf(d) && !memchr(s, 'i', len) && !memchr(s, 'I', len))
            abort(); /* overflow must be refused; only "inf" text gives inf */
        size_t n = dcr_format_double(d, out);
        if (n >= DCR_VALUE_TEXT_MAX || dcr_parse_double(out, n, &d2))
            abort();
        if (isnan(d) ? !isnan(d2) : memcmp(&d, &d2, sizeof d) != 0)
            abort();
        if (dcr_format_double(d2, again) != n || memcmp(out, again, n) != 0)
            abort();
    }
    bool b, b2;
    if (!dcr_parse_bool(s, len, &b)) {
        size_t n = dcr_format_bool(b, out);
        if (dcr_parse_bool(out, n, &b2) || b2 != b)
            abort();
    }
    int32_t day, day2;
    if (!dcr_parse_date(s, len, &day)) {
        size_t n = dcr_format_date(day, out);
        if (dcr_parse_date(out, n, &day2) || day2 != day)
            abort();
    }
    int64_t ts, ts2;
    if (!dcr_parse_timestamp(s, len, &ts)) {
        size_t n = dcr_format_timestamp(ts, out);
        if (dcr_parse_timestamp(out, n, &ts2) || ts2 != ts)
            abort();
        if (dcr_format_timestamp(ts2, again) != n || memcmp(out, again, n) != 0)
            abort();
    }
    if (dcr_utf8_check(s, len) > len)
        abort();
}

/* Tokenizes data[0..len) on a private copy, checks every field and folds the
 * records into d. Returns false when the parse stopped at an error. */
static bool parse_block(const uint8_t *data, size_t len, uint64_t first_line, char sep, digest *d)
{
    char *copy = malloc(len ? len : 1);
    if (!copy)
        abort();
    if (len)
        memcpy(copy, data, len);
    dcr_csv_reader r;
    dcr_csv_reader_init(&r, copy, len, first_line);
    dcr_csv_reader_set_separator(&r, sep);
    dcr_csv_field f[MAX_FIELDS];
    bool ok = true;
    for (;;) {
        size_t n;
        uint64_t line;
        dcr_error err;
        if (dcr_csv_next_record(&r, f, MAX_FIELDS, &n, &line, &err) != DCR_OK) {
            snprintf(d->error, sizeof d->error, "%s", err.msg);
            ok = false;
            break;
        }
        if (n == 0)
            break;
        if (n > MAX_FIELDS || r.pos > r.end)
            abort();
        d->records++;
        mix(d, &line, sizeof line);
        for (size_t i = 0; i < n; i++) {
            if (f[i].ptr < copy || f[i].ptr + f[i].len > copy + len)
                abort();
            mix(d, &f[i].len, sizeof f[i].len);
            mix(d, &f[i].quoted, 1);
            mix(d, f[i].ptr, f[i].len);
            check_text_round_trip(f[i].ptr, f[i].len);
        }
    }
    free(copy);
    return ok;
}

static uint64_t count_newlines(const uint8_t *p, size_t n)
{
    uint64_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += p[i] == '\n';
    return c;
}

/* The block-cutting and whole-vs-split checks with separator sep. */
static void check_csv(const uint8_t *data, size_t size, char sep)
{
    const char *text = (const char *)data;
    size_t cut = dcr_csv_complete_prefix(text, size, false);
    if (cut > size || (cut > 0 && data[cut - 1] != '\n'))
        abort();
    size_t at_eof = dcr_csv_complete_prefix(text, size, true);
    if (at_eof != size && at_eof != cut)
        abort(); /* only a trailing open quote keeps bytes */
    if (dcr_csv_complete_prefix(text, cut, false) != cut)
        abort(); /* a prefix of whole records is its own complete prefix */

    digest whole = {0xcbf29ce484222325ULL, 0, ""};
    parse_block(data, size, 1, sep, &whole);

    digest split = {0xcbf29ce484222325ULL, 0, ""};
    if (parse_block(data, cut, 1, sep, &split))
        parse_block(data + cut, size - cut, 1 + count_newlines(data, cut), sep, &split);

    if (whole.hash != split.hash || whole.records != split.records ||
        strcmp(whole.error, split.error) != 0)
        abort();
}

/* Decodes data as a file would be, in reads of `step` bytes, into out
 * (at most DECODED_MAX bytes). Returns the status; err holds its message. */
static dcr_status decode(const uint8_t *data, size_t size, size_t step, uint8_t *out,
                         size_t *out_len, dcr_input_kind *kind, dcr_error *err)
{
    dcr_input *in = NULL;
    *out_len = 0;
    dcr_status s = dcr_input_open_mem(&in, data, size, "fuzz", err);
    if (s != DCR_OK) {
        if (in || !err->msg[0])
            abort();
        return s;
    }
    *kind = dcr_input_kind_of(in);
    while (*out_len < DECODED_MAX) {
        size_t want = DECODED_MAX - *out_len < step ? DECODED_MAX - *out_len : step;
        size_t got = 0;
        if ((s = dcr_input_read(in, out + *out_len, want, &got, err)) != DCR_OK)
            break;
        if (got > want)
            abort();
        *out_len += got;
        if (got < want)
            break;
    }
    dcr_input_close(in);
    if (s != DCR_OK && (s != DCR_EINPUT || !err->msg[0]))
        abort();
    return s;
}

static void check_input(const uint8_t *data, size_t size)
{
    static uint8_t a[DECODED_MAX], b[DECODED_MAX];
    size_t alen, blen;
    dcr_input_kind ka = DCR_INPUT_PLAIN, kb = DCR_INPUT_PLAIN;
    dcr_error ea = {0}, eb = {0};
    size_t step = 1 + (size ? data[0] % 61 : 0); /* small, odd reads */
    dcr_status sa = decode(data, size, step, a, &alen, &ka, &ea);
    dcr_status sb = decode(data, size, 65536, b, &blen, &kb, &eb);
    /* the same stream whatever the read size, up to where both stopped */
    size_t common = alen < blen ? alen : blen;
    if (ka != kb || memcmp(a, b, common) != 0)
        abort();
    if (sa == DCR_OK && sb == DCR_OK && alen != blen)
        abort();
    if (sa != sb && alen == blen)
        abort();
    if (sb == DCR_OK && kb == DCR_INPUT_PLAIN &&
        (blen != (size < DECODED_MAX ? size : DECODED_MAX) || memcmp(b, data, blen) != 0))
        abort();
    if (kb != DCR_INPUT_PLAIN && blen > 0)
        check_csv(b, blen, ',');
}

static const dcr_schema *jsonl_schema(void)
{
    static dcr_schema schema;
    static bool ready;
    static const char json[] = "{\"dataset\": \"f\", \"columns\": ["
                               "{\"name\": \"id\", \"type\": \"BIGINT\"},"
                               "{\"name\": \"email\", \"type\": \"TEXT\"},"
                               "{\"name\": \"amount\", \"type\": \"DOUBLE PRECISION\"},"
                               "{\"name\": \"at\", \"type\": \"TIMESTAMP\"}]}";
    dcr_error err;
    if (!ready && dcr_schema_parse_json(json, sizeof json - 1, "fuzz", &schema, &err) != DCR_OK)
        abort();
    ready = true;
    return &schema;
}

static void check_jsonl(const uint8_t *data, size_t size)
{
    const dcr_schema *schema = jsonl_schema();
    dcr_csv_field f[4];
    dcr_buf scratch = DCR_BUF_INIT;
    const char *p = (const char *)data, *end = p + size;
    for (uint64_t line = 1; p < end; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = (size_t)((nl ? nl : end) - p);
        dcr_error err = {0};
        dcr_status s = dcr_jsonl_fields(schema, p, len, f, &scratch, "fuzz", line, &err);
        if (s != DCR_OK && (s != DCR_EINPUT || !err.msg[0]))
            abort();
        for (size_t c = 0; s == DCR_OK && c < schema->ncols; c++) {
            const char *base = (const char *)scratch.data;
            bool inside =
                f[c].len == 0 || (f[c].ptr >= base && f[c].ptr + f[c].len <= base + scratch.len);
            if (!inside)
                abort();
            check_text_round_trip(f[c].ptr, f[c].len);
        }
        p = nl ? nl + 1 : end;
    }
    dcr_buf_free(&scratch);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_csv(data, size, ',');
    /* another separator, named by the last byte when it can be one */
    char sep = size ? (char)data[size - 1] : ';';
    if (!dcr_csv_separator_valid(sep) || sep == ',')
        sep = ';';
    check_csv(data, size, sep);
    check_input(data, size);
    check_jsonl(data, size);
    return 0;
}

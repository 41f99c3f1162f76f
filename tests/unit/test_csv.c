/*
 * test_csv.c: the CSV tokenizer, dcr_csv_complete_prefix and the writer.
 *
 * Parses are rendered into a canonical text (one line per record: its line
 * number, then each field as q/u, length and bytes; or the error message), so
 * expectations read like the input and different parses compare with strcmp.
 * Besides hand-written edge cases, random inputs over a small alphabet are
 * checked against a byte-at-a-time reference parser written here from the
 * dialect description, and the block-splitting property that sealing relies
 * on (prefix + rest parses like the whole) is checked at every cut point.
 * Every parse runs on an exactly sized heap copy so ASan sees any over-read.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "csv/csv.h"

#define OUT_MAX 65536
#define FIELDS_MAX 64

/* The separator both the reader and the reference parser use. */
static char sep = ',';

typedef struct {
    char text[OUT_MAX];
    size_t len;
} render;

static void put(render *o, const char *s, size_t n)
{
    if (o->len + n + 1 > OUT_MAX) {
        fprintf(stderr, "render buffer overflow\n");
        abort();
    }
    memcpy(o->text + o->len, s, n);
    o->len += n;
    o->text[o->len] = '\0';
}

static void putf(render *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void putf(render *o, const char *fmt, ...)
{
    char tmp[600];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    put(o, tmp, (size_t)n);
}

static void put_field(render *o, bool quoted, const char *s, size_t len)
{
    putf(o, "%c%zu:", quoted ? 'q' : 'u', len);
    put(o, s, len);
    put(o, "|", 1);
}

/* Parses data[0..len) starting at first_line with the real reader and
 * appends the rendering to o. Returns the offset where parsing stopped. */
static size_t parse_into(render *o, const char *data, size_t len, uint64_t first_line,
                         size_t max_fields)
{
    char *copy = malloc(len ? len : 1);
    if (len)
        memcpy(copy, data, len);
    dcr_csv_reader r;
    dcr_csv_reader_init(&r, copy, len, first_line);
    dcr_csv_reader_set_separator(&r, sep);
    dcr_csv_field f[FIELDS_MAX];
    size_t stop = len;
    for (;;) {
        size_t n = 99;
        uint64_t line = 0;
        dcr_error err = {0};
        if (dcr_csv_next_record(&r, f, max_fields, &n, &line, &err) != DCR_OK) {
            putf(o, "E:%s\n", err.msg);
            stop = (size_t)(r.pos - copy);
            break;
        }
        if (n == 0)
            break;
        putf(o, "L%" PRIu64 ":", line);
        for (size_t i = 0; i < n; i++)
            put_field(o, f[i].quoted, f[i].ptr, f[i].len);
        put(o, "\n", 1);
    }
    free(copy);
    return stop;
}

static const char *parse_str(const char *s, size_t max_fields)
{
    static render o;
    o.len = 0;
    o.text[0] = '\0';
    parse_into(&o, s, strlen(s), 1, max_fields);
    return o.text;
}

#define EXPECT_PARSE(input, expected) CHECK_STR(parse_str((input), FIELDS_MAX), (expected))

/* ---- a reference parser, one byte at a time ---- */

static void ref_parse(render *o, const char *in, size_t len, uint64_t line, size_t max)
{
    size_t pos = 0;
    char field[OUT_MAX];
    while (pos < len) {
        uint64_t rec_line = line;
        render rec = {.len = 0};
        size_t nf = 0;
        for (;;) {
            if (nf == max) {
                putf(o, "E:line %" PRIu64 ": more than %zu fields\n", rec_line, max);
                return;
            }
            nf++;
            size_t fl = 0;
            int how; /* 0 separator, 1 end of record */
            if (pos < len && in[pos] == '"') {
                uint64_t open = line;
                pos++;
                for (;;) {
                    if (pos == len) {
                        putf(o,
                             "E:line %" PRIu64 ", field %zu: unterminated quoted field "
                             "(opened here)\n",
                             open, nf);
                        return;
                    }
                    char c = in[pos];
                    if (c == '"') {
                        if (pos + 1 < len && in[pos + 1] == '"') {
                            field[fl++] = '"';
                            pos += 2;
                            continue;
                        }
                        pos++;
                        break;
                    }
                    if (c == '\n')
                        line++;
                    field[fl++] = c;
                    pos++;
                }
                put_field(&rec, true, field, fl);
                if (pos == len) {
                    how = 1;
                } else if (in[pos] == sep) {
                    pos++;
                    how = 0;
                } else if (in[pos] == '\n') {
                    pos++;
                    line++;
                    how = 1;
                } else if (in[pos] == '\r' && pos + 1 < len && in[pos + 1] == '\n') {
                    pos += 2;
                    line++;
                    how = 1;
                } else {
                    putf(o,
                         "E:line %" PRIu64 ", field %zu: unexpected character after closing "
                         "quote\n",
                         line, nf);
                    return;
                }
            } else {
                while (pos < len && in[pos] != sep && in[pos] != '"' && in[pos] != '\n')
                    field[fl++] = in[pos++];
                if (pos < len && in[pos] == '"') {
                    putf(o,
                         "E:line %" PRIu64 ", field %zu: unexpected '\"' inside an unquoted "
                         "field\n",
                         line, nf);
                    return;
                }
                if (pos < len && in[pos] == '\n') {
                    if (fl && field[fl - 1] == '\r')
                        fl--;
                    pos++;
                    line++;
                    how = 1;
                } else if (pos < len) {
                    pos++;
                    how = 0;
                } else {
                    how = 1;
                }
                put_field(&rec, false, field, fl);
            }
            if (how == 1)
                break;
        }
        putf(o, "L%" PRIu64 ":", rec_line);
        put(o, rec.text, rec.len);
        put(o, "\n", 1);
    }
}

/* ---- hand-written cases ---- */

static void test_simple(void)
{
    EXPECT_PARSE("a,b,c\n1,22,333\n", "L1:u1:a|u1:b|u1:c|\nL2:u1:1|u2:22|u3:333|\n");
    EXPECT_PARSE("a,b\nc,d", "L1:u1:a|u1:b|\nL2:u1:c|u1:d|\n"); /* no final newline */
    EXPECT_PARSE("", "");
    EXPECT_PARSE("x", "L1:u1:x|\n");
    /* long unquoted fields cross the 16-byte scanning steps */
    EXPECT_PARSE("abcdefghijklmnopqrstuvwxyz0123456789,ABCDEFGHIJKLMNOPQ\n",
                 "L1:u36:abcdefghijklmnopqrstuvwxyz0123456789|u17:ABCDEFGHIJKLMNOPQ|\n");
}

static void test_quoting(void)
{
    EXPECT_PARSE("\"a,b\",c\n", "L1:q3:a,b|u1:c|\n");
    EXPECT_PARSE("\"say \"\"hi\"\"\"\n", "L1:q8:say \"hi\"|\n");
    EXPECT_PARSE("\"\"\"\"\n", "L1:q1:\"|\n");
    EXPECT_PARSE("\"a\"\"\"\"b\",\"\"\"x\"\"y\"\"\"\n", "L1:q4:a\"\"b|q5:\"x\"y\"|\n");
    EXPECT_PARSE("\"x\r\ny\",\"l\nm\"\n", "L1:q4:x\r\ny|q3:l\nm|\n");
    EXPECT_PARSE("\" lead\",\"trail \"\n", "L1:q5: lead|q6:trail |\n");
    EXPECT_PARSE("\"a\"", "L1:q1:a|\n"); /* final quoted field at end of input */
    EXPECT_PARSE("\"a\",", "L1:q1:a|u0:|\n");
    EXPECT_PARSE("\"a\"\r\n\"b\"\r\n", "L1:q1:a|\nL2:q1:b|\n");
}

static void test_empty_fields(void)
{
    EXPECT_PARSE("\"\",,\"\"\n", "L1:q0:|u0:|q0:|\n");
    EXPECT_PARSE(",\n", "L1:u0:|u0:|\n");
    EXPECT_PARSE("a,", "L1:u1:a|u0:|\n");
    EXPECT_PARSE("\n", "L1:u0:|\n");
    EXPECT_PARSE("\n\n", "L1:u0:|\nL2:u0:|\n");
    EXPECT_PARSE("a\n\nb\n", "L1:u1:a|\nL2:u0:|\nL3:u1:b|\n");
    EXPECT_PARSE("\r\n", "L1:u0:|\n");
    EXPECT_PARSE("\"\"", "L1:q0:|\n");
}

static void test_line_endings(void)
{
    EXPECT_PARSE("a,b\r\nc,d\r\n", "L1:u1:a|u1:b|\nL2:u1:c|u1:d|\n");
    EXPECT_PARSE("a\rb,c\n", "L1:u3:a\rb|u1:c|\n"); /* lone CR is data */
    EXPECT_PARSE("a\r\r\n", "L1:u2:a\r|\n");
    EXPECT_PARSE("a\r", "L1:u2:a\r|\n");
    EXPECT_PARSE("a,b\r", "L1:u1:a|u2:b\r|\n");
    EXPECT_PARSE("\r", "L1:u1:\r|\n");
}

static void test_errors(void)
{
    EXPECT_PARSE("\"", "E:line 1, field 1: unterminated quoted field (opened here)\n");
    EXPECT_PARSE("a,\"", "E:line 1, field 2: unterminated quoted field (opened here)\n");
    EXPECT_PARSE("a\nb,\"c\nd", "L1:u1:a|\nE:line 2, field 2: unterminated quoted field "
                                "(opened here)\n");
    EXPECT_PARSE("\"a\"\"", "E:line 1, field 1: unterminated quoted field (opened here)\n");
    EXPECT_PARSE("\"a\"b\n", "E:line 1, field 1: unexpected character after closing quote\n");
    EXPECT_PARSE("x,\"a\" ,b\n", "E:line 1, field 2: unexpected character after closing quote\n");
    EXPECT_PARSE("\"a\"\rb\n", "E:line 1, field 1: unexpected character after closing quote\n");
    EXPECT_PARSE("\"a\"\r", "E:line 1, field 1: unexpected character after closing quote\n");
    EXPECT_PARSE("ab\"c\n", "E:line 1, field 1: unexpected '\"' inside an unquoted field\n");
    EXPECT_PARSE("x\ny,a\"b\n",
                 "L1:u1:x|\nE:line 2, field 2: unexpected '\"' inside an unquoted field\n");
    EXPECT_PARSE(" \"a\"\n", "E:line 1, field 1: unexpected '\"' inside an unquoted field\n");
    /* the error names the physical line of the offending byte */
    EXPECT_PARSE("\"a\nb\"x\n", "E:line 2, field 1: unexpected character after closing quote\n");
    EXPECT_PARSE("\"a\nb\",c\"\n", "E:line 2, field 2: unexpected '\"' inside an unquoted field\n");
}

static void test_max_fields(void)
{
    CHECK_STR(parse_str("a,b\n", 2), "L1:u1:a|u1:b|\n");
    CHECK_STR(parse_str("a,b\nc,d,e\n", 2), "L1:u1:a|u1:b|\nE:line 2: more than 2 fields\n");
    CHECK_STR(parse_str("a,b,", 2), "E:line 1: more than 2 fields\n");
    CHECK_STR(parse_str("a\n", 0), "E:line 1: more than 0 fields\n");
    char many[200] = "";
    for (int i = 0; i < 65; i++)
        strcat(many, i ? ",x" : "x");
    CHECK_STR(parse_str(many, 64), "E:line 1: more than 64 fields\n");
    many[strlen(many) - 2] = '\0'; /* 64 fields */
    CHECK(strncmp(parse_str(many, 64), "L1:", 3) == 0);
}

static void test_line_numbers(void)
{
    EXPECT_PARSE("a\r\n\"x\r\ny\r\nz\",b\r\nc\r\n",
                 "L1:u1:a|\nL2:q7:x\r\ny\r\nz|u1:b|\nL5:u1:c|\n");
    EXPECT_PARSE("\"1\n2\n3\",\"4\n5\"\nq\n", "L1:q5:1\n2\n3|q3:4\n5|\nL5:u1:q|\n");
    EXPECT_PARSE("\"\"\"\n\"\"\"\nz\n", "L1:q3:\"\n\"|\nL3:u1:z|\n");

    /* first_line carries over between blocks */
    render o = {.len = 0};
    parse_into(&o, "a\n\"b\nc\"\nd", 9, 100, FIELDS_MAX);
    CHECK_STR(o.text, "L100:u1:a|\nL101:q3:b\nc|\nL103:u1:d|\n");

    /* the reader resumes where it stopped and counts on */
    char buf[] = "x\ny\n";
    dcr_csv_reader r;
    dcr_csv_reader_init(&r, buf, 4, 7);
    dcr_csv_field f[2];
    size_t n;
    uint64_t line;
    dcr_error err;
    CHECK(dcr_csv_next_record(&r, f, 2, &n, &line, &err) == DCR_OK && n == 1 && line == 7);
    CHECK(dcr_csv_next_record(&r, f, 2, &n, &line, &err) == DCR_OK && n == 1 && line == 8);
    CHECK(dcr_csv_next_record(&r, f, 2, &n, &line, &err) == DCR_OK && n == 0);
    CHECK(dcr_csv_next_record(&r, f, 2, &n, &line, &err) == DCR_OK && n == 0);
    CHECK(r.line == 9);

    dcr_csv_reader_init(&r, NULL, 0, 1);
    CHECK(dcr_csv_next_record(&r, f, 2, &n, &line, &err) == DCR_OK && n == 0);
}

static void test_error_status(void)
{
    char buf[] = "a\"";
    dcr_csv_reader r;
    dcr_csv_reader_init(&r, buf, 2, 1);
    dcr_csv_field f[4];
    size_t n = 5;
    uint64_t line;
    dcr_error err = {0};
    CHECK(dcr_csv_next_record(&r, f, 4, &n, &line, &err) == DCR_EINPUT);
    CHECK(err.code == DCR_EINPUT);
    CHECK_MSG(err, "line 1, field 1: unexpected '\"'");
    /* a NULL error record is allowed */
    dcr_csv_reader_init(&r, buf, 2, 1);
    CHECK(dcr_csv_next_record(&r, f, 4, &n, &line, NULL) == DCR_EINPUT);
}

static void test_unescape_in_place(void)
{
    /* the field text must be exactly the unescaped bytes, whatever follows */
    char buf[] = "\"a\"\"b\"\"c\",z\n";
    dcr_csv_reader r;
    dcr_csv_reader_init(&r, buf, strlen(buf), 1);
    dcr_csv_field f[4];
    size_t n;
    uint64_t line;
    CHECK(dcr_csv_next_record(&r, f, 4, &n, &line, NULL) == DCR_OK && n == 2);
    CHECK(f[0].len == 5 && memcmp(f[0].ptr, "a\"b\"c", 5) == 0 && f[0].quoted);
    CHECK(f[1].len == 1 && f[1].ptr[0] == 'z' && !f[1].quoted);
    CHECK(f[0].ptr == buf + 1);
}

/* ---- complete prefix ---- */

static size_t prefix_of(const char *s, bool at_eof)
{
    return dcr_csv_complete_prefix(s, strlen(s), at_eof);
}

static void test_prefix_cases(void)
{
    CHECK(prefix_of("", false) == 0);
    CHECK(prefix_of("", true) == 0);
    CHECK(prefix_of("abc", false) == 0);
    CHECK(prefix_of("abc", true) == 3);
    CHECK(prefix_of("a,b\nc", false) == 4);
    CHECK(prefix_of("a,b\nc", true) == 5);
    CHECK(prefix_of("a,b\nc\n", false) == 6);
    CHECK(prefix_of("a\r\nb\r", false) == 3);
    CHECK(prefix_of("\"a\nb", false) == 0);
    CHECK(prefix_of("x\n\"a\nb", false) == 2);
    CHECK(prefix_of("x\n\"a\nb", true) == 2); /* parsing the rest reports the open quote */
    CHECK(prefix_of("\"", true) == 0);
    CHECK(prefix_of("\"a\"", true) == 3);
    CHECK(prefix_of("a\n\"\"\"", true) == 2);
    CHECK(prefix_of("a\n\"b\nc\"\n", false) == 8);
    CHECK(prefix_of("a\n\"b\nc\"\nd", false) == 8);
    CHECK(prefix_of("\"\"\"\n\"\"\"\n", false) == 8);
    CHECK(prefix_of("\"\"\"\n\"\"\n", false) == 0);

    /* long inputs exercise the 64- and 16-byte steps of the quote count */
    char big[1000];
    for (int q = 0; q < 2; q++) {
        memset(big, 'a', sizeof big);
        big[500] = '\n';
        big[900] = '\n';
        big[10] = '"';
        big[700] = q ? '"' : 'a';
        big[950] = '"';
        /* q=0: quotes at 10 and 950: 500 and 900 are inside quotes */
        /* q=1: quotes at 10, 700, 950: 900 is outside, 500 inside */
        CHECK(dcr_csv_complete_prefix(big, sizeof big, false) == (q ? 901u : 0u));
    }
}

/* ---- random inputs ---- */

static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static uint64_t next_rand(void)
{
    uint64_t z = (rng += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* A random input; long_runs makes fields long enough for the 16-byte steps.
 * Both ',' and the current separator appear, so a comma that is data under
 * another separator is exercised too. */
static size_t random_csv(char *buf, size_t max, bool long_runs)
{
    char alphabet[] = {'a', ',', '"', '\r', '\n', sep};
    size_t len = (size_t)(next_rand() % (max + 1));
    for (size_t i = 0; i < len; i++) {
        uint64_t r = next_rand();
        if (long_runs && r % 4 != 0)
            buf[i] = (char)('a' + (r >> 8) % 26);
        else
            buf[i] = alphabet[(r >> 8) % sizeof alphabet];
    }
    return len;
}

/* Other separators: the same dialect with another byte between fields;
 * a comma is then data, and quoting works as before. */
static void test_separators(void)
{
    sep = ';';
    EXPECT_PARSE("a;b,c;\"d;e\"\n1;;\"\"\n", "L1:u1:a|u3:b,c|q3:d;e|\nL2:u1:1|u0:|q0:|\n");
    EXPECT_PARSE("x;\"a\";y\r\n", "L1:u1:x|q1:a|u1:y|\n");
    EXPECT_PARSE("\"a\",b\n", "E:line 1, field 1: unexpected character after closing quote\n");
    sep = '\t';
    EXPECT_PARSE("a\tb c\t\n\t\n", "L1:u1:a|u3:b c|u0:|\nL2:u0:|u0:|\n");
    /* long fields cross the 16-byte scanning steps with a tab in them */
    EXPECT_PARSE("abcdefghijklmnopqrstuvwxyz,0123\tABCDEFGHIJKLMNOPQRSTU\n",
                 "L1:u31:abcdefghijklmnopqrstuvwxyz,0123|u21:ABCDEFGHIJKLMNOPQRSTU|\n");
    sep = '|';
    EXPECT_PARSE("a|b\n", "L1:u1:a|u1:b|\n");
    sep = ' ';
    EXPECT_PARSE("a b  c\n", "L1:u1:a|u1:b|u0:|u1:c|\n");
    sep = ',';
    CHECK(dcr_csv_separator_valid(';') && dcr_csv_separator_valid('\t'));
    CHECK(!dcr_csv_separator_valid('"') && !dcr_csv_separator_valid('\n'));
    CHECK(!dcr_csv_separator_valid('\r') && !dcr_csv_separator_valid('\0'));
}

static void test_reader_vs_reference(void)
{
    static render a, b;
    char buf[200];
    int mismatches = 0;
    for (int iter = 0; iter < 200000; iter++) {
        bool long_runs = iter % 2;
        static const char seps[] = {',', ';', '\t', 'a'}; /* 'a': a separator that is common */
        sep = seps[iter % 4];
        size_t len = random_csv(buf, long_runs ? 200 : 40, long_runs);
        size_t max = iter % 7 == 0 ? 1 + (size_t)(next_rand() % 4) : FIELDS_MAX;
        uint64_t first = 1 + next_rand() % 1000;
        a.len = b.len = 0;
        a.text[0] = b.text[0] = '\0';
        parse_into(&a, buf, len, first, max);
        ref_parse(&b, buf, len, first, max);
        if (strcmp(a.text, b.text) != 0 && mismatches++ < 3) {
            fprintf(stderr, "  reader and reference differ on input of %zu bytes:\n%s---\n%s", len,
                    a.text, b.text);
            CHECK(0);
        }
    }
    sep = ',';
    CHECK(mismatches == 0);
}

static uint64_t newlines(const char *s, size_t n)
{
    uint64_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += s[i] == '\n';
    return c;
}

/* Checks dcr_csv_complete_prefix on buf[0..cut) against the parse of the
 * whole buf[0..len): the prefix ends at a line end, contains every record
 * that ends with a line end inside the cut, and prefix + rest parse like the
 * whole. */
static bool prefix_property_holds(const char *buf, size_t len, size_t cut, const render *whole)
{
    size_t n = dcr_csv_complete_prefix(buf, cut, false);
    if (n > cut || (n > 0 && buf[n - 1] != '\n'))
        return false;
    /* at the end of input only an open quote keeps bytes back */
    size_t at_eof = dcr_csv_complete_prefix(buf, cut, true);
    size_t quotes = 0;
    for (size_t i = 0; i < cut; i++)
        quotes += buf[i] == '"';
    if (at_eof != (quotes % 2 ? n : cut))
        return false;
    static render split;
    split.len = 0;
    split.text[0] = '\0';
    parse_into(&split, buf, n, 1, FIELDS_MAX);
    if (!strstr(split.text, "E:"))
        parse_into(&split, buf + n, len - n, 1 + newlines(buf, n), FIELDS_MAX);
    if (strcmp(split.text, whole->text) != 0)
        return false;
    /* maximality: the reader, run on the cut itself, ends no record with a
     * line end beyond n (unless it fails first) */
    char *copy = malloc(cut ? cut : 1);
    if (cut)
        memcpy(copy, buf, cut);
    dcr_csv_reader r;
    dcr_csv_reader_init(&r, copy, cut, 1);
    dcr_csv_field f[FIELDS_MAX];
    bool ok = true;
    for (;;) {
        size_t nf;
        uint64_t line;
        if (dcr_csv_next_record(&r, f, FIELDS_MAX, &nf, &line, NULL) != DCR_OK || nf == 0)
            break;
        size_t at = (size_t)(r.pos - copy);
        if (at > 0 && copy[at - 1] == '\n' && at > n)
            ok = false;
    }
    free(copy);
    return ok;
}

static void test_prefix_property(void)
{
    static render whole;
    char buf[120];
    int failures = 0;
    for (int iter = 0; iter < 20000; iter++) {
        bool long_runs = iter % 3 == 0;
        size_t len = random_csv(buf, long_runs ? 120 : 30, long_runs);
        whole.len = 0;
        whole.text[0] = '\0';
        parse_into(&whole, buf, len, 1, FIELDS_MAX);
        for (size_t cut = 0; cut <= len; cut++) {
            if (!prefix_property_holds(buf, len, cut, &whole) && failures++ < 3) {
                fprintf(stderr, "  prefix property fails at cut %zu of %zu bytes\n", cut, len);
                CHECK(0);
            }
        }
    }
    CHECK(failures == 0);
}

/* ---- writer ---- */

static const char *write_str(const char *s, bool force)
{
    static char out[256];
    dcr_buf b = DCR_BUF_INIT;
    CHECK(dcr_csv_write_field(&b, s, strlen(s), force, NULL) == DCR_OK);
    memcpy(out, b.data ? (char *)b.data : "", b.len);
    out[b.len] = '\0';
    dcr_buf_free(&b);
    return out;
}

static void test_writer_cases(void)
{
    CHECK_STR(write_str("abc", false), "abc");
    CHECK_STR(write_str("a b", false), "a b");
    CHECK_STR(write_str("", false), "");
    CHECK_STR(write_str("", true), "\"\"");
    CHECK_STR(write_str("abc", true), "\"abc\"");
    CHECK_STR(write_str("a,b", false), "\"a,b\"");
    CHECK_STR(write_str("x\"y", false), "\"x\"\"y\"");
    CHECK_STR(write_str("\"", false), "\"\"\"\"");
    CHECK_STR(write_str("\"\"", false), "\"\"\"\"\"\"");
    CHECK_STR(write_str("a\nb", false), "\"a\nb\"");
    CHECK_STR(write_str("a\rb", false), "\"a\rb\"");
    CHECK_STR(write_str(" a", false), "\" a\"");
    CHECK_STR(write_str("a ", false), "\"a \"");
    CHECK_STR(write_str("\ta", false), "\"\ta\"");
    CHECK_STR(write_str("a\t", false), "\"a\t\"");
    CHECK_STR(write_str(" ", false), "\" \"");
    CHECK_STR(write_str("é", false), "é");

    /* appends after existing content */
    dcr_buf b = DCR_BUF_INIT;
    CHECK(dcr_buf_append(&b, "x,", 2, NULL) == DCR_OK);
    CHECK(dcr_csv_write_field(&b, "a\"b", 3, false, NULL) == DCR_OK);
    CHECK(b.len == 8 && memcmp(b.data, "x,\"a\"\"b\"", 8) == 0);
    dcr_buf_free(&b);
}

static void test_writer_round_trip(void)
{
    static const char alphabet[] = "a ,\"\r\n\t";
    int failures = 0;
    for (int iter = 0; iter < 20000; iter++) {
        char fields[8][40];
        size_t lens[8];
        bool quote[8];
        size_t nf = 1 + (size_t)(next_rand() % 8);
        dcr_buf b = DCR_BUF_INIT;
        for (size_t i = 0; i < nf; i++) {
            lens[i] = (size_t)(next_rand() % (iter % 2 ? 40 : 4));
            for (size_t j = 0; j < lens[i]; j++)
                fields[i][j] = alphabet[next_rand() % 7];
            /* empty strings are written quoted unless they stand for NULL */
            quote[i] = lens[i] == 0 && next_rand() % 2;
            if (i)
                CHECK(dcr_buf_append(&b, ",", 1, NULL) == DCR_OK);
            CHECK(dcr_csv_write_field(&b, fields[i], lens[i], quote[i], NULL) == DCR_OK);
        }
        CHECK(dcr_buf_append(&b, iter % 3 ? "\n" : "\r\n", iter % 3 ? 1 : 2, NULL) == DCR_OK);
        dcr_csv_reader r;
        dcr_csv_reader_init(&r, (char *)b.data, b.len, 1);
        dcr_csv_field f[8];
        size_t n = 0;
        uint64_t line;
        bool ok = dcr_csv_next_record(&r, f, 8, &n, &line, NULL) == DCR_OK && n == nf;
        for (size_t i = 0; ok && i < nf; i++) {
            ok = f[i].len == lens[i] && memcmp(f[i].ptr, fields[i], lens[i]) == 0;
            if (lens[i] == 0)
                ok = ok && f[i].quoted == quote[i];
        }
        ok = ok && dcr_csv_next_record(&r, f, 8, &n, &line, NULL) == DCR_OK && n == 0;
        if (!ok && failures++ < 3)
            fprintf(stderr, "  writer round trip fails on: %.*s\n", (int)b.len, (char *)b.data);
        dcr_buf_free(&b);
    }
    CHECK(failures == 0);
}

int main(void)
{
    RUN(test_simple);
    RUN(test_quoting);
    RUN(test_empty_fields);
    RUN(test_line_endings);
    RUN(test_errors);
    RUN(test_max_fields);
    RUN(test_line_numbers);
    RUN(test_error_status);
    RUN(test_unescape_in_place);
    RUN(test_prefix_cases);
    RUN(test_separators);
    RUN(test_reader_vs_reference);
    RUN(test_prefix_property);
    RUN(test_writer_cases);
    RUN(test_writer_round_trip);
    return check_summary();
}

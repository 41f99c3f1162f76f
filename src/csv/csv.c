/*
 * csv.c: the CSV tokenizer and writer declared in csv.h.
 *
 * Sealing streams hundreds of megabytes of CSV through here, so both halves
 * of the reading side are built for throughput:
 *
 *   - dcr_csv_complete_prefix cuts the input into blocks of whole records.
 *     A newline ends a record exactly when an even number of '"' precede it
 *     in the block: the reader only accepts quotes that open a field, close
 *     it or come in "" pairs, so until it fails its in-quote state is the
 *     parity of the quotes seen so far. Parity is cheap to compute 16 bytes
 *     at a time, so the function counts it over the whole block and then
 *     walks back from the end, newline by newline, to the last one that has
 *     an even number of quotes before it. This agreement with the reader is
 *     what lets blocks be parsed independently (and in parallel): parsing a
 *     prefix and then the rest gives the same records and the same first
 *     error as parsing the whole.
 *
 *   - The reader finds the end of an unquoted field by looking for the
 *     separator (',' unless set otherwise), '"' and '\n' 16 bytes at a time, so typical short
 * fields cost one or two steps. Quoted fields are found with memchr and unescaped in place by
 *     sliding the text left over each "" pair.
 *
 * Line numbers are physical lines: newlines inside quoted fields count, so
 * messages point at the line an editor shows. A record reports the line it
 * starts on; an error reports the line where the offending byte is, except
 * an unterminated quote, which reports where the quote was opened (the end
 * of the block says nothing useful).
 */
#include "csv/csv.h"

#include <inttypes.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* ---- scanning helpers ---- */

#if !defined(__SSE2__) && defined(__GNUC__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define CSV_SWAR 1
#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/* High bit set in each byte of x that equals b. Only the lowest flagged byte
 * is exact (a borrow can flag bytes above a match), which suffices to find
 * the first match on a little-endian load. */
static inline uint64_t swar_match_first(uint64_t x, unsigned char b)
{
    uint64_t t = x ^ (ONES * b);
    return (t - ONES) & ~t & HIGHS;
}

/* Exact variant: high bit set in precisely the bytes of x equal to b. */
static inline uint64_t swar_match_exact(uint64_t x, unsigned char b)
{
    uint64_t t = x ^ (ONES * b);
    uint64_t low7 = ~HIGHS;
    return ~(((t & low7) + low7) | t | low7);
}
#endif

/* Returns the parity (0 or 1) of the number of '"' in [p, end). */
static unsigned quote_parity(const char *p, const char *end)
{
    unsigned parity = 0;
#if defined(__SSE2__)
    const __m128i q = _mm_set1_epi8('"');
    __m128i acc = _mm_setzero_si128();
    while (end - p >= 64) {
        __m128i a = _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)p), q);
        __m128i b = _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(p + 16)), q);
        __m128i c = _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(p + 32)), q);
        __m128i d = _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(p + 48)), q);
        acc = _mm_xor_si128(acc, _mm_xor_si128(_mm_xor_si128(a, b), _mm_xor_si128(c, d)));
        p += 64;
    }
    while (end - p >= 16) {
        acc = _mm_xor_si128(acc, _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)p), q));
        p += 16;
    }
    parity = (unsigned)__builtin_popcount((unsigned)_mm_movemask_epi8(acc)) & 1u;
#elif defined(CSV_SWAR)
    uint64_t acc = 0;
    while (end - p >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        acc ^= swar_match_exact(w, '"');
        p += 8;
    }
    parity = (unsigned)__builtin_popcountll(acc) & 1u;
#endif
    for (; p < end; p++)
        parity ^= (*p == '"');
    return parity;
}

/* Returns the last '\n' in [start, end), or NULL. Records are short, so the
 * walk back from the end of a block is short too. */
static const char *last_newline(const char *start, const char *end)
{
    while (end > start) {
        end--;
        if (*end == '\n')
            return end;
    }
    return NULL;
}

/* Returns the first sep, '"' or '\n' in [p, end), or end. */
static inline char *find_special(char *p, char *end, char sep)
{
#if defined(__SSE2__)
    const __m128i comma = _mm_set1_epi8(sep), quote = _mm_set1_epi8('"');
    const __m128i nl = _mm_set1_epi8('\n');
    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)p);
        __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, comma), _mm_cmpeq_epi8(v, quote)),
                                 _mm_cmpeq_epi8(v, nl));
        unsigned bits = (unsigned)_mm_movemask_epi8(m);
        if (bits)
            return p + __builtin_ctz(bits);
        p += 16;
    }
#elif defined(CSV_SWAR)
    while (end - p >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        uint64_t m = swar_match_first(w, (unsigned char)sep) | swar_match_first(w, '"') |
                     swar_match_first(w, '\n');
        if (m)
            return p + (__builtin_ctzll(m) >> 3);
        p += 8;
    }
#endif
    while (p < end && *p != sep && *p != '"' && *p != '\n')
        p++;
    return p;
}

static uint64_t count_newlines(const char *p, const char *end)
{
    uint64_t n = 0;
    while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        n++;
        p++;
    }
    return n;
}

/* ---- complete prefix ---- */

size_t dcr_csv_complete_prefix(const char *buf, size_t len, bool at_eof)
{
    if (len == 0)
        return 0;
    const char *p = buf + len;
    unsigned before = quote_parity(buf, p); /* parity of the quotes in [buf, p) */
    /* At the end of input a final record without a line ending is complete;
     * one that ends inside an open quote is left out, and parsing the rest
     * reports the unterminated quote. */
    if (at_eof && !before)
        return len;
    for (;;) {
        const char *nl = last_newline(buf, p);
        if (!nl)
            return 0;
        before ^= quote_parity(nl + 1, p);
        if (!before)
            return (size_t)(nl + 1 - buf);
        p = nl;
    }
}

/* ---- reader ---- */

void dcr_csv_reader_init(dcr_csv_reader *r, char *block, size_t len, uint64_t first_line)
{
    r->pos = block;
    r->end = len ? block + len : block;
    r->line = first_line;
    r->sep = ',';
}

bool dcr_csv_separator_valid(char sep)
{
    return sep != '"' && sep != '\n' && sep != '\r' && sep != '\0';
}

void dcr_csv_reader_set_separator(dcr_csv_reader *r, char sep)
{
    r->sep = sep;
}

/* How a field ended, or that it is malformed. */
enum { END_SEP, END_RECORD, END_BLOCK, END_ERROR };

typedef struct {
    char *p;
    char *end;
    uint64_t line;       /* physical line at p */
    const char *why;     /* set with END_ERROR */
    uint64_t error_line; /* set with END_ERROR */
    char sep;
} cursor;

static int fail_at(cursor *c, uint64_t line, const char *why)
{
    c->why = why;
    c->error_line = line;
    return END_ERROR;
}

static int read_unquoted(cursor *c, dcr_csv_field *f)
{
    char *start = c->p;
    /* A literal ',' lets the compiler build the comparison vector once, as
     * a constant, keeping the common case as fast as before separators
     * could be chosen. */
    char *q =
        c->sep == ',' ? find_special(start, c->end, ',') : find_special(start, c->end, c->sep);
    f->ptr = start;
    f->len = (size_t)(q - start);
    f->quoted = false;
    if (q == c->end) {
        c->p = q;
        return END_BLOCK;
    }
    if (*q == c->sep) {
        c->p = q + 1;
        return END_SEP;
    }
    if (*q == '"')
        return fail_at(c, c->line, "unexpected '\"' inside an unquoted field");
    /* A CR is data unless it is part of the CRLF that ends the record. */
    if (q > start && q[-1] == '\r')
        f->len--;
    c->p = q + 1;
    c->line++;
    return END_RECORD;
}

/* After a closing quote only a separator or a line end may follow. */
static int after_closing_quote(cursor *c)
{
    char *p = c->p;
    if (p == c->end)
        return END_BLOCK;
    if (*p == c->sep) {
        c->p = p + 1;
        return END_SEP;
    }
    if (*p == '\n' || (*p == '\r' && c->end - p >= 2 && p[1] == '\n')) {
        c->p = p + (*p == '\r' ? 2 : 1);
        c->line++;
        return END_RECORD;
    }
    return fail_at(c, c->line, "unexpected character after closing quote");
}

static int read_quoted(cursor *c, dcr_csv_field *f)
{
    uint64_t open_line = c->line;
    char *start = c->p + 1; /* c->p is the opening quote */
    char *src = start, *dst = NULL, *end = c->end;
    for (;;) {
        char *q = memchr(src, '"', (size_t)(end - src));
        if (!q)
            return fail_at(c, open_line, "unterminated quoted field (opened here)");
        c->line += count_newlines(src, q);
        /* dst is set once a "" has been collapsed: from then on the text
         * lags behind its original position and must be slid left. */
        if (dst) {
            memmove(dst, src, (size_t)(q - src));
            dst += q - src;
        }
        if (end - q >= 2 && q[1] == '"') {
            if (dst)
                *dst++ = '"';
            else
                dst = q + 1; /* keep the first quote where it is */
            src = q + 2;
            continue;
        }
        f->ptr = start;
        f->len = (size_t)((dst ? dst : q) - start);
        f->quoted = true;
        c->p = q + 1;
        return after_closing_quote(c);
    }
}

dcr_status dcr_csv_next_record(dcr_csv_reader *r, dcr_csv_field *fields, size_t max_fields,
                               size_t *nfields, uint64_t *record_line, dcr_error *err)
{
    cursor c = {r->pos, r->end, r->line, NULL, 0, r->sep};
    *nfields = 0;
    *record_line = r->line;
    if (c.p >= c.end)
        return DCR_OK;
    size_t n = 0;
    for (;;) {
        if (n == max_fields)
            return dcr_fail(err, DCR_EINPUT, "line %" PRIu64 ": more than %zu fields", r->line,
                            max_fields);
        dcr_csv_field *f = &fields[n++];
        int how = (c.p < c.end && *c.p == '"') ? read_quoted(&c, f) : read_unquoted(&c, f);
        if (how == END_SEP)
            continue;
        if (how == END_ERROR)
            return dcr_fail(err, DCR_EINPUT, "line %" PRIu64 ", field %zu: %s", c.error_line, n,
                            c.why);
        r->pos = c.p;
        r->line = c.line;
        *nfields = n;
        return DCR_OK;
    }
}

/* ---- writer ---- */

static bool is_blank(char ch)
{
    return ch == ' ' || ch == '\t';
}

static bool needs_quotes(const char *s, size_t len)
{
    if (len == 0)
        return false;
    if (is_blank(s[0]) || is_blank(s[len - 1]))
        return true;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (ch == ',' || ch == '"' || ch == '\r' || ch == '\n')
            return true;
    }
    return false;
}

dcr_status dcr_csv_write_field(dcr_buf *out, const char *s, size_t len, bool force_quote,
                               dcr_error *err)
{
    if (!force_quote && !needs_quotes(s, len))
        return dcr_buf_append(out, s, len, err);
    if (len > (SIZE_MAX - 2) / 2)
        return dcr_fail(err, DCR_EINTERNAL, "CSV field too large");
    dcr_status st = dcr_buf_reserve(out, 2 * len + 2, err);
    if (st != DCR_OK)
        return st;
    char *o = (char *)out->data + out->len;
    *o++ = '"';
    for (size_t i = 0; i < len;) {
        const char *q = memchr(s + i, '"', len - i);
        size_t run = q ? (size_t)(q - (s + i)) + 1 : len - i;
        memcpy(o, s + i, run);
        o += run;
        i += run;
        if (q)
            *o++ = '"'; /* the quote just copied, doubled */
    }
    *o++ = '"';
    out->len = (size_t)(o - (char *)out->data);
    return DCR_OK;
}

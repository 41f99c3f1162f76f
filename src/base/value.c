/*
 * value.c: text <-> typed values (value.h), and the UTF-8 check.
 *
 * Every non-NULL CSV cell goes through one of these parsers while sealing,
 * so they are hand-written and allocation-free: no sscanf, strptime or
 * mktime, whose speed, locale, time zone and leniency are not ours to
 * inherit.
 *
 * DOUBLE uses Clinger's fast path: when the decimal significand w is at most
 * 2^53 and the power of ten p is at most 10^22, both are exact doubles and a
 * single IEEE multiplication or division w*p, w/p is correctly rounded. Short
 * decimals like "123.45" (nearly all real data) take that path. Anything
 * else is rewritten into a canonical "DIGITSeEXP" string (significant digits
 * only, at most MAX_SIG of them plus a sticky digit) and handed to strtod,
 * which is correctly rounded in glibc. Validating the syntax first keeps
 * strtod's extras (hex floats, "nan(...)", leading space, locale decimal
 * points) out, and the canonical form bounds the copy however long the input.
 *
 * Dates are days since 1970-01-01 via the days-from-civil arithmetic of
 * Howard Hinnant's "chrono-compatible low-level date algorithms" (base/calendar.h); timestamps
 * are microseconds on top of that. Formatting uses floor division so times
 * before 1970 come out right.
 *
 * Reasons are static strings: the caller adds the file, line, column and
 * (quoted) value.
 */
#include "base/value.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/calendar.h"
#include "base/types.h"

#define R_EMPTY "empty"

/* Strips leading and trailing spaces and tabs; false if nothing is left. */
static bool trim(const char **s, size_t *len)
{
    if (*len == 0)
        return false;
    const char *p = *s, *end = *s + *len;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *s = p;
    *len = (size_t)(end - p);
    return p < end;
}

static inline unsigned digit(char c)
{
    return (unsigned)(unsigned char)c - '0'; /* > 9 when not a digit */
}

/* Reads exactly n digits at p (the caller checked they are in bounds). */
static bool read_digits(const char *p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        unsigned d = digit(p[i]);
        if (d > 9)
            return false;
        v = v * 10 + (int)d;
    }
    *out = v;
    return true;
}

/* Writes v as exactly n digits, zero-padded (v < 10^n). */
static char *put_digits(char *o, unsigned v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        o[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return o + n;
}

/* ---- BIGINT ---- */

#define R_NOT_INT "not an integer"
#define R_INT_RANGE "out of range for BIGINT"

const char *dcr_parse_bigint(const char *s, size_t len, int64_t *out)
{
    if (!trim(&s, &len))
        return R_EMPTY;
    const char *p = s, *end = s + len;
    bool neg = *p == '-';
    if (*p == '+' || *p == '-')
        p++;
    if (p == end)
        return R_NOT_INT;
    while (p < end && *p == '0')
        p++;
    uint64_t v = 0;
    size_t nd = 0; /* significant digits; 19 always fit in uint64_t */
    for (; p < end; p++, nd++) {
        unsigned d = digit(*p);
        if (d > 9)
            return R_NOT_INT;
        if (nd < 19)
            v = v * 10 + d;
    }
    if (nd > 19)
        return R_INT_RANGE;
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    if (v > limit)
        return R_INT_RANGE;
    if (!neg)
        *out = (int64_t)v;
    else
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    return NULL;
}

static size_t put_u64(char *o, uint64_t u)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    for (size_t i = 0; i < n; i++)
        o[i] = tmp[n - 1 - i];
    return n;
}

size_t dcr_format_bigint(int64_t v, char *out)
{
    size_t n = 0;
    uint64_t u = (uint64_t)v;
    if (v < 0) {
        out[n++] = '-';
        u = 0 - u;
    }
    n += put_u64(out + n, u);
    out[n] = '\0';
    return n;
}

/* ---- DOUBLE ---- */

#define R_NOT_NUM "not a number"
#define R_DBL_RANGE "out of range for DOUBLE PRECISION"

/* Enough significant digits to round correctly: an exact binary64 value
 * has at most 767 of them, so digits past MAX_SIG only matter through
 * whether they are all zero (the sticky digit). */
#define MAX_SIG 780
/* Exponents are accumulated up to this and then saturate; far beyond any
 * magnitude the digit counts of a real input could compensate. */
#define EXP_SAT 100000000000000000LL

static const double pow10_exact[] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

static const uint64_t pow10_u64[] = {
    1ULL,
    10ULL,
    100ULL,
    1000ULL,
    10000ULL,
    100000ULL,
    1000000ULL,
    10000000ULL,
    100000000ULL,
    1000000000ULL,
    10000000000ULL,
    100000000000ULL,
    1000000000000ULL,
    10000000000000ULL,
    100000000000000ULL,
    1000000000000000ULL,
};

/* The validated shape of a decimal number: value = w * 10^e10 when !trunc
 * (w holds the first 19 significant digits). */
typedef struct {
    const char *digits_end; /* end of the mantissa text */
    uint64_t w;
    int64_t e10;
    int64_t exp; /* the explicit exponent alone */
    bool trunc;  /* nonzero digits beyond the 19 in w */
} decimal;

static const char *scan_exponent(const char **pp, const char *end, int64_t *exp)
{
    const char *p = *pp;
    *exp = 0;
    if (p == end || (*p != 'e' && *p != 'E'))
        return NULL;
    p++;
    bool neg = p < end && *p == '-';
    if (p < end && (*p == '+' || *p == '-'))
        p++;
    if (p == end || digit(*p) > 9)
        return R_NOT_NUM;
    int64_t v = 0;
    for (; p < end && digit(*p) <= 9; p++)
        if (v < EXP_SAT)
            v = v * 10 + digit(*p);
    *exp = neg ? -v : v;
    *pp = p;
    return NULL;
}

/* Parses [+-] already consumed: digits [. digits] [e [+-] digits]. */
static const char *scan_decimal(const char *p, const char *end, decimal *d)
{
    uint64_t w = 0;
    int nsig = 0;
    int64_t e10 = 0;
    bool any = false, trunc = false;
    for (; p < end && digit(*p) <= 9; p++) {
        unsigned v = digit(*p);
        any = true;
        if (nsig < 19 && (w || v)) {
            w = w * 10 + v;
            nsig++;
        } else if (nsig >= 19) {
            trunc |= v != 0;
            e10++;
        }
    }
    if (p < end && *p == '.') {
        for (p++; p < end && digit(*p) <= 9; p++) {
            unsigned v = digit(*p);
            any = true;
            if (nsig < 19) {
                if (w || v) {
                    w = w * 10 + v;
                    nsig++;
                }
                e10--;
            } else {
                trunc |= v != 0;
            }
        }
    }
    if (!any)
        return R_NOT_NUM;
    d->digits_end = p;
    const char *why = scan_exponent(&p, end, &d->exp);
    if (why || p != end)
        return R_NOT_NUM;
    d->w = w;
    d->e10 = e10 + d->exp;
    d->trunc = trunc;
    return NULL;
}

/* Clinger's fast path; false when it does not apply. */
static bool fast_double(const decimal *d, double *out)
{
#if FLT_EVAL_METHOD == 0
    const uint64_t two53 = (uint64_t)1 << 53;
    if (d->trunc || d->w > two53)
        return false;
    uint64_t w = d->w;
    int64_t e = d->e10;
    if (e > 22 && e <= 22 + 15) {
        /* 1e30 is 1e8 * 1e22: move the excess into w while it stays exact. */
        uint64_t scale = pow10_u64[e - 22];
        if (w > two53 / scale)
            return false;
        w *= scale;
        e = 22;
    }
    if (e < -22 || e > 22)
        return false;
    double v = (double)w;
    *out = e < 0 ? v / pow10_exact[-e] : v * pow10_exact[e];
    return true;
#else
    (void)d;
    (void)out;
    return false; /* x87 double rounding would break correct rounding */
#endif
}

/* Rewrites the mantissa text [p, d->digits_end) as "DIGITSeEXP" and lets
 * strtod round it. */
static const char *slow_double(const char *p, const decimal *d, double *out)
{
    char buf[MAX_SIG + 2 + 32];
    size_t n = 0;
    int64_t e = d->exp;
    bool sticky = false, frac = false;
    for (; p < d->digits_end; p++) {
        if (*p == '.') {
            frac = true;
            continue;
        }
        if (n == 0 && *p == '0') {
            e -= frac;
            continue;
        }
        if (n < MAX_SIG) {
            buf[n++] = *p;
            e -= frac;
        } else {
            sticky |= *p != '0';
            e += !frac;
        }
    }
    if (sticky) {
        buf[n++] = '1';
        e--;
    }
    /* The value lies in [10^(n+e-1), 10^(n+e)). */
    if ((int64_t)n + e > 310)
        return R_DBL_RANGE;
    if ((int64_t)n + e < -330) {
        *out = 0.0;
        return NULL;
    }
    snprintf(buf + n, sizeof buf - n, "e%lld", (long long)e);
    double v = strtod(buf, NULL);
    if (isinf(v))
        return R_DBL_RANGE;
    *out = v;
    return NULL;
}

static bool ieq(const char *s, size_t len, const char *lower)
{
    size_t n = strlen(lower);
    if (len != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != lower[i])
            return false;
    }
    return true;
}

const char *dcr_parse_double(const char *s, size_t len, double *out)
{
    if (!trim(&s, &len))
        return R_EMPTY;
    const char *p = s, *end = s + len;
    bool neg = *p == '-';
    if (*p == '+' || *p == '-')
        p++;
    if (p < end && digit(*p) > 9 && *p != '.') {
        size_t n = (size_t)(end - p);
        if (ieq(p, n, "nan")) {
            *out = NAN;
            return NULL;
        }
        if (ieq(p, n, "inf") || ieq(p, n, "infinity")) {
            *out = neg ? -INFINITY : INFINITY;
            return NULL;
        }
        return R_NOT_NUM;
    }
    decimal d;
    const char *why = scan_decimal(p, end, &d);
    if (why)
        return why;
    double v = 0.0;
    if (d.w != 0 && !fast_double(&d, &v)) {
        why = slow_double(p, &d, &v);
        if (why)
            return why;
    }
    *out = neg ? -v : v;
    return NULL;
}

static size_t put_str(char *out, const char *s)
{
    size_t n = strlen(s);
    memcpy(out, s, n + 1);
    return n;
}

size_t dcr_format_double(double v, char *out)
{
    if (isnan(v))
        return put_str(out, "NaN");
    if (isinf(v))
        return put_str(out, v < 0 ? "-Infinity" : "Infinity");
    if (v == 0)
        return put_str(out, signbit(v) ? "-0" : "0");
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(out, DCR_VALUE_TEXT_MAX, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            break;
    }
    return (size_t)n;
}

/* ---- BOOLEAN ---- */

const char *dcr_parse_bool(const char *s, size_t len, bool *out)
{
    static const struct {
        const char *text;
        bool value;
    } words[] = {
        {"t", true},  {"true", true},   {"yes", true}, {"on", true},   {"1", true},
        {"f", false}, {"false", false}, {"no", false}, {"off", false}, {"0", false},
    };
    if (!trim(&s, &len))
        return R_EMPTY;
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        if (ieq(s, len, words[i].text)) {
            *out = words[i].value;
            return NULL;
        }
    }
    return "not a boolean (use true/false)";
}

size_t dcr_format_bool(bool v, char *out)
{
    return put_str(out, v ? "true" : "false");
}

/* ---- DATE ---- */

#define R_NOT_DATE "not a date (use YYYY-MM-DD)"
#define R_NOT_TS "not a timestamp (use YYYY-MM-DD HH:MM:SS[.ffffff])"

/* Parses "YYYY-MM-DD" at p (10 bytes available); syntax is the reason for
 * malformed text, since DATE and TIMESTAMP word it differently. */
static const char *parse_ymd(const char *p, const char *syntax, int64_t *days)
{
    int y, m, d;
    if (!read_digits(p, 4, &y) || p[4] != '-' || !read_digits(p + 5, 2, &m) || p[7] != '-' ||
        !read_digits(p + 8, 2, &d))
        return syntax;
    if (y < 1)
        return "year out of range (0001-9999)";
    if (m < 1 || m > 12)
        return "month out of range";
    if (d < 1 || d > dcr_days_in_month(y, m))
        return "day out of range for month";
    *days = dcr_days_from_civil(y, m, d);
    return NULL;
}

const char *dcr_parse_date(const char *s, size_t len, int32_t *days)
{
    if (!trim(&s, &len))
        return R_EMPTY;
    if (len != 10)
        return R_NOT_DATE;
    int64_t v;
    const char *why = parse_ymd(s, R_NOT_DATE, &v);
    if (why)
        return why;
    *days = (int32_t)v;
    return NULL;
}

/* Writes the date of day z; years outside 0..9999 (never produced by the
 * parsers) are written with a sign or more digits rather than garbled. */
static size_t put_date(char *out, int64_t z)
{
    int64_t y, m, d;
    dcr_civil_from_days(z, &y, &m, &d);
    size_t n;
    if (y >= 0 && y <= 9999)
        n = (size_t)(put_digits(out, (unsigned)y, 4) - out);
    else
        n = (size_t)snprintf(out, 24, "%lld", (long long)y);
    out[n] = '-';
    put_digits(out + n + 1, (unsigned)m, 2);
    out[n + 3] = '-';
    put_digits(out + n + 4, (unsigned)d, 2);
    out[n + 6] = '\0';
    return n + 6;
}

size_t dcr_format_date(int32_t days, char *out)
{
    return put_date(out, days);
}

/* ---- TIMESTAMP ---- */

#define USEC_PER_SEC 1000000LL
#define USEC_PER_DAY 86400000000LL

typedef struct {
    int hour, minute, second, usec;
    int offset_sec; /* east of UTC */
} clock_time;

/* Parses ".f" to ".ffffff" at *pp (pointing at the '.'). */
static const char *parse_fraction(const char **pp, const char *end, int *usec)
{
    const char *p = *pp + 1, *start = p;
    int v = 0;
    while (p < end && digit(*p) <= 9) {
        if (p - start == 6)
            return "more than 6 fractional digits";
        v = v * 10 + (int)digit(*p);
        p++;
    }
    int n = (int)(p - start);
    if (n == 0)
        return R_NOT_TS;
    while (n++ < 6)
        v *= 10;
    *usec = v;
    *pp = p;
    return NULL;
}

/* Parses "HH:MM[:SS[.ffffff]]" at *pp. */
static const char *parse_clock(const char **pp, const char *end, clock_time *t)
{
    const char *p = *pp;
    if (end - p < 5 || !read_digits(p, 2, &t->hour) || p[2] != ':' ||
        !read_digits(p + 3, 2, &t->minute))
        return R_NOT_TS;
    p += 5;
    if (p < end && *p == ':') {
        if (end - p < 3 || !read_digits(p + 1, 2, &t->second))
            return R_NOT_TS;
        p += 3;
        if (p < end && *p == '.') {
            const char *why = parse_fraction(&p, end, &t->usec);
            if (why)
                return why;
        }
    }
    *pp = p;
    return NULL;
}

/* Parses "Z", "+HH", "+HHMM" or "+HH:MM" (or '-') filling [p, end). */
static const char *parse_offset(const char *p, const char *end, clock_time *t)
{
    if (end - p == 1 && (*p == 'Z' || *p == 'z'))
        return NULL;
    if (*p != '+' && *p != '-')
        return R_NOT_TS;
    int sign = *p == '-' ? -1 : 1, hh, mm = 0;
    size_t n = (size_t)(end - p - 1);
    const char *q = p + 1;
    bool ok = n >= 2 && read_digits(q, 2, &hh);
    if (ok && n == 4)
        ok = read_digits(q + 2, 2, &mm);
    else if (ok && n == 5)
        ok = q[2] == ':' && read_digits(q + 3, 2, &mm);
    else if (n != 2)
        ok = false;
    if (!ok)
        return R_NOT_TS;
    if (hh > 15 || mm > 59)
        return "time zone offset out of range";
    t->offset_sec = sign * (hh * 3600 + mm * 60);
    return NULL;
}

static const char *check_clock(const clock_time *t)
{
    if (t->hour > 23)
        return "hour out of range";
    if (t->minute > 59)
        return "minute out of range";
    if (t->second > 59)
        return "second out of range";
    return NULL;
}

const char *dcr_parse_timestamp(const char *s, size_t len, int64_t *micros)
{
    if (!trim(&s, &len))
        return R_EMPTY;
    const char *p = s, *end = s + len;
    if (len < 10)
        return R_NOT_TS;
    int64_t days;
    const char *why = parse_ymd(p, R_NOT_TS, &days);
    if (why)
        return why;
    p += 10;
    clock_time t = {0, 0, 0, 0, 0};
    if (p < end && (*p == ' ' || *p == 'T' || *p == 't')) {
        p++;
        why = parse_clock(&p, end, &t);
        if (why)
            return why;
        if (p < end && *p == ' ') /* "12:00:00 +02:00", as date(1) writes it */
            p++;
    }
    if (p < end && (why = parse_offset(p, end, &t)) != NULL)
        return why;
    if ((why = check_clock(&t)) != NULL)
        return why;
    int64_t secs = days * 86400 + t.hour * 3600 + t.minute * 60 + t.second - t.offset_sec;
    int64_t v = secs * USEC_PER_SEC + t.usec;
    /* Only an offset can get here; the stored range is what the decoder
     * accepts, and what the formatter can write back in parseable form. */
    if (v < DCR_TIMESTAMP_MIN || v > DCR_TIMESTAMP_MAX)
        return "out of range after time zone offset (0001-01-01 to 9999-12-31 UTC)";
    *micros = v;
    return NULL;
}

size_t dcr_format_timestamp(int64_t micros, char *out)
{
    int64_t days = micros / USEC_PER_DAY, rem = micros % USEC_PER_DAY;
    if (rem < 0) { /* floor division: 1969-12-31 23:59:59 is day -1 */
        rem += USEC_PER_DAY;
        days--;
    }
    size_t n = put_date(out, days);
    int64_t secs = rem / USEC_PER_SEC;
    unsigned usec = (unsigned)(rem % USEC_PER_SEC);
    char *o = out + n;
    *o++ = ' ';
    o = put_digits(o, (unsigned)(secs / 3600), 2);
    *o++ = ':';
    o = put_digits(o, (unsigned)(secs / 60 % 60), 2);
    *o++ = ':';
    o = put_digits(o, (unsigned)(secs % 60), 2);
    if (usec) {
        int digits = 6;
        while (usec % 10 == 0) {
            usec /= 10;
            digits--;
        }
        *o++ = '.';
        o = put_digits(o, usec, digits);
    }
    *o = '\0';
    return (size_t)(o - out);
}

/* ---- UTF-8 ---- */

/* Length of the valid sequence starting at p (n bytes left), or 0. The
 * ranges are those of the Unicode standard's Table 3-7. */
static size_t utf8_sequence(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    unsigned lo = 0x80, hi = 0xBF;
    size_t need;
    if (c < 0xC2) /* stray continuation byte, or overlong C0/C1 */
        return 0;
    if (c < 0xE0) {
        need = 2;
    } else if (c < 0xF0) {
        need = 3;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        if (c == 0xED)
            hi = 0x9F; /* surrogates */
    } else if (c < 0xF5) {
        need = 4;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        if (c == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
    } else {
        return 0;
    }
    if (n < need || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < need; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    return need;
}

size_t dcr_utf8_check(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        /* ASCII runs 32 bytes at a time (four words OR'ed: one test), then 8 */
        while (len - i >= 32) {
            uint64_t w[4];
            memcpy(w, p + i, 32);
            if ((w[0] | w[1] | w[2] | w[3]) & UINT64_C(0x8080808080808080))
                break;
            i += 32;
        }
        while (len - i >= 8) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            if (w & UINT64_C(0x8080808080808080))
                break;
            i += 8;
        }
        while (i < len && p[i] < 0x80)
            i++;
        if (i == len)
            break;
        size_t n = utf8_sequence(p + i, len - i);
        if (!n)
            return i;
        i += n;
    }
    return len;
}

/*
 * test_value.c: the typed value parsers and formatters, and the UTF-8 check.
 *
 * Each type has an accept table (text -> exact value) and a refuse table
 * (text -> the reason given), with the range boundaries on both sides.
 * Round trips (format -> parse -> identical value) run over random values;
 * the DOUBLE parser is compared bit for bit with glibc's strtod on random
 * decimals, which exercises both the exact fast path and the fallback; DATE
 * arithmetic is compared with timegm; the UTF-8 check with a straightforward
 * decoder on every string of up to three bytes.
 */
#define _GNU_SOURCE /* timegm */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/types.h"
#include "check.h"
#include "base/value.h"

static uint64_t rng = 0x2545F4914F6CDD1DULL;

static uint64_t next_rand(void)
{
    uint64_t z = (rng += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Reports which input broke an expectation, since tables hide the line. */
#define CHECK_IN(cond, input)                                                                      \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fprintf(stderr, "  input \"%s\":\n", (input));                                         \
        CHECK(cond);                                                                               \
    } while (0)

static bool reason_is(const char *got, const char *want)
{
    return got && strcmp(got, want) == 0;
}

/* ---- BIGINT ---- */

static void test_bigint(void)
{
    static const struct {
        const char *text;
        int64_t value;
    } ok[] = {
        {"0", 0},
        {"-0", 0},
        {"+5", 5},
        {"42", 42},
        {" 42 ", 42},
        {"\t-7\t", -7},
        {"0009", 9},
        {"000000000000000000000000123", 123},
        {"9223372036854775807", INT64_MAX},
        {"-9223372036854775808", INT64_MIN},
        {"+9223372036854775807", INT64_MAX},
        {"-9223372036854775807", -INT64_MAX},
        {"1000000000000000000", 1000000000000000000LL},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t v = 12345;
        const char *why = dcr_parse_bigint(ok[i].text, strlen(ok[i].text), &v);
        CHECK_IN(why == NULL && v == ok[i].value, ok[i].text);
    }
    static const struct {
        const char *text, *why;
    } bad[] = {
        {"", "empty"},
        {" \t ", "empty"},
        {"9223372036854775808", "out of range for BIGINT"},
        {"-9223372036854775809", "out of range for BIGINT"},
        {"18446744073709551616", "out of range for BIGINT"},
        {"99999999999999999999", "out of range for BIGINT"},
        {"-99999999999999999999999", "out of range for BIGINT"},
        {"99999999999999999999x", "not an integer"},
        {"1.0", "not an integer"},
        {"1e3", "not an integer"},
        {"abc", "not an integer"},
        {"+", "not an integer"},
        {"-", "not an integer"},
        {"--1", "not an integer"},
        {"+-1", "not an integer"},
        {"1 2", "not an integer"},
        {"0x10", "not an integer"},
        {"1_000", "not an integer"},
        {"\xef\xbc\x91", "not an integer"}, /* fullwidth digit one */
        {"5\n", "not an integer"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t v = 777;
        const char *why = dcr_parse_bigint(bad[i].text, strlen(bad[i].text), &v);
        CHECK_IN(reason_is(why, bad[i].why) && v == 777, bad[i].text);
    }
    /* the length bounds the parse: a digit just past it is not read */
    int64_t v;
    CHECK(dcr_parse_bigint("12x", 2, &v) == NULL && v == 12);
    CHECK(reason_is(dcr_parse_bigint(NULL, 0, &v), "empty"));
}

static void test_bigint_format(void)
{
    char buf[DCR_VALUE_TEXT_MAX];
    CHECK(dcr_format_bigint(0, buf) == 1 && strcmp(buf, "0") == 0);
    CHECK(dcr_format_bigint(-42, buf) == 3 && strcmp(buf, "-42") == 0);
    CHECK(dcr_format_bigint(INT64_MAX, buf) == 19 && strcmp(buf, "9223372036854775807") == 0);
    CHECK(dcr_format_bigint(INT64_MIN, buf) == 20 && strcmp(buf, "-9223372036854775808") == 0);
    for (int i = 0; i < 200000; i++) {
        uint64_t r = next_rand();
        int64_t x = (int64_t)(r >> (r % 64)) * (r & 1 ? -1 : 1), y = 0;
        size_t n = dcr_format_bigint(x, buf);
        char ref[32];
        snprintf(ref, sizeof ref, "%" PRId64, x);
        CHECK(strcmp(buf, ref) == 0 && n == strlen(ref));
        CHECK(dcr_parse_bigint(buf, n, &y) == NULL && y == x);
    }
}

/* ---- DOUBLE ---- */

static bool same_bits(double a, double b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    uint64_t x, y;
    memcpy(&x, &a, 8);
    memcpy(&y, &b, 8);
    return x == y;
}

static void test_double_accept(void)
{
    static const struct {
        const char *text;
        double value;
    } ok[] = {
        {"0", 0.0},
        {"-0", -0.0},
        {"-0.000e5", -0.0},
        {"0e999999999999999999999", 0.0},
        {"1.5", 1.5},
        {".5", 0.5},
        {"5.", 5.0},
        {"+3", 3.0},
        {"  2.5\t", 2.5},
        {"123.45", 123.45},
        {"-123.45", -123.45},
        {"0.1", 0.1},
        {"1e10", 1e10},
        {"1E-5", 1e-5},
        {"1e+22", 1e22},
        {"1e23", 1e23},
        {"1e30", 1e30},
        {"9007199254740992", 9007199254740992.0},
        {"9007199254740993", 9007199254740992.0}, /* ties to even */
        {"9007199254740995", 9007199254740996.0},
        {"1.7976931348623157e308", DBL_MAX},
        {"1.7976931348623158e308", DBL_MAX},
        {"2.2250738585072014e-308", DBL_MIN},
        {"2.2250738585072011e-308", 2.2250738585072011e-308},
        {"4.9e-324", 4.9406564584124654e-324},
        {"4.9406564584124654e-324", 4.9406564584124654e-324},
        {"2e-324", 0.0}, /* below half the smallest denormal */
        {"3e-324", 4.9406564584124654e-324},
        {"1e-400", 0.0},
        {"-1e-400", -0.0},
        {"00000000000000000000000000000000000001.5", 1.5},
        {"1.00000000000000000000000000000000000001", 1.0},
        {"123456789012345678901234567890", 123456789012345678901234567890.0},
        {"0.000000000000000000000000000001", 1e-30},
        {"Infinity", INFINITY},
        {"-Infinity", -INFINITY},
        {"+infinity", INFINITY},
        {"inf", INFINITY},
        {"-INF", -INFINITY},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        double v = 12345;
        const char *why = dcr_parse_double(ok[i].text, strlen(ok[i].text), &v);
        CHECK_IN(why == NULL && same_bits(v, ok[i].value), ok[i].text);
    }
    static const char *nans[] = {"NaN", "nan", "NAN", "-NaN", "+nan", " NaN "};
    for (size_t i = 0; i < sizeof nans / sizeof nans[0]; i++) {
        double v = 0;
        CHECK_IN(dcr_parse_double(nans[i], strlen(nans[i]), &v) == NULL && isnan(v), nans[i]);
    }
}

static void test_double_refuse(void)
{
    static const struct {
        const char *text, *why;
    } bad[] = {
        {"", "empty"},
        {"  ", "empty"},
        {"1e309", "out of range for DOUBLE PRECISION"},
        {"-1e309", "out of range for DOUBLE PRECISION"},
        {"1.8e308", "out of range for DOUBLE PRECISION"},
        {"1.7976931348623159e308", "out of range for DOUBLE PRECISION"},
        {"1e99999999999999999999999", "out of range for DOUBLE PRECISION"},
        {"0x1p3", "not a number"},
        {"0x10", "not a number"},
        {"nan(123)", "not a number"},
        {"nana", "not a number"},
        {"infinit", "not a number"},
        {"infinityy", "not a number"},
        {"1e", "not a number"},
        {"1e+", "not a number"},
        {"1e-", "not a number"},
        {"e5", "not a number"},
        {".", "not a number"},
        {"-", "not a number"},
        {"+", "not a number"},
        {"-.", "not a number"},
        {".e1", "not a number"},
        {"1.2.3", "not a number"},
        {"1,5", "not a number"},
        {"1 2", "not a number"},
        {"--1", "not a number"},
        {"+-1", "not a number"},
        {"1d", "not a number"},
        {"1f", "not a number"},
        {"1e5.5", "not a number"},
        {"\xc2\xa0"
         "1",
         "not a number"}, /* no-break space is not trimmed */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double v = 777;
        const char *why = dcr_parse_double(bad[i].text, strlen(bad[i].text), &v);
        CHECK_IN(reason_is(why, bad[i].why) && v == 777, bad[i].text);
    }
}

static void test_double_long_inputs(void)
{
    /* longer than any internal buffer; only the first 780 significant
     * digits and whether the rest are all zero matter */
    static char buf[5000];
    double v = 0;
    size_t n = 0;
    buf[n++] = '0';
    buf[n++] = '.';
    for (int i = 0; i < 2000; i++)
        buf[n++] = '0';
    buf[n++] = '1';
    CHECK(dcr_parse_double(buf, n, &v) == NULL && v == 0.0);
    memcpy(buf + n, "e2000", 5);
    CHECK(dcr_parse_double(buf, n + 5, &v) == NULL && v == 0.1);

    /* 1 followed by 3000 zeros, then e-3000 */
    n = 0;
    buf[n++] = '1';
    for (int i = 0; i < 3000; i++)
        buf[n++] = '0';
    CHECK(reason_is(dcr_parse_double(buf, n, &v), "out of range for DOUBLE PRECISION"));
    memcpy(buf + n, "e-3000", 6);
    CHECK(dcr_parse_double(buf, n + 6, &v) == NULL && v == 1.0);

    /* the exact halfway point between 1 and its successor, then a nonzero
     * digit far beyond the kept digits: must round up, not to even */
    static const char half[] = "1.00000000000000011102230246251565404236316680908203125";
    n = strlen(half); /* 1 + 2^-53 exactly */
    memcpy(buf, half, n);
    double exact = 0;
    CHECK(dcr_parse_double(buf, n, &exact) == NULL && exact == 1.0);
    while (n < 1500)
        buf[n++] = '0';
    buf[n++] = '1';
    CHECK(dcr_parse_double(buf, n, &v) == NULL && v == 1.0 + DBL_EPSILON);
}

static void test_double_format(void)
{
    static const struct {
        double value;
        const char *text;
    } cases[] = {
        {0.0, "0"},
        {-0.0, "-0"},
        {1.0, "1"},
        {-1.5, "-1.5"},
        {0.1, "0.1"},
        {123.45, "123.45"},
        {1e21, "1e+21"},
        {1.0 / 3, "0.3333333333333333"},
        {DBL_MAX, "1.7976931348623157e+308"},
        {4.9406564584124654e-324, "4.94065645841247e-324"},
        {INFINITY, "Infinity"},
        {-INFINITY, "-Infinity"},
        {NAN, "NaN"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[DCR_VALUE_TEXT_MAX];
        size_t n = dcr_format_double(cases[i].value, buf);
        CHECK_IN(strcmp(buf, cases[i].text) == 0 && n == strlen(buf), cases[i].text);
    }
}

static bool double_round_trips(double x)
{
    char buf[DCR_VALUE_TEXT_MAX + 8];
    memset(buf, 'Z', sizeof buf);
    size_t n = dcr_format_double(x, buf);
    double y = 0;
    return n < DCR_VALUE_TEXT_MAX && buf[n] == '\0' && dcr_parse_double(buf, n, &y) == NULL &&
           same_bits(x, y);
}

static void test_double_round_trip(void)
{
    int failures = 0;
    for (int i = 0; i < 1000000; i++) {
        uint64_t bits = next_rand();
        if (i % 4 == 1) /* values near 1, where short decimals live */
            bits = (bits & 0x000FFFFFFFFFFFFFULL) | (uint64_t)(1023 + (int)(bits >> 60) - 8) << 52;
        if (i % 4 == 2) /* denormals */
            bits &= 0x800FFFFFFFFFFFFFULL;
        double x;
        memcpy(&x, &bits, 8);
        if (!double_round_trips(x) && failures++ < 5)
            fprintf(stderr, "  no round trip for %a\n", x);
    }
    static const double special[] = {0.0,          -0.0,     DBL_MIN,           DBL_MAX, -DBL_MAX,
                                     DBL_TRUE_MIN, INFINITY, -INFINITY,         NAN,     0.1,
                                     5e-324,       1e23,     9007199254740993.0};
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++)
        if (!double_round_trips(special[i]))
            failures++;
    CHECK(failures == 0);
}

/* Random decimal text of the shape [-]digits[.digits][e[+-]dd]. */
static size_t random_decimal(char *buf, bool long_digits)
{
    size_t n = 0;
    if (next_rand() % 4 == 0)
        buf[n++] = '-';
    int ndig = 1 + (int)(next_rand() % (long_digits ? 40 : 17));
    int dot = (int)(next_rand() % (ndig + 2)) - 1; /* -1: no dot */
    if (dot == 0 && next_rand() % 2)
        buf[n++] = '0';
    for (int i = 0; i < ndig; i++) {
        if (i == dot)
            buf[n++] = '.';
        buf[n++] = (char)('0' + next_rand() % 10);
    }
    if (dot == ndig)
        buf[n++] = '.';
    if (next_rand() % 2)
        n += (size_t)sprintf(buf + n, "e%d", (int)(next_rand() % 70) - 35);
    else if (next_rand() % 8 == 0)
        n += (size_t)sprintf(buf + n, "e%d", (int)(next_rand() % 700) - 350);
    buf[n] = '\0';
    return n;
}

static void test_double_vs_strtod(void)
{
    int failures = 0;
    for (int i = 0; i < 400000; i++) {
        char buf[128];
        size_t n = random_decimal(buf, i % 5 == 0);
        double want = strtod(buf, NULL), got = 0;
        const char *why = dcr_parse_double(buf, n, &got);
        bool ok = isinf(want) ? reason_is(why, "out of range for DOUBLE PRECISION")
                              : why == NULL && same_bits(got, want);
        if (!ok && failures++ < 5)
            fprintf(stderr, "  %s: strtod %a, dcr %a (%s)\n", buf, want, got, why ? why : "ok");
    }
    CHECK(failures == 0);
}

/* ---- BOOLEAN ---- */

static void test_bool(void)
{
    static const char *yes[] = {"t",   "T",  "true", "TRUE", "True",   "yes",
                                "YES", "on", "On",   "1",    " true ", "\tt"};
    static const char *no[] = {"f", "F", "false", "FALSE", "no", "No", "off", "OFF", "0", " 0 "};
    static const char *bad[] = {"tru", "yess",      "2",  "-1",  "o",       "n",
                                "y",   "truefalse", "01", "t r", "\xc3\xa9"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        bool v = false;
        CHECK_IN(dcr_parse_bool(yes[i], strlen(yes[i]), &v) == NULL && v, yes[i]);
    }
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        bool v = true;
        CHECK_IN(dcr_parse_bool(no[i], strlen(no[i]), &v) == NULL && !v, no[i]);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bool v = true;
        CHECK_IN(
            reason_is(dcr_parse_bool(bad[i], strlen(bad[i]), &v), "not a boolean (use true/false)"),
            bad[i]);
    }
    bool v;
    CHECK(reason_is(dcr_parse_bool(" ", 1, &v), "empty"));
    CHECK(dcr_parse_bool("truex", 4, &v) == NULL && v);
    char buf[DCR_VALUE_TEXT_MAX];
    CHECK(dcr_format_bool(true, buf) == 4 && strcmp(buf, "true") == 0);
    CHECK(dcr_format_bool(false, buf) == 5 && strcmp(buf, "false") == 0);
}

/* ---- DATE ---- */

static void test_date(void)
{
    static const struct {
        const char *text;
        int32_t days;
    } ok[] = {
        {"1970-01-01", 0},
        {"1970-01-02", 1},
        {"1969-12-31", -1},
        {"0001-01-01", DCR_DATE_MIN},
        {"9999-12-31", DCR_DATE_MAX},
        {"2000-01-01", 10957},
        {"2024-02-29", 19782},
        {"2000-02-29", 11016},
        {"2024-03-01", 19783},
        {" 2024-03-01\t", 19783},
        {"1600-02-29", -135081},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int32_t v = 12345;
        CHECK_IN(dcr_parse_date(ok[i].text, strlen(ok[i].text), &v) == NULL && v == ok[i].days,
                 ok[i].text);
    }
    static const struct {
        const char *text, *why;
    } bad[] = {
        {"", "empty"},
        {"2023-02-29", "day out of range for month"},
        {"1900-02-29", "day out of range for month"},
        {"2024-04-31", "day out of range for month"},
        {"2024-01-32", "day out of range for month"},
        {"2024-01-00", "day out of range for month"},
        {"2024-13-01", "month out of range"},
        {"2024-00-10", "month out of range"},
        {"0000-01-01", "year out of range (0001-9999)"},
        {"10000-01-01", "not a date (use YYYY-MM-DD)"},
        {"2024-1-01", "not a date (use YYYY-MM-DD)"},
        {"2024-01-1", "not a date (use YYYY-MM-DD)"},
        {"2024/01/01", "not a date (use YYYY-MM-DD)"},
        {"20240101", "not a date (use YYYY-MM-DD)"},
        {"2024-01-01x", "not a date (use YYYY-MM-DD)"},
        {"2024-01-01 00:00:00", "not a date (use YYYY-MM-DD)"},
        {"-001-01-01", "not a date (use YYYY-MM-DD)"},
        {"+2024-01-0", "not a date (use YYYY-MM-DD)"},
        {"2024-0a-01", "not a date (use YYYY-MM-DD)"},
        {"01/02/2024", "not a date (use YYYY-MM-DD)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int32_t v = 777;
        const char *why = dcr_parse_date(bad[i].text, strlen(bad[i].text), &v);
        CHECK_IN(reason_is(why, bad[i].why) && v == 777, bad[i].text);
    }
}

static void test_date_all_days(void)
{
    /* every representable date round-trips, and the arithmetic agrees with
     * timegm on every 97th day */
    int failures = 0;
    char buf[DCR_VALUE_TEXT_MAX];
    for (int32_t d = DCR_DATE_MIN; d <= DCR_DATE_MAX; d++) {
        size_t n = dcr_format_date(d, buf);
        int32_t back = 0;
        bool ok = n == 10 && dcr_parse_date(buf, n, &back) == NULL && back == d;
        if (ok && d % 97 == 0) {
            struct tm tm = {0};
            tm.tm_year = atoi(buf) - 1900;
            tm.tm_mon = atoi(buf + 5) - 1;
            tm.tm_mday = atoi(buf + 8);
            ok = timegm(&tm) == (time_t)d * 86400;
        }
        if (!ok && failures++ < 5)
            fprintf(stderr, "  day %d -> %s\n", (int)d, buf);
    }
    CHECK(failures == 0);
    CHECK(dcr_format_date(0, buf) == 10 && strcmp(buf, "1970-01-01") == 0);
    CHECK(dcr_format_date(-1, buf) == 10 && strcmp(buf, "1969-12-31") == 0);
    CHECK(dcr_format_date(DCR_DATE_MIN, buf) == 10 && strcmp(buf, "0001-01-01") == 0);
    CHECK(dcr_format_date(DCR_DATE_MAX, buf) == 10 && strcmp(buf, "9999-12-31") == 0);
    /* out-of-range days (never parsed) still format without overflow */
    CHECK(dcr_format_date(INT32_MIN, buf) < DCR_VALUE_TEXT_MAX);
    CHECK(dcr_format_date(INT32_MAX, buf) < DCR_VALUE_TEXT_MAX);
    CHECK(dcr_format_date(DCR_DATE_MAX + 1, buf) == 11 && strcmp(buf, "10000-01-01") == 0);
}

/* ---- TIMESTAMP ---- */

#define US 1000000LL
#define DAY_US (86400 * US)

static void test_timestamp_accept(void)
{
    static const struct {
        const char *text;
        int64_t micros;
    } ok[] = {
        {"1970-01-01 00:00:00", 0},
        {"1970-01-01", 0},
        {"1970-01-01T00:00:01", US},
        {"1970-01-01t00:00:01", US},
        {"1970-01-01 00:01", 60 * US},
        {"1969-12-31 23:59:59.999999", -1},
        {"1969-12-31 23:59:59.5", -US / 2},
        {"1970-01-01 00:00:00.000001", 1},
        {"1970-01-01 00:00:00.1", 100000},
        {"1970-01-01 00:00:00.120", 120000},
        {"1970-01-02 00:00:00", DAY_US},
        {"2024-03-01 12:34:56", (19783 * 86400LL + 12 * 3600 + 34 * 60 + 56) * US},
        {"2024-03-01T12:34:56Z", (19783 * 86400LL + 12 * 3600 + 34 * 60 + 56) * US},
        {"2024-03-01T12:34:56z", (19783 * 86400LL + 12 * 3600 + 34 * 60 + 56) * US},
        {"2024-03-01 12:34:56+02", (19783 * 86400LL + 10 * 3600 + 34 * 60 + 56) * US},
        {"2024-03-01 12:34:56+0200", (19783 * 86400LL + 10 * 3600 + 34 * 60 + 56) * US},
        {"2024-03-01 12:34:56+02:00", (19783 * 86400LL + 10 * 3600 + 34 * 60 + 56) * US},
        {"2024-03-01 12:34:56 +02:00", (19783 * 86400LL + 10 * 3600 + 34 * 60 + 56) * US},
        {"2024-03-01 12:34:56-05:30", (19783 * 86400LL + 18 * 3600 + 4 * 60 + 56) * US},
        {"2024-03-01 12:34:56.5-0530", (19783 * 86400LL + 18 * 3600 + 4 * 60 + 56) * US + 500000},
        {"2024-03-01 00:30+01", (19782 * 86400LL + 23 * 3600 + 30 * 60) * US}, /* day before */
        {"2024-03-01+02", (19782 * 86400LL + 22 * 3600) * US},
        {"2024-03-01Z", 19783 * DAY_US},
        {"2024-02-29 23:59:59", (19782 * 86400LL + 86399) * US},
        {"  2024-03-01 12:34:56\t", (19783 * 86400LL + 12 * 3600 + 34 * 60 + 56) * US},
        {"0001-01-01 00:00:00", DCR_TIMESTAMP_MIN},
        {"0001-01-01", DCR_TIMESTAMP_MIN},
        {"9999-12-31 23:59:59.999999", DCR_TIMESTAMP_MAX},
        {"0001-01-01 00:00:00-01:00", DCR_TIMESTAMP_MIN + 3600 * US},
        {"9999-12-31 23:59:59.999999+15:59", DCR_TIMESTAMP_MAX - (15 * 3600 + 59 * 60) * US},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t v = 12345;
        const char *why = dcr_parse_timestamp(ok[i].text, strlen(ok[i].text), &v);
        CHECK_IN(why == NULL && v == ok[i].micros, ok[i].text);
    }
}

static void test_timestamp_refuse(void)
{
#define syntax "not a timestamp (use YYYY-MM-DD HH:MM:SS[.ffffff])"
    static const struct {
        const char *text, *why;
    } bad[] = {
        {"", "empty"},
        {"1970-01-01 00:00:00.1234567", "more than 6 fractional digits"},
        {"1970-01-01 00:00:00.0000000", "more than 6 fractional digits"},
        {"1970-01-01 24:00:00", "hour out of range"},
        {"1970-01-01 99:00", "hour out of range"},
        {"1970-01-01 12:60:00", "minute out of range"},
        {"1970-01-01 12:00:60", "second out of range"},
        {"2023-02-29 00:00:00", "day out of range for month"},
        {"2024-13-01 00:00:00", "month out of range"},
        {"0000-12-31 23:00:00", "year out of range (0001-9999)"},
        {"2024-03-01 12:00:00+16:00", "time zone offset out of range"},
        {"2024-03-01 12:00:00+01:60", "time zone offset out of range"},
        {"0001-01-01 00:00:00+01:00",
         "out of range after time zone offset (0001-01-01 to 9999-12-31 UTC)"},
        {"9999-12-31 23:59:59.999999-00:01",
         "out of range after time zone offset (0001-01-01 to 9999-12-31 UTC)"},
        {"1970-01-01 00:00:00.", syntax},
        {"1970-01-01 00:00:00.x", syntax},
        {"1970-01-01 12", syntax},
        {"1970-01-01 12:3", syntax},
        {"1970-01-01 12:34:5", syntax},
        {"1970-01-01 12:34:56:00", syntax},
        {"1970-01-01 12.34.56", syntax},
        {"1970-01-01  12:34:56", syntax},
        {"1970-01-01 12:34.5", syntax},
        {"1970-01-01T", syntax},
        {"1970-01-01x", syntax},
        {"1970-01-01 12:34:56+", syntax},
        {"1970-01-01 12:34:56+1", syntax},
        {"1970-01-01 12:34:56+123", syntax},
        {"1970-01-01 12:34:56+01:0", syntax},
        {"1970-01-01 12:34:56+01-00", syntax},
        {"1970-01-01 12:34:56+01:00:00", syntax},
        {"1970-01-01 12:34:56ZZ", syntax},
        {"1970-01-01 12:34:56 UTC", syntax},
        {"1970-01-01 12:34:56  +01", syntax},
        {"1970-1-1", syntax},
        {"1970/01/01", syntax},
        {"19700101T000000", syntax},
        {"1970-01-01 12:34:56.-1", syntax},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t v = 777;
        const char *why = dcr_parse_timestamp(bad[i].text, strlen(bad[i].text), &v);
        CHECK_IN(reason_is(why, bad[i].why) && v == 777, bad[i].text);
    }
#undef syntax
}

static void test_timestamp_format(void)
{
    static const struct {
        int64_t micros;
        const char *text;
    } cases[] = {
        {0, "1970-01-01 00:00:00"},
        {-1, "1969-12-31 23:59:59.999999"},
        {-US, "1969-12-31 23:59:59"},
        {-DAY_US, "1969-12-31 00:00:00"},
        {-DAY_US - 1, "1969-12-30 23:59:59.999999"},
        {500000, "1970-01-01 00:00:00.5"},
        {120000, "1970-01-01 00:00:00.12"},
        {1, "1970-01-01 00:00:00.000001"},
        {(19783 * 86400LL + 12 * 3600 + 34 * 60 + 56) * US, "2024-03-01 12:34:56"},
        {DCR_TIMESTAMP_MIN, "0001-01-01 00:00:00"},
        {DCR_TIMESTAMP_MAX, "9999-12-31 23:59:59.999999"},
    };
    char buf[DCR_VALUE_TEXT_MAX];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = dcr_format_timestamp(cases[i].micros, buf);
        CHECK_IN(strcmp(buf, cases[i].text) == 0 && n == strlen(buf), cases[i].text);
    }
    /* any int64 formats within the buffer */
    CHECK(dcr_format_timestamp(INT64_MIN, buf) < DCR_VALUE_TEXT_MAX);
    CHECK(dcr_format_timestamp(INT64_MAX, buf) < DCR_VALUE_TEXT_MAX);

    int failures = 0;
    uint64_t span = (uint64_t)(DCR_TIMESTAMP_MAX - DCR_TIMESTAMP_MIN) + 1;
    for (int i = 0; i < 500000; i++) {
        uint64_t r = next_rand();
        int64_t x = DCR_TIMESTAMP_MIN + (int64_t)(r % span);
        if (i % 3 == 0) { /* whole seconds and milliseconds, floored: MIN is whole */
            int64_t unit = i % 2 ? US : 1000;
            x -= (x % unit + unit) % unit;
        }
        int64_t y = 0;
        size_t n = dcr_format_timestamp(x, buf);
        if (!(dcr_parse_timestamp(buf, n, &y) == NULL && y == x) && failures++ < 5)
            fprintf(stderr, "  %" PRId64 " -> %s -> %" PRId64 "\n", x, buf, y);
    }
    CHECK(failures == 0);
}

/* ---- UTF-8 ---- */

/* Reference: offset of the first invalid sequence, decoding plainly. */
static size_t ref_utf8(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i], need;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            need = 1, cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            need = 2, cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            need = 3, cp = c & 0x07;
        } else {
            return i;
        }
        if (len - i - 1 < need)
            return i;
        for (unsigned k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        static const uint32_t min_cp[4] = {0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[need] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += need + 1;
    }
    return len;
}

static void test_utf8_table(void)
{
    static const struct {
        const char *text;
        size_t bad; /* (size_t)-1: valid */
    } cases[] = {
        {"", (size_t)-1},
        {"plain ascii, longer than eight bytes", (size_t)-1},
        {"\xc3\xa9", (size_t)-1},         /* é */
        {"\xe2\x82\xac", (size_t)-1},     /* € */
        {"\xf0\x9f\x98\x80", (size_t)-1}, /* 😀 */
        {"\xf4\x8f\xbf\xbf", (size_t)-1}, /* U+10FFFF */
        {"\xed\x9f\xbf", (size_t)-1},     /* U+D7FF */
        {"\xee\x80\x80", (size_t)-1},     /* U+E000 */
        {"\xc2\x80", (size_t)-1},         /* U+0080 */
        {"\xe0\xa0\x80", (size_t)-1},     /* U+0800 */
        {"\xf0\x90\x80\x80", (size_t)-1}, /* U+10000 */
        {"\xc0\x80", 0},                  /* overlong NUL */
        {"\xc1\xbf", 0},                  /* overlong */
        {"\xe0\x80\x80", 0},              /* overlong */
        {"\xe0\x9f\xbf", 0},              /* overlong */
        {"\xf0\x80\x80\x80", 0},          /* overlong */
        {"\xf0\x8f\xbf\xbf", 0},          /* overlong */
        {"\xed\xa0\x80", 0},              /* surrogate D800 */
        {"\xed\xbf\xbf", 0},              /* surrogate DFFF */
        {"\xf4\x90\x80\x80", 0},          /* U+110000 */
        {"\xf5\x80\x80\x80", 0},
        {"\xff", 0},
        {"\xfe", 0},
        {"\x80", 0}, /* lone continuation */
        {"\xbf", 0},
        {"a\xe2\x82", 1}, /* truncated at the end */
        {"\xe2\x82z", 0}, /* truncated inside */
        {"\xf0\x9f\x98", 0},
        {"\xc3", 0},
        {"abcdefgh\xc3", 8},
        {"abcdefgh\xc3\xa9ijklmnopq\x80", 19},
        {"0123456789abcdef\xe2\x82\xac"
         "0123456789abcdef\xed\xa0\x80",
         35},
        {"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3", 12},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = strlen(cases[i].text);
        size_t want = cases[i].bad == (size_t)-1 ? len : cases[i].bad;
        CHECK_IN(dcr_utf8_check(cases[i].text, len) == want, cases[i].text);
    }
    CHECK(dcr_utf8_check("a\0b", 3) == 3); /* NUL is valid UTF-8 */
    CHECK(dcr_utf8_check(NULL, 0) == 0);
}

/* n random strings of up to max - 1 bytes, one byte in one_in of them
 * non-ASCII material (0x80..0xF7), half of them with a valid 3-byte
 * sequence put somewhere: how many dcr_utf8_check judges unlike the
 * reference. */
static int random_utf8_mismatches(int n, size_t max, unsigned one_in)
{
    unsigned char buf[256];
    int failures = 0;
    for (int i = 0; i < n; i++) {
        size_t len = (size_t)(next_rand() % max);
        for (size_t k = 0; k < len; k++) {
            uint64_t r = next_rand();
            buf[k] = r % one_in ? (unsigned char)('a' + r % 26)
                                : (unsigned char)(0x80 + (r >> 8) % 0x78);
        }
        if (len >= 3 && next_rand() % 2) {
            size_t at = (size_t)(next_rand() % (len - 2));
            buf[at] = 0xE2, buf[at + 1] = 0x82, buf[at + 2] = 0xAC;
        }
        if (dcr_utf8_check((const char *)buf, len) != ref_utf8(buf, len) && failures++ < 5)
            fprintf(stderr, "  random string of %zu bytes\n", len);
    }
    return failures;
}

static void test_utf8_exhaustive(void)
{
    /* every string of one, two and three bytes, against the reference */
    int failures = 0;
    unsigned char s[3];
    for (uint32_t v = 0; v < (1u << 24); v++) {
        s[0] = (unsigned char)(v >> 16);
        s[1] = (unsigned char)(v >> 8);
        s[2] = (unsigned char)v;
        for (size_t len = 1; len <= 3; len++) {
            if (len < 3 && (v & ((1u << (8 * (3 - len))) - 1)) != 0)
                continue; /* shorter strings: only once each */
            if (dcr_utf8_check((const char *)s, len) != ref_utf8(s, len) && failures++ < 5)
                fprintf(stderr, "  %zu bytes %06x\n", len, (unsigned)v);
        }
    }
    /* random longer strings, mostly ASCII with multibyte material; then
     * long ASCII runs (the 32- and 8-byte fast paths) broken by a rare
     * multibyte byte at any offset, valid sequences or not */
    failures += random_utf8_mismatches(500000, 64, 3);
    failures += random_utf8_mismatches(200000, 256, 40);
    CHECK(failures == 0);
}

int main(void)
{
    RUN(test_bigint);
    RUN(test_bigint_format);
    RUN(test_double_accept);
    RUN(test_double_refuse);
    RUN(test_double_long_inputs);
    RUN(test_double_format);
    RUN(test_double_round_trip);
    RUN(test_double_vs_strtod);
    RUN(test_bool);
    RUN(test_date);
    RUN(test_date_all_days);
    RUN(test_timestamp_accept);
    RUN(test_timestamp_refuse);
    RUN(test_timestamp_format);
    RUN(test_utf8_table);
    RUN(test_utf8_exhaustive);
    return check_summary();
}

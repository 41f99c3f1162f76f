/*
 * test_interval.c: base/interval.c directly: every output reads back as the
 * same value (random months/days/microseconds, including the extremes),
 * comparison and hashing agree with the 30-day-month span, arithmetic
 * round-trips or reports overflow, timestamp + interval against a day-by-day
 * calendar walk, and input refusals. (The SQL-level cases, with values
 * checked against PostgreSQL's rules, are in test_exec.c and test_sql.c.)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/calendar.h"
#include "base/interval.h"
#include "base/types.h"
#include "check.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Mostly small values, sometimes the type's extremes. */
static int64_t pick64(int64_t small)
{
    switch (rnd() % 8) {
    case 0:
        return INT64_MAX;
    case 1:
        return INT64_MIN;
    case 2:
        return (int64_t)rnd();
    default:
        return (int64_t)(rnd() % (2 * (uint64_t)small + 1)) - small;
    }
}

static int32_t pick32(int32_t small)
{
    switch (rnd() % 8) {
    case 0:
        return INT32_MAX;
    case 1:
        return INT32_MIN;
    case 2:
        return (int32_t)(uint32_t)rnd();
    default:
        return (int32_t)(rnd() % (2 * (uint64_t)small + 1)) - small;
    }
}

static bool same(dcr_interval a, dcr_interval b)
{
    return a.months == b.months && a.days == b.days && a.us == b.us;
}

static void test_output_reads_back(void)
{
    for (int i = 0; i < 200000; i++) {
        dcr_interval v = {pick64(100000000000LL), pick32(400), pick32(30)}, w;
        char text[DCR_INTERVAL_TEXT_MAX];
        size_t n = dcr_format_interval(v, text);
        CHECK(n < DCR_INTERVAL_TEXT_MAX && strlen(text) == n);
        const char *why = dcr_parse_interval(text, n, DCR_IV_NONE, &w);
        if (why || !same(v, w)) {
            fprintf(stderr, "  %s does not read back (%s)\n", text, why ? why : "other value");
            CHECK(0);
            return;
        }
    }
}

static void test_known_text(void)
{
    static const struct {
        dcr_interval v;
        const char *text;
    } cases[] = {
        {{0, 0, 0}, "00:00:00"},
        {{-1000000, 0, 0}, "-00:00:01"},
        {{7200000000LL, 1, 0}, "1 day 02:00:00"},
        {{0, 0, 3}, "3 mons"},
        {{0, 0, -14}, "-1 years -2 mons"},
        {{7200000000LL, -1, 0}, "-1 days +02:00:00"},
        {{0, 1, -1}, "-1 mons +1 day"},
        {{1, 0, 0}, "00:00:00.000001"},
        {{90000000000LL, 0, 0}, "25:00:00"},
        {{INT64_MIN, INT32_MIN, INT32_MIN},
         "-178956970 years -8 mons -2147483648 days -2562047788:00:54.775808"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[DCR_INTERVAL_TEXT_MAX];
        dcr_format_interval(cases[i].v, text);
        if (strcmp(text, cases[i].text) != 0) {
            fprintf(stderr, "  got %s, want %s\n", text, cases[i].text);
            CHECK(0);
        }
    }
}

static void test_refusals(void)
{
    static const char *const bad[] = {"",
                                      "@",
                                      "ago",
                                      "1 fortnight",
                                      "1 day ago ago",
                                      "1 2",
                                      "P1D",
                                      "1-2",
                                      "10:",
                                      "1:60",
                                      "1:2:3:4",
                                      "1 day,",
                                      "- 1 day",
                                      "1.2.3 days",
                                      "99999999999999999999 s",
                                      "2147483648 days",
                                      "1 day 5 6",
                                      "+",
                                      "1:00:60"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dcr_interval v;
        if (!dcr_parse_interval(bad[i], strlen(bad[i]), DCR_IV_NONE, &v)) {
            fprintf(stderr, "  \"%s\" was accepted\n", bad[i]);
            CHECK(0);
        }
    }
}

static void test_compare_and_hash(void)
{
    for (int i = 0; i < 100000; i++) {
        dcr_interval a = {pick64(4000000000LL), pick32(100), pick32(5)};
        dcr_interval b = {pick64(4000000000LL), pick32(100), pick32(5)};
        if (rnd() % 4 == 0) { /* the same span spelled differently */
            b = a;
            if (b.days > INT32_MIN + 30 && b.months < INT32_MAX) {
                b.days -= 30;
                b.months += 1;
            }
        }
        int c = dcr_interval_cmp(a, b);
        CHECK(c == -dcr_interval_cmp(b, a));
        if (c == 0)
            CHECK(dcr_interval_hash_key(a) == dcr_interval_hash_key(b));
    }
    dcr_interval day = {0, 1, 0}, hours = {24 * 3600000000LL, 0, 0}, month = {0, 0, 1};
    dcr_interval days30 = {0, 30, 0}, days29 = {0, 29, 0};
    CHECK(dcr_interval_cmp(day, hours) == 0 && dcr_interval_cmp(month, days30) == 0);
    CHECK(dcr_interval_cmp(month, days29) > 0);
}

static void test_arithmetic_round_trips(void)
{
    for (int i = 0; i < 100000; i++) {
        dcr_interval a = {pick64(4000000000LL), pick32(100), pick32(5)};
        dcr_interval b = {pick64(4000000000LL), pick32(100), pick32(5)}, s, d, n;
        if (dcr_interval_add(a, b, &s)) {
            CHECK(dcr_interval_sub(s, b, &d) && same(d, a));
        } else { /* a component left its range: the exact sum says which */
            __int128 m = (__int128)a.months + b.months, dd = (__int128)a.days + b.days,
                     u = (__int128)a.us + b.us;
            CHECK(m != (int32_t)m || dd != (int32_t)dd || u != (int64_t)u);
        }
        if (dcr_interval_neg(a, &n))
            CHECK(dcr_interval_add(a, n, &s) && same(s, (dcr_interval){0, 0, 0}));
        else
            CHECK(a.months == INT32_MIN || a.days == INT32_MIN || a.us == INT64_MIN);
    }
    dcr_interval r, one = {3600000000LL, 1, 1};
    CHECK(dcr_interval_mul(one, 2, &r) && same(r, (dcr_interval){7200000000LL, 2, 2}));
    CHECK(dcr_interval_div(one, 2, &r) &&
          same(r, (dcr_interval){1800000000LL + 43200000000LL, 15, 0}));
    CHECK(!dcr_interval_mul(one, 3e9, &r) && !dcr_interval_mul(one, 0.0 / 0.0, &r));
}

/* ts + interval against a walk: months by the calendar (clamped to the
 * month's end), then days one at a time, then the microseconds. */
static void test_timestamp_plus_interval(void)
{
    for (int i = 0; i < 20000; i++) {
        int64_t y0 = 1 + (int64_t)(rnd() % 9999), m0 = 1 + (int64_t)(rnd() % 12);
        int64_t d0 = 1 + (int64_t)(rnd() % (uint64_t)dcr_days_in_month(y0, m0));
        int64_t tod = (int64_t)(rnd() % (uint64_t)DCR_US_PER_DAY);
        int64_t ts = dcr_days_from_civil(y0, m0, d0) * DCR_US_PER_DAY + tod;
        dcr_interval v = {(int64_t)(rnd() % 200000000000ULL) - 100000000000LL,
                          (int32_t)(rnd() % 2001) - 1000, (int32_t)(rnd() % 2401) - 1200};
        int64_t mm = y0 * 12 + (m0 - 1) + v.months, y = dcr_floor_div(mm, 12), m = mm - y * 12 + 1;
        int64_t d = d0 > dcr_days_in_month(y, m) ? dcr_days_in_month(y, m) : d0;
        __int128 want =
            (__int128)(dcr_days_from_civil(y, m, d) + v.days) * DCR_US_PER_DAY + tod + v.us;
        int64_t got;
        bool in_range = want >= DCR_TIMESTAMP_MIN && want <= DCR_TIMESTAMP_MAX;
        CHECK(dcr_timestamp_add_interval(ts, v, &got) == in_range);
        if (in_range)
            CHECK(got == (int64_t)want);
    }
    /* 2024-01-31 + 1 month = 2024-02-29; 2023-01-31 + 1 month = 2023-02-28 */
    int64_t got;
    dcr_interval month = {0, 0, 1};
    CHECK(dcr_timestamp_add_interval(dcr_days_from_civil(2024, 1, 31) * DCR_US_PER_DAY, month,
                                     &got) &&
          got == dcr_days_from_civil(2024, 2, 29) * DCR_US_PER_DAY);
    CHECK(dcr_timestamp_add_interval(dcr_days_from_civil(2023, 1, 31) * DCR_US_PER_DAY, month,
                                     &got) &&
          got == dcr_days_from_civil(2023, 2, 28) * DCR_US_PER_DAY);
    dcr_interval d =
        dcr_timestamp_diff(dcr_days_from_civil(2024, 1, 2) * DCR_US_PER_DAY + 3600000000LL,
                           dcr_days_from_civil(2024, 1, 1) * DCR_US_PER_DAY);
    CHECK(same(d, (dcr_interval){3600000000LL, 1, 0}));
}

int main(void)
{
    RUN(test_output_reads_back);
    RUN(test_known_text);
    RUN(test_refusals);
    RUN(test_compare_and_hash);
    RUN(test_arithmetic_round_trips);
    RUN(test_timestamp_plus_interval);
    return check_summary();
}

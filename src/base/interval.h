/*
 * interval.h: SQL INTERVAL values, kept as PostgreSQL keeps them: months,
 * days and microseconds, three independent fields (a month is not a fixed
 * number of days, nor a day a fixed number of hours, until a date gives
 * them one). INTERVAL is a computed type only: no dataset column has it,
 * and the sealed format never stores it (base/types.h).
 *
 * Semantics are PostgreSQL 15's:
 *   - input: `[@] quantity unit [quantity unit ...] [[+|-]H:M[:S[.f]]] [ago]`,
 *     units microsecond .. millennium with their abbreviations, fractions
 *     cascading down (1.5 months = 1 mon 15 days); a bare number is seconds,
 *     or the unit of a field qualifier (INTERVAL '90' MINUTE);
 *   - output: the "postgres" IntervalStyle ("1 year 2 mons 3 days 04:05:06",
 *     "-1 days +02:00:00", "00:00:00");
 *   - comparison, equality and hashing use the span with a month of 30 days
 *     and a day of 24 hours, so '1 day' = '24 hours';
 *   - timestamp + interval adds months (clamping to the month's last day),
 *     then days, then microseconds; timestamp - timestamp is microseconds
 *     with whole days moved to the day field (justify_hours).
 * Every operation that could overflow says so by returning false; the
 * caller raises "interval out of range" / "timestamp out of range".
 */
#ifndef DCR_BASE_INTERVAL_H
#define DCR_BASE_INTERVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int64_t us; /* microseconds */
    int32_t days;
    int32_t months;
} dcr_interval;

/* Longest text dcr_format_interval writes, with its NUL. */
#define DCR_INTERVAL_TEXT_MAX 80

/* Field qualifiers (INTERVAL '...' HOUR): the unit of a bare number, and
 * the smallest field kept. DCR_IV_NONE: none (a bare number is seconds). */
typedef enum {
    DCR_IV_NONE,
    DCR_IV_YEAR,
    DCR_IV_MONTH,
    DCR_IV_DAY,
    DCR_IV_HOUR,
    DCR_IV_MINUTE,
    DCR_IV_SECOND,
} dcr_interval_field;

/* Parses interval input text. Returns NULL on success or why it was
 * refused (a static string; never the text itself). */
const char *dcr_parse_interval(const char *s, size_t len, dcr_interval_field field,
                               dcr_interval *out);
/* Writes v in PostgreSQL's style into out (DCR_INTERVAL_TEXT_MAX bytes,
 * NUL-terminated); returns the length. */
size_t dcr_format_interval(dcr_interval v, char *out);

/* Order (<0, 0, >0) and hash of the 30-day-month, 24-hour-day span. */
int dcr_interval_cmp(dcr_interval a, dcr_interval b);
uint64_t dcr_interval_hash_key(dcr_interval v);

bool dcr_interval_add(dcr_interval a, dcr_interval b, dcr_interval *out);
bool dcr_interval_sub(dcr_interval a, dcr_interval b, dcr_interval *out);
bool dcr_interval_neg(dcr_interval a, dcr_interval *out);
/* interval * factor and interval / factor (factor != 0), cascading the
 * fractions of months and days down as PostgreSQL's interval_mul does. */
bool dcr_interval_mul(dcr_interval a, double factor, dcr_interval *out);
bool dcr_interval_div(dcr_interval a, double factor, dcr_interval *out);

/* ts + v; false when the result leaves DCR_TIMESTAMP_MIN..MAX. */
bool dcr_timestamp_add_interval(int64_t ts, dcr_interval v, int64_t *out);
/* a - b as an interval (days and microseconds, justify_hours). */
dcr_interval dcr_timestamp_diff(int64_t a, int64_t b);

/* date_part fields of an interval (plan.h numbering: 0 year, 1 month,
 * 2 day, 3 hour, 4 minute, 5 second, 8 epoch); false for 6 dow / 7 doy. */
bool dcr_interval_part(int field, dcr_interval v, double *out);
/* date_trunc units of an interval (0 minute, 1 hour, 2 day, 4 month,
 * 5 year); false for 3 week. */
bool dcr_interval_trunc(int unit, dcr_interval v, dcr_interval *out);
/* Keeps only the fields down to `field` (INTERVAL '...' HOUR drops minutes
 * and seconds), as PostgreSQL's typmod coercion does. */
dcr_interval dcr_interval_restrict(dcr_interval v, dcr_interval_field field);

#endif

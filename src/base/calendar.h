/*
 * calendar.h: proleptic Gregorian calendar arithmetic on day numbers
 * (days since 1970-01-01), shared by the date functions, date/timestamp
 * arithmetic with intervals (base/interval.c) and date parsing.
 *
 * The conversions are H. Hinnant's days_from_civil / civil_from_days,
 * exact for any year that fits the arguments' types.
 */
#ifndef DCR_BASE_CALENDAR_H
#define DCR_BASE_CALENDAR_H

#include <stdbool.h>
#include <stdint.h>

#define DCR_US_PER_DAY 86400000000LL

/* a / b rounded toward negative infinity (b > 0). */
static inline int64_t dcr_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Day number of year y, month m (1..12), day d (1..31). */
static inline int64_t dcr_days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = dcr_floor_div(y, 400), yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Year, month (1..12) and day (1..31) of day number z. */
static inline void dcr_civil_from_days(int64_t z, int64_t *y, int64_t *m, int64_t *d)
{
    z += 719468;
    int64_t era = dcr_floor_div(z, 146097), doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yoe + era * 400 + (*m <= 2);
}

static inline bool dcr_is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days in month m (1..12) of year y. */
static inline int dcr_days_in_month(int64_t y, int64_t m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && dcr_is_leap(y) ? 29 : dim[m - 1];
}

#endif

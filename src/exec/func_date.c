/*
 * func_date.c: date_trunc and date_part / EXTRACT on TIMESTAMP (a DATE
 * argument is widened to midnight by the binder).
 *
 *   date_trunc(unit, ts) -> TIMESTAMP: minute, hour, day, week (to Monday,
 *   ISO 8601), month, year.
 *   date_part(field, ts) -> DOUBLE PRECISION (as PostgreSQL 15's date_part;
 *   its EXTRACT returns NUMERIC): year, month, day, hour, minute, second
 *   (with the fraction), dow (Sunday = 0), doy (1..366), epoch (seconds
 *   since 1970-01-01 00:00:00, with the fraction).
 *
 * Calendar arithmetic is proleptic Gregorian (H. Hinnant's algorithms).
 */
#include "exec/internal.h"

#define US_PER_DAY 86400000000LL

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = floor_div(y, 400), yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int64_t *m, int64_t *d)
{
    z += 719468;
    int64_t era = floor_div(z, 146097), doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yoe + era * 400 + (*m <= 2);
}

static int64_t trunc_ts(int unit, int64_t ts)
{
    int64_t day = floor_div(ts, US_PER_DAY), tod = ts - day * US_PER_DAY, y, m, d;
    switch (unit) {
    case 0:
        return ts - tod % 60000000LL;
    case 1:
        return ts - tod % 3600000000LL;
    case 2:
        return day * US_PER_DAY;
    case 3:
        return (day - (day + 3 - floor_div(day + 3, 7) * 7)) * US_PER_DAY;
    default:
        civil_from_days(day, &y, &m, &d);
        return days_from_civil(y, unit == 4 ? m : 1, 1) * US_PER_DAY;
    }
}

static double part_ts(int field, int64_t ts)
{
    int64_t day = floor_div(ts, US_PER_DAY), tod = ts - day * US_PER_DAY, y, m, d;
    civil_from_days(day, &y, &m, &d);
    switch (field) {
    case 0:
        return (double)y;
    case 1:
        return (double)m;
    case 2:
        return (double)d;
    case 3:
        return (double)(tod / 3600000000LL);
    case 4:
        return (double)(tod / 60000000LL % 60);
    case 5:
        return (double)(tod % 60000000LL) / 1e6;
    case 6:
        return (double)(day + 4 - floor_div(day + 4, 7) * 7);
    case 7:
        return (double)(day - days_from_civil(y, 1, 1) + 1);
    default:
        return (double)ts / 1e6;
    }
}

dcr_status dcr_fn_date(dcr_exec_ctx *ctx, const dcr_expr *e, const dcr_column *const *a,
                       const uint8_t *active, size_t n, dcr_column *out, dcr_error *err)
{
    (void)ctx;
    int k = 0;
    const dcr_expr *u = e->args[0];
    bool ok = u->kind == DCR_EXPR_CONST && !u->value.null &&
              (e->fn == DCR_FN_DATE_TRUNC ? dcr_date_trunc_unit(u->value.text, &k)
                                          : dcr_date_part_field(u->value.text, &k));
    if (!ok)
        return dcr_fail(err, DCR_EINTERNAL, "bad date unit in the plan");
    for (size_t i = 0; i < n; i++) {
        dcr_status s;
        if (!dcr_fn_row_on(e, a, active, i)) {
            s = dcr_column_push_null(out, err);
        } else {
            int64_t ts = ((const int64_t *)a[1]->values)[i];
            s = e->fn == DCR_FN_DATE_TRUNC ? dcr_column_push_i64(out, trunc_ts(k, ts), err)
                                           : dcr_column_push_f64(out, part_ts(k, ts), err);
        }
        if (s != DCR_OK)
            return s;
    }
    return DCR_OK;
}

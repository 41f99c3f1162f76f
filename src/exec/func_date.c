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
 * On an INTERVAL (base/interval.h): date_trunc keeps the fields down to the
 * unit (not 'week', refused by the binder) and returns INTERVAL; date_part
 * gives year (months / 12), month (months % 12), day, hour, minute,
 * second of the fields as they are kept (no normalising: '36 hours' has
 * hour 36), and epoch with a year of 365.25 days and a month of 30, as
 * PostgreSQL does; dow and doy are refused by the binder.
 *
 * Calendar arithmetic is proleptic Gregorian (base/calendar.h).
 */
#include "base/calendar.h"
#include "exec/internal.h"

static int64_t trunc_ts(int unit, int64_t ts)
{
    int64_t day = dcr_floor_div(ts, DCR_US_PER_DAY), tod = ts - day * DCR_US_PER_DAY, y, m, d;
    switch (unit) {
    case 0:
        return ts - tod % 60000000LL;
    case 1:
        return ts - tod % 3600000000LL;
    case 2:
        return day * DCR_US_PER_DAY;
    case 3:
        return (day - (day + 3 - dcr_floor_div(day + 3, 7) * 7)) * DCR_US_PER_DAY;
    default:
        dcr_civil_from_days(day, &y, &m, &d);
        return dcr_days_from_civil(y, unit == 4 ? m : 1, 1) * DCR_US_PER_DAY;
    }
}

static double part_ts(int field, int64_t ts)
{
    int64_t day = dcr_floor_div(ts, DCR_US_PER_DAY), tod = ts - day * DCR_US_PER_DAY, y, m, d;
    dcr_civil_from_days(day, &y, &m, &d);
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
        return (double)(day + 4 - dcr_floor_div(day + 4, 7) * 7);
    case 7:
        return (double)(day - dcr_days_from_civil(y, 1, 1) + 1);
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
    bool iv = a[1]->type == DCR_TYPE_INTERVAL;
    for (size_t i = 0; i < n; i++) {
        dcr_status s;
        if (!dcr_fn_row_on(e, a, active, i)) {
            s = dcr_column_push_null(out, err);
        } else if (iv) {
            dcr_interval v = ((const dcr_interval *)a[1]->values)[i], t;
            double p;
            bool done = e->fn == DCR_FN_DATE_TRUNC ? dcr_interval_trunc(k, v, &t)
                                                   : dcr_interval_part(k, v, &p);
            if (!done)
                return dcr_fail(err, DCR_EINTERNAL, "bad interval unit in the plan");
            s = e->fn == DCR_FN_DATE_TRUNC ? dcr_column_push_interval(out, t, err)
                                           : dcr_column_push_f64(out, p, err);
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

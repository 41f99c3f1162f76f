/*
 * interval.c: INTERVAL input, output, comparison and arithmetic with
 * PostgreSQL 15's rules (see interval.h). Intermediate values are kept in
 * 128 bits, so every overflow is detected once, at the end, and reported
 * by returning false or an error string; nothing wraps.
 */
#include "base/interval.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/calendar.h"
#include "base/types.h"

#define US_PER_SEC 1000000LL
#define US_PER_MIN 60000000LL
#define US_PER_HOUR 3600000000LL
#define SECS_PER_DAY 86400.0
#define DAYS_PER_MONTH 30

typedef __int128 i128;

/* ---- input ---- */

typedef enum { U_US, U_MS, U_S, U_MIN, U_H, U_D, U_W, U_MON, U_Y, U_DEC, U_CENT, U_MILL } unit;

static const struct {
    const char *name;
    unit u;
} unit_names[] = {
    {"microsecond", U_US},
    {"microseconds", U_US},
    {"microsecon", U_US},
    {"us", U_US},
    {"usec", U_US},
    {"usecs", U_US},
    {"useconds", U_US},
    {"millisecond", U_MS},
    {"milliseconds", U_MS},
    {"millisecon", U_MS},
    {"ms", U_MS},
    {"msec", U_MS},
    {"msecs", U_MS},
    {"mseconds", U_MS},
    {"second", U_S},
    {"seconds", U_S},
    {"sec", U_S},
    {"secs", U_S},
    {"s", U_S},
    {"minute", U_MIN},
    {"minutes", U_MIN},
    {"min", U_MIN},
    {"mins", U_MIN},
    {"m", U_MIN},
    {"hour", U_H},
    {"hours", U_H},
    {"hr", U_H},
    {"hrs", U_H},
    {"h", U_H},
    {"day", U_D},
    {"days", U_D},
    {"d", U_D},
    {"week", U_W},
    {"weeks", U_W},
    {"w", U_W},
    {"month", U_MON},
    {"months", U_MON},
    {"mon", U_MON},
    {"mons", U_MON},
    {"year", U_Y},
    {"years", U_Y},
    {"yr", U_Y},
    {"yrs", U_Y},
    {"y", U_Y},
    {"decade", U_DEC},
    {"decades", U_DEC},
    {"dec", U_DEC},
    {"decs", U_DEC},
    {"century", U_CENT},
    {"centuries", U_CENT},
    {"cent", U_CENT},
    {"c", U_CENT},
    {"millennium", U_MILL},
    {"millennia", U_MILL},
    {"mil", U_MILL},
    {"mils", U_MILL},
};

typedef struct {
    i128 months, days, us;
} acc;

/* PostgreSQL's AdjustFractMicroseconds: truncate, then round the rest,
 * ties toward zero. */
static bool add_frac_us(acc *a, double frac, double scale)
{
    if (frac == 0)
        return true;
    frac *= scale;
    if (!(fabs(frac) < 9.2e18))
        return false;
    int64_t us = (int64_t)frac;
    frac -= (double)us;
    us += frac > 0.5 ? 1 : frac < -0.5 ? -1 : 0;
    a->us += us;
    return true;
}

/* AdjustFractDays: whole days to the day field, the rest as microseconds. */
static bool add_frac_days(acc *a, double frac, int scale)
{
    if (frac == 0)
        return true;
    frac *= scale;
    if (!(fabs(frac) < 2.2e9))
        return false;
    int64_t d = (int64_t)frac;
    a->days += d;
    return add_frac_us(a, frac - (double)d, (double)DCR_US_PER_DAY);
}

static bool add_frac_months(acc *a, double frac, int scale)
{
    double m = rint(frac * scale);
    if (!(fabs(m) < 2.2e9))
        return false;
    a->months += (int64_t)m;
    return true;
}

static bool apply_unit(acc *a, unit u, int64_t v, double frac)
{
    static const int64_t us_scale[] = {1, 1000, US_PER_SEC, US_PER_MIN, US_PER_HOUR};
    static const int month_scale[] = {1, 12, 120, 1200, 12000};
    switch (u) {
    case U_US:
    case U_MS:
    case U_S:
    case U_MIN:
    case U_H:
        a->us += (i128)v * us_scale[u];
        return add_frac_us(a, frac, (double)us_scale[u]);
    case U_D:
        a->days += v;
        return add_frac_us(a, frac, (double)DCR_US_PER_DAY);
    case U_W:
        a->days += (i128)v * 7;
        return add_frac_days(a, frac, 7);
    case U_MON:
        a->months += v;
        return add_frac_days(a, frac, DAYS_PER_MONTH);
    default:
        a->months += (i128)v * month_scale[u - U_MON];
        return add_frac_months(a, frac, month_scale[u - U_MON]);
    }
}

typedef struct {
    const char *p, *end;
} cursor;

static void skip_space(cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
        c->p++;
}

/* [+-]digits[.digits]: the integer part (with the sign) and the fraction
 * (with the same sign). */
static const char *read_number(cursor *c, int64_t *v, double *frac)
{
    bool neg = false;
    if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
        neg = *c->p++ == '-';
    const char *start = c->p;
    uint64_t x = 0;
    for (; c->p < c->end && isdigit((unsigned char)*c->p); c->p++) {
        if (x > (UINT64_MAX - 9) / 10)
            return "a field is out of range";
        x = x * 10 + (uint64_t)(*c->p - '0');
    }
    size_t ndig = (size_t)(c->p - start);
    double f = 0, scale = 0.1;
    size_t nfrac = 0;
    if (c->p < c->end && *c->p == '.') {
        for (c->p++; c->p < c->end && isdigit((unsigned char)*c->p); c->p++, nfrac++) {
            f += (*c->p - '0') * scale;
            scale /= 10;
        }
    }
    if (ndig + nfrac == 0)
        return "not a valid interval";
    if (x > (uint64_t)INT64_MAX)
        return "a field is out of range";
    *v = neg ? -(int64_t)x : (int64_t)x;
    *frac = neg ? -f : f;
    return NULL;
}

/* [+-]H:M[:S[.f]] -> microseconds (the sign applies to all of it). */
static const char *read_time(cursor *c, i128 *us)
{
    bool neg = false;
    if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
        neg = *c->p++ == '-';
    int64_t part[3] = {0, 0, 0};
    int n = 0;
    double frac = 0;
    for (; n < 3; n++) {
        const char *start = c->p;
        uint64_t x = 0;
        for (; c->p < c->end && isdigit((unsigned char)*c->p); c->p++) {
            if (x > 1000000000000ULL)
                return "a field is out of range";
            x = x * 10 + (uint64_t)(*c->p - '0');
        }
        if (c->p == start)
            return "not a valid interval";
        part[n] = (int64_t)x;
        if (n == 2 && c->p < c->end && *c->p == '.') {
            double scale = 0.1;
            for (c->p++; c->p < c->end && isdigit((unsigned char)*c->p); c->p++) {
                frac += (*c->p - '0') * scale;
                scale /= 10;
            }
        }
        if (n == 2 || c->p >= c->end || *c->p != ':')
            break;
        c->p++;
    }
    if (n == 0 || part[1] > 59 || part[2] > 59)
        return n == 0 ? "invalid input syntax for type interval" : "a field is out of range";
    i128 t = (i128)part[0] * US_PER_HOUR + (i128)part[1] * US_PER_MIN + (i128)part[2] * US_PER_SEC;
    double r = rint(frac * 1e6);
    t += (int64_t)r;
    *us = neg ? -t : t;
    return NULL;
}

static bool find_unit(const char *w, size_t n, unit *u)
{
    for (size_t i = 0; i < sizeof unit_names / sizeof unit_names[0]; i++)
        if (strlen(unit_names[i].name) == n && strncasecmp(w, unit_names[i].name, n) == 0) {
            *u = unit_names[i].u;
            return true;
        }
    return false;
}

static unit field_unit(dcr_interval_field f)
{
    static const unit units[] = {U_S, U_Y, U_MON, U_D, U_H, U_MIN, U_S};
    return units[f];
}

static bool time_ahead(const cursor *c)
{
    const char *q = c->p;
    if (q < c->end && (*q == '+' || *q == '-'))
        q++;
    while (q < c->end && isdigit((unsigned char)*q))
        q++;
    return q < c->end && *q == ':';
}

const char *dcr_parse_interval(const char *s, size_t len, dcr_interval_field field,
                               dcr_interval *out)
{
    static const char *const bad = "not a valid interval";
    cursor c = {s, s + len};
    acc a = {0, 0, 0};
    bool any = false, ago = false;
    skip_space(&c);
    if (c.p < c.end && *c.p == '@') {
        c.p++;
        skip_space(&c);
    }
    while (c.p < c.end) {
        if (ago)
            return bad; /* "ago" must be last */
        const char *why;
        if (time_ahead(&c)) {
            i128 t;
            if ((why = read_time(&c, &t)) != NULL)
                return why;
            a.us += t;
        } else if (isalpha((unsigned char)*c.p)) {
            const char *w = c.p;
            while (c.p < c.end && isalpha((unsigned char)*c.p))
                c.p++;
            if ((size_t)(c.p - w) != 3 || strncasecmp(w, "ago", 3) != 0 || !any)
                return bad;
            ago = true;
        } else {
            int64_t v;
            double frac;
            if ((why = read_number(&c, &v, &frac)) != NULL)
                return why;
            skip_space(&c);
            unit u;
            const char *w = c.p;
            while (c.p < c.end && isalpha((unsigned char)*c.p))
                c.p++;
            size_t wn = (size_t)(c.p - w);
            if (wn == 3 && strncasecmp(w, "ago", 3) == 0) {
                c.p = w; /* a bare number, then "ago" */
                wn = 0;
            }
            if (wn == 0) /* a bare number: days before a time, else the default unit */
                u = time_ahead(&c) ? U_D : field_unit(field);
            else if (!find_unit(w, wn, &u))
                return bad;
            if (wn == 0 && c.p < c.end && !time_ahead(&c) &&
                !(c.end - c.p >= 3 && strncasecmp(c.p, "ago", 3) == 0))
                return bad; /* a bare number must be last, or precede a time */
            if (!apply_unit(&a, u, v, frac))
                return "a field is out of range";
            if (wn == 0) { /* the space after it is already skipped */
                any = true;
                continue;
            }
        }
        any = true;
        if (c.p < c.end && *c.p != ' ' && *c.p != '\t')
            return bad;
        skip_space(&c);
    }
    if (!any)
        return bad;
    if (ago) {
        a.months = -a.months;
        a.days = -a.days;
        a.us = -a.us;
    }
    if (a.months < INT32_MIN || a.months > INT32_MAX || a.days < INT32_MIN || a.days > INT32_MAX ||
        a.us < INT64_MIN || a.us > INT64_MAX)
        return "out of range for INTERVAL";
    dcr_interval v = {(int64_t)a.us, (int32_t)a.days, (int32_t)a.months};
    *out = dcr_interval_restrict(v, field);
    return NULL;
}

dcr_interval dcr_interval_restrict(dcr_interval v, dcr_interval_field field)
{
    switch (field) {
    case DCR_IV_YEAR:
        v.months = v.months / 12 * 12;
        /* fall through */
    case DCR_IV_MONTH:
        v.days = 0;
        /* fall through */
    case DCR_IV_DAY:
        v.us = 0;
        break;
    case DCR_IV_HOUR:
        v.us = v.us / US_PER_HOUR * US_PER_HOUR;
        break;
    case DCR_IV_MINUTE:
        v.us = v.us / US_PER_MIN * US_PER_MIN;
        break;
    case DCR_IV_NONE:
    case DCR_IV_SECOND:
        break;
    }
    return v;
}

/* ---- output ---- */

static char *put_part(char *p, int64_t v, const char *unit_name, bool *is_zero, bool *before)
{
    if (v == 0)
        return p;
    p += sprintf(p, "%s%s%lld %s%s", *is_zero ? "" : " ", *before && v > 0 ? "+" : "", (long long)v,
                 unit_name, v != 1 ? "s" : "");
    *before = v < 0;
    *is_zero = false;
    return p;
}

size_t dcr_format_interval(dcr_interval v, char *out)
{
    bool is_zero = true, before = false;
    char *p = out;
    p = put_part(p, v.months / 12, "year", &is_zero, &before);
    p = put_part(p, v.months % 12, "mon", &is_zero, &before);
    p = put_part(p, v.days, "day", &is_zero, &before);
    if (is_zero || v.us != 0) {
        int64_t t = v.us;
        bool minus = t < 0;
        /* |t| without overflow: INT64_MIN's magnitude fits in uint64 */
        uint64_t m = minus ? (uint64_t)0 - (uint64_t)t : (uint64_t)t;
        uint64_t hours = m / (uint64_t)US_PER_HOUR;
        m %= (uint64_t)US_PER_HOUR;
        unsigned min = (unsigned)(m / (uint64_t)US_PER_MIN);
        m %= (uint64_t)US_PER_MIN;
        unsigned sec = (unsigned)(m / (uint64_t)US_PER_SEC), us = (unsigned)(m % US_PER_SEC);
        p += sprintf(p, "%s%s%02llu:%02u:%02u", is_zero ? "" : " ",
                     minus    ? "-"
                     : before ? "+"
                              : "",
                     (unsigned long long)hours, min, sec);
        if (us) {
            char frac[8];
            snprintf(frac, sizeof frac, "%06u", us);
            size_t n = 6;
            while (frac[n - 1] == '0')
                n--;
            *p++ = '.';
            memcpy(p, frac, n);
            p += n;
        }
    }
    *p = '\0';
    return (size_t)(p - out);
}

/* ---- comparison ---- */

static i128 span(dcr_interval v)
{
    return ((i128)v.months * DAYS_PER_MONTH + v.days) * DCR_US_PER_DAY + v.us;
}

int dcr_interval_cmp(dcr_interval a, dcr_interval b)
{
    i128 x = span(a), y = span(b);
    return x < y ? -1 : x > y;
}

uint64_t dcr_interval_hash_key(dcr_interval v)
{
    unsigned __int128 s = (unsigned __int128)span(v);
    return (uint64_t)s ^ ((uint64_t)(s >> 64) * 0x9e3779b97f4a7c15ull);
}

/* ---- arithmetic ---- */

static bool fits(i128 months, i128 days, i128 us, dcr_interval *out)
{
    if (months < INT32_MIN || months > INT32_MAX || days < INT32_MIN || days > INT32_MAX ||
        us < INT64_MIN || us > INT64_MAX)
        return false;
    *out = (dcr_interval){(int64_t)us, (int32_t)days, (int32_t)months};
    return true;
}

bool dcr_interval_add(dcr_interval a, dcr_interval b, dcr_interval *out)
{
    return fits((i128)a.months + b.months, (i128)a.days + b.days, (i128)a.us + b.us, out);
}

bool dcr_interval_sub(dcr_interval a, dcr_interval b, dcr_interval *out)
{
    return fits((i128)a.months - b.months, (i128)a.days - b.days, (i128)a.us - b.us, out);
}

bool dcr_interval_neg(dcr_interval a, dcr_interval *out)
{
    return fits(-(i128)a.months, -(i128)a.days, -(i128)a.us, out);
}

static bool f_int32(double x)
{
    return x >= -2147483648.0 && x < 2147483648.0;
}

static double ts_round(double x)
{
    return rint(x * 1e6) / 1e6;
}

/* PostgreSQL's interval_mul / interval_div: whole months and days scale in
 * their fields, their fractions cascade down (a month = 30 days, a day =
 * 86400 s), never up. m and d are the scaled month and day counts. */
static bool scale(double m, double d, double t, dcr_interval *out)
{
    if (!f_int32(m) || !f_int32(d))
        return false;
    i128 months = (int32_t)m, days = (int32_t)d;
    double month_rem_days = ts_round((m - (double)months) * DAYS_PER_MONTH);
    double sec_rem =
        ts_round((d - (double)days + month_rem_days - (double)(int)month_rem_days) * SECS_PER_DAY);
    if (fabs(sec_rem) >= SECS_PER_DAY) {
        days += (int)(sec_rem / SECS_PER_DAY);
        sec_rem -= (int)(sec_rem / SECS_PER_DAY) * SECS_PER_DAY;
    }
    days += (int32_t)month_rem_days;
    double us = rint(t + sec_rem * 1e6);
    if (!(us >= -9223372036854775808.0 && us < 9223372036854775808.0))
        return false;
    return fits(months, days, (int64_t)us, out);
}

bool dcr_interval_mul(dcr_interval a, double f, dcr_interval *out)
{
    return scale(a.months * f, a.days * f, (double)a.us * f, out);
}

bool dcr_interval_div(dcr_interval a, double f, dcr_interval *out)
{
    return scale(a.months / f, a.days / f, (double)a.us / f, out);
}

/* ---- with timestamps ---- */

bool dcr_timestamp_add_interval(int64_t ts, dcr_interval v, int64_t *out)
{
    int64_t day = dcr_floor_div(ts, DCR_US_PER_DAY), tod = ts - day * DCR_US_PER_DAY;
    if (v.months != 0) {
        int64_t y, m, d;
        dcr_civil_from_days(day, &y, &m, &d);
        int64_t mm = y * 12 + (m - 1) + v.months; /* months since year 0 */
        y = dcr_floor_div(mm, 12);
        m = mm - y * 12 + 1;
        int dim = dcr_days_in_month(y, m);
        day = dcr_days_from_civil(y, m, d > dim ? dim : d);
    }
    i128 r = ((i128)day + v.days) * DCR_US_PER_DAY + tod + v.us;
    if (r < DCR_TIMESTAMP_MIN || r > DCR_TIMESTAMP_MAX)
        return false;
    *out = (int64_t)r;
    return true;
}

dcr_interval dcr_timestamp_diff(int64_t a, int64_t b)
{
    int64_t d = a - b; /* both within years 1..9999: no overflow */
    return (dcr_interval){d % DCR_US_PER_DAY, (int32_t)(d / DCR_US_PER_DAY), 0};
}

bool dcr_interval_part(int field, dcr_interval v, double *out)
{
    switch (field) {
    case 0:
        *out = v.months / 12;
        return true;
    case 1:
        *out = v.months % 12;
        return true;
    case 2:
        *out = v.days;
        return true;
    case 3:
        *out = (double)(v.us / US_PER_HOUR);
        return true;
    case 4:
        *out = (double)(v.us % US_PER_HOUR / US_PER_MIN);
        return true;
    case 5:
        *out = (double)(v.us % US_PER_MIN / US_PER_SEC) + (double)(v.us % US_PER_SEC) / 1e6;
        return true;
    case 8:
        *out = (double)v.us / 1e6 + 365.25 * SECS_PER_DAY * (v.months / 12) +
               DAYS_PER_MONTH * SECS_PER_DAY * (v.months % 12) + SECS_PER_DAY * v.days;
        return true;
    default:
        return false;
    }
}

bool dcr_interval_trunc(int u, dcr_interval v, dcr_interval *out)
{
    switch (u) {
    case 0:
        *out = dcr_interval_restrict(v, DCR_IV_MINUTE);
        return true;
    case 1:
        *out = dcr_interval_restrict(v, DCR_IV_HOUR);
        return true;
    case 2:
        *out = dcr_interval_restrict(v, DCR_IV_DAY);
        return true;
    case 4:
        *out = dcr_interval_restrict(v, DCR_IV_MONTH);
        return true;
    case 5:
        *out = dcr_interval_restrict(v, DCR_IV_YEAR);
        return true;
    default:
        return false;
    }
}

/*
 * func_math.c: numeric functions, PostgreSQL's rules:
 *   abs(BIGINT) -> BIGINT (abs of -9223372036854775808 is an error, never a
 *   wrap); abs(DOUBLE) -> DOUBLE;
 *   round(x) on DOUBLE rounds half to even (PostgreSQL's float8 round, which
 *   is rint()); round(x, n) rounds half away from zero at n decimal digits
 *   (PostgreSQL's numeric round; here computed in DOUBLE, so a decimal tie
 *   that is not exact in binary may round either way);
 *   floor(x), ceil(x) on DOUBLE. BIGINT arguments of round/floor/ceil are
 *   widened to DOUBLE by the binder, as PostgreSQL does.
 */
#include <math.h>

#include "exec/internal.h"

static double round_digits(double x, int64_t n)
{
    if (!isfinite(x))
        return x;
    if (n > 0) {
        if (n > 330)
            return x;
        double scale = pow(10.0, (double)n), y = x * scale;
        return isfinite(y) ? round(y) / scale : x;
    }
    if (n < -330)
        return 0.0 * x;
    double scale = pow(10.0, (double)-n);
    return round(x / scale) * scale;
}

dcr_status dcr_fn_math(dcr_exec_ctx *ctx, const dcr_expr *e, const dcr_column *const *a,
                       const uint8_t *active, size_t n, dcr_column *out, dcr_error *err)
{
    for (size_t i = 0; i < n; i++) {
        dcr_status s;
        if (!dcr_fn_row_on(e, a, active, i)) {
            s = dcr_column_push_null(out, err);
        } else if (e->type == DCR_TYPE_BIGINT) { /* abs(BIGINT) */
            int64_t v = ((const int64_t *)a[0]->values)[i];
            if (v != INT64_MIN)
                s = dcr_column_push_i64(out, v < 0 ? -v : v, err);
            else if (dcr_eval_row_fail(ctx, e, err, "bigint out of range"))
                return DCR_EINPUT;
            else
                s = dcr_column_push_null(out, err);
        } else {
            double v = ((const double *)a[0]->values)[i], r;
            switch (e->fn) {
            case DCR_FN_ABS:
                r = fabs(v);
                break;
            case DCR_FN_ROUND:
                r = e->nargs == 2 ? round_digits(v, ((const int64_t *)a[1]->values)[i]) : rint(v);
                break;
            case DCR_FN_FLOOR:
                r = floor(v);
                break;
            default:
                r = ceil(v);
                break;
            }
            s = dcr_column_push_f64(out, r, err);
        }
        if (s != DCR_OK)
            return s;
    }
    return DCR_OK;
}

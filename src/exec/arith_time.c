/*
 * arith_time.c: + and - (and * and / with intervals) on DATE, TIMESTAMP
 * and INTERVAL, vectorised, with PostgreSQL's operators and results:
 *
 *   DATE +/- BIGINT, BIGINT + DATE -> DATE        (days)
 *   DATE - DATE                   -> BIGINT      (days)
 *   TIMESTAMP +/- INTERVAL, INTERVAL + TIMESTAMP -> TIMESTAMP
 *                                   (a DATE operand arrives widened)
 *   TIMESTAMP - TIMESTAMP         -> INTERVAL    (days + time)
 *   INTERVAL +/- INTERVAL         -> INTERVAL
 *   INTERVAL * DOUBLE, DOUBLE * INTERVAL, INTERVAL / DOUBLE -> INTERVAL
 *   - INTERVAL                    -> INTERVAL
 *
 * The binder (sql/bind_time.c) only builds these combinations. Results
 * outside dcr's ranges are errors ("date out of range", "timestamp out of
 * range", "interval out of range"), never wrapped; the calendar rules are
 * base/interval.h's.
 */
#include "exec/internal.h"

static inline bool row_on(const uint8_t *active, const dcr_column *a, const dcr_column *b, size_t i)
{
    return (!active || active[i]) && !dcr_column_is_null(a, i) && !dcr_column_is_null(b, i);
}

static dcr_status date_days(dcr_exec_ctx *ctx, const dcr_expr *e, const dcr_column *a,
                            const dcr_column *b, const uint8_t *active, dcr_column *out,
                            dcr_error *err)
{
    bool date_first = a->type == DCR_TYPE_DATE;
    const dcr_column *d = date_first ? a : b, *k = date_first ? b : a;
    for (size_t i = 0; i < out->nrows; i++) {
        if (!row_on(active, a, b, i)) {
            dcr_vec_set_null(out, i);
            continue;
        }
        int64_t day = ((const int32_t *)d->values)[i], n = ((const int64_t *)k->values)[i];
        /* |n| beyond the date range can never land inside it */
        bool ok = n > -2 * (int64_t)DCR_DATE_MAX && n < 2 * (int64_t)DCR_DATE_MAX;
        int64_t r = ok ? (e->op == DCR_OP_SUB ? day - n : day + n) : 0;
        if (!ok || r < DCR_DATE_MIN || r > DCR_DATE_MAX) {
            if (dcr_eval_row_fail(ctx, e, err, "date out of range"))
                return DCR_EINPUT;
            dcr_vec_set_null(out, i);
            continue;
        }
        ((int32_t *)out->values)[i] = (int32_t)r;
    }
    return DCR_OK;
}

static void date_diff(const dcr_column *a, const dcr_column *b, const uint8_t *active,
                      dcr_column *out)
{
    for (size_t i = 0; i < out->nrows; i++) {
        if (!row_on(active, a, b, i))
            dcr_vec_set_null(out, i);
        else
            ((int64_t *)out->values)[i] =
                (int64_t)((const int32_t *)a->values)[i] - ((const int32_t *)b->values)[i];
    }
}

static dcr_status ts_interval(dcr_exec_ctx *ctx, const dcr_expr *e, const dcr_column *a,
                              const dcr_column *b, const uint8_t *active, dcr_column *out,
                              dcr_error *err)
{
    bool ts_first = a->type == DCR_TYPE_TIMESTAMP;
    const dcr_column *t = ts_first ? a : b, *v = ts_first ? b : a;
    for (size_t i = 0; i < out->nrows; i++) {
        if (!row_on(active, a, b, i)) {
            dcr_vec_set_null(out, i);
            continue;
        }
        dcr_interval iv = ((const dcr_interval *)v->values)[i];
        const char *bad = NULL;
        if (e->op == DCR_OP_SUB && !dcr_interval_neg(iv, &iv))
            bad = "interval out of range";
        else if (!dcr_timestamp_add_interval(((const int64_t *)t->values)[i], iv,
                                             &((int64_t *)out->values)[i]))
            bad = "timestamp out of range";
        if (bad && dcr_eval_row_fail(ctx, e, err, bad))
            return DCR_EINPUT;
        if (bad)
            dcr_vec_set_null(out, i);
    }
    return DCR_OK;
}

static void ts_diff(const dcr_column *a, const dcr_column *b, const uint8_t *active,
                    dcr_column *out)
{
    for (size_t i = 0; i < out->nrows; i++) {
        if (!row_on(active, a, b, i))
            dcr_vec_set_null(out, i);
        else
            ((dcr_interval *)out->values)[i] = dcr_timestamp_diff(((const int64_t *)a->values)[i],
                                                                  ((const int64_t *)b->values)[i]);
    }
}

static dcr_status interval_op(dcr_exec_ctx *ctx, const dcr_expr *e, const dcr_column *a,
                              const dcr_column *b, const uint8_t *active, dcr_column *out,
                              dcr_error *err)
{
    bool iv_first = a->type == DCR_TYPE_INTERVAL;
    for (size_t i = 0; i < out->nrows; i++) {
        if (!row_on(active, a, b, i)) {
            dcr_vec_set_null(out, i);
            continue;
        }
        dcr_interval *r = &((dcr_interval *)out->values)[i];
        bool ok = false;
        const char *bad = "interval out of range";
        if (a->type == DCR_TYPE_INTERVAL && b->type == DCR_TYPE_INTERVAL) {
            dcr_interval x = ((const dcr_interval *)a->values)[i];
            dcr_interval y = ((const dcr_interval *)b->values)[i];
            ok = e->op == DCR_OP_ADD ? dcr_interval_add(x, y, r) : dcr_interval_sub(x, y, r);
        } else {
            dcr_interval x = ((const dcr_interval *)(iv_first ? a : b)->values)[i];
            double f = ((const double *)(iv_first ? b : a)->values)[i];
            if (e->op == DCR_OP_DIV && f == 0)
                bad = "division by zero";
            else
                ok = e->op == DCR_OP_DIV ? dcr_interval_div(x, f, r) : dcr_interval_mul(x, f, r);
        }
        if (!ok && dcr_eval_row_fail(ctx, e, err, bad))
            return DCR_EINPUT;
        if (!ok)
            dcr_vec_set_null(out, i);
    }
    return DCR_OK;
}

bool dcr_arith_is_time(const dcr_expr *e)
{
    for (size_t k = 0; k < e->nargs && k < 2; k++) {
        dcr_type t = e->args[k]->type;
        if (t == DCR_TYPE_DATE || t == DCR_TYPE_TIMESTAMP || t == DCR_TYPE_INTERVAL)
            return true;
    }
    return false;
}

dcr_status dcr_eval_arith_time(dcr_exec_ctx *ctx, const dcr_expr *e, const dcr_column *a,
                               const dcr_column *b, const uint8_t *active, dcr_column *out,
                               dcr_error *err)
{
    switch (e->type) {
    case DCR_TYPE_DATE:
        return date_days(ctx, e, a, b, active, out, err);
    case DCR_TYPE_BIGINT: /* DATE - DATE */
        date_diff(a, b, active, out);
        return DCR_OK;
    case DCR_TYPE_TIMESTAMP:
        return ts_interval(ctx, e, a, b, active, out, err);
    case DCR_TYPE_INTERVAL:
        if (a->type == DCR_TYPE_TIMESTAMP) { /* TIMESTAMP - TIMESTAMP */
            ts_diff(a, b, active, out);
            return DCR_OK;
        }
        return interval_op(ctx, e, a, b, active, out, err);
    default:
        return dcr_fail(err, DCR_EINTERNAL, "bad date/time arithmetic in the plan");
    }
}

dcr_status dcr_eval_neg_interval(dcr_exec_ctx *ctx, const dcr_expr *e, const dcr_column *a,
                                 const uint8_t *active, dcr_column *out, dcr_error *err)
{
    for (size_t i = 0; i < out->nrows; i++) {
        if ((active && !active[i]) || dcr_column_is_null(a, i))
            dcr_vec_set_null(out, i);
        else if (!dcr_interval_neg(((const dcr_interval *)a->values)[i],
                                   &((dcr_interval *)out->values)[i])) {
            if (dcr_eval_row_fail(ctx, e, err, "interval out of range"))
                return DCR_EINPUT;
            dcr_vec_set_null(out, i);
        }
    }
    return DCR_OK;
}

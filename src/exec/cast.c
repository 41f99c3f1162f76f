/*
 * cast.c: CAST between dcr's types, vectorised, with PostgreSQL's rules:
 *   - DOUBLE -> BIGINT rounds half to even (rint) and fails outside int64
 *     or on NaN; BIGINT -> DOUBLE is exact up to 2^53, then rounds;
 *   - anything -> TEXT writes the canonical text form (csv/value.h, the
 *     same as `dcr unseal`): DOUBLE shortest round-trip, BOOLEAN true/false;
 *   - TEXT -> anything parses with the CSV input rules and fails on bad
 *     input (the message names the type, never the value: it is data);
 *   - DATE -> TIMESTAMP is midnight; TIMESTAMP -> DATE drops the time;
 *   - INTERVAL <-> TEXT only (PostgreSQL's output style, base/interval.h).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "csv/value.h"
#include "exec/internal.h"

dcr_status dcr_exec_cast(dcr_exec_ctx *ctx, const dcr_expr *e, const dcr_column *in,
                         const uint8_t *active, dcr_column *out, dcr_error *err);

#define DAY_US 86400000000LL

static dcr_status to_text(const dcr_column *in, const uint8_t *active, dcr_column *out,
                          dcr_error *err)
{
    dcr_column_init(out, DCR_TYPE_TEXT);
    for (size_t i = 0; i < in->nrows; i++) {
        dcr_status s;
        char buf[DCR_RESULT_TEXT_MAX];
        if ((active && !active[i]) || dcr_column_is_null(in, i)) {
            s = dcr_column_push_null(out, err);
        } else {
            size_t len;
            const char *t = dcr_result_value_text(in, i, buf, &len);
            s = dcr_column_push_text(out, t, len, err);
        }
        if (s != DCR_OK)
            return s;
    }
    return DCR_OK;
}

static dcr_status from_text(dcr_exec_ctx *ctx, const dcr_expr *e, const dcr_column *in,
                            const uint8_t *active, dcr_column *out, dcr_error *err)
{
    dcr_status s = dcr_vec_alloc(out, e->type, in->nrows, err);
    for (size_t i = 0; s == DCR_OK && i < in->nrows; i++) {
        if ((active && !active[i]) || dcr_column_is_null(in, i)) {
            dcr_vec_set_null(out, i);
            continue;
        }
        size_t len;
        const char *t = dcr_vec_text(in, i, &len);
        dcr_datum d;
        if (dcr_parse_literal(e->type, t, len, &d) != NULL) {
            char msg[96];
            snprintf(msg, sizeof msg, "invalid input syntax for type %s in CAST",
                     dcr_type_name(e->type));
            if (dcr_eval_row_fail(ctx, e, err, msg))
                return DCR_EINPUT;
            dcr_vec_set_null(out, i);
            continue;
        }
        switch (e->type) {
        case DCR_TYPE_BIGINT:
        case DCR_TYPE_TIMESTAMP:
            ((int64_t *)out->values)[i] = d.i64;
            break;
        case DCR_TYPE_DOUBLE:
            ((double *)out->values)[i] = d.f64;
            break;
        case DCR_TYPE_DATE:
            ((int32_t *)out->values)[i] = d.i32;
            break;
        case DCR_TYPE_BOOLEAN:
            ((uint8_t *)out->values)[i] = d.b;
            break;
        case DCR_TYPE_INTERVAL:
            ((dcr_interval *)out->values)[i] = d.iv;
            break;
        case DCR_TYPE_TEXT:
            break;
        }
    }
    return s;
}

static dcr_status fixed_cast(dcr_exec_ctx *ctx, const dcr_expr *e, const dcr_column *in,
                             const uint8_t *active, dcr_column *out, dcr_error *err)
{
    dcr_status s = dcr_vec_alloc(out, e->type, in->nrows, err);
    for (size_t i = 0; s == DCR_OK && i < in->nrows; i++) {
        if ((active && !active[i]) || dcr_column_is_null(in, i)) {
            dcr_vec_set_null(out, i);
            continue;
        }
        if (in->type == DCR_TYPE_BIGINT && e->type == DCR_TYPE_DOUBLE) {
            ((double *)out->values)[i] = (double)((const int64_t *)in->values)[i];
        } else if (in->type == DCR_TYPE_DOUBLE && e->type == DCR_TYPE_BIGINT) {
            double v = rint(((const double *)in->values)[i]);
            /* 2^63 is exactly representable; anything at or beyond fails. */
            if (!(v >= -9223372036854775808.0 && v < 9223372036854775808.0)) {
                if (dcr_eval_row_fail(ctx, e, err, "bigint out of range"))
                    return DCR_EINPUT;
                dcr_vec_set_null(out, i);
                continue;
            }
            ((int64_t *)out->values)[i] = (int64_t)v;
        } else if (in->type == DCR_TYPE_DATE && e->type == DCR_TYPE_TIMESTAMP) {
            ((int64_t *)out->values)[i] = (int64_t)((const int32_t *)in->values)[i] * DAY_US;
        } else if (in->type == DCR_TYPE_TIMESTAMP && e->type == DCR_TYPE_DATE) {
            int64_t us = ((const int64_t *)in->values)[i];
            int64_t days = us / DAY_US - (us % DAY_US < 0);
            ((int32_t *)out->values)[i] = (int32_t)days;
        } else {
            return dcr_fail(err, DCR_EINTERNAL, "cannot cast %s to %s", dcr_type_name(in->type),
                            dcr_type_name(e->type));
        }
    }
    return s;
}

dcr_status dcr_exec_cast(dcr_exec_ctx *ctx, const dcr_expr *e, const dcr_column *in,
                         const uint8_t *active, dcr_column *out, dcr_error *err)
{
    if (in->type == e->type)
        return dcr_vec_copy(out, in, err);
    if (e->type == DCR_TYPE_TEXT)
        return to_text(in, active, out, err);
    if (in->type == DCR_TYPE_TEXT)
        return from_text(ctx, e, in, active, out, err);
    return fixed_cast(ctx, e, in, active, out, err);
}

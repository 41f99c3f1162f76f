/*
 * expr.c: vectorised evaluation of typed expressions over a batch.
 *
 * Each node evaluates its children to whole vectors, then runs one tight
 * loop per type. Semantics are PostgreSQL's:
 *   - NULL in, NULL out for arithmetic and comparison;
 *   - AND/OR/NOT are three-valued (FALSE AND NULL = FALSE, TRUE OR NULL =
 *     TRUE);
 *   - BIGINT + - * / % raise "bigint out of range" on overflow (never wrap),
 *     / truncates toward zero, / and % by zero raise "division by zero";
 *   - DOUBLE arithmetic raises on overflow to infinity and on underflow to
 *     zero from non-zero operands, as PostgreSQL's float8 does; / by zero
 *     raises;
 *   - x IN (list) is true if x equals an element, else NULL if x or any
 *     element is NULL, else false;
 *   - date, timestamp and interval arithmetic is arith_time.c's.
 * The `active` mask makes CASE, COALESCE, AND and OR lazy per row: a branch
 * is only computed (and can only fail) on rows that reach it.
 */
#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/bytes.h"
#include "exec/internal.h"

dcr_status dcr_exec_cast(dcr_exec_ctx *ctx, const dcr_expr *e, const dcr_column *in,
                         const uint8_t *active, dcr_column *out, dcr_error *err);

void dcr_vec_free(dcr_vec *v)
{
    dcr_column_free(&v->own);
    v->c = NULL;
}

bool dcr_eval_row_fail(dcr_exec_ctx *ctx, const dcr_expr *e, dcr_error *err, const char *msg)
{
    if (ctx->total)
        return false; /* no trace of the row: not even err_location moves */
    ctx->err_location = e ? e->location : -1;
    dcr_status s = dcr_fail(err, DCR_EINPUT, "%s", msg);
    assert(s == DCR_EINPUT); /* the caller reports DCR_EINPUT without s */
    (void)s;
    return true;
}

/* dcr_vec_set_null as a status, for a loop that runs while s == DCR_OK. */
static inline dcr_status set_null(dcr_column *out, size_t i)
{
    dcr_vec_set_null(out, i);
    return DCR_OK;
}

static inline bool on(const uint8_t *active, size_t i)
{
    return !active || active[i];
}

static inline bool isnull(const dcr_column *c, size_t i)
{
    return dcr_column_is_null(c, i);
}

/* ---- constants ---- */

static dcr_status eval_const(const dcr_expr *e, size_t n, dcr_column *out, dcr_error *err)
{
    const dcr_datum *d = &e->value;
    if (e->type == DCR_TYPE_TEXT) { /* n copies, laid out at once (CASE branches) */
        dcr_column_init(out, DCR_TYPE_TEXT);
        if (d->null || n == 0)
            return dcr_vec_append_nulls(out, d->null ? n : 0, err);
        if (d->len && n > UINT32_MAX / d->len)
            return dcr_fail(err, DCR_EINPUT, "text data of one batch exceeds 4 GiB");
        dcr_status s = dcr_column_reserve_rows(out, n, err);
        s = s ? s : dcr_column_reserve_text(out, n * d->len, err);
        if (s != DCR_OK)
            return s;
        for (size_t i = 0; i < n; i++) {
            if (d->len)
                dcr_copy_bytes(out->text + i * d->len, d->text, d->len);
            out->offsets[i + 1] = (uint32_t)((i + 1) * d->len);
        }
        memset(out->valid, 0xff, (n + 7) / 8);
        out->nrows = n;
        out->text_len = n * d->len;
        return DCR_OK;
    }
    dcr_status s = dcr_vec_alloc(out, e->type, n, err);
    if (s != DCR_OK)
        return s;
    for (size_t i = 0; i < n; i++) {
        if (d->null) {
            dcr_vec_set_null(out, i);
            continue;
        }
        switch (e->type) {
        case DCR_TYPE_BIGINT:
        case DCR_TYPE_TIMESTAMP:
            ((int64_t *)out->values)[i] = d->i64;
            break;
        case DCR_TYPE_DOUBLE:
            ((double *)out->values)[i] = d->f64;
            break;
        case DCR_TYPE_DATE:
            ((int32_t *)out->values)[i] = d->i32;
            break;
        case DCR_TYPE_BOOLEAN:
            ((uint8_t *)out->values)[i] = d->b;
            break;
        case DCR_TYPE_INTERVAL:
            ((dcr_interval *)out->values)[i] = d->iv;
            break;
        case DCR_TYPE_TEXT:
            break;
        }
    }
    return DCR_OK;
}

/* ---- arithmetic ---- */

static dcr_status arith_i64(dcr_exec_ctx *ctx, const dcr_expr *e, const dcr_column *a,
                            const dcr_column *b, const uint8_t *active, dcr_column *out,
                            dcr_error *err)
{
    const int64_t *x = a->values, *y = b->values;
    int64_t *r = out->values;
    for (size_t i = 0; i < out->nrows; i++) {
        if (!on(active, i) || isnull(a, i) || isnull(b, i)) {
            dcr_vec_set_null(out, i);
            continue;
        }
        bool ovf = false;
        switch (e->op) {
        case DCR_OP_ADD:
            ovf = __builtin_add_overflow(x[i], y[i], &r[i]);
            break;
        case DCR_OP_SUB:
            ovf = __builtin_sub_overflow(x[i], y[i], &r[i]);
            break;
        case DCR_OP_MUL:
            ovf = __builtin_mul_overflow(x[i], y[i], &r[i]);
            break;
        case DCR_OP_DIV:
        case DCR_OP_MOD:
            if (y[i] == 0) {
                if (dcr_eval_row_fail(ctx, e, err, "division by zero"))
                    return DCR_EINPUT;
                dcr_vec_set_null(out, i);
                continue;
            }
            if (y[i] == -1) { /* INT64_MIN / -1 overflows; INT64_MIN % -1 is 0 */
                ovf = e->op == DCR_OP_DIV && x[i] == INT64_MIN;
                r[i] = e->op == DCR_OP_DIV ? (ovf ? 0 : -x[i]) : 0;
            } else {
                r[i] = e->op == DCR_OP_DIV ? x[i] / y[i] : x[i] % y[i];
            }
            break;
        default:
            return dcr_fail(err, DCR_EINTERNAL, "bad arithmetic operator");
        }
        if (ovf) {
            if (dcr_eval_row_fail(ctx, e, err, "bigint out of range"))
                return DCR_EINPUT;
            dcr_vec_set_null(out, i);
        }
    }
    return DCR_OK;
}

static dcr_status arith_f64(dcr_exec_ctx *ctx, const dcr_expr *e, const dcr_column *a,
                            const dcr_column *b, const uint8_t *active, dcr_column *out,
                            dcr_error *err)
{
    const double *x = a->values, *y = b->values;
    double *r = out->values;
    for (size_t i = 0; i < out->nrows; i++) {
        if (!on(active, i) || isnull(a, i) || isnull(b, i)) {
            dcr_vec_set_null(out, i);
            continue;
        }
        const char *bad = NULL;
        double v = 0;
        switch (e->op) {
        case DCR_OP_ADD:
            v = x[i] + y[i];
            break;
        case DCR_OP_SUB:
            v = x[i] - y[i];
            break;
        case DCR_OP_MUL:
            v = x[i] * y[i];
            break;
        case DCR_OP_DIV:
            if (y[i] == 0)
                bad = "division by zero";
            else
                v = x[i] / y[i];
            break;
        default:
            return dcr_fail(err, DCR_EINTERNAL, "bad arithmetic operator");
        }
        if (!bad && isinf(v) && !isinf(x[i]) && !isinf(y[i]))
            bad = "value out of range: overflow";
        if (!bad && v == 0 && x[i] != 0 &&
            (e->op == DCR_OP_MUL ? y[i] != 0 : e->op == DCR_OP_DIV) && !isinf(y[i]))
            bad = "value out of range: underflow";
        if (bad) {
            if (dcr_eval_row_fail(ctx, e, err, bad))
                return DCR_EINPUT;
            dcr_vec_set_null(out, i);
            continue;
        }
        r[i] = v;
    }
    return DCR_OK;
}

static dcr_status eval_arith(dcr_exec_ctx *ctx, const dcr_expr *e, const dcr_batch *in,
                             const uint8_t *active, dcr_column *out, dcr_error *err)
{
    dcr_vec a = {0}, b = {0};
    dcr_status s = dcr_eval(ctx, e->args[0], in, active, &a, err);
    s = s ? s : dcr_eval(ctx, e->args[1], in, active, &b, err);
    s = s ? s : dcr_vec_alloc(out, e->type, in->nrows, err);
    if (s == DCR_OK && dcr_arith_is_time(e))
        s = dcr_eval_arith_time(ctx, e, a.c, b.c, active, out, err);
    else if (s == DCR_OK)
        s = e->type == DCR_TYPE_BIGINT ? arith_i64(ctx, e, a.c, b.c, active, out, err)
                                       : arith_f64(ctx, e, a.c, b.c, active, out, err);
    dcr_vec_free(&a);
    dcr_vec_free(&b);
    return s;
}

static dcr_status eval_neg(dcr_exec_ctx *ctx, const dcr_expr *e, const dcr_batch *in,
                           const uint8_t *active, dcr_column *out, dcr_error *err)
{
    dcr_vec a = {0};
    dcr_status s = dcr_eval(ctx, e->args[0], in, active, &a, err);
    s = s ? s : dcr_vec_alloc(out, e->type, in->nrows, err);
    if (s == DCR_OK && e->type == DCR_TYPE_INTERVAL) {
        s = dcr_eval_neg_interval(ctx, e, a.c, active, out, err);
        dcr_vec_free(&a);
        return s;
    }
    for (size_t i = 0; s == DCR_OK && i < in->nrows; i++) {
        if (!on(active, i) || isnull(a.c, i)) {
            dcr_vec_set_null(out, i);
        } else if (e->type == DCR_TYPE_DOUBLE) {
            ((double *)out->values)[i] = -((const double *)a.c->values)[i];
        } else {
            int64_t v = ((const int64_t *)a.c->values)[i];
            if (v == INT64_MIN)
                s = dcr_eval_row_fail(ctx, e, err, "bigint out of range") ? DCR_EINPUT
                                                                          : set_null(out, i);
            else
                ((int64_t *)out->values)[i] = -v;
        }
    }
    dcr_vec_free(&a);
    return s;
}

/* ---- comparison ---- */

static inline bool cmp_holds(dcr_expr_op op, int c)
{
    switch (op) {
    case DCR_OP_EQ:
        return c == 0;
    case DCR_OP_NE:
        return c != 0;
    case DCR_OP_LT:
        return c < 0;
    case DCR_OP_LE:
        return c <= 0;
    case DCR_OP_GT:
        return c > 0;
    default:
        return c >= 0;
    }
}

#define CMP_LOOP(T, CMP)                                                                           \
    do {                                                                                           \
        const T *x = a->values, *y = b->values;                                                    \
        for (size_t i = 0; i < n; i++)                                                             \
            r[i] = cmp_holds(op, CMP(x[i], y[i]));                                                 \
    } while (0)
#define CMP_NUM(p, q) ((p) < (q) ? -1 : (p) > (q))

static void compare_vectors(dcr_expr_op op, const dcr_column *a, const dcr_column *b, size_t n,
                            uint8_t *r)
{
    switch (a->type) {
    case DCR_TYPE_BIGINT:
    case DCR_TYPE_TIMESTAMP:
        CMP_LOOP(int64_t, CMP_NUM);
        break;
    case DCR_TYPE_DATE:
        CMP_LOOP(int32_t, CMP_NUM);
        break;
    case DCR_TYPE_BOOLEAN:
        CMP_LOOP(uint8_t, CMP_NUM);
        break;
    case DCR_TYPE_DOUBLE:
        CMP_LOOP(double, dcr_f64_cmp);
        break;
    case DCR_TYPE_TEXT:
    case DCR_TYPE_INTERVAL:
        for (size_t i = 0; i < n; i++)
            r[i] = cmp_holds(op, dcr_value_cmp(a, i, b, i));
        break;
    }
}

static dcr_status eval_cmp(dcr_exec_ctx *ctx, const dcr_expr *e, const dcr_batch *in,
                           const uint8_t *active, dcr_column *out, dcr_error *err)
{
    dcr_vec a = {0}, b = {0};
    dcr_status s = dcr_eval(ctx, e->args[0], in, active, &a, err);
    s = s ? s : dcr_eval(ctx, e->args[1], in, active, &b, err);
    s = s ? s : dcr_vec_alloc(out, DCR_TYPE_BOOLEAN, in->nrows, err);
    if (s == DCR_OK) {
        compare_vectors(e->op, a.c, b.c, in->nrows, out->values);
        if (a.c->nnulls || b.c->nnulls || active)
            for (size_t i = 0; i < in->nrows; i++)
                if (!on(active, i) || isnull(a.c, i) || isnull(b.c, i))
                    dcr_vec_set_null(out, i);
    }
    dcr_vec_free(&a);
    dcr_vec_free(&b);
    return s;
}

/* ---- boolean logic ---- */

static dcr_status eval_andor(dcr_exec_ctx *ctx, const dcr_expr *e, const dcr_batch *in,
                             const uint8_t *active, dcr_column *out, dcr_error *err)
{
    /* AND: FALSE decides, else NULL if any NULL, else TRUE. OR: dual. Rows
     * already decided are not evaluated further (left to right). */
    size_t n = in->nrows;
    uint8_t decider = e->kind == DCR_EXPR_OR;
    uint8_t *live = malloc(n ? n : 1), *sawnull = calloc(n ? n : 1, 1);
    dcr_status s = live && sawnull ? dcr_vec_alloc(out, DCR_TYPE_BOOLEAN, n, err)
                                   : dcr_fail(err, DCR_EINTERNAL, "out of memory");
    for (size_t i = 0; s == DCR_OK && i < n; i++)
        live[i] = on(active, i);
    for (size_t k = 0; s == DCR_OK && k < e->nargs; k++) {
        dcr_vec v = {0};
        if ((s = dcr_eval(ctx, e->args[k], in, live, &v, err)) != DCR_OK)
            break;
        const uint8_t *x = v.c->values;
        for (size_t i = 0; i < n; i++) {
            if (!live[i])
                continue;
            if (isnull(v.c, i))
                sawnull[i] = 1;
            else if (x[i] == decider)
                live[i] = 0, ((uint8_t *)out->values)[i] = decider, sawnull[i] = 2;
        }
        dcr_vec_free(&v);
    }
    for (size_t i = 0; s == DCR_OK && i < n; i++) {
        if (!on(active, i) || sawnull[i] == 1)
            dcr_vec_set_null(out, i);
        else if (sawnull[i] == 0)
            ((uint8_t *)out->values)[i] = !decider;
    }
    free(live);
    free(sawnull);
    return s;
}

static dcr_status eval_not(dcr_exec_ctx *ctx, const dcr_expr *e, const dcr_batch *in,
                           const uint8_t *active, dcr_column *out, dcr_error *err)
{
    dcr_vec a = {0};
    dcr_status s = dcr_eval(ctx, e->args[0], in, active, &a, err);
    s = s ? s : dcr_vec_alloc(out, DCR_TYPE_BOOLEAN, in->nrows, err);
    for (size_t i = 0; s == DCR_OK && i < in->nrows; i++) {
        if (!on(active, i) || isnull(a.c, i))
            dcr_vec_set_null(out, i);
        else
            ((uint8_t *)out->values)[i] = !((const uint8_t *)a.c->values)[i];
    }
    dcr_vec_free(&a);
    return s;
}

static dcr_status eval_is_null(dcr_exec_ctx *ctx, const dcr_expr *e, const dcr_batch *in,
                               const uint8_t *active, dcr_column *out, dcr_error *err)
{
    dcr_vec a = {0};
    dcr_status s = dcr_eval(ctx, e->args[0], in, active, &a, err);
    s = s ? s : dcr_vec_alloc(out, DCR_TYPE_BOOLEAN, in->nrows, err);
    for (size_t i = 0; s == DCR_OK && i < in->nrows; i++) {
        if (!on(active, i))
            dcr_vec_set_null(out, i);
        else
            ((uint8_t *)out->values)[i] = isnull(a.c, i) != e->negated;
    }
    dcr_vec_free(&a);
    return s;
}

static dcr_status eval_in(dcr_exec_ctx *ctx, const dcr_expr *e, const dcr_batch *in,
                          const uint8_t *active, dcr_column *out, dcr_error *err)
{
    size_t n = in->nrows;
    dcr_vec x = {0};
    uint8_t *found = calloc(n ? n : 1, 1), *sawnull = calloc(n ? n : 1, 1);
    dcr_status s = found && sawnull ? dcr_eval(ctx, e->args[0], in, active, &x, err)
                                    : dcr_fail(err, DCR_EINTERNAL, "out of memory");
    for (size_t k = 1; s == DCR_OK && k < e->nargs; k++) {
        dcr_vec v = {0};
        if ((s = dcr_eval(ctx, e->args[k], in, active, &v, err)) != DCR_OK)
            break;
        for (size_t i = 0; i < n; i++) {
            if (found[i] || !on(active, i))
                continue;
            if (isnull(x.c, i) || isnull(v.c, i))
                sawnull[i] = 1;
            else if (dcr_value_cmp(x.c, i, v.c, i) == 0)
                found[i] = 1;
        }
        dcr_vec_free(&v);
    }
    s = s ? s : dcr_vec_alloc(out, DCR_TYPE_BOOLEAN, n, err);
    for (size_t i = 0; s == DCR_OK && i < n; i++) {
        if (!on(active, i) || (!found[i] && (sawnull[i] || isnull(x.c, i))))
            dcr_vec_set_null(out, i);
        else
            ((uint8_t *)out->values)[i] = found[i] != e->negated;
    }
    dcr_vec_free(&x);
    free(found);
    free(sawnull);
    return s;
}

/* ---- CASE and COALESCE: pick each row from one of several vectors ---- */

typedef struct {
    size_t n;
    dcr_vec *v;
    const dcr_datum **lit; /* per vector: a TEXT constant not evaluated, else NULL */
    int32_t *pick;         /* per row: index into v, or -1 for NULL */
} picker;

static dcr_status picker_init(picker *p, size_t nvecs, size_t nrows, dcr_error *err)
{
    p->n = 0;
    p->v = calloc(nvecs ? nvecs : 1, sizeof *p->v);
    p->lit = calloc(nvecs ? nvecs : 1, sizeof *p->lit);
    p->pick = malloc((nrows ? nrows : 1) * sizeof *p->pick);
    if (!p->v || !p->lit || !p->pick)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    for (size_t i = 0; i < nrows; i++)
        p->pick[i] = -1;
    return DCR_OK;
}

static void picker_free(picker *p)
{
    for (size_t i = 0; p->v && i < p->n; i++)
        dcr_vec_free(&p->v[i]);
    free(p->v);
    free(p->lit);
    free(p->pick);
}

/* Row i of pick k: its bytes (len), or NULL for a NULL value. */
static inline const char *picked_text(const picker *p, int32_t k, size_t i, size_t *len)
{
    if (k < 0 || (p->lit[k] && p->lit[k]->null) || (!p->lit[k] && dcr_column_is_null(p->v[k].c, i)))
        return *len = 0, NULL;
    if (p->lit[k])
        return *len = p->lit[k]->len, p->lit[k]->text;
    return dcr_vec_text(p->v[k].c, i, len);
}

/* When every branch is a constant, out gets dictionary codes (store/column.h:
 * equal codes for equal values), as a dictionary-decoded column has: a
 * GROUP BY on a CASE of labels then groups by code (aggregate.c). */
static dcr_status literal_codes(const picker *p, dcr_column *out, dcr_error *err)
{
    enum { MAX_LITERALS = 64 };
    uint16_t code[MAX_LITERALS];
    size_t ncodes = 0;
    if (p->n == 0 || p->n > MAX_LITERALS)
        return DCR_OK;
    for (size_t k = 0; k < p->n; k++) {
        const dcr_datum *d = p->lit[k];
        if (!d)
            return DCR_OK; /* a computed branch: no codes */
        size_t same = k;
        for (size_t j = 0; same == k && j < k; j++)
            if (!p->lit[j]->null && !d->null && p->lit[j]->len == d->len &&
                memcmp(p->lit[j]->text, d->text, d->len) == 0)
                same = j;
        code[k] = d->null ? 0 : same < k ? code[same] : (uint16_t)ncodes++;
    }
    if (ncodes == 0)
        return DCR_OK;
    dcr_status s = dcr_column_reserve_codes(out, out->nrows, err);
    if (s != DCR_OK)
        return s;
    for (size_t i = 0; i < out->nrows; i++)
        out->codes[i] = p->pick[i] < 0 ? 0 : code[p->pick[i]];
    out->ncodes = ncodes;
    return DCR_OK;
}

/* TEXT picks laid out at once: the bytes counted, reserved, then copied.
 * A constant branch is copied from the constant, never made per row. */
static dcr_status picker_build_text(picker *p, size_t nrows, dcr_column *out, dcr_error *err)
{
    uint64_t bytes = 0;
    for (size_t i = 0; i < nrows; i++) {
        size_t len;
        picked_text(p, p->pick[i], i, &len);
        bytes += len;
    }
    if (bytes > UINT32_MAX)
        return dcr_fail(err, DCR_EINPUT, "text data of one batch exceeds 4 GiB");
    dcr_status s = dcr_column_reserve_rows(out, nrows, err);
    s = s ? s : dcr_column_reserve_text(out, (size_t)bytes, err);
    if (s != DCR_OK)
        return s;
    memset(out->valid, 0xff, (nrows + 7) / 8);
    size_t tl = 0;
    for (size_t i = 0; i < nrows; i++) {
        size_t len;
        const char *t = picked_text(p, p->pick[i], i, &len);
        if (!t) {
            out->valid[i >> 3] &= (uint8_t) ~(1u << (i & 7));
            out->nnulls++;
        } else if (len) {
            dcr_copy_bytes(out->text + tl, t, len);
        }
        tl += len;
        out->offsets[i + 1] = (uint32_t)tl;
    }
    out->nrows = nrows;
    out->text_len = tl;
    return literal_codes(p, out, err);
}

static dcr_status picker_build(picker *p, dcr_type t, size_t nrows, dcr_column *out, dcr_error *err)
{
    dcr_column_init(out, t);
    bool text = t == DCR_TYPE_TEXT && nrows > 0;
    for (size_t k = 0; text && k < p->n; k++)
        text = p->lit[k] || (p->v[k].c && p->v[k].c->type == DCR_TYPE_TEXT);
    if (text)
        return picker_build_text(p, nrows, out, err);
    for (size_t i = 0; i < nrows; i++) {
        dcr_status s = p->pick[i] < 0 ? dcr_column_push_null(out, err)
                                      : dcr_vec_push_from(out, p->v[p->pick[i]].c, i, err);
        if (s != DCR_OK)
            return s;
    }
    return DCR_OK;
}

/* A THEN or ELSE value into p's next vector; a TEXT constant is only noted
 * (picker_build_text copies it where picked). */
static dcr_status case_branch(dcr_exec_ctx *ctx, const dcr_expr *v, const dcr_batch *in,
                              const uint8_t *active, picker *p, dcr_error *err)
{
    if (v->kind == DCR_EXPR_CONST && v->type == DCR_TYPE_TEXT) {
        p->lit[p->n] = &v->value;
        return DCR_OK;
    }
    return dcr_eval(ctx, v, in, active, &p->v[p->n], err);
}

static dcr_status eval_case(dcr_exec_ctx *ctx, const dcr_expr *e, const dcr_batch *in,
                            const uint8_t *active, dcr_column *out, dcr_error *err)
{
    size_t n = in->nrows, pairs = (e->nargs - e->has_else) / 2;
    picker p;
    uint8_t *open = malloc(n ? n : 1), *take = malloc(n ? n : 1);
    dcr_status s = picker_init(&p, pairs + 1, n, err);
    if (s == DCR_OK && (!open || !take))
        s = dcr_fail(err, DCR_EINTERNAL, "out of memory");
    for (size_t i = 0; s == DCR_OK && i < n; i++)
        open[i] = on(active, i);
    for (size_t k = 0; s == DCR_OK && k < pairs; k++) {
        dcr_vec c = {0};
        if ((s = dcr_eval(ctx, e->args[2 * k], in, open, &c, err)) != DCR_OK)
            break;
        for (size_t i = 0; i < n; i++) {
            take[i] = open[i] && !isnull(c.c, i) && ((const uint8_t *)c.c->values)[i];
            if (take[i])
                open[i] = 0, p.pick[i] = (int32_t)p.n;
        }
        dcr_vec_free(&c);
        s = case_branch(ctx, e->args[2 * k + 1], in, take, &p, err);
        p.n++;
    }
    if (s == DCR_OK && e->has_else) {
        s = case_branch(ctx, e->args[e->nargs - 1], in, open, &p, err);
        for (size_t i = 0; i < n; i++)
            if (open[i])
                p.pick[i] = (int32_t)p.n;
        p.n++;
    }
    s = s ? s : picker_build(&p, e->type, n, out, err);
    picker_free(&p);
    free(open);
    free(take);
    return s;
}

static dcr_status eval_coalesce(dcr_exec_ctx *ctx, const dcr_expr *e, const dcr_batch *in,
                                const uint8_t *active, dcr_column *out, dcr_error *err)
{
    size_t n = in->nrows;
    picker p;
    uint8_t *open = malloc(n ? n : 1);
    dcr_status s = picker_init(&p, e->nargs, n, err);
    if (s == DCR_OK && !open)
        s = dcr_fail(err, DCR_EINTERNAL, "out of memory");
    for (size_t i = 0; s == DCR_OK && i < n; i++)
        open[i] = on(active, i);
    for (size_t k = 0; s == DCR_OK && k < e->nargs; k++) {
        s = dcr_eval(ctx, e->args[k], in, open, &p.v[p.n], err);
        for (size_t i = 0; s == DCR_OK && i < n; i++)
            if (open[i] && !isnull(p.v[p.n].c, i))
                open[i] = 0, p.pick[i] = (int32_t)p.n;
        p.n++;
    }
    s = s ? s : picker_build(&p, e->type, n, out, err);
    picker_free(&p);
    free(open);
    return s;
}

/* ---- dispatch ---- */

static dcr_status eval_cast(dcr_exec_ctx *ctx, const dcr_expr *e, const dcr_batch *in,
                            const uint8_t *active, dcr_column *out, dcr_error *err)
{
    dcr_vec a = {0};
    dcr_status s = dcr_eval(ctx, e->args[0], in, active, &a, err);
    s = s ? s : dcr_exec_cast(ctx, e, a.c, active, out, err);
    dcr_vec_free(&a);
    return s;
}

static dcr_status eval_func(dcr_exec_ctx *ctx, const dcr_expr *e, const dcr_batch *in,
                            const uint8_t *active, dcr_column *out, dcr_error *err)
{
    dcr_vec v[3] = {{0}};
    const dcr_column *a[3] = {NULL, NULL, NULL};
    if (e->nargs > 3)
        return dcr_fail(err, DCR_EINTERNAL, "too many function arguments");
    dcr_status s = DCR_OK;
    size_t got = 0;
    for (size_t i = 0; s == DCR_OK && i < e->nargs; i++) {
        s = dcr_eval(ctx, e->args[i], in, active, &v[i], err);
        if (s == DCR_OK)
            a[got++] = v[i].c;
    }
    dcr_func_eval f = e->fn <= DCR_FN_ILIKE   ? dcr_fn_like
                      : e->fn <= DCR_FN_RTRIM ? dcr_fn_text
                      : e->fn <= DCR_FN_CEIL  ? dcr_fn_math
                                              : dcr_fn_date;
    s = s ? s : f(ctx, e, a, active, in->nrows, out, err);
    for (size_t i = 0; i < got; i++)
        dcr_vec_free(&v[i]);
    return s;
}

static dcr_status eval_own(dcr_exec_ctx *ctx, const dcr_expr *e, const dcr_batch *in,
                           const uint8_t *active, dcr_column *out, dcr_error *err)
{
    switch (e->kind) {
    case DCR_EXPR_CONST:
        return eval_const(e, in->nrows, out, err);
    case DCR_EXPR_NEG:
        return eval_neg(ctx, e, in, active, out, err);
    case DCR_EXPR_ARITH:
        return eval_arith(ctx, e, in, active, out, err);
    case DCR_EXPR_CMP:
        return eval_cmp(ctx, e, in, active, out, err);
    case DCR_EXPR_AND:
    case DCR_EXPR_OR:
        return eval_andor(ctx, e, in, active, out, err);
    case DCR_EXPR_NOT:
        return eval_not(ctx, e, in, active, out, err);
    case DCR_EXPR_IS_NULL:
        return eval_is_null(ctx, e, in, active, out, err);
    case DCR_EXPR_IN:
        return eval_in(ctx, e, in, active, out, err);
    case DCR_EXPR_CASE:
        return eval_case(ctx, e, in, active, out, err);
    case DCR_EXPR_COALESCE:
        return eval_coalesce(ctx, e, in, active, out, err);
    case DCR_EXPR_CAST:
        return eval_cast(ctx, e, in, active, out, err);
    case DCR_EXPR_FUNC:
        return eval_func(ctx, e, in, active, out, err);
    default:
        return dcr_fail(err, DCR_EINTERNAL, "expression kind %d cannot be evaluated here",
                        (int)e->kind);
    }
}

dcr_status dcr_eval(dcr_exec_ctx *ctx, const dcr_expr *e, const dcr_batch *in,
                    const uint8_t *active, dcr_vec *out, dcr_error *err)
{
    dcr_column_init(&out->own, e->type);
    if (e->kind == DCR_EXPR_COLUMN) {
        if (e->col >= in->ncols || in->cols[e->col].type != e->type)
            return dcr_fail(err, DCR_EINTERNAL, "column #%zu does not match the plan", e->col);
        out->c = &in->cols[e->col];
        return DCR_OK;
    }
    dcr_status s = eval_own(ctx, e, in, active, &out->own, err);
    out->c = &out->own;
    if (s == DCR_OK && out->own.nrows != in->nrows)
        s = dcr_fail(err, DCR_EINTERNAL, "expression produced %zu rows for %zu", out->own.nrows,
                     in->nrows);
    if (s != DCR_OK) /* callers need not free a failed vector */
        dcr_column_free(&out->own);
    return s;
}

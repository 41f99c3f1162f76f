/*
 * bind_time.c: typing of date, timestamp and interval arithmetic, and of
 * INTERVAL's field qualifiers, with PostgreSQL's operator resolution for
 * the types dcr has:
 *
 *   DATE + BIGINT, BIGINT + DATE, DATE - BIGINT   -> DATE
 *   DATE - DATE                                    -> BIGINT (days)
 *   DATE|TIMESTAMP +/- INTERVAL, INTERVAL + DATE|TIMESTAMP -> TIMESTAMP
 *   TIMESTAMP - TIMESTAMP (a DATE side widened)     -> INTERVAL
 *   INTERVAL +/- INTERVAL                          -> INTERVAL
 *   INTERVAL * number, number * INTERVAL, INTERVAL / number -> INTERVAL
 *                                                  (the number as DOUBLE)
 *
 * An untyped string literal takes the type PostgreSQL would give it:
 * `ts + '1 day'` is an interval, `ts - '2024-01-01'` a timestamp,
 * `d - '2024-01-01'` a date, `iv * '2'` a number; `d + '1'` is ambiguous
 * (integer or interval?) and refused, as in PostgreSQL. Evaluation is
 * exec/arith_time.c's.
 */
#include <string.h>

#include "sql/bind.h"

static bool is_time(dcr_type t)
{
    return t == DCR_TYPE_DATE || t == DCR_TYPE_TIMESTAMP || t == DCR_TYPE_INTERVAL;
}

static const char *tname(const dcr_expr *e)
{
    return e->untyped ? "unknown" : dcr_type_name(e->type);
}

static dcr_status no_operator(dcr_binder *b, dcr_expr_op op, const dcr_expr *l, const dcr_expr *r,
                              int location)
{
    return dcr_sql_fail(b->err, b->sql, location, "operator does not exist: %s %s %s", tname(l),
                        dcr_expr_op_name(op), tname(r));
}

/* The type an untyped operand takes opposite a `known` operand; false when
 * no operator or more than one fits. */
static bool untyped_partner(dcr_expr_op op, dcr_type known, bool untyped_left, dcr_type *t)
{
    switch (known) {
    case DCR_TYPE_DATE: /* date - date; date + ? is ambiguous */
        *t = DCR_TYPE_DATE;
        return op == DCR_OP_SUB;
    case DCR_TYPE_TIMESTAMP: /* ts + interval, ts - ts (also ? - ts) */
        *t = op == DCR_OP_ADD ? DCR_TYPE_INTERVAL : DCR_TYPE_TIMESTAMP;
        return op == DCR_OP_ADD || op == DCR_OP_SUB;
    case DCR_TYPE_INTERVAL:
        *t = op == DCR_OP_ADD || op == DCR_OP_SUB ? DCR_TYPE_INTERVAL : DCR_TYPE_DOUBLE;
        return op == DCR_OP_ADD || op == DCR_OP_SUB || op == DCR_OP_MUL ||
               (op == DCR_OP_DIV && !untyped_left);
    default:
        return false;
    }
}

/* Result type of typed operands (DCR_TYPE_TEXT: no such operator); *widen
 * says a DATE operand becomes TIMESTAMP first. */
static dcr_type result_type(dcr_expr_op op, dcr_type lt, dcr_type rt, bool *widen)
{
    bool ld = lt == DCR_TYPE_DATE, rd = rt == DCR_TYPE_DATE;
    bool lm = ld || lt == DCR_TYPE_TIMESTAMP, rm = rd || rt == DCR_TYPE_TIMESTAMP;
    bool li = lt == DCR_TYPE_INTERVAL, ri = rt == DCR_TYPE_INTERVAL;
    *widen = (lm && ri) || (li && rm) || (lm && rm && !(ld && rd));
    switch (op) {
    case DCR_OP_ADD:
        if ((ld && rt == DCR_TYPE_BIGINT) || (lt == DCR_TYPE_BIGINT && rd))
            return DCR_TYPE_DATE;
        if ((lm && ri) || (li && rm))
            return DCR_TYPE_TIMESTAMP;
        return li && ri ? DCR_TYPE_INTERVAL : DCR_TYPE_TEXT;
    case DCR_OP_SUB:
        if (ld && rt == DCR_TYPE_BIGINT)
            return DCR_TYPE_DATE;
        if (ld && rd)
            return DCR_TYPE_BIGINT;
        if (lm && ri)
            return DCR_TYPE_TIMESTAMP;
        return (lm && rm) || (li && ri) ? DCR_TYPE_INTERVAL : DCR_TYPE_TEXT;
    case DCR_OP_MUL:
        return (li && dcr_type_is_numeric(rt)) || (dcr_type_is_numeric(lt) && ri)
                   ? DCR_TYPE_INTERVAL
                   : DCR_TYPE_TEXT;
    case DCR_OP_DIV:
        return li && dcr_type_is_numeric(rt) ? DCR_TYPE_INTERVAL : DCR_TYPE_TEXT;
    default:
        return DCR_TYPE_TEXT;
    }
}

/* Coerces the operands of a typed operator: DATE to TIMESTAMP (when
 * widen) and numbers next to an INTERVAL to DOUBLE. */
static dcr_status coerce_operands(dcr_binder *b, dcr_expr **l, dcr_expr **r, dcr_type t, bool widen)
{
    dcr_expr **side[2] = {l, r};
    dcr_status s = DCR_OK;
    for (int i = 0; s == DCR_OK && i < 2; i++) {
        dcr_type u = (*side[i])->type;
        if (widen && u == DCR_TYPE_DATE)
            s = dcr_coerce(b, side[i], DCR_TYPE_TIMESTAMP, "operand");
        else if (t == DCR_TYPE_INTERVAL && dcr_type_is_numeric(u))
            s = dcr_coerce(b, side[i], DCR_TYPE_DOUBLE, "operand");
    }
    return s;
}

dcr_status dcr_bind_time_arith(dcr_binder *b, dcr_expr_op op, dcr_expr **l, dcr_expr **r,
                               int location, bool *handled, dcr_type *t)
{
    bool lt = !(*l)->untyped && is_time((*l)->type), rt = !(*r)->untyped && is_time((*r)->type);
    *handled = lt || rt;
    if (!*handled)
        return DCR_OK;
    dcr_status s = DCR_OK;
    if ((*l)->untyped || (*r)->untyped) {
        bool left = (*l)->untyped;
        dcr_type want;
        if (!untyped_partner(op, left ? (*r)->type : (*l)->type, left, &want))
            return op == DCR_OP_ADD && ((lt && (*l)->type == DCR_TYPE_DATE) ||
                                        (rt && (*r)->type == DCR_TYPE_DATE))
                       ? dcr_sql_fail(b->err, b->sql, location,
                                      "operator is not unique: %s + %s (cast the literal to "
                                      "integer or interval)",
                                      tname(*l), tname(*r))
                       : no_operator(b, op, *l, *r, location);
        s = dcr_coerce(b, left ? l : r, want, "operand");
        if (s != DCR_OK)
            return s;
    }
    bool widen;
    *t = result_type(op, (*l)->type, (*r)->type, &widen);
    if (*t == DCR_TYPE_TEXT)
        return no_operator(b, op, *l, *r, location);
    return coerce_operands(b, l, r, *t, widen);
}

dcr_status dcr_bind_interval_field(dcr_binder *b, const PgQuery__TypeName *t,
                                   dcr_interval_field *field)
{
    /* The parser encodes `INTERVAL '...' HOUR` as a typmod holding one bit
     * per field (PostgreSQL's INTERVAL_MASK); ranges (DAY TO SECOND) and
     * precisions (INTERVAL(3), SECOND(3)) are further bits or typmods. */
    static const struct {
        int64_t mask;
        dcr_interval_field f;
    } masks[] = {{1 << 2, DCR_IV_YEAR},  {1 << 1, DCR_IV_MONTH},   {1 << 3, DCR_IV_DAY},
                 {1 << 10, DCR_IV_HOUR}, {1 << 11, DCR_IV_MINUTE}, {1 << 12, DCR_IV_SECOND}};
    *field = DCR_IV_NONE;
    if (t->n_typmods == 0)
        return DCR_OK;
    const PgQuery__Node *m = t->typmods[0];
    if (t->n_typmods == 1 && m->node_case == PG_QUERY__NODE__NODE_A_CONST &&
        m->a_const->val_case == PG_QUERY__A__CONST__VAL_IVAL)
        for (size_t i = 0; i < sizeof masks / sizeof masks[0]; i++)
            if (m->a_const->ival->ival == masks[i].mask) {
                *field = masks[i].f;
                return DCR_OK;
            }
    return dcr_sql_unsupported(b->err, b->sql, t->location,
                               "INTERVAL with a field range or a precision");
}

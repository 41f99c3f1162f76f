/*
 * typing.c: PostgreSQL's typing rules, cut down to dcr's six types.
 *
 * - A string literal or NULL has no type until its context gives it one
 *   (PostgreSQL's "unknown"): `d > '2024-01-01'` parses the literal as a
 *   DATE when the query is bound, and refuses it there if it is not one.
 *   Left without context it becomes TEXT.
 * - Implicit conversions only widen: BIGINT -> DOUBLE PRECISION and
 *   DATE -> TIMESTAMP. Everything else needs CAST, and TEXT never compares
 *   with numbers (PostgreSQL: "operator does not exist: text = bigint").
 */
#include <stdlib.h>
#include <string.h>

#include "base/value.h"
#include "sql/bind.h"

bool dcr_cast_allowed(dcr_type from, dcr_type to)
{
    if (from == to || from == DCR_TYPE_TEXT || to == DCR_TYPE_TEXT)
        return true;
    bool num_from = from == DCR_TYPE_BIGINT || from == DCR_TYPE_DOUBLE;
    bool num_to = to == DCR_TYPE_BIGINT || to == DCR_TYPE_DOUBLE;
    bool time_from = from == DCR_TYPE_DATE || from == DCR_TYPE_TIMESTAMP;
    bool time_to = to == DCR_TYPE_DATE || to == DCR_TYPE_TIMESTAMP;
    return (num_from && num_to) || (time_from && time_to);
}

static dcr_status wrap_cast(dcr_binder *b, dcr_expr **e, dcr_type t)
{
    dcr_expr *c = dcr_expr_new(DCR_EXPR_CAST, t, (*e)->location);
    if (!c)
        return dcr_fail(b->err, DCR_EINTERNAL, "out of memory");
    dcr_status s = dcr_expr_add_arg(c, *e, b->err);
    *e = s == DCR_OK ? c : NULL;
    if (s != DCR_OK)
        dcr_expr_free(c);
    return s;
}

/* Types a literal in place: parses its text as t. */
static dcr_status type_literal(dcr_binder *b, dcr_expr *e, dcr_type t)
{
    e->untyped = false;
    if (e->value.null || t == DCR_TYPE_TEXT) {
        e->type = t;
        return DCR_OK;
    }
    dcr_datum d;
    const char *why = dcr_parse_literal(t, e->value.text, e->value.len, &d);
    if (why) {
        char q[80];
        dcr_error_quote(q, sizeof q, e->value.text, e->value.len);
        return dcr_sql_fail(b->err, b->sql, e->location,
                            "invalid input syntax for type %s: \"%s\" (%s)", dcr_type_name(t), q,
                            why);
    }
    dcr_datum_free(&e->value);
    e->value = d;
    e->type = t;
    return DCR_OK;
}

static bool widens(dcr_type from, dcr_type to)
{
    return (from == DCR_TYPE_BIGINT && to == DCR_TYPE_DOUBLE) ||
           (from == DCR_TYPE_DATE && to == DCR_TYPE_TIMESTAMP);
}

bool dcr_union_type(dcr_type a, dcr_type b, dcr_type *t)
{
    *t = widens(a, b) ? b : a;
    return a == b || widens(a, b) || widens(b, a);
}

dcr_status dcr_coerce(dcr_binder *b, dcr_expr **e, dcr_type t, const char *what)
{
    if ((*e)->untyped)
        return type_literal(b, *e, t);
    if ((*e)->type == t)
        return DCR_OK;
    if (widens((*e)->type, t) && (*e)->kind == DCR_EXPR_CONST) { /* fold: 0 -> 0.0 */
        dcr_datum *d = &(*e)->value;
        if (t == DCR_TYPE_DOUBLE)
            d->f64 = (double)d->i64;
        else
            d->i64 = (int64_t)d->i32 * 86400000000LL;
        (*e)->type = t;
        return DCR_OK;
    }
    if (widens((*e)->type, t))
        return wrap_cast(b, e, t);
    return dcr_sql_fail(b->err, b->sql, (*e)->location, "%s: expected %s, got %s", what,
                        dcr_type_name(t), dcr_type_name((*e)->type));
}

dcr_status dcr_common_type(dcr_binder *b, dcr_expr **es, size_t n, const char *what, int location,
                           dcr_type *out)
{
    bool any = false;
    dcr_type t = DCR_TYPE_TEXT;
    for (size_t i = 0; i < n; i++) {
        if (es[i]->untyped)
            continue;
        dcr_type u = es[i]->type;
        if (!any || widens(t, u)) {
            t = u;
            any = true;
        } else if (u != t && !widens(u, t)) {
            return dcr_sql_fail(b->err, b->sql, location >= 0 ? location : es[i]->location,
                                "%s: types %s and %s cannot be matched", what, dcr_type_name(t),
                                dcr_type_name(u));
        }
    }
    *out = t; /* all untyped: TEXT, as PostgreSQL resolves unknown */
    return DCR_OK;
}

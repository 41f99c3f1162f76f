/*
 * bind_func.c: binding of scalar function calls and LIKE / ILIKE.
 *
 * Each supported function has a fixed signature (plan.h, dcr_func); the
 * arguments are coerced to it with typing.c's implicit rules (an untyped
 * string literal takes the parameter's type, BIGINT widens to DOUBLE, DATE
 * to TIMESTAMP). PostgreSQL's SQL-syntax forms arrive as pg_catalog calls
 * and bind here too: SUBSTRING(x FROM a FOR b) as substring(x, a, b),
 * TRIM([BOTH|LEADING|TRAILING] [c] FROM x) as btrim/ltrim/rtrim(x[, c]),
 * EXTRACT(f FROM x) as extract('f', x), x LIKE p ESCAPE e as x LIKE
 * like_escape(p, e). The unit of date_trunc and the field
 * of date_part/extract must be string constants and are checked here.
 */
#include <stdlib.h>
#include <string.h>

#include "sql/bind.h"

/* Builds FUNC fn(args) of type t, taking ownership of args (also on failure). */
static dcr_status mk_func(dcr_binder *b, dcr_func fn, dcr_type t, int location, dcr_expr **args,
                          size_t nargs, dcr_expr **out)
{
    dcr_status s = dcr_bind_node(b, DCR_EXPR_FUNC, t, location, args, nargs, out);
    if (s == DCR_OK)
        (*out)->fn = fn;
    return s;
}

/* ---- LIKE ---- */

/* Length of the first UTF-8 character of s (1 for a stray byte). */
static size_t utf8_char_len(const unsigned char *s, size_t len)
{
    size_t n = s[0] < 0x80 ? 1 : s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 1;
    return n <= len ? n : len;
}

/* x LIKE p ESCAPE e arrives as x LIKE pg_catalog.like_escape(p, e). Splits
 * it into its pattern and escape nodes; *esc is NULL without ESCAPE. */
static void like_parts(const PgQuery__AExpr *a, const PgQuery__Node **pat,
                       const PgQuery__Node **esc)
{
    *pat = a->rexpr;
    *esc = NULL;
    if (!a->rexpr || a->rexpr->node_case != PG_QUERY__NODE__NODE_FUNC_CALL)
        return;
    const PgQuery__FuncCall *f = a->rexpr->func_call;
    const char *fn = f->n_funcname ? dcr_bind_str(f->funcname[f->n_funcname - 1]) : NULL;
    if (!fn || strcmp(fn, "like_escape") != 0 || f->n_args != 2 ||
        f->funcformat != PG_QUERY__COERCION_FORM__COERCE_EXPLICIT_CALL)
        return; /* a pattern that is an ordinary function call */
    *pat = f->args[0];
    *esc = f->args[1];
}

/* The ESCAPE argument: TEXT; a constant is checked here (empty or one
 * character), any other expression row by row (exec/like.c). */
static dcr_status want_escape(dcr_binder *b, dcr_expr **esc, const char *what)
{
    dcr_expr *e = *esc;
    if (!e->untyped && e->type != DCR_TYPE_TEXT)
        return dcr_sql_fail(b->err, b->sql, e->location, "%s ... ESCAPE needs text, not %s", what,
                            dcr_type_name(e->type));
    dcr_status s = dcr_coerce(b, esc, DCR_TYPE_TEXT, what);
    e = *esc;
    if (s == DCR_OK && e->kind == DCR_EXPR_CONST && !e->value.null && e->value.len > 0 &&
        utf8_char_len((const unsigned char *)e->value.text, e->value.len) != e->value.len)
        s = dcr_sql_fail(b->err, b->sql, e->location,
                         "invalid escape string (must be empty or one character)");
    return s;
}

dcr_status dcr_bind_like(dcr_binder *b, const PgQuery__AExpr *a, bool ilike, dcr_expr **out)
{
    const char *name = a->n_name == 1 ? dcr_bind_str(a->name[0]) : NULL;
    const char *what = ilike ? "ILIKE" : "LIKE";
    if (!name)
        return dcr_sql_unsupported(b->err, b->sql, a->location, what);
    const PgQuery__Node *pat, *escn;
    like_parts(a, &pat, &escn);
    dcr_expr *args[3] = {NULL, NULL, NULL};
    dcr_status s = dcr_bind_expr(b, a->lexpr, &args[0]);
    s = s ? s : dcr_bind_expr(b, pat, &args[1]);
    for (int i = 0; s == DCR_OK && i < 2; i++) {
        if (args[i]->untyped)
            s = dcr_coerce(b, &args[i], DCR_TYPE_TEXT, what);
        else if (args[i]->type != DCR_TYPE_TEXT)
            s = dcr_sql_fail(b->err, b->sql, a->location, "operator does not exist: %s %s text",
                             dcr_type_name(args[0]->type), what);
    }
    if (s == DCR_OK && escn) {
        s = dcr_bind_expr(b, escn, &args[2]);
        s = s ? s : want_escape(b, &args[2], what);
    }
    if (s != DCR_OK) {
        for (int i = 0; i < 3; i++)
            dcr_expr_free(args[i]);
        return s;
    }
    s = mk_func(b, ilike ? DCR_FN_ILIKE : DCR_FN_LIKE, DCR_TYPE_BOOLEAN, a->location, args,
                escn ? 3 : 2, out);
    if (s == DCR_OK)
        (*out)->negated = name[0] == '!';
    return s;
}

/* ---- functions ---- */

typedef struct {
    const char *name;
    dcr_func fn;
    size_t min_args, max_args;
} func_def;

static const func_def funcs[] = {
    {"lower", DCR_FN_LOWER, 1, 1},
    {"upper", DCR_FN_UPPER, 1, 1},
    {"length", DCR_FN_LENGTH, 1, 1},
    {"char_length", DCR_FN_LENGTH, 1, 1},
    {"character_length", DCR_FN_LENGTH, 1, 1},
    {"substr", DCR_FN_SUBSTR, 2, 3},
    {"substring", DCR_FN_SUBSTR, 2, 3},
    {"btrim", DCR_FN_BTRIM, 1, 2},
    {"ltrim", DCR_FN_LTRIM, 1, 2},
    {"rtrim", DCR_FN_RTRIM, 1, 2},
    {"abs", DCR_FN_ABS, 1, 1},
    {"round", DCR_FN_ROUND, 1, 2},
    {"floor", DCR_FN_FLOOR, 1, 1},
    {"ceil", DCR_FN_CEIL, 1, 1},
    {"ceiling", DCR_FN_CEIL, 1, 1},
    {"date_trunc", DCR_FN_DATE_TRUNC, 2, 2},
    {"date_part", DCR_FN_DATE_PART, 2, 2},
    {"extract", DCR_FN_DATE_PART, 2, 2},
};

/* Coerces arg i of a call to t; refuses with the function's signature. */
static dcr_status want(dcr_binder *b, const char *name, dcr_expr **arg, dcr_type t, int location)
{
    dcr_expr *e = *arg;
    if (!e->untyped && e->type != t && !(t == DCR_TYPE_DOUBLE && e->type == DCR_TYPE_BIGINT) &&
        !(t == DCR_TYPE_TIMESTAMP && e->type == DCR_TYPE_DATE))
        return dcr_sql_fail(b->err, b->sql, location, "function %s(%s) does not exist", name,
                            dcr_type_name(e->type));
    return dcr_coerce(b, arg, t, name);
}

/* The unit/field argument of date_trunc and date_part: a string constant. */
static dcr_status want_unit(dcr_binder *b, const char *name, dcr_func fn, dcr_expr **arg,
                            int location)
{
    dcr_expr *e = *arg;
    int k;
    if (e->kind != DCR_EXPR_CONST || !e->untyped || e->value.null)
        return dcr_sql_unsupported(b->err, b->sql, location,
                                   "a unit or field that is not a string constant");
    dcr_status s = dcr_coerce(b, arg, DCR_TYPE_TEXT, name);
    if (s != DCR_OK)
        return s;
    const char *t = (*arg)->value.text;
    bool ok = fn == DCR_FN_DATE_TRUNC ? dcr_date_trunc_unit(t, &k) : dcr_date_part_field(t, &k);
    if (!ok)
        return dcr_sql_fail(b->err, b->sql, (*arg)->location, "%s unit \"%s\" is not supported",
                            name, t);
    return DCR_OK;
}

/* date_trunc and date_part units that have no meaning for an interval
 * (week; dow, doy) are refused, as PostgreSQL does. */
static dcr_status want_interval_unit(dcr_binder *b, dcr_func fn, const dcr_expr *unit)
{
    int k = 0;
    bool bad = fn == DCR_FN_DATE_TRUNC
                   ? dcr_date_trunc_unit(unit->value.text, &k) && k == 3
                   : dcr_date_part_field(unit->value.text, &k) && (k == 6 || k == 7);
    if (bad)
        return dcr_sql_fail(b->err, b->sql, unit->location,
                            "unit \"%s\" not supported for type interval", unit->value.text);
    return DCR_OK;
}

/* Types the arguments of fn and returns its result type in *t. */
static dcr_status type_args(dcr_binder *b, const char *name, dcr_func fn, dcr_expr **args, size_t n,
                            int loc, dcr_type *t)
{
    dcr_status s = DCR_OK;
    switch (fn) {
    case DCR_FN_LOWER:
    case DCR_FN_UPPER:
    case DCR_FN_BTRIM:
    case DCR_FN_LTRIM:
    case DCR_FN_RTRIM:
        for (size_t i = 0; s == DCR_OK && i < n; i++)
            s = want(b, name, &args[i], DCR_TYPE_TEXT, loc);
        *t = DCR_TYPE_TEXT;
        return s;
    case DCR_FN_LENGTH:
        *t = DCR_TYPE_BIGINT;
        return want(b, name, &args[0], DCR_TYPE_TEXT, loc);
    case DCR_FN_SUBSTR:
        s = want(b, name, &args[0], DCR_TYPE_TEXT, loc);
        for (size_t i = 1; s == DCR_OK && i < n; i++)
            s = args[i]->untyped || args[i]->type == DCR_TYPE_BIGINT
                    ? dcr_coerce(b, &args[i], DCR_TYPE_BIGINT, name)
                    : dcr_sql_fail(b->err, b->sql, loc, "function %s(text, %s) does not exist",
                                   name, dcr_type_name(args[i]->type));
        *t = DCR_TYPE_TEXT;
        return s;
    case DCR_FN_ABS:
    case DCR_FN_ROUND:
    case DCR_FN_FLOOR:
    case DCR_FN_CEIL:
        if (args[0]->untyped || !dcr_type_is_numeric(args[0]->type))
            return dcr_sql_fail(b->err, b->sql, loc, "function %s(%s) does not exist", name,
                                args[0]->untyped ? "unknown" : dcr_type_name(args[0]->type));
        *t = fn == DCR_FN_ABS ? args[0]->type : DCR_TYPE_DOUBLE;
        s = dcr_coerce(b, &args[0], *t, name);
        if (s == DCR_OK && n == 2)
            s = args[1]->untyped || args[1]->type == DCR_TYPE_BIGINT
                    ? dcr_coerce(b, &args[1], DCR_TYPE_BIGINT, name)
                    : dcr_sql_fail(b->err, b->sql, loc, "function round(%s, %s) does not exist",
                                   dcr_type_name(args[0]->type), dcr_type_name(args[1]->type));
        return s;
    case DCR_FN_DATE_TRUNC:
    case DCR_FN_DATE_PART:
        s = want_unit(b, name, fn, &args[0], loc);
        if (s == DCR_OK && !args[1]->untyped && args[1]->type == DCR_TYPE_INTERVAL) {
            *t = fn == DCR_FN_DATE_TRUNC ? DCR_TYPE_INTERVAL : DCR_TYPE_DOUBLE;
            return want_interval_unit(b, fn, args[0]);
        }
        s = s ? s : want(b, name, &args[1], DCR_TYPE_TIMESTAMP, loc);
        *t = fn == DCR_FN_DATE_TRUNC ? DCR_TYPE_TIMESTAMP : DCR_TYPE_DOUBLE;
        return s;
    default:
        return dcr_fail(b->err, DCR_EINTERNAL, "bad function");
    }
}

dcr_status dcr_bind_scalar_func(dcr_binder *b, const PgQuery__FuncCall *f, const char *name,
                                bool *handled, dcr_expr **out)
{
    const func_def *d = NULL;
    const char *schema = f->n_funcname == 2 ? dcr_bind_str(f->funcname[0]) : NULL;
    *handled = false;
    if (f->n_funcname == 1 || (schema && strcmp(schema, "pg_catalog") == 0))
        for (size_t i = 0; i < sizeof funcs / sizeof funcs[0]; i++)
            if (strcmp(name, funcs[i].name) == 0)
                d = &funcs[i];
    if (!d)
        return DCR_OK;
    *handled = true;
    int loc = f->location;
    if (f->over)
        return dcr_sql_unsupported(b->err, b->sql, loc, "a window function (OVER)");
    if (f->agg_star || f->agg_distinct || f->n_agg_order || f->agg_filter || f->func_variadic)
        return dcr_sql_fail(b->err, b->sql, loc, "%s is not an aggregate function", name);
    if (f->n_args < d->min_args || f->n_args > d->max_args)
        return dcr_sql_fail(b->err, b->sql, loc, "function %s() does not take %zu arguments", name,
                            f->n_args);
    dcr_expr *args[3] = {NULL, NULL, NULL};
    dcr_status s = DCR_OK;
    for (size_t i = 0; s == DCR_OK && i < f->n_args; i++)
        s = dcr_bind_expr(b, f->args[i], &args[i]);
    dcr_type t = DCR_TYPE_TEXT;
    s = s ? s : type_args(b, name, d->fn, args, f->n_args, loc, &t);
    if (s != DCR_OK) {
        for (size_t i = 0; i < 3; i++)
            dcr_expr_free(args[i]);
        return s;
    }
    return mk_func(b, d->fn, t, loc, args, f->n_args, out);
}

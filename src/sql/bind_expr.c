/*
 * bind_expr.c: parse-tree expressions -> typed dcr_expr trees.
 *
 * Names resolve against the FROM scope (b->rels); types follow typing.c.
 * Some SQL forms become simpler trees here, as PostgreSQL itself rewrites
 * them: BETWEEN into two comparisons, simple CASE into searched CASE,
 * NULLIF into CASE, IS [NOT] TRUE/FALSE/UNKNOWN into COALESCE/NOT/IS NULL.
 * Anything not handled is refused with its name and position.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv/value.h"
#include "sql/bind.h"

static dcr_expr *mk(dcr_expr_kind kind, dcr_type type, int location)
{
    return dcr_expr_new(kind, type, location);
}

dcr_status dcr_bind_node(dcr_binder *b, dcr_expr_kind kind, dcr_type type, int location,
                         dcr_expr **args, size_t nargs, dcr_expr **out)
{
    dcr_expr *e = mk(kind, type, location);
    dcr_status s = e ? DCR_OK : dcr_bind_oom(b);
    for (size_t i = 0; i < nargs; i++) {
        if (s == DCR_OK)
            s = dcr_expr_add_arg(e, args[i], b->err);
        else
            dcr_expr_free(args[i]);
        args[i] = NULL;
    }
    if (s != DCR_OK) {
        dcr_expr_free(e);
        return s;
    }
    *out = e;
    return DCR_OK;
}

/* ---- column references ---- */

static dcr_status find_column(dcr_binder *b, const char *rel, const char *col, int location,
                              dcr_expr **out)
{
    size_t hit_rel = 0, hits = 0, hit_col = 0;
    bool rel_seen = false;
    for (size_t r = 0; r < b->nrels; r++) {
        if (rel && strcmp(rel, b->rels[r].alias) != 0)
            continue;
        rel_seen = true;
        int c = dcr_schema_find(b->rels[r].schema, col, strlen(col));
        if (c >= 0) {
            hits++;
            hit_rel = r;
            hit_col = (size_t)c;
        }
    }
    if (rel && !rel_seen)
        return dcr_sql_fail(b->err, b->sql, location, "missing FROM-clause entry for table \"%s\"",
                            rel);
    if (hits > 1)
        return dcr_sql_fail(b->err, b->sql, location, "column reference \"%s\" is ambiguous", col);
    if (hits == 0)
        return rel ? dcr_sql_fail(b->err, b->sql, location, "column %s.%s does not exist", rel, col)
                   : dcr_sql_fail(b->err, b->sql, location, "column \"%s\" does not exist", col);
    const dcr_bind_rel *R = &b->rels[hit_rel];
    dcr_expr *e = mk(DCR_EXPR_COLUMN, R->schema->cols[hit_col].type, location);
    if (!e)
        return dcr_bind_oom(b);
    e->rel = hit_rel;
    e->col = hit_col;
    size_t n = strlen(R->alias) + strlen(col) + 2;
    e->label = malloc(n);
    if (!e->label) {
        dcr_expr_free(e);
        return dcr_bind_oom(b);
    }
    if (b->nrels > 1)
        snprintf(e->label, n, "%s.%s", R->alias, col);
    else
        snprintf(e->label, n, "%s", col);
    *out = e;
    return DCR_OK;
}

static dcr_status bind_column_ref(dcr_binder *b, const PgQuery__ColumnRef *c, dcr_expr **out)
{
    const char *f[2] = {NULL, NULL};
    if (c->n_fields > 2)
        return dcr_sql_unsupported(b->err, b->sql, c->location,
                                   "a qualified name with more than two parts");
    for (size_t i = 0; i < c->n_fields; i++) {
        if (c->fields[i]->node_case == PG_QUERY__NODE__NODE_A_STAR)
            return dcr_sql_unsupported(b->err, b->sql, c->location, "* outside the select list");
        f[i] = dcr_bind_str(c->fields[i]);
        if (!f[i])
            return dcr_sql_unsupported(b->err, b->sql, c->location, "this column reference");
    }
    if (b->nrels == 0)
        return dcr_sql_fail(b->err, b->sql, c->location,
                            "column \"%s\" does not exist (no FROM clause)", f[c->n_fields - 1]);
    return c->n_fields == 2 ? find_column(b, f[0], f[1], c->location, out)
                            : find_column(b, NULL, f[0], c->location, out);
}

/* ---- constants ---- */

static dcr_status bind_number_text(dcr_binder *b, const char *text, int location, dcr_expr **out)
{
    /* libpg_query hands over integers beyond int32 and all decimals as text.
     * Integers that fit become BIGINT; decimals become DOUBLE PRECISION
     * (PostgreSQL: NUMERIC, which dcr does not have; docs/sql.md). */
    dcr_expr *e = mk(DCR_EXPR_CONST, DCR_TYPE_BIGINT, location);
    if (!e)
        return dcr_bind_oom(b);
    bool integral =
        strspn(text + (text[0] == '-'), "0123456789") == strlen(text + (text[0] == '-'));
    const char *why = integral ? dcr_parse_bigint(text, strlen(text), &e->value.i64)
                               : dcr_parse_double(text, strlen(text), &e->value.f64);
    if (!integral)
        e->type = DCR_TYPE_DOUBLE;
    if (why) {
        dcr_expr_free(e);
        return dcr_sql_fail(b->err, b->sql, location, "numeric literal %s is %s", text,
                            integral ? "out of range for BIGINT" : "not a valid number");
    }
    *out = e;
    return DCR_OK;
}

static dcr_status bind_const(dcr_binder *b, const PgQuery__AConst *k, dcr_expr **out)
{
    if (k->isnull) {
        dcr_expr *e = mk(DCR_EXPR_CONST, DCR_TYPE_TEXT, k->location);
        if (!e)
            return dcr_bind_oom(b);
        e->value.null = true;
        e->untyped = true;
        *out = e;
        return DCR_OK;
    }
    switch (k->val_case) {
    case PG_QUERY__A__CONST__VAL_IVAL: {
        dcr_expr *e = mk(DCR_EXPR_CONST, DCR_TYPE_BIGINT, k->location);
        if (!e)
            return dcr_bind_oom(b);
        e->value.i64 = k->ival->ival;
        *out = e;
        return DCR_OK;
    }
    case PG_QUERY__A__CONST__VAL_FVAL:
        return bind_number_text(b, k->fval->fval, k->location, out);
    case PG_QUERY__A__CONST__VAL_BOOLVAL: {
        dcr_expr *e = mk(DCR_EXPR_CONST, DCR_TYPE_BOOLEAN, k->location);
        if (!e)
            return dcr_bind_oom(b);
        e->value.b = k->boolval->boolval;
        *out = e;
        return DCR_OK;
    }
    case PG_QUERY__A__CONST__VAL_SVAL: {
        dcr_expr *e = mk(DCR_EXPR_CONST, DCR_TYPE_TEXT, k->location);
        if (!e)
            return dcr_bind_oom(b);
        const char *sv = k->sval->sval;
        if (dcr_parse_literal(DCR_TYPE_TEXT, sv, strlen(sv), &e->value)) {
            dcr_expr_free(e);
            return dcr_bind_oom(b);
        }
        e->untyped = true;
        *out = e;
        return DCR_OK;
    }
    default:
        return dcr_sql_unsupported(b->err, b->sql, k->location, "a bit-string constant");
    }
}

/* ---- operators ---- */

/* Types the operands of numeric arithmetic as PostgreSQL does; *t is the
 * result type. */
static dcr_status numeric_operands(dcr_binder *b, dcr_expr_op op, dcr_expr **l, dcr_expr **r,
                                   int location, dcr_type *t)
{
    dcr_status s = DCR_OK;
    if ((*l)->untyped && (*r)->untyped)
        return dcr_sql_fail(b->err, b->sql, location, "operator is not unique: unknown %s unknown",
                            dcr_expr_op_name(op));
    if ((*l)->untyped && dcr_type_is_numeric((*r)->type))
        s = dcr_coerce(b, l, (*r)->type, "operand");
    else if ((*r)->untyped && dcr_type_is_numeric((*l)->type))
        s = dcr_coerce(b, r, (*l)->type, "operand");
    if (s != DCR_OK)
        return s;
    if ((*l)->untyped || (*r)->untyped || !dcr_type_is_numeric((*l)->type) ||
        !dcr_type_is_numeric((*r)->type))
        return dcr_sql_fail(b->err, b->sql, location, "operator does not exist: %s %s %s",
                            (*l)->untyped ? "unknown" : dcr_type_name((*l)->type),
                            dcr_expr_op_name(op),
                            (*r)->untyped ? "unknown" : dcr_type_name((*r)->type));
    bool dbl = (*l)->type == DCR_TYPE_DOUBLE || (*r)->type == DCR_TYPE_DOUBLE;
    if (dbl && op == DCR_OP_MOD)
        return dcr_sql_fail(b->err, b->sql, location,
                            "operator does not exist: double precision %% double precision");
    if (!dbl)
        return DCR_OK;
    *t = DCR_TYPE_DOUBLE;
    s = dcr_coerce(b, l, *t, "operand");
    return s ? s : dcr_coerce(b, r, *t, "operand");
}

static dcr_status bind_arith(dcr_binder *b, dcr_expr_op op, dcr_expr *l, dcr_expr *r, int location,
                             dcr_expr **out)
{
    bool temporal = false;
    dcr_type t = DCR_TYPE_BIGINT;
    /* date/time arithmetic (bind_time.c), else numeric */
    dcr_status s = dcr_bind_time_arith(b, op, &l, &r, location, &temporal, &t);
    if (!temporal)
        s = numeric_operands(b, op, &l, &r, location, &t);
    if (s != DCR_OK) {
        dcr_expr_free(l);
        dcr_expr_free(r);
        return s;
    }
    dcr_expr *args[2] = {l, r};
    s = dcr_bind_node(b, DCR_EXPR_ARITH, t, location, args, 2, out);
    if (s == DCR_OK)
        (*out)->op = op;
    return s;
}

/* Coerces args[0..n) to their common type; frees them all on failure. */
static dcr_status unify(dcr_binder *b, dcr_expr **args, size_t n, const char *what, int location)
{
    dcr_type t = DCR_TYPE_TEXT;
    dcr_status s = dcr_common_type(b, args, n, what, location, &t);
    for (size_t i = 0; s == DCR_OK && i < n; i++)
        s = dcr_coerce(b, &args[i], t, what);
    if (s != DCR_OK)
        for (size_t i = 0; i < n; i++) {
            dcr_expr_free(args[i]);
            args[i] = NULL;
        }
    return s;
}

static dcr_status bind_cmp(dcr_binder *b, dcr_expr_op op, dcr_expr *l, dcr_expr *r, int location,
                           dcr_expr **out)
{
    dcr_expr *args[2] = {l, r};
    char what[48];
    snprintf(what, sizeof what, "operator %s", dcr_expr_op_name(op));
    dcr_status s = unify(b, args, 2, what, location);
    if (s == DCR_OK)
        s = dcr_bind_node(b, DCR_EXPR_CMP, DCR_TYPE_BOOLEAN, location, args, 2, out);
    if (s == DCR_OK)
        (*out)->op = op;
    return s;
}

static bool op_from_name(const char *name, dcr_expr_op *op)
{
    static const char *const names[] = {"+", "-", "*", "/", "%", "=", "<>", "<", "<=", ">", ">="};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i]) == 0) {
            *op = (dcr_expr_op)i;
            return true;
        }
    return false;
}

static dcr_status bind_pair(dcr_binder *b, const PgQuery__Node *ln, const PgQuery__Node *rn,
                            dcr_expr **l, dcr_expr **r)
{
    dcr_status s = dcr_bind_expr(b, ln, l);
    if (s != DCR_OK)
        return s;
    s = dcr_bind_expr(b, rn, r);
    if (s != DCR_OK)
        dcr_expr_free(*l);
    return s;
}

static dcr_status bind_op(dcr_binder *b, const PgQuery__AExpr *a, dcr_expr **out)
{
    const char *name = a->n_name == 1 ? dcr_bind_str(a->name[0]) : NULL;
    dcr_expr_op op;
    if (!name || !op_from_name(name, &op))
        return dcr_sql_fail(b->err, b->sql, a->location, "operator %s is not supported",
                            name ? name : "(qualified)");
    if (!a->lexpr) { /* prefix operator */
        if (op != DCR_OP_SUB && op != DCR_OP_ADD)
            return dcr_sql_fail(b->err, b->sql, a->location, "prefix operator %s is not supported",
                                name);
        dcr_expr *x;
        dcr_status s = dcr_bind_expr(b, a->rexpr, &x);
        if (s == DCR_OK &&
            (x->untyped || !(dcr_type_is_numeric(x->type) || x->type == DCR_TYPE_INTERVAL))) {
            s = dcr_sql_fail(b->err, b->sql, a->location, "operator does not exist: %s %s", name,
                             x->untyped ? "unknown" : dcr_type_name(x->type));
            dcr_expr_free(x);
        }
        if (s != DCR_OK || op == DCR_OP_ADD) {
            *out = s == DCR_OK ? x : NULL;
            return s;
        }
        return dcr_bind_node(b, DCR_EXPR_NEG, x->type, a->location, &x, 1, out);
    }
    dcr_expr *l, *r;
    dcr_status s = bind_pair(b, a->lexpr, a->rexpr, &l, &r);
    if (s != DCR_OK)
        return s;
    return op <= DCR_OP_MOD ? bind_arith(b, op, l, r, a->location, out)
                            : bind_cmp(b, op, l, r, a->location, out);
}

static dcr_status bind_in(dcr_binder *b, const PgQuery__AExpr *a, dcr_expr **out)
{
    const char *name = dcr_bind_str(a->name[0]);
    if (!a->rexpr || a->rexpr->node_case != PG_QUERY__NODE__NODE_LIST)
        return dcr_sql_unsupported(b->err, b->sql, a->location, "IN with a subquery");
    const PgQuery__List *list = a->rexpr->list;
    size_t n = list->n_items + 1;
    dcr_expr **args = calloc(n, sizeof *args);
    if (!args)
        return dcr_bind_oom(b);
    dcr_status s = dcr_bind_expr(b, a->lexpr, &args[0]);
    for (size_t i = 1; s == DCR_OK && i < n; i++)
        s = dcr_bind_expr(b, list->items[i - 1], &args[i]);
    if (s == DCR_OK)
        s = unify(b, args, n, "IN", a->location);
    else
        for (size_t i = 0; i < n; i++)
            dcr_expr_free(args[i]);
    if (s == DCR_OK)
        s = dcr_bind_node(b, DCR_EXPR_IN, DCR_TYPE_BOOLEAN, a->location, args, n, out);
    if (s == DCR_OK)
        (*out)->negated = name && strcmp(name, "<>") == 0;
    free(args);
    return s;
}

static dcr_status bind_between(dcr_binder *b, const PgQuery__AExpr *a, bool negated, dcr_expr **out)
{
    /* x BETWEEN lo AND hi  ==  x >= lo AND x <= hi (x is bound twice, as
     * PostgreSQL does); NOT BETWEEN  ==  x < lo OR x > hi. */
    if (!a->rexpr || a->rexpr->node_case != PG_QUERY__NODE__NODE_LIST ||
        a->rexpr->list->n_items != 2)
        return dcr_sql_unsupported(b->err, b->sql, a->location, "this BETWEEN form");
    dcr_expr *x1, *x2, *lo, *hi, *c1 = NULL, *c2 = NULL;
    dcr_status s = bind_pair(b, a->lexpr, a->lexpr, &x1, &x2);
    if (s != DCR_OK)
        return s;
    s = bind_pair(b, a->rexpr->list->items[0], a->rexpr->list->items[1], &lo, &hi);
    if (s != DCR_OK) {
        dcr_expr_free(x1);
        dcr_expr_free(x2);
        return s;
    }
    s = bind_cmp(b, negated ? DCR_OP_LT : DCR_OP_GE, x1, lo, a->location, &c1);
    if (s == DCR_OK)
        s = bind_cmp(b, negated ? DCR_OP_GT : DCR_OP_LE, x2, hi, a->location, &c2);
    else {
        dcr_expr_free(x2);
        dcr_expr_free(hi);
    }
    if (s != DCR_OK) {
        dcr_expr_free(c1);
        return s;
    }
    dcr_expr *args[2] = {c1, c2};
    return dcr_bind_node(b, negated ? DCR_EXPR_OR : DCR_EXPR_AND, DCR_TYPE_BOOLEAN, a->location,
                         args, 2, out);
}

static dcr_status bind_nullif(dcr_binder *b, const PgQuery__AExpr *a, dcr_expr **out)
{
    /* NULLIF(x, y) == CASE WHEN x = y THEN NULL ELSE x END */
    dcr_expr *x, *y, *x2, *eq = NULL, *null = mk(DCR_EXPR_CONST, DCR_TYPE_TEXT, a->location);
    if (!null)
        return dcr_bind_oom(b);
    null->value.null = true;
    null->untyped = true;
    dcr_status s = bind_pair(b, a->lexpr, a->rexpr, &x, &y);
    if (s == DCR_OK && !(x2 = dcr_expr_copy(x))) {
        dcr_expr_free(x);
        dcr_expr_free(y);
        s = dcr_bind_oom(b);
    }
    if (s == DCR_OK)
        s = bind_cmp(b, DCR_OP_EQ, x, y, a->location, &eq);
    else
        x2 = NULL;
    if (s == DCR_OK && x2->untyped)
        s = dcr_coerce(b, &x2, eq->args[0]->type, "NULLIF");
    if (s == DCR_OK)
        s = dcr_coerce(b, &null, x2->type, "NULLIF");
    if (s != DCR_OK) {
        dcr_expr_free(eq);
        dcr_expr_free(x2);
        dcr_expr_free(null);
        return s;
    }
    dcr_expr *args[3] = {eq, null, x2};
    s = dcr_bind_node(b, DCR_EXPR_CASE, x2->type, a->location, args, 3, out);
    if (s == DCR_OK)
        (*out)->has_else = true;
    return s;
}

static dcr_status bind_aexpr(dcr_binder *b, const PgQuery__AExpr *a, dcr_expr **out)
{
    switch (a->kind) {
    case PG_QUERY__A__EXPR__KIND__AEXPR_OP:
        return bind_op(b, a, out);
    case PG_QUERY__A__EXPR__KIND__AEXPR_IN:
        return bind_in(b, a, out);
    case PG_QUERY__A__EXPR__KIND__AEXPR_BETWEEN:
        return bind_between(b, a, false, out);
    case PG_QUERY__A__EXPR__KIND__AEXPR_NOT_BETWEEN:
        return bind_between(b, a, true, out);
    case PG_QUERY__A__EXPR__KIND__AEXPR_NULLIF:
        return bind_nullif(b, a, out);
    case PG_QUERY__A__EXPR__KIND__AEXPR_LIKE:
        return dcr_bind_like(b, a, false, out);
    case PG_QUERY__A__EXPR__KIND__AEXPR_ILIKE:
        return dcr_bind_like(b, a, true, out);
    case PG_QUERY__A__EXPR__KIND__AEXPR_SIMILAR:
        return dcr_sql_unsupported(b->err, b->sql, a->location, "SIMILAR TO");
    case PG_QUERY__A__EXPR__KIND__AEXPR_DISTINCT:
    case PG_QUERY__A__EXPR__KIND__AEXPR_NOT_DISTINCT:
        return dcr_sql_unsupported(b->err, b->sql, a->location, "IS [NOT] DISTINCT FROM");
    case PG_QUERY__A__EXPR__KIND__AEXPR_BETWEEN_SYM:
    case PG_QUERY__A__EXPR__KIND__AEXPR_NOT_BETWEEN_SYM:
        return dcr_sql_unsupported(b->err, b->sql, a->location, "BETWEEN SYMMETRIC");
    default:
        return dcr_sql_unsupported(b->err, b->sql, a->location, "ANY/ALL");
    }
}

/* ---- boolean forms ---- */

dcr_status dcr_bind_bool(dcr_binder *b, const PgQuery__Node *n, const char *what, dcr_expr **out)
{
    dcr_status s = dcr_bind_expr(b, n, out);
    if (s == DCR_OK && ((*out)->untyped || (*out)->type != DCR_TYPE_BOOLEAN)) {
        if ((*out)->untyped) {
            s = dcr_coerce(b, out, DCR_TYPE_BOOLEAN, what);
            if (s != DCR_OK) { /* dcr_coerce leaves the expression to us */
                dcr_expr_free(*out);
                *out = NULL;
            }
            return s;
        }
        s = dcr_sql_fail(b->err, b->sql, (*out)->location,
                         "argument of %s must be type boolean, not type %s", what,
                         dcr_type_name((*out)->type));
        dcr_expr_free(*out);
        *out = NULL;
    }
    return s;
}

static dcr_status bind_bool_expr(dcr_binder *b, const PgQuery__BoolExpr *e, dcr_expr **out)
{
    dcr_expr_kind kind = e->boolop == PG_QUERY__BOOL_EXPR_TYPE__AND_EXPR  ? DCR_EXPR_AND
                         : e->boolop == PG_QUERY__BOOL_EXPR_TYPE__OR_EXPR ? DCR_EXPR_OR
                                                                          : DCR_EXPR_NOT;
    const char *what = kind == DCR_EXPR_AND ? "AND" : kind == DCR_EXPR_OR ? "OR" : "NOT";
    dcr_expr *x = mk(kind, DCR_TYPE_BOOLEAN, e->location);
    if (!x)
        return dcr_bind_oom(b);
    dcr_status s = DCR_OK;
    for (size_t i = 0; s == DCR_OK && i < e->n_args; i++) {
        dcr_expr *a;
        s = dcr_bind_bool(b, e->args[i], what, &a);
        if (s == DCR_OK)
            s = dcr_expr_add_arg(x, a, b->err);
    }
    if (s != DCR_OK) {
        dcr_expr_free(x);
        return s;
    }
    *out = x;
    return DCR_OK;
}

static dcr_status bind_null_test(dcr_binder *b, const PgQuery__NullTest *t, dcr_expr **out)
{
    dcr_expr *x;
    dcr_status s = dcr_bind_expr(b, t->arg, &x);
    if (s == DCR_OK && x->untyped && (s = dcr_coerce(b, &x, DCR_TYPE_TEXT, "IS NULL")))
        dcr_expr_free(x);
    if (s == DCR_OK)
        s = dcr_bind_node(b, DCR_EXPR_IS_NULL, DCR_TYPE_BOOLEAN, t->location, &x, 1, out);
    if (s == DCR_OK)
        (*out)->negated = t->nulltesttype == PG_QUERY__NULL_TEST_TYPE__IS_NOT_NULL;
    return s;
}

static dcr_status bool_const(dcr_binder *b, bool v, int location, dcr_expr **out)
{
    *out = mk(DCR_EXPR_CONST, DCR_TYPE_BOOLEAN, location);
    if (!*out)
        return dcr_bind_oom(b);
    (*out)->value.b = v;
    return DCR_OK;
}

static dcr_status bind_boolean_test(dcr_binder *b, const PgQuery__BooleanTest *t, dcr_expr **out)
{
    /* x IS TRUE == COALESCE(x, false); IS NOT TRUE == NOT COALESCE(x, false);
     * IS FALSE == COALESCE(NOT x, false); IS NOT FALSE == COALESCE(x, true);
     * IS [NOT] UNKNOWN == x IS [NOT] NULL. The result is never NULL. */
    dcr_expr *x, *k;
    dcr_status s = dcr_bind_bool(b, t->arg, "IS TRUE/FALSE", &x);
    if (s != DCR_OK)
        return s;
    int loc = t->location;
    switch (t->booltesttype) {
    case PG_QUERY__BOOL_TEST_TYPE__IS_UNKNOWN:
    case PG_QUERY__BOOL_TEST_TYPE__IS_NOT_UNKNOWN:
        s = dcr_bind_node(b, DCR_EXPR_IS_NULL, DCR_TYPE_BOOLEAN, loc, &x, 1, out);
        if (s == DCR_OK)
            (*out)->negated = t->booltesttype == PG_QUERY__BOOL_TEST_TYPE__IS_NOT_UNKNOWN;
        return s;
    case PG_QUERY__BOOL_TEST_TYPE__IS_FALSE:
        if ((s = dcr_bind_node(b, DCR_EXPR_NOT, DCR_TYPE_BOOLEAN, loc, &x, 1, &x)) != DCR_OK)
            return s;
        break;
    default:
        break;
    }
    bool dflt = t->booltesttype == PG_QUERY__BOOL_TEST_TYPE__IS_NOT_FALSE;
    if ((s = bool_const(b, dflt, loc, &k)) != DCR_OK) {
        dcr_expr_free(x);
        return s;
    }
    dcr_expr *args[2] = {x, k};
    s = dcr_bind_node(b, DCR_EXPR_COALESCE, DCR_TYPE_BOOLEAN, loc, args, 2, out);
    if (s == DCR_OK && t->booltesttype == PG_QUERY__BOOL_TEST_TYPE__IS_NOT_TRUE)
        s = dcr_bind_node(b, DCR_EXPR_NOT, DCR_TYPE_BOOLEAN, loc, out, 1, out);
    return s;
}

/* ---- CASE, COALESCE, CAST ---- */

/* Binds CASE's WHEN conditions; a simple CASE (CASE x WHEN v ...) turns
 * each into x = v. Results go to res[i], conditions to conds[i]. */
static dcr_status bind_case_whens(dcr_binder *b, const PgQuery__CaseExpr *c, dcr_expr **conds,
                                  dcr_expr **res)
{
    dcr_status s = DCR_OK;
    for (size_t i = 0; s == DCR_OK && i < c->n_args; i++) {
        const PgQuery__CaseWhen *w = c->args[i]->case_when;
        if (c->arg) {
            dcr_expr *x, *v;
            s = bind_pair(b, c->arg, w->expr, &x, &v);
            if (s == DCR_OK)
                s = bind_cmp(b, DCR_OP_EQ, x, v, w->location, &conds[i]);
        } else {
            s = dcr_bind_bool(b, w->expr, "CASE/WHEN", &conds[i]);
        }
        if (s == DCR_OK)
            s = dcr_bind_expr(b, w->result, &res[i]);
    }
    return s;
}

static dcr_status bind_case(dcr_binder *b, const PgQuery__CaseExpr *c, dcr_expr **out)
{
    size_t n = c->n_args;
    dcr_expr **conds = calloc(n, sizeof *conds), **res = calloc(n + 1, sizeof *res);
    dcr_status s = conds && res ? DCR_OK : dcr_bind_oom(b);
    if (s == DCR_OK)
        s = bind_case_whens(b, c, conds, res);
    size_t nres = n;
    if (s == DCR_OK && c->defresult)
        s = dcr_bind_expr(b, c->defresult, &res[nres++]);
    if (s == DCR_OK) {
        s = unify(b, res, nres, "CASE", c->location);
        if (s != DCR_OK)
            memset(res, 0, (n + 1) * sizeof *res);
    }
    dcr_expr *e = s == DCR_OK ? mk(DCR_EXPR_CASE, res[0]->type, c->location) : NULL;
    if (s == DCR_OK && !e)
        s = dcr_bind_oom(b);
    for (size_t i = 0; s == DCR_OK && i < nres; i++) {
        if (i < n) {
            s = dcr_expr_add_arg(e, conds[i], b->err);
            conds[i] = NULL;
        }
        if (s == DCR_OK)
            s = dcr_expr_add_arg(e, res[i], b->err);
        res[i] = NULL;
    }
    for (size_t i = 0; conds && res && i < n + 1; i++) {
        if (i < n)
            dcr_expr_free(conds[i]);
        dcr_expr_free(res[i]);
    }
    free(conds);
    free(res);
    if (s != DCR_OK) {
        dcr_expr_free(e);
        return s;
    }
    e->has_else = c->defresult != NULL;
    *out = e;
    return DCR_OK;
}

static dcr_status bind_coalesce(dcr_binder *b, const PgQuery__CoalesceExpr *c, dcr_expr **out)
{
    dcr_expr **args = calloc(c->n_args, sizeof *args);
    if (!args)
        return dcr_bind_oom(b);
    dcr_status s = DCR_OK;
    for (size_t i = 0; s == DCR_OK && i < c->n_args; i++)
        s = dcr_bind_expr(b, c->args[i], &args[i]);
    if (s == DCR_OK)
        s = unify(b, args, c->n_args, "COALESCE", c->location);
    else
        for (size_t i = 0; i < c->n_args; i++)
            dcr_expr_free(args[i]);
    if (s == DCR_OK)
        s = dcr_bind_node(b, DCR_EXPR_COALESCE, args[0]->type, c->location, args, c->n_args, out);
    free(args);
    return s;
}

/* PostgreSQL type names (as the parser spells them) -> dcr types. All
 * integer widths are BIGINT and both float widths DOUBLE PRECISION. */
static bool type_from_typename(const PgQuery__TypeName *t, dcr_type *out)
{
    if (t->n_array_bounds > 0 || t->setof || t->pct_type || t->n_names == 0)
        return false;
    const char *name = dcr_bind_str(t->names[t->n_names - 1]);
    if (!name)
        return false;
    static const struct {
        const char *name;
        dcr_type type;
    } pg[] = {{"int2", DCR_TYPE_BIGINT},         {"int4", DCR_TYPE_BIGINT},
              {"int8", DCR_TYPE_BIGINT},         {"float4", DCR_TYPE_DOUBLE},
              {"float8", DCR_TYPE_DOUBLE},       {"bool", DCR_TYPE_BOOLEAN},
              {"text", DCR_TYPE_TEXT},           {"varchar", DCR_TYPE_TEXT},
              {"bpchar", DCR_TYPE_TEXT},         {"date", DCR_TYPE_DATE},
              {"timestamp", DCR_TYPE_TIMESTAMP}, {"interval", DCR_TYPE_INTERVAL}};
    for (size_t i = 0; i < sizeof pg / sizeof pg[0]; i++)
        if (strcmp(name, pg[i].name) == 0) {
            *out = pg[i].type; /* INTERVAL's typmods: dcr_bind_interval_field */
            return t->n_typmods == 0 || *out == DCR_TYPE_TEXT || *out == DCR_TYPE_INTERVAL;
        }
    return dcr_type_from_name(name, out) && t->n_typmods == 0;
}

/* A string literal read as an interval whose bare number is in `field`'s
 * unit and whose smaller fields are dropped; takes ownership of x. */
static dcr_status bind_interval_literal(dcr_binder *b, dcr_expr *x, dcr_interval_field field,
                                        int loc, dcr_expr **out)
{
    dcr_status s = DCR_OK;
    if (!x->untyped || x->value.null)
        s = dcr_sql_unsupported(b->err, b->sql, loc,
                                "an INTERVAL field qualifier on anything but a string literal");
    dcr_interval v;
    const char *why =
        s == DCR_OK ? dcr_parse_interval(x->value.text, x->value.len, field, &v) : NULL;
    if (why) {
        char q[80];
        dcr_error_quote(q, sizeof q, x->value.text, x->value.len);
        s = dcr_sql_fail(b->err, b->sql, x->location,
                         "invalid input syntax for type INTERVAL: \"%s\" (%s)", q, why);
    }
    if (s != DCR_OK) {
        dcr_expr_free(x);
        return s;
    }
    dcr_datum_free(&x->value);
    x->value.iv = v;
    x->type = DCR_TYPE_INTERVAL;
    x->untyped = false;
    *out = x;
    return DCR_OK;
}

static dcr_status bind_typecast(dcr_binder *b, const PgQuery__TypeCast *c, dcr_expr **out)
{
    dcr_type t = DCR_TYPE_TEXT;
    int loc = c->type_name ? c->type_name->location : c->location;
    if (!c->type_name || !type_from_typename(c->type_name, &t)) {
        const char *name = c->type_name && c->type_name->n_names
                               ? dcr_bind_str(c->type_name->names[c->type_name->n_names - 1])
                               : NULL;
        return dcr_sql_fail(b->err, b->sql, loc, "type %s is not supported", name ? name : "?");
    }
    dcr_interval_field field = DCR_IV_NONE;
    if (t == DCR_TYPE_INTERVAL) {
        dcr_status s = dcr_bind_interval_field(b, c->type_name, &field);
        if (s != DCR_OK)
            return s;
    }
    dcr_expr *x;
    dcr_status s = dcr_bind_expr(b, c->arg, &x);
    if (s != DCR_OK)
        return s;
    if (field != DCR_IV_NONE) /* INTERVAL '90' MINUTE */
        return bind_interval_literal(b, x, field, loc, out);
    if (x->untyped) { /* DATE '2024-01-01', '5'::bigint: typed at bind time */
        s = dcr_coerce(b, &x, t, "CAST");
        if (s != DCR_OK)
            dcr_expr_free(x);
        *out = s == DCR_OK ? x : NULL;
        return s;
    }
    if (x->type == t) {
        *out = x;
        return DCR_OK;
    }
    if (!dcr_cast_allowed(x->type, t)) {
        s = dcr_sql_fail(b->err, b->sql, c->location >= 0 ? c->location : loc,
                         "cannot cast type %s to %s", dcr_type_name(x->type), dcr_type_name(t));
        dcr_expr_free(x);
        return s;
    }
    return dcr_bind_node(b, DCR_EXPR_CAST, t, c->location >= 0 ? c->location : x->location, &x, 1,
                         out);
}

/* ---- aggregates ---- */

static bool agg_from_name(const char *name, dcr_agg_func *f)
{
    static const struct {
        const char *name;
        dcr_agg_func f;
    } aggs[] = {{"count", DCR_AGG_COUNT},
                {"sum", DCR_AGG_SUM},
                {"avg", DCR_AGG_AVG},
                {"min", DCR_AGG_MIN},
                {"max", DCR_AGG_MAX}};
    for (size_t i = 0; i < sizeof aggs / sizeof aggs[0]; i++)
        if (strcmp(name, aggs[i].name) == 0) {
            *f = aggs[i].f;
            return true;
        }
    return false;
}

static dcr_status agg_result_type(dcr_binder *b, dcr_agg_func f, dcr_expr *arg, int location,
                                  dcr_type *t)
{
    const char *name = dcr_plan_agg_name(f);
    switch (f) {
    case DCR_AGG_COUNT_STAR:
    case DCR_AGG_COUNT:
        *t = DCR_TYPE_BIGINT;
        return DCR_OK;
    case DCR_AGG_SUM:
    case DCR_AGG_AVG:
        if (arg->type == DCR_TYPE_INTERVAL) /* PostgreSQL has these; dcr does not (yet) */
            return dcr_sql_fail(b->err, b->sql, location, "%s(INTERVAL) is not supported", name);
        if (!dcr_type_is_numeric(arg->type))
            return dcr_sql_fail(b->err, b->sql, location, "function %s(%s) does not exist", name,
                                dcr_type_name(arg->type));
        *t = f == DCR_AGG_AVG ? DCR_TYPE_DOUBLE : arg->type;
        return DCR_OK;
    case DCR_AGG_MIN:
    case DCR_AGG_MAX:
        if (arg->type == DCR_TYPE_BOOLEAN)
            return dcr_sql_fail(b->err, b->sql, location, "function %s(boolean) does not exist",
                                name);
        *t = arg->type;
        return DCR_OK;
    case DCR_AGG_UNIT_SKETCH: /* added by the privacy layer, never bound from SQL */
    case DCR_AGG_UNIT_SKETCH_MERGE:
        *t = DCR_TYPE_TEXT;
        return DCR_OK;
    }
    return DCR_OK;
}

static dcr_status remember_agg(dcr_binder *b, const dcr_expr *e)
{
    for (size_t i = 0; i < b->naggs; i++)
        if (dcr_expr_equal(b->aggs[i], e))
            return DCR_OK;
    dcr_expr **a = realloc(b->aggs, (b->naggs + 1) * sizeof *a);
    if (!a)
        return dcr_bind_oom(b);
    b->aggs = a;
    if (!(a[b->naggs] = dcr_expr_copy(e)))
        return dcr_bind_oom(b);
    b->naggs++;
    return DCR_OK;
}

static dcr_status check_agg_call(dcr_binder *b, const PgQuery__FuncCall *f, const char *name)
{
    int loc = f->location;
    if (f->over)
        return dcr_sql_unsupported(b->err, b->sql, loc, "a window function (OVER)");
    if (f->agg_filter)
        return dcr_sql_unsupported(b->err, b->sql, loc, "an aggregate FILTER clause");
    if (f->n_agg_order > 0 || f->agg_within_group)
        return dcr_sql_unsupported(b->err, b->sql, loc, "ORDER BY inside an aggregate");
    if (f->func_variadic)
        return dcr_sql_unsupported(b->err, b->sql, loc, "VARIADIC");
    if (!b->aggs_allowed)
        return dcr_sql_fail(b->err, b->sql, loc, "aggregate functions are not allowed in %s",
                            b->clause);
    if (b->in_agg)
        return dcr_sql_fail(b->err, b->sql, loc, "aggregate function calls cannot be nested");
    if (f->agg_star && strcmp(name, "count") != 0)
        return dcr_sql_fail(b->err, b->sql, loc, "%s(*) does not exist", name);
    if (!f->agg_star && f->n_args != 1)
        return dcr_sql_fail(b->err, b->sql, loc, "%s takes exactly one argument", name);
    return DCR_OK;
}

static dcr_status bind_agg(dcr_binder *b, const PgQuery__FuncCall *f, const char *name,
                           dcr_agg_func func, dcr_expr **out)
{
    dcr_status s = check_agg_call(b, f, name);
    if (s != DCR_OK)
        return s;
    dcr_expr *arg = NULL;
    if (!f->agg_star) {
        b->in_agg = true;
        s = dcr_bind_expr(b, f->args[0], &arg);
        b->in_agg = false;
        if (s == DCR_OK && arg->untyped)
            s = func == DCR_AGG_SUM || func == DCR_AGG_AVG
                    ? dcr_sql_fail(b->err, b->sql, f->location,
                                   "function %s(unknown) is not unique; add a cast", name)
                    : dcr_coerce(b, &arg, DCR_TYPE_TEXT, name);
        if (s != DCR_OK) {
            dcr_expr_free(arg);
            return s;
        }
    } else {
        func = DCR_AGG_COUNT_STAR;
    }
    dcr_type t = DCR_TYPE_BIGINT;
    s = agg_result_type(b, func, arg, f->location, &t);
    dcr_expr *e = s == DCR_OK ? mk(DCR_EXPR_AGG, t, f->location) : NULL;
    if (s == DCR_OK && !e)
        s = dcr_bind_oom(b);
    if (s == DCR_OK && arg) {
        s = dcr_expr_add_arg(e, arg, b->err);
        arg = NULL;
    }
    dcr_expr_free(arg);
    if (s == DCR_OK) {
        e->agg = func;
        e->distinct = f->agg_distinct && func != DCR_AGG_COUNT_STAR;
        s = remember_agg(b, e);
    }
    if (s != DCR_OK) {
        dcr_expr_free(e);
        return s;
    }
    *out = e;
    return DCR_OK;
}

static dcr_status bind_func(dcr_binder *b, const PgQuery__FuncCall *f, dcr_expr **out)
{
    const char *name = f->n_funcname ? dcr_bind_str(f->funcname[f->n_funcname - 1]) : NULL;
    dcr_agg_func func;
    if (name && f->n_funcname <= 2 && agg_from_name(name, &func))
        return bind_agg(b, f, name, func, out);
    bool handled = false;
    dcr_status s = name ? dcr_bind_scalar_func(b, f, name, &handled, out) : DCR_OK;
    if (handled || s != DCR_OK)
        return s;
    return dcr_sql_fail(b->err, b->sql, f->location, "function %s() is not supported",
                        name ? name : "?");
}

/* ---- dispatch ---- */

dcr_status dcr_bind_expr(dcr_binder *b, const PgQuery__Node *n, dcr_expr **out)
{
    *out = NULL;
    if (!n)
        return dcr_fail(b->err, DCR_EINTERNAL, "SQL: empty expression in the parse tree");
    switch (n->node_case) {
    case PG_QUERY__NODE__NODE_COLUMN_REF:
        return bind_column_ref(b, n->column_ref, out);
    case PG_QUERY__NODE__NODE_A_CONST:
        return bind_const(b, n->a_const, out);
    case PG_QUERY__NODE__NODE_A_EXPR:
        return bind_aexpr(b, n->a_expr, out);
    case PG_QUERY__NODE__NODE_BOOL_EXPR:
        return bind_bool_expr(b, n->bool_expr, out);
    case PG_QUERY__NODE__NODE_NULL_TEST:
        return bind_null_test(b, n->null_test, out);
    case PG_QUERY__NODE__NODE_BOOLEAN_TEST:
        return bind_boolean_test(b, n->boolean_test, out);
    case PG_QUERY__NODE__NODE_CASE_EXPR:
        return bind_case(b, n->case_expr, out);
    case PG_QUERY__NODE__NODE_COALESCE_EXPR:
        return bind_coalesce(b, n->coalesce_expr, out);
    case PG_QUERY__NODE__NODE_TYPE_CAST:
        return bind_typecast(b, n->type_cast, out);
    case PG_QUERY__NODE__NODE_FUNC_CALL:
        return bind_func(b, n->func_call, out);
    default:
        return dcr_sql_unsupported(b->err, b->sql, dcr_sql_node_location(n), dcr_sql_node_name(n));
    }
}

dcr_status dcr_bind_finish_type(dcr_binder *b, dcr_expr *e)
{
    if (e->untyped)
        return dcr_coerce(b, &e, DCR_TYPE_TEXT, "literal");
    for (size_t i = 0; i < e->nargs; i++) {
        dcr_status s = dcr_bind_finish_type(b, e->args[i]);
        if (s != DCR_OK)
            return s;
    }
    return DCR_OK;
}

const char *dcr_bind_colname(const PgQuery__Node *n)
{
    /* PostgreSQL's FigureColname, for the forms dcr supports. */
    switch (n ? n->node_case : PG_QUERY__NODE__NODE__NOT_SET) {
    case PG_QUERY__NODE__NODE_COLUMN_REF: {
        const PgQuery__ColumnRef *c = n->column_ref;
        const char *s = c->n_fields ? dcr_bind_str(c->fields[c->n_fields - 1]) : NULL;
        return s ? s : "?column?";
    }
    case PG_QUERY__NODE__NODE_FUNC_CALL: {
        const PgQuery__FuncCall *f = n->func_call;
        const char *s = f->n_funcname ? dcr_bind_str(f->funcname[f->n_funcname - 1]) : NULL;
        return s ? s : "?column?";
    }
    case PG_QUERY__NODE__NODE_TYPE_CAST: {
        const char *s = dcr_bind_colname(n->type_cast->arg);
        const PgQuery__TypeName *t = n->type_cast->type_name;
        if (strcmp(s, "?column?") == 0 && t && t->n_names)
            s = dcr_bind_str(t->names[t->n_names - 1]);
        return s ? s : "?column?";
    }
    case PG_QUERY__NODE__NODE_CASE_EXPR:
        return "case";
    case PG_QUERY__NODE__NODE_COALESCE_EXPR:
        return "coalesce";
    case PG_QUERY__NODE__NODE_A_EXPR:
        return n->a_expr->kind == PG_QUERY__A__EXPR__KIND__AEXPR_NULLIF ? "nullif" : "?column?";
    default:
        return "?column?";
    }
}

/*
 * plan.c: building, copying, comparing, freeing and printing logical plans
 * (see plan.h). EXPLAIN output is meant for people: one operator per line,
 * children indented by two spaces, expressions in SQL-like form.
 */
#include "sql/plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/hygiene.h"
#include "base/value.h"

dcr_expr *dcr_expr_new(dcr_expr_kind kind, dcr_type type, int location)
{
    dcr_expr *e = calloc(1, sizeof *e);
    if (e) {
        e->kind = kind;
        e->type = type;
        e->location = location;
    }
    return e;
}

dcr_status dcr_expr_add_arg(dcr_expr *e, dcr_expr *arg, dcr_error *err)
{
    dcr_expr **a = arg ? realloc(e->args, (e->nargs + 1) * sizeof *a) : NULL;
    if (!a) {
        dcr_expr_free(arg);
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    }
    a[e->nargs++] = arg;
    e->args = a;
    return DCR_OK;
}

void dcr_datum_free(dcr_datum *d)
{
    if (d->text) {
        dcr_wipe(d->text, d->len);
        free(d->text);
    }
    memset(d, 0, sizeof *d);
}

const char *dcr_parse_literal(dcr_type t, const char *text, size_t len, dcr_datum *out)
{
    memset(out, 0, sizeof *out);
    switch (t) {
    case DCR_TYPE_BIGINT:
        return dcr_parse_bigint(text, len, &out->i64);
    case DCR_TYPE_DOUBLE:
        return dcr_parse_double(text, len, &out->f64);
    case DCR_TYPE_BOOLEAN:
        return dcr_parse_bool(text, len, &out->b);
    case DCR_TYPE_DATE:
        return dcr_parse_date(text, len, &out->i32);
    case DCR_TYPE_TIMESTAMP:
        return dcr_parse_timestamp(text, len, &out->i64);
    case DCR_TYPE_INTERVAL:
        return dcr_parse_interval(text, len, DCR_IV_NONE, &out->iv);
    case DCR_TYPE_TEXT:
        break;
    }
    out->text = malloc(len + 1);
    if (!out->text)
        return "out of memory";
    memcpy(out->text, text, len);
    out->text[len] = '\0';
    out->len = len;
    return NULL;
}

dcr_status dcr_datum_copy(dcr_datum *dst, const dcr_datum *src, dcr_error *err)
{
    *dst = *src;
    if (!src->text)
        return DCR_OK;
    dst->text = malloc(src->len + 1);
    if (!dst->text)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    memcpy(dst->text, src->text, src->len + 1);
    return DCR_OK;
}

void dcr_expr_free(dcr_expr *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->nargs; i++)
        dcr_expr_free(e->args[i]);
    free(e->args);
    free(e->label);
    dcr_datum_free(&e->value);
    free(e);
}

dcr_expr *dcr_expr_copy(const dcr_expr *e)
{
    dcr_expr *c = malloc(sizeof *c);
    if (!c)
        return NULL;
    *c = *e;
    c->args = NULL;
    c->nargs = 0;
    c->label = e->label ? strdup(e->label) : NULL;
    bool ok = !e->label || c->label;
    if (ok && dcr_datum_copy(&c->value, &e->value, NULL) != DCR_OK) {
        c->value = (dcr_datum){0};
        ok = false;
    }
    for (size_t i = 0; ok && i < e->nargs; i++) {
        dcr_expr *a = dcr_expr_copy(e->args[i]);
        ok = a && dcr_expr_add_arg(c, a, NULL) == DCR_OK;
    }
    if (!ok) {
        dcr_expr_free(c);
        return NULL;
    }
    return c;
}

static bool datum_equal(dcr_type t, const dcr_datum *a, const dcr_datum *b)
{
    if (a->null || b->null)
        return a->null == b->null;
    switch (t) {
    case DCR_TYPE_BIGINT:
    case DCR_TYPE_TIMESTAMP:
        return a->i64 == b->i64;
    case DCR_TYPE_DOUBLE:
        return memcmp(&a->f64, &b->f64, sizeof a->f64) == 0;
    case DCR_TYPE_DATE:
        return a->i32 == b->i32;
    case DCR_TYPE_BOOLEAN:
        return a->b == b->b;
    case DCR_TYPE_TEXT:
        return a->len == b->len && memcmp(a->text, b->text, a->len) == 0;
    case DCR_TYPE_INTERVAL: /* the same constant, not merely an equal span */
        return a->iv.months == b->iv.months && a->iv.days == b->iv.days && a->iv.us == b->iv.us;
    }
    return false;
}

bool dcr_expr_equal(const dcr_expr *a, const dcr_expr *b)
{
    if (a->kind != b->kind || a->type != b->type || a->nargs != b->nargs)
        return false;
    switch (a->kind) {
    case DCR_EXPR_COLUMN:
        if (a->col != b->col || a->rel != b->rel)
            return false;
        break;
    case DCR_EXPR_CONST:
        if (!datum_equal(a->type, &a->value, &b->value))
            return false;
        break;
    case DCR_EXPR_ARITH:
    case DCR_EXPR_CMP:
        if (a->op != b->op)
            return false;
        break;
    case DCR_EXPR_AGG:
        if (a->agg != b->agg || a->distinct != b->distinct)
            return false;
        break;
    case DCR_EXPR_FUNC:
        if (a->fn != b->fn)
            return false;
        break;
    default:
        break;
    }
    if (a->negated != b->negated || a->has_else != b->has_else)
        return false;
    for (size_t i = 0; i < a->nargs; i++)
        if (!dcr_expr_equal(a->args[i], b->args[i]))
            return false;
    return true;
}

dcr_plan *dcr_plan_new(dcr_plan_kind kind)
{
    dcr_plan *p = calloc(1, sizeof *p);
    if (p) {
        p->kind = kind;
        p->limit = -1;
    }
    return p;
}

static void free_exprs(dcr_expr **e, size_t n)
{
    for (size_t i = 0; e && i < n; i++)
        dcr_expr_free(e[i]);
    free(e);
}

void dcr_plan_free(dcr_plan *p)
{
    if (!p)
        return;
    dcr_plan_free(p->child[0]);
    dcr_plan_free(p->child[1]);
    for (size_t i = 0; p->names && i < p->ncols; i++)
        free(p->names[i]);
    free(p->names);
    free(p->types);
    free(p->dataset_name);
    free(p->alias);
    free(p->scan_cols);
    dcr_expr_free(p->pred);
    size_t nexprs = p->kind == DCR_PLAN_AGGREGATE ? p->ngroups + p->naggs
                    : p->kind == DCR_PLAN_PROJECT ? p->ncols
                                                  : 0;
    free_exprs(p->exprs, nexprs);
    free_exprs(p->left_keys, p->nkeys);
    free_exprs(p->right_keys, p->nkeys);
    free(p->sort);
    free(p->bound_keys);
    free(p);
}

dcr_status dcr_plan_set_ncols(dcr_plan *p, size_t n, dcr_error *err)
{
    p->types = calloc(n ? n : 1, sizeof *p->types);
    p->names = calloc(n ? n : 1, sizeof *p->names);
    if (!p->types || !p->names)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    p->ncols = n;
    return DCR_OK;
}

dcr_status dcr_plan_set_name(dcr_plan *p, size_t i, const char *name, dcr_error *err)
{
    char *s = strdup(name);
    if (!s)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    free(p->names[i]);
    p->names[i] = s;
    return DCR_OK;
}

const char *dcr_expr_op_name(dcr_expr_op op)
{
    static const char *const names[] = {"+", "-", "*", "/", "%", "=", "<>", "<", "<=", ">", ">="};
    return names[op];
}

const char *dcr_func_name(dcr_func f)
{
    static const char *const names[] = {"like",   "ilike", "lower", "upper",      "length",
                                        "substr", "btrim", "ltrim", "rtrim",      "abs",
                                        "round",  "floor", "ceil",  "date_trunc", "date_part"};
    return names[f];
}

bool dcr_date_trunc_unit(const char *s, int *unit)
{
    static const char *const units[] = {"minute", "hour", "day", "week", "month", "year"};
    for (int i = 0; i < 6; i++)
        if (strcasecmp(s, units[i]) == 0) {
            *unit = i;
            return true;
        }
    return false;
}

bool dcr_date_part_field(const char *s, int *field)
{
    static const char *const fields[] = {"year",   "month", "day", "hour", "minute",
                                         "second", "dow",   "doy", "epoch"};
    for (int i = 0; i < 9; i++)
        if (strcasecmp(s, fields[i]) == 0) {
            *field = i;
            return true;
        }
    return false;
}

const char *dcr_plan_agg_name(dcr_agg_func f)
{
    static const char *const names[] = {"count", "count", "sum",         "avg",
                                        "min",   "max",   "unit_sketch", "unit_sketch_merge"};
    return names[f];
}

/* ---- EXPLAIN ---- */

static dcr_status put(dcr_buf *out, const char *s, dcr_error *err)
{
    return dcr_buf_append(out, s, strlen(s), err);
}

static dcr_status put_const(const dcr_expr *e, dcr_buf *out, dcr_error *err)
{
    char t[DCR_INTERVAL_TEXT_MAX]; /* the longest constant text */
    const dcr_datum *d = &e->value;
    if (d->null)
        return put(out, "NULL", err);
    switch (e->type) {
    case DCR_TYPE_BIGINT:
        dcr_format_bigint(d->i64, t);
        return put(out, t, err);
    case DCR_TYPE_DOUBLE: {
        dcr_format_double(d->f64, t);
        dcr_status s = put(out, t, err);
        return s ? s : put(out, "::double precision", err);
    }
    case DCR_TYPE_BOOLEAN:
        return put(out, d->b ? "true" : "false", err);
    case DCR_TYPE_DATE:
    case DCR_TYPE_TIMESTAMP: {
        if (e->type == DCR_TYPE_DATE)
            dcr_format_date(d->i32, t);
        else
            dcr_format_timestamp(d->i64, t);
        char b[DCR_INTERVAL_TEXT_MAX + 24];
        snprintf(b, sizeof b, "'%s'::%s", t, e->type == DCR_TYPE_DATE ? "date" : "timestamp");
        return put(out, b, err);
    }
    case DCR_TYPE_INTERVAL: {
        char b[DCR_INTERVAL_TEXT_MAX + 16];
        dcr_format_interval(d->iv, t);
        snprintf(b, sizeof b, "'%s'::interval", t);
        return put(out, b, err);
    }
    case DCR_TYPE_TEXT: {
        dcr_status s = put(out, "'", err);
        for (size_t i = 0; s == DCR_OK && i < d->len; i++)
            s = dcr_buf_append(out, d->text[i] == '\'' ? "''" : d->text + i,
                               d->text[i] == '\'' ? 2 : 1, err);
        return s ? s : put(out, "'", err);
    }
    }
    return DCR_OK;
}

static dcr_status put_args(const dcr_expr *e, size_t from, const char *sep, dcr_buf *out,
                           dcr_error *err)
{
    dcr_status s = DCR_OK;
    for (size_t i = from; s == DCR_OK && i < e->nargs; i++) {
        if (i > from)
            s = put(out, sep, err);
        if (s == DCR_OK)
            s = dcr_expr_explain(e->args[i], out, err);
    }
    return s;
}

static dcr_status put_case(const dcr_expr *e, dcr_buf *out, dcr_error *err)
{
    dcr_status s = put(out, "CASE", err);
    size_t pairs = (e->nargs - (e->has_else ? 1 : 0)) / 2;
    for (size_t i = 0; s == DCR_OK && i < pairs; i++) {
        s = put(out, " WHEN ", err);
        s = s ? s : dcr_expr_explain(e->args[2 * i], out, err);
        s = s ? s : put(out, " THEN ", err);
        s = s ? s : dcr_expr_explain(e->args[2 * i + 1], out, err);
    }
    if (s == DCR_OK && e->has_else) {
        s = put(out, " ELSE ", err);
        s = s ? s : dcr_expr_explain(e->args[e->nargs - 1], out, err);
    }
    return s ? s : put(out, " END", err);
}

static dcr_status put_agg(const dcr_expr *e, dcr_buf *out, dcr_error *err)
{
    dcr_status s = put(out, dcr_plan_agg_name(e->agg), err);
    s = s ? s : put(out, "(", err);
    if (s == DCR_OK && e->distinct)
        s = put(out, "DISTINCT ", err);
    if (s == DCR_OK)
        s = e->agg == DCR_AGG_COUNT_STAR ? put(out, "*", err) : put_args(e, 0, ", ", out, err);
    return s ? s : put(out, ")", err);
}

static dcr_status put_column(const dcr_expr *e, dcr_buf *out, dcr_error *err)
{
    char b[32];
    snprintf(b, sizeof b, "#%zu", e->col);
    if (!e->label)
        return put(out, b, err);
    return put(out, e->label, err);
}

dcr_status dcr_expr_explain(const dcr_expr *e, dcr_buf *out, dcr_error *err)
{
    dcr_status s = DCR_OK;
    switch (e->kind) {
    case DCR_EXPR_COLUMN:
        return put_column(e, out, err);
    case DCR_EXPR_CONST:
        return put_const(e, out, err);
    case DCR_EXPR_NEG:
        s = put(out, "(- ", err);
        s = s ? s : dcr_expr_explain(e->args[0], out, err);
        return s ? s : put(out, ")", err);
    case DCR_EXPR_ARITH:
    case DCR_EXPR_CMP: {
        char sep[8];
        snprintf(sep, sizeof sep, " %s ", dcr_expr_op_name(e->op));
        s = put(out, "(", err);
        s = s ? s : put_args(e, 0, sep, out, err);
        return s ? s : put(out, ")", err);
    }
    case DCR_EXPR_AND:
    case DCR_EXPR_OR:
        s = put(out, "(", err);
        s = s ? s : put_args(e, 0, e->kind == DCR_EXPR_AND ? " AND " : " OR ", out, err);
        return s ? s : put(out, ")", err);
    case DCR_EXPR_NOT:
        s = put(out, "(NOT ", err);
        s = s ? s : dcr_expr_explain(e->args[0], out, err);
        return s ? s : put(out, ")", err);
    case DCR_EXPR_IS_NULL:
        s = put(out, "(", err);
        s = s ? s : dcr_expr_explain(e->args[0], out, err);
        return s ? s : put(out, e->negated ? " IS NOT NULL)" : " IS NULL)", err);
    case DCR_EXPR_IN:
        s = put(out, "(", err);
        s = s ? s : dcr_expr_explain(e->args[0], out, err);
        s = s ? s : put(out, e->negated ? " NOT IN (" : " IN (", err);
        s = s ? s : put_args(e, 1, ", ", out, err);
        return s ? s : put(out, "))", err);
    case DCR_EXPR_CASE:
        return put_case(e, out, err);
    case DCR_EXPR_COALESCE:
        s = put(out, "COALESCE(", err);
        s = s ? s : put_args(e, 0, ", ", out, err);
        return s ? s : put(out, ")", err);
    case DCR_EXPR_CAST:
        s = put(out, "CAST(", err);
        s = s ? s : dcr_expr_explain(e->args[0], out, err);
        s = s ? s : put(out, " AS ", err);
        s = s ? s : put(out, dcr_type_name(e->type), err);
        return s ? s : put(out, ")", err);
    case DCR_EXPR_AGG:
        return put_agg(e, out, err);
    case DCR_EXPR_FUNC:
        if (e->fn == DCR_FN_LIKE || e->fn == DCR_FN_ILIKE) {
            s = put(out, "(", err);
            s = s ? s : dcr_expr_explain(e->args[0], out, err);
            s = s ? s : put(out, e->negated ? " NOT " : " ", err);
            s = s ? s : put(out, e->fn == DCR_FN_LIKE ? "LIKE " : "ILIKE ", err);
            s = s ? s : dcr_expr_explain(e->args[1], out, err);
            if (e->nargs == 3) {
                s = s ? s : put(out, " ESCAPE ", err);
                s = s ? s : dcr_expr_explain(e->args[2], out, err);
            }
            return s ? s : put(out, ")", err);
        }
        s = put(out, dcr_func_name(e->fn), err);
        s = s ? s : put(out, "(", err);
        s = s ? s : put_args(e, 0, ", ", out, err);
        return s ? s : put(out, ")", err);
    }
    return s;
}

static dcr_status put_expr_list(dcr_expr **exprs, size_t n, char **names, dcr_buf *out,
                                dcr_error *err)
{
    dcr_status s = DCR_OK;
    for (size_t i = 0; s == DCR_OK && i < n; i++) {
        if (i > 0)
            s = put(out, ", ", err);
        size_t start = out->len;
        s = s ? s : dcr_expr_explain(exprs[i], out, err);
        bool same = s == DCR_OK && names && names[i] && out->len - start == strlen(names[i]) &&
                    memcmp(out->data + start, names[i], out->len - start) == 0;
        if (s == DCR_OK && names && names[i] && !same) {
            s = put(out, " AS ", err);
            s = s ? s : put(out, names[i], err);
        }
    }
    return s;
}

static dcr_status put_node(const dcr_plan *p, dcr_buf *out, dcr_error *err)
{
    char b[96];
    dcr_status s = DCR_OK;
    switch (p->kind) {
    case DCR_PLAN_SCAN:
        s = put(out, "Scan ", err);
        s = s ? s : put(out, p->dataset_name, err);
        if (s == DCR_OK && p->alias && strcmp(p->alias, p->dataset_name) != 0) {
            s = put(out, " AS ", err);
            s = s ? s : put(out, p->alias, err);
        }
        s = s ? s : put(out, " [", err);
        for (size_t i = 0; s == DCR_OK && i < p->ncols; i++) {
            s = i ? put(out, ", ", err) : DCR_OK;
            s = s ? s : put(out, p->names[i], err);
        }
        return s ? s : put(out, "]", err);
    case DCR_PLAN_VALUES:
        return put(out, "Values (one row)", err);
    case DCR_PLAN_FILTER:
        s = put(out, "Filter ", err);
        return s ? s : dcr_expr_explain(p->pred, out, err);
    case DCR_PLAN_JOIN:
        s = put(out, p->left_outer ? "Hash Join (left) on " : "Hash Join (inner) on ", err);
        for (size_t i = 0; s == DCR_OK && i < p->nkeys; i++) {
            s = i ? put(out, " AND ", err) : DCR_OK;
            s = s ? s : dcr_expr_explain(p->left_keys[i], out, err);
            s = s ? s : put(out, " = ", err);
            s = s ? s : dcr_expr_explain(p->right_keys[i], out, err);
        }
        if (s == DCR_OK && p->pred) {
            s = put(out, " AND ", err);
            s = s ? s : dcr_expr_explain(p->pred, out, err);
        }
        return s;
    case DCR_PLAN_AGGREGATE:
        s = put(out, "Aggregate by [", err);
        s = s ? s : put_expr_list(p->exprs, p->ngroups, NULL, out, err);
        s = s ? s : put(out, "] compute [", err);
        s = s ? s : put_expr_list(p->exprs + p->ngroups, p->naggs, NULL, out, err);
        return s ? s : put(out, "]", err);
    case DCR_PLAN_PROJECT:
        s = put(out, "Project ", err);
        return s ? s : put_expr_list(p->exprs, p->ncols, p->names, out, err);
    case DCR_PLAN_SORT:
        s = put(out, "Sort by ", err);
        for (size_t i = 0; s == DCR_OK && i < p->nsort; i++) {
            const dcr_sort_key *k = &p->sort[i];
            const char *name = p->child[0]->names[k->col];
            snprintf(b, sizeof b, "%s%s", i ? ", " : "", name ? name : "?");
            s = put(out, b, err);
            s = s ? s : put(out, k->desc ? " DESC" : " ASC", err);
            s = s ? s : put(out, k->nulls_first ? " NULLS FIRST" : " NULLS LAST", err);
        }
        return s;
    case DCR_PLAN_UNION_ALL:
        return put(out, "Union All", err);
    case DCR_PLAN_BOUND: {
        const char *unit = p->child[0]->names[p->bound_unit];
        s = put(out, "Bound contributions of unit ", err);
        s = s ? s : put(out, unit ? unit : "?", err);
        snprintf(b, sizeof b, ": random <= %lld rows per group, <= %lld groups [",
                 (long long)p->bound_rows, (long long)p->bound_groups);
        s = s ? s : put(out, b, err);
        for (size_t i = 0; s == DCR_OK && i < p->nbound_keys; i++) {
            const char *name = p->child[0]->names[p->bound_keys[i]];
            s = i ? put(out, ", ", err) : DCR_OK;
            s = s ? s : put(out, name ? name : "?", err);
        }
        return s ? s : put(out, "]", err);
    }
    case DCR_PLAN_LIMIT:
        if (p->limit >= 0)
            snprintf(b, sizeof b, "Limit %lld offset %lld", (long long)p->limit,
                     (long long)p->offset);
        else
            snprintf(b, sizeof b, "Offset %lld", (long long)p->offset);
        return put(out, b, err);
    }
    return s;
}

static dcr_status explain_at(const dcr_plan *p, int depth, dcr_buf *out, dcr_error *err)
{
    dcr_status s = DCR_OK;
    for (int i = 0; s == DCR_OK && i < depth; i++)
        s = put(out, "  ", err);
    s = s ? s : put_node(p, out, err);
    s = s ? s : put(out, "\n", err);
    for (int c = 0; s == DCR_OK && c < 2; c++)
        if (p->child[c])
            s = explain_at(p->child[c], depth + 1, out, err);
    return s;
}

dcr_status dcr_plan_explain(const dcr_plan *p, dcr_buf *out, dcr_error *err)
{
    return explain_at(p, 0, out, err);
}

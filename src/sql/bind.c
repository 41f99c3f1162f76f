/*
 * bind.c: one SELECT statement -> a logical plan (plan.h).
 *
 * The operators are stacked in SQL's evaluation order:
 *
 *   FROM (Scan, Join) -> Filter (WHERE and extra INNER JOIN conditions;
 *     a LEFT JOIN keeps its extra ON conditions in the Join itself)
 *     -> Aggregate (GROUP BY, aggregates) -> Filter (HAVING)
 *     -> Project (select list + ORDER BY expressions not in it)
 *     -> Aggregate (DISTINCT) -> Sort -> Limit -> Project (drop the extras)
 *
 * Clause binding follows PostgreSQL: GROUP BY items may be input columns,
 * expressions, select-list positions or output names (input columns win);
 * ORDER BY items may be output names or positions (these win) or
 * expressions. With aggregation, every column outside an aggregate must be
 * (part of) a GROUP BY expression.
 *
 * A subquery in FROM or a WITH query is bound by its own binder into its own
 * plan, which becomes a FROM item whose "dataset columns" are the plan's
 * output; a Project over it (from_subquery) reads the columns used. A
 * UNION ALL is a statement whose only FROM item is a Union All of its sides
 * and whose select list is that item's columns.
 *
 * Columns are bound as (FROM item, dataset column) and turned into operator
 * input positions at the end (bind_layout.c), when it is known which columns each
 * Scan must read; unread columns are never decrypted or decoded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/value.h"
#include "sql/bind.h"

typedef struct {
    dcr_expr *expr;
    char *name;
    bool hidden; /* added for ORDER BY, dropped at the end */
} target;

typedef struct {
    dcr_binder *b;
    target *t;
    size_t n, nvisible;
    dcr_expr **groups;
    size_t ngroups;
    dcr_expr *where; /* WHERE AND join residuals, or NULL */
    dcr_expr *having;
    dcr_sort_key *sort;
    size_t nsort;
    bool distinct;
    int64_t limit, offset;
} select_state;

static void free_state(select_state *st)
{
    for (size_t i = 0; i < st->n; i++) {
        dcr_expr_free(st->t[i].expr);
        free(st->t[i].name);
    }
    free(st->t);
    for (size_t i = 0; i < st->ngroups; i++)
        dcr_expr_free(st->groups[i]);
    free(st->groups);
    dcr_expr_free(st->where);
    dcr_expr_free(st->having);
    free(st->sort);
}

static bool has_agg(const dcr_expr *e)
{
    if (e->kind == DCR_EXPR_AGG)
        return true;
    for (size_t i = 0; i < e->nargs; i++)
        if (has_agg(e->args[i]))
            return true;
    return false;
}

dcr_status dcr_bind_and_into(dcr_binder *b, dcr_expr **acc, dcr_expr *more)
{
    if (!more)
        return DCR_OK;
    if (!*acc) {
        *acc = more;
        return DCR_OK;
    }
    if ((*acc)->kind != DCR_EXPR_AND) {
        dcr_expr *a = dcr_expr_new(DCR_EXPR_AND, DCR_TYPE_BOOLEAN, (*acc)->location);
        if (!a) {
            dcr_expr_free(more);
            return dcr_bind_oom(b);
        }
        dcr_status s = dcr_expr_add_arg(a, *acc, b->err);
        *acc = a;
        if (s != DCR_OK) {
            (*acc)->nargs = 0; /* the old *acc was freed by add_arg */
            dcr_expr_free(more);
            return s;
        }
    }
    return dcr_expr_add_arg(*acc, more, b->err);
}

/* ---- select list ---- */

static dcr_status add_target(dcr_binder *b, select_state *st, dcr_expr *e, const char *name,
                             bool hidden)
{
    target *t = realloc(st->t, (st->n + 1) * sizeof *t);
    char *nm = strdup(name);
    if (!t || !nm) {
        if (t)
            st->t = t;
        free(nm);
        dcr_expr_free(e);
        return dcr_bind_oom(b);
    }
    st->t = t;
    t[st->n++] = (target){e, nm, hidden};
    if (!hidden)
        st->nvisible = st->n;
    return DCR_OK;
}

static dcr_status expand_star(dcr_binder *b, select_state *st, const PgQuery__ColumnRef *c)
{
    const char *rel = c->n_fields == 2 && c->fields[0]->node_case == PG_QUERY__NODE__NODE_STRING
                          ? c->fields[0]->string->sval
                          : NULL;
    if (c->n_fields > 2 || (c->n_fields == 2 && !rel))
        return dcr_sql_unsupported(b->err, b->sql, c->location, "this * form");
    if (b->nrels == 0)
        return dcr_sql_fail(b->err, b->sql, c->location, "SELECT * with no tables specified");
    bool seen = false;
    dcr_status s = DCR_OK;
    for (size_t r = 0; s == DCR_OK && r < b->nrels; r++) {
        if (rel && strcmp(rel, b->rels[r].alias) != 0)
            continue;
        seen = true;
        const dcr_schema *sc = b->rels[r].schema;
        for (size_t i = 0; s == DCR_OK && i < sc->ncols; i++) {
            dcr_expr *e = dcr_expr_new(DCR_EXPR_COLUMN, sc->cols[i].type, c->location);
            char label[2 * DCR_NAME_MAX + 2];
            if (b->nrels > 1)
                snprintf(label, sizeof label, "%s.%s", b->rels[r].alias, sc->cols[i].name);
            else
                snprintf(label, sizeof label, "%s", sc->cols[i].name);
            if (!e || !(e->label = strdup(label))) {
                dcr_expr_free(e);
                return dcr_bind_oom(b);
            }
            e->rel = r;
            e->col = i;
            s = add_target(b, st, e, sc->cols[i].name, false);
        }
    }
    if (s == DCR_OK && !seen)
        s = dcr_sql_fail(b->err, b->sql, c->location, "missing FROM-clause entry for table \"%s\"",
                         rel);
    return s;
}

static bool is_star(const PgQuery__Node *n)
{
    if (!n || n->node_case != PG_QUERY__NODE__NODE_COLUMN_REF)
        return false;
    const PgQuery__ColumnRef *c = n->column_ref;
    return c->n_fields > 0 && c->fields[c->n_fields - 1]->node_case == PG_QUERY__NODE__NODE_A_STAR;
}

static dcr_status bind_targets(dcr_binder *b, const PgQuery__SelectStmt *s, select_state *st)
{
    b->aggs_allowed = true;
    b->clause = "the select list";
    for (size_t i = 0; i < s->n_target_list; i++) {
        const PgQuery__ResTarget *rt = s->target_list[i]->res_target;
        if (rt->n_indirection)
            return dcr_sql_unsupported(b->err, b->sql, rt->location,
                                       "indirection in the select list");
        dcr_status r;
        if (is_star(rt->val)) {
            r = expand_star(b, st, rt->val->column_ref);
        } else {
            dcr_expr *e;
            r = dcr_bind_expr(b, rt->val, &e);
            if (r == DCR_OK && (r = dcr_bind_finish_type(b, e)) != DCR_OK)
                dcr_expr_free(e);
            if (r == DCR_OK)
                r = add_target(b, st, e, rt->name[0] ? rt->name : dcr_bind_colname(rt->val), false);
        }
        if (r != DCR_OK)
            return r;
    }
    if (st->n == 0)
        return dcr_sql_unsupported(b->err, b->sql, -1, "an empty select list");
    return DCR_OK;
}

/* ---- GROUP BY ---- */

/* An A_Const integer (ordinal position), or 0. */
static int64_t ordinal_of(const PgQuery__Node *n)
{
    if (n && n->node_case == PG_QUERY__NODE__NODE_A_CONST &&
        n->a_const->val_case == PG_QUERY__A__CONST__VAL_IVAL)
        return n->a_const->ival->ival == 0 ? -1 : n->a_const->ival->ival;
    return 0;
}

static const char *bare_name(const PgQuery__Node *n)
{
    if (!n || n->node_case != PG_QUERY__NODE__NODE_COLUMN_REF || n->column_ref->n_fields != 1 ||
        n->column_ref->fields[0]->node_case != PG_QUERY__NODE__NODE_STRING)
        return NULL;
    return n->column_ref->fields[0]->string->sval;
}

static bool input_has_column(const dcr_binder *b, const char *name)
{
    for (size_t r = 0; r < b->nrels; r++)
        if (dcr_schema_find(b->rels[r].schema, name, strlen(name)) >= 0)
            return true;
    return false;
}

/* The visible target called name: its index, -1 if none, -2 if several. */
static int target_by_name(const select_state *st, const char *name)
{
    int hit = -1;
    for (size_t i = 0; i < st->nvisible; i++)
        if (strcmp(st->t[i].name, name) == 0)
            hit = hit == -1 ? (int)i : -2;
    return hit;
}

static dcr_status bind_group_item(dcr_binder *b, select_state *st, const PgQuery__Node *n,
                                  dcr_expr **out)
{
    int loc = dcr_sql_node_location(n);
    int64_t ord = ordinal_of(n);
    const char *name = bare_name(n);
    int by_name = name && !input_has_column(b, name) ? target_by_name(st, name) : -1;
    if (ord != 0 || by_name >= 0) {
        if (ord != 0 && (ord < 1 || (uint64_t)ord > st->nvisible))
            return dcr_sql_fail(b->err, b->sql, loc, "GROUP BY position %lld is not in select list",
                                (long long)ord);
        const dcr_expr *t = st->t[ord != 0 ? ord - 1 : by_name].expr;
        if (has_agg(t))
            return dcr_sql_fail(b->err, b->sql, loc,
                                "aggregate functions are not allowed in GROUP BY");
        *out = dcr_expr_copy(t);
        return *out ? DCR_OK : dcr_bind_oom(b);
    }
    if (n->node_case == PG_QUERY__NODE__NODE_GROUPING_SET)
        return dcr_sql_unsupported(b->err, b->sql, loc, "GROUPING SETS / ROLLUP / CUBE");
    b->aggs_allowed = false;
    b->clause = "GROUP BY";
    dcr_status s = dcr_bind_expr(b, n, out);
    if (s == DCR_OK && (s = dcr_bind_finish_type(b, *out)) != DCR_OK)
        dcr_expr_free(*out);
    return s;
}

static dcr_status bind_groups(dcr_binder *b, const PgQuery__SelectStmt *s, select_state *st)
{
    for (size_t i = 0; i < s->n_group_clause; i++) {
        dcr_expr *g;
        dcr_status r = bind_group_item(b, st, s->group_clause[i], &g);
        if (r != DCR_OK)
            return r;
        bool dup = false;
        for (size_t k = 0; k < st->ngroups && !dup; k++)
            dup = dcr_expr_equal(st->groups[k], g);
        if (dup) {
            dcr_expr_free(g);
            continue;
        }
        dcr_expr **gs = realloc(st->groups, (st->ngroups + 1) * sizeof *gs);
        if (!gs) {
            dcr_expr_free(g);
            return dcr_bind_oom(b);
        }
        st->groups = gs;
        gs[st->ngroups++] = g;
    }
    return DCR_OK;
}

/* ---- ORDER BY, LIMIT ---- */

static dcr_status add_sort_key(dcr_binder *b, select_state *st, size_t col,
                               const PgQuery__SortBy *sb)
{
    dcr_sort_key *k = realloc(st->sort, (st->nsort + 1) * sizeof *k);
    if (!k)
        return dcr_bind_oom(b);
    st->sort = k;
    bool desc = sb->sortby_dir == PG_QUERY__SORT_BY_DIR__SORTBY_DESC;
    bool nf = sb->sortby_nulls == PG_QUERY__SORT_BY_NULLS__SORTBY_NULLS_FIRST  ? true
              : sb->sortby_nulls == PG_QUERY__SORT_BY_NULLS__SORTBY_NULLS_LAST ? false
                                                                               : desc;
    k[st->nsort++] = (dcr_sort_key){col, desc, nf};
    return DCR_OK;
}

static dcr_status bind_order_item(dcr_binder *b, select_state *st, const PgQuery__SortBy *sb)
{
    int loc = dcr_sql_node_location(sb->node);
    if (sb->sortby_dir == PG_QUERY__SORT_BY_DIR__SORTBY_USING)
        return dcr_sql_unsupported(b->err, b->sql, loc, "ORDER BY ... USING");
    int64_t ord = ordinal_of(sb->node);
    if (ord != 0) {
        if (ord < 1 || (uint64_t)ord > st->nvisible)
            return dcr_sql_fail(b->err, b->sql, loc, "ORDER BY position %lld is not in select list",
                                (long long)ord);
        return add_sort_key(b, st, (size_t)ord - 1, sb);
    }
    const char *name = bare_name(sb->node);
    int by_name = name ? target_by_name(st, name) : -1;
    if (by_name == -2)
        return dcr_sql_fail(b->err, b->sql, loc, "ORDER BY \"%s\" is ambiguous", name);
    if (by_name >= 0)
        return add_sort_key(b, st, (size_t)by_name, sb);
    b->aggs_allowed = true;
    b->clause = "ORDER BY";
    dcr_expr *e;
    dcr_status s = dcr_bind_expr(b, sb->node, &e);
    if (s == DCR_OK && (s = dcr_bind_finish_type(b, e)) != DCR_OK)
        dcr_expr_free(e);
    if (s != DCR_OK)
        return s;
    for (size_t i = 0; i < st->n; i++)
        if (dcr_expr_equal(st->t[i].expr, e)) {
            dcr_expr_free(e);
            return add_sort_key(b, st, i, sb);
        }
    if (st->distinct) {
        dcr_expr_free(e);
        return dcr_sql_fail(b->err, b->sql, loc,
                            "for SELECT DISTINCT, ORDER BY expressions must appear in select list");
    }
    s = add_target(b, st, e, "?order?", true);
    return s == DCR_OK ? add_sort_key(b, st, st->n - 1, sb) : s;
}

static dcr_status limit_value(dcr_binder *b, const PgQuery__Node *n, const char *what, int64_t *out)
{
    int loc = dcr_sql_node_location(n);
    if (n->node_case != PG_QUERY__NODE__NODE_A_CONST)
        return dcr_sql_unsupported(b->err, b->sql, loc, "a non-constant LIMIT or OFFSET");
    const PgQuery__AConst *k = n->a_const;
    if (k->isnull) {
        *out = -1;
        return DCR_OK;
    }
    int64_t v = 0;
    if (k->val_case == PG_QUERY__A__CONST__VAL_IVAL)
        v = k->ival->ival;
    else if (k->val_case != PG_QUERY__A__CONST__VAL_FVAL ||
             dcr_parse_bigint(k->fval->fval, strlen(k->fval->fval), &v) != NULL)
        return dcr_sql_fail(b->err, b->sql, loc, "argument of %s must be an integer", what);
    if (v < 0)
        return dcr_sql_fail(b->err, b->sql, loc, "%s must not be negative", what);
    *out = v;
    return DCR_OK;
}

static dcr_status bind_limit(dcr_binder *b, const PgQuery__SelectStmt *s, select_state *st)
{
    st->limit = -1;
    st->offset = 0;
    if (s->limit_option == PG_QUERY__LIMIT_OPTION__LIMIT_OPTION_WITH_TIES)
        return dcr_sql_unsupported(b->err, b->sql, -1, "FETCH ... WITH TIES");
    dcr_status r = DCR_OK;
    if (s->limit_count)
        r = limit_value(b, s->limit_count, "LIMIT", &st->limit);
    if (r == DCR_OK && s->limit_offset) {
        r = limit_value(b, s->limit_offset, "OFFSET", &st->offset);
        if (st->offset < 0)
            st->offset = 0;
    }
    return r;
}

/* ---- aggregation: lifting expressions above the Aggregate ---- */

static dcr_status lift(dcr_binder *b, select_state *st, dcr_expr **e);

static dcr_status lift_to_column(dcr_binder *b, dcr_expr **e, size_t col, const char *label)
{
    dcr_expr *c = dcr_expr_new(DCR_EXPR_COLUMN, (*e)->type, (*e)->location);
    if (!c || !(c->label = strdup(label))) {
        dcr_expr_free(c);
        return dcr_bind_oom(b);
    }
    c->col = col;
    c->rel = SIZE_MAX;
    dcr_expr_free(*e);
    *e = c;
    return DCR_OK;
}

/* Rewrites an expression bound over the FROM row into one over the
 * Aggregate's output (groups ++ aggregates). */
static dcr_status lift(dcr_binder *b, select_state *st, dcr_expr **e)
{
    for (size_t i = 0; i < st->ngroups; i++)
        if (dcr_expr_equal(st->groups[i], *e)) {
            dcr_buf label = DCR_BUF_INIT;
            dcr_status s = dcr_expr_explain(st->groups[i], &label, b->err);
            s = s ? s : dcr_buf_append(&label, "", 1, b->err);
            s = s ? s : lift_to_column(b, e, i, (const char *)label.data);
            dcr_buf_free(&label);
            return s;
        }
    if ((*e)->kind == DCR_EXPR_AGG) {
        for (size_t i = 0; i < b->naggs; i++)
            if (dcr_expr_equal(b->aggs[i], *e)) {
                dcr_buf label = DCR_BUF_INIT;
                dcr_status s = dcr_expr_explain(*e, &label, b->err);
                s = s ? s : dcr_buf_append(&label, "", 1, b->err);
                s = s ? s : lift_to_column(b, e, st->ngroups + i, (const char *)label.data);
                dcr_buf_free(&label);
                return s;
            }
        return dcr_fail(b->err, DCR_EINTERNAL, "SQL: aggregate lost while binding");
    }
    if ((*e)->kind == DCR_EXPR_COLUMN)
        return dcr_sql_fail(b->err, b->sql, (*e)->location,
                            "column \"%s\" must appear in the GROUP BY clause or be used in an "
                            "aggregate function",
                            (*e)->label ? (*e)->label : "?");
    for (size_t i = 0; i < (*e)->nargs; i++) {
        dcr_status s = lift(b, st, &(*e)->args[i]);
        if (s != DCR_OK)
            return s;
    }
    return DCR_OK;
}

/* ---- building the operator stack ---- */

static dcr_status stack(dcr_binder *b, dcr_plan **top, dcr_plan *p)
{
    if (!p) {
        return dcr_bind_oom(b);
    }
    p->child[0] = *top;
    *top = p;
    return DCR_OK;
}

static dcr_status set_out_from_exprs(dcr_binder *b, dcr_plan *p, dcr_expr **es, size_t n,
                                     target *names)
{
    dcr_status s = dcr_plan_set_ncols(p, n, b->err);
    for (size_t i = 0; s == DCR_OK && i < n; i++) {
        p->types[i] = es[i]->type;
        const char *nm = names ? names[i].name : NULL;
        dcr_buf label = DCR_BUF_INIT;
        if (!nm) {
            s = dcr_expr_explain(es[i], &label, b->err);
            s = s ? s : dcr_buf_append(&label, "", 1, b->err);
            nm = (const char *)label.data;
        }
        s = s ? s : dcr_plan_set_name(p, i, nm, b->err);
        dcr_buf_free(&label);
    }
    return s;
}

static dcr_status build_aggregate(dcr_binder *b, select_state *st, dcr_plan **top)
{
    dcr_plan *a = dcr_plan_new(DCR_PLAN_AGGREGATE);
    dcr_status s = stack(b, top, a);
    size_t n = st->ngroups + b->naggs;
    if (s == DCR_OK && !(a->exprs = calloc(n ? n : 1, sizeof *a->exprs)))
        s = dcr_bind_oom(b);
    if (s != DCR_OK)
        return s;
    for (size_t i = 0; i < st->ngroups; i++)
        a->exprs[a->ngroups++] = st->groups[i], st->groups[i] = NULL;
    for (size_t i = 0; i < b->naggs; i++)
        if (!(a->exprs[a->ngroups + a->naggs++] = dcr_expr_copy(b->aggs[i])))
            return dcr_bind_oom(b);
    s = set_out_from_exprs(b, a, a->exprs, n, NULL);
    /* lift() compares with the group keys; keep copies there. */
    for (size_t i = 0; s == DCR_OK && i < st->ngroups; i++)
        if (!(st->groups[i] = dcr_expr_copy(a->exprs[i])))
            s = dcr_bind_oom(b);
    for (size_t i = 0; s == DCR_OK && i < st->n; i++)
        s = lift(b, st, &st->t[i].expr);
    if (s == DCR_OK && st->having)
        s = lift(b, st, &st->having);
    return s;
}

static dcr_status build_project(dcr_binder *b, select_state *st, size_t n, dcr_plan **top)
{
    dcr_plan *p = dcr_plan_new(DCR_PLAN_PROJECT);
    dcr_status s = stack(b, top, p);
    if (s == DCR_OK && !(p->exprs = calloc(n, sizeof *p->exprs)))
        s = dcr_bind_oom(b);
    if (s != DCR_OK)
        return s;
    dcr_expr **tmp = calloc(n, sizeof *tmp);
    if (!tmp)
        return dcr_bind_oom(b);
    for (size_t i = 0; i < n; i++)
        tmp[i] = st->t[i].expr;
    s = set_out_from_exprs(b, p, tmp, n, st->t);
    free(tmp);
    for (size_t i = 0; s == DCR_OK && i < n; i++)
        p->exprs[i] = st->t[i].expr, st->t[i].expr = NULL;
    p->ncols = s == DCR_OK ? n : p->ncols;
    return s;
}

/* A Project of columns 0..n-1 of the plan below. */
static dcr_status build_trim(dcr_binder *b, size_t n, dcr_plan **top)
{
    dcr_plan *below = *top, *p = dcr_plan_new(DCR_PLAN_PROJECT);
    dcr_status s = stack(b, top, p);
    if (s == DCR_OK && !(p->exprs = calloc(n, sizeof *p->exprs)))
        s = dcr_bind_oom(b);
    s = s ? s : dcr_plan_set_ncols(p, n, b->err);
    for (size_t i = 0; s == DCR_OK && i < n; i++) {
        dcr_expr *c = dcr_expr_new(DCR_EXPR_COLUMN, below->types[i], -1);
        if (!c || !(c->label = strdup(below->names[i]))) {
            dcr_expr_free(c);
            return dcr_bind_oom(b);
        }
        c->col = i;
        p->exprs[i] = c;
        p->types[i] = below->types[i];
        s = dcr_plan_set_name(p, i, below->names[i], b->err);
    }
    return s;
}

static dcr_status build_distinct(dcr_binder *b, dcr_plan **top)
{
    dcr_plan *below = *top, *a = dcr_plan_new(DCR_PLAN_AGGREGATE);
    dcr_status s = stack(b, top, a);
    size_t n = below->ncols;
    if (s == DCR_OK && !(a->exprs = calloc(n ? n : 1, sizeof *a->exprs)))
        s = dcr_bind_oom(b);
    s = s ? s : dcr_plan_set_ncols(a, n, b->err);
    for (size_t i = 0; s == DCR_OK && i < n; i++) {
        dcr_expr *c = dcr_expr_new(DCR_EXPR_COLUMN, below->types[i], -1);
        if (!c || !(c->label = strdup(below->names[i]))) {
            dcr_expr_free(c);
            return dcr_bind_oom(b);
        }
        c->col = i;
        a->exprs[a->ngroups++] = c;
        a->types[i] = below->types[i];
        s = dcr_plan_set_name(a, i, below->names[i], b->err);
    }
    return s;
}

static dcr_status build_sort_limit(dcr_binder *b, select_state *st, dcr_plan **top)
{
    dcr_status s = DCR_OK;
    if (st->nsort > 0) {
        dcr_plan *below = *top, *p = dcr_plan_new(DCR_PLAN_SORT);
        s = stack(b, top, p);
        s = s ? s : dcr_plan_set_ncols(p, below->ncols, b->err);
        for (size_t i = 0; s == DCR_OK && i < below->ncols; i++) {
            p->types[i] = below->types[i];
            s = dcr_plan_set_name(p, i, below->names[i], b->err);
        }
        if (s == DCR_OK) {
            p->sort = st->sort;
            p->nsort = st->nsort;
            st->sort = NULL;
            st->nsort = 0;
        }
    }
    if (s == DCR_OK && (st->limit >= 0 || st->offset > 0)) {
        dcr_plan *below = *top, *p = dcr_plan_new(DCR_PLAN_LIMIT);
        s = stack(b, top, p);
        s = s ? s : dcr_plan_set_ncols(p, below->ncols, b->err);
        for (size_t i = 0; s == DCR_OK && i < below->ncols; i++) {
            p->types[i] = below->types[i];
            s = dcr_plan_set_name(p, i, below->names[i], b->err);
        }
        if (s == DCR_OK) {
            p->limit = st->limit;
            p->offset = st->offset;
        }
    }
    if (s == DCR_OK && st->nvisible < (*top)->ncols)
        s = build_trim(b, st->nvisible, top);
    return s;
}

/* ---- the statement ---- */

int dcr_select_location(const PgQuery__SelectStmt *s)
{
    if (!s)
        return -1;
    if (s->larg)
        return dcr_select_location(s->larg);
    return s->n_target_list ? dcr_sql_node_location(s->target_list[0]) : -1;
}

static dcr_status check_select_shape(dcr_binder *b, const PgQuery__SelectStmt *s)
{
    if (s->op != PG_QUERY__SET_OPERATION__SETOP_NONE &&
        !(s->op == PG_QUERY__SET_OPERATION__SETOP_UNION && s->all))
        return dcr_sql_unsupported(b->err, b->sql, dcr_select_location(s->rarg),
                                   "UNION without ALL / INTERSECT / EXCEPT");
    if (s->with_clause && s->with_clause->recursive)
        return dcr_sql_unsupported(b->err, b->sql, s->with_clause->location, "WITH RECURSIVE");
    if (s->with_clause && b->depth > 0)
        return dcr_sql_unsupported(b->err, b->sql, s->with_clause->location,
                                   "WITH inside a subquery");
    if (s->n_values_lists)
        return dcr_sql_unsupported(b->err, b->sql,
                                   dcr_sql_node_location(s->values_lists[0]->list->n_items
                                                             ? s->values_lists[0]->list->items[0]
                                                             : NULL),
                                   "VALUES");
    if (s->into_clause)
        return dcr_sql_unsupported(b->err, b->sql, -1, "SELECT INTO");
    if (s->n_window_clause)
        return dcr_sql_unsupported(b->err, b->sql, -1, "WINDOW");
    if (s->n_locking_clause)
        return dcr_sql_unsupported(b->err, b->sql, -1, "FOR UPDATE / FOR SHARE");
    if (s->group_distinct)
        return dcr_sql_unsupported(b->err, b->sql, -1, "GROUP BY DISTINCT");
    for (size_t i = 0; i < s->n_distinct_clause; i++)
        if (s->distinct_clause[i] &&
            s->distinct_clause[i]->node_case != PG_QUERY__NODE__NODE__NOT_SET)
            return dcr_sql_unsupported(b->err, b->sql, dcr_sql_node_location(s->distinct_clause[i]),
                                       "DISTINCT ON");
    return DCR_OK;
}

/* The select list of a UNION ALL: every column of its FROM item. */
static dcr_status union_targets(dcr_binder *b, select_state *st)
{
    const dcr_schema *sc = b->rels[0].schema;
    dcr_status s = DCR_OK;
    b->aggs_allowed = false;
    b->clause = "ORDER BY of a UNION";
    for (size_t i = 0; s == DCR_OK && i < sc->ncols; i++) {
        dcr_expr *e = dcr_expr_new(DCR_EXPR_COLUMN, sc->cols[i].type, -1);
        if (!e || !(e->label = strdup(sc->cols[i].name))) {
            dcr_expr_free(e);
            return dcr_bind_oom(b);
        }
        e->rel = 0;
        e->col = i;
        s = add_target(b, st, e, sc->cols[i].name, false);
    }
    return s;
}

static dcr_status bind_clauses(dcr_binder *b, const PgQuery__SelectStmt *s, select_state *st)
{
    dcr_status r = s->op != PG_QUERY__SET_OPERATION__SETOP_NONE ? union_targets(b, st)
                                                                : bind_targets(b, s, st);
    r = r ? r : bind_groups(b, s, st);
    if (r == DCR_OK && s->having_clause) {
        b->aggs_allowed = true;
        b->clause = "HAVING";
        r = dcr_bind_bool(b, s->having_clause, "HAVING", &st->having);
    }
    for (size_t i = 0; r == DCR_OK && i < s->n_sort_clause; i++)
        r = bind_order_item(b, st, s->sort_clause[i]->sort_by);
    return r ? r : bind_limit(b, s, st);
}

dcr_status dcr_bind_select(dcr_binder *b, const PgQuery__SelectStmt *s, dcr_plan **out)
{
    dcr_status r = check_select_shape(b, s);
    if (r != DCR_OK)
        return r;
    if (s->with_clause) {
        b->with = s->with_clause;
        b->nwith = s->with_clause->n_ctes;
    }
    select_state st = {.b = b, .distinct = s->n_distinct_clause > 0};
    dcr_plan *top = NULL;
    bool setop = s->op != PG_QUERY__SET_OPERATION__SETOP_NONE;
    r = setop ? dcr_bind_union_from(b, s, &top) : dcr_bind_from(b, s, &st.where, &top);
    if (r == DCR_OK && s->where_clause) {
        dcr_expr *w;
        b->aggs_allowed = false;
        b->clause = "WHERE";
        r = dcr_bind_bool(b, s->where_clause, "WHERE", &w);
        r = r ? r : dcr_bind_and_into(b, &st.where, w);
    }
    r = r ? r : bind_clauses(b, s, &st);
    if (r == DCR_OK && st.where) {
        dcr_plan *f = dcr_plan_new(DCR_PLAN_FILTER);
        if ((r = stack(b, &top, f)) == DCR_OK)
            f->pred = st.where, st.where = NULL;
    }
    bool aggregating = st.ngroups > 0 || b->naggs > 0 || st.having;
    if (r == DCR_OK && aggregating)
        r = build_aggregate(b, &st, &top);
    dcr_plan *consumer = top;
    if (r == DCR_OK && st.having) {
        dcr_plan *f = dcr_plan_new(DCR_PLAN_FILTER);
        if ((r = stack(b, &top, f)) == DCR_OK) {
            f->pred = st.having, st.having = NULL;
            r = set_out_from_exprs(b, f, f->child[0]->exprs, f->child[0]->ncols, NULL);
            for (size_t i = 0; r == DCR_OK && i < f->ncols; i++)
                r = dcr_plan_set_name(f, i, f->child[0]->names[i], b->err);
        }
    }
    r = r ? r : build_project(b, &st, st.n, &top);
    if (r == DCR_OK && !aggregating)
        consumer = top;
    r = r ? r : dcr_bind_layout(b, consumer);
    if (r == DCR_OK && st.distinct)
        r = build_distinct(b, &top);
    r = r ? r : build_sort_limit(b, &st, &top);
    free_state(&st);
    if (r != DCR_OK) {
        dcr_plan_free(top);
        return r;
    }
    *out = top;
    return DCR_OK;
}

static dcr_status bind_statement(dcr_binder *b, const PgQuery__RawStmt *raw, dcr_plan **plan,
                                 bool *explain)
{
    const PgQuery__Node *n = raw->stmt;
    if (n && n->node_case == PG_QUERY__NODE__NODE_EXPLAIN_STMT) {
        if (!explain)
            return dcr_sql_unsupported(b->err, b->sql, raw->stmt_location, "EXPLAIN here");
        if (n->explain_stmt->n_options)
            return dcr_sql_unsupported(b->err, b->sql, raw->stmt_location, "EXPLAIN options");
        *explain = true;
        n = n->explain_stmt->query;
    }
    if (!n || n->node_case != PG_QUERY__NODE__NODE_SELECT_STMT) {
        const char *what = n ? dcr_sql_node_name(n) : "an empty statement";
        return dcr_sql_fail(b->err, b->sql, raw->stmt_location, "%s is not supported (only SELECT)",
                            what);
    }
    return dcr_bind_select(b, n->select_stmt, plan);
}

dcr_status dcr_sql_compile(const char *sql, const dcr_catalog *cat, dcr_plan **plan, bool *explain,
                           dcr_error *err)
{
    *plan = NULL;
    if (explain)
        *explain = false;
    dcr_sql_tree tree;
    dcr_status s = dcr_sql_parse(sql, &tree, err);
    if (s != DCR_OK)
        return s;
    dcr_binder b = {.sql = sql, .cat = cat, .err = err};
    if (tree.tree->n_stmts != 1)
        s = dcr_sql_fail(err, sql, tree.tree->n_stmts ? tree.tree->stmts[1]->stmt_location : -1,
                         "exactly one statement is needed, got %zu", tree.tree->n_stmts);
    else
        s = bind_statement(&b, tree.tree->stmts[0], plan, explain);
    dcr_binder_cleanup(&b);
    dcr_sql_tree_free(&tree);
    return s;
}

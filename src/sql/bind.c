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
 * input positions at the end (layout()), when it is known which columns each
 * Scan must read; unread columns are never decrypted or decoded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv/value.h"
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

static dcr_status oom(dcr_binder *b)
{
    return dcr_fail(b->err, DCR_EINTERNAL, "out of memory");
}

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

/* AND-s `more` into *acc (either may be NULL). */
static dcr_status and_into(dcr_binder *b, dcr_expr **acc, dcr_expr *more)
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
            return oom(b);
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

/* ---- FROM ---- */

static dcr_status bind_select(dcr_binder *b, const PgQuery__SelectStmt *s, dcr_plan **out);
static int select_location(const PgQuery__SelectStmt *s);

static void binder_cleanup(dcr_binder *b)
{
    for (size_t i = 0; i < b->naggs; i++)
        dcr_expr_free(b->aggs[i]);
    free(b->aggs);
    b->aggs = NULL;
    b->naggs = 0;
    for (size_t r = 0; r < b->nrels; r++)
        free(b->rels[r].sub_schema.cols);
}

static dcr_status check_new_alias(dcr_binder *b, const char *alias, int location)
{
    if (b->nrels == DCR_SQL_MAX_RELS)
        return dcr_sql_fail(b->err, b->sql, location, "more than %d tables in FROM",
                            DCR_SQL_MAX_RELS);
    if (strlen(alias) > DCR_NAME_MAX)
        return dcr_sql_fail(b->err, b->sql, location, "alias \"%.63s...\" is too long", alias);
    for (size_t r = 0; r < b->nrels; r++)
        if (strcmp(b->rels[r].alias, alias) == 0)
            return dcr_sql_fail(b->err, b->sql, location,
                                "table name \"%s\" specified more than once", alias);
    return DCR_OK;
}

/* The output columns of a bound subquery as a schema. */
static dcr_status sub_schema(dcr_binder *b, const dcr_plan *sub, bool dup_names, int location,
                             dcr_schema *sc)
{
    sc->ncols = sub->ncols;
    sc->cols = calloc(sub->ncols ? sub->ncols : 1, sizeof *sc->cols);
    if (!sc->cols)
        return oom(b);
    for (size_t i = 0; i < sub->ncols; i++) {
        if (strlen(sub->names[i]) > DCR_NAME_MAX)
            return dcr_sql_fail(b->err, b->sql, location, "column name \"%.63s...\" is too long",
                                sub->names[i]);
        for (size_t k = 0; !dup_names && k < i; k++)
            if (strcmp(sc->cols[k].name, sub->names[i]) == 0)
                return dcr_sql_unsupported(b->err, b->sql, location,
                                           "a subquery with two output columns of the same name");
        snprintf(sc->cols[i].name, sizeof sc->cols[i].name, "%s", sub->names[i]);
        sc->cols[i].type = sub->types[i];
    }
    return DCR_OK;
}

/* A bound plan as FROM item `alias`: the plan under a PROJECT that layout()
 * fills with the columns the outer query uses. Takes ownership of sub. */
static dcr_status add_plan_rel(dcr_binder *b, const char *alias, dcr_plan *sub, bool dup_names,
                               int location, dcr_plan **out)
{
    dcr_status s = check_new_alias(b, alias, location);
    dcr_bind_rel *R = &b->rels[b->nrels];
    dcr_plan *p = NULL;
    memset(R, 0, sizeof *R);
    s = s ? s : sub_schema(b, sub, dup_names, location, &R->sub_schema);
    if (s == DCR_OK && !(p = dcr_plan_new(DCR_PLAN_PROJECT)))
        s = oom(b);
    if (s != DCR_OK) {
        free(R->sub_schema.cols);
        R->sub_schema.cols = NULL;
        dcr_plan_free(sub);
        return s;
    }
    snprintf(R->alias, sizeof R->alias, "%s", alias);
    R->dataset = SIZE_MAX;
    R->schema = &R->sub_schema;
    R->location = location;
    p->child[0] = sub;
    p->from_subquery = true;
    p->from_item = b->nrels++;
    *out = p;
    return DCR_OK;
}

/* Binds stmt as a subquery (it sees the first nwith WITH queries). */
static dcr_status bind_subselect(dcr_binder *b, const PgQuery__SelectStmt *stmt, size_t nwith,
                                 dcr_plan **sub)
{
    dcr_binder in = {.sql = b->sql,
                     .cat = b->cat,
                     .err = b->err,
                     .with = b->with,
                     .nwith = nwith,
                     .depth = b->depth + 1};
    dcr_status s = bind_select(&in, stmt, sub);
    binder_cleanup(&in);
    return s;
}

/* A subquery or WITH query as FROM item `alias`. */
static dcr_status add_subquery_rel(dcr_binder *b, const char *alias,
                                   const PgQuery__SelectStmt *stmt, size_t nwith, int location,
                                   dcr_plan **out)
{
    dcr_status s = check_new_alias(b, alias, location);
    dcr_plan *sub = NULL;
    s = s ? s : bind_subselect(b, stmt, nwith, &sub);
    return s ? s : add_plan_rel(b, alias, sub, false, location, out);
}

/* Makes `*p` output `types` (widening BIGINT to DOUBLE, DATE to TIMESTAMP). */
static dcr_status cast_outputs(dcr_binder *b, dcr_plan **p, const dcr_type *types)
{
    dcr_plan *below = *p;
    bool same = true;
    for (size_t i = 0; i < below->ncols; i++)
        same = same && below->types[i] == types[i];
    if (same)
        return DCR_OK;
    dcr_plan *q = dcr_plan_new(DCR_PLAN_PROJECT);
    dcr_status s = q ? dcr_plan_set_ncols(q, below->ncols, b->err) : oom(b);
    if (s == DCR_OK && !(q->exprs = calloc(below->ncols ? below->ncols : 1, sizeof *q->exprs)))
        s = oom(b);
    if (s != DCR_OK) {
        dcr_plan_free(q);
        return s;
    }
    q->child[0] = below;
    *p = q;
    for (size_t i = 0; s == DCR_OK && i < below->ncols; i++) {
        dcr_expr *c = dcr_expr_new(DCR_EXPR_COLUMN, below->types[i], -1);
        if (!c || !(c->label = strdup(below->names[i]))) {
            dcr_expr_free(c);
            return oom(b);
        }
        c->col = i;
        c->rel = SIZE_MAX;
        q->exprs[i] = c;
        if (types[i] != below->types[i]) {
            dcr_expr *cast = dcr_expr_new(DCR_EXPR_CAST, types[i], -1);
            if (!cast)
                return oom(b); /* c is freed with q */
            q->exprs[i] = cast;
            s = dcr_expr_add_arg(cast, c, b->err);
        }
        q->types[i] = types[i];
        s = s ? s : dcr_plan_set_name(q, i, below->names[i], b->err);
    }
    return s;
}

static bool union_type(dcr_type a, dcr_type b, dcr_type *t)
{
    *t = a;
    if (a == b)
        return true;
    if ((a == DCR_TYPE_BIGINT && b == DCR_TYPE_DOUBLE) ||
        (a == DCR_TYPE_DATE && b == DCR_TYPE_TIMESTAMP)) {
        *t = b;
        return true;
    }
    return (b == DCR_TYPE_BIGINT && a == DCR_TYPE_DOUBLE) ||
           (b == DCR_TYPE_DATE && a == DCR_TYPE_TIMESTAMP);
}

/* a UNION ALL b as the only FROM item of the statement. */
static dcr_status bind_union_from(dcr_binder *b, const PgQuery__SelectStmt *st, dcr_plan **out)
{
    dcr_plan *side[2] = {NULL, NULL}, *u = NULL;
    int loc = select_location(st->rarg);
    dcr_status s = bind_subselect(b, st->larg, b->nwith, &side[0]);
    s = s ? s : bind_subselect(b, st->rarg, b->nwith, &side[1]);
    if (s == DCR_OK && side[0]->ncols != side[1]->ncols)
        s = dcr_sql_fail(b->err, b->sql, loc,
                         "each UNION query must have the same number of columns");
    size_t n = s == DCR_OK ? side[0]->ncols : 0;
    dcr_type *types = calloc(n ? n : 1, sizeof *types);
    if (s == DCR_OK && !types)
        s = oom(b);
    for (size_t i = 0; s == DCR_OK && i < n; i++)
        if (!union_type(side[0]->types[i], side[1]->types[i], &types[i]))
            s = dcr_sql_fail(b->err, b->sql, loc, "UNION types %s and %s cannot be matched",
                             dcr_type_name(side[0]->types[i]), dcr_type_name(side[1]->types[i]));
    s = s ? s : cast_outputs(b, &side[0], types);
    s = s ? s : cast_outputs(b, &side[1], types);
    if (s == DCR_OK && !(u = dcr_plan_new(DCR_PLAN_UNION_ALL)))
        s = oom(b);
    s = s ? s : dcr_plan_set_ncols(u, n, b->err);
    for (size_t i = 0; s == DCR_OK && i < n; i++) {
        u->types[i] = types[i];
        s = dcr_plan_set_name(u, i, side[0]->names[i], b->err);
    }
    free(types);
    if (s != DCR_OK) {
        dcr_plan_free(u);
        dcr_plan_free(side[0]);
        dcr_plan_free(side[1]);
        return s;
    }
    u->child[0] = side[0];
    u->child[1] = side[1];
    return add_plan_rel(b, "*UNION*", u, true, loc, out);
}

static dcr_status add_range_subselect(dcr_binder *b, const PgQuery__RangeSubselect *rs,
                                      dcr_plan **out)
{
    const PgQuery__Node *q = rs->subquery;
    int loc = q && q->node_case == PG_QUERY__NODE__NODE_SELECT_STMT
                  ? select_location(q->select_stmt)
                  : -1;
    if (!q || q->node_case != PG_QUERY__NODE__NODE_SELECT_STMT)
        return dcr_sql_unsupported(b->err, b->sql, loc, "this subquery in FROM");
    if (rs->lateral)
        return dcr_sql_unsupported(b->err, b->sql, loc, "LATERAL");
    if (!rs->alias)
        return dcr_sql_fail(b->err, b->sql, loc, "subquery in FROM must have an alias");
    if (rs->alias->n_colnames)
        return dcr_sql_unsupported(b->err, b->sql, loc, "column aliases in FROM");
    return add_subquery_rel(b, rs->alias->aliasname, q->select_stmt, b->nwith, loc, out);
}

static dcr_status add_rel(dcr_binder *b, const PgQuery__RangeVar *rv, dcr_plan **out)
{
    if (rv->catalogname[0] || rv->schemaname[0])
        return dcr_sql_unsupported(b->err, b->sql, rv->location, "a schema-qualified table name");
    if (rv->alias && rv->alias->n_colnames)
        return dcr_sql_unsupported(b->err, b->sql, rv->location, "column aliases in FROM");
    /* A WITH query of that name (only earlier ones are visible) wins. */
    for (size_t i = b->nwith; i-- > 0;) {
        const PgQuery__CommonTableExpr *c = b->with->ctes[i]->common_table_expr;
        if (strcmp(c->ctename, rv->relname) != 0)
            continue;
        if (c->n_aliascolnames)
            return dcr_sql_unsupported(b->err, b->sql, c->location, "column names on a WITH query");
        if (!c->ctequery || c->ctequery->node_case != PG_QUERY__NODE__NODE_SELECT_STMT)
            return dcr_sql_unsupported(b->err, b->sql, c->location,
                                       "a WITH query that is not SELECT");
        return add_subquery_rel(b, rv->alias ? rv->alias->aliasname : rv->relname,
                                c->ctequery->select_stmt, i, rv->location, out);
    }
    dcr_status s = check_new_alias(b, rv->alias ? rv->alias->aliasname : rv->relname, rv->location);
    if (s != DCR_OK)
        return s;
    size_t d = 0;
    while (d < b->cat->n && strcmp(b->cat->entries[d].name, rv->relname) != 0)
        d++;
    if (d == b->cat->n)
        return dcr_sql_fail(b->err, b->sql, rv->location, "relation \"%s\" does not exist",
                            rv->relname);
    const char *alias = rv->alias ? rv->alias->aliasname : rv->relname;
    dcr_bind_rel *R = &b->rels[b->nrels];
    memset(R, 0, sizeof *R);
    snprintf(R->alias, sizeof R->alias, "%s", alias);
    R->dataset = d;
    R->schema = b->cat->entries[d].schema;
    R->location = rv->location;
    dcr_plan *p = dcr_plan_new(DCR_PLAN_SCAN);
    if (!p || !(p->dataset_name = strdup(rv->relname)) || !(p->alias = strdup(alias))) {
        dcr_plan_free(p);
        return oom(b);
    }
    p->dataset = d;
    p->from_item = b->nrels++; /* columns are chosen by layout() */
    *out = p;
    return DCR_OK;
}

static uint32_t rel_mask(const dcr_expr *e)
{
    uint32_t m = e->kind == DCR_EXPR_COLUMN ? 1u << e->rel : 0;
    for (size_t i = 0; i < e->nargs; i++)
        m |= rel_mask(e->args[i]);
    return m;
}

/* Which side of join `right` (the FROM item on its right) an equality's
 * operands come from: 0 when args[0] is left-only and args[1] right-only,
 * 1 when swapped, -1 when it is not a usable join key. */
static int key_side(const dcr_expr *p, size_t right)
{
    if (p->kind != DCR_EXPR_CMP || p->op != DCR_OP_EQ)
        return -1;
    uint32_t rbit = 1u << right, lbits = rbit - 1;
    uint32_t m0 = rel_mask(p->args[0]), m1 = rel_mask(p->args[1]);
    if (m0 && !(m0 & ~lbits) && m1 == rbit)
        return 0;
    if (m1 && !(m1 & ~lbits) && m0 == rbit)
        return 1;
    return -1;
}

static dcr_status add_join_key(dcr_binder *b, dcr_plan *j, dcr_expr *l, dcr_expr *r)
{
    dcr_expr **lk = realloc(j->left_keys, (j->nkeys + 1) * sizeof *lk);
    if (lk)
        j->left_keys = lk;
    dcr_expr **rk = lk ? realloc(j->right_keys, (j->nkeys + 1) * sizeof *rk) : NULL;
    if (rk)
        j->right_keys = rk;
    if (!lk || !rk) {
        dcr_expr_free(l);
        dcr_expr_free(r);
        return oom(b);
    }
    lk[j->nkeys] = l;
    rk[j->nkeys] = r;
    j->nkeys++;
    return DCR_OK;
}

/* Splits an ON condition (taking ownership) into equality keys between the
 * sides and the rest, which is AND-ed into *residual. */
static dcr_status split_join_cond(dcr_binder *b, dcr_plan *j, dcr_expr *cond, size_t right,
                                  dcr_expr **residual)
{
    dcr_expr *single = cond, **parts = &single;
    size_t nparts = 1;
    if (cond->kind == DCR_EXPR_AND) {
        parts = cond->args;
        nparts = cond->nargs;
        cond->args = NULL;
        cond->nargs = 0;
        dcr_expr_free(cond);
    }
    dcr_status s = DCR_OK;
    for (size_t i = 0; i < nparts; i++) {
        dcr_expr *p = parts[i];
        int side = s == DCR_OK ? key_side(p, right) : -1;
        if (s != DCR_OK) {
            dcr_expr_free(p);
        } else if (side < 0) {
            s = and_into(b, residual, p);
        } else {
            s = add_join_key(b, j, p->args[side], p->args[1 - side]);
            p->nargs = 0;
            dcr_expr_free(p);
        }
    }
    if (parts != &single)
        free(parts);
    return s;
}

static dcr_status bind_from_item(dcr_binder *b, const PgQuery__Node *n, dcr_plan **out,
                                 dcr_expr **residual);

static dcr_status bind_join(dcr_binder *b, const PgQuery__JoinExpr *je, dcr_plan **out,
                            dcr_expr **residual)
{
    int loc = dcr_sql_node_location(je->rarg);
    bool outer = je->jointype == PG_QUERY__JOIN_TYPE__JOIN_LEFT;
    if (je->jointype != PG_QUERY__JOIN_TYPE__JOIN_INNER && !outer)
        return dcr_sql_unsupported(b->err, b->sql, loc,
                                   "this join type (only INNER and LEFT JOIN)");
    if (je->is_natural || je->n_using_clause)
        return dcr_sql_unsupported(b->err, b->sql, loc, "NATURAL JOIN and JOIN ... USING");
    if (je->alias)
        return dcr_sql_unsupported(b->err, b->sql, loc, "an alias on a join");
    if (!je->quals)
        return dcr_sql_unsupported(b->err, b->sql, loc, "a join without ON (cross join)");
    if (!je->rarg || (je->rarg->node_case != PG_QUERY__NODE__NODE_RANGE_VAR &&
                      je->rarg->node_case != PG_QUERY__NODE__NODE_RANGE_SUBSELECT))
        return dcr_sql_unsupported(b->err, b->sql, loc,
                                   "a parenthesised join on the right of JOIN");
    dcr_plan *left = NULL, *right = NULL, *j = NULL;
    dcr_status s = bind_from_item(b, je->larg, &left, residual);
    if (s == DCR_OK)
        s = bind_from_item(b, je->rarg, &right, residual);
    if (s == DCR_OK && !(j = dcr_plan_new(DCR_PLAN_JOIN)))
        s = oom(b);
    if (s != DCR_OK) {
        dcr_plan_free(left);
        dcr_plan_free(right);
        return s;
    }
    j->child[0] = left;
    j->child[1] = right;
    j->left_outer = outer;
    dcr_expr *cond;
    b->aggs_allowed = false;
    b->clause = "JOIN conditions";
    s = dcr_bind_bool(b, je->quals, "JOIN/ON", &cond);
    if (s == DCR_OK)
        s = split_join_cond(b, j, cond, b->nrels - 1, outer ? &j->pred : residual);
    if (s == DCR_OK && j->nkeys == 0)
        s = dcr_sql_unsupported(b->err, b->sql, dcr_sql_node_location(je->quals),
                                "a join without an equality between columns of its two sides");
    if (s != DCR_OK) {
        dcr_plan_free(j);
        return s;
    }
    *out = j;
    return DCR_OK;
}

/* Where a SELECT starts, for refusals of nodes without a location of their
 * own: the position of its first select-list item. */
static int select_location(const PgQuery__SelectStmt *s)
{
    if (!s)
        return -1;
    if (s->larg)
        return select_location(s->larg);
    return s->n_target_list ? dcr_sql_node_location(s->target_list[0]) : -1;
}

static dcr_status bind_from_item(dcr_binder *b, const PgQuery__Node *n, dcr_plan **out,
                                 dcr_expr **residual)
{
    switch (n->node_case) {
    case PG_QUERY__NODE__NODE_RANGE_SUBSELECT:
        return add_range_subselect(b, n->range_subselect, out);
    case PG_QUERY__NODE__NODE_RANGE_VAR:
        return add_rel(b, n->range_var, out);
    case PG_QUERY__NODE__NODE_JOIN_EXPR:
        return bind_join(b, n->join_expr, out, residual);
    default:
        return dcr_sql_unsupported(b->err, b->sql, dcr_sql_node_location(n), dcr_sql_node_name(n));
    }
}

static dcr_status bind_from(dcr_binder *b, const PgQuery__SelectStmt *s, select_state *st,
                            dcr_plan **out)
{
    if (s->n_from_clause == 0) {
        *out = dcr_plan_new(DCR_PLAN_VALUES);
        return *out ? DCR_OK : oom(b);
    }
    if (s->n_from_clause > 1)
        return dcr_sql_unsupported(b->err, b->sql, dcr_sql_node_location(s->from_clause[1]),
                                   "a comma-separated FROM list (use JOIN ... ON)");
    return bind_from_item(b, s->from_clause[0], out, &st->where);
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
        return oom(b);
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
                return oom(b);
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
        return *out ? DCR_OK : oom(b);
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
            return oom(b);
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
        return oom(b);
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
        return oom(b);
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
        return oom(b);
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
        s = oom(b);
    if (s != DCR_OK)
        return s;
    for (size_t i = 0; i < st->ngroups; i++)
        a->exprs[a->ngroups++] = st->groups[i], st->groups[i] = NULL;
    for (size_t i = 0; i < b->naggs; i++)
        if (!(a->exprs[a->ngroups + a->naggs++] = dcr_expr_copy(b->aggs[i])))
            return oom(b);
    s = set_out_from_exprs(b, a, a->exprs, n, NULL);
    /* lift() compares with the group keys; keep copies there. */
    for (size_t i = 0; s == DCR_OK && i < st->ngroups; i++)
        if (!(st->groups[i] = dcr_expr_copy(a->exprs[i])))
            s = oom(b);
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
        s = oom(b);
    if (s != DCR_OK)
        return s;
    dcr_expr **tmp = calloc(n, sizeof *tmp);
    if (!tmp)
        return oom(b);
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
        s = oom(b);
    s = s ? s : dcr_plan_set_ncols(p, n, b->err);
    for (size_t i = 0; s == DCR_OK && i < n; i++) {
        dcr_expr *c = dcr_expr_new(DCR_EXPR_COLUMN, below->types[i], -1);
        if (!c || !(c->label = strdup(below->names[i]))) {
            dcr_expr_free(c);
            return oom(b);
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
        s = oom(b);
    s = s ? s : dcr_plan_set_ncols(a, n, b->err);
    for (size_t i = 0; s == DCR_OK && i < n; i++) {
        dcr_expr *c = dcr_expr_new(DCR_EXPR_COLUMN, below->types[i], -1);
        if (!c || !(c->label = strdup(below->names[i]))) {
            dcr_expr_free(c);
            return oom(b);
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

/* ---- column layout ---- */

typedef struct {
    bool *used[DCR_SQL_MAX_RELS];
    size_t *slot[DCR_SQL_MAX_RELS]; /* slot within the rel's scan */
    size_t base[DCR_SQL_MAX_RELS];  /* first slot of the rel in the FROM row */
    size_t nused[DCR_SQL_MAX_RELS];
} layout_t;

static void mark_used(layout_t *l, const dcr_expr *e)
{
    if (e->kind == DCR_EXPR_COLUMN && e->rel != SIZE_MAX)
        l->used[e->rel][e->col] = true;
    for (size_t i = 0; i < e->nargs; i++)
        mark_used(l, e->args[i]);
}

static void remap(const layout_t *l, dcr_expr *e, bool relative)
{
    if (e->kind == DCR_EXPR_COLUMN && e->rel != SIZE_MAX) {
        e->col = l->slot[e->rel][e->col] + (relative ? 0 : l->base[e->rel]);
        e->rel = SIZE_MAX;
    }
    for (size_t i = 0; i < e->nargs; i++)
        remap(l, e->args[i], relative);
}

/* Calls fn on every expression of the FROM-level operators: the consumer
 * (the first Aggregate or Project) and everything below it. */
static void walk_from_exprs(dcr_plan *p, void (*fn)(void *, dcr_expr *, bool), void *ctx)
{
    if (!p)
        return;
    size_t n = p->kind == DCR_PLAN_AGGREGATE ? p->ngroups + p->naggs
               : p->kind == DCR_PLAN_PROJECT ? p->ncols
                                             : 0;
    for (size_t i = 0; i < n; i++)
        fn(ctx, p->exprs[i], false);
    if (p->pred)
        fn(ctx, p->pred, false);
    for (size_t i = 0; i < p->nkeys; i++) {
        fn(ctx, p->left_keys[i], false);
        fn(ctx, p->right_keys[i], true);
    }
    if (p->kind != DCR_PLAN_SCAN && !p->from_subquery) {
        walk_from_exprs(p->child[0], fn, ctx);
        walk_from_exprs(p->child[1], fn, ctx);
    }
}

static void mark_fn(void *ctx, dcr_expr *e, bool relative)
{
    (void)relative;
    mark_used(ctx, e);
}

static void remap_fn(void *ctx, dcr_expr *e, bool relative)
{
    remap(ctx, e, relative);
}

/* Sets each Scan's columns and each Join's output row from the layout. */
static dcr_status set_from_rows(dcr_binder *b, const layout_t *l, dcr_plan *p)
{
    if (p->from_subquery) { /* the used columns of the subquery's output */
        size_t r = p->from_item;
        const dcr_schema *sc = b->rels[r].schema;
        p->exprs = calloc(l->nused[r] ? l->nused[r] : 1, sizeof *p->exprs);
        dcr_status s = p->exprs ? dcr_plan_set_ncols(p, l->nused[r], b->err) : oom(b);
        for (size_t c = 0, k = 0; s == DCR_OK && c < sc->ncols; c++) {
            if (!l->used[r][c])
                continue;
            dcr_expr *e = dcr_expr_new(DCR_EXPR_COLUMN, sc->cols[c].type, -1);
            if (!e || !(e->label = strdup(sc->cols[c].name))) {
                dcr_expr_free(e);
                return oom(b);
            }
            e->col = c;
            p->exprs[k] = e;
            p->types[k] = sc->cols[c].type;
            s = dcr_plan_set_name(p, k++, sc->cols[c].name, b->err);
        }
        return s;
    }
    if (p->kind == DCR_PLAN_SCAN) {
        size_t r = p->from_item;
        const dcr_schema *sc = b->rels[r].schema;
        p->scan_cols = calloc(l->nused[r] ? l->nused[r] : 1, sizeof *p->scan_cols);
        dcr_status s = p->scan_cols ? dcr_plan_set_ncols(p, l->nused[r], b->err) : oom(b);
        for (size_t c = 0, k = 0; s == DCR_OK && c < sc->ncols; c++) {
            if (!l->used[r][c])
                continue;
            p->scan_cols[k] = c;
            p->types[k] = sc->cols[c].type;
            s = dcr_plan_set_name(p, k++, sc->cols[c].name, b->err);
        }
        return s;
    }
    dcr_status s = DCR_OK;
    for (int c = 0; s == DCR_OK && c < 2; c++)
        if (p->child[c])
            s = set_from_rows(b, l, p->child[c]);
    if (s != DCR_OK || (p->kind != DCR_PLAN_JOIN && p->kind != DCR_PLAN_FILTER))
        return s;
    size_t n0 = p->child[0]->ncols, n1 = p->kind == DCR_PLAN_JOIN ? p->child[1]->ncols : 0;
    s = dcr_plan_set_ncols(p, n0 + n1, b->err);
    for (size_t i = 0; s == DCR_OK && i < n0 + n1; i++) {
        const dcr_plan *src = i < n0 ? p->child[0] : p->child[1];
        size_t k = i < n0 ? i : i - n0;
        p->types[i] = src->types[k];
        s = dcr_plan_set_name(p, i, src->names[k], b->err);
    }
    return s;
}

/* consumer: the first operator above the FROM row (Aggregate or Project). */
static dcr_status layout(dcr_binder *b, dcr_plan *consumer)
{
    layout_t l;
    memset(&l, 0, sizeof l);
    dcr_status s = DCR_OK;
    for (size_t r = 0; s == DCR_OK && r < b->nrels; r++) {
        size_t nc = b->rels[r].schema->ncols;
        l.used[r] = calloc(nc, sizeof *l.used[r]);
        l.slot[r] = calloc(nc, sizeof *l.slot[r]);
        if (!l.used[r] || !l.slot[r])
            s = oom(b);
    }
    if (s == DCR_OK) {
        walk_from_exprs(consumer, mark_fn, &l);
        size_t base = 0;
        for (size_t r = 0; r < b->nrels; r++) {
            l.base[r] = base;
            for (size_t c = 0; c < b->rels[r].schema->ncols; c++)
                if (l.used[r][c])
                    l.slot[r][c] = l.nused[r]++;
            base += l.nused[r];
        }
        walk_from_exprs(consumer, remap_fn, &l);
        s = set_from_rows(b, &l, consumer->child[0]);
    }
    for (size_t r = 0; r < b->nrels; r++) {
        free(l.used[r]);
        free(l.slot[r]);
    }
    return s;
}

/* ---- the statement ---- */

static dcr_status check_select_shape(dcr_binder *b, const PgQuery__SelectStmt *s)
{
    if (s->op != PG_QUERY__SET_OPERATION__SETOP_NONE &&
        !(s->op == PG_QUERY__SET_OPERATION__SETOP_UNION && s->all))
        return dcr_sql_unsupported(b->err, b->sql, select_location(s->rarg),
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
            return oom(b);
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

static dcr_status bind_select(dcr_binder *b, const PgQuery__SelectStmt *s, dcr_plan **out)
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
    r = setop ? bind_union_from(b, s, &top) : bind_from(b, s, &st, &top);
    if (r == DCR_OK && s->where_clause) {
        dcr_expr *w;
        b->aggs_allowed = false;
        b->clause = "WHERE";
        r = dcr_bind_bool(b, s->where_clause, "WHERE", &w);
        r = r ? r : and_into(b, &st.where, w);
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
    r = r ? r : layout(b, consumer);
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
    return bind_select(b, n->select_stmt, plan);
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
    binder_cleanup(&b);
    dcr_sql_tree_free(&tree);
    return s;
}

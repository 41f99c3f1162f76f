/*
 * bind_from.c: the FROM clause of a SELECT -> the bottom of its plan.
 *
 * A FROM item is a dataset (Scan), a subquery or WITH query (bound by its
 * own binder into its own plan, under a Project that bind_layout.c
 * fills with the columns the outer query reads), or a chain of INNER and
 * LEFT joins (Join, with equality keys split from the rest of ON; an inner
 * join's other conditions go to WHERE, a LEFT JOIN keeps them). A UNION ALL
 * statement is bound as one FROM item: a Union All of its sides, each
 * side's columns widened to the common type.
 *
 * Each FROM item gets an entry in b->rels (its alias and schema), against
 * which bind_expr.c resolves column names.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sql/bind.h"

void dcr_binder_cleanup(dcr_binder *b)
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
        return dcr_bind_oom(b);
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

/* A bound plan as FROM item `alias`: the plan under a PROJECT that dcr_bind_layout()
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
        s = dcr_bind_oom(b);
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
    dcr_status s = dcr_bind_select(&in, stmt, sub);
    dcr_binder_cleanup(&in);
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
    dcr_status s = q ? dcr_plan_set_ncols(q, below->ncols, b->err) : dcr_bind_oom(b);
    if (s == DCR_OK && !(q->exprs = calloc(below->ncols ? below->ncols : 1, sizeof *q->exprs)))
        s = dcr_bind_oom(b);
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
            return dcr_bind_oom(b);
        }
        c->col = i;
        c->rel = SIZE_MAX;
        q->exprs[i] = c;
        if (types[i] != below->types[i]) {
            dcr_expr *cast = dcr_expr_new(DCR_EXPR_CAST, types[i], -1);
            if (!cast)
                return dcr_bind_oom(b); /* c is freed with q */
            q->exprs[i] = cast;
            s = dcr_expr_add_arg(cast, c, b->err);
        }
        q->types[i] = types[i];
        s = s ? s : dcr_plan_set_name(q, i, below->names[i], b->err);
    }
    return s;
}

/* a UNION ALL b as the only FROM item of the statement. */
dcr_status dcr_bind_union_from(dcr_binder *b, const PgQuery__SelectStmt *st, dcr_plan **out)
{
    dcr_plan *side[2] = {NULL, NULL}, *u = NULL;
    int loc = dcr_select_location(st->rarg);
    dcr_status s = bind_subselect(b, st->larg, b->nwith, &side[0]);
    s = s ? s : bind_subselect(b, st->rarg, b->nwith, &side[1]);
    if (s == DCR_OK && side[0]->ncols != side[1]->ncols)
        s = dcr_sql_fail(b->err, b->sql, loc,
                         "each UNION query must have the same number of columns");
    size_t n = s == DCR_OK ? side[0]->ncols : 0;
    dcr_type *types = calloc(n ? n : 1, sizeof *types);
    if (s == DCR_OK && !types)
        s = dcr_bind_oom(b);
    for (size_t i = 0; s == DCR_OK && i < n; i++)
        if (!dcr_union_type(side[0]->types[i], side[1]->types[i], &types[i]))
            s = dcr_sql_fail(b->err, b->sql, loc, "UNION types %s and %s cannot be matched",
                             dcr_type_name(side[0]->types[i]), dcr_type_name(side[1]->types[i]));
    s = s ? s : cast_outputs(b, &side[0], types);
    s = s ? s : cast_outputs(b, &side[1], types);
    if (s == DCR_OK && !(u = dcr_plan_new(DCR_PLAN_UNION_ALL)))
        s = dcr_bind_oom(b);
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
                  ? dcr_select_location(q->select_stmt)
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
        return dcr_bind_oom(b);
    }
    p->dataset = d;
    p->from_item = b->nrels++; /* columns are chosen by dcr_bind_layout() */
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
        return dcr_bind_oom(b);
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
            s = dcr_bind_and_into(b, residual, p);
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
        s = dcr_bind_oom(b);
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

dcr_status dcr_bind_from(dcr_binder *b, const PgQuery__SelectStmt *s, dcr_expr **where,
                         dcr_plan **out)
{
    if (s->n_from_clause == 0) {
        *out = dcr_plan_new(DCR_PLAN_VALUES);
        return *out ? DCR_OK : dcr_bind_oom(b);
    }
    if (s->n_from_clause > 1)
        return dcr_sql_unsupported(b->err, b->sql, dcr_sql_node_location(s->from_clause[1]),
                                   "a comma-separated FROM list (use JOIN ... ON)");
    return bind_from_item(b, s->from_clause[0], out, where);
}

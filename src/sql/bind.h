/*
 * bind.h: the binder's shared state, internal to src/sql/. bind.c binds a
 * SELECT statement (WHERE, GROUP BY, ..., into operators) over the FROM
 * clause that bind_from.c binds (tables, joins, subqueries, WITH, UNION
 * ALL); bind_expr.c binds expressions (names, types, implicit coercions)
 * against the FROM scope, bind_func.c function calls and LIKE, bind_time.c
 * date/time arithmetic; typing.c holds PostgreSQL's typing rules.
 *
 * While binding, a column reference is (rel, col): FROM item rel, dataset
 * column col. Once every clause is bound, bind_layout.c knows which columns each
 * scan must read and rewrites these into positions of the operator inputs.
 */
#ifndef DCR_SQL_BIND_H
#define DCR_SQL_BIND_H

#include <stdbool.h>
#include <stddef.h>

#include "sql/parse.h"
#include "sql/plan.h"
#include "sql/sql.h"

#define DCR_SQL_MAX_RELS 16

typedef struct {
    char alias[DCR_NAME_MAX + 1];
    size_t dataset; /* SIZE_MAX for a subquery or WITH query */
    const dcr_schema *schema;
    dcr_schema sub_schema; /* a subquery's output columns (owned), schema points here */
    int location;
} dcr_bind_rel;

typedef struct {
    const char *sql;
    const dcr_catalog *cat;
    dcr_error *err;
    size_t nrels; /* FROM items in scope */
    dcr_bind_rel rels[DCR_SQL_MAX_RELS];
    /* Aggregates: allowed only in the select list, HAVING and ORDER BY of
     * one query; `clause` names where binding is, for refusals. */
    bool aggs_allowed;
    bool in_agg; /* inside an aggregate's argument: no nesting */
    const char *clause;
    size_t naggs;
    dcr_expr **aggs; /* distinct aggregates seen, owned */
    /* WITH queries in scope (the first nwith of with->ctes); depth > 0
     * inside a subquery, where WITH is refused. */
    const PgQuery__WithClause *with;
    size_t nwith;
    int depth;
} dcr_binder;

/* Shared by the binder's files. */
static inline dcr_status dcr_bind_oom(dcr_binder *b)
{
    return dcr_fail(b->err, DCR_EINTERNAL, "out of memory");
}
/* The text of a String node, or NULL for any other node. */
static inline const char *dcr_bind_str(const PgQuery__Node *n)
{
    return n && n->node_case == PG_QUERY__NODE__NODE_STRING ? n->string->sval : NULL;
}
/* Builds kind(args[0..nargs)) of type t, taking ownership of the args (also
 * on failure; args[i] are set to NULL). */
dcr_status dcr_bind_node(dcr_binder *b, dcr_expr_kind kind, dcr_type type, int location,
                         dcr_expr **args, size_t nargs, dcr_expr **out);

/* bind.c: one SELECT (also a subquery or WITH query, with its own binder);
 * where a SELECT starts in the SQL (its first select-list item, for
 * refusals of nodes without a position); AND-s `more` into *acc (either may
 * be NULL; takes ownership of more); frees what a binder holds. */
dcr_status dcr_bind_select(dcr_binder *b, const PgQuery__SelectStmt *s, dcr_plan **out);
int dcr_select_location(const PgQuery__SelectStmt *s);
dcr_status dcr_bind_and_into(dcr_binder *b, dcr_expr **acc, dcr_expr *more);
void dcr_binder_cleanup(dcr_binder *b);

/* bind_from.c: the FROM clause (INNER join conditions other than the keys
 * are AND-ed into *where), or a UNION ALL statement's sides as its only
 * FROM item. */
dcr_status dcr_bind_from(dcr_binder *b, const PgQuery__SelectStmt *s, dcr_expr **where,
                         dcr_plan **out);
dcr_status dcr_bind_union_from(dcr_binder *b, const PgQuery__SelectStmt *st, dcr_plan **out);
/* bind_layout.c: turns the (FROM item, column) references of the plan
 * under and including `consumer` into input positions, choosing the
 * columns each Scan reads. */
dcr_status dcr_bind_layout(dcr_binder *b, dcr_plan *consumer);

/* Binds an expression against the FROM scope. String literals and NULL may
 * come back untyped (e->untyped); callers coerce them. */
dcr_status dcr_bind_expr(dcr_binder *b, const PgQuery__Node *n, dcr_expr **out);
/* Binds an expression that must be BOOLEAN (WHERE, HAVING, ON). */
dcr_status dcr_bind_bool(dcr_binder *b, const PgQuery__Node *n, const char *what, dcr_expr **out);
/* Gives untyped literals their final type (TEXT) and checks nothing is left open. */
dcr_status dcr_bind_finish_type(dcr_binder *b, dcr_expr *e);

/* Typing (typing.c). Each takes ownership of *e and may replace it. */
/* Converts *e to type t: an untyped literal is parsed as t (refused with
 * its text if invalid), BIGINT widens to DOUBLE and DATE to TIMESTAMP
 * implicitly; anything else is refused with `what` naming the context. */
dcr_status dcr_coerce(dcr_binder *b, dcr_expr **e, dcr_type t, const char *what);
/* The type several expressions are compared or merged as (PostgreSQL's
 * rules for our types); refuses with `what` when there is none. */
dcr_status dcr_common_type(dcr_binder *b, dcr_expr **es, size_t n, const char *what, int location,
                           dcr_type *out);
/* The type a UNION ALL column of types a and b has (the wider one); false
 * when they do not match. */
bool dcr_union_type(dcr_type a, dcr_type b, dcr_type *t);
static inline bool dcr_type_is_numeric(dcr_type t)
{
    return t == DCR_TYPE_BIGINT || t == DCR_TYPE_DOUBLE;
}
/* Whether CAST(from AS to) exists. */
bool dcr_cast_allowed(dcr_type from, dcr_type to);

/* bind_func.c: x [NOT] LIKE/ILIKE p; and scalar function calls (*handled
 * is false, nothing done, when name is not a scalar function dcr knows). */
dcr_status dcr_bind_like(dcr_binder *b, const PgQuery__AExpr *a, bool ilike, dcr_expr **out);
dcr_status dcr_bind_scalar_func(dcr_binder *b, const PgQuery__FuncCall *f, const char *name,
                                bool *handled, dcr_expr **out);

/* bind_time.c: date/timestamp/interval arithmetic. *handled is false (and
 * nothing done) unless an operand is DATE, TIMESTAMP or INTERVAL; then the
 * operands are coerced (each may be replaced; on failure the caller frees
 * *l and *r) and *t is the result type. */
dcr_status dcr_bind_time_arith(dcr_binder *b, dcr_expr_op op, dcr_expr **l, dcr_expr **r,
                               int location, bool *handled, dcr_type *t);
/* An INTERVAL type name's field qualifier (INTERVAL '90' MINUTE); ranges
 * and precisions are refused. */
dcr_status dcr_bind_interval_field(dcr_binder *b, const PgQuery__TypeName *t,
                                   dcr_interval_field *field);

/* A name for a column a PostgreSQL client would see ("?column?" if none). */
const char *dcr_bind_colname(const PgQuery__Node *n);

#endif

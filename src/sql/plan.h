/*
 * plan.h: the logical plan, the contract between the SQL front end (parse +
 * bind, src/sql/) and everything after it (the privacy layer, src/exec/).
 *
 * A plan is a tree of relational operators, each with a typed output row:
 *
 *   SCAN(dataset, columns)   reads some columns of one dataset
 *   VALUES                   one row, no columns (SELECT without FROM)
 *   FILTER(pred)             rows where pred is TRUE (not FALSE, not NULL)
 *   JOIN(left, right, keys)  inner or left outer equi-join; output = left ++ right;
 *                            pred (may be NULL) = the rest of ON, over that output
 *   AGGREGATE(groups, aggs)  one row per distinct group key; output = groups ++ aggs
 *   PROJECT(exprs)           one output column per expression
 *   SORT(keys)               reorders rows; keys are input column positions
 *   LIMIT(count, offset)
 *   UNION_ALL(a, b)          the rows of a, then those of b (same output types)
 *   BOUND(unit, keys, N, M)  contribution bounding for differential privacy
 *                            (inserted by privacy/dp.c, never by the binder):
 *                            output = input, but at most N rows per (unit,
 *                            keys) and at most M distinct keys per unit,
 *                            chosen uniformly at random, never by row order
 *
 * Expressions are typed trees. A COLUMN expression refers to a position in
 * its operator's input row (for JOIN keys: the side's own input). Every
 * expression carries the byte offset of its SQL text (`location`, -1 when
 * none) so later stages can point at the SQL when they refuse or fail.
 *
 * Nothing here knows about SQL text or about execution; plans are plain data
 * that a later pass (the privacy layer) may inspect and rewrite. Every node
 * owns its children, expressions and strings; dcr_plan_free frees a tree.
 */
#ifndef DCR_SQL_PLAN_H
#define DCR_SQL_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buffer.h"
#include "base/error.h"
#include "base/interval.h"
#include "base/types.h"

/* A single typed value (a constant). */
typedef struct {
    bool null;
    int64_t i64;     /* BIGINT, TIMESTAMP */
    double f64;      /* DOUBLE */
    int32_t i32;     /* DATE */
    bool b;          /* BOOLEAN */
    dcr_interval iv; /* INTERVAL */
    char *text;      /* TEXT, owned, NUL-terminated (len excludes it) */
    size_t len;
} dcr_datum;

typedef enum {
    DCR_EXPR_COLUMN,   /* input column `col` */
    DCR_EXPR_CONST,    /* `value` */
    DCR_EXPR_NEG,      /* -args[0] */
    DCR_EXPR_ARITH,    /* args[0] op args[1], op = DCR_OP_ADD..DCR_OP_MOD */
    DCR_EXPR_CMP,      /* args[0] op args[1], op = DCR_OP_EQ..DCR_OP_GE; same-type args */
    DCR_EXPR_AND,      /* n-ary, three-valued */
    DCR_EXPR_OR,       /* n-ary, three-valued */
    DCR_EXPR_NOT,      /* args[0] */
    DCR_EXPR_IS_NULL,  /* args[0] IS NULL (negated: IS NOT NULL) */
    DCR_EXPR_IN,       /* args[0] IN (args[1..]) (negated: NOT IN); same-type args */
    DCR_EXPR_CASE,     /* WHEN args[0] THEN args[1] ... [ELSE args[n-1] when has_else] */
    DCR_EXPR_COALESCE, /* first non-NULL of args */
    DCR_EXPR_CAST,     /* args[0] converted to `type` */
    DCR_EXPR_AGG,      /* aggregate `agg` of args[0] (none for COUNT(*)); only in AGGREGATE */
    DCR_EXPR_FUNC,     /* scalar function `fn` of args (NULL in, NULL out); negated: NOT LIKE */
} dcr_expr_kind;

/* Scalar functions (DCR_EXPR_FUNC); argument types are fixed by the binder. */
typedef enum {
    DCR_FN_LIKE,       /* TEXT LIKE TEXT pattern [, TEXT escape]; default escape backslash */
    DCR_FN_ILIKE,      /* LIKE with ASCII case folding */
    DCR_FN_LOWER,      /* TEXT; ASCII letters only */
    DCR_FN_UPPER,      /* TEXT; ASCII letters only */
    DCR_FN_LENGTH,     /* TEXT -> BIGINT, in characters */
    DCR_FN_SUBSTR,     /* TEXT, BIGINT start [, BIGINT count] */
    DCR_FN_BTRIM,      /* TEXT [, TEXT characters] */
    DCR_FN_LTRIM,      /* TEXT [, TEXT characters] */
    DCR_FN_RTRIM,      /* TEXT [, TEXT characters] */
    DCR_FN_ABS,        /* BIGINT or DOUBLE */
    DCR_FN_ROUND,      /* DOUBLE [, BIGINT digits] */
    DCR_FN_FLOOR,      /* DOUBLE */
    DCR_FN_CEIL,       /* DOUBLE */
    DCR_FN_DATE_TRUNC, /* TEXT unit (constant), TIMESTAMP */
    DCR_FN_DATE_PART,  /* TEXT field (constant), TIMESTAMP or DATE -> DOUBLE */
} dcr_func;

typedef enum {
    DCR_OP_ADD,
    DCR_OP_SUB,
    DCR_OP_MUL,
    DCR_OP_DIV,
    DCR_OP_MOD,
    DCR_OP_EQ,
    DCR_OP_NE,
    DCR_OP_LT,
    DCR_OP_LE,
    DCR_OP_GT,
    DCR_OP_GE,
} dcr_expr_op;

typedef enum {
    DCR_AGG_COUNT_STAR,
    DCR_AGG_COUNT,
    DCR_AGG_SUM,
    DCR_AGG_AVG,
    DCR_AGG_MIN,
    DCR_AGG_MAX,
    /* The set of distinct privacy units of each group, as a TEXT value of
     * sorted 64-bit unit hashes (exec/agg_sketch.c). Only the privacy layer
     * adds it, to a hidden column, for the differencing defence; no SQL
     * binds to it. */
    DCR_AGG_UNIT_SKETCH,
    /* The union of the UNIT_SKETCH values of its argument (a hidden column
     * of released groups): the units an outer aggregate's group rests on. */
    DCR_AGG_UNIT_SKETCH_MERGE,
} dcr_agg_func;

typedef struct dcr_expr {
    dcr_expr_kind kind;
    dcr_type type; /* result type */
    int location;  /* byte offset in the SQL text, or -1 */
    dcr_expr_op op;
    dcr_agg_func agg;
    dcr_func fn;   /* FUNC */
    bool negated;  /* IS NOT NULL, NOT IN, NOT LIKE */
    bool distinct; /* aggregate over distinct values */
    bool has_else; /* CASE */
    bool untyped;  /* binder-internal: a string literal or NULL whose type is still open */
    size_t col;    /* COLUMN */
    size_t rel;    /* COLUMN, binder-internal: FROM item, before layout */
    char *label;   /* COLUMN: name for EXPLAIN, owned */
    dcr_datum value;
    size_t nargs;
    struct dcr_expr **args; /* owned */
} dcr_expr;

typedef enum {
    DCR_PLAN_SCAN,
    DCR_PLAN_VALUES,
    DCR_PLAN_FILTER,
    DCR_PLAN_JOIN,
    DCR_PLAN_AGGREGATE,
    DCR_PLAN_PROJECT,
    DCR_PLAN_SORT,
    DCR_PLAN_LIMIT,
    DCR_PLAN_UNION_ALL,
    DCR_PLAN_BOUND,
} dcr_plan_kind;

typedef struct {
    size_t col; /* input column */
    bool desc;
    bool nulls_first;
} dcr_sort_key;

typedef struct dcr_plan {
    dcr_plan_kind kind;
    struct dcr_plan *child[2]; /* owned; child[1] only for JOIN and UNION_ALL */
    /* Output row. */
    size_t ncols;
    dcr_type *types;
    char **names;
    /* SCAN: dataset index in the catalog; cols[i] = dataset column of output i. */
    size_t dataset;
    size_t from_item;   /* position among the FROM items (binder-internal) */
    bool from_subquery; /* PROJECT: reads a subquery FROM item (binder-internal) */
    char *dataset_name, *alias;
    size_t *scan_cols;
    /* FILTER */
    dcr_expr *pred;
    /* PROJECT: ncols expressions. AGGREGATE: ngroups group keys then naggs
     * DCR_EXPR_AGG expressions (exprs has ngroups + naggs entries). */
    dcr_expr **exprs;
    size_t ngroups, naggs;
    /* JOIN: nkeys pairs, left_keys over child[0]'s row, right_keys over child[1]'s.
     * left_outer: LEFT JOIN (left rows without a pair where the keys are
     * equal and pred is TRUE come out once, NULLs on the right). pred is
     * evaluated over the joined row, like a FILTER's. */
    bool left_outer;
    size_t nkeys;
    dcr_expr **left_keys, **right_keys;
    /* SORT */
    size_t nsort;
    dcr_sort_key *sort;
    /* LIMIT: -1 = none */
    int64_t limit, offset;
    /* BOUND: input columns of the privacy unit and of the group key; keeps
     * <= bound_rows rows per (unit, key) and <= bound_groups keys per unit. */
    size_t bound_unit;
    size_t nbound_keys;
    size_t *bound_keys; /* owned */
    int64_t bound_rows, bound_groups;
} dcr_plan;

/* Constructors return NULL when out of memory. */
dcr_expr *dcr_expr_new(dcr_expr_kind kind, dcr_type type, int location);
/* Appends arg (taking ownership, also on failure). */
dcr_status dcr_expr_add_arg(dcr_expr *e, dcr_expr *arg, dcr_error *err);
void dcr_expr_free(dcr_expr *e);
dcr_expr *dcr_expr_copy(const dcr_expr *e);
/* Structural equality (ignores locations and labels). */
bool dcr_expr_equal(const dcr_expr *a, const dcr_expr *b);

dcr_plan *dcr_plan_new(dcr_plan_kind kind);
void dcr_plan_free(dcr_plan *p);
/* Allocates p's output row description for n columns (names empty). */
dcr_status dcr_plan_set_ncols(dcr_plan *p, size_t n, dcr_error *err);
dcr_status dcr_plan_set_name(dcr_plan *p, size_t i, const char *name, dcr_error *err);

void dcr_datum_free(dcr_datum *d);
/* Parses text as a value of type t (the CSV input rules of csv/value.h);
 * returns NULL on success or why the text was refused. */
const char *dcr_parse_literal(dcr_type t, const char *text, size_t len, dcr_datum *out);
dcr_status dcr_datum_copy(dcr_datum *dst, const dcr_datum *src, dcr_error *err);

/* The operator and aggregate names ("+", "<=", "count", ...). */
const char *dcr_expr_op_name(dcr_expr_op op);
const char *dcr_plan_agg_name(dcr_agg_func f);
const char *dcr_func_name(dcr_func f);
/* date_trunc units (0 minute, 1 hour, 2 day, 3 week, 4 month, 5 year) and
 * date_part fields (0 year, 1 month, 2 day, 3 hour, 4 minute, 5 second,
 * 6 dow, 7 doy, 8 epoch), case-insensitive; false when unknown. */
bool dcr_date_trunc_unit(const char *s, int *unit);
bool dcr_date_part_field(const char *s, int *field);

/* Appends an expression in SQL-like form (for EXPLAIN and messages). */
dcr_status dcr_expr_explain(const dcr_expr *e, dcr_buf *out, dcr_error *err);
/* Appends the plan tree, one operator per line, children indented. */
dcr_status dcr_plan_explain(const dcr_plan *p, dcr_buf *out, dcr_error *err);

#endif

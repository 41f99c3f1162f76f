/*
 * shape.h: the structure of a SQL statement with $n placeholders, and
 * matching other statements against it (used by contract query templates,
 * privacy/template.c).
 *
 * libpg_query's fingerprint identifies a statement "up to its constants": it
 * ignores every literal and $n, but also table aliases, output column names
 * and the length of IN lists, so two statements with the same fingerprint
 * can mean different things (`FROM t1 a JOIN t2 b` against `FROM t1 b JOIN
 * t2 a`, `LIMIT 5` against `LIMIT 500`). A fingerprint is therefore only
 * the index: a statement matches a shape when its fingerprint is equal AND
 * its parse tree is identical to the shape's, node by node and field by
 * field (locations aside), except that each $n of the shape must be a plain
 * literal in the statement (the same literal wherever one $n appears twice).
 * What may differ is only what the parse tree does not record: whitespace,
 * comments, keyword case, redundant parentheses, the spelling of literals.
 */
#ifndef DCR_SQL_SHAPE_H
#define DCR_SQL_SHAPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

typedef struct dcr_sql_shape dcr_sql_shape;

/* A literal that took the place of a $n. */
typedef enum {
    DCR_SQL_LIT_NULL,
    DCR_SQL_LIT_INTEGER, /* text: decimal digits, maybe with '-' */
    DCR_SQL_LIT_NUMERIC, /* text: as written (1.5, 1e9, or an integer too large for 32 bits) */
    DCR_SQL_LIT_BOOLEAN, /* text: "true" / "false" */
    DCR_SQL_LIT_STRING,  /* text: the string's value */
    DCR_SQL_LIT_BITS,    /* B'...' / X'...' */
} dcr_sql_lit_kind;

typedef struct {
    dcr_sql_lit_kind kind;
    char *text;   /* owned, NUL-terminated */
    int location; /* byte offset in the matched SQL */
    char pos[32]; /* "SQL:LINE:COL" of it */
} dcr_sql_literal;

/* Where a $n stands in the shape's own text (for substituting values). */
typedef struct {
    size_t param;  /* 1-based n */
    int location;  /* byte offset of the '$' */
    size_t length; /* bytes of "$n" */
} dcr_sql_slot;

/* Parses sql (one SELECT, possibly EXPLAIN-free) whose placeholders must be
 * exactly $1..$nparams, each used at least once. DCR_EINPUT says what is
 * wrong and where. *out is the caller's (dcr_sql_shape_free). */
dcr_status dcr_sql_shape_new(const char *sql, size_t nparams, dcr_sql_shape **out, dcr_error *err);
void dcr_sql_shape_free(dcr_sql_shape *s);

uint64_t dcr_sql_shape_fingerprint(const dcr_sql_shape *s);
/* The $n occurrences in the shape's text, in text order. */
const dcr_sql_slot *dcr_sql_shape_slots(const dcr_sql_shape *s, size_t *n);

/* libpg_query's fingerprint of sql; DCR_EINPUT with the position on a syntax
 * error. */
dcr_status dcr_sql_fingerprint(const char *sql, uint64_t *out, dcr_error *err);

/* Compares sql with the shape. *matched false: *why (why_size bytes) says
 * the first difference, with its SQL position when it has one. *matched
 * true: lits[0..nparams) hold the literal of each $n (the caller frees them
 * with dcr_sql_literals_free). DCR_EINPUT only when sql does not parse. */
dcr_status dcr_sql_shape_match(const dcr_sql_shape *s, const char *sql, bool *matched, char *why,
                               size_t why_size, dcr_sql_literal *lits, dcr_error *err);
void dcr_sql_literals_free(dcr_sql_literal *lits, size_t n);

#endif

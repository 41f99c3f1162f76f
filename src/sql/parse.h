/*
 * parse.h: libpg_query's parse tree, and the helpers the binder uses to talk
 * about its nodes (positions, names, refusals). Internal to src/sql/.
 */
#ifndef DCR_SQL_PARSE_H
#define DCR_SQL_PARSE_H

#include <pg_query/pg_query.pb-c.h>

#include "base/error.h"

typedef struct {
    PgQuery__ParseResult *tree; /* owned; unpacked protobuf */
} dcr_sql_tree;

/* Parses sql with the PostgreSQL 15 grammar. A syntax error is DCR_EINPUT
 * with the position libpg_query reports. */
dcr_status dcr_sql_parse(const char *sql, dcr_sql_tree *out, dcr_error *err);
void dcr_sql_tree_free(dcr_sql_tree *t);

/* The byte offset recorded in a node (its `location` field), or -1. */
int dcr_sql_node_location(const PgQuery__Node *n);
/* A readable name for a node's kind ("subquery", "window definition", ...). */
const char *dcr_sql_node_name(const PgQuery__Node *n);

/* Records "SQL:LINE:COL: <formatted message>" as DCR_EINPUT. */
dcr_status dcr_sql_fail(dcr_error *err, const char *sql, int location, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Records "SQL:LINE:COL: <what> is not supported". */
dcr_status dcr_sql_unsupported(dcr_error *err, const char *sql, int location, const char *what);

#endif

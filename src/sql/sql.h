/*
 * sql.h: the SQL front end's public face. Turns one PostgreSQL-dialect
 * SELECT statement into a bound logical plan (sql/plan.h) against a catalog
 * of dataset schemas, or refuses it with a message that points into the SQL:
 *
 *     SQL:LINE:COL: <construct> is not supported
 *     SQL:LINE:COL: column "x" does not exist
 *
 * LINE and COL are 1-based; COL counts characters (UTF-8 code points). When
 * a construct has no position in the parse tree the prefix is "SQL: ".
 * Every refusal is DCR_EINPUT. docs/sql.md lists what is supported.
 */
#ifndef DCR_SQL_SQL_H
#define DCR_SQL_SQL_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "sql/plan.h"
#include "store/schema.h"

/* The datasets a query may name: `name` is what the SQL calls it. */
typedef struct {
    const char *name;
    const dcr_schema *schema;
} dcr_catalog_entry;

typedef struct {
    size_t n;
    const dcr_catalog_entry *entries;
} dcr_catalog;

/* Longest SQL text accepted, in bytes. */
#define DCR_SQL_MAX_LEN (1u << 20)

/* Parses and binds sql. On success *plan is the caller's (dcr_plan_free);
 * *explain is set when the statement was EXPLAIN SELECT ... (explain may be
 * NULL, then EXPLAIN is refused). */
dcr_status dcr_sql_compile(const char *sql, const dcr_catalog *cat, dcr_plan **plan, bool *explain,
                           dcr_error *err);

/* Writes "SQL:LINE:COL" (or "SQL") for a byte offset into sql. */
void dcr_sql_position(const char *sql, int location, char *out, size_t out_size);

/* Prefixes an already recorded message with the position of `location` in
 * sql (for errors found later, e.g. division by zero during execution);
 * returns err->code. */
dcr_status dcr_sql_locate(dcr_error *err, const char *sql, int location);

#endif

/*
 * test_sql.c: the SQL front end: parsing, binding, typing, refusals with
 * their positions, and EXPLAIN text.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sql/sql.h"

static dcr_column_def t_defs[] = {
    {"id", DCR_TYPE_BIGINT, 0, false}, {"name", DCR_TYPE_TEXT, 0, false},
    {"x", DCR_TYPE_DOUBLE, 0, false},  {"ok", DCR_TYPE_BOOLEAN, 0, false},
    {"d", DCR_TYPE_DATE, 0, false},    {"ts", DCR_TYPE_TIMESTAMP, 0, false},
};
static dcr_column_def u_defs[] = {{"id", DCR_TYPE_BIGINT, 0, false},
                                  {"v", DCR_TYPE_BIGINT, 0, false}};

static dcr_schema t_schema = {"t", 6, t_defs};
static dcr_schema u_schema = {"u", 2, u_defs};
static dcr_catalog_entry entries[] = {{"t", &t_schema}, {"u", &u_schema}};
static const dcr_catalog cat = {2, entries};

/* EXPLAIN text of sql, or "ERR <message>"; the caller frees. */
static char *explain(const char *sql)
{
    dcr_plan *p;
    dcr_error err = {0};
    bool ex;
    if (dcr_sql_compile(sql, &cat, &p, &ex, &err) != DCR_OK) {
        char *m = malloc(strlen(err.msg) + 5);
        sprintf(m, "ERR %s", err.msg);
        return m;
    }
    dcr_buf b = DCR_BUF_INIT;
    dcr_plan_explain(p, &b, &err);
    dcr_buf_append(&b, "", 1, &err);
    dcr_plan_free(p);
    return (char *)b.data;
}

#define EXPECT(sql, text)                                                                          \
    do {                                                                                           \
        char *got_ = explain(sql);                                                                 \
        if (!strstr(got_, text)) {                                                                 \
            fprintf(stderr, "  %s:%d: %s\n    got: %s\n    want: %s\n", __FILE__, __LINE__, sql,   \
                    got_, text);                                                                   \
            check_current_failed = 1;                                                              \
        }                                                                                          \
        free(got_);                                                                                \
    } while (0)

static void test_explain_shapes(void)
{
    EXPECT("SELECT name, count(*) FROM t WHERE x > 0 GROUP BY name HAVING count(*) > 1 "
           "ORDER BY 2 DESC LIMIT 5",
           "Limit 5 offset 0\n"
           "  Sort by count DESC NULLS FIRST\n"
           "    Project name, count(*) AS count\n"
           "      Filter (count(*) > 1)\n"
           "        Aggregate by [name] compute [count(*)]\n"
           "          Filter (x > 0::double precision)\n"
           "            Scan t [name, x]\n");
    EXPECT("SELECT 1 + 2 AS three", "Project (1 + 2) AS three\n  Values (one row)\n");
    EXPECT("SELECT DISTINCT name FROM t", "Aggregate by [name] compute []\n  Project name\n");
    /* only needed columns are scanned, in schema order */
    EXPECT("SELECT ts, id FROM t", "Scan t [id, ts]");
    EXPECT("SELECT count(*) FROM t", "Scan t []");
    EXPECT("SELECT t.name, sum(u.v) FROM t JOIN u ON u.id = t.id GROUP BY 1",
           "Hash Join (inner) on t.id = u.id\n      Scan t [id, name]\n      Scan u [id, v]");
    /* a subquery or WITH query: its plan under a Project of the used columns */
    EXPECT("WITH w AS (SELECT id, name FROM t) SELECT count(*) FROM w",
           "Aggregate by [] compute [count(*)]\n    Project \n      Project id, name\n"
           "        Scan t [id, name]\n");
    EXPECT("SELECT s.v FROM u JOIN (SELECT id, x AS v FROM t) s ON s.id = u.id",
           "Hash Join (inner) on u.id = s.id\n    Scan u [id]\n    Project id, v\n");
    EXPECT("SELECT id FROM t UNION ALL SELECT x FROM t",
           "Union All\n      Project CAST(id AS DOUBLE PRECISION) AS id\n        Project id\n");
    /* a LEFT JOIN keeps its extra ON conditions; WHERE stays a Filter */
    EXPECT("SELECT t.id FROM t LEFT JOIN u ON u.id = t.id AND u.v > 1 WHERE t.x > 0",
           "  Filter (t.x > 0::double precision)\n"
           "    Hash Join (left) on t.id = u.id AND (u.v > 1)\n");
}

static void test_hidden_order_column(void)
{
    /* ORDER BY an expression not in the select list: added, sorted, dropped */
    EXPECT("SELECT name FROM t ORDER BY id", "Sort by ?order? ASC NULLS LAST");
    EXPECT("SELECT name FROM t ORDER BY id", "Project name, id AS ?order?");
}

static void test_typing(void)
{
    /* literals take the type of the other side; BIGINT widens to DOUBLE */
    EXPECT("SELECT d FROM t WHERE d >= '2024-01-01'", "(d >= '2024-01-01'::date)");
    EXPECT("SELECT id + x FROM t", "(CAST(id AS DOUBLE PRECISION) + x)");
    EXPECT("SELECT id / 2 FROM t", "(id / 2)");
    EXPECT("SELECT CAST(id AS TEXT), x::bigint FROM t",
           "CAST(id AS TEXT) AS id, CAST(x AS BIGINT) AS x");
    EXPECT("SELECT d = ts FROM t", "(CAST(d AS TIMESTAMP) = ts)");
    EXPECT("SELECT id BETWEEN 1 AND 3 FROM t", "((id >= 1) AND (id <= 3))");
    EXPECT("SELECT NULLIF(id, 3) FROM t", "CASE WHEN (id = 3) THEN NULL ELSE id END");
    EXPECT("SELECT ok IS TRUE FROM t", "COALESCE(ok, false)");
    EXPECT("SELECT 'a' || 'b'", "ERR SQL:1:12: operator || is not supported");
    EXPECT("SELECT name NOT ILIKE 'a%' FROM t", "(name NOT ILIKE 'a%')");
    EXPECT("SELECT id FROM t WHERE name LIKE 'a!%' ESCAPE '!'", "(name LIKE 'a!%' ESCAPE '!')");
    EXPECT("SELECT name NOT LIKE 'a' ESCAPE '' FROM t", "(name NOT LIKE 'a' ESCAPE '')");
    EXPECT("SELECT round(id), abs(id), length(name) FROM t",
           "round(CAST(id AS DOUBLE PRECISION)) AS round, abs(id) AS abs, length(name) AS length");
    EXPECT("SELECT SUBSTRING(name FROM 2 FOR 3), TRIM(LEADING 'x' FROM name) FROM t",
           "substr(name, 2, 3) AS substring, ltrim(name, 'x') AS ltrim");
    EXPECT("SELECT EXTRACT(year FROM d), date_trunc('month', ts) FROM t",
           "date_part('year', CAST(d AS TIMESTAMP)) AS extract, date_trunc('month', ts) AS "
           "date_trunc");
    EXPECT("SELECT name + 1 FROM t", "ERR SQL:1:13: operator does not exist: TEXT + BIGINT");
    EXPECT("SELECT id = 'x' FROM t", "ERR SQL:1:13: invalid input syntax for type BIGINT: \"x\"");
    EXPECT("SELECT id FROM t WHERE id", "argument of WHERE must be type boolean, not type BIGINT");
    EXPECT("SELECT x % 2 FROM t", "double precision % double precision");
    EXPECT("SELECT CAST(d AS BIGINT) FROM t", "cannot cast type DATE to BIGINT");
    EXPECT("SELECT sum(name) FROM t", "function sum(TEXT) does not exist");
    EXPECT("SELECT 99999999999999999999", "out of range for BIGINT");
}

static void test_refusals_with_positions(void)
{
    EXPECT("SELECT id FROM t WHERE name SIMILAR TO 'a%'",
           "ERR SQL:1:29: SIMILAR TO is not supported");
    EXPECT("SELECT name LIKE 'a' ESCAPE 'ab' FROM t",
           "ERR SQL:1:29: invalid escape string (must be empty or one character)");
    EXPECT("SELECT name LIKE 'a' ESCAPE 1 FROM t",
           "ERR SQL:1:29: LIKE ... ESCAPE needs text, not BIGINT");
    EXPECT("SELECT name ILIKE 'a' ESCAPE id FROM t",
           "ERR SQL:1:30: ILIKE ... ESCAPE needs text, not BIGINT");
    EXPECT("SELECT id FROM t WHERE id LIKE 'a%'", "operator does not exist: BIGINT LIKE text");
    EXPECT("SELECT date_trunc('decade', ts) FROM t",
           "ERR SQL:1:19: date_trunc unit \"decade\" is not supported");
    EXPECT("SELECT date_part(name, ts) FROM t",
           "ERR SQL:1:8: a unit or field that is not a string constant is not supported");
    EXPECT("SELECT abs(name) FROM t", "ERR SQL:1:8: function abs(TEXT) does not exist");
    EXPECT("SELECT lower(id) FROM t", "function lower(BIGINT) does not exist");
    EXPECT("SELECT substr(name, 1, 2, 3) FROM t", "does not take 4 arguments");
    EXPECT("SELECT id\nFROM t\nWHERE id IN (SELECT 1)",
           "ERR SQL:3:10: subquery expression is not supported");
    EXPECT("SELECT initcap(name) FROM t", "ERR SQL:1:8: function initcap() is not supported");
    EXPECT("SELECT * FROM t RIGHT JOIN u ON t.id = u.id",
           "ERR SQL:1:28: this join type (only INNER and LEFT JOIN) is not supported");
    EXPECT("SELECT * FROM t LEFT JOIN u ON t.id < u.id", "join without an equality");
    EXPECT("SELECT 1 UNION SELECT 2",
           "ERR SQL:1:23: UNION without ALL / INTERSECT / EXCEPT is not supported");
    EXPECT("SELECT 1 INTERSECT SELECT 2",
           "UNION without ALL / INTERSECT / EXCEPT is not supported");
    EXPECT("SELECT 1 UNION ALL SELECT 2, 3",
           "ERR SQL:1:27: each UNION query must have the same number of columns");
    EXPECT("SELECT name FROM t UNION ALL SELECT id FROM t",
           "ERR SQL:1:37: UNION types TEXT and BIGINT cannot be matched");
    EXPECT("WITH RECURSIVE a AS (SELECT 1) SELECT * FROM a",
           "ERR SQL:1:1: WITH RECURSIVE is not supported");
    EXPECT("SELECT * FROM (WITH a AS (SELECT 1) SELECT * FROM a) s",
           "ERR SQL:1:16: WITH inside a subquery is not supported");
    EXPECT("SELECT * FROM (SELECT 1)", "ERR SQL:1:15: subquery in FROM must have an alias");
    EXPECT("SELECT * FROM t, LATERAL (SELECT 1) s", "comma-separated FROM list");
    EXPECT("SELECT * FROM (SELECT id, id FROM t) s",
           "ERR SQL:1:23: a subquery with two output columns of the same name is not supported");
    EXPECT("SELECT * FROM t JOIN (SELECT t.id FROM u) s ON s.id = t.id",
           "ERR SQL:1:30: missing FROM-clause entry for table \"t\"");
    EXPECT("SELECT * FROM (SELECT 1 AS a) s(b)", "column aliases in FROM is not supported");
    EXPECT("INSERT INTO t VALUES (1)", "INSERT is not supported (only SELECT)");
    EXPECT("SELECT count(*) OVER () FROM t", "window function (OVER) is not supported");
    EXPECT("SELECT é FROM t", "ERR SQL:1:8: column \"é\" does not exist");
    EXPECT("SELECT 1 FROM t, u", "comma-separated FROM list");
    EXPECT("SELECT id FROM t JOIN u ON t.id < u.id", "join without an equality");
    EXPECT("SELECT (1", "ERR SQL:1:10: syntax error at end of input");
    EXPECT("SELECT 1; SELECT 2", "exactly one statement");
}

static void test_interval_typing(void)
{
    EXPECT("SELECT d + INTERVAL '1 month' FROM t",
           "(CAST(d AS TIMESTAMP) + '1 mon'::interval) AS ?column?");
    EXPECT("SELECT d + 1, 1 + d, d - 1, d - d FROM t", "(d + 1) AS ?column?, (1 + d)");
    EXPECT("SELECT ts - d, ts + '1 day', ts - '2024-01-01' FROM t",
           "(ts - CAST(d AS TIMESTAMP)) AS ?column?, (ts + '1 day'::interval) AS ?column?, "
           "(ts - '2024-01-01 00:00:00'::timestamp)");
    EXPECT("SELECT INTERVAL '1 day' * id, id * INTERVAL '1 day', INTERVAL '1 day' / 2 FROM t",
           "('1 day'::interval * CAST(id AS DOUBLE PRECISION)) AS ?column?, "
           "(CAST(id AS DOUBLE PRECISION) * '1 day'::interval) AS ?column?, "
           "('1 day'::interval / 2::double precision)");
    EXPECT("SELECT -(ts - d) FROM t", "(- (ts - CAST(d AS TIMESTAMP)))");
    EXPECT("SELECT interval '90' minute", "'01:30:00'::interval AS interval");
    EXPECT("SELECT extract(hour FROM ts - d), date_trunc('day', ts - d) FROM t",
           "date_part('hour', (ts - CAST(d AS TIMESTAMP))) AS extract, date_trunc('day', (ts - "
           "CAST(d AS TIMESTAMP))) AS date_trunc");
    EXPECT("SELECT d + '1' FROM t",
           "ERR SQL:1:10: operator is not unique: DATE + unknown (cast the literal to integer or "
           "interval)");
    EXPECT("SELECT d * 2 FROM t", "ERR SQL:1:10: operator does not exist: DATE * BIGINT");
    EXPECT("SELECT ts + ts FROM t", "ERR SQL:1:11: operator does not exist: TIMESTAMP + TIMESTAMP");
    EXPECT("SELECT ts + 1 FROM t", "operator does not exist: TIMESTAMP + BIGINT");
    EXPECT("SELECT d + 1.5 FROM t", "operator does not exist: DATE + DOUBLE PRECISION");
    EXPECT("SELECT '1 day' / INTERVAL '1 hour'", "operator does not exist: unknown / INTERVAL");
    EXPECT("SELECT INTERVAL '1 day' / INTERVAL '1 hour'",
           "operator does not exist: INTERVAL / INTERVAL");
    EXPECT("SELECT INTERVAL '1 day' % 2", "operator does not exist: INTERVAL % BIGINT");
    EXPECT("SELECT INTERVAL '1 day' + name FROM t", "operator does not exist: INTERVAL + TEXT");
    EXPECT("SELECT id = INTERVAL '1 day' FROM t",
           "operator =: types BIGINT and INTERVAL cannot be matched");
    EXPECT("SELECT -d FROM t", "ERR SQL:1:8: operator does not exist: - DATE");
    EXPECT("SELECT ts::interval FROM t", "cannot cast type TIMESTAMP to INTERVAL");
    EXPECT("SELECT CAST(x AS INTERVAL HOUR) FROM t",
           "an INTERVAL field qualifier on anything but a string literal is not supported");
    EXPECT("SELECT INTERVAL '1' DAY TO SECOND", "ERR SQL:1:8: INTERVAL with a field range");
    EXPECT("SELECT INTERVAL(3) '1 s'", "INTERVAL with a field range or a precision");
    EXPECT("SELECT INTERVAL 'P1D'",
           "ERR SQL:1:17: invalid input syntax for type INTERVAL: \"P1D\" (not a valid interval)");
    EXPECT("SELECT date_part('doy', ts - d) FROM t",
           "ERR SQL:1:18: unit \"doy\" not supported for type interval");
    EXPECT("SELECT lower(INTERVAL '1 day')", "function lower(INTERVAL) does not exist");
    EXPECT("SELECT min(ts - d), count(DISTINCT ts - d) FROM t GROUP BY ts - d",
           "Aggregate by [(ts - CAST(d AS TIMESTAMP))] compute [min((ts - CAST(d AS TIMESTAMP)))");
}

static void test_binding_errors(void)
{
    EXPECT("SELECT nope FROM t", "ERR SQL:1:8: column \"nope\" does not exist");
    EXPECT("SELECT id FROM t JOIN u ON t.id = u.id",
           "ERR SQL:1:8: column reference \"id\" is ambiguous");
    EXPECT("SELECT zz.id FROM t", "missing FROM-clause entry for table \"zz\"");
    EXPECT("SELECT 1 FROM nope", "ERR SQL:1:15: relation \"nope\" does not exist");
    EXPECT("SELECT name, count(*) FROM t",
           "ERR SQL:1:8: column \"name\" must appear in the GROUP BY");
    EXPECT("SELECT id FROM t WHERE count(*) > 1", "aggregate functions are not allowed in WHERE");
    EXPECT("SELECT sum(count(*)) FROM t", "aggregate function calls cannot be nested");
    EXPECT("SELECT id FROM t ORDER BY 3", "ORDER BY position 3 is not in select list");
    EXPECT("SELECT DISTINCT name FROM t ORDER BY id", "must appear in select list");
    EXPECT("SELECT id FROM t LIMIT -1", "LIMIT must not be negative");
}

static void test_group_by_forms(void)
{
    /* position, output name, expression; grouped expressions may be reused */
    EXPECT("SELECT id % 3 AS m, count(*) FROM t GROUP BY 1", "Aggregate by [(id % 3)]");
    EXPECT("SELECT id % 3 AS m, count(*) FROM t GROUP BY m", "Aggregate by [(id % 3)]");
    EXPECT("SELECT (id % 3) + 1 FROM t GROUP BY id % 3", "Project ((id % 3) + 1)");
    EXPECT("SELECT count(DISTINCT name), avg(x), min(d) FROM t",
           "compute [count(DISTINCT name), avg(x), min(d)]");
}

static void test_position_helper(void)
{
    char pos[32];
    dcr_sql_position("SELECT\n  x", 9, pos, sizeof pos);
    CHECK_STR(pos, "SQL:2:3");
    dcr_sql_position("SELECT 'é', x", 12, pos, sizeof pos); /* columns count characters */
    CHECK_STR(pos, "SQL:1:12");
    dcr_sql_position("x", -1, pos, sizeof pos);
    CHECK_STR(pos, "SQL");
}

int main(void)
{
    RUN(test_explain_shapes);
    RUN(test_hidden_order_column);
    RUN(test_typing);
    RUN(test_refusals_with_positions);
    RUN(test_interval_typing);
    RUN(test_binding_errors);
    RUN(test_group_by_forms);
    RUN(test_position_helper);
    return check_summary();
}

/*
 * test_exec.c: the executor: expression semantics (NULLs, three-valued
 * logic, overflow, integer division, casts), operators (filter, aggregate,
 * DISTINCT, join, sort, limit) across batch boundaries, the memory limit,
 * and the result formats. Queries go through the SQL front end over
 * in-memory tables served in small chunks and run with tiny batches.
 */
#include <stdlib.h>
#include <string.h>

#include "answers.h"
#include "check.h"
#include "exec/source.h"
#include "sql/sql.h"

static dcr_column_def t_defs[] = {{"id", DCR_TYPE_BIGINT, 0, false},
                                  {"g", DCR_TYPE_TEXT, 0, false},
                                  {"x", DCR_TYPE_DOUBLE, 0, false},
                                  {"ok", DCR_TYPE_BOOLEAN, 0, false}};
static dcr_column_def e_defs[] = {{"n", DCR_TYPE_BIGINT, 0, false}};
static dcr_schema t_schema = {"t", 4, t_defs};
static dcr_schema e_schema = {"e", 1, e_defs};
static dcr_column t_cols[4], e_cols[1];
static dcr_table_source t_src = {4, t_cols, 3}, e_src = {1, e_cols, 0};

/* t: id 1..10, g cycles a,b,NULL, x = id/2 with NULL at id 5, ok alternates with NULL at 7 */
static void make_tables(void)
{
    for (int i = 0; i < 4; i++)
        dcr_column_init(&t_cols[i], t_defs[i].type);
    dcr_column_init(&e_cols[0], DCR_TYPE_BIGINT);
    for (int id = 1; id <= 10; id++) {
        dcr_column_push_i64(&t_cols[0], id, NULL);
        if (id % 3 == 0)
            dcr_column_push_null(&t_cols[1], NULL);
        else
            dcr_column_push_text(&t_cols[1], id % 3 == 1 ? "a" : "b", 1, NULL);
        if (id == 5)
            dcr_column_push_null(&t_cols[2], NULL);
        else
            dcr_column_push_f64(&t_cols[2], id / 2.0, NULL);
        if (id == 7)
            dcr_column_push_null(&t_cols[3], NULL);
        else
            dcr_column_push_bool(&t_cols[3], id % 2 == 0, NULL);
    }
}

static size_t mem_limit;

/* Runs sql; returns its CSV (without the header) or "ERR <message>". */
static char *run(const char *sql)
{
    dcr_catalog_entry ent[2] = {{"t", &t_schema}, {"e", &e_schema}};
    dcr_catalog cat = {2, ent};
    dcr_exec_source src[2];
    dcr_table_source_bind(&src[0], &t_src);
    dcr_table_source_bind(&src[1], &e_src);
    dcr_plan *p;
    dcr_error err = {0};
    dcr_result r;
    int loc = -1;
    dcr_exec_opts opts = {.batch_rows = 4, .mem_limit = mem_limit};
    dcr_status s = dcr_sql_compile(sql, &cat, &p, NULL, &err);
    if (s == DCR_OK) {
        s = dcr_exec_run(p, src, 2, &opts, &r, &loc, &err);
        dcr_plan_free(p);
    }
    if (s != DCR_OK) {
        if (loc >= 0)
            dcr_sql_locate(&err, sql, loc);
        return answer_error(&err);
    }
    return answer_rows(&r);
}

#define EXPECT(sql, want)                                                                          \
    do {                                                                                           \
        char *got_ = run(sql);                                                                     \
        if (strcmp(got_, want) != 0) {                                                             \
            fprintf(stderr, "  %s:%d: %s\n    got:  %s\n    want: %s\n", __FILE__, __LINE__, sql,  \
                    got_, want);                                                                   \
            check_current_failed = 1;                                                              \
        }                                                                                          \
        free(got_);                                                                                \
    } while (0)

static void test_three_valued_logic(void)
{
    EXPECT("SELECT NULL::boolean AND false, NULL::boolean AND true, NULL::boolean OR true, "
           "NULL::boolean OR false, NOT NULL::boolean",
           "false,,true,,\n");
    EXPECT("SELECT 1 IN (2, NULL), 1 IN (1, NULL), 1 NOT IN (2, NULL), NULL::bigint IN (1)",
           ",true,,\n");
    EXPECT("SELECT count(*) FROM t WHERE ok", "5\n");
    EXPECT("SELECT count(*) FROM t WHERE NOT ok", "4\n");
    EXPECT("SELECT count(*) FROM t WHERE ok IS NULL", "1\n");
    EXPECT("SELECT NULL = NULL, NULL IS NULL, 1 + NULL", ",true,\n");
}

static void test_integer_semantics(void)
{
    EXPECT("SELECT 7 / 2, -7 / 2, 7 % -3, -7 % 3, 7.0 / 2", "3,-3,1,-1,3.5\n");
    EXPECT("SELECT 1 / 0", "ERR SQL:1:10: division by zero");
    EXPECT("SELECT 1 % 0", "ERR SQL:1:10: division by zero");
    EXPECT("SELECT 1.5 / 0", "ERR SQL:1:12: division by zero");
    EXPECT("SELECT 9223372036854775807 + 1", "ERR SQL:1:28: bigint out of range");
    EXPECT("SELECT -9223372036854775807 - 2", "ERR SQL:1:29: bigint out of range");
    EXPECT("SELECT 4611686018427387904 * 2", "ERR SQL:1:28: bigint out of range");
    EXPECT("SELECT (-9223372036854775807 - 1) / -1", "ERR SQL:1:35: bigint out of range");
    EXPECT("SELECT (-9223372036854775807 - 1) % -1", "0\n");
    EXPECT("SELECT 1e308 * 10", "ERR SQL:1:14: value out of range: overflow");
    /* CASE only evaluates branches on rows that reach them */
    EXPECT("SELECT CASE WHEN id > 10 THEN 1 / 0 ELSE id END FROM t WHERE id = 1", "1\n");
    EXPECT("SELECT count(*) FROM t WHERE id > 100 AND 1 / (id - id) = 1", "0\n");
}

static void test_casts(void)
{
    EXPECT("SELECT CAST(2.5 AS BIGINT), CAST(3.5 AS BIGINT), CAST(-2.5 AS BIGINT)", "2,4,-2\n");
    EXPECT("SELECT CAST('12' AS BIGINT) + 1, CAST(1.5 AS TEXT), CAST(true AS TEXT)",
           "13,1.5,true\n");
    EXPECT("SELECT CAST(g AS BIGINT) FROM t",
           "ERR SQL:1:8: invalid input syntax for type BIGINT in CAST");
    EXPECT("SELECT DATE '2024-03-01' < TIMESTAMP '2024-03-01 00:00:01', "
           "CAST(TIMESTAMP '1969-12-31 23:00:00' AS DATE)",
           "true,1969-12-31\n");
    EXPECT("SELECT CAST(1e19 AS BIGINT)", "ERR SQL:1:8: bigint out of range");
}

static void test_aggregates(void)
{
    EXPECT("SELECT g, count(*), count(x), sum(id), avg(x), min(x), max(id) FROM t GROUP BY g "
           "ORDER BY g",
           "a,4,4,22,2.75,0.5,10\nb,3,2,15,2.5,1,8\n,3,3,18,3,1.5,9\n");
    EXPECT("SELECT count(DISTINCT g), count(DISTINCT ok), sum(DISTINCT id % 3) FROM t", "2,2,3\n");
    EXPECT("SELECT count(*), sum(n), avg(n), min(n) FROM e", "0,,,\n");
    EXPECT("SELECT n, count(*) FROM e GROUP BY n", "");
    EXPECT("SELECT g FROM t GROUP BY g HAVING sum(id) > 16 ORDER BY 1 NULLS FIRST", "\na\n");
    EXPECT("SELECT max(g), min(g) FROM t", "b,a\n");
    EXPECT("SELECT sum(9223372036854775807) FROM t", "ERR SQL:1:8: bigint out of range (SUM)");
    EXPECT("SELECT DISTINCT ok FROM t ORDER BY 1", "false\ntrue\n\n");
}

static void test_order_limit(void)
{
    EXPECT("SELECT id FROM t ORDER BY x DESC LIMIT 3", "5\n10\n9\n");
    EXPECT("SELECT id FROM t ORDER BY x LIMIT 2 OFFSET 8", "10\n5\n");
    EXPECT("SELECT id FROM t ORDER BY x NULLS FIRST, id DESC LIMIT 2", "5\n1\n");
    EXPECT("SELECT g, id FROM t ORDER BY g DESC, id LIMIT 4", ",3\n,6\n,9\nb,2\n");
    EXPECT("SELECT id FROM t LIMIT 0", "");
    EXPECT("SELECT id FROM t ORDER BY id OFFSET 9", "10\n");
    EXPECT("SELECT id FROM t ORDER BY id LIMIT NULL OFFSET 8", "9\n10\n");
}

static void test_join(void)
{
    EXPECT("SELECT a.id, b.id FROM t a JOIN t b ON a.id = b.id * 2 WHERE a.id > 4 ORDER BY 1",
           "6,3\n8,4\n10,5\n");
    EXPECT("SELECT a.g, count(*) FROM t a JOIN t b ON a.g = b.g GROUP BY 1 ORDER BY 1",
           "a,16\nb,9\n");
    EXPECT("SELECT count(*) FROM t JOIN e ON t.id = e.n", "0\n");
    EXPECT("SELECT count(*) FROM t a JOIN t b ON a.id = b.id AND a.x > 2", "5\n");
}

static void test_left_join(void)
{
    EXPECT("SELECT a.id, b.id FROM t a LEFT JOIN t b ON a.id = b.id * 2 ORDER BY 1",
           "1,\n2,1\n3,\n4,2\n5,\n6,3\n7,\n8,4\n9,\n10,5\n");
    /* Extra ON conditions decide matches; they never drop left rows. */
    EXPECT("SELECT a.id, b.id FROM t a LEFT OUTER JOIN t b ON a.id = b.id AND b.id > 8 "
           "ORDER BY 1 DESC LIMIT 4",
           "10,10\n9,9\n8,\n7,\n");
    EXPECT("SELECT count(*), count(b.id) FROM t a LEFT JOIN t b ON a.id = b.id AND a.id < 3",
           "10,2\n");
    EXPECT("SELECT count(*), count(b.id) FROM t a LEFT JOIN t b ON a.id = b.id AND b.x > 2",
           "10,5\n");
    EXPECT("SELECT count(*) FROM t a LEFT JOIN t b ON a.id = b.id AND b.id > 8 "
           "WHERE b.id IS NULL",
           "8\n");
    /* NULL keys never match; their rows come out padded. */
    EXPECT("SELECT count(*), count(b.id) FROM t a LEFT JOIN t b ON a.g = b.g", "28,25\n");
    EXPECT("SELECT count(*), count(e.n) FROM t LEFT JOIN e ON t.id = e.n", "10,0\n");
    EXPECT("SELECT count(*) FROM e LEFT JOIN t ON t.id = e.n", "0\n");
    EXPECT("SELECT a.id, b.id, c.id FROM t a LEFT JOIN t b ON a.id = b.id * 2 "
           "LEFT JOIN t c ON b.id = c.id * 2 ORDER BY 1",
           "1,,\n2,1,\n3,,\n4,2,1\n5,,\n6,3,\n7,,\n8,4,2\n9,,\n10,5,\n");
    EXPECT("SELECT count(*) FROM t a JOIN t b ON a.id = b.id LEFT JOIN e ON e.n = a.id", "10\n");
    EXPECT("SELECT a.g, count(b.id) FROM t a LEFT JOIN t b ON a.g = b.g AND b.id < 3 "
           "GROUP BY 1 ORDER BY 1",
           "a,4\nb,3\n,0\n");
}

static void test_like(void)
{
    EXPECT("SELECT 'abc' LIKE 'a%', 'abc' LIKE 'a_c', 'abc' LIKE 'ab', 'abc' LIKE '%c', "
           "'abc' LIKE '%', '' LIKE '%', '' LIKE '_'",
           "true,true,false,true,true,true,false\n");
    /* _ is one character, not one byte; backslash escapes; case matters */
    EXPECT("SELECT '\xc3\xa9t\xc3\xa9' LIKE '_t_', 'a%b' LIKE 'a\\%b', 'axb' LIKE 'a\\%b', "
           "'a_b' LIKE 'a\\_b', 'a\\b' LIKE 'a\\\\b', 'ABC' LIKE 'abc'",
           "true,true,false,true,true,false\n");
    EXPECT("SELECT 'ABC' ILIKE 'a%c', 'abc' NOT LIKE 'a%', 'abc' NOT ILIKE 'X%', "
           "'aXbXc' LIKE '%X%c', 'mississippi' LIKE '%iss%ppi', 'ab' LIKE '%%%b'",
           "true,false,true,true,true,true\n");
    EXPECT("SELECT count(*) FROM t WHERE g LIKE 'a%'", "4\n");
    EXPECT("SELECT count(*) FROM t WHERE g NOT LIKE 'a%'", "3\n"); /* NULL stays NULL */
    EXPECT("SELECT 'abc' LIKE NULL, NULL LIKE 'a'", ",\n");
    EXPECT("SELECT 'abc' LIKE 'ab\\'",
           "ERR SQL:1:14: LIKE pattern must not end with escape character");
}

static void test_like_escape(void)
{
    /* ESCAPE c replaces the backslash; ESCAPE '' makes it literal; the
     * escape is seen before % and _, so ESCAPE '%' makes %% a literal % */
    EXPECT("SELECT 'a%b' LIKE 'a!%b' ESCAPE '!', 'axb' LIKE 'a!%b' ESCAPE '!', "
           "'a\\b' LIKE 'a\\b' ESCAPE '', 'a%' LIKE 'a%%' ESCAPE '%', 'ab' LIKE 'a%%' ESCAPE '%', "
           "'a\\' LIKE 'a\\' ESCAPE '#'",
           "true,false,true,true,false,true\n");
    EXPECT(
        "SELECT 'a_B' ILIKE 'A#_b' ESCAPE '#', 'axb' ILIKE 'A#_b' ESCAPE '#', "
        "'a\xc3\xa9' LIKE 'a\xc3\xa9\xc3\xa9' ESCAPE '\xc3\xa9', 'abc' NOT LIKE 'a#%' ESCAPE '#', "
        "'a%' LIKE 'a%' ESCAPE '', 'a_' LIKE 'a__' ESCAPE '_', 'ab' LIKE 'a__' ESCAPE '_'",
        "true,false,true,true,true,true,false\n");
    EXPECT("SELECT 'abc' LIKE 'ab!' ESCAPE '!'",
           "ERR SQL:1:14: LIKE pattern must not end with escape character");
    EXPECT("SELECT 'a' LIKE 'a' ESCAPE NULL, NULL LIKE 'a' ESCAPE '!'", ",\n");
    /* an escape that is not a constant is checked row by row */
    EXPECT("SELECT count(*) FROM t WHERE '%' LIKE (CASE WHEN g = 'a' THEN 'a%' ELSE 'b%' END) "
           "ESCAPE g",
           "7\n");
    EXPECT("SELECT 'a' LIKE 'a' ESCAPE lower('AB')",
           "ERR SQL:1:28: invalid escape string (must be empty or one character)");
}

static void test_interval_literals(void)
{
    /* PostgreSQL's output style (IntervalStyle postgres) */
    EXPECT("SELECT INTERVAL '1 day 2 hours', '3 months'::interval, interval '90' minute, "
           "INTERVAL '-1 second', INTERVAL '0'",
           "1 day 02:00:00,3 mons,01:30:00,-00:00:01,00:00:00\n");
    EXPECT("SELECT INTERVAL '1 year 2 months 3 days 4 hours 5 minutes 6.5 seconds', "
           "INTERVAL '-1 day +2 hours', INTERVAL '14 months', INTERVAL '-14 months'",
           "1 year 2 mons 3 days 04:05:06.5,-1 days +02:00:00,1 year 2 mons,-1 years -2 mons\n");
    /* fractions cascade down: a month is 30 days, a day 24 hours */
    EXPECT("SELECT INTERVAL '1.5 months', INTERVAL '1.5 days', INTERVAL '1.5 years', "
           "INTERVAL '0.5 weeks', INTERVAL '1 millisecond', INTERVAL '1.5'",
           "1 mon 15 days,1 day 12:00:00,1 year 6 mons,3 days 12:00:00,00:00:00.001,"
           "00:00:01.5\n");
    EXPECT("SELECT INTERVAL '@ 1 day ago', INTERVAL '25 hours', INTERVAL '1 week', "
           "INTERVAL '1 day 02:03:04', INTERVAL '1 02:00:00', INTERVAL '-01:30'",
           "-1 days,25:00:00,7 days,1 day 02:03:04,1 day 02:00:00,-01:30:00\n");
    EXPECT("SELECT INTERVAL '2 Years 1 mon' YEAR, INTERVAL '1 day 2:03:04' HOUR, "
           "INTERVAL '3' DAY, INTERVAL '1.5' HOUR, INTERVAL '10' SECOND, INTERVAL '7' MONTH",
           "2 years,1 day 02:00:00,3 days,01:00:00,00:00:10,7 mons\n");
    EXPECT("SELECT CAST(INTERVAL '1 day' AS TEXT), lower('1 HOUR 30 MINS')::interval, "
           "CAST('2 decades 1 century' AS INTERVAL)",
           "1 day,01:30:00,120 years\n");
    EXPECT("SELECT INTERVAL 'abc'",
           "ERR SQL:1:17: invalid input syntax for type INTERVAL: \"abc\" (not a valid interval)");
    EXPECT("SELECT INTERVAL '1 day 61 minutes 1:61'",
           "ERR SQL:1:17: invalid input syntax for type INTERVAL: \"1 day 61 minutes 1:61\" (a "
           "field is out of range)");
    EXPECT("SELECT INTERVAL '2147483648 days'",
           "ERR SQL:1:17: invalid input syntax for type INTERVAL: \"2147483648 days\" (out of "
           "range for INTERVAL)");
    EXPECT("SELECT upper('x')::interval",
           "ERR SQL:1:18: invalid input syntax for type INTERVAL in CAST");
    EXPECT("SELECT INTERVAL '1' YEAR TO MONTH",
           "ERR SQL:1:8: INTERVAL with a field range or a precision is not supported");
    EXPECT("SELECT CAST(INTERVAL '1 day' AS BIGINT)",
           "ERR SQL:1:8: cannot cast type INTERVAL to BIGINT");
}

static void test_interval_arithmetic(void)
{
    /* month arithmetic clamps to the month's last day; leap years */
    EXPECT(
        "SELECT DATE '2024-01-31' + INTERVAL '1 month', DATE '2023-01-31' + INTERVAL '1 month', "
        "TIMESTAMP '2024-03-31 10:00' - INTERVAL '1 month', DATE '2024-02-29' + INTERVAL '1 year'",
        "2024-02-29 00:00:00,2023-02-28 00:00:00,2024-02-29 10:00:00,2025-02-28 00:00:00\n");
    EXPECT("SELECT TIMESTAMP '2024-01-01' + INTERVAL '1 month 1 day 1 hour', "
           "INTERVAL '-13 months' + TIMESTAMP '2024-01-31 23:59:59.5', "
           "TIMESTAMP '2024-01-31' + '1 month', DATE '2024-03-01' - INTERVAL '1 day'",
           "2024-02-02 01:00:00,2022-12-31 23:59:59.5,2024-02-29 00:00:00,2024-02-29 00:00:00\n");
    /* date +/- integer days, date - date */
    EXPECT("SELECT DATE '2024-01-01' + 30, 30 + DATE '2024-01-01', DATE '2024-03-01' - 1, "
           "DATE '2024-03-01' - DATE '2024-02-01', DATE '2024-01-10' - '2024-01-01'",
           "2024-01-31,2024-01-31,2024-02-29,29,9\n");
    /* timestamp - timestamp: whole days go to the day field */
    EXPECT(
        "SELECT TIMESTAMP '2024-01-02 01:00' - TIMESTAMP '2024-01-01', "
        "TIMESTAMP '2024-01-01' - TIMESTAMP '2024-01-02 01:00', "
        "DATE '2024-01-02' - TIMESTAMP '2024-01-01 12:00', TIMESTAMP '2024-01-02' - '2024-01-01'",
        "1 day 01:00:00,-1 days -01:00:00,12:00:00,1 day\n");
    EXPECT("SELECT INTERVAL '1 day' + INTERVAL '1 hour', INTERVAL '1 day' - INTERVAL '1 hour', "
           "INTERVAL '1 month' * 1.5, INTERVAL '1 day' / 2, INTERVAL '1 hour' * 3, "
           "2 * INTERVAL '1 day', -INTERVAL '1 day 2 hours', INTERVAL '1 day' - '1 mon'",
           "1 day 01:00:00,1 day -01:00:00,1 mon 15 days,12:00:00,03:00:00,2 days,"
           "-1 days -02:00:00,-1 mons +1 day\n");
    EXPECT("SELECT INTERVAL '1 mon' / 3, INTERVAL '1 mon 1 day' * 0.5, INTERVAL '1 second' / 3",
           "10 days,15 days 12:00:00,00:00:00.333333\n");
    EXPECT("SELECT INTERVAL '1 day' + NULL, NULL - DATE '2024-01-01', DATE '2024-01-01' + "
           "NULL::bigint",
           ",,\n");
    /* overflow is an error, never a wrap */
    EXPECT("SELECT DATE '9999-12-31' + 1", "ERR SQL:1:26: date out of range");
    EXPECT("SELECT DATE '0001-01-01' - 9223372036854775807", "ERR SQL:1:26: date out of range");
    EXPECT("SELECT TIMESTAMP '9999-12-31 12:00' + INTERVAL '1 day'",
           "ERR SQL:1:37: timestamp out of range");
    EXPECT("SELECT TIMESTAMP '2000-01-01' + INTERVAL '178000000 years'",
           "ERR SQL:1:31: timestamp out of range");
    EXPECT("SELECT INTERVAL '2147483647 days' + INTERVAL '1 day'",
           "ERR SQL:1:35: interval out of range");
    EXPECT("SELECT -INTERVAL '-2147483648 days'", "ERR SQL:1:8: interval out of range");
    EXPECT("SELECT INTERVAL '1 day' * 1e300", "ERR SQL:1:25: interval out of range");
    EXPECT("SELECT INTERVAL '1 year' * 'NaN'::float8", "ERR SQL:1:26: interval out of range");
    EXPECT("SELECT INTERVAL '1 day' / 0", "ERR SQL:1:25: division by zero");
    EXPECT("SELECT TIMESTAMP '2024-01-01' - INTERVAL '-2147483648 days'",
           "ERR SQL:1:31: interval out of range");
}

static void test_interval_compare_group(void)
{
    /* intervals compare by a 30-day month and a 24-hour day */
    EXPECT(
        "SELECT INTERVAL '1 day' = INTERVAL '24 hours', INTERVAL '1 month' = INTERVAL '30 days', "
        "INTERVAL '1 month' > INTERVAL '29 days', INTERVAL '-1 day' < INTERVAL '0', "
        "INTERVAL '1 day' < '2 days', INTERVAL '1 year' IN ('360 days', '1 day')",
        "true,true,true,true,true,true\n");
    EXPECT("SELECT iv, count(*) FROM (SELECT INTERVAL '1 hour' * (id % 3) AS iv FROM t) s "
           "GROUP BY iv ORDER BY iv DESC",
           "02:00:00,3\n01:00:00,4\n00:00:00,3\n");
    EXPECT(
        "SELECT min(INTERVAL '1 hour' * id), max(INTERVAL '1 day' - INTERVAL '1 hour' * id) FROM t",
        "01:00:00,1 day -01:00:00\n");
    /* equal spans are one group: 1 day and 24 hours */
    EXPECT(
        "SELECT count(DISTINCT (id % 2) * INTERVAL '1 day' + (1 - id % 2) * INTERVAL '24 hours') "
        "FROM t",
        "1\n");
    EXPECT("SELECT count(*) FROM (SELECT DISTINCT INTERVAL '1 month' * (id % 2) + "
           "INTERVAL '30 days' * (1 - id % 2) FROM t) s",
           "1\n");
    /* join keys compare the same way: 1 hour = 60 minutes */
    EXPECT("SELECT count(*) FROM t a JOIN t b ON INTERVAL '1 hour' * a.id = INTERVAL '60 minutes' "
           "* b.id",
           "10\n");
    EXPECT("SELECT a.id FROM t a LEFT JOIN t b ON INTERVAL '1 day' * a.id = INTERVAL '12 hours' * "
           "b.id WHERE b.id IS NULL ORDER BY 1",
           "6\n7\n8\n9\n10\n");
    EXPECT("SELECT sum(INTERVAL '1 day' * id) FROM t",
           "ERR SQL:1:8: sum(INTERVAL) is not supported");
    EXPECT("SELECT avg(INTERVAL '1 day') FROM t", "ERR SQL:1:8: avg(INTERVAL) is not supported");
}

static void test_interval_parts(void)
{
    EXPECT(
        "SELECT extract(epoch from interval '1 day 2 hours'), date_part('hour', interval '1 day 26 "
        "hours'), "
        "extract(month from interval '14 months'), extract(year from interval '14 months'), "
        "date_part('second', interval '1.5 seconds'), extract(minute from interval '-90 minutes'), "
        "extract(hour from interval '-90 minutes')",
        "93600,26,2,1,1.5,-30,-1\n");
    EXPECT(
        "SELECT extract(epoch from interval '1 year'), extract(epoch from interval '1 month'), "
        "extract(day from interval '1 mon 40 days'), extract(epoch from interval '-1.5 seconds')",
        "31557600,2592000,40,-1.5\n");
    EXPECT("SELECT date_trunc('hour', interval '1 day 02:30:00'), date_trunc('year', interval '14 "
           "months 3 days'), "
           "date_trunc('month', interval '1 mon 3 days 04:00'), date_trunc('minute', interval "
           "'-00:01:30')",
           "1 day 02:00:00,1 year,1 mon,-00:01:00\n");
    EXPECT("SELECT date_part('dow', INTERVAL '1 day')",
           "ERR SQL:1:18: unit \"dow\" not supported for type interval");
    EXPECT("SELECT date_trunc('week', INTERVAL '1 day')",
           "ERR SQL:1:19: unit \"week\" not supported for type interval");
}

static void test_text_functions(void)
{
    EXPECT("SELECT lower('AbC\xc3\x89'), upper('aBc\xc3\xa9'), length('\xc3\xa9t\xc3\xa9'), "
           "length(''), char_length('ab')",
           "abc\xc3\x89,ABC\xc3\xa9,3,0,2\n");
    /* PostgreSQL's out-of-range rules for substring */
    EXPECT("SELECT substr('hello', 2, 3), substr('hello', 0, 3), substr('hello', -5, 3), "
           "substr('hello', 4), substr('hello', 9), SUBSTRING('h\xc3\xa9llo' FROM 2 FOR 2), "
           "substr('hello', 2, 0)",
           "ell,he,\"\",lo,\"\",\xc3\xa9l,\"\"\n");
    EXPECT("SELECT substr('hello', 1, 9223372036854775807), substr('hello', 3, NULL)", "hello,\n");
    EXPECT("SELECT substr('hello', 1, -1)", "ERR SQL:1:8: negative substring length not allowed");
    EXPECT("SELECT TRIM('  a b  '), LTRIM('  a  '), RTRIM('  a  '), BTRIM('xxaxx', 'x'), "
           "TRIM(BOTH 'xy' FROM 'xyaxy'), TRIM(TRAILING 'y' FROM 'yay'), TRIM(LEADING FROM ' a'), "
           "btrim('\xc3\xa9"
           "a\xc3\xa9', '\xc3\xa9'), btrim('xx', 'x')",
           "a b,\"a  \",\"  a\",a,a,ya,a,a,\"\"\n");
    EXPECT("SELECT count(*) FROM t WHERE upper(g) = 'A'", "4\n");
}

static void test_math_functions(void)
{
    EXPECT("SELECT abs(-5), abs(5), abs(-2.5), abs(NULL::bigint)", "5,5,2.5,\n");
    EXPECT("SELECT abs(-9223372036854775807 - 1)", "ERR SQL:1:8: bigint out of range");
    /* round on DOUBLE PRECISION: half to even, like PostgreSQL's float8 round */
    EXPECT("SELECT round(2.5), round(3.5), round(-2.5), round(2.6), round(7)", "2,4,-2,3,7\n");
    /* round(x, n): half away from zero */
    EXPECT("SELECT round(2.25, 1), round(-2.25, 1), round(1234.5, -2), round(0.125, 2)",
           "2.3,-2.3,1200,0.13\n");
    EXPECT("SELECT floor(-1.5), floor(1.5), ceil(-1.5), ceiling(1.5), floor(3)", "-2,1,-1,2,3\n");
    EXPECT("SELECT sum(floor(x)) FROM t", "23\n");
}

static void test_date_functions(void)
{
    EXPECT("SELECT date_trunc('day', TIMESTAMP '2024-03-15 13:45:12.5'), "
           "date_trunc('hour', TIMESTAMP '2024-03-15 13:45:12'), "
           "date_trunc('minute', TIMESTAMP '2024-03-15 13:45:12')",
           "2024-03-15 00:00:00,2024-03-15 13:00:00,2024-03-15 13:45:00\n");
    EXPECT("SELECT date_trunc('week', TIMESTAMP '2024-03-17 10:00:00'), "
           "date_trunc('week', DATE '2024-03-18'), date_trunc('month', DATE '2024-02-29'), "
           "date_trunc('YEAR', TIMESTAMP '1969-12-31 23:59:59')",
           "2024-03-11 00:00:00,2024-03-18 00:00:00,2024-02-01 00:00:00,1969-01-01 00:00:00\n");
    EXPECT("SELECT date_part('year', DATE '2024-03-17'), EXTRACT(month FROM DATE '2024-03-17'), "
           "EXTRACT(day FROM TIMESTAMP '2024-03-17 10:20:30.25'), "
           "EXTRACT(hour FROM TIMESTAMP '2024-03-17 10:20:30.25'), "
           "EXTRACT(minute FROM TIMESTAMP '2024-03-17 10:20:30.25'), "
           "EXTRACT(second FROM TIMESTAMP '2024-03-17 10:20:30.25')",
           "2024,3,17,10,20,30.25\n");
    EXPECT(
        "SELECT EXTRACT(dow FROM DATE '2024-03-17'), EXTRACT(dow FROM DATE '2024-03-16'), "
        "EXTRACT(doy FROM DATE '2024-12-31'), EXTRACT(epoch FROM TIMESTAMP '1970-01-02 00:00:01'), "
        "EXTRACT(epoch FROM TIMESTAMP '1969-12-31 23:59:59.5'), "
        "date_part('doy', DATE '0001-01-01')",
        "0,6,366,86401,-0.5,1\n");
    EXPECT("SELECT date_part('day', NULL::date)", "\n");
}

static void test_subqueries(void)
{
    EXPECT("SELECT s.g, s.n FROM (SELECT g, count(*) AS n FROM t GROUP BY g) s WHERE s.n > 3 "
           "ORDER BY 1",
           "a,4\n");
    EXPECT("WITH big AS (SELECT id, x FROM t WHERE id > 7) SELECT count(*), sum(x) FROM big",
           "3,13.5\n");
    EXPECT("WITH a AS (SELECT id FROM t WHERE id <= 4), b AS (SELECT id * 10 AS v FROM a) "
           "SELECT sum(v) FROM b",
           "100\n");
    EXPECT("WITH a AS (SELECT id FROM t) SELECT count(*) FROM a JOIN a b ON a.id = b.id", "10\n");
    EXPECT("SELECT t.id, s.m FROM t LEFT JOIN (SELECT g, max(id) AS m FROM t GROUP BY g) s "
           "ON s.g = t.g WHERE t.id <= 3 ORDER BY 1",
           "1,10\n2,8\n3,\n");
    EXPECT("SELECT count(*) FROM (SELECT id FROM t LIMIT 3) s", "3\n");
    EXPECT("SELECT * FROM (SELECT id FROM t ORDER BY id DESC LIMIT 2) s ORDER BY 1", "9\n10\n");
    EXPECT("SELECT * FROM (SELECT * FROM (SELECT id, ok FROM t) a WHERE ok) b ORDER BY id DESC "
           "LIMIT 2",
           "10,true\n8,true\n");
    /* a WITH query shadows a table; later WITH queries see earlier ones */
    EXPECT("WITH e AS (SELECT 1 AS n) SELECT n FROM e", "1\n");
    EXPECT("SELECT x FROM (SELECT id / 0 AS x FROM t) s", "ERR SQL:1:26: division by zero");
}

/* Columns nobody above reads are not computed (run.c prune) and a column
 * passed through unchanged is moved, not copied: results must not change. */
static void test_pruned_columns(void)
{
    EXPECT("SELECT n, count(*) FROM (SELECT g, count(*) AS n FROM t GROUP BY g) s GROUP BY n "
           "ORDER BY 1",
           "3,2\n4,1\n");
    EXPECT("SELECT id, id + 1, id FROM (SELECT id FROM t WHERE id < 3) s ORDER BY 1",
           "1,2,1\n2,3,2\n");
    EXPECT("SELECT b.x FROM (SELECT t.id AS k, t.x FROM t) b JOIN (SELECT id FROM t WHERE id > 8) "
           "c ON b.k = c.id ORDER BY 1",
           "4.5\n5\n");
    EXPECT("SELECT count(*) FROM (SELECT g, count(*) AS n FROM t GROUP BY g HAVING count(*) > 3) s",
           "1\n");
    EXPECT("SELECT count(*) FROM t JOIN t u ON t.id = u.id AND u.x > 2", "5\n");
    EXPECT("SELECT s.g FROM (SELECT g, sum(x) AS sx, count(*) AS n FROM t GROUP BY g) s "
           "WHERE s.n = 4",
           "a\n");
    EXPECT(
        "SELECT y FROM (SELECT x AS y, x AS z FROM t WHERE id IN (2, 5)) s ORDER BY 1 NULLS LAST",
        "1\n\n");
    /* PostgreSQL does not evaluate a subquery output that nobody reads either */
    EXPECT("SELECT count(*) FROM (SELECT id / 0 AS x, id FROM t) s", "10\n");
}

static void test_union_all(void)
{
    EXPECT("SELECT id FROM t WHERE id < 3 UNION ALL SELECT n FROM e UNION ALL SELECT 7 ORDER BY 1",
           "1\n2\n7\n");
    EXPECT("SELECT id FROM t WHERE id = 1 UNION ALL SELECT 2.5 ORDER BY 1", "1\n2.5\n");
    EXPECT("SELECT count(*), count(g) FROM (SELECT g FROM t UNION ALL SELECT g FROM t) s",
           "20,14\n");
    EXPECT("SELECT id AS k FROM t UNION ALL SELECT id FROM t ORDER BY k DESC LIMIT 3",
           "10\n10\n9\n");
    EXPECT("WITH a AS (SELECT id FROM t) SELECT id FROM a WHERE id = 1 "
           "UNION ALL SELECT id FROM a WHERE id = 2 ORDER BY 1",
           "1\n2\n");
    EXPECT("SELECT * FROM (SELECT id FROM t ORDER BY id LIMIT 1) a UNION ALL "
           "(SELECT id FROM t ORDER BY id DESC LIMIT 1) ORDER BY 1",
           "1\n10\n");
}

static void test_memory_limit(void)
{
    mem_limit = 200;
    EXPECT("SELECT id FROM t ORDER BY id",
           "ERR the query needs more than its memory limit of 0 MiB; make the query smaller, "
           "or raise the limit (dcr sql --memory-limit, dcr serve --query-memory)");
    mem_limit = 0;
}

static void test_formats(void)
{
    dcr_catalog_entry ent[1] = {{"t", &t_schema}};
    dcr_catalog cat = {1, ent};
    dcr_exec_source src;
    dcr_table_source_bind(&src, &t_src);
    dcr_plan *p;
    dcr_error err = {0};
    dcr_result r;
    CHECK(dcr_sql_compile("SELECT id, g AS \"the g\", x, ok, '' AS e FROM t WHERE id IN (3, 4)",
                          &cat, &p, NULL, &err) == DCR_OK);
    CHECK(dcr_exec_run(p, &src, 1, NULL, &r, NULL, &err) == DCR_OK);
    dcr_buf b = DCR_BUF_INIT;
    CHECK(dcr_result_format(&r, DCR_FORMAT_JSON, &b, &err) == DCR_OK);
    dcr_buf_append(&b, "", 1, &err);
    CHECK_STR((char *)b.data,
              "{\"columns\": [{\"name\": \"id\", \"type\": \"BIGINT\"}, {\"name\": \"the g\", "
              "\"type\": \"TEXT\"}, {\"name\": \"x\", \"type\": \"DOUBLE PRECISION\"}, {\"name\": "
              "\"ok\", \"type\": \"BOOLEAN\"}, {\"name\": \"e\", \"type\": \"TEXT\"}],\n"
              " \"rows\": [\n  [3, null, 1.5, false, \"\"],\n  [4, \"a\", 2, true, \"\"]\n ]}\n");
    b.len = 0;
    CHECK(dcr_result_format(&r, DCR_FORMAT_TABLE, &b, &err) == DCR_OK);
    dcr_buf_append(&b, "", 1, &err);
    CHECK_STR((char *)b.data, " id | the g | x   | ok    | e\n"
                              "----+-------+-----+-------+---\n"
                              "  3 |       | 1.5 | false | \n"
                              "  4 | a     |   2 | true  | \n"
                              "(2 rows)\n");
    b.len = 0;
    CHECK(dcr_result_format(&r, DCR_FORMAT_CSV, &b, &err) == DCR_OK);
    dcr_buf_append(&b, "", 1, &err);
    CHECK_STR((char *)b.data, "id,the g,x,ok,e\n3,,1.5,false,\"\"\n4,a,2,true,\"\"\n");
    dcr_buf_free(&b);
    dcr_result_free(&r);
    dcr_plan_free(p);
}

int main(void)
{
    make_tables();
    RUN(test_three_valued_logic);
    RUN(test_integer_semantics);
    RUN(test_casts);
    RUN(test_aggregates);
    RUN(test_order_limit);
    RUN(test_join);
    RUN(test_left_join);
    RUN(test_like);
    RUN(test_like_escape);
    RUN(test_interval_literals);
    RUN(test_interval_arithmetic);
    RUN(test_interval_compare_group);
    RUN(test_interval_parts);
    RUN(test_text_functions);
    RUN(test_math_functions);
    RUN(test_date_functions);
    RUN(test_subqueries);
    RUN(test_pruned_columns);
    RUN(test_union_all);
    RUN(test_memory_limit);
    RUN(test_formats);
    for (int i = 0; i < 4; i++)
        dcr_column_free(&t_cols[i]);
    dcr_column_free(&e_cols[0]);
    return check_summary();
}

/*
 * test_sql_diff.c: differential test of the SQL engine against SQLite.
 *
 * A seeded generator makes random tables (every type SQLite can compare
 * meaningfully, NULLs, duplicates, skewed values, empty tables) and random
 * queries over the supported subset (expressions, WHERE, GROUP BY, HAVING,
 * aggregates incl. DISTINCT, DISTINCT, ORDER BY, LIMIT/OFFSET, inner and
 * left joins, subqueries in FROM, WITH, UNION ALL, LIKE, scalar functions). Each
 * query is rendered twice, in PostgreSQL's dialect for dcr and in SQLite's,
 * run by both, and the results compared: as multisets, or in order when
 * ORDER BY covers every output column.
 *
 * Normalisations, where PostgreSQL (which dcr follows) and SQLite differ:
 *   - BOOLEAN results: dcr's true/false are compared as SQLite's 1/0;
 *   - NULL ordering: PostgreSQL's defaults (NULLS LAST for ASC) are written
 *     out explicitly in the SQLite text;
 *   - DOUBLE values are compared after rounding to 10 significant digits
 *     (summation order differs);
 *   - DATE is TEXT 'YYYY-MM-DD' in SQLite, which orders the same;
 *   - where PostgreSQL raises an error (division by zero, overflow) SQLite
 *     returns NULL or a REAL: such queries are counted as skipped;
 *   - casts are only generated where both agree (no DOUBLE -> BIGINT,
 *     which rounds in PostgreSQL and truncates in SQLite);
 *   - LIKE: SQLite runs with PRAGMA case_sensitive_like = ON and gets
 *     ESCAPE '\' (PostgreSQL's default escape) unless the query names
 *     ESCAPE '#' (then both get it); x ILIKE p is written
 *     lower(x) LIKE lower(p) for SQLite (both fold ASCII only);
 *   - functions: substr only with a start >= 1 and a length >= 0 (SQLite
 *     counts a negative start from the end; PostgreSQL refuses a negative
 *     length); btrim(x, c) is SQLite's trim(x, c); round only as round(x, n)
 *     (round(x) on DOUBLE is half-to-even in PostgreSQL, half away from
 *     zero in SQLite); date_part(f, d) is CAST(strftime(...) AS REAL) and
 *     date_trunc(u, d) is date(d, 'start of ...') (compared as text with a
 *     date literal, which orders the same);
 *   - date arithmetic: d +/- n is date(d, '+n days'), d + INTERVAL 'n
 *     days|hours|minutes' is datetime(d, '+n ...') (TIMESTAMP text in both;
 *     never months, which SQLite does not clamp to the month's end), and
 *     d - DATE 'x' is CAST(julianday(d) - julianday('x') AS INTEGER);
 *   - LEFT JOIN extra ON conditions are join conditions in both;
 *   - t is sometimes read through a subquery in FROM or a WITH query; some
 *     queries are a UNION ALL of two SELECTs of the same type.
 *
 * DCR_SQL_DIFF_QUERIES sets the number of queries (default 10000),
 * DCR_SQL_DIFF_SEED the seed; DCR_SQL_DIFF_PRINT=1 prints each query in
 * both dialects.
 */
#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "codes.h"
#include "base/value.h"
#include "exec/source.h"
#include "sql/sql.h"

/* ---- random ---- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static int pick(int n)
{
    return (int)(rnd() % (uint64_t)n);
}

static bool chance(int percent)
{
    return pick(100) < percent;
}

/* ---- SQL text in two dialects ---- */

typedef struct {
    char pg[4096], lite[4096];
} sqltext;

static void cat2(sqltext *q, const char *pg, const char *lite)
{
    strncat(q->pg, pg, sizeof q->pg - strlen(q->pg) - 1);
    strncat(q->lite, lite, sizeof q->lite - strlen(q->lite) - 1);
}

static void cat(sqltext *q, const char *s)
{
    cat2(q, s, s);
}

static void catf(sqltext *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void catf(sqltext *q, const char *fmt, ...)
{
    char b[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, sizeof b, fmt, ap);
    va_end(ap);
    cat(q, b);
}

/* ---- tables ---- */

enum { T_INT, T_DBL, T_TEXT, T_BOOL, T_DATE };

typedef struct {
    const char *name;
    int kind;
    dcr_type type;
} colspec;

static const colspec t_cols[] = {
    {"a", T_INT, DCR_TYPE_BIGINT}, {"b", T_INT, DCR_TYPE_BIGINT},   {"c", T_DBL, DCR_TYPE_DOUBLE},
    {"s", T_TEXT, DCR_TYPE_TEXT},  {"f", T_BOOL, DCR_TYPE_BOOLEAN}, {"d", T_DATE, DCR_TYPE_DATE},
};
static const colspec u_cols[] = {
    {"k", T_INT, DCR_TYPE_BIGINT}, {"v", T_INT, DCR_TYPE_BIGINT}, {"w", T_TEXT, DCR_TYPE_TEXT}};
#define NT (sizeof t_cols / sizeof t_cols[0])
#define NU (sizeof u_cols / sizeof u_cols[0])

/* The last two are longer than a hash table's inline key record (31
 * bytes, exec/keyrec.h) and differ only after it; the three before them
 * sit at the edge of a join entry's inline key (27 bytes, exec/join.c):
 * one fits, two are one byte longer and differ only in that byte. */
static const char *const words[] = {"",
                                    "a",
                                    "ab",
                                    "abc",
                                    "b",
                                    "B",
                                    "zz",
                                    "\xc3\xa9t\xc3\xa9",
                                    "a b",
                                    "abcdefghijklmnopqrstuvwxyz0",
                                    "abcdefghijklmnopqrstuvwxyz01",
                                    "abcdefghijklmnopqrstuvwxyz02",
                                    "the quick brown fox jumps over the lazy dog",
                                    "the quick brown fox jumps over the lazy cat"};
static const char *const dates[] = {"2024-01-01", "2024-01-02", "2023-12-31", "2000-02-29",
                                    "1999-12-31"};

typedef struct {
    dcr_schema schema;
    dcr_column *cols;
    size_t ncols;
    dcr_table_source ts;
} table;

static void table_free(table *t)
{
    for (size_t i = 0; i < t->ncols; i++)
        dcr_column_free(&t->cols[i]);
    free(t->cols);
    dcr_schema_free(&t->schema);
}

static void gen_value(sqlite3_stmt *ins, int idx, const colspec *c, dcr_column *col, int skew)
{
    if (chance(15)) {
        sqlite3_bind_null(ins, idx);
        dcr_column_push_null(col, NULL);
        return;
    }
    switch (c->kind) {
    case T_INT: {
        int64_t v = chance(skew) ? 1 : pick(13) - 4;
        sqlite3_bind_int64(ins, idx, v);
        dcr_column_push_i64(col, v, NULL);
        break;
    }
    case T_DBL: {
        double v = (pick(41) - 20) / 4.0;
        if (v == 0)
            v = 0; /* no -0: SQLite and PostgreSQL print it differently */
        sqlite3_bind_double(ins, idx, v);
        dcr_column_push_f64(col, v, NULL);
        break;
    }
    case T_TEXT: {
        const char *w = words[chance(skew) ? 1 : pick((int)(sizeof words / sizeof *words))];
        sqlite3_bind_text(ins, idx, w, -1, SQLITE_TRANSIENT);
        dcr_column_push_text(col, w, strlen(w), NULL);
        break;
    }
    case T_BOOL: {
        int v = pick(2);
        sqlite3_bind_int(ins, idx, v);
        dcr_column_push_bool(col, v, NULL);
        break;
    }
    case T_DATE: {
        const char *dt = dates[pick(5)];
        int32_t days;
        dcr_parse_date(dt, strlen(dt), &days);
        sqlite3_bind_text(ins, idx, dt, -1, SQLITE_TRANSIENT);
        dcr_column_push_i32(col, days, NULL);
        break;
    }
    }
}

static void make_table(sqlite3 *db, table *t, const char *name, const colspec *cs, size_t n)
{
    static const size_t sizes[] = {0, 1, 3, 17, 60, 250};
    size_t rows = sizes[pick(6)];
    int skew = pick(2) ? 60 : 0;
    char sql[512] = "", ins_sql[512] = "";
    snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS %s; CREATE TABLE %s(", name, name);
    snprintf(ins_sql, sizeof ins_sql, "INSERT INTO %s VALUES(", name);
    memset(t, 0, sizeof *t);
    snprintf(t->schema.dataset, sizeof t->schema.dataset, "%s", name);
    t->schema.ncols = n;
    t->schema.cols = calloc(n, sizeof *t->schema.cols);
    t->cols = calloc(n, sizeof *t->cols);
    t->ncols = n;
    for (size_t i = 0; i < n; i++) {
        static const char *const lite[] = {"INTEGER", "REAL", "TEXT", "INTEGER", "TEXT"};
        snprintf(t->schema.cols[i].name, sizeof t->schema.cols[i].name, "%s", cs[i].name);
        t->schema.cols[i].type = cs[i].type;
        dcr_column_init(&t->cols[i], cs[i].type);
        strcat(sql, i ? ", " : "");
        strcat(sql, cs[i].name);
        strcat(sql, " ");
        strcat(sql, lite[cs[i].kind]);
        strcat(ins_sql, i ? ",?" : "?");
    }
    strcat(sql, ")");
    strcat(ins_sql, ")");
    CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_stmt *ins;
    CHECK(sqlite3_prepare_v2(db, ins_sql, -1, &ins, NULL) == SQLITE_OK);
    for (size_t r = 0; r < rows; r++) {
        for (size_t i = 0; i < n; i++)
            gen_value(ins, (int)i + 1, &cs[i], &t->cols[i], skew);
        CHECK(sqlite3_step(ins) == SQLITE_DONE);
        sqlite3_reset(ins);
    }
    sqlite3_finalize(ins);
    for (size_t i = 0; i < n; i++)
        if (cs[i].type == DCR_TYPE_TEXT && pick(2))
            test_add_codes(&t->cols[i]);
    t->ts = (dcr_table_source){n, t->cols, (size_t)pick(8) + 1};
}

/* ---- expressions ---- */

typedef struct {
    bool join; /* columns are qualified, u's columns available */
    bool agg;  /* building an aggregate argument: no nested aggregates */
} scope;

static void gen_expr(sqltext *q, int kind, int depth, const scope *sc);

static void gen_col(sqltext *q, int kind, const scope *sc)
{
    const char *cands[8];
    int n = 0;
    for (size_t i = 0; i < NT; i++)
        if (t_cols[i].kind == kind)
            cands[n++] = t_cols[i].name;
    int nt = n;
    for (size_t i = 0; sc->join && i < NU; i++)
        if (u_cols[i].kind == kind)
            cands[n++] = u_cols[i].name;
    if (n == 0) {
        cat(q, "NULL");
        return;
    }
    int i = pick(n);
    if (sc->join)
        catf(q, "%s.%s", i < nt ? "t" : "u", cands[i]);
    else
        cat(q, cands[i]);
}

static void gen_literal(sqltext *q, int kind)
{
    switch (kind) {
    case T_INT:
        catf(q, "%d", pick(15) - 5);
        break;
    case T_DBL:
        catf(q, "%.2f", (pick(41) - 20) / 4.0);
        break;
    case T_TEXT:
        catf(q, "'%s'", words[pick(9)]);
        break;
    case T_BOOL:
        cat(q, pick(2) ? "TRUE" : "FALSE");
        break;
    case T_DATE:
        catf(q, "'%s'", dates[pick(5)]);
        break;
    }
}

static const char *const like_pats[] = {"%",      "a%",  "%b",        "_",  "__", "a_",
                                        "%a%",    "\\%", "ab\\_",     "",   "A%", "_t_",
                                        "%\\\\%", "%B",  "\xc3\xa9%", "a b"};

/* Patterns for an explicit ESCAPE '#' (both engines treat the character
 * after the escape literally, also % and _ and the escape itself). */
static const char *const esc_pats[] = {"a#%", "#_%", "%##", "%#%%", "x#_", "%#a%", "#\\%"};

static void gen_like(sqltext *q, int depth, const scope *sc)
{
    bool hash = pick(3) == 0;
    const char *pat = hash ? esc_pats[pick(sizeof esc_pats / sizeof esc_pats[0])]
                           : like_pats[pick(sizeof like_pats / sizeof like_pats[0])];
    const char *esc = hash ? " ESCAPE '#'" : "";
    const char *lite_esc = hash ? " ESCAPE '#'" : " ESCAPE '\\'";
    const char *not = pick(4) ? "" : " NOT";
    if (pick(3)) {
        gen_expr(q, T_TEXT, depth + 1, sc);
        catf(q, "%s LIKE '", not );
        cat(q, pat);
        cat2(q, "'", "'");
        cat2(q, esc, lite_esc);
    } else {
        cat2(q, "", "lower(");
        gen_expr(q, T_TEXT, depth + 1, sc);
        cat2(q, not, ")");
        cat2(q, " ILIKE '", not );
        cat2(q, "", " LIKE lower('");
        cat(q, pat);
        cat2(q, "'", "')");
        cat2(q, esc, lite_esc);
    }
}

static void gen_date_trunc(sqltext *q, const scope *sc)
{
    static const char *const pg[] = {"day", "week", "month", "year"};
    static const char *const lite[] = {"", ", 'weekday 0', '-6 days'", ", 'start of month'",
                                       ", 'start of year'"};
    int u = pick(4);
    cat2(q, "date_trunc('", "date(");
    cat2(q, pg[u], "");
    cat2(q, "', ", "");
    gen_col(q, T_DATE, sc);
    cat2(q, ")", lite[u]);
    cat2(q, "", ")");
    static const char *const cmp[] = {"=", "<>", "<", "<=", ">", ">="};
    catf(q, " %s ", cmp[pick(6)]);
    gen_literal(q, T_DATE);
}

/* DATE +/- n days: SQLite's date(d, '+n days'). */
static void gen_date_shift(sqltext *q, const scope *sc)
{
    int n = pick(71) - 35;
    bool minus = pick(2);
    char pg[32], lite[32];
    cat2(q, "(", "date(");
    gen_col(q, T_DATE, sc);
    snprintf(pg, sizeof pg, " %s %d)", minus ? "-" : "+", n);
    snprintf(lite, sizeof lite, ", '%+d days')", minus ? -n : n);
    cat2(q, pg, lite);
}

/* Date/time arithmetic compared with a constant: DATE + INTERVAL (days,
 * hours, minutes; no months, which SQLite does not clamp to the month's
 * end) against a timestamp, or DATE - DATE against a number of days. */
static void gen_date_arith(sqltext *q, const scope *sc)
{
    static const char *const cmp[] = {"=", "<>", "<", "<=", ">", ">="};
    static const char *const units[] = {"days", "hours", "minutes"};
    char pg[64], lite[64];
    if (pick(2)) {
        int n = pick(61) - 30;
        const char *u = units[pick(3)];
        cat2(q, "(", "datetime(");
        gen_col(q, T_DATE, sc);
        snprintf(pg, sizeof pg, " + INTERVAL '%d %s')", n, u);
        snprintf(lite, sizeof lite, ", '%+d %s')", n, u);
        cat2(q, pg, lite);
        catf(q, " %s ", cmp[pick(6)]);
        catf(q, "'%s %02d:00:00'", dates[pick(5)], pick(24));
    } else {
        const char *lit = dates[pick(5)];
        cat2(q, "(", "CAST(julianday(");
        gen_col(q, T_DATE, sc);
        snprintf(pg, sizeof pg, " - DATE '%s')", lit);
        snprintf(lite, sizeof lite, ") - julianday('%s') AS INTEGER)", lit);
        cat2(q, pg, lite);
        catf(q, " %s %d", cmp[pick(6)], pick(201) - 100);
    }
}

static void gen_bool(sqltext *q, int depth, const scope *sc)
{
    static const char *const cmp[] = {"=", "<>", "<", "<=", ">", ">="};
    int k = depth > 2 ? pick(3) : pick(14);
    switch (k) {
    case 13:
        gen_date_arith(q, sc);
        break;
    case 11:
        gen_like(q, depth, sc);
        break;
    case 12:
        gen_date_trunc(q, sc);
        break;
    case 0: {
        int kind = pick(5) == 4 ? T_DATE : pick(3);
        gen_expr(q, kind, depth + 1, sc);
        catf(q, " %s ", cmp[pick(6)]);
        if (kind == T_DATE)
            gen_literal(q, T_DATE);
        else
            gen_expr(q, kind, depth + 1, sc);
        break;
    }
    case 1:
        gen_col(q, T_BOOL, sc);
        break;
    case 2:
        gen_expr(q, pick(3), depth + 1, sc);
        cat(q, pick(2) ? " IS NULL" : " IS NOT NULL");
        break;
    case 3:
    case 4:
        cat(q, "(");
        gen_bool(q, depth + 1, sc);
        cat(q, k == 3 ? " AND " : " OR ");
        gen_bool(q, depth + 1, sc);
        cat(q, ")");
        break;
    case 5:
        cat(q, "NOT (");
        gen_bool(q, depth + 1, sc);
        cat(q, ")");
        break;
    case 6: {
        int kind = pick(3);
        gen_expr(q, kind, depth + 1, sc);
        cat(q, pick(3) ? " IN (" : " NOT IN (");
        int n = 1 + pick(3);
        for (int i = 0; i < n; i++) {
            cat(q, i ? ", " : "");
            if (chance(10))
                cat(q, "NULL");
            else
                gen_literal(q, kind);
        }
        cat(q, ")");
        break;
    }
    case 7:
        gen_expr(q, T_INT, depth + 1, sc);
        cat(q, pick(3) ? " BETWEEN " : " NOT BETWEEN ");
        gen_literal(q, T_INT);
        cat(q, " AND ");
        gen_literal(q, T_INT);
        break;
    case 8:
        gen_literal(q, T_BOOL);
        break;
    default:
        gen_expr(q, T_INT, depth + 1, sc);
        catf(q, " %s ", cmp[pick(6)]);
        gen_expr(q, T_DBL, depth + 1, sc);
        break;
    }
}

static void gen_case(sqltext *q, int kind, int depth, const scope *sc)
{
    cat(q, "CASE");
    int n = 1 + pick(2);
    for (int i = 0; i < n; i++) {
        cat(q, " WHEN ");
        gen_bool(q, depth + 1, sc);
        cat(q, " THEN ");
        gen_expr(q, kind, depth + 1, sc);
    }
    if (pick(2)) {
        cat(q, " ELSE ");
        gen_expr(q, kind, depth + 1, sc);
    }
    cat(q, " END");
}

static void gen_func(sqltext *q, int kind, int depth, const scope *sc)
{
    int f = pick(4);
    if (kind == T_TEXT && f < 2) {
        cat(q, f ? "lower(" : "upper(");
        gen_expr(q, T_TEXT, depth + 1, sc);
        cat(q, ")");
    } else if (kind == T_TEXT && f == 2) {
        cat(q, "substr(");
        gen_expr(q, T_TEXT, depth + 1, sc);
        catf(q, ", %d", 1 + pick(4));
        if (pick(2))
            catf(q, ", %d", pick(4));
        cat(q, ")");
    } else if (kind == T_TEXT) {
        static const char *const pg[] = {"btrim(", "ltrim(", "rtrim("};
        static const char *const lite[] = {"trim(", "ltrim(", "rtrim("};
        int t = pick(3);
        cat2(q, pg[t], lite[t]);
        gen_expr(q, T_TEXT, depth + 1, sc);
        if (pick(2))
            catf(q, ", '%s'", pick(2) ? "a" : " b");
        cat(q, ")");
    } else if (kind == T_INT && f < 2) {
        cat(q, "length(");
        gen_expr(q, T_TEXT, depth + 1, sc);
        cat(q, ")");
    } else if (kind == T_INT) {
        cat(q, "abs(");
        gen_expr(q, T_INT, depth + 1, sc);
        cat(q, ")");
    } else if (f == 0) {
        static const char *const pg[] = {"year", "month", "day", "dow", "doy"};
        static const char *const lite[] = {"%Y", "%m", "%d", "%w", "%j"};
        int p = pick(5);
        cat2(q, "date_part('", "CAST(strftime('");
        cat2(q, pg[p], lite[p]);
        cat(q, "', ");
        gen_col(q, T_DATE, sc);
        cat2(q, ")", ") AS REAL)");
    } else {
        static const char *const fn[] = {"abs(", "floor(", "ceil("};
        cat(q, f == 3 ? "round(" : fn[pick(3)]);
        gen_expr(q, T_DBL, depth + 1, sc);
        if (f == 3)
            catf(q, ", %d", pick(3));
        cat(q, ")");
    }
}

static void gen_expr(sqltext *q, int kind, int depth, const scope *sc)
{
    if (kind == T_BOOL) {
        gen_bool(q, depth, sc);
        return;
    }
    int k = depth > 2 ? pick(2) : pick(8);
    if (kind == T_DATE && k >= 6) {
        gen_date_shift(q, sc);
    } else if (k == 7 && kind != T_DATE) {
        gen_func(q, kind, depth, sc);
    } else if (k == 0 || kind == T_DATE) {
        gen_col(q, kind, sc);
    } else if (k == 1) {
        gen_literal(q, kind);
    } else if (k == 2 && kind != T_TEXT) {
        static const char *const ops[] = {"+", "-", "*", "/", "%"};
        cat(q, "(");
        gen_expr(q, kind, depth + 1, sc);
        catf(q, " %s ", ops[pick(kind == T_INT ? 5 : 4)]);
        gen_expr(q, pick(3) ? kind : T_INT, depth + 1, sc);
        cat(q, ")");
    } else if (k == 3) {
        gen_case(q, kind, depth, sc);
    } else if (k == 4) {
        cat(q, "COALESCE(");
        gen_expr(q, kind, depth + 1, sc);
        cat(q, ", ");
        gen_expr(q, kind, depth + 1, sc);
        cat(q, ")");
    } else if (k == 5 && kind == T_DBL) {
        cat2(q, "CAST(", "CAST(");
        gen_expr(q, T_INT, depth + 1, sc);
        cat2(q, " AS DOUBLE PRECISION)", " AS REAL)");
    } else if (k == 5 && kind == T_TEXT) {
        cat2(q, "CAST(", "CAST(");
        gen_expr(q, T_INT, depth + 1, sc);
        cat2(q, " AS TEXT)", " AS TEXT)");
    } else if (k == 6 && kind == T_INT) {
        cat(q, "-(");
        gen_expr(q, T_INT, depth + 1, sc);
        cat(q, ")");
    } else {
        gen_col(q, kind, sc);
    }
}

/* ---- queries ---- */

typedef struct {
    size_t ncols;
    bool ordered; /* ORDER BY covers every output column */
} qshape;

static void gen_order_all(sqltext *q, size_t ncols)
{
    cat(q, " ORDER BY ");
    for (size_t i = 0; i < ncols; i++) {
        bool desc = pick(2);
        int nulls = pick(3); /* 0 default, 1 first, 2 last */
        catf(q, "%s%zu%s", i ? ", " : "", i + 1, desc ? " DESC" : "");
        bool first = nulls == 1 || (nulls == 0 && desc);
        cat2(q,
             nulls == 0 ? ""
             : first    ? " NULLS FIRST"
                        : " NULLS LAST",
             first ? " NULLS FIRST" : " NULLS LAST");
    }
    if (chance(50)) {
        catf(q, " LIMIT %d", pick(12));
        if (chance(40))
            catf(q, " OFFSET %d", pick(6));
    }
}

/* Set when the FROM clause names t0, the WITH query run_one prepends. */
static bool uses_t0;

/* Table t, or the same rows (possibly fewer) through a subquery or WITH. */
static void gen_t(sqltext *q)
{
    int k = pick(10);
    if (k == 0) {
        cat(q, "(SELECT * FROM t WHERE ");
        gen_bool(q, 2, &(scope){0});
        cat(q, ") t");
    } else if (k == 1) {
        cat(q, "t0 t");
        uses_t0 = true;
    } else {
        cat(q, "t");
    }
}

static void gen_from(sqltext *q, const scope *sc)
{
    cat(q, " FROM ");
    gen_t(q);
    if (!sc->join)
        return;
    /* LEFT JOIN: SQLite also applies extra ON conditions as join conditions. */
    cat(q, chance(40) ? " LEFT JOIN u ON " : " JOIN u ON ");
    /* a TEXT key takes the join's one-TEXT-key entries (exec/join.c) */
    int keys = pick(10);
    cat(q, keys < 6 ? "t.b = u.k" : keys < 9 ? "t.s = u.w" : "t.b = u.k AND t.s = u.w");
    if (chance(20)) {
        cat(q, " AND ");
        gen_bool(q, 2, sc);
    }
}

static qshape gen_plain(sqltext *q, const scope *sc)
{
    qshape sh = {1 + (size_t)pick(3), false};
    cat(q, chance(15) ? "SELECT DISTINCT " : "SELECT ");
    for (size_t i = 0; i < sh.ncols; i++) {
        cat(q, i ? ", " : "");
        gen_expr(q, pick(5), 0, sc);
    }
    gen_from(q, sc);
    if (chance(60)) {
        cat(q, " WHERE ");
        gen_bool(q, 0, sc);
    }
    if (chance(50)) {
        gen_order_all(q, sh.ncols);
        sh.ordered = true;
    }
    return sh;
}

/* SELECT x FROM t [WHERE ...] UNION ALL SELECT y FROM t [ORDER BY 1 ...]. */
static qshape gen_union(sqltext *q)
{
    scope sc = {0};
    int kind = pick(3);
    for (int arm = 0; arm < 2; arm++) {
        cat(q, arm ? " UNION ALL SELECT " : "SELECT ");
        gen_expr(q, kind, 0, &sc);
        cat(q, " FROM ");
        gen_t(q);
        if (chance(50)) {
            cat(q, " WHERE ");
            gen_bool(q, 1, &sc);
        }
    }
    qshape sh = {1, false};
    if (chance(50)) {
        gen_order_all(q, 1);
        sh.ordered = true;
    }
    return sh;
}

static void gen_agg(sqltext *q, const scope *sc)
{
    scope in = *sc;
    in.agg = true;
    switch (pick(7)) {
    case 0:
        cat(q, "COUNT(*)");
        break;
    case 1:
        cat(q, chance(40) ? "COUNT(DISTINCT " : "COUNT(");
        gen_expr(q, pick(5), 1, &in);
        cat(q, ")");
        break;
    case 2:
    case 3: {
        const char *f = pick(2) ? "SUM(" : "AVG(";
        cat(q, f);
        if (chance(20))
            cat(q, "DISTINCT ");
        gen_expr(q, pick(2) ? T_INT : T_DBL, 1, &in);
        cat(q, ")");
        break;
    }
    default: {
        static const int kinds[] = {T_INT, T_DBL, T_TEXT, T_DATE};
        cat(q, pick(2) ? "MIN(" : "MAX(");
        gen_expr(q, kinds[pick(4)], 1, &in);
        cat(q, ")");
        break;
    }
    }
}

static qshape gen_grouped(sqltext *q, const scope *sc)
{
    size_t ngroups = (size_t)pick(3), naggs = 1 + (size_t)pick(2);
    qshape sh = {ngroups + naggs, false};
    static const char *const keys[] = {"a", "b", "s", "f", "d", "c"};
    const char *g[2];
    cat(q, "SELECT ");
    for (size_t i = 0; i < ngroups; i++) {
        g[i] = keys[pick(6)];
        catf(q, "%s%s%s", i ? ", " : "", sc->join ? "t." : "", g[i]);
    }
    for (size_t i = 0; i < naggs; i++) {
        cat(q, ngroups + i ? ", " : "");
        gen_agg(q, sc);
    }
    gen_from(q, sc);
    if (chance(40)) {
        cat(q, " WHERE ");
        gen_bool(q, 1, sc);
    }
    if (ngroups) {
        cat(q, " GROUP BY ");
        for (size_t i = 0; i < ngroups; i++)
            catf(q, "%s%zu", i ? ", " : "", i + 1);
        if (chance(30)) {
            cat(q, " HAVING COUNT(*) > ");
            catf(q, "%d", pick(3));
        }
    }
    if (chance(50)) {
        gen_order_all(q, sh.ncols);
        sh.ordered = true;
    }
    return sh;
}

/* ---- results ---- */

typedef struct {
    char **rows; /* each row rendered as one string */
    size_t n, cap;
} rowset;

static void rows_add(rowset *r, const char *s)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 16;
        r->rows = realloc(r->rows, r->cap * sizeof *r->rows);
    }
    r->rows[r->n++] = strdup(s);
}

static void rows_free(rowset *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->rows[i]);
    free(r->rows);
    memset(r, 0, sizeof *r);
}

static void render_double(char *out, size_t n, double v)
{
    if (v == 0)
        v = 0;
    snprintf(out, n, "%.10g", v);
}

/* Appends one rendered cell to line. */
static void add_cell(char *line, size_t size, const char *cell)
{
    strncat(line, cell, size - strlen(line) - 1);
    strncat(line, "|", size - strlen(line) - 1);
}

static int run_sqlite(sqlite3 *db, const char *sql, const dcr_type *types, size_t ncols,
                      rowset *out)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        char line[2048] = "";
        for (size_t c = 0; c < ncols; c++) {
            char cell[128];
            int t = sqlite3_column_type(st, (int)c);
            if (t == SQLITE_NULL)
                snprintf(cell, sizeof cell, "NULL");
            else if (types[c] == DCR_TYPE_DOUBLE)
                render_double(cell, sizeof cell, sqlite3_column_double(st, (int)c));
            else
                snprintf(cell, sizeof cell, "%s", (const char *)sqlite3_column_text(st, (int)c));
            add_cell(line, sizeof line, cell);
        }
        rows_add(out, line);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

static void render_ours(const dcr_result *r, rowset *out)
{
    for (size_t b = 0; b < r->nbatches; b++)
        for (size_t i = 0; i < r->batches[b].nrows; i++) {
            char line[2048] = "";
            for (size_t c = 0; c < r->ncols; c++) {
                const dcr_column *col = &r->batches[b].cols[c];
                char buf[DCR_RESULT_TEXT_MAX], cell[128];
                size_t len;
                const char *t = dcr_result_value_text(col, i, buf, &len);
                if (!t)
                    snprintf(cell, sizeof cell, "NULL");
                else if (col->type == DCR_TYPE_DOUBLE)
                    render_double(cell, sizeof cell, ((const double *)col->values)[i]);
                else if (col->type == DCR_TYPE_BOOLEAN)
                    snprintf(cell, sizeof cell, "%d", ((const uint8_t *)col->values)[i]);
                else
                    snprintf(cell, sizeof cell, "%.*s", (int)len, t);
                add_cell(line, sizeof line, cell);
            }
            rows_add(out, line);
        }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool same_rows(rowset *a, rowset *b, bool ordered)
{
    if (a->n != b->n)
        return false;
    if (!ordered && a->n) {
        qsort(a->rows, a->n, sizeof *a->rows, cmp_str);
        qsort(b->rows, b->n, sizeof *b->rows, cmp_str);
    }
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->rows[i], b->rows[i]) != 0)
            return false;
    return true;
}

/* ---- the test ---- */

typedef struct {
    long agree, skipped, mismatched, refused, lite_failed;
} stats;

static void report(const char *what, const sqltext *q, const char *detail)
{
    fprintf(stderr, "  %s\n    dcr:    %s\n    sqlite: %s\n    %s\n", what, q->pg, q->lite, detail);
}

static void run_one(sqlite3 *db, const dcr_catalog *cat, const dcr_exec_source *src, stats *st)
{
    sqltext q = {"", ""};
    scope sc = {.join = chance(25)};
    uses_t0 = false;
    qshape sh = chance(10) ? gen_union(&q) : pick(2) ? gen_plain(&q, &sc) : gen_grouped(&q, &sc);
    if (uses_t0) {
        sqltext w = {"", ""};
        const char *with = "WITH t0 AS (SELECT * FROM t WHERE a IS NULL OR a <> 3) ";
        snprintf(w.pg, sizeof w.pg, "%s%s", with, q.pg);
        snprintf(w.lite, sizeof w.lite, "%s%s", with, q.lite);
        q = w;
    }
    if (getenv("DCR_SQL_DIFF_PRINT"))
        printf("%s\n%s\n", q.pg, q.lite);
    dcr_plan *plan;
    dcr_error err = {0};
    if (dcr_sql_compile(q.pg, cat, &plan, NULL, &err) != DCR_OK) {
        if (st->refused++ < 5)
            report("refused", &q, err.msg);
        return;
    }
    /* 1-4 threads with the parallel paths on for any batch (taken in turn,
     * not from the generator, so the queries stay the same). */
    static size_t turn;
    dcr_exec_opts opts = {
        .batch_rows = (size_t)pick(40) + 1, .threads = turn++ % 4 + 1, .split_rows = 1};
    dcr_result res;
    int loc;
    if (dcr_exec_run(plan, src, 2, &opts, &res, &loc, &err) != DCR_OK) {
        dcr_plan_free(plan);
        st->skipped++; /* PostgreSQL semantics: an error where SQLite yields NULL */
        if (loc < 0 && st->mismatched++ < 5)
            report("engine failure", &q, err.msg);
        return;
    }
    rowset ours = {0}, theirs = {0};
    render_ours(&res, &ours);
    if (run_sqlite(db, q.lite, res.types, res.ncols, &theirs) != 0) {
        if (st->lite_failed++ < 5)
            report("sqlite failed", &q, sqlite3_errmsg(db));
    } else if (!same_rows(&ours, &theirs, sh.ordered)) {
        char detail[512];
        snprintf(detail, sizeof detail, "dcr %zu rows (first %s), sqlite %zu rows (first %s)",
                 ours.n, ours.n ? ours.rows[0] : "-", theirs.n, theirs.n ? theirs.rows[0] : "-");
        if (st->mismatched++ < 10)
            report("MISMATCH", &q, detail);
    } else {
        st->agree++;
    }
    (void)sh.ncols;
    rows_free(&ours);
    rows_free(&theirs);
    dcr_result_free(&res);
    dcr_plan_free(plan);
}

static void test_differential(void)
{
    const char *env = getenv("DCR_SQL_DIFF_QUERIES"), *seed = getenv("DCR_SQL_DIFF_SEED");
    long nq = env ? atol(env) : 10000;
    rng_state = seed ? strtoull(seed, NULL, 0) : 0x9e3779b97f4a7c15ull;
    if (!rng_state)
        rng_state = 1;
    sqlite3 *db;
    CHECK(sqlite3_open(":memory:", &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "PRAGMA case_sensitive_like = ON", NULL, NULL, NULL) == SQLITE_OK);
    stats st = {0};
    table t = {0}, u = {0};
    for (long i = 0; i < nq; i++) {
        if (i % 40 == 0) {
            table_free(&t);
            table_free(&u);
            make_table(db, &t, "t", t_cols, NT);
            make_table(db, &u, "u", u_cols, NU);
        }
        dcr_catalog_entry e[2] = {{"t", &t.schema}, {"u", &u.schema}};
        dcr_catalog cat = {2, e};
        dcr_exec_source src[2];
        dcr_table_source_bind(&src[0], &t.ts);
        dcr_table_source_bind(&src[1], &u.ts);
        run_one(db, &cat, src, &st);
    }
    table_free(&t);
    table_free(&u);
    sqlite3_close(db);
    printf("differential: %ld queries, %ld agree with SQLite, %ld skipped (PostgreSQL error "
           "semantics), %ld mismatched, %ld refused, %ld SQLite failures\n",
           nq, st.agree, st.skipped, st.mismatched, st.refused, st.lite_failed);
    CHECK(st.mismatched == 0);
    CHECK(st.refused == 0);
    CHECK(st.lite_failed == 0);
    CHECK(st.agree >= nq * 8 / 10);
}

int main(void)
{
    RUN(test_differential);
    return check_summary();
}

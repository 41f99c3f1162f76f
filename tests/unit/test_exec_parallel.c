/*
 * test_exec_parallel.c: the executor's threads: the worker set's "run these
 * N parts" primitive (parallel.c: every part runs once, the first failure is
 * reported, a nested call does not deadlock), and the parallel join probe
 * and aggregation (aggregate.c), whose results must be identical, rows and
 * order, for 1, 2, 3 and 8 threads and any batch size: many groups, one
 * group, NULL keys, empty input, COUNT DISTINCT over few and many groups,
 * float sums (which would differ in the last bits if summed in another
 * order), and the memory-limit error under threads. Some answers are also
 * checked against values computed here from the generator. The DISTINCT
 * pair set (u64set.c) is checked against a plain array, and the inline
 * records of TEXT keys at their edges: the keytab's 31 bytes and the join
 * entries' 27. An aggregate gives its memory back once its groups are out.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "answers.h"
#include "base/memory.h"
#include "check.h"
#include "codes.h"
#include "exec/internal.h"
#include "exec/source.h"
#include "sql/sql.h"

enum { NP = 3000, NQ = 500 };

static dcr_column_def p_defs[] = {{"id", DCR_TYPE_BIGINT, 0, false},
                                  {"u", DCR_TYPE_TEXT, 0, false},
                                  {"c", DCR_TYPE_TEXT, 0, false},
                                  {"x", DCR_TYPE_DOUBLE, 0, false},
                                  {"k", DCR_TYPE_BIGINT, 0, false}};
static dcr_column_def q_defs[] = {{"u", DCR_TYPE_TEXT, 0, false},
                                  {"amt", DCR_TYPE_DOUBLE, 0, false}};
static dcr_schema p_schema = {"p", 5, p_defs}, e_schema = {"e", 5, p_defs},
                  q_schema = {"q", 2, q_defs};
static dcr_column p_cols[5], e_cols[5], q_cols[2];
static dcr_table_source p_src = {5, p_cols, 64}, e_src = {5, e_cols, 0}, q_src = {2, q_cols, 50};

static bool u_null(int id)
{
    return id % 50 == 0;
}

static int u_of(int id)
{
    return (id * 7919) % 997;
}

static void push_user(dcr_column *c, int u)
{
    char s[32];
    int n = snprintf(s, sizeof s, "user%d", u);
    dcr_column_push_text(c, s, (size_t)n, NULL);
}

/* p: id 0..NP-1; u ~997 users (NULL every 50th row); c five skewed
 * campaigns (NULL every 37th); x with fractions that round differently by
 * summation order (NULL every 11th); k = id % 7 (NULL every 13th). q: 500
 * purchases by users 0..249 (twice each; some not in p), amounts with
 * fractions. e: p's schema, no rows. */
static void make_tables(void)
{
    for (int i = 0; i < 5; i++) {
        dcr_column_init(&p_cols[i], p_defs[i].type);
        dcr_column_init(&e_cols[i], p_defs[i].type);
    }
    static const char *camp[] = {"c0", "c0", "c0", "c0", "c0", "c1", "c1", "c1", "c2", "c3"};
    for (int id = 0; id < NP; id++) {
        dcr_column_push_i64(&p_cols[0], id, NULL);
        if (u_null(id))
            dcr_column_push_null(&p_cols[1], NULL);
        else
            push_user(&p_cols[1], u_of(id));
        if (id % 37 == 0)
            dcr_column_push_null(&p_cols[2], NULL);
        else
            dcr_column_push_text(&p_cols[2], camp[id % 10], 2, NULL);
        if (id % 11 == 0)
            dcr_column_push_null(&p_cols[3], NULL);
        else
            dcr_column_push_f64(&p_cols[3], id * 0.1 + 1.0 / (id % 9 + 1), NULL);
        if (id % 13 == 0)
            dcr_column_push_null(&p_cols[4], NULL);
        else
            dcr_column_push_i64(&p_cols[4], id % 7, NULL);
    }
    dcr_column_init(&q_cols[0], DCR_TYPE_TEXT);
    dcr_column_init(&q_cols[1], DCR_TYPE_DOUBLE);
    for (int i = 0; i < NQ; i++) {
        push_user(&q_cols[0], (i * 3) % 250 + (i % 2) * 900);
        dcr_column_push_f64(&q_cols[1], i / 3.0, NULL);
    }
}

static void free_tables(void)
{
    for (int i = 0; i < 5; i++) {
        dcr_column_free(&p_cols[i]);
        dcr_column_free(&e_cols[i]);
    }
    dcr_column_free(&q_cols[0]);
    dcr_column_free(&q_cols[1]);
}

/* Runs sql with the given threads, batch size and memory limit, parallel
 * paths on even for tiny batches; CSV rows or "ERR <message>". */
static char *run(const char *sql, size_t threads, size_t batch_rows, size_t mem_limit)
{
    dcr_catalog_entry ent[3] = {{"p", &p_schema}, {"e", &e_schema}, {"q", &q_schema}};
    dcr_catalog cat = {3, ent};
    dcr_exec_source src[3];
    dcr_table_source_bind(&src[0], &p_src);
    dcr_table_source_bind(&src[1], &e_src);
    dcr_table_source_bind(&src[2], &q_src);
    dcr_plan *p;
    dcr_error err = {0};
    dcr_result r;
    dcr_exec_opts opts = {
        .batch_rows = batch_rows, .mem_limit = mem_limit, .threads = threads, .split_rows = 1};
    dcr_status s = dcr_sql_compile(sql, &cat, &p, NULL, &err);
    if (s == DCR_OK) {
        s = dcr_exec_run(p, src, 3, &opts, &r, NULL, &err);
        dcr_plan_free(p);
    }
    return s == DCR_OK ? answer_rows(&r) : answer_error(&err);
}

static const char *queries[] = {
    /* few skewed groups, a NULL group, every aggregate kind */
    ("SELECT c, COUNT(*), COUNT(x), SUM(x), AVG(x), MIN(x), MAX(x), MIN(u), MAX(u), "
     "COUNT(DISTINCT u), SUM(DISTINCT k), COUNT(DISTINCT k), AVG(DISTINCT x), SUM(k) "
     "FROM p GROUP BY c"),
    /* many groups, a NULL key */
    "SELECT u, COUNT(*), SUM(x), MIN(id), COUNT(DISTINCT k) FROM p GROUP BY u",
    /* one group */
    "SELECT COUNT(*), SUM(x), COUNT(DISTINCT u), MIN(u), MAX(x), AVG(k) FROM p",
    /* empty input: one row without GROUP BY, none with */
    "SELECT COUNT(*), SUM(x), COUNT(DISTINCT u), MIN(u) FROM e",
    "SELECT c, COUNT(*), COUNT(DISTINCT u) FROM e GROUP BY c",
    "SELECT COUNT(*), COUNT(DISTINCT u), MAX(x) FROM p WHERE x > 1e9",
    /* composite keys, DISTINCT, nested aggregation */
    "SELECT k, c, COUNT(DISTINCT u), SUM(x) FROM p GROUP BY k, c",
    "SELECT DISTINCT k FROM p",
    "SELECT DISTINCT u, k FROM p",
    "SELECT n, COUNT(*) FROM (SELECT u, COUNT(*) AS n FROM p GROUP BY u) f GROUP BY n",
    /* joins under aggregates (parallel probe, then parallel aggregation) */
    "SELECT p.c, COUNT(*), SUM(q.amt), COUNT(DISTINCT p.u) FROM p JOIN q ON p.u = q.u GROUP BY p.c",
    "SELECT q.u, COUNT(p.id), SUM(p.x) FROM q LEFT JOIN p ON p.u = q.u GROUP BY q.u",
    "SELECT p.id, q.amt FROM p JOIN q ON p.u = q.u AND q.amt > p.x",
};

static void test_same_for_any_threads(void)
{
    static const size_t threads[] = {1, 2, 3, 8}, batches[] = {0, 7, 1000};
    /* A join emits rows probe batch by probe batch, so its output order, and
     * with it the groups' order above it, may depend on the batch size, never
     * on the threads. */
    for (size_t i = 0; i < sizeof queries / sizeof *queries; i++)
        for (size_t b = 0; b < 3; b++) {
            char *want = run(queries[i], 1, batches[b], 0);
            CHECK(strncmp(want, "ERR", 3) != 0);
            for (size_t t = 1; t < 4; t++) {
                char *got = run(queries[i], threads[t], batches[b], 0);
                if (strcmp(got, want) != 0) {
                    fprintf(stderr, "  %s\n    threads %zu, batch %zu differ from 1 thread\n",
                            queries[i], threads[t], batches[b]);
                    check_current_failed = 1;
                }
                free(got);
            }
            free(want);
        }
}

/* A GROUP BY key with codes (aggregate.c's coded path) gives exactly the
 * answers, in the same order, as the same key without, for any threads and
 * batch sizes; with 5 campaigns and ~1000 users, NULL keys among them. A
 * join's matched rows carry the probe side's codes (p is probed: q is
 * smaller), its NULL-padded LEFT JOIN rows none. */
static void test_coded_keys(void)
{
    static const char *coded[] = {
        "SELECT c, COUNT(*), SUM(x), COUNT(DISTINCT u), MIN(u) FROM p GROUP BY c",
        "SELECT u, COUNT(*), MAX(x), COUNT(DISTINCT c) FROM p GROUP BY u",
        "SELECT n, COUNT(*) FROM (SELECT u, COUNT(*) AS n FROM p GROUP BY u) f GROUP BY n",
        "SELECT DISTINCT c FROM p",
        "SELECT p.c, COUNT(*), SUM(q.amt) FROM p JOIN q ON p.u = q.u GROUP BY p.c",
        "SELECT p.c, COUNT(q.u) FROM p LEFT JOIN q ON p.u = q.u GROUP BY p.c",
        /* a join's scans hand out their coded non-key TEXT columns deferred
         * (store/column.h): the rows that match, pass the ON condition or
         * are padded come out expanded, wherever the column goes next */
        "SELECT p.id, p.c, q.amt FROM p JOIN q ON p.u = q.u AND p.c >= 'c'",
        "SELECT p.id, p.c, p.u, q.amt FROM p LEFT JOIN q ON p.u = q.u AND q.amt > 10",
        "SELECT q.amt, p.c, p.u FROM q JOIN p ON q.u = p.u",
        "SELECT upper(p.u), p.c FROM p JOIN q ON lower(p.c) || '' = q.u",
        "SELECT a.c, b.c, COUNT(*), MIN(b.u) FROM p a JOIN p b ON a.u = b.u GROUP BY 1, 2",
        "SELECT p.id, length(p.u), p.u || p.c FROM p JOIN q ON p.k = length(q.u)",
    };
    enum { NCODED = sizeof coded / sizeof *coded };
    static const size_t threads[] = {1, 2, 3}, batches[] = {0, 7, 1000};
    char *want[NCODED][3];
    for (size_t i = 0; i < NCODED; i++)
        for (size_t b = 0; b < 3; b++)
            want[i][b] = run(coded[i], 1, batches[b], 0);
    test_add_codes(&p_cols[1]);
    test_add_codes(&p_cols[2]);
    CHECK(p_cols[1].ncodes > 900 && p_cols[2].ncodes == 4);
    for (size_t i = 0; i < NCODED; i++)
        for (size_t b = 0; b < 3; b++) {
            for (size_t t = 0; t < 3; t++) {
                char *got = run(coded[i], threads[t], batches[b], 0);
                if (strcmp(got, want[i][b]) != 0) {
                    fprintf(stderr, "  %s\n    coded, threads %zu, batch %zu differ\n", coded[i],
                            threads[t], batches[b]);
                    check_current_failed = 1;
                }
                free(got);
            }
            free(want[i][b]);
        }
    p_cols[1].ncodes = p_cols[2].ncodes = 0; /* the codes stay allocated; free_tables frees them */
}

/* A CASE whose branches are all TEXT constants comes with dictionary codes
 * (expr.c: equal labels share a code, NULL is no label), so GROUP BY on it
 * takes the coded path: two branches with the same label are one group,
 * the NULL branch its own, for any threads and batch size, and through a
 * LEFT JOIN's matched and padded rows alike. p's ids are 0..2999: id % 3
 * of 0 or 1 is 'x' (2000), of 2 with id % 5 = 2 (id = 2 mod 15) NULL (200),
 * else 'y' (800). */
static void test_case_label_codes(void)
{
    static const char *const sql[] = {
        "SELECT CASE WHEN id % 3 = 0 THEN 'x' WHEN id % 3 = 1 THEN 'x' WHEN id % 5 = 2 THEN NULL "
        "ELSE 'y' END AS l, COUNT(*) FROM p GROUP BY 1 ORDER BY 1",
        "SELECT f.l, COUNT(*) FROM (SELECT u, CASE WHEN id % 3 = 0 THEN 'x' WHEN id % 3 = 1 THEN "
        "'x' WHEN id % 5 = 2 THEN NULL ELSE 'y' END AS l FROM p) f LEFT JOIN (SELECT DISTINCT u "
        "FROM q) g ON f.u = g.u GROUP BY 1 ORDER BY 1",
    };
    for (size_t q = 0; q < 2; q++)
        for (size_t t = 1; t <= 3; t++)
            for (size_t b = 0; b < 3; b++) {
                static const size_t batch[] = {0, 7, 1000};
                char *got = run(sql[q], t, batch[b], 0);
                CHECK_STR(got, "x,2000\ny,800\n,200\n");
                free(got);
            }
}

static void test_known_answers(void)
{
    /* per campaign: rows, and distinct non-NULL users, from the generator */
    static const char *camp[] = {"c0", "c0", "c0", "c0", "c0", "c1", "c1", "c1", "c2", "c3"};
    long rows[4] = {0}, nulls = 0, users = 0;
    static bool seen[4][997], any[997];
    for (int id = 0; id < NP; id++) {
        if (id % 37 == 0) {
            nulls++;
            continue;
        }
        int c = camp[id % 10][1] - '0';
        rows[c]++;
        if (!u_null(id))
            seen[c][u_of(id)] = true;
        if (!u_null(id))
            any[u_of(id)] = true;
    }
    char want[512] = "", line[64];
    for (int c = 0; c < 4; c++) {
        long d = 0;
        for (int u = 0; u < 997; u++)
            d += seen[c][u];
        snprintf(line, sizeof line, "c%d,%ld,%ld\n", c, rows[c], d);
        strcat(want, line);
    }
    snprintf(line, sizeof line, "\n,%ld\n", nulls); /* the NULL campaign, last */
    for (size_t t = 1; t <= 8; t *= 2) {
        char *got = run("SELECT c, COUNT(*), COUNT(DISTINCT u) FROM p WHERE c IS NOT NULL "
                        "GROUP BY c ORDER BY c",
                        t, 0, 0);
        CHECK_STR(got, want);
        free(got);
        got = run("SELECT c, COUNT(*) FROM p GROUP BY c ORDER BY c NULLS LAST", t, 0, 0);
        CHECK(strstr(got, line) != NULL);
        free(got);
    }
    for (int u = 0; u < 997; u++)
        users += any[u];
    snprintf(want, sizeof want, "%d,%ld,%ld\n", NP, users, (long)NP - NP / 50);
    for (size_t t = 1; t <= 8; t *= 2) {
        char *got = run("SELECT COUNT(*), COUNT(DISTINCT u), COUNT(u) FROM p", t, 5, 0);
        CHECK_STR(got, want);
        free(got);
    }
}

static void test_memory_limit_under_threads(void)
{
    static const size_t threads[] = {1, 2, 8};
    for (size_t t = 0; t < 3; t++) {
        char *got = run("SELECT u, COUNT(DISTINCT id) FROM p GROUP BY u", threads[t], 0, 16384);
        CHECK_STR(
            got,
            "ERR the query needs more than its memory limit of 0 MiB; make the query smaller, or "
            "raise the limit (dcr sql --memory-limit, dcr serve --query-memory)");
        free(got);
        got = run("SELECT COUNT(*) FROM p JOIN q ON p.u = q.u", threads[t], 100, 4096);
        CHECK(strncmp(got, "ERR the query needs more than its memory limit", 46) == 0);
        free(got);
    }
}

/* The least memory limit (bytes) under which sql runs, by bisection:
 * under it the query fails with the memory-limit error. */
static size_t least_limit(const char *sql)
{
    size_t lo = 1, hi = (size_t)64 << 20; /* fails at lo - 1 (none: 0 is the default), runs at hi */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        char *got = run(sql, 1, 64, mid);
        bool over = strncmp(got, "ERR the query needs more than its memory limit", 46) == 0;
        CHECK(over || strncmp(got, "ERR", 3) != 0);
        free(got);
        if (over)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* An aggregate gives its groups' memory back once it has emitted them all
 * (aggregate.c, release_groups), so a join building its table from a
 * DISTINCT's rows needs the larger of the two, not their sum. DISTINCT id,
 * u over p is all of p's rows (id is unique), so the third query joins the
 * same rows without the aggregate. */
static void test_aggregate_releases_groups(void)
{
    size_t join = least_limit(
        "SELECT COUNT(*) FROM q LEFT JOIN (SELECT DISTINCT id, u FROM p) d ON q.u = d.u");
    size_t agg = least_limit("SELECT COUNT(*) FROM (SELECT DISTINCT id, u FROM p) d");
    size_t rows =
        least_limit("SELECT COUNT(*) FROM q LEFT JOIN (SELECT id, u FROM p) d ON q.u = d.u");
    /* holding both needs about their sum (here 396 kB against 230 + 180 kB:
     * they share the scan of p); released, the groups are gone before the
     * join's table is built (266 kB) */
    CHECK(4 * join < 3 * (agg + rows));
}

/* ---- the primitive itself ---- */

typedef struct {
    atomic_int runs[100];
    size_t fail_at; /* a part that fails, or 100 for none */
    dcr_exec_ctx *ctx;
    atomic_int nested;
} parts_arg;

static dcr_status count_part(void *arg, size_t part, dcr_error *err)
{
    parts_arg *a = arg;
    atomic_fetch_add(&a->runs[part], 1);
    if (part == a->fail_at)
        return dcr_fail(err, DCR_EINPUT, "part %zu failed", part);
    return DCR_OK;
}

static dcr_status nested_inner(void *arg, size_t part, dcr_error *err)
{
    (void)part;
    (void)err;
    atomic_fetch_add(&((parts_arg *)arg)->nested, 1);
    return DCR_OK;
}

static dcr_status nested_part(void *arg, size_t part, dcr_error *err)
{
    parts_arg *a = arg;
    atomic_fetch_add(&a->runs[part], 1);
    return dcr_exec_parallel(a->ctx, 3, nested_inner, a, err);
}

static void test_parts_primitive(void)
{
    for (size_t threads = 1; threads <= 8; threads++) {
        dcr_exec_ctx ctx = {.threads = threads, .split_rows = 1};
        static parts_arg a;
        for (int round = 0; round < 3; round++) { /* the same workers, reused */
            memset(&a, 0, sizeof a);
            a.fail_at = 100;
            dcr_error err = {0};
            CHECK(dcr_exec_parallel(&ctx, 100, count_part, &a, &err) == DCR_OK);
            for (int i = 0; i < 100; i++)
                CHECK(atomic_load(&a.runs[i]) == 1);
        }
        memset(&a, 0, sizeof a);
        a.fail_at = 37;
        dcr_error err = {0};
        CHECK(dcr_exec_parallel(&ctx, 100, count_part, &a, &err) == DCR_EINPUT);
        CHECK_STR(err.msg, "part 37 failed");
        CHECK(atomic_load(&a.runs[37]) == 1);
        memset(&a, 0, sizeof a);
        a.ctx = &ctx;
        CHECK(dcr_exec_parallel(&ctx, 10, nested_part, &a, &err) == DCR_OK);
        CHECK(atomic_load(&a.nested) == 30);
        dcr_exec_workers_stop(&ctx);
        CHECK(ctx.workers == NULL);
        CHECK(dcr_exec_parts(&ctx, 0) == 1);
        CHECK(dcr_exec_parts(&ctx, 1000) == (threads < 16 ? 4 * threads : 64));
    }
}

/* The DISTINCT pair set: fresh exactly on each key's first insertion, in
 * batches of any size (it resizes between them), including the key 0 and
 * keys that differ only in their high bits. */
static void test_u64set(void)
{
    enum { RANGE = 50000, ROWS = 4096 };
    static bool seen[RANGE];
    static uint64_t keys[ROWS], hashes[ROWS];
    static uint32_t rows[ROWS];
    static uint8_t fresh[ROWS];
    dcr_u64set set;
    dcr_u64set_init(&set);
    uint32_t x = 12345;
    size_t distinct = 0, wrong = 0;
    for (size_t batch = 1; batch < 120; batch++) {
        size_t m = (batch * 37) % ROWS + 1;
        for (size_t j = 0; j < m; j++) {
            x = x * 1103515245u + 12345u;
            uint64_t v = (x >> 8) % RANGE;
            keys[m - 1 - j] = v << 32 | (v & 1); /* rows in reverse: order is by rows[] */
            hashes[m - 1 - j] = dcr_u64set_hash(keys[m - 1 - j]);
            rows[j] = (uint32_t)(m - 1 - j);
        }
        dcr_error err = {0};
        CHECK(dcr_u64set_insert_rows(&set, keys, hashes, rows, m, fresh, &err) == DCR_OK);
        for (size_t j = 0; j < m; j++) {
            size_t v = (size_t)(keys[rows[j]] >> 32);
            wrong += fresh[rows[j]] != !seen[v];
            distinct += !seen[v];
            seen[v] = true;
        }
    }
    CHECK(wrong == 0);
    CHECK(seen[0] && set.has_zero); /* 0 << 32 | 0 is the key 0 */
    CHECK(set.n + set.has_zero == distinct);
    CHECK(set.nslots >= 2 * set.n);
    dcr_u64set_free(&set);
}

/* A keytab keyed by one TEXT value keeps 32-byte records (keytab.c): keys
 * of every length around the 31 bytes a record holds, sharing their first
 * 31 bytes or differing only in the last one, the empty string and NULL,
 * each get one entry and are found again. */
/* Pushes the keys at the edges of inline records onto c, each `copies`
 * times in a row: "", then for every length 1..69 three keys of 'a's
 * whose last byte is 'a', 'b' or 'c' (208 keys). */
static void push_edge_keys(dcr_column *c, int copies)
{
    char buf[80];
    memset(buf, 'a', sizeof buf);
    for (size_t len = 0; len < 70; len++) {
        for (char last = 'a'; last <= 'c'; last++) {
            if (len == 0 && last != 'a')
                continue;
            if (len)
                buf[len - 1] = last;
            for (int k = 0; k < copies; k++)
                CHECK(dcr_column_push_text(c, buf, len, NULL) == DCR_OK);
            if (len)
                buf[len - 1] = 'a';
        }
    }
}

static void test_keytab_text_records(void)
{
    dcr_column col;
    dcr_column_init(&col, DCR_TYPE_TEXT);
    dcr_error err = {0};
    for (int round = 0; round < 2; round++) { /* the second round finds every key */
        push_edge_keys(&col, 1);
        CHECK(dcr_column_push_null(&col, &err) == DCR_OK);
    }
    size_t n = col.nrows, distinct = n / 2;
    CHECK(distinct == 1 + 69 * 3 + 1); /* "", 3 per length 1..69, NULL */
    dcr_type t = DCR_TYPE_TEXT;
    dcr_keytab kt;
    CHECK(dcr_keytab_init(&kt, &t, 1, &err) == DCR_OK);
    CHECK(kt.inline_text);
    uint64_t *hashes = calloc(n, sizeof *hashes);
    uint32_t *ids = calloc(n, sizeof *ids);
    uint8_t *fresh = calloc(n, 1);
    const dcr_column *cols[1] = {&col};
    CHECK(dcr_keytab_upsert_batch(&kt, cols, n, hashes, ids, fresh, &err) == DCR_OK);
    CHECK(kt.n == distinct);
    for (size_t i = 0; i < distinct; i++) {
        CHECK(fresh[i] && ids[i] == i);
        CHECK(!fresh[distinct + i] && ids[distinct + i] == i);
        size_t id;
        CHECK(dcr_keytab_find(&kt, cols, distinct + i, hashes[distinct + i], &id) && id == i);
    }
    free(hashes);
    free(ids);
    free(fresh);
    dcr_keytab_free(&kt);
    dcr_column_free(&col);
}

/* A join on one TEXT key keeps each build row's key in a 32-byte entry
 * (join.c: 27 bytes inline): keys of every length around that, all those
 * longer than 27 bytes sharing their first 27 bytes, some differing only
 * in their last byte, the empty string and NULL. Each of the 1 + 69 * 3
 * non-NULL keys of a is in b twice, so the join has exactly twice as many
 * rows as a has non-NULL keys; a long key matched on its first 27 bytes
 * alone would add rows (they share buckets: 208 keys in 256 buckets). */
static void test_join_text_entries(void)
{
    static dcr_column_def defs[] = {{"k", DCR_TYPE_TEXT, 0, false}};
    dcr_schema a_schema = {"a", 1, defs}, b_schema = {"b", 1, defs};
    dcr_column a_col, b_col;
    dcr_column_init(&a_col, DCR_TYPE_TEXT);
    dcr_column_init(&b_col, DCR_TYPE_TEXT);
    push_edge_keys(&a_col, 1);
    push_edge_keys(&b_col, 2);
    CHECK(dcr_column_push_null(&a_col, NULL) == DCR_OK);
    CHECK(dcr_column_push_null(&b_col, NULL) == DCR_OK);
    dcr_table_source a_src = {1, &a_col, 16}, b_src = {1, &b_col, 16};
    dcr_catalog_entry ent[2] = {{"a", &a_schema}, {"b", &b_schema}};
    dcr_catalog cat = {2, ent};
    dcr_exec_source src[2];
    dcr_table_source_bind(&src[0], &a_src);
    dcr_table_source_bind(&src[1], &b_src);
    static const char *const sql[][2] = {
        {"SELECT count(*), count(DISTINCT a.k) FROM a JOIN b ON a.k = b.k", "416,208\n"},
        {"SELECT count(*), count(DISTINCT a.k) FROM b JOIN a ON a.k = b.k", "416,208\n"},
        {"SELECT count(*), count(b.k) FROM a LEFT JOIN b ON a.k = b.k", "417,416\n"},
        {"SELECT count(*) FROM a JOIN b ON a.k = b.k WHERE length(a.k) <> length(b.k) OR a.k <> "
         "b.k",
         "0\n"},
    };
    for (size_t q = 0; q < sizeof sql / sizeof sql[0]; q++) {
        for (size_t threads = 1; threads <= 2; threads++) {
            dcr_plan *p;
            dcr_error err = {0};
            dcr_result r;
            dcr_exec_opts opts = {.batch_rows = 64, .threads = threads, .split_rows = 1};
            dcr_status s = dcr_sql_compile(sql[q][0], &cat, &p, NULL, &err);
            if (s == DCR_OK) {
                s = dcr_exec_run(p, src, 2, &opts, &r, NULL, &err);
                dcr_plan_free(p);
            }
            char *got = s == DCR_OK ? answer_rows(&r) : answer_error(&err);
            CHECK_STR(got, sql[q][1]);
            free(got);
        }
    }
    dcr_column_free(&a_col);
    dcr_column_free(&b_col);
}

/* dcr_vec_append_nulls clears validity a byte at a time in the middle:
 * every start and length around byte edges leaves the rows before it
 * valid, the new ones NULL, and the NULL count right. */
static void test_append_nulls_bits(void)
{
    for (size_t base = 0; base < 18; base++) {
        for (size_t n = 0; n < 41; n++) {
            dcr_column c;
            dcr_column_init(&c, DCR_TYPE_BIGINT);
            for (size_t i = 0; i < base; i++)
                CHECK(dcr_column_push_i64(&c, (int64_t)i, NULL) == DCR_OK);
            CHECK(dcr_vec_append_nulls(&c, n, NULL) == DCR_OK);
            CHECK(dcr_column_push_i64(&c, 7, NULL) == DCR_OK); /* a valid row after */
            CHECK(c.nrows == base + n + 1 && c.nnulls == n);
            for (size_t i = 0; i < c.nrows; i++)
                CHECK(dcr_column_is_null(&c, i) == (i >= base && i < base + n));
            dcr_column_free(&c);
        }
    }
}

/* dcr_big_resize keeps the contents through growth below, across and above
 * DCR_BIG_BYTES, many times over (a mapping whose address and size are not
 * 2 MiB multiples must still grow: mremap refuses a range advised in parts). */
/* 150,000 groups: the per-group state arrays (counts, 128-bit sums, first
 * rows, MIN text pointers) pass 1 MiB and move from malloc to their own
 * growing mappings (dcr_big_resize), whose new pages must read as zero. */
static void test_big_groups(void)
{
    enum { ROWS = 300000, GROUPS = 150000 };
    static dcr_column_def defs[] = {{"k", DCR_TYPE_BIGINT, 0, false},
                                    {"v", DCR_TYPE_BIGINT, 0, false},
                                    {"s", DCR_TYPE_TEXT, 0, false}};
    dcr_schema schema = {"b", 3, defs};
    dcr_column cols[3];
    for (int i = 0; i < 3; i++)
        dcr_column_init(&cols[i], defs[i].type);
    for (int i = 0; i < ROWS; i++) {
        char t[16];
        int n = snprintf(t, sizeof t, "s%d", i % GROUPS);
        dcr_column_push_i64(&cols[0], i % GROUPS, NULL);
        dcr_column_push_i64(&cols[1], i, NULL);
        dcr_column_push_text(&cols[2], t, (size_t)n, NULL);
    }
    dcr_table_source b_src = {3, cols, 4096};
    dcr_catalog_entry ent[1] = {{"b", &schema}};
    dcr_catalog cat = {1, ent};
    dcr_exec_source src[1];
    dcr_table_source_bind(&src[0], &b_src);
    for (size_t threads = 1; threads <= 2; threads++) {
        dcr_plan *p;
        dcr_error err = {0};
        dcr_result r;
        dcr_exec_opts opts = {.batch_rows = 4096, .threads = threads};
        dcr_status s = dcr_sql_compile(
            "SELECT count(*), min(n), max(n), sum(t), min(m), max(m) FROM (SELECT k, count(*) AS "
            "n, sum(v) AS t, min(s) AS m FROM b GROUP BY k) x",
            &cat, &p, NULL, &err);
        if (s == DCR_OK) {
            s = dcr_exec_run(p, src, 1, &opts, &r, NULL, &err);
            dcr_plan_free(p);
        }
        char *got = s == DCR_OK ? answer_rows(&r) : answer_error(&err);
        CHECK_STR(got, "150000,2,2,44999850000,s0,s99999\n");
        free(got);
    }
    for (int i = 0; i < 3; i++)
        dcr_column_free(&cols[i]);
}

static void test_big_arrays(void)
{
    for (int round = 0; round < 20; round++) {
        size_t size = 1000 + (size_t)round * 4099, bad = 0;
        uint32_t *a = dcr_big_resize(NULL, 0, size);
        CHECK(a != NULL);
        for (size_t i = 0; a && i < size / 4; i++)
            a[i] = (uint32_t)(i * 2654435761u) ^ (uint32_t)round;
        while (a && size < ((size_t)40 << 20)) {
            size_t grown = size * 3 / 2 + 4096 * (size_t)round + 12;
            uint32_t *b = dcr_big_resize(a, size, grown);
            CHECK(b != NULL);
            if (!b)
                break;
            for (size_t i = size / 4; i < grown / 4; i++)
                b[i] = (uint32_t)(i * 2654435761u) ^ (uint32_t)round;
            a = b;
            size = grown;
        }
        for (size_t i = 0; a && i < size / 4; i++)
            bad += a[i] != ((uint32_t)(i * 2654435761u) ^ (uint32_t)round);
        CHECK(bad == 0);
        dcr_big_free(a, size);
    }
}

int main(void)
{
    make_tables();
    RUN(test_big_arrays);
    RUN(test_big_groups);
    RUN(test_u64set);
    RUN(test_keytab_text_records);
    RUN(test_join_text_entries);
    RUN(test_append_nulls_bits);
    RUN(test_parts_primitive);
    RUN(test_same_for_any_threads);
    RUN(test_coded_keys);
    RUN(test_known_answers);
    RUN(test_case_label_codes);
    RUN(test_memory_limit_under_threads);
    RUN(test_aggregate_releases_groups);
    free_tables();
    return check_summary();
}

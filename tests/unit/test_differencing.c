/*
 * test_differencing.c: the differencing and tracker defence: the IBLT
 * (insert, erase, subtract, decode, decode failure as "large difference",
 * serialisation), the executor's UNIT_SKETCH aggregate, and attack query
 * sequences run through the SQL front end and the executor with the sketch
 * column added the way the privacy layer adds it (a count with and without
 * one person; a tracker padding a small set with a large one), with the
 * history kept across queries in an in-memory store.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "exec/source.h"
#include "privacy/differencing.h"
#include "privacy/iblt.h"
#include "sql/sql.h"

/* ---- IBLT ---- */

static uint64_t rng_state = 0x1234567;
static uint64_t rnd(void)
{
    uint64_t x = (rng_state += 0x9e3779b97f4a7c15ull);
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static void test_iblt_insert_erase(void)
{
    dcr_iblt t;
    dcr_error err;
    CHECK(dcr_iblt_init(&t, dcr_iblt_cells_for(20), &err) == DCR_OK);
    CHECK(t.ncells % 3 == 0 && t.ncells >= 30);
    uint64_t keys[1000];
    for (int i = 0; i < 1000; i++) {
        keys[i] = rnd();
        dcr_iblt_insert(&t, keys[i]);
    }
    for (int i = 0; i < 1000; i++) /* erasing all leaves an empty table */
        dcr_iblt_erase(&t, keys[i]);
    uint64_t p, m;
    CHECK(dcr_iblt_decode(&t, &p, &m) && p == 0 && m == 0);
    /* A few keys left in decode exactly. */
    for (int i = 0; i < 7; i++)
        dcr_iblt_insert(&t, keys[i]);
    dcr_iblt_erase(&t, keys[500]);
    CHECK(dcr_iblt_decode(&t, &p, &m) && p == 7 && m == 1);
    dcr_iblt_free(&t);
}

/* Two large sets differing by `d` keys (half on each side). */
static bool diff_sets(size_t n, size_t d, size_t cap, uint64_t *plus, uint64_t *minus)
{
    dcr_iblt a, b;
    dcr_error err;
    if (dcr_iblt_init(&a, dcr_iblt_cells_for(cap), &err) ||
        dcr_iblt_init(&b, dcr_iblt_cells_for(cap), &err))
        abort();
    for (size_t i = 0; i < n; i++) {
        uint64_t k = rnd();
        dcr_iblt_insert(&a, k);
        dcr_iblt_insert(&b, k);
    }
    for (size_t i = 0; i < d; i++)
        dcr_iblt_insert(i % 2 ? &b : &a, rnd());
    dcr_iblt_subtract(&a, &b);
    bool ok = dcr_iblt_decode(&a, plus, minus);
    dcr_iblt_free(&a);
    dcr_iblt_free(&b);
    return ok;
}

static void test_iblt_subtract_decode(void)
{
    uint64_t p, m;
    /* 100000 common keys, small differences decode exactly. */
    for (size_t d = 1; d <= 100; d += 33) {
        CHECK(diff_sets(100000, d, 100, &p, &m));
        CHECK(p + m == d && p == (d + 1) / 2);
    }
    /* Decoding many small tables: sized for 2k, differences below k always
     * decode (a failure here would be a fail-open of the defence). */
    size_t failures = 0;
    for (int trial = 0; trial < 2000; trial++)
        failures += !diff_sets(50, (size_t)(trial % 9) + 1, 20, &p, &m);
    CHECK(failures == 0);
}

static void test_iblt_large_difference_fails(void)
{
    uint64_t p, m;
    /* 5000 differing keys in a table sized for 100: reported, not guessed. */
    CHECK(!diff_sets(1000, 5000, 100, &p, &m));
    CHECK(p + m < 5000);
}

static void test_iblt_serialise(void)
{
    dcr_iblt a, b;
    dcr_error err;
    CHECK(dcr_iblt_init(&a, 99, &err) == DCR_OK);
    for (int i = 0; i < 5; i++)
        dcr_iblt_insert(&a, rnd());
    uint8_t *buf = malloc(dcr_iblt_size(&a));
    dcr_iblt_write(&a, buf);
    CHECK(dcr_iblt_read(&b, buf, dcr_iblt_size(&a), &err) == DCR_OK);
    CHECK(b.ncells == a.ncells && memcmp(a.cells, b.cells, a.ncells * sizeof *a.cells) == 0);
    dcr_iblt_free(&b);
    CHECK(dcr_iblt_read(&b, buf, 47, &err) == DCR_EINPUT);
    CHECK_MSG(err, "not a whole table");
    free(buf);
    dcr_iblt_free(&a);
}

/* ---- data: people(email, grp, spend), 1000 rows of 250 people ---- */

static dcr_column_def defs[] = {{"email", DCR_TYPE_TEXT, 0, false},
                                {"grp", DCR_TYPE_TEXT, 0, false},
                                {"spend", DCR_TYPE_BIGINT, 0, false}};
static dcr_schema schema = {"people", 3, defs};
static dcr_column cols[3];
static dcr_table_source src_tab = {3, cols, 97};

/* Person i has 4 rows; grp "a" for i < 100, "b" for 100 <= i < 200, "c"
 * after; spend = i, except the three "targets" 250, 251, 252 of the
 * tracker, which are in grp "c" with spend 9000+. */
static void make_table(void)
{
    for (int c = 0; c < 3; c++)
        dcr_column_init(&cols[c], defs[c].type);
    for (int r = 0; r < 4; r++)
        for (int i = 0; i < 253; i++) {
            char e[32];
            int n = snprintf(e, sizeof e, "p%d@example.com", i);
            dcr_column_push_text(&cols[0], e, (size_t)n, NULL);
            dcr_column_push_text(&cols[1], i < 100 ? "a" : i < 200 ? "b" : "c", 1, NULL);
            dcr_column_push_i64(&cols[2], i >= 250 ? 9000 + i : i, NULL);
        }
}

/* The contract the defence reads: one dataset, k = 10. */
static dcr_contract_dataset the_dataset = {.name = "people", .min_units = 10};
static dcr_contract contract = {.ndatasets = 1, .datasets = &the_dataset, .min_units = 10};

/* Appends UNIT_SKETCH(email) to the aggregate under p's top projection, as
 * the privacy layer's rewrite does, and returns that aggregate. The unit
 * column is taken from the query's COUNT(DISTINCT email). */
static dcr_plan *add_sketch(dcr_plan *p)
{
    dcr_plan *a = p;
    while (a && a->kind != DCR_PLAN_AGGREGATE)
        a = a->child[0];
    if (!a)
        return NULL;
    dcr_error err;
    size_t n = a->ngroups + a->naggs;
    a->exprs = realloc(a->exprs, (n + 1) * sizeof *a->exprs);
    a->types = realloc(a->types, (a->ncols + 1) * sizeof *a->types);
    a->names = realloc(a->names, (a->ncols + 1) * sizeof *a->names);
    dcr_expr *e = dcr_expr_new(DCR_EXPR_AGG, DCR_TYPE_TEXT, -1);
    dcr_expr *arg = NULL;
    for (size_t i = a->ngroups; i < n && !arg; i++)
        if (a->exprs[i]->distinct)
            arg = dcr_expr_copy(a->exprs[i]->args[0]);
    if (!arg)
        return NULL;
    e->agg = DCR_AGG_UNIT_SKETCH;
    if (dcr_expr_add_arg(e, arg, &err) != DCR_OK)
        abort();
    a->exprs[n] = e;
    a->naggs++;
    a->types[a->ncols] = DCR_TYPE_TEXT;
    a->names[a->ncols] = strdup("units");
    a->ncols++;
    return a;
}

/* Runs sql (which has a COUNT(DISTINCT email)) and returns the aggregate's
 * rows, the sketch in the last column. */
static int run_agg(const char *sql, dcr_result *r)
{
    dcr_catalog_entry ent[1] = {{"people", &schema}};
    dcr_catalog cat = {1, ent};
    dcr_exec_source src;
    dcr_table_source_bind(&src, &src_tab);
    dcr_plan *p;
    dcr_error err = {0};
    int loc;
    dcr_exec_opts opts = {.batch_rows = 64};
    if (dcr_sql_compile(sql, &cat, &p, NULL, &err) != DCR_OK) {
        fprintf(stderr, "  %s\n", err.msg);
        return 0;
    }
    dcr_plan *a = add_sketch(p);
    dcr_status s = a ? dcr_exec_run(a, &src, 1, &opts, r, &loc, &err) : DCR_EINTERNAL;
    if (s != DCR_OK)
        fprintf(stderr, "  run: %s\n", err.msg);
    dcr_plan_free(p);
    return s == DCR_OK;
}

static void test_unit_sketch_aggregate(void)
{
    dcr_result r;
    /* Scan columns: email is input column 0 of the aggregate. */
    if (!run_agg("SELECT grp, COUNT(DISTINCT email) FROM people GROUP BY grp ORDER BY grp", &r)) {
        CHECK(0);
        return;
    }
    CHECK(r.nrows == 3 && r.ncols == 3);
    size_t total = 0;
    for (size_t b = 0; b < r.nbatches; b++)
        for (size_t i = 0; i < r.batches[b].nrows; i++) {
            const dcr_column *cnt = &r.batches[b].cols[1], *sk = &r.batches[b].cols[2];
            size_t len;
            const char *v = dcr_vec_text(sk, i, &len);
            /* One 8-byte hash per distinct person, strictly increasing. */
            CHECK(len == 8 * (size_t)((const int64_t *)cnt->values)[i]);
            for (size_t j = 8; j < len; j += 8) {
                uint64_t x, y;
                memcpy(&x, v + j - 8, 8);
                memcpy(&y, v + j, 8);
                CHECK(x < y);
            }
            total += len / 8;
        }
    CHECK(total == 253);
    dcr_result_free(&r);
}

/* ---- the history store (what state/ provides) ---- */

typedef struct {
    size_t n;
    struct {
        char scope[64];
        uint8_t fp[32];
        uint8_t *blob;
        size_t len;
    } e[256];
} store;

static dcr_status store_each(void *ctx, const char *scope, dcr_history_cb cb, void *cbctx,
                             dcr_error *err)
{
    store *s = ctx;
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->e[i].scope, scope) == 0) {
            dcr_status st = cb(cbctx, s->e[i].fp, 32, s->e[i].blob, s->e[i].len, err);
            if (st != DCR_OK)
                return st;
        }
    return DCR_OK;
}

static dcr_status store_put(void *ctx, const char *scope, const uint8_t *fp, size_t fp_len,
                            const uint8_t *blob, size_t len, dcr_error *err)
{
    store *s = ctx;
    if (fp_len != 32)
        return dcr_fail(err, DCR_EINTERNAL, "bad fp");
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->e[i].scope, scope) == 0 && memcmp(s->e[i].fp, fp, 32) == 0)
            return DCR_OK; /* same set already recorded */
    if (s->n == 256)
        return dcr_fail(err, DCR_EINPUT, "history full");
    snprintf(s->e[s->n].scope, sizeof s->e[s->n].scope, "%s", scope);
    memcpy(s->e[s->n].fp, fp, 32);
    s->e[s->n].blob = malloc(len);
    memcpy(s->e[s->n].blob, blob, len);
    s->e[s->n].len = len;
    s->n++;
    return DCR_OK;
}

static void store_free(store *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->e[i].blob);
    s->n = 0;
}

static store the_store;

static dcr_diff_history history(uint8_t key_byte)
{
    dcr_diff_history h = {store_each, store_put, &the_store, {0}};
    memset(h.key, key_byte, sizeof h.key);
    return h;
}

/* Runs one guarded-like query: returns the number of rows
 * released (the rest suppressed by the defence); *last_diff the difference
 * that suppressed the last suppressed row. */
static int query(const char *sql, uint64_t *last_diff)
{
    dcr_result r;
    if (!run_agg(sql, &r))
        return -1;
    dcr_diff_history h = history(7);
    dcr_diff *d;
    dcr_error err;
    if (dcr_diff_begin(&contract, &h, &d, &err) != DCR_OK) {
        fprintf(stderr, "  begin: %s\n", err.msg);
        dcr_result_free(&r);
        return -1;
    }
    int released = 0;
    for (size_t b = 0; b < r.nbatches; b++)
        for (size_t i = 0; i < r.batches[b].nrows; i++) {
            size_t len;
            const char *v = dcr_vec_text(&r.batches[b].cols[r.ncols - 1], i, &len);
            dcr_diff_slot slot = {0, (const uint8_t *)v, len};
            bool sup;
            uint64_t diff;
            if (dcr_diff_check_row(d, &slot, 1, &sup, &diff, &err) != DCR_OK)
                abort();
            if (sup && last_diff)
                *last_diff = diff;
            released += !sup;
        }
    if (dcr_diff_commit(d, &err) != DCR_OK)
        abort();
    dcr_diff_free(d);
    dcr_result_free(&r);
    return released;
}

static void test_attack_with_and_without_one_person(void)
{
    store_free(&the_store);
    uint64_t diff = 0;
    /* 100 people. */
    CHECK(query("SELECT COUNT(DISTINCT email) FROM people WHERE grp = 'a'", NULL) == 1);
    /* The same 100 but one: would reveal p7's row count and membership. */
    CHECK(query("SELECT COUNT(DISTINCT email) FROM people WHERE grp = 'a' AND email <> "
                "'p7@example.com'",
                &diff) == 0);
    CHECK(diff == 1);
    /* ... also when the second query comes in another shape (a SUM). */
    diff = 0;
    CHECK(query("SELECT SUM(spend), COUNT(DISTINCT email) FROM people WHERE grp = 'a' AND spend "
                "<> 7",
                &diff) == 0);
    CHECK(diff == 1);
    /* The identical set again is released (nothing new about membership). */
    CHECK(query("SELECT COUNT(DISTINCT email) FROM people WHERE grp = 'a'", NULL) == 1);
    /* A disjoint group and a far larger set are released. */
    CHECK(query("SELECT COUNT(DISTINCT email) FROM people WHERE grp = 'b'", NULL) == 1);
    CHECK(query("SELECT COUNT(DISTINCT email) FROM people", NULL) == 1);
    /* Differences of k or more are released: 100 vs 90 people. */
    CHECK(query("SELECT COUNT(DISTINCT email) FROM people WHERE grp = 'a' AND spend >= 10", NULL) ==
          1);
}

static void test_attack_tracker(void)
{
    store_free(&the_store);
    uint64_t diff = 0;
    /* Padding: grp b (100 people) plus the 3 big spenders. */
    CHECK(query("SELECT COUNT(DISTINCT email), SUM(spend) FROM people WHERE grp = 'b' OR spend > "
                "9000",
                NULL) == 1);
    /* The padding alone: the difference would give the 3 targets' total. */
    CHECK(query("SELECT COUNT(DISTINCT email), SUM(spend) FROM people WHERE grp = 'b'", &diff) ==
          0);
    CHECK(diff == 3);
    /* In the other order, too. */
    store_free(&the_store);
    CHECK(query("SELECT COUNT(DISTINCT email), SUM(spend) FROM people WHERE grp = 'b'", NULL) == 1);
    CHECK(query("SELECT COUNT(DISTINCT email), SUM(spend) FROM people WHERE grp = 'b' OR spend > "
                "9000",
                NULL) == 0);
}

static void test_history_is_keyed_and_checked(void)
{
    store_free(&the_store);
    CHECK(query("SELECT COUNT(DISTINCT email) FROM people WHERE grp = 'a'", NULL) == 1);
    CHECK(the_store.n == 1);
    /* The blob holds no raw unit hash: a different key gives other cells. */
    uint8_t *first = malloc(the_store.e[0].len);
    size_t first_len = the_store.e[0].len;
    memcpy(first, the_store.e[0].blob, first_len);
    store_free(&the_store);
    dcr_result r;
    if (run_agg("SELECT COUNT(DISTINCT email) FROM people WHERE grp = 'a'", &r)) {
        dcr_diff_history h = history(8);
        dcr_diff *d;
        dcr_error err;
        CHECK(dcr_diff_begin(&contract, &h, &d, &err) == DCR_OK);
        size_t len;
        const char *v = dcr_vec_text(&r.batches[0].cols[r.ncols - 1], 0, &len);
        dcr_diff_slot slot = {0, (const uint8_t *)v, len};
        bool sup;
        uint64_t diff;
        CHECK(dcr_diff_check_row(d, &slot, 1, &sup, &diff, &err) == DCR_OK && !sup);
        CHECK(dcr_diff_commit(d, &err) == DCR_OK);
        dcr_diff_free(d);
        dcr_result_free(&r);
    }
    CHECK(the_store.n == 1 && the_store.e[0].len == first_len);
    CHECK(the_store.n == 1 && memcmp(the_store.e[0].blob, first, first_len) != 0);
    free(first);
    /* A corrupt history entry refuses (fail closed), naming the problem. */
    the_store.e[0].blob[0] ^= 1;
    dcr_diff_history h = history(7);
    dcr_diff *d;
    dcr_error err;
    CHECK(dcr_diff_begin(&contract, &h, &d, &err) == DCR_EINPUT);
    CHECK_MSG(err, "differencing history: an entry is not a sketch");
    store_free(&the_store);
}

static void test_large_sets(void)
{
    /* 200000 units vs the same minus one: a sketch of a few KB finds it. */
    size_t n = 200000;
    uint64_t *h = malloc(n * 8);
    for (size_t i = 0; i < n; i++)
        h[i] = i * 2654435761u; /* distinct; the PRF randomises them */
    dcr_diff_history hist = {NULL, NULL, NULL, {1}};
    dcr_diff *d;
    dcr_error err;
    CHECK(dcr_diff_begin(&contract, &hist, &d, &err) == DCR_OK);
    dcr_diff_slot all = {0, (const uint8_t *)h, n * 8},
                  but_one = {0, (const uint8_t *)(h + 1), (n - 1) * 8};
    dcr_diff_slot other = {0, (const uint8_t *)(h + 100), (n - 100) * 8};
    bool sup;
    uint64_t diff;
    CHECK(dcr_diff_check_row(d, &all, 1, &sup, &diff, &err) == DCR_OK && !sup);
    CHECK(dcr_diff_check_row(d, &but_one, 1, &sup, &diff, &err) == DCR_OK && sup && diff == 1);
    CHECK(dcr_diff_check_row(d, &other, 1, &sup, &diff, &err) == DCR_OK && !sup);
    dcr_diff_stats st;
    dcr_diff_get_stats(d, &st);
    CHECK(st.suppressed == 1 && st.compared >= 1);
    dcr_diff_free(d);
    free(h);
}

int main(void)
{
    make_table();
    RUN(test_iblt_insert_erase);
    RUN(test_iblt_subtract_decode);
    RUN(test_iblt_large_difference_fails);
    RUN(test_iblt_serialise);
    RUN(test_unit_sketch_aggregate);
    RUN(test_attack_with_and_without_one_person);
    RUN(test_attack_tracker);
    RUN(test_history_is_keyed_and_checked);
    RUN(test_large_sets);
    store_free(&the_store);
    for (int c = 0; c < 3; c++)
        dcr_column_free(&cols[c]);
    return check_summary();
}

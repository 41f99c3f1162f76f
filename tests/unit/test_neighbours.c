/*
 * test_neighbours.c: the neighbouring-dataset property test of the guarded
 * query path (issue 17, "Must be shown"). Nothing an analyst can observe may
 * depend on one person except through the protection itself.
 *
 * A seeded generator makes random guarded queries (grouped and global
 * aggregates, WHERE, GROUP BY expressions, HAVING, ORDER BY, LIMIT, DISTINCT,
 * inner and left joins on the contract's join pairs with extra ON
 * conditions, subqueries in FROM, WITH, nested aggregates, UNION ALL, and
 * shapes the contract refuses) over every scalar function and operator of
 * docs/sql.md. Each query runs through dcr_guarded_query() on a dataset D and
 * on neighbours D' that differ from D in ONE planted person ("zz"): removed,
 * or one or more of its values changed to an extreme (BIGINT max/min, the
 * largest/smallest/NaN/infinite DOUBLE, DATE and TIMESTAMP at years 9999
 * and 1, an empty or 4000-character string, a string of LIKE metacharacters
 * and backslashes, an invalid ESCAPE string, NULLs). Half the queries carry
 * the attack of issue 17: a CASE branch only the planted person's row
 * reaches (`CASE WHEN age = 77 THEN age + 9223372036854775807 ELSE ... END`)
 * somewhere in the query (WHERE, ON, GROUP BY, a derived column, HAVING, the
 * select list).
 *
 * Two contracts over the same data: threshold mode and DP mode (the same
 * contract with rules.differential_privacy). For every pair (D, D'):
 *   - the status, the error message and report.rule must be identical
 *     (refusals, failures);
 *   - so must the report fields an analyst sees that are not aggregate
 *     values: k, epsilon, delta, aggregates, template_name, receivers, and
 *     the result's column names and types.
 * Not compared: aggregate values and rows_released (a group resting on k
 * units in D and k-1 in D' is a legitimate threshold decision; in DP mode
 * the number of released groups is noisy), and the exact suppressed counts
 * (rows_suppressed, rows_differencing, inner_suppressed), which are being
 * removed from what analysts see: how often those differ between D and D'
 * is counted and printed instead (the old leak).
 * In DP mode a mismatch is re-run: if D against itself already varies, the
 * difference comes from the noise (an error over noisy values, which is
 * post-processing) and is counted apart, not as a failure.
 *
 * Every mismatch is classed (mode, what differs, the normalised message);
 * the summary prints each class with its count and first example (SQL, both
 * outcomes, the neighbour, the seed).
 *
 * DCR_NEIGH_QUERIES=N   queries (default 10000; each runs on D and on two
 *                       neighbours, so 2N pairs)
 * DCR_NEIGH_SEED=S      generator seed (default fixed)
 * DCR_NEIGH_PRINT=1     print every query
 * DCR_NEIGH_PRINT_FAILED=1  print the queries that fail on D (not refused)
 * DCR_NEIGH_MEM_LIMIT=B  run every query under a memory limit of B bytes (whether
 *                       a query hits the limit must not depend on one person)
 * DCR_NEIGH_SQL=...     run one SQL in both modes against every neighbour
 *                       and print all outcomes (to reproduce a mismatch)
 */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "answers.h"
#include "check.h"
#include "exec/source.h"
#include "privacy/privacy.h"

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

#define PICK(arr) ((arr)[pick((int)(sizeof(arr) / sizeof((arr)[0])))])

/* ---- the contract ---- */

static const char contract_fmt[] =
    "{\"dcr_contract\": 1, \"name\": \"neigh\", \"version\": 1, \"purpose\": \"test\",\n"
    " \"development\": true,\n"
    " \"parties\": [\n"
    "  {\"name\": \"owner\", \"roles\": [\"provider\", \"receiver\"], \"public_key\": \"%s\"},\n"
    "  {\"name\": \"analyst\", \"roles\": [\"provider\", \"analyst\", \"receiver\"], "
    "\"public_key\": \"%s\"}],\n"
    " \"datasets\": [\n"
    "  {\"name\": \"people\", \"owner\": \"owner\", \"privacy_unit\": \"pid\", \"min_units\": 3, "
    "\"columns\": [\n"
    "    {\"name\": \"pid\", \"type\": \"TEXT\", \"role\": \"id\"},\n"
    "    {\"name\": \"acct\", \"type\": \"BIGINT\", \"role\": \"join\"},\n"
    "    {\"name\": \"city\", \"type\": \"TEXT\", \"role\": \"dimension\"},\n"
    "    {\"name\": \"age\", \"type\": \"BIGINT\", \"role\": \"dimension\"},\n"
    "    {\"name\": \"score\", \"type\": \"DOUBLE PRECISION\", \"role\": \"dimension\"},\n"
    "    {\"name\": \"born\", \"type\": \"DATE\", \"role\": \"dimension\"},\n"
    "    {\"name\": \"seen\", \"type\": \"TIMESTAMP\", \"role\": \"dimension\"},\n"
    "    {\"name\": \"vip\", \"type\": \"BOOLEAN\", \"role\": \"dimension\"},\n"
    "    {\"name\": \"esc\", \"type\": \"TEXT\", \"role\": \"dimension\"},\n"
    "    {\"name\": \"note\", \"type\": \"TEXT\", \"role\": \"hidden\"},\n"
    "    {\"name\": \"spend\", \"type\": \"DOUBLE PRECISION\", \"role\": \"metric\", \"bounds\": "
    "[0, 100]},\n"
    "    {\"name\": \"n\", \"type\": \"BIGINT\", \"role\": \"metric\", \"bounds\": [0, 1000]},\n"
    "    {\"name\": \"big\", \"type\": \"BIGINT\", \"role\": \"metric\", \"bounds\": "
    "[-4000000000000000000, 4000000000000000000]},\n"
    "    {\"name\": \"huge\", \"type\": \"DOUBLE PRECISION\", \"role\": \"metric\", \"bounds\": "
    "[-1e308, 1e308]}]},\n"
    "  {\"name\": \"visits\", \"owner\": \"analyst\", \"privacy_unit\": \"pid\", \"min_units\": 4, "
    "\"columns\": [\n"
    "    {\"name\": \"pid\", \"type\": \"TEXT\", \"role\": \"id\"},\n"
    "    {\"name\": \"acct\", \"type\": \"BIGINT\", \"role\": \"join\"},\n"
    "    {\"name\": \"page\", \"type\": \"TEXT\", \"role\": \"dimension\"},\n"
    "    {\"name\": \"day\", \"type\": \"DATE\", \"role\": \"dimension\"},\n"
    "    {\"name\": \"dur\", \"type\": \"BIGINT\", \"role\": \"metric\", \"bounds\": [0, 3600]},\n"
    "    {\"name\": \"amt\", \"type\": \"DOUBLE PRECISION\", \"role\": \"metric\", \"bounds\": "
    "[0, 50]}]}],\n"
    " \"rules\": {\n"
    "  \"aggregation\": {\"min_units\": 3,%s\n"
    "   \"aggregates\": {\"people.spend\": [\"SUM\", \"AVG\", \"MIN\", \"MAX\"],\n"
    "    \"people.n\": [\"SUM\", \"AVG\", \"MIN\", \"MAX\", \"COUNT\"],\n"
    "    \"people.big\": [\"SUM\", \"AVG\"], \"people.huge\": [\"SUM\", \"AVG\"],\n"
    "    \"people.city\": [\"COUNT\", \"COUNT_DISTINCT\"],\n"
    "    \"people.age\": [\"COUNT_DISTINCT\"],\n"
    "    \"people.pid\": [\"COUNT_DISTINCT\"], \"visits.pid\": [\"COUNT_DISTINCT\"],\n"
    "    \"visits.dur\": [\"SUM\", \"AVG\", \"MAX\"], \"visits.amt\": [\"SUM\", \"AVG\"],\n"
    "    \"visits.page\": [\"COUNT\", \"COUNT_DISTINCT\"]},\n"
    "   \"joins\": [{\"left\": \"people.pid\", \"right\": \"visits.pid\"},\n"
    "             {\"left\": \"people.acct\", \"right\": \"visits.acct\"}]},\n"
    "%s"
    "  \"receivers\": {\"analyst\": [\"analyst\", \"owner\"]}},\n"
    " \"evidence\": [{\"type\": \"sim\"}]}\n";

/* Threshold mode answers free-form SQL (and MIN/MAX) only when the parties
 * opt in by keys that name what they give up (docs/privacy.md, "Modes"). */
static const char threshold_opt_in[] = " \"unsafe_free_form_sql_open_to_differencing\": true,"
                                       " \"unsafe_min_max_reveal_one_value\": true,";

static const char dp_rules[] =
    "  \"differential_privacy\": {\"enabled\": true, \"epsilon_per_query\": 8, \"delta\": 1e-5,\n"
    "   \"budget_per_analyst\": 100, \"max_contributions_per_unit\": 2},\n";

enum { M_THRESHOLD, M_DP, NMODES };
static const char *const mode_name[NMODES] = {"threshold", "dp"};
static dcr_contract contracts[NMODES];
static size_t analyst;

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void make_contracts(void)
{
    char a[DCR_PUB_TEXT_LEN + 2], b[DCR_PUB_TEXT_LEN + 2];
    answer_pub_text(a);
    answer_pub_text(b);
    for (int m = 0; m < NMODES; m++) {
        static char text[16384];
        snprintf(text, sizeof text, contract_fmt, a, b, m == M_DP ? "" : threshold_opt_in,
                 m == M_DP ? dp_rules : "");
        dcr_contract_diags d = {0};
        dcr_error err = {0};
        if (dcr_contract_parse(text, strlen(text), "neigh", &contracts[m], &d, &err) != DCR_OK) {
            fprintf(stderr, "contract (%s): %s\n", mode_name[m], err.msg);
            for (size_t i = 0; i < d.n; i++)
                fprintf(stderr, "  %u:%u: %s\n", d.items[i].line, d.items[i].column,
                        d.items[i].msg);
            abort();
        }
        dcr_contract_diags_free(&d);
    }
    analyst = (size_t)dcr_contract_find_party(&contracts[0], "analyst");
}
#pragma GCC diagnostic pop

/* ---- the data: D and its neighbours ---- */

static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

#define US_DAY INT64_C(86400000000)

/* The neighbours: what is done to the planted person. */
enum {
    V_REMOVED,
    V_AGE_MAX,
    V_AGE_MIN,
    V_SCORE_MAX,
    V_SCORE_TINY,
    V_SCORE_NEGMAX,
    V_SCORE_NAN,
    V_SCORE_INF,
    V_BORN_MAX,
    V_BORN_MIN,
    V_SEEN_MAX,
    V_SEEN_MIN,
    V_CITY_EMPTY,
    V_CITY_LONG,
    V_CITY_META,
    V_ESC_BAD,
    V_NULLS,
    V_METRIC_MAX,
    V_METRIC_MIN,
    V_VISIT_EXTREME,
    V_ACCT_MAX,
    NVARIANTS
};
static const char *const variant_name[NVARIANTS] = {
    "planted person removed",
    "age = 9223372036854775807",
    "age = -9223372036854775808",
    "score = DBL_MAX",
    "score = 4.9e-324 (denormal)",
    "score = -DBL_MAX",
    "score = NaN",
    "score = Infinity",
    "born = 9999-12-31",
    "born = 0001-01-01",
    "seen = 9999-12-31 23:59:59.999999",
    "seen = 0001-01-01 00:00:00",
    "city = '' (empty)",
    "city = 4000 characters",
    "city = LIKE metacharacters and backslashes '%_\\\\a\\'",
    "esc = 'ab' (an invalid ESCAPE string)",
    "every dimension NULL",
    "metrics at BIGINT max / DBL_MAX",
    "metrics at BIGINT min / -DBL_MAX",
    "visits: page 4000 characters, day 9999-12-31",
    "acct = 9223372036854775807",
};

enum {
    P_PID,
    P_ACCT,
    P_CITY,
    P_AGE,
    P_SCORE,
    P_BORN,
    P_SEEN,
    P_VIP,
    P_ESC,
    P_NOTE,
    P_SPEND,
    P_N,
    P_BIG,
    P_HUGE,
    NP
};
enum { W_PID, W_ACCT, W_PAGE, W_DAY, W_DUR, W_AMT, NW };
static const dcr_type p_types[NP] = {
    DCR_TYPE_TEXT,   DCR_TYPE_BIGINT,    DCR_TYPE_TEXT,    DCR_TYPE_BIGINT, DCR_TYPE_DOUBLE,
    DCR_TYPE_DATE,   DCR_TYPE_TIMESTAMP, DCR_TYPE_BOOLEAN, DCR_TYPE_TEXT,   DCR_TYPE_TEXT,
    DCR_TYPE_DOUBLE, DCR_TYPE_BIGINT,    DCR_TYPE_BIGINT,  DCR_TYPE_DOUBLE};
static const dcr_type w_types[NW] = {DCR_TYPE_TEXT, DCR_TYPE_BIGINT, DCR_TYPE_TEXT,
                                     DCR_TYPE_DATE, DCR_TYPE_BIGINT, DCR_TYPE_DOUBLE};

typedef struct {
    dcr_column p[NP], w[NW];
    dcr_table_source ps, ws;
} dataset;

/* D is data[NVARIANTS]; data[v] is the neighbour v. */
static dataset data[NVARIANTS + 1];
static char long_text[4001];

/* A person's values (pointers/flags; NULL text = SQL NULL). */
typedef struct {
    const char *pid, *city, *esc;
    int64_t acct, age, n, big;
    bool age_null, score_null, born_null, seen_null, vip_null, vip;
    double score, spend, huge;
    int64_t born, seen;
} person;

static void push_text(dcr_column *c, const char *s)
{
    if (s)
        dcr_column_push_text(c, s, strlen(s), NULL);
    else
        dcr_column_push_null(c, NULL);
}

static void push_person(dataset *x, const person *q)
{
    push_text(&x->p[P_PID], q->pid);
    dcr_column_push_i64(&x->p[P_ACCT], q->acct, NULL);
    push_text(&x->p[P_CITY], q->city);
    if (q->age_null)
        dcr_column_push_null(&x->p[P_AGE], NULL);
    else
        dcr_column_push_i64(&x->p[P_AGE], q->age, NULL);
    if (q->score_null)
        dcr_column_push_null(&x->p[P_SCORE], NULL);
    else
        dcr_column_push_f64(&x->p[P_SCORE], q->score, NULL);
    if (q->born_null)
        dcr_column_push_null(&x->p[P_BORN], NULL);
    else
        dcr_column_push_i32(&x->p[P_BORN], (int32_t)q->born, NULL);
    if (q->seen_null)
        dcr_column_push_null(&x->p[P_SEEN], NULL);
    else
        dcr_column_push_i64(&x->p[P_SEEN], q->seen, NULL);
    if (q->vip_null)
        dcr_column_push_null(&x->p[P_VIP], NULL);
    else
        dcr_column_push_bool(&x->p[P_VIP], q->vip, NULL);
    push_text(&x->p[P_ESC], q->esc);
    push_text(&x->p[P_NOTE], "secret");
    dcr_column_push_f64(&x->p[P_SPEND], q->spend, NULL);
    dcr_column_push_i64(&x->p[P_N], q->n, NULL);
    dcr_column_push_i64(&x->p[P_BIG], q->big, NULL);
    dcr_column_push_f64(&x->p[P_HUGE], q->huge, NULL);
}

static void push_visit(dataset *x, const char *pid, int64_t acct, const char *page, int64_t day,
                       int64_t dur, double amt)
{
    push_text(&x->w[W_PID], pid);
    dcr_column_push_i64(&x->w[W_ACCT], acct, NULL);
    push_text(&x->w[W_PAGE], page);
    dcr_column_push_i32(&x->w[W_DAY], (int32_t)day, NULL);
    dcr_column_push_i64(&x->w[W_DUR], dur, NULL);
    dcr_column_push_f64(&x->w[W_AMT], amt, NULL);
}

/* Group sizes by city: Gla has 2 people plus the planted one (3 = k of a
 * people-only query), so removing or moving the planted person flips it. */
static const char *city_of(int i)
{
    static const struct {
        const char *c;
        int n;
    } cs[] = {{"Ams", 20}, {"Ber", 12}, {"Cai", 8}, {"Dub", 6}, {"Edi", 5},
              {"Fes", 4},  {"Gla", 2},  {"Hel", 2}, {"Ist", 1}};
    for (size_t k = 0; k < sizeof cs / sizeof cs[0]; k++) {
        if (i < cs[k].n)
            return cs[k].c;
        i -= cs[k].n;
    }
    return "Ams";
}

#define NPEOPLE 60
static const char *const escs[] = {"!", "#", "\\", "", "^"};
static const char *const pages[] = {"home", "home", "cart", "pay", "faq", "home", "cart", "x%"};

static void build(dataset *x, int variant)
{
    for (int i = 0; i < NP; i++)
        dcr_column_init(&x->p[i], p_types[i]);
    for (int i = 0; i < NW; i++)
        dcr_column_init(&x->w[i], w_types[i]);
    int64_t d1950 = days_from_civil(1950, 1, 1), d2023 = days_from_civil(2023, 1, 1);
    int64_t d2024 = days_from_civil(2024, 1, 1);
    char pid[16];
    for (int i = 0; i < NPEOPLE; i++) {
        snprintf(pid, sizeof pid, "p%d", i);
        person q = {
            .pid = pid,
            .city = city_of(i),
            .esc = escs[i % 5],
            .acct = i / 2,
            .age = 18 + (i * 7) % 50,
            .age_null = i % 19 == 7,
            .score = (i % 13) * 0.75 - 2,
            .score_null = i % 11 == 5,
            .born = d1950 + i * 331,
            .born_null = i % 23 == 9,
            .seen = (d2023 * 24 + i * 37) * (US_DAY / 24) + i * 1000003,
            .seen_null = i % 29 == 3,
            .vip = i % 3 == 0,
            .vip_null = i % 17 == 4,
            .spend = i == 7 ? 250 : (i % 10) * 7.5,
            .n = (i * 13) % 1200,
            .big = (i == 1 || i == 2) ? INT64_C(3000000000000000000) : i * 1000,
            .huge = (i == 1 || i == 2) ? 1e308 : i * 1.5,
        };
        int rows = i % 3 == 0 ? 2 : 1;
        for (int r = 0; r < rows; r++)
            push_person(x, &q);
        int nv = i % 4;
        for (int j = 0; j < nv; j++)
            push_visit(x, pid, i / 2, pages[(i + j * 3) % 8], d2024 + (i * 3 + j) % 40,
                       (i * 97 + j * 13) % 4000, ((i + j) % 9) * 6.5);
    }
    if (variant == V_REMOVED)
        goto done;
    /* The planted person, two rows in people and two visits. */
    person z = {
        .pid = "zz",
        .city = "Gla",
        .esc = "~",
        .acct = 999,
        .age = 77,
        .score = 0.5,
        .born = days_from_civil(1980, 2, 29),
        .seen =
            days_from_civil(2020, 2, 29) * US_DAY + ((12 * 60 + 34) * 60 + 56) * INT64_C(1000000),
        .vip = true,
        .spend = 42.5,
        .n = 500,
        .big = 5,
        .huge = 1.0,
    };
    const char *page = "zp";
    int64_t day = days_from_civil(2024, 2, 29), dur = 600;
    double amt = 12.5;
    switch (variant) {
    case V_AGE_MAX:
        z.age = INT64_MAX;
        break;
    case V_AGE_MIN:
        z.age = INT64_MIN;
        break;
    case V_SCORE_MAX:
        z.score = DBL_MAX;
        break;
    case V_SCORE_TINY:
        z.score = 4.9e-324;
        break;
    case V_SCORE_NEGMAX:
        z.score = -DBL_MAX;
        break;
    case V_SCORE_NAN:
        z.score = NAN;
        break;
    case V_SCORE_INF:
        z.score = INFINITY;
        break;
    case V_BORN_MAX:
        z.born = days_from_civil(9999, 12, 31);
        break;
    case V_BORN_MIN:
        z.born = days_from_civil(1, 1, 1);
        break;
    case V_SEEN_MAX:
        z.seen = days_from_civil(9999, 12, 31) * US_DAY + US_DAY - 1;
        break;
    case V_SEEN_MIN:
        z.seen = days_from_civil(1, 1, 1) * US_DAY;
        break;
    case V_CITY_EMPTY:
        z.city = "";
        break;
    case V_CITY_LONG:
        z.city = long_text;
        break;
    case V_CITY_META:
        z.city = "%_\\\\a\\";
        break;
    case V_ESC_BAD:
        z.esc = "ab";
        break;
    case V_NULLS:
        z.city = z.esc = NULL;
        z.age_null = z.score_null = z.born_null = z.seen_null = z.vip_null = true;
        break;
    case V_METRIC_MAX:
        z.n = z.big = INT64_MAX;
        z.spend = z.huge = DBL_MAX;
        dur = INT64_MAX;
        amt = DBL_MAX;
        break;
    case V_METRIC_MIN:
        z.n = z.big = INT64_MIN;
        z.spend = z.huge = -DBL_MAX;
        dur = INT64_MIN;
        amt = -DBL_MAX;
        break;
    case V_VISIT_EXTREME:
        page = long_text;
        day = days_from_civil(9999, 12, 31);
        break;
    case V_ACCT_MAX:
        z.acct = INT64_MAX;
        break;
    default:
        break;
    }
    push_person(x, &z);
    push_person(x, &z);
    push_visit(x, "zz", z.acct, page, day, dur, amt);
    push_visit(x, "zz", z.acct, "home", day, dur, amt);
done:
    x->ps = (dcr_table_source){NP, x->p, 7};
    x->ws = (dcr_table_source){NW, x->w, 5};
}

static void free_data(void)
{
    for (int v = 0; v <= NVARIANTS; v++) {
        for (int i = 0; i < NP; i++)
            dcr_column_free(&data[v].p[i]);
        for (int i = 0; i < NW; i++)
            dcr_column_free(&data[v].w[i]);
    }
}

/* ---- one guarded run and what an analyst sees of it ---- */

typedef struct {
    dcr_status status;
    char msg[DCR_ERROR_MSG_MAX];
    dcr_privacy_report rep;
    char cols[512]; /* result column names and types */
    char *rows;     /* CSV, or NULL */
} outcome;

static void outcome_free(outcome *o)
{
    free(o->rows);
    o->rows = NULL;
}

static size_t mem_limit; /* DCR_NEIGH_MEM_LIMIT, bytes; 0 = the default */

static void run_one(int mode, int variant, const char *sql, outcome *o)
{
    dcr_exec_source src[2];
    dataset *x = &data[variant];
    dcr_table_source_bind(&src[0], &x->ps);
    dcr_table_source_bind(&src[1], &x->ws);
    dcr_error err = {0};
    dcr_result r;
    memset(&r, 0, sizeof r);
    memset(o, 0, sizeof *o);
    dcr_exec_opts opts = {.batch_rows = 16, .threads = 1, .mem_limit = mem_limit};
    o->status =
        dcr_guarded_query(&contracts[mode], analyst, sql, src, NULL, &opts, &r, &o->rep, &err);
    if (o->status != DCR_OK) {
        snprintf(o->msg, sizeof o->msg, "%s", err.msg);
        return;
    }
    size_t len = 0;
    for (size_t c = 0; c < r.ncols && len < sizeof o->cols; c++)
        len += (size_t)snprintf(o->cols + len, sizeof o->cols - len, "%s%s %s", c ? ", " : "",
                                r.names[c], dcr_type_name(r.types[c]));
    o->rows = answer_rows(&r);
}

/* ---- mismatch classes ---- */

#define MAX_CLASSES 256
typedef struct {
    char key[512];
    int mode;
    size_t count;
    char *sql;
    char detail[2048];
    bool noise; /* differs run to run on the same data (DP post-processing) */
} mclass;

static mclass classes[MAX_CLASSES];
static size_t nclasses;
static uint64_t seed;

/* The message with SQL:L:C: positions replaced, so one class covers all. */
static void normalise(const char *msg, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *p = msg; *p && o + 1 < cap;) {
        if (strncmp(p, "SQL:", 4) == 0) {
            const char *q = p + 4;
            while ((*q >= '0' && *q <= '9') || *q == ':')
                q++;
            if (q > p + 4) {
                int n = snprintf(out + o, cap - o, "SQL:L:C:");
                o += (size_t)n < cap - o ? (size_t)n : cap - o - 1;
                p = q;
                continue;
            }
        }
        out[o++] = *p++;
    }
    out[o] = 0;
    if (strlen(out) > 160)
        strcpy(out + 157, "...");
}

static void describe(const outcome *o, char *out, size_t cap)
{
    if (o->status != DCR_OK)
        snprintf(out, cap, "status %d, rule \"%s\": %s", (int)o->status, o->rep.rule, o->msg);
    else
        snprintf(out, cap,
                 "ok, %zu rows released (suppressed %zu, differencing %zu, inner %zu), k %" PRId64
                 ", eps %g, columns [%s]",
                 o->rep.rows_released, o->rep.rows_suppressed, o->rep.rows_differencing,
                 o->rep.inner_suppressed, o->rep.k, o->rep.epsilon, o->cols);
}

static size_t mismatches[NMODES], noise_mismatches[NMODES];

static void record(int mode, const char *what, const outcome *a, const outcome *b, int variant,
                   const char *sql, bool noise)
{
    char key[512], na[200], nb[200];
    normalise(a->status == DCR_OK ? "ok" : a->msg, na, sizeof na);
    normalise(b->status == DCR_OK ? "ok" : b->msg, nb, sizeof nb);
    if (strcmp(what, "status") == 0 || strcmp(what, "message") == 0) {
        /* class by the failing side's message (order-independent) */
        const char *f = a->status != DCR_OK ? na : nb;
        const char *other = a->status != DCR_OK ? nb : na;
        if (a->status != DCR_OK && b->status != DCR_OK)
            snprintf(key, sizeof key, "%s%s: errors differ: \"%s\" vs \"%s\"", mode_name[mode],
                     noise ? " (noise)" : "", na, nb);
        else
            snprintf(key, sizeof key, "%s%s: fails on one side only: \"%s\" (other: %s)",
                     mode_name[mode], noise ? " (noise)" : "", f, other);
    } else {
        snprintf(key, sizeof key, "%s%s: report field %s differs", mode_name[mode],
                 noise ? " (noise)" : "", what);
    }
    if (noise)
        noise_mismatches[mode]++;
    else
        mismatches[mode]++;
    for (size_t i = 0; i < nclasses; i++)
        if (strcmp(classes[i].key, key) == 0) {
            classes[i].count++;
            return;
        }
    if (nclasses == MAX_CLASSES)
        return;
    mclass *c = &classes[nclasses++];
    snprintf(c->key, sizeof c->key, "%s", key);
    c->mode = mode;
    c->count = 1;
    c->noise = noise;
    c->sql = strdup(sql);
    char da[900], db[900];
    describe(a, da, sizeof da);
    describe(b, db, sizeof db);
    snprintf(c->detail, sizeof c->detail, "neighbour: %s\n      D : %s\n      D': %s",
             variant_name[variant], da, db);
}

/* Which analyst-visible field differs, or NULL. */
static const char *differs(const outcome *a, const outcome *b)
{
    if (a->status != b->status)
        return "status";
    if (strcmp(a->msg, b->msg) != 0)
        return "message";
    if (strcmp(a->rep.rule, b->rep.rule) != 0)
        return "rule";
    if ((a->rep.protection == NULL) != (b->rep.protection == NULL) ||
        (a->rep.protection && strcmp(a->rep.protection, b->rep.protection) != 0))
        return "protection";
    if (a->rep.k != b->rep.k)
        return "k";
    if (a->rep.epsilon != b->rep.epsilon || a->rep.delta != b->rep.delta)
        return "epsilon/delta";
    if (a->rep.aggregates != b->rep.aggregates)
        return "aggregates";
    if (strcmp(a->rep.template_name, b->rep.template_name) != 0)
        return "template_name";
    if (a->rep.nreceivers != b->rep.nreceivers ||
        (a->rep.nreceivers &&
         memcmp(a->rep.receivers, b->rep.receivers, a->rep.nreceivers * sizeof(size_t)) != 0))
        return "receivers";
    if (strcmp(a->cols, b->cols) != 0)
        return "result columns";
    return NULL;
}

/* The exact counts about suppressed rows (being removed from what analysts
 * see): whether they differ between D and D' (the old leak). */
static bool suppressed_counts_differ(const outcome *a, const outcome *b)
{
    return a->rep.rows_suppressed != b->rep.rows_suppressed ||
           a->rep.rows_differencing != b->rep.rows_differencing ||
           a->rep.inner_suppressed != b->rep.inner_suppressed;
}

/* ---- counters ---- */

static size_t n_queries[NMODES], n_pairs[NMODES], n_refused[NMODES], n_failed[NMODES],
    n_answered[NMODES], n_attack[NMODES], n_supp_differ[NMODES], n_supp_both_ok[NMODES],
    n_released_differ[NMODES];
#define MAX_RULES 32
static struct {
    char rule[40];
    size_t n[NMODES];
} rules[MAX_RULES];
static size_t nrules;
#define MAX_FAILS 64
static struct {
    char msg[120];
    size_t n[NMODES];
} fails[MAX_FAILS];
static size_t nfails;

static void count_outcome(int mode, const outcome *o)
{
    if (o->status == DCR_OK) {
        n_answered[mode]++;
        return;
    }
    if (o->rep.rule[0]) {
        n_refused[mode]++;
        size_t i;
        for (i = 0; i < nrules && strcmp(rules[i].rule, o->rep.rule) != 0; i++)
            ;
        if (i == nrules && nrules < MAX_RULES)
            snprintf(rules[nrules++].rule, sizeof rules[0].rule, "%s", o->rep.rule);
        if (i < MAX_RULES)
            rules[i].n[mode]++;
        return;
    }
    n_failed[mode]++;
    char m[200];
    normalise(o->msg, m, sizeof m);
    const char *p = strstr(m, "SQL:L:C: ");
    p = p ? p + 9 : m;
    size_t i;
    for (i = 0; i < nfails && strncmp(fails[i].msg, p, sizeof fails[0].msg - 1) != 0; i++)
        ;
    if (i == nfails && nfails < MAX_FAILS)
        snprintf(fails[nfails++].msg, sizeof fails[0].msg, "%.119s", p);
    if (i < MAX_FAILS)
        fails[i].n[mode]++;
}

/* ---- the query generator ---- */

typedef struct {
    char s[16384];
    size_t len;
} sb;

static void put(sb *b, const char *s)
{
    size_t n = strlen(s);
    if (b->len + n >= sizeof b->s)
        n = sizeof b->s - b->len - 1;
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

static void putf(sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(sb *b, const char *fmt, ...)
{
    char t[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t, sizeof t, fmt, ap);
    va_end(ap);
    put(b, t);
}

typedef enum { TI, TF, TT, TB, TD, TS, TV, NTY } ty;

/* What an expression over rows may read: people's columns with prefix p
 * ("" or "p."), visits' with prefix v, either NULL when not in scope. */
typedef struct {
    const char *p, *v;
} scope;

static int gmode;          /* the mode being generated for */
static int attack_budget;  /* planted-person CASE branches still to place */
static bool attack_placed; /* one was placed in this query */

static void gen(sb *b, ty t, int depth, const scope *sc);

static const char *const c_int[] = {"0", "1", "2", "3", "-1", "7", "77", "100", "1000", "42"};
static const char *const c_int_x[] = {"9223372036854775807", "-9223372036854775807",
                                      "(-9223372036854775807 - 1)", "4611686018427387904"};
static const char *const c_dbl[] = {"0.5", "1.5", "-2.25", "0.0", "10.0", "3e2", "1e-3"};
static const char *const c_dbl_x[] = {
    "1e308", "-1e308", "1e-308", "1.7976931348623157e308", "'NaN'::float8", "'Infinity'::float8"};
static const char *const c_text[] = {"'Gla'", "'Ams'",  "''",   "'a%'", "'G_a'", "'~'",
                                     "'\\'",  "'home'", "'x%'", "'zp'", "'%'",   "'Gl%'"};
static const char *const c_date[] = {"DATE '1980-02-29'", "DATE '2000-01-01'", "DATE '1950-01-01'",
                                     "DATE '2024-02-29'", "DATE '9999-12-31'", "DATE '0001-01-01'"};
static const char *const c_ts[] = {
    "TIMESTAMP '2020-02-29 12:34:56'", "TIMESTAMP '2023-01-01'", "TIMESTAMP '2000-06-15 08:00'",
    "TIMESTAMP '9999-12-31 23:59:59'", "TIMESTAMP '0001-01-01 00:00:00'"};
static const char *const c_iv[] = {"INTERVAL '1 day'",
                                   "INTERVAL '3 months'",
                                   "INTERVAL '90' MINUTE",
                                   "INTERVAL '1 year 2 mons 3 days'",
                                   "INTERVAL '-1 days +02:00:00'",
                                   "INTERVAL '8000 years'",
                                   "'1.5 days'::interval"};
static const char *const ts_units[] = {"'minute'", "'hour'",  "'day'",
                                       "'week'",   "'month'", "'year'"};
static const char *const ts_fields[] = {"year",   "month", "day", "hour", "minute",
                                        "second", "dow",   "doy", "epoch"};
static const char *const iv_fields[] = {"year",   "month",  "day",  "hour",
                                        "minute", "second", "epoch"};

static void gconst(sb *b, ty t)
{
    switch (t) {
    case TI:
        put(b, chance(12) ? PICK(c_int_x) : PICK(c_int));
        break;
    case TF:
        put(b, chance(12) ? PICK(c_dbl_x) : PICK(c_dbl));
        break;
    case TT:
        put(b, PICK(c_text));
        break;
    case TB:
        put(b, chance(50) ? "TRUE" : "FALSE");
        break;
    case TD:
        put(b, PICK(c_date));
        break;
    case TS:
        put(b, PICK(c_ts));
        break;
    case TV:
        put(b, PICK(c_iv));
        break;
    default:
        put(b, "NULL");
    }
}

/* A row-level leaf of type t. */
static void gleaf(sb *b, ty t, const scope *sc)
{
    bool v = sc->v && (!sc->p || chance(40));
    if (chance(25) || (!sc->p && !sc->v)) {
        gconst(b, t);
        return;
    }
    switch (t) {
    case TI:
        if (v)
            putf(b, "length(%spage)", sc->v);
        else
            putf(b, "%sage", sc->p);
        break;
    case TF:
        if (v)
            putf(b, "date_part('doy', %sday)", sc->v); /* visits have no DOUBLE dimension */
        else
            putf(b, "%sscore", sc->p);
        break;
    case TT:
        if (v)
            putf(b, "%spage", sc->v);
        else
            putf(b, "%s%s", sc->p, chance(70) ? "city" : "esc");
        break;
    case TB:
        if (v)
            putf(b, "(%spage = 'home')", sc->v);
        else
            putf(b, "%svip", sc->p);
        break;
    case TD:
        if (v)
            putf(b, "%sday", sc->v);
        else
            putf(b, "%sborn", sc->p);
        break;
    case TS:
        if (v)
            putf(b, "CAST(%sday AS TIMESTAMP)", sc->v);
        else
            putf(b, "%sseen", sc->p);
        break;
    case TV:
        if (sc->p)
            putf(b, "(%sseen - TIMESTAMP '2000-01-01')", sc->p);
        else
            putf(b, "(CAST(%sday AS TIMESTAMP) - TIMESTAMP '2024-01-01')", sc->v);
        break;
    default:
        put(b, "NULL");
    }
}

/* A condition true (in D) only on the planted person's rows. */
static void gguard(sb *b, const scope *sc)
{
    if (sc->v && (!sc->p || chance(25))) {
        if (chance(50))
            putf(b, "%spage = 'zp'", sc->v);
        else
            putf(b, "%sday = DATE '2024-02-29'", sc->v);
        return;
    }
    const char *p = sc->p;
    switch (pick(9)) {
    case 0:
        putf(b, "%sage = 77", p);
        break;
    case 1:
        putf(b, "%sscore = 0.5", p);
        break;
    case 2:
        putf(b, "%sborn = DATE '1980-02-29'", p);
        break;
    case 3:
        putf(b, "%sseen = TIMESTAMP '2020-02-29 12:34:56'", p);
        break;
    case 4:
        putf(b, "%sesc = '~'", p);
        break;
    case 5:
        putf(b, "%scity = 'Gla' AND %sage > 70", p, p);
        break;
    case 6:
        putf(b, "%sscore BETWEEN 0.4 AND 0.6", p);
        break;
    case 7:
        putf(b, "%sage IN (77, 1000)", p);
        break;
    default:
        putf(b, "%scity LIKE 'Gl%%' AND %svip AND %sage >= 77", p, p, p);
        break;
    }
}

/* An expression of type t that fails (on today's main) on every row that
 * reaches it, or on the planted person's values. */
static void gfail(sb *b, ty t, const scope *sc)
{
    const char *p = sc->p ? sc->p : NULL;
    if (!p) { /* visits only */
        const char *v = sc->v;
        switch (t) {
        case TI:
            putf(b, "length(%spage) * 9223372036854775807", v);
            return;
        case TD:
            putf(b, "%sday + 3000000", v);
            return;
        case TT:
            putf(b, "substr(%spage, 1, -1)", v);
            return;
        case TB:
            putf(b, "(%spage LIKE 'x' ESCAPE %spage)", v, v);
            return;
        default:
            gleaf(b, t, sc);
            return;
        }
    }
    switch (t) {
    case TI:
        switch (pick(7)) {
        case 0:
            putf(b, "%sage + 9223372036854775807", p);
            break;
        case 1:
            putf(b, "%sage * 9223372036854775807", p);
            break;
        case 2:
            putf(b, "(-%sage - 9223372036854775807)", p);
            break;
        case 3:
            putf(b, "CAST(%sscore * 1e300 AS BIGINT)", p);
            break;
        case 4:
            putf(b, "length(substr(%scity, 1, -1))", p);
            break;
        case 5:
            putf(b, "(%sborn - DATE '0001-01-01') * 9223372036854775807", p);
            break;
        default:
            putf(b, "abs(%sage - 9223372036854775807 - 1) * 2", p);
            break;
        }
        break;
    case TF:
        if (chance(50))
            putf(b, "%sage * 1e308 * 10.0", p);
        else
            putf(b, "(%sscore + 1) * 1e308 * 1e308", p);
        break;
    case TT:
        if (chance(50))
            putf(b, "substr(%scity, 1, -1)", p);
        else
            putf(b, "SUBSTRING(%scity FROM 1 FOR -2)", p);
        break;
    case TB:
        switch (pick(4)) {
        case 0:
            putf(b, "(%scity LIKE 'x' ESCAPE %scity)", p, p);
            break;
        case 1:
            putf(b, "('x' ILIKE 'x' ESCAPE %scity)", p);
            break;
        case 2:
            putf(b, "(%sage + 9223372036854775807 > 0)", p);
            break;
        default:
            putf(b, "(%sseen + INTERVAL '8000 years' > TIMESTAMP '2000-01-01')", p);
            break;
        }
        break;
    case TD:
        putf(b, "%sborn %s 3000000", p, chance(50) ? "+" : "-");
        break;
    case TS:
        if (chance(50))
            putf(b, "%sseen + INTERVAL '8000 years'", p);
        else
            putf(b, "%sborn - INTERVAL '9000 years'", p);
        break;
    case TV:
        putf(b, "(%sseen - TIMESTAMP '0001-01-01') * 400", p);
        break;
    default:
        put(b, "NULL");
    }
}

static const char *cmp_op(void)
{
    static const char *const ops[] = {"=", "<>", "<", "<=", ">", ">=", "!="};
    return PICK(ops);
}

static ty comparable(void)
{
    static const ty ts[] = {TI, TI, TF, TT, TT, TD, TS, TV, TB};
    return PICK(ts);
}

static void gen_bool(sb *b, int depth, const scope *sc)
{
    if (depth <= 0) {
        if (chance(50)) {
            ty t = comparable();
            put(b, "(");
            gleaf(b, t, sc);
            putf(b, " %s ", cmp_op());
            gconst(b, t);
            put(b, ")");
        } else {
            gleaf(b, TB, sc);
        }
        return;
    }
    switch (pick(14)) {
    case 0:
    case 1: {
        ty t = comparable();
        put(b, "(");
        gen(b, t, depth - 1, sc);
        putf(b, " %s ", cmp_op());
        gen(b, t, depth - 1, sc);
        put(b, ")");
        break;
    }
    case 2:
        put(b, "(");
        gen(b, TB, depth - 1, sc);
        put(b, chance(50) ? " AND " : " OR ");
        gen(b, TB, depth - 1, sc);
        put(b, ")");
        break;
    case 3:
        put(b, "NOT (");
        gen(b, TB, depth - 1, sc);
        put(b, ")");
        break;
    case 4:
    case 5: { /* LIKE / ILIKE, ESCAPE constant or a column */
        static const char *const ops[] = {"LIKE", "NOT LIKE", "ILIKE", "NOT ILIKE"};
        put(b, "(");
        gen(b, TT, depth - 1, sc);
        putf(b, " %s ", PICK(ops));
        if (chance(70)) {
            static const char *const pats[] = {"'G%'", "'%a%'",    "'_a_'", "'\\%%'", "'a!%%'",
                                               "'%%'", "'%\\\\%'", "'Gla'", "'#_%%'", "''"};
            put(b, PICK(pats));
        } else {
            gen(b, TT, depth - 1, sc);
        }
        int e = pick(6);
        if (e == 1)
            put(b, " ESCAPE '!'");
        else if (e == 2)
            put(b, " ESCAPE ''");
        else if (e == 3)
            put(b, " ESCAPE '#'");
        else if (e == 4 && sc->p)
            putf(b, " ESCAPE %sesc", sc->p);
        put(b, ")");
        break;
    }
    case 6: { /* IN */
        ty t = comparable();
        if (t == TV || t == TB)
            t = TI;
        put(b, "(");
        gen(b, t, depth - 1, sc);
        put(b, chance(30) ? " NOT IN (" : " IN (");
        int n = 1 + pick(3);
        for (int i = 0; i < n; i++) {
            if (i)
                put(b, ", ");
            gconst(b, t);
        }
        if (chance(15))
            put(b, ", NULL");
        put(b, "))");
        break;
    }
    case 7: { /* BETWEEN */
        ty t = comparable();
        if (t == TB)
            t = TF;
        put(b, "(");
        gen(b, t, depth - 1, sc);
        put(b, chance(25) ? " NOT BETWEEN " : " BETWEEN ");
        gconst(b, t);
        put(b, " AND ");
        gconst(b, t);
        put(b, ")");
        break;
    }
    case 8: {
        static const char *const is[] = {" IS NULL", " IS NOT NULL"};
        static const char *const isb[] = {" IS TRUE",      " IS NOT TRUE", " IS FALSE",
                                          " IS NOT FALSE", " IS UNKNOWN",  " IS NOT UNKNOWN"};
        put(b, "(");
        if (chance(50)) {
            gen(b, (ty)pick(TV), depth - 1, sc);
            put(b, PICK(is));
        } else {
            gen(b, TB, depth - 1, sc);
            put(b, PICK(isb));
        }
        put(b, ")");
        break;
    }
    default: {
        ty t = comparable();
        put(b, "(");
        gen(b, t, depth - 1, sc);
        putf(b, " %s ", cmp_op());
        gen(b, t, depth - 1, sc);
        put(b, ")");
        break;
    }
    }
}

/* CASE / COALESCE / NULLIF of type t. */
static void gen_cond_expr(sb *b, ty t, int depth, const scope *sc)
{
    switch (pick(4)) {
    case 0:
        put(b, "CASE WHEN ");
        gen_bool(b, depth - 1, sc);
        put(b, " THEN ");
        gen(b, t, depth - 1, sc);
        if (chance(50)) {
            put(b, " WHEN ");
            gen_bool(b, depth - 1, sc);
            put(b, " THEN ");
            gen(b, t, depth - 1, sc);
        }
        if (chance(70)) {
            put(b, " ELSE ");
            gen(b, t, depth - 1, sc);
        }
        put(b, " END");
        break;
    case 1: {
        ty k = t == TB ? TI : comparable();
        if (k == TB)
            k = TI;
        put(b, "CASE ");
        gen(b, k, depth - 1, sc);
        put(b, " WHEN ");
        gconst(b, k);
        put(b, " THEN ");
        gen(b, t, depth - 1, sc);
        put(b, " ELSE ");
        gen(b, t, depth - 1, sc);
        put(b, " END");
        break;
    }
    case 2:
        put(b, "COALESCE(");
        gen(b, t, depth - 1, sc);
        put(b, ", ");
        gen(b, t, depth - 1, sc);
        put(b, ")");
        break;
    default:
        put(b, "NULLIF(");
        gen(b, t, depth - 1, sc);
        put(b, ", ");
        gen(b, t, depth - 1, sc);
        put(b, ")");
        break;
    }
}

/* An expression of type t over the rows in scope. */
static void gen(sb *b, ty t, int depth, const scope *sc)
{
    if (attack_budget > 0 && chance(20) && (sc->p || sc->v)) {
        attack_budget--;
        attack_placed = true;
        put(b, "CASE WHEN ");
        gguard(b, sc);
        put(b, " THEN ");
        gfail(b, t, sc);
        put(b, " ELSE ");
        gen(b, t, 0, sc);
        put(b, " END");
        return;
    }
    if (depth <= 0 || chance(25)) {
        if (t == TB)
            gen_bool(b, 0, sc);
        else
            gleaf(b, t, sc);
        return;
    }
    if (t == TB) {
        gen_bool(b, depth, sc);
        return;
    }
    if (chance(18)) {
        gen_cond_expr(b, t, depth, sc);
        return;
    }
    switch (t) {
    case TI:
        switch (pick(12)) {
        case 0:
        case 1:
        case 2: {
            static const char *const ops[] = {"+", "-", "*"};
            put(b, "(");
            gen(b, TI, depth - 1, sc);
            putf(b, " %s ", PICK(ops));
            gen(b, TI, depth - 1, sc);
            put(b, ")");
            break;
        }
        case 3: { /* division / modulo by a constant (a column is refused) */
            static const char *const ds[] = {"2", "-1", "7", "3"};
            put(b, "(");
            gen(b, TI, depth - 1, sc);
            putf(b, " %s %s)", chance(50) ? "/" : "%", chance(8) ? "0" : PICK(ds));
            break;
        }
        case 4:
            put(b, "(- ");
            gen(b, TI, depth - 1, sc);
            put(b, ")");
            break;
        case 5:
            put(b, "abs(");
            gen(b, TI, depth - 1, sc);
            put(b, ")");
            break;
        case 6:
            put(b, "length(");
            gen(b, TT, depth - 1, sc);
            put(b, ")");
            break;
        case 7:
            put(b, "CAST(");
            gen(b, TF, depth - 1, sc);
            put(b, chance(50) ? " AS BIGINT)" : " AS int8)");
            break;
        case 8:
            put(b, "(");
            gen(b, TD, depth - 1, sc);
            put(b, " - ");
            gen(b, TD, depth - 1, sc);
            put(b, ")");
            break;
        case 9:
            put(b, "char_length(");
            gen(b, TT, depth - 1, sc);
            put(b, ")");
            break;
        default:
            gleaf(b, TI, sc);
            break;
        }
        break;
    case TF:
        switch (pick(11)) {
        case 0:
        case 1: {
            static const char *const ops[] = {"+", "-", "*"};
            put(b, "(");
            gen(b, chance(70) ? TF : TI, depth - 1, sc);
            putf(b, " %s ", PICK(ops));
            gen(b, TF, depth - 1, sc);
            put(b, ")");
            break;
        }
        case 2:
            put(b, "(");
            gen(b, TF, depth - 1, sc);
            put(b, chance(90) ? " / 4.0)" : " / 0.0)");
            break;
        case 3: {
            static const char *const fs[] = {"round", "floor", "ceil", "ceiling", "abs"};
            putf(b, "%s(", PICK(fs));
            gen(b, chance(70) ? TF : TI, depth - 1, sc);
            put(b, ")");
            break;
        }
        case 4:
            put(b, "round(");
            gen(b, TF, depth - 1, sc);
            putf(b, ", %s)", chance(80) ? "2" : PICK(c_int_x));
            break;
        case 5:
            put(b, "CAST(");
            gen(b, TI, depth - 1, sc);
            put(b, " AS DOUBLE PRECISION)");
            break;
        case 6:
            putf(b, "date_part('%s', ", PICK(ts_fields));
            gen(b, chance(50) ? TS : TD, depth - 1, sc);
            put(b, ")");
            break;
        case 7:
            putf(b, "EXTRACT(%s FROM ", PICK(ts_fields));
            gen(b, chance(50) ? TS : TD, depth - 1, sc);
            put(b, ")");
            break;
        case 8:
            putf(b, "date_part('%s', ", PICK(iv_fields));
            gen(b, TV, depth - 1, sc);
            put(b, ")");
            break;
        case 9:
            put(b, "(- ");
            gen(b, TF, depth - 1, sc);
            put(b, ")");
            break;
        default:
            gleaf(b, TF, sc);
            break;
        }
        break;
    case TT:
        switch (pick(10)) {
        case 0:
            put(b, chance(50) ? "lower(" : "upper(");
            gen(b, TT, depth - 1, sc);
            put(b, ")");
            break;
        case 1:
        case 2:
            put(b, chance(50) ? "substr(" : "substring(");
            gen(b, TT, depth - 1, sc);
            put(b, ", ");
            gen(b, TI, depth - 1, sc);
            if (chance(60)) {
                put(b, ", ");
                if (chance(70))
                    gconst(b, TI);
                else
                    gen(b, TI, depth - 1, sc);
            }
            put(b, ")");
            break;
        case 3: {
            static const char *const fs[] = {"btrim", "ltrim", "rtrim"};
            putf(b, "%s(", PICK(fs));
            gen(b, TT, depth - 1, sc);
            if (chance(50))
                put(b, chance(50) ? ", 'G'" : ", 'a%'");
            put(b, ")");
            break;
        }
        case 4: {
            static const char *const ws[] = {"BOTH", "LEADING", "TRAILING"};
            putf(b, "TRIM(%s 'a' FROM ", PICK(ws));
            gen(b, TT, depth - 1, sc);
            put(b, ")");
            break;
        }
        case 5:
            put(b, "SUBSTRING(");
            gen(b, TT, depth - 1, sc);
            put(b, " FROM 2 FOR ");
            gen(b, TI, depth - 1, sc);
            put(b, ")");
            break;
        case 6: {
            static const ty from[] = {TI, TF, TD, TS, TV, TB};
            put(b, "CAST(");
            gen(b, PICK(from), depth - 1, sc);
            put(b, chance(50) ? " AS TEXT)" : " AS varchar)");
            break;
        }
        default:
            gleaf(b, TT, sc);
            break;
        }
        break;
    case TD:
        switch (pick(5)) {
        case 0:
            put(b, "(");
            gen(b, TD, depth - 1, sc);
            put(b, chance(50) ? " + " : " - ");
            /* a constant amount; a computed one is refused (error-oracle) */
            if (chance(92))
                gconst(b, TI);
            else
                gen(b, TI, depth - 1, sc);
            put(b, ")");
            break;
        case 1:
            put(b, "CAST(");
            gen(b, TS, depth - 1, sc);
            put(b, " AS DATE)");
            break;
        case 2:
            put(b, "(");
            gconst(b, TI);
            put(b, " + ");
            gen(b, TD, depth - 1, sc);
            put(b, ")");
            break;
        default:
            gleaf(b, TD, sc);
            break;
        }
        break;
    case TS:
        switch (pick(6)) {
        case 0:
            put(b, "(");
            gen(b, chance(50) ? TS : TD, depth - 1, sc);
            put(b, chance(50) ? " + " : " - ");
            if (chance(92))
                gconst(b, TV);
            else
                gen(b, TV, depth - 1, sc);
            put(b, ")");
            break;
        case 1:
            putf(b, "date_trunc(%s, ", PICK(ts_units));
            gen(b, chance(50) ? TS : TD, depth - 1, sc);
            put(b, ")");
            break;
        case 2:
            put(b, "CAST(");
            gen(b, TD, depth - 1, sc);
            put(b, " AS TIMESTAMP)");
            break;
        case 3:
            put(b, "(");
            gconst(b, TV);
            put(b, " + ");
            gen(b, TS, depth - 1, sc);
            put(b, ")");
            break;
        default:
            gleaf(b, TS, sc);
            break;
        }
        break;
    case TV:
        switch (pick(6)) {
        case 0:
            put(b, "(");
            gen(b, TS, depth - 1, sc);
            put(b, " - ");
            gen(b, TS, depth - 1, sc);
            put(b, ")");
            break;
        case 1:
            put(b, "(");
            gen(b, TV, depth - 1, sc);
            put(b, chance(50) ? " + " : " - ");
            gen(b, TV, depth - 1, sc);
            put(b, ")");
            break;
        case 2:
            put(b, "(");
            gen(b, TV, depth - 1, sc);
            putf(b, " * %s)", chance(80) ? "1.5" : chance(50) ? "1e300" : "3");
            break;
        case 3:
            put(b, "(");
            gen(b, TV, depth - 1, sc);
            put(b, chance(90) ? " / 2)" : " / 0)");
            break;
        case 4:
            putf(b, "date_trunc(%s, ", chance(50) ? "'hour'" : "'month'");
            gen(b, TV, depth - 1, sc);
            put(b, ")");
            break;
        default:
            put(b, "(- ");
            gen(b, TV, depth - 1, sc);
            put(b, ")");
            break;
        }
        break;
    default:
        put(b, "NULL");
    }
}

/* ---- aggregates ---- */

/* An aggregate over people's (p) or visits' (v) rows allowed by the
 * contract in this mode (mostly), or one it refuses (rarely). */
static void gen_agg(sb *b, const scope *sc)
{
    static const char *const p_thr[] = {"COUNT(*)",
                                        "COUNT(*)",
                                        "COUNT(%scity)",
                                        "COUNT(DISTINCT %scity)",
                                        "COUNT(DISTINCT %spid)",
                                        "COUNT(DISTINCT %sage)",
                                        "SUM(%sspend)",
                                        "AVG(%sspend)",
                                        "SUM(%sn)",
                                        "AVG(%sn)",
                                        "COUNT(%sn)",
                                        "SUM(%sbig)",
                                        "AVG(%sbig)",
                                        "SUM(%shuge)",
                                        "AVG(%shuge)",
                                        "MIN(%sspend)",
                                        "MAX(%sn)",
                                        "MIN(%sn)",
                                        "MAX(%sspend)"};
    static const char *const p_dp[] = {"COUNT(*)",
                                       "COUNT(*)",
                                       "COUNT(%scity)",
                                       "COUNT(DISTINCT %spid)",
                                       "COUNT(DISTINCT %scity)",
                                       "SUM(%sspend)",
                                       "AVG(%sspend)",
                                       "SUM(%sn)",
                                       "AVG(%sn)",
                                       "COUNT(%sn)",
                                       "SUM(%sbig)",
                                       "COUNT(DISTINCT %sage)"};
    static const char *const v_all[] = {"COUNT(DISTINCT %spid)",
                                        "SUM(%sdur)",
                                        "AVG(%sdur)",
                                        "SUM(%samt)",
                                        "AVG(%samt)",
                                        "COUNT(%spage)",
                                        "COUNT(DISTINCT %spage)",
                                        "MAX(%sdur)"};
    static const char *const bad[] = {"SUM(%sspend * 2)", "MAX(%spid)", "COUNT(%snote)",
                                      "SUM(%sage)", "MIN(%sspend + 0)"};
    const char *f;
    const char *pre;
    if (chance(3) && sc->p) {
        f = PICK(bad);
        pre = sc->p;
    } else if (sc->v && (!sc->p || chance(35))) {
        f = PICK(v_all);
        pre = sc->v;
    } else {
        f = gmode == M_DP ? PICK(p_dp) : PICK(p_thr);
        pre = sc->p;
    }
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    putf(b, f, pre);
#pragma GCC diagnostic pop
}

/* A grouping key over rows: a plain dimension or an expression. */
static void gen_key(sb *b, const scope *sc, int depth)
{
    static const char *const pk[] = {"city", "vip", "esc", "city", "age", "born"};
    if (sc->v && (!sc->p || chance(30))) {
        if (chance(70))
            putf(b, "%s%s", sc->v, chance(70) ? "page" : "day");
        else
            gen(b, chance(50) ? TT : TD, depth, sc);
        return;
    }
    if (chance(60)) {
        putf(b, "%s%s", sc->p, PICK(pk));
        return;
    }
    static const ty kt[] = {TT, TB, TI, TD, TS, TF, TV};
    gen(b, PICK(kt), depth, sc);
}

/* A condition over groups (HAVING): aggregates and the group keys. */
static void gen_having(sb *b, const scope *sc, const char *key)
{
    switch (pick(6)) {
    case 0:
        put(b, "COUNT(*) > ");
        put(b, chance(50) ? "2" : "5");
        break;
    case 1:
        gen_agg(b, sc);
        putf(b, " %s ", cmp_op());
        gconst(b, chance(50) ? TI : TF);
        break;
    case 2: /* arithmetic over aggregate values that may overflow */
        put(b, "(");
        gen_agg(b, sc);
        putf(b, " * %s) > 0", chance(50) ? "9223372036854775807" : "1e308");
        break;
    case 3:
        if (key) {
            putf(b, "CASE WHEN %s IS NULL THEN COUNT(*) ELSE 1 END > 0", key);
            break;
        }
        /* fall through */
    case 4:
        if (gmode == M_THRESHOLD && sc->p) {
            putf(b,
                 "CASE WHEN MAX(%sn) = 500 THEN MAX(%sn) + 9223372036854775807 ELSE 0 END "
                 ">= 0",
                 sc->p, sc->p);
            break;
        }
        /* fall through */
    default:
        put(b, "(");
        gen_agg(b, sc);
        put(b, " IS NOT NULL OR COUNT(*) > 3)");
        break;
    }
}

/* ---- query shapes ---- */

static void gen_where(sb *b, const scope *sc, int percent)
{
    if (chance(percent)) {
        put(b, " WHERE ");
        gen_bool(b, 1 + pick(2), sc);
    }
}

static void gen_tail(sb *b, int ncols)
{
    if (chance(35)) {
        putf(b, " ORDER BY %d%s", 1 + pick(ncols), chance(50) ? " DESC" : "");
        if (chance(30))
            put(b, chance(50) ? " NULLS FIRST" : " NULLS LAST");
    }
    if (chance(20))
        putf(b, " LIMIT %d", 1 + pick(4));
    if (chance(5))
        put(b, " OFFSET 1");
}

/* FROM people [alias] [JOIN visits ...]; sets the scope. */
static void gen_from(sb *b, scope *sc, bool allow_join)
{
    int j = allow_join ? pick(10) : 9;
    if (j < 3) {
        bool left = chance(30) && gmode == M_THRESHOLD;
        bool acct = gmode == M_THRESHOLD && chance(30);
        sc->p = "p.";
        sc->v = "v.";
        putf(b, " FROM people p %sJOIN visits v ON %s", left ? "LEFT " : "",
             acct ? "p.acct = v.acct" : "p.pid = v.pid");
        if (chance(35)) {
            put(b, " AND ");
            gen_bool(b, 1, sc);
        }
        return;
    }
    if (j == 3) {
        sc->p = NULL;
        sc->v = "";
        put(b, " FROM visits");
        return;
    }
    if (j == 4) { /* a subquery in FROM, or a WITH query, deriving a column */
        scope in = {"", NULL};
        sb d = {{0}, 0};
        put(&d, "SELECT pid, city, age, vip, n, spend, big, huge, born, seen, score, esc, ");
        static const ty dt[] = {TT, TI, TB, TD, TF};
        gen(&d, PICK(dt), 2, &in);
        put(&d, " AS x FROM people");
        gen_where(&d, &in, 40);
        sc->p = "";
        sc->v = NULL;
        putf(b, " FROM (%s) s", d.s);
        return;
    }
    sc->p = "";
    sc->v = NULL;
    put(b, " FROM people");
}

static void gen_grouped(sb *b)
{
    scope sc;
    sb from = {{0}, 0};
    gen_from(&from, &sc, true);
    bool derived = strstr(from.s, " AS x FROM people") != NULL;
    int nkeys = 1 + (chance(25) ? 1 : 0);
    char keys[2][2048];
    for (int i = 0; i < nkeys; i++) {
        sb k = {{0}, 0};
        if (derived && chance(50))
            put(&k, "x");
        else
            gen_key(&k, &sc, 1);
        snprintf(keys[i], sizeof keys[i], "%s", k.s);
    }
    put(b, "SELECT ");
    for (int i = 0; i < nkeys; i++)
        putf(b, "%s AS g%d, ", keys[i], i);
    int naggs = 1 + pick(3);
    for (int i = 0; i < naggs; i++) {
        if (i)
            put(b, ", ");
        gen_agg(b, &sc);
    }
    if (chance(15) && !strchr(keys[0], '(')) /* an expression over a group key */
        putf(b, ", CASE WHEN %s IS NULL THEN 0 ELSE 1 END", keys[0]);
    put(b, from.s);
    gen_where(b, &sc, 55);
    put(b, " GROUP BY ");
    for (int i = 0; i < nkeys; i++)
        putf(b, "%s%d", i ? ", " : "", i + 1);
    if (chance(30)) {
        put(b, " HAVING ");
        gen_having(b, &sc, nkeys == 1 && !strchr(keys[0], '(') ? keys[0] : NULL);
    }
    gen_tail(b, nkeys + naggs);
}

static void gen_global(sb *b)
{
    scope sc;
    sb from = {{0}, 0};
    gen_from(&from, &sc, true);
    put(b, "SELECT ");
    int naggs = 1 + pick(3);
    for (int i = 0; i < naggs; i++) {
        if (i)
            put(b, ", ");
        gen_agg(b, &sc);
    }
    put(b, from.s);
    gen_where(b, &sc, 75);
    if (chance(10)) {
        put(b, " HAVING ");
        gen_having(b, &sc, NULL);
    }
}

static void gen_with(sb *b)
{
    scope in = {"", NULL};
    put(b, "WITH s AS (SELECT pid, city, age, vip, n, spend, big, huge, born, seen, score, esc, ");
    static const ty dt[] = {TT, TI, TB, TD, TF, TS};
    gen(b, PICK(dt), 2, &in);
    put(b, " AS x FROM people");
    gen_where(b, &in, 50);
    put(b, ") SELECT x, ");
    scope sc = {"", NULL};
    static const char *const aggs[] = {
        "COUNT(*)", "SUM(n)", "AVG(spend)", "COUNT(DISTINCT pid)", "SUM(big)", "COUNT(city)"};
    put(b, PICK(aggs));
    if (chance(50))
        putf(b, ", %s", PICK(aggs));
    put(b, " FROM s");
    gen_where(b, &sc, 30);
    put(b, " GROUP BY x");
    gen_tail(b, 2);
}

static void gen_nested(sb *b)
{
    scope in = {"", NULL};
    sb inner = {{0}, 0};
    put(&inner, "SELECT ");
    gen_key(&inner, &in, 1);
    put(&inner, " AS g, COUNT(*) AS c, SUM(n) AS s, AVG(spend) AS a, COUNT(DISTINCT pid) AS u FROM "
                "people");
    gen_where(&inner, &in, 50);
    put(&inner, " GROUP BY 1");
    static const char *const outer[] = {"SUM(c)",    "SUM(s)", "COUNT(*)", "MAX(c)",
                                        "MIN(a)",    "AVG(s)", "SUM(u)",   "COUNT(DISTINCT g)",
                                        "MAX(s * 2)"};
    put(b, "SELECT ");
    int n = 1 + pick(3);
    for (int i = 0; i < n; i++)
        putf(b, "%s%s", i ? ", " : "", PICK(outer));
    putf(b, " FROM (%s) t", inner.s);
    if (chance(40)) {
        static const char *const w[] = {
            "c > 3", "s * 9223372036854775807 > 0", "a * 1e308 * 10.0 > 0",
            "CASE WHEN u = 3 THEN s + 9223372036854775807 ELSE 0 END >= 0", "g IS NOT NULL"};
        putf(b, " WHERE %s", PICK(w));
    }
}

static void gen_union(sb *b)
{
    if (chance(50)) {
        scope sp = {"", NULL}, sv = {NULL, ""};
        put(b, "SELECT city AS g, COUNT(*) AS c FROM people");
        gen_where(b, &sp, 50);
        put(b, " GROUP BY city UNION ALL SELECT page, COUNT(*) FROM visits");
        gen_where(b, &sv, 50);
        put(b, " GROUP BY page");
        gen_tail(b, 2);
    } else {
        scope sp = {"", NULL}, sv = {NULL, ""};
        put(b, "SELECT g, COUNT(*) FROM (SELECT city AS g FROM people");
        gen_where(b, &sp, 50);
        put(b, " UNION ALL SELECT page FROM visits");
        gen_where(b, &sv, 50);
        put(b, ") s GROUP BY g");
    }
}

static void gen_distinct(sb *b)
{
    scope sc = {"", NULL};
    put(b, "SELECT DISTINCT ");
    gen_key(b, &sc, 1);
    put(b, " FROM people");
    gen_where(b, &sc, 50);
}

/* Shapes the contract refuses (with random parts that must not matter). */
static void gen_refused(sb *b)
{
    scope sc = {"", NULL};
    static const char *const heads[] = {
        "SELECT city FROM people",
        "SELECT COUNT(*) FROM people WHERE pid = 'zz'",
        "SELECT COUNT(*) FROM people WHERE n > 5",
        "SELECT COUNT(*) FROM people WHERE note = 'secret'",
        "SELECT SUM(n * 2) FROM people",
        "SELECT COUNT(*) FROM people WHERE age / (age - 77) = 1",
        "SELECT COUNT(*) FROM people WHERE CAST(city AS BIGINT) = 1",
        "SELECT COUNT(*) FROM (SELECT city FROM people LIMIT 3) s",
        "SELECT COUNT(*) FROM people p JOIN visits v ON p.city = v.page",
        "SELECT COUNT(*) FROM people WHERE born + age > DATE '2000-01-01'",
        "SELECT acct, COUNT(*) FROM people GROUP BY acct",
        "SELECT COUNT(*) FROM people WHERE age % (age - 1) = 0",
        "SELECT COUNT(*) FROM people WHERE seen + INTERVAL '1 day' * age > TIMESTAMP '2000-01-01'",
    };
    put(b, PICK(heads));
    if (!strstr(b->s, "WHERE") && !strstr(b->s, "GROUP") && !strstr(b->s, "JOIN") &&
        !strstr(b->s, "LIMIT") && chance(60)) {
        put(b, " WHERE ");
        gen_bool(b, 2, &sc);
    }
}

static void gen_query(sb *b, int mode)
{
    gmode = mode;
    attack_budget = chance(50) ? 1 : 0;
    attack_placed = false;
    int r = pick(100);
    if (mode == M_DP) {
        if (r < 50)
            gen_grouped(b);
        else if (r < 80)
            gen_global(b);
        else if (r < 88)
            gen_with(b);
        else if (r < 91)
            gen_nested(b);
        else if (r < 93)
            gen_union(b);
        else
            gen_refused(b);
    } else {
        if (r < 38)
            gen_grouped(b);
        else if (r < 58)
            gen_global(b);
        else if (r < 68)
            gen_with(b);
        else if (r < 80)
            gen_nested(b);
        else if (r < 88)
            gen_union(b);
        else if (r < 93)
            gen_distinct(b);
        else
            gen_refused(b);
    }
}

/* ---- the property ---- */

static bool print_queries, print_failed;

static bool same_outcome(const outcome *a, const outcome *b)
{
    return differs(a, b) == NULL;
}

/* In DP mode, whether the outcome varies on the same data (noise). */
static bool noisy(int mode, int variant, const char *sql, const outcome *first)
{
    if (mode != M_DP)
        return false;
    for (int i = 0; i < 4; i++) {
        outcome o;
        run_one(mode, variant, sql, &o);
        bool same = same_outcome(first, &o);
        outcome_free(&o);
        if (!same)
            return true;
    }
    return false;
}

static void check_pair(int mode, const char *sql, const outcome *d, int variant)
{
    outcome o;
    run_one(mode, variant, sql, &o);
    n_pairs[mode]++;
    const char *what = differs(d, &o);
    if (what) {
        bool noise = noisy(mode, NVARIANTS, sql, d) || noisy(mode, variant, sql, &o);
        record(mode, what, d, &o, variant, sql, noise);
    } else if (d->status == DCR_OK) {
        n_supp_both_ok[mode]++;
        if (suppressed_counts_differ(d, &o))
            n_supp_differ[mode]++;
        if (d->rep.rows_released != o.rep.rows_released)
            n_released_differ[mode]++;
    }
    outcome_free(&o);
}

static size_t env_size(const char *name, size_t dflt)
{
    const char *s = getenv(name);
    return s && *s ? (size_t)strtoull(s, NULL, 0) : dflt;
}

static void test_neighbours(void)
{
    size_t nq = env_size("DCR_NEIGH_QUERIES", 10000);
    seed = env_size("DCR_NEIGH_SEED", 0x5eed17);
    rng_state = seed ? seed : 1;
    print_queries = getenv("DCR_NEIGH_PRINT") != NULL;
    print_failed = getenv("DCR_NEIGH_PRINT_FAILED") != NULL;
    for (size_t q = 0; q < nq; q++) {
        int mode = (int)(q % NMODES);
        sb b = {{0}, 0};
        gen_query(&b, mode);
        if (print_queries)
            printf("[%s] %s\n", mode_name[mode], b.s);
        n_queries[mode]++;
        if (attack_placed)
            n_attack[mode]++;
        outcome d;
        run_one(mode, NVARIANTS, b.s, &d);
        count_outcome(mode, &d);
        if (print_failed && d.status != DCR_OK && !d.rep.rule[0])
            printf("[%s] failed on D: %s\n    %s\n", mode_name[mode], d.msg, b.s);
        /* two different neighbours per query; "removed" in one query of three */
        int v1 = q % 3 == 0 ? V_REMOVED : 1 + pick(NVARIANTS - 1);
        int v2 = 1 + pick(NVARIANTS - 1);
        if (v2 == v1)
            v2 = 1 + (v2 % (NVARIANTS - 1));
        check_pair(mode, b.s, &d, v1);
        check_pair(mode, b.s, &d, v2);
        outcome_free(&d);
    }
    printf("neighbouring datasets: seed %" PRIu64 ", %zu queries, %zu pairs\n", seed,
           n_queries[0] + n_queries[1], n_pairs[0] + n_pairs[1]);
    for (int m = 0; m < NMODES; m++) {
        size_t nq_m = n_queries[m] ? n_queries[m] : 1;
        printf("  %-9s: %zu queries (%zu with a planted-person CASE branch), %zu pairs; on D: "
               "%zu answered (%.0f%%), %zu refused, %zu failed; mismatches %zu (+%zu from "
               "noise only)\n",
               mode_name[m], n_queries[m], n_attack[m], n_pairs[m], n_answered[m],
               100.0 * (double)n_answered[m] / (double)nq_m, n_refused[m], n_failed[m],
               mismatches[m], noise_mismatches[m]);
        printf("             answered on both: %zu pairs; exact suppressed counts differ in %zu "
               "(the old leak), rows_released differs in %zu\n",
               n_supp_both_ok[m], n_supp_differ[m], n_released_differ[m]);
    }
    printf("  refusals by rule (threshold / dp):");
    for (size_t i = 0; i < nrules; i++)
        printf(" %s %zu/%zu;", rules[i].rule, rules[i].n[0], rules[i].n[1]);
    printf("\n  failures on D by message (threshold / dp):\n");
    for (size_t i = 0; i < nfails; i++)
        printf("    %zu/%zu  %s\n", fails[i].n[0], fails[i].n[1], fails[i].msg);
    if (nclasses) {
        printf("  mismatch classes (%zu), first example of each (reproduce with "
               "DCR_NEIGH_SEED=%" PRIu64 " or DCR_NEIGH_SQL='<sql>'):\n",
               nclasses, seed);
        for (size_t i = 0; i < nclasses; i++) {
            printf("  [%zu] x%zu %s\n      SQL: %s\n      %s\n", i + 1, classes[i].count,
                   classes[i].key, classes[i].sql, classes[i].detail);
        }
    }
    for (int m = 0; m < NMODES; m++)
        CHECK(mismatches[m] == 0);
    /* the generator reaches the engine: at least 30% answered in each mode */
    for (int m = 0; m < NMODES; m++)
        CHECK(n_answered[m] * 10 >= n_queries[m] * 3);
    for (size_t i = 0; i < nclasses; i++)
        free(classes[i].sql);
}

/* DCR_NEIGH_SQL: one query in both modes on D and every neighbour. */
static void run_single(const char *sql)
{
    for (int m = 0; m < NMODES; m++) {
        for (int v = NVARIANTS; v >= 0; v--) {
            outcome o;
            run_one(m, v, sql, &o);
            char d[1200];
            describe(&o, d, sizeof d);
            printf("[%s] %-40s %s\n", mode_name[m], v == NVARIANTS ? "D" : variant_name[v], d);
            if (o.rows && getenv("DCR_NEIGH_ROWS"))
                printf("%s", o.rows);
            outcome_free(&o);
        }
    }
}

int main(void)
{
    memset(long_text, 'Q', sizeof long_text - 1);
    mem_limit = env_size("DCR_NEIGH_MEM_LIMIT", 0);
    make_contracts();
    for (int v = 0; v <= NVARIANTS; v++)
        build(&data[v], v);
    const char *one = getenv("DCR_NEIGH_SQL");
    if (one && *one)
        run_single(one);
    else
        RUN(test_neighbours);
    free_data();
    for (int m = 0; m < NMODES; m++)
        dcr_contract_free(&contracts[m]);
    return check_summary();
}

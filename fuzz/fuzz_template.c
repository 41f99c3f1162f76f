/*
 * fuzz_template.c: contract query templates (src/privacy/template.c over
 * sql/shape.c) under the fixed contract of fuzz_fixture.h, which has
 * templates with every parameter type. Two input forms:
 *
 *   SQL text          dcr_template_match_sql: fingerprint, parse-tree match,
 *                     parameter literals type- and range-checked;
 *   "!NAME\nV1\nV2.." dcr_template_instantiate by name with values.
 *
 * Invariants beyond "no crash": a match names a real template with one
 * checked value per parameter, and matching and instantiating round-trip:
 * the values of a match instantiate the same template to SQL that matches
 * again with the same values, and instantiated SQL matches its template
 * (template.c itself reports a substitution that does not reproduce the
 * template as DCR_EINTERNAL, which is trapped here).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_fixture.h"
#include "privacy/template.h"

static dcr_templates templates;

static const char *const seeds[] = {
    /* the documented form, literals in the $n places */
    "SELECT i.campaign, COUNT(DISTINCT p.email), SUM(p.amount) FROM impressions i JOIN purchases "
    "p ON i.email = p.email WHERE p.bought_at >= '2024-03-01' GROUP BY i.campaign",
    "select i.campaign, count(distinct p.email), sum(p.amount)\n  FROM impressions i JOIN "
    "purchases p ON (i.email = p.email) -- approved\n WHERE p.bought_at >= '2024-12-31' GROUP BY "
    "i.campaign",
    "SELECT i.campaign, SUM(p.amount) FROM impressions i JOIN purchases p ON i.email = p.email "
    "WHERE p.amount BETWEEN 10 AND 900 AND i.cost < 2.5 AND i.campaign = 'spring' AND (true OR "
    "i.shown_at < '2024-06-01 12:00:00') AND p.bought_at > '2024-01-31' GROUP BY i.campaign "
    "HAVING COUNT(*) > 10 LIMIT 20",
    "SELECT i.campaign, COUNT(*) FROM impressions i WHERE i.cost - -4.5 > 0 OR i.cost < -4.5 "
    "GROUP BY i.campaign",
    "SELECT a.campaign, SUM(b.amount) FROM impressions a JOIN purchases b ON a.email = b.email "
    "WHERE a.campaign IN ('it''s') GROUP BY a.campaign",
    /* out of range, wrong type, near miss */
    "SELECT i.campaign, COUNT(DISTINCT p.email), SUM(p.amount) FROM impressions i JOIN purchases "
    "p ON i.email = p.email WHERE p.bought_at >= '2023-03-01' GROUP BY i.campaign",
    "SELECT i.campaign, COUNT(DISTINCT p.email), SUM(p.amount) FROM impressions i JOIN purchases "
    "p ON i.email = p.email WHERE p.bought_at >= 5 GROUP BY i.campaign",
    "SELECT i.campaign, COUNT(DISTINCT p.email), SUM(p.amount) FROM impressions i JOIN purchases "
    "p ON i.email = p.email WHERE p.bought_at <= '2024-03-01' GROUP BY i.campaign",
    /* by name */
    "!by_campaign\n2024-05-05",
    "!typed\n0\n0.5\nx'y\nfalse\n2024-01-01 00:00:00\n2029-12-31",
    "!twice\n-5",
    "!in_list\n--",
    "!typed\n1000\n10\n\ntrue\n2024-02-29 23:59:59.999999\n1970-01-01",
};

static void write_seeds(const char *dir)
{
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "seed-%02zu", i);
        fx_write(dir, name, seeds[i], strlen(seeds[i]));
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fx_init();
    dcr_error err;
    if (dcr_templates_load(&fx_contract, &templates, &err) != DCR_OK) {
        fprintf(stderr, "templates: %s\n", err.msg);
        __builtin_trap();
    }
    if (fx_seed_dir()) {
        write_seeds(fx_seed_dir());
        exit(0);
    }
    return 0;
}

static bool same_values(const dcr_template_match *a, const dcr_template_match *b)
{
    if (a->index != b->index || a->nvalues != b->nvalues)
        return false;
    for (size_t i = 0; i < a->nvalues; i++)
        if (strcmp(a->values[i], b->values[i]) != 0)
            return false;
    return true;
}

static void check_match(const dcr_template_match *m)
{
    if (m->index >= templates.n || m->nvalues != fx_contract.templates[m->index].nparams)
        __builtin_trap();
    for (size_t i = 0; i < m->nvalues; i++)
        if (!m->values[i])
            __builtin_trap();
}

/* Instantiates m's values and requires SQL that matches with the same values. */
static void round_trip(const dcr_template_match *m)
{
    char *sql = NULL;
    dcr_template_match m2, m3;
    dcr_error err;
    const char *name = fx_contract.templates[m->index].name;
    if (dcr_template_instantiate(&templates, name, (const char *const *)m->values, m->nvalues, &sql,
                                 &m2, &err) != DCR_OK) {
        fprintf(stderr, "canonical values of a match do not instantiate: %s\n", err.msg);
        __builtin_trap();
    }
    check_match(&m2);
    if (!same_values(m, &m2))
        __builtin_trap();
    if (dcr_template_match_sql(&templates, sql, &m3, &err) != DCR_OK || !m3.matched ||
        !same_values(m, &m3)) {
        fprintf(stderr, "instantiated SQL does not match again: %s\n", sql);
        __builtin_trap();
    }
    dcr_template_match_free(&m2);
    dcr_template_match_free(&m3);
    free(sql);
}

static void by_name(char *text)
{
    const char *values[16];
    size_t n = 0;
    char *name = text + 1, *p = strchr(name, '\n');
    if (p) {
        *p++ = '\0';
        while (n < 16) {
            values[n++] = p;
            if (!(p = strchr(p, '\n')))
                break;
            *p++ = '\0';
        }
    }
    char *sql = NULL;
    dcr_template_match m;
    dcr_error err;
    dcr_status s = dcr_template_instantiate(&templates, name, values, n, &sql, &m, &err);
    if (s == DCR_OK) {
        if (!m.matched || !sql)
            __builtin_trap();
        check_match(&m);
        round_trip(&m);
    } else if (s != DCR_EINPUT || sql || m.matched) {
        fprintf(stderr, "instantiate: %d %s\n", (int)s, err.msg);
        __builtin_trap();
    }
    dcr_template_match_free(&m);
    free(sql);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1); /* the API takes NUL-terminated strings */
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    if (text[0] == '!') {
        by_name(text);
    } else {
        dcr_template_match m;
        dcr_error err;
        dcr_status s = dcr_template_match_sql(&templates, text, &m, &err);
        if (s == DCR_OK && m.matched) {
            check_match(&m);
            round_trip(&m);
        } else if (s != DCR_OK && s != DCR_EINPUT) {
            fprintf(stderr, "match: %d %s\n", (int)s, err.msg);
            __builtin_trap();
        }
        dcr_template_match_free(&m);
    }
    free(text);
    return 0;
}

/*
 * fuzz_guarded.c: the guarded query path without execution
 * (dcr_guarded_plan: parse + bind against the contract's datasets, template
 * match, policy checks, threshold rewrite) under the fixed contract of
 * fuzz_fixture.h, for the analyst and for a party without the analyst role.
 * Analysts may be malicious, so every SQL string is hostile input.
 *
 * Invariants beyond "no crash": an accepted query gives a plan (printed with
 * EXPLAIN, which walks the whole rewritten tree), no refusal rule, and a
 * threshold k of the contract's; a refusal is DCR_EINPUT; a party without
 * the analyst role is always refused by rule analyst-role.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_fixture.h"
#include "privacy/privacy.h"
#include "sql/sql.h"

static const char *const seeds[] = {
    "SELECT campaign, COUNT(*) FROM impressions GROUP BY campaign",
    "SELECT i.campaign, COUNT(DISTINCT p.email), SUM(p.amount) FROM impressions i JOIN purchases "
    "p ON i.email = p.email WHERE p.bought_at >= '2024-03-01' GROUP BY i.campaign",
    "SELECT i.campaign, SUM(p.amount) FROM impressions i JOIN purchases p ON i.email = p.email "
    "WHERE p.amount BETWEEN 10 AND 900 AND i.cost < 2.5 AND i.campaign = 'spring' AND (true OR "
    "i.shown_at < '2024-06-01 12:00:00') AND p.bought_at > '2024-01-31' GROUP BY i.campaign "
    "HAVING COUNT(*) > 10 LIMIT 20",
    "SELECT i.campaign, COUNT(*) FROM impressions i WHERE i.cost - -4.5 > 0 OR i.cost < -4.5 "
    "GROUP BY i.campaign",
    "SELECT email FROM purchases",
    "SELECT COUNT(*) FROM purchases WHERE email = 'u3'",
    "SELECT SUM(cost) FROM impressions WHERE campaign = 'c'",
    "SELECT campaign FROM impressions GROUP BY campaign HAVING MIN(email) = 'u8'",
    "SELECT COUNT(*) FROM (SELECT email AS x FROM purchases) s WHERE x = 'u1'",
    "SELECT MIN(n) FROM (SELECT campaign, COUNT(*) AS n FROM impressions GROUP BY campaign) t",
    "WITH t AS (SELECT bought_at, amount FROM purchases) SELECT date_trunc('month', bought_at), "
    "SUM(amount) FROM t GROUP BY 1 ORDER BY 2 DESC LIMIT 3",
    "SELECT campaign FROM impressions UNION ALL SELECT email FROM purchases",
    "EXPLAIN SELECT COUNT(DISTINCT email) FROM impressions",
    "SELECT COUNT(*) FROM impressions i JOIN purchases p ON i.campaign = p.email",
    "SELECT CASE WHEN cost > 5 THEN 1/0 ELSE 0 END, COUNT(*) FROM impressions GROUP BY 1",
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fx_init();
    if (fx_seed_dir()) {
        for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
            char name[32];
            snprintf(name, sizeof name, "seed-%02zu.sql", i);
            fx_write(fx_seed_dir(), name, seeds[i], strlen(seeds[i]));
        }
        exit(0);
    }
    return 0;
}

static void check_one(const char *sql, size_t party)
{
    dcr_plan *plan = NULL;
    dcr_privacy_report rep;
    dcr_error err = {0};
    dcr_status s = dcr_guarded_plan(&fx_contract, party, sql, &plan, &rep, &err);
    bool analyst = fx_contract.parties[party].roles & DCR_ROLE_ANALYST;
    if (s == DCR_OK) {
        if (!plan || rep.rule[0] || !analyst || rep.k < 5)
            __builtin_trap();
        dcr_buf text = DCR_BUF_INIT;
        if (dcr_plan_explain(plan, &text, &err) != DCR_OK)
            __builtin_trap();
        dcr_buf_free(&text);
        dcr_plan_free(plan);
    } else if (s != DCR_EINPUT || plan || !err.msg[0]) {
        fprintf(stderr, "guarded plan: %d %s\n", (int)s, err.msg);
        __builtin_trap();
    } else if (!analyst && strcmp(rep.rule, DCR_RULE_ANALYST) != 0) {
        __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *sql = malloc(size + 1); /* the API takes a NUL-terminated string */
    if (!sql)
        return 0;
    memcpy(sql, data, size);
    sql[size] = '\0';
    check_one(sql, FX_ADVERTISER);
    check_one(sql, FX_PUBLISHER);
    free(sql);
    return 0;
}

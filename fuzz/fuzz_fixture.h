/*
 * fuzz_fixture.h: a fixed contract and fixed party keys for the fuzz targets
 * of the service, the audit log and the privacy layer (fuzz_request,
 * fuzz_api_json, fuzz_audit, fuzz_template, fuzz_guarded). The keys are
 * derived from constant seeds so that seed inputs stored in fuzz/corpus
 * (correctly signed requests, a matching attestation) stay valid. They
 * protect nothing: TEST ONLY.
 *
 * The contract has three parties (publisher: provider + receiver;
 * advertiser: provider + analyst + receiver; auditor), two datasets
 * (impressions, purchases, joined on email), threshold k = 5, sim evidence,
 * and four templates covering every parameter type.
 *
 * Seed mode: a target run with DCR_FUZZ_WRITE_SEEDS=DIR writes its seed
 * inputs there (fx_write) and exits; fuzz/corpus/NAME holds what it wrote.
 * fuzz_chunk uses only these seed helpers.
 */
#ifndef DCR_FUZZ_FIXTURE_H
#define DCR_FUZZ_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/bytes.h"
#include "contract/contract.h"
#include "crypto/party_key.h"

enum { FX_PUBLISHER, FX_ADVERTISER, FX_AUDITOR, FX_NPARTIES };

/* The server clock the request checks run against (2026-01-01 00:00:00 UTC). */
#define FX_NOW ((int64_t)1767225600)

static const char *const fx_key_text[FX_NPARTIES] = {
    "dcr-key-v1:0101010101010101010101010101010101010101010101010101010101010101:"
    "1111111111111111111111111111111111111111111111111111111111111111",
    "dcr-key-v1:0202020202020202020202020202020202020202020202020202020202020202:"
    "2222222222222222222222222222222222222222222222222222222222222222",
    "dcr-key-v1:0303030303030303030303030303030303030303030303030303030303030303:"
    "3333333333333333333333333333333333333333333333333333333333333333",
};

#define FX_T_SINCE                                                                                 \
    "{\"name\": \"by_campaign\", \"sql\": \"SELECT i.campaign, COUNT(DISTINCT p.email), "          \
    "SUM(p.amount) FROM impressions i JOIN purchases p ON i.email = p.email WHERE p.bought_at >= " \
    "$1 GROUP BY i.campaign\", \"parameters\": [{\"name\": \"since\", \"type\": \"DATE\", "        \
    "\"min\": \"2024-01-01\", \"max\": \"2024-12-31\"}]}"
#define FX_T_TYPES                                                                                 \
    "{\"name\": \"typed\", \"sql\": \"SELECT i.campaign, SUM(p.amount) FROM impressions i JOIN "   \
    "purchases p ON i.email = p.email WHERE p.amount BETWEEN $1 AND 900 AND i.cost < $2 AND "      \
    "i.campaign = $3 AND ($4 OR i.shown_at < $5) AND p.bought_at > $6 GROUP BY i.campaign HAVING " \
    "COUNT(*) > 10 LIMIT 20\", \"parameters\": [{\"name\": \"lo\", \"type\": \"BIGINT\", "         \
    "\"min\": 0, \"max\": 1000}, {\"name\": \"maxcost\", \"type\": \"DOUBLE PRECISION\", "         \
    "\"min\": 0.5, \"max\": 10}, {\"name\": \"camp\", \"type\": \"TEXT\"}, {\"name\": \"flag\", "  \
    "\"type\": \"BOOLEAN\"}, {\"name\": \"before\", \"type\": \"TIMESTAMP\", \"min\": "            \
    "\"2024-01-01 00:00:00\"}, {\"name\": \"after\", \"type\": \"DATE\", \"max\": "                \
    "\"2030-01-01\"}]}"
#define FX_T_TWICE                                                                                 \
    "{\"name\": \"twice\", \"sql\": \"SELECT i.campaign, COUNT(*) FROM impressions i WHERE "       \
    "i.cost -$1 > 0 OR i.cost < $1 GROUP BY i.campaign\", \"parameters\": [{\"name\": \"x\", "     \
    "\"type\": \"DOUBLE PRECISION\", \"min\": -5, \"max\": 5}]}"
#define FX_T_IN                                                                                    \
    "{\"name\": \"in_list\", \"sql\": \"SELECT a.campaign, SUM(b.amount) FROM impressions a JOIN " \
    "purchases b ON a.email = b.email WHERE a.campaign IN ($1) GROUP BY a.campaign\", "            \
    "\"parameters\": [{\"name\": \"c\", \"type\": \"TEXT\"}]}"

static const char fx_contract_fmt[] =
    "{\"dcr_contract\": 1, \"name\": \"fuzz\", \"version\": 1, \"purpose\": \"fuzzing\",\n"
    " \"development\": true,\n"
    " \"parties\": [\n"
    "  {\"name\": \"publisher\", \"roles\": [\"provider\", \"receiver\"], \"public_key\": "
    "\"%s\"},\n"
    "  {\"name\": \"advertiser\", \"roles\": [\"provider\", \"analyst\", \"receiver\"],\n"
    "   \"public_key\": \"%s\"},\n"
    "  {\"name\": \"auditor\", \"roles\": [\"auditor\"], \"public_key\": \"%s\"}],\n"
    " \"datasets\": [\n"
    "  {\"name\": \"impressions\", \"owner\": \"publisher\", \"privacy_unit\": \"email\",\n"
    "   \"columns\": [{\"name\": \"email\", \"type\": \"TEXT\", \"role\": \"id\"},\n"
    "    {\"name\": \"campaign\", \"type\": \"TEXT\", \"role\": \"dimension\"},\n"
    "    {\"name\": \"shown_at\", \"type\": \"TIMESTAMP\", \"role\": \"dimension\"},\n"
    "    {\"name\": \"cost\", \"type\": \"DOUBLE PRECISION\", \"role\": \"metric\", \"bounds\": "
    "[0, 10]}]},\n"
    "  {\"name\": \"purchases\", \"owner\": \"advertiser\", \"privacy_unit\": \"email\",\n"
    "   \"columns\": [{\"name\": \"email\", \"type\": \"TEXT\", \"role\": \"id\"},\n"
    "    {\"name\": \"bought_at\", \"type\": \"DATE\", \"role\": \"dimension\"},\n"
    "    {\"name\": \"amount\", \"type\": \"BIGINT\", \"role\": \"metric\", \"bounds\": [0, "
    "1000]}]}],\n"
    " \"rules\": {\n"
    "  \"aggregation\": {\"min_units\": 5, \"unsafe_free_form_sql_open_to_differencing\": true,\n"
    "   \"joins\": [{\"left\": \"impressions.email\", \"right\": \"purchases.email\"}]},\n"
    "  \"templates\": [" FX_T_SINCE ", " FX_T_TYPES ", " FX_T_TWICE ", " FX_T_IN "],\n"
    "  \"receivers\": {\"advertiser\": [\"advertiser\"]}},\n"
    " \"evidence\": [{\"type\": \"sim\"}]}\n";

static dcr_party_key fx_keys[FX_NPARTIES];
static dcr_contract fx_contract;

/* Parses the keys and the contract once; traps when the fixture is broken. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static inline void fx_init(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    dcr_error err;
    char pub[FX_NPARTIES][DCR_PUB_TEXT_LEN + 2];
    for (int i = 0; i < FX_NPARTIES; i++) {
        if (dcr_party_key_parse(fx_key_text[i], strlen(fx_key_text[i]), &fx_keys[i], "fixture",
                                &err) != DCR_OK)
            __builtin_trap();
        dcr_party_pub_format(&fx_keys[i].pub, pub[i], sizeof pub[i]);
        pub[i][DCR_PUB_TEXT_LEN] = '\0';
    }
    static char text[16384];
    int n = snprintf(text, sizeof text, fx_contract_fmt, pub[0], pub[1], pub[2]);
    dcr_contract_diags d = {0};
    if (n <= 0 || (size_t)n >= sizeof text ||
        dcr_contract_parse(text, (size_t)n, "fixture", &fx_contract, &d, &err) != DCR_OK) {
        dcr_contract_diags_print(&d, "fixture", stderr);
        __builtin_trap();
    }
    dcr_contract_diags_free(&d);
}
#pragma GCC diagnostic pop

/* The seed directory when the target runs in seed mode, else NULL. */
static inline const char *fx_seed_dir(void)
{
    const char *d = getenv("DCR_FUZZ_WRITE_SEEDS");
    return d && *d ? d : NULL;
}

/* Writes one seed file DIR/name. */
static inline void fx_write(const char *dir, const char *name, const void *data, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
}

#endif

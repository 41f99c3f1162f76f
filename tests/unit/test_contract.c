/*
 * test_contract.c: the contract piece: the positioned JSON DOM, every lint
 * rule (each asserting the exact line:column reported), signatures, and the
 * contract -> schema bridge used by `dcr seal --contract`.
 *
 * Lint tests start from a valid two-party contract and apply one edit. The
 * edit's replacement text carries an '@' where the diagnostic must point;
 * the marker is removed before parsing and its line:column computed by
 * hand here (independently of the code under test), then compared with the
 * diagnostic's.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/bytes.h"
#include "check.h"
#include "contract/contract.h"
#include "contract/json.h"
#include "contract/signature.h"

static dcr_party_key key_pub, key_adv, key_other;

/* The valid base contract; %1$s and %2$s are the two public keys. */
static const char base_fmt[] =
    "{\n"
    "  \"dcr_contract\": 1,\n"
    "  \"name\": \"acme-news-x-shoply\",\n"
    "  \"version\": 1,\n"
    "  \"purpose\": \"Measure which campaigns drive purchases.\",\n"
    "  \"development\": true,\n"
    "  \"parties\": [\n"
    "    {\"name\": \"publisher\", \"roles\": [\"provider\", \"receiver\"], \"public_key\": "
    "\"%1$s\"},\n"
    "    {\"name\": \"advertiser\", \"roles\": [\"provider\", \"analyst\", \"receiver\"], "
    "\"public_key\": \"%2$s\"}\n"
    "  ],\n"
    "  \"datasets\": [\n"
    "    {\"name\": \"impressions\", \"owner\": \"publisher\", \"privacy_unit\": \"email\", "
    "\"min_units\": 60,\n"
    "     \"columns\": [\n"
    "       {\"name\": \"email\", \"type\": \"TEXT\", \"role\": \"id\", \"normalize\": [\"trim\", "
    "\"lower\"]},\n"
    "       {\"name\": \"campaign\", \"type\": \"TEXT\", \"role\": \"dimension\"},\n"
    "       {\"name\": \"secret\", \"type\": \"TEXT\", \"role\": \"hidden\"},\n"
    "       {\"name\": \"cost\", \"type\": \"DOUBLE PRECISION\", \"role\": \"metric\", \"bounds\": "
    "[0, 10]}\n"
    "     ]},\n"
    "    {\"name\": \"purchases\", \"owner\": \"advertiser\", \"privacy_unit\": \"email\",\n"
    "     \"columns\": [\n"
    "       {\"name\": \"email\", \"type\": \"TEXT\", \"role\": \"id\", \"normalize\": [\"trim\", "
    "\"lower\"]},\n"
    "       {\"name\": \"customer\", \"type\": \"BIGINT\", \"role\": \"join\"},\n"
    "       {\"name\": \"bought_at\", \"type\": \"DATE\", \"role\": \"dimension\"},\n"
    "       {\"name\": \"amount\", \"type\": \"BIGINT\", \"role\": \"metric\", \"bounds\": [0, "
    "1000]}\n"
    "     ]}\n"
    "  ],\n"
    "  \"rules\": {\n"
    "    \"aggregation\": {\"min_units\": 50,\n"
    "      \"aggregates\": {\"impressions.cost\": [\"SUM\", \"AVG\"], \"purchases.amount\": "
    "[\"SUM\", \"COUNT\"]},\n"
    "      \"joins\": [{\"left\": \"impressions.email\", \"right\": \"purchases.email\"}]},\n"
    "    \"differential_privacy\": {\"enabled\": true, \"epsilon_per_query\": 0.5, \"delta\": "
    "1e-6, \"budget_per_analyst\": 5.0, \"max_contributions_per_unit\": 10},\n"
    "    \"templates\": [{\"name\": \"by_campaign\", \"sql\": \"SELECT 1\", \"parameters\": "
    "[{\"name\": \"since\", \"type\": \"DATE\", \"min\": \"2024-01-01\", \"max\": "
    "\"2024-12-31\"}]}],\n"
    "    \"overlap\": [{\"receiver\": \"advertiser\", \"dataset\": \"purchases\", \"column\": "
    "\"email\"}],\n"
    "    \"receivers\": {\"advertiser\": [\"advertiser\"]}\n"
    "  },\n"
    "  \"evidence\": [\n"
    "    {\"type\": \"sim\"}\n"
    "  ]\n"
    "}\n";

static char base[8192];

static void pub_text(const dcr_party_key *k, char out[DCR_PUB_TEXT_LEN + 2])
{
    dcr_party_pub_format(&k->pub, out, DCR_PUB_TEXT_LEN + 2);
    out[DCR_PUB_TEXT_LEN] = 0;
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void make_base(void)
{
    dcr_error err;
    char a[DCR_PUB_TEXT_LEN + 2], b[DCR_PUB_TEXT_LEN + 2];
    if (dcr_party_key_generate(&key_pub, &err) || dcr_party_key_generate(&key_adv, &err) ||
        dcr_party_key_generate(&key_other, &err))
        abort();
    pub_text(&key_pub, a);
    pub_text(&key_adv, b);
    snprintf(base, sizeof base, base_fmt, a, b);
}
#pragma GCC diagnostic pop

/* base with the first occurrence of `from` replaced by `to` (which may hold
 * one '@' marker). Returns a malloc'd string; *marker = the marker's byte
 * offset after removal, or SIZE_MAX. */
static char *edit(const char *text, const char *from, const char *to, size_t *marker)
{
    const char *at = strstr(text, from);
    if (!at) {
        fprintf(stderr, "  edit: \"%s\" not found\n", from);
        abort();
    }
    size_t pre = (size_t)(at - text), flen = strlen(from), tlen = strlen(to);
    char *out = malloc(strlen(text) - flen + tlen + 1);
    if (!out)
        abort();
    memcpy(out, text, pre);
    size_t o = pre;
    *marker = SIZE_MAX;
    for (size_t i = 0; i < tlen; i++) {
        if (to[i] == '@' && *marker == SIZE_MAX)
            *marker = o;
        else
            out[o++] = to[i];
    }
    strcpy(out + o, at + flen);
    return out;
}

/* Line and column of offset, counted here by hand (ASCII test texts). */
static void line_col(const char *text, size_t offset, unsigned *line, unsigned *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < offset; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

/* Parses text and checks there is a diagnostic at the marker containing
 * `reason`, and (when want_n > 0) exactly want_n diagnostics. */
static int lint_expect(const char *text, size_t marker, const char *reason, size_t want_n,
                       const char *where)
{
    dcr_contract c;
    dcr_contract_diags d;
    dcr_error err = {0};
    dcr_status s = dcr_contract_parse(text, strlen(text), "t.json", &c, &d, &err);
    unsigned line, col;
    line_col(text, marker, &line, &col);
    int found = 0;
    for (size_t i = 0; i < d.n; i++)
        if (d.items[i].line == line && d.items[i].column == col && strstr(d.items[i].msg, reason))
            found = 1;
    int ok = s == DCR_EINPUT && found && (want_n == 0 || d.n == want_n);
    if (!ok) {
        fprintf(stderr, "  %s: want %u:%u \"%s\" (n=%zu), got status %d:\n", where, line, col,
                reason, want_n, s);
        dcr_contract_diags_print(&d, "    t.json", stderr);
    }
    dcr_contract_diags_free(&d);
    dcr_contract_free(&c);
    return ok;
}

/* One edit of base, one expected diagnostic. */
#define LINT(from, to, reason, n)                                                                  \
    do {                                                                                           \
        size_t m_;                                                                                 \
        char *t_ = edit(base, (from), (to), &m_);                                                  \
        CHECK(m_ != SIZE_MAX);                                                                     \
        CHECK(lint_expect(t_, m_, (reason), (n), #reason));                                        \
        free(t_);                                                                                  \
    } while (0)

/* True when text is a valid contract (printing the problems when not). */
static int valid(const char *text)
{
    dcr_contract c;
    dcr_contract_diags d;
    dcr_error err = {0};
    dcr_status s = dcr_contract_parse(text, strlen(text), "t.json", &c, &d, &err);
    if (s != DCR_OK)
        dcr_contract_diags_print(&d, "    t.json", stderr);
    dcr_contract_diags_free(&d);
    dcr_contract_free(&c);
    return s == DCR_OK;
}

/* One edit of base that must still be valid. */
#define VALID(from, to)                                                                            \
    do {                                                                                           \
        size_t m_;                                                                                 \
        char *t_ = edit(base, (from), (to), &m_);                                                  \
        CHECK(valid(t_));                                                                          \
        free(t_);                                                                                  \
    } while (0)

/* ---- the base contract ------------------------------------------------- */

static void test_base_is_valid(void)
{
    dcr_contract c;
    dcr_contract_diags d;
    dcr_error err = {0};
    dcr_status s = dcr_contract_parse(base, strlen(base), "base", &c, &d, &err);
    CHECK(s == DCR_OK);
    if (s != DCR_OK)
        dcr_contract_diags_print(&d, "base", stderr);
    CHECK(d.n == 0);
    CHECK(c.nparties == 2 && c.ndatasets == 2);
    CHECK_STR(c.name, "acme-news-x-shoply");
    CHECK(c.development);
    CHECK(c.parties[1].roles == (DCR_ROLE_PROVIDER | DCR_ROLE_ANALYST | DCR_ROLE_RECEIVER));
    CHECK(c.datasets[0].min_units == 60); /* own k above the rule's */
    CHECK(c.datasets[1].min_units == 50); /* the rule's */
    CHECK(c.datasets[0].cols[3].has_bounds && c.datasets[0].cols[3].hi == 10);
    CHECK(c.naggregates == 2 && c.aggregates[0].funcs == (DCR_AGGFN_SUM | DCR_AGGFN_AVG));
    CHECK(c.njoins == 1 && c.joins[0].right.dataset == 1);
    CHECK(c.dp.enabled && c.dp.epsilon_per_query == 0.5 && c.dp.max_contributions_per_unit == 10);
    CHECK(c.ntemplates == 1 && c.templates[0].nparams == 1);
    CHECK(c.templates[0].params[0].min.i == 19723); /* 2024-01-01 in days */
    CHECK(c.noverlap == 1 && c.overlap[0].receiver == 1);
    CHECK(c.nreceivers == 1 && c.receivers[0].n == 1);
    CHECK(c.nevidence == 1 && c.evidence[0].type == DCR_EVIDENCE_SIM);
    uint8_t h[32];
    CHECK(dcr_sha256(base, strlen(base), h, &err) == DCR_OK);
    CHECK_MEM(h, c.hash, 32);
    FILE *null = fopen("/dev/null", "w");
    if (null) {
        dcr_contract_show(&c, -1, null);
        fclose(null);
    }
    dcr_contract_diags_free(&d);
    dcr_contract_free(&c);
}

/* ---- the lint rules ----------------------------------------------- */

static void test_lint_invalid_json(void)
{
    LINT("\"version\": 1,", "\"version\": 1,@,", "invalid JSON", 1);
    LINT("\"version\": 1,", "\"version\": @tru,", "invalid JSON", 1);
    LINT("\"purpose\": \"Measure", "\"purpose\": @\"Mea\\qsure", "invalid JSON", 1);
}

static void test_lint_unknown_keys(void)
{
    LINT("\"version\": 1,", "\"version\": 1, @\"colour\": 1,",
         "unknown key \"colour\" in the "
         "contract",
         1);
    LINT("{\"name\": \"campaign\",", "{\"name\": \"campaign\", @\"nullable\": true,",
         "unknown key \"nullable\" in a column", 1);
    LINT("\"enabled\": true,", "\"enabled\": true, @\"epsilon\": 1,", "unknown key \"epsilon\"", 1);
    LINT("{\"type\": \"sim\"}", "{\"type\": \"sim\", @\"min_tcb\": {}}", "unknown key \"min_tcb\"",
         1);
}

static void test_lint_wrong_types(void)
{
    LINT("\"version\": 1,", "\"version\": @\"1\",", "version must be a number, not a string", 1);
    LINT("\"development\": true,", "\"development\": @1,", "development must be a boolean", 0);
    LINT("\"roles\": [\"provider\", \"receiver\"]", "\"roles\": @\"provider\"",
         "roles must be an array, not a string", 0);
    LINT("\"version\": 1,", "\"version\": @1.5,", "version must be an integer", 1);
    LINT("\"enabled\": true", "\"enabled\": @\"yes\"", "enabled must be a boolean", 0);
}

static void test_lint_duplicate_names(void)
{
    /* duplicate JSON key */
    LINT("\"version\": 1,", "\"version\": 1, @\"version\": 2,", "duplicate key", 1);
    /* duplicate party, dataset, column, template, parameter names */
    LINT("{\"name\": \"advertiser\"", "{\"name\": @\"publisher\"", "duplicate party name", 0);
    LINT("{\"name\": \"purchases\"", "{\"name\": @\"impressions\"", "duplicate dataset name", 0);
    LINT("{\"name\": \"campaign\"", "{\"name\": @\"email\"", "duplicate column \"email\"", 1);
    LINT("\"2024-12-31\"}]}]", "\"2024-12-31\"}]}, {\"name\": @\"by_campaign\", \"sql\": \"x\"}]",
         "duplicate template name", 1);
    LINT("\"max\": \"2024-12-31\"}",
         "\"max\": \"2024-12-31\"}, {\"name\": @\"since\", \"type\": "
         "\"TEXT\"}",
         "duplicate parameter", 1);
}

static void test_lint_unknown_owner(void)
{
    LINT("\"owner\": \"publisher\"", "\"owner\": @\"nobody\"",
         "owner \"nobody\" is not a party of this contract", 1);
}

static void test_lint_owner_not_provider(void)
{
    size_t m;
    char *t =
        edit(base, "\"roles\": [\"provider\", \"receiver\"]", "\"roles\": [\"receiver\"]", &m);
    char *t2 = edit(t, "\"owner\": \"publisher\"", "\"owner\": @\"publisher\"", &m);
    CHECK(lint_expect(t2, m, "does not have the provider role", 1, "provider role"));
    free(t);
    free(t2);
}

static void test_lint_privacy_unit(void)
{
    LINT("\"privacy_unit\": \"email\", \"min_units\"", "\"privacy_unit\": @\"mail\", \"min_units\"",
         "privacy_unit \"mail\" is not a column of dataset \"impressions\"", 1);
    LINT("\"privacy_unit\": \"email\", \"min_units\"",
         "\"privacy_unit\": @\"campaign\", \"min_units\"",
         "must be a column with role \"id\", not \"dimension\"", 1);
}

static void test_lint_k(void)
{
    LINT("{\"min_units\": 50,", "{\"min_units\": @1,", "min_units must be at least 2", 1);
    LINT("\"min_units\": 60,", "\"min_units\": @0,", "min_units must be at least 2", 1);
    LINT("{\"min_units\": 50,", "{\"min_units\": @-5,", "min_units must be at least 2", 1);
    VALID("{\"min_units\": 50,", "{\"min_units\": 2,");
}

static void test_lint_metric_bounds(void)
{
    LINT("{\"name\": \"cost\", \"type\": \"DOUBLE PRECISION\", \"role\": \"metric\", \"bounds\": "
         "[0, 10]}",
         "@{\"name\": \"cost\", \"type\": \"DOUBLE PRECISION\", \"role\": \"metric\"}",
         "metric column \"cost\" needs \"bounds\"", 1);
    LINT("\"bounds\": [0, 10]", "\"bounds\": @[10, 0]", "lower bound is greater than the upper", 1);
    LINT("\"bounds\": [0, 10]", "\"bounds\": @[0]", "bounds must be an array of two numbers", 1);
    LINT("\"bounds\": [0, 10]", "\"bounds\": [0, @1e999]", "out of range", 1);
    LINT("\"bounds\": [0, 1000]", "\"bounds\": @[0, 1000.5]", "must be integers", 1);
    LINT("\"role\": \"dimension\"}", "\"role\": \"dimension\", @\"bounds\": [0, 1]}",
         "bounds apply only to metric columns", 1);
    LINT("{\"name\": \"cost\", \"type\": \"DOUBLE PRECISION\"",
         "{\"name\": \"cost\", \"type\": @\"TEXT\"", "must be BIGINT or DOUBLE PRECISION", 1);
}

static void test_lint_epsilon(void)
{
    LINT("\"epsilon_per_query\": 0.5", "\"epsilon_per_query\": @0",
         "epsilon_per_query must be greater than 0", 1);
    LINT("\"epsilon_per_query\": 0.5", "\"epsilon_per_query\": @-1",
         "epsilon_per_query must be greater than 0", 1);
    LINT("\"delta\": 1e-6", "\"delta\": @1", "delta must be at least 0 and less than 1", 1);
    LINT("\"budget_per_analyst\": 5.0", "\"budget_per_analyst\": @0.25",
         "budget_per_analyst (0.25) is less than epsilon_per_query (0.5)", 1);
    LINT("\"max_contributions_per_unit\": 10", "\"max_contributions_per_unit\": @0",
         "max_contributions_per_unit must be from 1", 1);
    LINT("{\"enabled\": true, \"epsilon_per_query\": 0.5,", "@{\"enabled\": true,",
         "lacks the required key \"epsilon_per_query\"", 1);
}

static void test_lint_join_types(void)
{
    LINT("{\"left\": \"impressions.email\", \"right\": \"purchases.email\"}",
         "@{\"left\": \"impressions.email\", \"right\": \"purchases.customer\"}",
         "join between columns of different types: impressions.email is TEXT, "
         "purchases.customer is BIGINT",
         1);
    LINT("\"right\": \"purchases.email\"", "\"right\": @\"purchases.bought_at\"",
         "must have role id or join, not dimension", 1);
    LINT("\"right\": \"purchases.email\"", "\"right\": @\"purchases.nope\"", "has no such column",
         1);
    LINT("{\"left\": \"impressions.email\", \"right\": \"purchases.email\"}",
         "@{\"left\": \"impressions.email\", \"right\": \"impressions.email\"}",
         "a join must be between two different datasets", 1);
}

static void test_lint_analyst_receivers(void)
{
    LINT("\"receivers\": {\"advertiser\": [\"advertiser\"]}", "\"receivers\": @{}",
         "analyst \"advertiser\" has no receivers", 1);
    LINT("\"receivers\": {\"advertiser\": [\"advertiser\"]}",
         "\"receivers\": {\"advertiser\": @[]}", "analyst \"advertiser\" has no receivers", 1);
    /* no receivers key at all: reported at the rules object */
    size_t m;
    char *t = edit(base, ",\n    \"receivers\": {\"advertiser\": [\"advertiser\"]}", "", &m);
    char *t2 = edit(t, "\"rules\": {", "\"rules\": @{", &m);
    CHECK(lint_expect(t2, m, "analyst \"advertiser\" has no receivers", 1, "no receivers key"));
    free(t);
    free(t2);
    /* a receiver without the receiver role */
    t = edit(base, "{\"name\": \"publisher\", \"roles\": [\"provider\", \"receiver\"]",
             "{\"name\": \"publisher\", \"roles\": [\"provider\"]", &m);
    t2 = edit(t, "[\"advertiser\"]}", "[\"advertiser\", @\"publisher\"]}", &m);
    CHECK(lint_expect(t2, m, "receiver \"publisher\" does not have the receiver role", 1,
                      "receiver role"));
    free(t);
    free(t2);
    LINT("\"receivers\": {\"advertiser\"",
         "\"receivers\": {@\"publisher\": [\"publisher\"], "
         "\"advertiser\"",
         "\"publisher\" does not have the analyst role", 1);
}

static void test_lint_sim_evidence(void)
{
    static const char snp[] =
        "{\"type\": \"sev-snp\", \"measurements\": "
        "[\"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728"
        "292a2b2c2d2e2f\"], \"min_tcb\": {\"bootloader\": 3, \"tee\": 0, \"snp\": 8, "
        "\"microcode\": 115}}";
    char to[1024];
    /* sim mixed with a real type, no development flag */
    snprintf(to, sizeof to, "{\"type\": @\"sim\"}, %s", snp);
    size_t m;
    char *t = edit(base, "\"development\": true,", "\"development\": false,", &m);
    char *t2 = edit(t, "{\"type\": \"sim\"}", to, &m);
    CHECK(lint_expect(t2, m,
                      "sim evidence mixed with real TEE evidence needs \"development\": "
                      "true",
                      1, "sim mixed"));
    free(t2);
    /* sim alone, no development flag */
    t2 = edit(t, "{\"type\": \"sim\"}", "{\"type\": @\"sim\"}", &m);
    CHECK(lint_expect(t2, m, "sim evidence is for development only", 1, "sim alone"));
    free(t2);
    /* real type alone, no development flag: valid */
    t2 = edit(t, "{\"type\": \"sim\"}", snp, &m);
    CHECK(valid(t2));
    free(t2);
    /* allow_debug without development */
    snprintf(to, sizeof to, "%.*s, \"allow_debug\": @true}", (int)strlen(snp) - 1, snp);
    t2 = edit(t, "{\"type\": \"sim\"}", to, &m);
    CHECK(lint_expect(t2, m, "allow_debug: true", 1, "allow_debug"));
    free(t2);
    free(t);
    /* with development, sim mixed with real and debug are accepted */
    snprintf(to, sizeof to, "{\"type\": \"sim\"}, %.*s, \"allow_debug\": true}",
             (int)strlen(snp) - 1, snp);
    t = edit(base, "{\"type\": \"sim\"}", to, &m);
    CHECK(valid(t));
    free(t);
}

static void test_lint_evidence_entries(void)
{
    LINT("{\"type\": \"sim\"}", "{\"type\": @\"sgx\"}", "unknown evidence type \"sgx\"", 1);
    LINT("\"evidence\": [\n    {\"type\": \"sim\"}\n  ]", "\"evidence\": @[]",
         "evidence must not be empty", 1);
    LINT("{\"type\": \"sim\"}", "{\"type\": \"tdx\", \"measurements\": [@\"abcd\"]}",
         "a measurement must be 96 hex digits (48 bytes)", 1);
    LINT("{\"type\": \"sim\"}", "@{\"type\": \"sev-snp\"}",
         "lacks the required key \"measurements\"", 1);
    LINT("{\"type\": \"sim\"}", "{\"type\": \"sim\"}, {\"type\": @\"sim\"}", "listed twice", 1);
    LINT("{\"type\": \"sim\"}",
         "{\"type\": \"tdx\", \"measurements\": [\"" /* 96 hex */
         "000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f000102030405060708090a"
         "0b0c0d0e0f\"], \"min_tcb_svn\": @\"zz\"}",
         "min_tcb_svn must be 32 hex digits", 1);
}

/* evidence[].pcrs: PCR index -> SHA-256 value, on vTPM types only. */
#define M48                                                                                        \
    "000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f000102030405060708090a"       \
    "0b0c0d0e0f"
#define P32 "1d3b1cb141906329dd8ab09584214a88dffaf839ed14c8ef677a6bcf6ea27a02"
#define AZ "{\"type\": \"azure-snp-vtpm\", \"measurements\": [\"" M48 "\"], "

static void test_lint_pcrs(void)
{
    /* valid on both vTPM types; the model holds the mask and the values */
    size_t m;
    char *t = edit(base, "{\"type\": \"sim\"}",
                   "{\"type\": \"sim\"}, " AZ "\"pcrs\": {\"4\": \"" P32 "\", \"11\": \"" P32
                   "\", \"23\": \"" P32 "\"}}, {\"type\": \"azure-tdx-vtpm\", \"measurements\": "
                   "[\"" M48 "\"], \"pcrs\": {\"0\": \"" P32 "\"}}",
                   &m);
    dcr_contract c;
    dcr_contract_diags d;
    dcr_error err = {0};
    CHECK(dcr_contract_parse(t, strlen(t), "t.json", &c, &d, &err) == DCR_OK);
    if (d.n)
        dcr_contract_diags_print(&d, "    t.json", stderr);
    CHECK(c.nevidence == 3 && c.evidence[1].pcr_mask == (1u << 4 | 1u << 11 | 1u << 23));
    CHECK(c.nevidence == 3 && c.evidence[2].pcr_mask == 1u && c.evidence[0].pcr_mask == 0);
    uint8_t want[32];
    CHECK(dcr_hex_decode(want, 32, P32, 64));
    CHECK(c.nevidence == 3 && memcmp(c.evidence[1].pcrs[11], want, 32) == 0);
    dcr_contract_diags_free(&d);
    dcr_contract_free(&c);
    free(t);

    /* indexes: out of range, leading zero, not a number; repeated keys are
     * refused by the JSON parser */
    LINT("{\"type\": \"sim\"}", "{\"type\": \"sim\"}, " AZ "\"pcrs\": {@\"24\": \"" P32 "\"}}",
         "a PCR index must be 0 to 23 without leading zeros, got \"24\"", 1);
    LINT("{\"type\": \"sim\"}", "{\"type\": \"sim\"}, " AZ "\"pcrs\": {@\"04\": \"" P32 "\"}}",
         "got \"04\"", 1);
    LINT("{\"type\": \"sim\"}", "{\"type\": \"sim\"}, " AZ "\"pcrs\": {@\"-1\": \"" P32 "\"}}",
         "got \"-1\"", 1);
    LINT("{\"type\": \"sim\"}",
         "{\"type\": \"sim\"}, " AZ "\"pcrs\": {\"4\": \"" P32 "\", @\"pcr7\": \"" P32 "\"}}",
         "got \"pcr7\"", 1);
    LINT("{\"type\": \"sim\"}",
         "{\"type\": \"sim\"}, " AZ "\"pcrs\": {\"4\": \"" P32 "\", @\"4\": \"" P32 "\"}}",
         "duplicate key", 1);
    /* values: length, hex, kind */
    LINT("{\"type\": \"sim\"}", "{\"type\": \"sim\"}, " AZ "\"pcrs\": {\"7\": @\"" P32 "00\"}}",
         "PCR 7 must be 64 hex digits (32 bytes)", 1);
    LINT("{\"type\": \"sim\"}", "{\"type\": \"sim\"}, " AZ "\"pcrs\": {\"7\": @\"1d3b\"}}",
         "PCR 7 must be 64 hex digits", 1);
    LINT("{\"type\": \"sim\"}",
         "{\"type\": \"sim\"}, " AZ
         "\"pcrs\": {\"7\": @\"zd3b1cb141906329dd8ab09584214a88dffaf839ed"
         "14c8ef677a6bcf6ea27a02\"}}",
         "PCR 7 must be 64 hex digits", 1);
    LINT("{\"type\": \"sim\"}", "{\"type\": \"sim\"}, " AZ "\"pcrs\": {\"7\": @7}}",
         "PCR 7 must be a string, not a number", 1);
    LINT("{\"type\": \"sim\"}", "{\"type\": \"sim\"}, " AZ "\"pcrs\": @[\"" P32 "\"]}",
         "pcrs must be an object, not an array", 1);
    LINT("{\"type\": \"sim\"}", "{\"type\": \"sim\"}, " AZ "\"pcrs\": @{}}",
         "pcrs must not be empty", 1);
    /* types without a vTPM */
    LINT("{\"type\": \"sim\"}",
         "{\"type\": \"sim\"}, {\"type\": \"sev-snp\", \"measurements\": [\"" M48 "\"], @\"pcrs\": "
         "{\"4\": \"" P32 "\"}}",
         "pcrs needs evidence with a vTPM quote (azure-snp-vtpm, azure-tdx-vtpm); sev-snp", 1);
    LINT("{\"type\": \"sim\"}",
         "{\"type\": \"sim\"}, {\"type\": \"tdx\", \"measurements\": [\"" M48 "\"], @\"pcrs\": "
         "{\"4\": \"" P32 "\"}}",
         "tdx evidence has no PCRs to pin", 1);
    LINT("{\"type\": \"sim\"}", "{\"type\": \"sim\", @\"pcrs\": {\"4\": \"" P32 "\"}}",
         "sim evidence has no PCRs to pin", 1);
}

/* ---- the rest of the rules ------------------------------------------------- */

static void test_lint_names_and_roles(void)
{
    LINT("{\"name\": \"publisher\"", "{\"name\": @\"Publisher\"", "is not a valid name", 0);
    LINT("\"name\": \"acme-news-x-shoply\"", "\"name\": @\"acme news\"", "name \"acme news\" must",
         1);
    LINT("[\"provider\", \"receiver\"]", "[\"provider\", @\"reader\"]", "unknown role \"reader\"",
         1);
    LINT("[\"provider\", \"receiver\"]", "[\"provider\", \"receiver\", @\"provider\"]",
         "role \"provider\" is listed twice", 1);
    LINT("\"roles\": [\"provider\", \"receiver\"]", "\"roles\": @[]", "roles must not be empty", 0);
    LINT("\"dcr_contract\": 1", "\"dcr_contract\": @2", "unsupported contract format 2", 1);
    LINT("\"version\": 1,", "\"version\": @0,", "version must be at least 1", 1);
    LINT("\"purpose\": \"Measure", "\"purpose\": @\"\\u001b[31mMeasure", "control characters", 1);
    LINT("{\"name\": \"campaign\", \"type\": \"TEXT\"",
         "{\"name\": \"campaign\", \"type\": @\"STRING\"", "unknown type \"STRING\"", 1);
    LINT("\"role\": \"hidden\"", "\"role\": @\"secret\"", "unknown column role \"secret\"", 1);
    LINT("\"role\": \"join\"}", "\"role\": \"join\", \"normalize\": [@\"lower\"]}",
         "\"lower\" applies only to TEXT columns", 1);
    LINT("\"role\": \"join\"}", "\"role\": \"join\", \"normalize\": [@\"upper\"]}",
         "unknown normalisation \"upper\"", 1);
}

static void test_lint_missing_keys(void)
{
    LINT("{\n  \"dcr_contract\": 1,\n  \"name\": \"acme-news-x-shoply\",",
         "@{\n  \"dcr_contract\": 1,", "the contract lacks the required key \"name\"", 1);
    LINT("{\"name\": \"campaign\", \"type\": \"TEXT\", \"role\": \"dimension\"}",
         "@{\"name\": \"campaign\", \"type\": \"TEXT\"}",
         "a column lacks the required key \"role\"", 1);
}

static void test_lint_keys(void)
{
    char a[DCR_PUB_TEXT_LEN + 2];
    pub_text(&key_pub, a);
    char from[256], to[256];
    snprintf(from, sizeof from, "\"public_key\": \"%s\"", a);
    LINT(from, "\"public_key\": @\"dcr-pub-v1:00\"", "public key is", 1);
    /* the same key for both parties */
    char b[DCR_PUB_TEXT_LEN + 2];
    pub_text(&key_adv, b);
    snprintf(from, sizeof from, "\"public_key\": \"%s\"", b);
    snprintf(to, sizeof to, "\"public_key\": @\"%s\"", a);
    LINT(from, to, "the same key as party \"publisher\"", 1);
}

static void test_lint_aggregates(void)
{
    LINT("[\"SUM\", \"AVG\"]", "[\"SUM\", @\"MEDIAN\"]", "unknown aggregate function \"MEDIAN\"",
         1);
    LINT("[\"SUM\", \"AVG\"]", "[\"SUM\", @\"SUM\"]", "aggregate function \"SUM\" is listed twice",
         1);
    LINT("{\"impressions.cost\":", "{\"impressions.campaign\": [@\"SUM\"], \"impressions.cost\":",
         "SUM needs a metric column, and impressions.campaign is dimension", 1);
    LINT("{\"impressions.cost\":", "{@\"impressions.secret\": [\"COUNT\"], \"impressions.cost\":",
         "hidden column and cannot be aggregated", 1);
    LINT("{\"impressions.cost\":", "{@\"cost\": [\"COUNT\"], \"impressions.cost\":",
         "must name a column as DATASET.COLUMN", 1);
    LINT("{\"impressions.cost\":", "{@\"clicks.n\": [\"COUNT\"], \"impressions.cost\":",
         "no dataset \"clicks\"", 1);
    VALID("{\"impressions.cost\":", "{\"impressions.email\": [\"COUNT_DISTINCT\"], "
                                    "\"impressions.cost\":");
}

static void test_lint_templates(void)
{
    LINT("\"type\": \"DATE\", \"min\"", "\"type\": @\"DATETIME\", \"min\"",
         "unknown type \"DATETIME\"", 1);
    LINT("\"max\": \"2024-12-31\"", "\"max\": @\"2023-12-31\"", "max is less than min", 1);
    LINT("\"max\": \"2024-12-31\"", "\"max\": @\"2024-13-01\"", "max \"2024-13-01\"", 1);
    LINT("\"type\": \"DATE\", \"min\": \"2024-01-01\", \"max\": \"2024-12-31\"",
         "\"type\": \"TEXT\", \"min\": @\"a\"", "min applies only to BIGINT", 0);
    LINT("\"sql\": \"SELECT 1\"", "\"sql\": @\"\"", "sql must be 1 to 65536 bytes", 1);
}

static void test_lint_overlap(void)
{
    LINT("{\"receiver\": \"advertiser\", \"dataset\": \"purchases\"",
         "{\"receiver\": @\"advertiser\", \"dataset\": \"impressions\"",
         "matched identifiers of dataset \"impressions\" may go only to its owner \"publisher\", "
         "not \"advertiser\"",
         1);
    LINT("\"dataset\": \"purchases\", \"column\": \"email\"",
         "\"dataset\": \"purchases\", \"column\": @\"amount\"",
         "overlap column \"amount\" must have role id or join", 1);
    VALID("\"dataset\": \"purchases\", \"column\": \"email\"",
          "\"dataset\": \"purchases\", \"column\": \"customer\"");
}

/* Every problem is reported, sorted by position, not just the first. */
static void test_lint_collects_all(void)
{
    size_t m1, m2, m3;
    char *t1 = edit(base, "\"version\": 1,", "\"version\": @0,", &m1);
    char *t2 = edit(t1, "\"epsilon_per_query\": 0.5", "\"epsilon_per_query\": @0", &m3);
    char *t3 = edit(t2, "\"owner\": \"publisher\"", "\"owner\": @\"nobody\"", &m2);
    dcr_contract c;
    dcr_contract_diags d;
    dcr_error err = {0};
    CHECK(dcr_contract_parse(t3, strlen(t3), "t.json", &c, &d, &err) == DCR_EINPUT);
    CHECK(d.n == 3);
    if (d.n == 3) {
        unsigned l, col;
        line_col(t3, m1, &l, &col);
        CHECK(d.items[0].line == l && d.items[0].column == col);
        CHECK(strstr(d.items[1].msg, "owner") != NULL);
        CHECK(strstr(d.items[2].msg, "epsilon") != NULL);
        CHECK(d.items[0].offset < d.items[1].offset && d.items[1].offset < d.items[2].offset);
    }
    CHECK_MSG(err, "t.json:4:14: version must be at least 1 (and 2 more problems)");
    dcr_contract_diags_free(&d);
    dcr_contract_free(&c);
    free(t1);
    free(t2);
    free(t3);
}

/* ---- the JSON DOM ------------------------------------------------------------ */

static dcr_status json(const char *text, size_t len, size_t *off, dcr_error *err, dcr_json **out)
{
    return dcr_json_parse(text, len, out, off, err);
}

static void test_json_positions(void)
{
    const char *t = "{\"a\" : [1, 2.5 ,\"x\\\"y\" ],\n  \"bb\":{\"c\":null, \"d\" :true}}";
    dcr_json *r;
    size_t off;
    dcr_error err = {0};
    CHECK(json(t, strlen(t), &off, &err, &r) == DCR_OK);
    if (!r)
        return;
    CHECK(r->kind == DCR_JSON_OBJECT && r->n == 2 && r->offset == 0);
    const dcr_json *a = dcr_json_get(r, "a");
    CHECK(a && a->kind == DCR_JSON_ARRAY && a->offset == 7 && a->n == 3);
    if (a && a->n == 3) {
        CHECK(a->items[0]->offset == 8 && a->items[0]->is_int && a->items[0]->i == 1);
        CHECK(a->items[1]->offset == 11 && !a->items[1]->is_int && a->items[1]->d == 2.5);
        CHECK(a->items[2]->offset == 16 && a->items[2]->len == 3);
    }
    const dcr_json_member *bb = dcr_json_member_get(r, "bb");
    CHECK(bb && bb->key_offset == 28 && bb->value->offset == 33);
    unsigned l, c;
    dcr_json_position(t, strlen(t), bb->value->offset, &l, &c);
    CHECK(l == 2 && c == 8);
    const dcr_json *d = dcr_json_get(bb->value, "d");
    CHECK(d && d->kind == DCR_JSON_BOOL && d->boolean);
    /* columns count UTF-8 characters */
    dcr_json_position("\"\xc3\xa4\xc3\xa4\" x", 8, 7, &l, &c);
    CHECK(l == 1 && c == 6);
    dcr_json_free(r);
}

static void json_error_at(const char *t, size_t len, unsigned line, unsigned col, const char *why)
{
    dcr_json *r = NULL;
    size_t off = 0;
    dcr_error err = {0};
    CHECK(json(t, len, &off, &err, &r) == DCR_EINPUT);
    CHECK(r == NULL);
    unsigned l, c;
    dcr_json_position(t, len, off, &l, &c);
    if (l != line || c != col || !strstr(err.msg, why))
        fprintf(stderr, "  json \"%.40s\": got %u:%u %s, want %u:%u %s\n", t, l, c, err.msg, line,
                col, why);
    CHECK(l == line && c == col);
    CHECK_MSG(err, why);
}

static void test_json_errors(void)
{
    json_error_at("{\"a\":1,\n \"a\":2}", 15, 2, 2, "duplicate key");
    json_error_at("{\"a\":{\"b\":1,\"c\":2,\"b\":3}}", 25, 1, 19, "duplicate key");
    json_error_at("{\"a\":1} x", 9, 1, 9, "trailing garbage");
    json_error_at("{\"a\":\"\xff\"}", 9, 1, 7, "invalid UTF-8");
    json_error_at("{\"a\":\"\xc0\xaf\"}", 10, 1, 7, "invalid UTF-8");     /* overlong */
    json_error_at("{\"a\":\"\xed\xa0\x80\"}", 11, 1, 7, "invalid UTF-8"); /* surrogate */
    json_error_at("{\"a\":\"\\ud800\"}", 14, 1, 6, "not valid UTF-8");    /* lone escape */
    json_error_at("{\"\\udfff\":1}", 12, 1, 2, "key is not valid UTF-8");
    json_error_at("{\"a\":\"\\ud800\\u0041\"}", 20, 1, 6, "not valid UTF-8");
    json_error_at("{\"a\":\"\\\\ud800\", \"b\":\"\\ud800\\\\\"}", 31, 1, 21, "not valid UTF-8");
    json_error_at("{\"a\":1, /* c */ \"b\":2}", 22, 1, 9, "comment");
    json_error_at("{\"a\":1 // c\n}", 13, 1, 8, "comment");
    json_error_at("{\"a\":[1,2", 9, 1, 9, "premature EOF");
    json_error_at("", 0, 1, 1, "premature EOF");
    json_error_at("{\"a\":\v1}", 8, 1, 6, "control character");
    json_error_at("{\"a\":1,}", 8, 1, 8, "invalid JSON");
    json_error_at("{\"a\":\"x\ny\"}", 11, 1, 6, "invalid JSON"); /* raw newline in a string */
    json_error_at("{\"a\":1}\0", 8, 1, 8, "invalid JSON");       /* NUL after the value */
    /* nesting: 32 levels are fine, 33 are not */
    char deep[80];
    memset(deep, '[', 32);
    memset(deep + 32, ']', 32);
    dcr_json *r = NULL;
    size_t off;
    dcr_error err = {0};
    CHECK(json(deep, 64, &off, &err, &r) == DCR_OK);
    dcr_json_free(r);
    memset(deep, '[', 33);
    memset(deep + 33, ']', 33);
    json_error_at(deep, 66, 1, 33, "nesting deeper than 32");
    /* size limit */
    char *big = malloc(DCR_JSON_TEXT_MAX + 2);
    if (big) {
        memset(big, ' ', DCR_JSON_TEXT_MAX + 1);
        big[0] = '1';
        CHECK(json(big, DCR_JSON_TEXT_MAX + 1, &off, &err, &r) == DCR_EINPUT);
        CHECK_MSG(err, "larger than");
        free(big);
    }
}

static void test_json_numbers(void)
{
    const char *t = "[123456789012345678901234, -9223372036854775808, 9223372036854775807, 1e999, "
                    "-1e999, 1e-999, 2.0, 0]";
    dcr_json *r;
    size_t off;
    dcr_error err = {0};
    CHECK(json(t, strlen(t), &off, &err, &r) == DCR_OK);
    if (!r || r->n != 8)
        return;
    CHECK(!r->items[0]->is_int && r->items[0]->d > 1e23);
    CHECK(r->items[1]->is_int && r->items[1]->i == INT64_MIN);
    CHECK(r->items[2]->is_int && r->items[2]->i == INT64_MAX);
    CHECK(isinf(r->items[3]->d) && r->items[3]->d > 0);
    CHECK(isinf(r->items[4]->d) && r->items[4]->d < 0);
    CHECK(r->items[5]->d == 0 && !r->items[5]->is_int);
    CHECK(!r->items[6]->is_int && r->items[6]->d == 2.0);
    CHECK(r->items[7]->is_int && r->items[7]->i == 0);
    CHECK_STR(r->items[3]->str, "1e999");
    dcr_json_free(r);
    /* a huge integer where an integer is wanted is refused, not wrapped */
    LINT("\"version\": 1,", "\"version\": @99999999999999999999,", "version must be an integer", 1);
}

static void test_json_strings(void)
{
    const char *t = "{\"k\\u0000x\": \"a\\u0000b\", \"e\": \"\\u00e4\\ud83d\\ude00\"}";
    dcr_json *r;
    size_t off;
    dcr_error err = {0};
    CHECK(json(t, strlen(t), &off, &err, &r) == DCR_OK);
    if (!r)
        return;
    CHECK(r->n == 2 && r->members[0].key_len == 3);
    CHECK(r->members[0].value->len == 3 && memcmp(r->members[0].value->str, "a\0b", 3) == 0);
    const dcr_json *e = dcr_json_get(r, "e");
    CHECK(e && e->len == 6 && memcmp(e->str, "\xc3\xa4\xf0\x9f\x98\x80", 6) == 0);
    dcr_json_free(r);
    /* a name with an embedded NUL is not a valid name */
    LINT("{\"name\": \"campaign\"", "{\"name\": @\"camp\\u0000aign\"", "is not a valid name", 1);
}

/* ---- signatures ------------------------------------------------------------------ */

static int parse_ok(const char *text, size_t len, dcr_contract *c)
{
    dcr_contract_diags d;
    dcr_error err = {0};
    dcr_status s = dcr_contract_parse(text, len, "t", c, &d, &err);
    dcr_contract_diags_free(&d);
    if (s != DCR_OK)
        dcr_contract_free(c);
    return s == DCR_OK;
}

static void test_sign_verify(void)
{
    dcr_contract c;
    if (!parse_ok(base, strlen(base), &c)) {
        CHECK(0);
        return;
    }
    dcr_contract_sig s1, s2;
    dcr_error err = {0};
    CHECK(dcr_contract_sign(&key_pub, c.hash, &s1, &err) == DCR_OK);
    CHECK(dcr_contract_sign(&key_adv, c.hash, &s2, &err) == DCR_OK);
    size_t p = 99;
    CHECK(dcr_contract_sig_verify(&c, &s1, &p, &err) == DCR_OK && p == 0);
    CHECK(dcr_contract_sig_verify(&c, &s2, &p, &err) == DCR_OK && p == 1);
    /* text form round trip */
    char line[DCR_SIG_TEXT_LEN + 2];
    dcr_contract_sig_format(&s1, line, sizeof line);
    CHECK(strlen(line) == DCR_SIG_TEXT_LEN + 1 && strncmp(line, "dcr-sig-v1:", 11) == 0);
    dcr_contract_sig back;
    CHECK(dcr_contract_sig_parse(line, strlen(line), &back, "s", &err) == DCR_OK);
    CHECK_MEM(&back, &s1, sizeof back);
    CHECK(dcr_contract_sig_parse(line, strlen(line) - 2, &back, "s", &err) == DCR_EINPUT);
    line[11 + 64] = '-';
    CHECK(dcr_contract_sig_parse(line, strlen(line), &back, "s", &err) == DCR_EINPUT);
    CHECK(dcr_contract_sig_parse("dcr-pub-v1:00", 13, &back, "s", &err) == DCR_EINPUT);
    /* the signed message is exactly label || 0x00 || hash */
    uint8_t msg[DCR_SIG_MESSAGE_LEN];
    dcr_contract_sig_message(c.hash, msg);
    CHECK(sizeof msg == 58 && memcmp(msg, "dcr contract signature v1\0", 26) == 0);
    CHECK(dcr_ed25519_verify(key_pub.pub.sign_pub, msg, sizeof msg, s1.sig, &err) == DCR_OK);
    /* a flipped signature bit */
    s1.sig[5] ^= 1;
    CHECK(dcr_contract_sig_verify(&c, &s1, &p, &err) == DCR_ECRYPTO);
    CHECK_MSG(err, "invalid signature claiming to be by party \"publisher\"");
    dcr_contract_free(&c);
}

static void test_signature_foreign_key(void)
{
    dcr_contract c;
    if (!parse_ok(base, strlen(base), &c)) {
        CHECK(0);
        return;
    }
    dcr_contract_sig s;
    dcr_error err = {0};
    size_t p;
    CHECK(dcr_contract_sign(&key_other, c.hash, &s, &err) == DCR_OK);
    CHECK(dcr_contract_sig_verify(&c, &s, &p, &err) == DCR_ECRYPTO);
    CHECK_MSG(err, "not the key of any party of this contract");
    /* a foreign signature relabelled with a party's key fails the crypto */
    memcpy(s.sign_pub, key_pub.pub.sign_pub, 32);
    CHECK(dcr_contract_sig_verify(&c, &s, &p, &err) == DCR_ECRYPTO);
    CHECK_MSG(err, "invalid signature");
    dcr_contract_free(&c);
}

static void test_signature_other_contract(void)
{
    size_t m;
    char *other = edit(base, "\"version\": 1,", "\"version\": 2,", &m);
    dcr_contract a, b;
    if (!parse_ok(base, strlen(base), &a)) {
        CHECK(0);
        free(other);
        return;
    }
    if (!parse_ok(other, strlen(other), &b)) {
        CHECK(0);
        dcr_contract_free(&a);
        free(other);
        return;
    }
    dcr_contract_sig s;
    dcr_error err = {0};
    size_t p;
    CHECK(dcr_contract_sign(&key_pub, b.hash, &s, &err) == DCR_OK);
    CHECK(dcr_contract_sig_verify(&b, &s, &p, &err) == DCR_OK);
    CHECK(dcr_contract_sig_verify(&a, &s, &p, &err) == DCR_ECRYPTO);
    CHECK_MSG(err, "signed another contract");
    /* claiming the right hash does not help: the signature covers it */
    memcpy(s.contract_hash, a.hash, 32);
    CHECK(dcr_contract_sig_verify(&a, &s, &p, &err) == DCR_ECRYPTO);
    CHECK_MSG(err, "invalid signature");
    dcr_contract_free(&a);
    dcr_contract_free(&b);
    free(other);
}

/* Any single byte change to a signed contract invalidates every signature:
 * either the changed text is no longer a valid contract, or it is one with
 * another hash, which no existing signature covers. */
static void test_every_byte_change_invalidates(void)
{
    dcr_contract c;
    if (!parse_ok(base, strlen(base), &c)) {
        CHECK(0);
        return;
    }
    dcr_contract_sig sigs[2];
    dcr_error err = {0};
    CHECK(dcr_contract_sign(&key_pub, c.hash, &sigs[0], &err) == DCR_OK);
    CHECK(dcr_contract_sign(&key_adv, c.hash, &sigs[1], &err) == DCR_OK);
    dcr_contract_free(&c);
    size_t len = strlen(base), still_valid = 0, accepted = 0;
    char *t = malloc(len + 1);
    if (!t)
        abort();
    for (size_t i = 0; i < len; i++) {
        memcpy(t, base, len + 1);
        /* a change that keeps most bytes printable, so many edits still parse */
        t[i] = (char)(t[i] == 'a' ? 'b' : t[i] ^ 0x01);
        dcr_contract m;
        if (!parse_ok(t, len, &m))
            continue;
        still_valid++;
        for (int k = 0; k < 2; k++) {
            size_t p;
            if (dcr_contract_sig_verify(&m, &sigs[k], &p, &err) != DCR_ECRYPTO)
                accepted++;
        }
        dcr_contract_free(&m);
    }
    CHECK(accepted == 0);
    CHECK(still_valid > 100); /* the signature path was really exercised */
    printf("     %zu byte changes, %zu still valid contracts, all signatures rejected\n", len,
           still_valid);
    free(t);
}

/* ---- schema for seal -------------------------------------------------------------- */

static void test_dataset_schema(void)
{
    dcr_contract c;
    if (!parse_ok(base, strlen(base), &c)) {
        CHECK(0);
        return;
    }
    dcr_schema s;
    dcr_error err = {0};
    CHECK(dcr_contract_dataset_schema(&c, "purchases", &s, &err) == DCR_OK);
    CHECK_STR(s.dataset, "purchases");
    CHECK(s.ncols == 4);
    if (s.ncols == 4) {
        CHECK_STR(s.cols[0].name, "email");
        CHECK(s.cols[0].type == DCR_TYPE_TEXT && s.cols[0].normalize == DCR_NORM_ALL);
        CHECK(s.cols[0].not_null); /* the privacy unit */
        CHECK(s.cols[1].type == DCR_TYPE_BIGINT && !s.cols[1].not_null);
        CHECK(s.cols[2].type == DCR_TYPE_DATE);
        CHECK_STR(s.cols[3].name, "amount");
    }
    dcr_schema_free(&s);
    CHECK(dcr_contract_dataset_schema(&c, "clicks", &s, &err) == DCR_EINPUT);
    CHECK_MSG(err, "no dataset \"clicks\"");
    dcr_contract_free(&c);
}

int main(void)
{
    make_base();
    RUN(test_base_is_valid);
    RUN(test_lint_invalid_json);
    RUN(test_lint_unknown_keys);
    RUN(test_lint_wrong_types);
    RUN(test_lint_duplicate_names);
    RUN(test_lint_unknown_owner);
    RUN(test_lint_owner_not_provider);
    RUN(test_lint_privacy_unit);
    RUN(test_lint_k);
    RUN(test_lint_metric_bounds);
    RUN(test_lint_epsilon);
    RUN(test_lint_join_types);
    RUN(test_lint_analyst_receivers);
    RUN(test_lint_sim_evidence);
    RUN(test_lint_evidence_entries);
    RUN(test_lint_pcrs);
    RUN(test_lint_names_and_roles);
    RUN(test_lint_missing_keys);
    RUN(test_lint_keys);
    RUN(test_lint_aggregates);
    RUN(test_lint_templates);
    RUN(test_lint_overlap);
    RUN(test_lint_collects_all);
    RUN(test_json_positions);
    RUN(test_json_errors);
    RUN(test_json_numbers);
    RUN(test_json_strings);
    RUN(test_sign_verify);
    RUN(test_signature_foreign_key);
    RUN(test_signature_other_contract);
    RUN(test_every_byte_change_invalidates);
    RUN(test_dataset_schema);
    return check_summary();
}

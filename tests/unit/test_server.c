/*
 * test_server.c: the pieces of the service that need no network: the
 * request-signing message and its signatures (api/request.h), and the
 * instance binding and contract-driven evidence check (api/binding.h) that
 * both `dcr serve` and every client run. The HTTP flow itself is tested end
 * to end in tests/e2e/test_service.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/binding.h"
#include "api/request.h"
#include "attest/tee.h"
#include "base/bytes.h"
#include "check.h"
#include "crypto/hash.h"
#include "crypto/party_key.h"
#include "crypto/sign.h"

static dcr_party_key alice;

static dcr_request_fields fields(void)
{
    dcr_request_fields f = {
        .method = "PUT", .path = "/v1/datasets/impressions", .party = "alice", .time = 1700000000};
    for (int i = 0; i < 16; i++)
        f.nonce[i] = (uint8_t)i;
    memset(f.content_sha256, 0xab, 32);
    memset(f.tls_key_sha256, 0xcd, 32);
    return f;
}

static void test_message_is_the_documented_text(void)
{
    dcr_request_fields f = fields();
    dcr_buf m = DCR_BUF_INIT;
    dcr_error err = {0};
    CHECK(dcr_request_message(&f, &m, &err) == DCR_OK);
    char want[512];
    snprintf(want, sizeof want,
             "dcr request v1\nPUT\n/v1/datasets/impressions\nalice\n1700000000\n"
             "000102030405060708090a0b0c0d0e0f\n%s\n%s\n",
             "abababababababababababababababababababababababababababababababab",
             "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd");
    CHECK(m.len == strlen(want));
    CHECK(m.len == strlen(want) && memcmp(m.data, want, m.len) == 0);
    dcr_buf_free(&m);
}

static void test_sign_verify_round_trip(void)
{
    dcr_request_fields f = fields();
    char sig_hex[129];
    uint8_t sig[64];
    dcr_error err = {0};
    CHECK(dcr_request_sign(&f, alice.sign_seed, sig_hex, &err) == DCR_OK);
    CHECK(strlen(sig_hex) == 128);
    CHECK(dcr_hex_decode(sig, 64, sig_hex, 128));
    CHECK(dcr_request_verify(&f, alice.pub.sign_pub, sig, &err) == DCR_OK);
}

/* Every signed field matters: change any one and the signature fails. */
static void test_every_field_is_bound(void)
{
    dcr_request_fields f = fields();
    char sig_hex[129];
    uint8_t sig[64];
    dcr_error err = {0};
    CHECK(dcr_request_sign(&f, alice.sign_seed, sig_hex, &err) == DCR_OK);
    CHECK(dcr_hex_decode(sig, 64, sig_hex, 128));
    for (int which = 0; which < 7; which++) {
        dcr_request_fields g = fields();
        switch (which) {
        case 0:
            g.method = "POST";
            break;
        case 1:
            g.path = "/v1/datasets/purchases";
            break;
        case 2:
            g.party = "bob";
            break;
        case 3:
            g.time++;
            break;
        case 4:
            g.nonce[15] ^= 1;
            break;
        case 5:
            g.content_sha256[0] ^= 1;
            break;
        case 6:
            g.tls_key_sha256[31] ^= 1;
            break;
        }
        CHECK(dcr_request_verify(&g, alice.pub.sign_pub, sig, &err) == DCR_ECRYPTO);
    }
    dcr_party_key other;
    CHECK(dcr_party_key_generate(&other, &err) == DCR_OK);
    CHECK(dcr_request_verify(&f, other.pub.sign_pub, sig, &err) == DCR_ECRYPTO);
    CHECK_MSG(err, "does not verify under alice's key");
    sig[10] ^= 0x40;
    CHECK(dcr_request_verify(&f, alice.pub.sign_pub, sig, &err) == DCR_ECRYPTO);
    dcr_party_key_wipe(&other);
}

/* Fields that could smuggle a newline (and so a second message) are refused. */
static void test_bad_fields_refused(void)
{
    const char *paths[] = {"", "v1/x", "/v1/x\n", "/v1/x y", "/v1/%2e", "/v1/x?a=b"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        CHECK(!dcr_request_path_ok(paths[i]));
    char longp[300];
    memset(longp, 'a', sizeof longp - 1);
    longp[0] = '/';
    longp[sizeof longp - 1] = '\0';
    CHECK(!dcr_request_path_ok(longp));
    CHECK(dcr_request_path_ok("/v1/datasets/impressions/header"));
    dcr_request_fields f = fields();
    dcr_buf m = DCR_BUF_INIT;
    dcr_error err = {0};
    f.party = "al\nice";
    CHECK(dcr_request_message(&f, &m, &err) == DCR_EINPUT);
    f = fields();
    f.method = "GET\n/v1/x";
    CHECK(dcr_request_message(&f, &m, &err) == DCR_EINPUT);
    f = fields();
    f.party = "";
    CHECK(dcr_request_message(&f, &m, &err) == DCR_EINPUT);
    dcr_buf_free(&m);
}

static void test_report_data_formula(void)
{
    dcr_instance_keys k;
    uint8_t ch[32], rd[64], want[64], msg[16 + 128];
    memset(ch, 1, 32);
    memset(k.tls_spki_sha256, 2, 32);
    memset(k.hpke_pub, 3, 32);
    memset(k.audit_pub, 4, 32);
    memcpy(msg, "dcr instance v1", 16); /* with its 0x00 */
    memcpy(msg + 16, ch, 32);
    memset(msg + 48, 2, 32);
    memset(msg + 80, 3, 32);
    memset(msg + 112, 4, 32);
    dcr_error err = {0};
    CHECK(dcr_sha512(msg, sizeof msg, want, &err) == DCR_OK);
    CHECK(dcr_instance_report_data(ch, &k, rd, &err) == DCR_OK);
    CHECK_MEM(rd, want, 64);
}

/* A contract with one party and the given evidence list. */
static dcr_status contract_with(const char *evidence, dcr_contract *c)
{
    char pub[DCR_PUB_TEXT_LEN + 2], text[4096];
    dcr_party_pub_format(&alice.pub, pub, sizeof pub);
    pub[DCR_PUB_TEXT_LEN] = '\0';
    snprintf(text, sizeof text,
             "{\"dcr_contract\": 1, \"name\": \"t\", \"version\": 1, \"purpose\": \"t\",\n"
             " \"development\": true,\n"
             " \"parties\": [{\"name\": \"alice\", \"roles\": [\"provider\"],\n"
             "   \"public_key\": \"%s\"}],\n"
             " \"datasets\": [{\"name\": \"d\", \"owner\": \"alice\", \"privacy_unit\": \"u\",\n"
             "   \"columns\": [{\"name\": \"u\", \"type\": \"TEXT\", \"role\": \"id\"}]}],\n"
             " \"rules\": {\"aggregation\": {\"min_units\": 10}},\n"
             " \"evidence\": [%s]}\n",
             pub, evidence);
    dcr_contract_diags d;
    dcr_error err = {0};
    dcr_status st = dcr_contract_parse(text, strlen(text), "t.json", c, &d, &err);
    if (st != DCR_OK)
        dcr_contract_diags_print(&d, "t.json", stderr);
    dcr_contract_diags_free(&d);
    return st;
}

static void sim_evidence(const uint8_t rd[64], const uint8_t m[48], dcr_evidence *ev)
{
    dcr_error err = {0};
    memset(ev, 0, sizeof *ev);
    ev->type = DCR_EV_SIM;
    CHECK(dcr_sim_make_report(rd, m, &ev->report, &err) == DCR_OK);
}

static void test_evidence_checked_against_contract(void)
{
    dcr_contract c;
    dcr_instance_keys k;
    memset(&k, 7, sizeof k);
    uint8_t rd[64], m[48];
    memset(m, 0x11, sizeof m);
    dcr_error err = {0};
    json_t *claims = NULL;
    dcr_evidence ev;
    CHECK(contract_with("{\"type\": \"sim\"}", &c) == DCR_OK);
    CHECK(dcr_instance_report_data(c.hash, &k, rd, &err) == DCR_OK);
    sim_evidence(rd, m, &ev);
    CHECK(dcr_instance_check_evidence(&c, &ev, &k, 0, &claims, &err) == DCR_OK);
    json_decref(claims);
    /* Another key than the evidence binds: refused. */
    dcr_instance_keys k2 = k;
    k2.tls_spki_sha256[0] ^= 1;
    CHECK(dcr_instance_check_evidence(&c, &ev, &k2, 0, &claims, &err) == DCR_ECRYPTO);
    CHECK_MSG(err, "report data");
    dcr_evidence_free(&ev);
    dcr_contract_free(&c);

    /* A measurement the contract does not list: refused. */
    char entry[256], hex[97];
    memset(hex, '2', 96);
    hex[96] = '\0';
    snprintf(entry, sizeof entry, "{\"type\": \"sim\", \"measurements\": [\"%s\"]}", hex);
    CHECK(contract_with(entry, &c) == DCR_OK);
    CHECK(dcr_instance_report_data(c.hash, &k, rd, &err) == DCR_OK);
    sim_evidence(rd, m, &ev);
    CHECK(dcr_instance_check_evidence(&c, &ev, &k, 0, &claims, &err) == DCR_ECRYPTO);
    CHECK_MSG(err, "measurement");
    dcr_evidence_free(&ev);
    memset(m, 0x22, sizeof m); /* the listed one */
    sim_evidence(rd, m, &ev);
    CHECK(dcr_instance_check_evidence(&c, &ev, &k, 0, &claims, &err) == DCR_OK);
    json_decref(claims);
    dcr_evidence_free(&ev);
    dcr_contract_free(&c);

    /* A contract that accepts only SNP refuses sim evidence. */
    memset(hex, 'a', 96);
    snprintf(entry, sizeof entry, "{\"type\": \"sev-snp\", \"measurements\": [\"%s\"]}", hex);
    CHECK(contract_with(entry, &c) == DCR_OK);
    CHECK(dcr_instance_report_data(c.hash, &k, rd, &err) == DCR_OK);
    sim_evidence(rd, m, &ev);
    CHECK(dcr_instance_check_evidence(&c, &ev, &k, 0, &claims, &err) == DCR_ECRYPTO);
    CHECK_MSG(err, "does not accept sim evidence");
    CHECK(claims == NULL);
    dcr_evidence_free(&ev);
    dcr_contract_free(&c);
}

int main(void)
{
    dcr_error err = {0};
    if (dcr_party_key_generate(&alice, &err) != DCR_OK)
        return 1;
    RUN(test_message_is_the_documented_text);
    RUN(test_sign_verify_round_trip);
    RUN(test_every_field_is_bound);
    RUN(test_bad_fields_refused);
    RUN(test_report_data_formula);
    RUN(test_evidence_checked_against_contract);
    dcr_party_key_wipe(&alice);
    return check_summary();
}

/*
 * test_attest.c: the attestation verifier against genuine evidence from
 * real AMD SEV-SNP, Intel TDX and Azure hardware (tests/data/attestation,
 * see its README for sources and licences), and every way it must refuse:
 * each single-bit flip in a signed region, a wrong root, wrong report data,
 * a wrong measurement, a debug policy, an expired certificate, corrupted
 * VCEKs, a wrong TPM nonce, tampered PCRs, pinned PCRs that differ or that
 * the quote does not cover; plus the sim producer and the
 * evidence container. A missing data file fails the test, never skips it.
 */
#include <stdlib.h>
#include <string.h>

#include "attest/attest_internal.h"
#include "attest/tee.h"
#include "base/fileio.h"
#include "check.h"
#include "testdata.h"

#define DATA "tests/data/attestation/"
#define AT_2024 1717200000 /* 2024-06-01T00:00:00Z */
#define AT_2025 1748736000 /* 2025-06-01T00:00:00Z, while the VLEK was valid */
#define AT_2023_06_20 1687219200

/* Verifies report bytes (recognised) with optional cert and quote files. */
static dcr_status verify_bytes(const uint8_t *d, size_t len, const char *cert_file,
                               const char *quote_file, dcr_attest_policy *pol, dcr_error *err,
                               json_t **claims_out)
{
    dcr_evidence ev;
    dcr_certset *set = NULL;
    json_t *claims = NULL;
    dcr_status st = dcr_certset_new(&set, err);
    if (st == DCR_OK && cert_file)
        st = dcr_certset_add_file(set, cert_file, err);
    if (st != DCR_OK) {
        dcr_certset_free(set);
        return st;
    }
    if ((st = dcr_evidence_parse(d, len, DCR_EV_UNKNOWN, &ev, err)) == DCR_OK) {
        if (quote_file) {
            blob q = load(quote_file);
            st = dcr_evidence_set_tpm_quote(&ev, q.d, q.len, err);
            free(q.d);
        }
        pol->certs = set;
        if (st == DCR_OK)
            st = dcr_attest_verify(&ev, pol, &claims, err);
        dcr_evidence_free(&ev);
    }
    dcr_certset_free(set);
    if (claims_out)
        *claims_out = claims;
    else
        json_decref(claims);
    return st;
}

static dcr_status verify_file(const char *rel, const char *cert_file, const char *quote_file,
                              dcr_attest_policy *pol, dcr_error *err)
{
    blob b = load(rel);
    if (!b.len)
        return dcr_fail(err, DCR_EINTERNAL, "missing %s", rel);
    dcr_status st = verify_bytes(b.d, b.len, cert_file, quote_file, pol, err, NULL);
    free(b.d);
    return st;
}

static const char *claim(json_t *c, const char *key)
{
    return json_string_value(json_object_get(c, key));
}

static void test_genuine_snp(void)
{
    dcr_error err = {0};
    dcr_attest_policy pol = {.allow_debug = true};
    CHECK(verify_file(DATA "sev-snp/attestation.bin", DATA "sev-snp/vcek.testcer", NULL, &pol,
                      &err) == DCR_OK);
    CHECK_STR(err.msg, "");
    dcr_attest_policy strict = {0};
    CHECK(verify_file(DATA "sev-snp/trustee-test-report.bin", DATA "sev-snp/trustee-test-vcek.der",
                      NULL, &strict, &err) == DCR_OK);
    CHECK_STR(err.msg, "");
    dcr_attest_policy at = {.at = AT_2025};
    CHECK(verify_file(DATA "sev-snp/trustee-test-vlek-report.bin",
                      DATA "sev-snp/trustee-test-vlek.der", NULL, &at, &err) == DCR_OK);
    CHECK_STR(err.msg, "");
}

static void test_snp_claims(void)
{
    blob b = load(DATA "sev-snp/attestation.bin");
    dcr_error err = {0};
    dcr_attest_policy pol = {.allow_debug = true};
    json_t *c = NULL;
    CHECK(verify_bytes(b.d, b.len, DATA "sev-snp/vcek.testcer", NULL, &pol, &err, &c) == DCR_OK);
    CHECK(c && strncmp(claim(c, "measurement"), "b07af962", 8) == 0);
    CHECK(c && strcmp(claim(c, "report_data"),
                      "0102030405000000000000000000000000000000000000000000000000000000"
                      "0000000000000000000000000000000000000000000000000000000000000000") == 0);
    CHECK(c && json_is_true(json_object_get(c, "debug")));
    CHECK(c && strcmp(claim(c, "product"), "Milan") == 0);
    json_decref(c);
    free(b.d);
}

static void test_genuine_tdx(void)
{
    static const char *const quotes[] = {"tdx/tdx_prod_quote_SPR_E4.dat", "tdx/quote_v5_sample.dat",
                                         "tdx/azure-td_quote_v4.dat", "tdx/azure-td_quote_v5.dat"};
    for (size_t i = 0; i < 4; i++) {
        char path[128];
        snprintf(path, sizeof path, DATA "%s", quotes[i]);
        dcr_error err = {0};
        dcr_attest_policy pol = {0};
        CHECK(verify_file(path, NULL, NULL, &pol, &err) == DCR_OK);
        if (err.msg[0])
            fprintf(stderr, "  %s: %s\n", path, err.msg);
    }
}

static void test_tdx_crl(void)
{
    dcr_error err = {0};
    dcr_attest_policy pol = {.at = AT_2023_06_20};
    CHECK(verify_file(DATA "tdx/tdx_prod_quote_SPR_E4.dat", DATA "tdx/pckcrl", NULL, &pol, &err) ==
          DCR_OK);
    CHECK_STR(err.msg, "");
    /* The same CRL a year later is stale: refused, not ignored. */
    dcr_attest_policy late = {.at = AT_2024};
    CHECK(verify_file(DATA "tdx/tdx_prod_quote_SPR_E4.dat", DATA "tdx/pckcrl", NULL, &late, &err) ==
          DCR_ECRYPTO);
    CHECK_MSG(err, "tdx: PCK chain does not lead to the pinned Intel SGX Root CA");
}

static void test_genuine_azure(void)
{
    static const uint8_t challenge[] = "challenge";
    dcr_error err = {0};
    dcr_attest_policy pol = {.nonce = challenge, .nonce_len = 9};
    CHECK(verify_file(DATA "azure-snp-vtpm/hcl-report.bin", DATA "azure-snp-vtpm/vcek.pem",
                      DATA "azure-snp-vtpm/quote.bin", &pol, &err) == DCR_OK);
    CHECK_STR(err.msg, "");
    /* raw TPMS_ATTEST followed by the raw signature, cut from quote.bin
     * (tpm-quote.msg/.sig come from another VM whose AK we lack: they
     * parse, and are refused for the signature). */
    blob q = load(DATA "azure-snp-vtpm/quote.bin");
    FILE *f = fopen("build/test-attest-raw-quote.bin", "wb");
    CHECK(f && q.len == 1170);
    if (f && q.len == 1170) {
        fwrite(q.d + 8 + 256 + 8, 1, 122, f);
        fwrite(q.d + 8, 1, 256, f);
    }
    if (f)
        fclose(f);
    CHECK(verify_file(DATA "azure-snp-vtpm/hcl-report.bin", DATA "azure-snp-vtpm/vcek.pem",
                      "build/test-attest-raw-quote.bin", &pol, &err) == DCR_OK);
    CHECK_STR(err.msg, "");
    free(q.d);
    blob m = load(DATA "azure-snp-vtpm/tpm-quote.msg"),
         s = load(DATA "azure-snp-vtpm/tpm-quote.sig");
    f = fopen("build/test-attest-raw-quote.bin", "wb");
    CHECK(f && m.len && s.len);
    if (f) {
        fwrite(m.d, 1, m.len, f);
        fwrite(s.d, 1, s.len, f);
        fclose(f);
    }
    CHECK(verify_file(DATA "azure-snp-vtpm/hcl-report.bin", DATA "azure-snp-vtpm/vcek.pem",
                      "build/test-attest-raw-quote.bin", &pol, &err) == DCR_ECRYPTO);
    CHECK_MSG(err, "TPM quote signature does not verify with the HCL attestation key");
    err.msg[0] = 0;
    remove("build/test-attest-raw-quote.bin");
    free(m.d);
    free(s.d);
    dcr_attest_policy bundle = {0};
    CHECK(verify_file(DATA "azure-snp-vtpm/evidence-v1.json", NULL, NULL, &bundle, &err) == DCR_OK);
    CHECK_STR(err.msg, "");
}

static void test_azure_refusals(void)
{
    static const uint8_t wrong[] = "challengf";
    dcr_error err = {0};
    dcr_attest_policy pol = {.nonce = wrong, .nonce_len = 9};
    CHECK(verify_file(DATA "azure-snp-vtpm/hcl-report.bin", DATA "azure-snp-vtpm/vcek.pem",
                      DATA "azure-snp-vtpm/quote.bin", &pol, &err) == DCR_ECRYPTO);
    CHECK_MSG(err, "azure-vtpm: TPM quote nonce (extraData) mismatch");
    /* a tampered PCR value, then a tampered quote message */
    blob q = load(DATA "azure-snp-vtpm/quote.bin"), h = load(DATA "azure-snp-vtpm/hcl-report.bin");
    CHECK(q.len == 1170 && h.len == 2600);
    if (q.len != 1170 || h.len != 2600)
        goto out;
    static const struct {
        size_t off;
        const char *msg;
    } cases[] = {{1170 - 32 * 24 + 5, "PCR digest does not match the PCR values"},
                 {8 + 256 + 8 + 60, "TPM quote signature does not verify"},
                 {8 + 10, "TPM quote signature does not verify"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        q.d[cases[i].off] ^= 1;
        FILE *f = fopen("build/test-attest-quote.bin", "wb");
        if (f) {
            fwrite(q.d, 1, q.len, f);
            fclose(f);
        }
        dcr_attest_policy p = {0};
        CHECK(verify_file(DATA "azure-snp-vtpm/hcl-report.bin", DATA "azure-snp-vtpm/vcek.pem",
                          "build/test-attest-quote.bin", &p, &err) == DCR_ECRYPTO);
        CHECK_MSG(err, cases[i].msg);
        q.d[cases[i].off] ^= 1;
    }
    remove("build/test-attest-quote.bin");
    /* runtime JSON changed: the SNP report no longer binds it */
    h.d[1236 + 10] ^= 0x20; /* "keys" -> "kEys" style change inside the JSON */
    dcr_attest_policy p = {0};
    CHECK(verify_bytes(h.d, h.len, DATA "azure-snp-vtpm/vcek.pem", DATA "azure-snp-vtpm/quote.bin",
                       &p, &err, NULL) != DCR_OK);
out:
    free(q.d);
    free(h.d);
}

/* ---- PCR pinning, on the genuine Azure SNP vTPM evidence ---- */

/* PCR values as quote.bin (nonce "challenge") and evidence-v1.json report
 * them; both quotes select SHA-256 PCRs 0-23. */
#define QUOTE_PCR4 "1d3b1cb141906329dd8ab09584214a88dffaf839ed14c8ef677a6bcf6ea27a02"
#define QUOTE_PCR7 "32fe42b385b47cb22c906b8a7e4f134e9f2270818f90e94072d1101ef72f1c00"
#define BUNDLE_PCR4 "eee70c86ea856a27719a2127d6090f02e100e2947c16a0d6a355f7294382992f"
#define ZERO_PCR "0000000000000000000000000000000000000000000000000000000000000000"
#define FF_PCR "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"

static dcr_pcr_pins pins_of(const char *const *args)
{
    dcr_pcr_pins p = {0};
    for (; *args; args++)
        CHECK(dcr_pcr_pin_parse(*args, &p));
    return p;
}

static void test_pcr_pin_parse(void)
{
    dcr_pcr_pins p = {0};
    CHECK(dcr_pcr_pin_parse("4=" QUOTE_PCR4, &p) && p.mask == 1u << 4);
    CHECK(dcr_pcr_pin_parse("23=" ZERO_PCR, &p) && p.mask == (1u << 4 | 1u << 23));
    CHECK(!dcr_pcr_pin_parse("4=" ZERO_PCR, &p)); /* pinned already */
    CHECK(!dcr_pcr_pin_parse("24=" ZERO_PCR, &p));
    CHECK(!dcr_pcr_pin_parse("07=" ZERO_PCR, &p));
    CHECK(!dcr_pcr_pin_parse("-1=" ZERO_PCR, &p));
    CHECK(!dcr_pcr_pin_parse("=" ZERO_PCR, &p));
    CHECK(!dcr_pcr_pin_parse("100=" ZERO_PCR, &p));
    CHECK(!dcr_pcr_pin_parse("5=" QUOTE_PCR4 "00", &p));
    CHECK(!dcr_pcr_pin_parse("5=1d3b", &p));
    CHECK(!dcr_pcr_pin_parse("5", &p));
    CHECK(!dcr_pcr_pin_parse("5=zd3b1cb141906329dd8ab09584214a88dffaf839ed14c8ef677a6bcf6ea27a02",
                             &p));
    CHECK(p.mask == (1u << 4 | 1u << 23));
}

static void test_azure_pcr_pins(void)
{
    static const uint8_t challenge[] = "challenge";
    static const char *const right[] = {"4=" QUOTE_PCR4, "7=" QUOTE_PCR7, "11=" ZERO_PCR, NULL};
    static const char *const wrong[] = {"7=" QUOTE_PCR7, "4=" BUNDLE_PCR4, NULL};
    dcr_error err = {0};
    dcr_pcr_pins pins = pins_of(right);
    dcr_attest_policy pol = {.nonce = challenge, .nonce_len = 9, .pcrs = &pins};
    blob h = load(DATA "azure-snp-vtpm/hcl-report.bin");
    json_t *c = NULL;
    CHECK(verify_bytes(h.d, h.len, DATA "azure-snp-vtpm/vcek.pem", DATA "azure-snp-vtpm/quote.bin",
                       &pol, &err, &c) == DCR_OK);
    CHECK_STR(err.msg, "");
    json_t *pinned = json_object_get(c, "tpm_pcrs_pinned");
    CHECK(json_array_size(pinned) == 3 && json_integer_value(json_array_get(pinned, 0)) == 4 &&
          json_integer_value(json_array_get(pinned, 2)) == 11);
    json_decref(c);

    /* a wrong value: refused, naming the PCR and both values */
    pins = pins_of(wrong);
    CHECK(verify_bytes(h.d, h.len, DATA "azure-snp-vtpm/vcek.pem", DATA "azure-snp-vtpm/quote.bin",
                       &pol, &err, NULL) == DCR_ECRYPTO);
    CHECK_MSG(err, "azure-vtpm: PCR 4 mismatch: expected " BUNDLE_PCR4 ", got " QUOTE_PCR4);

    /* the other genuine quote (evidence-v1.json), whose PCR 4 differs */
    dcr_attest_policy bundle = {.pcrs = &pins};
    pins = (dcr_pcr_pins){0};
    CHECK(dcr_pcr_pin_parse("4=" BUNDLE_PCR4, &pins) && dcr_pcr_pin_parse("8=" ZERO_PCR, &pins));
    err.msg[0] = 0;
    CHECK(verify_file(DATA "azure-snp-vtpm/evidence-v1.json", NULL, NULL, &bundle, &err) == DCR_OK);
    CHECK_STR(err.msg, "");
    pins = pins_of(right);
    CHECK(verify_file(DATA "azure-snp-vtpm/evidence-v1.json", NULL, NULL, &bundle, &err) ==
          DCR_ECRYPTO);
    CHECK_MSG(err, "PCR 4 mismatch: expected " QUOTE_PCR4 ", got " BUNDLE_PCR4);

    /* the quote alone (TPMS_ATTEST + signature, no PCR values): the
     * unpinned check passes, a pinned one cannot be proven */
    blob q = load(DATA "azure-snp-vtpm/quote.bin");
    FILE *f = fopen("build/test-attest-pcr-quote.bin", "wb");
    CHECK(f && q.len == 1170);
    if (f && q.len == 1170) {
        fwrite(q.d + 8 + 256 + 8, 1, 122, f);
        fwrite(q.d + 8, 1, 256, f);
    }
    if (f)
        fclose(f);
    CHECK(verify_bytes(h.d, h.len, DATA "azure-snp-vtpm/vcek.pem",
                       "build/test-attest-pcr-quote.bin", &pol, &err, NULL) == DCR_ECRYPTO);
    CHECK_MSG(err, "PCRs are pinned, but the evidence carries no PCR values");
    remove("build/test-attest-pcr-quote.bin");
    free(q.d);
    free(h.d);

    /* pins on evidence without a vTPM are refused, not ignored */
    dcr_attest_policy snp = {.at = AT_2024, .pcrs = &pins};
    CHECK(verify_file(DATA "sev-snp/attestation.bin", DATA "sev-snp/vcek.testcer", NULL, &snp,
                      &err) == DCR_ECRYPTO);
    CHECK_MSG(err, "PCRs are pinned, but snp evidence has no vTPM quote");
}

/* A pinned PCR the quote does not select is refused. The genuine quotes
 * select all 24, so this feeds the pin check the genuine PCR values with a
 * narrower selection (test_attest_azure_tdx covers it end to end with a
 * quote signed over PCRs 0-15). */
static void test_pcr_pins_outside_selection(void)
{
    static const char *const args[] = {"4=" QUOTE_PCR4, "17=" FF_PCR, "23=" ZERO_PCR, NULL};
    blob q = load(DATA "azure-snp-vtpm/quote.bin");
    CHECK(q.len == 1170);
    if (q.len != 1170) {
        free(q.d);
        return;
    }
    dcr_buf vals = {.data = q.d + 1170 - 24 * 32, .len = 24 * 32};
    dcr_pcr_pins pins = pins_of(args);
    dcr_error err = {0};
    json_t *c = json_object();
    CHECK(dcr_pcr_check_pins(&pins, 0xffff, &vals, "azure-vtpm", c, &err) == DCR_ECRYPTO);
    CHECK_MSG(err, "azure-vtpm: PCRs 17, 23 are pinned, but the TPM quote does not select them");
    pins.mask &= ~(1u << 23);
    CHECK(dcr_pcr_check_pins(&pins, 0xffff, &vals, "azure-vtpm", c, &err) == DCR_ECRYPTO);
    CHECK_MSG(err, "azure-vtpm: PCR 17 is pinned, but the TPM quote does not select it");
    CHECK(dcr_pcr_check_pins(&pins, 0xffffff, &vals, "azure-vtpm", c, &err) == DCR_OK);
    json_decref(c);
    free(q.d);
}

/* What verified claims prove, in words: pins name the image; vTPM evidence
 * without pins proves only the platform. */
static void test_proves_words(void)
{
    char w[512];
    json_t *c = json_pack("{s:[i,i,i]}", "tpm_pcrs_pinned", 4, 7, 11);
    dcr_attest_proves("azure-snp-vtpm", c, true, "the contract", w, sizeof w);
    CHECK_STR(w, "PCRs 4, 7, 11 match the contract: the pinned image booted on genuine AMD "
                 "SEV-SNP (Azure confidential VM, vTPM)");
    json_decref(c);
    c = json_pack("{s:[i]}", "tpm_pcrs_pinned", 11);
    dcr_attest_proves("azure-tdx-vtpm", c, true, "--pcr", w, sizeof w);
    CHECK_STR(w, "PCR 11 matches --pcr: the pinned image booted on genuine Intel TDX (Azure "
                 "confidential VM, vTPM)");
    json_decref(c);
    c = json_object();
    dcr_attest_proves("azure-snp-vtpm", c, true, "the contract", w, sizeof w);
    CHECK(strstr(w, "only the platform") && strstr(w, "the code that booted is NOT proven"));
    dcr_attest_proves("snp", c, true, "the contract", w, sizeof w);
    CHECK_STR(w, "the launch image with an accepted measurement runs on genuine AMD SEV-SNP");
    dcr_attest_proves("tdx", c, false, "--pcr", w, sizeof w);
    CHECK(strstr(w, "no measurement was pinned") && strstr(w, "Intel TDX"));
    dcr_attest_proves("sim", c, false, "--pcr", w, sizeof w);
    CHECK(strncmp(w, "nothing", 7) == 0);
    json_decref(c);
}

/* Every single-bit flip in bytes [from, to) of the file must be refused. */
static size_t flips_accepted(const char *rel, size_t from, size_t to, const char *certs,
                             const dcr_attest_policy *base)
{
    blob b = load(rel);
    size_t accepted = 0;
    if (!b.len || to > b.len)
        return SIZE_MAX;
    for (size_t i = from; i < to; i++)
        for (int bit = 0; bit < 8; bit++) {
            dcr_error err = {0};
            dcr_attest_policy pol = *base;
            b.d[i] ^= (uint8_t)(1u << bit);
            if (verify_bytes(b.d, b.len, certs, NULL, &pol, &err, NULL) == DCR_OK) {
                accepted++;
                fprintf(stderr, "  flip at byte %zu bit %d accepted\n", i, bit);
            }
            b.d[i] ^= (uint8_t)(1u << bit);
        }
    free(b.d);
    return accepted;
}

static void test_snp_every_bit_flip(void)
{
    dcr_attest_policy pol = {0};
    CHECK(flips_accepted(DATA "sev-snp/trustee-test-report.bin", 0, 0x2A0,
                         DATA "sev-snp/trustee-test-vcek.der", &pol) == 0);
}

static void test_tdx_every_bit_flip(void)
{
    dcr_attest_policy pol = {0};
    /* v4: header + TD report (0..0x277), then the QE report (384 bytes
     * after the 4-byte length, 64-byte signature, 64-byte key, 6-byte
     * certification data header), signed by the PCK. */
    size_t qe = 0x278 + 4 + 64 + 64 + 6;
    CHECK(flips_accepted(DATA "tdx/tdx_prod_quote_SPR_E4.dat", 0, 0x278, NULL, &pol) == 0);
    CHECK(flips_accepted(DATA "tdx/tdx_prod_quote_SPR_E4.dat", qe, qe + 384, NULL, &pol) == 0);
    /* v5: header, descriptor and TDX 1.5 body: 0..0x36+648 */
    CHECK(flips_accepted(DATA "tdx/quote_v5_sample.dat", 0, 0x36 + 648, NULL, &pol) == 0);
}

static char *pem_of(const char *rel, int index)
{
    blob b = load(rel);
    char *out = NULL;
    if (!b.len)
        return NULL;
    char *p = (char *)b.d;
    for (int i = 0; p && i < index; i++)
        p = strstr(p + 1, "-----BEGIN CERTIFICATE-----");
    char *end = p ? strstr(p, "-----END CERTIFICATE-----") : NULL;
    if (end) {
        end += strlen("-----END CERTIFICATE-----");
        out = strndup(p, (size_t)(end - p));
    }
    free(b.d);
    return out;
}

static void test_wrong_root(void)
{
    char *genoa_ark = pem_of(DATA "sev-snp/ask_ark_genoa.pem", 1);
    CHECK(genoa_ark != NULL);
    dcr_error err = {0};
    dcr_attest_policy pol = {.roots_override_pem = genoa_ark};
    CHECK(verify_file(DATA "sev-snp/trustee-test-report.bin", DATA "sev-snp/trustee-test-vcek.der",
                      NULL, &pol, &err) == DCR_ECRYPTO);
    CHECK_MSG(err, "sev-snp: VCEK chain does not lead to a pinned AMD root");
    /* A root that comes with the certificates is never trusted: the Genoa
     * chain is supplied, the pinned set is Genoa's, the VCEK is Milan's. */
    CHECK(verify_file(DATA "sev-snp/trustee-test-report.bin", DATA "sev-snp/ask_ark_milan.pem",
                      NULL, &pol, &err) != DCR_OK);
    pol.roots_override_pem = genoa_ark; /* not Intel's */
    CHECK(verify_file(DATA "tdx/tdx_prod_quote_SPR_E4.dat", NULL, NULL, &pol, &err) == DCR_ECRYPTO);
    CHECK_MSG(err, "tdx: PCK chain does not lead to the pinned Intel SGX Root CA");
    free(genoa_ark);
}

static void test_policy_refusals(void)
{
    dcr_error err = {0};
    uint8_t rd[64] = {1, 2, 3, 4, 6};
    dcr_attest_policy pol = {.allow_debug = true, .report_data = rd};
    CHECK(verify_file(DATA "sev-snp/attestation.bin", DATA "sev-snp/vcek.testcer", NULL, &pol,
                      &err) == DCR_ECRYPTO);
    CHECK_MSG(err, "policy: report data mismatch");
    rd[4] = 5;
    CHECK(verify_file(DATA "sev-snp/attestation.bin", DATA "sev-snp/vcek.testcer", NULL, &pol,
                      &err) == DCR_OK);
    dcr_measurement m = {{0xb0, 0x7a, 0xf9, 0x62}};
    dcr_attest_policy pm = {.allow_debug = true, .measurements = &m, .n_measurements = 1};
    CHECK(verify_file(DATA "sev-snp/attestation.bin", DATA "sev-snp/vcek.testcer", NULL, &pm,
                      &err) == DCR_ECRYPTO);
    CHECK_MSG(err, "policy: measurement is not an accepted measurement");
    CHECK(verify_file(DATA "tdx/azure-td_quote_v4.dat", NULL, NULL, &pm, &err) == DCR_ECRYPTO);
    CHECK_MSG(err, "policy: measurement is not an accepted measurement");
    dcr_attest_policy pd = {0};
    CHECK(verify_file(DATA "sev-snp/attestation.bin", DATA "sev-snp/vcek.testcer", NULL, &pd,
                      &err) == DCR_ECRYPTO);
    CHECK_MSG(err, "policy: debug is allowed by the guest policy");
    uint8_t high[8] = {0xff, 0, 0, 0, 0, 0, 0, 0};
    dcr_attest_policy pt = {.min_tcb = high, .min_tcb_len = 8};
    CHECK(verify_file(DATA "sev-snp/trustee-test-report.bin", DATA "sev-snp/trustee-test-vcek.der",
                      NULL, &pt, &err) == DCR_ECRYPTO);
    CHECK_MSG(err, "is below the minimum TCB");
}

static void test_expired_vlek(void)
{
    dcr_error err = {0};
    dcr_attest_policy now = {0};
    CHECK(verify_file(DATA "sev-snp/trustee-test-vlek-report.bin",
                      DATA "sev-snp/trustee-test-vlek.der", NULL, &now, &err) == DCR_ECRYPTO);
    CHECK_MSG(err, "certificate has expired");
    dcr_attest_policy at = {.at = AT_2025};
    CHECK(verify_file(DATA "sev-snp/trustee-test-vlek-report.bin",
                      DATA "sev-snp/trustee-test-vlek.der", NULL, &at, &err) == DCR_OK);
}

static void test_corrupted_vceks(void)
{
    dcr_error err = {0};
    dcr_attest_policy pol = {0};
    CHECK(verify_file(DATA "sev-snp/trustee-test-report.bin",
                      DATA "sev-snp/trustee-test-vcek-invalid-legacy.der", NULL, &pol,
                      &err) != DCR_OK);
    CHECK_MSG(err, "sev-snp:");
    CHECK(verify_file(DATA "sev-snp/trustee-test-report.bin",
                      DATA "sev-snp/trustee-test-vcek-invalid-new.der", NULL, &pol,
                      &err) != DCR_OK);
    CHECK_MSG(err, "sev-snp:");
    /* a genuine VCEK of another chip */
    CHECK(verify_file(DATA "sev-snp/trustee-test-report.bin", DATA "sev-snp/vcek.testcer", NULL,
                      &pol, &err) == DCR_ECRYPTO);
    CHECK_MSG(err, "sev-snp: VCEK hwID does not match CHIP_ID");
    /* no certificate at all */
    CHECK(verify_file(DATA "sev-snp/trustee-test-report.bin", NULL, NULL, &pol, &err) ==
          DCR_EINPUT);
    CHECK_MSG(err, "no VCEK certificate");
}

static void test_sim(void)
{
    dcr_error err = {0};
    uint8_t rd[64] = {7}, m[48] = {9};
    dcr_evidence ev = {0};
    dcr_buf enc = DCR_BUF_INIT;
    CHECK(dcr_tee_sim.get_evidence(NULL, rd, &ev, &err) == DCR_OK);
    CHECK(dcr_evidence_encode(&ev, &enc, &err) == DCR_OK);
    dcr_evidence_free(&ev);
    dcr_attest_policy pol = {.allow_sim = true, .report_data = rd};
    json_t *c = NULL;
    CHECK(verify_bytes(enc.data, enc.len, NULL, NULL, &pol, &err, &c) == DCR_OK);
    CHECK(c && strcmp(claim(c, "marker"), "simulated, insecure") == 0);
    CHECK(c && strcmp(claim(c, "type"), "sim") == 0);
    json_decref(c);
    dcr_attest_policy no_sim = {0};
    CHECK(verify_bytes(enc.data, enc.len, NULL, NULL, &no_sim, &err, NULL) == DCR_ECRYPTO);
    CHECK_MSG(err, "policy: simulated, insecure evidence is not accepted");
    /* every bit of the container's sim report is covered */
    size_t refused = 0, total = 0;
    for (size_t i = 12 + 6; i < enc.len; i++)
        for (int b = 0; b < 8; b++, total++) {
            enc.data[i] ^= (uint8_t)(1u << b);
            dcr_attest_policy p = {.allow_sim = true};
            refused += verify_bytes(enc.data, enc.len, NULL, NULL, &p, &err, NULL) != DCR_OK;
            enc.data[i] ^= (uint8_t)(1u << b);
        }
    CHECK(refused == total);
    dcr_buf_free(&enc);
    dcr_buf raw = DCR_BUF_INIT;
    CHECK(dcr_sim_make_report(rd, m, &raw, &err) == DCR_OK);
    dcr_measurement want = {{9}}, other = {{8}};
    dcr_attest_policy pm = {.allow_sim = true, .measurements = &want, .n_measurements = 1};
    CHECK(verify_bytes(raw.data, raw.len, NULL, NULL, &pm, &err, NULL) == DCR_OK);
    pm.measurements = &other;
    CHECK(verify_bytes(raw.data, raw.len, NULL, NULL, &pm, &err, NULL) == DCR_ECRYPTO);
    CHECK_MSG(err, "policy: measurement");
    dcr_buf_free(&raw);
}

static void test_container_and_recognition(void)
{
    dcr_error err = {0};
    dcr_evidence ev;
    static const uint8_t junk[] = "not evidence at all";
    CHECK(dcr_evidence_parse(junk, sizeof junk, DCR_EV_UNKNOWN, &ev, &err) == DCR_EINPUT);
    CHECK_MSG(err, "unrecognised");
    blob b = load(DATA "sev-snp/attestation.bin");
    dcr_attest_policy forced = {0};
    CHECK(dcr_evidence_parse(b.d, b.len, DCR_EV_TDX, &ev, &err) == DCR_OK);
    json_t *none = NULL;
    CHECK(dcr_attest_verify(&ev, &forced, &none, &err) == DCR_EINPUT && none == NULL);
    CHECK_MSG(err, "tdx: unsupported quote version");
    dcr_evidence_free(&ev);
    CHECK(dcr_evidence_parse(b.d, b.len, DCR_EV_UNKNOWN, &ev, &err) == DCR_OK);
    CHECK(ev.type == DCR_EV_SNP);
    blob v = load(DATA "sev-snp/vcek.testcer");
    CHECK(dcr_buf_append(&ev.certs, v.d, v.len, &err) == DCR_OK);
    dcr_buf enc = DCR_BUF_INIT;
    CHECK(dcr_evidence_encode(&ev, &enc, &err) == DCR_OK);
    dcr_evidence_free(&ev);
    dcr_attest_policy pol = {.allow_debug = true};
    CHECK(verify_bytes(enc.data, enc.len, NULL, NULL, &pol, &err, NULL) == DCR_OK);
    /* truncations of the container are refused cleanly */
    for (size_t n = 0; n < enc.len; n += 97)
        CHECK(verify_bytes(enc.data, n, NULL, NULL, &pol, &err, NULL) != DCR_OK);
    dcr_buf_free(&enc);
    free(b.d);
    free(v.d);
}

static void test_auto_explains(void)
{
    dcr_tee_options opt = {.configfs_dir = "/nonexistent/tsm",
                           .sev_guest = "/nonexistent/sev",
                           .tcti = "device:/nonexistent/tpmrm0"};
    const dcr_tee_backend *b = NULL;
    char explain[2048];
    dcr_error err = {0};
    CHECK(dcr_tee_auto(&opt, &b, explain, sizeof explain, &err) == DCR_EINPUT);
    CHECK(b == NULL);
    CHECK(strstr(explain, "azure-vtpm") && strstr(explain, "sev-snp") && strstr(explain, "tdx") &&
          strstr(explain, "sim"));
    CHECK(strstr(explain, "/nonexistent/tsm absent") != NULL);
    CHECK(dcr_tee_find("sim") == &dcr_tee_sim && dcr_tee_find("nope") == NULL);
}

int main(void)
{
    RUN(test_genuine_snp);
    RUN(test_snp_claims);
    RUN(test_genuine_tdx);
    RUN(test_tdx_crl);
    RUN(test_genuine_azure);
    RUN(test_azure_refusals);
    RUN(test_pcr_pin_parse);
    RUN(test_azure_pcr_pins);
    RUN(test_pcr_pins_outside_selection);
    RUN(test_proves_words);
    RUN(test_snp_every_bit_flip);
    RUN(test_tdx_every_bit_flip);
    RUN(test_wrong_root);
    RUN(test_policy_refusals);
    RUN(test_expired_vlek);
    RUN(test_corrupted_vceks);
    RUN(test_sim);
    RUN(test_container_and_recognition);
    RUN(test_auto_explains);
    return check_summary();
}

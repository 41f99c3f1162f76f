/*
 * test_attest_azure_tdx.c: the azure-tdx-vtpm verifier and the IMDS answer
 * parser. No genuine Azure TDX HCL report is recorded, so the test builds a
 * complete one: a TDX quote v4 signed by an attestation key that a QE
 * report vouches for, the QE report signed by a PCK under a test root
 * (generated here with OpenSSL, given to the verifier through the policy's
 * roots_override_pem seam), the matching TDREPORT inside a synthetic HCL
 * report whose runtime JSON carries a test RSA attestation key, and a TPM
 * quote signed by that key. It verifies; then every single-bit flip in each
 * signed or bound region, a TDREPORT that differs from the quote, a wrong
 * runtime-data hash, a debug TD and a wrong root are refused for the right
 * reason; pinned PCRs are checked against the values the quote signs.
 * The genuine Azure TD quotes must still verify as plain TDX.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "attest/attest_internal.h"
#include "base/bytes.h"
#include "check.h"
#include "crypto/hash.h"
#include "testdata.h"

#define DATA "tests/data/attestation/"

/* ---- OpenSSL helpers ---- */

static EVP_PKEY *p256(void)
{
    return EVP_EC_gen("P-256");
}

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
}

/* A certificate for key named cn, signed by issuer (NULL: self-signed). */
static X509 *cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, bool ca)
{
    static long serial = 1;
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
    X509_gmtime_adj(X509_getm_notBefore(x), -86400);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365 * 10);
    X509_NAME *n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
    X509_set_pubkey(x, key);
    add_ext(x, issuer ? issuer : x, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
    add_ext(x, issuer ? issuer : x, NID_key_usage,
            ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
    X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256());
    return x;
}

static void pem_append(dcr_buf *b, X509 *x)
{
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(bio, x);
    char *p;
    long n = BIO_get_mem_data(bio, &p);
    dcr_error err = {0};
    dcr_buf_append(b, p, (size_t)n, &err);
    BIO_free(bio);
}

/* Raw r||s (32 bytes each) ECDSA-SHA256 signature of msg. */
static void ecdsa_rs(EVP_PKEY *k, const uint8_t *msg, size_t len, uint8_t out[64])
{
    uint8_t der[128];
    size_t dlen = sizeof der;
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    EVP_DigestSignInit(m, NULL, EVP_sha256(), NULL, k);
    EVP_DigestSign(m, der, &dlen, msg, len);
    EVP_MD_CTX_free(m);
    const uint8_t *p = der;
    ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)dlen);
    BN_bn2binpad(ECDSA_SIG_get0_r(s), out, 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(s), out + 32, 32);
    ECDSA_SIG_free(s);
}

static void p256_xy(EVP_PKEY *k, uint8_t out[64])
{
    uint8_t pt[65];
    size_t n = 0;
    EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof pt, &n);
    memcpy(out, pt + 1, 64); /* skip the 0x04 uncompressed marker */
}

static void put16(uint8_t *p, uint16_t v)
{
    dcr_put_u16le(p, v);
}

static void put32(uint8_t *p, uint32_t v)
{
    dcr_put_u32le(p, v);
}

static void app(dcr_buf *b, const void *d, size_t n)
{
    dcr_error err = {0};
    dcr_buf_append(b, d, n, &err);
}

/* ---- the fixture ---- */

/* Where each TDREPORT field sits, and where the quote body has it (Intel TDX
 * module ABI TDREPORT_STRUCT; DCAP quote v4 TD report body). Written here
 * independently of src/attest/azure_tdx.c. */
static const struct {
    size_t r, b, n;
} map[] = {
    {264, 0, 16},   {280, 16, 48},  {328, 64, 48},  {376, 112, 8},  {512, 120, 8},
    {520, 128, 8},  {528, 136, 48}, {576, 184, 48}, {624, 232, 48}, {672, 280, 48},
    {720, 328, 48}, {768, 376, 48}, {816, 424, 48}, {864, 472, 48}, {128, 520, 64},
};
#define N_MAP (sizeof map / sizeof map[0])

typedef struct {
    EVP_PKEY *root_key, *ca_key, *pck_key, *att_key, *ak;
    X509 *root, *ca, *pck;
    char *root_pem, *other_root_pem;
    uint8_t nonce[32];
    uint8_t user_data[64];
} keys;

static keys K;

typedef struct {
    bool debug;                   /* TD attributes bit 0 */
    const char *runtime_override; /* JSON whose hash the quote carries instead */
    int tdreport_rtmr2_delta;     /* makes the TDREPORT differ from the quote */
} variant;

typedef struct {
    dcr_evidence ev;
    size_t qe_report_off, qe_auth_off, qe_auth_len, att_key_off, signed_len;
    size_t json_off, json_len;
    uint8_t mrtd[48];
} fixture;

static char *b64url(const uint8_t *d, size_t n)
{
    char *s = malloc(n / 3 * 4 + 8);
    int m = EVP_EncodeBlock((unsigned char *)s, d, (int)n);
    while (m > 0 && s[m - 1] == '=')
        m--;
    s[m] = 0;
    for (int i = 0; i < m; i++)
        s[i] = s[i] == '+' ? '-' : s[i] == '/' ? '_' : s[i];
    return s;
}

static char *runtime_json(void)
{
    uint8_t n[512];
    BIGNUM *bn = NULL;
    EVP_PKEY_get_bn_param(K.ak, OSSL_PKEY_PARAM_RSA_N, &bn);
    int nlen = BN_bn2bin(bn, n);
    BN_free(bn);
    char *nb = b64url(n, (size_t)nlen);
    char ud[129];
    for (int i = 0; i < 64; i++)
        snprintf(ud + 2 * i, 3, "%02X", K.user_data[i]);
    char *j = malloc(2048);
    snprintf(j, 2048,
             "{\"keys\":[{\"kid\":\"HCLAkPub\",\"key_ops\":[\"sign\"],\"kty\":\"RSA\","
             "\"e\":\"AQAB\",\"n\":\"%s\"}],\"vm-configuration\":{\"console-enabled\":false,"
             "\"secure-boot\":true,\"tpm-enabled\":true,\"vmUniqueId\":\"test\"},"
             "\"user-data\":\"%s\"}",
             nb, ud);
    free(nb);
    return j;
}

static void td_body(uint8_t body[584], const char *json, const variant *v)
{
    for (size_t i = 0; i < 584; i++)
        body[i] = (uint8_t)(i * 7 + 3);
    body[120] = v->debug ? 1 : 0; /* TD attributes: only the debug bit matters here */
    memset(body + 520, 0, 64);
    const char *bound = v->runtime_override ? v->runtime_override : json;
    dcr_error err = {0};
    dcr_sha256(bound, strlen(bound), body + 520, &err);
}

/* The quote: header, body, signature data with the QE report certification
 * data, whose own certification data is the PEM chain PCK, CA, root. */
static void build_quote(fixture *f, const uint8_t body[584])
{
    dcr_buf *q = &f->ev.td_quote;
    uint8_t hdr[48] = {0};
    put16(hdr, 4);
    put16(hdr + 2, 2);
    put32(hdr + 4, 0x81);
    put16(hdr + 8, 11);
    put16(hdr + 10, 13);
    memset(hdr + 12, 0x93, 16);
    app(q, hdr, 48);
    app(q, body, 584);
    f->signed_len = q->len;
    dcr_buf chain = DCR_BUF_INIT;
    pem_append(&chain, K.pck);
    pem_append(&chain, K.ca);
    pem_append(&chain, K.root);
    uint8_t auth[32];
    for (int i = 0; i < 32; i++)
        auth[i] = (uint8_t)i;
    uint8_t ak[64];
    p256_xy(K.att_key, ak);
    uint8_t qe[384] = {0};
    memset(qe, 0x42, 320);
    uint8_t tmp[96];
    memcpy(tmp, ak, 64);
    memcpy(tmp + 64, auth, 32);
    dcr_error err = {0};
    dcr_sha256(tmp, 96, qe + 320, &err);
    uint8_t qe_sig[64], sig[64];
    ecdsa_rs(K.pck_key, qe, 384, qe_sig);
    ecdsa_rs(K.att_key, q->data, q->len, sig);
    size_t inner = 384 + 64 + 2 + 32 + 6 + chain.len;
    size_t sig_len = 64 + 64 + 6 + inner;
    uint8_t b4[4], b6[6], b2[2];
    put32(b4, (uint32_t)sig_len);
    app(q, b4, 4);
    app(q, sig, 64);
    f->att_key_off = q->len;
    app(q, ak, 64);
    put16(b6, 6);
    put32(b6 + 2, (uint32_t)inner);
    app(q, b6, 6);
    f->qe_report_off = q->len;
    app(q, qe, 384);
    app(q, qe_sig, 64);
    put16(b2, 32);
    app(q, b2, 2);
    f->qe_auth_off = q->len;
    f->qe_auth_len = 32;
    app(q, auth, 32);
    put16(b6, 5);
    put32(b6 + 2, (uint32_t)chain.len);
    app(q, b6, 6);
    app(q, chain.data, chain.len);
    dcr_buf_free(&chain);
}

static void build_hcl(fixture *f, const uint8_t body[584], const char *json, const variant *v)
{
    uint8_t tdr[1024];
    for (size_t i = 0; i < sizeof tdr; i++)
        tdr[i] = (uint8_t)(i * 13 + 1); /* MAC, hashes, reserved: not bound */
    tdr[0] = 0x81;
    for (size_t i = 0; i < N_MAP; i++)
        memcpy(tdr + map[i].r, body + map[i].b, map[i].n);
    tdr[816] = (uint8_t)(tdr[816] + v->tdreport_rtmr2_delta);
    size_t jl = strlen(json);
    uint8_t h[32] = {'H', 'C', 'L', 'A'};
    put32(h + 4, 1);
    put32(h + 8, (uint32_t)(1184 + 20 + jl));
    put32(h + 12, 2);
    dcr_buf *r = &f->ev.report;
    app(r, h, 32);
    app(r, tdr, 1024);
    uint8_t pad[160] = {0};
    app(r, pad, 160);
    uint8_t igvm[20];
    put32(igvm, (uint32_t)(20 + jl));
    put32(igvm + 4, 1);
    put32(igvm + 8, 4);
    put32(igvm + 12, 1);
    put32(igvm + 16, (uint32_t)jl);
    app(r, igvm, 20);
    f->json_off = r->len;
    f->json_len = jl;
    app(r, json, jl);
}

/* PCR i holds bytes (32 i + j) * 5, j = 0..31. */
static void pcr_value(unsigned i, uint8_t out[32])
{
    for (unsigned j = 0; j < 32; j++)
        out[j] = (uint8_t)((32 * i + j) * 5);
}

/* A TPM quote over the SHA-256 PCRs in sel (bit i = PCR i), signed by the
 * test AK; all 24 values travel with it. */
static void build_tpm_sel(fixture *f, uint32_t selmask)
{
    dcr_buf *a = &f->ev.tpm_quote, *p = &f->ev.tpm_pcrs;
    dcr_buf_free(a);
    dcr_buf_free(p);
    dcr_buf_free(&f->ev.tpm_sig);
    uint8_t pcrs[24 * 32];
    for (unsigned i = 0; i < 24; i++)
        pcr_value(i, pcrs + 32 * i);
    app(p, pcrs, sizeof pcrs);
    uint8_t digest[32];
    dcr_error err = {0};
    dcr_hash_ctx *h = NULL;
    dcr_hash_init(&h, DCR_SHA256, &err);
    for (unsigned i = 0; i < 24; i++)
        if (selmask & (1u << i))
            dcr_hash_update(h, pcrs + 32 * i, 32, &err);
    dcr_hash_final(h, digest, &err); /* frees h */
    static const uint8_t head[] = {0xff, 0x54, 0x43, 0x47, 0x80, 0x18, 0x00, 0x04, 1, 2, 3, 4};
    app(a, head, sizeof head);
    uint8_t n2[2] = {0, 32};
    app(a, n2, 2);
    app(a, K.nonce, 32);
    uint8_t clock[17 + 8] = {0};
    clock[16] = 1;
    app(a, clock, sizeof clock);
    uint8_t sel[] = {0, 0, 0, 1, 0x00, 0x0b, 3, 0, 0, 0, 0, 32};
    for (int b = 0; b < 3; b++)
        sel[7 + b] = (uint8_t)(selmask >> (8 * b));
    app(a, sel, sizeof sel);
    app(a, digest, 32);
    uint8_t sig[512];
    size_t slen = sizeof sig;
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    EVP_DigestSignInit(m, NULL, EVP_sha256(), NULL, K.ak);
    EVP_DigestSign(m, sig, &slen, a->data, a->len);
    EVP_MD_CTX_free(m);
    app(&f->ev.tpm_sig, sig, slen);
}

static void make(fixture *f, const variant *v)
{
    static const variant plain = {0};
    v = v ? v : &plain;
    memset(f, 0, sizeof *f);
    f->ev.type = DCR_EV_AZURE_TDX;
    char *json = runtime_json();
    uint8_t body[584];
    td_body(body, json, v);
    memcpy(f->mrtd, body + 136, 48);
    build_quote(f, body);
    build_hcl(f, body, json, v);
    build_tpm_sel(f, 0xffffff);
    free(json);
}

static dcr_attest_policy policy(void)
{
    dcr_attest_policy p = {0};
    p.roots_override_pem = K.root_pem;
    p.nonce = K.nonce;
    p.nonce_len = 32;
    p.report_data = K.user_data;
    return p;
}

static dcr_status verify(const dcr_evidence *ev, const dcr_attest_policy *p, dcr_error *err)
{
    json_t *claims = NULL;
    memset(err, 0, sizeof *err);
    dcr_status st = dcr_attest_verify(ev, p, &claims, err);
    json_decref(claims);
    return st;
}

static char *pem_of(X509 *x)
{
    dcr_buf b = DCR_BUF_INIT;
    pem_append(&b, x);
    app(&b, "", 1);
    return (char *)b.data;
}

static void setup(void)
{
    K.root_key = p256();
    K.ca_key = p256();
    K.pck_key = p256();
    K.att_key = p256();
    K.ak = EVP_RSA_gen(2048);
    K.root = cert("Test SGX Root CA", K.root_key, NULL, NULL, true);
    K.ca = cert("Test SGX PCK Platform CA", K.ca_key, K.root, K.root_key, true);
    K.pck = cert("Test SGX PCK Certificate", K.pck_key, K.ca, K.ca_key, false);
    K.root_pem = pem_of(K.root);
    EVP_PKEY *other = p256();
    X509 *o = cert("Test SGX Root CA", other, NULL, NULL, true);
    K.other_root_pem = pem_of(o);
    X509_free(o);
    EVP_PKEY_free(other);
    for (int i = 0; i < 32; i++)
        K.nonce[i] = (uint8_t)(0xa0 + i);
    for (int i = 0; i < 64; i++)
        K.user_data[i] = (uint8_t)(i * 3 + 1);
}

static void teardown(void)
{
    EVP_PKEY_free(K.root_key);
    EVP_PKEY_free(K.ca_key);
    EVP_PKEY_free(K.pck_key);
    EVP_PKEY_free(K.att_key);
    EVP_PKEY_free(K.ak);
    X509_free(K.root);
    X509_free(K.ca);
    X509_free(K.pck);
    free(K.root_pem);
    free(K.other_root_pem);
}

/* ---- tests ---- */

static void test_verifies(void)
{
    fixture f;
    make(&f, NULL);
    dcr_attest_policy p = policy();
    dcr_measurement m;
    memcpy(m.bytes, f.mrtd, 48);
    p.measurements = &m;
    p.n_measurements = 1;
    json_t *c = NULL;
    dcr_error err = {0};
    CHECK(dcr_attest_verify(&f.ev, &p, &c, &err) == DCR_OK);
    if (err.msg[0])
        fprintf(stderr, "  %s\n", err.msg);
    char hex[97];
    dcr_hex_encode(hex, f.mrtd, 48);
    CHECK(c && strcmp(json_string_value(json_object_get(c, "type")), "azure-tdx-vtpm") == 0);
    CHECK(c && strcasecmp(json_string_value(json_object_get(c, "measurement")), hex) == 0);
    CHECK(c && json_is_false(json_object_get(c, "debug")));
    json_t *tdx = json_object_get(c, "tdx");
    CHECK(tdx && strcmp(json_string_value(json_object_get(tdx, "pck_issuer")),
                        "Test SGX PCK Platform CA") == 0);
    CHECK(json_object_get(c, "report_data") &&
          json_is_true(json_object_get(c, "tpm_nonce_checked")));
    CHECK(json_object_get(c, "vm_configuration") != NULL);
    json_decref(c);

    /* through the container, recognised without a type */
    dcr_buf enc = DCR_BUF_INIT;
    dcr_evidence back;
    CHECK(dcr_evidence_encode(&f.ev, &enc, &err) == DCR_OK);
    CHECK(dcr_evidence_parse(enc.data, enc.len, DCR_EV_UNKNOWN, &back, &err) == DCR_OK);
    CHECK(back.type == DCR_EV_AZURE_TDX && back.td_quote.len == f.ev.td_quote.len);
    CHECK(verify(&back, &p, &err) == DCR_OK);
    dcr_evidence_free(&back);
    dcr_buf_free(&enc);
    /* the raw HCL report is recognised as azure-tdx-vtpm too */
    CHECK(dcr_evidence_parse(f.ev.report.data, f.ev.report.len, DCR_EV_UNKNOWN, &back, &err) ==
          DCR_OK);
    CHECK(back.type == DCR_EV_AZURE_TDX);
    dcr_evidence_free(&back);
    dcr_evidence_free(&f.ev);
}

/* Flips every bit of buf[from, to) in turn; each must be refused with a
 * message containing one of the reasons. Returns how many were not. */
static size_t flips(fixture *f, dcr_buf *buf, size_t from, size_t to, const char *const *reasons)
{
    dcr_attest_policy p = policy();
    size_t bad = 0;
    for (size_t i = from; i < to; i++)
        for (int bit = 0; bit < 8; bit++) {
            buf->data[i] ^= (uint8_t)(1u << bit);
            dcr_error err;
            dcr_status st = verify(&f->ev, &p, &err);
            bool named = false;
            for (size_t r = 0; reasons[r]; r++)
                named = named || strstr(err.msg, reasons[r]);
            if (st == DCR_OK || !named) {
                if (bad++ < 5)
                    fprintf(stderr, "  flip at %zu bit %d: %s\n", i, bit,
                            st == DCR_OK ? "accepted" : err.msg);
            }
            buf->data[i] ^= (uint8_t)(1u << bit);
        }
    return bad;
}

static void test_quote_flips(void)
{
    fixture f;
    make(&f, NULL);
    dcr_buf *q = &f.ev.td_quote;
    /* version, key type, TEE type: the parser refuses before any signature */
    static const char *const hdr[] = {
        "tdx: unsupported quote version",  "tdx: unsupported body type",
        "tdx: attestation key type",       "tdx: TEE type",
        "quote signature does not verify", NULL};
    static const char *const sig[] = {"tdx: quote signature does not verify", NULL};
    static const char *const ak[] = {"tdx: quote signature does not verify",
                                     "attestation key is not a P-256 point", NULL};
    static const char *const qe[] = {"tdx: QE report signature does not verify with the PCK",
                                     "tdx: QE report data does not bind", NULL};
    static const char *const auth[] = {"tdx: QE report data does not bind", NULL};
    CHECK(flips(&f, q, 0, 8, hdr) == 0);
    CHECK(flips(&f, q, 8, f.signed_len, sig) == 0);
    CHECK(flips(&f, q, f.signed_len + 4, f.signed_len + 68, sig) == 0); /* the signature */
    CHECK(flips(&f, q, f.att_key_off, f.att_key_off + 64, ak) == 0);
    CHECK(flips(&f, q, f.qe_report_off, f.qe_report_off + 448, qe) == 0); /* report + its sig */
    CHECK(flips(&f, q, f.qe_auth_off, f.qe_auth_off + f.qe_auth_len, auth) == 0);
    dcr_evidence_free(&f.ev);
}

static void test_hcl_flips(void)
{
    fixture f;
    make(&f, NULL);
    dcr_buf *r = &f.ev.report;
    static const char *const differs[] = {"TDREPORT does not match the TD quote", NULL};
    static const char *const type[] = {"TDREPORT type", NULL};
    CHECK(flips(&f, r, 32, 33, type) == 0);
    size_t bad = 0;
    for (size_t i = 0; i < N_MAP; i++)
        bad += flips(&f, r, 32 + map[i].r, 32 + map[i].r + map[i].n, differs);
    CHECK(bad == 0);
    /* Every byte of the runtime JSON is bound: a flip breaks the JSON, the
     * AK (so the TPM signature) or, at the least, the hash binding. */
    static const char *const json[] = {"REPORT_DATA does not bind the HCL runtime data",
                                       "HCL runtime data is not a JSON object",
                                       "HCLAkPub",
                                       "TPM quote signature does not verify",
                                       "policy: report data mismatch",
                                       NULL};
    CHECK(flips(&f, r, f.json_off, f.json_off + f.json_len, json) == 0);
    /* the IGVM request data: size, version, type, hash type, variable size */
    static const char *const igvm[] = {"azure-vtpm:", "azure-tdx-vtpm:", NULL};
    size_t ig = f.json_off - 20;
    CHECK(flips(&f, r, ig + 8, ig + 20, igvm) == 0);
    CHECK(flips(&f, r, 0, 4, igvm) == 0); /* the HCLA magic */
    dcr_evidence_free(&f.ev);
}

static void test_tpm_flips(void)
{
    fixture f;
    make(&f, NULL);
    static const char *const sig[] = {"TPM quote signature does not verify", "TPM quote",
                                      "bytes after the TPMS_ATTEST", NULL};
    static const char *const pcr[] = {"PCR digest does not match", NULL};
    CHECK(flips(&f, &f.ev.tpm_quote, 0, f.ev.tpm_quote.len, sig) == 0);
    CHECK(flips(&f, &f.ev.tpm_sig, 0, f.ev.tpm_sig.len, sig) == 0);
    CHECK(flips(&f, &f.ev.tpm_pcrs, 0, f.ev.tpm_pcrs.len, pcr) == 0);
    dcr_evidence_free(&f.ev);
}

/* PCR pinning on azure-tdx-vtpm: right values pass, a wrong one is named
 * with both values, and a PCR outside a signed quote over PCRs 0-15 is
 * refused though its value is supplied. */
static void test_pcr_pins(void)
{
    fixture f;
    make(&f, NULL);
    dcr_attest_policy p = policy();
    dcr_pcr_pins pins = {.mask = 1u << 4 | 1u << 11 | 1u << 17};
    for (unsigned i = 0; i < 24; i++)
        pcr_value(i, pins.values[i]);
    p.pcrs = &pins;
    dcr_error err;
    CHECK(verify(&f.ev, &p, &err) == DCR_OK);
    CHECK_STR(err.msg, "");
    pins.values[11][31] ^= 1;
    CHECK(verify(&f.ev, &p, &err) == DCR_ECRYPTO);
    CHECK_MSG(err, "azure-vtpm: PCR 11 mismatch: expected ");
    char want[65], got[65], msg[160];
    dcr_hex_encode(want, pins.values[11], 32);
    pins.values[11][31] ^= 1;
    dcr_hex_encode(got, pins.values[11], 32);
    snprintf(msg, sizeof msg, "expected %s, got %s", want, got);
    CHECK_MSG(err, msg);
    build_tpm_sel(&f, 0xffff);
    pins.mask = 1u << 4; /* inside the narrower selection: still fine */
    CHECK(verify(&f.ev, &p, &err) == DCR_OK);
    pins.mask = 1u << 4 | 1u << 17;
    CHECK(verify(&f.ev, &p, &err) == DCR_ECRYPTO);
    CHECK_MSG(err, "PCR 17 is pinned, but the TPM quote does not select it in the SHA-256 bank");
    dcr_evidence_free(&f.ev);
}

static void test_refusals(void)
{
    dcr_error err;
    fixture f;
    dcr_attest_policy p = policy();

    variant mismatch = {.tdreport_rtmr2_delta = 1};
    make(&f, &mismatch);
    CHECK(verify(&f.ev, &p, &err) == DCR_ECRYPTO);
    CHECK_MSG(err, "TDREPORT does not match the TD quote (RTMR2 differs)");
    dcr_evidence_free(&f.ev);

    variant wrong_hash = {.runtime_override = "{\"keys\":[]}"};
    make(&f, &wrong_hash);
    CHECK(verify(&f.ev, &p, &err) == DCR_ECRYPTO);
    CHECK_MSG(err, "REPORT_DATA does not bind the HCL runtime data");
    dcr_evidence_free(&f.ev);

    variant debug = {.debug = true};
    make(&f, &debug);
    CHECK(verify(&f.ev, &p, &err) == DCR_ECRYPTO);
    CHECK_MSG(err, "policy: TD debug attribute is set");
    dcr_attest_policy dp = p;
    dp.allow_debug = true;
    CHECK(verify(&f.ev, &dp, &err) == DCR_OK);
    dcr_evidence_free(&f.ev);

    make(&f, NULL);
    dcr_attest_policy wr = p;
    wr.roots_override_pem = K.other_root_pem;
    CHECK(verify(&f.ev, &wr, &err) == DCR_ECRYPTO);
    CHECK_MSG(err, "tdx: PCK chain does not lead to");
    wr.roots_override_pem = NULL; /* the pinned Intel root */
    CHECK(verify(&f.ev, &wr, &err) == DCR_ECRYPTO);
    CHECK_MSG(err, "tdx: PCK chain does not lead to the pinned Intel SGX Root CA");

    dcr_measurement m = {{0}};
    dcr_attest_policy mp = p;
    mp.measurements = &m;
    mp.n_measurements = 1;
    CHECK(verify(&f.ev, &mp, &err) == DCR_ECRYPTO);
    CHECK_MSG(err, "policy: measurement is not an accepted measurement");

    uint8_t other_rd[64] = {0};
    dcr_attest_policy rp = p;
    rp.report_data = other_rd;
    CHECK(verify(&f.ev, &rp, &err) == DCR_ECRYPTO);
    CHECK_MSG(err, "policy: report data mismatch");

    uint8_t other_nonce[32] = {1};
    dcr_attest_policy np = p;
    np.nonce = other_nonce;
    CHECK(verify(&f.ev, &np, &err) == DCR_ECRYPTO);
    CHECK_MSG(err, "nonce (extraData) mismatch");

    f.ev.type = DCR_EV_AZURE_SNP;
    CHECK(verify(&f.ev, &p, &err) == DCR_EINPUT);
    CHECK_MSG(err, "its HCL report is azure-tdx-vtpm");
    f.ev.type = DCR_EV_AZURE_TDX;

    dcr_buf q = f.ev.td_quote;
    f.ev.td_quote = (dcr_buf)DCR_BUF_INIT;
    CHECK(verify(&f.ev, &p, &err) == DCR_EINPUT);
    CHECK_MSG(err, "azure-tdx-vtpm: no TD quote");
    /* a genuine TD quote of another TD: verifies as TDX, not as this HCL's */
    blob g = load(DATA "tdx/azure-td_quote_v4.dat");
    app(&f.ev.td_quote, g.d, g.len);
    dcr_attest_policy intel = p;
    intel.roots_override_pem = NULL;
    CHECK(verify(&f.ev, &intel, &err) == DCR_ECRYPTO);
    CHECK_MSG(err, "TDREPORT does not match the TD quote");
    free(g.d);
    dcr_buf_free(&f.ev.td_quote);
    f.ev.td_quote = q;
    dcr_evidence_free(&f.ev);
}

static void test_genuine_azure_quotes_still_tdx(void)
{
    static const char *const files[] = {DATA "tdx/azure-td_quote_v4.dat",
                                        DATA "tdx/azure-td_quote_v5.dat"};
    for (size_t i = 0; i < 2; i++) {
        blob b = load(files[i]);
        dcr_evidence ev;
        dcr_error err = {0};
        dcr_attest_policy p = {0};
        CHECK(b.len && dcr_evidence_parse(b.d, b.len, DCR_EV_UNKNOWN, &ev, &err) == DCR_OK);
        CHECK(ev.type == DCR_EV_TDX);
        CHECK(verify(&ev, &p, &err) == DCR_OK);
        if (err.msg[0])
            fprintf(stderr, "  %s: %s\n", files[i], err.msg);
        dcr_evidence_free(&ev);
        free(b.d);
    }
}

/* ---- the IMDS answer ---- */

static dcr_status parse_answer(const char *body, dcr_buf *out, dcr_error *err)
{
    dcr_buf_free(out);
    memset(err, 0, sizeof *err);
    return dcr_imds_parse_quote(body, strlen(body), out, err);
}

static void test_imds_answer(void)
{
    fixture f;
    make(&f, NULL);
    char *b = b64url(f.ev.td_quote.data, f.ev.td_quote.len);
    size_t n = strlen(b);
    char *body = malloc(n + 64);
    dcr_buf out = DCR_BUF_INIT;
    dcr_error err;
    snprintf(body, n + 64, "{\"quote\":\"%s\"}", b);
    CHECK(parse_answer(body, &out, &err) == DCR_OK);
    CHECK(out.len == f.ev.td_quote.len && memcmp(out.data, f.ev.td_quote.data, out.len) == 0);
    /* padded base64url is fine too */
    size_t pad = (4 - n % 4) % 4;
    snprintf(body, n + 64, "{\"quote\":\"%s%.*s\"}", b, (int)pad, "==");
    CHECK(pad == 0 || parse_answer(body, &out, &err) == DCR_OK);
    snprintf(body, n + 64, "{\"quote\":\"%s===\"}", b);
    CHECK(parse_answer(body, &out, &err) == DCR_EINPUT);
    CHECK_MSG(err, "not base64url");
    char *plus = strdup(body);
    plus[12] = '+';
    CHECK(parse_answer(plus, &out, &err) == DCR_EINPUT);
    CHECK_MSG(err, "not base64url");
    free(plus);
    CHECK(parse_answer("", &out, &err) == DCR_EINPUT);
    CHECK(parse_answer("<html>502</html>", &out, &err) == DCR_EINPUT);
    CHECK_MSG(err, "not a JSON object");
    CHECK(parse_answer("{\"quote\":42}", &out, &err) == DCR_EINPUT);
    CHECK_MSG(err, "no \"quote\" string");
    CHECK(parse_answer("{\"quote\":\"AAAA\"}", &out, &err) == DCR_EINPUT);
    CHECK_MSG(err, "implausible");
    CHECK(parse_answer("{\"quote\":\"AAAA\\u0000AAAA\"}", &out, &err) == DCR_EINPUT);
    /* a quote-sized answer that is no TDX quote */
    uint8_t junk[700];
    memset(junk, 0x41, sizeof junk);
    char *jb = b64url(junk, sizeof junk);
    snprintf(body, n + 64, "{\"quote\":\"%s\"}", jb);
    CHECK(parse_answer(body, &out, &err) == DCR_EINPUT);
    CHECK_MSG(err, "not a TD quote");
    free(jb);
    /* too long */
    size_t big = 4 * DCR_TD_QUOTE_MAX;
    char *huge = malloc(big + 32);
    memcpy(huge, "{\"quote\":\"", 10);
    memset(huge + 10, 'A', big);
    memcpy(huge + 10 + big, "\"}", 3);
    CHECK(parse_answer(huge, &out, &err) == DCR_EINPUT);
    CHECK_MSG(err, "over the");
    free(huge);
    dcr_buf_free(&out);
    free(body);
    free(b);
    dcr_evidence_free(&f.ev);
}

/* A listener that never answers: the exchange gives up at the timeout. */
static void test_imds_timeout(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    CHECK(s >= 0 && bind(s, (struct sockaddr *)&a, sizeof a) == 0 && listen(s, 4) == 0 &&
          getsockname(s, (struct sockaddr *)&a, &al) == 0);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/", ntohs(a.sin_port));
    uint8_t tdr[DCR_TDREPORT_LEN] = {0x81};
    dcr_buf q = DCR_BUF_INIT;
    dcr_error err = {0};
    CHECK(dcr_imds_td_quote(url, 300, tdr, &q, &err) == DCR_EINPUT);
    CHECK_MSG(err, "did not answer in time");
    CHECK(q.len == 0);
    close(s);
    /* nobody listening at all */
    CHECK(dcr_imds_td_quote(url, 300, tdr, &q, &err) == DCR_EINPUT);
    CHECK_MSG(err, "imds: POST");
}

int main(void)
{
    setup();
    RUN(test_verifies);
    RUN(test_quote_flips);
    RUN(test_hcl_flips);
    RUN(test_tpm_flips);
    RUN(test_pcr_pins);
    RUN(test_refusals);
    RUN(test_genuine_azure_quotes_still_tdx);
    RUN(test_imds_answer);
    RUN(test_imds_timeout);
    teardown();
    return check_summary();
}

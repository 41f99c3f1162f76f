/*
 * azure.c: Azure confidential VM (vTPM) evidence: the HCL report and the
 * TPM quote, verified together.
 *
 * On Azure the guest cannot ask the SNP firmware for a report directly; the
 * paravisor (HCL) does, and publishes it in vTPM NV index 0x01400001 as an
 * "HCL report": a 32-byte header ("HCLA"), the hardware report (1184 bytes),
 * then the IGVM request data whose variable part is the runtime JSON. The
 * hardware REPORT_DATA holds a hash of that JSON, and the JSON holds the
 * vTPM attestation key (HCLAkPub, a JWK) and the guest's 64 bytes of
 * user-data (what the guest wrote to NV 0x01400002). A TPM2_Quote signed by
 * that AK then vouches for the PCRs and a caller nonce. So the chain is:
 * AMD root -> VCEK -> SNP report -> runtime JSON -> AK -> quote -> PCRs.
 *
 * On Azure TDX the hardware report area holds a TDREPORT instead (report
 * type 4), which only the platform can check; the producer has Azure's
 * IMDS turn it into a TD quote (imds.c), which travels with the evidence.
 * The chain is then: Intel root -> PCK -> QE -> TD quote -> TDREPORT (same
 * fields, azure_tdx.c) -> runtime JSON -> AK -> quote -> PCRs.
 *
 * Checks, in order: HCL layout, runtime JSON and AK, quote layout, quote
 * signature by the AK, nonce, PCR digest, pinned PCRs (pcr.c), the
 * hardware evidence (snp.c, or
 * tdx.c then the TDREPORT match; with the report-data policy moved to
 * user-data), the runtime-data binding, then user-data against the expected
 * report data.
 */
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <string.h>

#include "attest/attest_internal.h"
#include "base/bytes.h"
#include "crypto/hash.h"
#include "base/hygiene.h"

enum {
    HCL_HEADER = 32,
    HCL_HW_REPORT = 32,
    HCL_IGVM = 32 + 1184,
    HCL_VAR_DATA = HCL_IGVM + 20,
    IGVM_SNP = 2,
    IGVM_TDX = 4,
    TPM_GENERATED = 0xff544347,
    TPM_ST_ATTEST_QUOTE = 0x8018,
    TPM_ALG_SHA256 = 0x000b,
    TPM_ALG_RSASSA = 0x0014,
    TDX_BODY_REPORT_DATA = 520,
};

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

typedef struct {
    const uint8_t *nonce;
    size_t nonce_len;
    const uint8_t *sel; /* TPML_PCR_SELECTION body (after the count) */
    uint32_t nsel;
    const uint8_t *digest;
    size_t digest_len;
    size_t len; /* bytes of the whole TPMS_ATTEST */
} tpm_quote;

/* A TPM2B: u16 big-endian size, then bytes, within [*off, len). */
static bool tpm2b(const uint8_t *d, size_t len, size_t *off, size_t max, const uint8_t **p,
                  size_t *n)
{
    if (len - *off < 2)
        return false;
    *n = be16(d + *off);
    if (*n > max || len - *off - 2 < *n)
        return false;
    *p = d + *off + 2;
    *off += 2 + *n;
    return true;
}

/* Parses TPMS_ATTEST (quote); the structure delimits itself, so len may
 * include what follows (a signature). */
static dcr_status parse_quote(const uint8_t *d, size_t len, tpm_quote *q, dcr_error *err)
{
    size_t off = 6, n;
    const uint8_t *p;
    if (len < 6 || be32(d) != TPM_GENERATED || be16(d + 4) != TPM_ST_ATTEST_QUOTE)
        return dcr_fail(err, DCR_EINPUT, "azure-vtpm: TPM quote is not a TPMS_ATTEST quote");
    if (!tpm2b(d, len, &off, 68, &p, &n) || !tpm2b(d, len, &off, 64, &q->nonce, &q->nonce_len))
        return dcr_fail(err, DCR_EINPUT, "azure-vtpm: TPM quote signer or extraData is malformed");
    if (len - off < 17 + 8 + 4)
        return dcr_fail(err, DCR_EINPUT, "azure-vtpm: TPM quote is truncated");
    off += 17 + 8; /* clockInfo, firmwareVersion */
    q->nsel = be32(d + off);
    off += 4;
    if (q->nsel > 16)
        return dcr_fail(err, DCR_EINPUT, "azure-vtpm: TPM quote has %u PCR selections", q->nsel);
    q->sel = d + off;
    for (uint32_t i = 0; i < q->nsel; i++) {
        if (len - off < 3 || d[off + 2] > 4 || len - off - 3 < d[off + 2])
            return dcr_fail(err, DCR_EINPUT, "azure-vtpm: TPM quote PCR selection is malformed");
        off += 3 + d[off + 2];
    }
    if (!tpm2b(d, len, &off, 64, &q->digest, &q->digest_len))
        return dcr_fail(err, DCR_EINPUT, "azure-vtpm: TPM quote PCR digest is malformed");
    q->len = off;
    return DCR_OK;
}

dcr_status dcr_evidence_set_tpm_quote(dcr_evidence *ev, const uint8_t *d, size_t len,
                                      dcr_error *err)
{
    dcr_status st;
    dcr_buf_free(&ev->tpm_quote);
    dcr_buf_free(&ev->tpm_sig);
    dcr_buf_free(&ev->tpm_pcrs);
    if (len >= 4 && be32(d) == TPM_GENERATED) { /* raw TPMS_ATTEST || signature */
        tpm_quote q;
        if ((st = parse_quote(d, len, &q, err)))
            return st;
        if (q.len == len)
            return dcr_fail(err, DCR_EINPUT, "azure-vtpm: TPM quote file has no signature");
        if ((st = dcr_buf_append(&ev->tpm_quote, d, q.len, err)) ||
            (st = dcr_buf_append(&ev->tpm_sig, d + q.len, len - q.len, err)))
            return st;
        return DCR_OK;
    }
    /* bincode: u64 len + signature, u64 len + message, u64 count + 32-byte PCRs */
    size_t off = 0;
    dcr_buf *parts[2] = {&ev->tpm_sig, &ev->tpm_quote};
    for (int i = 0; i < 2; i++) {
        if (len - off < 8)
            return dcr_fail(err, DCR_EINPUT, "azure-vtpm: TPM quote file is truncated");
        uint64_t n = dcr_get_u64le(d + off);
        off += 8;
        if (n == 0 || n > len - off)
            return dcr_fail(err, DCR_EINPUT, "azure-vtpm: TPM quote file field overruns it");
        if ((st = dcr_buf_append(parts[i], d + off, (size_t)n, err)))
            return st;
        off += (size_t)n;
    }
    if (len - off < 8)
        return dcr_fail(err, DCR_EINPUT, "azure-vtpm: TPM quote file lacks the PCR values");
    uint64_t count = dcr_get_u64le(d + off);
    off += 8;
    if (count > 24 || count * 32 != len - off)
        return dcr_fail(err, DCR_EINPUT, "azure-vtpm: TPM quote file has a bad PCR list");
    return dcr_buf_append(&ev->tpm_pcrs, d + off, len - off, err);
}

static dcr_status rsa_from_jwk(json_t *jwk, EVP_PKEY **out, dcr_error *err)
{
    const char *n = json_string_value(json_object_get(jwk, "n"));
    const char *e = json_string_value(json_object_get(jwk, "e"));
    const char *kty = json_string_value(json_object_get(jwk, "kty"));
    if (!n || !e || !kty || strcmp(kty, "RSA") != 0)
        return dcr_fail(err, DCR_EINPUT, "azure-vtpm: HCLAkPub is not an RSA JWK");
    dcr_buf nb = DCR_BUF_INIT, eb = DCR_BUF_INIT;
    BIGNUM *bn = NULL, *be = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    dcr_status st;
    if ((st = dcr_attest_b64_decode(n, &nb, "HCLAkPub n", err)) ||
        (st = dcr_attest_b64_decode(e, &eb, "HCLAkPub e", err)))
        goto out;
    st = DCR_EINPUT;
    if (nb.len < 256 || nb.len > 512 || eb.len == 0 || eb.len > 8)
        goto out;
    *out = NULL;
    if ((bn = BN_bin2bn(nb.data, (int)nb.len, NULL)) &&
        (be = BN_bin2bn(eb.data, (int)eb.len, NULL)) && (bld = OSSL_PARAM_BLD_new()) &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) &&
        (params = OSSL_PARAM_BLD_to_param(bld)) &&
        (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) && EVP_PKEY_fromdata_init(ctx) == 1 &&
        EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) == 1)
        st = DCR_OK;
out:
    if (st == DCR_EINPUT)
        dcr_fail(err, DCR_EINPUT, "azure-vtpm: HCLAkPub is not a usable RSA key");
    ERR_clear_error();
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    dcr_buf_free(&nb);
    dcr_buf_free(&eb);
    return st;
}

typedef struct {
    const uint8_t *var;
    size_t var_len;
    uint32_t report_type; /* IGVM_SNP or IGVM_TDX */
    uint32_t hash_type;
    json_t *runtime;
} hcl_report;

static dcr_status parse_hcl(const uint8_t *d, size_t len, hcl_report *h, dcr_error *err)
{
    if (len < HCL_VAR_DATA || memcmp(d, DCR_HCL_MAGIC, 4) != 0)
        return dcr_fail(err, DCR_EINPUT, "azure-vtpm: not an HCL report (magic or size)");
    h->report_type = dcr_get_u32le(d + HCL_IGVM + 8);
    if (h->report_type != IGVM_SNP && h->report_type != IGVM_TDX)
        return dcr_fail(err, DCR_EINPUT, "azure-vtpm: HCL report type %u is neither SNP nor TDX",
                        h->report_type);
    h->hash_type = dcr_get_u32le(d + HCL_IGVM + 12);
    h->var_len = dcr_get_u32le(d + HCL_IGVM + 16);
    if (h->var_len == 0 || h->var_len > len - HCL_VAR_DATA)
        return dcr_fail(err, DCR_EINPUT, "azure-vtpm: HCL runtime data overruns the report");
    h->var = d + HCL_VAR_DATA;
    /* The runtime JSON may be padded with spaces or NULs. */
    size_t jlen = h->var_len;
    while (jlen && (h->var[jlen - 1] == 0 || h->var[jlen - 1] == ' '))
        jlen--;
    json_error_t je;
    h->runtime = json_loadb((const char *)h->var, jlen, JSON_REJECT_DUPLICATES, &je);
    if (!h->runtime || !json_is_object(h->runtime))
        return dcr_fail(err, DCR_EINPUT, "azure-vtpm: HCL runtime data is not a JSON object");
    return DCR_OK;
}

static json_t *find_ak(json_t *runtime)
{
    json_t *keys = json_object_get(runtime, "keys");
    for (size_t i = 0; i < json_array_size(keys); i++) {
        json_t *k = json_array_get(keys, i);
        const char *kid = json_string_value(json_object_get(k, "kid"));
        if (kid && strcmp(kid, "HCLAkPub") == 0)
            return k;
    }
    return NULL;
}

/* Raw PKCS#1 v1.5 signature bytes, or a TPMT_SIGNATURE (RSASSA, SHA-256). */
static dcr_status quote_sig_bytes(const dcr_buf *s, size_t modulus, const uint8_t **sig,
                                  dcr_error *err)
{
    if (s->len == modulus) {
        *sig = s->data;
        return DCR_OK;
    }
    if (s->len == 6 + modulus && be16(s->data) == TPM_ALG_RSASSA &&
        be16(s->data + 2) == TPM_ALG_SHA256 && be16(s->data + 4) == modulus) {
        *sig = s->data + 6;
        return DCR_OK;
    }
    return dcr_fail(err, DCR_EINPUT,
                    "azure-vtpm: TPM quote signature is neither %zu raw bytes nor an "
                    "RSASSA-SHA256 TPMT_SIGNATURE",
                    modulus);
}

static dcr_status check_quote_sig(const dcr_evidence *ev, EVP_PKEY *ak, dcr_error *err)
{
    const uint8_t *sig = NULL;
    size_t mod = (size_t)EVP_PKEY_get_size(ak);
    dcr_status st = quote_sig_bytes(&ev->tpm_sig, mod, &sig, err);
    if (st != DCR_OK)
        return st;
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    bool ok = m && EVP_DigestVerifyInit(m, NULL, EVP_sha256(), NULL, ak) == 1 &&
              EVP_DigestVerify(m, sig, mod, ev->tpm_quote.data, ev->tpm_quote.len) == 1;
    EVP_MD_CTX_free(m);
    ERR_clear_error();
    if (!ok)
        return dcr_fail(err, DCR_ECRYPTO,
                        "azure-vtpm: TPM quote signature does not verify with the HCL attestation "
                        "key (HCLAkPub)");
    return DCR_OK;
}

/* SHA-256 over the selected SHA-256 PCR values, in selection order. */
static dcr_status check_pcr_digest(const tpm_quote *q, const dcr_buf *pcrs, json_t *claims,
                                   dcr_error *err)
{
    json_object_set_new(claims, "tpm_pcr_digest", dcr_json_hex(q->digest, q->digest_len));
    if (!pcrs->len) {
        json_object_set_new(claims, "tpm_pcrs", json_null());
        return DCR_OK; /* nothing to compare: claims say so */
    }
    dcr_hash_ctx *h;
    dcr_status st = dcr_hash_init(&h, DCR_SHA256, err);
    if (st != DCR_OK)
        return st;
    json_t *selected = json_object();
    const uint8_t *s = q->sel;
    for (uint32_t i = 0; i < q->nsel && st == DCR_OK; s += 3 + s[2], i++) {
        if (be16(s) != TPM_ALG_SHA256) {
            st = dcr_fail(err, DCR_EINPUT, "azure-vtpm: TPM quote selects a non-SHA-256 bank");
            break;
        }
        for (unsigned pcr = 0; pcr < 8u * s[2] && st == DCR_OK; pcr++) {
            if (!(s[3 + pcr / 8] & (1u << (pcr % 8))))
                continue;
            if ((pcr + 1) * 32 > pcrs->len) {
                st = dcr_fail(err, DCR_EINPUT, "azure-vtpm: PCR %u is selected but not supplied",
                              pcr);
                break;
            }
            char k[8];
            snprintf(k, sizeof k, "%u", pcr);
            json_object_set_new(selected, k, dcr_json_hex(pcrs->data + 32 * pcr, 32));
            st = dcr_hash_update(h, pcrs->data + 32 * pcr, 32, err);
        }
    }
    uint8_t d[32];
    if (st == DCR_OK && (st = dcr_hash_final(h, d, err)) == DCR_OK) {
        h = NULL;
        if (q->digest_len != 32 || memcmp(d, q->digest, 32) != 0)
            st = dcr_fail(err, DCR_ECRYPTO,
                          "azure-vtpm: TPM quote PCR digest does not match the PCR values");
    }
    dcr_hash_free(h);
    if (st == DCR_OK)
        json_object_set_new(claims, "tpm_pcrs", selected);
    else
        json_decref(selected);
    return st;
}

/* report_data: the hardware report's REPORT_DATA (SNP) or REPORTDATA (the
 * TD quote's, which the TDREPORT matched). */
static dcr_status check_binding(const uint8_t report_data[64], const hcl_report *h, dcr_error *err)
{
    uint8_t d[64];
    size_t n;
    dcr_status st;
    switch (h->hash_type) {
    case 1:
        n = 32, st = dcr_sha256(h->var, h->var_len, d, err);
        break;
    case 2:
        n = 48, st = dcr_sha384(h->var, h->var_len, d, err);
        break;
    case 3:
        n = 64, st = dcr_sha512(h->var, h->var_len, d, err);
        break;
    default:
        return dcr_fail(err, DCR_EINPUT, "azure-vtpm: unknown runtime data hash type %u",
                        h->hash_type);
    }
    if (st != DCR_OK)
        return st;
    if (memcmp(report_data, d, n) != 0)
        return dcr_fail(err, DCR_ECRYPTO,
                        "azure-vtpm: REPORT_DATA does not bind the HCL runtime data");
    return DCR_OK;
}

/* user-data: the 64 bytes the guest wrote to NV 0x01400002, as hex. */
static dcr_status check_user_data(const hcl_report *h, const dcr_attest_policy *pol, json_t *claims,
                                  dcr_error *err)
{
    const char *ud = json_string_value(json_object_get(h->runtime, "user-data"));
    uint8_t rd[64];
    bool have = ud && dcr_hex_decode(rd, sizeof rd, ud, strlen(ud));
    if (have)
        json_object_set_new(claims, "report_data", dcr_json_hex(rd, 64));
    if (!pol->report_data)
        return DCR_OK;
    if (!have)
        return dcr_fail(err, DCR_ECRYPTO,
                        "policy: report data mismatch (no user-data in the HCL "
                        "runtime data)");
    return dcr_policy_report_data(pol, rd, err);
}

/* The PCRs 0..23 the quote selects in the SHA-256 bank (parse_quote has
 * bounded every selection; check_pcr_digest refuses other banks). */
static uint32_t sha256_selected(const tpm_quote *q)
{
    uint32_t mask = 0;
    const uint8_t *s = q->sel;
    for (uint32_t i = 0; i < q->nsel; s += 3 + s[2], i++) {
        if (be16(s) != TPM_ALG_SHA256)
            continue;
        for (unsigned b = 0; b < s[2] && b < DCR_PCR_COUNT / 8; b++)
            mask |= (uint32_t)s[3 + b] << (8 * b);
    }
    return mask;
}

static dcr_status check_tpm(const dcr_evidence *ev, const hcl_report *h,
                            const dcr_attest_policy *pol, json_t *claims, dcr_error *err)
{
    if (!ev->tpm_quote.len || !ev->tpm_sig.len)
        return dcr_fail(err, DCR_EINPUT, "azure-vtpm: no TPM quote (pass it with --quote)");
    json_t *jwk = find_ak(h->runtime);
    if (!jwk)
        return dcr_fail(err, DCR_EINPUT, "azure-vtpm: HCL runtime data has no HCLAkPub key");
    EVP_PKEY *ak = NULL;
    tpm_quote q;
    dcr_status st;
    if ((st = rsa_from_jwk(jwk, &ak, err)))
        return st;
    if ((st = parse_quote(ev->tpm_quote.data, ev->tpm_quote.len, &q, err)) == DCR_OK &&
        q.len != ev->tpm_quote.len)
        st = dcr_fail(err, DCR_EINPUT, "azure-vtpm: bytes after the TPMS_ATTEST");
    if (st == DCR_OK)
        st = check_quote_sig(ev, ak, err);
    EVP_PKEY_free(ak);
    if (st != DCR_OK)
        return st;
    if (pol->nonce && (pol->nonce_len != q.nonce_len || memcmp(pol->nonce, q.nonce, q.nonce_len)))
        return dcr_fail(err, DCR_ECRYPTO, "azure-vtpm: TPM quote nonce (extraData) mismatch");
    json_object_set_new(claims, "tpm_nonce", dcr_json_hex(q.nonce, q.nonce_len));
    json_object_set_new(claims, "tpm_nonce_checked", json_boolean(pol->nonce != NULL));
    if ((st = check_pcr_digest(&q, &ev->tpm_pcrs, claims, err)))
        return st;
    return dcr_pcr_check_pins(pol->pcrs, sha256_selected(&q), &ev->tpm_pcrs, "azure-vtpm", claims,
                              err);
}

/* On success the hardware report's claims go under key, and its
 * measurement and debug flag to the top level; sub is consumed either way. */
static dcr_status adopt_claims(dcr_status st, json_t *claims, const char *key, json_t *sub)
{
    if (st != DCR_OK) {
        json_decref(sub);
        return st;
    }
    json_object_set(claims, "measurement", json_object_get(sub, "measurement"));
    json_object_set(claims, "debug", json_object_get(sub, "debug"));
    json_object_set_new(claims, key, sub);
    return DCR_OK;
}

/* The SNP report inside the HCL report (snp.c), into claims "snp". */
static dcr_status verify_snp(const dcr_evidence *ev, const hcl_report *h,
                             const dcr_attest_policy *inner, json_t *claims, dcr_error *err)
{
    json_t *snp = json_object();
    if (!snp)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    const uint8_t *report = ev->report.data + HCL_HW_REPORT;
    dcr_status st = dcr_snp_verify(report, 1184, &ev->certs, inner, snp, err);
    if (st == DCR_OK)
        st = check_binding(report + 0x50, h, err);
    return adopt_claims(st, claims, "snp", snp);
}

/* The TD quote (tdx.c: signatures, PCK chain to the pinned Intel root,
 * debug, MRTD, TCB), then the HCL report's TDREPORT against the quote, then
 * the runtime-data binding through the quote's REPORTDATA. Claims "tdx". */
static dcr_status verify_tdx(const dcr_evidence *ev, const hcl_report *h,
                             const dcr_attest_policy *inner, json_t *claims, dcr_error *err)
{
    if (!ev->td_quote.len)
        return dcr_fail(err, DCR_EINPUT,
                        "azure-tdx-vtpm: no TD quote with the HCL report (dcr attest evidence "
                        "bundles it; or pass it with --td-quote)");
    json_t *tdx = json_object();
    if (!tdx)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    const uint8_t *body = NULL;
    size_t body_len = 0;
    dcr_status st = dcr_tdx_verify(ev->td_quote.data, ev->td_quote.len, inner, tdx, err);
    if (st == DCR_OK)
        st = dcr_tdx_quote_body(ev->td_quote.data, ev->td_quote.len, &body, &body_len, err);
    if (st == DCR_OK)
        st = dcr_tdreport_match_quote(ev->report.data + HCL_HW_REPORT, body, body_len, err);
    if (st == DCR_OK)
        st = check_binding(body + TDX_BODY_REPORT_DATA, h, err);
    return adopt_claims(st, claims, "tdx", tdx);
}

dcr_status dcr_azure_verify(const dcr_evidence *ev, const dcr_attest_policy *pol, json_t *claims,
                            dcr_error *err)
{
    hcl_report h = {0};
    dcr_status st = parse_hcl(ev->report.data, ev->report.len, &h, err);
    dcr_attest_type want = h.report_type == IGVM_TDX ? DCR_EV_AZURE_TDX : DCR_EV_AZURE_SNP;
    if (st == DCR_OK && ev->type != want)
        st = dcr_fail(err, DCR_EINPUT, "azure-vtpm: evidence says %s, but its HCL report is %s",
                      dcr_attest_type_name(ev->type), dcr_attest_type_name(want));
    if (st == DCR_OK)
        st = check_tpm(ev, &h, pol, claims, err);
    if (st == DCR_OK) {
        dcr_attest_policy inner = *pol;
        inner.report_data = NULL; /* it holds the runtime-data hash; user-data is checked below */
        st = want == DCR_EV_AZURE_TDX ? verify_tdx(ev, &h, &inner, claims, err)
                                      : verify_snp(ev, &h, &inner, claims, err);
    }
    if (st == DCR_OK) {
        json_object_set(claims, "vm_configuration", json_object_get(h.runtime, "vm-configuration"));
        st = check_user_data(&h, pol, claims, err);
    }
    json_decref(h.runtime);
    return st;
}

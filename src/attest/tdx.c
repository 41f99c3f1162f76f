/*
 * tdx.c: Intel TDX quote (v4 and v5, ECDSA P-256) verification.
 *
 * A quote is a TD report (MRTD, RTMRs, REPORTDATA, attributes) signed by the
 * Quoting Enclave's attestation key. The QE in turn proves that key: its own
 * SGX report carries SHA-256(attestation key || QE auth data) and is signed
 * by the platform's PCK, whose certificate chains to the Intel SGX Root CA.
 * We pin that root (roots.c) and ignore the root the quote carries. Checks:
 * layout, quote signature, QE report data binding, PCK chain (and CRLs when
 * supplied), QE report signature, then the policy (debug, report data,
 * MRTD, TEE TCB SVN).
 *
 * Not checked (needs Intel's PCS collateral, which is fetched online): the
 * TCB Info status of the PCK's TCB level and the QE Identity. The claims
 * carry what a relying party needs to check them itself.
 */
#include <openssl/x509v3.h>
#include <string.h>

#include "attest/attest_internal.h"
#include "base/bytes.h"
#include "crypto/hash.h"

enum {
    HEADER_LEN = 48,
    BODY10_LEN = 584, /* TDX 1.0 TD report */
    BODY15_LEN = 648, /* TDX 1.5: adds TEE_TCB_SVN2 and MRSERVICETD */
    /* offsets in the body */
    B_TEE_TCB_SVN = 0,
    B_MRSEAM = 16,
    B_MRSIGNERSEAM = 64,
    B_SEAM_ATTR = 112,
    B_TD_ATTR = 120,
    B_XFAM = 128,
    B_MRTD = 136,
    B_MRCONFIGID = 184,
    B_MROWNER = 232,
    B_MROWNERCONFIG = 280,
    B_RTMR = 328,
    B_REPORT_DATA = 520,
    B_TEE_TCB_SVN2 = 584,
    B_MRSERVICETD = 600,
    /* the QE's SGX report */
    QE_REPORT_LEN = 384,
    QE_MRENCLAVE = 64,
    QE_MRSIGNER = 128,
    QE_ISVPRODID = 256,
    QE_ISVSVN = 258,
    QE_REPORT_DATA = 320,
    CERT_QE_REPORT = 6,
    CERT_PCK_CHAIN = 5,
};

typedef struct {
    uint16_t version;
    const uint8_t *body;
    size_t body_len;
    size_t signed_len; /* header (+ descriptor) + body */
    const uint8_t *sig, *att_key, *qe_report, *qe_sig, *qe_auth, *pck_pem;
    size_t qe_auth_len, pck_pem_len;
    size_t trailing; /* ignored bytes after the quote */
} tdx_quote;

/* A cursor over the hostile bytes: every take checks what is left. */
typedef struct {
    const uint8_t *p;
    size_t left;
} cursor;

static const uint8_t *take(cursor *c, size_t n)
{
    if (n > c->left)
        return NULL;
    const uint8_t *p = c->p;
    c->p += n;
    c->left -= n;
    return p;
}

static dcr_status parse_header(const uint8_t *q, size_t len, tdx_quote *t, cursor *c,
                               dcr_error *err)
{
    if (len < HEADER_LEN)
        return dcr_fail(err, DCR_EINPUT, "tdx: quote is truncated (%zu bytes)", len);
    t->version = dcr_get_u16le(q);
    if (t->version != 4 && t->version != 5)
        return dcr_fail(err, DCR_EINPUT, "tdx: unsupported quote version %u", t->version);
    if (dcr_get_u16le(q + 2) != 2)
        return dcr_fail(err, DCR_ECRYPTO, "tdx: attestation key type is not ECDSA P-256");
    if (dcr_get_u32le(q + 4) != 0x81)
        return dcr_fail(err, DCR_EINPUT, "tdx: TEE type is not TDX");
    c->p = q + HEADER_LEN;
    c->left = len - HEADER_LEN;
    if (t->version == 4) {
        t->body_len = BODY10_LEN;
    } else {
        const uint8_t *d = take(c, 6);
        if (!d)
            return dcr_fail(err, DCR_EINPUT, "tdx: quote is truncated in the body descriptor");
        uint16_t type = dcr_get_u16le(d);
        uint32_t size = dcr_get_u32le(d + 2);
        if (!((type == 2 && size == BODY10_LEN) || (type == 3 && size == BODY15_LEN)))
            return dcr_fail(err, DCR_EINPUT, "tdx: unsupported body type %u of %u bytes", type,
                            size);
        t->body_len = size;
    }
    if (!(t->body = take(c, t->body_len)))
        return dcr_fail(err, DCR_EINPUT, "tdx: quote is truncated in the TD report");
    t->signed_len = (size_t)(t->body + t->body_len - q);
    return DCR_OK;
}

/* Certification data: u16 type, u32 size, bytes. */
static const uint8_t *cert_data(cursor *c, uint16_t want, size_t *len, dcr_error *err)
{
    const uint8_t *h = take(c, 6);
    if (!h) {
        dcr_fail(err, DCR_EINPUT, "tdx: quote is truncated in certification data");
        return NULL;
    }
    if (dcr_get_u16le(h) != want) {
        dcr_fail(err, DCR_EINPUT, "tdx: certification data type %u, expected %u", dcr_get_u16le(h),
                 want);
        return NULL;
    }
    *len = dcr_get_u32le(h + 2);
    const uint8_t *d = take(c, *len);
    if (!d)
        dcr_fail(err, DCR_EINPUT, "tdx: certification data (type %u) overruns the quote", want);
    return d;
}

static dcr_status parse_signature(tdx_quote *t, cursor *c, dcr_error *err)
{
    const uint8_t *l = take(c, 4);
    if (!l)
        return dcr_fail(err, DCR_EINPUT, "tdx: quote is truncated before the signature");
    uint32_t sig_len = dcr_get_u32le(l);
    /* Bytes after the signature data are outside the quote (some genuine
     * quotes carry padding or test bytes there); they are never read. */
    if (sig_len > c->left)
        return dcr_fail(err, DCR_EINPUT, "tdx: signature data length %u, but only %zu bytes follow",
                        sig_len, c->left);
    t->trailing = c->left - sig_len;
    c->left = sig_len;
    size_t qe_len, auth_len;
    const uint8_t *qe, *a;
    if (!(t->sig = take(c, 64)) || !(t->att_key = take(c, 64)))
        return dcr_fail(err, DCR_EINPUT, "tdx: quote is truncated in the signature");
    cursor outer = *c;
    if (!(qe = cert_data(&outer, CERT_QE_REPORT, &qe_len, err)))
        return err->code;
    if (outer.left != 0)
        return dcr_fail(err, DCR_EINPUT, "tdx: %zu stray bytes after certification data",
                        outer.left);
    cursor in = {qe, qe_len};
    if (!(t->qe_report = take(&in, QE_REPORT_LEN)) || !(t->qe_sig = take(&in, 64)) ||
        !(a = take(&in, 2)))
        return dcr_fail(err, DCR_EINPUT, "tdx: QE report certification data is truncated");
    t->qe_auth_len = dcr_get_u16le(a);
    if (!(t->qe_auth = take(&in, t->qe_auth_len)))
        return dcr_fail(err, DCR_EINPUT, "tdx: QE authentication data overruns the quote");
    if (!(t->pck_pem = cert_data(&in, CERT_PCK_CHAIN, &t->pck_pem_len, err)))
        return err->code;
    (void)auth_len;
    return DCR_OK;
}

static dcr_status check_quote_signature(const uint8_t *q, const tdx_quote *t, dcr_error *err)
{
    EVP_PKEY *ak = dcr_p256_from_xy(t->att_key);
    if (!ak)
        return dcr_fail(err, DCR_ECRYPTO, "tdx: attestation key is not a P-256 point");
    dcr_status st =
        dcr_ecdsa_verify_rs(ak, EVP_sha256(), q, t->signed_len, t->sig, t->sig + 32, 32);
    EVP_PKEY_free(ak);
    if (st != DCR_OK)
        return dcr_fail(err, DCR_ECRYPTO,
                        "tdx: quote signature does not verify with the attestation key");
    return DCR_OK;
}

static dcr_status check_qe_binding(const tdx_quote *t, dcr_error *err)
{
    uint8_t h[32];
    dcr_hash_ctx *hc;
    dcr_status st;
    if ((st = dcr_hash_init(&hc, DCR_SHA256, err)))
        return st;
    if ((st = dcr_hash_update(hc, t->att_key, 64, err)) ||
        (st = dcr_hash_update(hc, t->qe_auth, t->qe_auth_len, err)) ||
        (st = dcr_hash_final(hc, h, err))) {
        dcr_hash_free(hc);
        return st;
    }
    static const uint8_t zero[32];
    const uint8_t *rd = t->qe_report + QE_REPORT_DATA;
    if (memcmp(rd, h, 32) != 0 || memcmp(rd + 32, zero, 32) != 0)
        return dcr_fail(err, DCR_ECRYPTO,
                        "tdx: QE report data does not bind the attestation key and QE auth data");
    return DCR_OK;
}

/* Verifies the PCK chain and the QE report signature by the PCK leaf. */
static dcr_status check_pck(const tdx_quote *t, const dcr_attest_policy *pol, json_t *claims,
                            dcr_error *err)
{
    STACK_OF(X509) *chain = sk_X509_new_null();
    if (!chain)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    dcr_status st = dcr_x509_load(t->pck_pem, t->pck_pem_len, chain, NULL, "tdx: PCK chain", err);
    if (st != DCR_OK)
        goto out;
    X509 *leaf = sk_X509_value(chain, 0); /* the PCK certificate comes first */
    for (int i = 0; pol->certs && i < sk_X509_num(pol->certs->certs); i++) {
        X509 *x = sk_X509_value(pol->certs->certs, i);
        if (!X509_up_ref(x) || !sk_X509_push(chain, x)) {
            X509_free(x);
            st = dcr_fail(err, DCR_EINTERNAL, "out of memory");
            goto out;
        }
    }
    const char *override[] = {pol->roots_override_pem, NULL};
    if ((st = dcr_x509_verify_chain(leaf, chain,
                                    pol->roots_override_pem ? override : dcr_pinned_intel_roots(),
                                    pol->certs ? pol->certs->crls : NULL, pol->at, "tdx", "PCK",
                                    "the pinned Intel SGX Root CA", err)))
        goto out;
    EVP_PKEY *pck = X509_get0_pubkey(leaf);
    if (!pck || EVP_PKEY_get_base_id(pck) != EVP_PKEY_EC ||
        dcr_ecdsa_verify_rs(pck, EVP_sha256(), t->qe_report, QE_REPORT_LEN, t->qe_sig,
                            t->qe_sig + 32, 32) != DCR_OK) {
        st = dcr_fail(err, DCR_ECRYPTO, "tdx: QE report signature does not verify with the PCK");
        goto out;
    }
    char cn[128];
    if (X509_NAME_get_text_by_NID(X509_get_issuer_name(leaf), NID_commonName, cn, sizeof cn) > 0)
        json_object_set_new(claims, "pck_issuer", json_string(cn));
    json_object_set_new(claims, "crl_checked",
                        json_boolean(pol->certs && sk_X509_CRL_num(pol->certs->crls) > 0));
out:
    sk_X509_pop_free(chain, X509_free);
    return st;
}

static void add_claims(json_t *c, const uint8_t *q, const tdx_quote *t)
{
    const uint8_t *b = t->body;
    json_object_set_new(c, "quote_version", json_integer(t->version));
    json_object_set_new(c, "tee_tcb_svn", dcr_json_hex(b + B_TEE_TCB_SVN, 16));
    json_object_set_new(c, "mrseam", dcr_json_hex(b + B_MRSEAM, 48));
    json_object_set_new(c, "mrsignerseam", dcr_json_hex(b + B_MRSIGNERSEAM, 48));
    json_object_set_new(c, "seam_attributes", dcr_json_hex(b + B_SEAM_ATTR, 8));
    json_object_set_new(c, "td_attributes", dcr_json_hex(b + B_TD_ATTR, 8));
    json_object_set_new(c, "debug", json_boolean(b[B_TD_ATTR] & 1));
    json_object_set_new(c, "xfam", dcr_json_hex(b + B_XFAM, 8));
    json_object_set_new(c, "measurement", dcr_json_hex(b + B_MRTD, 48));
    json_object_set_new(c, "mrtd", dcr_json_hex(b + B_MRTD, 48));
    json_object_set_new(c, "mrconfigid", dcr_json_hex(b + B_MRCONFIGID, 48));
    json_object_set_new(c, "mrowner", dcr_json_hex(b + B_MROWNER, 48));
    json_object_set_new(c, "mrownerconfig", dcr_json_hex(b + B_MROWNERCONFIG, 48));
    json_t *rtmrs = json_array();
    for (int i = 0; i < 4; i++)
        json_array_append_new(rtmrs, dcr_json_hex(b + B_RTMR + 48 * i, 48));
    json_object_set_new(c, "rtmrs", rtmrs);
    json_object_set_new(c, "report_data", dcr_json_hex(b + B_REPORT_DATA, 64));
    if (t->body_len == BODY15_LEN) {
        json_object_set_new(c, "tee_tcb_svn2", dcr_json_hex(b + B_TEE_TCB_SVN2, 16));
        json_object_set_new(c, "mrservicetd", dcr_json_hex(b + B_MRSERVICETD, 48));
    }
    json_object_set_new(c, "qe_svn", json_integer(dcr_get_u16le(q + 8)));
    json_object_set_new(c, "pce_svn", json_integer(dcr_get_u16le(q + 10)));
    json_object_set_new(c, "qe_vendor_id", dcr_json_hex(q + 12, 16));
    json_object_set_new(c, "qe_mrenclave", dcr_json_hex(t->qe_report + QE_MRENCLAVE, 32));
    json_object_set_new(c, "qe_mrsigner", dcr_json_hex(t->qe_report + QE_MRSIGNER, 32));
    json_object_set_new(c, "qe_isvsvn", json_integer(dcr_get_u16le(t->qe_report + QE_ISVSVN)));
    json_object_set_new(c, "tcb_status_checked", json_false());
    json_object_set_new(c, "ignored_trailing_bytes", json_integer((json_int_t)t->trailing));
}

static dcr_status check_policy(const tdx_quote *t, const dcr_attest_policy *pol, dcr_error *err)
{
    dcr_status st;
    if (!pol->allow_debug && (t->body[B_TD_ATTR] & 1))
        return dcr_fail(err, DCR_ECRYPTO, "policy: TD debug attribute is set");
    if ((st = dcr_policy_report_data(pol, t->body + B_REPORT_DATA, err)) ||
        (st = dcr_policy_measurement(pol, t->body + B_MRTD, err)) ||
        (st = dcr_policy_min_tcb(pol, t->body + B_TEE_TCB_SVN, 16, "TEE_TCB_SVN", err)))
        return st;
    return DCR_OK;
}

dcr_status dcr_tdx_quote_body(const uint8_t *q, size_t len, const uint8_t **body, size_t *body_len,
                              dcr_error *err)
{
    tdx_quote t = {0};
    cursor c;
    dcr_status st = parse_header(q, len, &t, &c, err);
    if (st != DCR_OK)
        return st;
    *body = t.body;
    *body_len = t.body_len;
    return DCR_OK;
}

dcr_status dcr_tdx_verify(const uint8_t *q, size_t len, const dcr_attest_policy *pol,
                          json_t *claims, dcr_error *err)
{
    tdx_quote t = {0};
    cursor c;
    dcr_status st;
    if ((st = parse_header(q, len, &t, &c, err)) || (st = parse_signature(&t, &c, err)) ||
        (st = check_quote_signature(q, &t, err)) || (st = check_qe_binding(&t, err)) ||
        (st = check_pck(&t, pol, claims, err)) || (st = check_policy(&t, pol, err)))
        return st;
    add_claims(claims, q, &t);
    return DCR_OK;
}

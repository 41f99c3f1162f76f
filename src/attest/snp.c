/*
 * snp.c: AMD SEV-SNP attestation report verification.
 *
 * A report (AMD SEV-SNP ABI spec, "ATTESTATION_REPORT", 1184 bytes) is signed
 * with ECDSA P-384/SHA-384 by a per-chip VCEK or a per-cloud VLEK. The key's
 * certificate chains VCEK -> ASK -> ARK (VLEK -> ASVK -> ARK) to AMD roots we
 * pin per product line (roots.c). The VCEK names the chip (hwID extension,
 * which must equal the report's CHIP_ID) and the TCB it was issued for (SPL
 * extensions, which must equal REPORTED_TCB), so a VCEK for one chip or one
 * firmware level cannot vouch for another. Checks run in this order, and the
 * first failure names itself: layout, certificate selection, chain, hwID,
 * TCB, signature, then the policy (debug, report data, measurement, TCB).
 */
#define _GNU_SOURCE
#include <openssl/asn1.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>
#include <string.h>

#include "attest/attest_internal.h"
#include "base/bytes.h"

/* Offsets from the ABI spec. */
enum {
    OFF_VERSION = 0x00,
    OFF_GUEST_SVN = 0x04,
    OFF_POLICY = 0x08,
    OFF_FAMILY_ID = 0x10,
    OFF_IMAGE_ID = 0x20,
    OFF_VMPL = 0x30,
    OFF_SIG_ALGO = 0x34,
    OFF_CURRENT_TCB = 0x38,
    OFF_PLATFORM_INFO = 0x40,
    OFF_KEY_INFO = 0x48,
    OFF_REPORT_DATA = 0x50,
    OFF_MEASUREMENT = 0x90,
    OFF_HOST_DATA = 0xC0,
    OFF_ID_KEY_DIGEST = 0xE0,
    OFF_AUTHOR_KEY_DIGEST = 0x110,
    OFF_REPORT_ID = 0x140,
    OFF_REPORTED_TCB = 0x180,
    OFF_CHIP_ID = 0x1A0,
    OFF_COMMITTED_TCB = 0x1E0,
    OFF_LAUNCH_TCB = 0x1F0,
    OFF_SIGNATURE = 0x2A0,
    SIG_COMPONENT = 72, /* R and S fields; only the low 48 bytes are used */
};

#define POLICY_DEBUG (1ull << 19)
#define AMD_OID_PREFIX "1.3.6.1.4.1.3704.1."

typedef enum { PRODUCT_MILAN_GENOA, PRODUCT_TURIN } tcb_layout;

typedef struct {
    const char *name;
    const char *oid; /* SPL extension in the VCEK */
    int byte;        /* index in TCB_VERSION, per layout */
    int turin_byte;
} tcb_part;

/* TCB_VERSION: Milan/Genoa {bootloader, tee, 4 reserved, snp, microcode};
 * Turin {fmc, bootloader, tee, snp, 3 reserved, microcode}. */
static const tcb_part tcb_parts[] = {
    {"bootloader", AMD_OID_PREFIX "3.1", 0, 1}, {"tee", AMD_OID_PREFIX "3.2", 1, 2},
    {"snp", AMD_OID_PREFIX "3.3", 6, 3},        {"microcode", AMD_OID_PREFIX "3.8", 7, 7},
    {"fmc", AMD_OID_PREFIX "3.9", -1, 0},
};

static int tcb_index(const tcb_part *p, tcb_layout l)
{
    return l == PRODUCT_TURIN ? p->turin_byte : p->byte;
}

/* The raw value of extension oid in x, or NULL. */
static const ASN1_OCTET_STRING *ext_value(X509 *x, const char *oid)
{
    ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
    if (!obj)
        return NULL;
    int idx = X509_get_ext_by_OBJ(x, obj, -1);
    ASN1_OBJECT_free(obj);
    if (idx < 0)
        return NULL;
    return X509_EXTENSION_get_data(X509_get_ext(x, idx));
}

/* An SPL extension: a DER INTEGER 0..255. -1 if absent, -2 if malformed. */
static int ext_spl(X509 *x, const char *oid)
{
    const ASN1_OCTET_STRING *v = ext_value(x, oid);
    if (!v)
        return -1;
    const unsigned char *p = ASN1_STRING_get0_data(v);
    ASN1_INTEGER *ai = d2i_ASN1_INTEGER(NULL, &p, ASN1_STRING_length(v));
    long n = ai ? ASN1_INTEGER_get(ai) : -2;
    ASN1_INTEGER_free(ai);
    return n < 0 || n > 255 ? -2 : (int)n;
}

/* The hwID extension: 64 raw bytes (AMD's encoding) or a DER OCTET STRING. */
static bool ext_hwid(X509 *x, uint8_t out[64])
{
    const ASN1_OCTET_STRING *v = ext_value(x, AMD_OID_PREFIX "4");
    if (!v)
        return false;
    const unsigned char *p = ASN1_STRING_get0_data(v);
    int len = ASN1_STRING_length(v);
    if (len == 64) {
        memcpy(out, p, 64);
        return true;
    }
    ASN1_OCTET_STRING *os = d2i_ASN1_OCTET_STRING(NULL, &p, len);
    bool ok = os && ASN1_STRING_length(os) == 64;
    if (ok)
        memcpy(out, ASN1_STRING_get0_data(os), 64);
    ASN1_OCTET_STRING_free(os);
    return ok;
}

static bool cn_is(X509 *x, const char *want)
{
    char cn[64];
    int n = X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn);
    return n > 0 && strcmp(cn, want) == 0;
}

/* An AMD certificate table (extended report auxblob): 24-byte entries
 * {GUID, offset u32, length u32} ending with an all-zero entry. Every entry
 * that parses as a DER certificate is kept; roots among them are ignored by
 * the chain check. */
static dcr_status load_cert_table(const uint8_t *t, size_t len, STACK_OF(X509) * out,
                                  dcr_error *err)
{
    static const uint8_t zero[24];
    for (size_t off = 0;; off += 24) {
        if (off + 24 > len)
            return dcr_fail(err, DCR_EINPUT, "sev-snp: certificate table has no terminator");
        if (memcmp(t + off, zero, 24) == 0)
            return DCR_OK;
        uint32_t o = dcr_get_u32le(t + off + 16), l = dcr_get_u32le(t + off + 20);
        if (o > len || l > len - o || l == 0)
            return dcr_fail(err, DCR_EINPUT, "sev-snp: certificate table entry out of bounds");
        dcr_status st = dcr_x509_load(t + o, l, out, NULL, "sev-snp: certificate table entry", err);
        if (st != DCR_OK)
            return st;
    }
}

static dcr_status gather_certs(const dcr_buf *ev_certs, const dcr_attest_policy *pol,
                               STACK_OF(X509) * all, dcr_error *err)
{
    dcr_status st;
    if (ev_certs && ev_certs->len) {
        const uint8_t *d = ev_certs->data;
        bool table = d[0] != 0x30 && !memmem(d, ev_certs->len, "-----BEGIN", 10);
        st = table ? load_cert_table(d, ev_certs->len, all, err)
                   : dcr_x509_load(d, ev_certs->len, all, NULL, "sev-snp: evidence certificates",
                                   err);
        if (st != DCR_OK)
            return st;
    }
    for (int i = 0; pol->certs && i < sk_X509_num(pol->certs->certs); i++) {
        X509 *x = sk_X509_value(pol->certs->certs, i);
        if (!X509_up_ref(x) || !sk_X509_push(all, x)) {
            X509_free(x);
            return dcr_fail(err, DCR_EINTERNAL, "out of memory");
        }
    }
    return DCR_OK;
}

/* Picks the report's signing certificate: CN SEV-VCEK or SEV-VLEK. */
static X509 *find_leaf(STACK_OF(X509) * all, bool vlek)
{
    for (int i = 0; i < sk_X509_num(all); i++) {
        X509 *x = sk_X509_value(all, i);
        if (cn_is(x, vlek ? "SEV-VLEK" : "SEV-VCEK"))
            return x;
    }
    return NULL;
}

static tcb_layout layout_of(X509 *leaf)
{
    char cn[64];
    int n = X509_NAME_get_text_by_NID(X509_get_issuer_name(leaf), NID_commonName, cn, sizeof cn);
    return n > 0 && strstr(cn, "Turin") ? PRODUCT_TURIN : PRODUCT_MILAN_GENOA;
}

static const char *product_of(X509 *leaf)
{
    char cn[64];
    int n = X509_NAME_get_text_by_NID(X509_get_issuer_name(leaf), NID_commonName, cn, sizeof cn);
    if (n <= 0)
        return "unknown";
    return strstr(cn, "Milan")   ? "Milan"
           : strstr(cn, "Genoa") ? "Genoa"
           : strstr(cn, "Turin") ? "Turin"
                                 : "unknown";
}

static dcr_status check_chain(X509 *leaf, STACK_OF(X509) * all, const dcr_attest_policy *pol,
                              const char *keyname, dcr_error *err)
{
    STACK_OF(X509) *untrusted = sk_X509_dup(all);
    if (!untrusted)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    STACK_OF(X509) *pinned = sk_X509_new_null();
    dcr_status st = pinned ? dcr_x509_from_pem_list(dcr_pinned_amd_intermediates(), pinned, err)
                           : dcr_fail(err, DCR_EINTERNAL, "out of memory");
    for (int i = 0; st == DCR_OK && i < sk_X509_num(pinned); i++)
        if (!sk_X509_push(untrusted, sk_X509_value(pinned, i)))
            st = dcr_fail(err, DCR_EINTERNAL, "out of memory");
    if (st == DCR_OK) {
        const char *override[] = {pol->roots_override_pem, NULL};
        st = dcr_x509_verify_chain(
            leaf, untrusted, pol->roots_override_pem ? override : dcr_pinned_amd_roots(), NULL,
            pol->at, "sev-snp", keyname, "a pinned AMD root (ARK Milan, Genoa or Turin)", err);
    }
    sk_X509_free(untrusted);
    sk_X509_pop_free(pinned, X509_free);
    return st;
}

static dcr_status check_tcb_exts(const uint8_t *r, X509 *leaf, const char *keyname, dcr_error *err)
{
    tcb_layout l = layout_of(leaf);
    for (size_t i = 0; i < sizeof tcb_parts / sizeof tcb_parts[0]; i++) {
        int idx = tcb_index(&tcb_parts[i], l);
        int spl = ext_spl(leaf, tcb_parts[i].oid);
        if (spl == -2)
            return dcr_fail(err, DCR_ECRYPTO, "sev-snp: %s %s SPL extension is malformed", keyname,
                            tcb_parts[i].name);
        if (idx < 0 || spl < 0)
            continue;
        if (r[OFF_REPORTED_TCB + idx] != spl)
            return dcr_fail(err, DCR_ECRYPTO,
                            "sev-snp: %s TCB (%s SPL %d) does not match REPORTED_TCB (%u)", keyname,
                            tcb_parts[i].name, spl, r[OFF_REPORTED_TCB + idx]);
    }
    return DCR_OK;
}

static dcr_status check_signature(const uint8_t *r, X509 *leaf, const char *keyname, dcr_error *err)
{
    const uint8_t *sr = r + OFF_SIGNATURE, *ss = sr + SIG_COMPONENT;
    for (int i = 48; i < SIG_COMPONENT; i++)
        if (sr[i] || ss[i])
            return dcr_fail(err, DCR_ECRYPTO,
                            "sev-snp: signature has non-zero bytes beyond the P-384 scalar");
    uint8_t rb[48], sb[48]; /* the report stores them little-endian */
    for (int i = 0; i < 48; i++) {
        rb[i] = sr[47 - i];
        sb[i] = ss[47 - i];
    }
    EVP_PKEY *key = X509_get0_pubkey(leaf);
    if (!key || EVP_PKEY_get_base_id(key) != EVP_PKEY_EC || EVP_PKEY_get_bits(key) != 384)
        return dcr_fail(err, DCR_ECRYPTO, "sev-snp: %s key is not ECDSA P-384", keyname);
    if (dcr_ecdsa_verify_rs(key, EVP_sha384(), r, OFF_SIGNATURE, rb, sb, 48) != DCR_OK)
        return dcr_fail(err, DCR_ECRYPTO, "sev-snp: report signature does not verify with the %s",
                        keyname);
    return DCR_OK;
}

static json_t *tcb_json(const uint8_t *t, tcb_layout l)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < sizeof tcb_parts / sizeof tcb_parts[0]; i++) {
        int idx = tcb_index(&tcb_parts[i], l);
        if (idx >= 0)
            json_object_set_new(o, tcb_parts[i].name, json_integer(t[idx]));
    }
    json_object_set_new(o, "raw", dcr_json_hex(t, 8));
    return o;
}

static void add_claims(json_t *c, const uint8_t *r, X509 *leaf, bool vlek)
{
    tcb_layout l = layout_of(leaf);
    uint64_t policy = dcr_get_u64le(r + OFF_POLICY);
    json_object_set_new(c, "report_version", json_integer(dcr_get_u32le(r + OFF_VERSION)));
    json_object_set_new(c, "product", json_string(product_of(leaf)));
    json_object_set_new(c, "signing_key", json_string(vlek ? "VLEK" : "VCEK"));
    json_object_set_new(c, "measurement", dcr_json_hex(r + OFF_MEASUREMENT, 48));
    json_object_set_new(c, "report_data", dcr_json_hex(r + OFF_REPORT_DATA, 64));
    json_object_set_new(c, "host_data", dcr_json_hex(r + OFF_HOST_DATA, 32));
    json_object_set_new(c, "guest_svn", json_integer(dcr_get_u32le(r + OFF_GUEST_SVN)));
    json_object_set_new(c, "policy", dcr_json_hex(r + OFF_POLICY, 8));
    json_object_set_new(c, "debug", json_boolean(policy & POLICY_DEBUG));
    json_object_set_new(c, "vmpl", json_integer(dcr_get_u32le(r + OFF_VMPL)));
    json_object_set_new(c, "family_id", dcr_json_hex(r + OFF_FAMILY_ID, 16));
    json_object_set_new(c, "image_id", dcr_json_hex(r + OFF_IMAGE_ID, 16));
    json_object_set_new(c, "id_key_digest", dcr_json_hex(r + OFF_ID_KEY_DIGEST, 48));
    json_object_set_new(c, "author_key_digest", dcr_json_hex(r + OFF_AUTHOR_KEY_DIGEST, 48));
    json_object_set_new(c, "report_id", dcr_json_hex(r + OFF_REPORT_ID, 32));
    json_object_set_new(c, "chip_id", dcr_json_hex(r + OFF_CHIP_ID, 64));
    json_object_set_new(c, "platform_info", dcr_json_hex(r + OFF_PLATFORM_INFO, 8));
    json_object_set_new(c, "reported_tcb", tcb_json(r + OFF_REPORTED_TCB, l));
    json_object_set_new(c, "current_tcb", tcb_json(r + OFF_CURRENT_TCB, l));
    json_object_set_new(c, "committed_tcb", tcb_json(r + OFF_COMMITTED_TCB, l));
    json_object_set_new(c, "launch_tcb", tcb_json(r + OFF_LAUNCH_TCB, l));
}

static dcr_status check_layout(const uint8_t *r, size_t len, dcr_error *err)
{
    if (len != DCR_SNP_REPORT_LEN)
        return dcr_fail(err, DCR_EINPUT, "sev-snp: report is %zu bytes, not %d", len,
                        DCR_SNP_REPORT_LEN);
    uint32_t version = dcr_get_u32le(r + OFF_VERSION);
    if (version < 2 || version > 5)
        return dcr_fail(err, DCR_EINPUT, "sev-snp: unsupported report version %u", version);
    if (dcr_get_u32le(r + OFF_SIG_ALGO) != 1)
        return dcr_fail(err, DCR_ECRYPTO,
                        "sev-snp: signature algorithm is not ECDSA P-384 with SHA-384");
    if (dcr_get_u32le(r + OFF_VMPL) > 3)
        return dcr_fail(err, DCR_EINPUT, "sev-snp: VMPL %u is out of range",
                        dcr_get_u32le(r + OFF_VMPL));
    if (r[OFF_KEY_INFO] & 0x02)
        return dcr_fail(err, DCR_ECRYPTO, "sev-snp: report is unsigned (MASK_CHIP_KEY is set)");
    return DCR_OK;
}

static dcr_status check_policy(const uint8_t *r, const dcr_attest_policy *pol, dcr_error *err)
{
    dcr_status st;
    if (!pol->allow_debug && (dcr_get_u64le(r + OFF_POLICY) & POLICY_DEBUG))
        return dcr_fail(err, DCR_ECRYPTO, "policy: debug is allowed by the guest policy");
    if ((st = dcr_policy_report_data(pol, r + OFF_REPORT_DATA, err)) ||
        (st = dcr_policy_measurement(pol, r + OFF_MEASUREMENT, err)) ||
        (st = dcr_policy_min_tcb(pol, r + OFF_REPORTED_TCB, 8, "REPORTED_TCB", err)))
        return st;
    return DCR_OK;
}

dcr_status dcr_snp_verify(const uint8_t *r, size_t len, const dcr_buf *ev_certs,
                          const dcr_attest_policy *pol, json_t *claims, dcr_error *err)
{
    dcr_status st = check_layout(r, len, err);
    if (st != DCR_OK)
        return st;
    unsigned signing_key = (r[OFF_KEY_INFO] >> 2) & 7;
    if (signing_key > 1)
        return dcr_fail(err, DCR_ECRYPTO, "sev-snp: report names signing key %u, not VCEK or VLEK",
                        signing_key);
    bool vlek = signing_key == 1;
    const char *keyname = vlek ? "VLEK" : "VCEK";
    STACK_OF(X509) *all = sk_X509_new_null();
    if (!all)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    if ((st = gather_certs(ev_certs, pol, all, err)) != DCR_OK)
        goto out;
    X509 *leaf = find_leaf(all, vlek);
    if (!leaf) {
        st = dcr_fail(err, DCR_EINPUT,
                      "sev-snp: no %s certificate (pass it with --certs, e.g. from AMD KDS)",
                      keyname);
        goto out;
    }
    if ((st = check_chain(leaf, all, pol, keyname, err)) != DCR_OK)
        goto out;
    uint8_t hwid[64];
    if (!vlek && (!ext_hwid(leaf, hwid) || memcmp(hwid, r + OFF_CHIP_ID, 64) != 0)) {
        st = dcr_fail(err, DCR_ECRYPTO, "sev-snp: VCEK hwID does not match CHIP_ID");
        goto out;
    }
    if ((st = check_tcb_exts(r, leaf, keyname, err)) ||
        (st = check_signature(r, leaf, keyname, err)) || (st = check_policy(r, pol, err)))
        goto out;
    add_claims(claims, r, leaf, vlek);
out:
    sk_X509_pop_free(all, X509_free);
    return st;
}

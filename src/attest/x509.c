/*
 * x509.c: certificate loading and chain checks against pinned roots, raw
 * ECDSA checks, and the policy checks every evidence type shares.
 *
 * Chains are checked by OpenSSL's X509_verify_cert with only the pinned
 * certificates as trust anchors and an explicit verification time, because
 * genuine evidence outlives its certificates (the VLEK in our test data
 * expired in 2025) and a verifier must be able to say "as of when".
 */
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <string.h>

#include "attest/attest_internal.h"
#include "base/bytes.h"
#include "base/fileio.h"
#include "base/hygiene.h"

static bool looks_pem(const uint8_t *data, size_t len)
{
    static const char tag[] = "-----BEGIN";
    for (size_t i = 0; i + sizeof tag - 1 <= len; i++)
        if (memcmp(data + i, tag, sizeof tag - 1) == 0)
            return true;
    return false;
}

static dcr_status load_pem(const uint8_t *data, size_t len, STACK_OF(X509) * certs,
                           STACK_OF(X509_CRL) * crls, const char *what, dcr_error *err)
{
    if (len > INT32_MAX)
        return dcr_fail(err, DCR_EINPUT, "%s: too large", what);
    BIO *bio = BIO_new_mem_buf(data, (int)len);
    if (!bio)
        return dcr_fail(err, DCR_EINTERNAL, "%s: out of memory", what);
    STACK_OF(X509_INFO) *infos = PEM_X509_INFO_read_bio(bio, NULL, NULL, NULL);
    BIO_free(bio);
    ERR_clear_error();
    if (!infos)
        return dcr_fail(err, DCR_EINPUT, "%s: not valid PEM certificates", what);
    dcr_status st = DCR_OK;
    int n = 0;
    for (int i = 0; i < sk_X509_INFO_num(infos) && st == DCR_OK; i++) {
        X509_INFO *in = sk_X509_INFO_value(infos, i);
        if (in->x509) {
            if (!sk_X509_push(certs, in->x509))
                st = dcr_fail(err, DCR_EINTERNAL, "%s: out of memory", what);
            else
                in->x509 = NULL, n++;
        }
        if (in->crl && crls && st == DCR_OK) {
            if (!sk_X509_CRL_push(crls, in->crl))
                st = dcr_fail(err, DCR_EINTERNAL, "%s: out of memory", what);
            else
                in->crl = NULL, n++;
        }
    }
    sk_X509_INFO_pop_free(infos, X509_INFO_free);
    if (st == DCR_OK && n == 0)
        st = dcr_fail(err, DCR_EINPUT, "%s: no certificate or CRL in it", what);
    return st;
}

dcr_status dcr_x509_load(const uint8_t *data, size_t len, STACK_OF(X509) * certs,
                         STACK_OF(X509_CRL) * crls, const char *what, dcr_error *err)
{
    if (len == 0)
        return dcr_fail(err, DCR_EINPUT, "%s: empty", what);
    if (looks_pem(data, len))
        return load_pem(data, len, certs, crls, what, err);
    if (len > INT32_MAX)
        return dcr_fail(err, DCR_EINPUT, "%s: too large", what);
    const unsigned char *p = data;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    if (x && p == data + len) {
        if (!sk_X509_push(certs, x)) {
            X509_free(x);
            return dcr_fail(err, DCR_EINTERNAL, "out of memory");
        }
        return DCR_OK;
    }
    X509_free(x);
    p = data;
    X509_CRL *c = crls ? d2i_X509_CRL(NULL, &p, (long)len) : NULL;
    ERR_clear_error();
    if (c && p == data + len && sk_X509_CRL_push(crls, c))
        return DCR_OK;
    X509_CRL_free(c);
    return dcr_fail(err, DCR_EINPUT, "%s: not a PEM or DER certificate or CRL", what);
}

dcr_status dcr_x509_from_pem_list(const char *const *pems, STACK_OF(X509) * out, dcr_error *err)
{
    for (size_t i = 0; pems[i]; i++) {
        dcr_status st = dcr_x509_load((const uint8_t *)pems[i], strlen(pems[i]), out, NULL,
                                      "pinned certificate", err);
        if (st != DCR_OK)
            return st;
    }
    return DCR_OK;
}

dcr_status dcr_certset_new(dcr_certset **set, dcr_error *err)
{
    dcr_certset *s = calloc(1, sizeof *s);
    if (!s || !(s->certs = sk_X509_new_null()) || !(s->crls = sk_X509_CRL_new_null())) {
        dcr_certset_free(s);
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    }
    *set = s;
    return DCR_OK;
}

dcr_status dcr_certset_add(dcr_certset *set, const uint8_t *data, size_t len, const char *what,
                           dcr_error *err)
{
    return dcr_x509_load(data, len, set->certs, set->crls, what, err);
}

dcr_status dcr_certset_add_file(dcr_certset *set, const char *path, dcr_error *err)
{
    char *data;
    size_t len;
    dcr_status st = dcr_read_file(path, DCR_EVIDENCE_MAX, &data, &len, err);
    if (st != DCR_OK)
        return st;
    st = dcr_certset_add(set, (const uint8_t *)data, len, path, err);
    free(data);
    return st;
}

void dcr_certset_free(dcr_certset *set)
{
    if (!set)
        return;
    sk_X509_pop_free(set->certs, X509_free);
    sk_X509_CRL_pop_free(set->crls, X509_CRL_free);
    free(set);
}

static bool self_signed(X509 *x)
{
    return X509_check_issued(x, x) == X509_V_OK;
}

/* A store with only the anchors trusted, the time and CRL flags set. */
static X509_STORE *anchor_store(STACK_OF(X509) * anchors, STACK_OF(X509_CRL) * crls)
{
    X509_STORE *store = X509_STORE_new();
    if (!store)
        return NULL;
    for (int i = 0; i < sk_X509_num(anchors); i++)
        if (!X509_STORE_add_cert(store, sk_X509_value(anchors, i)))
            goto fail;
    for (int i = 0; crls && i < sk_X509_CRL_num(crls); i++)
        if (!X509_STORE_add_crl(store, sk_X509_CRL_value(crls, i)))
            goto fail;
    return store;
fail:
    X509_STORE_free(store);
    return NULL;
}

dcr_status dcr_x509_verify_chain(X509 *leaf, STACK_OF(X509) * untrusted,
                                 const char *const *anchors_pem, STACK_OF(X509_CRL) * crls,
                                 time_t at, const char *prefix, const char *chain_name,
                                 const char *anchor_name, dcr_error *err)
{
    STACK_OF(X509) *anchors = sk_X509_new_null();
    STACK_OF(X509) *inter = sk_X509_new_null();
    X509_STORE *store = NULL;
    X509_STORE_CTX *ctx = NULL;
    dcr_status st = DCR_EINTERNAL;
    if (!anchors || !inter) {
        dcr_fail(err, DCR_EINTERNAL, "out of memory");
        goto out;
    }
    if ((st = dcr_x509_from_pem_list(anchors_pem, anchors, err)) != DCR_OK)
        goto out;
    for (int i = 0; untrusted && i < sk_X509_num(untrusted); i++) {
        X509 *x = sk_X509_value(untrusted, i);
        /* Never take a root from the evidence or the caller's files. */
        if (!self_signed(x) && !sk_X509_push(inter, x)) {
            st = dcr_fail(err, DCR_EINTERNAL, "out of memory");
            goto out;
        }
    }
    bool with_crls = crls && sk_X509_CRL_num(crls) > 0;
    if (!(store = anchor_store(anchors, with_crls ? crls : NULL)) ||
        !(ctx = X509_STORE_CTX_new()) || !X509_STORE_CTX_init(ctx, store, leaf, inter)) {
        st = dcr_fail(err, DCR_EINTERNAL, "%s: cannot set up certificate verification", prefix);
        goto out;
    }
    X509_VERIFY_PARAM *vp = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_time(vp, at ? at : time(NULL));
    if (with_crls)
        X509_VERIFY_PARAM_set_flags(vp, X509_V_FLAG_CRL_CHECK);
    if (X509_verify_cert(ctx) == 1) {
        st = DCR_OK;
    } else {
        int e = X509_STORE_CTX_get_error(ctx);
        st = dcr_fail(err, DCR_ECRYPTO, "%s: %s chain does not lead to %s (%s at depth %d)", prefix,
                      chain_name, anchor_name, X509_verify_cert_error_string(e),
                      X509_STORE_CTX_get_error_depth(ctx));
    }
out:
    ERR_clear_error();
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    sk_X509_pop_free(anchors, X509_free);
    sk_X509_free(inter); /* borrowed certificates */
    return st;
}

dcr_status dcr_ecdsa_verify_rs(EVP_PKEY *key, const EVP_MD *md, const uint8_t *msg, size_t len,
                               const uint8_t *r, const uint8_t *s, size_t scalar_len)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *br = BN_bin2bn(r, (int)scalar_len, NULL), *bs = BN_bin2bn(s, (int)scalar_len, NULL);
    unsigned char *der = NULL;
    EVP_MD_CTX *mctx = NULL;
    dcr_status st = DCR_ECRYPTO;
    if (!sig || !br || !bs || !ECDSA_SIG_set0(sig, br, bs)) {
        BN_free(br);
        BN_free(bs);
        goto out;
    }
    int der_len = i2d_ECDSA_SIG(sig, &der);
    if (der_len <= 0 || !(mctx = EVP_MD_CTX_new()))
        goto out;
    if (EVP_DigestVerifyInit(mctx, NULL, md, NULL, key) == 1 &&
        EVP_DigestVerify(mctx, der, (size_t)der_len, msg, len) == 1)
        st = DCR_OK;
out:
    ERR_clear_error();
    EVP_MD_CTX_free(mctx);
    OPENSSL_free(der);
    ECDSA_SIG_free(sig);
    return st;
}

EVP_PKEY *dcr_p256_from_xy(const uint8_t xy[64])
{
    uint8_t point[65];
    point[0] = 0x04; /* uncompressed */
    memcpy(point + 1, xy, 64);
    EVP_PKEY *key = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (bld && ctx &&
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) &&
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point) &&
        (params = OSSL_PARAM_BLD_to_param(bld)) && EVP_PKEY_fromdata_init(ctx) == 1 &&
        EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1)
        key = NULL;
    ERR_clear_error();
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    return key;
}

json_t *dcr_json_hex(const uint8_t *data, size_t len)
{
    char *hex = malloc(2 * len + 1);
    if (!hex)
        return NULL;
    dcr_hex_encode(hex, data, len);
    json_t *j = json_string(hex);
    free(hex);
    return j;
}

dcr_status dcr_policy_report_data(const dcr_attest_policy *pol, const uint8_t rd[64],
                                  dcr_error *err)
{
    if (pol->report_data && !dcr_ct_equal(pol->report_data, rd, DCR_REPORT_DATA_LEN))
        return dcr_fail(err, DCR_ECRYPTO, "policy: report data mismatch");
    return DCR_OK;
}

dcr_status dcr_policy_measurement(const dcr_attest_policy *pol, const uint8_t m[48], dcr_error *err)
{
    if (!pol->measurements)
        return DCR_OK;
    for (size_t i = 0; i < pol->n_measurements; i++)
        if (memcmp(pol->measurements[i].bytes, m, 48) == 0)
            return DCR_OK;
    return dcr_fail(err, DCR_ECRYPTO, "policy: measurement is not an accepted measurement");
}

dcr_status dcr_policy_min_tcb(const dcr_attest_policy *pol, const uint8_t *have, size_t len,
                              const char *what, dcr_error *err)
{
    if (!pol->min_tcb)
        return DCR_OK;
    if (pol->min_tcb_len != len)
        return dcr_fail(err, DCR_EUSAGE, "policy: minimum TCB for %s must be %zu bytes", what, len);
    for (size_t i = 0; i < len; i++)
        if (have[i] < pol->min_tcb[i])
            return dcr_fail(err, DCR_ECRYPTO,
                            "policy: %s is below the minimum TCB (component %zu: %u < %u)", what, i,
                            have[i], pol->min_tcb[i]);
    return DCR_OK;
}

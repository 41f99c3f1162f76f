/*
 * instance.c: the fresh keys of one server run and the evidence that binds
 * them. The TLS key (ECDSA P-256) gets a self-signed certificate: clients do
 * not trust it through a CA but by pinning the SPKI hash that the evidence
 * vouches for. Before the server serves anything it checks its own evidence
 * with the verifier clients use (api/binding.h), so an instance the contract
 * would refuse never starts.
 */
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "attest/tee.h"
#include "crypto/hpke.h"
#include "crypto/sign.h"
#include "crypto/util.h"
#include "server/internal.h"

static char *bio_to_string(BIO *b)
{
    char *p;
    long n = BIO_get_mem_data(b, &p);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (s) {
        memcpy(s, p, (size_t)n);
        s[n] = '\0';
    }
    return s;
}

static dcr_status make_cert(EVP_PKEY *pk, char **cert_pem, dcr_error *err)
{
    X509 *x = X509_new();
    X509_NAME *name = X509_NAME_new();
    BIO *b = BIO_new(BIO_s_mem());
    uint8_t serial[16];
    dcr_status st = dcr_random_bytes(serial, sizeof serial, err);
    if (st != DCR_OK)
        goto out;
    serial[0] &= 0x7f; /* positive */
    BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
    int ok =
        x && name && b && bn && X509_set_version(x, 2) &&
        BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) &&
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   (const unsigned char *)"dcr clean room instance", -1, -1, 0) &&
        X509_set_subject_name(x, name) && X509_set_issuer_name(x, name) &&
        X509_gmtime_adj(X509_getm_notBefore(x), -3600) &&
        X509_gmtime_adj(X509_getm_notAfter(x), 5L * 365 * 86400) && X509_set_pubkey(x, pk) &&
        X509_sign(x, pk, EVP_sha256()) > 0 && PEM_write_bio_X509(b, x);
    BN_free(bn);
    if (!ok || !(*cert_pem = bio_to_string(b)))
        st = dcr_fail(err, DCR_EINTERNAL, "cannot make the instance's TLS certificate");
out:
    X509_free(x);
    X509_NAME_free(name);
    BIO_free(b);
    return st;
}

/* TLS key, its PEM forms and the SHA-256 of its SubjectPublicKeyInfo. */
static dcr_status make_tls(srv_instance *inst, dcr_error *err)
{
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    BIO *b = BIO_new(BIO_s_mem());
    unsigned char *spki = NULL;
    int spki_len = pk ? i2d_PUBKEY(pk, &spki) : -1;
    dcr_status st = DCR_OK;
    if (!pk || !b || spki_len <= 0 || !PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL) ||
        !(inst->key_pem = bio_to_string(b)))
        st = dcr_fail(err, DCR_EINTERNAL, "cannot make the instance's TLS key");
    if (st == DCR_OK)
        st = dcr_sha256(spki, (size_t)spki_len, inst->pub.tls_spki_sha256, err);
    if (st == DCR_OK)
        st = make_cert(pk, &inst->cert_pem, err);
    if (b) {
        char *p;
        long n = BIO_get_mem_data(b, &p);
        if (n > 0)
            OPENSSL_cleanse(p, (size_t)n);
    }
    BIO_free(b);
    OPENSSL_free(spki);
    EVP_PKEY_free(pk);
    return st;
}

static dcr_status pick_backend(srv *s, const char *tee, const dcr_tee_options *topt,
                               const dcr_tee_backend **b, dcr_error *err)
{
    if (strcmp(tee, "auto") == 0) {
        char explain[2048];
        dcr_status st = dcr_tee_auto(topt, b, explain, sizeof explain, err);
        srv_log_lines(s, "start", explain);
        return st;
    }
    if (!(*b = dcr_tee_find(tee)))
        return dcr_fail(err, DCR_EUSAGE, "unknown --tee '%s' (auto, sim, sev-snp, tdx, azure-vtpm)",
                        tee);
    return DCR_OK;
}

dcr_status srv_instance_make(srv *s, dcr_error *err)
{
    srv_instance *inst = &s->inst;
    const dcr_contract *c = &s->contract;
    memset(inst, 0, sizeof *inst);
    dcr_tee_options topt = {.tcti = s->cfg->tcti};
    const dcr_tee_backend *b = NULL;
    dcr_status st = pick_backend(s, s->cfg->tee, &topt, &b, err);
    if (st == DCR_OK)
        st = make_tls(inst, err);
    if (st == DCR_OK)
        st = dcr_x25519_keypair(inst->hpke.hpke_priv, inst->hpke.pub.hpke_pub, err);
    if (st == DCR_OK)
        st = dcr_ed25519_keypair(inst->audit_seed, inst->pub.audit_pub, err);
    if (st != DCR_OK)
        return st;
    memcpy(inst->pub.hpke_pub, inst->hpke.pub.hpke_pub, 32);
    if ((st = dcr_instance_report_data(c->hash, &inst->pub, inst->report_data, err)) != DCR_OK)
        return st;
    if (b == &dcr_tee_sim)
        srv_log(s, "start",
                "WARNING: --tee sim: the evidence is simulated, insecure; for development only");
    dcr_evidence ev = {0};
    json_t *claims = NULL;
    st = b->get_evidence(&topt, inst->report_data, &ev, err);
    if (st != DCR_OK)
        dcr_error_prefix(err, "evidence from %s", b->name);
    if (st == DCR_OK && (st = dcr_instance_check_evidence(c, &ev, &inst->pub, 0, &claims, err)))
        dcr_error_prefix(err, "the contract would not accept this instance's own evidence");
    if (st == DCR_OK)
        st = dcr_evidence_encode(&ev, &inst->evidence, err);
    if (st == DCR_OK)
        inst->evidence_type = dcr_attest_type_name(ev.type);
    json_decref(claims);
    dcr_evidence_free(&ev);
    return st;
}

void srv_instance_free(srv_instance *inst)
{
    if (inst->key_pem) {
        OPENSSL_cleanse(inst->key_pem, strlen(inst->key_pem));
        free(inst->key_pem);
    }
    free(inst->cert_pem);
    dcr_party_key_wipe(&inst->hpke);
    dcr_wipe(inst->audit_seed, sizeof inst->audit_seed);
    dcr_buf_free(&inst->evidence);
    memset(inst, 0, sizeof *inst);
}

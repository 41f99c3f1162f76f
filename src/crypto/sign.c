/*
 * sign.c: Ed25519 (RFC 8032, pure mode) through OpenSSL's EVP_PKEY API.
 *
 * These are the party identity keys: they sign contracts and requests, and
 * crypto/party_key.c stores their 32-byte seeds. OpenSSL derives the
 * expanded key from the seed on each call; nothing here keeps state. Ed25519
 * hashes internally, so EVP_DigestSign runs with a NULL digest and the
 * whole message in one call.
 */
#include "crypto/sign.h"

#include <openssl/err.h>
#include <openssl/evp.h>

#include "crypto/util.h"

static dcr_status ossl_fail(dcr_error *err, const char *what)
{
    unsigned long e = ERR_get_error();
    ERR_clear_error();
    return dcr_fail(err, DCR_EINTERNAL, "Ed25519 %s failed: %s", what,
                    e ? ERR_reason_error_string(e) : "unknown OpenSSL error");
}

static EVP_PKEY *priv_key(const uint8_t seed[DCR_ED25519_SEED_LEN], dcr_error *err)
{
    /* OpenSSL copies the seed into secure storage and cleanses it on free. */
    EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, DCR_ED25519_SEED_LEN);
    if (!pk)
        ossl_fail(err, "private key import");
    return pk;
}

dcr_status dcr_ed25519_public_from_seed(const uint8_t seed[DCR_ED25519_SEED_LEN],
                                        uint8_t pub[DCR_ED25519_PUBLIC_LEN], dcr_error *err)
{
    EVP_PKEY *pk = priv_key(seed, err);
    if (!pk)
        return DCR_EINTERNAL;
    size_t len = DCR_ED25519_PUBLIC_LEN;
    dcr_status s = DCR_OK;
    if (EVP_PKEY_get_raw_public_key(pk, pub, &len) != 1)
        s = ossl_fail(err, "public key export");
    else if (len != DCR_ED25519_PUBLIC_LEN)
        s = dcr_fail(err, DCR_EINTERNAL, "Ed25519 public key is %zu bytes, expected %d", len,
                     DCR_ED25519_PUBLIC_LEN);
    EVP_PKEY_free(pk);
    return s;
}

dcr_status dcr_ed25519_keypair(uint8_t seed[DCR_ED25519_SEED_LEN],
                               uint8_t pub[DCR_ED25519_PUBLIC_LEN], dcr_error *err)
{
    /* Any 32 random bytes are a valid seed (RFC 8032 5.1.5), so drawing
     * from the CSPRNG ourselves keeps generation and import one path. */
    dcr_status s = dcr_random_bytes(seed, DCR_ED25519_SEED_LEN, err);
    if (s == DCR_OK)
        s = dcr_ed25519_public_from_seed(seed, pub, err);
    if (s != DCR_OK)
        dcr_wipe(seed, DCR_ED25519_SEED_LEN);
    return s;
}

dcr_status dcr_ed25519_sign(const uint8_t seed[DCR_ED25519_SEED_LEN], const void *msg,
                            size_t msg_len, uint8_t sig[DCR_ED25519_SIG_LEN], dcr_error *err)
{
    EVP_PKEY *pk = priv_key(seed, err);
    if (!pk)
        return DCR_EINTERNAL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    dcr_status s = DCR_OK;
    size_t sig_len = DCR_ED25519_SIG_LEN;
    /* EVP_DigestSign reads msg even when msg_len is 0; give it a valid
     * pointer. */
    static const uint8_t empty[1] = {0};
    if (!md)
        s = ossl_fail(err, "context allocation");
    else if (EVP_DigestSignInit(md, NULL, NULL, NULL, pk) != 1)
        s = ossl_fail(err, "sign init");
    else if (EVP_DigestSign(md, sig, &sig_len, msg_len ? msg : empty, msg_len) != 1)
        s = ossl_fail(err, "sign");
    else if (sig_len != DCR_ED25519_SIG_LEN)
        s = dcr_fail(err, DCR_EINTERNAL, "Ed25519 signature is %zu bytes, expected %d", sig_len,
                     DCR_ED25519_SIG_LEN);
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(pk);
    return s;
}

dcr_status dcr_ed25519_verify(const uint8_t pub[DCR_ED25519_PUBLIC_LEN], const void *msg,
                              size_t msg_len, const uint8_t sig[DCR_ED25519_SIG_LEN],
                              dcr_error *err)
{
    static const uint8_t empty[1] = {0};
    /* A public key that is not a curve point is a bad signature, not a
     * library failure: it came from input we do not control. */
    EVP_PKEY *pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, DCR_ED25519_PUBLIC_LEN);
    if (!pk) {
        ERR_clear_error();
        return dcr_fail(err, DCR_ECRYPTO, "signature verification failed: invalid public key");
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    dcr_status s = DCR_OK;
    if (!md) {
        s = ossl_fail(err, "context allocation");
    } else if (EVP_DigestVerifyInit(md, NULL, NULL, NULL, pk) != 1) {
        s = ossl_fail(err, "verify init");
    } else {
        int rc = EVP_DigestVerify(md, sig, DCR_ED25519_SIG_LEN, msg_len ? msg : empty, msg_len);
        if (rc != 1) {
            /* 0 is a bad signature; a negative value is a malformed one
             * (for instance S >= L). Both mean "not signed by this key". */
            ERR_clear_error();
            s = dcr_fail(err, DCR_ECRYPTO, "signature verification failed");
        }
    }
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(pk);
    return s;
}

/*
 * aead.c: AES-GCM through OpenSSL's EVP cipher interface.
 *
 * AES-256-GCM encrypts dataset bytes; AES-128-GCM is the AEAD inside the
 * HPKE suite (crypto/hpke.c) that wraps each data key to its recipients.
 * Both share one implementation that differs only in the EVP_CIPHER. The
 * output layout is ciphertext || 16-byte tag. OpenSSL processes GCM in
 * place, so pt and ct may be the same buffer. A failed open wipes whatever
 * plaintext OpenSSL wrote before the tag was checked, so a caller can never
 * use unauthenticated bytes by forgetting to look at the status.
 */
#include "crypto/aead.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <string.h>

/* EVP_CipherUpdate takes an int length; feed large buffers in pieces. */
#define CHUNK ((size_t)1 << 30)

static dcr_status ossl_fail(dcr_error *err, const char *what)
{
    unsigned long e = ERR_get_error();
    ERR_clear_error();
    return dcr_fail(err, DCR_EINTERNAL, "AES-GCM %s failed: %s", what,
                    e ? ERR_reason_error_string(e) : "unknown OpenSSL error");
}

/* Feeds aad (out == NULL) or data through the cipher in int-sized pieces. */
static int update_all(EVP_CIPHER_CTX *c, uint8_t *out, const uint8_t *in, size_t len)
{
    while (len > 0) {
        size_t n = len > CHUNK ? CHUNK : len;
        int got = 0;
        if (EVP_CipherUpdate(c, out, &got, in, (int)n) != 1)
            return 0;
        /* GCM is a stream mode: every input byte comes straight back out. */
        if (out && (size_t)got != n)
            return 0;
        in += n;
        if (out)
            out += n;
        len -= n;
    }
    return 1;
}

static EVP_CIPHER_CTX *gcm_init(const EVP_CIPHER *cipher, int enc, const uint8_t *key,
                                const uint8_t *nonce, dcr_error *err, dcr_status *s)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (!c) {
        *s = ossl_fail(err, "context allocation");
        return NULL;
    }
    /* 12 bytes is GCM's default IV length, but stating it ties the nonce
     * size to the header's constant rather than to OpenSSL's default. */
    if (EVP_CipherInit_ex(c, cipher, NULL, NULL, NULL, enc) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, DCR_AES256GCM_NONCE_LEN, NULL) != 1 ||
        EVP_CipherInit_ex(c, NULL, NULL, key, nonce, enc) != 1) {
        *s = ossl_fail(err, "init");
        EVP_CIPHER_CTX_free(c);
        return NULL;
    }
    *s = DCR_OK;
    return c;
}

static dcr_status gcm_seal(const EVP_CIPHER *cipher, const uint8_t *key, const uint8_t *nonce,
                           const void *aad, size_t aad_len, const void *pt, size_t pt_len,
                           uint8_t *ct, dcr_error *err)
{
    if (pt_len > SIZE_MAX - DCR_AES256GCM_TAG_LEN)
        return dcr_fail(err, DCR_EINTERNAL, "AES-GCM: plaintext too long");
    dcr_status s;
    EVP_CIPHER_CTX *c = gcm_init(cipher, 1, key, nonce, err, &s);
    if (!c)
        return s;
    int fin = 0;
    if (!update_all(c, NULL, aad, aad_len) || !update_all(c, ct, pt, pt_len))
        s = ossl_fail(err, "encrypt");
    else if (EVP_CipherFinal_ex(c, ct + pt_len, &fin) != 1 || fin != 0)
        s = ossl_fail(err, "encrypt final");
    else if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, DCR_AES256GCM_TAG_LEN, ct + pt_len) != 1)
        s = ossl_fail(err, "get tag");
    /* Freeing cleanses the expanded key schedule. */
    EVP_CIPHER_CTX_free(c);
    return s;
}

static dcr_status gcm_open(const EVP_CIPHER *cipher, const uint8_t *key, const uint8_t *nonce,
                           const void *aad, size_t aad_len, const uint8_t *ct, size_t ct_len,
                           void *pt, dcr_error *err)
{
    if (ct_len < DCR_AES256GCM_TAG_LEN)
        return dcr_fail(err, DCR_ECRYPTO,
                        "authentication failed: ciphertext is %zu bytes, shorter than its "
                        "%d-byte tag",
                        ct_len, DCR_AES256GCM_TAG_LEN);
    size_t pt_len = ct_len - DCR_AES256GCM_TAG_LEN;
    /* Our own copy of the tag stays valid whatever the caller's buffers
     * overlap with. */
    uint8_t tag[DCR_AES256GCM_TAG_LEN];
    memcpy(tag, ct + pt_len, sizeof tag);

    dcr_status s;
    EVP_CIPHER_CTX *c = gcm_init(cipher, 0, key, nonce, err, &s);
    if (!c)
        return s;
    int fin = 0;
    if (!update_all(c, NULL, aad, aad_len) || !update_all(c, pt, ct, pt_len)) {
        s = ossl_fail(err, "decrypt");
    } else if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, DCR_AES256GCM_TAG_LEN, tag) != 1) {
        s = ossl_fail(err, "set tag");
    } else if (EVP_CipherFinal_ex(c, (uint8_t *)pt + pt_len, &fin) != 1) {
        /* With the tag set, final fails only on a tag mismatch. */
        ERR_clear_error();
        s = dcr_fail(err, DCR_ECRYPTO,
                     "authentication failed: the ciphertext or its associated data was "
                     "modified, or the key is wrong");
    }
    EVP_CIPHER_CTX_free(c);
    if (s != DCR_OK && pt_len)
        explicit_bzero(pt, pt_len);
    return s;
}

dcr_status dcr_aes256gcm_seal(const uint8_t key[DCR_AES256GCM_KEY_LEN],
                              const uint8_t nonce[DCR_AES256GCM_NONCE_LEN], const void *aad,
                              size_t aad_len, const void *pt, size_t pt_len, uint8_t *ct,
                              dcr_error *err)
{
    return gcm_seal(EVP_aes_256_gcm(), key, nonce, aad, aad_len, pt, pt_len, ct, err);
}

dcr_status dcr_aes256gcm_open(const uint8_t key[DCR_AES256GCM_KEY_LEN],
                              const uint8_t nonce[DCR_AES256GCM_NONCE_LEN], const void *aad,
                              size_t aad_len, const uint8_t *ct, size_t ct_len, void *pt,
                              dcr_error *err)
{
    return gcm_open(EVP_aes_256_gcm(), key, nonce, aad, aad_len, ct, ct_len, pt, err);
}

dcr_status dcr_aes128gcm_seal(const uint8_t key[DCR_AES128GCM_KEY_LEN],
                              const uint8_t nonce[DCR_AES256GCM_NONCE_LEN], const void *aad,
                              size_t aad_len, const void *pt, size_t pt_len, uint8_t *ct,
                              dcr_error *err)
{
    return gcm_seal(EVP_aes_128_gcm(), key, nonce, aad, aad_len, pt, pt_len, ct, err);
}

dcr_status dcr_aes128gcm_open(const uint8_t key[DCR_AES128GCM_KEY_LEN],
                              const uint8_t nonce[DCR_AES256GCM_NONCE_LEN], const void *aad,
                              size_t aad_len, const uint8_t *ct, size_t ct_len, void *pt,
                              dcr_error *err)
{
    return gcm_open(EVP_aes_128_gcm(), key, nonce, aad, aad_len, ct, ct_len, pt, err);
}

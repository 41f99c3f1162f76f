/*
 * hash.c: SHA-256/384/512 and HKDF-SHA256 over OpenSSL's EVP interfaces.
 *
 * Everything in dcr that hashes (key ids, HPKE's key schedule, file
 * digests) comes through here, so this is the one place that knows how to
 * drive EVP_MD_CTX and EVP_KDF. HKDF is exposed as its two RFC 5869 halves
 * because HPKE (crypto/hpke.c) needs Extract and Expand separately for its
 * labeled variants. OpenSSL errors are turned into DCR_EINTERNAL: a digest
 * or KDF can only fail on allocation or library breakage, never because of
 * anything the user supplied.
 */
#include "crypto/hash.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

struct dcr_hash_ctx {
    EVP_MD_CTX *md_ctx;
    dcr_hash_alg alg;
};

static const EVP_MD *hash_md(dcr_hash_alg alg)
{
    switch (alg) {
    case DCR_SHA256:
        return EVP_sha256();
    case DCR_SHA384:
        return EVP_sha384();
    case DCR_SHA512:
        return EVP_sha512();
    }
    return NULL;
}

size_t dcr_hash_len(dcr_hash_alg alg)
{
    switch (alg) {
    case DCR_SHA256:
        return DCR_SHA256_LEN;
    case DCR_SHA384:
        return DCR_SHA384_LEN;
    case DCR_SHA512:
        return DCR_SHA512_LEN;
    }
    return 0;
}

/* Records an OpenSSL failure; the queue is cleared so a later, unrelated
 * failure does not report this one's reason. */
static dcr_status ossl_fail(dcr_error *err, const char *what)
{
    unsigned long e = ERR_get_error();
    ERR_clear_error();
    return dcr_fail(err, DCR_EINTERNAL, "%s failed: %s", what,
                    e ? ERR_reason_error_string(e) : "unknown OpenSSL error");
}

static dcr_status digest_oneshot(dcr_hash_alg alg, const void *data, size_t len, uint8_t *out,
                                 dcr_error *err)
{
    unsigned int out_len = 0;
    if (EVP_Digest(data, len, out, &out_len, hash_md(alg), NULL) != 1)
        return ossl_fail(err, "digest");
    if (out_len != dcr_hash_len(alg))
        return dcr_fail(err, DCR_EINTERNAL, "digest returned %u bytes, expected %zu", out_len,
                        dcr_hash_len(alg));
    return DCR_OK;
}

dcr_status dcr_sha256(const void *data, size_t len, uint8_t out[DCR_SHA256_LEN], dcr_error *err)
{
    return digest_oneshot(DCR_SHA256, data, len, out, err);
}

dcr_status dcr_sha384(const void *data, size_t len, uint8_t out[DCR_SHA384_LEN], dcr_error *err)
{
    return digest_oneshot(DCR_SHA384, data, len, out, err);
}

dcr_status dcr_sha512(const void *data, size_t len, uint8_t out[DCR_SHA512_LEN], dcr_error *err)
{
    return digest_oneshot(DCR_SHA512, data, len, out, err);
}

dcr_status dcr_hash_init(dcr_hash_ctx **ctx, dcr_hash_alg alg, dcr_error *err)
{
    *ctx = NULL;
    const EVP_MD *md = hash_md(alg);
    if (!md)
        return dcr_fail(err, DCR_EINTERNAL, "unknown hash algorithm %d", (int)alg);
    dcr_hash_ctx *c = OPENSSL_zalloc(sizeof *c);
    if (!c)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    c->alg = alg;
    c->md_ctx = EVP_MD_CTX_new();
    if (!c->md_ctx) {
        OPENSSL_free(c);
        return ossl_fail(err, "EVP_MD_CTX_new");
    }
    if (EVP_DigestInit_ex(c->md_ctx, md, NULL) != 1) {
        dcr_status s = ossl_fail(err, "digest init");
        dcr_hash_free(c);
        return s;
    }
    *ctx = c;
    return DCR_OK;
}

dcr_status dcr_hash_update(dcr_hash_ctx *ctx, const void *data, size_t len, dcr_error *err)
{
    if (len == 0)
        return DCR_OK;
    if (EVP_DigestUpdate(ctx->md_ctx, data, len) != 1)
        return ossl_fail(err, "digest update");
    return DCR_OK;
}

dcr_status dcr_hash_final(dcr_hash_ctx *ctx, uint8_t *out, dcr_error *err)
{
    unsigned int out_len = 0;
    dcr_status s = DCR_OK;
    if (EVP_DigestFinal_ex(ctx->md_ctx, out, &out_len) != 1)
        s = ossl_fail(err, "digest final");
    else if (out_len != dcr_hash_len(ctx->alg))
        s = dcr_fail(err, DCR_EINTERNAL, "digest returned %u bytes, expected %zu", out_len,
                     dcr_hash_len(ctx->alg));
    /* final always frees, so callers have one rule: never touch ctx again. */
    dcr_hash_free(ctx);
    return s;
}

void dcr_hash_free(dcr_hash_ctx *ctx)
{
    if (!ctx)
        return;
    EVP_MD_CTX_free(ctx->md_ctx);
    OPENSSL_free(ctx);
}

/* Runs OpenSSL's HKDF in one mode. EVP_KDF copies key and salt into its own
 * context and cleanses them when it is freed. */
static dcr_status hkdf(int mode, const uint8_t *key, size_t key_len, const uint8_t *salt,
                       size_t salt_len, const uint8_t *info, size_t info_len, uint8_t *out,
                       size_t out_len, dcr_error *err)
{
    /* OSSL_PARAM octet strings want non-NULL pointers even when empty. */
    static const uint8_t empty[1] = {0};
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_HKDF, NULL);
    if (!kdf)
        return ossl_fail(err, "HKDF fetch");
    EVP_KDF_CTX *kctx = EVP_KDF_CTX_new(kdf);
    EVP_KDF_free(kdf);
    if (!kctx)
        return ossl_fail(err, "HKDF context");

    OSSL_PARAM params[6];
    size_t n = 0;
    params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    params[n++] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
                                                    (void *)(key_len ? key : empty), key_len);
    if (mode == EVP_KDF_HKDF_MODE_EXTRACT_ONLY)
        params[n++] = OSSL_PARAM_construct_octet_string(
            OSSL_KDF_PARAM_SALT, (void *)(salt_len ? salt : empty), salt_len);
    else if (info_len)
        params[n++] =
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len);
    params[n] = OSSL_PARAM_construct_end();

    dcr_status s = DCR_OK;
    if (EVP_KDF_derive(kctx, out, out_len, params) != 1)
        s = ossl_fail(err, "HKDF derive");
    EVP_KDF_CTX_free(kctx);
    return s;
}

dcr_status dcr_hkdf_sha256_extract(const uint8_t *salt, size_t salt_len, const uint8_t *ikm,
                                   size_t ikm_len, uint8_t prk[DCR_SHA256_LEN], dcr_error *err)
{
    /* An empty salt is HashLen zero bytes (RFC 5869 2.2); HMAC's zero
     * padding of short keys makes an empty key the same thing. */
    return hkdf(EVP_KDF_HKDF_MODE_EXTRACT_ONLY, ikm, ikm_len, salt, salt_len, NULL, 0, prk,
                DCR_SHA256_LEN, err);
}

dcr_status dcr_hkdf_sha256_expand(const uint8_t *prk, size_t prk_len, const uint8_t *info,
                                  size_t info_len, uint8_t *out, size_t out_len, dcr_error *err)
{
    if (out_len == 0)
        return DCR_OK;
    if (out_len > 255 * DCR_SHA256_LEN)
        return dcr_fail(err, DCR_EINTERNAL, "HKDF-Expand: %zu bytes requested, at most %d allowed",
                        out_len, 255 * DCR_SHA256_LEN);
    if (prk_len < DCR_SHA256_LEN)
        return dcr_fail(err, DCR_EINTERNAL, "HKDF-Expand: PRK is %zu bytes, at least %d needed",
                        prk_len, DCR_SHA256_LEN);
    return hkdf(EVP_KDF_HKDF_MODE_EXPAND_ONLY, prk, prk_len, NULL, 0, info, info_len, out, out_len,
                err);
}

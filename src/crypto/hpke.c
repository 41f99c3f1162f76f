/*
 * hpke.c: HPKE base mode (RFC 9180) for the one suite dcr uses,
 * DHKEM(X25519, HKDF-SHA256) + HKDF-SHA256 + AES-128-GCM.
 *
 * A sealed dataset's data key is wrapped to each recipient's X25519 key
 * with this code (see crypto/party_key.c for where those keys live).
 * OpenSSL 3.0 has no HPKE API, so the RFC's pseudocode is built here from
 * its primitives: X25519 via EVP_PKEY_derive, HKDF via crypto/hash.c and
 * AES-128-GCM via crypto/aead.c. Function and label names follow the RFC
 * so that each step can be read side by side with sections 4, 5 and 7.
 *
 * Every intermediate secret (DH output, PRKs, the key-schedule secret,
 * ephemeral private keys) lives on the stack or in a heap buffer that is
 * cleansed before it is released, on success and failure alike.
 */
#include "crypto/hpke.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <string.h>

#include "crypto/aead.h"
#include "crypto/hash.h"
#include "crypto/hpke_internal.h"
#include "crypto/util.h"

#define NSECRET 32 /* DHKEM(X25519) shared secret */
#define NH 32      /* HKDF-SHA256 */
#define NK 16      /* AES-128-GCM key */
#define NN 12      /* AES-128-GCM nonce */

/* suite_id for LabeledExtract/Expand inside the KEM (section 4.1) ... */
static const uint8_t kem_suite_id[] = {'K', 'E', 'M', 0x00, 0x20};
/* ... and everywhere else (section 5.1): kem 0x0020, kdf 0x0001, aead 0x0001. */
static const uint8_t hpke_suite_id[] = {'H', 'P', 'K', 'E', 0x00, 0x20, 0x00, 0x01, 0x00, 0x01};

static const char version_label[] = "HPKE-v1";

typedef struct {
    const void *p;
    size_t len;
} part;

/* Concatenates parts into a fresh buffer the caller releases with
 * OPENSSL_clear_free: labeled inputs carry secrets (DH outputs, PRKs). */
static dcr_status concat(const part *parts, size_t n, uint8_t **out, size_t *out_len,
                         dcr_error *err)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (parts[i].len > SIZE_MAX - total)
            return dcr_fail(err, DCR_EINTERNAL, "HPKE: input too long");
        total += parts[i].len;
    }
    uint8_t *buf = OPENSSL_malloc(total ? total : 1);
    if (!buf)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (parts[i].len)
            memcpy(buf + o, parts[i].p, parts[i].len);
        o += parts[i].len;
    }
    *out = buf;
    *out_len = total;
    return DCR_OK;
}

/* LabeledExtract(salt, label, ikm) of section 4. */
static dcr_status labeled_extract(const uint8_t *suite_id, size_t suite_id_len, const uint8_t *salt,
                                  size_t salt_len, const char *label, const uint8_t *ikm,
                                  size_t ikm_len, uint8_t prk[NH], dcr_error *err)
{
    const part parts[] = {
        {version_label, sizeof version_label - 1},
        {suite_id, suite_id_len},
        {label, strlen(label)},
        {ikm, ikm_len},
    };
    uint8_t *labeled_ikm;
    size_t len;
    dcr_status s = concat(parts, sizeof parts / sizeof parts[0], &labeled_ikm, &len, err);
    if (s != DCR_OK)
        return s;
    s = dcr_hkdf_sha256_extract(salt, salt_len, labeled_ikm, len, prk, err);
    OPENSSL_clear_free(labeled_ikm, len);
    return s;
}

/* LabeledExpand(prk, label, info, L) of section 4. */
static dcr_status labeled_expand(const uint8_t *suite_id, size_t suite_id_len,
                                 const uint8_t prk[NH], const char *label, const uint8_t *info,
                                 size_t info_len, uint8_t *out, size_t L, dcr_error *err)
{
    /* I2OSP(L, 2) must be able to hold L, and HKDF-Expand stops at 255*Nh. */
    if (L > 255 * NH)
        return dcr_fail(err, DCR_EINTERNAL, "HPKE: %zu bytes requested, at most %d allowed", L,
                        255 * NH);
    const uint8_t len_be[2] = {(uint8_t)(L >> 8), (uint8_t)L};
    const part parts[] = {
        {len_be, 2},
        {version_label, sizeof version_label - 1},
        {suite_id, suite_id_len},
        {label, strlen(label)},
        {info, info_len},
    };
    uint8_t *labeled_info;
    size_t len;
    dcr_status s = concat(parts, sizeof parts / sizeof parts[0], &labeled_info, &len, err);
    if (s != DCR_OK)
        return s;
    s = dcr_hkdf_sha256_expand(prk, NH, labeled_info, len, out, L, err);
    OPENSSL_clear_free(labeled_info, len);
    return s;
}

static dcr_status ossl_fail(dcr_error *err, const char *what)
{
    unsigned long e = ERR_get_error();
    ERR_clear_error();
    return dcr_fail(err, DCR_EINTERNAL, "X25519 %s failed: %s", what,
                    e ? ERR_reason_error_string(e) : "unknown OpenSSL error");
}

dcr_status dcr_x25519_public_from_private(const uint8_t sk[DCR_X25519_KEY_LEN],
                                          uint8_t pk[DCR_X25519_KEY_LEN], dcr_error *err)
{
    /* OpenSSL keeps the raw scalar and clamps it at use, as RFC 7748 does;
     * DeriveKeyPair's output is therefore imported unchanged. */
    EVP_PKEY *key = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, sk, DCR_X25519_KEY_LEN);
    if (!key)
        return ossl_fail(err, "private key import");
    size_t len = DCR_X25519_KEY_LEN;
    dcr_status s = DCR_OK;
    if (EVP_PKEY_get_raw_public_key(key, pk, &len) != 1)
        s = ossl_fail(err, "public key export");
    else if (len != DCR_X25519_KEY_LEN)
        s = dcr_fail(err, DCR_EINTERNAL, "X25519 public key is %zu bytes, expected %d", len,
                     DCR_X25519_KEY_LEN);
    EVP_PKEY_free(key);
    return s;
}

dcr_status dcr_x25519_keypair(uint8_t sk[DCR_X25519_KEY_LEN], uint8_t pk[DCR_X25519_KEY_LEN],
                              dcr_error *err)
{
    /* Every 32-byte string is a usable X25519 private key (RFC 7748 5). */
    dcr_status s = dcr_random_bytes(sk, DCR_X25519_KEY_LEN, err);
    if (s == DCR_OK)
        s = dcr_x25519_public_from_private(sk, pk, err);
    if (s != DCR_OK)
        dcr_wipe(sk, DCR_X25519_KEY_LEN);
    return s;
}

/* DH(sk, pk). A peer key of small order gives an all-zero output, which
 * RFC 7748 6.1 and RFC 9180 7.1.4 require us to reject; OpenSSL's X25519
 * already refuses it, and the explicit check below keeps that guarantee
 * independent of the library version. bad_code/bad_msg describe the peer
 * key's origin so the caller's message says whose key was bad. */
static dcr_status x25519_dh(const uint8_t sk[DCR_X25519_KEY_LEN],
                            const uint8_t pk[DCR_X25519_KEY_LEN], uint8_t out[NSECRET],
                            dcr_status bad_code, const char *bad_msg, dcr_error *err)
{
    EVP_PKEY *priv = NULL, *peer = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    dcr_status s = DCR_OK;
    size_t len = NSECRET;

    priv = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, sk, DCR_X25519_KEY_LEN);
    if (!priv) {
        s = ossl_fail(err, "private key import");
        goto done;
    }
    peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, pk, DCR_X25519_KEY_LEN);
    if (!peer) {
        s = ossl_fail(err, "public key import");
        goto done;
    }
    pctx = EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL);
    if (!pctx) {
        s = ossl_fail(err, "context allocation");
        goto done;
    }
    if (EVP_PKEY_derive_init(pctx) != 1 || EVP_PKEY_derive_set_peer(pctx, peer) != 1) {
        s = ossl_fail(err, "key agreement setup");
        goto done;
    }
    if (EVP_PKEY_derive(pctx, out, &len) != 1) {
        /* The inputs are well-formed, so the only failure left is OpenSSL's
         * own all-zero check. */
        ERR_clear_error();
        s = dcr_fail(err, bad_code, "%s", bad_msg);
        goto done;
    }
    if (len != NSECRET) {
        s = dcr_fail(err, DCR_EINTERNAL, "X25519 output is %zu bytes, expected %d", len, NSECRET);
        goto done;
    }
    uint8_t acc = 0;
    for (size_t i = 0; i < NSECRET; i++)
        acc |= out[i];
    if (acc == 0)
        s = dcr_fail(err, bad_code, "%s", bad_msg);

done:
    if (s != DCR_OK)
        OPENSSL_cleanse(out, NSECRET);
    EVP_PKEY_CTX_free(pctx);
    EVP_PKEY_free(peer);
    EVP_PKEY_free(priv);
    return s;
}

dcr_status dcr_hpke_derive_keypair(const uint8_t *ikm, size_t ikm_len,
                                   uint8_t sk[DCR_X25519_KEY_LEN], uint8_t pk[DCR_X25519_KEY_LEN],
                                   dcr_error *err)
{
    /* Section 7.1.3: ikm SHOULD carry Nsk bytes of entropy; anything
     * shorter cannot, so it is a caller bug. */
    if (ikm_len < DCR_X25519_KEY_LEN)
        return dcr_fail(err, DCR_EINTERNAL,
                        "HPKE DeriveKeyPair: ikm is %zu bytes, at least %d needed", ikm_len,
                        DCR_X25519_KEY_LEN);
    uint8_t dkp_prk[NH];
    dcr_status s = labeled_extract(kem_suite_id, sizeof kem_suite_id, NULL, 0, "dkp_prk", ikm,
                                   ikm_len, dkp_prk, err);
    if (s == DCR_OK)
        s = labeled_expand(kem_suite_id, sizeof kem_suite_id, dkp_prk, "sk", NULL, 0, sk,
                           DCR_X25519_KEY_LEN, err);
    if (s == DCR_OK)
        s = dcr_x25519_public_from_private(sk, pk, err);
    OPENSSL_cleanse(dkp_prk, sizeof dkp_prk);
    if (s != DCR_OK)
        OPENSSL_cleanse(sk, DCR_X25519_KEY_LEN);
    return s;
}

/* ExtractAndExpand(dh, kem_context) of section 4.1. */
static dcr_status extract_and_expand(const uint8_t dh[NSECRET], const uint8_t kem_context[64],
                                     uint8_t shared_secret[NSECRET], dcr_error *err)
{
    uint8_t eae_prk[NH];
    dcr_status s = labeled_extract(kem_suite_id, sizeof kem_suite_id, NULL, 0, "eae_prk", dh,
                                   NSECRET, eae_prk, err);
    if (s == DCR_OK)
        s = labeled_expand(kem_suite_id, sizeof kem_suite_id, eae_prk, "shared_secret", kem_context,
                           64, shared_secret, NSECRET, err);
    OPENSSL_cleanse(eae_prk, sizeof eae_prk);
    return s;
}

dcr_status dcr_hpke_internal_encap(const uint8_t pk_r[DCR_X25519_KEY_LEN],
                                   const uint8_t sk_e[DCR_X25519_KEY_LEN],
                                   uint8_t shared_secret[NSECRET], uint8_t enc[DCR_HPKE_ENC_LEN],
                                   dcr_error *err)
{
    uint8_t dh[NSECRET];
    uint8_t kem_context[2 * DCR_X25519_KEY_LEN];
    dcr_status s = dcr_x25519_public_from_private(sk_e, enc, err);
    if (s == DCR_OK)
        s = x25519_dh(sk_e, pk_r, dh, DCR_EINPUT,
                      "recipient public key is invalid (a low-order X25519 point)", err);
    if (s == DCR_OK) {
        memcpy(kem_context, enc, DCR_HPKE_ENC_LEN);
        memcpy(kem_context + DCR_HPKE_ENC_LEN, pk_r, DCR_X25519_KEY_LEN);
        s = extract_and_expand(dh, kem_context, shared_secret, err);
    }
    OPENSSL_cleanse(dh, sizeof dh);
    if (s != DCR_OK)
        OPENSSL_cleanse(shared_secret, NSECRET);
    return s;
}

dcr_status dcr_hpke_internal_decap(const uint8_t enc[DCR_HPKE_ENC_LEN],
                                   const uint8_t sk_r[DCR_X25519_KEY_LEN],
                                   uint8_t shared_secret[NSECRET], dcr_error *err)
{
    uint8_t dh[NSECRET];
    uint8_t kem_context[2 * DCR_X25519_KEY_LEN];
    dcr_status s = x25519_dh(sk_r, enc, dh, DCR_ECRYPTO,
                             "encapsulated key is invalid (a low-order X25519 point)", err);
    if (s == DCR_OK) {
        memcpy(kem_context, enc, DCR_HPKE_ENC_LEN);
        s = dcr_x25519_public_from_private(sk_r, kem_context + DCR_HPKE_ENC_LEN, err);
    }
    if (s == DCR_OK)
        s = extract_and_expand(dh, kem_context, shared_secret, err);
    OPENSSL_cleanse(dh, sizeof dh);
    if (s != DCR_OK)
        OPENSSL_cleanse(shared_secret, NSECRET);
    return s;
}

dcr_status dcr_hpke_internal_key_schedule(dcr_hpke_ctx *ctx, const uint8_t shared_secret[NSECRET],
                                          const uint8_t *info, size_t info_len,
                                          uint8_t ksc_out[DCR_HPKE_KSC_LEN], uint8_t secret_out[NH],
                                          dcr_error *err)
{
    /* Base mode: mode 0x00, psk and psk_id both empty (section 5.1). */
    uint8_t ksc[DCR_HPKE_KSC_LEN];
    uint8_t secret[NH];
    ksc[0] = 0x00;
    dcr_status s = labeled_extract(hpke_suite_id, sizeof hpke_suite_id, NULL, 0, "psk_id_hash",
                                   NULL, 0, ksc + 1, err);
    if (s == DCR_OK)
        s = labeled_extract(hpke_suite_id, sizeof hpke_suite_id, NULL, 0, "info_hash", info,
                            info_len, ksc + 1 + NH, err);
    if (s == DCR_OK)
        s = labeled_extract(hpke_suite_id, sizeof hpke_suite_id, shared_secret, NSECRET, "secret",
                            NULL, 0, secret, err);
    if (s == DCR_OK)
        s = labeled_expand(hpke_suite_id, sizeof hpke_suite_id, secret, "key", ksc, sizeof ksc,
                           ctx->key, NK, err);
    if (s == DCR_OK)
        s = labeled_expand(hpke_suite_id, sizeof hpke_suite_id, secret, "base_nonce", ksc,
                           sizeof ksc, ctx->base_nonce, NN, err);
    if (s == DCR_OK)
        s = labeled_expand(hpke_suite_id, sizeof hpke_suite_id, secret, "exp", ksc, sizeof ksc,
                           ctx->exporter_secret, NH, err);
    ctx->seq = 0;
    if (s == DCR_OK) {
        if (ksc_out)
            memcpy(ksc_out, ksc, sizeof ksc);
        if (secret_out)
            memcpy(secret_out, secret, sizeof secret);
    } else {
        dcr_hpke_ctx_wipe(ctx);
    }
    OPENSSL_cleanse(secret, sizeof secret);
    return s;
}

void dcr_hpke_internal_nonce(const dcr_hpke_ctx *ctx, uint8_t nonce[NN])
{
    /* base_nonce XOR I2OSP(seq, Nn): seq is big-endian in the last bytes. */
    memcpy(nonce, ctx->base_nonce, NN);
    for (int i = 0; i < 8; i++)
        nonce[NN - 1 - i] ^= (uint8_t)(ctx->seq >> (8 * i));
}

static dcr_status setup_sender_with(dcr_hpke_ctx *ctx, uint8_t enc[DCR_HPKE_ENC_LEN],
                                    const uint8_t pk_r[DCR_X25519_KEY_LEN],
                                    const uint8_t sk_e[DCR_X25519_KEY_LEN], const uint8_t *info,
                                    size_t info_len, dcr_error *err)
{
    uint8_t shared_secret[NSECRET];
    dcr_status s = dcr_hpke_internal_encap(pk_r, sk_e, shared_secret, enc, err);
    if (s == DCR_OK)
        s = dcr_hpke_internal_key_schedule(ctx, shared_secret, info, info_len, NULL, NULL, err);
    else
        dcr_hpke_ctx_wipe(ctx);
    OPENSSL_cleanse(shared_secret, sizeof shared_secret);
    return s;
}

dcr_status dcr_hpke_setup_sender(dcr_hpke_ctx *ctx, uint8_t enc[DCR_HPKE_ENC_LEN],
                                 const uint8_t pk_r[DCR_X25519_KEY_LEN], const uint8_t *info,
                                 size_t info_len, dcr_error *err)
{
    uint8_t sk_e[DCR_X25519_KEY_LEN];
    dcr_status s = dcr_random_bytes(sk_e, sizeof sk_e, err);
    if (s == DCR_OK)
        s = setup_sender_with(ctx, enc, pk_r, sk_e, info, info_len, err);
    else
        dcr_hpke_ctx_wipe(ctx);
    OPENSSL_cleanse(sk_e, sizeof sk_e);
    return s;
}

dcr_status dcr_hpke_setup_sender_derand(dcr_hpke_ctx *ctx, uint8_t enc[DCR_HPKE_ENC_LEN],
                                        const uint8_t pk_r[DCR_X25519_KEY_LEN], const uint8_t *info,
                                        size_t info_len, const uint8_t *ikm_e, size_t ikm_e_len,
                                        dcr_error *err)
{
    uint8_t sk_e[DCR_X25519_KEY_LEN], pk_e[DCR_X25519_KEY_LEN];
    dcr_status s = dcr_hpke_derive_keypair(ikm_e, ikm_e_len, sk_e, pk_e, err);
    if (s == DCR_OK)
        s = setup_sender_with(ctx, enc, pk_r, sk_e, info, info_len, err);
    else
        dcr_hpke_ctx_wipe(ctx);
    OPENSSL_cleanse(sk_e, sizeof sk_e);
    return s;
}

dcr_status dcr_hpke_setup_recipient(dcr_hpke_ctx *ctx, const uint8_t enc[DCR_HPKE_ENC_LEN],
                                    const uint8_t sk_r[DCR_X25519_KEY_LEN], const uint8_t *info,
                                    size_t info_len, dcr_error *err)
{
    uint8_t shared_secret[NSECRET];
    dcr_status s = dcr_hpke_internal_decap(enc, sk_r, shared_secret, err);
    if (s == DCR_OK)
        s = dcr_hpke_internal_key_schedule(ctx, shared_secret, info, info_len, NULL, NULL, err);
    else
        dcr_hpke_ctx_wipe(ctx);
    OPENSSL_cleanse(shared_secret, sizeof shared_secret);
    return s;
}

/* The RFC's limit is seq < 2^96 - 1; a uint64_t reaches its own end first,
 * and wrapping it would reuse nonces, so the last usable value is refused
 * instead of incremented past. */
static dcr_status check_seq(const dcr_hpke_ctx *ctx, dcr_error *err)
{
    if (ctx->seq == UINT64_MAX)
        return dcr_fail(err, DCR_EINTERNAL, "HPKE message limit reached for this context");
    return DCR_OK;
}

dcr_status dcr_hpke_ctx_seal(dcr_hpke_ctx *ctx, const uint8_t *aad, size_t aad_len,
                             const uint8_t *pt, size_t pt_len, uint8_t *ct, dcr_error *err)
{
    dcr_status s = check_seq(ctx, err);
    if (s != DCR_OK)
        return s;
    uint8_t nonce[NN];
    dcr_hpke_internal_nonce(ctx, nonce);
    s = dcr_aes128gcm_seal(ctx->key, nonce, aad, aad_len, pt, pt_len, ct, err);
    if (s == DCR_OK)
        ctx->seq++;
    return s;
}

dcr_status dcr_hpke_ctx_open(dcr_hpke_ctx *ctx, const uint8_t *aad, size_t aad_len,
                             const uint8_t *ct, size_t ct_len, uint8_t *pt, dcr_error *err)
{
    dcr_status s = check_seq(ctx, err);
    if (s != DCR_OK)
        return s;
    uint8_t nonce[NN];
    dcr_hpke_internal_nonce(ctx, nonce);
    /* A failed open leaves seq alone (section 5.2), so a forged message
     * cannot desynchronise the context. */
    s = dcr_aes128gcm_open(ctx->key, nonce, aad, aad_len, ct, ct_len, pt, err);
    if (s == DCR_OK)
        ctx->seq++;
    else
        dcr_error_prefix(err, "HPKE");
    return s;
}

dcr_status dcr_hpke_ctx_export(const dcr_hpke_ctx *ctx, const uint8_t *exporter_context,
                               size_t exporter_context_len, uint8_t *out, size_t out_len,
                               dcr_error *err)
{
    return labeled_expand(hpke_suite_id, sizeof hpke_suite_id, ctx->exporter_secret, "sec",
                          exporter_context, exporter_context_len, out, out_len, err);
}

void dcr_hpke_ctx_wipe(dcr_hpke_ctx *ctx)
{
    OPENSSL_cleanse(ctx, sizeof *ctx);
}

dcr_status dcr_hpke_seal(const uint8_t pk_r[DCR_X25519_KEY_LEN], const uint8_t *info,
                         size_t info_len, const uint8_t *aad, size_t aad_len, const uint8_t *pt,
                         size_t pt_len, uint8_t enc[DCR_HPKE_ENC_LEN], uint8_t *ct, dcr_error *err)
{
    dcr_hpke_ctx ctx;
    dcr_status s = dcr_hpke_setup_sender(&ctx, enc, pk_r, info, info_len, err);
    if (s == DCR_OK)
        s = dcr_hpke_ctx_seal(&ctx, aad, aad_len, pt, pt_len, ct, err);
    dcr_hpke_ctx_wipe(&ctx);
    return s;
}

dcr_status dcr_hpke_open(const uint8_t sk_r[DCR_X25519_KEY_LEN],
                         const uint8_t enc[DCR_HPKE_ENC_LEN], const uint8_t *info, size_t info_len,
                         const uint8_t *aad, size_t aad_len, const uint8_t *ct, size_t ct_len,
                         uint8_t *pt, dcr_error *err)
{
    dcr_hpke_ctx ctx;
    dcr_status s = dcr_hpke_setup_recipient(&ctx, enc, sk_r, info, info_len, err);
    if (s == DCR_OK)
        s = dcr_hpke_ctx_open(&ctx, aad, aad_len, ct, ct_len, pt, err);
    dcr_hpke_ctx_wipe(&ctx);
    return s;
}

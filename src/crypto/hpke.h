/*
 * hpke.h: HPKE base mode (RFC 9180) with the single suite dcr uses:
 * DHKEM(X25519, HKDF-SHA256) + HKDF-SHA256 + AES-128-GCM
 * (kem_id 0x0020, kdf_id 0x0001, aead_id 0x0001). Built from OpenSSL 3.0
 * primitives (X25519, HKDF, AES-GCM); OpenSSL 3.0 has no HPKE API of its own.
 *
 * Keys are raw 32-byte X25519 keys. Most callers want the single-shot
 * dcr_hpke_seal / dcr_hpke_open; the context API exists for multi-message
 * use and for the RFC's test vectors.
 */
#ifndef DCR_CRYPTO_HPKE_H
#define DCR_CRYPTO_HPKE_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define DCR_X25519_KEY_LEN 32
#define DCR_HPKE_ENC_LEN 32
#define DCR_HPKE_TAG_LEN 16

dcr_status dcr_x25519_keypair(uint8_t sk[DCR_X25519_KEY_LEN], uint8_t pk[DCR_X25519_KEY_LEN],
                              dcr_error *err);
dcr_status dcr_x25519_public_from_private(const uint8_t sk[DCR_X25519_KEY_LEN],
                                          uint8_t pk[DCR_X25519_KEY_LEN], dcr_error *err);

/* DeriveKeyPair(ikm) of RFC 9180 section 7.1.3 for DHKEM(X25519). */
dcr_status dcr_hpke_derive_keypair(const uint8_t *ikm, size_t ikm_len,
                                   uint8_t sk[DCR_X25519_KEY_LEN], uint8_t pk[DCR_X25519_KEY_LEN],
                                   dcr_error *err);

typedef struct {
    uint8_t key[16];
    uint8_t base_nonce[12];
    uint8_t exporter_secret[32];
    uint64_t seq;
} dcr_hpke_ctx;

/* SetupBaseS: makes a fresh ephemeral key, writes enc. */
dcr_status dcr_hpke_setup_sender(dcr_hpke_ctx *ctx, uint8_t enc[DCR_HPKE_ENC_LEN],
                                 const uint8_t pk_r[DCR_X25519_KEY_LEN], const uint8_t *info,
                                 size_t info_len, dcr_error *err);
/* SetupBaseS with the ephemeral key derived from ikm_e: for test vectors only. */
dcr_status dcr_hpke_setup_sender_derand(dcr_hpke_ctx *ctx, uint8_t enc[DCR_HPKE_ENC_LEN],
                                        const uint8_t pk_r[DCR_X25519_KEY_LEN], const uint8_t *info,
                                        size_t info_len, const uint8_t *ikm_e, size_t ikm_e_len,
                                        dcr_error *err);
/* SetupBaseR. */
dcr_status dcr_hpke_setup_recipient(dcr_hpke_ctx *ctx, const uint8_t enc[DCR_HPKE_ENC_LEN],
                                    const uint8_t sk_r[DCR_X25519_KEY_LEN], const uint8_t *info,
                                    size_t info_len, dcr_error *err);

/* ContextS.Seal: writes pt_len + 16 bytes to ct; increments seq. */
dcr_status dcr_hpke_ctx_seal(dcr_hpke_ctx *ctx, const uint8_t *aad, size_t aad_len,
                             const uint8_t *pt, size_t pt_len, uint8_t *ct, dcr_error *err);
/* ContextR.Open: writes ct_len - 16 bytes to pt; DCR_ECRYPTO on failure. */
dcr_status dcr_hpke_ctx_open(dcr_hpke_ctx *ctx, const uint8_t *aad, size_t aad_len,
                             const uint8_t *ct, size_t ct_len, uint8_t *pt, dcr_error *err);
/* Context.Export: writes out_len bytes (at most 255*32). */
dcr_status dcr_hpke_ctx_export(const dcr_hpke_ctx *ctx, const uint8_t *exporter_context,
                               size_t exporter_context_len, uint8_t *out, size_t out_len,
                               dcr_error *err);
void dcr_hpke_ctx_wipe(dcr_hpke_ctx *ctx);

/* Single-shot SealBase / OpenBase (one message, seq 0). */
dcr_status dcr_hpke_seal(const uint8_t pk_r[DCR_X25519_KEY_LEN], const uint8_t *info,
                         size_t info_len, const uint8_t *aad, size_t aad_len, const uint8_t *pt,
                         size_t pt_len, uint8_t enc[DCR_HPKE_ENC_LEN], uint8_t *ct, dcr_error *err);
dcr_status dcr_hpke_open(const uint8_t sk_r[DCR_X25519_KEY_LEN],
                         const uint8_t enc[DCR_HPKE_ENC_LEN], const uint8_t *info, size_t info_len,
                         const uint8_t *aad, size_t aad_len, const uint8_t *ct, size_t ct_len,
                         uint8_t *pt, dcr_error *err);

#endif

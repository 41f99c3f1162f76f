/*
 * hpke_internal.h: the HPKE steps below the public API, exposed only so
 * tests/unit/test_crypto.c can check RFC 9180's intermediate test-vector
 * values (shared_secret, key_schedule_context, secret, per-message nonce).
 * Nothing outside crypto/hpke.c and the tests should include this.
 */
#ifndef DCR_CRYPTO_HPKE_INTERNAL_H
#define DCR_CRYPTO_HPKE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "crypto/hpke.h"

#define DCR_HPKE_KSC_LEN 65 /* mode || psk_id_hash || info_hash */

/* DHKEM Encap with a given ephemeral private key. */
dcr_status dcr_hpke_internal_encap(const uint8_t pk_r[DCR_X25519_KEY_LEN],
                                   const uint8_t sk_e[DCR_X25519_KEY_LEN],
                                   uint8_t shared_secret[32], uint8_t enc[DCR_HPKE_ENC_LEN],
                                   dcr_error *err);
/* DHKEM Decap. */
dcr_status dcr_hpke_internal_decap(const uint8_t enc[DCR_HPKE_ENC_LEN],
                                   const uint8_t sk_r[DCR_X25519_KEY_LEN],
                                   uint8_t shared_secret[32], dcr_error *err);
/* KeySchedule in base mode; ksc and secret (either may be NULL) receive the
 * intermediate values. */
dcr_status dcr_hpke_internal_key_schedule(dcr_hpke_ctx *ctx, const uint8_t shared_secret[32],
                                          const uint8_t *info, size_t info_len,
                                          uint8_t ksc[DCR_HPKE_KSC_LEN], uint8_t secret[32],
                                          dcr_error *err);
/* ComputeNonce(ctx->seq). */
void dcr_hpke_internal_nonce(const dcr_hpke_ctx *ctx, uint8_t nonce[12]);

#endif

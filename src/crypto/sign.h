/*
 * sign.h: Ed25519 signatures (RFC 8032, pure Ed25519), the party identity keys.
 * A private key is its 32-byte seed.
 */
#ifndef DCR_CRYPTO_SIGN_H
#define DCR_CRYPTO_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define DCR_ED25519_SEED_LEN 32
#define DCR_ED25519_PUBLIC_LEN 32
#define DCR_ED25519_SIG_LEN 64

dcr_status dcr_ed25519_keypair(uint8_t seed[DCR_ED25519_SEED_LEN],
                               uint8_t pub[DCR_ED25519_PUBLIC_LEN], dcr_error *err);
dcr_status dcr_ed25519_public_from_seed(const uint8_t seed[DCR_ED25519_SEED_LEN],
                                        uint8_t pub[DCR_ED25519_PUBLIC_LEN], dcr_error *err);
dcr_status dcr_ed25519_sign(const uint8_t seed[DCR_ED25519_SEED_LEN], const void *msg,
                            size_t msg_len, uint8_t sig[DCR_ED25519_SIG_LEN], dcr_error *err);
/* DCR_OK when sig is valid for msg under pub, DCR_ECRYPTO when not. */
dcr_status dcr_ed25519_verify(const uint8_t pub[DCR_ED25519_PUBLIC_LEN], const void *msg,
                              size_t msg_len, const uint8_t sig[DCR_ED25519_SIG_LEN],
                              dcr_error *err);

#endif

/*
 * aead.h: AES-256-GCM, the data-encryption AEAD of sealed datasets.
 *
 * seal writes pt_len + 16 bytes (ciphertext then tag) to ct; open reads
 * ct_len >= 16 bytes and writes ct_len - 16 bytes of plaintext to pt, and
 * returns DCR_ECRYPTO (with pt wiped) when authentication fails. pt and ct may
 * be the same buffer.
 */
#ifndef DCR_CRYPTO_AEAD_H
#define DCR_CRYPTO_AEAD_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define DCR_AES256GCM_KEY_LEN 32
#define DCR_AES256GCM_NONCE_LEN 12
#define DCR_AES256GCM_TAG_LEN 16

dcr_status dcr_aes256gcm_seal(const uint8_t key[DCR_AES256GCM_KEY_LEN],
                              const uint8_t nonce[DCR_AES256GCM_NONCE_LEN], const void *aad,
                              size_t aad_len, const void *pt, size_t pt_len, uint8_t *ct,
                              dcr_error *err);

dcr_status dcr_aes256gcm_open(const uint8_t key[DCR_AES256GCM_KEY_LEN],
                              const uint8_t nonce[DCR_AES256GCM_NONCE_LEN], const void *aad,
                              size_t aad_len, const uint8_t *ct, size_t ct_len, void *pt,
                              dcr_error *err);

/* AES-128-GCM, the same layout and in-place rules: the AEAD of the HPKE
 * suite (crypto/hpke.c) that wraps data keys. */
#define DCR_AES128GCM_KEY_LEN 16

dcr_status dcr_aes128gcm_seal(const uint8_t key[DCR_AES128GCM_KEY_LEN],
                              const uint8_t nonce[DCR_AES256GCM_NONCE_LEN], const void *aad,
                              size_t aad_len, const void *pt, size_t pt_len, uint8_t *ct,
                              dcr_error *err);

dcr_status dcr_aes128gcm_open(const uint8_t key[DCR_AES128GCM_KEY_LEN],
                              const uint8_t nonce[DCR_AES256GCM_NONCE_LEN], const void *aad,
                              size_t aad_len, const uint8_t *ct, size_t ct_len, void *pt,
                              dcr_error *err);

#endif

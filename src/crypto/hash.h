/*
 * hash.h: SHA-2 digests (one-shot and incremental) and HKDF (RFC 5869).
 */
#ifndef DCR_CRYPTO_HASH_H
#define DCR_CRYPTO_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define DCR_SHA256_LEN 32
#define DCR_SHA384_LEN 48
#define DCR_SHA512_LEN 64

typedef enum { DCR_SHA256, DCR_SHA384, DCR_SHA512 } dcr_hash_alg;

/* Digest length in bytes of alg. */
size_t dcr_hash_len(dcr_hash_alg alg);

dcr_status dcr_sha256(const void *data, size_t len, uint8_t out[DCR_SHA256_LEN], dcr_error *err);
dcr_status dcr_sha384(const void *data, size_t len, uint8_t out[DCR_SHA384_LEN], dcr_error *err);
dcr_status dcr_sha512(const void *data, size_t len, uint8_t out[DCR_SHA512_LEN], dcr_error *err);

/* Incremental hashing. init allocates; final writes dcr_hash_len(alg)
 * bytes and frees; free releases a context that never reached final. */
typedef struct dcr_hash_ctx dcr_hash_ctx;
dcr_status dcr_hash_init(dcr_hash_ctx **ctx, dcr_hash_alg alg, dcr_error *err);
dcr_status dcr_hash_update(dcr_hash_ctx *ctx, const void *data, size_t len, dcr_error *err);
dcr_status dcr_hash_final(dcr_hash_ctx *ctx, uint8_t *out, dcr_error *err);
void dcr_hash_free(dcr_hash_ctx *ctx);

/* HKDF-SHA256 (RFC 5869). extract writes 32 bytes; expand writes out_len
 * bytes (at most 255*32). */
dcr_status dcr_hkdf_sha256_extract(const uint8_t *salt, size_t salt_len, const uint8_t *ikm,
                                   size_t ikm_len, uint8_t prk[DCR_SHA256_LEN], dcr_error *err);
dcr_status dcr_hkdf_sha256_expand(const uint8_t *prk, size_t prk_len, const uint8_t *info,
                                  size_t info_len, uint8_t *out, size_t out_len, dcr_error *err);

#endif

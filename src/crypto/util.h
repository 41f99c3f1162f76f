/*
 * util.h: the CSPRNG (OpenSSL's). Constant-time comparison and wiping are
 * memory hygiene, in base/hygiene.h, which this includes for the pieces
 * that use both.
 */
#ifndef DCR_CRYPTO_UTIL_H
#define DCR_CRYPTO_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/hygiene.h"

/* Fills buf with len bytes from OpenSSL's CSPRNG (RAND_priv_bytes). */
dcr_status dcr_random_bytes(void *buf, size_t len, dcr_error *err);

#endif

/*
 * util.h: the small secret-handling tools every piece uses: a CSPRNG,
 * constant-time comparison and wiping. All from OpenSSL.
 */
#ifndef DCR_CRYPTO_UTIL_H
#define DCR_CRYPTO_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* Fills buf with len bytes from OpenSSL's CSPRNG (RAND_priv_bytes). */
dcr_status dcr_random_bytes(void *buf, size_t len, dcr_error *err);

/* Compares in time that depends only on len. */
bool dcr_ct_equal(const void *a, const void *b, size_t len);

/* Overwrites len bytes in a way the compiler cannot remove. */
void dcr_wipe(void *p, size_t len);

/* dcr_wipe(p, len), then free(p): for a heap array derived from plaintext
 * (a hash of an email is as good as the email to anyone who can guess
 * emails), which must not outlive its use in freed memory. NULL is fine. */
void dcr_wipe_free(void *p, size_t len);

#endif

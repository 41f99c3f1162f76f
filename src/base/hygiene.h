/*
 * hygiene.h: memory hygiene for secrets and plaintext: constant-time
 * comparison and wiping. Every piece handles plaintext rows or keys, so
 * these live in base; the CSPRNG and the primitives stay in crypto/.
 */
#ifndef DCR_BASE_HYGIENE_H
#define DCR_BASE_HYGIENE_H

#include <stdbool.h>
#include <stddef.h>

/* Compares in time that depends only on len (OpenSSL's CRYPTO_memcmp). */
bool dcr_ct_equal(const void *a, const void *b, size_t len) __attribute__((warn_unused_result));

/* Overwrites len bytes in a way the compiler cannot remove. */
void dcr_wipe(void *p, size_t len);

/* dcr_wipe(p, len), then free(p): for a heap array derived from plaintext
 * (a hash of an email is as good as the email to anyone who can guess
 * emails), which must not outlive its use in freed memory. NULL is fine. */
void dcr_wipe_free(void *p, size_t len);

#endif

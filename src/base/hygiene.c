/*
 * hygiene.c: constant-time comparison and wiping (hygiene.h).
 */
#include "base/hygiene.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

bool dcr_ct_equal(const void *a, const void *b, size_t len)
{
    if (len == 0)
        return true;
    return CRYPTO_memcmp(a, b, len) == 0;
}

/* glibc's explicit_bzero is a memset the compiler may not drop: as safe as
 * OPENSSL_cleanse, whose x86-64 loop stores 8 bytes at a time, but with
 * memset's vector stores. The executor wipes every plaintext column and
 * chunk it frees (hundreds of MB per query), so the speed shows. */
void dcr_wipe(void *p, size_t len)
{
    if (p && len)
        explicit_bzero(p, len);
}

void dcr_wipe_free(void *p, size_t len)
{
    dcr_wipe(p, len);
    free(p);
}

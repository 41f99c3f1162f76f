/*
 * util.c: the CSPRNG, constant-time comparison and wiping that the rest of
 * dcr uses for every secret. These are thin wrappers over OpenSSL so that
 * no other file needs to remember which OpenSSL call is the safe one
 * (RAND_priv_bytes rather than RAND_bytes, CRYPTO_memcmp rather than
 * memcmp, a wipe rather than a memset the optimiser may drop).
 */
#include "crypto/util.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

dcr_status dcr_random_bytes(void *buf, size_t len, dcr_error *err)
{
    /* RAND_priv_bytes takes an int; split rather than truncate. */
    unsigned char *p = buf;
    while (len > 0) {
        size_t n = len > (1u << 30) ? (1u << 30) : len;
        /* The private DRBG keeps key material apart from public nonces. */
        if (RAND_priv_bytes(p, (int)n) != 1) {
            unsigned long e = ERR_get_error();
            ERR_clear_error();
            return dcr_fail(err, DCR_EINTERNAL, "random number generator failed: %s",
                            e ? ERR_reason_error_string(e) : "unknown error");
        }
        p += n;
        len -= n;
    }
    return DCR_OK;
}

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

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

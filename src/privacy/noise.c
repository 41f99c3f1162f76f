/*
 * noise.c: the exact samplers of noise.h (Canonne, Kamath, Steinke 2020,
 * Algorithms 1-3) over a buffered CSPRNG.
 *
 * All sampler arithmetic is on unsigned 128-bit integers. The one place a
 * value can outgrow them is the discrete Gaussian's acceptance exponent
 * (|Y| d t - n)^2 / (2 n d t^2) for a far-out Laplace candidate Y; there the
 * quotient and remainder are computed exactly with OpenSSL BIGNUMs. A
 * quotient of 2^128 or more is saturated: the result differs only if 2^128
 * consecutive Bernoulli(exp(-1)) trials all succeed, an event of
 * probability below exp(-2^128).
 */
#include <math.h>
#include <openssl/bn.h>
#include <string.h>

#include "crypto/util.h"
#include "privacy/noise.h"

#define U128_MAX (~(dcr_u128)0)

void dcr_rng_init(dcr_rng *r)
{
    memset(r, 0, sizeof *r);
}

void dcr_rng_free(dcr_rng *r)
{
    dcr_wipe(r, sizeof *r);
}

static dcr_status rng_u64(dcr_rng *r, uint64_t *out, dcr_error *err)
{
    if (r->len - r->pos < sizeof *out) {
        dcr_status st = dcr_random_bytes(r->buf, sizeof r->buf, err);
        if (st != DCR_OK)
            return st;
        r->pos = 0;
        r->len = sizeof r->buf;
    }
    memcpy(out, r->buf + r->pos, sizeof *out);
    dcr_wipe(r->buf + r->pos, sizeof *out);
    r->pos += sizeof *out;
    return DCR_OK;
}

static dcr_status rng_bit(dcr_rng *r, bool *out, dcr_error *err)
{
    if (r->nbits == 0) {
        dcr_status st = rng_u64(r, &r->bits, err);
        if (st != DCR_OK)
            return st;
        r->nbits = 64;
    }
    *out = r->bits & 1;
    r->bits >>= 1;
    r->nbits--;
    return DCR_OK;
}

static unsigned bitlen128(dcr_u128 x)
{
    unsigned n = 0;
    uint64_t hi = (uint64_t)(x >> 64), lo = (uint64_t)x;
    if (hi)
        n = 64 + (64 - (unsigned)__builtin_clzll(hi));
    else if (lo)
        n = 64 - (unsigned)__builtin_clzll(lo);
    return n;
}

dcr_status dcr_rng_uniform(dcr_rng *r, dcr_u128 n, dcr_u128 *out, dcr_error *err)
{
    if (n == 0)
        return dcr_fail(err, DCR_EINTERNAL, "uniform sample from an empty range");
    if (n == 1) {
        *out = 0;
        return DCR_OK;
    }
    /* Draw exactly bitlen(n-1) bits and reject values >= n: every value in
     * [0, n) is equally likely and each try succeeds with probability > 1/2. */
    unsigned k = bitlen128(n - 1);
    dcr_u128 mask = k >= 128 ? U128_MAX : (((dcr_u128)1 << k) - 1);
    for (;;) {
        uint64_t lo, hi = 0;
        dcr_status st = rng_u64(r, &lo, err);
        if (st == DCR_OK && k > 64)
            st = rng_u64(r, &hi, err);
        if (st != DCR_OK)
            return st;
        dcr_u128 v = (((dcr_u128)hi << 64) | lo) & mask;
        if (v < n) {
            *out = v;
            return DCR_OK;
        }
    }
}

dcr_status dcr_sample_bernoulli(dcr_rng *r, dcr_u128 num, dcr_u128 den, bool *out, dcr_error *err)
{
    if (den == 0 || num > den)
        return dcr_fail(err, DCR_EINTERNAL, "Bernoulli parameter outside [0, 1]");
    if (num == den) {
        *out = true;
        return DCR_OK;
    }
    if (num == 0) {
        *out = false;
        return DCR_OK;
    }
    dcr_u128 u;
    dcr_status st = dcr_rng_uniform(r, den, &u, err);
    if (st != DCR_OK)
        return st;
    *out = u < num;
    return DCR_OK;
}

/* CKS Algorithm 1 for gamma = num/den in [0, 1]: K counts successes of
 * Bernoulli(gamma/K); the parity of the final K is Bernoulli(exp(-gamma)).
 * Bernoulli(gamma/K) is sampled as Bernoulli(gamma) AND Bernoulli(1/K),
 * which needs no product den*K (and so cannot overflow). */
static dcr_status bern_exp_le1(dcr_rng *r, dcr_u128 num, dcr_u128 den, bool *out, dcr_error *err)
{
    dcr_u128 k = 1;
    for (;;) {
        bool a = false;
        dcr_status st = dcr_sample_bernoulli(r, num, den, &a, err);
        if (st == DCR_OK && a)
            st = dcr_sample_bernoulli(r, 1, k, &a, err);
        if (st != DCR_OK)
            return st;
        if (!a)
            break;
        k++;
    }
    *out = (k & 1) != 0;
    return DCR_OK;
}

/* Bernoulli(exp(-(q + rem/den))) for an integer part q: q independent
 * Bernoulli(exp(-1)) trials must all succeed, then Bernoulli(exp(-rem/den)). */
static dcr_status bern_exp_split(dcr_rng *r, dcr_u128 q, dcr_u128 rem, dcr_u128 den, bool *out,
                                 dcr_error *err)
{
    for (dcr_u128 i = 0; i < q; i++) {
        bool b = false;
        dcr_status st = bern_exp_le1(r, 1, 1, &b, err);
        if (st != DCR_OK)
            return st;
        if (!b) {
            *out = false;
            return DCR_OK;
        }
    }
    return bern_exp_le1(r, rem, den, out, err);
}

dcr_status dcr_sample_bernoulli_exp(dcr_rng *r, dcr_u128 num, dcr_u128 den, bool *out,
                                    dcr_error *err)
{
    if (den == 0)
        return dcr_fail(err, DCR_EINTERNAL, "Bernoulli(exp(-x)) with a zero denominator");
    if (num <= den)
        return bern_exp_le1(r, num, den, out, err);
    return bern_exp_split(r, num / den, num % den, den, out, err);
}

dcr_status dcr_sample_dlaplace(dcr_rng *r, uint64_t num, uint64_t den, int64_t *out, dcr_error *err)
{
    const uint64_t lim = (uint64_t)1 << 62;
    if (num == 0 || den == 0 || num >= lim || den >= lim)
        return dcr_fail(err, DCR_EINTERNAL, "discrete Laplace scale out of range");
    /* CKS Algorithm 2 with scale t/s, t = num, s = den: X = U + t V is
     * geometric with ratio exp(-1/t) (U uniform below t, accepted with
     * probability exp(-U/t); V geometric with ratio exp(-1)); Y = floor(X/s)
     * is then geometric with ratio exp(-s/t); a random sign, rejecting
     * "-0", gives the two-sided distribution. */
    const dcr_u128 t = num, s = den;
    for (;;) {
        dcr_u128 u;
        bool d = false;
        dcr_status st = dcr_rng_uniform(r, t, &u, err);
        if (st == DCR_OK)
            st = dcr_sample_bernoulli_exp(r, u, t, &d, err);
        if (st != DCR_OK)
            return st;
        if (!d)
            continue;
        dcr_u128 v = 0;
        for (;;) {
            bool a = false;
            st = bern_exp_le1(r, 1, 1, &a, err);
            if (st != DCR_OK)
                return st;
            if (!a)
                break;
            v++;
        }
        dcr_u128 y = (u + t * v) / s; /* t < 2^62 and v < 2^64: no overflow */
        bool b = false;
        st = rng_bit(r, &b, err);
        if (st != DCR_OK)
            return st;
        if (b && y == 0)
            continue;
        if (y > (dcr_u128)INT64_MAX)
            return dcr_fail(err, DCR_EINTERNAL, "discrete Laplace sample out of range");
        *out = b ? -(int64_t)y : (int64_t)y;
        return DCR_OK;
    }
}

static uint64_t isqrt64(uint64_t x)
{
    uint64_t res = 0, bit = (uint64_t)1 << 62;
    while (bit > x)
        bit >>= 2;
    while (bit) {
        if (x >= res + bit) {
            x -= res + bit;
            res = (res >> 1) + bit;
        } else {
            res >>= 1;
        }
        bit >>= 2;
    }
    return res;
}

/* 2 n d t^2, the Gaussian acceptance denominator; false when >= 2^126. */
static bool gauss_den(uint64_t n, uint64_t d, uint64_t t, dcr_u128 *out)
{
    dcr_u128 a, b;
    if (__builtin_mul_overflow((dcr_u128)n * 2, (dcr_u128)d, &a) ||
        __builtin_mul_overflow(a, (dcr_u128)t, &b) || __builtin_mul_overflow(b, (dcr_u128)t, &a))
        return false;
    if (a >> 126)
        return false;
    *out = a;
    return true;
}

static void u128_to_be(dcr_u128 x, unsigned char out[16])
{
    for (int i = 15; i >= 0; i--) {
        out[i] = (unsigned char)x;
        x >>= 8;
    }
}

/* floor(diff^2 / den) (saturated at 2^128 - 1) and diff^2 mod den, for a
 * diff too large to square in 128 bits. */
static dcr_status bigsq_divmod(dcr_u128 diff, dcr_u128 den, dcr_u128 *q, dcr_u128 *rem,
                               dcr_error *err)
{
    unsigned char b[16];
    BN_CTX *ctx = BN_CTX_new();
    BIGNUM *x = BN_new(), *dv = BN_new(), *sq = BN_new(), *bq = BN_new(), *br = BN_new();
    dcr_status st = DCR_OK;
    if (!ctx || !x || !dv || !sq || !bq || !br) {
        st = dcr_fail(err, DCR_EINTERNAL, "out of memory");
        goto out;
    }
    u128_to_be(diff, b);
    if (!BN_bin2bn(b, 16, x))
        goto fail;
    u128_to_be(den, b);
    if (!BN_bin2bn(b, 16, dv) || !BN_sqr(sq, x, ctx) || !BN_div(bq, br, sq, dv, ctx))
        goto fail;
    if (BN_num_bits(bq) > 128) {
        *q = U128_MAX;
    } else {
        unsigned char qb[16];
        if (BN_bn2binpad(bq, qb, 16) != 16)
            goto fail;
        *q = 0;
        for (int i = 0; i < 16; i++)
            *q = (*q << 8) | qb[i];
    }
    if (BN_bn2binpad(br, b, 16) != 16)
        goto fail;
    *rem = 0;
    for (int i = 0; i < 16; i++)
        *rem = (*rem << 8) | b[i];
    goto out;
fail:
    st = dcr_fail(err, DCR_EINTERNAL, "big-number arithmetic failed");
out:
    BN_free(x);
    BN_free(dv);
    BN_free(sq);
    BN_free(bq);
    BN_free(br);
    BN_CTX_free(ctx);
    return st;
}

dcr_status dcr_sample_dgauss(dcr_rng *r, uint64_t num, uint64_t den, int64_t *out, dcr_error *err)
{
    if (num == 0 || den == 0 || num >= ((uint64_t)1 << 62) || den > ((uint64_t)1 << 32))
        return dcr_fail(err, DCR_EINTERNAL, "discrete Gaussian variance out of range");
    /* CKS Algorithm 3: candidates from the discrete Laplace with integer
     * scale t = floor(sigma) + 1, accepted with probability
     * exp(-(|Y| - sigma^2/t)^2 / (2 sigma^2)). With sigma^2 = n/d the
     * exponent is (|Y| d t - n)^2 / (2 n d t^2), all integers. */
    uint64_t t = isqrt64(num / den) + 1; /* floor(sqrt(n/d)) = floor(sqrt(floor(n/d))) */
    dcr_u128 D;
    if (!gauss_den(num, den, t, &D))
        return dcr_fail(err, DCR_EINTERNAL, "discrete Gaussian variance too fine-grained");
    for (;;) {
        int64_t y;
        dcr_status st = dcr_sample_dlaplace(r, t, 1, &y, err);
        if (st != DCR_OK)
            return st;
        dcr_u128 ay = y < 0 ? (dcr_u128)(-(y + 1)) + 1 : (dcr_u128)y;
        dcr_u128 a = ay * den * t; /* < 2^63 * 2^32 * 2^31 */
        dcr_u128 diff = a >= num ? a - num : num - a;
        dcr_u128 q = 0, rem = 0;
        if (diff >> 64) {
            st = bigsq_divmod(diff, D, &q, &rem, err);
            if (st != DCR_OK)
                return st;
        } else {
            dcr_u128 sq = diff * diff;
            q = sq / D;
            rem = sq % D;
        }
        bool c = false;
        st = bern_exp_split(r, q, rem, D, &c, err);
        if (st != DCR_OK)
            return st;
        if (c) {
            *out = y;
            return DCR_OK;
        }
    }
}

dcr_status dcr_noise_rational_up(double x, bool gauss_sigma2, uint64_t *num, uint64_t *den,
                                 dcr_error *err)
{
    if (!isfinite(x) || x <= 0 || x > 0x1p60)
        return dcr_fail(err, DCR_EINPUT, "noise scale %g cannot be represented", x);
    double up = x * (1 + 0x1p-40);
    for (int k = 32; k >= 0; k--) {
        double v = ldexp(up, k);
        if (v >= 0x1p62)
            continue;
        uint64_t n = (uint64_t)ceil(v), d = (uint64_t)1 << k;
        if (n == 0)
            n = 1;
        if (gauss_sigma2) {
            dcr_u128 D;
            if (!gauss_den(n, d, isqrt64(n / d) + 1, &D))
                continue;
        }
        *num = n;
        *den = d;
        return DCR_OK;
    }
    return dcr_fail(err, DCR_EINPUT, "noise scale %g cannot be represented", x);
}

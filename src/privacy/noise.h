/*
 * noise.h: exact integer noise for differential privacy.
 *
 * The samplers are Algorithms 1-3 of Canonne, Kamath and Steinke, "The
 * Discrete Gaussian for Differential Privacy" (NeurIPS 2020): Bernoulli
 * with probability exp(-gamma) for a rational gamma, the discrete Laplace
 * distribution and the discrete Gaussian distribution over the integers.
 * Everything inside a sampler is integer or rational arithmetic on exact
 * integers; the only randomness is uniform integers drawn by rejection (no
 * modulo bias) from OpenSSL's CSPRNG (crypto/util.h), read in buffered
 * blocks. There is no floating point between the random bytes and the
 * sample, so the textbook floating-point Laplace attack (Mironov 2012)
 * does not apply: the output distribution is exactly the one the privacy
 * proof assumes.
 *
 * Scales are rationals num/den. The mechanism (privacy/dp.c) computes the
 * scale it needs in floating point (for example sensitivity / epsilon),
 * then dcr_noise_rational_up() turns it into a rational that is never
 * smaller, so the noise is at least what the proof needs and the privacy
 * guarantee never weakens; see docs/privacy.md.
 *
 * Ownership: a dcr_rng is a value the caller owns; dcr_rng_free wipes its
 * buffered random bytes. It is not shared between threads.
 */
#ifndef DCR_PRIVACY_NOISE_H
#define DCR_PRIVACY_NOISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

__extension__ typedef unsigned __int128 dcr_u128;

#define DCR_RNG_BUF 4096

/* Buffered CSPRNG output. Zero-initialise ({0}) or call dcr_rng_init. */
typedef struct {
    uint8_t buf[DCR_RNG_BUF];
    size_t pos, len;
    uint64_t bits; /* single bits for Bernoulli(1/2) */
    unsigned nbits;
} dcr_rng;

void dcr_rng_init(dcr_rng *r);
/* Wipes the buffered bytes. */
void dcr_rng_free(dcr_rng *r);

/* Uniform integer in [0, n), n >= 1, by rejection of masked draws. */
dcr_status dcr_rng_uniform(dcr_rng *r, dcr_u128 n, dcr_u128 *out, dcr_error *err);

/* Bernoulli(num/den), 0 <= num <= den, den >= 1. */
dcr_status dcr_sample_bernoulli(dcr_rng *r, dcr_u128 num, dcr_u128 den, bool *out, dcr_error *err);

/* Bernoulli(exp(-num/den)), num >= 0, den >= 1 (CKS Algorithm 1). */
dcr_status dcr_sample_bernoulli_exp(dcr_rng *r, dcr_u128 num, dcr_u128 den, bool *out,
                                    dcr_error *err);

/* Discrete Laplace with scale t = num/den (CKS Algorithm 2):
 * P[X = x] proportional to exp(-|x| / t). num, den >= 1, both < 2^62. */
dcr_status dcr_sample_dlaplace(dcr_rng *r, uint64_t num, uint64_t den, int64_t *out,
                               dcr_error *err);

/* Discrete Gaussian with variance parameter sigma^2 = num/den (CKS
 * Algorithm 3): P[X = x] proportional to exp(-x^2 / (2 sigma^2)).
 * num, den >= 1, num < 2^62, den <= 2^32. */
dcr_status dcr_sample_dgauss(dcr_rng *r, uint64_t num, uint64_t den, int64_t *out, dcr_error *err);

/* A rational num/den >= x with den a power of two, as fine as the limits
 * allow (den <= 2^32, num < 2^62 and, for a Gaussian's sigma^2, the
 * intermediate products of the sampler in 126 bits). x is first raised by a
 * relative 2^-40 so that rounding error in the floating-point computation
 * of x can only make the noise larger. DCR_EINPUT when x is not finite,
 * <= 0, or too large to represent (above 2^60). */
dcr_status dcr_noise_rational_up(double x, bool gauss_sigma2, uint64_t *num, uint64_t *den,
                                 dcr_error *err);

#endif

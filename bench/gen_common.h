/*
 * gen_common.h: what the benchmark's data generators share: a seeded
 * splitmix64 PRNG and a buffered writer of decimal fields to stdout. Each
 * generator is one .c file that includes this, so it still builds with a
 * single `cc` command.
 */
#ifndef DCR_BENCH_GEN_COMMON_H
#define DCR_BENCH_GEN_COMMON_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state;

static uint64_t next_u64(void)
{
    uint64_t z = (rng_state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* Uniform in [0, n) (multiply-shift; the tiny bias is irrelevant here). */
static uint32_t below(uint32_t n)
{
    return (uint32_t)(((next_u64() >> 32) * (uint64_t)n) >> 32);
}

#define OUT_CAP (1u << 20)
static char out_buf[OUT_CAP];
static size_t out_len;

static void flush_out(void)
{
    size_t off = 0;
    while (off < out_len) {
        size_t n = fwrite(out_buf + off, 1, out_len - off, stdout);
        if (n == 0) {
            perror("write");
            exit(1);
        }
        off += n;
    }
    out_len = 0;
}

static char *put_str(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

/* Writes v as exactly `width` decimal digits (zero padded). */
static char *put_fixed(char *p, uint32_t v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + width;
}

/* Writes v in decimal without padding. */
static char *put_uint(char *p, uint32_t v)
{
    char tmp[10];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0)
        *p++ = tmp[--n];
    return p;
}

/* Reads "ROWS [SEED]" from the command line and seeds the PRNG; prints
 * usage and returns false on anything else. */
static bool parse_args(int argc, char **argv, const char *name, uint64_t default_seed,
                       unsigned long long *rows)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s ROWS [SEED] > out.csv\n", name);
        return false;
    }
    char *end;
    errno = 0;
    *rows = strtoull(argv[1], &end, 10);
    if (errno != 0 || *end != '\0' || argv[1][0] == '-' || end == argv[1]) {
        fprintf(stderr, "%s: bad ROWS '%s'\n", name, argv[1]);
        return false;
    }
    uint64_t seed = default_seed;
    if (argc == 3) {
        errno = 0;
        seed = strtoull(argv[2], &end, 10);
        if (errno != 0 || *end != '\0' || end == argv[2]) {
            fprintf(stderr, "%s: bad SEED '%s'\n", name, argv[2]);
            return false;
        }
    }
    rng_state = seed;
    return true;
}

#endif

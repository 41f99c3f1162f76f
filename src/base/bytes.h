/*
 * bytes.h: fixed-width integer encoding and hex, the byte-level helpers the
 * file formats share, and a 64-bit mixer for hash tables and sketches. Multi-byte integers in dcr
 * formats are little-endian unless a format says otherwise (HPKE's I2OSP is big-endian and lives in
 * crypto/hpke.c).
 */
#ifndef DCR_BASE_BYTES_H
#define DCR_BASE_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Copies len bytes (at most 32) from s to d with two overlapping moves of
 * a fixed size (16, 8 or 4 bytes), or byte by byte below 4: a few
 * instructions where a memcpy of variable length is a call. For the short
 * keys (e-mails) that hash tables copy into their records on every lookup. */
static inline void dcr_copy_small(uint8_t *d, const char *s, size_t len)
{
    if (len >= 16) {
        memcpy(d, s, 16);
        memcpy(d + len - 16, s + len - 16, 16);
    } else if (len >= 8) {
        memcpy(d, s, 8);
        memcpy(d + len - 8, s + len - 8, 8);
    } else if (len >= 4) {
        memcpy(d, s, 4);
        memcpy(d + len - 4, s + len - 4, 4);
    } else {
        for (size_t i = 0; i < len; i++)
            d[i] = (uint8_t)s[i];
    }
}

/* Copies len bytes of any length: dcr_copy_small up to 32, memcpy above
 * (for TEXT values, mostly short, appended row by row). */
static inline void dcr_copy_bytes(char *d, const char *s, size_t len)
{
    if (len > 32)
        memcpy(d, s, len);
    else
        dcr_copy_small((uint8_t *)d, s, len);
}

/* splitmix64's finaliser: a bijective mix of 64 bits. (The IBLT sketches
 * stored in the state depend on it: never change it.) */
static inline uint64_t dcr_mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

static inline void dcr_put_u16le(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void dcr_put_u32le(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void dcr_put_u64le(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint16_t dcr_get_u16le(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t dcr_get_u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline uint64_t dcr_get_u64le(const uint8_t *p)
{
    return (uint64_t)dcr_get_u32le(p) | ((uint64_t)dcr_get_u32le(p + 4) << 32);
}

/* Writes 2*len lowercase hex digits and a NUL into out (size >= 2*len+1). */
void dcr_hex_encode(char *out, const uint8_t *in, size_t len);

/* Decodes exactly out_len bytes from exactly 2*out_len hex digits (either
 * case). Returns false on a wrong length or a non-hex digit. */
bool dcr_hex_decode(uint8_t *out, size_t out_len, const char *hex, size_t hex_len);

#endif

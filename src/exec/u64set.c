/*
 * u64set.c: a set of 64-bit keys, for the (group, value) pairs of
 * COUNT(DISTINCT x) and friends (aggregate.c).
 *
 * Why not a dcr_keytab: a pair is two small integers (the group's number
 * and the value's number in its intern table), so it fits one word. A slot
 * is then the key itself: one cache line read answers a lookup, there is no
 * per-entry column to compare or copy, and a pair costs 8-16 bytes instead
 * of a keytab entry's ~60 (its copied TEXT, hash, offsets, slot).
 *
 * Open addressing, linear probing, power-of-two size, load <= 1/2. Slot 0
 * means empty, so the key 0 is kept aside in has_zero. Callers hash the
 * keys (dcr_u64set_hash) so that rows can be partitioned on the same hash.
 */
#include <stdlib.h>

#include "base/bytes.h"
#include "base/memory.h"
#include "exec/internal.h"

void dcr_u64set_init(dcr_u64set *s)
{
    *s = (dcr_u64set){0};
}

void dcr_u64set_free(dcr_u64set *s)
{
    free(s->slots);
    *s = (dcr_u64set){0};
}

size_t dcr_u64set_bytes(const dcr_u64set *s)
{
    return s->nslots * sizeof *s->slots;
}

uint64_t dcr_u64set_hash(uint64_t key)
{
    return dcr_mix64(key);
}

/* Inserts a key known to be absent and nonzero (rehashing). */
static void place(uint64_t *slots, size_t mask, uint64_t key)
{
    size_t i = dcr_u64set_hash(key) & mask;
    while (slots[i])
        i = (i + 1) & mask;
    slots[i] = key;
}

static dcr_status resize(dcr_u64set *s, size_t nslots, dcr_error *err)
{
    uint64_t *slots = dcr_zalloc_huge(nslots, sizeof *slots);
    if (!slots)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    for (size_t i = 0; i < s->nslots; i++)
        if (s->slots[i])
            place(slots, nslots - 1, s->slots[i]);
    free(s->slots);
    s->slots = slots;
    s->nslots = nslots;
    return DCR_OK;
}

/* Room for `more` further keys at load <= 1/2, so a batch never resizes
 * midway and the look-ahead below stays valid. */
static dcr_status reserve(dcr_u64set *s, size_t more, dcr_error *err)
{
    size_t need = s->n + more, ns = s->nslots ? s->nslots : 1024;
    if (need > SIZE_MAX / 4)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    while (ns < 2 * need)
        ns *= 2;
    return ns == s->nslots ? DCR_OK : resize(s, ns, err);
}

dcr_status dcr_u64set_insert_rows(dcr_u64set *s, const uint64_t *keys, const uint64_t *hashes,
                                  const uint32_t *rows, size_t m, uint8_t *fresh, dcr_error *err)
{
    dcr_status st = reserve(s, m, err);
    if (st != DCR_OK)
        return st;
    size_t mask = s->nslots - 1;
    enum { AHEAD = 16 };
    for (size_t j = 0; j < m; j++) {
        if (j + AHEAD < m)
            __builtin_prefetch(&s->slots[hashes[rows[j + AHEAD]] & mask]);
        size_t r = rows[j];
        uint64_t key = keys[r];
        if (key == 0) {
            fresh[r] = !s->has_zero;
            s->has_zero = true;
            continue;
        }
        size_t i = hashes[r] & mask;
        while (s->slots[i] && s->slots[i] != key)
            i = (i + 1) & mask;
        fresh[r] = s->slots[i] == 0;
        if (fresh[r]) {
            s->slots[i] = key;
            s->n++;
        }
    }
    return DCR_OK;
}

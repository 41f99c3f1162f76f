/*
 * iblt.h: Invertible Bloom Lookup Tables (Goodrich and Mitzenmacher 2011)
 * over 64-bit keys, for the differencing defence (privacy/differencing.c).
 *
 * A table of m cells holds a set of keys in O(m) space however large the
 * set. Subtracting the tables of two sets S and T gives a table of their
 * symmetric difference, which decodes ("peels") exactly when the difference
 * is small compared with m: with 3 cells per key (one in each third of the
 * table) peeling succeeds with overwhelming probability while the
 * difference holds fewer than about m / 1.3 keys, and fails (reported, never
 * guessed) beyond. dcr_iblt_cells_for(d) sizes a table for differences of
 * up to d keys at half that load.
 *
 * Keys must be uniformly distributed (the caller passes keyed PRF outputs):
 * cell positions and the per-cell checksum are derived from the key by
 * public mixing functions, which is only sound for random-looking keys.
 *
 * Ownership: dcr_iblt_init allocates the cells; dcr_iblt_free releases them.
 */
#ifndef DCR_PRIVACY_IBLT_H
#define DCR_PRIVACY_IBLT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

typedef struct {
    int32_t count;   /* inserted minus erased */
    uint32_t check;  /* XOR of the keys' checksums */
    uint64_t keysum; /* XOR of the keys */
} dcr_iblt_cell;

typedef struct {
    size_t ncells; /* a multiple of 3 */
    dcr_iblt_cell *cells;
} dcr_iblt;

#define DCR_IBLT_MAX_CELLS (3u << 16)

/* Cells for decoding differences of up to d keys (d >= 1) at load <= 1/2. */
size_t dcr_iblt_cells_for(uint64_t d);

/* An empty table of ncells cells (rounded up to a multiple of 3). */
dcr_status dcr_iblt_init(dcr_iblt *t, size_t ncells, dcr_error *err);
void dcr_iblt_free(dcr_iblt *t);

void dcr_iblt_insert(dcr_iblt *t, uint64_t key);
void dcr_iblt_erase(dcr_iblt *t, uint64_t key);

/* a -= b, cell by cell (same ncells): a then holds a's keys not in b with
 * count +1 and b's keys not in a with count -1. */
void dcr_iblt_subtract(dcr_iblt *a, const dcr_iblt *b);

/* Peels t (which is consumed: emptied on success). true when every key was
 * recovered: *plus keys with count +1, *minus with -1 (the two sides of a
 * difference). false when the table cannot be fully peeled, i.e. the
 * difference is (very likely) larger than the table was sized for; then
 * *plus and *minus are lower bounds only. */
bool dcr_iblt_decode(dcr_iblt *t, uint64_t *plus, uint64_t *minus);

/* Serialisation: 16 bytes per cell, little-endian. */
size_t dcr_iblt_size(const dcr_iblt *t);
void dcr_iblt_write(const dcr_iblt *t, uint8_t *out);
/* Reads ncells cells from in (len must be ncells * 16). */
dcr_status dcr_iblt_read(dcr_iblt *t, const uint8_t *in, size_t len, dcr_error *err);

#endif

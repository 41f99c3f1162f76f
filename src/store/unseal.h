/*
 * unseal.h: sealed dataset in, CSV out.
 *
 * Every chunk is authenticated before the first byte of plaintext is
 * written: a first pass decrypts and discards, a second decodes and writes.
 * So a modified, truncated or spliced file produces an error and no output
 * (if the file changes between the passes, the second pass still refuses the
 * changed chunk, but may already have written the authentic ones before it).
 */
#ifndef DCR_STORE_UNSEAL_H
#define DCR_STORE_UNSEAL_H

#include <stdint.h>

#include "base/error.h"
#include "store/sealed_reader.h"

typedef struct {
    uint64_t rows;
    uint64_t chunks;
    uint64_t bytes_out;
} dcr_unseal_stats;

/* Authenticates every chunk of r with key; fills *chunks. */
dcr_status dcr_unseal_verify(dcr_sealed_reader *r, const uint8_t key[DCR_DATA_KEY_LEN],
                             uint64_t *chunks, dcr_error *err);

/* Verifies, then writes the data as CSV (header row first) to out_fd. NULL
 * is an empty field, the empty string is "", values are in the canonical text
 * forms of base/value.h. */
dcr_status dcr_unseal_csv(dcr_sealed_reader *r, const uint8_t key[DCR_DATA_KEY_LEN], int out_fd,
                          dcr_unseal_stats *stats, dcr_error *err);

#endif

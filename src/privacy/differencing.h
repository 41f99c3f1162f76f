/*
 * differencing.h: the differencing and tracker defence of threshold mode
 * (docs/privacy.md, "Differencing defence").
 *
 * Two released rows whose sets of privacy units differ by a few units give
 * those units away: COUNT over a group with and without one person, or a
 * tracker that pads a small set with a large one and subtracts the large
 * one's count later. For every released output row the privacy layer keeps,
 * per dataset the row rests on, a sketch of its unit set: the exact
 * distinct count plus an IBLT (privacy/iblt.h) of the units' keyed 64-bit
 * hashes, sized so that differences of up to 2k units decode exactly. A new
 * row whose unit set differs from ANY row released earlier to the same
 * analyst (kept in the state's history, this query's earlier rows
 * included) by at least 1 and fewer than k units of some dataset is
 * suppressed. Identical sets (difference 0) are released.
 *
 * One history per contract, shared by all its analysts (who may collude)
 * and kept across dataset versions and restarts: the state stores it
 * under the contract's scope (dcr_diff_scope), never per analyst.
 *
 * Keys: unit hashes come from the executor's UNIT_SKETCH aggregate and are
 * mapped through AES-256 (a keyed PRF, key derived from the caller's
 * 32-byte secret) before they enter a sketch, so stored sketches reveal
 * nothing about who is in a group without that secret.
 *
 * Storage: through two callbacks over a (scope, fingerprint) -> blob
 * store (state/state.h: dcr_state_history_each / _put). A row's blob is
 * fingerprinted by its SHA-256, so re-releasing an identical set stores
 * nothing new. Failing to store is a failure of the query (fail closed).
 */
#ifndef DCR_PRIVACY_DIFFERENCING_H
#define DCR_PRIVACY_DIFFERENCING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "contract/contract.h"

#define DCR_DIFF_KEY_LEN 32

typedef dcr_status (*dcr_history_cb)(void *cbctx, const uint8_t *fp, size_t fp_len,
                                     const uint8_t *blob, size_t blob_len, dcr_error *err);

/* The released-row history of the caller's state. scope names one history
 * (dcr_diff_scope: one per contract). */
typedef struct {
    /* Calls cb for each blob stored under scope; a non-OK return stops. */
    dcr_status (*each)(void *ctx, const char *scope, dcr_history_cb cb, void *cbctx,
                       dcr_error *err);
    /* Stores blob under (scope, fp), replacing an equal fp. */
    dcr_status (*put)(void *ctx, const char *scope, const uint8_t *fp, size_t fp_len,
                      const uint8_t *blob, size_t blob_len, dcr_error *err);
    void *ctx;
    uint8_t key[DCR_DIFF_KEY_LEN]; /* the state's secret for keyed unit hashes */
} dcr_diff_history;

typedef struct dcr_diff dcr_diff;

#define DCR_DIFF_SCOPE_MAX (DCR_CONTRACT_NAME_MAX + 16)

/* The history scope of contract c: "contract:NAME", the same for every
 * analyst, version and dataset upload of the contract. */
void dcr_diff_scope(const dcr_contract *c, char out[DCR_DIFF_SCOPE_MAX + 1]);

/* Starts the check of one query under c, whoever asks: loads the
 * contract's history. *out is the caller's (dcr_diff_free). A caller that
 * runs queries concurrently must serialise them contract-wide from begin
 * to commit, or two halves of a pair could each pass before the other is
 * stored. */
dcr_status dcr_diff_begin(const dcr_contract *c, const dcr_diff_history *h, dcr_diff **out,
                          dcr_error *err);

/* One slot of an output row: the units of one dataset it rests on, as the
 * UNIT_SKETCH value (sorted 64-bit hashes, 8 bytes each). */
typedef struct {
    size_t dataset; /* contract dataset index */
    const uint8_t *hashes;
    size_t len;
} dcr_diff_slot;

/* Checks one row about to be released. *suppress: its unit set differs
 * from an earlier released row's by 1..k-1 units of some dataset (k of that
 * dataset); *diff_units then says by how many. Otherwise the row counts
 * as released from now on (later rows are checked against it too). */
dcr_status dcr_diff_check_row(dcr_diff *d, const dcr_diff_slot *slots, size_t nslots,
                              bool *suppress, uint64_t *diff_units, dcr_error *err);

/* Stores the sketches of the rows released since begin. */
dcr_status dcr_diff_commit(dcr_diff *d, dcr_error *err);
void dcr_diff_free(dcr_diff *d);

/* Counters for reports and tests. */
typedef struct {
    size_t history;    /* sketches loaded from the state */
    size_t compared;   /* pairs that needed an IBLT decode */
    size_t skipped;    /* pairs ruled out by their counts alone */
    size_t undecoded;  /* decodes that failed (difference too large) */
    size_t suppressed; /* rows suppressed */
} dcr_diff_stats;
void dcr_diff_get_stats(const dcr_diff *d, dcr_diff_stats *out);

#endif

/*
 * diff_history.h: the differencing defence's released-row history, for
 * `dcr serve` and `dcr sql --contract --as --state DIR` alike
 * (docs/privacy.md, "Differencing defence"): the state's (scope,
 * fingerprint) -> blob store plus the secret that keys the unit hashes,
 * kept in DIR/differencing.key (or sealed to the TPM). One history for the
 * whole state (it reads every entry, whatever its scope): all analysts of
 * the contract, every dataset version (uploads never touch it) and every
 * instance that opens DIR.
 *
 * The privacy layer reads the history and then adds to it; a caller that
 * runs queries concurrently must serialise them contract-wide (the room,
 * src/room/, holds one turn per contract: a mutex and DIR/query.lock), or two
 * halves of a differencing pair could each pass the check before the other
 * is stored.
 */
#ifndef DCR_STATE_DIFF_HISTORY_H
#define DCR_STATE_DIFF_HISTORY_H

#include "privacy/differencing.h"
#include "state/state.h"

/* Points h at st's history and loads the key, creating it (32 random
 * bytes, never replaced) on first use. With a TPM (the state's tcti) the
 * key is sealed to it in DIR/differencing.key.tpm, so the host cannot read
 * it; a plaintext DIR/differencing.key left from a run without the TPM is
 * sealed and then deleted. Without a TPM it is DIR/differencing.key, mode
 * 0600 (the host can read it: docs/threat-model.md). The caller wipes
 * h->key when done. */
dcr_status dcr_state_diff_history(dcr_state *st, const char *dir, dcr_diff_history *h,
                                  dcr_error *err);

#endif

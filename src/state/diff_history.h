/*
 * diff_history.h: the differencing defence's released-row history, for
 * `dcr serve` and `dcr sql --contract --as --state DIR` alike
 * (docs/privacy.md, "Differencing defence"): the state's (analyst,
 * fingerprint) -> blob store plus the secret that keys the unit hashes,
 * kept in DIR/differencing.key.
 *
 * The privacy layer reads the history and then adds to it; a caller that
 * runs queries of one analyst concurrently must serialise them (the server
 * holds a per-analyst lock), or two halves of a differencing pair could
 * each pass the check before the other is stored.
 */
#ifndef DCR_STATE_DIFF_HISTORY_H
#define DCR_STATE_DIFF_HISTORY_H

#include "privacy/differencing.h"
#include "state/state.h"

/* Points h at st's history and loads the key from DIR/differencing.key,
 * creating it (32 random bytes, mode 0600, never replaced) on first use.
 * The caller wipes h->key when done. */
dcr_status dcr_state_diff_history(dcr_state *st, const char *dir, dcr_diff_history *h,
                                  dcr_error *err);

#endif

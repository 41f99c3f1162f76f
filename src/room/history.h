/*
 * history.h: the differencing defence's released-row history on top of the
 * state (docs/privacy.md, "Differencing defence"): the state's (scope,
 * fingerprint) -> blob store plus the secret that keys the unit hashes,
 * as the dcr_diff_history the privacy layer takes. It lives in the room,
 * the one piece that knows both the privacy layer and the state, so that
 * the state stays plain storage.
 *
 * The privacy layer reads the history and then adds to it; the room runs
 * one guarded query of a contract at a time, so two halves of a
 * differencing pair cannot each pass before the other is stored.
 */
#ifndef DCR_ROOM_HISTORY_H
#define DCR_ROOM_HISTORY_H

#include "privacy/differencing.h"
#include "state/state.h"

_Static_assert(DCR_DIFF_KEY_LEN == DCR_STATE_KEY_LEN, "the state keeps the differencing key");

/* Points h at st's history (every scope: entries kept under an older
 * scope still count) and loads the key (dcr_state_differencing_key). The
 * caller wipes h->key when done. */
dcr_status dcr_room_diff_history(dcr_state *st, const char *dir, dcr_diff_history *h,
                                 dcr_error *err) __attribute__((warn_unused_result));

#endif

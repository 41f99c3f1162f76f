/*
 * sql_history.h: the differencing defence's released-row history for
 * `dcr sql --contract --as --state DIR` (docs/privacy.md, "Differencing
 * defence"): the state's (analyst, fingerprint) -> blob store plus the
 * secret that keys the unit hashes, kept in DIR/differencing.key.
 */
#ifndef DCR_CLI_SQL_HISTORY_H
#define DCR_CLI_SQL_HISTORY_H

#include "privacy/differencing.h"
#include "state/state.h"

/* Points h at st's history and loads the key from DIR/differencing.key,
 * creating it (32 random bytes, mode 0600, never replaced) on first use.
 * The caller wipes h->key when done. */
dcr_status cli_sql_history(dcr_state *st, const char *dir, dcr_diff_history *h, dcr_error *err);

#endif

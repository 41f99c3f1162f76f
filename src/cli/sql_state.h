/*
 * sql_state.h: `dcr sql --contract --as --state DIR`: the local run of a
 * guarded query against the clean room's durable state, so budgets and the
 * audit log hold across runs and across concurrent processes exactly as in
 * the server. Each run is its own short-lived "local" instance with a fresh
 * audit key (an instance_start record, no attestation evidence).
 */
#ifndef DCR_CLI_SQL_STATE_H
#define DCR_CLI_SQL_STATE_H

#include "state/diff_history.h"
#include "privacy/privacy.h"
#include "state/state.h"

typedef struct {
    dcr_state *st;
    dcr_audit_entry entry;
    dcr_state_charge_ctx ctx;
    bool charged;
    dcr_diff_history history; /* the differencing defence's (state/diff_history.c) */
    int lock_fd;              /* DIR/query.lock, held (flock) until close; -1 = none */
} cli_sql_state;

/* Opens DIR, starts the local instance and points hooks at the ledger
 * (limits from the contract's dp block; rows read from *rep at charge
 * time). ss must stay in place while hooks are used. */
dcr_status cli_sql_state_open(cli_sql_state *ss, const char *dir, const dcr_contract *c,
                              size_t analyst, const char *sql, const dcr_privacy_report *rep,
                              dcr_privacy_hooks *hooks, dcr_error *err);
/* After the query: audits a refusal (query_status != DCR_OK, nothing
 * charged) with its rule or message, and prints the analyst's budget. */
dcr_status cli_sql_state_finish(cli_sql_state *ss, dcr_status query_status,
                                const dcr_privacy_report *rep, const dcr_error *qerr,
                                dcr_error *err);
void cli_sql_state_close(cli_sql_state *ss);

#endif

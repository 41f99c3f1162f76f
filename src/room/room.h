/*
 * room.h: the clean room's query desk: one guarded query against the
 * durable state, for `dcr serve` and `dcr sql --contract --as --state`
 * alike. The server and the CLI are thin callers of this piece; it owns
 *
 *   serialisation  guarded queries of one contract run one at a time: an
 *                  in-process mutex plus a flock on DIR/query.lock (other
 *                  processes on the same state directory), because the
 *                  differencing defence reads the released-row history and
 *                  then adds to it;
 *   charge + audit the privacy layer's charge hook: budget and the signed
 *                  "query" record in one transaction (state/), the record
 *                  naming the receivers and the result id;
 *   refusals       a refused or failed query gets its own "refused" record;
 *   history        the differencing defence's adapter (state/diff_history.h);
 *   delivery       rows go only to the contract's receivers for the analyst
 *                  (rules.receivers). An asker that is not a receiver gets
 *                  the report without the rows. Whenever a receiver other
 *                  than the asker exists, the answer is stored sealed to
 *                  each receiver (results.c: HPKE to the receiver's X25519
 *                  key from the contract) for it to fetch by result id; a
 *                  fetch is audited apart ("result_fetch").
 *
 * Layering: room sits above privacy, state and exec, below server and cli.
 * See docs/architecture.md ("The room") and docs/privacy.md ("Receivers").
 */
#ifndef DCR_ROOM_ROOM_H
#define DCR_ROOM_ROOM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/buffer.h"
#include "base/error.h"
#include "contract/contract.h"
#include "crypto/party_key.h"
#include "exec/exec.h"
#include "privacy/privacy.h"
#include "state/state.h"

#define DCR_ROOM_WUR __attribute__((warn_unused_result))

/* A result id: 'r' and 32 lowercase hex digits (16 random bytes), so it is
 * also a valid API path name. */
#define DCR_ROOM_RESULT_ID_LEN 33

typedef struct dcr_room dcr_room;

typedef struct {
    const dcr_contract *contract;          /* outlives the room */
    const struct dcr_templates *templates; /* loaded once; NULL: per query */
    const char *dir;                       /* the state directory */
} dcr_room_config;

/* The server's room: st is open and its instance started (the caller's;
 * it must outlive the room). Loads the differencing key. */
dcr_status dcr_room_open(const dcr_room_config *cfg, dcr_state *st, dcr_room **out,
                         dcr_error *err) DCR_ROOM_WUR;
/* A local room (the CLI): opens cfg->dir itself and starts a short-lived
 * "local" instance with a fresh audit key (no evidence); closed with the
 * room. */
dcr_status dcr_room_open_local(const dcr_room_config *cfg, dcr_room **out,
                               dcr_error *err) DCR_ROOM_WUR;
void dcr_room_close(dcr_room *r);
/* The state behind the room (for budget and audit reads). */
dcr_state *dcr_room_state(dcr_room *r);

/* Called right before the charge; a non-OK return refuses the query with
 * that error. The caller that refuses (the server, at its time limit) has
 * already audited the refusal: the room does not audit it again. */
typedef dcr_status (*dcr_room_gate)(void *ctx, dcr_error *err);

typedef struct {
    dcr_exec_opts exec;
    dcr_room_gate gate; /* may be NULL */
    void *gate_ctx;
} dcr_room_query_opts;

typedef struct {
    dcr_privacy_report report; /* filled on every path */
    bool delivered;            /* the asker is a receiver: rows holds the result */
    dcr_result rows;           /* only when delivered; free with dcr_room_answer_free */
    bool stored;               /* sealed for the receivers under result_id */
    char result_id[DCR_ROOM_RESULT_ID_LEN + 1];
} dcr_room_answer;

/* Runs sql for party `analyst` through the guarded entry point, serialised
 * with every other guarded query of the contract, charged and audited.
 * sources[i] serves contract dataset i. On DCR_OK *ans says what was
 * delivered and stored; on failure the refusal is audited (unless a gate
 * refused) and ans->report.rule names the refusing rule. */
dcr_status dcr_room_query(dcr_room *r, size_t analyst, const char *sql,
                          const dcr_exec_source *sources, const dcr_room_query_opts *opts,
                          dcr_room_answer *ans, dcr_error *err) DCR_ROOM_WUR;
void dcr_room_answer_free(dcr_room_answer *a);

/* Appends a "refused" query record for a refusal outside the room (limits,
 * storage): rule may be NULL. Failures are returned, not logged. */
dcr_status dcr_room_audit_refusal(dcr_room *r, size_t party, const char *sql, const char *rule,
                                  const char *why, dcr_error *err) DCR_ROOM_WUR;

/* Whether party is among the report's receivers. */
bool dcr_room_is_receiver(const dcr_privacy_report *rep, size_t party);

/* The answer as JSON: {"columns", "rows" (only when delivered), "privacy",
 * "result": {"delivered", "receivers", "id" (when stored), "note"}}. The
 * same object (with rows) is what a receiver fetches. NULL when out of
 * memory. */
json_t *dcr_room_answer_json(const dcr_contract *c, size_t analyst, const dcr_room_answer *a);

/* A stored result as its receiver gets it: the HPKE encapsulation and
 * ciphertext of the answer JSON, sealed to the receiver's key. */
typedef struct {
    char id[DCR_ROOM_RESULT_ID_LEN + 1];
    char analyst[DCR_NAME_MAX + 1];
    char receiver[DCR_NAME_MAX + 1];
    dcr_buf sealed; /* enc (32) || ciphertext */
} dcr_room_sealed;
void dcr_room_sealed_free(dcr_room_sealed *s);

/* The sealed result `id` for party: DCR_EINPUT "no result ..." when there
 * is none, DCR_ECRYPTO "... is not addressed to ..." when party is not one
 * of its receivers. Every call appends a "result_fetch" record (accepted or
 * refused). A receiver may fetch the same result any number of times. */
dcr_status dcr_room_fetch(dcr_room *r, size_t party, const char *id, dcr_room_sealed *out,
                          dcr_error *err) DCR_ROOM_WUR;

/* The receiver's side: opens s, which must be result `id` for party
 * `receiver` of contract c, with that party's key (the AAD binds the
 * contract hash, the id and the receiver's name, so a copy meant for
 * another result, party or contract does not open); *answer (caller
 * decrefs) is the answer JSON with its rows. */
dcr_status dcr_room_sealed_open(const dcr_contract *c, size_t receiver, const char *id,
                                const dcr_room_sealed *s, const dcr_party_key *key, json_t **answer,
                                dcr_error *err) DCR_ROOM_WUR;

/* The sealed result's wire form, {"id", "analyst", "receiver", "sealed":
 * hex}, both ways (the server's GET /v1/results/ID; the client parses it). */
json_t *dcr_room_sealed_json(const dcr_room_sealed *s);
dcr_status dcr_room_sealed_parse(const json_t *o, dcr_room_sealed *out,
                                 dcr_error *err) DCR_ROOM_WUR;

#endif

/*
 * state.h: the clean room's durable state, one directory per deployment.
 *
 *   DIR/state.db    SQLite (WAL, synchronous=FULL, foreign keys): catalog,
 *                   grants, budget ledger, audit hash chain, replay nonces,
 *                   released-row history, metadata (schema version, anchor)
 *   DIR/datasets/   ciphertext of uploaded datasets, one file per upload
 *
 * A dcr_state handle is safe to share between threads (a mutex serialises
 * its use) and any number of processes may open the same DIR: writers take
 * SQLite's write lock (BEGIN IMMEDIATE) and wait up to the busy timeout.
 *
 * Budget ledger and audit log live in one transaction: a charge is checked,
 * written and described by an appended, signed audit record atomically, and
 * reported successful only once durable (and, with a TPM, anchored). See
 * docs/architecture.md ("State") and docs/threat-model.md ("State rollback").
 *
 * Exact budget arithmetic: epsilon is stored in integer nano-units (1e-9)
 * and delta in atto-units (1e-18), int64 each. A double charge is rounded UP
 * to the next unit (values within 1e-6 of a unit are taken as that unit, so
 * 0.1 costs exactly 100000000 nano-epsilon); a double limit is rounded DOWN.
 * The analyst can therefore never spend more than the contract's budget.
 */
#ifndef DCR_STATE_STATE_H
#define DCR_STATE_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buffer.h"
#include "base/error.h"

typedef struct dcr_state dcr_state;

#define DCR_STATE_SCHEMA_VERSION 1
/* Default TPM NV counter index of the rollback anchor (owner range). */
#define DCR_STATE_NV_INDEX_DEFAULT 0x01000dc1u
/* Replay window: a request's time must be within this many seconds of now,
 * and its nonce is remembered at least this long. */
#define DCR_STATE_REPLAY_WINDOW_S 300
/* Released-row history cap per analyst (bytes of fingerprints + blobs). */
#define DCR_STATE_HISTORY_CAP_DEFAULT (64u * 1024 * 1024)

typedef struct {
    /* Rollback anchor: a TCTI string (e.g. "device:/dev/tpmrm0",
     * "swtpm:host=127.0.0.1,port=2321"); NULL = no TPM anchor. */
    const char *tcti;
    uint32_t nv_index;      /* 0 = DCR_STATE_NV_INDEX_DEFAULT */
    int busy_timeout_ms;    /* 0 = 30000 */
    bool allow_unanchored;  /* open a DB that was TPM-anchored without a TPM */
    bool skip_dataset_hash; /* on open check only size, not SHA-256, of datasets */
    uint64_t history_cap;   /* 0 = DCR_STATE_HISTORY_CAP_DEFAULT */
} dcr_state_options;

/* Opens (creating if needed) DIR/state.db and DIR/datasets/. Refuses a DIR
 * that is not a directory or is group/world-writable, a database that fails
 * PRAGMA quick_check or has a foreign schema, a ledger that disagrees with
 * its signed audit records, a dataset file whose SHA-256 differs from the
 * catalog, and (with a TPM) a rolled-back database. Cleans pending uploads
 * left by crashed writers. opt may be NULL. Close with dcr_state_close. */
dcr_status dcr_state_open(const char *dir, const dcr_state_options *opt, dcr_state **out,
                          dcr_error *err);
void dcr_state_close(dcr_state *st);

/* ---- instances and the audit chain ------------------------------------- */

/* The keys of the running instance; the audit seed is secret and copied
 * into the handle (wiped on close). */
typedef struct {
    uint8_t audit_seed[32];      /* Ed25519 seed signing audit records */
    uint8_t audit_pub[32];       /* derived by dcr_state_instance_start */
    uint8_t hpke_pub[32];        /* X25519 recipient of data-key grants */
    uint8_t tls_spki_sha256[32]; /* SHA-256 of the TLS SubjectPublicKeyInfo DER */
    uint8_t contract_hash[32];
    const char *tee;         /* evidence type, e.g. "sim", "azure-vtpm" */
    const uint8_t *evidence; /* attestation evidence bytes (stored, hashed) */
    size_t evidence_len;
} dcr_state_instance;

/* Makes inst the current instance of st: takes the directory for this
 * handle (DIR/instance.lock, until dcr_state_close; DCR_EINPUT naming the
 * directory when another live instance holds it), appends an
 * "instance_start" record (public keys, contract hash, SHA-256 of the
 * evidence) signed by the audit key, and stores the evidence. Every later
 * append on st is signed by this key. Needed before any audit append or
 * charge. */
dcr_status dcr_state_instance_start(dcr_state *st, const dcr_state_instance *inst, dcr_error *err);

/* Evidence stored for an instance, by audit key id (16 hex digits). */
dcr_status dcr_state_instance_evidence(dcr_state *st, const char *key_id, dcr_buf *out,
                                       dcr_error *err);

/* An audit entry as callers describe it; strings may be NULL (= ""). */
typedef struct {
    const char *type;     /* "query" (default when NULL), "upload", "grant", ... */
    const char *party;    /* who asked */
    const char *sql;      /* the query text (or another subject) */
    const char *decision; /* "accepted" | "refused" */
    const char *reason;   /* the refusing rule, or a short note */
    int64_t rows_released;
    /* No count of suppressed groups: every party reads the audit log, and
     * an exact count of groups under k is a function of the people in
     * them (docs/privacy.md, "Nothing about suppressed rows"). */
} dcr_audit_entry;

/* Appends a signed record (no budget change). *seq (may be NULL) gets its
 * sequence number. */
dcr_status dcr_state_audit_append(dcr_state *st, const dcr_audit_entry *e, uint64_t *seq,
                                  dcr_error *err);

/* One stored record: record is the canonical JSON the hash covers. */
typedef struct {
    uint64_t seq;
    char *record;
    size_t record_len;
    uint8_t prev[32];
    uint8_t hash[32];
    uint8_t sig[64];
} dcr_audit_record;

typedef struct {
    dcr_audit_record *v;
    size_t n;
} dcr_audit_chain;
void dcr_audit_chain_free(dcr_audit_chain *c);

/* Records with seq >= from_seq (all: 0), in order. */
dcr_status dcr_state_audit_load(dcr_state *st, uint64_t from_seq, dcr_audit_chain *out,
                                dcr_error *err);
/* The export of `GET /v1/audit`: {"version":1,"records":[{"seq":N,
 * "record":"<canonical JSON text>","prev":hex,"hash":hex,"sig":hex},...]}.
 * Appends to out (not NUL-terminated). */
dcr_status dcr_state_audit_export(dcr_state *st, uint64_t from_seq, dcr_buf *out, dcr_error *err);
dcr_status dcr_audit_export_chain(const dcr_audit_chain *c, dcr_buf *out, dcr_error *err);
/* Parses an export (strict) into out. */
dcr_status dcr_audit_parse_export(const char *json, size_t len, dcr_audit_chain *out,
                                  dcr_error *err);

/* Verifies a chain: canonical JSON, consecutive seq, links (prev = hash of
 * the previous record; the first record's prev is all zeros when its seq is
 * 0, else must equal *start_prev), record hashes, and Ed25519 signatures
 * under the key of the newest instance_start before the record (an
 * instance_start is signed by the key it introduces; a record signed by an
 * older instance's key after a newer start is refused). On
 * failure *bad_index (may be NULL) is the index in c of the first bad
 * record and err names it. start_prev may be NULL when c starts at seq 0. */
dcr_status dcr_audit_verify(const dcr_audit_chain *c, const uint8_t *start_prev, size_t *bad_index,
                            dcr_error *err);

/* An instance_start record of a chain: what a client checks against that
 * instance's attestation evidence (REPORT_DATA binds these keys and the
 * contract hash; evidence_sha256 names the evidence). */
typedef struct {
    size_t index; /* in the chain */
    uint64_t seq;
    char key_id[17];
    char tee[32];
    uint8_t audit_pub[32], hpke_pub[32], tls_spki_sha256[32], contract_hash[32];
    uint8_t evidence_sha256[32];
} dcr_audit_instance;

/* The instance_start records of c, in order (verify c first). *out is
 * malloc'd (NULL when none); the caller frees it. */
dcr_status dcr_audit_instances(const dcr_audit_chain *c, dcr_audit_instance **out, size_t *n,
                               dcr_error *err);

/* The client's rollback check: c (verified separately, from seq 0) must
 * contain the record remembered_seq with hash remembered_hash, i.e. the
 * server's chain extends what this client saw before. */
dcr_status dcr_audit_check_extends(const dcr_audit_chain *c, uint64_t remembered_seq,
                                   const uint8_t remembered_hash[32], dcr_error *err);

/* The chain head: next sequence number and hash of the last record (zeros
 * when empty). */
dcr_status dcr_state_audit_head(dcr_state *st, uint64_t *next_seq, uint8_t hash[32],
                                dcr_error *err);

/* ---- budget ledger ------------------------------------------------------ */

#define DCR_EPS_UNIT 1000000000LL            /* nano-epsilon per epsilon */
#define DCR_DELTA_UNIT 1000000000000000000LL /* atto-delta per delta */

/* Conversions used by the ledger (see the header comment). Refuse NaN,
 * negative and too large values. */
dcr_status dcr_budget_units_up(double v, int64_t unit, int64_t *out, dcr_error *err);
dcr_status dcr_budget_units_down(double v, int64_t unit, int64_t *out, dcr_error *err);

typedef struct {
    int64_t eps_spent, delta_spent; /* units */
    int64_t eps_limit, delta_limit; /* units; last limit charged against */
    int64_t last_seq;               /* audit record of the latest charge, -1 if none */
} dcr_budget;

/* Charges (eps, delta) units to analyst against the limits and appends the
 * audit record e (its epsilon/delta fields come from this charge) in ONE
 * transaction. Refuses (DCR_EINPUT, remaining budget in the message, nothing
 * written) when it would overspend. Returns only once durable. */
dcr_status dcr_state_charge_units(dcr_state *st, const char *analyst, int64_t eps, int64_t delta,
                                  int64_t eps_limit, int64_t delta_limit, const dcr_audit_entry *e,
                                  dcr_budget *after, dcr_error *err);

/* What the analyst has spent (zeros when never charged). */
dcr_status dcr_state_budget_get(dcr_state *st, const char *analyst, dcr_budget *out,
                                dcr_error *err);

/* The context for the privacy `charge` hook: set state, the analyst's limits
 * (from the contract) and the audit entry describing the query (party, sql,
 * decision). rows_released, when not NULL, is read at charge time and
 * overrides the entry's (point it at the privacy report's counter). */
typedef struct {
    dcr_state *state;
    double eps_limit, delta_limit;
    const dcr_audit_entry *entry;
    const size_t *rows_released;
    dcr_budget after; /* filled by a successful charge (after.last_seq = its record) */
} dcr_state_charge_ctx;

/* Matches dcr_privacy_hooks.charge (ctx is a dcr_state_charge_ctx *). */
dcr_status dcr_state_charge_hook(void *ctx, const char *analyst, double epsilon, double delta,
                                 dcr_error *err);

/* ---- catalog ------------------------------------------------------------ */

typedef struct {
    char *name;
    char *owner;
    uint8_t contract_hash[32];
    char *path; /* absolute path of the ciphertext file */
    uint8_t sha256[32];
    uint64_t size;
    int64_t rows;        /* -1 when unknown */
    int64_t uploaded_at; /* Unix seconds */
} dcr_dataset_info;
void dcr_dataset_info_free(dcr_dataset_info *d);

/* An upload in progress: bytes go to a temp file in DIR/datasets/; commit
 * fsyncs, renames, fsyncs the directory, and only then records the dataset
 * as committed (replacing an older upload of the same name). Until then
 * nothing is visible; a crashed upload is removed by the next open. */
typedef struct dcr_state_upload dcr_state_upload;
dcr_status dcr_state_upload_begin(dcr_state *st, const char *name, const char *owner,
                                  const uint8_t contract_hash[32], dcr_state_upload **out,
                                  dcr_error *err);
dcr_status dcr_state_upload_write(dcr_state_upload *up, const void *data, size_t len,
                                  dcr_error *err);
/* Commits and frees up (also on failure). info may be NULL. With
 * audit_party non-NULL (needs a started instance) the same transaction
 * appends an "upload" "accepted" audit record naming the party, the
 * dataset, its rows, bytes and SHA-256: a committed upload always has its
 * record, and a crash leaves neither. */
dcr_status dcr_state_upload_commit(dcr_state_upload *up, int64_t rows, const char *audit_party,
                                   dcr_dataset_info *info, dcr_error *err);
/* Discards the upload and frees up; NULL is fine. */
void dcr_state_upload_abort(dcr_state_upload *up);

/* A committed dataset, its file's SHA-256 checked against the catalog
 * (DCR_ECRYPTO when it differs). DCR_EINPUT when there is no such dataset. */
dcr_status dcr_state_dataset_get(dcr_state *st, const char *name, dcr_dataset_info *out,
                                 dcr_error *err);
/* The same, checking only the file's size: for a hot path that already
 * verified the file (open and dataset_get hash it; the sealed format's AEAD
 * authenticates every chunk as it is read anyway). */
dcr_status dcr_state_dataset_lookup(dcr_state *st, const char *name, dcr_dataset_info *out,
                                    dcr_error *err);
/* All committed datasets (no hash check), sorted by name; free each. */
dcr_status dcr_state_dataset_list(dcr_state *st, dcr_dataset_info **out, size_t *n, dcr_error *err);

/* ---- grants ------------------------------------------------------------- */

/* Stores the data key of dataset wrapped to the instance key instance_pub
 * (an opaque blob, e.g. HPKE enc || ct), replacing an earlier grant for the
 * same instance. The dataset must be committed. */
dcr_status dcr_state_grant_put(dcr_state *st, const char *dataset, const char *party,
                               const uint8_t instance_pub[32], const uint8_t *wrapped,
                               size_t wrapped_len, dcr_error *err);
/* The grant for the instance instance_pub; grants to other (old) instances
 * are ignored: DCR_EINPUT "no grant for this instance" when absent. */
dcr_status dcr_state_grant_get(dcr_state *st, const char *dataset, const uint8_t instance_pub[32],
                               dcr_buf *wrapped, dcr_error *err);

/* ---- replay protection -------------------------------------------------- */

/* Accepts (party, nonce) once: refuses a request whose time is more than
 * DCR_STATE_REPLAY_WINDOW_S from now, or a nonce already seen; expires
 * nonces older than the window. now = Unix seconds (pass time(NULL)). */
dcr_status dcr_state_nonce_use(dcr_state *st, const char *party, const uint8_t *nonce,
                               size_t nonce_len, int64_t request_time, int64_t now, dcr_error *err);

/* ---- released-row history (differencing defence) ------------------------ */

/* Stores blob under (scope, fingerprint), replacing an existing one. The
 * scope names one history (the differencing defence keeps one per
 * contract, privacy/differencing.h; the table's column is still called
 * analyst, from when histories were per analyst). Refuses when the scope's
 * history would exceed the cap (old entries are never evicted: eviction
 * would let an analyst flush the defence). */
dcr_status dcr_state_history_put(dcr_state *st, const char *scope, const uint8_t *fp, size_t fp_len,
                                 const uint8_t *blob, size_t blob_len, dcr_error *err);
/* *found = false (and out untouched) when absent. */
dcr_status dcr_state_history_get(dcr_state *st, const char *scope, const uint8_t *fp, size_t fp_len,
                                 dcr_buf *out, bool *found, dcr_error *err);
/* Calls cb for each entry of scope (NULL: of every scope), oldest first; a
 * non-OK return stops. cb runs under st's lock: it must not call dcr_state
 * functions on st. */
typedef dcr_status (*dcr_state_history_cb)(void *ctx, const uint8_t *fp, size_t fp_len,
                                           const uint8_t *blob, size_t blob_len, dcr_error *err);
dcr_status dcr_state_history_each(dcr_state *st, const char *scope, dcr_state_history_cb cb,
                                  void *ctx, dcr_error *err);

/* The secret that keys the history's unit hashes (secret_key.c), loaded or
 * created on first use (32 random bytes, never replaced; O_EXCL, so two
 * first runs agree). With a TPM (the state's tcti) it is sealed to it in
 * DIR/differencing.key.tpm, so the host cannot read it; a plaintext
 * DIR/differencing.key left from a run without the TPM is sealed and then
 * deleted. Without a TPM it is DIR/differencing.key, mode 0600 (the host
 * can read it: docs/threat-model.md). The caller wipes key when done. */
#define DCR_STATE_KEY_LEN 32
dcr_status dcr_state_differencing_key(dcr_state *st, const char *dir,
                                      uint8_t key[DCR_STATE_KEY_LEN], dcr_error *err)
    __attribute__((warn_unused_result));

/* ---- rollback anchor ---------------------------------------------------- */

/* What the anchor knows: TPM counter value (0 without TPM) and the anchor
 * value of the newest audit record. */
typedef struct {
    bool tpm;
    uint64_t tpm_counter;
    uint64_t db_counter;
} dcr_state_anchor_info;
dcr_status dcr_state_anchor_status(dcr_state *st, dcr_state_anchor_info *out, dcr_error *err);

#endif

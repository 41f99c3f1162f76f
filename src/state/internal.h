/*
 * internal.h: what the files of src/state/ share and nobody else sees: the
 * handle, SQL helpers, the write transaction that also advances the
 * rollback anchor, and the audit-record builder used by the ledger.
 */
#ifndef DCR_STATE_INTERNAL_H
#define DCR_STATE_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>

#include "state/state.h"

struct dcr_state {
    pthread_mutex_t mu; /* one SQLite connection: one user at a time */
    sqlite3 *db;
    char *dir;
    char *datasets_dir;
    char *tcti; /* NULL: no TPM anchor */
    uint32_t nv_index;
    uint64_t history_cap;
    int lock_fd; /* DIR/anchor.lock: held across COMMIT + TPM increment */
    bool in_anchored_write;
    bool anchor_pending; /* a record with a new anchor value awaits COMMIT */
    uint64_t anchor_value;
    void *tpm; /* open only during an anchored write */
    bool have_instance;
    int instance_fd; /* DIR/instance.lock: held (flock) from instance start to close */
    uint8_t audit_seed[32];
    uint8_t audit_pub[32];
    char key_id[17];
};

/* SQL failure message naming what was being done. */
dcr_status st_sql_fail(dcr_state *st, dcr_error *err, const char *what);
dcr_status st_exec(dcr_state *st, const char *sql, dcr_error *err);
dcr_status st_prepare(dcr_state *st, const char *sql, sqlite3_stmt **stmt, dcr_error *err);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. With anchored = true (audit or
 * ledger writes) the anchor lock is held from begin to the TPM increment
 * after COMMIT. st_write_end commits when *status is DCR_OK, else rolls
 * back; returns the final status. */
dcr_status st_write_begin(dcr_state *st, bool anchored, dcr_error *err);
dcr_status st_write_end(dcr_state *st, dcr_status status, dcr_error *err);

int64_t st_now(void);
char *st_strdup(const char *s);
char *st_path(const char *dir, const char *name);

/* ---- audit (audit.c) ---- */
/* Extra fields for a charge record (NULL for plain appends). */
typedef struct {
    const char *analyst;
    int64_t eps, delta;             /* this charge, units */
    int64_t eps_spent, delta_spent; /* after it */
} st_charge_fields;
/* Appends a signed record inside an open anchored write transaction. */
dcr_status st_audit_append_locked(dcr_state *st, const dcr_audit_entry *e,
                                  const st_charge_fields *charge, uint64_t *seq, dcr_error *err);
dcr_status st_audit_key_id(const uint8_t pub[32], char out[17], dcr_error *err);
/* Checks the newest record (hash, signature, ledger digest) on open. */
dcr_status st_audit_check_head(dcr_state *st, dcr_error *err);
/* The anchor value recorded in the newest record (0 when none). */
dcr_status st_audit_head_anchor(dcr_state *st, uint64_t *anchor, dcr_error *err);

/* ---- ledger (ledger.c) ---- */
/* SHA-256 over the ledger rows (analyst, spent), signed into every record. */
dcr_status st_ledger_digest(dcr_state *st, uint8_t out[32], dcr_error *err);

/* ---- catalog (catalog.c) ---- */
dcr_status st_catalog_recover(dcr_state *st, dcr_error *err);
dcr_status st_catalog_verify(dcr_state *st, bool full_hash, dcr_error *err);

/* ---- anchor (anchor.c) ---- */
/* On open: compares the TPM counter with the newest record's anchor. */
dcr_status st_anchor_check_open(dcr_state *st, bool allow_unanchored, dcr_error *err);
/* Inside an anchored write: the value the next record carries (0 without
 * a TPM); repairs a counter one behind after a crash. */
dcr_status st_anchor_next(dcr_state *st, uint64_t *value, dcr_error *err);
/* After COMMIT of a record that carries value: increments the TPM. */
dcr_status st_anchor_advance(dcr_state *st, dcr_error *err);
/* Closes the TPM connection of a write (in st_write_end), or of a seal. */
void st_anchor_release(dcr_state *st);
/* The ESYS context of st's TPM (st->tcti), connecting if needed; close it
 * with st_anchor_release. Callers hold st->mu. */
struct ESYS_CONTEXT;
dcr_status st_tpm_esys(dcr_state *st, struct ESYS_CONTEXT **out, dcr_error *err);
/* The state's TPM seals and unseals a 32-byte secret: the blob (a sealed
 * data object's public and private areas under the owner's storage
 * primary key) opens only on this TPM. */
dcr_status st_tpm_seal(dcr_state *st, const uint8_t secret[32], dcr_buf *blob, dcr_error *err);
dcr_status st_tpm_unseal(dcr_state *st, const uint8_t *blob, size_t len, uint8_t secret[32],
                         dcr_error *err);
dcr_status st_anchor_read(dcr_state *st, bool *defined, uint64_t *value, dcr_error *err);

#endif

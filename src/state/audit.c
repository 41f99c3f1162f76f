/*
 * audit.c: the tamper-evident audit log, a signed hash chain.
 *
 * Each record is canonical JSON (jansson, compact, sorted keys, ASCII, only
 * integers and strings) with the fields common to all records: v, seq, type,
 * time, key_id (the signing instance), anchor (rollback counter, 0 without
 * TPM) and ledger (SHA-256 of the budget ledger after this record). Its hash
 * is SHA-256("dcr audit record v1" 0x00 || prev hash || record bytes) and
 * the instance's Ed25519 audit key signs that hash. An instance_start record
 * introduces a key (with the instance's public keys and the SHA-256 of its
 * attestation evidence) and is signed by that key; a verifier that checks
 * the evidence binds the audit key can then check every later record.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "base/bytes.h"
#include "crypto/hash.h"
#include "crypto/sign.h"
#include "base/hygiene.h"
#include "state/internal.h"

static const char HASH_LABEL[] = "dcr audit record v1"; /* hashed with its NUL */
static const char KEY_ID_LABEL[] = "dcr audit key id";
#define RECORD_MAX (1u << 20) /* one record; SQL text is the bulk */

dcr_status st_audit_key_id(const uint8_t pub[32], char out[17], dcr_error *err)
{
    uint8_t buf[sizeof KEY_ID_LABEL + 32], h[32];
    memcpy(buf, KEY_ID_LABEL, sizeof KEY_ID_LABEL);
    memcpy(buf + sizeof KEY_ID_LABEL, pub, 32);
    dcr_status rc = dcr_sha256(buf, sizeof buf, h, err);
    if (rc == DCR_OK)
        dcr_hex_encode(out, h, 8);
    return rc;
}

static dcr_status record_hash(const uint8_t prev[32], const char *rec, size_t len, uint8_t out[32],
                              dcr_error *err)
{
    dcr_hash_ctx *h;
    dcr_status rc = dcr_hash_init(&h, DCR_SHA256, err);
    if (rc != DCR_OK)
        return rc;
    if ((rc = dcr_hash_update(h, HASH_LABEL, sizeof HASH_LABEL, err)) ||
        (rc = dcr_hash_update(h, prev, 32, err)) || (rc = dcr_hash_update(h, rec, len, err))) {
        dcr_hash_free(h);
        return rc;
    }
    return dcr_hash_final(h, out, err);
}

static char *canonical(const json_t *o)
{
    return json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
}

static int set_str(json_t *o, const char *k, const char *v)
{
    return json_object_set_new(o, k, json_string(v ? v : ""));
}

static int set_hex(json_t *o, const char *k, const uint8_t *b, size_t n)
{
    char hex[129];
    dcr_hex_encode(hex, b, n);
    return json_object_set_new(o, k, json_string(hex));
}

static int set_int(json_t *o, const char *k, int64_t v)
{
    return json_object_set_new(o, k, json_integer((json_int_t)v));
}

static void utc_now(char out[32])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Reads the newest record's seq and hash (next = 0, zeros when empty). */
static dcr_status head(dcr_state *st, uint64_t *next, uint8_t hash[32], dcr_error *err)
{
    sqlite3_stmt *s;
    dcr_status rc =
        st_prepare(st, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", &s, err);
    if (rc != DCR_OK)
        return rc;
    memset(hash, 0, 32);
    *next = 0;
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        if (sqlite3_column_bytes(s, 1) != 32)
            rc = dcr_fail(err, DCR_EINPUT, "state: audit head has a malformed hash (tampered)");
        else {
            memcpy(hash, sqlite3_column_blob(s, 1), 32);
            *next = (uint64_t)sqlite3_column_int64(s, 0) + 1;
        }
    } else if (r != SQLITE_DONE) {
        rc = st_sql_fail(st, err, "reading the audit head");
    }
    sqlite3_finalize(s);
    return rc;
}

/* Adds the common fields to o, signs and inserts it. Inside an anchored
 * write transaction. */
static dcr_status append_record(dcr_state *st, json_t *o, uint64_t *seq_out, dcr_error *err)
{
    uint64_t seq, anchor;
    uint8_t prev[32], ledger[32], hash[32], sig[64];
    char when[32];
    dcr_status rc;
    if ((rc = head(st, &seq, prev, err)) || (rc = st_anchor_next(st, &anchor, err)) ||
        (rc = st_ledger_digest(st, ledger, err)))
        return rc;
    utc_now(when);
    if (set_int(o, "v", 1) || set_int(o, "seq", (int64_t)seq) || set_str(o, "time", when) ||
        set_str(o, "key_id", st->key_id) || set_int(o, "anchor", (int64_t)anchor) ||
        set_hex(o, "ledger", ledger, 32))
        return dcr_fail(err, DCR_EINTERNAL, "state: out of memory building an audit record");
    char *rec = canonical(o);
    if (!rec)
        return dcr_fail(err, DCR_EINTERNAL, "state: cannot serialise an audit record");
    size_t len = strlen(rec);
    if (len > RECORD_MAX)
        rc = dcr_fail(err, DCR_EINPUT, "state: audit record of %zu bytes exceeds %u", len,
                      RECORD_MAX);
    if (rc == DCR_OK && !(rc = record_hash(prev, rec, len, hash, err)))
        rc = dcr_ed25519_sign(st->audit_seed, hash, 32, sig, err);
    sqlite3_stmt *s = NULL;
    if (rc == DCR_OK)
        rc = st_prepare(st, "INSERT INTO audit VALUES(?, ?, ?, ?, ?, ?)", &s, err);
    if (rc == DCR_OK) {
        sqlite3_bind_int64(s, 1, (sqlite3_int64)seq);
        sqlite3_bind_text(s, 2, rec, (int)len, SQLITE_STATIC);
        sqlite3_bind_blob(s, 3, prev, 32, SQLITE_STATIC);
        sqlite3_bind_blob(s, 4, hash, 32, SQLITE_STATIC);
        sqlite3_bind_blob(s, 5, sig, 64, SQLITE_STATIC);
        sqlite3_bind_int64(s, 6, (sqlite3_int64)anchor);
        if (sqlite3_step(s) != SQLITE_DONE)
            rc = st_sql_fail(st, err, "appending an audit record");
    }
    sqlite3_finalize(s);
    free(rec);
    if (rc == DCR_OK && seq_out)
        *seq_out = seq;
    return rc;
}

dcr_status st_audit_append_locked(dcr_state *st, const dcr_audit_entry *e,
                                  const st_charge_fields *charge, uint64_t *seq, dcr_error *err)
{
    if (!st->have_instance)
        return dcr_fail(err, DCR_EINTERNAL,
                        "state: no instance started: call dcr_state_instance_start first");
    json_t *o = json_object();
    if (!o)
        return dcr_fail(err, DCR_EINTERNAL, "state: out of memory");
    int bad = set_str(o, "type", e->type ? e->type : "query") || set_str(o, "party", e->party) ||
              set_str(o, "sql", e->sql) || set_str(o, "decision", e->decision) ||
              set_str(o, "reason", e->reason) || set_int(o, "rows_released", e->rows_released) ||
              set_int(o, "epsilon_nano", charge ? charge->eps : 0) ||
              set_int(o, "delta_atto", charge ? charge->delta : 0);
    if (!bad && charge)
        bad = set_str(o, "analyst", charge->analyst) ||
              set_int(o, "spent_epsilon_nano", charge->eps_spent) ||
              set_int(o, "spent_delta_atto", charge->delta_spent);
    dcr_status rc =
        bad ? dcr_fail(err, DCR_EINTERNAL, "state: out of memory") : append_record(st, o, seq, err);
    json_decref(o);
    return rc;
}

dcr_status dcr_state_audit_append(dcr_state *st, const dcr_audit_entry *e, uint64_t *seq,
                                  dcr_error *err)
{
    pthread_mutex_lock(&st->mu);
    dcr_status rc = st_write_begin(st, true, err);
    if (rc == DCR_OK)
        rc = st_write_end(st, st_audit_append_locked(st, e, NULL, seq, err), err);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

/* One running instance owns a state directory: its records, and no other
 * instance's, follow its instance_start, which is what lets a verifier
 * insist that everything after the newest start is signed by the attested
 * key. The flock dies with the process, so a killed instance frees it. */
static dcr_status own_directory(dcr_state *st, dcr_error *err)
{
    if (st->instance_fd >= 0)
        return DCR_OK;
    char *path = st_path(st->dir, "instance.lock");
    if (!path)
        return dcr_fail(err, DCR_EINTERNAL, "state: out of memory");
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    dcr_status rc = DCR_OK;
    if (fd < 0)
        rc = dcr_fail(err, DCR_EINPUT, "state: cannot open %s: %s", path, strerror(errno));
    else if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        rc = errno == EWOULDBLOCK
                 ? dcr_fail(err, DCR_EINPUT,
                            "state: %s is in use by another running instance (dcr serve or "
                            "dcr sql --state); one instance owns a state directory at a time",
                            st->dir)
                 : dcr_fail(err, DCR_EINPUT, "state: cannot lock %s: %s", path, strerror(errno));
        close(fd);
    } else
        st->instance_fd = fd;
    free(path);
    return rc;
}

dcr_status dcr_state_instance_start(dcr_state *st, const dcr_state_instance *inst, dcr_error *err)
{
    uint8_t pub[32], ev_hash[32];
    char kid[17];
    dcr_status rc;
    if ((rc = own_directory(st, err)) ||
        (rc = dcr_ed25519_public_from_seed(inst->audit_seed, pub, err)) ||
        (rc = st_audit_key_id(pub, kid, err)) ||
        (rc = dcr_sha256(inst->evidence ? inst->evidence : (const uint8_t *)"", inst->evidence_len,
                         ev_hash, err)))
        return rc;
    json_t *o = json_object();
    if (!o || set_str(o, "type", "instance_start") || set_hex(o, "audit_pub", pub, 32) ||
        set_hex(o, "hpke_pub", inst->hpke_pub, 32) ||
        set_hex(o, "tls_spki_sha256", inst->tls_spki_sha256, 32) ||
        set_hex(o, "contract_hash", inst->contract_hash, 32) || set_str(o, "tee", inst->tee) ||
        set_hex(o, "evidence_sha256", ev_hash, 32)) {
        json_decref(o);
        return dcr_fail(err, DCR_EINTERNAL, "state: out of memory");
    }
    pthread_mutex_lock(&st->mu);
    memcpy(st->audit_seed, inst->audit_seed, 32);
    memcpy(st->audit_pub, pub, 32);
    memcpy(st->key_id, kid, sizeof kid);
    st->have_instance = true;
    uint64_t seq = 0;
    rc = st_write_begin(st, true, err);
    if (rc == DCR_OK) {
        rc = append_record(st, o, &seq, err);
        sqlite3_stmt *s = NULL;
        if (rc == DCR_OK &&
            !(rc =
                  st_prepare(st, "INSERT OR REPLACE INTO instances VALUES(?, ?, ?, ?)", &s, err))) {
            sqlite3_bind_text(s, 1, kid, -1, SQLITE_STATIC);
            sqlite3_bind_blob(s, 2, pub, 32, SQLITE_STATIC);
            sqlite3_bind_blob(s, 3, inst->evidence ? (const void *)inst->evidence : "",
                              (int)inst->evidence_len, SQLITE_STATIC);
            sqlite3_bind_int64(s, 4, (sqlite3_int64)seq);
            if (sqlite3_step(s) != SQLITE_DONE)
                rc = st_sql_fail(st, err, "recording the instance");
        }
        sqlite3_finalize(s);
        rc = st_write_end(st, rc, err);
    }
    if (rc != DCR_OK) {
        st->have_instance = false;
        dcr_wipe(st->audit_seed, 32);
    }
    pthread_mutex_unlock(&st->mu);
    json_decref(o);
    return rc;
}

dcr_status dcr_state_instance_evidence(dcr_state *st, const char *key_id, dcr_buf *out,
                                       dcr_error *err)
{
    pthread_mutex_lock(&st->mu);
    sqlite3_stmt *s;
    dcr_status rc = st_prepare(st, "SELECT evidence FROM instances WHERE key_id = ?", &s, err);
    if (rc == DCR_OK) {
        sqlite3_bind_text(s, 1, key_id, -1, SQLITE_STATIC);
        int r = sqlite3_step(s);
        if (r == SQLITE_ROW)
            rc = dcr_buf_append(out, sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0),
                                err);
        else if (r == SQLITE_DONE)
            rc = dcr_fail(err, DCR_EINPUT, "state: no instance with audit key id %.16s", key_id);
        else
            rc = st_sql_fail(st, err, "reading instance evidence");
        sqlite3_finalize(s);
    }
    pthread_mutex_unlock(&st->mu);
    return rc;
}

/* ---- loading and export ----------------------------------------------- */

void dcr_audit_chain_free(dcr_audit_chain *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        free(c->v[i].record);
    free(c->v);
    c->v = NULL;
    c->n = 0;
}

static dcr_status chain_push(dcr_audit_chain *c, size_t *cap, dcr_audit_record **slot,
                             dcr_error *err)
{
    if (c->n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        dcr_audit_record *v = realloc(c->v, ncap * sizeof *v);
        if (!v)
            return dcr_fail(err, DCR_EINTERNAL, "state: out of memory loading the audit chain");
        c->v = v;
        *cap = ncap;
    }
    *slot = &c->v[c->n];
    memset(*slot, 0, sizeof **slot);
    return DCR_OK;
}

dcr_status dcr_state_audit_load(dcr_state *st, uint64_t from_seq, dcr_audit_chain *out,
                                dcr_error *err)
{
    memset(out, 0, sizeof *out);
    size_t cap = 0;
    pthread_mutex_lock(&st->mu);
    sqlite3_stmt *s;
    dcr_status rc = st_prepare(
        st, "SELECT seq, record, prev, hash, sig FROM audit WHERE seq >= ? ORDER BY seq", &s, err);
    int r = SQLITE_DONE;
    if (rc == DCR_OK) {
        sqlite3_bind_int64(s, 1, (sqlite3_int64)from_seq);
        while (rc == DCR_OK && (r = sqlite3_step(s)) == SQLITE_ROW) {
            dcr_audit_record *a;
            if ((rc = chain_push(out, &cap, &a, err)))
                break;
            a->seq = (uint64_t)sqlite3_column_int64(s, 0);
            if (sqlite3_column_bytes(s, 2) != 32 || sqlite3_column_bytes(s, 3) != 32 ||
                sqlite3_column_bytes(s, 4) != 64) {
                rc = dcr_fail(err, DCR_EINPUT,
                              "state: audit record %llu has a malformed hash or signature",
                              (unsigned long long)a->seq);
                break;
            }
            a->record_len = (size_t)sqlite3_column_bytes(s, 1);
            a->record = malloc(a->record_len + 1);
            if (!a->record) {
                rc = dcr_fail(err, DCR_EINTERNAL, "state: out of memory");
                break;
            }
            memcpy(a->record, sqlite3_column_text(s, 1), a->record_len);
            a->record[a->record_len] = 0;
            memcpy(a->prev, sqlite3_column_blob(s, 2), 32);
            memcpy(a->hash, sqlite3_column_blob(s, 3), 32);
            memcpy(a->sig, sqlite3_column_blob(s, 4), 64);
            out->n++;
        }
        if (rc == DCR_OK && r != SQLITE_DONE)
            rc = st_sql_fail(st, err, "reading the audit log");
        sqlite3_finalize(s);
    }
    pthread_mutex_unlock(&st->mu);
    if (rc != DCR_OK)
        dcr_audit_chain_free(out);
    return rc;
}

dcr_status dcr_audit_export_chain(const dcr_audit_chain *c, dcr_buf *out, dcr_error *err)
{
    json_t *root = json_object(), *arr = json_array();
    int bad = !root || !arr || json_object_set_new(root, "version", json_integer(1)) ||
              json_object_set(root, "records", arr);
    for (size_t i = 0; !bad && i < c->n; i++) {
        const dcr_audit_record *a = &c->v[i];
        json_t *o = json_object();
        bad = !o || set_int(o, "seq", (int64_t)a->seq) ||
              json_object_set_new(o, "record", json_stringn(a->record, a->record_len)) ||
              set_hex(o, "prev", a->prev, 32) || set_hex(o, "hash", a->hash, 32) ||
              set_hex(o, "sig", a->sig, 64) || json_array_append_new(arr, o);
    }
    char *text = bad ? NULL : canonical(root);
    json_decref(arr);
    json_decref(root);
    if (!text)
        return dcr_fail(err, DCR_EINTERNAL, "state: cannot serialise the audit export");
    dcr_status rc = dcr_buf_append(out, text, strlen(text), err);
    free(text);
    return rc;
}

dcr_status dcr_state_audit_export(dcr_state *st, uint64_t from_seq, dcr_buf *out, dcr_error *err)
{
    dcr_audit_chain c;
    dcr_status rc = dcr_state_audit_load(st, from_seq, &c, err);
    if (rc == DCR_OK)
        rc = dcr_audit_export_chain(&c, out, err);
    dcr_audit_chain_free(&c);
    return rc;
}

static bool get_hex(json_t *o, const char *k, uint8_t *out, size_t n)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) && dcr_hex_decode(out, n, json_string_value(v), json_string_length(v));
}

dcr_status dcr_audit_parse_export(const char *text, size_t len, dcr_audit_chain *out,
                                  dcr_error *err)
{
    memset(out, 0, sizeof *out);
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return dcr_fail(err, DCR_EINPUT, "audit export: invalid JSON at line %d column %d: %s",
                        je.line, je.column, je.text);
    dcr_status rc = DCR_OK;
    json_t *arr = json_object_get(root, "records");
    if (!json_is_object(root) || json_integer_value(json_object_get(root, "version")) != 1 ||
        !json_is_array(arr))
        rc = dcr_fail(err, DCR_EINPUT, "audit export: expected {\"version\":1,\"records\":[...]}");
    size_t cap = 0;
    for (size_t i = 0; rc == DCR_OK && i < json_array_size(arr); i++) {
        json_t *o = json_array_get(arr, i), *seq = json_object_get(o, "seq"),
               *rec = json_object_get(o, "record");
        dcr_audit_record *a;
        if ((rc = chain_push(out, &cap, &a, err)))
            break;
        if (!json_is_integer(seq) || json_integer_value(seq) < 0 || !json_is_string(rec) ||
            !get_hex(o, "prev", a->prev, 32) || !get_hex(o, "hash", a->hash, 32) ||
            !get_hex(o, "sig", a->sig, 64)) {
            rc = dcr_fail(err, DCR_EINPUT,
                          "audit export: record %zu lacks seq, record, prev, hash or sig", i);
            break;
        }
        a->seq = (uint64_t)json_integer_value(seq);
        a->record_len = json_string_length(rec);
        a->record = malloc(a->record_len + 1);
        if (!a->record) {
            rc = dcr_fail(err, DCR_EINTERNAL, "audit export: out of memory");
            break;
        }
        memcpy(a->record, json_string_value(rec), a->record_len + 1);
        out->n++;
    }
    json_decref(root);
    if (rc != DCR_OK)
        dcr_audit_chain_free(out);
    return rc;
}

/* ---- verification ------------------------------------------------------ */

typedef struct {
    char id[17];
    uint8_t pub[32];
} known_key;

static dcr_status bad_record(dcr_error *err, size_t i, const dcr_audit_record *a, const char *why)
{
    return dcr_fail(err, DCR_ECRYPTO, "audit: record %zu (seq %llu): %s", i,
                    (unsigned long long)a->seq, why);
}

/* Parses a record strictly and checks it is in canonical form. */
static json_t *parse_canonical(const dcr_audit_record *a)
{
    json_t *o = json_loadb(a->record, a->record_len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return NULL;
    }
    char *again = canonical(o);
    bool same =
        again && strlen(again) == a->record_len && memcmp(again, a->record, a->record_len) == 0;
    free(again);
    if (!same) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static dcr_status verify_one(const dcr_audit_record *a, size_t i, const uint8_t prev[32],
                             known_key **keys, size_t *nkeys, dcr_error *err)
{
    if (memcmp(a->prev, prev, 32) != 0)
        return bad_record(err, i, a, "link broken: prev is not the hash of the record before");
    uint8_t h[32];
    dcr_status rc = record_hash(a->prev, a->record, a->record_len, h, err);
    if (rc != DCR_OK)
        return rc;
    if (memcmp(h, a->hash, 32) != 0)
        return bad_record(err, i, a, "hash does not match the record bytes (record altered)");
    json_t *o = parse_canonical(a);
    if (!o)
        return bad_record(err, i, a, "record is not canonical JSON");
    json_t *seq = json_object_get(o, "seq"), *kid = json_object_get(o, "key_id");
    const char *type = json_string_value(json_object_get(o, "type"));
    rc = DCR_OK;
    if (!json_is_integer(seq) || (uint64_t)json_integer_value(seq) != a->seq)
        rc = bad_record(err, i, a, "seq inside the record differs from its position");
    else if (!json_is_string(kid) || json_string_length(kid) != 16 || !type)
        rc = bad_record(err, i, a, "record lacks key_id or type");
    const uint8_t *pub = NULL;
    uint8_t start_pub[32];
    if (rc == DCR_OK && strcmp(type, "instance_start") == 0) {
        char id[17];
        if (!get_hex(o, "audit_pub", start_pub, 32))
            rc = bad_record(err, i, a, "instance_start lacks audit_pub");
        else if (!(rc = st_audit_key_id(start_pub, id, err)) &&
                 strcmp(id, json_string_value(kid)) != 0)
            rc = bad_record(err, i, a, "instance_start key_id does not match its audit_pub");
        if (rc == DCR_OK) {
            known_key *nk = realloc(*keys, (*nkeys + 1) * sizeof *nk);
            if (!nk)
                rc = dcr_fail(err, DCR_EINTERNAL, "audit: out of memory");
            else {
                *keys = nk;
                memcpy(nk[*nkeys].id, id, 17);
                memcpy(nk[*nkeys].pub, start_pub, 32);
                (*nkeys)++;
                pub = start_pub;
            }
        }
    } else if (rc == DCR_OK) {
        /* Only the newest instance writes (it owns the directory), so an
         * older instance's key after a newer start is a forgery by whoever
         * kept that key, not a record of ours. */
        const char *id = json_string_value(kid);
        if (*nkeys && strcmp((*keys)[*nkeys - 1].id, id) == 0)
            pub = (*keys)[*nkeys - 1].pub;
        else {
            bool older = false;
            for (size_t k = 0; k + 1 < *nkeys; k++)
                older = older || strcmp((*keys)[k].id, id) == 0;
            rc = bad_record(err, i, a,
                            older ? "signed by an older instance's key after a newer "
                                    "instance_start (only the newest instance may write)"
                                  : "signed by a key no earlier instance_start introduced");
        }
    }
    json_decref(o);
    if (rc == DCR_OK) {
        dcr_error ignored;
        if (dcr_ed25519_verify(pub, a->hash, 32, a->sig, &ignored) != DCR_OK)
            rc = bad_record(err, i, a, "signature does not verify with the instance's audit key");
    }
    return rc;
}

dcr_status dcr_audit_verify(const dcr_audit_chain *c, const uint8_t *start_prev, size_t *bad_index,
                            dcr_error *err)
{
    known_key *keys = NULL;
    size_t nkeys = 0;
    uint8_t prev[32] = {0};
    dcr_status rc = DCR_OK;
    size_t i = 0;
    for (; i < c->n && rc == DCR_OK; i++) {
        const dcr_audit_record *a = &c->v[i];
        if (i == 0) {
            if (a->seq != 0 && !start_prev) {
                rc = bad_record(err, i, a, "chain does not start at seq 0 and no start hash given");
                break;
            }
            if (a->seq != 0)
                memcpy(prev, start_prev, 32);
        } else if (a->seq != c->v[i - 1].seq + 1) {
            rc = bad_record(err, i, a, "sequence gap or reordering");
            break;
        }
        rc = verify_one(a, i, prev, &keys, &nkeys, err);
        if (rc != DCR_OK)
            break;
        memcpy(prev, a->hash, 32);
    }
    free(keys);
    if (bad_index)
        *bad_index = rc == DCR_OK ? c->n : i;
    return rc;
}

dcr_status dcr_audit_instances(const dcr_audit_chain *c, dcr_audit_instance **out, size_t *n,
                               dcr_error *err)
{
    *out = NULL;
    *n = 0;
    dcr_status rc = DCR_OK;
    for (size_t i = 0; i < c->n && rc == DCR_OK; i++) {
        json_t *o = parse_canonical(&c->v[i]);
        const char *type = o ? json_string_value(json_object_get(o, "type")) : NULL;
        if (!type || strcmp(type, "instance_start") != 0) {
            json_decref(o);
            continue;
        }
        dcr_audit_instance *v = realloc(*out, (*n + 1) * sizeof *v);
        if (!v) {
            json_decref(o);
            rc = dcr_fail(err, DCR_EINTERNAL, "audit: out of memory");
            break;
        }
        *out = v;
        dcr_audit_instance *a = &v[*n];
        memset(a, 0, sizeof *a);
        a->index = i;
        a->seq = c->v[i].seq;
        const char *kid = json_string_value(json_object_get(o, "key_id"));
        const char *tee = json_string_value(json_object_get(o, "tee"));
        if (!kid || strlen(kid) != 16 || !tee || !get_hex(o, "audit_pub", a->audit_pub, 32) ||
            !get_hex(o, "hpke_pub", a->hpke_pub, 32) ||
            !get_hex(o, "tls_spki_sha256", a->tls_spki_sha256, 32) ||
            !get_hex(o, "contract_hash", a->contract_hash, 32) ||
            !get_hex(o, "evidence_sha256", a->evidence_sha256, 32))
            rc = bad_record(err, i, &c->v[i], "instance_start lacks a field");
        else {
            memcpy(a->key_id, kid, 17);
            snprintf(a->tee, sizeof a->tee, "%s", tee);
            (*n)++;
        }
        json_decref(o);
    }
    if (rc != DCR_OK) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

dcr_status dcr_audit_check_extends(const dcr_audit_chain *c, uint64_t remembered_seq,
                                   const uint8_t remembered_hash[32], dcr_error *err)
{
    for (size_t i = 0; i < c->n; i++) {
        if (c->v[i].seq != remembered_seq)
            continue;
        if (!dcr_ct_equal(c->v[i].hash, remembered_hash, 32))
            return dcr_fail(err, DCR_ECRYPTO,
                            "audit: record %llu differs from the one this client saw before: the "
                            "log was rewritten or rolled back and rebuilt",
                            (unsigned long long)remembered_seq);
        return DCR_OK;
    }
    uint64_t last = c->n ? c->v[c->n - 1].seq : 0;
    return dcr_fail(err, DCR_ECRYPTO,
                    "audit: the server's log ends %s seq %llu, before record %llu this client saw: "
                    "the state was rolled back",
                    c->n ? "at" : "before", (unsigned long long)last,
                    (unsigned long long)remembered_seq);
}

/* ---- head checks on open ----------------------------------------------- */

dcr_status dcr_state_audit_head(dcr_state *st, uint64_t *next_seq, uint8_t hash[32], dcr_error *err)
{
    pthread_mutex_lock(&st->mu);
    dcr_status rc = head(st, next_seq, hash, err);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

dcr_status st_audit_head_anchor(dcr_state *st, uint64_t *anchor, dcr_error *err)
{
    sqlite3_stmt *s;
    dcr_status rc = st_prepare(st, "SELECT anchor FROM audit ORDER BY seq DESC LIMIT 1", &s, err);
    if (rc != DCR_OK)
        return rc;
    *anchor = 0;
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW)
        *anchor = (uint64_t)sqlite3_column_int64(s, 0);
    else if (r != SQLITE_DONE)
        rc = st_sql_fail(st, err, "reading the audit anchor");
    sqlite3_finalize(s);
    return rc;
}

/* Loads the records with seq >= from (at most 2) without the mutex. */
static dcr_status load_tail(dcr_state *st, dcr_audit_chain *c, dcr_error *err)
{
    memset(c, 0, sizeof *c);
    size_t cap = 0;
    sqlite3_stmt *s;
    dcr_status rc = st_prepare(
        st, "SELECT seq, record, prev, hash, sig FROM audit ORDER BY seq DESC LIMIT 2", &s, err);
    int r = SQLITE_DONE;
    while (rc == DCR_OK && (r = sqlite3_step(s)) == SQLITE_ROW) {
        dcr_audit_record *a;
        if ((rc = chain_push(c, &cap, &a, err)))
            break;
        a->seq = (uint64_t)sqlite3_column_int64(s, 0);
        a->record_len = (size_t)sqlite3_column_bytes(s, 1);
        a->record = malloc(a->record_len + 1);
        if (!a->record || sqlite3_column_bytes(s, 2) != 32 || sqlite3_column_bytes(s, 3) != 32 ||
            sqlite3_column_bytes(s, 4) != 64) {
            free(a->record);
            rc = dcr_fail(err, DCR_EINPUT, "state: audit record %llu is malformed (tampered)",
                          (unsigned long long)a->seq);
            break;
        }
        memcpy(a->record, sqlite3_column_text(s, 1), a->record_len + 1);
        memcpy(a->prev, sqlite3_column_blob(s, 2), 32);
        memcpy(a->hash, sqlite3_column_blob(s, 3), 32);
        memcpy(a->sig, sqlite3_column_blob(s, 4), 64);
        c->n++;
    }
    if (rc == DCR_OK && r != SQLITE_DONE)
        rc = st_sql_fail(st, err, "reading the audit head");
    if (s)
        sqlite3_finalize(s);
    return rc;
}

/* The audit public key of key id kid, from the instances table. */
static dcr_status instance_pub(dcr_state *st, const char *kid, uint8_t pub[32], dcr_error *err)
{
    sqlite3_stmt *s;
    dcr_status rc = st_prepare(st, "SELECT audit_pub FROM instances WHERE key_id = ?", &s, err);
    if (rc != DCR_OK)
        return rc;
    sqlite3_bind_text(s, 1, kid, -1, SQLITE_STATIC);
    char id[17];
    if (sqlite3_step(s) != SQLITE_ROW || sqlite3_column_bytes(s, 0) != 32)
        rc = dcr_fail(err, DCR_EINPUT,
                      "state: the audit head's instance %.16s is unknown "
                      "(tampered)",
                      kid);
    else {
        memcpy(pub, sqlite3_column_blob(s, 0), 32);
        if (!(rc = st_audit_key_id(pub, id, err)) && strcmp(id, kid) != 0)
            rc = dcr_fail(err, DCR_EINPUT,
                          "state: instance %.16s has a key of another id "
                          "(tampered)",
                          kid);
    }
    sqlite3_finalize(s);
    return rc;
}

/* On open: the newest record is linked to the one before, hashes and
 * verifies under its instance key, and its ledger digest matches the
 * ledger table (so editing spent budget is caught). Whole-chain checks are
 * the clients' job (`dcr audit`), which also checks the evidence. */
dcr_status st_audit_check_head(dcr_state *st, dcr_error *err)
{
    dcr_audit_chain c;
    dcr_status rc = load_tail(st, &c, err);
    if (rc != DCR_OK || c.n == 0) {
        if (rc == DCR_OK) {
            int64_t n = 0;
            sqlite3_stmt *s;
            if (!(rc = st_prepare(st, "SELECT count(*) FROM ledger", &s, err))) {
                if (sqlite3_step(s) == SQLITE_ROW)
                    n = sqlite3_column_int64(s, 0);
                sqlite3_finalize(s);
            }
            if (rc == DCR_OK && n != 0)
                rc = dcr_fail(err, DCR_EINPUT,
                              "state: %s/state.db: budget ledger entries without any audit "
                              "record (tampered or rolled back)",
                              st->dir);
        }
        dcr_audit_chain_free(&c);
        return rc;
    }
    const dcr_audit_record *h = &c.v[0];
    json_t *o = parse_canonical(h);
    uint8_t pub[32], hash[32], ledger_rec[32], ledger_now[32];
    const char *kid = o ? json_string_value(json_object_get(o, "key_id")) : NULL;
    if (!o || !kid || json_integer_value(json_object_get(o, "seq")) != (json_int_t)h->seq ||
        !get_hex(o, "ledger", ledger_rec, 32))
        rc = dcr_fail(err, DCR_EINPUT, "state: audit record %llu is malformed (tampered)",
                      (unsigned long long)h->seq);
    if (rc == DCR_OK && c.n == 2 && memcmp(h->prev, c.v[1].hash, 32) != 0)
        rc = dcr_fail(err, DCR_EINPUT,
                      "state: audit record %llu does not link to record %llu "
                      "(tampered)",
                      (unsigned long long)h->seq, (unsigned long long)c.v[1].seq);
    if (rc == DCR_OK && c.n == 1 && h->seq != 0)
        rc = dcr_fail(err, DCR_EINPUT, "state: audit records before %llu are missing (tampered)",
                      (unsigned long long)h->seq);
    if (rc == DCR_OK && !(rc = instance_pub(st, kid, pub, err)) &&
        !(rc = record_hash(h->prev, h->record, h->record_len, hash, err))) {
        dcr_error ignored;
        if (memcmp(hash, h->hash, 32) != 0 ||
            dcr_ed25519_verify(pub, h->hash, 32, h->sig, &ignored) != DCR_OK)
            rc = dcr_fail(err, DCR_EINPUT,
                          "state: audit record %llu fails its hash or signature (tampered)",
                          (unsigned long long)h->seq);
    }
    if (rc == DCR_OK && !(rc = st_ledger_digest(st, ledger_now, err)) &&
        memcmp(ledger_now, ledger_rec, 32) != 0)
        rc = dcr_fail(err, DCR_EINPUT,
                      "state: the budget ledger differs from the one signed into audit record "
                      "%llu (tampered)",
                      (unsigned long long)h->seq);
    json_decref(o);
    dcr_audit_chain_free(&c);
    return rc;
}

/*
 * state.c: opening the state directory: permission checks, SQLite set-up
 * (WAL, synchronous=FULL, foreign keys, busy timeout), the schema and its
 * version, integrity checks (quick_check, exact schema text, the signed
 * head of the audit chain against the ledger, dataset hashes, the rollback
 * anchor) and the write-transaction helpers the other files use.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/hygiene.h"
#include "state/internal.h"

#define APPLICATION_ID 0x44435231 /* "DCR1" */

/* The schema, exactly as created: on open the stored text must match. */
static const char *const SCHEMA[] = {
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE datasets(id INTEGER PRIMARY KEY, name TEXT NOT NULL, owner TEXT NOT NULL, "
    "contract_hash BLOB NOT NULL, file TEXT NOT NULL UNIQUE, sha256 BLOB, size INTEGER, "
    "rows INTEGER, uploaded_at INTEGER NOT NULL, "
    "state TEXT NOT NULL CHECK(state IN ('pending','committed')))",
    "CREATE UNIQUE INDEX datasets_committed ON datasets(name) WHERE state = 'committed'",
    "CREATE TABLE grants(dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE, "
    "instance_pub BLOB NOT NULL, party TEXT NOT NULL, wrapped BLOB NOT NULL, "
    "granted_at INTEGER NOT NULL, PRIMARY KEY(dataset_id, instance_pub))",
    "CREATE TABLE instances(key_id TEXT PRIMARY KEY, audit_pub BLOB NOT NULL, "
    "evidence BLOB NOT NULL, start_seq INTEGER NOT NULL)",
    "CREATE TABLE audit(seq INTEGER PRIMARY KEY, record TEXT NOT NULL, prev BLOB NOT NULL, "
    "hash BLOB NOT NULL, sig BLOB NOT NULL, anchor INTEGER NOT NULL)",
    "CREATE TABLE ledger(analyst TEXT PRIMARY KEY, eps_spent INTEGER NOT NULL, "
    "delta_spent INTEGER NOT NULL, eps_limit INTEGER NOT NULL, delta_limit INTEGER NOT NULL, "
    "last_seq INTEGER NOT NULL)",
    "CREATE TABLE nonces(party TEXT NOT NULL, nonce BLOB NOT NULL, seen_at INTEGER NOT NULL, "
    "PRIMARY KEY(party, nonce))",
    "CREATE INDEX nonces_seen ON nonces(seen_at)",
    "CREATE TABLE history(analyst TEXT NOT NULL, fp BLOB NOT NULL, blob BLOB NOT NULL, "
    "created INTEGER NOT NULL, PRIMARY KEY(analyst, fp))",
};
#define N_SCHEMA (sizeof SCHEMA / sizeof SCHEMA[0])

int64_t st_now(void)
{
    return (int64_t)time(NULL);
}

char *st_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

char *st_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

dcr_status st_sql_fail(dcr_state *st, dcr_error *err, const char *what)
{
    int code = sqlite3_extended_errcode(st->db);
    const char *msg = sqlite3_errmsg(st->db);
    if ((code & 0xff) == SQLITE_CORRUPT || (code & 0xff) == SQLITE_NOTADB)
        return dcr_fail(err, DCR_EINPUT,
                        "state: %s/state.db is damaged or not a dcr state database (%s: %s)",
                        st->dir, what, msg);
    if ((code & 0xff) == SQLITE_BUSY)
        return dcr_fail(err, DCR_EINTERNAL,
                        "state: %s: the database stayed locked by another process (%s)", what, msg);
    return dcr_fail(err, DCR_EINTERNAL, "state: %s: %s", what, msg);
}

dcr_status st_exec(dcr_state *st, const char *sql, dcr_error *err)
{
    if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return st_sql_fail(st, err, sql);
    return DCR_OK;
}

dcr_status st_prepare(dcr_state *st, const char *sql, sqlite3_stmt **stmt, dcr_error *err)
{
    if (sqlite3_prepare_v2(st->db, sql, -1, stmt, NULL) != SQLITE_OK)
        return st_sql_fail(st, err, "preparing a statement");
    return DCR_OK;
}

dcr_status st_write_begin(dcr_state *st, bool anchored, dcr_error *err)
{
    if (anchored && st->tcti) {
        while (flock(st->lock_fd, LOCK_EX) != 0)
            if (errno != EINTR)
                return dcr_fail(err, DCR_EINTERNAL, "state: locking %s/anchor.lock: %s", st->dir,
                                strerror(errno));
        st->in_anchored_write = true;
    }
    st->anchor_pending = false;
    dcr_status s = st_exec(st, "BEGIN IMMEDIATE", err);
    if (s != DCR_OK && st->in_anchored_write) {
        flock(st->lock_fd, LOCK_UN);
        st->in_anchored_write = false;
    }
    return s;
}

dcr_status st_write_end(dcr_state *st, dcr_status status, dcr_error *err)
{
    if (status == DCR_OK) {
        status = st_exec(st, "COMMIT", err);
        if (status != DCR_OK)
            sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        else if (st->anchor_pending)
            status = st_anchor_advance(st, err);
    } else {
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    }
    st->anchor_pending = false;
    st_anchor_release(st);
    if (st->in_anchored_write) {
        flock(st->lock_fd, LOCK_UN);
        st->in_anchored_write = false;
    }
    return status;
}

/* DIR (or DIR/datasets) exists as a directory nobody else may write. */
static dcr_status check_dir(const char *path, const char *what, dcr_error *err)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        if (errno != ENOENT)
            return dcr_fail(err, DCR_EINPUT, "state: %s %s: %s", what, path, strerror(errno));
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            return dcr_fail(err, DCR_EINPUT, "state: cannot create %s %s: %s", what, path,
                            strerror(errno));
        if (stat(path, &sb) != 0)
            return dcr_fail(err, DCR_EINPUT, "state: %s %s: %s", what, path, strerror(errno));
    }
    if (!S_ISDIR(sb.st_mode))
        return dcr_fail(err, DCR_EINPUT, "state: %s %s is not a directory", what, path);
    if (sb.st_mode & (S_IWGRP | S_IWOTH))
        return dcr_fail(err, DCR_EINPUT,
                        "state: %s %s is writable by group or others (mode %03o); "
                        "run chmod go-w on it",
                        what, path, (unsigned)(sb.st_mode & 0777));
    return DCR_OK;
}

/* Creates state.db 0600 before SQLite does (its -wal/-shm copy the mode). */
static dcr_status check_db_file(const char *path, dcr_error *err)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return dcr_fail(err, DCR_EINPUT, "state: cannot open %s: %s", path, strerror(errno));
    struct stat sb;
    int rc = fstat(fd, &sb);
    close(fd);
    if (rc != 0 || !S_ISREG(sb.st_mode))
        return dcr_fail(err, DCR_EINPUT, "state: %s is not a regular file", path);
    if (sb.st_mode & (S_IWGRP | S_IWOTH))
        return dcr_fail(err, DCR_EINPUT, "state: %s is writable by group or others (mode %03o)",
                        path, (unsigned)(sb.st_mode & 0777));
    return DCR_OK;
}

static dcr_status pragma_text(dcr_state *st, const char *sql, char *out, size_t out_len,
                              dcr_error *err)
{
    sqlite3_stmt *s;
    dcr_status rc = st_prepare(st, sql, &s, err);
    if (rc != DCR_OK)
        return rc;
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(s, 0);
        snprintf(out, out_len, "%s", t ? t : "");
    } else {
        rc = st_sql_fail(st, err, sql);
    }
    sqlite3_finalize(s);
    return rc;
}

static dcr_status pragma_int(dcr_state *st, const char *sql, int64_t *out, dcr_error *err)
{
    char buf[64];
    dcr_status rc = pragma_text(st, sql, buf, sizeof buf, err);
    if (rc == DCR_OK)
        *out = strtoll(buf, NULL, 10);
    return rc;
}

static dcr_status create_schema(dcr_state *st, dcr_error *err)
{
    for (size_t i = 0; i < N_SCHEMA; i++)
        if (st_exec(st, SCHEMA[i], err) != DCR_OK)
            return err ? err->code : DCR_EINTERNAL;
    char sql[160];
    snprintf(sql, sizeof sql, "PRAGMA application_id = %d", APPLICATION_ID);
    if (st_exec(st, sql, err) != DCR_OK)
        return DCR_EINTERNAL;
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", DCR_STATE_SCHEMA_VERSION);
    if (st_exec(st, sql, err) != DCR_OK)
        return DCR_EINTERNAL;
    return st_exec(st, "INSERT INTO meta VALUES('created', strftime('%s','now'))", err);
}

/* Every stored table and index must be one of ours, verbatim. */
static dcr_status check_schema(dcr_state *st, dcr_error *err)
{
    sqlite3_stmt *s;
    dcr_status rc = st_prepare(
        st, "SELECT name, sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY name", &s, err);
    if (rc != DCR_OK)
        return rc;
    size_t seen = 0;
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(s, 0);
        const char *sql = (const char *)sqlite3_column_text(s, 1);
        bool known = false;
        for (size_t i = 0; i < N_SCHEMA && !known; i++)
            known = sql && strcmp(sql, SCHEMA[i]) == 0;
        if (!known) {
            char q[80];
            dcr_error_quote(q, sizeof q, name ? name : "", name ? strlen(name) : 0);
            rc = dcr_fail(err, DCR_EINPUT,
                          "state: %s/state.db: schema object '%s' differs from dcr's schema "
                          "(tampered, or written by another program)",
                          st->dir, q);
            break;
        }
        seen++;
    }
    if (rc == DCR_OK && r != SQLITE_DONE)
        rc = st_sql_fail(st, err, "reading the schema");
    sqlite3_finalize(s);
    if (rc == DCR_OK && seen != N_SCHEMA)
        rc = dcr_fail(err, DCR_EINPUT,
                      "state: %s/state.db: %zu of %zu schema objects present (tampered)", st->dir,
                      seen, (size_t)N_SCHEMA);
    return rc;
}

/* Creates the schema in a fresh database, or checks an existing one. */
static dcr_status setup_schema(dcr_state *st, dcr_error *err)
{
    dcr_status rc = st_write_begin(st, false, err);
    if (rc != DCR_OK)
        return rc;
    int64_t app = 0, ver = 0, objects = 0;
    if (!(rc = pragma_int(st, "PRAGMA application_id", &app, err)) &&
        !(rc = pragma_int(st, "PRAGMA user_version", &ver, err)))
        rc = pragma_int(st, "SELECT count(*) FROM sqlite_schema", &objects, err);
    if (rc == DCR_OK) {
        if (app == 0 && ver == 0 && objects == 0)
            rc = create_schema(st, err);
        else if (app != APPLICATION_ID)
            rc = dcr_fail(err, DCR_EINPUT, "state: %s/state.db is not a dcr state database",
                          st->dir);
        else if (ver != DCR_STATE_SCHEMA_VERSION)
            rc = dcr_fail(err, DCR_EINPUT,
                          "state: %s/state.db has schema version %lld; this dcr reads version %d",
                          st->dir, (long long)ver, DCR_STATE_SCHEMA_VERSION);
        else
            rc = check_schema(st, err);
    }
    return st_write_end(st, rc, err);
}

static dcr_status setup_db(dcr_state *st, int busy_ms, dcr_error *err)
{
    char *path = st_path(st->dir, "state.db");
    if (!path)
        return dcr_fail(err, DCR_EINTERNAL, "state: out of memory");
    dcr_status rc = check_db_file(path, err);
    if (rc == DCR_OK && sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                                        NULL) != SQLITE_OK)
        rc = dcr_fail(err, DCR_EINPUT, "state: cannot open %s: %s", path,
                      st->db ? sqlite3_errmsg(st->db) : "out of memory");
    free(path);
    if (rc != DCR_OK)
        return rc;
    sqlite3_busy_timeout(st->db, busy_ms);
    char mode[32];
    if ((rc = pragma_text(st, "PRAGMA journal_mode = WAL", mode, sizeof mode, err)))
        return rc;
    if (strcmp(mode, "wal") != 0)
        return dcr_fail(err, DCR_EINPUT, "state: %s/state.db refuses WAL mode (got %s)", st->dir,
                        mode);
    if ((rc = st_exec(st, "PRAGMA synchronous = FULL", err)) ||
        (rc = st_exec(st, "PRAGMA foreign_keys = ON", err)) ||
        (rc = st_exec(st, "PRAGMA secure_delete = ON", err)))
        return rc;
    char ok[64];
    if ((rc = pragma_text(st, "PRAGMA quick_check", ok, sizeof ok, err)))
        return rc;
    if (strcmp(ok, "ok") != 0)
        return dcr_fail(err, DCR_EINPUT, "state: %s/state.db is damaged: quick_check says: %s",
                        st->dir, ok);
    return setup_schema(st, err);
}

/* Audit head, ledger and anchor checked on one snapshot, with no writer
 * between reading the TPM counter and the database. */
static dcr_status open_checks(dcr_state *st, bool allow_unanchored, dcr_error *err)
{
    dcr_status rc = st_write_begin(st, true, err);
    if (rc != DCR_OK)
        return rc;
    rc = st_audit_check_head(st, err);
    if (rc == DCR_OK)
        rc = st_anchor_check_open(st, allow_unanchored, err);
    return st_write_end(st, rc, err);
}

dcr_status dcr_state_open(const char *dir, const dcr_state_options *opt, dcr_state **out,
                          dcr_error *err)
{
    *out = NULL;
    dcr_state_options o = {0};
    if (opt)
        o = *opt;
    dcr_state *st = calloc(1, sizeof *st);
    if (!st)
        return dcr_fail(err, DCR_EINTERNAL, "state: out of memory");
    pthread_mutex_init(&st->mu, NULL);
    st->lock_fd = -1;
    st->instance_fd = -1;
    st->nv_index = o.nv_index ? o.nv_index : DCR_STATE_NV_INDEX_DEFAULT;
    st->history_cap = o.history_cap ? o.history_cap : DCR_STATE_HISTORY_CAP_DEFAULT;
    st->dir = st_strdup(dir);
    st->datasets_dir = st_path(dir, "datasets");
    st->tcti = st_strdup(o.tcti);
    char *lock_path = st_path(dir, "anchor.lock");
    dcr_status rc = DCR_OK;
    if (!st->dir || !st->datasets_dir || !lock_path || (o.tcti && !st->tcti))
        rc = dcr_fail(err, DCR_EINTERNAL, "state: out of memory");
    if (rc == DCR_OK && !(rc = check_dir(dir, "state directory", err)))
        rc = check_dir(st->datasets_dir, "dataset directory", err);
    if (rc == DCR_OK) {
        st->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (st->lock_fd < 0)
            rc = dcr_fail(err, DCR_EINPUT, "state: cannot open %s: %s", lock_path, strerror(errno));
    }
    free(lock_path);
    if (rc == DCR_OK)
        rc = setup_db(st, o.busy_timeout_ms > 0 ? o.busy_timeout_ms : 30000, err);
    if (rc == DCR_OK)
        rc = open_checks(st, o.allow_unanchored, err);
    if (rc == DCR_OK)
        rc = st_catalog_recover(st, err);
    if (rc == DCR_OK)
        rc = st_catalog_verify(st, !o.skip_dataset_hash, err);
    if (rc != DCR_OK) {
        dcr_state_close(st);
        return rc;
    }
    *out = st;
    return DCR_OK;
}

void dcr_state_close(dcr_state *st)
{
    if (!st)
        return;
    if (st->db)
        sqlite3_close_v2(st->db);
    if (st->lock_fd >= 0)
        close(st->lock_fd);
    if (st->instance_fd >= 0)
        close(st->instance_fd); /* releases the directory for the next instance */
    dcr_wipe(st->audit_seed, sizeof st->audit_seed);
    pthread_mutex_destroy(&st->mu);
    free(st->dir);
    free(st->datasets_dir);
    free(st->tcti);
    free(st);
}

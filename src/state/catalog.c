/*
 * catalog.c: uploaded datasets: ciphertext files in DIR/datasets/ and their
 * catalog rows.
 *
 * An upload is a pending row plus DIR/datasets/.ID.tmp, held under flock by
 * the writer. Commit fsyncs the file, renames it to ID.sealed, fsyncs the
 * directory, and only then flips the row to committed (replacing an older
 * upload of the same name, whose grants go with it). File names are random
 * ids, never derived from dataset names. Whatever a crash leaves (pending
 * rows, temp files, renamed but uncommitted files, replaced files not yet
 * removed) is not visible through the API and is removed by the next open,
 * except files another process still holds its lock on.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/bytes.h"
#include "base/fileio.h"
#include "crypto/hash.h"
#include "crypto/util.h"
#include "state/internal.h"

#define NAME_MAX_LEN 200

struct dcr_state_upload {
    dcr_state *st;
    int fd;
    int64_t row;
    char *temp_path;
    char *final_path;
    dcr_hash_ctx *hash;
    uint64_t size;
    char *name, *owner;
    uint8_t contract_hash[32];
};

void dcr_dataset_info_free(dcr_dataset_info *d)
{
    if (!d)
        return;
    free(d->name);
    free(d->owner);
    free(d->path);
    memset(d, 0, sizeof *d);
}

static dcr_status fsync_dir(const char *dir, dcr_error *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return dcr_fail(err, DCR_EINPUT, "state: fsync of %s: %s", dir, strerror(e));
    }
    close(fd);
    return DCR_OK;
}

static char *file_path(dcr_state *st, const char *id, bool temp)
{
    char name[40];
    snprintf(name, sizeof name, temp ? ".%.16s.tmp" : "%.16s.sealed", id);
    return st_path(st->datasets_dir, name);
}

static dcr_status check_name(const char *what, const char *s, dcr_error *err)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > NAME_MAX_LEN)
        return dcr_fail(err, DCR_EINPUT, "state: %s must be 1 to %d bytes", what, NAME_MAX_LEN);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return dcr_fail(err, DCR_EINPUT, "state: %s contains a control character", what);
    return DCR_OK;
}

dcr_status dcr_state_upload_begin(dcr_state *st, const char *name, const char *owner,
                                  const uint8_t contract_hash[32], dcr_state_upload **out,
                                  dcr_error *err)
{
    *out = NULL;
    dcr_status rc;
    if ((rc = check_name("dataset name", name, err)) ||
        (rc = check_name("dataset owner", owner, err)))
        return rc;
    uint8_t rnd[8];
    char id[17];
    if ((rc = dcr_random_bytes(rnd, sizeof rnd, err)))
        return rc;
    dcr_hex_encode(id, rnd, sizeof rnd);
    dcr_state_upload *up = calloc(1, sizeof *up);
    if (!up)
        return dcr_fail(err, DCR_EINTERNAL, "state: out of memory");
    up->st = st;
    up->fd = -1;
    up->temp_path = file_path(st, id, true);
    up->final_path = file_path(st, id, false);
    up->name = st_strdup(name);
    up->owner = st_strdup(owner);
    memcpy(up->contract_hash, contract_hash, 32);
    if (!up->temp_path || !up->final_path || !up->name || !up->owner) {
        dcr_state_upload_abort(up);
        return dcr_fail(err, DCR_EINTERNAL, "state: out of memory");
    }
    if ((rc = dcr_hash_init(&up->hash, DCR_SHA256, err))) {
        dcr_state_upload_abort(up);
        return rc;
    }
    pthread_mutex_lock(&st->mu);
    /* The file is created and locked under the database write lock, so the
     * crash cleanup of another process never sees it unlocked. */
    rc = st_write_begin(st, false, err);
    if (rc == DCR_OK) {
        up->fd = open(up->temp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (up->fd < 0 || flock(up->fd, LOCK_EX) != 0)
            rc = dcr_fail(err, DCR_EINPUT, "state: cannot create %s: %s", up->temp_path,
                          strerror(errno));
        sqlite3_stmt *s = NULL;
        char file[40];
        snprintf(file, sizeof file, "%s.sealed", id);
        if (rc == DCR_OK &&
            !(rc = st_prepare(st,
                              "INSERT INTO datasets(name, owner, contract_hash, file, uploaded_at, "
                              "state) VALUES(?, ?, ?, ?, ?, 'pending')",
                              &s, err))) {
            sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 2, owner, -1, SQLITE_STATIC);
            sqlite3_bind_blob(s, 3, contract_hash, 32, SQLITE_STATIC);
            sqlite3_bind_text(s, 4, file, -1, SQLITE_STATIC);
            sqlite3_bind_int64(s, 5, st_now());
            if (sqlite3_step(s) != SQLITE_DONE)
                rc = st_sql_fail(st, err, "recording a pending upload");
            up->row = sqlite3_last_insert_rowid(st->db);
        }
        sqlite3_finalize(s);
        rc = st_write_end(st, rc, err);
    }
    pthread_mutex_unlock(&st->mu);
    if (rc != DCR_OK) {
        up->row = 0;
        dcr_state_upload_abort(up);
        return rc;
    }
    *out = up;
    return DCR_OK;
}

dcr_status dcr_state_upload_write(dcr_state_upload *up, const void *data, size_t len,
                                  dcr_error *err)
{
    dcr_status rc = dcr_write_all(up->fd, data, len, up->temp_path, err);
    if (rc == DCR_OK)
        rc = dcr_hash_update(up->hash, data, len, err);
    if (rc == DCR_OK)
        up->size += len;
    return rc;
}

static void upload_free(dcr_state_upload *up)
{
    if (up->fd >= 0)
        close(up->fd); /* releases the lock last */
    dcr_hash_free(up->hash);
    free(up->temp_path);
    free(up->final_path);
    free(up->name);
    free(up->owner);
    free(up);
}

void dcr_state_upload_abort(dcr_state_upload *up)
{
    if (!up)
        return;
    if (up->temp_path)
        unlink(up->temp_path);
    if (up->final_path && up->row)
        unlink(up->final_path);
    if (up->row) {
        dcr_state *st = up->st;
        pthread_mutex_lock(&st->mu);
        sqlite3_stmt *s;
        dcr_error ignored;
        if (st_write_begin(st, false, &ignored) == DCR_OK) {
            dcr_status rc = st_prepare(
                st, "DELETE FROM datasets WHERE id = ? AND state = 'pending'", &s, &ignored);
            if (rc == DCR_OK) {
                sqlite3_bind_int64(s, 1, up->row);
                if (sqlite3_step(s) != SQLITE_DONE)
                    rc = DCR_EINTERNAL;
                sqlite3_finalize(s);
            }
            st_write_end(st, rc, &ignored);
        }
        pthread_mutex_unlock(&st->mu);
    }
    upload_free(up);
}

/* Flips the pending row to committed, dropping an older upload of the same
 * name; *old_file gets that upload's file name (caller frees). */
static dcr_status commit_row(dcr_state *st, dcr_state_upload *up, const uint8_t sha[32],
                             int64_t rows, char **old_file, dcr_error *err)
{
    *old_file = NULL;
    sqlite3_stmt *s;
    dcr_status rc = st_prepare(st,
                               "SELECT o.id, o.file FROM datasets o JOIN datasets p ON "
                               "o.name = p.name WHERE p.id = ? AND o.state = 'committed'",
                               &s, err);
    if (rc != DCR_OK)
        return rc;
    sqlite3_bind_int64(s, 1, up->row);
    int64_t old_id = 0;
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        old_id = sqlite3_column_int64(s, 0);
        *old_file = st_strdup((const char *)sqlite3_column_text(s, 1));
    } else if (r != SQLITE_DONE) {
        rc = st_sql_fail(st, err, "looking up the dataset");
    }
    sqlite3_finalize(s);
    if (rc == DCR_OK && old_id &&
        !(rc = st_prepare(st, "DELETE FROM datasets WHERE id = ?", &s, err))) {
        sqlite3_bind_int64(s, 1, old_id);
        if (sqlite3_step(s) != SQLITE_DONE)
            rc = st_sql_fail(st, err, "replacing the dataset");
        sqlite3_finalize(s);
    }
    if (rc == DCR_OK &&
        !(rc =
              st_prepare(st,
                         "UPDATE datasets SET state = 'committed', sha256 = ?, size = ?, rows = ?, "
                         "uploaded_at = ? WHERE id = ? AND state = 'pending'",
                         &s, err))) {
        sqlite3_bind_blob(s, 1, sha, 32, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, (sqlite3_int64)up->size);
        sqlite3_bind_int64(s, 3, rows);
        sqlite3_bind_int64(s, 4, st_now());
        sqlite3_bind_int64(s, 5, up->row);
        if (sqlite3_step(s) != SQLITE_DONE)
            rc = st_sql_fail(st, err, "committing the upload");
        else if (sqlite3_changes(st->db) != 1)
            rc = dcr_fail(err, DCR_EINTERNAL,
                          "state: the pending upload vanished (removed by a crash cleanup?)");
        sqlite3_finalize(s);
    }
    return rc;
}

static dcr_status audit_upload(dcr_state *st, const dcr_state_upload *up, int64_t rows,
                               const uint8_t sha[32], const char *party, dcr_error *err)
{
    char note[160], hex[65];
    dcr_hex_encode(hex, sha, 32);
    snprintf(note, sizeof note, "%lld rows, %llu bytes, sha256 %s", (long long)rows,
             (unsigned long long)up->size, hex);
    dcr_audit_entry e = {
        .type = "upload", .party = party, .sql = up->name, .decision = "accepted", .reason = note};
    return st_audit_append_locked(st, &e, NULL, NULL, err);
}

dcr_status dcr_state_upload_commit(dcr_state_upload *up, int64_t rows, const char *audit_party,
                                   dcr_dataset_info *info, dcr_error *err)
{
    dcr_state *st = up->st;
    uint8_t sha[32];
    dcr_status rc = DCR_OK;
    if (fsync(up->fd) != 0)
        rc = dcr_fail(err, DCR_EINPUT, "state: fsync of %s: %s", up->temp_path, strerror(errno));
    if (rc == DCR_OK) {
        rc = dcr_hash_final(up->hash, sha, err);
        up->hash = NULL;
    }
    if (rc == DCR_OK && rename(up->temp_path, up->final_path) != 0)
        rc = dcr_fail(err, DCR_EINPUT, "state: rename to %s: %s", up->final_path, strerror(errno));
    if (rc == DCR_OK)
        rc = fsync_dir(st->datasets_dir, err);
    char *old_file = NULL;
    if (rc == DCR_OK) {
        pthread_mutex_lock(&st->mu);
        rc = st_write_begin(st, audit_party != NULL, err);
        if (rc == DCR_OK) {
            dcr_status w = commit_row(st, up, sha, rows < 0 ? -1 : rows, &old_file, err);
            if (w == DCR_OK && audit_party)
                w = audit_upload(st, up, rows, sha, audit_party, err);
            rc = st_write_end(st, w, err);
        }
        pthread_mutex_unlock(&st->mu);
    }
    if (rc != DCR_OK) {
        free(old_file);
        dcr_state_upload_abort(up);
        return rc;
    }
    if (old_file) {
        char *p = st_path(st->datasets_dir, old_file);
        if (p)
            unlink(p); /* a crash here leaves an orphan the next open removes */
        free(p);
        free(old_file);
    }
    if (info) {
        memset(info, 0, sizeof *info);
        info->path = st_strdup(up->final_path);
        info->name = st_strdup(up->name);
        info->owner = st_strdup(up->owner);
        memcpy(info->contract_hash, up->contract_hash, 32);
        memcpy(info->sha256, sha, 32);
        info->size = up->size;
        info->rows = rows < 0 ? -1 : rows;
        info->uploaded_at = st_now();
    }
    upload_free(up);
    return DCR_OK;
}

/* ---- reading ------------------------------------------------------------ */

static const char *SELECT_COLS =
    "SELECT name, owner, contract_hash, file, sha256, size, rows, uploaded_at FROM datasets ";

static dcr_status row_info(dcr_state *st, sqlite3_stmt *s, dcr_dataset_info *d, dcr_error *err)
{
    memset(d, 0, sizeof *d);
    d->name = st_strdup((const char *)sqlite3_column_text(s, 0));
    d->owner = st_strdup((const char *)sqlite3_column_text(s, 1));
    d->path = st_path(st->datasets_dir, (const char *)sqlite3_column_text(s, 3));
    if (!d->name || !d->owner || !d->path) {
        dcr_dataset_info_free(d);
        return dcr_fail(err, DCR_EINTERNAL, "state: out of memory");
    }
    if (sqlite3_column_bytes(s, 2) != 32 || sqlite3_column_bytes(s, 4) != 32) {
        char q[80];
        dcr_error_quote(q, sizeof q, d->name, strlen(d->name));
        dcr_dataset_info_free(d);
        return dcr_fail(err, DCR_EINPUT, "state: catalog row of dataset '%s' is malformed", q);
    }
    memcpy(d->contract_hash, sqlite3_column_blob(s, 2), 32);
    memcpy(d->sha256, sqlite3_column_blob(s, 4), 32);
    d->size = (uint64_t)sqlite3_column_int64(s, 5);
    d->rows = sqlite3_column_int64(s, 6);
    d->uploaded_at = sqlite3_column_int64(s, 7);
    return DCR_OK;
}

/* The file at d->path has d's size and (when full) SHA-256. */
static dcr_status check_file(const dcr_dataset_info *d, bool full, dcr_error *err)
{
    char q[80];
    dcr_error_quote(q, sizeof q, d->name, strlen(d->name));
    int fd = open(d->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return dcr_fail(err, DCR_ECRYPTO, "state: dataset '%s': ciphertext %s is missing: %s", q,
                        d->path, strerror(errno));
    struct stat sb;
    dcr_status rc = DCR_OK;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || (uint64_t)sb.st_size != d->size)
        rc = dcr_fail(err, DCR_ECRYPTO,
                      "state: dataset '%s': ciphertext %s has the wrong size (tampered or "
                      "truncated)",
                      q, d->path);
    if (rc == DCR_OK && full) {
        dcr_hash_ctx *h;
        uint8_t sha[32];
        static const size_t CHUNK = 1 << 20;
        uint8_t *buf = malloc(CHUNK);
        if (!buf || (rc = dcr_hash_init(&h, DCR_SHA256, err))) {
            free(buf);
            close(fd);
            return rc ? rc : dcr_fail(err, DCR_EINTERNAL, "state: out of memory");
        }
        for (;;) {
            size_t got;
            if ((rc = dcr_read_full(fd, buf, CHUNK, &got, d->path, err)) ||
                (rc = dcr_hash_update(h, buf, got, err)) || got < CHUNK)
                break;
        }
        free(buf);
        if (rc != DCR_OK)
            dcr_hash_free(h);
        else if (!(rc = dcr_hash_final(h, sha, err)) && !dcr_ct_equal(sha, d->sha256, 32))
            rc = dcr_fail(err, DCR_ECRYPTO,
                          "state: dataset '%s': ciphertext %s does not match its SHA-256 in the "
                          "catalog (tampered or replaced)",
                          q, d->path);
    }
    close(fd);
    return rc;
}

static dcr_status dataset_find(dcr_state *st, const char *name, bool full, dcr_dataset_info *out,
                               dcr_error *err)
{
    memset(out, 0, sizeof *out);
    char sql[256];
    snprintf(sql, sizeof sql, "%sWHERE name = ? AND state = 'committed'", SELECT_COLS);
    pthread_mutex_lock(&st->mu);
    sqlite3_stmt *s;
    dcr_status rc = st_prepare(st, sql, &s, err);
    if (rc == DCR_OK) {
        sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
        int r = sqlite3_step(s);
        if (r == SQLITE_ROW)
            rc = row_info(st, s, out, err);
        else if (r == SQLITE_DONE) {
            char q[80];
            dcr_error_quote(q, sizeof q, name, strlen(name));
            rc = dcr_fail(err, DCR_EINPUT, "state: no dataset '%s' has been uploaded", q);
        } else
            rc = st_sql_fail(st, err, "reading the catalog");
        sqlite3_finalize(s);
    }
    pthread_mutex_unlock(&st->mu);
    if (rc == DCR_OK && (rc = check_file(out, full, err)))
        dcr_dataset_info_free(out);
    return rc;
}

dcr_status dcr_state_dataset_get(dcr_state *st, const char *name, dcr_dataset_info *out,
                                 dcr_error *err)
{
    return dataset_find(st, name, true, out, err);
}

dcr_status dcr_state_dataset_lookup(dcr_state *st, const char *name, dcr_dataset_info *out,
                                    dcr_error *err)
{
    return dataset_find(st, name, false, out, err);
}

dcr_status dcr_state_dataset_list(dcr_state *st, dcr_dataset_info **out, size_t *n, dcr_error *err)
{
    *out = NULL;
    *n = 0;
    char sql[256];
    snprintf(sql, sizeof sql, "%sWHERE state = 'committed' ORDER BY name", SELECT_COLS);
    pthread_mutex_lock(&st->mu);
    sqlite3_stmt *s;
    dcr_status rc = st_prepare(st, sql, &s, err);
    size_t cap = 0;
    int r = SQLITE_DONE;
    while (rc == DCR_OK && (r = sqlite3_step(s)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            dcr_dataset_info *v = realloc(*out, cap * sizeof *v);
            if (!v) {
                rc = dcr_fail(err, DCR_EINTERNAL, "state: out of memory");
                break;
            }
            *out = v;
        }
        if ((rc = row_info(st, s, &(*out)[*n], err)))
            break;
        (*n)++;
    }
    if (rc == DCR_OK && r != SQLITE_DONE)
        rc = st_sql_fail(st, err, "reading the catalog");
    if (s)
        sqlite3_finalize(s);
    pthread_mutex_unlock(&st->mu);
    if (rc != DCR_OK) {
        for (size_t i = 0; i < *n; i++)
            dcr_dataset_info_free(&(*out)[i]);
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

/* ---- crash recovery and verification on open ---------------------------- */

/* True when nobody holds path's lock (or it does not exist). */
static bool unlocked(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT;
    bool free_ = flock(fd, LOCK_EX | LOCK_NB) == 0;
    close(fd);
    return free_;
}

typedef struct {
    char **v;
    size_t n, cap;
} name_set;

static bool set_add(name_set *s, const char *name)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        char **v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return false;
        s->v = v;
        s->cap = cap;
    }
    return (s->v[s->n] = st_strdup(name)) != NULL && ++s->n;
}

static bool set_has(const name_set *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], name) == 0)
            return true;
    return false;
}

static void set_free(name_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
}

/* Pending rows whose writer is gone are deleted with their files; files
 * that no row keeps (and nobody holds) are removed. */
static dcr_status recover_locked(dcr_state *st, dcr_error *err)
{
    name_set keep = {0};
    sqlite3_stmt *s, *del = NULL;
    dcr_status rc = st_prepare(st, "SELECT id, file, state FROM datasets", &s, err);
    if (rc == DCR_OK)
        rc = st_prepare(st, "DELETE FROM datasets WHERE id = ?", &del, err);
    int r = SQLITE_DONE;
    while (rc == DCR_OK && (r = sqlite3_step(s)) == SQLITE_ROW) {
        const char *file = (const char *)sqlite3_column_text(s, 1);
        bool pending = strcmp((const char *)sqlite3_column_text(s, 2), "pending") == 0;
        char tmp[48];
        snprintf(tmp, sizeof tmp, ".%.16s.tmp", file);
        char *fp = st_path(st->datasets_dir, file), *tp = st_path(st->datasets_dir, tmp);
        if (!fp || !tp)
            rc = dcr_fail(err, DCR_EINTERNAL, "state: out of memory");
        else if (pending && unlocked(tp) && unlocked(fp)) {
            unlink(tp);
            unlink(fp);
            sqlite3_reset(del);
            sqlite3_bind_int64(del, 1, sqlite3_column_int64(s, 0));
            if (sqlite3_step(del) != SQLITE_DONE)
                rc = st_sql_fail(st, err, "removing a crashed upload");
        } else if (!set_add(&keep, file) || (pending && !set_add(&keep, tmp)))
            rc = dcr_fail(err, DCR_EINTERNAL, "state: out of memory");
        free(fp);
        free(tp);
    }
    if (rc == DCR_OK && r != SQLITE_DONE)
        rc = st_sql_fail(st, err, "reading the catalog");
    sqlite3_finalize(s);
    sqlite3_finalize(del);
    DIR *d = rc == DCR_OK ? opendir(st->datasets_dir) : NULL;
    if (rc == DCR_OK && !d)
        rc = dcr_fail(err, DCR_EINPUT, "state: cannot list %s: %s", st->datasets_dir,
                      strerror(errno));
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            set_has(&keep, e->d_name))
            continue;
        char *p = st_path(st->datasets_dir, e->d_name);
        struct stat sb;
        if (p && lstat(p, &sb) == 0 && S_ISREG(sb.st_mode) && unlocked(p))
            unlink(p);
        free(p);
    }
    if (d)
        closedir(d);
    set_free(&keep);
    return rc;
}

dcr_status st_catalog_recover(dcr_state *st, dcr_error *err)
{
    dcr_status rc = st_write_begin(st, false, err);
    if (rc == DCR_OK)
        rc = st_write_end(st, recover_locked(st, err), err);
    return rc;
}

dcr_status st_catalog_verify(dcr_state *st, bool full_hash, dcr_error *err)
{
    dcr_dataset_info *v;
    size_t n;
    dcr_status rc = dcr_state_dataset_list(st, &v, &n, err);
    for (size_t i = 0; rc == DCR_OK && i < n; i++)
        rc = check_file(&v[i], full_hash, err);
    for (size_t i = 0; i < n; i++)
        dcr_dataset_info_free(&v[i]);
    free(v);
    return rc;
}

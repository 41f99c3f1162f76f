/*
 * history.c: released-row history for the differencing defence. The
 * privacy piece decides what a row sketch is; here it is an opaque blob
 * under (scope, fingerprint), the scope one history (one per contract,
 * shared by its analysts; the column keeps its old name, analyst). The
 * history of one scope is capped in bytes; a full history refuses new
 * entries instead of forgetting old ones, since forgetting would let an
 * analyst flush the defence with junk queries.
 */
#include <stdio.h>
#include <string.h>

#include "state/internal.h"

#define FP_MAX 256

static dcr_status used_bytes(dcr_state *st, const char *scope, const uint8_t *fp, size_t fp_len,
                             int64_t *used, dcr_error *err)
{
    sqlite3_stmt *s;
    dcr_status rc = st_prepare(st,
                               "SELECT coalesce(sum(length(fp) + length(blob)), 0) FROM history "
                               "WHERE analyst = ? AND fp != ?",
                               &s, err);
    if (rc != DCR_OK)
        return rc;
    sqlite3_bind_text(s, 1, scope, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, fp, (int)fp_len, SQLITE_STATIC);
    if (sqlite3_step(s) == SQLITE_ROW)
        *used = sqlite3_column_int64(s, 0);
    else
        rc = st_sql_fail(st, err, "measuring the history");
    sqlite3_finalize(s);
    return rc;
}

static dcr_status put_locked(dcr_state *st, const char *scope, const uint8_t *fp, size_t fp_len,
                             const uint8_t *blob, size_t len, dcr_error *err)
{
    int64_t used = 0;
    dcr_status rc = used_bytes(st, scope, fp, fp_len, &used, err);
    if (rc != DCR_OK)
        return rc;
    if ((uint64_t)used + fp_len + len > st->history_cap) {
        char q[80];
        dcr_error_quote(q, sizeof q, scope, strlen(scope));
        return dcr_fail(err, DCR_EINPUT,
                        "history: the released-row history '%s' is full (%lld of %llu bytes); "
                        "no further results can be released under it",
                        q, (long long)used, (unsigned long long)st->history_cap);
    }
    sqlite3_stmt *s;
    if ((rc = st_prepare(st,
                         "INSERT INTO history VALUES(?1, ?2, ?3, ?4) ON CONFLICT(analyst, fp) "
                         "DO UPDATE SET blob = ?3",
                         &s, err)))
        return rc;
    sqlite3_bind_text(s, 1, scope, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, fp, (int)fp_len, SQLITE_STATIC);
    sqlite3_bind_blob(s, 3, len ? (const void *)blob : "", (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, st_now());
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = st_sql_fail(st, err, "storing history");
    sqlite3_finalize(s);
    return rc;
}

static dcr_status check_args(const char *scope, size_t fp_len, dcr_error *err)
{
    if (!scope || !*scope)
        return dcr_fail(err, DCR_EINPUT, "history: no scope");
    if (fp_len == 0 || fp_len > FP_MAX)
        return dcr_fail(err, DCR_EINPUT, "history: a fingerprint must be 1 to %d bytes", FP_MAX);
    return DCR_OK;
}

dcr_status dcr_state_history_put(dcr_state *st, const char *scope, const uint8_t *fp, size_t fp_len,
                                 const uint8_t *blob, size_t blob_len, dcr_error *err)
{
    dcr_status rc = check_args(scope, fp_len, err);
    if (rc != DCR_OK)
        return rc;
    if (blob_len > st->history_cap)
        return dcr_fail(err, DCR_EINPUT, "history: a %zu-byte entry exceeds the cap", blob_len);
    pthread_mutex_lock(&st->mu);
    rc = st_write_begin(st, false, err);
    if (rc == DCR_OK)
        rc = st_write_end(st, put_locked(st, scope, fp, fp_len, blob, blob_len, err), err);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

dcr_status dcr_state_history_get(dcr_state *st, const char *scope, const uint8_t *fp, size_t fp_len,
                                 dcr_buf *out, bool *found, dcr_error *err)
{
    *found = false;
    dcr_status rc = check_args(scope, fp_len, err);
    if (rc != DCR_OK)
        return rc;
    pthread_mutex_lock(&st->mu);
    sqlite3_stmt *s;
    if (!(rc = st_prepare(st, "SELECT blob FROM history WHERE analyst = ? AND fp = ?", &s, err))) {
        sqlite3_bind_text(s, 1, scope, -1, SQLITE_STATIC);
        sqlite3_bind_blob(s, 2, fp, (int)fp_len, SQLITE_STATIC);
        int r = sqlite3_step(s);
        if (r == SQLITE_ROW) {
            rc = dcr_buf_append(out, sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0),
                                err);
            *found = rc == DCR_OK;
        } else if (r != SQLITE_DONE)
            rc = st_sql_fail(st, err, "reading history");
        sqlite3_finalize(s);
    }
    pthread_mutex_unlock(&st->mu);
    return rc;
}

dcr_status dcr_state_history_each(dcr_state *st, const char *scope, dcr_state_history_cb cb,
                                  void *ctx, dcr_error *err)
{
    pthread_mutex_lock(&st->mu);
    sqlite3_stmt *s;
    dcr_status rc =
        st_prepare(st,
                   scope ? "SELECT fp, blob FROM history WHERE analyst = ? ORDER BY rowid"
                         : "SELECT fp, blob FROM history ORDER BY rowid",
                   &s, err);
    if (rc == DCR_OK) {
        if (scope)
            sqlite3_bind_text(s, 1, scope, -1, SQLITE_STATIC);
        int r = SQLITE_DONE;
        while (rc == DCR_OK && (r = sqlite3_step(s)) == SQLITE_ROW)
            rc = cb(ctx, sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0),
                    sqlite3_column_blob(s, 1), (size_t)sqlite3_column_bytes(s, 1), err);
        if (rc == DCR_OK && r != SQLITE_DONE)
            rc = st_sql_fail(st, err, "reading history");
        sqlite3_finalize(s);
    }
    pthread_mutex_unlock(&st->mu);
    return rc;
}

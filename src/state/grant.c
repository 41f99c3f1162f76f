/*
 * grant.c: data keys granted to an instance. A provider wraps its dataset's
 * data key to the running instance's HPKE key (after verifying its
 * attestation) and the wrapped blob is kept here, keyed by dataset and
 * instance public key. A new instance has a new key, so grants made to an
 * old one are simply never found: providers re-grant after verifying the new
 * evidence. Replacing a dataset drops its grants (ON DELETE CASCADE).
 */
#include <stdio.h>
#include <string.h>

#include "state/internal.h"

#define WRAPPED_MAX 4096

static dcr_status dataset_id(dcr_state *st, const char *dataset, int64_t *id, dcr_error *err)
{
    sqlite3_stmt *s;
    dcr_status rc =
        st_prepare(st, "SELECT id FROM datasets WHERE name = ? AND state = 'committed'", &s, err);
    if (rc != DCR_OK)
        return rc;
    sqlite3_bind_text(s, 1, dataset, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW)
        *id = sqlite3_column_int64(s, 0);
    else if (r == SQLITE_DONE) {
        char q[80];
        dcr_error_quote(q, sizeof q, dataset, strlen(dataset));
        rc = dcr_fail(err, DCR_EINPUT, "state: no dataset '%s' has been uploaded", q);
    } else
        rc = st_sql_fail(st, err, "reading the catalog");
    sqlite3_finalize(s);
    return rc;
}

static dcr_status put_locked(dcr_state *st, const char *dataset, const char *party,
                             const uint8_t pub[32], const uint8_t *wrapped, size_t len,
                             dcr_error *err)
{
    int64_t id;
    dcr_status rc = dataset_id(st, dataset, &id, err);
    sqlite3_stmt *s;
    if (rc == DCR_OK &&
        !(rc = st_prepare(st, "INSERT OR REPLACE INTO grants VALUES(?, ?, ?, ?, ?)", &s, err))) {
        sqlite3_bind_int64(s, 1, id);
        sqlite3_bind_blob(s, 2, pub, 32, SQLITE_STATIC);
        sqlite3_bind_text(s, 3, party ? party : "", -1, SQLITE_STATIC);
        sqlite3_bind_blob(s, 4, wrapped, (int)len, SQLITE_STATIC);
        sqlite3_bind_int64(s, 5, st_now());
        if (sqlite3_step(s) != SQLITE_DONE)
            rc = st_sql_fail(st, err, "storing the grant");
        sqlite3_finalize(s);
    }
    return rc;
}

dcr_status dcr_state_grant_put(dcr_state *st, const char *dataset, const char *party,
                               const uint8_t instance_pub[32], const uint8_t *wrapped,
                               size_t wrapped_len, dcr_error *err)
{
    if (wrapped_len == 0 || wrapped_len > WRAPPED_MAX)
        return dcr_fail(err, DCR_EINPUT, "state: a wrapped key must be 1 to %d bytes, not %zu",
                        WRAPPED_MAX, wrapped_len);
    pthread_mutex_lock(&st->mu);
    dcr_status rc = st_write_begin(st, false, err);
    if (rc == DCR_OK)
        rc = st_write_end(
            st, put_locked(st, dataset, party, instance_pub, wrapped, wrapped_len, err), err);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

dcr_status dcr_state_grant_get(dcr_state *st, const char *dataset, const uint8_t instance_pub[32],
                               dcr_buf *wrapped, dcr_error *err)
{
    pthread_mutex_lock(&st->mu);
    int64_t id;
    sqlite3_stmt *s;
    dcr_status rc = dataset_id(st, dataset, &id, err);
    if (rc == DCR_OK &&
        !(rc =
              st_prepare(st, "SELECT wrapped FROM grants WHERE dataset_id = ? AND instance_pub = ?",
                         &s, err))) {
        sqlite3_bind_int64(s, 1, id);
        sqlite3_bind_blob(s, 2, instance_pub, 32, SQLITE_STATIC);
        int r = sqlite3_step(s);
        if (r == SQLITE_ROW)
            rc = dcr_buf_append(wrapped, sqlite3_column_blob(s, 0),
                                (size_t)sqlite3_column_bytes(s, 0), err);
        else if (r == SQLITE_DONE) {
            char q[80];
            dcr_error_quote(q, sizeof q, dataset, strlen(dataset));
            rc = dcr_fail(err, DCR_EINPUT,
                          "state: dataset '%s' has no key grant for this instance: its owner "
                          "must verify this instance and run dcr grant",
                          q);
        } else
            rc = st_sql_fail(st, err, "reading grants");
        sqlite3_finalize(s);
    }
    pthread_mutex_unlock(&st->mu);
    return rc;
}

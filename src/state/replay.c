/*
 * replay.c: request nonces, so a captured signed request cannot be sent
 * again. A request carries its time and a fresh nonce; it is accepted only
 * when its time is within DCR_STATE_REPLAY_WINDOW_S (5 minutes) of the
 * server's clock and (party, nonce) was not seen before. Nonces are kept
 * for the window and then expire: a request old enough for its nonce to
 * have expired is already refused by the time check.
 */
#include <stdio.h>
#include <string.h>

#include "state/internal.h"

#define NONCE_MIN 16
#define NONCE_MAX 64

static dcr_status use_locked(dcr_state *st, const char *party, const uint8_t *nonce, size_t len,
                             int64_t now, dcr_error *err)
{
    sqlite3_stmt *s;
    dcr_status rc = st_prepare(st, "DELETE FROM nonces WHERE seen_at < ?", &s, err);
    if (rc != DCR_OK)
        return rc;
    /* keep one extra window: a request stamped up to a window ahead may
     * arrive while its nonce would otherwise have expired */
    sqlite3_bind_int64(s, 1, now - 2 * DCR_STATE_REPLAY_WINDOW_S);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = st_sql_fail(st, err, "expiring nonces");
    sqlite3_finalize(s);
    if (rc == DCR_OK && !(rc = st_prepare(st, "INSERT INTO nonces VALUES(?, ?, ?)", &s, err))) {
        sqlite3_bind_text(s, 1, party, -1, SQLITE_STATIC);
        sqlite3_bind_blob(s, 2, nonce, (int)len, SQLITE_STATIC);
        sqlite3_bind_int64(s, 3, now);
        int r = sqlite3_step(s);
        if ((sqlite3_extended_errcode(st->db) & 0xff) == SQLITE_CONSTRAINT)
            rc = dcr_fail(err, DCR_EINPUT,
                          "replay: this request nonce was already used: "
                          "request refused as a replay");
        else if (r != SQLITE_DONE)
            rc = st_sql_fail(st, err, "recording the nonce");
        sqlite3_finalize(s);
    }
    return rc;
}

dcr_status dcr_state_nonce_use(dcr_state *st, const char *party, const uint8_t *nonce,
                               size_t nonce_len, int64_t request_time, int64_t now, dcr_error *err)
{
    if (!party || !*party)
        return dcr_fail(err, DCR_EINPUT, "replay: no party");
    if (nonce_len < NONCE_MIN || nonce_len > NONCE_MAX)
        return dcr_fail(err, DCR_EINPUT, "replay: a nonce must be %d to %d bytes, not %zu",
                        NONCE_MIN, NONCE_MAX, nonce_len);
    int64_t skew = request_time - now;
    if (skew > DCR_STATE_REPLAY_WINDOW_S || -skew > DCR_STATE_REPLAY_WINDOW_S)
        return dcr_fail(err, DCR_EINPUT,
                        "replay: request time is %lld s %s the server's clock (window %d s): "
                        "refused (check the client's clock)",
                        (long long)(skew < 0 ? -skew : skew), skew < 0 ? "behind" : "ahead of",
                        DCR_STATE_REPLAY_WINDOW_S);
    pthread_mutex_lock(&st->mu);
    dcr_status rc = st_write_begin(st, false, err);
    if (rc == DCR_OK)
        rc = st_write_end(st, use_locked(st, party, nonce, nonce_len, now, err), err);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

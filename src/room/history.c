/*
 * history.c: the differencing history adapter (history.h).
 */
#include "room/history.h"

#include <string.h>

/* Every entry of the state, whatever its scope: a deployment's state holds
 * one contract's history, and entries stored under an older per-analyst
 * scope or an amended contract's name can only make the check stricter. */
static dcr_status each(void *ctx, const char *scope, dcr_history_cb cb, void *cbctx, dcr_error *err)
{
    (void)scope;
    return dcr_state_history_each(ctx, NULL, cb, cbctx, err);
}

static dcr_status put(void *ctx, const char *scope, const uint8_t *fp, size_t fp_len,
                      const uint8_t *blob, size_t blob_len, dcr_error *err)
{
    return dcr_state_history_put(ctx, scope, fp, fp_len, blob, blob_len, err);
}

dcr_status dcr_room_diff_history(dcr_state *st, const char *dir, dcr_diff_history *h,
                                 dcr_error *err)
{
    memset(h, 0, sizeof *h);
    h->each = each;
    h->put = put;
    h->ctx = st;
    return dcr_state_differencing_key(st, dir, h->key, err);
}

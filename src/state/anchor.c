/*
 * anchor.c: the rollback anchor, a TPM NV counter the operator cannot wind
 * back (the vTPM of an Azure confidential VM; swtpm in tests), via tpm2-tss
 * ESYS over a TCTI named by a string.
 *
 * Protocol (under DIR/anchor.lock, so processes take turns): inside the
 * write transaction read the counter t and give the new audit record
 * anchor t+1; COMMIT; then TPM2_NV_Increment (t -> t+1). So the newest
 * record's anchor d and the counter t satisfy d == t in a quiet state,
 * d == t+1 after a crash between COMMIT and the increment (repaired by the
 * next writer or open), and d < t only when an older database was put back:
 * refused as rolled back. d > t+1 means another TPM or counter: refused.
 * A reported success always has its increment done, so a charge the caller
 * saw succeed can never be rolled back unnoticed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "state/internal.h"

typedef struct {
    TSS2_TCTI_CONTEXT *tcti;
    ESYS_CONTEXT *esys;
} tpm;

static dcr_status tss_fail(dcr_error *err, const char *what, TSS2_RC rc)
{
    return dcr_fail(err, DCR_EINPUT, "state anchor: %s failed: %s", what, Tss2_RC_Decode(rc));
}

static dcr_status tpm_get(dcr_state *st, tpm **out, dcr_error *err)
{
    if (st->tpm) {
        *out = st->tpm;
        return DCR_OK;
    }
    tpm *t = calloc(1, sizeof *t);
    if (!t)
        return dcr_fail(err, DCR_EINTERNAL, "state anchor: out of memory");
    struct stat sb;
    if (strncmp(st->tcti, "device:", 7) == 0 && stat(st->tcti + 7, &sb) != 0) {
        free(t);
        return dcr_fail(err, DCR_EINPUT, "state anchor: no TPM device %s", st->tcti + 7);
    }
    TSS2_RC rc = Tss2_TctiLdr_Initialize(st->tcti, &t->tcti);
    if (rc == TSS2_RC_SUCCESS && (rc = Esys_Initialize(&t->esys, t->tcti, NULL)) != TSS2_RC_SUCCESS)
        Tss2_TctiLdr_Finalize(&t->tcti);
    if (rc != TSS2_RC_SUCCESS) {
        free(t);
        return tss_fail(err, "connecting to the TPM", rc);
    }
    st->tpm = t;
    *out = t;
    return DCR_OK;
}

dcr_status st_tpm_esys(dcr_state *st, ESYS_CONTEXT **out, dcr_error *err)
{
    tpm *t;
    dcr_status rc = tpm_get(st, &t, err);
    *out = rc == DCR_OK ? t->esys : NULL;
    return rc;
}

void st_anchor_release(dcr_state *st)
{
    tpm *t = st->tpm;
    if (!t)
        return;
    if (t->esys)
        Esys_Finalize(&t->esys);
    if (t->tcti)
        Tss2_TctiLdr_Finalize(&t->tcti);
    free(t);
    st->tpm = NULL;
}

/* The ESYS handle of the counter, *defined = false when absent. Refuses an
 * index at that handle that is not a counter (an ordinary index could be
 * written back). */
static dcr_status nv_handle(dcr_state *st, tpm *t, ESYS_TR *h, bool *defined, dcr_error *err)
{
    *defined = false;
    TSS2_RC rc =
        Esys_TR_FromTPMPublic(t->esys, st->nv_index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, h);
    if (rc != TSS2_RC_SUCCESS)
        return DCR_OK;
    TPM2B_NV_PUBLIC *pub = NULL;
    rc = Esys_NV_ReadPublic(t->esys, *h, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, NULL);
    if (rc != TSS2_RC_SUCCESS)
        return tss_fail(err, "reading the counter's NV public area", rc);
    TPMA_NV type = (pub->nvPublic.attributes & TPMA_NV_TPM2_NT_MASK) >> TPMA_NV_TPM2_NT_SHIFT;
    Esys_Free(pub);
    if (type != TPM2_NT_COUNTER)
        return dcr_fail(err, DCR_EINPUT,
                        "state anchor: NV index 0x%08x exists but is not a counter: refusing it",
                        st->nv_index);
    *defined = true;
    return DCR_OK;
}

static dcr_status nv_increment(tpm *t, ESYS_TR h, dcr_error *err)
{
    TSS2_RC rc = Esys_NV_Increment(t->esys, ESYS_TR_RH_OWNER, h, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                   ESYS_TR_NONE);
    return rc == TSS2_RC_SUCCESS ? DCR_OK : tss_fail(err, "TPM2_NV_Increment", rc);
}

static dcr_status nv_read(tpm *t, ESYS_TR h, uint64_t *value, dcr_error *err)
{
    TPM2B_MAX_NV_BUFFER *data = NULL;
    TSS2_RC rc = Esys_NV_Read(t->esys, ESYS_TR_RH_OWNER, h, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                              ESYS_TR_NONE, 8, 0, &data);
    if (rc != TSS2_RC_SUCCESS)
        return tss_fail(err, "reading the counter", rc);
    dcr_status st = DCR_OK;
    if (data->size != 8)
        st = dcr_fail(err, DCR_EINPUT, "state anchor: counter read returned %u bytes", data->size);
    else {
        *value = 0;
        for (int i = 0; i < 8; i++) /* TPM integers are big-endian */
            *value = (*value << 8) | data->buffer[i];
    }
    Esys_Free(data);
    return st;
}

/* Defines the counter and increments it once (a fresh counter cannot be
 * read). It starts at the highest value any counter on this TPM had, so a
 * redefined index never goes backwards. */
static dcr_status nv_define(dcr_state *st, tpm *t, ESYS_TR *h, dcr_error *err)
{
    TPM2B_AUTH auth = {0};
    TPM2B_NV_PUBLIC pub = {.nvPublic = {.nvIndex = st->nv_index,
                                        .nameAlg = TPM2_ALG_SHA256,
                                        .attributes = (TPM2_NT_COUNTER << TPMA_NV_TPM2_NT_SHIFT) |
                                                      TPMA_NV_OWNERWRITE | TPMA_NV_OWNERREAD |
                                                      TPMA_NV_NO_DA,
                                        .dataSize = 8}};
    TSS2_RC rc = Esys_NV_DefineSpace(t->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                     ESYS_TR_NONE, &auth, &pub, h);
    if (rc != TSS2_RC_SUCCESS)
        return tss_fail(err, "defining the counter NV index", rc);
    return nv_increment(t, *h, err);
}

dcr_status st_anchor_read(dcr_state *st, bool *defined, uint64_t *value, dcr_error *err)
{
    *defined = false;
    *value = 0;
    if (!st->tcti)
        return DCR_OK;
    tpm *t;
    ESYS_TR h;
    dcr_status rc = tpm_get(st, &t, err);
    if (rc == DCR_OK && !(rc = nv_handle(st, t, &h, defined, err)) && *defined)
        rc = nv_read(t, h, value, err);
    return rc;
}

static dcr_status meta_get(dcr_state *st, const char *key, char *out, size_t n, bool *found,
                           dcr_error *err)
{
    *found = false;
    sqlite3_stmt *s;
    dcr_status rc = st_prepare(st, "SELECT value FROM meta WHERE key = ?", &s, err);
    if (rc != DCR_OK)
        return rc;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        snprintf(out, n, "%s", (const char *)sqlite3_column_text(s, 0));
        *found = true;
    } else if (r != SQLITE_DONE)
        rc = st_sql_fail(st, err, "reading metadata");
    sqlite3_finalize(s);
    return rc;
}

static dcr_status meta_set(dcr_state *st, const char *key, const char *value, dcr_error *err)
{
    sqlite3_stmt *s;
    dcr_status rc = st_prepare(st, "INSERT OR REPLACE INTO meta VALUES(?, ?)", &s, err);
    if (rc != DCR_OK)
        return rc;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = st_sql_fail(st, err, "writing metadata");
    sqlite3_finalize(s);
    return rc;
}

static dcr_status audit_count(dcr_state *st, int64_t *n, dcr_error *err)
{
    sqlite3_stmt *s;
    dcr_status rc = st_prepare(st, "SELECT count(*) FROM audit", &s, err);
    if (rc == DCR_OK) {
        *n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
        sqlite3_finalize(s);
    }
    return rc;
}

/* Compares the database's anchor d with the counter t; repairs d == t+1. */
static dcr_status compare(dcr_state *st, tpm *t, ESYS_TR h, uint64_t d, uint64_t *tv,
                          dcr_error *err)
{
    dcr_status rc = nv_read(t, h, tv, err);
    if (rc != DCR_OK)
        return rc;
    if (d == *tv + 1) { /* crashed between COMMIT and increment */
        if ((rc = nv_increment(t, h, err)))
            return rc;
        *tv = d;
    }
    if (d < *tv)
        return dcr_fail(err, DCR_EINPUT,
                        "state: ROLLED BACK: %s/state.db ends at anchor %llu but the TPM counter "
                        "0x%08x is at %llu: an older copy of the state was put back; refusing it",
                        st->dir, (unsigned long long)d, st->nv_index, (unsigned long long)*tv);
    if (d > *tv)
        return dcr_fail(err, DCR_EINPUT,
                        "state: %s/state.db is anchored at %llu, ahead of TPM counter 0x%08x "
                        "(%llu): this is not the TPM (or counter) the state was anchored in",
                        st->dir, (unsigned long long)d, st->nv_index, (unsigned long long)*tv);
    return DCR_OK;
}

dcr_status st_anchor_check_open(dcr_state *st, bool allow_unanchored, dcr_error *err)
{
    char anchored[32];
    bool was_anchored;
    dcr_status rc = meta_get(st, "anchor_nv", anchored, sizeof anchored, &was_anchored, err);
    if (rc != DCR_OK)
        return rc;
    if (!st->tcti) {
        if (was_anchored && !allow_unanchored)
            return dcr_fail(err, DCR_EINPUT,
                            "state: %s is anchored in TPM NV counter %s; open it with that TPM "
                            "(opening it without would give up rollback detection)",
                            st->dir, anchored);
        return DCR_OK;
    }
    uint64_t d, tv;
    int64_t records;
    if ((rc = st_audit_head_anchor(st, &d, err)) || (rc = audit_count(st, &records, err)))
        return rc;
    tpm *t;
    ESYS_TR h;
    bool defined;
    if ((rc = tpm_get(st, &t, err)) || (rc = nv_handle(st, t, &h, &defined, err)))
        return rc;
    char want[32];
    snprintf(want, sizeof want, "0x%08x", st->nv_index);
    if (was_anchored && strcmp(anchored, want) != 0)
        return dcr_fail(err, DCR_EINPUT, "state: %s is anchored in NV counter %s, not %s", st->dir,
                        anchored, want);
    if (!defined) {
        if (was_anchored)
            return dcr_fail(err, DCR_EINPUT,
                            "state: the TPM has no NV counter %s any more (TPM cleared or index "
                            "deleted): cannot tell whether %s was rolled back; refusing it",
                            want, st->dir);
        if ((rc = nv_define(st, t, &h, err)))
            return rc;
    } else if (!was_anchored && records > 0) {
        return dcr_fail(err, DCR_EINPUT,
                        "state: %s has audit records but no TPM anchor while NV counter %s "
                        "exists: rolled back to before it was anchored, or another state "
                        "directory uses this counter; refusing it",
                        st->dir, want);
    }
    if (!was_anchored) {
        /* adopt: the first record written will carry t+1 */
        return meta_set(st, "anchor_nv", want, err);
    }
    /* No anchored record yet: indistinguishable from a fresh state (see
     * docs/threat-model.md, "State rollback"). */
    if (d == 0)
        return DCR_OK;
    return compare(st, t, h, d, &tv, err);
}

dcr_status st_anchor_next(dcr_state *st, uint64_t *value, dcr_error *err)
{
    *value = 0;
    if (!st->tcti)
        return DCR_OK;
    if (st->anchor_pending) {
        *value = st->anchor_value;
        return DCR_OK;
    }
    if (!st->in_anchored_write)
        return dcr_fail(err, DCR_EINTERNAL, "state anchor: write without the anchor lock");
    uint64_t d, tv;
    tpm *t;
    ESYS_TR h;
    bool defined;
    dcr_status rc;
    if ((rc = st_audit_head_anchor(st, &d, err)) || (rc = tpm_get(st, &t, err)) ||
        (rc = nv_handle(st, t, &h, &defined, err)))
        return rc;
    if (!defined)
        return dcr_fail(err, DCR_EINPUT, "state anchor: TPM NV counter 0x%08x vanished",
                        st->nv_index);
    /* d == 0: the first anchored record (open adopted the counter). */
    if (d == 0) {
        if ((rc = nv_read(t, h, &tv, err)))
            return rc;
    } else if ((rc = compare(st, t, h, d, &tv, err))) {
        return rc;
    }
    st->anchor_value = tv + 1;
    st->anchor_pending = true;
    *value = tv + 1;
    return DCR_OK;
}

dcr_status st_anchor_advance(dcr_state *st, dcr_error *err)
{
    tpm *t;
    ESYS_TR h;
    bool defined;
    dcr_status rc = tpm_get(st, &t, err);
    if (rc == DCR_OK && !(rc = nv_handle(st, t, &h, &defined, err))) {
        if (!defined)
            rc = dcr_fail(err, DCR_EINPUT, "state anchor: TPM NV counter 0x%08x vanished",
                          st->nv_index);
        else
            rc = nv_increment(t, h, err);
    }
    if (rc != DCR_OK)
        dcr_error_prefix(err, "state: committed, but the rollback anchor was not advanced");
    return rc;
}

dcr_status dcr_state_anchor_status(dcr_state *st, dcr_state_anchor_info *out, dcr_error *err)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&st->mu);
    dcr_status rc = st_audit_head_anchor(st, &out->db_counter, err);
    bool defined = false;
    if (rc == DCR_OK && st->tcti) {
        out->tpm = true;
        rc = st_anchor_read(st, &defined, &out->tpm_counter, err);
        st_anchor_release(st);
    }
    pthread_mutex_unlock(&st->mu);
    return rc;
}

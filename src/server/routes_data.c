/*
 * routes_data.c: PUT /v1/datasets/NAME (upload), GET .../header and
 * POST .../grant (re-grant a data key to this instance).
 *
 * An upload is a sealed file streamed as the request body. It goes straight
 * to the state's pending upload (temp file, fsync, rename on commit) while
 * this file checks it as it passes: the header must be for this contract
 * and dataset, with exactly the contract's schema, and carry a recipient
 * entry that this instance's HPKE key opens; then every chunk is decrypted
 * (authenticated) and decoded in order, the last one exactly at the end. Only
 * a file that passes every check is committed; plaintext exists only in
 * memory, chunk by chunk, and is wiped. The owner keeps its own recipient
 * entry, so after a restart it can re-grant the key (dcr grant) without
 * uploading again.
 */
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/bytes.h"
#include "base/fileio.h"
#include "base/hygiene.h"
#include "server/internal.h"
#include "state/state.h"
#include "store/sealed.h"
#include "store/sealed_reader.h"

/* No chunk ciphertext above this is buffered, whatever the header allows. */
#define MAX_CHUNK_CT ((size_t)64 << 20)

typedef struct {
    size_t ds;
    dcr_state_upload *up;
    dcr_buf head; /* bytes until the header is complete */
    bool have_header;
    dcr_sealed_header h;
    uint8_t key[32];
    dcr_buf pend; /* chunk bytes not yet checked */
    uint32_t index;
    int64_t rows;
    dcr_chunk chunk;
    bool chunk_ready;
    dcr_buf plain, scratch;
} upload_ctx;

static int owner_dataset(srv_request *r, srv_response *res)
{
    const dcr_contract *c = &r->s->contract;
    int ds = dcr_contract_find_dataset(c, r->param);
    if (ds < 0) {
        srv_error(res, 404, "unknown_dataset", "the contract has no dataset '%s'", r->param);
        return -1;
    }
    if ((int)c->datasets[ds].owner != r->party) {
        srv_error(res, 403, "not_owner", "dataset '%s' belongs to %s, not to %s", r->param,
                  c->parties[c->datasets[ds].owner].name, c->parties[r->party].name);
        return -1;
    }
    return ds;
}

static void audit(srv_request *r, const char *type, const char *decision, const char *reason)
{
    dcr_audit_entry e = {.type = type,
                         .party = r->s->contract.parties[r->party].name,
                         .sql = r->param,
                         .decision = decision,
                         .reason = reason};
    dcr_error err = {0};
    if (dcr_state_audit_append(r->s->state, &e, NULL, &err) != DCR_OK)
        srv_log(r->s, "audit", "audit append failed: %s", err.msg);
}

/* Refuses the upload: the error becomes the response and is audited. */
static void refuse(srv_request *r, srv_response *res, const dcr_error *err, const char *code)
{
    atomic_fetch_add(&r->s->metrics.uploads_refused, 1);
    srv_error_from(res, err, code);
    audit(r, "upload", "refused", err->msg);
}

void srv_upload_begin(srv_request *r, srv_response *res)
{
    int ds = owner_dataset(r, res);
    if (ds < 0)
        return;
    upload_ctx *u = calloc(1, sizeof *u);
    if (!u) {
        srv_error(res, 500, "internal", "out of memory");
        return;
    }
    u->ds = (size_t)ds;
    r->route_ctx = u;
    dcr_error err = {0};
    if (dcr_state_upload_begin(r->s->state, r->param, r->s->contract.parties[r->party].name,
                               r->s->contract.hash, &u->up, &err) != DCR_OK)
        srv_error_from(res, &err, "storage");
}

static dcr_status same_schema(const dcr_schema *want, const dcr_schema *got, dcr_error *err)
{
    if (want->ncols != got->ncols)
        return dcr_fail(err, DCR_EINPUT, "the upload has %zu columns, the contract's dataset %zu",
                        got->ncols, want->ncols);
    for (size_t i = 0; i < want->ncols; i++) {
        const dcr_column_def *a = &want->cols[i], *b = &got->cols[i];
        if (strcmp(a->name, b->name) != 0 || a->type != b->type || a->normalize != b->normalize ||
            a->not_null != b->not_null)
            return dcr_fail(err, DCR_EINPUT,
                            "column %zu of the upload (%s) differs from the contract's (%s) in "
                            "name, type, normalisation or NOT NULL",
                            i + 1, b->name, a->name);
    }
    return DCR_OK;
}

static dcr_status check_header(srv_request *r, upload_ctx *u, dcr_error *err)
{
    srv *s = r->s;
    size_t need;
    dcr_status st = dcr_sealed_header_parse(u->head.data, u->head.len, &u->h, &need, err);
    if (st != DCR_OK)
        return dcr_error_prefix(err, "upload header");
    if (strcmp(u->h.schema.dataset, r->param) != 0)
        return dcr_fail(err, DCR_EINPUT, "the upload is sealed for dataset '%s', not '%s'",
                        u->h.schema.dataset, r->param);
    if (u->h.context_len != 32 || !dcr_ct_equal(u->h.context, s->contract.hash, 32))
        return dcr_fail(err, DCR_EINPUT,
                        "the upload is not sealed under this contract (seal it with --contract)");
    dcr_schema want;
    if ((st = dcr_contract_dataset_schema(&s->contract, r->param, &want, err)) != DCR_OK)
        return st;
    st = same_schema(&want, &u->h.schema, err);
    dcr_schema_free(&want);
    if (st != DCR_OK)
        return st;
    if ((st = dcr_sealed_unwrap_key(&u->h, &s->inst.hpke, u->key, err)) != DCR_OK)
        return dcr_fail(err, DCR_ECRYPTO,
                        "the upload's data key is not wrapped to this instance's attested HPKE "
                        "key (%s)",
                        err->msg);
    return dcr_chunk_init(&u->chunk, &u->h.schema, err);
}

/* Decrypts and decodes one chunk of pend (ct at offset 4, ct_len bytes). */
static dcr_status check_chunk(upload_ctx *u, size_t ct_len, bool last, dcr_error *err)
{
    dcr_status st =
        dcr_chunk_decrypt(&u->h, u->key, u->index, last, u->pend.data + 4, ct_len, &u->plain, err);
    if (st != DCR_OK)
        return dcr_fail(err, DCR_ECRYPTO,
                        "chunk %u of the upload does not authenticate (tampered, truncated, "
                        "reordered, or not sealed with this header)",
                        u->index);
    st = dcr_chunk_decode(&u->h, u->plain.data, u->plain.len, NULL, &u->chunk, &u->scratch, err);
    dcr_buf_wipe_free(&u->plain);
    if (st != DCR_OK)
        return dcr_error_prefix(err, "chunk %u of the upload", u->index);
    u->rows += (int64_t)u->chunk.nrows;
    u->index++;
    size_t used = 4 + ct_len;
    memmove(u->pend.data, u->pend.data + used, u->pend.len - used);
    u->pend.len -= used;
    return DCR_OK;
}

/* Checks every chunk of pend that is complete and followed by more data
 * (so it cannot be the last). */
static dcr_status check_chunks(upload_ctx *u, dcr_error *err)
{
    while (u->pend.len >= 4) {
        size_t ct_len = dcr_get_u32le(u->pend.data);
        size_t min = dcr_chunk_overhead(&u->h), max = (size_t)u->h.chunk_bytes_max + min;
        if (ct_len < min || ct_len > max || ct_len > MAX_CHUNK_CT)
            return dcr_fail(err, DCR_EINPUT,
                            "chunk %u of the upload has length %zu, outside %zu..%zu", u->index,
                            ct_len, min, max < MAX_CHUNK_CT ? max : MAX_CHUNK_CT);
        if (u->pend.len <= 4 + ct_len)
            return DCR_OK;
        dcr_status st = check_chunk(u, ct_len, false, err);
        if (st != DCR_OK)
            return st;
    }
    return DCR_OK;
}

static dcr_status take(srv_request *r, upload_ctx *u, const uint8_t *d, size_t n, dcr_error *err)
{
    dcr_status st = dcr_state_upload_write(u->up, d, n, err);
    if (st != DCR_OK)
        return st;
    if (u->have_header)
        return (st = dcr_buf_append(&u->pend, d, n, err)) ? st : check_chunks(u, err);
    if ((st = dcr_buf_append(&u->head, d, n, err)) != DCR_OK)
        return st;
    size_t need;
    if (u->head.len < DCR_SEALED_PREAMBLE_LEN)
        return DCR_OK;
    if ((st = dcr_sealed_preamble_parse(u->head.data, u->head.len, &need, err)) != DCR_OK)
        return dcr_error_prefix(err, "upload");
    if (u->head.len < need)
        return DCR_OK;
    if ((st = check_header(r, u, err)) != DCR_OK)
        return st;
    u->have_header = true;
    st = dcr_buf_append(&u->pend, u->head.data + need, u->head.len - need, err);
    return st ? st : check_chunks(u, err);
}

void srv_upload_data(srv_request *r, const uint8_t *d, size_t n, srv_response *res)
{
    dcr_error err = {0};
    if (take(r, r->route_ctx, d, n, &err) != DCR_OK)
        refuse(r, res, &err, "bad_upload");
}

static dcr_status finish_upload(upload_ctx *u, const char *party, dcr_dataset_info *info,
                                dcr_error *err)
{
    if (!u->have_header)
        return dcr_fail(err, DCR_EINPUT, "the upload ends inside its header (%zu bytes)",
                        u->head.len);
    dcr_status st = DCR_OK;
    if (u->pend.len < 4 || u->pend.len != 4 + (size_t)dcr_get_u32le(u->pend.data))
        return dcr_fail(err, DCR_EINPUT,
                        "the upload is truncated: it ends inside chunk %u (or has no chunk)",
                        u->index);
    if ((st = check_chunk(u, u->pend.len - 4, true, err)) != DCR_OK)
        return st;
    st = dcr_state_upload_commit(u->up, u->rows, party, info, err);
    u->up = NULL; /* commit frees it, also on failure */
    return st;
}

void srv_upload_handle(srv_request *r, srv_response *res)
{
    upload_ctx *u = r->route_ctx;
    srv *s = r->s;
    dcr_error err = {0};
    dcr_dataset_info info = {0};
    srv_data_write_begin(s);
    if (finish_upload(u, s->contract.parties[r->party].name, &info, &err) != DCR_OK) {
        srv_data_write_end(s);
        refuse(r, res, &err, "bad_upload");
        return;
    }
    /* The grant record: this instance's recipient entry, as uploaded. */
    uint8_t id[8], grant[80];
    for (size_t i = 0; i < u->h.nrecipients; i++)
        if (dcr_hpke_key_id(s->inst.pub.hpke_pub, id, NULL) == DCR_OK &&
            memcmp(u->h.recipients[i].key_id, id, 8) == 0) {
            memcpy(grant, u->h.recipients[i].enc, 32);
            memcpy(grant + 32, u->h.recipients[i].wrapped, 48);
        }
    if (dcr_state_grant_put(s->state, r->param, s->contract.parties[r->party].name,
                            s->inst.pub.hpke_pub, grant, sizeof grant, &err) != DCR_OK)
        srv_log(s, "grant", "recording the grant failed: %s", err.msg);
    pthread_mutex_lock(&s->lock);
    srv_data_key *k = &s->keys[u->ds];
    memcpy(k->key, u->key, 32);
    memcpy(k->file_sha256, info.sha256, 32);
    k->present = true;
    pthread_mutex_unlock(&s->lock);
    srv_data_write_end(s);
    atomic_fetch_add(&s->metrics.uploads_ok, 1);
    atomic_fetch_add(&s->metrics.upload_bytes, (unsigned long)info.size);
    char hex[65];
    dcr_hex_encode(hex, info.sha256, 32);
    srv_json(res, 201,
             json_pack("{s:s,s:I,s:I,s:I,s:s}", "dataset", r->param, "rows", (json_int_t)u->rows,
                       "chunks", (json_int_t)u->index, "bytes", (json_int_t)info.size, "sha256",
                       hex));
    dcr_dataset_info_free(&info);
}

void srv_upload_cleanup(srv_request *r)
{
    upload_ctx *u = r->route_ctx;
    if (!u)
        return;
    dcr_state_upload_abort(u->up);
    dcr_wipe(u->key, sizeof u->key);
    dcr_buf_free(&u->head);
    dcr_buf_free(&u->pend);
    dcr_buf_wipe_free(&u->plain);
    dcr_buf_wipe_free(&u->scratch);
    if (u->have_header)
        dcr_chunk_free(&u->chunk);
    dcr_sealed_header_free(&u->h);
    free(u);
    r->route_ctx = NULL;
}

void srv_route_header(srv_request *r, srv_response *res)
{
    if (owner_dataset(r, res) < 0)
        return;
    dcr_error err = {0};
    dcr_dataset_info info = {0};
    dcr_sealed_reader rd;
    srv_data_read_begin(r->s);
    if (dcr_state_dataset_get(r->s->state, r->param, &info, &err) != DCR_OK) {
        srv_data_read_end(r->s);
        srv_error(res, err.code == DCR_EINPUT ? 404 : 500,
                  err.code == DCR_EINPUT ? "not_uploaded" : "storage", "%s", err.msg);
        return;
    }
    if (dcr_sealed_reader_open(&rd, info.path, &err) != DCR_OK) {
        srv_error_from(res, &err, "storage");
    } else {
        size_t n = rd.header.header_len;
        uint8_t *buf = malloc(n);
        size_t got = 0;
        if (buf && lseek(rd.fd, 0, SEEK_SET) == 0 &&
            dcr_read_full(rd.fd, buf, n, &got, "dataset", &err) == DCR_OK && got == n &&
            dcr_buf_append(&res->raw, buf, n, &err) == DCR_OK) {
            res->status = 200;
            res->raw_type = "application/octet-stream";
        } else {
            srv_error(res, 500, "storage", "cannot read the stored header of '%s'", r->param);
        }
        free(buf);
        dcr_sealed_reader_close(&rd);
    }
    srv_data_read_end(r->s);
    dcr_dataset_info_free(&info);
}

/* Unwraps a grant for the stored file and proves the key on its first
 * chunk; on success the key is in key. */
static dcr_status open_grant(srv *s, const char *path, const uint8_t enc[32],
                             const uint8_t wrapped[48], uint8_t key[32], dcr_error *err)
{
    dcr_sealed_reader rd;
    dcr_status st = dcr_sealed_reader_open(&rd, path, err);
    if (st != DCR_OK)
        return st;
    dcr_sealed_header *h = &rd.header;
    h->nrecipients = 1;
    if ((st = dcr_hpke_key_id(s->inst.pub.hpke_pub, h->recipients[0].key_id, err)) == DCR_OK) {
        memcpy(h->recipients[0].enc, enc, 32);
        memcpy(h->recipients[0].wrapped, wrapped, 48);
        st = dcr_sealed_unwrap_key(h, &s->inst.hpke, key, err);
    }
    const uint8_t *ct;
    size_t ct_len;
    uint32_t index;
    bool last;
    dcr_buf plain = DCR_BUF_INIT;
    if (st == DCR_OK &&
        (st = dcr_sealed_reader_next(&rd, &ct, &ct_len, &index, &last, err)) == DCR_OK)
        st = ct ? dcr_sealed_reader_decrypt(&rd, key, ct, ct_len, index, last, &plain, err)
                : dcr_fail(err, DCR_EINPUT, "the stored file has no chunk");
    if (st != DCR_OK)
        dcr_error_prefix(err, "the granted key does not open the stored dataset");
    dcr_buf_wipe_free(&plain);
    dcr_sealed_reader_close(&rd);
    return st;
}

bool srv_grant_body_parse(const uint8_t *body, size_t len, uint8_t grant[80], srv_response *res)
{
    static const char *const keys[] = {"enc", "wrapped", NULL};
    json_t *o;
    if (!srv_body_strings(body, len, keys, &o, res))
        return false;
    const char *enc_hex = json_string_value(json_object_get(o, "enc"));
    const char *wr_hex = json_string_value(json_object_get(o, "wrapped"));
    bool enc_ok = strlen(enc_hex) == 64 && dcr_hex_decode(grant, 32, enc_hex, 64);
    bool wr_ok = strlen(wr_hex) == 96 && dcr_hex_decode(grant + 32, 48, wr_hex, 96);
    json_decref(o);
    if (!enc_ok || !wr_ok)
        srv_error(res, 400, "bad_request",
                  "\"%s\" must be %d hex digits (the %s); `dcr grant` makes this body",
                  enc_ok ? "wrapped" : "enc", enc_ok ? 96 : 64,
                  enc_ok ? "HPKE-wrapped data key" : "HPKE encapsulated key");
    return enc_ok && wr_ok;
}

void srv_route_grant(srv_request *r, srv_response *res)
{
    int ds = owner_dataset(r, res);
    if (ds < 0)
        return;
    srv *s = r->s;
    uint8_t grant[80], key[32];
    /* finish() NUL-terminated the body: that byte is not part of it */
    if (!srv_grant_body_parse(r->body.data, r->body.len - 1, grant, res))
        return;
    dcr_error err = {0};
    dcr_dataset_info info = {0};
    srv_data_read_begin(s);
    dcr_status st = dcr_state_dataset_get(s->state, r->param, &info, &err);
    if (st == DCR_OK)
        st = open_grant(s, info.path, grant, grant + 32, key, &err);
    if (st == DCR_OK)
        st = dcr_state_grant_put(s->state, r->param, s->contract.parties[r->party].name,
                                 s->inst.pub.hpke_pub, grant, sizeof grant, &err);
    if (st != DCR_OK) {
        srv_error_from(res, &err, "bad_grant");
        audit(r, "grant", "refused", err.msg);
        atomic_fetch_add(&s->metrics.grants_refused, 1);
    } else {
        pthread_mutex_lock(&s->lock);
        memcpy(s->keys[ds].key, key, 32);
        memcpy(s->keys[ds].file_sha256, info.sha256, 32);
        s->keys[ds].present = true;
        pthread_mutex_unlock(&s->lock);
        audit(r, "grant", "accepted", "data key granted to this instance");
        atomic_fetch_add(&s->metrics.grants_ok, 1);
        srv_json(res, 200, json_pack("{s:s,s:b}", "dataset", r->param, "granted", 1));
    }
    srv_data_read_end(s);
    dcr_wipe(key, sizeof key);
    dcr_dataset_info_free(&info);
}

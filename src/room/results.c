/*
 * results.c: results kept for their receivers (room.h, docs/privacy.md
 * "Receivers").
 *
 * A result is sealed to each receiver on its own: HPKE base mode (RFC 9180,
 * crypto/hpke.h) to the X25519 key the contract lists for that party, with
 *
 *   info = "dcr result v1"
 *   aad  = "dcr result v1" 0x00 || contract hash || id || 0x00 || receiver
 *
 * so no key has to be kept: not the host, not a later instance, only the
 * receiver can open it, and a copy moved to another result, receiver or
 * contract does not open. The file DIR/results/ID is
 *
 *   hex(HMAC-SHA256(mac key, JSON)) '\n' JSON
 *   JSON = {"v":1,"id","analyst","sealed":{"RECEIVER":hex(enc || ct),...}}
 *
 * written atomically (temp file, fsync, rename, fsync of the directory).
 * HPKE base mode says nothing about who sealed: anyone can seal to a
 * public key. The MAC is what stops the host from planting a result of its
 * own: its key is HKDF-Expand(the state's differencing key, "dcr result
 * mac v1"), which is sealed to the TPM where there is one (without a TPM
 * the host can read that key, as docs/threat-model.md says of the
 * differencing defence).
 *
 * A fetch returns the receiver's sealed copy and is audited; fetching again
 * is allowed (the receiver already holds the rows, and a lost answer on the
 * network must not lose the result).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/bytes.h"
#include "base/fileio.h"
#include "crypto/hash.h"
#include "crypto/hpke.h"
#include "crypto/util.h"
#include "room/internal.h"

#define RESULT_INFO "dcr result v1"
#define RESULT_MAC_INFO "dcr result mac v1"
#define MAC_HEX (2 * DCR_SHA256_LEN)
#define RESULT_FILE_MAX ((size_t)1 << 30)

dcr_status room_result_id(char *id, dcr_error *err)
{
    uint8_t b[(DCR_ROOM_RESULT_ID_LEN - 1) / 2];
    dcr_status s = dcr_random_bytes(b, sizeof b, err);
    if (s != DCR_OK)
        return s;
    id[0] = 'r';
    dcr_hex_encode(id + 1, b, sizeof b);
    id[DCR_ROOM_RESULT_ID_LEN] = '\0';
    return DCR_OK;
}

/* 'r' and 32 lowercase hex digits: nothing else reaches a path. */
static bool id_valid(const char *id)
{
    if (strlen(id) != DCR_ROOM_RESULT_ID_LEN || id[0] != 'r')
        return false;
    for (size_t i = 1; i < DCR_ROOM_RESULT_ID_LEN; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
            return false;
    return true;
}

static dcr_status aad_make(const dcr_contract *c, const char *id, const char *receiver,
                           dcr_buf *aad, dcr_error *err)
{
    dcr_status s = dcr_buf_append(aad, RESULT_INFO, sizeof RESULT_INFO, err); /* with its NUL */
    s = s ? s : dcr_buf_append(aad, c->hash, sizeof c->hash, err);
    s = s ? s : dcr_buf_append(aad, id, strlen(id) + 1, err);
    return s ? s : dcr_buf_append(aad, receiver, strlen(receiver), err);
}

/* hex(enc || HPKE-sealed pt) to party p of c; *hex is malloc'd. */
static dcr_status seal_to(const dcr_contract *c, size_t p, const char *id, const char *pt,
                          size_t pt_len, char **hex, dcr_error *err)
{
    dcr_buf aad = DCR_BUF_INIT;
    size_t n = DCR_HPKE_ENC_LEN + pt_len + DCR_HPKE_TAG_LEN;
    uint8_t *blob = malloc(n);
    *hex = malloc(2 * n + 1);
    dcr_status s = blob && *hex ? DCR_OK : dcr_fail(err, DCR_EINTERNAL, "out of memory");
    s = s ? s : aad_make(c, id, c->parties[p].name, &aad, err);
    s = s ? s
          : dcr_hpke_seal(c->parties[p].key.hpke_pub, (const uint8_t *)RESULT_INFO,
                          sizeof RESULT_INFO - 1, aad.data, aad.len, (const uint8_t *)pt, pt_len,
                          blob, blob + DCR_HPKE_ENC_LEN, err);
    if (s == DCR_OK)
        dcr_hex_encode(*hex, blob, n);
    dcr_buf_free(&aad);
    free(blob);
    return s;
}

/* {"v":1,"id","analyst","sealed":{...}} for every receiver of a. */
static dcr_status file_json(dcr_room *r, size_t analyst, const dcr_room_answer *a, const char *pt,
                            json_t **out, dcr_error *err)
{
    const dcr_contract *c = r->contract;
    json_t *sealed = json_object();
    *out = json_pack("{s:i,s:s,s:s,s:o}", "v", 1, "id", a->result_id, "analyst",
                     c->parties[analyst].name, "sealed", sealed);
    if (!*out)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    for (size_t i = 0; i < a->report.nreceivers; i++) {
        size_t p = a->report.receivers[i];
        char *hex = NULL;
        dcr_status s = seal_to(c, p, a->result_id, pt, strlen(pt), &hex, err);
        if (s == DCR_OK && json_object_set_new(sealed, c->parties[p].name, json_string(hex)))
            s = dcr_fail(err, DCR_EINTERNAL, "out of memory");
        free(hex);
        if (s != DCR_OK)
            return s;
    }
    return DCR_OK;
}

static dcr_status results_path(const dcr_room *r, const char *id, char *path, size_t size,
                               dcr_error *err)
{
    if ((size_t)snprintf(path, size, "%s/results/%s", r->dir, id ? id : "") >= size)
        return dcr_fail(err, DCR_EINPUT, "--state %s: the path is too long", r->dir);
    return DCR_OK;
}

/* HMAC-SHA256 of text under the room's result MAC key (HKDF-Extract with
 * the key as salt is HMAC(key, text)). */
static dcr_status mac(const dcr_room *r, const char *text, size_t len, uint8_t out[DCR_SHA256_LEN],
                      dcr_error *err)
{
    uint8_t k[DCR_SHA256_LEN];
    dcr_status s = dcr_hkdf_sha256_expand(r->history.key, sizeof r->history.key,
                                          (const uint8_t *)RESULT_MAC_INFO,
                                          sizeof RESULT_MAC_INFO - 1, k, sizeof k, err);
    s = s ? s : dcr_hkdf_sha256_extract(k, sizeof k, (const uint8_t *)text, len, out, err);
    dcr_wipe(k, sizeof k);
    return s;
}

static dcr_status write_file(dcr_room *r, const char *id, const char *text, dcr_error *err)
{
    uint8_t tag[DCR_SHA256_LEN];
    char head[MAC_HEX + 2];
    dcr_status s = mac(r, text, strlen(text), tag, err);
    if (s != DCR_OK)
        return s;
    dcr_hex_encode(head, tag, sizeof tag);
    head[MAC_HEX] = '\n';
    head[MAC_HEX + 1] = '\0';
    char path[4096];
    s = results_path(r, NULL, path, sizeof path, err);
    if (s == DCR_OK && mkdir(path, 0700) != 0 && errno != EEXIST)
        s = dcr_fail(err, DCR_EINPUT, "%s: %s", path, strerror(errno));
    s = s ? s : results_path(r, id, path, sizeof path, err);
    dcr_atomic_file f;
    if (s != DCR_OK || (s = dcr_atomic_open(&f, path, 0600, false, err)) != DCR_OK)
        return s;
    if ((s = dcr_write_all(f.fd, head, MAC_HEX + 1, path, err)) == DCR_OK &&
        (s = dcr_write_all(f.fd, text, strlen(text), path, err)) == DCR_OK)
        return dcr_atomic_commit(&f, err);
    dcr_atomic_abort(&f);
    return s;
}

dcr_status room_result_store(dcr_room *r, size_t analyst, const dcr_room_answer *a, dcr_error *err)
{
    json_t *answer = room_answer_json(r->contract, analyst, a, true);
    char *pt = answer ? json_dumps(answer, JSON_COMPACT) : NULL;
    json_decref(answer);
    if (!pt)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    json_t *file = NULL;
    dcr_status s = file_json(r, analyst, a, pt, &file, err);
    dcr_wipe_free(pt, strlen(pt));
    char *text = s == DCR_OK ? json_dumps(file, JSON_COMPACT) : NULL;
    json_decref(file);
    if (s == DCR_OK && !text)
        s = dcr_fail(err, DCR_EINTERNAL, "out of memory");
    s = s ? s : write_file(r, a->result_id, text, err);
    free(text);
    return s;
}

/* ---- fetch ---- */

void dcr_room_sealed_free(dcr_room_sealed *s)
{
    dcr_buf_free(&s->sealed);
    memset(s, 0, sizeof *s);
}

static dcr_status hex_into(const char *hex, dcr_buf *out, dcr_error *err)
{
    size_t n = hex ? strlen(hex) : 0;
    if (n < 2 * (DCR_HPKE_ENC_LEN + DCR_HPKE_TAG_LEN) || n % 2)
        return dcr_fail(err, DCR_EINPUT, "a sealed result is not hex of enc || ciphertext");
    dcr_status s = dcr_buf_reserve(out, n / 2, err);
    if (s == DCR_OK && !dcr_hex_decode(out->data, n / 2, hex, n))
        s = dcr_fail(err, DCR_EINPUT, "a sealed result is not hex of enc || ciphertext");
    if (s == DCR_OK)
        out->len = n / 2;
    return s;
}

/* The receivers of file o, "a, b", for a refusal. */
static void receivers_text(const json_t *o, char *out, size_t size)
{
    const char *k;
    json_t *v;
    size_t n = 0;
    out[0] = '\0';
    json_object_foreach((json_t *)json_object_get(o, "sealed"), k, v)
    {
        if (n < size)
            n += (size_t)snprintf(out + n, size - n, "%s%s", n ? ", " : "", k);
    }
}

/* The file's MAC line against the rest of it. */
static dcr_status check_mac(const dcr_room *r, const char *path, const char *text, size_t len,
                            dcr_error *err)
{
    uint8_t want[DCR_SHA256_LEN], got[DCR_SHA256_LEN];
    if (len <= MAC_HEX || text[MAC_HEX] != '\n' || !dcr_hex_decode(got, sizeof got, text, MAC_HEX))
        return dcr_fail(err, DCR_ECRYPTO, "%s: not a stored result (no MAC line)", path);
    dcr_status s = mac(r, text + MAC_HEX + 1, len - MAC_HEX - 1, want, err);
    if (s == DCR_OK && !dcr_ct_equal(want, got, sizeof want))
        s = dcr_fail(err, DCR_ECRYPTO,
                     "%s: the stored result's MAC does not verify (not written by this clean "
                     "room, or altered)",
                     path);
    return s;
}

/* Reads and checks DIR/results/ID; *o is its JSON. */
static dcr_status load(dcr_room *r, const char *id, json_t **o, dcr_error *err)
{
    char path[4096], *text = NULL;
    size_t len;
    *o = NULL;
    if (!id_valid(id))
        return dcr_fail(err, DCR_EINPUT, "no result %.40s: a result id is r and 32 hex digits", id);
    dcr_status s = results_path(r, id, path, sizeof path, err);
    struct stat sb;
    if (s == DCR_OK && stat(path, &sb) != 0 && errno == ENOENT)
        return dcr_fail(err, DCR_EINPUT, "no result %s in this clean room", id);
    s = s ? s : dcr_read_file(path, RESULT_FILE_MAX, &text, &len, err);
    if (s != DCR_OK)
        return s;
    s = check_mac(r, path, text, len, err);
    json_error_t jerr;
    *o = s == DCR_OK ? json_loadb(text + MAC_HEX + 1, len - MAC_HEX - 1, 0, &jerr) : NULL;
    free(text);
    if (s != DCR_OK)
        return s;
    const char *fid = json_string_value(json_object_get(*o, "id"));
    if (!*o || !fid || strcmp(fid, id) != 0 || !json_is_object(json_object_get(*o, "sealed")) ||
        !json_is_string(json_object_get(*o, "analyst")))
        return dcr_fail(err, DCR_EINTERNAL, "%s: not a stored result", path);
    return DCR_OK;
}

static dcr_status pick(const dcr_contract *c, size_t party, const char *id, const json_t *o,
                       dcr_room_sealed *out, dcr_error *err)
{
    const char *name = c->parties[party].name;
    const char *hex = json_string_value(json_object_get(json_object_get(o, "sealed"), name));
    if (!hex) {
        char who[512];
        receivers_text(o, who, sizeof who);
        return dcr_fail(err, DCR_ECRYPTO,
                        "result %s is not addressed to %s (the contract sends it to %s only)", id,
                        name, who);
    }
    snprintf(out->id, sizeof out->id, "%s", id);
    snprintf(out->analyst, sizeof out->analyst, "%s",
             json_string_value(json_object_get(o, "analyst")));
    snprintf(out->receiver, sizeof out->receiver, "%s", name);
    return hex_into(hex, &out->sealed, err);
}

dcr_status dcr_room_fetch(dcr_room *r, size_t party, const char *id, dcr_room_sealed *out,
                          dcr_error *err)
{
    memset(out, 0, sizeof *out);
    if (party >= r->contract->nparties)
        return dcr_fail(err, DCR_EINPUT, "no such party in the contract");
    json_t *o = NULL;
    dcr_status s = load(r, id, &o, err);
    s = s ? s : pick(r->contract, party, id, o, out, err);
    json_decref(o);
    if (s != DCR_OK)
        dcr_room_sealed_free(out);
    dcr_audit_entry e = {.type = "result_fetch",
                         .party = r->contract->parties[party].name,
                         .sql = id,
                         .decision = s == DCR_OK ? "accepted" : "refused",
                         .reason = s == DCR_OK ? "" : err->msg};
    dcr_error aerr = {0};
    dcr_status as = dcr_state_audit_append(r->st, &e, NULL, &aerr);
    if (as != DCR_OK && s == DCR_OK) {
        dcr_room_sealed_free(out); /* an unaudited fetch is not released */
        *err = aerr;
        return as;
    }
    return s;
}

/* ---- the receiver's side ---- */

dcr_status dcr_room_sealed_open(const dcr_contract *c, size_t receiver, const char *id,
                                const dcr_room_sealed *s, const dcr_party_key *key, json_t **answer,
                                dcr_error *err)
{
    *answer = NULL;
    if (receiver >= c->nparties)
        return dcr_fail(err, DCR_EINPUT, "no such party in the contract");
    const char *name = c->parties[receiver].name;
    if (strcmp(s->id, id) != 0 || strcmp(s->receiver, name) != 0)
        return dcr_fail(err, DCR_ECRYPTO, "asked for result %s for %s, got %.40s for %.64s", id,
                        name, s->id, s->receiver);
    if (s->sealed.len < DCR_HPKE_ENC_LEN + DCR_HPKE_TAG_LEN)
        return dcr_fail(err, DCR_EINPUT, "result %s: too short to be sealed", s->id);
    size_t n = s->sealed.len - DCR_HPKE_ENC_LEN - DCR_HPKE_TAG_LEN;
    dcr_buf aad = DCR_BUF_INIT;
    char *pt = malloc(n + 1);
    dcr_status st = pt ? DCR_OK : dcr_fail(err, DCR_EINTERNAL, "out of memory");
    st = st ? st : aad_make(c, id, name, &aad, err);
    st = st ? st
            : dcr_hpke_open(key->hpke_priv, s->sealed.data, (const uint8_t *)RESULT_INFO,
                            sizeof RESULT_INFO - 1, aad.data, aad.len,
                            s->sealed.data + DCR_HPKE_ENC_LEN, n + DCR_HPKE_TAG_LEN, (uint8_t *)pt,
                            err);
    if (st != DCR_OK && st != DCR_EINTERNAL)
        st = dcr_fail(err, DCR_ECRYPTO,
                      "result %s does not open with this key for %s under this contract", id, name);
    json_error_t jerr;
    if (st == DCR_OK && !(*answer = json_loadb(pt, n, 0, &jerr)))
        st = dcr_fail(err, DCR_EINPUT, "result %s: the opened result is not JSON", s->id);
    dcr_buf_free(&aad);
    if (pt)
        dcr_wipe_free(pt, n + 1);
    return st;
}

json_t *dcr_room_sealed_json(const dcr_room_sealed *s)
{
    char *hex = malloc(2 * s->sealed.len + 1);
    if (!hex)
        return NULL;
    dcr_hex_encode(hex, s->sealed.data, s->sealed.len);
    json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "id", s->id, "analyst", s->analyst, "receiver",
                          s->receiver, "sealed", hex);
    free(hex);
    return o;
}

dcr_status dcr_room_sealed_parse(const json_t *o, dcr_room_sealed *out, dcr_error *err)
{
    memset(out, 0, sizeof *out);
    const char *id = json_string_value(json_object_get(o, "id"));
    const char *an = json_string_value(json_object_get(o, "analyst"));
    const char *rc = json_string_value(json_object_get(o, "receiver"));
    const char *hex = json_string_value(json_object_get(o, "sealed"));
    if (!id || !an || !rc || !id_valid(id) || strlen(an) > DCR_NAME_MAX ||
        strlen(rc) > DCR_NAME_MAX)
        return dcr_fail(err, DCR_EINPUT,
                        "not a sealed result: {\"id\", \"analyst\", "
                        "\"receiver\", \"sealed\"} expected");
    snprintf(out->id, sizeof out->id, "%s", id);
    snprintf(out->analyst, sizeof out->analyst, "%s", an);
    snprintf(out->receiver, sizeof out->receiver, "%s", rc);
    dcr_status s = hex_into(hex, &out->sealed, err);
    if (s != DCR_OK)
        dcr_room_sealed_free(out);
    return s;
}

/*
 * differencing.c: the differencing and tracker defence (see differencing.h
 * for the idea; docs/privacy.md for what it stops and what it cannot).
 *
 * A sketch is (dataset, k, exact distinct count, IBLT sized for 2k). Two
 * sketches of one dataset are compared only when their counts differ by
 * less than k (the symmetric difference is at least the count difference,
 * so other pairs cannot be close) and their tables differ in at most
 * 3(k-1) cells (each differing unit changes 3 cells); then the IBLTs are
 * subtracted and peeled.
 * A peel that fails means the difference is larger than the table was
 * sized for (2k, with k the threshold that matters), i.e. not a small one.
 *
 * Blob (stored per released row and dataset), little-endian:
 *   "dcrdiff1" | u8 name length | dataset name | u64 k | u64 count |
 *   u32 cells | cells (16 bytes each, iblt.h)
 */
#include "privacy/differencing.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/bytes.h"
#include "crypto/hash.h"
#include "privacy/iblt.h"

#define MAGIC "dcrdiff1"
#define MAGIC_LEN 8
#define PRF_CHUNK 4096 /* hashes per AES call */

typedef struct {
    char dataset[DCR_NAME_MAX + 1];
    int64_t k;
    uint64_t count;
    dcr_iblt t;
} sketch;

struct dcr_diff {
    const dcr_contract *c;
    char scope[DCR_DIFF_SCOPE_MAX + 1];
    dcr_diff_history h;
    EVP_CIPHER_CTX *prf;
    sketch *known; /* history, then this query's released rows */
    size_t nknown, cap;
    size_t first_new; /* known[first_new..] are this query's */
    dcr_diff_stats stats;
};

static dcr_status oom(dcr_error *err)
{
    return dcr_fail(err, DCR_EINTERNAL, "out of memory");
}

static dcr_status add_known(dcr_diff *d, sketch *s, dcr_error *err)
{
    if (d->nknown == d->cap) {
        size_t cap = d->cap ? 2 * d->cap : 16;
        sketch *k = realloc(d->known, cap * sizeof *k);
        if (!k)
            return oom(err);
        d->known = k;
        d->cap = cap;
    }
    d->known[d->nknown++] = *s;
    memset(s, 0, sizeof *s);
    return DCR_OK;
}

/* ---- blobs ---- */

static dcr_status blob_parse(const uint8_t *b, size_t len, sketch *out, dcr_error *err)
{
    memset(out, 0, sizeof *out);
    if (len < MAGIC_LEN + 1 || memcmp(b, MAGIC, MAGIC_LEN) != 0)
        return dcr_fail(err, DCR_EINPUT, "differencing history: an entry is not a sketch");
    size_t nl = b[MAGIC_LEN], at = MAGIC_LEN + 1;
    if (nl == 0 || nl > DCR_NAME_MAX || len < at + nl + 20)
        return dcr_fail(err, DCR_EINPUT, "differencing history: a sketch is truncated");
    memcpy(out->dataset, b + at, nl);
    at += nl;
    out->k = (int64_t)dcr_get_u64le(b + at);
    out->count = dcr_get_u64le(b + at + 8);
    uint32_t cells = dcr_get_u32le(b + at + 16);
    at += 20;
    if (out->k < 2 || (uint64_t)cells * 16 != len - at)
        return dcr_fail(err, DCR_EINPUT, "differencing history: a sketch is malformed");
    return dcr_iblt_read(&out->t, b + at, len - at, err);
}

static dcr_status blob_make(const sketch *s, uint8_t **out, size_t *len, dcr_error *err)
{
    size_t nl = strlen(s->dataset);
    *len = MAGIC_LEN + 1 + nl + 20 + dcr_iblt_size(&s->t);
    uint8_t *b = malloc(*len);
    if (!b)
        return oom(err);
    memcpy(b, MAGIC, MAGIC_LEN);
    b[MAGIC_LEN] = (uint8_t)nl;
    size_t at = MAGIC_LEN + 1;
    memcpy(b + at, s->dataset, nl);
    at += nl;
    dcr_put_u64le(b + at, (uint64_t)s->k);
    dcr_put_u64le(b + at + 8, s->count);
    dcr_put_u32le(b + at + 16, (uint32_t)s->t.ncells);
    dcr_iblt_write(&s->t, b + at + 20);
    *out = b;
    return DCR_OK;
}

static dcr_status load_one(void *cbctx, const uint8_t *fp, size_t fp_len, const uint8_t *blob,
                           size_t blob_len, dcr_error *err)
{
    (void)fp;
    (void)fp_len;
    dcr_diff *d = cbctx;
    sketch s;
    dcr_status st = blob_parse(blob, blob_len, &s, err);
    if (st == DCR_OK)
        st = add_known(d, &s, err);
    dcr_iblt_free(&s.t);
    if (st == DCR_OK)
        d->stats.history++;
    return st;
}

/* ---- begin / end ---- */

static dcr_status prf_init(dcr_diff *d, dcr_error *err)
{
    static const char label[] = "dcr differencing unit prf v1";
    uint8_t in[sizeof label + DCR_DIFF_KEY_LEN], key[DCR_SHA256_LEN];
    memcpy(in, label, sizeof label); /* with its NUL as a separator */
    memcpy(in + sizeof label, d->h.key, DCR_DIFF_KEY_LEN);
    dcr_status s = dcr_sha256(in, sizeof in, key, err);
    OPENSSL_cleanse(in, sizeof in);
    if (s != DCR_OK)
        return s;
    d->prf = EVP_CIPHER_CTX_new();
    if (!d->prf || EVP_EncryptInit_ex(d->prf, EVP_aes_256_ecb(), NULL, key, NULL) != 1 ||
        EVP_CIPHER_CTX_set_padding(d->prf, 0) != 1)
        s = dcr_fail(err, DCR_EINTERNAL, "differencing: cannot set up AES-256");
    OPENSSL_cleanse(key, sizeof key);
    return s;
}

void dcr_diff_scope(const dcr_contract *c, char out[DCR_DIFF_SCOPE_MAX + 1])
{
    snprintf(out, DCR_DIFF_SCOPE_MAX + 1, "contract:%s", c->name);
}

dcr_status dcr_diff_begin(const dcr_contract *c, const dcr_diff_history *h, dcr_diff **out,
                          dcr_error *err)
{
    *out = NULL;
    dcr_diff *d = calloc(1, sizeof *d);
    if (!d)
        return oom(err);
    d->c = c;
    d->h = *h;
    dcr_diff_scope(c, d->scope);
    dcr_status s = prf_init(d, err);
    if (s == DCR_OK && h->each)
        s = h->each(h->ctx, d->scope, load_one, d, err);
    if (s != DCR_OK) {
        dcr_diff_free(d);
        return s;
    }
    d->first_new = d->nknown;
    *out = d;
    return DCR_OK;
}

void dcr_diff_free(dcr_diff *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->nknown; i++)
        dcr_iblt_free(&d->known[i].t);
    free(d->known);
    EVP_CIPHER_CTX_free(d->prf);
    OPENSSL_cleanse(d->h.key, sizeof d->h.key);
    free(d);
}

void dcr_diff_get_stats(const dcr_diff *d, dcr_diff_stats *out)
{
    *out = d->stats;
}

/* ---- checking rows ---- */

/* Inserts the keyed PRF of each unit hash into s->t. */
static dcr_status insert_keyed(dcr_diff *d, sketch *s, const uint8_t *hashes, size_t n,
                               dcr_error *err)
{
    uint8_t *in = calloc(PRF_CHUNK, 16), *outb = malloc((size_t)PRF_CHUNK * 16 + 16);
    dcr_status st = in && outb ? DCR_OK : oom(err);
    for (size_t at = 0; st == DCR_OK && at < n; at += PRF_CHUNK) {
        size_t m = n - at < PRF_CHUNK ? n - at : PRF_CHUNK;
        for (size_t i = 0; i < m; i++)
            memcpy(in + 16 * i, hashes + 8 * (at + i), 8); /* high 8 bytes stay 0 */
        int outl = 0;
        if (EVP_EncryptUpdate(d->prf, outb, &outl, in, (int)(16 * m)) != 1 ||
            (size_t)outl != 16 * m) {
            st = dcr_fail(err, DCR_EINTERNAL, "differencing: AES-256 failed");
            break;
        }
        for (size_t i = 0; i < m; i++)
            dcr_iblt_insert(&s->t, dcr_get_u64le(outb + 16 * i));
    }
    if (in)
        OPENSSL_cleanse(in, (size_t)PRF_CHUNK * 16);
    free(in);
    free(outb);
    return st;
}

static dcr_status build(dcr_diff *d, const dcr_diff_slot *slot, sketch *s, dcr_error *err)
{
    memset(s, 0, sizeof *s);
    if (slot->dataset >= d->c->ndatasets || slot->len % 8 != 0)
        return dcr_fail(err, DCR_EINTERNAL, "differencing: a malformed unit sketch");
    const dcr_contract_dataset *ds = &d->c->datasets[slot->dataset];
    snprintf(s->dataset, sizeof s->dataset, "%s", ds->name);
    s->k = ds->min_units > 1 ? ds->min_units : d->c->min_units;
    if (s->k < 2)
        s->k = 2;
    s->count = slot->len / 8;
    dcr_status st = dcr_iblt_init(&s->t, dcr_iblt_cells_for(2 * (uint64_t)s->k), err);
    if (st == DCR_OK)
        st = insert_keyed(d, s, slot->hashes, s->count, err);
    return st;
}

/* The symmetric difference of a and b when it is below k, else k. */
static dcr_status distance(dcr_diff *d, const sketch *a, const sketch *b, uint64_t *out,
                           dcr_error *err)
{
    uint64_t k = (uint64_t)a->k;
    *out = k;
    uint64_t gap = a->count > b->count ? a->count - b->count : b->count - a->count;
    if (gap >= k || a->t.ncells != b->t.ncells || b->k != a->k) {
        d->stats.skipped++;
        return DCR_OK;
    }
    /* Each differing unit sits in exactly 3 cells of the difference, so
     * more than 3(k-1) differing cells prove a difference of k or more
     * without decoding (one cheap pass instead of a copy and a peel). */
    size_t nz = 0;
    for (size_t i = 0; i < a->t.ncells; i++) {
        const dcr_iblt_cell *p = &a->t.cells[i], *q = &b->t.cells[i];
        nz += p->count != q->count || p->keysum != q->keysum || p->check != q->check;
    }
    if (nz > 3 * (k - 1)) {
        d->stats.skipped++;
        return DCR_OK;
    }
    d->stats.compared++;
    dcr_iblt x;
    dcr_status st = dcr_iblt_init(&x, a->t.ncells, err);
    if (st != DCR_OK)
        return st;
    memcpy(x.cells, a->t.cells, a->t.ncells * sizeof *x.cells);
    dcr_iblt_subtract(&x, &b->t);
    uint64_t plus, minus;
    if (dcr_iblt_decode(&x, &plus, &minus)) {
        if (plus + minus < k)
            *out = plus + minus;
    } else {
        d->stats.undecoded++;
    }
    dcr_iblt_free(&x);
    return DCR_OK;
}

dcr_status dcr_diff_check_row(dcr_diff *d, const dcr_diff_slot *slots, size_t nslots,
                              bool *suppress, uint64_t *diff_units, dcr_error *err)
{
    *suppress = false;
    *diff_units = 0;
    sketch *mine = calloc(nslots + 1, sizeof *mine);
    if (!mine)
        return oom(err);
    dcr_status st = DCR_OK;
    size_t built = 0;
    for (; st == DCR_OK && built < nslots; built++)
        st = build(d, &slots[built], &mine[built], err);
    for (size_t j = 0; st == DCR_OK && !*suppress && j < nslots; j++) {
        if (mine[j].count == 0) /* an outer join side without rows: nothing to protect */
            continue;
        for (size_t i = 0; st == DCR_OK && i < d->nknown; i++) {
            if (strcmp(d->known[i].dataset, mine[j].dataset) != 0)
                continue;
            uint64_t dist;
            st = distance(d, &mine[j], &d->known[i], &dist, err);
            if (st == DCR_OK && dist > 0 && dist < (uint64_t)mine[j].k) {
                *suppress = true;
                *diff_units = dist;
                break;
            }
        }
    }
    if (st == DCR_OK && *suppress)
        d->stats.suppressed++;
    for (size_t j = 0; j < built; j++) {
        if (st == DCR_OK && !*suppress && mine[j].count > 0)
            st = add_known(d, &mine[j], err);
        dcr_iblt_free(&mine[j].t);
    }
    free(mine);
    return st;
}

dcr_status dcr_diff_commit(dcr_diff *d, dcr_error *err)
{
    if (!d->h.put)
        return DCR_OK;
    for (size_t i = d->first_new; i < d->nknown; i++) {
        uint8_t *blob = NULL, fp[DCR_SHA256_LEN];
        size_t len;
        dcr_status s = blob_make(&d->known[i], &blob, &len, err);
        if (s != DCR_OK)
            return s;
        s = dcr_sha256(blob, len, fp, err);
        if (s == DCR_OK)
            s = d->h.put(d->h.ctx, d->scope, fp, sizeof fp, blob, len, err);
        free(blob);
        if (s != DCR_OK)
            return dcr_error_prefix(err, "differencing defence: cannot record a released row");
    }
    d->first_new = d->nknown;
    return DCR_OK;
}

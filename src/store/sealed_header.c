/*
 * sealed_header.c: writing and parsing the header of a sealed dataset, and
 * wrapping / unwrapping its data key (docs/format.md, "Header").
 *
 * Parsing treats the file as hostile: every length is checked against what
 * is left, every count against its limit, and the body length must match
 * exactly what the fields take.
 */
#include "store/sealed.h"

#include <stdlib.h>
#include <string.h>

#include "base/bytes.h"
#include "crypto/hash.h"
#include "crypto/hpke.h"
#include "crypto/util.h"

#define HPKE_KEM_X25519 0x0020
#define HPKE_KDF_SHA256 0x0001
#define HPKE_AEAD_AES128GCM 0x0001
#define DATA_AEAD_AES256GCM_STREAM 0x0001

static const uint8_t wrap_info[] = "dcr sealed dataset v1 data key";

void dcr_sealed_header_free(dcr_sealed_header *h)
{
    dcr_schema_free(&h->schema);
    memset(h, 0, sizeof *h);
}

/* Appends the preamble (with body_len 0 for now) and the header core. */
static dcr_status write_core(const dcr_sealed_header *h, dcr_buf *out, dcr_error *err)
{
    const dcr_schema *s = &h->schema;
    size_t cap = DCR_SEALED_PREAMBLE_LEN + 128 + h->context_len + s->ncols * (DCR_NAME_MAX + 4);
    dcr_status st = dcr_buf_reserve(out, cap, err);
    if (st != DCR_OK)
        return st;
    uint8_t *p = out->data + out->len;
    memcpy(p, DCR_SEALED_MAGIC, 8);
    dcr_put_u16le(p + 8, DCR_SEALED_VERSION);
    dcr_put_u16le(p + 10, h->segmented ? DCR_SEALED_FLAG_SEGMENTED : 0);
    dcr_put_u32le(p + 12, 0);
    p += DCR_SEALED_PREAMBLE_LEN;
    dcr_put_u16le(p, HPKE_KEM_X25519);
    dcr_put_u16le(p + 2, HPKE_KDF_SHA256);
    dcr_put_u16le(p + 4, HPKE_AEAD_AES128GCM);
    dcr_put_u16le(p + 6, DATA_AEAD_AES256GCM_STREAM);
    p += 8;
    memcpy(p, h->nonce_prefix, 7);
    p += 7;
    dcr_put_u32le(p, h->chunk_rows_max);
    dcr_put_u32le(p + 4, h->chunk_bytes_max);
    p += 8;
    *p++ = (uint8_t)h->context_len;
    memcpy(p, h->context, h->context_len);
    p += h->context_len;
    size_t dlen = strlen(s->dataset);
    *p++ = (uint8_t)dlen;
    memcpy(p, s->dataset, dlen);
    p += dlen;
    dcr_put_u16le(p, (uint16_t)s->ncols);
    p += 2;
    for (size_t i = 0; i < s->ncols; i++) {
        size_t nlen = strlen(s->cols[i].name);
        *p++ = (uint8_t)nlen;
        memcpy(p, s->cols[i].name, nlen);
        p += nlen;
        *p++ = (uint8_t)s->cols[i].type;
        *p++ = s->cols[i].normalize;
        *p++ = s->cols[i].not_null ? 1 : 0;
    }
    out->len = (size_t)(p - out->data);
    return DCR_OK;
}

static dcr_status copy_schema(dcr_schema *dst, const dcr_schema *src, dcr_error *err)
{
    *dst = *src;
    dst->cols = malloc(src->ncols * sizeof *dst->cols);
    if (!dst->cols) {
        dst->ncols = 0;
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    }
    memcpy(dst->cols, src->cols, src->ncols * sizeof *dst->cols);
    return DCR_OK;
}

static dcr_status wrap_for(const dcr_sealed_header *h, const dcr_party_pub *pub,
                           const uint8_t data_key[DCR_DATA_KEY_LEN], dcr_sealed_recipient *r,
                           dcr_error *err)
{
    dcr_status s = dcr_hpke_key_id(pub->hpke_pub, r->key_id, err);
    if (s != DCR_OK)
        return s;
    return dcr_hpke_seal(pub->hpke_pub, wrap_info, sizeof wrap_info - 1, h->core_hash,
                         sizeof h->core_hash, data_key, DCR_DATA_KEY_LEN, r->enc, r->wrapped, err);
}

dcr_status dcr_sealed_header_create(dcr_sealed_header *h, const dcr_schema *schema,
                                    const uint8_t *context, size_t context_len,
                                    uint32_t chunk_rows_max, uint32_t chunk_bytes_max,
                                    const dcr_party_pub *recipients, size_t nrecipients,
                                    uint8_t data_key[DCR_DATA_KEY_LEN], dcr_buf *out,
                                    dcr_error *err)
{
    memset(h, 0, sizeof *h);
    if (context_len > DCR_SEALED_CONTEXT_MAX)
        return dcr_fail(err, DCR_EUSAGE, "context is %zu bytes, at most %d allowed", context_len,
                        DCR_SEALED_CONTEXT_MAX);
    if (nrecipients < 1 || nrecipients > DCR_SEALED_RECIPIENTS_MAX)
        return dcr_fail(err, DCR_EUSAGE, "between 1 and %d recipients are needed, not %zu",
                        DCR_SEALED_RECIPIENTS_MAX, nrecipients);
    if (chunk_rows_max < 1 || chunk_rows_max > DCR_SEALED_CHUNK_ROWS_LIMIT ||
        chunk_bytes_max < 1024 || chunk_bytes_max > DCR_SEALED_CHUNK_BYTES_LIMIT)
        return dcr_fail(err, DCR_EUSAGE, "chunk limits out of range");
    dcr_status s = copy_schema(&h->schema, schema, err);
    if (s != DCR_OK)
        return s;
    h->chunk_rows_max = chunk_rows_max;
    h->chunk_bytes_max = chunk_bytes_max;
    h->segmented = true;
    if (context_len)
        memcpy(h->context, context, context_len);
    h->context_len = context_len;
    h->nrecipients = nrecipients;
    size_t start = out->len;
    if ((s = dcr_random_bytes(h->nonce_prefix, sizeof h->nonce_prefix, err)) ||
        (s = dcr_random_bytes(data_key, DCR_DATA_KEY_LEN, err)) || (s = write_core(h, out, err)))
        goto fail;
    size_t core_len = out->len - start;
    size_t body_len = core_len - DCR_SEALED_PREAMBLE_LEN + 1 + nrecipients * 88;
    dcr_put_u32le(out->data + start + 12, (uint32_t)body_len);
    if ((s = dcr_sha256(out->data + start, core_len, h->core_hash, err)))
        goto fail;
    for (size_t i = 0; i < nrecipients; i++)
        if ((s = wrap_for(h, &recipients[i], data_key, &h->recipients[i], err)))
            goto fail;
    uint8_t count = (uint8_t)nrecipients;
    if ((s = dcr_buf_append(out, &count, 1, err)))
        goto fail;
    for (size_t i = 0; i < nrecipients; i++) {
        const dcr_sealed_recipient *r = &h->recipients[i];
        if ((s = dcr_buf_append(out, r->key_id, sizeof r->key_id, err)) ||
            (s = dcr_buf_append(out, r->enc, sizeof r->enc, err)) ||
            (s = dcr_buf_append(out, r->wrapped, sizeof r->wrapped, err)))
            goto fail;
    }
    h->header_len = out->len - start;
    return DCR_OK;
fail:
    dcr_wipe(data_key, DCR_DATA_KEY_LEN);
    dcr_sealed_header_free(h);
    return s;
}

/* A bounds-checked cursor over the header body. */
typedef struct {
    const uint8_t *p;
    size_t left;
    dcr_error *err;
} cursor;

static bool take(cursor *c, void *dst, size_t n, const char *field)
{
    if (c->left < n) {
        dcr_fail(c->err, DCR_EINPUT, "sealed header truncated in %s", field);
        return false;
    }
    if (dst)
        memcpy(dst, c->p, n);
    c->p += n;
    c->left -= n;
    return true;
}

static bool take_u8(cursor *c, uint8_t *v, const char *field)
{
    return take(c, v, 1, field);
}

static bool take_u16(cursor *c, uint16_t *v, const char *field)
{
    uint8_t b[2];
    if (!take(c, b, 2, field))
        return false;
    *v = dcr_get_u16le(b);
    return true;
}

static bool take_u32(cursor *c, uint32_t *v, const char *field)
{
    uint8_t b[4];
    if (!take(c, b, 4, field))
        return false;
    *v = dcr_get_u32le(b);
    return true;
}

static dcr_status bad(dcr_error *err, const char *what)
{
    return dcr_fail(err, DCR_EINPUT, "sealed header: %s", what);
}

static dcr_status parse_suite(cursor *c, dcr_error *err)
{
    uint16_t kem, kdf, aead, data_aead;
    if (!take_u16(c, &kem, "suite") || !take_u16(c, &kdf, "suite") ||
        !take_u16(c, &aead, "suite") || !take_u16(c, &data_aead, "suite"))
        return err->code;
    if (kem != HPKE_KEM_X25519 || kdf != HPKE_KDF_SHA256 || aead != HPKE_AEAD_AES128GCM ||
        data_aead != DATA_AEAD_AES256GCM_STREAM)
        return bad(err, "unsupported cipher suite");
    return DCR_OK;
}

static dcr_status parse_name_field(cursor *c, char out[DCR_NAME_MAX + 1], const char *field,
                                   dcr_error *err)
{
    uint8_t len;
    if (!take_u8(c, &len, field))
        return err->code;
    if (len == 0 || len > DCR_NAME_MAX)
        return dcr_fail(err, DCR_EINPUT, "sealed header: %s has invalid length %u", field, len);
    if (!take(c, out, len, field))
        return err->code;
    out[len] = '\0';
    if (!dcr_name_valid(out, len))
        return dcr_fail(err, DCR_EINPUT, "sealed header: %s is not a valid name", field);
    return DCR_OK;
}

static dcr_status parse_columns(cursor *c, dcr_schema *s, dcr_error *err)
{
    uint16_t ncols;
    if (!take_u16(c, &ncols, "column count"))
        return err->code;
    if (ncols == 0 || ncols > DCR_COLUMNS_MAX)
        return bad(err, "column count out of range");
    s->cols = calloc(ncols, sizeof *s->cols);
    if (!s->cols)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    s->ncols = ncols;
    for (size_t i = 0; i < ncols; i++) {
        dcr_column_def *d = &s->cols[i];
        uint8_t type, norm, flags;
        dcr_status st = parse_name_field(c, d->name, "column name", err);
        if (st != DCR_OK)
            return st;
        if (!take_u8(c, &type, "column type") || !take_u8(c, &norm, "column normalisation") ||
            !take_u8(c, &flags, "column flags"))
            return err->code;
        if (!dcr_type_valid(type) || (norm & ~DCR_NORM_ALL) || flags > 1)
            return dcr_fail(err, DCR_EINPUT,
                            "sealed header: column %zu has an invalid type or "
                            "flags",
                            i + 1);
        d->type = (dcr_type)type;
        d->normalize = norm;
        d->not_null = flags == 1;
        if (dcr_schema_find(s, d->name, strlen(d->name)) != (int)i)
            return bad(err, "duplicate column name");
    }
    return DCR_OK;
}

static dcr_status parse_recipients(cursor *c, dcr_sealed_header *h, dcr_error *err)
{
    uint8_t n;
    if (!take_u8(c, &n, "recipient count"))
        return err->code;
    if (n < 1 || n > DCR_SEALED_RECIPIENTS_MAX)
        return bad(err, "recipient count out of range");
    h->nrecipients = n;
    for (size_t i = 0; i < n; i++) {
        dcr_sealed_recipient *r = &h->recipients[i];
        if (!take(c, r->key_id, sizeof r->key_id, "recipient") ||
            !take(c, r->enc, sizeof r->enc, "recipient") ||
            !take(c, r->wrapped, sizeof r->wrapped, "recipient"))
            return err->code;
    }
    return DCR_OK;
}

static dcr_status parse_body(cursor *c, dcr_sealed_header *h, dcr_error *err)
{
    dcr_status s = parse_suite(c, err);
    if (s != DCR_OK)
        return s;
    uint8_t ctx_len;
    if (!take(c, h->nonce_prefix, 7, "nonce prefix") ||
        !take_u32(c, &h->chunk_rows_max, "chunk limits") ||
        !take_u32(c, &h->chunk_bytes_max, "chunk limits"))
        return err->code;
    if (h->chunk_rows_max < 1 || h->chunk_rows_max > DCR_SEALED_CHUNK_ROWS_LIMIT ||
        h->chunk_bytes_max < 1024 || h->chunk_bytes_max > DCR_SEALED_CHUNK_BYTES_LIMIT)
        return bad(err, "chunk limits out of range");
    if (!take_u8(c, &ctx_len, "context"))
        return err->code;
    if (ctx_len > DCR_SEALED_CONTEXT_MAX)
        return bad(err, "context too long");
    if (!take(c, h->context, ctx_len, "context"))
        return err->code;
    h->context_len = ctx_len;
    if ((s = parse_name_field(c, h->schema.dataset, "dataset name", err)) ||
        (s = parse_columns(c, &h->schema, err)))
        return s;
    return DCR_OK;
}

dcr_status dcr_sealed_preamble_parse(const uint8_t *buf, size_t len, size_t *header_len,
                                     dcr_error *err)
{
    if (len < DCR_SEALED_PREAMBLE_LEN || memcmp(buf, DCR_SEALED_MAGIC, 8) != 0)
        return dcr_fail(err, DCR_EINPUT, "not a sealed dcr dataset (bad magic)");
    uint16_t version = dcr_get_u16le(buf + 8);
    if (version != DCR_SEALED_VERSION)
        return dcr_fail(err, DCR_EINPUT,
                        "sealed format version %u is not supported (this dcr "
                        "reads version %d)",
                        version, DCR_SEALED_VERSION);
    if (dcr_get_u16le(buf + 10) & ~DCR_SEALED_FLAG_SEGMENTED)
        return bad(err, "reserved flags are set");
    uint32_t body_len = dcr_get_u32le(buf + 12);
    if (body_len > DCR_SEALED_HEADER_MAX)
        return bad(err, "header length out of range");
    *header_len = DCR_SEALED_PREAMBLE_LEN + body_len;
    return DCR_OK;
}

dcr_status dcr_sealed_header_parse(const uint8_t *buf, size_t len, dcr_sealed_header *h,
                                   size_t *need, dcr_error *err)
{
    memset(h, 0, sizeof *h);
    *need = DCR_SEALED_PREAMBLE_LEN;
    dcr_status st = dcr_sealed_preamble_parse(buf, len, need, err);
    if (st != DCR_OK)
        return st;
    if (len < *need)
        return dcr_fail(err, DCR_EINPUT, "sealed header truncated (%zu of %zu bytes)", len, *need);
    size_t body_len = *need - DCR_SEALED_PREAMBLE_LEN;
    h->segmented = (dcr_get_u16le(buf + 10) & DCR_SEALED_FLAG_SEGMENTED) != 0;
    cursor c = {buf + DCR_SEALED_PREAMBLE_LEN, body_len, err};
    dcr_status s = parse_body(&c, h, err);
    if (s == DCR_OK) {
        size_t core_len = (size_t)(c.p - buf);
        s = dcr_sha256(buf, core_len, h->core_hash, err);
    }
    if (s == DCR_OK)
        s = parse_recipients(&c, h, err);
    if (s == DCR_OK && c.left != 0)
        s = bad(err, "trailing bytes after the recipient list");
    if (s != DCR_OK) {
        dcr_sealed_header_free(h);
        return s;
    }
    h->header_len = *need;
    return DCR_OK;
}

dcr_status dcr_sealed_wrap_key(const dcr_sealed_header *h, const uint8_t data_key[DCR_DATA_KEY_LEN],
                               const uint8_t hpke_pub[32], dcr_sealed_recipient *out,
                               dcr_error *err)
{
    dcr_party_pub pub = {0};
    memcpy(pub.hpke_pub, hpke_pub, sizeof pub.hpke_pub);
    return wrap_for(h, &pub, data_key, out, err);
}

dcr_status dcr_sealed_unwrap_key(const dcr_sealed_header *h, const dcr_party_key *key,
                                 uint8_t data_key[DCR_DATA_KEY_LEN], dcr_error *err)
{
    uint8_t id[DCR_KEY_ID_LEN];
    dcr_status s = dcr_hpke_key_id(key->pub.hpke_pub, id, err);
    if (s != DCR_OK)
        return s;
    for (size_t i = 0; i < h->nrecipients; i++) {
        const dcr_sealed_recipient *r = &h->recipients[i];
        if (memcmp(r->key_id, id, sizeof id) != 0)
            continue;
        s = dcr_hpke_open(key->hpke_priv, r->enc, wrap_info, sizeof wrap_info - 1, h->core_hash,
                          sizeof h->core_hash, r->wrapped, sizeof r->wrapped, data_key, err);
        if (s != DCR_OK)
            return dcr_fail(err, DCR_ECRYPTO,
                            "cannot unwrap the data key: the header or the "
                            "wrapped key was modified");
        return DCR_OK;
    }
    char hex[2 * DCR_KEY_ID_LEN + 1];
    dcr_hex_encode(hex, id, sizeof id);
    return dcr_fail(err, DCR_ECRYPTO, "this dataset is not sealed to the given key (key id %s)",
                    hex);
}

void dcr_sealed_nonce(const dcr_sealed_header *h, uint32_t index, bool last, uint8_t nonce[12])
{
    memcpy(nonce, h->nonce_prefix, 7);
    nonce[7] = (uint8_t)(index >> 24);
    nonce[8] = (uint8_t)(index >> 16);
    nonce[9] = (uint8_t)(index >> 8);
    nonce[10] = (uint8_t)index;
    nonce[11] = last ? 1 : 0;
}

void dcr_sealed_segment_nonce(const dcr_sealed_header *h, uint32_t index, bool last,
                              uint16_t segment, uint8_t nonce[12])
{
    memcpy(nonce, h->nonce_prefix, 5);
    nonce[5] = (uint8_t)(index >> 24);
    nonce[6] = (uint8_t)(index >> 16);
    nonce[7] = (uint8_t)(index >> 8);
    nonce[8] = (uint8_t)index;
    nonce[9] = (uint8_t)(segment >> 8);
    nonce[10] = (uint8_t)segment;
    nonce[11] = last ? 1 : 0;
}

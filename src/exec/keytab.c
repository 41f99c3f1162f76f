/*
 * keytab.c: the hash table behind GROUP BY, DISTINCT, COUNT(DISTINCT) and
 * hash joins. Keys are stored column-wise (one dcr_column per key part);
 * the table maps a key to its dense entry number, so callers keep their
 * per-entry state in plain arrays. Linear probing, load factor <= 1/2.
 * A slot holds the entry number and the high half of its key's hash, so a
 * lookup rejects almost every other key without reading the entry.
 *
 * A table keyed by one TEXT value (GROUP BY email, a DISTINCT aggregate's
 * values) also keeps, per entry, its key's 32-byte record (keyrec.h), so a
 * lookup that passes the slot reads one aligned record instead of the
 * column's validity bit, offsets and bytes. A key of at most 31 bytes then
 * lives in its record alone, so records cost little more memory than the
 * keys' bytes would: keys[0] holds only rows up to the last long key (""
 * for the short and NULL ones before it), read for long keys alone.
 */
#include <stdlib.h>
#include <string.h>

#include "base/memory.h"
#include "base/hygiene.h"
#include "exec/internal.h"
#include "exec/keyrec.h"

dcr_status dcr_keytab_init(dcr_keytab *t, const dcr_type *types, size_t nkeys, dcr_error *err)
{
    memset(t, 0, sizeof *t);
    t->keys = calloc(nkeys ? nkeys : 1, sizeof *t->keys);
    t->nslots = 64;
    t->slots = calloc(t->nslots, sizeof *t->slots);
    if (!t->keys || !t->slots) {
        free(t->keys);
        free(t->slots);
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    }
    t->nkeys = nkeys;
    for (size_t i = 0; i < nkeys; i++)
        dcr_column_init(&t->keys[i], types[i]);
    t->inline_text = nkeys == 1 && types[0] == DCR_TYPE_TEXT;
    t->one_i64 = nkeys == 1 && (types[0] == DCR_TYPE_BIGINT || types[0] == DCR_TYPE_TIMESTAMP);
    return DCR_OK;
}

void dcr_keytab_free(dcr_keytab *t)
{
    for (size_t i = 0; t->keys && i < t->nkeys; i++)
        dcr_column_free(&t->keys[i]);
    free(t->keys);
    /* the keys' hashes (in the slots too, their high halves) are as
     * telling as the keys to anyone who can guess keys: wiped as well */
    dcr_wipe(t->hashes, t->n * sizeof *t->hashes);
    dcr_big_free(t->hashes, t->hashes_cap * sizeof *t->hashes);
    if (t->inl)
        dcr_wipe(t->inl, t->n * DCR_KEYREC_BYTES);
    dcr_big_free(t->inl, t->hcap * DCR_KEYREC_BYTES);
    dcr_wipe_free(t->slots, t->nslots * sizeof *t->slots);
    memset(t, 0, sizeof *t);
}

size_t dcr_keytab_bytes(const dcr_keytab *t)
{
    size_t n = t->nslots * sizeof *t->slots + t->hcap * sizeof *t->hashes;
    if (t->inl)
        n += t->hcap * DCR_KEYREC_BYTES;
    for (size_t i = 0; i < t->nkeys; i++)
        n += dcr_column_bytes(&t->keys[i]);
    return n;
}

#define KEY_HASH_SEED 0x243f6a8885a308d3ull

uint64_t dcr_keytab_hash(const dcr_column *const *cols, size_t nkeys, size_t row)
{
    uint64_t h = KEY_HASH_SEED;
    for (size_t k = 0; k < nkeys; k++)
        h = dcr_value_hash(cols[k], row, h);
    return h;
}

void dcr_keytab_hash_rows(const dcr_column *const *cols, size_t nkeys, size_t from, size_t to,
                          uint64_t *out)
{
    if (nkeys == 1) { /* a loop of the column's type, no call per row */
        dcr_value_hash_rows(cols[0], from, to, KEY_HASH_SEED, out);
        return;
    }
    for (size_t r = from; r < to; r++)
        out[r - from] = dcr_keytab_hash(cols, nkeys, r);
}

static bool key_equal(const dcr_keytab *t, size_t id, const dcr_column *const *cols, size_t row)
{
    for (size_t k = 0; k < t->nkeys; k++)
        if (!dcr_value_equal(&t->keys[k], id, cols[k], row))
            return false;
    return true;
}

static inline uint64_t slot_of(uint64_t h, size_t id)
{
    return (h & 0xffffffff00000000ull) | (uint64_t)(id + 1);
}

/* Whether slot e (not empty) may hold the key hashed h; then its entry. */
static inline bool slot_match(uint64_t e, uint64_t h, size_t *id)
{
    *id = (size_t)(e & 0xffffffffu) - 1;
    return (e ^ h) >> 32 == 0;
}

static dcr_status grow_slots(dcr_keytab *t, dcr_error *err)
{
    size_t ns = t->nslots * 2;
    uint64_t *s = dcr_zalloc_huge(ns, sizeof *s);
    if (!s)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    for (size_t id = 0; id < t->n; id++) {
        size_t i = t->hashes[id] & (ns - 1);
        while (s[i])
            i = (i + 1) & (ns - 1);
        s[i] = slot_of(t->hashes[id], id);
    }
    dcr_wipe_free(t->slots, t->nslots * sizeof *t->slots);
    t->slots = s;
    t->nslots = ns;
    return DCR_OK;
}

static dcr_status add_entry(dcr_keytab *t, const dcr_column *const *cols, size_t row, uint64_t h,
                            dcr_error *err)
{
    if (t->n == UINT32_MAX - 1)
        return dcr_fail(err, DCR_EINPUT, "more than 4 billion distinct keys");
    if (t->n == t->hcap) {
        size_t cap = t->hcap ? t->hcap * 2 : 256;
        if (t->hashes_cap < cap) { /* by mremap once big: not copied */
            uint64_t *hs = dcr_big_resize(t->hashes, t->hashes_cap * sizeof *hs, cap * sizeof *hs);
            if (!hs)
                return dcr_fail(err, DCR_EINTERNAL, "out of memory");
            t->hashes = hs;
            t->hashes_cap = cap;
        }
        if (t->inline_text) {
            uint8_t *in =
                dcr_big_resize(t->inl, t->hcap * DCR_KEYREC_BYTES, cap * DCR_KEYREC_BYTES);
            if (!in)
                return dcr_fail(err, DCR_EINTERNAL, "out of memory");
            t->inl = in;
        }
        t->hcap = cap;
    }
    if (t->inl) { /* the record holds a short key whole; a long one needs its row */
        size_t len;
        const char *s = dcr_keyrec_text(cols[0], row, &len);
        if (s && len > DCR_KEYREC_INLINE) {
            dcr_status st = DCR_OK;
            while (st == DCR_OK && t->keys[0].nrows < t->n) /* the entries before: unread */
                st = dcr_column_push_text(&t->keys[0], "", 0, err);
            st = st ? st : dcr_column_push_text(&t->keys[0], s, len, err);
            if (st != DCR_OK)
                return st;
        }
        dcr_keyrec_put(t->inl + t->n * DCR_KEYREC_BYTES, s, len);
    }
    for (size_t k = 0; !t->inl && k < t->nkeys; k++) {
        dcr_status s = dcr_vec_push_from(&t->keys[k], cols[k], row, err);
        if (s != DCR_OK) {
            for (size_t j = 0; j < k; j++)
                dcr_column_pop(&t->keys[j]);
            return s;
        }
    }
    t->hashes[t->n++] = h;
    return DCR_OK;
}

/* The slot where the key hashed h is, or the empty slot where it would go.
 * Inlined into the upserts: the call and its frame cost more than a lookup
 * in a small table (GROUP BY n). */
static inline __attribute__((always_inline)) size_t
find_slot(const dcr_keytab *t, const dcr_column *const *cols, size_t row, uint64_t h)
{
    size_t i = h & (t->nslots - 1), k;
    if (t->inl) { /* the key's record is made once, then compared word by word */
        _Alignas(DCR_KEYREC_BYTES) uint8_t probe[DCR_KEYREC_BYTES];
        size_t len;
        const char *s = dcr_keyrec_text(cols[0], row, &len);
        dcr_keyrec_put(probe, s, len);
        for (uint64_t e; (e = t->slots[i]); i = (i + 1) & (t->nslots - 1))
            if (slot_match(e, h, &k) &&
                dcr_keyrec_same(t->inl + k * DCR_KEYREC_BYTES, &t->keys[0], k, probe, s, len))
                return i;
        return i;
    }
    if (t->one_i64) { /* GROUP BY n: no call or type switch per candidate */
        const dcr_column *c = cols[0], *kc = &t->keys[0];
        bool null = dcr_column_is_null(c, row);
        int64_t v = null ? 0 : ((const int64_t *)c->values)[row];
        for (uint64_t e; (e = t->slots[i]); i = (i + 1) & (t->nslots - 1))
            if (slot_match(e, h, &k) && dcr_column_is_null(kc, k) == null &&
                (null || ((const int64_t *)kc->values)[k] == v))
                return i;
        return i;
    }
    for (uint64_t e; (e = t->slots[i]); i = (i + 1) & (t->nslots - 1))
        if (slot_match(e, h, &k) && key_equal(t, k, cols, row))
            return i;
    return i;
}

const char *dcr_keytab_key_text(const dcr_keytab *t, size_t id, size_t *len)
{
    const uint8_t *rec = t->inl ? t->inl + id * DCR_KEYREC_BYTES : NULL;
    if (!rec || rec[0] == DCR_KEYREC_LONG)
        return dcr_keyrec_text(&t->keys[0], id, len);
    *len = rec[0] == DCR_KEYREC_NULL ? 0 : rec[0];
    return rec[0] == DCR_KEYREC_NULL ? NULL : (const char *)rec + 1;
}

dcr_status dcr_keytab_push_key(const dcr_keytab *t, size_t k, size_t id, dcr_column *out,
                               dcr_error *err)
{
    if (!t->inl)
        return dcr_vec_push_from(out, &t->keys[k], id, err);
    size_t len;
    const char *s = dcr_keytab_key_text(t, id, &len);
    return s ? dcr_column_push_text(out, s, len, err) : dcr_column_push_null(out, err);
}

bool dcr_keytab_find(const dcr_keytab *t, const dcr_column *const *cols, size_t row, uint64_t h,
                     size_t *id)
{
    uint64_t e = t->slots[find_slot(t, cols, row, h)];
    *id = (size_t)(e & 0xffffffffu) - 1;
    return e != 0;
}

static inline __attribute__((always_inline)) dcr_status
upsert_one(dcr_keytab *t, const dcr_column *const *cols, size_t row, uint64_t h, size_t *id,
           bool *inserted, dcr_error *err)
{
    size_t i = find_slot(t, cols, row, h);
    if (t->slots[i]) {
        *id = (size_t)(t->slots[i] & 0xffffffffu) - 1;
        *inserted = false;
        return DCR_OK;
    }
    dcr_status s = add_entry(t, cols, row, h, err);
    if (s != DCR_OK)
        return s;
    t->slots[i] = slot_of(h, t->n - 1);
    *id = t->n - 1;
    *inserted = true;
    return 2 * t->n > t->nslots ? grow_slots(t, err) : DCR_OK;
}

dcr_status dcr_keytab_upsert(dcr_keytab *t, const dcr_column *const *cols, size_t row, uint64_t h,
                             size_t *id, bool *inserted, dcr_error *err)
{
    return upsert_one(t, cols, row, h, id, inserted, err);
}

/* Cache hints for the lookup of a key hashed h, in three steps that each
 * need what the previous one fetched: the slot, then the entry's key
 * validity and values (offsets for TEXT), then TEXT key bytes. Only the
 * first slot is looked at; a hint that turns out wrong costs nothing. */
DCR_PREFETCHER prefetch_lookup(const dcr_keytab *t, uint64_t h, int step)
{
    size_t i = h & (t->nslots - 1), id;
    if (step == 0) {
        __builtin_prefetch(&t->slots[i]);
        return;
    }
    uint64_t e = t->slots[i];
    if (!e || !slot_match(e, h, &id))
        return;
    if (t->inl) { /* the record; a long key's bytes are rarely needed */
        if (step == 1)
            __builtin_prefetch(t->inl + id * DCR_KEYREC_BYTES);
        return;
    }
    if (t->one_i64) {
        if (step == 1)
            __builtin_prefetch((const int64_t *)t->keys[0].values + id);
        return;
    }
    for (size_t k = 0; k < t->nkeys; k++) {
        const dcr_column *c = &t->keys[k];
        if (step == 1) {
            __builtin_prefetch(&c->valid[id >> 3]);
            if (c->type == DCR_TYPE_TEXT)
                __builtin_prefetch(&c->offsets[id]);
            else
                __builtin_prefetch((const uint8_t *)c->values + id * dcr_type_width(c->type));
        } else if (c->type == DCR_TYPE_TEXT && c->text) { /* no bytes yet: all "" or NULL */
            __builtin_prefetch(c->text + c->offsets[id]);
        }
    }
}

dcr_status dcr_keytab_upsert_rows(dcr_keytab *t, const dcr_column *const *cols,
                                  const uint32_t *rows, size_t m, const uint64_t *hashes,
                                  uint32_t *ids, uint8_t *fresh, uint32_t *new_rows, dcr_error *err)
{
    size_t before = t->n;
    enum { AHEAD = 8 };
    for (size_t j = 0; j < m; j++) {
        if (j + 3 * AHEAD < m)
            prefetch_lookup(t, hashes[rows ? rows[j + 3 * AHEAD] : j + 3 * AHEAD], 0);
        if (j + 2 * AHEAD < m)
            prefetch_lookup(t, hashes[rows ? rows[j + 2 * AHEAD] : j + 2 * AHEAD], 1);
        if (j + AHEAD < m)
            prefetch_lookup(t, hashes[rows ? rows[j + AHEAD] : j + AHEAD], 2);
        size_t i = rows ? rows[j] : j, id;
        bool inserted;
        dcr_status s = upsert_one(t, cols, i, hashes[i], &id, &inserted, err);
        if (s != DCR_OK)
            return s;
        ids[i] = (uint32_t)id;
        if (fresh)
            fresh[i] = inserted;
        if (inserted && new_rows)
            new_rows[id - before] = (uint32_t)i;
    }
    return DCR_OK;
}

dcr_status dcr_keytab_upsert_batch(dcr_keytab *t, const dcr_column *const *cols, size_t n,
                                   uint64_t *hashes, uint32_t *ids, uint8_t *fresh, dcr_error *err)
{
    for (size_t i = 0; i < n; i++)
        hashes[i] = dcr_keytab_hash(cols, t->nkeys, i);
    return dcr_keytab_upsert_rows(t, cols, NULL, n, hashes, ids, fresh, NULL, err);
}

/*
 * iblt.c: Invertible Bloom Lookup Tables over 64-bit keys (see iblt.h).
 *
 * Each key goes to one cell in each third of the table, so its three cells
 * are always distinct. A cell is "pure" when it holds exactly one key
 * (count +1 or -1 and the checksum matches the key sum); peeling removes
 * pure keys from their three cells until nothing is left (success) or no
 * cell is pure any more (failure).
 */
#include "privacy/iblt.h"

#include <stdlib.h>
#include <string.h>

#include "base/bytes.h"

static uint32_t checksum(uint64_t key)
{
    return (uint32_t)(dcr_mix64(key ^ 0x9e3779b97f4a7c15ull) >> 32);
}

static size_t cell_of(const dcr_iblt *t, uint64_t key, unsigned j)
{
    size_t third = t->ncells / 3;
    uint64_t h = dcr_mix64(key + 0x632be59bd9b4e019ull * (j + 1));
    return j * third + (size_t)(h % third);
}

size_t dcr_iblt_cells_for(uint64_t d)
{
    /* 1.5 cells per key at full capacity, so a difference of d keys loads
     * the table to 2/3 of the peeling limit; d/2 keys to a third. A floor
     * of 30 cells keeps tiny tables from failing on unlucky collisions. */
    uint64_t m = d + d / 2 + 30;
    if (m > DCR_IBLT_MAX_CELLS)
        m = DCR_IBLT_MAX_CELLS;
    return (size_t)((m + 2) / 3 * 3);
}

dcr_status dcr_iblt_init(dcr_iblt *t, size_t ncells, dcr_error *err)
{
    t->ncells = (ncells < 3 ? 3 : ncells + 2) / 3 * 3;
    if (t->ncells > DCR_IBLT_MAX_CELLS)
        return dcr_fail(err, DCR_EINPUT, "sketch: %zu cells is more than %u", t->ncells,
                        DCR_IBLT_MAX_CELLS);
    t->cells = calloc(t->ncells, sizeof *t->cells);
    if (!t->cells)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    return DCR_OK;
}

void dcr_iblt_free(dcr_iblt *t)
{
    free(t->cells);
    t->cells = NULL;
    t->ncells = 0;
}

static void add(dcr_iblt *t, uint64_t key, int32_t delta)
{
    uint32_t c = checksum(key);
    for (unsigned j = 0; j < 3; j++) {
        dcr_iblt_cell *x = &t->cells[cell_of(t, key, j)];
        x->count += delta;
        x->keysum ^= key;
        x->check ^= c;
    }
}

void dcr_iblt_insert(dcr_iblt *t, uint64_t key)
{
    add(t, key, 1);
}

void dcr_iblt_erase(dcr_iblt *t, uint64_t key)
{
    add(t, key, -1);
}

void dcr_iblt_subtract(dcr_iblt *a, const dcr_iblt *b)
{
    for (size_t i = 0; i < a->ncells && i < b->ncells; i++) {
        a->cells[i].count -= b->cells[i].count;
        a->cells[i].keysum ^= b->cells[i].keysum;
        a->cells[i].check ^= b->cells[i].check;
    }
}

static bool pure(const dcr_iblt_cell *x)
{
    return (x->count == 1 || x->count == -1) && x->check == checksum(x->keysum);
}

bool dcr_iblt_decode(dcr_iblt *t, uint64_t *plus, uint64_t *minus)
{
    *plus = *minus = 0;
    /* Sweep until a full pass peels nothing; each pass is O(m) and every
     * successful peel removes one key, so this ends. */
    bool progress = true;
    while (progress) {
        progress = false;
        for (size_t i = 0; i < t->ncells; i++) {
            dcr_iblt_cell *x = &t->cells[i];
            if (!pure(x))
                continue;
            uint64_t key = x->keysum;
            int32_t sign = x->count;
            add(t, key, -sign);
            if (sign > 0)
                (*plus)++;
            else
                (*minus)++;
            progress = true;
        }
    }
    for (size_t i = 0; i < t->ncells; i++)
        if (t->cells[i].count || t->cells[i].keysum || t->cells[i].check)
            return false;
    return true;
}

size_t dcr_iblt_size(const dcr_iblt *t)
{
    return t->ncells * 16;
}

void dcr_iblt_write(const dcr_iblt *t, uint8_t *out)
{
    for (size_t i = 0; i < t->ncells; i++, out += 16) {
        dcr_put_u32le(out, (uint32_t)t->cells[i].count);
        dcr_put_u32le(out + 4, t->cells[i].check);
        dcr_put_u64le(out + 8, t->cells[i].keysum);
    }
}

dcr_status dcr_iblt_read(dcr_iblt *t, const uint8_t *in, size_t len, dcr_error *err)
{
    if (len % 48 != 0 || len == 0)
        return dcr_fail(err, DCR_EINPUT, "sketch: %zu bytes of cells is not a whole table", len);
    dcr_status s = dcr_iblt_init(t, len / 16, err);
    if (s != DCR_OK)
        return s;
    for (size_t i = 0; i < t->ncells; i++, in += 16) {
        t->cells[i].count = (int32_t)dcr_get_u32le(in);
        t->cells[i].check = dcr_get_u32le(in + 4);
        t->cells[i].keysum = dcr_get_u64le(in + 8);
    }
    return DCR_OK;
}

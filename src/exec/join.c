/*
 * join.c: inner and left outer equi-join by hashing.
 *
 * Both inputs are held (charged to the memory budget); the side with fewer
 * rows is the build side (always the right side for a LEFT JOIN): its key
 * vectors go into a dcr_keytab whose entries chain the build rows with that
 * key. The other side probes, and every matching pair becomes a candidate
 * row (left columns, then right). A NULL key never matches, as `=` is never
 * true on NULL. The join's extra ON condition (plan->pred, over the joined
 * row) then keeps the candidates where it is TRUE. A LEFT JOIN remembers
 * which left rows kept a pair; once probing ends it emits every other left
 * row padded with NULLs on the right (PostgreSQL semantics).
 */
#include <stdlib.h>
#include <string.h>

#include "exec/internal.h"

#define NONE UINT32_MAX

typedef struct {
    dcr_batch side[2];
    dcr_vec *kv[2]; /* key vectors per side */
    int build;      /* 0 or 1 */
    dcr_keytab tab;
    uint32_t *head, *next;
    size_t probe_row;
    uint32_t chain; /* next build row to pair with probe_row, or NONE */
    bool ready;
    size_t charged;
    dcr_batch out;                   /* candidates */
    dcr_batch kept;                  /* candidates passing plan->pred */
    uint32_t *cand_left, *keep_rows; /* per candidate: its left row; kept rows */
    uint8_t *matched;                /* LEFT JOIN: per left row */
    size_t unmatched_row;            /* LEFT JOIN: next left row to check for padding */
    bool probing_done;
} join_op;

static dcr_status oom(dcr_error *err)
{
    return dcr_fail(err, DCR_EINTERNAL, "out of memory");
}

static dcr_status drain(dcr_exec_node *n, join_op *j, int side, dcr_error *err)
{
    const dcr_plan *p = n->plan->child[side];
    dcr_status s = dcr_batch_init(&j->side[side], p->types, p->ncols, err);
    while (s == DCR_OK) {
        dcr_batch *in;
        if ((s = n->child[side]->next(n->child[side], &in, err)) != DCR_OK || !in)
            break;
        if (j->side[side].nrows + in->nrows >= NONE)
            return dcr_fail(err, DCR_EINPUT, "a join input has more than 4 billion rows");
        size_t before = dcr_batch_bytes(&j->side[side]);
        s = dcr_batch_append_rows(&j->side[side], in, NULL, 0, in->nrows, err);
        size_t grew = dcr_batch_bytes(&j->side[side]) - before;
        j->charged += grew;
        s = s ? s : dcr_exec_charge(n->ctx, grew, err);
    }
    return s;
}

static dcr_status eval_keys(dcr_exec_node *n, join_op *j, int side, dcr_error *err)
{
    const dcr_plan *p = n->plan;
    dcr_expr **keys = side == 0 ? p->left_keys : p->right_keys;
    j->kv[side] = calloc(p->nkeys, sizeof *j->kv[side]);
    if (!j->kv[side])
        return oom(err);
    for (size_t k = 0; k < p->nkeys; k++) {
        dcr_status s = dcr_eval(n->ctx, keys[k], &j->side[side], NULL, &j->kv[side][k], err);
        if (s != DCR_OK)
            return s;
    }
    return DCR_OK;
}

static bool any_null(const dcr_column *const *cols, size_t nkeys, size_t row)
{
    for (size_t k = 0; k < nkeys; k++)
        if (dcr_column_is_null(cols[k], row))
            return true;
    return false;
}

static dcr_status build(dcr_exec_node *n, join_op *j, const dcr_column **cols, dcr_error *err)
{
    const dcr_plan *p = n->plan;
    size_t rows = j->side[j->build].nrows;
    dcr_type *kt = malloc(p->nkeys * sizeof *kt);
    j->next = malloc((rows ? rows : 1) * sizeof *j->next);
    if (!kt || !j->next) {
        free(kt);
        return oom(err);
    }
    for (size_t k = 0; k < p->nkeys; k++) {
        kt[k] = j->kv[j->build][k].c->type;
        cols[k] = j->kv[j->build][k].c;
    }
    dcr_status s = dcr_keytab_init(&j->tab, kt, p->nkeys, err);
    free(kt);
    size_t cap = 0;
    for (size_t r = rows; s == DCR_OK && r-- > 0;) { /* backwards: chains in row order */
        j->next[r] = NONE;
        if (any_null(cols, p->nkeys, r))
            continue;
        size_t id;
        bool fresh;
        s = dcr_keytab_upsert(&j->tab, cols, r, dcr_keytab_hash(cols, p->nkeys, r), &id, &fresh,
                              err);
        if (s == DCR_OK && id >= cap) {
            size_t nc = cap ? cap * 2 : 256;
            uint32_t *h = realloc(j->head, nc * sizeof *h);
            if (!h)
                return oom(err);
            j->head = h;
            cap = nc;
        }
        if (s == DCR_OK) {
            j->next[r] = fresh ? NONE : j->head[id];
            j->head[id] = (uint32_t)r;
        }
    }
    size_t bytes = dcr_keytab_bytes(&j->tab) + (rows + cap) * sizeof(uint32_t);
    j->charged += bytes;
    return s ? s : dcr_exec_charge(n->ctx, bytes, err);
}

static dcr_status prepare(dcr_exec_node *n, join_op *j, dcr_error *err)
{
    dcr_status s = drain(n, j, 0, err);
    s = s ? s : drain(n, j, 1, err);
    if (s != DCR_OK)
        return s;
    j->build = n->plan->left_outer || j->side[1].nrows <= j->side[0].nrows ? 1 : 0;
    size_t nl = j->side[0].nrows;
    j->cand_left = malloc(n->ctx->batch_rows * sizeof *j->cand_left);
    j->keep_rows = malloc(n->ctx->batch_rows * sizeof *j->keep_rows);
    j->matched = calloc(nl ? nl : 1, 1);
    if (!j->cand_left || !j->keep_rows || !j->matched)
        return oom(err);
    j->charged += nl;
    if ((s = dcr_exec_charge(n->ctx, nl, err)) != DCR_OK)
        return s;
    s = eval_keys(n, j, 0, err);
    s = s ? s : eval_keys(n, j, 1, err);
    const dcr_column **cols = calloc(n->plan->nkeys, sizeof *cols);
    if (s == DCR_OK && !cols)
        s = oom(err);
    s = s ? s : build(n, j, cols, err);
    free(cols);
    j->chain = NONE;
    j->ready = true;
    return s;
}

/* Starts the chain of the next probe row that has matches; false at end. */
static bool next_probe(const dcr_exec_node *n, join_op *j, const dcr_column **pcols)
{
    int probe = 1 - j->build;
    size_t nk = n->plan->nkeys;
    while (j->probe_row < j->side[probe].nrows) {
        size_t r = j->probe_row;
        size_t id;
        if (!any_null(pcols, nk, r) &&
            dcr_keytab_find(&j->tab, pcols, r, dcr_keytab_hash(pcols, nk, r), &id)) {
            j->chain = j->head[id];
            return true;
        }
        j->probe_row++;
    }
    return false;
}

static dcr_status emit_pair(join_op *j, size_t probe_row, size_t build_row, dcr_error *err)
{
    size_t rows[2];
    rows[j->build] = build_row;
    rows[1 - j->build] = probe_row;
    size_t c = 0;
    for (int side = 0; side < 2; side++)
        for (size_t k = 0; k < j->side[side].ncols; k++, c++) {
            dcr_status s =
                dcr_vec_push_from(&j->out.cols[c], &j->side[side].cols[k], rows[side], err);
            if (s != DCR_OK)
                return s;
        }
    j->out.nrows++;
    return DCR_OK;
}

/* Fills j->out with up to batch_rows candidate pairs; sets probing_done. */
static dcr_status fill_candidates(dcr_exec_node *n, join_op *j, dcr_error *err)
{
    size_t nk = n->plan->nkeys;
    const dcr_column **pcols = calloc(nk, sizeof *pcols);
    if (!pcols)
        return oom(err);
    for (size_t k = 0; k < nk; k++)
        pcols[k] = j->kv[1 - j->build][k].c;
    dcr_status s = DCR_OK;
    while (s == DCR_OK && j->out.nrows < n->ctx->batch_rows) {
        if (j->chain == NONE && !next_probe(n, j, pcols)) {
            j->probing_done = true;
            break;
        }
        j->cand_left[j->out.nrows] = (uint32_t)(j->build == 0 ? j->chain : j->probe_row);
        s = emit_pair(j, j->probe_row, j->chain, err);
        j->chain = j->next[j->chain];
        if (j->chain == NONE)
            j->probe_row++;
    }
    free(pcols);
    return s;
}

/* Applies the extra ON condition to the candidates; *res is what passes. */
static dcr_status apply_pred(dcr_exec_node *n, join_op *j, dcr_batch **res, dcr_error *err)
{
    *res = &j->out;
    if (!n->plan->pred) {
        for (size_t i = 0; i < j->out.nrows; i++)
            j->matched[j->cand_left[i]] = 1;
        return DCR_OK;
    }
    dcr_vec v = {0};
    dcr_status s = dcr_eval(n->ctx, n->plan->pred, &j->out, NULL, &v, err);
    if (s != DCR_OK)
        return s;
    size_t k = 0;
    const uint8_t *t = v.c->values;
    for (size_t i = 0; i < j->out.nrows; i++)
        if (t[i] && !dcr_column_is_null(v.c, i)) {
            j->keep_rows[k++] = (uint32_t)i;
            j->matched[j->cand_left[i]] = 1;
        }
    dcr_vec_free(&v);
    dcr_batch_clear(&j->kept);
    *res = &j->kept;
    return dcr_batch_append_rows(&j->kept, &j->out, j->keep_rows, 0, k, err);
}

/* LEFT JOIN: left rows without a kept pair, padded with NULLs. */
static dcr_status fill_unmatched(dcr_exec_node *n, join_op *j, dcr_error *err)
{
    size_t nl = j->side[0].ncols, nr = j->side[1].ncols;
    dcr_status s = DCR_OK;
    while (s == DCR_OK && j->out.nrows < n->ctx->batch_rows &&
           j->unmatched_row < j->side[0].nrows) {
        size_t r = j->unmatched_row++;
        if (j->matched[r])
            continue;
        for (size_t c = 0; s == DCR_OK && c < nl; c++)
            s = dcr_vec_push_from(&j->out.cols[c], &j->side[0].cols[c], r, err);
        for (size_t c = 0; s == DCR_OK && c < nr; c++)
            s = dcr_column_push_null(&j->out.cols[nl + c], err);
        j->out.nrows += s == DCR_OK;
    }
    return s;
}

static dcr_status join_next(dcr_exec_node *n, dcr_batch **out, dcr_error *err)
{
    join_op *j = n->state;
    *out = NULL;
    dcr_status s = j->ready ? DCR_OK : prepare(n, j, err);
    while (s == DCR_OK && !j->probing_done) {
        dcr_batch_clear(&j->out);
        s = fill_candidates(n, j, err);
        dcr_batch *res = NULL;
        s = s ? s : apply_pred(n, j, &res, err);
        if (s == DCR_OK && res->nrows) {
            *out = res;
            return DCR_OK;
        }
    }
    if (s != DCR_OK || !n->plan->left_outer)
        return s;
    dcr_batch_clear(&j->out);
    s = fill_unmatched(n, j, err);
    if (s == DCR_OK && j->out.nrows)
        *out = &j->out;
    return s;
}

static void join_destroy(dcr_exec_node *n)
{
    join_op *j = n->state;
    if (!j)
        return;
    for (int side = 0; side < 2; side++) {
        for (size_t k = 0; j->kv[side] && k < n->plan->nkeys; k++)
            dcr_vec_free(&j->kv[side][k]);
        free(j->kv[side]);
        dcr_batch_free(&j->side[side]);
    }
    if (j->tab.keys)
        dcr_keytab_free(&j->tab);
    free(j->head);
    free(j->next);
    dcr_batch_free(&j->out);
    dcr_batch_free(&j->kept);
    free(j->cand_left);
    free(j->keep_rows);
    free(j->matched);
    dcr_exec_release(n->ctx, j->charged);
    free(j);
    n->state = NULL;
}

dcr_status dcr_exec_join_init(dcr_exec_node *n, dcr_error *err)
{
    join_op *j = calloc(1, sizeof *j);
    if (!j)
        return oom(err);
    n->state = j;
    n->next = join_next;
    n->destroy = join_destroy;
    dcr_status s = dcr_batch_init(&j->out, n->plan->types, n->plan->ncols, err);
    return s ? s : dcr_batch_init(&j->kept, n->plan->types, n->plan->ncols, err);
}

/*
 * source_sealed.c: a sealed dataset as a source (source.h). Every chunk is
 * authenticated (AES-256-GCM, STREAM nonces) before its columns are
 * decoded; in a segmented file (docs/format.md) only the directory and the
 * scan's columns are decrypted and authenticated, and only those columns
 * are decompressed and checked.
 *
 * Chunks are read, decrypted and decoded by an ordered pool of worker threads
 * (base/ordered_pool.h), a few chunks ahead of the operator that consumes
 * them, and come out in file order. The ring holds workers + 1 chunks, so
 * memory stays bounded whatever the file size. The decoded columns are
 * moved, not copied, into the scan's batch: the batch's previous arrays go
 * back to the task, to be reused for a later chunk.
 */
#include <stdlib.h>
#include <string.h>

#include "base/ordered_pool.h"
#include "exec/source.h"
#include "store/sealed_reader.h"

typedef struct {
    dcr_buf ct;      /* read by the worker */
    uint64_t offset; /* where the ciphertext is in the file */
    size_t ct_len;
    uint32_t index;
    bool last;
    dcr_chunk chunk; /* decoded; only the wanted columns are filled */
} chunk_task;

typedef struct {
    const dcr_sealed_reader *r;
    const uint8_t *key;
    const uint8_t *want; /* per file column: DCR_CHUNK_SKIP, _DECODE or _DEFER */
    bool skips;          /* some column is skipped: read chunks in two steps */
    const char *path;
    dcr_buf plain, scratch;
} chunk_worker;

typedef struct {
    const dcr_sealed_source *src;
    dcr_sealed_reader r;
    bool open;
    size_t *cols, ncols;
    uint8_t *want;
    size_t nworkers, ring, ntasks; /* ntasks: tasks whose chunk is initialised */
    chunk_worker *workers;
    void **wctx;
    chunk_task *tasks;
    dcr_ordered_pool *pool;
    bool read_all; /* the reader returned every chunk */
    bool saw_last;
    uint64_t handed_out; /* bytes of the chunks handed out, length prefixes included */
} sealed_scan;

/* The chunk's ciphertext into t->ct: in a segmented file, the directory
 * first, then only as far as the last column the scan reads. */
static dcr_status read_chunk(chunk_worker *w, chunk_task *t, dcr_error *err)
{
    const dcr_sealed_header *h = &w->r->header;
    size_t dir = dcr_chunk_dir_ct_len(h), need = t->ct_len;
    if (!h->segmented || !w->skips || t->ct_len <= dir)
        return dcr_sealed_reader_read(w->r, t->offset, t->ct_len, &t->ct, err);
    dcr_status s = dcr_sealed_reader_read(w->r, t->offset, dir, &t->ct, err);
    s = s ? s
          : dcr_sealed_reader_wanted_prefix(w->r, w->key, t->ct.data, t->ct_len, t->index, t->last,
                                            w->want, &need, &w->plain, err);
    return s ? s : dcr_sealed_reader_read_more(w->r, t->offset + dir, need - dir, &t->ct, err);
}

static dcr_status run_task(void *ctx, void *task, dcr_error *err)
{
    chunk_worker *w = ctx;
    chunk_task *t = task;
    dcr_status s = read_chunk(w, t, err);
    if (s != DCR_OK)
        return s;
    s = dcr_sealed_reader_decrypt_columns(w->r, w->key, t->ct.data, t->ct_len, t->index, t->last,
                                          w->want, &w->plain, err);
    if (s != DCR_OK)
        return s;
    s = dcr_chunk_decode(&w->r->header, w->plain.data, w->plain.len, w->want, &t->chunk,
                         &w->scratch, err);
    if (s != DCR_OK)
        return dcr_error_prefix(err, "%s: chunk %u", w->path, t->index);
    return DCR_OK;
}

static void sealed_close(void *scan)
{
    sealed_scan *s = scan;
    dcr_pool_stop(s->pool);
    for (size_t i = 0; s->workers && i < s->nworkers; i++) {
        dcr_buf_wipe_free(&s->workers[i].plain);
        dcr_buf_wipe_free(&s->workers[i].scratch);
    }
    for (size_t i = 0; s->tasks && i < s->ring; i++) {
        dcr_buf_free(&s->tasks[i].ct);
        if (i < s->ntasks)
            dcr_chunk_free(&s->tasks[i].chunk);
    }
    if (s->open)
        dcr_sealed_reader_close(&s->r);
    free(s->workers);
    free(s->wctx);
    free(s->tasks);
    free(s->cols);
    free(s->want);
    free(s);
}

static dcr_status start_pool(sealed_scan *s, size_t threads, dcr_error *err)
{
    s->nworkers = threads ? threads : dcr_pool_default_workers();
    s->ring = s->nworkers + 1;
    s->workers = calloc(s->nworkers, sizeof *s->workers);
    s->wctx = calloc(s->nworkers, sizeof *s->wctx);
    s->tasks = calloc(s->ring, sizeof *s->tasks);
    if (!s->workers || !s->wctx || !s->tasks)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    bool skips = false;
    for (size_t i = 0; i < s->r.header.schema.ncols; i++)
        skips = skips || s->want[i] == DCR_CHUNK_SKIP;
    for (size_t i = 0; i < s->nworkers; i++) {
        s->workers[i] = (chunk_worker){
            .r = &s->r, .key = s->src->key, .want = s->want, .skips = skips, .path = s->src->path};
        s->wctx[i] = &s->workers[i];
    }
    for (; s->ntasks < s->ring; s->ntasks++) {
        dcr_status st = dcr_chunk_init(&s->tasks[s->ntasks].chunk, &s->r.header.schema, err);
        if (st != DCR_OK)
            return st;
    }
    return dcr_pool_start(&s->pool, s->nworkers, s->wctx, s->tasks, s->ring, sizeof *s->tasks,
                          run_task, err);
}

static dcr_status sealed_open(void *ctx, const size_t *cols, size_t ncols, size_t threads,
                              void **scan, dcr_error *err)
{
    sealed_scan *s = calloc(1, sizeof *s);
    if (!s)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    s->src = ctx;
    dcr_status st = dcr_sealed_reader_open(&s->r, s->src->path, err);
    s->open = st == DCR_OK;
    size_t nfile = s->open ? s->r.header.schema.ncols : 0;
    if (st == DCR_OK) {
        s->cols = calloc(ncols ? ncols : 1, sizeof *s->cols);
        s->want = calloc(nfile ? nfile : 1, sizeof *s->want);
        if (!s->cols || !s->want)
            st = dcr_fail(err, DCR_EINTERNAL, "out of memory");
    }
    for (size_t i = 0; st == DCR_OK && i < ncols; i++) {
        if (cols[i] >= nfile)
            st = dcr_fail(err, DCR_EINPUT, "%s: has no column %zu (the file changed?)",
                          s->src->path, cols[i]);
        else
            s->want[cols[i]] = DCR_CHUNK_DECODE, s->cols[i] = cols[i];
    }
    s->ncols = ncols;
    st = st ? st : start_pool(s, threads, err);
    if (st != DCR_OK) {
        sealed_close(s);
        return st;
    }
    *scan = s;
    return DCR_OK;
}

/* Hands chunks to the workers until the ring is full or the file ends. */
static dcr_status feed(sealed_scan *s, dcr_error *err)
{
    chunk_task *t;
    while (!s->read_all && (t = dcr_pool_free_slot(s->pool))) {
        dcr_status st =
            dcr_sealed_reader_next_span(&s->r, &t->offset, &t->ct_len, &t->index, &t->last, err);
        if (st != DCR_OK)
            return dcr_error_prefix(err, "%s", s->src->path);
        if (t->ct_len == 0) {
            s->read_all = true;
            break;
        }
        dcr_pool_submit(s->pool);
    }
    return DCR_OK;
}

static dcr_status sealed_next(void *scan, dcr_batch *out, bool *done, dcr_error *err)
{
    sealed_scan *s = scan;
    dcr_status st = feed(s, err);
    if (st != DCR_OK)
        return st;
    if (dcr_pool_pending(s->pool) == 0) {
        *done = true;
        out->nrows = 0;
        return s->saw_last ? DCR_OK : dcr_fail(err, DCR_EINPUT, "%s: no final chunk", s->src->path);
    }
    chunk_task *t = dcr_pool_wait_oldest(s->pool, &st, err);
    if (st == DCR_OK) {
        s->saw_last = t->last;
        for (size_t i = 0; i < s->ncols; i++) { /* move: swap the arrays */
            dcr_column tmp = out->cols[i];
            out->cols[i] = t->chunk.cols[s->cols[i]];
            t->chunk.cols[s->cols[i]] = tmp;
        }
        out->nrows = t->chunk.nrows;
        s->handed_out += 4 + (uint64_t)t->ct_len;
        *done = false;
    }
    dcr_pool_release_oldest(s->pool);
    return st ? st : feed(s, err); /* keep the workers busy while the caller works */
}

static double sealed_progress(void *scan)
{
    const sealed_scan *s = scan;
    uint64_t start = s->r.header.header_len; /* where chunk 0 starts */
    uint64_t data = s->r.file_size > start ? s->r.file_size - start : 0;
    return data && s->handed_out < data ? (double)s->handed_out / (double)data : 1.0;
}

/* The workers read want only for tasks submitted after this (the pool's
 * lock orders it), and nothing is submitted before the first next(). */
static void sealed_defer(void *scan, size_t col)
{
    sealed_scan *s = scan;
    if (col < s->ncols && s->r.header.schema.cols[s->cols[col]].type == DCR_TYPE_TEXT)
        s->want[s->cols[col]] = DCR_CHUNK_DEFER;
}

void dcr_sealed_source_bind(dcr_exec_source *src, dcr_sealed_source *s)
{
    *src = (dcr_exec_source){.ctx = s,
                             .open = sealed_open,
                             .next = sealed_next,
                             .close = sealed_close,
                             .progress = sealed_progress,
                             .defer = sealed_defer};
}

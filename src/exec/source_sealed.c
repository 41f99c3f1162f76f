/*
 * source_sealed.c: a sealed dataset as a source (source.h). Every chunk is
 * authenticated (AES-256-GCM, STREAM nonces) before its columns are
 * decoded; only the scan's columns are decompressed and checked. The
 * decoded columns are moved, not copied, into the scan's batch.
 */
#include <stdlib.h>
#include <string.h>

#include "exec/source.h"
#include "store/sealed_reader.h"

typedef struct {
    const dcr_sealed_source *src;
    dcr_sealed_reader r;
    bool open;
    size_t *cols, ncols;
    bool *want;
    dcr_buf plain, scratch;
    dcr_chunk chunk;
    bool saw_last;
} sealed_scan;

static void sealed_close(void *scan)
{
    sealed_scan *s = scan;
    if (s->open)
        dcr_sealed_reader_close(&s->r);
    dcr_buf_wipe_free(&s->plain);
    dcr_buf_wipe_free(&s->scratch);
    dcr_chunk_free(&s->chunk);
    free(s->cols);
    free(s->want);
    free(s);
}

static dcr_status sealed_open(void *ctx, const size_t *cols, size_t ncols, void **scan,
                              dcr_error *err)
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
        s->want = calloc(nfile, sizeof *s->want);
        if (!s->cols || !s->want)
            st = dcr_fail(err, DCR_EINTERNAL, "out of memory");
    }
    for (size_t i = 0; st == DCR_OK && i < ncols; i++) {
        if (cols[i] >= nfile)
            st = dcr_fail(err, DCR_EINPUT, "%s: has no column %zu (the file changed?)",
                          s->src->path, cols[i]);
        else
            s->want[cols[i]] = true, s->cols[i] = cols[i];
    }
    s->ncols = ncols;
    st = st ? st : dcr_chunk_init(&s->chunk, &s->r.header.schema, err);
    if (st != DCR_OK) {
        sealed_close(s);
        return st;
    }
    *scan = s;
    return DCR_OK;
}

static dcr_status sealed_next(void *scan, dcr_batch *out, bool *done, dcr_error *err)
{
    sealed_scan *s = scan;
    const uint8_t *ct;
    size_t ct_len;
    uint32_t index;
    bool last;
    dcr_status st = dcr_sealed_reader_next(&s->r, &ct, &ct_len, &index, &last, err);
    if (st != DCR_OK)
        return dcr_error_prefix(err, "%s", s->src->path);
    if (!ct) {
        *done = true;
        out->nrows = 0;
        return s->saw_last ? DCR_OK : dcr_fail(err, DCR_EINPUT, "%s: no final chunk", s->src->path);
    }
    s->saw_last = last;
    st = dcr_sealed_reader_decrypt(&s->r, s->src->key, ct, ct_len, index, last, &s->plain, err);
    if (st != DCR_OK)
        return st;
    st = dcr_chunk_decode(&s->r.header, s->plain.data, s->plain.len, s->want, &s->chunk,
                          &s->scratch, err);
    if (st != DCR_OK)
        return dcr_error_prefix(err, "%s: chunk %u", s->src->path, index);
    for (size_t i = 0; i < s->ncols; i++) { /* move: swap the arrays */
        dcr_column tmp = out->cols[i];
        out->cols[i] = s->chunk.cols[s->cols[i]];
        s->chunk.cols[s->cols[i]] = tmp;
    }
    out->nrows = s->chunk.nrows;
    *done = false;
    return DCR_OK;
}

void dcr_sealed_source_bind(dcr_exec_source *src, dcr_sealed_source *s)
{
    *src = (dcr_exec_source){
        .ctx = s, .open = sealed_open, .next = sealed_next, .close = sealed_close};
}

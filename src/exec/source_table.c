/*
 * source_table.c: in-memory columns as a dataset (source.h).
 */
#include <stdlib.h>

#include "exec/source.h"

typedef struct {
    const dcr_table_source *t;
    size_t *cols, ncols;
    bool *defer; /* per output column */
    size_t pos;
} table_scan;

static dcr_status table_open(void *ctx, const size_t *cols, size_t ncols, size_t threads,
                             void **scan, dcr_error *err)
{
    (void)threads; /* the columns are already in memory */
    const dcr_table_source *t = ctx;
    table_scan *s = calloc(1, sizeof *s);
    size_t *c = calloc(ncols ? ncols : 1, sizeof *c);
    bool *d = calloc(ncols ? ncols : 1, sizeof *d);
    if (!s || !c || !d) {
        free(s);
        free(c);
        free(d);
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    }
    for (size_t i = 0; i < ncols; i++) {
        if (cols[i] >= t->ncols) {
            free(s);
            free(c);
            free(d);
            return dcr_fail(err, DCR_EINTERNAL, "table has no column %zu", cols[i]);
        }
        c[i] = cols[i];
    }
    s->defer = d;
    s->t = t;
    s->cols = c;
    s->ncols = ncols;
    *scan = s;
    return DCR_OK;
}

static dcr_status table_next(void *scan, dcr_batch *out, bool *done, dcr_error *err)
{
    table_scan *s = scan;
    size_t total = s->t->ncols ? s->t->cols[0].nrows : 0;
    size_t n = s->t->chunk_rows ? s->t->chunk_rows : total;
    n = n < total - s->pos ? n : total - s->pos;
    for (size_t i = 0; i < s->ncols; i++) {
        for (size_t r = 0; r < n; r++) {
            dcr_status st =
                dcr_vec_push_from(&out->cols[i], &s->t->cols[s->cols[i]], s->pos + r, err);
            if (st != DCR_OK)
                return st;
        }
        /* codes go along, as from a dictionary-encoded sealed chunk */
        dcr_status st =
            dcr_vec_copy_codes(&out->cols[i], &s->t->cols[s->cols[i]], NULL, s->pos, n, err);
        if (st == DCR_OK && s->defer[i]) /* and deferred, as a sealed chunk would be */
            st = dcr_column_defer(&out->cols[i], err);
        if (st != DCR_OK)
            return st;
    }
    out->nrows = n;
    s->pos += n;
    *done = s->pos >= total;
    return DCR_OK;
}

static double table_progress(void *scan)
{
    const table_scan *s = scan;
    size_t total = s->t->ncols ? s->t->cols[0].nrows : 0;
    return total ? (double)s->pos / (double)total : 1.0;
}

static void table_close(void *scan)
{
    table_scan *s = scan;
    free(s->cols);
    free(s->defer);
    free(s);
}

static void table_defer(void *scan, size_t col)
{
    table_scan *s = scan;
    if (col < s->ncols)
        s->defer[col] = true;
}

void dcr_table_source_bind(dcr_exec_source *src, dcr_table_source *t)
{
    *src = (dcr_exec_source){.ctx = t,
                             .open = table_open,
                             .next = table_next,
                             .close = table_close,
                             .progress = table_progress,
                             .defer = table_defer};
}

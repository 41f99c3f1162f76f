/*
 * unseal.c: authenticating a sealed file and turning it back into CSV.
 *
 * Both passes (authenticate, then decode and write) run the chunks through
 * an ordered pool: workers decrypt, decode and format in parallel, and the
 * calling thread writes the results in file order.
 */
#include "store/unseal.h"

#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"
#include "base/ordered_pool.h"
#include "csv/csv.h"
#include "base/value.h"

#define FLUSH_BYTES (1u << 20)

static dcr_status write_value(const dcr_column *c, size_t row, dcr_buf *out, dcr_error *err)
{
    if (dcr_column_is_null(c, row))
        return DCR_OK;
    char text[DCR_INTERVAL_TEXT_MAX]; /* the longest value text */
    size_t n = 0;
    switch (c->type) {
    case DCR_TYPE_TEXT: {
        uint32_t a = c->offsets[row], b = c->offsets[row + 1];
        const char *str = a == b ? "" : c->text + a; /* text is NULL when all are empty */
        return dcr_csv_write_field(out, str, b - a, a == b, err);
    }
    case DCR_TYPE_BIGINT:
        n = dcr_format_bigint(((const int64_t *)c->values)[row], text);
        break;
    case DCR_TYPE_DOUBLE:
        n = dcr_format_double(((const double *)c->values)[row], text);
        break;
    case DCR_TYPE_BOOLEAN:
        n = dcr_format_bool(((const uint8_t *)c->values)[row], text);
        break;
    case DCR_TYPE_DATE:
        n = dcr_format_date(((const int32_t *)c->values)[row], text);
        break;
    case DCR_TYPE_TIMESTAMP:
        n = dcr_format_timestamp(((const int64_t *)c->values)[row], text);
        break;
    case DCR_TYPE_INTERVAL: /* never a column's type (dcr_type_valid) */
        n = dcr_format_interval(((const dcr_interval *)c->values)[row], text);
        break;
    }
    return dcr_csv_write_field(out, text, n, false, err);
}

static dcr_status write_chunk_rows(const dcr_chunk *chunk, dcr_buf *out, dcr_error *err)
{
    dcr_status s = DCR_OK;
    for (size_t row = 0; s == DCR_OK && row < chunk->nrows; row++) {
        for (size_t c = 0; s == DCR_OK && c < chunk->ncols; c++) {
            if (c > 0)
                s = dcr_buf_append(out, ",", 1, err);
            if (s == DCR_OK)
                s = write_value(&chunk->cols[c], row, out, err);
        }
        if (s == DCR_OK)
            s = dcr_buf_append(out, "\n", 1, err);
    }
    return s;
}

static dcr_status write_header_row(const dcr_schema *schema, dcr_buf *out, dcr_error *err)
{
    dcr_status s = DCR_OK;
    for (size_t c = 0; s == DCR_OK && c < schema->ncols; c++) {
        if (c > 0)
            s = dcr_buf_append(out, ",", 1, err);
        if (s == DCR_OK)
            s = dcr_buf_append(out, schema->cols[c].name, strlen(schema->cols[c].name), err);
    }
    return s == DCR_OK ? dcr_buf_append(out, "\n", 1, err) : s;
}

/* One chunk: its ciphertext in, CSV text out. */
typedef struct {
    dcr_buf ct;
    uint32_t index;
    bool last;
    bool verify_only;
    dcr_buf csv;
    uint64_t rows;
} chunk_task;

typedef struct {
    const dcr_sealed_reader *r;
    const uint8_t *key;
    dcr_buf plain, scratch;
    dcr_chunk chunk;
} chunk_worker;

static dcr_status run_task(void *ctx, void *task, dcr_error *err)
{
    chunk_worker *w = ctx;
    chunk_task *t = task;
    t->csv.len = 0;
    t->rows = 0;
    dcr_status s = dcr_sealed_reader_decrypt(w->r, w->key, t->ct.data, t->ct.len, t->index, t->last,
                                             &w->plain, err);
    if (s != DCR_OK || t->verify_only)
        return s;
    s = dcr_chunk_decode(&w->r->header, w->plain.data, w->plain.len, NULL, &w->chunk, &w->scratch,
                         err);
    if (s != DCR_OK)
        return dcr_error_prefix(err, "%s: chunk %u", w->r->path, t->index);
    t->rows = w->chunk.nrows;
    return write_chunk_rows(&w->chunk, &t->csv, err);
}

/* What the calling thread does with finished chunks, in order. */
typedef struct {
    int fd; /* -1 for the authentication pass */
    dcr_buf out;
    uint64_t chunks, rows, bytes_out;
    bool saw_last;
} pass_sink;

static dcr_status flush(pass_sink *sink, dcr_error *err)
{
    dcr_status s = dcr_write_all(sink->fd, sink->out.data, sink->out.len, "output", err);
    sink->bytes_out += sink->out.len;
    sink->out.len = 0;
    return s;
}

static dcr_status consume_oldest(dcr_ordered_pool *pool, pass_sink *sink, dcr_error *err)
{
    dcr_status s;
    chunk_task *t = dcr_pool_wait_oldest(pool, &s, err);
    if (s == DCR_OK) {
        sink->chunks++;
        sink->rows += t->rows;
        sink->saw_last = t->last;
        if (sink->fd >= 0)
            s = dcr_buf_append(&sink->out, t->csv.data, t->csv.len, err);
        if (s == DCR_OK && sink->out.len >= FLUSH_BYTES)
            s = flush(sink, err);
    }
    dcr_buf_wipe_free(&t->csv); /* plaintext: do not keep it around between chunks */
    dcr_pool_release_oldest(pool);
    return s;
}

static dcr_status feed_chunks(dcr_sealed_reader *r, dcr_ordered_pool *pool, bool verify_only,
                              pass_sink *sink, dcr_error *err)
{
    dcr_status s = DCR_OK;
    for (;;) {
        const uint8_t *ct;
        size_t ct_len;
        uint32_t index;
        bool last;
        if ((s = dcr_sealed_reader_next(r, &ct, &ct_len, &index, &last, err)) || !ct)
            break;
        chunk_task *t;
        while (s == DCR_OK && !(t = dcr_pool_free_slot(pool)))
            s = consume_oldest(pool, sink, err);
        if (s != DCR_OK)
            break;
        t->ct.len = 0;
        if ((s = dcr_buf_append(&t->ct, ct, ct_len, err)))
            break;
        t->index = index;
        t->last = last;
        t->verify_only = verify_only;
        dcr_pool_submit(pool);
    }
    while (s == DCR_OK && dcr_pool_pending(pool) > 0)
        s = consume_oldest(pool, sink, err);
    if (s == DCR_OK && sink->fd >= 0)
        s = flush(sink, err);
    if (s == DCR_OK && !sink->saw_last)
        s = dcr_fail(err, DCR_EINPUT, "%s: no final chunk", r->path);
    return s;
}

/* Runs every chunk of r through the workers once. */
static dcr_status run_pass(dcr_sealed_reader *r, const uint8_t key[DCR_DATA_KEY_LEN],
                           bool verify_only, pass_sink *sink, dcr_error *err)
{
    size_t n = dcr_pool_default_workers(), ring = n + 2;
    chunk_worker *workers = calloc(n, sizeof *workers);
    chunk_task *tasks = calloc(ring, sizeof *tasks);
    void **ctx = calloc(n, sizeof *ctx);
    dcr_status s = workers && tasks && ctx ? DCR_OK : dcr_fail(err, DCR_EINTERNAL, "out of memory");
    size_t ready = 0;
    while (s == DCR_OK && ready < n) {
        workers[ready] = (chunk_worker){.r = r, .key = key};
        ctx[ready] = &workers[ready];
        if ((s = dcr_chunk_init(&workers[ready].chunk, &r->header.schema, err)) == DCR_OK)
            ready++;
    }
    dcr_ordered_pool *pool = NULL;
    if (s == DCR_OK)
        s = dcr_pool_start(&pool, n, ctx, tasks, ring, sizeof *tasks, run_task, err);
    dcr_sealed_reader_rewind(r);
    if (s == DCR_OK)
        s = feed_chunks(r, pool, verify_only, sink, err);
    dcr_pool_stop(pool);
    dcr_sealed_reader_rewind(r);
    for (size_t i = 0; i < ready; i++) {
        dcr_buf_wipe_free(&workers[i].plain);
        dcr_buf_wipe_free(&workers[i].scratch);
        dcr_chunk_free(&workers[i].chunk);
    }
    for (size_t i = 0; tasks && i < ring; i++) {
        dcr_buf_free(&tasks[i].ct);
        dcr_buf_wipe_free(&tasks[i].csv);
    }
    free(workers);
    free(tasks);
    free(ctx);
    return s;
}

dcr_status dcr_unseal_verify(dcr_sealed_reader *r, const uint8_t key[DCR_DATA_KEY_LEN],
                             uint64_t *chunks, dcr_error *err)
{
    pass_sink sink = {.fd = -1};
    dcr_status s = run_pass(r, key, true, &sink, err);
    *chunks = sink.chunks;
    return s;
}

dcr_status dcr_unseal_csv(dcr_sealed_reader *r, const uint8_t key[DCR_DATA_KEY_LEN], int out_fd,
                          dcr_unseal_stats *stats, dcr_error *err)
{
    memset(stats, 0, sizeof *stats);
    uint64_t verified;
    dcr_status s = dcr_unseal_verify(r, key, &verified, err);
    if (s != DCR_OK)
        return s;
    pass_sink sink = {.fd = out_fd};
    s = write_header_row(&r->header.schema, &sink.out, err);
    if (s == DCR_OK)
        s = run_pass(r, key, false, &sink, err);
    if (s == DCR_OK && sink.chunks != verified)
        s = dcr_fail(err, DCR_EINPUT, "%s: file changed while being read", r->path);
    stats->rows = sink.rows;
    stats->chunks = sink.chunks;
    stats->bytes_out = sink.bytes_out;
    dcr_buf_wipe_free(&sink.out);
    return s;
}

/*
 * seal.c: the CSV -> sealed dataset pipeline.
 *
 *   reader (calling thread)  cuts the input into blocks of whole records
 *   workers (N threads)      parse, check and encode each block into payloads
 *   writer (calling thread)  encrypts payloads in order, writes them
 *
 * Jobs sit in the fixed ring of an ordered pool (base/ordered_pool.h), so at
 * most threads + 2 blocks are in memory at once whatever the input size. The writer holds back one
 * payload so that it can mark the final chunk as last. Plaintext buffers are wiped when freed.
 */
#include "store/seal.h"

#include <stdlib.h>
#include <string.h>

#include "base/buffer.h"
#include "base/fileio.h"
#include "base/ordered_pool.h"
#include "base/hygiene.h"
#include "csv/csv.h"
#include "base/value.h"
#include "store/input.h"
#include "store/jsonl.h"
#include "store/sealed.h"

#define BLOCK_BYTES (4u << 20)         /* CSV bytes handed to a worker at a time */
#define RECORD_MAX (64u << 20)         /* longest single CSV record accepted */
#define CHUNK_ROWS_MAX (1u << 20)      /* rows per chunk */
#define CHUNK_BYTES_MAX (128u << 20)   /* bound on a chunk's decoded size */
#define CHUNK_TARGET_BYTES (32u << 20) /* start a new chunk past this estimate */
#define DEFAULT_ZSTD_LEVEL 1
#define BAD_ROWS_REPORTED 20 /* messages kept for skipped rows, by default */

/* One block of CSV in, its chunk payloads out: a task of the ordered pool. */
typedef struct {
    char *block; /* owned CSV bytes, writable (fields are unescaped in place) */
    size_t len, cap;
    uint64_t first_line;
    dcr_buf *payloads; /* owned */
    size_t npayloads, payload_cap;
    uint64_t rows;
    uint64_t bad_rows;
    dcr_buf bad_report; /* messages of the first report_max skipped rows */
} job;

/* What every worker reads and nobody writes during the run. */
typedef struct {
    const dcr_seal_options *opt;
    const dcr_sealed_header *header;
    const size_t *csv_index; /* schema column -> CSV field */
    size_t csv_fields;
    uint32_t chunk_rows;   /* rows per chunk */
    uint64_t max_bad_rows; /* rows to skip before refusing */
    uint64_t report_max;   /* messages kept for skipped rows */
    char sep;
} seal_plan;

static void wipe_free(void *p, size_t len)
{
    if (p)
        dcr_wipe(p, len);
    free(p);
}

static void job_reset(job *j)
{
    wipe_free(j->block, j->cap);
    j->block = NULL;
    j->len = j->cap = 0;
    for (size_t i = 0; i < j->npayloads; i++)
        j->payloads[i].len = 0; /* keep allocations for reuse */
    j->npayloads = 0;
    j->rows = 0;
    j->bad_rows = 0;
    dcr_buf_wipe_free(&j->bad_report);
}

static void job_free(job *j)
{
    job_reset(j);
    for (size_t i = 0; i < j->payload_cap; i++)
        dcr_buf_wipe_free(&j->payloads[i]);
    free(j->payloads);
    j->payloads = NULL;
    j->payload_cap = 0;
}

static dcr_status job_next_payload(job *j, dcr_buf **out, dcr_error *err)
{
    if (j->npayloads == j->payload_cap) {
        size_t cap = j->payload_cap ? 2 * j->payload_cap : 2;
        dcr_buf *p = realloc(j->payloads, cap * sizeof *p);
        if (!p)
            return dcr_fail(err, DCR_EINTERNAL, "out of memory");
        for (size_t i = j->payload_cap; i < cap; i++)
            p[i] = (dcr_buf)DCR_BUF_INIT;
        j->payloads = p;
        j->payload_cap = cap;
    }
    *out = &j->payloads[j->npayloads++];
    return DCR_OK;
}

/* ---- worker: CSV block -> payloads ---- */

typedef struct {
    const seal_plan *pl;
    dcr_chunk chunk;
    dcr_chunk_encoder *enc;
    dcr_csv_field *fields;
    dcr_buf jsonl_text;     /* a JSON Lines record's field texts */
    size_t row_fixed_bytes; /* estimated encoded bytes per row, TEXT data aside */
    size_t text_bytes;
} worker;

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static void normalize(const dcr_column_def *def, char **s, size_t *len)
{
    if (def->normalize & DCR_NORM_TRIM) {
        while (*len && is_space(**s)) {
            (*s)++;
            (*len)--;
        }
        while (*len && is_space((*s)[*len - 1]))
            (*len)--;
    }
    if (def->normalize & DCR_NORM_LOWER) {
        for (size_t i = 0; i < *len; i++) {
            char c = (*s)[i];
            if (c >= 'A' && c <= 'Z')
                (*s)[i] = (char)(c + ('a' - 'A'));
        }
    }
}

static dcr_status value_error(const worker *w, uint64_t line, size_t col, const char *s, size_t len,
                              const char *reason, dcr_error *err)
{
    const dcr_column_def *def = &w->pl->opt->schema->cols[col];
    char quoted[80];
    dcr_error_quote(quoted, sizeof quoted, s, len);
    return dcr_fail(err, DCR_EINPUT,
                    "%s: line %llu, column \"%s\" (field %zu): invalid %s value "
                    "\"%s\": %s",
                    w->pl->opt->in_name, (unsigned long long)line, def->name,
                    w->pl->csv_index[col] + 1, dcr_type_name(def->type), quoted, reason);
}

/* Appends one field to its column; NULL is an unquoted empty field. */
static dcr_status append_field(worker *w, size_t col, dcr_csv_field *f, uint64_t line,
                               dcr_error *err)
{
    const dcr_column_def *def = &w->pl->opt->schema->cols[col];
    dcr_column *c = &w->chunk.cols[col];
    char *s = f->ptr;
    size_t len = f->len;
    bool is_null = !f->quoted && len == 0;
    if (!is_null && def->type != DCR_TYPE_TEXT) {
        size_t a = 0, b = len; /* parsers accept blanks; a blank field is NULL */
        while (a < b && (s[a] == ' ' || s[a] == '\t'))
            a++;
        while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t'))
            b--;
        is_null = a == b;
    }
    if (is_null) {
        if (def->not_null)
            return value_error(w, line, col, s, len, "the column is NOT NULL", err);
        return dcr_column_push_null(c, err);
    }
    const char *why = NULL;
    switch (def->type) {
    case DCR_TYPE_TEXT: {
        normalize(def, &s, &len);
        size_t bad = dcr_utf8_check(s, len);
        if (bad != len)
            return value_error(w, line, col, s, len, "not valid UTF-8", err);
        if (memchr(s, '\0', len)) /* as in PostgreSQL: NUL cannot be stored in TEXT */
            return value_error(w, line, col, s, len, "contains a NUL byte", err);
        w->text_bytes += len;
        return dcr_column_push_text(c, s, len, err);
    }
    case DCR_TYPE_BIGINT: {
        int64_t v;
        if (!(why = dcr_parse_bigint(s, len, &v)))
            return dcr_column_push_i64(c, v, err);
        break;
    }
    case DCR_TYPE_DOUBLE: {
        double v;
        if (!(why = dcr_parse_double(s, len, &v)))
            return dcr_column_push_f64(c, v, err);
        break;
    }
    case DCR_TYPE_BOOLEAN: {
        bool v;
        if (!(why = dcr_parse_bool(s, len, &v)))
            return dcr_column_push_bool(c, v, err);
        break;
    }
    case DCR_TYPE_DATE: {
        int32_t v;
        if (!(why = dcr_parse_date(s, len, &v)))
            return dcr_column_push_i32(c, v, err);
        break;
    }
    case DCR_TYPE_TIMESTAMP: {
        int64_t v;
        if (!(why = dcr_parse_timestamp(s, len, &v)))
            return dcr_column_push_i64(c, v, err);
        break;
    }
    case DCR_TYPE_INTERVAL: /* never a column's type (dcr_type_valid) */
        break;
    }
    return value_error(w, line, col, s, len, why ? why : "unsupported type", err);
}

/* Empties the worker's chunk, keeping its allocations. */
static void reset_chunk(worker *w)
{
    for (size_t i = 0; i < w->chunk.ncols; i++)
        dcr_column_clear(&w->chunk.cols[i]);
    w->chunk.nrows = 0;
    w->text_bytes = 0;
}

static dcr_status flush_chunk(worker *w, job *j, dcr_error *err)
{
    if (w->chunk.nrows == 0)
        return DCR_OK;
    if (w->pl->opt->validate) { /* the rows were checked; nothing is written */
        reset_chunk(w);
        return DCR_OK;
    }
    dcr_buf *payload = NULL;
    dcr_status s = job_next_payload(j, &payload, err);
    if (s == DCR_OK)
        s = dcr_chunk_encode(w->enc, w->pl->header, &w->chunk, payload, err);
    reset_chunk(w);
    return s;
}

/* Appends one record's fields to the chunk, all or nothing. Inlined into
 * both record loops (CSV and JSON Lines): as a call it costs about 1% of a
 * seal. */
static inline __attribute__((always_inline)) dcr_status append_record(worker *w, size_t n,
                                                                      uint64_t line, dcr_error *err)
{
    const seal_plan *pl = w->pl;
    if (n != pl->csv_fields)
        return dcr_fail(err, DCR_EINPUT, "%s: line %llu: expected %zu fields, found %zu",
                        pl->opt->in_name, (unsigned long long)line, pl->csv_fields, n);
    for (size_t c = 0; c < pl->opt->schema->ncols; c++) {
        dcr_status s = append_field(w, c, &w->fields[pl->csv_index[c]], line, err);
        if (s != DCR_OK) {
            for (size_t k = 0; k < c; k++)
                dcr_column_pop(&w->chunk.cols[k]);
            return s;
        }
    }
    w->chunk.nrows++;
    return DCR_OK;
}

/* Records a skipped row, or refuses the input when skipping is off. */
static dcr_status skip_row(const worker *w, job *j, dcr_error *err)
{
    if (w->pl->max_bad_rows == 0 || err->code != DCR_EINPUT)
        return err->code;
    if (++j->bad_rows > w->pl->report_max)
        return DCR_OK;
    dcr_status s = dcr_buf_append(&j->bad_report, err->msg, strlen(err->msg), err);
    return s == DCR_OK ? dcr_buf_append(&j->bad_report, "\n", 1, err) : s;
}

/* After a row was appended: counts it and cuts a chunk when it is full. */
static dcr_status row_done(worker *w, job *j, dcr_error *err)
{
    const seal_plan *pl = w->pl;
    j->rows++;
    size_t estimate = w->chunk.nrows * w->row_fixed_bytes + w->text_bytes;
    if (w->chunk.nrows >= pl->chunk_rows || estimate >= CHUNK_TARGET_BYTES)
        return flush_chunk(w, j, err);
    return DCR_OK;
}

/* Where a block's records come from: the CSV tokenizer, or lines of JSON. */
typedef struct {
    dcr_csv_reader csv;
    char *p, *end; /* JSON Lines: the rest of the block */
    uint64_t line;
} record_source;

/* The next JSON Lines record's fields (*n == 0 at the end). A line that is
 * not a good record fails with *bad set: a bad row, not a bad file. */
static dcr_status next_jsonl(worker *w, record_source *src, size_t *n, uint64_t *line, bool *bad,
                             dcr_error *err)
{
    const dcr_seal_options *opt = w->pl->opt;
    *n = 0;
    while (src->p < src->end) {
        char *nl = memchr(src->p, '\n', (size_t)(src->end - src->p));
        char *start = src->p;
        size_t len = (size_t)((nl ? nl : src->end) - start);
        *line = src->line++;
        src->p = nl ? nl + 1 : src->end;
        if (dcr_jsonl_blank(start, len))
            continue;
        dcr_status s = dcr_jsonl_fields(opt->schema, start, len, w->fields, &w->jsonl_text,
                                        opt->in_name, *line, err);
        *bad = s == DCR_EINPUT;
        *n = opt->schema->ncols;
        return s;
    }
    return DCR_OK;
}

/* The next record's fields, *n == 0 at the end of the block. */
static dcr_status next_fields(worker *w, record_source *src, size_t *n, uint64_t *line, bool *bad,
                              dcr_error *err)
{
    const seal_plan *pl = w->pl;
    if (pl->opt->jsonl)
        return next_jsonl(w, src, n, line, bad, err);
    dcr_status s = dcr_csv_next_record(&src->csv, w->fields, pl->csv_fields + 1, n, line, err);
    if (s != DCR_OK && err->code == DCR_EINPUT && strncmp(err->msg, "line ", 5) == 0)
        return dcr_error_prefix(err, "%s", pl->opt->in_name);
    return s;
}

static dcr_status process_block(worker *w, job *j, dcr_error *err)
{
    record_source src = {.p = j->block, .end = j->block + j->len, .line = j->first_line};
    dcr_csv_reader_init(&src.csv, j->block, j->len, j->first_line);
    dcr_csv_reader_set_separator(&src.csv, w->pl->sep);
    for (;;) {
        size_t n;
        uint64_t line;
        bool bad = false;
        dcr_status s = next_fields(w, &src, &n, &line, &bad, err);
        if (s != DCR_OK && !bad)
            return s; /* CSV syntax: the record boundaries are lost */
        if (s == DCR_OK && n == 0)
            break;
        if (bad || (s = append_record(w, n, line, err)) != DCR_OK) {
            if ((s = skip_row(w, j, err)) != DCR_OK)
                return s;
            continue;
        }
        if ((s = row_done(w, j, err)) != DCR_OK)
            return s;
    }
    return flush_chunk(w, j, err);
}

/* The pool's work function: one block, on one worker. */
static dcr_status run_job(void *ctx, void *task, dcr_error *err)
{
    worker *w = ctx;
    dcr_status s = process_block(w, task, err);
    if (s != DCR_OK) /* leave no half-built chunk for the next job */
        reset_chunk(w);
    return s;
}

static dcr_status worker_init(worker *w, const seal_plan *pl, dcr_error *err)
{
    memset(w, 0, sizeof *w);
    w->pl = pl;
    const dcr_schema *schema = pl->opt->schema;
    for (size_t i = 0; i < schema->ncols; i++) {
        size_t width = dcr_type_width(schema->cols[i].type);
        w->row_fixed_bytes += width ? width : 4;
    }
    w->jsonl_text = (dcr_buf)DCR_BUF_INIT;
    w->fields = calloc(pl->csv_fields + 1, sizeof *w->fields);
    if (!w->fields)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    int level = pl->opt->zstd_level ? pl->opt->zstd_level : DEFAULT_ZSTD_LEVEL;
    dcr_compress_mode mode = pl->opt->compress_small ? DCR_COMPRESS_SMALL : DCR_COMPRESS_FAST;
    dcr_status s = dcr_chunk_encoder_new(&w->enc, level, mode, err);
    if (s == DCR_OK)
        s = dcr_chunk_init(&w->chunk, schema, err);
    return s;
}

static void worker_free(worker *w)
{
    free(w->fields);
    dcr_buf_wipe_free(&w->jsonl_text);
    dcr_chunk_encoder_free(w->enc);
    dcr_chunk_free(&w->chunk);
}

/* ---- reader: input -> blocks of whole records ---- */

typedef struct {
    dcr_input *in;
    const char *name;
    char *buf; /* holds the incomplete tail of the input read so far */
    size_t len, cap;
    bool eof;
    bool lines;    /* records are lines (JSON Lines): cut at the last newline */
    uint64_t line; /* line number of buf[0] */
    uint64_t bytes;
} block_reader;

static dcr_status fill(block_reader *br, dcr_error *err)
{
    size_t got;
    dcr_status s = dcr_input_read(br->in, br->buf + br->len, br->cap - br->len, &got, err);
    if (s != DCR_OK)
        return s;
    br->eof = br->len + got < br->cap;
    br->len += got;
    br->bytes += got;
    return DCR_OK;
}

static uint64_t count_lines(const char *p, size_t len)
{
    uint64_t n = 0;
    const char *end = p + len;
    while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        n++;
        p++;
    }
    return n;
}

/* The longest prefix of whole lines; everything at the end of input. */
static size_t complete_lines(const char *buf, size_t len, bool at_eof)
{
    if (at_eof)
        return len;
    for (size_t i = len; i > 0; i--)
        if (buf[i - 1] == '\n')
            return i;
    return 0;
}

/* Hands out the next block of whole records in *block (owned by the
 * caller, capacity *cap); *len == 0 at end of input. */
static dcr_status next_block(block_reader *br, char **block, size_t *len, size_t *cap,
                             uint64_t *first_line, dcr_error *err)
{
    *block = NULL;
    *len = *cap = 0;
    for (;;) {
        if (!br->eof && br->len < br->cap) {
            dcr_status s = fill(br, err);
            if (s != DCR_OK)
                return s;
        }
        if (br->len == 0)
            return DCR_OK;
        size_t n = br->lines ? complete_lines(br->buf, br->len, br->eof)
                             : dcr_csv_complete_prefix(br->buf, br->len, br->eof);
        if (n == 0 && br->eof)
            n = br->len; /* an open quote at the end: let the parser say so */
        if (n > 0) {
            size_t rest = br->len - n;
            size_t new_cap = rest > BLOCK_BYTES ? rest + BLOCK_BYTES : BLOCK_BYTES;
            char *next = malloc(new_cap);
            if (!next)
                return dcr_fail(err, DCR_EINTERNAL, "out of memory");
            memcpy(next, br->buf + n, rest);
            dcr_wipe(br->buf + n, rest);
            *block = br->buf;
            *len = n;
            *cap = br->cap;
            *first_line = br->line;
            br->line += count_lines(br->buf, n);
            br->buf = next;
            br->len = rest;
            br->cap = new_cap;
            return DCR_OK;
        }
        if (br->cap >= RECORD_MAX)
            return dcr_fail(err, DCR_EINPUT,
                            "%s: line %llu: a record longer than %u MiB "
                            "(or an unterminated quote)",
                            br->name, (unsigned long long)br->line, RECORD_MAX >> 20);
        char *bigger = realloc(br->buf, br->cap * 2);
        if (!bigger)
            return dcr_fail(err, DCR_EINTERNAL, "out of memory");
        br->buf = bigger;
        br->cap *= 2;
    }
}

/* ---- header row ---- */

static bool ascii_ieq(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    if (alen != blen)
        return false;
    for (size_t i = 0; i < alen; i++) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z')
            x = (char)(x + 32);
        if (x != y)
            return false;
    }
    return true;
}

/* Matches header fields to schema columns (case-insensitively, ignoring
 * surrounding blanks): every schema column must appear exactly once and no
 * other column may appear. */
static dcr_status match_header(const dcr_schema *schema, dcr_csv_field *f, size_t n,
                               size_t *csv_index, const char *name, dcr_error *err)
{
    for (size_t c = 0; c < schema->ncols; c++)
        csv_index[c] = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        char *s = f[i].ptr;
        size_t len = f[i].len;
        dcr_column_def trim = {.normalize = DCR_NORM_TRIM};
        normalize(&trim, &s, &len);
        char quoted[80];
        dcr_error_quote(quoted, sizeof quoted, s, len);
        size_t c = 0;
        while (c < schema->ncols && !ascii_ieq(s, len, schema->cols[c].name))
            c++;
        if (c == schema->ncols)
            return dcr_fail(err, DCR_EINPUT,
                            "%s: line 1, field %zu: column \"%s\" is not in "
                            "the schema of dataset \"%s\"",
                            name, i + 1, quoted, schema->dataset);
        if (csv_index[c] != SIZE_MAX)
            return dcr_fail(err, DCR_EINPUT,
                            "%s: line 1, field %zu: column \"%s\" appears "
                            "twice",
                            name, i + 1, quoted);
        csv_index[c] = i;
    }
    for (size_t c = 0; c < schema->ncols; c++)
        if (csv_index[c] == SIZE_MAX)
            return dcr_fail(err, DCR_EINPUT, "%s: line 1: the header lacks column \"%s\"", name,
                            schema->cols[c].name);
    return DCR_OK;
}

/* Steps over a UTF-8 byte order mark, which spreadsheet exports put first. */
static void skip_bom(char **block, size_t *len)
{
    if (*len >= 3 && memcmp(*block, "\xEF\xBB\xBF", 3) == 0) {
        *block += 3;
        *len -= 3;
    }
}

/* Without a header row the fields are the schema's columns, in order. */
static void identity_header(const dcr_schema *schema, size_t *csv_index, size_t *nfields)
{
    for (size_t c = 0; c < schema->ncols; c++)
        csv_index[c] = c;
    *nfields = schema->ncols;
}

/* Reads the header record from the first block, leaving the block's data
 * records in place (block/len/first_line are advanced past the header). */
static dcr_status read_header(const dcr_schema *schema, char **block, size_t *len,
                              uint64_t *first_line, size_t *csv_index, size_t *nfields,
                              const char *name, char sep, dcr_error *err)
{
    size_t max = DCR_COLUMNS_MAX;
    dcr_csv_field *f = calloc(max + 1, sizeof *f);
    if (!f)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    dcr_csv_reader r;
    dcr_csv_reader_init(&r, *block, *len, 1);
    dcr_csv_reader_set_separator(&r, sep);
    uint64_t line;
    dcr_status s = dcr_csv_next_record(&r, f, max, nfields, &line, err);
    if (s != DCR_OK)
        dcr_error_prefix(err, "%s (header row)", name);
    else if (*nfields == 0)
        s = dcr_fail(err, DCR_EINPUT,
                     "%s: empty input: a header row naming the columns is "
                     "required",
                     name);
    for (size_t i = 0; s == DCR_OK && i < *nfields; i++)
        if (dcr_utf8_check(f[i].ptr, f[i].len) != f[i].len)
            s = dcr_fail(err, DCR_EINPUT, "%s: line 1, field %zu: not valid UTF-8", name, i + 1);
    if (s == DCR_OK)
        s = match_header(schema, f, *nfields, csv_index, name, err);
    free(f);
    if (s == DCR_OK) {
        *len -= (size_t)(r.pos - *block);
        *block = r.pos;
        *first_line = r.line;
    }
    return s;
}

/* ---- writer ---- */

typedef struct {
    int fd;
    const dcr_sealed_header *header;
    const uint8_t *key;
    dcr_buf pending; /* payload held back until we know whether it is last */
    bool have_pending;
    dcr_buf out;
    uint32_t index;
    dcr_seal_stats *stats;
    uint64_t max_bad_rows;
    uint64_t report_max;
    const char *in_name;
} writer;

static dcr_status write_chunk(writer *wr, const uint8_t *payload, size_t len, bool last,
                              dcr_error *err)
{
    if (wr->index == UINT32_MAX)
        return dcr_fail(err, DCR_EINPUT, "too many chunks for one sealed file");
    wr->out.len = 0;
    dcr_status s =
        dcr_chunk_encrypt(wr->header, wr->key, wr->index, last, payload, len, &wr->out, err);
    if (s == DCR_OK)
        s = dcr_write_all(wr->fd, wr->out.data, wr->out.len, "output", err);
    if (s == DCR_OK) {
        wr->index++;
        wr->stats->chunks++;
        wr->stats->bytes_out += wr->out.len;
    }
    return s;
}

/* Takes a payload; writes the one held back before it. */
static dcr_status writer_push(writer *wr, dcr_buf *payload, dcr_error *err)
{
    if (wr->have_pending) {
        dcr_status s = write_chunk(wr, wr->pending.data, wr->pending.len, false, err);
        if (s != DCR_OK)
            return s;
    }
    dcr_buf t = wr->pending; /* swap, so buffers are reused, not copied */
    wr->pending = *payload;
    *payload = t;
    wr->have_pending = true;
    return DCR_OK;
}

static dcr_status writer_finish(writer *wr, const dcr_schema *schema, dcr_error *err)
{
    if (wr->have_pending)
        return write_chunk(wr, wr->pending.data, wr->pending.len, true, err);
    /* no rows at all: one empty final chunk still proves nothing was cut off */
    dcr_chunk empty;
    dcr_chunk_encoder *enc = NULL;
    dcr_status s = dcr_chunk_init(&empty, schema, err);
    if (s == DCR_OK)
        s = dcr_chunk_encoder_new(&enc, DEFAULT_ZSTD_LEVEL, DCR_COMPRESS_FAST, err);
    if (s == DCR_OK)
        s = dcr_chunk_encode(enc, wr->header, &empty, &wr->pending, err);
    if (s == DCR_OK)
        s = write_chunk(wr, wr->pending.data, wr->pending.len, true, err);
    dcr_chunk_encoder_free(enc);
    dcr_chunk_free(&empty);
    return s;
}

/* ---- the run ---- */

/* Adds a job's skipped rows to the run's, refusing past the limit. */
static dcr_status note_bad_rows(writer *wr, job *j, dcr_error *err)
{
    dcr_seal_stats *st = wr->stats;
    uint64_t room = st->bad_rows < wr->report_max ? wr->report_max - st->bad_rows : 0;
    const char *p = (const char *)j->bad_report.data;
    const char *end = p ? p + j->bad_report.len : p;
    for (; room > 0 && p < end; room--) { /* keep the run's first messages, in file order */
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = (size_t)(nl - p) + 1;
        dcr_status s = dcr_buf_append(&st->bad_report, p, len, err);
        if (s != DCR_OK)
            return s;
        st->bad_reported++;
        p += len;
    }
    st->bad_rows += j->bad_rows;
    if (j->bad_rows && st->bad_rows > wr->max_bad_rows)
        return dcr_fail(err, DCR_EINPUT,
                        "%s: more than %llu rows with bad values (the limit "
                        "set by --max-bad-rows); the first ones were reported",
                        wr->in_name, (unsigned long long)wr->max_bad_rows);
    return DCR_OK;
}

/* Waits for the oldest job, writes its payloads, frees its slot. */
static dcr_status write_oldest(dcr_ordered_pool *pool, writer *wr, dcr_error *err)
{
    dcr_status s;
    job *j = dcr_pool_wait_oldest(pool, &s, err);
    for (size_t i = 0; s == DCR_OK && i < j->npayloads; i++)
        s = writer_push(wr, &j->payloads[i], err);
    wr->stats->rows += j->rows;
    s = s == DCR_OK ? note_bad_rows(wr, j, err) : s;
    job_reset(j);
    dcr_pool_release_oldest(pool);
    return s;
}

/* Queues a block (taking ownership of it), writing finished jobs to make room. */
static dcr_status submit(dcr_ordered_pool *pool, writer *wr, char *block, size_t len, size_t cap,
                         uint64_t first_line, dcr_error *err)
{
    job *j;
    while (!(j = dcr_pool_free_slot(pool))) {
        dcr_status s = write_oldest(pool, wr, err);
        if (s != DCR_OK) {
            wipe_free(block, cap);
            return s;
        }
    }
    j->block = block;
    j->len = len;
    j->cap = cap;
    j->first_line = first_line;
    dcr_pool_submit(pool);
    return DCR_OK;
}

/* Feeds every block through the workers and writes the results in order. */
static dcr_status run_blocks(dcr_ordered_pool *pool, writer *wr, block_reader *br, char *first,
                             size_t first_len, size_t first_cap, uint64_t first_line, size_t skip,
                             dcr_error *err)
{
    dcr_status s = DCR_OK;
    if (first_len > 0) {
        /* the first block minus its header row: move the records to the front */
        memmove(first, first + skip, first_len);
        s = submit(pool, wr, first, first_len, first_cap, first_line, err);
    } else {
        wipe_free(first, first_cap);
    }
    while (s == DCR_OK) {
        char *block;
        size_t len, cap;
        uint64_t line;
        if ((s = next_block(br, &block, &len, &cap, &line, err)) || len == 0)
            break;
        s = submit(pool, wr, block, len, cap, line, err);
    }
    while (s == DCR_OK && dcr_pool_pending(pool) > 0)
        s = write_oldest(pool, wr, err);
    return s;
}

static dcr_status run_pipeline(const seal_plan *plan, job *ring, size_t ring_cap, writer *wr,
                               block_reader *br, char *first, size_t first_len, size_t first_cap,
                               uint64_t first_line, size_t skip, dcr_error *err)
{
    size_t n = plan->opt->threads > 0 ? (size_t)plan->opt->threads : dcr_pool_default_workers();
    worker *workers = calloc(n, sizeof *workers);
    void **ctx = calloc(n, sizeof *ctx);
    dcr_status s = (workers && ctx) ? DCR_OK : dcr_fail(err, DCR_EINTERNAL, "out of memory");
    size_t ready = 0;
    while (s == DCR_OK && ready < n) {
        ctx[ready] = &workers[ready];
        if ((s = worker_init(&workers[ready], plan, err)) != DCR_OK)
            worker_free(&workers[ready]);
        else
            ready++;
    }
    dcr_ordered_pool *pool = NULL;
    if (s == DCR_OK)
        s = dcr_pool_start(&pool, n, ctx, ring, ring_cap, sizeof *ring, run_job, err);
    if (s == DCR_OK)
        s = run_blocks(pool, wr, br, first, first_len, first_cap, first_line, skip, err);
    else
        wipe_free(first, first_cap);
    dcr_pool_stop(pool);
    for (size_t i = 0; i < ready; i++)
        worker_free(&workers[i]);
    free(workers);
    free(ctx);
    return s;
}

/* A dataset with no rows is almost always a wrong or truncated export, so
 * it is refused unless asked for; the message says which case it is. */
static dcr_status check_rows(const dcr_seal_options *opt, const dcr_seal_stats *st, dcr_error *err)
{
    if (st->rows > 0 || opt->allow_empty)
        return DCR_OK;
    if (st->bad_rows > 0)
        return dcr_fail(err, DCR_EINPUT,
                        "%s: all %llu data rows are bad (listed above): no row would be sealed",
                        opt->in_name, (unsigned long long)st->bad_rows);
    return dcr_fail(err, DCR_EINPUT,
                    "%s: no data rows%s: refusing to %s an empty dataset (a wrong or truncated "
                    "export?); give --allow-empty if an empty dataset is really meant",
                    opt->in_name, opt->no_header ? "" : " after the header row",
                    opt->validate ? "accept" : "seal");
}

static dcr_status plan_init(const dcr_seal_options *opt, seal_plan *plan, dcr_error *err)
{
    plan->opt = opt;
    plan->sep = opt->delimiter ? opt->delimiter : ',';
    if (!dcr_csv_separator_valid(plan->sep))
        return dcr_fail(err, DCR_EUSAGE,
                        "the field delimiter cannot be a double quote, CR, LF or NUL (they "
                        "quote fields and end records)");
    if (opt->jsonl && (opt->delimiter || opt->no_header))
        return dcr_fail(err, DCR_EUSAGE, "a delimiter and no_header are for CSV, not JSON Lines");
    plan->chunk_rows = opt->chunk_rows ? opt->chunk_rows : CHUNK_ROWS_MAX;
    plan->max_bad_rows = opt->validate ? UINT64_MAX : opt->max_bad_rows;
    plan->report_max = opt->max_reported ? opt->max_reported : BAD_ROWS_REPORTED;
    return DCR_OK;
}

/* Finds the columns (header row or schema order) in the first block and
 * advances *records past the header. */
static dcr_status take_header(const seal_plan *plan, size_t *csv_index, size_t *nfields,
                              char **records, size_t *records_len, uint64_t *first_line,
                              dcr_error *err)
{
    const dcr_seal_options *opt = plan->opt;
    skip_bom(records, records_len);
    if (opt->no_header || opt->jsonl) {
        identity_header(opt->schema, csv_index, nfields);
        return DCR_OK;
    }
    return read_header(opt->schema, records, records_len, first_line, csv_index, nfields,
                       opt->in_name, plan->sep, err);
}

/* Creates the sealed header and its data key, and writes the header. */
static dcr_status start_output(const seal_plan *plan, int out_fd, dcr_sealed_header *header,
                               uint8_t *key, dcr_seal_stats *stats, dcr_error *err)
{
    const dcr_seal_options *opt = plan->opt;
    dcr_buf hbuf = DCR_BUF_INIT;
    dcr_status s = dcr_sealed_header_create(header, opt->schema, opt->context, opt->context_len,
                                            plan->chunk_rows, CHUNK_BYTES_MAX, opt->recipients,
                                            opt->nrecipients, key, &hbuf, err);
    if (s == DCR_OK) {
        s = dcr_write_all(out_fd, hbuf.data, hbuf.len, "output", err);
        stats->bytes_out += hbuf.len;
        if (s != DCR_OK)
            dcr_sealed_header_free(header);
    }
    dcr_buf_free(&hbuf);
    return s;
}

dcr_status dcr_seal_csv(int in_fd, int out_fd, const dcr_seal_options *opt, dcr_seal_stats *stats,
                        dcr_error *err)
{
    *stats = (dcr_seal_stats){.bad_report = DCR_BUF_INIT, .input_kind = "plain"};
    const dcr_schema *schema = opt->schema;
    block_reader br = {.name = opt->in_name, .line = 1, .lines = opt->jsonl};
    br.cap = BLOCK_BYTES;
    br.buf = malloc(br.cap);
    size_t *csv_index = calloc(schema->ncols, sizeof *csv_index);
    seal_plan plan = {.csv_index = csv_index};
    size_t ring_cap = (opt->threads > 0 ? (size_t)opt->threads : dcr_pool_default_workers()) + 2;
    job *ring = calloc(ring_cap, sizeof *ring);
    writer wr = {.fd = out_fd, .stats = stats, .in_name = opt->in_name};
    dcr_sealed_header header;
    uint8_t key[DCR_DATA_KEY_LEN];
    bool have_header = false;
    char *first = NULL;
    size_t first_len = 0, first_cap = 0;
    uint64_t first_line = 1;
    dcr_status s = plan_init(opt, &plan, err);
    if (s != DCR_OK)
        goto done;
    wr.max_bad_rows = plan.max_bad_rows;
    wr.report_max = plan.report_max;
    if (!br.buf || !csv_index || !ring) {
        s = dcr_fail(err, DCR_EINTERNAL, "out of memory");
        goto done;
    }
    if ((s = dcr_input_open_fd(&br.in, in_fd, opt->in_name, err)))
        goto done;
    stats->input_kind = dcr_input_kind_name(dcr_input_kind_of(br.in));
    if ((s = next_block(&br, &first, &first_len, &first_cap, &first_line, err)))
        goto done;
    char *records = first;
    size_t records_len = first_len;
    if ((s = take_header(&plan, csv_index, &plan.csv_fields, &records, &records_len, &first_line,
                         err)))
        goto done;
    if (!opt->validate) {
        if ((s = start_output(&plan, out_fd, &header, key, stats, err)))
            goto done;
        have_header = true;
        plan.header = wr.header = &header;
        wr.key = key;
    }
    s = run_pipeline(&plan, ring, ring_cap, &wr, &br, first, records_len, first_cap, first_line,
                     (size_t)(records - first), err);
    first = NULL; /* handed over */
    if (s == DCR_OK)
        s = check_rows(opt, stats, err);
    if (s == DCR_OK && !opt->validate)
        s = writer_finish(&wr, schema, err);
done:
    stats->bytes_in = br.bytes;
    stats->bytes_compressed = br.in ? dcr_input_raw_bytes(br.in) : 0;
    dcr_input_close(br.in);
    wipe_free(first, first_cap);
    wipe_free(br.buf, br.cap);
    for (size_t i = 0; ring && i < ring_cap; i++)
        job_free(&ring[i]);
    free(ring);
    free(csv_index);
    dcr_buf_wipe_free(&wr.pending);
    dcr_buf_free(&wr.out);
    dcr_wipe(key, sizeof key);
    if (have_header)
        dcr_sealed_header_free(&header);
    return s;
}

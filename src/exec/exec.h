/*
 * exec.h: running a logical plan (sql/plan.h) over columnar data.
 *
 * The executor pulls batches (exec/batch.h) through a tree of operators
 * built from the plan: scan, filter, project, hash join, hash aggregate,
 * sort, limit. Datasets come from sources, one per catalog entry; a source
 * decodes only the columns a scan asks for (exec/source_sealed.c reads
 * sealed files, exec/source_table.c serves in-memory columns for tests).
 *
 * Memory: operators that must hold their input (aggregate, sort, join
 * build, the result) charge what they hold against opts.mem_limit; going
 * over stops the query with a DCR_EINPUT error saying so.
 *
 * Errors during evaluation (division by zero, BIGINT overflow, invalid
 * CAST input) are DCR_EINPUT; *err_location then holds the byte offset of
 * the failing expression in the SQL (or -1), for dcr_sql_locate(). Messages
 * never quote data values. With opts.total none of them is raised: whether
 * a guarded query fails must not depend on one row's value, so the failing
 * row's value is NULL instead (and a SUM that does not fit saturates).
 */
#ifndef DCR_EXEC_EXEC_H
#define DCR_EXEC_EXEC_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buffer.h"
#include "base/error.h"
#include "exec/batch.h"
#include "sql/plan.h"

/* A dataset the executor can read. open() starts a scan of the given
 * dataset columns, using up to `threads` worker threads to decode ahead;
 * next() fills *out (columns in that order; the caller passes a batch made
 * for these types, cleared) or sets *done. */
typedef struct {
    void *ctx;
    dcr_status (*open)(void *ctx, const size_t *cols, size_t ncols, size_t threads, void **scan,
                       dcr_error *err);
    dcr_status (*next)(void *scan, dcr_batch *out, bool *done, dcr_error *err);
    void (*close)(void *scan);
    /* Optional (NULL: unknown): the part of its input, in [0, 1], that the
     * scan has handed out so far (a sealed file: its chunks' bytes), so that
     * a join can guess an input's size from its first rows. */
    double (*progress)(void *scan);
    /* Optional (NULL: never): lets the scan hand out its output column col
     * (0-based among open()'s cols) deferred, as codes plus a dictionary
     * (store/column.h), where the data has it so. Called before the first
     * next(), by an operator that only copies that column's rows out. */
    void (*defer)(void *scan, size_t col);
    /* For a dataset that is not available (open == NULL): why, and who must
     * act ("not uploaded yet: its owner X must run dcr upload"), for the
     * refusal; NULL: not said. Owned by the caller, outlives the query. */
    const char *unavailable;
} dcr_exec_source;

typedef struct {
    size_t mem_limit;  /* bytes; 0 = default (DCR_EXEC_MEM_DEFAULT) */
    size_t batch_rows; /* rows per batch; 0 = DCR_BATCH_ROWS for the batches operators make
                          and whole decoded chunks (up to 1 Mi rows) from scans, uncopied;
                          tests use small batches to exercise batch edges */
    size_t threads;    /* worker threads for decoding and parallel operators; 0 = the
                          online CPUs (base/ordered_pool.h) */
    size_t split_rows; /* smallest batch an operator splits across threads; 0 = 8192.
                          Tests use 1 so that tiny inputs take the parallel paths */
    bool total;        /* total evaluation (the privacy layer sets it): a row-level
                          failure makes that row's value NULL and a SUM that does not
                          fit saturates, instead of failing the query (docs/sql.md) */
} dcr_exec_opts;

#define DCR_EXEC_MEM_DEFAULT ((size_t)4 << 30)

/* opts (NULL: the defaults) with total evaluation on. The privacy layer
 * runs every plan it executes with these (threshold, DP and overlap paths
 * alike), so no caller can forget it. */
static inline dcr_exec_opts dcr_exec_opts_total(const dcr_exec_opts *opts)
{
    dcr_exec_opts o = opts ? *opts : (dcr_exec_opts){0};
    o.total = true;
    return o;
}

/* A query result: the plan's output row and its rows, in batches. */
typedef struct {
    size_t ncols;
    dcr_type *types;
    char **names;
    size_t nrows;
    size_t nbatches;
    dcr_batch *batches;
} dcr_result;

void dcr_result_free(dcr_result *r);

/* Runs plan; sources[i] serves catalog dataset i. */
dcr_status dcr_exec_run(const dcr_plan *plan, const dcr_exec_source *sources, size_t nsources,
                        const dcr_exec_opts *opts, dcr_result *out, int *err_location,
                        dcr_error *err);

/* Output formats for a result. */
typedef enum { DCR_FORMAT_TABLE, DCR_FORMAT_CSV, DCR_FORMAT_JSON } dcr_format;

/* Appends the result as an aligned text table (psql style, with a row
 * count), as CSV (header row, RFC 4180, NULL = empty unquoted field) or as
 * JSON (an array of objects, one per row). */
dcr_status dcr_result_format(const dcr_result *r, dcr_format f, dcr_buf *out, dcr_error *err);

/* The text of one value as the table and CSV formats print it; NULL when
 * the value is NULL. *len receives the length. buf must hold
 * DCR_RESULT_TEXT_MAX bytes (TEXT values point into the column). */
#define DCR_RESULT_TEXT_MAX DCR_INTERVAL_TEXT_MAX /* > DCR_VALUE_TEXT_MAX */
const char *dcr_result_value_text(const dcr_column *c, size_t row, char *buf, size_t *len);

#endif

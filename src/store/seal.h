/*
 * seal.h: CSV in, sealed dataset out, in bounded memory.
 *
 * The input is cut into blocks of whole records; worker threads parse,
 * type-check, normalise, encode and compress each block into chunk payloads;
 * the calling thread encrypts them in file order and writes them. A bad value
 * anywhere refuses the whole input: the error names the input, line, column
 * and value, and nothing is returned for the output (the caller discards it).
 * With max_bad_rows, rows with bad values (wrong field count, a value that
 * does not parse, NULL in a NOT NULL column, invalid UTF-8) are skipped and
 * reported instead, up to that many; CSV syntax errors stay fatal, since
 * after one the record boundaries cannot be trusted.
 *
 * The input may be gzip or zstd compressed (told by content, store/input.h),
 * use another one-byte separator, or lack the header row (the columns are
 * then the schema's, in its order). validate checks every row and writes
 * nothing. With jsonl the input is JSON Lines instead (store/jsonl.h): one
 * object per line, keys the column names. An input that would give no rows
 * is refused unless allow_empty:
 * an empty dataset is almost always a wrong or truncated export.
 */
#ifndef DCR_STORE_SEAL_H
#define DCR_STORE_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include <stdbool.h>

#include "base/buffer.h"
#include "base/error.h"
#include "crypto/party_key.h"
#include "store/schema.h"

typedef struct {
    const dcr_schema *schema;
    const dcr_party_pub *recipients;
    size_t nrecipients;
    const uint8_t *context; /* e.g. a contract hash; may be NULL */
    size_t context_len;
    int threads;           /* worker threads; 0 = one per online CPU */
    int zstd_level;        /* 0 = default */
    bool compress_small;   /* zstd for every column (DCR_COMPRESS_SMALL), not LZ4 for
                              lengths-encoded TEXT */
    uint32_t chunk_rows;   /* rows per chunk; 0 = default (1 Mi) */
    uint64_t max_bad_rows; /* rows with bad values to skip before refusing; 0 = none */
    const char *in_name;   /* for messages */
    char delimiter;        /* field separator; 0 = ',' (dcr_csv_separator_valid) */
    bool no_header;        /* no header row: fields are the schema's columns in order */
    bool validate;         /* check every row, skip the bad ones, seal nothing (out_fd unused;
                              recipients may be NULL) */
    bool allow_empty;      /* seal even when no row results */
    uint64_t max_reported; /* bad-row messages kept in bad_report; 0 = 20 */
    bool jsonl;            /* JSON Lines input (store/jsonl.h), not CSV */
} dcr_seal_options;

typedef struct {
    uint64_t rows;
    uint64_t chunks;
    uint64_t bytes_in;
    uint64_t bytes_out;
    uint64_t bad_rows;         /* skipped under max_bad_rows (every bad row under validate) */
    dcr_buf bad_report;        /* the first skipped rows' messages, one per line; caller frees */
    uint64_t bad_reported;     /* how many messages bad_report holds */
    const char *input_kind;    /* "plain", "gzip" or "zstd" */
    uint64_t bytes_compressed; /* bytes read from the file when compressed, else bytes_in */
} dcr_seal_stats;

/* Reads CSV (with a header row unless no_header; plain, gzip or zstd) from
 * in_fd and writes the sealed file to out_fd. */
dcr_status dcr_seal_csv(int in_fd, int out_fd, const dcr_seal_options *opt, dcr_seal_stats *stats,
                        dcr_error *err) __attribute__((warn_unused_result));

#endif

/*
 * result.h: how `dcr query` shows the server's answer to POST /v1/query
 * (a table or CSV on one stream, what the privacy layer did on another).
 * The answer comes from the network, so any JSON at all must print without
 * a crash: missing or mistyped members print as empty (fuzzed by
 * fuzz/fuzz_api_json.c). The table and the privacy line show control
 * characters as '?' (they could rewrite the terminal); CSV is data and
 * keeps every byte.
 */
#ifndef DCR_CLI_RESULT_H
#define DCR_CLI_RESULT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "base/error.h"
#include "base/fileio.h"

/* Prints o's "columns" and "rows" as an aligned table, or as CSV. */
void cli_result_print(FILE *out, const json_t *o, bool csv);
/* One line about o's "privacy" member (k, rows released and suppressed,
 * epsilon, template), and the "result" note when the rows went to other
 * receivers. */
void cli_result_print_privacy(FILE *out, const json_t *o);
/* An answer as `dcr query` and `dcr fetch` print it: format "json" writes
 * json_text as it came (the server's bytes; NULL: o dumped), "csv" and
 * "table" the rows to out and the privacy line to stderr. */
void cli_result_print_answer(FILE *out, const json_t *o, const char *json_text, size_t json_len,
                             const char *format);

/* Where a result goes: standard output, or --out FILE, written atomically
 * (temp file, fsync, rename), so a failed or refused query never leaves a
 * partial or stale-looking file. Results are other parties' aggregates:
 * the file is created 0600. */
typedef struct {
    const char *format; /* "table", "csv", "json"; NULL: from the --out name */
    const char *path;   /* NULL: standard output */
    bool force;         /* replace an existing file */
    dcr_atomic_file file;
    bool open;
} cli_output;

/* Settles the format (a --out name ending .csv or .json gives it when
 * --format does not; table otherwise on stdout) and creates the temp file,
 * before the query runs: an existing file without --force, or a directory
 * that cannot be written, is refused before any budget is spent. */
dcr_status cli_output_open(cli_output *o, dcr_error *err) __attribute__((warn_unused_result));
/* Writes data to the destination (the temp file, or stdout). */
dcr_status cli_output_write(cli_output *o, const void *data, size_t len, dcr_error *err)
    __attribute__((warn_unused_result));
/* Renders an answer as cli_result_print_answer does and writes it. */
dcr_status cli_output_answer(cli_output *o, const json_t *answer, const char *json_text,
                             size_t json_len, dcr_error *err) __attribute__((warn_unused_result));
/* Renames the file into place (nothing for stdout). */
dcr_status cli_output_commit(cli_output *o, dcr_error *err) __attribute__((warn_unused_result));
/* Removes the temp file, if any; safe after commit. */
void cli_output_abort(cli_output *o);

/* Reads the SQL of --file PATH (at most 1 MiB; caller frees). */
dcr_status cli_read_sql_file(const char *path, char **sql, dcr_error *err)
    __attribute__((warn_unused_result));

#endif

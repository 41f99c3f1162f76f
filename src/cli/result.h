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
#include <stdio.h>

/* Prints o's "columns" and "rows" as an aligned table, or as CSV. */
void cli_result_print(FILE *out, const json_t *o, bool csv);
/* One line about o's "privacy" member (k, rows released and suppressed,
 * epsilon, template), and the "result" note when the rows went to other
 * receivers. */
void cli_result_print_privacy(FILE *out, const json_t *o);
/* An answer as `dcr query` and `dcr fetch` print it: format "json" writes
 * json_text as it came (the server's bytes; NULL: o dumped), "csv" and
 * "table" the rows to stdout and the privacy line to stderr. */
void cli_result_print_answer(const json_t *o, const char *json_text, size_t json_len,
                             const char *format);

#endif

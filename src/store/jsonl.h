/*
 * jsonl.h: one JSON Lines record as the fields the seal pipeline checks.
 *
 * A record is one line holding one JSON object whose keys are column names
 * (matched case-insensitively, like a CSV header). Each value becomes the
 * text a CSV field would hold, so every check and normaliser of the CSV
 * path applies unchanged: a string is a quoted field (so "" stays the
 * empty string), a number its decimal text (a real with 17 significant
 * digits, which reads back to the same double), true/false their names,
 * null and a missing key NULL. Objects and arrays are refused. A line that
 * is not an object, or has a key that is no column, is a bad row (with its
 * line), not the end of the file: lines are the record boundaries, so one
 * bad line cannot confuse the next.
 */
#ifndef DCR_STORE_JSONL_H
#define DCR_STORE_JSONL_H

#include <stddef.h>
#include <stdint.h>

#include "base/buffer.h"
#include "base/error.h"
#include "csv/csv.h"
#include "store/schema.h"

/* Fills fields[0..schema->ncols) (in schema order) from line[0..len). The
 * field texts live in *scratch (reused across calls; its old contents are
 * overwritten, so the caller wipes it when done). Fails with DCR_EINPUT and
 * "NAME: line L: why" for a bad record. */
dcr_status dcr_jsonl_fields(const dcr_schema *schema, const char *line, size_t len,
                            dcr_csv_field *fields, dcr_buf *scratch, const char *name,
                            uint64_t line_no, dcr_error *err) __attribute__((warn_unused_result));

/* Whether line[0..len) holds only blanks (a blank line is no record). */
int dcr_jsonl_blank(const char *line, size_t len);

#endif

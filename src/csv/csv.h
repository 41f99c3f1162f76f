/*
 * csv.h: an RFC 4180 CSV tokenizer that works on in-memory blocks, and the
 * matching writer.
 *
 * Input is split into blocks of whole records (dcr_csv_complete_prefix), so
 * blocks can be parsed independently, e.g. by different threads. The reader
 * tokenizes a block in place: fields point into the block, and quoted fields
 * are unescaped in place (the block must be writable). No allocation.
 *
 * Dialect: comma separator (or any other one byte but '"', CR, LF and NUL,
 * set per reader: ';' and TAB exports are common), '"' quoting with "" as an escaped quote, records
 * end in LF or CRLF (a lone CR inside an unquoted field is data), a final
 * record may lack its line ending. A quote may only open a field; text after
 * a closing quote other than a separator or line end is an error. An empty
 * line is a record with one empty, unquoted field. Quoted and unquoted empty
 * fields are told apart (dcr_csv_field.quoted), which is how TEXT columns
 * distinguish the empty string ("") from NULL (nothing), as PostgreSQL's
 * COPY ... CSV does.
 */
#ifndef DCR_CSV_CSV_H
#define DCR_CSV_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buffer.h"
#include "base/error.h"

typedef struct {
    char *ptr; /* into the block; not NUL-terminated */
    size_t len;
    bool quoted;
} dcr_csv_field;

/* Returns the length of the longest prefix of buf[0..len) made of complete
 * records, assuming buf starts at a record boundary. If at_eof, a final
 * record without a line ending counts as complete (so the whole buffer is
 * returned unless it ends inside an open quote, in which case the parse will
 * report the unterminated quote). Returns 0 when no record is complete.
 * (So at_eof with a trailing open quote gives the prefix before that record,
 * possibly 0: the caller must still parse the remaining bytes to get the
 * error. Parsing the prefix and then the rest always gives the same records
 * and the same first error as parsing the whole.) */
size_t dcr_csv_complete_prefix(const char *buf, size_t len, bool at_eof);

typedef struct {
    char *pos;
    char *end;
    uint64_t line; /* 1-based physical line number at pos */
    char sep;      /* field separator; ',' after init */
} dcr_csv_reader;

void dcr_csv_reader_init(dcr_csv_reader *r, char *block, size_t len, uint64_t first_line);

/* Whether sep can separate fields: not '"', CR, LF or NUL (they mean
 * something else in the dialect, or end records). */
bool dcr_csv_separator_valid(char sep);

/* Sets the separator; sep must pass dcr_csv_separator_valid. Block cutting
 * (dcr_csv_complete_prefix) looks only at quotes and newlines, so it does
 * not depend on the separator. */
void dcr_csv_reader_set_separator(dcr_csv_reader *r, char sep);

/* Tokenizes the next record. On success *nfields is its field count and
 * *record_line the line it starts on; *nfields == 0 means the block is
 * exhausted. Fails with DCR_EINPUT and a message "line L, field F: reason"
 * for an unterminated quote, a stray quote, text after a closing quote, or
 * more than max_fields fields (the message then says how many were allowed).
 * L is the physical line of the offending byte; for an unterminated quote the
 * line it was opened on; for too many fields ("line L: more than N fields")
 * the line the record starts on. */
dcr_status dcr_csv_next_record(dcr_csv_reader *r, dcr_csv_field *fields, size_t max_fields,
                               size_t *nfields, uint64_t *record_line, dcr_error *err);

/* Appends one field, quoting it when it contains ',', '"', CR or LF, starts
 * or ends with a space or tab, or when force_quote (used for the empty
 * string so it reads back as "" rather than NULL). */
dcr_status dcr_csv_write_field(dcr_buf *out, const char *s, size_t len, bool force_quote,
                               dcr_error *err);

#endif

/*
 * value.h: text <-> typed values for the column types of base/types.h, as
 * they appear in CSV files. Parsers follow PostgreSQL's input syntax where it
 * matters and are strict elsewhere; formatters write the canonical form that
 * the parsers read back to the identical value.
 *
 * Each parser returns NULL on success or a static string saying why the
 * text was refused ("out of range for BIGINT", ...), which the caller puts
 * into a message with the file, line, column and value. Leading and trailing
 * spaces/tabs are accepted around non-TEXT values, as PostgreSQL does.
 *
 *   BIGINT     [+-]digits, within int64.
 *   DOUBLE     decimal notation with optional exponent, or NaN, Infinity,
 *              -Infinity, inf, -inf (any case). No hex floats. Out-of-range
 *              magnitudes are refused rather than turned into infinity.
 *   BOOLEAN    t, f, true, false, yes, no, on, off, 1, 0 (any case);
 *              written as true / false.
 *   DATE       YYYY-MM-DD, years 0001..9999.
 *   TIMESTAMP  YYYY-MM-DD[( |T)HH:MM[:SS[.ffffff]]][Z|(+|-)HH[[:]MM]]; an
 *              offset is converted to UTC; written as
 *              YYYY-MM-DD HH:MM:SS[.ffffff] with trailing zeros dropped.
 *              T and Z may be lower case, one space may precede the offset
 *              (as date(1) writes it), offsets are at most 15:59, and the
 *              UTC result must lie within DCR_TIMESTAMP_MIN..MAX.
 *
 * DOUBLE is written as the shortest of %.15g, %.16g, %.17g that reads back
 * exactly, "-0" for negative zero, and NaN, Infinity, -Infinity.
 */
#ifndef DCR_BASE_VALUE_H
#define DCR_BASE_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

const char *dcr_parse_bigint(const char *s, size_t len, int64_t *out);
const char *dcr_parse_double(const char *s, size_t len, double *out);
const char *dcr_parse_bool(const char *s, size_t len, bool *out);
const char *dcr_parse_date(const char *s, size_t len, int32_t *days);
const char *dcr_parse_timestamp(const char *s, size_t len, int64_t *micros);

/* Formatters write into out (no NUL needed by callers, but one is written)
 * and return the length. Buffers of DCR_VALUE_TEXT_MAX bytes always suffice. */
#define DCR_VALUE_TEXT_MAX 40
size_t dcr_format_bigint(int64_t v, char *out);
size_t dcr_format_double(double v, char *out); /* shortest text that reads back exactly */
size_t dcr_format_bool(bool v, char *out);
size_t dcr_format_date(int32_t days, char *out);
size_t dcr_format_timestamp(int64_t micros, char *out);

/* Returns len when s is valid UTF-8 (no overlongs, no surrogates, at most
 * U+10FFFF), otherwise the offset of the first invalid byte (the lead byte
 * of the first invalid or truncated sequence). NUL is valid. */
size_t dcr_utf8_check(const char *s, size_t len);

#endif

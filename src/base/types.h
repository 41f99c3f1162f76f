/*
 * types.h: the SQL column types dcr stores and computes on, and their
 * in-memory value representations. Every type is nullable.
 *
 *   BIGINT            int64_t
 *   DOUBLE PRECISION  double (IEEE 754 binary64)
 *   TEXT              UTF-8 bytes
 *   BOOLEAN           0 or 1
 *   DATE              int32_t days since 1970-01-01 (proleptic Gregorian)
 *   TIMESTAMP         int64_t microseconds since 1970-01-01 00:00:00 (no zone)
 *   INTERVAL          dcr_interval (base/interval.h): months, days, microseconds
 *
 * The numeric codes are part of the sealed file format: never renumber.
 * INTERVAL is computed by queries only: a dataset column never has it, so
 * it is not a valid code in a sealed file (dcr_type_valid) nor a name a
 * schema or contract may use (dcr_type_from_name).
 */
#ifndef DCR_BASE_TYPES_H
#define DCR_BASE_TYPES_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    DCR_TYPE_BIGINT = 1,
    DCR_TYPE_DOUBLE = 2,
    DCR_TYPE_TEXT = 3,
    DCR_TYPE_BOOLEAN = 4,
    DCR_TYPE_DATE = 5,
    DCR_TYPE_TIMESTAMP = 6,
    DCR_TYPE_INTERVAL = 7, /* computed only, never stored */
} dcr_type;

/* Value ranges (years 0001..9999), enforced on input and on decoding. */
#define DCR_DATE_MIN (-719162)                   /* 0001-01-01 */
#define DCR_DATE_MAX 2932896                     /* 9999-12-31 */
#define DCR_TIMESTAMP_MIN (-62135596800000000LL) /* 0001-01-01 00:00:00 */
#define DCR_TIMESTAMP_MAX 253402300799999999LL   /* 9999-12-31 23:59:59.999999 */

/* The SQL name ("BIGINT", "DOUBLE PRECISION", ...). */
const char *dcr_type_name(dcr_type t);
/* Parses a SQL type name, case-insensitively, accepting common aliases
 * (INT8, FLOAT8, DOUBLE, VARCHAR, BOOL, ...). Returns false if unknown. */
bool dcr_type_from_name(const char *name, dcr_type *out);
/* True for the codes a dataset column may have (all but INTERVAL). */
bool dcr_type_valid(int code);
/* Bytes per value in fixed-width column storage; 0 for TEXT. */
size_t dcr_type_width(dcr_type t);

#endif

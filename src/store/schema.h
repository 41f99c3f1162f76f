/*
 * schema.h: a dataset's name and typed columns, with per-column
 * normalisation, as given by a schema JSON file (and, later, the contract).
 *
 * Schema JSON:
 *   {"dataset": "impressions",
 *    "columns": [{"name": "email", "type": "TEXT", "normalize": ["trim", "lower"],
 *                 "not_null": true}, ...]}
 *
 * Names are SQL identifiers: 1..63 bytes of [a-z0-9_], not starting with a
 * digit. Unknown keys, duplicate columns and bad types are refused with the
 * JSON path of the problem (and line/column for JSON syntax errors).
 */
#ifndef DCR_STORE_SCHEMA_H
#define DCR_STORE_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/types.h"

#define DCR_NAME_MAX 63
#define DCR_COLUMNS_MAX 1024

enum {
    DCR_NORM_TRIM = 1u << 0,  /* strip leading/trailing ASCII whitespace */
    DCR_NORM_LOWER = 1u << 1, /* ASCII lower-case (e.g. emails) */
};
#define DCR_NORM_ALL (DCR_NORM_TRIM | DCR_NORM_LOWER)

typedef struct {
    char name[DCR_NAME_MAX + 1];
    dcr_type type;
    uint8_t normalize; /* DCR_NORM_* bits */
    bool not_null;
} dcr_column_def;

typedef struct {
    char dataset[DCR_NAME_MAX + 1];
    size_t ncols;
    dcr_column_def *cols; /* owned; free with dcr_schema_free */
} dcr_schema;

/* Parses schema JSON text; `what` names the source in messages. */
dcr_status dcr_schema_parse_json(const char *json, size_t len, const char *what, dcr_schema *out,
                                 dcr_error *err);
dcr_status dcr_schema_load(const char *path, dcr_schema *out, dcr_error *err);
void dcr_schema_free(dcr_schema *s);

/* True if name is a valid dcr identifier (see above). */
bool dcr_name_valid(const char *name, size_t len);

/* Index of the column called name (exact match), or -1. */
int dcr_schema_find(const dcr_schema *s, const char *name, size_t len);

#endif

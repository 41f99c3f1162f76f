/*
 * types.c: type names and widths.
 */
#include "base/types.h"

#include "base/interval.h"

#include <stdint.h>
#include <strings.h>

const char *dcr_type_name(dcr_type t)
{
    switch (t) {
    case DCR_TYPE_BIGINT:
        return "BIGINT";
    case DCR_TYPE_DOUBLE:
        return "DOUBLE PRECISION";
    case DCR_TYPE_TEXT:
        return "TEXT";
    case DCR_TYPE_BOOLEAN:
        return "BOOLEAN";
    case DCR_TYPE_DATE:
        return "DATE";
    case DCR_TYPE_TIMESTAMP:
        return "TIMESTAMP";
    case DCR_TYPE_INTERVAL:
        return "INTERVAL";
    }
    return "?";
}

bool dcr_type_valid(int code)
{
    return code >= DCR_TYPE_BIGINT && code <= DCR_TYPE_TIMESTAMP;
}

bool dcr_type_from_name(const char *name, dcr_type *out)
{
    static const struct {
        const char *name;
        dcr_type type;
    } names[] = {
        {"BIGINT", DCR_TYPE_BIGINT},
        {"INT8", DCR_TYPE_BIGINT},
        {"INTEGER", DCR_TYPE_BIGINT},
        {"INT", DCR_TYPE_BIGINT},
        {"DOUBLE PRECISION", DCR_TYPE_DOUBLE},
        {"DOUBLE", DCR_TYPE_DOUBLE},
        {"FLOAT8", DCR_TYPE_DOUBLE},
        {"FLOAT", DCR_TYPE_DOUBLE},
        {"TEXT", DCR_TYPE_TEXT},
        {"VARCHAR", DCR_TYPE_TEXT},
        {"BOOLEAN", DCR_TYPE_BOOLEAN},
        {"BOOL", DCR_TYPE_BOOLEAN},
        {"DATE", DCR_TYPE_DATE},
        {"TIMESTAMP", DCR_TYPE_TIMESTAMP},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcasecmp(name, names[i].name) == 0) {
            *out = names[i].type;
            return true;
        }
    }
    return false;
}

size_t dcr_type_width(dcr_type t)
{
    switch (t) {
    case DCR_TYPE_BIGINT:
        return sizeof(int64_t);
    case DCR_TYPE_DOUBLE:
        return sizeof(double);
    case DCR_TYPE_TEXT:
        return 0;
    case DCR_TYPE_BOOLEAN:
        return 1;
    case DCR_TYPE_DATE:
        return sizeof(int32_t);
    case DCR_TYPE_TIMESTAMP:
        return sizeof(int64_t);
    case DCR_TYPE_INTERVAL:
        return sizeof(dcr_interval);
    }
    return 0;
}

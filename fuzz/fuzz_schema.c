/*
 * fuzz_schema.c: schema JSON parsing and validation.
 */
#include <stdint.h>
#include <string.h>

#include "store/schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dcr_error err;
    dcr_schema s;
    if (dcr_schema_parse_json((const char *)data, size, "fuzz", &s, &err) == DCR_OK) {
        if (s.ncols == 0 || s.ncols > DCR_COLUMNS_MAX)
            __builtin_trap();
        for (size_t i = 0; i < s.ncols; i++)
            if (!dcr_name_valid(s.cols[i].name, strlen(s.cols[i].name)))
                __builtin_trap();
        dcr_schema_free(&s);
    } else if (err.code != DCR_EINPUT && err.code != DCR_EINTERNAL) {
        __builtin_trap();
    }
    return 0;
}

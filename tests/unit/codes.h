/*
 * codes.h: giving a test's TEXT column the dictionary codes a
 * dictionary-encoded sealed chunk decodes with (store/column.h), so that
 * the executor's coded paths (GROUP BY on codes, a join's deferred
 * columns) run on in-memory tables too.
 */
#ifndef DCR_TESTS_CODES_H
#define DCR_TESTS_CODES_H

#include <stdlib.h>

#include "exec/batch.h"

/* Codes numbered by first appearance, NULL rows 0 (none when out of
 * memory: the column then simply has no codes). */
static inline void test_add_codes(dcr_column *c)
{
    if (c->nrows == 0 || dcr_column_reserve_codes(c, c->nrows, NULL) != DCR_OK)
        return;
    size_t *first = calloc(c->nrows, sizeof *first), ndict = 0;
    for (size_t i = 0; first && i < c->nrows; i++) {
        c->codes[i] = 0;
        if (dcr_column_is_null(c, i))
            continue;
        size_t k = 0;
        while (k < ndict && dcr_value_cmp(c, first[k], c, i) != 0)
            k++;
        if (k == ndict)
            first[ndict++] = i;
        c->codes[i] = (uint16_t)k;
    }
    c->ncodes = first ? ndict : 0;
    free(first);
}

#endif

/*
 * testdata.h: loading the recorded evidence under tests/data/ for the
 * attestation tests. A missing file is reported on stderr and comes back
 * empty (len 0), so the test that uses it fails instead of passing silently.
 */
#ifndef DCR_TESTS_TESTDATA_H
#define DCR_TESTS_TESTDATA_H

#include <stdio.h>
#include <stdint.h>

#include "attest/attest.h"
#include "base/fileio.h"

typedef struct {
    uint8_t *d;
    size_t len;
} blob;

static inline blob load(const char *rel)
{
    blob b = {0};
    char *d = NULL;
    dcr_error err = {0};
    if (dcr_read_file(rel, DCR_EVIDENCE_MAX, &d, &b.len, &err) != DCR_OK) {
        fprintf(stderr, "  missing test data %s: %s\n", rel, err.msg);
        b.len = 0;
    }
    b.d = (uint8_t *)d;
    return b;
}

#endif

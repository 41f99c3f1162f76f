/*
 * fuzz_attest_tdx.c: libFuzzer target for the TDX quote parser and
 * verifier (v4 and v5), through the same entry points the CLI uses:
 * recognition, then dcr_attest_verify at a fixed time.
 */
#include <stddef.h>
#include <stdint.h>

#include "attest/attest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dcr_error err = {0};
    dcr_evidence ev;
    dcr_attest_policy pol = {.at = 1717200000};
    if (dcr_evidence_parse(data, size, DCR_EV_TDX, &ev, &err) == DCR_OK) {
        json_t *claims = NULL;
        dcr_attest_verify(&ev, &pol, &claims, &err);
        json_decref(claims);
        dcr_evidence_free(&ev);
    }
    return 0;
}

/*
 * fuzz_attest_azure.c: libFuzzer target for everything evidence recognition
 * touches, Azure first: dcr containers, evidence-v1 JSON bundles, HCL
 * reports with their runtime JSON and TPM quotes, and the TPM quote file
 * parser (bincode and raw TPMS_ATTEST + signature), then the verifier.
 */
#include <stddef.h>
#include <stdint.h>

#include "attest/attest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dcr_error err = {0};
    dcr_evidence ev;
    dcr_attest_policy pol = {.at = 1717200000, .allow_sim = 1};
    if (dcr_evidence_parse(data, size, DCR_EV_UNKNOWN, &ev, &err) == DCR_OK) {
        json_t *claims = NULL;
        dcr_attest_verify(&ev, &pol, &claims, &err);
        json_decref(claims);
        dcr_evidence_free(&ev);
    }
    dcr_evidence q = {0};
    dcr_evidence_set_tpm_quote(&q, data, size, &err);
    dcr_evidence_free(&q);
    return 0;
}

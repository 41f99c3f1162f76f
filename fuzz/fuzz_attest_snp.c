/*
 * fuzz_attest_snp.c: libFuzzer target for the SEV-SNP report verifier. The
 * first 1184 bytes are the report, the rest the certificates that came with
 * it (PEM, DER or an AMD certificate table), so both parsers see hostile
 * bytes. Verification runs at a fixed time, so runs are reproducible.
 */
#include <stddef.h>
#include <stdint.h>

#include "attest/attest_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dcr_error err = {0};
    dcr_attest_policy pol = {.at = 1717200000}; /* 2024-06-01 */
    size_t rlen = size < DCR_SNP_REPORT_LEN ? size : DCR_SNP_REPORT_LEN;
    dcr_buf certs = {(uint8_t *)data + rlen, size - rlen, size - rlen};
    json_t *claims = json_object();
    if (claims)
        dcr_snp_verify(data, rlen, &certs, &pol, claims, &err);
    json_decref(claims);
    return 0;
}

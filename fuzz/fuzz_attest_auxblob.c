/*
 * fuzz_attest_auxblob.c: libFuzzer target for what the SEV-SNP producers
 * parse from the host: AMD's certificate table (configfs-tsm auxblob, the
 * SNP_GET_EXT_REPORT certificate buffer) and the firmware's MSG_REPORT_RSP.
 * Both come from outside the guest's trust boundary, so any input must be
 * refused cleanly or give certificates that really were in the bytes.
 * Seeds: a table built from the genuine VCEK/ASK/ARK (see
 * docs/attestation.md, "Tests and fuzzing").
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attest/attest_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dcr_error err = {0};
    dcr_buf pem = DCR_BUF_INIT;
    size_t found = 0;
    dcr_status st = dcr_snp_cert_table_to_pem(data, size, &pem, &found, &err);
    /* Success means one PEM block per certificate found, at most one per
     * known GUID (VCEK, VLEK, ASK, ARK). */
    if (st == DCR_OK) {
        size_t blocks = 0;
        for (size_t i = 0; i + 27 <= pem.len; i++)
            blocks += memcmp(pem.data + i, "-----BEGIN CERTIFICATE-----", 27) == 0;
        if (blocks != found || found > 4)
            abort();
    } else if (!err.msg[0]) {
        abort(); /* every refusal names itself */
    }
    dcr_buf_free(&pem);

    dcr_buf report = DCR_BUF_INIT;
    st = dcr_sevguest_parse_report_resp(data, size, NULL, &report, &err);
    if (st == DCR_OK && report.len != DCR_SNP_REPORT_LEN)
        abort();
    dcr_buf_free(&report);
    return 0;
}

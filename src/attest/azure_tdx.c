/*
 * azure_tdx.c: the TDREPORT an Azure TDX confidential VM's HCL report
 * carries, matched field by field against the body of the TD quote that
 * Azure's quoting service (IMDS /acc/tdquote) made from it.
 *
 * A TDREPORT is MACed with a key only the CPU holds, so a verifier
 * elsewhere cannot check it; what it can check is the quote, signed by the
 * Quoting Enclave after the QE verified that MAC on the platform. azure.c
 * verifies the quote with tdx.c and then requires the TDREPORT in the HCL
 * report to say exactly what the quote says: then the quote is about this
 * HCL report and not some other TD's, and every claim comes from signed
 * bytes. The TDREPORT fields the quote lacks (CPUSVN, the two hashes, the
 * MAC, reserved bytes) are not believed and not reported.
 *
 * Layout (Intel TDX Module ABI, TDREPORT_STRUCT, 1024 bytes):
 *   REPORTMACSTRUCT 256 at 0: REPORTTYPE 4 (type 0x81 = TDX), reserved 12,
 *     CPUSVN 16, TEE_TCB_INFO_HASH 48, TEE_INFO_HASH 48, REPORTDATA 64 at
 *     128, reserved 32, MAC 32
 *   TEE_TCB_INFO 239 at 256: VALID 8, TEE_TCB_SVN 16, MRSEAM 48,
 *     MRSIGNERSEAM 48, ATTRIBUTES 8, TEE_TCB_SVN2 16 (TDX 1.5), reserved
 *   reserved 17 at 495
 *   TDINFO 512 at 512: ATTRIBUTES 8, XFAM 8, MRTD 48, MRCONFIGID 48,
 *     MROWNER 48, MROWNERCONFIG 48, RTMR0-3 4x48, SERVTD_HASH 48 (1.5),
 *     reserved
 */
#include <string.h>

#include "attest/attest_internal.h"

enum {
    R_TYPE = 0,
    R_REPORTDATA = 128,
    R_TCB = 256,
    R_TDINFO = 512,
    TDX_REPORT_TYPE = 0x81,
    BODY10 = 584,
    BODY15 = 648,
};

typedef struct {
    const char *name;
    size_t report_off; /* in the TDREPORT */
    size_t body_off;   /* in the quote's TD report body */
    size_t len;
    size_t min_body; /* present in bodies at least this long */
} td_field;

static const td_field fields[] = {
    {"TEE_TCB_SVN", R_TCB + 8, 0, 16, BODY10},
    {"MRSEAM", R_TCB + 24, 16, 48, BODY10},
    {"MRSIGNERSEAM", R_TCB + 72, 64, 48, BODY10},
    {"SEAM attributes", R_TCB + 120, 112, 8, BODY10},
    {"TD attributes", R_TDINFO + 0, 120, 8, BODY10},
    {"XFAM", R_TDINFO + 8, 128, 8, BODY10},
    {"MRTD", R_TDINFO + 16, 136, 48, BODY10},
    {"MRCONFIGID", R_TDINFO + 64, 184, 48, BODY10},
    {"MROWNER", R_TDINFO + 112, 232, 48, BODY10},
    {"MROWNERCONFIG", R_TDINFO + 160, 280, 48, BODY10},
    {"RTMR0", R_TDINFO + 208, 328, 48, BODY10},
    {"RTMR1", R_TDINFO + 256, 376, 48, BODY10},
    {"RTMR2", R_TDINFO + 304, 424, 48, BODY10},
    {"RTMR3", R_TDINFO + 352, 472, 48, BODY10},
    {"REPORTDATA", R_REPORTDATA, 520, 64, BODY10},
    {"TEE_TCB_SVN2", R_TCB + 128, 584, 16, BODY15},
    {"MRSERVICETD", R_TDINFO + 400, 600, 48, BODY15},
};

dcr_status dcr_tdreport_match_quote(const uint8_t r[DCR_TDREPORT_LEN], const uint8_t *body,
                                    size_t body_len, dcr_error *err)
{
    if (r[R_TYPE] != TDX_REPORT_TYPE)
        return dcr_fail(err, DCR_EINPUT, "azure-tdx-vtpm: TDREPORT type 0x%02x is not TDX (0x81)",
                        r[R_TYPE]);
    if (body_len != BODY10 && body_len != BODY15)
        return dcr_fail(err, DCR_EINPUT, "azure-tdx-vtpm: TD quote body of %zu bytes", body_len);
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const td_field *f = &fields[i];
        if (body_len < f->min_body)
            continue;
        if (memcmp(r + f->report_off, body + f->body_off, f->len) != 0)
            return dcr_fail(err, DCR_ECRYPTO,
                            "azure-tdx-vtpm: the HCL report's TDREPORT does not match the TD "
                            "quote (%s differs)",
                            f->name);
    }
    return DCR_OK;
}

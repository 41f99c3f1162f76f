/*
 * tee_azure.c: the Azure confidential VM producer, through the vTPM with
 * tpm2-tss (Esys over a TCTI chosen at run time).
 *
 * The guest writes its 64 bytes to NV index 0x01400002 (defining it if it
 * is missing, as Azure's own tools do); the paravisor then refreshes the
 * HCL report in NV 0x01400001 so that its runtime JSON carries them as
 * user-data. We read that report, then ask the vTPM for a TPM2_Quote by the
 * attestation key persisted at 0x81000003 over the SHA-256 PCRs 0..23, with
 * the same 64 bytes as the nonce, and read the PCR values the verifier
 * needs to recompute the quote's digest. azure.c verifies the result.
 *
 * On an Azure TDX VM the HCL report carries a TDREPORT, which only the
 * platform can check; we have IMDS turn it into a TD quote (imds.c) and
 * bundle that too, so the evidence verifies anywhere.
 *
 * TCTI: the option, else $DCR_TCTI, else device:/dev/tpmrm0 (Azure). Tests
 * use swtpm:host=127.0.0.1,port=P.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "attest/attest_internal.h"
#include "attest/tee.h"
#include "base/bytes.h"

#define NV_HCL_REPORT 0x01400001
#define NV_REPORT_DATA 0x01400002
#define AK_HANDLE 0x81000003
#define NV_CHUNK 512
#define HCL_MAX 8192
#define HCL_HW_REPORT 32     /* the hardware report (SNP report or TDREPORT) */
#define HCL_REPORT_TYPE 1224 /* IGVM request data's report type */
#define HCL_TYPE_TDX 4

typedef struct {
    TSS2_TCTI_CONTEXT *tcti;
    ESYS_CONTEXT *esys;
} tpm;

static const char *tcti_conf(const dcr_tee_options *opt)
{
    if (opt && opt->tcti)
        return opt->tcti;
    const char *env = getenv("DCR_TCTI");
    return env && *env ? env : "device:/dev/tpmrm0";
}

static dcr_status tss_fail(dcr_error *err, const char *what, TSS2_RC rc)
{
    return dcr_fail(err, DCR_EINPUT, "azure-vtpm: %s failed: %s", what, Tss2_RC_Decode(rc));
}

static dcr_status tpm_open(const dcr_tee_options *opt, tpm *t, dcr_error *err)
{
    memset(t, 0, sizeof *t);
    const char *conf = tcti_conf(opt);
    struct stat sb;
    /* Avoid tss2's own error logging for the common "no TPM here" case. */
    if (strncmp(conf, "device:", 7) == 0 && stat(conf + 7, &sb) != 0)
        return dcr_fail(err, DCR_EINPUT, "azure-vtpm: no TPM device %s", conf + 7);
    TSS2_RC rc = Tss2_TctiLdr_Initialize(conf, &t->tcti);
    if (rc != TSS2_RC_SUCCESS)
        return tss_fail(err, "opening the TCTI", rc);
    if ((rc = Esys_Initialize(&t->esys, t->tcti, NULL)) != TSS2_RC_SUCCESS) {
        Tss2_TctiLdr_Finalize(&t->tcti);
        return tss_fail(err, "Esys_Initialize", rc);
    }
    return DCR_OK;
}

static void tpm_close(tpm *t)
{
    if (t->esys)
        Esys_Finalize(&t->esys);
    if (t->tcti)
        Tss2_TctiLdr_Finalize(&t->tcti);
}

/* The ESYS handle and size of NV index, or an error when it is absent. */
static dcr_status nv_open(tpm *t, TPM2_HANDLE index, ESYS_TR *h, uint16_t *size, dcr_error *err)
{
    TSS2_RC rc = Esys_TR_FromTPMPublic(t->esys, index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, h);
    if (rc != TSS2_RC_SUCCESS)
        return dcr_fail(err, DCR_EINPUT, "azure-vtpm: NV index 0x%08x is not defined", index);
    TPM2B_NV_PUBLIC *pub = NULL;
    rc = Esys_NV_ReadPublic(t->esys, *h, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, NULL);
    if (rc != TSS2_RC_SUCCESS)
        return tss_fail(err, "reading NV public area", rc);
    *size = pub->nvPublic.dataSize;
    Esys_Free(pub);
    return DCR_OK;
}

static dcr_status define_report_data_index(tpm *t, ESYS_TR *h, dcr_error *err)
{
    TPM2B_AUTH auth = {0};
    TPM2B_NV_PUBLIC pub = {.nvPublic = {.nvIndex = NV_REPORT_DATA,
                                        .nameAlg = TPM2_ALG_SHA256,
                                        .attributes = TPMA_NV_OWNERWRITE | TPMA_NV_OWNERREAD |
                                                      TPMA_NV_AUTHWRITE | TPMA_NV_AUTHREAD,
                                        .dataSize = 64}};
    TSS2_RC rc = Esys_NV_DefineSpace(t->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                     ESYS_TR_NONE, &auth, &pub, h);
    return rc == TSS2_RC_SUCCESS ? DCR_OK : tss_fail(err, "defining NV 0x01400002", rc);
}

static dcr_status write_report_data(tpm *t, const uint8_t rd[64], dcr_error *err)
{
    ESYS_TR h;
    uint16_t size;
    dcr_error ignored = {0};
    dcr_status st = nv_open(t, NV_REPORT_DATA, &h, &size, &ignored);
    if (st != DCR_OK) {
        if ((st = define_report_data_index(t, &h, err)))
            return st;
        size = 64;
    }
    if (size < 64)
        return dcr_fail(err, DCR_EINPUT, "azure-vtpm: NV 0x01400002 holds %u bytes, not 64", size);
    TPM2B_MAX_NV_BUFFER data = {.size = 64};
    memcpy(data.buffer, rd, 64);
    TSS2_RC rc = Esys_NV_Write(t->esys, ESYS_TR_RH_OWNER, h, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                               ESYS_TR_NONE, &data, 0);
    return rc == TSS2_RC_SUCCESS ? DCR_OK : tss_fail(err, "writing NV 0x01400002", rc);
}

static dcr_status read_hcl(tpm *t, dcr_buf *out, dcr_error *err)
{
    ESYS_TR h;
    uint16_t size;
    dcr_status st = nv_open(t, NV_HCL_REPORT, &h, &size, err);
    if (st != DCR_OK)
        return st;
    if (size == 0 || size > HCL_MAX)
        return dcr_fail(err, DCR_EINPUT, "azure-vtpm: NV 0x01400001 size %u is implausible", size);
    for (uint16_t off = 0; off < size;) {
        uint16_t n = size - off < NV_CHUNK ? size - off : NV_CHUNK;
        TPM2B_MAX_NV_BUFFER *data = NULL;
        TSS2_RC rc = Esys_NV_Read(t->esys, ESYS_TR_RH_OWNER, h, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                  ESYS_TR_NONE, n, off, &data);
        if (rc != TSS2_RC_SUCCESS)
            return tss_fail(err, "reading NV 0x01400001", rc);
        st = data->size == n ? dcr_buf_append(out, data->buffer, n, err)
                             : dcr_fail(err, DCR_EINPUT, "azure-vtpm: short NV read");
        Esys_Free(data);
        if (st != DCR_OK)
            return st;
        off += n;
    }
    return DCR_OK;
}

static TPML_PCR_SELECTION all_sha256_pcrs(void)
{
    TPML_PCR_SELECTION s = {.count = 1};
    s.pcrSelections[0].hash = TPM2_ALG_SHA256;
    s.pcrSelections[0].sizeofSelect = 3;
    memset(s.pcrSelections[0].pcrSelect, 0xff, 3);
    return s;
}

static dcr_status quote(tpm *t, const uint8_t rd[64], dcr_evidence *ev, dcr_error *err)
{
    ESYS_TR ak;
    TSS2_RC rc =
        Esys_TR_FromTPMPublic(t->esys, AK_HANDLE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &ak);
    if (rc != TSS2_RC_SUCCESS)
        return dcr_fail(err, DCR_EINPUT, "azure-vtpm: no attestation key at 0x81000003");
    TPM2B_DATA nonce = {.size = 64};
    memcpy(nonce.buffer, rd, 64);
    TPMT_SIG_SCHEME scheme = {.scheme = TPM2_ALG_NULL};
    TPML_PCR_SELECTION sel = all_sha256_pcrs();
    TPM2B_ATTEST *quoted = NULL;
    TPMT_SIGNATURE *sig = NULL;
    rc = Esys_Quote(t->esys, ak, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &nonce, &scheme,
                    &sel, &quoted, &sig);
    if (rc != TSS2_RC_SUCCESS)
        return tss_fail(err, "TPM2_Quote", rc);
    uint8_t sbuf[sizeof(TPMT_SIGNATURE)];
    size_t slen = 0;
    dcr_status st = DCR_OK;
    if (Tss2_MU_TPMT_SIGNATURE_Marshal(sig, sbuf, sizeof sbuf, &slen) != TSS2_RC_SUCCESS)
        st = dcr_fail(err, DCR_EINTERNAL, "azure-vtpm: cannot marshal the quote signature");
    if (st == DCR_OK &&
        !(st = dcr_buf_append(&ev->tpm_quote, quoted->attestationData, quoted->size, err)))
        st = dcr_buf_append(&ev->tpm_sig, sbuf, slen, err);
    Esys_Free(quoted);
    Esys_Free(sig);
    return st;
}

/* PCR_Read returns at most 8 digests per call; ask again for the rest. */
static dcr_status read_pcrs(tpm *t, dcr_buf *out, dcr_error *err)
{
    for (unsigned pcr = 0; pcr < 24;) {
        TPML_PCR_SELECTION sel = {.count = 1};
        sel.pcrSelections[0].hash = TPM2_ALG_SHA256;
        sel.pcrSelections[0].sizeofSelect = 3;
        for (unsigned i = pcr; i < 24; i++)
            sel.pcrSelections[0].pcrSelect[i / 8] |= (uint8_t)(1u << (i % 8));
        TPML_DIGEST *vals = NULL;
        TSS2_RC rc = Esys_PCR_Read(t->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &sel, NULL,
                                   NULL, &vals);
        if (rc != TSS2_RC_SUCCESS)
            return tss_fail(err, "TPM2_PCR_Read", rc);
        dcr_status st =
            vals->count == 0 ? dcr_fail(err, DCR_EINPUT, "azure-vtpm: no PCR values") : DCR_OK;
        for (uint32_t i = 0; i < vals->count && st == DCR_OK && pcr < 24; i++, pcr++)
            st = vals->digests[i].size == 32
                     ? dcr_buf_append(out, vals->digests[i].buffer, 32, err)
                     : dcr_fail(err, DCR_EINPUT, "azure-vtpm: PCR %u is not SHA-256", pcr);
        Esys_Free(vals);
        if (st != DCR_OK)
            return st;
    }
    return DCR_OK;
}

/* What the HCL report carries (its IGVM report type), for the probe's
 * explanation only: "SEV-SNP", "TDX" or "an unknown report". */
static const char *hcl_kind(tpm *t, ESYS_TR h, uint16_t size)
{
    if (size < HCL_REPORT_TYPE + 4)
        return "an unknown report";
    TPM2B_MAX_NV_BUFFER *data = NULL;
    TSS2_RC rc = Esys_NV_Read(t->esys, ESYS_TR_RH_OWNER, h, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                              ESYS_TR_NONE, 4, HCL_REPORT_TYPE, &data);
    uint32_t type = rc == TSS2_RC_SUCCESS && data->size == 4 ? dcr_get_u32le(data->buffer) : 0;
    Esys_Free(data);
    return type == HCL_TYPE_TDX ? "TDX (the TD quote will come from IMDS)"
           : type == 2          ? "SEV-SNP"
                                : "an unknown report";
}

static bool azure_probe(const dcr_tee_options *opt, char *why, size_t why_len)
{
    tpm t;
    dcr_error err = {0};
    ESYS_TR h;
    uint16_t size = 0;
    const char *kind = NULL;
    dcr_status st = tpm_open(opt, &t, &err);
    if (st == DCR_OK) {
        if ((st = nv_open(&t, NV_HCL_REPORT, &h, &size, &err)) == DCR_OK)
            kind = hcl_kind(&t, h, size);
        tpm_close(&t);
    }
    if (st == DCR_OK)
        snprintf(why, why_len, "TPM at %s has an HCL report in NV 0x01400001 (%u bytes, %s)",
                 tcti_conf(opt), size, kind);
    else
        snprintf(why, why_len, "%s", err.msg);
    return st == DCR_OK;
}

static dcr_status azure_get_evidence(const dcr_tee_options *opt, const uint8_t report_data[64],
                                     dcr_evidence *ev, dcr_error *err)
{
    tpm t;
    dcr_status st = tpm_open(opt, &t, err);
    if (st != DCR_OK)
        return st;
    if ((st = write_report_data(&t, report_data, err)) || (st = read_hcl(&t, &ev->report, err)))
        goto out;
    ev->type = ev->report.len >= HCL_REPORT_TYPE + 4 &&
                       dcr_get_u32le(ev->report.data + HCL_REPORT_TYPE) == HCL_TYPE_TDX
                   ? DCR_EV_AZURE_TDX
                   : DCR_EV_AZURE_SNP;
    /* The TDREPORT binds the runtime JSON holding our report data: turn it
     * into a quote before anything else can refresh the HCL report. */
    if (ev->type == DCR_EV_AZURE_TDX &&
        (st = dcr_imds_td_quote(opt ? opt->imds_url : NULL, opt ? opt->imds_timeout_ms : 0,
                                ev->report.data + HCL_HW_REPORT, &ev->td_quote, err)))
        goto out;
    if ((st = quote(&t, report_data, ev, err)) == DCR_OK)
        st = read_pcrs(&t, &ev->tpm_pcrs, err);
out:
    tpm_close(&t);
    return st;
}

const dcr_tee_backend dcr_tee_azure = {"azure-vtpm", azure_probe, azure_get_evidence};

/*
 * fuzz_attest_azure_tdx.c: libFuzzer target for the azure-tdx-vtpm parsing.
 * The first byte picks what the rest is:
 *   0  an IMDS answer to POST /acc/tdquote (dcr_imds_parse_quote): an
 *      accepted quote must be a bounded TDX quote whose body parses
 *   1  a TDREPORT (1024 bytes) and a TD quote: the quote's body parser and
 *      the field-by-field TDREPORT match
 *   2  evidence bytes (a dcr container with HCL report + TD quote + TPM
 *      quote, or a bare HCL report) through the verifier; a parsed container
 *      must re-encode and re-parse to the same parts
 *   3  u16 length + a root certificate (PEM), then evidence as in 2, verified
 *      with that root in place of Intel's (the policy's test seam), so
 *      mutations get past the PCK chain to the TDREPORT match, the
 *      runtime-data binding and the user-data check
 * Seeds (fuzz/corpus/attest_azure_tdx) come from the swtpm + fake IMDS e2e
 * run (with its test root for mode 3), so the TPM quote signature and the TD
 * quote's own signatures hold.
 */
#include <stdlib.h>
#include <string.h>

#include "attest/attest_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same(const dcr_buf *a, const dcr_buf *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static void imds_answer(const uint8_t *d, size_t n)
{
    dcr_error err = {0};
    dcr_buf q = DCR_BUF_INIT;
    if (dcr_imds_parse_quote((const char *)d, n, &q, &err) == DCR_OK) {
        const uint8_t *body;
        size_t blen;
        if (q.len > DCR_TD_QUOTE_MAX || dcr_tdx_quote_body(q.data, q.len, &body, &blen, &err))
            abort();
    }
    dcr_buf_free(&q);
}

static void tdreport_match(const uint8_t *d, size_t n)
{
    if (n < DCR_TDREPORT_LEN)
        return;
    dcr_error err = {0};
    const uint8_t *body;
    size_t blen;
    if (dcr_tdx_quote_body(d + DCR_TDREPORT_LEN, n - DCR_TDREPORT_LEN, &body, &blen, &err) ==
        DCR_OK) {
        if (body + blen > d + n)
            abort();
        dcr_tdreport_match_quote(d, body, blen, &err);
    }
}

static void evidence(const uint8_t *d, size_t n, const char *root_pem)
{
    dcr_error err = {0};
    dcr_evidence ev, back;
    /* 2026-11-29: the seeds' test chain is valid then */
    dcr_attest_policy pol = {.at = 1796000000, .roots_override_pem = root_pem};
    if (dcr_evidence_parse(d, n, DCR_EV_UNKNOWN, &ev, &err) != DCR_OK)
        return;
    json_t *claims = NULL;
    dcr_attest_verify(&ev, &pol, &claims, &err);
    json_decref(claims);
    dcr_buf enc = DCR_BUF_INIT;
    if (dcr_evidence_encode(&ev, &enc, &err) == DCR_OK) {
        if (dcr_evidence_parse(enc.data, enc.len, DCR_EV_UNKNOWN, &back, &err) != DCR_OK)
            abort();
        if (back.type != ev.type || !same(&back.report, &ev.report) ||
            !same(&back.certs, &ev.certs) || !same(&back.tpm_quote, &ev.tpm_quote) ||
            !same(&back.tpm_sig, &ev.tpm_sig) || !same(&back.tpm_pcrs, &ev.tpm_pcrs) ||
            !same(&back.td_quote, &ev.td_quote))
            abort();
        dcr_evidence_free(&back);
    }
    dcr_buf_free(&enc);
    dcr_evidence_free(&ev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] % 4) {
    case 0:
        imds_answer(data + 1, size - 1);
        break;
    case 1:
        tdreport_match(data + 1, size - 1);
        break;
    case 2:
        evidence(data + 1, size - 1, NULL);
        break;
    default: {
        if (size < 3)
            break;
        size_t rl = (size_t)data[1] | (size_t)data[2] << 8;
        if (rl > size - 3)
            break;
        char *root = malloc(rl + 1);
        if (!root)
            break;
        memcpy(root, data + 3, rl);
        root[rl] = 0;
        evidence(data + 3 + rl, size - 3 - rl, root);
        free(root);
        break;
    }
    }
    return 0;
}

/*
 * evidence.c: evidence on disk: dcr's container, raw vendor bytes, and the
 * Azure evidence-v1 JSON bundle; recognising which is which.
 *
 * Container (all integers little-endian):
 *   "DCREVID1"  magic
 *   u32         type (dcr_attest_type)
 *   items       u16 tag, u32 length, bytes; tags 1 report, 2 certificates,
 *               3 TPMS_ATTEST, 4 TPM signature, 5 PCR values, 6 TD quote
 *               (Azure TDX); each at most once, report required, nothing
 *               after the last item.
 * It is a carrier, not a trust boundary: nothing in it is believed until
 * the verifier has checked the vendor signatures.
 */
#include <openssl/evp.h>
#include <string.h>

#include "attest/attest_internal.h"
#include "base/bytes.h"

static const struct {
    dcr_attest_type t;
    const char *name;
} type_names[] = {
    {DCR_EV_SIM, "sim"},
    {DCR_EV_SNP, "snp"},
    {DCR_EV_TDX, "tdx"},
    {DCR_EV_AZURE_SNP, "azure-snp-vtpm"},
    {DCR_EV_AZURE_TDX, "azure-tdx-vtpm"},
};

const char *dcr_attest_type_name(dcr_attest_type t)
{
    for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
        if (type_names[i].t == t)
            return type_names[i].name;
    return "unknown";
}

bool dcr_attest_type_from_name(const char *name, dcr_attest_type *out)
{
    for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
        if (strcmp(type_names[i].name, name) == 0) {
            *out = type_names[i].t;
            return true;
        }
    if (strcmp(name, "sev-snp") == 0) {
        *out = DCR_EV_SNP;
        return true;
    }
    return false;
}

void dcr_evidence_free(dcr_evidence *ev)
{
    dcr_buf_free(&ev->report);
    dcr_buf_free(&ev->certs);
    dcr_buf_free(&ev->tpm_quote);
    dcr_buf_free(&ev->tpm_sig);
    dcr_buf_free(&ev->tpm_pcrs);
    dcr_buf_free(&ev->td_quote);
    memset(ev, 0, sizeof *ev);
}

enum { TAG_REPORT = 1, TAG_CERTS, TAG_TPM_QUOTE, TAG_TPM_SIG, TAG_TPM_PCRS, TAG_TD_QUOTE, TAG_MAX };

static dcr_buf *tag_buf(dcr_evidence *ev, unsigned tag)
{
    switch (tag) {
    case TAG_REPORT:
        return &ev->report;
    case TAG_CERTS:
        return &ev->certs;
    case TAG_TPM_QUOTE:
        return &ev->tpm_quote;
    case TAG_TPM_SIG:
        return &ev->tpm_sig;
    case TAG_TPM_PCRS:
        return &ev->tpm_pcrs;
    case TAG_TD_QUOTE:
        return &ev->td_quote;
    }
    return NULL;
}

dcr_status dcr_evidence_encode(const dcr_evidence *ev, dcr_buf *out, dcr_error *err)
{
    uint8_t h[12];
    memcpy(h, DCR_CONTAINER_MAGIC, 8);
    dcr_put_u32le(h + 8, (uint32_t)ev->type);
    dcr_status st = dcr_buf_append(out, h, sizeof h, err);
    for (unsigned tag = TAG_REPORT; tag < TAG_MAX && st == DCR_OK; tag++) {
        const dcr_buf *b = tag_buf((dcr_evidence *)ev, tag);
        if (!b->len)
            continue;
        uint8_t item[6];
        dcr_put_u16le(item, (uint16_t)tag);
        dcr_put_u32le(item + 2, (uint32_t)b->len);
        if ((st = dcr_buf_append(out, item, sizeof item, err)) == DCR_OK)
            st = dcr_buf_append(out, b->data, b->len, err);
    }
    return st;
}

static dcr_status parse_container(const uint8_t *d, size_t len, dcr_evidence *ev, dcr_error *err)
{
    if (len < 12)
        return dcr_fail(err, DCR_EINPUT, "evidence: container is truncated");
    uint32_t type = dcr_get_u32le(d + 8);
    if (type < DCR_EV_SIM || type > DCR_EV_AZURE_TDX)
        return dcr_fail(err, DCR_EINPUT, "evidence: container names unknown type %u", type);
    ev->type = (dcr_attest_type)type;
    size_t off = 12;
    while (off < len) {
        if (len - off < 6)
            return dcr_fail(err, DCR_EINPUT, "evidence: container item header is truncated");
        unsigned tag = dcr_get_u16le(d + off);
        uint32_t n = dcr_get_u32le(d + off + 2);
        off += 6;
        dcr_buf *b = tag_buf(ev, tag);
        if (!b)
            return dcr_fail(err, DCR_EINPUT, "evidence: container has unknown item %u", tag);
        if (b->len || n == 0)
            return dcr_fail(err, DCR_EINPUT, "evidence: container item %u is repeated or empty",
                            tag);
        if (n > len - off)
            return dcr_fail(err, DCR_EINPUT, "evidence: container item %u overruns the file", tag);
        dcr_status st = dcr_buf_append(b, d + off, n, err);
        if (st != DCR_OK)
            return st;
        off += n;
    }
    if (!ev->report.len)
        return dcr_fail(err, DCR_EINPUT, "evidence: container has no report");
    return DCR_OK;
}

/* base64 or base64url, padded or not, into out. */
dcr_status dcr_attest_b64_decode(const char *s, dcr_buf *out, const char *what, dcr_error *err)
{
    size_t n = strlen(s);
    if (n > DCR_EVIDENCE_MAX * 2)
        return dcr_fail(err, DCR_EINPUT, "evidence: %s is too long", what);
    char *t = malloc(n + 4);
    if (!t)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
        if (c != '=')
            t[m++] = c;
    }
    size_t pad = (4 - m % 4) % 4;
    if (pad == 3) {
        free(t);
        return dcr_fail(err, DCR_EINPUT, "evidence: %s is not base64", what);
    }
    memset(t + m, '=', pad);
    m += pad;
    dcr_status st = dcr_buf_reserve(out, m / 4 * 3 + 1, err);
    int got = st == DCR_OK ? EVP_DecodeBlock(out->data + out->len, (unsigned char *)t, (int)m) : 0;
    free(t);
    if (st != DCR_OK)
        return st;
    if (got < 0 || (size_t)got < pad)
        return dcr_fail(err, DCR_EINPUT, "evidence: %s is not base64", what);
    out->len += (size_t)got - pad;
    return DCR_OK;
}

static dcr_status hex_decode_buf(const char *s, dcr_buf *out, const char *what, dcr_error *err)
{
    size_t n = strlen(s);
    if (n % 2 || n > DCR_EVIDENCE_MAX * 2)
        return dcr_fail(err, DCR_EINPUT, "evidence: %s is not hex", what);
    dcr_status st = dcr_buf_reserve(out, n / 2, err);
    if (st != DCR_OK)
        return st;
    if (!dcr_hex_decode(out->data + out->len, n / 2, s, n))
        return dcr_fail(err, DCR_EINPUT, "evidence: %s is not hex", what);
    out->len += n / 2;
    return DCR_OK;
}

/* {"version":1, "hcl_report": base64url, "tpm_quote": {"message": hex,
 *  "signature": hex, "pcrs": [hex...]}, "vcek": PEM} (trustee's az-snp-vtpm). */
static dcr_status parse_bundle(const uint8_t *d, size_t len, dcr_evidence *ev, dcr_error *err)
{
    json_error_t je;
    json_t *root = json_loadb((const char *)d, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return dcr_fail(err, DCR_EINPUT, "evidence: JSON bundle: %s (line %d)", je.text, je.line);
    const char *hcl = json_string_value(json_object_get(root, "hcl_report"));
    const char *vcek = json_string_value(json_object_get(root, "vcek"));
    json_t *q = json_object_get(root, "tpm_quote");
    const char *msg = json_string_value(json_object_get(q, "message"));
    const char *sig = json_string_value(json_object_get(q, "signature"));
    json_t *pcrs = json_object_get(q, "pcrs");
    dcr_status st = DCR_OK;
    if (!hcl || !msg || !sig || !json_is_array(pcrs) || json_array_size(pcrs) > 24) {
        st = dcr_fail(err, DCR_EINPUT,
                      "evidence: JSON bundle lacks hcl_report, tpm_quote.message, "
                      "tpm_quote.signature or tpm_quote.pcrs");
        goto out;
    }
    ev->type = DCR_EV_AZURE_SNP;
    if ((st = dcr_attest_b64_decode(hcl, &ev->report, "hcl_report", err)) ||
        (st = hex_decode_buf(msg, &ev->tpm_quote, "tpm_quote.message", err)) ||
        (st = hex_decode_buf(sig, &ev->tpm_sig, "tpm_quote.signature", err)))
        goto out;
    /* vcek: PEM, or base64 DER without the armour. */
    if (vcek && strstr(vcek, "-----BEGIN"))
        st = dcr_buf_append(&ev->certs, vcek, strlen(vcek), err);
    else if (vcek)
        st = dcr_attest_b64_decode(vcek, &ev->certs, "vcek", err);
    if (st != DCR_OK)
        goto out;
    for (size_t i = 0; i < json_array_size(pcrs); i++) {
        const char *p = json_string_value(json_array_get(pcrs, i));
        if (!p || strlen(p) != 64) {
            st = dcr_fail(err, DCR_EINPUT, "evidence: PCR %zu is not 32 bytes of hex", i);
            goto out;
        }
        if ((st = hex_decode_buf(p, &ev->tpm_pcrs, "PCR", err)))
            goto out;
    }
    if (ev->report.len >= 1228 && memcmp(ev->report.data, DCR_HCL_MAGIC, 4) == 0 &&
        dcr_get_u32le(ev->report.data + 1216 + 8) == 4)
        ev->type = DCR_EV_AZURE_TDX;
out:
    json_decref(root);
    return st;
}

static dcr_attest_type recognise(const uint8_t *d, size_t len)
{
    if (len >= 8 && memcmp(d, DCR_SIM_MAGIC, 8) == 0)
        return DCR_EV_SIM;
    if (len >= 1228 && memcmp(d, DCR_HCL_MAGIC, 4) == 0)
        return dcr_get_u32le(d + 1216 + 8) == 4 ? DCR_EV_AZURE_TDX : DCR_EV_AZURE_SNP;
    if (len >= 8 && (dcr_get_u16le(d) == 4 || dcr_get_u16le(d) == 5) && dcr_get_u16le(d + 2) == 2 &&
        dcr_get_u32le(d + 4) == 0x81)
        return DCR_EV_TDX;
    if (len == DCR_SNP_REPORT_LEN && dcr_get_u32le(d) >= 2 && dcr_get_u32le(d) <= 5)
        return DCR_EV_SNP;
    return DCR_EV_UNKNOWN;
}

dcr_status dcr_evidence_parse(const uint8_t *d, size_t len, dcr_attest_type hint, dcr_evidence *ev,
                              dcr_error *err)
{
    memset(ev, 0, sizeof *ev);
    dcr_status st;
    if (len > DCR_EVIDENCE_MAX)
        return dcr_fail(err, DCR_EINPUT, "evidence: %zu bytes is over the %u-byte limit", len,
                        DCR_EVIDENCE_MAX);
    if (len >= 8 && memcmp(d, DCR_CONTAINER_MAGIC, 8) == 0)
        st = parse_container(d, len, ev, err);
    else if (len >= 1 && (d[0] == '{' || d[0] == '\n' || d[0] == ' '))
        st = parse_bundle(d, len, ev, err);
    else {
        ev->type = hint != DCR_EV_UNKNOWN ? hint : recognise(d, len);
        if (ev->type == DCR_EV_UNKNOWN)
            return dcr_fail(err, DCR_EINPUT,
                            "evidence: unrecognised bytes (not an SNP report, TDX quote, HCL "
                            "report, sim report or dcr container); try --type");
        st = dcr_buf_append(&ev->report, d, len, err);
    }
    if (st == DCR_OK && hint != DCR_EV_UNKNOWN && hint != ev->type)
        st = dcr_fail(err, DCR_EINPUT, "evidence: --type %s given, but the evidence is %s",
                      dcr_attest_type_name(hint), dcr_attest_type_name(ev->type));
    if (st != DCR_OK)
        dcr_evidence_free(ev);
    return st;
}

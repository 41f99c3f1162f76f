/*
 * verify.c: the one verifier entry point. Dispatches on the evidence type
 * (refusing PCR pins on types without a vTPM), and wraps the per-type
 * claims with the type and the verification time so a relying party sees
 * exactly what was checked, and as of when.
 */
#include <string.h>

#include "attest/attest_internal.h"

/* Only vTPM evidence carries PCRs; pins on any other type must not pass
 * as if they had been checked. */
static bool has_vtpm(dcr_attest_type t)
{
    return t == DCR_EV_AZURE_SNP || t == DCR_EV_AZURE_TDX;
}

static dcr_status dispatch(const dcr_evidence *ev, const dcr_attest_policy *pol, json_t *claims,
                           dcr_error *err)
{
    if (pol->pcrs && pol->pcrs->mask && !has_vtpm(ev->type))
        return dcr_fail(err, DCR_ECRYPTO,
                        "policy: PCRs are pinned, but %s evidence has no vTPM quote to prove them",
                        dcr_attest_type_name(ev->type));
    switch (ev->type) {
    case DCR_EV_SIM:
        return dcr_sim_verify(ev->report.data, ev->report.len, pol, claims, err);
    case DCR_EV_SNP:
        return dcr_snp_verify(ev->report.data, ev->report.len, &ev->certs, pol, claims, err);
    case DCR_EV_TDX:
        return dcr_tdx_verify(ev->report.data, ev->report.len, pol, claims, err);
    case DCR_EV_AZURE_SNP:
    case DCR_EV_AZURE_TDX:
        return dcr_azure_verify(ev, pol, claims, err);
    case DCR_EV_UNKNOWN:
        break;
    }
    return dcr_fail(err, DCR_EINPUT, "evidence: unknown type");
}

dcr_status dcr_attest_verify(const dcr_evidence *ev, const dcr_attest_policy *pol, json_t **claims,
                             dcr_error *err)
{
    *claims = NULL;
    if (!ev->report.len)
        return dcr_fail(err, DCR_EINPUT, "evidence: empty");
    json_t *c = json_object();
    if (!c)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    json_object_set_new(c, "type", json_string(dcr_attest_type_name(ev->type)));
    time_t at = pol->at ? pol->at : time(NULL);
    struct tm tm;
    char when[32];
    if (gmtime_r(&at, &tm) && strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm))
        json_object_set_new(c, "verified_at", json_string(when));
    dcr_status st = dispatch(ev, pol, c, err);
    if (st != DCR_OK) {
        json_decref(c);
        return st;
    }
    *claims = c;
    return DCR_OK;
}

/* The hardware behind an evidence type, for people. */
static const char *platform_words(const char *type)
{
    static const struct {
        const char *type, *words;
    } names[] = {
        {"snp", "AMD SEV-SNP"},
        {"tdx", "Intel TDX"},
        {"azure-snp-vtpm", "AMD SEV-SNP (Azure confidential VM, vTPM)"},
        {"azure-tdx-vtpm", "Intel TDX (Azure confidential VM, vTPM)"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(names[i].type, type) == 0)
            return names[i].words;
    return type;
}

/* "PCRs 4, 7, 11" from the verifier's tpm_pcrs_pinned. */
static size_t pinned_words(json_t *pinned, char *out, size_t len)
{
    size_t n = json_array_size(pinned), off = 0;
    int w = snprintf(out, len, "PCR%s ", n > 1 ? "s" : "");
    off = w > 0 ? (size_t)w : 0;
    for (size_t i = 0; i < n && off < len; i++) {
        w = snprintf(out + off, len - off, "%s%lld", i ? ", " : "",
                     (long long)json_integer_value(json_array_get(pinned, i)));
        off += w > 0 ? (size_t)w : 0;
    }
    return off < len ? off : len;
}

void dcr_attest_proves(const char *type, json_t *claims, bool measurement_pinned,
                       const char *pinned_by, char *out, size_t len)
{
    json_t *pinned = json_object_get(claims, "tpm_pcrs_pinned");
    const char *hw = platform_words(type);
    if (!len)
        return;
    if (strcmp(type, "sim") == 0) {
        snprintf(out, len, "nothing: simulated evidence, anyone can forge it");
    } else if (strncmp(type, "azure-", 6) != 0) {
        snprintf(out, len, "%s on genuine %s",
                 measurement_pinned ? "the launch image with an accepted measurement runs"
                                    : "some guest (no measurement was pinned) runs",
                 hw);
    } else if (!json_array_size(pinned)) {
        /* The measurement is Azure's paravisor, the same for every CVM. */
        snprintf(out, len,
                 "genuine %s, but only the platform: the measurement is Azure's paravisor and no "
                 "PCRs are pinned, so the code that booted is NOT proven",
                 hw);
    } else {
        size_t off = pinned_words(pinned, out, len);
        if (off < len)
            snprintf(out + off, len - off, " %s %s: the pinned image booted on genuine %s",
                     json_array_size(pinned) > 1 ? "match" : "matches", pinned_by, hw);
    }
}

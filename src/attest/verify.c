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

/*
 * binding.c: REPORT_DATA of an instance and the contract-driven evidence
 * check (binding.h). The policy is built from the contract entry whose type
 * matches the evidence (measurements, minimum TCB, debug, pinned PCRs), so the server's self-check
 * and every client apply the same rules.
 */
#include "api/binding.h"

#include <string.h>

#include "crypto/hash.h"

dcr_status dcr_instance_report_data(const uint8_t contract_hash[32], const dcr_instance_keys *keys,
                                    uint8_t out[64], dcr_error *err)
{
    uint8_t msg[sizeof DCR_INSTANCE_DOMAIN + 4 * 32];
    size_t off = sizeof DCR_INSTANCE_DOMAIN; /* includes the 0x00 */
    memcpy(msg, DCR_INSTANCE_DOMAIN, off);
    memcpy(msg + off, contract_hash, 32);
    memcpy(msg + off + 32, keys->tls_spki_sha256, 32);
    memcpy(msg + off + 64, keys->hpke_pub, 32);
    memcpy(msg + off + 96, keys->audit_pub, 32);
    return dcr_sha512(msg, sizeof msg, out, err);
}

dcr_evidence_type dcr_contract_evidence_type_of(dcr_attest_type t)
{
    switch (t) {
    case DCR_EV_SIM:
        return DCR_EVIDENCE_SIM;
    case DCR_EV_SNP:
        return DCR_EVIDENCE_SEV_SNP;
    case DCR_EV_TDX:
        return DCR_EVIDENCE_TDX;
    case DCR_EV_AZURE_SNP:
        return DCR_EVIDENCE_AZURE_SNP_VTPM;
    case DCR_EV_AZURE_TDX:
        return DCR_EVIDENCE_AZURE_TDX_VTPM;
    default:
        return 0;
    }
}

static const dcr_contract_evidence *find_entry(const dcr_contract *c, dcr_evidence_type t)
{
    for (size_t i = 0; i < c->nevidence; i++)
        if (c->evidence[i].type == t)
            return &c->evidence[i];
    return NULL;
}

/* SNP REPORTED_TCB byte order (Milan/Genoa): bootloader, tee, 4 reserved,
 * snp, microcode; reserved bytes compare against 0. */
static void snp_min_tcb(const dcr_snp_tcb *t, uint8_t out[8])
{
    memset(out, 0, 8);
    out[0] = t->bootloader;
    out[1] = t->tee;
    out[6] = t->snp;
    out[7] = t->microcode;
}

dcr_status dcr_instance_check_evidence(const dcr_contract *c, const dcr_evidence *ev,
                                       const dcr_instance_keys *keys, time_t at, json_t **claims,
                                       dcr_error *err)
{
    *claims = NULL;
    dcr_evidence_type t = dcr_contract_evidence_type_of(ev->type);
    const dcr_contract_evidence *e = t ? find_entry(c, t) : NULL;
    if (!e)
        return dcr_fail(err, DCR_ECRYPTO,
                        "policy: the contract does not accept %s evidence (it accepts %zu other "
                        "type%s)",
                        dcr_attest_type_name(ev->type), c->nevidence, c->nevidence == 1 ? "" : "s");
    uint8_t rd[64], tcb[16];
    dcr_status st = dcr_instance_report_data(c->hash, keys, rd, err);
    if (st != DCR_OK)
        return st;
    dcr_attest_policy pol = {0};
    pol.at = at;
    pol.report_data = rd;
    pol.allow_sim = t == DCR_EVIDENCE_SIM;
    pol.allow_debug = e->allow_debug;
    /* dcr_measurement is exactly 48 bytes, like the contract's entries. */
    _Static_assert(sizeof(dcr_measurement) == DCR_MEASUREMENT_LEN, "measurement size");
    pol.measurements = e->nmeasurements ? (const dcr_measurement *)e->measurements : NULL;
    pol.n_measurements = e->nmeasurements;
    if (e->has_snp_tcb) {
        snp_min_tcb(&e->snp_tcb, tcb);
        pol.min_tcb = tcb;
        pol.min_tcb_len = 8;
    } else if (e->has_tdx_tcb) {
        memcpy(tcb, e->tdx_tcb_svn, 16);
        pol.min_tcb = tcb;
        pol.min_tcb_len = 16;
    }
    dcr_pcr_pins pins = {0};
    if (e->pcr_mask) {
        _Static_assert(DCR_CONTRACT_PCRS == DCR_PCR_COUNT && DCR_SHA256_LEN == DCR_PCR_DIGEST_LEN,
                       "PCR pin sizes");
        pins.mask = e->pcr_mask;
        memcpy(pins.values, e->pcrs, sizeof pins.values);
        pol.pcrs = &pins;
    }
    return dcr_attest_verify(ev, &pol, claims, err);
}

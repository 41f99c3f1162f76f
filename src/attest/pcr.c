/*
 * pcr.c: PCR pinning for evidence that carries a vTPM quote.
 *
 * On an Azure confidential VM the hardware's launch measurement is the
 * paravisor's, the same for every VM; what booted in the guest (firmware
 * settings, the kernel image, its command line) shows only in the vTPM's
 * PCRs. A TPM2_Quote signs a digest of the PCRs it selects, not their
 * values, so the evidence carries the values and the per-type verifier
 * (azure.c) has recomputed the digest before calling here. This file only
 * decides whether the pinned PCRs are covered and equal. PCR values are
 * public, so plain memcmp of fixed-size arrays is enough.
 */
#include <string.h>

#include "attest/attest_internal.h"
#include "base/bytes.h"

bool dcr_pcr_pin_parse(const char *arg, dcr_pcr_pins *pins)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || eq - arg > 2)
        return false;
    unsigned idx = 0;
    for (const char *p = arg; p < eq; p++) {
        if (*p < '0' || *p > '9')
            return false;
        idx = idx * 10 + (unsigned)(*p - '0');
    }
    /* "07" would pin the same PCR as "7" under a second spelling. */
    if ((eq - arg == 2 && arg[0] == '0') || idx >= DCR_PCR_COUNT || (pins->mask & (1u << idx)))
        return false;
    if (!dcr_hex_decode(pins->values[idx], DCR_PCR_DIGEST_LEN, eq + 1, strlen(eq + 1)))
        return false;
    pins->mask |= 1u << idx;
    return true;
}

/* "0, 4, 7" for messages and the claims' words. */
static void list_indexes(uint32_t mask, char *out, size_t len)
{
    size_t off = 0;
    out[0] = 0;
    for (unsigned i = 0; i < DCR_PCR_COUNT && off < len; i++)
        if (mask & (1u << i)) {
            int n = snprintf(out + off, len - off, "%s%u", off ? ", " : "", i);
            if (n < 0)
                break;
            off += (size_t)n;
        }
}

static dcr_status mismatch(unsigned pcr, const uint8_t want[DCR_PCR_DIGEST_LEN],
                           const uint8_t got[DCR_PCR_DIGEST_LEN], const char *prefix,
                           dcr_error *err)
{
    char w[2 * DCR_PCR_DIGEST_LEN + 1], g[2 * DCR_PCR_DIGEST_LEN + 1];
    dcr_hex_encode(w, want, DCR_PCR_DIGEST_LEN);
    dcr_hex_encode(g, got, DCR_PCR_DIGEST_LEN);
    return dcr_fail(err, DCR_ECRYPTO, "%s: PCR %u mismatch: expected %s, got %s", prefix, pcr, w,
                    g);
}

dcr_status dcr_pcr_check_pins(const dcr_pcr_pins *pins, uint32_t selected, const dcr_buf *pcrs,
                              const char *prefix, json_t *claims, dcr_error *err)
{
    if (!pins || !pins->mask)
        return DCR_OK;
    if (pins->mask >> DCR_PCR_COUNT)
        return dcr_fail(err, DCR_EINPUT, "policy: a pinned PCR index is above %u",
                        DCR_PCR_COUNT - 1);
    if (!pcrs->len)
        return dcr_fail(err, DCR_ECRYPTO,
                        "%s: PCRs are pinned, but the evidence carries no PCR values (the quote "
                        "signs only their digest)",
                        prefix);
    uint32_t uncovered = pins->mask & ~selected;
    if (uncovered) {
        char list[128];
        bool many = (uncovered & (uncovered - 1)) != 0;
        list_indexes(uncovered, list, sizeof list);
        return dcr_fail(err, DCR_ECRYPTO,
                        "%s: PCR%s %s %s pinned, but the TPM quote does not select %s in the "
                        "SHA-256 bank",
                        prefix, many ? "s" : "", list, many ? "are" : "is", many ? "them" : "it");
    }
    for (unsigned i = 0; i < DCR_PCR_COUNT; i++) {
        if (!(pins->mask & (1u << i)))
            continue;
        /* The caller's digest check refused a selected PCR without a value. */
        if ((size_t)(i + 1) * DCR_PCR_DIGEST_LEN > pcrs->len)
            return dcr_fail(err, DCR_EINPUT, "%s: PCR %u is selected but not supplied", prefix, i);
        const uint8_t *got = pcrs->data + (size_t)i * DCR_PCR_DIGEST_LEN;
        if (memcmp(got, pins->values[i], DCR_PCR_DIGEST_LEN) != 0)
            return mismatch(i, pins->values[i], got, prefix, err);
    }
    json_t *arr = json_array();
    for (unsigned i = 0; arr && i < DCR_PCR_COUNT; i++)
        if (pins->mask & (1u << i))
            json_array_append_new(arr, json_integer(i));
    json_object_set_new(claims, "tpm_pcrs_pinned", arr);
    return DCR_OK;
}

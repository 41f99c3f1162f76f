/*
 * tee.c: finding a producer backend by name, and `auto`, which probes the
 * hardware backends and explains what it found.
 *
 * auto prefers the Azure vTPM over raw SEV-SNP because on an Azure CVM the
 * paravisor owns the SNP guest device: a guest there must go through the
 * vTPM. It never picks sim: development mode must be asked for by name.
 */
#include <stdio.h>
#include <string.h>

#include "attest/tee.h"

static const dcr_tee_backend *const backends[] = {&dcr_tee_sim, &dcr_tee_snp, &dcr_tee_tdx,
                                                  &dcr_tee_azure};
static const dcr_tee_backend *const auto_order[] = {&dcr_tee_azure, &dcr_tee_snp, &dcr_tee_tdx};

const dcr_tee_backend *dcr_tee_find(const char *name)
{
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
        if (strcmp(backends[i]->name, name) == 0)
            return backends[i];
    return NULL;
}

dcr_status dcr_tee_auto(const dcr_tee_options *opt, const dcr_tee_backend **chosen, char *explain,
                        size_t explain_len, dcr_error *err)
{
    size_t used = 0;
    *chosen = NULL;
    if (explain_len)
        explain[0] = 0;
    for (size_t i = 0; i < sizeof auto_order / sizeof auto_order[0]; i++) {
        char why[256];
        const dcr_tee_backend *b = auto_order[i];
        bool ok = !*chosen && b->probe(opt, why, sizeof why);
        if (*chosen)
            snprintf(why, sizeof why, "not probed: %s was already chosen", (*chosen)->name);
        int n = snprintf(explain + used, explain_len - used, "%-10s %s: %s\n", b->name,
                         ok ? "chosen" : "skipped", why);
        if (n > 0 && (size_t)n < explain_len - used)
            used += (size_t)n;
        if (ok)
            *chosen = b;
    }
    char why[256];
    dcr_tee_sim.probe(opt, why, sizeof why);
    int n = snprintf(explain + used, explain_len - used,
                     "%-10s skipped: never chosen by auto (use --tee sim); %s\n", "sim", why);
    (void)n;
    if (!*chosen)
        return dcr_fail(err, DCR_EINPUT,
                        "auto: no hardware TEE found on this machine (see the explanation "
                        "above; --tee sim is the insecure development mode)");
    return DCR_OK;
}

/*
 * tee.h: the producer side of attestation, one narrow interface per TEE:
 * "give me evidence binding these 64 bytes".
 *
 * Like Gramine's PAL, each backend is a small struct of functions; the rest
 * of dcr never touches a device, configfs or a TPM directly. probe() says
 * whether the backend can work on this machine and why (for `--tee auto`
 * and for operators). get_evidence() fills a dcr_evidence whose hardware
 * report binds report_data, with whatever certificates the platform hands
 * out alongside.
 */
#ifndef DCR_ATTEST_TEE_H
#define DCR_ATTEST_TEE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest/attest.h"

/* Where the backends look; tests point these at fakes. NULL = default. */
typedef struct {
    const char *configfs_dir; /* default /sys/kernel/config/tsm/report */
    const char *sev_guest;    /* default /dev/sev-guest */
    const char *tcti;         /* default $DCR_TCTI, else device:/dev/tpmrm0 */
    /* SEV-SNP: the VMPL to ask the report for ("0".."3"). NULL = do not
     * ask: configfs-tsm keeps the kernel's default, /dev/sev-guest uses 0. */
    const char *privlevel;
    /* Azure TDX: where IMDS is (default http://169.254.169.254; tests use a
     * local fake) and how long the quote exchange may take (0 = 15 s). */
    const char *imds_url;
    long imds_timeout_ms;
} dcr_tee_options;

typedef struct {
    const char *name;
    /* True when the backend can run here; why explains either way. */
    bool (*probe)(const dcr_tee_options *opt, char *why, size_t why_len);
    dcr_status (*get_evidence)(const dcr_tee_options *opt, const uint8_t report_data[64],
                               dcr_evidence *ev, dcr_error *err);
} dcr_tee_backend;

extern const dcr_tee_backend dcr_tee_sim;
extern const dcr_tee_backend dcr_tee_snp;   /* configfs-tsm, else /dev/sev-guest */
extern const dcr_tee_backend dcr_tee_tdx;   /* configfs-tsm */
extern const dcr_tee_backend dcr_tee_azure; /* Azure vTPM: HCL report + TPM2_Quote (+ TD quote) */

/* The backend called name (sim, sev-snp, tdx, azure-vtpm), or NULL. */
const dcr_tee_backend *dcr_tee_find(const char *name);

/* `auto`: probes the hardware backends in order (azure-vtpm, sev-snp, tdx)
 * and picks the first that works; never picks sim. Writes one line per
 * backend into explain (chosen / skipped, and why). */
dcr_status dcr_tee_auto(const dcr_tee_options *opt, const dcr_tee_backend **chosen, char *explain,
                        size_t explain_len, dcr_error *err);

/* Builds a sim report (tests use it with a chosen measurement). */
dcr_status dcr_sim_make_report(const uint8_t report_data[64], const uint8_t measurement[48],
                               dcr_buf *out, dcr_error *err);

#endif

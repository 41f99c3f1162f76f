/*
 * tee_hw.c: the hardware producers' probes (SEV-SNP, TDX). They look for
 * what the kernel offers (configfs-tsm, /dev/sev-guest, /dev/tdx_guest) and
 * say what they found, so `--tee auto` can explain its choice.
 *
 * Evidence collection from configfs-tsm and /dev/sev-guest is not in this
 * build: it cannot be exercised on the machines dcr is tested on (no SEV-SNP
 * or TDX hardware), and an untested path that talks to firmware is worse
 * than an honest refusal. get_evidence says so.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attest/tee.h"

#define CONFIGFS_TSM "/sys/kernel/config/tsm/report"

static const char *configfs_dir(const dcr_tee_options *opt)
{
    return opt && opt->configfs_dir ? opt->configfs_dir : CONFIGFS_TSM;
}

static bool exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static bool snp_probe(const dcr_tee_options *opt, char *why, size_t why_len)
{
    const char *dev = opt && opt->sev_guest ? opt->sev_guest : "/dev/sev-guest";
    bool tsm = exists(configfs_dir(opt)), sev = exists(dev);
    snprintf(why, why_len,
             "%s %s, %s %s; evidence collection from them is not implemented in this build",
             configfs_dir(opt), tsm ? "present" : "absent", dev, sev ? "present" : "absent");
    return false;
}

static bool tdx_probe(const dcr_tee_options *opt, char *why, size_t why_len)
{
    bool tsm = exists(configfs_dir(opt)), dev = exists("/dev/tdx_guest");
    snprintf(why, why_len,
             "%s %s, /dev/tdx_guest %s; evidence collection from them is not implemented in "
             "this build",
             configfs_dir(opt), tsm ? "present" : "absent", dev ? "present" : "absent");
    return false;
}

static dcr_status not_here(const dcr_tee_options *opt, const uint8_t report_data[64],
                           dcr_evidence *ev, dcr_error *err)
{
    (void)opt, (void)report_data, (void)ev;
    return dcr_fail(err, DCR_EINPUT,
                    "evidence collection from configfs-tsm and /dev/sev-guest is not "
                    "implemented in this build (use azure-vtpm on Azure, or sim)");
}

const dcr_tee_backend dcr_tee_snp = {"sev-snp", snp_probe, not_here};
const dcr_tee_backend dcr_tee_tdx = {"tdx", tdx_probe, not_here};

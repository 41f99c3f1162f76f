/*
 * tee_sevguest.c: SEV-SNP reports through /dev/sev-guest, the ioctl
 * interface older than configfs-tsm (Linux 5.19+; ABI in
 * <linux/sev-guest.h>, messages in the AMD SEV-SNP firmware ABI spec,
 * "MSG_REPORT_REQ" / "MSG_REPORT_RSP", and the GHCB spec, "SNP Extended
 * Guest Request").
 *
 * SNP_GET_EXT_REPORT returns the report and the host's certificate table
 * (VCEK or VLEK, ASK, ARK) in one call. The caller supplies the
 * certificate buffer; when it is too small the host says so (VMM error
 * INVALID_LEN in exitinfo2) and the kernel writes the size it needs back
 * into the request, so we retry with that size, bounded. Kernels or hosts
 * without the extended request get a plain SNP_GET_REPORT (no
 * certificates: the verifier then needs the VCEK from AMD's KDS).
 *
 * The response is parsed apart from the ioctl (dcr_sevguest_parse_report_
 * resp) so tests run it on genuine reports without the device; the ioctl
 * itself can be replaced through dcr_sevguest_opts.ioctl_fn for the same
 * reason. tee_hw.c decides when this path is used.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/sev-guest.h>

#include "attest/attest_internal.h"
#include "base/bytes.h"

#define SEV_GUEST_DEV "/dev/sev-guest"
#define PAGE 4096u
#define CERTS_FIRST (4 * PAGE) /* the kernel's SEV_FW_BLOB_MAX_SIZE: enough for any host so far */
#define CERTS_MAX (16 * PAGE)  /* the most we let the host ask for */
#define VMM_ERR_INVALID_LEN 1  /* SNP_GUEST_VMM_ERR_INVALID_LEN */
#define VMM_ERR_BUSY 2         /* SNP_GUEST_VMM_ERR_BUSY */
#define RESP_HEADER 32         /* MSG_REPORT_RSP: status, report_size, 24 reserved */

_Static_assert(sizeof(((struct snp_report_resp *)0)->data) >= RESP_HEADER + DCR_SNP_REPORT_LEN,
               "snp_report_resp holds a report");

/* SNP firmware status codes (SEV-SNP ABI spec, "Status Codes"; psp-sev.h). */
static const char *fw_status_name(uint32_t s)
{
    switch (s) {
    case 0x00:
        return "success";
    case 0x04:
        return "INVALID_LEN";
    case 0x08:
        return "INACTIVE";
    case 0x09:
        return "INVALID_ADDRESS";
    case 0x10:
        return "INVALID_GUEST";
    case 0x11:
        return "INVALID_COMMAND";
    case 0x15:
        return "UNSUPPORTED";
    case 0x16:
        return "INVALID_PARAM";
    case 0x17:
        return "RESOURCE_LIMIT";
    case 0x27:
        return "INVALID_KEY";
    }
    return "unknown";
}

dcr_status dcr_sevguest_parse_report_resp(const uint8_t *resp, size_t len, const uint8_t rd[64],
                                          dcr_buf *report, dcr_error *err)
{
    if (len < RESP_HEADER)
        return dcr_fail(err, DCR_EINPUT, "sev-guest: response of %zu bytes has no header", len);
    uint32_t status = dcr_get_u32le(resp), size = dcr_get_u32le(resp + 4);
    if (status != 0)
        return dcr_fail(err, DCR_EINPUT, "sev-guest: firmware refused the report: status 0x%x (%s)",
                        status, fw_status_name(status));
    if (size != DCR_SNP_REPORT_LEN)
        return dcr_fail(err, DCR_EINPUT, "sev-guest: report size %u is not %d", size,
                        DCR_SNP_REPORT_LEN);
    if (size > len - RESP_HEADER)
        return dcr_fail(err, DCR_EINPUT, "sev-guest: report size %u overruns the %zu-byte response",
                        size, len);
    if (rd) {
        dcr_status st =
            dcr_hw_check_binding(DCR_EV_SNP, resp + RESP_HEADER, size, rd, "/dev/sev-guest", err);
        if (st != DCR_OK)
            return st;
    }
    return dcr_buf_append(report, resp + RESP_HEADER, size, err);
}

static int real_ioctl(int fd, unsigned long req, void *arg)
{
    return ioctl(fd, req, arg);
}

typedef struct {
    int fd;
    int (*call)(int fd, unsigned long req, void *arg);
    const char *dev;
    struct snp_report_resp resp;
    uint8_t *certs;
    uint32_t certs_len;
} session;

/* Names what exitinfo2 says (firmware error, VMM error) after a failure. */
static dcr_status request_failed(const session *s, const char *what,
                                 const struct snp_guest_request_ioctl *io, int e, dcr_error *err)
{
    if (io->fw_error)
        return dcr_fail(err, DCR_EINPUT, "sev-guest: %s: firmware error 0x%x (%s)", what,
                        io->fw_error, fw_status_name(io->fw_error));
    if (io->vmm_error)
        return dcr_fail(err, DCR_EINPUT, "sev-guest: %s: host (VMM) error %u%s", what,
                        io->vmm_error,
                        io->vmm_error == VMM_ERR_BUSY          ? " (busy)"
                        : io->vmm_error == VMM_ERR_INVALID_LEN ? " (invalid length)"
                                                               : "");
    return dcr_fail(err, DCR_EINPUT, "sev-guest: %s on %s: %s", what, s->dev, strerror(e));
}

static dcr_status certs_alloc(session *s, uint32_t len, dcr_error *err)
{
    free(s->certs);
    s->certs = aligned_alloc(PAGE, len);
    s->certs_len = s->certs ? len : 0;
    if (!s->certs)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    memset(s->certs, 0, len);
    return DCR_OK;
}

/* The host's answer to "your buffer is too small": a page multiple, larger
 * than what we gave, within our bound. Anything else is refused. */
static dcr_status certs_grow(session *s, uint32_t need, dcr_error *err)
{
    if (need <= s->certs_len || need % PAGE || need > CERTS_MAX)
        return dcr_fail(err, DCR_EINPUT,
                        "sev-guest: host asked for a %u-byte certificate buffer (had %u, "
                        "allow page multiples up to %u)",
                        need, s->certs_len, CERTS_MAX);
    return certs_alloc(s, need, err);
}

/* SNP_GET_EXT_REPORT with buffer negotiation. *unsupported is set (and OK
 * returned) when the kernel or host lacks the extended request. */
static dcr_status ext_report(session *s, const struct snp_report_req *base, bool *unsupported,
                             dcr_error *err)
{
    dcr_status st = certs_alloc(s, CERTS_FIRST, err);
    for (int round = 0; st == DCR_OK && round < 3; round++) {
        struct snp_ext_report_req req = {.data = *base};
        req.certs_address = (uint64_t)(uintptr_t)s->certs;
        req.certs_len = s->certs_len;
        struct snp_guest_request_ioctl io = {.msg_version = 1,
                                             .req_data = (uint64_t)(uintptr_t)&req,
                                             .resp_data = (uint64_t)(uintptr_t)&s->resp};
        memset(&s->resp, 0, sizeof s->resp);
        if (s->call(s->fd, SNP_GET_EXT_REPORT, &io) == 0)
            return DCR_OK;
        int e = errno;
        if (io.vmm_error == VMM_ERR_INVALID_LEN) {
            st = certs_grow(s, req.certs_len, err);
            continue;
        }
        if (io.exitinfo2 == 0 && (e == ENOTTY || e == EINVAL || e == EOPNOTSUPP)) {
            *unsupported = true;
            return DCR_OK;
        }
        return request_failed(s, "SNP_GET_EXT_REPORT", &io, e, err);
    }
    return st != DCR_OK ? st
                        : dcr_fail(err, DCR_EINPUT,
                                   "sev-guest: host kept asking for a larger certificate buffer");
}

static dcr_status plain_report(session *s, const struct snp_report_req *base, dcr_error *err)
{
    struct snp_report_req req = *base;
    struct snp_guest_request_ioctl io = {.msg_version = 1,
                                         .req_data = (uint64_t)(uintptr_t)&req,
                                         .resp_data = (uint64_t)(uintptr_t)&s->resp};
    memset(&s->resp, 0, sizeof s->resp);
    if (s->call(s->fd, SNP_GET_REPORT, &io) != 0)
        return request_failed(s, "SNP_GET_REPORT", &io, errno, err);
    return DCR_OK;
}

static dcr_status make_request(const dcr_sevguest_opts *o, const uint8_t rd[64],
                               struct snp_report_req *req, dcr_error *err)
{
    memset(req, 0, sizeof *req);
    memcpy(req->user_data, rd, 64);
    const char *pl = o->privlevel;
    if (pl && !(pl[0] >= '0' && pl[0] <= '3' && pl[1] == 0))
        return dcr_fail(err, DCR_EINPUT, "sev-guest: privlevel (VMPL) must be 0-3");
    req->vmpl = pl ? (uint32_t)(pl[0] - '0') : 0;
    return DCR_OK;
}

static dcr_status collect(session *s, const struct snp_report_req *req, const uint8_t rd[64],
                          dcr_evidence *ev, dcr_error *err)
{
    bool unsupported = false;
    dcr_buf report = DCR_BUF_INIT, certs = DCR_BUF_INIT;
    dcr_status st = ext_report(s, req, &unsupported, err);
    if (st == DCR_OK && unsupported) {
        free(s->certs);
        s->certs = NULL;
        s->certs_len = 0;
        st = plain_report(s, req, err);
    }
    if (st == DCR_OK)
        st = dcr_sevguest_parse_report_resp(s->resp.data, sizeof s->resp.data, rd, &report, err);
    if (st == DCR_OK && s->certs_len &&
        (st = dcr_snp_cert_table_to_pem(s->certs, s->certs_len, &certs, NULL, err)))
        dcr_error_prefix(err, "sev-guest certificate buffer");
    if (st != DCR_OK) {
        dcr_buf_free(&report);
        dcr_buf_free(&certs);
        return st;
    }
    ev->type = DCR_EV_SNP;
    ev->report = report;
    ev->certs = certs;
    return DCR_OK;
}

dcr_status dcr_sevguest_get_evidence(const dcr_sevguest_opts *o, const uint8_t rd[64],
                                     dcr_evidence *ev, dcr_error *err)
{
    struct snp_report_req req;
    dcr_status st = make_request(o, rd, &req, err);
    if (st != DCR_OK)
        return st;
    session *s = calloc(1, sizeof *s);
    if (!s)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    s->dev = o->dev ? o->dev : SEV_GUEST_DEV;
    s->call = o->ioctl_fn ? o->ioctl_fn : real_ioctl;
    s->fd = open(s->dev, O_RDWR | O_CLOEXEC);
    if (s->fd < 0) {
        int e = errno;
        st = dcr_fail(err, DCR_EINPUT, "sev-guest: cannot open %s: %s%s", s->dev, strerror(e),
                      e == ENOENT ? " (not an SEV-SNP guest, or the sev-guest module is not "
                                    "loaded)"
                                  : "");
    } else {
        st = collect(s, &req, rd, ev, err);
        close(s->fd);
    }
    free(s->certs);
    free(s);
    return st;
}

/*
 * tee_configfs.c: SEV-SNP reports and TDX quotes through configfs-tsm, the
 * kernel's vendor-neutral attestation interface (Linux 6.7+,
 * Documentation/ABI/testing/configfs-tsm-report).
 *
 * One report: mkdir a fresh, uniquely named entry under the report root;
 * read `provider` (sev_guest or tdx_guest: it names the outblob format);
 * read `generation`; write `privlevel` if asked and then the 64 bytes to
 * `inblob`; read `outblob` (the SNP report or TDX quote) and, for SNP,
 * `auxblob` (AMD's certificate table); read `generation` again. Every write
 * to inblob or an option bumps generation, so it must have moved by exactly
 * our writes: anything else means another writer raced us between our
 * write and our read, and outblob may answer their question, not ours. We
 * then retry once in a fresh entry. The entry is removed on every path.
 *
 * tee_hw.c chooses between this and /dev/sev-guest; the result goes into
 * the dcr evidence container as type snp (report + PEM certificates) or tdx
 * (quote), which dcr_attest_verify checks.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attest/attest_internal.h"

#define CONFIGFS_TSM "/sys/kernel/config/tsm/report"
#define OUTBLOB_MAX (64u * 1024) /* the kernel caps outblob at 32 KiB */
#define AUXBLOB_MAX (64u * 1024) /* and the SNP certificate blob at 16 KiB */
#define TEXT_MAX 64

typedef struct {
    const dcr_tsm_opts *o;
    char dir[4096];
} entry;

static void hook(const entry *e, dcr_tsm_event ev, const char *attr)
{
    if (e->o->fake_kernel)
        e->o->fake_kernel(ev, e->dir, attr, e->o->fake_ctx);
}

static const char *root_of(const dcr_tsm_opts *o)
{
    return o->root ? o->root : CONFIGFS_TSM;
}

/* mkdir a fresh entry: pid plus 64 random bits, so concurrent dcr
 * processes (and anyone else) never share one. */
static dcr_status entry_make(entry *e, dcr_error *err)
{
    for (int tries = 0; tries < 8; tries++) {
        uint64_t r;
        if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
            return dcr_fail(err, DCR_EINTERNAL, "configfs-tsm: getrandom: %s", strerror(errno));
        int n = snprintf(e->dir, sizeof e->dir, "%s/dcr-%ld-%016" PRIx64, root_of(e->o),
                         (long)getpid(), r);
        if (n < 0 || (size_t)n >= sizeof e->dir)
            return dcr_fail(err, DCR_EINPUT, "configfs-tsm: report root path is too long");
        if (mkdir(e->dir, 0700) == 0) {
            hook(e, DCR_TSM_CREATED, NULL);
            return DCR_OK;
        }
        if (errno == EEXIST)
            continue;
        int saved = errno;
        return dcr_fail(err, DCR_EINPUT, "configfs-tsm: cannot create a report in %s: %s%s",
                        root_of(e->o), strerror(saved),
                        saved == ENXIO ? " (no TSM provider is registered)" : "");
    }
    return dcr_fail(err, DCR_EINPUT, "configfs-tsm: cannot find a free report name in %s",
                    root_of(e->o));
}

static dcr_status entry_remove(entry *e, dcr_error *err)
{
    hook(e, DCR_TSM_REMOVING, NULL);
    if (rmdir(e->dir) != 0)
        return dcr_fail(err, DCR_EINPUT, "configfs-tsm: cannot remove %s: %s", e->dir,
                        strerror(errno));
    return DCR_OK;
}

static dcr_status attr_path(const entry *e, const char *attr, char *path, size_t len,
                            dcr_error *err)
{
    int n = snprintf(path, len, "%s/%s", e->dir, attr);
    if (n < 0 || (size_t)n >= len)
        return dcr_fail(err, DCR_EINPUT, "configfs-tsm: path of %s is too long", attr);
    return DCR_OK;
}

/* Reads a whole attribute (at most max bytes). *missing, when not NULL, is
 * set instead of failing when the attribute does not exist. */
static dcr_status read_attr(const entry *e, const char *attr, size_t max, dcr_buf *out,
                            bool *missing, dcr_error *err)
{
    char path[4200];
    dcr_status st = attr_path(e, attr, path, sizeof path, err);
    if (st != DCR_OK)
        return st;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && missing && errno == ENOENT) {
        *missing = true;
        return DCR_OK;
    }
    if (fd < 0)
        return dcr_fail(err, DCR_EINPUT, "configfs-tsm: cannot open %s: %s", path, strerror(errno));
    uint8_t chunk[4096];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            st = dcr_fail(err, DCR_EINPUT, "configfs-tsm: reading %s: %s", path, strerror(errno));
            break;
        }
        if (n == 0)
            break;
        if ((size_t)n > max - out->len) {
            st = dcr_fail(err, DCR_EINPUT, "configfs-tsm: %s is larger than %zu bytes", path, max);
            break;
        }
        if ((st = dcr_buf_append(out, chunk, (size_t)n, err)) != DCR_OK)
            break;
    }
    close(fd);
    return st;
}

/* A short text attribute without its trailing newline, as a C string. */
static dcr_status read_text(const entry *e, const char *attr, char *out, size_t out_len,
                            dcr_error *err)
{
    dcr_buf b = DCR_BUF_INIT;
    dcr_status st = read_attr(e, attr, TEXT_MAX, &b, NULL, err);
    size_t n = b.len;
    if (st == DCR_OK && n && b.data[n - 1] == '\n')
        n--;
    if (st == DCR_OK && (n == 0 || n >= out_len || memchr(b.data, 0, n))) {
        char q[96];
        dcr_error_quote(q, sizeof q, (const char *)b.data, n);
        st = dcr_fail(err, DCR_EINPUT, "configfs-tsm: %s is malformed (\"%s\")", attr, q);
    }
    if (st == DCR_OK) {
        memcpy(out, b.data, n);
        out[n] = 0;
    }
    dcr_buf_free(&b);
    return st;
}

static dcr_status read_generation(const entry *e, uint64_t *gen, dcr_error *err)
{
    char text[TEXT_MAX];
    dcr_status st = read_text(e, "generation", text, sizeof text, err);
    if (st != DCR_OK)
        return st;
    uint64_t v = 0;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10)
            return dcr_fail(err, DCR_EINPUT, "configfs-tsm: generation \"%.20s\" is not a number",
                            text);
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *gen = v;
    return DCR_OK;
}

static dcr_status write_attr(const entry *e, const char *attr, const void *data, size_t len,
                             dcr_error *err)
{
    char path[4200];
    dcr_status st = attr_path(e, attr, path, sizeof path, err);
    if (st != DCR_OK)
        return st;
    int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return dcr_fail(err, DCR_EINPUT, "configfs-tsm: cannot open %s: %s", path, strerror(errno));
    /* One write: configfs binary attributes take the buffer at close. */
    ssize_t n;
    do
        n = write(fd, data, len);
    while (n < 0 && errno == EINTR);
    int saved = errno;
    if (close(fd) != 0 && n == (ssize_t)len) {
        n = -1;
        saved = errno;
    }
    if (n != (ssize_t)len)
        return dcr_fail(err, DCR_EINPUT, "configfs-tsm: writing %s: %s", path,
                        n < 0 ? strerror(saved) : "short write");
    hook(e, DCR_TSM_WROTE, attr);
    return DCR_OK;
}

static const char *provider_for(dcr_attest_type want)
{
    return want == DCR_EV_SNP ? "sev_guest" : "tdx_guest";
}

static dcr_status check_provider(const entry *e, dcr_attest_type want, dcr_error *err)
{
    char provider[TEXT_MAX];
    dcr_status st = read_text(e, "provider", provider, sizeof provider, err);
    if (st != DCR_OK)
        return st;
    if (strcmp(provider, provider_for(want)) != 0) {
        char q[96];
        dcr_error_quote(q, sizeof q, provider, strlen(provider));
        return dcr_fail(err, DCR_EINPUT,
                        "configfs-tsm: provider is \"%s\", not %s: this is not a%s guest", q,
                        provider_for(want), want == DCR_EV_SNP ? "n SEV-SNP" : " TDX");
    }
    return DCR_OK;
}

/* privlevel: a decimal VMPL 0..3 (the kernel's TSM_REPORT_PRIVLEVEL_MAX). */
static dcr_status write_privlevel(const entry *e, const char *pl, dcr_error *err)
{
    if (!(pl[0] >= '0' && pl[0] <= '3' && pl[1] == 0))
        return dcr_fail(err, DCR_EINPUT, "configfs-tsm: privlevel must be 0-3");
    return write_attr(e, "privlevel", pl, 1, err);
}

typedef struct {
    dcr_buf out, aux;
    bool raced;
} result;

/* Everything between mkdir and rmdir. */
static dcr_status run_entry(const entry *e, dcr_attest_type want, const uint8_t rd[64], result *r,
                            dcr_error *err)
{
    uint64_t gen0, gen1, writes = 0;
    bool no_aux = false;
    dcr_status st;
    if ((st = check_provider(e, want, err)) || (st = read_generation(e, &gen0, err)))
        return st;
    if (want == DCR_EV_SNP && e->o->privlevel) {
        if ((st = write_privlevel(e, e->o->privlevel, err)))
            return st;
        writes++;
    }
    if ((st = write_attr(e, "inblob", rd, 64, err)))
        return st;
    writes++;
    if ((st = read_attr(e, "outblob", OUTBLOB_MAX, &r->out, NULL, err)))
        return st;
    if (want == DCR_EV_SNP && (st = read_attr(e, "auxblob", AUXBLOB_MAX, &r->aux, &no_aux, err)))
        return st;
    if ((st = read_generation(e, &gen1, err)))
        return st;
    if (gen1 != gen0 + writes) {
        r->raced = true;
        return dcr_fail(err, DCR_EINPUT,
                        "configfs-tsm: generation went from %" PRIu64 " to %" PRIu64
                        " across our %" PRIu64 " write(s): another writer raced us",
                        gen0, gen1, writes);
    }
    return DCR_OK;
}

/* One attempt in a fresh entry; the entry is removed whatever happens. */
static dcr_status attempt(const dcr_tsm_opts *o, dcr_attest_type want, const uint8_t rd[64],
                          result *r, dcr_error *err)
{
    entry e = {.o = o};
    dcr_status st = entry_make(&e, err);
    if (st != DCR_OK)
        return st;
    st = run_entry(&e, want, rd, r, err);
    dcr_error rm_err = {0};
    dcr_status rm = entry_remove(&e, &rm_err);
    if (st == DCR_OK && rm != DCR_OK) {
        *err = rm_err;
        st = rm;
    }
    return st;
}

static void result_free(result *r)
{
    dcr_buf_free(&r->out);
    dcr_buf_free(&r->aux);
    r->raced = false;
}

/* Moves a checked result into ev (which the caller passes empty). */
static dcr_status package(result *r, dcr_attest_type want, const uint8_t rd[64], dcr_evidence *ev,
                          dcr_error *err)
{
    dcr_buf certs = DCR_BUF_INIT;
    dcr_status st = dcr_hw_check_binding(want, r->out.data, r->out.len, rd, "configfs-tsm", err);
    if (st != DCR_OK)
        return st;
    if (want == DCR_EV_SNP &&
        (st = dcr_snp_cert_table_to_pem(r->aux.data, r->aux.len, &certs, NULL, err))) {
        dcr_buf_free(&certs);
        return dcr_error_prefix(err, "configfs-tsm auxblob");
    }
    ev->type = want;
    ev->report = r->out;
    ev->certs = certs;
    r->out = (dcr_buf)DCR_BUF_INIT;
    return DCR_OK;
}

dcr_status dcr_tsm_get_evidence(const dcr_tsm_opts *o, dcr_attest_type want, const uint8_t rd[64],
                                dcr_evidence *ev, dcr_error *err)
{
    if (want != DCR_EV_SNP && want != DCR_EV_TDX)
        return dcr_fail(err, DCR_EINTERNAL, "configfs-tsm: cannot produce %s evidence",
                        dcr_attest_type_name(want));
    result r = {DCR_BUF_INIT, DCR_BUF_INIT, false};
    dcr_status st = attempt(o, want, rd, &r, err);
    if (st != DCR_OK && r.raced) {
        result_free(&r);
        st = attempt(o, want, rd, &r, err);
        if (st != DCR_OK && r.raced && err) {
            char first[DCR_ERROR_MSG_MAX];
            snprintf(first, sizeof first, "%s", err->msg);
            st = dcr_fail(err, st, "%s (raced twice; gave up after one retry)", first);
        }
    }
    if (st == DCR_OK)
        st = package(&r, want, rd, ev, err);
    result_free(&r);
    return st;
}

dcr_status dcr_tsm_provider(const dcr_tsm_opts *o, char *out, size_t out_len, dcr_error *err)
{
    entry e = {.o = o};
    dcr_status st = entry_make(&e, err);
    if (st != DCR_OK)
        return st;
    st = read_text(&e, "provider", out, out_len, err);
    dcr_error rm_err = {0};
    dcr_status rm = entry_remove(&e, &rm_err);
    if (st == DCR_OK && rm != DCR_OK) {
        *err = rm_err;
        st = rm;
    }
    return st;
}

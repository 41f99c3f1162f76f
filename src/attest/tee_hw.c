/*
 * tee_hw.c: the hardware producers (SEV-SNP, TDX) as backends, and what
 * their two kernel interfaces share.
 *
 * sev-snp prefers configfs-tsm (tee_configfs.c), the upstream interface
 * since Linux 6.7, when its provider is sev_guest, and otherwise falls back
 * to the /dev/sev-guest ioctls (tee_sevguest.c). tdx uses configfs-tsm
 * only. probe() says which interface it found and why it would (not) use
 * it, so `--tee auto` can explain itself.
 *
 * Shared here: the strict parser of AMD's certificate table (the extended
 * report's certificate blob, configfs auxblob) and the check that what the
 * kernel handed back is the kind of evidence we asked for and carries our
 * 64 bytes. Nothing is trusted because of these checks (the verifier does
 * that); they turn a confused or hostile host into a clear error at the
 * producer instead of a puzzling one at the relying party.
 */
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "attest/attest_internal.h"
#include "attest/tee.h"
#include "base/bytes.h"

#define CONFIGFS_TSM "/sys/kernel/config/tsm/report"
#define SEV_GUEST_DEV "/dev/sev-guest"

/* ---- AMD certificate table ---- */

enum { ENTRY_LEN = 24, MAX_ENTRIES = 64 };

typedef struct {
    const char *name;
    uint8_t guid[16]; /* RFC 4122 byte order, as the GHCB spec prints it */
} known_guid;

/* GHCB spec, "SNP Extended Guest Request", certificate table GUIDs. */
static const known_guid known[] = {
    {"VCEK",
     {0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64, 0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac,
      0xcd}},
    {"VLEK",
     {0xa8, 0x07, 0x4b, 0xc2, 0xa2, 0x5a, 0x48, 0x3e, 0xaa, 0xe6, 0x39, 0xc0, 0x45, 0xa0, 0xb8,
      0xa1}},
    {"ASK",
     {0x4a, 0xb7, 0xb3, 0x79, 0xbb, 0xac, 0x4f, 0xe4, 0xa0, 0x2f, 0x05, 0xae, 0xf3, 0x27, 0xc7,
      0x82}},
    {"ARK",
     {0xc0, 0xb4, 0x06, 0xa4, 0xa8, 0x03, 0x49, 0x52, 0x97, 0x43, 0x3f, 0xb6, 0x01, 0x4c, 0xd0,
      0xae}},
};
#define N_KNOWN (sizeof known / sizeof known[0])

/* The same GUID in the mixed-endian (EFI) layout: the first three fields
 * byte-swapped. AMD's tools and virtee's write RFC 4122 order; we also
 * accept the EFI order some host tooling uses, since the GUID only picks
 * the certificate's role and the verifier checks the chain regardless. */
static void guid_efi(const uint8_t in[16], uint8_t out[16])
{
    static const uint8_t perm[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
    for (int i = 0; i < 16; i++)
        out[i] = in[perm[i]];
}

/* Index into known[], or -1 for a GUID we do not use. */
static int guid_kind(const uint8_t *g)
{
    for (size_t k = 0; k < N_KNOWN; k++) {
        uint8_t efi[16];
        guid_efi(known[k].guid, efi);
        if (memcmp(g, known[k].guid, 16) == 0 || memcmp(g, efi, 16) == 0)
            return (int)k;
    }
    return -1;
}

/* Counts the entries before the terminator, checking it exists. */
static dcr_status count_entries(const uint8_t *t, size_t len, size_t *n, dcr_error *err)
{
    static const uint8_t zero[ENTRY_LEN];
    for (size_t i = 0;; i++) {
        if (i > MAX_ENTRIES)
            return dcr_fail(err, DCR_EINPUT, "sev-snp: certificate table has more than %d entries",
                            MAX_ENTRIES);
        if (len / ENTRY_LEN <= i)
            return dcr_fail(err, DCR_EINPUT,
                            "sev-snp: certificate table is truncated (no all-zero terminator "
                            "within %zu bytes)",
                            len);
        if (memcmp(t + i * ENTRY_LEN, zero, ENTRY_LEN) == 0) {
            *n = i;
            return DCR_OK;
        }
    }
}

/* Entry i's data must lie after the table, inside the blob, and overlap no
 * other entry's data: overlapping entries mean the host is playing games. */
static dcr_status check_entry(const uint8_t *t, size_t len, size_t n, size_t i, dcr_error *err)
{
    static const uint8_t zero_guid[16];
    const uint8_t *e = t + i * ENTRY_LEN;
    uint64_t off = dcr_get_u32le(e + 16), l = dcr_get_u32le(e + 20);
    size_t table_end = (n + 1) * ENTRY_LEN;
    if (memcmp(e, zero_guid, 16) == 0)
        return dcr_fail(err, DCR_EINPUT, "sev-snp: certificate table entry %zu has a null GUID", i);
    if (l == 0)
        return dcr_fail(err, DCR_EINPUT, "sev-snp: certificate table entry %zu is empty", i);
    if (off < table_end)
        return dcr_fail(err, DCR_EINPUT,
                        "sev-snp: certificate table entry %zu (offset %llu) overlaps the table "
                        "(%zu bytes)",
                        i, (unsigned long long)off, table_end);
    if (off > len || l > len - off)
        return dcr_fail(err, DCR_EINPUT,
                        "sev-snp: certificate table entry %zu (offset %llu, length %llu) is out "
                        "of range (%zu bytes)",
                        i, (unsigned long long)off, (unsigned long long)l, len);
    for (size_t j = 0; j < i; j++) {
        const uint8_t *f = t + j * ENTRY_LEN;
        uint64_t o2 = dcr_get_u32le(f + 16), l2 = dcr_get_u32le(f + 20);
        if (off < o2 + l2 && o2 < off + l)
            return dcr_fail(err, DCR_EINPUT,
                            "sev-snp: certificate table entries %zu and %zu overlap", j, i);
    }
    return DCR_OK;
}

/* One DER certificate filling the entry (trailing zero padding allowed, as
 * hosts round entries up), appended as PEM. */
static dcr_status append_cert(const uint8_t *d, size_t l, const char *name, dcr_buf *pem,
                              dcr_error *err)
{
    const unsigned char *p = d;
    X509 *x = d2i_X509(NULL, &p, (long)l);
    if (!x)
        return dcr_fail(err, DCR_EINPUT,
                        "sev-snp: certificate table %s entry is not a DER certificate", name);
    for (size_t i = (size_t)(p - d); i < l; i++)
        if (d[i]) {
            X509_free(x);
            return dcr_fail(err, DCR_EINPUT,
                            "sev-snp: certificate table %s entry has bytes after the certificate",
                            name);
        }
    BIO *bio = BIO_new(BIO_s_mem());
    char *text = NULL;
    long n = 0;
    dcr_status st = DCR_OK;
    if (!bio || !PEM_write_bio_X509(bio, x) || (n = BIO_get_mem_data(bio, &text)) <= 0)
        st = dcr_fail(err, DCR_EINTERNAL, "sev-snp: cannot encode the %s certificate", name);
    else
        st = dcr_buf_append(pem, text, (size_t)n, err);
    BIO_free(bio);
    X509_free(x);
    return st;
}

dcr_status dcr_snp_cert_table_to_pem(const uint8_t *t, size_t len, dcr_buf *pem, size_t *found,
                                     dcr_error *err)
{
    size_t n = 0, got = 0;
    bool seen[N_KNOWN] = {0};
    if (found)
        *found = 0;
    if (len == 0)
        return DCR_OK; /* the host supplied no certificates */
    if (len > DCR_EVIDENCE_MAX)
        return dcr_fail(err, DCR_EINPUT, "sev-snp: certificate table of %zu bytes is too large",
                        len);
    dcr_status st = count_entries(t, len, &n, err);
    for (size_t i = 0; st == DCR_OK && i < n; i++)
        st = check_entry(t, len, n, i, err);
    for (size_t i = 0; st == DCR_OK && i < n; i++) {
        const uint8_t *e = t + i * ENTRY_LEN;
        int k = guid_kind(e);
        if (k < 0)
            continue; /* bounds already checked; not a certificate we use */
        if (seen[k])
            return dcr_fail(err, DCR_EINPUT, "sev-snp: certificate table has two %s entries",
                            known[k].name);
        seen[k] = true;
        st = append_cert(t + dcr_get_u32le(e + 16), dcr_get_u32le(e + 20), known[k].name, pem, err);
        got += st == DCR_OK;
    }
    if (st == DCR_OK && found)
        *found = got;
    return st;
}

/* ---- what the kernel returned ---- */

enum {
    SNP_REPORT_DATA = 0x50,
    TDX_HEADER = 48,
    TDX_V5_DESC = 6, /* v5: body type u16, body size u32 */
    TDX_BODY_REPORT_DATA = 520,
    TDX_BODY10 = 584,
};

static dcr_status snp_binding(const uint8_t *d, size_t len, const uint8_t rd[64], const char *what,
                              dcr_error *err)
{
    if (len != DCR_SNP_REPORT_LEN)
        return dcr_fail(err, DCR_EINPUT, "sev-snp: %s returned %zu bytes, not a %d-byte report",
                        what, len, DCR_SNP_REPORT_LEN);
    if (memcmp(d + SNP_REPORT_DATA, rd, 64) != 0)
        return dcr_fail(err, DCR_EINPUT,
                        "sev-snp: the report from %s does not carry our report data", what);
    return DCR_OK;
}

static dcr_status tdx_binding(const uint8_t *d, size_t len, const uint8_t rd[64], const char *what,
                              dcr_error *err)
{
    if (len < TDX_HEADER + TDX_V5_DESC)
        return dcr_fail(err, DCR_EINPUT, "tdx: %s returned %zu bytes, too short for a quote", what,
                        len);
    unsigned version = dcr_get_u16le(d);
    if ((version != 4 && version != 5) || dcr_get_u16le(d + 2) != 2 || dcr_get_u32le(d + 4) != 0x81)
        return dcr_fail(err, DCR_EINPUT,
                        "tdx: %s returned something that is not a TDX ECDSA quote v4/v5 "
                        "(version %u)",
                        what, version);
    size_t body = TDX_HEADER + (version == 5 ? TDX_V5_DESC : 0);
    if (len < body + TDX_BODY10)
        return dcr_fail(err, DCR_EINPUT, "tdx: the quote from %s is truncated (%zu bytes)", what,
                        len);
    if (memcmp(d + body + TDX_BODY_REPORT_DATA, rd, 64) != 0)
        return dcr_fail(err, DCR_EINPUT, "tdx: the quote from %s does not carry our report data",
                        what);
    return DCR_OK;
}

dcr_status dcr_hw_check_binding(dcr_attest_type t, const uint8_t *d, size_t len,
                                const uint8_t rd[64], const char *what, dcr_error *err)
{
    if (t == DCR_EV_SNP)
        return snp_binding(d, len, rd, what, err);
    if (t == DCR_EV_TDX)
        return tdx_binding(d, len, rd, what, err);
    return dcr_fail(err, DCR_EINTERNAL, "no binding check for %s", dcr_attest_type_name(t));
}

/* ---- the backends ---- */

static const char *configfs_dir(const dcr_tee_options *opt)
{
    return opt && opt->configfs_dir ? opt->configfs_dir : CONFIGFS_TSM;
}

static const char *sev_dev(const dcr_tee_options *opt)
{
    return opt && opt->sev_guest ? opt->sev_guest : SEV_GUEST_DEV;
}

static dcr_tsm_opts tsm_opts(const dcr_tee_options *opt)
{
    return (dcr_tsm_opts){.root = configfs_dir(opt), .privlevel = opt ? opt->privlevel : NULL};
}

/* Whether configfs-tsm is here with provider want; why says what we saw. */
static bool tsm_has(const dcr_tee_options *opt, const char *want, char *why, size_t why_len)
{
    const char *root = configfs_dir(opt);
    if (access(root, F_OK) != 0) {
        snprintf(why, why_len, "configfs-tsm %s absent", root);
        return false;
    }
    char provider[64];
    dcr_error err = {0};
    dcr_tsm_opts o = tsm_opts(opt);
    if (dcr_tsm_provider(&o, provider, sizeof provider, &err) != DCR_OK) {
        /* cut to fit: the explanation is one line of `auto` output */
        if (snprintf(why, why_len, "configfs-tsm %s unusable (%s)", root, err.msg) < 0)
            why[0] = 0;
        return false;
    }
    bool ok = strcmp(provider, want) == 0;
    snprintf(why, why_len, "configfs-tsm %s has provider %s%s", root, provider,
             ok ? "" : " (not ours)");
    return ok;
}

/* Which SNP interface to use: 't' configfs-tsm, 'd' /dev/sev-guest, 0 none. */
static char snp_pick(const dcr_tee_options *opt, char *why, size_t why_len)
{
    char tsm[320];
    const char *dev = sev_dev(opt);
    bool have_tsm = tsm_has(opt, "sev_guest", tsm, sizeof tsm);
    bool have_dev = access(dev, R_OK | W_OK) == 0;
    if (have_tsm) {
        snprintf(why, why_len, "using configfs-tsm: %s", tsm);
        return 't';
    }
    if (have_dev) {
        snprintf(why, why_len, "using %s (%s)", dev, tsm);
        return 'd';
    }
    snprintf(why, why_len, "%s; %s %s", tsm, dev,
             access(dev, F_OK) == 0 ? "present but not readable and writable" : "absent");
    return 0;
}

static bool snp_probe(const dcr_tee_options *opt, char *why, size_t why_len)
{
    return snp_pick(opt, why, why_len) != 0;
}

static dcr_status snp_get_evidence(const dcr_tee_options *opt, const uint8_t report_data[64],
                                   dcr_evidence *ev, dcr_error *err)
{
    char why[512];
    char how = snp_pick(opt, why, sizeof why);
    if (how == 't') {
        dcr_tsm_opts o = tsm_opts(opt);
        return dcr_tsm_get_evidence(&o, DCR_EV_SNP, report_data, ev, err);
    }
    if (how == 'd') {
        dcr_sevguest_opts o = {.dev = sev_dev(opt), .privlevel = opt ? opt->privlevel : NULL};
        return dcr_sevguest_get_evidence(&o, report_data, ev, err);
    }
    return dcr_fail(err, DCR_EINPUT, "sev-snp: not an SEV-SNP guest here: %s", why);
}

static bool tdx_probe(const dcr_tee_options *opt, char *why, size_t why_len)
{
    char tsm[320];
    if (tsm_has(opt, "tdx_guest", tsm, sizeof tsm)) {
        snprintf(why, why_len, "using %s", tsm);
        return true;
    }
    bool dev = access("/dev/tdx_guest", F_OK) == 0;
    snprintf(why, why_len, "%s; /dev/tdx_guest %s", tsm,
             dev ? "present, but dcr gets TDX quotes only through configfs-tsm (Linux 6.7+)"
                 : "absent");
    return false;
}

static dcr_status tdx_get_evidence(const dcr_tee_options *opt, const uint8_t report_data[64],
                                   dcr_evidence *ev, dcr_error *err)
{
    char why[512];
    if (!tdx_probe(opt, why, sizeof why))
        return dcr_fail(err, DCR_EINPUT, "tdx: not a TDX guest here: %s", why);
    dcr_tsm_opts o = tsm_opts(opt);
    return dcr_tsm_get_evidence(&o, DCR_EV_TDX, report_data, ev, err);
}

const dcr_tee_backend dcr_tee_snp = {"sev-snp", snp_probe, snp_get_evidence};
const dcr_tee_backend dcr_tee_tdx = {"tdx", tdx_probe, tdx_get_evidence};

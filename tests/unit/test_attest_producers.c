/*
 * test_attest_producers.c: the SEV-SNP and TDX producers (configfs-tsm and
 * /dev/sev-guest) without TEE hardware, fed GENUINE evidence
 * (tests/data/attestation) and checked with the real verifier.
 *
 * configfs-tsm: a temp directory stands in for the report root. A plain
 * directory cannot act like configfs (mkdir makes no attributes, writing
 * inblob makes no outblob), so the producer's one test seam,
 * dcr_tsm_opts.fake_kernel, lets this file play the kernel: create the
 * attributes after mkdir, answer an inblob write with a genuine report or
 * quote (and an auxblob built here from the genuine VCEK/VLEK and ASK/ARK
 * DER certificates), bump generation, remove the files before rmdir.
 * Everything else (mkdir, reads, writes, the generation check, rmdir) is
 * the production code on a real file system.
 *
 * /dev/sev-guest: the response parser on a genuine report, the missing
 * device, and the certificate-buffer negotiation through the ioctl seam
 * (dcr_sevguest_opts.ioctl_fn) playing a host that wants a bigger buffer.
 * None of this touches hardware; docs/attestation.md says so.
 */
#include <dirent.h>
#include <errno.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/sev-guest.h>

#include "attest/attest_internal.h"
#include "attest/tee.h"
#include "base/bytes.h"
#include "base/fileio.h"
#include "check.h"
#include "testdata.h"

#define DATA "tests/data/attestation/"
#define AT_2024 1717200000 /* 2024-06-01T00:00:00Z */
#define AT_2025 1748736000 /* 2025-06-01T00:00:00Z, while the VLEK was valid */

/* ---- building certificate tables from genuine certificates ---- */

static const uint8_t G_VCEK[16] = {0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64,
                                   0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd};
static const uint8_t G_VLEK[16] = {0xa8, 0x07, 0x4b, 0xc2, 0xa2, 0x5a, 0x48, 0x3e,
                                   0xaa, 0xe6, 0x39, 0xc0, 0x45, 0xa0, 0xb8, 0xa1};
static const uint8_t G_ASK[16] = {0x4a, 0xb7, 0xb3, 0x79, 0xbb, 0xac, 0x4f, 0xe4,
                                  0xa0, 0x2f, 0x05, 0xae, 0xf3, 0x27, 0xc7, 0x82};
static const uint8_t G_ARK[16] = {0xc0, 0xb4, 0x06, 0xa4, 0xa8, 0x03, 0x49, 0x52,
                                  0x97, 0x43, 0x3f, 0xb6, 0x01, 0x4c, 0xd0, 0xae};

/* The index-th certificate of a PEM file, as DER. */
static blob pem_der(const char *rel, int index)
{
    blob f = load(rel), out = {0};
    BIO *bio = BIO_new_mem_buf(f.d, (int)f.len);
    X509 *x = NULL;
    for (int i = 0; bio && i <= index; i++) {
        X509_free(x);
        x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    }
    int n = x ? i2d_X509(x, &out.d) : 0;
    out.len = n > 0 ? (size_t)n : 0;
    X509_free(x);
    BIO_free(bio);
    free(f.d);
    return out;
}

typedef struct {
    const uint8_t *guid;
    blob der;
} tbl_entry;

/* A table {entries, terminator} followed by the certificates in order. */
static blob make_table(const tbl_entry *e, size_t n)
{
    size_t len = (n + 1) * 24;
    for (size_t i = 0; i < n; i++)
        len += e[i].der.len;
    blob t = {calloc(1, len), len};
    size_t off = (n + 1) * 24;
    for (size_t i = 0; t.d && i < n; i++) {
        memcpy(t.d + i * 24, e[i].guid, 16);
        dcr_put_u32le(t.d + i * 24 + 16, (uint32_t)off);
        dcr_put_u32le(t.d + i * 24 + 20, (uint32_t)e[i].der.len);
        memcpy(t.d + off, e[i].der.d, e[i].der.len);
        off += e[i].der.len;
    }
    return t;
}

/* VCEK, ASK, ARK for attestation.bin (Milan). */
static blob vcek_table(void)
{
    tbl_entry e[3] = {{G_VCEK, load(DATA "sev-snp/vcek.testcer")},
                      {G_ASK, pem_der(DATA "sev-snp/ask_ark_milan.pem", 0)},
                      {G_ARK, pem_der(DATA "sev-snp/ask_ark_milan.pem", 1)}};
    blob t = make_table(e, 3);
    for (int i = 0; i < 3; i++)
        free(e[i].der.d);
    return t;
}

/* ---- the fake kernel ---- */

typedef struct {
    const char *provider;
    blob outblob, auxblob; /* auxblob.d NULL: no auxblob attribute (TDX) */
    int races;             /* attempts that see a foreign write */
    int created, removed, inblob_writes;
    uint8_t inblob[64];
    size_t inblob_len;
    char privlevel[8];
} fake;

static void put_file(const char *dir, const char *name, const void *d, size_t len)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f) {
        if (len)
            fwrite(d, 1, len, f);
        fclose(f);
    }
}

static size_t get_file(const char *dir, const char *name, void *d, size_t max)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(d, 1, max, f) : 0;
    if (f)
        fclose(f);
    return n;
}

static void bump_generation(const char *dir, unsigned by)
{
    char text[32] = {0};
    get_file(dir, "generation", text, sizeof text - 1);
    unsigned long g = strtoul(text, NULL, 10) + by;
    snprintf(text, sizeof text, "%lu\n", g);
    put_file(dir, "generation", text, strlen(text));
}

static void fake_kernel(dcr_tsm_event ev, const char *dir, const char *attr, void *ctx)
{
    fake *f = ctx;
    static const char *const attrs[] = {"provider", "generation", "inblob",
                                        "outblob",  "auxblob",    "privlevel"};
    if (ev == DCR_TSM_CREATED) {
        f->created++;
        char p[64];
        snprintf(p, sizeof p, "%s\n", f->provider);
        put_file(dir, "provider", p, strlen(p));
        put_file(dir, "generation", "41\n", 3);
        put_file(dir, "inblob", "", 0);
        put_file(dir, "privlevel", "", 0);
    } else if (ev == DCR_TSM_WROTE) {
        bump_generation(dir, 1);
        if (strcmp(attr, "privlevel") == 0) {
            memset(f->privlevel, 0, sizeof f->privlevel);
            get_file(dir, "privlevel", f->privlevel, sizeof f->privlevel - 1);
            return;
        }
        f->inblob_writes++;
        f->inblob_len = get_file(dir, "inblob", f->inblob, sizeof f->inblob);
        put_file(dir, "outblob", f->outblob.d, f->outblob.len);
        if (f->auxblob.d)
            put_file(dir, "auxblob", f->auxblob.d, f->auxblob.len);
        if (f->races > 0) { /* someone else writes inblob after us */
            f->races--;
            bump_generation(dir, 1);
        }
    } else {
        f->removed++;
        for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++) {
            char path[4200];
            snprintf(path, sizeof path, "%s/%s", dir, attrs[i]);
            unlink(path);
        }
    }
}

static char *make_root(void)
{
    char *t = strdup("/tmp/dcr-tsm-test-XXXXXX");
    return t && mkdtemp(t) ? t : NULL;
}

static size_t dir_entries(const char *root)
{
    size_t n = 0;
    DIR *d = opendir(root);
    for (struct dirent *e; d && (e = readdir(d));)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    if (d)
        closedir(d);
    return n;
}

static dcr_status produce(const char *root, fake *f, dcr_attest_type want, const uint8_t rd[64],
                          const char *privlevel, dcr_evidence *ev, dcr_error *err)
{
    dcr_tsm_opts o = {
        .root = root, .privlevel = privlevel, .fake_kernel = fake_kernel, .fake_ctx = f};
    memset(ev, 0, sizeof *ev);
    return dcr_tsm_get_evidence(&o, want, rd, ev, err);
}

/* Container round trip (what `dcr attest evidence` writes and `dcr attest
 * verify` reads), then the one verifier, with only the evidence's own
 * certificates. */
static dcr_status verify_container(const dcr_evidence *ev, dcr_attest_policy *pol, json_t **claims,
                                   dcr_error *err)
{
    dcr_buf enc = DCR_BUF_INIT;
    dcr_evidence back;
    *claims = NULL;
    dcr_status st = dcr_evidence_encode(ev, &enc, err);
    if (st == DCR_OK &&
        (st = dcr_evidence_parse(enc.data, enc.len, DCR_EV_UNKNOWN, &back, err)) == DCR_OK) {
        st = back.type == ev->type ? dcr_attest_verify(&back, pol, claims, err)
                                   : dcr_fail(err, DCR_EINPUT, "type changed");
        dcr_evidence_free(&back);
    }
    dcr_buf_free(&enc);
    return st;
}

static size_t count_pem(const dcr_buf *b)
{
    size_t n = 0;
    for (size_t i = 0; i + 27 <= b->len; i++)
        n += memcmp(b->data + i, "-----BEGIN CERTIFICATE-----", 27) == 0;
    return n;
}

/* ---- configfs-tsm ---- */

static void test_tsm_snp_vcek(void)
{
    char *root = make_root();
    blob rep = load(DATA "sev-snp/attestation.bin");
    fake f = {.provider = "sev_guest", .outblob = rep, .auxblob = vcek_table()};
    uint8_t rd[64] = {1, 2, 3, 4, 5};
    dcr_evidence ev;
    dcr_error err = {0};
    CHECK(root && rep.len == DCR_SNP_REPORT_LEN && f.auxblob.d);
    CHECK(produce(root, &f, DCR_EV_SNP, rd, NULL, &ev, &err) == DCR_OK);
    CHECK_STR(err.msg, "");
    CHECK(ev.type == DCR_EV_SNP && ev.report.len == rep.len);
    CHECK(ev.report.len == rep.len && memcmp(ev.report.data, rep.d, rep.len) == 0);
    CHECK(count_pem(&ev.certs) == 3);
    CHECK(f.inblob_len == 64 && memcmp(f.inblob, rd, 64) == 0);
    CHECK(f.created == 1 && f.removed == 1 && dir_entries(root) == 0);
    CHECK(f.privlevel[0] == 0); /* not asked, not written */
    dcr_attest_policy pol = {.report_data = rd, .allow_debug = true, .at = AT_2024};
    json_t *c = NULL;
    CHECK(verify_container(&ev, &pol, &c, &err) == DCR_OK);
    CHECK_STR(err.msg, "");
    CHECK(c && strcmp(json_string_value(json_object_get(c, "signing_key")), "VCEK") == 0);
    json_decref(c);
    uint8_t other[64] = {9};
    pol.report_data = other;
    CHECK(verify_container(&ev, &pol, &c, &err) == DCR_ECRYPTO);
    CHECK_MSG(err, "policy: report data mismatch");
    dcr_evidence_free(&ev);
    free(rep.d);
    free(f.auxblob.d);
    rmdir(root);
    free(root);
}

static void test_tsm_snp_vlek_expired(void)
{
    char *root = make_root();
    blob rep = load(DATA "sev-snp/trustee-test-vlek-report.bin");
    tbl_entry e[3] = {{G_VLEK, load(DATA "sev-snp/trustee-test-vlek.der")},
                      {G_ASK, pem_der(DATA "sev-snp/milanvlek.testcer", 0)},
                      {G_ARK, pem_der(DATA "sev-snp/milanvlek.testcer", 1)}};
    fake f = {.provider = "sev_guest", .outblob = rep, .auxblob = make_table(e, 3)};
    uint8_t rd[64];
    dcr_evidence ev;
    dcr_error err = {0};
    CHECK(root && rep.len == DCR_SNP_REPORT_LEN);
    if (rep.len == DCR_SNP_REPORT_LEN)
        memcpy(rd, rep.d + 0x50, 64); /* the report data the genuine report carries */
    CHECK(produce(root, &f, DCR_EV_SNP, rd, "1", &ev, &err) == DCR_OK);
    CHECK_STR(err.msg, "");
    CHECK(strcmp(f.privlevel, "1") == 0); /* asked for, written */
    CHECK(count_pem(&ev.certs) == 3 && dir_entries(root) == 0);
    dcr_attest_policy pol = {.report_data = rd, .at = AT_2025, .allow_debug = true};
    json_t *c = NULL;
    CHECK(verify_container(&ev, &pol, &c, &err) == DCR_OK);
    CHECK_STR(err.msg, "");
    CHECK(c && strcmp(json_string_value(json_object_get(c, "signing_key")), "VLEK") == 0);
    json_decref(c);
    pol.at = 0; /* now: the VLEK expired 2025-12-10 */
    CHECK(verify_container(&ev, &pol, &c, &err) == DCR_ECRYPTO);
    CHECK_MSG(err, "expired");
    dcr_evidence_free(&ev);
    for (int i = 0; i < 3; i++)
        free(e[i].der.d);
    free(rep.d);
    free(f.auxblob.d);
    rmdir(root);
    free(root);
}

static void tdx_case(const char *rel, size_t body)
{
    char *root = make_root();
    blob q = load(rel);
    fake f = {.provider = "tdx_guest", .outblob = q};
    uint8_t rd[64] = {0};
    dcr_evidence ev;
    dcr_error err = {0};
    CHECK(root && q.len > body + 584);
    if (q.len > body + 584)
        memcpy(rd, q.d + body + 520, 64);
    CHECK(produce(root, &f, DCR_EV_TDX, rd, "2", &ev, &err) == DCR_OK);
    CHECK_STR(err.msg, "");
    CHECK(f.privlevel[0] == 0); /* privlevel is an SNP (VMPL) option */
    CHECK(ev.type == DCR_EV_TDX && ev.report.len == q.len && ev.certs.len == 0);
    CHECK(f.created == 1 && f.removed == 1 && dir_entries(root) == 0);
    dcr_attest_policy pol = {.report_data = rd};
    json_t *c = NULL;
    CHECK(verify_container(&ev, &pol, &c, &err) == DCR_OK);
    CHECK_STR(err.msg, "");
    json_decref(c);
    dcr_evidence_free(&ev);
    free(q.d);
    rmdir(root);
    free(root);
}

static void test_tsm_tdx(void)
{
    tdx_case(DATA "tdx/tdx_prod_quote_SPR_E4.dat", 48);
    tdx_case(DATA "tdx/quote_v5_sample.dat", 54);
}

static void test_tsm_wrong_provider(void)
{
    static const struct {
        const char *provider;
        dcr_attest_type want;
        const char *msg;
    } cases[] = {
        {"arm_cca_guest", DCR_EV_SNP, "provider is \"arm_cca_guest\", not sev_guest"},
        {"tdx_guest", DCR_EV_SNP, "not an SEV-SNP guest"},
        {"sev_guest", DCR_EV_TDX, "provider is \"sev_guest\", not tdx_guest"},
        {"evil\x1b[31m", DCR_EV_SNP, "evil\\x1b[31m"},
    };
    char *root = make_root();
    blob rep = load(DATA "sev-snp/attestation.bin");
    uint8_t rd[64] = {1, 2, 3, 4, 5};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake f = {.provider = cases[i].provider, .outblob = rep};
        dcr_evidence ev;
        dcr_error err = {0};
        CHECK(produce(root, &f, cases[i].want, rd, NULL, &ev, &err) == DCR_EINPUT);
        CHECK_MSG(err, cases[i].msg);
        CHECK(f.inblob_writes == 0); /* refused before asking for anything */
        CHECK(f.created == 1 && f.removed == 1 && dir_entries(root) == 0);
        CHECK(ev.report.len == 0);
    }
    free(rep.d);
    rmdir(root);
    free(root);
}

static void test_tsm_generation_race(void)
{
    char *root = make_root();
    blob rep = load(DATA "sev-snp/attestation.bin");
    uint8_t rd[64] = {1, 2, 3, 4, 5};
    dcr_evidence ev;
    dcr_error err = {0};
    /* raced once: the retry in a fresh entry succeeds */
    fake f = {.provider = "sev_guest", .outblob = rep, .races = 1};
    CHECK(produce(root, &f, DCR_EV_SNP, rd, NULL, &ev, &err) == DCR_OK);
    CHECK(f.created == 2 && f.removed == 2 && dir_entries(root) == 0);
    CHECK(ev.report.len == DCR_SNP_REPORT_LEN && ev.certs.len == 0);
    dcr_evidence_free(&ev);
    /* raced every time: one retry, then a clear refusal */
    fake g = {.provider = "sev_guest", .outblob = rep, .races = 100};
    CHECK(produce(root, &g, DCR_EV_SNP, rd, NULL, &ev, &err) == DCR_EINPUT);
    CHECK_MSG(err, "generation went from 41 to 43 across our 1 write(s): another writer raced us");
    CHECK_MSG(err, "gave up after one retry");
    CHECK(g.created == 2 && g.removed == 2 && dir_entries(root) == 0);
    CHECK(ev.report.len == 0);
    free(rep.d);
    rmdir(root);
    free(root);
}

static void test_tsm_refusals(void)
{
    char *root = make_root();
    blob rep = load(DATA "sev-snp/attestation.bin");
    uint8_t rd[64] = {1, 2, 3, 4, 5}, wrong[64] = {1, 2, 3, 4, 6};
    dcr_evidence ev;
    dcr_error err = {0};
    fake f = {.provider = "sev_guest", .outblob = rep};
    CHECK(produce(root, &f, DCR_EV_SNP, wrong, NULL, &ev, &err) == DCR_EINPUT);
    CHECK_MSG(err, "does not carry our report data");
    CHECK(produce(root, &f, DCR_EV_SNP, rd, "7", &ev, &err) == DCR_EINPUT);
    CHECK_MSG(err, "privlevel must be 0-3");
    blob shortrep = {rep.d, rep.len - 1};
    fake g = {.provider = "sev_guest", .outblob = shortrep};
    CHECK(produce(root, &g, DCR_EV_SNP, rd, NULL, &ev, &err) == DCR_EINPUT);
    CHECK_MSG(err, "returned 1183 bytes");
    fake h = {.provider = "tdx_guest", .outblob = rep}; /* an SNP report is no quote */
    CHECK(produce(root, &h, DCR_EV_TDX, rd, NULL, &ev, &err) == DCR_EINPUT);
    CHECK_MSG(err, "not a TDX ECDSA quote");
    CHECK(dir_entries(root) == 0);
    CHECK(f.created == f.removed && g.created == g.removed && h.created == h.removed);
    /* no report root at all */
    dcr_tsm_opts o = {.root = "/nonexistent/tsm/report"};
    CHECK(dcr_tsm_get_evidence(&o, DCR_EV_SNP, rd, &ev, &err) == DCR_EINPUT);
    CHECK_MSG(err, "cannot create a report in /nonexistent/tsm/report");
    free(rep.d);
    rmdir(root);
    free(root);
}

/* Every truncation of a genuine auxblob, through the whole producer. */
static void test_tsm_auxblob_truncations(void)
{
    char *root = make_root();
    blob rep = load(DATA "sev-snp/attestation.bin"), t = vcek_table();
    uint8_t rd[64] = {1, 2, 3, 4, 5};
    size_t refused = 0;
    fake f = {.provider = "sev_guest", .outblob = rep};
    for (size_t n = 1; t.d && n < t.len; n++) {
        dcr_evidence ev;
        dcr_error err = {0};
        f.auxblob = (blob){t.d, n};
        refused += produce(root, &f, DCR_EV_SNP, rd, NULL, &ev, &err) == DCR_EINPUT &&
                   strstr(err.msg, "configfs-tsm auxblob: sev-snp: certificate table") &&
                   ev.report.len == 0 && ev.certs.len == 0;
    }
    CHECK(t.len > 4000 && refused == t.len - 1);
    CHECK(f.created == f.removed && dir_entries(root) == 0);
    free(rep.d);
    free(t.d);
    rmdir(root);
    free(root);
}

/* ---- the certificate table parser itself ---- */

static dcr_status parse_table(const blob *t, size_t *found, dcr_error *err)
{
    dcr_buf pem = DCR_BUF_INIT;
    dcr_status st = dcr_snp_cert_table_to_pem(t->d, t->len, &pem, found, err);
    dcr_buf_free(&pem);
    return st;
}

static void set_entry(blob *t, size_t i, uint32_t off, uint32_t len)
{
    dcr_put_u32le(t->d + i * 24 + 16, off);
    dcr_put_u32le(t->d + i * 24 + 20, len);
}

static void test_cert_table_malformed(void)
{
    blob good = vcek_table();
    size_t found = 0;
    dcr_error err = {0};
    CHECK(good.d && parse_table(&good, &found, &err) == DCR_OK && found == 3);
    uint32_t o0 = dcr_get_u32le(good.d + 16), l0 = dcr_get_u32le(good.d + 20);
    uint32_t l1 = dcr_get_u32le(good.d + 24 + 20), end = (uint32_t)good.len;
    const struct {
        size_t entry;
        uint32_t off, len;
        const char *msg;
    } bad[] = {
        {1, o0 + 1, l1, "entries 0 and 1 overlap"}, /* ASK starts inside the VCEK */
        {2, o0, l0, "entries 0 and 2 overlap"},     /* ARK is the VCEK's bytes again */
        {0, 0, l0, "overlaps the table"},           /* data where the table is */
        {0, 50, l0, "overlaps the table"},
        {1, end, 1, "out of range"},                   /* just past the end */
        {1, end - 10, l1, "out of range"},             /* runs past the end */
        {1, 0xffffffffu, 0xffffffffu, "out of range"}, /* u32 wrap-around */
        {2, o0 + l0 + l1, 0, "is empty"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        blob t = {malloc(good.len), good.len};
        memcpy(t.d, good.d, good.len);
        set_entry(&t, bad[i].entry, bad[i].off, bad[i].len);
        CHECK(parse_table(&t, NULL, &err) == DCR_EINPUT);
        CHECK_MSG(err, bad[i].msg);
        free(t.d);
    }
    /* missing terminator: the three entries and nothing else */
    blob noterm = {good.d, 72};
    CHECK(parse_table(&noterm, NULL, &err) == DCR_EINPUT);
    CHECK_MSG(err, "no all-zero terminator");
    /* an entry without a GUID that is no terminator (offset and length set) */
    blob t = {malloc(good.len), good.len};
    memcpy(t.d, good.d, good.len);
    memset(t.d + 2 * 24, 0, 16);
    CHECK(parse_table(&t, NULL, &err) == DCR_EINPUT);
    CHECK_MSG(err, "entry 2 has a null GUID");
    /* the terminator overwritten: the walk runs into the certificates */
    memcpy(t.d, good.d, good.len);
    t.d[3 * 24 + 16] = 1;
    CHECK(parse_table(&t, NULL, &err) == DCR_EINPUT);
    /* two VCEKs (ARK entry relabelled) */
    memcpy(t.d, good.d, good.len);
    memcpy(t.d + 2 * 24, G_VCEK, 16);
    CHECK(parse_table(&t, NULL, &err) == DCR_EINPUT);
    CHECK_MSG(err, "two VCEK entries");
    /* a certificate that is not DER */
    memcpy(t.d, good.d, good.len);
    t.d[o0] = 0x31;
    CHECK(parse_table(&t, NULL, &err) == DCR_EINPUT);
    CHECK_MSG(err, "VCEK entry is not a DER certificate");
    /* an unknown GUID is bounds-checked and skipped */
    memcpy(t.d, good.d, good.len);
    t.d[2 * 24] ^= 0xff;
    CHECK(parse_table(&t, &found, &err) == DCR_OK && found == 2);
    /* the same GUIDs in EFI byte order are recognised */
    memcpy(t.d, good.d, good.len);
    for (int i = 0; i < 3; i++) {
        uint8_t *g = t.d + i * 24, s[16];
        memcpy(s, g, 16);
        static const uint8_t perm[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
        for (int k = 0; k < 16; k++)
            g[k] = s[perm[k]];
    }
    CHECK(parse_table(&t, &found, &err) == DCR_OK && found == 3);
    free(t.d);
    /* zero padding after a certificate is fine, other bytes are not */
    tbl_entry e = {G_VCEK, load(DATA "sev-snp/vcek.testcer")};
    blob padded = {calloc(1, e.der.len + 64), e.der.len + 64};
    if (padded.d && e.der.d)
        memcpy(padded.d, e.der.d, e.der.len);
    free(e.der.d);
    e.der = padded;
    blob pt = make_table(&e, 1);
    CHECK(parse_table(&pt, &found, &err) == DCR_OK && found == 1);
    pt.d[pt.len - 1] = 7;
    CHECK(parse_table(&pt, NULL, &err) == DCR_EINPUT);
    CHECK_MSG(err, "bytes after the certificate");
    free(pt.d);
    free(padded.d);
    /* empty tables: nothing, or only the terminator */
    uint8_t zero[24] = {0};
    blob empty = {zero, 0}, term = {zero, 24};
    CHECK(parse_table(&empty, &found, &err) == DCR_OK && found == 0);
    CHECK(parse_table(&term, &found, &err) == DCR_OK && found == 0);
    /* too many entries */
    blob many = {calloc(66, 24), 66 * 24};
    for (int i = 0; many.d && i < 65; i++)
        many.d[i * 24] = 1;
    CHECK(parse_table(&many, NULL, &err) == DCR_EINPUT);
    CHECK_MSG(err, "more than 64 entries");
    free(many.d);
    free(good.d);
}

/* ---- /dev/sev-guest ---- */

static void make_resp(uint8_t *resp, size_t cap, uint32_t status, uint32_t size, const blob *rep)
{
    memset(resp, 0, cap);
    dcr_put_u32le(resp, status);
    dcr_put_u32le(resp + 4, size);
    if (rep->len && 32 + rep->len <= cap)
        memcpy(resp + 32, rep->d, rep->len);
}

static void test_sevguest_parse(void)
{
    blob rep = load(DATA "sev-snp/trustee-test-report.bin");
    uint8_t resp[4000], rd[64];
    dcr_buf out = DCR_BUF_INIT;
    dcr_error err = {0};
    CHECK(rep.len == DCR_SNP_REPORT_LEN);
    if (rep.len != DCR_SNP_REPORT_LEN)
        return;
    memcpy(rd, rep.d + 0x50, 64);
    make_resp(resp, sizeof resp, 0, 1184, &rep);
    CHECK(dcr_sevguest_parse_report_resp(resp, sizeof resp, rd, &out, &err) == DCR_OK);
    CHECK(out.len == rep.len && memcmp(out.data, rep.d, rep.len) == 0);
    dcr_buf_free(&out);
    /* the parsed report verifies with its genuine VCEK */
    dcr_evidence ev = {.type = DCR_EV_SNP};
    blob vcek = load(DATA "sev-snp/trustee-test-vcek.der");
    CHECK(dcr_sevguest_parse_report_resp(resp, sizeof resp, rd, &ev.report, &err) == DCR_OK);
    CHECK(dcr_buf_append(&ev.certs, vcek.d, vcek.len, &err) == DCR_OK);
    dcr_attest_policy pol = {.report_data = rd};
    json_t *c = NULL;
    CHECK(verify_container(&ev, &pol, &c, &err) == DCR_OK);
    CHECK_STR(err.msg, "");
    json_decref(c);
    dcr_evidence_free(&ev);
    free(vcek.d);
    static const struct {
        uint32_t status, size;
        size_t len;
        const char *msg;
    } bad[] = {
        {0x16, 1184, 4000, "status 0x16 (INVALID_PARAM)"},
        {0x27, 1184, 4000, "status 0x27 (INVALID_KEY)"},
        {0, 1183, 4000, "report size 1183 is not 1184"},
        {0, 0xffffffffu, 4000, "report size 4294967295"},
        {0, 1184, 32 + 1183, "overruns the 1215-byte response"},
        {0, 1184, 31, "has no header"},
        {0, 1184, 0, "has no header"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        make_resp(resp, sizeof resp, bad[i].status, bad[i].size, &rep);
        CHECK(dcr_sevguest_parse_report_resp(resp, bad[i].len, rd, &out, &err) == DCR_EINPUT);
        CHECK_MSG(err, bad[i].msg);
        CHECK(out.len == 0);
    }
    make_resp(resp, sizeof resp, 0, 1184, &rep);
    rd[63] ^= 1;
    CHECK(dcr_sevguest_parse_report_resp(resp, sizeof resp, rd, &out, &err) == DCR_EINPUT);
    CHECK_MSG(err, "does not carry our report data");
    free(rep.d);
}

/* A host for the ioctl seam: wants `need` bytes of certificate buffer. */
static struct {
    uint32_t need, fw_error, vmm_error;
    int ext_errno; /* fail SNP_GET_EXT_REPORT with this, exitinfo2 0 */
    blob rep, table;
    int ext_calls, plain_calls;
    uint32_t last_vmpl;
} host;

static int fill_resp(struct snp_guest_request_ioctl *io)
{
    struct snp_report_resp *resp = (void *)(uintptr_t)io->resp_data;
    make_resp(resp->data, sizeof resp->data, 0, 1184, &host.rep);
    return 0;
}

static int fake_ioctl(int fd, unsigned long req, void *arg)
{
    (void)fd;
    struct snp_guest_request_ioctl *io = arg;
    if (req == SNP_GET_REPORT) {
        host.plain_calls++;
        host.last_vmpl = ((struct snp_report_req *)(uintptr_t)io->req_data)->vmpl;
        return fill_resp(io);
    }
    if (req != SNP_GET_EXT_REPORT) {
        errno = ENOTTY;
        return -1;
    }
    host.ext_calls++;
    struct snp_ext_report_req *r = (void *)(uintptr_t)io->req_data;
    host.last_vmpl = r->data.vmpl;
    if (host.ext_errno) {
        errno = host.ext_errno;
        return -1;
    }
    if (host.fw_error || host.vmm_error) {
        io->fw_error = host.fw_error;
        io->vmm_error = host.vmm_error;
        errno = EIO;
        return -1;
    }
    if (r->certs_len < host.need) { /* what the kernel does on INVALID_LEN */
        r->certs_len = host.need;
        io->vmm_error = SNP_GUEST_VMM_ERR_INVALID_LEN;
        errno = EIO;
        return -1;
    }
    memcpy((void *)(uintptr_t)r->certs_address, host.table.d, host.table.len);
    return fill_resp(io);
}

static dcr_status sevguest(const char *privlevel, dcr_evidence *ev, const uint8_t rd[64],
                           dcr_error *err)
{
    dcr_sevguest_opts o = {.dev = "/dev/null", .privlevel = privlevel, .ioctl_fn = fake_ioctl};
    memset(ev, 0, sizeof *ev);
    host.ext_calls = host.plain_calls = 0;
    return dcr_sevguest_get_evidence(&o, rd, ev, err);
}

static void test_sevguest_negotiation(void)
{
    uint8_t rd[64] = {1, 2, 3, 4, 5};
    dcr_evidence ev;
    dcr_error err = {0};
    memset(&host, 0, sizeof host);
    host.rep = load(DATA "sev-snp/attestation.bin");
    host.table = vcek_table();
    /* the host wants 20 KiB, more than our first 16 KiB: retry with that */
    host.need = 5 * 4096;
    CHECK(sevguest("2", &ev, rd, &err) == DCR_OK);
    CHECK_STR(err.msg, "");
    CHECK(host.ext_calls == 2 && host.plain_calls == 0 && host.last_vmpl == 2);
    CHECK(count_pem(&ev.certs) == 3);
    dcr_attest_policy pol = {.report_data = rd, .allow_debug = true, .at = AT_2024};
    json_t *c = NULL;
    CHECK(verify_container(&ev, &pol, &c, &err) == DCR_OK);
    CHECK_STR(err.msg, "");
    json_decref(c);
    dcr_evidence_free(&ev);
    /* what the host may not ask for */
    static const uint32_t greedy[] = {5 * 4096 + 1, 1u << 30, 4096};
    for (size_t i = 0; i < sizeof greedy / sizeof greedy[0]; i++) {
        host.need = greedy[i];
        if (greedy[i] == 4096) /* smaller than what we gave, yet "too small" */
            host.vmm_error = SNP_GUEST_VMM_ERR_INVALID_LEN;
        CHECK(sevguest(NULL, &ev, rd, &err) == DCR_EINPUT);
        CHECK_MSG(err, "certificate buffer");
        CHECK(ev.report.len == 0);
        host.vmm_error = 0;
    }
    /* firmware and host errors are named */
    host.need = 0;
    host.fw_error = 0x16;
    CHECK(sevguest(NULL, &ev, rd, &err) == DCR_EINPUT);
    CHECK_MSG(err, "SNP_GET_EXT_REPORT: firmware error 0x16 (INVALID_PARAM)");
    host.fw_error = 0;
    host.vmm_error = 2;
    CHECK(sevguest(NULL, &ev, rd, &err) == DCR_EINPUT);
    CHECK_MSG(err, "host (VMM) error 2 (busy)");
    host.vmm_error = 0;
    /* no extended request: a plain report, no certificates */
    host.ext_errno = ENOTTY;
    CHECK(sevguest(NULL, &ev, rd, &err) == DCR_OK);
    CHECK(host.ext_calls == 1 && host.plain_calls == 1 && host.last_vmpl == 0);
    CHECK(ev.report.len == DCR_SNP_REPORT_LEN && ev.certs.len == 0);
    dcr_evidence_free(&ev);
    host.ext_errno = 0;
    /* a malformed certificate table from the host is refused */
    memset(host.table.d + 72, 0x5a, 24); /* overwrite the terminator */
    host.table.len = 96;
    CHECK(sevguest(NULL, &ev, rd, &err) == DCR_EINPUT);
    CHECK_MSG(err, "sev-guest certificate buffer: sev-snp: certificate table");
    CHECK(sevguest("4", &ev, rd, &err) == DCR_EINPUT);
    CHECK_MSG(err, "VMPL) must be 0-3");
    free(host.rep.d);
    free(host.table.d);
}

/* ---- the backends, without hardware ---- */

static void test_backends_without_hardware(void)
{
    uint8_t rd[64] = {0};
    dcr_evidence ev = {0};
    dcr_error err = {0};
    char why[1024];
    dcr_sevguest_opts o = {.dev = "/nonexistent/sev-guest"};
    CHECK(dcr_sevguest_get_evidence(&o, rd, &ev, &err) == DCR_EINPUT);
    CHECK_MSG(err, "cannot open /nonexistent/sev-guest");
    CHECK_MSG(err, "not an SEV-SNP guest, or the sev-guest module is not loaded");
    dcr_tee_options none = {.configfs_dir = "/nonexistent/tsm", .sev_guest = "/nonexistent/sev"};
    CHECK(!dcr_tee_snp.probe(&none, why, sizeof why));
    CHECK(strstr(why, "/nonexistent/tsm absent") && strstr(why, "/nonexistent/sev absent"));
    CHECK(dcr_tee_snp.get_evidence(&none, rd, &ev, &err) == DCR_EINPUT);
    CHECK_MSG(err, "sev-snp: not an SEV-SNP guest here");
    CHECK(dcr_tee_tdx.get_evidence(&none, rd, &ev, &err) == DCR_EINPUT);
    CHECK_MSG(err, "tdx: not a TDX guest here");
    /* a report root without a provider is skipped in favour of the device
     * (here /dev/null: any read-write file passes the probe) */
    char *root = make_root();
    dcr_tee_options fb = {
        .configfs_dir = root, .sev_guest = "/dev/null", .tcti = "device:/nonexistent/tpmrm0"};
    CHECK(dcr_tee_snp.probe(&fb, why, sizeof why));
    CHECK(strstr(why, "using /dev/null") && strstr(why, "unusable"));
    CHECK(!dcr_tee_tdx.probe(&fb, why, sizeof why));
    CHECK(dir_entries(root) == 0); /* probing removed its entry */
    const dcr_tee_backend *b = NULL;
    char explain[2048];
    CHECK(dcr_tee_auto(&fb, &b, explain, sizeof explain, &err) == DCR_OK && b == &dcr_tee_snp);
    CHECK(strstr(explain, "sev-snp    chosen: using /dev/null") != NULL);
    CHECK(strstr(explain, "azure-vtpm skipped") != NULL);
    /* the real ioctl on a file that is no sev-guest device: a clear error */
    CHECK(dcr_tee_snp.get_evidence(&fb, rd, &ev, &err) == DCR_EINPUT);
    CHECK_MSG(err, "SNP_GET_REPORT on /dev/null");
    CHECK(ev.report.len == 0 && dir_entries(root) == 0);
    rmdir(root);
    free(root);
}

int main(void)
{
    RUN(test_tsm_snp_vcek);
    RUN(test_tsm_snp_vlek_expired);
    RUN(test_tsm_tdx);
    RUN(test_tsm_wrong_provider);
    RUN(test_tsm_generation_race);
    RUN(test_tsm_refusals);
    RUN(test_tsm_auxblob_truncations);
    RUN(test_cert_table_malformed);
    RUN(test_sevguest_parse);
    RUN(test_sevguest_negotiation);
    RUN(test_backends_without_hardware);
    return check_summary();
}

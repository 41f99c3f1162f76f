/*
 * cmd_attest.c: `dcr attest evidence` (ask a TEE for evidence binding 64
 * bytes) and `dcr attest verify` (check evidence with the one verifier in
 * src/attest and print the verified claims as JSON). Everything of substance
 * lives in src/attest; this file parses options and prints.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attest/attest.h"
#include "attest/tee.h"
#include "base/bytes.h"
#include "base/fileio.h"
#include "cli/command.h"

static const char usage[] =
    "Usage: dcr attest evidence --tee sim|sev-snp|tdx|azure-vtpm|auto --report-data HEX\n"
    "                           --out FILE [--tcti CONF] [--configfs DIR] [--sev-guest PATH]\n"
    "                           [--privlevel 0-3] [--imds URL] [--imds-timeout SECONDS]\n"
    "       dcr attest check --server URL --contract FILE [--json]\n"
    "       dcr attest verify --evidence FILE [--type snp|tdx|azure-snp-vtpm|azure-tdx-vtpm|sim]\n"
    "                         [--certs FILE]... [--quote FILE --nonce HEX] [--td-quote FILE]\n"
    "                         [--report-data HEX]\n"
    "                         [--measurement HEX]... [--min-tcb HEX] [--pcr N=HEX]...\n"
    "                         [--at RFC3339] [--allow-debug]\n"
    "\n"
    "evidence asks the TEE for evidence whose report data is the given 64 bytes\n"
    "(128 hex digits) and writes it as a dcr evidence container. auto picks the\n"
    "hardware backend it finds and explains its choice on stderr; sim is the\n"
    "development mode, marked \"simulated, insecure\". --tcti (or $DCR_TCTI) picks\n"
    "the vTPM for azure-vtpm (default device:/dev/tpmrm0). --configfs (default\n"
    "/sys/kernel/config/tsm/report) and --sev-guest (default /dev/sev-guest) say\n"
    "where the kernel's interfaces are, for containers that mount them elsewhere;\n"
    "--privlevel asks SEV-SNP for a report at that VMPL. On an Azure TDX VM,\n"
    "azure-vtpm asks IMDS (--imds, default http://169.254.169.254; --imds-timeout,\n"
    "default 15) to turn the HCL report's TD report into a quote, and bundles it.\n"
    "\n"
    "verify checks evidence (a dcr container, a raw SNP report, TDX quote, Azure\n"
    "HCL report or evidence-v1 JSON; the type is recognised unless --type says)\n"
    "against the pinned AMD and Intel roots and prints the verified claims as JSON.\n"
    "  --certs FILE       certificates (VCEK/VLEK, PEM or DER) or CRLs; repeatable\n"
    "  --quote FILE       Azure: the TPM quote (bincode, or TPMS_ATTEST + signature)\n"
    "  --nonce HEX        Azure: the expected TPM quote nonce\n"
    "  --td-quote FILE    Azure TDX: the TD quote, when the evidence is a bare HCL report\n"
    "  --report-data HEX  the expected 64 bytes of report data\n"
    "  --measurement HEX  an accepted measurement (SNP MEASUREMENT, TDX MRTD); repeatable\n"
    "  --min-tcb HEX      minimum TCB: SNP 8 bytes (REPORTED_TCB as in the report),\n"
    "                     TDX 16 bytes (TEE_TCB_SVN); compared byte by byte\n"
    "  --pcr N=HEX        vTPM evidence: PCR N (0-23, SHA-256 bank) must hold these 32\n"
    "                     bytes, and the signed quote must cover it; repeatable. On\n"
    "                     Azure the measurement is the paravisor's: the PCRs name\n"
    "                     what booted\n"
    "  --at TIME          verify certificates as of TIME (RFC 3339; default now)\n"
    "  --allow-debug      accept a debuggable guest\n"
    "\n"
    "check asks a running clean room (dcr serve) for its evidence, verifies it\n"
    "against the contract's accepted evidence and the binding of the contract and\n"
    "the instance keys, checks the serving TLS key is the attested one, and prints\n"
    "what the evidence proves.\n"
    "\n"
    "Exit codes: 0 verified, 2 usage, 3 input (malformed evidence), 4 a check\n"
    "failed (the message names it), 5 internal.\n";

#define MAX_MEASUREMENTS 32

#define usage_error(...) cli_usage_error(&dcr_cmd_attest, __VA_ARGS__)

static bool parse_hex_arg(const char *hex, uint8_t *out, size_t len)
{
    return strlen(hex) == 2 * len && dcr_hex_decode(out, len, hex, 2 * len);
}

/* RFC 3339: YYYY-MM-DDTHH:MM:SS(.frac)?(Z|+HH:MM|-HH:MM). */
static bool parse_rfc3339(const char *s, time_t *out)
{
    struct tm tm = {0};
    const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p)
        return false;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            ;
    long off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
        int hh, mm;
        if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2 || hh > 23 || mm > 59)
            return false;
        off = (hh * 60L + mm) * 60 * (*p == '+' ? 1 : -1);
        p += 6;
    } else {
        return false;
    }
    if (*p)
        return false;
    *out = timegm(&tm) - off;
    return *out > 0;
}

static dcr_status read_bytes(const char *path, uint8_t **data, size_t *len, dcr_error *err)
{
    char *d;
    dcr_status st = dcr_read_file(path, DCR_EVIDENCE_MAX, &d, len, err);
    *data = (uint8_t *)d;
    return st;
}

static int write_out(const char *path, const dcr_evidence *ev)
{
    dcr_error err = {0};
    dcr_buf out = DCR_BUF_INIT;
    dcr_atomic_file f;
    dcr_status st = dcr_evidence_encode(ev, &out, &err);
    if (st == DCR_OK && (st = dcr_atomic_open(&f, path, 0644, true, &err)) == DCR_OK) {
        if ((st = dcr_write_all(f.fd, out.data, out.len, path, &err)) == DCR_OK)
            st = dcr_atomic_commit(&f, &err);
        else
            dcr_atomic_abort(&f);
    }
    dcr_buf_free(&out);
    return st == DCR_OK ? 0 : cli_report("attest evidence", &err);
}

static int run_evidence(int argc, char **argv)
{
    static const struct option opts[] = {
        {"tee", required_argument, 0, 't'},          {"report-data", required_argument, 0, 'r'},
        {"out", required_argument, 0, 'o'},          {"tcti", required_argument, 0, 'c'},
        {"configfs", required_argument, 0, 'C'},     {"sev-guest", required_argument, 0, 'S'},
        {"privlevel", required_argument, 0, 'p'},    {"imds", required_argument, 0, 'I'},
        {"imds-timeout", required_argument, 0, 'W'}, {0, 0, 0, 0}};
    const char *tee = NULL, *rd_hex = NULL, *out = NULL;
    dcr_tee_options topt = {0};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            tee = optarg;
            break;
        case 'r':
            rd_hex = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 'c':
            topt.tcti = optarg;
            break;
        case 'C':
            topt.configfs_dir = optarg;
            break;
        case 'S':
            topt.sev_guest = optarg;
            break;
        case 'p':
            /* The kernel and the firmware accept VMPL 0..3 only. */
            if (optarg[0] < '0' || optarg[0] > '3' || optarg[1])
                return usage_error("--privlevel must be 0, 1, 2 or 3, got '%s'", optarg);
            topt.privlevel = optarg;
            break;
        case 'I':
            if (strncmp(optarg, "http://", 7) != 0 && strncmp(optarg, "https://", 8) != 0)
                return usage_error("--imds must be an http:// or https:// URL, got '%s'", optarg);
            topt.imds_url = optarg;
            break;
        case 'W': {
            char *end;
            long s = strtol(optarg, &end, 10);
            if (*end || s < 1 || s > 300)
                return usage_error("--imds-timeout must be 1..300 seconds, got '%s'", optarg);
            topt.imds_timeout_ms = s * 1000;
            break;
        }
        default:
            return usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    uint8_t rd[64];
    if (!tee || !rd_hex || !out || optind != argc)
        return usage_error("%s", "evidence needs --tee, --report-data and --out");
    if (!parse_hex_arg(rd_hex, rd, sizeof rd))
        return usage_error("%s", "--report-data must be 128 hex digits (64 bytes)");
    dcr_error err = {0};
    const dcr_tee_backend *b = NULL;
    if (strcmp(tee, "auto") == 0) {
        char explain[2048];
        dcr_status st = dcr_tee_auto(&topt, &b, explain, sizeof explain, &err);
        fputs(explain, stderr);
        if (st != DCR_OK)
            return cli_report("attest evidence", &err);
    } else if (!(b = dcr_tee_find(tee))) {
        return usage_error("unknown --tee '%s'", tee);
    }
    if (b == &dcr_tee_sim)
        fprintf(stderr, "dcr attest evidence: WARNING: sim evidence is simulated, insecure: "
                        "for development only\n");
    dcr_evidence ev = {0};
    dcr_status st = b->get_evidence(&topt, rd, &ev, &err);
    int rc = st == DCR_OK ? write_out(out, &ev) : cli_report("attest evidence", &err);
    dcr_evidence_free(&ev);
    return rc;
}

typedef struct {
    const char *evidence, *quote, *td_quote, *type;
    const char *certs[16];
    size_t ncerts;
    uint8_t report_data[64], nonce[64], min_tcb[16];
    size_t nonce_len, min_tcb_len;
    bool have_report_data;
    dcr_pcr_pins pcrs;
    dcr_measurement m[MAX_MEASUREMENTS];
    size_t nm;
    dcr_attest_policy pol;
} verify_args;

static int parse_verify_opt(int c, verify_args *a)
{
    size_t n = optarg ? strlen(optarg) : 0;
    switch (c) {
    case 'e':
        a->evidence = optarg;
        return 0;
    case 'T':
        a->type = optarg;
        return 0;
    case 'c':
        if (a->ncerts == sizeof a->certs / sizeof a->certs[0])
            return usage_error("%s", "too many --certs");
        a->certs[a->ncerts++] = optarg;
        return 0;
    case 'q':
        a->quote = optarg;
        return 0;
    case 'Q':
        a->td_quote = optarg;
        return 0;
    case 'n':
        if (n == 0 || n % 2 || n > 128 || !dcr_hex_decode(a->nonce, n / 2, optarg, n))
            return usage_error("%s", "--nonce must be 1..64 bytes of hex");
        a->nonce_len = n / 2;
        return 0;
    case 'r':
        if (!parse_hex_arg(optarg, a->report_data, 64))
            return usage_error("%s", "--report-data must be 128 hex digits (64 bytes)");
        a->have_report_data = true;
        return 0;
    case 'm':
        if (a->nm == MAX_MEASUREMENTS || !parse_hex_arg(optarg, a->m[a->nm].bytes, 48))
            return usage_error("%s", "--measurement must be 96 hex digits (48 bytes)");
        a->nm++;
        return 0;
    case 't':
        if ((n != 16 && n != 32) || !dcr_hex_decode(a->min_tcb, n / 2, optarg, n))
            return usage_error("%s", "--min-tcb must be 16 (SNP) or 32 (TDX) hex digits");
        a->min_tcb_len = n / 2;
        return 0;
    case 'a':
        if (!parse_rfc3339(optarg, &a->pol.at))
            return usage_error("--at '%s' is not an RFC 3339 time (2024-05-01T00:00:00Z)", optarg);
        return 0;
    case 'd':
        a->pol.allow_debug = true;
        return 0;
    case 'P':
        if (!dcr_pcr_pin_parse(optarg, &a->pcrs))
            return usage_error("--pcr '%s' is not N=HEX with N 0..23 (once each, no leading zero) "
                               "and 64 hex digits",
                               optarg);
        return 0;
    }
    return usage_error("unknown or incomplete option '%s'", optarg ? optarg : "?");
}

static dcr_status load_evidence(const verify_args *a, dcr_evidence *ev, dcr_error *err)
{
    dcr_attest_type hint = DCR_EV_UNKNOWN;
    if (a->type && !dcr_attest_type_from_name(a->type, &hint))
        return dcr_fail(err, DCR_EUSAGE, "unknown --type '%s'", a->type);
    uint8_t *d;
    size_t len;
    dcr_status st = read_bytes(a->evidence, &d, &len, err);
    if (st != DCR_OK)
        return st;
    st = dcr_evidence_parse(d, len, hint, ev, err);
    free(d);
    if (st == DCR_OK && a->quote && (st = read_bytes(a->quote, &d, &len, err)) == DCR_OK) {
        st = dcr_evidence_set_tpm_quote(ev, d, len, err);
        free(d);
    }
    if (st == DCR_OK && a->td_quote && (st = read_bytes(a->td_quote, &d, &len, err)) == DCR_OK) {
        dcr_buf_free(&ev->td_quote);
        st = dcr_buf_append(&ev->td_quote, d, len, err);
        free(d);
    }
    return st;
}

static int do_verify(verify_args *a)
{
    dcr_error err = {0};
    dcr_evidence ev = {0};
    dcr_certset *set = NULL;
    json_t *claims = NULL;
    dcr_status st = dcr_certset_new(&set, &err);
    for (size_t i = 0; st == DCR_OK && i < a->ncerts; i++)
        st = dcr_certset_add_file(set, a->certs[i], &err);
    if (st == DCR_OK)
        st = load_evidence(a, &ev, &err);
    if (st == DCR_OK) {
        a->pol.certs = set;
        a->pol.allow_sim = true; /* the CLI verifies sim evidence, and says it is insecure */
        a->pol.report_data = a->have_report_data ? a->report_data : NULL;
        a->pol.measurements = a->nm ? a->m : NULL;
        a->pol.n_measurements = a->nm;
        a->pol.nonce = a->nonce_len ? a->nonce : NULL;
        a->pol.nonce_len = a->nonce_len;
        a->pol.min_tcb = a->min_tcb_len ? a->min_tcb : NULL;
        a->pol.min_tcb_len = a->min_tcb_len;
        a->pol.pcrs = a->pcrs.mask ? &a->pcrs : NULL;
        st = dcr_attest_verify(&ev, &a->pol, &claims, &err);
    }
    int rc = 0;
    if (st == DCR_OK) {
        if (ev.type == DCR_EV_SIM)
            fprintf(stderr, "dcr attest verify: WARNING: simulated, insecure evidence: it proves "
                            "nothing about the machine\n");
        else {
            char words[512];
            dcr_attest_proves(dcr_attest_type_name(ev.type), claims, a->nm > 0, "--pcr", words,
                              sizeof words);
            fprintf(stderr, "dcr attest verify: proves %s\n", words);
        }
        char *s = json_dumps(claims, JSON_INDENT(2));
        if (s)
            printf("%s\n", s);
        else
            rc = DCR_EINTERNAL;
        free(s);
        fflush(stdout);
    } else {
        rc = cli_report("attest verify", &err);
    }
    json_decref(claims);
    dcr_evidence_free(&ev);
    dcr_certset_free(set);
    return rc;
}

static int run_verify(int argc, char **argv)
{
    static const struct option opts[] = {
        {"evidence", required_argument, 0, 'e'},    {"type", required_argument, 0, 'T'},
        {"certs", required_argument, 0, 'c'},       {"crl", required_argument, 0, 'c'},
        {"quote", required_argument, 0, 'q'},       {"nonce", required_argument, 0, 'n'},
        {"report-data", required_argument, 0, 'r'}, {"measurement", required_argument, 0, 'm'},
        {"min-tcb", required_argument, 0, 't'},     {"at", required_argument, 0, 'a'},
        {"allow-debug", no_argument, 0, 'd'},       {"td-quote", required_argument, 0, 'Q'},
        {"pcr", required_argument, 0, 'P'},         {0, 0, 0, 0}};
    verify_args *a = calloc(1, sizeof *a);
    if (!a)
        return DCR_EINTERNAL;
    int c, rc = 0;
    while (rc == 0 && (c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == '?' || c == ':') {
            rc = usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
            break;
        }
        rc = parse_verify_opt(c, a);
    }
    if (rc == 0 && (!a->evidence || optind != argc))
        rc = usage_error("%s", "verify needs --evidence FILE and no other arguments");
    if (rc == 0)
        rc = do_verify(a);
    free(a);
    return rc;
}

static int run(int argc, char **argv)
{
    opterr = 0;
    if (argc < 2)
        return usage_error("%s", "which one: evidence or verify?");
    optind = 1;
    if (strcmp(argv[1], "evidence") == 0)
        return run_evidence(argc - 1, argv + 1);
    if (strcmp(argv[1], "verify") == 0)
        return run_verify(argc - 1, argv + 1);
    if (strcmp(argv[1], "check") == 0)
        return cli_attest_check(argc - 1, argv + 1);
    return usage_error("unknown subcommand '%s' (evidence, verify or check)", argv[1]);
}

const dcr_command dcr_cmd_attest = {
    "attest", "produce or verify TEE evidence; check a running clean room", usage, run};

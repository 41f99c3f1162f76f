/*
 * cmd_unseal.c: `dcr unseal`, a sealed dataset back to CSV for a recipient.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/fileio.h"
#include "cli/command.h"
#include "base/hygiene.h"
#include "store/unseal.h"

static const char usage[] =
    "Usage: dcr unseal --key NAME.key [--out DATA.csv] DATA.dcr\n"
    "\n"
    "Authenticates every chunk of a sealed dataset with a recipient's private key,\n"
    "then writes it as CSV (to standard output unless --out). A modified, truncated\n"
    "or spliced file is refused before any plaintext is written.\n"
    "\n"
    "Options:\n"
    "  --key FILE    the recipient's private key (NAME.key from dcr keygen)\n"
    "  --out FILE    write here (mode 0600) instead of standard output\n"
    "  --force       replace an existing --out file\n"
    "  --stats       print rows, throughput and peak memory to stderr\n"
    "\n"
    "Exit codes: 0 ok, 2 usage, 3 input (damaged or foreign file), 4 crypto (wrong key,\n"
    "failed authentication), 5 internal.\n";

static int parse_args(int argc, char **argv, const char **key, const char **out, const char **in,
                      int *force, int *stats)
{
    static const struct option opts[] = {{"key", required_argument, 0, 'k'},
                                         {"out", required_argument, 0, 'o'},
                                         {"force", no_argument, 0, 'f'},
                                         {"stats", no_argument, 0, 's'},
                                         {0, 0, 0, 0}};
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'k':
            *key = optarg;
            break;
        case 'o':
            *out = optarg;
            break;
        case 'f':
            *force = 1;
            break;
        case 's':
            *stats = 1;
            break;
        default:
            return cli_usage_error(&dcr_cmd_unseal, "unknown or incomplete option '%s'",
                                   argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return cli_usage_error(&dcr_cmd_unseal, "exactly one sealed file is needed");
    *in = argv[optind];
    if (!*key)
        return cli_usage_error(&dcr_cmd_unseal, "--key is required");
    return 0;
}

static dcr_status unseal_to(dcr_sealed_reader *r, const uint8_t *data_key, const char *out,
                            int force, dcr_unseal_stats *st, dcr_error *err)
{
    if (!out)
        return dcr_unseal_csv(r, data_key, STDOUT_FILENO, st, err);
    /* Authenticate first so a refused file does not even create the output. */
    uint64_t chunks;
    dcr_status s = dcr_unseal_verify(r, data_key, &chunks, err);
    dcr_atomic_file f;
    if (s == DCR_OK)
        s = dcr_atomic_open(&f, out, 0600, force, err);
    if (s != DCR_OK)
        return s;
    s = dcr_unseal_csv(r, data_key, f.fd, st, err);
    if (s == DCR_OK)
        return dcr_atomic_commit(&f, err);
    dcr_atomic_abort(&f);
    return s;
}

static int run(int argc, char **argv)
{
    const char *key_path = NULL, *out = NULL, *in = NULL;
    int force = 0, stats = 0;
    int rc = parse_args(argc, argv, &key_path, &out, &in, &force, &stats);
    if (rc)
        return rc;
    dcr_error err = {0};
    dcr_party_key key;
    dcr_sealed_reader r;
    uint8_t data_key[DCR_DATA_KEY_LEN];
    dcr_unseal_stats st = {0};
    double t0 = cli_now();
    dcr_status s = dcr_party_key_load(key_path, &key, &err);
    if (s != DCR_OK)
        return cli_report("unseal", &err);
    s = dcr_sealed_reader_open(&r, in, &err);
    if (s == DCR_OK) {
        s = dcr_sealed_unwrap_key(&r.header, &key, data_key, &err);
        if (s != DCR_OK)
            dcr_error_prefix(&err, "%s", in);
        else
            s = unseal_to(&r, data_key, out, force, &st, &err);
        dcr_wipe(data_key, sizeof data_key);
        dcr_sealed_reader_close(&r);
    }
    dcr_party_key_wipe(&key);
    if (s != DCR_OK)
        return cli_report("unseal", &err);
    double secs = cli_now() - t0;
    if (out || stats)
        fprintf(stderr, "unsealed %llu rows from %s\n", (unsigned long long)st.rows, in);
    if (stats)
        fprintf(stderr, "stats: out %llu bytes, %.3f s, %.1f MB/s, peak RSS %.1f MiB\n",
                (unsigned long long)st.bytes_out, secs,
                secs > 0 ? (double)st.bytes_out / 1e6 / secs : 0.0, cli_peak_rss_mib());
    return 0;
}

const dcr_command dcr_cmd_unseal = {"unseal", "decrypt a sealed dataset back to CSV", usage, run};

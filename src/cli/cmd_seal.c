/*
 * cmd_seal.c: `dcr seal`, CSV to a sealed dataset for one or more recipients.
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/bytes.h"
#include "base/fileio.h"
#include "cli/command.h"
#include "crypto/util.h"
#include "store/seal.h"
#include "store/sealed.h"

static const char usage[] =
    "Usage: dcr seal --schema SCHEMA.json --in DATA.csv --out DATA.dcr --to NAME.pub [options]\n"
    "\n"
    "Encrypts a CSV file into a sealed dataset that only the holders of the\n"
    "recipients' private keys can open. Values are checked against the schema's\n"
    "types and normalised; any bad value refuses the whole file and writes nothing.\n"
    "\n"
    "Options:\n"
    "  --schema FILE     schema JSON: dataset name, columns, types, normalisation\n"
    "  --in FILE         CSV input with a header row ('-' for standard input)\n"
    "  --out FILE        sealed output; refused if it exists unless --force\n"
    "  --to FILE.pub     a recipient's public key (repeat for up to 16 recipients)\n"
    "  --context HEX     up to 64 bytes bound into the file (e.g. a contract hash)\n"
    "  --threads N       worker threads (default: one per CPU)\n"
    "  --chunk-rows N    rows per chunk, 1-1048576 (default 1048576; chunks are\n"
    "                    also cut at about 32 MB of column data)\n"
    "  --zstd-level N    compression level 1-19 (default 1)\n"
    "  --force           replace an existing output file\n"
    "  --stats           print rows, sizes, throughput and peak memory to stderr\n"
    "\n"
    "Exit codes: 0 ok, 2 usage, 3 input (bad CSV value, schema, file), 4 crypto, 5 internal.\n";

typedef struct {
    const char *schema, *in, *out, *context_hex;
    const char *to[DCR_SEALED_RECIPIENTS_MAX];
    size_t nto;
    long threads, level, chunk_rows;
    int force, stats;
} seal_args;

static int parse_args(int argc, char **argv, seal_args *a)
{
    enum {
        O_SCHEMA = 1,
        O_IN,
        O_OUT,
        O_TO,
        O_CONTEXT,
        O_THREADS,
        O_LEVEL,
        O_ROWS,
        O_FORCE,
        O_STATS
    };
    static const struct option opts[] = {{"schema", required_argument, 0, O_SCHEMA},
                                         {"in", required_argument, 0, O_IN},
                                         {"out", required_argument, 0, O_OUT},
                                         {"to", required_argument, 0, O_TO},
                                         {"context", required_argument, 0, O_CONTEXT},
                                         {"threads", required_argument, 0, O_THREADS},
                                         {"zstd-level", required_argument, 0, O_LEVEL},
                                         {"chunk-rows", required_argument, 0, O_ROWS},
                                         {"force", no_argument, 0, O_FORCE},
                                         {"stats", no_argument, 0, O_STATS},
                                         {0, 0, 0, 0}};
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_SCHEMA:
            a->schema = optarg;
            break;
        case O_IN:
            a->in = optarg;
            break;
        case O_OUT:
            a->out = optarg;
            break;
        case O_CONTEXT:
            a->context_hex = optarg;
            break;
        case O_FORCE:
            a->force = 1;
            break;
        case O_STATS:
            a->stats = 1;
            break;
        case O_TO:
            if (a->nto == DCR_SEALED_RECIPIENTS_MAX)
                return cli_usage_error(&dcr_cmd_seal, "at most %d --to recipients",
                                       DCR_SEALED_RECIPIENTS_MAX);
            a->to[a->nto++] = optarg;
            break;
        case O_THREADS:
            if (!cli_parse_int(optarg, 1, 64, &a->threads))
                return cli_usage_error(&dcr_cmd_seal, "--threads must be 1-64");
            break;
        case O_ROWS:
            if (!cli_parse_int(optarg, 1, 1 << 20, &a->chunk_rows))
                return cli_usage_error(&dcr_cmd_seal, "--chunk-rows must be 1-1048576");
            break;
        case O_LEVEL:
            if (!cli_parse_int(optarg, 1, 19, &a->level))
                return cli_usage_error(&dcr_cmd_seal, "--zstd-level must be 1-19");
            break;
        default:
            return cli_usage_error(&dcr_cmd_seal, "unknown or incomplete option '%s'",
                                   argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error(&dcr_cmd_seal, "unexpected argument '%s'", argv[optind]);
    if (!a->schema || !a->in || !a->out || a->nto == 0)
        return cli_usage_error(&dcr_cmd_seal, "--schema, --in, --out and --to are required");
    return 0;
}

static dcr_status load_recipients(const seal_args *a, dcr_party_pub *pubs, dcr_error *err)
{
    for (size_t i = 0; i < a->nto; i++) {
        dcr_status s = dcr_party_pub_load(a->to[i], &pubs[i], err);
        if (s != DCR_OK) return s;
    }
    return DCR_OK;
}

static dcr_status parse_context(const char *hex, uint8_t *ctx, size_t *len, dcr_error *err)
{
    *len = 0;
    if (!hex) return DCR_OK;
    size_t n = strlen(hex);
    if (n % 2 || n / 2 > DCR_SEALED_CONTEXT_MAX || !dcr_hex_decode(ctx, n / 2, hex, n))
        return dcr_fail(err, DCR_EUSAGE,
                        "--context must be an even number of hex digits, at "
                        "most %d bytes",
                        DCR_SEALED_CONTEXT_MAX);
    *len = n / 2;
    return DCR_OK;
}

static dcr_status seal_files(const seal_args *a, dcr_seal_options *opt, dcr_seal_stats *st,
                             dcr_error *err)
{
    int in_fd = 0;
    if (strcmp(a->in, "-") != 0 && (in_fd = open(a->in, O_RDONLY | O_CLOEXEC)) < 0)
        return dcr_fail(err, DCR_EINPUT, "%s: cannot open: %m", a->in);
    dcr_atomic_file out;
    dcr_status s = dcr_atomic_open(&out, a->out, 0644, a->force, err);
    if (s == DCR_OK) {
        s = dcr_seal_csv(in_fd, out.fd, opt, st, err);
        if (s == DCR_OK)
            s = dcr_atomic_commit(&out, err);
        else
            dcr_atomic_abort(&out);
    }
    if (in_fd != 0) close(in_fd);
    return s;
}

static int run(int argc, char **argv)
{
    seal_args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc;
    dcr_error err = {0};
    dcr_schema schema;
    dcr_party_pub pubs[DCR_SEALED_RECIPIENTS_MAX];
    uint8_t context[DCR_SEALED_CONTEXT_MAX];
    size_t context_len;
    dcr_status s = parse_context(a.context_hex, context, &context_len, &err);
    if (s == DCR_OK) s = load_recipients(&a, pubs, &err);
    if (s == DCR_OK) s = dcr_schema_load(a.schema, &schema, &err);
    if (s != DCR_OK) return cli_report("seal", &err);
    dcr_seal_options opt = {
        .schema = &schema,
        .recipients = pubs,
        .nrecipients = a.nto,
        .context = context,
        .context_len = context_len,
        .threads = (int)a.threads,
        .zstd_level = (int)a.level,
        .chunk_rows = (uint32_t)a.chunk_rows,
        .in_name = strcmp(a.in, "-") ? a.in : "<stdin>",
    };
    dcr_seal_stats st;
    double t0 = cli_now();
    s = seal_files(&a, &opt, &st, &err);
    double secs = cli_now() - t0;
    dcr_schema_free(&schema);
    if (s != DCR_OK) return cli_report("seal", &err);
    fprintf(stderr, "sealed %llu rows into %s (%llu chunks, %llu bytes)\n",
            (unsigned long long)st.rows, a.out, (unsigned long long)st.chunks,
            (unsigned long long)st.bytes_out);
    if (a.stats)
        fprintf(stderr,
                "stats: in %llu bytes, %.3f s, %.1f MB/s, output %.1f%% of input, "
                "peak RSS %.1f MiB\n",
                (unsigned long long)st.bytes_in, secs,
                secs > 0 ? (double)st.bytes_in / 1e6 / secs : 0.0,
                st.bytes_in ? 100.0 * (double)st.bytes_out / (double)st.bytes_in : 0.0,
                cli_peak_rss_mib());
    return 0;
}

const dcr_command dcr_cmd_seal = {"seal", "encrypt a CSV file into a sealed dataset", usage, run};

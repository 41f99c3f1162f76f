/*
 * cmd_seal.c: `dcr seal`, CSV to a sealed dataset for one or more recipients,
 * and `dcr seal --validate`, which checks every row and writes nothing.
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
#include "contract/contract.h"
#include "base/hygiene.h"
#include "store/seal.h"
#include "store/sealed.h"

static const char usage[] =
    "Usage: dcr seal --contract CONTRACT.json --dataset NAME --in DATA.csv --out DATA.dcr\n"
    "                --to NAME.pub [options]\n"
    "       dcr seal --schema SCHEMA.json --in DATA.csv --out DATA.dcr --to NAME.pub [options]\n"
    "       dcr seal (--contract FILE --dataset NAME | --schema FILE) --in DATA.csv --validate\n"
    "\n"
    "Encrypts a CSV file into a sealed dataset that only the holders of the\n"
    "recipients' private keys can open. Values are checked against the schema's\n"
    "types and normalised; any bad value refuses the whole file and writes nothing.\n"
    "The input may be gzip- or zstd-compressed (recognised by its content, not its\n"
    "name, and decompressed on the fly: no plaintext reaches the disk). A file that\n"
    "would give no rows is refused.\n"
    "\n"
    "Options:\n"
    "  --contract FILE   take the dataset's columns, types and normalisation from\n"
    "                    this contract (it must lint clean) and bind the file to\n"
    "                    the contract: its context is the contract's SHA-256 hash\n"
    "  --dataset NAME    the contract's dataset to seal (with --contract)\n"
    "  --schema FILE     low-level alternative to --contract: a schema JSON file\n"
    "  --in FILE         CSV input with a header row ('-' for standard input);\n"
    "                    plain, gzip or zstd\n"
    "  --delimiter C     the field separator: one ASCII character such as ';' or\n"
    "                    '|', or tab (also \\t) for tab-separated files (default ,)\n"
    "  --no-header       the file has no header row: its fields are the dataset's\n"
    "                    columns in the contract's (or schema's) order\n"
    "  --format F        csv (default) or jsonl: JSON Lines, one object per line\n"
    "                    with the column names as keys (a missing key is NULL)\n"
    "  --validate        read the whole file and list every bad row on stdout\n"
    "                    (line, column, reason); seal nothing (--out and --to are\n"
    "                    not needed). Exit 0 only if every row is good\n"
    "  --max-errors N    with --validate, list at most N bad rows, then count the\n"
    "                    rest (default 100, at most 100000)\n"
    "  --allow-empty     seal (or accept) a file with no data rows\n"
    "  --out FILE        sealed output; refused if it exists unless --force\n"
    "  --to FILE.pub     a recipient's public key (repeat for up to 16 recipients)\n"
    "  --context HEX     up to 64 bytes bound into the file (not with --contract)\n"
    "  --threads N       worker threads (default: one per CPU)\n"
    "  --chunk-rows N    rows per chunk, 1-1048576 (default 1048576; chunks are\n"
    "                    also cut at about 32 MB of column data)\n"
    "  --zstd-level N    compression level 1-19 (default 1)\n"
    "  --compress MODE   fast (default): TEXT columns of mostly distinct values\n"
    "                    (e-mails, ids) with LZ4, which queries decompress about\n"
    "                    twice as fast, everything else with zstd; small: zstd\n"
    "                    for every column (smaller files, slower scans)\n"
    "  --max-bad-rows N  skip and report up to N rows with bad values instead of\n"
    "                    refusing the file (CSV syntax errors are always fatal)\n"
    "  --force           replace an existing output file\n"
    "  --stats           print rows, sizes, throughput and peak memory to stderr\n"
    "\n"
    "Exit codes: 0 ok, 2 usage, 3 input (bad CSV value, schema, file), 4 crypto, 5 internal.\n";

typedef struct {
    const char *schema, *contract, *dataset, *in, *out, *context_hex;
    const char *to[DCR_SEALED_RECIPIENTS_MAX];
    size_t nto;
    long threads, level, chunk_rows, max_bad_rows, max_errors;
    int force, stats, small, no_header, validate, allow_empty, jsonl;
    char delimiter;
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
        O_BAD,
        O_FORCE,
        O_STATS,
        O_CONTRACT,
        O_DATASET,
        O_COMPRESS,
        O_DELIM,
        O_NOHEADER,
        O_VALIDATE,
        O_MAXERR,
        O_EMPTY,
        O_FORMAT
    };
    static const struct option opts[] = {{"schema", required_argument, 0, O_SCHEMA},
                                         {"contract", required_argument, 0, O_CONTRACT},
                                         {"dataset", required_argument, 0, O_DATASET},
                                         {"in", required_argument, 0, O_IN},
                                         {"out", required_argument, 0, O_OUT},
                                         {"to", required_argument, 0, O_TO},
                                         {"context", required_argument, 0, O_CONTEXT},
                                         {"threads", required_argument, 0, O_THREADS},
                                         {"zstd-level", required_argument, 0, O_LEVEL},
                                         {"compress", required_argument, 0, O_COMPRESS},
                                         {"chunk-rows", required_argument, 0, O_ROWS},
                                         {"max-bad-rows", required_argument, 0, O_BAD},
                                         {"force", no_argument, 0, O_FORCE},
                                         {"stats", no_argument, 0, O_STATS},
                                         {"delimiter", required_argument, 0, O_DELIM},
                                         {"no-header", no_argument, 0, O_NOHEADER},
                                         {"validate", no_argument, 0, O_VALIDATE},
                                         {"max-errors", required_argument, 0, O_MAXERR},
                                         {"allow-empty", no_argument, 0, O_EMPTY},
                                         {"format", required_argument, 0, O_FORMAT},
                                         {0, 0, 0, 0}};
    opterr = 0;
    optind = 1;
    int c, rc;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_DELIM:
            if ((rc = cli_parse_delimiter(&dcr_cmd_seal, optarg, &a->delimiter)))
                return rc;
            break;
        case O_NOHEADER:
            a->no_header = 1;
            break;
        case O_VALIDATE:
            a->validate = 1;
            break;
        case O_EMPTY:
            a->allow_empty = 1;
            break;
        case O_FORMAT:
            if (strcmp(optarg, "csv") != 0 && strcmp(optarg, "jsonl") != 0)
                return cli_usage_error(&dcr_cmd_seal, "--format must be csv or jsonl");
            a->jsonl = strcmp(optarg, "jsonl") == 0;
            break;
        case O_MAXERR:
            if (!cli_parse_int(optarg, 1, 100000, &a->max_errors))
                return cli_usage_error(&dcr_cmd_seal, "--max-errors must be 1-100000");
            break;
        case O_SCHEMA:
            a->schema = optarg;
            break;
        case O_CONTRACT:
            a->contract = optarg;
            break;
        case O_DATASET:
            a->dataset = optarg;
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
        case O_BAD:
            if (!cli_parse_int(optarg, 0, 1000000000L, &a->max_bad_rows))
                return cli_usage_error(&dcr_cmd_seal, "--max-bad-rows must be 0-1000000000");
            break;
        case O_LEVEL:
            if (!cli_parse_int(optarg, 1, 19, &a->level))
                return cli_usage_error(&dcr_cmd_seal, "--zstd-level must be 1-19");
            break;
        case O_COMPRESS:
            if (strcmp(optarg, "fast") != 0 && strcmp(optarg, "small") != 0)
                return cli_usage_error(&dcr_cmd_seal, "--compress must be fast or small");
            a->small = strcmp(optarg, "small") == 0;
            break;
        default:
            return cli_usage_error(&dcr_cmd_seal, "unknown or incomplete option '%s'",
                                   argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error(&dcr_cmd_seal, "unexpected argument '%s'", argv[optind]);
    if (!a->schema == !a->contract)
        return cli_usage_error(&dcr_cmd_seal, "give exactly one of --schema or --contract");
    if (!a->contract != !a->dataset)
        return cli_usage_error(&dcr_cmd_seal,
                               "--dataset NAME goes with --contract, and only there");
    if (a->contract && a->context_hex)
        return cli_usage_error(&dcr_cmd_seal,
                               "--context cannot be used with --contract (the context is then "
                               "the contract's hash)");
    if (a->max_errors && !a->validate)
        return cli_usage_error(&dcr_cmd_seal, "--max-errors goes with --validate (to skip bad "
                                              "rows while sealing, use --max-bad-rows)");
    if (a->validate && a->max_bad_rows)
        return cli_usage_error(&dcr_cmd_seal, "--validate already reads past every bad row: "
                                              "drop --max-bad-rows");
    if (a->jsonl && (a->delimiter || a->no_header))
        return cli_usage_error(&dcr_cmd_seal, "--delimiter and --no-header are for CSV, not "
                                              "--format jsonl (its keys name the columns)");
    if (a->validate && !a->in)
        return cli_usage_error(&dcr_cmd_seal, "--validate needs --in FILE");
    if (!a->validate && (!a->in || !a->out || a->nto == 0))
        return cli_usage_error(&dcr_cmd_seal, "--in, --out and --to are required");
    return 0;
}

static dcr_status load_recipients(const seal_args *a, dcr_party_pub *pubs, dcr_error *err)
{
    for (size_t i = 0; i < a->nto; i++) {
        dcr_status s = dcr_party_pub_load(a->to[i], &pubs[i], err);
        if (s != DCR_OK)
            return s;
    }
    return DCR_OK;
}

static dcr_status parse_context(const char *hex, uint8_t *ctx, size_t *len, dcr_error *err)
{
    *len = 0;
    if (!hex)
        return DCR_OK;
    size_t n = strlen(hex);
    if (n % 2 || n / 2 > DCR_SEALED_CONTEXT_MAX || !dcr_hex_decode(ctx, n / 2, hex, n))
        return dcr_fail(err, DCR_EUSAGE,
                        "--context must be an even number of hex digits, at "
                        "most %d bytes",
                        DCR_SEALED_CONTEXT_MAX);
    *len = n / 2;
    return DCR_OK;
}

/* The schema from the contract's dataset; the context becomes the
 * contract's hash so the sealed header names the contract it belongs to. */
static dcr_status schema_from_contract(const seal_args *a, dcr_schema *schema, uint8_t *ctx,
                                       size_t *ctx_len, dcr_error *err)
{
    dcr_contract c;
    dcr_contract_diags diags;
    dcr_status s = dcr_contract_load(a->contract, &c, &diags, NULL, NULL, err);
    if (s == DCR_EINPUT && diags.n)
        dcr_contract_diags_print(&diags, a->contract, stderr);
    dcr_contract_diags_free(&diags);
    if (s == DCR_OK)
        s = dcr_contract_dataset_schema(&c, a->dataset, schema, err);
    if (s == DCR_EINPUT && strstr(err->msg, "has no dataset"))
        dcr_error_prefix(err, "%s", a->contract);
    if (s == DCR_OK) {
        memcpy(ctx, c.hash, DCR_SHA256_LEN);
        *ctx_len = DCR_SHA256_LEN;
    }
    dcr_contract_free(&c);
    return s;
}

static dcr_status load_schema(const seal_args *a, dcr_schema *schema, uint8_t *ctx, size_t *ctx_len,
                              dcr_error *err)
{
    if (a->contract)
        return schema_from_contract(a, schema, ctx, ctx_len, err);
    return dcr_schema_load(a->schema, schema, err);
}

static dcr_status seal_files(const seal_args *a, dcr_seal_options *opt, dcr_seal_stats *st,
                             dcr_error *err)
{
    int in_fd = 0;
    if (strcmp(a->in, "-") != 0 && (in_fd = open(a->in, O_RDONLY | O_CLOEXEC)) < 0)
        return dcr_fail(err, DCR_EINPUT, "%s: cannot open: %m", a->in);
    if (a->validate) {
        dcr_status s = dcr_seal_csv(in_fd, -1, opt, st, err);
        if (in_fd != 0)
            close(in_fd);
        return s;
    }
    dcr_atomic_file out;
    dcr_status s = dcr_atomic_open(&out, a->out, 0644, a->force, err);
    if (s == DCR_OK) {
        s = dcr_seal_csv(in_fd, out.fd, opt, st, err);
        if (s == DCR_OK)
            s = dcr_atomic_commit(&out, err);
        else
            dcr_atomic_abort(&out);
    }
    if (in_fd != 0)
        close(in_fd);
    return s;
}

/* Rows skipped under --max-bad-rows, on stderr. */
static void report_skipped(dcr_seal_stats *st)
{
    if (st->bad_report.len) {
        fprintf(stderr, "skipped rows with bad values:\n");
        fwrite(st->bad_report.data, 1, st->bad_report.len, stderr);
        if (st->bad_rows > st->bad_reported)
            fprintf(stderr, "... and %llu more\n",
                    (unsigned long long)(st->bad_rows - st->bad_reported));
    }
    dcr_buf_free(&st->bad_report);
}

/* --validate: the bad rows on stdout (the command's output, one per line,
 * for grep and editors), the verdict on stderr; exit 0 only if all good. */
static int report_validation(const dcr_seal_options *opt, dcr_seal_stats *st, dcr_status s,
                             dcr_error *err)
{
    if (st->bad_report.len)
        fwrite(st->bad_report.data, 1, st->bad_report.len, stdout);
    if (st->bad_rows > st->bad_reported)
        printf("... and %llu more bad rows (--max-errors %llu)\n",
               (unsigned long long)(st->bad_rows - st->bad_reported),
               (unsigned long long)opt->max_reported);
    fflush(stdout);
    dcr_buf_free(&st->bad_report);
    if (s != DCR_OK && !(s == DCR_EINPUT && st->bad_rows && st->rows == 0))
        return cli_report("seal", err); /* a fatal error: CSV syntax, I/O, header, no rows */
    fprintf(stderr, "dcr seal --validate: %s (%s): %llu rows good, %llu bad; nothing written\n",
            opt->in_name, st->input_kind, (unsigned long long)st->rows,
            (unsigned long long)st->bad_rows);
    return s != DCR_OK || st->bad_rows ? DCR_EINPUT : 0;
}

static int run(int argc, char **argv)
{
    seal_args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc;
    dcr_error err = {0};
    dcr_schema schema;
    dcr_party_pub pubs[DCR_SEALED_RECIPIENTS_MAX];
    uint8_t context[DCR_SEALED_CONTEXT_MAX];
    size_t context_len;
    dcr_status s = parse_context(a.context_hex, context, &context_len, &err);
    if (s == DCR_OK && !a.validate)
        s = load_recipients(&a, pubs, &err);
    if (s == DCR_OK)
        s = load_schema(&a, &schema, context, &context_len, &err);
    if (s != DCR_OK)
        return cli_report("seal", &err);
    dcr_seal_options opt = {
        .schema = &schema,
        .recipients = pubs,
        .nrecipients = a.nto,
        .context = context,
        .context_len = context_len,
        .threads = (int)a.threads,
        .zstd_level = (int)a.level,
        .compress_small = a.small != 0,
        .chunk_rows = (uint32_t)a.chunk_rows,
        .max_bad_rows = (uint64_t)a.max_bad_rows,
        .in_name = strcmp(a.in, "-") ? a.in : "<stdin>",
        .delimiter = a.delimiter,
        .no_header = a.no_header != 0,
        .validate = a.validate != 0,
        .allow_empty = a.allow_empty != 0,
        .jsonl = a.jsonl != 0,
        .max_reported = a.validate ? (uint64_t)(a.max_errors ? a.max_errors : 100) : 0,
    };
    dcr_seal_stats st = {0};
    double t0 = cli_now();
    s = seal_files(&a, &opt, &st, &err);
    double secs = cli_now() - t0;
    dcr_schema_free(&schema);
    if (a.validate)
        return report_validation(&opt, &st, s, &err);
    report_skipped(&st);
    if (s != DCR_OK)
        return cli_report("seal", &err);
    fprintf(stderr, "sealed %llu rows into %s (%llu chunks, %llu bytes",
            (unsigned long long)st.rows, a.out, (unsigned long long)st.chunks,
            (unsigned long long)st.bytes_out);
    if (st.bad_rows)
        fprintf(stderr, "; %llu bad rows skipped", (unsigned long long)st.bad_rows);
    if (strcmp(st.input_kind, "plain") != 0)
        fprintf(stderr, "; %s input", st.input_kind);
    fprintf(stderr, ")\n");
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

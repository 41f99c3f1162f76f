/*
 * cmd_upload.c: `dcr upload`: seal a CSV locally under the contract (schema
 * and normalisation from it, its hash bound in) to two recipients, the
 * provider's own key (so it can re-grant later) and the attested instance's
 * HPKE key, then stream the sealed file to the clean room. The sealed bytes
 * go to an unlinked temporary file first (their hash is signed before the
 * body is sent); plaintext never touches disk.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/bytes.h"
#include "cli/remote.h"
#include "crypto/hash.h"
#include "store/seal.h"
#include "store/sealed.h"

static const char usage[] =
    "Usage: dcr upload --server URL --contract FILE --key NAME.key --dataset NAME DATA.csv\n"
    "\n"
    "Verifies the clean room's attestation, seals DATA.csv under the contract to\n"
    "your own key and the attested instance key, and uploads it (a progress bar on\n"
    "a terminal). You must own the dataset in the contract. The server checks\n"
    "every chunk before it keeps the upload; a re-upload replaces the dataset.\n"
    "DATA.csv may be gzip- or zstd-compressed (told by content, not by name). A\n"
    "file that would give no rows is refused. Check a file first with\n"
    "dcr seal --contract FILE --dataset NAME --in DATA.csv --validate.\n"
    "\n" CLI_REMOTE_USAGE "  --dataset NAME    the contract's dataset this file holds\n"
    "  --delimiter C     the field separator: one ASCII character, or tab (default ,)\n"
    "  --no-header       no header row: fields are the dataset's columns in order\n"
    "  --allow-empty     upload a file with no data rows\n"
    "  --format F        csv (default) or jsonl (JSON Lines: one object per line)\n"
    "  --threads N       sealing threads (default: one per CPU)\n"
    "\n"
    "Exit codes: 0 uploaded, 2 usage, 3 input (CSV, contract, refused upload),\n"
    "4 verification (attestation, pinning, authentication), 5 internal.\n";

typedef struct {
    bool tty;
    double t0, last;
} progress_state;

static void progress(void *ctx, uint64_t sent, uint64_t total)
{
    progress_state *p = ctx;
    double now = cli_now();
    if (!p->tty || (now - p->last < 0.1 && sent < total))
        return;
    p->last = now;
    int width = 30, done = total ? (int)((double)sent / (double)total * width) : width;
    fprintf(stderr, "\r  [%.*s%*s] %5.1f%%  %.1f MB", done, "##############################",
            width - done, "", total ? 100.0 * (double)sent / (double)total : 100.0,
            (double)sent / 1e6);
    if (sent >= total)
        fputc('\n', stderr);
}

/* How the file is read: options shared with dcr seal. */
typedef struct {
    long threads;
    char delimiter;
    bool no_header, allow_empty, jsonl;
} upload_input;

static dcr_status seal_to_temp(cli_remote *r, const char *dataset, const char *csv,
                               const upload_input *how, int *out_fd, uint64_t *size,
                               uint8_t sha[32], uint64_t *rows, dcr_error *err)
{
    dcr_schema schema;
    dcr_status st = dcr_contract_dataset_schema(&r->contract, dataset, &schema, err);
    if (st != DCR_OK)
        return st;
    int in = open(csv, O_RDONLY | O_CLOEXEC);
    const char *tmpdir = getenv("TMPDIR");
    int fd = open(tmpdir && *tmpdir ? tmpdir : "/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (in < 0 || fd < 0) {
        st = dcr_fail(err, DCR_EINPUT, "%s: %m", in < 0 ? csv : "cannot make a temporary file");
        goto out;
    }
    dcr_party_pub to[2] = {r->key.pub, {{0}, {0}}};
    memcpy(to[1].hpke_pub, dcr_client_instance_info(r->cl)->keys.hpke_pub, 32);
    dcr_seal_options opt = {.schema = &schema,
                            .recipients = to,
                            .nrecipients = 2,
                            .context = r->contract.hash,
                            .context_len = 32,
                            .threads = (int)how->threads,
                            .in_name = csv,
                            .delimiter = how->delimiter,
                            .no_header = how->no_header,
                            .allow_empty = how->allow_empty,
                            .jsonl = how->jsonl};
    dcr_seal_stats stats = {0};
    st = dcr_seal_csv(in, fd, &opt, &stats, err);
    dcr_buf_free(&stats.bad_report);
    *rows = stats.rows;
    dcr_hash_ctx *h = NULL;
    if (st == DCR_OK && (st = dcr_hash_init(&h, DCR_SHA256, err)) == DCR_OK) {
        uint8_t buf[1 << 16];
        ssize_t n;
        *size = 0;
        lseek(fd, 0, SEEK_SET);
        while (st == DCR_OK && (n = read(fd, buf, sizeof buf)) > 0) {
            st = dcr_hash_update(h, buf, (size_t)n, err);
            *size += (uint64_t)n;
        }
        if (st == DCR_OK && n < 0)
            st = dcr_fail(err, DCR_EINPUT, "cannot read the sealed temporary file: %m");
        if (st == DCR_OK)
            st = dcr_hash_final(h, sha, err);
        else
            dcr_hash_free(h);
    }
out:
    if (in >= 0)
        close(in);
    if (st == DCR_OK)
        *out_fd = fd;
    else if (fd >= 0)
        close(fd);
    dcr_schema_free(&schema);
    return st;
}

/* What the server would refuse only after the whole file was sealed and
 * sent: a dataset the caller does not own, or a file that is not a CSV. */
static dcr_status precheck(const cli_remote *r, const char *dataset, const char *csv,
                           dcr_error *err)
{
    int d = dcr_contract_find_dataset(&r->contract, dataset);
    if (d < 0)
        return dcr_fail(err, DCR_EINPUT, "the contract has no dataset \"%s\"", dataset);
    const char *me = cli_remote_party(r);
    const dcr_contract_dataset *ds = &r->contract.datasets[d];
    if (strcmp(r->contract.parties[ds->owner].name, me) != 0)
        return dcr_fail(err, DCR_EINPUT,
                        "dataset \"%s\" belongs to %s in the contract, not to %s: only its owner "
                        "uploads it",
                        dataset, r->contract.parties[ds->owner].name, me);
    int fd = open(csv, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return dcr_fail(err, DCR_EINPUT, "%s: %m", csv);
    char head[sizeof DCR_SEALED_MAGIC - 1];
    ssize_t n = read(fd, head, sizeof head);
    close(fd);
    if (n == (ssize_t)sizeof head && memcmp(head, DCR_SEALED_MAGIC, sizeof head) == 0)
        return dcr_fail(err, DCR_EINPUT,
                        "%s is a sealed dcr file, not a CSV: upload takes the CSV and seals it "
                        "itself, to you and to the attested instance (a file sealed earlier is "
                        "not wrapped to this instance)",
                        csv);
    return DCR_OK;
}

static int upload(cli_remote *r, const char *dataset, const char *csv, const upload_input *how)
{
    dcr_error err = {0};
    if (precheck(r, dataset, csv, &err) != DCR_OK)
        return cli_report("upload", &err);
    int fd = -1;
    uint64_t size = 0, rows = 0;
    uint8_t sha[32];
    double t0 = cli_now();
    dcr_status st = seal_to_temp(r, dataset, csv, how, &fd, &size, sha, &rows, &err);
    if (st != DCR_OK)
        return cli_report("upload", &err);
    fprintf(stderr, "dcr upload: sealed %llu rows of %s (%.1f MB) in %.2f s; uploading\n",
            (unsigned long long)rows, dataset, (double)size / 1e6, cli_now() - t0);
    char path[128];
    snprintf(path, sizeof path, "/v1/datasets/%s", dataset);
    progress_state p = {isatty(2) == 1, cli_now(), 0};
    dcr_client_response resp = {0};
    st = dcr_client_put_file(r->cl, path, fd, size, sha, progress, &p, &resp, &err);
    close(fd);
    json_t *o = NULL;
    if (st == DCR_OK)
        st = dcr_client_json(&resp, &o, &err);
    dcr_client_response_free(&resp);
    if (st != DCR_OK)
        return cli_report("upload", &err);
    const char *hash = json_string_value(json_object_get(o, "sha256"));
    printf("uploaded %s: %lld rows, %lld chunks, %lld bytes, sha256 %s\n", dataset,
           (long long)json_integer_value(json_object_get(o, "rows")),
           (long long)json_integer_value(json_object_get(o, "chunks")),
           (long long)json_integer_value(json_object_get(o, "bytes")), hash ? hash : "(none)");
    json_decref(o);
    return 0;
}

static int run(int argc, char **argv)
{
    static const struct option opts[] = {CLI_REMOTE_OPTIONS,
                                         {"dataset", required_argument, 0, 'd'},
                                         {"threads", required_argument, 0, 't'},
                                         {"delimiter", required_argument, 0, 'D'},
                                         {"no-header", no_argument, 0, 'H'},
                                         {"allow-empty", no_argument, 0, 'E'},
                                         {"format", required_argument, 0, 'f'},
                                         {0, 0, 0, 0}};
    cli_remote r = {0};
    const char *dataset = NULL;
    upload_input how = {0};
    int c, rc;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'd')
            dataset = optarg;
        else if (c == 'D') {
            if ((rc = cli_parse_delimiter(&dcr_cmd_upload, optarg, &how.delimiter)))
                return rc;
        } else if (c == 'H')
            how.no_header = true;
        else if (c == 'E')
            how.allow_empty = true;
        else if (c == 'f') {
            if (strcmp(optarg, "csv") != 0 && strcmp(optarg, "jsonl") != 0)
                return cli_usage_error(&dcr_cmd_upload, "--format must be csv or jsonl");
            how.jsonl = strcmp(optarg, "jsonl") == 0;
        } else if (c == 't') {
            if (!cli_parse_int(optarg, 1, 64, &how.threads))
                return cli_usage_error(&dcr_cmd_upload, "--threads must be 1-64");
        } else if (!cli_remote_opt(&r, c, optarg))
            return cli_usage_error(&dcr_cmd_upload, "unknown or incomplete option '%s'",
                                   argv[optind - 1]);
    }
    if (!dataset || optind != argc - 1)
        return cli_usage_error(&dcr_cmd_upload, "give --dataset NAME and one CSV file");
    rc = cli_remote_open(&r, &dcr_cmd_upload, true);
    if (rc == 0)
        rc = upload(&r, dataset, argv[optind], &how);
    cli_remote_close(&r);
    return rc;
}

const dcr_command dcr_cmd_upload = {"upload", "seal a CSV to the attested clean room and upload it",
                                    usage, run};

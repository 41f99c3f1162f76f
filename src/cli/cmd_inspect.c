/*
 * cmd_inspect.c: `dcr inspect`, what a sealed file says about itself: header,
 * schema, recipients, chunk sizes. Never plaintext values. With --key it also
 * authenticates every chunk and shows rows and per-column sizes.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "base/bytes.h"
#include "cli/command.h"
#include "base/hygiene.h"
#include "store/sealed_reader.h"

static const char usage[] =
    "Usage: dcr inspect [--key NAME.key] DATA.dcr\n"
    "\n"
    "Prints a sealed dataset's header (format, dataset, schema, context, chunk\n"
    "limits, recipients' key ids) and its chunks with their sizes. Prints no data.\n"
    "\n"
    "Options:\n"
    "  --key FILE   also authenticate every chunk and show row counts and\n"
    "               per-column sizes (needs a recipient's private key)\n"
    "\n"
    "Exit codes: 0 ok, 2 usage, 3 input (damaged file), 4 crypto, 5 internal.\n";

static const char *norm_name(uint8_t n)
{
    switch (n & DCR_NORM_ALL) {
    case DCR_NORM_TRIM:
        return " normalize=trim";
    case DCR_NORM_LOWER:
        return " normalize=lower";
    case DCR_NORM_ALL:
        return " normalize=trim,lower";
    }
    return "";
}

static void print_header(const dcr_sealed_reader *r)
{
    const dcr_sealed_header *h = &r->header;
    char hex[2 * DCR_SEALED_CONTEXT_MAX + 1];
    printf("file:        %s (%llu bytes)\n", r->path, (unsigned long long)r->file_size);
    printf("format:      dcr sealed dataset v%d, AES-256-GCM STREAM chunks%s, data key wrapped "
           "with HPKE X25519/HKDF-SHA256/AES-128-GCM\n",
           DCR_SEALED_VERSION, h->segmented ? " (segmented: each column sealed apart)" : "");
    printf("dataset:     %s\n", h->schema.dataset);
    dcr_hex_encode(hex, h->context, h->context_len);
    printf("context:     %s\n", h->context_len ? hex : "(none)");
    printf("chunk limit: %u rows, %u bytes\n", h->chunk_rows_max, h->chunk_bytes_max);
    dcr_hex_encode(hex, h->core_hash, sizeof h->core_hash);
    printf("header hash: %s\n", hex);
    printf("columns:     %zu\n", h->schema.ncols);
    for (size_t i = 0; i < h->schema.ncols; i++) {
        const dcr_column_def *c = &h->schema.cols[i];
        printf("  %-24s %s%s%s\n", c->name, dcr_type_name(c->type), c->not_null ? " NOT NULL" : "",
               norm_name(c->normalize));
    }
    printf("recipients:  %zu\n", h->nrecipients);
    for (size_t i = 0; i < h->nrecipients; i++) {
        dcr_hex_encode(hex, h->recipients[i].key_id, DCR_KEY_ID_LEN);
        printf("  key id %s\n", hex);
    }
}

/* The directory's codec byte (read_directory has checked it). */
static const char *codec_name(uint8_t codec)
{
    return codec == 1 ? " zstd" : codec == 2 ? " lz4" : "";
}

static dcr_status print_chunk_detail(const dcr_sealed_reader *r, const dcr_buf *plain,
                                     uint64_t *rows, dcr_error *err)
{
    const dcr_schema *s = &r->header.schema;
    dcr_chunk_column_info info[DCR_COLUMNS_MAX];
    uint32_t nrows;
    dcr_status st = dcr_chunk_describe(&r->header, plain->data, plain->len, &nrows, info, err);
    if (st != DCR_OK)
        return st;
    *rows += nrows;
    printf(" rows=%u\n", nrows);
    static const char *const encodings[] = {"plain", "lengths", "dictionary"};
    for (size_t c = 0; c < s->ncols; c++)
        printf("      %-24s %-10s %10u -> %10u bytes%s\n", s->cols[c].name,
               encodings[info[c].encoding], info[c].raw_len, info[c].stored_len,
               codec_name(info[c].codec));
    return DCR_OK;
}

static dcr_status walk_chunks(dcr_sealed_reader *r, const uint8_t *data_key, dcr_error *err)
{
    dcr_buf plain = DCR_BUF_INIT;
    uint64_t total = 0, rows = 0;
    uint32_t count = 0;
    dcr_status s;
    printf("chunks:\n");
    dcr_buf ct = DCR_BUF_INIT;
    for (;;) { /* without a key, only the chunks' lengths are read */
        uint64_t offset;
        size_t len;
        uint32_t index;
        bool last;
        if ((s = dcr_sealed_reader_next_span(r, &offset, &len, &index, &last, err)) || !len)
            break;
        printf("  #%-6u %10zu bytes%s", index, len, last ? " (last)" : "");
        total += len;
        count++;
        if (!data_key) {
            printf("\n");
            continue;
        }
        if ((s = dcr_sealed_reader_read(r, offset, len, &ct, err)) ||
            (s = dcr_sealed_reader_decrypt(r, data_key, ct.data, len, index, last, &plain, err)) ||
            (s = print_chunk_detail(r, &plain, &rows, err)))
            break;
    }
    dcr_buf_free(&ct);
    dcr_buf_wipe_free(&plain);
    if (s != DCR_OK)
        return s;
    printf("total:       %u chunks, %llu ciphertext bytes", count, (unsigned long long)total);
    if (data_key)
        printf(", %llu rows, all chunks authenticated", (unsigned long long)rows);
    printf("\n");
    return DCR_OK;
}

static int run(int argc, char **argv)
{
    static const struct option opts[] = {{"key", required_argument, 0, 'k'}, {0, 0, 0, 0}};
    const char *key_path = NULL;
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c != 'k')
            return cli_usage_error(&dcr_cmd_inspect, "unknown or incomplete option '%s'",
                                   argv[optind - 1]);
        key_path = optarg;
    }
    if (optind != argc - 1)
        return cli_usage_error(&dcr_cmd_inspect, "exactly one sealed file is needed");
    dcr_error err = {0};
    dcr_sealed_reader r;
    dcr_party_key key;
    uint8_t data_key[DCR_DATA_KEY_LEN];
    bool have_key = false;
    dcr_status s = DCR_OK;
    if (key_path && (s = dcr_party_key_load(key_path, &key, &err)))
        return cli_report("inspect", &err);
    if ((s = dcr_sealed_reader_open(&r, argv[optind], &err)) == DCR_OK) {
        print_header(&r);
        if (key_path) {
            s = dcr_sealed_unwrap_key(&r.header, &key, data_key, &err);
            have_key = s == DCR_OK;
        }
        if (s == DCR_OK)
            s = walk_chunks(&r, have_key ? data_key : NULL, &err);
        dcr_sealed_reader_close(&r);
    }
    dcr_wipe(data_key, sizeof data_key);
    if (key_path)
        dcr_party_key_wipe(&key);
    fflush(stdout);
    return s == DCR_OK ? 0 : cli_report("inspect", &err);
}

const dcr_command dcr_cmd_inspect = {"inspect",
                                     "describe a sealed dataset without decrypting "
                                     "its data",
                                     usage, run};

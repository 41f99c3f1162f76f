/*
 * cmd_grant.c: `dcr grant`: after a clean room restarts (new instance, new
 * keys), a provider re-grants its dataset's data key without uploading
 * again: fetch the stored file's header, unwrap the data key with its own
 * key (the upload sealed it to the provider too), wrap it to the new
 * attested instance's HPKE key, and send only that wrap.
 */
#include <stdio.h>
#include <string.h>

#include "base/bytes.h"
#include "cli/remote.h"
#include "base/hygiene.h"
#include "store/sealed.h"

static const char usage[] =
    "Usage: dcr grant --server URL --contract FILE --key NAME.key --dataset NAME\n"
    "\n"
    "Verifies the clean room's attestation, then grants it the data key of a\n"
    "dataset you uploaded earlier (to this or a previous instance). Needed after\n"
    "every restart of the clean room: a new instance has new keys.\n"
    "\n" CLI_REMOTE_USAGE "  --dataset NAME    your dataset\n"
    "\n"
    "Exit codes: 0 granted, 2 usage, 3 input, 4 verification, 5 internal.\n";

static dcr_status regrant(cli_remote *r, const char *dataset, dcr_error *err)
{
    char path[160], body[256];
    snprintf(path, sizeof path, "/v1/datasets/%s/header", dataset);
    dcr_client_response resp = {0};
    dcr_sealed_header h = {0};
    uint8_t key[32];
    size_t need;
    dcr_sealed_recipient wrap;
    dcr_status st = dcr_client_call(r->cl, "GET", path, NULL, 0, &resp, err);
    if (st == DCR_OK &&
        (st = dcr_sealed_header_parse(resp.body.data, resp.body.len, &h, &need, err)))
        dcr_error_prefix(err, "the stored header");
    if (st == DCR_OK && (h.context_len != 32 || !dcr_ct_equal(h.context, r->contract.hash, 32) ||
                         strcmp(h.schema.dataset, dataset) != 0))
        st = dcr_fail(err, DCR_ECRYPTO,
                      "the stored header is not for dataset %s under this contract", dataset);
    if (st == DCR_OK && (st = dcr_sealed_unwrap_key(&h, &r->key, key, err)))
        dcr_error_prefix(err, "your key does not open the stored dataset");
    if (st == DCR_OK)
        st = dcr_sealed_wrap_key(&h, key, dcr_client_instance_info(r->cl)->keys.hpke_pub, &wrap,
                                 err);
    dcr_wipe(key, sizeof key);
    if (st == DCR_OK) {
        char enc[65], wr[97];
        dcr_hex_encode(enc, wrap.enc, 32);
        dcr_hex_encode(wr, wrap.wrapped, 48);
        snprintf(body, sizeof body, "{\"enc\":\"%s\",\"wrapped\":\"%s\"}", enc, wr);
        snprintf(path, sizeof path, "/v1/datasets/%s/grant", dataset);
        dcr_client_response_free(&resp);
        st = dcr_client_call(r->cl, "POST", path, body, strlen(body), &resp, err);
    }
    dcr_sealed_header_free(&h);
    dcr_client_response_free(&resp);
    return st;
}

static int run(int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_REMOTE_OPTIONS, {"dataset", required_argument, 0, 'd'}, {0, 0, 0, 0}};
    cli_remote r = {0};
    const char *dataset = NULL;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'd')
            dataset = optarg;
        else if (!cli_remote_opt(&r, c, optarg))
            return cli_usage_error(&dcr_cmd_grant, "unknown or incomplete option '%s'",
                                   argv[optind - 1]);
    }
    if (!dataset || optind != argc)
        return cli_usage_error(&dcr_cmd_grant, "give --dataset NAME");
    int rc = cli_remote_open(&r, &dcr_cmd_grant, true);
    if (rc == 0) {
        dcr_error err = {0};
        if (regrant(&r, dataset, &err) != DCR_OK)
            rc = cli_report("grant", &err);
        else
            printf("granted %s to the attested instance\n", dataset);
    }
    cli_remote_close(&r);
    return rc;
}

const dcr_command dcr_cmd_grant = {"grant", "re-grant a dataset's key to a restarted clean room",
                                   usage, run};

/*
 * remote.c: opening a verified connection for the client commands
 * (remote.h). The summary line on stderr says what was verified, and says
 * loudly when the evidence is simulated.
 */
#include "cli/remote.h"

#include <stdio.h>
#include <string.h>

#include "base/bytes.h"
#include "base/hygiene.h"

bool cli_remote_opt(cli_remote *r, int c, const char *arg)
{
    switch (c) {
    case 1001:
        r->server = arg;
        return true;
    case 1002:
        r->contract_path = arg;
        return true;
    case 1003:
        r->key_path = arg;
        return true;
    case 1004:
        r->quiet = true;
        return true;
    }
    return false;
}

static dcr_status load(cli_remote *r, bool need_key, dcr_error *err)
{
    dcr_contract_diags diags;
    dcr_status st = dcr_contract_load(r->contract_path, &r->contract, &diags, NULL, NULL, err);
    if (st == DCR_EINPUT && diags.n)
        dcr_contract_diags_print(&diags, r->contract_path, stderr);
    dcr_contract_diags_free(&diags);
    r->have_contract = true;
    if (st == DCR_OK && need_key) {
        st = dcr_party_key_load(r->key_path, &r->key, err);
        r->have_key = st == DCR_OK;
    }
    return st;
}

int cli_remote_open(cli_remote *r, const dcr_command *cmd, bool need_key)
{
    if (!r->server || !r->contract_path || (need_key && !r->key_path))
        return cli_usage_error(cmd, "%s",
                               need_key ? "--server, --contract and --key are required"
                                        : "--server and --contract are required");
    dcr_error err = {0};
    dcr_status st = load(r, need_key, &err);
    if (st == DCR_OK)
        st =
            dcr_client_open(&r->cl, r->server, &r->contract, r->have_key ? &r->key : NULL, 0, &err);
    if (st != DCR_OK)
        return cli_report(cmd->name, &err);
    const dcr_client_instance *in = dcr_client_instance_info(r->cl);
    if (!r->quiet) {
        char hex[65];
        dcr_hex_encode(hex, in->keys.tls_spki_sha256, 32);
        fprintf(stderr,
                "dcr %s: verified %s evidence for contract %s; TLS key pinned (sha256 %.16s...)\n",
                cmd->name, in->evidence_type, r->contract.name, hex);
    }
    if (!r->quiet && strcmp(in->evidence_type, "sim") == 0)
        fprintf(stderr,
                "dcr %s: WARNING: the server runs in simulation mode (--tee sim): its "
                "evidence is insecure and proves nothing; the contract allows it for "
                "development only\n",
                cmd->name);
    return 0;
}

void cli_remote_close(cli_remote *r)
{
    dcr_client_close(r->cl);
    r->cl = NULL;
    if (r->have_contract)
        dcr_contract_free(&r->contract);
    if (r->have_key)
        dcr_party_key_wipe(&r->key);
    r->have_contract = r->have_key = false;
}

const char *cli_remote_party(const cli_remote *r)
{
    int p = dcr_client_party(r->cl);
    return p >= 0 ? r->contract.parties[p].name : "-";
}

int cli_remote_parse_answer(cli_remote *r, const dcr_command *cmd, int argc, char **argv,
                            bool file_ok, cli_output *out, const char **file, const char **arg)
{
    static const struct option opts[] = {CLI_REMOTE_OPTIONS,
                                         {"format", required_argument, 0, 'f'},
                                         {"out", required_argument, 0, 'o'},
                                         {"force", no_argument, 0, 'F'},
                                         {"file", required_argument, 0, 'i'},
                                         {0, 0, 0, 0}};
    *out = (cli_output){0};
    *file = *arg = NULL;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'f')
            out->format = optarg;
        else if (c == 'o')
            out->path = optarg;
        else if (c == 'F')
            out->force = true;
        else if (c == 'i' && file_ok)
            *file = optarg;
        else if (!cli_remote_opt(r, c, optarg))
            return cli_usage_error(cmd, "unknown or incomplete option '%s'", argv[optind - 1]);
    }
    if (out->format && strcmp(out->format, "table") && strcmp(out->format, "csv") &&
        strcmp(out->format, "json"))
        return cli_usage_error(cmd, "--format must be table, csv or json");
    if (out->force && !out->path)
        return cli_usage_error(cmd, "--force goes with --out FILE");
    if (*file) {
        if (optind != argc)
            return cli_usage_error(cmd, "give the SQL either with --file or as the argument, "
                                        "not both");
        return 0;
    }
    if (optind != argc - 1)
        return cli_usage_error(cmd, "give one argument after the options (see --help)");
    *arg = argv[optind];
    return 0;
}

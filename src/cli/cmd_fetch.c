/*
 * cmd_fetch.c: `dcr fetch ID`: a receiver takes a result the contract sent
 * it from another analyst's query (GET /v1/results/ID), opens it with its
 * own party key (the clean room sealed it to that key: room/results.c) and
 * prints it like `dcr query` does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/remote.h"
#include "cli/result.h"
#include "room/room.h"

static const char usage[] =
    "Usage: dcr fetch --server URL --contract FILE --key NAME.key [--format table|csv|json] ID\n"
    "\n"
    "Fetches result ID (named in the analyst's answer and in the audit log) that\n"
    "the contract's rules.receivers send to you, and opens it with your key. Only\n"
    "a receiver of that result may fetch it; every fetch is audited.\n"
    "\n" CLI_REMOTE_USAGE
    "  --format F        table (default), csv or json (the whole opened answer)\n"
    "  --out FILE        write the result to FILE (atomically, mode 0600); its format\n"
    "                    from --format or the name (.csv, .json)\n"
    "  --force           replace an existing --out FILE\n"
    "\n"
    "Exit codes: 0 result, 2 usage, 3 no such result, 4 not yours or does not\n"
    "open, 5 internal.\n";

static dcr_status fetch_open(cli_remote *r, const char *id, json_t **answer, dcr_error *err)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/results/%s", id);
    dcr_client_response resp = {0};
    json_t *o = NULL;
    dcr_room_sealed sealed = {0};
    dcr_status st = dcr_client_call(r->cl, "GET", path, NULL, 0, &resp, err);
    st = st ? st : dcr_client_json(&resp, &o, err);
    st = st ? st : dcr_room_sealed_parse(o, &sealed, err);
    int party = dcr_client_party(r->cl);
    if (st == DCR_OK && party < 0)
        st = dcr_fail(err, DCR_EINPUT, "your key is not a party of the contract");
    st = st ? st
            : dcr_room_sealed_open(&r->contract, (size_t)party, id, &sealed, &r->key, answer, err);
    dcr_room_sealed_free(&sealed);
    json_decref(o);
    dcr_client_response_free(&resp);
    return st;
}

static int fetch(cli_remote *r, const char *id, cli_output *out)
{
    json_t *o = NULL;
    dcr_error err = {0};
    dcr_status st = fetch_open(r, id, &o, &err);
    st = st ? st : cli_output_answer(out, o, NULL, 0, &err);
    st = st ? st : cli_output_commit(out, &err);
    json_decref(o);
    return st ? cli_report("fetch", &err) : 0;
}

static int run(int argc, char **argv)
{
    cli_remote r = {0};
    cli_output out;
    const char *file, *id;
    dcr_error err = {0};
    int rc = cli_remote_parse_answer(&r, &dcr_cmd_fetch, argc, argv, false, &out, &file, &id);
    if (rc)
        return rc;
    if (strlen(id) != DCR_ROOM_RESULT_ID_LEN)
        return cli_usage_error(&dcr_cmd_fetch, "give the result id (r and 32 hex digits)");
    if (cli_output_open(&out, &err) != DCR_OK)
        return cli_report("fetch", &err);
    rc = cli_remote_open(&r, &dcr_cmd_fetch, true);
    if (rc == 0)
        rc = fetch(&r, id, &out);
    cli_output_abort(&out);
    cli_remote_close(&r);
    return rc;
}

const dcr_command dcr_cmd_fetch = {"fetch", "fetch a result the contract sends you (receiver)",
                                   usage, run};

/*
 * fuzz_api_json.c: every JSON document that crosses the API, on both sides.
 * Each input is given to every parser:
 *
 *   server: the POST /v1/query body (srv_query_body_parse) and the
 *           POST /v1/datasets/NAME/grant body (srv_grant_body_parse);
 *   client: the GET /v1/attestation answer checked against the fixed
 *           contract of fuzz_fixture.h (dcr_client_check_attestation: hex
 *           keys, base64 evidence, evidence parse and verification, the
 *           REPORT_DATA binding), an error answer as 400/401/500
 *           (dcr_client_check_status), a query answer printed as a table,
 *           as CSV and its privacy line (cli/result.h), and a status or
 *           budget answer printed as `dcr status`/`dcr budget` do.
 *
 * Invariants beyond "no crash": a query body that parses gives SQL that
 * round-trips through {"sql": ...}; a grant body gives 80 bytes; a refusal is
 * a JSON 400; an error answer becomes DCR_EINPUT (DCR_ECRYPTO for 401/403)
 * whose message has only printable ASCII, whatever the server sent (no
 * terminal escapes), and the printed table carries no control character;
 * an accepted attestation names an evidence type.
 *
 * Seeds (DCR_FUZZ_WRITE_SEEDS=DIR): a valid attestation of an instance of the
 * fixed contract (sim evidence binding its keys), real bodies and answers
 * in the shapes the server sends.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "api/binding.h"
#include "attest/tee.h"
#include "cli/result.h"
#include "client/client.h"
#include "fuzz_fixture.h"
#include "server/internal.h"

static FILE *devnull;

static void write_attestation(const char *dir)
{
    dcr_instance_keys k;
    memset(k.tls_spki_sha256, 0xcd, 32);
    memset(k.hpke_pub, 0x42, 32);
    memset(k.audit_pub, 0x61, 32);
    uint8_t rd[64], m[48];
    memset(m, 0x11, sizeof m);
    dcr_evidence ev = {.type = DCR_EV_SIM};
    dcr_buf enc = DCR_BUF_INIT;
    dcr_error err;
    if (dcr_instance_report_data(fx_contract.hash, &k, rd, &err) != DCR_OK ||
        dcr_sim_make_report(rd, m, &ev.report, &err) != DCR_OK ||
        dcr_evidence_encode(&ev, &enc, &err) != DCR_OK)
        exit(1);
    char *b64 = malloc(4 * ((enc.len + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)b64, enc.data, (int)enc.len);
    json_t *o = json_pack("{s:i,s:o,s:s,s:s,s:o,s:o,s:o,s:o,s:I}", "version", 1, "contract_sha256",
                          srv_hex(fx_contract.hash, 32), "evidence_type", "sim", "evidence", b64,
                          "tls_spki_sha256", srv_hex(k.tls_spki_sha256, 32), "hpke_public_key",
                          srv_hex(k.hpke_pub, 32), "audit_public_key", srv_hex(k.audit_pub, 32),
                          "report_data", srv_hex(rd, 64), "started_at", (json_int_t)FX_NOW);
    char *text = json_dumps(o, JSON_COMPACT);
    fx_write(dir, "attestation.json", text, strlen(text));
    dcr_client_instance inst;
    if (dcr_client_check_attestation(&fx_contract, text, strlen(text), 0, &inst, &err) != DCR_OK) {
        fprintf(stderr, "seed attestation refused: %s\n", err.msg);
        exit(1);
    }
    json_decref(inst.claims);
    free(text);
    json_decref(o);
    free(b64);
    dcr_buf_free(&enc);
    dcr_evidence_free(&ev);
}

static void write_seeds(const char *dir)
{
    static const char *const seeds[][2] = {
        {"query-body.json", "{\"sql\": \"SELECT campaign, COUNT(*) FROM impressions GROUP BY "
                            "campaign\"}"},
        {"query-body-escapes.json", "{\"sql\":\"SELECT '\\u00e9\\n\\t\\\"x\\\"', COUNT(*) FROM "
                                    "impressions\"}"},
        {"grant-body.json",
         "{\"enc\": \"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\", "
         "\"wrapped\": \"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223"
         "2425262728292a2b2c2d2e2f\"}"},
        {"result.json",
         "{\"columns\":[{\"name\":\"campaign\",\"type\":\"TEXT\"},{\"name\":\"count\",\"type\":"
         "\"BIGINT\"},{\"name\":\"avg\",\"type\":\"DOUBLE PRECISION\"},{\"name\":\"ok\",\"type\":"
         "\"BOOLEAN\"}],\"rows\":[[\"spring, \\\"sale\\\"\",120,1.5,true],[null,7,null,false],"
         "[\"\\u00e9t\\u00e9\",5,-0.25,null]],\"privacy\":{\"k\":5,\"rows_released\":3,"
         "\"rows_suppressed\":1,\"inner_groups_suppressed\":0,\"epsilon\":0.5,\"delta\":0.0,"
         "\"template\":\"by_campaign\",\"receivers\":[\"advertiser\"]}}"},
        {"error-refused.json",
         "{\"error\":{\"code\":\"refused\",\"rule\":\"not-aggregated\",\"message\":\"SQL:1:8: "
         "refused by rule not-aggregated: output rows are dataset rows\"}}"},
        {"error-auth.json", "{\"error\":{\"code\":\"bad_signature\",\"message\":\"request "
                            "signature does not verify under alice's key\"}}"},
        {"status.json",
         "{\"contract_sha256\":\"e749876a5e9cf522395376906461cd7d302c452e28abf9b00bb5dfbb608950b7"
         "\",\"started_at\":1767225600,\"datasets\":[{\"name\":\"impressions\",\"owner\":"
         "\"publisher\",\"uploaded\":true,\"rows\":1000,\"bytes\":52311,\"key\":true},{\"name\":"
         "\"purchases\",\"owner\":\"advertiser\",\"uploaded\":false}],\"queries\":{\"running\":0,"
         "\"total\":4,\"refusals\":1},\"audit\":{\"records\":9,\"head\":\"00ff\"}}"},
        {"budget.json", "{\"party\":\"advertiser\",\"epsilon_spent\":1.5,\"epsilon_budget\":10.0,"
                        "\"epsilon_remaining\":8.5,\"epsilon_per_query\":0.5,\"delta_spent\":0.0}"},
    };
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++)
        fx_write(dir, seeds[i][0], seeds[i][1], strlen(seeds[i][1]));
    write_attestation(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fx_init();
    if (fx_seed_dir()) {
        write_seeds(fx_seed_dir());
        exit(0);
    }
    devnull = fopen("/dev/null", "w");
    if (!devnull)
        __builtin_trap();
    return 0;
}

static void server_bodies(const uint8_t *data, size_t size)
{
    srv_response res = {0};
    char *sql = NULL;
    if (srv_query_body_parse(data, size, &sql, &res)) {
        if (!sql || res.json)
            __builtin_trap();
        /* what the client sends for that SQL parses back to it */
        json_t *o = json_pack("{s:s}", "sql", sql);
        char *text = json_dumps(o, JSON_COMPACT);
        char *again = NULL;
        if (!text || !srv_query_body_parse((const uint8_t *)text, strlen(text), &again, &res) ||
            strcmp(again, sql) != 0)
            __builtin_trap();
        free(again);
        free(text);
        json_decref(o);
        free(sql);
    } else if (sql || !res.json || res.status != 400) {
        __builtin_trap();
    }
    json_decref(res.json);
    res = (srv_response){0};
    uint8_t grant[80];
    if (srv_grant_body_parse(data, size, grant, &res) ? res.json != NULL
                                                      : !res.json || res.status != 400)
        __builtin_trap();
    json_decref(res.json);
}

static void check_message(const dcr_error *err)
{
    if (!err->msg[0])
        __builtin_trap();
    for (const char *p = err->msg; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e) {
            fprintf(stderr, "control or non-ASCII byte in: %s\n", err->msg);
            __builtin_trap();
        }
}

static void client_answers(const uint8_t *data, size_t size)
{
    dcr_client_instance inst;
    dcr_error err = {0};
    if (dcr_client_check_attestation(&fx_contract, data, size, 0, &inst, &err) == DCR_OK) {
        if (!inst.evidence_type[0] || !inst.claims)
            __builtin_trap();
    } else if (inst.claims) {
        __builtin_trap();
    }
    json_decref(inst.claims);

    dcr_client_response r = {.status = 200};
    r.body.data = (uint8_t *)data; /* read only: never freed here */
    r.body.len = size;
    static const long statuses[] = {200, 400, 401, 403, 404, 413, 422, 500, 504};
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        r.status = statuses[i];
        dcr_status s = dcr_client_check_status("POST", "/v1/query", &r, &err);
        if (r.status < 400) {
            if (s != DCR_OK)
                __builtin_trap();
            continue;
        }
        if (s != (r.status == 401 || r.status == 403 ? DCR_ECRYPTO : DCR_EINPUT))
            __builtin_trap();
        check_message(&err);
    }

    json_t *o = NULL;
    if (dcr_client_json(&r, &o, &err) == DCR_OK) {
        char *shown = NULL;
        size_t n = 0;
        FILE *mem = open_memstream(&shown, &n);
        if (!mem)
            __builtin_trap();
        cli_result_print(mem, o, false);
        cli_result_print_privacy(mem, o);
        fclose(mem);
        for (size_t i = 0; i < n; i++)
            if (((unsigned char)shown[i] < 0x20 && shown[i] != '\n') || shown[i] == 0x7f)
                __builtin_trap(); /* a terminal escape reached the table */
        free(shown);
        cli_result_print(devnull, o, true);
        char *s = json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
        if (s)
            fputs(s, devnull);
        free(s);
    }
    json_decref(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    server_bodies(data, size);
    client_answers(data, size);
    return 0;
}

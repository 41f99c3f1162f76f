/*
 * test_api_parse.c: the pure parsers under the service, factored out of the
 * HTTP and libcurl code so they can be fuzzed (fuzz/fuzz_request.c,
 * fuzz/fuzz_api_json.c): route lookup, the stateless signed-request checks,
 * the JSON request bodies, the client's reading of error answers, and the
 * printing of a query answer whatever JSON the server sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/request.h"
#include "base/bytes.h"
#include "check.h"
#include "cli/result.h"
#include "client/client.h"
#include "contract/contract.h"
#include "crypto/hash.h"
#include "crypto/party_key.h"
#include "server/internal.h"

#define NOW ((int64_t)1767225600)

static dcr_party_key alice;
static dcr_contract contract;
static const uint8_t tls[32] = {9, 9, 9};

static int load_contract(void)
{
    char pub[DCR_PUB_TEXT_LEN + 2], text[2048];
    dcr_party_pub_format(&alice.pub, pub, sizeof pub);
    pub[DCR_PUB_TEXT_LEN] = '\0';
    int n = snprintf(
        text, sizeof text,
        "{\"dcr_contract\": 1, \"name\": \"t\", \"version\": 1, \"purpose\": \"t\",\n"
        " \"development\": true,\n"
        " \"parties\": [{\"name\": \"alice\", \"roles\": [\"provider\"], \"public_key\": "
        "\"%s\"}],\n"
        " \"datasets\": [{\"name\": \"d\", \"owner\": \"alice\", \"privacy_unit\": \"u\",\n"
        "   \"columns\": [{\"name\": \"u\", \"type\": \"TEXT\", \"role\": \"id\"}]}],\n"
        " \"rules\": {\"aggregation\": {\"min_units\": 10}},\n"
        " \"evidence\": [{\"type\": \"sim\"}]}\n",
        pub);
    dcr_contract_diags d;
    dcr_error err;
    dcr_status st = dcr_contract_parse(text, (size_t)n, "t.json", &contract, &d, &err);
    dcr_contract_diags_free(&d);
    return st == DCR_OK;
}

static void test_route_find(void)
{
    char param[DCR_NAME_MAX + 1];
    bool known;
    const srv_route *r = srv_route_find("POST", "/v1/datasets/d/grant", param, &known);
    CHECK(r && strcmp(r->pattern, "/v1/datasets/{}/grant") == 0 && strcmp(param, "d") == 0);
    CHECK(!srv_route_find("DELETE", "/v1/query", param, &known) && known);
    CHECK(!srv_route_find("GET", "/v1/nothing", param, &known) && !known);
    CHECK(!srv_route_find("GET", "/v1/datasets//header", param, &known));
}

/* Signed headers for GET /v1/datasets/d/header as alice at time t. */
typedef struct {
    char time[24], nonce[33], hash[65], sig[129];
    srv_auth_headers h;
} signed_hdrs;

static void sign(signed_hdrs *s, int64_t t, const char *party)
{
    dcr_request_fields f = {
        .method = "GET", .path = "/v1/datasets/d/header", .party = party, .time = t};
    memset(f.nonce, 7, 16);
    memcpy(f.tls_key_sha256, tls, 32);
    dcr_error err;
    CHECK(dcr_sha256("", 0, f.content_sha256, &err) == DCR_OK);
    CHECK(dcr_request_sign(&f, alice.sign_seed, s->sig, &err) == DCR_OK);
    snprintf(s->time, sizeof s->time, "%lld", (long long)t);
    dcr_hex_encode(s->nonce, f.nonce, 16);
    dcr_hex_encode(s->hash, f.content_sha256, 32);
    s->h = (srv_auth_headers){party, s->time, s->nonce, s->hash, s->sig};
}

static int check(const srv_auth_headers *h, const char *method, int *party, srv_response *res)
{
    char param[DCR_NAME_MAX + 1];
    bool known;
    const srv_route *r = srv_route_find("GET", "/v1/datasets/d/header", param, &known);
    dcr_request_fields f;
    json_decref(res->json);
    *res = (srv_response){0};
    *party = -1;
    return srv_auth_check(&contract, tls, r, method, "/v1/datasets/d/header", h, NOW, &f, party,
                          res);
}

static const char *code_of(const srv_response *res)
{
    const char *c = json_string_value(json_object_get(json_object_get(res->json, "error"), "code"));
    return c ? c : "";
}

static void test_auth_check(void)
{
    signed_hdrs s;
    srv_response res = {0};
    int party;
    sign(&s, NOW, "alice");
    CHECK(check(&s.h, "GET", &party, &res) && party == 0 && !res.json);
    sign(&s, NOW + DCR_REQUEST_MAX_SKEW + 1, "alice");
    CHECK(!check(&s.h, "GET", &party, &res) && res.status == 401);
    CHECK_STR(code_of(&res), "stale_request");
    sign(&s, NOW, "alice");
    CHECK(!check(&s.h, "HEAD", &party, &res) && res.status == 401); /* method is signed */
    CHECK_STR(code_of(&res), "bad_signature");
    s.h.nonce = "00";
    CHECK(!check(&s.h, "GET", &party, &res));
    CHECK_STR(code_of(&res), "bad_auth_header");
    sign(&s, NOW, "alice");
    s.h.party = "mallory\x1b[2J";
    CHECK(!check(&s.h, "GET", &party, &res));
    CHECK_STR(code_of(&res), "unknown_party");
    const char *msg =
        json_string_value(json_object_get(json_object_get(res.json, "error"), "message"));
    CHECK(msg && !strchr(msg, '\x1b'));
    s.h.signature = NULL;
    CHECK(!check(&s.h, "GET", &party, &res));
    CHECK_STR(code_of(&res), "unauthenticated");
    json_decref(res.json);
}

static void test_bodies(void)
{
    srv_response res = {0};
    char *sql = NULL;
    const char *ok = "{\"sql\": \"SELECT 1\"}";
    CHECK(srv_query_body_parse((const uint8_t *)ok, strlen(ok), &sql, &res) && !res.json);
    CHECK(sql && strcmp(sql, "SELECT 1") == 0);
    free(sql);
    /* the whole body counts: a NUL and more after the object is refused */
    const char nul[] = "{\"sql\": \"SELECT 1\"}\0{}";
    CHECK(!srv_query_body_parse((const uint8_t *)nul, sizeof nul - 1, &sql, &res));
    CHECK(res.status == 400 && !sql);
    json_decref(res.json);
    res = (srv_response){0};
    /* Each kind of bad body says what is wrong, not one catch-all. */
    static const struct {
        const char *body, *says;
    } bad[] = {
        {"{\"sql\": \"SELECT 1\", \"k\": 1}", "unknown key \"k\""},
        {"{\"sql\": 42}", "\"sql\" must be a string, not a number"},
        {"{\"sql\": [\"SELECT 1\"]}", "\"sql\" must be a string, not an array"},
        {"{\"query\": \"SELECT 1\"}", "unknown key \"query\""},
        {"{}", "the body has no \"sql\""},
        {"[\"SELECT 1\"]", "the body is an array; send an object {\"sql\": \"...\"}"},
        {"{\"sql\": \"SELECT 1", "not valid JSON (it ends too early: truncated?)"},
        {"{\"sql\" \"SELECT 1\"}", "not valid JSON: "},
        {"", "not valid JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        res = (srv_response){0};
        CHECK(!srv_query_body_parse((const uint8_t *)bad[i].body, strlen(bad[i].body), &sql, &res));
        const char *msg =
            json_string_value(json_object_get(json_object_get(res.json, "error"), "message"));
        if (!msg || !strstr(msg, bad[i].says)) {
            fprintf(stderr, "  body %s: got %s, want %s\n", bad[i].body, msg ? msg : "-",
                    bad[i].says);
            check_current_failed = 1;
        }
        CHECK(res.status == 400 && !sql);
        json_decref(res.json);
    }
    res = (srv_response){0};
    uint8_t grant[80];
    char body[256], enc[65], wr[97];
    memset(enc, 'a', 64);
    enc[64] = '\0';
    memset(wr, '0', 96);
    wr[96] = '\0';
    snprintf(body, sizeof body, "{\"enc\": \"%s\", \"wrapped\": \"%s\"}", enc, wr);
    CHECK(srv_grant_body_parse((const uint8_t *)body, strlen(body), grant, &res) && !res.json);
    CHECK(grant[0] == 0xaa && grant[79] == 0);
    wr[95] = 'g';
    snprintf(body, sizeof body, "{\"enc\": \"%s\", \"wrapped\": \"%s\"}", enc, wr);
    CHECK(!srv_grant_body_parse((const uint8_t *)body, strlen(body), grant, &res));
    CHECK(res.status == 400);
    const char *gm =
        json_string_value(json_object_get(json_object_get(res.json, "error"), "message"));
    CHECK(gm && strstr(gm, "\"wrapped\" must be 96 hex digits"));
    json_decref(res.json);
}

/* A hostile server's error answer cannot put escapes on the user's terminal. */
static void test_client_error_quoted(void)
{
    const char *body =
        "{\"error\":{\"code\":\"x\\u001b[2Jy\",\"message\":\"m\\u001b]0;t\\u0007\"}}";
    dcr_client_response r = {.status = 401};
    r.body.data = (uint8_t *)body;
    r.body.len = strlen(body);
    dcr_error err;
    CHECK(dcr_client_check_status("GET", "/v1/status", &r, &err) == DCR_ECRYPTO);
    CHECK(!strchr(err.msg, '\x1b') && !strchr(err.msg, '\a'));
    CHECK_MSG(err, "x\\x1b[2Jy");
    r.status = 200;
    CHECK(dcr_client_check_status("GET", "/v1/status", &r, &err) == DCR_OK);
    /* The request id is quoted for the operator; anything but 16 hex
     * digits is not repeated. */
    const char *with_id = "{\"error\":{\"code\":\"refused\",\"message\":\"no\",\"request_id\":"
                          "\"0123456789abcdef\"}}";
    r = (dcr_client_response){.status = 422};
    r.body.data = (uint8_t *)with_id;
    r.body.len = strlen(with_id);
    CHECK(dcr_client_check_status("POST", "/v1/query", &r, &err) == DCR_EINPUT);
    CHECK_MSG(err, "(request id 0123456789abcdef)");
    const char *bad_id = "{\"error\":{\"code\":\"x\",\"message\":\"m\",\"request_id\":\"zz\x1b\"}}";
    r.body.data = (uint8_t *)bad_id;
    r.body.len = strlen(bad_id);
    CHECK(dcr_client_check_status("POST", "/v1/query", &r, &err) == DCR_EINPUT);
    CHECK(!strstr(err.msg, "request id"));
}

static char *render(const char *json, bool csv)
{
    json_error_t je;
    json_t *o = json_loads(json, 0, &je);
    char *out = NULL;
    size_t n;
    FILE *f = open_memstream(&out, &n);
    cli_result_print(f, o, csv);
    cli_result_print_privacy(f, o);
    fclose(f);
    json_decref(o);
    return out;
}

/* Answers of any shape print; names and cells are tamed in the table. */
static void test_result_print(void)
{
    char *t = render("{\"columns\":[{},{\"name\":7},{\"name\":\"a\\u001bb\"}],"
                     "\"rows\":[[1,{\"x\":1},\"\\u001b[31mred\"],[],7]}",
                     false);
    CHECK(t && !strchr(t, '\x1b'));
    CHECK(t && strstr(t, "a?b") && strstr(t, "?[31mred") && strstr(t, "(3 rows)"));
    free(t);
    t = render("{\"columns\":[{\"name\":null},{\"name\":\"n,\\\"q\\\"\"}],\"rows\":[[null,\"\"]]}",
               true);
    CHECK(t && strncmp(t, "\"\",\"n,\"\"q\"\"\"\n,\"\"\n", 17) == 0);
    free(t);
    /* Display width, not code points: CJK takes two columns, a combining
     * accent none, so the bars line up under each other. */
    t = render("{\"columns\":[{\"name\":\"city\"},{\"name\":\"n\"}],"
               "\"rows\":[[\"\u6771\u4eac\",1],[\"Ko\u0308ln\",2],[\"ab\",3]]}",
               false);
    CHECK(t && strstr(t, " city | n\n") && strstr(t, " \xe6\x9d\xb1\xe4\xba\xac | 1\n") &&
          strstr(t, " Ko\xcc\x88ln | 2\n") && strstr(t, " ab   | 3\n"));
    free(t);
    t = render("[]", false);
    CHECK(t && strstr(t, "(0 rows)") && strstr(t, "privacy: k = 0"));
    free(t);
}

int main(void)
{
    dcr_error err = {0};
    if (dcr_party_key_generate(&alice, &err) != DCR_OK || !load_contract())
        return 1;
    RUN(test_route_find);
    RUN(test_auth_check);
    RUN(test_bodies);
    RUN(test_client_error_quoted);
    RUN(test_result_print);
    dcr_contract_free(&contract);
    dcr_party_key_wipe(&alice);
    return check_summary();
}

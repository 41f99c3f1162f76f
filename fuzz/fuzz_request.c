/*
 * fuzz_request.c: the server's decision on a request from its method, path,
 * headers and body, before any state is touched: route lookup
 * (srv_route_find), the signed-request checks (srv_auth_check: headers,
 * party and role, clock skew, Ed25519 signature binding the instance's TLS
 * key), the body hash against the signed one, and the JSON body of the
 * route (srv_query_body_parse, srv_grant_body_parse). The contract and keys
 * are the fixed ones of fuzz_fixture.h and the clock is FX_NOW, so the
 * correctly signed seed requests stay valid.
 *
 * Input: "METHOD PATH\n", header lines "Name: value\n" (names matched
 * without case, the first one counts, as MHD does), an empty line, the body.
 *
 * Invariants beyond "no crash": every refusal is a JSON error with status
 * 401 or 403 (auth) or 400 (body); an accepted request names a party of
 * the contract holding one of the route's roles, and its fields are exactly
 * what the headers say; the replay nonce is never consulted here.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/request.h"
#include "crypto/hash.h"
#include "fuzz_fixture.h"
#include "server/internal.h"

static const uint8_t fx_tls[32] = {0xcd, 0xcd, 0xcd, 0x01};

static int handle(char *text, size_t size);

/* One signed request as the client sends it; time is FX_NOW + skew. The
 * seed must get the decision `want` (0 = accepted) or seed mode fails. */
static void seed_request(const char *dir, const char *name, int party, const char *method,
                         const char *path, const char *body, int64_t skew, int want)
{
    dcr_request_fields f = {.method = method,
                            .path = path,
                            .party = fx_contract.parties[party].name,
                            .time = FX_NOW + skew};
    for (int i = 0; i < 16; i++)
        f.nonce[i] = (uint8_t)(i * 17 + strlen(name));
    memcpy(f.tls_key_sha256, fx_tls, 32);
    dcr_error err;
    char sig[129], nonce[33], hash[65], text[8192];
    if (dcr_sha256(body, strlen(body), f.content_sha256, &err) != DCR_OK ||
        dcr_request_sign(&f, fx_keys[party].sign_seed, sig, &err) != DCR_OK)
        exit(1);
    dcr_hex_encode(nonce, f.nonce, 16);
    dcr_hex_encode(hash, f.content_sha256, 32);
    int n = snprintf(text, sizeof text,
                     "%s %s\nX-Dcr-Party: %s\nX-Dcr-Time: %lld\nX-Dcr-Nonce: %s\n"
                     "X-Dcr-Content-Sha256: %s\nX-Dcr-Signature: %s\n\n%s",
                     method, path, f.party, (long long)f.time, nonce, hash, sig, body);
    fx_write(dir, name, text, (size_t)n);
    if (handle(text, (size_t)n) != want) {
        fprintf(stderr, "seed %s: not the expected decision %d\n", name, want);
        exit(1);
    }
}

static void write_seeds(const char *dir)
{
    seed_request(dir, "status", FX_PUBLISHER, "GET", "/v1/status", "", 0, 0);
    seed_request(dir, "audit", FX_AUDITOR, "GET", "/v1/audit", "", -300, 0);
    seed_request(dir, "budget", FX_ADVERTISER, "GET", "/v1/budget", "", 300, 0);
    seed_request(dir, "contract", FX_ADVERTISER, "GET", "/v1/contract", "", 5, 0);
    seed_request(dir, "query", FX_ADVERTISER, "POST", "/v1/query",
                 "{\"sql\": \"SELECT campaign, COUNT(*) FROM impressions GROUP BY campaign\"}", 0,
                 0);
    seed_request(dir, "grant", FX_PUBLISHER, "POST", "/v1/datasets/impressions/grant",
                 "{\"enc\": \"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\","
                 " \"wrapped\": \"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
                 "202122232425262728292a2b2c2d2e2f\"}",
                 0, 0);
    seed_request(dir, "upload", FX_ADVERTISER, "PUT", "/v1/datasets/purchases", "DCRSEAL", 0, 0);
    seed_request(dir, "header", FX_PUBLISHER, "GET", "/v1/datasets/impressions/header", "", 0, 0);
    seed_request(dir, "forbidden", FX_PUBLISHER, "POST", "/v1/query", "{\"sql\": \"SELECT 1\"}", 0,
                 403);
    seed_request(dir, "stale", FX_ADVERTISER, "GET", "/v1/budget", "", 301, 401);
    fx_write(dir, "attestation", "GET /v1/attestation\n\n", 21);
    fx_write(dir, "unsigned", "GET /v1/status\nX-Dcr-Party: publisher\n\n", 39);
    fx_write(dir, "wrong-method", "DELETE /v1/query\n\n", 18);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fx_init();
    if (fx_seed_dir()) {
        write_seeds(fx_seed_dir());
        exit(0);
    }
    return 0;
}

typedef struct {
    char *name, *value;
} hdr;

/* The value of the first header called name, or NULL. */
static const char *lookup(const hdr *h, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(h[i].name, name) == 0)
            return h[i].value;
    return NULL;
}

static void check_refusal(const srv_response *res, int lo, int hi)
{
    if (!res->json || res->status < lo || res->status > hi)
        __builtin_trap();
    const char *msg =
        json_string_value(json_object_get(json_object_get(res->json, "error"), "message"));
    if (!msg || !*msg)
        __builtin_trap();
}

static void check_accepted(const srv_route *route, const dcr_request_fields *f, int party,
                           const char *method, const char *path, const hdr *h, size_t nh)
{
    if (party < 0 || (size_t)party >= fx_contract.nparties ||
        !(fx_contract.parties[party].roles & route->roles) ||
        strcmp(fx_contract.parties[party].name, f->party) != 0 || f->method != method ||
        f->path != path || memcmp(f->tls_key_sha256, fx_tls, 32) != 0 ||
        f->time < FX_NOW - DCR_REQUEST_MAX_SKEW || f->time > FX_NOW + DCR_REQUEST_MAX_SKEW)
        __builtin_trap();
    char hex[65];
    dcr_hex_encode(hex, f->content_sha256, 32);
    if (strcasecmp(hex, lookup(h, nh, DCR_HDR_CONTENT_SHA256)) != 0)
        __builtin_trap();
}

static void body_checks(const srv_route *route, const dcr_request_fields *f, const uint8_t *body,
                        size_t len)
{
    uint8_t h[32];
    dcr_error err;
    if (dcr_sha256(body, len, h, &err) != DCR_OK)
        __builtin_trap();
    if (memcmp(h, f->content_sha256, 32) != 0 || route->body != SRV_BODY_JSON)
        return; /* the server answers body_hash_mismatch; uploads are fuzz_sealed's */
    srv_response res = {0};
    char *sql = NULL;
    uint8_t grant[80];
    bool is_query = strcmp(route->pattern, "/v1/query") == 0;
    bool ok = is_query ? srv_query_body_parse(body, len, &sql, &res)
                       : srv_grant_body_parse(body, len, grant, &res);
    if (!ok)
        check_refusal(&res, 400, 400);
    else if (res.json || (sql != NULL) != is_query)
        __builtin_trap();
    free(sql);
    json_decref(res.json);
}

static int handle(char *text, size_t size)
{
    /* request line */
    char *end = text + size, *nl = memchr(text, '\n', size);
    if (!nl)
        return -1;
    *nl = '\0';
    char *sp = strchr(text, ' ');
    if (!sp)
        return -1;
    *sp = '\0';
    const char *method = text, *path = sp + 1;
    /* headers until an empty line */
    hdr h[16];
    size_t nh = 0;
    char *p = nl + 1;
    while (p < end) {
        char *e = memchr(p, '\n', (size_t)(end - p));
        if (!e)
            e = end;
        *e = '\0';
        if (p == e) {
            p = e + 1;
            break;
        }
        char *colon = strchr(p, ':');
        if (colon && nh < 16) {
            *colon = '\0';
            char *v = colon + 1;
            while (*v == ' ')
                v++;
            h[nh++] = (hdr){p, v};
        }
        p = e + 1;
    }
    const uint8_t *body = p < end ? (const uint8_t *)p : (const uint8_t *)"";
    size_t blen = p < end ? (size_t)(end - p) : 0;

    /* as http.c's begin() */
    if (strlen(method) >= 16 || strlen(path) > DCR_REQUEST_PATH_MAX || !dcr_request_path_ok(path))
        return -1;
    char param[DCR_NAME_MAX + 1];
    bool known;
    const srv_route *route = srv_route_find(method, path, param, &known);
    if (!route || !route->roles)
        return -1;
    if (strchr(route->pattern, '{') && !dcr_name_valid(param, strlen(param)))
        __builtin_trap();
    srv_auth_headers ah = {lookup(h, nh, DCR_HDR_PARTY), lookup(h, nh, DCR_HDR_TIME),
                           lookup(h, nh, DCR_HDR_NONCE), lookup(h, nh, DCR_HDR_CONTENT_SHA256),
                           lookup(h, nh, DCR_HDR_SIGNATURE)};
    srv_response res = {0};
    dcr_request_fields f;
    int party = -1, rc = 0;
    if (srv_auth_check(&fx_contract, fx_tls, route, method, path, &ah, FX_NOW, &f, &party, &res)) {
        if (res.json)
            __builtin_trap();
        check_accepted(route, &f, party, method, path, h, nh);
        body_checks(route, &f, body, blen);
    } else {
        check_refusal(&res, 401, 403);
        rc = res.status;
    }
    json_decref(res.json);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    handle(text, size);
    free(text);
    return 0;
}

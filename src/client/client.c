/*
 * client.c: attestation, pinning and signed requests over libcurl
 * (client.h). Two easy handles: the first fetches the attestation without
 * trusting the peer and is destroyed; the second, created only after the
 * evidence checked out, carries the pin, so no connection made before
 * verification is ever reused for a signed request.
 */
#include "client/client.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/request.h"
#include "base/bytes.h"
#include "crypto/hash.h"
#include "crypto/util.h"

#define ATTESTATION_MAX (4u << 20)
#define RESPONSE_MAX ((size_t)256 << 20)

struct dcr_client {
    CURL *curl;
    char base[512];
    const dcr_contract *contract;
    const dcr_party_key *key;
    int party;
    dcr_client_instance inst;
    char pin[80];
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void dcr_client_response_free(dcr_client_response *r)
{
    dcr_buf_free(&r->body);
    r->status = 0;
}

typedef struct {
    dcr_buf *buf;
    size_t max;
    bool over;
} sink;

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
    sink *s = ctx;
    size_t len = size * n;
    if (s->buf->len + len > s->max) {
        s->over = true;
        return 0;
    }
    return dcr_buf_append(s->buf, p, len, NULL) == DCR_OK ? len : 0;
}

static dcr_status base_url(dcr_client *cl, const char *url, dcr_error *err)
{
    size_t n = strlen(url);
    while (n && url[n - 1] == '/')
        n--;
    if (strncmp(url, "https://", 8) != 0 || n <= 8 || n >= sizeof cl->base)
        return dcr_fail(err, DCR_EUSAGE,
                        "--server must be an https:// URL (e.g. https://127.0.0.1:8443)");
    memcpy(cl->base, url, n);
    cl->base[n] = '\0';
    return DCR_OK;
}

static void common_opts(CURL *c)
{
    curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_3);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 15L);
    /* The certificate is self-signed: trust comes from the pin to the
     * attested key (checked by curl even without peer verification). */
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
}

/* True when something answers plain HTTP at url's host and port: the
 * question after a failed TLS handshake (a port mix-up, or a proxy). */
static bool speaks_plain_http(const char *base)
{
    char url[600];
    snprintf(url, sizeof url, "http://%s/", base + strlen("https://"));
    CURL *c = curl_easy_init();
    if (!c)
        return false;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    return rc == CURLE_OK;
}

/* The first contact with base failed in TLS: say what the user got wrong
 * rather than OpenSSL's words alone. */
static dcr_status tls_failure(const char *base, const char *what, const char *detail,
                              dcr_error *err)
{
    if (speaks_plain_http(base))
        return dcr_fail(err, DCR_EINPUT,
                        "%s: the server at %s does not speak TLS (it answers plain HTTP): a dcr "
                        "clean room serves HTTPS only; is this the right port (not the metrics "
                        "port)?",
                        what, base);
    return dcr_fail(err, DCR_EINPUT,
                    "%s: the TLS handshake with %s failed (%s): is it a dcr clean room (HTTPS, "
                    "TLS 1.3 only)?",
                    what, base, detail);
}

static dcr_status perform(CURL *c, const char *what, sink *s, long *status, dcr_error *err)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    if (rc == CURLE_SSL_PINNEDPUBKEYNOTMATCH)
        return dcr_fail(err, DCR_ECRYPTO,
                        "%s: the server's TLS key is not the key its attestation evidence "
                        "binds: refusing to talk to it",
                        what);
    if (s->over)
        return dcr_fail(err, DCR_EINPUT, "%s: the response exceeds %zu bytes", what, s->max);
    if (rc != CURLE_OK)
        return dcr_fail(err, DCR_EINPUT, "%s: %s", what,
                        errbuf[0] ? errbuf : curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    return DCR_OK;
}

static dcr_status hex_member(json_t *o, const char *name, uint8_t *out, size_t n, dcr_error *err)
{
    const char *v = json_string_value(json_object_get(o, name));
    if (!v || strlen(v) != 2 * n || !dcr_hex_decode(out, n, v, 2 * n))
        return dcr_fail(err, DCR_EINPUT, "attestation: \"%s\" is missing or not %zu hex bytes",
                        name, n);
    return DCR_OK;
}

static dcr_status decode_evidence(json_t *o, dcr_evidence *ev, dcr_error *err)
{
    const char *b64 = json_string_value(json_object_get(o, "evidence"));
    size_t n = b64 ? strlen(b64) : 0;
    if (!b64 || n % 4 || n / 4 * 3 > DCR_EVIDENCE_MAX + 3)
        return dcr_fail(err, DCR_EINPUT, "attestation: \"evidence\" is missing or not base64");
    uint8_t *raw = malloc(n / 4 * 3 + 1);
    if (!raw)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    int len = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)n);
    dcr_status st;
    if (len < 0) {
        st = dcr_fail(err, DCR_EINPUT, "attestation: \"evidence\" is not base64");
    } else {
        if (n >= 1 && b64[n - 1] == '=')
            len--;
        if (n >= 2 && b64[n - 2] == '=')
            len--;
        st = dcr_evidence_parse(raw, (size_t)len, DCR_EV_UNKNOWN, ev, err);
    }
    free(raw);
    return st;
}

dcr_status dcr_client_check_attestation(const dcr_contract *c, const void *body, size_t len,
                                        time_t at, dcr_client_instance *inst, dcr_error *err)
{
    json_error_t jerr;
    memset(inst, 0, sizeof *inst);
    json_t *o = json_loadb(body, len, 0, &jerr);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        return dcr_fail(err, DCR_EINPUT, "attestation: the server's answer is not a JSON object");
    }
    uint8_t hash[32];
    dcr_evidence ev = {0};
    dcr_status st = hex_member(o, "contract_sha256", hash, 32, err);
    if (st == DCR_OK && !dcr_ct_equal(hash, c->hash, 32))
        st = dcr_fail(err, DCR_ECRYPTO,
                      "attestation: the server runs another contract than yours (hash differs)");
    if (st == DCR_OK)
        st = hex_member(o, "tls_spki_sha256", inst->keys.tls_spki_sha256, 32, err);
    if (st == DCR_OK)
        st = hex_member(o, "hpke_public_key", inst->keys.hpke_pub, 32, err);
    if (st == DCR_OK)
        st = hex_member(o, "audit_public_key", inst->keys.audit_pub, 32, err);
    if (st == DCR_OK)
        st = decode_evidence(o, &ev, err);
    if (st == DCR_OK &&
        (st = dcr_instance_check_evidence(c, &ev, &inst->keys, at, &inst->claims, err)))
        dcr_error_prefix(err, "attestation refused");
    if (st == DCR_OK) {
        snprintf(inst->evidence_type, sizeof inst->evidence_type, "%s",
                 dcr_attest_type_name(ev.type));
        inst->started_at = json_integer_value(json_object_get(o, "started_at"));
    }
    dcr_evidence_free(&ev);
    json_decref(o);
    return st;
}

/* perform() for the first request to a server: TLS failures explained. */
static dcr_status first_contact(CURL *c, const char *base, const char *what, sink *s, long *status,
                                dcr_error *err)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    const char *detail = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    if (rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING)
        return tls_failure(base, what, detail, err);
    if (s->over)
        return dcr_fail(err, DCR_EINPUT, "%s: the response exceeds %zu bytes", what, s->max);
    if (rc != CURLE_OK)
        return dcr_fail(err, DCR_EINPUT, "%s: %s", what, detail);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    return DCR_OK;
}

/* A JSON object with the members every dcr attestation has: tells a dcr
 * clean room from another HTTPS server before the evidence is checked. */
static bool looks_like_attestation(const dcr_buf *body)
{
    json_error_t jerr;
    json_t *o = json_loadb((const char *)body->data, body->len, 0, &jerr);
    bool ok = json_is_object(o) && json_is_string(json_object_get(o, "contract_sha256")) &&
              json_is_string(json_object_get(o, "evidence"));
    json_decref(o);
    return ok;
}

dcr_status dcr_client_health(const char *url, dcr_error *err)
{
    pthread_once(&curl_once, curl_init_once);
    dcr_client probe = {0};
    dcr_status st = base_url(&probe, url, err);
    if (st != DCR_OK)
        return st;
    CURL *c = curl_easy_init();
    if (!c)
        return dcr_fail(err, DCR_EINTERNAL, "cannot start libcurl");
    char full[600];
    snprintf(full, sizeof full, "%s/v1/health", probe.base);
    common_opts(c);
    curl_easy_setopt(c, CURLOPT_URL, full);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    dcr_buf body = DCR_BUF_INIT;
    sink s = {&body, 4096, false};
    long status = 0;
    st = first_contact(c, probe.base, "GET /v1/health", &s, &status, err);
    curl_easy_cleanup(c);
    json_error_t jerr;
    json_t *o = st == DCR_OK ? json_loadb((const char *)body.data, body.len, 0, &jerr) : NULL;
    const char *v = json_string_value(json_object_get(o, "status"));
    if (st == DCR_OK && (status != 200 || !v || strcmp(v, "ok") != 0))
        st = dcr_fail(err, DCR_EINPUT,
                      "GET /v1/health: HTTP %ld without {\"status\": \"ok\"}: %s is not a "
                      "healthy dcr clean room",
                      status, probe.base);
    json_decref(o);
    dcr_buf_free(&body);
    return st;
}

static dcr_status fetch_attestation(dcr_client *cl, time_t at, dcr_error *err)
{
    CURL *c = curl_easy_init();
    if (!c)
        return dcr_fail(err, DCR_EINTERNAL, "cannot start libcurl");
    char url[600];
    snprintf(url, sizeof url, "%s/v1/attestation", cl->base);
    common_opts(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    dcr_buf body = DCR_BUF_INIT;
    sink s = {&body, ATTESTATION_MAX, false};
    long status = 0;
    dcr_status st = first_contact(c, cl->base, "GET /v1/attestation", &s, &status, err);
    curl_easy_cleanup(c);
    if (st == DCR_OK && status != 200)
        st = dcr_fail(err, DCR_EINPUT,
                      "%s is not a dcr clean room: GET /v1/attestation answered HTTP %ld, not "
                      "the clean room's attestation JSON",
                      cl->base, status);
    if (st == DCR_OK && !looks_like_attestation(&body))
        st = dcr_fail(err, DCR_EINPUT,
                      "%s is not a dcr clean room: GET /v1/attestation is not the clean room's "
                      "attestation JSON (no contract_sha256 and evidence)",
                      cl->base);
    if (st == DCR_OK)
        st = dcr_client_check_attestation(cl->contract, body.data, body.len, at, &cl->inst, err);
    dcr_buf_free(&body);
    return st;
}

dcr_status dcr_client_open(dcr_client **out, const char *url, const dcr_contract *contract,
                           const dcr_party_key *key, time_t at, dcr_error *err)
{
    pthread_once(&curl_once, curl_init_once);
    *out = NULL;
    dcr_client *cl = calloc(1, sizeof *cl);
    if (!cl)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    cl->contract = contract;
    cl->key = key;
    cl->party = key ? dcr_contract_find_party_by_key(contract, key->pub.sign_pub) : -1;
    dcr_status st = base_url(cl, url, err);
    if (st == DCR_OK && key && cl->party < 0)
        st = dcr_fail(err, DCR_EUSAGE, "your key is not the key of any party of this contract");
    if (st == DCR_OK)
        st = fetch_attestation(cl, at, err);
    if (st == DCR_OK && !(cl->curl = curl_easy_init()))
        st = dcr_fail(err, DCR_EINTERNAL, "cannot start libcurl");
    if (st == DCR_OK) {
        char b64[64];
        EVP_EncodeBlock((unsigned char *)b64, cl->inst.keys.tls_spki_sha256, 32);
        snprintf(cl->pin, sizeof cl->pin, "sha256//%s", b64);
        common_opts(cl->curl);
        curl_easy_setopt(cl->curl, CURLOPT_PINNEDPUBLICKEY, cl->pin);
        /* Prove the pin now: the attested key must be the one serving. */
        dcr_client_response r = {0};
        st = dcr_client_call(cl, "GET", "/v1/health", NULL, 0, &r, err);
        dcr_client_response_free(&r);
    }
    if (st != DCR_OK) {
        dcr_client_close(cl);
        return st;
    }
    *out = cl;
    return DCR_OK;
}

void dcr_client_close(dcr_client *cl)
{
    if (!cl)
        return;
    if (cl->curl)
        curl_easy_cleanup(cl->curl);
    json_decref(cl->inst.claims);
    free(cl);
}

const dcr_client_instance *dcr_client_instance_info(const dcr_client *cl)
{
    return &cl->inst;
}

int dcr_client_party(const dcr_client *cl)
{
    return cl->party;
}

/* The five X-Dcr-* headers for a request with body hash h. */
static dcr_status sign_headers(dcr_client *cl, const char *method, const char *path,
                               const uint8_t h[32], struct curl_slist **hdrs, dcr_error *err)
{
    dcr_request_fields f = {.method = method,
                            .path = path,
                            .party = cl->contract->parties[cl->party].name,
                            .time = (int64_t)time(NULL)};
    memcpy(f.content_sha256, h, 32);
    memcpy(f.tls_key_sha256, cl->inst.keys.tls_spki_sha256, 32);
    dcr_status st = dcr_random_bytes(f.nonce, sizeof f.nonce, err);
    char sig[129], line[300], hex[65];
    if (st == DCR_OK)
        st = dcr_request_sign(&f, cl->key->sign_seed, sig, err);
    if (st != DCR_OK)
        return st;
    snprintf(line, sizeof line, DCR_HDR_PARTY ": %s", f.party);
    *hdrs = curl_slist_append(*hdrs, line);
    snprintf(line, sizeof line, DCR_HDR_TIME ": %lld", (long long)f.time);
    *hdrs = curl_slist_append(*hdrs, line);
    dcr_hex_encode(hex, f.nonce, sizeof f.nonce);
    snprintf(line, sizeof line, DCR_HDR_NONCE ": %s", hex);
    *hdrs = curl_slist_append(*hdrs, line);
    dcr_hex_encode(hex, h, 32);
    snprintf(line, sizeof line, DCR_HDR_CONTENT_SHA256 ": %s", hex);
    *hdrs = curl_slist_append(*hdrs, line);
    snprintf(line, sizeof line, DCR_HDR_SIGNATURE ": %s", sig);
    *hdrs = curl_slist_append(*hdrs, line);
    return *hdrs ? DCR_OK : dcr_fail(err, DCR_EINTERNAL, "out of memory");
}

dcr_status dcr_client_check_status(const char *method, const char *path,
                                   const dcr_client_response *r, dcr_error *err)
{
    if (r->status < 400)
        return DCR_OK;
    json_error_t jerr;
    json_t *o = json_loadb((const char *)r->body.data, r->body.len, 0, &jerr);
    json_t *e = json_object_get(o, "error");
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    /* Both come from the server: quoted, so they cannot carry terminal
     * escapes or invalid UTF-8 to the user's screen. */
    char q[DCR_ERROR_MSG_MAX - 190], qc[48];
    dcr_error_quote(q, sizeof q, msg ? msg : "(no message)", msg ? strlen(msg) : 12);
    dcr_error_quote(qc, sizeof qc, code ? code : "error", code ? strlen(code) : 5);
    /* The request id lets the party quote this refusal to the operator,
     * who finds it in the server's log. */
    const char *id = json_string_value(json_object_get(e, "request_id"));
    bool id_ok = id && strlen(id) == 16 && strspn(id, "0123456789abcdef") == 16;
    dcr_status st = dcr_fail(err, r->status == 401 || r->status == 403 ? DCR_ECRYPTO : DCR_EINPUT,
                             "%s %s: HTTP %ld %s: %s%s%s%s", method, path, r->status, qc, q,
                             id_ok ? " (request id " : "", id_ok ? id : "", id_ok ? ")" : "");
    json_decref(o);
    return st;
}

static dcr_status prepare(dcr_client *cl, const char *method, const char *path, const uint8_t h[32],
                          struct curl_slist **hdrs, dcr_error *err)
{
    char url[1024];
    snprintf(url, sizeof url, "%s%s", cl->base, path);
    CURL *c = cl->curl;
    curl_easy_reset(c);
    common_opts(c);
    curl_easy_setopt(c, CURLOPT_PINNEDPUBLICKEY, cl->pin);
    curl_easy_setopt(c, CURLOPT_URL, url);
    if (cl->key && strcmp(path, "/v1/health") != 0 && strcmp(path, "/v1/attestation") != 0) {
        dcr_status st = sign_headers(cl, method, path, h, hdrs, err);
        if (st != DCR_OK)
            return st;
    }
    *hdrs = curl_slist_append(*hdrs, "Expect: 100-continue");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hdrs);
    return DCR_OK;
}

dcr_status dcr_client_call(dcr_client *cl, const char *method, const char *path, const void *body,
                           size_t len, dcr_client_response *resp, dcr_error *err)
{
    dcr_client_response local = {0};
    dcr_client_response *r = resp ? resp : &local;
    uint8_t h[32];
    struct curl_slist *hdrs = NULL;
    dcr_status st = dcr_sha256(body ? body : "", body ? len : 0, h, err);
    if (st == DCR_OK)
        st = prepare(cl, method, path, h, &hdrs, err);
    if (st == DCR_OK) {
        CURL *c = cl->curl;
        if (strcmp(method, "GET") != 0) {
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? len : 0));
            hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
            curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
        }
        sink s = {&r->body, RESPONSE_MAX, false};
        char what[300];
        snprintf(what, sizeof what, "%s %s", method, path);
        st = perform(c, what, &s, &r->status, err);
    }
    if (st == DCR_OK)
        st = dcr_client_check_status(method, path, r, err);
    curl_slist_free_all(hdrs);
    dcr_client_response_free(&local);
    return st;
}

typedef struct {
    int fd;
    uint64_t sent, total;
    dcr_client_progress progress;
    void *ctx;
} file_source;

static size_t on_read(char *buf, size_t size, size_t n, void *ctx)
{
    file_source *f = ctx;
    ssize_t got = read(f->fd, buf, size * n);
    if (got < 0)
        return CURL_READFUNC_ABORT;
    f->sent += (uint64_t)got;
    if (f->progress)
        f->progress(f->ctx, f->sent, f->total);
    return (size_t)got;
}

dcr_status dcr_client_put_file(dcr_client *cl, const char *path, int fd, uint64_t size,
                               const uint8_t sha256[32], dcr_client_progress progress,
                               void *progress_ctx, dcr_client_response *resp, dcr_error *err)
{
    struct curl_slist *hdrs = NULL;
    if (lseek(fd, 0, SEEK_SET) != 0)
        return dcr_fail(err, DCR_EINPUT, "cannot rewind the sealed file: %m");
    dcr_status st = prepare(cl, "PUT", path, sha256, &hdrs, err);
    if (st == DCR_OK) {
        file_source f = {fd, 0, size, progress, progress_ctx};
        CURL *c = cl->curl;
        hdrs = curl_slist_append(hdrs, "Content-Type: application/octet-stream");
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, &f);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)size);
        sink s = {&resp->body, RESPONSE_MAX, false};
        char what[300];
        snprintf(what, sizeof what, "PUT %s", path);
        st = perform(c, what, &s, &resp->status, err);
    }
    if (st == DCR_OK)
        st = dcr_client_check_status("PUT", path, resp, err);
    curl_slist_free_all(hdrs);
    return st;
}

dcr_status dcr_client_json(const dcr_client_response *r, json_t **out, dcr_error *err)
{
    json_error_t jerr;
    *out = json_loadb((const char *)r->body.data, r->body.len, 0, &jerr);
    if (!*out)
        return dcr_fail(err, DCR_EINPUT, "the server's answer is not JSON (%s)", jerr.text);
    return DCR_OK;
}

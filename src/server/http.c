/*
 * http.c: the libmicrohttpd glue. MHD parses HTTP and speaks TLS (GnuTLS,
 * TLS 1.3 only through the priority string); this file routes a request to
 * its srv_route, authenticates it as soon as its headers are in (so a
 * refused upload is refused before its body is read), feeds the body to the
 * route (a JSON body into memory up to max_json, a stream piece by piece up
 * to max_upload) while hashing it, checks the hash against the signed one,
 * and sends the route's JSON response. One log line per request (log.c),
 * with the request id that the response carries in X-Dcr-Request-Id and in
 * every error body, so a party can quote it to the operator.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/bytes.h"
#include "base/hygiene.h"
#include "crypto/util.h"
#include "server/internal.h"

#define TLS13_ONLY "NORMAL:-VERS-ALL:+VERS-TLS1.3"

double srv_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

json_t *srv_hex(const uint8_t *b, size_t n)
{
    char *hex = malloc(2 * n + 1);
    if (!hex)
        return NULL;
    dcr_hex_encode(hex, b, n);
    json_t *j = json_string(hex);
    free(hex);
    return j;
}

void srv_json(srv_response *res, int status, json_t *body)
{
    json_decref(res->json);
    res->status = status;
    res->json = body;
}

void srv_error(srv_response *res, int status, const char *code, const char *fmt, ...)
{
    char msg[DCR_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    srv_json(res, status, json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg));
}

static const char *json_kind(const json_t *v)
{
    return json_is_object(v)    ? "an object"
           : json_is_array(v)   ? "an array"
           : json_is_string(v)  ? "a string"
           : json_is_number(v)  ? "a number"
           : json_is_boolean(v) ? "a boolean"
                                : "null";
}

/* "{"a": ..., "b": ...}" for messages. */
static void shape(const char *const keys[], char *out, size_t size)
{
    size_t n = (size_t)snprintf(out, size, "{");
    for (size_t i = 0; keys[i] && n < size; i++)
        n += (size_t)snprintf(out + n, size - n, "%s\"%s\": \"...\"", i ? ", " : "", keys[i]);
    if (n < size)
        snprintf(out + n, size - n, "}");
}

bool srv_body_strings(const uint8_t *body, size_t len, const char *const keys[], json_t **out,
                      srv_response *res)
{
    char want[160];
    shape(keys, want, sizeof want);
    json_error_t je;
    json_t *o = json_loadb((const char *)body, len, 0, &je);
    *out = NULL;
    if (!o) {
        bool truncated = je.position >= (int)len || strstr(je.text, "premature end");
        srv_error(res, 400, "bad_request",
                  "the body is not valid JSON%s: %s (line %d, column %d); send %s",
                  truncated ? " (it ends too early: truncated?)" : "", je.text, je.line, je.column,
                  want);
        return false;
    }
    if (!json_is_object(o)) {
        srv_error(res, 400, "bad_request", "the body is %s; send an object %s", json_kind(o), want);
        json_decref(o);
        return false;
    }
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        size_t i = 0;
        while (keys[i] && strcmp(keys[i], k) != 0)
            i++;
        char q[80];
        dcr_error_quote(q, sizeof q, k, strlen(k));
        if (!keys[i]) {
            srv_error(res, 400, "bad_request", "unknown key \"%s\" in the body; send %s", q, want);
        } else if (!json_is_string(v)) {
            srv_error(res, 400, "bad_request", "\"%s\" must be a string, not %s; send %s", q,
                      json_kind(v), want);
        } else {
            continue;
        }
        json_decref(o);
        return false;
    }
    for (size_t i = 0; keys[i]; i++)
        if (!json_object_get(o, keys[i])) {
            srv_error(res, 400, "bad_request", "the body has no \"%s\"; send %s", keys[i], want);
            json_decref(o);
            return false;
        }
    *out = o;
    return true;
}

void srv_error_from(srv_response *res, const dcr_error *err, const char *code)
{
    int status = err->code == DCR_EINPUT || err->code == DCR_EUSAGE ? 400
                 : err->code == DCR_ECRYPTO                         ? 403
                                                                    : 500;
    srv_error(res, status, code, "%s", err->msg);
}

/* Matches path against pattern; {} takes one dataset name into param. */
static bool match(const char *pattern, const char *path, char *param, size_t param_size)
{
    while (*pattern && *path) {
        if (pattern[0] == '{' && pattern[1] == '}') {
            size_t n = strcspn(path, "/");
            if (n == 0 || n >= param_size || !dcr_name_valid(path, n))
                return false;
            memcpy(param, path, n);
            param[n] = '\0';
            path += n;
            pattern += 2;
        } else if (*pattern++ != *path++) {
            return false;
        }
    }
    return *pattern == '\0' && *path == '\0';
}

const srv_route *srv_route_find(const char *method, const char *path, char param[DCR_NAME_MAX + 1],
                                bool *path_known)
{
    *path_known = false;
    for (size_t i = 0; i < srv_nroutes; i++) {
        if (!match(srv_routes[i].pattern, path, param, DCR_NAME_MAX + 1))
            continue;
        *path_known = true;
        if (strcmp(srv_routes[i].method, method) == 0)
            return &srv_routes[i];
    }
    return NULL;
}

static uint64_t body_limit(const srv_request *r)
{
    const dcr_server_config *cfg = r->s->cfg;
    return r->route->body == SRV_BODY_STREAM ? cfg->max_upload
           : r->route->body == SRV_BODY_JSON ? cfg->max_json
                                             : 0;
}

static void too_large(srv_request *r, uint64_t limit)
{
    srv_error(&r->res, 413, "body_too_large",
              "the request body exceeds the limit of %llu bytes for %s %s",
              (unsigned long long)limit, r->method, r->route->pattern);
    r->failed = true;
}

/* A fresh random request id (16 hex digits); a counter if the CSPRNG
 * fails, so a request is never left without one. */
static void make_id(srv_request *r)
{
    uint8_t b[8];
    dcr_error err = {0};
    if (dcr_random_bytes(b, sizeof b, &err) != DCR_OK) {
        unsigned long n = atomic_fetch_add(&r->s->request_seq, 1);
        for (int i = 0; i < 8; i++)
            b[i] = (uint8_t)(n >> (56 - 8 * i));
    }
    dcr_hex_encode(r->id, b, sizeof b);
}

/* The client's numeric address and port, for the log. */
static void peer_of(srv_request *r)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char host[INET6_ADDRSTRLEN] = "-";
    unsigned port = 0;
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    if (sa && sa->sa_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &v4->sin_addr, host, sizeof host);
        port = ntohs(v4->sin_port);
    } else if (sa && sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof host);
        port = ntohs(v6->sin6_port);
    }
    snprintf(r->peer, sizeof r->peer, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
}

/* First call: headers are in. */
static void begin(srv_request *r, const char *url, const char *method)
{
    make_id(r);
    peer_of(r);
    snprintf(r->method, sizeof r->method, "%s", method);
    if (strlen(url) >= sizeof r->path || !dcr_request_path_ok(url)) {
        srv_error(&r->res, 404, "not_found", "no such endpoint");
        r->failed = true;
        return;
    }
    strcpy(r->path, url);
    bool known;
    r->route = srv_route_find(r->method, r->path, r->param, &known);
    if (!r->route) {
        if (known)
            srv_error(&r->res, 405, "method_not_allowed", "%s is not allowed on %s", r->method,
                      r->path);
        else
            srv_error(&r->res, 404, "not_found", "no such endpoint: %s", r->path);
        r->failed = true;
        return;
    }
    if (r->route->roles) {
        if (!srv_authenticate(r, &r->res) || !srv_rate_take(r->s, r->party, &r->res)) {
            r->failed = true;
            return;
        }
        dcr_error err = {0};
        if (dcr_hash_init(&r->hash, DCR_SHA256, &err) != DCR_OK) {
            srv_error_from(&r->res, &err, "internal");
            r->failed = true;
            return;
        }
    }
    const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Length");
    if (r->route->body == SRV_BODY_NONE && cl && strcmp(cl, "0") != 0) {
        srv_error(&r->res, 400, "unexpected_body", "%s %s takes no request body", r->method,
                  r->route->pattern);
        r->failed = true;
        return;
    }
    /* A declared length over the limit is refused before any of the body is
     * read (feed() still counts, for chunked bodies). */
    uint64_t limit = body_limit(r);
    char *end;
    errno = 0;
    unsigned long long declared = cl ? strtoull(cl, &end, 10) : 0;
    if (cl && (errno || *end || declared > limit)) {
        too_large(r, limit);
        return;
    }
    if (r->route->begin) {
        r->route->begin(r, &r->res);
        if (r->res.json)
            r->failed = true;
    }
}

static void feed(srv_request *r, const uint8_t *d, size_t n)
{
    r->body_len += n;
    uint64_t limit = body_limit(r);
    if (r->route->body == SRV_BODY_NONE) {
        srv_error(&r->res, 400, "unexpected_body", "%s %s takes no request body", r->method,
                  r->route->pattern);
        r->failed = true;
        return;
    }
    if (r->body_len > limit) {
        too_large(r, limit);
        return;
    }
    dcr_error err = {0};
    if (r->hash && dcr_hash_update(r->hash, d, n, &err) != DCR_OK) {
        srv_error_from(&r->res, &err, "internal");
        r->failed = true;
        return;
    }
    if (r->route->body == SRV_BODY_JSON) {
        if (dcr_buf_append(&r->body, d, n, &err) != DCR_OK) {
            srv_error_from(&r->res, &err, "internal");
            r->failed = true;
        }
        return;
    }
    r->route->data(r, d, n, &r->res);
    if (r->res.json)
        r->failed = true;
}

/* Last call: the body is complete. */
static void finish(srv_request *r)
{
    if (r->hash) {
        uint8_t h[32];
        dcr_error err = {0};
        dcr_status st = dcr_hash_final(r->hash, h, &err);
        r->hash = NULL;
        if (st != DCR_OK) {
            srv_error_from(&r->res, &err, "internal");
            return;
        }
        if (!dcr_ct_equal(h, r->content_sha256, 32)) {
            srv_error(&r->res, 400, "body_hash_mismatch",
                      "the request body does not match its signed " DCR_HDR_CONTENT_SHA256);
            return;
        }
    }
    if (r->route->body == SRV_BODY_JSON && dcr_buf_append(&r->body, "", 1, NULL) != DCR_OK) {
        srv_error(&r->res, 500, "internal", "out of memory");
        return;
    }
    r->route->handle(r, &r->res);
    if (!r->res.json && !r->res.raw.data && r->res.status == 0)
        srv_error(&r->res, 500, "internal", "the handler produced no response");
}

static enum MHD_Result send_response(srv_request *r)
{
    struct MHD_Response *resp;
    srv_response *res = &r->res;
    json_t *e = json_object_get(res->json, "error");
    if (json_is_object(e))
        json_object_set_new(e, "request_id", json_string(r->id));
    if (res->json) {
        char *text = json_dumps(res->json, JSON_COMPACT);
        size_t n = text ? strlen(text) : 0;
        /* One line per body: with curl, what follows starts on a line of
         * its own. */
        char *nl = text ? realloc(text, n + 2) : NULL;
        if (!nl) {
            free(text);
            return MHD_NO;
        }
        text = nl;
        text[n++] = '\n';
        text[n] = '\0';
        resp = MHD_create_response_from_buffer(n, text, MHD_RESPMEM_MUST_FREE);
        if (resp)
            MHD_add_response_header(resp, "Content-Type", "application/json");
        else
            free(text);
    } else if (res->raw_type && strcmp(res->raw_type, "application/json") == 0) {
        /* Pre-built JSON (the audit log) ends with a newline like the rest. */
        size_t n = res->raw.len;
        char *text = malloc(n + 1);
        if (!text)
            return MHD_NO;
        if (n)
            memcpy(text, res->raw.data, n);
        text[n] = '\n';
        resp = MHD_create_response_from_buffer(n + 1, text, MHD_RESPMEM_MUST_FREE);
        if (resp)
            MHD_add_response_header(resp, "Content-Type", res->raw_type);
        else
            free(text);
    } else {
        resp = MHD_create_response_from_buffer(res->raw.len, res->raw.data, MHD_RESPMEM_MUST_COPY);
        if (resp)
            MHD_add_response_header(resp, "Content-Type", res->raw_type);
    }
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Dcr-Request-Id", r->id);
    enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)res->status, resp);
    MHD_destroy_response(resp);
    srv *s = r->s;
    atomic_fetch_add(&s->requests, 1);
    if (res->status >= 400)
        atomic_fetch_add(&s->refusals, 1);
    srv_metrics_request(s, r->route, res->status);
    srv_log_request(r);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    srv_request *r = *con_cls;
    if (!r) {
        if (!(r = calloc(1, sizeof *r)))
            return MHD_NO;
        r->s = cls;
        r->conn = conn;
        r->party = -1;
        r->t0 = srv_now();
        *con_cls = r;
        begin(r, url, method);
        if (r->failed) /* refused on its headers: the body is never read */
            return send_response(r);
        return MHD_YES;
    }
    if (*upload_size) {
        if (!r->failed)
            feed(r, (const uint8_t *)upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (!r->failed)
        finish(r);
    return send_response(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)conn, (void)toe;
    srv_request *r = *con_cls;
    if (!r)
        return;
    if (r->route && r->route->cleanup)
        r->route->cleanup(r);
    dcr_hash_free(r->hash);
    dcr_buf_wipe_free(&r->body);
    json_decref(r->res.json);
    dcr_buf_free(&r->res.raw);
    free(r);
    *con_cls = NULL;
}

/* MHD's messages go to our log; the format comes from MHD itself. A
 * client that speaks plain HTTP to the TLS port only shows as a failed
 * handshake there, so that one gets a line saying what happened. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    srv *s = cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    if (strstr(msg, "handshake") || strstr(msg, "TLS"))
        srv_log(s, "tls_error",
                "http: a client failed the TLS handshake (%s): this port speaks HTTPS with TLS "
                "1.3 only; a plain http:// client, or one without TLS 1.3, cannot talk to it",
                msg);
    else
        srv_log(s, "http", "http: %s", msg);
}
#pragma GCC diagnostic pop

dcr_status srv_parse_addr(const char *opt, const char *addr, uint16_t port,
                          struct sockaddr_storage *ss, unsigned *flags, dcr_error *err)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, addr, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        return DCR_OK;
    }
    if (inet_pton(AF_INET6, addr, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        *flags |= MHD_USE_IPv6;
        return DCR_OK;
    }
    return dcr_fail(err, DCR_EUSAGE, "%s: '%s' is not a numeric IPv4 or IPv6 address", opt, addr);
}

dcr_status srv_http_start(srv *s, dcr_error *err)
{
    const dcr_server_config *cfg = s->cfg;
    unsigned flags =
        MHD_USE_TLS | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    struct sockaddr_storage ss;
    if (srv_nroutes > SRV_ROUTES_MAX)
        return dcr_fail(err, DCR_EINTERNAL, "more routes than SRV_ROUTES_MAX");
    dcr_status st = srv_parse_addr("--listen", cfg->listen_addr, cfg->port, &ss, &flags, err);
    if (st != DCR_OK)
        return st;
    s->mhd = MHD_start_daemon(
        flags, cfg->port, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_HTTPS_MEM_KEY, s->inst.key_pem,
        MHD_OPTION_HTTPS_MEM_CERT, s->inst.cert_pem, MHD_OPTION_HTTPS_PRIORITIES, TLS13_ONLY,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->threads, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)cfg->max_connections, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_END);
    if (!s->mhd)
        return dcr_fail(err, DCR_EINPUT,
                        "cannot serve HTTPS on %s:%u (address in use, or not a local address?)",
                        cfg->listen_addr, cfg->port);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : cfg->port;
    return DCR_OK;
}

void srv_http_stop(srv *s)
{
    if (s->mhd)
        MHD_stop_daemon(s->mhd);
    s->mhd = NULL;
}

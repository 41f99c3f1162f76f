/*
 * auth.c: signed requests (api/request.h, docs/api.md "Authentication").
 *
 * A request is accepted only when: all five X-Dcr-* headers are present and
 * well formed; the party is in the contract and holds one of the route's
 * roles; its time is within DCR_REQUEST_MAX_SKEW of ours; the Ed25519
 * signature over the message (which binds this instance's TLS key) verifies
 * under the party's contract key; and the nonce was never used before
 * (remembered durably by the state's replay table). Checks run in that
 * order so a stranger cannot fill the replay table. Messages say which check
 * failed, never anything about other parties.
 */
#include <errno.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/bytes.h"
#include "server/internal.h"
#include "state/state.h"

static const char *header(srv_request *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

static bool hex_field(const char *v, uint8_t *out, size_t n)
{
    return v && strlen(v) == 2 * n && dcr_hex_decode(out, n, v, 2 * n);
}

static bool parse_time(const char *v, int64_t *out)
{
    if (!v || !*v || strlen(v) > 19)
        return false;
    for (const char *p = v; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    errno = 0;
    char *end;
    long long t = strtoll(v, &end, 10);
    if (errno || *end)
        return false;
    *out = t;
    return true;
}

static const char *role_names(unsigned roles, char *buf, size_t size)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {{DCR_ROLE_PROVIDER, "provider"},
                 {DCR_ROLE_ANALYST, "analyst"},
                 {DCR_ROLE_RECEIVER, "receiver"},
                 {DCR_ROLE_AUDITOR, "auditor"}};
    buf[0] = '\0';
    for (size_t i = 0; i < 4; i++)
        if (roles & names[i].bit) {
            size_t n = strlen(buf);
            snprintf(buf + n, size - n, "%s%s", n ? " or " : "", names[i].name);
        }
    return buf;
}

bool srv_auth_check(const dcr_contract *c, const uint8_t tls_key_sha256[32], const srv_route *route,
                    const char *method, const char *path, const srv_auth_headers *h, int64_t now,
                    dcr_request_fields *f, int *party, srv_response *res)
{
    const char *party_name = h->party;
    uint8_t sig[64];
    *f = (dcr_request_fields){.method = method, .path = path, .party = party_name};
    if (!h->party || !h->time || !h->nonce || !h->content_sha256 || !h->signature) {
        srv_error(res, 401, "unauthenticated",
                  "%s %s needs a signed request: headers " DCR_HDR_PARTY ", " DCR_HDR_TIME
                  ", " DCR_HDR_NONCE ", " DCR_HDR_CONTENT_SHA256 ", " DCR_HDR_SIGNATURE
                  " (docs/api.md)",
                  method, route->pattern);
        return false;
    }
    if (!parse_time(h->time, &f->time) || !hex_field(h->nonce, f->nonce, sizeof f->nonce) ||
        !hex_field(h->content_sha256, f->content_sha256, 32) || !hex_field(h->signature, sig, 64)) {
        srv_error(res, 401, "bad_auth_header",
                  "malformed authentication header: " DCR_HDR_TIME
                  " is decimal Unix seconds, " DCR_HDR_NONCE
                  " 32 hex digits, " DCR_HDR_CONTENT_SHA256 " 64, " DCR_HDR_SIGNATURE " 128");
        return false;
    }
    int p = strlen(party_name) <= DCR_NAME_MAX ? dcr_contract_find_party(c, party_name) : -1;
    if (p < 0) {
        char q[80];
        dcr_error_quote(q, sizeof q, party_name, strlen(party_name));
        srv_error(res, 401, "unknown_party", "'%s' is not a party of this contract", q);
        return false;
    }
    const dcr_contract_party *cp = &c->parties[p];
    if (!(cp->roles & route->roles)) {
        char need[64];
        srv_error(res, 403, "forbidden", "%s %s is for a party with role %s; %s has not that role",
                  method, route->pattern, role_names(route->roles, need, sizeof need), cp->name);
        return false;
    }
    if (f->time < now - DCR_REQUEST_MAX_SKEW || f->time > now + DCR_REQUEST_MAX_SKEW) {
        srv_error(res, 401, "stale_request",
                  "request time %lld is %lld s from the server's clock (at most %d allowed)",
                  (long long)f->time, (long long)(f->time - now), DCR_REQUEST_MAX_SKEW);
        return false;
    }
    memcpy(f->tls_key_sha256, tls_key_sha256, 32);
    dcr_error err = {0};
    if (dcr_request_verify(f, cp->key.sign_pub, sig, &err) != DCR_OK) {
        srv_error(res, 401, "bad_signature",
                  "%s (signed for another instance, path, body or time, or with another key?)",
                  err.msg);
        return false;
    }
    *party = p;
    return true;
}

bool srv_authenticate(srv_request *r, srv_response *res)
{
    srv *s = r->s;
    srv_auth_headers h = {.party = header(r, DCR_HDR_PARTY),
                          .time = header(r, DCR_HDR_TIME),
                          .nonce = header(r, DCR_HDR_NONCE),
                          .content_sha256 = header(r, DCR_HDR_CONTENT_SHA256),
                          .signature = header(r, DCR_HDR_SIGNATURE)};
    dcr_request_fields f;
    int p;
    int64_t now = (int64_t)time(NULL);
    if (!srv_auth_check(&s->contract, s->inst.pub.tls_spki_sha256, r->route, r->method, r->path, &h,
                        now, &f, &p, res))
        return false;
    const dcr_contract_party *cp = &s->contract.parties[p];
    dcr_error err = {0};
    if (dcr_state_nonce_use(s->state, cp->name, f.nonce, sizeof f.nonce, f.time, now, &err) !=
        DCR_OK) {
        srv_error(res, err.code == DCR_EINPUT ? 401 : 500,
                  err.code == DCR_EINPUT ? "replayed_request" : "internal", "%s", err.msg);
        return false;
    }
    r->party = p;
    memcpy(r->content_sha256, f.content_sha256, 32);
    return true;
}

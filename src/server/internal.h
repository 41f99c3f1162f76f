/*
 * internal.h: what the files of src/server share. Not for use outside it.
 *
 * One srv per process, made by server.c; every request handler gets it
 * through its srv_request. Mutable parts shared between the HTTP threads
 * (data keys, rate buckets, counters) are guarded by srv.lock or atomic.
 */
#ifndef DCR_SERVER_INTERNAL_H
#define DCR_SERVER_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "api/binding.h"
#include "base/buffer.h"
#include "contract/contract.h"
#include "crypto/hash.h"
#include "crypto/party_key.h"
#include "privacy/template.h"
#include "server/server.h"
#include "api/request.h"

struct MHD_Daemon;
struct MHD_Connection;
struct srv_route;
struct srv_request;

/* The fresh keys of this instance and its evidence (instance.c). */
typedef struct {
    char *key_pem;  /* TLS private key, PKCS#8 PEM: secret, wiped */
    char *cert_pem; /* self-signed certificate for it */
    dcr_instance_keys pub;
    dcr_party_key hpke; /* hpke_priv + pub.hpke_pub; the Ed25519 half is unused */
    uint8_t audit_seed[32];
    uint8_t report_data[64];
    dcr_buf evidence; /* dcr evidence container */
    const char *evidence_type;
} srv_instance;

struct srv;
/* Fills s->inst for s->contract (s->cfg->tee, tcti); explains on s's log. */
dcr_status srv_instance_make(struct srv *s, dcr_error *err);
void srv_instance_free(srv_instance *inst);

/* A dataset's data key while this instance holds it (never on disk). */
typedef struct {
    bool present;
    uint8_t key[32];
    uint8_t file_sha256[32]; /* the ciphertext the key belongs to */
} srv_data_key;

typedef struct {
    double tokens;
    double last; /* monotonic seconds */
} srv_bucket;

/* ---- metrics (metrics.c): counters the operator scrapes from GET /metrics ---- */

#define SRV_ROUTES_MAX 16   /* rows of srv_routes, plus one for unmatched paths */
#define SRV_MET_STATUSES 14 /* the statuses the server sends, plus "other" */
#define SRV_MET_BUCKETS 14  /* query latency buckets, plus +Inf */
#define SRV_MET_RULES 32    /* distinct refusal rules counted by name */

/* Outcomes of a query that took a slot (dcr_queries_total{outcome}). */
enum { SRV_Q_RELEASED, SRV_Q_REFUSED, SRV_Q_FAILED, SRV_Q_TIMEOUT, SRV_Q_OUTCOMES };

typedef struct {
    char name[40];
    unsigned long n;
} srv_rule_count;

typedef struct {
    atomic_ulong requests[SRV_ROUTES_MAX + 1][SRV_MET_STATUSES];
    atomic_ulong latency[SRV_MET_BUCKETS + 1]; /* per bucket, not cumulative; last = +Inf */
    atomic_ulong latency_us;                   /* sum of the observations, microseconds */
    atomic_ulong queries[SRV_Q_OUTCOMES];
    atomic_ulong uploads_ok, uploads_refused, upload_bytes;
    atomic_ulong grants_ok, grants_refused;
    pthread_mutex_t mu;                      /* rules */
    srv_rule_count rules[SRV_MET_RULES + 1]; /* the last one is "other" */
    size_t nrules;
} srv_metrics;

typedef struct srv {
    const dcr_server_config *cfg;
    FILE *log;
    dcr_contract contract;
    char *contract_text;
    size_t contract_len;
    srv_instance inst;
    struct dcr_state *state;
    struct MHD_Daemon *mhd;
    uint16_t port;
    time_t started;
    json_t *attestation;  /* body of GET /v1/attestation, built once */
    pthread_mutex_t lock; /* keys, buckets, data readers/writer */
    pthread_cond_t data_cv;
    unsigned data_readers; /* datalock.c */
    bool data_writer;
    srv_data_key *keys;  /* one per contract dataset */
    srv_bucket *buckets; /* one per party */
    /* Guarded queries, their serialisation, charge, audit and delivery to
     * receivers (room/room.h), over state. */
    struct dcr_room *room;
    dcr_templates templates; /* the contract's, loaded once at start */
    atomic_uint queries_running;
    atomic_ulong requests, queries_total, refusals;
    atomic_ulong request_seq; /* request ids when the CSPRNG fails */
    bool tpm_anchored;        /* the state's rollback anchor is a TPM counter */
    srv_metrics metrics;
    struct MHD_Daemon *metrics_mhd; /* plain HTTP, operator only; NULL when off */
    uint16_t metrics_port;
} srv;

/* Records one answered request (route NULL: no route matched). */
void srv_metrics_request(srv *s, const struct srv_route *route, int status);
/* Records a query that held a slot for seconds, with its outcome. */
void srv_metrics_query(srv *s, int outcome, double seconds);
/* Counts a refusal by its rule (a public name from the code, never data). */
void srv_metrics_refusal(srv *s, const char *rule);
/* The exposition text (Prometheus text format 0.0.4); caller frees. */
__attribute__((warn_unused_result)) dcr_status srv_metrics_render(srv *s, char **text, size_t *len,
                                                                  dcr_error *err);
/* The operator's plain-HTTP listener for GET /metrics (cfg->metrics_addr),
 * nothing when it is not set. */
__attribute__((warn_unused_result)) dcr_status srv_metrics_start(srv *s, dcr_error *err);
void srv_metrics_stop(srv *s);

/* ---- the log (log.c) ---- */

/* One lifecycle line: "TIME dcr serve: MESSAGE" or, with --log-format
 * json, {"time", "event", "message"}. Never give it data values, keys or
 * SQL text. */
void srv_log(srv *s, const char *event, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* srv_log for each line of text. */
void srv_log_lines(srv *s, const char *event, const char *text);
/* The one line of an answered request (fields of srv_request below). */
void srv_log_request(const struct srv_request *r);
/* "2026-12-07T21:39:06.123Z" (UTC, milliseconds) into out[32]. */
void srv_iso_now(char out[32]);

/* ---- requests and responses (http.c) ---- */

typedef struct {
    int status;
    json_t *json; /* owned; sent as application/json */
    const char *raw_type;
    dcr_buf raw; /* or raw bytes (e.g. a sealed header) */
} srv_response;

typedef struct srv_request srv_request;

enum { SRV_BODY_NONE, SRV_BODY_JSON, SRV_BODY_STREAM };
#define SRV_ANY_PARTY (DCR_ROLE_PROVIDER | DCR_ROLE_ANALYST | DCR_ROLE_RECEIVER | DCR_ROLE_AUDITOR)

typedef struct srv_route {
    const char *method;
    const char *pattern; /* "/v1/datasets/{}/grant": {} matches one dataset name */
    unsigned roles;      /* any of these roles may call it; 0 = no authentication */
    int body;
    /* Called once the request is complete (and authenticated). */
    void (*handle)(srv_request *r, srv_response *res);
    /* Streaming bodies: begin after authentication, data per piece; a
     * failure stops the stream and becomes the response. */
    void (*begin)(srv_request *r, srv_response *res);
    void (*data)(srv_request *r, const uint8_t *d, size_t n, srv_response *res);
    void (*cleanup)(srv_request *r);
} srv_route;

struct srv_request {
    srv *s;
    struct MHD_Connection *conn;
    const srv_route *route;
    char method[16];
    char path[DCR_REQUEST_PATH_MAX + 1];
    char param[DCR_NAME_MAX + 1]; /* the {} of the pattern */
    int party;                    /* contract party index, -1 when unauthenticated */
    uint8_t content_sha256[32];   /* as signed */
    dcr_hash_ctx *hash;
    uint64_t body_len;
    dcr_buf body; /* JSON bodies */
    bool failed;  /* res holds the error; the body is discarded */
    srv_response res;
    double t0;
    void *route_ctx;   /* the route's own state (uploads) */
    char id[17];       /* request id: 16 hex digits, in the log, a header and error bodies */
    char peer[64];     /* numeric address:port of the client */
    char sql_hash[17]; /* queries: first 16 hex digits of SHA-256(SQL), never the SQL */
};

/* Sets res to a JSON error {"error": {"code", "message"}}; the request id
 * is added to every error body as it is sent. */
void srv_error(srv_response *res, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Sets res to a JSON error from err: DCR_EINPUT 400, DCR_ECRYPTO 403, else 500. */
void srv_error_from(srv_response *res, const dcr_error *err, const char *code);
void srv_json(srv_response *res, int status, json_t *body);

/* Hex of bytes as a new JSON string. */
json_t *srv_hex(const uint8_t *b, size_t n);
/* Monotonic seconds. */
double srv_now(void);

dcr_status srv_http_start(srv *s, dcr_error *err);
struct sockaddr_storage;
/* A numeric IPv4 or IPv6 address and port for MHD_OPTION_SOCK_ADDR
 * (MHD_USE_IPv6 added to flags for IPv6); opt names the option in errors. */
__attribute__((warn_unused_result)) dcr_status srv_parse_addr(const char *opt, const char *addr,
                                                              uint16_t port,
                                                              struct sockaddr_storage *ss,
                                                              unsigned *flags, dcr_error *err);
void srv_http_stop(srv *s);

/* ---- authentication and limits (auth.c, limits.c) ---- */

/* The five X-Dcr-* header values of a request (NULL when absent). */
typedef struct {
    const char *party, *time, *nonce, *content_sha256, *signature;
} srv_auth_headers;

/* The checks of a signed request that need no state (pure: fuzzed by
 * fuzz/fuzz_request.c): headers present and well formed, party in c with
 * one of route's roles, time within DCR_REQUEST_MAX_SKEW of now, signature
 * over the message binding tls_key_sha256 valid under the party's key. On
 * success *party is its index and f the signed fields (f->method, path and
 * party point at the arguments); on failure res is the error to send. */
bool srv_auth_check(const dcr_contract *c, const uint8_t tls_key_sha256[32], const srv_route *route,
                    const char *method, const char *path, const srv_auth_headers *h, int64_t now,
                    dcr_request_fields *f, int *party, srv_response *res);
/* srv_auth_check on r's headers, then the nonce is spent in the state's
 * replay table; fills r->party and r->content_sha256. On failure res is
 * the error to send. */
bool srv_authenticate(srv_request *r, srv_response *res);
/* Token bucket per party; false (and res set) when over the rate. */
bool srv_rate_take(srv *s, int party, srv_response *res);
/* A query slot; false (and res set) when max_queries are running. */
bool srv_query_slot_take(srv *s, srv_response *res);
void srv_query_slot_give(srv *s);

/* Using a stored dataset's file vs replacing it (datalock.c). */
void srv_data_read_begin(srv *s);
void srv_data_read_end(srv *s);
void srv_data_write_begin(srv *s);
void srv_data_write_end(srv *s);

/* ---- routes ---- */
extern const srv_route srv_routes[];
extern const size_t srv_nroutes;

/* The route for method and path (a path dcr_request_path_ok accepts), its
 * {} taken into param; NULL when none, and then *path_known tells a 405
 * (another method would match) from a 404. */
const srv_route *srv_route_find(const char *method, const char *path, char param[DCR_NAME_MAX + 1],
                                bool *path_known);
/* The JSON bodies of POST /v1/query and POST /v1/datasets/NAME/grant
 * (len bytes, any bytes: fuzzed by fuzz/fuzz_api_json.c). On success *sql
 * (caller frees) holds the SQL, or grant the 80 bytes enc || wrapped; on
 * failure res is the 400 to send. */
/* A JSON request body that must be an object with exactly the string
 * members keys[] (NULL-terminated): on success *out holds it (caller
 * json_decref). Otherwise a 400 bad_request that says what is wrong: not
 * JSON (where and why, "truncated" for an early end), not an object, an
 * unknown or missing key, a member that is not a string. */
bool srv_body_strings(const uint8_t *body, size_t len, const char *const keys[], json_t **out,
                      srv_response *res);
bool srv_query_body_parse(const uint8_t *body, size_t len, char **sql, srv_response *res);
bool srv_grant_body_parse(const uint8_t *body, size_t len, uint8_t grant[80], srv_response *res);

void srv_route_attestation(srv_request *r, srv_response *res);
void srv_route_health(srv_request *r, srv_response *res);
void srv_route_contract(srv_request *r, srv_response *res);
void srv_route_status(srv_request *r, srv_response *res);
void srv_route_audit(srv_request *r, srv_response *res);
void srv_route_budget(srv_request *r, srv_response *res);
void srv_route_query(srv_request *r, srv_response *res);
void srv_route_result(srv_request *r, srv_response *res);
void srv_route_header(srv_request *r, srv_response *res);
void srv_route_grant(srv_request *r, srv_response *res);
void srv_upload_begin(srv_request *r, srv_response *res);
void srv_upload_data(srv_request *r, const uint8_t *d, size_t n, srv_response *res);
void srv_upload_handle(srv_request *r, srv_response *res);
void srv_upload_cleanup(srv_request *r);

/* Data keys (datasets.c): load every granted dataset's key at start. */
dcr_status srv_keys_load(srv *s, dcr_error *err);
/* Unwraps a 80-byte grant (enc || wrapped) for dataset ds of the stored
 * file and checks it opens the file; on success the key is held. */
dcr_status srv_key_accept(srv *s, size_t ds, const uint8_t *grant, size_t len, dcr_error *err);

#endif

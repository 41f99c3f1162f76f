/*
 * client.h: a party's connection to a clean-room instance (libcurl).
 *
 * dcr_client_open() trusts nothing it has not verified: it fetches
 * GET /v1/attestation over a throw-away connection, verifies the evidence
 * with the contract's accepted evidence and the REPORT_DATA binding of the
 * contract hash and the instance keys (api/binding.h), and only then opens
 * the connection it uses for everything else, pinned to the attested TLS
 * key (CURLOPT_PINNEDPUBLICKEY, TLS 1.3 only). A server whose TLS key is not
 * the attested one fails that pinned handshake, before any request is sent.
 * Every later request is signed with the party's key (api/request.h).
 */
#ifndef DCR_CLIENT_CLIENT_H
#define DCR_CLIENT_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "api/binding.h"
#include "base/buffer.h"
#include "base/error.h"
#include "contract/contract.h"
#include "crypto/party_key.h"

typedef struct dcr_client dcr_client;

/* What the verified attestation says. */
typedef struct {
    dcr_instance_keys keys;
    char evidence_type[32];
    json_t *claims; /* verified claims (owned by the client) */
    int64_t started_at;
} dcr_client_instance;

/* Connects to url ("https://host:port"), verifies and pins. key may be NULL
 * (then only unauthenticated endpoints can be called); otherwise it must be
 * a party of the contract. at: certificate time for verification, 0 = now.
 * The contract and key must outlive the client. */
dcr_status dcr_client_open(dcr_client **out, const char *url, const dcr_contract *c,
                           const dcr_party_key *key, time_t at, dcr_error *err);
void dcr_client_close(dcr_client *cl);

/* Liveness of the clean room at url: GET /v1/health answers
 * {"status": "ok"}. Nothing is verified (no attestation, no pin): it says
 * the service runs, not that it is trustworthy. A server that does not
 * speak TLS, or is not a dcr clean room, gets a message saying so. */
__attribute__((warn_unused_result)) dcr_status dcr_client_health(const char *url, dcr_error *err);

const dcr_client_instance *dcr_client_instance_info(const dcr_client *cl);
/* The caller's party index in the contract (-1 without a key). */
int dcr_client_party(const dcr_client *cl);

typedef struct {
    long status;
    dcr_buf body;
} dcr_client_response;
void dcr_client_response_free(dcr_client_response *r);

/* A signed request with an in-memory body (may be NULL/0). A response with
 * status >= 400 becomes DCR_EINPUT/DCR_ECRYPTO with the server's message;
 * resp (may be NULL) is filled either way. */
dcr_status dcr_client_call(dcr_client *cl, const char *method, const char *path, const void *body,
                           size_t len, dcr_client_response *resp, dcr_error *err);

/* Progress of an upload: bytes sent of total. */
typedef void (*dcr_client_progress)(void *ctx, uint64_t sent, uint64_t total);

/* A signed PUT of the file behind fd (size bytes from offset 0, body hash
 * already known). */
dcr_status dcr_client_put_file(dcr_client *cl, const char *path, int fd, uint64_t size,
                               const uint8_t sha256[32], dcr_client_progress progress,
                               void *progress_ctx, dcr_client_response *resp, dcr_error *err);

/* The pure parts under the calls above, for any bytes a server may send
 * (fuzzed by fuzz/fuzz_api_json.c):
 * dcr_client_check_attestation checks a GET /v1/attestation body against
 * c (contract hash, keys, evidence accepted by c and binding them) and on
 * success fills *inst (claims: the caller json_decref's);
 * dcr_client_check_status turns a response with status >= 400 into err
 * (the server's {"error": {"code", "message"}}, quoted), DCR_OK below. */
dcr_status dcr_client_check_attestation(const dcr_contract *c, const void *body, size_t len,
                                        time_t at, dcr_client_instance *inst, dcr_error *err);
dcr_status dcr_client_check_status(const char *method, const char *path,
                                   const dcr_client_response *r, dcr_error *err);

/* Parses a JSON response body; *out is the caller's. */
dcr_status dcr_client_json(const dcr_client_response *r, json_t **out, dcr_error *err);

#endif

/*
 * request.h: signed API requests (docs/api.md, "Authentication").
 *
 * Every request but GET /v1/attestation and GET /v1/health carries five
 * headers:
 *
 *   X-Dcr-Party           the party's name in the contract
 *   X-Dcr-Time            Unix time in seconds (decimal)
 *   X-Dcr-Nonce           32 hex digits, fresh random per request
 *   X-Dcr-Content-Sha256  64 hex digits, SHA-256 of the request body
 *   X-Dcr-Signature       128 hex digits, Ed25519 over the message below
 *
 * The signed message is these lines, each ended by '\n':
 *
 *   dcr request v1
 *   METHOD                  e.g. PUT
 *   PATH                    e.g. /v1/datasets/impressions (no query string)
 *   PARTY
 *   TIME
 *   NONCE                   lowercase hex
 *   CONTENT-SHA256          lowercase hex
 *   TLS-KEY-SHA256          lowercase hex of SHA-256(server TLS SPKI DER)
 *
 * Binding the server's attested TLS key makes a request useless against any
 * other instance (a restarted one has a new key); time and nonce make it
 * useless twice against the same one. Signing the body's hash (not the body)
 * lets the server check the signature before it reads a large upload, and
 * check the hash as the body streams in.
 */
#ifndef DCR_API_REQUEST_H
#define DCR_API_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buffer.h"
#include "base/error.h"

#define DCR_HDR_PARTY "X-Dcr-Party"
#define DCR_HDR_TIME "X-Dcr-Time"
#define DCR_HDR_NONCE "X-Dcr-Nonce"
#define DCR_HDR_CONTENT_SHA256 "X-Dcr-Content-Sha256"
#define DCR_HDR_SIGNATURE "X-Dcr-Signature"

#define DCR_REQUEST_NONCE_LEN 16
#define DCR_REQUEST_PATH_MAX 256
/* A request's time may differ from the server's clock by at most this. */
#define DCR_REQUEST_MAX_SKEW 300

typedef struct {
    const char *method;
    const char *path;
    const char *party;
    int64_t time;
    uint8_t nonce[DCR_REQUEST_NONCE_LEN];
    uint8_t content_sha256[32];
    uint8_t tls_key_sha256[32];
} dcr_request_fields;

/* True when path is one a request may name: starts with '/', at most
 * DCR_REQUEST_PATH_MAX bytes of [A-Za-z0-9/_.-]. */
bool dcr_request_path_ok(const char *path);

/* Builds the signed message into out (cleared first). DCR_EINPUT when a
 * field cannot appear in it (path, method or party with bad bytes). */
dcr_status dcr_request_message(const dcr_request_fields *f, dcr_buf *out, dcr_error *err);

/* Signs f with an Ed25519 seed; sig_hex receives 128 hex digits + NUL. */
dcr_status dcr_request_sign(const dcr_request_fields *f, const uint8_t seed[32], char sig_hex[129],
                            dcr_error *err);

/* DCR_OK when sig (64 bytes) is a signature of f under pub, else
 * DCR_ECRYPTO. */
dcr_status dcr_request_verify(const dcr_request_fields *f, const uint8_t pub[32],
                              const uint8_t sig[64], dcr_error *err);

#endif

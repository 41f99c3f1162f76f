/*
 * binding.h: what ties a running clean-room instance to its contract and its
 * keys, and the one check both sides run on its evidence.
 *
 * A `dcr serve` instance makes fresh keys at start: a TLS key (ECDSA P-256,
 * its certificate is self-signed), an HPKE X25519 key (the recipient of data
 * keys) and an Ed25519 audit key (signs audit records). Its evidence's
 * REPORT_DATA is
 *
 *     SHA-512("dcr instance v1" || 0x00 || contract hash (32)
 *             || SHA-256(TLS SubjectPublicKeyInfo DER) (32)
 *             || HPKE public key (32) || audit public key (32))
 *
 * so evidence that verifies names the contract and every key the instance
 * uses. dcr_instance_check_evidence is what the client calls before it sends
 * anything, and what the server calls on its own evidence before it serves:
 * both apply exactly the contract's accepted evidence (type, measurements,
 * minimum TCB, debug, sim only when the contract lists it).
 */
#ifndef DCR_API_BINDING_H
#define DCR_API_BINDING_H

#include <jansson.h>
#include <stdint.h>

#include "attest/attest.h"
#include "base/error.h"
#include "contract/contract.h"

#define DCR_INSTANCE_DOMAIN "dcr instance v1" /* followed by one 0x00 byte */

/* The public keys of one instance. */
typedef struct {
    uint8_t tls_spki_sha256[32]; /* SHA-256 of the TLS key's SubjectPublicKeyInfo (DER) */
    uint8_t hpke_pub[32];        /* X25519 */
    uint8_t audit_pub[32];       /* Ed25519 */
} dcr_instance_keys;

/* REPORT_DATA for contract_hash and keys (formula above). */
dcr_status dcr_instance_report_data(const uint8_t contract_hash[32], const dcr_instance_keys *keys,
                                    uint8_t out[64], dcr_error *err);

/* Verifies ev with dcr_attest_verify under the contract's entry for ev's
 * type and requires REPORT_DATA to bind c's hash and keys. On success
 * *claims (caller json_decref's) holds the verified claims; on failure err
 * names the check. at: certificate time, 0 = now. */
dcr_status dcr_instance_check_evidence(const dcr_contract *c, const dcr_evidence *ev,
                                       const dcr_instance_keys *keys, time_t at, json_t **claims,
                                       dcr_error *err);

/* The contract's evidence type for an evidence type (0 when none). */
dcr_evidence_type dcr_contract_evidence_type_of(dcr_attest_type t);

#endif

/*
 * signature.h: parties' detached signatures over a contract.
 *
 * A contract's identity is SHA-256 of its exact bytes (dcr_contract.hash).
 * A party signs it with its Ed25519 identity key; the signed message is the
 * 58 bytes
 *
 *     "dcr contract signature v1" 0x00 || contract hash (32 bytes)
 *
 * so a contract signature can never be mistaken for any other dcr
 * signature. A signature file is one line:
 *
 *     dcr-sig-v1:<64 hex Ed25519 public key>:<64 hex contract hash>:<128 hex signature>\n
 *
 * Verification matches the key to a party of the contract and the hash to
 * the contract's own; any byte change to the contract changes its hash and
 * so invalidates every signature.
 */
#ifndef DCR_CONTRACT_SIGNATURE_H
#define DCR_CONTRACT_SIGNATURE_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "contract/contract.h"
#include "crypto/party_key.h"
#include "crypto/sign.h"

#define DCR_SIG_PREFIX "dcr-sig-v1:"
#define DCR_SIG_DOMAIN "dcr contract signature v1" /* followed by one 0x00 byte */
/* prefix + 64 + ':' + 64 + ':' + 128, without the newline or NUL */
#define DCR_SIG_TEXT_LEN (sizeof DCR_SIG_PREFIX - 1 + 64 + 1 + 64 + 1 + 128)

typedef struct {
    uint8_t sign_pub[DCR_ED25519_PUBLIC_LEN]; /* the signer */
    uint8_t contract_hash[DCR_SHA256_LEN];    /* what was signed */
    uint8_t sig[DCR_ED25519_SIG_LEN];
} dcr_contract_sig;

/* The 58-byte message above. */
#define DCR_SIG_MESSAGE_LEN (sizeof DCR_SIG_DOMAIN + DCR_SHA256_LEN)
void dcr_contract_sig_message(const uint8_t hash[DCR_SHA256_LEN], uint8_t msg[DCR_SIG_MESSAGE_LEN]);

/* Signs a contract hash with a party key. */
dcr_status dcr_contract_sign(const dcr_party_key *key, const uint8_t hash[DCR_SHA256_LEN],
                             dcr_contract_sig *out, dcr_error *err);

/* Text form plus '\n' and NUL; out_size >= DCR_SIG_TEXT_LEN + 2. */
void dcr_contract_sig_format(const dcr_contract_sig *sig, char *out, size_t out_size);
/* Strict parse of the text form (optional single trailing newline); `what`
 * (a file name) prefixes messages. */
dcr_status dcr_contract_sig_parse(const char *text, size_t len, dcr_contract_sig *sig,
                                  const char *what, dcr_error *err);
dcr_status dcr_contract_sig_load(const char *path, dcr_contract_sig *sig, dcr_error *err);

/* Checks sig against the (valid) contract c. DCR_OK with *party = the
 * signer's index when it is a good signature over c's hash by one of c's
 * parties; otherwise DCR_ECRYPTO saying which: over another contract, by a
 * key that is not a party's, or not a valid signature. */
dcr_status dcr_contract_sig_verify(const dcr_contract *c, const dcr_contract_sig *sig,
                                   size_t *party, dcr_error *err);

#endif

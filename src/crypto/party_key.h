/*
 * party_key.h: a party's long-term key pair and its two text forms.
 *
 * A party key is an Ed25519 identity key (signing contracts and requests)
 * plus an X25519 key (receiving HPKE-wrapped data keys). Text forms, each a
 * single line ending in '\n':
 *
 *   NAME.pub  "dcr-pub-v1:" 64 hex (Ed25519 public) ":" 64 hex (X25519 public)
 *   NAME.key  "dcr-key-v1:" 64 hex (Ed25519 seed) ":" 64 hex (X25519 private)
 *
 * The .pub line is what contracts carry. Parsing is strict (prefix, lengths,
 * lowercase or uppercase hex, optional single trailing newline) and checks
 * that a private key's public halves are consistent when both are present.
 */
#ifndef DCR_CRYPTO_PARTY_KEY_H
#define DCR_CRYPTO_PARTY_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define DCR_PUB_PREFIX "dcr-pub-v1:"
#define DCR_KEY_PREFIX "dcr-key-v1:"
/* prefix + 64 + ':' + 64, without the newline or NUL */
#define DCR_PUB_TEXT_LEN (sizeof DCR_PUB_PREFIX - 1 + 64 + 1 + 64)
#define DCR_KEY_TEXT_LEN (sizeof DCR_KEY_PREFIX - 1 + 64 + 1 + 64)

typedef struct {
    uint8_t sign_pub[32]; /* Ed25519 */
    uint8_t hpke_pub[32]; /* X25519 */
} dcr_party_pub;

typedef struct {
    uint8_t sign_seed[32]; /* Ed25519 seed: secret */
    uint8_t hpke_priv[32]; /* X25519 private: secret */
    dcr_party_pub pub;     /* derived */
} dcr_party_key;

dcr_status dcr_party_key_generate(dcr_party_key *key, dcr_error *err);
void dcr_party_key_wipe(dcr_party_key *key);

/* Writes the text form plus '\n' and NUL; out_size >= *_TEXT_LEN + 2. */
void dcr_party_pub_format(const dcr_party_pub *pub, char *out, size_t out_size);
void dcr_party_key_format(const dcr_party_key *key, char *out, size_t out_size);

/* Parses the text forms; `what` (e.g. a file name) is used in messages. */
dcr_status dcr_party_pub_parse(const char *text, size_t len, dcr_party_pub *pub, const char *what,
                               dcr_error *err);
dcr_status dcr_party_key_parse(const char *text, size_t len, dcr_party_key *key, const char *what,
                               dcr_error *err);

/* Reads NAME.pub / NAME.key files. Loading a .key file refuses one that is
 * readable by group or others. */
dcr_status dcr_party_pub_load(const char *path, dcr_party_pub *pub, dcr_error *err);
dcr_status dcr_party_key_load(const char *path, dcr_party_key *key, dcr_error *err);

/* 8-byte key id of an X25519 public key: SHA-256("dcr key id" || pk)[0..8].
 * Lets a sealed file say which recipient a wrapped key is for. */
dcr_status dcr_hpke_key_id(const uint8_t pk[32], uint8_t id[8], dcr_error *err);

#endif

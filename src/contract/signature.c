/*
 * signature.c: signing, verifying and the text form of contract signatures
 * (see signature.h for the scheme and the file format).
 */
#include "contract/signature.h"

#include <stdlib.h>
#include <string.h>

#include "base/bytes.h"
#include "base/fileio.h"

#define SIG_FILE_MAX 4096

void dcr_contract_sig_message(const uint8_t hash[DCR_SHA256_LEN], uint8_t msg[DCR_SIG_MESSAGE_LEN])
{
    /* sizeof includes the label's NUL: that is the 0x00 separator. */
    memcpy(msg, DCR_SIG_DOMAIN, sizeof DCR_SIG_DOMAIN);
    memcpy(msg + sizeof DCR_SIG_DOMAIN, hash, DCR_SHA256_LEN);
}

dcr_status dcr_contract_sign(const dcr_party_key *key, const uint8_t hash[DCR_SHA256_LEN],
                             dcr_contract_sig *out, dcr_error *err)
{
    uint8_t msg[DCR_SIG_MESSAGE_LEN];
    dcr_contract_sig_message(hash, msg);
    memcpy(out->sign_pub, key->pub.sign_pub, sizeof out->sign_pub);
    memcpy(out->contract_hash, hash, DCR_SHA256_LEN);
    return dcr_ed25519_sign(key->sign_seed, msg, sizeof msg, out->sig, err);
}

void dcr_contract_sig_format(const dcr_contract_sig *sig, char *out, size_t out_size)
{
    const size_t plen = sizeof DCR_SIG_PREFIX - 1;
    if (out_size < DCR_SIG_TEXT_LEN + 2) {
        if (out_size)
            out[0] = '\0';
        return;
    }
    memcpy(out, DCR_SIG_PREFIX, plen);
    dcr_hex_encode(out + plen, sig->sign_pub, 32);
    out[plen + 64] = ':';
    dcr_hex_encode(out + plen + 65, sig->contract_hash, 32);
    out[plen + 129] = ':';
    dcr_hex_encode(out + plen + 130, sig->sig, 64);
    out[DCR_SIG_TEXT_LEN] = '\n';
    out[DCR_SIG_TEXT_LEN + 1] = '\0';
}

dcr_status dcr_contract_sig_parse(const char *text, size_t len, dcr_contract_sig *sig,
                                  const char *what, dcr_error *err)
{
    const size_t plen = sizeof DCR_SIG_PREFIX - 1;
    if (len > 0 && text[len - 1] == '\n')
        len--;
    if (len < plen || memcmp(text, DCR_SIG_PREFIX, plen) != 0)
        return dcr_fail(err, DCR_EINPUT,
                        "%s: not a dcr contract signature: it should start with \"%s\"", what,
                        DCR_SIG_PREFIX);
    if (len != DCR_SIG_TEXT_LEN)
        return dcr_fail(err, DCR_EINPUT, "%s: signature line is %zu characters long, expected %zu",
                        what, len, (size_t)DCR_SIG_TEXT_LEN);
    if (text[plen + 64] != ':' || text[plen + 129] != ':')
        return dcr_fail(err, DCR_EINPUT,
                        "%s: malformed signature line: expected KEY:HASH:SIGNATURE after the "
                        "prefix",
                        what);
    if (!dcr_hex_decode(sig->sign_pub, 32, text + plen, 64) ||
        !dcr_hex_decode(sig->contract_hash, 32, text + plen + 65, 64) ||
        !dcr_hex_decode(sig->sig, 64, text + plen + 130, 128))
        return dcr_fail(err, DCR_EINPUT, "%s: invalid hex in the signature line", what);
    return DCR_OK;
}

dcr_status dcr_contract_sig_load(const char *path, dcr_contract_sig *sig, dcr_error *err)
{
    char *text;
    size_t len;
    dcr_status s = dcr_read_file(path, SIG_FILE_MAX, &text, &len, err);
    if (s != DCR_OK)
        return s;
    s = dcr_contract_sig_parse(text, len, sig, path, err);
    free(text);
    return s;
}

dcr_status dcr_contract_sig_verify(const dcr_contract *c, const dcr_contract_sig *sig,
                                   size_t *party, dcr_error *err)
{
    char want[17], got[17];
    if (memcmp(sig->contract_hash, c->hash, DCR_SHA256_LEN) != 0) {
        dcr_hex_encode(got, sig->contract_hash, 8);
        dcr_hex_encode(want, c->hash, 8);
        return dcr_fail(err, DCR_ECRYPTO,
                        "signed another contract (hash %s...), not this one (hash %s...): the "
                        "contract was changed after signing, or this is the wrong signature",
                        got, want);
    }
    int p = dcr_contract_find_party_by_key(c, sig->sign_pub);
    if (p < 0) {
        dcr_hex_encode(got, sig->sign_pub, 8);
        return dcr_fail(err, DCR_ECRYPTO,
                        "signed by key %s..., which is not the key of any party of this contract",
                        got);
    }
    uint8_t msg[DCR_SIG_MESSAGE_LEN];
    dcr_contract_sig_message(c->hash, msg);
    dcr_error verr = {0};
    if (dcr_ed25519_verify(sig->sign_pub, msg, sizeof msg, sig->sig, &verr) != DCR_OK)
        return dcr_fail(err, DCR_ECRYPTO, "invalid signature claiming to be by party \"%s\"",
                        c->parties[p].name);
    *party = (size_t)p;
    return DCR_OK;
}

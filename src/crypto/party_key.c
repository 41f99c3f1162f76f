/*
 * party_key.c: a party's long-term keys, their one-line text forms and
 * their files (formats in party_key.h).
 *
 * `dcr keygen` (cli/cmd_keygen.c) writes NAME.key and NAME.pub with the
 * formatters here; every command that seals, signs or unseals reads them
 * back through the loaders. Parsing is strict because a key that parses
 * "almost" is worse than one that does not parse. Messages name the file
 * and what is wrong with it but never echo a private key's text. A .key
 * file is refused when other users can get at it, and when a NAME.pub sits
 * beside it that does not match, because a mismatched pair means the user
 * has been handing out a public key whose data they cannot decrypt.
 */
#include "crypto/party_key.h"

#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/bytes.h"
#include "base/fileio.h"
#include "crypto/hash.h"
#include "crypto/hpke.h"
#include "crypto/sign.h"
#include "crypto/util.h"

/* Both key files are one short line; anything much bigger is not one. */
#define KEY_FILE_MAX 1024

dcr_status dcr_party_key_generate(dcr_party_key *key, dcr_error *err)
{
    dcr_status s = dcr_ed25519_keypair(key->sign_seed, key->pub.sign_pub, err);
    if (s == DCR_OK)
        s = dcr_x25519_keypair(key->hpke_priv, key->pub.hpke_pub, err);
    if (s != DCR_OK)
        dcr_party_key_wipe(key);
    return s;
}

void dcr_party_key_wipe(dcr_party_key *key)
{
    dcr_wipe(key, sizeof *key);
}

static void format_line(const char *prefix, const uint8_t a[32], const uint8_t b[32], char *out,
                        size_t out_size)
{
    size_t plen = strlen(prefix);
    if (out_size < plen + 64 + 1 + 64 + 2) {
        /* Too small for the line: an empty string is safer than half a key. */
        if (out_size)
            out[0] = '\0';
        return;
    }
    memcpy(out, prefix, plen);
    dcr_hex_encode(out + plen, a, 32);
    out[plen + 64] = ':';
    dcr_hex_encode(out + plen + 65, b, 32);
    out[plen + 129] = '\n';
    out[plen + 130] = '\0';
}

void dcr_party_pub_format(const dcr_party_pub *pub, char *out, size_t out_size)
{
    format_line(DCR_PUB_PREFIX, pub->sign_pub, pub->hpke_pub, out, out_size);
}

void dcr_party_key_format(const dcr_party_key *key, char *out, size_t out_size)
{
    format_line(DCR_KEY_PREFIX, key->sign_seed, key->hpke_priv, out, out_size);
}

/* Parses PREFIX HEX64 ':' HEX64 [\n] into a and b. kind names the line in
 * messages ("public key", "private key"); other is the prefix of the
 * other form, recognised so the message can say which file was given. */
static dcr_status parse_line(const char *text, size_t len, const char *prefix, const char *other,
                             const char *kind, const char *a_name, const char *b_name,
                             uint8_t a[32], uint8_t b[32], const char *what, dcr_error *err)
{
    size_t plen = strlen(prefix);
    if (len > 0 && text[len - 1] == '\n')
        len--;
    if (len >= plen && memcmp(text, other, plen) == 0)
        return dcr_fail(err, DCR_EINPUT, "%s: this is a %s, not a %s (it starts with \"%s\")", what,
                        strcmp(kind, "public key") == 0 ? "private key" : "public key", kind,
                        other);
    if (len < plen || memcmp(text, prefix, plen) != 0)
        return dcr_fail(err, DCR_EINPUT, "%s: not a dcr %s: it should start with \"%s\"", what,
                        kind, prefix);
    if (len != plen + 64 + 1 + 64) {
        if (memchr(text, '\n', len))
            return dcr_fail(err, DCR_EINPUT, "%s: %s must be a single line", what, kind);
        return dcr_fail(err, DCR_EINPUT, "%s: %s is %zu characters long, expected %zu", what, kind,
                        len, plen + 64 + 1 + 64);
    }
    if (text[plen + 64] != ':')
        return dcr_fail(err, DCR_EINPUT,
                        "%s: %s is malformed: expected ':' after the 64 hex digits of the %s", what,
                        kind, a_name);
    if (!dcr_hex_decode(a, 32, text + plen, 64)) {
        dcr_wipe(a, 32);
        return dcr_fail(err, DCR_EINPUT, "%s: %s has invalid hex in the %s", what, kind, a_name);
    }
    if (!dcr_hex_decode(b, 32, text + plen + 65, 64)) {
        dcr_wipe(a, 32);
        dcr_wipe(b, 32);
        return dcr_fail(err, DCR_EINPUT, "%s: %s has invalid hex in the %s", what, kind, b_name);
    }
    return DCR_OK;
}

dcr_status dcr_party_pub_parse(const char *text, size_t len, dcr_party_pub *pub, const char *what,
                               dcr_error *err)
{
    return parse_line(text, len, DCR_PUB_PREFIX, DCR_KEY_PREFIX, "public key", "Ed25519 public key",
                      "X25519 public key", pub->sign_pub, pub->hpke_pub, what, err);
}

dcr_status dcr_party_key_parse(const char *text, size_t len, dcr_party_key *key, const char *what,
                               dcr_error *err)
{
    dcr_status s =
        parse_line(text, len, DCR_KEY_PREFIX, DCR_PUB_PREFIX, "private key", "Ed25519 seed",
                   "X25519 private key", key->sign_seed, key->hpke_priv, what, err);
    if (s == DCR_OK)
        s = dcr_ed25519_public_from_seed(key->sign_seed, key->pub.sign_pub, err);
    if (s == DCR_OK)
        s = dcr_x25519_public_from_private(key->hpke_priv, key->pub.hpke_pub, err);
    if (s != DCR_OK)
        dcr_party_key_wipe(key);
    return s;
}

dcr_status dcr_party_pub_load(const char *path, dcr_party_pub *pub, dcr_error *err)
{
    char *text;
    size_t len;
    dcr_status s = dcr_read_file(path, KEY_FILE_MAX, &text, &len, err);
    if (s != DCR_OK)
        return s;
    s = dcr_party_pub_parse(text, len, pub, path, err);
    free(text);
    return s;
}

/* Reads a private key file through one descriptor, so the permission check
 * and the read see the same file. A public key given by mistake is named
 * as such before its (harmless) permissions are judged. */
static dcr_status read_private_file(const char *path, char *buf, size_t buf_size, size_t *len,
                                    dcr_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return dcr_fail(err, DCR_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    dcr_status s = DCR_OK;
    if (fstat(fd, &st) != 0) {
        s = dcr_fail(err, DCR_EINPUT, "%s: cannot stat: %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        s = dcr_fail(err, DCR_EINPUT, "%s: not a regular file", path);
    } else if ((uintmax_t)st.st_size >= buf_size) {
        s = dcr_fail(err, DCR_EINPUT, "%s: file is %jd bytes, too large for a private key", path,
                     (intmax_t)st.st_size);
    } else {
        s = dcr_read_full(fd, buf, buf_size - 1, len, path, err);
    }
    if (s == DCR_OK && *len >= sizeof DCR_PUB_PREFIX - 1 &&
        memcmp(buf, DCR_PUB_PREFIX, sizeof DCR_PUB_PREFIX - 1) == 0) {
        s = dcr_fail(err, DCR_EINPUT,
                     "%s: this is a public key (dcr-pub-v1); give the private key instead, "
                     "the NAME.key file that `dcr keygen` wrote beside it",
                     path);
    } else if (s == DCR_OK && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        /* Like ssh, any group or other access is refused: readable leaks
         * the key, writable lets someone else substitute theirs. */
        s = dcr_fail(err, DCR_EINPUT,
                     "%s: private key file is accessible by group or others (mode %04o); "
                     "refusing to use it. Fix with: chmod 600 %s",
                     path, (unsigned)(st.st_mode & 07777), path);
    }
    close(fd);
    return s;
}

/* When NAME.key has a NAME.pub beside it, the two must be one key pair. */
static dcr_status check_sibling_pub(const char *path, const dcr_party_key *key, dcr_error *err)
{
    size_t n = strlen(path);
    if (n < 4 || strcmp(path + n - 4, ".key") != 0)
        return DCR_OK;
    char *pub_path = malloc(n + 1);
    if (!pub_path)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    memcpy(pub_path, path, n - 4);
    memcpy(pub_path + n - 4, ".pub", 5);
    dcr_status s = DCR_OK;
    if (access(pub_path, F_OK) == 0) {
        dcr_party_pub pub;
        s = dcr_party_pub_load(pub_path, &pub, err);
        if (s == DCR_OK && (!dcr_ct_equal(pub.sign_pub, key->pub.sign_pub, 32) ||
                            !dcr_ct_equal(pub.hpke_pub, key->pub.hpke_pub, 32)))
            s = dcr_fail(err, DCR_EINPUT,
                         "%s: inconsistent key: it does not match the public key in %s", path,
                         pub_path);
    }
    free(pub_path);
    return s;
}

dcr_status dcr_party_key_load(const char *path, dcr_party_key *key, dcr_error *err)
{
    char buf[KEY_FILE_MAX];
    size_t len = 0;
    dcr_status s = read_private_file(path, buf, sizeof buf, &len, err);
    if (s == DCR_OK)
        s = dcr_party_key_parse(buf, len, key, path, err);
    dcr_wipe(buf, sizeof buf);
    if (s == DCR_OK)
        s = check_sibling_pub(path, key, err);
    if (s != DCR_OK)
        dcr_party_key_wipe(key);
    return s;
}

dcr_status dcr_hpke_key_id(const uint8_t pk[32], uint8_t id[8], dcr_error *err)
{
    static const char label[] = "dcr key id";
    uint8_t buf[sizeof label - 1 + 32];
    uint8_t digest[DCR_SHA256_LEN];
    memcpy(buf, label, sizeof label - 1);
    memcpy(buf + sizeof label - 1, pk, 32);
    dcr_status s = dcr_sha256(buf, sizeof buf, digest, err);
    if (s == DCR_OK)
        memcpy(id, digest, 8);
    return s;
}

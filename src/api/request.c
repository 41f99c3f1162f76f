/*
 * request.c: the request-signing message and its Ed25519 signature
 * (request.h). The client signs and the server verifies with these same
 * functions, so the two cannot drift apart.
 */
#include "api/request.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/bytes.h"
#include "crypto/sign.h"

bool dcr_request_path_ok(const char *path)
{
    size_t n = strlen(path);
    if (n == 0 || n > DCR_REQUEST_PATH_MAX || path[0] != '/')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = path[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '/' || c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

static bool token_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] <= ' ' || s[i] > '~')
            return false;
    return true;
}

static dcr_status append_hex_line(dcr_buf *out, const uint8_t *b, size_t n, dcr_error *err)
{
    char hex[2 * 64 + 2];
    dcr_hex_encode(hex, b, n);
    hex[2 * n] = '\n';
    return dcr_buf_append(out, hex, 2 * n + 1, err);
}

dcr_status dcr_request_message(const dcr_request_fields *f, dcr_buf *out, dcr_error *err)
{
    out->len = 0;
    if (!token_ok(f->method, 16))
        return dcr_fail(err, DCR_EINPUT, "request method is not a token");
    if (!dcr_request_path_ok(f->path))
        return dcr_fail(err, DCR_EINPUT, "request path has characters outside [A-Za-z0-9/_.-]");
    if (!token_ok(f->party, 64))
        return dcr_fail(err, DCR_EINPUT, "party name is not a printable token");
    char line[64];
    int n = snprintf(line, sizeof line, "%" PRId64 "\n", f->time);
    dcr_status st = dcr_buf_append(out, "dcr request v1\n", 15, err);
    const char *parts[] = {f->method, f->path, f->party};
    for (size_t i = 0; st == DCR_OK && i < 3; i++)
        if ((st = dcr_buf_append(out, parts[i], strlen(parts[i]), err)) == DCR_OK)
            st = dcr_buf_append(out, "\n", 1, err);
    if (st == DCR_OK)
        st = dcr_buf_append(out, line, (size_t)n, err);
    if (st == DCR_OK)
        st = append_hex_line(out, f->nonce, sizeof f->nonce, err);
    if (st == DCR_OK)
        st = append_hex_line(out, f->content_sha256, 32, err);
    if (st == DCR_OK)
        st = append_hex_line(out, f->tls_key_sha256, 32, err);
    return st;
}

dcr_status dcr_request_sign(const dcr_request_fields *f, const uint8_t seed[32], char sig_hex[129],
                            dcr_error *err)
{
    dcr_buf msg = DCR_BUF_INIT;
    uint8_t sig[64];
    dcr_status st = dcr_request_message(f, &msg, err);
    if (st == DCR_OK)
        st = dcr_ed25519_sign(seed, msg.data, msg.len, sig, err);
    if (st == DCR_OK) {
        dcr_hex_encode(sig_hex, sig, 64);
        sig_hex[128] = '\0';
    }
    dcr_buf_free(&msg);
    return st;
}

dcr_status dcr_request_verify(const dcr_request_fields *f, const uint8_t pub[32],
                              const uint8_t sig[64], dcr_error *err)
{
    dcr_buf msg = DCR_BUF_INIT;
    dcr_status st = dcr_request_message(f, &msg, err);
    if (st == DCR_OK && dcr_ed25519_verify(pub, msg.data, msg.len, sig, err) != DCR_OK)
        st = dcr_fail(err, DCR_ECRYPTO, "request signature does not verify under %s's key",
                      f->party);
    dcr_buf_free(&msg);
    return st;
}

/*
 * error.c: filling dcr_error records.
 */
#include "base/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

dcr_status dcr_fail(dcr_error *err, dcr_status code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

dcr_status dcr_error_prefix(dcr_error *err, const char *fmt, ...)
{
    if (!err)
        return DCR_EINTERNAL;
    char prefix[DCR_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    /* "prefix: message", cut to fit */
    char joined[DCR_ERROR_MSG_MAX];
    size_t plen = strnlen(prefix, sizeof joined - 3);
    memcpy(joined, prefix, plen);
    joined[plen] = ':';
    joined[plen + 1] = ' ';
    size_t room = sizeof joined - plen - 3;
    size_t mlen = strnlen(err->msg, room);
    memcpy(joined + plen + 2, err->msg, mlen);
    joined[plen + 2 + mlen] = '\0';
    memcpy(err->msg, joined, sizeof joined);
    return err->code;
}

void dcr_error_quote(char *out, size_t out_size, const char *data, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    if (out_size < 8) {
        if (out_size)
            out[0] = '\0';
        return;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)data[i];
        char tmp[4];
        size_t n;
        if (c < 0x20 || c >= 0x7f || c == '\\') {
            tmp[0] = '\\';
            tmp[1] = 'x';
            tmp[2] = hex[c >> 4];
            tmp[3] = hex[c & 15];
            n = 4;
        } else {
            tmp[0] = (char)c;
            n = 1;
        }
        if (o + n + 4 > out_size) { /* keep room for "..." and NUL */
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        memcpy(out + o, tmp, n);
        o += n;
    }
    out[o] = '\0';
}

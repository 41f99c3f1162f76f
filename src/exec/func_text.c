/*
 * func_text.c: string functions on UTF-8 TEXT, PostgreSQL's rules:
 *   lower(x), upper(x)   fold ASCII letters only (other characters are kept;
 *                        PostgreSQL folds per the database's locale);
 *   length(x)            characters (code points), not bytes;
 *   substr(x, s[, n])    characters s .. s+n-1 (1-based) clipped to the
 *                        string, so a start below 1 shortens the result;
 *                        n < 0 is an error; SUBSTRING(x FROM s FOR n) too;
 *   btrim/ltrim/rtrim(x[, chars])  strip characters in `chars` (default a
 *                        space) from both ends / the start / the end; TRIM().
 */
#include <stdlib.h>
#include <string.h>

#include "exec/internal.h"

static dcr_status oom(dcr_error *err)
{
    return dcr_fail(err, DCR_EINTERNAL, "out of memory");
}

static inline bool cont(unsigned char c)
{
    return (c & 0xc0) == 0x80;
}

/* Byte offset of character k (0-based) of s, or len when there are fewer. */
static size_t char_offset(const char *s, size_t len, int64_t k)
{
    size_t i = 0;
    while (i < len && k > 0) {
        i++;
        while (i < len && cont((unsigned char)s[i]))
            i++;
        k--;
    }
    return i;
}

static dcr_status fold(const dcr_expr *e, const char *s, size_t len, char **buf, size_t *cap,
                       dcr_column *out, dcr_error *err)
{
    if (len > *cap) {
        char *nb = realloc(*buf, len);
        if (!nb)
            return oom(err);
        *buf = nb;
        *cap = len;
    }
    bool up = e->fn == DCR_FN_UPPER;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (up && c >= 'a' && c <= 'z')
            c = (char)(c - 32);
        else if (!up && c >= 'A' && c <= 'Z')
            c = (char)(c + 32);
        (*buf)[i] = c;
    }
    return dcr_column_push_text(out, *buf, len, err);
}

static dcr_status substr(dcr_exec_ctx *ctx, const dcr_expr *e, const dcr_column *const *a, size_t i,
                         const char *s, size_t len, dcr_column *out, dcr_error *err)
{
    int64_t start = ((const int64_t *)a[1]->values)[i], end = INT64_MAX;
    if (e->nargs == 3) {
        int64_t n = ((const int64_t *)a[2]->values)[i];
        if (n < 0)
            return dcr_eval_row_fail(ctx, e, err, "negative substring length not allowed")
                       ? DCR_EINPUT
                       : dcr_column_push_null(out, err);
        if (__builtin_add_overflow(start, n, &end))
            end = INT64_MAX;
    }
    if (start < 1)
        start = 1;
    if (end <= start)
        return dcr_column_push_text(out, "", 0, err);
    size_t from = char_offset(s, len, start - 1);
    size_t to = end == INT64_MAX ? len : from + char_offset(s + from, len - from, end - start);
    return dcr_column_push_text(out, s + from, to - from, err);
}

/* Whether the character s[0..n) occurs in set. */
static bool in_set(const char *c, size_t n, const char *set, size_t slen)
{
    for (size_t j = 0; j < slen;) {
        size_t k = j + 1;
        while (k < slen && cont((unsigned char)set[k]))
            k++;
        if (k - j == n && memcmp(set + j, c, n) == 0)
            return true;
        j = k;
    }
    return false;
}

static dcr_status trim(const dcr_expr *e, const dcr_column *const *a, size_t i, const char *s,
                       size_t len, dcr_column *out, dcr_error *err)
{
    size_t slen = 1;
    const char *set = e->nargs == 2 ? dcr_vec_text(a[1], i, &slen) : " ";
    size_t from = 0, to = len;
    if (e->fn != DCR_FN_RTRIM)
        while (from < to) {
            size_t k = from + 1;
            while (k < to && cont((unsigned char)s[k]))
                k++;
            if (!in_set(s + from, k - from, set, slen))
                break;
            from = k;
        }
    if (e->fn != DCR_FN_LTRIM)
        while (to > from) {
            size_t k = to - 1;
            while (k > from && cont((unsigned char)s[k]))
                k--;
            if (!in_set(s + k, to - k, set, slen))
                break;
            to = k;
        }
    return dcr_column_push_text(out, s + from, to - from, err);
}

dcr_status dcr_fn_text(dcr_exec_ctx *ctx, const dcr_expr *e, const dcr_column *const *a,
                       const uint8_t *active, size_t n, dcr_column *out, dcr_error *err)
{
    char *buf = NULL;
    size_t cap = 0;
    dcr_status s = DCR_OK;
    for (size_t i = 0; s == DCR_OK && i < n; i++) {
        if (!dcr_fn_row_on(e, a, active, i)) {
            s = dcr_column_push_null(out, err);
            continue;
        }
        size_t len;
        const char *x = dcr_vec_text(a[0], i, &len);
        switch (e->fn) {
        case DCR_FN_LOWER:
        case DCR_FN_UPPER:
            s = fold(e, x, len, &buf, &cap, out, err);
            break;
        case DCR_FN_LENGTH: {
            int64_t chars = 0;
            for (size_t k = 0; k < len; k++)
                chars += !cont((unsigned char)x[k]);
            s = dcr_column_push_i64(out, chars, err);
            break;
        }
        case DCR_FN_SUBSTR:
            s = substr(ctx, e, a, i, x, len, out, err);
            break;
        default:
            s = trim(e, a, i, x, len, out, err);
            break;
        }
    }
    free(buf);
    return s;
}

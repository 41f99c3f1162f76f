/*
 * like.c: x [NOT] LIKE / ILIKE pattern [ESCAPE e], PostgreSQL's rules on
 * UTF-8 text.
 *
 * `%` matches any run of characters (also none), `_` exactly one character
 * (a UTF-8 code point), the escape character (`\` unless an ESCAPE clause
 * names another; ESCAPE '' means none) makes the next character literal;
 * everything else matches itself, bytewise. The escape is recognised before
 * `%` and `_`, so ESCAPE '%' makes `%%` a literal `%`, as PostgreSQL's
 * like_escape() rewriting does. A pattern ending in an unescaped escape
 * character is an error ("LIKE pattern must not end with escape
 * character"); an escape of more than one character is an error ("invalid
 * escape string"). ILIKE folds ASCII letters only (PostgreSQL folds per the
 * database's locale); the escape character itself is never folded.
 *
 * Matching is the usual greedy scan that backtracks to the last `%` only,
 * which is linear in practice and never worse than |text| * |pattern|.
 */
#include <stdlib.h>
#include <string.h>

#include "exec/internal.h"

/* Length of the UTF-8 character starting at s[0] (1 for stray bytes). */
static size_t char_len(const unsigned char *s, size_t left)
{
    size_t n = s[0] < 0x80 ? 1 : s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 1;
    for (size_t k = 1; k < n; k++)
        if (k >= left || (s[k] & 0xc0) != 0x80)
            return k;
    return n;
}

static inline unsigned char fold(unsigned char c, bool ci)
{
    return ci && c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* The escape character: bytes esc[0..len), len 0 = no escaping. */
typedef struct {
    const unsigned char *esc;
    size_t len;
} escape;

static inline bool at_escape(const unsigned char *p, size_t plen, size_t pi, escape e)
{
    return e.len && plen - pi >= e.len && memcmp(p + pi, e.esc, e.len) == 0;
}

/* Whether an escape character is the pattern's last character. */
static bool bad_escape(const unsigned char *p, size_t plen, escape e)
{
    for (size_t i = 0; i < plen;) {
        if (at_escape(p, plen, i, e)) {
            i += e.len;
            if (i == plen)
                return true;
        }
        i += char_len(p + i, plen - i);
    }
    return false;
}

/* Whether text t matches pattern p (which has no dangling escape). */
static bool match(const unsigned char *t, size_t tlen, const unsigned char *p, size_t plen,
                  escape e, bool ci)
{
    size_t ti = 0, pi = 0, star_p = SIZE_MAX, star_t = 0;
    while (ti < tlen) {
        bool escaped = at_escape(p, plen, pi, e);
        if (pi < plen && !escaped && p[pi] == '%') {
            star_p = ++pi;
            star_t = ti;
            continue;
        }
        if (pi < plen && !escaped && p[pi] == '_') {
            ti += char_len(t + ti, tlen - ti);
            pi++;
            continue;
        }
        if (pi < plen) {
            size_t lit = escaped ? pi + e.len : pi;
            if (fold(p[lit], ci) == fold(t[ti], ci)) {
                ti++;
                pi = lit + 1;
                continue;
            }
        }
        if (star_p == SIZE_MAX)
            return false;
        star_t += char_len(t + star_t, tlen - star_t);
        ti = star_t;
        pi = star_p;
    }
    while (pi < plen && p[pi] == '%' && !at_escape(p, plen, pi, e))
        pi++;
    return pi == plen;
}

/* Checks an ESCAPE argument: empty or one character. */
static bool escape_ok(const char *s, size_t len)
{
    return len == 0 || char_len((const unsigned char *)s, len) == len;
}

dcr_status dcr_fn_like(dcr_exec_ctx *ctx, const dcr_expr *e, const dcr_column *const *a,
                       const uint8_t *active, size_t n, dcr_column *out, dcr_error *err)
{
    bool ci = e->fn == DCR_FN_ILIKE;
    escape dflt = {(const unsigned char *)"\\", 1};
    for (size_t i = 0; i < n; i++) {
        dcr_status s;
        if (!dcr_fn_row_on(e, a, active, i)) {
            s = dcr_column_push_null(out, err);
        } else {
            size_t tlen, plen;
            const char *t = dcr_vec_text(a[0], i, &tlen), *p = dcr_vec_text(a[1], i, &plen);
            escape esc = dflt;
            const char *bad = NULL;
            const dcr_expr *at = e;
            if (e->nargs == 3) {
                const char *x = dcr_vec_text(a[2], i, &esc.len);
                esc.esc = (const unsigned char *)x;
                if (!escape_ok(x, esc.len)) {
                    bad = "invalid escape string (must be empty or one character)";
                    at = e->args[2];
                }
            }
            const unsigned char *up = (const unsigned char *)p;
            if (!bad && bad_escape(up, plen, esc))
                bad = "LIKE pattern must not end with escape character";
            if (bad && dcr_eval_row_fail(ctx, at, err, bad))
                return DCR_EINPUT;
            if (bad) {
                s = dcr_column_push_null(out, err);
            } else {
                bool m = match((const unsigned char *)t, tlen, up, plen, esc, ci);
                s = dcr_column_push_bool(out, m != e->negated, err);
            }
        }
        if (s != DCR_OK)
            return s;
    }
    return DCR_OK;
}

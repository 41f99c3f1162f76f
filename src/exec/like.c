/*
 * like.c: x [NOT] LIKE / ILIKE pattern, PostgreSQL's rules on UTF-8 text.
 *
 * `%` matches any run of characters (also none), `_` exactly one character
 * (a UTF-8 code point), `\` makes the next character literal; everything
 * else matches itself, bytewise. A pattern ending in an unescaped `\` is an
 * error ("LIKE pattern must not end with escape character"). ILIKE folds
 * ASCII letters only (PostgreSQL folds per the database's locale).
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

static bool bad_escape(const char *p, size_t plen)
{
    for (size_t i = 0; i < plen; i++)
        if (p[i] == '\\' && ++i == plen)
            return true;
    return false;
}

/* Whether text t matches pattern p (which has no dangling escape). */
static bool match(const unsigned char *t, size_t tlen, const unsigned char *p, size_t plen, bool ci)
{
    size_t ti = 0, pi = 0, star_p = SIZE_MAX, star_t = 0;
    while (ti < tlen) {
        if (pi < plen && p[pi] == '%') {
            star_p = ++pi;
            star_t = ti;
            continue;
        }
        if (pi < plen && p[pi] == '_') {
            ti += char_len(t + ti, tlen - ti);
            pi++;
            continue;
        }
        if (pi < plen) {
            size_t lit = p[pi] == '\\' ? pi + 1 : pi;
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
    while (pi < plen && p[pi] == '%')
        pi++;
    return pi == plen;
}

dcr_status dcr_fn_like(dcr_exec_ctx *ctx, const dcr_expr *e, const dcr_column *const *a,
                       const uint8_t *active, size_t n, dcr_column *out, dcr_error *err)
{
    bool ci = e->fn == DCR_FN_ILIKE;
    for (size_t i = 0; i < n; i++) {
        dcr_status s;
        if (!dcr_fn_row_on(e, a, active, i)) {
            s = dcr_column_push_null(out, err);
        } else {
            size_t tlen, plen;
            const char *t = dcr_vec_text(a[0], i, &tlen), *p = dcr_vec_text(a[1], i, &plen);
            if (bad_escape(p, plen))
                return dcr_eval_fail(ctx, e, err,
                                     "LIKE pattern must not end with escape character");
            bool m = match((const unsigned char *)t, tlen, (const unsigned char *)p, plen, ci);
            s = dcr_column_push_bool(out, m != e->negated, err);
        }
        if (s != DCR_OK)
            return s;
    }
    return DCR_OK;
}

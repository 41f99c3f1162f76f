/*
 * textwidth.c: display width of UTF-8 text (textwidth.h).
 */
#define _GNU_SOURCE
#include "base/textwidth.h"

#include <locale.h>
#include <pthread.h>
#include <stdint.h>
#include <wchar.h>

/* The C.UTF-8 locale object, made once and never changed afterwards (an
 * immutable cache, not mutable state); (locale_t)0 when the C library
 * lacks it, and then every code point counts as one column. */
static locale_t utf8_locale;
static pthread_once_t utf8_once = PTHREAD_ONCE_INIT;

static void utf8_locale_init(void)
{
    utf8_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

/* Decodes one UTF-8 sequence at s (n > 0 bytes left); *len gets its
 * length. Returns the code point, or -1 for an invalid sequence (then
 * *len is 1). */
static int32_t decode(const unsigned char *s, size_t n, size_t *len)
{
    unsigned char c = s[0];
    size_t need = c < 0x80             ? 1
                  : (c & 0xe0) == 0xc0 ? 2
                  : (c & 0xf0) == 0xe0 ? 3
                  : (c & 0xf8) == 0xf0 ? 4
                                       : 0;
    *len = 1;
    if (need == 0 || need > n)
        return -1;
    int32_t cp = need == 1 ? c : c & (0x7f >> need);
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return -1;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    static const int32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[need] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return -1;
    *len = need;
    return cp;
}

size_t dcr_text_width(const char *s, size_t n)
{
    pthread_once(&utf8_once, utf8_locale_init);
    locale_t old = utf8_locale ? uselocale(utf8_locale) : (locale_t)0;
    const unsigned char *p = (const unsigned char *)s;
    size_t w = 0;
    for (size_t i = 0; i < n;) {
        size_t len;
        int32_t cp = decode(p + i, n - i, &len);
        int cw = cp < 0 ? 1 : cp < 0x80 ? 1 : utf8_locale ? wcwidth((wchar_t)cp) : 1;
        w += cw < 0 ? 1 : (size_t)cw;
        i += len;
    }
    if (utf8_locale)
        uselocale(old);
    return w;
}

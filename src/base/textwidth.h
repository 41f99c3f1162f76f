/*
 * textwidth.h: how many terminal columns a UTF-8 string takes, for the
 * table output of `dcr sql` and `dcr query`: a CJK character or an emoji
 * takes two, a combining accent none. Counting code points instead
 * misaligned every column after a wide character.
 *
 * Widths come from the C library's wcwidth() under the built-in C.UTF-8
 * locale (glibc's Unicode width tables), selected for the calling thread
 * only while it measures, so the program's own locale stays "C".
 * Control characters and invalid bytes count as one column each: the
 * callers escape or replace them before printing.
 */
#ifndef DCR_BASE_TEXTWIDTH_H
#define DCR_BASE_TEXTWIDTH_H

#include <stddef.h>

/* The display width of the n bytes at s. */
size_t dcr_text_width(const char *s, size_t n);

#endif

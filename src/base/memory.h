/*
 * memory.h: a hint to the kernel about the large arrays the executor fills
 * (hash tables, growing columns, the join's build arrays).
 */
#ifndef DCR_BASE_MEMORY_H
#define DCR_BASE_MEMORY_H

#include <stddef.h>

/* Asks for transparent huge pages over the 2 MiB-aligned part of the
 * len bytes at p (which the caller allocated); does nothing below 4 MiB.
 * Only a hint: it changes no contents, and failure is ignored. */
void dcr_advise_huge(void *p, size_t len);

#endif

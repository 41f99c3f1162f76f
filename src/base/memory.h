/*
 * memory.h: a hint to the kernel about the large arrays the executor fills
 * (hash tables, growing columns, the join's build arrays).
 */
#ifndef DCR_BASE_MEMORY_H
#define DCR_BASE_MEMORY_H

#include <stddef.h>

/* Asks for transparent huge pages over the pages of the len bytes at p
 * (which the caller allocated); does nothing below 4 MiB. Only a hint: it
 * changes no contents, and failure is ignored. */
void dcr_advise_huge(void *p, size_t len);

/* n * size zero bytes (NULL on overflow or out of memory; free with free),
 * for a big table about to be filled at random: the zeros are written at
 * once, with dcr_advise_huge. Why not calloc: its fresh pages are mapped
 * lazily, and the table's first reads map the shared zero page, which each
 * first write must then replace, flushing the TLB of every CPU running the
 * query's threads; writing first maps real pages, 2 MiB at a time. */
void *dcr_zalloc_huge(size_t n, size_t size);

/* An array that only grows (by doubling, say): from DCR_BIG_BYTES on it
 * is its own mapping (huge pages advised), which grows by mremap, moving
 * page tables instead of copying bytes, so its old part is neither copied
 * nor touched again; below that it comes from aligned_alloc, and a move
 * wipes the old copy. Always 64-byte aligned. Resize (new_bytes must be
 * larger) returns the new address, or NULL with p still valid at its old
 * size; new bytes are uninitialised. Free with its last size (NULL is
 * fine); the caller wipes secrets first. */
#define DCR_BIG_BYTES ((size_t)1 << 20)
void *dcr_big_resize(void *p, size_t old_bytes, size_t new_bytes);
void dcr_big_free(void *p, size_t bytes);

#endif

/*
 * memory.c: see memory.h.
 *
 * Why: a big array that grows by doubling is filled, often at random, right
 * after it is allocated, and each fresh 4 KiB page costs a page fault. With
 * several query threads filling their own tables, those faults also contend
 * on the process's memory-map lock: on the bench's reach query (a 10M-row
 * COUNT(DISTINCT)) the kernel time was 1.4 s of 3.5 s of CPU. Debian's
 * default transparent-huge-page mode is "madvise", so the kernel backs a
 * range with 2 MiB pages only where asked. glibc's own switch for this
 * (GLIBC_TUNABLES=glibc.malloc.hugetlb=1) can only come from the
 * environment, so dcr asks for its large arrays itself.
 */
#define _GNU_SOURCE /* mremap */
#include "base/memory.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define PAGE ((uintptr_t)4096)
#define HUGE_MIN ((size_t)4 << 20)

/* Advises every page the len bytes at p touch, not just the 2 MiB-aligned
 * middle (the kernel only uses huge pages there anyway): a large malloc
 * block is a mapping of its own, and advising all of it keeps it one
 * mapping with one set of flags, which glibc's realloc needs to grow it by
 * mremap instead of copying. */
void dcr_advise_huge(void *p, size_t len)
{
#ifdef MADV_HUGEPAGE
    if (!p || len < HUGE_MIN)
        return;
    uintptr_t start = (uintptr_t)p & ~(PAGE - 1);
    uintptr_t end = ((uintptr_t)p + len + PAGE - 1) & ~(PAGE - 1);
    (void)madvise((void *)start, end - start, MADV_HUGEPAGE);
#else
    (void)p;
    (void)len;
#endif
}

void *dcr_zalloc_huge(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    size_t len = n * size;
    void *p = malloc(len ? len : 1);
    if (p) {
        dcr_advise_huge(p, len);
        memset(p, 0, len);
    }
    return p;
}

static size_t page_round(size_t n)
{
    return (n + 4095) & ~(size_t)4095;
}

void *dcr_big_resize(void *p, size_t old_bytes, size_t new_bytes)
{
    if (new_bytes <= old_bytes)
        return NULL;
    void *q;
    if (new_bytes < DCR_BIG_BYTES) {
        q = aligned_alloc(64, (new_bytes + 63) & ~(size_t)63);
        if (!q)
            return NULL;
    } else if (old_bytes >= DCR_BIG_BYTES) {
        /* The grown mapping keeps the hint: it is one mapping with one set
         * of flags, as mremap needs (it fails on a range whose parts were
         * advised differently, which dcr_advise_huge's 2 MiB-aligned middle
         * would make). */
        q = mremap(p, page_round(old_bytes), page_round(new_bytes), MREMAP_MAYMOVE);
        return q == MAP_FAILED ? NULL : q;
    } else {
        q = mmap(NULL, page_round(new_bytes), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                 -1, 0);
        if (q == MAP_FAILED)
            return NULL;
#ifdef MADV_HUGEPAGE
        (void)madvise(q, page_round(new_bytes), MADV_HUGEPAGE); /* all of it: see above */
#endif
    }
    if (p) { /* from malloc: copied, and the old copy wiped (it may hold plaintext) */
        memcpy(q, p, old_bytes);
        explicit_bzero(p, old_bytes);
        free(p);
    }
    return q;
}

void dcr_big_free(void *p, size_t bytes)
{
    if (!p)
        return;
    if (bytes >= DCR_BIG_BYTES)
        (void)munmap(p, page_round(bytes));
    else
        free(p);
}

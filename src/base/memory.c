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
#include "base/memory.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define HUGE_PAGE ((uintptr_t)2 << 20)
#define HUGE_MIN ((size_t)4 << 20)

void dcr_advise_huge(void *p, size_t len)
{
#ifdef MADV_HUGEPAGE
    if (!p || len < HUGE_MIN)
        return;
    uintptr_t start = ((uintptr_t)p + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
    uintptr_t end = ((uintptr_t)p + len) & ~(HUGE_PAGE - 1);
    if (end > start)
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

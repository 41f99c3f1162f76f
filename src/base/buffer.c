/*
 * buffer.c: growable byte buffers.
 */
#include "base/buffer.h"

#include <stdlib.h>
#include <string.h>

dcr_status dcr_buf_reserve(dcr_buf *b, size_t extra, dcr_error *err)
{
    if (extra <= b->cap - b->len)
        return DCR_OK;
    if (extra > SIZE_MAX / 2 - b->len)
        return dcr_fail(err, DCR_EINTERNAL, "buffer size overflow");
    size_t want = b->len + extra;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < want)
        cap *= 2;
    uint8_t *p = realloc(b->data, cap);
    if (!p)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory (%zu bytes)", cap);
    b->data = p;
    b->cap = cap;
    return DCR_OK;
}

dcr_status dcr_buf_append(dcr_buf *b, const void *data, size_t len, dcr_error *err)
{
    dcr_status s = dcr_buf_reserve(b, len, err);
    if (s != DCR_OK)
        return s;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    return DCR_OK;
}

void dcr_buf_free(dcr_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void dcr_buf_wipe_free(dcr_buf *b)
{
    if (b->data)
        explicit_bzero(b->data, b->cap);
    dcr_buf_free(b);
}

/*
 * buffer.h: a growable byte buffer. The owner frees it with dcr_buf_free
 * (or dcr_buf_wipe_free when it held secrets or plaintext).
 */
#ifndef DCR_BASE_BUFFER_H
#define DCR_BASE_BUFFER_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

typedef struct {
    uint8_t *data;
    size_t len;
    size_t cap;
} dcr_buf;

#define DCR_BUF_INIT                                                                               \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* Makes room for at least `extra` more bytes. */
dcr_status dcr_buf_reserve(dcr_buf *b, size_t extra, dcr_error *err);
dcr_status dcr_buf_append(dcr_buf *b, const void *data, size_t len, dcr_error *err);
void dcr_buf_free(dcr_buf *b);
/* Wipes the whole capacity before freeing. */
void dcr_buf_wipe_free(dcr_buf *b);

#endif

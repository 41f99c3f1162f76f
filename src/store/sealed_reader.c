/*
 * sealed_reader.c: reading a sealed file's header and chunk frames with
 * pread, checking every length against the file and the header's limits.
 */
#include "store/sealed_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/bytes.h"

static dcr_status pread_exact(const dcr_sealed_reader *r, void *buf, size_t len, uint64_t off,
                              dcr_error *err)
{
    uint8_t *p = buf;
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(r->fd, p + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return dcr_fail(err, DCR_EINPUT, "%s: read failed: %s", r->path, strerror(errno));
        if (n == 0)
            return dcr_fail(err, DCR_EINPUT, "%s: file changed while being read", r->path);
        done += (size_t)n;
    }
    return DCR_OK;
}

dcr_status dcr_sealed_reader_open(dcr_sealed_reader *r, const char *path, dcr_error *err)
{
    memset(r, 0, sizeof *r);
    r->path = path;
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0)
        return dcr_fail(err, DCR_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(r->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        dcr_sealed_reader_close(r);
        return dcr_fail(err, DCR_EINPUT, "%s: not a regular file", path);
    }
    r->file_size = (uint64_t)st.st_size;
    uint8_t pre[DCR_SEALED_PREAMBLE_LEN];
    size_t need = sizeof pre;
    dcr_status s = r->file_size < need ? dcr_fail(err, DCR_EINPUT, "too short for a sealed file")
                                       : pread_exact(r, pre, need, 0, err);
    if (s == DCR_OK)
        s = dcr_sealed_preamble_parse(pre, sizeof pre, &need, err);
    uint8_t *hbuf = NULL;
    if (s == DCR_OK && need > r->file_size)
        s = dcr_fail(err, DCR_EINPUT, "the file ends inside its header");
    if (s == DCR_OK && !(hbuf = malloc(need)))
        s = dcr_fail(err, DCR_EINTERNAL, "out of memory");
    if (s == DCR_OK)
        s = pread_exact(r, hbuf, need, 0, err);
    if (s == DCR_OK)
        s = dcr_sealed_header_parse(hbuf, need, &r->header, &need, err);
    free(hbuf);
    if (s != DCR_OK) {
        dcr_error_prefix(err, "%s", path);
        dcr_sealed_reader_close(r);
        return s;
    }
    r->offset = r->header.header_len;
    return DCR_OK;
}

void dcr_sealed_reader_close(dcr_sealed_reader *r)
{
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
    dcr_sealed_header_free(&r->header);
    dcr_buf_free(&r->ct);
}

void dcr_sealed_reader_rewind(dcr_sealed_reader *r)
{
    r->offset = r->header.header_len;
    r->index = 0;
}

dcr_status dcr_sealed_reader_next_span(dcr_sealed_reader *r, uint64_t *offset, size_t *ct_len,
                                       uint32_t *index, bool *last, dcr_error *err)
{
    *offset = 0;
    *ct_len = 0;
    if (r->offset == r->file_size) {
        if (r->index == 0)
            return dcr_fail(err, DCR_EINPUT,
                            "%s: the file has no chunks (truncated after its "
                            "header)",
                            r->path);
        return DCR_OK;
    }
    uint64_t left = r->file_size - r->offset;
    uint8_t len_bytes[4];
    if (left < 4)
        return dcr_fail(err, DCR_EINPUT, "%s: the file ends inside the length of chunk %u", r->path,
                        r->index);
    dcr_status s = pread_exact(r, len_bytes, 4, r->offset, err);
    if (s != DCR_OK)
        return s;
    uint32_t len = dcr_get_u32le(len_bytes);
    size_t overhead = dcr_chunk_overhead(&r->header);
    if (len < overhead || len - overhead > r->header.chunk_bytes_max)
        return dcr_fail(err, DCR_EINPUT, "%s: chunk %u at byte %llu has an invalid length %u",
                        r->path, r->index, (unsigned long long)r->offset, len);
    if (len > left - 4)
        return dcr_fail(err, DCR_EINPUT, "%s: the file ends inside chunk %u (truncated)", r->path,
                        r->index);
    bool at_end = r->offset + 4 + len == r->file_size;
    if (r->index == UINT32_MAX && !at_end)
        return dcr_fail(err, DCR_EINPUT, "%s: too many chunks", r->path);
    *offset = r->offset + 4;
    *ct_len = len;
    *index = r->index++;
    *last = at_end;
    r->offset += 4 + (uint64_t)len;
    return DCR_OK;
}

dcr_status dcr_sealed_reader_read(const dcr_sealed_reader *r, uint64_t offset, size_t ct_len,
                                  dcr_buf *ct, dcr_error *err)
{
    ct->len = 0;
    return dcr_sealed_reader_read_more(r, offset, ct_len, ct, err);
}

dcr_status dcr_sealed_reader_read_more(const dcr_sealed_reader *r, uint64_t offset, size_t len,
                                       dcr_buf *ct, dcr_error *err)
{
    dcr_status s = dcr_buf_reserve(ct, len, err);
    if (s == DCR_OK && (s = pread_exact(r, ct->data + ct->len, len, offset, err)) == DCR_OK)
        ct->len += len;
    return s;
}

dcr_status dcr_sealed_reader_next(dcr_sealed_reader *r, const uint8_t **ct, size_t *ct_len,
                                  uint32_t *index, bool *last, dcr_error *err)
{
    uint64_t offset;
    size_t len;
    *ct = NULL;
    *ct_len = 0;
    dcr_status s = dcr_sealed_reader_next_span(r, &offset, &len, index, last, err);
    if (s != DCR_OK || len == 0)
        return s;
    if ((s = dcr_sealed_reader_read(r, offset, len, &r->ct, err)) != DCR_OK)
        return s;
    *ct = r->ct.data;
    *ct_len = len;
    return DCR_OK;
}

dcr_status dcr_sealed_reader_decrypt(const dcr_sealed_reader *r,
                                     const uint8_t key[DCR_DATA_KEY_LEN], const uint8_t *ct,
                                     size_t ct_len, uint32_t index, bool last, dcr_buf *plain,
                                     dcr_error *err)
{
    return dcr_sealed_reader_decrypt_columns(r, key, ct, ct_len, index, last, NULL, plain, err);
}

/* What a failed authentication of chunk index means, said for the file. */
static dcr_status auth_failed(const dcr_sealed_reader *r, uint32_t index, bool last, dcr_error *err)
{
    return dcr_fail(err, DCR_ECRYPTO,
                    "%s: chunk %u failed authentication: the file was "
                    "modified, truncated, reordered or spliced%s",
                    r->path, index, last ? " (or the final chunk is missing)" : "");
}

dcr_status dcr_sealed_reader_decrypt_columns(const dcr_sealed_reader *r,
                                             const uint8_t key[DCR_DATA_KEY_LEN], const uint8_t *ct,
                                             size_t ct_len, uint32_t index, bool last,
                                             const uint8_t *want, dcr_buf *plain, dcr_error *err)
{
    dcr_status s =
        dcr_chunk_decrypt_columns(&r->header, key, index, last, ct, ct_len, want, plain, err);
    return s == DCR_ECRYPTO ? auth_failed(r, index, last, err) : s;
}

dcr_status dcr_sealed_reader_wanted_prefix(const dcr_sealed_reader *r,
                                           const uint8_t key[DCR_DATA_KEY_LEN], const uint8_t *ct,
                                           size_t ct_len, uint32_t index, bool last,
                                           const uint8_t *want, size_t *prefix, dcr_buf *plain,
                                           dcr_error *err)
{
    dcr_status s =
        dcr_chunk_wanted_prefix(&r->header, key, index, last, ct, ct_len, want, prefix, plain, err);
    return s == DCR_ECRYPTO ? auth_failed(r, index, last, err) : s;
}

/*
 * input.c: plain, gzip or zstd input told by its first bytes (input.h).
 *
 * Raw bytes are staged in one fixed buffer; plain input copies what is
 * staged and then reads straight into the caller's buffer, so the common
 * case costs no extra copy. Compressed input is fed through zlib (gzip
 * members, concatenated members too, as `cat a.gz b.gz` makes) or the zstd
 * streaming decoder (any number of frames). Both check their own checksums
 * (gzip's CRC-32 always, zstd's when the frame has one).
 */
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_createDStream_advanced: wiping allocator */
#include "store/input.h"

#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "base/fileio.h"
#include "base/hygiene.h"

#define STAGE_BYTES (256u << 10) /* raw bytes read from the file at a time */

struct dcr_input {
    int fd;
    const unsigned char *mem; /* set for an in-memory input */
    size_t mem_len, mem_pos;
    const char *name;
    dcr_input_kind kind;
    unsigned char *stage; /* raw bytes read, not yet consumed */
    size_t pos, len, cap;
    bool raw_eof;
    uint64_t raw_bytes;
    z_stream z;
    bool z_ready;
    ZSTD_DStream *zs;
    bool ended; /* the compressed data ended at a member or frame boundary */
};

/* ---- allocators that wipe: decompressor windows hold plaintext ---- */

#define WIPE_HDR 16 /* keeps the caller's block aligned for any type */

static void *wipe_alloc(size_t n)
{
    if (n > SIZE_MAX - WIPE_HDR)
        return NULL;
    unsigned char *p = malloc(n + WIPE_HDR);
    if (!p)
        return NULL;
    memcpy(p, &n, sizeof n);
    return p + WIPE_HDR;
}

static void wipe_release(void *q)
{
    if (!q)
        return;
    unsigned char *p = (unsigned char *)q - WIPE_HDR;
    size_t n;
    memcpy(&n, p, sizeof n);
    dcr_wipe_free(p, n + WIPE_HDR);
}

static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
    (void)opaque;
    if (size && items > SIZE_MAX / size)
        return NULL;
    return wipe_alloc((size_t)items * size);
}

static void z_free(voidpf opaque, voidpf p)
{
    (void)opaque;
    wipe_release(p);
}

static void *zs_alloc(void *opaque, size_t n)
{
    (void)opaque;
    return wipe_alloc(n);
}

static void zs_free(void *opaque, void *p)
{
    (void)opaque;
    wipe_release(p);
}

/* ---- raw bytes ---- */

static dcr_status raw_read(dcr_input *in, void *buf, size_t len, size_t *got, dcr_error *err)
{
    if (in->mem) {
        size_t n = in->mem_len - in->mem_pos < len ? in->mem_len - in->mem_pos : len;
        memcpy(buf, in->mem + in->mem_pos, n);
        in->mem_pos += n;
        *got = n;
    } else {
        dcr_status s = dcr_read_full(in->fd, buf, len, got, in->name, err);
        if (s != DCR_OK)
            return s;
    }
    in->raw_bytes += *got;
    if (*got < len)
        in->raw_eof = true;
    return DCR_OK;
}

/* Refills the stage once it is used up. */
static dcr_status refill(dcr_input *in, dcr_error *err)
{
    if (in->pos < in->len || in->raw_eof)
        return DCR_OK;
    in->pos = 0;
    return raw_read(in, in->stage, in->cap, &in->len, err);
}

/* The compressed offset of the next unconsumed byte, for messages. */
static uint64_t offset(const dcr_input *in)
{
    return in->raw_bytes - (in->len - in->pos);
}

/* ---- format detection ---- */

static bool starts(const dcr_input *in, const char *magic, size_t n)
{
    return in->len >= n && memcmp(in->stage, magic, n) == 0;
}

/* Formats that are not data we read, named so the user knows what to do. */
static dcr_status refuse_archive(const dcr_input *in, dcr_error *err)
{
    const char *what = NULL, *fix = NULL;
    if (starts(in,
               "\xFD"
               "7zXZ\0",
               6)) {
        what = "xz-compressed";
        fix = "decompress it (xz -d) or recompress it with gzip or zstd";
    } else if (starts(in, "BZh", 3) && in->len >= 10 && in->stage[3] >= '1' &&
               in->stage[3] <= '9' && memcmp(in->stage + 4, "\x31\x41\x59\x26\x53\x59", 6) == 0) {
        what = "bzip2-compressed";
        fix = "decompress it (bzip2 -d) or recompress it with gzip or zstd";
    } else if (starts(in, "PK\x03\x04", 4)) {
        what = "a ZIP archive (an .xlsx workbook is one)";
        fix = "extract the CSV from it, or export the sheet as CSV";
    } else if (starts(in, "DCRSEAL\0", 8)) {
        what = "a sealed dcr file";
        fix = "give the CSV it was sealed from";
    }
    if (!what)
        return DCR_OK;
    return dcr_fail(err, DCR_EINPUT, "%s: the file is %s, not CSV data: %s", in->name, what, fix);
}

static dcr_status start_decoder(dcr_input *in, dcr_error *err)
{
    if (starts(in, "\x1F\x8B", 2)) {
        in->kind = DCR_INPUT_GZIP;
        in->z.zalloc = z_alloc;
        in->z.zfree = z_free;
        if (inflateInit2(&in->z, 15 + 16) != Z_OK) /* 15: largest window; +16: gzip only */
            return dcr_fail(err, DCR_EINTERNAL, "cannot start the gzip decoder (out of memory?)");
        in->z_ready = true;
        return DCR_OK;
    }
    if (starts(in, "\x28\xB5\x2F\xFD", 4)) {
        in->kind = DCR_INPUT_ZSTD;
        ZSTD_customMem mem = {zs_alloc, zs_free, NULL};
        in->zs = ZSTD_createDStream_advanced(mem);
        if (!in->zs || ZSTD_isError(ZSTD_initDStream(in->zs)))
            return dcr_fail(err, DCR_EINTERNAL, "cannot start the zstd decoder (out of memory?)");
        return DCR_OK;
    }
    return refuse_archive(in, err);
}

static dcr_status open_common(dcr_input **out, dcr_input *in, dcr_error *err)
{
    *out = NULL;
    in->stage = malloc(in->cap);
    dcr_status s = in->stage ? refill(in, err) : dcr_fail(err, DCR_EINTERNAL, "out of memory");
    if (s == DCR_OK)
        s = start_decoder(in, err);
    if (s != DCR_OK) {
        dcr_input_close(in);
        return s;
    }
    *out = in;
    return DCR_OK;
}

dcr_status dcr_input_open_fd(dcr_input **out, int fd, const char *name, dcr_error *err)
{
    dcr_input *in = calloc(1, sizeof *in);
    if (!in)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    in->fd = fd;
    in->name = name;
    in->cap = STAGE_BYTES;
    return open_common(out, in, err);
}

dcr_status dcr_input_open_mem(dcr_input **out, const void *data, size_t len, const char *name,
                              dcr_error *err)
{
    dcr_input *in = calloc(1, sizeof *in);
    if (!in)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    in->fd = -1;
    in->mem = data ? data : (const unsigned char *)"";
    in->mem_len = len;
    in->name = name;
    /* no bigger than the data (fuzzing opens thousands of small inputs);
     * 16 bytes at least, enough to see any magic */
    in->cap = len < 16 ? 16 : len < STAGE_BYTES ? len : STAGE_BYTES;
    return open_common(out, in, err);
}

/* ---- reading ---- */

static dcr_status read_plain(dcr_input *in, unsigned char *buf, size_t len, size_t *got,
                             dcr_error *err)
{
    size_t n = in->len - in->pos < len ? in->len - in->pos : len;
    memcpy(buf, in->stage + in->pos, n);
    in->pos += n;
    *got = n;
    if (n == len || in->raw_eof)
        return DCR_OK;
    size_t more;
    dcr_status s = raw_read(in, buf + n, len - n, &more, err);
    *got += more;
    return s;
}

/* One inflate call over the staged bytes into buf[*got..len). */
static dcr_status step_gzip(dcr_input *in, unsigned char *buf, size_t len, size_t *got,
                            dcr_error *err)
{
    if (in->ended) {
        if (in->pos == in->len)
            return DCR_OK;    /* nothing more, unless the file goes on */
        inflateReset(&in->z); /* another member follows */
        in->ended = false;
    }
    size_t room = len - *got > UINT_MAX ? UINT_MAX : len - *got;
    size_t avail = in->len - in->pos > UINT_MAX ? UINT_MAX : in->len - in->pos;
    in->z.next_in = in->stage + in->pos;
    in->z.avail_in = (uInt)avail;
    in->z.next_out = buf + *got;
    in->z.avail_out = (uInt)room;
    int rc = inflate(&in->z, Z_NO_FLUSH);
    in->pos += avail - in->z.avail_in;
    *got += room - in->z.avail_out;
    if (rc == Z_STREAM_END)
        in->ended = true;
    else if (rc != Z_OK && rc != Z_BUF_ERROR)
        return dcr_fail(err, DCR_EINPUT,
                        "%s: damaged gzip data near compressed byte %llu (%s): the file is not "
                        "a valid gzip file; check it with gzip -t",
                        in->name, (unsigned long long)offset(in),
                        in->z.msg ? in->z.msg : "decoder error");
    return DCR_OK;
}

/* One ZSTD_decompressStream call over the staged bytes. */
static dcr_status step_zstd(dcr_input *in, unsigned char *buf, size_t len, size_t *got,
                            dcr_error *err)
{
    ZSTD_inBuffer src = {in->stage + in->pos, in->len - in->pos, 0};
    ZSTD_outBuffer dst = {buf + *got, len - *got, 0};
    size_t rc = ZSTD_decompressStream(in->zs, &dst, &src);
    in->pos += src.pos;
    *got += dst.pos;
    if (ZSTD_isError(rc))
        return dcr_fail(err, DCR_EINPUT,
                        "%s: damaged zstd data near compressed byte %llu (%s): the file is not "
                        "a valid zstd file; check it with zstd -t",
                        in->name, (unsigned long long)offset(in), ZSTD_getErrorName(rc));
    /* 0: a frame just ended and nothing is buffered. Input consumed with
     * nothing produced can also be a skippable frame's bytes. */
    if (src.pos || dst.pos)
        in->ended = rc == 0;
    return DCR_OK;
}

static dcr_status read_compressed(dcr_input *in, unsigned char *buf, size_t len, size_t *got,
                                  dcr_error *err)
{
    *got = 0;
    while (*got < len) {
        dcr_status s = refill(in, err);
        if (s != DCR_OK)
            return s;
        size_t pos0 = in->pos, got0 = *got;
        s = in->kind == DCR_INPUT_GZIP ? step_gzip(in, buf, len, got, err)
                                       : step_zstd(in, buf, len, got, err);
        if (s != DCR_OK)
            return s;
        if (in->pos != pos0 || *got != got0)
            continue;
        /* No progress: the decoder wants input and there is none left. */
        if (in->pos == in->len && in->raw_eof) {
            if (in->ended)
                return DCR_OK;
            return dcr_fail(err, DCR_EINPUT,
                            "%s: the %s data ends early, after %llu compressed bytes: the file "
                            "is truncated (an interrupted download or copy?); nothing was "
                            "sealed from it",
                            in->name, dcr_input_kind_name(in->kind),
                            (unsigned long long)in->raw_bytes);
        }
        if (in->pos < in->len)
            return dcr_fail(err, DCR_EINTERNAL, "%s: the %s decoder made no progress", in->name,
                            dcr_input_kind_name(in->kind));
    }
    return DCR_OK;
}

dcr_status dcr_input_read(dcr_input *in, void *buf, size_t len, size_t *got, dcr_error *err)
{
    if (in->kind == DCR_INPUT_PLAIN)
        return read_plain(in, buf, len, got, err);
    return read_compressed(in, buf, len, got, err);
}

dcr_input_kind dcr_input_kind_of(const dcr_input *in)
{
    return in->kind;
}

const char *dcr_input_kind_name(dcr_input_kind kind)
{
    return kind == DCR_INPUT_GZIP ? "gzip" : kind == DCR_INPUT_ZSTD ? "zstd" : "plain";
}

uint64_t dcr_input_raw_bytes(const dcr_input *in)
{
    return in->raw_bytes;
}

void dcr_input_close(dcr_input *in)
{
    if (!in)
        return;
    if (in->z_ready)
        inflateEnd(&in->z);
    ZSTD_freeDStream(in->zs);
    if (in->stage)
        dcr_wipe_free(in->stage, in->cap); /* plain input stages plaintext */
    free(in);
}

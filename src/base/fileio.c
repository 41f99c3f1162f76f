/*
 * fileio.c: whole-file reads, full reads/writes and atomic output files.
 */
#define _GNU_SOURCE
#include "base/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

dcr_status dcr_read_file(const char *path, size_t max_len, char **out, size_t *len, dcr_error *err)
{
    *out = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return dcr_fail(err, DCR_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return dcr_fail(err, DCR_EINPUT, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > max_len) {
        close(fd);
        return dcr_fail(err, DCR_EINPUT, "%s: file is %lld bytes, more than the %zu allowed", path,
                        (long long)st.st_size, max_len);
    }
    size_t cap = (size_t)st.st_size;
    char *buf = malloc(cap + 1);
    if (!buf) {
        close(fd);
        return dcr_fail(err, DCR_EINTERNAL, "%s: out of memory", path);
    }
    size_t got;
    dcr_status s = dcr_read_full(fd, buf, cap, &got, path, err);
    close(fd);
    if (s != DCR_OK) {
        free(buf);
        return s;
    }
    buf[got] = '\0';
    *out = buf;
    *len = got;
    return DCR_OK;
}

dcr_status dcr_write_all(int fd, const void *buf, size_t len, const char *what, dcr_error *err)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return dcr_fail(err, DCR_EINPUT, "%s: write failed: %s", what, strerror(errno));
        }
        p += n;
        len -= (size_t)n;
    }
    return DCR_OK;
}

dcr_status dcr_read_full(int fd, void *buf, size_t len, size_t *got, const char *what,
                         dcr_error *err)
{
    char *p = buf;
    size_t total = 0;
    while (total < len) {
        ssize_t n = read(fd, p + total, len - total);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            *got = total;
            return dcr_fail(err, DCR_EINPUT, "%s: read failed: %s", what, strerror(errno));
        }
        if (n == 0)
            break;
        total += (size_t)n;
    }
    *got = total;
    return DCR_OK;
}

static dcr_status fsync_parent_dir(const char *path, dcr_error *err)
{
    char *copy = strdup(path);
    if (!copy)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (dfd < 0)
        return dcr_fail(err, DCR_EINPUT, "%s: cannot open its directory: %s", path,
                        strerror(errno));
    int rc = fsync(dfd);
    int saved = errno;
    close(dfd);
    if (rc != 0 && saved != EINVAL) /* some file systems cannot fsync directories */
        return dcr_fail(err, DCR_EINPUT, "%s: fsync of directory failed: %s", path,
                        strerror(saved));
    return DCR_OK;
}

dcr_status dcr_atomic_open(dcr_atomic_file *f, const char *path, mode_t mode, bool overwrite,
                           dcr_error *err)
{
    f->fd = -1;
    f->final_path = NULL;
    f->temp_path = NULL;
    struct stat st;
    if (stat(path, &st) == 0) {
        if (!overwrite)
            return dcr_fail(err, DCR_EINPUT, "%s: already exists; refusing to overwrite", path);
        /* rename() would replace a device node or FIFO itself (as root, /dev/null) */
        if (!S_ISREG(st.st_mode))
            return dcr_fail(err, DCR_EINPUT,
                            "%s: exists and is not a regular file; write to "
                            "standard output and redirect instead",
                            path);
    }
    f->final_path = strdup(path);
    size_t n = strlen(path) + 32;
    f->temp_path = malloc(n);
    if (!f->final_path || !f->temp_path) {
        dcr_atomic_abort(f);
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    }
    for (int attempt = 0; attempt < 100; attempt++) {
        snprintf(f->temp_path, n, "%s.tmp-%ld-%d", path, (long)getpid(), attempt);
        f->fd = open(f->temp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
        if (f->fd >= 0 || errno != EEXIST)
            break;
    }
    if (f->fd < 0) {
        dcr_status s = dcr_fail(err, DCR_EINPUT, "%s: cannot create: %s", path, strerror(errno));
        free(f->temp_path);
        f->temp_path = NULL;
        dcr_atomic_abort(f);
        return s;
    }
    f->overwrite = overwrite;
    return DCR_OK;
}

dcr_status dcr_atomic_commit(dcr_atomic_file *f, dcr_error *err)
{
    if (fsync(f->fd) != 0) {
        dcr_status s =
            dcr_fail(err, DCR_EINPUT, "%s: fsync failed: %s", f->final_path, strerror(errno));
        dcr_atomic_abort(f);
        return s;
    }
    if (close(f->fd) != 0) {
        f->fd = -1;
        dcr_status s =
            dcr_fail(err, DCR_EINPUT, "%s: close failed: %s", f->final_path, strerror(errno));
        dcr_atomic_abort(f);
        return s;
    }
    f->fd = -1;
    int rc = f->overwrite
                 ? rename(f->temp_path, f->final_path)
                 : renameat2(AT_FDCWD, f->temp_path, AT_FDCWD, f->final_path, RENAME_NOREPLACE);
    if (rc != 0) {
        dcr_status s = dcr_fail(err, DCR_EINPUT, "%s: cannot move into place: %s", f->final_path,
                                strerror(errno));
        dcr_atomic_abort(f);
        return s;
    }
    free(f->temp_path);
    f->temp_path = NULL;
    dcr_status s = fsync_parent_dir(f->final_path, err);
    free(f->final_path);
    f->final_path = NULL;
    return s;
}

void dcr_atomic_abort(dcr_atomic_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    if (f->temp_path)
        unlink(f->temp_path);
    free(f->temp_path);
    free(f->final_path);
    f->temp_path = NULL;
    f->final_path = NULL;
}

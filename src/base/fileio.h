/*
 * fileio.h: careful file I/O shared by every piece that touches the disk.
 *
 * Output files are written atomically: data goes to a temporary file next to
 * the destination, is fsync'ed, then renamed into place and the directory is
 * fsync'ed. A failed or interrupted write leaves the destination untouched,
 * so a refused input never leaves partial plaintext or ciphertext behind.
 */
#ifndef DCR_BASE_FILEIO_H
#define DCR_BASE_FILEIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"

/* Reads the whole of path into a fresh malloc'd buffer (NUL-terminated for
 * convenience; *len excludes the NUL). Refuses files over max_len bytes.
 * The caller frees *out. */
dcr_status dcr_read_file(const char *path, size_t max_len, char **out, size_t *len, dcr_error *err);

/* Writes all of buf to fd, retrying short writes and EINTR. */
dcr_status dcr_write_all(int fd, const void *buf, size_t len, const char *what, dcr_error *err);

/* Reads up to len bytes, retrying short reads; *got < len only at end of file. */
dcr_status dcr_read_full(int fd, void *buf, size_t len, size_t *got, const char *what,
                         dcr_error *err);

/* An output file being written atomically. */
typedef struct {
    int fd;
    char *final_path;
    char *temp_path;
    bool overwrite;
} dcr_atomic_file;

/* Creates a temp file beside path with the given mode. Unless overwrite is
 * true, fails when path already exists; an existing path that is not a
 * regular file (a device, a FIFO) is always refused, since the final rename
 * would replace it. */
dcr_status dcr_atomic_open(dcr_atomic_file *f, const char *path, mode_t mode, bool overwrite,
                           dcr_error *err);
/* fsync, rename into place, fsync the directory; frees f's resources. */
dcr_status dcr_atomic_commit(dcr_atomic_file *f, dcr_error *err);
/* Removes the temp file and frees f's resources; safe to call twice. */
void dcr_atomic_abort(dcr_atomic_file *f);

#endif

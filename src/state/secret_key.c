/*
 * secret_key.c: the state's secret for keyed unit hashes (state.h,
 * dcr_state_differencing_key), kept in DIR/differencing.key or, with a TPM,
 * sealed to it in DIR/differencing.key.tpm. The differencing defence's
 * history adapter (room/) pairs it with the state's history store.
 *
 * The key file is created with O_EXCL, so two first runs at once cannot
 * end up with two keys (one would silently make the other's sketches
 * incomparable): the loser reads the winner's key. A key file that is not
 * exactly 32 bytes fails the query rather than weakening the defence.
 */
#include "state/state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fileio.h"
#include "crypto/util.h"
#include "state/internal.h"

#define SEALED_MAX 4096 /* a marshalled TPM2B_PUBLIC + TPM2B_PRIVATE is far smaller */

static dcr_status read_key(int fd, const char *path, uint8_t key[DCR_STATE_KEY_LEN], dcr_error *err)
{
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size != DCR_STATE_KEY_LEN)
        return dcr_fail(err, DCR_EINPUT, "%s: not a %d-byte key file", path, DCR_STATE_KEY_LEN);
    size_t got;
    dcr_status s = dcr_read_full(fd, key, DCR_STATE_KEY_LEN, &got, path, err);
    if (s == DCR_OK && got != DCR_STATE_KEY_LEN)
        s = dcr_fail(err, DCR_EINPUT, "%s: not a %d-byte key file", path, DCR_STATE_KEY_LEN);
    return s;
}

static dcr_status create_key(int fd, const char *path, uint8_t key[DCR_STATE_KEY_LEN],
                             dcr_error *err)
{
    dcr_status s = dcr_random_bytes(key, DCR_STATE_KEY_LEN, err);
    s = s ? s : dcr_write_all(fd, key, DCR_STATE_KEY_LEN, path, err);
    if (s == DCR_OK && fsync(fd) != 0)
        s = dcr_fail(err, DCR_EINPUT, "%s: cannot sync: %s", path, strerror(errno));
    return s;
}

/* Reads DIR/differencing.key.tpm and unseals it. */
static dcr_status unseal_file(dcr_state *st, int fd, const char *path,
                              uint8_t key[DCR_STATE_KEY_LEN], dcr_error *err)
{
    uint8_t blob[SEALED_MAX];
    size_t got;
    dcr_status s = dcr_read_full(fd, blob, sizeof blob, &got, path, err);
    if (s == DCR_OK && got == sizeof blob)
        s = dcr_fail(err, DCR_EINPUT, "%s: larger than a sealed key can be", path);
    if (s == DCR_OK && (s = st_tpm_unseal(st, blob, got, key, err)) != DCR_OK)
        dcr_error_prefix(err, "%s", path);
    dcr_wipe(blob, sizeof blob);
    return s;
}

/* The key for a new sealed file: the plaintext one when it exists (a state
 * that ran without its TPM so far), else fresh. *migrated says which. */
static dcr_status key_to_seal(const char *plain, uint8_t key[DCR_STATE_KEY_LEN], bool *migrated,
                              dcr_error *err)
{
    int fd = open(plain, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    *migrated = fd >= 0;
    if (fd < 0 && errno != ENOENT)
        return dcr_fail(err, DCR_EINPUT, "%s: %s", plain, strerror(errno));
    if (fd < 0)
        return dcr_random_bytes(key, DCR_STATE_KEY_LEN, err);
    dcr_status s = read_key(fd, plain, key, err);
    close(fd);
    return s;
}

static dcr_status write_sealed(dcr_state *st, int fd, const char *path,
                               const uint8_t key[DCR_STATE_KEY_LEN], dcr_error *err)
{
    dcr_buf blob = DCR_BUF_INIT;
    dcr_status s = st_tpm_seal(st, key, &blob, err);
    s = s ? s : dcr_write_all(fd, blob.data, blob.len, path, err);
    if (s == DCR_OK && fsync(fd) != 0)
        s = dcr_fail(err, DCR_EINPUT, "%s: cannot sync: %s", path, strerror(errno));
    dcr_buf_free(&blob);
    return s;
}

static dcr_status sealed_key(dcr_state *st, const char *dir, uint8_t key[DCR_STATE_KEY_LEN],
                             dcr_error *err)
{
    char sealed[4096], plain[4096];
    if ((size_t)snprintf(sealed, sizeof sealed, "%s/differencing.key.tpm", dir) >= sizeof sealed ||
        (size_t)snprintf(plain, sizeof plain, "%s/differencing.key", dir) >= sizeof plain)
        return dcr_fail(err, DCR_EINPUT, "--state %s: the path is too long", dir);
    for (int attempt = 0; attempt < 2; attempt++) {
        int fd = open(sealed, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0) {
            dcr_status s = unseal_file(st, fd, sealed, key, err);
            close(fd);
            return s;
        }
        if (errno != ENOENT)
            return dcr_fail(err, DCR_EINPUT, "%s: %s", sealed, strerror(errno));
        bool migrated;
        dcr_status s = key_to_seal(plain, key, &migrated, err);
        if (s != DCR_OK)
            return s;
        fd = open(sealed, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 && errno == EEXIST)
            continue; /* another run sealed one first: use that */
        if (fd < 0)
            return dcr_fail(err, DCR_EINPUT, "%s: %s", sealed, strerror(errno));
        s = write_sealed(st, fd, sealed, key, err);
        close(fd);
        if (s != DCR_OK)
            unlink(sealed);
        else if (migrated)
            unlink(plain); /* from now on only the TPM can give it back */
        return s;
    }
    return dcr_fail(err, DCR_EINPUT, "%s: cannot read or create the sealed key", sealed);
}

dcr_status dcr_state_differencing_key(dcr_state *st, const char *dir,
                                      uint8_t key[DCR_STATE_KEY_LEN], dcr_error *err)
{
    if (st->tcti) {
        pthread_mutex_lock(&st->mu);
        dcr_status s = sealed_key(st, dir, key, err);
        pthread_mutex_unlock(&st->mu);
        return s;
    }
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/differencing.key", dir) >= sizeof path)
        return dcr_fail(err, DCR_EINPUT, "--state %s: the path is too long", dir);
    for (int attempt = 0; attempt < 2; attempt++) {
        int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0) {
            dcr_status s = read_key(fd, path, key, err);
            close(fd);
            return s;
        }
        if (errno != ENOENT)
            return dcr_fail(err, DCR_EINPUT, "%s: %s", path, strerror(errno));
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 && errno == EEXIST)
            continue; /* another run created it first: read that one */
        if (fd < 0)
            return dcr_fail(err, DCR_EINPUT, "%s: %s", path, strerror(errno));
        dcr_status s = create_key(fd, path, key, err);
        close(fd);
        if (s != DCR_OK)
            unlink(path);
        return s;
    }
    return dcr_fail(err, DCR_EINPUT, "%s: cannot read or create the key", path);
}

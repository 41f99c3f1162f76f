/*
 * error.h: how every dcr function reports failure.
 *
 * A fallible function returns a dcr_status and, on failure, fills a caller-
 * supplied dcr_error with a specific, human-readable message (what failed,
 * where, why). The status doubles as the process exit code, so the CLI only
 * has to print err.msg and exit(err.code). Messages never contain secrets
 * and never contain another party's data.
 */
#ifndef DCR_BASE_ERROR_H
#define DCR_BASE_ERROR_H

#include <stddef.h>

typedef enum {
    DCR_OK = 0,
    DCR_EUSAGE = 2,    /* bad command line */
    DCR_EINPUT = 3,    /* bad input: file format, CSV value, schema, I/O on a user path */
    DCR_ECRYPTO = 4,   /* authentication, decryption or verification failed */
    DCR_EINTERNAL = 5, /* out of memory, library failure, bug */
} dcr_status;

#define DCR_ERROR_MSG_MAX 512

typedef struct {
    dcr_status code;
    char msg[DCR_ERROR_MSG_MAX];
} dcr_error;

/* Records a failure in err (which may be NULL) and returns code. */
dcr_status dcr_fail(dcr_error *err, dcr_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends "prefix: " to an already recorded message; returns err->code. */
dcr_status dcr_error_prefix(dcr_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Writes at most out_size-1 bytes of data into out for use inside a message,
 * escaping control characters and non-ASCII bytes as \xNN (so a message can
 * never carry terminal escapes or invalid UTF-8) and cutting long values. */
void dcr_error_quote(char *out, size_t out_size, const char *data, size_t len);

#endif

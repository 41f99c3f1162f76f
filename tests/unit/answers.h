/*
 * answers.h: what the query tests compare, in one form: a released result
 * as its CSV rows without the header line, a failure as "ERR <message>",
 * and fresh party keys for test contracts. Header-only, for tests.
 */
#ifndef DCR_TESTS_ANSWERS_H
#define DCR_TESTS_ANSWERS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buffer.h"
#include "crypto/party_key.h"
#include "exec/exec.h"

/* "ERR <message>"; the caller frees. */
static inline char *answer_error(const dcr_error *err)
{
    size_t n = strlen(err->msg) + 5;
    char *m = malloc(n);
    if (m)
        snprintf(m, n, "ERR %s", err->msg);
    return m;
}

/* r's rows as CSV without the header; frees r; the caller frees the text. */
static inline char *answer_rows(dcr_result *r)
{
    dcr_error err = {0};
    dcr_buf b = DCR_BUF_INIT;
    dcr_result_format(r, DCR_FORMAT_CSV, &b, &err);
    dcr_buf_append(&b, "", 1, &err);
    dcr_result_free(r);
    char *nl = b.data ? strchr((char *)b.data, '\n') : NULL;
    char *out = strdup(nl ? nl + 1 : "");
    dcr_buf_free(&b);
    return out;
}

/* The public key text of a fresh party key (which is wiped). */
static inline void answer_pub_text(char out[DCR_PUB_TEXT_LEN + 2])
{
    dcr_party_key k;
    dcr_error err;
    if (dcr_party_key_generate(&k, &err))
        abort();
    dcr_party_pub_format(&k.pub, out, DCR_PUB_TEXT_LEN + 2);
    out[DCR_PUB_TEXT_LEN] = 0;
    dcr_party_key_wipe(&k);
}

#endif

/*
 * fuzz_sealed.c: the sealed-file reader end to end: header parsing, key
 * unwrapping, chunk framing, authentication, decoding and CSV output, on
 * arbitrary file bytes. The recipient key is a fixed test key (its public
 * half is fuzz/fuzz-test.pub, which fuzz/run.sh uses to seal seed files).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/party_key.h"
#include "fuzz_test_key.h"
#include "store/sealed_reader.h"
#include "store/unseal.h"

/* TEST KEY ONLY: never use it for real data. */
static const char test_key[] = DCR_FUZZ_TEST_KEY;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    static int null_fd = -1;
    dcr_error err;
    dcr_party_key key;
    if (!path[0]) {
        snprintf(path, sizeof path, "/tmp/dcr-fuzz-sealed-%d.dcr", (int)getpid());
        null_fd = open("/dev/null", O_WRONLY);
    }
    if (dcr_party_key_parse(test_key, sizeof test_key - 1, &key, "test", &err))
        __builtin_trap();
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, data, size) != (ssize_t)size)
        __builtin_trap();
    close(fd);
    dcr_sealed_reader r;
    if (dcr_sealed_reader_open(&r, path, &err) == DCR_OK) {
        uint8_t dk[DCR_DATA_KEY_LEN];
        if (dcr_sealed_unwrap_key(&r.header, &key, dk, &err) == DCR_OK) {
            dcr_unseal_stats st;
            (void)dcr_unseal_csv(&r, dk, null_fd, &st, &err);
        }
        dcr_sealed_reader_close(&r);
    }
    dcr_party_key_wipe(&key);
    return 0;
}

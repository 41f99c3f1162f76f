/*
 * check.h: the unit-test harness. A test is a void function; CHECK records a
 * failure and keeps going so one run shows every broken expectation. Each
 * test binary ends with "N passed, N failed", which tests/run.sh adds up.
 *
 *     static void test_something(void) { CHECK(1 + 1 == 2); }
 *     int main(void) { RUN(test_something); return check_summary(); }
 */
#ifndef DCR_TESTS_CHECK_H
#define DCR_TESTS_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_passed, check_failed, check_current_failed;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "  %s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);             \
            check_current_failed = 1;                                                              \
        }                                                                                          \
    } while (0)

#define CHECK_MEM(a, b, n) CHECK(memcmp((a), (b), (n)) == 0)
#define CHECK_STR(a, b) CHECK(strcmp((a), (b)) == 0)
/* Checks that err.msg contains the given text. */
#define CHECK_MSG(err, text)                                                                       \
    do {                                                                                           \
        if (!strstr((err).msg, (text))) {                                                          \
            fprintf(stderr, "  %s:%d: message \"%s\" lacks \"%s\"\n", __FILE__, __LINE__,          \
                    (err).msg, (text));                                                            \
            check_current_failed = 1;                                                              \
        }                                                                                          \
    } while (0)

#define RUN(fn)                                                                                    \
    do {                                                                                           \
        check_current_failed = 0;                                                                  \
        fn();                                                                                      \
        if (check_current_failed) {                                                                \
            check_failed++;                                                                        \
            printf("FAIL %s\n", #fn);                                                              \
        } else {                                                                                   \
            check_passed++;                                                                        \
            printf("ok   %s\n", #fn);                                                              \
        }                                                                                          \
        fflush(stdout);                                                                            \
    } while (0)

static inline int check_summary(void)
{
    printf("%d passed, %d failed\n", check_passed, check_failed);
    return check_failed ? 1 : 0;
}

#endif

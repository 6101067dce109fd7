/* A minimal TAP producer for the core's C unit tests.
 *
 * Each test file is one program: it calls RT_CHECK/RT_CHECK_STR inside test functions,
 * runs them with RT_RUN, and ends main with `return rt_test_done();`, which prints the
 * plan and a "N passed, N failed" line that the test runner adds up. RT_TEST_ONLY=name
 * in the environment runs that one test (to repeat a rare failure alone). */
#ifndef RT_TEST_H
#define RT_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int rt_test_passed, rt_test_failed, rt_test_seq;
static int rt_test_case_failed;

#define RT_CHECK(cond)                                                               \
    do {                                                                             \
        if (!(cond)) {                                                               \
            rt_test_case_failed = 1;                                                 \
            fprintf(stdout, "# %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                            \
    } while (0)

#define RT_CHECK_STR(got, want)                                                      \
    do {                                                                             \
        const char *rt_g_ = (got), *rt_w_ = (want);                                  \
        if (!rt_g_ || strcmp(rt_g_, rt_w_) != 0) {                                   \
            rt_test_case_failed = 1;                                                 \
            fprintf(stdout, "# %s:%d: got \"%s\", want \"%s\"\n", __FILE__, __LINE__, \
                    rt_g_ ? rt_g_ : "(null)", rt_w_);                                \
        }                                                                            \
    } while (0)

#define RT_RUN(fn)                                                                   \
    do {                                                                             \
        const char *rt_only_ = getenv("RT_TEST_ONLY");                               \
        if (rt_only_ && *rt_only_ && strcmp(rt_only_, #fn) != 0)                     \
            break;                                                                   \
        rt_test_case_failed = 0;                                                     \
        fn();                                                                        \
        rt_test_seq++;                                                               \
        if (rt_test_case_failed) {                                                   \
            rt_test_failed++;                                                        \
            fprintf(stdout, "not ok %d - %s\n", rt_test_seq, #fn);                   \
        } else {                                                                     \
            rt_test_passed++;                                                        \
            fprintf(stdout, "ok %d - %s\n", rt_test_seq, #fn);                       \
        }                                                                            \
        fflush(stdout);                                                              \
    } while (0)

static inline int rt_test_done(void)
{
    const char *only = getenv("RT_TEST_ONLY");

    if (only && *only && rt_test_seq == 0) {   /* a misspelt name runs nothing: say so */
        fprintf(stdout, "not ok 1 - RT_TEST_ONLY=%s names no test of this file\n", only);
        rt_test_seq = rt_test_failed = 1;
    }
    fprintf(stdout, "1..%d\n", rt_test_seq);
    fprintf(stdout, "%d passed, %d failed\n", rt_test_passed, rt_test_failed);
    return rt_test_failed ? 1 : 0;
}

#endif

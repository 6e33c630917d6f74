/* harness.h -- a tiny unit-test harness. Tests register themselves through constructors, so adding
 * a test never means editing a list. Run: ./test_x [name-substring]. Ends with "N passed, M
 * failed". */
#ifndef SL_HARNESS_H
#define SL_HARNESS_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

typedef void sl_test_fn(int *failed);
struct sl_test {
    const char *name;
    sl_test_fn *fn;
};
#define SL_MAX_TESTS 512
static struct sl_test sl_tests[SL_MAX_TESTS];
static int sl_n_tests;

#define TEST(tn_)                                                                                  \
    static void test_##tn_(int *sl_failed_);                                                       \
    __attribute__((constructor)) static void reg_##tn_(void) {                                     \
        if (sl_n_tests < SL_MAX_TESTS) {                                                           \
            sl_tests[sl_n_tests].name = #tn_;                                                      \
            sl_tests[sl_n_tests++].fn = test_##tn_;                                                \
        }                                                                                          \
    }                                                                                              \
    static void test_##tn_(int *sl_failed_)

#define CHECK(expr)                                                                                \
    do {                                                                                           \
        if (!(expr)) {                                                                             \
            fprintf(stderr, "  FAIL %s:%d: %s\n", __FILE__, __LINE__, #expr);                      \
            *sl_failed_ = 1;                                                                       \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_) {                                                                            \
            fprintf(stderr, "  FAIL %s:%d: %s == %s (%lld != %lld)\n", __FILE__, __LINE__, #a, #b, \
                    a_, b_);                                                                       \
            *sl_failed_ = 1;                                                                       \
            return;                                                                                \
        }                                                                                          \
    } while (0)

/* A deterministic xorshift64 generator: random tests reproduce from run to run. */
static uint64_t sl_test_rng = 0x9E3779B97F4A7C15ull;
static inline uint64_t sl_test_rand(void) {
    sl_test_rng ^= sl_test_rng << 13;
    sl_test_rng ^= sl_test_rng >> 7;
    sl_test_rng ^= sl_test_rng << 17;
    return sl_test_rng;
}

int main(int argc, char **argv) {
    int passed = 0, failed = 0;
    for (int i = 0; i < sl_n_tests; i++) {
        if (argc > 1 && !strstr(sl_tests[i].name, argv[1])) {
            continue;
        }
        int f = 0;
        sl_tests[i].fn(&f);
        if (f) {
            fprintf(stderr, "FAIL %s\n", sl_tests[i].name);
            failed++;
        } else {
            passed++;
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

#endif

/* test_hist.c -- the log-linear histogram against distributions whose exact order statistics are
 * known: every reported quantile must be at least the true value and within 0.1% above it. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/hist.h"
#include "common/util.h"
#include "harness.h"

#define REL 0.001 /* the promised precision */

/* True value of rank ceil(q*n) in a sorted array, the definition sl_hist_quantile uses. */
static uint64_t exact_quantile(const uint64_t *sorted, size_t n, double q) {
    size_t rank = (size_t)ceil(q * (double)n);
    rank = rank < 1 ? 1 : rank > n ? n : rank;
    return sorted[rank - 1];
}

static int within(uint64_t got, uint64_t want) {
    return got >= want && (double)got <= (double)want * (1 + REL);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static const double qs[] = {0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 0.9999};

/* Records `v` (any order), then checks count, min, max and every quantile in qs. */
static int check_distribution(uint64_t *v, size_t n) {
    sl_hist_t *h = sl_hist_new();
    for (size_t i = 0; i < n; i++) {
        sl_hist_record(h, v[i]);
    }
    qsort(v, n, sizeof *v, cmp_u64);
    int ok = sl_hist_count(h) == n && sl_hist_min(h) == v[0] && sl_hist_max(h) == v[n - 1];
    for (size_t i = 0; ok && i < SL_ARRAY_LEN(qs); i++) {
        uint64_t got = sl_hist_quantile(h, qs[i]), want = exact_quantile(v, n, qs[i]);
        if (!within(got, want)) {
            fprintf(stderr, "  q=%g got %" PRIu64 " want %" PRIu64 "\n", qs[i], got, want);
            ok = 0;
        }
    }
    sl_hist_free(h);
    return ok;
}

/* xorshift64*: reproducible pseudo-random numbers without libc's rand state. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static double rnd01(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 0x2545F4914F6CDD1Dull) >> 11) / 9007199254740992.0;
}

TEST(empty) {
    sl_hist_t *h = sl_hist_new();
    CHECK_EQ_INT(sl_hist_count(h), 0);
    CHECK_EQ_INT(sl_hist_min(h), 0);
    CHECK_EQ_INT(sl_hist_max(h), 0);
    CHECK_EQ_INT(sl_hist_quantile(h, 0.5), 0);
    CHECK_EQ_INT(sl_hist_count_le(h, 1000), 0);
    CHECK(sl_hist_mean(h) == 0.0);
    sl_hist_free(h);
}

TEST(uniform_1_to_1e6) {
    sl_hist_t *h = sl_hist_new();
    for (uint64_t v = 1; v <= 1000000; v++) {
        sl_hist_record(h, v);
    }
    CHECK_EQ_INT(sl_hist_count(h), 1000000);
    CHECK_EQ_INT(sl_hist_min(h), 1);
    CHECK_EQ_INT(sl_hist_max(h), 1000000);
    CHECK(sl_hist_mean(h) == 500000.5);
    CHECK(within(sl_hist_quantile(h, 0.5), 500000));
    CHECK(within(sl_hist_quantile(h, 0.99), 990000));
    CHECK(within(sl_hist_quantile(h, 0.999), 999000));
    CHECK_EQ_INT(sl_hist_quantile(h, 0.0005), 500); /* exact below 2048 */
    CHECK_EQ_INT(sl_hist_quantile(h, 0), 1);
    CHECK_EQ_INT(sl_hist_quantile(h, 1), 1000000);
    sl_hist_free(h);
}

TEST(constant) {
    sl_hist_t *h = sl_hist_new();
    for (int i = 0; i < 100000; i++) {
        sl_hist_record(h, 123457);
    }
    for (size_t i = 0; i < SL_ARRAY_LEN(qs); i++) {
        /* capped by the max, so a constant comes back exactly */
        CHECK_EQ_INT(sl_hist_quantile(h, qs[i]), 123457);
    }
    CHECK_EQ_INT(sl_hist_min(h), 123457);
    CHECK(sl_hist_mean(h) == 123457.0);
    sl_hist_reset(h);
    CHECK_EQ_INT(sl_hist_count(h), 0);
    for (int i = 0; i < 10; i++) {
        sl_hist_record(h, 7);
    }
    CHECK_EQ_INT(sl_hist_quantile(h, 0.5), 7);
    CHECK_EQ_INT(sl_hist_count_le(h, 6), 0);
    CHECK_EQ_INT(sl_hist_count_le(h, 7), 10);
    sl_hist_free(h);
}

/* Latency-like: exponential with mean 1 ms in microseconds, with a long tail. */
TEST(exponential) {
    size_t n = 200000;
    uint64_t *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) {
        v[i] = (uint64_t)(-log(1 - rnd01()) * 1000.0);
    }
    CHECK(check_distribution(v, n));
    free(v);
}

/* Spans eight decades: log-uniform from 1 to 1e8. */
TEST(log_uniform) {
    size_t n = 200000;
    uint64_t *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) {
        v[i] = (uint64_t)exp(rnd01() * log(1e8));
    }
    CHECK(check_distribution(v, n));
    free(v);
}

/* One value at a time across the whole range: the bucket math at every magnitude. */
TEST(precision_every_magnitude) {
    sl_hist_t *h = sl_hist_new();
    for (double x = 1; x < 1099511627776.0; x *= 1.0137) {
        uint64_t v = (uint64_t)x;
        sl_hist_reset(h);
        sl_hist_record(h, v);
        sl_hist_record(h, ((uint64_t)1 << 40) - 1); /* the max must not cap v's bucket edge */
        uint64_t got = sl_hist_quantile(h, 0.5);
        if (!within(got, v)) {
            fprintf(stderr, "  v=%" PRIu64 " got %" PRIu64 "\n", v, got);
            CHECK(0);
        }
    }
    sl_hist_free(h);
}

TEST(clamped_above_range) {
    sl_hist_t *h = sl_hist_new();
    uint64_t big = (uint64_t)1 << 50;
    sl_hist_record(h, big);
    sl_hist_record(h, UINT64_MAX);
    CHECK_EQ_INT(sl_hist_count(h), 2);
    CHECK(sl_hist_max(h) == UINT64_MAX);
    CHECK(sl_hist_quantile(h, 0.5) == UINT64_MAX); /* the top bucket answers with the max */
    CHECK(sl_hist_count_le(h, UINT64_MAX) == 2);
    sl_hist_free(h);
}

TEST(merge) {
    sl_hist_t *a = sl_hist_new(), *b = sl_hist_new(), *all = sl_hist_new(), *none = sl_hist_new();
    for (uint64_t v = 1; v <= 1000000; v++) {
        sl_hist_record(v % 3 ? a : b, v * 7);
        sl_hist_record(all, v * 7);
    }
    sl_hist_merge(a, b);
    sl_hist_merge(a, none); /* merging an empty histogram changes nothing */
    CHECK_EQ_INT(sl_hist_count(a), 1000000);
    CHECK_EQ_INT(sl_hist_min(a), 7);
    CHECK_EQ_INT(sl_hist_max(a), 7000000);
    CHECK(fabs(sl_hist_mean(a) - sl_hist_mean(all)) < 1e-6);
    for (size_t i = 0; i < SL_ARRAY_LEN(qs); i++) {
        CHECK_EQ_INT(sl_hist_quantile(a, qs[i]), sl_hist_quantile(all, qs[i]));
    }
    sl_hist_merge(none, all); /* into an empty one: min comes from the source */
    CHECK_EQ_INT(sl_hist_min(none), 7);
    CHECK_EQ_INT(sl_hist_quantile(none, 0.5), sl_hist_quantile(all, 0.5));
    sl_hist_free(a);
    sl_hist_free(b);
    sl_hist_free(all);
    sl_hist_free(none);
}

TEST(count_le) {
    sl_hist_t *h = sl_hist_new();
    for (uint64_t v = 1; v <= 1000000; v++) {
        sl_hist_record(h, v);
    }
    CHECK_EQ_INT(sl_hist_count_le(h, 0), 0);
    CHECK_EQ_INT(sl_hist_count_le(h, 1), 1);
    CHECK_EQ_INT(sl_hist_count_le(h, 1000), 1000); /* exact below 2048 */
    CHECK_EQ_INT(sl_hist_count_le(h, 2047), 2047);
    CHECK_EQ_INT(sl_hist_count_le(h, 2049), 2049); /* 2048..2049 share a bucket: an edge */
    CHECK_EQ_INT(sl_hist_count_le(h, 1000000), 1000000);
    CHECK_EQ_INT(sl_hist_count_le(h, UINT64_MAX), 1000000);
    /* Elsewhere the whole bucket holding v is counted: at most 0.1% of v too many. */
    uint64_t prev = 0;
    for (uint64_t v = 3000; v < 1000000; v = v * 21 / 20) {
        uint64_t n = sl_hist_count_le(h, v);
        CHECK(n >= v && (double)n <= (double)v * (1 + REL));
        CHECK(n >= prev);
        prev = n;
    }
    sl_hist_free(h);
}

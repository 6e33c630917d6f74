/* test_bench_stats.c -- the benchmark reports' arithmetic: per-second latency timeline, Student t
 * confidence intervals over repeated runs, recovery time after a kill. */
#include <math.h>
#include <pthread.h>

#include "bench/stats.h"
#include "bench/timeline.h"
#include "harness.h"

#define NEAR(a, b, eps) (fabs((double)(a) - (double)(b)) <= (eps))

TEST(timeline_quantile_per_second) {
    sl_timeline_t *tl = sl_timeline_new(5);
    CHECK_EQ_INT(sl_timeline_seconds(tl), 5);
    for (uint64_t v = 1; v <= 10000; v++) {
        sl_timeline_record(tl, 2, v);
    }
    sl_timeline_record(tl, 3, 100); /* exact below 128 us */
    sl_timeline_record(tl, 3, 40);
    sl_timeline_record(tl, -1, 5); /* outside: ignored */
    sl_timeline_record(tl, 5, 5);
    CHECK_EQ_INT(sl_timeline_count(tl, 2), 10000);
    CHECK_EQ_INT(sl_timeline_count(tl, 3), 2);
    CHECK_EQ_INT(sl_timeline_count(tl, 0), 0);
    CHECK_EQ_INT(sl_timeline_count(tl, 9), 0);
    uint64_t p99 = sl_timeline_quantile(tl, 2, 0.99), p50 = sl_timeline_quantile(tl, 2, 0.5);
    CHECK(p99 >= 9900 && p99 <= 9900 * 1.016); /* upper bucket edge, within 1/64 */
    CHECK(p50 >= 5000 && p50 <= 5000 * 1.016);
    CHECK_EQ_INT(sl_timeline_quantile(tl, 3, 0.5), 40);
    CHECK_EQ_INT(sl_timeline_quantile(tl, 3, 0.99), 100);
    CHECK_EQ_INT(sl_timeline_quantile(tl, 1, 0.99), 0); /* empty second */
    sl_timeline_record(tl, 4, (uint64_t)1 << 50);       /* clamped into the top bucket */
    CHECK(sl_timeline_quantile(tl, 4, 1.0) >= (uint64_t)1 << 35);
    sl_timeline_free(tl);
    sl_timeline_free(NULL);
}

static void *record_many(void *arg) {
    sl_timeline_t *tl = arg;
    for (uint64_t i = 0; i < 100000; i++) {
        sl_timeline_record(tl, (int64_t)(i % 3), 1000 + i % 7);
    }
    return NULL;
}

TEST(timeline_concurrent_records_are_all_counted) {
    sl_timeline_t *tl = sl_timeline_new(3);
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        pthread_create(&th[i], NULL, record_many, tl);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
    }
    CHECK_EQ_INT(sl_timeline_count(tl, 0) + sl_timeline_count(tl, 1) + sl_timeline_count(tl, 2),
                 400000);
    sl_timeline_free(tl);
}

TEST(t95_table_and_approximation) {
    CHECK(isnan(sl_stats_t95(0)));
    CHECK(NEAR(sl_stats_t95(1), 12.706, 1e-9));
    CHECK(NEAR(sl_stats_t95(2), 4.303, 1e-9));
    CHECK(NEAR(sl_stats_t95(4), 2.776, 1e-9));
    CHECK(NEAR(sl_stats_t95(30), 2.042, 1e-9));
    CHECK(NEAR(sl_stats_t95(40), 2.021, 0.003));
    CHECK(NEAR(sl_stats_t95(60), 2.000, 0.003));
    CHECK(NEAR(sl_stats_t95(120), 1.980, 0.003));
    CHECK(NEAR(sl_stats_t95(100000), 1.960, 0.001));
}

TEST(summary_mean_ci_median) {
    double v[] = {10, 12, 14};
    sl_stats_summary_t s = sl_stats_summarize(v, 3);
    CHECK_EQ_INT(s.n, 3);
    CHECK(NEAR(s.mean, 12, 1e-12));
    CHECK(NEAR(s.sd, 2, 1e-12));
    CHECK(NEAR(s.ci95, 4.303 * 2 / sqrt(3), 1e-9)); /* 4.969 */
    CHECK(NEAR(s.median, 12, 1e-12));
    CHECK(NEAR(s.min, 10, 0) && NEAR(s.max, 14, 0));

    double w[] = {5, NAN, 1, 4, 2}; /* a failed run (NaN) is left out */
    s = sl_stats_summarize(w, 5);
    CHECK_EQ_INT(s.n, 4);
    CHECK(NEAR(s.mean, 3, 1e-12));
    CHECK(NEAR(s.median, 3, 1e-12)); /* even count: mean of the middle two */
    CHECK(NEAR(s.ci95, 3.182 * sqrt(10.0 / 3) / 2, 1e-9));
    CHECK(isnan(w[1]) && w[0] == 5); /* input untouched */

    double one = 7;
    s = sl_stats_summarize(&one, 1);
    CHECK(s.n == 1 && s.mean == 7 && s.ci95 == 0 && s.sd == 0 && s.median == 7);
    s = sl_stats_summarize(NULL, 0);
    CHECK(s.n == 0 && isnan(s.mean) && isnan(s.median));
}

TEST(recovery_waits_for_rate_and_tail) {
    /* 10k/s with a per-second p99 between 0.9 and 1.2 ms, killed in second 10: nothing for two
     * seconds, a backlog drained at 25k/s, then the rate is back at 13 but the tail only at 14. */
    double rate[20], p99[20];
    for (int s = 0; s < 20; s++) {
        rate[s] = 10000 + (s % 2 ? 300 : -300);
        p99[s] = s % 3 == 0 ? 0.9 : s % 3 == 1 ? 1.0 : 1.2;
    }
    rate[10] = rate[11] = 0;
    p99[10] = p99[11] = NAN;
    rate[12] = 25000;
    p99[12] = 900;
    p99[13] = 60;
    p99[14] = 1.3; /* within 10% of the worst steady second (1.2) */
    sl_stats_recovery_t r = sl_stats_recovery(rate, p99, 20, 1, 10, 10, 3, 0.10);
    CHECK(NEAR(r.steady_rate, 10000 + 300.0 / 9, 1e-6));
    CHECK(NEAR(r.steady_p99, 1.0, 1e-12));
    CHECK(NEAR(r.steady_p99_max, 1.2, 1e-12));
    CHECK_EQ_INT(r.back_at, 14);

    /* One noisy second after the recovery does not hide it; two do. */
    p99[15] = 2.0;
    CHECK_EQ_INT(sl_stats_recovery(rate, p99, 20, 1, 10, 10, 3, 0.10).back_at, 14);
    p99[16] = 2.0;
    CHECK_EQ_INT(sl_stats_recovery(rate, p99, 20, 1, 10, 10, 3, 0.10).back_at, 17);
    /* The rate must hold for the whole window. */
    p99[15] = p99[16] = 1.0;
    rate[15] = 8000;
    CHECK_EQ_INT(sl_stats_recovery(rate, p99, 20, 1, 10, 10, 3, 0.10).back_at, 16);
    rate[15] = 10300;
    /* A disturbance too small to leave the band: back at the first second looked at. */
    CHECK_EQ_INT(sl_stats_recovery(rate, p99, 20, 1, 10, 5, 3, 0.10).back_at, 5);
    /* A tail that stays 20% above the steady range never counts as recovered. */
    for (int s = 14; s < 20; s++) {
        p99[s] = 1.45;
    }
    CHECK_EQ_INT(sl_stats_recovery(rate, p99, 20, 1, 10, 10, 3, 0.10).back_at, -1);
    /* Neither does a window that would run past the end. */
    p99[19] = 1.0;
    CHECK_EQ_INT(sl_stats_recovery(rate, p99, 20, 1, 10, 18, 3, 0.10).back_at, -1);
    /* No steady data: no answer. */
    CHECK_EQ_INT(sl_stats_recovery(rate, p99, 20, 10, 12, 12, 3, 0.10).back_at, -1);
    CHECK_EQ_INT(sl_stats_recovery(rate, p99, 20, 5, 5, 12, 3, 0.10).back_at, -1);
}

/* test_commit_iv.c -- the adaptive commit interval: light input walks it down to the minimum,
 * a transaction that takes a quarter of the interval walks it up to the maximum, in between it
 * stays, heavy wins over light, the bounds hold for any input, and a fixed interval never moves. */
#include "harness.h"
#include "stream/commit_iv.h"

static const sl_commit_iv_t adaptive = {20, 1000, 1000};

TEST(light_input_shrinks_to_min) {
    int iv = 100;
    iv = sl_commit_iv_next(&adaptive, iv, 10, 1);
    CHECK_EQ_INT(iv, 50);
    iv = sl_commit_iv_next(&adaptive, iv, 10, 1);
    CHECK_EQ_INT(iv, 25);
    iv = sl_commit_iv_next(&adaptive, iv, 0, 0);
    CHECK_EQ_INT(iv, 20); /* clamped at the minimum */
    CHECK_EQ_INT(sl_commit_iv_next(&adaptive, iv, 0, 0), 20);
}

TEST(slow_commits_grow_to_max) {
    int iv = 100;
    iv = sl_commit_iv_next(&adaptive, iv, 50000, 25); /* 25 ms of 100: a quarter */
    CHECK_EQ_INT(iv, 200);
    iv = sl_commit_iv_next(&adaptive, iv, 50000, 60);
    CHECK_EQ_INT(iv, 400);
    iv = sl_commit_iv_next(&adaptive, iv, 50000, 100);
    CHECK_EQ_INT(iv, 800);
    iv = sl_commit_iv_next(&adaptive, iv, 50000, 300);
    CHECK_EQ_INT(iv, 1000); /* clamped at the maximum */
    CHECK_EQ_INT(sl_commit_iv_next(&adaptive, iv, 50000, 900), 1000);
}

TEST(steady_in_between) {
    /* Many records, cheap commit: no reason to move either way. */
    CHECK_EQ_INT(sl_commit_iv_next(&adaptive, 100, 5000, 10), 100);
    CHECK_EQ_INT(sl_commit_iv_next(&adaptive, 100, 5000, 24), 100);
    /* Few records, but halving would make the commit a large share of the cycle: keep. */
    CHECK_EQ_INT(sl_commit_iv_next(&adaptive, 100, 3, 13), 100);
    CHECK_EQ_INT(sl_commit_iv_next(&adaptive, 100, 3, 12), 50);
}

TEST(heavy_wins_over_light) {
    /* Few records, slow broker: committing more often would not help latency. */
    CHECK_EQ_INT(sl_commit_iv_next(&adaptive, 100, 1, 40), 200);
}

TEST(bounds_hold_for_any_input) {
    CHECK_EQ_INT(sl_commit_iv_next(&adaptive, 5, 5000, 0), 20);
    CHECK_EQ_INT(sl_commit_iv_next(&adaptive, 100000, 5000, 0), 1000);
    CHECK_EQ_INT(sl_commit_iv_next(&adaptive, 1000, 1, UINT64_MAX / 8), 1000);
}

TEST(fixed_never_moves) {
    const sl_commit_iv_t fixed = {100, 100, 1000};
    CHECK_EQ_INT(sl_commit_iv_next(&fixed, 100, 0, 0), 100);
    CHECK_EQ_INT(sl_commit_iv_next(&fixed, 100, 1000000, 5000), 100);
}

/* test_bench_core.c -- the benchmark harness's pacing schedule and loss/duplicate accounting. */
#include "bench/pacer.h"
#include "bench/seqtrack.h"
#include "harness.h"

TEST(pacer_schedule_matches_the_rate) {
    sl_pacer_t p = {1000000000, 10000, 1, 0, 0};
    CHECK_EQ_INT(sl_pacer_due(&p, 0), 1000000000);
    CHECK_EQ_INT(sl_pacer_due(&p, 1), 1000100000);     /* 100 us apart at 10k/s */
    CHECK_EQ_INT(sl_pacer_due(&p, 10000), 2000000000); /* one second later */
    /* Over any window the count is within one record of rate * window. */
    for (int64_t ms = 0; ms < 3000; ms += 37) {
        uint64_t n = sl_pacer_count_by(&p, 1000000000 + ms * 1000000);
        double want = (double)ms * 10.0 + 1;
        CHECK(n >= want - 1 && n <= want + 1);
    }
    /* count_by inverts due. */
    for (uint64_t i = 0; i < 50000; i += 1234) {
        CHECK_EQ_INT(sl_pacer_count_by(&p, sl_pacer_due(&p, i)), i + 1);
    }
}

TEST(pacer_burst_raises_the_rate_for_its_window) {
    sl_pacer_t p = {0, 1000, 5, 2.0, 1.0}; /* 1k/s, then 5k/s during [2 s, 3 s) */
    CHECK_EQ_INT(sl_pacer_count_by(&p, 2000000000) - 1, 2000);
    CHECK_EQ_INT(sl_pacer_count_by(&p, 3000000000) - 1, 7000);
    CHECK_EQ_INT(sl_pacer_count_by(&p, 4000000000) - 1, 8000);
    CHECK_EQ_INT(sl_pacer_due(&p, 7000), 3000000000);
    CHECK_EQ_INT(sl_pacer_due(&p, 2500), 2100000000);
}

TEST(seqtrack_counts_loss_and_duplicates) {
    sl_seqtrack_t *st = sl_seqtrack_new(2);
    for (uint64_t s = 0; s < 1000; s++) {
        if (s % 10 != 3) {
            CHECK_EQ_INT(sl_seqtrack_seen(st, 0, s), 0);
        }
    }
    CHECK_EQ_INT(sl_seqtrack_seen(st, 0, 5), 1);   /* duplicate */
    CHECK_EQ_INT(sl_seqtrack_seen(st, 0, 999), 1); /* duplicate */
    CHECK_EQ_INT(sl_seqtrack_seen(st, 1, 0), 0);
    CHECK_EQ_INT(sl_seqtrack_seen(st, 2, 0), -1); /* no such producer */
    sl_seqtrack_sent(st, 0, 1000);
    sl_seqtrack_sent(st, 1, 3);
    sl_seq_totals_t t = sl_seqtrack_totals(st);
    CHECK_EQ_INT(t.sent, 1003);
    CHECK_EQ_INT(t.received, 901);
    CHECK_EQ_INT(t.duplicated, 2);
    CHECK_EQ_INT(t.lost, 100 + 2); /* every tenth of producer 0, and 1..2 of producer 1 */
    sl_seqtrack_free(st);
}

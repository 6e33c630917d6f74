/* test_watermark.c -- per-input watermarks and the task minimum: bounded disorder, an input with
 * nothing yet holds the task back, idleness only when caught up *and* quiet, a lagging input never
 * idle, a returning input does not move the task back, markers, and restore never regressing. */
#include "harness.h"
#include "stream/watermark.h"

TEST(min_over_inputs_with_delay) {
    sl_wm_t t;
    sl_wm_init(&t, 2, 100, 0, 0);
    sl_wm_record(&t, 0, 1000, 1);
    CHECK_EQ_INT(sl_wm_advance(&t, 1), SL_WM_NONE); /* input 1 has nothing yet */
    sl_wm_record(&t, 1, 500, 2);
    CHECK_EQ_INT(sl_wm_advance(&t, 2), 399); /* min(899, 399): max - delay - 1 */
    sl_wm_record(&t, 1, 450, 3);             /* out of order: nothing moves back */
    CHECK_EQ_INT(sl_wm_advance(&t, 3), 399);
    sl_wm_record(&t, 1, 2000, 4);
    CHECK_EQ_INT(sl_wm_advance(&t, 4), 899);
    sl_wm_free(&t);
}

TEST(idle_needs_caught_up_and_quiet) {
    sl_wm_t t;
    sl_wm_init(&t, 2, 0, 1000, 0);
    sl_wm_record(&t, 0, 5000, 10);
    /* Input 1 is silent since the start but not caught up: it holds the task back however long. */
    CHECK_EQ_INT(sl_wm_advance(&t, 60000), SL_WM_NONE);
    sl_wm_caught_up(&t, 1);
    CHECK_EQ_INT(sl_wm_advance(&t, 60000), 4999); /* caught up and quiet for 60 s: idle */
    CHECK(t.in[1].idle);
    /* A lagging input (records flowing, never caught up) is never idle. */
    sl_wm_record(&t, 1, 100, 60001);
    CHECK(!t.in[1].idle);
    CHECK_EQ_INT(sl_wm_advance(&t, 90000), 4999); /* monotone: the task stays where it was */
    CHECK(!t.in[1].idle);
    /* Caught up but not yet quiet for idle_ms: still active. */
    sl_wm_caught_up(&t, 1);
    CHECK_EQ_INT(sl_wm_advance(&t, 60500), 4999);
    CHECK(!t.in[1].idle);
    sl_wm_record(&t, 0, 9000, 61000);
    CHECK_EQ_INT(sl_wm_advance(&t, 61000), 4999); /* input 1 (wm 99) holds it */
    CHECK_EQ_INT(sl_wm_advance(&t, 61001), 8999); /* 1000 ms since input 1's last record */
    CHECK(sl_wm_all_idle(&t) == false);
    sl_wm_free(&t);
}

TEST(all_idle_holds_the_watermark) {
    sl_wm_t t;
    sl_wm_init(&t, 1, 0, 10, 0);
    sl_wm_record(&t, 0, 100, 0);
    sl_wm_caught_up(&t, 0);
    CHECK_EQ_INT(sl_wm_advance(&t, 5), 99);
    CHECK_EQ_INT(sl_wm_advance(&t, 50), 99);
    CHECK(sl_wm_all_idle(&t));
    sl_wm_free(&t);
}

TEST(markers_from_upstream_tasks) {
    sl_wm_t t;
    sl_wm_init(&t, 3, 0, 0, 0);
    sl_wm_marker(&t, 0, 700, false, 1);
    sl_wm_marker(&t, 1, 300, false, 1);
    sl_wm_marker(&t, 2, 0, true, 1); /* an idle upstream task does not count */
    CHECK_EQ_INT(sl_wm_advance(&t, 1), 300);
    sl_wm_marker(&t, 1, 200, false, 2); /* a lower marker is ignored */
    CHECK_EQ_INT(sl_wm_advance(&t, 2), 300);
    sl_wm_marker(&t, 2, 100, false, 3); /* back from idle behind the task: no regression */
    CHECK_EQ_INT(sl_wm_advance(&t, 3), 300);
    sl_wm_free(&t);
}

TEST(restore_never_regresses) {
    sl_wm_t a, b;
    sl_wm_init(&a, 2, 10, 0, 0);
    sl_wm_record(&a, 0, 1000, 0);
    sl_wm_record(&a, 1, 2000, 0);
    CHECK_EQ_INT(sl_wm_advance(&a, 0), 989);
    uint8_t buf[64];
    size_t n = sl_wm_encode(&a, buf, sizeof buf);
    CHECK_EQ_INT(n, sl_wm_encoded_size(&a));
    CHECK_EQ_INT(sl_wm_encode(&a, buf, 10), 0);
    sl_wm_init(&b, 2, 10, 0, 0);
    CHECK(sl_wm_restore(&b, buf, n) == SL_OK);
    CHECK_EQ_INT(b.current, 989);
    sl_wm_record(&b, 0, 500, 0); /* replayed older records do not pull anything back */
    CHECK_EQ_INT(sl_wm_advance(&b, 0), 989);
    CHECK_EQ_INT(b.in[1].wm, 1989);
    CHECK(sl_wm_restore(&b, buf, n - 1) == SL_ERR_CORRUPT);
    buf[0] = 9;
    CHECK(sl_wm_restore(&b, buf, n) == SL_ERR_CORRUPT);
    sl_wm_free(&b);
    /* Fewer inputs than before (repartitioned): only the task watermark comes back. */
    buf[0] = 1;
    sl_wm_init(&b, 1, 10, 0, 0);
    CHECK(sl_wm_restore(&b, buf, n) == SL_OK);
    CHECK_EQ_INT(b.current, 989);
    CHECK_EQ_INT(b.in[0].wm, SL_WM_NONE);
    sl_wm_free(&b);
    sl_wm_free(&a);
}

/* A copy that sat unrun (a standby) and is taken over: its inputs' idle clocks start at the
 * takeover, not when the copy was made, so an input that has delivered nothing since is not idle
 * at once (the other input's records would move the watermark past its records, turning them
 * late); it goes idle after idle_ms of its own silence, as in a new task. */
TEST(resume_starts_idle_clocks_afresh) {
    sl_wm_t a, b;
    sl_wm_init(&a, 2, 0, 1000, 0);
    sl_wm_record(&a, 0, 2000, 0);
    sl_wm_record(&a, 1, 3000, 0);
    CHECK_EQ_INT(sl_wm_advance(&a, 0), 1999);
    uint8_t buf[64];
    size_t n = sl_wm_encode(&a, buf, sizeof buf);
    sl_wm_init(&b, 2, 0, 1000, 0); /* the copy, made at 0 */
    CHECK(sl_wm_restore(&b, buf, n) == SL_OK);
    sl_wm_resume(&b, 60000); /* taken over a minute later */
    sl_wm_record(&b, 0, 5000, 60000);
    sl_wm_caught_up(&b, 1);
    CHECK_EQ_INT(sl_wm_advance(&b, 60500), 2999); /* input 1 (wm 2999) still holds it */
    CHECK(!b.in[1].idle);
    CHECK_EQ_INT(sl_wm_advance(&b, 61000), 4999); /* quiet for 1000 ms since the takeover */
    CHECK(b.in[1].idle);
    sl_wm_free(&b);
    sl_wm_free(&a);
}

/* Markers read as a backlog (a task taken over replays its repartition partition) bring each
 * upstream task's last watermark and then its idle marker with no tick between: the watermarks
 * they carried still count, or the task would stay behind for good, every input idle. */
TEST(idle_marker_keeps_the_watermark_it_carries) {
    sl_wm_t t;
    sl_wm_init(&t, 2, 0, 0, 0);
    sl_wm_marker(&t, 0, 100, false, 1);
    sl_wm_marker(&t, 1, 50, false, 1);
    CHECK_EQ_INT(sl_wm_advance(&t, 1), 50);
    sl_wm_marker(&t, 1, 200, false, 2);
    sl_wm_marker(&t, 0, 300, true, 2); /* no tick since the marker above */
    sl_wm_marker(&t, 1, 200, true, 2);
    CHECK(sl_wm_all_idle(&t));
    CHECK_EQ_INT(sl_wm_advance(&t, 3), 200);
    sl_wm_free(&t);
}

/* test_loop.c -- event-loop timers: every timer not cancelled fires once, cancelling is exact
 * (stale ids of fired or reused slots are ignored), the heap stays ordered under churn, and a
 * long iteration is reported by the stall detector. */
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "common/metrics.h"
#include "harness.h"
#include "net/loop.h"

static int fired[1000];

static void on_timer(sl_loop_t *loop, uint64_t id, void *data) {
    (void)loop;
    (void)id;
    fired[(intptr_t)data]++;
}

static void stop_after_one(sl_loop_t *loop, void *data) {
    (void)data;
    sl_loop_stop(loop);
}

TEST(cancelled_timers_never_fire_and_the_rest_fire_once) {
    memset(fired, 0, sizeof fired);
    sl_loop_t *loop = sl_loop_new();
    uint64_t ids[1000];
    for (int i = 0; i < 1000; i++) {
        ids[i] = sl_loop_timer(loop, 0, on_timer, (void *)(intptr_t)i);
    }
    CHECK_EQ_INT(sl_loop_timer_count(loop), 1000);
    for (int i = 0; i < 1000; i += 3) {
        sl_loop_cancel(loop, ids[i]);
        sl_loop_cancel(loop, ids[i]); /* twice: ignored */
    }
    CHECK_EQ_INT(sl_loop_timer_count(loop), 1000 - 334);
    sl_loop_before_sleep(loop, stop_after_one, NULL);
    CHECK_EQ_INT(sl_loop_run(loop), SL_OK);
    for (int i = 0; i < 1000; i++) {
        CHECK_EQ_INT(fired[i], i % 3 == 0 ? 0 : 1);
    }
    CHECK_EQ_INT(sl_loop_timer_count(loop), 0);
    /* Ids of fired timers are stale: a new timer reusing their slot is not cancelled by them. */
    uint64_t fresh = sl_loop_timer(loop, 60000, on_timer, (void *)(intptr_t)1);
    for (int i = 0; i < 1000; i++) {
        sl_loop_cancel(loop, ids[i]);
    }
    CHECK_EQ_INT(sl_loop_timer_count(loop), 1);
    sl_loop_cancel(loop, fresh);
    CHECK_EQ_INT(sl_loop_timer_count(loop), 0);
    sl_loop_cancel(loop, 0);
    sl_loop_cancel(loop, UINT64_MAX);
    sl_loop_free(loop);
}

TEST(heap_stays_consistent_under_churn) {
    memset(fired, 0, sizeof fired);
    sl_loop_t *loop = sl_loop_new();
    uint64_t ids[500];
    /* Every fifth timer is far in the future; the rest are due at once. */
    for (int i = 0; i < 500; i++) {
        ids[i] = sl_loop_timer(loop, i % 5 == 0 ? 3600000 : 0, on_timer, (void *)(intptr_t)i);
    }
    for (int i = 0; i < 500; i += 7) {
        sl_loop_cancel(loop, ids[i]);
    }
    sl_loop_before_sleep(loop, stop_after_one, NULL);
    CHECK_EQ_INT(sl_loop_run(loop), SL_OK);
    size_t far = 0;
    for (int i = 0; i < 500; i++) {
        bool cancelled = i % 7 == 0, future = i % 5 == 0;
        CHECK_EQ_INT(fired[i], !cancelled && !future ? 1 : 0);
        far += future && !cancelled;
    }
    CHECK_EQ_INT(sl_loop_timer_count(loop), far);
    /* Cancelling the survivors empties the heap. */
    for (int i = 0; i < 500; i++) {
        sl_loop_cancel(loop, ids[i]);
    }
    CHECK_EQ_INT(sl_loop_timer_count(loop), 0);
    sl_loop_free(loop);
}

static void slow_timer(sl_loop_t *loop, uint64_t id, void *data) {
    (void)loop;
    (void)id;
    (void)data;
    struct timespec ts = {0, 30 * 1000 * 1000};
    nanosleep(&ts, NULL);
}

static void stop_now(sl_loop_t *loop, uint64_t id, void *data) {
    (void)id;
    (void)data;
    sl_loop_stop(loop);
}

TEST(an_iteration_longer_than_20_ms_is_counted_as_a_stall) {
    sl_metrics_reset();
    sl_loop_t *loop = sl_loop_new();
    (void)sl_loop_timer(loop, 0, slow_timer, NULL);
    (void)sl_loop_timer(loop, 1, stop_now, NULL);
    CHECK_EQ_INT(sl_loop_run(loop), SL_OK);
    sl_loop_free(loop);
    sl_buf_t out = {0};
    sl_metrics_render(&out);
    sl_buf_append(&out, "", 1);
    CHECK(strstr((char *)out.data, "sluice_loop_stalls_total 1\n") != NULL);
    CHECK(strstr((char *)out.data, "# TYPE sluice_loop_iteration_seconds histogram\n") != NULL);
    sl_buf_fini(&out);
    sl_metrics_reset();
}

/* A timer callback that adds a timer due at once: sl_loop_run_due fires that one too. */
static void rearm_now(sl_loop_t *loop, uint64_t id, void *data) {
    (void)id;
    fired[(intptr_t)data]++;
    if ((intptr_t)data == 0) {
        (void)sl_loop_timer(loop, 0, rearm_now, (void *)(intptr_t)1);
    }
}

TEST(run_due_fires_due_timers_only_and_without_running_the_loop) {
    memset(fired, 0, sizeof fired);
    sl_loop_t *loop = sl_loop_new();
    (void)sl_loop_timer(loop, 0, rearm_now, (void *)(intptr_t)0);
    (void)sl_loop_timer(loop, 3600000, on_timer, (void *)(intptr_t)2);
    sl_loop_run_due(loop);
    CHECK_EQ_INT(fired[0], 1);
    CHECK_EQ_INT(fired[1], 1);
    CHECK_EQ_INT(fired[2], 0); /* an hour away */
    CHECK_EQ_INT(sl_loop_timer_count(loop), 1);
    sl_loop_run_due(loop); /* nothing new is due */
    CHECK_EQ_INT(fired[0] + fired[1] + fired[2], 2);
    sl_loop_free(loop);
}

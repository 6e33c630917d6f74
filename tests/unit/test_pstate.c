/* test_pstate.c -- idempotent-producer sequence rules. */
#include "harness.h"
#include "txn/pstate.h"

TEST(duplicates_of_the_last_five_batches_are_recognised) {
    sl_pstate_t *ps = sl_pstate_new();
    int64_t base, last;
    CHECK_EQ_INT(sl_pstate_check(ps, 7, 0, 0, 9, &base, &last), SL_SEQ_OK); /* unknown pid */
    for (int i = 0; i < 8; i++) {
        CHECK_EQ_INT(sl_pstate_check(ps, 7, 0, i * 10, i * 10 + 9, &base, &last), SL_SEQ_OK);
        sl_pstate_update(ps, 7, 0, i * 10, i * 10 + 9, 100 + i * 10, 109 + i * 10);
    }
    CHECK_EQ_INT(sl_pstate_check(ps, 7, 0, 70, 79, &base, &last), SL_SEQ_DUPLICATE);
    CHECK_EQ_INT(base, 170);
    CHECK_EQ_INT(last, 179);
    CHECK_EQ_INT(sl_pstate_check(ps, 7, 0, 30, 39, &base, &last), SL_SEQ_DUPLICATE);
    /* Older than the window: no longer a duplicate, and not the next sequence either. */
    CHECK_EQ_INT(sl_pstate_check(ps, 7, 0, 20, 29, &base, &last), SL_SEQ_OUT_OF_ORDER);
    CHECK_EQ_INT(sl_pstate_check(ps, 7, 0, 81, 81, &base, &last), SL_SEQ_OUT_OF_ORDER);
    CHECK_EQ_INT(sl_pstate_check(ps, 7, 0, 80, 80, &base, &last), SL_SEQ_OK);
    sl_pstate_free(ps);
}

TEST(epochs_fence_and_restart_sequences) {
    sl_pstate_t *ps = sl_pstate_new();
    int64_t base, last;
    sl_pstate_update(ps, 1, 3, 0, 4, 0, 4);
    CHECK_EQ_INT(sl_pstate_check(ps, 1, 2, 5, 5, &base, &last), SL_SEQ_FENCED);
    CHECK_EQ_INT(sl_pstate_check(ps, 1, 4, 5, 5, &base, &last), SL_SEQ_OUT_OF_ORDER);
    CHECK_EQ_INT(sl_pstate_check(ps, 1, 4, 0, 0, &base, &last), SL_SEQ_OK);
    sl_pstate_update(ps, 1, 4, 0, 0, 5, 5);
    CHECK_EQ_INT(sl_pstate_check(ps, 1, 3, 5, 5, &base, &last), SL_SEQ_FENCED);
    sl_pstate_free(ps);
}

TEST(sequences_wrap_and_many_producers_fit) {
    sl_pstate_t *ps = sl_pstate_new();
    int64_t base, last;
    sl_pstate_update(ps, 9, 0, INT32_MAX - 1, INT32_MAX, 0, 1);
    CHECK_EQ_INT(sl_pstate_check(ps, 9, 0, 0, 3, &base, &last), SL_SEQ_OK);
    for (int64_t pid = 100; pid < 5100; pid++) {
        sl_pstate_update(ps, pid, 0, 0, 0, pid, pid);
    }
    CHECK_EQ_INT(sl_pstate_count(ps), 5001);
    CHECK_EQ_INT(sl_pstate_check(ps, 4000, 0, 0, 0, &base, &last), SL_SEQ_DUPLICATE);
    CHECK_EQ_INT(base, 4000);
    sl_pstate_free(ps);
}

/* test_pstate.c -- producer state: sequence rules, open transactions and the LSO, aborted
 * transaction lists, snapshots. */
#include <stdio.h>

#include "harness.h"
#include "storage/batch.h"
#include "storage_util.h"
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

TEST(transactions_set_the_lso_and_aborts_are_listed) {
    sl_pstate_t *ps = sl_pstate_new();
    CHECK_EQ_INT(sl_pstate_first_unstable(ps), -1);
    sl_pstate_txn_begin(ps, 1, 0, 10);
    sl_pstate_txn_begin(ps, 2, 0, 12);
    sl_pstate_txn_begin(ps, 1, 0, 15); /* already open: the first offset stays */
    CHECK_EQ_INT(sl_pstate_txn_first(ps, 1), 10);
    CHECK_EQ_INT(sl_pstate_first_unstable(ps), 10);
    sl_pstate_txn_end(ps, 1, 0, SL_CONTROL_ABORT, 20);
    CHECK_EQ_INT(sl_pstate_first_unstable(ps), 12); /* the next oldest open one */
    CHECK_EQ_INT(sl_pstate_txn_first(ps, 1), -1);
    sl_pstate_txn_end(ps, 2, 0, SL_CONTROL_COMMIT, 21);
    CHECK_EQ_INT(sl_pstate_first_unstable(ps), -1);
    CHECK_EQ_INT(sl_pstate_aborted_count(ps), 1); /* commits are not listed */
    sl_pstate_txn_begin(ps, 3, 0, 30);
    sl_pstate_txn_end(ps, 3, 0, SL_CONTROL_ABORT, 40);
    /* A marker for a producer with nothing open adds nothing. */
    sl_pstate_txn_end(ps, 4, 0, SL_CONTROL_ABORT, 41);
    CHECK_EQ_INT(sl_pstate_aborted_count(ps), 2);
    sl_pstate_trim(ps, 25);
    CHECK_EQ_INT(sl_pstate_aborted_count(ps), 1);
    sl_pstate_free(ps);
}

static void count_cb(const sl_aborted_txn_t *a, void *opaque) {
    int64_t *acc = opaque;
    acc[0]++;
    acc[1] += a->first;
}

TEST(aborted_lookups_return_only_overlapping_ranges) {
    sl_pstate_t *ps = sl_pstate_new();
    for (int i = 0; i < 10; i++) { /* txn i spans [i*100, i*100+50] */
        sl_pstate_txn_begin(ps, 100 + i, 0, i * 100);
        sl_pstate_txn_end(ps, 100 + i, 0, SL_CONTROL_ABORT, i * 100 + 50);
    }
    int64_t acc[2] = {0, 0};
    sl_pstate_aborted(ps, 260, 510, count_cb, acc); /* overlaps txns 3, 4 and 5 */
    CHECK_EQ_INT(acc[0], 3);
    CHECK_EQ_INT(acc[1], 300 + 400 + 500);
    acc[0] = acc[1] = 0;
    sl_pstate_aborted(ps, 240, 250, count_cb, acc); /* txn 2 covers 200..250 */
    CHECK_EQ_INT(acc[0], 1);
    sl_pstate_free(ps);
}

TEST(a_marker_with_a_newer_epoch_fences_the_old_one) {
    sl_pstate_t *ps = sl_pstate_new();
    int64_t base, last;
    sl_pstate_update(ps, 5, 0, 0, 9, 0, 9);
    sl_pstate_txn_begin(ps, 5, 0, 0);
    sl_pstate_txn_end(ps, 5, 1, SL_CONTROL_ABORT, 10);
    CHECK_EQ_INT(sl_pstate_epoch(ps, 5), 1);
    CHECK_EQ_INT(sl_pstate_check(ps, 5, 0, 10, 10, &base, &last), SL_SEQ_FENCED);
    CHECK_EQ_INT(sl_pstate_check(ps, 5, 1, 0, 0, &base, &last), SL_SEQ_OK);
    sl_pstate_free(ps);
}

TEST(snapshots_round_trip_and_corruption_is_refused) {
    char *dir = tmpdir();
    sl_pstate_t *ps = sl_pstate_new();
    for (int64_t pid = 0; pid < 50; pid++) {
        for (int k = 0; k < 7; k++) {
            sl_pstate_update(ps, pid, (int16_t)(pid % 3), k * 10, k * 10 + 9, pid * 1000 + k * 10,
                             pid * 1000 + k * 10 + 9);
        }
    }
    sl_pstate_txn_begin(ps, 7, 1, 7070);
    sl_pstate_txn_begin(ps, 8, 2, 8000);
    sl_pstate_txn_end(ps, 8, 2, SL_CONTROL_ABORT, 8100);
    CHECK_EQ_INT(sl_pstate_save(ps, dir, 9000), SL_OK);
    int64_t off = -1;
    sl_pstate_t *back = sl_pstate_load(dir, &off);
    CHECK(back != NULL);
    if (back) {
        int64_t base, last;
        CHECK_EQ_INT(off, 9000);
        CHECK_EQ_INT(sl_pstate_count(back), 50);
        CHECK_EQ_INT(sl_pstate_txn_first(back, 7), 7070);
        CHECK_EQ_INT(sl_pstate_first_unstable(back), 7070);
        CHECK_EQ_INT(sl_pstate_aborted_count(back), 1);
        /* The window survived: the 3rd-newest batch of producer 20 is still a duplicate. */
        CHECK_EQ_INT(sl_pstate_check(back, 20, 2, 40, 49, &base, &last), SL_SEQ_DUPLICATE);
        CHECK_EQ_INT(base, 20040);
        CHECK_EQ_INT(sl_pstate_check(back, 20, 2, 70, 79, &base, &last), SL_SEQ_OK);
        sl_pstate_free(back);
    }
    /* Flip one byte: the CRC no longer checks out and the snapshot is ignored. */
    char path[4200];
    snprintf(path, sizeof path, "%s/producer.snapshot", dir);
    FILE *f = fopen(path, "r+b");
    CHECK(f != NULL);
    if (f) {
        fseek(f, 30, SEEK_SET);
        int c = fgetc(f);
        fseek(f, 30, SEEK_SET);
        fputc(c ^ 0x40, f);
        fclose(f);
    }
    CHECK(sl_pstate_load(dir, &off) == NULL);
    sl_pstate_free(ps);
    sl_os_rmtree(dir);
    free(dir);
}

/* A replica's diverged tail was cut: a retry of a removed batch is new again (written, not
 * answered as a duplicate at an offset that now holds another record). */
TEST(truncation_forgets_the_removed_batches) {
    sl_pstate_t *ps = sl_pstate_new();
    int64_t base = -1, last = -1;
    sl_pstate_update(ps, 7, 0, 0, 9, 100, 109);
    sl_pstate_update(ps, 7, 0, 10, 19, 110, 119);
    sl_pstate_update(ps, 7, 0, 20, 29, 120, 129);
    sl_pstate_truncate(ps, 110);
    CHECK_EQ_INT(sl_pstate_check(ps, 7, 0, 10, 19, &base, &last), SL_SEQ_OK);
    CHECK_EQ_INT(sl_pstate_check(ps, 7, 0, 20, 29, &base, &last), SL_SEQ_OUT_OF_ORDER);
    CHECK_EQ_INT(sl_pstate_check(ps, 7, 0, 0, 9, &base, &last), SL_SEQ_DUPLICATE);
    CHECK_EQ_INT(base, 100);
    sl_pstate_truncate(ps, 50); /* everything: the producer is unknown again */
    CHECK_EQ_INT(sl_pstate_check(ps, 7, 0, 0, 9, &base, &last), SL_SEQ_OK);
    sl_pstate_free(ps);
}

TEST(truncation_reopens_a_transaction_whose_marker_was_cut) {
    sl_pstate_t *ps = sl_pstate_new();
    sl_pstate_txn_begin(ps, 5, 0, 200);
    sl_pstate_txn_begin(ps, 6, 0, 210);
    CHECK_EQ_INT(sl_pstate_first_unstable(ps), 200);
    sl_pstate_txn_end(ps, 5, 0, SL_CONTROL_ABORT, 220);
    sl_pstate_txn_end(ps, 6, 0, SL_CONTROL_COMMIT, 221);
    CHECK_EQ_INT(sl_pstate_first_unstable(ps), -1);
    CHECK_EQ_INT((int64_t)sl_pstate_aborted_count(ps), 1);
    sl_pstate_truncate(ps, 221); /* the commit marker is gone, the abort marker stays */
    CHECK_EQ_INT(sl_pstate_first_unstable(ps), 210);
    CHECK_EQ_INT((int64_t)sl_pstate_aborted_count(ps), 1);
    sl_pstate_truncate(ps, 215); /* and now the abort marker too */
    CHECK_EQ_INT(sl_pstate_first_unstable(ps), 200);
    CHECK_EQ_INT((int64_t)sl_pstate_aborted_count(ps), 0);
    sl_pstate_truncate(ps, 205); /* producer 6's transaction began in the cut tail */
    CHECK_EQ_INT(sl_pstate_first_unstable(ps), 200);
    sl_pstate_txn_end(ps, 5, 0, SL_CONTROL_COMMIT, 206);
    CHECK_EQ_INT(sl_pstate_first_unstable(ps), -1);
    sl_pstate_free(ps);
}

/* test_pidblocks.c -- producer-id blocks in a cluster (src/broker/pidblocks.c). */
#include "broker/pidblocks.h"
#include "harness.h"

/* Proposes what is due and returns its end (0: nothing due). */
static int64_t propose(sl_pidblocks_t *pb, uint64_t now) {
    int64_t end = sl_pidblocks_want(pb, now);
    if (end) {
        sl_pidblocks_proposed(pb, end, now);
    }
    return end;
}

TEST(no_id_before_the_block_is_committed) {
    sl_pidblocks_t pb;
    sl_pidblocks_init(&pb, 1);
    int64_t pid;
    CHECK(!sl_pidblocks_take(&pb, &pid));
    int64_t end = propose(&pb, 0);
    CHECK(end > 0 && end % SL_PID_BLOCK == 0);
    CHECK_EQ_INT((end / SL_PID_BLOCK - 1) % SL_PID_STRIDE, 1); /* node 1's stripe */
    CHECK(!sl_pidblocks_take(&pb, &pid));                      /* proposed is not enough */
    CHECK_EQ_INT(sl_pidblocks_want(&pb, 10), 0);               /* one proposal at a time */
    sl_pidblocks_committed(&pb, end);
    CHECK(sl_pidblocks_take(&pb, &pid));
    CHECK_EQ_INT(pid, end - SL_PID_BLOCK);
    CHECK(sl_pidblocks_take(&pb, &pid));
    CHECK_EQ_INT(pid, end - SL_PID_BLOCK + 1);
}

TEST(a_restart_never_reuses_a_block_it_may_have_used) {
    /* Incarnation 1 uses a committed block; incarnation 2 replays the committed records and
     * must start above them. */
    sl_pidblocks_t a;
    sl_pidblocks_init(&a, 2);
    int64_t end = propose(&a, 0), pid = -1;
    sl_pidblocks_committed(&a, end);
    CHECK(sl_pidblocks_take(&a, &pid));
    sl_pidblocks_t b;
    sl_pidblocks_init(&b, 2);
    sl_pidblocks_committed(&b, end); /* the replay */
    int64_t end2 = propose(&b, 0);
    CHECK(end2 - SL_PID_BLOCK >= end);
    /* and a block proposed by incarnation 1 that commits only after the restart hands out
     * nothing to incarnation 2 unless it is incarnation 2's own proposal */
    sl_pidblocks_committed(&b, end2 + SL_PID_BLOCK * SL_PID_STRIDE);
    CHECK(!sl_pidblocks_take(&b, &pid));
    sl_pidblocks_committed(&b, end2);
    CHECK(sl_pidblocks_take(&b, &pid));
    CHECK_EQ_INT(pid, end2 - SL_PID_BLOCK);
}

TEST(two_nodes_never_share_an_id) {
    sl_pidblocks_t n[3];
    for (int i = 0; i < 3; i++) {
        sl_pidblocks_init(&n[i], i + 1);
    }
    static int64_t seen[6000];
    int n_seen = 0;
    for (int round = 0; round < 3; round++) {
        int64_t ends[3];
        for (int i = 0; i < 3; i++) { /* all propose before any commit */
            ends[i] = propose(&n[i], (uint64_t)round * 10);
        }
        for (int i = 0; i < 3; i++) {
            for (int j = 0; j < 3; j++) {
                if (ends[i]) {
                    sl_pidblocks_committed(&n[j], ends[i]);
                }
            }
        }
        for (int i = 0; i < 3; i++) {
            int64_t pid;
            for (int k = 0; k < SL_PID_BLOCK / 2 + 10 && sl_pidblocks_take(&n[i], &pid); k++) {
                CHECK(n_seen < 6000);
                seen[n_seen++] = pid;
            }
        }
    }
    for (int i = 0; i < n_seen; i++) {
        for (int j = i + 1; j < n_seen; j++) {
            CHECK(seen[i] != seen[j]);
        }
    }
    CHECK(n_seen > 3 * SL_PID_BLOCK / 2);
}

TEST(another_brokers_block_does_not_end_this_ones) {
    sl_pidblocks_t pb;
    sl_pidblocks_init(&pb, 1);
    int64_t end = propose(&pb, 0), pid;
    sl_pidblocks_committed(&pb, end);
    CHECK(sl_pidblocks_take(&pb, &pid));
    sl_pidblocks_committed(&pb, end + 5 * SL_PID_BLOCK); /* someone else's, higher */
    CHECK(sl_pidblocks_take(&pb, &pid));
    CHECK_EQ_INT(pid, end - SL_PID_BLOCK + 1);
}

TEST(the_next_block_is_ready_before_the_current_one_ends) {
    sl_pidblocks_t pb;
    sl_pidblocks_init(&pb, 3);
    int64_t end = propose(&pb, 0), pid = -1;
    sl_pidblocks_committed(&pb, end);
    for (int i = 0; i < SL_PID_BLOCK / 2 - 1; i++) {
        CHECK(sl_pidblocks_take(&pb, &pid));
    }
    CHECK_EQ_INT(sl_pidblocks_want(&pb, 1), 0); /* more than half left: not yet */
    CHECK(sl_pidblocks_take(&pb, &pid));
    int64_t next = propose(&pb, 1); /* half left */
    CHECK(next > end);
    sl_pidblocks_committed(&pb, next);
    for (int i = 0; i < SL_PID_BLOCK / 2; i++) {
        CHECK(sl_pidblocks_take(&pb, &pid));
    }
    CHECK_EQ_INT(pid, end - 1);
    CHECK(sl_pidblocks_take(&pb, &pid)); /* straight into the next block */
    CHECK_EQ_INT(pid, next - SL_PID_BLOCK);
}

TEST(a_lost_proposal_is_given_up_and_never_reused) {
    sl_pidblocks_t pb;
    sl_pidblocks_init(&pb, 1);
    int64_t lost = propose(&pb, 100), pid;
    CHECK_EQ_INT(sl_pidblocks_want(&pb, 100 + SL_PID_PENDING_MS - 1), 0);
    int64_t again = propose(&pb, 100 + SL_PID_PENDING_MS);
    CHECK(again > lost);               /* the lost one may still commit: never propose it again */
    sl_pidblocks_committed(&pb, lost); /* it did, late: not ours to use any more */
    CHECK(!sl_pidblocks_take(&pb, &pid));
    sl_pidblocks_committed(&pb, again);
    CHECK(sl_pidblocks_take(&pb, &pid));
    CHECK_EQ_INT(pid, again - SL_PID_BLOCK);
}

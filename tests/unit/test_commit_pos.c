/* test_commit_pos.c -- what a checkpoint commits for an input partition: a one-input task's own
 * next offset, nothing when it took no record since the assignment (whatever the consumer's
 * position says: committing it lost records with static membership), the first queued record
 * when records wait, and the consumer's position only for a task with several inputs. */
#include "harness.h"
#include "stream/commit_pos.h"

TEST(untouched_partition_commits_nothing) {
    /* Taken over, nothing processed yet: the consumer reports 4039, the task stands nowhere. */
    CHECK_EQ_INT(sl_commit_pos(true, -1, -1, 4039), -1);
    CHECK_EQ_INT(sl_commit_pos(true, -1, -1, -1001), -1);
}

TEST(own_offset_wins_over_consumer_position) {
    CHECK_EQ_INT(sl_commit_pos(true, 2511, -1, 4039), 2511);
    CHECK_EQ_INT(sl_commit_pos(true, 2661, -1, 2660), 2661); /* past the end's markers */
}

TEST(queued_record_is_not_processed) {
    CHECK_EQ_INT(sl_commit_pos(true, 120, 100, 130), 100);
    CHECK_EQ_INT(sl_commit_pos(false, -1, 7, 30), 7);
}

TEST(several_inputs_use_the_consumer_position) {
    CHECK_EQ_INT(sl_commit_pos(false, -1, -1, 30), 30);
    CHECK_EQ_INT(sl_commit_pos(false, -1, -1, -1001), -1);
}

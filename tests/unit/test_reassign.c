/* test_reassign.c -- operator decisions in the cluster's metadata image (broker/mstate.c):
 * partition reassignment (AlterPartitionReassignments: add the target replicas, switch once they
 * are all in sync, move the leader to the first target replica, cancel back to the origin),
 * its checks, its snapshot, and leader elections (ElectLeaders: preferred, unclean only where
 * the topic allows it). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/metalog.h"
#include "broker/mstate.h"
#include "common/util.h"
#include "harness.h"
#include "proto/kerr.h"

/* Set-up steps outside a TEST: a failure there is a broken test, not a finding. */
static void must(bool ok) {
    if (!ok) {
        fprintf(stderr, "test set-up failed\n");
        abort();
    }
}

static void apply_rec(sl_mstate_t *ms, sl_meta_rec_t rec) {
    sl_buf_t cmd = {0};
    sl_meta_encode(&rec, &cmd);
    must(sl_mstate_apply(ms, cmd.data, cmd.len) == SL_OK);
    sl_buf_fini(&cmd);
}

static void reg(sl_mstate_t *ms, int id) {
    char addr[32];
    snprintf(addr, sizeof addr, "h:%d", id);
    apply_rec(ms, (sl_meta_rec_t){.type = SL_META_BROKER_REG, .name = addr, .value = id});
}

static void fence(sl_mstate_t *ms, int id) {
    apply_rec(ms, (sl_meta_rec_t){.type = SL_META_BROKER_FENCE, .name = "", .value = id});
}

/* The leader's ISR record under the partition's current epoch. */
static void isr(sl_mstate_t *ms, const int32_t *ids, int32_t n) {
    sl_meta_assign_t cur;
    must(sl_mstate_assign(ms, "t", 0, &cur));
    sl_meta_assign_t a = {.leader = cur.leader, .epoch = cur.epoch, .n_replicas = n};
    memcpy(a.replicas, ids, (size_t)n * sizeof *ids);
    apply_rec(ms, (sl_meta_rec_t){.type = SL_META_ISR,
                                  .name = "t",
                                  .partitions = 0,
                                  .value = cur.epoch,
                                  .assign = &a,
                                  .n_assign = 1});
}

static void reassign(sl_mstate_t *ms, const int32_t *ids, int32_t n) {
    sl_meta_assign_t a = {.n_replicas = n};
    if (n > 0) {
        memcpy(a.replicas, ids, (size_t)n * sizeof *ids);
    }
    apply_rec(ms,
              (sl_meta_rec_t){.type = SL_META_REASSIGN, .name = "t", .assign = &a, .n_assign = 1});
}

static void elect(sl_mstate_t *ms, int64_t type) {
    apply_rec(ms, (sl_meta_rec_t){.type = SL_META_ELECT, .name = "t", .value = type});
}

/* Brokers 1..4 and topic "t" (configs as given) with one partition on `reps` (leader first). */
static sl_mstate_t *setup(const int32_t *reps, int32_t n, const sl_kv_t *configs, size_t nc) {
    sl_mstate_t *ms = sl_mstate_new();
    for (int i = 1; i <= 4; i++) {
        reg(ms, i);
    }
    apply_rec(ms, (sl_meta_rec_t){SL_META_TOPIC_CREATE, "t", {1}, 1, configs, nc});
    sl_meta_assign_t a = {.leader = reps[0], .n_replicas = n};
    memcpy(a.replicas, reps, (size_t)n * sizeof *reps);
    apply_rec(ms,
              (sl_meta_rec_t){.type = SL_META_PLACEMENT, .name = "t", .assign = &a, .n_assign = 1});
    return ms;
}

static sl_meta_assign_t part(sl_mstate_t *ms) {
    sl_meta_assign_t a;
    must(sl_mstate_assign(ms, "t", 0, &a));
    return a;
}

static bool ids_are(const int32_t *got, int32_t n_got, const int32_t *want, int32_t n_want) {
    return n_got == n_want && !memcmp(got, want, (size_t)n_want * sizeof *want);
}

TEST(reassign_adds_then_switches_once_the_target_is_in_sync) {
    int32_t r12[] = {1, 2}, r23[] = {2, 3}, r231[] = {2, 3, 1}, r123[] = {1, 2, 3};
    sl_mstate_t *ms = setup(r12, 2, NULL, 0);
    reassign(ms, r23, 2);
    /* in progress: replicas = target then the origin's others; 3 is not in sync yet */
    sl_meta_assign_t a = part(ms);
    CHECK(ids_are(a.replicas, a.n_replicas, r231, 3));
    CHECK(ids_are(a.isr, a.n_isr, r12, 2));
    CHECK_EQ_INT(a.leader, 1);
    CHECK_EQ_INT(a.epoch, 1); /* every replica-set change bumps the epoch */
    sl_meta_assign_t ra_a;
    sl_mreassign_t r;
    CHECK(sl_mstate_reassignment(ms, "t", 0, &ra_a, &r));
    CHECK(ids_are(r.target, r.n_target, r23, 2));
    CHECK(ids_are(r.origin, r.n_origin, r12, 2));
    /* a snapshot taken now restores the reassignment as it is */
    sl_buf_t snap = {0};
    sl_mstate_snapshot(ms, &snap);
    sl_mstate_t *other = sl_mstate_new();
    CHECK(sl_mstate_restore(other, snap.data, snap.len) == SL_OK);
    CHECK(sl_mstate_reassignment(other, "t", 0, &ra_a, &r));
    CHECK(ids_are(r.target, r.n_target, r23, 2));
    CHECK(ids_are(ra_a.replicas, ra_a.n_replicas, r231, 3));
    CHECK_EQ_INT(ra_a.epoch, 1);
    sl_buf_fini(&snap);
    sl_mstate_free(other);
    /* 3 caught up: the leader adds it to the ISR and the move completes: leader 1 is not in the
     * target, so the first target replica (2) leads */
    isr(ms, r123, 3);
    a = part(ms);
    CHECK(ids_are(a.replicas, a.n_replicas, r23, 2));
    CHECK(ids_are(a.isr, a.n_isr, r23, 2));
    CHECK_EQ_INT(a.leader, 2);
    CHECK_EQ_INT(a.epoch, 2);
    CHECK(!sl_mstate_reassignment(ms, "t", 0, &ra_a, &r));
    sl_mstate_free(ms);
}

TEST(reassign_cancel_returns_to_the_origin_and_checks_refuse_bad_targets) {
    int32_t r12[] = {1, 2}, r34[] = {3, 4}, r33[] = {3, 3}, r35[] = {3, 5};
    sl_mstate_t *ms = setup(r12, 2, NULL, 0);
    char msg[SL_ERRLEN];
    CHECK_EQ_INT(sl_mstate_check_reassign(ms, "t", 0, NULL, 0, true, msg),
                 KERR_NO_REASSIGNMENT_IN_PROGRESS);
    CHECK_EQ_INT(sl_mstate_check_reassign(ms, "t", 0, r33, 2, false, msg),
                 KERR_INVALID_REPLICA_ASSIGNMENT);
    CHECK_EQ_INT(sl_mstate_check_reassign(ms, "t", 0, r35, 2, false, msg),
                 KERR_INVALID_REPLICA_ASSIGNMENT);
    CHECK_EQ_INT(sl_mstate_check_reassign(ms, "t", 0, r12, 0, false, msg),
                 KERR_INVALID_REPLICA_ASSIGNMENT);
    CHECK_EQ_INT(sl_mstate_check_reassign(ms, "t", 1, r34, 2, false, msg),
                 KERR_UNKNOWN_TOPIC_OR_PARTITION);
    CHECK_EQ_INT(sl_mstate_check_reassign(ms, "nope", 0, r34, 2, false, msg),
                 KERR_UNKNOWN_TOPIC_OR_PARTITION);
    CHECK_EQ_INT(sl_mstate_check_reassign(ms, "t", 0, r34, 2, false, msg), KERR_NONE);
    /* a fenced broker is not a valid target, and applying it anyway changes nothing */
    fence(ms, 4);
    CHECK_EQ_INT(sl_mstate_check_reassign(ms, "t", 0, r34, 2, false, msg),
                 KERR_INVALID_REPLICA_ASSIGNMENT);
    reassign(ms, r34, 2);
    CHECK_EQ_INT(part(ms).n_replicas, 2);
    CHECK_EQ_INT(part(ms).epoch, 0);
    reg(ms, 4);
    reassign(ms, r34, 2);
    CHECK_EQ_INT(part(ms).n_replicas, 4);
    CHECK_EQ_INT(sl_mstate_check_reassign(ms, "t", 0, NULL, 0, true, msg), KERR_NONE);
    reassign(ms, NULL, 0); /* cancel */
    sl_meta_assign_t a = part(ms);
    CHECK(ids_are(a.replicas, a.n_replicas, r12, 2));
    CHECK(ids_are(a.isr, a.n_isr, r12, 2));
    CHECK_EQ_INT(a.leader, 1);
    sl_mreassign_t r;
    CHECK(!sl_mstate_reassignment(ms, "t", 0, &a, &r));
    /* a target that is already in sync (a subset of the ISR) completes at once */
    int32_t r2[] = {2};
    reassign(ms, r2, 1);
    a = part(ms);
    CHECK(ids_are(a.replicas, a.n_replicas, r2, 1));
    CHECK_EQ_INT(a.leader, 2);
    sl_mstate_free(ms);
}

TEST(elect_preferred_and_unclean_only_where_allowed) {
    int32_t r123[] = {1, 2, 3}, r12[] = {1, 2};
    sl_mstate_t *ms = setup(r123, 3, NULL, 0);
    char msg[SL_ERRLEN];
    CHECK_EQ_INT(sl_mstate_check_elect(ms, "t", 0, SL_ELECT_PREFERRED, msg),
                 KERR_ELECTION_NOT_NEEDED);
    CHECK_EQ_INT(sl_mstate_check_elect(ms, "t", 0, SL_ELECT_UNCLEAN, msg),
                 KERR_ELECTION_NOT_NEEDED);
    CHECK_EQ_INT(sl_mstate_check_elect(ms, "t", 7, SL_ELECT_PREFERRED, msg),
                 KERR_UNKNOWN_TOPIC_OR_PARTITION);
    /* 1 restarts: 2 leads; 1 is out of sync, so the preferred leader is not available */
    reg(ms, 1);
    CHECK_EQ_INT(part(ms).leader, 2);
    CHECK_EQ_INT(sl_mstate_check_elect(ms, "t", 0, SL_ELECT_PREFERRED, msg),
                 KERR_PREFERRED_LEADER_NOT_AVAILABLE);
    /* back in sync: the preferred election moves leadership to 1 */
    isr(ms, r123, 3);
    CHECK_EQ_INT(sl_mstate_check_elect(ms, "t", 0, SL_ELECT_PREFERRED, msg), KERR_NONE);
    int32_t epoch = part(ms).epoch;
    elect(ms, SL_ELECT_PREFERRED);
    CHECK_EQ_INT(part(ms).leader, 1);
    CHECK_EQ_INT(part(ms).epoch, epoch + 1);
    /* 3 falls out of sync, 1 dies (2 leads, alone in sync), then 2 dies: no leader; unclean
     * is refused (topic default) */
    isr(ms, r12, 2);
    fence(ms, 1);
    fence(ms, 2);
    CHECK_EQ_INT(part(ms).leader, -1);
    CHECK_EQ_INT(sl_mstate_check_elect(ms, "t", 0, SL_ELECT_UNCLEAN, msg),
                 KERR_ELIGIBLE_LEADERS_NOT_AVAILABLE);
    elect(ms, SL_ELECT_UNCLEAN);
    CHECK_EQ_INT(part(ms).leader, -1);
    sl_mstate_free(ms);
    /* the same with unclean.leader.election.enable=true: 3 leads, alone in the ISR */
    sl_kv_t kv = {"unclean.leader.election.enable", "true"};
    ms = setup(r123, 3, &kv, 1);
    isr(ms, r12, 2);
    fence(ms, 1);
    fence(ms, 2);
    CHECK_EQ_INT(sl_mstate_check_elect(ms, "t", 0, SL_ELECT_UNCLEAN, msg), KERR_NONE);
    elect(ms, SL_ELECT_UNCLEAN);
    sl_meta_assign_t a = part(ms);
    CHECK_EQ_INT(a.leader, 3);
    CHECK_EQ_INT(a.n_isr, 1);
    CHECK_EQ_INT(a.isr[0], 3);
    sl_mstate_free(ms);
}

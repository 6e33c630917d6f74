/* test_replica.c -- replicated partitions' decisions: leader election from the ISR when a
 * broker is fenced or restarts (mstate.c), ISR records and their epoch check, snapshots keeping
 * the ISR, the high watermark over the ISR, and truncation by leader epoch (KIP-101/279). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/metalog.h"
#include "broker/mstate.h"
#include "broker/replica.h"
#include "cluster/quorum.h"
#include "harness.h"
#include "proto/kerr.h"

/* Set-up steps outside a TEST: a failure there is a broken test, not a finding. */
static void must(bool ok) {
    if (!ok) {
        fprintf(stderr, "test set-up failed\n");
        abort();
    }
}

static void add(sl_buf_t *cmd, sl_meta_rec_t rec) {
    sl_meta_encode(&rec, cmd);
}

static sl_err_t apply(sl_mstate_t *ms, sl_buf_t *cmd) {
    sl_err_t rc = sl_mstate_apply(ms, cmd->data, cmd->len);
    cmd->len = 0;
    return rc;
}

static void reg(sl_mstate_t *ms, int id) {
    sl_buf_t cmd = {0};
    char addr[32];
    snprintf(addr, sizeof addr, "h:%d", id);
    add(&cmd, (sl_meta_rec_t){.type = SL_META_BROKER_REG, .name = addr, .value = id});
    must(apply(ms, &cmd) == SL_OK);
    sl_buf_fini(&cmd);
}

static void fence(sl_mstate_t *ms, int id) {
    sl_buf_t cmd = {0};
    add(&cmd, (sl_meta_rec_t){.type = SL_META_BROKER_FENCE, .name = "", .value = id});
    must(apply(ms, &cmd) == SL_OK);
    sl_buf_fini(&cmd);
}

static void set_isr(sl_mstate_t *ms, int32_t under_epoch, int32_t leader, int32_t epoch,
                    const int32_t *isr, int32_t n) {
    sl_buf_t cmd = {0};
    sl_meta_assign_t a = {.leader = leader, .epoch = epoch, .n_replicas = n};
    memcpy(a.replicas, isr, (size_t)n * sizeof *isr);
    add(&cmd, (sl_meta_rec_t){.type = SL_META_ISR,
                              .name = "t",
                              .partitions = 0,
                              .value = under_epoch,
                              .assign = &a,
                              .n_assign = 1});
    must(apply(ms, &cmd) == SL_OK);
    sl_buf_fini(&cmd);
}

/* Three brokers and topic "t" with one partition on 1, 2, 3 (leader 1, epoch 0). */
static sl_mstate_t *three(void) {
    sl_mstate_t *ms = sl_mstate_new();
    for (int i = 1; i <= 3; i++) {
        reg(ms, i);
    }
    sl_buf_t cmd = {0};
    add(&cmd, (sl_meta_rec_t){SL_META_TOPIC_CREATE, "t", {1}, 1, NULL, 0});
    sl_meta_assign_t a = {.leader = 1, .epoch = 0, .n_replicas = 3, .replicas = {1, 2, 3}};
    add(&cmd,
        (sl_meta_rec_t){
            .type = SL_META_PLACEMENT, .name = "t", .partitions = 0, .assign = &a, .n_assign = 1});
    must(apply(ms, &cmd) == SL_OK);
    sl_buf_fini(&cmd);
    return ms;
}

static sl_meta_assign_t part(sl_mstate_t *ms) {
    sl_meta_assign_t a;
    must(sl_mstate_assign(ms, "t", 0, &a));
    return a;
}

TEST(fencing_elects_from_the_isr_only_and_keeps_the_last_member) {
    sl_mstate_t *ms = three();
    sl_meta_assign_t a = part(ms);
    CHECK_EQ_INT(a.n_isr, 3); /* a new placement starts fully in sync */
    fence(ms, 1);
    a = part(ms);
    CHECK_EQ_INT(a.leader, 2);
    CHECK_EQ_INT(a.epoch, 1);
    CHECK_EQ_INT(a.n_isr, 2);
    /* 3 falls out of sync (its leader says so, under the current epoch) */
    int32_t only2[] = {2};
    set_isr(ms, 1, 2, 1, only2, 1);
    CHECK_EQ_INT(part(ms).n_isr, 1);
    /* 2 dies: 3 is live but out of sync, so nobody leads (no unclean election) */
    fence(ms, 2);
    a = part(ms);
    CHECK_EQ_INT(a.leader, -1);
    CHECK_EQ_INT(a.epoch, 2);
    CHECK_EQ_INT(a.n_isr, 1);
    CHECK_EQ_INT(a.isr[0], 2); /* the last in-sync replica stays in the ISR */
    /* 1 returns: not in sync, still no leader; 2 returns: it leads again, epoch bumped */
    reg(ms, 1);
    CHECK_EQ_INT(part(ms).leader, -1);
    reg(ms, 2);
    a = part(ms);
    CHECK_EQ_INT(a.leader, 2);
    CHECK_EQ_INT(a.epoch, 3);
    sl_mstate_free(ms);
}

TEST(a_restarted_leader_hands_over_and_isr_records_check_the_epoch) {
    sl_mstate_t *ms = three();
    /* Leader 1 restarts before its lease ran out: registering again moves leadership on. */
    reg(ms, 1);
    sl_meta_assign_t a = part(ms);
    CHECK_EQ_INT(a.leader, 2);
    CHECK_EQ_INT(a.epoch, 1);
    CHECK_EQ_INT(a.n_isr, 2);
    /* A stale ISR change (epoch 0) is ignored; one naming a leader outside the ISR too. */
    int32_t all[] = {1, 2, 3};
    set_isr(ms, 0, 1, 0, all, 3);
    CHECK_EQ_INT(part(ms).n_isr, 2);
    int32_t without2[] = {1, 3};
    set_isr(ms, 1, 2, 1, without2, 2);
    CHECK_EQ_INT(part(ms).n_isr, 2);
    CHECK_EQ_INT(part(ms).isr[0], 2);
    /* The current leader takes 1 back once it caught up. */
    set_isr(ms, 1, 2, 1, all, 3);
    CHECK_EQ_INT(part(ms).n_isr, 3);
    /* A snapshot keeps leader, epoch and ISR. */
    fence(ms, 3);
    sl_buf_t snap = {0};
    sl_mstate_snapshot(ms, &snap);
    sl_mstate_t *other = sl_mstate_new();
    CHECK(sl_mstate_restore(other, snap.data, snap.len) == SL_OK);
    sl_meta_assign_t x = part(ms), y = part(other);
    CHECK_EQ_INT(y.leader, x.leader);
    CHECK_EQ_INT(y.epoch, x.epoch);
    CHECK_EQ_INT(y.n_isr, 2);
    CHECK(!memcmp(x.isr, y.isr, sizeof x.isr));
    sl_buf_fini(&snap);
    sl_mstate_free(other);
    sl_mstate_free(ms);
}

TEST(high_watermark_is_the_min_over_the_isr_and_never_goes_back) {
    sl_meta_assign_t a = {
        .leader = 1, .n_replicas = 3, .replicas = {1, 2, 3}, .n_isr = 3, .isr = {1, 2, 3}};
    sl_repl_follower_t fol[2] = {{2, -1, 0}, {3, -1, 0}};
    /* a follower not heard from this epoch holds the HW */
    CHECK_EQ_INT(sl_repl_compute_hw(100, 40, &a, 1, fol, 2), 40);
    fol[0].leo = 90;
    fol[1].leo = 70;
    CHECK_EQ_INT(sl_repl_compute_hw(100, 40, &a, 1, fol, 2), 70);
    /* out of the ISR: no longer counted */
    a.n_isr = 2;
    CHECK_EQ_INT(sl_repl_compute_hw(100, 40, &a, 1, fol, 2), 90);
    /* never below what consumers were already shown, never past the leader's end */
    fol[0].leo = 10;
    CHECK_EQ_INT(sl_repl_compute_hw(100, 40, &a, 1, fol, 2), 40);
    CHECK_EQ_INT(sl_repl_compute_hw(30, 40, &a, 1, fol, 0), 30);
    a.n_isr = 1; /* the leader alone */
    CHECK_EQ_INT(sl_repl_compute_hw(100, 40, &a, 1, fol, 2), 100);
}

/* bench-faults (150 cycles) lost 20 acknowledged records: the leader proposed adding a
 * follower back into the ISR and kept computing its HW over the old ISR until the change came
 * back to it; the quorum had committed it meanwhile, the leader died, and the added follower,
 * elected as the first live ISR member, lacked the records acknowledged in that window. */
TEST(high_watermark_covers_a_follower_whose_isr_addition_is_pending) {
    sl_replica_t r = {0};
    r.a = (sl_meta_assign_t){
        .leader = 1, .n_replicas = 3, .replicas = {1, 2, 3}, .n_isr = 2, .isr = {1, 2}};
    sl_repl_follower_t fol[2] = {{2, 100, 0}, {3, 60, 0}};
    sl_meta_assign_t isr;
    sl_repl_maximal_isr(&r, &isr);
    CHECK_EQ_INT(sl_repl_compute_hw(100, 50, &isr, 1, fol, 2), 100); /* 3 is out: not counted */
    /* the leader proposes {1, 2, 3}: until its image shows the change, 3 counts already */
    r.n_pend_isr = 3;
    memcpy(r.pend_isr, (int32_t[]){1, 2, 3}, 3 * sizeof(int32_t));
    sl_repl_maximal_isr(&r, &isr);
    CHECK_EQ_INT(isr.n_isr, 3);
    CHECK_EQ_INT(sl_repl_compute_hw(100, 50, &isr, 1, fol, 2), 60);
    /* a pending shrink to {1, 3} still counts 2 (the image's ISR) until it is applied */
    r.n_pend_isr = 2;
    memcpy(r.pend_isr, (int32_t[]){1, 3}, 2 * sizeof(int32_t));
    fol[0].leo = 55;
    sl_repl_maximal_isr(&r, &isr);
    CHECK_EQ_INT(sl_repl_compute_hw(100, 50, &isr, 1, fol, 2), 55);
}

TEST(truncation_by_epoch_not_by_high_watermark) {
    /* KIP-101's case: the follower's HW lags, but everything it has matches the leader. */
    sl_repl_epoch_t leader[] = {{0, 0}, {1, 50}};
    sl_repl_epoch_t fol[] = {{0, 0}};
    int32_t e;
    int64_t end;
    sl_repl_epoch_end(leader, 2, 80, 0, &e, &end);
    CHECK_EQ_INT(e, 0);
    CHECK_EQ_INT(end, 50);
    CHECK_EQ_INT(sl_repl_truncate_point(fol, 1, 50, e, end), 50); /* nothing cut */
    /* The follower (an old leader) wrote 50..59 in epoch 0 that the new leader never had. */
    CHECK_EQ_INT(sl_repl_truncate_point(fol, 1, 60, e, end), 50);
    /* KIP-279: two fast failovers; the follower has epoch 2 (55..) the leader never saw. */
    sl_repl_epoch_t fol2[] = {{0, 0}, {2, 55}};
    sl_repl_epoch_end(leader, 2, 80, 2, &e, &end); /* largest leader epoch <= 2 is 1 */
    CHECK_EQ_INT(e, 1);
    CHECK_EQ_INT(end, 80);
    CHECK_EQ_INT(sl_repl_truncate_point(fol2, 2, 70, e, end), 55);
    /* Its latest epoch: the leader's end offset. */
    sl_repl_epoch_end(leader, 2, 80, 1, &e, &end);
    CHECK_EQ_INT(end, 80);
    /* Every epoch of the leader is newer: nothing of ours is known to match, cut it all. */
    sl_repl_epoch_t later[] = {{3, 20}};
    sl_repl_epoch_end(later, 1, 30, 1, &e, &end);
    CHECK_EQ_INT(e, -1);
    CHECK_EQ_INT(end, 20);
    CHECK_EQ_INT(sl_repl_truncate_point(fol, 1, 60, e, end), 0);
}

/* Every member of one quorum reports the same cluster id, whatever the order the voters were
 * listed in; another voter set gets another id; the id has Kafka's shape (22 base64url). */
TEST(cluster_id_is_one_per_voter_set) {
    sl_quorum_voter_t a[3], b[3], c[3];
    size_t na, nb, nc;
    char err[SL_ERRLEN];
    must(sl_quorum_parse_voters("1@127.0.0.1:9093,2@127.0.0.1:9094,3@127.0.0.1:9095", a, 3, &na,
                                err) == SL_OK);
    must(sl_quorum_parse_voters("3@127.0.0.1:9095,1@127.0.0.1:9093,2@127.0.0.1:9094", b, 3, &nb,
                                err) == SL_OK);
    must(sl_quorum_parse_voters("1@127.0.0.1:9093,2@127.0.0.1:9094,3@127.0.0.1:9096", c, 3, &nc,
                                err) == SL_OK);
    char ia[SL_QUORUM_CLUSTER_ID_LEN + 1], ib[sizeof ia], ic[sizeof ia];
    sl_quorum_cluster_id(a, na, ia);
    sl_quorum_cluster_id(b, nb, ib);
    sl_quorum_cluster_id(c, nc, ic);
    CHECK(strcmp(ia, ib) == 0);
    CHECK(strcmp(ia, ic) != 0);
    CHECK_EQ_INT((int)strlen(ia), SL_QUORUM_CLUSTER_ID_LEN);
    CHECK(strspn(ia, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
          strlen(ia));
}

/* A client's current_leader_epoch: older is fenced, newer unknown, -1 unchecked; a single node
 * (no replica state) checks nothing. */
TEST(current_leader_epoch_is_checked_against_the_partition) {
    sl_replica_t r = {0};
    sl_partition_t p = {0};
    r.a.epoch = 3;
    p.repl = &r;
    CHECK_EQ_INT(sl_replica_epoch_check(&p, 3), KERR_NONE);
    CHECK_EQ_INT(sl_replica_epoch_check(&p, -1), KERR_NONE);
    CHECK_EQ_INT(sl_replica_epoch_check(&p, 2), KERR_FENCED_LEADER_EPOCH);
    CHECK_EQ_INT(sl_replica_epoch_check(&p, 0), KERR_FENCED_LEADER_EPOCH);
    CHECK_EQ_INT(sl_replica_epoch_check(&p, 4), KERR_UNKNOWN_LEADER_EPOCH);
    p.repl = NULL;
    CHECK_EQ_INT(sl_replica_epoch_check(&p, 7), KERR_NONE);
}

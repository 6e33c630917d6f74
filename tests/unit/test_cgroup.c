/* test_cgroup.c -- KIP-848 consumer groups: the uniform and range assignors, and the member epoch
 * state machine of group/cgroup.c driven with a fake topic table and a hand-moved clock. The
 * invariant checked after every heartbeat: no partition is held (assigned or being revoked) by two
 * members at once. */
#include <stdlib.h>

#include "group/assignor.h"
#include "group/cgroup.h"
#include "harness.h"
#include "proto/kerr.h"

/* ---- assignors ---- */

static void topic_id(uint8_t id[16], int n) {
    memset(id, 0, 16);
    id[15] = (uint8_t)n;
}

static int owners_of(sl_asg_member_t *ms, int nm, const uint8_t id[16], int32_t p) {
    sl_tp_t tp;
    memcpy(tp.topic, id, 16);
    tp.partition = p;
    int n = 0;
    for (int m = 0; m < nm; m++) {
        n += sl_tpset_has(&ms[m].out, &tp);
    }
    return n;
}

TEST(uniform_balances_homogeneous_members) {
    sl_asg_topic_t t[2];
    topic_id(t[0].id, 1);
    t[0].n_partitions = 7;
    topic_id(t[1].id, 2);
    t[1].n_partitions = 5;
    bool all[2] = {true, true};
    sl_asg_member_t ms[3] = {{"a", all, NULL, {0}}, {"b", all, NULL, {0}}, {"c", all, NULL, {0}}};
    sl_assign_uniform(t, 2, ms, 3);
    for (int k = 0; k < 2; k++) {
        for (int32_t p = 0; p < t[k].n_partitions; p++) {
            CHECK_EQ_INT(owners_of(ms, 3, t[k].id, p), 1);
        }
    }
    CHECK_EQ_INT(ms[0].out.n, 4);
    CHECK_EQ_INT(ms[1].out.n, 4);
    CHECK_EQ_INT(ms[2].out.n, 4);
    /* A fourth member: 12 = 3+3+3+3, and each old member keeps 3 of its previous 4. */
    sl_tpset_t prev[3] = {{0}};
    for (int m = 0; m < 3; m++) {
        sl_tpset_copy(&prev[m], &ms[m].out);
    }
    sl_asg_member_t ms4[4] = {{"a", all, &prev[0], {0}},
                              {"b", all, &prev[1], {0}},
                              {"c", all, &prev[2], {0}},
                              {"d", all, NULL, {0}}};
    sl_assign_uniform(t, 2, ms4, 4);
    for (int m = 0; m < 4; m++) {
        CHECK_EQ_INT(ms4[m].out.n, 3);
    }
    for (int m = 0; m < 3; m++) {
        sl_tpset_t kept = {0};
        sl_tpset_and(&kept, &ms4[m].out, &prev[m]);
        CHECK_EQ_INT(kept.n, 3);
        sl_tpset_free(&kept);
        sl_tpset_free(&prev[m]);
        sl_tpset_free(&ms[m].out);
    }
    for (int m = 0; m < 4; m++) {
        sl_tpset_free(&ms4[m].out);
    }
}

TEST(uniform_random_subscriptions_cover_each_partition_once) {
    for (int round = 0; round < 200; round++) {
        int nt = 1 + (int)(sl_test_rand() % 4), nm = 1 + (int)(sl_test_rand() % 5);
        sl_asg_topic_t t[4];
        bool subs[5][4];
        sl_asg_member_t ms[5];
        for (int k = 0; k < nt; k++) {
            topic_id(t[k].id, k + 1);
            t[k].n_partitions = (int32_t)(sl_test_rand() % 9);
        }
        for (int m = 0; m < nm; m++) {
            for (int k = 0; k < nt; k++) {
                subs[m][k] = sl_test_rand() % 2;
            }
            ms[m] = (sl_asg_member_t){"m", subs[m], NULL, {0}};
        }
        sl_assign_uniform(t, nt, ms, nm);
        for (int k = 0; k < nt; k++) {
            int subscribers = 0;
            for (int m = 0; m < nm; m++) {
                subscribers += subs[m][k];
            }
            for (int32_t p = 0; p < t[k].n_partitions; p++) {
                CHECK_EQ_INT(owners_of(ms, nm, t[k].id, p), subscribers ? 1 : 0);
            }
        }
        for (int m = 0; m < nm; m++) {
            for (int i = 0; i < ms[m].out.n; i++) {
                int k = ms[m].out.v[i].topic[15] - 1;
                CHECK(subs[m][k]);
            }
            sl_tpset_free(&ms[m].out);
        }
    }
}

TEST(range_gives_contiguous_copartitioned_ranges) {
    sl_asg_topic_t t[2];
    topic_id(t[0].id, 1);
    t[0].n_partitions = 5;
    topic_id(t[1].id, 2);
    t[1].n_partitions = 5;
    bool all[2] = {true, true};
    /* Listed out of order: ranges follow member-id order. */
    sl_asg_member_t ms[2] = {{"zz", all, NULL, {0}}, {"aa", all, NULL, {0}}};
    sl_assign_range(t, 2, ms, 2);
    CHECK_EQ_INT(ms[1].out.n, 6); /* "aa": 0,1,2 of both */
    CHECK_EQ_INT(ms[0].out.n, 4); /* "zz": 3,4 of both */
    for (int k = 0; k < 2; k++) {
        for (int32_t p = 0; p < 5; p++) {
            sl_tp_t tp;
            memcpy(tp.topic, t[k].id, 16);
            tp.partition = p;
            CHECK(sl_tpset_has(&ms[p < 3 ? 1 : 0].out, &tp));
        }
    }
    sl_tpset_free(&ms[0].out);
    sl_tpset_free(&ms[1].out);
    CHECK(sl_assignor_find("range") == sl_assign_range);
    CHECK(sl_assignor_find("uniform") == sl_assign_uniform);
    CHECK(sl_assignor_find("sticky") == NULL);
}

/* ---- the state machine ---- */

typedef struct fake_topic {
    const char *name;
    uint8_t id[16];
    int32_t n;
} fake_topic_t;

static fake_topic_t topics[4];
static int n_topics;

static void fake_each(void *o, void (*fn)(const sl_cg_topic_t *t, void *arg), void *arg) {
    (void)o;
    for (int i = 0; i < n_topics; i++) {
        sl_cg_topic_t t = {topics[i].name, topics[i].id, topics[i].n};
        fn(&t, arg);
    }
}

static sl_cgroups_t *setup(const char *assignors) {
    n_topics = 2;
    topics[0] = (fake_topic_t){"orders", {0}, 6};
    topic_id(topics[0].id, 1);
    topics[1] = (fake_topic_t){"audit", {0}, 2};
    topic_id(topics[1].id, 2);
    sl_cg_conf_t conf = {10000, 1000, 100, assignors};
    sl_cg_topics_t ti = {fake_each, NULL};
    char err[SL_ERRLEN];
    return sl_cgroups_new(&conf, &ti, err);
}

static const sl_str_t orders[] = {{"orders", 6}};

static sl_str_t S(const char *z) {
    return (sl_str_t){z, z ? strlen(z) : 0};
}

/* One heartbeat of member `mid` at `epoch`, reporting `owned` (NULL: unchanged). */
static sl_cg_hb_result_t hb(sl_cgroups_t *cgs, const char *mid, int32_t epoch,
                            const sl_tpset_t *owned, int64_t now) {
    sl_cg_hb_t h = {0};
    h.group_id = S("g");
    h.member_id = S(mid);
    h.member_epoch = epoch;
    h.rebalance_timeout_ms = epoch == 0 ? 5000 : -1;
    h.n_topics = epoch == 0 ? 1 : -1;
    h.topics = orders;
    h.owned = owned;
    h.client_id = S("test");
    h.client_host = S("127.0.0.1");
    sl_cg_hb_result_t r;
    sl_cg_heartbeat(cgs, &h, now, &r);
    return r;
}

/* No partition held by two members; returns the number of partitions held. */
static int held_once(sl_cgroup_t *g, int *failed) {
    sl_tpset_t all = {0};
    int total = 0;
    for (int i = 0; i < g->n_members; i++) {
        const sl_tpset_t *sets[2] = {&g->members[i]->assigned, &g->members[i]->revoking};
        for (int s = 0; s < 2; s++) {
            for (int k = 0; k < sets[s]->n; k++) {
                if (sl_tpset_has(&all, &sets[s]->v[k])) {
                    *failed = 1;
                }
                sl_tpset_add(&all, sets[s]->v[k].topic, sets[s]->v[k].partition);
                total++;
            }
        }
    }
    sl_tpset_free(&all);
    return total;
}

TEST(two_members_revoke_before_reassign) {
    sl_cgroups_t *cgs = setup("uniform,range");
    CHECK(cgs);
    sl_cg_hb_result_t a = hb(cgs, "A", 0, NULL, 0);
    CHECK_EQ_INT(a.err, 0);
    CHECK_EQ_INT(a.epoch, 1);
    CHECK_EQ_INT(a.assignment->n, 6);
    sl_cgroup_t *g = sl_cg_find(cgs, S("g"));
    sl_tpset_t owned_a = {0};
    sl_tpset_copy(&owned_a, a.assignment);

    sl_cg_hb_result_t b = hb(cgs, "B", 0, NULL, 10);
    CHECK_EQ_INT(b.err, 0);
    CHECK_EQ_INT(b.epoch, 2);
    CHECK_EQ_INT(b.assignment->n, 0); /* A still holds B's share */
    CHECK_EQ_INT(held_once(g, sl_failed_), 6);
    CHECK_EQ_INT(*sl_failed_, 0);

    /* A is told to keep 3: it stays at epoch 1 until it stops reporting the other 3. */
    a = hb(cgs, "A", 1, &owned_a, 20);
    CHECK_EQ_INT(a.err, 0);
    CHECK_EQ_INT(a.epoch, 1);
    CHECK_EQ_INT(a.assignment->n, 3);
    b = hb(cgs, "B", 2, NULL, 30);
    CHECK_EQ_INT(b.assignment->n, 0);
    CHECK_EQ_INT(held_once(g, sl_failed_), 6);
    CHECK_EQ_INT(*sl_failed_, 0);

    sl_tpset_copy(&owned_a, a.assignment);
    a = hb(cgs, "A", 1, &owned_a, 40);
    CHECK_EQ_INT(a.epoch, 2);
    CHECK_EQ_INT(a.assignment->n, 3);
    b = hb(cgs, "B", 2, NULL, 50);
    CHECK_EQ_INT(b.assignment->n, 3);
    CHECK_EQ_INT(held_once(g, sl_failed_), 6);
    CHECK_EQ_INT(*sl_failed_, 0);
    CHECK(!strcmp(sl_cg_state_name(g), "Stable"));
    CHECK(!sl_tpset_overlaps(a.assignment, b.assignment));

    /* B leaves: A gets everything back at epoch 3. */
    b = hb(cgs, "B", -1, NULL, 60);
    CHECK_EQ_INT(b.err, 0);
    CHECK_EQ_INT(b.epoch, -1);
    a = hb(cgs, "A", 2, &owned_a, 70);
    CHECK_EQ_INT(a.epoch, 3);
    CHECK_EQ_INT(a.assignment->n, 6);
    sl_tpset_free(&owned_a);
    sl_cgroups_free(cgs);
}

TEST(stale_and_unknown_members_are_fenced) {
    sl_cgroups_t *cgs = setup("uniform");
    sl_cg_hb_result_t a = hb(cgs, "A", 0, NULL, 0);
    CHECK_EQ_INT(a.epoch, 1);
    CHECK_EQ_INT(hb(cgs, "A", 7, NULL, 1).err, KERR_FENCED_MEMBER_EPOCH);
    CHECK_EQ_INT(hb(cgs, "nobody", 1, NULL, 1).err, KERR_UNKNOWN_MEMBER_ID);
    CHECK_EQ_INT(hb(cgs, "nobody", -1, NULL, 1).err, KERR_UNKNOWN_MEMBER_ID);
    (void)hb(cgs, "B", 0, NULL, 2);
    sl_tpset_t none = {0};
    a = hb(cgs, "A", 1, &none, 3); /* revokes everything it must at once */
    CHECK_EQ_INT(a.epoch, 2);
    /* The previous epoch is still accepted (a lost response), a older one is not. */
    CHECK_EQ_INT(hb(cgs, "A", 1, &none, 4).err, 0);
    CHECK_EQ_INT(hb(cgs, "A", 0 + 3, NULL, 5).err, KERR_FENCED_MEMBER_EPOCH);
    (void)hb(cgs, "C", 0, NULL, 6);
    a = hb(cgs, "A", 2, &none, 7);
    CHECK_EQ_INT(a.epoch, 3);
    CHECK_EQ_INT(hb(cgs, "A", 1, NULL, 8).err, KERR_FENCED_MEMBER_EPOCH);
    /* Missing join fields and unknown assignors. */
    sl_cg_hb_t h = {0};
    h.group_id = S("g");
    h.member_epoch = 0;
    h.rebalance_timeout_ms = 100;
    h.n_topics = -1;
    sl_cg_hb_result_t r;
    sl_cg_heartbeat(cgs, &h, 9, &r);
    CHECK_EQ_INT(r.err, KERR_INVALID_REQUEST);
    h.n_topics = 1;
    h.topics = orders;
    h.server_assignor = S("range"); /* not configured here */
    sl_cg_heartbeat(cgs, &h, 9, &r);
    CHECK_EQ_INT(r.err, KERR_UNSUPPORTED_ASSIGNOR);
    h.server_assignor = S(NULL);
    h.regex = S("(");
    sl_cg_heartbeat(cgs, &h, 9, &r);
    CHECK_EQ_INT(r.err, KERR_INVALID_REGULAR_EXPRESSION);
    h.group_id = S("fresh"); /* a refused join leaves no group behind */
    sl_cg_heartbeat(cgs, &h, 9, &r);
    CHECK_EQ_INT(r.err, KERR_INVALID_REGULAR_EXPRESSION);
    CHECK(sl_cg_find(cgs, S("fresh")) == NULL);
    sl_cgroups_free(cgs);
}

TEST(session_timeout_frees_partitions) {
    sl_cgroups_t *cgs = setup("uniform,range");
    sl_cg_hb_result_t a = hb(cgs, "A", 0, NULL, 0);
    sl_cg_hb_result_t b = hb(cgs, "B", 0, NULL, 0);
    sl_tpset_t owned = {0};
    sl_tpset_copy(&owned, a.assignment);
    a = hb(cgs, "A", 1, &owned, 100);
    sl_tpset_copy(&owned, a.assignment);
    a = hb(cgs, "A", 1, &owned, 200);
    b = hb(cgs, "B", b.epoch, NULL, 300);
    CHECK_EQ_INT(b.assignment->n, 3);
    CHECK_EQ_INT(sl_cg_tick(cgs, 5000), 0);
    a = hb(cgs, "A", a.epoch, &owned, 9000); /* A stays alive, B does not */
    CHECK_EQ_INT(sl_cg_tick(cgs, 10300), 1);
    sl_cgroup_t *g = sl_cg_find(cgs, S("g"));
    CHECK_EQ_INT(g->n_members, 1);
    a = hb(cgs, "A", a.epoch, &owned, 10400);
    CHECK_EQ_INT(a.assignment->n, 6);
    CHECK_EQ_INT(hb(cgs, "B", 2, NULL, 10500).err, KERR_UNKNOWN_MEMBER_ID);
    sl_tpset_free(&owned);
    sl_cgroups_free(cgs);
}

TEST(unrevoked_member_removed_after_rebalance_timeout) {
    sl_cgroups_t *cgs = setup("uniform");
    (void)hb(cgs, "A", 0, NULL, 0);
    (void)hb(cgs, "B", 0, NULL, 0);
    sl_cg_hb_result_t a = hb(cgs, "A", 1, NULL, 10); /* never reports its revocation */
    CHECK_EQ_INT(a.epoch, 1);
    CHECK_EQ_INT(sl_cg_tick(cgs, 4000), 0);
    CHECK_EQ_INT(sl_cg_tick(cgs, 5010), 1); /* rebalance timeout 5000 ms */
    sl_cg_hb_result_t b = hb(cgs, "B", 2, NULL, 5020);
    CHECK_EQ_INT(b.assignment->n, 6);
    sl_cgroups_free(cgs);
}

TEST(static_member_returns_with_its_partitions) {
    sl_cgroups_t *cgs = setup("uniform");
    sl_cg_hb_t h = {0};
    h.group_id = S("g");
    h.member_id = S("A1");
    h.instance_id = S("host-a");
    h.member_epoch = 0;
    h.rebalance_timeout_ms = 5000;
    h.n_topics = 1;
    h.topics = orders;
    sl_cg_hb_result_t r;
    sl_cg_heartbeat(cgs, &h, 0, &r);
    CHECK_EQ_INT(r.epoch, 1);
    CHECK_EQ_INT(r.assignment->n, 6);
    /* Another process with the same instance id while A1 is active. */
    h.member_id = S("A2");
    sl_cg_heartbeat(cgs, &h, 1, &r);
    CHECK_EQ_INT(r.err, KERR_UNRELEASED_INSTANCE_ID);
    /* A1 leaves as a static member; A2 takes its place without a new epoch. */
    h.member_id = S("A1");
    h.member_epoch = -2;
    sl_cg_heartbeat(cgs, &h, 2, &r);
    CHECK_EQ_INT(r.err, 0);
    CHECK_EQ_INT(r.epoch, -2);
    h.member_id = S("A2");
    h.member_epoch = 0;
    sl_cg_heartbeat(cgs, &h, 3, &r);
    CHECK_EQ_INT(r.err, 0);
    CHECK_EQ_INT(r.epoch, 1);
    CHECK_EQ_INT(r.assignment->n, 6);
    CHECK(!strcmp(r.member_id, "A2"));
    CHECK_EQ_INT(sl_cg_find(cgs, S("g"))->epoch, 1);
    CHECK_EQ_INT(hb(cgs, "A1", 1, NULL, 4).err, KERR_UNKNOWN_MEMBER_ID);
    sl_cgroups_free(cgs);
}

TEST(new_partitions_and_regex_give_a_new_target) {
    sl_cgroups_t *cgs = setup("uniform");
    sl_cg_hb_result_t a = hb(cgs, "A", 0, NULL, 0);
    CHECK_EQ_INT(a.assignment->n, 6);
    topics[0].n = 8; /* CreatePartitions */
    a = hb(cgs, "A", 1, NULL, 10);
    CHECK_EQ_INT(a.epoch, 2);
    CHECK_EQ_INT(a.assignment->n, 8);
    /* A second member subscribing by regex to both topics. */
    sl_cg_hb_t h = {0};
    h.group_id = S("g");
    h.member_id = S("R");
    h.rebalance_timeout_ms = 5000;
    h.n_topics = -1;
    h.regex = S("^(orders|aud.*)$");
    sl_cg_hb_result_t r;
    sl_cg_heartbeat(cgs, &h, 20, &r);
    CHECK_EQ_INT(r.err, 0);
    sl_cgroup_t *g = sl_cg_find(cgs, S("g"));
    /* A regex new to the group counts from the next tick (resolved asynchronously, as Kafka). */
    CHECK(!sl_cg_member_subscribes(g->members[1], "audit"));
    CHECK_EQ_INT(r.assignment->n, 0);
    sl_cg_tick(cgs, 30);
    h.member_id = S(r.member_id);
    h.member_epoch = r.epoch;
    sl_cg_heartbeat(cgs, &h, 40, &r);
    CHECK_EQ_INT(r.err, 0);
    CHECK(sl_cg_member_subscribes(g->members[1], "audit"));
    CHECK(!sl_cg_member_subscribes(g->members[1], "other"));
    /* audit's 2 partitions can only go to R; 10 in all, 5 each. */
    CHECK_EQ_INT(g->members[0]->target.n, 5);
    CHECK_EQ_INT(g->members[1]->target.n, 5);
    CHECK_EQ_INT(r.assignment->n, 2); /* the audit partitions nobody held */
    sl_cgroups_free(cgs);
}

/* librdkafka's 0045 resubscribe_with_regex (KIP-848): a member subscribing to a regex and a
 * literal topic gets the literal topic in the heartbeat that subscribes and the regex's topics
 * only after the group resolved the regex (Kafka resolves regexes asynchronously; sluice used
 * to match them in the same heartbeat, and the test got both at once). A second member with a
 * regex already resolved in the group gets its topics at once. */
TEST(regex_is_resolved_after_the_literal_topics) {
    sl_cgroups_t *cgs = setup("uniform");
    sl_cg_hb_t h = {0};
    h.group_id = S("g");
    h.member_id = S("A");
    h.rebalance_timeout_ms = 5000;
    h.n_topics = 1;
    h.topics = orders;
    h.regex = S("^aud.*$");
    sl_cg_hb_result_t r;
    sl_cg_heartbeat(cgs, &h, 0, &r);
    CHECK_EQ_INT(r.err, 0);
    CHECK_EQ_INT(r.assignment->n, 6); /* orders only */
    int32_t e1 = r.epoch;
    CHECK_EQ_INT(sl_cg_tick(cgs, 10), 0);
    sl_tpset_t owned = {0};
    sl_tpset_copy(&owned, r.assignment);
    h.member_epoch = e1;
    h.owned = &owned;
    sl_cg_heartbeat(cgs, &h, 20, &r);
    CHECK_EQ_INT(r.err, 0);
    CHECK(r.epoch > e1);
    CHECK_EQ_INT(r.assignment->n, 8); /* and audit's 2 */
    /* B with the same regex: resolved in the group already, so it counts at once. */
    sl_cg_hb_t h2 = h;
    h2.member_id = S("B");
    h2.member_epoch = 0;
    h2.owned = NULL;
    h2.n_topics = 0;
    h2.topics = NULL;
    sl_cg_heartbeat(cgs, &h2, 30, &r);
    CHECK_EQ_INT(r.err, 0);
    CHECK(sl_cg_member_subscribes(sl_cg_find(cgs, S("g"))->members[1], "audit"));
    sl_tpset_free(&owned);
    sl_cgroups_free(cgs);
}

/* librdkafka 2.15 repeats its whole subscription in every full heartbeat, with an empty regex
 * ("" for "none") and the same topic names: nothing changed, so the epoch stays and the member
 * keeps its partitions (the epoch used to grow at every heartbeat, and the consumer never
 * settled). A real regex change still bumps it, and "" then clears the regex. */
TEST(repeated_full_heartbeat_keeps_the_epoch) {
    sl_cgroups_t *cgs = setup("uniform");
    sl_cg_hb_t h = {0};
    h.group_id = S("g");
    h.member_id = S("A");
    h.rebalance_timeout_ms = 5000;
    h.n_topics = 1;
    h.topics = orders;
    h.regex = S("");
    h.server_assignor = S("uniform");
    sl_cg_hb_result_t r;
    sl_cg_heartbeat(cgs, &h, 0, &r);
    CHECK_EQ_INT(r.err, 0);
    CHECK_EQ_INT(r.epoch, 1);
    sl_tpset_t owned = {0};
    sl_tpset_copy(&owned, r.assignment);
    for (int i = 1; i <= 3; i++) {
        h.member_epoch = 1;
        h.owned = &owned;
        sl_cg_heartbeat(cgs, &h, i * 1000, &r);
        CHECK_EQ_INT(r.err, 0);
        CHECK_EQ_INT(r.epoch, 1);
        CHECK_EQ_INT(sl_cg_find(cgs, S("g"))->epoch, 1);
    }
    h.regex = S("^orders$");
    sl_cg_heartbeat(cgs, &h, 5000, &r);
    CHECK_EQ_INT(sl_cg_find(cgs, S("g"))->epoch, 2);
    h.member_epoch = r.epoch;
    h.regex = S("");
    sl_cg_heartbeat(cgs, &h, 6000, &r);
    CHECK_EQ_INT(sl_cg_find(cgs, S("g"))->epoch, 3);
    CHECK(sl_cg_find(cgs, S("g"))->members[0]->regex == NULL);
    sl_tpset_free(&owned);
    sl_cgroups_free(cgs);
}

TEST(offset_commits_need_the_current_member_epoch) {
    sl_cgroups_t *cgs = setup("uniform");
    sl_cg_hb_result_t a = hb(cgs, "A", 0, NULL, 0);
    sl_cgroup_t *g = sl_cg_find(cgs, S("g"));
    CHECK_EQ_INT(sl_cg_check_commit(cgs, g, S("A"), a.epoch), 0);
    CHECK_EQ_INT(sl_cg_check_commit(cgs, g, S("A"), a.epoch + 1), KERR_ILLEGAL_GENERATION);
    CHECK_EQ_INT(sl_cg_check_commit(cgs, g, S("Z"), a.epoch), KERR_UNKNOWN_MEMBER_ID);
    CHECK_EQ_INT(sl_cg_check_commit(cgs, g, S(""), -1), KERR_UNKNOWN_MEMBER_ID);
    (void)hb(cgs, "A", -1, NULL, 1);
    CHECK_EQ_INT(sl_cg_check_commit(cgs, g, S(""), -1), 0);
    sl_cgroups_free(cgs);
}

/* Three members joining, heartbeating in random order with honest owned-partition reports,
 * leaving and rejoining: never two holders; once quiet, everything is held and balanced. */
TEST(random_heartbeats_never_double_own) {
    sl_cgroups_t *cgs = setup("uniform,range");
    const char *ids[3] = {"m0", "m1", "m2"};
    int32_t ep[3] = {0, 0, 0};
    bool in[3] = {false, false, false};
    sl_tpset_t owned[3] = {{0}};
    int64_t now = 0;
    for (int step = 0; step < 3000; step++) {
        int i = (int)(sl_test_rand() % 3);
        now += 10;
        if (!in[i]) {
            sl_cg_hb_result_t r = hb(cgs, ids[i], 0, NULL, now);
            CHECK_EQ_INT(r.err, 0);
            in[i] = true;
            ep[i] = r.epoch;
            sl_tpset_copy(&owned[i], r.assignment);
        } else if (sl_test_rand() % 50 == 0) {
            CHECK_EQ_INT(hb(cgs, ids[i], -1, NULL, now).err, 0);
            in[i] = false;
            sl_tpset_clear(&owned[i]);
        } else {
            sl_cg_hb_result_t r = hb(cgs, ids[i], ep[i], &owned[i], now);
            CHECK_EQ_INT(r.err, 0);
            ep[i] = r.epoch;
            sl_tpset_copy(&owned[i], r.assignment);
        }
        sl_cgroup_t *g = sl_cg_find(cgs, S("g"));
        (void)held_once(g, sl_failed_);
        CHECK_EQ_INT(*sl_failed_, 0);
        for (int a = 0; a < 3; a++) { /* what the consumers think they own, too */
            for (int b = a + 1; b < 3; b++) {
                CHECK(!(in[a] && in[b] && sl_tpset_overlaps(&owned[a], &owned[b])));
            }
        }
    }
    for (int i = 0; i < 3; i++) {
        if (!in[i]) {
            sl_cg_hb_result_t r = hb(cgs, ids[i], 0, NULL, now);
            in[i] = true;
            ep[i] = r.epoch;
            sl_tpset_copy(&owned[i], r.assignment);
        }
    }
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < 3; i++) {
            sl_cg_hb_result_t r = hb(cgs, ids[i], ep[i], &owned[i], ++now);
            ep[i] = r.epoch;
            sl_tpset_copy(&owned[i], r.assignment);
        }
    }
    sl_cgroup_t *g = sl_cg_find(cgs, S("g"));
    CHECK(!strcmp(sl_cg_state_name(g), "Stable"));
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(owned[i].n, 2);
        sl_tpset_free(&owned[i]);
    }
    sl_cgroups_free(cgs);
}

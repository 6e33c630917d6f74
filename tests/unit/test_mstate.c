/* test_mstate.c -- the cluster's metadata state machine (broker/mstate.c): records encode and
 * apply the same way on every node, snapshots round-trip, placement is round-robin over live
 * brokers, and the quorum voter list parses or is refused. */
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/metalog.h"
#include "broker/mstate.h"
#include "cluster/quorum.h"
#include "common/util.h"
#include "harness.h"

static void add(sl_buf_t *cmd, sl_meta_rec_t rec) {
    sl_meta_encode(&rec, cmd);
}

static void reg(sl_buf_t *cmd, int id, const char *addr) {
    add(cmd, (sl_meta_rec_t){.type = SL_META_BROKER_REG, .name = addr, .value = id});
}

static sl_err_t apply(sl_mstate_t *ms, sl_buf_t *cmd) {
    sl_err_t rc = sl_mstate_apply(ms, cmd->data, cmd->len);
    cmd->len = 0;
    return rc;
}

/* Two images fed the same commands hold the same state, byte for byte in their snapshots. */
static void snapshot_of(sl_mstate_t *ms, sl_buf_t *out) {
    out->len = 0;
    sl_mstate_snapshot(ms, out);
}

TEST(mstate_brokers_register_and_fence) {
    sl_mstate_t *ms = sl_mstate_new();
    sl_buf_t cmd = {0};
    reg(&cmd, 3, "127.0.0.3:9092");
    reg(&cmd, 1, "127.0.0.1:9092");
    CHECK(apply(ms, &cmd) == SL_OK);
    sl_mbroker_t bs[4];
    CHECK_EQ_INT(sl_mstate_brokers(ms, bs, 4), 2);
    CHECK_EQ_INT(bs[0].id, 1); /* sorted by id */
    CHECK_EQ_INT(bs[1].port, 9092);
    CHECK(!strcmp(bs[1].host, "127.0.0.3"));
    CHECK_EQ_INT(sl_mstate_live(ms), 2);
    add(&cmd, (sl_meta_rec_t){.type = SL_META_BROKER_FENCE, .name = "", .value = 3});
    CHECK(apply(ms, &cmd) == SL_OK);
    CHECK_EQ_INT(sl_mstate_live(ms), 1);
    sl_mbroker_t b;
    CHECK(sl_mstate_broker(ms, 3, &b) && b.fenced);
    /* registering again (a new address after a restart) unfences */
    reg(&cmd, 3, "127.0.0.3:9999");
    CHECK(apply(ms, &cmd) == SL_OK);
    CHECK(sl_mstate_broker(ms, 3, &b) && !b.fenced && b.port == 9999);
    sl_buf_fini(&cmd);
    sl_mstate_free(ms);
}

TEST(mstate_placement_round_robin_and_rf_limit) {
    sl_mstate_t *ms = sl_mstate_new();
    sl_buf_t cmd = {0};
    reg(&cmd, 1, "h:1");
    reg(&cmd, 2, "h:2");
    reg(&cmd, 3, "h:3");
    CHECK(apply(ms, &cmd) == SL_OK);
    sl_meta_assign_t as[6];
    int32_t live;
    CHECK(sl_mstate_place(ms, 0, 6, 2, as, &live) == SL_OK);
    CHECK_EQ_INT(live, 3);
    for (int p = 0; p < 6; p++) {
        CHECK_EQ_INT(as[p].n_replicas, 2);
        CHECK_EQ_INT(as[p].leader, as[p].replicas[0]);
        CHECK(as[p].replicas[0] != as[p].replicas[1]);
        CHECK_EQ_INT(as[p].leader, p % 3 + 1); /* leaders rotate 1, 2, 3, 1, ... */
    }
    CHECK(sl_mstate_place(ms, 0, 1, 4, as, &live) == SL_ERR_LIMIT);
    /* a fenced broker gets no new partitions */
    add(&cmd, (sl_meta_rec_t){.type = SL_META_BROKER_FENCE, .name = "", .value = 2});
    CHECK(apply(ms, &cmd) == SL_OK);
    CHECK(sl_mstate_place(ms, 0, 4, 1, as, &live) == SL_OK);
    for (int p = 0; p < 4; p++) {
        CHECK(as[p].leader == 1 || as[p].leader == 3);
    }
    CHECK(sl_mstate_place(ms, 0, 1, 3, as, &live) == SL_ERR_LIMIT);
    CHECK_EQ_INT(live, 2);
    sl_buf_fini(&cmd);
    sl_mstate_free(ms);
}

TEST(mstate_topics_placement_and_snapshot_roundtrip) {
    sl_mstate_t *a = sl_mstate_new(), *b = sl_mstate_new();
    sl_buf_t cmd = {0}, snap_a = {0}, snap_b = {0};
    reg(&cmd, 1, "h:1");
    reg(&cmd, 2, "h:2");
    sl_kv_t cfg[] = {{"retention.ms", "1000"}};
    add(&cmd, (sl_meta_rec_t){SL_META_TOPIC_CREATE, "t", {7}, 2, cfg, 1});
    sl_meta_assign_t as[2] = {{.leader = 1, .epoch = 0, .n_replicas = 2, .replicas = {1, 2}},
                              {.leader = 2, .epoch = 5, .n_replicas = 2, .replicas = {2, 1}}};
    add(&cmd,
        (sl_meta_rec_t){
            .type = SL_META_PLACEMENT, .name = "t", .partitions = 0, .assign = as, .n_assign = 2});
    add(&cmd, (sl_meta_rec_t){SL_META_TOPIC_CREATE, "gone", {8}, 1, NULL, 0});
    add(&cmd, (sl_meta_rec_t){SL_META_TOPIC_DELETE, "gone", {0}, 0, NULL, 0});
    add(&cmd, (sl_meta_rec_t){.type = SL_META_PID_BLOCK, .name = "", .value = 2000});
    sl_kv_t q[] = {{"client-id", "c1"}, {"producer_byte_rate", "1024"}};
    add(&cmd, (sl_meta_rec_t){SL_META_QUOTA, "", {0}, 0, q, 2});
    sl_buf_t copy = {0};
    sl_buf_append(&copy, cmd.data, cmd.len);
    CHECK(apply(a, &cmd) == SL_OK);
    CHECK(apply(b, &copy) == SL_OK);
    snapshot_of(a, &snap_a);
    snapshot_of(b, &snap_b);
    CHECK(snap_a.len > 0 && snap_a.len == snap_b.len);
    CHECK(!memcmp(snap_a.data, snap_b.data, snap_a.len));

    sl_meta_assign_t got;
    CHECK(sl_mstate_assign(a, "t", 1, &got));
    CHECK_EQ_INT(got.leader, 2);
    CHECK_EQ_INT(got.epoch, 5);
    CHECK_EQ_INT(got.replicas[1], 1);
    CHECK(!sl_mstate_assign(a, "gone", 0, &got));
    CHECK(!sl_mstate_assign(a, "t", 2, &got));

    /* restore into an image holding other state: it is replaced, not merged */
    sl_mstate_t *c = sl_mstate_new();
    add(&cmd, (sl_meta_rec_t){SL_META_TOPIC_CREATE, "stale", {9}, 1, NULL, 0});
    reg(&cmd, 9, "h:9");
    CHECK(apply(c, &cmd) == SL_OK);
    CHECK(sl_mstate_restore(c, snap_a.data, snap_a.len) == SL_OK);
    sl_buf_t snap_c = {0};
    snapshot_of(c, &snap_c);
    CHECK(snap_c.len == snap_a.len && !memcmp(snap_c.data, snap_a.data, snap_a.len));
    sl_mbroker_t br;
    CHECK(!sl_mstate_broker(c, 9, &br));
    CHECK(sl_mstate_assign(c, "t", 0, &got) && got.leader == 1);

    /* a corrupt snapshot is refused and leaves the image empty */
    snap_c.data[snap_c.len / 2] ^= 0x55;
    CHECK(sl_mstate_restore(c, snap_c.data, snap_c.len) == SL_ERR_CORRUPT);
    CHECK_EQ_INT(sl_mstate_brokers(c, &br, 1), 0);

    sl_buf_fini(&cmd);
    sl_buf_fini(&copy);
    sl_buf_fini(&snap_a);
    sl_buf_fini(&snap_b);
    sl_buf_fini(&snap_c);
    sl_mstate_free(a);
    sl_mstate_free(b);
    sl_mstate_free(c);
}

TEST(mstate_delete_names_one_incarnation) {
    sl_mstate_t *ms = sl_mstate_new();
    sl_buf_t cmd = {0};
    add(&cmd, (sl_meta_rec_t){SL_META_TOPIC_CREATE, "t", {1}, 1, NULL, 0});
    sl_meta_assign_t a = {.leader = 1, .n_replicas = 1, .replicas = {1}};
    add(&cmd, (sl_meta_rec_t){.type = SL_META_PLACEMENT, .name = "t", .assign = &a, .n_assign = 1});
    /* a deletion of an older incarnation (id 9) leaves this one (id 1) alone */
    add(&cmd, (sl_meta_rec_t){SL_META_TOPIC_DELETE, "t", {9}, 0, NULL, 0});
    CHECK(apply(ms, &cmd) == SL_OK);
    sl_meta_assign_t got;
    CHECK(sl_mstate_assign(ms, "t", 0, &got));
    add(&cmd, (sl_meta_rec_t){SL_META_TOPIC_DELETE, "t", {1}, 0, NULL, 0});
    CHECK(apply(ms, &cmd) == SL_OK);
    CHECK(!sl_mstate_assign(ms, "t", 0, &got));
    /* an id-less deletion (older logs) removes whatever has the name */
    add(&cmd, (sl_meta_rec_t){SL_META_TOPIC_CREATE, "t", {2}, 1, NULL, 0});
    add(&cmd, (sl_meta_rec_t){.type = SL_META_PLACEMENT, .name = "t", .assign = &a, .n_assign = 1});
    add(&cmd, (sl_meta_rec_t){SL_META_TOPIC_DELETE, "t", {0}, 0, NULL, 0});
    CHECK(apply(ms, &cmd) == SL_OK);
    CHECK(!sl_mstate_assign(ms, "t", 0, &got));
    sl_buf_fini(&cmd);
    sl_mstate_free(ms);
}

typedef struct seen {
    int n;
    sl_meta_type_t last;
    int32_t leader1;
} seen_t;

static void count(const sl_meta_rec_t *rec, void *opaque) {
    seen_t *s = opaque;
    s->n++;
    s->last = rec->type;
    if (rec->type == SL_META_PLACEMENT && rec->n_assign > 1) {
        s->leader1 = rec->assign[1].leader;
    }
}

TEST(meta_records_roundtrip_and_reject_damage) {
    sl_buf_t cmd = {0};
    sl_meta_assign_t as[2] = {{.leader = 4, .n_replicas = 1, .replicas = {4}},
                              {.leader = 6, .epoch = 2, .n_replicas = 1, .replicas = {6}}};
    add(&cmd, (sl_meta_rec_t){SL_META_TOPIC_CREATE, "x", {1}, 2, NULL, 0});
    add(&cmd,
        (sl_meta_rec_t){
            .type = SL_META_PLACEMENT, .name = "x", .partitions = 0, .assign = as, .n_assign = 2});
    seen_t s = {0};
    CHECK(sl_meta_each(cmd.data, cmd.len, count, &s) == SL_OK);
    CHECK_EQ_INT(s.n, 2);
    CHECK_EQ_INT(s.last, SL_META_PLACEMENT);
    CHECK_EQ_INT(s.leader1, 6);
    /* every cut inside a record is refused (the records before the cut still apply) */
    size_t first = 8 + sl_load_be32(cmd.data);
    for (size_t cut = 1; cut < cmd.len; cut++) {
        seen_t t = {0};
        CHECK(sl_meta_each(cmd.data, cut, count, &t) == (cut == first ? SL_OK : SL_ERR_CORRUPT));
        CHECK(t.n <= 1);
    }
    /* a flipped byte fails the CRC */
    cmd.data[cmd.len - 3] ^= 1;
    seen_t u = {0};
    CHECK(sl_meta_each(cmd.data, cmd.len, count, &u) == SL_ERR_CORRUPT);
    CHECK_EQ_INT(u.n, 1);
    sl_buf_fini(&cmd);
}

TEST(quorum_voters_parse) {
    sl_quorum_voter_t v[SL_QUORUM_MAX_VOTERS];
    size_t n;
    char err[SL_ERRLEN];
    CHECK(sl_quorum_parse_voters("1@127.0.0.1:9093,2@127.0.0.2:9093,3@localhost:1", v, 9, &n,
                                 err) == SL_OK);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_INT(v[1].id, 2);
    CHECK(!strcmp(v[1].address, "127.0.0.2:9093"));
    CHECK(!strcmp(v[2].address, "localhost:1"));
    const char *bad[] = {
        "",         "1@",           "@h:1",   "0@h:1",          "x@h:1", "1@h:1,1@h:2",
        "1@nohost", "1@h:1,,2@h:2", "-1@h:1", "99999999999@h:1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK(sl_quorum_parse_voters(bad[i], v, 9, &n, err) == SL_ERR_INVAL);
    }
    CHECK(sl_quorum_parse_voters("1@a:1,2@a:2,3@a:3", v, 2, &n, err) == SL_ERR_INVAL);
}

typedef struct acl_replay {
    sl_broker_t b;
    int n_records;
} acl_replay_t;

static void replay_acl(const sl_meta_rec_t *rec, void *opaque) {
    acl_replay_t *r = opaque;
    if (rec->type == SL_META_ACL) {
        r->n_records++;
        sl_acl_apply_meta(&r->b, rec->name, rec->configs, rec->n_configs);
    }
}

/* ACL bindings (record type 12) are part of the image: a snapshot keeps their creations and
 * deletions in order, and replaying it leaves the bindings the commands left. */
TEST(mstate_snapshot_keeps_acl_bindings) {
    sl_mstate_t *ms = sl_mstate_new();
    sl_buf_t cmd = {0}, snap = {0};
    sl_kv_t a1[] = {{"resource_type", "TOPIC"},  {"pattern_type", "LITERAL"},
                    {"principal", "User:alice"}, {"host", "*"},
                    {"operation", "READ"},       {"permission_type", "ALLOW"}};
    sl_kv_t a2[] = {{"resource_type", "GROUP"}, {"pattern_type", "PREFIXED"},
                    {"principal", "User:bob"},  {"host", "*"},
                    {"operation", "ALL"},       {"permission_type", "DENY"}};
    sl_kv_t d1[] = {{"resource_type", "TOPIC"},  {"pattern_type", "LITERAL"},
                    {"principal", "User:alice"}, {"host", "*"},
                    {"operation", "READ"},       {"permission_type", "ALLOW"},
                    {"deleted", "true"}};
    add(&cmd, (sl_meta_rec_t){SL_META_ACL, "orders", {0}, 0, a1, 6});
    add(&cmd, (sl_meta_rec_t){SL_META_ACL, "g-", {0}, 0, a2, 6});
    add(&cmd, (sl_meta_rec_t){SL_META_ACL, "orders", {0}, 0, d1, 7});
    CHECK(apply(ms, &cmd) == SL_OK);
    snapshot_of(ms, &snap);
    acl_replay_t r = {0};
    CHECK(sl_meta_each(snap.data, snap.len, replay_acl, &r) == SL_OK);
    CHECK_EQ_INT(r.n_records, 3);
    CHECK(r.b.acls && sl_acls_count(r.b.acls) == 1);
    const sl_acl_binding_t *left = sl_acls_get(r.b.acls, 0);
    CHECK(left->res_type == SL_RES_GROUP && left->pattern == SL_PAT_PREFIXED);
    CHECK(!strcmp(left->res_name, "g-") && !strcmp(left->principal, "User:bob"));
    CHECK(left->op == SL_ACL_ALL && left->perm == SL_PERM_DENY);
    sl_acls_free(r.b.acls);
    sl_buf_fini(&cmd);
    sl_buf_fini(&snap);
    sl_mstate_free(ms);
}

/* Two brokers created one name at once: the first create in the log keeps it, and the second,
 * with the placement its command carries, changes nothing (it would have moved the first one's
 * partition 0 to its proposer's choice). Its proposer reads the winner's id back. */
TEST(mstate_second_create_of_a_name_is_ignored_with_its_placement) {
    sl_mstate_t *ms = sl_mstate_new();
    sl_buf_t cmd = {0};
    reg(&cmd, 1, "h:1");
    reg(&cmd, 2, "h:2");
    CHECK(apply(ms, &cmd) == SL_OK);
    sl_meta_assign_t four[4];
    for (int i = 0; i < 4; i++) {
        four[i] = (sl_meta_assign_t){.leader = 1 + i % 2, .n_replicas = 2, .replicas = {1, 2}};
        four[i].replicas[0] = four[i].leader;
        four[i].replicas[1] = 3 - four[i].leader;
    }
    add(&cmd, (sl_meta_rec_t){SL_META_TOPIC_CREATE, "t", {1}, 4, NULL, 0});
    add(&cmd,
        (sl_meta_rec_t){.type = SL_META_PLACEMENT, .name = "t", .assign = four, .n_assign = 4});
    CHECK(apply(ms, &cmd) == SL_OK);
    sl_meta_assign_t one = {.leader = 2, .epoch = 0, .n_replicas = 1, .replicas = {2}};
    add(&cmd, (sl_meta_rec_t){SL_META_TOPIC_CREATE, "t", {2}, 1, NULL, 0});
    add(&cmd,
        (sl_meta_rec_t){.type = SL_META_PLACEMENT, .name = "t", .assign = &one, .n_assign = 1});
    CHECK(apply(ms, &cmd) == SL_OK);
    uint8_t id[16];
    CHECK(sl_mstate_topic_id(ms, "t", id));
    CHECK_EQ_INT(id[0], 1);
    CHECK(!sl_mstate_topic_id(ms, "other", id));
    sl_meta_assign_t got;
    CHECK(sl_mstate_assign(ms, "t", 0, &got));
    CHECK_EQ_INT(got.leader, 1);
    CHECK_EQ_INT(got.n_replicas, 2);
    CHECK(sl_mstate_assign(ms, "t", 3, &got));
    /* a placement in a command of its own (a reassignment) still applies */
    add(&cmd,
        (sl_meta_rec_t){.type = SL_META_PLACEMENT, .name = "t", .assign = &one, .n_assign = 1});
    CHECK(apply(ms, &cmd) == SL_OK);
    CHECK(sl_mstate_assign(ms, "t", 0, &got));
    CHECK_EQ_INT(got.leader, 2);
    sl_buf_fini(&cmd);
    sl_mstate_free(ms);
}

/* Issue 14: two CreatePartitions of one topic on two brokers, both checked against its 2
 * partitions (2 -> 4 and 2 -> 6), each proposing its placement of partitions from 2. The first
 * in the log wins; the second is counted from a base that is no longer the image's and is
 * ignored with its placement, which would have moved partitions 2 and 3 (their leaders and
 * replicas) under the first one's feet. A record without a base (written before it had one)
 * applies as before. */
TEST(mstate_partitions_from_a_stale_base_are_ignored_with_their_placement) {
    sl_mstate_t *ms = sl_mstate_new();
    sl_buf_t cmd = {0};
    reg(&cmd, 1, "h:1");
    reg(&cmd, 2, "h:2");
    CHECK(apply(ms, &cmd) == SL_OK);
    sl_meta_assign_t two[2] = {{.leader = 1, .n_replicas = 1, .replicas = {1}},
                               {.leader = 2, .n_replicas = 1, .replicas = {2}}};
    add(&cmd, (sl_meta_rec_t){SL_META_TOPIC_CREATE, "t", {1}, 2, NULL, 0});
    add(&cmd,
        (sl_meta_rec_t){.type = SL_META_PLACEMENT, .name = "t", .assign = two, .n_assign = 2});
    CHECK(apply(ms, &cmd) == SL_OK);
    /* first: 2 -> 4, partitions 2 and 3 led by node 1 */
    sl_meta_assign_t by1[4], by2[4];
    for (int i = 0; i < 4; i++) {
        by1[i] = (sl_meta_assign_t){.leader = 1, .n_replicas = 1, .replicas = {1}};
        by2[i] = (sl_meta_assign_t){.leader = 2, .n_replicas = 1, .replicas = {2}};
    }
    add(&cmd,
        (sl_meta_rec_t){.type = SL_META_PARTITIONS, .name = "t", .partitions = 4, .value = 2});
    add(&cmd,
        (sl_meta_rec_t){
            .type = SL_META_PLACEMENT, .name = "t", .partitions = 2, .assign = by1, .n_assign = 2});
    CHECK(apply(ms, &cmd) == SL_OK);
    /* second, also counted from 2: 2 -> 6, partitions 2..5 led by node 2 */
    add(&cmd,
        (sl_meta_rec_t){.type = SL_META_PARTITIONS, .name = "t", .partitions = 6, .value = 2});
    add(&cmd,
        (sl_meta_rec_t){
            .type = SL_META_PLACEMENT, .name = "t", .partitions = 2, .assign = by2, .n_assign = 4});
    CHECK(apply(ms, &cmd) == SL_OK);
    sl_meta_assign_t got;
    for (int p = 2; p < 4; p++) {
        CHECK(sl_mstate_assign(ms, "t", p, &got));
        CHECK_EQ_INT(got.leader, 1);
        CHECK_EQ_INT(got.replicas[0], 1);
    }
    CHECK(!sl_mstate_assign(ms, "t", 4, &got));
    CHECK(!sl_mstate_assign(ms, "t", 5, &got));
    /* a later change counted from 4 applies */
    add(&cmd,
        (sl_meta_rec_t){.type = SL_META_PARTITIONS, .name = "t", .partitions = 5, .value = 4});
    add(&cmd,
        (sl_meta_rec_t){
            .type = SL_META_PLACEMENT, .name = "t", .partitions = 4, .assign = by2, .n_assign = 1});
    CHECK(apply(ms, &cmd) == SL_OK);
    CHECK(sl_mstate_assign(ms, "t", 4, &got));
    CHECK_EQ_INT(got.leader, 2);
    /* a record without a base: applied as before */
    add(&cmd, (sl_meta_rec_t){.type = SL_META_PARTITIONS, .name = "t", .partitions = 6});
    add(&cmd,
        (sl_meta_rec_t){
            .type = SL_META_PLACEMENT, .name = "t", .partitions = 5, .assign = by1, .n_assign = 1});
    CHECK(apply(ms, &cmd) == SL_OK);
    CHECK(sl_mstate_assign(ms, "t", 5, &got));
    CHECK_EQ_INT(got.leader, 1);
    /* the image's count moved only with the applied changes */
    sl_buf_t snap = {0};
    snapshot_of(ms, &snap);
    sl_mstate_t *back = sl_mstate_new();
    CHECK(sl_mstate_restore(back, snap.data, snap.len) == SL_OK);
    CHECK(sl_mstate_assign(back, "t", 3, &got));
    CHECK_EQ_INT(got.leader, 1);
    sl_mstate_free(back);
    sl_buf_fini(&snap);
    sl_buf_fini(&cmd);
    sl_mstate_free(ms);
}

/* The cluster id (record type 16): leaders that proposed one each before seeing the other's
 * record leave the first one committed; a snapshot carries it and a restore keeps it. */
TEST(mstate_first_committed_cluster_id_holds) {
    sl_mstate_t *ms = sl_mstate_new(), *copy = sl_mstate_new();
    sl_buf_t cmd = {0}, snap = {0};
    char id[32];
    CHECK(!sl_mstate_cluster_id(ms, id, sizeof id) && id[0] == '\0');
    add(&cmd, (sl_meta_rec_t){.type = SL_META_CLUSTER_ID, .name = ""}); /* malformed: ignored */
    add(&cmd, (sl_meta_rec_t){.type = SL_META_CLUSTER_ID, .name = "first-id-aaaaaaaaaaaaa"});
    add(&cmd, (sl_meta_rec_t){.type = SL_META_CLUSTER_ID, .name = "second-id-bbbbbbbbbbbb"});
    CHECK(apply(ms, &cmd) == SL_OK);
    CHECK(sl_mstate_cluster_id(ms, id, sizeof id) && !strcmp(id, "first-id-aaaaaaaaaaaaa"));
    snapshot_of(ms, &snap);
    CHECK(sl_mstate_restore(copy, snap.data, snap.len) == SL_OK);
    CHECK(sl_mstate_cluster_id(copy, id, sizeof id) && !strcmp(id, "first-id-aaaaaaaaaaaaa"));
    /* a restore replaces the image: one without an id leaves none */
    CHECK(sl_mstate_restore(copy, NULL, 0) == SL_OK);
    CHECK(!sl_mstate_cluster_id(copy, id, sizeof id));
    sl_buf_fini(&cmd);
    sl_buf_fini(&snap);
    sl_mstate_free(ms);
    sl_mstate_free(copy);
}

/* test_offsets_topic.c -- a cluster's replicated offsets (broker/offsets_topic.c): the group's
 * partition is Kafka's (abs(Java hashCode) % n), a commit in its replicated form goes through
 * sl_offset_rec_apply into another coordinator unchanged (what a new leader's load does), a
 * deletion removes it, and loading first forgets only the offsets of that partition's groups.
 * A cluster-mode commit (sl_coord_commit_mem) writes nothing to the local file. */
#include <stdlib.h>
#include <string.h>

#include "broker/offsets_topic.h"
#include "common/os.h"
#include "group/coordinator.h"
#include "harness.h"

static void no_join(void *req, sl_group_t *g, sl_member_t *m, int16_t err) {
    (void)req, (void)g, (void)m, (void)err;
}
static void no_sync(void *req, sl_group_t *g, sl_member_t *m, int16_t err) {
    (void)req, (void)g, (void)m, (void)err;
}
static const sl_coord_hooks_t hooks = {no_join, no_sync};

static sl_coord_t *open_coord(sl_loop_t *loop, const char *dir) {
    sl_coord_conf_t conf = {1000, 60000, 0, 600000};
    char err[SL_ERRLEN];
    return sl_coord_new(loop, dir, &conf, &hooks, err);
}

#define S(s) ((sl_str_t){(s), strlen(s)})

TEST(group_partition_is_kafkas) {
    /* Java: Math.abs("my-group".hashCode()) % 50 == 36; "failover-group" % 8 == 4. */
    CHECK_EQ_INT(sl_itopic_partition_for(S("my-group"), 50), 36);
    CHECK_EQ_INT(sl_itopic_partition_for(S("failover-group"), 8), 4);
    CHECK_EQ_INT(sl_itopic_partition_for(S("a"), 50), 47);
    CHECK_EQ_INT(sl_itopic_partition_for(S(""), 8), 0);
    for (int i = 0; i < 1000; i++) {
        char g[32];
        snprintf(g, sizeof g, "g%d-%llu", i, (unsigned long long)sl_test_rand());
        int32_t p = sl_itopic_partition_for(S(g), 7);
        CHECK(p >= 0 && p < 7);
    }
}

static bool in_group_a(const char *group, void *opaque) {
    (void)opaque;
    return !strcmp(group, "a");
}

TEST(replicated_records_load_into_another_coordinator) {
    char d1[] = "/tmp/sluice-otopic-XXXXXX", d2[] = "/tmp/sluice-otopic-XXXXXX";
    CHECK(mkdtemp(d1) && mkdtemp(d2));
    sl_loop_t *loop = sl_loop_new();
    sl_coord_t *leader = open_coord(loop, d1), *next = open_coord(loop, d2);
    CHECK(leader && next);
    sl_coord_commit_mem(leader, S("a"), S("t"), 3, 42, 7, (sl_str_t){"md\0x", 4}, 1000);
    CHECK(sl_coord_committed(leader, sl_coord_find(leader, S("a")), S("t"), 3));
    CHECK_EQ_INT(sl_reclog_size(sl_coord_log(leader)), 0); /* nothing in the local file */

    /* The record the leader appends, applied by the next leader's load. */
    sl_committed_t c = {42, 7, "md\0x", 4, 1000};
    sl_buf_t v = {0}, del = {0}, key = {0};
    sl_offset_rec_put(&v, "a", "t", 3, &c);
    sl_offset_rec_key(&key, "a", "t", 3);
    CHECK(key.len > 0);
    sl_offset_replay_t rp;
    sl_coord_replay_fns(next, &rp);
    CHECK(sl_offset_rec_apply(&rp, v.data, v.len) == SL_OK);
    CHECK(sl_offset_rec_apply(&rp, v.data, v.len - 1) == SL_ERR_CORRUPT); /* torn: nothing */
    sl_group_t *g = sl_coord_find(next, S("a"));
    const sl_offset_entry_t *e = sl_coord_committed(next, g, S("t"), 3);
    CHECK(e);
    CHECK_EQ_INT(e->c.offset, 42);
    CHECK_EQ_INT(e->c.leader_epoch, 7);
    CHECK_EQ_INT(e->c.metadata_len, 4);
    CHECK(!memcmp(e->c.metadata, "md\0x", 4));
    CHECK_EQ_INT(e->c.commit_ms, 1000);

    /* Another group's offsets survive forgetting group a's; a deletion record removes one. */
    sl_buf_t vb = {0};
    sl_offset_rec_put(&vb, "b", "t", 0, &c);
    CHECK(sl_offset_rec_apply(&rp, vb.data, vb.len) == SL_OK);
    sl_coord_forget_offsets(next, in_group_a, NULL);
    CHECK(!sl_coord_committed(next, sl_coord_find(next, S("a")), S("t"), 3));
    CHECK(sl_coord_committed(next, sl_coord_find(next, S("b")), S("t"), 0));
    sl_offset_rec_del(&del, "b", "t", 0);
    CHECK(sl_offset_rec_apply(&rp, del.data, del.len) == SL_OK);
    CHECK(!sl_coord_committed(next, sl_coord_find(next, S("b")), S("t"), 0));

    sl_buf_fini(&v);
    sl_buf_fini(&vb);
    sl_buf_fini(&del);
    sl_buf_fini(&key);
    sl_coord_free(leader);
    sl_coord_free(next);
    sl_loop_free(loop);
    sl_os_rmtree(d1);
    sl_os_rmtree(d2);
}

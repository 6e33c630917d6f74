/* test_coordinator.c -- the group state machine without sockets: join with MEMBER_ID_REQUIRED,
 * completion once every member has rejoined, leader-driven sync, heartbeat and commit fencing,
 * static membership, leaving, deletion, and offsets + membership surviving a reopen. Most tests
 * never run the loop, so no timer fires; the rebalance-timeout tests run it until the timer has
 * fired and check that every parked request was answered exactly once. */
#include <stdlib.h>

#include "common/os.h"
#include "group/coordinator.h"
#include "harness.h"

typedef struct done {
    int joins, syncs;
    int null_reqs; /* answers to a request that was not there (must stay 0) */
    int16_t last_join_err, last_sync_err;
    char last_assignment[64];
} done_t;

static done_t D;

/* Every request handed to the coordinator is an int counting its answers. */
static void on_join(void *req, sl_group_t *g, sl_member_t *m, int16_t err) {
    (void)g;
    (void)m;
    if (!req) {
        D.null_reqs++;
        return;
    }
    (*(int *)req)++;
    D.joins++;
    D.last_join_err = err;
}

static void on_sync(void *req, sl_group_t *g, sl_member_t *m, int16_t err) {
    (void)g;
    if (!req) {
        D.null_reqs++;
        return;
    }
    (*(int *)req)++;
    D.syncs++;
    D.last_sync_err = err;
    snprintf(D.last_assignment, sizeof D.last_assignment, "%.*s",
             m && m->assignment ? (int)m->assignment_len : 0,
             m && m->assignment ? (const char *)m->assignment : "");
}

static const sl_coord_hooks_t hooks = {on_join, on_sync};

static sl_str_t S(const char *z) {
    sl_str_t s = {z, z ? strlen(z) : 0};
    return s;
}

static sl_join_args_t args(const char *group, const char *member, const char *instance,
                           sl_str_t *names, sl_bytes_t *meta) {
    sl_join_args_t a = {0};
    a.group_id = S(group);
    a.member_id = S(member);
    a.instance_id = S(instance);
    a.protocol_type = S("consumer");
    a.client_id = S("unit");
    a.client_host = S("127.0.0.1");
    a.session_timeout_ms = 10000;
    a.rebalance_timeout_ms = 10000;
    a.n_protocols = 1;
    names[0] = S("range");
    meta[0] = (sl_bytes_t){(const uint8_t *)"meta", 4};
    a.proto_names = names;
    a.proto_metadata = meta;
    a.version = 5;
    return a;
}

static sl_coord_t *open_coord(sl_loop_t *loop, const char *dir) {
    sl_coord_conf_t conf = {1000, 60000, 0, 600000};
    char err[SL_ERRLEN];
    return sl_coord_new(loop, dir, &conf, &hooks, err);
}

/* Joins a dynamic member through MEMBER_ID_REQUIRED with the given rebalance timeout; returns its
 * id (owned), or NULL if either step did not answer as it should. */
static char *join_new_rt(sl_coord_t *co, const char *group, int *req_tag, int32_t rebalance_ms) {
    sl_str_t n[1];
    sl_bytes_t md[1];
    sl_join_args_t a = args(group, "", NULL, n, md);
    a.rebalance_timeout_ms = rebalance_ms;
    sl_member_t *m;
    sl_group_t *g;
    int rc = sl_coord_join(co, &a, req_tag, &m, &g);
    if (rc != 79 || !m) {
        return NULL;
    }
    char *id = sl_xstrdup(m->member_id);
    free(m->member_id);
    free(m);
    a.member_id = S(id);
    rc = sl_coord_join(co, &a, req_tag, &m, &g);
    return rc == -1 ? id : NULL;
}

static char *join_new(sl_coord_t *co, const char *group, int *req_tag) {
    return join_new_rt(co, group, req_tag, 10000);
}

TEST(two_members_join_sync_heartbeat_leave) {
    memset(&D, 0, sizeof D);
    char dir[] = "/tmp/sluice-coord-XXXXXX";
    CHECK(mkdtemp(dir));
    sl_loop_t *loop = sl_loop_new();
    sl_coord_t *co = open_coord(loop, dir);
    CHECK(co);
    int tag;
    char *a = join_new(co, "g", &tag);
    CHECK(a != NULL);
    /* The only member rejoined: generation 1 completes at once. */
    CHECK_EQ_INT(D.joins, 1);
    sl_group_t *g = sl_coord_find(co, S("g"));
    CHECK_EQ_INT(g->generation, 1);
    CHECK_EQ_INT(g->state, SL_GROUP_COMPLETING_REBALANCE);
    /* Leader syncs with its assignment. */
    sl_str_t who[1] = {S(a)};
    sl_bytes_t what[1] = {{(const uint8_t *)"P0P1", 4}};
    sl_sync_args_t s = {S("g"), S(a), S(NULL), 1, 1, who, what};
    sl_member_t *m;
    CHECK_EQ_INT(sl_coord_sync(co, &s, &tag, &m), -1);
    CHECK_EQ_INT(D.syncs, 1);
    CHECK(!strcmp(D.last_assignment, "P0P1"));
    CHECK_EQ_INT(g->state, SL_GROUP_STABLE);
    /* A second member triggers a rebalance: the first must rejoin before it completes. */
    char *b = join_new(co, "g", &tag);
    CHECK(b != NULL);
    CHECK_EQ_INT(g->state, SL_GROUP_PREPARING_REBALANCE);
    CHECK_EQ_INT(D.joins, 1);
    CHECK_EQ_INT(sl_coord_heartbeat(co, S("g"), 1, S(a), S(NULL)), 27); /* REBALANCE_IN_PROGRESS */
    sl_str_t n[1];
    sl_bytes_t md[1];
    sl_join_args_t ja = args("g", a, NULL, n, md);
    sl_group_t *gg;
    CHECK_EQ_INT(sl_coord_join(co, &ja, &tag, &m, &gg), -1);
    CHECK_EQ_INT(D.joins, 3); /* both answered */
    CHECK_EQ_INT(g->generation, 2);
    CHECK_EQ_INT(g->n_members, 2);
    /* Follower syncs first and waits; the leader's sync answers both. */
    sl_sync_args_t fs = {S("g"), S(b), S(NULL), 2, 0, NULL, NULL};
    CHECK_EQ_INT(sl_coord_sync(co, &fs, &tag, &m), -1);
    CHECK_EQ_INT(D.syncs, 1);
    sl_str_t who2[2] = {S(a), S(b)};
    sl_bytes_t what2[2] = {{(const uint8_t *)"A", 1}, {(const uint8_t *)"B", 1}};
    sl_sync_args_t ls = {S("g"), S(g->leader), S(NULL), 2, 2, who2, what2};
    CHECK_EQ_INT(sl_coord_sync(co, &ls, &tag, &m), -1);
    CHECK_EQ_INT(D.syncs, 3);
    /* Fencing. */
    CHECK_EQ_INT(sl_coord_heartbeat(co, S("g"), 2, S(b), S(NULL)), 0);
    CHECK_EQ_INT(sl_coord_heartbeat(co, S("g"), 1, S(b), S(NULL)), 22); /* ILLEGAL_GENERATION */
    CHECK_EQ_INT(sl_coord_heartbeat(co, S("g"), 2, S("nobody"), S(NULL)), 25); /* UNKNOWN_MEMBER */
    CHECK_EQ_INT(sl_coord_check_commit(co, S("g"), 1, S(b), S(NULL)), 22);
    CHECK_EQ_INT(sl_coord_check_commit(co, S("g"), 2, S(b), S(NULL)), 0);
    CHECK_EQ_INT(sl_coord_check_commit(co, S("g"), -1, S(""), S(NULL)), 25); /* live group */
    CHECK_EQ_INT(sl_coord_delete_group(co, S("g")), 68);                     /* NON_EMPTY_GROUP */
    /* Leaving: the other member is asked to rejoin; then the group empties. */
    CHECK_EQ_INT(sl_coord_leave(co, S("g"), S(b), S(NULL)), 0);
    CHECK_EQ_INT(g->state, SL_GROUP_PREPARING_REBALANCE);
    CHECK_EQ_INT(sl_coord_leave(co, S("g"), S(a), S(NULL)), 0);
    CHECK_EQ_INT(g->state, SL_GROUP_EMPTY);
    CHECK_EQ_INT(sl_coord_leave(co, S("g"), S(a), S(NULL)), 25);
    /* Generation -1 into an empty (or unknown) group is a commit without group management, as
     * Kafka takes it whatever the member id: librdkafka 2.15 with group.protocol=consumer and
     * assign() sends its own member id with epoch -1. */
    CHECK_EQ_INT(sl_coord_check_commit(co, S("g"), -1, S("client-made-id"), S(NULL)), 0);
    CHECK_EQ_INT(sl_coord_check_commit(co, S("nosuch"), -1, S("client-made-id"), S(NULL)), 0);
    CHECK_EQ_INT(sl_coord_check_commit(co, S("nosuch"), 3, S("client-made-id"), S(NULL)), 22);
    CHECK_EQ_INT(sl_coord_delete_group(co, S("g")), 0);
    CHECK_EQ_INT(sl_coord_delete_group(co, S("g")), 69); /* GROUP_ID_NOT_FOUND */
    free(a);
    free(b);
    sl_coord_free(co);
    sl_loop_free(loop);
    sl_os_rmtree(dir);
}

TEST(static_member_restart_keeps_generation) {
    memset(&D, 0, sizeof D);
    char dir[] = "/tmp/sluice-coord-XXXXXX";
    CHECK(mkdtemp(dir));
    sl_loop_t *loop = sl_loop_new();
    sl_coord_t *co = open_coord(loop, dir);
    int tag;
    sl_str_t n[1];
    sl_bytes_t md[1];
    sl_join_args_t a = args("sg", "", "inst-1", n, md);
    sl_member_t *m;
    sl_group_t *g;
    CHECK_EQ_INT(sl_coord_join(co, &a, &tag, &m, &g), -1); /* static: no MEMBER_ID_REQUIRED */
    char *first = sl_xstrdup(m->member_id);
    sl_str_t who[1] = {S(first)};
    sl_bytes_t what[1] = {{(const uint8_t *)"X", 1}};
    sl_sync_args_t s = {S("sg"), S(first), S("inst-1"), 1, 1, who, what};
    CHECK_EQ_INT(sl_coord_sync(co, &s, &tag, &m), -1);
    CHECK_EQ_INT(g->state, SL_GROUP_STABLE);
    /* Restart: same instance id, empty member id, same metadata -> same generation, new id. */
    CHECK_EQ_INT(sl_coord_join(co, &a, &tag, &m, &g), -1);
    CHECK_EQ_INT(g->generation, 1);
    CHECK_EQ_INT(g->state, SL_GROUP_STABLE);
    CHECK(strcmp(m->member_id, first) != 0);
    /* The old id is fenced. */
    CHECK_EQ_INT(sl_coord_heartbeat(co, S("sg"), 1, S(first), S("inst-1")), 82);
    free(first);
    sl_coord_free(co);
    sl_loop_free(loop);
    sl_os_rmtree(dir);
}

TEST(offsets_and_membership_survive_reopen) {
    memset(&D, 0, sizeof D);
    char dir[] = "/tmp/sluice-coord-XXXXXX";
    CHECK(mkdtemp(dir));
    sl_loop_t *loop = sl_loop_new();
    sl_coord_t *co = open_coord(loop, dir);
    int tag;
    char *a = join_new(co, "pg", &tag);
    sl_str_t who[1] = {S(a)};
    sl_bytes_t what[1] = {{(const uint8_t *)"AS", 2}};
    sl_sync_args_t s = {S("pg"), S(a), S(NULL), 1, 1, who, what};
    sl_member_t *m;
    CHECK_EQ_INT(sl_coord_sync(co, &s, &tag, &m), -1);
    CHECK_EQ_INT(sl_coord_commit(co, S("pg"), S("t"), 0, 42, 3, S("meta"), 1000), SL_OK);
    CHECK_EQ_INT(sl_coord_commit(co, S("pg"), S("t"), 1, 7, -1, S(NULL), 1000), SL_OK);
    CHECK_EQ_INT(sl_coord_commit(co, S("pg"), S("t"), 0, 43, 3, S("meta2"), 1001), SL_OK);
    CHECK_EQ_INT(sl_coord_sync_store(co), SL_OK);
    sl_coord_free(co);
    co = open_coord(loop, dir);
    CHECK(co);
    sl_group_t *g = sl_coord_find(co, S("pg"));
    CHECK(g != NULL);
    CHECK_EQ_INT(g->state, SL_GROUP_STABLE);
    CHECK_EQ_INT(g->generation, 1);
    CHECK_EQ_INT(g->n_members, 1);
    CHECK(!strcmp(g->members[0]->member_id, a));
    CHECK_EQ_INT(g->members[0]->assignment_len, 2);
    const sl_offset_entry_t *e = sl_coord_committed(co, g, S("t"), 0);
    CHECK(e && e->c.offset == 43 && !strcmp(e->c.metadata, "meta2"));
    e = sl_coord_committed(co, g, S("t"), 1);
    CHECK(e && e->c.offset == 7 && e->c.metadata == NULL);
    CHECK(sl_coord_committed(co, g, S("t"), 2) == NULL);
    /* A restored member keeps heartbeating without a rebalance. */
    CHECK_EQ_INT(sl_coord_heartbeat(co, S("pg"), 1, S(a), S(NULL)), 0);
    free(a);
    sl_coord_free(co);
    sl_loop_free(loop);
    sl_os_rmtree(dir);
}

TEST(join_rejects_bad_arguments) {
    char dir[] = "/tmp/sluice-coord-XXXXXX";
    CHECK(mkdtemp(dir));
    sl_loop_t *loop = sl_loop_new();
    sl_coord_t *co = open_coord(loop, dir);
    int tag;
    sl_str_t n[1];
    sl_bytes_t md[1];
    sl_member_t *m;
    sl_group_t *g;
    sl_join_args_t a = args("", "", NULL, n, md);
    CHECK_EQ_INT(sl_coord_join(co, &a, &tag, &m, &g), 24); /* INVALID_GROUP_ID */
    a = args("x", "", NULL, n, md);
    a.session_timeout_ms = 10;
    CHECK_EQ_INT(sl_coord_join(co, &a, &tag, &m, &g), 26); /* INVALID_SESSION_TIMEOUT */
    a = args("x", "ghost", NULL, n, md);
    CHECK_EQ_INT(sl_coord_join(co, &a, &tag, &m, &g), 25); /* UNKNOWN_MEMBER_ID */
    sl_coord_free(co);
    sl_loop_free(loop);
    sl_os_rmtree(dir);
}

TEST(offsets_of_empty_groups_expire_after_retention) {
    char dir[] = "/tmp/sluice-coord-XXXXXX";
    CHECK(mkdtemp(dir));
    sl_loop_t *loop = sl_loop_new();
    sl_coord_t *co = open_coord(loop, dir); /* retention 600000 ms */
    int tag;
    CHECK_EQ_INT(sl_coord_commit(co, S("old"), S("t"), 0, 5, -1, S(NULL), 1000), SL_OK);
    char *a = join_new(co, "busy", &tag);
    CHECK(a != NULL);
    CHECK_EQ_INT(sl_coord_commit(co, S("busy"), S("t"), 0, 9, -1, S(NULL), 1000), SL_OK);
    CHECK_EQ_INT(sl_coord_sync_store(co), SL_OK);
    CHECK_EQ_INT(sl_coord_expire_offsets(co, 1000 + 599999), 0); /* not yet */
    CHECK_EQ_INT(sl_coord_expire_offsets(co, 1000 + 600000), 1); /* "old" only: busy has members */
    CHECK(sl_coord_find(co, S("old")) == NULL);
    CHECK(sl_coord_find(co, S("busy")) != NULL);
    sl_coord_free(co);
    co = open_coord(loop, dir); /* the expiry is durable */
    CHECK(sl_coord_find(co, S("old")) == NULL);
    CHECK(sl_coord_committed(co, sl_coord_find(co, S("busy")), S("t"), 0) != NULL);
    free(a);
    sl_coord_free(co);
    sl_loop_free(loop);
    sl_os_rmtree(dir);
}

static void stop_loop(sl_loop_t *loop, uint64_t id, void *data) {
    (void)id;
    (void)data;
    sl_loop_stop(loop);
}

/* Joins or rejoins `member` of group "rt" with a 50 ms rebalance timeout; `req` counts answers. */
static int rejoin(sl_coord_t *co, const char *member, int *req, sl_member_t **m) {
    sl_str_t n[1];
    sl_bytes_t md[1];
    sl_join_args_t a = args("rt", member, NULL, n, md);
    a.rebalance_timeout_ms = 50;
    sl_group_t *g;
    return sl_coord_join(co, &a, req, m, &g);
}

/* The robustness campaign's crash: A and B reach generation 2, A rejoins, B keeps its session but
 * does not rejoin. At the rebalance timeout B is removed and A answered once, with generation 3;
 * no request is answered twice or answered when it is gone. The order of the members decides
 * which path the old code took (crash, or A removed too), so both orders are run. */
static void rebalance_timeout_drops_silent_member(int *sl_failed_, bool leader_rejoins) {
    memset(&D, 0, sizeof D);
    char dir[] = "/tmp/sluice-coord-XXXXXX";
    CHECK(mkdtemp(dir));
    sl_loop_t *loop = sl_loop_new();
    sl_coord_t *co = open_coord(loop, dir);
    CHECK(co);
    int ra = 0, rb = 0, ra2 = 0, rlast = 0;
    sl_member_t *m;
    char *a = join_new_rt(co, "rt", &ra, 50);
    CHECK(a != NULL);
    CHECK_EQ_INT(ra, 1); /* generation 1: A alone */
    sl_group_t *g = sl_coord_find(co, S("rt"));
    char *b = join_new_rt(co, "rt", &rb, 50);
    CHECK(b != NULL);
    CHECK_EQ_INT(rejoin(co, a, &ra2, &m), -1); /* A rejoins: generation 2 with A and B */
    CHECK_EQ_INT(g->generation, 2);
    CHECK_EQ_INT(rb, 1);
    CHECK_EQ_INT(ra2, 1);
    CHECK_EQ_INT(g->n_members, 2);
    /* The rejoining member opens a new rebalance the other one never answers. */
    const char *rejoiner = leader_rejoins ? g->leader : (strcmp(g->leader, a) ? a : b);
    bool is_a = !strcmp(rejoiner, a);
    CHECK_EQ_INT(rejoin(co, rejoiner, &rlast, &m), -1);
    if (!leader_rejoins) {
        /* A follower resending unchanged metadata gets the current generation back at once. */
        CHECK_EQ_INT(rlast, 1);
        CHECK_EQ_INT(g->state, SL_GROUP_COMPLETING_REBALANCE);
        rlast = 0;
        sl_str_t n[1];
        sl_bytes_t md[1];
        sl_join_args_t ch = args("rt", rejoiner, NULL, n, md);
        md[0] = (sl_bytes_t){(const uint8_t *)"new-meta", 8}; /* changed: forces a rebalance */
        ch.rebalance_timeout_ms = 50;
        sl_group_t *gg;
        CHECK_EQ_INT(sl_coord_join(co, &ch, &rlast, &m, &gg), -1);
    }
    CHECK_EQ_INT(g->state, SL_GROUP_PREPARING_REBALANCE);
    /* The other member keeps its session alive but never rejoins. */
    const char *silent = is_a ? b : a;
    CHECK_EQ_INT(sl_coord_heartbeat(co, S("rt"), 2, S(silent), S(NULL)), 27);
    (void)sl_loop_timer(loop, 300, stop_loop, NULL);
    CHECK(sl_loop_run(loop) == SL_OK);
    CHECK_EQ_INT(D.null_reqs, 0);
    CHECK_EQ_INT(rlast, 1); /* answered exactly once, with the new generation */
    CHECK_EQ_INT(D.last_join_err, 0);
    CHECK_EQ_INT(g->generation, 3);
    CHECK_EQ_INT(g->n_members, 1);
    CHECK(!strcmp(g->members[0]->member_id, rejoiner));
    CHECK(g->leader && !strcmp(g->leader, rejoiner));
    CHECK_EQ_INT(g->state, SL_GROUP_COMPLETING_REBALANCE);
    CHECK_EQ_INT(ra + rb + ra2, 3); /* nothing earlier answered again */
    CHECK_EQ_INT(sl_coord_heartbeat(co, S("rt"), 3, S(silent), S(NULL)), 25);
    free(a);
    free(b);
    sl_coord_free(co);
    sl_loop_free(loop);
    sl_os_rmtree(dir);
}

TEST(rebalance_timeout_leader_rejoins_follower_silent) {
    rebalance_timeout_drops_silent_member(sl_failed_, true);
}

TEST(rebalance_timeout_follower_rejoins_leader_silent) {
    rebalance_timeout_drops_silent_member(sl_failed_, false);
}

/* Every member silent at the rebalance timeout: the group ends Empty, one generation on, and the
 * parked join of the member that did come back is answered once. */
TEST(rebalance_timeout_with_no_rejoin_empties_group) {
    memset(&D, 0, sizeof D);
    char dir[] = "/tmp/sluice-coord-XXXXXX";
    CHECK(mkdtemp(dir));
    sl_loop_t *loop = sl_loop_new();
    sl_coord_t *co = open_coord(loop, dir);
    CHECK(co);
    int ra = 0;
    sl_member_t *m;
    char *a = join_new_rt(co, "rt", &ra, 50);
    CHECK(a != NULL);
    sl_group_t *g = sl_coord_find(co, S("rt"));
    sl_str_t who[1] = {S(a)};
    sl_bytes_t what[1] = {{(const uint8_t *)"X", 1}};
    sl_sync_args_t s = {S("rt"), S(a), S(NULL), 1, 1, who, what};
    int rs = 0;
    CHECK_EQ_INT(sl_coord_sync(co, &s, &rs, &m), -1);
    CHECK_EQ_INT(g->state, SL_GROUP_STABLE);
    /* A MEMBER_ID_REQUIRED newcomer never completes its join; A must rejoin and does not. */
    int rb = 0;
    char *b = join_new_rt(co, "rt", &rb, 50);
    CHECK(b != NULL);
    CHECK_EQ_INT(g->state, SL_GROUP_PREPARING_REBALANCE);
    sl_coord_delete_group(co, S("nothing"));                     /* unrelated: no effect */
    CHECK_EQ_INT(sl_coord_leave(co, S("rt"), S(b), S(NULL)), 0); /* b leaves: answered once */
    CHECK_EQ_INT(rb, 1);
    (void)sl_loop_timer(loop, 300, stop_loop, NULL);
    CHECK(sl_loop_run(loop) == SL_OK);
    CHECK_EQ_INT(D.null_reqs, 0);
    CHECK_EQ_INT(g->state, SL_GROUP_EMPTY);
    CHECK_EQ_INT(g->n_members, 0);
    CHECK_EQ_INT(g->generation, 2);
    CHECK_EQ_INT(ra, 1);
    CHECK_EQ_INT(rs, 1);
    free(a);
    free(b);
    sl_coord_free(co);
    sl_loop_free(loop);
    sl_os_rmtree(dir);
}

/* A static member restarted while the group completes a rebalance: the leader's assignment names
 * the member id it replaces, which no longer exists, so the group must rebalance (as Kafka does)
 * rather than hand the restarted member the current generation, whose assignment then gives it
 * nothing and leaves its partitions with no owner. A restart with changed metadata (a
 * cooperative-sticky member owns nothing after a restart) rebalances too. */
TEST(static_member_restart_during_completing_rebalance) {
    memset(&D, 0, sizeof D);
    char dir[] = "/tmp/sluice-coord-XXXXXX";
    CHECK(mkdtemp(dir));
    sl_loop_t *loop = sl_loop_new();
    sl_coord_t *co = open_coord(loop, dir);
    int tag;
    sl_str_t nb[1], na[1];
    sl_bytes_t mb[1], ma[1];
    sl_join_args_t b = args("cg", "", "ib", nb, mb);
    sl_join_args_t a = args("cg", "", "ia", na, ma);
    sl_member_t *m;
    sl_group_t *g;
    CHECK_EQ_INT(sl_coord_join(co, &b, &tag, &m, &g), -1); /* generation 1, b leads */
    char *bid = sl_xstrdup(m->member_id);
    CHECK_EQ_INT(sl_coord_join(co, &a, &tag, &m, &g), -1);
    char *aid = sl_xstrdup(m->member_id);
    b.member_id = S(bid);
    CHECK_EQ_INT(sl_coord_join(co, &b, &tag, &m, &g), -1); /* b rejoins: generation 2 */
    CHECK_EQ_INT(g->generation, 2);
    CHECK_EQ_INT(g->state, SL_GROUP_COMPLETING_REBALANCE);
    /* a restarts before the leader's SyncGroup. */
    CHECK_EQ_INT(sl_coord_join(co, &a, &tag, &m, &g), -1);
    CHECK(strcmp(m->member_id, aid) != 0);
    CHECK_EQ_INT(g->state, SL_GROUP_PREPARING_REBALANCE);
    free(aid);
    /* Stable again, then a restart with other metadata: a rebalance, not the old assignment. */
    char *a2 = sl_xstrdup(m->member_id);
    CHECK_EQ_INT(sl_coord_join(co, &b, &tag, &m, &g), -1);
    CHECK_EQ_INT(g->state, SL_GROUP_COMPLETING_REBALANCE);
    sl_str_t who[2] = {S(bid), S(a2)};
    sl_bytes_t what[2] = {{(const uint8_t *)"B", 1}, {(const uint8_t *)"A", 1}};
    sl_sync_args_t s = {S("cg"), S(bid), S("ib"), g->generation, 2, who, what};
    CHECK_EQ_INT(sl_coord_sync(co, &s, &tag, &m), -1);
    CHECK_EQ_INT(g->state, SL_GROUP_STABLE);
    ma[0] = (sl_bytes_t){(const uint8_t *)"other", 5};
    CHECK_EQ_INT(sl_coord_join(co, &a, &tag, &m, &g), -1);
    CHECK_EQ_INT(g->state, SL_GROUP_PREPARING_REBALANCE);
    free(a2);
    free(bid);
    sl_coord_free(co);
    sl_loop_free(loop);
    sl_os_rmtree(dir);
}

/* Issue 14 (librdkafka's 0081): DeleteGroups right after the last static member's session ended
 * found the group non-empty, because the member's session timer had not run yet. With the
 * clock passed in: one millisecond before the deadline the member stays and the group cannot be
 * deleted; at the deadline it is expired on demand (its timer never ran: the loop is not run
 * here), the group is Empty, and the deletion succeeds. */
TEST(expired_static_member_does_not_block_delete) {
    memset(&D, 0, sizeof D);
    char dir[] = "/tmp/sluice-coord-XXXXXX";
    CHECK(mkdtemp(dir));
    sl_loop_t *loop = sl_loop_new();
    sl_coord_t *co = open_coord(loop, dir);
    int tag;
    sl_str_t n[1];
    sl_bytes_t md[1];
    sl_join_args_t a = args("eg", "", "inst-1", n, md);
    a.session_timeout_ms = 1000;
    sl_member_t *m;
    sl_group_t *g;
    CHECK_EQ_INT(sl_coord_join(co, &a, &tag, &m, &g), -1);
    char *id = sl_xstrdup(m->member_id);
    sl_str_t who[1] = {S(id)};
    sl_bytes_t what[1] = {{(const uint8_t *)"X", 1}};
    sl_sync_args_t s = {S("eg"), S(id), S("inst-1"), 1, 1, who, what};
    CHECK_EQ_INT(sl_coord_sync(co, &s, &tag, &m), -1);
    CHECK_EQ_INT(g->state, SL_GROUP_STABLE);
    uint64_t deadline = g->members[0]->deadline_ms;
    CHECK_EQ_INT(sl_coord_expire_due(co, g, deadline - 1), 0);
    CHECK_EQ_INT(g->n_members, 1);
    CHECK_EQ_INT(sl_coord_delete_group(co, S("eg")), 68); /* NON_EMPTY_GROUP */
    CHECK_EQ_INT(sl_coord_expire_due(co, g, deadline), 1);
    CHECK_EQ_INT(g->n_members, 0);
    CHECK_EQ_INT(g->state, SL_GROUP_EMPTY);
    CHECK_EQ_INT(sl_coord_heartbeat(co, S("eg"), 1, S(id), S("inst-1")), 25); /* UNKNOWN_MEMBER */
    CHECK_EQ_INT(sl_coord_delete_group(co, S("eg")), 0);
    CHECK(sl_coord_find(co, S("eg")) == NULL);
    CHECK_EQ_INT(D.null_reqs, 0);
    free(id);
    sl_coord_free(co);
    sl_loop_free(loop);
    sl_os_rmtree(dir);
}

/* A member removed on demand can complete a rebalance that waited for it: the other member's
 * parked JoinGroup is answered once, and only the due member goes. */
TEST(expire_due_completes_a_waiting_rebalance) {
    memset(&D, 0, sizeof D);
    char dir[] = "/tmp/sluice-coord-XXXXXX";
    CHECK(mkdtemp(dir));
    sl_loop_t *loop = sl_loop_new();
    sl_coord_t *co = open_coord(loop, dir);
    int t1 = 0, t2 = 0;
    char *a = join_new(co, "wg", &t1);
    CHECK(a != NULL);
    sl_group_t *g = sl_coord_find(co, S("wg"));
    CHECK_EQ_INT(g->state, SL_GROUP_COMPLETING_REBALANCE);
    /* A second member joins: a rebalance that waits for the first one to rejoin. */
    char *b = join_new(co, "wg", &t2);
    CHECK(b != NULL);
    CHECK_EQ_INT(g->state, SL_GROUP_PREPARING_REBALANCE);
    int joins = D.joins;
    sl_member_t *ma = !strcmp(g->members[0]->member_id, a) ? g->members[0] : g->members[1];
    sl_member_t *mb = ma == g->members[0] ? g->members[1] : g->members[0];
    ma->deadline_ms = mb->deadline_ms - 5000; /* a stopped heartbeating 5 s before b */
    uint64_t now = ma->deadline_ms;
    CHECK_EQ_INT(sl_coord_expire_due(co, g, now), 1);
    CHECK_EQ_INT(g->n_members, 1);
    CHECK(!strcmp(g->members[0]->member_id, b));
    CHECK_EQ_INT(g->state, SL_GROUP_COMPLETING_REBALANCE); /* b's join completed */
    CHECK_EQ_INT(D.joins, joins + 1);
    CHECK_EQ_INT(t2, 1); /* b's parked join, answered exactly once */
    CHECK_EQ_INT(D.null_reqs, 0);
    free(a);
    free(b);
    sl_coord_free(co);
    sl_loop_free(loop);
    sl_os_rmtree(dir);
}

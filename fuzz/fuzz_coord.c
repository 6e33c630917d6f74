/* fuzz_coord.c -- libFuzzer target: the group and transaction coordinators driven by a script of
 * client operations interleaved with the passing of time.
 *
 * A frame-level fuzzer never lets time pass, so it cannot reach what happens when a rebalance
 * or session timeout fires while requests are parked (robustness.md, defect 1). Here the input is
 * a script run on a fresh broker with a simulated clock (env.h). Four members (each on its
 * own connection) and two groups; every operation is one opcode byte plus argument bytes, a
 * missing byte reads as 0:
 *
 *   JOIN m      JoinGroup v1/v3/v4/v5 from member slot m into group g, session and rebalance
 *               timeouts from small tables, optionally static (group.instance.id) or as a new
 *               member (empty member id)
 *   SYNC m      SyncGroup; the leader (as its last JoinGroup answer said) assigns every member
 *   HEARTBEAT m, LEAVE m (v0..v3), COMMIT m (OffsetCommit v2/v7, member or simple commit)
 *   ADVANCE     the clock moves by 0 ms .. 60 s and due timers fire (sessions, rebalances, ticks)
 *   CLOSE m     the member's connection closes (its session lives on until it expires)
 *   DESCRIBE    ListGroups and DescribeGroups of both groups, mid-rebalance or not
 *   TXN m       InitProducerId / AddPartitionsToTxn / AddOffsetsToTxn / EndTxn for the member's
 *               transactional id
 *   DELETE      DeleteGroups of one group
 *   STALE m     Heartbeat or SyncGroup with a generation off by one
 *
 * After each operation the broker settles as its loop would (syncs done, durable answers sent)
 * and every response is read back. Checked, besides the sanitizers:
 *   - every response answers the oldest unanswered request of its connection (once, in order);
 *   - a successful JoinGroup names a member id and a generation > 0, and the leader's member list
 *     includes the leader;
 *   - a group that is Stable or CompletingRebalance has its leader among its members;
 *   - at the end, with no more heartbeats and the clock run 10 minutes on, every request on an
 *     open connection has been answered (nothing parked forever).
 * Seeds: fuzz/corpus/fuzz_coord/, written by fuzz/gen_coord_seeds.py (the scenarios of the group
 * and transaction integration tests, and the rebalance-timeout crash of defect 1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/codec.h"
#include "env.h"
#include "group/coordinator.h"

#define N_SLOTS  4
#define N_GROUPS 2
#define MAX_ID   128

enum {
    OP_JOIN,
    OP_SYNC,
    OP_HEARTBEAT,
    OP_LEAVE,
    OP_COMMIT,
    OP_ADVANCE,
    OP_CLOSE,
    OP_DESCRIBE,
    OP_TXN,
    OP_DELETE,
    OP_STALE,
    N_OPS
};

enum {
    API_PRODUCE = 0,
    API_OFFSET_COMMIT = 8,
    API_JOIN = 11,
    API_HEARTBEAT = 12,
    API_LEAVE = 13,
    API_SYNC = 14,
    API_DESCRIBE = 15,
    API_LIST = 16,
    API_INIT_PID = 22,
    API_ADD_PARTS = 24,
    API_ADD_OFFSETS = 25,
    API_END_TXN = 26,
    API_DELETE_GROUPS = 42
};

typedef struct slot {
    fz_client_t client;
    int group;              /* the group the slot joined last, or -1 */
    char member_id[MAX_ID]; /* as the broker named it ("" before the first answer) */
    int32_t generation;
    bool leader;
    int n_peers; /* the leader's member list from its JoinGroup answer */
    char peers[N_SLOTS * 2][MAX_ID];
    int64_t pid; /* from InitProducerId, -1 before */
    int16_t epoch;
    int32_t corr;
} slot_t;

static const char *const group_names[N_GROUPS] = {"fz-g0", "fz-g1"};
static const int32_t session_ms[4] = {6000, 10000, 30000, 45000};
static const int32_t rebalance_ms[4] = {1000, 2000, 5000, 30000};
static const uint32_t advance_ms[16] = {0,    1,    10,   100,  500,  999,   1000,  1001,
                                        1999, 2000, 3000, 5000, 6000, 10000, 30000, 60000};
static const int16_t join_versions[4] = {1, 3, 4, 5};

static sl_broker_t *broker;
static slot_t slots[N_SLOTS];

/* ---- the script ---- */

typedef struct script {
    const uint8_t *p, *end;
} script_t;

static uint8_t next(script_t *s) {
    return s->p < s->end ? *s->p++ : 0;
}

/* ---- responses ---- */

static sl_str_t rd_str(sl_reader_t *rd) {
    return sl_rd_str(rd, false);
}

static void copy_id(char *dst, sl_str_t s) {
    size_t n = s.len < MAX_ID - 1 ? s.len : MAX_ID - 1;
    memcpy(dst, s.p ? s.p : "", n);
    dst[n] = '\0';
}

static void on_join(slot_t *sl, int16_t v, sl_reader_t *rd) {
    if (v >= 2) {
        (void)sl_rd_i32(rd);
    }
    int16_t err = sl_rd_i16(rd);
    int32_t gen = sl_rd_i32(rd);
    (void)rd_str(rd); /* protocol */
    sl_str_t leader = rd_str(rd);
    sl_str_t member = rd_str(rd);
    int32_t n = sl_rd_i32(rd);
    FZ_CHECK(!rd->err, "JoinGroup v%d answer does not parse", v);
    if (err == 79) { /* MEMBER_ID_REQUIRED: rejoin with this id */
        FZ_CHECK(member.len > 0, "MEMBER_ID_REQUIRED without a member id");
        copy_id(sl->member_id, member);
        return;
    }
    if (err) {
        if (err == 25) { /* UNKNOWN_MEMBER_ID: start over as a new member */
            sl->member_id[0] = '\0';
        }
        sl->leader = false;
        return;
    }
    FZ_CHECK(member.len > 0 && gen > 0, "JoinGroup success with member '%.*s' generation %d",
             (int)member.len, member.p, gen);
    copy_id(sl->member_id, member);
    sl->generation = gen;
    sl->leader = leader.len == member.len && memcmp(leader.p, member.p, member.len) == 0;
    FZ_CHECK(sl->leader || n == 0, "a follower got the member list (%d members)", n);
    if (!sl->leader) {
        return;
    }
    FZ_CHECK(n >= 1, "the leader got %d members", n);
    bool self = false;
    sl->n_peers = 0;
    for (int32_t i = 0; i < n && !rd->err; i++) {
        sl_str_t id = rd_str(rd);
        if (v >= 5) {
            (void)rd_str(rd);
        }
        (void)sl_rd_bytes(rd, false);
        self = self || (id.len == member.len && memcmp(id.p, member.p, id.len) == 0);
        if (sl->n_peers < (int)SL_ARRAY_LEN(sl->peers)) {
            copy_id(sl->peers[sl->n_peers++], id);
        }
    }
    FZ_CHECK(!rd->err, "JoinGroup v%d member list does not parse", v);
    FZ_CHECK(self, "the leader is not in its own member list");
}

static void on_response(void *opaque, int16_t api, int16_t v, int tag, const uint8_t *body,
                        size_t len) {
    (void)tag;
    slot_t *sl = opaque;
    sl_reader_t rd = sl_reader_init(body, len);
    if (api == API_JOIN) {
        on_join(sl, v, &rd);
    } else if (api == API_INIT_PID) {
        (void)sl_rd_i32(&rd);
        int16_t err = sl_rd_i16(&rd);
        int64_t pid = sl_rd_i64(&rd);
        int16_t epoch = sl_rd_i16(&rd);
        FZ_CHECK(!rd.err, "InitProducerId answer does not parse");
        if (!err) {
            sl->pid = pid;
            sl->epoch = epoch;
        }
    } else if (api == API_HEARTBEAT || api == API_SYNC) {
        if (v >= 1) {
            (void)sl_rd_i32(&rd);
        }
        int16_t err = sl_rd_i16(&rd);
        FZ_CHECK(!rd.err, "answer to api %d does not parse", api);
        if (err == 25) {
            sl->member_id[0] = '\0';
        }
    }
}

/* ---- requests ---- */

static slot_t *slot_of(uint8_t b) {
    slot_t *sl = &slots[b % N_SLOTS];
    if (!fz_client_alive(&sl->client)) {
        fz_client_open(&sl->client, broker, true, on_response, sl);
    }
    return sl;
}

/* Starts a request frame: the header (client id "fz") in `buf`. */
static sl_writer_t begin(sl_buf_t *buf, slot_t *sl, int16_t api, int16_t v) {
    sl_writer_t wr = {buf};
    sl_wr_i16(&wr, api);
    sl_wr_i16(&wr, v);
    sl_wr_i32(&wr, ++sl->corr);
    sl_wr_strz(&wr, false, "fz");
    return wr;
}

static void send(slot_t *sl, sl_buf_t *buf) {
    (void)fz_client_send(&sl->client, broker, buf->data, buf->len, 0);
    sl_buf_fini(buf);
}

static const char *instance_of(slot_t *sl) {
    static const char *const ids[N_SLOTS] = {"fz-i0", "fz-i1", "fz-i2", "fz-i3"};
    return ids[sl - slots];
}

static void op_join(script_t *s) {
    uint8_t a = next(s), t = next(s);
    slot_t *sl = slot_of(a);
    int group = (a >> 2) & 1;
    bool is_static = a & 8;
    int16_t v = join_versions[(a >> 4) & 3];
    if ((a & 0x40) || group != sl->group) {
        sl->member_id[0] = '\0'; /* a new member */
    }
    sl->group = group;
    sl_buf_t buf = {0};
    sl_writer_t wr = begin(&buf, sl, API_JOIN, v);
    sl_wr_strz(&wr, false, group_names[group]);
    sl_wr_i32(&wr, session_ms[t & 3]);
    if (v >= 1) {
        sl_wr_i32(&wr, rebalance_ms[(t >> 2) & 3]);
    }
    sl_wr_strz(&wr, false, sl->member_id);
    if (v >= 5) {
        sl_wr_strz(&wr, false, is_static ? instance_of(sl) : NULL);
    }
    sl_wr_strz(&wr, false, "consumer");
    bool two = t & 0x10;
    sl_wr_i32(&wr, two ? 2 : 1);
    sl_wr_strz(&wr, false, (t & 0x20) ? "roundrobin" : "range");
    sl_wr_bytes(&wr, false, (sl_bytes_t){(const uint8_t *)"\0\1\0\0\0\1\0\2fz\0\0\0\0", 14});
    if (two) {
        sl_wr_strz(&wr, false, "cooperative-sticky");
        sl_wr_bytes(&wr, false, (sl_bytes_t){(const uint8_t *)"", 0});
    }
    send(sl, &buf);
}

static void write_sync(slot_t *sl, int32_t generation) {
    sl_buf_t buf = {0};
    int16_t v = 3;
    sl_writer_t wr = begin(&buf, sl, API_SYNC, v);
    sl_wr_strz(&wr, false, group_names[sl->group < 0 ? 0 : sl->group]);
    sl_wr_i32(&wr, generation);
    sl_wr_strz(&wr, false, sl->member_id);
    sl_wr_strz(&wr, false, NULL);
    int n = sl->leader ? sl->n_peers : 0;
    sl_wr_i32(&wr, n);
    for (int i = 0; i < n; i++) {
        sl_wr_strz(&wr, false, sl->peers[i]);
        sl_wr_bytes(&wr, false,
                    (sl_bytes_t){(const uint8_t *)"\0\1\0\0\0\1\0\2fz\0\0\0\1\0\0\0\0", 18});
    }
    send(sl, &buf);
}

static void write_heartbeat(slot_t *sl, int32_t generation, int16_t v) {
    sl_buf_t buf = {0};
    sl_writer_t wr = begin(&buf, sl, API_HEARTBEAT, v);
    sl_wr_strz(&wr, false, group_names[sl->group < 0 ? 0 : sl->group]);
    sl_wr_i32(&wr, generation);
    sl_wr_strz(&wr, false, sl->member_id);
    if (v >= 3) {
        sl_wr_strz(&wr, false, NULL);
    }
    send(sl, &buf);
}

static void op_leave(script_t *s) {
    uint8_t a = next(s);
    slot_t *sl = slot_of(a);
    int16_t v = (a >> 2) & 3;
    sl_buf_t buf = {0};
    sl_writer_t wr = begin(&buf, sl, API_LEAVE, v);
    sl_wr_strz(&wr, false, group_names[sl->group < 0 ? 0 : sl->group]);
    if (v < 3) {
        sl_wr_strz(&wr, false, sl->member_id);
    } else {
        bool by_instance = a & 0x10;
        sl_wr_i32(&wr, 1);
        sl_wr_strz(&wr, false, by_instance ? "" : sl->member_id);
        sl_wr_strz(&wr, false, by_instance ? instance_of(sl) : NULL);
    }
    send(sl, &buf);
}

static void op_commit(script_t *s) {
    uint8_t a = next(s), o = next(s);
    slot_t *sl = slot_of(a);
    int16_t v = (a & 4) ? 7 : 2;
    bool simple = a & 8;
    sl_buf_t buf = {0};
    sl_writer_t wr = begin(&buf, sl, API_OFFSET_COMMIT, v);
    sl_wr_strz(&wr, false, group_names[(a >> 4) & 1]);
    sl_wr_i32(&wr, simple ? -1 : sl->generation);
    sl_wr_strz(&wr, false, simple ? "" : sl->member_id);
    if (v >= 7) {
        sl_wr_strz(&wr, false, NULL);
    }
    if (v >= 2 && v <= 4) {
        sl_wr_i64(&wr, -1);
    }
    sl_wr_i32(&wr, 1);
    sl_wr_strz(&wr, false, "fz");
    sl_wr_i32(&wr, 1);
    sl_wr_i32(&wr, (a >> 5) & 3); /* partition 0..3 of a 2-partition topic */
    sl_wr_i64(&wr, (int64_t)o * 7);
    if (v >= 6) {
        sl_wr_i32(&wr, -1);
    }
    sl_wr_strz(&wr, false, (a & 0x80) ? "meta" : NULL);
    send(sl, &buf);
}

static void op_describe(script_t *s) {
    uint8_t a = next(s);
    slot_t *sl = slot_of(a);
    sl_buf_t buf = {0};
    (void)begin(&buf, sl, API_LIST, 0);
    send(sl, &buf);
    int16_t v = (a >> 2) & 3;
    sl_writer_t wr = begin(&buf, sl, API_DESCRIBE, v);
    sl_wr_i32(&wr, N_GROUPS);
    for (int i = 0; i < N_GROUPS; i++) {
        sl_wr_strz(&wr, false, group_names[i]);
    }
    if (v >= 3) {
        sl_wr_bool(&wr, true);
    }
    send(sl, &buf);
}

static void op_delete(script_t *s) {
    uint8_t a = next(s);
    slot_t *sl = slot_of(a);
    sl_buf_t buf = {0};
    sl_writer_t wr = begin(&buf, sl, API_DELETE_GROUPS, 0);
    sl_wr_i32(&wr, 1);
    sl_wr_strz(&wr, false, group_names[(a >> 2) & 1]);
    send(sl, &buf);
}

static void op_txn(script_t *s) {
    uint8_t a = next(s);
    slot_t *sl = slot_of(a);
    static const char *const txn_ids[N_SLOTS] = {"fz-t0", "fz-t1", "fz-t2", "fz-t3"};
    const char *id = txn_ids[sl - slots];
    sl_buf_t buf = {0};
    sl_writer_t wr;
    switch ((a >> 2) & 3) {
    case 0:
        wr = begin(&buf, sl, API_INIT_PID, 1);
        sl_wr_strz(&wr, false, id);
        sl_wr_i32(&wr, (a & 0x10) ? 1000 : 60000); /* transaction.timeout.ms */
        break;
    case 1:
        wr = begin(&buf, sl, API_ADD_PARTS, 1);
        sl_wr_strz(&wr, false, id);
        sl_wr_i64(&wr, sl->pid);
        sl_wr_i16(&wr, sl->epoch);
        sl_wr_i32(&wr, 1);
        sl_wr_strz(&wr, false, "fz");
        sl_wr_i32(&wr, 1);
        sl_wr_i32(&wr, (a >> 4) & 1);
        break;
    case 2:
        wr = begin(&buf, sl, API_ADD_OFFSETS, 1);
        sl_wr_strz(&wr, false, id);
        sl_wr_i64(&wr, sl->pid);
        sl_wr_i16(&wr, sl->epoch);
        sl_wr_strz(&wr, false, group_names[(a >> 4) & 1]);
        break;
    default:
        wr = begin(&buf, sl, API_END_TXN, 1);
        sl_wr_strz(&wr, false, id);
        sl_wr_i64(&wr, sl->pid);
        sl_wr_i16(&wr, sl->epoch);
        sl_wr_bool(&wr, a & 0x10);
        break;
    }
    send(sl, &buf);
}

static uint8_t run_op(script_t *s) {
    uint8_t op = next(s) % N_OPS;
    switch (op) {
    case OP_JOIN:
        op_join(s);
        break;
    case OP_SYNC: {
        slot_t *sl = slot_of(next(s));
        write_sync(sl, sl->generation);
        break;
    }
    case OP_HEARTBEAT: {
        uint8_t a = next(s);
        slot_t *sl = slot_of(a);
        write_heartbeat(sl, sl->generation, (a >> 2) & 3);
        break;
    }
    case OP_LEAVE:
        op_leave(s);
        break;
    case OP_COMMIT:
        op_commit(s);
        break;
    case OP_ADVANCE:
        fz_advance(broker, advance_ms[next(s) % 16]);
        break;
    case OP_CLOSE: {
        slot_t *sl = &slots[next(s) % N_SLOTS];
        fz_client_close(&sl->client);
        break;
    }
    case OP_DESCRIBE:
        op_describe(s);
        break;
    case OP_TXN:
        op_txn(s);
        break;
    case OP_DELETE:
        op_delete(s);
        break;
    case OP_STALE: {
        uint8_t a = next(s);
        slot_t *sl = slot_of(a);
        int32_t gen = sl->generation + ((a & 4) ? 1 : -1);
        if (a & 8) {
            write_sync(sl, gen);
        } else {
            write_heartbeat(sl, gen, 3);
        }
        break;
    }
    }
    return op;
}

/* ---- invariants over the coordinator's state ---- */

static void check_group(sl_group_t *g, void *opaque) {
    (void)opaque;
    if (g->state != SL_GROUP_STABLE && g->state != SL_GROUP_COMPLETING_REBALANCE) {
        return;
    }
    FZ_CHECK(g->leader != NULL, "group %s is %s without a leader", g->id,
             sl_group_state_name(g->state));
    bool found = false;
    for (int i = 0; i < g->n_members; i++) {
        found = found || !strcmp(g->members[i]->member_id, g->leader);
    }
    FZ_CHECK(found, "group %s is %s and its leader %s is not a member", g->id,
             sl_group_state_name(g->state), g->leader);
}

/* FUZZ_TRACE=1: one line per operation with what each member knows (to read a script). */
static void trace(uint8_t op) {
    static const char *const names[N_OPS] = {"join",   "sync",    "heartbeat", "leave",
                                             "commit", "advance", "close",     "describe",
                                             "txn",    "delete",  "stale"};
    static int on = -1;
    if (on < 0) {
        on = getenv("FUZZ_TRACE") != NULL;
    }
    if (!on) {
        return;
    }
    fprintf(stderr, "%-9s t=%llu", names[op], (unsigned long long)sl_mono_ms());
    for (int i = 0; i < N_SLOTS; i++) {
        const slot_t *sl = &slots[i];
        fprintf(stderr, " | m%d g%d gen=%d%s%s pend=%zu", i, sl->group, sl->generation,
                sl->leader ? " leader" : "", sl->member_id[0] ? " id" : "", sl->client.n_pending);
    }
    fputc('\n', stderr);
}

static void settle(void) {
    fz_settle(broker, false);
    for (int i = 0; i < N_SLOTS; i++) {
        fz_client_drain(&slots[i].client);
    }
    sl_coord_each(broker->coord, check_group, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const sets[] = {"group.min.session.timeout.ms=6000",
                                       "group.max.session.timeout.ms=45000",
                                       "transaction.max.timeout.ms=60000", NULL};
    broker = fz_broker_start(sets);
    char err[SL_ERRLEN];
    FZ_CHECK(sl_topic_create(broker, (sl_str_t){"fz", 2}, 2, NULL, 0, false, err) == 0,
             "create topic: %s", err);
    for (int i = 0; i < N_SLOTS; i++) {
        memset(&slots[i], 0, sizeof slots[i]);
        slots[i].client.peer = -1;
        slots[i].group = -1;
        slots[i].pid = -1;
    }
    script_t s = {data, data + size};
    for (int ops = 0; s.p < s.end && ops < 256; ops++) {
        uint8_t op = run_op(&s);
        settle();
        trace(op);
    }
    /* No more heartbeats: every session ends, so every parked request must be answered. */
    for (int i = 0; i < 60; i++) {
        fz_advance(broker, 10000);
        settle();
    }
    for (int i = 0; i < N_SLOTS; i++) {
        fz_client_t *c = &slots[i].client;
        FZ_CHECK(c->n_pending == 0, "member %d: api %d corr=%d never answered", i,
                 c->pending[0].api_key, c->pending[0].corr);
        fz_client_close(c);
        free(c->in);
    }
    fz_broker_stop(broker);
    broker = NULL;
    return 0;
}

/* test_txn_coord.c -- the transaction coordinator's state machine, durability and recovery,
 * driven through its API with fake partitions behind the hooks. */
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "proto/kerr.h"
#include "storage/batch.h"
#include "storage_util.h"
#include "txn/txn_coord.h"

/* Fake partitions: which producer has a transaction open, the markers written, durability. */
typedef struct fake {
    int64_t open_pid[8]; /* per partition of topic "t": pid with an open txn, or -1 */
    int markers[8][2];   /* per partition: aborts, commits */
    int16_t marker_epoch[8];
    int64_t next_offset;
    int64_t durable_below;
    int offset_commits;
    int64_t committed_offset;
    uint64_t offsets_pos, offsets_durable; /* the fake offsets store's appended / durable */
    int completed_commits, completed_aborts;
    int64_t next_pid;
} fake_t;

static int f_write_marker(void *opaque, const char *topic, int32_t partition, int64_t pid,
                          int16_t epoch, int type, int64_t *offset_out) {
    fake_t *f = opaque;
    *offset_out = -1;
    if (strcmp(topic, "t") || partition < 0 || partition >= 8 || f->open_pid[partition] != pid) {
        return KERR_NONE;
    }
    f->open_pid[partition] = -1;
    f->markers[partition][type]++;
    f->marker_epoch[partition] = epoch;
    *offset_out = f->next_offset++;
    return KERR_NONE;
}

static bool f_durable(void *opaque, const char *topic, int32_t partition, int64_t offset) {
    (void)topic;
    (void)partition;
    return offset < ((fake_t *)opaque)->durable_below;
}

static int f_commit_offsets(void *opaque, const sl_txn_t *t, uint64_t *pos_out) {
    fake_t *f = opaque;
    f->offset_commits++;
    f->committed_offset = t->n_offsets ? t->offsets[0].offset : -1;
    *pos_out = ++f->offsets_pos;
    return KERR_NONE;
}

static bool f_offsets_durable(void *opaque, uint64_t pos) {
    return pos <= ((fake_t *)opaque)->offsets_durable;
}

static int f_alloc_pid(void *opaque, int64_t *pid_out) {
    *pid_out = ((fake_t *)opaque)->next_pid++;
    return KERR_NONE;
}

static void f_completed(void *opaque, const sl_txn_t *t, bool commit, uint64_t latency_us) {
    (void)t;
    (void)latency_us;
    fake_t *f = opaque;
    if (commit) {
        f->completed_commits++;
    } else {
        f->completed_aborts++;
    }
}

static sl_txn_coord_t *open_coord(const char *dir, fake_t *f) {
    sl_txn_hooks_t h = {f_write_marker, f_durable, f_commit_offsets, f_offsets_durable, f_alloc_pid,
                        f_completed,    f};
    char err[SL_ERRLEN];
    sl_txn_coord_t *tc = sl_txn_coord_new(dir, 60000, &h, err);
    return tc;
}

static void fake_init(fake_t *f) {
    memset(f, 0, sizeof *f);
    for (int i = 0; i < 8; i++) {
        f->open_pid[i] = -1;
    }
    f->next_pid = 1000;
    f->durable_below = 0;
}

/* A fresh directory, fake partitions and a coordinator on them. */
static sl_txn_coord_t *setup(char **dir, fake_t *f) {
    *dir = tmpdir();
    fake_init(f);
    return open_coord(*dir, f);
}

static void teardown(sl_txn_coord_t *tc, char *dir) {
    sl_txn_coord_free(tc);
    sl_os_rmtree(dir);
    free(dir);
}

/* InitProducerId as the broker runs it: answered once the log is durable up to what it wrote. */
static int init_pid(sl_txn_coord_t *tc, sl_str_t id, int32_t timeout_ms, int64_t req_pid,
                    int16_t req_epoch, int64_t *pid, int16_t *epoch) {
    uint64_t pos;
    int rc = sl_txn_init_pid(tc, id, timeout_ms, req_pid, req_epoch, 0, pid, epoch, &pos);
    if (rc == KERR_NONE && sl_txn_coord_flush(tc, 0) != SL_OK) {
        return KERR_KAFKA_STORAGE_ERROR;
    }
    return rc;
}

static const sl_str_t ID = {"app-1", 5};
static const sl_str_t TOPIC = {"t", 1};

/* A transaction over partitions 0 and 1 with data in both (what Produce would record), added as
 * the broker answers AddPartitionsToTxn: once the log is durable up to the record. */
static sl_txn_t *open_txn(sl_txn_coord_t *tc, fake_t *f, int64_t pid, int16_t epoch) {
    int err = -1;
    sl_txn_t *t = sl_txn_find(tc, ID, pid, epoch, &err);
    if (!t) {
        return NULL;
    }
    sl_txn_begin(t, 1000);
    sl_txn_add_part(t, TOPIC, 0);
    sl_txn_add_part(t, TOPIC, 1);
    if (sl_txn_persist(tc, t) != SL_OK || sl_reclog_sync(sl_txn_coord_log(tc)) != SL_OK) {
        return NULL;
    }
    f->open_pid[0] = f->open_pid[1] = pid;
    return t;
}

TEST(init_bumps_epochs_and_fences_older_instances) {
    char *dir;
    fake_t f;
    sl_txn_coord_t *tc = setup(&dir, &f);
    int64_t pid;
    int16_t epoch;
    CHECK_EQ_INT(init_pid(tc, ID, 0, -1, -1, &pid, &epoch), KERR_INVALID_TRANSACTION_TIMEOUT);
    CHECK_EQ_INT(init_pid(tc, ID, 999999, -1, -1, &pid, &epoch),
                 KERR_INVALID_TRANSACTION_TIMEOUT); /* above transaction.max.timeout.ms */
    uint64_t pos = 0;
    CHECK_EQ_INT(sl_txn_init_pid(tc, ID, 5000, -1, -1, 0, &pid, &epoch, &pos), KERR_NONE);
    CHECK_EQ_INT(pid, 1000);
    CHECK_EQ_INT(epoch, 0);
    CHECK(pos > 0 && !sl_reclog_durable(sl_txn_coord_log(tc), pos)); /* not answered yet */
    CHECK_EQ_INT(sl_txn_coord_flush(tc, 0), SL_OK);
    CHECK(sl_reclog_durable(sl_txn_coord_log(tc), pos));
    CHECK_EQ_INT(init_pid(tc, ID, 5000, -1, -1, &pid, &epoch), KERR_NONE);
    CHECK_EQ_INT(epoch, 1); /* a second instance: same id, next epoch */
    int err;
    CHECK(sl_txn_find(tc, ID, 1000, 0, &err) == NULL);
    CHECK_EQ_INT(err, KERR_PRODUCER_FENCED);
    /* KIP-360: the current id/epoch bumps; a retry with the previous pair gets the same answer. */
    CHECK_EQ_INT(init_pid(tc, ID, 5000, 1000, 1, &pid, &epoch), KERR_NONE);
    CHECK_EQ_INT(epoch, 2);
    CHECK_EQ_INT(init_pid(tc, ID, 5000, 1000, 1, &pid, &epoch), KERR_NONE);
    CHECK_EQ_INT(epoch, 2);
    CHECK_EQ_INT(init_pid(tc, ID, 5000, 1000, 0, &pid, &epoch), KERR_PRODUCER_FENCED);
    teardown(tc, dir);
}

/* A transactional batch may reach a partition only once the record that added the partition is
 * durable: otherwise a crash could keep the batch while the log still ends at the previous
 * transaction's PrepareCommit, and completing that one at start-up would commit the batch. */
TEST(produce_waits_until_the_partition_is_durably_added) {
    char *dir;
    fake_t f;
    sl_txn_coord_t *tc = setup(&dir, &f);
    int64_t pid;
    int16_t epoch;
    CHECK_EQ_INT(init_pid(tc, ID, 5000, -1, -1, &pid, &epoch), KERR_NONE);
    int err;
    sl_txn_t *t = sl_txn_find(tc, ID, pid, epoch, &err);
    CHECK(t != NULL);
    if (!t) {
        return;
    }
    sl_txn_begin(t, 1000);
    sl_txn_add_part(t, TOPIC, 0);
    CHECK_EQ_INT(sl_txn_check_produce(tc, pid, epoch, TOPIC, 0), KERR_INVALID_TXN_STATE);
    CHECK_EQ_INT(sl_txn_persist(tc, t), SL_OK);
    CHECK_EQ_INT(sl_txn_check_produce(tc, pid, epoch, TOPIC, 0), KERR_INVALID_TXN_STATE);
    CHECK_EQ_INT(sl_reclog_sync(sl_txn_coord_log(tc)), SL_OK);
    CHECK_EQ_INT(sl_txn_check_produce(tc, pid, epoch, TOPIC, 0), KERR_NONE);
    /* A second partition waits for its own record; the first stays open to produce. */
    sl_txn_add_part(t, TOPIC, 1);
    sl_txn_add_part(t, TOPIC, 0); /* already added: keeps its durable record */
    CHECK_EQ_INT(sl_txn_persist(tc, t), SL_OK);
    CHECK_EQ_INT(sl_txn_check_produce(tc, pid, epoch, TOPIC, 1), KERR_INVALID_TXN_STATE);
    CHECK_EQ_INT(sl_txn_check_produce(tc, pid, epoch, TOPIC, 0), KERR_NONE);
    CHECK_EQ_INT(sl_reclog_sync(sl_txn_coord_log(tc)), SL_OK);
    CHECK_EQ_INT(sl_txn_check_produce(tc, pid, epoch, TOPIC, 1), KERR_NONE);
    /* Replayed partitions are durable. */
    sl_txn_coord_free(tc);
    tc = open_coord(dir, &f);
    CHECK_EQ_INT(sl_txn_check_produce(tc, pid, epoch, TOPIC, 1), KERR_NONE);
    teardown(tc, dir);
}

TEST(commit_writes_markers_and_offsets_and_completes_once_durable) {
    char *dir;
    fake_t f;
    sl_txn_coord_t *tc = setup(&dir, &f);
    int64_t pid;
    int16_t epoch;
    CHECK_EQ_INT(init_pid(tc, ID, 5000, -1, -1, &pid, &epoch), KERR_NONE);
    sl_txn_t *t = open_txn(tc, &f, pid, epoch);
    CHECK(t != NULL);
    if (!t) {
        return;
    }
    CHECK_EQ_INT(sl_txn_check_produce(tc, pid, epoch, TOPIC, 0), KERR_NONE);
    CHECK_EQ_INT(sl_txn_check_produce(tc, pid, epoch, TOPIC, 5), KERR_INVALID_TXN_STATE);
    CHECK_EQ_INT(sl_txn_check_produce(tc, pid, (int16_t)(epoch - 1), TOPIC, 0),
                 KERR_INVALID_PRODUCER_EPOCH);
    sl_str_t g = {"grp", 3}, md = {NULL, 0};
    sl_txn_add_group(t, g);
    sl_txn_add_offset(t, g, TOPIC, 0, 41, -1, md);
    sl_txn_add_offset(t, g, TOPIC, 0, 42, -1, md); /* replaces the first */
    CHECK(sl_txn_offset_pending(tc, g, TOPIC, 0));
    CHECK(!sl_txn_offset_pending(tc, g, TOPIC, 1));
    CHECK_EQ_INT(sl_txn_end(tc, t, true, 2000), KERR_NONE);
    /* No marker and no offset before the decision is durable. */
    CHECK_EQ_INT(f.markers[0][SL_CONTROL_COMMIT] + f.markers[1][SL_CONTROL_COMMIT], 0);
    CHECK_EQ_INT(f.offset_commits, 0);
    CHECK_EQ_INT(sl_txn_coord_flush(tc, 2000), SL_OK);
    CHECK_EQ_INT(f.markers[0][SL_CONTROL_COMMIT], 1);
    CHECK_EQ_INT(f.markers[1][SL_CONTROL_COMMIT], 1);
    CHECK_EQ_INT(f.offset_commits, 1);
    CHECK_EQ_INT(f.committed_offset, 42);
    CHECK_EQ_INT(t->state, SL_TXN_PREPARE_COMMIT); /* markers not durable yet */
    CHECK_EQ_INT(sl_txn_open_count(tc), 1);
    int err;
    CHECK(sl_txn_find(tc, ID, pid, epoch, &err) == t);
    CHECK_EQ_INT(t->state, SL_TXN_PREPARE_COMMIT);
    CHECK_EQ_INT(sl_txn_end(tc, t, false, 2000), KERR_INVALID_TXN_STATE);
    CHECK_EQ_INT(sl_txn_end(tc, t, true, 2000), KERR_NONE); /* a retry */
    f.durable_below = 100;
    sl_txn_coord_poll(tc, 2001);
    CHECK_EQ_INT(t->state, SL_TXN_PREPARE_COMMIT); /* markers durable, offsets not yet */
    f.offsets_durable = f.offsets_pos;
    sl_txn_coord_poll(tc, 2001);
    CHECK_EQ_INT(t->state, SL_TXN_COMPLETE_COMMIT);
    CHECK_EQ_INT(f.completed_commits, 1);
    CHECK_EQ_INT(sl_txn_open_count(tc), 0);
    CHECK(!sl_txn_offset_pending(tc, g, TOPIC, 0));
    CHECK_EQ_INT(sl_txn_check_produce(tc, pid, epoch, TOPIC, 0), KERR_INVALID_TXN_STATE);
    /* The next transaction starts from a clean slate. */
    t = open_txn(tc, &f, pid, epoch);
    CHECK(t && t->n_parts == 2 && t->n_offsets == 0);
    if (t) {
        CHECK_EQ_INT(sl_txn_end(tc, t, false, 3000), KERR_NONE);
        CHECK_EQ_INT(sl_txn_coord_flush(tc, 3000), SL_OK);
        CHECK_EQ_INT(f.markers[0][SL_CONTROL_ABORT], 1);
        CHECK_EQ_INT(f.offset_commits, 1); /* an abort commits no offsets */
    }
    teardown(tc, dir);
}

TEST(a_new_instance_aborts_the_open_transaction_first) {
    char *dir;
    fake_t f;
    sl_txn_coord_t *tc = setup(&dir, &f);
    int64_t pid, pid2;
    int16_t epoch, epoch2;
    CHECK_EQ_INT(init_pid(tc, ID, 5000, -1, -1, &pid, &epoch), KERR_NONE);
    CHECK(open_txn(tc, &f, pid, epoch) != NULL);
    CHECK_EQ_INT(init_pid(tc, ID, 5000, -1, -1, &pid2, &epoch2), KERR_CONCURRENT_TRANSACTIONS);
    CHECK_EQ_INT(f.markers[0][SL_CONTROL_ABORT], 0); /* the abort decision is not durable yet */
    CHECK_EQ_INT(init_pid(tc, ID, 5000, -1, -1, &pid2, &epoch2), KERR_CONCURRENT_TRANSACTIONS);
    CHECK_EQ_INT(sl_txn_coord_flush(tc, 0), SL_OK);
    CHECK_EQ_INT(f.markers[0][SL_CONTROL_ABORT], 1);
    CHECK_EQ_INT(f.marker_epoch[0], epoch + 1); /* the markers carry the bumped epoch */
    f.durable_below = 100;
    CHECK_EQ_INT(init_pid(tc, ID, 5000, -1, -1, &pid2, &epoch2), KERR_NONE);
    CHECK_EQ_INT(pid2, pid);
    CHECK_EQ_INT(epoch2, epoch + 2);
    CHECK_EQ_INT(sl_txn_check_produce(tc, pid, epoch, TOPIC, 0), KERR_INVALID_PRODUCER_EPOCH);
    teardown(tc, dir);
}

TEST(timeouts_abort_and_fence) {
    char *dir;
    fake_t f;
    sl_txn_coord_t *tc = setup(&dir, &f);
    int64_t pid;
    int16_t epoch;
    CHECK_EQ_INT(init_pid(tc, ID, 5000, -1, -1, &pid, &epoch), KERR_NONE);
    CHECK(open_txn(tc, &f, pid, epoch) != NULL); /* began at 1000 */
    CHECK_EQ_INT(sl_txn_coord_tick(tc, 5999, 0), 0);
    CHECK_EQ_INT(sl_txn_coord_tick(tc, 6001, 0), 1);
    CHECK_EQ_INT(sl_txn_coord_flush(tc, 6001), SL_OK);
    CHECK_EQ_INT(f.markers[0][SL_CONTROL_ABORT] + f.markers[1][SL_CONTROL_ABORT], 2);
    int err;
    CHECK(sl_txn_find(tc, ID, pid, epoch, &err) == NULL);
    CHECK_EQ_INT(err, KERR_PRODUCER_FENCED);
    f.durable_below = 100;
    CHECK_EQ_INT(sl_txn_coord_tick(tc, 7000, 0), 0);
    CHECK_EQ_INT(f.completed_aborts, 1);
    /* Idle ids expire (transactional.id.expiration.ms). */
    CHECK_EQ_INT(sl_txn_count(tc), 1);
    (void)sl_txn_coord_tick(tc, 100000, 10000);
    CHECK_EQ_INT(sl_txn_count(tc), 0);
    teardown(tc, dir);
}

/* After a crash: a decided transaction is completed; an open one is kept open (as Kafka keeps it
 * across a coordinator failover), so its producer can carry on, until its timeout aborts it. */
TEST(recovery_completes_prepared_and_keeps_open_transactions) {
    char *dir;
    fake_t f;
    sl_txn_coord_t *tc = setup(&dir, &f);
    int64_t pid, pid_b;
    int16_t epoch, epoch_b;
    sl_str_t id_b = {"app-2", 5};
    CHECK_EQ_INT(init_pid(tc, ID, 5000, -1, -1, &pid, &epoch), KERR_NONE);
    CHECK_EQ_INT(init_pid(tc, id_b, 5000, -1, -1, &pid_b, &epoch_b), KERR_NONE);
    sl_txn_t *t = open_txn(tc, &f, pid, epoch);
    CHECK(t != NULL);
    /* id_b: data in partitions 2 and 3, still open at the crash. */
    int err;
    sl_txn_t *tb = sl_txn_find(tc, id_b, pid_b, epoch_b, &err);
    CHECK(tb != NULL);
    if (!t || !tb) {
        return;
    }
    sl_txn_begin(tb, 1000);
    sl_txn_add_part(tb, TOPIC, 2);
    sl_txn_add_part(tb, TOPIC, 3);
    CHECK_EQ_INT(sl_txn_persist(tc, tb), SL_OK);
    f.open_pid[2] = f.open_pid[3] = pid_b;
    /* id: decided commit; the marker reached partition 0 but the crash came before partition 1
     * (simulated by re-opening partition 1's transaction after the fact). */
    CHECK_EQ_INT(sl_txn_end(tc, t, true, 2000), KERR_NONE);
    CHECK_EQ_INT(sl_txn_coord_flush(tc, 2000), SL_OK);
    f.open_pid[1] = pid;
    sl_txn_coord_free(tc); /* "crash": nothing completed */

    fake_t g;
    fake_init(&g);
    memcpy(g.open_pid, f.open_pid, sizeof g.open_pid);
    g.next_pid = 2000;
    tc = open_coord(dir, &g);
    CHECK(tc != NULL);
    if (!tc) {
        return;
    }
    CHECK_EQ_INT(sl_txn_count(tc), 2);
    sl_txn_coord_recover(tc, 5000);
    CHECK_EQ_INT(g.markers[0][SL_CONTROL_COMMIT], 0); /* already had its marker */
    CHECK_EQ_INT(g.markers[1][SL_CONTROL_COMMIT], 1);
    CHECK_EQ_INT(sl_txn_coord_flush(tc, 5000), SL_OK);
    CHECK_EQ_INT(g.markers[2][SL_CONTROL_ABORT], 0); /* id_b is still open: nothing decided */
    tb = sl_txn_find(tc, id_b, pid_b, epoch_b, &err);
    CHECK(tb != NULL && tb->state == SL_TXN_ONGOING && err == KERR_NONE);
    (void)sl_txn_coord_tick(tc, 5900, 0); /* begun at 1000 with a 5000 ms timeout: not yet */
    CHECK_EQ_INT(sl_txn_coord_flush(tc, 5900), SL_OK);
    CHECK_EQ_INT(g.markers[2][SL_CONTROL_ABORT], 0);
    CHECK_EQ_INT(sl_txn_coord_tick(tc, 6100, 0), 1);
    CHECK_EQ_INT(sl_txn_coord_flush(tc, 6100), SL_OK);
    CHECK_EQ_INT(g.markers[2][SL_CONTROL_ABORT], 1);
    CHECK_EQ_INT(g.markers[3][SL_CONTROL_ABORT], 1);
    CHECK_EQ_INT(g.marker_epoch[2], epoch_b + 1);
    g.durable_below = 1000;
    g.offsets_durable = UINT64_MAX;
    sl_txn_coord_poll(tc, 6101);
    CHECK_EQ_INT(sl_txn_open_count(tc), 0);
    CHECK_EQ_INT(g.completed_commits, 1);
    CHECK_EQ_INT(g.completed_aborts, 1);
    teardown(tc, dir);
}

TEST(the_log_is_compacted_and_replays_to_the_same_state) {
    char *dir;
    fake_t f;
    sl_txn_coord_t *tc = setup(&dir, &f);
    f.durable_below = INT64_MAX;
    int64_t pid;
    int16_t epoch;
    CHECK_EQ_INT(init_pid(tc, ID, 5000, -1, -1, &pid, &epoch), KERR_NONE);
    for (int i = 0; i < 600; i++) { /* 3 records per transaction */
        sl_txn_t *t = open_txn(tc, &f, pid, epoch);
        CHECK(t && sl_txn_end(tc, t, true, 2000) == KERR_NONE);
        CHECK_EQ_INT(sl_txn_coord_flush(tc, 2000), SL_OK);
    }
    (void)sl_txn_coord_tick(tc, 3000, 0);
    sl_txn_coord_free(tc);
    char path[4200];
    snprintf(path, sizeof path, "%s/__transaction_state.log", dir);
    FILE *fp = fopen(path, "rb");
    CHECK(fp != NULL);
    if (fp) {
        fseek(fp, 0, SEEK_END);
        CHECK(ftell(fp) < 4096); /* one record left, not 1,800 */
        fclose(fp);
    }
    tc = open_coord(dir, &f);
    int err;
    sl_txn_t *t = sl_txn_find(tc, ID, pid, epoch, &err);
    CHECK(t && t->state == SL_TXN_COMPLETE_COMMIT);
    teardown(tc, dir);
}

/* Thousands of ids: every one found by transactional id and by producer id, through epoch
 * exhaustion (a new producer id), expiry of half of them and a replay of the log. */
static void check_lookups(int *sl_failed_, sl_txn_coord_t *tc, int n, const int64_t *pids,
                          bool even_gone) {
    int found = 0, right = 0;
    for (int i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "many-%d", i);
        const sl_txn_t *t = sl_txn_get(tc, (sl_str_t){name, strlen(name)});
        bool gone = even_gone && i % 2 == 0;
        found += t != NULL;
        right += gone ? t == NULL : (t && t->pid == pids[i]);
        int rc = sl_txn_check_produce(tc, pids[i], t ? t->epoch : 0, TOPIC, 0);
        right += rc == (gone ? KERR_INVALID_PRODUCER_ID_MAPPING : KERR_INVALID_TXN_STATE);
    }
    CHECK_EQ_INT(right, 2 * n);
    CHECK_EQ_INT(found, even_gone ? n / 2 : n);
}

TEST(many_ids_are_found_by_id_and_by_producer_id) {
    char *dir;
    fake_t f;
    sl_txn_coord_t *tc = setup(&dir, &f);
    enum { N = 3000 };
    static int64_t pids[N];
    uint64_t pos;
    int16_t epoch;
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof name, "many-%d", i);
        int64_t now = i % 2 ? 100000 : 0; /* odd ones used later: they outlive the expiry */
        CHECK_EQ_INT(sl_txn_init_pid(tc, (sl_str_t){name, strlen(name)}, 5000, -1, -1, now,
                                     &pids[i], &epoch, &pos),
                     KERR_NONE);
    }
    check_lookups(sl_failed_, tc, N, pids, false);
    /* Exhaust one id's epochs: it gets a new producer id; the old one is unknown from then on. */
    sl_str_t id7 = {"many-7", 6};
    int64_t old = pids[7];
    for (int k = 0; k < 40000 && pids[7] == old; k++) {
        CHECK_EQ_INT(sl_txn_init_pid(tc, id7, 5000, -1, -1, 100000, &pids[7], &epoch, &pos),
                     KERR_NONE);
    }
    CHECK(pids[7] != old && epoch == 0);
    CHECK_EQ_INT(sl_txn_check_produce(tc, old, 0, TOPIC, 0), KERR_INVALID_PRODUCER_ID_MAPPING);
    check_lookups(sl_failed_, tc, N, pids, false);
    /* The even ones (idle since 0) expire at 150000 with a 100000 ms expiration. */
    (void)sl_txn_coord_tick(tc, 150000, 100000);
    CHECK_EQ_INT(sl_txn_count(tc), N / 2);
    check_lookups(sl_failed_, tc, N, pids, true);
    sl_txn_coord_free(tc);
    tc = open_coord(dir, &f); /* replays the deletions too (or their compacted result) */
    CHECK(tc != NULL);
    if (tc) {
        CHECK_EQ_INT(sl_txn_count(tc), N / 2);
        check_lookups(sl_failed_, tc, N, pids, true);
    }
    teardown(tc, dir);
}

/* Cluster mode: a fake replicated partition holding the coordinator's records. */
typedef struct frepl {
    fake_t f;
    sl_buf_t recs[64]; /* record i at offset i */
    int64_t n;
    int64_t replicated_below; /* the fake high watermark */
} frepl_t;

static int f_replicate(void *opaque, const char *id, const uint8_t *rec, size_t len,
                       int64_t *end_out) {
    frepl_t *r = opaque;
    (void)id;
    if (r->n >= 64) {
        return KERR_NOT_ENOUGH_REPLICAS;
    }
    r->recs[r->n] = (sl_buf_t){0};
    sl_buf_append(&r->recs[r->n], rec, len);
    *end_out = ++r->n;
    return KERR_NONE;
}

static bool f_replicated(void *opaque, const char *id, int64_t end) {
    (void)id;
    return end <= ((frepl_t *)opaque)->replicated_below;
}

static sl_txn_coord_t *open_repl_coord(const char *dir, frepl_t *r) {
    sl_txn_hooks_t h = {f_write_marker, f_durable, f_commit_offsets, f_offsets_durable, f_alloc_pid,
                        f_completed,    r,         f_replicate,      f_replicated};
    char err[SL_ERRLEN];
    return sl_txn_coord_new(dir, 60000, &h, err);
}

static bool match_all(const char *id, void *opaque) {
    (void)id;
    (void)opaque;
    return true;
}

TEST(cluster_decisions_wait_for_replication_and_a_new_leader_completes_them) {
    frepl_t r = {0};
    fake_init(&r.f);
    char *dir = tmpdir(), *dir2 = tmpdir();
    sl_txn_coord_t *tc = open_repl_coord(dir, &r);
    CHECK(tc != NULL);
    if (!tc) {
        return;
    }
    int64_t pid;
    int16_t epoch;
    CHECK_EQ_INT(init_pid(tc, ID, 5000, -1, -1, &pid, &epoch), KERR_NONE);
    CHECK_EQ_INT(r.n, 1); /* InitProducerId's record went to the partition too */
    sl_txn_t *t = open_txn(tc, &r.f, pid, epoch);
    CHECK(t != NULL);
    if (!t) {
        teardown(tc, dir);
        return;
    }
    CHECK_EQ_INT(t->repl_end, 2);
    CHECK_EQ_INT(sl_txn_end(tc, t, true, 2000), KERR_NONE);
    CHECK_EQ_INT(sl_txn_coord_flush(tc, 2000), SL_OK);
    /* Durable on this broker's disk, but not yet on every in-sync replica: no marker. */
    r.replicated_below = 2;
    sl_txn_coord_poll(tc, 2000);
    CHECK_EQ_INT(r.f.markers[0][SL_CONTROL_COMMIT] + r.f.markers[1][SL_CONTROL_COMMIT], 0);
    /* This coordinator dies here; another broker loads the partition and finishes the job. */
    sl_txn_coord_t *tc2 = open_repl_coord(dir2, &r);
    CHECK(tc2 != NULL);
    if (tc2) {
        for (int64_t i = 0; i < r.n; i++) {
            CHECK_EQ_INT(sl_txn_coord_replay(tc2, r.recs[i].data, r.recs[i].len), SL_OK);
        }
        const sl_txn_t *t2 = sl_txn_get(tc2, ID);
        CHECK(t2 && t2->state == SL_TXN_PREPARE_COMMIT && t2->pid == pid && t2->n_parts == 2);
        sl_txn_coord_recover_some(tc2, 2100, match_all, NULL);
        CHECK_EQ_INT(r.f.markers[0][SL_CONTROL_COMMIT], 1);
        CHECK_EQ_INT(r.f.markers[1][SL_CONTROL_COMMIT], 1);
        r.f.durable_below = 100;
        r.replicated_below = 100;
        sl_txn_coord_poll(tc2, 2200);
        t2 = sl_txn_get(tc2, ID);
        CHECK(t2 && t2->state == SL_TXN_COMPLETE_COMMIT);
        /* Its partition moves away: the id is forgotten, nothing written. */
        int64_t before = r.n;
        sl_txn_coord_forget(tc2, match_all, NULL);
        CHECK(sl_txn_get(tc2, ID) == NULL);
        CHECK_EQ_INT(r.n, before);
        sl_txn_coord_free(tc2);
    }
    for (int64_t i = 0; i < r.n; i++) {
        sl_buf_fini(&r.recs[i]);
    }
    sl_os_rmtree(dir2);
    free(dir2);
    teardown(tc, dir);
}

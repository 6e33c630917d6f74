/* handle_txn.c -- idempotent and transactional producers: the wire side of txn/txn_coord.c and
 * the hooks through which the coordinator writes markers and commits offsets.
 *
 * InitProducerId v0-4 (flexible v2+): transactional_id, transaction_timeout_ms, producer_id and
 *   producer_epoch (v3+, KIP-360) -> throttle, error, producer_id, producer_epoch
 * AddPartitionsToTxn v0-3 (flexible v3): transactional_id, producer_id, producer_epoch, topics
 *   {name, partitions} -> throttle, results {name, results {partition_index, error_code}}
 * AddOffsetsToTxn v0-3: transactional_id, producer_id, producer_epoch, group_id -> throttle, error
 * EndTxn v0-3: transactional_id, producer_id, producer_epoch, committed -> throttle, error
 * TxnOffsetCommit v0-3: transactional_id, group_id, producer_id, producer_epoch, generation_id,
 *   member_id, group_instance_id (v3+), topics {name, partitions {partition_index,
 *   committed_offset, committed_leader_epoch (v2+), committed_metadata}} -> throttle, topics
 *   {name, partitions {partition_index, error_code}}
 *
 * Producer ids come from blocks reserved durably in the metadata log (SL_META_PID_BLOCK), so an id
 * is never handed out twice, even across a crash. PRODUCER_FENCED is answered as
 * INVALID_PRODUCER_EPOCH to versions that predate it (KIP-588). EndTxn answers once its markers
 * are durable, so a producer never sees CONCURRENT_TRANSACTIONS for the next transaction. */
#include <string.h>

#include "broker/broker.h"
#include "broker/cluster.h"
#include "broker/metalog.h"
#include "broker/offsets_topic.h"
#include "broker/txn_markers.h"
#include "broker/txn_topic.h"
#include "broker/wait.h"
#include "common/clock.h"
#include "common/log.h"
#include "group/coordinator.h"
#include "group/offset_store.h"
#include "proto/kerr.h"
#include "storage/batch.h"
#include "txn/pstate.h"
#include "txn/txn_coord.h"

#define PID_BLOCK 1000

/* ---- hooks for the coordinator ---- */

static sl_partition_t *part_of(sl_broker_t *b, const char *topic, int32_t partition) {
    sl_str_t t = {topic, strlen(topic)};
    return sl_partition_get(b, t, partition);
}

static int hook_write_marker(void *opaque, const char *topic, int32_t partition, int64_t pid,
                             int16_t epoch, int type, int64_t *offset_out) {
    sl_broker_t *b = opaque;
    if (b->cluster) {
        /* The partition's leader writes it, wherever it is: a job until it has (txn_markers.h). */
        *offset_out = sl_markers_add(b, topic, partition, pid, epoch, type);
        return KERR_NONE;
    }
    sl_partition_t *p = part_of(b, topic, partition);
    *offset_out = -1;
    if (!p || sl_pstate_txn_first(p->pstate, pid) < 0) {
        return KERR_NONE; /* gone, or holds nothing of this transaction */
    }
    return sl_partition_write_marker(b, p, pid, epoch, type, offset_out) == SL_OK
               ? KERR_NONE
               : KERR_KAFKA_STORAGE_ERROR;
}

static bool hook_durable(void *opaque, const char *topic, int32_t partition, int64_t offset) {
    if (((sl_broker_t *)opaque)->cluster) {
        return sl_markers_done(opaque, offset);
    }
    sl_partition_t *p = part_of(opaque, topic, partition);
    return !p || sl_plog_durable_offset(p->plog) > offset;
}

static int hook_commit_offsets(void *opaque, const sl_txn_t *t, uint64_t *pos_out) {
    sl_broker_t *b = opaque;
    int64_t now = sl_wall_ms();
    for (size_t i = 0; i < t->n_offsets; i++) {
        const sl_txn_offset_t *o = &t->offsets[i];
        sl_str_t g = {o->group, strlen(o->group)}, topic = {o->topic, strlen(o->topic)};
        sl_str_t md = {o->metadata, o->metadata_len};
        if (sl_coord_commit(b->coord, g, topic, o->partition, o->offset, o->leader_epoch, md,
                            now) != SL_OK) {
            return KERR_KAFKA_STORAGE_ERROR;
        }
    }
    *pos_out = sl_reclog_want_sync(sl_coord_log(b->coord));
    return KERR_NONE;
}

static bool hook_offsets_durable(void *opaque, uint64_t pos) {
    return sl_reclog_durable(sl_coord_log(((sl_broker_t *)opaque)->coord), pos);
}

void sl_broker_pid_prefetch(sl_broker_t *b) {
    if (!b->cluster || !sl_cluster_caught_up(b)) {
        return; /* its own earlier blocks are not known yet */
    }
    uint64_t now = sl_mono_ms();
    int64_t end = sl_pidblocks_want(&b->pids, now);
    if (end) {
        sl_meta_rec_t rec = {SL_META_PID_BLOCK, "", {0}, 0, NULL, 0, end};
        if (sl_metalog_append(b->metalog, &rec) == SL_OK) {
            sl_pidblocks_proposed(&b->pids, end, now);
        }
    }
}

/* Cluster: ids come only from a block whose record the quorum committed (pidblocks.h); until
 * one is, the client is told to retry. */
static int alloc_pid_cluster(sl_broker_t *b, int64_t *pid_out) {
    bool ok = sl_pidblocks_take(&b->pids, pid_out);
    sl_broker_pid_prefetch(b);
    return ok ? KERR_NONE : KERR_COORDINATOR_LOAD_IN_PROGRESS;
}

int sl_broker_alloc_pid(sl_broker_t *b, int64_t *pid_out) {
    if (b->cluster) {
        return alloc_pid_cluster(b, pid_out);
    }
    if (b->next_pid >= b->pid_block_end) {
        sl_meta_rec_t rec = {SL_META_PID_BLOCK, "", {0}, 0, NULL, 0, b->pid_block_end + PID_BLOCK};
        if (sl_metalog_append(b->metalog, &rec) != SL_OK) {
            return KERR_COORDINATOR_NOT_AVAILABLE;
        }
        b->pid_block_end += PID_BLOCK;
    }
    *pid_out = b->next_pid++;
    return KERR_NONE;
}

static int hook_alloc_pid(void *opaque, int64_t *pid_out) {
    return sl_broker_alloc_pid(opaque, pid_out);
}

static void hook_completed(void *opaque, const sl_txn_t *t, bool commit, uint64_t latency_us) {
    sl_broker_t *b = opaque;
    (void)t;
    sl_counter_add(commit ? b->m_txn_commits : b->m_txn_aborts, 1);
    if (commit && latency_us) {
        sl_histo_observe_us(b->m_txn_commit_latency, latency_us);
    }
}

/* Aborts transactions a partition has open that the coordinator does not know (their
 * AddPartitionsToTxn record was lost in a crash, so they never reached a decision). */
typedef struct orphan {
    int64_t pid;
    int16_t epoch;
} orphan_t;

typedef struct sweep_ctx {
    orphan_t *v;
    size_t n, cap;
} sweep_ctx_t;

static void collect_open(int64_t pid, int16_t epoch, int64_t first, void *opaque) {
    (void)first;
    sweep_ctx_t *c = opaque;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 8;
        c->v = sl_xrealloc(c->v, c->cap * sizeof *c->v);
    }
    c->v[c->n++] = (orphan_t){pid, epoch};
}

static void sweep_topic(sl_topic_t *t, void *opaque) {
    sl_broker_t *b = opaque;
    for (int32_t i = 0; i < t->n_partitions; i++) {
        sl_partition_t *p = t->parts[i];
        sweep_ctx_t c = {0};
        sl_pstate_each_open(p->pstate, collect_open, &c);
        for (size_t k = 0; k < c.n; k++) {
            int64_t off;
            if (sl_txn_of_pid(b->txn, c.v[k].pid)) {
                continue; /* decided but its marker could not be written: retried, not undone */
            }
            sl_log(SL_LOG_WARN, "txn",
                   "topic=%s partition=%d pid=%lld msg=\"aborting a transaction the coordinator "
                   "does not know\"",
                   t->name, i, (long long)c.v[k].pid);
            if (sl_partition_write_marker(b, p, c.v[k].pid, c.v[k].epoch, SL_CONTROL_ABORT, &off) !=
                SL_OK) {
                sl_log(SL_LOG_ERROR, "txn", "topic=%s partition=%d msg=\"abort marker failed\"",
                       t->name, i);
            }
        }
        free(c.v);
    }
}

static bool match_any(const char *id, void *opaque) {
    (void)id;
    (void)opaque;
    return true;
}

sl_err_t sl_broker_txn_start(sl_broker_t *b, char *err) {
    sl_txn_hooks_t hooks = {hook_write_marker,
                            hook_durable,
                            hook_commit_offsets,
                            hook_offsets_durable,
                            hook_alloc_pid,
                            hook_completed,
                            b,
                            b->cluster ? sl_ttopic_replicate : NULL,
                            b->cluster ? sl_ttopic_replicated : NULL};
    b->txn = sl_txn_coord_new(b->conf.data_dir, b->conf.transaction_max_timeout_ms, &hooks, err);
    if (!b->txn) {
        return SL_ERR_IO;
    }
    if (b->cluster) {
        /* A cluster member acts only on what it loads from the partitions it leads
         * (txn_topic.h), never on its own file, which may be stale. */
        sl_txn_coord_forget(b->txn, match_any, NULL);
        return sl_markers_start(b, err);
    }
    sl_txn_coord_recover(b->txn, sl_wall_ms());
    sl_topics_each(b, sweep_topic, b);
    return SL_OK;
}

/* ---- handlers ---- */

/* Cluster: a coordinator's partition with too few in-sync replicas is, to clients,
 * COORDINATOR_NOT_AVAILABLE (retriable), as Kafka's coordinators answer. */
static int coord_code(int err) {
    return err == KERR_NOT_ENOUGH_REPLICAS || err == KERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND
               ? KERR_COORDINATOR_NOT_AVAILABLE
               : err;
}

/* Cluster: whether this broker coordinates `id` now and could record a change for it
 * (txn_topic.h); KERR_NONE on a single node. */
static int coordinating(sl_broker_t *b, sl_str_t id) {
    int16_t err = sl_ttopic_check(b, id);
    return err != KERR_NONE ? err : coord_code(sl_ttopic_writable(b, id));
}

/* Cluster: the answer at err_at also waits until the id's last record is on every in-sync
 * replica of its partition. */
static void add_replicated(sl_broker_t *b, sl_durable_wait_t *w, sl_str_t id, size_t err_at) {
    const sl_txn_t *t = b->cluster ? sl_txn_get(b->txn, id) : NULL;
    sl_partition_t *p = t ? sl_ttopic_part(b, id) : NULL;
    if (p && t->repl_end > 0) {
        sl_durable_wait_add_part(w, p, t->repl_end, err_at, SIZE_MAX);
    }
}

static int16_t fenced_code(int err, bool knows_fenced) {
    return (int16_t)(err == KERR_PRODUCER_FENCED && !knows_fenced ? KERR_INVALID_PRODUCER_EPOCH
                                                                  : err);
}

SL_HANDLER(InitProducerId) {
    sl_broker_t *b = req->broker;
    sl_reader_t *rd = &req->rd;
    bool flex = req->flex;
    int16_t v = req->api_version;
    sl_str_t txn_id = sl_rd_str(rd, flex);
    int32_t timeout_ms = sl_rd_i32(rd);
    int64_t req_pid = v >= 3 ? sl_rd_i64(rd) : -1;
    int16_t req_epoch = v >= 3 ? sl_rd_i16(rd) : -1;
    sl_rd_tags(rd, flex);
    if (rd->err) {
        return rd->err;
    }
    int err;
    int64_t pid = -1;
    int16_t epoch = -1;
    uint64_t durable_pos = 0;
    /* Kafka's rules: WRITE on the transactional id; an idempotent producer needs
     * IDEMPOTENT_WRITE on the cluster or WRITE on some topic (Kafka 3). */
    if (txn_id.p && !sl_req_allowed(req, SL_RES_TRANSACTIONAL_ID, txn_id, SL_ACL_WRITE)) {
        err = KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
    } else if (!txn_id.p && !sl_req_allowed_cluster(req, SL_ACL_IDEMPOTENT_WRITE) &&
               !sl_req_allowed_any(req, SL_RES_TOPIC, SL_ACL_WRITE)) {
        err = KERR_CLUSTER_AUTHORIZATION_FAILED;
    } else if (txn_id.p && (err = coordinating(b, txn_id)) != KERR_NONE) {
        /* cluster: another broker coordinates this id, or it is loading */
    } else if (txn_id.p) {
        err = sl_txn_init_pid(b->txn, txn_id, timeout_ms, req_pid, req_epoch, sl_wall_ms(), &pid,
                              &epoch, &durable_pos);
    } else {
        /* Idempotent only: always a fresh id (also for KIP-360 bump requests, as Kafka does). */
        err = sl_broker_alloc_pid(b, &pid);
        epoch = 0;
    }
    if (err) {
        pid = -1;
        epoch = -1;
    }
    sl_wr_i32(&req->wr, 0);
    size_t err_at = sl_wr_i16(&req->wr, fenced_code(err, v >= 4));
    sl_wr_i64(&req->wr, pid);
    sl_wr_i16(&req->wr, epoch);
    sl_wr_tags(&req->wr, flex);
    if (err || !durable_pos) {
        return SL_OK;
    }
    /* The new epoch is answered once it is durable (the log's next sync; in a cluster also on
     * every in-sync replica of the id's partition). */
    sl_durable_wait_t *w = sl_durable_wait_new(req);
    sl_durable_wait_add_log(w, sl_txn_coord_log(b->txn), durable_pos, err_at);
    add_replicated(b, w, txn_id, err_at);
    return sl_durable_wait_park(b, w);
}

/* Parks the answer until the transaction log is durable up to what was just persisted; each
 * error code at err_ats becomes KAFKA_STORAGE_ERROR if the log fails first. What a transaction
 * was told it holds (partitions, a group, offsets) then survives a power cut, so a transaction
 * kept open across a restart commits exactly what its producer added. */
static sl_err_t answer_when_durable(sl_broker_t *b, sl_req_t *req, sl_str_t id,
                                    const size_t *err_ats, size_t n) {
    uint64_t pos = sl_reclog_want_sync(sl_txn_coord_log(b->txn));
    sl_durable_wait_t *w = sl_durable_wait_new(req);
    for (size_t i = 0; i < n; i++) {
        sl_durable_wait_add_log(w, sl_txn_coord_log(b->txn), pos, err_ats[i]);
        add_replicated(b, w, id, err_ats[i]);
    }
    return sl_durable_wait_park(b, w);
}

SL_HANDLER(AddPartitionsToTxn) {
    sl_broker_t *b = req->broker;
    sl_reader_t *rd = &req->rd;
    sl_writer_t *wr = &req->wr;
    bool flex = req->flex;
    sl_str_t id = sl_rd_str(rd, flex);
    int64_t pid = sl_rd_i64(rd);
    int16_t epoch = sl_rd_i16(rd);
    int32_t n_topics = sl_rd_array_len(rd, flex, 4);
    if (rd->err) {
        return rd->err;
    }
    /* Pass 1: validate; every partition is answered with the request-wide error, or, when one
     * topic is unknown, that one with UNKNOWN_TOPIC_OR_PARTITION and the rest with
     * OPERATION_NOT_ATTEMPTED (Kafka's rule: all or nothing). */
    int terr = KERR_NONE;
    sl_txn_t *t = NULL;
    /* Kafka's rules: WRITE on the transactional id, then WRITE on each topic (a topic denied
     * is TOPIC_AUTHORIZATION_FAILED, the others OPERATION_NOT_ATTEMPTED). */
    if (!sl_req_allowed(req, SL_RES_TRANSACTIONAL_ID, id, SL_ACL_WRITE)) {
        terr = KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
    } else if ((terr = coordinating(b, id)) == KERR_NONE) {
        t = sl_txn_find_to_add(b->txn, id, pid, epoch, &terr);
        terr = fenced_code(terr, req->api_version >= 2);
    }
    sl_reader_t again = *rd;
    bool unknown = false;
    for (int32_t i = 0; i < n_topics && !rd->err; i++) {
        sl_str_t name = sl_rd_str(rd, flex);
        int32_t n = sl_rd_array_len(rd, flex, 4);
        sl_topic_t *tp = sl_topic_find(b, name);
        bool denied = !terr && !sl_req_allowed(req, SL_RES_TOPIC, name, SL_ACL_WRITE);
        for (int32_t k = 0; k < n && !rd->err; k++) {
            int32_t index = sl_rd_i32(rd);
            unknown |= denied || !tp || index < 0 || index >= tp->n_partitions;
        }
        sl_rd_tags(rd, flex);
    }
    sl_rd_tags(rd, flex);
    if (rd->err) {
        return rd->err;
    }
    if (!terr && !unknown) {
        sl_txn_begin(t, sl_wall_ms());
    }
    /* Pass 2: record and answer. The answer waits until the transaction's record is durable
     * (as Kafka answers once the record is replicated): records of this transaction can reach a
     * partition only after that, so a crash never leaves them on disk while the log still ends
     * at the previous transaction's PrepareCommit, whose completion at start-up would write its
     * COMMIT marker over them (docs/benchmarks.md, "Emulated power loss"). */
    bool record = !terr && !unknown;
    size_t *err_ats = NULL, n_err_ats = 0;
    sl_wr_i32(wr, 0);
    sl_wr_array_len(wr, flex, n_topics);
    for (int32_t i = 0; i < n_topics; i++) {
        sl_str_t name = sl_rd_str(&again, flex);
        int32_t n = sl_rd_array_len(&again, flex, 4);
        sl_topic_t *tp = sl_topic_find(b, name);
        bool denied = !terr && !sl_req_allowed(req, SL_RES_TOPIC, name, SL_ACL_WRITE);
        sl_wr_str(wr, flex, name);
        sl_wr_array_len(wr, flex, n);
        for (int32_t k = 0; k < n; k++) {
            int32_t index = sl_rd_i32(&again);
            int16_t err = (int16_t)terr;
            if (!err && unknown) {
                err = denied ? KERR_TOPIC_AUTHORIZATION_FAILED
                      : !tp || index < 0 || index >= tp->n_partitions
                          ? KERR_UNKNOWN_TOPIC_OR_PARTITION
                          : KERR_OPERATION_NOT_ATTEMPTED;
            } else if (!err) {
                sl_txn_add_part(t, name, index);
            }
            sl_wr_i32(wr, index);
            size_t err_at = sl_wr_i16(wr, err);
            if (record) {
                err_ats = sl_xrealloc(err_ats, (n_err_ats + 1) * sizeof *err_ats);
                err_ats[n_err_ats++] = err_at;
            }
            sl_wr_tags(wr, flex);
        }
        sl_rd_tags(&again, flex);
        sl_wr_tags(wr, flex);
    }
    sl_wr_tags(wr, flex);
    if (!record) {
        return SL_OK;
    }
    if (sl_txn_persist(b->txn, t) != SL_OK) {
        free(err_ats);
        return SL_ERR_IO; /* the log is failing: close rather than answer success */
    }
    sl_err_t rc = answer_when_durable(b, req, id, err_ats, n_err_ats);
    free(err_ats);
    return rc;
}

SL_HANDLER(AddOffsetsToTxn) {
    sl_broker_t *b = req->broker;
    sl_reader_t *rd = &req->rd;
    bool flex = req->flex;
    sl_str_t id = sl_rd_str(rd, flex);
    int64_t pid = sl_rd_i64(rd);
    int16_t epoch = sl_rd_i16(rd);
    sl_str_t group = sl_rd_str(rd, flex);
    sl_rd_tags(rd, flex);
    if (rd->err) {
        return rd->err;
    }
    int err = KERR_NONE;
    sl_txn_t *t = NULL;
    /* Kafka's rules: WRITE on the transactional id, READ on the group. */
    if (!sl_req_allowed(req, SL_RES_TRANSACTIONAL_ID, id, SL_ACL_WRITE)) {
        err = KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
    } else if (group.p && !sl_req_allowed(req, SL_RES_GROUP, group, SL_ACL_READ)) {
        err = KERR_GROUP_AUTHORIZATION_FAILED;
    } else if ((err = coordinating(b, id)) == KERR_NONE) {
        t = sl_txn_find_to_add(b->txn, id, pid, epoch, &err);
    }
    if (!err && !group.p) {
        err = KERR_INVALID_REQUEST;
    }
    sl_topic_t *ot = b->cluster
                         ? sl_topic_find(b, (sl_str_t){SL_OFFSETS_TOPIC, strlen(SL_OFFSETS_TOPIC)})
                         : NULL;
    if (!err && b->cluster && (!ot || ot->n_partitions < 1)) {
        err = KERR_COORDINATOR_NOT_AVAILABLE; /* no __consumer_offsets yet */
    }
    if (!err) {
        sl_txn_begin(t, sl_wall_ms());
        sl_txn_add_group(t, group);
        if (ot) {
            /* Cluster: the group coordinator holds the offsets as transactional records in
             * the group's partition; its marker commits or drops them (Kafka's design). */
            sl_txn_add_part(t, (sl_str_t){SL_OFFSETS_TOPIC, strlen(SL_OFFSETS_TOPIC)},
                            sl_itopic_partition_for(group, ot->n_partitions));
        }
        if (sl_txn_persist(b->txn, t) != SL_OK) {
            err = KERR_KAFKA_STORAGE_ERROR;
        }
    }
    sl_wr_i32(&req->wr, 0);
    size_t err_at = sl_wr_i16(&req->wr, fenced_code(err, req->api_version >= 2));
    sl_wr_tags(&req->wr, flex);
    return err ? SL_OK : answer_when_durable(b, req, id, &err_at, 1);
}

SL_HANDLER(EndTxn) {
    sl_broker_t *b = req->broker;
    sl_reader_t *rd = &req->rd;
    bool flex = req->flex;
    sl_str_t id = sl_rd_str(rd, flex);
    int64_t pid = sl_rd_i64(rd);
    int16_t epoch = sl_rd_i16(rd);
    bool commit = sl_rd_bool(rd);
    sl_rd_tags(rd, flex);
    if (rd->err) {
        return rd->err;
    }
    int err = KERR_NONE;
    sl_txn_t *t = NULL;
    if (!sl_req_allowed(req, SL_RES_TRANSACTIONAL_ID, id, SL_ACL_WRITE)) {
        err = KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
    } else if ((err = coordinating(b, id)) == KERR_NONE) {
        t = sl_txn_find(b->txn, id, pid, epoch, &err);
    }
    if (t) {
        err = sl_txn_end(b->txn, t, commit, sl_wall_ms());
    }
    sl_wr_i32(&req->wr, 0);
    size_t err_at = sl_wr_i16(&req->wr, fenced_code(err, req->api_version >= 2));
    sl_wr_tags(&req->wr, flex);
    if (err || !sl_txn_prepared(t)) {
        return SL_OK;
    }
    /* Answer when the transaction completes: its decision durable, then every marker (and, for a
     * commit, its offsets). */
    sl_durable_wait_t *w = sl_durable_wait_new(req);
    sl_durable_wait_add_txn(w, t, err_at);
    return sl_durable_wait_park(b, w);
}

/* One partition's offset in TxnOffsetCommit (views into the request). */
typedef struct txn_offset {
    sl_str_t topic, metadata;
    int32_t index, leader_epoch;
    int64_t offset;
} txn_offset_t;

/* Reads TxnOffsetCommit's topics (`n_topics` of them, what follows the count in the request) and
 * writes the response from its throttle time on. Each partition gets `err`, else
 * TOPIC_AUTHORIZATION_FAILED or UNKNOWN_TOPIC_OR_PARTITION, else it is accepted: passed to `take`,
 * in request order, with the position of its error code kept in the array returned (*n_out
 * entries, the caller frees it) for the answer to overwrite or to wait on. rd->err is set when the
 * request is malformed. */
static size_t *read_offsets(sl_req_t *req, int32_t n_topics, int16_t err,
                            void (*take)(void *ctx, const txn_offset_t *o), void *ctx,
                            size_t *n_out) {
    sl_reader_t *rd = &req->rd;
    sl_writer_t *wr = &req->wr;
    bool flex = req->flex;
    int16_t v = req->api_version;
    size_t *err_ats = NULL, n_err_ats = 0;
    sl_wr_i32(wr, 0);
    sl_wr_array_len(wr, flex, n_topics);
    for (int32_t i = 0; i < n_topics && !rd->err; i++) {
        sl_str_t name = sl_rd_str(rd, flex);
        int32_t n = sl_rd_array_len(rd, flex, 12);
        if (rd->err) {
            break;
        }
        sl_topic_t *tp = sl_topic_find(req->broker, name);
        sl_wr_str(wr, flex, name);
        sl_wr_array_len(wr, flex, n);
        for (int32_t k = 0; k < n && !rd->err; k++) {
            txn_offset_t o = {.topic = name};
            o.index = sl_rd_i32(rd);
            o.offset = sl_rd_i64(rd);
            o.leader_epoch = v >= 2 ? sl_rd_i32(rd) : -1;
            o.metadata = sl_rd_str(rd, flex);
            sl_rd_tags(rd, flex);
            int16_t perr = err;
            if (!perr && !sl_req_allowed(req, SL_RES_TOPIC, name, SL_ACL_READ)) {
                perr = KERR_TOPIC_AUTHORIZATION_FAILED;
            }
            if (!perr && (!tp || o.index < 0 || o.index >= tp->n_partitions)) {
                perr = KERR_UNKNOWN_TOPIC_OR_PARTITION;
            }
            sl_wr_i32(wr, o.index);
            size_t at = sl_wr_i16(wr, perr);
            if (!perr && !rd->err) {
                take(ctx, &o);
                err_ats = sl_xrealloc(err_ats, (n_err_ats + 1) * sizeof *err_ats);
                err_ats[n_err_ats++] = at;
            }
            sl_wr_tags(wr, flex);
        }
        sl_rd_tags(rd, flex);
        sl_wr_tags(wr, flex);
    }
    sl_rd_tags(rd, flex);
    sl_wr_tags(wr, flex);
    *n_out = n_err_ats;
    return err_ats;
}

typedef struct batch_ctx {
    sl_itopic_batch_t *bt;
    sl_str_t group;
} batch_ctx_t;

/* read_offsets' take in a cluster: the offset as a record of the group's batch. */
static void offset_to_batch(void *opaque, const txn_offset_t *o) {
    batch_ctx_t *bc = opaque;
    char *g = sl_str_dupz(bc->group), *t = sl_str_dupz(o->topic);
    sl_committed_t c = {o->offset, o->leader_epoch, o->metadata.p ? sl_str_dupz(o->metadata) : NULL,
                        o->metadata.len, bc->bt->now_ms};
    sl_buf_t key = {0}, value = {0};
    sl_offset_rec_key(&key, g, t, o->index);
    sl_offset_rec_put(&value, g, t, o->index, &c);
    sl_itopic_batch_add(bc->bt, &key, &value);
    sl_buf_fini(&key);
    sl_buf_fini(&value);
    free(c.metadata);
    free(t);
    free(g);
}

/* Cluster: TxnOffsetCommit is answered by the group's coordinator (clients send it there), which
 * appends the offsets as one transactional batch of the producer to the group's
 * __consumer_offsets partition and answers once it is replicated; the transaction's marker in
 * that partition (AddOffsetsToTxn added it) commits or drops them (offsets_topic.h). `err` is
 * the request-wide error found so far. */
static sl_err_t txn_offsets_cluster(sl_req_t *req, sl_str_t group, int64_t pid, int16_t epoch,
                                    int32_t n_topics, int err) {
    sl_broker_t *b = req->broker;
    if (!err) {
        err = sl_otopic_check(b, group);
    }
    if (!err) {
        err = coord_code(sl_otopic_writable(b, group));
    }
    sl_itopic_batch_t bt = {.now_ms = sl_wall_ms()};
    batch_ctx_t bc = {&bt, group};
    size_t n_at;
    size_t *err_ats = read_offsets(req, n_topics, (int16_t)err, offset_to_batch, &bc, &n_at);
    if (req->rd.err || bt.n == 0) {
        free(err_ats);
        sl_itopic_batch_fini(&bt);
        return req->rd.err;
    }
    sl_partition_t *p = NULL;
    int64_t end = -1;
    int16_t aerr = sl_otopic_append_txn(b, group, &bt, pid, epoch, &p, &end);
    if (aerr != KERR_NONE) {
        aerr = (int16_t)coord_code(fenced_code(aerr, false));
        for (size_t i = 0; i < n_at; i++) {
            sl_store_be16(req->wr.buf->data + err_ats[i], (uint16_t)aerr);
        }
        free(err_ats);
        sl_itopic_batch_fini(&bt);
        return SL_OK;
    }
    sl_durable_wait_t *w = sl_durable_wait_new(req);
    for (size_t i = 0; i < n_at; i++) {
        sl_durable_wait_add_part(w, p, end, err_ats[i], SIZE_MAX);
    }
    free(err_ats);
    sl_itopic_batch_fini(&bt);
    return sl_durable_wait_park(b, w);
}

typedef struct txn_ctx {
    sl_txn_t *t;
    sl_str_t group;
} txn_ctx_t;

/* read_offsets' take on a single node: the offset joins the transaction's. */
static void offset_to_txn(void *opaque, const txn_offset_t *o) {
    txn_ctx_t *tc = opaque;
    sl_txn_add_group(tc->t, tc->group);
    sl_txn_add_offset(tc->t, tc->group, o->topic, o->index, o->offset, o->leader_epoch,
                      o->metadata);
}

SL_HANDLER(TxnOffsetCommit) {
    sl_broker_t *b = req->broker;
    sl_reader_t *rd = &req->rd;
    bool flex = req->flex;
    int16_t v = req->api_version;
    sl_str_t id = sl_rd_str(rd, flex);
    sl_str_t group = sl_rd_str(rd, flex);
    int64_t pid = sl_rd_i64(rd);
    int16_t epoch = sl_rd_i16(rd);
    int32_t generation = v >= 3 ? sl_rd_i32(rd) : -1;
    sl_str_t member = v >= 3 ? sl_rd_str(rd, flex) : (sl_str_t){"", 0};
    sl_str_t instance = v >= 3 ? sl_rd_str(rd, flex) : (sl_str_t){NULL, 0};
    int32_t n_topics = sl_rd_array_len(rd, flex, 4);
    if (rd->err) {
        return rd->err;
    }
    int err = KERR_NONE;
    sl_txn_t *t = NULL;
    /* Kafka's rules: WRITE on the transactional id, READ on the group and on each topic. */
    if (!sl_req_allowed(req, SL_RES_TRANSACTIONAL_ID, id, SL_ACL_WRITE)) {
        err = KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
    } else if (group.p && !sl_req_allowed(req, SL_RES_GROUP, group, SL_ACL_READ)) {
        err = KERR_GROUP_AUTHORIZATION_FAILED;
    } else if (!group.p) {
        err = KERR_INVALID_REQUEST;
    } else if (b->cluster) {
        /* the group's coordinator answers: the transaction's may be another broker */
        if (v >= 3 && (generation >= 0 || member.len) &&
            (err = sl_otopic_check(b, group)) == KERR_NONE) {
            err = sl_coord_check_commit(b->coord, group, generation, member, instance);
        }
        return txn_offsets_cluster(req, group, pid, epoch, n_topics, err);
    } else {
        t = sl_txn_find(b->txn, id, pid, epoch, &err);
    }
    if (t && t->state != SL_TXN_ONGOING) {
        err = KERR_INVALID_TXN_STATE; /* AddOffsetsToTxn first, and before EndTxn */
    }
    if (!err && !group.p) {
        err = KERR_INVALID_REQUEST;
    }
    if (!err && v >= 3 && (generation >= 0 || member.len)) {
        /* KIP-447: a consumer that lost its partitions in a rebalance may not commit. */
        err = sl_coord_check_commit(b->coord, group, generation, member, instance);
    }
    err = fenced_code(err, false);
    txn_ctx_t tc = {t, group};
    size_t n_err_ats;
    size_t *err_ats = read_offsets(req, n_topics, (int16_t)err, offset_to_txn, &tc, &n_err_ats);
    if (rd->err || n_err_ats == 0) {
        free(err_ats);
        return rd->err;
    }
    if (sl_txn_persist(b->txn, t) != SL_OK) {
        free(err_ats);
        return SL_ERR_IO;
    }
    sl_err_t rc = answer_when_durable(b, req, id, err_ats, n_err_ats);
    free(err_ats);
    return rc;
}

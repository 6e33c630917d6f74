/* handle_fetch.c -- Fetch with long polling and zero-copy record bytes, ListOffsets and
 * OffsetForLeaderEpoch.
 *
 * FetchRequest (v4..v12; flexible from v12): replica_id, max_wait_ms, min_bytes, max_bytes,
 *   isolation_level, session_id (v7+), session_epoch (v7+), topics {topic, partitions
 *   {partition, current_leader_epoch (v9+), fetch_offset, last_fetched_epoch (v12+),
 *   log_start_offset (v5+), partition_max_bytes}}, forgotten_topics_data (v7+), rack_id (v11+)
 * FetchResponse: throttle_time_ms, error_code (v7+), session_id (v7+), responses {topic,
 *   partitions {partition_index, error_code, high_watermark, last_stable_offset,
 *   log_start_offset (v5+), aborted_transactions, preferred_read_replica (v11+), records}}
 *
 * isolation_level 1 (read_committed) reads only below the last stable offset (the first offset
 * of the oldest open transaction) and gets the aborted transactions overlapping what it reads,
 * so the client can drop their records; read_uncommitted reads up to the high watermark.
 * Sessions (KIP-227) are not kept: the answer is always a full response with session_id 0, which
 * tells clients to go on sending full requests. Record bytes go out with sendfile straight from
 * the segment; the response holds a dup of the segment fd, so retention cannot pull the file
 * away mid-send. The first batch of the response is sent whole even if it exceeds max_bytes. */
#include <string.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/replica.h"
#include "broker/wait.h"
#include "common/clock.h"
#include "common/log.h"
#include "proto/kerr.h"
#include "txn/pstate.h"

#define READ_COMMITTED 1

typedef struct fpart {
    int32_t index;
    int16_t err;
    int64_t offset;
    sl_partition_t *p;
    sl_plog_slice_t slice;
} fpart_t;

typedef struct ftopic {
    sl_str_t name;
    int32_t n;
    fpart_t *parts;
} ftopic_t;

static void drop_slices(ftopic_t *topics, int32_t n) {
    for (int32_t i = 0; i < n; i++) {
        for (int32_t j = 0; j < topics[i].n; j++) {
            if (topics[i].parts[j].slice.len > 0) {
                close(topics[i].parts[j].slice.fd);
            }
        }
    }
}

typedef struct aborted_ctx {
    sl_writer_t *wr;
    bool flex;
    int32_t n;
} aborted_ctx_t;

static void count_aborted(const sl_aborted_txn_t *a, void *opaque) {
    (void)a;
    ((aborted_ctx_t *)opaque)->n++;
}

static void put_aborted(const sl_aborted_txn_t *a, void *opaque) {
    aborted_ctx_t *c = opaque;
    sl_wr_i64(c->wr, a->pid);
    sl_wr_i64(c->wr, a->first);
    sl_wr_tags(c->wr, c->flex);
}

/* The aborted transactions a read_committed fetch from `offset` may meet below the LSO. */
static void write_aborted(sl_writer_t *wr, bool flex, sl_partition_t *p, int64_t offset,
                          int64_t lso) {
    aborted_ctx_t c = {wr, flex, 0};
    sl_pstate_aborted(p->pstate, offset, lso, count_aborted, &c);
    sl_wr_array_len(wr, flex, c.n);
    sl_pstate_aborted(p->pstate, offset, lso, put_aborted, &c);
}

bool sl_fetch_run(sl_req_t *req, bool final) {
    sl_broker_t *b = req->broker;
    sl_reader_t *rd = &req->rd;
    int16_t v = req->api_version;
    bool flex = req->flex;
    sl_arena_t arena = {0};

    int32_t replica_id = sl_rd_i32(rd); /* a follower's node id in a cluster, else -1 */
    int32_t max_wait_ms = sl_rd_i32(rd);
    int32_t min_bytes = sl_rd_i32(rd);
    int32_t max_bytes = sl_rd_i32(rd);
    bool committed = sl_rd_i8(rd) == READ_COMMITTED;
    if (v >= 7) {
        (void)sl_rd_i32(rd); /* session_id */
        (void)sl_rd_i32(rd); /* session_epoch */
    }
    int32_t n_topics = sl_rd_array_len(rd, flex, 4);
    if (rd->err) {
        req->rd.err = rd->err;
        return true;
    }
    if (n_topics < 0) {
        n_topics = 0;
    }
    ftopic_t *topics = sl_arena_alloc(&arena, (size_t)n_topics * sizeof *topics);
    size_t total = 0;
    size_t budget = max_bytes > 0 ? (size_t)max_bytes : 0;
    bool any_error = false;
    /* Kafka's rules: a follower (replica_id >= 0) needs CLUSTER_ACTION, a consumer READ on each
     * topic. */
    bool follower_denied = replica_id >= 0 && !sl_req_allowed_cluster(req, SL_ACL_CLUSTER_ACTION);
    for (int32_t ti = 0; ti < n_topics && !rd->err; ti++) {
        ftopic_t *ft = &topics[ti];
        ft->name = sl_rd_str(rd, flex);
        int32_t np = sl_rd_array_len(rd, flex, 16);
        if (rd->err) {
            break;
        }
        ft->n = np < 0 ? 0 : np;
        ft->parts = sl_arena_alloc(&arena, (size_t)ft->n * sizeof *ft->parts);
        sl_topic_t *t = sl_topic_find(b, ft->name);
        int16_t denied =
            follower_denied ? KERR_CLUSTER_AUTHORIZATION_FAILED
            : replica_id < 0 && !sl_req_allowed(req, SL_RES_TOPIC, ft->name, SL_ACL_READ)
                ? KERR_TOPIC_AUTHORIZATION_FAILED
                : KERR_NONE;
        for (int32_t pi = 0; pi < ft->n && !rd->err; pi++) {
            fpart_t *fp = &ft->parts[pi];
            fp->index = sl_rd_i32(rd);
            int32_t cur_epoch = v >= 9 ? sl_rd_i32(rd) : -1; /* current_leader_epoch */
            int64_t offset = sl_rd_i64(rd);
            fp->offset = offset;
            if (v >= 12) {
                (void)sl_rd_i32(rd); /* last_fetched_epoch */
            }
            if (v >= 5) {
                (void)sl_rd_i64(rd); /* log_start_offset (followers only) */
            }
            int32_t part_max = sl_rd_i32(rd);
            sl_rd_tags(rd, flex);
            if (rd->err) {
                break;
            }
            fp->p = t && fp->index >= 0 && fp->index < t->n_partitions ? t->parts[fp->index] : NULL;
            if (denied) {
                fp->p = NULL;
                fp->err = denied;
                any_error = true;
                continue;
            }
            if (!fp->p) {
                fp->err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
                any_error = true;
                continue;
            }
            /* Cluster: the client's epoch must be ours; only the leader serves; a follower's
             * fetch reports its log end. */
            fp->err = sl_replica_epoch_check(fp->p, cur_epoch);
            if (fp->err == KERR_NONE) {
                fp->err = sl_replica_fetch_check(b, fp->p, replica_id, offset);
            }
            if (fp->err != KERR_NONE) {
                any_error = true;
                continue;
            }
            size_t room = total < budget ? budget - total : 0;
            size_t want = SL_MIN(room, part_max > 0 ? (size_t)part_max : 0);
            sl_plog_t *plog = fp->p->plog;
            /* Consumers read below the high watermark, followers up to the log end. */
            int64_t hw =
                b->cluster && replica_id >= 0 ? sl_plog_end_offset(plog) : sl_replica_hw(fp->p);
            int64_t limit = committed ? SL_MIN(sl_partition_lso(fp->p), hw) : hw;
            sl_err_t rc = sl_plog_read(plog, offset, limit, want, &fp->slice);
            if (rc == SL_ERR_LIMIT) {
                fp->err = KERR_OFFSET_OUT_OF_RANGE;
                any_error = true;
                fp->slice.len = 0;
            } else if (rc != SL_OK) {
                fp->err = KERR_KAFKA_STORAGE_ERROR;
                any_error = true;
                fp->slice.len = 0;
            } else if (fp->slice.len > 0 && total > 0 && fp->slice.len > want) {
                /* Only the response's first batch may exceed the limits. */
                close(fp->slice.fd);
                fp->slice.len = 0;
            }
            total += fp->slice.len;
        }
        sl_rd_tags(rd, flex);
    }
    if (!rd->err && v >= 7) {
        int32_t n_forgotten = sl_rd_array_len(rd, flex, 4);
        for (int32_t i = 0; i < n_forgotten && !rd->err; i++) {
            (void)sl_rd_str(rd, flex);
            int32_t n = sl_rd_array_len(rd, flex, 4);
            for (int32_t j = 0; j < n && !rd->err; j++) {
                (void)sl_rd_i32(rd);
            }
            sl_rd_tags(rd, flex);
        }
    }
    if (!rd->err && v >= 11) {
        (void)sl_rd_str(rd, flex); /* rack_id */
    }
    sl_rd_tags(rd, flex);
    if (rd->err) {
        drop_slices(topics, n_topics);
        sl_arena_fini(&arena);
        return true;
    }
    if (!final && !any_error && (int64_t)total < (int64_t)min_bytes && max_wait_ms > 0) {
        drop_slices(topics, n_topics);
        sl_arena_fini(&arena);
        return false;
    }

    /* Over its consumer_byte_rate quota: the data still goes out, and the connection is muted
     * for the time that brings the client back under its quota (told in throttle_time_ms). */
    uint32_t throttle_ms = sl_quota_record(b->quotas, sl_req_principal(req), req->client_id,
                                           SL_QK_CONSUMER_BYTE_RATE, (double)total, sl_mono_ns());
    if (throttle_ms && req->conn) {
        sl_conn_throttle(req->conn, throttle_ms);
        sl_counter_add(b->m_quota_throttled_fetch, 1);
    }
    sl_writer_t *wr = &req->wr;
    sl_wr_i32(wr, (int32_t)throttle_ms);
    if (v >= 7) {
        sl_wr_i16(wr, KERR_NONE);
        sl_wr_i32(wr, 0); /* session_id: no session */
    }
    sl_wr_array_len(wr, flex, n_topics);
    for (int32_t ti = 0; ti < n_topics; ti++) {
        ftopic_t *ft = &topics[ti];
        sl_wr_str(wr, flex, ft->name);
        sl_wr_array_len(wr, flex, ft->n);
        for (int32_t pi = 0; pi < ft->n; pi++) {
            fpart_t *fp = &ft->parts[pi];
            int64_t hw = fp->p ? sl_replica_hw(fp->p) : -1;
            int64_t start = fp->p ? sl_plog_start_offset(fp->p->plog) : -1;
            sl_wr_i32(wr, fp->index);
            sl_wr_i16(wr, fp->err);
            sl_wr_i64(wr, hw);
            int64_t lso = fp->p ? SL_MIN(sl_partition_lso(fp->p), hw) : -1;
            sl_wr_i64(wr, lso);
            if (v >= 5) {
                sl_wr_i64(wr, start);
            }
            if (committed && fp->p && fp->slice.len > 0) {
                write_aborted(wr, flex, fp->p, fp->offset, lso);
            } else {
                sl_wr_array_len(wr, flex, -1); /* aborted_transactions: null */
            }
            if (v >= 11) {
                sl_wr_i32(wr, -1); /* preferred_read_replica */
            }
            if (fp->slice.len > 0) {
                if (flex) {
                    sl_wr_uvarint(wr, fp->slice.len + 1);
                } else {
                    sl_wr_i32(wr, (int32_t)fp->slice.len);
                }
                sl_resp_add_file(req->resp, fp->slice.fd, fp->slice.pos, fp->slice.len);
                sl_counter_add(b->m_bytes_out, fp->slice.len);
                wr->buf = sl_resp_buf(req->resp);
            } else {
                sl_bytes_t empty = {(const uint8_t *)"", 0};
                sl_wr_bytes(wr, flex, empty);
            }
            sl_wr_tags(wr, flex);
        }
        sl_wr_tags(wr, flex);
    }
    sl_wr_tags(wr, flex);
    sl_arena_fini(&arena);
    return true;
}

SL_HANDLER(Fetch) {
    sl_reader_t peek = req->rd;
    (void)sl_rd_i32(&peek);
    int32_t max_wait_ms = sl_rd_i32(&peek);
    if (peek.err) {
        return peek.err;
    }
    if (sl_fetch_run(req, false)) {
        return req->rd.err ? req->rd.err : SL_OK;
    }
    req->rd = sl_reader_init(req->rd.start, (size_t)(req->rd.end - req->rd.start));
    return sl_fetch_wait_park(req->broker, req, (uint64_t)max_wait_ms);
}

/* ListOffsets (v0..v7; flexible from v6): replica_id, isolation_level (v2+), topics {name,
 * partitions {partition_index, current_leader_epoch (v4+), timestamp, max_num_offsets (v0)}}.
 * Response: throttle_time_ms (v2+), topics {name, partitions {partition_index, error_code,
 * old_style_offsets (v0), timestamp (v1+), offset (v1+), leader_epoch (v4+)}}.
 * Timestamps: -1 latest (the last stable offset for read_committed), -2 earliest, -3 max timestamp
 * (v7+: the first record carrying the largest timestamp), otherwise the first record whose
 * timestamp is at or after it (records inside a batch are decoded, as Kafka does). */
SL_HANDLER(ListOffsets) {
    sl_broker_t *b = req->broker;
    sl_reader_t *rd = &req->rd;
    int16_t v = req->api_version;
    bool flex = req->flex;
    sl_writer_t *wr = &req->wr;
    (void)sl_rd_i32(rd); /* replica_id */
    bool committed = v >= 2 && sl_rd_i8(rd) == READ_COMMITTED;
    size_t dcap = (size_t)b->conf.message_max_decompressed_bytes;
    int32_t n_topics = sl_rd_array_len(rd, flex, 4);
    if (rd->err) {
        return rd->err;
    }
    if (v >= 2) {
        sl_wr_i32(wr, 0);
    }
    sl_wr_array_len(wr, flex, n_topics < 0 ? 0 : n_topics);
    for (int32_t ti = 0; ti < n_topics && !rd->err; ti++) {
        sl_str_t name = sl_rd_str(rd, flex);
        int32_t np = sl_rd_array_len(rd, flex, 12);
        if (rd->err) {
            break;
        }
        sl_topic_t *t = sl_topic_find(b, name);
        bool denied = !sl_req_allowed(req, SL_RES_TOPIC, name, SL_ACL_DESCRIBE);
        sl_wr_str(wr, flex, name);
        sl_wr_array_len(wr, flex, np < 0 ? 0 : np);
        for (int32_t pi = 0; pi < np && !rd->err; pi++) {
            int32_t index = sl_rd_i32(rd);
            int32_t cur_epoch = v >= 4 ? sl_rd_i32(rd) : -1; /* current_leader_epoch */
            int64_t ts = sl_rd_i64(rd);
            if (v == 0) {
                (void)sl_rd_i32(rd); /* max_num_offsets */
            }
            sl_rd_tags(rd, flex);
            if (rd->err) {
                break;
            }
            sl_partition_t *p = t && index >= 0 && index < t->n_partitions ? t->parts[index] : NULL;
            int16_t err = KERR_NONE;
            int64_t off = -1, out_ts = -1;
            if (denied) {
                err = KERR_TOPIC_AUTHORIZATION_FAILED;
            } else if (!p) {
                err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
            } else if (sl_plog_offline(p->plog)) {
                err = KERR_KAFKA_STORAGE_ERROR; /* could not be opened at start-up */
            } else if ((err = sl_replica_epoch_check(p, cur_epoch)) != KERR_NONE ||
                       (err = sl_replica_fetch_check(b, p, -1, -1)) != KERR_NONE) {
                /* cluster: the client's epoch must be ours, and only the leader answers */
            } else if (ts == -1) {
                off = committed ? SL_MIN(sl_partition_lso(p), sl_replica_hw(p))
                                : sl_replica_hw(p); /* the high watermark */
            } else if (ts == -2) {
                off = sl_plog_start_offset(p->plog);
            } else if (ts == -3 && v >= 7) {
                if (sl_plog_max_timestamp(p->plog, &b->decomp, dcap, &out_ts, &off) != SL_OK) {
                    err = KERR_KAFKA_STORAGE_ERROR;
                }
            } else if (ts < 0) {
                err = KERR_INVALID_REQUEST;
            } else if (sl_plog_offset_for_time(p->plog, ts, &b->decomp, dcap, &off, &out_ts) !=
                       SL_OK) {
                err = KERR_KAFKA_STORAGE_ERROR;
            }
            sl_wr_i32(wr, index);
            sl_wr_i16(wr, err);
            if (v == 0) {
                sl_wr_array_len(wr, false, off >= 0 ? 1 : 0);
                if (off >= 0) {
                    sl_wr_i64(wr, off);
                }
            } else {
                sl_wr_i64(wr, out_ts);
                sl_wr_i64(wr, off);
                if (v >= 4) {
                    sl_wr_i32(wr, p && p->repl ? p->repl->a.epoch : 0); /* leader_epoch */
                }
            }
            sl_wr_tags(wr, flex);
        }
        sl_rd_tags(rd, flex);
        sl_wr_tags(wr, flex);
    }
    sl_rd_tags(rd, flex);
    sl_wr_tags(wr, flex);
    return rd->err;
}

/* OffsetForLeaderEpoch (v0..v4; flexible from v4; KIP-101/279/320): replica_id (v3+), topics
 * {topic, partitions {partition, current_leader_epoch (v2+), leader_epoch}} -> throttle_time_ms
 * (v2+), topics {topic, partitions {error_code, partition, leader_epoch (v1+), end_offset}}.
 * A client asks it after a leader change to learn where its last fetched epoch ends on the new
 * leader and detect truncation; brokers use their own EPOCH_END op between them (cluster.c).
 * Only the leader answers (NOT_LEADER_OR_FOLLOWER elsewhere); current_leader_epoch is checked
 * as Fetch checks it. */
SL_HANDLER(OffsetForLeaderEpoch) {
    sl_broker_t *b = req->broker;
    sl_reader_t *rd = &req->rd;
    int16_t v = req->api_version;
    bool flex = req->flex;
    sl_writer_t *wr = &req->wr;
    int32_t replica_id = v >= 3 ? sl_rd_i32(rd) : -1;
    int32_t n_topics = sl_rd_array_len(rd, flex, 4);
    if (rd->err) {
        return rd->err;
    }
    bool follower_denied = replica_id >= 0 && !sl_req_allowed_cluster(req, SL_ACL_CLUSTER_ACTION);
    if (v >= 2) {
        sl_wr_i32(wr, 0); /* throttle_time_ms */
    }
    sl_wr_array_len(wr, flex, n_topics < 0 ? 0 : n_topics);
    for (int32_t ti = 0; ti < n_topics && !rd->err; ti++) {
        sl_str_t name = sl_rd_str(rd, flex);
        int32_t np = sl_rd_array_len(rd, flex, 8);
        if (rd->err) {
            break;
        }
        sl_topic_t *t = sl_topic_find(b, name);
        int16_t denied = follower_denied ? KERR_CLUSTER_AUTHORIZATION_FAILED
                         : !sl_req_allowed(req, SL_RES_TOPIC, name, SL_ACL_DESCRIBE)
                             ? KERR_TOPIC_AUTHORIZATION_FAILED
                             : KERR_NONE;
        sl_wr_str(wr, flex, name);
        sl_wr_array_len(wr, flex, np < 0 ? 0 : np);
        for (int32_t pi = 0; pi < np && !rd->err; pi++) {
            int32_t index = sl_rd_i32(rd);
            int32_t cur_epoch = v >= 2 ? sl_rd_i32(rd) : -1;
            int32_t epoch = sl_rd_i32(rd);
            sl_rd_tags(rd, flex);
            if (rd->err) {
                break;
            }
            sl_partition_t *p = t && index >= 0 && index < t->n_partitions ? t->parts[index] : NULL;
            int16_t err = denied;
            int32_t e_out = -1;
            int64_t end = -1;
            if (err != KERR_NONE) {
                /* answered as denied */
            } else if (!p) {
                err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
            } else if (sl_plog_offline(p->plog)) {
                err = KERR_KAFKA_STORAGE_ERROR;
            } else if ((err = sl_replica_epoch_check(p, cur_epoch)) == KERR_NONE) {
                err = sl_replica_client_epoch_end(b, p, epoch, &e_out, &end);
            }
            if (err != KERR_NONE) {
                e_out = -1;
                end = -1;
            }
            sl_wr_i16(wr, err);
            sl_wr_i32(wr, index);
            if (v >= 1) {
                sl_wr_i32(wr, e_out);
            }
            sl_wr_i64(wr, end);
            sl_wr_tags(wr, flex);
        }
        sl_rd_tags(rd, flex);
        sl_wr_tags(wr, flex);
    }
    sl_rd_tags(rd, flex);
    sl_wr_tags(wr, flex);
    return rd->err;
}

/* txn_topic.c -- a cluster's transaction state in __transaction_state (txn_topic.h).
 *
 * Each record is one state of one transactional id: key the id, value txn_coord.c's record
 * (the topic is compacted: the last record of an id wins, as in the coordinator's own file).
 * Batches are uncompressed, without a producer id, one per record. Loading reads the partition
 * from its log start to the log end it had when this broker became leader (everything an old
 * leader acknowledged is there: the new one came from the ISR), at most LOAD_CHUNK_BYTES per
 * loop turn. The local <data.dir>/__transaction_state.log is still written (the coordinator's
 * durability machinery runs on it) but a cluster member never acts on what it replays. */
#include "broker/txn_topic.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/cluster.h"
#include "broker/mstate.h"
#include "broker/offsets_topic.h"
#include "broker/replica.h"
#include "common/clock.h"
#include "common/codec.h"
#include "common/log.h"
#include "proto/kerr.h"
#include "storage/batch.h"
#include "txn/txn_coord.h"

#define LOAD_CHUNK_BYTES (1 << 20)
#define CREATE_RETRY_MS  1000
#define LOAD_RETRY_MS    1000

typedef struct tpart {
    int32_t loaded_epoch;  /* leader epoch the coordinator's ids were loaded under; -1 none */
    int32_t loading_epoch; /* epoch of the load under way; -1 none */
    int64_t next, end;     /* the load's next offset and its target */
    uint64_t retry_ms;     /* after a failed read: not before this (monotonic) */
} tpart_t;

typedef struct sl_ttopic {
    tpart_t *parts;
    int32_t n_parts;
    uint64_t next_create_ms;
} sl_ttopic_t;

static sl_ttopic_t *state(sl_broker_t *b) {
    if (!b->ttopic) {
        b->ttopic = sl_xcalloc(1, sizeof *b->ttopic);
    }
    return b->ttopic;
}

static sl_topic_t *txn_topic(sl_broker_t *b) {
    return sl_topic_find(b, (sl_str_t){SL_TXN_TOPIC, strlen(SL_TXN_TOPIC)});
}

static tpart_t *tpart(sl_broker_t *b, const sl_topic_t *t, int32_t index) {
    sl_ttopic_t *tt = state(b);
    if (tt->n_parts < t->n_partitions) {
        tt->parts = sl_xrealloc(tt->parts, (size_t)t->n_partitions * sizeof *tt->parts);
        for (int32_t i = tt->n_parts; i < t->n_partitions; i++) {
            tt->parts[i] = (tpart_t){-1, -1, 0, 0, 0};
        }
        tt->n_parts = t->n_partitions;
    }
    return &tt->parts[index];
}

sl_partition_t *sl_ttopic_part(sl_broker_t *b, sl_str_t id) {
    sl_topic_t *t = txn_topic(b);
    if (!t || t->n_partitions < 1) {
        return NULL;
    }
    return t->parts[sl_otopic_partition_for(id, t->n_partitions)];
}

int16_t sl_ttopic_check(sl_broker_t *b, sl_str_t id) {
    if (!b->cluster) {
        return KERR_NONE;
    }
    sl_topic_t *t = txn_topic(b);
    sl_partition_t *p = sl_ttopic_part(b, id);
    if (!p) {
        return KERR_COORDINATOR_NOT_AVAILABLE;
    }
    if (!p->repl || !p->repl->leading) {
        return KERR_NOT_COORDINATOR;
    }
    return tpart(b, t, p->index)->loaded_epoch == p->repl->a.epoch
               ? KERR_NONE
               : KERR_COORDINATOR_LOAD_IN_PROGRESS;
}

int16_t sl_ttopic_writable(sl_broker_t *b, sl_str_t id) {
    if (!b->cluster) {
        return KERR_NONE;
    }
    sl_partition_t *p = sl_ttopic_part(b, id);
    if (!p) {
        return KERR_NOT_COORDINATOR;
    }
    int16_t err = sl_replica_produce_check(b, p->topic, p, -1);
    return err == KERR_NOT_LEADER_OR_FOLLOWER ? KERR_NOT_COORDINATOR : err;
}

int16_t sl_ttopic_coordinator(sl_broker_t *b, sl_str_t id, int32_t *node, char *host,
                              size_t host_len, int32_t *port) {
    sl_topic_t *t = txn_topic(b);
    if (!t || t->n_partitions < 1) {
        return KERR_COORDINATOR_NOT_AVAILABLE;
    }
    sl_meta_assign_t a;
    bool live;
    int32_t off[SL_META_MAX_REPLICAS], n_off;
    if (!sl_cluster_partition(b, t->name, sl_otopic_partition_for(id, t->n_partitions), &a, &live,
                              off, &n_off) ||
        a.leader < 0 || !live) {
        return KERR_COORDINATOR_NOT_AVAILABLE;
    }
    sl_mbroker_t bs[SL_MSTATE_MAX_BROKERS];
    size_t nb = SL_MIN(sl_cluster_brokers(b, bs, SL_MSTATE_MAX_BROKERS), SL_MSTATE_MAX_BROKERS);
    for (size_t i = 0; i < nb; i++) {
        if (bs[i].id == a.leader && !bs[i].fenced) {
            *node = bs[i].id;
            snprintf(host, host_len, "%s", bs[i].host);
            *port = bs[i].port;
            return KERR_NONE;
        }
    }
    return KERR_COORDINATOR_NOT_AVAILABLE;
}

/* ---- the coordinator's hooks ---- */

int sl_ttopic_replicate(void *broker, const char *id, const uint8_t *rec, size_t len,
                        int64_t *end_out) {
    sl_broker_t *b = broker;
    sl_str_t sid = {id, strlen(id)};
    sl_partition_t *p = sl_ttopic_part(b, sid);
    if (!p) {
        return KERR_NOT_COORDINATOR;
    }
    int16_t err = sl_replica_produce_check(b, p->topic, p, -1);
    if (err != KERR_NONE) {
        sl_log(SL_LOG_WARN, "txn", "id=%s err=%d msg=\"state record not replicated\"", id, err);
        return err;
    }
    int64_t now = sl_wall_ms();
    sl_otopic_batch_t bt = {.now_ms = now};
    sl_buf_t key = {0}, value = {0};
    sl_buf_append(&key, id, sid.len);
    sl_buf_append(&value, rec, len);
    sl_otopic_batch_add(&bt, &key, &value);
    sl_buf_t batch = {0};
    sl_otopic_build_batch(&bt, -1, -1, false, &batch);
    sl_replica_stamp(p, batch.data, batch.len);
    int64_t base = -1;
    sl_err_t rc = sl_plog_append(p->plog, batch.data, batch.len, now, &base);
    sl_buf_fini(&batch);
    sl_buf_fini(&key);
    sl_buf_fini(&value);
    sl_otopic_batch_fini(&bt);
    if (rc != SL_OK) {
        sl_log(SL_LOG_ERROR, "txn", "partition=%d err=\"%s\" msg=\"state record not appended\"",
               p->index, sl_err_str(rc));
        return KERR_KAFKA_STORAGE_ERROR;
    }
    sl_replica_appended(b, p, base);
    sl_broker_mark_dirty(b, p);
    b->data_arrived = true;
    *end_out = sl_plog_end_offset(p->plog);
    return KERR_NONE;
}

bool sl_ttopic_replicated(void *broker, const char *id, int64_t end) {
    sl_broker_t *b = broker;
    sl_partition_t *p = sl_ttopic_part(b, (sl_str_t){id, strlen(id)});
    int err;
    return p && sl_plog_durable_offset(p->plog) >= end && sl_replica_acked(b, p, end, &err) &&
           err == KERR_NONE;
}

/* ---- loading ---- */

typedef struct match_ctx {
    int32_t index, n;
} match_ctx_t;

static bool in_partition(const char *id, void *opaque) {
    const match_ctx_t *m = opaque;
    return sl_otopic_partition_for((sl_str_t){id, strlen(id)}, m->n) == m->index;
}

/* Replays the records of one uncompressed batch at or after `from` into the coordinator. */
static void apply_batch(sl_broker_t *b, const uint8_t *p, const sl_batch_info_t *info, int64_t from,
                        int32_t index) {
    sl_reader_t rd =
        sl_reader_init(p + SL_BATCH_HEADER_BYTES, info->total_bytes - SL_BATCH_HEADER_BYTES);
    for (int32_t i = 0; i < info->record_count && !rd.err; i++) {
        int32_t len = sl_rd_varint(&rd);
        if (rd.err || len < 0 || (size_t)len > (size_t)(rd.end - rd.p)) {
            break;
        }
        sl_reader_t r = sl_reader_init(rd.p, (size_t)len);
        rd.p += len;
        (void)sl_rd_i8(&r);
        (void)sl_rd_varlong(&r);
        int32_t delta = sl_rd_varint(&r);
        int32_t klen = sl_rd_varint(&r);
        if (klen > 0) {
            (void)sl_rd_raw(&r, (size_t)klen);
        }
        int32_t vlen = sl_rd_varint(&r);
        if (r.err || vlen < 0) {
            continue; /* a tombstone or damage */
        }
        sl_bytes_t v = sl_rd_raw(&r, (size_t)vlen);
        if (r.err || info->base_offset + delta < from) {
            continue;
        }
        if (sl_txn_coord_replay(b->txn, v.p, v.len) != SL_OK) {
            sl_log(SL_LOG_WARN, "txn", "partition=%d offset=%lld msg=\"state record skipped\"",
                   index, (long long)(info->base_offset + delta));
        }
    }
}

/* Reads one chunk of a partition being loaded: 1 once complete, 0 while there is more, -1 when
 * a read failed. */
static int load_chunk(sl_broker_t *b, sl_partition_t *p, tpart_t *o) {
    size_t budget = LOAD_CHUNK_BYTES;
    while (o->next < o->end && budget > 0) {
        sl_plog_slice_t s;
        sl_err_t rc = sl_plog_read(p->plog, o->next, o->end, budget, &s);
        if (rc == SL_ERR_LIMIT && o->next < sl_plog_start_offset(p->plog)) {
            o->next = sl_plog_start_offset(p->plog);
            continue;
        }
        if (rc != SL_OK) {
            sl_log(SL_LOG_ERROR, "txn", "partition=%d err=\"%s\" msg=\"state not loaded\"",
                   p->index, sl_err_str(rc));
            return -1;
        }
        if (s.len == 0) {
            close(s.fd);
            o->next = o->end;
            break;
        }
        uint8_t *buf = sl_xmalloc(s.len);
        ssize_t got = pread(s.fd, buf, s.len, s.pos);
        int saved = errno;
        close(s.fd);
        if (got != (ssize_t)s.len) {
            sl_log(SL_LOG_ERROR, "txn", "partition=%d err=\"%s\" msg=\"state not loaded\"",
                   p->index, got < 0 ? strerror(saved) : "short read");
            free(buf);
            return -1;
        }
        size_t pos = 0;
        int64_t next = o->next;
        while (pos < s.len) {
            sl_batch_info_t info;
            if (sl_batch_parse(buf + pos, s.len - pos, true, &info) != SL_OK) {
                break;
            }
            if ((info.attributes & SL_BATCH_ATTR_CONTROL) == 0 &&
                (info.attributes & SL_BATCH_ATTR_CODEC_MASK) == 0) {
                apply_batch(b, buf + pos, &info, o->next, p->index);
            }
            next = info.base_offset + info.last_offset_delta + 1;
            pos += info.total_bytes;
        }
        free(buf);
        if (next <= o->next) {
            sl_log(SL_LOG_ERROR, "txn", "partition=%d offset=%lld msg=\"state load stuck\"",
                   p->index, (long long)o->next);
            return -1;
        }
        o->next = next;
        budget = budget > s.len ? budget - s.len : 0;
    }
    return o->next >= o->end ? 1 : 0;
}

static void load_partitions(sl_broker_t *b, sl_topic_t *t) {
    for (int32_t i = 0; i < t->n_partitions; i++) {
        sl_partition_t *p = t->parts[i];
        tpart_t *o = tpart(b, t, i);
        match_ctx_t m = {i, t->n_partitions};
        if (!p->repl || !p->repl->leading) {
            if (o->loaded_epoch >= 0 || o->loading_epoch >= 0) {
                /* Another broker coordinates these ids now: nothing more is done for them. */
                sl_txn_coord_forget(b->txn, in_partition, &m);
                sl_log(SL_LOG_INFO, "txn", "partition=%d msg=\"transaction state unloaded\"", i);
            }
            o->loaded_epoch = o->loading_epoch = -1;
            continue;
        }
        int32_t epoch = p->repl->a.epoch;
        if (o->loaded_epoch == epoch) {
            continue;
        }
        if (o->loading_epoch != epoch) {
            sl_txn_coord_forget(b->txn, in_partition, &m);
            o->loading_epoch = epoch;
            o->next = sl_plog_start_offset(p->plog);
            o->end = sl_plog_end_offset(p->plog);
            sl_log(SL_LOG_INFO, "txn",
                   "partition=%d epoch=%d end=%lld msg=\"loading transaction state\"", i,
                   (int)epoch, (long long)o->end);
        }
        uint64_t now = sl_mono_ms();
        if (now < o->retry_ms) {
            continue;
        }
        int rc = load_chunk(b, p, o);
        if (rc > 0) {
            o->loaded_epoch = epoch;
            o->loading_epoch = -1;
            sl_log(SL_LOG_INFO, "txn", "partition=%d epoch=%d msg=\"transaction state loaded\"", i,
                   (int)epoch);
            /* Prepared ones get their markers again; open ones are kept (their timeout). */
            sl_txn_coord_recover_some(b->txn, sl_wall_ms(), in_partition, &m);
        } else if (rc < 0) {
            o->retry_ms = now + LOAD_RETRY_MS;
        }
    }
}

/* ---- creating the topic ---- */

static int32_t voter_count(const sl_broker_t *b) {
    int32_t n = 1;
    for (const char *s = b->conf.controller_quorum_voters; *s; s++) {
        n += *s == ',';
    }
    return n;
}

static void maybe_create(sl_broker_t *b) {
    sl_ttopic_t *tt = state(b);
    uint64_t now = sl_mono_ms();
    if (now < tt->next_create_ms || !sl_cluster_registered(b) ||
        sl_cluster_controller(b) != (int32_t)b->conf.node_id) {
        return;
    }
    tt->next_create_ms = now + CREATE_RETRY_MS;
    int32_t rf = (int32_t)SL_MIN(b->conf.txn_topic_replication_factor, voter_count(b));
    sl_mbroker_t bs[SL_MSTATE_MAX_BROKERS];
    size_t nb = SL_MIN(sl_cluster_brokers(b, bs, SL_MSTATE_MAX_BROKERS), SL_MSTATE_MAX_BROKERS);
    int32_t live = 0;
    for (size_t i = 0; i < nb; i++) {
        live += !bs[i].fenced;
    }
    if (live < rf) {
        return; /* as Kafka: not before transaction.state.log.replication.factor brokers */
    }
    sl_kv_t configs[] = {{"cleanup.policy", "compact"}};
    char err[SL_ERRLEN] = "";
    b->create_rf = rf;
    int rc = sl_topic_create(b, (sl_str_t){SL_TXN_TOPIC, strlen(SL_TXN_TOPIC)},
                             (int32_t)b->conf.txn_topic_num_partitions, configs, 1, false, err);
    b->create_rf = 0;
    if (rc != KERR_NONE && rc != KERR_TOPIC_ALREADY_EXISTS) {
        sl_log(SL_LOG_WARN, "txn", "topic=%s err=%d msg=\"not created: %s\"", SL_TXN_TOPIC, rc,
               err);
    }
}

void sl_ttopic_poll(sl_broker_t *b) {
    if (!b->cluster || !b->txn) {
        return;
    }
    sl_topic_t *t = txn_topic(b);
    if (!t) {
        maybe_create(b);
        return;
    }
    load_partitions(b, t);
}

void sl_ttopic_free(sl_broker_t *b) {
    if (b->ttopic) {
        free(b->ttopic->parts);
        free(b->ttopic);
        b->ttopic = NULL;
    }
}

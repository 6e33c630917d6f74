/* offsets_topic.c -- a cluster's committed offsets in __consumer_offsets (offsets_topic.h).
 *
 * Each record of the topic is one offset change: key group, topic, partition; value the
 * replicated form of group/offset_store.c's record. Batches are written uncompressed, without
 * a producer id, in one batch per OffsetCommit request. Loading reads the partition from its
 * log start to the log end it had when this broker became leader (the new leader's log holds
 * everything an old leader acknowledged: it came from the ISR), at most LOAD_CHUNK_BYTES per
 * loop turn so that a large partition does not stall the loop. */
#include "broker/offsets_topic.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/cluster.h"
#include "broker/mstate.h"
#include "broker/replica.h"
#include "common/clock.h"
#include "common/codec.h"
#include "common/crc32c.h"
#include "common/log.h"
#include "group/coordinator.h"
#include "group/offset_store.h"
#include "proto/kerr.h"
#include "storage/batch.h"
#include "txn/pstate.h"

#define LOAD_CHUNK_BYTES (1 << 20)
#define CREATE_RETRY_MS  1000
#define LOAD_RETRY_MS    1000
#define BATCH_CRC_START  21

typedef struct opart {
    int32_t loaded_epoch;  /* leader epoch the coordinator's state was loaded under; -1 none */
    int32_t loading_epoch; /* epoch of the load under way; -1 none */
    int64_t next, end;     /* the load's next offset and its target */
    uint64_t retry_ms;     /* after a failed read: not before this (monotonic) */
} opart_t;

/* A transactional offset change not yet committed or aborted by its marker. */
typedef struct pending {
    int32_t index; /* offsets partition */
    int64_t pid;
    sl_buf_t value; /* the record's value (group/offset_store.h's replicated form) */
} pending_t;

typedef struct sl_otopic {
    opart_t *parts;
    int32_t n_parts;
    uint64_t next_create_ms;
    pending_t *pending;
    size_t n_pending, cap_pending;
} sl_otopic_t;

int32_t sl_otopic_partition_for(sl_str_t group, int32_t n) {
    uint32_t h = 0;
    for (size_t i = 0; i < group.len; i++) {
        h = 31 * h + (uint8_t)group.p[i];
    }
    return (int32_t)((h & 0x7fffffffu) % (uint32_t)(n > 0 ? n : 1));
}

static sl_otopic_t *state(sl_broker_t *b) {
    if (!b->otopic) {
        b->otopic = sl_xcalloc(1, sizeof *b->otopic);
    }
    return b->otopic;
}

static sl_topic_t *offsets_topic(sl_broker_t *b) {
    return sl_topic_find(b, (sl_str_t){SL_OFFSETS_TOPIC, strlen(SL_OFFSETS_TOPIC)});
}

/* The per-partition load state, grown to the topic's partition count. */
static opart_t *opart(sl_broker_t *b, const sl_topic_t *t, int32_t index) {
    sl_otopic_t *ot = state(b);
    if (ot->n_parts < t->n_partitions) {
        ot->parts = sl_xrealloc(ot->parts, (size_t)t->n_partitions * sizeof *ot->parts);
        for (int32_t i = ot->n_parts; i < t->n_partitions; i++) {
            ot->parts[i] = (opart_t){-1, -1, 0, 0, 0};
        }
        ot->n_parts = t->n_partitions;
    }
    return &ot->parts[index];
}

static sl_partition_t *group_part(sl_broker_t *b, sl_str_t group, sl_topic_t **t_out) {
    sl_topic_t *t = offsets_topic(b);
    *t_out = t;
    if (!t || t->n_partitions < 1) {
        return NULL;
    }
    return t->parts[sl_otopic_partition_for(group, t->n_partitions)];
}

int16_t sl_otopic_check(sl_broker_t *b, sl_str_t group) {
    if (!b->cluster) {
        return KERR_NONE;
    }
    sl_topic_t *t;
    sl_partition_t *p = group_part(b, group, &t);
    if (!p) {
        return KERR_COORDINATOR_NOT_AVAILABLE;
    }
    if (!p->repl || !p->repl->leading) {
        return KERR_NOT_COORDINATOR;
    }
    return opart(b, t, p->index)->loaded_epoch == p->repl->a.epoch
               ? KERR_NONE
               : KERR_COORDINATOR_LOAD_IN_PROGRESS;
}

int16_t sl_otopic_coordinator(sl_broker_t *b, sl_str_t group, int32_t *node, char *host,
                              size_t host_len, int32_t *port) {
    sl_topic_t *t = offsets_topic(b);
    if (!t || t->n_partitions < 1) {
        return KERR_COORDINATOR_NOT_AVAILABLE;
    }
    sl_meta_assign_t a;
    bool live;
    int32_t off[SL_META_MAX_REPLICAS], n_off;
    if (!sl_cluster_partition(b, t->name, sl_otopic_partition_for(group, t->n_partitions), &a,
                              &live, off, &n_off) ||
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

/* ---- writing ---- */

void sl_otopic_batch_add(sl_otopic_batch_t *bt, const sl_buf_t *key, const sl_buf_t *value) {
    sl_buf_t rec = {0};
    sl_writer_t wr = {&rec};
    sl_wr_i8(&wr, 0);         /* attributes */
    sl_wr_varint(&wr, 0);     /* timestamp delta */
    sl_wr_varint(&wr, bt->n); /* offset delta */
    sl_wr_varint(&wr, (int64_t)key->len);
    sl_buf_append(&rec, key->data, key->len);
    sl_wr_varint(&wr, (int64_t)value->len);
    sl_buf_append(&rec, value->data, value->len);
    sl_wr_varint(&wr, 0); /* headers */
    sl_writer_t out = {&bt->recs};
    sl_wr_varint(&out, (int64_t)rec.len);
    sl_buf_append(&bt->recs, rec.data, rec.len);
    sl_buf_fini(&rec);
    bt->n++;
}

void sl_otopic_batch_fini(sl_otopic_batch_t *bt) {
    sl_buf_fini(&bt->recs);
    bt->n = 0;
}

/* The batch around bt's records, base offset 0 (the append assigns it). */
void sl_otopic_build_batch(const sl_otopic_batch_t *bt, int64_t pid, int16_t epoch,
                           bool transactional, sl_buf_t *out) {
    sl_writer_t wr = {out};
    sl_wr_i64(&wr, 0);
    size_t len_at = sl_wr_i32(&wr, 0);
    sl_wr_i32(&wr, -1); /* partitionLeaderEpoch: stamped at the append */
    sl_wr_i8(&wr, 2);
    size_t crc_at = sl_wr_i32(&wr, 0);
    /* attributes: uncompressed, CreateTime */
    sl_wr_i16(&wr, transactional ? SL_BATCH_ATTR_TRANSACTIONAL : 0);
    sl_wr_i32(&wr, bt->n - 1);
    sl_wr_i64(&wr, bt->now_ms);
    sl_wr_i64(&wr, bt->now_ms);
    sl_wr_i64(&wr, pid); /* producerId */
    sl_wr_i16(&wr, epoch);
    sl_wr_i32(&wr, -1); /* baseSequence: none, as Kafka's coordinators write */
    sl_wr_i32(&wr, bt->n);
    sl_buf_append(out, bt->recs.data, bt->recs.len);
    sl_wr_patch_i32(&wr, len_at, (int32_t)(out->len - SL_BATCH_LOG_OVERHEAD));
    sl_wr_patch_i32(&wr, crc_at,
                    (int32_t)sl_crc32c(0, out->data + BATCH_CRC_START, out->len - BATCH_CRC_START));
}

int16_t sl_otopic_writable(sl_broker_t *b, sl_str_t group) {
    if (!b->cluster) {
        return KERR_NONE;
    }
    sl_topic_t *t;
    sl_partition_t *p = group_part(b, group, &t);
    if (!p) {
        return KERR_NOT_COORDINATOR;
    }
    int16_t err = sl_replica_produce_check(b, t, p, -1);
    return err == KERR_NOT_LEADER_OR_FOLLOWER ? KERR_NOT_COORDINATOR : err;
}

static void pending_add(sl_broker_t *b, int32_t index, int64_t pid, const uint8_t *v, size_t len) {
    sl_otopic_t *ot = state(b);
    if (ot->n_pending == ot->cap_pending) {
        ot->cap_pending = ot->cap_pending ? ot->cap_pending * 2 : 16;
        ot->pending = sl_xrealloc(ot->pending, ot->cap_pending * sizeof *ot->pending);
    }
    pending_t *e = &ot->pending[ot->n_pending++];
    e->index = index;
    e->pid = pid;
    e->value = (sl_buf_t){0};
    sl_buf_append(&e->value, v, len);
}

/* Applies (commit) or drops the pending changes of pid in partition `index`, in their order;
 * pid -1 drops every change of the partition. */
static void pending_end(sl_broker_t *b, int32_t index, int64_t pid, bool commit) {
    sl_otopic_t *ot = state(b);
    sl_offset_replay_t rp;
    sl_coord_replay_fns(b->coord, &rp);
    size_t keep = 0;
    for (size_t i = 0; i < ot->n_pending; i++) {
        pending_t *e = &ot->pending[i];
        if (e->index != index || (pid >= 0 && e->pid != pid)) {
            ot->pending[keep++] = *e;
            continue;
        }
        if (commit && sl_offset_rec_apply(&rp, e->value.data, e->value.len) != SL_OK) {
            sl_log(SL_LOG_WARN, "group", "partition=%d msg=\"transactional offset skipped\"",
                   index);
        }
        sl_buf_fini(&e->value);
    }
    ot->n_pending = keep;
}

bool sl_otopic_pending(sl_broker_t *b, sl_str_t group, sl_str_t topic, int32_t partition) {
    sl_otopic_t *ot = b->otopic;
    sl_topic_t *t = offsets_topic(b);
    if (!ot || !t || t->n_partitions < 1) {
        return false;
    }
    int32_t index = sl_otopic_partition_for(group, t->n_partitions);
    sl_buf_t key = {0};
    char *g = sl_str_dupz(group), *tn = sl_str_dupz(topic);
    sl_offset_rec_key(&key, g, tn, partition);
    bool found = false;
    for (size_t i = 0; i < ot->n_pending && !found; i++) {
        /* After its type byte, the value starts with the key's fields. */
        const pending_t *e = &ot->pending[i];
        found = e->index == index && e->value.len >= key.len + 1 &&
                !memcmp(e->value.data + 1, key.data, key.len);
    }
    sl_buf_fini(&key);
    free(g);
    free(tn);
    return found;
}

bool sl_otopic_loaded(sl_broker_t *b, sl_partition_t *p) {
    if (!b->cluster || strcmp(p->topic->name, SL_OFFSETS_TOPIC)) {
        return true;
    }
    return p->repl && p->repl->leading &&
           opart(b, p->topic, p->index)->loaded_epoch == p->repl->a.epoch;
}

void sl_otopic_marker(sl_broker_t *b, sl_partition_t *p, int64_t pid, int type) {
    if (b->cluster && !strcmp(p->topic->name, SL_OFFSETS_TOPIC)) {
        pending_end(b, p->index, pid, type == SL_CONTROL_COMMIT);
    }
}

int16_t sl_otopic_append_txn(sl_broker_t *b, sl_str_t group, sl_otopic_batch_t *bt, int64_t pid,
                             int16_t epoch, sl_partition_t **p_out, int64_t *end_out) {
    sl_topic_t *t;
    sl_partition_t *p = group_part(b, group, &t);
    if (!p) {
        return KERR_NOT_COORDINATOR;
    }
    int16_t err = sl_replica_produce_check(b, t, p, -1);
    if (err != KERR_NONE) {
        return err == KERR_NOT_LEADER_OR_FOLLOWER ? KERR_NOT_COORDINATOR : err;
    }
    if (sl_pstate_epoch(p->pstate, pid) > epoch) {
        return KERR_PRODUCER_FENCED;
    }
    sl_buf_t batch = {0};
    sl_otopic_build_batch(bt, pid, epoch, true, &batch);
    sl_replica_stamp(p, batch.data, batch.len);
    int64_t base = -1;
    sl_err_t rc = sl_plog_append(p->plog, batch.data, batch.len, bt->now_ms, &base);
    sl_buf_fini(&batch);
    if (rc != SL_OK) {
        sl_log(SL_LOG_ERROR, "group", "partition=%d err=\"%s\" msg=\"offsets not appended\"",
               p->index, sl_err_str(rc));
        return KERR_KAFKA_STORAGE_ERROR;
    }
    sl_replica_appended(b, p, base);
    if (sl_pstate_txn_first(p->pstate, pid) < 0) {
        sl_pstate_txn_begin(p->pstate, pid, epoch, base); /* the marker finds it open */
    }
    /* Held until the transaction's marker in this partition commits or drops them. */
    sl_reader_t rd = sl_reader_init(bt->recs.data, bt->recs.len);
    for (int32_t i = 0; i < bt->n && !rd.err; i++) {
        int32_t len = sl_rd_varint(&rd);
        if (rd.err || len < 0 || (size_t)len > (size_t)(rd.end - rd.p)) {
            break;
        }
        sl_reader_t r = sl_reader_init(rd.p, (size_t)len);
        rd.p += len;
        (void)sl_rd_i8(&r);
        (void)sl_rd_varlong(&r);
        (void)sl_rd_varint(&r);
        int32_t klen = sl_rd_varint(&r);
        if (klen > 0) {
            (void)sl_rd_raw(&r, (size_t)klen);
        }
        int32_t vlen = sl_rd_varint(&r);
        sl_bytes_t v = vlen >= 0 ? sl_rd_raw(&r, (size_t)vlen) : (sl_bytes_t){NULL, 0};
        if (!r.err && v.p) {
            pending_add(b, p->index, pid, v.p, v.len);
        }
    }
    sl_broker_mark_dirty(b, p);
    b->data_arrived = true;
    *p_out = p;
    *end_out = sl_plog_end_offset(p->plog);
    return KERR_NONE;
}

int16_t sl_otopic_append(sl_broker_t *b, sl_str_t group, sl_otopic_batch_t *bt,
                         sl_partition_t **p_out, int64_t *end_out) {
    sl_topic_t *t;
    sl_partition_t *p = group_part(b, group, &t);
    if (!p) {
        return KERR_NOT_COORDINATOR;
    }
    int16_t err = sl_replica_produce_check(b, t, p, -1);
    if (err != KERR_NONE) {
        return err == KERR_NOT_LEADER_OR_FOLLOWER ? KERR_NOT_COORDINATOR : err;
    }
    if (bt->n == 0) {
        return KERR_NONE;
    }
    sl_buf_t batch = {0};
    sl_otopic_build_batch(bt, -1, -1, false, &batch);
    sl_replica_stamp(p, batch.data, batch.len);
    int64_t base = -1;
    sl_err_t rc = sl_plog_append(p->plog, batch.data, batch.len, bt->now_ms, &base);
    sl_buf_fini(&batch);
    if (rc != SL_OK) {
        sl_log(SL_LOG_ERROR, "group", "partition=%d err=\"%s\" msg=\"offsets not appended\"",
               p->index, sl_err_str(rc));
        return KERR_KAFKA_STORAGE_ERROR;
    }
    sl_replica_appended(b, p, base);
    sl_broker_mark_dirty(b, p);
    b->data_arrived = true;
    *p_out = p;
    *end_out = sl_plog_end_offset(p->plog);
    return KERR_NONE;
}

/* ---- loading ---- */

typedef struct match_ctx {
    int32_t index, n;
} match_ctx_t;

static bool in_partition(const char *group, void *opaque) {
    const match_ctx_t *m = opaque;
    return sl_otopic_partition_for((sl_str_t){group, strlen(group)}, m->n) == m->index;
}

/* Applies the records of one uncompressed batch at or after `from` (a transactional batch's
 * are held until its marker). */
static void apply_batch(sl_broker_t *b, const uint8_t *p, const sl_batch_info_t *info, int64_t from,
                        int32_t index) {
    bool txn = (info->attributes & SL_BATCH_ATTR_TRANSACTIONAL) && info->producer_id >= 0;
    sl_offset_replay_t rp;
    sl_coord_replay_fns(b->coord, &rp);
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
            continue; /* a tombstone (null value) or damage: nothing to apply */
        }
        sl_bytes_t v = sl_rd_raw(&r, (size_t)vlen);
        if (r.err || info->base_offset + delta < from) {
            continue;
        }
        if (txn) {
            pending_add(b, index, info->producer_id, v.p, v.len);
        } else if (sl_offset_rec_apply(&rp, v.p, v.len) != SL_OK) {
            sl_log(SL_LOG_WARN, "group", "partition=%d offset=%lld msg=\"offsets record skipped\"",
                   index, (long long)(info->base_offset + delta));
        }
    }
}

/* Reads one chunk of a partition being loaded: 1 once the load is complete, 0 while there is
 * more, -1 when a read failed. */
static int load_chunk(sl_broker_t *b, sl_partition_t *p, opart_t *o) {
    size_t budget = LOAD_CHUNK_BYTES;
    while (o->next < o->end && budget > 0) {
        sl_plog_slice_t s;
        sl_err_t rc = sl_plog_read(p->plog, o->next, o->end, budget, &s);
        if (rc == SL_ERR_LIMIT && o->next < sl_plog_start_offset(p->plog)) {
            o->next = sl_plog_start_offset(p->plog); /* retention moved the start meanwhile */
            continue;
        }
        if (rc != SL_OK) {
            sl_log(SL_LOG_ERROR, "group", "partition=%d err=\"%s\" msg=\"offsets not loaded\"",
                   p->index, sl_err_str(rc));
            return -1; /* tried again later; the groups stay loading */
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
            sl_log(SL_LOG_ERROR, "group", "partition=%d err=\"%s\" msg=\"offsets not loaded\"",
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
            } else if ((info.attributes & SL_BATCH_ATTR_CONTROL) && info.producer_id >= 0 &&
                       info.base_offset >= o->next) {
                int type = sl_batch_control_type(buf + pos, s.len - pos);
                if (type >= 0) {
                    pending_end(b, p->index, info.producer_id, type == SL_CONTROL_COMMIT);
                }
            }
            next = info.base_offset + info.last_offset_delta + 1;
            pos += info.total_bytes;
        }
        free(buf);
        if (next <= o->next) {
            sl_log(SL_LOG_ERROR, "group", "partition=%d offset=%lld msg=\"offsets load stuck\"",
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
        opart_t *o = opart(b, t, i);
        if (!p->repl || !p->repl->leading) {
            o->loaded_epoch = o->loading_epoch = -1;
            continue;
        }
        int32_t epoch = p->repl->a.epoch;
        if (o->loaded_epoch == epoch) {
            continue;
        }
        if (o->loading_epoch != epoch) {
            /* What this broker held for these groups may be stale or never replicated. */
            match_ctx_t m = {i, t->n_partitions};
            sl_coord_forget_offsets(b->coord, in_partition, &m);
            pending_end(b, i, -1, false);
            o->loading_epoch = epoch;
            o->next = sl_plog_start_offset(p->plog);
            o->end = sl_plog_end_offset(p->plog);
            sl_log(SL_LOG_INFO, "group", "partition=%d epoch=%d end=%lld msg=\"loading offsets\"",
                   i, (int)epoch, (long long)o->end);
        }
        uint64_t now = sl_mono_ms();
        if (now < o->retry_ms) {
            continue;
        }
        int rc = load_chunk(b, p, o);
        if (rc > 0) {
            o->loaded_epoch = epoch;
            o->loading_epoch = -1;
            sl_log(SL_LOG_INFO, "group", "partition=%d epoch=%d msg=\"offsets loaded\"", i,
                   (int)epoch);
        } else if (rc < 0) {
            o->retry_ms = now + LOAD_RETRY_MS; /* a read failed: not again at once */
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
    sl_otopic_t *ot = state(b);
    uint64_t now = sl_mono_ms();
    if (now < ot->next_create_ms || !sl_cluster_registered(b) ||
        sl_cluster_controller(b) != (int32_t)b->conf.node_id) {
        return;
    }
    ot->next_create_ms = now + CREATE_RETRY_MS;
    int32_t rf = (int32_t)SL_MIN(b->conf.offsets_topic_replication_factor, voter_count(b));
    sl_mbroker_t bs[SL_MSTATE_MAX_BROKERS];
    size_t nb = SL_MIN(sl_cluster_brokers(b, bs, SL_MSTATE_MAX_BROKERS), SL_MSTATE_MAX_BROKERS);
    int32_t live = 0;
    for (size_t i = 0; i < nb; i++) {
        live += !bs[i].fenced;
    }
    if (live < rf) {
        return; /* as Kafka: not before offsets.topic.replication.factor brokers are up */
    }
    sl_kv_t configs[] = {{"cleanup.policy", "compact"}};
    char err[SL_ERRLEN] = "";
    b->create_rf = rf;
    int rc = sl_topic_create(b, (sl_str_t){SL_OFFSETS_TOPIC, strlen(SL_OFFSETS_TOPIC)},
                             (int32_t)b->conf.offsets_topic_num_partitions, configs, 1, false, err);
    b->create_rf = 0;
    if (rc != KERR_NONE && rc != KERR_TOPIC_ALREADY_EXISTS) {
        sl_log(SL_LOG_WARN, "group", "topic=%s err=%d msg=\"not created: %s\"", SL_OFFSETS_TOPIC,
               rc, err);
    }
}

void sl_otopic_poll(sl_broker_t *b) {
    if (!b->cluster) {
        return;
    }
    sl_topic_t *t = offsets_topic(b);
    if (!t) {
        maybe_create(b);
        return;
    }
    load_partitions(b, t);
}

void sl_otopic_free(sl_broker_t *b) {
    if (b->otopic) {
        for (size_t i = 0; i < b->otopic->n_pending; i++) {
            sl_buf_fini(&b->otopic->pending[i].value);
        }
        free(b->otopic->pending);
        free(b->otopic->parts);
        free(b->otopic);
        b->otopic = NULL;
    }
}

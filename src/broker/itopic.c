/* itopic.c -- the machinery of a cluster's internal topics (itopic.h): partition for a key,
 * creation, per-partition loading, coordinator lookup and the append.
 *
 * Batches are written uncompressed, with the coordinator's timestamps and no sequence numbers.
 * Loading reads at most LOAD_CHUNK_BYTES per partition and loop turn, so that a large partition
 * does not stall the loop; a failed read is tried again LOAD_RETRY_MS later, the keys staying
 * COORDINATOR_LOAD_IN_PROGRESS meanwhile. */
#include "broker/itopic.h"

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
#include "proto/kerr.h"
#include "txn/pstate.h"

#define LOAD_CHUNK_BYTES (1 << 20)
#define CREATE_RETRY_MS  1000
#define LOAD_RETRY_MS    1000
#define BATCH_CRC_START  21

int32_t sl_itopic_partition_for(sl_str_t key, int32_t n) {
    uint32_t h = 0;
    for (size_t i = 0; i < key.len; i++) {
        h = 31 * h + (uint8_t)key.p[i];
    }
    return (int32_t)((h & 0x7fffffffu) % (uint32_t)(n > 0 ? n : 1));
}

bool sl_itopic_in_partition(const char *key, void *match) {
    const sl_itopic_match_t *m = match;
    return sl_itopic_partition_for((sl_str_t){key, strlen(key)}, m->n) == m->index;
}

void sl_itopic_init(sl_itopic_t *it, const sl_itopic_ops_t *ops) {
    *it = (sl_itopic_t){.ops = ops};
}

void sl_itopic_fini(sl_itopic_t *it) {
    free(it->parts);
    it->parts = NULL;
    it->n_parts = 0;
}

sl_topic_t *sl_itopic_topic(sl_broker_t *b, const sl_itopic_t *it) {
    return sl_topic_find(b, (sl_str_t){it->ops->name, strlen(it->ops->name)});
}

sl_partition_t *sl_itopic_part(sl_broker_t *b, const sl_itopic_t *it, sl_str_t key) {
    sl_topic_t *t = sl_itopic_topic(b, it);
    if (!t || t->n_partitions < 1) {
        return NULL;
    }
    return t->parts[sl_itopic_partition_for(key, t->n_partitions)];
}

/* The load state of partition `index` of t, the table grown to t's partition count. */
static sl_itopic_part_t *part_state(sl_itopic_t *it, const sl_topic_t *t, int32_t index) {
    if (it->n_parts < t->n_partitions) {
        it->parts = sl_xrealloc(it->parts, (size_t)t->n_partitions * sizeof *it->parts);
        for (int32_t i = it->n_parts; i < t->n_partitions; i++) {
            it->parts[i] = (sl_itopic_part_t){-1, -1, 0, 0, 0};
        }
        it->n_parts = t->n_partitions;
    }
    return &it->parts[index];
}

bool sl_itopic_loaded(sl_itopic_t *it, sl_partition_t *p) {
    return p->repl && p->repl->leading &&
           part_state(it, p->topic, p->index)->loaded_epoch == p->repl->a.epoch;
}

int16_t sl_itopic_check(sl_broker_t *b, sl_itopic_t *it, sl_str_t key) {
    if (!b->cluster) {
        return KERR_NONE;
    }
    sl_partition_t *p = sl_itopic_part(b, it, key);
    if (!p) {
        return KERR_COORDINATOR_NOT_AVAILABLE;
    }
    if (!p->repl || !p->repl->leading) {
        return KERR_NOT_COORDINATOR;
    }
    return sl_itopic_loaded(it, p) ? KERR_NONE : KERR_COORDINATOR_LOAD_IN_PROGRESS;
}

/* The produce check of an append to p, in a coordinator's words. */
static int16_t produce_check(sl_broker_t *b, sl_partition_t *p) {
    int16_t err = sl_replica_produce_check(b, p->topic, p, -1);
    return err == KERR_NOT_LEADER_OR_FOLLOWER ? KERR_NOT_COORDINATOR : err;
}

int16_t sl_itopic_writable(sl_broker_t *b, const sl_itopic_t *it, sl_str_t key) {
    if (!b->cluster) {
        return KERR_NONE;
    }
    sl_partition_t *p = sl_itopic_part(b, it, key);
    return p ? produce_check(b, p) : KERR_NOT_COORDINATOR;
}

int16_t sl_itopic_coordinator(sl_broker_t *b, const sl_itopic_t *it, sl_str_t key, int32_t *node,
                              char *host, size_t host_len, int32_t *port) {
    sl_topic_t *t = sl_itopic_topic(b, it);
    if (!t || t->n_partitions < 1) {
        return KERR_COORDINATOR_NOT_AVAILABLE;
    }
    sl_meta_assign_t a;
    bool live;
    int32_t off[SL_META_MAX_REPLICAS], n_off;
    if (!sl_cluster_partition(b, t->name, sl_itopic_partition_for(key, t->n_partitions), &a, &live,
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

/* ---- writing ---- */

void sl_itopic_batch_add(sl_itopic_batch_t *bt, const sl_buf_t *key, const sl_buf_t *value) {
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

void sl_itopic_batch_fini(sl_itopic_batch_t *bt) {
    sl_buf_fini(&bt->recs);
    bt->n = 0;
}

void sl_itopic_build_batch(const sl_itopic_batch_t *bt, int64_t pid, int16_t epoch,
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

void sl_itopic_each_value(const uint8_t *recs, size_t len, int32_t n,
                          void (*fn)(void *ctx, int32_t delta, sl_bytes_t value), void *ctx) {
    sl_reader_t rd = sl_reader_init(recs, len);
    for (int32_t i = 0; i < n && !rd.err; i++) {
        int32_t rlen = sl_rd_varint(&rd);
        if (rd.err || rlen < 0 || (size_t)rlen > (size_t)(rd.end - rd.p)) {
            break;
        }
        sl_reader_t r = sl_reader_init(rd.p, (size_t)rlen);
        rd.p += rlen;
        (void)sl_rd_i8(&r);      /* attributes */
        (void)sl_rd_varlong(&r); /* timestamp delta */
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
        if (!r.err) {
            fn(ctx, delta, v);
        }
    }
}

int16_t sl_itopic_append(sl_broker_t *b, const sl_itopic_t *it, sl_str_t key,
                         const sl_itopic_batch_t *bt, int64_t pid, int16_t epoch,
                         sl_partition_t **p_out, int64_t *end_out) {
    sl_partition_t *p = sl_itopic_part(b, it, key);
    if (!p) {
        return KERR_NOT_COORDINATOR;
    }
    int16_t err = produce_check(b, p);
    if (err != KERR_NONE) {
        return err;
    }
    if (bt->n == 0) {
        return KERR_NONE;
    }
    bool txn = pid >= 0;
    if (txn && sl_pstate_epoch(p->pstate, pid) > epoch) {
        return KERR_PRODUCER_FENCED;
    }
    sl_buf_t batch = {0};
    sl_itopic_build_batch(bt, pid, epoch, txn, &batch);
    sl_replica_stamp(p, batch.data, batch.len);
    int64_t base = -1;
    sl_err_t rc = sl_plog_append(p->plog, batch.data, batch.len, bt->now_ms, &base);
    sl_buf_fini(&batch);
    if (rc != SL_OK) {
        sl_log(SL_LOG_ERROR, it->ops->fac, "partition=%d err=\"%s\" msg=\"%s not appended\"",
               p->index, sl_err_str(rc), it->ops->what);
        return KERR_KAFKA_STORAGE_ERROR;
    }
    sl_replica_appended(b, p, base);
    if (txn && sl_pstate_txn_first(p->pstate, pid) < 0) {
        sl_pstate_txn_begin(p->pstate, pid, epoch, base); /* the marker finds it open */
    }
    sl_broker_mark_dirty(b, p);
    b->data_arrived = true;
    *p_out = p;
    *end_out = sl_plog_end_offset(p->plog);
    return KERR_NONE;
}

/* ---- loading ---- */

typedef struct load_ctx {
    sl_broker_t *b;
    const sl_itopic_t *it;
    int32_t index;
    const sl_batch_info_t *info;
    int64_t from; /* records before this offset are not loaded again */
} load_ctx_t;

static void load_value(void *opaque, int32_t delta, sl_bytes_t value) {
    const load_ctx_t *lc = opaque;
    int64_t offset = lc->info->base_offset + delta;
    if (offset >= lc->from) {
        lc->it->ops->record(lc->b, lc->index, lc->info, offset, value);
    }
}

/* Hands one batch read from partition p (at `pos`, `info` parsed) to the module: each record of
 * an uncompressed data batch, or a producer's marker, at or after `from`. */
static void load_batch(sl_broker_t *b, const sl_itopic_t *it, sl_partition_t *p, const uint8_t *pos,
                       size_t avail, const sl_batch_info_t *info, int64_t from) {
    if ((info->attributes & SL_BATCH_ATTR_CONTROL) == 0 &&
        (info->attributes & SL_BATCH_ATTR_CODEC_MASK) == 0) {
        load_ctx_t lc = {b, it, p->index, info, from};
        sl_itopic_each_value(pos + SL_BATCH_HEADER_BYTES, info->total_bytes - SL_BATCH_HEADER_BYTES,
                             info->record_count, load_value, &lc);
    } else if ((info->attributes & SL_BATCH_ATTR_CONTROL) && it->ops->marker &&
               info->producer_id >= 0 && info->base_offset >= from) {
        int type = sl_batch_control_type(pos, avail);
        if (type >= 0) {
            it->ops->marker(b, p->index, info->producer_id, type);
        }
    }
}

/* Reads one chunk of a partition being loaded: 1 once the load is complete, 0 while there is
 * more, -1 when a read failed. */
static int load_chunk(sl_broker_t *b, const sl_itopic_t *it, sl_partition_t *p,
                      sl_itopic_part_t *o) {
    const char *fac = it->ops->fac, *what = it->ops->what;
    size_t budget = LOAD_CHUNK_BYTES;
    while (o->next < o->end && budget > 0) {
        sl_plog_slice_t s;
        sl_err_t rc = sl_plog_read(p->plog, o->next, o->end, budget, &s);
        if (rc == SL_ERR_LIMIT && o->next < sl_plog_start_offset(p->plog)) {
            o->next = sl_plog_start_offset(p->plog); /* retention moved the start meanwhile */
            continue;
        }
        if (rc != SL_OK) {
            sl_log(SL_LOG_ERROR, fac, "partition=%d err=\"%s\" msg=\"%s not loaded\"", p->index,
                   sl_err_str(rc), what);
            return -1; /* tried again later; the keys stay loading */
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
            sl_log(SL_LOG_ERROR, fac, "partition=%d err=\"%s\" msg=\"%s not loaded\"", p->index,
                   got < 0 ? strerror(saved) : "short read", what);
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
            load_batch(b, it, p, buf + pos, s.len - pos, &info, o->next);
            next = info.base_offset + info.last_offset_delta + 1;
            pos += info.total_bytes;
        }
        free(buf);
        if (next <= o->next) {
            sl_log(SL_LOG_ERROR, fac, "partition=%d offset=%lld msg=\"%s load stuck\"", p->index,
                   (long long)o->next, what);
            return -1;
        }
        o->next = next;
        budget = budget > s.len ? budget - s.len : 0;
    }
    return o->next >= o->end ? 1 : 0;
}

static void load_partitions(sl_broker_t *b, sl_itopic_t *it, sl_topic_t *t) {
    const sl_itopic_ops_t *ops = it->ops;
    for (int32_t i = 0; i < t->n_partitions; i++) {
        sl_partition_t *p = t->parts[i];
        sl_itopic_part_t *o = part_state(it, t, i);
        sl_itopic_match_t m = {i, t->n_partitions};
        if (!p->repl || !p->repl->leading) {
            if ((o->loaded_epoch >= 0 || o->loading_epoch >= 0) && ops->unloaded) {
                ops->unloaded(b, &m);
            }
            o->loaded_epoch = o->loading_epoch = -1;
            continue;
        }
        int32_t epoch = p->repl->a.epoch;
        if (o->loaded_epoch == epoch) {
            continue;
        }
        if (o->loading_epoch != epoch) {
            ops->forget(b, &m);
            o->loading_epoch = epoch;
            o->next = sl_plog_start_offset(p->plog);
            o->end = sl_plog_end_offset(p->plog);
            sl_log(SL_LOG_INFO, ops->fac, "partition=%d epoch=%d end=%lld msg=\"loading %s\"", i,
                   (int)epoch, (long long)o->end, ops->what);
        }
        uint64_t now = sl_mono_ms();
        if (now < o->retry_ms) {
            continue;
        }
        int rc = load_chunk(b, it, p, o);
        if (rc > 0) {
            o->loaded_epoch = epoch;
            o->loading_epoch = -1;
            sl_log(SL_LOG_INFO, ops->fac, "partition=%d epoch=%d msg=\"%s loaded\"", i, (int)epoch,
                   ops->what);
            if (ops->loaded) {
                ops->loaded(b, &m);
            }
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

static void maybe_create(sl_broker_t *b, sl_itopic_t *it, int32_t partitions, int64_t rf_conf) {
    uint64_t now = sl_mono_ms();
    if (now < it->next_create_ms || !sl_cluster_registered(b) ||
        sl_cluster_controller(b) != (int32_t)b->conf.node_id) {
        return;
    }
    it->next_create_ms = now + CREATE_RETRY_MS;
    int32_t rf = (int32_t)SL_MIN(rf_conf, voter_count(b));
    sl_mbroker_t bs[SL_MSTATE_MAX_BROKERS];
    size_t nb = SL_MIN(sl_cluster_brokers(b, bs, SL_MSTATE_MAX_BROKERS), SL_MSTATE_MAX_BROKERS);
    int32_t live = 0;
    for (size_t i = 0; i < nb; i++) {
        live += !bs[i].fenced;
    }
    if (live < rf) {
        return; /* as Kafka: not before replication-factor brokers are up */
    }
    sl_kv_t configs[] = {{"cleanup.policy", "compact"}};
    char err[SL_ERRLEN] = "";
    b->create_rf = rf;
    const char *name = it->ops->name;
    int rc = sl_topic_create(b, (sl_str_t){name, strlen(name)}, partitions, configs, 1, false, err);
    b->create_rf = 0;
    if (rc != KERR_NONE && rc != KERR_TOPIC_ALREADY_EXISTS) {
        sl_log(SL_LOG_WARN, it->ops->fac, "topic=%s err=%d msg=\"not created: %s\"", name, rc, err);
    }
}

void sl_itopic_poll(sl_broker_t *b, sl_itopic_t *it, int32_t partitions, int64_t rf) {
    sl_topic_t *t = sl_itopic_topic(b, it);
    if (!t) {
        maybe_create(b, it, partitions, rf);
        return;
    }
    load_partitions(b, it, t);
}

/* txn_topic.c -- a cluster's transaction state in __transaction_state (txn_topic.h), on the
 * internal-topic machinery of itopic.c.
 *
 * Each record is one state of one transactional id: key the id, value txn_coord.c's record
 * (the topic is compacted: the last record of an id wins, as in the coordinator's own file).
 * Batches are uncompressed, without a producer id, one per record. The local
 * <data.dir>/__transaction_state.log is still written (the coordinator's durability machinery
 * runs on it) but a cluster member never acts on what it replays. */
#include "broker/txn_topic.h"

#include <stdlib.h>
#include <string.h>

#include "broker/itopic.h"
#include "broker/replica.h"
#include "common/clock.h"
#include "common/log.h"
#include "proto/kerr.h"
#include "txn/txn_coord.h"

typedef struct sl_ttopic {
    sl_itopic_t it;
} sl_ttopic_t;

static void forget(sl_broker_t *b, sl_itopic_match_t *m);
static void load_record(sl_broker_t *b, int32_t index, const sl_batch_info_t *info, int64_t offset,
                        sl_bytes_t value);
static void loaded(sl_broker_t *b, sl_itopic_match_t *m);
static void unloaded(sl_broker_t *b, sl_itopic_match_t *m);

static const sl_itopic_ops_t ops = {
    .name = SL_TXN_TOPIC,
    .fac = "txn",
    .what = "transaction state",
    .forget = forget,
    .record = load_record,
    .loaded = loaded,
    .unloaded = unloaded,
};

static sl_itopic_t *itopic(sl_broker_t *b) {
    if (!b->ttopic) {
        b->ttopic = sl_xcalloc(1, sizeof *b->ttopic);
        sl_itopic_init(&b->ttopic->it, &ops);
    }
    return &b->ttopic->it;
}

sl_partition_t *sl_ttopic_part(sl_broker_t *b, sl_str_t id) {
    return sl_itopic_part(b, itopic(b), id);
}

int16_t sl_ttopic_check(sl_broker_t *b, sl_str_t id) {
    return sl_itopic_check(b, itopic(b), id);
}

int16_t sl_ttopic_writable(sl_broker_t *b, sl_str_t id) {
    return sl_itopic_writable(b, itopic(b), id);
}

int16_t sl_ttopic_coordinator(sl_broker_t *b, sl_str_t id, int32_t *node, char *host,
                              size_t host_len, int32_t *port) {
    return sl_itopic_coordinator(b, itopic(b), id, node, host, host_len, port);
}

/* ---- the coordinator's hooks ---- */

int sl_ttopic_replicate(void *broker, const char *id, const uint8_t *rec, size_t len,
                        int64_t *end_out) {
    sl_broker_t *b = broker;
    sl_str_t sid = {id, strlen(id)};
    sl_itopic_batch_t bt = {.now_ms = sl_wall_ms()};
    sl_buf_t key = {0}, value = {0};
    sl_buf_append(&key, id, sid.len);
    sl_buf_append(&value, rec, len);
    sl_itopic_batch_add(&bt, &key, &value);
    sl_partition_t *p = NULL;
    int16_t err = sl_itopic_append(b, itopic(b), sid, &bt, -1, -1, &p, end_out);
    sl_buf_fini(&key);
    sl_buf_fini(&value);
    sl_itopic_batch_fini(&bt);
    if (err != KERR_NONE && err != KERR_KAFKA_STORAGE_ERROR) {
        sl_log(SL_LOG_WARN, "txn", "id=%s err=%d msg=\"state record not replicated\"", id, err);
    }
    return err;
}

bool sl_ttopic_replicated(void *broker, const char *id, int64_t end) {
    sl_broker_t *b = broker;
    sl_partition_t *p = sl_ttopic_part(b, (sl_str_t){id, strlen(id)});
    int err;
    return p && sl_plog_durable_offset(p->plog) >= end && sl_replica_acked(b, p, end, &err) &&
           err == KERR_NONE;
}

/* ---- loading (itopic.c's callbacks) ---- */

static void forget(sl_broker_t *b, sl_itopic_match_t *m) {
    sl_txn_coord_forget(b->txn, sl_itopic_in_partition, m);
}

/* Replays one state record into the coordinator. */
static void load_record(sl_broker_t *b, int32_t index, const sl_batch_info_t *info, int64_t offset,
                        sl_bytes_t value) {
    (void)info;
    if (sl_txn_coord_replay(b->txn, value.p, value.len) != SL_OK) {
        sl_log(SL_LOG_WARN, "txn", "partition=%d offset=%lld msg=\"state record skipped\"", index,
               (long long)offset);
    }
}

/* Prepared ones get their markers again; open ones are kept (their timeout). */
static void loaded(sl_broker_t *b, sl_itopic_match_t *m) {
    sl_txn_coord_recover_some(b->txn, sl_wall_ms(), sl_itopic_in_partition, m);
}

/* Another broker coordinates these ids now: nothing more is done for them. */
static void unloaded(sl_broker_t *b, sl_itopic_match_t *m) {
    sl_txn_coord_forget(b->txn, sl_itopic_in_partition, m);
    sl_log(SL_LOG_INFO, "txn", "partition=%d msg=\"transaction state unloaded\"", m->index);
}

void sl_ttopic_poll(sl_broker_t *b) {
    if (b->cluster && b->txn) {
        sl_itopic_poll(b, itopic(b), (int32_t)b->conf.txn_topic_num_partitions,
                       b->conf.txn_topic_replication_factor);
    }
}

void sl_ttopic_free(sl_broker_t *b) {
    if (b->ttopic) {
        sl_itopic_fini(&b->ttopic->it);
        free(b->ttopic);
        b->ttopic = NULL;
    }
}

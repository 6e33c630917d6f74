/* handle_produce.c -- Produce: validate each partition's record batches, append them, answer
 * at once (acks=1), never (acks=0), or after the group-commit sync covers them (acks=all).
 *
 * ProduceRequest (v3+; flexible from v9): transactional_id, acks, timeout_ms,
 *   topic_data {name, partition_data {index, records}}
 * ProduceResponse: responses {name, partition_responses {index, error_code, base_offset,
 *   log_append_time_ms (v2+), log_start_offset (v5+), record_errors (v8+) {batch_index,
 *   batch_index_error_message}, error_message (v8+)}}, throttle_time_ms (v1+)
 *
 * Batches are appended from the request buffer itself: the connection owns that memory and does
 * not look at it again, so the broker patches base offsets in place and writes it with one pwrite
 * per partition, with no copy. */
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/replica.h"
#include "broker/wait.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/util.h"
#include "proto/kerr.h"
#include "security/acl.h"
#include "storage/batch.h"
#include "txn/pstate.h"
#include "txn/txn_coord.h"

#define SL_PRODUCE_THROTTLE_MS 100

/* Refusing a record without a key on a compacted topic (Kafka's words). */
#define NO_KEY_MSG "Compacted topic cannot accept message without key"

/* Checks every batch of a partition's record set; `first` gets the first batch's header.
 * Beyond the header and CRC, each batch's records are walked as a consumer will decode them
 * (sl_batch_check_records): in place for uncompressed batches, after a bounded decompression into
 * the broker's scratch buffer otherwise. On a topic with cleanup.policy=compact every record
 * needs a key: one without gets INVALID_RECORD (CORRUPT_MESSAGE before Produce v8, as Kafka maps
 * it) and NO_KEY_MSG in `*why`, and `*keyless` (allocated here, the caller frees it) gets the
 * index of each keyless record of the first batch that has one, counted from the record set's
 * first record, `*n_keyless` their number: the response's record_errors (KIP-467).
 * Returns a Kafka error code. */
static int16_t validate_records(sl_broker_t *b, int16_t version, sl_bytes_t rec,
                                const sl_topic_conf_t *tc, int64_t *n_records,
                                sl_batch_info_t *first, const char **why, int32_t **keyless,
                                int32_t *n_keyless) {
    bool compact = strstr(tc->cleanup_policy, "compact") != NULL;
    if (!rec.p || rec.len == 0) {
        return KERR_CORRUPT_MESSAGE;
    }
    size_t pos = 0;
    *n_records = 0;
    while (pos < rec.len) {
        sl_batch_info_t info;
        sl_err_t rc = sl_batch_parse(rec.p + pos, rec.len - pos, true, &info);
        if (rc != SL_OK) {
            return KERR_CORRUPT_MESSAGE;
        }
        if ((int64_t)info.total_bytes > tc->max_message_bytes) {
            return KERR_MESSAGE_TOO_LARGE;
        }
        if (info.attributes & SL_BATCH_ATTR_CONTROL) {
            return KERR_INVALID_RECORD; /* control batches are written by the broker only */
        }
        if ((info.attributes & SL_BATCH_ATTR_CODEC_MASK) == SL_CODEC_ZSTD && version < 7) {
            return KERR_UNSUPPORTED_COMPRESSION_TYPE; /* zstd needs Produce v7+, as in Kafka */
        }
        int64_t cap = b->conf.message_max_decompressed_bytes;
        if (cap < tc->max_message_bytes) {
            cap = tc->max_message_bytes;
        }
        int kerr = sl_batch_check_records(rec.p + pos, &info, &b->decomp, (size_t)cap);
        if (kerr != KERR_NONE) {
            return (int16_t)kerr;
        }
        if (compact) {
            bool plain = (info.attributes & SL_BATCH_ATTR_CODEC_MASK) == SL_CODEC_NONE;
            const uint8_t *recs = plain ? rec.p + pos + SL_BATCH_HEADER_BYTES : b->decomp.out.data;
            size_t len = plain ? info.total_bytes - SL_BATCH_HEADER_BYTES : b->decomp.out.len;
            int32_t n = sl_batch_keyless_records(recs, len, info.record_count, NULL, 0);
            if (n < 0) {
                return KERR_INVALID_RECORD;
            }
            if (n > 0) {
                *why = NO_KEY_MSG;
                if (version < 8) {
                    return KERR_CORRUPT_MESSAGE;
                }
                *keyless = sl_xmalloc(sizeof(int32_t) * (size_t)n);
                *n_keyless = sl_batch_keyless_records(recs, len, info.record_count, *keyless, n);
                for (int32_t i = 0; i < *n_keyless; i++) {
                    (*keyless)[i] += (int32_t)*n_records; /* the set's earlier batches */
                }
                return KERR_INVALID_RECORD;
            }
        }
        if (pos == 0) {
            *first = info;
        } else if (info.producer_id >= 0 || first->producer_id >= 0) {
            return KERR_INVALID_RECORD; /* an idempotent producer sends one batch per partition */
        }
        *n_records += info.record_count;
        pos += info.total_bytes;
    }
    return KERR_NONE;
}

SL_HANDLER(Produce) {
    sl_broker_t *b = req->broker;
    sl_reader_t *rd = &req->rd;
    bool flex = req->flex;
    int16_t v = req->api_version;
    sl_str_t txn_id = sl_rd_str(rd, flex);
    int16_t acks = sl_rd_i16(rd);
    int32_t timeout_ms = sl_rd_i32(rd);
    int32_t n_topics = sl_rd_array_len(rd, flex, 4);
    if (rd->err) {
        return rd->err;
    }
    bool bad_acks = acks != 0 && acks != 1 && acks != -1;
    /* Kafka's rules: WRITE on the transactional id, if any, then WRITE on each topic. */
    bool txn_denied =
        txn_id.p && !sl_req_allowed(req, SL_RES_TRANSACTIONAL_ID, txn_id, SL_ACL_WRITE);
    sl_writer_t *wr = &req->wr;
    sl_durable_wait_t *pw = acks == -1 ? sl_durable_wait_new(req) : NULL;
    int64_t now = sl_wall_ms();
    sl_wr_array_len(wr, flex, n_topics < 0 ? 0 : n_topics);
    for (int32_t ti = 0; ti < n_topics; ti++) {
        sl_str_t name = sl_rd_str(rd, flex);
        int32_t n_parts = sl_rd_array_len(rd, flex, 8);
        if (rd->err) {
            break;
        }
        sl_topic_t *t = sl_topic_find(b, name);
        bool topic_denied = !txn_denied && !sl_req_allowed(req, SL_RES_TOPIC, name, SL_ACL_WRITE);
        sl_wr_str(wr, flex, name);
        sl_wr_array_len(wr, flex, n_parts < 0 ? 0 : n_parts);
        for (int32_t pi = 0; pi < n_parts; pi++) {
            int32_t index = sl_rd_i32(rd);
            sl_bytes_t records = sl_rd_bytes(rd, flex);
            sl_rd_tags(rd, flex);
            if (rd->err) {
                break;
            }
            int16_t err = KERR_NONE;
            const char *why = NULL; /* error_message */
            int64_t base = -1, n_records = 0, dup_last = -1;
            sl_batch_info_t info = {0};
            info.producer_id = -1;
            int32_t last_seq = -1;
            int32_t *keyless = NULL, n_keyless = 0; /* record_errors (KIP-467) */
            sl_partition_t *p = t && index >= 0 && index < t->n_partitions ? t->parts[index] : NULL;
            if (bad_acks) {
                err = KERR_INVALID_REQUIRED_ACKS;
            } else if (txn_denied) {
                err = KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
            } else if (topic_denied) {
                err = KERR_TOPIC_AUTHORIZATION_FAILED;
            } else if (!p) {
                err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
            } else if ((err = sl_replica_produce_check(b, t, p, acks)) == KERR_NONE) {
                err = validate_records(b, v, records, &t->conf, &n_records, &info, &why, &keyless,
                                       &n_keyless);
            }
            bool transactional = err == KERR_NONE &&
                                 (info.attributes & SL_BATCH_ATTR_TRANSACTIONAL) &&
                                 info.producer_id >= 0;
            if (err == KERR_NONE && (info.attributes & SL_BATCH_ATTR_TRANSACTIONAL) &&
                info.producer_id < 0) {
                err = KERR_INVALID_RECORD; /* a transactional batch needs a producer id */
            }
            if (err == KERR_NONE && info.producer_id >= 0) {
                /* Idempotent producer: a retry of one of its last five batches is answered with
                 * the offsets it already has; a gap or an old epoch is refused. */
                last_seq = (int32_t)(((int64_t)info.base_sequence + info.last_offset_delta) %
                                     ((int64_t)INT32_MAX + 1));
                sl_seq_verdict_t vd =
                    sl_pstate_check(p->pstate, info.producer_id, info.producer_epoch,
                                    info.base_sequence, last_seq, &base, &dup_last);
                if (transactional && vd != SL_SEQ_DUPLICATE && !b->cluster) {
                    /* Only into a partition its transaction has added (no hanging
                     * transactions), and only with the coordinator's current epoch. */
                    err = (int16_t)sl_txn_check_produce(b->txn, info.producer_id,
                                                        info.producer_epoch, name, index);
                }
                if (err) {
                    dup_last = -1;
                } else if (vd == SL_SEQ_OUT_OF_ORDER) {
                    err = KERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
                } else if (vd == SL_SEQ_FENCED) {
                    err = KERR_INVALID_PRODUCER_EPOCH;
                } else if (vd == SL_SEQ_DUPLICATE) {
                    sl_counter_add(b->m_duplicates, 1);
                }
            }
            if (err == KERR_NONE && dup_last >= 0) {
                /* Duplicate: nothing to write; with acks=all it still waits until the original
                 * is durable. */
                if (acks == -1) {
                    sl_broker_mark_dirty(b, p);
                }
            } else if (err == KERR_NONE) {
                /* The request buffer is ours to patch; see the file comment. */
                sl_replica_stamp(p, (uint8_t *)(uintptr_t)records.p, records.len);
                sl_err_t rc = sl_plog_append(p->plog, (uint8_t *)(uintptr_t)records.p, records.len,
                                             now, &base);
                if (rc != SL_OK) {
                    err = KERR_KAFKA_STORAGE_ERROR;
                    base = -1;
                } else {
                    if (info.producer_id >= 0) {
                        sl_pstate_update(p->pstate, info.producer_id, info.producer_epoch,
                                         info.base_sequence, last_seq, base,
                                         base + info.last_offset_delta);
                    }
                    if (transactional) {
                        sl_pstate_txn_begin(p->pstate, info.producer_id, info.producer_epoch, base);
                    }
                    sl_replica_appended(b, p, base);
                    sl_counter_add(p->m_bytes_in, records.len);
                    sl_counter_add(p->m_records_in, (uint64_t)n_records);
                    b->data_arrived = true;
                    if (acks == -1 || sl_plog_writeback_due(p->plog)) {
                        sl_broker_mark_dirty(b, p); /* the group commit, or a background one */
                    }
                }
            }
            sl_wr_i32(wr, index);
            size_t err_at = sl_wr_i16(wr, err);
            size_t base_at = sl_wr_i64(wr, base);
            sl_wr_i64(wr, err == KERR_NONE && p && !strcmp(t->conf.timestamp_type, "LogAppendTime")
                              ? now
                              : -1); /* log_append_time_ms */
            if (v >= 5) {
                sl_wr_i64(wr, p ? sl_plog_start_offset(p->plog) : -1);
            }
            if (v >= 8) {
                sl_wr_array_len(wr, flex, n_keyless); /* record_errors */
                for (int32_t i = 0; i < n_keyless; i++) {
                    sl_wr_i32(wr, keyless[i]); /* batch_index */
                    sl_wr_strz(wr, flex, NO_KEY_MSG);
                    sl_wr_tags(wr, flex);
                }
                sl_wr_strz(wr, flex, why); /* error_message */
            }
            sl_wr_tags(wr, flex);
            free(keyless);
            if (pw && err == KERR_NONE) {
                int64_t end = dup_last >= 0 ? dup_last + 1 : sl_plog_end_offset(p->plog);
                sl_durable_wait_add_part(pw, p, end, err_at, base_at);
            }
        }
        sl_rd_tags(rd, flex);
        sl_wr_tags(wr, flex);
    }
    sl_rd_tags(rd, flex);
    if (rd->err) {
        sl_durable_wait_cancel(pw);
        return rd->err;
    }
    /* Over its producer_byte_rate quota (the whole request counts, as in Kafka), or over the
     * broker's memory budget: mute this producer for a while and tell it so (KIP-219); the
     * sockets that push the most are the ones that hit the budget most often. The request itself
     * has been handled. */
    uint32_t throttle_ms =
        sl_quota_record(b->quotas, sl_req_principal(req), req->client_id, SL_QK_PRODUCER_BYTE_RATE,
                        (double)(req->rd.end - req->rd.start), sl_mono_ns());
    if (throttle_ms) {
        sl_counter_add(b->m_quota_throttled, 1);
    }
    if (sl_conn_memory_pressure() && throttle_ms < SL_PRODUCE_THROTTLE_MS) {
        throttle_ms = SL_PRODUCE_THROTTLE_MS;
    }
    if (throttle_ms) {
        sl_conn_throttle(req->conn, throttle_ms);
        sl_counter_add(b->m_throttled, 1);
    }
    sl_wr_i32(wr, (int32_t)throttle_ms);
    sl_wr_tags(wr, flex);
    if (acks == 0) {
        sl_durable_wait_cancel(pw);
        sl_resp_discard(req->resp);
        req->resp = NULL;
        return SL_OK;
    }
    if (pw) {
        if (b->cluster) {
            sl_durable_wait_set_timeout(pw, timeout_ms); /* waiting on followers: Kafka's limit */
        }
        return sl_durable_wait_park(b, pw);
    }
    return SL_OK;
}

/* handle_logs.c -- the partition logs as whole objects: DeleteRecords and DescribeLogDirs.
 *
 * DeleteRecords (v0..v2; flexible v2): topics {name, partitions {partition_index, offset}},
 *   timeout_ms. Response: throttle_time_ms, topics {name, partitions {partition_index,
 *   low_watermark, error_code}}. Offset -1 means the high watermark. The new log start offset is
 *   durable (plog's log-start-offset file) before the answer; it is never moved down.
 * DescribeLogDirs (v0..v4; flexible v2+): topics (null: all) {topic, partitions}. Response:
 *   throttle_time_ms, error_code (v3+), results {error_code, log_dir, topics {name, partitions
 *   {partition_index, partition_size, offset_lag, is_future_key}}, total_bytes (v4+),
 *   usable_bytes (v4+)}. One log directory: the data directory. offset_lag is 0 (the leader's own
 *   log; no future logs). */
#include <inttypes.h>
#include <string.h>
#include <sys/statvfs.h>

#include "broker/broker.h"
#include "common/log.h"
#include "proto/kerr.h"

/* The error DeleteRecords answers for one partition, moving its log start offset. */
static int16_t delete_records(sl_partition_t *p, int64_t offset, int64_t *low_out) {
    *low_out = -1;
    if (!p) {
        return KERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    if (sl_plog_offline(p->plog)) {
        return KERR_KAFKA_STORAGE_ERROR;
    }
    int64_t hw = sl_plog_end_offset(p->plog);
    if (offset == -1) {
        offset = hw;
    }
    if (offset < 0 || offset > hw) {
        return KERR_OFFSET_OUT_OF_RANGE;
    }
    sl_err_t rc = sl_plog_delete_records(p->plog, offset);
    if (rc == SL_ERR_LIMIT) {
        return KERR_OFFSET_OUT_OF_RANGE;
    }
    if (rc != SL_OK) {
        return KERR_KAFKA_STORAGE_ERROR;
    }
    *low_out = sl_plog_start_offset(p->plog);
    return KERR_NONE;
}

SL_HANDLER(DeleteRecords) {
    sl_broker_t *b = req->broker;
    sl_reader_t *rd = &req->rd;
    bool flex = req->flex;
    sl_writer_t *wr = &req->wr;
    int32_t n_topics = sl_rd_count(rd, flex, 4);
    if (rd->err) {
        return rd->err;
    }
    /* The request is answered while it is read: the timeout comes after the topics, and the
     * work is done at once (there are no followers to wait for). */
    sl_wr_i32(wr, 0);
    sl_wr_array_len(wr, flex, n_topics);
    for (int32_t ti = 0; ti < n_topics && !rd->err; ti++) {
        sl_str_t name = sl_rd_str(rd, flex);
        int32_t np = sl_rd_count(rd, flex, 12);
        if (rd->err) {
            break;
        }
        sl_topic_t *t = sl_topic_find(b, name);
        sl_wr_str(wr, flex, name);
        sl_wr_array_len(wr, flex, np);
        for (int32_t pi = 0; pi < np && !rd->err; pi++) {
            int32_t index = sl_rd_i32(rd);
            int64_t offset = sl_rd_i64(rd);
            sl_rd_tags(rd, flex);
            if (rd->err) {
                break;
            }
            sl_partition_t *p = t && index >= 0 && index < t->n_partitions ? t->parts[index] : NULL;
            int64_t low = -1;
            /* Kafka's rule: DELETE on the topic. */
            int16_t err = !sl_req_allowed(req, SL_RES_TOPIC, name, SL_ACL_DELETE)
                              ? KERR_TOPIC_AUTHORIZATION_FAILED
                              : delete_records(p, offset, &low);
            if (!err) {
                sl_log(SL_LOG_INFO, "broker",
                       "topic=%s partition=%d log_start_offset=%" PRId64 " msg=\"records deleted\"",
                       t->name, index, low);
            }
            sl_wr_i32(wr, index);
            sl_wr_i64(wr, low);
            sl_wr_i16(wr, err);
            sl_wr_tags(wr, flex);
        }
        sl_rd_tags(rd, flex);
        sl_wr_tags(wr, flex);
    }
    (void)sl_rd_i32(rd); /* timeout_ms */
    sl_rd_tags(rd, flex);
    sl_wr_tags(wr, flex);
    return rd->err;
}

/* Writes one topic's entry of DescribeLogDirs: the partitions listed in `want` (n_want of them),
 * or every partition when `want` is NULL; unknown partitions are left out, as Kafka does. */
static void describe_topic(sl_writer_t *wr, bool flex, const sl_topic_t *t, const int32_t *want,
                           int32_t n_want) {
    sl_wr_strz(wr, flex, t->name);
    int32_t n = 0;
    for (int32_t i = 0; i < (want ? n_want : t->n_partitions); i++) {
        int32_t index = want ? want[i] : i;
        n += index >= 0 && index < t->n_partitions;
    }
    sl_wr_array_len(wr, flex, n);
    for (int32_t i = 0; i < (want ? n_want : t->n_partitions); i++) {
        int32_t index = want ? want[i] : i;
        if (index < 0 || index >= t->n_partitions) {
            continue;
        }
        sl_wr_i32(wr, index);
        sl_wr_i64(wr, sl_plog_size_bytes(t->parts[index]->plog));
        sl_wr_i64(wr, 0); /* offset_lag */
        sl_wr_i8(wr, 0);  /* is_future_key */
        sl_wr_tags(wr, flex);
    }
    sl_wr_tags(wr, flex);
}

SL_HANDLER(DescribeLogDirs) {
    sl_broker_t *b = req->broker;
    sl_reader_t *rd = &req->rd;
    int16_t v = req->api_version;
    bool flex = req->flex;
    int32_t n_topics = sl_rd_array_len(rd, flex, 4);
    if (rd->err) {
        return rd->err;
    }
    /* The topics asked for are read first: the answer's count comes before its entries. */
    typedef struct want {
        sl_topic_t *t;
        int32_t *parts;
        int32_t n;
    } want_t;
    want_t *wants = sl_xcalloc((size_t)(n_topics > 0 ? n_topics : 0) + 1, sizeof *wants);
    int32_t n_found = 0;
    for (int32_t i = 0; i < n_topics && !rd->err; i++) {
        sl_str_t name = sl_rd_str(rd, flex);
        int32_t np = sl_rd_count(rd, flex, 4);
        int32_t *parts = sl_xcalloc((size_t)np + 1, sizeof *parts);
        for (int32_t j = 0; j < np && !rd->err; j++) {
            parts[j] = sl_rd_i32(rd);
        }
        sl_rd_tags(rd, flex);
        sl_topic_t *t = rd->err ? NULL : sl_topic_find(b, name);
        if (t) {
            wants[n_found++] = (want_t){t, parts, np};
        } else {
            free(parts);
        }
    }
    sl_rd_tags(rd, flex);
    /* Kafka's rule: DESCRIBE on the cluster; without it, an error (v3+) and no directories. */
    if (!rd->err && !sl_req_allowed_cluster(req, SL_ACL_DESCRIBE)) {
        sl_writer_t *wr = &req->wr;
        sl_wr_i32(wr, 0);
        if (v >= 3) {
            sl_wr_i16(wr, KERR_CLUSTER_AUTHORIZATION_FAILED);
        }
        sl_wr_array_len(wr, flex, 0);
        sl_wr_tags(wr, flex);
    } else if (!rd->err) {
        sl_writer_t *wr = &req->wr;
        sl_wr_i32(wr, 0);
        if (v >= 3) {
            sl_wr_i16(wr, KERR_NONE);
        }
        sl_wr_array_len(wr, flex, 1);
        sl_wr_i16(wr, KERR_NONE);
        sl_wr_strz(wr, flex, b->conf.data_dir);
        if (n_topics < 0) {
            sl_wr_array_len(wr, flex, (int32_t)b->n_topics);
            for (size_t h = 0; h < b->topic_tab_size; h++) {
                for (sl_topic_t *t = b->topic_tab[h]; t; t = t->next) {
                    describe_topic(wr, flex, t, NULL, 0);
                }
            }
        } else {
            sl_wr_array_len(wr, flex, n_found);
            for (int32_t i = 0; i < n_found; i++) {
                describe_topic(wr, flex, wants[i].t, wants[i].parts, wants[i].n);
            }
        }
        if (v >= 4) {
            struct statvfs st;
            bool ok = statvfs(b->conf.data_dir, &st) == 0;
            sl_wr_i64(wr, ok ? (int64_t)st.f_blocks * (int64_t)st.f_frsize : -1);
            sl_wr_i64(wr, ok ? (int64_t)st.f_bavail * (int64_t)st.f_frsize : -1);
        }
        sl_wr_tags(wr, flex);
        sl_wr_tags(wr, flex);
    }
    for (int32_t i = 0; i < n_found; i++) {
        free(wants[i].parts);
    }
    free(wants);
    return rd->err;
}

/* kreq.c -- Produce v7 requests built in place and their responses (see kreq.h). The batch header
 * is written with placeholders when the request starts; records are appended straight after it,
 * so finishing a request patches a few fields and computes one CRC, with no copy. */
#include "kreq.h"

#include <string.h>

#include "common/codec.h"
#include "common/crc32c.h"
#include "storage/batch.h"

#define API_PRODUCE 0

/* Offsets inside the batch (storage/batch.h). */
#define B_LENGTH     8
#define B_CRC        17
#define B_ATTRIBUTES 21
#define B_LAST_DELTA 23
#define B_BASE_TS    27
#define B_MAX_TS     35
#define B_COUNT      57

static size_t varint_size(int64_t v) {
    return sl_uvarint_size(((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

void sl_kreq_begin(sl_kreq_t *q, const char *client_id, int16_t acks, int32_t timeout_ms,
                   const char *topic, int32_t partition) {
    SL_ASSERT(q->buf.len == 0);
    sl_writer_t wr = {&q->buf};
    sl_wr_i32(&wr, 0); /* size */
    sl_wr_i16(&wr, API_PRODUCE);
    sl_wr_i16(&wr, SL_KREQ_API_VERSION);
    q->corr_at = sl_wr_i32(&wr, 0);
    sl_wr_strz(&wr, false, client_id);
    sl_wr_strz(&wr, false, NULL); /* transactional_id */
    sl_wr_i16(&wr, acks);
    sl_wr_i32(&wr, timeout_ms);
    sl_wr_i32(&wr, 1); /* topics */
    sl_wr_strz(&wr, false, topic);
    sl_wr_i32(&wr, 1); /* partitions */
    sl_wr_i32(&wr, partition);
    q->records_at = sl_wr_i32(&wr, 0);
    sl_wr_i64(&wr, 0);  /* baseOffset: assigned by the broker */
    sl_wr_i32(&wr, 0);  /* batchLength */
    sl_wr_i32(&wr, -1); /* partitionLeaderEpoch */
    sl_wr_i8(&wr, 2);   /* magic */
    sl_wr_i32(&wr, 0);  /* crc */
    sl_wr_i16(&wr, 0);  /* attributes: no compression, CreateTime */
    sl_wr_i32(&wr, 0);  /* lastOffsetDelta */
    sl_wr_i64(&wr, 0);  /* baseTimestamp */
    sl_wr_i64(&wr, 0);  /* maxTimestamp */
    sl_wr_i64(&wr, -1); /* producerId */
    sl_wr_i16(&wr, -1); /* producerEpoch */
    sl_wr_i32(&wr, -1); /* baseSequence */
    sl_wr_i32(&wr, 0);  /* recordCount */
    q->n = 0;
}

static size_t record_body_size(const sl_kreq_t *q, int64_t ts_delta, size_t klen, size_t vlen) {
    return 1 + varint_size(ts_delta) + varint_size(q->n) + varint_size((int64_t)klen) + klen +
           varint_size((int64_t)vlen) + vlen + 1;
}

size_t sl_kreq_size_with(const sl_kreq_t *q, size_t klen, size_t vlen) {
    size_t body = record_body_size(q, 0, klen, vlen) + 8; /* + room for a timestamp delta */
    return q->buf.len + varint_size((int64_t)body) + body;
}

void sl_kreq_add(sl_kreq_t *q, int64_t ts_ms, const void *key, size_t klen, const void *val,
                 size_t vlen) {
    if (q->n == 0) {
        q->base_ts = q->max_ts = ts_ms;
    }
    int64_t delta = ts_ms - q->base_ts;
    q->max_ts = SL_MAX(q->max_ts, ts_ms);
    sl_writer_t wr = {&q->buf};
    sl_wr_varint(&wr, (int64_t)record_body_size(q, delta, klen, vlen));
    sl_wr_i8(&wr, 0); /* attributes */
    sl_wr_varint(&wr, delta);
    sl_wr_varint(&wr, q->n);
    sl_wr_varint(&wr, (int64_t)klen);
    sl_wr_raw(&wr, key, klen);
    sl_wr_varint(&wr, (int64_t)vlen);
    sl_wr_raw(&wr, val, vlen);
    sl_wr_varint(&wr, 0); /* headers */
    q->n++;
}

void sl_kreq_finish(sl_kreq_t *q, int32_t correlation_id) {
    SL_ASSERT(q->n > 0);
    sl_writer_t wr = {&q->buf};
    size_t end = q->buf.len;
    size_t batch = q->records_at + 4;
    uint8_t *b = q->buf.data + batch;
    sl_wr_patch_i32(&wr, 0, (int32_t)(end - 4));
    sl_wr_patch_i32(&wr, q->corr_at, correlation_id);
    sl_wr_patch_i32(&wr, q->records_at, (int32_t)(end - batch));
    sl_store_be32(b + B_LENGTH, (uint32_t)(end - batch - SL_BATCH_LOG_OVERHEAD));
    sl_store_be32(b + B_LAST_DELTA, (uint32_t)(q->n - 1));
    sl_store_be64(b + B_BASE_TS, (uint64_t)q->base_ts);
    sl_store_be64(b + B_MAX_TS, (uint64_t)q->max_ts);
    sl_store_be32(b + B_COUNT, (uint32_t)q->n);
    sl_store_be32(b + B_CRC, sl_crc32c(0, b + B_ATTRIBUTES, end - batch - B_ATTRIBUTES));
}

sl_err_t sl_kresp_decode(const uint8_t *p, size_t len, int32_t *correlation_id,
                         int16_t *error_code) {
    sl_reader_t rd = sl_reader_init(p, len);
    *correlation_id = sl_rd_i32(&rd);
    *error_code = 0;
    int parts = 0;
    int32_t n_topics = sl_rd_array_len(&rd, false, 6);
    for (int32_t t = 0; t < n_topics && !rd.err; t++) {
        (void)sl_rd_str(&rd, false);
        int32_t n_parts = sl_rd_array_len(&rd, false, 30);
        for (int32_t i = 0; i < n_parts && !rd.err; i++) {
            (void)sl_rd_i32(&rd); /* index */
            int16_t ec = sl_rd_i16(&rd);
            (void)sl_rd_i64(&rd); /* base_offset */
            (void)sl_rd_i64(&rd); /* log_append_time */
            (void)sl_rd_i64(&rd); /* log_start_offset */
            if (ec && !*error_code) {
                *error_code = ec;
            }
            parts++;
        }
    }
    (void)sl_rd_i32(&rd); /* throttle_time_ms */
    if (rd.err) {
        return rd.err;
    }
    return parts > 0 ? SL_OK : SL_ERR_INVAL;
}

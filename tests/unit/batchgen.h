/* batchgen.h -- builds valid RecordBatch v2 bytes for storage tests (uncompressed records with
 * varint fields per the Kafka spec, correct CRC-32C). */
#ifndef SL_BATCHGEN_H
#define SL_BATCHGEN_H

#include "common/buf.h"
#include "common/codec.h"
#include "common/crc32c.h"

/* Appends one batch of `n` records whose record i has timestamp ts + delta[i] (ts + i when `delta`
 * is NULL) and value "v<i>" to `out`. Returns the batch size. */
static inline size_t batchgen_times(sl_buf_t *out, int n, int64_t ts, const int64_t *delta) {
    sl_buf_t recs = {0};
    sl_writer_t rw = {&recs};
    for (int i = 0; i < n; i++) {
        char val[32];
        int vlen = snprintf(val, sizeof val, "v%d", i);
        sl_buf_t one = {0};
        sl_writer_t w = {&one};
        sl_wr_i8(&w, 0);                        /* attributes */
        sl_wr_varint(&w, delta ? delta[i] : i); /* timestamp delta */
        sl_wr_varint(&w, i);                    /* offset delta */
        sl_wr_varint(&w, -1);                   /* key: null */
        sl_wr_varint(&w, vlen);                 /* value */
        sl_wr_raw(&w, val, (size_t)vlen);
        sl_wr_varint(&w, 0); /* headers */
        sl_wr_varint(&rw, (int64_t)one.len);
        sl_wr_raw(&rw, one.data, one.len);
        sl_buf_fini(&one);
    }
    size_t start = out->len;
    sl_writer_t wr = {out};
    sl_wr_i64(&wr, 0);                 /* baseOffset */
    size_t len_at = sl_wr_i32(&wr, 0); /* batchLength */
    sl_wr_i32(&wr, 0);                 /* partitionLeaderEpoch */
    sl_wr_i8(&wr, 2);                  /* magic */
    size_t crc_at = sl_wr_i32(&wr, 0); /* crc */
    sl_wr_i16(&wr, 0);                 /* attributes */
    sl_wr_i32(&wr, n - 1);             /* lastOffsetDelta */
    sl_wr_i64(&wr, ts);                /* baseTimestamp */
    int64_t max_delta = n - 1;
    for (int i = 0; delta && i < n; i++) {
        max_delta = i == 0 || delta[i] > max_delta ? delta[i] : max_delta;
    }
    sl_wr_i64(&wr, ts + max_delta); /* maxTimestamp */
    sl_wr_i64(&wr, -1);             /* producerId */
    sl_wr_i16(&wr, -1);             /* producerEpoch */
    sl_wr_i32(&wr, -1);             /* baseSequence */
    sl_wr_i32(&wr, n);              /* recordCount */
    sl_wr_raw(&wr, recs.data, recs.len);
    sl_buf_fini(&recs);
    size_t total = out->len - start;
    sl_wr_patch_i32(&wr, len_at, (int32_t)(total - 12));
    sl_wr_patch_i32(&wr, crc_at,
                    (int32_t)sl_crc32c(0, out->data + crc_at + 4, out->len - crc_at - 4));
    return total;
}

/* One batch of `n` records at ts, ts + 1, ... (see batchgen_times). */
static inline size_t batchgen(sl_buf_t *out, int n, int64_t ts) {
    return batchgen_times(out, n, ts, NULL);
}

#endif

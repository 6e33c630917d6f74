/* test_kreq.c -- the raw producer's Produce v7 request (header fields, a RecordBatch v2 whose
 * CRC-32C and record fields the broker's own checks accept) and response decoding. */
#include "bench/kreq.h"
#include "common/codec.h"
#include "harness.h"
#include "storage/batch.h"

TEST(request_carries_a_valid_batch_with_every_record) {
    sl_kreq_t q = {0};
    sl_kreq_begin(&q, "cid", -1, 30000, "topic-a", 3);
    const char *vals[] = {"first", "second value", ""};
    for (int i = 0; i < 3; i++) {
        size_t before = q.buf.len;
        size_t bound = sl_kreq_size_with(&q, 2, strlen(vals[i]));
        sl_kreq_add(&q, 1700000000000 + i * 7, "k1", 2, vals[i], strlen(vals[i]));
        CHECK(q.buf.len <= bound && q.buf.len > before);
    }
    sl_kreq_finish(&q, 4242);

    sl_reader_t rd = sl_reader_init(q.buf.data, q.buf.len);
    CHECK_EQ_INT(sl_rd_i32(&rd), q.buf.len - 4);
    CHECK_EQ_INT(sl_rd_i16(&rd), 0); /* Produce */
    CHECK_EQ_INT(sl_rd_i16(&rd), 7);
    CHECK_EQ_INT(sl_rd_i32(&rd), 4242);
    CHECK(sl_str_eqz(sl_rd_str(&rd, false), "cid"));
    CHECK(sl_rd_str(&rd, false).p == NULL); /* transactional_id */
    CHECK_EQ_INT(sl_rd_i16(&rd), -1);
    CHECK_EQ_INT(sl_rd_i32(&rd), 30000);
    CHECK_EQ_INT(sl_rd_i32(&rd), 1);
    CHECK(sl_str_eqz(sl_rd_str(&rd, false), "topic-a"));
    CHECK_EQ_INT(sl_rd_i32(&rd), 1);
    CHECK_EQ_INT(sl_rd_i32(&rd), 3);
    sl_bytes_t recs = sl_rd_bytes(&rd, false);
    CHECK(rd.err == SL_OK && sl_rd_left(&rd) == 0);

    sl_batch_info_t info;
    CHECK(sl_batch_parse(recs.p, recs.len, true, &info) == SL_OK);
    CHECK_EQ_INT(info.total_bytes, recs.len);
    CHECK_EQ_INT(info.record_count, 3);
    CHECK_EQ_INT(info.last_offset_delta, 2);
    CHECK_EQ_INT(info.base_timestamp, 1700000000000);
    CHECK_EQ_INT(info.max_timestamp, 1700000000014);
    CHECK_EQ_INT(info.producer_id, -1);
    CHECK_EQ_INT(info.attributes, 0);

    sl_reader_t rr =
        sl_reader_init(recs.p + SL_BATCH_HEADER_BYTES, recs.len - SL_BATCH_HEADER_BYTES);
    for (int i = 0; i < 3; i++) {
        int32_t len = sl_rd_varint(&rr);
        size_t at = sl_rd_pos(&rr);
        CHECK_EQ_INT(sl_rd_i8(&rr), 0);
        CHECK_EQ_INT(sl_rd_varlong(&rr), i * 7);
        CHECK_EQ_INT(sl_rd_varint(&rr), i);
        CHECK_EQ_INT(sl_rd_varint(&rr), 2);
        CHECK(!memcmp(sl_rd_raw(&rr, 2).p, "k1", 2));
        int32_t vlen = sl_rd_varint(&rr);
        CHECK_EQ_INT(vlen, strlen(vals[i]));
        sl_bytes_t v = sl_rd_raw(&rr, (size_t)vlen);
        CHECK(vlen == 0 || !memcmp(v.p, vals[i], (size_t)vlen));
        CHECK_EQ_INT(sl_rd_varint(&rr), 0); /* headers */
        CHECK_EQ_INT(sl_rd_pos(&rr) - at, len);
    }
    CHECK(rr.err == SL_OK && sl_rd_left(&rr) == 0);

    /* A flipped value byte is caught by the CRC. */
    ((uint8_t *)recs.p)[recs.len - 3] ^= 1;
    CHECK(sl_batch_parse(recs.p, recs.len, true, &info) == SL_ERR_CORRUPT);
    sl_buf_fini(&q.buf);
}

static void response(sl_buf_t *b, int32_t corr, int n_parts, int16_t err1) {
    sl_writer_t wr = {b};
    sl_wr_i32(&wr, corr);
    sl_wr_i32(&wr, 1);
    sl_wr_strz(&wr, false, "topic-a");
    sl_wr_i32(&wr, n_parts);
    for (int i = 0; i < n_parts; i++) {
        sl_wr_i32(&wr, i);
        sl_wr_i16(&wr, i == 1 ? err1 : 0);
        sl_wr_i64(&wr, 100);
        sl_wr_i64(&wr, -1);
        sl_wr_i64(&wr, 0);
    }
    sl_wr_i32(&wr, 0); /* throttle */
}

TEST(response_gives_correlation_and_first_partition_error) {
    sl_buf_t b = {0};
    int32_t corr;
    int16_t ec;
    response(&b, 77, 2, 0);
    CHECK(sl_kresp_decode(b.data, b.len, &corr, &ec) == SL_OK);
    CHECK_EQ_INT(corr, 77);
    CHECK_EQ_INT(ec, 0);
    for (size_t n = 0; n < b.len; n++) {
        CHECK(sl_kresp_decode(b.data, n, &corr, &ec) != SL_OK);
    }
    b.len = 0;
    response(&b, 78, 2, 6); /* NOT_LEADER_OR_FOLLOWER */
    CHECK(sl_kresp_decode(b.data, b.len, &corr, &ec) == SL_OK);
    CHECK_EQ_INT(ec, 6);
    b.len = 0;
    response(&b, 79, 0, 0); /* an answer about no partition acknowledges nothing */
    CHECK(sl_kresp_decode(b.data, b.len, &corr, &ec) != SL_OK);
    sl_buf_fini(&b);
}

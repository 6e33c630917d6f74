/* test_batch.c -- RecordBatch v2 header and CRC checks, in-place rewrites. */
#include <stdio.h>

#include "batchgen.h"
#include "harness.h"
#include "storage/batch.h"

TEST(valid_batch_parses) {
    sl_buf_t b = {0};
    size_t n = batchgen(&b, 5, 1000);
    sl_batch_info_t info;
    CHECK_EQ_INT(sl_batch_parse(b.data, b.len, true, &info), SL_OK);
    CHECK_EQ_INT(info.total_bytes, n);
    CHECK_EQ_INT(info.record_count, 5);
    CHECK_EQ_INT(info.last_offset_delta, 4);
    CHECK_EQ_INT(info.max_timestamp, 1004);
    sl_buf_fini(&b);
}

TEST(bad_magic_and_bad_crc) {
    sl_buf_t b = {0};
    batchgen(&b, 3, 1);
    sl_batch_info_t info;
    b.data[16] = 1;
    CHECK_EQ_INT(sl_batch_parse(b.data, b.len, true, &info), SL_ERR_INVAL);
    b.data[16] = 2;
    b.data[b.len - 1] ^= 0x40; /* a record byte: covered by the CRC */
    CHECK_EQ_INT(sl_batch_parse(b.data, b.len, true, &info), SL_ERR_CORRUPT);
    CHECK_EQ_INT(sl_batch_parse(b.data, b.len, false, &info), SL_OK);
    sl_buf_fini(&b);
}

TEST(impossible_fields_are_rejected) {
    sl_buf_t b = {0};
    batchgen(&b, 3, 1);
    sl_batch_info_t info;
    sl_store_be32(b.data + 8, 10); /* batchLength below the header size */
    CHECK_EQ_INT(sl_batch_parse(b.data, b.len, false, &info), SL_ERR_INVAL);
    sl_buf_fini(&b);
    b = (sl_buf_t){0};
    batchgen(&b, 3, 1);
    sl_store_be32(b.data + 57, (uint32_t)-4); /* negative record count */
    CHECK_EQ_INT(sl_batch_parse(b.data, b.len, false, &info), SL_ERR_INVAL);
    sl_buf_fini(&b);
}

TEST(every_truncated_prefix_fails_cleanly) {
    sl_buf_t b = {0};
    batchgen(&b, 4, 7);
    for (size_t n = 0; n < b.len; n++) {
        uint8_t *p = sl_xmalloc(n ? n : 1);
        memcpy(p, b.data, n);
        sl_batch_info_t info;
        sl_err_t rc = sl_batch_parse(p, n, true, &info);
        free(p);
        CHECK(rc == SL_ERR_TRUNC);
    }
    sl_buf_fini(&b);
}

TEST(base_offset_is_outside_the_crc) {
    sl_buf_t b = {0};
    batchgen(&b, 2, 1);
    sl_batch_set_base_offset(b.data, 123456789);
    sl_batch_info_t info;
    CHECK_EQ_INT(sl_batch_parse(b.data, b.len, true, &info), SL_OK);
    CHECK_EQ_INT(info.base_offset, 123456789);
    sl_buf_fini(&b);
}

TEST(log_append_time_rewrite_keeps_crc_valid) {
    sl_buf_t b = {0};
    batchgen(&b, 3, 100);
    sl_batch_set_log_append_time(b.data, b.len, 999999);
    sl_batch_info_t info;
    CHECK_EQ_INT(sl_batch_parse(b.data, b.len, true, &info), SL_OK);
    CHECK_EQ_INT(info.max_timestamp, 999999);
    CHECK_EQ_INT(info.base_timestamp, 999999);
    CHECK(info.attributes & SL_BATCH_ATTR_LOG_APPEND_TIME);
    sl_buf_fini(&b);
}

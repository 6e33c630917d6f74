/* test_codec.c -- Kafka primitive types: round trips, limits, and every truncated prefix. */
#include "common/codec.h"
#include "common/crc32c.h"
#include "harness.h"

static void build_sample(sl_buf_t *buf, bool flex) {
    sl_writer_t wr = {buf};
    sl_str_t s = {"hello", 5};
    sl_bytes_t b = {(const uint8_t *)"\x01\x02\x03", 3};
    uint8_t uuid[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    sl_wr_i8(&wr, -3);
    sl_wr_i16(&wr, -12345);
    sl_wr_i32(&wr, 0x7abbccdd);
    sl_wr_i64(&wr, -1234567890123ll);
    sl_wr_uvarint(&wr, 300);
    sl_wr_varint(&wr, -64);
    sl_wr_varint(&wr, INT64_MIN);
    sl_wr_str(&wr, flex, s);
    sl_wr_strz(&wr, flex, NULL);
    sl_wr_bytes(&wr, flex, b);
    sl_wr_array_len(&wr, flex, 2);
    sl_wr_uuid(&wr, uuid);
    sl_wr_tags(&wr, flex);
}

static sl_err_t read_sample(const uint8_t *p, size_t n, bool flex) {
    sl_reader_t rd = sl_reader_init(p, n);
    int8_t a = sl_rd_i8(&rd);
    int16_t b = sl_rd_i16(&rd);
    int32_t c = sl_rd_i32(&rd);
    int64_t d = sl_rd_i64(&rd);
    uint32_t e = sl_rd_uvarint(&rd);
    int32_t f = sl_rd_varint(&rd);
    int64_t g = sl_rd_varlong(&rd);
    sl_str_t s = sl_rd_str(&rd, flex);
    sl_str_t nul = sl_rd_str(&rd, flex);
    sl_bytes_t by = sl_rd_bytes(&rd, flex);
    int32_t an = sl_rd_array_len(&rd, flex, 1);
    uint8_t uuid[16];
    sl_rd_uuid(&rd, uuid);
    sl_rd_tags(&rd, flex);
    if (rd.err) {
        return rd.err;
    }
    if (a != -3 || b != -12345 || c != 0x7abbccdd || d != -1234567890123ll || e != 300 ||
        f != -64 || g != INT64_MIN || !sl_str_eqz(s, "hello") || nul.p != NULL || by.len != 3 ||
        an != 2 || uuid[15] != 16 || sl_rd_left(&rd) != 0) {
        return SL_ERR_INVAL;
    }
    return SL_OK;
}

TEST(roundtrip_classic_and_flexible) {
    for (int flex = 0; flex < 2; flex++) {
        sl_buf_t buf = {0};
        build_sample(&buf, flex);
        CHECK_EQ_INT(read_sample(buf.data, buf.len, flex), SL_OK);
        sl_buf_fini(&buf);
    }
}

TEST(every_truncated_prefix_fails_cleanly) {
    for (int flex = 0; flex < 2; flex++) {
        sl_buf_t buf = {0};
        build_sample(&buf, flex);
        for (size_t n = 0; n < buf.len; n++) {
            /* Copy into an exact-size allocation so ASan catches any over-read. */
            uint8_t *p = sl_xmalloc(n ? n : 1);
            memcpy(p, buf.data, n);
            sl_err_t rc = read_sample(p, n, flex);
            free(p);
            CHECK(rc == SL_ERR_TRUNC || rc == SL_ERR_INVAL);
        }
        sl_buf_fini(&buf);
    }
}

TEST(uvarint_rejects_more_than_five_bytes) {
    const uint8_t six[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    sl_reader_t rd = sl_reader_init(six, sizeof six);
    (void)sl_rd_uvarint(&rd);
    CHECK_EQ_INT(rd.err, SL_ERR_INVAL);
    const uint8_t big[] = {0xff, 0xff, 0xff, 0xff, 0x7f}; /* > UINT32_MAX */
    rd = sl_reader_init(big, sizeof big);
    (void)sl_rd_uvarint(&rd);
    CHECK_EQ_INT(rd.err, SL_ERR_INVAL);
    const uint8_t eleven[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    rd = sl_reader_init(eleven, sizeof eleven);
    (void)sl_rd_uvarlong(&rd);
    CHECK_EQ_INT(rd.err, SL_ERR_INVAL);
}

TEST(array_count_larger_than_frame_is_rejected) {
    const uint8_t claim[] = {0x77, 0x35, 0x94, 0x00, 0, 0, 0, 0}; /* 2 billion, 4 bytes left */
    sl_reader_t rd = sl_reader_init(claim, sizeof claim);
    (void)sl_rd_array_len(&rd, false, 4);
    CHECK_EQ_INT(rd.err, SL_ERR_INVAL);
    const uint8_t neg[] = {0xff, 0xff, 0xff, 0xf0};
    rd = sl_reader_init(neg, sizeof neg);
    (void)sl_rd_array_len(&rd, false, 4);
    CHECK_EQ_INT(rd.err, SL_ERR_INVAL);
    const uint8_t null_arr[] = {0xff, 0xff, 0xff, 0xff};
    rd = sl_reader_init(null_arr, sizeof null_arr);
    CHECK_EQ_INT(sl_rd_array_len(&rd, false, 4), -1);
    CHECK_EQ_INT(rd.err, SL_OK);
}

TEST(string_length_beyond_input_is_truncation) {
    const uint8_t s[] = {0x00, 0x10, 'a', 'b'};
    sl_reader_t rd = sl_reader_init(s, sizeof s);
    sl_str_t v = sl_rd_str(&rd, false);
    CHECK(v.p == NULL);
    CHECK_EQ_INT(rd.err, SL_ERR_TRUNC);
    const uint8_t neg[] = {0xff, 0xf0};
    rd = sl_reader_init(neg, sizeof neg);
    (void)sl_rd_str(&rd, false);
    CHECK_EQ_INT(rd.err, SL_ERR_INVAL);
}

TEST(error_is_sticky) {
    const uint8_t two[] = {1, 2};
    sl_reader_t rd = sl_reader_init(two, sizeof two);
    CHECK_EQ_INT(sl_rd_i32(&rd), 0);
    CHECK_EQ_INT(sl_rd_i8(&rd), 0); /* would succeed without the sticky error */
    CHECK_EQ_INT(rd.err, SL_ERR_TRUNC);
}

TEST(tagged_fields_are_skipped) {
    const uint8_t tags[] = {0x02, 0x00, 0x02, 0xaa, 0xbb, 0x05, 0x00, 0x7f};
    sl_reader_t rd = sl_reader_init(tags, sizeof tags);
    sl_rd_tags(&rd, true);
    CHECK_EQ_INT(rd.err, SL_OK);
    CHECK_EQ_INT(sl_rd_i8(&rd), 0x7f);
}

TEST(crc32c_known_vectors) {
    /* RFC 3720 B.4 test vectors. */
    uint8_t zeros[32] = {0}, ones[32];
    memset(ones, 0xff, sizeof ones);
    CHECK_EQ_INT(sl_crc32c(0, zeros, 32), 0x8a9136aa);
    CHECK_EQ_INT(sl_crc32c(0, ones, 32), 0x62a8ab43);
    CHECK_EQ_INT(sl_crc32c(0, "123456789", 9), 0xe3069283);
    /* Incremental equals one-shot. */
    CHECK_EQ_INT(sl_crc32c(sl_crc32c(0, "12345", 5), "6789", 4), 0xe3069283);
}

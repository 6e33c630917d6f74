/* test_batch_records.c -- issue 5: batches no consumer can read are refused on produce. Each bad
 * shape (unknown codec, corrupt gzip/snappy/lz4/zstd payloads, garbage records, count and offset
 * mismatches, decompression bombs) gets its Kafka error code from sl_batch_check_records, and a
 * valid batch of every codec, compressed by the real library encoders, is accepted. */
#include <lz4frame.h>
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <zlib.h>
#include <zstd.h>

#include "common/buf.h"
#include "common/codec.h"
#include "common/crc32c.h"
#include "common/util.h"
#include "harness.h"
#include "proto/kerr.h"
#include "storage/batch.h"
#include "storage/compress.h"

#define MiB (1024 * 1024)

/* Appends one record: offset delta `od`, optional key, value of `vlen` bytes of `fill`, and
 * `n_headers` headers "h<i>" = "x". */
static void add_record(sl_buf_t *out, int32_t od, const char *key, size_t vlen, uint8_t fill,
                       int n_headers) {
    sl_buf_t one = {0};
    sl_writer_t w = {&one};
    sl_wr_i8(&w, 0);
    sl_wr_varint(&w, od); /* timestamp delta */
    sl_wr_varint(&w, od); /* offset delta */
    if (key) {
        sl_wr_varint(&w, (int64_t)strlen(key));
        sl_wr_raw(&w, key, strlen(key));
    } else {
        sl_wr_varint(&w, -1);
    }
    sl_wr_varint(&w, (int64_t)vlen);
    for (size_t i = 0; i < vlen; i++) {
        sl_wr_i8(&w, (int8_t)fill);
    }
    sl_wr_varint(&w, n_headers);
    for (int h = 0; h < n_headers; h++) {
        char hk[16];
        int n = snprintf(hk, sizeof hk, "h%d", h);
        sl_wr_varint(&w, n);
        sl_wr_raw(&w, hk, (size_t)n);
        sl_wr_varint(&w, 1);
        sl_wr_raw(&w, "x", 1);
    }
    sl_writer_t ow = {out};
    sl_wr_varint(&ow, (int64_t)one.len);
    sl_wr_raw(&ow, one.data, one.len);
    sl_buf_fini(&one);
}

/* `n` ordinary records (offset deltas 0..n-1, keys, small values, two headers each). */
static void records(sl_buf_t *out, int n) {
    for (int i = 0; i < n; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i);
        add_record(out, i, key, 20 + (size_t)i, (uint8_t)('a' + i % 26), 2);
    }
}

/* Wraps `len` payload bytes in a batch header with codec `codec`, `count` records and
 * lastOffsetDelta `last`, with a correct CRC-32C. */
static void wrap(sl_buf_t *out, const uint8_t *payload, size_t len, int codec, int32_t count,
                 int32_t last) {
    sl_writer_t wr = {out};
    out->len = 0;
    sl_wr_i64(&wr, 0);
    size_t len_at = sl_wr_i32(&wr, 0);
    sl_wr_i32(&wr, -1);
    sl_wr_i8(&wr, 2);
    size_t crc_at = sl_wr_i32(&wr, 0);
    sl_wr_i16(&wr, (int16_t)codec);
    sl_wr_i32(&wr, last);
    sl_wr_i64(&wr, 1000);
    sl_wr_i64(&wr, 1000 + last);
    sl_wr_i64(&wr, -1);
    sl_wr_i16(&wr, -1);
    sl_wr_i32(&wr, -1);
    sl_wr_i32(&wr, count);
    sl_wr_raw(&wr, payload, len);
    sl_wr_patch_i32(&wr, len_at, (int32_t)(out->len - 12));
    sl_wr_patch_i32(&wr, crc_at, (int32_t)sl_crc32c(0, out->data + 21, out->len - 21));
}

/* Compresses `in` with the codec's real library encoder into `out`. */
static void encode(sl_buf_t *out, int codec, const sl_buf_t *in) {
    out->len = 0;
    if (codec == SL_CODEC_GZIP) {
        z_stream zs = {0};
        deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
        sl_buf_reserve(out, deflateBound(&zs, in->len));
        zs.next_in = in->data;
        zs.avail_in = (uInt)in->len;
        zs.next_out = out->data;
        zs.avail_out = (uInt)out->cap;
        SL_ASSERT(deflate(&zs, Z_FINISH) == Z_STREAM_END);
        out->len = zs.total_out;
        deflateEnd(&zs);
    } else if (codec == SL_CODEC_ZSTD) {
        sl_buf_reserve(out, ZSTD_compressBound(in->len));
        size_t n = ZSTD_compress(out->data, out->cap, in->data, in->len, 3);
        SL_ASSERT(!ZSTD_isError(n));
        out->len = n;
    } else if (codec == SL_CODEC_LZ4) {
        sl_buf_reserve(out, LZ4F_compressFrameBound(in->len, NULL));
        size_t n = LZ4F_compressFrame(out->data, out->cap, in->data, in->len, NULL);
        SL_ASSERT(!LZ4F_isError(n));
        out->len = n;
    } else if (codec == SL_CODEC_SNAPPY) { /* plain raw snappy, as librdkafka sends */
        size_t n = snappy_max_compressed_length(in->len);
        sl_buf_reserve(out, n);
        SL_ASSERT(snappy_compress((const char *)in->data, in->len, (char *)out->data, &n) ==
                  SNAPPY_OK);
        out->len = n;
    } else {
        sl_buf_append(out, in->data, in->len);
    }
}

/* snappy-java's framing, as the Java producer sends: header, then blocks of `block` input bytes,
 * each [int32 BE length][raw snappy]. */
static void compress_xerial(sl_buf_t *out, const sl_buf_t *in, size_t block) {
    static const uint8_t hdr[16] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1};
    out->len = 0;
    sl_buf_append(out, hdr, sizeof hdr);
    for (size_t at = 0; at < in->len; at += block) {
        size_t n = in->len - at < block ? in->len - at : block;
        size_t clen = snappy_max_compressed_length(n);
        sl_buf_reserve(out, 4 + clen);
        SL_ASSERT(snappy_compress((const char *)in->data + at, n, (char *)out->data + out->len + 4,
                                  &clen) == SNAPPY_OK);
        sl_store_be32(out->data + out->len, (uint32_t)clen);
        out->len += 4 + clen;
    }
}

/* Parses the batch in `b` (its CRC must be right) and runs the record checks. */
static int verdict(const sl_buf_t *b, sl_decomp_t *d, size_t cap) {
    sl_batch_info_t info;
    if (sl_batch_parse(b->data, b->len, true, &info) != SL_OK) {
        return -1000; /* never expected: the tests build well-formed headers */
    }
    return sl_batch_check_records(b->data, &info, d, cap);
}

static const int codecs[] = {SL_CODEC_NONE, SL_CODEC_GZIP, SL_CODEC_SNAPPY, SL_CODEC_LZ4,
                             SL_CODEC_ZSTD};

TEST(every_codec_valid_batch_is_accepted) {
    sl_decomp_t d;
    sl_decomp_init(&d);
    sl_buf_t recs = {0}, z = {0}, b = {0};
    records(&recs, 50);
    for (size_t c = 0; c < sizeof codecs / sizeof codecs[0]; c++) {
        encode(&z, codecs[c], &recs);
        wrap(&b, z.data, z.len, codecs[c], 50, 49);
        CHECK_EQ_INT(verdict(&b, &d, MiB), KERR_NONE);
        if (codecs[c] != SL_CODEC_NONE) {
            CHECK_EQ_INT(d.out.len, recs.len); /* decompressed exactly the records */
            CHECK(memcmp(d.out.data, recs.data, recs.len) == 0);
        }
    }
    compress_xerial(&z, &recs, 256); /* several blocks */
    wrap(&b, z.data, z.len, SL_CODEC_SNAPPY, 50, 49);
    CHECK_EQ_INT(verdict(&b, &d, MiB), KERR_NONE);
    CHECK_EQ_INT(d.out.len, recs.len);
    sl_buf_fini(&recs);
    sl_buf_fini(&z);
    sl_buf_fini(&b);
    sl_decomp_fini(&d);
}

TEST(unknown_codecs_5_6_7_are_unsupported) {
    sl_decomp_t d;
    sl_decomp_init(&d);
    sl_buf_t recs = {0}, b = {0};
    records(&recs, 1);
    for (int codec = 5; codec <= 7; codec++) {
        wrap(&b, recs.data, recs.len, codec, 1, 0);
        CHECK_EQ_INT(verdict(&b, &d, MiB), KERR_UNSUPPORTED_COMPRESSION_TYPE);
    }
    sl_buf_fini(&recs);
    sl_buf_fini(&b);
    sl_decomp_fini(&d);
}

TEST(corrupt_compressed_payloads_are_corrupt_message) {
    sl_decomp_t d;
    sl_decomp_init(&d);
    sl_buf_t b = {0};
    const char *junk = "this is not compressed data at all, whatever the codec says";
    for (size_t c = 1; c < sizeof codecs / sizeof codecs[0]; c++) {
        wrap(&b, (const uint8_t *)junk, strlen(junk), codecs[c], 1, 0);
        CHECK_EQ_INT(verdict(&b, &d, MiB), KERR_CORRUPT_MESSAGE);
        wrap(&b, NULL, 0, codecs[c], 1, 0); /* an empty payload */
        CHECK_EQ_INT(verdict(&b, &d, MiB), KERR_CORRUPT_MESSAGE);
    }
    sl_buf_fini(&b);
    sl_decomp_fini(&d);
}

TEST(damaged_gzip_and_xerial_blocks_are_corrupt_message) {
    sl_decomp_t d;
    sl_decomp_init(&d);
    sl_buf_t recs = {0}, z = {0}, b = {0};
    records(&recs, 10);
    encode(&z, SL_CODEC_GZIP, &recs);
    z.data[z.len - 6] ^= 0x55; /* inside the gzip trailer's CRC-32 */
    wrap(&b, z.data, z.len, SL_CODEC_GZIP, 10, 9);
    CHECK_EQ_INT(verdict(&b, &d, MiB), KERR_CORRUPT_MESSAGE);
    encode(&z, SL_CODEC_GZIP, &recs);
    sl_buf_append(&z, "junk", 4); /* trailing bytes that are not another gzip member */
    wrap(&b, z.data, z.len, SL_CODEC_GZIP, 10, 9);
    CHECK_EQ_INT(verdict(&b, &d, MiB), KERR_CORRUPT_MESSAGE);
    compress_xerial(&z, &recs, 64);
    sl_store_be32(z.data + 16, 1u << 30); /* first block's length runs past the payload */
    wrap(&b, z.data, z.len, SL_CODEC_SNAPPY, 10, 9);
    CHECK_EQ_INT(verdict(&b, &d, MiB), KERR_CORRUPT_MESSAGE);
    sl_buf_fini(&recs);
    sl_buf_fini(&z);
    sl_buf_fini(&b);
    sl_decomp_fini(&d);
}

TEST(every_truncated_compressed_payload_is_refused) {
    sl_decomp_t d;
    sl_decomp_init(&d);
    sl_buf_t recs = {0}, z = {0}, b = {0};
    records(&recs, 8);
    for (size_t c = 1; c <= sizeof codecs / sizeof codecs[0]; c++) {
        if (c < sizeof codecs / sizeof codecs[0]) {
            encode(&z, codecs[c], &recs);
        } else {
            compress_xerial(&z, &recs, 100);
        }
        int codec = c < sizeof codecs / sizeof codecs[0] ? codecs[c] : SL_CODEC_SNAPPY;
        for (size_t n = 0; n < z.len; n++) {
            wrap(&b, z.data, n, codec, 8, 7);
            int v = verdict(&b, &d, MiB);
            if (v != KERR_CORRUPT_MESSAGE && v != KERR_INVALID_RECORD) {
                fprintf(stderr, "  codec %d prefix %zu of %zu: %d\n", codec, n, z.len, v);
            }
            CHECK(v == KERR_CORRUPT_MESSAGE || v == KERR_INVALID_RECORD);
        }
    }
    sl_buf_fini(&recs);
    sl_buf_fini(&z);
    sl_buf_fini(&b);
    sl_decomp_fini(&d);
}

TEST(garbage_uncompressed_records_are_invalid_record) {
    sl_decomp_t d;
    sl_decomp_init(&d);
    sl_buf_t b = {0};
    uint8_t ff[40];
    memset(ff, 0xff, sizeof ff); /* the robustness campaign's reproducer */
    wrap(&b, ff, sizeof ff, SL_CODEC_NONE, 3, 2);
    CHECK_EQ_INT(verdict(&b, &d, MiB), KERR_INVALID_RECORD);
    uint8_t zeros[40] = {0};
    wrap(&b, zeros, sizeof zeros, SL_CODEC_NONE, 3, 2);
    CHECK_EQ_INT(verdict(&b, &d, MiB), KERR_INVALID_RECORD);
    sl_buf_fini(&b);
    sl_decomp_fini(&d);
}

/* The same records under every codec, expecting `want`. */
static int all_codecs(sl_decomp_t *d, const sl_buf_t *recs, int32_t count, int32_t last, int want) {
    sl_buf_t z = {0}, b = {0};
    int bad = -1;
    for (size_t c = 0; c < sizeof codecs / sizeof codecs[0] && bad < 0; c++) {
        encode(&z, codecs[c], recs);
        wrap(&b, z.data, z.len, codecs[c], count, last);
        if (verdict(&b, d, MiB) != want) {
            bad = codecs[c];
        }
    }
    sl_buf_fini(&z);
    sl_buf_fini(&b);
    return bad; /* the first codec that disagreed, or -1 */
}

TEST(record_count_mismatches_are_invalid_record) {
    sl_decomp_t d;
    sl_decomp_init(&d);
    sl_buf_t recs = {0};
    records(&recs, 3);
    CHECK_EQ_INT(all_codecs(&d, &recs, 3, 2, KERR_NONE), -1);
    CHECK_EQ_INT(all_codecs(&d, &recs, 4, 3, KERR_INVALID_RECORD), -1); /* claims more */
    CHECK_EQ_INT(all_codecs(&d, &recs, 2, 1, KERR_INVALID_RECORD), -1); /* bytes left over */
    CHECK_EQ_INT(all_codecs(&d, &recs, 3, 5, KERR_INVALID_RECORD), -1); /* lastOffsetDelta */
    CHECK_EQ_INT(all_codecs(&d, &recs, 0, 0, KERR_INVALID_RECORD), -1); /* empty batch */
    sl_buf_fini(&recs);
    sl_decomp_fini(&d);
}

TEST(record_framing_errors_are_invalid_record) {
    sl_decomp_t d;
    sl_decomp_init(&d);
    sl_buf_t recs = {0};
    /* offset deltas out of order */
    add_record(&recs, 0, "a", 3, 'x', 0);
    add_record(&recs, 2, "b", 3, 'x', 0);
    CHECK_EQ_INT(all_codecs(&d, &recs, 2, 1, KERR_INVALID_RECORD), -1);
    /* a key length running past its record */
    recs.len = 0;
    add_record(&recs, 0, "key", 3, 'x', 0);
    recs.data[4] = 2 * 40; /* zigzag 40: the key length, after 4 one-byte fields */
    CHECK_EQ_INT(all_codecs(&d, &recs, 1, 0, KERR_INVALID_RECORD), -1);
    /* a value length below -1 */
    recs.len = 0;
    add_record(&recs, 0, NULL, 3, 'x', 0);
    recs.data[5] = 3; /* zigzag -2 */
    CHECK_EQ_INT(all_codecs(&d, &recs, 1, 0, KERR_INVALID_RECORD), -1);
    /* a negative header key length */
    recs.len = 0;
    add_record(&recs, 0, NULL, 0, 'x', 1); /* len, attr, ts, od, key -1, value 0, count 1 */
    recs.data[7] = 1;                      /* header key length zigzag -1 */
    CHECK_EQ_INT(all_codecs(&d, &recs, 1, 0, KERR_INVALID_RECORD), -1);
    /* a record length that leaves bytes of the record unread */
    recs.len = 0;
    add_record(&recs, 0, NULL, 2, 'x', 0);
    recs.data[0] += 2;
    sl_buf_append(&recs, "\0\0", 2);
    CHECK_EQ_INT(all_codecs(&d, &recs, 1, 0, KERR_INVALID_RECORD), -1);
    /* a header count larger than the bytes left */
    recs.len = 0;
    add_record(&recs, 0, NULL, 0, 'x', 0);
    recs.data[recs.len - 1] = 2 * 100;
    CHECK_EQ_INT(all_codecs(&d, &recs, 1, 0, KERR_INVALID_RECORD), -1);
    sl_buf_fini(&recs);
    sl_decomp_fini(&d);
}

TEST(decompression_bombs_are_refused_within_the_cap) {
    sl_decomp_t d;
    sl_decomp_init(&d);
    sl_buf_t recs = {0}, z = {0}, b = {0};
    add_record(&recs, 0, NULL, 8 * MiB, 0, 0); /* 8 MiB of zeros: compresses to a few KiB */
    const int bomb_codecs[] = {SL_CODEC_GZIP, SL_CODEC_SNAPPY, SL_CODEC_LZ4, SL_CODEC_ZSTD};
    for (size_t c = 0; c < sizeof bomb_codecs / sizeof bomb_codecs[0]; c++) {
        encode(&z, bomb_codecs[c], &recs);
        CHECK(z.len < MiB / 2); /* fits in message.max.bytes */
        wrap(&b, z.data, z.len, bomb_codecs[c], 1, 0);
        sl_decomp_fini(&d); /* a fresh buffer, to see how far the bomb grows it */
        CHECK_EQ_INT(verdict(&b, &d, MiB), KERR_MESSAGE_TOO_LARGE);
        CHECK(d.out.cap <= 2 * MiB);                        /* never held much more than the cap */
        CHECK_EQ_INT(verdict(&b, &d, 16 * MiB), KERR_NONE); /* the cap is what refused it */
    }
    compress_xerial(&z, &recs, 64 * 1024);
    wrap(&b, z.data, z.len, SL_CODEC_SNAPPY, 1, 0);
    CHECK_EQ_INT(verdict(&b, &d, MiB), KERR_MESSAGE_TOO_LARGE);
    sl_buf_fini(&recs);
    sl_buf_fini(&z);
    sl_buf_fini(&b);
    sl_decomp_fini(&d);
}

TEST(scratch_buffer_is_reused_across_batches) {
    sl_decomp_t d;
    sl_decomp_init(&d);
    sl_buf_t recs = {0}, z = {0}, b = {0};
    records(&recs, 30);
    encode(&z, SL_CODEC_ZSTD, &recs);
    wrap(&b, z.data, z.len, SL_CODEC_ZSTD, 30, 29);
    CHECK_EQ_INT(verdict(&b, &d, MiB), KERR_NONE);
    const uint8_t *data = d.out.data;
    void *ctx = d.zstd;
    for (int i = 0; i < 100; i++) {
        CHECK_EQ_INT(verdict(&b, &d, MiB), KERR_NONE);
    }
    CHECK(d.out.data == data && d.zstd == ctx); /* no reallocation in steady state */
    sl_buf_fini(&recs);
    sl_buf_fini(&z);
    sl_buf_fini(&b);
    sl_decomp_fini(&d);
}

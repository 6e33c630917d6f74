/* test_itopic.c -- the internal topics' shared pieces (broker/itopic.c): a batch built from
 * sl_itopic_batch_t is one Kafka accepts (CRC, record framing, attributes, producer), and
 * sl_itopic_each_value gives back exactly the values put in, in order, skipping null values and
 * stopping at a damaged length; sl_itopic_in_partition agrees with sl_itopic_partition_for. */
#include <stdlib.h>
#include <string.h>

#include "broker/itopic.h"
#include "common/codec.h"
#include "harness.h"
#include "proto/kerr.h"
#include "storage/compress.h"

typedef struct seen {
    int n;
    int32_t deltas[8];
    char values[8][16];
} seen_t;

static void collect(void *ctx, int32_t delta, sl_bytes_t value) {
    seen_t *s = ctx;
    if (s->n < 8 && value.len < sizeof s->values[0]) {
        s->deltas[s->n] = delta;
        memcpy(s->values[s->n], value.p, value.len);
        s->values[s->n][value.len] = '\0';
    }
    s->n++;
}

static void add(sl_itopic_batch_t *bt, const char *k, const char *v) {
    sl_buf_t key = {0}, value = {0};
    sl_buf_append(&key, k, strlen(k));
    sl_buf_append(&value, v, strlen(v));
    sl_itopic_batch_add(bt, &key, &value);
    sl_buf_fini(&key);
    sl_buf_fini(&value);
}

TEST(built_batch_is_valid_and_gives_its_values_back) {
    sl_itopic_batch_t bt = {.now_ms = 1700000000000};
    add(&bt, "g1", "one");
    add(&bt, "g2", "two");
    add(&bt, "g3", "three");
    CHECK_EQ_INT(bt.n, 3);
    for (int txn = 0; txn < 2; txn++) {
        sl_buf_t batch = {0};
        sl_itopic_build_batch(&bt, txn ? 42 : -1, txn ? 3 : -1, txn, &batch);
        sl_batch_info_t info;
        CHECK(sl_batch_parse(batch.data, batch.len, true, &info) == SL_OK);
        CHECK_EQ_INT(info.total_bytes, batch.len);
        CHECK_EQ_INT(info.record_count, 3);
        CHECK_EQ_INT(info.last_offset_delta, 2);
        CHECK_EQ_INT(info.producer_id, txn ? 42 : -1);
        CHECK_EQ_INT(info.producer_epoch, txn ? 3 : -1);
        CHECK_EQ_INT(!!(info.attributes & SL_BATCH_ATTR_TRANSACTIONAL), txn);
        CHECK_EQ_INT(info.attributes & SL_BATCH_ATTR_CODEC_MASK, 0);
        CHECK_EQ_INT(info.max_timestamp, 1700000000000);
        sl_decomp_t d;
        sl_decomp_init(&d);
        CHECK_EQ_INT(sl_batch_check_records(batch.data, &info, &d, 1 << 20), KERR_NONE);
        sl_decomp_fini(&d);
        seen_t s = {0};
        sl_itopic_each_value(batch.data + SL_BATCH_HEADER_BYTES,
                             info.total_bytes - SL_BATCH_HEADER_BYTES, info.record_count, collect,
                             &s);
        CHECK_EQ_INT(s.n, 3);
        CHECK(!strcmp(s.values[0], "one") && !strcmp(s.values[1], "two") &&
              !strcmp(s.values[2], "three"));
        CHECK(s.deltas[0] == 0 && s.deltas[1] == 1 && s.deltas[2] == 2);
        sl_buf_fini(&batch);
    }
    sl_itopic_batch_fini(&bt);
    CHECK_EQ_INT(bt.n, 0);
}

/* A record: attributes, timestamp delta, offset delta, key, value (vlen -1: null), no headers. */
static void put_record(sl_buf_t *out, int32_t delta, const char *v) {
    sl_buf_t rec = {0};
    sl_writer_t wr = {&rec};
    sl_wr_i8(&wr, 0);
    sl_wr_varint(&wr, 0);
    sl_wr_varint(&wr, delta);
    sl_wr_varint(&wr, 1);
    sl_buf_append(&rec, "k", 1);
    sl_wr_varint(&wr, v ? (int64_t)strlen(v) : -1);
    if (v) {
        sl_buf_append(&rec, v, strlen(v));
    }
    sl_wr_varint(&wr, 0);
    sl_writer_t o = {out};
    sl_wr_varint(&o, (int64_t)rec.len);
    sl_buf_append(out, rec.data, rec.len);
    sl_buf_fini(&rec);
}

TEST(each_value_skips_tombstones_and_stops_at_a_bad_length) {
    sl_buf_t recs = {0};
    put_record(&recs, 0, "a");
    put_record(&recs, 1, NULL); /* a tombstone: nothing to load */
    put_record(&recs, 2, "c");
    seen_t s = {0};
    sl_itopic_each_value(recs.data, recs.len, 3, collect, &s);
    CHECK_EQ_INT(s.n, 2);
    CHECK(!strcmp(s.values[0], "a") && !strcmp(s.values[1], "c"));
    CHECK_EQ_INT(s.deltas[1], 2);
    /* Fewer records than the count says, then a length past the end: the walk stops. */
    s = (seen_t){0};
    sl_itopic_each_value(recs.data, recs.len, 5, collect, &s);
    CHECK_EQ_INT(s.n, 2);
    sl_writer_t wr = {&recs};
    sl_wr_varint(&wr, 1000);
    put_record(&recs, 4, "never");
    s = (seen_t){0};
    sl_itopic_each_value(recs.data, recs.len, 5, collect, &s);
    CHECK_EQ_INT(s.n, 2);
    /* Every truncation gives a prefix of the values, never more. */
    for (size_t n = 0; n < recs.len; n++) {
        s = (seen_t){0};
        sl_itopic_each_value(recs.data, n, 3, collect, &s);
        CHECK(s.n <= 2);
    }
    sl_buf_fini(&recs);
}

TEST(in_partition_matches_partition_for) {
    const char *keys[] = {"my-group", "failover-group", "a", "", "txn-7"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        int32_t p = sl_itopic_partition_for((sl_str_t){keys[i], strlen(keys[i])}, 50);
        for (int32_t j = 0; j < 50; j++) {
            sl_itopic_match_t m = {j, 50};
            CHECK_EQ_INT(sl_itopic_in_partition(keys[i], &m), j == p);
        }
    }
}

/* test_payload.c -- bench record bodies: exact sizes, the 24-byte header left alone, valid JSON,
 * the size mix's weights, event-time disorder within its bounds, determinism, spec errors, and
 * the consumer-side out-of-order count. */
#include <stdlib.h>

#include "bench/payload.h"
#include "common/util.h"
#include "harness.h"

#define NOW_MS 1764064800000LL /* 2025-11-25, a realistic epoch-ms width */

static const char *const kinds[] = {"fixed", "chat", "transaction", "iot", "mix"};

static sl_payload_spec_t spec(const char *kind, const char *sizes, int64_t size, int64_t dis_ms,
                              const char *frac) {
    sl_payload_spec_t s;
    char err[SL_ERRLEN];
    if (sl_payload_spec_init(&s, kind, sizes, size, dis_ms, frac, 42, err) != SL_OK) {
        fprintf(stderr, "spec: %s\n", err);
        abort();
    }
    return s;
}

/* A minimal JSON checker: one value spanning [p, end), blanks allowed between tokens. */
static const uint8_t *skip_ws(const uint8_t *p, const uint8_t *e) {
    while (p < e && (*p == ' ' || *p == '\n')) {
        p++;
    }
    return p;
}

static const uint8_t *json_value(const uint8_t *p, const uint8_t *e, int depth);

static const uint8_t *json_string(const uint8_t *p, const uint8_t *e) {
    if (p >= e || *p != '"') {
        return NULL;
    }
    for (p++; p < e && *p != '"'; p++) {
        if (*p < 0x20 || *p == '\\' || *p > 0x7e) {
            return NULL;
        }
    }
    return p < e ? p + 1 : NULL;
}

static const uint8_t *json_seq(const uint8_t *p, const uint8_t *e, int depth, uint8_t close,
                               int object) {
    p = skip_ws(p + 1, e);
    if (p < e && *p == close) {
        return p + 1;
    }
    for (;;) {
        if (object) {
            p = json_string(skip_ws(p, e), e);
            p = p ? skip_ws(p, e) : NULL;
            if (!p || p >= e || *p++ != ':') {
                return NULL;
            }
        }
        p = json_value(p, e, depth + 1);
        p = p ? skip_ws(p, e) : NULL;
        if (!p || p >= e) {
            return NULL;
        }
        if (*p == close) {
            return p + 1;
        }
        if (*p++ != ',') {
            return NULL;
        }
    }
}

static const uint8_t *json_value(const uint8_t *p, const uint8_t *e, int depth) {
    p = skip_ws(p, e);
    if (p >= e || depth > 16) {
        return NULL;
    }
    if (*p == '{') {
        return json_seq(p, e, depth, '}', 1);
    }
    if (*p == '[') {
        return json_seq(p, e, depth, ']', 0);
    }
    if (*p == '"') {
        return json_string(p, e);
    }
    const uint8_t *q = p;
    while (q < e && ((*q >= '0' && *q <= '9') || *q == '.' || *q == '-')) {
        q++;
    }
    return q > p ? q : NULL;
}

static int is_json(const uint8_t *p, size_t n) {
    const uint8_t *q = json_value(p, p + n, 0);
    return q && skip_ws(q, p + n) == p + n;
}

TEST(sizes_are_exact_and_the_header_is_left_alone) {
    static const uint32_t sizes[] = {512, 513, 777, 1024, 4095, 10240, 102400};
    for (size_t k = 1; k < SL_ARRAY_LEN(kinds); k++) {
        for (size_t i = 0; i < SL_ARRAY_LEN(sizes); i++) {
            sl_payload_spec_t s = spec(kinds[k], "", sizes[i], 20, "0.5");
            sl_payload_gen_t *g = sl_payload_gen_new(&s, 3);
            uint8_t *buf = sl_payload_buf(g);
            uint8_t hdr[SL_PAYLOAD_HDR];
            for (int b = 0; b < SL_PAYLOAD_HDR; b++) {
                hdr[b] = (uint8_t)(0xA0 + b);
            }
            memcpy(buf, hdr, sizeof hdr);
            for (uint64_t seq = 0; seq < 200; seq++) {
                int64_t ev = 0;
                size_t n = sl_payload_next(g, seq, NOW_MS + (int64_t)seq, seq * 7, &ev);
                CHECK_EQ_INT(n, sizes[i]);
                CHECK(memcmp(buf, hdr, sizeof hdr) == 0);
                CHECK(is_json(buf + SL_PAYLOAD_HDR, n - SL_PAYLOAD_HDR));
                CHECK_EQ_INT(sl_payload_event_ms(buf, n), ev);
            }
            sl_payload_gen_free(g);
        }
    }
}

TEST(worst_case_fields_still_fit_the_smallest_record) {
    for (size_t k = 1; k < SL_ARRAY_LEN(kinds); k++) {
        sl_payload_spec_t s = spec(kinds[k], "", SL_PAYLOAD_MIN, 0, "0");
        sl_payload_gen_t *g = sl_payload_gen_new(&s, 1023);
        for (int i = 0; i < 2000; i++) {
            size_t n =
                sl_payload_next(g, UINT64_MAX - (uint64_t)i, INT64_MAX / 2, UINT64_MAX, NULL);
            CHECK_EQ_INT(n, SL_PAYLOAD_MIN);
            CHECK(is_json(sl_payload_buf(g) + SL_PAYLOAD_HDR, n - SL_PAYLOAD_HDR));
        }
        sl_payload_gen_free(g);
    }
}

TEST(fixed_keeps_the_original_filler) {
    sl_payload_spec_t s = spec("fixed", "", 1024, 0, "0.1");
    sl_payload_gen_t *g = sl_payload_gen_new(&s, 0);
    uint8_t *buf = sl_payload_buf(g);
    CHECK_EQ_INT(sl_payload_next(g, 0, NOW_MS, 1, NULL), 1024);
    for (size_t i = SL_PAYLOAD_HDR; i < 1024; i++) {
        CHECK_EQ_INT(buf[i], 'a' + i % 26);
    }
    CHECK_EQ_INT(sl_payload_event_ms(buf, 1024), -1); /* no event timestamp in fixed records */
    sl_payload_gen_free(g);
}

TEST(size_mix_follows_its_weights) {
    sl_payload_spec_t s = spec("mix", "1k:80,10240:15,100k:5", 0, 0, "0.1");
    CHECK_EQ_INT(s.max_size, 102400);
    sl_payload_gen_t *g = sl_payload_gen_new(&s, 0);
    enum { N = 200000 };
    long by_size[3] = {0}, by_kind[3] = {0};
    for (uint64_t i = 0; i < N; i++) {
        size_t n = sl_payload_next(g, i, NOW_MS, i, NULL);
        int at = n == 1024 ? 0 : n == 10240 ? 1 : n == 102400 ? 2 : -1;
        CHECK(at >= 0);
        by_size[at]++;
        const char *kind = (const char *)memmem(sl_payload_buf(g), n, "\"kind\":\"", 8) + 8;
        by_kind[kind[0] == 'c' ? 0 : kind[0] == 't' ? 1 : 2]++;
    }
    /* Binomial sd at N = 200k is under 0.1%; allow 0.5% absolute. */
    CHECK(labs(by_size[0] - N * 80 / 100) < N / 200);
    CHECK(labs(by_size[1] - N * 15 / 100) < N / 200);
    CHECK(labs(by_size[2] - N * 5 / 100) < N / 200);
    for (int k = 0; k < 3; k++) {
        CHECK(labs(by_kind[k] - N / 3) < N / 200);
    }
    sl_payload_gen_free(g);
}

TEST(disorder_stays_within_bounds_and_fraction) {
    sl_payload_spec_t s = spec("chat", "", 1024, 50, "0.1");
    sl_payload_gen_t *g = sl_payload_gen_new(&s, 0);
    enum { N = 100000 };
    long moved = 0, at_max = 0;
    for (uint64_t i = 0; i < N; i++) {
        int64_t due = NOW_MS + (int64_t)i, ev;
        size_t n = sl_payload_next(g, i, due, 5, &ev);
        CHECK(ev <= due && ev >= due - 50);
        CHECK_EQ_INT(sl_payload_event_ms(sl_payload_buf(g), n), ev);
        moved += ev != due;
        at_max += ev == due - 50;
    }
    CHECK(labs(moved - N / 10) < N / 100); /* 10% +- 1% */
    CHECK(at_max > 0);                     /* the whole range 1..50 ms is used */
    sl_payload_gen_free(g);

    s = spec("iot", "", 1024, 0, "1");
    g = sl_payload_gen_new(&s, 0);
    for (uint64_t i = 0; i < 1000; i++) {
        int64_t ev;
        sl_payload_next(g, i, NOW_MS, 5, &ev);
        CHECK_EQ_INT(ev, NOW_MS); /* disorder.ms=0: event time is the intended send time */
    }
    sl_payload_gen_free(g);
}

TEST(same_seed_same_records) {
    sl_payload_spec_t s = spec("mix", "600:1,3000:1", 0, 30, "0.3");
    sl_payload_gen_t *a = sl_payload_gen_new(&s, 2), *b = sl_payload_gen_new(&s, 2);
    sl_payload_gen_t *c = sl_payload_gen_new(&s, 3);
    int differs = 0;
    for (uint64_t i = 0; i < 500; i++) {
        size_t na = sl_payload_next(a, i, NOW_MS, i, NULL);
        size_t nb = sl_payload_next(b, i, NOW_MS, i, NULL);
        size_t nc = sl_payload_next(c, i, NOW_MS, i, NULL);
        CHECK_EQ_INT(na, nb);
        CHECK(memcmp(sl_payload_buf(a), sl_payload_buf(b), na) == 0);
        differs |= na != nc || memcmp(sl_payload_buf(a), sl_payload_buf(c), na) != 0;
    }
    CHECK(differs); /* another producer draws its own sequence */
    sl_payload_gen_free(a);
    sl_payload_gen_free(b);
    sl_payload_gen_free(c);
}

TEST(spec_rejects_bad_settings) {
    sl_payload_spec_t s;
    char err[SL_ERRLEN];
    CHECK(sl_payload_spec_init(&s, "json", "", 1024, 0, "0.1", 1, err) == SL_ERR_INVAL);
    CHECK(sl_payload_spec_init(&s, "chat", "", 100, 0, "0.1", 1, err) == SL_ERR_INVAL);
    CHECK(sl_payload_spec_init(&s, "fixed", "", 100, 0, "0.1", 1, err) == SL_OK);
    CHECK(sl_payload_spec_init(&s, "fixed", "", 100, 10, "0.1", 1, err) == SL_ERR_INVAL);
    CHECK(sl_payload_spec_init(&s, "mix", "1024:x", 0, 0, "0.1", 1, err) == SL_ERR_INVAL);
    CHECK(sl_payload_spec_init(&s, "mix", "1024:0", 0, 0, "0.1", 1, err) == SL_ERR_INVAL);
    CHECK(sl_payload_spec_init(&s, "mix", "1024;2048", 0, 0, "0.1", 1, err) == SL_ERR_INVAL);
    CHECK(sl_payload_spec_init(&s, "mix", "100000000", 0, 0, "0.1", 1, err) == SL_ERR_INVAL);
    CHECK(sl_payload_spec_init(&s, "mix", "1024", 0, 0, "1.5", 1, err) == SL_ERR_INVAL);
    CHECK(sl_payload_spec_init(&s, "mix", "1024", 0, 0, "", 1, err) == SL_ERR_INVAL);
    CHECK(sl_payload_spec_init(&s, "mix", "1024,2048:3", 9999, 5, "0", 1, err) == SL_OK);
    CHECK_EQ_INT(s.n_sizes, 2);
    CHECK_EQ_INT(s.size[1], 2048);
    CHECK_EQ_INT(s.cum_weight[1], 4);
    CHECK_EQ_INT(s.max_size, 2048); /* sizes overrides size */
}

TEST(consumers_count_out_of_order_per_producer_and_partition) {
    sl_disorder_t d;
    sl_disorder_init(&d, 2, 2);
    /* producer 0: seq 0 -> partition 0, seq 1 -> partition 1, seq 2 -> partition 0 ... */
    sl_disorder_note(&d, 0, 1, 200); /* partition 1 runs ahead of partition 0: not disorder */
    sl_disorder_note(&d, 0, 0, 100);
    sl_disorder_note(&d, 0, 2, 150);
    sl_disorder_note(&d, 0, 4, 140); /* earlier than 150 on partition 0 */
    sl_disorder_note(&d, 1, 0, 10);  /* producer 1, partition 1: its own clock */
    sl_disorder_note(&d, 1, 2, 10);  /* equal is not out of order */
    sl_disorder_note(&d, 7, 0, 0);   /* unknown producer: ignored */
    CHECK_EQ_INT(d.seen, 6);
    CHECK_EQ_INT(d.late, 1);
    sl_disorder_fini(&d);
    CHECK_EQ_INT(sl_payload_event_ms("SLB1", 4), -1);
}

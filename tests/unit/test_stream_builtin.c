/* test_stream_builtin.c -- the ready-made aggregates and reduce through a task with no broker:
 * count/sum/min/max/avg over a JSON field, exact int64 sums that fall back to double on
 * overflow, a non-number dead-lettered, distinct count exact below its bound and estimated
 * above, session merges, reduce with its size bound, and the builder's checks. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"
#include "stream/task.h"

#define MAXOUT 64
static char OUT_TOPIC[MAXOUT][64], OUT_VAL[MAXOUT][64];
static int N_OUT;

static sl_err_t collect(void *opaque, const char *topic, int32_t partition, sl_bytes_t key,
                        sl_bytes_t value, int64_t ts, const sl_stream_hdr_t *h, size_t nh,
                        const sl_stream_stage_t *stage) {
    (void)opaque, (void)partition, (void)key, (void)ts, (void)h, (void)nh, (void)stage;
    int i = N_OUT < MAXOUT ? N_OUT++ : MAXOUT - 1; /* the last slot keeps the latest */
    snprintf(OUT_TOPIC[i], 64, "%s", topic);
    snprintf(OUT_VAL[i], 64, "%.*s", (int)value.len, value.p ? (const char *)value.p : "");
    return SL_OK;
}

static sl_stream_task_conf_t CONF = {"app", NULL, SL_STREAM_ON_ERROR_DEAD_LETTER, collect, NULL};

static sl_bytes_t B(const char *z) {
    return (sl_bytes_t){(const uint8_t *)z, strlen(z)};
}

/* in -> aggregate -> out, one task; returns the builder (the task in *t). */
static sl_stream_builder_t *one(sl_stream_agg_t (*mk)(sl_stream_builder_t *b, void *arg), void *arg,
                                const sl_stream_window_t *w, sl_stream_task_t **t) {
    sl_stream_builder_t *b = sl_stream_builder_new();
    sl_stream_agg_t a = mk(b, arg);
    sl_stream_to(sl_stream_aggregate(sl_stream_source(b, "in", NULL), "agg", w, &a), "out");
    *t = sl_stream_graph_check(b) ? NULL : sl_stream_task_new(b, 0, 0, &CONF, 0);
    return b;
}

static sl_err_t feed(sl_stream_task_t *t, const char *key, const char *value, int64_t ts) {
    sl_stream_rec_t r = {B(key), B(value), ts, "in", 0, 0};
    return sl_stream_task_process(t, 0, &r, 0);
}

static sl_stream_builtin_t KIND;
static sl_stream_agg_t mk_amount(sl_stream_builder_t *b, void *arg) {
    (void)arg;
    return sl_stream_builtin(b, KIND, "amount");
}

static const char *last(void) {
    return N_OUT ? OUT_VAL[N_OUT - 1] : "";
}

TEST(count_sum_min_max_avg_over_a_json_field) {
    static const struct {
        sl_stream_builtin_t kind;
        const char *want;
    } cases[] = {{SL_STREAM_COUNT, "4"},
                 {SL_STREAM_SUM, "7.5"},
                 {SL_STREAM_MIN, "-2"},
                 {SL_STREAM_MAX, "5"},
                 {SL_STREAM_AVG, "1.875"}};
    const char *amounts[] = {"{\"amount\": 3}", "{\"amount\": \"5\"}", "{\"amount\": 1.5}",
                             "{\"amount\": -2}"};
    for (size_t c = 0; c < SL_ARRAY_LEN(cases); c++) {
        N_OUT = 0;
        KIND = cases[c].kind;
        sl_stream_task_t *t;
        sl_stream_builder_t *b = one(mk_amount, NULL, NULL, &t);
        CHECK(t != NULL);
        for (size_t i = 0; i < SL_ARRAY_LEN(amounts); i++) {
            CHECK(feed(t, "u", amounts[i], 1) == SL_OK);
        }
        CHECK_EQ_INT(N_OUT, 4); /* a running aggregate: one result per update */
        if (strcmp(last(), cases[c].want)) {
            fprintf(stderr, "  kind %d: got %s want %s\n", (int)KIND, last(), cases[c].want);
        }
        CHECK(!strcmp(last(), cases[c].want));
        sl_stream_task_free(t);
        sl_stream_builder_free(b);
    }
}

static sl_stream_agg_t mk_value(sl_stream_builder_t *b, void *arg) {
    return sl_stream_builtin(b, *(sl_stream_builtin_t *)arg, NULL);
}

TEST(int64_sums_stay_exact_then_fall_back_to_double) {
    N_OUT = 0;
    sl_stream_builtin_t k = SL_STREAM_SUM;
    sl_stream_task_t *t;
    sl_stream_builder_t *b = one(mk_value, &k, NULL, &t);
    CHECK(t != NULL);
    CHECK(feed(t, "u", "9223372036854775806", 1) == SL_OK);
    CHECK(feed(t, "u", "1", 1) == SL_OK);
    CHECK(!strcmp(last(), "9223372036854775807"));
    CHECK(feed(t, "u", "1", 1) == SL_OK); /* would overflow: double from here on */
    CHECK(strtod(last(), NULL) == 9223372036854775808.0);
    /* A value that is not a number goes to the dead-letter topic; the sum is untouched. */
    int before = N_OUT;
    CHECK(feed(t, "u", "12abc", 1) == SL_OK);
    CHECK_EQ_INT(N_OUT, before + 1);
    CHECK(!strcmp(OUT_TOPIC[N_OUT - 1], "app-dlq"));
    sl_stream_task_free(t);
    sl_stream_builder_free(b);
}

TEST(distinct_count_exact_below_the_bound_estimated_above) {
    N_OUT = 0;
    sl_stream_builtin_t k = SL_STREAM_COUNT_DISTINCT;
    sl_stream_task_t *t;
    sl_stream_builder_t *b = one(mk_value, &k, NULL, &t);
    CHECK(t != NULL);
    char v[32];
    for (int round = 0; round < 3; round++) { /* 200 values, each three times */
        for (int i = 0; i < 200; i++) {
            snprintf(v, sizeof v, "v%d", i);
            CHECK(feed(t, "a", v, 1) == SL_OK);
        }
    }
    CHECK(!strcmp(last(), "200"));
    for (int i = 0; i < 20000; i++) {
        snprintf(v, sizeof v, "x%d", i);
        CHECK(feed(t, "b", v, 1) == SL_OK);
    }
    double est = strtod(last(), NULL);
    CHECK(fabs(est - 20000) < 20000 * 0.2); /* ~6% typical error; 20% bound */
    sl_stream_task_free(t);
    sl_stream_builder_free(b);
}

TEST(sessions_merge_builtin_state) {
    static const sl_stream_builtin_t kinds[] = {SL_STREAM_SUM, SL_STREAM_COUNT_DISTINCT};
    static const char *want[] = {"7", "3"};
    for (size_t c = 0; c < 2; c++) {
        N_OUT = 0;
        sl_stream_window_t w = {SL_STREAM_SESSION, 0, 0, 60, 0, 0, true};
        sl_stream_task_t *t;
        sl_stream_builder_t *b = one(mk_value, (void *)&kinds[c], &w, &t);
        CHECK(t != NULL);
        CHECK(feed(t, "u", "1", 0) == SL_OK);
        CHECK(feed(t, "u", "2", 100) == SL_OK); /* a second session */
        CHECK(feed(t, "u", "4", 50) == SL_OK);  /* bridges both: one session [0, 100] */
        CHECK(!strcmp(last(), want[c]));
        sl_stream_task_free(t);
        sl_stream_builder_free(b);
    }
}

static sl_err_t concat(sl_bytes_t acc, sl_bytes_t value, void *user, uint8_t *out, size_t cap,
                       size_t *out_len) {
    (void)user;
    if (acc.len + value.len > cap) {
        *out_len = acc.len + value.len; /* too long: the engine refuses it */
        return SL_OK;
    }
    memcpy(out, acc.p, acc.len);
    memcpy(out + acc.len, value.p, value.len);
    *out_len = acc.len + value.len;
    return SL_OK;
}

TEST(reduce_and_its_bound) {
    N_OUT = 0;
    sl_stream_builder_t *b = sl_stream_builder_new();
    sl_stream_to(sl_stream_reduce(sl_stream_source(b, "in", NULL), "cat", NULL, concat, NULL, 4),
                 "out");
    CHECK(sl_stream_graph_check(b) == NULL);
    sl_stream_task_t *t = sl_stream_task_new(b, 0, 0, &CONF, 0);
    CHECK(feed(t, "k", "ab", 1) == SL_OK);
    CHECK(feed(t, "k", "c", 1) == SL_OK);
    CHECK(!strcmp(last(), "abc"));
    CHECK(feed(t, "k", "de", 1) == SL_OK); /* 5 bytes > 4: dead-lettered, state kept */
    CHECK(!strcmp(OUT_TOPIC[N_OUT - 1], "app-dlq"));
    CHECK(feed(t, "k", "d", 1) == SL_OK);
    CHECK(!strcmp(last(), "abcd"));
    sl_stream_task_free(t);
    sl_stream_builder_free(b);

    b = sl_stream_builder_new();
    sl_stream_to(sl_stream_reduce(sl_stream_source(b, "in", NULL), "cat", NULL, concat, NULL, 0),
                 "out");
    CHECK(sl_stream_graph_check(b) && strstr(sl_stream_graph_check(b), "reduce 'cat'"));
    sl_stream_builder_free(b);
}

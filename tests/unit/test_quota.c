/* test_quota.c -- client quotas: the sliding-window rate and Kafka's throttle formula, the
 * precedence of quota entities, shared and separate rates, validation of entities and values, and
 * connection_creation_rate per address. Time is passed in, so nothing here sleeps. */
#include <math.h>

#include "broker/quota.h"
#include "common/err.h"
#include "harness.h"
#include "proto/kerr.h"

#define MS  1000000ull
#define SEC 1000000000ull
#define T0  (1000 * SEC)

static sl_str_t S(const char *z) {
    return (sl_str_t){z, strlen(z)};
}

TEST(rate_counts_at_least_n_minus_1_windows) {
    sl_rate_t r;
    sl_rate_init(&r, 11, SEC);
    sl_rate_record(&r, 1000, T0);
    /* One burst is judged over 10 windows, not over the few ns since it arrived. */
    CHECK_EQ_INT(sl_rate_window_ns(&r, T0 + MS), 10 * SEC + MS);
    CHECK(fabs(sl_rate_measure(&r, T0) - 100.0) < 1e-6);
    /* A steady 500 units/s over 20 s measures about 500/s over the last 11 windows. */
    for (int i = 0; i <= 200; i++) {
        sl_rate_record(&r, 50, T0 + SEC + (uint64_t)i * 100 * MS);
    }
    double rate = sl_rate_measure(&r, T0 + 21 * SEC);
    CHECK(rate > 450 && rate < 550);
    /* Silence for longer than the whole window forgets everything. */
    CHECK(sl_rate_measure(&r, T0 + 60 * SEC) == 0);
}

TEST(throttle_is_kafkas_formula_and_bounded) {
    /* (rate - bound) / bound * window: 2x over a 10 s window means 10 s, capped. */
    CHECK_EQ_INT(sl_quota_throttle_ms(200, 100, 10 * SEC, 100000), 10000);
    CHECK_EQ_INT(sl_quota_throttle_ms(150, 100, 10 * SEC, 100000), 5000);
    CHECK_EQ_INT(sl_quota_throttle_ms(200, 100, 10 * SEC, 1000), 1000);
    CHECK_EQ_INT(sl_quota_throttle_ms(100, 100, 10 * SEC, 1000), 0);
    CHECK_EQ_INT(sl_quota_throttle_ms(50, 100, 10 * SEC, 1000), 0);
    CHECK_EQ_INT(sl_quota_throttle_ms(50, 0, 10 * SEC, 1000), 0);
}

/* A client that waits out every throttle it is given ends near its quota. */
TEST(obeying_the_throttle_converges_to_the_quota) {
    sl_quotas_t *q = sl_quotas_new(11, 1000, 0, 0);
    sl_quota_entity_t e = {{false, true, false}, {NULL, "flood", NULL}};
    double v[SL_QK_N] = {[SL_QK_PRODUCER_BYTE_RATE] = 1e6};
    sl_quotas_put(q, &e, 1u << SL_QK_PRODUCER_BYTE_RATE, v);
    uint64_t now = T0, bytes = 0, throttled = 0;
    /* 256 KiB every ms unthrottled would be 256 MB/s. */
    while (now < T0 + 60 * SEC) {
        uint32_t ms = sl_quota_record(q, SL_QUOTA_PRINCIPAL, S("flood"), SL_QK_PRODUCER_BYTE_RATE,
                                      262144, now);
        bytes += 262144;
        throttled += ms > 0;
        now += (ms ? ms : 1) * MS;
    }
    double rate = (double)bytes / 60.0;
    CHECK(throttled > 0);
    CHECK(rate > 0.8e6 && rate < 1.3e6);
    sl_quotas_free(q);
}

TEST(precedence_follows_kafka_order) {
    sl_quotas_t *q = sl_quotas_new(2, 1000, 0, 0);
    unsigned m = 1u << SL_QK_PRODUCER_BYTE_RATE;
    /* Each level gets a distinct bound; the client is pushed 1,000,000 bytes in one go, so
     * throttle = (1e6/1s - bound)/bound * 1 s reveals which bound applied. */
    struct {
        sl_quota_entity_t e;
        double bound;
    } lv[] = {
        {{{false, true, false}, {NULL, NULL, NULL}}, 950000}, /* default client-id */
        {{{false, true, false}, {NULL, "c", NULL}}, 900000},  /* client-id */
        {{{true, false, false}, {NULL, NULL, NULL}}, 850000}, /* default user */
        {{{true, true, false}, {NULL, NULL, NULL}}, 800000},  /* default user, default client */
        {{{true, true, false}, {NULL, "c", NULL}}, 750000},   /* default user, client */
        {{{true, false, false}, {"ANONYMOUS", NULL, NULL}}, 700000}, /* user */
        {{{true, true, false}, {"ANONYMOUS", NULL, NULL}}, 650000},  /* user, default client */
        {{{true, true, false}, {"ANONYMOUS", "c", NULL}}, 600000},   /* user, client */
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(lv); i++) {
        double v[SL_QK_N] = {[SL_QK_PRODUCER_BYTE_RATE] = lv[i].bound};
        sl_quotas_put(q, &lv[i].e, m, v);
        /* a fresh client-id each round, so no rate carries over; "c" only in its own rounds */
        const char *cid = lv[i].e.has[SL_QE_CLIENT] && lv[i].e.name[SL_QE_CLIENT] ? "c" : "x";
        uint64_t now = T0 + (uint64_t)i * 100 * SEC;
        uint32_t got =
            sl_quota_record(q, SL_QUOTA_PRINCIPAL, S(cid), SL_QK_PRODUCER_BYTE_RATE, 1e6, now);
        uint32_t want = sl_quota_throttle_ms(1e6, lv[i].bound, SEC, 1000);
        if (got != want) {
            fprintf(stderr, "  level %zu: throttle %u, want %u\n", i, got, want);
        }
        CHECK_EQ_INT(got, want);
    }
    /* Removing the top level falls back to the next one. */
    sl_quotas_put(q, &lv[7].e, 0, NULL);
    CHECK_EQ_INT(sl_quota_record(q, SL_QUOTA_PRINCIPAL, S("c"), SL_QK_PRODUCER_BYTE_RATE, 1e6,
                                 T0 + 10000 * SEC),
                 sl_quota_throttle_ms(1e6, 650000, SEC, 1000));
    sl_quotas_free(q);
}

TEST(default_client_quota_gives_each_client_its_own_rate) {
    sl_quotas_t *q = sl_quotas_new(2, 1000, 0, 0);
    sl_quota_entity_t def = {{false, true, false}, {NULL, NULL, NULL}};
    double v[SL_QK_N] = {[SL_QK_PRODUCER_BYTE_RATE] = 1000};
    sl_quotas_put(q, &def, 1u << SL_QK_PRODUCER_BYTE_RATE, v);
    CHECK(sl_quota_record(q, "ANONYMOUS", S("a"), SL_QK_PRODUCER_BYTE_RATE, 1500, T0) > 0);
    /* "b" has used nothing: its own rate, not a's. */
    CHECK_EQ_INT(sl_quota_record(q, "ANONYMOUS", S("b"), SL_QK_PRODUCER_BYTE_RATE, 500, T0), 0);
    CHECK_EQ_INT(sl_quotas_n_sensors(q), 2);
    /* A user quota is shared by every client-id of the user. */
    sl_quota_entity_t user = {{true, false, false}, {"ANONYMOUS", NULL, NULL}};
    sl_quotas_put(q, &user, 1u << SL_QK_PRODUCER_BYTE_RATE, v);
    CHECK_EQ_INT(sl_quota_record(q, "ANONYMOUS", S("a"), SL_QK_PRODUCER_BYTE_RATE, 1000, T0), 0);
    CHECK(sl_quota_record(q, "ANONYMOUS", S("b"), SL_QK_PRODUCER_BYTE_RATE, 1000, T0) > 0);
    /* Unused rates are dropped. */
    sl_quotas_expire(q, T0 + 3600 * SEC, 60000);
    CHECK_EQ_INT(sl_quotas_n_sensors(q), 0);
    sl_quotas_free(q);
}

TEST(broker_default_applies_when_nothing_is_configured) {
    sl_quotas_t *q = sl_quotas_new(2, 1000, 1000, 0);
    CHECK(sl_quota_record(q, "ANONYMOUS", S("a"), SL_QK_PRODUCER_BYTE_RATE, 5000, T0) > 0);
    CHECK_EQ_INT(sl_quota_record(q, "ANONYMOUS", S("a"), SL_QK_CONSUMER_BYTE_RATE, 5e9, T0), 0);
    /* A configured entity wins over the broker default. */
    sl_quota_entity_t e = {{false, true, false}, {NULL, "big", NULL}};
    double v[SL_QK_N] = {[SL_QK_PRODUCER_BYTE_RATE] = 1e9};
    sl_quotas_put(q, &e, 1u << SL_QK_PRODUCER_BYTE_RATE, v);
    CHECK_EQ_INT(sl_quota_record(q, "ANONYMOUS", S("big"), SL_QK_PRODUCER_BYTE_RATE, 5000, T0), 0);
    sl_quotas_free(q);
}

TEST(request_percentage_measures_loop_time) {
    sl_quotas_t *q = sl_quotas_new(2, 1000, 0, 0);
    sl_quota_entity_t e = {{false, true, false}, {NULL, "busy", NULL}};
    double v[SL_QK_N] = {[SL_QK_REQUEST_PERCENTAGE] = 10};
    sl_quotas_put(q, &e, 1u << SL_QK_REQUEST_PERCENTAGE, v);
    /* 50 ms of loop time in a 1 s window is 5%: fine; 200 ms more is 25%: throttled. */
    CHECK_EQ_INT(sl_quota_record(q, "ANONYMOUS", S("busy"), SL_QK_REQUEST_PERCENTAGE, 50e6, T0), 0);
    CHECK(sl_quota_record(q, "ANONYMOUS", S("busy"), SL_QK_REQUEST_PERCENTAGE, 200e6, T0) > 0);
    sl_quotas_free(q);
}

TEST(validation_matches_kafka) {
    char err[SL_ERRLEN];
    sl_quota_entity_t none = {{false, false, false}, {NULL, NULL, NULL}};
    sl_quota_entity_t ipuser = {{true, false, true}, {"u", NULL, "1.2.3.4"}};
    sl_quota_entity_t client = {{false, true, false}, {NULL, "c", NULL}};
    sl_quota_entity_t ip = {{false, false, true}, {NULL, NULL, "1.2.3.4"}};
    CHECK_EQ_INT(sl_quota_check_entity(&none, err), KERR_INVALID_REQUEST);
    CHECK_EQ_INT(sl_quota_check_entity(&ipuser, err), KERR_INVALID_REQUEST);
    CHECK_EQ_INT(sl_quota_check_entity(&client, err), 0);
    CHECK_EQ_INT(sl_quota_check_op(&client, S("producer_byte_rate"), 1024, false, err), 0);
    CHECK_EQ_INT(sl_quota_check_op(&client, S("request_percentage"), 12.5, false, err), 0);
    CHECK_EQ_INT(sl_quota_check_op(&client, S("bogus_rate"), 1, false, err), KERR_INVALID_REQUEST);
    CHECK_EQ_INT(sl_quota_check_op(&client, S("connection_creation_rate"), 1, false, err),
                 KERR_INVALID_REQUEST);
    CHECK_EQ_INT(sl_quota_check_op(&ip, S("producer_byte_rate"), 1, false, err),
                 KERR_INVALID_REQUEST);
    CHECK_EQ_INT(sl_quota_check_op(&client, S("producer_byte_rate"), -5, false, err),
                 KERR_INVALID_CONFIG);
    CHECK_EQ_INT(sl_quota_check_op(&client, S("producer_byte_rate"), 10.5, false, err),
                 KERR_INVALID_CONFIG);
    CHECK_EQ_INT(sl_quota_check_op(&client, S("producer_byte_rate"), NAN, false, err),
                 KERR_INVALID_CONFIG);
    CHECK_EQ_INT(sl_quota_check_op(&client, S("producer_byte_rate"), -5, true, err), 0);
    CHECK_EQ_INT(sl_quota_check_op(&ip, S("connection_creation_rate"), 3, false, err), 0);
}

TEST(connection_creation_rate_per_address) {
    sl_quotas_t *q = sl_quotas_new(2, 1000, 0, 0);
    CHECK(sl_quota_conn_admit(q, "10.0.0.1", T0));
    sl_quota_entity_t def = {{false, false, true}, {NULL, NULL, NULL}};
    sl_quota_entity_t one = {{false, false, true}, {NULL, NULL, "10.0.0.9"}};
    double v[SL_QK_N] = {[SL_QK_CONNECTION_CREATION_RATE] = 5};
    unsigned m = 1u << SL_QK_CONNECTION_CREATION_RATE;
    sl_quotas_put(q, &def, m, v);
    v[SL_QK_CONNECTION_CREATION_RATE] = 100;
    sl_quotas_put(q, &one, m, v);
    /* 2 samples of 1 s: the window is at least 1 s, so 5 connections are admitted at once. */
    int admitted = 0;
    for (int i = 0; i < 20; i++) {
        admitted += sl_quota_conn_admit(q, "10.0.0.1", T0 + (uint64_t)i * MS);
    }
    CHECK_EQ_INT(admitted, 5);
    /* Another address has its own count, and the named one its own limit. */
    CHECK(sl_quota_conn_admit(q, "10.0.0.2", T0));
    admitted = 0;
    for (int i = 0; i < 20; i++) {
        admitted += sl_quota_conn_admit(q, "10.0.0.9", T0 + (uint64_t)i * MS);
    }
    CHECK_EQ_INT(admitted, 20);
    /* Later, the address may connect again. */
    CHECK(sl_quota_conn_admit(q, "10.0.0.1", T0 + 5 * SEC));
    sl_quotas_free(q);
}

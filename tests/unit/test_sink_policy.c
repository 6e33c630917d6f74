/* test_sink_policy.c -- backoff bounds, the breaker's states, mappings and JSON-to-column checks
 * of the sinks (src/sink/policy.c). */
#include <stdlib.h>

#include "harness.h"
#include "sink/sink.h"

TEST(backoff_full_jitter_bounds) {
    /* attempt k: uniform in [0, min(cap, base * 2^k)]; rnd = ceiling gives the ceiling itself. */
    CHECK_EQ_INT(sl_backoff_ms(100, 10000, 0, 100), 100);
    CHECK_EQ_INT(sl_backoff_ms(100, 10000, 0, 101), 0);
    CHECK_EQ_INT(sl_backoff_ms(100, 10000, 3, 800), 800);
    CHECK_EQ_INT(sl_backoff_ms(100, 10000, 20, 10000), 10000);
    CHECK_EQ_INT(sl_backoff_ms(100, 10000, 1000, UINT64_MAX), (int64_t)(UINT64_MAX % 10001));
    for (int i = 0; i < 1000; i++) {
        int64_t v = sl_backoff_ms(50, 3000, i % 12, sl_test_rand());
        int64_t ceil = 50LL << (i % 12);
        CHECK(v >= 0 && v <= (ceil < 3000 ? ceil : 3000));
    }
}

TEST(breaker_opens_probes_closes) {
    sl_breaker_t b;
    sl_breaker_init(&b, 3, 1000);
    CHECK_EQ_INT(sl_breaker_wait_ms(&b, 0), 0);
    sl_breaker_record(&b, false, 10);
    sl_breaker_record(&b, false, 20);
    CHECK_EQ_INT(b.state, SL_BREAKER_CLOSED);
    sl_breaker_record(&b, true, 25); /* a success resets the run of failures */
    sl_breaker_record(&b, false, 30);
    sl_breaker_record(&b, false, 40);
    CHECK_EQ_INT(b.state, SL_BREAKER_CLOSED);
    sl_breaker_record(&b, false, 50);
    CHECK_EQ_INT(b.state, SL_BREAKER_OPEN);
    CHECK_EQ_INT(b.opens, 1);
    CHECK_EQ_INT(sl_breaker_wait_ms(&b, 550), 500);
    CHECK_EQ_INT(sl_breaker_wait_ms(&b, 1050), 0);
    CHECK_EQ_INT(b.state, SL_BREAKER_HALF_OPEN);
    sl_breaker_record(&b, false, 1060); /* the probe failed: open again, for a full cooldown */
    CHECK_EQ_INT(b.state, SL_BREAKER_OPEN);
    CHECK_EQ_INT(b.opens, 2);
    CHECK_EQ_INT(sl_breaker_wait_ms(&b, 1100), 960);
    CHECK_EQ_INT(sl_breaker_wait_ms(&b, 2060), 0);
    sl_breaker_record(&b, true, 2070);
    CHECK_EQ_INT(b.state, SL_BREAKER_CLOSED);
    CHECK_EQ_INT(b.failures, 0);
}

TEST(map_parse) {
    sl_sink_map_t m;
    char err[256];
    CHECK(sl_sink_map_parse(&m, "id=id,score=m.s", err));
    CHECK_EQ_INT(m.n, 2);
    CHECK(!strcmp(m.col[1], "score") && !strcmp(m.path[1], "m.s"));
    sl_sink_map_free(&m);
    const char *bad[] = {"", "id", "=x", "id=", "a=b,", "a=b,a=c", "a=b,,c=d"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(!sl_sink_map_parse(&m, bad[i], err));
        CHECK(err[0]);
    }
}

TEST(json_path_and_render) {
    json_t *j = json_loads("{\"a\":{\"b\":7,\"c\":1.5},\"s\":\"x\",\"t\":true,\"n\":null,"
                           "\"o\":{\"k\":[1]}}",
                           0, NULL);
    CHECK(j);
    char err[256], *out;
    CHECK(!sl_sink_json_path(j, "a.z"));
    CHECK(!sl_sink_json_path(j, "s.x"));
    CHECK(sl_sink_render(sl_sink_json_path(j, "a.b"), SL_COL_INT, &out, err));
    CHECK(!strcmp(out, "7"));
    free(out);
    CHECK(!sl_sink_render(sl_sink_json_path(j, "a.c"), SL_COL_INT, &out, err));
    CHECK(strstr(err, "integer"));
    CHECK(!sl_sink_render(sl_sink_json_path(j, "s"), SL_COL_NUM, &out, err));
    CHECK(sl_sink_render(sl_sink_json_path(j, "a.c"), SL_COL_NUM, &out, err));
    CHECK(!strcmp(out, "1.5"));
    free(out);
    CHECK(sl_sink_render(sl_sink_json_path(j, "t"), SL_COL_BOOL, &out, err));
    CHECK(!strcmp(out, "t"));
    free(out);
    CHECK(sl_sink_render(sl_sink_json_path(j, "n"), SL_COL_INT, &out, err));
    CHECK(out == NULL);
    CHECK(sl_sink_render(sl_sink_json_path(j, "o"), SL_COL_JSON, &out, err));
    CHECK(!strcmp(out, "{\"k\":[1]}"));
    free(out);
    CHECK(sl_sink_render(sl_sink_json_path(j, "s"), SL_COL_TEXT, &out, err));
    CHECK(!strcmp(out, "x"));
    free(out);
    CHECK_EQ_INT(sl_sink_col_kind("bigint"), SL_COL_INT);
    CHECK_EQ_INT(sl_sink_col_kind("numeric(10,2)"), SL_COL_NUM);
    CHECK_EQ_INT(sl_sink_col_kind("jsonb"), SL_COL_JSON);
    CHECK_EQ_INT(sl_sink_col_kind("timestamp with time zone"), SL_COL_TEXT);
    json_decref(j);
}

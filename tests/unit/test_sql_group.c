/* test_sql_group.c -- grouped SQL queries that do not re-partition every row (compile.c's
 * group_mode): grouped by the stream's key column straight off the source, and pre-aggregated per
 * record key and window before the re-key. Each runs in stream tasks (no broker) and must give
 * the rows the re-partitioning plan gives, with fewer records crossing a repartition topic. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "sql/sql_int.h"
#include "sql_task.h"
#include "stream/graph.h"
#include "stream/task.h"

static const char *ddl = "CREATE STREAM kv (\"user\" VARCHAR, qty INT, kind INT, ts BIGINT)"
                         "  WITH (topic='kv', key='user', timestamp='ts');\n"
                         "CREATE STREAM nk (\"user\" VARCHAR, qty INT, kind INT, ts BIGINT)"
                         "  WITH (topic='nk', timestamp='ts');\n";

typedef struct out {
    char topic[64], key[64], value[256], error[200];
    size_t klen, vlen;
    int64_t ts;
    bool null_value;
} out_t;
static out_t OUT[512];
static int N_OUT;

static sl_err_t collect(void *opaque, const char *topic, int32_t partition, sl_bytes_t key,
                        sl_bytes_t value, int64_t ts, const sl_stream_hdr_t *h, size_t nh,
                        const sl_stream_stage_t *stage) {
    (void)opaque, (void)partition, (void)stage;
    if (N_OUT == (int)SL_ARRAY_LEN(OUT)) {
        return SL_ERR_IO;
    }
    out_t *o = &OUT[N_OUT++];
    memset(o, 0, sizeof *o);
    snprintf(o->topic, sizeof o->topic, "%s", topic);
    snprintf(o->key, sizeof o->key, "%.*s", (int)key.len, key.p ? (const char *)key.p : "");
    o->klen = key.len < sizeof o->key - 1 ? key.len : sizeof o->key - 1;
    memcpy(o->key, key.p ? key.p : (const uint8_t *)"", o->klen); /* binary keys too */
    /* values may be binary (partial results): keep the bytes, printable or not */
    memcpy(o->value, value.p ? value.p : (const uint8_t *)"",
           value.len < sizeof o->value - 1 ? value.len : sizeof o->value - 1);
    o->null_value = !value.p;
    o->vlen = value.len < sizeof o->value - 1 ? value.len : sizeof o->value - 1;
    o->ts = ts;
    for (size_t i = 0; i < nh; i++) {
        if (!strcmp(h[i].name, "sluice.error")) {
            snprintf(o->error, sizeof o->error, "%.*s", (int)h[i].value.len,
                     (const char *)h[i].value.p);
        }
    }
    return SL_OK;
}

static sl_stream_task_conf_t TCONF = {"app", NULL, SL_STREAM_ON_ERROR_DEAD_LETTER, collect, NULL};

static int count(const char *topic) {
    int n = 0;
    for (int i = 0; i < N_OUT; i++) {
        n += !strcmp(OUT[i].topic, topic);
    }
    return n;
}

static bool has(const char *topic, const char *key, const char *value) {
    for (int i = 0; i < N_OUT; i++) {
        if (!strcmp(OUT[i].topic, topic) && !strcmp(OUT[i].key, key) &&
            !strcmp(OUT[i].value, value)) {
            return true;
        }
    }
    fprintf(stderr, "  no %s record %s = %s among:\n", topic, key, value);
    for (int i = 0; i < N_OUT; i++) {
        fprintf(stderr, "    %s %s %s %s\n", OUT[i].topic, OUT[i].key, OUT[i].value, OUT[i].error);
    }
    return false;
}

/* Parses the ddl and `sql`, explains and compiles the last statement (sql_task.h). */
static bool build(q_t *q, const char *sql) {
    return build_sql(q, ddl, sql);
}

static sl_err_t put(sl_stream_task_t *t, const char *topic, const char *key, const char *json,
                    int64_t off) {
    sl_stream_rec_t r = {{(const uint8_t *)key, key ? strlen(key) : 0},
                         {(const uint8_t *)json, strlen(json)},
                         0,
                         topic,
                         0,
                         off};
    return sl_stream_task_process(t, 0, &r, 0);
}

/* Bids per user in 10 s windows, three ways: the same rows come out. */
static const char *const rows[][2] = {
    {"ann", "{\"user\":\"ann\",\"qty\":3,\"kind\":2,\"ts\":1000}"},
    {"ann", "{\"user\":\"ann\",\"qty\":4,\"kind\":2,\"ts\":2000}"},
    {"bob", "{\"user\":\"bob\",\"qty\":5,\"kind\":1,\"ts\":3000}"}, /* dropped by WHERE */
    {"cy", "{\"user\":\"cy\",\"qty\":7,\"kind\":2,\"ts\":4000}"},
    {"ann", "{\"user\":\"ann\",\"qty\":1,\"kind\":2,\"ts\":12000}"},
    {"zed", "{\"user\":\"zed\",\"qty\":1,\"kind\":1,\"ts\":40000}"}, /* the watermark past both */
};

TEST(sql_group_by_the_stream_key_needs_no_repartition) {
    N_OUT = 0;
    q_t q;
    CHECK(build(&q, "CREATE STREAM o WITH (topic='o') AS SELECT \"user\", window_start, COUNT(*) "
                    "AS n, SUM(qty) AS s FROM kv WHERE kind = 2 "
                    "GROUP BY \"user\", TUMBLE(ts, INTERVAL '10' SECOND)"));
    CHECK(strstr(q.plan, "(keyed by user already: no repartition"));
    CHECK(!strstr(q.plan, "rekey"));
    sl_stream_task_t *t = sl_stream_task_new(q.b, 0, 0, &TCONF, 0);
    CHECK(t != NULL);
    for (size_t i = 0; i < SL_ARRAY_LEN(rows); i++) {
        CHECK(put(t, "kv", rows[i][0], rows[i][1], (int64_t)i) == SL_OK);
    }
    /* a row whose record key is not its key column: an error, not a wrong group */
    CHECK(put(t, "kv", "bob", "{\"user\":\"ann\",\"qty\":1,\"kind\":2,\"ts\":41000}", 9) == SL_OK);
    CHECK(sl_stream_task_tick(t, 0) == SL_OK);
    CHECK_EQ_INT(count("o"), 3); /* bob's and zed's windows had no row that passed WHERE */
    CHECK(has("o", "ann", "{\"user\":\"ann\",\"window_start\":0,\"n\":2,\"s\":7}"));
    CHECK(has("o", "cy", "{\"user\":\"cy\",\"window_start\":0,\"n\":1,\"s\":7}"));
    CHECK(has("o", "ann", "{\"user\":\"ann\",\"window_start\":10000,\"n\":1,\"s\":1}"));
    CHECK_EQ_INT(count("app-dlq"), 1);
    bool why = false;
    for (int i = 0; i < N_OUT; i++) {
        why = why || strstr(OUT[i].error, "the record key is not the text of the stream's key");
    }
    CHECK(why);
    for (int i = 0; i < N_OUT; i++) {
        CHECK(!strstr(OUT[i].topic, "repartition"));
    }
    sl_stream_task_free(t);
    unbuild(&q);
}

/* A stream without a key option, or EMIT CHANGES, keeps the repartition. */
TEST(sql_group_by_repartitions_when_it_must) {
    q_t q;
    CHECK(build(&q, "SELECT \"user\", COUNT(*) AS n FROM nk GROUP BY \"user\", "
                    "TUMBLE(ts, INTERVAL '10' SECOND)"));
    CHECK(strstr(q.plan, "rekey select-group-by (repartition topic)\n"));
    unbuild(&q);
    CHECK(build(&q, "SELECT \"user\", COUNT(*) AS n FROM kv GROUP BY \"user\", "
                    "TUMBLE(ts, INTERVAL '10' SECOND) EMIT CHANGES"));
    CHECK(strstr(q.plan, "rekey select-group-by (repartition topic)\n"));
    unbuild(&q);
    CHECK(build(&q, "SELECT kind, COUNT(*) AS n FROM kv GROUP BY kind, "
                    "TUMBLE(ts, INTERVAL '10' SECOND)"));
    CHECK(strstr(q.plan, "rekey select-group-by (repartition topic)\n"));
    unbuild(&q);
    CHECK(build(&q, "SELECT COUNT(DISTINCT kind) AS n FROM kv GROUP BY "
                    "TUMBLE(ts, INTERVAL '10' SECOND)"));
    CHECK(strstr(q.plan, "rekey select-group-by (repartition topic)\n"));
    unbuild(&q);
}

/* No GROUP BY key: two tasks pre-aggregate per record key and window, one task merges. */
TEST(sql_window_aggregate_pre_aggregates_before_the_rekey) {
    N_OUT = 0;
    q_t q;
    CHECK(build(&q, "CREATE STREAM o WITH (topic='o') AS SELECT window_start, window_end, "
                    "COUNT(*) AS n, SUM(qty) AS s, MIN(qty) AS lo, MAX(qty) AS hi, AVG(qty) AS a "
                    "FROM kv WHERE kind = 2 GROUP BY TUMBLE(ts, INTERVAL '10' SECOND)"));
    CHECK(strstr(q.plan, "aggregate o-partial (pre-aggregation per record key and window"));
    CHECK(strstr(q.plan, "rekey o-group-by (repartition topic: partial results only)"));
    CHECK(strstr(q.plan, "aggregate o-aggregate (merging, tumbling size 10000 ms"));
    sl_stream_task_t *t0 = sl_stream_task_new(q.b, 0, 0, &TCONF, 0);
    sl_stream_task_t *t1 = sl_stream_task_new(q.b, 0, 1, &TCONF, 0);
    sl_stream_task_t *fin = sl_stream_task_new(q.b, 1, 0, &TCONF, 0);
    CHECK(t0 && t1 && fin);
    for (size_t i = 0; i < SL_ARRAY_LEN(rows); i++) { /* ann's rows on task 0, the others on 1 */
        sl_stream_task_t *t = strcmp(rows[i][0], "ann") ? t1 : t0;
        CHECK(put(t, "kv", rows[i][0], rows[i][1], (int64_t)i) == SL_OK);
    }
    CHECK(put(t0, "kv", "ann", "{\"user\":\"ann\",\"qty\":1,\"kind\":1,\"ts\":40000}", 9) == SL_OK);
    CHECK(sl_stream_task_tick(t0, 0) == SL_OK && sl_stream_task_tick(t1, 0) == SL_OK);
    /* partial results: ann [0,10s), cy [0,10s), ann [10s,20s); none for bob and zed */
    const char *rp = "app-o-group-by-repartition";
    CHECK_EQ_INT(count(rp), 3);
    int n = N_OUT;
    for (int i = 0; i < n; i++) {
        if (!strcmp(OUT[i].topic, rp)) {
            out_t o = OUT[i];
            size_t vlen = 24 + q.s->q->state_bytes;
            sl_stream_rec_t r = {{(const uint8_t *)o.key, strlen(o.key)},
                                 {(const uint8_t *)o.value, vlen},
                                 o.ts,
                                 rp,
                                 0,
                                 i};
            CHECK(sl_stream_task_process(fin, 0, &r, 0) == SL_OK);
        }
    }
    /* moves the merging task's watermark past [0,10s) */
    int64_t h[3] = {1, 30000, 40000};
    uint8_t late[256] = {0};
    memcpy(late, h, sizeof h);
    sl_stream_rec_t r = {
        {(const uint8_t *)"k", 1}, {late, 24 + q.s->q->state_bytes}, 39999, rp, 0, 99};
    CHECK(sl_stream_task_process(fin, 0, &r, 0) == SL_OK);
    CHECK(sl_stream_task_tick(fin, 0) == SL_OK);
    CHECK(has("o", "",
              "{\"window_start\":0,\"window_end\":10000,\"n\":3,\"s\":14,\"lo\":3,\"hi\":7,"
              "\"a\":4.666666666666667}"));
    CHECK(has("o", "",
              "{\"window_start\":10000,\"window_end\":20000,\"n\":1,\"s\":1,\"lo\":1,"
              "\"hi\":1,\"a\":1}"));
    sl_stream_task_free(t0);
    sl_stream_task_free(t1);
    sl_stream_task_free(fin);
    unbuild(&q);
}

/* A grouped query over a windowed subquery: the subquery counts per user (straight off the
 * source) in 10 s windows, the outer query takes per initial the largest count and the number of
 * users in 20 s windows of the subquery's window_end; two aggregates in one pipeline. */
TEST(sql_subquery_in_from_chains_two_aggregates) {
    N_OUT = 0;
    q_t q;
    CHECK(build(&q, "CREATE STREAM o WITH (topic='o') AS SELECT SUBSTRING(\"user\", 1, 1) AS "
                    "initial, window_start, window_end, MAX(n) AS maxn, COUNT(*) AS users "
                    "FROM (SELECT \"user\", window_end AS wend, COUNT(*) AS n FROM kv "
                    "WHERE kind = 2 GROUP BY \"user\", TUMBLE(ts, INTERVAL '10' SECOND)) AS c "
                    "GROUP BY SUBSTRING(\"user\", 1, 1), TUMBLE(wend, INTERVAL '20' SECOND)"));
    CHECK(strstr(q.plan, "aggregate o-sub-aggregate (tumbling size 10000 ms"));
    CHECK(strstr(q.plan, "(subquery c: its result rows are the input of the query below"));
    CHECK(strstr(q.plan, "aggregate o-aggregate (tumbling size 20000 ms on c.wend, grace 0 ms"));
    static const char *const in[][2] = {
        {"ann", "{\"user\":\"ann\",\"qty\":1,\"kind\":2,\"ts\":1000}"},
        {"ann", "{\"user\":\"ann\",\"qty\":1,\"kind\":2,\"ts\":2000}"},
        {"amy", "{\"user\":\"amy\",\"qty\":1,\"kind\":2,\"ts\":3000}"},
        {"bob", "{\"user\":\"bob\",\"qty\":1,\"kind\":2,\"ts\":4000}"},
        {"bob", "{\"user\":\"bob\",\"qty\":1,\"kind\":1,\"ts\":5000}"}, /* dropped by WHERE */
        {"ann", "{\"user\":\"ann\",\"qty\":1,\"kind\":2,\"ts\":12000}"},
        {"zed", "{\"user\":\"zed\",\"qty\":1,\"kind\":1,\"ts\":100000}"}, /* the watermark */
    };
    sl_stream_task_t *t0 = sl_stream_task_new(q.b, 0, 0, &TCONF, 0);
    sl_stream_task_t *fin = sl_stream_task_new(q.b, 1, 0, &TCONF, 0);
    CHECK(t0 && fin);
    for (size_t i = 0; i < SL_ARRAY_LEN(in); i++) {
        CHECK(put(t0, "kv", in[i][0], in[i][1], (int64_t)i) == SL_OK);
    }
    CHECK(sl_stream_task_tick(t0, 0) == SL_OK);
    /* the subquery's four rows, re-keyed by initial, each at its window's end */
    const char *rp = "app-o-group-by-repartition";
    CHECK_EQ_INT(count(rp), 4);
    int n = N_OUT, last = -1;
    for (int i = 0; i < n; i++) {
        if (!strcmp(OUT[i].topic, rp)) {
            CHECK(OUT[i].ts == 10000 || OUT[i].ts == 20000);
            out_t o = OUT[i];
            sl_stream_rec_t r = {{(const uint8_t *)o.key, o.klen},
                                 {(const uint8_t *)o.value, o.vlen},
                                 o.ts,
                                 rp,
                                 0,
                                 i};
            CHECK(sl_stream_task_process(fin, 0, &r, 0) == SL_OK);
            last = i;
        }
    }
    CHECK(last >= 0);
    CHECK(count("app-dlq") == 0);
    /* one more row far later moves the merging task's watermark past both windows */
    sl_stream_rec_t r = {{(const uint8_t *)OUT[last].key, OUT[last].klen},
                         {(const uint8_t *)OUT[last].value, OUT[last].vlen},
                         99999,
                         rp,
                         0,
                         99};
    CHECK(sl_stream_task_process(fin, 0, &r, 0) == SL_OK);
    CHECK(sl_stream_task_tick(fin, 0) == SL_OK);
    CHECK_EQ_INT(count("o"), 3);
    CHECK(
        has("o", "a",
            "{\"initial\":\"a\",\"window_start\":0,\"window_end\":20000,\"maxn\":2,\"users\":2}"));
    CHECK(
        has("o", "b",
            "{\"initial\":\"b\",\"window_start\":0,\"window_end\":20000,\"maxn\":1,\"users\":1}"));
    CHECK(has("o", "a",
              "{\"initial\":\"a\",\"window_start\":20000,\"window_end\":40000,\"maxn\":1,"
              "\"users\":1}"));
    sl_stream_task_free(t0);
    sl_stream_task_free(fin);
    unbuild(&q);
}

/* sql_hop.c -- what a Nexmark bid costs q5's SQL count step on one core, in-process: the
 * subquery of bench/nexmark/q5.sql (COUNT(*) per auction in hopping windows of 10 s every 2 s,
 * grouped straight off the source) in one stream task, fed generated bids keyed by auction (no
 * broker, no Kafka client), with the task ticked every 1,000 records so windows fire. The engine's
 * window store is included; the JSON generation of the bids is not timed.
 *
 *   build/bench/sql_hop [RECORDS]      (make bench-sql; deterministic instruction counts:
 *                                       valgrind --tool=callgrind build/bench/sql_hop 20000)
 *
 * Prints CPU ns per record and the number of records the task wrote (results and changelog). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sql/sql_int.h"
#include "stream/graph.h"
#include "stream/task.h"

static long n_written;

static sl_err_t count_out(void *opaque, const char *topic, int32_t partition, sl_bytes_t key,
                          sl_bytes_t value, int64_t ts, const sl_stream_hdr_t *h, size_t nh,
                          const sl_stream_stage_t *stage) {
    (void)opaque, (void)topic, (void)partition, (void)key, (void)value, (void)ts, (void)h, (void)nh;
    (void)stage;
    n_written++;
    return SL_OK;
}

static const char *SQL =
    "CREATE STREAM bid (event_type INT, auction BIGINT, bidder BIGINT, price BIGINT, "
    "channel VARCHAR, url VARCHAR, \"dateTime\" BIGINT, extra VARCHAR) WITH (topic = 'nexmark', "
    "format = 'json', key = 'auction', timestamp = 'dateTime', watermark_delay = '4s');\n"
    "CREATE STREAM o WITH (topic = 'o') AS SELECT auction, window_start AS wstart, "
    "COUNT(*) AS num FROM bid WHERE event_type = 2 "
    "GROUP BY auction, HOP(\"dateTime\", INTERVAL '2' SECOND, INTERVAL '10' SECOND)";

static double cpu_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 300000;
    if (n <= 0) {
        fprintf(stderr, "usage: sql_hop [RECORDS]\n");
        return 2;
    }
    char err[SL_ERRLEN];
    sl_sql_catalog_t *c = sl_sql_catalog_new();
    sl_sql_stmt_t *list = sl_sql_parse(c, SQL, err, sizeof err);
    if (!list) {
        fprintf(stderr, "sql_hop: %s\n", err);
        return 1;
    }
    sl_sql_stmt_t *s = list;
    while (s->next) {
        s = s->next;
    }
    sl_stream_builder_t *b = sl_stream_builder_new();
    if (sl_sql_compile(s, b, NULL, NULL, "o", err, sizeof err) != SL_OK) {
        fprintf(stderr, "sql_hop: %s\n", err);
        return 1;
    }
    sl_stream_task_conf_t conf = {"app", NULL, SL_STREAM_ON_ERROR_DEAD_LETTER, count_out, NULL};
    sl_stream_task_t *t = sl_stream_task_new(b, 0, 0, &conf, 0);
    if (!t) {
        fprintf(stderr, "sql_hop: no task\n");
        return 1;
    }
    double busy = 0;
    for (long i = 0; i < n; i++) {
        char json[320], key[24];
        long auction = 1000 + (i * 7919) % 2000; /* 2,000 auctions, 500 bids per second */
        long long ts = 1000000 + i * 2;
        int kl = snprintf(key, sizeof key, "%ld", auction);
        int jl = snprintf(json, sizeof json,
                          "{\"event_type\":2,\"auction\":%ld,\"bidder\":%ld,\"price\":%ld,"
                          "\"channel\":\"Google\",\"url\":\"https://www.nexmark.com/abc/item.htm"
                          "?query=1\",\"dateTime\":%lld,\"extra\":\"xxxxxxxxxxxxxxxxxxxxxxxx\"}",
                          auction, i % 5000, 100 + i % 9000, ts);
        sl_stream_rec_t r = {{(const uint8_t *)key, (size_t)kl},
                             {(const uint8_t *)json, (size_t)jl},
                             ts,
                             "nexmark",
                             0,
                             i};
        double t0 = cpu_s();
        sl_err_t e = sl_stream_task_process(t, 0, &r, 0);
        if (e == SL_OK && i % 1000 == 999) {
            e = sl_stream_task_tick(t, 0);
        }
        busy += cpu_s() - t0;
        if (e != SL_OK) {
            fprintf(stderr, "sql_hop: record %ld failed\n", i);
            return 1;
        }
    }
    printf("sql_hop: %ld bids, %ld records written, %.0f CPU ns per bid\n", n, n_written,
           busy * 1e9 / (double)n);
    sl_stream_task_free(t);
    sl_stream_builder_free(b);
    sl_sql_stmts_free(list);
    sl_sql_catalog_free(c);
    return 0;
}

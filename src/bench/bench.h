/* bench.h -- the benchmark harness behind `sluice bench`: open-loop paced producers and
 * consumers over a pluggable driver (kafka, redis, batch), latency from each record's intended
 * send time, loss and duplicate accounting, a live progress line and a JSON report.
 * Thread: sl_bench_run owns its threads; drivers are called from the producer/consumer thread
 * that opened the handle. */
#ifndef SL_BENCH_H
#define SL_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/conf.h"
#include "common/err.h"

typedef struct sl_bench_conf {
    char driver[SL_CONF_STR_MAX];  /* kafka | redis | nats | batch */
    char brokers[SL_CONF_STR_MAX]; /* kafka bootstrap, or redis host:port / unix:/path */
    char topic[SL_CONF_STR_MAX];
    char keys[SL_CONF_STR_MAX]; /* uniform | zipf:S | hot:FRACTION */
    char acks[SL_CONF_STR_MAX];
    char burst[SL_CONF_STR_MAX]; /* FACTORxSECONDS, starting at the middle of the run */
    char json[SL_CONF_STR_MAX];  /* report path, or empty */
    int64_t rate;                /* records/s over all producers; 0 = as fast as possible */
    int64_t size;                /* record bytes */
    int64_t duration_s;
    int64_t warmup_s;
    int64_t partitions;
    int64_t producers;
    int64_t consumers;
    int64_t connections; /* kafka producers: raw connections (driver_kraw.c); 0 = librdkafka */
    int64_t key_count;
    int64_t batch_sync_ms; /* batch driver: visibility period */
    int64_t linger_ms;     /* kafka producers */
    bool progress;
    bool kafka_idempotence; /* kafka producers: enable.idempotence */

    /* Record bodies (payload.h). */
    char payload[SL_CONF_STR_MAX];           /* fixed | chat | transaction | iot | mix */
    char sizes[SL_CONF_STR_MAX];             /* SIZE:WEIGHT,...; overrides size when set */
    char disorder_fraction[SL_CONF_STR_MAX]; /* share of records given an earlier event time */
    int64_t disorder_ms;                     /* their event time moves back by 1..disorder_ms */
    int64_t payload_seed;

    /* Nexmark (nexmark.h). */
    bool nexmark;               /* generate Nexmark events instead of the harness's records */
    int64_t count;              /* events to send (0: duration_s decides) */
    int64_t nexmark_event_rate; /* event time's pace when rate is 0 (events/s) */
} sl_bench_conf_t;

extern const sl_conf_def_t sl_bench_conf_defs[];
extern const size_t sl_bench_conf_n_defs;

/* One driver handle per producer or consumer thread. */
typedef struct sl_bench_driver {
    const char *name;
    /* Creates the topic/stream if needed (called once). */
    sl_err_t (*setup)(const sl_bench_conf_t *c, char *err);
    void *(*open_producer)(const sl_bench_conf_t *c, int index, char *err);
    /* Sends one record (may be asynchronous). */
    sl_err_t (*send)(void *h, const void *key, size_t klen, const void *val, size_t vlen);
    /* Drives delivery; returns records acknowledged since the last call (or -1 on error). */
    int64_t (*flush)(void *h, int timeout_ms);
    void (*close_producer)(void *h);
    void *(*open_consumer)(const sl_bench_conf_t *c, int index, char *err);
    /* Waits up to timeout_ms and calls on_record for each record received. */
    int (*receive)(void *h, int timeout_ms, void (*on_record)(void *arg, const void *v, size_t n),
                   void *arg);
    void (*close_consumer)(void *h);
} sl_bench_driver_t;

extern const sl_bench_driver_t sl_bench_driver_kafka;
extern const sl_bench_driver_t sl_bench_driver_redis;
extern const sl_bench_driver_t sl_bench_driver_nats;
extern const sl_bench_driver_t sl_bench_driver_batch;

/* Runs one benchmark and prints the summary to stdout. Returns 0, or 1 with a reason on stderr. */
int sl_bench_run(const sl_bench_conf_t *c);

#endif

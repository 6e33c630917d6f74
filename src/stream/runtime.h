/* runtime.h -- running a pipeline against a Kafka cluster with librdkafka (any cluster: sluice,
 * Kafka, Redpanda).
 *
 * A job is a consumer group named after the application id. Each lane (thread) owns a group
 * consumer (cooperative-sticky, read_committed, no auto-commit) and, for exactly-once, a
 * transactional producer (transactional.id = <app>-<instance>-<lane>). Tasks = (sub-topology,
 * input partition) are created on assignment, after their state is restored from the changelog
 * topics. A checkpoint is one Kafka transaction: the outputs, the changelog records of the state
 * changed since the last one, and the input offsets commit or abort together; on abort the state
 * goes back to its committed image and the inputs rewind to the committed offsets, so output is
 * exactly once and recovery is replay. Scale-out = more instances with the same application id.
 *
 * Topics it creates when missing: <app>-<node>-repartition for each rekey and
 * <app>-<node>-changelog for each aggregate, table and windowed join (partitions as the
 * sub-topology's input). A sub-topology with several inputs (joins) needs them co-partitioned:
 * sl_stream_run refuses to start otherwise, and the job then uses the eager `range` assignor,
 * which gives the same partition number of every input to one consumer. */
#ifndef SL_STREAM_RUNTIME_H
#define SL_STREAM_RUNTIME_H

#include <librdkafka/rdkafka.h>

#include "common/metrics.h"
#include "stream/stream.h"
#include "stream/task.h"

typedef struct sl_stream_run_conf {
    /* The librdkafka settings every client of the job starts from (bootstrap.servers and any
     * other); copied per client, so it must outlive sl_stream_run. NULL: 127.0.0.1:9092. */
    const rd_kafka_conf_t *client;
    const char *app_id;      /* application.id: group, topic and transactional-id prefix */
    const char *instance_id; /* stable per instance (transactional ids); NULL: "0" */
    int lanes;               /* threads; 0: 1 */
    bool at_least_once;      /* processing.guarantee=at_least_once (default exactly_once_v2) */
    int commit_interval_ms;  /* commit.interval.ms; 0: 100 (the starting value when adaptive) */
    /* commit.interval.mode=adaptive: the interval moves within [min, max] (stream/commit_iv.h);
     * otherwise it stays commit_interval_ms. 0s: 20, 1000 and 1000 records. */
    bool commit_interval_adaptive;
    int commit_interval_min_ms, commit_interval_max_ms;
    long long commit_interval_light_records; /* fewer per checkpoint is light load */
    /* Backpressure (runtime.c): a lane pauses its inputs when this many input records, or bytes,
     * are in flight (processed, outputs not committed) or that many records wait in its producer;
     * 0s: 100000 records, 64 MiB. */
    long long inflight_max_records, inflight_max_bytes;
    sl_stream_on_error_t on_error;
    const char *dead_letter; /* NULL: <app>-dlq */
    /* state.dir: RocksDB stores live in <state_dir>/<app>/<instance>/<task>/<store>; NULL:
     * SL_STREAM_STATE_DIR. */
    const char *state_dir;
    size_t cache_bytes; /* statestore.cache.max.bytes per RocksDB store; 0: the default */
    sl_stream_backend_t default_backend; /* default.dsl.store; 0: memory */
    /* max.task.idle.ms: how long a task with several inputs (a join) holds records back while
     * one of its inputs is empty and not caught up, so that it can process them in time order. */
    int max_task_idle_ms;
    /* group.instance.id: static membership (KIP-345). Each lane joins as <id>-<lane>, so a
     * restarted instance takes its lanes' places back without waiting out their sessions. NULL or
     * empty: dynamic members. */
    const char *group_instance_id;
    /* num.standby.replicas: 0, none; 1, each lane keeps a warm copy of every stateful task of
     * the job that it does not own (windowed or not; RocksDB stores under
     * <state_dir>/<app>/<instance>/standby-<lane>), fed from the changelogs (runtime.c,
     * "standbys"), and a task that moves to it restores only the changelog's tail. */
    int standby_replicas;
} sl_stream_run_conf_t;

#define SL_STREAM_STATE_DIR     "/tmp/sluice-streams"
#define SL_STREAM_CACHE_DEFAULT ((size_t)10 << 20) /* Kafka Streams' 10 MiB */

typedef struct sl_stream sl_stream_t;

/* Checks the graph and the configuration; NULL with the reason in errstr. The builder is used,
 * not owned, and must outlive the job. */
sl_stream_t *sl_stream_new(sl_stream_builder_t *b, const sl_stream_run_conf_t *conf, char *errstr,
                           size_t errstr_size);
/* Runs until sl_stream_stop (SL_OK after the last checkpoint) or a fatal error (its message in
 * sl_stream_errmsg). */
SL_MUST_USE sl_err_t sl_stream_run(sl_stream_t *s);
/* Asks the job to stop after its current checkpoint. Any thread; async-signal-safe. */
void sl_stream_stop(sl_stream_t *s);
const char *sl_stream_errmsg(const sl_stream_t *s);
/* Totals over every lane and task since the start. */
void sl_stream_totals(const sl_stream_t *s, sl_stream_task_stats_t *out, uint64_t *commits);
/* /health: no lane has failed and every lane runs. /ready: healthy, and every lane has its
 * assignment with its tasks restored (false while restoring after a rebalance). Any thread. */
bool sl_stream_healthy(sl_stream_t *s);
bool sl_stream_ready(sl_stream_t *s);
/* The q-quantile in microseconds over every lane of a latency stage (stream/metrics.h:
 * SL_STAGE_*; SL_N_STAGES: the checkpoint latency); 0 before any value. Any thread. */
uint64_t sl_stream_stage_quantile_us(sl_stream_t *s, int stage, double q);
/* A common/metrics.h collector (opaque: the sl_stream_t) for the job's sluice_stream_* series
 * (stream/metrics.c). Any thread; the job must outlive its registration. */
void sl_stream_collect(sl_metrics_out_t *out, void *opaque);
void sl_stream_free(sl_stream_t *s);

#endif

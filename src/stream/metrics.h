/* metrics.h -- what the stream engine's lanes measure, and its Prometheus exposition.
 *
 * Each lane owns one sl_stream_lane_metrics_t. The lane's thread records into it; the admin HTTP
 * loop's thread renders it at scrape time (sl_stream_metrics_collect, a common/metrics.h
 * collector). Sharing: the plain counters and gauges are atomics; the histograms and the per-task
 * and per-partition rows are behind `mu`, which both sides hold only for a copy or an update,
 * never across I/O. The stage latencies come from the headers every sink record carries
 * (task.h: sluice.ts.in/recv/emit):
 *   produce_broker  recv - in      (the input's producer, broker and fetch)
 *   process         emit - recv    (the engine, input to output)
 *   commit_wait     commit - emit  (an output waits for its checkpoint before read_committed
 *                                   consumers can see it)
 * The first two are taken when the output is handed to the producer (kept by the lane and added
 * to the histograms SL_STAGE_PENDING at a time, at the latest by the next publish or checkpoint,
 * so the lock is not taken per record), the third when the checkpoint that carries it commits
 * (outputs of an aborted checkpoint are not counted). */
#ifndef SL_STREAM_METRICS_H
#define SL_STREAM_METRICS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/hist.h"
#include "common/metrics.h"
#include "stream/task.h"

enum { SL_STAGE_PRODUCE_BROKER, SL_STAGE_PROCESS, SL_STAGE_COMMIT_WAIT, SL_N_STAGES };

typedef struct sl_stream_task_row {
    int st;
    int32_t partition;
    char topic[256]; /* a task of a source over several topics: its topic; else empty */
    sl_stream_task_stats_t stats;
    int64_t watermark; /* event time, ms; SL_WM_NONE before the first */
    uint64_t state_entries, state_bytes;
} sl_stream_task_row_t;

typedef struct sl_stream_lag_row {
    char topic[256];
    int32_t partition;
    int64_t lag; /* high watermark - position, records */
} sl_stream_lag_row_t;

/* A standby copy of a task (num.standby.replicas) and how far behind its changelogs it is. */
typedef struct sl_stream_standby_row {
    int st;
    int32_t partition;
    int64_t lag; /* records between the copy's applied positions and its changelogs' ends */
} sl_stream_standby_row_t;

#define SL_STAGE_PENDING 256

/* One output's first two stage latencies, not yet in the histograms. */
typedef struct sl_stage_sample {
    uint64_t produce_broker_us, process_us;
    bool has_in;
} sl_stage_sample_t;

typedef struct sl_emit_run {
    int64_t emit_ms;
    uint64_t n;
} sl_emit_run_t;

typedef struct sl_stream_lane_metrics {
    int lane;
    /* Atomics: written by the lane, read at scrape time. */
    atomic_bool joined;                         /* the first assignment (possibly empty) is done */
    atomic_bool restoring;                      /* tasks are being restored from their changelogs */
    atomic_bool running;                        /* the lane thread is in its loop */
    atomic_uint_least64_t restored, to_restore; /* changelog records, over every restore */
    atomic_uint_least64_t checkpoints, aborts;
    atomic_int commit_interval_ms;
    atomic_int paused_partitions;
    atomic_uint_least64_t pauses; /* times the lane paused its inputs */
    atomic_uint_least64_t inflight_records, inflight_bytes;
    atomic_int producer_queue; /* rd_kafka_outq_len of the lane's producer, at the last check */

    pthread_mutex_t mu; /* the rest */
    sl_hist_t *stage[SL_N_STAGES];
    sl_hist_t *commit; /* checkpoint (transaction) latency */
    sl_stream_task_row_t *tasks;
    size_t n_tasks, cap_tasks;
    sl_stream_lag_row_t *lag;
    size_t n_lag, cap_lag;
    sl_stream_standby_row_t *standbys;
    size_t n_standbys, cap_standbys;

    /* The lane's own: outputs since the last checkpoint, by emit time (run-length). */
    sl_emit_run_t *runs;
    size_t n_runs, cap_runs;
    /* The lane's own: stage samples not yet in `stage` (sl_stream_metrics_flush). */
    sl_stage_sample_t pending[SL_STAGE_PENDING];
    size_t n_pending;
} sl_stream_lane_metrics_t;

void sl_stream_lane_metrics_init(sl_stream_lane_metrics_t *m, int lane);
void sl_stream_lane_metrics_free(sl_stream_lane_metrics_t *m);

/* A sink record with these stage times was handed to the producer. Thread: the lane's. */
void sl_stream_metrics_output(sl_stream_lane_metrics_t *m, const sl_stream_stage_t *st);
/* Adds the pending stage samples to the histograms (publish and committed do it too). Thread:
 * the lane's. */
void sl_stream_metrics_flush(sl_stream_lane_metrics_t *m);
/* The checkpoint holding every output since the previous one committed at `done_ms` (wall
 * clock) after `txn_us` microseconds. Thread: the lane's. */
void sl_stream_metrics_committed(sl_stream_lane_metrics_t *m, int64_t done_ms, uint64_t txn_us);
/* The checkpoint aborted: its outputs will never be seen. Thread: the lane's. */
void sl_stream_metrics_aborted(sl_stream_lane_metrics_t *m);
/* Replaces the published rows (copied). Thread: the lane's. */
void sl_stream_metrics_publish(sl_stream_lane_metrics_t *m, const sl_stream_task_row_t *tasks,
                               size_t n_tasks, const sl_stream_lag_row_t *lag, size_t n_lag);

/* Replaces the published standby rows (copied). Thread: the lane's. */
void sl_stream_metrics_publish_standbys(sl_stream_lane_metrics_t *m,
                                        const sl_stream_standby_row_t *rows, size_t n);

/* Emits every series of one lane, labelled app_id, lane and task ("<sub-topology>_<partition>",
 * as Kafka Streams names tasks) or topic and partition. Thread: the scraper's. */
void sl_stream_metrics_collect(sl_metrics_out_t *out, const char *app_id,
                               sl_stream_lane_metrics_t *m, int64_t now_ms);

#endif

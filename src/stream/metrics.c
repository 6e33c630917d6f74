/* metrics.c -- the stream engine's lane metrics and their exposition (stream/metrics.h).
 *
 * Series (prefix sluice_stream_; labels app_id and lane on every one):
 *   records_in_total, records_out_total, late_records_total, dead_lettered_records_total,
 *   skipped_records_total, watermark_seconds, watermark_delay_seconds (now - watermark),
 *   state_entries, state_bytes                                       per task (label task)
 *   consumer_lag_records                                      per input topic and partition
 *   standby_lag_records                                  per standby copy of a task (task)
 *   stage_latency_seconds{stage=produce_broker|process|commit_wait}, commit_latency_seconds
 *                                                                                histograms
 *   checkpoints_total, checkpoint_aborts_total, commit_interval_seconds, paused_partitions,
 *   pauses_total, inflight_records, inflight_bytes, producer_queue_records, restoring,
 * restore_records_total, restore_records_to_restore_total per lane A task's counters start at zero
 * when the task is created on this lane (after a rebalance moved it), as Prometheus counters may;
 * rate() and increase() handle that. */
#include "stream/metrics.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "stream/watermark.h"

#define P "sluice_stream_"

void sl_stream_lane_metrics_init(sl_stream_lane_metrics_t *m, int lane) {
    memset(m, 0, sizeof *m);
    m->lane = lane;
    pthread_mutex_init(&m->mu, NULL);
    for (int i = 0; i < SL_N_STAGES; i++) {
        m->stage[i] = sl_hist_new();
    }
    m->commit = sl_hist_new();
}

void sl_stream_lane_metrics_free(sl_stream_lane_metrics_t *m) {
    for (int i = 0; i < SL_N_STAGES; i++) {
        sl_hist_free(m->stage[i]);
    }
    sl_hist_free(m->commit);
    free(m->tasks);
    free(m->lag);
    free(m->standbys);
    free(m->runs);
    pthread_mutex_destroy(&m->mu);
}

/* A negative difference (clocks of different hosts, a producer's timestamp in the future) is
 * recorded as 0 rather than dropped, so the counts stay equal to the outputs. */
static uint64_t ms_to_us(int64_t d) {
    return d > 0 ? (uint64_t)d * 1000 : 0;
}

void sl_stream_metrics_output(sl_stream_lane_metrics_t *m, const sl_stream_stage_t *st) {
    int64_t emit = st->emit_ms;
    if (st->recv_ms > 0) {
        if (m->n_pending == SL_STAGE_PENDING) {
            sl_stream_metrics_flush(m);
        }
        bool has_in = st->in_ms >= 0;
        m->pending[m->n_pending++] = (sl_stage_sample_t){
            has_in ? ms_to_us(st->recv_ms - st->in_ms) : 0, ms_to_us(emit - st->recv_ms), has_in};
    }
    if (m->n_runs && m->runs[m->n_runs - 1].emit_ms == emit) {
        m->runs[m->n_runs - 1].n++;
        return;
    }
    if (m->n_runs == m->cap_runs) {
        m->cap_runs = m->cap_runs ? m->cap_runs * 2 : 64;
        m->runs = sl_xrealloc(m->runs, m->cap_runs * sizeof *m->runs);
    }
    m->runs[m->n_runs++] = (sl_emit_run_t){emit, 1};
}

/* Adds the pending samples to the histograms; the caller holds m->mu. */
static void flush_locked(sl_stream_lane_metrics_t *m) {
    for (size_t i = 0; i < m->n_pending; i++) {
        const sl_stage_sample_t *p = &m->pending[i];
        if (p->has_in) {
            sl_hist_record(m->stage[SL_STAGE_PRODUCE_BROKER], p->produce_broker_us);
        }
        sl_hist_record(m->stage[SL_STAGE_PROCESS], p->process_us);
    }
    m->n_pending = 0;
}

void sl_stream_metrics_flush(sl_stream_lane_metrics_t *m) {
    if (m->n_pending) {
        pthread_mutex_lock(&m->mu);
        flush_locked(m);
        pthread_mutex_unlock(&m->mu);
    }
}

void sl_stream_metrics_committed(sl_stream_lane_metrics_t *m, int64_t done_ms, uint64_t txn_us) {
    pthread_mutex_lock(&m->mu);
    flush_locked(m);
    for (size_t i = 0; i < m->n_runs; i++) {
        sl_hist_record_n(m->stage[SL_STAGE_COMMIT_WAIT], ms_to_us(done_ms - m->runs[i].emit_ms),
                         m->runs[i].n);
    }
    sl_hist_record(m->commit, txn_us);
    pthread_mutex_unlock(&m->mu);
    m->n_runs = 0;
    atomic_fetch_add(&m->checkpoints, 1);
}

void sl_stream_metrics_aborted(sl_stream_lane_metrics_t *m) {
    m->n_runs = 0;
    atomic_fetch_add(&m->aborts, 1);
}

void sl_stream_metrics_publish(sl_stream_lane_metrics_t *m, const sl_stream_task_row_t *tasks,
                               size_t n_tasks, const sl_stream_lag_row_t *lag, size_t n_lag) {
    pthread_mutex_lock(&m->mu);
    flush_locked(m);
    if (n_tasks > m->cap_tasks) {
        m->cap_tasks = n_tasks;
        m->tasks = sl_xrealloc(m->tasks, n_tasks * sizeof *m->tasks);
    }
    if (n_lag > m->cap_lag) {
        m->cap_lag = n_lag;
        m->lag = sl_xrealloc(m->lag, n_lag * sizeof *m->lag);
    }
    if (n_tasks) {
        memcpy(m->tasks, tasks, n_tasks * sizeof *tasks);
    }
    if (n_lag) {
        memcpy(m->lag, lag, n_lag * sizeof *lag);
    }
    m->n_tasks = n_tasks;
    m->n_lag = n_lag;
    pthread_mutex_unlock(&m->mu);
}

void sl_stream_metrics_publish_standbys(sl_stream_lane_metrics_t *m,
                                        const sl_stream_standby_row_t *rows, size_t n) {
    pthread_mutex_lock(&m->mu);
    if (n > m->cap_standbys) {
        m->cap_standbys = n;
        m->standbys = sl_xrealloc(m->standbys, n * sizeof *m->standbys);
    }
    if (n) {
        memcpy(m->standbys, rows, n * sizeof *rows);
    }
    m->n_standbys = n;
    pthread_mutex_unlock(&m->mu);
}

/* A Prometheus label value: backslash, double quote and newline escaped. */
static void label_value(char *out, size_t cap, const char *v) {
    size_t o = 0;
    for (; *v && o + 3 < cap; v++) {
        if (*v == '\\' || *v == '"') {
            out[o++] = '\\';
            out[o++] = *v;
        } else if (*v == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else {
            out[o++] = *v;
        }
    }
    out[o] = 0;
}

void sl_stream_metrics_collect(sl_metrics_out_t *out, const char *app_id,
                               sl_stream_lane_metrics_t *m, int64_t now_ms) {
    char app[420], lb[512];
    label_value(app, sizeof app, app_id);
    snprintf(lb, sizeof lb, "app_id=\"%s\",lane=\"%d\"", app, m->lane);
    const struct {
        const char *name, *type, *help;
        double v;
    } lane[] = {
        {P "checkpoints_total", "counter", "Checkpoints (transactions) committed.",
         (double)atomic_load(&m->checkpoints)},
        {P "checkpoint_aborts_total", "counter",
         "Transactions aborted (a commit failed, partitions were lost, a lane failed): their "
         "outputs are discarded and the inputs replay from the committed offsets.",
         (double)atomic_load(&m->aborts)},
        {P "commit_interval_seconds", "gauge", "The lane's current checkpoint interval.",
         atomic_load(&m->commit_interval_ms) / 1000.0},
        {P "paused_partitions", "gauge", "Input partitions paused by backpressure.",
         (double)atomic_load(&m->paused_partitions)},
        {P "pauses_total", "counter", "Times backpressure paused the lane's inputs.",
         (double)atomic_load(&m->pauses)},
        {P "inflight_records", "gauge",
         "Input records processed whose outputs are not yet committed.",
         (double)atomic_load(&m->inflight_records)},
        {P "inflight_bytes", "gauge", "Bytes of those input records.",
         (double)atomic_load(&m->inflight_bytes)},
        {P "producer_queue_records", "gauge",
         "Records and events waiting in the lane's producer (librdkafka's outq_len).",
         (double)atomic_load(&m->producer_queue)},
        {P "restoring", "gauge", "1 while the lane restores state from changelogs.",
         atomic_load(&m->restoring) ? 1.0 : 0.0},
        {P "restore_records_total", "counter", "Changelog records restored.",
         (double)atomic_load(&m->restored)},
        {P "restore_records_to_restore_total", "counter",
         "Changelog records the restores started so far had to read.",
         (double)atomic_load(&m->to_restore)},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(lane); i++) {
        sl_metrics_emit(out, lane[i].name, lane[i].type, lane[i].help, lb, lane[i].v);
    }
    static const char *const stage_name[SL_N_STAGES] = {"produce_broker", "process", "commit_wait"};
    char l2[768];
    pthread_mutex_lock(&m->mu);
    for (int i = 0; i < SL_N_STAGES; i++) {
        snprintf(l2, sizeof l2, "%s,stage=\"%s\"", lb, stage_name[i]);
        sl_metrics_emit_hist(out, P "stage_latency_seconds",
                             "Per-stage latency of sink records: produce_broker = received - "
                             "input timestamp, process = emitted - received, commit_wait = "
                             "committed - emitted.",
                             l2, m->stage[i]);
    }
    sl_metrics_emit_hist(out, P "commit_latency_seconds",
                         "Checkpoint (transaction) duration: changelogs, offsets, commit.", lb,
                         m->commit);
    for (size_t i = 0; i < m->n_tasks; i++) {
        const sl_stream_task_row_t *t = &m->tasks[i];
        /* A task of a source over several topics: the same task id for each topic, told apart
         * by a topic label. */
        snprintf(l2, sizeof l2, "%s,task=\"%d_%d\"%s%s%s", lb, t->st, (int)t->partition,
                 t->topic[0] ? ",topic=\"" : "", t->topic, t->topic[0] ? "\"" : "");
        const struct {
            const char *name, *type, *help;
            double v;
        } ts[] = {
            {P "records_in_total", "counter", "Input records processed.", (double)t->stats.in},
            {P "records_out_total", "counter", "Records written (sinks and repartition topics).",
             (double)t->stats.out},
            {P "late_records_total", "counter", "Records too late for their window.",
             (double)t->stats.late},
            {P "dead_lettered_records_total", "counter",
             "Input records sent to the dead letter "
             "topic.",
             (double)t->stats.dead_lettered},
            {P "skipped_records_total", "counter", "Input records skipped on error.",
             (double)t->stats.skipped},
            {P "state_entries", "gauge", "Entries in the task's state stores.",
             (double)t->state_entries},
            {P "state_bytes", "gauge", "Bytes held by the task's state stores.",
             (double)t->state_bytes},
        };
        for (size_t k = 0; k < SL_ARRAY_LEN(ts); k++) {
            sl_metrics_emit(out, ts[k].name, ts[k].type, ts[k].help, l2, ts[k].v);
        }
        if (t->watermark != SL_WM_NONE) {
            sl_metrics_emit(out, P "watermark_seconds", "gauge",
                            "The task's watermark (event time).", l2,
                            (double)t->watermark / 1000.0);
            sl_metrics_emit(out, P "watermark_delay_seconds", "gauge",
                            "Wall clock minus the task's watermark.", l2,
                            (double)(now_ms - t->watermark) / 1000.0);
        }
    }
    for (size_t i = 0; i < m->n_lag; i++) {
        snprintf(l2, sizeof l2, "%s,topic=\"%s\",partition=\"%d\"", lb, m->lag[i].topic,
                 (int)m->lag[i].partition);
        sl_metrics_emit(out, P "consumer_lag_records", "gauge",
                        "Input partition's high watermark minus the lane's position.", l2,
                        (double)m->lag[i].lag);
    }
    for (size_t i = 0; i < m->n_standbys; i++) {
        snprintf(l2, sizeof l2, "%s,task=\"%d_%d\"", lb, m->standbys[i].st,
                 (int)m->standbys[i].partition);
        sl_metrics_emit(out, P "standby_lag_records", "gauge",
                        "Changelog records a standby copy of the task has not applied yet "
                        "(its changelog partitions' high watermarks minus its positions).",
                        l2, (double)m->standbys[i].lag);
    }
    pthread_mutex_unlock(&m->mu);
}

/* watermark.h -- event-time progress of one task: a watermark per input, idleness, and the
 * task's watermark as the minimum over its inputs that are not idle.
 *
 * A watermark W says "no more records with event time <= W are expected" (Flink's definition).
 * An input's W is the largest event time it has delivered minus the bounded disorder
 * (`delay_ms`) minus 1; inputs fed by watermark markers (an upstream task across a repartition
 * topic) take the marker's value instead. Every W only moves forward.
 *
 * Idleness is taken from the client, not from a timer alone: an input is idle when it is caught up
 * (the consumer reported the end of the partition since its last record) *and* has delivered no
 * record for `idle_ms`. A lagging input is never idle, so a slow or paused partition cannot have
 * its records turned late by a jumping watermark. An idle input that delivers a record is active
 * again at once; records it brings that are behind the task's watermark are late.
 *
 * The task's watermark is the minimum over the non-idle inputs, never lower than before (also
 * across restarts: sl_wm_restore), and does not move while every input is idle. An input that has
 * delivered nothing yet and is not idle holds it back. Thread: the owning lane only. */
#ifndef SL_STREAM_WATERMARK_H
#define SL_STREAM_WATERMARK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define SL_WM_NONE INT64_MIN /* no watermark yet */

typedef struct sl_wm_input {
    int64_t max_ts;   /* largest event time delivered; SL_WM_NONE before the first */
    int64_t wm;       /* this input's watermark */
    uint64_t last_ms; /* clock of the last record (or of the start) */
    bool caught_up;   /* end of partition seen since the last record */
    bool idle;        /* as of the last sl_wm_advance */
} sl_wm_input_t;

typedef struct sl_wm {
    sl_wm_input_t *in;
    size_t n;
    int64_t delay_ms; /* bounded disorder */
    int64_t idle_ms;  /* 0: inputs never go idle */
    int64_t current;  /* the task's watermark */
} sl_wm_t;

/* n inputs, all without a watermark, started at `now_ms` (the idle clock starts there). */
void sl_wm_init(sl_wm_t *t, size_t n, int64_t delay_ms, int64_t idle_ms, uint64_t now_ms);
void sl_wm_free(sl_wm_t *t);

/* Adds an input without a watermark (an upstream task heard of for the first time), its idle
 * clock started at `now_ms`; returns its index. */
size_t sl_wm_add(sl_wm_t *t, uint64_t now_ms);
/* Input `i` delivered a record with event time `ts` at `now_ms`. */
void sl_wm_record(sl_wm_t *t, size_t i, int64_t ts, uint64_t now_ms);
/* Input `i` (a repartition topic's upstream task) sent a watermark marker: its watermark is `wm`
 * (kept if lower than what it had) and it is idle or not as the marker says. An input going idle
 * counts its watermark once more first (the task's watermark takes it as a tick would). */
void sl_wm_marker(sl_wm_t *t, size_t i, int64_t wm, bool idle, uint64_t now_ms);
/* The consumer reached the end of input `i` (librdkafka's partition EOF). */
void sl_wm_caught_up(sl_wm_t *t, size_t i);

/* Recomputes idleness at `now_ms` and the task's watermark; returns it. */
int64_t sl_wm_advance(sl_wm_t *t, uint64_t now_ms);

/* Starts every input's idle clock afresh at `now_ms`, as if the tracker were new: not idle, not
 * caught up. For a task that sat unrun (a standby copy) and starts running: the time it sat is no
 * input's silence, and its inputs have to catch up again before any of them is idle. */
void sl_wm_resume(sl_wm_t *t, uint64_t now_ms);

/* Whether every input is idle (what a downstream marker reports as `idle`). */
bool sl_wm_all_idle(const sl_wm_t *t);

/* ---- checkpoints: the watermarks travel in the task's metadata record ---- */

/* Bytes sl_wm_encode writes for this tracker. */
size_t sl_wm_encoded_size(const sl_wm_t *t);
/* Writes version, input count, the task's watermark and each input's watermark and largest event
 * time (big-endian) into out[0..cap); returns the size, or 0 if cap is too small. */
size_t sl_wm_encode(const sl_wm_t *t, uint8_t *out, size_t cap);
/* Restores what sl_wm_encode wrote: watermarks only move forward, so values below the current ones
 * are ignored. An encoding for a different number of inputs restores the task's watermark only
 * (inputs changed: each starts afresh, the task never goes back). SL_ERR_CORRUPT if malformed. */
SL_MUST_USE sl_err_t sl_wm_restore(sl_wm_t *t, const uint8_t *p, size_t len);
/* As sl_wm_restore, the task's watermark only: for trackers whose inputs are numbered in the
 * order they were first heard of, which a restart does not repeat. */
SL_MUST_USE sl_err_t sl_wm_restore_current(sl_wm_t *t, const uint8_t *p, size_t len);

#endif

/* winagg.h -- the windowed aggregation operator of one task: accumulators per (key, window) in a
 * keyed store, firing on the watermark, grace, allowed lateness, session merging, and late
 * records routed out instead of dropped.
 *
 * Time, with W the task watermark ("no more records at or before W"), a window [s, e) (sessions:
 * [first, last] with e = last + gap + 1, the first time that could no longer extend it) and its
 * result time t = e - 1:
 *   - EMIT FINAL: one result when W >= t + grace. With allowed lateness L > 0 the window stays
 *     until W >= t + grace + L, and each record arriving meanwhile re-fires it (a correction).
 *   - EMIT CHANGES: a result after every record; the window stays until W >= t + max(grace, L).
 *   - A record is late when every window it belongs to is past that point; it is handed to the
 *     `late` callback with the reason (never silently dropped). A hopping-window record that still
 *     fits some of its windows updates those.
 * State lives in an sl_kv_t, so a checkpoint's changelog and an abort come from the store; the
 * firing queue is derived from the store and rebuilt by sl_winagg_rebuild after a restore.
 * Thread: the owning lane only. */
#ifndef SL_STREAM_WINAGG_H
#define SL_STREAM_WINAGG_H

#include <stdbool.h>
#include <stdint.h>

#include "common/util.h"
#include "stream/kv.h"
#include "stream/window.h"

typedef enum sl_emit { SL_EMIT_FINAL = 1, SL_EMIT_CHANGES } sl_emit_t;

typedef enum sl_result_kind {
    SL_RESULT_FIRE = 1, /* the window's result (final, or the latest in changes mode) */
    SL_RESULT_UPDATE,   /* a correction of a window already fired (a late record within L) */
    SL_RESULT_RETRACT,  /* a session merged into another: its earlier result no longer holds */
} sl_result_kind_t;

typedef struct sl_winagg_ops {
    size_t state_bytes; /* zeroed before the first step; no pointers (it goes to the changelog) */
    sl_err_t (*step)(void *state, sl_bytes_t key, sl_bytes_t value, int64_t ts, void *user);
    void (*merge)(void *into, const void *from, void *user); /* sessions; NULL: not mergeable */
    /* A result: `state` is NULL for SL_RESULT_RETRACT. */
    sl_err_t (*emit)(sl_result_kind_t kind, sl_bytes_t key, int64_t start, int64_t end,
                     const void *state, void *user);
    /* A record too late for every window it belongs to. */
    sl_err_t (*late)(sl_bytes_t key, sl_bytes_t value, int64_t ts, int64_t watermark,
                     int64_t window_end, void *user);
    void *user;
} sl_winagg_ops_t;

typedef struct sl_winagg_conf {
    sl_win_spec_t window; /* checked by sl_winagg_new */
    int64_t grace_ms, lateness_ms;
    sl_emit_t emit;
} sl_winagg_conf_t;

typedef struct sl_winagg sl_winagg_t;

/* The operator over `store` (owned by the caller; this operator's keys only). NULL with a reason
 * in `why` for a bad window, negative grace or lateness, or sessions without `merge`. */
sl_winagg_t *sl_winagg_new(const sl_winagg_conf_t *conf, const sl_winagg_ops_t *ops, sl_kv_t *store,
                           const char **why);
void sl_winagg_free(sl_winagg_t *a);

/* One record at event time `ts`, with the task watermark `wm` as it is now. Errors from the
 * callbacks are returned as they came (the record's effects on state stand; the caller aborts
 * the checkpoint or dead-letters the record). */
SL_MUST_USE sl_err_t sl_winagg_add(sl_winagg_t *a, sl_bytes_t key, sl_bytes_t value, int64_t ts,
                                   int64_t wm);
/* The watermark moved to `wm`: fires and retires windows, oldest result time first. */
SL_MUST_USE sl_err_t sl_winagg_advance(sl_winagg_t *a, int64_t wm);
/* Rebuilds the firing queue from the store (after a restore or an abort). */
void sl_winagg_rebuild(sl_winagg_t *a);
/* Windows held. */
size_t sl_winagg_open(const sl_winagg_t *a);

#endif

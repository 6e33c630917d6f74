/* window.h -- event-time window arithmetic for the stream engine: which tumbling or hopping
 * windows a timestamp falls in, the panes hopping windows are built from, and merging session
 * windows. Pure functions and a small per-key session list; no I/O, no clock.
 *
 * Conventions (Flink's and Kafka Streams'): time windows are [start, end), aligned to the epoch
 * plus an offset (so daily windows can follow a time zone), and a window's results carry the
 * timestamp end - 1. Session windows are [first, last] record times, inclusive; two sessions merge
 * when the gap between them is at most `gap_ms`. Thread: any (no shared state). */
#ifndef SL_STREAM_WINDOW_H
#define SL_STREAM_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

typedef enum sl_win_kind {
    SL_WIN_TUMBLING = 1,
    SL_WIN_HOPPING,
    SL_WIN_SESSION,
} sl_win_kind_t;

typedef struct sl_win_spec {
    sl_win_kind_t kind;
    int64_t size_ms;    /* tumbling, hopping */
    int64_t advance_ms; /* hopping; tumbling: equal to size (0 means that) */
    int64_t gap_ms;     /* session */
    int64_t offset_ms;  /* alignment shift of time windows, 0 <= offset < advance */
} sl_win_spec_t;

/* At most this many hopping windows per record: a larger size/advance ratio is refused (Flink's
 * 1-day-per-1-second trap costs 86,400 accumulators per record). */
#define SL_WIN_MAX_PER_RECORD 1024

/* Checks and normalizes `w` (tumbling advance := size). SL_ERR_INVAL with a reason in `why`
 * (static text) for a non-positive size or gap, an advance larger than the size, an offset outside
 * [0, advance), or more than SL_WIN_MAX_PER_RECORD windows per record. */
SL_MUST_USE sl_err_t sl_win_check(sl_win_spec_t *w, const char **why);

/* Floor division toward negative infinity (timestamps before 1970 stay aligned). */
static inline int64_t sl_win_floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* The start of the aligned slot of width `step` (shifted by `offset`) holding `ts`. */
static inline int64_t sl_win_align(int64_t ts, int64_t step, int64_t offset) {
    return sl_win_floor_div(ts - offset, step) * step + offset;
}

/* Writes the starts of every time window of `w` (checked) that contains `ts`, oldest first, into
 * starts[0..cap); returns how many there are (at most size/advance rounded up). A window starting
 * at s covers [s, s + size). */
size_t sl_win_assign(const sl_win_spec_t *w, int64_t ts, int64_t *starts, size_t cap);

/* Hopping windows are unions of panes of width gcd(size, advance): a record updates one pane's
 * accumulator, a firing combines size/pane panes. */
int64_t sl_win_pane_ms(const sl_win_spec_t *w);

/* ---- session windows ---- */

typedef struct sl_session {
    int64_t start, end; /* first and last record times, inclusive */
    uint64_t slot;      /* the caller's handle for this session's accumulator */
} sl_session_t;

/* One key's open sessions, sorted by start, never overlapping nor within `gap` of each other. */
typedef struct sl_session_list {
    sl_session_t *v;
    size_t n, cap;
} sl_session_list_t;

/* What sl_session_insert did: the session the record belongs to now (its index in the list) and,
 * when the record bridged two sessions, the later one it swallowed (copied out: its accumulator
 * must be merged into the survivor's, and a result already emitted for it retracted). Sessions are
 * more than `gap` apart, so one record can bridge at most two. */
typedef struct sl_session_merge {
    size_t at;    /* index of the resulting session in the list */
    bool created; /* a new session: its slot is `new_slot` from the call */
    bool bridged; /* `absorbed` is valid */
    sl_session_t absorbed;
} sl_session_merge_t;

/* Adds a record at `ts`: extends the session within `gap` of it, bridges two sessions it joins
 * (the earlier one survives and keeps its slot), or opens a new one with `new_slot`. */
void sl_session_insert(sl_session_list_t *l, int64_t ts, int64_t gap, uint64_t new_slot,
                       sl_session_merge_t *out);
/* Removes the sessions whose end + gap + retention is at or before `wm` (closed for good), calling
 * `fn` on each, oldest first. Returns how many were removed. */
size_t sl_session_expire(sl_session_list_t *l, int64_t wm, int64_t gap, int64_t retention,
                         void (*fn)(const sl_session_t *s, void *arg), void *arg);
void sl_session_list_free(sl_session_list_t *l);

#endif

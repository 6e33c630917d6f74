/* join.h -- the state side of joins, over one task's keyed stores: a table (the latest value per
 * key of a topic) and the windowed stream-stream join's per-key buffers.
 *
 * Table: sl_table_apply puts a record's value under its key, or deletes the key for a null value
 * (a tombstone); a null key is ignored (Kafka Streams drops it too). Lookups give the value and
 * the timestamp of the record that set it.
 *
 * Windowed join, with W the task watermark, `within` the largest |ts_left - ts_right| that
 * matches and `grace` the disorder a side may have:
 *   - a record is late when W >= ts + grace: it goes to the `late` callback, never joined;
 *   - otherwise it is joined with every buffered record of the other side with the same key and
 *     |ts - ts'| <= within (one `emit` per pair, in buffer order), then buffered itself;
 *   - a buffered record expires when W >= ts + within + grace; left (left and outer joins) or
 *     right (outer joins) records that never matched are emitted alone at that point.
 * Every pair is emitted exactly once: the one of the two that arrives second meets the first,
 * because when the second is not late (W < ts2 + grace <= ts1 + within + grace) the first has not
 * expired yet. All of it lives in the store, so a checkpoint's changelog, an abort (then
 * sl_wjoin_rebuild) and a restore (then sl_wjoin_rebuild) cover it.
 * Thread: the owning lane only. */
#ifndef SL_STREAM_JOIN_H
#define SL_STREAM_JOIN_H

#include <stdbool.h>
#include <stdint.h>

#include "common/util.h"
#include "stream/kv.h"

/* ---- tables ---- */

/* Applies one record of the table's topic: value.p == NULL deletes the key. */
void sl_table_apply(sl_kv_t *kv, sl_bytes_t key, sl_bytes_t value, int64_t ts);
/* The key's value (viewing the store until its next change) and the timestamp that set it. */
bool sl_table_get(sl_kv_t *kv, sl_bytes_t key, sl_bytes_t *value, int64_t *ts);

/* ---- windowed stream-stream joins ---- */

typedef enum sl_wjoin_kind { SL_WJOIN_INNER = 1, SL_WJOIN_LEFT, SL_WJOIN_OUTER } sl_wjoin_kind_t;

typedef struct sl_wjoin_ops {
    /* A match (both sides) or an unmatched record at its window's close (the other side NULL;
     * its ts argument is then 0). */
    sl_err_t (*emit)(sl_bytes_t key, const sl_bytes_t *left, int64_t left_ts,
                     const sl_bytes_t *right, int64_t right_ts, void *user);
    /* side 0: left, 1: right. */
    sl_err_t (*late)(int side, sl_bytes_t key, sl_bytes_t value, int64_t ts, int64_t wm,
                     void *user);
    void *user;
} sl_wjoin_ops_t;

typedef struct sl_wjoin sl_wjoin_t;

/* The operator over `store` (the caller's; this operator's keys only). NULL with a reason for a
 * negative window or grace, an unknown kind or missing callbacks. */
sl_wjoin_t *sl_wjoin_new(sl_wjoin_kind_t kind, int64_t within_ms, int64_t grace_ms,
                         const sl_wjoin_ops_t *ops, sl_kv_t *store, const char **why);
void sl_wjoin_free(sl_wjoin_t *j);

/* A record of `side` (0 left, 1 right) at event time ts, with the task watermark wm as it is now.
 * Callback errors come back as they came; the record is buffered whatever the callbacks said. */
SL_MUST_USE sl_err_t sl_wjoin_add(sl_wjoin_t *j, int side, sl_bytes_t key, sl_bytes_t value,
                                  int64_t ts, int64_t wm);
/* The watermark moved to wm: expires buffered records, emitting the unmatched ones it must. */
SL_MUST_USE sl_err_t sl_wjoin_advance(sl_wjoin_t *j, int64_t wm);
/* Rebuilds the expiry queue from the store (after an abort or a restore). */
void sl_wjoin_rebuild(sl_wjoin_t *j);
/* Records buffered, both sides. */
size_t sl_wjoin_buffered(const sl_wjoin_t *j);

#endif

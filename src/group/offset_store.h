/* offset_store.h -- committed offsets and group metadata, durable in an append-only log.
 *
 * <data-dir>/__consumer_offsets.log holds CRC'd records (the metadata log's framing): an offset
 * commit per (group, topic, partition), an offset deletion, a group's membership after each
 * completed rebalance, and a group deletion. Replay at start-up keeps the last record of each key;
 * when the file has grown to several times its live size it is rewritten compactly (temp file,
 * fsync, rename), which is Kafka's compacted __consumer_offsets in miniature.
 * Thread: the broker's loop thread. */
#ifndef SL_OFFSET_STORE_H
#define SL_OFFSET_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "storage/reclog.h"

typedef struct sl_offset_store sl_offset_store_t;

typedef struct sl_committed {
    int64_t offset;
    int32_t leader_epoch;
    char *metadata; /* owned; may be NULL; bytes (NULs included), NUL-terminated for logs */
    size_t metadata_len;
    int64_t commit_ms;
} sl_committed_t;

/* Replay callbacks, in log order. `members` is an opaque blob (encoded by the coordinator). */
typedef struct sl_offset_replay {
    void (*offset)(void *opaque, const char *group, const char *topic, int32_t partition,
                   const sl_committed_t *c);
    void (*offset_delete)(void *opaque, const char *group, const char *topic, int32_t partition);
    void (*group)(void *opaque, const char *group, const uint8_t *blob, size_t len);
    void (*group_delete)(void *opaque, const char *group);
    void *opaque;
} sl_offset_replay_t;

sl_offset_store_t *sl_offset_store_open(const char *dir, const sl_offset_replay_t *replay,
                                        char *err);
void sl_offset_store_close(sl_offset_store_t *os);

/* Appends records without syncing; sl_offset_store_sync makes everything appended durable.
 * Each returns SL_OK or SL_ERR_IO/SL_ERR_NOSPACE (nothing is then durable). */
SL_MUST_USE sl_err_t sl_offset_store_put(sl_offset_store_t *os, const char *group,
                                         const char *topic, int32_t partition,
                                         const sl_committed_t *c);
SL_MUST_USE sl_err_t sl_offset_store_del(sl_offset_store_t *os, const char *group,
                                         const char *topic, int32_t partition);
SL_MUST_USE sl_err_t sl_offset_store_group(sl_offset_store_t *os, const char *group,
                                           const uint8_t *blob, size_t len);
SL_MUST_USE sl_err_t sl_offset_store_group_del(sl_offset_store_t *os, const char *group);
SL_MUST_USE sl_err_t sl_offset_store_sync(sl_offset_store_t *os);
/* The record file underneath, for syncs run off the loop (see reclog.h). */
sl_reclog_t *sl_offset_store_log(sl_offset_store_t *os);
/* Bytes in the file. */
int64_t sl_offset_store_size(const sl_offset_store_t *os);

/* Rewrites the file from a snapshot the caller produces through `emit` (which must call the put
 * and group functions on the new store handle it is given). Atomic: temp file + fsync + rename. */
typedef sl_err_t sl_offset_snapshot_fn(sl_offset_store_t *fresh, void *opaque);
SL_MUST_USE sl_err_t sl_offset_store_compact(sl_offset_store_t *os, sl_offset_snapshot_fn *emit,
                                             void *opaque);

/* The replicated form (a cluster's __consumer_offsets partitions, broker/offsets_topic.c): one
 * Kafka record per change, its value the payload of a record above (type, group, fields; no
 * length or CRC: the record batch has its own) and its key group, topic and partition, so that
 * compaction keeps the last change of each committed offset. Appended to `out`. */
void sl_offset_rec_key(sl_buf_t *out, const char *group, const char *topic, int32_t partition);
void sl_offset_rec_put(sl_buf_t *out, const char *group, const char *topic, int32_t partition,
                       const sl_committed_t *c);
void sl_offset_rec_del(sl_buf_t *out, const char *group, const char *topic, int32_t partition);
/* Decodes one such value and calls the matching `replay` callback: SL_OK, or SL_ERR_CORRUPT for
 * a value that does not decode (nothing is called). */
SL_MUST_USE sl_err_t sl_offset_rec_apply(const sl_offset_replay_t *replay, const uint8_t *p,
                                         size_t n);

#endif

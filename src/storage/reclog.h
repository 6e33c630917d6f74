/* reclog.h -- a small append-only file of CRC'd records, replayed in full at start-up: the
 * framing under the committed-offsets log and the transaction log.
 *
 *   OFFSET  SIZE  FIELD
 *        0     4  length   bytes of payload (big-endian)
 *        4     4  crc      CRC-32C of the payload
 *        8     …  payload  the owner's encoding
 *
 * Replay stops at the first record whose length or CRC does not check out, or that the owner
 * rejects (a crash mid-append), and truncates the file there. Appends are durable only after a
 * sync: either sl_reclog_sync (blocking: start-up, shutdown, tests) or, on the broker's loop, one
 * run by a sync worker (sl_reclog_want_sync marks what must become durable; the worker's loop
 * side calls sl_reclog_sync_begin / _end; waiters compare their position with
 * sl_reclog_durable). Positions are logical (bytes ever appended), so compaction, which rewrites
 * the file from the owner's live state (temp file, fsync, rename, fsync of the directory), does
 * not move them. A failed sync marks the log failed: later appends and syncs fail too.
 * Thread: the owner's (the broker's loop thread). */
#ifndef SL_RECLOG_H
#define SL_RECLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/codec.h"
#include "common/err.h"

typedef struct sl_reclog sl_reclog_t;

/* Called for each record in file order; returning non-OK stops the replay (and truncates). */
typedef sl_err_t sl_reclog_replay_fn(void *opaque, const uint8_t *payload, size_t len);

/* Opens (creating) `path` and replays it. On failure returns NULL with a reason in err. */
sl_reclog_t *sl_reclog_open(const char *path, sl_reclog_replay_fn *replay, void *opaque, char *err);
/* Syncs and closes. NULL is a no-op. */
void sl_reclog_close(sl_reclog_t *rl);

/* Starts a record in `buf` (which must be empty): the payload is written after the returned
 * writer's position; sl_reclog_append frames it. */
sl_writer_t sl_reclog_begin(sl_buf_t *buf);
/* Frames the record in `buf` (begun with sl_reclog_begin) and appends it; frees `buf`.
 * Returns SL_OK or SL_ERR_IO / SL_ERR_NOSPACE (the file is cut back to its previous end). */
SL_MUST_USE sl_err_t sl_reclog_append(sl_reclog_t *rl, sl_buf_t *buf);
/* fdatasync's every append so far (a no-op when nothing is pending). Blocking. */
SL_MUST_USE sl_err_t sl_reclog_sync(sl_reclog_t *rl);
/* Asks for everything appended so far to become durable; returns the position to wait for. */
uint64_t sl_reclog_want_sync(sl_reclog_t *rl);
/* For a sync worker: when a sync is wanted and none is running, true with a dup of the file
 * descriptor (the caller's, closed after its fdatasync); it will make every append so far
 * durable. False also when no descriptor could be had (EMFILE/ENFILE/ENOMEM): that is not a
 * failed sync, and the next call tries again. */
bool sl_reclog_sync_begin(sl_reclog_t *rl, int *fd_out);
/* The worker's fdatasync begun by sl_reclog_sync_begin finished with `rc`. */
void sl_reclog_sync_end(sl_reclog_t *rl, int rc);
/* Whether every append up to `pos` (from sl_reclog_want_sync) is durable. */
bool sl_reclog_durable(const sl_reclog_t *rl, uint64_t pos);
bool sl_reclog_failed(const sl_reclog_t *rl);
int64_t sl_reclog_size(const sl_reclog_t *rl);

/* Rewrites the file from the owner's live state: `emit` appends records to the fresh log it is
 * given. Atomic: temp file + fsync + rename. */
typedef sl_err_t sl_reclog_emit_fn(sl_reclog_t *fresh, void *opaque);
SL_MUST_USE sl_err_t sl_reclog_compact(sl_reclog_t *rl, sl_reclog_emit_fn *emit, void *opaque);

#endif

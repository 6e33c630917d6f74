/* reclog.h -- a small append-only file of CRC'd records, replayed in full at start-up: the
 * framing under the committed-offsets log and the transaction log.
 *
 *   OFFSET  SIZE  FIELD
 *        0     4  length   bytes of payload (big-endian)
 *        4     4  crc      CRC-32C of the payload
 *        8     …  payload  the owner's encoding
 *
 * Replay stops at the first record whose length or CRC does not check out, or that the owner
 * rejects (a crash mid-append), and truncates the file there; appends are durable only after
 * sl_reclog_sync. The owner keeps the file small by rewriting it from its live state
 * (sl_reclog_compact: temp file, fsync, rename, fsync of the directory).
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
/* fdatasync's every append so far (a no-op when nothing is pending). */
SL_MUST_USE sl_err_t sl_reclog_sync(sl_reclog_t *rl);
int64_t sl_reclog_size(const sl_reclog_t *rl);

/* Rewrites the file from the owner's live state: `emit` appends records to the fresh log it is
 * given. Atomic: temp file + fsync + rename. */
typedef sl_err_t sl_reclog_emit_fn(sl_reclog_t *fresh, void *opaque);
SL_MUST_USE sl_err_t sl_reclog_compact(sl_reclog_t *rl, sl_reclog_emit_fn *emit, void *opaque);

#endif

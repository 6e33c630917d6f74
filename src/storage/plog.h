/* plog.h -- a partition log: a directory of segments with offset and time indexes.
 *
 * Directory layout (one per partition, <data-dir>/<topic>-<partition>/):
 *   <base_offset:020>.log        RecordBatch v2 batches back to back, stored verbatim
 *   <base_offset:020>.index      sparse offset index: (int32 relative offset, int32 position) BE
 *   <base_offset:020>.timeindex  time index: (int64 timestamp, int32 relative offset) BE
 *   clean-shutdown               present only while the log is closed cleanly
 *   log-start-offset             the log start offset DeleteRecords moved (decimal text), when
 *                                it lies above the first segment's base
 *
 * Invariants: offsets are dense and increasing; every byte below `durable` position of the active
 * segment has been fdatasync'ed; segments other than the active one were synced when rolled, so
 * recovery after a crash scans only the active segment and truncates a torn or corrupt tail.
 * Errors are sticky: after a failed write or sync the log is FAILED, refuses appends with
 * SL_ERR_IO / SL_ERR_NOSPACE, and recovers through close + open (which re-scans), or, when a full
 * disk (ENOSPC, EDQUOT) made it FAILED, by itself in sl_plog_tick once there is room again.
 * Thread: a plog belongs to the shard that opened it. */
#ifndef SL_PLOG_H
#define SL_PLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/err.h"

typedef struct sl_plog sl_plog_t;

typedef struct sl_plog_conf {
    int64_t segment_bytes;        /* log.segment.bytes / segment.bytes */
    int64_t roll_ms;              /* log.roll.ms / segment.ms */
    int64_t retention_ms;         /* retention.ms; -1 = keep forever */
    int64_t retention_bytes;      /* retention.bytes; -1 = no size limit */
    int32_t index_interval_bytes; /* log.index.interval.bytes */
    int64_t flush_messages;       /* flush.messages: sync after this many unsynced records */
    int64_t flush_ms;             /* flush.ms: sync when the oldest unsynced append is this old */
    bool log_append_time;         /* message.timestamp.type=LogAppendTime */
    /* cleanup.policy: delete (retention applies), compact (the cleaner keeps the latest record
     * per key: storage/cleaner.h), or both. */
    bool cleanup_delete;
    bool cleanup_compact;
    double min_cleanable_dirty_ratio; /* min.cleanable.dirty.ratio */
    int64_t delete_retention_ms;      /* delete.retention.ms: how long tombstones stay */
    int64_t min_compaction_lag_ms;    /* min.compaction.lag.ms */
    int64_t max_compaction_lag_ms;    /* max.compaction.lag.ms */
} sl_plog_conf_t;

/* Fills `conf` with Kafka's defaults (1 GiB segments, 7-day roll and retention, ...). */
void sl_plog_conf_default(sl_plog_conf_t *conf);

/* Opens the log in `dir`. A missing or empty directory is an empty log: the directory and the
 * first segment's files are created at its first append (a partition never written costs no
 * files, and creating thousands of partitions costs no disk work). If the log was not closed
 * cleanly, the active
 * segment is scanned, CRCs checked, and a torn/corrupt tail truncated; its indexes are rebuilt.
 * `now_ms` is the wall clock. On failure writes a reason into err (SL_ERRLEN bytes). */
SL_MUST_USE sl_err_t sl_plog_open(const char *dir, const sl_plog_conf_t *conf, int64_t now_ms,
                                  sl_plog_t **out, char *err);
/* A placeholder for a log that could not be opened (start-up): FAILED, empty, never touching
 * `dir`, so the broker starts and serves the partition as offline (reads and appends get
 * errors). Closing it leaves the directory as it was. */
sl_plog_t *sl_plog_open_offline(const char *dir, const sl_plog_conf_t *conf);
/* Whether `plog` is such a placeholder. */
bool sl_plog_offline(const sl_plog_t *plog);
/* Syncs, writes the clean-shutdown marker (unless FAILED), closes files, frees. NULL is a no-op. */
void sl_plog_close(sl_plog_t *plog);
/* Closes files and frees without syncing or writing the clean-shutdown marker: for a log whose
 * directory is removed next (topic deletion). NULL is a no-op. */
void sl_plog_discard(sl_plog_t *plog);
/* Replaces the configuration (topic config change); takes effect at the next append/tick. */
void sl_plog_set_conf(sl_plog_t *plog, const sl_plog_conf_t *conf);

/* Appends one or more validated batches held in `batches` (mutable, `len` bytes, each already
 * checked by sl_batch_parse). Assigns consecutive base offsets by patching the headers in place
 * (and, for LogAppendTime, timestamps + CRC), writes them at the end of the active segment (rolling
 * first if needed), and updates the indexes. `*base_offset_out` is the first batch's base offset.
 * Syncs by itself when flush.messages is reached. Returns SL_OK, SL_ERR_IO or SL_ERR_NOSPACE
 * (the log is now FAILED), or SL_ERR_INVAL for a log already FAILED. */
SL_MUST_USE sl_err_t sl_plog_append(sl_plog_t *plog, uint8_t *batches, size_t len, int64_t now_ms,
                                    int64_t *base_offset_out);

/* A follower's append: batches fetched from the partition's leader, kept exactly as the leader
 * wrote them (offsets, leader epochs, LogAppendTime timestamps). Every batch is checked
 * (sl_batch_parse with its CRC) and the first must start at the end offset, each next one where
 * the previous ended; SL_ERR_CORRUPT (nothing written) otherwise. Then as sl_plog_append. */
SL_MUST_USE sl_err_t sl_plog_append_replica(sl_plog_t *plog, uint8_t *batches, size_t len,
                                            int64_t now_ms);
/* Cuts the log back so that `offset` is its end (a follower whose tail diverged from its
 * leader's, KIP-101): segments starting at or past it are deleted, the one holding it is cut at
 * the batch starting there, its indexes rebuilt and everything synced before this returns.
 * `offset` at or past the end changes nothing. SL_OK; SL_ERR_LIMIT below the log start;
 * SL_ERR_INVAL if no batch starts at `offset`; SL_ERR_IO (the log is then FAILED). */
SL_MUST_USE sl_err_t sl_plog_truncate(sl_plog_t *plog, int64_t offset);

/* The .log path of the active segment when its files do not exist yet (a fresh partition, or
 * a roll not yet written to) and the log is not FAILED; else NULL. The next append would create
 * them on the caller's thread: the broker has them made elsewhere first (mkfiles.h). */
const char *sl_plog_unborn_path(const sl_plog_t *plog);
/* Tells the log that the files of `log_path` were made elsewhere: when that is still its active,
 * unborn segment, the next append opens them instead of creating them. True if it was. */
bool sl_plog_files_made(sl_plog_t *plog, const char *log_path);

/* Unsynced bytes past which a partition gets a background sync even when nobody waits for one
 * (acks=0/1 and no flush.* settings): it bounds what the fdatasync at a segment roll, which runs
 * on the appending thread, has to write back. */
#define SL_PLOG_WRITEBACK_BYTES (8 << 20)
/* At least SL_PLOG_WRITEBACK_BYTES appended and not yet covered by a sync. */
bool sl_plog_writeback_due(const sl_plog_t *plog);
/* fdatasync's everything appended so far; afterwards sl_plog_durable_offset == end offset.
 * A failure makes the log FAILED. */
SL_MUST_USE sl_err_t sl_plog_sync(sl_plog_t *plog);

/* Starts an asynchronous sync (group commit off the loop): `*fd_out` gets a dup of the active
 * segment's fd to fdatasync elsewhere, `*target_out` the end offset that sync will make durable.
 * `*fd_out` is -1 when everything is already durable. When the segment's files are new (their
 * directory entries never synced), dir_fds_out gets its directory and that directory's parent,
 * to fsync after the fdatasync (else -1, -1); all of them are the caller's to close. Returns SL_OK,
 * SL_AGAIN when no descriptor could be had (EMFILE/ENFILE/ENOMEM: call again later; the log stays
 * OPEN), or the sticky error of a FAILED log. */
SL_MUST_USE sl_err_t sl_plog_sync_begin(sl_plog_t *plog, int *fd_out, int dir_fds_out[2],
                                        int64_t *target_out);
/* Completes a sync started with sl_plog_sync_begin: on rc == SL_OK every offset below `target`
 * is durable; otherwise the log becomes FAILED. Returns the log's state as an sl_err_t. */
sl_err_t sl_plog_sync_end(sl_plog_t *plog, int64_t target, int rc);

/* How often a log FAILED by a full disk is re-checked, and the free space the file system must
 * have for the attempt. */
#define SL_PLOG_RECHECK_MS         1000
#define SL_PLOG_RECHECK_FREE_BYTES (1 << 20)

/* Periodic work: flush.ms, segment.ms rolls, retention by time and size, and the recovery of a
 * log FAILED by a full disk: at most every SL_PLOG_RECHECK_MS, with SL_PLOG_RECHECK_FREE_BYTES
 * free, the unsynced tail of the active segment is written again, verified (CRCs) and synced;
 * then the log is OPEN again with every offset durable, and the offsets it had are unchanged.
 * A tail that does not verify turns the failure into an I/O one (a reopen re-scans it). Returns
 * the number of segments deleted (>= 0) or a negative sl_err_t. */
int sl_plog_tick(sl_plog_t *plog, int64_t now_ms);
/* FAILED by ENOSPC or EDQUOT (and so re-checked by sl_plog_tick). */
bool sl_plog_failed_by_full_disk(const sl_plog_t *plog);

int64_t sl_plog_start_offset(const sl_plog_t *plog); /* log start offset */
/* DeleteRecords: moves the log start offset up to `offset` (at most the end offset; an offset at
 * or below the current start changes nothing). The new start is written durably to the
 * log-start-offset file before anything else changes, then segments wholly below it are
 * deleted. Reads below it get SL_ERR_LIMIT, time lookups ignore the records below it, and a
 * reopen keeps it. Returns SL_OK, SL_ERR_LIMIT (offset past the end) or SL_ERR_IO. */
SL_MUST_USE sl_err_t sl_plog_delete_records(sl_plog_t *plog, int64_t offset);
int64_t sl_plog_end_offset(const sl_plog_t *plog);     /* next offset to assign (LEO) */
int64_t sl_plog_durable_offset(const sl_plog_t *plog); /* every offset below this is on disk */
bool sl_plog_failed(const sl_plog_t *plog);
int64_t sl_plog_size_bytes(const sl_plog_t *plog); /* sum of segment sizes */
int sl_plog_segment_count(const sl_plog_t *plog);

/* A byte range of one segment file, for sendfile. `fd` is a dup owned by the caller (close it),
 * so a segment deleted by retention meanwhile stays readable. */
typedef struct sl_plog_slice {
    int fd;
    off_t pos;
    size_t len;
    int64_t first_offset; /* base offset of the first batch in the range */
} sl_plog_slice_t;

/* Finds the batches holding `offset` onwards, within one segment, at most `max_bytes` of whole
 * batches, but always the first batch whole even if it is larger (so a consumer never stalls).
 * Only offsets below `limit_offset` (e.g. the high watermark) are returned.
 * Returns SL_OK with slice->len == 0 if there is nothing at or after `offset` below the limit,
 * SL_ERR_LIMIT if `offset` is outside [start, end] (OFFSET_OUT_OF_RANGE), or SL_ERR_IO. */
SL_MUST_USE sl_err_t sl_plog_read(sl_plog_t *plog, int64_t offset, int64_t limit_offset,
                                  size_t max_bytes, sl_plog_slice_t *slice);

/* ListOffsets by time: the first record at or after the log start offset whose timestamp is at
 * least `ts`: writes its offset and timestamp, or -1 for both when no such record exists. The
 * batch holding it is read and its records decoded (a compressed one through `d`, at most
 * `max_decompressed` bytes). Returns SL_OK or SL_ERR_IO. Thread: the owner of `d`. */
struct sl_decomp;
SL_MUST_USE sl_err_t sl_plog_offset_for_time(sl_plog_t *plog, int64_t ts, struct sl_decomp *d,
                                             size_t max_decompressed, int64_t *offset_out,
                                             int64_t *timestamp_out);
/* ListOffsets -3 (max timestamp, KIP-734): the largest timestamp in the log and the offset of the
 * first record carrying it (the earliest one among equals); -1/-1 for an empty log. Decodes the
 * batch as sl_plog_offset_for_time does. Returns SL_OK or SL_ERR_IO. */
SL_MUST_USE sl_err_t sl_plog_max_timestamp(sl_plog_t *plog, struct sl_decomp *d,
                                           size_t max_decompressed, int64_t *ts_out,
                                           int64_t *offset_out);

/* Calls `fn` for the header of every batch in the last `n_segments` segments, oldest first
 * (rebuilding producer state at start-up). `control` is the marker type of a control batch
 * (SL_CONTROL_ABORT/COMMIT, -1 for data batches). `fn` returns false to stop. */
struct sl_batch_info;
typedef bool sl_plog_visit_fn(const struct sl_batch_info *info, int control, void *opaque);
SL_MUST_USE sl_err_t sl_plog_walk_tail(sl_plog_t *plog, int n_segments, sl_plog_visit_fn *fn,
                                       void *opaque);

/* Calls `fn` for the header of every batch holding offsets at or after `offset`, oldest first
 * (replaying producer state from its snapshot's offset). */
SL_MUST_USE sl_err_t sl_plog_walk_from(sl_plog_t *plog, int64_t offset, sl_plog_visit_fn *fn,
                                       void *opaque);

/* ---- compaction (cleanup.policy=compact; the clean itself is storage/cleaner.c) ---- */
struct sl_clean_job;
/* A clean of this log if one is due and none is running: the closed segments from the oldest
 * up to the first one younger than min.compaction.lag.ms (never the active segment, nor, while
 * the active segment has no file yet, the one before it, which a restart would take for the
 * active one), when the bytes not cleaned yet are at least min.cleanable.dirty.ratio of them, or
 * the oldest of those waited max.compaction.lag.ms, or a cleaned segment holds tombstones older
 * than delete.retention.ms. NULL otherwise. The job belongs to the log until
 * sl_plog_clean_finish; closing the log hands it to whoever runs it (it is discarded there). */
struct sl_clean_job *sl_plog_clean_prepare(sl_plog_t *plog, int64_t now_ms);
/* Takes a job back after sl_clean_run and frees it: every copy made of a segment still in the
 * log is swapped in, in this order, so a crash at any point leaves a valid segment:
 *   1. (sl_clean_run, on the cleaner thread, once every copy is synced) the old segments' index
 *      files are unlinked and the directory synced: a crash from here on leaves the old log,
 *      whose indexes the next open rebuilds from it, until
 *   2. <base>.timeindex.cleaned, then <base>.log.cleaned are renamed over the segment's names,
 *      then <base>.index.cleaned: each rename is atomic and the rename of the log is the commit
 *      (the new log with a missing index gets it rebuilt; a new time index beside the old log
 *      only names offsets the old log also has). The directory is not synced on the event loop:
 *      a crash before the file system commits the renames leaves the old segment, which is
 *      only a clean lost. The open removes every leftover *.cleaned file;
 *   3. the segment is reopened from the new files; readers holding the old file keep it.
 * A segment that came out empty is then deleted, unless it is the first (the log start offset
 * stays). Segments deleted meanwhile (retention) lose their copies. A failed rename makes the
 * log FAILED (a reopen re-scans). */
void sl_plog_clean_finish(sl_plog_t *plog, struct sl_clean_job *job);

/* Segment descriptors are pooled across all logs (segment.h): at most `n` segments (3 files
 * each) are open at once, the least recently used closed first; `n` is at least 2. Set it once,
 * before opening logs. Thread: the shard's. */
void sl_plog_set_open_segments_max(size_t n);
/* Segments whose files are open now, all logs. */
size_t sl_plog_open_segments(void);

/* Deletes a closed log's directory (topic deletion). */
SL_MUST_USE sl_err_t sl_plog_remove_dir(const char *dir);

#endif

/* segment.h -- one segment of a partition log: the .log file plus its two sparse indexes, which
 * are also kept in memory (8 and 12 bytes per entry; one entry per index.interval.bytes).
 *
 * Descriptors are pooled: a segment's three files are open only while it is among the most
 * recently used (sl_segment_set_open_max of them), so tens of thousands of mostly cold partitions
 * fit a modest RLIMIT_NOFILE. Every use of fd/ifd/tfd comes after sl_segment_acquire. A segment
 * holding unsynced appends (`dirty`) is fdatasync'ed before its descriptors are closed, by a
 * worker thread (issue 14: 2-5 s of evictions' syncs held the loop when thousands of fresh
 * partitions overflowed the pool); a failure of that sync is kept in `sync_errno` for the owner
 * to turn into FAILED. Until that sync is known the segment is `evicting`: acquiring it again
 * takes its descriptors back when the worker has not started on them, or waits for the sync's
 * result first, so a write-back error is never lost and never overtaken by a reopen.
 * Private to src/storage. Thread: the pool belongs to the shard thread (one today). */
#ifndef SL_SEGMENT_H
#define SL_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/err.h"

typedef struct sl_idx_entry {
    int32_t rel; /* offset - base */
    int32_t pos; /* byte position in the .log */
} sl_idx_entry_t;

typedef struct sl_tidx_entry {
    int64_t ts;  /* largest timestamp seen up to and including this batch */
    int32_t rel; /* base offset of the batch, relative */
} sl_tidx_entry_t;

typedef struct sl_segment {
    int64_t base;     /* first offset */
    int64_t next;     /* one past the last offset stored */
    int64_t size;     /* bytes in .log */
    int fd, ifd, tfd; /* .log, .index, .timeindex */
    sl_idx_entry_t *idx;
    size_t n_idx, cap_idx;
    sl_tidx_entry_t *tidx;
    size_t n_tidx, cap_tidx;
    int64_t max_ts;        /* largest batch maxTimestamp; -1 if empty */
    int64_t max_ts_offset; /* last offset of the batch holding it */
    int64_t bytes_since_idx;
    int64_t created_ms; /* wall clock of the first append (for segment.ms) */
    char *path;         /* .log path; index paths derive from it */
    bool dirty;         /* appends not yet covered by a sync (set and cleared by the owner) */
    bool unborn;        /* new and empty: its files are created at its first acquire */
    bool dir_unsynced;  /* created, and the directory entries naming it not yet synced */
    int sync_errno;     /* errno of a failed fdatasync at eviction; 0 if none */
    int64_t cleaned_ms; /* wall clock of its first compaction since open; -1: dirty */
    int64_t tombstones; /* tombstones its last compaction kept */
    struct sl_segment *lru_prev, *lru_next; /* in the pool while its files are open */
    struct sl_evict *evicting; /* its eviction's sync+close still pending on a worker; or NULL */
} sl_segment_t;

/* The segment starting at `base` in `dir`. With `create` it is new and empty, and its three files
 * are created only when it is first acquired, so a partition that is never written costs no
 * files; the directory entries of those files (and of a partition directory made for them) are
 * synced later, with the segment's data (sl_segment_sync, or sl_segment_dir_fds for a sync off
 * the loop), never at the create: three directory fsyncs per fresh partition stalled the loop.
 * Otherwise it opens the existing files, truncating nothing; they stay open, in the pool, until
 * evicted. Returns NULL with errno set on failure. */
sl_segment_t *sl_segment_open(const char *dir, int64_t base, bool create);
/* Creates the directory and the three files of the segment whose .log is `log_path`, keeping
 * any that exist; syncs nothing. Touches no segment or pool: safe on any thread (mkfiles.h).
 * 0, or -1 with errno. */
int sl_segment_make_files(const char *log_path);
/* After sl_segment_make_files succeeded for an unborn segment, on the owner's thread: it is no
 * longer unborn (its files are opened, not created, at its first acquire) and dir_unsynced.
 * False, changing nothing, when it was not unborn or its .log is not there. */
bool sl_segment_files_made(sl_segment_t *seg);
/* Makes sure the segment's three files are open and marks it most recently used; may close the
 * least recently used segments' files to stay within the pool size. Returns SL_OK, or SL_ERR_IO
 * with errno set (EMFILE/ENFILE/ENOMEM are transient: nothing is marked failed). */
SL_MUST_USE sl_err_t sl_segment_acquire(sl_segment_t *seg);
/* Settles a pending eviction of `seg` (takes its descriptors back if no worker started on them,
 * else waits for its sync) and returns sync_errno: 0, or the errno of a failed sync at eviction.
 * For a sync done elsewhere on a dup of the descriptor: a dup shares the open file, so the
 * eviction's fdatasync may have been the one told of a write-back error, and the other sync then
 * reports 0 (fsyncgate); its success counts only if this returns 0. */
int sl_segment_settle(sl_segment_t *seg);
/* Sets how many segments may have their files open at once (at least 2; default 1024). Segments
 * over the new size are closed at their next eviction pass. */
void sl_segment_set_open_max(size_t n);
/* Segments with their files open now (not counting those being closed by an eviction). */
size_t sl_segment_open_count(void);
/* Evictions whose sync and close are still pending (or not yet reported). */
size_t sl_segment_evictions_pending(void);
/* Waits for every pending eviction's sync and close, and notes their results in their segments
 * (for a clean shutdown, and for tests). */
void sl_segment_evictions_drain(void);
/* Whether `e` (an errno) means "out of descriptors or memory, try again later", not a disk
 * failure. */
bool sl_errno_transient(int e);
/* Closes the segment's descriptors (syncing nothing) and frees it; waits for its pending
 * eviction first, if any. NULL is a no-op. */
void sl_segment_close(sl_segment_t *seg);
/* Closes the segment without touching its files' names (a compacted copy took them over): the
 * descriptors are closed off the caller's thread, as for a deleted segment, and readers holding
 * dups keep the old file. */
void sl_segment_retire(sl_segment_t *seg);
/* Closes and unlinks the three files. */
void sl_segment_delete(sl_segment_t *seg);
/* Loads the index files into memory, dropping entries that point past the log. */
SL_MUST_USE sl_err_t sl_segment_load_indexes(sl_segment_t *seg);
/* Walks batches from the last index entry (or from 0 with `full`), checking CRCs when `full`,
 * rebuilding index entries as it goes. Sets next, max_ts. If a torn or corrupt batch is found,
 * truncates the log there (and reports how many bytes were cut in *cut_out). */
SL_MUST_USE sl_err_t sl_segment_recover(sl_segment_t *seg, bool full, int32_t index_interval,
                                        int64_t *cut_out);
/* Records an index entry for a batch at `pos` holding offsets [base_offset, last_offset] with
 * maxTimestamp `max_ts`, when `force` or index.interval.bytes have passed. */
void sl_segment_index_batch(sl_segment_t *seg, int64_t base_offset, int64_t last_offset,
                            int64_t max_ts, int64_t pos, int64_t batch_bytes, int32_t interval,
                            bool force);
/* Writes the in-memory indexes over the index files (after a failed write may have left them
 * short or torn) and cuts the files to them. SL_OK or SL_ERR_IO with errno set. */
SL_MUST_USE sl_err_t sl_segment_rewrite_indexes(sl_segment_t *seg);
/* Position of the last index entry at or before `offset` (0 if none). */
int64_t sl_segment_lookup(const sl_segment_t *seg, int64_t offset);
/* Position of the batch to start a timestamp search at: the last time-index entry whose
 * timestamp is below `ts` (0 if none). */
int64_t sl_segment_lookup_time(const sl_segment_t *seg, int64_t ts);
/* fdatasyncs the .log and the indexes, and then, for a segment created since the last sync
 * (dir_unsynced), its directory and the directory's parent. 0, or -1 with errno. */
SL_MUST_USE int sl_segment_sync(sl_segment_t *seg);
/* For a sync run elsewhere: with dir_unsynced, opens the segment's directory and its parent
 * (read-only descriptors for the caller to fsync and close) into out[0] and out[1]; otherwise
 * both are -1. 0, or -1 with errno (nothing left open). dir_unsynced stays set: the caller clears
 * it once those fsyncs succeeded. */
SL_MUST_USE int sl_segment_dir_fds(const sl_segment_t *seg, int out[2]);

#endif

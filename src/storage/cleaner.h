/* cleaner.h -- log compaction (cleanup.policy=compact): keeps the latest record of every key.
 *
 * A clean is a job in three steps. On the log's thread, sl_plog_clean_prepare (plog.h) picks the
 * closed segments to clean (never the active one) and describes them in a job. On a cleaner
 * thread, sl_clean_run reads those segments through its own descriptors (so retention may delete
 * one meanwhile) and writes a compacted copy of every segment that changes as three files beside
 * it, <base>.log.cleaned, <base>.index.cleaned and <base>.timeindex.cleaned, each fdatasync'ed,
 * then unlinks the old indexes of those segments (step 1 of the swap). Back on the log's thread,
 * sl_plog_clean_finish swaps the copies in (plog.c says how a crash at any point leaves either the
 * old or the new segment). The log is never locked: the cleaner only reads files the log no longer
 * writes, and the swap is done by the log's owner.
 *
 * What a clean keeps, per batch, in offset order:
 *   - control batches (transaction markers): always;
 *   - data batches of a transaction aborted within the job's segments: dropped whole;
 *   - data batches of a transaction with no marker in the job's segments (still open, or decided
 *     in the active segment): kept whole, and their keys are not counted as "latest";
 *   - the last batch of each producer id in the job's segments: kept whole, so producer state
 *     rebuilt from the log after a restart still sees the producer's last sequence;
 *   - any other batch: the records whose key has no later record in the dirty part (the
 *     segments not cleaned before, whose keys go into the map), records without a key, and
 *     tombstones (null value) unless their segment was cleaned at least delete.retention.ms ago.
 * A batch that loses records is rewritten with the same base offset, lastOffsetDelta,
 * timestamps and producer fields, its remaining records unchanged (so their offsets are kept:
 * consumers see gaps), its record count, length and CRC-32C recomputed, and, when compressed,
 * recompressed with its own codec. A batch that loses every record is dropped.
 *
 * The pool (sl_cleaner_t) runs jobs on log.cleaner.threads threads and hands finished ones back
 * to the thread that polls it. */
#ifndef SL_CLEANER_H
#define SL_CLEANER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* The key map of one clean holds at most this many bytes (keys and slots); segments past the
 * point where it fills wait for the next clean (log.cleaner.dedupe.buffer.size). */
#define SL_CLEAN_MAP_MAX_BYTES (128u << 20)

typedef struct sl_clean_seg {
    void *seg;          /* the log's segment, checked at the swap (still there, same one) */
    int64_t base, next; /* its offsets: [base, next) */
    char *path;         /* its .log file */
    int64_t cleaned_ms; /* wall clock of its first clean; -1: dirty (not cleaned since open) */
    /* Results. */
    bool done;            /* cleaned (its copy written, or nothing in it to drop) */
    bool rewritten;       /* <path>.cleaned and its indexes are written and synced */
    int64_t old_size;     /* bytes before */
    int64_t new_size;     /* bytes after */
    int64_t tombstones;   /* tombstones it still holds */
    int64_t records_gone; /* records removed */
} sl_clean_seg_t;

typedef struct sl_clean_job {
    sl_clean_seg_t *segs; /* oldest first */
    size_t n_segs;
    int64_t now_ms;              /* wall clock when the job was made */
    int64_t delete_retention_ms; /* delete.retention.ms */
    int32_t index_interval_bytes;
    size_t map_max_bytes; /* SL_CLEAN_MAP_MAX_BYTES, smaller in tests */
    /* Results. */
    sl_err_t rc;          /* SL_OK, or why nothing may be swapped in */
    int64_t bytes_read;   /* bytes of the segments cleaned */
    uint64_t duration_us; /* time sl_clean_run took */
    /* Ownership: the log that made it, or NULL once that log was closed (the job is then
     * discarded when it comes back). */
    struct sl_plog *plog;
    /* Set by sl_clean_job_cancel: the run stops at its next batch and creates no more files. */
    atomic_bool cancelled;
    pthread_mutex_t *files_mu; /* held while a copy is created (the pool's; NULL: run inline) */
    struct sl_clean_job *next; /* in the pool's queues */
} sl_clean_job_t;

/* Runs a job: reads its segments, writes the compacted copies (see above). Sets job->rc and the
 * per-segment results. On any failure, removes the copies it made, so nothing is swapped in.
 * Thread: any, one job at a time per job. */
sl_err_t sl_clean_run(sl_clean_job_t *job);

/* The copy's file names: `<seg path>` + ".cleaned", and its two indexes. `out` has `n` bytes. */
void sl_clean_copy_path(const char *log_path, const char *ext, char *out, size_t n);
/* Unlinks the copies a job left (a job discarded, or a segment gone before the swap). */
void sl_clean_remove_copies(const sl_clean_seg_t *cs);
/* Cancels a job that may be running: once this returns, the run creates no file in the log's
 * directory (so the directory may be removed), and it stops at its next batch with
 * rc = SL_ERR_INVAL. Copies it made before stay (the next open of the log removes them).
 * Thread: the log's. */
void sl_clean_job_cancel(sl_clean_job_t *job);
/* Frees a job (its copies stay: remove them first if they are not swapped in). NULL is a no-op. */
void sl_clean_job_free(sl_clean_job_t *job);

/* ---- the thread pool ---- */
typedef struct sl_cleaner sl_cleaner_t;

/* Starts `threads` cleaner threads (1..16). NULL on failure (logged). Thread: the logs' thread
 * owns it; submit, poll and free from there. */
sl_cleaner_t *sl_cleaner_new(int threads);
/* Queues a job made by sl_plog_clean_prepare. */
void sl_cleaner_submit(sl_cleaner_t *c, sl_clean_job_t *job);
/* Hands every finished job back: sl_plog_clean_finish for a job whose log is open; a job whose
 * log was closed is only freed (closing cancelled it: see sl_clean_job_cancel). Updates the
 * cleaner metrics. Returns the number of jobs finished. */
int sl_cleaner_poll(sl_cleaner_t *c);
/* Stops the threads (running jobs are cancelled, queued ones are not run) and hands every job
 * back as sl_cleaner_poll does. NULL is a no-op. */
void sl_cleaner_free(sl_cleaner_t *c);

#endif

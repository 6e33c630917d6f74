/* pstate.h -- producer state of one partition: per producer id, its epoch and the sequence
 * ranges and offsets of its last 5 batches (Kafka's max.in.flight for idempotence), so a retried
 * batch is answered with its original offsets instead of being written twice; the first offset of
 * its open transaction, if any (the last stable offset is the smallest of those); and the list of
 * aborted transactions (producer id, first offset, marker offset) that read_committed fetches
 * need to skip aborted records.
 *
 * Durability: the state is rebuilt at start-up from a snapshot (<partition dir>/producer.snapshot,
 * written after a sync, CRC'd, replaced atomically) plus a replay of the batch headers after the
 * snapshot's offset. Without a usable snapshot, the last two segments are replayed.
 * Thread: the partition's owner (the loop thread). */
#ifndef SL_PSTATE_H
#define SL_PSTATE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define SL_PSTATE_WINDOW 5

typedef struct sl_pstate sl_pstate_t;

typedef enum sl_seq_verdict {
    SL_SEQ_OK,        /* append it */
    SL_SEQ_DUPLICATE, /* already stored: answer with the original offsets */
    SL_SEQ_OUT_OF_ORDER,
    SL_SEQ_FENCED /* older epoch */
} sl_seq_verdict_t;

sl_pstate_t *sl_pstate_new(void);
void sl_pstate_free(sl_pstate_t *ps);

/* Judges a batch of producer `pid`/`epoch` carrying sequences [first_seq, last_seq]. For a
 * duplicate, *base_out and *last_out get the offsets it was stored at. */
sl_seq_verdict_t sl_pstate_check(const sl_pstate_t *ps, int64_t pid, int16_t epoch,
                                 int32_t first_seq, int32_t last_seq, int64_t *base_out,
                                 int64_t *last_out);
/* Records a stored batch (after the append, or while replaying the log at start-up). */
void sl_pstate_update(sl_pstate_t *ps, int64_t pid, int16_t epoch, int32_t first_seq,
                      int32_t last_seq, int64_t base_offset, int64_t last_offset);
/* Calls fn for every producer tracked: its epoch, the last sequence stored (-1: none) and the
 * first offset of its open transaction (-1: none). */
typedef void sl_pstate_each_fn(int64_t pid, int16_t epoch, int32_t last_seq, int64_t txn_first,
                               void *opaque);
void sl_pstate_each(const sl_pstate_t *ps, sl_pstate_each_fn *fn, void *opaque);
/* Number of producers tracked. */
size_t sl_pstate_count(const sl_pstate_t *ps);
/* The epoch recorded for `pid`, or -1 if unknown. */
int sl_pstate_epoch(const sl_pstate_t *ps, int64_t pid);

/* ---- transactions ---- */
/* A transactional batch of `pid` was stored at `offset`: opens its transaction here unless one is
 * already open. */
void sl_pstate_txn_begin(sl_pstate_t *ps, int64_t pid, int16_t epoch, int64_t offset);
/* First offset of `pid`'s open transaction, or -1. */
int64_t sl_pstate_txn_first(const sl_pstate_t *ps, int64_t pid);
/* A marker of `pid` (type SL_CONTROL_ABORT/COMMIT, epoch `epoch`) was stored at `offset`: closes
 * the open transaction (an abort is added to the aborted list) and raises the producer's epoch
 * to `epoch`, which fences batches of older epochs. */
void sl_pstate_txn_end(sl_pstate_t *ps, int64_t pid, int16_t epoch, int type, int64_t offset);
/* The first offset of the oldest open transaction, or -1 when none is open: the last stable
 * offset is this, or the high watermark. */
int64_t sl_pstate_first_unstable(const sl_pstate_t *ps);
/* Calls fn for each open transaction. */
void sl_pstate_each_open(const sl_pstate_t *ps,
                         void (*fn)(int64_t pid, int16_t epoch, int64_t first, void *opaque),
                         void *opaque);

typedef struct sl_aborted_txn {
    int64_t pid;
    int64_t first; /* first offset of the transaction */
    int64_t last;  /* offset of its abort marker */
} sl_aborted_txn_t;
/* Calls fn for every aborted transaction that overlaps [from, to) (Fetch's aborted list). */
void sl_pstate_aborted(const sl_pstate_t *ps, int64_t from, int64_t to,
                       void (*fn)(const sl_aborted_txn_t *a, void *opaque), void *opaque);
size_t sl_pstate_aborted_count(const sl_pstate_t *ps);
/* Forgets aborted transactions whose markers are below `log_start` (retention). */
void sl_pstate_trim(sl_pstate_t *ps, int64_t log_start);

/* The log was truncated at `cut` (a replica's diverged tail): forgets the batches, transaction
 * starts and aborted transactions at or past it, and opens again a producer's last
 * transaction whose marker was removed, so that a retry of a removed batch is written again
 * instead of answered as a duplicate at an offset that now holds another record. */
void sl_pstate_truncate(sl_pstate_t *ps, int64_t cut);

/* Applies one stored batch header (start-up replay); `control` as sl_plog_visit_fn's. */
struct sl_batch_info;
void sl_pstate_replay(sl_pstate_t *ps, const struct sl_batch_info *info, int control);

/* ---- snapshots ---- */
/* Writes the state as of `offset` (every batch below it applied, and durable) to
 * <dir>/producer.snapshot atomically. Returns SL_OK or SL_ERR_IO. */
SL_MUST_USE sl_err_t sl_pstate_save(const sl_pstate_t *ps, const char *dir, int64_t offset);
/* Loads <dir>/producer.snapshot: a new state and its offset in *offset_out, or NULL when the file
 * is absent or does not check out. */
sl_pstate_t *sl_pstate_load(const char *dir, int64_t *offset_out);

#endif

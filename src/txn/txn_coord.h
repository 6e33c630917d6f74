/* txn_coord.h -- the transaction coordinator: transactional ids, their producer id and epoch,
 * and the state of their current transaction (Kafka's TransactionCoordinator, single node).
 *
 *   Empty --AddPartitions/AddOffsets--> Ongoing --EndTxn--> PrepareCommit | PrepareAbort
 *   Prepare* --markers durable in every partition--> CompleteCommit | CompleteAbort
 *   Complete* / Empty --AddPartitions--> Ongoing (the next transaction)
 *
 * Durability: every state change is a record in <data-dir>/__transaction_state.log (a reclog;
 * the last record of an id wins). Records are appended without waiting, except that nothing may
 * depend on a decision (Prepare*) or a producer-id change (InitProducerId) before it is durable:
 * a decision's markers are written only once the log is synced up to it (t->decision_pos; the
 * broker's sync worker runs the fdatasync, and sl_txn_coord_poll, called after each sync, moves
 * the transaction on), and InitProducerId is answered only then (the handler waits for
 * *durable_pos). One sync covers every earlier record of the file. So after a crash: a
 * transaction found in Prepare* is completed again (markers are written where the partition
 * still has the transaction open, offsets re-committed), one found Ongoing is aborted with a
 * bumped epoch, and a partition whose open transaction the coordinator does not know (its
 * AddPartitions record was lost with the crash, so it never reached a decision) gets an abort
 * marker from the broker's recovery sweep.
 *
 * The coordinator does not touch partitions or groups itself: it calls the hooks, which the
 * broker implements (and unit tests fake). Thread: the broker's loop thread. */
#ifndef SL_TXN_COORD_H
#define SL_TXN_COORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/util.h"
#include "storage/reclog.h"

typedef enum sl_txn_state {
    SL_TXN_EMPTY,
    SL_TXN_ONGOING,
    SL_TXN_PREPARE_COMMIT,
    SL_TXN_PREPARE_ABORT,
    SL_TXN_COMPLETE_COMMIT,
    SL_TXN_COMPLETE_ABORT,
} sl_txn_state_t;

typedef struct sl_txn_part {
    char *topic;
    int32_t partition;
    int64_t marker; /* offset of this transaction's marker once written, else -1 */
    /* The log position that makes the record adding it durable (UINT64_MAX until that record is
     * appended, 0 when replayed): produce is refused before, see sl_txn_check_produce. */
    uint64_t added_pos;
} sl_txn_part_t;

typedef struct sl_txn_offset {
    char *group;
    char *topic;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;
    char *metadata; /* may be NULL; bytes, NUL-terminated */
    size_t metadata_len;
} sl_txn_offset_t;

typedef struct sl_txn {
    char *id;
    int64_t pid;
    int16_t epoch;
    int64_t prev_pid; /* before the last bump (KIP-360 retries), or -1 */
    int16_t prev_epoch;
    int32_t timeout_ms;
    sl_txn_state_t state;
    int64_t start_ms;      /* wall clock: when the current transaction began */
    int64_t update_ms;     /* wall clock: last change */
    uint64_t end_ns;       /* monotonic: when EndTxn arrived (commit latency) */
    uint64_t decision_pos; /* Prepare*: the log position that makes the decision durable */
    int64_t repl_end;      /* cluster: replicated-partition offset of the last record, or 0 */
    int64_t decision_end;  /* cluster: Prepare*: repl_end of the decision's record */
    uint64_t offsets_pos;  /* PrepareCommit: the offsets store's position of its offsets */
    bool applied;          /* Prepare*: markers written (and offsets committed) */
    int apply_err;         /* Kafka error of writing them, or 0 */
    sl_txn_part_t *parts;
    size_t n_parts, cap_parts;
    char **groups;
    size_t n_groups;
    sl_txn_offset_t *offsets; /* pending until the commit (TxnOffsetCommit) */
    size_t n_offsets, cap_offsets;
    size_t at; /* the coordinator's bookkeeping: index in its array */
} sl_txn_t;

typedef struct sl_txn_hooks {
    /* Writes a marker (SL_CONTROL_COMMIT/ABORT) for pid/epoch into topic/partition when the
     * partition has a transaction of pid open: *offset_out gets its offset, or -1 when nothing
     * needed writing. Returns 0 or a Kafka error code. */
    int (*write_marker)(void *opaque, const char *topic, int32_t partition, int64_t pid,
                        int16_t epoch, int type, int64_t *offset_out);
    /* Whether the partition holds `offset` durably (or no longer exists). */
    bool (*durable)(void *opaque, const char *topic, int32_t partition, int64_t offset);
    /* Commits the pending offsets of a committing transaction: 0 or a Kafka error, and in
     * *pos_out what `offsets_durable` must reach before they count as durable. */
    int (*commit_offsets)(void *opaque, const sl_txn_t *t, uint64_t *pos_out);
    bool (*offsets_durable)(void *opaque, uint64_t pos);
    /* A new producer id: 0 or a Kafka error. */
    int (*alloc_pid)(void *opaque, int64_t *pid_out);
    /* A transaction reached CompleteCommit/CompleteAbort `latency_us` after its EndTxn. */
    void (*completed)(void *opaque, const sl_txn_t *t, bool commit, uint64_t latency_us);
    void *opaque;
    /* Cluster mode (both NULL on a single node): every record the coordinator writes for id
     * (`rec`, the log record above) is also appended to the id's replicated partition; returns 0
     * with *end_out the offset that must be replicated for it to count, or a Kafka error. A
     * decision's markers wait until `replicated` says that offset is on every in-sync replica. */
    int (*replicate)(void *opaque, const char *id, const uint8_t *rec, size_t len,
                     int64_t *end_out);
    bool (*replicated)(void *opaque, const char *id, int64_t end);
} sl_txn_hooks_t;

typedef struct sl_txn_coord sl_txn_coord_t;

/* Opens the coordinator and replays its log (no recovery yet: see sl_txn_coord_recover). */
sl_txn_coord_t *sl_txn_coord_new(const char *data_dir, int64_t max_timeout_ms,
                                 const sl_txn_hooks_t *hooks, char *err);
void sl_txn_coord_free(sl_txn_coord_t *tc);
/* Completes transactions found in Prepare*, aborts those found Ongoing (after a crash or a
 * restart). Call once the partitions are open. */
void sl_txn_coord_recover(sl_txn_coord_t *tc, int64_t now_ms);
/* Periodic work: aborts transactions that outlived their timeout (bumping the epoch, so the
 * producer is fenced), completes those whose markers became durable, expires ids idle longer
 * than `id_expiration_ms`, compacts the log. Returns the number of transactions aborted. */
int sl_txn_coord_tick(sl_txn_coord_t *tc, int64_t now_ms, int64_t id_expiration_ms);

/* Moves prepared transactions on (after each sync): writes the markers of decisions that have
 * become durable, completes those whose markers and offsets have. */
void sl_txn_coord_poll(sl_txn_coord_t *tc, int64_t now_ms);
/* Cluster mode: a record read back from a replicated partition (a new leader loading it), with
 * the same effect as at start-up replay. SL_ERR_CORRUPT for a record that does not decode. */
SL_MUST_USE sl_err_t sl_txn_coord_replay(sl_txn_coord_t *tc, const uint8_t *rec, size_t len);
/* Drops, without writing anything, every transactional id `match` selects (its partition moved
 * to another coordinator, or is about to be loaded again). */
void sl_txn_coord_forget(sl_txn_coord_t *tc, bool (*match)(const char *id, void *opaque),
                         void *opaque);
/* sl_txn_coord_recover restricted to the ids `match` selects (NULL: all): after a load. */
void sl_txn_coord_recover_some(sl_txn_coord_t *tc, int64_t now_ms,
                               bool (*match)(const char *id, void *opaque), void *opaque);
/* Encodes a transaction's record (the form sl_txn_coord_replay reads), for tests. */
void sl_txn_encode(const sl_txn_t *t, sl_buf_t *out);

/* Syncs the log, blocking, and polls (start-up, shutdown, tests). */
SL_MUST_USE sl_err_t sl_txn_coord_flush(sl_txn_coord_t *tc, int64_t now_ms);
/* The transaction log (see storage/reclog.h), for the broker's sync worker. */
sl_reclog_t *sl_txn_coord_log(sl_txn_coord_t *tc);

/* InitProducerId for a transactional id. `req_pid`/`req_epoch` (-1 when absent) are KIP-360's
 * current id and epoch. Returns 0 with the id and epoch set, or a Kafka error (for an id with an
 * open transaction: the transaction is aborted and CONCURRENT_TRANSACTIONS asks for a retry).
 * The answer may go out once the log is durable up to *durable_pos (0: nothing to wait for). */
int sl_txn_init_pid(sl_txn_coord_t *tc, sl_str_t id, int32_t timeout_ms, int64_t req_pid,
                    int16_t req_epoch, int64_t now_ms, int64_t *pid_out, int16_t *epoch_out,
                    uint64_t *durable_pos);
/* The transaction of a transactional id, or NULL. */
const sl_txn_t *sl_txn_get(sl_txn_coord_t *tc, sl_str_t id);

/* Looks up the transaction of a request naming id/pid/epoch and completes it if its markers
 * are durable. Returns it, or NULL with *err set (INVALID_PRODUCER_ID_MAPPING, PRODUCER_FENCED
 * (the caller maps it to INVALID_PRODUCER_EPOCH for old versions), CONCURRENT_TRANSACTIONS). */
sl_txn_t *sl_txn_find(sl_txn_coord_t *tc, sl_str_t id, int64_t pid, int16_t epoch, int *err);
/* sl_txn_find for a request that adds to the transaction (partitions, offsets): also refuses,
 * with CONCURRENT_TRANSACTIONS, while the previous transaction's markers are not yet durable. */
sl_txn_t *sl_txn_find_to_add(sl_txn_coord_t *tc, sl_str_t id, int64_t pid, int16_t epoch, int *err);
/* Decided (Prepare*) but not yet complete: its markers are not all durable. */
bool sl_txn_prepared(const sl_txn_t *t);
/* Starts a transaction if none is open (Empty/Complete* -> Ongoing). */
void sl_txn_begin(sl_txn_t *t, int64_t now_ms);
void sl_txn_add_part(sl_txn_t *t, sl_str_t topic, int32_t partition);
void sl_txn_add_group(sl_txn_t *t, sl_str_t group);
/* Records a pending offset (replaces an earlier one of the same group/topic/partition). */
void sl_txn_add_offset(sl_txn_t *t, sl_str_t group, sl_str_t topic, int32_t partition,
                       int64_t offset, int32_t leader_epoch, sl_str_t metadata);
/* Appends the transaction's state to the log (durable with the next sync; a sync is asked for
 * when it adds partitions). */
SL_MUST_USE sl_err_t sl_txn_persist(sl_txn_coord_t *tc, sl_txn_t *t);
/* EndTxn: records the decision; once it is durable, sl_txn_coord_poll writes the markers and
 * commits the offsets, and the transaction completes when those are durable (then
 * sl_txn_prepared turns false and t->apply_err tells how it went). Returns 0 or a Kafka error
 * (INVALID_TXN_STATE for an EndTxn that contradicts the state, KAFKA_STORAGE_ERROR). */
int sl_txn_end(sl_txn_coord_t *tc, sl_txn_t *t, bool commit, int64_t now_ms);

/* Whether a transactional batch of pid/epoch may go to topic/partition: 0, or
 * INVALID_PRODUCER_EPOCH, INVALID_PRODUCER_ID_MAPPING, INVALID_TXN_STATE (also while the record
 * that added the partition is not durable: the broker answers AddPartitionsToTxn only then, and
 * a batch on disk before it could be taken for the previous transaction's after a crash). */
int sl_txn_check_produce(sl_txn_coord_t *tc, int64_t pid, int16_t epoch, sl_str_t topic,
                         int32_t partition);
/* The transaction of producer `pid` if it is open (Ongoing or Prepare*), else NULL. */
const sl_txn_t *sl_txn_of_pid(sl_txn_coord_t *tc, int64_t pid);
/* Whether an undecided or committing transaction holds a pending offset for this group
 * partition (OffsetFetch require_stable). */
bool sl_txn_offset_pending(sl_txn_coord_t *tc, sl_str_t group, sl_str_t topic, int32_t partition);
/* Transactions not yet complete (Ongoing or Prepare*). */
size_t sl_txn_open_count(const sl_txn_coord_t *tc);
size_t sl_txn_count(const sl_txn_coord_t *tc);
/* The i-th transactional id (any order), i < sl_txn_count, for listing them. */
const sl_txn_t *sl_txn_at(const sl_txn_coord_t *tc, size_t i);
const char *sl_txn_state_name(sl_txn_state_t s);

#endif

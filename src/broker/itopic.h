/* itopic.h -- what a cluster's replicated internal topics (__consumer_offsets in
 * offsets_topic.c, __transaction_state in txn_topic.c) have in common, Kafka's design for both:
 *
 * - a key (a group id, a transactional id) belongs to partition hash(key) % n, Kafka's hash, and
 *   its coordinator is that partition's leader;
 * - the quorum leader creates the topic (compacted) once as many brokers as its replication
 *   factor are live;
 * - a broker that comes to lead a partition drops what it held for the partition's keys and reads
 *   the partition back from its log start to the log end it had then (the new leader came from
 *   the ISR: everything an old leader acknowledged is there), at most one chunk per loop turn;
 *   until the load is complete its keys get COORDINATOR_LOAD_IN_PROGRESS;
 * - a change is a batch of records appended to the key's partition, answered once the high
 *   watermark passes it (the acks=all path).
 * Each topic's module keeps its record format and what loading a record does (sl_itopic_ops_t).
 * Thread: the broker's loop thread. */
#ifndef SL_ITOPIC_H
#define SL_ITOPIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/broker.h"
#include "common/buf.h"
#include "storage/batch.h"

/* The partition of `key` among `n` (n >= 1): Kafka's abs(key.hashCode()) % n, the same for
 * ASCII keys (sluice hashes bytes, Java UTF-16 units). */
int32_t sl_itopic_partition_for(sl_str_t key, int32_t n);

/* The keys of partition `index` of `n`, for the coordinators' forget/recover calls. */
typedef struct sl_itopic_match {
    int32_t index, n;
} sl_itopic_match_t;
/* Whether `key` belongs to the partition of `match` (an sl_itopic_match_t). */
bool sl_itopic_in_partition(const char *key, void *match);

/* What one internal topic's module does with its partitions. */
typedef struct sl_itopic_ops {
    const char *name; /* the topic */
    const char *fac;  /* log facility */
    const char *what; /* what its partitions hold, in log lines ("offsets") */
    /* A load of partition m->index starts: drop what this broker holds for its keys (it may be
     * stale or never have been replicated). */
    void (*forget)(sl_broker_t *b, sl_itopic_match_t *m);
    /* Loading: one record with a value, at `offset` (not before the load's start) of the
     * uncompressed data batch `info` of partition `index`. */
    void (*record)(sl_broker_t *b, int32_t index, const sl_batch_info_t *info, int64_t offset,
                   sl_bytes_t value);
    /* Loading: a marker (SL_CONTROL_COMMIT / _ABORT) of producer pid (>= 0) in partition
     * `index`. NULL: markers are skipped. */
    void (*marker)(sl_broker_t *b, int32_t index, int64_t pid, int type);
    /* The load of partition m->index is complete. NULL: nothing more to do. */
    void (*loaded)(sl_broker_t *b, sl_itopic_match_t *m);
    /* This broker no longer leads partition m->index, which it had loaded or was loading. NULL:
     * nothing to do. */
    void (*unloaded)(sl_broker_t *b, sl_itopic_match_t *m);
} sl_itopic_ops_t;

/* A partition's load state. */
typedef struct sl_itopic_part {
    int32_t loaded_epoch;  /* leader epoch the coordinator's state was loaded under; -1 none */
    int32_t loading_epoch; /* epoch of the load under way; -1 none */
    int64_t next, end;     /* the load's next offset and its target */
    uint64_t retry_ms;     /* after a failed read: not before this (monotonic) */
} sl_itopic_part_t;

/* One internal topic's state (embedded in its module's; _init/_fini). */
typedef struct sl_itopic {
    const sl_itopic_ops_t *ops;
    sl_itopic_part_t *parts; /* grown to the topic's partition count */
    int32_t n_parts;
    uint64_t next_create_ms; /* the next attempt at creating the topic (monotonic) */
} sl_itopic_t;

void sl_itopic_init(sl_itopic_t *it, const sl_itopic_ops_t *ops);
void sl_itopic_fini(sl_itopic_t *it);

/* The topic, or NULL before it exists. */
sl_topic_t *sl_itopic_topic(sl_broker_t *b, const sl_itopic_t *it);
/* The key's partition, or NULL (no topic yet). */
sl_partition_t *sl_itopic_part(sl_broker_t *b, const sl_itopic_t *it, sl_str_t key);

/* Whether this broker coordinates `key` now: KERR_NONE (always on a single node),
 * COORDINATOR_NOT_AVAILABLE (the topic does not exist yet), NOT_COORDINATOR (another broker
 * leads the key's partition, or none does) or COORDINATOR_LOAD_IN_PROGRESS. */
int16_t sl_itopic_check(sl_broker_t *b, sl_itopic_t *it, sl_str_t key);
/* Whether a record for `key` could be appended now: KERR_NONE (single node), NOT_COORDINATOR or
 * NOT_ENOUGH_REPLICAS (asked before the coordinator's memory changes). */
int16_t sl_itopic_writable(sl_broker_t *b, const sl_itopic_t *it, sl_str_t key);
/* FindCoordinator: the leader of the key's partition. KERR_NONE with its id and address, or
 * COORDINATOR_NOT_AVAILABLE (no topic yet, no live leader). */
int16_t sl_itopic_coordinator(sl_broker_t *b, const sl_itopic_t *it, sl_str_t key, int32_t *node,
                              char *host, size_t host_len, int32_t *port);
/* Whether partition p (of this topic) is led by this broker and loaded under its epoch. */
bool sl_itopic_loaded(sl_itopic_t *it, sl_partition_t *p);

/* Records gathered for one append. */
typedef struct sl_itopic_batch {
    sl_buf_t recs; /* the records (Kafka's record encoding) */
    int32_t n;
    int64_t now_ms; /* the batch's timestamps */
} sl_itopic_batch_t;
void sl_itopic_batch_add(sl_itopic_batch_t *bt, const sl_buf_t *key, const sl_buf_t *value);
void sl_itopic_batch_fini(sl_itopic_batch_t *bt);
/* The record batch around bt's records (base offset 0: the append assigns it), uncompressed,
 * without sequence numbers; `pid` -1 for none, `transactional` sets the attribute bit. */
void sl_itopic_build_batch(const sl_itopic_batch_t *bt, int64_t pid, int16_t epoch,
                           bool transactional, sl_buf_t *out);
/* Calls fn(ctx, offset delta, value) for each of the `n` records in `recs` (Kafka's record
 * encoding: what sl_itopic_batch_t holds and a batch carries after its header) that has a
 * value. A record damaged inside is skipped; a damaged length ends the walk. */
void sl_itopic_each_value(const uint8_t *recs, size_t len, int32_t n,
                          void (*fn)(void *ctx, int32_t delta, sl_bytes_t value), void *ctx);

/* Appends bt's records as one batch to the key's partition, which this broker must lead
 * (check first): KERR_NONE with the partition and the end offset to wait for
 * (sl_durable_wait_add_part), NOT_COORDINATOR, NOT_ENOUGH_REPLICAS (fewer in-sync replicas than
 * min.insync.replicas: nothing appended) or KAFKA_STORAGE_ERROR. An empty batch appends nothing
 * (*p_out, *end_out unset). With pid >= 0 the batch is transactional, of pid/epoch:
 * PRODUCER_FENCED for an epoch older than the partition's, and the partition's producer state
 * has the transaction open once it is appended (its marker finds it). */
int16_t sl_itopic_append(sl_broker_t *b, const sl_itopic_t *it, sl_str_t key,
                         const sl_itopic_batch_t *bt, int64_t pid, int16_t epoch,
                         sl_partition_t **p_out, int64_t *end_out);

/* Loop work (cluster): creates the topic with `partitions` partitions and replication factor
 * min(rf, voters) when this broker is the quorum leader and that many brokers are live; once it
 * exists, loads (a chunk per call) the partitions this broker has come to lead and unloads those
 * it no longer leads. */
void sl_itopic_poll(sl_broker_t *b, sl_itopic_t *it, int32_t partitions, int64_t rf);

#endif

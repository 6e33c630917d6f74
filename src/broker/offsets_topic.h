/* offsets_topic.h -- a cluster's committed offsets in the replicated internal topic
 * __consumer_offsets (Kafka's design; single-node brokers keep group/offset_store.c's file).
 *
 * The topic has offsets.topic.num.partitions partitions and replication factor
 * min(offsets.topic.replication.factor, voters); the quorum leader creates it once that many
 * brokers are live. A group belongs to partition hash(group) % n (Kafka's: the Java hash of the
 * id, sign bit cleared; sl_itopic_partition_for) and its coordinator is that partition's leader.
 * A commit is a record there (group/offset_store.h's replicated form; a commit request's records
 * are one sl_itopic_batch_t), answered once the high watermark passes it (the acks=all path).
 * A broker that becomes a partition's leader first drops what it holds for that partition's groups
 * and reads the partition back into the group coordinator; until then the groups get
 * COORDINATOR_LOAD_IN_PROGRESS. Group membership is not replicated: members rejoin the new
 * coordinator, as in Kafka after a failover. The partitions, their loading and the append are
 * itopic.h's, shared with __transaction_state.
 * Thread: the broker's loop thread. */
#ifndef SL_OFFSETS_TOPIC_H
#define SL_OFFSETS_TOPIC_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/broker.h"
#include "broker/itopic.h"
#include "common/buf.h"

#define SL_OFFSETS_TOPIC "__consumer_offsets"

/* Whether this broker may serve `group` now: KERR_NONE (always on a single node),
 * COORDINATOR_NOT_AVAILABLE (the topic does not exist yet), NOT_COORDINATOR (another broker
 * leads the group's partition, or none does) or COORDINATOR_LOAD_IN_PROGRESS. */
int16_t sl_otopic_check(sl_broker_t *b, sl_str_t group);

/* FindCoordinator: the leader of the group's partition. KERR_NONE with its id and address, or
 * COORDINATOR_NOT_AVAILABLE (no topic yet, no live leader). */
int16_t sl_otopic_coordinator(sl_broker_t *b, sl_str_t group, int32_t *node, char *host,
                              size_t host_len, int32_t *port);

/* Whether a commit for `group` could be appended now: KERR_NONE, NOT_COORDINATOR or
 * NOT_ENOUGH_REPLICAS (asked before the coordinator's memory changes). */
int16_t sl_otopic_writable(sl_broker_t *b, sl_str_t group);
/* Appends the batch to the group's partition (which this broker must lead: check first):
 * KERR_NONE with the partition and the end offset to wait for (sl_durable_wait_add_part),
 * NOT_COORDINATOR, NOT_ENOUGH_REPLICAS (fewer in-sync replicas than min.insync.replicas:
 * nothing appended) or KAFKA_STORAGE_ERROR. */
int16_t sl_otopic_append(sl_broker_t *b, sl_str_t group, sl_itopic_batch_t *bt,
                         sl_partition_t **p_out, int64_t *end_out);

/* Cluster, TxnOffsetCommit: appends the batch as a transactional batch of pid/epoch to the
 * group's partition (errors as sl_otopic_append, and PRODUCER_FENCED for an epoch older than
 * the partition's) and holds its changes until that transaction's marker in the partition. */
int16_t sl_otopic_append_txn(sl_broker_t *b, sl_str_t group, sl_itopic_batch_t *bt, int64_t pid,
                             int16_t epoch, sl_partition_t **p_out, int64_t *end_out);
/* A marker was written to partition p (sl_partition_write_marker): for an offsets partition,
 * the held changes of pid are applied (SL_CONTROL_COMMIT) or dropped. */
void sl_otopic_marker(sl_broker_t *b, sl_partition_t *p, int64_t pid, int type);
/* Whether p may take a marker now: false for an offsets partition this broker has not finished
 * loading (the held offsets a marker resolves are not all known yet). */
bool sl_otopic_loaded(sl_broker_t *b, sl_partition_t *p);
/* Whether a transaction holds an uncommitted offset for this group partition (OffsetFetch's
 * require_stable). */
bool sl_otopic_pending(sl_broker_t *b, sl_str_t group, sl_str_t topic, int32_t partition);

/* Loop work (before-sleep): creates the topic when this broker is the quorum leader and enough
 * brokers are live, and loads the partitions this broker has just come to lead. */
void sl_otopic_poll(sl_broker_t *b);
/* Frees the state (broker shutdown). */
void sl_otopic_free(sl_broker_t *b);

#endif

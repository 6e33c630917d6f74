/* txn_topic.h -- a cluster's transaction state in the replicated internal topic
 * __transaction_state (Kafka's design; a single-node broker keeps txn/txn_coord.c's file alone).
 *
 * The topic has transaction.state.log.num.partitions partitions and replication factor
 * min(transaction.state.log.replication.factor, voters); the quorum leader creates it once that
 * many brokers are live. A transactional id belongs to partition hash(id) % n (the same hash as
 * groups: Kafka's) and its coordinator is that partition's leader. Every record the coordinator
 * writes for an id (txn_coord.c's record, keyed by the id) is appended there, and what depends
 * on it (the answer, a decision's markers) waits until the high watermark passes it. A broker
 * that becomes a partition's leader drops what it held for the partition's ids, reads the
 * partition back into its coordinator (COORDINATOR_LOAD_IN_PROGRESS meanwhile), then completes
 * the transactions it finds prepared; open ones are kept until their producer ends them or
 * their timeout aborts them. A broker that stops leading a partition forgets its ids. The
 * partitions, their loading and the append are itopic.h's, shared with __consumer_offsets.
 * Thread: the broker's loop thread. */
#ifndef SL_TXN_TOPIC_H
#define SL_TXN_TOPIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/broker.h"

#define SL_TXN_TOPIC "__transaction_state"

/* Whether this broker coordinates `id` now: KERR_NONE (always on a single node),
 * COORDINATOR_NOT_AVAILABLE (no topic yet), NOT_COORDINATOR or COORDINATOR_LOAD_IN_PROGRESS. */
int16_t sl_ttopic_check(sl_broker_t *b, sl_str_t id);
/* Whether a record for `id` could be appended now: KERR_NONE, NOT_COORDINATOR or
 * NOT_ENOUGH_REPLICAS (asked before the coordinator's memory changes). */
int16_t sl_ttopic_writable(sl_broker_t *b, sl_str_t id);
/* FindCoordinator(TRANSACTION): the leader of the id's partition. KERR_NONE with its id and
 * address, or COORDINATOR_NOT_AVAILABLE. */
int16_t sl_ttopic_coordinator(sl_broker_t *b, sl_str_t id, int32_t *node, char *host,
                              size_t host_len, int32_t *port);
/* The id's partition (for a wait on its high watermark), or NULL. */
sl_partition_t *sl_ttopic_part(sl_broker_t *b, sl_str_t id);

/* The coordinator's hooks (txn_coord.h's replicate / replicated). */
int sl_ttopic_replicate(void *broker, const char *id, const uint8_t *rec, size_t len,
                        int64_t *end_out);
bool sl_ttopic_replicated(void *broker, const char *id, int64_t end);

/* Loop work (before-sleep): creates the topic (quorum leader, enough live brokers), loads the
 * partitions this broker has come to lead and forgets those it no longer leads. */
void sl_ttopic_poll(sl_broker_t *b);
void sl_ttopic_free(sl_broker_t *b);

#endif

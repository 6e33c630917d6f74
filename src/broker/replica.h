/* replica.h -- replicated partitions in a cluster: the leader's side (followers' log end
 * offsets, the high watermark, acks=all, ISR changes) and the follower's side (one fetcher per
 * leader broker, verbatim appends, truncation by leader epoch).
 *
 * Roles come from the quorum's image (mstate.c): after every committed metadata change the loop
 * refreshes each partition's leader, leader epoch, replicas and ISR (sl_replica_refresh). A
 * partition this broker leads takes produces and consumer fetches; one it follows is fetched
 * from its leader; any other state (no leader, not a replica, this broker not registered yet in
 * this incarnation) serves nothing and answers NOT_LEADER_OR_FOLLOWER.
 *
 * Followers fetch with Kafka's Fetch (v4, replica_id = this node id): one request stream per
 * leader broker covering every partition followed there. A follower appends what it got,
 * waits for the group commit to sync it, and only then sends its next fetch, whose
 * fetch_offset is therefore its durable end: the leader counts a follower's log end offset
 * (LEO) as on disk. High watermark (HW) = min(leader LEO, LEO of every other ISR member);
 * consumers read below it, acks=all is answered when the leader has the batch on disk and the
 * HW is past it. Before fetching a partition under a new leader epoch, a follower with data asks
 * the leader where its last epoch ends (a sluice-internal request, SL_CLUSTER_OP_EPOCH_END, with
 * the semantics of OffsetForLeaderEpoch, KIP-101/279) and truncates what diverges.
 *
 * Without a cluster none of this exists: p->repl is NULL and every function here answers as a
 * single node does (HW = LEO, no checks).
 *
 * Thread: the loop thread, except the fetcher threads, which only move bytes over sockets and
 * touch nothing but their own fetcher record (replica.c). */
#ifndef SL_REPLICA_H
#define SL_REPLICA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/broker.h"
#include "broker/metalog.h"

typedef struct sl_repl_follower {
    int32_t id;
    int64_t leo;          /* last fetch_offset seen from it, -1 until it fetched this epoch */
    int64_t caught_up_ms; /* monotonic ms it was last caught up (Kafka's lastCaughtUpTime) */
    int64_t prev_leo;     /* the leader's LEO when it answered this follower's previous fetch */
    int64_t prev_ms;      /* and when */
} sl_repl_follower_t;

typedef struct sl_repl_epoch {
    int32_t epoch;
    int64_t start; /* first offset written under it */
} sl_repl_epoch_t;

/* Per partition, cluster mode only (p->repl). */
typedef struct sl_replica {
    sl_meta_assign_t a; /* as the image has it */
    bool leading;       /* this broker leads it now */
    bool following;     /* this broker fetches it from a.leader */
    int64_t hw;
    sl_repl_follower_t fol[SL_META_MAX_REPLICAS];
    int32_t n_fol;
    int64_t isr_sent_ms; /* monotonic ms an ISR change was last proposed (pending) */
    int32_t pend_isr[SL_META_MAX_REPLICAS]; /* that proposal's ISR, until the image's changes */
    int32_t n_pend_isr;                     /* 0: none pending */
    bool need_epoch_check; /* follower: ask the leader where our last epoch ends first */
    sl_repl_epoch_t *ep;   /* leader epochs in the log, oldest first */
    size_t n_ep, cap_ep;
} sl_replica_t;

/* Re-reads every partition's placement from the image and adjusts roles, fetchers and the
 * HW. Call after committed metadata changes are applied (cluster.c). */
void sl_replica_refresh(sl_broker_t *b);
/* Loop work: handles fetch responses, sends next fetches once appends are durable, shrinks the
 * ISR of lagging followers. Called from before-sleep. */
void sl_replica_poll(sl_broker_t *b);
/* A group-commit sync of `p` completed (wait.c): its fetcher may be ready to fetch again. */
void sl_replica_synced(sl_broker_t *b, sl_partition_t *p);
/* Stops the fetcher threads (broker shutdown). */
void sl_replica_stop(sl_broker_t *b);
/* Frees a partition's replica state (partition close). */
void sl_replica_part_free(sl_partition_t *p);

/* Produce: KERR_NONE, NOT_LEADER_OR_FOLLOWER when this broker does not lead `p`, or
 * NOT_ENOUGH_REPLICAS for acks=all with fewer in-sync replicas than min.insync.replicas. */
int16_t sl_replica_produce_check(sl_broker_t *b, sl_topic_t *t, sl_partition_t *p, int16_t acks);
/* Produce: stamps the leader epoch on every batch of `records` (before the append). */
void sl_replica_stamp(sl_partition_t *p, uint8_t *records, size_t len);
/* After an append on the leader: the epoch cache and the HW move on. */
void sl_replica_appended(sl_broker_t *b, sl_partition_t *p, int64_t base);
/* acks=all: true once offsets below `end` are on every ISR member's disk (the leader's own
 * durability is checked by the caller), or when they never will be: *err is then
 * NOT_LEADER_OR_FOLLOWER (leadership lost) or NOT_ENOUGH_REPLICAS_AFTER_APPEND (the ISR fell
 * below min.insync.replicas). */
bool sl_replica_acked(sl_broker_t *b, sl_partition_t *p, int64_t end, int *err);
/* Fetch and ListOffsets: the high watermark (the LEO on a single node). */
int64_t sl_replica_hw(const sl_partition_t *p);
/* Fetch: for a consumer (replica_id < 0), NOT_LEADER_OR_FOLLOWER unless this broker leads p
 * and holds its lease (sl_cluster_lease_ok: a resumed or cut-off leader may be stale);
 * for follower `replica_id`, records its LEO (moving the HW, maybe proposing it back into the
 * ISR) and returns NOT_LEADER_OR_FOLLOWER unless this broker leads p and it is a replica. */
int16_t sl_replica_fetch_check(sl_broker_t *b, sl_partition_t *p, int32_t replica_id,
                               int64_t fetch_offset);
/* A client's current_leader_epoch (Fetch v9+, ListOffsets v4+, OffsetForLeaderEpoch v2+)
 * against this broker's view of the partition: KERR_NONE when it is -1 (not given), equal, or
 * on a single node; FENCED_LEADER_EPOCH when older (the client must refresh its metadata);
 * UNKNOWN_LEADER_EPOCH when newer (this broker has not learnt the new epoch yet). */
int16_t sl_replica_epoch_check(const sl_partition_t *p, int32_t current_leader_epoch);
/* OffsetForLeaderEpoch for a client (API 23): where `epoch` ends on this leader, with Kafka's
 * answers: (-1, -1) for epoch -1; on a single node the log is one epoch, 0. KERR_NONE or
 * NOT_LEADER_OR_FOLLOWER (also while this leader's lease has lapsed). */
int16_t sl_replica_client_epoch_end(sl_broker_t *b, sl_partition_t *p, int32_t epoch,
                                    int32_t *epoch_out, int64_t *end_out);
/* The leader's answer to "where does epoch `epoch` end" (KIP-101/279): the largest epoch it has
 * at or below `epoch` in *epoch_out and the first offset after it in *end_out (its LEO for its
 * latest epoch). KERR_NONE, or NOT_LEADER_OR_FOLLOWER. */
int16_t sl_replica_epoch_end(sl_partition_t *p, int32_t epoch, int32_t *epoch_out,
                             int64_t *end_out);
/* The effective min.insync.replicas of a topic: its override, or in a cluster min(2, RF). */
int32_t sl_replica_min_isr(const sl_topic_t *t, const sl_replica_t *r);

/* Pure helpers (unit-tested): the HW over the ISR from the leader's LEO and its followers, never
 * below `old_hw`; a follower not heard from this epoch holds the HW where it is. */
int64_t sl_repl_compute_hw(int64_t leader_leo, int64_t old_hw, const sl_meta_assign_t *a,
                           int32_t self, const sl_repl_follower_t *fol, int32_t n_fol);
/* The ISR the leader's HW must cover: the image's, plus every member of an ISR change it has
 * proposed that the image does not show yet (Kafka's "maximal ISR", KIP-497): the quorum may
 * have committed an added member already, and a failover may elect it, so records past its
 * log end must not be acknowledged. */
void sl_repl_maximal_isr(const sl_replica_t *r, sl_meta_assign_t *out);
/* Where a follower must cut its log: from its epoch list, its LEO and the leader's answer
 * (epoch, end) to its last epoch. */
int64_t sl_repl_truncate_point(const sl_repl_epoch_t *ep, size_t n_ep, int64_t leo,
                               int32_t leader_epoch, int64_t leader_end);
/* The leader's answer from its epoch list and LEO (see sl_replica_epoch_end). */
void sl_repl_epoch_end(const sl_repl_epoch_t *ep, size_t n_ep, int64_t leo, int32_t epoch,
                       int32_t *epoch_out, int64_t *end_out);

#endif

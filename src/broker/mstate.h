/* mstate.h -- the cluster's metadata image: the state machine the controller quorum replicates.
 *
 * Every node applies the same committed commands (framed metalog records, metalog.h) in the same
 * order, so every image is the same: registered brokers and whether their lease is held, topics
 * with their partitions, configs and placement (leader, leader epoch, replicas), dynamic broker
 * configs, client quotas and the producer-id high mark. A snapshot is the image written back as
 * records; restoring one replaces the image. The broker's own topic table is derived from the
 * same records on the loop thread (cluster.c); this image is what Metadata, placement and
 * `sluice cluster status` read.
 *
 * Thread: applied on the Raft thread, read from the loop and heartbeat threads: a mutex guards
 * it, and readers get copies. */
#ifndef SL_MSTATE_H
#define SL_MSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/metalog.h"
#include "common/buf.h"
#include "common/err.h"

#define SL_MSTATE_MAX_BROKERS 64

typedef struct sl_mstate sl_mstate_t;

/* A registered broker. Its registration record's address is "HOST:PORT" (the first listener's
 * advertised address: what Metadata and FindCoordinator give clients, and what other brokers
 * dial), or "HOST:PORT,IBHOST:IBPORT" when inter.broker.listener.name is another listener: other
 * brokers then dial the second. */
typedef struct sl_mbroker {
    int32_t id;
    char host[256]; /* for clients */
    int32_t port;
    char ib_host[256]; /* for other brokers (interbroker.h): host:port unless registered apart */
    int32_t ib_port;
    bool fenced; /* lease expired: offline until it registers again */
} sl_mbroker_t;

/* The registration address of `b` (the form above) into out (cap bytes). */
void sl_mbroker_addr(const sl_mbroker_t *b, char *out, size_t cap);
/* Sets b's addresses from a registration address; false (b unchanged) if it does not parse. */
bool sl_mbroker_parse_addr(sl_mbroker_t *b, const char *addr);

/* A partition reassignment in progress (AlterPartitionReassignments): where it goes and where it
 * came from. While it runs the partition's replicas are the target followed by the origin
 * replicas not in it; adding = target - origin, removing = origin - target. */
typedef struct sl_mreassign {
    int32_t n_target; /* 0: none in progress */
    int32_t target[SL_META_MAX_REPLICAS];
    int32_t n_origin;
    int32_t origin[SL_META_MAX_REPLICAS];
} sl_mreassign_t;

/* ElectLeaders' election types, as Kafka numbers them (SL_META_ELECT's value). */
enum { SL_ELECT_PREFERRED = 0, SL_ELECT_UNCLEAN = 1 };

sl_mstate_t *sl_mstate_new(void);
void sl_mstate_free(sl_mstate_t *ms);

/* Applies one command (one or more framed records). SL_OK, or SL_ERR_CORRUPT if it does not
 * decode (the records before the bad one are applied: the same on every node). */
SL_MUST_USE sl_err_t sl_mstate_apply(sl_mstate_t *ms, const uint8_t *cmd, size_t len);
/* Appends the whole image as framed records. */
void sl_mstate_snapshot(sl_mstate_t *ms, sl_buf_t *out);
/* Replaces the image with a snapshot; on SL_ERR_CORRUPT the image is left empty. */
SL_MUST_USE sl_err_t sl_mstate_restore(sl_mstate_t *ms, const uint8_t *p, size_t len);

/* Copies up to `max` registered brokers (by id order) into out; returns how many there are. */
size_t sl_mstate_brokers(sl_mstate_t *ms, sl_mbroker_t *out, size_t max);
/* The committed cluster id (SL_META_CLUSTER_ID) into out; false (and "") while there is none. */
bool sl_mstate_cluster_id(sl_mstate_t *ms, char *out, size_t cap);
/* Fills *out with broker `id`; false if it never registered. */
bool sl_mstate_broker(sl_mstate_t *ms, int32_t id, sl_mbroker_t *out);
/* Fills *out with the placement of topic/partition; false if it has none. */
bool sl_mstate_assign(sl_mstate_t *ms, const char *topic, int32_t partition, sl_meta_assign_t *out);
/* Copies the id of the incarnation of `topic` the image holds into id; false if it has none.
 * Of two creates of one name the first in the log holds it (mstate.c). */
bool sl_mstate_topic_id(sl_mstate_t *ms, const char *topic, uint8_t id[16]);
/* The partition count of `topic` in the image, or -1 if it has none. */
int32_t sl_mstate_partitions(sl_mstate_t *ms, const char *topic);
/* Places partitions [first, first+count) of `topic` round-robin across the live brokers (rf
 * replicas each, the first one the leader, epoch 0), starting after the partitions already
 * placed so leaders spread. SL_OK, or SL_ERR_LIMIT when fewer than rf brokers are live (*live
 * says how many are). `out` holds count entries. */
SL_MUST_USE sl_err_t sl_mstate_place(sl_mstate_t *ms, int32_t first, int32_t count, int32_t rf,
                                     sl_meta_assign_t *out, int32_t *live);
/* Number of live (registered, unfenced) brokers. */
int32_t sl_mstate_live(sl_mstate_t *ms);
/* Calls fn for each partition whose leader is not a live broker (under the image's lock: fn
 * must not call back into it). */
typedef void sl_mstate_part_fn(const char *topic, int32_t partition, const sl_meta_assign_t *a,
                               void *opaque);
void sl_mstate_each_offline(sl_mstate_t *ms, sl_mstate_part_fn *fn, void *opaque);
/* Calls fn for every placed partition (under the image's lock, as above). */
void sl_mstate_each_partition(sl_mstate_t *ms, sl_mstate_part_fn *fn, void *opaque);

/* AlterPartitionReassignments, before proposing SL_META_REASSIGN: KERR_NONE, or Kafka's error
 * with a message: UNKNOWN_TOPIC_OR_PARTITION, NO_REASSIGNMENT_IN_PROGRESS (cancel with none),
 * INVALID_REPLICA_ASSIGNMENT (empty, duplicate or not live brokers, too many replicas). The
 * apply checks the same again, so a stale check changes nothing. */
int16_t sl_mstate_check_reassign(sl_mstate_t *ms, const char *topic, int32_t partition,
                                 const int32_t *target, int32_t n, bool cancel, char *msg);
/* The reassignment of a partition: true with *a (its placement) and *r when one is in
 * progress. */
bool sl_mstate_reassignment(sl_mstate_t *ms, const char *topic, int32_t partition,
                            sl_meta_assign_t *a, sl_mreassign_t *r);
/* Calls fn for every reassignment in progress (under the image's lock). */
typedef void sl_mstate_ra_fn(const char *topic, int32_t partition, const sl_meta_assign_t *a,
                             const sl_mreassign_t *r, void *opaque);
void sl_mstate_each_reassign(sl_mstate_t *ms, sl_mstate_ra_fn *fn, void *opaque);
/* ElectLeaders, before proposing SL_META_ELECT: KERR_NONE when `type` (SL_ELECT_*) would elect
 * a leader now, else ELECTION_NOT_NEEDED, PREFERRED_LEADER_NOT_AVAILABLE,
 * ELIGIBLE_LEADERS_NOT_AVAILABLE (unclean needs the topic's unclean.leader.election.enable),
 * UNKNOWN_TOPIC_OR_PARTITION or INVALID_REQUEST, with a message. */
int16_t sl_mstate_check_elect(sl_mstate_t *ms, const char *topic, int32_t partition, int64_t type,
                              char *msg);

#endif

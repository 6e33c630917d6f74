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

typedef struct sl_mbroker {
    int32_t id;
    char host[256];
    int32_t port;
    bool fenced; /* lease expired: offline until it registers again */
} sl_mbroker_t;

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
/* Fills *out with broker `id`; false if it never registered. */
bool sl_mstate_broker(sl_mstate_t *ms, int32_t id, sl_mbroker_t *out);
/* Fills *out with the placement of topic/partition; false if it has none. */
bool sl_mstate_assign(sl_mstate_t *ms, const char *topic, int32_t partition, sl_meta_assign_t *out);
/* Copies the id of the incarnation of `topic` the image holds into id; false if it has none.
 * Of two creates of one name the first in the log holds it (mstate.c). */
bool sl_mstate_topic_id(sl_mstate_t *ms, const char *topic, uint8_t id[16]);
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

#endif

/* metalog.h -- the metadata log: topics, partition counts and topic configs as an append-only
 * record file, replayed at start-up. In a cluster (--controller-quorum) the same records are the
 * commands of the Raft-replicated controller log instead (broker/cluster.c): appending proposes
 * them to the quorum and every node applies them in log order. */
#ifndef SL_METALOG_H
#define SL_METALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "broker/config.h"
#include "common/buf.h"
#include "common/err.h"

typedef enum sl_meta_type {
    SL_META_TOPIC_CREATE = 1,   /* name, id, partitions, configs */
    SL_META_TOPIC_DELETE = 2,   /* name */
    SL_META_PARTITIONS = 3,     /* name, partitions: the new count; value: the count it was
                                   checked against (0 in records from before it was written):
                                   the cluster's image ignores it, and the placement in its
                                   command, when the count has changed meanwhile (mstate.c) */
    SL_META_CONFIGS = 4,        /* name, configs (replaces all overrides) */
    SL_META_PID_BLOCK = 5,      /* value: producer ids below it have been handed out */
    SL_META_QUOTA = 6,          /* configs: a client-quota entity and its values (handle_quota.c) */
    SL_META_BROKER_CONFIGS = 7, /* name ("" cluster default, or a node id), configs (replaces
                                   that scope's dynamic broker configs: dynconf.h) */
    SL_META_BROKER_REG = 8,     /* value: node id, name: HOST:PORT[,IB HOST:PORT] (mstate.h) */
    SL_META_BROKER_FENCE = 9,   /* value: node id whose lease expired (cluster) */
    SL_META_PLACEMENT = 10,     /* name, partitions: first partition, assign[]: leader, epoch and
                                   replicas of partitions first.. (cluster) */
    SL_META_SCRAM = 11,         /* name: a user; configs: mechanism and its salted credential
                                   (salt, iterations, stored_key, server_key in base64), or
                                   mechanism and deleted=true (handle_sasl.c) */
    SL_META_ACL = 12,           /* name: the resource; configs: one ACL binding (resource_type,
                                   pattern_type, principal, host, operation, permission_type as
                                   Kafka's names), plus deleted=true for a removal
                                   (handle_acl.c) */
    SL_META_ISR = 13,      /* name, partitions: the partition index, value: the leader epoch it was
                              decided under, assign[0]: leader, new epoch and the in-sync replicas
                              (in `replicas`); applied only while the partition is still at that
                              epoch (cluster: mstate.c) */
    SL_META_REASSIGN = 14, /* name, partitions: the partition index; assign[0].replicas: the
                              target replicas of an AlterPartitionReassignments (none: cancel);
                              in snapshots a second entry, assign[1].replicas, holds the origin
                              replicas and the pair is restored as it is (cluster: mstate.c) */
    SL_META_ELECT = 15,    /* name, partitions: the partition index, value: 0 preferred, 1
                              unclean (ElectLeaders; cluster: mstate.c) */
    SL_META_CLUSTER_ID = 16, /* name: the cluster id every member reports; proposed by a quorum
                                leader whose image has none, the first one committed holds
                                (cluster: mstate.c) */
} sl_meta_type_t;

#define SL_META_MAX_REPLICAS 16

/* Where one partition lives: its leader (-1: none), the leader's epoch, its replicas and,
 * in the image (not in PLACEMENT records), its in-sync replicas. */
typedef struct sl_meta_assign {
    int32_t leader;
    int32_t epoch;
    int32_t n_replicas;
    int32_t replicas[SL_META_MAX_REPLICAS];
    int32_t n_isr;
    int32_t isr[SL_META_MAX_REPLICAS];
} sl_meta_assign_t;

typedef struct sl_meta_rec {
    sl_meta_type_t type;
    const char *name;
    uint8_t id[16];
    int32_t partitions;
    const sl_kv_t *configs;
    size_t n_configs;
    int64_t value; /* SL_META_PID_BLOCK, SL_META_BROKER_REG, SL_META_BROKER_FENCE, SL_META_ISR,
                      SL_META_ELECT, SL_META_PARTITIONS */
    const sl_meta_assign_t *assign; /* SL_META_PLACEMENT: n_assign partitions from `partitions`;
                                       SL_META_ISR: one; SL_META_REASSIGN: one or two */
    size_t n_assign;
} sl_meta_rec_t;

typedef struct sl_metalog sl_metalog_t;
typedef void sl_meta_apply_fn(const sl_meta_rec_t *rec, void *opaque);

/* Opens <dir>/__metadata.log, replays every intact record through `apply` (in order), and
 * truncates a torn or corrupt tail. NULL on failure with the reason in err. */
sl_metalog_t *sl_metalog_open(const char *dir, sl_meta_apply_fn *apply, void *opaque, char *err);
/* Appends a record and fdatasyncs it before returning (metadata changes are rare and must be
 * durable before they are acknowledged). SL_OK or SL_ERR_IO/SL_ERR_NOSPACE. */
SL_MUST_USE sl_err_t sl_metalog_append(sl_metalog_t *ml, const sl_meta_rec_t *rec);
void sl_metalog_close(sl_metalog_t *ml);

/* Cluster mode: a metadata log whose appends are handed to `propose` (one framed record, as
 * sl_meta_encode writes it) instead of a file; the append succeeds when propose returns SL_OK,
 * which it does once the record is committed by the quorum. A topic's create also fails with
 * SL_ERR_EXISTS when another broker's create of the same name committed first. */
typedef sl_err_t sl_meta_propose_fn(const uint8_t *rec, size_t len, void *opaque);
sl_metalog_t *sl_metalog_new_proposer(sl_meta_propose_fn *propose, void *opaque);

/* Whether a topic record applies to the topic with this id: its id matches, or it has none
 * (records written before deletions carried the id). */
static inline bool sl_meta_names_topic(const sl_meta_rec_t *rec, const uint8_t id[16]) {
    static const uint8_t zero[16];
    return !memcmp(rec->id, zero, 16) || !memcmp(rec->id, id, 16);
}

/* Appends one framed record (length, CRC, body: the file format above) to `out`. */
void sl_meta_encode(const sl_meta_rec_t *rec, sl_buf_t *out);
/* Calls `apply` for each framed record in p[0..n), in order. SL_OK if every record checked out
 * and the bytes end exactly after the last one; SL_ERR_CORRUPT at the first that does not (the
 * records before it were applied). */
SL_MUST_USE sl_err_t sl_meta_each(const uint8_t *p, size_t n, sl_meta_apply_fn *apply,
                                  void *opaque);

#endif

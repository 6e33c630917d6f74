/* coordinator.h -- the group coordinator: consumer-group membership, rebalances and committed
 * offsets for the groups this broker coordinates (all of them, on a single node).
 *
 * The wire side (decoding requests, encoding responses) is in broker/handle_group.c; this module
 * owns the state machine, timers and durable state. Requests that answer later (JoinGroup waiting
 * for the other members, SyncGroup waiting for the leader) are parked on their member as opaque
 * pointers and completed through the callbacks in sl_coord_hooks_t.
 * Thread: the broker's loop thread. */
#ifndef SL_COORDINATOR_H
#define SL_COORDINATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/util.h"
#include "group/offset_store.h"
#include "net/loop.h"

typedef enum sl_group_state {
    SL_GROUP_EMPTY,
    SL_GROUP_PREPARING_REBALANCE,
    SL_GROUP_COMPLETING_REBALANCE,
    SL_GROUP_STABLE,
    SL_GROUP_DEAD,
} sl_group_state_t;

typedef struct sl_protocol {
    char *name;
    uint8_t *metadata;
    size_t metadata_len;
} sl_protocol_t;

typedef struct sl_member {
    char *member_id;
    char *instance_id; /* group.instance.id (static membership) or NULL */
    char *client_id;
    char *client_host;
    int32_t session_timeout_ms;
    int32_t rebalance_timeout_ms;
    sl_protocol_t *protocols;
    int n_protocols;
    uint8_t *assignment;
    size_t assignment_len;
    uint64_t deadline_ms; /* session expiry (monotonic) */
    uint64_t timer;
    void *join_req; /* parked JoinGroup, or NULL */
    void *sync_req; /* parked SyncGroup, or NULL */
    int16_t join_version;
    struct sl_group *group;
} sl_member_t;

typedef struct sl_offset_entry {
    char *topic;
    int32_t partition;
    sl_committed_t c;
} sl_offset_entry_t;

typedef struct sl_group {
    char *id;
    sl_group_state_t state;
    int32_t generation;
    char *protocol_type;
    char *protocol;
    char *leader;
    sl_member_t **members;
    int n_members;
    char **pending_ids; /* issued with MEMBER_ID_REQUIRED, not yet joined */
    int n_pending;
    sl_offset_entry_t *offsets;
    size_t n_offsets, cap_offsets;
    uint64_t rebalance_timer;
    uint64_t rebalance_deadline_ms; /* no join completes before this (initial delay) */
    struct sl_coord *coord;
} sl_group_t;

typedef struct sl_coord_hooks {
    /* A parked JoinGroup completes: err is a Kafka code (0 = joined this generation). */
    void (*join_done)(void *req, sl_group_t *g, sl_member_t *m, int16_t err);
    /* A parked SyncGroup completes with the member's assignment (or an error). */
    void (*sync_done)(void *req, sl_group_t *g, sl_member_t *m, int16_t err);
} sl_coord_hooks_t;

typedef struct sl_coord_conf {
    int64_t min_session_timeout_ms;     /* group.min.session.timeout.ms */
    int64_t max_session_timeout_ms;     /* group.max.session.timeout.ms */
    int64_t initial_rebalance_delay_ms; /* group.initial.rebalance.delay.ms */
    int64_t offsets_retention_ms;       /* offsets.retention.minutes, in ms */
} sl_coord_conf_t;

typedef struct sl_coord sl_coord_t;

sl_coord_t *sl_coord_new(sl_loop_t *loop, const char *data_dir, const sl_coord_conf_t *conf,
                         const sl_coord_hooks_t *hooks, char *err);
void sl_coord_free(sl_coord_t *co);

sl_group_t *sl_coord_find(sl_coord_t *co, sl_str_t id);
/* Calls fn for each live group. */
void sl_coord_each(sl_coord_t *co, void (*fn)(sl_group_t *g, void *opaque), void *opaque);
const char *sl_group_state_name(sl_group_state_t s);

/* JoinGroup. Returns a Kafka error to answer at once (with *member_out possibly set, for
 * MEMBER_ID_REQUIRED), or -1 when the request was parked on the member (answered through
 * join_done). */
typedef struct sl_join_args {
    sl_str_t group_id, member_id, instance_id, protocol_type, client_id, client_host;
    int32_t session_timeout_ms, rebalance_timeout_ms;
    int n_protocols;
    sl_str_t *proto_names;
    sl_bytes_t *proto_metadata;
    int16_t version;
} sl_join_args_t;
int sl_coord_join(sl_coord_t *co, const sl_join_args_t *a, void *req, sl_member_t **member_out,
                  sl_group_t **group_out);

/* SyncGroup: assignments are given by the leader only. Returns an error code, 0 with
 * *member_out set (answer now with its assignment), or -1 (parked; sync_done answers). */
typedef struct sl_sync_args {
    sl_str_t group_id, member_id, instance_id;
    int32_t generation;
    int n_assignments;
    sl_str_t *assign_members;
    sl_bytes_t *assign_data;
} sl_sync_args_t;
int sl_coord_sync(sl_coord_t *co, const sl_sync_args_t *a, void *req, sl_member_t **member_out);

int sl_coord_heartbeat(sl_coord_t *co, sl_str_t group_id, int32_t generation, sl_str_t member_id,
                       sl_str_t instance_id);
/* Removes one member (by member id, or by instance id when member_id is empty). */
int sl_coord_leave(sl_coord_t *co, sl_str_t group_id, sl_str_t member_id, sl_str_t instance_id);

/* Removes the members of `g` whose session has ended by `now_ms` (monotonic), as their session
 * timers will once they run: requests that judge membership (DeleteGroups, DescribeGroups) call
 * this first, so a member whose deadline has passed is gone for them even while its timer waits
 * behind other work in the loop (librdkafka's 0081 deletes a group right after its last static
 * member's session ended). The usual transition follows each removal. Returns how many went. */
int sl_coord_expire_due(sl_coord_t *co, sl_group_t *g, uint64_t now_ms);
/* Checks whether a commit from (generation, member) is allowed: 0 or a Kafka error. Simple
 * commits (generation -1, empty member id) are allowed for groups with no members. */
int sl_coord_check_commit(sl_coord_t *co, sl_str_t group_id, int32_t generation, sl_str_t member_id,
                          sl_str_t instance_id);
/* Stores one committed offset (appended, not yet durable). */
SL_MUST_USE sl_err_t sl_coord_commit(sl_coord_t *co, sl_str_t group_id, sl_str_t topic,
                                     int32_t partition, int64_t offset, int32_t leader_epoch,
                                     sl_str_t metadata, int64_t now_ms);
/* Makes every commit so far durable, blocking (start-up, tests); the broker instead waits for
 * sl_coord_log's position to become durable through its sync worker. */
SL_MUST_USE sl_err_t sl_coord_sync_store(sl_coord_t *co);
/* The committed-offsets record file (see storage/reclog.h). */
sl_reclog_t *sl_coord_log(sl_coord_t *co);
/* Rewrites the offsets file from the live state once it has grown 4x past its last rewrite. */
void sl_coord_maybe_compact(sl_coord_t *co);
/* The committed offset, or NULL. */
const sl_offset_entry_t *sl_coord_committed(sl_coord_t *co, sl_group_t *g, sl_str_t topic,
                                            int32_t partition);
/* Deletes a group (only when it has no members): 0, GROUP_ID_NOT_FOUND or NON_EMPTY_GROUP. */
int sl_coord_delete_group(sl_coord_t *co, sl_str_t group_id);
/* Deletes one committed offset (OffsetDelete): 0 or a Kafka error. */
int sl_coord_delete_offset(sl_coord_t *co, sl_group_t *g, sl_str_t topic, int32_t partition);
/* Offset retention (offsets.retention.minutes): drops the committed offsets of groups that have
 * had no members for the retention period since their last commit, and the groups themselves
 * once nothing is left. Returns the number of offsets dropped. `now_ms` is the wall clock. */
size_t sl_coord_expire_offsets(sl_coord_t *co, int64_t now_ms);
/* Groups for which `active(opaque, id)` is true keep their offsets past the retention period
 * (the consumer-protocol groups of cgroup.c, which have members the coordinator does not see). */
void sl_coord_set_active_fn(sl_coord_t *co, bool (*active)(void *opaque, const char *group),
                            void *opaque);
/* Whether any member of `g` subscribes to `topic` (consumer protocol metadata). */
bool sl_group_subscribes(const sl_group_t *g, sl_str_t topic);

/* Cluster mode (broker/offsets_topic.c): updates the in-memory offset only; the caller stores
 * the commit in the group's replicated offsets partition and answers once it is replicated. */
void sl_coord_commit_mem(sl_coord_t *co, sl_str_t group_id, sl_str_t topic, int32_t partition,
                         int64_t offset, int32_t leader_epoch, sl_str_t metadata, int64_t now_ms);
/* The callbacks that apply decoded offset records to this coordinator's state (loading a
 * replicated offsets partition, sl_offset_rec_apply). */
void sl_coord_replay_fns(sl_coord_t *co, sl_offset_replay_t *out);
/* Drops every committed offset of the groups `match` selects (before such a load, so that
 * offsets that were never replicated, or were deleted meanwhile, do not survive it). */
void sl_coord_forget_offsets(sl_coord_t *co, bool (*match)(const char *group, void *opaque),
                             void *opaque);

#endif

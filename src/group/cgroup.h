/* cgroup.h -- consumer groups of KIP-848's consumer protocol (ConsumerGroupHeartbeat): membership,
 * member epochs, the target assignment computed on the server, and reconciliation.
 *
 * These groups live beside the classic groups of coordinator.c; a group id names one kind or the
 * other, never both at once (the handlers check). Their committed offsets are kept by
 * coordinator.c's offset store like any group's. Membership is held in memory only: after a
 * restart a member's heartbeat is answered UNKNOWN_MEMBER_ID and it joins again with epoch 0, as
 * KIP-848 clients do after losing their coordinator.
 *
 * Epochs: the group epoch grows whenever the inputs of the assignment change (a member joins,
 * leaves or changes its subscription, or a subscribed topic's partition count changes). The
 * target assignment is recomputed when the group epoch is ahead of the assignment epoch. A member
 * moves to the assignment epoch only after it has revoked what it no longer owns in the target,
 * and it is given a partition only once no other member holds it (assigned or still being
 * revoked). So no partition is ever held by two members.
 * Time is passed in (monotonic ms). Thread: the broker's loop thread. */
#ifndef SL_CGROUP_H
#define SL_CGROUP_H

#include <regex.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/util.h"
#include "group/assignor.h"

/* What the groups need to know about topics (the broker's topic table, or a test's). */
typedef struct sl_cg_topic {
    const char *name;
    const uint8_t *id; /* 16 bytes */
    int32_t n_partitions;
} sl_cg_topic_t;

typedef struct sl_cg_topics {
    /* Calls fn for every topic. */
    void (*each)(void *opaque, void (*fn)(const sl_cg_topic_t *t, void *arg), void *arg);
    void *opaque;
} sl_cg_topics_t;

typedef enum sl_cgm_state {
    SL_CGM_STABLE,     /* holds its target at the assignment epoch */
    SL_CGM_UNREVOKED,  /* must first give up `revoking` */
    SL_CGM_UNRELEASED, /* at the assignment epoch, waiting for partitions others still hold */
} sl_cgm_state_t;

typedef struct sl_cg_member {
    char *id;
    char *instance_id; /* static membership, or NULL */
    char *rack_id, *client_id, *client_host;
    char **topics; /* subscribed topic names */
    int n_topics;
    char *regex; /* subscribed regex (POSIX extended), or NULL */
    regex_t re;
    /* Whether `regex` counts yet. As in Kafka, a regex new to the group is resolved
     * asynchronously: the heartbeat that brings it assigns the member's literal topics only, and
     * the next sl_cg_tick resolves it (a new group epoch: its topics come with the member's next
     * heartbeat). A regex some member of the group already had resolved counts at once. */
    bool regex_resolved;
    char *assignor; /* server assignor the member asked for, or NULL */
    int32_t epoch, prev_epoch;
    int32_t rebalance_timeout_ms;
    sl_cgm_state_t state;
    sl_tpset_t assigned; /* given to the member (and answered in its heartbeats) */
    sl_tpset_t revoking; /* to be released: still owned until its heartbeat drops them */
    sl_tpset_t target;   /* its share of the group's target assignment */
    int64_t session_deadline_ms;
    int64_t revoke_deadline_ms;
    bool left_static; /* left with epoch -2: the slot waits for its instance id to return */
} sl_cg_member_t;

typedef struct sl_cgroup {
    char *id;
    int32_t epoch;            /* group epoch */
    int32_t assignment_epoch; /* epoch of the target assignment */
    const char *assignor;     /* name of the assignor of the target assignment */
    uint64_t meta_hash;       /* subscribed topics' ids and partition counts, at the last check */
    sl_cg_member_t **members;
    int n_members;
} sl_cgroup_t;

typedef struct sl_cg_conf {
    int64_t session_timeout_ms;    /* group.consumer.session.timeout.ms */
    int64_t heartbeat_interval_ms; /* group.consumer.heartbeat.interval.ms */
    int64_t max_size;              /* group.consumer.max.size */
    const char *assignors;         /* group.consumer.assignors: "uniform,range"; first = default */
} sl_cg_conf_t;

typedef struct sl_cgroups sl_cgroups_t;

/* Returns NULL with `err` filled (SL_ERRLEN bytes) when the assignor list names an unknown
 * assignor or is empty. */
sl_cgroups_t *sl_cgroups_new(const sl_cg_conf_t *conf, const sl_cg_topics_t *topics, char *err);
void sl_cgroups_free(sl_cgroups_t *cgs);

sl_cgroup_t *sl_cg_find(sl_cgroups_t *cgs, sl_str_t id);
void sl_cg_each(sl_cgroups_t *cgs, void (*fn)(sl_cgroup_t *g, void *opaque), void *opaque);
/* Removes a group (with or without members). */
void sl_cg_delete(sl_cgroups_t *cgs, sl_cgroup_t *g);
/* "Empty", "Assigning", "Reconciling" or "Stable" (Kafka's ConsumerGroupState names). */
const char *sl_cg_state_name(const sl_cgroup_t *g);
sl_cg_member_t *sl_cg_member(sl_cgroup_t *g, sl_str_t member_id);

/* One ConsumerGroupHeartbeat. Null fields are {NULL, 0} strings, n_topics -1, owned NULL. */
typedef struct sl_cg_hb {
    sl_str_t group_id, member_id, instance_id, rack_id, regex, server_assignor;
    sl_str_t client_id, client_host;
    int32_t member_epoch, rebalance_timeout_ms;
    int32_t n_topics; /* -1: unchanged */
    const sl_str_t *topics;
    const sl_tpset_t *owned; /* NULL: unchanged */
} sl_cg_hb_t;

typedef struct sl_cg_hb_result {
    int16_t err;
    const char *message;   /* static text for err, or NULL */
    const char *member_id; /* valid until the next call on the group */
    int32_t epoch;
    const sl_tpset_t *assignment; /* NULL: none to send */
} sl_cg_hb_result_t;

/* Runs one heartbeat: join (epoch 0), leave (-1; -2 for a static member that will return), or
 * the steady heartbeat with the member's epoch. Errors: INVALID_REQUEST, UNKNOWN_MEMBER_ID,
 * FENCED_MEMBER_EPOCH, UNSUPPORTED_ASSIGNOR, UNRELEASED_INSTANCE_ID, GROUP_MAX_SIZE_REACHED,
 * INVALID_REGULAR_EXPRESSION. */
void sl_cg_heartbeat(sl_cgroups_t *cgs, const sl_cg_hb_t *hb, int64_t now_ms,
                     sl_cg_hb_result_t *out);

/* Resolves the subscription regexes that came since the last tick (a new group epoch where
 * any did); removes members whose session expired, and members that did not revoke within their
 * rebalance timeout. Returns how many were removed. */
int sl_cg_tick(sl_cgroups_t *cgs, int64_t now_ms);

/* Whether an OffsetCommit from (member_id, epoch) is allowed: 0, UNKNOWN_MEMBER_ID or
 * ILLEGAL_GENERATION (the answer of OffsetCommit before v9 for a stale member epoch). A commit
 * without member (epoch -1, empty id) is allowed only while the group has no members. */
int sl_cg_check_commit(sl_cgroups_t *cgs, sl_cgroup_t *g, sl_str_t member_id, int32_t epoch);

/* Whether a member subscribes to topic `name` (by name, or by its regex once resolved). */
bool sl_cg_member_subscribes(const sl_cg_member_t *m, const char *name);
int64_t sl_cg_heartbeat_interval_ms(const sl_cgroups_t *cgs);

#endif

/* handle_group.c -- the consumer-group APIs on the wire; the state machine is group/coordinator.c.
 *
 * FindCoordinator v0-2: key, key_type (v1+: 0 group, 1 transaction) -> throttle (v1+), error,
 * error_message (v1+), node_id, host, port JoinGroup v0-5: group_id, session_timeout_ms,
 * rebalance_timeout_ms (v1+), member_id, group_instance_id (v5+), protocol_type, protocols {name,
 * metadata} -> throttle (v2+), error, generation_id, protocol_name, leader, member_id, members
 * {member_id, group_instance_id (v5+), metadata} (leader only) SyncGroup v0-3: group_id,
 * generation_id, member_id, group_instance_id (v3+), assignments {member_id, assignment} ->
 * throttle (v1+), error, assignment Heartbeat v0-3: group_id, generation_id, member_id,
 * group_instance_id (v3+) -> throttle (v1+), error LeaveGroup v0-3: group_id, member_id (v0-2) |
 * members {member_id, group_instance_id} (v3+) -> throttle (v1+), error, members {member_id,
 * group_instance_id, error} (v3+) OffsetCommit v0-7: group_id, generation_id (v1+), member_id
 * (v1+), group_instance_id (v7+), retention_time_ms (v2-4), topics {name, partitions {index,
 * offset, leader_epoch (v6+), commit_timestamp (v1), metadata}} -> throttle (v3+), topics {name,
 * partitions {index, error}} OffsetFetch v0-7 (flexible v6+): group_id, topics {name,
 * partition_indexes} (null = all, v2+), require_stable (v7+) -> throttle (v3+), topics {name,
 * partitions {index, offset, leader_epoch (v5+), metadata, error}}, error (v2+) ListGroups v0-5
 * (flexible v3+): states_filter (v4+), types_filter (v5+) -> throttle (v1+), error, groups
 * {group_id, protocol_type, group_state (v4+), group_type (v5+)} DescribeGroups v0-4: groups,
 * include_authorized_operations (v3+) -> throttle (v1+), groups {error, group_id, state,
 * protocol_type, protocol, members {member_id, group_instance_id (v4+), client_id, client_host,
 * metadata, assignment}, authorized_operations (v3+)} DeleteGroups v0-1: groups -> throttle,
 * results {group_id, error} OffsetDelete v0: group_id, topics {name, partitions {index}} -> error,
 * throttle, topics {name, partitions {index, error}} A commit is acknowledged only after the
 * offsets log has been fdatasync'ed. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "broker/broker.h"
#include "broker/offsets_topic.h"
#include "broker/txn_topic.h"
#include "broker/wait.h"
#include "common/clock.h"
#include "group/cgroup.h"
#include "group/coordinator.h"
#include "proto/aclops.h"
#include "proto/kerr.h"
#include "txn/txn_coord.h"

static sl_coord_t *coord(sl_req_t *req) {
    return req->broker->coord;
}

SL_HANDLER(FindCoordinator) {
    sl_reader_t *rd = &req->rd;
    int16_t v = req->api_version;
    sl_str_t key = sl_rd_str(rd, false);
    int8_t key_type = v >= 1 ? sl_rd_i8(rd) : 0;
    if (rd->err) {
        return rd->err;
    }
    sl_broker_t *b = req->broker;
    /* Groups (0) and transactions (1): this node coordinates both. Kafka's rule: DESCRIBE on
     * the group or the transactional id. */
    int16_t err = key_type == 0 || key_type == 1 ? KERR_NONE : KERR_INVALID_REQUEST;
    if (!err && key_type == 0 && !sl_req_allowed(req, SL_RES_GROUP, key, SL_ACL_DESCRIBE)) {
        err = KERR_GROUP_AUTHORIZATION_FAILED;
    } else if (!err && key_type == 1 &&
               !sl_req_allowed(req, SL_RES_TRANSACTIONAL_ID, key, SL_ACL_DESCRIBE)) {
        err = KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
    }
    /* In a cluster a group's coordinator is the leader of its __consumer_offsets partition
     * (offsets_topic.h), a transactional id's the leader of its __transaction_state
     * partition (txn_topic.h). */
    int32_t node = (int32_t)b->conf.node_id;
    char host[256];
    snprintf(host, sizeof host, "%s", sl_req_listener(req)->adv_host);
    int32_t port = sl_req_listener(req)->adv_port;
    if (!err && key_type == 0 && b->cluster) {
        err = sl_otopic_coordinator(b, key, &node, host, sizeof host, &port);
    } else if (!err && key_type == 1 && b->cluster) {
        err = sl_ttopic_coordinator(b, key, &node, host, sizeof host, &port);
    }
    if (v >= 1) {
        sl_wr_i32(&req->wr, 0);
    }
    sl_wr_i16(&req->wr, err);
    if (v >= 1) {
        sl_wr_strz(&req->wr, false,
                   err == KERR_INVALID_REQUEST             ? "Unknown coordinator key type"
                   : err == KERR_COORDINATOR_NOT_AVAILABLE ? "The coordinator is not available"
                   : err                                   ? "Not authorized for this key"
                                                           : NULL);
    }
    sl_wr_i32(&req->wr, err ? -1 : node);
    sl_wr_strz(&req->wr, false, err ? "" : host);
    sl_wr_i32(&req->wr, err ? -1 : port);
    return SL_OK;
}

/* ---- JoinGroup ---- */

static const sl_protocol_t *chosen(const sl_group_t *g, const sl_member_t *m) {
    for (int i = 0; i < m->n_protocols; i++) {
        if (g->protocol && !strcmp(m->protocols[i].name, g->protocol)) {
            return &m->protocols[i];
        }
    }
    return NULL;
}

static void write_join(sl_req_t *req, sl_group_t *g, sl_member_t *m, int16_t err,
                       const char *member_id) {
    sl_writer_t *wr = &req->wr;
    int16_t v = req->api_version;
    if (v >= 2) {
        sl_wr_i32(wr, 0);
    }
    sl_wr_i16(wr, err);
    sl_wr_i32(wr, err ? -1 : g->generation);
    sl_wr_strz(wr, false, err || !g->protocol ? "" : g->protocol);
    sl_wr_strz(wr, false, err || !g->leader ? "" : g->leader);
    sl_wr_strz(wr, false, member_id ? member_id : "");
    bool leader = !err && g->leader && m && !strcmp(g->leader, m->member_id);
    if (!leader) {
        sl_wr_i32(wr, 0);
        return;
    }
    sl_wr_i32(wr, g->n_members);
    for (int i = 0; i < g->n_members; i++) {
        const sl_member_t *o = g->members[i];
        const sl_protocol_t *p = chosen(g, o);
        sl_wr_strz(wr, false, o->member_id);
        if (v >= 5) {
            sl_wr_strz(wr, false, o->instance_id);
        }
        sl_bytes_t md = {p ? p->metadata : (const uint8_t *)"", p ? p->metadata_len : 0};
        sl_wr_bytes(wr, false, md);
    }
}

static void join_done(void *r, sl_group_t *g, sl_member_t *m, int16_t err) {
    sl_req_t *req = r;
    write_join(req, g, m, err, m ? m->member_id : "");
    sl_req_finish(req);
    free(req);
}

static void write_sync(sl_req_t *req, const sl_member_t *m, int16_t err) {
    if (req->api_version >= 1) {
        sl_wr_i32(&req->wr, 0);
    }
    sl_wr_i16(&req->wr, err);
    sl_bytes_t as = {(const uint8_t *)"", 0};
    if (!err && m && m->assignment) {
        as.p = m->assignment;
        as.len = m->assignment_len;
    }
    sl_wr_bytes(&req->wr, false, as);
}

static void sync_done(void *r, sl_group_t *g, sl_member_t *m, int16_t err) {
    (void)g;
    sl_req_t *req = r;
    write_sync(req, m, err);
    sl_req_finish(req);
    free(req);
}

const sl_coord_hooks_t sl_group_hooks = {join_done, sync_done};

SL_HANDLER(JoinGroup) {
    sl_reader_t *rd = &req->rd;
    int16_t v = req->api_version;
    sl_join_args_t a = {0};
    a.version = v;
    a.group_id = sl_rd_str(rd, false);
    a.session_timeout_ms = sl_rd_i32(rd);
    a.rebalance_timeout_ms = v >= 1 ? sl_rd_i32(rd) : a.session_timeout_ms;
    a.member_id = sl_rd_str(rd, false);
    if (v >= 5) {
        a.instance_id = sl_rd_str(rd, false);
    }
    a.protocol_type = sl_rd_str(rd, false);
    int32_t n = sl_rd_count(rd, false, 6);
    if (rd->err) {
        return rd->err;
    }
    a.n_protocols = n;
    a.proto_names = sl_xcalloc((size_t)n + 1, sizeof *a.proto_names);
    a.proto_metadata = sl_xcalloc((size_t)n + 1, sizeof *a.proto_metadata);
    for (int32_t i = 0; i < n; i++) {
        a.proto_names[i] = sl_rd_str(rd, false);
        a.proto_metadata[i] = sl_rd_bytes(rd, false);
    }
    if (rd->err) {
        free(a.proto_names);
        free(a.proto_metadata);
        return rd->err;
    }
    if (!sl_req_allowed(req, SL_RES_GROUP, a.group_id, SL_ACL_READ)) {
        free(a.proto_names);
        free(a.proto_metadata);
        char *mid = sl_str_dupz(a.member_id);
        write_join(req, NULL, NULL, KERR_GROUP_AUTHORIZATION_FAILED, mid);
        free(mid);
        return SL_OK;
    }
    int16_t route = sl_otopic_check(req->broker, a.group_id); /* cluster: is this the one? */
    if (route) {
        free(a.proto_names);
        free(a.proto_metadata);
        char *mid = sl_str_dupz(a.member_id);
        write_join(req, NULL, NULL, route, mid);
        free(mid);
        return SL_OK;
    }
    /* A consumer-protocol group with members keeps its id; an empty one turns classic. */
    sl_cgroup_t *cg = sl_cg_find(req->broker->cgroups, a.group_id);
    if (cg && cg->n_members > 0) {
        free(a.proto_names);
        free(a.proto_metadata);
        char *mid = sl_str_dupz(a.member_id);
        write_join(req, NULL, NULL, KERR_INCONSISTENT_GROUP_PROTOCOL, mid);
        free(mid);
        return SL_OK;
    }
    if (cg) {
        sl_cg_delete(req->broker->cgroups, cg);
    }
    a.client_id = req->client_id;
    const char *peer = sl_conn_peer(req->conn);
    const char *colon = strrchr(peer, ':');
    a.client_host = (sl_str_t){peer, colon ? (size_t)(colon - peer) : strlen(peer)};
    sl_member_t *m = NULL;
    sl_group_t *g = NULL;
    int rc = sl_coord_join(coord(req), &a, req, &m, &g);
    free(a.proto_names);
    free(a.proto_metadata);
    if (rc < 0) {
        return SL_AGAIN; /* answered (or to be answered) through join_done */
    }
    if (rc == 79 && m) { /* MEMBER_ID_REQUIRED: m is a temporary carrying the new id */
        write_join(req, g, NULL, (int16_t)rc, m->member_id);
        free(m->member_id);
        free(m);
        return SL_OK;
    }
    char *mid = sl_str_dupz(a.member_id);
    write_join(req, g, NULL, (int16_t)rc, mid);
    free(mid);
    return SL_OK;
}

SL_HANDLER(SyncGroup) {
    sl_reader_t *rd = &req->rd;
    int16_t v = req->api_version;
    sl_sync_args_t a = {0};
    a.group_id = sl_rd_str(rd, false);
    a.generation = sl_rd_i32(rd);
    a.member_id = sl_rd_str(rd, false);
    if (v >= 3) {
        a.instance_id = sl_rd_str(rd, false);
    }
    int32_t n = sl_rd_count(rd, false, 6);
    if (rd->err) {
        return rd->err;
    }
    a.n_assignments = n;
    a.assign_members = sl_xcalloc((size_t)n + 1, sizeof *a.assign_members);
    a.assign_data = sl_xcalloc((size_t)n + 1, sizeof *a.assign_data);
    for (int32_t i = 0; i < n; i++) {
        a.assign_members[i] = sl_rd_str(rd, false);
        a.assign_data[i] = sl_rd_bytes(rd, false);
    }
    if (rd->err) {
        free(a.assign_members);
        free(a.assign_data);
        return rd->err;
    }
    if (!sl_req_allowed(req, SL_RES_GROUP, a.group_id, SL_ACL_READ)) {
        free(a.assign_members);
        free(a.assign_data);
        write_sync(req, NULL, KERR_GROUP_AUTHORIZATION_FAILED);
        return SL_OK;
    }
    int16_t route = sl_otopic_check(req->broker, a.group_id);
    if (route) {
        free(a.assign_members);
        free(a.assign_data);
        write_sync(req, NULL, route);
        return SL_OK;
    }
    sl_member_t *m = NULL;
    int rc = sl_coord_sync(coord(req), &a, req, &m);
    free(a.assign_members);
    free(a.assign_data);
    if (rc < 0) {
        return SL_AGAIN;
    }
    write_sync(req, m, (int16_t)rc);
    return SL_OK;
}

SL_HANDLER(Heartbeat) {
    sl_reader_t *rd = &req->rd;
    sl_str_t group = sl_rd_str(rd, false);
    int32_t gen = sl_rd_i32(rd);
    sl_str_t member = sl_rd_str(rd, false);
    sl_str_t instance = req->api_version >= 3 ? sl_rd_str(rd, false) : (sl_str_t){NULL, 0};
    if (rd->err) {
        return rd->err;
    }
    int rc = !sl_req_allowed(req, SL_RES_GROUP, group, SL_ACL_READ)
                 ? KERR_GROUP_AUTHORIZATION_FAILED
                 : sl_otopic_check(req->broker, group);
    if (!rc) {
        rc = sl_coord_heartbeat(coord(req), group, gen, member, instance);
    }
    if (req->api_version >= 1) {
        sl_wr_i32(&req->wr, 0);
    }
    sl_wr_i16(&req->wr, (int16_t)rc);
    return SL_OK;
}

SL_HANDLER(LeaveGroup) {
    sl_reader_t *rd = &req->rd;
    int16_t v = req->api_version;
    sl_str_t group = sl_rd_str(rd, false);
    sl_writer_t *wr = &req->wr;
    if (v < 3) {
        sl_str_t member = sl_rd_str(rd, false);
        if (rd->err) {
            return rd->err;
        }
        int rc = !sl_req_allowed(req, SL_RES_GROUP, group, SL_ACL_READ)
                     ? KERR_GROUP_AUTHORIZATION_FAILED
                     : sl_otopic_check(req->broker, group);
        if (!rc) {
            rc = sl_coord_leave(coord(req), group, member, (sl_str_t){NULL, 0});
        }
        if (v >= 1) {
            sl_wr_i32(wr, 0);
        }
        sl_wr_i16(wr, (int16_t)rc);
        return SL_OK;
    }
    int32_t n = sl_rd_count(rd, false, 4);
    if (rd->err) {
        return rd->err;
    }
    sl_str_t *mids = sl_xcalloc((size_t)n + 1, sizeof *mids);
    sl_str_t *iids = sl_xcalloc((size_t)n + 1, sizeof *iids);
    for (int32_t i = 0; i < n; i++) {
        mids[i] = sl_rd_str(rd, false);
        iids[i] = sl_rd_str(rd, false);
    }
    if (rd->err) {
        free(mids);
        free(iids);
        return rd->err;
    }
    sl_wr_i32(wr, 0);
    int16_t denied = !sl_req_allowed(req, SL_RES_GROUP, group, SL_ACL_READ)
                         ? KERR_GROUP_AUTHORIZATION_FAILED
                         : sl_otopic_check(req->broker, group);
    if (denied) {
        sl_wr_i16(wr, denied);
        sl_wr_i32(wr, 0);
        free(mids);
        free(iids);
        return SL_OK;
    }
    size_t top_err_at = sl_wr_i16(wr, KERR_NONE);
    sl_wr_i32(wr, n);
    int16_t top = KERR_NONE;
    for (int32_t i = 0; i < n; i++) {
        int rc = sl_coord_leave(coord(req), group, mids[i], iids[i]);
        sl_wr_str(wr, false, mids[i]);
        sl_wr_str(wr, false, iids[i]);
        sl_wr_i16(wr, (int16_t)rc);
        if (rc && !top && n == 1) {
            top = (int16_t)rc;
        }
    }
    sl_store_be16(wr->buf->data + top_err_at, (uint16_t)top);
    free(mids);
    free(iids);
    return SL_OK;
}

/* ---- offsets ---- */

/* Cluster: adds one commit to the request's batch for the group's offsets partition, noting
 * where its error code is in the response. */
static void add_commit(sl_itopic_batch_t *bt, size_t **stored_at, size_t at, sl_str_t group,
                       sl_str_t topic, int32_t index, int64_t off, int32_t epoch, sl_str_t md,
                       int64_t now) {
    char *g = sl_str_dupz(group);
    char *t = sl_str_dupz(topic);
    sl_committed_t c = {off, epoch, md.p ? sl_str_dupz(md) : NULL, md.len, now};
    sl_buf_t key = {0}, value = {0};
    sl_offset_rec_key(&key, g, t, index);
    sl_offset_rec_put(&value, g, t, index, &c);
    sl_itopic_batch_add(bt, &key, &value);
    *stored_at = sl_xrealloc(*stored_at, (size_t)bt->n * sizeof **stored_at);
    (*stored_at)[bt->n - 1] = at;
    sl_buf_fini(&key);
    sl_buf_fini(&value);
    free(c.metadata);
    free(t);
    free(g);
}

/* Cluster: adds the deletion of one committed offset to the batch (OffsetDelete,
 * DeleteGroups), so that the next coordinator of the group does not load it back. */
static void add_delete(sl_itopic_batch_t *bt, size_t **stored_at, size_t at, const char *group,
                       const char *topic, int32_t index) {
    sl_buf_t key = {0}, value = {0};
    sl_offset_rec_key(&key, group, topic, index);
    sl_offset_rec_del(&value, group, topic, index);
    sl_itopic_batch_add(bt, &key, &value);
    *stored_at = sl_xrealloc(*stored_at, (size_t)bt->n * sizeof **stored_at);
    (*stored_at)[bt->n - 1] = at;
    sl_buf_fini(&key);
    sl_buf_fini(&value);
}

/* Cluster: appends the batch and adds its replication (the acks=all path) to `w` (created when
 * NULL), which it returns; on failure the error goes at every position in `stored_at` and `w`
 * is returned unchanged. */
static sl_durable_wait_t *store_commits(sl_req_t *req, sl_str_t group, sl_itopic_batch_t *bt,
                                        const size_t *stored_at, sl_durable_wait_t *w) {
    sl_partition_t *p = NULL;
    int64_t end = -1;
    int16_t err = sl_otopic_append(req->broker, group, bt, &p, &end);
    if (err != KERR_NONE) {
        for (int32_t i = 0; i < bt->n; i++) {
            sl_store_be16(req->wr.buf->data + stored_at[i], (uint16_t)err);
        }
        return w;
    }
    w = w ? w : sl_durable_wait_new(req);
    for (int32_t i = 0; i < bt->n; i++) {
        sl_durable_wait_add_part(w, p, end, stored_at[i], SIZE_MAX);
    }
    return w;
}

/* OffsetCommit v0-v9 (flexible from v8). v9 is the KIP-848 version: for a consumer-protocol group
 * the generation field carries the member epoch, and a stale one is STALE_MEMBER_EPOCH (before
 * v9: ILLEGAL_GENERATION, as Kafka answers older clients). */
SL_HANDLER(OffsetCommit) {
    sl_broker_t *b = req->broker;
    sl_reader_t *rd = &req->rd;
    int16_t v = req->api_version;
    bool flex = req->flex;
    sl_writer_t *wr = &req->wr;
    sl_str_t group = sl_rd_str(rd, flex);
    int32_t gen = v >= 1 ? sl_rd_i32(rd) : -1;
    sl_str_t member = v >= 1 ? sl_rd_str(rd, flex) : (sl_str_t){NULL, 0};
    sl_str_t instance = v >= 7 ? sl_rd_str(rd, flex) : (sl_str_t){NULL, 0};
    if (v >= 2 && v <= 4) {
        (void)sl_rd_i64(rd); /* retention_time_ms */
    }
    int32_t n_topics = sl_rd_count(rd, flex, 6);
    if (rd->err) {
        return rd->err;
    }
    /* Consumer-protocol groups: the generation is the member epoch. */
    sl_cgroup_t *cg = sl_cg_find(b->cgroups, group);
    /* Kafka's rules: READ on the group, then READ on each topic. */
    int route = KERR_NONE;
    int gerr = !sl_req_allowed(req, SL_RES_GROUP, group, SL_ACL_READ)
                   ? KERR_GROUP_AUTHORIZATION_FAILED
               : (route = sl_otopic_check(b, group)) != KERR_NONE    ? route
               : (route = sl_otopic_writable(b, group)) != KERR_NONE ? route
               : cg ? sl_cg_check_commit(b->cgroups, cg, member, gen)
                    : sl_coord_check_commit(coord(req), group, gen, member, instance);
    if (cg && v >= 9 && gerr == KERR_ILLEGAL_GENERATION) {
        gerr = KERR_STALE_MEMBER_EPOCH;
    }
    if (v >= 3) {
        sl_wr_i32(wr, 0);
    }
    sl_wr_array_len(wr, flex, n_topics);
    int64_t now = sl_wall_ms();
    /* The partitions stored are answered once the offsets file is durable (its sync worker);
     * in a cluster, once their record in the group's offsets partition is replicated. */
    sl_reclog_t *log = sl_coord_log(coord(req));
    sl_durable_wait_t *w = NULL;
    sl_itopic_batch_t bt = {.now_ms = now};
    size_t *stored_at = NULL; /* cluster: response offsets of the partitions in `bt` */
    for (int32_t t = 0; t < n_topics && !rd->err; t++) {
        sl_str_t topic = sl_rd_str(rd, flex);
        int32_t np = sl_rd_count(rd, flex, 14);
        if (rd->err) {
            break;
        }
        sl_topic_t *tp = sl_topic_find(b, topic);
        bool topic_denied = !gerr && !sl_req_allowed(req, SL_RES_TOPIC, topic, SL_ACL_READ);
        sl_wr_str(wr, flex, topic);
        sl_wr_array_len(wr, flex, np);
        for (int32_t i = 0; i < np && !rd->err; i++) {
            int32_t index = sl_rd_i32(rd);
            int64_t off = sl_rd_i64(rd);
            int32_t epoch = v >= 6 ? sl_rd_i32(rd) : -1;
            if (v == 1) {
                (void)sl_rd_i64(rd); /* commit_timestamp */
            }
            sl_str_t md = sl_rd_str(rd, flex);
            sl_rd_tags(rd, flex);
            if (rd->err) {
                break;
            }
            int err = topic_denied ? KERR_TOPIC_AUTHORIZATION_FAILED : gerr;
            if (!err && (!tp || index < 0 || index >= tp->n_partitions)) {
                err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
            }
            if (!err && b->cluster) { /* stored in __consumer_offsets below */
                sl_coord_commit_mem(coord(req), group, topic, index, off, epoch, md, now);
            } else if (!err &&
                       sl_coord_commit(coord(req), group, topic, index, off, epoch, md, now)) {
                err = KERR_KAFKA_STORAGE_ERROR;
            }
            sl_wr_i32(wr, index);
            size_t at = sl_wr_i16(wr, (int16_t)err);
            sl_wr_tags(wr, flex);
            if (!err && b->cluster) {
                add_commit(&bt, &stored_at, at, group, topic, index, off, epoch, md, now);
            } else if (!err) {
                w = w ? w : sl_durable_wait_new(req);
                sl_durable_wait_add_log(w, log, sl_reclog_want_sync(log), at);
            }
        }
        sl_rd_tags(rd, flex);
        sl_wr_tags(wr, flex);
    }
    sl_rd_tags(rd, flex);
    sl_wr_tags(wr, flex);
    if (!rd->err && bt.n > 0) {
        w = store_commits(req, group, &bt, stored_at, NULL);
    }
    sl_itopic_batch_fini(&bt);
    free(stored_at);
    if (rd->err || !w) {
        sl_durable_wait_cancel(w);
        return rd->err;
    }
    return sl_durable_wait_park(b, w);
}

/* One partition of an OffsetFetch answer. With require_stable (v7), an offset a transaction has
 * pending is answered UNSTABLE_OFFSET_COMMIT, and the client asks again. */
static void write_fetched(sl_req_t *req, sl_group_t *g, sl_str_t topic, int32_t index,
                          const sl_str_t *stable_group, int16_t denied) {
    bool flex = req->flex;
    const sl_offset_entry_t *e = denied ? NULL : sl_coord_committed(coord(req), g, topic, index);
    int16_t err = denied;
    if (!denied && stable_group &&
        (sl_txn_offset_pending(req->broker->txn, *stable_group, topic, index) ||
         (req->broker->cluster && sl_otopic_pending(req->broker, *stable_group, topic, index)))) {
        err = KERR_UNSTABLE_OFFSET_COMMIT;
        e = NULL;
    }
    sl_wr_i32(&req->wr, index);
    sl_wr_i64(&req->wr, e ? e->c.offset : -1);
    if (req->api_version >= 5) {
        sl_wr_i32(&req->wr, e ? e->c.leader_epoch : -1);
    }
    /* Metadata is opaque bytes to Kafka: written with its length, NULs and all. */
    sl_wr_str(&req->wr, flex,
              e && e->c.metadata ? (sl_str_t){e->c.metadata, e->c.metadata_len}
                                 : (sl_str_t){"", 0});
    sl_wr_i16(&req->wr, err);
    sl_wr_tags(&req->wr, flex);
}

/* Answers one group's topics of an OffsetFetch: those `topics_rd` lists (`n_topics` of them, read
 * from it), or every partition the group has committed when the list is null (or empty, v2+). */
static void fetch_group(sl_req_t *req, sl_str_t group, sl_reader_t *topics_rd, int32_t n_topics,
                        const sl_str_t *stable, int16_t gerr) {
    int16_t v = req->api_version;
    bool flex = req->flex;
    sl_writer_t *wr = &req->wr;
    sl_group_t *g = sl_coord_find(coord(req), group);
    /* Null means every committed offset of the group (v2+). librdkafka 2.0.2's
     * ListConsumerGroupOffsets without partitions sends an empty array for the same question, and
     * no client asks for nothing on purpose, so empty is answered like null. */
    if (n_topics < 0 || (n_topics == 0 && v >= 2)) {
        size_t n = g ? g->n_offsets : 0;
        bool *done = sl_xcalloc(n + 1, sizeof *done);
        int32_t topics = 0;
        for (size_t i = 0; i < n && req->broker->authz; i++) {
            sl_str_t name = {g->offsets[i].topic, strlen(g->offsets[i].topic)};
            done[i] = !sl_req_allowed(req, SL_RES_TOPIC, name, SL_ACL_DESCRIBE);
        }
        for (size_t i = 0; i < n; i++) {
            if (done[i]) {
                continue;
            }
            bool seen = false;
            for (size_t k = 0; k < i && !seen; k++) {
                seen = !strcmp(g->offsets[k].topic, g->offsets[i].topic);
            }
            topics += !seen;
        }
        sl_wr_array_len(wr, flex, topics);
        for (size_t i = 0; i < n; i++) {
            if (done[i]) {
                continue;
            }
            sl_str_t name = {g->offsets[i].topic, strlen(g->offsets[i].topic)};
            int32_t np = 0;
            for (size_t k = i; k < n; k++) {
                np += !done[k] && !strcmp(g->offsets[k].topic, g->offsets[i].topic);
            }
            sl_wr_str(wr, flex, name);
            sl_wr_array_len(wr, flex, np);
            for (size_t k = i; k < n; k++) {
                if (!done[k] && !strcmp(g->offsets[k].topic, g->offsets[i].topic)) {
                    done[k] = true;
                    write_fetched(req, g, name, g->offsets[k].partition, stable, KERR_NONE);
                }
            }
            sl_wr_tags(wr, flex);
        }
        free(done);
    } else {
        sl_wr_array_len(wr, flex, n_topics);
        for (int32_t t = 0; t < n_topics && !topics_rd->err; t++) {
            sl_str_t topic = sl_rd_str(topics_rd, flex);
            int32_t np = sl_rd_count(topics_rd, flex, 4);
            /* Kafka's rules: only topics the principal may DESCRIBE. */
            int16_t denied = gerr ? gerr
                             : sl_req_allowed(req, SL_RES_TOPIC, topic, SL_ACL_DESCRIBE)
                                 ? KERR_NONE
                                 : KERR_TOPIC_AUTHORIZATION_FAILED;
            sl_wr_str(wr, flex, topic);
            sl_wr_array_len(wr, flex, np);
            for (int32_t i = 0; i < np && !topics_rd->err; i++) {
                write_fetched(req, g, topic, sl_rd_i32(topics_rd), stable, denied);
            }
            sl_rd_tags(topics_rd, flex);
            sl_wr_tags(wr, flex);
        }
    }
}

/* Skips one group's topic list in an OffsetFetch request: {name, partition_indexes}. */
static void skip_topics(sl_reader_t *rd, bool flex, int32_t n_topics) {
    for (int32_t t = 0; t < n_topics && !rd->err; t++) {
        (void)sl_rd_str(rd, flex);
        int32_t np = sl_rd_count(rd, flex, 4);
        for (int32_t i = 0; i < np && !rd->err; i++) {
            (void)sl_rd_i32(rd);
        }
        sl_rd_tags(rd, flex);
    }
}

/* OffsetFetch v0-v9. v8+ asks for several groups at once (KIP-709): groups {group_id, member_id
 * and member_epoch (v9), topics}, each answered with its own error code. v9's member fields
 * (KIP-848) are checked for a consumer-protocol group when a member id is given: an unknown member
 * is UNKNOWN_MEMBER_ID, another epoch STALE_MEMBER_EPOCH; without one (admin tools) the offsets
 * are answered as before. The lists are read twice: require_stable (v7) follows them. */
SL_HANDLER(OffsetFetch) {
    sl_reader_t *rd = &req->rd;
    int16_t v = req->api_version;
    bool flex = req->flex;
    sl_writer_t *wr = &req->wr;
    int32_t n_groups = v >= 8 ? sl_rd_count(rd, flex, 3) : 1;
    sl_reader_t groups_rd = *rd;
    for (int32_t gi = 0; gi < n_groups && !rd->err; gi++) {
        (void)sl_rd_str(rd, flex);
        if (v >= 9) {
            (void)sl_rd_str(rd, flex); /* member_id */
            (void)sl_rd_i32(rd);       /* member_epoch */
        }
        skip_topics(rd, flex, sl_rd_array_len(rd, flex, 6));
        if (v >= 8) {
            sl_rd_tags(rd, flex);
        }
    }
    bool require_stable = v >= 7 && sl_rd_bool(rd);
    sl_rd_tags(rd, flex);
    if (rd->err) {
        return rd->err;
    }
    if (v >= 3) {
        sl_wr_i32(wr, 0);
    }
    if (v >= 8) {
        sl_wr_array_len(wr, flex, n_groups);
    }
    for (int32_t gi = 0; gi < n_groups && !groups_rd.err; gi++) {
        sl_str_t group = sl_rd_str(&groups_rd, flex);
        sl_str_t member = {NULL, 0};
        int32_t epoch = -1;
        if (v >= 9) {
            member = sl_rd_str(&groups_rd, flex);
            epoch = sl_rd_i32(&groups_rd);
        }
        int32_t n_topics = sl_rd_array_len(&groups_rd, flex, 6);
        if (groups_rd.err) {
            break;
        }
        /* Kafka's rules: DESCRIBE on the group (topics: fetch_group). */
        int16_t gerr = sl_req_allowed(req, SL_RES_GROUP, group, SL_ACL_DESCRIBE)
                           ? sl_otopic_check(req->broker, group)
                           : KERR_GROUP_AUTHORIZATION_FAILED;
        sl_cgroup_t *cg = member.p && !gerr ? sl_cg_find(req->broker->cgroups, group) : NULL;
        if (cg) {
            sl_cg_member_t *m = sl_cg_member(cg, member);
            gerr = !m || m->left_static ? KERR_UNKNOWN_MEMBER_ID
                   : m->epoch != epoch  ? KERR_STALE_MEMBER_EPOCH
                                        : KERR_NONE;
        }
        if (v >= 8) {
            sl_wr_str(wr, flex, group);
        }
        if (gerr && v < 2 && gerr != KERR_GROUP_AUTHORIZATION_FAILED && n_topics >= 0) {
            /* No group-level error before v2: a cluster's NOT_COORDINATOR (or loading) goes on
             * every partition, as Kafka answers, so the client looks for the coordinator. */
            fetch_group(req, group, &groups_rd, n_topics, NULL, gerr);
        } else if (gerr) {
            skip_topics(&groups_rd, flex, n_topics);
            sl_wr_array_len(wr, flex, 0);
        } else {
            fetch_group(req, group, &groups_rd, n_topics, require_stable ? &group : NULL,
                        KERR_NONE);
        }
        if (v >= 8) {
            sl_rd_tags(&groups_rd, flex);
            sl_wr_i16(wr, gerr);
            sl_wr_tags(wr, flex);
        } else if (v >= 2) {
            sl_wr_i16(wr, gerr);
        }
    }
    sl_wr_tags(wr, flex);
    return SL_OK;
}

/* ---- listing and administration ---- */

/* ListGroups v4+ filters by state (KIP-518) and v5+ by type (KIP-848): a group is listed when
 * each non-empty filter names its state / type, compared without regard to case as Kafka does.
 * Classic groups are listed with type "classic", consumer-protocol groups "consumer" (the wire form
 * of Kafka's group types; clients match them without regard to case). */
typedef struct list_ctx {
    sl_req_t *req;
    sl_cgroups_t *cgroups;
    int32_t n;
    int n_states, n_types;
    sl_str_t *states, *types; /* filters (v4+, v5+); empty = all */
    bool all_groups;          /* DESCRIBE on the cluster: no per-group check */
} list_ctx_t;

static bool in_filter(const sl_str_t *f, int n, const char *value) {
    for (int i = 0; i < n; i++) {
        if (f[i].len == strlen(value) && !strncasecmp(f[i].p, value, f[i].len)) {
            return true;
        }
    }
    return n == 0;
}

static void list_entry(list_ctx_t *c, const char *id, const char *protocol_type, const char *state,
                       const char *type) {
    if (!in_filter(c->states, c->n_states, state) || !in_filter(c->types, c->n_types, type)) {
        return;
    }
    /* Kafka's rule: every group with DESCRIBE on the cluster, else those with DESCRIBE. */
    if (!c->all_groups &&
        !sl_req_allowed(c->req, SL_RES_GROUP, (sl_str_t){id, strlen(id)}, SL_ACL_DESCRIBE)) {
        return;
    }
    sl_writer_t *wr = &c->req->wr;
    bool flex = c->req->flex;
    sl_wr_strz(wr, flex, id);
    sl_wr_strz(wr, flex, protocol_type);
    if (c->req->api_version >= 4) {
        sl_wr_strz(wr, flex, state);
    }
    if (c->req->api_version >= 5) {
        sl_wr_strz(wr, flex, type);
    }
    sl_wr_tags(wr, flex);
    c->n++;
}

static void list_one(sl_group_t *g, void *opaque) {
    list_ctx_t *c = opaque;
    if (sl_cg_find(c->cgroups, (sl_str_t){g->id, strlen(g->id)})) {
        return; /* only holds the offsets of the consumer group of that id */
    }
    list_entry(c, g->id, g->protocol_type ? g->protocol_type : "", sl_group_state_name(g->state),
               "classic");
}

static void list_cg(sl_cgroup_t *g, void *opaque) {
    list_entry(opaque, g->id, "consumer", sl_cg_state_name(g), "consumer");
}

static sl_str_t *read_filter(sl_reader_t *rd, int *n_out) {
    int32_t n = sl_rd_count(rd, true, 1);
    sl_str_t *f = sl_xcalloc((size_t)n + 1, sizeof *f);
    for (int32_t i = 0; i < n && !rd->err; i++) {
        f[i] = sl_rd_str(rd, true);
    }
    *n_out = rd->err ? 0 : n;
    return f;
}

/* ListGroups v0-5: v4 adds states_filter, v5 types_filter and each group's type ("classic" or
 * "consumer"); consumer-protocol groups have protocol_type "consumer". */
SL_HANDLER(ListGroups) {
    sl_reader_t *rd = &req->rd;
    int16_t v = req->api_version;
    list_ctx_t c = {req, req->broker->cgroups, 0, 0, 0, NULL, NULL, false};
    c.all_groups = sl_req_allowed_cluster(req, SL_ACL_DESCRIBE);
    if (v >= 4) {
        c.states = read_filter(rd, &c.n_states);
    }
    if (v >= 5) {
        c.types = read_filter(rd, &c.n_types);
    }
    sl_rd_tags(rd, req->flex);
    if (rd->err) {
        free(c.states);
        free(c.types);
        return rd->err;
    }
    sl_writer_t *wr = &req->wr;
    if (v >= 1) {
        sl_wr_i32(wr, 0);
    }
    sl_wr_i16(wr, KERR_NONE);
    /* The count comes first; flexible versions write it as a varint, so the entries are written
     * after a dry run that only counts them. */
    size_t at = sl_wr_pos(wr);
    sl_coord_each(coord(req), list_one, &c);
    sl_cg_each(c.cgroups, list_cg, &c);
    int32_t total = c.n;
    wr->buf->len = at; /* drop the dry run */
    sl_wr_array_len(wr, req->flex, total);
    c.n = 0;
    sl_coord_each(coord(req), list_one, &c);
    sl_cg_each(c.cgroups, list_cg, &c);
    sl_wr_tags(wr, req->flex);
    free(c.states);
    free(c.types);
    return SL_OK;
}

/* A consumer-protocol member's assignment in the classic ConsumerProtocolAssignment v0 form
 * (version, [topic, [partition]], user_data null), as Kafka describes these groups. */
static void classic_assignment(sl_broker_t *b, const sl_tpset_t *s, sl_buf_t *out) {
    sl_writer_t w = {out};
    sl_wr_i16(&w, 0);
    size_t at = sl_wr_i32(&w, 0);
    int32_t n = 0;
    for (int i = 0; i < s->n;) {
        int k = i;
        while (k < s->n && !memcmp(s->v[k].topic, s->v[i].topic, 16)) {
            k++;
        }
        sl_topic_t *t = sl_topic_find_id(b, s->v[i].topic);
        if (t) {
            sl_wr_strz(&w, false, t->name);
            sl_wr_i32(&w, k - i);
            for (int j = i; j < k; j++) {
                sl_wr_i32(&w, s->v[j].partition);
            }
            n++;
        }
        i = k;
    }
    sl_wr_patch_i32(&w, at, n);
    sl_wr_i32(&w, -1);
}

static void describe_cg(sl_req_t *req, sl_cgroup_t *g) {
    sl_writer_t *wr = &req->wr;
    int16_t v = req->api_version;
    sl_wr_i16(wr, KERR_NONE);
    sl_wr_strz(wr, false, g->id);
    sl_wr_strz(wr, false, sl_cg_state_name(g));
    sl_wr_strz(wr, false, "consumer");
    sl_wr_strz(wr, false, g->assignor ? g->assignor : "");
    sl_wr_i32(wr, g->n_members);
    sl_buf_t as = {0};
    for (int k = 0; k < g->n_members; k++) {
        const sl_cg_member_t *m = g->members[k];
        sl_wr_strz(wr, false, m->id);
        if (v >= 4) {
            sl_wr_strz(wr, false, m->instance_id);
        }
        sl_wr_strz(wr, false, m->client_id ? m->client_id : "");
        sl_wr_strz(wr, false, m->client_host ? m->client_host : "");
        sl_wr_bytes(wr, false, (sl_bytes_t){(const uint8_t *)"", 0});
        as.len = 0;
        classic_assignment(req->broker, &m->assigned, &as);
        sl_wr_bytes(wr, false, (sl_bytes_t){as.data, as.len});
    }
    sl_buf_fini(&as);
    if (v >= 3) {
        sl_wr_i32(wr, INT32_MIN);
    }
}

SL_HANDLER(DescribeGroups) {
    sl_reader_t *rd = &req->rd;
    int16_t v = req->api_version;
    sl_writer_t *wr = &req->wr;
    int32_t n = sl_rd_count(rd, false, 2);
    if (rd->err) {
        return rd->err;
    }
    sl_str_t *ids = sl_xcalloc((size_t)n + 1, sizeof *ids);
    for (int32_t i = 0; i < n; i++) {
        ids[i] = sl_rd_str(rd, false);
    }
    bool include_ops = v >= 3 && sl_rd_bool(rd);
    if (rd->err) {
        free(ids);
        return rd->err;
    }
    if (v >= 1) {
        sl_wr_i32(wr, 0);
    }
    sl_wr_i32(wr, n);
    for (int32_t i = 0; i < n; i++) {
        /* Kafka's rules: DESCRIBE on the group; in a cluster only its coordinator describes it
         * (another broker, or one still loading its offsets, would call it Dead). */
        int16_t gerr = !sl_req_allowed(req, SL_RES_GROUP, ids[i], SL_ACL_DESCRIBE)
                           ? KERR_GROUP_AUTHORIZATION_FAILED
                           : sl_otopic_check(req->broker, ids[i]);
        if (gerr) {
            sl_wr_i16(wr, gerr);
            sl_wr_str(wr, false, ids[i]);
            sl_wr_strz(wr, false, "");
            sl_wr_strz(wr, false, "");
            sl_wr_strz(wr, false, "");
            sl_wr_i32(wr, 0);
            if (v >= 3) {
                sl_wr_i32(wr, INT32_MIN);
            }
            continue;
        }
        sl_cgroup_t *cg = sl_cg_find(req->broker->cgroups, ids[i]);
        if (cg) {
            describe_cg(req, cg);
            continue;
        }
        sl_group_t *g = sl_coord_find(coord(req), ids[i]);
        if (g) { /* members whose session ended are gone, whether or not their timer ran */
            (void)sl_coord_expire_due(coord(req), g, sl_mono_ms());
        }
        sl_wr_i16(wr, KERR_NONE); /* unknown groups are described as Dead, as Kafka does */
        sl_wr_str(wr, false, ids[i]);
        sl_wr_strz(wr, false, g ? sl_group_state_name(g->state) : "Dead");
        sl_wr_strz(wr, false, g && g->protocol_type ? g->protocol_type : "");
        sl_wr_strz(wr, false, g && g->protocol && g->state == SL_GROUP_STABLE ? g->protocol : "");
        sl_wr_i32(wr, g ? g->n_members : 0);
        for (int k = 0; g && k < g->n_members; k++) {
            const sl_member_t *m = g->members[k];
            const sl_protocol_t *p = chosen(g, m);
            sl_wr_strz(wr, false, m->member_id);
            if (v >= 4) {
                sl_wr_strz(wr, false, m->instance_id);
            }
            sl_wr_strz(wr, false, m->client_id);
            sl_wr_strz(wr, false, m->client_host);
            sl_bytes_t md = {p ? p->metadata : (const uint8_t *)"", p ? p->metadata_len : 0};
            sl_wr_bytes(wr, false, md);
            sl_bytes_t as = {m->assignment ? m->assignment : (const uint8_t *)"",
                             m->assignment_len};
            sl_wr_bytes(wr, false, as);
        }
        if (v >= 3) {
            sl_wr_i32(wr, include_ops
                              ? sl_req_allowed_ops(req, SL_RES_GROUP, ids[i], SL_GROUP_OPS_ALL)
                              : INT32_MIN);
        }
    }
    free(ids);
    return SL_OK;
}

SL_HANDLER(DeleteGroups) {
    sl_reader_t *rd = &req->rd;
    sl_writer_t *wr = &req->wr;
    int32_t n = sl_rd_count(rd, false, 2);
    if (rd->err) {
        return rd->err;
    }
    sl_wr_i32(wr, 0);
    sl_wr_i32(wr, n);
    sl_durable_wait_t *w = NULL;
    for (int32_t i = 0; i < n && !rd->err; i++) {
        sl_str_t id = sl_rd_str(rd, false);
        if (rd->err) {
            break;
        }
        sl_wr_str(wr, false, id);
        if (!sl_req_allowed(req, SL_RES_GROUP, id, SL_ACL_DELETE)) {
            sl_wr_i16(wr, KERR_GROUP_AUTHORIZATION_FAILED);
            continue;
        }
        int16_t route = sl_otopic_check(req->broker, id);
        if (route) {
            sl_wr_i16(wr, route);
            continue;
        }
        /* A member whose session ended is gone even before its timer ran (librdkafka's 0081
         * deletes the group right after its last static member's session timeout). */
        sl_group_t *g = sl_coord_find(coord(req), id);
        if (g) {
            (void)sl_coord_expire_due(coord(req), g, sl_mono_ms());
        }
        /* Cluster: the deletions of its offsets are replicated before the answer. */
        sl_itopic_batch_t bt = {.now_ms = sl_wall_ms()};
        size_t *stored_at = NULL;
        g = req->broker->cluster ? g : NULL;
        size_t at = wr->buf->len;
        sl_cgroup_t *cg = sl_cg_find(req->broker->cgroups, id);
        if (cg && cg->n_members > 0) {
            sl_wr_i16(wr, KERR_NON_EMPTY_GROUP);
            continue;
        }
        for (size_t k = 0; g && g->n_members == 0 && k < g->n_offsets; k++) {
            add_delete(&bt, &stored_at, at, g->id, g->offsets[k].topic, g->offsets[k].partition);
        }
        int rc = sl_coord_delete_group(coord(req), id);
        if (cg) { /* its offsets (if any) went with the coordinator's entry */
            sl_cg_delete(req->broker->cgroups, cg);
            rc = rc == KERR_GROUP_ID_NOT_FOUND ? KERR_NONE : rc;
        }
        sl_wr_i16(wr, (int16_t)rc);
        if (rc == KERR_NONE && bt.n > 0) {
            w = store_commits(req, id, &bt, stored_at, w);
        }
        sl_itopic_batch_fini(&bt);
        free(stored_at);
    }
    if (rd->err || !w) {
        sl_durable_wait_cancel(w);
        return rd->err;
    }
    return sl_durable_wait_park(req->broker, w);
}

SL_HANDLER(OffsetDelete) {
    sl_reader_t *rd = &req->rd;
    sl_writer_t *wr = &req->wr;
    sl_str_t id = sl_rd_str(rd, false);
    int32_t n_topics = sl_rd_count(rd, false, 6);
    if (rd->err) {
        return rd->err;
    }
    int16_t denied = !sl_req_allowed(req, SL_RES_GROUP, id, SL_ACL_DELETE)
                         ? KERR_GROUP_AUTHORIZATION_FAILED
                         : sl_otopic_check(req->broker, id);
    sl_group_t *g = denied ? NULL : sl_coord_find(coord(req), id);
    sl_wr_i16(wr, denied ? denied : g ? KERR_NONE : KERR_GROUP_ID_NOT_FOUND);
    /* Cluster: the deletions are replicated before the answer. */
    sl_itopic_batch_t bt = {.now_ms = sl_wall_ms()};
    size_t *stored_at = NULL;
    sl_wr_i32(wr, 0);
    sl_wr_i32(wr, g ? n_topics : 0);
    for (int32_t t = 0; t < n_topics && !rd->err; t++) {
        sl_str_t topic = sl_rd_str(rd, false);
        int32_t np = sl_rd_count(rd, false, 4);
        if (g) {
            sl_wr_str(wr, false, topic);
            sl_wr_i32(wr, np);
        }
        bool subscribed = g && g->n_members > 0 && sl_group_subscribes(g, topic);
        sl_cgroup_t *cg = g ? sl_cg_find(req->broker->cgroups, id) : NULL;
        for (int k = 0; cg && k < cg->n_members && !subscribed; k++) {
            char *name = sl_str_dupz(topic);
            subscribed = sl_cg_member_subscribes(cg->members[k], name);
            free(name);
        }
        for (int32_t i = 0; i < np && !rd->err; i++) {
            int32_t index = sl_rd_i32(rd);
            if (!g) {
                continue;
            }
            sl_wr_i32(wr, index);
            int16_t rc = subscribed ? KERR_GROUP_SUBSCRIBED_TO_TOPIC
                                    : (int16_t)sl_coord_delete_offset(coord(req), g, topic, index);
            size_t at = sl_wr_i16(wr, rc);
            if (rc == KERR_NONE && req->broker->cluster) {
                char *name = sl_str_dupz(topic);
                add_delete(&bt, &stored_at, at, g->id, name, index);
                free(name);
            }
        }
    }
    sl_durable_wait_t *w =
        !rd->err && bt.n > 0 ? store_commits(req, id, &bt, stored_at, NULL) : NULL;
    sl_itopic_batch_fini(&bt);
    free(stored_at);
    if (rd->err || !w) {
        sl_durable_wait_cancel(w);
        return rd->err;
    }
    return sl_durable_wait_park(req->broker, w);
}

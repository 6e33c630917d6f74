/* handle_cgroup.c -- KIP-848's consumer group protocol on the wire; the state machine is
 * group/cgroup.c, committed offsets stay with group/coordinator.c.
 *
 * ConsumerGroupHeartbeat v0-1 (flexible): group_id, member_id, member_epoch, instance_id?,
 * rack_id?, rebalance_timeout_ms, subscribed_topic_names? [string], subscribed_topic_regex? (v1+),
 * server_assignor?, topic_partitions? [{topic_id, partitions [int32]}] -> throttle, error,
 * error_message?, member_id?, member_epoch, heartbeat_interval_ms, assignment? {topic_partitions
 * [{topic_id, partitions}]} (a nullable struct: int8 -1 = null, 1 = present).
 * ConsumerGroupDescribe v0 (flexible): group_ids [string], include_authorized_operations ->
 * throttle, groups [{error, error_message?, group_id, group_state, group_epoch, assignment_epoch,
 * assignor_name, members [{member_id, instance_id?, rack_id?, member_epoch, client_id,
 * client_host, subscribed_topic_names, subscribed_topic_regex?, assignment, target_assignment}],
 * authorized_operations}], where an assignment is {topic_partitions [{topic_id, topic_name,
 * partitions}]}.
 * A group id is a classic group or a consumer group, not both: a heartbeat for a classic group
 * with members is answered GROUP_ID_NOT_FOUND, as Kafka does (handle_group.c answers a JoinGroup
 * for a consumer group with members INCONSISTENT_GROUP_PROTOCOL). */
#include <string.h>

#include "broker/broker.h"
#include "broker/offsets_topic.h"
#include "common/clock.h"
#include "group/cgroup.h"
#include "group/coordinator.h"
#include "proto/kerr.h"

/* ---- the topic table, as cgroup.c sees it ---- */

typedef struct id_ctx {
    const uint8_t *id;
    sl_topic_t *found;
} id_ctx_t;

static void id_each(sl_topic_t *t, void *opaque) {
    id_ctx_t *c = opaque;
    if (!c->found && !memcmp(t->id, c->id, 16)) {
        c->found = t;
    }
}

static sl_topic_t *find_by_id(sl_broker_t *b, const uint8_t id[16]) {
    id_ctx_t c = {id, NULL};
    sl_topics_each(b, id_each, &c);
    return c.found;
}

sl_topic_t *sl_topic_find_id(sl_broker_t *b, const uint8_t id[16]) {
    return find_by_id(b, id);
}

typedef struct each_ctx {
    void (*fn)(const sl_cg_topic_t *t, void *arg);
    void *arg;
} each_ctx_t;

static void each_one(sl_topic_t *t, void *opaque) {
    each_ctx_t *c = opaque;
    sl_cg_topic_t ct = {t->name, t->id, t->n_partitions};
    c->fn(&ct, c->arg);
}

static void topic_each(void *opaque, void (*fn)(const sl_cg_topic_t *t, void *arg), void *arg) {
    each_ctx_t c = {fn, arg};
    sl_topics_each(opaque, each_one, &c);
}

static bool group_active(void *opaque, const char *id) {
    sl_cgroup_t *g = sl_cg_find(opaque, (sl_str_t){id, strlen(id)});
    return g && g->n_members > 0;
}

sl_err_t sl_broker_cgroups_start(sl_broker_t *b, char *err) {
    sl_cg_conf_t conf = {b->conf.group_consumer_session_timeout_ms,
                         b->conf.group_consumer_heartbeat_interval_ms,
                         b->conf.group_consumer_max_size, b->conf.group_consumer_assignors};
    sl_cg_topics_t ti = {topic_each, b};
    b->cgroups = sl_cgroups_new(&conf, &ti, err);
    if (!b->cgroups) {
        return SL_ERR_INVAL;
    }
    sl_coord_set_active_fn(b->coord, group_active, b->cgroups);
    return SL_OK;
}

/* ---- ConsumerGroupHeartbeat ---- */

/* Writes a topic-partition set grouped by topic: [{topic_id, (topic_name,) partitions}]. */
static void write_tpset(sl_req_t *req, const sl_tpset_t *s, bool names) {
    sl_writer_t *wr = &req->wr;
    int32_t n_topics = 0;
    for (int i = 0; i < s->n; i++) {
        n_topics += i == 0 || memcmp(s->v[i].topic, s->v[i - 1].topic, 16);
    }
    sl_wr_array_len(wr, true, n_topics);
    for (int i = 0; i < s->n;) {
        int k = i;
        while (k < s->n && !memcmp(s->v[k].topic, s->v[i].topic, 16)) {
            k++;
        }
        sl_wr_uuid(wr, s->v[i].topic);
        if (names) {
            sl_topic_t *t = find_by_id(req->broker, s->v[i].topic);
            sl_wr_strz(wr, true, t ? t->name : "");
        }
        sl_wr_array_len(wr, true, k - i);
        for (int j = i; j < k; j++) {
            sl_wr_i32(wr, s->v[j].partition);
        }
        sl_wr_tags(wr, true);
        i = k;
    }
}

SL_HANDLER(ConsumerGroupHeartbeat) {
    sl_reader_t *rd = &req->rd;
    sl_broker_t *b = req->broker;
    sl_cg_hb_t hb = {0};
    hb.group_id = sl_rd_str(rd, true);
    hb.member_id = sl_rd_str(rd, true);
    hb.member_epoch = sl_rd_i32(rd);
    hb.instance_id = sl_rd_str(rd, true);
    hb.rack_id = sl_rd_str(rd, true);
    hb.rebalance_timeout_ms = sl_rd_i32(rd);
    hb.n_topics = sl_rd_array_len(rd, true, 1);
    if (rd->err) {
        return rd->err;
    }
    sl_str_t *names = sl_xcalloc((size_t)(hb.n_topics > 0 ? hb.n_topics : 0) + 1, sizeof *names);
    for (int32_t i = 0; i < hb.n_topics && !rd->err; i++) {
        names[i] = sl_rd_str(rd, true);
        if (!names[i].p) {
            names[i] = (sl_str_t){"", 0}; /* a null name subscribes to nothing */
        }
    }
    hb.topics = names;
    if (req->api_version >= 1) {
        hb.regex = sl_rd_str(rd, true);
    }
    hb.server_assignor = sl_rd_str(rd, true);
    int32_t n_owned = sl_rd_array_len(rd, true, 18);
    sl_tpset_t owned = {0};
    for (int32_t t = 0; t < n_owned && !rd->err; t++) {
        uint8_t id[16];
        sl_rd_uuid(rd, id);
        int32_t np = sl_rd_count(rd, true, 4);
        for (int32_t i = 0; i < np && !rd->err; i++) {
            sl_tpset_add(&owned, id, sl_rd_i32(rd));
        }
        sl_rd_tags(rd, true);
    }
    sl_rd_tags(rd, true);
    if (rd->err) {
        free(names);
        sl_tpset_free(&owned);
        return rd->err;
    }
    hb.owned = n_owned >= 0 ? &owned : NULL;
    hb.client_id = req->client_id;
    const char *peer = sl_conn_peer(req->conn);
    const char *colon = strrchr(peer, ':');
    hb.client_host = (sl_str_t){peer, colon ? (size_t)(colon - peer) : strlen(peer)};

    sl_cg_hb_result_t r = {0};
    sl_group_t *classic = sl_coord_find(b->coord, hb.group_id);
    if (!sl_req_allowed(req, SL_RES_GROUP, hb.group_id, SL_ACL_READ)) { /* Kafka's rule */
        r.err = KERR_GROUP_AUTHORIZATION_FAILED;
        r.message = "Not authorized to read the group";
    } else if ((r.err = sl_otopic_check(b, hb.group_id)) != KERR_NONE) {
        r.message = "This broker is not the group's coordinator"; /* cluster: re-find it */
    } else if (classic && classic->n_members > 0) {
        r.err = KERR_GROUP_ID_NOT_FOUND;
        r.message = "The group is a classic group, not a consumer group.";
    } else {
        sl_cg_heartbeat(b->cgroups, &hb, (int64_t)sl_mono_ms(), &r);
    }
    sl_writer_t *wr = &req->wr;
    sl_wr_i32(wr, 0);
    sl_wr_i16(wr, r.err);
    sl_wr_strz(wr, true, r.err ? r.message : NULL);
    if (r.err) {
        sl_wr_strz(wr, true, NULL);
    } else if (r.member_id) {
        sl_wr_strz(wr, true, r.member_id);
    } else {
        sl_wr_str(wr, true, hb.member_id); /* left: the member is gone */
    }
    sl_wr_i32(wr, r.err ? -1 : r.epoch);
    sl_wr_i32(wr, (int32_t)sl_cg_heartbeat_interval_ms(b->cgroups));
    if (r.err || !r.assignment) {
        sl_wr_i8(wr, -1);
    } else {
        sl_wr_i8(wr, 1);
        write_tpset(req, r.assignment, false);
        sl_wr_tags(wr, true);
    }
    sl_wr_tags(wr, true);
    free(names);
    sl_tpset_free(&owned);
    return SL_OK;
}

/* ---- ConsumerGroupDescribe ---- */

static void write_member(sl_req_t *req, const sl_cg_member_t *m) {
    sl_writer_t *wr = &req->wr;
    sl_wr_strz(wr, true, m->id);
    sl_wr_strz(wr, true, m->instance_id);
    sl_wr_strz(wr, true, m->rack_id);
    sl_wr_i32(wr, m->epoch);
    sl_wr_strz(wr, true, m->client_id ? m->client_id : "");
    sl_wr_strz(wr, true, m->client_host ? m->client_host : "");
    sl_wr_array_len(wr, true, m->n_topics);
    for (int i = 0; i < m->n_topics; i++) {
        sl_wr_strz(wr, true, m->topics[i]);
    }
    sl_wr_strz(wr, true, m->regex);
    write_tpset(req, &m->assigned, true);
    sl_wr_tags(wr, true);
    write_tpset(req, &m->target, true);
    sl_wr_tags(wr, true);
    sl_wr_tags(wr, true);
}

SL_HANDLER(ConsumerGroupDescribe) {
    sl_reader_t *rd = &req->rd;
    sl_broker_t *b = req->broker;
    int32_t n = sl_rd_count(rd, true, 1);
    if (rd->err) {
        return rd->err;
    }
    sl_str_t *ids = sl_xcalloc((size_t)n + 1, sizeof *ids);
    for (int32_t i = 0; i < n; i++) {
        ids[i] = sl_rd_str(rd, true);
    }
    (void)sl_rd_bool(rd);
    sl_rd_tags(rd, true);
    if (rd->err) {
        free(ids);
        return rd->err;
    }
    sl_writer_t *wr = &req->wr;
    sl_wr_i32(wr, 0);
    sl_wr_array_len(wr, true, n);
    for (int32_t i = 0; i < n; i++) {
        bool denied = ids[i].p && !sl_req_allowed(req, SL_RES_GROUP, ids[i], SL_ACL_DESCRIBE);
        /* In a cluster only the group's coordinator describes it: another broker, or one still
         * loading its offsets, answers as DescribeGroups does, so the client re-finds it. */
        int16_t route = ids[i].len && !denied ? sl_otopic_check(b, ids[i]) : KERR_NONE;
        sl_cgroup_t *g = ids[i].p && !denied && !route ? sl_cg_find(b->cgroups, ids[i]) : NULL;
        if (!g) {
            bool classic = ids[i].p && !denied && !route && sl_coord_find(b->coord, ids[i]);
            sl_wr_i16(wr, denied       ? KERR_GROUP_AUTHORIZATION_FAILED
                          : route      ? route
                          : ids[i].len ? KERR_GROUP_ID_NOT_FOUND
                                       : KERR_INVALID_GROUP_ID);
            sl_wr_strz(wr, true,
                       denied    ? "Not authorized to describe the group"
                       : route   ? "This broker is not the group's coordinator, or is loading it."
                       : classic ? "The group is a classic group, not a consumer group."
                                 : "The group does not exist.");
            sl_wr_str(wr, true, ids[i].p ? ids[i] : (sl_str_t){"", 0});
            sl_wr_strz(wr, true, "Dead");
            sl_wr_i32(wr, -1);
            sl_wr_i32(wr, -1);
            sl_wr_strz(wr, true, "");
            sl_wr_array_len(wr, true, 0);
        } else {
            sl_wr_i16(wr, KERR_NONE);
            sl_wr_strz(wr, true, NULL);
            sl_wr_strz(wr, true, g->id);
            sl_wr_strz(wr, true, sl_cg_state_name(g));
            sl_wr_i32(wr, g->epoch);
            sl_wr_i32(wr, g->assignment_epoch);
            sl_wr_strz(wr, true, g->assignor ? g->assignor : "");
            sl_wr_array_len(wr, true, g->n_members);
            for (int k = 0; k < g->n_members; k++) {
                write_member(req, g->members[k]);
            }
        }
        sl_wr_i32(wr, INT32_MIN); /* authorized operations: not computed */
        sl_wr_tags(wr, true);
    }
    sl_wr_tags(wr, true);
    free(ids);
    return SL_OK;
}

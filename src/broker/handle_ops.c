/* handle_ops.c -- operator APIs of a cluster: partition reassignment, leader election and the
 * metadata quorum's description.
 *
 * AlterPartitionReassignments (API 45, v0; flexible):
 *   request:  timeout_ms, topics {name, partitions {partition_index, replicas (nullable: cancel)}}
 *   response: throttle_time_ms, error_code, error_message,
 *             responses {name, partitions {partition_index, error_code, error_message}}
 * ListPartitionReassignments (API 46, v0; flexible):
 *   request:  timeout_ms, topics (nullable: all) {name, partition_indexes}
 *   response: throttle_time_ms, error_code, error_message,
 *             topics {name, partitions {partition_index, replicas, adding_replicas,
 *             removing_replicas}}
 * ElectLeaders (API 43, v0..v2; flexible v2):
 *   request:  election_type (v1+), topic_partitions (nullable: all) {topic, partitions}, timeout_ms
 *   response: throttle_time_ms, error_code (v1+),
 *             replica_election_results {topic, partition_result {partition_id, error_code,
 *             error_message}}
 * DescribeQuorum (API 55, v0..v1; flexible):
 *   request:  topics {topic_name, partitions {partition_index}}
 *   response: error_code, topics {topic_name, partitions {partition_index, error_code,
 *             leader_id, leader_epoch, high_watermark, current_voters {replica_id,
 *             log_end_offset, last_fetch_timestamp (v1+), last_caught_up_timestamp (v1+)},
 *             observers}}
 *
 * Reassignments and elections are metadata records (SL_META_REASSIGN, SL_META_ELECT) committed
 * through the quorum and decided in the image's apply (mstate.c), so every broker reaches the
 * same placement; the checks here give the client Kafka's error before anything is proposed. A
 * request is answered once its command is committed (the move itself then runs: replicas catch
 * up, the placement switches). Kafka's authorization: ALTER on the cluster to change, DESCRIBE
 * to list or describe. On a single node there is nothing to move: reassignments to that node
 * alone are accepted as done, anything else is INVALID_REPLICA_ASSIGNMENT. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/cluster.h"
#include "broker/mstate.h"
#include "cluster/quorum.h"
#include "common/log.h"
#include "common/util.h"
#include "proto/aclops.h"
#include "proto/kerr.h"

#define TOPIC_MAX 256

/* The metadata quorum's topic and partition as Kafka names them (DescribeQuorum). */
#define QUORUM_TOPIC "__cluster_metadata"

static void copy_name(char *out, sl_str_t s) {
    size_t n = SL_MIN(s.len, (size_t)TOPIC_MAX - 1);
    memcpy(out, s.p ? s.p : "", n);
    out[n] = '\0';
}

/* The error a committed-or-not proposal gives every partition it carried. */
static int16_t commit_error(sl_err_t rc) {
    return rc == SL_OK ? KERR_NONE : rc == SL_AGAIN ? KERR_REQUEST_TIMED_OUT : KERR_NOT_CONTROLLER;
}

/* ---- AlterPartitionReassignments ---- */

typedef struct ra_part {
    int32_t index;
    int32_t n; /* -1: null (cancel) */
    int32_t replicas[SL_META_MAX_REPLICAS];
    bool too_many;
    int16_t err;
    char msg[SL_ERRLEN];
} ra_part_t;

typedef struct ra_topic {
    sl_str_t name;
    ra_part_t *parts;
    int32_t n_parts;
} ra_topic_t;

static void free_ra_topics(ra_topic_t *ts, int32_t n) {
    for (int32_t i = 0; i < n; i++) {
        free(ts[i].parts);
    }
    free(ts);
}

/* Single node: nothing can move; the only valid target is this node alone (already there). */
static int16_t single_node_reassign(sl_broker_t *b, const char *topic, const ra_part_t *p,
                                    char *msg) {
    sl_topic_t *t = sl_topic_find(b, (sl_str_t){topic, strlen(topic)});
    if (!t || p->index < 0 || p->index >= t->n_partitions) {
        snprintf(msg, SL_ERRLEN, "The partition does not exist.");
        return KERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    if (p->n < 0) {
        snprintf(msg, SL_ERRLEN, "No reassignment is in progress for %s-%d.", topic, p->index);
        return KERR_NO_REASSIGNMENT_IN_PROGRESS;
    }
    if (p->n != 1 || p->replicas[0] != (int32_t)b->conf.node_id) {
        snprintf(msg, SL_ERRLEN, "A single broker (node %lld) can only hold its own replicas.",
                 (long long)b->conf.node_id);
        return KERR_INVALID_REPLICA_ASSIGNMENT;
    }
    return KERR_NONE;
}

SL_HANDLER(AlterPartitionReassignments) {
    sl_broker_t *b = req->broker;
    sl_reader_t *rd = &req->rd;
    (void)sl_rd_i32(rd); /* timeout_ms: a proposal waits at most 5 s anyway */
    int32_t n = sl_rd_count(rd, true, 3);
    if (rd->err) {
        return rd->err;
    }
    ra_topic_t *ts = sl_xcalloc((size_t)n + 1, sizeof *ts);
    for (int32_t i = 0; i < n && !rd->err; i++) {
        ts[i].name = sl_rd_str(rd, true);
        int32_t np = sl_rd_count(rd, true, 6);
        ts[i].parts = sl_xcalloc((size_t)np + 1, sizeof *ts[i].parts);
        ts[i].n_parts = np;
        for (int32_t j = 0; j < np && !rd->err; j++) {
            ra_part_t *p = &ts[i].parts[j];
            p->index = sl_rd_i32(rd);
            int32_t nr = sl_rd_array_len(rd, true, 4);
            p->n = nr < 0 ? -1 : SL_MIN(nr, SL_META_MAX_REPLICAS);
            p->too_many = nr > SL_META_MAX_REPLICAS;
            for (int32_t k = 0; k < nr && !rd->err; k++) {
                int32_t id = sl_rd_i32(rd);
                if (k < SL_META_MAX_REPLICAS) {
                    p->replicas[k] = id;
                }
            }
            sl_rd_tags(rd, true);
        }
        sl_rd_tags(rd, true);
    }
    sl_rd_tags(rd, true);
    if (rd->err) {
        free_ra_topics(ts, n);
        return rd->err;
    }
    bool may = sl_req_allowed_cluster(req, SL_ACL_ALTER);
    /* Check every partition, then commit the valid ones in one command. */
    sl_buf_t cmd = {0};
    for (int32_t i = 0; i < n; i++) {
        char topic[TOPIC_MAX];
        copy_name(topic, ts[i].name);
        for (int32_t j = 0; j < ts[i].n_parts; j++) {
            ra_part_t *p = &ts[i].parts[j];
            if (!may) {
                p->err = KERR_CLUSTER_AUTHORIZATION_FAILED;
                snprintf(p->msg, sizeof p->msg,
                         "AlterPartitionReassignments needs ALTER on the "
                         "cluster");
                continue;
            }
            if (p->too_many) {
                p->err = KERR_INVALID_REPLICA_ASSIGNMENT;
                snprintf(p->msg, sizeof p->msg, "At most %d replicas.", SL_META_MAX_REPLICAS);
                continue;
            }
            if (!b->cluster) {
                p->err = single_node_reassign(b, topic, p, p->msg);
                continue;
            }
            p->err = sl_mstate_check_reassign(sl_cluster_image(b), topic, p->index, p->replicas,
                                              p->n < 0 ? 0 : p->n, p->n < 0, p->msg);
            if (p->err == KERR_NONE) {
                sl_meta_assign_t a = {.n_replicas = p->n < 0 ? 0 : p->n};
                memcpy(a.replicas, p->replicas, sizeof a.replicas);
                sl_meta_rec_t rec = {.type = SL_META_REASSIGN,
                                     .name = topic,
                                     .partitions = p->index,
                                     .assign = &a,
                                     .n_assign = 1};
                sl_meta_encode(&rec, &cmd);
            }
        }
    }
    int16_t committed = KERR_NONE;
    if (cmd.len > 0) {
        committed = commit_error(sl_cluster_propose(b, cmd.data, cmd.len));
        sl_log(committed ? SL_LOG_WARN : SL_LOG_INFO, "cluster",
               "conn=%llu principal=\"User:%s\" err=%d msg=\"partition reassignment %s\"",
               (unsigned long long)sl_conn_id(req->conn), sl_req_principal(req), (int)committed,
               committed ? "not committed" : "committed");
    }
    sl_buf_fini(&cmd);
    sl_writer_t *wr = &req->wr;
    sl_wr_i32(wr, 0);           /* throttle_time_ms */
    sl_wr_i16(wr, KERR_NONE);   /* error_code */
    sl_wr_strz(wr, true, NULL); /* error_message */
    sl_wr_array_len(wr, true, n);
    for (int32_t i = 0; i < n; i++) {
        sl_wr_str(wr, true, ts[i].name);
        sl_wr_array_len(wr, true, ts[i].n_parts);
        for (int32_t j = 0; j < ts[i].n_parts; j++) {
            ra_part_t *p = &ts[i].parts[j];
            if (p->err == KERR_NONE && committed != KERR_NONE) {
                p->err = committed;
                snprintf(p->msg, sizeof p->msg, "The change did not commit through the quorum.");
            }
            sl_wr_i32(wr, p->index);
            sl_wr_i16(wr, p->err);
            sl_wr_strz(wr, true, p->err ? p->msg : NULL);
            sl_wr_tags(wr, true);
        }
        sl_wr_tags(wr, true);
    }
    sl_wr_tags(wr, true);
    free_ra_topics(ts, n);
    return SL_OK;
}

/* ---- ListPartitionReassignments ---- */

typedef struct list_ctx {
    const char *topic; /* NULL: every topic */
    const int32_t *parts;
    int32_t n_parts; /* -1: every partition */
    /* results: a flat list of (topic, partition, placement, reassignment) */
    struct ra_row {
        char topic[TOPIC_MAX];
        int32_t partition;
        sl_meta_assign_t a;
        sl_mreassign_t r;
    } * rows;
    size_t n_rows;
} list_ctx_t;

static void collect_ra(const char *topic, int32_t partition, const sl_meta_assign_t *a,
                       const sl_mreassign_t *r, void *opaque) {
    list_ctx_t *lc = opaque;
    if (lc->topic && strcmp(lc->topic, topic)) {
        return;
    }
    bool wanted = lc->n_parts < 0;
    for (int32_t i = 0; i < lc->n_parts && !wanted; i++) {
        wanted = lc->parts[i] == partition;
    }
    if (!wanted) {
        return;
    }
    lc->rows = sl_xrealloc(lc->rows, (lc->n_rows + 1) * sizeof *lc->rows);
    struct ra_row *row = &lc->rows[lc->n_rows++];
    snprintf(row->topic, sizeof row->topic, "%s", topic);
    row->partition = partition;
    row->a = *a;
    row->r = *r;
}

static bool in(const int32_t *ids, int32_t n, int32_t id) {
    for (int32_t i = 0; i < n; i++) {
        if (ids[i] == id) {
            return true;
        }
    }
    return false;
}

/* Writes the ids of `a` that are not in `b`. */
static void write_minus(sl_writer_t *wr, const int32_t *a, int32_t na, const int32_t *b,
                        int32_t nb) {
    int32_t n = 0;
    for (int32_t i = 0; i < na; i++) {
        n += !in(b, nb, a[i]);
    }
    sl_wr_array_len(wr, true, n);
    for (int32_t i = 0; i < na; i++) {
        if (!in(b, nb, a[i])) {
            sl_wr_i32(wr, a[i]);
        }
    }
}

SL_HANDLER(ListPartitionReassignments) {
    sl_broker_t *b = req->broker;
    sl_reader_t *rd = &req->rd;
    (void)sl_rd_i32(rd); /* timeout_ms */
    int32_t n = sl_rd_array_len(rd, true, 3);
    if (rd->err) {
        return rd->err;
    }
    list_ctx_t lc = {0};
    for (int32_t i = 0; i < n && !rd->err; i++) {
        char topic[TOPIC_MAX];
        copy_name(topic, sl_rd_str(rd, true));
        int32_t np = sl_rd_count(rd, true, 4);
        int32_t *parts = sl_xcalloc((size_t)np + 1, sizeof *parts);
        for (int32_t j = 0; j < np && !rd->err; j++) {
            parts[j] = sl_rd_i32(rd);
        }
        sl_rd_tags(rd, true);
        if (!rd->err && b->cluster) {
            lc.topic = topic;
            lc.parts = parts;
            lc.n_parts = np;
            sl_mstate_each_reassign(sl_cluster_image(b), collect_ra, &lc);
        }
        free(parts);
    }
    sl_rd_tags(rd, true);
    if (!rd->err && n < 0 && b->cluster) {
        lc.topic = NULL;
        lc.n_parts = -1;
        sl_mstate_each_reassign(sl_cluster_image(b), collect_ra, &lc);
    }
    if (rd->err) {
        free(lc.rows);
        return rd->err;
    }
    bool may = sl_req_allowed_cluster(req, SL_ACL_DESCRIBE);
    sl_writer_t *wr = &req->wr;
    sl_wr_i32(wr, 0); /* throttle_time_ms */
    if (!may) {
        sl_wr_i16(wr, KERR_CLUSTER_AUTHORIZATION_FAILED);
        sl_wr_strz(wr, true, "ListPartitionReassignments needs DESCRIBE on the cluster");
        sl_wr_array_len(wr, true, 0);
        sl_wr_tags(wr, true);
        free(lc.rows);
        return SL_OK;
    }
    sl_wr_i16(wr, KERR_NONE);
    sl_wr_strz(wr, true, NULL);
    /* rows come grouped by topic (the image walks topic by topic) */
    int32_t n_topics = 0;
    for (size_t i = 0; i < lc.n_rows; i++) {
        n_topics += i == 0 || strcmp(lc.rows[i].topic, lc.rows[i - 1].topic) != 0;
    }
    sl_wr_array_len(wr, true, n_topics);
    for (size_t i = 0; i < lc.n_rows;) {
        size_t j = i;
        while (j < lc.n_rows && !strcmp(lc.rows[j].topic, lc.rows[i].topic)) {
            j++;
        }
        sl_wr_strz(wr, true, lc.rows[i].topic);
        sl_wr_array_len(wr, true, (int32_t)(j - i));
        for (size_t k = i; k < j; k++) {
            const struct ra_row *row = &lc.rows[k];
            sl_wr_i32(wr, row->partition);
            sl_wr_array_len(wr, true, row->a.n_replicas);
            for (int32_t r = 0; r < row->a.n_replicas; r++) {
                sl_wr_i32(wr, row->a.replicas[r]);
            }
            write_minus(wr, row->r.target, row->r.n_target, row->r.origin, row->r.n_origin);
            write_minus(wr, row->r.origin, row->r.n_origin, row->r.target, row->r.n_target);
            sl_wr_tags(wr, true);
        }
        sl_wr_tags(wr, true);
        i = j;
    }
    sl_wr_tags(wr, true);
    free(lc.rows);
    return SL_OK;
}

/* ---- ElectLeaders ---- */

typedef struct el_part {
    char topic[TOPIC_MAX];
    int32_t partition;
    int16_t err;
    char msg[SL_ERRLEN];
} el_part_t;

typedef struct el_all {
    el_part_t *v;
    size_t n;
} el_all_t;

static void collect_part(const char *topic, int32_t partition, const sl_meta_assign_t *a,
                         void *opaque) {
    (void)a;
    el_all_t *all = opaque;
    all->v = sl_xrealloc(all->v, (all->n + 1) * sizeof *all->v);
    el_part_t *e = &all->v[all->n++];
    memset(e, 0, sizeof *e);
    snprintf(e->topic, sizeof e->topic, "%s", topic);
    e->partition = partition;
}

SL_HANDLER(ElectLeaders) {
    sl_broker_t *b = req->broker;
    sl_reader_t *rd = &req->rd;
    bool flex = req->flex;
    int8_t type = req->api_version >= 1 ? sl_rd_i8(rd) : SL_ELECT_PREFERRED;
    int32_t n = sl_rd_array_len(rd, flex, 3);
    if (rd->err) {
        return rd->err;
    }
    el_all_t all = {0};
    for (int32_t i = 0; i < n && !rd->err; i++) {
        char topic[TOPIC_MAX];
        copy_name(topic, sl_rd_str(rd, flex));
        int32_t np = sl_rd_count(rd, flex, 4);
        for (int32_t j = 0; j < np && !rd->err; j++) {
            int32_t part = sl_rd_i32(rd);
            all.v = sl_xrealloc(all.v, (all.n + 1) * sizeof *all.v);
            el_part_t *e = &all.v[all.n++];
            memset(e, 0, sizeof *e);
            snprintf(e->topic, sizeof e->topic, "%s", topic);
            e->partition = part;
        }
        sl_rd_tags(rd, flex);
    }
    (void)sl_rd_i32(rd); /* timeout_ms */
    sl_rd_tags(rd, flex);
    if (rd->err) {
        free(all.v);
        return rd->err;
    }
    bool every = n < 0; /* null: every partition; Kafka then lists only those that changed */
    if (every && b->cluster) {
        sl_mstate_each_partition(sl_cluster_image(b), collect_part, &all);
    }
    bool may = sl_req_allowed_cluster(req, SL_ACL_ALTER);
    int16_t top = may ? KERR_NONE : KERR_CLUSTER_AUTHORIZATION_FAILED;
    sl_buf_t cmd = {0};
    for (size_t i = 0; i < all.n && may; i++) {
        el_part_t *e = &all.v[i];
        if (!b->cluster) {
            sl_topic_t *t = sl_topic_find(b, (sl_str_t){e->topic, strlen(e->topic)});
            bool exists = t && e->partition >= 0 && e->partition < t->n_partitions;
            e->err = exists ? KERR_ELECTION_NOT_NEEDED : KERR_UNKNOWN_TOPIC_OR_PARTITION;
            snprintf(e->msg, sizeof e->msg, "%s",
                     exists ? "Leader election not needed for topic partition."
                            : "The partition does not exist.");
            continue;
        }
        e->err = sl_mstate_check_elect(sl_cluster_image(b), e->topic, e->partition, type, e->msg);
        if (e->err == KERR_NONE) {
            sl_meta_rec_t rec = {
                .type = SL_META_ELECT, .name = e->topic, .partitions = e->partition, .value = type};
            sl_meta_encode(&rec, &cmd);
        }
    }
    int16_t committed = KERR_NONE;
    if (cmd.len > 0) {
        committed = commit_error(sl_cluster_propose(b, cmd.data, cmd.len));
        sl_log(committed ? SL_LOG_WARN : SL_LOG_INFO, "cluster",
               "conn=%llu principal=\"User:%s\" type=%d err=%d msg=\"leader election %s\"",
               (unsigned long long)sl_conn_id(req->conn), sl_req_principal(req), (int)type,
               (int)committed, committed ? "not committed" : "committed");
    }
    sl_buf_fini(&cmd);
    size_t shown = 0;
    for (size_t i = 0; i < all.n && may; i++) {
        el_part_t *e = &all.v[i];
        if (e->err == KERR_NONE && committed != KERR_NONE) {
            e->err = committed;
            snprintf(e->msg, sizeof e->msg, "The election did not commit through the quorum.");
        }
        if (!every || e->err != KERR_ELECTION_NOT_NEEDED) {
            all.v[shown++] = *e;
        }
    }
    if (!may) {
        /* Kafka answers CLUSTER_AUTHORIZATION_FAILED for every partition (and at the top, v1+) */
        for (size_t i = 0; i < all.n; i++) {
            all.v[i].err = KERR_CLUSTER_AUTHORIZATION_FAILED;
            snprintf(all.v[i].msg, sizeof all.v[i].msg, "ElectLeaders needs ALTER on the cluster");
        }
        shown = every ? 0 : all.n;
    }
    sl_writer_t *wr = &req->wr;
    sl_wr_i32(wr, 0); /* throttle_time_ms */
    if (req->api_version >= 1) {
        sl_wr_i16(wr, top);
    }
    /* one entry per topic, in first-seen order */
    int32_t n_topics = 0;
    for (size_t i = 0; i < shown; i++) {
        bool seen = false;
        for (size_t k = 0; k < i && !seen; k++) {
            seen = !strcmp(all.v[k].topic, all.v[i].topic);
        }
        n_topics += !seen;
    }
    sl_wr_array_len(wr, flex, n_topics);
    for (size_t i = 0; i < shown; i++) {
        bool seen = false;
        for (size_t k = 0; k < i && !seen; k++) {
            seen = !strcmp(all.v[k].topic, all.v[i].topic);
        }
        if (seen) {
            continue;
        }
        int32_t np = 0;
        for (size_t k = i; k < shown; k++) {
            np += !strcmp(all.v[k].topic, all.v[i].topic);
        }
        sl_wr_strz(wr, flex, all.v[i].topic);
        sl_wr_array_len(wr, flex, np);
        for (size_t k = i; k < shown; k++) {
            el_part_t *e = &all.v[k];
            if (strcmp(e->topic, all.v[i].topic)) {
                continue;
            }
            sl_wr_i32(wr, e->partition);
            sl_wr_i16(wr, e->err);
            sl_wr_strz(wr, flex, e->err ? e->msg : NULL);
            sl_wr_tags(wr, flex);
        }
        sl_wr_tags(wr, flex);
    }
    sl_wr_tags(wr, flex);
    free(all.v);
    return SL_OK;
}

/* ---- DescribeQuorum ---- */

static void write_voter(sl_writer_t *wr, int16_t v, int32_t id, int64_t leo, int64_t fetch_ms,
                        int64_t caught_ms) {
    sl_wr_i32(wr, id);
    sl_wr_i64(wr, leo);
    if (v >= 1) {
        sl_wr_i64(wr, fetch_ms);
        sl_wr_i64(wr, caught_ms);
    }
    sl_wr_tags(wr, true);
}

SL_HANDLER(DescribeQuorum) {
    sl_broker_t *b = req->broker;
    sl_reader_t *rd = &req->rd;
    int16_t v = req->api_version;
    int32_t n = sl_rd_count(rd, true, 3);
    if (rd->err) {
        return rd->err;
    }
    typedef struct dq {
        sl_str_t name;
        int32_t parts[8];
        int32_t n_parts;
    } dq_t;
    dq_t *ts = sl_xcalloc((size_t)n + 1, sizeof *ts);
    for (int32_t i = 0; i < n && !rd->err; i++) {
        ts[i].name = sl_rd_str(rd, true);
        int32_t np = sl_rd_count(rd, true, 2);
        for (int32_t j = 0; j < np && !rd->err; j++) {
            int32_t p = sl_rd_i32(rd);
            sl_rd_tags(rd, true);
            if (j < 8) {
                ts[i].parts[ts[i].n_parts++] = p;
            }
        }
        sl_rd_tags(rd, true);
    }
    sl_rd_tags(rd, true);
    if (rd->err) {
        free(ts);
        return rd->err;
    }
    sl_writer_t *wr = &req->wr;
    if (!sl_req_allowed_cluster(req, SL_ACL_DESCRIBE)) {
        sl_wr_i16(wr, KERR_CLUSTER_AUTHORIZATION_FAILED);
        sl_wr_array_len(wr, true, 0);
        sl_wr_tags(wr, true);
        free(ts);
        return SL_OK;
    }
    if (!b->cluster) {
        /* A single node has no metadata quorum to describe. */
        sl_wr_i16(wr, KERR_UNKNOWN_TOPIC_OR_PARTITION);
        sl_wr_array_len(wr, true, 0);
        sl_wr_tags(wr, true);
        free(ts);
        return SL_OK;
    }
    sl_quorum_status_t st;
    int16_t qerr = sl_cluster_quorum(b, &st);
    sl_wr_i16(wr, KERR_NONE);
    sl_wr_array_len(wr, true, n);
    for (int32_t i = 0; i < n; i++) {
        bool ours = ts[i].name.len == strlen(QUORUM_TOPIC) &&
                    !memcmp(ts[i].name.p, QUORUM_TOPIC, ts[i].name.len);
        sl_wr_str(wr, true, ts[i].name);
        sl_wr_array_len(wr, true, ts[i].n_parts);
        for (int32_t j = 0; j < ts[i].n_parts; j++) {
            int16_t err = !ours || ts[i].parts[j] != 0 ? KERR_UNKNOWN_TOPIC_OR_PARTITION : qerr;
            sl_wr_i32(wr, ts[i].parts[j]);
            sl_wr_i16(wr, err);
            sl_wr_i32(wr, err ? -1 : (int32_t)st.leader_id);
            sl_wr_i32(wr, err ? -1 : (int32_t)st.term);
            sl_wr_i64(wr, err ? -1 : (int64_t)st.commit_index);
            size_t nv = err ? 0 : st.n_progress;
            sl_wr_array_len(wr, true, (int32_t)nv);
            for (size_t k = 0; k < nv; k++) {
                const sl_quorum_progress_t *pr = &st.progress[k];
                write_voter(wr, v, (int32_t)pr->id, (int64_t)pr->match_index, pr->last_contact_ms,
                            pr->caught_up_ms);
            }
            sl_wr_array_len(wr, true, 0); /* observers: every node is a voter */
            sl_wr_tags(wr, true);
        }
        sl_wr_tags(wr, true);
    }
    sl_wr_tags(wr, true);
    free(ts);
    return SL_OK;
}

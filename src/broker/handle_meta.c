/* handle_meta.c -- ApiVersions and Metadata.
 *
 * Metadata field versions (MetadataRequest.json / MetadataResponse.json; flexible from v9):
 *   request : topics (v0: array, empty = all; v1+: nullable, null = all), topic_id (v10+: with a
 *             null name, the topic is looked up by id; UNKNOWN_TOPIC_ID when none has it),
 *             allow_auto_topic_creation (v4+), include_cluster_authorized_operations (v8-10),
 *             include_topic_authorized_operations (v8+)
 *   response: throttle_time_ms (v3+), brokers {node_id, host, port, rack (v1+)},
 *             cluster_id (v2+), controller_id (v1+), topics {error_code, name (nullable v12+),
 *             topic_id (v10+), is_internal (v1+), partitions {error_code, partition_index,
 *             leader_id, leader_epoch (v7+), replica_nodes, isr_nodes, offline_replicas (v5+)},
 *             topic_authorized_operations (v8+)}, cluster_authorized_operations (v8-10) */
#include <string.h>

#include "broker/broker.h"
#include "broker/cluster.h"
#include "broker/offsets_topic.h"
#include "broker/txn_topic.h"
#include "proto/aclops.h"
#include "proto/kerr.h"

void sl_write_api_versions(sl_writer_t *wr, bool flex);

SL_HANDLER(ApiVersions) {
    int16_t v = req->api_version;
    if (v >= 3) {
        (void)sl_rd_str(&req->rd, true); /* client_software_name */
        (void)sl_rd_str(&req->rd, true); /* client_software_version */
        sl_rd_tags(&req->rd, true);
    }
    if (req->rd.err) {
        return req->rd.err;
    }
    sl_writer_t *wr = &req->wr;
    sl_wr_i16(wr, KERR_NONE);
    sl_write_api_versions(wr, req->flex);
    if (v >= 1) {
        sl_wr_i32(wr, 0); /* throttle_time_ms */
    }
    sl_wr_tags(wr, req->flex);
    return SL_OK;
}

static const uint8_t zero_uuid[16];

/* Cluster mode: the partition as the quorum placed it, with its leader, leader epoch and
 * in-sync replicas; a partition with no live leader (none in sync is live: its leader is
 * elected only from the ISR) is LEADER_NOT_AVAILABLE with leader -1. */
static void write_cluster_partition(sl_req_t *req, sl_topic_t *t, int32_t i) {
    sl_writer_t *wr = &req->wr;
    int16_t v = req->api_version;
    bool flex = req->flex;
    sl_meta_assign_t a;
    bool live;
    int32_t offline[SL_META_MAX_REPLICAS], n_off;
    if (!sl_cluster_partition(req->broker, t->name, i, &a, &live, offline, &n_off)) {
        a = (sl_meta_assign_t){.leader = -1};
        live = false;
    }
    int16_t err = !live                                ? KERR_LEADER_NOT_AVAILABLE
                  : sl_plog_offline(t->parts[i]->plog) ? KERR_KAFKA_STORAGE_ERROR
                                                       : KERR_NONE;
    sl_wr_i16(wr, err);
    sl_wr_i32(wr, i);
    sl_wr_i32(wr, live ? a.leader : -1);
    if (v >= 7) {
        sl_wr_i32(wr, a.epoch);
    }
    sl_wr_array_len(wr, flex, a.n_replicas);
    for (int32_t r = 0; r < a.n_replicas; r++) {
        sl_wr_i32(wr, a.replicas[r]);
    }
    sl_wr_array_len(wr, flex, a.n_isr);
    for (int32_t r = 0; r < a.n_isr; r++) {
        sl_wr_i32(wr, a.isr[r]);
    }
    if (v >= 5) {
        sl_wr_array_len(wr, flex, n_off);
        for (int32_t r = 0; r < n_off; r++) {
            sl_wr_i32(wr, offline[r]);
        }
    }
    sl_wr_tags(wr, flex);
}

int32_t sl_req_allowed_ops(const sl_req_t *req, int8_t res_type, sl_str_t name, int32_t all) {
    if (!req->broker->authz) {
        return all;
    }
    int32_t ops = 0;
    for (int8_t op = SL_ACL_READ; op <= SL_ACL_IDEMPOTENT_WRITE; op++) {
        if ((all & (1 << op)) && sl_req_allowed(req, res_type, name, op)) {
            ops |= 1 << op;
        }
    }
    return ops;
}

/* One topic of the answer; `asked_id` is the id it was asked by (v10+, NULL: by name or all),
 * echoed when no topic has it. */
static void write_topic(sl_req_t *req, sl_topic_t *t, int16_t err, sl_str_t name,
                        const uint8_t *asked_id, bool ops) {
    sl_writer_t *wr = &req->wr;
    int16_t v = req->api_version;
    bool flex = req->flex;
    sl_wr_i16(wr, (int16_t)err);
    sl_wr_str(wr, flex, name);
    if (v >= 10) {
        sl_wr_uuid(wr, t ? t->id : asked_id ? asked_id : zero_uuid);
    }
    if (v >= 1) {
        sl_wr_bool(wr, false); /* is_internal */
    }
    int32_t np = t ? t->n_partitions : 0;
    sl_wr_array_len(wr, flex, np);
    int32_t node = (int32_t)req->broker->conf.node_id;
    for (int32_t i = 0; i < np && req->broker->cluster; i++) {
        write_cluster_partition(req, t, i);
    }
    for (int32_t i = 0; i < np && !req->broker->cluster; i++) {
        /* A partition whose log could not be opened at start-up is offline. */
        sl_wr_i16(wr, sl_plog_offline(t->parts[i]->plog) ? KERR_KAFKA_STORAGE_ERROR : KERR_NONE);
        sl_wr_i32(wr, i);
        sl_wr_i32(wr, node); /* leader */
        if (v >= 7) {
            sl_wr_i32(wr, 0); /* leader_epoch */
        }
        sl_wr_array_len(wr, flex, 1);
        sl_wr_i32(wr, node); /* replicas */
        sl_wr_array_len(wr, flex, 1);
        sl_wr_i32(wr, node); /* isr */
        if (v >= 5) {
            sl_wr_array_len(wr, flex, 0); /* offline replicas */
        }
        sl_wr_tags(wr, flex);
    }
    if (v >= 8) {
        sl_wr_i32(wr, ops && t ? sl_req_allowed_ops(req, SL_RES_TOPIC, name, SL_TOPIC_OPS_ALL)
                               : INT32_MIN);
    }
    sl_wr_tags(wr, flex);
}

typedef struct all_ctx {
    sl_req_t *req;
    bool ops;
    bool count_only;
    int32_t n; /* topics the principal may describe */
} all_ctx_t;

/* All topics: only those the principal may DESCRIBE are listed (Kafka's rule). */
static void write_each(sl_topic_t *t, void *opaque) {
    all_ctx_t *ctx = opaque;
    sl_str_t name = {t->name, strlen(t->name)};
    if (!sl_req_allowed(ctx->req, SL_RES_TOPIC, name, SL_ACL_DESCRIBE)) {
        return;
    }
    ctx->n++;
    if (!ctx->count_only) {
        write_topic(ctx->req, t, KERR_NONE, name, NULL, ctx->ops);
    }
}

SL_HANDLER(Metadata) {
    sl_broker_t *b = req->broker;
    sl_reader_t *rd = &req->rd;
    int16_t v = req->api_version;
    bool flex = req->flex;

    /* Decode the topic list first (views into the frame), then the trailing flags. */
    int32_t n = sl_rd_array_len(rd, flex, flex ? 2 : 2);
    if (rd->err) {
        return rd->err;
    }
    bool all = (v == 0 && n == 0) || n < 0;
    sl_str_t *names = NULL;
    uint8_t(*ids)[16] = NULL; /* v10+: a topic asked by id has a null name (KIP-516) */
    if (n > 0) {
        names = sl_xcalloc((size_t)n, sizeof *names);
        ids = sl_xcalloc((size_t)n, sizeof *ids);
        for (int32_t i = 0; i < n; i++) {
            if (v >= 10) {
                sl_rd_uuid(rd, ids[i]);
            }
            names[i] = sl_rd_str(rd, flex);
            sl_rd_tags(rd, flex);
        }
    }
    bool allow_auto = true;
    if (v >= 4) {
        allow_auto = sl_rd_bool(rd);
    }
    bool cluster_ops = v >= 8 && v <= 10 && sl_rd_bool(rd);
    bool topic_ops = v >= 8 && sl_rd_bool(rd);
    sl_rd_tags(rd, flex);
    if (rd->err) {
        free(names);
        free(ids);
        return rd->err;
    }

    /* Auto-create before writing anything, so the response lists the new topics. */
    int16_t *errs = n > 0 ? sl_xcalloc((size_t)n, sizeof *errs) : NULL;
    for (int32_t i = 0; i < n; i++) {
        if (!names[i].p) {
            /* By topic id, as librdkafka asks for the topics of a KIP-848 assignment. */
            bool has_id = memcmp(ids[i], zero_uuid, 16) != 0;
            sl_topic_t *t = has_id ? sl_topic_find_id(b, ids[i]) : NULL;
            /* A topic the principal may not DESCRIBE is not named by its id either. */
            errs[i] = !has_id ? KERR_INVALID_REQUEST
                      : !t    ? KERR_UNKNOWN_TOPIC_ID
                      : !sl_req_allowed(req, SL_RES_TOPIC, (sl_str_t){t->name, strlen(t->name)},
                                        SL_ACL_DESCRIBE)
                          ? KERR_TOPIC_AUTHORIZATION_FAILED
                          : KERR_NONE;
            continue;
        }
        /* Kafka's rules: a topic the principal may not DESCRIBE is TOPIC_AUTHORIZATION_FAILED
         * whether it exists or not; auto-creation needs CREATE on the cluster or the topic. */
        if (!sl_req_allowed(req, SL_RES_TOPIC, names[i], SL_ACL_DESCRIBE)) {
            errs[i] = KERR_TOPIC_AUTHORIZATION_FAILED;
            continue;
        }
        if (sl_topic_find(b, names[i])) {
            continue;
        }
        /* A cluster's __consumer_offsets and __transaction_state are created by the quorum
         * leader (offsets_topic.c, txn_topic.c) with their own partition count and replication
         * factor, never by a client's Metadata. */
        bool internal = b->cluster && ((names[i].len == strlen(SL_OFFSETS_TOPIC) &&
                                        !memcmp(names[i].p, SL_OFFSETS_TOPIC, names[i].len)) ||
                                       (names[i].len == strlen(SL_TXN_TOPIC) &&
                                        !memcmp(names[i].p, SL_TXN_TOPIC, names[i].len)));
        bool may_create = allow_auto && b->conf.auto_create_topics && !internal &&
                          (sl_req_allowed_cluster(req, SL_ACL_CREATE) ||
                           sl_req_allowed(req, SL_RES_TOPIC, names[i], SL_ACL_CREATE));
        if (!sl_topic_name_valid(names[i])) {
            errs[i] = KERR_INVALID_TOPIC_EXCEPTION;
        } else if (allow_auto && b->conf.auto_create_topics && !may_create && !internal) {
            errs[i] = KERR_TOPIC_AUTHORIZATION_FAILED;
        } else if (may_create) {
            char err[SL_ERRLEN];
            int rc = sl_topic_create(b, names[i], -1, NULL, 0, false, err);
            /* Cluster: ALREADY_EXISTS without the topic here is another broker's create, not
             * applied here yet: LEADER_NOT_AVAILABLE, as while any topic is being created. */
            errs[i] =
                (int16_t)(rc == KERR_TOPIC_ALREADY_EXISTS && sl_topic_find(b, names[i]) ? KERR_NONE
                          : rc ? KERR_LEADER_NOT_AVAILABLE
                               : KERR_NONE);
        } else {
            errs[i] = KERR_UNKNOWN_TOPIC_OR_PARTITION;
        }
    }

    sl_writer_t *wr = &req->wr;
    if (v >= 3) {
        sl_wr_i32(wr, 0); /* throttle_time_ms */
    }
    if (b->cluster) {
        sl_cluster_write_brokers(b, wr, flex, v);
    } else {
        sl_wr_array_len(wr, flex, 1);
        sl_wr_i32(wr, (int32_t)b->conf.node_id);
        sl_wr_strz(wr, flex, sl_req_listener(req)->adv_host);
        sl_wr_i32(wr, sl_req_listener(req)->adv_port);
        if (v >= 1) {
            sl_wr_strz(wr, flex, NULL); /* rack */
        }
        sl_wr_tags(wr, flex);
    }
    if (v >= 2) {
        sl_wr_strz(wr, flex, b->cluster_id);
    }
    if (v >= 1) {
        /* controller: the quorum leader in a cluster */
        sl_wr_i32(wr, b->cluster ? sl_cluster_controller(b) : (int32_t)b->conf.node_id);
    }
    if (all) {
        all_ctx_t ctx = {req, topic_ops, true, 0};
        if (b->authz) {
            sl_topics_each(b, write_each, &ctx);
        } else {
            ctx.n = (int32_t)b->n_topics;
        }
        sl_wr_array_len(wr, flex, ctx.n);
        ctx.count_only = false;
        sl_topics_each(b, write_each, &ctx);
    } else {
        sl_wr_array_len(wr, flex, n < 0 ? 0 : n);
        for (int32_t i = 0; i < n; i++) {
            bool by_id = !names[i].p;
            sl_topic_t *t = errs[i] ? NULL
                            : by_id ? sl_topic_find_id(b, ids[i])
                                    : sl_topic_find(b, names[i]);
            sl_str_t name = by_id && t ? (sl_str_t){t->name, strlen(t->name)} : names[i];
            write_topic(req, t,
                        t ? KERR_NONE : (errs[i] ? errs[i] : KERR_UNKNOWN_TOPIC_OR_PARTITION), name,
                        by_id ? ids[i] : NULL, topic_ops);
        }
    }
    if (v >= 8 && v <= 10) {
        sl_str_t cn = {SL_ACL_CLUSTER_NAME, sizeof SL_ACL_CLUSTER_NAME - 1};
        sl_wr_i32(wr, cluster_ops ? sl_req_allowed_ops(req, SL_RES_CLUSTER, cn, SL_CLUSTER_OPS_ALL)
                                  : INT32_MIN);
    }
    sl_wr_tags(wr, flex);
    free(names);
    free(ids);
    free(errs);
    return SL_OK;
}

/* DescribeCluster v0 (flexible; KIP-700):
 *   request:  include_cluster_authorized_operations (bool)
 *   response: throttle_time_ms, error_code, error_message, cluster_id, controller_id,
 *             brokers {broker_id, host, port, rack}, cluster_authorized_operations
 * The same brokers and controller as Metadata: the live registered brokers and the quorum
 * leader in a cluster, this broker alone otherwise. */
SL_HANDLER(DescribeCluster) {
    sl_broker_t *b = req->broker;
    sl_reader_t *rd = &req->rd;
    bool ops = sl_rd_bool(rd);
    sl_rd_tags(rd, true);
    if (rd->err) {
        return rd->err;
    }
    sl_writer_t *wr = &req->wr;
    sl_wr_i32(wr, 0);           /* throttle_time_ms */
    sl_wr_i16(wr, KERR_NONE);   /* error_code */
    sl_wr_strz(wr, true, NULL); /* error_message */
    sl_wr_strz(wr, true, b->cluster_id);
    sl_wr_i32(wr, b->cluster ? sl_cluster_controller(b) : (int32_t)b->conf.node_id);
    if (b->cluster) {
        sl_cluster_write_brokers(b, wr, true, 1);
    } else {
        sl_wr_array_len(wr, true, 1);
        sl_wr_i32(wr, (int32_t)b->conf.node_id);
        sl_wr_strz(wr, true, sl_req_listener(req)->adv_host);
        sl_wr_i32(wr, sl_req_listener(req)->adv_port);
        sl_wr_strz(wr, true, NULL); /* rack */
        sl_wr_tags(wr, true);
    }
    sl_str_t cn = {SL_ACL_CLUSTER_NAME, sizeof SL_ACL_CLUSTER_NAME - 1};
    sl_wr_i32(wr,
              ops ? sl_req_allowed_ops(req, SL_RES_CLUSTER, cn, SL_CLUSTER_OPS_ALL) : INT32_MIN);
    sl_wr_tags(wr, true);
    return SL_OK;
}

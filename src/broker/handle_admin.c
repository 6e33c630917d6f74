/* handle_admin.c -- topic administration: CreateTopics, DeleteTopics, CreatePartitions,
 * DescribeConfigs, AlterConfigs.
 *
 * CreateTopics (v0..v7; flexible v5+): topics {name, num_partitions, replication_factor,
 *   assignments {partition_index, broker_ids}, configs {name, value}}, timeout_ms,
 *   validate_only (v1+). Response: throttle_time_ms (v2+), topics {name, topic_id (v7+),
 *   error_code, error_message (v1+), num_partitions (v5+), replication_factor (v5+),
 *   configs (v5+) {name, value, read_only, config_source, is_sensitive}}
 * DeleteTopics (v0..v6; flexible v4+): topic_names (v0-5) | topics {name, topic_id} (v6+),
 *   timeout_ms. Response: throttle_time_ms (v1+), responses {name, topic_id (v6+), error_code,
 *   error_message (v5+)}
 * CreatePartitions (v0..v3; flexible v2+): topics {name, count, assignments}, timeout_ms,
 *   validate_only. Response: throttle_time_ms, results {name, error_code, error_message}
 * DescribeConfigs (v0..v4; flexible v4): resources {resource_type, resource_name,
 *   configuration_keys}, include_synonyms (v1+), include_documentation (v3+). Response:
 *   throttle_time_ms, results {error_code, error_message, resource_type, resource_name, configs
 *   {name, value, read_only, is_default (v0) | config_source (v1+), is_sensitive, synonyms (v1+),
 *   config_type (v3+), documentation (v3+)}}
 * AlterConfigs (v0..v2; flexible v2): resources {resource_type, resource_name, configs {name,
 *   value}}, validate_only. Response: throttle_time_ms, responses {error_code, error_message,
 *   resource_type, resource_name}. Replaces all of a topic's overrides (Kafka's semantics), or
 *   of a BROKER resource's dynamic configs (name "" for the cluster default, or this broker's id).
 * IncrementalAlterConfigs (v0..v1; flexible v1): resources {resource_type, resource_name,
 *   configs {name, config_operation (0 SET, 1 DELETE, 2 APPEND, 3 SUBTRACT), value}},
 *   validate_only. Response: throttle_time_ms, responses {error_code, error_message,
 *   resource_type, resource_name}. Changes only the keys named; APPEND and SUBTRACT work on
 *   list-valued keys (comma-separated), starting from the current value.
 * Dynamic broker configs are in dynconf.h. */
#include <stdio.h>
#include <string.h>

#include "broker/broker.h"
#include "broker/cluster.h"
#include "broker/dynconf.h"
#include "proto/kerr.h"

#define RESOURCE_TOPIC                2
#define RESOURCE_BROKER               4
#define SOURCE_DYNAMIC_TOPIC          1
#define SOURCE_DYNAMIC_BROKER         2
#define SOURCE_DYNAMIC_DEFAULT_BROKER 3
#define SOURCE_STATIC_BROKER          4
#define SOURCE_DEFAULT                5
#define TYPE_BOOLEAN                  1
#define TYPE_STRING                   2
#define TYPE_LONG                     5

static const uint8_t zero_uuid[16];

/* Reads a configs array {name, value} into arena-backed kv pairs (strings copied). */
static sl_kv_t *read_configs(sl_reader_t *rd, bool flex, sl_arena_t *arena, size_t *n_out) {
    int32_t n = sl_rd_array_len(rd, flex, 3);
    if (rd->err || n <= 0) {
        *n_out = 0;
        return NULL;
    }
    sl_kv_t *kv = sl_arena_alloc(arena, (size_t)n * sizeof *kv);
    for (int32_t i = 0; i < n && !rd->err; i++) {
        sl_str_t k = sl_rd_str(rd, flex), v = sl_rd_str(rd, flex);
        sl_rd_tags(rd, flex);
        kv[i].key = sl_arena_alloc(arena, k.len + 1);
        if (k.p) {
            memcpy(kv[i].key, k.p, k.len);
        }
        kv[i].value = sl_arena_alloc(arena, v.len + 1);
        if (v.p) {
            memcpy(kv[i].value, v.p, v.len);
        }
    }
    *n_out = (size_t)n;
    return kv;
}

/* Writes one topic's effective configs (CreateTopics v5+ and DescribeConfigs share the data). */
static bool is_override(const sl_topic_t *t, const char *key) {
    for (size_t i = 0; i < t->n_configs; i++) {
        if (!strcmp(t->configs[i].key, key)) {
            return true;
        }
    }
    return false;
}

/* A topic's override of `key`, or NULL. */
static const char *override_of(const sl_topic_t *t, const char *key) {
    for (size_t i = 0; i < t->n_configs; i++) {
        if (!strcmp(t->configs[i].key, key)) {
            return t->configs[i].value;
        }
    }
    return NULL;
}

static int8_t config_type(const sl_conf_def_t *d) {
    return d->type == SL_CONF_INT    ? TYPE_LONG
           : d->type == SL_CONF_BOOL ? TYPE_BOOLEAN
                                     : TYPE_STRING;
}

/* Manual replica assignments. One broker holds every partition, so an assignment is valid when
 * each partition's replica list is exactly [this broker's id]. What is wrong with one is kept as
 * a small fault (the first one found) and put into words only in the response, so a request of
 * many topics costs no message buffer per topic. */
typedef enum assign_why {
    ASSIGN_OK = 0,
    ASSIGN_EMPTY,     /* an empty replica list */
    ASSIGN_RF,        /* arg replicas, more than the one broker */
    ASSIGN_BROKER,    /* arg: a broker id that is not this one */
    ASSIGN_NUMBERING, /* arg: the entry count; partitions must be numbered 0..arg-1 */
} assign_why_t;

typedef struct assign_fault {
    int8_t why; /* assign_why_t */
    int32_t arg;
} assign_fault_t;

static void assign_fail(assign_fault_t *f, assign_why_t why, int32_t arg) {
    if (f->why == ASSIGN_OK) {
        f->why = (int8_t)why;
        f->arg = arg;
    }
}

static void assign_message(const assign_fault_t *f, char *msg) {
    switch (f->why) {
    case ASSIGN_EMPTY:
        snprintf(msg, SL_ERRLEN, "Replica list must not be empty.");
        break;
    case ASSIGN_RF:
        snprintf(msg, SL_ERRLEN, "Replication factor: %d larger than available brokers: 1.",
                 f->arg);
        break;
    case ASSIGN_BROKER:
        snprintf(msg, SL_ERRLEN, "Unknown broker %d in the replica assignment.", f->arg);
        break;
    case ASSIGN_NUMBERING:
        snprintf(msg, SL_ERRLEN, "Partitions must be numbered 0 to %d, each once.", f->arg - 1);
        break;
    default:
        msg[0] = 0;
    }
}

/* Reads one entry's broker list and notes the first fault in `f`. */
static void read_replicas(sl_reader_t *rd, bool flex, int32_t node, assign_fault_t *f) {
    int32_t nb = sl_rd_array_len(rd, flex, 4);
    if (nb < 1) {
        assign_fail(f, ASSIGN_EMPTY, 0);
    } else if (nb > 1) {
        assign_fail(f, ASSIGN_RF, nb);
    }
    for (int32_t k = 0; k < nb && !rd->err; k++) {
        int32_t id = sl_rd_i32(rd);
        if (id != node) {
            assign_fail(f, ASSIGN_BROKER, id);
        }
    }
    sl_rd_tags(rd, flex);
}

/* Reads a manual assignment array, noting its first fault in `f`: CreateTopics' entries
 * {partition_index, broker_ids} (`indexed`: the indexes must number 0..n-1, each once) or
 * CreatePartitions' {broker_ids} of the new partitions. The entry count, -1 for a null array. */
static int32_t read_assignments(sl_reader_t *rd, bool flex, int32_t node, bool indexed,
                                assign_fault_t *f) {
    int32_t na = sl_rd_array_len(rd, flex, 4);
    /* A bitmap of the partition indexes seen. */
    uint8_t *seen = indexed && na > 0 ? sl_xcalloc((size_t)na / 8 + 1, 1) : NULL;
    for (int32_t j = 0; j < na && !rd->err; j++) {
        if (indexed) {
            int32_t index = sl_rd_i32(rd);
            if (index < 0 || index >= na || seen[index / 8] & (1 << index % 8)) {
                assign_fail(f, ASSIGN_NUMBERING, na);
            } else {
                seen[index / 8] |= (uint8_t)(1 << index % 8);
            }
        }
        read_replicas(rd, flex, node, f);
    }
    free(seen);
    return na;
}

/* Kafka's rule for a config resource: `op` on the topic, or on the cluster for a broker. 0 or
 * the authorization error. */
static int16_t config_denied(sl_req_t *req, int8_t type, sl_str_t name, int8_t op) {
    if (type == RESOURCE_TOPIC) {
        return sl_req_allowed(req, SL_RES_TOPIC, name, op) ? KERR_NONE
                                                           : KERR_TOPIC_AUTHORIZATION_FAILED;
    }
    if (type == RESOURCE_BROKER) {
        return sl_req_allowed_cluster(req, op) ? KERR_NONE : KERR_CLUSTER_AUTHORIZATION_FAILED;
    }
    return KERR_NONE;
}

/* The checks AlterConfigs and IncrementalAlterConfigs make of one resource: ALTER_CONFIGS on
 * it, a BROKER resource naming this broker (or "" for the cluster default), a TOPIC that exists,
 * no other type. KERR_NONE when it may be altered, with the topic in *t_out (NULL for a broker)
 * and the dynamic-config scope in *scope_out (-1 for a topic); otherwise the error, with its
 * message in `msg`. */
static int alter_target(sl_req_t *req, int8_t type, sl_str_t name, sl_topic_t **t_out,
                        int *scope_out, char msg[SL_ERRLEN]) {
    sl_broker_t *b = req->broker;
    *t_out = type == RESOURCE_TOPIC ? sl_topic_find(b, name) : NULL;
    *scope_out = type == RESOURCE_BROKER ? sl_dynconf_scope(b, name.p, name.len) : -1;
    int16_t denied = config_denied(req, type, name, SL_ACL_ALTER_CONFIGS);
    if (denied) {
        snprintf(msg, SL_ERRLEN, "Authorization failed.");
        return denied;
    }
    if (type == RESOURCE_BROKER && *scope_out < 0) {
        snprintf(msg, SL_ERRLEN, "Unexpected broker id: this is broker %lld",
                 (long long)b->conf.node_id);
        return KERR_INVALID_REQUEST;
    }
    if (type != RESOURCE_TOPIC && type != RESOURCE_BROKER) {
        snprintf(msg, SL_ERRLEN, "Unsupported resource type");
        return KERR_INVALID_REQUEST;
    }
    if (type == RESOURCE_TOPIC && !*t_out) {
        snprintf(msg, SL_ERRLEN, "The topic does not exist.");
        return KERR_UNKNOWN_TOPIC_OR_PARTITION;
    }
    return KERR_NONE;
}

typedef struct sl_ct_wait sl_ct_wait_t;

/* One topic's outcome in a CreateTopics answer. */
typedef struct ct_res {
    struct sl_ct_wait *wait; /* the request it belongs to */
    char *name;
    int32_t partitions;
    int16_t rf;
    int err;
    char msg[SL_ERRLEN];
} ct_res_t;

/* A CreateTopics request answered once its topics created in slices (topicwork.c) are. */
struct sl_ct_wait {
    struct sl_ct_wait *next;
    sl_req_t *req; /* NULL once its connection closed */
    bool validate_only;
    int32_t n, n_pending;
    ct_res_t *res;
};

/* Writes one topic's entry of a CreateTopics answer. */
static void write_created(sl_req_t *req, const ct_res_t *r) {
    sl_broker_t *b = req->broker;
    sl_writer_t *wr = &req->wr;
    int16_t v = req->api_version;
    bool flex = req->flex;
    sl_str_t name = {r->name, strlen(r->name)};
    int err = r->err;
    sl_topic_t *t = err == KERR_NONE ? sl_topic_find(b, name) : NULL;
    sl_wr_str(wr, flex, name);
    if (v >= 7) {
        sl_wr_uuid(wr, t ? t->id : zero_uuid);
    }
    sl_wr_i16(wr, (int16_t)err);
    if (v >= 1) {
        sl_wr_strz(wr, flex, err ? r->msg : NULL);
    }
    if (v >= 5) {
        sl_wr_i32(wr, t ? t->n_partitions : (err ? -1 : r->partitions));
        int64_t dflt = b->cluster && b->conf.default_replication_factor < 1
                           ? 3 /* default.replication.factor -1 in a cluster */
                           : SL_MAX(b->conf.default_replication_factor, 1);
        sl_wr_i16(wr, err ? -1 : (int16_t)(r->rf > 0 ? r->rf : b->cluster ? dflt : 1));
        if (t) {
            sl_wr_array_len(wr, flex, (int32_t)sl_topic_conf_n_defs);
            for (size_t k = 0; k < sl_topic_conf_n_defs; k++) {
                const sl_conf_def_t *d = &sl_topic_conf_defs[k];
                char val[SL_CONF_STR_MAX];
                sl_conf_format(d, &t->conf, val);
                if (d->type == SL_CONF_IGNORED && override_of(t, d->name)) {
                    snprintf(val, sizeof val, "%s", override_of(t, d->name));
                }
                sl_wr_strz(wr, flex, d->name);
                sl_wr_strz(wr, flex, val);
                sl_wr_bool(wr, false);
                sl_wr_i8(wr, is_override(t, d->name) ? SOURCE_DYNAMIC_TOPIC : SOURCE_DEFAULT);
                sl_wr_bool(wr, false);
                sl_wr_tags(wr, flex);
            }
        } else {
            sl_wr_array_len(wr, flex, -1);
        }
    }
    sl_wr_tags(wr, flex);
}

static void write_ct_answer(sl_req_t *req, const ct_res_t *res, int32_t n) {
    sl_writer_t *wr = &req->wr;
    if (req->api_version >= 2) {
        sl_wr_i32(wr, 0);
    }
    sl_wr_array_len(wr, req->flex, n);
    for (int32_t i = 0; i < n; i++) {
        write_created(req, &res[i]);
    }
    sl_wr_tags(wr, req->flex);
}

static void ct_wait_free(sl_ct_wait_t *w) {
    for (int32_t i = 0; i < w->n; i++) {
        free(w->res[i].name);
    }
    free(w->res);
    free(w);
}

/* A topic created in slices is in (or failed): the request is answered once all of its are. */
static void ct_done(sl_broker_t *b, void *opaque, int err, const char *msg) {
    ct_res_t *r = opaque;
    sl_ct_wait_t *w = r->wait;
    r->err = err;
    snprintf(r->msg, sizeof r->msg, "%s", msg);
    if (--w->n_pending > 0) {
        return;
    }
    sl_ct_wait_t **pp = &b->ct_waits;
    while (*pp != w) {
        pp = &(*pp)->next;
    }
    *pp = w->next;
    if (w->req) {
        write_ct_answer(w->req, w->res, w->n);
        sl_req_finish(w->req);
        free(w->req);
    }
    ct_wait_free(w);
}

void sl_admin_drop_conn(sl_broker_t *b, const sl_conn_t *conn) {
    for (sl_ct_wait_t *w = b->ct_waits; w; w = w->next) {
        if (w->req && w->req->conn == conn) {
            /* Its topics are still created (as Kafka's would be); nobody hears of it. */
            sl_resp_discard(w->req->resp);
            free(w->req);
            w->req = NULL;
        }
    }
}

/* Creates one topic of a CreateTopics request into `r`: a single broker creates a topic of
 * SL_TOPICWORK_MIN partitions or more in slices (r->err then set by ct_done, later). */
static void create_one(sl_req_t *req, sl_ct_wait_t *w, ct_res_t *r, int32_t partitions,
                       const sl_kv_t *configs, size_t n_configs) {
    sl_broker_t *b = req->broker;
    sl_str_t name = {r->name, strlen(r->name)};
    int32_t n = partitions == -1 ? (int32_t)b->conf.num_partitions : partitions;
    if (b->cluster || w->validate_only || n < SL_TOPICWORK_MIN) {
        r->err = sl_topic_create(b, name, partitions, configs, n_configs, w->validate_only, r->msg);
        return;
    }
    sl_topic_t *t;
    r->err = sl_topic_create_begin(b, name, partitions, configs, n_configs, false, &t, r->msg);
    if (r->err == KERR_NONE && t) {
        w->n_pending++;
        sl_topicwork_create(b, t, ct_done, r);
    }
}

SL_HANDLER(CreateTopics) {
    sl_broker_t *b = req->broker;
    sl_reader_t *rd = &req->rd;
    int16_t v = req->api_version;
    bool flex = req->flex;
    sl_arena_t arena = {0};
    int32_t n = sl_rd_count(rd, flex, 8);
    if (rd->err) {
        return rd->err;
    }
    typedef struct ct {
        sl_str_t name;
        int32_t partitions;
        int16_t rf;
        int32_t n_assign; /* manual assignment entries, 0 if none */
        assign_fault_t fault;
        sl_kv_t *configs;
        size_t n_configs;
    } ct_t;
    ct_t *topics = sl_arena_alloc(&arena, (size_t)n * sizeof *topics);
    for (int32_t i = 0; i < n && !rd->err; i++) {
        topics[i].name = sl_rd_str(rd, flex);
        topics[i].partitions = sl_rd_i32(rd);
        topics[i].rf = sl_rd_i16(rd);
        topics[i].fault = (assign_fault_t){ASSIGN_OK, 0};
        int32_t na = read_assignments(rd, flex, (int32_t)b->conf.node_id, true, &topics[i].fault);
        topics[i].n_assign = na > 0 ? na : 0;
        topics[i].configs = read_configs(rd, flex, &arena, &topics[i].n_configs);
        sl_rd_tags(rd, flex);
    }
    (void)sl_rd_i32(rd); /* timeout_ms: answered when the topics exist */
    bool validate_only = v >= 1 ? sl_rd_bool(rd) : false;
    sl_rd_tags(rd, flex);
    if (rd->err) {
        sl_arena_fini(&arena);
        return rd->err;
    }
    sl_ct_wait_t *w = sl_xcalloc(1, sizeof *w);
    w->validate_only = validate_only;
    w->n = n;
    w->res = sl_xcalloc((size_t)n + 1, sizeof *w->res);
    for (int32_t i = 0; i < n; i++) {
        ct_t *c = &topics[i];
        ct_res_t *r = &w->res[i];
        r->wait = w;
        r->name = sl_str_dupz(c->name);
        r->partitions = c->partitions;
        r->rf = c->rf;
        char *msg = r->msg;
        int err;
        /* Kafka's rule: CREATE on the cluster or on the topic. */
        if (!sl_req_allowed_cluster(req, SL_ACL_CREATE) &&
            !sl_req_allowed(req, SL_RES_TOPIC, c->name, SL_ACL_CREATE)) {
            err = KERR_TOPIC_AUTHORIZATION_FAILED;
            snprintf(msg, SL_ERRLEN, "Authorization failed.");
        } else if (c->n_assign > 0 && (c->partitions != -1 || c->rf != -1)) {
            err = KERR_INVALID_REQUEST;
            snprintf(msg, SL_ERRLEN,
                     "Both numPartitions or replicationFactor and replicasAssignments were set. "
                     "Both cannot be used at the same time.");
        } else if (c->n_assign > 0 && c->fault.why != ASSIGN_OK) {
            err = KERR_INVALID_REPLICA_ASSIGNMENT;
            assign_message(&c->fault, msg);
        } else if (c->n_assign > 0) {
            create_one(req, w, r, c->n_assign, c->configs, c->n_configs);
            err = r->err;
        } else if (b->cluster &&
                   (err = sl_cluster_check_rf(b, c->rf, msg)) != KERR_NONE) { /* cluster.c */
        } else if (!b->cluster && c->rf != -1 && c->rf != 1) {
            err = KERR_INVALID_REPLICATION_FACTOR;
            snprintf(msg, SL_ERRLEN, "Replication factor: %d larger than available brokers: 1.",
                     c->rf);
        } else {
            b->create_rf = c->rf; /* the placement of a cluster's new topic (cluster.c) */
            create_one(req, w, r, c->partitions, c->configs, c->n_configs);
            err = r->err;
            b->create_rf = 0;
        }
        r->err = err;
    }
    sl_arena_fini(&arena);
    if (w->n_pending > 0) {
        w->req = req; /* answered by ct_done */
        w->next = b->ct_waits;
        b->ct_waits = w;
        return SL_AGAIN;
    }
    write_ct_answer(req, w->res, n);
    ct_wait_free(w);
    return SL_OK;
}

SL_HANDLER(DeleteTopics) {
    sl_broker_t *b = req->broker;
    sl_reader_t *rd = &req->rd;
    int16_t v = req->api_version;
    bool flex = req->flex;
    int32_t n = sl_rd_count(rd, flex, 1);
    if (rd->err) {
        return rd->err;
    }
    sl_str_t *names = sl_xcalloc((size_t)n + 1, sizeof *names);
    for (int32_t i = 0; i < n && !rd->err; i++) {
        names[i] = sl_rd_str(rd, flex);
        if (v >= 6) {
            uint8_t id[16];
            sl_rd_uuid(rd, id);
            sl_rd_tags(rd, flex);
            if (!names[i].p) {
                /* Deletion by id: find the topic whose id matches. */
                for (size_t h = 0; h < b->topic_tab_size && !names[i].p; h++) {
                    for (sl_topic_t *t = b->topic_tab[h]; t; t = t->next) {
                        if (!memcmp(t->id, id, 16)) {
                            names[i].p = t->name;
                            names[i].len = strlen(t->name);
                            break;
                        }
                    }
                }
            }
        }
    }
    (void)sl_rd_i32(rd); /* timeout_ms */
    sl_rd_tags(rd, flex);
    if (rd->err) {
        free(names);
        return rd->err;
    }
    sl_writer_t *wr = &req->wr;
    if (v >= 1) {
        sl_wr_i32(wr, 0);
    }
    sl_wr_array_len(wr, flex, n);
    for (int32_t i = 0; i < n; i++) {
        sl_topic_t *t = sl_topic_find(b, names[i]);
        uint8_t id[16];
        memcpy(id, t ? t->id : zero_uuid, 16);
        /* Copy the name: deletion frees the topic the view may point into. */
        char *name = names[i].p ? sl_str_dupz(names[i]) : NULL;
        /* Kafka's rule: DELETE on the topic (a topic given by id is checked by its name). */
        sl_str_t tname = names[i].p ? names[i]
                         : t        ? (sl_str_t){t->name, strlen(t->name)}
                                    : names[i];
        bool denied = tname.p && !sl_req_allowed(req, SL_RES_TOPIC, tname, SL_ACL_DELETE);
        int err =
            denied ? KERR_TOPIC_AUTHORIZATION_FAILED
            : t    ? sl_topic_delete(b, t)
                : (v >= 6 && !names[i].p ? KERR_UNKNOWN_TOPIC_ID : KERR_UNKNOWN_TOPIC_OR_PARTITION);
        sl_wr_strz(wr, flex, name);
        if (v >= 6) {
            sl_wr_uuid(wr, id);
        }
        sl_wr_i16(wr, (int16_t)err);
        if (v >= 5) {
            sl_wr_strz(wr, flex, err ? "This server does not host this topic." : NULL);
        }
        sl_wr_tags(wr, flex);
        free(name);
    }
    sl_wr_tags(wr, flex);
    free(names);
    return SL_OK;
}

SL_HANDLER(CreatePartitions) {
    sl_broker_t *b = req->broker;
    sl_reader_t *rd = &req->rd;
    bool flex = req->flex;
    int32_t n = sl_rd_count(rd, flex, 6);
    if (rd->err) {
        return rd->err;
    }
    typedef struct cp {
        sl_str_t name;
        int32_t count;
        int32_t n_assign; /* replica lists for the new partitions, -1 if none were sent */
        assign_fault_t fault;
    } cp_t;
    cp_t *items = sl_xcalloc((size_t)n + 1, sizeof *items);
    for (int32_t i = 0; i < n && !rd->err; i++) {
        items[i].name = sl_rd_str(rd, flex);
        items[i].count = sl_rd_i32(rd);
        items[i].n_assign =
            read_assignments(rd, flex, (int32_t)b->conf.node_id, false, &items[i].fault);
        sl_rd_tags(rd, flex);
    }
    (void)sl_rd_i32(rd);
    bool validate_only = sl_rd_bool(rd);
    sl_rd_tags(rd, flex);
    if (rd->err) {
        free(items);
        return rd->err;
    }
    sl_writer_t *wr = &req->wr;
    sl_wr_i32(wr, 0);
    sl_wr_array_len(wr, flex, n);
    for (int32_t i = 0; i < n; i++) {
        char msg[SL_ERRLEN] = "";
        sl_topic_t *t = sl_topic_find(b, items[i].name);
        int err;
        if (!sl_req_allowed(req, SL_RES_TOPIC, items[i].name, SL_ACL_ALTER)) {
            err = KERR_TOPIC_AUTHORIZATION_FAILED;
            snprintf(msg, sizeof msg, "Authorization failed.");
        } else if (!t) {
            err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
            snprintf(msg, sizeof msg, "The topic does not exist.");
        } else if (items[i].n_assign >= 0 && items[i].fault.why != ASSIGN_OK) {
            err = KERR_INVALID_REPLICA_ASSIGNMENT;
            assign_message(&items[i].fault, msg);
        } else if (items[i].n_assign >= 0 &&
                   items[i].n_assign != items[i].count - t->n_partitions) {
            err = KERR_INVALID_REPLICA_ASSIGNMENT;
            snprintf(msg, sizeof msg,
                     "Increasing the number of partitions by %d but %d assignments provided.",
                     items[i].count - t->n_partitions, items[i].n_assign);
        } else {
            err = sl_topic_add_partitions(b, t, items[i].count, validate_only, msg);
        }
        sl_wr_str(wr, flex, items[i].name);
        sl_wr_i16(wr, (int16_t)err);
        sl_wr_strz(wr, flex, err ? msg : NULL);
        sl_wr_tags(wr, flex);
    }
    sl_wr_tags(wr, flex);
    free(items);
    return SL_OK;
}

static bool wanted(sl_str_t *keys, int32_t n_keys, const char *name) {
    if (n_keys < 0) {
        return true;
    }
    for (int32_t i = 0; i < n_keys; i++) {
        if (sl_str_eqz(keys[i], name)) {
            return true;
        }
    }
    return false;
}

static void write_config_entry(sl_writer_t *wr, int16_t v, bool flex, const sl_conf_def_t *d,
                               const char *value, int8_t source, bool read_only, bool synonyms,
                               bool doc) {
    /* Passwords and secrets are sensitive, as Kafka's PASSWORD keys: a null value. */
    bool sensitive = strstr(d->name, "password") || strstr(d->name, "secret");
    if (sensitive) {
        value = NULL;
    }
    sl_wr_strz(wr, flex, d->name);
    sl_wr_strz(wr, flex, value);
    sl_wr_bool(wr, read_only); /* static broker keys need a restart */
    if (v == 0) {
        sl_wr_bool(wr, source == SOURCE_DEFAULT);
    } else {
        sl_wr_i8(wr, source);
    }
    sl_wr_bool(wr, sensitive);
    if (v >= 1) {
        if (synonyms) {
            sl_wr_array_len(wr, flex, 1);
            sl_wr_strz(wr, flex, d->name);
            sl_wr_strz(wr, flex, value);
            sl_wr_i8(wr, source);
            sl_wr_tags(wr, flex);
        } else {
            sl_wr_array_len(wr, flex, 0);
        }
    }
    if (v >= 3) {
        sl_wr_i8(wr, config_type(d));
        sl_wr_strz(wr, flex, doc ? d->help : NULL);
    }
    sl_wr_tags(wr, flex);
}

SL_HANDLER(DescribeConfigs) {
    sl_broker_t *b = req->broker;
    sl_reader_t *rd = &req->rd;
    int16_t v = req->api_version;
    bool flex = req->flex;
    int32_t n = sl_rd_count(rd, flex, 4);
    if (rd->err) {
        return rd->err;
    }
    sl_arena_t arena = {0};
    typedef struct dc {
        int8_t type;
        sl_str_t name;
        int32_t n_keys;
        sl_str_t *keys;
    } dc_t;
    dc_t *res = sl_arena_alloc(&arena, (size_t)n * sizeof *res);
    for (int32_t i = 0; i < n && !rd->err; i++) {
        res[i].type = sl_rd_i8(rd);
        res[i].name = sl_rd_str(rd, flex);
        res[i].n_keys = sl_rd_array_len(rd, flex, 1);
        if (res[i].n_keys > 0) {
            res[i].keys = sl_arena_alloc(&arena, (size_t)res[i].n_keys * sizeof(sl_str_t));
            for (int32_t k = 0; k < res[i].n_keys; k++) {
                res[i].keys[k] = sl_rd_str(rd, flex);
            }
        }
        sl_rd_tags(rd, flex);
    }
    bool synonyms = v >= 1 ? sl_rd_bool(rd) : false;
    bool doc = v >= 3 ? sl_rd_bool(rd) : false;
    sl_rd_tags(rd, flex);
    if (rd->err) {
        sl_arena_fini(&arena);
        return rd->err;
    }
    sl_writer_t *wr = &req->wr;
    sl_wr_i32(wr, 0);
    sl_wr_array_len(wr, flex, n);
    for (int32_t i = 0; i < n; i++) {
        dc_t *r = &res[i];
        sl_topic_t *t = r->type == RESOURCE_TOPIC ? sl_topic_find(b, r->name) : NULL;
        bool broker_ok = r->type == RESOURCE_BROKER;
        int16_t err = config_denied(req, r->type, r->name, SL_ACL_DESCRIBE_CONFIGS);
        const char *msg = err ? "Authorization failed." : NULL;
        if (err) {
            t = NULL;
        } else if (r->type == RESOURCE_TOPIC && !t) {
            err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
            msg = "The topic does not exist.";
        } else if (r->type != RESOURCE_TOPIC && !broker_ok) {
            err = KERR_INVALID_REQUEST;
            msg = "Unsupported resource type";
        }
        sl_wr_i16(wr, err);
        sl_wr_strz(wr, flex, msg);
        sl_wr_i8(wr, r->type);
        sl_wr_str(wr, flex, r->name);
        if (err) {
            sl_wr_array_len(wr, flex, 0);
            sl_wr_tags(wr, flex);
            continue;
        }
        const sl_conf_def_t *defs = t ? sl_topic_conf_defs : sl_broker_conf_defs;
        size_t n_defs = t ? sl_topic_conf_n_defs : sl_broker_conf_n_defs;
        const void *target = t ? (const void *)&t->conf : (const void *)&b->conf;
        /* Topic keys sluice accepts without acting on them (SL_CONF_IGNORED) are reported too,
         * with their override or Kafka's default; broker ones only when set dynamically. */
        const sl_kv_t *inert[2] = {NULL, NULL};
        size_t n_inert[2] = {0, 0};
        if (!t && b->dynconf) {
            for (int s = 0; s < 2; s++) {
                inert[s] = b->dynconf->kv[s];
                n_inert[s] = b->dynconf->n[s];
            }
        }
        int32_t count = 0;
        for (size_t k = 0; k < n_defs; k++) {
            if (defs[k].def && (t || defs[k].type != SL_CONF_IGNORED) &&
                wanted(r->keys, r->n_keys, defs[k].name)) {
                count++;
            }
        }
        for (int s = 0; s < 2; s++) {
            for (size_t k = 0; k < n_inert[s]; k++) {
                bool applied;
                bool shadowed = s == SL_DYN_DEFAULT &&
                                sl_dynconf_get(b, SL_DYN_BROKER, inert[s][k].key) != NULL;
                if (sl_dynconf_key_ok(inert[s][k].key, &applied) && !applied && !shadowed &&
                    wanted(r->keys, r->n_keys, inert[s][k].key)) {
                    count++;
                }
            }
        }
        sl_wr_array_len(wr, flex, count);
        for (size_t k = 0; k < n_defs; k++) {
            const sl_conf_def_t *d = &defs[k];
            if (!d->def || (!t && d->type == SL_CONF_IGNORED) ||
                !wanted(r->keys, r->n_keys, d->name)) {
                continue;
            }
            char val[SL_CONF_STR_MAX];
            sl_conf_format(d, target, val);
            int8_t source;
            bool read_only = false;
            if (t) {
                source = is_override(t, d->name) ? SOURCE_DYNAMIC_TOPIC : SOURCE_DEFAULT;
                if (d->type == SL_CONF_IGNORED) {
                    const char *o = override_of(t, d->name);
                    snprintf(val, sizeof val, "%s", o ? o : d->def);
                }
            } else {
                bool applied = false;
                (void)sl_dynconf_key_ok(d->name, &applied);
                source = sl_dynconf_get(b, SL_DYN_BROKER, d->name) ? SOURCE_DYNAMIC_BROKER
                         : sl_dynconf_get(b, SL_DYN_DEFAULT, d->name)
                             ? SOURCE_DYNAMIC_DEFAULT_BROKER
                             : SOURCE_STATIC_BROKER;
                read_only = !applied;
            }
            write_config_entry(wr, v, flex, d, val, source, read_only, synonyms, doc);
        }
        for (int s = 0; s < 2; s++) {
            for (size_t k = 0; k < n_inert[s]; k++) {
                bool applied;
                bool shadowed = s == SL_DYN_DEFAULT &&
                                sl_dynconf_get(b, SL_DYN_BROKER, inert[s][k].key) != NULL;
                if (!sl_dynconf_key_ok(inert[s][k].key, &applied) || applied || shadowed ||
                    !wanted(r->keys, r->n_keys, inert[s][k].key)) {
                    continue;
                }
                sl_conf_def_t d = {inert[s][k].key,
                                   SL_CONF_STR,
                                   "",
                                   0,
                                   0,
                                   0,
                                   0,
                                   "Kafka dynamic broker config: kept and reported; no effect "
                                   "on sluice"};
                write_config_entry(wr, v, flex, &d, inert[s][k].value,
                                   s == SL_DYN_BROKER ? SOURCE_DYNAMIC_BROKER
                                                      : SOURCE_DYNAMIC_DEFAULT_BROKER,
                                   false, synonyms, doc);
            }
        }
        sl_wr_tags(wr, flex);
    }
    sl_wr_tags(wr, flex);
    sl_arena_fini(&arena);
    return SL_OK;
}

SL_HANDLER(AlterConfigs) {
    sl_broker_t *b = req->broker;
    sl_reader_t *rd = &req->rd;
    bool flex = req->flex;
    sl_arena_t arena = {0};
    int32_t n = sl_rd_count(rd, flex, 4);
    if (rd->err) {
        return rd->err;
    }
    typedef struct ac {
        int8_t type;
        sl_str_t name;
        sl_kv_t *kv;
        size_t n_kv;
    } ac_t;
    ac_t *res = sl_arena_alloc(&arena, (size_t)n * sizeof *res);
    for (int32_t i = 0; i < n && !rd->err; i++) {
        res[i].type = sl_rd_i8(rd);
        res[i].name = sl_rd_str(rd, flex);
        res[i].kv = read_configs(rd, flex, &arena, &res[i].n_kv);
        sl_rd_tags(rd, flex);
    }
    bool validate_only = sl_rd_bool(rd);
    sl_rd_tags(rd, flex);
    if (rd->err) {
        sl_arena_fini(&arena);
        return rd->err;
    }
    sl_writer_t *wr = &req->wr;
    sl_wr_i32(wr, 0);
    sl_wr_array_len(wr, flex, n);
    for (int32_t i = 0; i < n; i++) {
        char msg[SL_ERRLEN] = "";
        sl_topic_t *t;
        int scope;
        int err = alter_target(req, res[i].type, res[i].name, &t, &scope, msg);
        if (err == KERR_NONE && t) {
            err = sl_topic_set_configs(b, t, res[i].kv, res[i].n_kv, validate_only, msg);
        } else if (err == KERR_NONE) {
            err = sl_dynconf_set(b, scope, res[i].kv, res[i].n_kv, validate_only, msg);
        }
        sl_wr_i16(wr, (int16_t)err);
        sl_wr_strz(wr, flex, err ? msg : NULL);
        sl_wr_i8(wr, res[i].type);
        sl_wr_str(wr, flex, res[i].name);
        sl_wr_tags(wr, flex);
    }
    sl_wr_tags(wr, flex);
    sl_arena_fini(&arena);
    return SL_OK;
}

/* ---- IncrementalAlterConfigs ---- */

#define OP_SET      0
#define OP_DELETE   1
#define OP_APPEND   2
#define OP_SUBTRACT 3

/* Keys whose value is a comma-separated list (Kafka's LIST type), the only ones APPEND and
 * SUBTRACT apply to. */
static bool list_key(const char *key) {
    static const char *const keys[] = {"cleanup.policy",
                                       "log.cleanup.policy",
                                       "leader.replication.throttled.replicas",
                                       "follower.replication.throttled.replicas",
                                       "sasl.enabled.mechanisms",
                                       "ssl.cipher.suites",
                                       "ssl.enabled.protocols",
                                       "metric.reporters",
                                       NULL};
    for (const char *const *k = keys; *k; k++) {
        if (!strcmp(*k, key)) {
            return true;
        }
    }
    return false;
}

/* Whether the comma-separated `list` holds `item` (whole items, spaces around commas ignored). */
static bool list_has(const char *list, const char *item, size_t item_len) {
    const char *p = list;
    while (*p) {
        while (*p == ' ') {
            p++;
        }
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        size_t trimmed = len;
        while (trimmed > 0 && p[trimmed - 1] == ' ') {
            trimmed--;
        }
        if (trimmed == item_len && !memcmp(p, item, item_len)) {
            return true;
        }
        p += len + (end ? 1 : 0);
    }
    return false;
}

/* `cur` with the items of `arg` added (APPEND, those not already there) or removed (SUBTRACT),
 * into `out` (SL_CONF_STR_MAX bytes). False when the result does not fit. */
static bool list_edit(const char *cur, const char *arg, bool append, char *out) {
    size_t n = 0;
    out[0] = 0;
    const char *src[2] = {cur, append ? arg : ""};
    for (int s = 0; s < 2; s++) {
        const char *p = src[s];
        while (*p) {
            while (*p == ' ') {
                p++;
            }
            const char *end = strchr(p, ',');
            size_t len = end ? (size_t)(end - p) : strlen(p);
            size_t item = len;
            while (item > 0 && p[item - 1] == ' ') {
                item--;
            }
            bool drop = item == 0 || (!append && list_has(arg, p, item)) ||
                        (s == 1 && list_has(cur, p, item));
            if (!drop) {
                if (n + item + 2 > SL_CONF_STR_MAX) {
                    return false;
                }
                if (n) {
                    out[n++] = ',';
                }
                memcpy(out + n, p, item);
                n += item;
                out[n] = 0;
            }
            p += len + (end ? 1 : 0);
        }
    }
    return true;
}

/* The overrides of a resource as a growable list with arena-owned strings. */
typedef struct kvlist {
    sl_kv_t *kv;
    size_t n, cap;
} kvlist_t;

static char *arena_strz(sl_arena_t *arena, const char *s, size_t len) {
    char *out = sl_arena_alloc(arena, len + 1);
    memcpy(out, s, len);
    out[len] = 0;
    return out;
}

static sl_kv_t *kvlist_find(kvlist_t *l, const char *key) {
    for (size_t i = 0; i < l->n; i++) {
        if (!strcmp(l->kv[i].key, key)) {
            return &l->kv[i];
        }
    }
    return NULL;
}

static void kvlist_set(kvlist_t *l, sl_arena_t *arena, const char *key, const char *value) {
    sl_kv_t *e = kvlist_find(l, key);
    if (!e) {
        if (l->n == l->cap) {
            size_t cap = l->cap ? l->cap * 2 : 8;
            sl_kv_t *kv = sl_arena_alloc(arena, cap * sizeof *kv);
            if (l->n) {
                memcpy(kv, l->kv, l->n * sizeof *kv);
            }
            l->kv = kv;
            l->cap = cap;
        }
        e = &l->kv[l->n++];
        e->key = arena_strz(arena, key, strlen(key));
    }
    e->value = arena_strz(arena, value, strlen(value));
}

static void kvlist_del(kvlist_t *l, const char *key) {
    sl_kv_t *e = kvlist_find(l, key);
    if (e) {
        *e = l->kv[--l->n];
    }
}

/* The value APPEND/SUBTRACT start from when `key` has no override: the effective one. */
static void current_value(sl_broker_t *b, const sl_topic_t *t, const char *key, char *out) {
    out[0] = 0;
    const sl_conf_def_t *d = t ? sl_conf_find(sl_topic_conf_defs, sl_topic_conf_n_defs, key)
                               : sl_conf_find(sl_broker_conf_defs, sl_broker_conf_n_defs, key);
    if (d) {
        sl_conf_format(d, t ? (const void *)&t->conf : (const void *)&b->conf, out);
    }
}

typedef struct iac_op {
    char *key;
    int8_t op;
    char *value; /* NULL for a null value */
} iac_op_t;

/* Applies `ops` (n of them) to `l`; on an error fills msg and returns the Kafka code. */
static int apply_ops(sl_broker_t *b, const sl_topic_t *t, kvlist_t *l, sl_arena_t *arena,
                     const iac_op_t *ops, int32_t n, char *msg) {
    for (int32_t i = 0; i < n; i++) {
        for (int32_t j = 0; j < i; j++) {
            if (!strcmp(ops[i].key, ops[j].key)) {
                snprintf(msg, SL_ERRLEN, "Error due to duplicate config keys: %s", ops[i].key);
                return KERR_INVALID_REQUEST;
            }
        }
    }
    for (int32_t i = 0; i < n; i++) {
        const iac_op_t *o = &ops[i];
        switch (o->op) {
        case OP_SET:
            if (!o->value) {
                snprintf(msg, SL_ERRLEN, "%s: SET needs a value", o->key);
                return KERR_INVALID_CONFIG;
            }
            kvlist_set(l, arena, o->key, o->value);
            break;
        case OP_DELETE:
            kvlist_del(l, o->key);
            break;
        case OP_APPEND:
        case OP_SUBTRACT: {
            if (!list_key(o->key)) {
                snprintf(msg, SL_ERRLEN, "Config value %s is not allowed for config key: %s",
                         o->op == OP_APPEND ? "append" : "subtract", o->key);
                return KERR_INVALID_CONFIG;
            }
            char cur[SL_CONF_STR_MAX], next[SL_CONF_STR_MAX];
            const sl_kv_t *e = kvlist_find(l, o->key);
            if (e) {
                snprintf(cur, sizeof cur, "%s", e->value);
            } else {
                current_value(b, t, o->key, cur);
            }
            if (!list_edit(cur, o->value ? o->value : "", o->op == OP_APPEND, next)) {
                snprintf(msg, SL_ERRLEN, "%s: value too long", o->key);
                return KERR_INVALID_CONFIG;
            }
            kvlist_set(l, arena, o->key, next);
            break;
        }
        default:
            snprintf(msg, SL_ERRLEN, "Unknown config operation %d", o->op);
            return KERR_INVALID_REQUEST;
        }
    }
    return KERR_NONE;
}

SL_HANDLER(IncrementalAlterConfigs) {
    sl_broker_t *b = req->broker;
    sl_reader_t *rd = &req->rd;
    bool flex = req->flex;
    sl_arena_t arena = {0};
    int32_t n = sl_rd_count(rd, flex, 4);
    if (rd->err) {
        return rd->err;
    }
    typedef struct iac {
        int8_t type;
        sl_str_t name;
        iac_op_t *ops;
        int32_t n_ops;
    } iac_t;
    iac_t *res = sl_arena_alloc(&arena, (size_t)n * sizeof *res + 1);
    for (int32_t i = 0; i < n && !rd->err; i++) {
        res[i].type = sl_rd_i8(rd);
        res[i].name = sl_rd_str(rd, flex);
        int32_t no = sl_rd_count(rd, flex, 3);
        res[i].n_ops = rd->err ? 0 : no;
        res[i].ops = sl_arena_alloc(&arena, (size_t)res[i].n_ops * sizeof(iac_op_t) + 1);
        for (int32_t j = 0; j < res[i].n_ops && !rd->err; j++) {
            sl_str_t k = sl_rd_str(rd, flex);
            res[i].ops[j].key = arena_strz(&arena, k.p ? k.p : "", k.len);
            res[i].ops[j].op = sl_rd_i8(rd);
            sl_str_t val = sl_rd_str(rd, flex);
            res[i].ops[j].value = val.p ? arena_strz(&arena, val.p, val.len) : NULL;
            sl_rd_tags(rd, flex);
        }
        sl_rd_tags(rd, flex);
    }
    bool validate_only = sl_rd_bool(rd);
    sl_rd_tags(rd, flex);
    if (rd->err) {
        sl_arena_fini(&arena);
        return rd->err;
    }
    sl_writer_t *wr = &req->wr;
    sl_wr_i32(wr, 0);
    sl_wr_array_len(wr, flex, n);
    for (int32_t i = 0; i < n; i++) {
        char msg[SL_ERRLEN] = "";
        iac_t *r = &res[i];
        sl_topic_t *t;
        int scope;
        kvlist_t l = {0};
        int err = alter_target(req, r->type, r->name, &t, &scope, msg);
        if (err == KERR_NONE) {
            /* Start from the current overrides, edit, then replace them as AlterConfigs does. */
            const sl_kv_t *cur = t ? t->configs : b->dynconf ? b->dynconf->kv[scope] : NULL;
            size_t n_cur = t ? t->n_configs : b->dynconf ? b->dynconf->n[scope] : 0;
            for (size_t k = 0; k < n_cur; k++) {
                kvlist_set(&l, &arena, cur[k].key, cur[k].value ? cur[k].value : "");
            }
            err = apply_ops(b, t, &l, &arena, r->ops, r->n_ops, msg);
            if (err == KERR_NONE && t) {
                err = sl_topic_set_configs(b, t, l.kv, l.n, validate_only, msg);
            } else if (err == KERR_NONE) {
                err = sl_dynconf_set(b, scope, l.kv, l.n, validate_only, msg);
            }
        }
        sl_wr_i16(wr, (int16_t)err);
        sl_wr_strz(wr, flex, err ? msg : NULL);
        sl_wr_i8(wr, r->type);
        sl_wr_str(wr, flex, r->name);
        sl_wr_tags(wr, flex);
    }
    sl_wr_tags(wr, flex);
    sl_arena_fini(&arena);
    return SL_OK;
}

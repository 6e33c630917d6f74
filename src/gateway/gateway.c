/* gateway.c -- the gateway's HTTP server: libmicrohttpd with a thread per connection (a produce
 * blocks its thread until the brokers acknowledge, which keeps the handlers straight-line code),
 * routing, authentication and rate limits in front of every route, /metrics, and reloads.
 *
 * One request, as MHD drives on_request:
 *   #1 headers parsed: a Content-Length over max.request.bytes is answered 413 at once;
 *   #k a piece of body: appended, or dropped once past the limit (answered 413 at the end);
 *   #n body complete: route, authenticate, rate-limit, run the handler, queue its answer.
 * A body that passes the limit is read to its end but never kept; past 4x the limit the
 * connection is closed instead. */
#include "gateway/gateway.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/util.h"
#include "gateway/gw_int.h"

#define MAX_CONNS 512u /* concurrent HTTP/1.1 connections (threads) in MHD */
#define IDLE_S    60u  /* an idle keep-alive connection is closed after this */

typedef struct req_state {
    sl_buf_t body;
    size_t limit;
    size_t dropped;
    bool headers_seen, too_large, answered;
} req_state_t;

void sl_gw_error(sl_gw_resp_t *r, int status, int code, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sl_gw_json(r, status, json_pack("{s:i, s:s}", "error_code", code, "message", msg));
}

void sl_gw_json(sl_gw_resp_t *r, int status, json_t *j) {
    r->status = status;
    r->body.len = 0;
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (s) {
        sl_buf_append(&r->body, s, strlen(s));
        sl_buf_append(&r->body, "\n", 1);
        free(s);
    }
    r->content_type = "application/json";
}

const char *sl_gw_header(const sl_gw_req_t *q, const char *name) {
    if (q->conn) {
        return MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, name);
    }
    for (int i = 0; i < q->nhdr; i++) {
        if (!strcasecmp(q->hdr[i].name, name)) {
            return q->hdr[i].value;
        }
    }
    return NULL;
}

const char *sl_gw_arg(const sl_gw_req_t *q, const char *name) {
    if (q->conn) {
        return MHD_lookup_connection_value(q->conn, MHD_GET_ARGUMENT_KIND, name);
    }
    for (int i = 0; i < q->narg; i++) {
        if (!strcmp(q->arg[i].name, name)) {
            return q->arg[i].value;
        }
    }
    return NULL;
}

bool sl_gw_running(sl_gw_t *gw) {
    pthread_mutex_lock(&gw->stop_mu);
    bool run = !gw->ws_stop;
    pthread_mutex_unlock(&gw->stop_mu);
    return run;
}

bool sl_gw_is_json(const sl_gw_req_t *q, bool kafka_types) {
    const char *ct = sl_gw_header(q, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!ct) {
        return false;
    }
    size_t n = strcspn(ct, ";");
    while (n && ct[n - 1] == ' ') {
        n--;
    }
    if (n == 16 && !strncasecmp(ct, "application/json", 16)) {
        return true;
    }
    /* application/vnd.kafka.v2+json, application/vnd.kafka.json.v2+json, ... */
    return kafka_types && n > 27 && !strncasecmp(ct, "application/vnd.kafka.", 22) &&
           !strncasecmp(ct + n - 5, "+json", 5);
}

rd_kafka_conf_t *sl_gw_kconf(sl_gw_t *gw, char *why) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char e[512];
    if (rd_kafka_conf_set(conf, "bootstrap.servers", gw->brokers, e, sizeof e)) {
        goto fail;
    }
    for (int i = 0; i < gw->n_props; i++) {
        char kv[1024];
        snprintf(kv, sizeof kv, "%s", gw->props[i]);
        char *eq = strchr(kv, '=');
        if (!eq) {
            snprintf(e, sizeof e, "-X %s: expected key=value", kv);
            goto fail;
        }
        *eq = '\0';
        if (rd_kafka_conf_set(conf, kv, eq + 1, e, sizeof e)) {
            goto fail;
        }
    }
    return conf;
fail:
    snprintf(why, SL_ERRLEN, "%s", e);
    rd_kafka_conf_destroy(conf);
    return NULL;
}

int sl_gw_partitions(sl_gw_t *gw, const char *topic, char *why) {
    for (int attempt = 0; attempt < 2; attempt++) {
        pthread_mutex_lock(&gw->md_mu);
        uint64_t now = sl_mono_ms();
        if (!gw->md || now - gw->md_at > SL_GW_METADATA_TTL || attempt == 1) {
            const struct rd_kafka_metadata *md = NULL;
            rd_kafka_resp_err_t err =
                rd_kafka_metadata(gw->producer, 1, NULL, &md, (int)gw->start.produce_timeout_ms);
            if (err) {
                pthread_mutex_unlock(&gw->md_mu);
                snprintf(why, SL_ERRLEN, "brokers did not answer a metadata request: %s",
                         rd_kafka_err2str(err));
                return -1;
            }
            if (gw->md) {
                rd_kafka_metadata_destroy(gw->md);
            }
            gw->md = md;
            gw->md_at = now;
        }
        int count = 0;
        for (int i = 0; i < gw->md->topic_cnt; i++) {
            if (!strcmp(gw->md->topics[i].topic, topic) && !gw->md->topics[i].err) {
                count = gw->md->topics[i].partition_cnt;
            }
        }
        pthread_mutex_unlock(&gw->md_mu);
        if (count > 0) {
            return count;
        }
    }
    return 0;
}

static void policy_put(sl_gw_t *gw, sl_gw_policy_t *p);

void sl_gw_policy_hold(sl_gw_t *gw, sl_gw_policy_t *p) {
    pthread_mutex_lock(&gw->pol_mu);
    p->refs++;
    pthread_mutex_unlock(&gw->pol_mu);
}

bool sl_gw_cluster_id(sl_gw_t *gw, char *id, size_t cap, char *why) {
    pthread_mutex_lock(&gw->md_mu);
    if (!gw->cluster_id) {
        char *c = rd_kafka_clusterid(gw->producer, (int)gw->start.produce_timeout_ms);
        if (c) {
            gw->cluster_id = sl_xstrdup(c);
            rd_kafka_mem_free(gw->producer, c);
        }
    }
    bool ok = gw->cluster_id != NULL;
    if (ok) {
        snprintf(id, cap, "%s", gw->cluster_id);
    } else {
        snprintf(why, SL_ERRLEN, "the brokers did not tell their cluster id");
    }
    pthread_mutex_unlock(&gw->md_mu);
    return ok;
}

/* GET /v3/clusters and /v3/clusters/{id}: the one cluster the gateway fronts (REST Proxy v3). */
static void clusters(sl_gw_t *gw, sl_gw_req_t *q, sl_gw_resp_t *r) {
    char id[256], why[SL_ERRLEN];
    if (!sl_gw_cluster_id(gw, id, sizeof id, why)) {
        sl_gw_error(r, 503, 50302, "%s", why);
        return;
    }
    json_t *c = json_pack("{s:s, s:s}", "kind", "KafkaCluster", "cluster_id", id);
    if (q->nseg == 2) {
        sl_gw_json(r, 200, json_pack("{s:s, s:[o]}", "kind", "KafkaClusterList", "data", c));
    } else if (!strcmp(q->segs[2], id)) {
        sl_gw_json(r, 200, c);
    } else {
        json_decref(c);
        sl_gw_error(r, 404, 40404, "cluster %s not found (this gateway fronts %s)", q->segs[2], id);
    }
}

int sl_gw_may(sl_gw_t *gw, sl_gw_policy_t *p, const sl_gw_principal_t *pr, unsigned op,
              const char *topic, const char *group, char *why) {
    if (!p->acl) {
        return topic ? sl_gw_authorize(pr, op, topic) : (pr->ops & op) != 0;
    }
    rd_kafka_AclOperation_t aop =
        op == SL_GW_OP_PRODUCE ? RD_KAFKA_ACL_OPERATION_WRITE : RD_KAFKA_ACL_OPERATION_READ;
    return sl_gw_acl_check(&gw->acls, gw->producer, p->s.acl_cache_ms, gw->start.produce_timeout_ms,
                           pr->name, topic ? RD_KAFKA_RESOURCE_TOPIC : RD_KAFKA_RESOURCE_GROUP,
                           topic ? topic : group, aop, why);
}

bool sl_gw_check(sl_gw_req_t *q, sl_gw_resp_t *r, unsigned op, const char *topic,
                 const char *group) {
    char why[SL_ERRLEN];
    int rc = sl_gw_may(q->gw, q->policy, q->principal, op, topic, group, why);
    if (rc < 0) {
        sl_gw_error(r, 503, 50303, "permissions unknown: %s", why);
    } else if (!rc) {
        const char *verb = op == SL_GW_OP_PRODUCE ? "produce to" : "consume";
        if (topic) {
            sl_gw_error(r, 403, 40301, "%s may not %s %s", q->principal->name, verb, topic);
        } else {
            sl_gw_error(r, 403, 40301, "%s may not %s as group %s", q->principal->name, verb,
                        group);
        }
    }
    return rc > 0;
}

/* Takes a reference on the current policy. */
static sl_gw_policy_t *policy_get(sl_gw_t *gw) {
    pthread_mutex_lock(&gw->pol_mu);
    sl_gw_policy_t *p = gw->policy;
    p->refs++;
    pthread_mutex_unlock(&gw->pol_mu);
    return p;
}

void sl_gw_policy_release(sl_gw_t *gw, sl_gw_policy_t *p) {
    policy_put(gw, p);
}

static void policy_put(sl_gw_t *gw, sl_gw_policy_t *p) {
    pthread_mutex_lock(&gw->pol_mu);
    bool last = --p->refs == 0;
    pthread_mutex_unlock(&gw->pol_mu);
    if (last) {
        sl_gw_policy_free(p);
    }
}

sl_err_t sl_gw_reload(sl_gw_t *gw, char *err) {
    if (!gw->config_path) {
        snprintf(err, SL_ERRLEN, "no configuration file to reload (--config)");
        return SL_ERR_INVAL;
    }
    sl_gw_policy_t *np = sl_gw_policy_load(gw->config_path, err);
    pthread_mutex_lock(&gw->m_mu);
    if (np) {
        gw->reloads++;
    } else {
        gw->reload_errors++;
    }
    pthread_mutex_unlock(&gw->m_mu);
    if (!np) {
        return SL_ERR_INVAL;
    }
    np->refs = 1;
    pthread_mutex_lock(&gw->pol_mu);
    sl_gw_policy_t *old = gw->policy;
    gw->policy = np;
    pthread_mutex_unlock(&gw->pol_mu);
    policy_put(gw, old);
    return SL_OK;
}

static void metrics(sl_gw_t *gw, sl_gw_resp_t *r) {
    static const char *const route[SL_GW_M_N] = {"produce", "consumer", "other"};
    static const uint64_t le_ms[] = {1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000};
    sl_buf_t *b = &r->body;
    char line[512];
#define OUT(...)                                                                                   \
    do {                                                                                           \
        int n_ = snprintf(line, sizeof line, __VA_ARGS__);                                         \
        sl_buf_append(b, line, (size_t)SL_MIN(n_, (int)sizeof line - 1));                          \
    } while (0)
    pthread_mutex_lock(&gw->m_mu);
    OUT("# TYPE sluice_gateway_requests_total counter\n");
    for (int i = 0; i < SL_GW_M_N; i++) {
        for (int c = 1; c <= 5; c++) {
            OUT("sluice_gateway_requests_total{route=\"%s\",code=\"%dxx\"} %" PRIu64 "\n", route[i],
                c, gw->requests[i][c]);
        }
    }
    OUT("# TYPE sluice_gateway_request_seconds histogram\n");
    for (int i = 0; i < SL_GW_M_N; i++) {
        for (size_t k = 0; k < sizeof le_ms / sizeof le_ms[0]; k++) {
            OUT("sluice_gateway_request_seconds_bucket{route=\"%s\",le=\"%g\"} %" PRIu64 "\n",
                route[i], (double)le_ms[k] / 1000.0,
                sl_hist_count_le(gw->latency[i], le_ms[k] * 1000));
        }
        uint64_t n = sl_hist_count(gw->latency[i]);
        OUT("sluice_gateway_request_seconds_bucket{route=\"%s\",le=\"+Inf\"} %" PRIu64 "\n",
            route[i], n);
        OUT("sluice_gateway_request_seconds_sum{route=\"%s\"} %.6f\n", route[i],
            sl_hist_mean(gw->latency[i]) * (double)n / 1e6);
        OUT("sluice_gateway_request_seconds_count{route=\"%s\"} %" PRIu64 "\n", route[i], n);
    }
    OUT("# TYPE sluice_gateway_config_reloads_total counter\n");
    OUT("sluice_gateway_config_reloads_total{result=\"ok\"} %" PRIu64 "\n", gw->reloads);
    OUT("sluice_gateway_config_reloads_total{result=\"error\"} %" PRIu64 "\n", gw->reload_errors);
    pthread_mutex_unlock(&gw->m_mu);

    sl_gw_breaker_t *br = &gw->breaker;
    pthread_mutex_lock(&br->mu);
    OUT("# TYPE sluice_gateway_breaker_state gauge\n");
    for (int s = 0; s < 3; s++) {
        OUT("sluice_gateway_breaker_state{breaker=\"brokers\",state=\"%s\"} %d\n",
            sl_gw_breaker_state_name((sl_gw_br_state_t)s), br->state == (sl_gw_br_state_t)s);
    }
    OUT("# TYPE sluice_gateway_breaker_transitions_total counter\n");
    for (int f = 0; f < 3; f++) {
        for (int t = 0; t < 3; t++) {
            if (f != t) {
                OUT("sluice_gateway_breaker_transitions_total{breaker=\"brokers\",from=\"%s\","
                    "to=\"%s\"} %" PRIu64 "\n",
                    sl_gw_breaker_state_name((sl_gw_br_state_t)f),
                    sl_gw_breaker_state_name((sl_gw_br_state_t)t), br->transitions[f][t]);
            }
        }
    }
    OUT("# TYPE sluice_gateway_breaker_rejected_total counter\n");
    OUT("sluice_gateway_breaker_rejected_total{breaker=\"brokers\"} %" PRIu64 "\n", br->rejected);
    pthread_mutex_unlock(&br->mu);

    sl_gw_policy_t *p = policy_get(gw);
    pthread_mutex_lock(&p->mu);
    OUT("# TYPE sluice_gateway_key_requests_total counter\n");
    for (int i = -1; i < p->n_principals; i++) {
        sl_gw_principal_t *pr = i < 0 ? &p->anonymous : &p->principals[i];
        if (i < 0 && p->auth_required) {
            continue;
        }
        OUT("sluice_gateway_key_requests_total{principal=\"%.100s\",result=\"admitted\"} "
            "%" PRIu64 "\n",
            pr->name, pr->admitted);
        OUT("sluice_gateway_key_requests_total{principal=\"%.100s\",result=\"limited\"} "
            "%" PRIu64 "\n",
            pr->name, pr->limited);
    }
    for (sl_gw_principal_t *pr = p->dyn; pr; pr = pr->next) {
        OUT("sluice_gateway_key_requests_total{principal=\"%.100s\",result=\"admitted\"} "
            "%" PRIu64 "\n",
            pr->name, pr->admitted);
        OUT("sluice_gateway_key_requests_total{principal=\"%.100s\",result=\"limited\"} "
            "%" PRIu64 "\n",
            pr->name, pr->limited);
    }
    pthread_mutex_unlock(&p->mu);
    policy_put(gw, p);
    pthread_mutex_lock(&gw->acls.mu);
    OUT("# TYPE sluice_gateway_acl_fetches_total counter\n");
    OUT("sluice_gateway_acl_fetches_total{result=\"ok\"} %" PRIu64 "\n",
        gw->acls.fetches - gw->acls.fetch_errors);
    OUT("sluice_gateway_acl_fetches_total{result=\"error\"} %" PRIu64 "\n", gw->acls.fetch_errors);
    pthread_mutex_unlock(&gw->acls.mu);
    sl_gw_consumers_metrics(gw, b);
    pthread_mutex_lock(&gw->stop_mu);
    OUT("# TYPE sluice_gateway_ws_streams gauge\nsluice_gateway_ws_streams %d\n", gw->n_ws);
    pthread_mutex_unlock(&gw->stop_mu);
#undef OUT
    r->status = 200;
    r->content_type = "text/plain; version=0.0.4";
}

/* Routes a request once its body is complete. */
static void handle(sl_gw_req_t *q, sl_gw_resp_t *r, int *mrow) {
    sl_gw_t *gw = q->gw;
    *mrow = SL_GW_M_OTHER;
    bool get = !strcmp(q->method, "GET");
    if (q->nseg == 1 && !strcmp(q->segs[0], "metrics") && get) {
        metrics(gw, r);
        return;
    }
    if (q->nseg == 1 && !strcmp(q->segs[0], "health") && get) {
        sl_gw_json(r, 200,
                   json_pack("{s:s, s:s}", "status", "ok", "breaker",
                             sl_gw_breaker_state_name(sl_gw_breaker_state(&gw->breaker))));
        return;
    }
    if ((q->nseg == 2 || q->nseg == 3) && !strcmp(q->segs[0], "v3") &&
        !strcmp(q->segs[1], "clusters") && get) {
        clusters(gw, q, r);
        return;
    }
    bool produce = q->nseg == 6 && !strcmp(q->segs[0], "v3") && !strcmp(q->segs[1], "clusters") &&
                   !strcmp(q->segs[3], "topics") && !strcmp(q->segs[5], "records");
    bool consumer = q->nseg >= 2 && !strcmp(q->segs[0], "consumers");
    bool ws = q->nseg == 3 && !strcmp(q->segs[0], "ws") && !strcmp(q->segs[1], "topics");
    consumer |= ws;
    if (!produce && !consumer) {
        sl_gw_error(r, 404, 404, "no such route");
        return;
    }
    *mrow = produce ? SL_GW_M_PRODUCE : SL_GW_M_CONSUMER;
    if (produce && strcmp(q->method, "POST")) {
        sl_gw_error(r, 405, 405, "only POST is allowed here");
        return;
    }
    int status = 0;
    char why[SL_ERRLEN];
    const char *key = sl_gw_header(q, "X-API-Key");
    const char *authz = sl_gw_header(q, MHD_HTTP_HEADER_AUTHORIZATION);
    char cn[256];
    const char *peer = q->peer_cn;
    if (q->conn && !peer && gw->front) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(q->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (ci && sl_gw_front_peer_cn(gw->front, ci->connect_fd, cn, sizeof cn)) {
            peer = cn;
        }
    }
    if (!key && !authz && peer) {
        q->principal = sl_gw_authenticate_cert(q->policy, peer, &status, why);
    } else {
        q->principal = sl_gw_authenticate(q->policy, key, authz, sl_wall_ms() / 1000, &status, why);
    }
    if (!q->principal) {
        sl_gw_error(r, status, status * 100 + 1, "%s", why);
        return;
    }
    uint64_t wait = sl_gw_rate_take(
        q->policy, q->principal, produce ? SL_GW_ROUTE_PRODUCE : SL_GW_ROUTE_CONSUME, sl_mono_ms());
    if (wait) {
        r->retry_after_s = (wait + 999) / 1000;
        sl_gw_error(r, 429, 42901, "rate limit of %s exceeded; retry after %" PRIu64 " ms",
                    q->principal->name, wait);
        return;
    }
    if (produce) {
        sl_gw_produce(q, r, q->segs[4]);
    } else if (ws) {
        sl_gw_ws(q, r, q->segs[2]);
    } else {
        sl_gw_consumers(q, r);
    }
}

static void count(sl_gw_t *gw, int row, int status, uint64_t t0_ns) {
    pthread_mutex_lock(&gw->m_mu);
    int cls = status / 100;
    gw->requests[row][cls >= 1 && cls <= 5 ? cls : 5]++;
    sl_hist_record(gw->latency[row], (sl_mono_ns() - t0_ns) / 1000);
    pthread_mutex_unlock(&gw->m_mu);
}

void sl_gw_serve(sl_gw_req_t *q, const char *url, sl_gw_resp_t *r) {
    sl_gw_t *gw = q->gw;
    uint64_t t0 = sl_mono_ns();
    char path[1024];
    snprintf(path, sizeof path, "%s", url);
    path[strcspn(path, "?")] = '\0';
    q->nseg = 0;
    for (char *save = NULL, *s = strtok_r(path, "/", &save); s; s = strtok_r(NULL, "/", &save)) {
        if (q->nseg == SL_GW_MAX_SEGS) {
            q->nseg = 0; /* too deep for any route */
            break;
        }
        q->segs[q->nseg++] = s;
    }
    q->policy = policy_get(gw);
    int row;
    handle(q, r, &row);
    policy_put(gw, q->policy);
    q->policy = NULL;
    count(gw, row, r->status, t0);
}

static enum MHD_Result queue(struct MHD_Connection *c, sl_gw_resp_t *r) {
    struct MHD_Response *mr;
    if (r->upgrade) {
        sl_buf_fini(&r->body);
        enum MHD_Result rc = MHD_queue_response(c, MHD_HTTP_SWITCHING_PROTOCOLS, r->upgrade);
        MHD_destroy_response(r->upgrade);
        return rc;
    }
    if (r->body.len) {
        mr = MHD_create_response_from_buffer(r->body.len, r->body.data, MHD_RESPMEM_MUST_FREE);
        if (mr) {
            r->body = (sl_buf_t){0};
        }
    } else {
        mr = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    }
    sl_buf_fini(&r->body);
    if (!mr) {
        return MHD_NO;
    }
    if (r->content_type) {
        MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
    }
    if (r->retry_after_s) {
        char ra[24];
        snprintf(ra, sizeof ra, "%" PRIu64, r->retry_after_s);
        MHD_add_response_header(mr, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    }
    enum MHD_Result rc = MHD_queue_response(c, (unsigned)r->status, mr);
    MHD_destroy_response(mr);
    return rc;
}

static enum MHD_Result too_large(sl_gw_t *gw, struct MHD_Connection *c, req_state_t *rq) {
    rq->answered = true;
    sl_gw_resp_t r = {0};
    sl_gw_error(&r, 413, 41301, "request body larger than max.request.bytes (%zu)", rq->limit);
    count(gw, SL_GW_M_OTHER, 413, sl_mono_ns());
    return queue(c, &r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls) {
    (void)version;
    sl_gw_t *gw = cls;
    req_state_t *rq = *con_cls;
    if (!rq) {
        rq = *con_cls = sl_xcalloc(1, sizeof *rq);
        sl_gw_policy_t *p = policy_get(gw);
        rq->limit = (size_t)p->s.max_request_bytes;
        policy_put(gw, p);
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > rq->limit) {
            return too_large(gw, c, rq);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (rq->answered) {
            return MHD_YES;
        }
        if (rq->too_large || n > rq->limit - rq->body.len) {
            rq->too_large = true;
            rq->dropped += n + rq->body.len;
            sl_buf_fini(&rq->body);
            return rq->dropped > 4 * rq->limit ? MHD_NO : MHD_YES;
        }
        sl_buf_append(&rq->body, upload, n);
        return MHD_YES;
    }
    if (rq->answered) {
        return MHD_YES;
    }
    if (rq->too_large) {
        return too_large(gw, c, rq);
    }
    rq->answered = true;
    sl_gw_req_t q = {.gw = gw, .conn = c, .method = method};
    q.body = rq->body.len ? (const char *)rq->body.data : NULL;
    q.body_len = rq->body.len;
    sl_gw_resp_t r = {.status = 200};
    sl_gw_serve(&q, url, &r);
    return queue(c, &r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)cls;
    (void)c;
    (void)toe;
    req_state_t *rq = *con_cls;
    if (rq) {
        sl_buf_fini(&rq->body);
        free(rq);
        *con_cls = NULL;
    }
}

static void on_kafka_error(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
    (void)rk;
    sl_gw_t *gw = opaque;
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
        sl_gw_breaker_trip(&gw->breaker, sl_mono_ms());
    }
    sl_log(SL_LOG_WARN, "gateway", "kafka=\"%s\" reason=\"%s\"", rd_kafka_err2name(err), reason);
}

static void on_kafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    (void)rk;
    sl_log(SL_LOG_DEBUG, "gateway", "rdkafka level=%d fac=%s msg=\"%s\"", level, fac, buf);
}

/* Delivery reports carry the record's slot; produce.c's callback is set on the conf. */
void sl_gw_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque);

static void *poll_main(void *arg) {
    sl_gw_t *gw = arg;
    for (;;) {
        pthread_mutex_lock(&gw->stop_mu);
        bool stop = gw->stopping;
        pthread_mutex_unlock(&gw->stop_mu);
        if (stop) {
            return NULL;
        }
        rd_kafka_poll(gw->producer, 100);
    }
}

static void *reap_main(void *arg) {
    sl_gw_t *gw = arg;
    pthread_mutex_lock(&gw->stop_mu);
    while (!gw->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&gw->stop_cv, &gw->stop_mu, &ts);
        pthread_mutex_unlock(&gw->stop_mu);
        sl_gw_consumers_reap(gw, false);
        pthread_mutex_lock(&gw->md_mu);
        bool known = gw->cluster_id != NULL;
        pthread_mutex_unlock(&gw->md_mu);
        if (!known) { /* learn it early, so that produce need not wait for it */
            char id[256], why[SL_ERRLEN];
            (void)sl_gw_cluster_id(gw, id, sizeof id, why);
        }
        pthread_mutex_lock(&gw->stop_mu);
    }
    pthread_mutex_unlock(&gw->stop_mu);
    return NULL;
}

sl_gw_t *sl_gw_start(const sl_gw_opts_t *o, char *err) {
    sl_gw_policy_t *pol = sl_gw_policy_load(o->config_path, err);
    if (!pol) {
        return NULL;
    }
    pol->refs = 1;
    sl_gw_t *gw = sl_xcalloc(1, sizeof *gw);
    gw->policy = pol;
    gw->start = pol->s;
    gw->brokers = sl_xstrdup(o->brokers);
    gw->config_path = o->config_path ? sl_xstrdup(o->config_path) : NULL;
    gw->props = o->props;
    gw->n_props = o->n_props;
    pthread_mutex_init(&gw->stop_mu, NULL);
    pthread_cond_init(&gw->stop_cv, NULL);
    pthread_mutex_init(&gw->pol_mu, NULL);
    pthread_mutex_init(&gw->md_mu, NULL);
    pthread_mutex_init(&gw->cons_mu, NULL);
    pthread_mutex_init(&gw->m_mu, NULL);
    sl_gw_acls_init(&gw->acls);
    for (int i = 0; i < SL_GW_M_N; i++) {
        gw->latency[i] = sl_hist_new();
    }
    sl_gw_breaker_init(&gw->breaker, (int)gw->start.breaker_threshold,
                       (uint64_t)gw->start.breaker_window_ms, (uint64_t)gw->start.breaker_slow_ms,
                       (uint64_t)gw->start.breaker_open_ms);

    char why[SL_ERRLEN];
    rd_kafka_conf_t *conf = sl_gw_kconf(gw, why);
    char e[512], tmo[32];
    snprintf(tmo, sizeof tmo, "%" PRId64, gw->start.produce_timeout_ms);
    if (!conf || rd_kafka_conf_set(conf, "acks", "all", e, sizeof e) ||
        rd_kafka_conf_set(conf, "enable.idempotence", "true", e, sizeof e) ||
        rd_kafka_conf_set(conf, "message.timeout.ms", tmo, e, sizeof e) ||
        rd_kafka_conf_set(conf, "linger.ms", "1", e, sizeof e) ||
        rd_kafka_conf_set(conf, "allow.auto.create.topics", "false", e, sizeof e)) {
        snprintf(err, SL_ERRLEN, "producer configuration: %s", conf ? e : why);
        if (conf) {
            rd_kafka_conf_destroy(conf);
        }
        goto fail;
    }
    rd_kafka_conf_set_opaque(conf, gw);
    rd_kafka_conf_set_error_cb(conf, on_kafka_error);
    rd_kafka_conf_set_log_cb(conf, on_kafka_log);
    rd_kafka_conf_set_dr_msg_cb(conf, sl_gw_on_delivery);
    gw->producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof e);
    if (!gw->producer) {
        snprintf(err, SL_ERRLEN, "producer: %s", e);
        goto fail;
    }
    pthread_create(&gw->poller, NULL, poll_main, gw);
    pthread_create(&gw->reaper, NULL, reap_main, gw);

    /* MHD has no listening socket: front.c accepts, and hands it HTTP/1.1 connections. */
    gw->mhd = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                                   MHD_USE_POLL | MHD_ALLOW_UPGRADE | MHD_USE_NO_LISTEN_SOCKET |
                                   MHD_USE_ITC,
                               0, NULL, NULL, on_request, gw, MHD_OPTION_NOTIFY_COMPLETED,
                               on_completed, gw, MHD_OPTION_CONNECTION_LIMIT, MAX_CONNS,
                               MHD_OPTION_CONNECTION_TIMEOUT, IDLE_S, MHD_OPTION_END);
    if (!gw->mhd) {
        snprintf(err, SL_ERRLEN, "cannot start the HTTP/1.1 server");
        sl_gw_stop(gw);
        return NULL;
    }
    gw->front = sl_gw_front_start(gw, o->host, o->port, err);
    if (!gw->front) {
        sl_gw_stop(gw);
        return NULL;
    }
    gw->port = sl_gw_front_port(gw->front);
    return gw;

fail:
    sl_gw_stop(gw);
    return NULL;
}

int sl_gw_port(const sl_gw_t *gw) {
    return gw->port;
}

void sl_gw_stop(sl_gw_t *gw) {
    if (!gw) {
        return;
    }
    /* Upgraded sockets must be closed before the daemon stops. A stream ends within one poll
     * (100 ms) or one send slice (200 ms); the bound covers an upgrade the client abandoned
     * before its handler ran (never counted down). */
    pthread_mutex_lock(&gw->stop_mu);
    gw->ws_stop = true;
    uint64_t give_up = sl_mono_ms() + 5000;
    while (gw->n_ws > 0 && sl_mono_ms() < give_up) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&gw->stop_cv, &gw->stop_mu, &ts);
    }
    pthread_mutex_unlock(&gw->stop_mu);
    if (gw->front) {
        sl_gw_front_stop(gw->front); /* TLS pumps and HTTP/2 connections end */
    }
    if (gw->mhd) {
        MHD_stop_daemon(gw->mhd);
    }
    sl_gw_front_free(gw->front);
    gw->front = NULL;
    pthread_mutex_lock(&gw->stop_mu);
    gw->stopping = true;
    pthread_cond_broadcast(&gw->stop_cv);
    pthread_mutex_unlock(&gw->stop_mu);
    if (gw->producer) {
        pthread_join(gw->reaper, NULL);
        pthread_join(gw->poller, NULL);
        sl_gw_consumers_reap(gw, true);
        rd_kafka_flush(gw->producer, 2000);
        if (gw->md) {
            rd_kafka_metadata_destroy(gw->md);
        }
        rd_kafka_destroy(gw->producer);
    }
    sl_gw_breaker_fini(&gw->breaker);
    sl_gw_acls_fini(&gw->acls);
    for (int i = 0; i < SL_GW_M_N; i++) {
        sl_hist_free(gw->latency[i]);
    }
    sl_gw_policy_free(gw->policy);
    free(gw->brokers);
    free(gw->config_path);
    free(gw->cluster_id);
    free(gw);
}

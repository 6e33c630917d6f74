/* consume.c -- REST Proxy v2-style consumer instances, each its own librdkafka consumer in a
 * group:
 *   POST   /consumers/{group}                              create {"name", "format",
 *                                                           "auto.offset.reset",
 * "auto.commit.enable"} POST   /consumers/{group}/instances/{id}/subscription  {"topics": [...]}
 *   GET    /consumers/{group}/instances/{id}/subscription
 *   GET    /consumers/{group}/instances/{id}/records?timeout=MS&max_bytes=N
 *   POST   /consumers/{group}/instances/{id}/offsets       commit: the body's {"offsets": [...]},
 *                                                           or every record returned so far
 *   DELETE /consumers/{group}/instances/{id}
 * An instance belongs to the principal that made it. One request uses an instance at a time (its
 * mutex); the reaper deletes instances idle for consumer.instance.timeout.ms. An instance is freed
 * only when no request holds it (`busy`), so DELETE or the reaper never pull it from under a
 * poll. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/util.h"
#include "gateway/b64.h"
#include "gateway/gw_int.h"

#define POLL_MAX_MS   30000
#define POLL_DEF_MS   1000
#define MAX_BYTES_DEF (1 << 20)
#define MAX_BYTES_MAX (16 << 20)

struct sl_gw_consumer {
    sl_gw_consumer_t *next;
    char *group, *id, *owner;
    char format; /* 'j'son, 'b'inary, 's'tring */
    rd_kafka_t *rk;
    pthread_mutex_t mu; /* one request at a time on rk */
    int busy;           /* requests holding it, under gw->cons_mu */
    bool deleted;       /* unlinked; the last holder frees it */
    uint64_t last_used; /* ms, under gw->cons_mu */
};

static void destroy(sl_gw_consumer_t *c) {
    rd_kafka_consumer_close(c->rk);
    rd_kafka_destroy(c->rk);
    pthread_mutex_destroy(&c->mu);
    free(c->group);
    free(c->id);
    free(c->owner);
    free(c);
}

/* Finds and holds an instance; NULL when there is none. */
static sl_gw_consumer_t *hold(sl_gw_t *gw, const char *group, const char *id) {
    pthread_mutex_lock(&gw->cons_mu);
    sl_gw_consumer_t *c = gw->consumers;
    while (c && (strcmp(c->group, group) || strcmp(c->id, id))) {
        c = c->next;
    }
    if (c) {
        c->busy++;
    }
    pthread_mutex_unlock(&gw->cons_mu);
    return c;
}

static void release(sl_gw_t *gw, sl_gw_consumer_t *c) {
    pthread_mutex_lock(&gw->cons_mu);
    c->last_used = sl_mono_ms();
    bool free_it = --c->busy == 0 && c->deleted;
    pthread_mutex_unlock(&gw->cons_mu);
    if (free_it) {
        destroy(c);
    }
}

/* Unlinks `c` (cons_mu held). Returns true when the caller must destroy it now. */
static bool unlink_locked(sl_gw_t *gw, sl_gw_consumer_t *c) {
    for (sl_gw_consumer_t **pp = &gw->consumers; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            gw->n_consumers--;
            c->deleted = true;
            return c->busy == 0;
        }
    }
    return false;
}

void sl_gw_consumers_reap(sl_gw_t *gw, bool all) {
    uint64_t now = sl_mono_ms();
    for (;;) {
        sl_gw_consumer_t *victim = NULL;
        pthread_mutex_lock(&gw->cons_mu);
        for (sl_gw_consumer_t *c = gw->consumers; c; c = c->next) {
            if (all || (!c->busy && now - c->last_used >= (uint64_t)gw->start.consumer_idle_ms)) {
                victim = c;
                break;
            }
        }
        bool now_free = victim && unlink_locked(gw, victim);
        pthread_mutex_unlock(&gw->cons_mu);
        if (!victim) {
            return;
        }
        if (now_free) {
            destroy(victim);
        }
    }
}

void sl_gw_consumers_metrics(sl_gw_t *gw, sl_buf_t *out) {
    pthread_mutex_lock(&gw->cons_mu);
    char line[128];
    int n = snprintf(line, sizeof line,
                     "# TYPE sluice_gateway_consumer_instances gauge\n"
                     "sluice_gateway_consumer_instances %d\n",
                     gw->n_consumers);
    pthread_mutex_unlock(&gw->cons_mu);
    sl_buf_append(out, line, (size_t)n);
}

static json_t *body_json(sl_gw_req_t *q, sl_gw_resp_t *r, bool optional) {
    if (!q->body) {
        if (optional) {
            return json_object();
        }
        sl_gw_error(r, 400, 40001, "a JSON body is required");
        return NULL;
    }
    if (!sl_gw_is_json(q, true)) {
        sl_gw_error(r, 415, 41501,
                    "Content-Type must be application/vnd.kafka.v2+json or application/json");
        return NULL;
    }
    json_error_t je;
    json_t *j = json_loadb(q->body, q->body_len, 0, &je);
    if (!json_is_object(j)) {
        sl_gw_error(r, 400, 40001, "malformed JSON: %s", j ? "not an object" : je.text);
        json_decref(j);
        return NULL;
    }
    return j;
}

static bool set(rd_kafka_conf_t *conf, const char *k, const char *v, char *why) {
    char e[512];
    if (rd_kafka_conf_set(conf, k, v, e, sizeof e) != RD_KAFKA_CONF_OK) {
        snprintf(why, SL_ERRLEN, "%s: %s", k, e);
        return false;
    }
    return true;
}

static void create(sl_gw_req_t *q, sl_gw_resp_t *r, const char *group) {
    sl_gw_t *gw = q->gw;
    json_t *j = body_json(q, r, true);
    if (!j) {
        return;
    }
    const char *name = json_string_value(json_object_get(j, "name"));
    const char *format = json_string_value(json_object_get(j, "format"));
    const char *reset = json_string_value(json_object_get(j, "auto.offset.reset"));
    const char *autoc = json_string_value(json_object_get(j, "auto.commit.enable"));
    char fmt = !format || !strcmp(format, "binary") ? 'b'
               : !strcmp(format, "json")            ? 'j'
               : !strcmp(format, "string")          ? 's'
                                                    : 0;
    char why[SL_ERRLEN], idbuf[32];
    if (!fmt) {
        sl_gw_error(r, 422, 42201, "format must be binary, json or string");
        goto out;
    }
    if (reset && strcmp(reset, "earliest") && strcmp(reset, "latest")) {
        sl_gw_error(r, 422, 42202, "auto.offset.reset must be earliest or latest");
        goto out;
    }
    if (autoc && strcmp(autoc, "true") && strcmp(autoc, "false")) {
        sl_gw_error(r, 422, 42203, "auto.commit.enable must be \"true\" or \"false\"");
        goto out;
    }
    if (name && (!*name || strlen(name) > 200 || strchr(name, '/'))) {
        sl_gw_error(r, 422, 42204, "name must be 1 to 200 characters without '/'");
        goto out;
    }
    pthread_mutex_lock(&gw->cons_mu);
    uint64_t seq = ++gw->next_instance;
    pthread_mutex_unlock(&gw->cons_mu);
    if (!name) {
        snprintf(idbuf, sizeof idbuf, "rest-consumer-%" PRIu64, seq);
        name = idbuf;
    }
    rd_kafka_conf_t *conf = sl_gw_kconf(gw, why);
    if (!conf || !set(conf, "group.id", group, why) ||
        !set(conf, "auto.offset.reset", reset ? reset : "latest", why) ||
        !set(conf, "enable.auto.commit", autoc ? autoc : "false", why) ||
        !set(conf, "allow.auto.create.topics", "false", why)) {
        if (conf) {
            rd_kafka_conf_destroy(conf);
        }
        sl_gw_error(r, 500, 50001, "consumer configuration: %s", why);
        goto out;
    }
    char e[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof e);
    if (!rk) {
        sl_gw_error(r, 500, 50001, "consumer: %s", e);
        goto out;
    }
    rd_kafka_poll_set_consumer(rk);
    sl_gw_consumer_t *c = sl_xcalloc(1, sizeof *c);
    c->group = sl_xstrdup(group);
    c->id = sl_xstrdup(name);
    c->owner = sl_xstrdup(q->principal->name);
    c->format = fmt;
    c->rk = rk;
    c->last_used = sl_mono_ms();
    pthread_mutex_init(&c->mu, NULL);
    pthread_mutex_lock(&gw->cons_mu);
    bool dup = false;
    for (sl_gw_consumer_t *o = gw->consumers; o; o = o->next) {
        dup |= !strcmp(o->group, group) && !strcmp(o->id, name);
    }
    bool full = gw->n_consumers >= SL_GW_MAX_CONSUMERS;
    if (!dup && !full) {
        c->next = gw->consumers;
        gw->consumers = c;
        gw->n_consumers++;
    }
    pthread_mutex_unlock(&gw->cons_mu);
    if (dup || full) {
        destroy(c);
        if (dup) {
            sl_gw_error(r, 409, 40902, "consumer instance %s already exists in group %s", name,
                        group);
        } else {
            sl_gw_error(r, 503, 50303, "too many consumer instances (%d)", SL_GW_MAX_CONSUMERS);
        }
        goto out;
    }
    const char *host = sl_gw_header(q, "Host");
    char uri[512];
    snprintf(uri, sizeof uri, "http://%s/consumers/%s/instances/%s", host ? host : "localhost",
             group, name);
    sl_gw_json(r, 200, json_pack("{s:s, s:s}", "instance_id", name, "base_uri", uri));
out:
    json_decref(j);
}

static void subscribe(sl_gw_req_t *q, sl_gw_resp_t *r, sl_gw_consumer_t *c) {
    json_t *j = body_json(q, r, false);
    if (!j) {
        return;
    }
    json_t *topics = json_object_get(j, "topics");
    if (!json_is_array(topics) || json_array_size(topics) == 0) {
        sl_gw_error(r, 422, 42205, "topics must be a non-empty array of topic names");
        json_decref(j);
        return;
    }
    rd_kafka_topic_partition_list_t *l =
        rd_kafka_topic_partition_list_new((int)json_array_size(topics));
    size_t i;
    json_t *t;
    bool ok = true;
    json_array_foreach(topics, i, t) {
        const char *name = json_string_value(t);
        if (!name || !*name) {
            sl_gw_error(r, 422, 42205, "topics must be a non-empty array of topic names");
            ok = false;
            break;
        }
        if (!sl_gw_check(q, r, SL_GW_OP_CONSUME, name, NULL)) {
            ok = false;
            break;
        }
        rd_kafka_topic_partition_list_add(l, name, RD_KAFKA_PARTITION_UA);
    }
    if (ok) {
        rd_kafka_resp_err_t err = rd_kafka_subscribe(c->rk, l);
        if (err) {
            sl_gw_error(r, 500, 50002, "subscribe: %s", rd_kafka_err2str(err));
        } else {
            r->status = 204;
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
    json_decref(j);
}

static void subscription(sl_gw_resp_t *r, sl_gw_consumer_t *c) {
    rd_kafka_topic_partition_list_t *l = NULL;
    json_t *arr = json_array();
    if (!rd_kafka_subscription(c->rk, &l)) {
        for (int i = 0; i < l->cnt; i++) {
            json_array_append_new(arr, json_string(l->elems[i].topic));
        }
        rd_kafka_topic_partition_list_destroy(l);
    }
    sl_gw_json(r, 200, json_pack("{s:o}", "topics", arr));
}

static json_t *encode(char format, const void *p, size_t n) {
    if (!p) {
        return json_null();
    }
    if (format == 's') {
        return json_stringn_nocheck(p, n);
    }
    if (format == 'j') {
        json_t *v = json_loadb(p, n, JSON_DECODE_ANY, NULL);
        return v ? v : json_null(); /* not JSON: null, as the v2 json format cannot carry it */
    }
    sl_buf_t b = {0};
    sl_gw_b64_encode(&b, p, n);
    json_t *s = json_stringn(b.len ? (const char *)b.data : "", b.len);
    sl_buf_fini(&b);
    return s;
}

static bool parse_ms(const char *s, int64_t def, int64_t max, int64_t *out) {
    if (!s) {
        *out = def;
        return true;
    }
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || v < 0 || v > max) {
        return false;
    }
    *out = v;
    return true;
}

static void records(sl_gw_req_t *q, sl_gw_resp_t *r, sl_gw_consumer_t *c) {
    int64_t timeout, max_bytes;
    if (!parse_ms(sl_gw_arg(q, "timeout"), POLL_DEF_MS, POLL_MAX_MS, &timeout) ||
        !parse_ms(sl_gw_arg(q, "max_bytes"), MAX_BYTES_DEF, MAX_BYTES_MAX, &max_bytes)) {
        sl_gw_error(r, 400, 40005, "timeout must be 0..%d ms and max_bytes 0..%d", POLL_MAX_MS,
                    MAX_BYTES_MAX);
        return;
    }
    json_t *arr = json_array();
    int64_t bytes = 0;
    uint64_t deadline = sl_mono_ms() + (uint64_t)timeout;
    for (;;) {
        uint64_t now = sl_mono_ms();
        /* Once something arrived, only take what is already there. */
        int wait = json_array_size(arr) ? 0 : now >= deadline ? 0 : (int)(deadline - now);
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, wait);
        if (!m) {
            if (json_array_size(arr) || sl_mono_ms() >= deadline) {
                break;
            }
            continue;
        }
        if (m->err) {
            bool eof = m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF;
            rd_kafka_message_destroy(m);
            if (eof) {
                continue;
            }
            break; /* transient consumer errors: answer with what we have */
        }
        json_array_append_new(
            arr, json_pack("{s:s, s:o, s:o, s:i, s:I, s:I}", "topic", rd_kafka_topic_name(m->rkt),
                           "key", encode(c->format, m->key, m->key_len), "value",
                           encode(c->format, m->payload, m->len), "partition", (int)m->partition,
                           "offset", (json_int_t)m->offset, "timestamp",
                           (json_int_t)rd_kafka_message_timestamp(m, NULL)));
        bytes += (int64_t)(m->len + m->key_len);
        rd_kafka_message_destroy(m);
        if (bytes >= max_bytes) {
            break;
        }
    }
    sl_gw_json(r, 200, arr);
}

static void commit(sl_gw_req_t *q, sl_gw_resp_t *r, sl_gw_consumer_t *c) {
    json_t *j = body_json(q, r, true);
    if (!j) {
        return;
    }
    json_t *offs = json_object_get(j, "offsets");
    rd_kafka_topic_partition_list_t *l = NULL;
    if (offs) {
        if (!json_is_array(offs)) {
            sl_gw_error(r, 422, 42206, "offsets must be an array");
            json_decref(j);
            return;
        }
        l = rd_kafka_topic_partition_list_new((int)json_array_size(offs));
        size_t i;
        json_t *o;
        json_array_foreach(offs, i, o) {
            const char *t = json_string_value(json_object_get(o, "topic"));
            json_t *p = json_object_get(o, "partition"), *off = json_object_get(o, "offset");
            if (!t || !json_is_integer(p) || !json_is_integer(off) || json_integer_value(p) < 0 ||
                json_integer_value(p) > INT32_MAX || json_integer_value(off) < 0) {
                sl_gw_error(r, 422, 42206, "offset %zu needs topic, partition and offset", i);
                rd_kafka_topic_partition_list_destroy(l);
                json_decref(j);
                return;
            }
            if (!sl_gw_check(q, r, SL_GW_OP_CONSUME, t, NULL)) {
                rd_kafka_topic_partition_list_destroy(l);
                json_decref(j);
                return;
            }
            /* v2 commits the offset of the last record read; Kafka stores the next one. */
            rd_kafka_topic_partition_list_add(l, t, (int32_t)json_integer_value(p))->offset =
                json_integer_value(off) + 1;
        }
    }
    rd_kafka_resp_err_t err = rd_kafka_commit(c->rk, l, 0);
    if (l) {
        rd_kafka_topic_partition_list_destroy(l);
    }
    json_decref(j);
    if (err == RD_KAFKA_RESP_ERR__NO_OFFSET) {
        r->status = 204; /* nothing consumed since the last commit */
    } else if (err) {
        sl_gw_error(r, err == RD_KAFKA_RESP_ERR__TIMED_OUT ? 504 : 500, 50003, "commit: %s",
                    rd_kafka_err2str(err));
    } else {
        r->status = 204;
    }
}

void sl_gw_consumers(sl_gw_req_t *q, sl_gw_resp_t *r) {
    sl_gw_t *gw = q->gw;
    const char *m = q->method;
    /* gateway.c routes here only with nseg >= 2: segs[1] is the group. */
    if (!sl_gw_check(q, r, SL_GW_OP_CONSUME, NULL, q->segs[1])) {
        return;
    }
    if (q->nseg == 2) {
        if (strcmp(m, "POST")) {
            sl_gw_error(r, 405, 405, "only POST is allowed here");
            return;
        }
        create(q, r, q->segs[1]);
        return;
    }
    if (q->nseg < 4 || q->nseg > 5 || strcmp(q->segs[2], "instances")) {
        sl_gw_error(r, 404, 404, "no such route");
        return;
    }
    sl_gw_consumer_t *c = hold(gw, q->segs[1], q->segs[3]);
    if (!c) {
        sl_gw_error(r, 404, 40403, "consumer instance %s not found in group %s", q->segs[3],
                    q->segs[1]);
        return;
    }
    if (strcmp(c->owner, q->principal->name)) {
        release(gw, c);
        sl_gw_error(r, 403, 40302, "consumer instance belongs to another principal");
        return;
    }
    const char *what = q->nseg == 5 ? q->segs[4] : "";
    pthread_mutex_lock(&c->mu);
    if (q->nseg == 4 && !strcmp(m, "DELETE")) {
        pthread_mutex_lock(&gw->cons_mu);
        bool was_linked = !c->deleted;
        if (was_linked) {
            unlink_locked(gw, c); /* busy > 0 (we hold it): release frees it */
        }
        pthread_mutex_unlock(&gw->cons_mu);
        r->status = 204;
    } else if (!strcmp(what, "subscription") && !strcmp(m, "POST")) {
        subscribe(q, r, c);
    } else if (!strcmp(what, "subscription") && !strcmp(m, "GET")) {
        subscription(r, c);
    } else if (!strcmp(what, "records") && !strcmp(m, "GET")) {
        records(q, r, c);
    } else if (!strcmp(what, "offsets") && !strcmp(m, "POST")) {
        commit(q, r, c);
    } else {
        sl_gw_error(r, 404, 404, "no such route");
    }
    pthread_mutex_unlock(&c->mu);
    release(gw, c);
}

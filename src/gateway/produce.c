/* produce.c -- POST /v3/clusters/{cluster}/topics/{topic}/records (Confluent REST Proxy v3).
 *
 * The body is one JSON record or several concatenated (the v3 streaming form):
 *   {"partition_id": 0, "headers": [{"name": "h", "value": "<base64>"}],
 *    "key": {"type": "STRING", "data": "k"}, "value": {"type": "JSON", "data": {...}}}
 * with key/value types JSON (data is any JSON, produced as its compact text), BINARY (data is
 * base64) and STRING. Every record is checked before any is produced, so a malformed one fails the
 * request with 400 and nothing is written. Then the circuit breaker is asked, the topic looked up,
 * all records handed to librdkafka (acks=all, idempotent) and the thread waits for every delivery
 * report: librdkafka gives each one within produce.timeout.ms (message.timeout.ms), so the wait is
 * bounded. The answer is one JSON object per record, in order: partition and offset, or an
 * error_code and message. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/util.h"
#include "gateway/b64.h"
#include "gateway/gw_int.h"

typedef struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int remaining;
} waiter_t;

typedef struct slot {
    waiter_t *w;
    rd_kafka_resp_err_t err;
    int32_t partition;
    int64_t offset;
    int64_t timestamp;
} slot_t;

typedef struct rec {
    int32_t partition; /* RD_KAFKA_PARTITION_UA when not given */
    sl_buf_t key, value;
    bool has_key, has_value;
    const char *key_type, *value_type;
    rd_kafka_headers_t *headers;
} rec_t;

void sl_gw_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque);
void sl_gw_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    (void)opaque;
    slot_t *s = m->_private;
    if (!s) {
        return;
    }
    s->err = m->err;
    s->partition = m->partition;
    s->offset = m->offset;
    s->timestamp = rd_kafka_message_timestamp(m, NULL);
    pthread_mutex_lock(&s->w->mu);
    if (--s->w->remaining == 0) {
        pthread_cond_signal(&s->w->cv);
    }
    pthread_mutex_unlock(&s->w->mu);
}

/* Parses a key or value object into `out`. Returns NULL or the reason it is malformed. */
static const char *parse_data(json_t *o, sl_buf_t *out, const char **type) {
    if (!json_is_object(o)) {
        return "must be an object with type and data";
    }
    const char *t = json_string_value(json_object_get(o, "type"));
    json_t *data = json_object_get(o, "data");
    if (!t) {
        t = "JSON"; /* the v3 default when a schema registry is not used */
    }
    if (!data) {
        return "has no data";
    }
    *type = !strcmp(t, "JSON")     ? "JSON"
            : !strcmp(t, "BINARY") ? "BINARY"
            : !strcmp(t, "STRING") ? "STRING"
                                   : NULL;
    if (!*type) {
        return "type must be JSON, BINARY or STRING";
    }
    if (**type == 'J') {
        char *s = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!s) {
            return "data cannot be serialized";
        }
        sl_buf_append(out, s, strlen(s));
        free(s);
        return NULL;
    }
    if (!json_is_string(data)) {
        return "data must be a string for BINARY and STRING";
    }
    const char *d = json_string_value(data);
    size_t n = json_string_length(data);
    if (**type == 'S') {
        sl_buf_append(out, d, n);
        return NULL;
    }
    return sl_gw_b64_decode(out, d, n) ? NULL : "data is not valid base64";
}

/* Checks and converts one record object. NULL, or the reason (into why) it is malformed. */
static bool parse_record(json_t *j, rec_t *r, char *why) {
    r->partition = RD_KAFKA_PARTITION_UA;
    if (!json_is_object(j)) {
        snprintf(why, SL_ERRLEN, "a record must be a JSON object");
        return false;
    }
    json_t *p = json_object_get(j, "partition_id");
    if (p && !json_is_null(p)) {
        if (!json_is_integer(p) || json_integer_value(p) < 0 || json_integer_value(p) > INT32_MAX) {
            snprintf(why, SL_ERRLEN, "partition_id must be a non-negative integer");
            return false;
        }
        r->partition = (int32_t)json_integer_value(p);
    }
    const char *e;
    json_t *k = json_object_get(j, "key");
    if (k && !json_is_null(k)) {
        r->has_key = true;
        if ((e = parse_data(k, &r->key, &r->key_type))) {
            snprintf(why, SL_ERRLEN, "key %s", e);
            return false;
        }
    }
    json_t *v = json_object_get(j, "value");
    if (v && !json_is_null(v)) {
        r->has_value = true;
        if ((e = parse_data(v, &r->value, &r->value_type))) {
            snprintf(why, SL_ERRLEN, "value %s", e);
            return false;
        }
    }
    json_t *hs = json_object_get(j, "headers");
    if (hs && !json_is_null(hs)) {
        if (!json_is_array(hs)) {
            snprintf(why, SL_ERRLEN, "headers must be an array");
            return false;
        }
        r->headers = rd_kafka_headers_new(json_array_size(hs));
        size_t i;
        json_t *h;
        json_array_foreach(hs, i, h) {
            const char *name = json_string_value(json_object_get(h, "name"));
            json_t *hv = json_object_get(h, "value");
            sl_buf_t val = {0};
            bool ok = name && (!hv || json_is_null(hv) ||
                               (json_is_string(hv) && sl_gw_b64_decode(&val, json_string_value(hv),
                                                                       json_string_length(hv))));
            if (ok) {
                rd_kafka_header_add(r->headers, name, -1, val.data, (ssize_t)val.len);
            }
            sl_buf_fini(&val);
            if (!ok) {
                snprintf(why, SL_ERRLEN, "header %zu needs a name and a base64 value", i);
                return false;
            }
        }
    }
    return true;
}

static void rec_fini(rec_t *r) {
    sl_buf_fini(&r->key);
    sl_buf_fini(&r->value);
    if (r->headers) {
        rd_kafka_headers_destroy(r->headers);
    }
}

static bool broker_failure(rd_kafka_resp_err_t err) {
    switch (err) {
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR:
        return true;
    default:
        return false;
    }
}

/* HTTP status for a record that failed with `err`. */
static int status_of(rd_kafka_resp_err_t err) {
    if (err == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT || err == RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT) {
        return 504;
    }
    if (broker_failure(err)) {
        return 503;
    }
    if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) {
        return 413;
    }
    if (err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED) {
        return 403;
    }
    if (err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION || err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
        err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
        return 404;
    }
    return 500;
}

static json_t *size_of(const char *type, size_t n) {
    return json_pack("{s:s, s:I}", "type", type, "size", (json_int_t)n);
}

/* Asks the breaker, checks the topic and partitions, produces recs[0..n) and waits for every
 * acknowledgement (bounded by produce.timeout.ms), filling slots[i] (err, partition, offset).
 * False when nothing was produced, with the HTTP status, error code and reason of the whole
 * request. */
static bool produce_all(sl_gw_t *gw, const char *topic, rec_t *recs, int n, slot_t *slots,
                        int *status, int *code, char *why) {
#define FAIL(st, cd, ...)                                                                          \
    do {                                                                                           \
        *status = st;                                                                              \
        *code = cd;                                                                                \
        snprintf(why, SL_ERRLEN, __VA_ARGS__);                                                     \
        return false;                                                                              \
    } while (0)
    bool probe;
    uint64_t t0 = sl_mono_ms();
    if (!sl_gw_breaker_admit(&gw->breaker, t0, &probe)) {
        FAIL(503, 50301, "circuit breaker open: the brokers are failing; retry later");
    }
    char reason[SL_ERRLEN];
    int parts = sl_gw_partitions(gw, topic, reason);
    if (parts < 0) {
        sl_gw_breaker_done(&gw->breaker, sl_mono_ms(), probe, false, sl_mono_ms() - t0);
        FAIL(503, 50302, "%s", reason);
    }
    if (parts == 0) {
        sl_gw_breaker_release(&gw->breaker, probe);
        FAIL(404, 40401, "topic %s does not exist", topic);
    }
    for (int i = 0; i < n; i++) {
        if (recs[i].partition != RD_KAFKA_PARTITION_UA && recs[i].partition >= parts) {
            sl_gw_breaker_release(&gw->breaker, probe);
            FAIL(404, 40402, "record %d: topic %s has no partition %d (it has %d)", i, topic,
                 (int)recs[i].partition, parts);
        }
    }

    waiter_t w = {.remaining = n};
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    for (int i = 0; i < n; i++) {
        slots[i].w = &w;
        rec_t *rc = &recs[i];
        rd_kafka_headers_t *hdrs = rc->headers;
        rc->headers = NULL; /* librdkafka owns them once producev succeeds */
        rd_kafka_resp_err_t err = rd_kafka_producev(
            gw->producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(rc->partition),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(rc->has_key ? rc->key.data : NULL, rc->key.len),
            RD_KAFKA_V_VALUE(rc->has_value ? rc->value.data : NULL, rc->value.len),
            RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(&slots[i]), RD_KAFKA_V_END);
        if (err) {
            if (hdrs) {
                rd_kafka_headers_destroy(hdrs);
            }
            slots[i].err = err;
            pthread_mutex_lock(&w.mu);
            w.remaining--;
            pthread_mutex_unlock(&w.mu);
        }
    }
    pthread_mutex_lock(&w.mu);
    while (w.remaining > 0) {
        pthread_cond_wait(&w.cv, &w.mu);
    }
    pthread_mutex_unlock(&w.mu);
    pthread_mutex_destroy(&w.mu);
    pthread_cond_destroy(&w.cv);

    bool broker_ok = true;
    for (int i = 0; i < n; i++) {
        if (broker_failure(slots[i].err)) {
            broker_ok = false;
        }
    }
    uint64_t t1 = sl_mono_ms();
    sl_gw_breaker_done(&gw->breaker, t1, probe, broker_ok, t1 - t0);
    return true;
#undef FAIL
}

void sl_gw_produce(sl_gw_req_t *q, sl_gw_resp_t *r, const char *topic) {
    sl_gw_t *gw = q->gw;
    if (!sl_gw_check(q, r, SL_GW_OP_PRODUCE, topic, NULL)) {
        return;
    }
    char cid[256], why0[SL_ERRLEN];
    if (!sl_gw_cluster_id(gw, cid, sizeof cid, why0)) {
        sl_gw_error(r, 503, 50302, "%s", why0);
        return;
    }
    if (strcmp(q->segs[2], cid)) {
        sl_gw_error(r, 404, 40404, "cluster %s not found (this gateway fronts %s)", q->segs[2],
                    cid);
        return;
    }
    if (!sl_gw_is_json(q, false)) {
        sl_gw_error(r, 415, 41501, "Content-Type must be application/json");
        return;
    }
    /* Parse every record first: a malformed one fails the request before anything is sent. */
    rec_t *recs = NULL;
    int n = 0;
    size_t pos = 0;
    char why[SL_ERRLEN];
    while (q->body && pos < q->body_len) {
        while (pos < q->body_len && strchr(" \t\r\n", q->body[pos])) {
            pos++;
        }
        if (pos == q->body_len) {
            break;
        }
        if (n == SL_GW_MAX_RECORDS) {
            sl_gw_error(r, 400, 40002, "more than %d records in one request", SL_GW_MAX_RECORDS);
            goto done;
        }
        json_error_t je;
        json_t *j = json_loadb(q->body + pos, q->body_len - pos, JSON_DISABLE_EOF_CHECK, &je);
        if (!j) {
            sl_gw_error(r, 400, 40001, "malformed JSON in record %d at byte %zu: %s", n,
                        pos + (size_t)je.position, je.text);
            goto done;
        }
        pos += (size_t)je.position;
        recs = sl_xrealloc(recs, (size_t)(n + 1) * sizeof *recs);
        memset(&recs[n], 0, sizeof recs[n]);
        bool ok = parse_record(j, &recs[n++], why);
        json_decref(j);
        if (!ok) {
            sl_gw_error(r, 400, 40003, "record %d: %s", n - 1, why);
            goto done;
        }
    }
    if (n == 0) {
        sl_gw_error(r, 400, 40004, "the body holds no record");
        goto done;
    }

    slot_t *slots = sl_xcalloc((size_t)n, sizeof *slots);
    int fst, code;
    if (!produce_all(gw, topic, recs, n, slots, &fst, &code, why)) {
        sl_gw_error(r, fst, code, "%s", why);
        if (code == 50301) {
            r->retry_after_s = ((uint64_t)gw->start.breaker_open_ms + 999) / 1000;
        }
        free(slots);
        goto done;
    }
    const char *cluster = q->segs[2];
    for (int i = 0; i < n; i++) {
        json_t *o;
        int status = 200;
        if (slots[i].err) {
            status = status_of(slots[i].err);
            o = json_pack("{s:i, s:s}", "error_code", status * 100 + 2, "message",
                          rd_kafka_err2str(slots[i].err));
        } else {
            o = json_pack("{s:i, s:s, s:s, s:i, s:I, s:I}", "error_code", 200, "cluster_id",
                          cluster, "topic_name", topic, "partition_id", (int)slots[i].partition,
                          "offset", (json_int_t)slots[i].offset, "timestamp_ms",
                          (json_int_t)slots[i].timestamp);
            if (recs[i].has_key) {
                json_object_set_new(o, "key", size_of(recs[i].key_type, recs[i].key.len));
            }
            if (recs[i].has_value) {
                json_object_set_new(o, "value", size_of(recs[i].value_type, recs[i].value.len));
            }
        }
        /* One record: its own status. Several (streamed): 200, a code per record. */
        sl_gw_resp_t one = {0};
        sl_gw_json(&one, n == 1 ? status : 200, o);
        sl_buf_append(&r->body, one.body.data, one.body.len);
        r->status = one.status;
        r->content_type = one.content_type;
        sl_buf_fini(&one.body);
    }
    free(slots);
done:
    for (int i = 0; i < n; i++) {
        rec_fini(&recs[i]);
    }
    free(recs);
}

/* A key, value or header value of a WebSocket produce frame, in the stream's format: base64
 * ('b'), a string ('s') or any JSON value produced as its compact text ('j'). */
static const char *ws_data(json_t *v, char format, sl_buf_t *out) {
    if (format == 'j') {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!s) {
            return "cannot be serialized";
        }
        sl_buf_append(out, s, strlen(s));
        free(s);
        return NULL;
    }
    if (!json_is_string(v)) {
        return format == 'b' ? "must be a base64 string" : "must be a string";
    }
    if (format == 's') {
        sl_buf_append(out, json_string_value(v), json_string_length(v));
        return NULL;
    }
    return sl_gw_b64_decode(out, json_string_value(v), json_string_length(v))
               ? NULL
               : "is not valid base64";
}

static bool ws_header(rec_t *r, const char *name, json_t *v, char format, char *why) {
    sl_buf_t val = {0};
    const char *e = NULL;
    if (v && !json_is_null(v)) {
        e = json_is_string(v) ? ws_data(v, format == 'j' ? 's' : format, &val) : "must be a string";
    }
    if (!e) {
        rd_kafka_header_add(r->headers, name, -1, v && !json_is_null(v) ? val.data : NULL,
                            (ssize_t)val.len);
    } else {
        snprintf(why, SL_ERRLEN, "header %.100s %s", name, e);
    }
    sl_buf_fini(&val);
    return !e;
}

/* One record of a WebSocket produce frame: {"key","value","headers","partition"}. */
static bool ws_record(json_t *j, char format, rec_t *r, char *why) {
    r->partition = RD_KAFKA_PARTITION_UA;
    r->key_type = r->value_type = format == 'b' ? "BINARY" : format == 's' ? "STRING" : "JSON";
    if (!json_is_object(j)) {
        snprintf(why, SL_ERRLEN, "a record must be a JSON object");
        return false;
    }
    json_t *p = json_object_get(j, "partition");
    if (p && !json_is_null(p)) {
        if (!json_is_integer(p) || json_integer_value(p) < 0 || json_integer_value(p) > INT32_MAX) {
            snprintf(why, SL_ERRLEN, "partition must be a non-negative integer");
            return false;
        }
        r->partition = (int32_t)json_integer_value(p);
    }
    const char *e;
    json_t *k = json_object_get(j, "key"), *v = json_object_get(j, "value");
    if (k && !json_is_null(k) && (r->has_key = true) && (e = ws_data(k, format, &r->key))) {
        snprintf(why, SL_ERRLEN, "key %s", e);
        return false;
    }
    if (v && !json_is_null(v) && (r->has_value = true) && (e = ws_data(v, format, &r->value))) {
        snprintf(why, SL_ERRLEN, "value %s", e);
        return false;
    }
    json_t *hs = json_object_get(j, "headers");
    if (!hs || json_is_null(hs)) {
        return true;
    }
    r->headers = rd_kafka_headers_new(8);
    const char *name;
    json_t *h;
    size_t i;
    if (json_is_object(hs)) { /* {"name": "value", ...} */
        json_object_foreach(hs, name, h) {
            if (!ws_header(r, name, h, format, why)) {
                return false;
            }
        }
        return true;
    }
    if (!json_is_array(hs)) {
        snprintf(why, SL_ERRLEN, "headers must be an object or an array of {name, value}");
        return false;
    }
    json_array_foreach(hs, i, h) { /* [{"name": .., "value": ..}, ...] */
        name = json_string_value(json_object_get(h, "name"));
        if (!name) {
            snprintf(why, SL_ERRLEN, "header %zu has no name", i);
            return false;
        }
        if (!ws_header(r, name, json_object_get(h, "value"), format, why)) {
            return false;
        }
    }
    return true;
}

static char *ws_answer(json_t *o, json_t *id) {
    if (id) {
        json_object_set(o, "id", id);
    }
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

static json_t *ws_error(int code, const char *msg) {
    return json_pack("{s:s, s:i, s:s}", "type", "error", "error_code", code, "message", msg);
}

char *sl_gw_ws_produce(sl_gw_t *gw, const char *topic, char format, const char *text, size_t n) {
    json_error_t je;
    json_t *j = json_loadb(text, n, 0, &je);
    char why[SL_ERRLEN];
    if (!j) {
        snprintf(why, sizeof why, "malformed JSON at byte %d: %s", je.position, je.text);
        return ws_answer(ws_error(40001, why), NULL);
    }
    bool many = json_is_array(j);
    json_t *id = json_is_object(j) ? json_object_get(j, "id") : NULL;
    int nrec = many ? (int)SL_MIN(json_array_size(j), (size_t)SL_GW_MAX_RECORDS + 1) : 1;
    rec_t *recs = sl_xcalloc((size_t)(nrec ? nrec : 1), sizeof *recs);
    slot_t *slots = sl_xcalloc((size_t)(nrec ? nrec : 1), sizeof *slots);
    json_t *ans = NULL;
    if (nrec == 0 || nrec > SL_GW_MAX_RECORDS) {
        ans = ws_error(nrec ? 40002 : 40004,
                       nrec ? "too many records in one frame" : "the frame holds no record");
        goto done;
    }
    for (int i = 0; i < nrec; i++) {
        if (!ws_record(many ? json_array_get(j, (size_t)i) : j, format, &recs[i], why)) {
            char msg[SL_ERRLEN + 32];
            snprintf(msg, sizeof msg, "record %d: %s", i, why);
            ans = ws_error(40003, msg);
            goto done;
        }
    }
    int status, code;
    if (!produce_all(gw, topic, recs, nrec, slots, &status, &code, why)) {
        ans = ws_error(code, why);
        goto done;
    }
    json_t *results = json_array();
    for (int i = 0; i < nrec; i++) {
        if (slots[i].err) {
            json_array_append_new(results, json_pack("{s:i, s:s}", "error_code",
                                                     status_of(slots[i].err) * 100 + 2, "message",
                                                     rd_kafka_err2str(slots[i].err)));
        } else {
            json_array_append_new(results, json_pack("{s:s, s:i, s:I, s:I}", "topic", topic,
                                                     "partition", (int)slots[i].partition, "offset",
                                                     (json_int_t)slots[i].offset, "timestamp",
                                                     (json_int_t)slots[i].timestamp));
        }
    }
    if (many) {
        ans = json_pack("{s:s, s:o}", "type", "ack", "results", results);
    } else {
        ans = json_incref(json_array_get(results, 0));
        json_decref(results);
        json_object_set_new(ans, "type", json_string(slots[0].err ? "error" : "ack"));
    }
done:
    for (int i = 0; i < nrec; i++) {
        rec_fini(&recs[i]);
    }
    free(recs);
    free(slots);
    char *s = ws_answer(ans, id);
    json_decref(j);
    return s;
}

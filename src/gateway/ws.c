/* ws.c -- GET /ws/topics/{topic}?from=earliest|latest|offset:N|timestamp:MS&partition=N&format=F
 * streams a topic over a WebSocket (RFC 6455): one text frame per record, JSON
 * {"topic","partition","offset","timestamp","key","value"} with key and value as in the consumer
 * formats (binary: base64, the default; string; json).
 *
 * Everything that can fail with an HTTP status (auth, permission, unknown topic or partition, a
 * bad `from`, a request that is not a WebSocket handshake) is checked before the 101 answer.
 * After the upgrade a thread of its own owns the socket and a librdkafka consumer assigned to the
 * partitions (no group). A slow reader is paused, not buffered: the thread writes one frame at a
 * time and polls the next record only when the socket took the previous one, and librdkafka's
 * prefetch is capped (queued.max.messages.kbytes), so memory per stream stays bounded; a reader
 * that takes nothing for SL_GW_WS_STALL_MS is disconnected. Client frames: ping gets a pong,
 * close ends the stream, a text (or binary) frame is a produce frame: JSON records produced to the
 * topic (produce.c's sl_gw_ws_produce), answered with an ack or error frame once the brokers
 * answered. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/util.h"
#include "gateway/b64.h"
#include "gateway/gw_int.h"

#define SL_GW_WS_STALL_MS  30000  /* a reader taking no bytes this long is dropped */
#define SL_GW_WS_MAX_FRAME 65536  /* larger client frames close the stream (1009) */
#define SL_GW_WS_PREFETCH  "1024" /* KB librdkafka may prefetch per stream */
#define WS_GUID            "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

typedef struct ws {
    sl_gw_t *gw;
    rd_kafka_t *rk;
    char format;
    int fd;
    struct MHD_UpgradeResponseHandle *urh;
    sl_buf_t in; /* client bytes not yet parsed */
    char *topic;
    sl_gw_policy_t *policy; /* the handshake's policy, held for the stream's life */
    sl_gw_principal_t *principal;
} ws_t;

static bool stopping(sl_gw_t *gw) {
    pthread_mutex_lock(&gw->stop_mu);
    bool s = gw->ws_stop;
    pthread_mutex_unlock(&gw->stop_mu);
    return s;
}

/* Writes all of p[0..n); false when the reader stalls past the limit, the socket fails, or the
 * gateway stops. */
static bool send_all(ws_t *w, const void *p, size_t n) {
    const uint8_t *b = p;
    uint64_t last_progress = sl_mono_ms();
    while (n) {
        ssize_t k = send(w->fd, b, n, MSG_NOSIGNAL);
        if (k > 0) {
            b += k;
            n -= (size_t)k;
            last_progress = sl_mono_ms();
            continue;
        }
        if (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            return false;
        }
        if (stopping(w->gw) || sl_mono_ms() - last_progress > SL_GW_WS_STALL_MS) {
            return false;
        }
        struct pollfd pf = {.fd = w->fd, .events = POLLOUT};
        poll(&pf, 1, 200);
    }
    return true;
}

/* One send per frame (header and payload together): two small writes would meet Nagle's
 * algorithm and the peer's delayed ACK, 40 ms per frame. */
static bool send_frame(ws_t *w, int opcode, const void *p, size_t n) {
    uint8_t h[10];
    size_t hn = 2;
    h[0] = (uint8_t)(0x80 | opcode);
    if (n < 126) {
        h[1] = (uint8_t)n;
    } else if (n <= 0xffff) {
        h[1] = 126;
        sl_store_be16(h + 2, (uint16_t)n);
        hn = 4;
    } else {
        h[1] = 127;
        sl_store_be64(h + 2, (uint64_t)n);
        hn = 10;
    }
    sl_buf_t f = {0};
    sl_buf_append(&f, h, hn);
    sl_buf_append(&f, p, n);
    bool ok = send_all(w, f.data, f.len);
    sl_buf_fini(&f);
    return ok;
}

static void send_close(ws_t *w, uint16_t code) {
    uint8_t b[2];
    sl_store_be16(b, code);
    send_frame(w, 8, b, 2);
}

/* A produce frame: the principal needs produce on the topic and a token from its bucket and the
 * produce route's (as a REST produce); then the records go to the brokers and the ack or error
 * frame comes back once they answered (the stream waits meanwhile, bounded by
 * produce.timeout.ms). False when the socket failed. */
static bool produce_frame(ws_t *w, const char *text, size_t n) {
    char *ans = NULL, why[SL_ERRLEN];
    int may = sl_gw_may(w->gw, w->policy, w->principal, SL_GW_OP_PRODUCE, w->topic, NULL, why);
    if (may <= 0) {
        json_t *o =
            may < 0 ? json_pack("{s:s, s:i, s:s+}", "type", "error", "error_code", 50303, "message",
                                "permissions unknown: ", why)
                    : json_pack("{s:s, s:i, s:s+}", "type", "error", "error_code", 40301, "message",
                                w->principal->name, " may not produce to this topic");
        ans = json_dumps(o, JSON_COMPACT);
        json_decref(o);
    } else {
        uint64_t wait = sl_gw_rate_take(w->policy, w->principal, SL_GW_ROUTE_PRODUCE, sl_mono_ms());
        if (wait) {
            json_t *o =
                json_pack("{s:s, s:i, s:s, s:I}", "type", "error", "error_code", 42901, "message",
                          "rate limit exceeded", "retry_after_ms", (json_int_t)wait);
            ans = json_dumps(o, JSON_COMPACT);
            json_decref(o);
        } else {
            ans = sl_gw_ws_produce(w->gw, w->topic, w->format, text, n);
        }
    }
    bool ok = ans && send_frame(w, 1, ans, strlen(ans));
    free(ans);
    return ok;
}

/* Reads what the client sent and acts on complete frames. False when the stream must end. */
static bool read_client(ws_t *w) {
    uint8_t tmp[4096];
    for (;;) {
        ssize_t k = recv(w->fd, tmp, sizeof tmp, 0);
        if (k == 0) {
            return false;
        }
        if (k < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                break;
            }
            return false;
        }
        sl_buf_append(&w->in, tmp, (size_t)k);
        if (w->in.len > 2 * SL_GW_WS_MAX_FRAME) {
            send_close(w, 1009);
            return false;
        }
    }
    for (;;) {
        const uint8_t *b = w->in.data;
        size_t have = w->in.len;
        if (have < 2) {
            return true;
        }
        int opcode = b[0] & 0x0f;
        bool masked = b[1] & 0x80;
        uint64_t len = b[1] & 0x7f;
        size_t off = 2;
        if (len == 126) {
            if (have < 4) {
                return true;
            }
            len = sl_load_be16(b + 2);
            off = 4;
        } else if (len == 127) {
            if (have < 10) {
                return true;
            }
            len = sl_load_be64(b + 2);
            off = 10;
        }
        if (!masked || len > SL_GW_WS_MAX_FRAME) { /* clients must mask (RFC 6455 5.1) */
            send_close(w, masked ? 1009 : 1002);
            return false;
        }
        if (have < off + 4 + len) {
            return true;
        }
        bool fin = b[0] & 0x80;
        uint8_t mask[4];
        memcpy(mask, b + off, 4);
        off += 4;
        sl_buf_t payload = {0};
        sl_buf_append(&payload, b + off, (size_t)len);
        for (size_t i = 0; i < (size_t)len; i++) {
            payload.data[i] ^= mask[i % 4];
        }
        sl_buf_consume(&w->in, off + (size_t)len);
        bool ok = true;
        if (opcode == 8) {
            send_close(w, 1000);
            ok = false;
        } else if (opcode == 9) {
            ok = send_frame(w, 10, payload.data, SL_MIN(payload.len, (size_t)125));
        } else if (opcode == 0 || ((opcode == 1 || opcode == 2) && !fin)) {
            static const char msg[] = "{\"type\":\"error\",\"error_code\":40006,\"message\":"
                                      "\"fragmented frames are not supported\"}";
            ok = send_frame(w, 1, msg, sizeof msg - 1);
        } else if (opcode == 1 || opcode == 2) {
            ok = produce_frame(w, (const char *)payload.data, payload.len);
        }
        sl_buf_fini(&payload);
        if (!ok) {
            return false;
        }
    }
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
        return v ? v : json_null();
    }
    sl_buf_t b = {0};
    sl_gw_b64_encode(&b, p, n);
    json_t *s = json_stringn(b.len ? (const char *)b.data : "", b.len);
    sl_buf_fini(&b);
    return s;
}

static void *stream_main(void *arg) {
    ws_t *w = arg;
    int fl = fcntl(w->fd, F_GETFL);
    fcntl(w->fd, F_SETFL, fl | O_NONBLOCK);
    bool alive = true;
    while (alive && !stopping(w->gw)) {
        struct pollfd pf = {.fd = w->fd, .events = POLLIN};
        if (poll(&pf, 1, 0) > 0 && !read_client(w)) {
            break;
        }
        /* Only ask for the next record once the last one went out: a slow reader pauses us. */
        rd_kafka_message_t *m = rd_kafka_consumer_poll(w->rk, 100);
        if (!m) {
            continue;
        }
        if (!m->err) {
            json_t *o =
                json_pack("{s:s, s:i, s:I, s:I, s:o, s:o}", "topic", rd_kafka_topic_name(m->rkt),
                          "partition", (int)m->partition, "offset", (json_int_t)m->offset,
                          "timestamp", (json_int_t)rd_kafka_message_timestamp(m, NULL), "key",
                          encode(w->format, m->key, m->key_len), "value",
                          encode(w->format, m->payload, m->len));
            char *s = json_dumps(o, JSON_COMPACT);
            json_decref(o);
            alive = s && send_frame(w, 1, s, strlen(s));
            free(s);
        }
        rd_kafka_message_destroy(m);
    }
    if (stopping(w->gw)) {
        send_close(w, 1001);
    }
    rd_kafka_consumer_close(w->rk);
    rd_kafka_destroy(w->rk);
    sl_buf_fini(&w->in);
    MHD_upgrade_action(w->urh, MHD_UPGRADE_ACTION_CLOSE);
    sl_gw_t *gw = w->gw;
    sl_gw_policy_release(gw, w->policy);
    free(w->topic);
    free(w);
    pthread_mutex_lock(&gw->stop_mu);
    gw->n_ws--;
    pthread_cond_broadcast(&gw->stop_cv);
    pthread_mutex_unlock(&gw->stop_mu);
    return NULL;
}

static void on_upgrade(void *cls, struct MHD_Connection *c, void *con_cls, const char *extra_in,
                       size_t extra_in_size, MHD_socket sock,
                       struct MHD_UpgradeResponseHandle *urh) {
    (void)c;
    (void)con_cls;
    ws_t *w = cls;
    w->fd = sock;
    w->urh = urh;
    if (extra_in_size) {
        sl_buf_append(&w->in, extra_in, extra_in_size);
    }
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &a, stream_main, w) != 0) {
        rd_kafka_destroy(w->rk);
        sl_buf_fini(&w->in);
        MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
        sl_gw_t *gw = w->gw;
        sl_gw_policy_release(gw, w->policy);
        free(w->topic);
        free(w);
        pthread_mutex_lock(&gw->stop_mu);
        gw->n_ws--;
        pthread_cond_broadcast(&gw->stop_cv);
        pthread_mutex_unlock(&gw->stop_mu);
    }
    pthread_attr_destroy(&a);
}

static bool header_has(const sl_gw_req_t *q, const char *name, const char *token) {
    const char *v = sl_gw_header(q, name);
    if (!v) {
        return false;
    }
    size_t n = strlen(token);
    for (const char *p = v; *p;) {
        while (*p == ' ' || *p == ',') {
            p++;
        }
        size_t len = strcspn(p, ",");
        size_t e = len;
        while (e && p[e - 1] == ' ') {
            e--;
        }
        if (e == n && !strncasecmp(p, token, n)) {
            return true;
        }
        p += len;
    }
    return false;
}

/* Start offsets from `from`: earliest, latest (default), offset:N, timestamp:MS. */
static bool parse_from(const char *from, int64_t *offset, int64_t *ts) {
    *ts = -1;
    char *end;
    if (!from || !strcmp(from, "latest")) {
        *offset = RD_KAFKA_OFFSET_END;
    } else if (!strcmp(from, "earliest")) {
        *offset = RD_KAFKA_OFFSET_BEGINNING;
    } else if (!strncmp(from, "offset:", 7)) {
        *offset = strtoll(from + 7, &end, 10);
        return end != from + 7 && !*end && *offset >= 0;
    } else if (!strncmp(from, "timestamp:", 10)) {
        *ts = strtoll(from + 10, &end, 10);
        return end != from + 10 && !*end && *ts >= 0;
    } else {
        return false;
    }
    return true;
}

void sl_gw_ws(sl_gw_req_t *q, sl_gw_resp_t *r, const char *topic) {
    sl_gw_t *gw = q->gw;
    if (strcmp(q->method, "GET")) {
        sl_gw_error(r, 405, 405, "only GET is allowed here");
        return;
    }
    if (!q->conn) {
        sl_gw_error(r, 400, 40007, "WebSocket streams need HTTP/1.1 (no WebSocket over HTTP/2)");
        return;
    }
    const char *key = sl_gw_header(q, "Sec-WebSocket-Key");
    const char *ver = sl_gw_header(q, "Sec-WebSocket-Version");
    if (!header_has(q, "Upgrade", "websocket") || !header_has(q, "Connection", "upgrade") || !key ||
        strlen(key) > 64 || !ver || strcmp(ver, "13")) {
        sl_gw_error(r, 400, 40007, "not a WebSocket handshake (RFC 6455, version 13)");
        return;
    }
    if (!sl_gw_check(q, r, SL_GW_OP_CONSUME, topic, NULL)) {
        return;
    }
    const char *fmt = sl_gw_arg(q, "format");
    char format = !fmt || !strcmp(fmt, "binary") ? 'b'
                  : !strcmp(fmt, "json")         ? 'j'
                  : !strcmp(fmt, "string")       ? 's'
                                                 : 0;
    int64_t offset = RD_KAFKA_OFFSET_END, ts = -1;
    if (!format || !parse_from(sl_gw_arg(q, "from"), &offset, &ts)) {
        sl_gw_error(r, 400, 40008,
                    "from must be earliest, latest, offset:N or timestamp:MS; format binary, "
                    "json or string");
        return;
    }
    char why[SL_ERRLEN];
    int parts = sl_gw_partitions(gw, topic, why);
    if (parts < 0) {
        sl_gw_error(r, 503, 50302, "%s", why);
        return;
    }
    if (parts == 0) {
        sl_gw_error(r, 404, 40401, "topic %s does not exist", topic);
        return;
    }
    int first = 0, last = parts - 1;
    const char *ps = sl_gw_arg(q, "partition");
    if (ps) {
        char *end;
        long p = strtol(ps, &end, 10);
        if (end == ps || *end || p < 0 || p >= parts) {
            sl_gw_error(r, 404, 40402, "topic %s has no partition %s (it has %d)", topic, ps,
                        parts);
            return;
        }
        first = last = (int)p;
    }
    rd_kafka_conf_t *conf = sl_gw_kconf(gw, why);
    char e[512];
    if (!conf || rd_kafka_conf_set(conf, "group.id", "sluice-gateway-ws", e, sizeof e) ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", e, sizeof e) ||
        rd_kafka_conf_set(conf, "queued.max.messages.kbytes", SL_GW_WS_PREFETCH, e, sizeof e) ||
        rd_kafka_conf_set(conf, "fetch.max.bytes", "1048576", e, sizeof e)) {
        if (conf) {
            rd_kafka_conf_destroy(conf);
        }
        sl_gw_error(r, 500, 50001, "stream consumer configuration: %s", conf ? e : why);
        return;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, e, sizeof e);
    if (!rk) {
        sl_gw_error(r, 500, 50001, "stream consumer: %s", e);
        return;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(last - first + 1);
    for (int p = first; p <= last; p++) {
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = ts >= 0 ? ts : offset;
    }
    rd_kafka_resp_err_t err = 0;
    if (ts >= 0) {
        err = rd_kafka_offsets_for_times(rk, l, (int)gw->start.produce_timeout_ms);
        for (int i = 0; !err && i < l->cnt; i++) {
            if (l->elems[i].offset < 0) {
                l->elems[i].offset = RD_KAFKA_OFFSET_END; /* nothing that late yet: live */
            }
        }
    }
    if (!err) {
        err = rd_kafka_assign(rk, l);
    }
    rd_kafka_topic_partition_list_destroy(l);
    if (err) {
        rd_kafka_destroy(rk);
        sl_gw_error(r, 503, 50302, "cannot start the stream: %s", rd_kafka_err2str(err));
        return;
    }
    /* Sec-WebSocket-Accept = base64(SHA-1(key + GUID)) */
    char kg[160];
    snprintf(kg, sizeof kg, "%s%s", key, WS_GUID);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_Digest(kg, strlen(kg), md, &mdlen, EVP_sha1(), NULL);
    sl_buf_t accept = {0};
    sl_gw_b64_encode(&accept, md, mdlen);
    sl_buf_append(&accept, "", 1);

    ws_t *w = sl_xcalloc(1, sizeof *w);
    w->gw = gw;
    w->rk = rk;
    w->format = format;
    w->fd = -1;
    w->topic = sl_xstrdup(topic);
    w->policy = q->policy;
    w->principal = q->principal;
    sl_gw_policy_hold(gw, w->policy);
    r->upgrade = MHD_create_response_for_upgrade(on_upgrade, w);
    if (!r->upgrade) {
        rd_kafka_destroy(rk);
        sl_gw_policy_release(gw, w->policy);
        free(w->topic);
        free(w);
        sl_buf_fini(&accept);
        sl_gw_error(r, 500, 50001, "cannot upgrade the connection");
        return;
    }
    MHD_add_response_header(r->upgrade, MHD_HTTP_HEADER_UPGRADE, "websocket");
    MHD_add_response_header(r->upgrade, "Sec-WebSocket-Accept", (const char *)accept.data);
    sl_buf_fini(&accept);
    pthread_mutex_lock(&gw->stop_mu);
    gw->n_ws++;
    pthread_mutex_unlock(&gw->stop_mu);
    r->status = 101;
}

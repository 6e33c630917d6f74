/* driver_redis.c -- the `redis` bench driver: Redis Streams through hiredis. Producers XADD to one
 * stream per partition (pipelined: replies are read in flush), consumers read with XREADGROUP
 * ... NOACK from a consumer group created at the stream's end. Durability is the server's
 * (appendfsync), stated with the results. brokers = HOST:PORT or unix:PATH.
 * A lost connection (the server killed and restarted under load) is replaced: a producer blocks in
 * send until it reconnects (up to 30 s; the open-loop schedule turns that wait into latency, as
 * librdkafka's internal queue does for the kafka driver), and the XADDs whose replies never came
 * are not resent: the receivers' sequence accounting counts whatever the server did not keep. */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bench/bench.h"
#include "common/util.h"

#define RECONNECT_WAIT_MS 30000

typedef struct rprod {
    redisContext *rc; /* NULL or in error while the server is unreachable */
    char brokers[SL_CONF_STR_MAX];
    int pending; /* XADDs sent, replies not read yet */
    int partitions;
    unsigned next;
    char topic[SL_CONF_STR_MAX];
} rprod_t;

typedef struct rcons {
    redisContext *rc; /* NULL or in error while the server is unreachable */
    char brokers[SL_CONF_STR_MAX];
    int index;
    char topic[SL_CONF_STR_MAX];
    int first, step, partitions;
} rcons_t;

static redisContext *connect_to(const char *brokers, char *err) {
    redisContext *rc;
    if (!strncmp(brokers, "unix:", 5)) {
        rc = redisConnectUnix(brokers + 5);
    } else {
        char host[256];
        int port = 6379;
        const char *colon = strrchr(brokers, ':');
        snprintf(host, sizeof host, "%.*s", colon ? (int)(colon - brokers) : (int)strlen(brokers),
                 brokers);
        if (colon) {
            port = atoi(colon + 1);
        }
        rc = redisConnect(host, port);
    }
    if (!rc || rc->err) {
        snprintf(err, SL_ERRLEN, "redis %s: %s", brokers, rc ? rc->errstr : "out of memory");
        if (rc) {
            redisFree(rc);
        }
        return NULL;
    }
    return rc;
}

/* Frees `rc` and connects again, retrying every 10 ms for up to wait_ms, until the server answers
 * PING: a restarted Redis accepts connections while it replays its AOF but rejects commands with
 * LOADING, and an XADD rejected that way would be a record dropped by the client, not the server.
 * Returns NULL if the server was not ready in that time (the caller tries again later). */
static redisContext *reconnect(redisContext *rc, const char *brokers, int wait_ms) {
    redisFree(rc);
    char err[SL_ERRLEN];
    for (int waited = 0;; waited += 10) {
        redisContext *fresh = connect_to(brokers, err);
        if (fresh) {
            redisReply *pong = redisCommand(fresh, "PING");
            int ready = pong && pong->type == REDIS_REPLY_STATUS;
            freeReplyObject(pong);
            if (ready) {
                return fresh;
            }
            redisFree(fresh);
        }
        if (waited >= wait_ms) {
            return NULL;
        }
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
}

static sl_err_t r_setup(const sl_bench_conf_t *c, char *err) {
    redisContext *rc = connect_to(c->brokers, err);
    if (!rc) {
        return SL_ERR_IO;
    }
    sl_err_t out = SL_OK;
    for (int p = 0; p < c->partitions && out == SL_OK; p++) {
        char key[SL_CONF_STR_MAX + 16];
        snprintf(key, sizeof key, "%s-%d", c->topic, p);
        redisReply *r = redisCommand(rc, "DEL %s", key);
        freeReplyObject(r);
        r = redisCommand(rc, "XGROUP CREATE %s bench $ MKSTREAM", key);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            snprintf(err, SL_ERRLEN, "XGROUP CREATE %s: %s", key, r ? r->str : rc->errstr);
            out = SL_ERR_IO;
        }
        freeReplyObject(r);
    }
    redisFree(rc);
    return out;
}

static void *r_open_producer(const sl_bench_conf_t *c, int index, char *err) {
    redisContext *rc = connect_to(c->brokers, err);
    if (!rc) {
        return NULL;
    }
    rprod_t *p = sl_xcalloc(1, sizeof *p);
    p->rc = rc;
    snprintf(p->brokers, sizeof p->brokers, "%s", c->brokers);
    p->partitions = (int)c->partitions;
    p->next = (unsigned)index;
    snprintf(p->topic, sizeof p->topic, "%s", c->topic);
    return p;
}

static sl_err_t r_send(void *h, const void *key, size_t klen, const void *val, size_t vlen) {
    (void)key;
    (void)klen;
    rprod_t *p = h;
    char stream[SL_CONF_STR_MAX + 16];
    snprintf(stream, sizeof stream, "%s-%u", p->topic, p->next++ % (unsigned)p->partitions);
    for (int attempt = 0;; attempt++) {
        if (!p->rc || p->rc->err) {
            p->rc = reconnect(p->rc, p->brokers, RECONNECT_WAIT_MS);
            p->pending = 0;
            if (!p->rc) {
                return SL_ERR_IO;
            }
        }
        if (redisAppendCommand(p->rc, "XADD %s * d %b", stream, val, vlen) != REDIS_OK) {
            return SL_ERR_IO;
        }
        p->pending++;
        /* Put it on the wire now (replies are read in flush), so pacing is not turned into
         * batching by hiredis's output buffer. */
        int done = 0;
        while (!done && redisBufferWrite(p->rc, &done) == REDIS_OK) {
        }
        if (done) {
            return SL_OK;
        }
        if (attempt == 1) {
            return SL_ERR_IO;
        }
    }
}

static int64_t r_flush(void *h, int timeout_ms) {
    (void)timeout_ms;
    rprod_t *p = h;
    int64_t n = 0;
    while (p->pending > 0 && p->rc && !p->rc->err) {
        redisReply *r;
        if (redisGetReply(p->rc, (void **)&r) != REDIS_OK) {
            break; /* the next send reconnects */
        }
        if (r->type != REDIS_REPLY_ERROR) {
            n++;
        }
        freeReplyObject(r);
        p->pending--;
    }
    return n;
}

static void r_close_producer(void *h) {
    rprod_t *p = h;
    (void)r_flush(p, 0);
    redisFree(p->rc);
    free(p);
}

static void *r_open_consumer(const sl_bench_conf_t *c, int index, char *err) {
    redisContext *rc = connect_to(c->brokers, err);
    if (!rc) {
        return NULL;
    }
    rcons_t *cs = sl_xcalloc(1, sizeof *cs);
    cs->rc = rc;
    snprintf(cs->brokers, sizeof cs->brokers, "%s", c->brokers);
    cs->index = index;
    cs->first = index;
    cs->step = (int)c->consumers;
    cs->partitions = (int)c->partitions;
    snprintf(cs->topic, sizeof cs->topic, "%s", c->topic);
    return cs;
}

static int r_receive(void *h, int timeout_ms, void (*fn)(void *, const void *, size_t), void *arg) {
    rcons_t *cs = h;
    int total = 0;
    if (!cs->rc || cs->rc->err) {
        cs->rc = reconnect(cs->rc, cs->brokers, timeout_ms);
        return 0;
    }
    for (int p = cs->first; p < cs->partitions; p += cs->step) {
        char stream[SL_CONF_STR_MAX + 16];
        snprintf(stream, sizeof stream, "%s-%d", cs->topic, p);
        redisReply *r = redisCommand(cs->rc,
                                     "XREADGROUP GROUP bench c%d COUNT 1000 BLOCK %d NOACK "
                                     "STREAMS %s >",
                                     cs->index, cs->partitions > cs->step ? 1 : timeout_ms, stream);
        if (!r) {
            return total; /* connection lost: the next call reconnects */
        }
        if (r->type == REDIS_REPLY_ERROR) {
            /* LOADING while a restarted server replays its AOF: pause instead of spinning. */
            struct timespec ts = {0, 10000000};
            nanosleep(&ts, NULL);
        }
        /* Reply: [[stream, [[id, [field, value]], ...]]] or nil on timeout. */
        if (r->type == REDIS_REPLY_ARRAY && r->elements > 0 && r->element[0]->elements == 2) {
            redisReply *entries = r->element[0]->element[1];
            for (size_t i = 0; i < entries->elements; i++) {
                redisReply *fields = entries->element[i]->element[1];
                if (fields->elements >= 2) {
                    fn(arg, fields->element[1]->str, fields->element[1]->len);
                    total++;
                }
            }
        }
        freeReplyObject(r);
    }
    return total;
}

static void r_close_consumer(void *h) {
    rcons_t *cs = h;
    redisFree(cs->rc);
    free(cs);
}

const sl_bench_driver_t sl_bench_driver_redis = {
    "redis",          r_setup,         r_open_producer, r_send,           r_flush,
    r_close_producer, r_open_consumer, r_receive,       r_close_consumer,
};

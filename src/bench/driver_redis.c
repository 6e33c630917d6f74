/* driver_redis.c -- the `redis` bench driver: Redis Streams through hiredis. Producers XADD to one
 * stream per partition (pipelined: replies are read in flush), consumers read with XREADGROUP
 * ... NOACK from a consumer group created at the stream's end. Durability is the server's
 * (appendfsync), stated with the results. brokers = HOST:PORT or unix:PATH. */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <string.h>

#include "bench/bench.h"
#include "common/util.h"

typedef struct rprod {
    redisContext *rc;
    int pending; /* XADDs sent, replies not read yet */
    int partitions;
    unsigned next;
    char topic[SL_CONF_STR_MAX];
} rprod_t;

typedef struct rcons {
    redisContext *rc;
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
    if (redisAppendCommand(p->rc, "XADD %s * d %b", stream, val, vlen) != REDIS_OK) {
        return SL_ERR_IO;
    }
    p->pending++;
    /* Put it on the wire now (replies are read in flush), so pacing is not turned into batching
     * by hiredis's output buffer. */
    int done = 0;
    while (!done) {
        if (redisBufferWrite(p->rc, &done) != REDIS_OK) {
            return SL_ERR_IO;
        }
    }
    return SL_OK;
}

static int64_t r_flush(void *h, int timeout_ms) {
    (void)timeout_ms;
    rprod_t *p = h;
    int64_t n = 0;
    while (p->pending > 0) {
        redisReply *r;
        if (redisGetReply(p->rc, (void **)&r) != REDIS_OK) {
            return -1;
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
    for (int p = cs->first; p < cs->partitions; p += cs->step) {
        char stream[SL_CONF_STR_MAX + 16];
        snprintf(stream, sizeof stream, "%s-%d", cs->topic, p);
        redisReply *r = redisCommand(cs->rc,
                                     "XREADGROUP GROUP bench c%d COUNT 1000 BLOCK %d NOACK "
                                     "STREAMS %s >",
                                     cs->index, cs->partitions > cs->step ? 1 : timeout_ms, stream);
        if (!r) {
            return -1;
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

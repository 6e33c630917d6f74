/* driver_nats.c -- the `nats` bench driver: NATS JetStream through libnats, file storage. One
 * stream (named after the topic) holds subjects <topic>.<partition>; producers publish
 * asynchronously and count the JetStream acknowledgements (each is sent once the server has
 * stored the message); consumers are durable push consumers, one per partition, that start with
 * new messages (DeliverNew) and need no acks. brokers = nats://HOST:PORT. Durability is the
 * server's (jetstream sync settings), stated with the results.
 * Server restarts (the recovery scenario): the client reconnects every 20 ms without limit and
 * buffers publishes meanwhile (64 MiB); consumers are durable because the server restores durable
 * consumers from its store, so deliveries resume where they stopped (an ephemeral one would be
 * gone). A publish that finds the buffer or the pending-ack window full is retried for up to 30 s,
 * which the open-loop schedule shows as latency. */
#include <nats/nats.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "bench/bench.h"
#include "common/util.h"

typedef struct nprod {
    natsConnection *nc;
    jsCtx *js;
    atomic_long acked;
    long reported;
    int partitions;
    unsigned next;
    char topic[SL_CONF_STR_MAX];
} nprod_t;

typedef struct ncons {
    natsConnection *nc;
    jsCtx *js;
    natsSubscription *subs[64];
    int n_subs;
} ncons_t;

static const char *url(const sl_bench_conf_t *c) {
    return c->brokers;
}

static natsConnection *connect_nats(const sl_bench_conf_t *c, char *err) {
    natsConnection *nc = NULL;
    natsOptions *o = NULL;
    natsStatus s = natsOptions_Create(&o);
    if (s == NATS_OK) {
        s = natsOptions_SetURL(o, url(c));
    }
    if (s == NATS_OK) {
        s = natsOptions_SetMaxReconnect(o, -1);
    }
    if (s == NATS_OK) {
        s = natsOptions_SetReconnectWait(o, 20);
    }
    if (s == NATS_OK) {
        s = natsOptions_SetReconnectBufSize(o, 64 << 20);
    }
    if (s == NATS_OK) {
        s = natsConnection_Connect(&nc, o);
    }
    natsOptions_Destroy(o);
    if (s != NATS_OK) {
        snprintf(err, SL_ERRLEN, "nats %s: %s", url(c), natsStatus_GetText(s));
        return NULL;
    }
    return nc;
}

static sl_err_t n_setup(const sl_bench_conf_t *c, char *err) {
    natsConnection *nc = connect_nats(c, err);
    if (!nc) {
        return SL_ERR_IO;
    }
    jsCtx *js = NULL;
    natsStatus s = natsConnection_JetStream(&js, nc, NULL);
    if (s == NATS_OK) {
        (void)js_DeleteStream(js, c->topic, NULL, NULL);
        char subject[SL_CONF_STR_MAX + 4];
        snprintf(subject, sizeof subject, "%s.*", c->topic);
        const char *subjects[] = {subject};
        jsStreamConfig sc;
        jsStreamConfig_Init(&sc);
        sc.Name = c->topic;
        sc.Subjects = subjects;
        sc.SubjectsLen = 1;
        sc.Storage = js_FileStorage;
        jsErrCode jerr = 0;
        s = js_AddStream(NULL, js, &sc, NULL, &jerr);
    }
    if (s != NATS_OK) {
        snprintf(err, SL_ERRLEN, "JetStream stream %s: %s", c->topic, natsStatus_GetText(s));
    }
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    return s == NATS_OK ? SL_OK : SL_ERR_IO;
}

static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure) {
    (void)js;
    nprod_t *p = closure;
    if (pa && !pae) {
        atomic_fetch_add(&p->acked, 1);
    }
    natsMsg_Destroy(msg);
}

static void *n_open_producer(const sl_bench_conf_t *c, int index, char *err) {
    nprod_t *p = sl_xcalloc(1, sizeof *p);
    p->nc = connect_nats(c, err);
    if (!p->nc) {
        free(p);
        return NULL;
    }
    jsOptions o;
    jsOptions_Init(&o);
    o.PublishAsync.MaxPending = 100000;
    o.PublishAsync.AckHandler = on_ack;
    o.PublishAsync.AckHandlerClosure = p;
    if (natsConnection_JetStream(&p->js, p->nc, &o) != NATS_OK) {
        snprintf(err, SL_ERRLEN, "JetStream context");
        natsConnection_Destroy(p->nc);
        free(p);
        return NULL;
    }
    p->partitions = (int)c->partitions;
    p->next = (unsigned)index;
    snprintf(p->topic, sizeof p->topic, "%s", c->topic);
    return p;
}

static sl_err_t n_send(void *h, const void *key, size_t klen, const void *val, size_t vlen) {
    (void)key;
    (void)klen;
    nprod_t *p = h;
    char subject[SL_CONF_STR_MAX + 16];
    snprintf(subject, sizeof subject, "%s.%u", p->topic, p->next++ % (unsigned)p->partitions);
    for (int64_t give_up = nats_Now() + 30000;;) {
        natsStatus s = js_PublishAsync(p->js, subject, val, (int)vlen, NULL);
        if (s == NATS_OK) {
            return SL_OK;
        }
        if ((s != NATS_INSUFFICIENT_BUFFER && s != NATS_TIMEOUT) || nats_Now() > give_up) {
            return SL_ERR_IO;
        }
        nats_Sleep(10);
    }
}

static int64_t n_flush(void *h, int timeout_ms) {
    nprod_t *p = h;
    if (timeout_ms > 0) {
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MaxWait = timeout_ms;
        (void)js_PublishAsyncComplete(p->js, &po);
    }
    long now = atomic_load(&p->acked);
    int64_t n = now - p->reported;
    p->reported = now;
    return n;
}

static void n_close_producer(void *h) {
    nprod_t *p = h;
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = 10000;
    (void)js_PublishAsyncComplete(p->js, &po);
    jsCtx_Destroy(p->js);
    natsConnection_Destroy(p->nc);
    free(p);
}

static void *n_open_consumer(const sl_bench_conf_t *c, int index, char *err) {
    ncons_t *cs = sl_xcalloc(1, sizeof *cs);
    cs->nc = connect_nats(c, err);
    if (!cs->nc || natsConnection_JetStream(&cs->js, cs->nc, NULL) != NATS_OK) {
        snprintf(err, SL_ERRLEN, "JetStream context");
        if (cs->nc) {
            natsConnection_Destroy(cs->nc);
        }
        free(cs);
        return NULL;
    }
    for (int p = index; p < c->partitions && cs->n_subs < 64; p += (int)c->consumers) {
        char subject[SL_CONF_STR_MAX + 16];
        snprintf(subject, sizeof subject, "%s.%d", c->topic, p);
        char durable[32];
        snprintf(durable, sizeof durable, "p%d", p);
        jsSubOptions so;
        jsSubOptions_Init(&so);
        so.Stream = c->topic;
        so.Config.Durable = durable;
        so.Config.DeliverPolicy = js_DeliverNew;
        so.Config.AckPolicy = js_AckNone;
        natsStatus s = js_SubscribeSync(&cs->subs[cs->n_subs], cs->js, subject, NULL, &so, NULL);
        if (s != NATS_OK) {
            snprintf(err, SL_ERRLEN, "subscribe %s: %s", subject, natsStatus_GetText(s));
            break;
        }
        natsSubscription_SetPendingLimits(cs->subs[cs->n_subs], -1, -1);
        cs->n_subs++;
    }
    return cs;
}

static int n_receive(void *h, int timeout_ms, void (*fn)(void *, const void *, size_t), void *arg) {
    ncons_t *cs = h;
    int total = 0;
    for (int i = 0; i < cs->n_subs; i++) {
        int64_t wait = cs->n_subs == 1 ? timeout_ms : 1;
        for (int k = 0; k < 1000; k++) {
            natsMsg *m = NULL;
            if (natsSubscription_NextMsg(&m, cs->subs[i], k == 0 ? wait : 1) != NATS_OK) {
                break;
            }
            fn(arg, natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m));
            natsMsg_Destroy(m);
            total++;
        }
    }
    return total;
}

static void n_close_consumer(void *h) {
    ncons_t *cs = h;
    for (int i = 0; i < cs->n_subs; i++) {
        natsSubscription_Unsubscribe(cs->subs[i]);
        natsSubscription_Destroy(cs->subs[i]);
    }
    jsCtx_Destroy(cs->js);
    natsConnection_Destroy(cs->nc);
    free(cs);
}

const sl_bench_driver_t sl_bench_driver_nats = {
    "nats",           n_setup,         n_open_producer, n_send,           n_flush,
    n_close_producer, n_open_consumer, n_receive,       n_close_consumer,
};

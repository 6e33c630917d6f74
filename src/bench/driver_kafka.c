/* driver_kafka.c -- the `kafka` bench driver on librdkafka: works against sluice or any
 * Kafka-compatible cluster. Consumers are assigned partitions round-robin by index and start at
 * the log end; producers use the configured acks and linger.ms. */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <string.h>

#include "bench/bench.h"
#include "common/util.h"

typedef struct kprod {
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;
    int64_t acked; /* delivery reports since the last flush() */
    int64_t failed;
    int32_t partitions;
    uint32_t next;
} kprod_t;

static rd_kafka_conf_t *base(const sl_bench_conf_t *c, char *err) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", c->brokers, err, SL_ERRLEN)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return conf;
}

static sl_err_t k_setup(const sl_bench_conf_t *c, char *err) {
    rd_kafka_conf_t *conf = base(c, err);
    if (!conf) {
        return SL_ERR_INVAL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, SL_ERRLEN);
    if (!rk) {
        return SL_ERR_INVAL;
    }
    rd_kafka_NewTopic_t *nt =
        rd_kafka_NewTopic_new(c->topic, (int)c->partitions, -1, err, SL_ERRLEN);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 15000);
    sl_err_t rc = SL_OK;
    if (!ev) {
        snprintf(err, SL_ERRLEN, "no answer to CreateTopics from %s", c->brokers);
        rc = SL_ERR_IO;
    } else {
        size_t n;
        const rd_kafka_topic_result_t **tr =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
        rd_kafka_resp_err_t e =
            n == 1 ? rd_kafka_topic_result_error(tr[0]) : rd_kafka_event_error(ev);
        if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            snprintf(err, SL_ERRLEN, "create topic %s: %s", c->topic, rd_kafka_err2str(e));
            rc = SL_ERR_IO;
        }
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    return rc;
}

static void on_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    kprod_t *p = opaque;
    if (m->err) {
        p->failed++;
    } else {
        p->acked++;
    }
}

static void *k_open_producer(const sl_bench_conf_t *c, int index, char *err) {
    (void)index;
    rd_kafka_conf_t *conf = base(c, err);
    if (!conf) {
        return NULL;
    }
    char linger[32];
    snprintf(linger, sizeof linger, "%lld", (long long)c->linger_ms);
    if (rd_kafka_conf_set(conf, "acks", c->acks, err, SL_ERRLEN) ||
        rd_kafka_conf_set(conf, "linger.ms", linger, err, SL_ERRLEN) ||
        rd_kafka_conf_set(conf, "enable.idempotence", c->kafka_idempotence ? "true" : "false", err,
                          SL_ERRLEN) ||
        rd_kafka_conf_set(conf, "queue.buffering.max.messages", "2000000", err, SL_ERRLEN)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    kprod_t *p = sl_xcalloc(1, sizeof *p);
    rd_kafka_conf_set_opaque(conf, p);
    rd_kafka_conf_set_dr_msg_cb(conf, on_dr);
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, SL_ERRLEN);
    if (!p->rk) {
        free(p);
        return NULL;
    }
    p->rkt = rd_kafka_topic_new(p->rk, c->topic, NULL);
    p->partitions = (int32_t)c->partitions;
    p->next = (uint32_t)index;
    return p;
}

static sl_err_t k_send(void *h, const void *key, size_t klen, const void *val, size_t vlen) {
    kprod_t *p = h;
    /* Keys pick the partition by hash in real clients; spreading round-robin here keeps the
     * load even for any key distribution (skew is the adaptive-partitioning issue's business). */
    int32_t part = (int32_t)(p->next++ % (uint32_t)p->partitions);
    while (rd_kafka_produce(p->rkt, part, RD_KAFKA_MSG_F_COPY, (void *)(uintptr_t)val, vlen, key,
                            klen, NULL) == -1) {
        if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            return SL_ERR_IO;
        }
        rd_kafka_poll(p->rk, 1);
    }
    return SL_OK;
}

static int64_t k_flush(void *h, int timeout_ms) {
    kprod_t *p = h;
    rd_kafka_poll(p->rk, timeout_ms);
    int64_t n = p->acked;
    p->acked = 0;
    return n;
}

static void k_close_producer(void *h) {
    kprod_t *p = h;
    rd_kafka_flush(p->rk, 10000);
    rd_kafka_topic_destroy(p->rkt);
    rd_kafka_destroy(p->rk);
    free(p);
}

static void *k_open_consumer(const sl_bench_conf_t *c, int index, char *err) {
    rd_kafka_conf_t *conf = base(c, err);
    if (!conf || rd_kafka_conf_set(conf, "group.id", "sluice-bench", err, SL_ERRLEN) ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, SL_ERRLEN) ||
        rd_kafka_conf_set(conf, "fetch.wait.max.ms", "100", err, SL_ERRLEN)) {
        if (conf) {
            rd_kafka_conf_destroy(conf);
        }
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, SL_ERRLEN);
    if (!rk) {
        return NULL;
    }
    rd_kafka_topic_partition_list_t *tpl = rd_kafka_topic_partition_list_new(1);
    for (int p = index; p < c->partitions; p += (int)c->consumers) {
        int64_t lo, hi;
        if (rd_kafka_query_watermark_offsets(rk, c->topic, p, &lo, &hi, 10000)) {
            hi = RD_KAFKA_OFFSET_END;
        }
        rd_kafka_topic_partition_list_add(tpl, c->topic, p)->offset = hi;
    }
    rd_kafka_assign(rk, tpl);
    rd_kafka_topic_partition_list_destroy(tpl);
    return rk;
}

/* rd_kafka_consume_batch_queue would hold records back until its batch fills or the timeout
 * passes, which shows up as latency; poll returns as soon as one record is there, and the rest
 * that are already buffered are drained without waiting. */
static int k_receive(void *h, int timeout_ms, void (*fn)(void *, const void *, size_t), void *arg) {
    int n = 0;
    for (int wait = timeout_ms; n < 1000; wait = 0) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(h, wait);
        if (!m) {
            break;
        }
        if (!m->err) {
            fn(arg, m->payload, m->len);
            n++;
        }
        rd_kafka_message_destroy(m);
    }
    return n;
}

static void k_close_consumer(void *h) {
    rd_kafka_consumer_close(h);
    rd_kafka_destroy(h);
}

const sl_bench_driver_t sl_bench_driver_kafka = {
    "kafka",          k_setup,         k_open_producer, k_send,           k_flush,
    k_close_producer, k_open_consumer, k_receive,       k_close_consumer,
};

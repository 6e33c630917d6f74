/* produce_verify.c -- produce COUNT records with keys, headers and timestamps under one codec
 * (acks=all), read every partition back by assignment, and check each record: value, key,
 * headers, timestamp, and that offsets and per-partition sequence numbers are dense and ordered.
 *
 *   produce_verify -b HOST:PORT -t TOPIC -n COUNT -z none|gzip|snappy|lz4|zstd [-p PARTITIONS]
 *
 * Record i goes to partition i % P with key "key-<i % 1000>", value "<i>:<payload>", headers
 * seq=<i> and codec=<codec>, and timestamp BASE_TS + i. Exit 0 only if everything matched. */
#include <getopt.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BASE_TS 1700000000000LL

static long delivered, delivery_failed;

static void on_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    (void)opaque;
    if (m->err) {
        if (delivery_failed++ < 3) {
            fprintf(stderr, "delivery failed: %s\n", rd_kafka_err2str(m->err));
        }
    } else {
        delivered++;
    }
}

static rd_kafka_conf_t *base_conf(const char *brokers) {
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    char err[256];
    if (rd_kafka_conf_set(c, "bootstrap.servers", brokers, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        exit(2);
    }
    return c;
}

static void set(rd_kafka_conf_t *c, const char *k, const char *v) {
    char err[256];
    if (rd_kafka_conf_set(c, k, v, err, sizeof err)) {
        fprintf(stderr, "%s=%s: %s\n", k, v, err);
        exit(2);
    }
}

static int create_topic(rd_kafka_t *rk, const char *topic, int parts) {
    char err[256];
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, parts, 1, err, sizeof err);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 15000);
    int rc = 1;
    if (ev) {
        size_t n;
        const rd_kafka_topic_result_t **r =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
        rd_kafka_resp_err_t e =
            n == 1 ? rd_kafka_topic_result_error(r[0]) : RD_KAFKA_RESP_ERR__FAIL;
        rc = (e == RD_KAFKA_RESP_ERR_NO_ERROR || e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) ? 0
                                                                                              : 1;
        if (rc) {
            fprintf(stderr, "create topic: %s\n", rd_kafka_err2str(e));
        }
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(q);
    return rc;
}

int main(int argc, char **argv) {
    const char *brokers = "127.0.0.1:9092", *topic = NULL, *codec = "none";
    long count = 1000;
    int parts = 4, c;
    while ((c = getopt(argc, argv, "b:t:n:z:p:")) != -1) {
        switch (c) {
        case 'b':
            brokers = optarg;
            break;
        case 't':
            topic = optarg;
            break;
        case 'n':
            count = atol(optarg);
            break;
        case 'z':
            codec = optarg;
            break;
        case 'p':
            parts = atoi(optarg);
            break;
        default:
            return 2;
        }
    }
    if (!topic || count <= 0 || parts <= 0) {
        fprintf(stderr, "usage: produce_verify -b HOST:PORT -t TOPIC -n COUNT -z CODEC [-p N]\n");
        return 2;
    }
    struct timespec t0, t1, t2;
    clock_gettime(CLOCK_MONOTONIC, &t0);

    rd_kafka_conf_t *pc = base_conf(brokers);
    set(pc, "acks", "all");
    set(pc, "compression.codec", codec);
    set(pc, "linger.ms", "5");
    set(pc, "batch.size", "1000000");
    set(pc, "queue.buffering.max.messages", "1000000");
    rd_kafka_conf_set_dr_msg_cb(pc, on_dr);
    char err[256];
    rd_kafka_t *prod = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, sizeof err);
    if (!prod || create_topic(prod, topic, parts)) {
        return 1;
    }
    char val[160], key[32], seq[24];
    for (long i = 0; i < count; i++) {
        int vlen = snprintf(val, sizeof val, "%ld:payload-%08lx-abcdefghijklmnopqrstuvwxyz", i,
                            (unsigned long)(i * 2654435761u));
        int klen = snprintf(key, sizeof key, "key-%ld", i % 1000);
        snprintf(seq, sizeof seq, "%ld", i);
        for (;;) {
            rd_kafka_resp_err_t e = rd_kafka_producev(
                prod, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION((int32_t)(i % parts)),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key, (size_t)klen),
                RD_KAFKA_V_VALUE(val, (size_t)vlen), RD_KAFKA_V_HEADER("seq", seq, -1),
                RD_KAFKA_V_HEADER("codec", codec, -1), RD_KAFKA_V_TIMESTAMP(BASE_TS + i),
                RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_poll(prod, 10);
                continue;
            }
            if (e) {
                fprintf(stderr, "produce: %s\n", rd_kafka_err2str(e));
                return 1;
            }
            break;
        }
        if ((i & 1023) == 0) {
            rd_kafka_poll(prod, 0);
        }
    }
    while (rd_kafka_outq_len(prod) > 0) {
        rd_kafka_flush(prod, 1000);
    }
    rd_kafka_destroy(prod);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (delivered != count || delivery_failed) {
        fprintf(stderr, "delivered %ld of %ld (%ld failed)\n", delivered, count, delivery_failed);
        return 1;
    }

    rd_kafka_conf_t *cc = base_conf(brokers);
    set(cc, "group.id", "produce-verify");
    set(cc, "enable.auto.commit", "false");
    set(cc, "enable.partition.eof", "true");
    set(cc, "fetch.max.bytes", "52428800");
    rd_kafka_t *cons = rd_kafka_new(RD_KAFKA_CONSUMER, cc, err, sizeof err);
    rd_kafka_topic_partition_list_t *tpl = rd_kafka_topic_partition_list_new(parts);
    for (int p = 0; p < parts; p++) {
        rd_kafka_topic_partition_list_add(tpl, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    }
    rd_kafka_assign(cons, tpl);
    rd_kafka_topic_partition_list_destroy(tpl);
    long *next_offset = calloc((size_t)parts, sizeof *next_offset);
    long *next_seq = calloc((size_t)parts, sizeof *next_seq);
    bool *done = calloc((size_t)parts, sizeof *done);
    for (int p = 0; p < parts; p++) {
        next_seq[p] = p;
    }
    long got = 0, bad = 0;
    int eofs = 0;
    time_t deadline = time(NULL) + 300;
    while (eofs < parts && time(NULL) < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(cons, 500);
        if (!m) {
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            int ep = m->partition;
            long expected = (count - ep + parts - 1) / parts;
            if (!done[ep] && next_offset[ep] >= expected) {
                done[ep] = true;
                eofs++;
            }
            rd_kafka_message_destroy(m);
            continue;
        }
        if (m->err) {
            fprintf(stderr, "consume: %s\n", rd_kafka_message_errstr(m));
            bad++;
            rd_kafka_message_destroy(m);
            continue;
        }
        int p = m->partition;
        long i = next_seq[p];
        int vlen = snprintf(val, sizeof val, "%ld:payload-%08lx-abcdefghijklmnopqrstuvwxyz", i,
                            (unsigned long)(i * 2654435761u));
        int klen = snprintf(key, sizeof key, "key-%ld", i % 1000);
        snprintf(seq, sizeof seq, "%ld", i);
        rd_kafka_timestamp_type_t tstype;
        int64_t ts = rd_kafka_message_timestamp(m, &tstype);
        rd_kafka_headers_t *h = NULL;
        const void *hv = NULL;
        size_t hl = 0;
        bool ok = m->offset == next_offset[p] && m->len == (size_t)vlen &&
                  !memcmp(m->payload, val, (size_t)vlen) && m->key_len == (size_t)klen &&
                  !memcmp(m->key, key, (size_t)klen) && ts == BASE_TS + i &&
                  rd_kafka_message_headers(m, &h) == 0 &&
                  rd_kafka_header_get_last(h, "seq", &hv, &hl) == 0 && hl == strlen(seq) &&
                  !memcmp(hv, seq, hl);
        if (!ok) {
            if (bad++ < 5) {
                fprintf(stderr,
                        "mismatch at partition %d offset %" PRId64 " (want offset %ld seq %ld)\n",
                        p, m->offset, next_offset[p], i);
            }
        }
        next_offset[p] = m->offset + 1;
        next_seq[p] = i + parts;
        got++;
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(cons);
    rd_kafka_destroy(cons);
    clock_gettime(CLOCK_MONOTONIC, &t2);
    double ps = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    double cs = (double)(t2.tv_sec - t1.tv_sec) + (double)(t2.tv_nsec - t1.tv_nsec) / 1e9;
    printf("codec=%s records=%ld produced_in=%.2fs consumed=%ld in %.2fs mismatches=%ld\n", codec,
           count, ps, got, cs, bad);
    free(next_offset);
    free(next_seq);
    free(done);
    return (got == count && bad == 0) ? 0 : 1;
}

/* e2e_latency.c -- end-to-end latency at a fixed rate, open loop.
 *   e2e_latency -b HOST:PORT -t TOPIC -s SIZE -r MSG_PER_S -d SECONDS -a 0|1|all [-w WARMUP_S]
 * Record i is due at start + i/rate; its payload carries that *intended* send time, and latency is
 * measured from it to the record's arrival at a consumer in the same process (same monotonic
 * clock), so a stalled producer cannot hide its own delay (no coordinated omission). Records sent
 * during the warm-up are not counted. Prints p50/p95/p99/p99.9/max in milliseconds. */
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "bench_util.h"
#include "common/hist.h"
#include "common/util.h"

static const char *brokers = "127.0.0.1:9092", *topic = "e2e";
static atomic_long received;
static atomic_int done;
static sl_hist_t *hist;
static int64_t measure_from_ns;

static void *consume(void *arg) {
    (void)arg;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    conf_set(conf, "bootstrap.servers", brokers);
    conf_set(conf, "group.id", "e2e");
    conf_set(conf, "enable.auto.commit", "false");
    conf_set(conf, "fetch.wait.max.ms", "100");
    conf_set(conf, "fetch.error.backoff.ms", "10");
    char err[256];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    rd_kafka_topic_partition_list_t *tpl = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(tpl, topic, 0)->offset = RD_KAFKA_OFFSET_END;
    rd_kafka_assign(rk, tpl);
    rd_kafka_topic_partition_list_destroy(tpl);
    while (!atomic_load(&done)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 50);
        if (!m) {
            continue;
        }
        if (!m->err && m->len >= 8) {
            int64_t sent = (int64_t)sl_load_be64(m->payload);
            int64_t now = now_ns();
            if (sent >= measure_from_ns) {
                sl_hist_record(hist, (uint64_t)(now - sent) / 1000);
            }
            atomic_fetch_add(&received, 1);
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return NULL;
}

int main(int argc, char **argv) {
    const char *acks = "all";
    int size = 1024, c;
    double rate = 10000, dur = 10, warm = 2;
    while ((c = getopt(argc, argv, "b:t:s:r:d:a:w:")) != -1) {
        switch (c) {
        case 'b':
            brokers = optarg;
            break;
        case 't':
            topic = optarg;
            break;
        case 's':
            size = atoi(optarg);
            break;
        case 'r':
            rate = atof(optarg);
            break;
        case 'd':
            dur = atof(optarg);
            break;
        case 'a':
            acks = optarg;
            break;
        case 'w':
            warm = atof(optarg);
            break;
        default:
            return 2;
        }
    }
    if (size < 8) {
        size = 8;
    }
    hist = sl_hist_new();
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    conf_set(conf, "bootstrap.servers", brokers);
    conf_set(conf, "acks", acks);
    conf_set(conf, "linger.ms", "1");
    conf_set(conf, "queue.buffering.max.messages", "2000000");
    char err[256];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    create_topic(rk, topic, 1);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    /* Let the consumer reach the end before the clock starts. */
    int64_t start = now_ns() + 1000000000LL;
    measure_from_ns = start + (int64_t)(warm * 1e9);
    pthread_t th;
    pthread_create(&th, NULL, consume, NULL);
    uint8_t *payload = calloc(1, (size_t)size);
    long total = (long)(rate * (warm + dur));
    long sent = 0;
    for (long i = 0; i < total; i++) {
        int64_t due = start + (int64_t)((double)i * 1e9 / rate);
        int64_t now;
        while ((now = now_ns()) < due) {
            if (due - now > 200000) {
                rd_kafka_poll(rk, 0);
                struct timespec ts = {0, (long)(due - now - 100000)};
                nanosleep(&ts, NULL);
            }
        }
        sl_store_be64(payload, (uint64_t)due);
        while (rd_kafka_produce(rkt, 0, RD_KAFKA_MSG_F_COPY, payload, (size_t)size, NULL, 0,
                                NULL) == -1) {
            rd_kafka_poll(rk, 1);
        }
        sent++;
        rd_kafka_poll(rk, 0);
    }
    rd_kafka_flush(rk, 10000);
    double wait_until = now_s() + 5;
    while (atomic_load(&received) < sent && now_s() < wait_until) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    atomic_store(&done, 1);
    pthread_join(th, NULL);
    printf("p50 %.2f ms, p95 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms, mean %.2f ms "
           "(%lu measured, %ld sent, %ld received, %.0f msg/s of %d B, acks=%s)\n",
           (double)sl_hist_quantile(hist, 0.5) / 1000, (double)sl_hist_quantile(hist, 0.95) / 1000,
           (double)sl_hist_quantile(hist, 0.99) / 1000,
           (double)sl_hist_quantile(hist, 0.999) / 1000, (double)sl_hist_max(hist) / 1000,
           sl_hist_mean(hist) / 1000, (unsigned long)sl_hist_count(hist), sent,
           atomic_load(&received), rate, size, acks);
    free(payload);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    sl_hist_free(hist);
    return atomic_load(&received) >= sent ? 0 : 1;
}

/* producer_perf.c -- producer throughput: COUNT records of SIZE bytes, as fast as possible,
 * until every delivery report is in.
 *   producer_perf -b HOST:PORT -t TOPIC -s SIZE -a 0|1|all -n COUNT [-p PARTITIONS] [-z CODEC]
 *                 [-X librdkafka.property=value]...
 * Prints one line: msg/s and MB/s (payload bytes). -X sets any client property (e.g.
 * security.protocol=ssl and ssl.ca.location=..., for bench/run-tls-bench). */
#include <getopt.h>
#include <string.h>

#include "bench_util.h"

static long delivered, failed;

static void on_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    (void)opaque;
    if (m->err) {
        failed++;
    } else {
        delivered++;
    }
}

int main(int argc, char **argv) {
    const char *brokers = "127.0.0.1:9092", *topic = "perf", *acks = "1", *codec = "none";
    long count = 1000000;
    int size = 100, parts = 4, c;
    const char *extra[16];
    int n_extra = 0;
    while ((c = getopt(argc, argv, "b:t:s:a:n:p:z:X:")) != -1) {
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
        case 'a':
            acks = optarg;
            break;
        case 'n':
            count = atol(optarg);
            break;
        case 'p':
            parts = atoi(optarg);
            break;
        case 'z':
            codec = optarg;
            break;
        case 'X':
            if (n_extra == 16 || !strchr(optarg, '=')) {
                fprintf(stderr, "-X key=value (at most 16)\n");
                return 2;
            }
            extra[n_extra++] = optarg;
            break;
        default:
            return 2;
        }
    }
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    conf_set(conf, "bootstrap.servers", brokers);
    conf_set(conf, "acks", acks);
    conf_set(conf, "compression.codec", codec);
    conf_set(conf, "linger.ms", "5");
    conf_set(conf, "batch.size", "1000000");
    conf_set(conf, "queue.buffering.max.messages", "2000000");
    conf_set(conf, "queue.buffering.max.kbytes", "2000000");
    for (int i = 0; i < n_extra; i++) {
        char kv[512];
        snprintf(kv, sizeof kv, "%s", extra[i]);
        char *eq = strchr(kv, '=');
        *eq = '\0';
        conf_set(conf, kv, eq + 1);
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_dr);
    char err[256];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    create_topic(rk, topic, parts);
    char *payload = malloc((size_t)size);
    memset(payload, 'x', (size_t)size);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    double t0 = now_s();
    for (long i = 0; i < count; i++) {
        while (rd_kafka_produce(rkt, (int32_t)(i % parts), RD_KAFKA_MSG_F_COPY, payload,
                                (size_t)size, NULL, 0, NULL) == -1) {
            rd_kafka_poll(rk, 1);
        }
        if ((i & 4095) == 0) {
            rd_kafka_poll(rk, 0);
        }
    }
    while (rd_kafka_outq_len(rk) > 0) {
        rd_kafka_flush(rk, 1000);
    }
    double dt = now_s() - t0;
    printf(
        "%.0f msg/s, %.1f MB/s (%ld records of %d B, acks=%s, %d partitions, %.2f s, %ld failed)\n",
        (double)delivered / dt, (double)delivered * size / dt / 1e6, delivered, size, acks, parts,
        dt, failed);
    free(payload);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    return failed ? 1 : 0;
}

/* gateway_direct.c -- the baseline for the gateway's produce figure: what the gateway does per
 * HTTP request, done directly with librdkafka. THREADS closed-loop workers share one producer
 * (acks=all, idempotent, linger.ms=1: the gateway's settings); each sends one SIZE-byte record,
 * waits for its delivery report, and repeats, for SECONDS.
 *   gateway_direct -b HOST:PORT -t TOPIC -s SIZE -c THREADS -d SECONDS
 * Prints one line: requests/s, p50 and p99 of the acknowledgement latency in ms. */
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "common/hist.h"

typedef struct done {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int ready;
    rd_kafka_resp_err_t err;
} done_t;

static rd_kafka_t *rk;
static const char *topic = "gw-direct";
static int size = 1024;
static double end_at;
static pthread_mutex_t hist_mu = PTHREAD_MUTEX_INITIALIZER;
static sl_hist_t *hist;
static atomic_long requests, failures;
static atomic_int stop_polling;

static void on_dr(rd_kafka_t *k, const rd_kafka_message_t *m, void *opaque) {
    (void)k;
    (void)opaque;
    done_t *d = m->_private;
    pthread_mutex_lock(&d->mu);
    d->err = m->err;
    d->ready = 1;
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

static void *poller(void *arg) {
    (void)arg;
    while (!stop_polling) {
        rd_kafka_poll(rk, 50);
    }
    return NULL;
}

static void *worker(void *arg) {
    (void)arg;
    char *payload = malloc((size_t)size);
    memset(payload, 'x', (size_t)size);
    done_t d = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    while (now_s() < end_at) {
        d.ready = 0;
        int64_t t0 = now_ns();
        if (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE(payload, (size_t)size),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(&d),
                              RD_KAFKA_V_END)) {
            failures++;
            continue;
        }
        pthread_mutex_lock(&d.mu);
        while (!d.ready) {
            pthread_cond_wait(&d.cv, &d.mu);
        }
        pthread_mutex_unlock(&d.mu);
        if (d.err) {
            failures++;
            continue;
        }
        pthread_mutex_lock(&hist_mu);
        sl_hist_record(hist, (uint64_t)(now_ns() - t0) / 1000);
        pthread_mutex_unlock(&hist_mu);
        requests++;
    }
    free(payload);
    return NULL;
}

int main(int argc, char **argv) {
    const char *brokers = "127.0.0.1:9092";
    int threads = 16, c;
    double seconds = 10;
    while ((c = getopt(argc, argv, "b:t:s:c:d:")) != -1) {
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
        case 'c':
            threads = atoi(optarg);
            break;
        case 'd':
            seconds = atof(optarg);
            break;
        default:
            fprintf(stderr,
                    "usage: gateway_direct -b HOST:PORT -t TOPIC -s SIZE -c THREADS -d S\n");
            return 2;
        }
    }
    if (threads < 1 || threads > 1024 || size < 1 || seconds <= 0) {
        fprintf(stderr, "gateway_direct: bad arguments\n");
        return 2;
    }
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    conf_set(conf, "bootstrap.servers", brokers);
    conf_set(conf, "acks", "all");
    conf_set(conf, "enable.idempotence", "true");
    conf_set(conf, "linger.ms", "1");
    rd_kafka_conf_set_dr_msg_cb(conf, on_dr);
    char err[512];
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "gateway_direct: %s\n", err);
        return 1;
    }
    hist = sl_hist_new();
    end_at = now_s() + seconds;
    double t0 = now_s();
    pthread_t p, *w = calloc((size_t)threads, sizeof *w);
    pthread_create(&p, NULL, poller, NULL);
    for (int i = 0; i < threads; i++) {
        pthread_create(&w[i], NULL, worker, NULL);
    }
    for (int i = 0; i < threads; i++) {
        pthread_join(w[i], NULL);
    }
    double elapsed = now_s() - t0;
    stop_polling = 1;
    pthread_join(p, NULL);
    printf("direct: %.0f requests/s p50 %.2f ms p99 %.2f ms failures %ld (threads %d, size %d)\n",
           (double)requests / elapsed, (double)sl_hist_quantile(hist, 0.50) / 1000.0,
           (double)sl_hist_quantile(hist, 0.99) / 1000.0, (long)failures, threads, size);
    rd_kafka_destroy(rk);
    sl_hist_free(hist);
    free(w);
    return 0;
}

/* run.c -- the benchmark runner (see bench.h).
 *
 * Record payload (big-endian), then padding to the configured size:
 *   OFFSET SIZE FIELD
 *        0    4 magic "SLB1"
 *        4    4 producer index
 *        8    8 sequence number within the producer
 *       16    8 intended send time, CLOCK_MONOTONIC ns (consumers run in this process)
 * Latency = receipt time - intended send time, recorded only for records intended after the
 * warm-up; it includes any time the producer itself fell behind its schedule. */
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "bench/driver_kraw.h"
#include "bench/pacer.h"
#include "bench/payload.h"
#include "bench/seqtrack.h"
#include "bench/timeline.h"
#include "common/clock.h"
#include "common/hist.h"
#include "common/util.h"

#define HDR          24
#define MAX_SECONDS  3600
#define MIN_SLEEP_NS 50000 /* shortest nap of a paced producer */

#define C(f) offsetof(sl_bench_conf_t, f)
const sl_conf_def_t sl_bench_conf_defs[] = {
    {"driver", SL_CONF_STR, "kafka", 0, 0, C(driver), 0, "kafka, redis, nats or batch"},
    {"brokers", SL_CONF_STR, "127.0.0.1:9092", 0, 0, C(brokers), 0,
     "Kafka bootstrap servers, redis HOST:PORT / unix:PATH, or nats://HOST:PORT"},
    {"topic", SL_CONF_STR, "bench", 0, 0, C(topic), 0, "Topic or stream name"},
    {"keys", SL_CONF_STR, "uniform", 0, 0, C(keys), 0, "uniform, zipf:S or hot:FRACTION"},
    {"acks", SL_CONF_STR, "all", 0, 0, C(acks), 0, "Kafka acks: 0, 1 or all"},
    {"burst", SL_CONF_STR, "", 0, 0, C(burst), 0, "FACTORxSECONDS from mid-run, e.g. 5x2"},
    {"json", SL_CONF_STR, "", 0, 0, C(json), 0, "Write the report as JSON to this file"},
    {"rate", SL_CONF_INT, "10000", 0, INT32_MAX, C(rate), 0,
     "Records per second over all producers; 0 = as fast as possible"},
    {"size", SL_CONF_INT, "1024", HDR, 16 << 20, C(size), 0, "Record size in bytes"},
    {"duration", SL_CONF_INT, "10", 1, MAX_SECONDS, C(duration_s), 0, "Measured seconds"},
    {"warmup", SL_CONF_INT, "2", 0, 600, C(warmup_s), 0, "Seconds before measuring"},
    {"partitions", SL_CONF_INT, "1", 1, 10000, C(partitions), 0, "Partitions of the topic"},
    {"producers", SL_CONF_INT, "1", 1, 1024, C(producers), 0, "Producer threads"},
    {"consumers", SL_CONF_INT, "1", 1, 1024, C(consumers), 0, "Consumer threads"},
    {"connections", SL_CONF_INT, "0", 0, 1000000, C(connections), 0,
     "kafka: spread the producers over N raw connections (0 = one librdkafka client each)"},
    {"key.count", SL_CONF_INT, "1000", 1, 100000000, C(key_count), 0, "Distinct keys"},
    {"batch.sync.ms", SL_CONF_INT, "100", 1, 60000, C(batch_sync_ms), 0,
     "batch driver: records become visible at this period"},
    {"linger.ms", SL_CONF_INT, "1", 0, 60000, C(linger_ms), 0, "Kafka producer linger.ms"},
    {"payload", SL_CONF_STR, "fixed", 0, 0, C(payload), 0,
     "Record body: fixed (a-z filler), chat, transaction, iot or mix (src/bench/payload.h)"},
    {"sizes", SL_CONF_STR, "", 0, 0, C(sizes), 0,
     "Weighted record sizes SIZE[:WEIGHT],..., e.g. 1k:80,10k:15,100k:5; overrides size"},
    {"disorder.ms", SL_CONF_INT, "0", 0, 3600000, C(disorder_ms), 0,
     "Move event timestamps back by 1..N ms (not the latency's start)"},
    {"disorder.fraction", SL_CONF_STR, "0.1", 0, 0, C(disorder_fraction), 0,
     "Share of records whose event timestamp is moved back"},
    {"payload.seed", SL_CONF_INT, "1", 0, INT32_MAX, C(payload_seed), 0,
     "Seed of the payload generator (same seed, same records)"},
    {"nexmark", SL_CONF_BOOL, "false", 0, 0, C(nexmark), 0,
     "Produce Nexmark person/auction/bid JSON events (1:3:46) instead (src/bench/nexmark.h)"},
    {"count", SL_CONF_INT, "0", 0, INT64_MAX, C(count), 0,
     "nexmark: events to send (0: run for duration seconds)"},
    {"nexmark.event.rate", SL_CONF_INT, "10000", 1, INT32_MAX, C(nexmark_event_rate), 0,
     "nexmark: events per second of event time when rate is 0 (as fast as possible)"},
    {"progress", SL_CONF_BOOL, "true", 0, 0, C(progress), 0, "Print a live progress line"},
    {"kafka.idempotence", SL_CONF_BOOL, "false", 0, 0, C(kafka_idempotence), 0,
     "Kafka producers: enable.idempotence (retries after a broker restart are not stored twice)"},
};
const size_t sl_bench_conf_n_defs = sizeof sl_bench_conf_defs / sizeof sl_bench_conf_defs[0];

typedef struct run {
    const sl_bench_conf_t *c;
    const sl_bench_driver_t *d;
    sl_seqtrack_t *seq;
    int64_t start_ns, measure_ns, end_ns;
    sl_pacer_t pacer; /* per-producer rate */
    atomic_int stop_consumers;
    atomic_long sent, acked, received;
    atomic_llong last_rx_ns; /* receipt time of the latest record */
    atomic_long per_second[MAX_SECONDS + 700];
    sl_timeline_t *timeline; /* per-second latency of first receipts, warm-up included */
    double *zipf_cdf;
    double hot;
    int failed;
    sl_payload_spec_t pay;
    int64_t wall_off_ns; /* wall clock - monotonic clock, for event timestamps */
} run_t;

typedef struct worker {
    run_t *r;
    int index;
    pthread_t th;
    sl_hist_t *hist;
    uint64_t sent;
    unsigned rnd;
    uint64_t bytes;    /* producers: record bytes sent */
    sl_disorder_t dis; /* consumers: out-of-order event timestamps */
} worker_t;

static int64_t now_ns(void) {
    return (int64_t)sl_mono_ns();
}

static uint32_t next_rand(unsigned *s) {
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

static size_t pick_key(run_t *r, worker_t *w) {
    double u = (double)(next_rand(&w->rnd) & 0xffffff) / (double)0x1000000;
    size_t n = (size_t)r->c->key_count;
    if (r->zipf_cdf) {
        size_t lo = 0, hi = n - 1;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (r->zipf_cdf[mid] < u) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }
    if (r->hot > 0 && u < r->hot) {
        return 0;
    }
    return next_rand(&w->rnd) % n;
}

static void *produce(void *arg) {
    worker_t *w = arg;
    run_t *r = w->r;
    char err[SL_ERRLEN];
    void *h = r->d->open_producer(r->c, w->index, err);
    if (!h) {
        fprintf(stderr, "sluice: bench: producer %d: %s\n", w->index, err);
        r->failed = 1;
        return NULL;
    }
    /* Timer slack of 1 ns: nanosleep wakes when asked, not up to 50 us later (Linux's default). */
    (void)prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    sl_payload_gen_t *gen = sl_payload_gen_new(&r->pay, w->index); /* body after the header */
    uint8_t *buf = sl_payload_buf(gen);
    memcpy(buf, "SLB1", 4);
    sl_store_be32(buf + 4, (uint32_t)w->index);
    uint64_t i = 0;
    for (;; i++) {
        int64_t due = r->c->rate > 0 ? sl_pacer_due(&r->pacer, i) : now_ns();
        if (due >= r->end_ns) {
            break;
        }
        /* Never early; late by at most about MIN_SLEEP_NS, which the latency includes. Sleeping
         * (not spinning) for gaps shorter than MIN_SLEEP_NS and then sending every record that
         * has come due keeps a 50k msg/s producer thread off the CPU the systems under test
         * need: spinning cost a whole core per producer thread on this 2-core machine. */
        for (int64_t now = now_ns(); now < due; now = now_ns()) {
            if (due - now > 2000000) {
                atomic_fetch_add(&r->acked, r->d->flush(h, 0));
            }
            int64_t nap = SL_MAX(due - now, MIN_SLEEP_NS);
            struct timespec ts = {(time_t)(nap / 1000000000), (long)(nap % 1000000000)};
            nanosleep(&ts, NULL);
        }
        sl_store_be64(buf + 8, i);
        sl_store_be64(buf + 16, (uint64_t)due);
        char key[24];
        size_t user = pick_key(r, w);
        size_t len = sl_payload_next(gen, i, (due + r->wall_off_ns) / 1000000, user, NULL);
        int klen = snprintf(key, sizeof key, "k%zu", user);
        if (r->d->send(h, key, (size_t)klen, buf, len) != SL_OK) {
            r->failed = 1;
            break;
        }
        w->bytes += len;
        atomic_fetch_add(&r->sent, 1);
        if ((i & 63) == 0) {
            atomic_fetch_add(&r->acked, r->d->flush(h, 0));
        }
    }
    sl_seqtrack_sent(r->seq, w->index, i);
    w->sent = i;
    for (int k = 0; k < 100 && atomic_load(&r->acked) < atomic_load(&r->sent); k++) {
        int64_t n = r->d->flush(h, 100);
        if (n < 0) {
            break;
        }
        atomic_fetch_add(&r->acked, n);
    }
    r->d->close_producer(h);
    sl_payload_gen_free(gen);
    return NULL;
}

static void on_record(void *arg, const void *v, size_t n) {
    worker_t *w = arg;
    run_t *r = w->r;
    const uint8_t *p = v;
    if (n < HDR || memcmp(p, "SLB1", 4) != 0) {
        return;
    }
    int64_t now = now_ns();
    int producer = (int)sl_load_be32(p + 4);
    uint64_t seq = sl_load_be64(p + 8);
    int64_t due = (int64_t)sl_load_be64(p + 16);
    if (sl_seqtrack_seen(r->seq, producer, seq) == 0) {
        uint64_t us = (uint64_t)(now > due ? now - due : 0) / 1000;
        sl_timeline_record(r->timeline, (now - r->start_ns) / 1000000000, us);
        if (due >= r->measure_ns) {
            sl_hist_record(w->hist, us);
        }
        int64_t event_ms = sl_payload_event_ms(p, n);
        if (event_ms >= 0) {
            sl_disorder_note(&w->dis, producer, seq, event_ms);
        }
    }
    atomic_fetch_add(&r->received, 1);
    atomic_store(&r->last_rx_ns, now);
    int64_t sec = (now - r->start_ns) / 1000000000;
    if (sec >= 0 && sec < (int64_t)SL_ARRAY_LEN(r->per_second)) {
        atomic_fetch_add(&r->per_second[sec], 1);
    }
}

static void *consume(void *arg) {
    worker_t *w = arg;
    run_t *r = w->r;
    char err[SL_ERRLEN];
    void *h = r->d->open_consumer(r->c, w->index, err);
    if (!h) {
        fprintf(stderr, "sluice: bench: consumer %d: %s\n", w->index, err);
        r->failed = 1;
        return NULL;
    }
    while (!atomic_load(&r->stop_consumers)) {
        if (r->d->receive(h, 100, on_record, w) < 0) {
            r->failed = 1;
            break;
        }
    }
    r->d->close_consumer(h);
    return NULL;
}

static const sl_bench_driver_t *find_driver(const char *name) {
    static const sl_bench_driver_t *all[] = {&sl_bench_driver_kafka, &sl_bench_driver_redis,
                                             &sl_bench_driver_nats, &sl_bench_driver_batch};
    for (size_t i = 0; i < SL_ARRAY_LEN(all); i++) {
        if (!strcmp(all[i]->name, name)) {
            return all[i];
        }
    }
    return NULL;
}

static void setup_keys(run_t *r) {
    const char *k = r->c->keys;
    if (!strncmp(k, "zipf:", 5)) {
        double s = atof(k + 5);
        size_t n = (size_t)r->c->key_count;
        r->zipf_cdf = sl_xmalloc(n * sizeof *r->zipf_cdf);
        double sum = 0;
        for (size_t i = 0; i < n; i++) {
            sum += 1.0 / pow((double)(i + 1), s);
            r->zipf_cdf[i] = sum;
        }
        for (size_t i = 0; i < n; i++) {
            r->zipf_cdf[i] /= sum;
        }
    } else if (!strncmp(k, "hot:", 4)) {
        r->hot = atof(k + 4);
    }
}

int sl_bench_run(const sl_bench_conf_t *c) {
    run_t *r = sl_xcalloc(1, sizeof *r);
    r->c = c;
    r->d = find_driver(c->driver);
    if (c->connections > 0 && r->d && r->d != &sl_bench_driver_kafka) {
        fprintf(stderr, "sluice: bench: --connections needs --driver kafka\n");
        free(r);
        return 2;
    }
    if (c->connections > 0) {
        r->d = &sl_bench_driver_kraw;
    }
    if (!r->d) {
        fprintf(stderr, "sluice: bench: unknown driver '%s' (kafka, redis, nats, batch)\n",
                c->driver);
        free(r);
        return 2;
    }
    if (strncmp(c->keys, "uniform", 7) && strncmp(c->keys, "zipf:", 5) &&
        strncmp(c->keys, "hot:", 4)) {
        fprintf(stderr, "sluice: bench: keys must be uniform, zipf:S or hot:FRACTION\n");
        free(r);
        return 2;
    }
    char perr[SL_ERRLEN];
    if (sl_payload_spec_init(&r->pay, c->payload, c->sizes, c->size, c->disorder_ms,
                             c->disorder_fraction, (uint64_t)c->payload_seed, perr) != SL_OK) {
        fprintf(stderr, "sluice: bench: %s\n", perr);
        free(r);
        return 2;
    }
    setup_keys(r);
    /* A server killed under load (the recovery scenarios) must show up as a failed write that a
     * driver can reconnect after, not as a SIGPIPE that ends the benchmark. */
    signal(SIGPIPE, SIG_IGN);
    int64_t t0_ns = now_ns();
    char err[SL_ERRLEN] = "";
    if (r->d->setup(c, err) != SL_OK) {
        fprintf(stderr, "sluice: bench: %s setup: %s\n", c->driver, err);
        free(r->zipf_cdf);
        free(r);
        return 1;
    }
    r->seq = sl_seqtrack_new((int)c->producers);
    /* The run, then up to 10 s of catch-up after the 1.5 s settling time. */
    r->timeline = sl_timeline_new(c->warmup_s + c->duration_s + 12);
    int np = (int)c->producers, nc = (int)c->consumers;
    worker_t *cw = sl_xcalloc((size_t)nc, sizeof *cw), *pw = sl_xcalloc((size_t)np, sizeof *pw);
    r->start_ns = now_ns() + 1500000000; /* consumers settle on the end of the log first */
    double start_unix = (double)sl_wall_ms() / 1e3 + (double)(r->start_ns - now_ns()) / 1e9;
    r->measure_ns = r->start_ns + c->warmup_s * 1000000000;
    r->wall_off_ns = sl_wall_ms() * 1000000 - now_ns();
    r->end_ns = r->measure_ns + c->duration_s * 1000000000;
    r->pacer.start_ns = r->start_ns;
    r->pacer.rate = (double)c->rate / (double)np;
    r->pacer.burst_factor = 1;
    if (c->burst[0]) {
        double f = 0, s = 0;
        if (sscanf(c->burst, "%lfx%lf", &f, &s) != 2 || f < 1 || s <= 0) {
            fprintf(stderr, "sluice: bench: burst must be FACTORxSECONDS, e.g. 5x2\n");
            return 2;
        }
        r->pacer.burst_factor = f;
        r->pacer.burst_len_s = s;
        r->pacer.burst_at_s = (double)c->warmup_s + (double)c->duration_s / 2 - s / 2;
    }
    for (int i = 0; i < nc; i++) {
        cw[i] = (worker_t){r, i, 0, sl_hist_new(), 0, (unsigned)i * 7919u + 1};
        sl_disorder_init(&cw[i].dis, np, (int)c->partitions);
        pthread_create(&cw[i].th, NULL, consume, &cw[i]);
    }
    for (int i = 0; i < np; i++) {
        pw[i] = (worker_t){r, i, 0, NULL, 0, (unsigned)i * 104729u + 7};
        pthread_create(&pw[i].th, NULL, produce, &pw[i]);
    }
    /* Progress, once a second, until the producers are done. */
    int64_t last_rx = 0;
    for (int64_t t = now_ns(); t < r->end_ns + 200000000 && !r->failed; t = now_ns()) {
        struct timespec ts = {1, 0};
        nanosleep(&ts, NULL);
        int64_t rx = atomic_load(&r->received);
        if (c->progress) {
            double el = (double)(now_ns() - r->start_ns) / 1e9;
            fprintf(stderr, "\r%6.1f s  sent %ld  acked %ld  received %ld  %ld msg/s   ",
                    el < 0 ? 0 : el, atomic_load(&r->sent), atomic_load(&r->acked), rx,
                    rx - last_rx);
        }
        last_rx = rx;
    }
    uint64_t bytes = 0;
    for (int i = 0; i < np; i++) {
        pthread_join(pw[i].th, NULL);
        bytes += pw[i].bytes;
    }
    /* Let the consumers catch up (bounded), then stop them. */
    for (int k = 0; k < 100 && atomic_load(&r->received) < atomic_load(&r->sent); k++) {
        struct timespec ts = {0, 100000000};
        nanosleep(&ts, NULL);
    }
    atomic_store(&r->stop_consumers, 1);
    sl_hist_t *h = sl_hist_new();
    sl_disorder_t dis = {0};
    for (int i = 0; i < nc; i++) {
        pthread_join(cw[i].th, NULL);
        sl_hist_merge(h, cw[i].hist);
        sl_hist_free(cw[i].hist);
        dis.seen += cw[i].dis.seen;
        dis.late += cw[i].dis.late;
        sl_disorder_fini(&cw[i].dis);
    }
    if (c->progress) {
        fprintf(stderr, "\n");
    }
    sl_seq_totals_t tot = sl_seqtrack_totals(r->seq);
    /* Throughput over the measured window, or longer if the system fell behind and delivered
     * the window's records late: a backlog must not read as a high rate. */
    int64_t last = atomic_load(&r->last_rx_ns);
    double secs = (double)(SL_MAX(r->end_ns, last) - r->measure_ns) / 1e9;
    uint64_t measured = sl_hist_count(h);
    printf("driver=%s rate=%" PRId64 " size=%" PRId64 " producers=%d consumers=%d "
           "duration=%" PRId64 "s\n",
           c->driver, c->rate, c->size, np, nc, c->duration_s);
    printf("sent %" PRIu64 " received %" PRIu64 " lost %" PRIu64 " duplicated %" PRIu64
           " throughput %.0f msg/s\n",
           tot.sent, tot.received, tot.lost, tot.duplicated, (double)measured / secs);
    printf("latency ms: p50 %.3f p95 %.3f p99 %.3f p99.9 %.3f max %.3f mean %.3f (%" PRIu64
           " measured)\n",
           (double)sl_hist_quantile(h, 0.5) / 1e3, (double)sl_hist_quantile(h, 0.95) / 1e3,
           (double)sl_hist_quantile(h, 0.99) / 1e3, (double)sl_hist_quantile(h, 0.999) / 1e3,
           (double)sl_hist_max(h) / 1e3, sl_hist_mean(h) / 1e3, measured);
    sl_payload_report(stdout, 0, &r->pay, &dis, bytes, tot.sent);
    if (c->connections > 0) {
        sl_kraw_report(stdout, false);
    }
    if (c->json[0]) {
        FILE *f = fopen(c->json, "w");
        if (f) {
            fprintf(f,
                    "{\"driver\":\"%s\",\"rate\":%" PRId64 ",\"size\":%" PRId64
                    ",\"producers\":%d,\"consumers\":%d,\"duration_s\":%" PRId64
                    ",\"sent\":%" PRIu64 ",\"received\":%" PRIu64 ",\"lost\":%" PRIu64
                    ",\"duplicated\":%" PRIu64 ",\"throughput\":%.1f,\"latency_ms\":{"
                    "\"p50\":%.3f,\"p95\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f,"
                    "\"mean\":%.3f}",
                    c->driver, c->rate, c->size, np, nc, c->duration_s, tot.sent, tot.received,
                    tot.lost, tot.duplicated, (double)measured / secs,
                    (double)sl_hist_quantile(h, 0.5) / 1e3, (double)sl_hist_quantile(h, 0.95) / 1e3,
                    (double)sl_hist_quantile(h, 0.99) / 1e3,
                    (double)sl_hist_quantile(h, 0.999) / 1e3, (double)sl_hist_max(h) / 1e3,
                    sl_hist_mean(h) / 1e3);
            sl_payload_report(f, 1, &r->pay, &dis, bytes, tot.sent);
            if (c->connections > 0) {
                sl_kraw_report(f, true);
            }
            fprintf(f, ",\"per_second\":[");
            int64_t secs_total = c->warmup_s + c->duration_s + 1;
            for (int64_t s = 0; s < secs_total; s++) {
                fprintf(f, "%s%ld", s ? "," : "", atomic_load(&r->per_second[s]));
            }
            /* Per-second p99 of the records first received in that second (null: none), and
             * what the client itself cost (getrusage: the counters of /proc/self/stat). */
            fprintf(f, "],\"p99_per_second\":[");
            for (int64_t s = 0; s < secs_total; s++) {
                if (sl_timeline_count(r->timeline, s)) {
                    fprintf(f, "%s%.3f", s ? "," : "",
                            (double)sl_timeline_quantile(r->timeline, s, 0.99) / 1e3);
                } else {
                    fprintf(f, "%snull", s ? "," : "");
                }
            }
            struct rusage ru;
            getrusage(RUSAGE_SELF, &ru);
            fprintf(f,
                    "],\"start_unix\":%.3f,\"client_cpu_s\":%.3f,\"client_wall_s\":%.3f,"
                    "\"client_max_rss_mb\":%.1f}\n",
                    start_unix,
                    (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                        (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6,
                    (double)(now_ns() - t0_ns) / 1e9, (double)ru.ru_maxrss / 1024);
            fclose(f);
        } else {
            fprintf(stderr, "sluice: bench: cannot write %s\n", c->json);
        }
    }
    int rc = r->failed || tot.received == 0 ? 1 : 0;
    sl_hist_free(h);
    sl_seqtrack_free(r->seq);
    sl_timeline_free(r->timeline);
    free(cw);
    free(pw);
    free(r->zipf_cdf);
    free(r);
    return rc;
}

/* nexmark.c -- the Nexmark generator and its producer loop (see nexmark.h). */
#include <librdkafka/rdkafka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/nexmark.h"
#include "bench/pacer.h"
#include "common/clock.h"
#include "common/util.h"

#define HOT_AUCTION_RATIO  2
#define HOT_BIDDER_RATIO   4
#define HOT_SELLER_RATIO   4
#define AUCTIONS_IN_FLIGHT 100
#define ACTIVE_PEOPLE      1000
#define ID_LEAD            10

typedef struct rng {
    uint64_t s;
} rng_t;

/* splitmix64: one stream per (seed, event), good enough for a benchmark's choices. */
static uint64_t next(rng_t *r) {
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t below(rng_t *r, uint64_t n) { /* n > 0 */
    return next(r) % n;
}

static double unit(rng_t *r) {
    return (double)(next(r) >> 11) * (1.0 / 9007199254740992.0);
}

static const char *const first_names[] = {"Peter", "Paul",  "Luke",  "John",   "Saul",  "Vicky",
                                          "Kate",  "Julie", "Sarah", "Deiter", "Walter"};
static const char *const last_names[] = {"Shultz", "Abrams", "Spencer", "White", "Bartels",
                                         "Walton", "Smith",  "Jones",   "Noris"};
static const char *const states[] = {"AZ", "CA", "ID", "OR", "WA", "WY"};
static const char *const cities[] = {"Phoenix",  "Los Angeles", "San Francisco", "Boise",
                                     "Portland", "Bend",        "Redmond",       "Seattle",
                                     "Kent",     "Cheyenne"};
static const char *const channels[] = {"Google", "Facebook", "Baidu", "Apple"};

#define PICK(r, a) ((a)[below((r), sizeof(a) / sizeof((a)[0]))])

/* Appends a lower-case word of min..max letters. */
static size_t word(rng_t *r, char *p, size_t min, size_t max) {
    size_t n = min + (size_t)below(r, max - min + 1);
    for (size_t i = 0; i < n; i++) {
        p[i] = (char)('a' + below(r, 26));
    }
    return n;
}

/* People and auctions generated up to and including event n. */
static uint64_t people_by(uint64_t n) {
    return n / SL_NEXMARK_EPOCH + 1;
}

static uint64_t auctions_by(uint64_t n) {
    uint64_t off = n % SL_NEXMARK_EPOCH;
    return n / SL_NEXMARK_EPOCH * 3 + (off >= 3 ? 3 : off);
}

/* A person id (base 0) among the active people, or the hot one of its hundred. */
static uint64_t some_person(rng_t *r, uint64_t people, int hot_ratio) {
    uint64_t last = people - 1;
    if (below(r, (uint64_t)hot_ratio) > 0) {
        return last / 100 * 100;
    }
    uint64_t active = people < ACTIVE_PEOPLE ? people : ACTIVE_PEOPLE;
    return people - active + below(r, active + ID_LEAD);
}

static uint64_t some_auction(rng_t *r, uint64_t auctions) {
    uint64_t last = auctions ? auctions - 1 : 0;
    if (below(r, HOT_AUCTION_RATIO) == 0) {
        return last / 100 * 100;
    }
    uint64_t min = last > AUCTIONS_IN_FLIGHT ? last - AUCTIONS_IN_FLIGHT : 0;
    return min + below(r, last - min + 1 + ID_LEAD);
}

/* Log-uniform from 100 to 10^8 (cents), as Nexmark's nextPrice. */
static long long price(rng_t *r) {
    return llround(pow(10.0, unit(r) * 6.0) * 100.0);
}

/* Closes the object with "extra" padded so the record is about `target` bytes. */
static size_t finish(rng_t *r, char *buf, size_t len, size_t target, size_t cap) {
    static const char open[] = ",\"extra\":\"";
    size_t fixed = sizeof open - 1 + 2; /* the field's opening, then '"}' */
    size_t pad = len + fixed < target ? target - len - fixed : 0;
    if (len + fixed + pad + 1 > cap) {
        pad = 0;
    }
    memcpy(buf + len, open, sizeof open - 1);
    len += sizeof open - 1;
    for (size_t i = 0; i < pad; i++) {
        buf[len++] = (char)('a' + below(r, 26));
    }
    buf[len++] = '"';
    buf[len++] = '}';
    buf[len] = 0;
    return len;
}

void sl_nexmark_event(const sl_nexmark_gen_t *g, uint64_t n, char *buf, size_t cap,
                      sl_nexmark_event_t *ev) {
    rng_t r = {g->seed * 0x2545f4914f6cdd1dULL ^ (n + 1) * 0x9e3779b97f4a7c15ULL};
    (void)next(&r);
    uint64_t off = n % SL_NEXMARK_EPOCH;
    int64_t t = g->base_ms + (int64_t)((double)n * 1000.0 / (double)g->event_rate);
    char w1[24], w2[24];
    int len;
    ev->date_time = t;
    if (off == 0) {
        uint64_t id = n / SL_NEXMARK_EPOCH + SL_NEXMARK_FIRST_ID;
        size_t a = word(&r, w1, 3, 8), b = word(&r, w2, 3, 8);
        unsigned cc[4];
        for (int i = 0; i < 4; i++) {
            cc[i] = (unsigned)below(&r, 10000);
        }
        /* Draws in a fixed order (argument evaluation order is unspecified). */
        const char *first = PICK(&r, first_names), *last = PICK(&r, last_names);
        const char *city = PICK(&r, cities), *state = PICK(&r, states);
        len = snprintf(buf, cap,
                       "{\"event_type\":0,\"id\":%llu,\"name\":\"%s %s\",\"emailAddress\":"
                       "\"%.*s@%.*s.com\",\"creditCard\":\"%04u %04u %04u %04u\",\"city\":\"%s\","
                       "\"state\":\"%s\",\"dateTime\":%lld",
                       (unsigned long long)id, first, last, (int)a, w1, (int)b, w2, cc[0], cc[1],
                       cc[2], cc[3], city, state, (long long)t);
        ev->type = SL_NEXMARK_PERSON;
        ev->key = (int64_t)id;
        ev->len = finish(&r, buf, (size_t)len, 200, cap);
    } else if (off <= 3) {
        uint64_t id = n / SL_NEXMARK_EPOCH * 3 + off - 1 + SL_NEXMARK_FIRST_ID;
        uint64_t seller = some_person(&r, people_by(n), HOT_SELLER_RATIO) + SL_NEXMARK_FIRST_ID;
        long long initial = price(&r);
        /* Open for a random time with mean the time to generate 100 more auctions. */
        double mean_ms = 100.0 * SL_NEXMARK_EPOCH / 3.0 * 1000.0 / (double)g->event_rate;
        long long expires = (long long)t + 1 + (long long)(unit(&r) * 2.0 * mean_ms);
        size_t a = word(&r, w1, 5, 12), b = word(&r, w2, 5, 20);
        long long reserve = initial + price(&r);
        int category = 10 + (int)below(&r, 5);
        len = snprintf(buf, cap,
                       "{\"event_type\":1,\"id\":%llu,\"itemName\":\"%.*s\",\"description\":"
                       "\"%.*s\",\"initialBid\":%lld,\"reserve\":%lld,\"dateTime\":%lld,"
                       "\"expires\":%lld,\"seller\":%llu,\"category\":%d",
                       (unsigned long long)id, (int)a, w1, (int)b, w2, initial, reserve,
                       (long long)t, expires, (unsigned long long)seller, category);
        ev->type = SL_NEXMARK_AUCTION;
        ev->key = (int64_t)id;
        ev->len = finish(&r, buf, (size_t)len, 500, cap);
    } else {
        uint64_t auction = some_auction(&r, auctions_by(n)) + SL_NEXMARK_FIRST_ID;
        uint64_t bidder = some_person(&r, people_by(n), HOT_BIDDER_RATIO) + SL_NEXMARK_FIRST_ID;
        size_t a = word(&r, w1, 4, 8);
        long long amount = price(&r);
        const char *channel = PICK(&r, channels);
        len = snprintf(buf, cap,
                       "{\"event_type\":2,\"auction\":%llu,\"bidder\":%llu,\"price\":%lld,"
                       "\"channel\":\"%s\",\"url\":\"https://www.nexmark.com/%.*s/item.htm\","
                       "\"dateTime\":%lld",
                       (unsigned long long)auction, (unsigned long long)bidder, amount, channel,
                       (int)a, w1, (long long)t);
        ev->type = SL_NEXMARK_BID;
        ev->key = (int64_t)auction;
        ev->len = finish(&r, buf, (size_t)len, 100, cap);
    }
}

/* ---- the producer loop ---- */

typedef struct prod {
    long long acked, failed;
    char first_err[256];
} prod_t;

static void on_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    prod_t *p = opaque;
    if (m->err) {
        if (!p->failed++) {
            snprintf(p->first_err, sizeof p->first_err, "%s", rd_kafka_err2str(m->err));
        }
    } else {
        p->acked++;
    }
}

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static rd_kafka_t *producer(const sl_bench_conf_t *c, prod_t *p, char *err) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char linger[24];
    snprintf(linger, sizeof linger, "%lld", (long long)c->linger_ms);
    if (rd_kafka_conf_set(conf, "bootstrap.servers", c->brokers, err, SL_ERRLEN) ||
        rd_kafka_conf_set(conf, "acks", c->acks, err, SL_ERRLEN) ||
        rd_kafka_conf_set(conf, "linger.ms", linger, err, SL_ERRLEN) ||
        rd_kafka_conf_set(conf, "enable.idempotence", c->kafka_idempotence ? "true" : "false", err,
                          SL_ERRLEN) ||
        rd_kafka_conf_set(conf, "queue.buffering.max.messages", "1000000", err, SL_ERRLEN) ||
        rd_kafka_conf_set(conf, "compression.codec", "none", err, SL_ERRLEN)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_dr);
    rd_kafka_conf_set_opaque(conf, p);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, SL_ERRLEN);
    return rk;
}

int sl_nexmark_run(const sl_bench_conf_t *c) {
    char err[SL_ERRLEN];
    if (sl_bench_driver_kafka.setup(c, err) != SL_OK) {
        fprintf(stderr, "sluice: bench: %s\n", err);
        return 1;
    }
    prod_t p = {0};
    rd_kafka_t *rk = producer(c, &p, err);
    if (!rk) {
        fprintf(stderr, "sluice: bench: %s\n", err);
        return 1;
    }
    uint64_t total =
        c->count > 0 ? (uint64_t)c->count : (c->rate > 0 ? (uint64_t)(c->rate * c->duration_s) : 0);
    int64_t event_rate = c->rate > 0 ? c->rate : c->nexmark_event_rate;
    int64_t now = wall_ms();
    sl_nexmark_gen_t g = {(uint64_t)c->payload_seed, now, event_rate};
    if (c->rate == 0 && total) { /* preloading: the events end now */
        g.base_ms = now - (int64_t)((double)total * 1000.0 / (double)event_rate);
    }
    sl_pacer_t pace = {.start_ns = mono_ns(), .rate = (double)c->rate, .burst_factor = 1};
    int64_t end_ns = pace.start_ns + c->duration_s * 1000000000LL;
    char buf[SL_NEXMARK_MAX_BYTES], key[24];
    long long by_type[3] = {0};
    uint64_t n = 0;
    int64_t last_report = pace.start_ns;
    while (total ? n < total : mono_ns() < end_ns) {
        if (c->rate > 0) {
            int64_t due = sl_pacer_due(&pace, n), t = mono_ns();
            if (due > t) { /* wait without spinning: the processor shares these cores */
                if (due - t >= 1000000) {
                    rd_kafka_poll(rk, (int)((due - t) / 1000000));
                } else {
                    struct timespec d = {0, (long)(due - t)};
                    nanosleep(&d, NULL);
                }
                continue;
            }
        }
        sl_nexmark_event_t ev;
        sl_nexmark_event(&g, n, buf, sizeof buf, &ev);
        int kl = snprintf(key, sizeof key, "%lld", (long long)ev.key);
        rd_kafka_resp_err_t e;
        while ((e = rd_kafka_producev(
                    rk, RD_KAFKA_V_TOPIC(c->topic), RD_KAFKA_V_KEY(key, (size_t)kl),
                    RD_KAFKA_V_VALUE(buf, ev.len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                    RD_KAFKA_V_TIMESTAMP(ev.date_time), RD_KAFKA_V_END)) ==
               RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(rk, 10);
        }
        if (e) {
            fprintf(stderr, "sluice: bench: produce: %s\n", rd_kafka_err2str(e));
            break;
        }
        by_type[ev.type]++;
        n++;
        rd_kafka_poll(rk, 0);
        int64_t t = mono_ns();
        if (c->progress && t - last_report >= 1000000000) {
            last_report = t;
            fprintf(stderr, "\rnexmark: %llu events sent, %lld acked", (unsigned long long)n,
                    p.acked);
        }
    }
    rd_kafka_flush(rk, 60000);
    double s = (double)(mono_ns() - pace.start_ns) / 1e9;
    if (c->progress) {
        fprintf(stderr, "\n");
    }
    printf("nexmark: %llu events (%lld persons, %lld auctions, %lld bids) into %s in %.2f s "
           "(%.0f events/s), %lld acked, %lld failed; event time %lld..%lld ms, seed %lld\n",
           (unsigned long long)n, by_type[0], by_type[1], by_type[2], c->topic, s,
           s > 0 ? (double)n / s : 0.0, p.acked, p.failed, (long long)g.base_ms,
           (long long)(g.base_ms + (int64_t)((double)n * 1000.0 / (double)event_rate)),
           (long long)c->payload_seed);
    rd_kafka_destroy(rk);
    if (p.failed || p.acked != (long long)n) {
        fprintf(stderr, "sluice: bench: %lld of %llu events not acknowledged%s%s\n",
                (long long)n - p.acked, (unsigned long long)n, p.failed ? ": " : "", p.first_err);
        return 1;
    }
    return 0;
}

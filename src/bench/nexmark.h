/* nexmark.h -- the Nexmark event generator behind `sluice bench --nexmark`: people, auctions and
 * bids of an online auction, as flat JSON objects with Nexmark's field names.
 *
 * Event n (from 0) is fully determined by (seed, n, base time, event rate): each event draws from
 * its own random stream, so any event can be made again without the ones before it. Events come
 * in epochs of 50: 1 person, 3 auctions, 46 bids (Nexmark's default 1:3:46). Ids start at 1000;
 * event n's dateTime is base_ms + n * 1000 / event_rate (epoch ms), so event time advances at the
 * generated rate. Hot keys as in Nexmark's defaults: half the bids go to the latest auction id
 * rounded down to a multiple of 100 (hot auction ratio 2), 3/4 of bids come from one bidder per
 * 100 people and 3/4 of auctions from one seller per 100 people (hot ratios 4). Other bids pick
 * among the last 100 auctions (+10 ids ahead, so some bids precede their auction), other people
 * among the last 1,000 (+10 ahead). Unlike Flink's generator, a bid's bidder is a real person id
 * (Flink adds the first person id twice). Records are padded with `extra` to Nexmark's average
 * sizes: 200 (person), 500 (auction), 100 (bid) bytes.
 *
 *   {"event_type":0,"id":1000,"name":"...","emailAddress":"...","creditCard":"...","city":"...",
 *    "state":"OR","dateTime":...,"extra":"..."}
 *   {"event_type":1,"id":1000,"itemName":"...","description":"...","initialBid":...,"reserve":...,
 *    "dateTime":...,"expires":...,"seller":1000,"category":10,"extra":"..."}
 *   {"event_type":2,"auction":1000,"bidder":1000,"price":...,"channel":"...","url":"...",
 *    "dateTime":...,"extra":"..."}
 *
 * Thread: a generator is plain data; sl_nexmark_event reads it only. */
#ifndef SL_NEXMARK_H
#define SL_NEXMARK_H

#include <stddef.h>
#include <stdint.h>

#include "bench/bench.h"

#define SL_NEXMARK_FIRST_ID  1000
#define SL_NEXMARK_EPOCH     50 /* events per epoch: 1 person, 3 auctions, 46 bids */
#define SL_NEXMARK_MAX_BYTES 1024

typedef enum sl_nexmark_type {
    SL_NEXMARK_PERSON = 0,
    SL_NEXMARK_AUCTION = 1,
    SL_NEXMARK_BID = 2
} sl_nexmark_type_t;

typedef struct sl_nexmark_gen {
    uint64_t seed;
    int64_t base_ms;    /* dateTime of event 0 */
    int64_t event_rate; /* events per second of event time (> 0) */
} sl_nexmark_gen_t;

typedef struct sl_nexmark_event {
    sl_nexmark_type_t type;
    int64_t key;       /* person id (people), auction id (auctions and bids) */
    int64_t date_time; /* epoch ms */
    size_t len;        /* JSON bytes written */
} sl_nexmark_event_t;

/* Writes event n as JSON into buf (cap >= SL_NEXMARK_MAX_BYTES) and describes it in *ev. */
void sl_nexmark_event(const sl_nexmark_gen_t *g, uint64_t n, char *buf, size_t cap,
                      sl_nexmark_event_t *ev);

/* `sluice bench --nexmark`: produces c->count events (or c->duration_s seconds of them) into
 * c->topic at c->rate events/s (0: as fast as possible, event time then advancing at
 * nexmark.event.rate and ending now), keyed by sl_nexmark_event_t.key, with the record timestamp
 * the event's dateTime. Prints a summary to stdout; returns 0, or 1 with a reason on stderr. */
int sl_nexmark_run(const sl_bench_conf_t *c);

#endif

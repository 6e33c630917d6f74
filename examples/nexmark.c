/* nexmark.c -- Nexmark queries q0, q1, q2, q3, q5 and q7 on the C API, over the events of
 * `sluice bench --nexmark` (one topic, flat JSON with an event_type; bids keyed by auction id,
 * record timestamp = dateTime).
 *
 *   sluice run build/examples/nexmark.so --app-id nx -- QUERY [INPUT [OUTPUT]]
 *
 * QUERY is one of (INPUT defaults to "nexmark", OUTPUT to "nexmark-QUERY"):
 *   q0  pass-through: every bid, unchanged.
 *   q1  currency conversion: {"auction","bidder","price","dateTime","extra"} with price x 0.908
 *       (rounded to an integer, as the price is).
 *   q2  selection: {"auction","price"} of the bids whose auction id is a multiple of 123.
 *   q5  hot items: bids per auction in hopping windows of 10 s every 2 s; per window, the
 *       auction(s) with the most bids: {"start","end","auction","count"} (one record per auction
 *       holding the maximum, at most HOT_MAX of them).
 *   q7  highest bid: per 10 s tumbling window, the bid(s) with the highest price:
 *       {"start","end","auction","bidder","price","dateTime"} (at most HOT_MAX ties).
 *   q3  local item suggestion: {"name","city","state","id"} for every auction of category 10
 *       whose seller lives in OR, ID or CA (Nexmark's person-auction join). A regular (unbounded)
 *       join over a finite run is an interval join wider than the run: people and auctions are
 *       re-keyed by person id and joined within Q3_WITHIN_MS (a day), so each pair is found
 *       once whichever side arrives first, at the cost of buffering both sides for that long.
 *
 * Event time is the record timestamp, with Flink's Nexmark setting of 4 s bounded disorder. q5
 * and q7 aggregate in two steps: per auction (the input's key, so straight off the source; the
 * step skips people and auctions), then the per-auction results re-keyed by window start meet in
 * one task, which keeps the maximum. Windows fire once, when the watermark passes their end. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_scan.h"
#include "stream/stream.h"

sl_err_t sl_stream_job(sl_stream_builder_t *b, int argc, char **argv);

#define HOT_MAX     4     /* ties kept per window */
#define Q5_SIZE_MS  10000 /* Nexmark's 1 h every 1 min, scaled as in Flink's suite */
#define Q5_HOP_MS   2000
#define Q7_SIZE_MS  10000
#define DISORDER_MS 4000

enum { F_TYPE, F_AUCTION, F_BIDDER, F_PRICE, F_DATETIME, F_EXTRA, F_N };

/* The fields of a bid; false for people, auctions and anything unreadable. */
static bool bid_fields(const sl_stream_rec_t *rec, js_field_t *f) {
    f[F_TYPE].name = "event_type", f[F_AUCTION].name = "auction", f[F_BIDDER].name = "bidder";
    f[F_PRICE].name = "price", f[F_DATETIME].name = "dateTime", f[F_EXTRA].name = "extra";
    return js_fields(rec->value, f, F_N) > 0 && f[F_TYPE].val.len == 1 && f[F_TYPE].val.p[0] == '2';
}

/* The event type from the first field (the generator writes it first): no full scan. */
static bool is_bid(const sl_stream_rec_t *rec) {
    static const char pre[] = "{\"event_type\":2";
    return rec->value.p && rec->value.len >= sizeof pre - 1 &&
           memcmp(rec->value.p, pre, sizeof pre - 1) == 0;
}

static sl_err_t q0(sl_stream_ctx_t *ctx, const sl_stream_rec_t *rec, void *user) {
    (void)user;
    return is_bid(rec) ? sl_stream_emit(ctx, rec->key, rec->value) : SL_OK;
}

/* Appends n bytes at *p (the caller sized the buffer). */
static void put(char **p, const void *s, size_t n) {
    memcpy(*p, s, n);
    *p += n;
}

/* Appends v in decimal at *p (at most 20 bytes). */
static void put_i64(char **p, int64_t v) {
    char tmp[20];
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) {
        *(*p)++ = '-';
    }
    while (n) {
        *(*p)++ = tmp[--n];
    }
}

#define PUT_LIT(p, lit) put(p, lit, sizeof lit - 1)

static sl_err_t q1(sl_stream_ctx_t *ctx, const sl_stream_rec_t *rec, void *user) {
    (void)user;
    js_field_t f[F_N];
    int64_t price;
    if (!is_bid(rec) || !bid_fields(rec, f)) {
        return SL_OK;
    }
    if (!js_i64(f[F_PRICE].val, &price)) {
        return sl_stream_fail(ctx, "bid without an integer price");
    }
    /* Built by hand rather than with snprintf, which cost more than the rest of the query. */
    size_t cap = 80 + f[F_AUCTION].val.len + f[F_BIDDER].val.len + f[F_DATETIME].val.len +
                 f[F_EXTRA].val.len;
    char *out = sl_stream_scratch(ctx, cap), *p = out;
    PUT_LIT(&p, "{\"auction\":");
    put(&p, f[F_AUCTION].val.p, f[F_AUCTION].val.len);
    PUT_LIT(&p, ",\"bidder\":");
    put(&p, f[F_BIDDER].val.p, f[F_BIDDER].val.len);
    PUT_LIT(&p, ",\"price\":");
    put_i64(&p, llround((double)price * 0.908));
    PUT_LIT(&p, ",\"dateTime\":");
    put(&p, f[F_DATETIME].val.p, f[F_DATETIME].val.len);
    PUT_LIT(&p, ",\"extra\":\"");
    put(&p, f[F_EXTRA].val.p, f[F_EXTRA].val.len);
    PUT_LIT(&p, "\"}");
    return sl_stream_emit(ctx, rec->key, (sl_bytes_t){(const uint8_t *)out, (size_t)(p - out)});
}

static sl_err_t q2(sl_stream_ctx_t *ctx, const sl_stream_rec_t *rec, void *user) {
    (void)user;
    js_field_t f[F_N];
    int64_t auction;
    if (!is_bid(rec) || !bid_fields(rec, f)) {
        return SL_OK;
    }
    if (!js_i64(f[F_AUCTION].val, &auction)) {
        return sl_stream_fail(ctx, "bid without an integer auction id");
    }
    if (auction % 123 != 0) {
        return SL_OK;
    }
    char *out = sl_stream_scratch(ctx, 80);
    int n = snprintf(out, 80, "{\"auction\":%lld,\"price\":%.*s}", (long long)auction,
                     (int)SL_MIN(f[F_PRICE].val.len, 24), (const char *)f[F_PRICE].val.p);
    return sl_stream_emit(ctx, rec->key, (sl_bytes_t){(const uint8_t *)out, (size_t)n});
}

/* ---- q3: local item suggestion (people x auctions) ---- */

#define Q3_WITHIN_MS (24LL * 3600 * 1000)

/* People of OR, ID and CA: key = person id, value = {"name","city","state"}. */
static sl_err_t q3_people(sl_stream_ctx_t *ctx, const sl_stream_rec_t *rec, void *user) {
    (void)user;
    static const char pre[] = "{\"event_type\":0";
    if (!rec->value.p || rec->value.len < sizeof pre - 1 || memcmp(rec->value.p, pre, sizeof pre - 1)) {
        return SL_OK;
    }
    js_field_t f[4] = {{"id"}, {"name"}, {"city"}, {"state"}};
    if (js_fields(rec->value, f, 4) != 4) {
        return sl_stream_fail(ctx, "a person without id, name, city or state");
    }
    sl_bytes_t st = f[3].val;
    if (st.len != 2 || !(memcmp(st.p, "OR", 2) == 0 || memcmp(st.p, "ID", 2) == 0 ||
                         memcmp(st.p, "CA", 2) == 0)) {
        return SL_OK;
    }
    size_t cap = 64 + f[1].val.len + f[2].val.len;
    char *out = sl_stream_scratch(ctx, cap);
    int n = snprintf(out, cap, "{\"name\":\"%.*s\",\"city\":\"%.*s\",\"state\":\"%.*s\"}",
                     (int)f[1].val.len, (const char *)f[1].val.p, (int)f[2].val.len,
                     (const char *)f[2].val.p, 2, (const char *)st.p);
    return sl_stream_emit(ctx, f[0].val, (sl_bytes_t){(const uint8_t *)out, (size_t)n});
}

/* Auctions of category 10: key = seller, value = the auction id. */
static sl_err_t q3_auctions(sl_stream_ctx_t *ctx, const sl_stream_rec_t *rec, void *user) {
    (void)user;
    static const char pre[] = "{\"event_type\":1";
    if (!rec->value.p || rec->value.len < sizeof pre - 1 || memcmp(rec->value.p, pre, sizeof pre - 1)) {
        return SL_OK;
    }
    js_field_t f[3] = {{"id"}, {"seller"}, {"category"}};
    if (js_fields(rec->value, f, 3) != 3) {
        return sl_stream_fail(ctx, "an auction without id, seller or category");
    }
    if (f[2].val.len != 2 || memcmp(f[2].val.p, "10", 2) != 0) {
        return SL_OK;
    }
    return sl_stream_emit(ctx, f[1].val, f[0].val);
}

static sl_err_t q3_join(sl_stream_ctx_t *ctx, const sl_stream_rec_t *person,
                        const sl_stream_rec_t *auction, void *user) {
    (void)user;
    if (!person || !auction || !person->value.p || person->value.len < 2) {
        return SL_OK; /* an inner join: both sides are always there */
    }
    size_t cap = person->value.len + auction->value.len + 16;
    char *out = sl_stream_scratch(ctx, cap);
    /* {"name":..,"city":..,"state":..} + ,"id":A} */
    int n = snprintf(out, cap, "%.*s,\"id\":%.*s}", (int)person->value.len - 1,
                     (const char *)person->value.p, (int)auction->value.len,
                     (const char *)auction->value.p);
    return sl_stream_emit(ctx, auction->key, (sl_bytes_t){(const uint8_t *)out, (size_t)n});
}

/* ---- q5: hot items ---- */

typedef struct count {
    long long n;
} count_t;

static sl_err_t q5_count(sl_stream_ctx_t *ctx, void *state, const sl_stream_rec_t *rec,
                         void *user) {
    (void)ctx, (void)user;
    ((count_t *)state)->n += is_bid(rec);
    return SL_OK;
}

/* Per auction and window: {"auction":A,"count":N}, re-keyed below by the window start. */
static sl_err_t q5_count_out(sl_stream_ctx_t *ctx, const void *state, void *user) {
    (void)user;
    const count_t *c = state;
    if (c->n == 0) {
        return SL_OK; /* only people or auctions had this key in this window */
    }
    int64_t start, end;
    sl_stream_window_bounds(ctx, &start, &end);
    sl_bytes_t k = sl_stream_ctx_key(ctx);
    char *out = sl_stream_scratch(ctx, 96 + k.len);
    int n = snprintf(out, 96 + k.len, "{\"start\":%lld,\"auction\":%.*s,\"count\":%lld}",
                     (long long)start, (int)k.len, (const char *)k.p, c->n);
    return sl_stream_emit(ctx, k, (sl_bytes_t){(const uint8_t *)out, (size_t)n});
}

static sl_err_t by_start(sl_stream_ctx_t *ctx, const sl_stream_rec_t *rec, void *user,
                         sl_bytes_t *key) {
    (void)user;
    js_field_t f[1] = {{"start"}};
    if (js_fields(rec->value, f, 1) != 1) {
        return sl_stream_fail(ctx, "a window result without a start");
    }
    *key = f[0].val;
    return SL_OK;
}

typedef struct hot {
    long long max;
    int n;
    long long auction[HOT_MAX];
} hot_t;

static sl_err_t q5_max(sl_stream_ctx_t *ctx, void *state, const sl_stream_rec_t *rec, void *user) {
    (void)user;
    hot_t *h = state;
    js_field_t f[2] = {{"auction"}, {"count"}};
    int64_t auction, count;
    if (js_fields(rec->value, f, 2) != 2 || !js_i64(f[0].val, &auction) ||
        !js_i64(f[1].val, &count)) {
        return sl_stream_fail(ctx, "a q5 count without auction and count");
    }
    if (count > h->max) {
        h->max = count;
        h->n = 0;
    }
    if (count == h->max && h->n < HOT_MAX) {
        h->auction[h->n++] = auction;
    }
    return SL_OK;
}

static sl_err_t q5_out(sl_stream_ctx_t *ctx, const void *state, void *user) {
    (void)user;
    const hot_t *h = state;
    int64_t start;
    sl_bytes_t k = sl_stream_ctx_key(ctx);
    if (!js_i64(k, &start)) {
        return sl_stream_fail(ctx, "a q5 key that is not a window start");
    }
    for (int i = 0; i < h->n; i++) {
        char *out = sl_stream_scratch(ctx, 128);
        int n = snprintf(out, 128, "{\"start\":%lld,\"end\":%lld,\"auction\":%lld,\"count\":%lld}",
                         (long long)start, (long long)(start + Q5_SIZE_MS), h->auction[i], h->max);
        sl_err_t err = sl_stream_emit(ctx, k, (sl_bytes_t){(const uint8_t *)out, (size_t)n});
        if (err != SL_OK) {
            return err;
        }
    }
    return SL_OK;
}

/* ---- q7: highest bid ---- */

typedef struct top_bid {
    long long auction, bidder, date_time;
} top_bid_t;

typedef struct top {
    long long price; /* valid when n > 0 */
    int n;
    top_bid_t bid[HOT_MAX];
} top_t;

static void top_add(top_t *t, long long price, top_bid_t b) {
    if (t->n == 0 || price > t->price) {
        t->price = price;
        t->n = 0;
    }
    if (price == t->price && t->n < HOT_MAX) {
        t->bid[t->n++] = b;
    }
}

/* Both steps read the same fields: a bid (step 1) and a step-1 result (step 2) have them all. */
static sl_err_t q7_step(sl_stream_ctx_t *ctx, void *state, const sl_stream_rec_t *rec, void *user) {
    (void)user;
    js_field_t f[F_N];
    int64_t v[4];
    if (user == NULL && !is_bid(rec)) {
        return SL_OK;
    }
    f[F_TYPE].name = "event_type", f[F_AUCTION].name = "auction", f[F_BIDDER].name = "bidder";
    f[F_PRICE].name = "price", f[F_DATETIME].name = "dateTime", f[F_EXTRA].name = "extra";
    if (js_fields(rec->value, f, F_N) < 0 || !js_i64(f[F_AUCTION].val, &v[0]) ||
        !js_i64(f[F_BIDDER].val, &v[1]) || !js_i64(f[F_PRICE].val, &v[2]) ||
        !js_i64(f[F_DATETIME].val, &v[3])) {
        return sl_stream_fail(ctx, "a bid without auction, bidder, price and dateTime");
    }
    top_add(state, v[2], (top_bid_t){v[0], v[1], v[3]});
    return SL_OK;
}

/* Keyed by window start, which step 2 groups by (and keeps). */
static sl_err_t q7_out(sl_stream_ctx_t *ctx, const void *state, void *user) {
    (void)user;
    const top_t *t = state;
    int64_t start, end;
    sl_stream_window_bounds(ctx, &start, &end);
    for (int i = 0; i < t->n; i++) {
        char *out = sl_stream_scratch(ctx, 192);
        int n = snprintf(out, 192,
                         "{\"start\":%lld,\"end\":%lld,\"auction\":%lld,\"bidder\":%lld,"
                         "\"price\":%lld,\"dateTime\":%lld}",
                         (long long)start, (long long)end, t->bid[i].auction, t->bid[i].bidder,
                         t->price, t->bid[i].date_time);
        char *key = sl_stream_scratch(ctx, 24);
        int kl = snprintf(key, 24, "%lld", (long long)start);
        sl_err_t err = sl_stream_emit(ctx, (sl_bytes_t){(const uint8_t *)key, (size_t)kl},
                                      (sl_bytes_t){(const uint8_t *)out, (size_t)n});
        if (err != SL_OK) {
            return err;
        }
    }
    return SL_OK;
}

static void free_str(void *p) {
    free(p);
}

sl_err_t sl_stream_job(sl_stream_builder_t *b, int argc, char **argv) {
    static int step2; /* a non-NULL `user` marks q7's second step */
    const char *q = argc > 1 ? argv[1] : "";
    const char *in = argc > 2 ? argv[2] : "nexmark";
    char *out = sl_stream_own(b, malloc(64 + strlen(q)), free_str);
    if (argc > 3) {
        out = argv[3];
    } else {
        snprintf(out, 64 + strlen(q), "nexmark-%s", q);
    }
    sl_stream_source_opts_t src = {.watermark_delay_ms = DISORDER_MS, .idle_ms = 5000};
    sl_stream_node_t *bids = sl_stream_source(b, in, &src);
    if (strcmp(q, "q0") == 0 || strcmp(q, "q1") == 0 || strcmp(q, "q2") == 0) {
        sl_stream_fn *fn = q[1] == '0' ? q0 : q[1] == '1' ? q1 : q2;
        sl_stream_to(sl_stream_map(bids, q, fn, NULL), out);
    } else if (strcmp(q, "q3") == 0) {
        sl_stream_node_t *people = sl_stream_rekey(sl_stream_map(bids, "q3-people", q3_people, NULL),
                                                   "q3-by-person", NULL, NULL);
        sl_stream_node_t *auctions = sl_stream_rekey(
            sl_stream_map(bids, "q3-auctions", q3_auctions, NULL), "q3-by-seller", NULL, NULL);
        sl_stream_to(sl_stream_join_window(people, auctions, "q3-join", Q3_WITHIN_MS, Q3_WITHIN_MS,
                                           q3_join, NULL, SL_STREAM_JOIN_INNER),
                     out);
    } else if (strcmp(q, "q5") == 0) {
        static const sl_stream_agg_t count = {sizeof(count_t), q5_count, NULL, q5_count_out, NULL};
        static const sl_stream_agg_t max = {sizeof(hot_t), q5_max, NULL, q5_out, NULL};
        sl_stream_window_t hop = {
            .kind = SL_STREAM_HOPPING, .size_ms = Q5_SIZE_MS, .advance_ms = Q5_HOP_MS};
        /* A hopping window's result carries end - 1: the windows ending in one Q5_HOP_MS slice
         * are the ones starting at one window start, so a tumbling window of Q5_HOP_MS holds
         * all the per-auction counts of one hopping window. */
        sl_stream_window_t slice = {.kind = SL_STREAM_TUMBLING, .size_ms = Q5_HOP_MS};
        sl_stream_node_t *counts = sl_stream_aggregate(bids, "q5-count", &hop, &count);
        sl_stream_node_t *per_window = sl_stream_rekey(counts, "q5-by-window", by_start, NULL);
        sl_stream_to(sl_stream_aggregate(per_window, "q5-max", &slice, &max), out);
    } else if (strcmp(q, "q7") == 0) {
        static const sl_stream_agg_t local = {sizeof(top_t), q7_step, NULL, q7_out, NULL};
        static const sl_stream_agg_t global = {sizeof(top_t), q7_step, NULL, q7_out, &step2};
        sl_stream_window_t w = {.kind = SL_STREAM_TUMBLING, .size_ms = Q7_SIZE_MS};
        sl_stream_node_t *tops = sl_stream_aggregate(bids, "q7-local", &w, &local);
        sl_stream_node_t *per_window = sl_stream_rekey(tops, "q7-by-window", NULL, NULL);
        sl_stream_to(sl_stream_aggregate(per_window, "q7-max", &w, &global), out);
    } else {
        fprintf(stderr, "nexmark.so: QUERY must be q0, q1, q2, q3, q5 or q7 (got \"%s\")\n", q);
        return SL_ERR_INVAL;
    }
    return SL_OK;
}

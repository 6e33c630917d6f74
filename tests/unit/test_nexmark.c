/* test_nexmark.c -- the Nexmark generator (src/bench/nexmark.h): the 1:3:46 mix with ids from
 * 1000, event time advancing at the event rate, repeatable per seed, every event a JSON object
 * with Nexmark's fields, and bids pointing at auctions and people that exist (or shortly will). */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "bench/nexmark.h"
#include "harness.h"

static json_t *event(const sl_nexmark_gen_t *g, uint64_t n, sl_nexmark_event_t *ev) {
    char buf[SL_NEXMARK_MAX_BYTES];
    sl_nexmark_event(g, n, buf, sizeof buf, ev);
    if (ev->len != strlen(buf)) {
        return NULL;
    }
    return json_loadb(buf, ev->len, 0, NULL);
}

static long long num(json_t *o, const char *f) {
    json_t *v = json_object_get(o, f);
    return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

TEST(nexmark_mix_ids_and_time) {
    sl_nexmark_gen_t g = {7, 1000000, 10000};
    long long types[3] = {0}, next_person = 1000, next_auction = 1000;
    for (uint64_t n = 0; n < 5000; n++) {
        sl_nexmark_event_t ev;
        json_t *o = event(&g, n, &ev);
        CHECK(o != NULL);
        CHECK_EQ_INT(num(o, "event_type"), (int)ev.type);
        CHECK_EQ_INT(num(o, "dateTime"), 1000000 + (long long)n / 10); /* 10 events per ms */
        CHECK_EQ_INT(ev.date_time, num(o, "dateTime"));
        types[ev.type]++;
        if (ev.type == SL_NEXMARK_PERSON) {
            CHECK_EQ_INT(num(o, "id"), next_person++);
            CHECK(json_is_string(json_object_get(o, "state")));
            CHECK(json_is_string(json_object_get(o, "creditCard")));
            CHECK(ev.len >= 200);
        } else if (ev.type == SL_NEXMARK_AUCTION) {
            CHECK_EQ_INT(num(o, "id"), next_auction++);
            CHECK(num(o, "seller") >= 1000 && num(o, "seller") < next_person + 10);
            CHECK(num(o, "category") >= 10 && num(o, "category") <= 14);
            CHECK(num(o, "expires") > num(o, "dateTime"));
            CHECK(num(o, "reserve") > num(o, "initialBid"));
            CHECK(ev.len >= 500);
        } else {
            CHECK(num(o, "auction") >= 1000 && num(o, "auction") < next_auction + 10);
            CHECK(num(o, "bidder") >= 1000 && num(o, "bidder") < next_person + 10);
            CHECK(num(o, "price") >= 100 && num(o, "price") <= 100000000);
            CHECK(json_is_string(json_object_get(o, "url")));
        }
        CHECK_EQ_INT(ev.key, num(o, ev.type == SL_NEXMARK_BID ? "auction" : "id"));
        json_decref(o);
    }
    CHECK_EQ_INT(types[0], 100);
    CHECK_EQ_INT(types[1], 300);
    CHECK_EQ_INT(types[2], 4600);
}

TEST(nexmark_repeatable_and_hot) {
    sl_nexmark_gen_t a = {1, 0, 10000}, b = {1, 0, 10000}, c = {2, 0, 10000};
    char x[SL_NEXMARK_MAX_BYTES], y[SL_NEXMARK_MAX_BYTES];
    int same_as_other_seed = 0, hot = 0, bids = 0;
    for (uint64_t n = 20000; n < 25000; n++) {
        sl_nexmark_event_t e1, e2;
        sl_nexmark_event(&a, n, x, sizeof x, &e1);
        sl_nexmark_event(&b, n, y, sizeof y, &e2);
        CHECK(e1.len == e2.len && memcmp(x, y, e1.len) == 0);
        sl_nexmark_event(&c, n, y, sizeof y, &e2);
        same_as_other_seed += e1.len == e2.len && memcmp(x, y, e1.len) == 0;
        if (e1.type == SL_NEXMARK_BID) {
            bids++;
            hot += e1.key % 100 == 0; /* the hot auction: the latest id rounded down to 100 */
        }
    }
    CHECK_EQ_INT(same_as_other_seed, 0);
    CHECK(hot > bids * 2 / 5 && hot < bids * 3 / 5); /* half the bids, hot auction ratio 2 */
}

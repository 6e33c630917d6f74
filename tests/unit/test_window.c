/* test_window.c -- window assignment against a brute-force reference (negative times, offsets,
 * hopping ratios), pane width, spec checks, and session merging against sessions recomputed from
 * scratch over random arrival orders. */
#include <stdlib.h>

#include "harness.h"
#include "stream/window.h"

TEST(spec_checks) {
    const char *why;
    sl_win_spec_t t = {.kind = SL_WIN_TUMBLING, .size_ms = 1000};
    CHECK(sl_win_check(&t, &why) == SL_OK);
    CHECK_EQ_INT(t.advance_ms, 1000);
    sl_win_spec_t h = {.kind = SL_WIN_HOPPING, .size_ms = 1000, .advance_ms = 2000};
    CHECK(sl_win_check(&h, &why) == SL_ERR_INVAL && why);
    sl_win_spec_t z = {.kind = SL_WIN_HOPPING, .size_ms = 0, .advance_ms = 0};
    CHECK(sl_win_check(&z, &why) == SL_ERR_INVAL);
    sl_win_spec_t many = {.kind = SL_WIN_HOPPING, .size_ms = 86400000, .advance_ms = 1000};
    CHECK(sl_win_check(&many, &why) == SL_ERR_INVAL); /* 86,400 windows per record */
    sl_win_spec_t off = {.kind = SL_WIN_TUMBLING, .size_ms = 1000, .offset_ms = 1000};
    CHECK(sl_win_check(&off, &why) == SL_ERR_INVAL);
    sl_win_spec_t s = {.kind = SL_WIN_SESSION, .gap_ms = 0};
    CHECK(sl_win_check(&s, &why) == SL_ERR_INVAL);
    s.gap_ms = 5;
    CHECK(sl_win_check(&s, &why) == SL_OK);
}

TEST(tumbling_edges) {
    const char *why;
    sl_win_spec_t w = {.kind = SL_WIN_TUMBLING, .size_ms = 10};
    CHECK(sl_win_check(&w, &why) == SL_OK);
    int64_t s[4];
    CHECK_EQ_INT(sl_win_assign(&w, 0, s, 4), 1);
    CHECK_EQ_INT(s[0], 0);
    CHECK_EQ_INT(sl_win_assign(&w, 9, s, 4), 1);
    CHECK_EQ_INT(s[0], 0); /* [0, 10) holds 9 */
    CHECK_EQ_INT(sl_win_assign(&w, 10, s, 4), 1);
    CHECK_EQ_INT(s[0], 10);
    CHECK_EQ_INT(sl_win_assign(&w, -1, s, 4), 1);
    CHECK_EQ_INT(s[0], -10); /* floor, not truncation */
    w.offset_ms = 3;
    CHECK_EQ_INT(sl_win_assign(&w, 2, s, 4), 1);
    CHECK_EQ_INT(s[0], -7);
}

/* Every aligned window holding ts, found by scanning all starts near ts. */
static size_t brute(const sl_win_spec_t *w, int64_t ts, int64_t *out) {
    size_t n = 0;
    for (int64_t s = ts - w->size_ms - 2 * w->advance_ms; s <= ts + w->advance_ms; s++) {
        bool aligned =
            sl_win_floor_div(s - w->offset_ms, w->advance_ms) * w->advance_ms == s - w->offset_ms;
        if (aligned && s <= ts && ts < s + w->size_ms) {
            out[n++] = s;
        }
    }
    return n;
}

TEST(hopping_matches_brute_force) {
    const char *why;
    int64_t got[64], want[256];
    for (int iter = 0; iter < 3000; iter++) {
        int64_t adv = 1 + (int64_t)(sl_test_rand() % 20);
        int64_t size = adv * (1 + (int64_t)(sl_test_rand() % 6)) + (int64_t)(sl_test_rand() % adv);
        sl_win_spec_t w = {.kind = SL_WIN_HOPPING,
                           .size_ms = size,
                           .advance_ms = adv,
                           .offset_ms = (int64_t)(sl_test_rand() % (uint64_t)adv)};
        CHECK(sl_win_check(&w, &why) == SL_OK);
        int64_t ts = (int64_t)(sl_test_rand() % 2001) - 1000;
        size_t n = sl_win_assign(&w, ts, got, 64);
        size_t m = brute(&w, ts, want);
        CHECK_EQ_INT(n, m);
        for (size_t i = 0; i < n; i++) {
            CHECK_EQ_INT(got[i], want[i]);
        }
    }
    sl_win_spec_t w = {.kind = SL_WIN_HOPPING, .size_ms = 10000, .advance_ms = 4000};
    CHECK(sl_win_check(&w, &why) == SL_OK);
    CHECK_EQ_INT(sl_win_pane_ms(&w), 2000);
}

/* Sessions of a set of timestamps: sort, split where consecutive times are more than gap apart. */
static size_t reference_sessions(int64_t *ts, size_t n, int64_t gap, sl_session_t *out) {
    for (size_t i = 1; i < n; i++) { /* insertion sort: n is small */
        int64_t v = ts[i];
        size_t j = i;
        while (j > 0 && ts[j - 1] > v) {
            ts[j] = ts[j - 1];
            j--;
        }
        ts[j] = v;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (k > 0 && ts[i] - out[k - 1].end <= gap) {
            out[k - 1].end = ts[i];
        } else {
            out[k++] = (sl_session_t){ts[i], ts[i], 0};
        }
    }
    return k;
}

TEST(sessions_match_reference_in_any_order) {
    for (int iter = 0; iter < 500; iter++) {
        int64_t gap = 1 + (int64_t)(sl_test_rand() % 10);
        size_t n = 1 + sl_test_rand() % 60;
        int64_t ts[64], copy[64];
        sl_session_list_t l = {0};
        uint64_t next_slot = 1;
        /* Accumulator per slot: how many records it holds; merges add up. */
        int count[128] = {0};
        for (size_t i = 0; i < n; i++) {
            ts[i] = (int64_t)(sl_test_rand() % 200) - 50;
            copy[i] = ts[i];
            sl_session_merge_t m;
            sl_session_insert(&l, ts[i], gap, next_slot, &m);
            if (m.created) {
                next_slot++;
            }
            count[l.v[m.at].slot]++;
            if (m.bridged) {
                count[l.v[m.at].slot] += count[m.absorbed.slot];
                count[m.absorbed.slot] = 0;
            }
            for (size_t k = 1; k < l.n; k++) { /* invariant: sorted and more than gap apart */
                CHECK(l.v[k].start - l.v[k - 1].end > gap);
            }
        }
        sl_session_t want[64];
        size_t m = reference_sessions(copy, n, gap, want);
        CHECK_EQ_INT(l.n, m);
        int total = 0;
        for (size_t k = 0; k < m; k++) {
            CHECK_EQ_INT(l.v[k].start, want[k].start);
            CHECK_EQ_INT(l.v[k].end, want[k].end);
            total += count[l.v[k].slot];
        }
        CHECK_EQ_INT(total, (int)n); /* no record lost or counted twice across merges */
        sl_session_list_free(&l);
    }
}

static void count_closed(const sl_session_t *s, void *arg) {
    (void)s;
    (*(int *)arg)++;
}

TEST(sessions_expire_past_gap_and_retention) {
    sl_session_list_t l = {0};
    sl_session_merge_t m;
    sl_session_insert(&l, 0, 5, 1, &m);
    sl_session_insert(&l, 3, 5, 2, &m);
    CHECK(!m.created);
    sl_session_insert(&l, 20, 5, 3, &m);
    CHECK(m.created);
    sl_session_insert(&l, 15, 5, 4, &m); /* within 5 of 20, not of 3: joins the later one */
    CHECK(!m.created && l.v[m.at].start == 15);
    sl_session_insert(&l, 12, 5, 4, &m);
    CHECK(!m.created && l.v[m.at].start == 12 && l.n == 2);
    sl_session_insert(&l, 8, 5, 5, &m); /* within 5 of both: bridges [0,3] and [12,20] */
    CHECK(m.bridged && m.absorbed.slot == 3 && l.n == 1);
    CHECK_EQ_INT(l.v[0].end, 20);
    int closed = 0;
    CHECK_EQ_INT(sl_session_expire(&l, 26, 5, 2, count_closed, &closed), 0); /* 20+5+2 > 26 */
    CHECK_EQ_INT(sl_session_expire(&l, 27, 5, 2, count_closed, &closed), 1);
    CHECK_EQ_INT(closed, 1);
    CHECK_EQ_INT(l.n, 0);
    sl_session_list_free(&l);
}

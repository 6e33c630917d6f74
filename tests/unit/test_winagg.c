/* test_winagg.c -- windowed aggregation: tumbling counts over a disordered stream equal a
 * reference computed separately, grace holds the single firing back, allowed lateness re-fires,
 * late records reach the late callback with their reason, a hopping record still fits its open
 * windows, changes mode emits every update, session merges retract what they replace, and abort +
 * rebuild returns to the committed windows. */
#include <stdio.h>

#include "harness.h"
#include "stream/winagg.h"

typedef struct cnt {
    int64_t n, sum;
} cnt_t;

#define MAXR 4096
typedef struct result {
    sl_result_kind_t kind;
    char key[16];
    int64_t start, end, n, sum;
} result_t;

typedef struct sink {
    result_t r[MAXR];
    int n;
    int late;
    int64_t late_wm, late_end;
} sink_t;

static sink_t S;

static sl_err_t step(void *state, sl_bytes_t key, sl_bytes_t value, int64_t ts, void *user) {
    (void)key, (void)ts, (void)user;
    cnt_t *c = state;
    c->n++;
    c->sum += value.len;
    return SL_OK;
}

static void merge(void *into, const void *from, void *user) {
    (void)user;
    ((cnt_t *)into)->n += ((const cnt_t *)from)->n;
    ((cnt_t *)into)->sum += ((const cnt_t *)from)->sum;
}

static sl_err_t emit(sl_result_kind_t kind, sl_bytes_t key, int64_t start, int64_t end,
                     const void *state, void *user) {
    (void)user;
    if (S.n == MAXR) {
        return SL_ERR_LIMIT;
    }
    result_t *r = &S.r[S.n++];
    r->kind = kind;
    snprintf(r->key, sizeof r->key, "%.*s", (int)key.len, (const char *)key.p);
    r->start = start;
    r->end = end;
    r->n = state ? ((const cnt_t *)state)->n : -1;
    r->sum = state ? ((const cnt_t *)state)->sum : -1;
    return SL_OK;
}

static sl_err_t late(sl_bytes_t key, sl_bytes_t value, int64_t ts, int64_t wm, int64_t end,
                     void *user) {
    (void)key, (void)value, (void)ts, (void)user;
    S.late++;
    S.late_wm = wm;
    S.late_end = end;
    return SL_OK;
}

static const sl_winagg_ops_t OPS = {sizeof(cnt_t), step, merge, emit, late, NULL};

static sl_bytes_t B(const char *z) {
    return (sl_bytes_t){(const uint8_t *)z, strlen(z)};
}

/* Tumbling 100 ms windows, grace 30, disorder up to 80: the final counts per (key, window) equal
 * a separate computation that replays the same acceptance rule with a plain array. */
TEST(tumbling_final_matches_reference) {
    for (int iter = 0; iter < 20; iter++) {
        memset(&S, 0, sizeof S);
        sl_kv_t *kv = sl_kv_new();
        sl_winagg_conf_t c = {{SL_WIN_TUMBLING, 100, 0, 0, 0}, 30, 0, SL_EMIT_FINAL};
        const char *why;
        sl_winagg_t *a = sl_winagg_new(&c, &OPS, kv, &why);
        CHECK(a);
        int64_t ref[3][200] = {{0}}; /* key x window index (ts < 20,000) */
        int64_t max_ts = -1, delay = 50;
        int ref_late = 0;
        for (int i = 0; i < 2000; i++) {
            int64_t ts = (int64_t)i * 10 - (int64_t)(sl_test_rand() % 80);
            if (ts < 0) {
                ts = 0;
            }
            int k = (int)(sl_test_rand() % 3);
            char key[2] = {(char)('a' + k), 0};
            max_ts = SL_MAX(max_ts, ts);
            int64_t wm = max_ts - delay - 1;
            CHECK(sl_winagg_add(a, B(key), B("xy"), ts, wm) == SL_OK);
            CHECK(sl_winagg_advance(a, wm) == SL_OK);
            /* Reference: a window [s, s+100) takes records while wm < s + 99 + 30. */
            int64_t s = ts / 100 * 100;
            if (wm < s + 99 + 30) {
                ref[k][s / 100]++;
            } else {
                ref_late++;
            }
        }
        CHECK(sl_winagg_advance(a, INT64_MAX) == SL_OK);
        CHECK_EQ_INT(S.late, ref_late);
        CHECK_EQ_INT(sl_winagg_open(a), 0);
        CHECK_EQ_INT(sl_kv_count(kv), 0);
        int64_t got[3][200] = {{0}};
        int64_t prev_end = INT64_MIN;
        for (int i = 0; i < S.n; i++) {
            CHECK_EQ_INT(S.r[i].kind, SL_RESULT_FIRE);
            CHECK(got[S.r[i].key[0] - 'a'][S.r[i].start / 100] == 0); /* once per window */
            got[S.r[i].key[0] - 'a'][S.r[i].start / 100] = S.r[i].n;
            CHECK_EQ_INT(S.r[i].end - S.r[i].start, 100);
            CHECK(S.r[i].end >= prev_end); /* oldest result time first */
            prev_end = S.r[i].end;
        }
        CHECK(memcmp(got, ref, sizeof got) == 0);
        sl_winagg_free(a);
        sl_kv_free(kv);
    }
}

TEST(grace_lateness_and_late_records) {
    memset(&S, 0, sizeof S);
    sl_kv_t *kv = sl_kv_new();
    sl_winagg_conf_t c = {{SL_WIN_TUMBLING, 10, 0, 0, 0}, 5, 20, SL_EMIT_FINAL};
    const char *why;
    sl_winagg_t *a = sl_winagg_new(&c, &OPS, kv, &why);
    CHECK(a);
    CHECK(sl_winagg_add(a, B("k"), B("a"), 3, 0) == SL_OK);
    CHECK(sl_winagg_advance(a, 13) == SL_OK); /* result time 9 + grace 5 = 14: not yet */
    CHECK_EQ_INT(S.n, 0);
    CHECK(sl_winagg_advance(a, 14) == SL_OK);
    CHECK_EQ_INT(S.n, 1);
    CHECK_EQ_INT(S.r[0].kind, SL_RESULT_FIRE);
    CHECK_EQ_INT(S.r[0].n, 1);
    /* Within allowed lateness: a correction. */
    CHECK(sl_winagg_add(a, B("k"), B("b"), 7, 30) == SL_OK);
    CHECK_EQ_INT(S.n, 2);
    CHECK_EQ_INT(S.r[1].kind, SL_RESULT_UPDATE);
    CHECK_EQ_INT(S.r[1].n, 2);
    /* Past 9 + 5 + 20 = 34: retired; a record for it is late, with its reason. */
    CHECK(sl_winagg_advance(a, 34) == SL_OK);
    CHECK_EQ_INT(sl_winagg_open(a), 0);
    CHECK(sl_winagg_add(a, B("k"), B("c"), 8, 34) == SL_OK);
    CHECK_EQ_INT(S.late, 1);
    CHECK_EQ_INT(S.late_wm, 34);
    CHECK_EQ_INT(S.late_end, 10);
    CHECK_EQ_INT(S.n, 2);
    sl_winagg_free(a);
    sl_kv_free(kv);
}

TEST(hopping_partly_late_and_changes_mode) {
    memset(&S, 0, sizeof S);
    sl_kv_t *kv = sl_kv_new();
    sl_winagg_conf_t c = {{SL_WIN_HOPPING, 30, 10, 0, 0}, 0, 0, SL_EMIT_CHANGES};
    const char *why;
    sl_winagg_t *a = sl_winagg_new(&c, &OPS, kv, &why);
    CHECK(a);
    /* ts 25 is in [0,30), [10,40), [20,50); with wm 29 the first is retired (29 >= 29). */
    CHECK(sl_winagg_add(a, B("k"), B("a"), 25, 29) == SL_OK);
    CHECK_EQ_INT(S.late, 0);
    CHECK_EQ_INT(S.n, 2); /* changes: one result per window updated */
    CHECK_EQ_INT(S.r[0].start, 10);
    CHECK_EQ_INT(S.r[1].start, 20);
    CHECK(sl_winagg_add(a, B("k"), B("b"), 26, 29) == SL_OK);
    CHECK_EQ_INT(S.n, 4);
    CHECK_EQ_INT(S.r[3].n, 2);
    CHECK(sl_winagg_advance(a, 49) == SL_OK);
    CHECK_EQ_INT(S.n, 4); /* changes mode emits nothing more at retirement */
    CHECK_EQ_INT(sl_winagg_open(a), 0);
    sl_winagg_free(a);
    sl_kv_free(kv);
}

TEST(sessions_merge_and_retract) {
    memset(&S, 0, sizeof S);
    sl_kv_t *kv = sl_kv_new();
    sl_winagg_conf_t c = {{SL_WIN_SESSION, 0, 0, 10, 0}, 0, 100, SL_EMIT_FINAL};
    const char *why;
    CHECK(!sl_winagg_new(&c, &(sl_winagg_ops_t){sizeof(cnt_t), step, NULL, emit, late, NULL}, kv,
                         &why)); /* sessions need merge */
    sl_winagg_t *a = sl_winagg_new(&c, &OPS, kv, &why);
    CHECK(a);
    CHECK(sl_winagg_add(a, B("u"), B("a"), 0, -1) == SL_OK);
    CHECK(sl_winagg_add(a, B("u"), B("b"), 5, -1) == SL_OK);
    CHECK(sl_winagg_add(a, B("u"), B("c"), 22, -1) == SL_OK);
    CHECK(sl_winagg_add(a, B("v"), B("d"), 1, -1) == SL_OK);
    CHECK_EQ_INT(sl_winagg_open(a), 3);
    CHECK(sl_winagg_advance(a, 15) == SL_OK); /* [0,5] of u and [1,1] of v: last + gap <= 15 */
    CHECK_EQ_INT(S.n, 2);
    CHECK(!strcmp(S.r[0].key, "v")); /* result time 11 before u's 15 */
    CHECK_EQ_INT(S.r[1].start, 0);
    CHECK_EQ_INT(S.r[1].end, 5);
    CHECK_EQ_INT(S.r[1].n, 2);
    /* A late record within lateness bridges u's fired [0,5] and open [22,22]: the fired result is
     * retracted and the merged session re-fired as a correction. */
    CHECK(sl_winagg_add(a, B("u"), B("e"), 14, 15) == SL_OK);
    CHECK_EQ_INT(S.n, 4);
    CHECK_EQ_INT(S.r[2].kind, SL_RESULT_RETRACT);
    CHECK_EQ_INT(S.r[2].start, 0);
    CHECK_EQ_INT(S.r[2].end, 5);
    CHECK_EQ_INT(S.r[S.n - 1].kind, SL_RESULT_UPDATE);
    CHECK_EQ_INT(S.r[S.n - 1].start, 0);
    CHECK_EQ_INT(S.r[S.n - 1].end, 22);
    CHECK_EQ_INT(S.r[S.n - 1].n, 4);
    CHECK_EQ_INT(sl_winagg_open(a), 2);
    CHECK(sl_winagg_advance(a, INT64_MAX) == SL_OK);
    CHECK_EQ_INT(sl_winagg_open(a), 0);
    CHECK_EQ_INT(sl_kv_count(kv), 1); /* only the slot counter is left */
    sl_winagg_free(a);
    sl_kv_free(kv);
}

TEST(abort_and_rebuild_return_to_committed_windows) {
    memset(&S, 0, sizeof S);
    sl_kv_t *kv = sl_kv_new();
    sl_winagg_conf_t c = {{SL_WIN_TUMBLING, 10, 0, 0, 0}, 0, 0, SL_EMIT_FINAL};
    const char *why;
    sl_winagg_t *a = sl_winagg_new(&c, &OPS, kv, &why);
    CHECK(a);
    CHECK(sl_winagg_add(a, B("k"), B("a"), 1, -1) == SL_OK);
    CHECK(sl_kv_commit(kv) == SL_OK);
    CHECK(sl_winagg_add(a, B("k"), B("b"), 2, -1) == SL_OK);
    CHECK(sl_winagg_add(a, B("k"), B("c"), 15, -1) == SL_OK);
    CHECK_EQ_INT(sl_winagg_open(a), 2);
    sl_kv_abort(kv); /* the checkpoint's transaction failed */
    sl_winagg_rebuild(a);
    CHECK_EQ_INT(sl_winagg_open(a), 1);
    CHECK(sl_winagg_advance(a, INT64_MAX) == SL_OK);
    CHECK_EQ_INT(S.n, 1);
    CHECK_EQ_INT(S.r[0].n, 1);
    /* A fresh operator over the same store (a restart after restore) sees the same windows. */
    CHECK(sl_winagg_add(a, B("k"), B("d"), 25, 0) == SL_OK);
    CHECK(sl_kv_commit(kv) == SL_OK);
    sl_winagg_free(a);
    a = sl_winagg_new(&c, &OPS, kv, &why);
    CHECK_EQ_INT(sl_winagg_open(a), 1);
    CHECK(sl_winagg_advance(a, 29) == SL_OK);
    CHECK_EQ_INT(S.n, 2);
    CHECK_EQ_INT(S.r[1].start, 20);
    sl_winagg_free(a);
    sl_kv_free(kv);
}

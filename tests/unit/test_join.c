/* test_join.c -- joins: the table store (latest value per key, tombstones, null keys); the
 * windowed stream-stream join against a brute-force reference over a disordered stream (every
 * pair within the window exactly once, left/outer unmatched records alone at the window's close,
 * nothing before), through an abort and a rebuild; late records; expiry; and both joins run
 * through tasks built with stream.h (table updates do not emit, left joins see NULL, the window
 * join's state restored from its changelog records) with the builder's checks. */
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"
#include "stream/join.h"
#include "stream/task.h"

static sl_bytes_t B(const char *z) {
    return (sl_bytes_t){(const uint8_t *)z, strlen(z)};
}

/* ---- the table store ---- */

TEST(table_latest_value_and_tombstones) {
    sl_kv_t *kv = sl_kv_new();
    sl_bytes_t v;
    int64_t ts;
    CHECK(!sl_table_get(kv, B("u1"), &v, &ts));
    sl_table_apply(kv, B("u1"), B("alice"), 10);
    sl_table_apply(kv, B("u2"), B("bob"), 11);
    sl_table_apply(kv, B("u1"), B("alice2"), 12);
    CHECK(sl_table_get(kv, B("u1"), &v, &ts));
    CHECK(v.len == 6 && !memcmp(v.p, "alice2", 6) && ts == 12);
    sl_table_apply(kv, B("u1"), (sl_bytes_t){NULL, 0}, 13); /* tombstone */
    CHECK(!sl_table_get(kv, B("u1"), &v, &ts));
    CHECK(sl_table_get(kv, B("u2"), &v, &ts) && ts == 11);
    sl_table_apply(kv, (sl_bytes_t){NULL, 0}, B("x"), 14); /* null key: ignored */
    CHECK_EQ_INT(sl_kv_count(kv), 1);
    sl_table_apply(kv, B("u3"), B(""), 15); /* an empty value is a value, not a tombstone */
    CHECK(sl_table_get(kv, B("u3"), &v, &ts) && v.len == 0);
    sl_kv_free(kv);
}

/* ---- the windowed join against a reference ---- */

#define NREC 600
typedef struct jrec {
    int side, key;
    int64_t ts;
    int id;
} jrec_t;

typedef struct jsink {
    int pairs[NREC][NREC]; /* [left id][right id]: times emitted */
    int alone[NREC];       /* times an id was emitted unmatched */
    int n_late, n_emits;
    int64_t last_alone_wm_ok; /* 0 when an unmatched one came out before its window closed */
    int64_t wm;
    int64_t within, grace;
    jrec_t *recs;
} jsink_t;

static jsink_t J;

static int id_of(const sl_bytes_t *v) {
    char buf[16];
    snprintf(buf, sizeof buf, "%.*s", (int)v->len, (const char *)v->p);
    return atoi(buf);
}

static sl_err_t j_emit(sl_bytes_t key, const sl_bytes_t *left, int64_t lts, const sl_bytes_t *right,
                       int64_t rts, void *user) {
    (void)key, (void)user;
    J.n_emits++;
    if (left && right) {
        J.pairs[id_of(left)][id_of(right)]++;
    } else {
        int id = id_of(left ? left : right);
        int64_t ts = left ? lts : rts;
        J.alone[id]++;
        if (J.wm < ts + J.within + J.grace) {
            J.last_alone_wm_ok = 0;
        }
    }
    return SL_OK;
}

static sl_err_t j_late(int side, sl_bytes_t key, sl_bytes_t value, int64_t ts, int64_t wm,
                       void *user) {
    (void)side, (void)key, (void)value, (void)ts, (void)wm, (void)user;
    J.n_late++;
    return SL_OK;
}

static void add_rec(sl_wjoin_t *j, const jrec_t *r, int *failed) {
    char k[8], v[8];
    snprintf(k, sizeof k, "k%d", r->key);
    snprintf(v, sizeof v, "%d", r->id);
    if (sl_wjoin_add(j, r->side, B(k), B(v), r->ts, J.wm) != SL_OK) {
        *failed = 1;
    }
}

/* Records with ids 0..n, random side and key, times increasing by 0..9 ms with up to `disorder`
 * of disorder; the watermark is max ts - disorder - 1 (grace >= disorder: nothing is late). */
static void make_recs(jrec_t *recs, int n, int64_t disorder) {
    int64_t t = 1000;
    for (int i = 0; i < n; i++) {
        t += (int64_t)(sl_test_rand() % 10);
        recs[i] = (jrec_t){(int)(sl_test_rand() % 2), (int)(sl_test_rand() % 7),
                           t - (int64_t)(sl_test_rand() % (uint64_t)(disorder + 1)), i};
    }
}

static void run_kind(sl_wjoin_kind_t kind, int *sl_failed_) {
    static jrec_t recs[NREC];
    memset(&J, 0, sizeof J);
    J.within = 25;
    J.grace = 40;
    J.last_alone_wm_ok = 1;
    J.wm = INT64_MIN;
    const int64_t disorder = 40;
    make_recs(recs, NREC, disorder);
    sl_kv_t *kv = sl_kv_new();
    sl_wjoin_ops_t ops = {j_emit, j_late, NULL};
    const char *why;
    sl_wjoin_t *j = sl_wjoin_new(kind, J.within, J.grace, &ops, kv, &why);
    CHECK(j != NULL);
    int64_t max_ts = INT64_MIN;
    for (int i = 0; i < NREC; i++) {
        add_rec(j, &recs[i], sl_failed_);
        max_ts = recs[i].ts > max_ts ? recs[i].ts : max_ts;
        if (i % 17 == 0) {
            J.wm = max_ts - disorder - 1;
            CHECK(sl_wjoin_advance(j, J.wm) == SL_OK);
        }
    }
    CHECK(J.n_late == 0);
    CHECK(sl_wjoin_buffered(j) > 0);
    J.wm = INT64_MAX - 1;
    CHECK(sl_wjoin_advance(j, J.wm) == SL_OK);
    CHECK_EQ_INT(sl_wjoin_buffered(j), 0);
    CHECK_EQ_INT(sl_kv_count(kv), 0);
    int want_pairs = 0;
    for (int a = 0; a < NREC; a++) {
        bool matched = false;
        for (int b = 0; b < NREC; b++) {
            const jrec_t *l = &recs[a], *r = &recs[b];
            int64_t d = l->ts > r->ts ? l->ts - r->ts : r->ts - l->ts;
            bool want = l->side == 0 && r->side == 1 && l->key == r->key && d <= J.within;
            if ((l->side == 0 && r->side == 1) || (l->side == 1 && r->side == 0)) {
                matched |= l->key == r->key && d <= J.within;
            }
            want_pairs += want;
            CHECK_EQ_INT(J.pairs[a][b], want ? 1 : 0);
        }
        bool alone =
            !matched && (recs[a].side == 0 ? kind != SL_WJOIN_INNER : kind == SL_WJOIN_OUTER);
        CHECK_EQ_INT(J.alone[a], alone ? 1 : 0);
    }
    CHECK(want_pairs > 50); /* the reference is not trivially empty */
    CHECK(J.last_alone_wm_ok == 1);
    sl_wjoin_free(j);
    sl_kv_free(kv);
}

TEST(window_join_inner_matches_reference_exactly_once) {
    run_kind(SL_WJOIN_INNER, sl_failed_);
}

TEST(window_join_left_emits_unmatched_left_at_close) {
    run_kind(SL_WJOIN_LEFT, sl_failed_);
}

TEST(window_join_outer_emits_both_unmatched_sides) {
    run_kind(SL_WJOIN_OUTER, sl_failed_);
}

TEST(window_join_unmatched_waits_for_the_watermark_and_late_records) {
    memset(&J, 0, sizeof J);
    J.within = 10;
    J.grace = 5;
    J.last_alone_wm_ok = 1;
    sl_kv_t *kv = sl_kv_new();
    sl_wjoin_ops_t ops = {j_emit, j_late, NULL};
    const char *why;
    sl_wjoin_t *j = sl_wjoin_new(SL_WJOIN_LEFT, J.within, J.grace, &ops, kv, &why);
    CHECK(j != NULL);
    J.wm = 0;
    CHECK(sl_wjoin_add(j, 0, B("a"), B("1"), 100, J.wm) == SL_OK);
    J.wm = 114; /* 100 + 10 + 5 = 115 closes it */
    CHECK(sl_wjoin_advance(j, J.wm) == SL_OK);
    CHECK_EQ_INT(J.n_emits, 0);
    CHECK(sl_wjoin_add(j, 1, B("a"), B("2"), 110, J.wm) == SL_OK); /* 110 + 5 > 114: in time */
    CHECK_EQ_INT(J.pairs[1][2], 1);
    J.wm = 115;
    CHECK(sl_wjoin_advance(j, J.wm) == SL_OK);
    CHECK_EQ_INT(J.alone[1], 0);                                   /* it matched: no lone result */
    CHECK(sl_wjoin_add(j, 1, B("a"), B("3"), 110, J.wm) == SL_OK); /* 110 + 5 <= 115: late */
    CHECK_EQ_INT(J.n_late, 1);
    CHECK_EQ_INT(J.pairs[1][3], 0);
    CHECK(sl_wjoin_add(j, 0, B("b"), B("4"), 200, J.wm) == SL_OK);
    J.wm = 214;
    CHECK(sl_wjoin_advance(j, J.wm) == SL_OK);
    CHECK_EQ_INT(J.alone[4], 0);
    J.wm = 215;
    CHECK(sl_wjoin_advance(j, J.wm) == SL_OK);
    CHECK_EQ_INT(J.alone[4], 1);
    CHECK(J.last_alone_wm_ok == 1);
    J.wm = 100000;
    CHECK(sl_wjoin_advance(j, J.wm) == SL_OK);
    CHECK_EQ_INT(sl_wjoin_buffered(j), 0);
    CHECK_EQ_INT(sl_kv_count(kv), 0); /* expired buffers leave nothing behind */
    const char *w2;
    CHECK(sl_wjoin_new(SL_WJOIN_INNER, -1, 0, &ops, kv, &w2) == NULL);
    sl_wjoin_free(j);
    sl_kv_free(kv);
}

/* An abort goes back to the committed buffers; replaying the aborted records then gives every
 * pair once, counting only what the committed "transactions" emitted. */
TEST(window_join_abort_and_rebuild_keep_exactly_once) {
    static jrec_t recs[NREC];
    memset(&J, 0, sizeof J);
    J.within = 30;
    J.grace = 50;
    J.last_alone_wm_ok = 1;
    J.wm = INT64_MIN;
    make_recs(recs, NREC, 50);
    sl_kv_t *kv = sl_kv_new();
    sl_wjoin_ops_t ops = {j_emit, j_late, NULL};
    const char *why;
    sl_wjoin_t *j = sl_wjoin_new(SL_WJOIN_OUTER, J.within, J.grace, &ops, kv, &why);
    static int committed_pairs[NREC][NREC], committed_alone[NREC];
    memcpy(committed_pairs, J.pairs, sizeof J.pairs);
    memcpy(committed_alone, J.alone, sizeof J.alone);
    int64_t max_ts = INT64_MIN, wm_committed = J.wm, max_committed = max_ts;
    int i = 0, committed_at = 0, round = 0;
    while (i < NREC) {
        int end = i + 40 < NREC ? i + 40 : NREC;
        for (; i < end; i++) {
            add_rec(j, &recs[i], sl_failed_);
            max_ts = recs[i].ts > max_ts ? recs[i].ts : max_ts;
        }
        J.wm = max_ts - 51;
        CHECK(sl_wjoin_advance(j, J.wm) == SL_OK);
        if (++round % 3 == 0) { /* abort: back to the last commit, replay from there */
            sl_kv_abort(kv);
            sl_wjoin_rebuild(j);
            memcpy(J.pairs, committed_pairs, sizeof J.pairs);
            memcpy(J.alone, committed_alone, sizeof J.alone);
            J.wm = wm_committed;
            max_ts = max_committed;
            i = committed_at;
            continue;
        }
        CHECK(sl_kv_commit(kv) == SL_OK);
        memcpy(committed_pairs, J.pairs, sizeof J.pairs);
        memcpy(committed_alone, J.alone, sizeof J.alone);
        wm_committed = J.wm;
        max_committed = max_ts;
        committed_at = i;
    }
    J.wm = INT64_MAX - 1;
    CHECK(sl_wjoin_advance(j, J.wm) == SL_OK);
    CHECK_EQ_INT(J.n_late, 0);
    for (int a = 0; a < NREC; a++) {
        bool matched = false;
        for (int b = 0; b < NREC; b++) {
            const jrec_t *l = &recs[a], *r = &recs[b];
            int64_t d = l->ts > r->ts ? l->ts - r->ts : r->ts - l->ts;
            bool m = l->key == r->key && d <= J.within && l->side != r->side;
            matched |= m;
            CHECK_EQ_INT(J.pairs[a][b], m && l->side == 0 ? 1 : 0);
        }
        CHECK_EQ_INT(J.alone[a], matched ? 0 : 1);
    }
    sl_wjoin_free(j);
    sl_kv_free(kv);
}

/* ---- through tasks ---- */

#define MAXOUT 256
typedef struct out {
    char topic[64], key[32], value[96];
} out_t;
static out_t OUT[MAXOUT];
static int N_OUT;

static sl_err_t collect(void *opaque, const char *topic, int32_t partition, sl_bytes_t key,
                        sl_bytes_t value, int64_t ts, const sl_stream_hdr_t *h, size_t nh,
                        const sl_stream_stage_t *stage) {
    (void)opaque, (void)partition, (void)ts, (void)h, (void)nh, (void)stage;
    if (N_OUT == MAXOUT) {
        return SL_ERR_IO;
    }
    out_t *o = &OUT[N_OUT++];
    snprintf(o->topic, sizeof o->topic, "%s", topic);
    snprintf(o->key, sizeof o->key, "%.*s", (int)key.len, key.p ? (const char *)key.p : "");
    snprintf(o->value, sizeof o->value, "%.*s", (int)value.len,
             value.p ? (const char *)value.p : "");
    return SL_OK;
}

/* "<left>+<right>", "-" for a missing side. */
static sl_err_t joiner(sl_stream_ctx_t *ctx, const sl_stream_rec_t *l, const sl_stream_rec_t *r,
                       void *user) {
    (void)user;
    char *buf = sl_stream_scratch(ctx, 96);
    int n = snprintf(buf, 96, "%.*s+%.*s", l ? (int)l->value.len : 1,
                     l ? (const char *)l->value.p : "-", r ? (int)r->value.len : 1,
                     r ? (const char *)r->value.p : "-");
    return sl_stream_emit(ctx, sl_stream_ctx_key(ctx),
                          (sl_bytes_t){(const uint8_t *)buf, (size_t)n});
}

static sl_stream_rec_t R(const char *key, const char *value, int64_t ts) {
    sl_stream_rec_t r = {B(key), value ? B(value) : (sl_bytes_t){NULL, 0}, ts, "t", 0, 0};
    return r;
}

static sl_stream_task_t *task_of(sl_stream_builder_t *b) {
    sl_stream_task_conf_t c = {"app", NULL, SL_STREAM_ON_ERROR_DEAD_LETTER, collect, NULL, NULL};
    return sl_stream_task_new(b, 0, 0, &c, 1);
}

static void table_join_kind(sl_stream_join_kind_t kind, int *sl_failed_) {
    sl_stream_builder_t *b = sl_stream_builder_new();
    sl_stream_node_t *events = sl_stream_source(b, "events", NULL);
    sl_stream_node_t *users = sl_stream_table(b, "users", NULL);
    sl_stream_to(sl_stream_join_table(events, users, "enrich", joiner, NULL, kind), "out");
    CHECK(sl_stream_graph_check(b) == NULL);
    CHECK_EQ_INT(b->n_subtopologies, 1);
    sl_stream_node_t *roots[4];
    CHECK_EQ_INT(sl_graph_roots(b, 0, roots, 4), 2);
    N_OUT = 0;
    sl_stream_task_t *t = task_of(b);
    sl_stream_rec_t r = R("u1", "alice", 1);
    CHECK(sl_stream_task_process(t, 1, &r, 1) == SL_OK); /* input 1: the table */
    CHECK_EQ_INT(N_OUT, 0);                              /* table updates do not emit */
    r = R("u1", "e1", 2);
    CHECK(sl_stream_task_process(t, 0, &r, 1) == SL_OK);
    r = R("u2", "e2", 3);
    CHECK(sl_stream_task_process(t, 0, &r, 1) == SL_OK);
    r = R("u1", "alice2", 4);
    CHECK(sl_stream_task_process(t, 1, &r, 1) == SL_OK);
    r = R("u1", "e3", 5);
    CHECK(sl_stream_task_process(t, 0, &r, 1) == SL_OK);
    r = R("u1", NULL, 6); /* tombstone */
    CHECK(sl_stream_task_process(t, 1, &r, 1) == SL_OK);
    r = R("u1", "e4", 7);
    CHECK(sl_stream_task_process(t, 0, &r, 1) == SL_OK);
    const char *want_inner[] = {"e1+alice", "e3+alice2"};
    const char *want_left[] = {"e1+alice", "e2+-", "e3+alice2", "e4+-"};
    const char **want = kind == SL_STREAM_JOIN_INNER ? want_inner : want_left;
    int n = kind == SL_STREAM_JOIN_INNER ? 2 : 4;
    CHECK_EQ_INT(N_OUT, n);
    for (int i = 0; i < n; i++) {
        CHECK(!strcmp(OUT[i].topic, "out"));
        CHECK(!strcmp(OUT[i].value, want[i]));
    }
    /* The table's rows reach its changelog; a new task restored from it sees them. */
    sl_stream_task_t *t2 = task_of(b);
    const char *stores[4];
    CHECK_EQ_INT(sl_stream_task_stores(t, stores, 4), 1);
    CHECK(!strcmp(stores[0], "users"));
    sl_stream_task_free(t);
    r = R("u2", "bob", 8);
    sl_kv_t *kv = sl_kv_new();
    sl_table_apply(kv, B("u2"), B("bob"), 8);
    sl_bytes_t v;
    CHECK(sl_kv_get(kv, B("Tu2"), &v));
    CHECK(sl_stream_task_restore(t2, "users", B("Tu2"), &v, 0) == SL_OK);
    CHECK(sl_stream_task_restored(t2) == SL_OK);
    N_OUT = 0;
    r = R("u2", "e5", 9);
    CHECK(sl_stream_task_process(t2, 0, &r, 1) == SL_OK);
    CHECK_EQ_INT(N_OUT, 1);
    CHECK(!strcmp(OUT[0].value, "e5+bob"));
    sl_kv_free(kv);
    sl_stream_task_free(t2);
    sl_stream_builder_free(b);
}

TEST(task_stream_table_inner_join) {
    table_join_kind(SL_STREAM_JOIN_INNER, sl_failed_);
}

TEST(task_stream_table_left_join) {
    table_join_kind(SL_STREAM_JOIN_LEFT, sl_failed_);
}

typedef struct change {
    char store[32];
    uint8_t key[64], val[256];
    size_t klen, vlen;
    bool del;
} change_t;
static change_t CH[256];
static int N_CH;

static void on_change(const char *store, sl_bytes_t key, const sl_bytes_t *val, void *arg) {
    (void)arg;
    if (N_CH == 256 || key.len > 64 || (val && val->len > 256)) {
        return;
    }
    change_t *c = &CH[N_CH++];
    snprintf(c->store, sizeof c->store, "%s", store);
    memcpy(c->key, key.p, key.len);
    c->klen = key.len;
    c->del = val == NULL;
    if (val) {
        memcpy(c->val, val->p, val->len);
        c->vlen = val->len;
    }
}

TEST(task_window_join_restores_from_changelog) {
    sl_stream_builder_t *b = sl_stream_builder_new();
    sl_stream_node_t *clicks = sl_stream_source(b, "clicks", NULL);
    sl_stream_node_t *views = sl_stream_source(b, "views", NULL);
    sl_stream_node_t *j =
        sl_stream_join_window(clicks, views, "cv", 10, 0, joiner, NULL, SL_STREAM_JOIN_LEFT);
    sl_stream_to(j, "out");
    CHECK(sl_stream_graph_check(b) == NULL);
    CHECK_EQ_INT(b->n_subtopologies, 1);
    N_OUT = 0;
    sl_stream_task_t *t = task_of(b);
    sl_stream_rec_t r = R("k", "c1", 100);
    CHECK(sl_stream_task_process(t, 0, &r, 1) == SL_OK);
    r = R("k", "v1", 105);
    CHECK(sl_stream_task_process(t, 1, &r, 1) == SL_OK);
    CHECK_EQ_INT(N_OUT, 1);
    CHECK(!strcmp(OUT[0].value, "c1+v1"));
    r = R("k", "c2", 130); /* no view within 10 ms (yet) */
    CHECK(sl_stream_task_process(t, 0, &r, 1) == SL_OK);
    CHECK(sl_stream_task_tick(t, 2) == SL_OK);
    /* Checkpoint: the changelog records; a new task restored from them goes on. */
    sl_stream_task_prepare_checkpoint(t);
    N_CH = 0;
    sl_stream_task_each_changed(t, on_change, NULL);
    CHECK(N_CH >= 2);
    CHECK(sl_stream_task_commit(t) == SL_OK);
    sl_stream_task_free(t);
    sl_stream_task_t *t2 = task_of(b);
    for (int i = 0; i < N_CH; i++) {
        sl_bytes_t v = {CH[i].val, CH[i].vlen};
        CHECK(sl_stream_task_restore(t2, CH[i].store, (sl_bytes_t){CH[i].key, CH[i].klen},
                                     CH[i].del ? NULL : &v, i) == SL_OK);
    }
    CHECK(sl_stream_task_restored(t2) == SL_OK);
    N_OUT = 0;
    r = R("k", "v2", 138); /* matches c2 (restored), not c1 */
    CHECK(sl_stream_task_process(t2, 1, &r, 1) == SL_OK);
    CHECK_EQ_INT(N_OUT, 1);
    CHECK(!strcmp(OUT[0].value, "c2+v2"));
    r = R("k", "c3", 300); /* moves both inputs' watermarks: 300 and 138 -> 137 */
    CHECK(sl_stream_task_process(t2, 0, &r, 1) == SL_OK);
    r = R("k", "v3", 400);
    CHECK(sl_stream_task_process(t2, 1, &r, 1) == SL_OK);
    CHECK(sl_stream_task_tick(t2, 3) == SL_OK); /* wm 299: c3 (300) stays, nothing else alone */
    CHECK_EQ_INT(N_OUT, 1);
    r = R("k", NULL, 301);
    r.key = (sl_bytes_t){NULL, 0}; /* a null key: dead-lettered, not joined */
    CHECK(sl_stream_task_process(t2, 0, &r, 1) == SL_OK);
    CHECK_EQ_INT(N_OUT, 2);
    CHECK(!strcmp(OUT[1].topic, "app-dlq"));
    r = R("k", "c4", 1000);
    CHECK(sl_stream_task_process(t2, 0, &r, 1) == SL_OK);
    r = R("k", "v4", 1000);
    CHECK(sl_stream_task_process(t2, 1, &r, 1) == SL_OK);
    CHECK(sl_stream_task_tick(t2, 4) == SL_OK); /* wm 999: c3 closes unmatched */
    CHECK_EQ_INT(N_OUT, 4);
    CHECK(!strcmp(OUT[2].value, "c4+v4"));
    CHECK(!strcmp(OUT[3].value, "c3+-"));
    sl_stream_task_free(t2);
    sl_stream_builder_free(b);
}

static sl_err_t pass(sl_stream_ctx_t *ctx, const sl_stream_rec_t *rec, void *user) {
    (void)user;
    return sl_stream_emit(ctx, rec->key, rec->value);
}

TEST(join_builder_checks) {
    sl_stream_builder_t *b = sl_stream_builder_new();
    sl_stream_node_t *ev = sl_stream_source(b, "events", NULL);
    sl_stream_node_t *m = sl_stream_map(ev, "m", pass, NULL);
    sl_stream_node_t *tab = sl_stream_table(b, "users", NULL);
    sl_stream_to(sl_stream_join_table(m, tab, "j", joiner, NULL, SL_STREAM_JOIN_INNER), "o");
    CHECK(sl_stream_graph_check(b) != NULL); /* after a map: the key may have changed */
    CHECK(strstr(sl_stream_graph_check(b), "rekey") != NULL);
    sl_stream_builder_free(b);

    b = sl_stream_builder_new();
    ev = sl_stream_source(b, "events", NULL);
    sl_stream_node_t *ev2 = sl_stream_source(b, "more", NULL);
    sl_stream_to(sl_stream_join_table(ev, ev2, "j", joiner, NULL, SL_STREAM_JOIN_INNER), "o");
    CHECK(sl_stream_graph_check(b) != NULL); /* the second input must be a table */
    sl_stream_builder_free(b);

    b = sl_stream_builder_new();
    ev = sl_stream_source(b, "events", NULL);
    sl_stream_to(ev, "o");
    (void)sl_stream_table(b, "users", NULL);
    CHECK(sl_stream_graph_check(b) != NULL); /* a table nobody joins */
    CHECK(strstr(sl_stream_graph_check(b), "not joined") != NULL);
    sl_stream_builder_free(b);

    b = sl_stream_builder_new();
    ev = sl_stream_source(b, "events", NULL);
    ev2 = sl_stream_source(b, "more", NULL);
    sl_stream_to(sl_stream_join_window(ev, ev2, "j", -5, 0, joiner, NULL, SL_STREAM_JOIN_OUTER),
                 "o");
    CHECK(sl_stream_graph_check(b) != NULL); /* negative window */
    sl_stream_builder_free(b);

    /* Three sources, the last two joined: sub-topologies stay numbered without gaps. */
    b = sl_stream_builder_new();
    sl_stream_to(sl_stream_source(b, "a", NULL), "oa");
    ev = sl_stream_source(b, "b", NULL);
    ev2 = sl_stream_source(b, "c", NULL);
    sl_stream_to(sl_stream_join_window(ev, ev2, "j", 5, 0, joiner, NULL, SL_STREAM_JOIN_INNER),
                 "o");
    CHECK(sl_stream_graph_check(b) == NULL);
    CHECK_EQ_INT(b->n_subtopologies, 2);
    sl_stream_node_t *roots[4];
    CHECK_EQ_INT(sl_graph_roots(b, 0, roots, 4), 1);
    CHECK_EQ_INT(sl_graph_roots(b, 1, roots, 4), 2);
    sl_stream_builder_free(b);
}

/* A table input holds no time back: the task's watermark follows its streams alone, so a
 * windowed node after a stream-table join fires although the table is quiet. */
TEST(task_table_input_does_not_hold_the_watermark) {
    sl_stream_builder_t *b = sl_stream_builder_new();
    sl_stream_node_t *tab = sl_stream_table(b, "users", NULL);
    sl_stream_node_t *ev = sl_stream_source(b, "events", NULL);
    sl_stream_to(sl_stream_join_table(ev, tab, "enrich", joiner, NULL, SL_STREAM_JOIN_LEFT), "o");
    CHECK(sl_stream_graph_check(b) == NULL);
    sl_stream_task_t *t = task_of(b);
    N_OUT = 0;
    sl_stream_rec_t r = R("u1", "e1", 100);
    CHECK(sl_stream_task_process(t, 1, &r, 1) == SL_OK); /* input 1: the stream (declared 2nd) */
    CHECK(sl_stream_task_tick(t, 2) == SL_OK);
    CHECK_EQ_INT(sl_stream_task_watermark(t), 99);
    CHECK_EQ_INT(N_OUT, 1);
    CHECK(!strcmp(OUT[0].value, "e1+-"));
    sl_stream_task_free(t);
    sl_stream_builder_free(b);
}

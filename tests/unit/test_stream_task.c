/* test_stream_task.c -- pipelines built with stream.h run through tasks with no broker: word count
 * across a repartition topic, per-user tumbling counts with late records routed to the late topic,
 * dead-lettering with its headers (and skip / fail), abort rolling state back, state restored from
 * the changelog records, and the builder's checks. */
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"
#include "stream/task.h"
#include "stream/watermark.h"

#define MAXOUT 512
/* An upstream task id as sl_stream_task_marker takes it. */
#define UP(id) (id)
typedef struct out {
    char topic[64], key[32], value[64];
    bool null_value;
    int64_t ts;
    char hdr[5][2][64];
    size_t n_hdrs;
    bool has_stage;
    sl_stream_stage_t stage;
} out_t;

static out_t OUT[MAXOUT];
static int N_OUT;
static bool FAIL_WRITES;

static void copy(char *dst, size_t cap, sl_bytes_t b) {
    snprintf(dst, cap, "%.*s", (int)b.len, b.p ? (const char *)b.p : "");
}

static sl_err_t collect(void *opaque, const char *topic, int32_t partition, sl_bytes_t key,
                        sl_bytes_t value, int64_t ts, const sl_stream_hdr_t *h, size_t nh,
                        const sl_stream_stage_t *stage) {
    (void)opaque, (void)partition;
    if (FAIL_WRITES || N_OUT == MAXOUT) {
        return SL_ERR_IO;
    }
    out_t *o = &OUT[N_OUT++];
    memset(o, 0, sizeof *o);
    snprintf(o->topic, sizeof o->topic, "%s", topic);
    copy(o->key, sizeof o->key, key);
    copy(o->value, sizeof o->value, value);
    o->null_value = value.p == NULL;
    o->ts = ts;
    for (size_t i = 0; i < nh && i < 5; i++) {
        snprintf(o->hdr[i][0], 64, "%s", h[i].name);
        copy(o->hdr[i][1], 64, h[i].value);
    }
    o->n_hdrs = nh;
    if ((o->has_stage = stage != NULL)) {
        o->stage = *stage;
    }
    return SL_OK;
}

static sl_bytes_t B(const char *z) {
    return (sl_bytes_t){(const uint8_t *)z, strlen(z)};
}

static const char *hdr(const out_t *o, const char *name) {
    for (size_t i = 0; i < o->n_hdrs && i < 5; i++) {
        if (!strcmp(o->hdr[i][0], name)) {
            return o->hdr[i][1];
        }
    }
    return NULL;
}

/* A sink record's stage times (the writer's metrics take them) say what its header says:
 * "in,recv,emit", or ",,emit" for a result fired by the watermark. */
static bool stage_matches_headers(const out_t *o) {
    const char *v = hdr(o, SL_STREAM_HDR_TS);
    char want[80];
    if (!o->has_stage || !v) {
        return false;
    }
    if (o->stage.recv_ms) {
        snprintf(want, sizeof want, "%lld,%lld,%lld", (long long)o->stage.in_ms,
                 (long long)o->stage.recv_ms, (long long)o->stage.emit_ms);
    } else {
        snprintf(want, sizeof want, ",,%lld", (long long)o->stage.emit_ms);
    }
    return !strcmp(v, want);
}

/* ---- word count ---- */

static sl_err_t split(sl_stream_ctx_t *ctx, const sl_stream_rec_t *rec, void *user) {
    (void)user;
    const uint8_t *p = rec->value.p, *end = p + rec->value.len;
    while (p < end) {
        sl_bytes_t w = {p, 0};
        while (p < end && *p != ' ') {
            p++;
            w.len++;
        }
        p += p < end;
        if (w.len == 3 && !memcmp(w.p, "bad", 3)) {
            return sl_stream_fail(ctx, "the word 'bad'");
        }
        if (w.len) {
            sl_err_t err = sl_stream_emit(ctx, w, w);
            if (err != SL_OK) {
                return err;
            }
        }
    }
    return SL_OK;
}

typedef struct count {
    int64_t n;
} count_t;

static sl_err_t count_step(sl_stream_ctx_t *ctx, void *state, const sl_stream_rec_t *rec,
                           void *user) {
    (void)ctx, (void)rec, (void)user;
    ((count_t *)state)->n++;
    return SL_OK;
}

static void count_merge(void *into, const void *from, void *user) {
    (void)user;
    ((count_t *)into)->n += ((const count_t *)from)->n;
}

static sl_err_t count_result(sl_stream_ctx_t *ctx, const void *state, void *user) {
    (void)user;
    char *out = sl_stream_scratch(ctx, 64);
    int64_t s, e;
    sl_stream_window_bounds(ctx, &s, &e);
    int n = snprintf(out, 64, "%lld@%lld", (long long)((const count_t *)state)->n, (long long)s);
    return sl_stream_emit(ctx, sl_stream_ctx_key(ctx),
                          (sl_bytes_t){(const uint8_t *)out, (size_t)n});
}

static const sl_stream_agg_t COUNT = {sizeof(count_t), count_step, count_merge, count_result, NULL};

static sl_stream_builder_t *word_count(void) {
    sl_stream_builder_t *b = sl_stream_builder_new();
    sl_stream_node_t *words =
        sl_stream_map(sl_stream_source(b, "text", NULL), "split", split, NULL);
    sl_stream_node_t *counts =
        sl_stream_aggregate(sl_stream_rekey(words, "by-word", NULL, NULL), "counts", NULL, &COUNT);
    sl_stream_to(counts, "word-counts");
    return b;
}

static sl_stream_task_conf_t CONF = {"app", NULL, SL_STREAM_ON_ERROR_DEAD_LETTER, collect, NULL};

/* Feeds the repartition records written so far (from index `from`) to task t. */
static int feed_repartition(sl_stream_task_t *t, int from) {
    int end = N_OUT;
    for (int i = from; i < end; i++) {
        if (!strcmp(OUT[i].topic, "app-by-word-repartition")) {
            sl_stream_rec_t r = {B(OUT[i].key), B(OUT[i].value), OUT[i].ts, OUT[i].topic, 0, i};
            if (sl_stream_task_process(t, 0, &r, 0) != SL_OK) {
                return -1;
            }
        }
    }
    return end;
}

TEST(word_count_across_repartition) {
    N_OUT = 0;
    sl_stream_builder_t *b = word_count();
    CHECK(sl_stream_graph_check(b) == NULL);
    sl_stream_task_t *t0 = sl_stream_task_new(b, 0, 0, &CONF, 0);
    sl_stream_task_t *t1 = sl_stream_task_new(b, 1, 0, &CONF, 0);
    const char *lines[] = {"the cat", "the dog the end", "bad line here", "cat"};
    for (int i = 0; i < 4; i++) {
        sl_stream_rec_t r = {{NULL, 0}, B(lines[i]), 100 + i, "text", 3, 40 + i};
        CHECK(sl_stream_task_process(t0, 0, &r, 0) == SL_OK);
    }
    /* The bad line went to the dead-letter topic whole, with where it came from and why. */
    int dlq = -1;
    for (int i = 0; i < N_OUT; i++) {
        if (!strcmp(OUT[i].topic, "app-dlq")) {
            dlq = i;
        }
    }
    CHECK(dlq >= 0);
    CHECK(!strcmp(OUT[dlq].value, "bad line here"));
    CHECK(!strcmp(hdr(&OUT[dlq], "sluice.error"), "the word 'bad'"));
    CHECK(!strcmp(hdr(&OUT[dlq], "sluice.node"), "split"));
    CHECK(!strcmp(hdr(&OUT[dlq], "sluice.source.topic"), "text"));
    CHECK(!strcmp(hdr(&OUT[dlq], "sluice.source.partition"), "3"));
    CHECK(!strcmp(hdr(&OUT[dlq], "sluice.source.offset"), "42"));
    CHECK_EQ_INT(sl_stream_task_stats(t0)->dead_lettered, 1);
    int from = N_OUT;
    CHECK(feed_repartition(t1, 0) >= 0);
    /* Running counts: one result per update; the last per word is its total. */
    int the = 0, cat = 0;
    for (int i = from; i < N_OUT; i++) {
        CHECK(!strcmp(OUT[i].topic, "word-counts"));
        if (!strcmp(OUT[i].key, "the")) {
            the = atoi(OUT[i].value);
        }
        if (!strcmp(OUT[i].key, "cat")) {
            cat = atoi(OUT[i].value);
        }
    }
    CHECK_EQ_INT(the, 3);
    CHECK_EQ_INT(cat, 2);
    sl_stream_task_free(t0);
    sl_stream_task_free(t1);
    sl_stream_builder_free(b);
}

typedef struct cl {
    sl_stream_task_t *into;
    int n;
    bool failed;
} cl_t;

static void replay(const char *store, sl_bytes_t key, const sl_bytes_t *val, void *arg) {
    cl_t *c = arg;
    c->failed |= sl_stream_task_restore(c->into, store, key, val, c->n++) != SL_OK;
}

TEST(abort_rolls_back_and_changelog_restores) {
    N_OUT = 0;
    sl_stream_builder_t *b = word_count();
    CHECK(sl_stream_graph_check(b) == NULL);
    sl_stream_task_t *t1 = sl_stream_task_new(b, 1, 0, &CONF, 0);
    sl_stream_rec_t r = {B("w"), B("w"), 1, "app-by-word-repartition", 0, 0};
    CHECK(sl_stream_task_process(t1, 0, &r, 0) == SL_OK);
    CHECK(sl_stream_task_process(t1, 0, &r, 0) == SL_OK);
    /* The checkpoint: its changelog, then commit. A fresh task restores from it. */
    sl_stream_task_t *copy = sl_stream_task_new(b, 1, 0, &CONF, 0);
    cl_t c = {copy, 0, false};
    sl_stream_task_each_changed(t1, replay, &c);
    CHECK_EQ_INT(c.n, 1); /* one key touched twice: one changelog record */
    CHECK(!c.failed && sl_stream_task_restored(copy) == SL_OK);
    CHECK(sl_stream_task_commit(t1) == SL_OK);
    CHECK(sl_stream_task_process(t1, 0, &r, 0) == SL_OK); /* 3, then aborted */
    CHECK(!strcmp(OUT[N_OUT - 1].value, "3@0"));
    sl_stream_task_abort(t1);
    CHECK(sl_stream_task_process(t1, 0, &r, 0) == SL_OK);
    CHECK(!strcmp(OUT[N_OUT - 1].value, "3@0")); /* 2 committed + 1, not 4 */
    CHECK(sl_stream_task_process(copy, 0, &r, 0) == SL_OK);
    CHECK(!strcmp(OUT[N_OUT - 1].value, "3@0")); /* the restored copy agrees */
    sl_stream_task_free(copy);
    sl_stream_task_free(t1);
    sl_stream_builder_free(b);
}

/* ---- windows over event time from the record ---- */

static sl_err_t user_key(sl_stream_ctx_t *ctx, const sl_stream_rec_t *rec, void *user,
                         sl_bytes_t *key) {
    (void)ctx, (void)user;
    *key = (sl_bytes_t){rec->value.p, 1}; /* the value's first letter is the user */
    return SL_OK;
}

TEST(tumbling_counts_and_late_topic) {
    N_OUT = 0;
    sl_stream_builder_t *b = sl_stream_builder_new();
    sl_stream_source_opts_t so = {.watermark_delay_ms = 5, .idle_ms = 100};
    sl_stream_node_t *src = sl_stream_source(b, "clicks", &so);
    sl_stream_window_t w = {.kind = SL_STREAM_TUMBLING, .size_ms = 10, .grace_ms = 2};
    sl_stream_node_t *agg = sl_stream_aggregate(sl_stream_rekey(src, "by-user", user_key, NULL),
                                                "per-user", &w, &COUNT);
    sl_stream_late_topic(agg, "clicks-late");
    sl_stream_to(agg, "per-user-10ms");
    CHECK(sl_stream_graph_check(b) == NULL);
    sl_stream_task_t *t1 = sl_stream_task_new(b, 1, 0, &CONF, 0);
    int64_t ts[] = {1, 3, 12, 4, 25, 6, 40};
    const char *who[] = {"a", "a", "a", "b", "a", "a", "b"};
    for (int i = 0; i < 7; i++) {
        sl_stream_rec_t r = {B(who[i]), B(who[i]), ts[i], "app-by-user-repartition", 0, i};
        CHECK(sl_stream_task_process(t1, 0, &r, 0) == SL_OK);
        CHECK(sl_stream_task_tick(t1, 0) == SL_OK);
    }
    /* After ts 25 the watermark is 19: [0,10) fired at 9 + 2 = 11 (a:2, b:1); ts 6 is late. */
    int fired = 0, late = 0;
    for (int i = 0; i < N_OUT; i++) {
        if (!strcmp(OUT[i].topic, "per-user-10ms")) {
            fired++;
            CHECK(stage_matches_headers(&OUT[i])); /* fired by the watermark: emit time only */
            CHECK_EQ_INT(OUT[i].stage.recv_ms, 0);
            if (!strcmp(OUT[i].key, "a") && OUT[i].value[2] == '0') {
                CHECK(!strcmp(OUT[i].value, "2@0"));
            }
        } else if (!strcmp(OUT[i].topic, "clicks-late")) {
            late++;
            CHECK(!OUT[i].has_stage); /* not a sink record */
            CHECK(!strcmp(OUT[i].value, "a"));
            CHECK_EQ_INT(OUT[i].ts, 6);
            CHECK(!strcmp(hdr(&OUT[i], "sluice.watermark"), "19"));
            CHECK(!strcmp(hdr(&OUT[i], "sluice.window.end"), "10"));
        }
    }
    CHECK_EQ_INT(late, 1);
    CHECK_EQ_INT(fired, 4); /* [0,10) a and b, then at watermark 34 [10,20) and [20,30) of a */
    CHECK_EQ_INT(sl_stream_task_watermark(t1), 34);
    sl_stream_task_free(t1);
    sl_stream_builder_free(b);
}

TEST(on_error_skip_and_fail_and_write_failure) {
    sl_stream_builder_t *b = word_count();
    CHECK(sl_stream_graph_check(b) == NULL);
    sl_stream_task_conf_t skip = CONF, failc = CONF;
    skip.on_error = SL_STREAM_ON_ERROR_SKIP;
    failc.on_error = SL_STREAM_ON_ERROR_FAIL;
    sl_stream_rec_t bad = {{NULL, 0}, B("bad"), 1, "text", 0, 0};
    sl_stream_task_t *t = sl_stream_task_new(b, 0, 0, &skip, 0);
    N_OUT = 0;
    CHECK(sl_stream_task_process(t, 0, &bad, 0) == SL_OK);
    CHECK_EQ_INT(N_OUT, 0);
    CHECK_EQ_INT(sl_stream_task_stats(t)->skipped, 1);
    sl_stream_task_free(t);
    t = sl_stream_task_new(b, 0, 0, &failc, 0);
    CHECK(sl_stream_task_process(t, 0, &bad, 0) == SL_ERR_INVAL);
    sl_stream_task_free(t);
    /* A write that fails is not the record's fault: never dead-lettered, the task stops. */
    t = sl_stream_task_new(b, 0, 0, &CONF, 0);
    FAIL_WRITES = true;
    sl_stream_rec_t good = {{NULL, 0}, B("fine words"), 1, "text", 0, 1};
    CHECK(sl_stream_task_process(t, 0, &good, 0) == SL_ERR_IO);
    FAIL_WRITES = false;
    CHECK_EQ_INT(sl_stream_task_stats(t)->dead_lettered, 0);
    sl_stream_task_free(t);
    sl_stream_builder_free(b);
}

static sl_err_t noop(sl_stream_ctx_t *ctx, const sl_stream_rec_t *rec, void *user) {
    (void)ctx, (void)rec, (void)user;
    return SL_OK;
}

TEST(builder_checks) {
    sl_stream_builder_t *b = sl_stream_builder_new();
    sl_stream_node_t *m = sl_stream_map(sl_stream_source(b, "in", NULL), "m", noop, NULL);
    sl_stream_to(sl_stream_aggregate(m, "agg", NULL, &COUNT), "out");
    const char *e = sl_stream_graph_check(b);
    CHECK(e && strstr(e, "sl_stream_rekey")); /* keys may have changed: no state without rekey */
    sl_stream_builder_free(b);
    b = sl_stream_builder_new();
    sl_stream_map(sl_stream_source(b, "in", NULL), "m", noop, NULL);
    e = sl_stream_graph_check(b);
    CHECK(e && strstr(e, "no downstream"));
    sl_stream_builder_free(b);
    b = sl_stream_builder_new();
    sl_stream_node_t *s = sl_stream_source(b, "in", NULL);
    sl_stream_to(sl_stream_map(s, "x", noop, NULL), "o1");
    sl_stream_to(sl_stream_map(s, "x", noop, NULL), "o2");
    e = sl_stream_graph_check(b);
    CHECK(e && strstr(e, "two nodes are named 'x'"));
    sl_stream_builder_free(b);
    b = sl_stream_builder_new();
    sl_stream_window_t w = {.kind = SL_STREAM_SESSION, .gap_ms = 5};
    sl_stream_agg_t nomerge = COUNT;
    nomerge.merge = NULL;
    sl_stream_to(sl_stream_aggregate(sl_stream_source(b, "in", NULL), "s", &w, &nomerge), "o");
    e = sl_stream_graph_check(b);
    CHECK(e && strstr(e, "merge"));
    sl_stream_builder_free(b);
    b = sl_stream_builder_new();
    sl_stream_to(sl_stream_map(sl_stream_source(b, "in", NULL), "bad name!", noop, NULL), "o");
    e = sl_stream_graph_check(b);
    CHECK(e && strstr(e, "[a-zA-Z0-9._-]"));
    sl_stream_builder_free(b);
}

static int SEEN;
static sl_err_t seen(sl_stream_ctx_t *ctx, const sl_stream_rec_t *rec, void *user) {
    (void)ctx, (void)user;
    SEEN += rec->value.len == 2 && !memcmp(rec->value.p, "ok", 2);
    return SL_OK;
}

/* A foreach is a terminal node: the graph needs no sink after it, and it sees every record. */
TEST(foreach_is_terminal) {
    N_OUT = SEEN = 0;
    sl_stream_builder_t *b = sl_stream_builder_new();
    sl_stream_foreach(sl_stream_source(b, "in", NULL), "print", seen, NULL);
    CHECK(sl_stream_graph_check(b) == NULL);
    sl_stream_task_t *t = sl_stream_task_new(b, 0, 0, &CONF, 0);
    sl_stream_rec_t r = {B("k"), B("ok"), 1, "in", 0, 0};
    CHECK(sl_stream_task_process(t, 0, &r, 0) == SL_OK);
    CHECK(sl_stream_task_process(t, 0, &r, 0) == SL_OK);
    CHECK_EQ_INT(SEEN, 2);
    CHECK_EQ_INT(N_OUT, 0);
    sl_stream_task_free(t);
    sl_stream_builder_free(b);
}

/* The watermark is part of the checkpoint: a task restored from the changelog starts where the
 * old one was, so a replayed record for a window that already fired is late, not a second firing.
 */
TEST(watermark_travels_in_the_changelog) {
    N_OUT = 0;
    sl_stream_builder_t *b = sl_stream_builder_new();
    sl_stream_source_opts_t so = {.watermark_delay_ms = 0};
    sl_stream_window_t w = {.kind = SL_STREAM_TUMBLING, .size_ms = 10};
    sl_stream_to(sl_stream_aggregate(sl_stream_source(b, "in", &so), "win", &w, &COUNT), "out");
    CHECK(sl_stream_graph_check(b) == NULL);
    sl_stream_task_t *t = sl_stream_task_new(b, 0, 0, &CONF, 0);
    sl_stream_rec_t r = {B("k"), B("v"), 5, "in", 0, 0};
    CHECK(sl_stream_task_process(t, 0, &r, 0) == SL_OK);
    r.ts_ms = 25;
    CHECK(sl_stream_task_process(t, 0, &r, 0) == SL_OK);
    CHECK(sl_stream_task_tick(t, 0) == SL_OK);
    CHECK_EQ_INT(N_OUT, 1); /* [0,10) fired at watermark 24 */
    sl_stream_task_prepare_checkpoint(t);
    sl_stream_task_t *copy = sl_stream_task_new(b, 0, 0, &CONF, 0);
    cl_t c = {copy, 0, false};
    sl_stream_task_each_changed(t, replay, &c);
    CHECK(!c.failed && sl_stream_task_restored(copy) == SL_OK);
    CHECK_EQ_INT(sl_stream_task_watermark(copy), 24);
    r.ts_ms = 7; /* a replay of an older record: late, and [0,10) does not fire again */
    CHECK(sl_stream_task_process(copy, 0, &r, 0) == SL_OK);
    CHECK(sl_stream_task_tick(copy, 0) == SL_OK);
    CHECK_EQ_INT(N_OUT, 2);
    CHECK(!strcmp(OUT[1].topic, "app-win-late"));
    CHECK_EQ_INT(sl_stream_task_stats(copy)->late, 1);
    sl_stream_task_free(copy);
    sl_stream_task_free(t);
    sl_stream_builder_free(b);
}

/* One checkpoint of `t` as the lane runs it, its changelog also applied to a standby copy
 * (c->into), which the lane commits after each batch it applies. */
static bool checkpoint_to_copy(sl_stream_task_t *t, cl_t *c) {
    sl_stream_task_prepare_checkpoint(t);
    sl_stream_task_each_changed(t, replay, c);
    return sl_stream_task_commit(t) == SL_OK && sl_stream_task_commit(c->into) == SL_OK &&
           !c->failed;
}

/* A standby copy of a windowed task, fed checkpoint by checkpoint from the active task's
 * changelog, takes over: it fires the window the active task left open with the committed
 * records and its own, never fires a window again, and a replayed record of a fired window is
 * late (the watermark came with the state). */
TEST(standby_copy_of_a_windowed_task_takes_over) {
    N_OUT = 0;
    sl_stream_builder_t *b = sl_stream_builder_new();
    sl_stream_source_opts_t so = {.watermark_delay_ms = 0, .idle_ms = 1000};
    sl_stream_window_t w = {.kind = SL_STREAM_TUMBLING, .size_ms = 10};
    sl_stream_to(sl_stream_aggregate(sl_stream_source(b, "in", &so), "win", &w, &COUNT), "out");
    CHECK(sl_stream_graph_check(b) == NULL);
    sl_stream_task_t *t = sl_stream_task_new(b, 0, 0, &CONF, 0);
    sl_stream_task_t *copy = sl_stream_task_new(b, 0, 0, &CONF, 0);
    cl_t c = {copy, 0, false};
    int64_t first[] = {5, 25}, second[] = {27, 31};
    for (int i = 0; i < 2; i++) {
        sl_stream_rec_t r = {B("k"), B("v"), first[i], "in", 0, i};
        CHECK(sl_stream_task_process(t, 0, &r, 0) == SL_OK);
    }
    CHECK(sl_stream_task_tick(t, 0) == SL_OK); /* watermark 24: [0,10) fires */
    CHECK(checkpoint_to_copy(t, &c));
    for (int i = 0; i < 2; i++) {
        sl_stream_rec_t r = {B("k"), B("v"), second[i], "in", 0, 2 + i};
        CHECK(sl_stream_task_process(t, 0, &r, 0) == SL_OK);
    }
    CHECK(sl_stream_task_tick(t, 0) == SL_OK); /* watermark 30: [20,30) fires */
    CHECK(checkpoint_to_copy(t, &c));
    CHECK(!c.failed);
    CHECK_EQ_INT(N_OUT, 2);
    CHECK(!strcmp(OUT[0].value, "1@0") && !strcmp(OUT[1].value, "2@20"));
    sl_stream_rec_t lost = {B("k"), B("v"), 38, "in", 0, 4}; /* never committed: the active dies */
    CHECK(sl_stream_task_process(t, 0, &lost, 0) == SL_OK);
    /* The takeover, a minute after the copy was made. */
    CHECK(sl_stream_task_restored(copy) == SL_OK);
    sl_stream_task_resume(copy, 60000);
    CHECK_EQ_INT(sl_stream_task_watermark(copy), 30);
    int64_t after[] = {33, 21, 45};
    for (int i = 0; i < 3; i++) {
        sl_stream_rec_t r = {B("k"), B("v"), after[i], "in", 0, 4 + i};
        CHECK(sl_stream_task_process(copy, 0, &r, 60000) == SL_OK);
        CHECK(sl_stream_task_tick(copy, 60000) == SL_OK);
    }
    /* 21 is late for [20,30), fired before the takeover; 45 moves the watermark to 44 and
     * [30,40) fires with 31 (committed by the active task) and 33, not the lost 38. */
    CHECK_EQ_INT(N_OUT, 4);
    CHECK(!strcmp(OUT[2].topic, "app-win-late"));
    CHECK(!strcmp(OUT[3].topic, "out") && !strcmp(OUT[3].value, "2@30"));
    CHECK_EQ_INT(sl_stream_task_stats(copy)->late, 1);
    sl_stream_task_free(copy);
    sl_stream_task_free(t);
    sl_stream_builder_free(b);
}

/* Across a repartition topic the watermark comes from markers: the upstream task sends its
 * watermark to every partition; downstream takes the minimum over upstream tasks, and records'
 * own timestamps (the fastest upstream's) do not move it. */
TEST(watermark_markers_cross_the_repartition_topic) {
    N_OUT = 0;
    sl_stream_builder_t *b = sl_stream_builder_new();
    sl_stream_source_opts_t so = {.watermark_delay_ms = 10};
    sl_stream_window_t w = {.kind = SL_STREAM_TUMBLING, .size_ms = 100};
    sl_stream_node_t *rk = sl_stream_rekey(sl_stream_source(b, "in", &so), "rk", NULL, NULL);
    sl_stream_to(sl_stream_aggregate(rk, "win", &w, &COUNT), "out");
    CHECK(sl_stream_graph_check(b) == NULL);
    int32_t parts[2] = {2, 3}; /* "in" has 2 partitions, the repartition topic 3 */
    sl_stream_task_conf_t c = CONF;
    c.st_partitions = parts;
    sl_stream_task_t *up = sl_stream_task_new(b, 0, 1, &c, 0);
    sl_stream_rec_t r = {B("k"), B("v"), 500, "in", 1, 0};
    CHECK(sl_stream_task_process(up, 0, &r, 0) == SL_OK);
    CHECK(sl_stream_task_tick(up, 0) == SL_OK);
    int markers = 0;
    for (int i = 0; i < N_OUT; i++) {
        if (hdr(&OUT[i], SL_STREAM_HDR_WM)) {
            markers++;
            CHECK(!strcmp(OUT[i].topic, "app-rk-repartition"));
            CHECK(!strcmp(hdr(&OUT[i], SL_STREAM_HDR_WM), "489"));
            CHECK(!strcmp(hdr(&OUT[i], SL_STREAM_HDR_WM_TASK), "1"));
        }
    }
    CHECK_EQ_INT(markers, 3); /* one per partition of the repartition topic */
    CHECK(sl_stream_task_tick(up, 0) == SL_OK);
    CHECK_EQ_INT(N_OUT, 4); /* unchanged watermark: no new markers */
    sl_stream_task_t *down = sl_stream_task_new(b, 1, 0, &c, 0);
    sl_stream_rec_t d = {B("k"), B("v"), 5000, "app-rk-repartition", 0, 0};
    CHECK(sl_stream_task_process(down, 0, &d, 0) == SL_OK);
    CHECK(sl_stream_task_tick(down, 0) == SL_OK);
    CHECK_EQ_INT(sl_stream_task_watermark(down), SL_WM_NONE); /* records do not move it */
    sl_stream_task_marker(down, 0, "1", 489, false, 0);
    CHECK(sl_stream_task_tick(down, 0) == SL_OK);
    CHECK_EQ_INT(sl_stream_task_watermark(down), SL_WM_NONE); /* upstream task 0 not heard yet */
    sl_stream_task_marker(down, 0, "0", 150, false, 0);
    CHECK(sl_stream_task_tick(down, 0) == SL_OK);
    CHECK_EQ_INT(sl_stream_task_watermark(down), 150);
    sl_stream_task_marker(down, 0, "0", 0, true, 0); /* upstream 0 idle: only upstream 1 counts */
    CHECK(sl_stream_task_tick(down, 0) == SL_OK);
    CHECK_EQ_INT(sl_stream_task_watermark(down), 489);
    sl_stream_task_marker(down, 0, "7", 9999, false, 0); /* no such upstream task: ignored */
    CHECK(sl_stream_task_tick(down, 0) == SL_OK);
    CHECK_EQ_INT(sl_stream_task_watermark(down), 489);
    sl_stream_task_free(down);
    sl_stream_task_free(up);
    sl_stream_builder_free(b);
}

/* Windows fired by a new watermark reach a repartition topic before the marker carrying that
 * watermark: the downstream task would otherwise close the window first and find them late (a
 * two-step aggregate such as Nexmark q5/q7). */
TEST(fired_windows_precede_the_marker) {
    N_OUT = 0;
    sl_stream_builder_t *b = sl_stream_builder_new();
    sl_stream_source_opts_t so = {.watermark_delay_ms = 10};
    sl_stream_window_t w = {.kind = SL_STREAM_TUMBLING, .size_ms = 100};
    sl_stream_node_t *local = sl_stream_aggregate(sl_stream_source(b, "in", &so), "l", &w, &COUNT);
    sl_stream_node_t *rk = sl_stream_rekey(local, "rk", NULL, NULL);
    sl_stream_to(sl_stream_aggregate(rk, "g", &w, &COUNT), "out");
    CHECK(sl_stream_graph_check(b) == NULL);
    int32_t parts[2] = {1, 1};
    sl_stream_task_conf_t c = CONF;
    c.st_partitions = parts;
    sl_stream_task_t *up = sl_stream_task_new(b, 0, 0, &c, 0);
    sl_stream_rec_t r = {B("k"), B("v"), 50, "in", 0, 0};
    CHECK(sl_stream_task_process(up, 0, &r, 0) == SL_OK);
    CHECK(sl_stream_task_tick(up, 0) == SL_OK);
    int first = N_OUT;
    r.ts_ms = 500, r.offset = 1;
    CHECK(sl_stream_task_process(up, 0, &r, 0) == SL_OK);
    CHECK(sl_stream_task_tick(up, 0) == SL_OK); /* watermark 489: [0, 100) fires */
    int result = -1, marker = -1;
    for (int i = first; i < N_OUT; i++) {
        if (strcmp(OUT[i].topic, "app-rk-repartition") != 0) {
            continue;
        }
        if (hdr(&OUT[i], SL_STREAM_HDR_WM) && !strcmp(hdr(&OUT[i], SL_STREAM_HDR_WM), "489")) {
            marker = marker < 0 ? i : marker;
        } else if (!strcmp(OUT[i].value, "1@0")) {
            result = i;
        }
    }
    CHECK(result >= 0 && marker >= 0);
    CHECK(result < marker);
    sl_stream_task_free(up);
    sl_stream_builder_free(b);
}

static sl_err_t upper(sl_stream_ctx_t *ctx, const sl_stream_rec_t *rec, void *user) {
    (void)user;
    return sl_stream_emit(ctx, rec->key, rec->value);
}

/* Sink records carry the input's timestamp, when the engine received it and when it emitted. */
TEST(stage_time_headers) {
    N_OUT = 0;
    sl_stream_builder_t *b = sl_stream_builder_new();
    sl_stream_to(sl_stream_map(sl_stream_source(b, "in", NULL), "up", upper, NULL), "out");
    CHECK(sl_stream_graph_check(b) == NULL);
    sl_stream_task_t *t = sl_stream_task_new(b, 0, 0, &CONF, 0);
    sl_stream_rec_t r = {B("k"), B("v"), 100, "in", 0, 0};
    CHECK(sl_stream_task_process(t, 0, &r, 777) == SL_OK);
    CHECK_EQ_INT(N_OUT, 1);
    CHECK_EQ_INT(OUT[0].n_hdrs, 1);
    const char *v = hdr(&OUT[0], SL_STREAM_HDR_TS);
    CHECK(v && !strncmp(v, "100,777,", 8));
    CHECK(atoll(v + 8) > 1700000000000LL); /* the wall clock */
    CHECK(stage_matches_headers(&OUT[0]));
    sl_stream_task_free(t);
    sl_stream_builder_free(b);
}

/* With the caller's cached clock (conf.wall_ms) the emit time is that clock, never before the
 * receive time; times of any sign and width are written in plain decimal. */
TEST(stage_time_headers_from_the_cached_clock) {
    N_OUT = 0;
    sl_stream_builder_t *b = sl_stream_builder_new();
    sl_stream_to(sl_stream_map(sl_stream_source(b, "in", NULL), "up", upper, NULL), "out");
    CHECK(sl_stream_graph_check(b) == NULL);
    int64_t clock = 1800000000123LL;
    sl_stream_task_conf_t conf = CONF;
    conf.wall_ms = &clock;
    sl_stream_task_t *t = sl_stream_task_new(b, 0, 0, &conf, 0);
    sl_stream_rec_t r = {B("k"), B("v"), -1, "in", 0, 0};
    CHECK(sl_stream_task_process(t, 0, &r, 1800000000100ULL) == SL_OK);
    r.ts_ms = 9223372036854775807LL;
    CHECK(sl_stream_task_process(t, 0, &r, 1800000000200ULL) == SL_OK); /* clock behind recv */
    r.ts_ms = 0;
    clock = 1800000000300LL;
    CHECK(sl_stream_task_process(t, 0, &r, 1800000000300ULL) == SL_OK);
    CHECK(sl_stream_task_process(t, 0, &r, 1800000000300ULL) == SL_OK); /* times kept */
    CHECK(sl_stream_task_process(t, 0, &r, 5ULL) == SL_OK);             /* a shorter one */
    CHECK_EQ_INT(N_OUT, 5);
    CHECK(!strcmp(hdr(&OUT[0], SL_STREAM_HDR_TS), "-1,1800000000100,1800000000123"));
    CHECK(
        !strcmp(hdr(&OUT[1], SL_STREAM_HDR_TS), "9223372036854775807,1800000000200,1800000000200"));
    CHECK(!strcmp(hdr(&OUT[2], SL_STREAM_HDR_TS), "0,1800000000300,1800000000300"));
    CHECK(!strcmp(hdr(&OUT[3], SL_STREAM_HDR_TS), "0,1800000000300,1800000000300"));
    CHECK(!strcmp(hdr(&OUT[4], SL_STREAM_HDR_TS), "0,5,1800000000300"));
    for (int i = 0; i < N_OUT; i++) {
        CHECK(stage_matches_headers(&OUT[i]));
    }
    sl_stream_task_free(t);
    sl_stream_builder_free(b);
}

static sl_err_t pair(sl_stream_ctx_t *ctx, const sl_stream_rec_t *l, const sl_stream_rec_t *r,
                     void *user) {
    (void)user;
    char *out = sl_stream_scratch(ctx, 64);
    int n = snprintf(out, 64, "%lld+%lld", (long long)(l ? l->ts_ms : -1),
                     (long long)(r ? r->ts_ms : -1));
    return sl_stream_emit(ctx, sl_stream_ctx_key(ctx),
                          (sl_bytes_t){(const uint8_t *)out, (size_t)n});
}

/* A windowed join fed by two re-keys (4-partition sources on both sides): the joining task's
 * watermark is the minimum over every upstream task's marker on both repartition topics, not the
 * records' times, so the records of a slow upstream task still join after a fast one's. */
TEST(join_over_two_repartitions_takes_upstream_markers) {
    N_OUT = 0;
    sl_stream_builder_t *b = sl_stream_builder_new();
    sl_stream_node_t *l = sl_stream_rekey(sl_stream_source(b, "left", NULL), "lk", NULL, NULL);
    sl_stream_node_t *r = sl_stream_rekey(sl_stream_source(b, "right", NULL), "rk", NULL, NULL);
    sl_stream_to(sl_stream_join_window(l, r, "j", 100, 0, pair, NULL, SL_STREAM_JOIN_INNER), "out");
    CHECK(sl_stream_graph_check(b) == NULL);
    int32_t parts[3] = {4, 4, 4}; /* left, the join, right */
    sl_stream_task_conf_t c = CONF;
    c.st_partitions = parts;
    sl_stream_task_t *j = sl_stream_task_new(b, 1, 0, &c, 0);
    /* Upstream task 0 of each side is fast: a pair at 10000, then its markers. */
    sl_stream_rec_t rec = {B("a"), B("x"), 10000, "app-lk-repartition", 0, 0};
    CHECK(sl_stream_task_process(j, 0, &rec, 0) == SL_OK);
    rec.topic = "app-rk-repartition";
    CHECK(sl_stream_task_process(j, 1, &rec, 0) == SL_OK);
    for (size_t in = 0; in < 2; in++) {
        sl_stream_task_marker(j, in, UP("0"), 9999, false, 0);
        for (int u = 1; u < 4; u++) {
            sl_stream_task_marker(j, in, UP(u == 1 ? "1" : u == 2 ? "2" : "3"), 500, false, 0);
        }
    }
    CHECK(sl_stream_task_tick(j, 0) == SL_OK);
    CHECK_EQ_INT(sl_stream_task_watermark(j), 500);
    /* Upstream task 1 of each side is slow: its pair at 1000 is on time. */
    rec = (sl_stream_rec_t){B("b"), B("y"), 1000, "app-lk-repartition", 0, 1};
    CHECK(sl_stream_task_process(j, 0, &rec, 0) == SL_OK);
    rec.topic = "app-rk-repartition";
    CHECK(sl_stream_task_process(j, 1, &rec, 0) == SL_OK);
    CHECK(sl_stream_task_tick(j, 0) == SL_OK);
    int pairs = 0, late = 0;
    for (int i = 0; i < N_OUT; i++) {
        pairs += !strcmp(OUT[i].topic, "out");
        late += !strcmp(OUT[i].topic, "app-j-late");
    }
    CHECK_EQ_INT(late, 0);
    CHECK_EQ_INT(pairs, 2);
    /* A marker lower than before does not move the watermark back. */
    sl_stream_task_marker(j, 0, UP("1"), 100, false, 0);
    CHECK(sl_stream_task_tick(j, 0) == SL_OK);
    CHECK_EQ_INT(sl_stream_task_watermark(j), 500);
    sl_stream_task_free(j);
    sl_stream_builder_free(b);
}

/* A source over several topics: each (topic, partition) is a task that names itself in its
 * markers; the task behind the rekey waits for every one it knows of (the topics' partitions at
 * the start), then takes a topic created later into its minimum from its first marker. */
TEST(sources_over_topic_lists_and_patterns) {
    N_OUT = 0;
    sl_stream_builder_t *b = sl_stream_builder_new();
    const char *topics[] = {"a", "b"};
    sl_stream_source_opts_t so = {.watermark_delay_ms = 10};
    sl_stream_window_t w = {.kind = SL_STREAM_TUMBLING, .size_ms = 100};
    sl_stream_node_t *src = sl_stream_source_topics(b, topics, 2, &so);
    CHECK(sl_graph_multi_topic(src));
    CHECK(sl_graph_source_reads(src, "b") && !sl_graph_source_reads(src, "c"));
    sl_stream_node_t *rk = sl_stream_rekey(src, "rk", NULL, NULL);
    sl_stream_to(sl_stream_aggregate(rk, "win", &w, &COUNT), "out");
    CHECK(sl_stream_graph_check(b) == NULL);
    int32_t parts[2] = {2, 2}, tasks[2] = {3, 2}; /* "a" has 1 partition, "b" 2 */
    sl_stream_task_conf_t c = CONF;
    c.st_partitions = parts;
    c.st_tasks = tasks;
    c.topic = "b";
    sl_stream_task_t *up = sl_stream_task_new(b, 0, 1, &c, 0);
    sl_stream_rec_t r = {B("k"), B("v"), 500, "b", 1, 0};
    CHECK(sl_stream_task_process(up, 0, &r, 0) == SL_OK);
    CHECK(sl_stream_task_tick(up, 0) == SL_OK);
    CHECK_EQ_INT(N_OUT, 3); /* the record and a marker to each repartition partition */
    CHECK(!strcmp(hdr(&OUT[1], SL_STREAM_HDR_WM_TASK), "b/1"));
    c.topic = NULL;
    sl_stream_task_t *down = sl_stream_task_new(b, 1, 0, &c, 0);
    sl_stream_task_marker(down, 0, "b/1", 489, false, 0);
    sl_stream_task_marker(down, 0, "a/0", 300, false, 0);
    CHECK(sl_stream_task_tick(down, 0) == SL_OK);
    CHECK_EQ_INT(sl_stream_task_watermark(down), SL_WM_NONE); /* "b/0" not heard yet */
    sl_stream_task_marker(down, 0, "b/0", 200, false, 0);
    sl_stream_task_marker(down, 0, "junk", 1, false, 0); /* not a task id: ignored */
    CHECK(sl_stream_task_tick(down, 0) == SL_OK);
    CHECK_EQ_INT(sl_stream_task_watermark(down), 200);
    /* A topic created since: its task says it exists before it has a watermark, and holds the
     * minimum back from then on. */
    c.topic = "c";
    sl_stream_task_t *fresh = sl_stream_task_new(b, 0, 0, &c, 0);
    int before = N_OUT;
    CHECK(sl_stream_task_tick(fresh, 0) == SL_OK);
    CHECK_EQ_INT(N_OUT, before + 2);
    CHECK(!strcmp(hdr(&OUT[before], SL_STREAM_HDR_WM_TASK), "c/0"));
    sl_stream_task_marker(down, 0, "b/0", 900, false, 0);
    sl_stream_task_marker(down, 0, "c/0", atoll(hdr(&OUT[before], SL_STREAM_HDR_WM)), false, 0);
    CHECK(sl_stream_task_tick(down, 0) == SL_OK);
    CHECK_EQ_INT(sl_stream_task_watermark(down), 200);
    CHECK(sl_stream_task_tick(fresh, 0) == SL_OK);
    CHECK_EQ_INT(N_OUT, before + 2); /* said once */
    sl_stream_task_free(fresh);
    sl_stream_task_marker(down, 0, "c/0", 250, false, 0);
    CHECK(sl_stream_task_tick(down, 0) == SL_OK);
    CHECK_EQ_INT(sl_stream_task_watermark(down), 250);
    sl_stream_task_marker(down, 0, "c/0", 100, false, 0); /* never back */
    CHECK(sl_stream_task_tick(down, 0) == SL_OK);
    CHECK_EQ_INT(sl_stream_task_watermark(down), 250);
    sl_stream_task_free(down);
    sl_stream_task_free(up);
    sl_stream_builder_free(b);

    /* State right after such a source needs a rekey; patterns must compile. */
    b = sl_stream_builder_new();
    sl_stream_to(sl_stream_aggregate(sl_stream_source_pattern(b, "t-.*", NULL), "s", &w, &COUNT),
                 "o");
    CHECK(sl_stream_graph_check(b) && strstr(sl_stream_graph_check(b), "several topics"));
    sl_stream_builder_free(b);
    b = sl_stream_builder_new();
    sl_stream_node_t *pat = sl_stream_source_pattern(b, "t-[0-9]+", NULL);
    sl_stream_to(pat, "o");
    CHECK(sl_stream_graph_check(b) == NULL);
    CHECK(sl_graph_source_reads(pat, "t-12") && !sl_graph_source_reads(pat, "t-1x") &&
          !sl_graph_source_reads(pat, "at-1"));
    sl_stream_source_pattern(b, "t-(", NULL);
    CHECK(sl_stream_graph_check(b) && strstr(sl_stream_graph_check(b), "pattern"));
    sl_stream_builder_free(b);
    b = sl_stream_builder_new();
    const char *dup[] = {"x", "x"};
    sl_stream_source_topics(b, dup, 2, NULL);
    CHECK(sl_stream_graph_check(b) && strstr(sl_stream_graph_check(b), "twice"));
    sl_stream_builder_free(b);
}

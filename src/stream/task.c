/* task.c -- runs records through one sub-topology (task.h). Each node's records reach its
 * children by plain function calls (the nodes of a sub-topology are fused); an aggregate keeps
 * its accumulators in its own sl_kv_t and, when windowed, in an sl_winagg_t over it; a table
 * keeps its rows in its own sl_kv_t, and a windowed join its buffers in an sl_wjoin_t over one. */
#include "task.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/arena.h"
#include "common/clock.h"
#include "common/log.h"
#include "stream/join.h"
#include "stream/watermark.h"
#include "stream/winagg.h"

#define MAX_ROOTS 16

typedef struct agg_state agg_state_t;

struct sl_stream_ctx {
    sl_stream_task_t *t;
    const sl_stream_node_t *node; /* emits go to its children */
    int64_t ts;
    sl_bytes_t group_key;
    int64_t win_start, win_end;
};

/* One stateful node's state in this task: an aggregate, a table or a windowed join. */
struct agg_state {
    sl_stream_task_t *t;
    const sl_stream_node_t *node;
    sl_kv_t *kv;
    sl_winagg_t *win;           /* NULL: a running aggregate */
    sl_wjoin_t *wjoin;          /* windowed joins */
    const sl_stream_rec_t *cur; /* the record being aggregated */
    char late_topic[256];
};

/* A time in decimal, kept while it does not change: the receive and emit times come from the
 * lane's cached clock, so runs of records share them. len 0: nothing kept yet. */
typedef struct dec_cache {
    int64_t v;
    size_t len;
    char s[24];
} dec_cache_t;

struct sl_stream_task {
    sl_stream_builder_t *b;
    int st;
    int32_t partition;
    sl_stream_task_conf_t conf;
    char dead_letter[256];
    sl_stream_node_t *roots[MAX_ROOTS];
    size_t n_roots;
    /* Each root's input in wm when its records drive it; -1 for tables (they hold no time back)
     * and for repartition topics whose watermark comes from upstream tasks' markers. */
    int wm_in[MAX_ROOTS];
    sl_wm_t wm;
    bool marker_root[MAX_ROOTS]; /* the root's watermark comes from upstream tasks' markers */
    size_t up_base[MAX_ROOTS];   /* its upstream tasks' first input in wm */
    size_t up_tasks[MAX_ROOTS];  /* and how many there were when the task started */
    size_t up_named[MAX_ROOTS];  /* of those, how many named upstream tasks have taken */
    struct up_bind {             /* a named upstream task ("<topic>/<partition>") and its input */
        size_t root, in;
        char *id;
    } * binds;
    size_t n_binds;
    char id[320]; /* this task's id in its markers: the partition, or "<topic>/<partition>" */
    const sl_stream_node_t *rekeys[MAX_ROOTS]; /* repartition topics this task writes */
    size_t n_rekeys;
    int64_t marker_wm; /* what the last markers said */
    bool marker_idle, marker_sent;
    agg_state_t *aggs; /* one per aggregate node of this sub-topology */
    size_t n_aggs;
    sl_arena_t scratch;   /* reset after every input record */
    int64_t cur_in_ts;    /* the input record being processed: its timestamp */
    uint64_t cur_recv_ms; /* and when it reached the engine (0 outside a record: window firings) */
    dec_cache_t recv_dec, emit_dec; /* the last receive and emit times written, in decimal */
    char fail_msg[SL_ERRLEN];
    const sl_stream_node_t *fail_node; /* the node whose callback failed on this record */
    bool write_failed;                 /* an output could not be written: the task stops */
    sl_stream_task_stats_t stats;
    char err[SL_ERRLEN];            /* a store failed: the task cannot run */
    const sl_stream_node_t **joins; /* join nodes already collected */
    size_t n_joins;
};

static sl_err_t run_node(sl_stream_task_t *t, const sl_stream_node_t *n,
                         const sl_stream_node_t *from, const sl_stream_rec_t *r);

static agg_state_t *agg_of(sl_stream_task_t *t, const sl_stream_node_t *n);

/* ---- callbacks' side of the API ---- */

static sl_err_t to_children(sl_stream_task_t *t, const sl_stream_node_t *n,
                            const sl_stream_rec_t *r) {
    for (size_t i = 0; i < n->n_children; i++) {
        sl_err_t err = run_node(t, n->children[i], n, r);
        if (err != SL_OK) {
            return err;
        }
    }
    return SL_OK;
}

sl_err_t sl_stream_emit(sl_stream_ctx_t *ctx, sl_bytes_t key, sl_bytes_t value) {
    sl_stream_rec_t r = {key, value, ctx->ts, NULL, -1, -1};
    return to_children(ctx->t, ctx->node, &r);
}

sl_err_t sl_stream_emit_at(sl_stream_ctx_t *ctx, int64_t ts_ms, sl_bytes_t key, sl_bytes_t value) {
    sl_stream_rec_t r = {key, value, ts_ms, NULL, -1, -1};
    return to_children(ctx->t, ctx->node, &r);
}

void *sl_stream_scratch(sl_stream_ctx_t *ctx, size_t n) {
    return sl_arena_alloc(&ctx->t->scratch, n ? n : 1);
}

sl_err_t sl_stream_fail(sl_stream_ctx_t *ctx, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->t->fail_msg, sizeof ctx->t->fail_msg, fmt, ap);
    va_end(ap);
    ctx->t->fail_node = ctx->node;
    return SL_ERR_INVAL;
}

sl_bytes_t sl_stream_ctx_key(const sl_stream_ctx_t *ctx) {
    return ctx->group_key;
}

void sl_stream_window_bounds(const sl_stream_ctx_t *ctx, int64_t *start_ms, int64_t *end_ms) {
    *start_ms = ctx->win_start;
    *end_ms = ctx->win_end;
}

/* A callback failed: remember which node, unless sl_stream_fail already said. */
static sl_err_t failed(sl_stream_task_t *t, const sl_stream_node_t *n, sl_err_t err) {
    if (!t->fail_node && !t->write_failed) {
        t->fail_node = n;
        snprintf(t->fail_msg, sizeof t->fail_msg, "%s", sl_err_str(err));
    }
    return err;
}

/* ---- aggregates ---- */

static sl_err_t win_step(void *state, sl_bytes_t key, sl_bytes_t value, int64_t ts, void *user) {
    (void)key, (void)value, (void)ts;
    agg_state_t *a = user;
    sl_stream_ctx_t ctx = {a->t, a->node, a->cur->ts_ms, a->cur->key, 0, 0};
    return a->node->agg.step(&ctx, state, a->cur, a->node->agg.user);
}

static void win_merge(void *into, const void *from, void *user) {
    agg_state_t *a = user;
    a->node->agg.merge(into, from, a->node->agg.user);
}

static sl_err_t win_emit(sl_result_kind_t kind, sl_bytes_t key, int64_t start, int64_t end,
                         const void *state, void *user) {
    agg_state_t *a = user;
    bool session = a->node->win.kind == SL_STREAM_SESSION;
    sl_stream_ctx_t ctx = {a->t, a->node, session ? end : end - 1, key, start, end};
    if (kind == SL_RESULT_RETRACT) {
        /* The window's earlier result no longer holds: a tombstone for its key downstream. */
        return sl_stream_emit(&ctx, key, (sl_bytes_t){NULL, 0});
    }
    return a->node->agg.result(&ctx, state, a->node->agg.user);
}

/* Every output goes through here; a failed write stops the task (it is not the record's fault). */
static sl_err_t write_to(sl_stream_task_t *t, const char *topic, int32_t partition, sl_bytes_t key,
                         sl_bytes_t value, int64_t ts, const sl_stream_hdr_t *h, size_t nh,
                         const sl_stream_stage_t *stage) {
    sl_err_t err = t->conf.write(t->conf.opaque, topic, partition, key, value, ts, h, nh, stage);
    if (err != SL_OK) {
        t->write_failed = true;
    }
    return err;
}

static sl_err_t write_out(sl_stream_task_t *t, const char *topic, sl_bytes_t key, sl_bytes_t value,
                          int64_t ts, const sl_stream_hdr_t *h, size_t nh) {
    return write_to(t, topic, -1, key, value, ts, h, nh, NULL);
}

static void repartition_topic(const sl_stream_task_t *t, const sl_stream_node_t *rekey, char *out,
                              size_t cap) {
    snprintf(out, cap, "%s-%s-repartition", t->conf.app_id, rekey->name);
}

static sl_err_t late_out(agg_state_t *a, const char *reason, sl_bytes_t key, sl_bytes_t value,
                         int64_t ts, int64_t wm, int64_t window_end) {
    char wbuf[24], ebuf[24];
    int wl = snprintf(wbuf, sizeof wbuf, "%" PRId64, wm);
    int el = snprintf(ebuf, sizeof ebuf, "%" PRId64, window_end);
    sl_stream_hdr_t h[] = {
        {"sluice.late.reason", {(const uint8_t *)reason, strlen(reason)}},
        {"sluice.watermark", {(const uint8_t *)wbuf, (size_t)wl}},
        {"sluice.window.end", {(const uint8_t *)ebuf, (size_t)el}},
        {"sluice.node", {(const uint8_t *)a->node->name, strlen(a->node->name)}},
    };
    a->t->stats.late++;
    return write_out(a->t, a->late_topic, key, value, ts, h, SL_ARRAY_LEN(h));
}

static sl_err_t win_late(sl_bytes_t key, sl_bytes_t value, int64_t ts, int64_t wm,
                         int64_t window_end, void *user) {
    return late_out(user, "past window end + grace + allowed lateness", key, value, ts, wm,
                    window_end);
}

/* ---- joins ---- */

static sl_err_t wjoin_late(int side, sl_bytes_t key, sl_bytes_t value, int64_t ts, int64_t wm,
                           void *user) {
    agg_state_t *a = user;
    (void)side;
    return late_out(a, "past record time + join grace", key, value, ts, wm,
                    ts + a->node->within_ms + 1);
}

static sl_err_t wjoin_emit(sl_bytes_t key, const sl_bytes_t *left, int64_t left_ts,
                           const sl_bytes_t *right, int64_t right_ts, void *user) {
    agg_state_t *a = user;
    const sl_stream_node_t *n = a->node;
    sl_stream_rec_t l = {key, left ? *left : (sl_bytes_t){NULL, 0}, left_ts, NULL, -1, -1};
    sl_stream_rec_t r = {key, right ? *right : (sl_bytes_t){NULL, 0}, right_ts, NULL, -1, -1};
    int64_t ts = !left ? right_ts : !right ? left_ts : SL_MAX(left_ts, right_ts);
    sl_stream_ctx_t ctx = {a->t, n, ts, key, 0, 0};
    sl_err_t err = n->join_fn(&ctx, left ? &l : NULL, right ? &r : NULL, n->user);
    return err == SL_OK ? SL_OK : failed(a->t, n, err);
}

/* A stream record meets the table: the joiner sees the table's current value for its key. */
static sl_err_t run_join_table(sl_stream_task_t *t, const sl_stream_node_t *n,
                               const sl_stream_rec_t *r) {
    agg_state_t *tab = agg_of(t, n->other);
    SL_ASSERT(tab != NULL);
    sl_bytes_t v = {NULL, 0};
    int64_t vts = 0;
    bool found = sl_table_get(tab->kv, r->key, &v, &vts);
    if (!found && n->join_kind == SL_STREAM_JOIN_INNER) {
        return SL_OK;
    }
    sl_stream_rec_t row = {r->key, v, vts, n->other->topic, -1, -1};
    sl_stream_ctx_t ctx = {t, n, r->ts_ms, r->key, 0, 0};
    sl_err_t err = n->join_fn(&ctx, r, found ? &row : NULL, n->user);
    return err == SL_OK ? SL_OK : failed(t, n, err);
}

static sl_err_t run_join_window(sl_stream_task_t *t, const sl_stream_node_t *n,
                                const sl_stream_node_t *from, const sl_stream_rec_t *r) {
    agg_state_t *a = agg_of(t, n);
    SL_ASSERT(a != NULL);
    if (!r->key.p) {
        snprintf(t->fail_msg, sizeof t->fail_msg, "a windowed join needs a key (it was null)");
        t->fail_node = n;
        return SL_ERR_INVAL;
    }
    int side = from == n->parent ? 0 : 1;
    return sl_wjoin_add(a->wjoin, side, r->key, r->value, r->ts_ms, t->wm.current);
}

static sl_err_t run_agg(sl_stream_task_t *t, agg_state_t *a, const sl_stream_rec_t *r) {
    a->cur = r;
    sl_bytes_t key = r->key.p ? r->key : (sl_bytes_t){(const uint8_t *)"", 0};
    if (a->win) {
        return sl_winagg_add(a->win, key, r->value, r->ts_ms, t->wm.current);
    }
    /* Running aggregate: the accumulator per key ('K' + key in the store), a result per update. */
    size_t sb = a->node->agg.state_bytes;
    uint8_t *state = sl_arena_alloc(&t->scratch, sb ? sb : 1);
    uint8_t *sk = sl_arena_alloc(&t->scratch, key.len + 1);
    sk[0] = 'K';
    if (key.len) {
        memcpy(sk + 1, key.p, key.len);
    }
    sl_bytes_t skey = {sk, key.len + 1}, v;
    if (sl_kv_get(a->kv, skey, &v) && v.len == sb) {
        memcpy(state, v.p, sb);
    }
    sl_stream_ctx_t ctx = {t, a->node, r->ts_ms, key, 0, 0};
    sl_err_t err = a->node->agg.step(&ctx, state, r, a->node->agg.user);
    if (err != SL_OK) {
        return err;
    }
    sl_kv_put(a->kv, skey, (sl_bytes_t){state, sb});
    return a->node->agg.result(&ctx, state, a->node->agg.user);
}

static agg_state_t *agg_of(sl_stream_task_t *t, const sl_stream_node_t *n) {
    for (size_t i = 0; i < t->n_aggs; i++) {
        if (t->aggs[i].node == n) {
            return &t->aggs[i];
        }
    }
    return NULL;
}

/* ---- the interpreter ---- */

/* Writes v in decimal into buf (room for 20 characters); returns the length. printf costs more
 * than the rest of a pass-through record's trip through the task. */
static size_t dec_i64(char *buf, int64_t v) {
    char tmp[20];
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    size_t len = 0;
    if (v < 0) {
        buf[len++] = '-';
    }
    while (n) {
        buf[len++] = tmp[--n];
    }
    return len;
}

/* v in decimal from the cache c, written there first when it holds another value. */
static sl_bytes_t dec_cached(dec_cache_t *c, int64_t v) {
    if (!c->len || c->v != v) {
        c->v = v;
        c->len = dec_i64(c->s, v);
    }
    return (sl_bytes_t){(const uint8_t *)c->s, c->len};
}

/* Appends v in decimal from the cache c at buf[*len]. */
static void put_cached(char *buf, size_t *len, dec_cache_t *c, int64_t v) {
    sl_bytes_t d = dec_cached(c, v);
    memcpy(buf + *len, d.p, d.len);
    *len += d.len;
}

/* A sink record carries the stage times of the input it came from in one header (task.h:
 * SL_STREAM_HDR_TS, "in,recv,emit"), so a consumer can split its end-to-end latency into
 * produce + broker, process and consume. A window fired by the watermark has no input record:
 * only its emit time (",,emit"). One header rather than three: librdkafka allocates and frees
 * each header of each record (two fewer made q1 8% cheaper per event). The emit time is the
 * caller's cached clock when it keeps one (conf.wall_ms), never earlier than the receive time. */
static sl_err_t write_sink(sl_stream_task_t *t, const sl_stream_node_t *n,
                           const sl_stream_rec_t *r) {
    char v[3 * 24];
    size_t len = 0;
    int64_t now = t->conf.wall_ms ? *t->conf.wall_ms : sl_wall_ms();
    if (t->cur_recv_ms) {
        now = SL_MAX(now, (int64_t)t->cur_recv_ms);
        len = dec_i64(v, t->cur_in_ts);
        v[len++] = ',';
        put_cached(v, &len, &t->recv_dec, (int64_t)t->cur_recv_ms);
    } else {
        v[len++] = ',';
    }
    v[len++] = ',';
    put_cached(v, &len, &t->emit_dec, now);
    sl_stream_hdr_t h = {SL_STREAM_HDR_TS, {(const uint8_t *)v, len}};
    sl_stream_stage_t stage = {t->cur_in_ts, (int64_t)t->cur_recv_ms, now};
    return write_to(t, n->topic, -1, r->key, r->value, r->ts_ms, &h, 1, &stage);
}

static sl_err_t run_node(sl_stream_task_t *t, const sl_stream_node_t *n,
                         const sl_stream_node_t *from, const sl_stream_rec_t *r) {
    sl_err_t err = SL_OK;
    sl_stream_ctx_t ctx = {t, n, r->ts_ms, r->key, 0, 0};
    switch (n->kind) {
    case SL_NODE_SOURCE:
    case SL_NODE_PASS:
        return to_children(t, n, r);
    case SL_NODE_MAP:
        err = n->fn(&ctx, r, n->user);
        return err == SL_OK ? SL_OK : failed(t, n, err);
    case SL_NODE_BRANCH: {
        int i = n->route(r, n->user);
        return i >= 0 && (size_t)i < n->n_children ? run_node(t, n->children[i], n, r) : SL_OK;
    }
    case SL_NODE_REKEY: {
        if (n->subtopology == t->st) {
            return to_children(t, n, r); /* this task reads the repartition topic */
        }
        sl_bytes_t key = r->key;
        if (n->key_fn && (err = n->key_fn(&ctx, r, n->user, &key)) != SL_OK) {
            return failed(t, n, err);
        }
        char topic[512];
        repartition_topic(t, n, topic, sizeof topic);
        t->stats.out++;
        return write_out(t, topic, key, r->value, r->ts_ms, NULL, 0);
    }
    case SL_NODE_AGG: {
        agg_state_t *a = agg_of(t, n);
        SL_ASSERT(a != NULL);
        err = run_agg(t, a, r);
        return err == SL_OK ? SL_OK : failed(t, n, err);
    }
    case SL_NODE_SINK:
        t->stats.out++;
        return write_sink(t, n, r);
    case SL_NODE_TABLE: {
        agg_state_t *a = agg_of(t, n);
        SL_ASSERT(a != NULL);
        sl_table_apply(a->kv, r->key, r->value, r->ts_ms); /* table updates do not emit */
        return SL_OK;
    }
    case SL_NODE_JOIN_TABLE:
        return from == n->other ? SL_OK : run_join_table(t, n, r);
    case SL_NODE_JOIN_WINDOW:
        return run_join_window(t, n, from, r);
    }
    return SL_ERR_INVAL;
}

/* Sends the input record that failed to the dead-letter topic, skips it, or stops the task. */
static sl_err_t on_error(sl_stream_task_t *t, const sl_stream_rec_t *r, sl_err_t err) {
    if (t->conf.on_error == SL_STREAM_ON_ERROR_FAIL) {
        return err;
    }
    if (t->conf.on_error == SL_STREAM_ON_ERROR_SKIP) {
        t->stats.skipped++;
        return SL_OK;
    }
    char pbuf[16], obuf[24];
    int pl = snprintf(pbuf, sizeof pbuf, "%" PRId32, r->partition);
    int ol = snprintf(obuf, sizeof obuf, "%" PRId64, r->offset);
    const char *node = t->fail_node ? t->fail_node->name : "";
    const char *topic = r->topic ? r->topic : "";
    sl_stream_hdr_t h[] = {
        {"sluice.error", {(const uint8_t *)t->fail_msg, strlen(t->fail_msg)}},
        {"sluice.node", {(const uint8_t *)node, strlen(node)}},
        {"sluice.source.topic", {(const uint8_t *)topic, strlen(topic)}},
        {"sluice.source.partition", {(const uint8_t *)pbuf, (size_t)pl}},
        {"sluice.source.offset", {(const uint8_t *)obuf, (size_t)ol}},
    };
    t->stats.dead_lettered++;
    return write_out(t, t->dead_letter, r->key, r->value, r->ts_ms, h, SL_ARRAY_LEN(h));
}

sl_err_t sl_stream_task_process(sl_stream_task_t *t, size_t input, const sl_stream_rec_t *in,
                                uint64_t now_ms) {
    SL_ASSERT(input < t->n_roots);
    const sl_stream_node_t *root = t->roots[input];
    sl_stream_rec_t r = *in;
    t->stats.in++;
    t->cur_in_ts = in->ts_ms;
    t->cur_recv_ms = now_ms;
    t->fail_node = NULL;
    t->fail_msg[0] = 0;
    t->write_failed = false;
    sl_err_t err = SL_OK;
    bool src = root->kind == SL_NODE_SOURCE || root->kind == SL_NODE_TABLE;
    if (src && root->src.ts_fn) {
        err = root->src.ts_fn(in, root->src.ts_user, &r.ts_ms);
        if (err != SL_OK) {
            (void)failed(t, root, err);
        }
    } else if (src && root->src.time == SL_STREAM_TIME_PROCESSING) {
        r.ts_ms = (int64_t)now_ms;
    }
    if (err == SL_OK) {
        if (t->wm_in[input] >= 0) {
            sl_wm_record(&t->wm, (size_t)t->wm_in[input], r.ts_ms, now_ms);
        }
        err = run_node(t, root, NULL, &r);
    }
    if (err != SL_OK && t->fail_node && !t->write_failed) {
        err = on_error(t, in, err); /* a callback failed: the record's fate is the policy's */
    }
    sl_arena_reset(&t->scratch);
    t->cur_recv_ms = 0;
    return err;
}

void sl_stream_task_caught_up(sl_stream_task_t *t, size_t input) {
    SL_ASSERT(input < t->n_roots);
    if (t->wm_in[input] >= 0) { /* markers: idleness is upstream's to tell */
        sl_wm_caught_up(&t->wm, (size_t)t->wm_in[input]);
    }
}

/* The input in t->wm of upstream task `id` of root `input`, or SIZE_MAX to ignore the marker. A
 * partition number indexes the upstream's tasks; a named task ("<topic>/<partition>", of a source
 * over several topics) takes the next input no named task has taken, in the order they are heard
 * of, and beyond those a new input (a topic created since this task started). */
static size_t upstream_input(sl_stream_task_t *t, size_t input, const char *id, uint64_t now_ms) {
    char *end;
    long p = strtol(id, &end, 10);
    if (end != id && !*end) {
        return p >= 0 && (size_t)p < t->up_tasks[input] ? t->up_base[input] + (size_t)p : SIZE_MAX;
    }
    if (!strchr(id, '/')) {
        return SIZE_MAX;
    }
    for (size_t i = 0; i < t->n_binds; i++) {
        if (t->binds[i].root == input && !strcmp(t->binds[i].id, id)) {
            return t->binds[i].in;
        }
    }
    size_t in = t->up_named[input] < t->up_tasks[input] ? t->up_base[input] + t->up_named[input]++
                                                        : sl_wm_add(&t->wm, now_ms);
    t->binds = sl_xrealloc(t->binds, (t->n_binds + 1) * sizeof *t->binds);
    t->binds[t->n_binds++] = (struct up_bind){input, in, sl_xstrdup(id)};
    return in;
}

void sl_stream_task_marker(sl_stream_task_t *t, size_t input, const char *upstream, int64_t wm,
                           bool idle, uint64_t now_ms) {
    SL_ASSERT(input < t->n_roots);
    if (!t->marker_root[input] || !upstream) {
        return;
    }
    size_t in = upstream_input(t, input, upstream, now_ms);
    if (in != SIZE_MAX) {
        sl_wm_marker(&t->wm, in, wm, idle, now_ms);
    }
}

/* Tells every partition of each repartition topic this task writes where its watermark is, when
 * that changed. The markers go out in the lane's transaction, like the records they follow. */
static sl_err_t send_markers(sl_stream_task_t *t, uint64_t now_ms) {
    bool idle = sl_wm_all_idle(&t->wm);
    /* A named task (of a source over several topics, which may be a topic created since the
     * downstream tasks started) says it exists before it has a watermark, so that from then on
     * they wait for it; a numbered one is counted by them from the start. */
    bool hello = t->id[0] && strchr(t->id, '/') && !t->marker_sent;
    if (!t->conf.st_partitions || t->n_rekeys == 0 ||
        (t->marker_sent && t->marker_wm == t->wm.current && t->marker_idle == idle) ||
        (t->wm.current == SL_WM_NONE && !idle && !hello)) {
        return SL_OK;
    }
    char wmb[24];
    int wl = snprintf(wmb, sizeof wmb, "%" PRId64, t->wm.current);
    sl_stream_hdr_t h[] = {
        {SL_STREAM_HDR_WM_TASK, {(const uint8_t *)t->id, strlen(t->id)}},
        {SL_STREAM_HDR_WM, {(const uint8_t *)wmb, (size_t)wl}},
        {SL_STREAM_HDR_WM_IDLE, {(const uint8_t *)(idle ? "1" : "0"), 1}},
    };
    for (size_t i = 0; i < t->n_rekeys; i++) {
        char topic[512];
        repartition_topic(t, t->rekeys[i], topic, sizeof topic);
        int32_t parts = t->conf.st_partitions[t->rekeys[i]->subtopology];
        for (int32_t p = 0; p < parts; p++) {
            sl_err_t err = write_to(t, topic, p, (sl_bytes_t){NULL, 0}, (sl_bytes_t){NULL, 0},
                                    (int64_t)now_ms, h, SL_ARRAY_LEN(h), NULL);
            if (err != SL_OK) {
                return err;
            }
        }
    }
    t->marker_sent = true;
    t->marker_wm = t->wm.current;
    t->marker_idle = idle;
    return SL_OK;
}

/* The windows the new watermark closes fire first, then the markers go out: a downstream task
 * (re-keying these results) must see them before the watermark that makes them due. */
sl_err_t sl_stream_task_tick(sl_stream_task_t *t, uint64_t now_ms) {
    int64_t wm = sl_wm_advance(&t->wm, now_ms);
    for (size_t i = 0; i < t->n_aggs; i++) {
        sl_err_t err = SL_OK;
        if (t->aggs[i].win) {
            err = sl_winagg_advance(t->aggs[i].win, wm);
        } else if (t->aggs[i].wjoin) {
            err = sl_wjoin_advance(t->aggs[i].wjoin, wm);
        }
        sl_arena_reset(&t->scratch);
        if (err != SL_OK) {
            return err;
        }
    }
    return send_markers(t, now_ms);
}

int64_t sl_stream_task_watermark(const sl_stream_task_t *t) {
    return t->wm.current;
}

int32_t sl_stream_task_partition(const sl_stream_task_t *t) {
    return t->partition;
}

/* ---- lifecycle and checkpoints ---- */

/* The node's store: in memory, or RocksDB under the state directory. A store that cannot be
 * opened leaves an empty memory store in its place and the reason in t->err. */
static sl_kv_t *open_store(sl_stream_task_t *t, const sl_stream_node_t *n) {
    sl_stream_backend_t be = n->backend ? n->backend : t->conf.default_backend;
    if (be != SL_STREAM_ROCKSDB) {
        return sl_kv_new();
    }
    char dir[1024], why[SL_ERRLEN];
    sl_kv_t *kv = NULL;
    if (!t->conf.state_dir) {
        snprintf(why, sizeof why, "no state directory for RocksDB store '%s'", n->name);
    } else if ((size_t)snprintf(dir, sizeof dir, "%s/%d_%d/%s", t->conf.state_dir, t->st,
                                (int)t->partition, n->name) >= sizeof dir) {
        snprintf(why, sizeof why, "state directory path too long for store '%s'", n->name);
    } else {
        kv = sl_kv_open(dir, t->conf.cache_bytes, why, sizeof why);
    }
    if (!kv) {
        if (!t->err[0]) {
            snprintf(t->err, sizeof t->err, "%s", why);
        }
        kv = sl_kv_new();
    }
    return kv;
}

/* Stateful nodes of sub-topology st: nodes reached from its roots without crossing a rekey. A
 * join is reached from both its inputs: it and what follows it are collected once. */
static void collect_aggs(sl_stream_task_t *t, const sl_stream_node_t *n) {
    bool stateful =
        n->kind == SL_NODE_AGG || n->kind == SL_NODE_TABLE || n->kind == SL_NODE_JOIN_WINDOW;
    if (n->kind == SL_NODE_JOIN_TABLE || n->kind == SL_NODE_JOIN_WINDOW) {
        for (size_t i = 0; i < t->n_joins; i++) {
            if (t->joins[i] == n) {
                return;
            }
        }
        t->joins = sl_xrealloc(t->joins, (t->n_joins + 1) * sizeof *t->joins);
        t->joins[t->n_joins++] = n;
    }
    if (stateful) {
        t->aggs = sl_xrealloc(t->aggs, (t->n_aggs + 1) * sizeof *t->aggs);
        agg_state_t *a = &t->aggs[t->n_aggs++];
        memset(a, 0, sizeof *a);
        a->t = t;
        a->node = n;
        a->kv = open_store(t, n);
        if (n->late_topic) {
            snprintf(a->late_topic, sizeof a->late_topic, "%s", n->late_topic);
        } else {
            snprintf(a->late_topic, sizeof a->late_topic, "%s-%s-late", t->conf.app_id, n->name);
        }
    }
    if (n->kind == SL_NODE_REKEY && n->subtopology != t->st) {
        if (t->n_rekeys < MAX_ROOTS) {
            t->rekeys[t->n_rekeys++] = n;
        }
        return;
    }
    for (size_t i = 0; i < n->n_children; i++) {
        collect_aggs(t, n->children[i]);
    }
}

static void make_winaggs(sl_stream_task_t *t) {
    for (size_t i = 0; i < t->n_aggs; i++) {
        agg_state_t *a = &t->aggs[i];
        const sl_stream_node_t *n = a->node;
        if (n->kind == SL_NODE_JOIN_WINDOW) {
            sl_wjoin_ops_t ops = {wjoin_emit, wjoin_late, a};
            const char *why;
            a->wjoin = sl_wjoin_new((sl_wjoin_kind_t)n->join_kind, n->within_ms, n->grace_ms, &ops,
                                    a->kv, &why);
            SL_ASSERT(a->wjoin != NULL); /* the builder checked the join */
            continue;
        }
        if (n->kind != SL_NODE_AGG || !n->windowed) {
            continue;
        }
        sl_winagg_conf_t c = {
            {(sl_win_kind_t)n->win.kind, n->win.size_ms, n->win.advance_ms, n->win.gap_ms, 0},
            n->win.grace_ms,
            n->win.lateness_ms,
            n->win.emit_changes ? SL_EMIT_CHANGES : SL_EMIT_FINAL};
        sl_winagg_ops_t ops = {n->agg.state_bytes, win_step, n->agg.merge ? win_merge : NULL,
                               win_emit,           win_late, a};
        const char *why;
        a->win = sl_winagg_new(&c, &ops, a->kv, &why);
        SL_ASSERT(a->win != NULL); /* the builder checked the window */
    }
}

sl_stream_task_t *sl_stream_task_new(sl_stream_builder_t *b, int st, int32_t partition,
                                     const sl_stream_task_conf_t *conf, uint64_t now_ms) {
    sl_stream_task_t *t = sl_xcalloc(1, sizeof *t);
    t->b = b;
    t->st = st;
    t->partition = partition;
    t->conf = *conf;
    if (conf->topic) {
        snprintf(t->id, sizeof t->id, "%s/%" PRId32, conf->topic, partition);
    } else {
        snprintf(t->id, sizeof t->id, "%" PRId32, partition);
    }
    t->conf.topic = NULL; /* the caller's string need not outlive the call */
    if (conf->dead_letter) {
        snprintf(t->dead_letter, sizeof t->dead_letter, "%s", conf->dead_letter);
    } else {
        snprintf(t->dead_letter, sizeof t->dead_letter, "%s-dlq", conf->app_id);
    }
    t->n_roots = sl_graph_roots(b, st, t->roots, MAX_ROOTS);
    SL_ASSERT(t->n_roots >= 1 && t->n_roots <= MAX_ROOTS);
    /* Disorder and idleness are per source; a task over several takes the widest bound. */
    /* A repartition topic's watermark comes from the upstream tasks' markers: one input per
     * upstream task (their disorder already accounted for), after the inputs whose records drive
     * theirs. Without markers (no partition counts), records drive every input. */
    int64_t delay = 0, idle = 0;
    size_t n_wm = 0, n_up = 0;
    const int32_t *tasks = conf->st_tasks ? conf->st_tasks : conf->st_partitions;
    for (size_t i = 0; i < t->n_roots; i++) {
        const sl_stream_node_t *r = t->roots[i];
        t->marker_root[i] = tasks && r->kind == SL_NODE_REKEY;
        if (t->marker_root[i]) {
            t->up_tasks[i] = (size_t)SL_MAX(tasks[r->parent->subtopology], 0);
            n_up += t->up_tasks[i];
            t->wm_in[i] = -1;
            continue;
        }
        delay = SL_MAX(delay, r->src.watermark_delay_ms);
        idle = SL_MAX(idle, r->src.idle_ms);
        t->wm_in[i] = r->kind == SL_NODE_TABLE ? -1 : (int)n_wm++;
    }
    for (size_t i = 0, base = n_wm; i < t->n_roots; i++) {
        t->up_base[i] = base;
        base += t->marker_root[i] ? t->up_tasks[i] : 0;
    }
    sl_wm_init(&t->wm, n_wm + n_up, delay, idle, now_ms);
    for (size_t i = 0; i < t->n_roots; i++) {
        collect_aggs(t, t->roots[i]);
    }
    make_winaggs(t);
    return t;
}

void sl_stream_task_free(sl_stream_task_t *t) {
    if (!t) {
        return;
    }
    for (size_t i = 0; i < t->n_aggs; i++) {
        sl_winagg_free(t->aggs[i].win);
        sl_wjoin_free(t->aggs[i].wjoin);
        sl_kv_free(t->aggs[i].kv);
    }
    free(t->aggs);
    free(t->joins);
    for (size_t i = 0; i < t->n_binds; i++) {
        free(t->binds[i].id);
    }
    free(t->binds);
    sl_wm_free(&t->wm);
    sl_arena_fini(&t->scratch);
    free(t);
}

typedef struct each_arg {
    const char *store;
    sl_stream_change_fn *fn;
    void *arg;
} each_arg_t;

static void each_one(sl_bytes_t key, const sl_bytes_t *val, void *arg) {
    each_arg_t *e = arg;
    e->fn(e->store, key, val, e->arg);
}

void sl_stream_task_each_changed(const sl_stream_task_t *t, sl_stream_change_fn *fn, void *arg) {
    for (size_t i = 0; i < t->n_aggs; i++) {
        each_arg_t e = {t->aggs[i].node->name, fn, arg};
        sl_kv_each_changed(t->aggs[i].kv, each_one, &e);
    }
}

/* The task's watermark lives in every store under the reserved key "M" (stores' own keys start
 * with 'W', 'S', 'N' or 'K'), so it travels in the changelog with the state it belongs to and a
 * restored task never sees its watermark go back. */
static const sl_bytes_t WM_KEY = {(const uint8_t *)"M", 1};

void sl_stream_task_prepare_checkpoint(sl_stream_task_t *t) {
    uint8_t buf[1024];
    size_t n = sl_wm_encode(&t->wm, buf, sizeof buf);
    for (size_t i = 0; i < t->n_aggs && n; i++) {
        sl_bytes_t old;
        if (sl_kv_get(t->aggs[i].kv, WM_KEY, &old) && old.len == n && !memcmp(old.p, buf, n)) {
            continue;
        }
        sl_kv_put(t->aggs[i].kv, WM_KEY, (sl_bytes_t){buf, n});
    }
}

const char *sl_stream_task_error(const sl_stream_task_t *t) {
    return t->err[0] ? t->err : NULL;
}

sl_err_t sl_stream_task_commit(sl_stream_task_t *t) {
    for (size_t i = 0; i < t->n_aggs; i++) {
        if (sl_kv_commit(t->aggs[i].kv) != SL_OK) {
            snprintf(t->err, sizeof t->err, "state store '%s': %s", t->aggs[i].node->name,
                     sl_kv_error(t->aggs[i].kv));
            return SL_ERR_IO;
        }
    }
    return SL_OK;
}

void sl_stream_task_abort(sl_stream_task_t *t) {
    for (size_t i = 0; i < t->n_aggs; i++) {
        sl_kv_abort(t->aggs[i].kv);
        if (t->aggs[i].win) {
            sl_winagg_rebuild(t->aggs[i].win);
        }
        if (t->aggs[i].wjoin) {
            sl_wjoin_rebuild(t->aggs[i].wjoin);
        }
    }
}

size_t sl_stream_task_stores(const sl_stream_task_t *t, const char **out, size_t cap) {
    for (size_t i = 0; i < t->n_aggs && i < cap; i++) {
        out[i] = t->aggs[i].node->name;
    }
    return t->n_aggs;
}

static sl_kv_t *store_of(const sl_stream_task_t *t, const char *store) {
    for (size_t i = 0; i < t->n_aggs; i++) {
        if (!strcmp(t->aggs[i].node->name, store)) {
            return t->aggs[i].kv;
        }
    }
    return NULL;
}

int64_t sl_stream_task_store_covered(const sl_stream_task_t *t, const char *store) {
    sl_kv_t *kv = store_of(t, store);
    return kv ? sl_kv_covered(kv) : -1;
}

sl_err_t sl_stream_task_store_wipe(sl_stream_task_t *t, const char *store) {
    sl_kv_t *kv = store_of(t, store);
    if (kv && sl_kv_wipe(kv) != SL_OK) {
        snprintf(t->err, sizeof t->err, "state store '%s': %s", store, sl_kv_error(kv));
        return SL_ERR_IO;
    }
    return SL_OK;
}

void sl_stream_task_store_cover(sl_stream_task_t *t, const char *store, int64_t next_offset) {
    sl_kv_t *kv = store_of(t, store);
    if (kv) {
        sl_kv_cover(kv, next_offset);
    }
}

/* A disk store restoring a large changelog commits every this many records. */
#define RESTORE_COMMIT_EVERY 4096

sl_err_t sl_stream_task_restore(sl_stream_task_t *t, const char *store, sl_bytes_t key,
                                const sl_bytes_t *val, int64_t offset) {
    sl_kv_t *kv = store_of(t, store);
    if (!kv) {
        return SL_OK;
    }
    if (val) {
        sl_kv_put(kv, key, *val);
    } else {
        (void)sl_kv_del(kv, key);
    }
    sl_kv_cover(kv, offset + 1);
    if (sl_kv_on_disk(kv) && sl_kv_changed_count(kv) >= RESTORE_COMMIT_EVERY &&
        sl_kv_commit(kv) != SL_OK) {
        snprintf(t->err, sizeof t->err, "state store '%s': %s", store, sl_kv_error(kv));
        return SL_ERR_IO;
    }
    return SL_OK;
}

/* Whether a repartition topic this task reads is fed by a source over several topics (its
 * upstream tasks are named, not numbered). */
static bool any_named(const sl_stream_task_t *t) {
    for (size_t i = 0; i < t->n_roots; i++) {
        sl_stream_node_t *up[MAX_ROOTS];
        size_t n = t->marker_root[i]
                       ? sl_graph_roots(t->b, t->roots[i]->parent->subtopology, up, MAX_ROOTS)
                       : 0;
        for (size_t k = 0; k < n && k < MAX_ROOTS; k++) {
            if (sl_graph_multi_topic(up[k])) {
                return true;
            }
        }
    }
    return false;
}

sl_err_t sl_stream_task_restored(sl_stream_task_t *t) {
    if (sl_stream_task_commit(t) != SL_OK) {
        return SL_ERR_IO;
    }
    for (size_t i = 0; i < t->n_aggs; i++) {
        sl_bytes_t v;
        /* Named upstream tasks take inputs in the order they are heard of, which a restart
         * does not repeat: their inputs start afresh (the task's watermark never goes back). */
        if (sl_kv_get(t->aggs[i].kv, WM_KEY, &v) &&
            (t->n_binds || any_named(t) ? sl_wm_restore_current(&t->wm, v.p, v.len)
                                        : sl_wm_restore(&t->wm, v.p, v.len)) != SL_OK) {
            sl_log(SL_LOG_WARN, "stream", "store=%s msg=\"unreadable watermark record ignored\"",
                   t->aggs[i].node->name);
        }
    }
    for (size_t i = 0; i < t->n_aggs; i++) {
        if (t->aggs[i].win) {
            sl_winagg_rebuild(t->aggs[i].win);
        }
        if (t->aggs[i].wjoin) {
            sl_wjoin_rebuild(t->aggs[i].wjoin);
        }
    }
    return SL_OK;
}

void sl_stream_task_resume(sl_stream_task_t *t, uint64_t now_ms) {
    sl_wm_resume(&t->wm, now_ms);
    t->marker_sent = false;
}

bool sl_stream_task_on_disk(const sl_stream_task_t *t) {
    for (size_t i = 0; i < t->n_aggs; i++) {
        if (sl_kv_on_disk(t->aggs[i].kv)) {
            return true;
        }
    }
    return false;
}

const sl_stream_task_stats_t *sl_stream_task_stats(const sl_stream_task_t *t) {
    return &t->stats;
}

void sl_stream_task_state_size(const sl_stream_task_t *t, size_t *entries, size_t *bytes) {
    *entries = *bytes = 0;
    for (size_t i = 0; i < t->n_aggs; i++) {
        *entries += sl_kv_count(t->aggs[i].kv);
        *bytes += sl_kv_bytes(t->aggs[i].kv);
    }
}

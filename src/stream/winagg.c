/* winagg.c -- windowed aggregation (rules in winagg.h).
 *
 * Store layout (all keys of this operator's sl_kv_t):
 *   'W' key suffix8  -> start i64 | end i64 | fired u8 | state      one window's accumulator
 *       suffix8 is the window start (time windows) or the session's slot number (sessions, whose
 *       start moves when a record extends them); end is exclusive for time windows and the last
 *       record time for sessions.
 *   'S' key          -> n x (start i64 | last i64 | slot u64)        a key's open sessions
 *   'N'              -> u64                                          next session slot
 * ('M' and 'K' keys belong to the task that owns the store: its watermark, running aggregates.)
 * The firing queue holds at most one entry per window: an entry's due time only grows (the end of
 * a session, fired -> purge), so an entry popped early is pushed again at its current due time. */
#include "winagg.h"

#include <string.h>

#include "stream/dueq.h"

#define HDR 17 /* start, end, fired */

struct sl_winagg {
    sl_winagg_conf_t c;
    sl_winagg_ops_t ops;
    sl_kv_t *kv;
    sl_dueq_t due; /* when each key is due */
    size_t n_windows;
    uint8_t *scratch; /* one store key or value being built */
    size_t cap_scratch;
    uint8_t *state; /* the accumulator being worked on (state_bytes) */
    uint8_t *put;   /* a window's value, then a copy of its key, for sl_kv_put */
    size_t cap_put;
};

static int64_t sat_add(int64_t a, int64_t b) {
    if (b > 0 && a > INT64_MAX - b) {
        return INT64_MAX;
    }
    if (b < 0 && a < INT64_MIN - b) {
        return INT64_MIN;
    }
    return a + b;
}

static uint8_t *scratch(sl_winagg_t *a, size_t n) {
    if (n > a->cap_scratch) {
        a->cap_scratch = n < 256 ? 256 : n * 2;
        free(a->scratch);
        a->scratch = sl_xmalloc(a->cap_scratch);
    }
    return a->scratch;
}

/* ---- window entries ---- */

static bool sessions(const sl_winagg_t *a) {
    return a->c.window.kind == SL_WIN_SESSION;
}

static sl_bytes_t win_key(sl_winagg_t *a, sl_bytes_t key, uint64_t suffix) {
    uint8_t *p = scratch(a, key.len + 9);
    p[0] = 'W';
    if (key.len) {
        memcpy(p + 1, key.p, key.len);
    }
    sl_store_be64(p + 1 + key.len, suffix);
    return (sl_bytes_t){p, key.len + 9};
}

/* The time a window's result carries: end - 1 (time windows), its last record (sessions). */
static int64_t result_time(const sl_winagg_t *a, int64_t end) {
    return sessions(a) ? sat_add(end, a->c.window.gap_ms) : end - 1;
}

static int64_t retire_after(const sl_winagg_t *a) {
    return a->c.emit == SL_EMIT_FINAL ? sat_add(a->c.grace_ms, a->c.lateness_ms)
                                      : SL_MAX(a->c.grace_ms, a->c.lateness_ms);
}

static int64_t due_of(const sl_winagg_t *a, int64_t end, bool fired) {
    int64_t t = result_time(a, end);
    if (a->c.emit == SL_EMIT_FINAL && !fired) {
        return sat_add(t, a->c.grace_ms);
    }
    return sat_add(t, retire_after(a));
}

typedef struct win {
    int64_t start, end;
    bool fired;
    uint8_t *state; /* a copy, written back by win_put */
} win_t;

static bool win_get(sl_winagg_t *a, sl_bytes_t wk, win_t *w) {
    sl_bytes_t v;
    if (!sl_kv_get(a->kv, wk, &v) || v.len != HDR + a->ops.state_bytes) {
        return false;
    }
    w->start = (int64_t)sl_load_be64(v.p);
    w->end = (int64_t)sl_load_be64(v.p + 8);
    w->fired = v.p[16] != 0;
    memcpy(w->state, v.p + HDR, a->ops.state_bytes);
    return true;
}

static void win_put(sl_winagg_t *a, sl_bytes_t wk, const win_t *w) {
    size_t n = HDR + a->ops.state_bytes;
    if (n + wk.len > a->cap_put) {
        a->cap_put = (n + wk.len) * 2;
        free(a->put);
        a->put = sl_xmalloc(a->cap_put);
    }
    uint8_t *v = a->put;
    uint8_t *k = v + n; /* wk may view the scratch buffer: keep a copy beside the value */
    memcpy(k, wk.p, wk.len);
    sl_store_be64(v, (uint64_t)w->start);
    sl_store_be64(v + 8, (uint64_t)w->end);
    v[16] = w->fired;
    memcpy(v + HDR, w->state, a->ops.state_bytes);
    sl_kv_put(a->kv, (sl_bytes_t){k, wk.len}, (sl_bytes_t){v, n});
}

static sl_bytes_t key_of_win(sl_bytes_t wk) {
    return (sl_bytes_t){wk.p + 1, wk.len - 9};
}

/* ---- construction ---- */

sl_winagg_t *sl_winagg_new(const sl_winagg_conf_t *conf, const sl_winagg_ops_t *ops, sl_kv_t *store,
                           const char **why) {
    sl_winagg_conf_t c = *conf;
    if (sl_win_check(&c.window, why) != SL_OK) {
        return NULL;
    }
    if (c.grace_ms < 0 || c.lateness_ms < 0) {
        *why = "grace and allowed lateness cannot be negative";
        return NULL;
    }
    if (c.emit != SL_EMIT_FINAL && c.emit != SL_EMIT_CHANGES) {
        *why = "emit must be final or changes";
        return NULL;
    }
    if (!ops->step || !ops->emit || !ops->late ||
        (c.window.kind == SL_WIN_SESSION && !ops->merge)) {
        *why = "step, emit and late are required, and merge for session windows";
        return NULL;
    }
    sl_winagg_t *a = sl_xcalloc(1, sizeof *a);
    a->state = sl_xmalloc(ops->state_bytes ? ops->state_bytes : 1);
    a->c = c;
    a->ops = *ops;
    a->kv = store;
    sl_winagg_rebuild(a);
    return a;
}

void sl_winagg_free(sl_winagg_t *a) {
    if (!a) {
        return;
    }
    sl_dueq_free(&a->due);
    free(a->scratch);
    free(a->state);
    free(a->put);
    free(a);
}

size_t sl_winagg_open(const sl_winagg_t *a) {
    return a->n_windows;
}

typedef struct rebuild {
    sl_winagg_t *a;
} rebuild_t;

static void rebuild_one(sl_bytes_t key, const sl_bytes_t *val, void *arg) {
    sl_winagg_t *a = ((rebuild_t *)arg)->a;
    if (key.len < 9 || key.p[0] != 'W' || val->len < HDR) {
        return;
    }
    int64_t end = (int64_t)sl_load_be64(val->p + 8);
    sl_dueq_push(&a->due, due_of(a, end, val->p[16] != 0), key);
    a->n_windows++;
}

void sl_winagg_rebuild(sl_winagg_t *a) {
    sl_dueq_clear(&a->due);
    a->n_windows = 0;
    rebuild_t r = {a};
    sl_kv_each(a->kv, rebuild_one, &r);
}

/* ---- sessions: the per-key list in the store ---- */

static sl_bytes_t list_key(sl_winagg_t *a, sl_bytes_t key) {
    uint8_t *p = scratch(a, key.len + 1);
    p[0] = 'S';
    if (key.len) {
        memcpy(p + 1, key.p, key.len);
    }
    return (sl_bytes_t){p, key.len + 1};
}

static void list_load(sl_winagg_t *a, sl_bytes_t key, sl_session_list_t *l) {
    memset(l, 0, sizeof *l);
    sl_bytes_t v;
    if (!sl_kv_get(a->kv, list_key(a, key), &v)) {
        return;
    }
    l->n = l->cap = v.len / 24;
    l->v = sl_xmalloc((l->cap ? l->cap : 1) * sizeof *l->v);
    for (size_t i = 0; i < l->n; i++) {
        l->v[i].start = (int64_t)sl_load_be64(v.p + i * 24);
        l->v[i].end = (int64_t)sl_load_be64(v.p + i * 24 + 8);
        l->v[i].slot = sl_load_be64(v.p + i * 24 + 16);
    }
}

static void list_save(sl_winagg_t *a, sl_bytes_t key, const sl_session_list_t *l) {
    if (l->n == 0) {
        (void)sl_kv_del(a->kv, list_key(a, key));
        return;
    }
    uint8_t *v = sl_xmalloc(l->n * 24);
    for (size_t i = 0; i < l->n; i++) {
        sl_store_be64(v + i * 24, (uint64_t)l->v[i].start);
        sl_store_be64(v + i * 24 + 8, (uint64_t)l->v[i].end);
        sl_store_be64(v + i * 24 + 16, l->v[i].slot);
    }
    sl_kv_put(a->kv, list_key(a, key), (sl_bytes_t){v, l->n * 24});
    free(v);
}

static uint64_t next_slot(sl_winagg_t *a) {
    sl_bytes_t nk = {(const uint8_t *)"N", 1}, v;
    uint64_t n = sl_kv_get(a->kv, nk, &v) && v.len == 8 ? sl_load_be64(v.p) : 1;
    uint8_t b[8];
    sl_store_be64(b, n + 1);
    sl_kv_put(a->kv, nk, (sl_bytes_t){b, 8});
    return n;
}

/* ---- adding records ---- */

static sl_err_t add_time(sl_winagg_t *a, sl_bytes_t key, sl_bytes_t value, int64_t ts, int64_t wm,
                         uint8_t *state) {
    int64_t starts[SL_WIN_MAX_PER_RECORD];
    size_t n = sl_win_assign(&a->c.window, ts, starts, SL_WIN_MAX_PER_RECORD);
    bool taken = false;
    int64_t last_end = INT64_MIN;
    for (size_t i = 0; i < n; i++) {
        int64_t end = sat_add(starts[i], a->c.window.size_ms);
        last_end = end;
        if (wm >= due_of(a, end, true)) {
            continue; /* retired: too late for this window */
        }
        taken = true;
        win_t w = {.state = state};
        sl_bytes_t wk = win_key(a, key, (uint64_t)starts[i]);
        /* An open window is stepped in place: one lookup, and no allocation once the window has
         * changed in this checkpoint (sl_kv_modify). The state is stepped in an aligned copy. */
        uint8_t *v = sl_kv_modify(a->kv, wk, HDR + a->ops.state_bytes);
        sl_err_t err;
        if (v) {
            w.start = (int64_t)sl_load_be64(v);
            w.end = (int64_t)sl_load_be64(v + 8);
            w.fired = v[16] != 0;
            memcpy(state, v + HDR, a->ops.state_bytes);
            err = a->ops.step(state, key, value, ts, a->ops.user);
            memcpy(v + HDR, state, a->ops.state_bytes);
        } else {
            w = (win_t){starts[i], end, false, state};
            memset(state, 0, a->ops.state_bytes);
            sl_dueq_push(&a->due, due_of(a, end, false), wk);
            a->n_windows++;
            err = a->ops.step(state, key, value, ts, a->ops.user);
            win_put(a, win_key(a, key, (uint64_t)starts[i]), &w);
        }
        if (err != SL_OK) {
            return err;
        }
        if (a->c.emit == SL_EMIT_CHANGES || w.fired) {
            err = a->ops.emit(w.fired ? SL_RESULT_UPDATE : SL_RESULT_FIRE, key, w.start, w.end,
                              state, a->ops.user);
            if (err != SL_OK) {
                return err;
            }
        }
    }
    return taken ? SL_OK : a->ops.late(key, value, ts, wm, last_end, a->ops.user);
}

static sl_err_t add_session(sl_winagg_t *a, sl_bytes_t key, sl_bytes_t value, int64_t ts,
                            int64_t wm, uint8_t *state) {
    int64_t gap = a->c.window.gap_ms;
    sl_session_list_t l;
    list_load(a, key, &l);
    /* Where the record would land, before changing anything: late if even that is retired. */
    int64_t last = ts;
    bool near = false;
    for (size_t i = 0; i < l.n; i++) {
        if (ts >= sat_add(l.v[i].start, -gap) && ts <= sat_add(l.v[i].end, gap)) {
            last = SL_MAX(last, l.v[i].end);
            near = true;
        }
    }
    if (wm >= due_of(a, last, true)) {
        sl_session_list_free(&l);
        return a->ops.late(key, value, ts, wm, last, a->ops.user);
    }
    sl_session_merge_t m;
    uint64_t slot_if_new = near ? 0 : next_slot(a); /* slots are taken only for new sessions */
    sl_session_insert(&l, ts, gap, slot_if_new, &m);
    sl_session_t s = l.v[m.at];
    win_t w = {.state = state};
    sl_err_t err = SL_OK;
    if (m.created) {
        w = (win_t){s.start, s.end, false, state};
        memset(state, 0, a->ops.state_bytes);
        sl_dueq_push(&a->due, due_of(a, s.end, false), win_key(a, key, s.slot));
        a->n_windows++;
    } else {
        bool found = win_get(a, win_key(a, key, s.slot), &w);
        SL_ASSERT(found);
        if (w.fired || a->c.emit == SL_EMIT_CHANGES) {
            /* Its bounds are about to change: the result under the old bounds no longer holds. */
            if (w.start != s.start || w.end != s.end || m.bridged) {
                err = a->ops.emit(SL_RESULT_RETRACT, key, w.start, w.end, NULL, a->ops.user);
            }
        }
        w.start = s.start;
        w.end = s.end;
    }
    if (m.bridged && err == SL_OK) {
        uint8_t *other = sl_xmalloc(a->ops.state_bytes ? a->ops.state_bytes : 1);
        win_t o = {.state = other};
        sl_bytes_t ok = win_key(a, key, m.absorbed.slot);
        if (win_get(a, ok, &o)) {
            a->ops.merge(state, other, a->ops.user);
            (void)sl_kv_del(a->kv, win_key(a, key, m.absorbed.slot));
            a->n_windows--;
            if (o.fired || a->c.emit == SL_EMIT_CHANGES) {
                err = a->ops.emit(SL_RESULT_RETRACT, key, o.start, o.end, NULL, a->ops.user);
            }
        }
        free(other);
    }
    sl_err_t serr = a->ops.step(state, key, value, ts, a->ops.user);
    win_put(a, win_key(a, key, s.slot), &w);
    list_save(a, key, &l);
    sl_session_list_free(&l);
    if (err == SL_OK) {
        err = serr;
    }
    if (err == SL_OK && (w.fired || a->c.emit == SL_EMIT_CHANGES)) {
        err = a->ops.emit(w.fired ? SL_RESULT_UPDATE : SL_RESULT_FIRE, key, w.start, w.end, state,
                          a->ops.user);
    }
    return err;
}

sl_err_t sl_winagg_add(sl_winagg_t *a, sl_bytes_t key, sl_bytes_t value, int64_t ts, int64_t wm) {
    return sessions(a) ? add_session(a, key, value, ts, wm, a->state)
                       : add_time(a, key, value, ts, wm, a->state);
}

/* ---- firing ---- */

/* Removes a retired session from its key's list. */
static void session_forget(sl_winagg_t *a, sl_bytes_t key, uint64_t slot) {
    sl_session_list_t l;
    list_load(a, key, &l);
    for (size_t i = 0; i < l.n; i++) {
        if (l.v[i].slot == slot) {
            memmove(&l.v[i], &l.v[i + 1], (l.n - i - 1) * sizeof *l.v);
            l.n--;
            break;
        }
    }
    list_save(a, key, &l);
    sl_session_list_free(&l);
}

sl_err_t sl_winagg_advance(sl_winagg_t *a, int64_t wm) {
    uint8_t *state = a->state;
    sl_err_t err = SL_OK;
    while (err == SL_OK && sl_dueq_due(&a->due, wm)) {
        sl_due_t d = sl_dueq_pop(&a->due);
        sl_bytes_t wk = {d.k, d.klen};
        win_t w = {.state = state};
        if (!win_get(a, wk, &w)) {
            free(d.k); /* merged away or retired earlier */
            continue;
        }
        int64_t at = due_of(a, w.end, w.fired);
        if (at > d.at) {
            sl_dueq_push(&a->due, at,
                         wk); /* the window grew since: wait for its current due time */
            free(d.k);
            continue;
        }
        sl_bytes_t key = key_of_win(wk);
        bool fire = a->c.emit == SL_EMIT_FINAL && !w.fired;
        if (fire) {
            err = a->ops.emit(SL_RESULT_FIRE, key, w.start, w.end, state, a->ops.user);
        }
        if (fire && a->c.lateness_ms > 0) {
            w.fired = true;
            win_put(a, wk, &w);
            sl_dueq_push(&a->due, due_of(a, w.end, true), wk);
        } else {
            (void)sl_kv_del(a->kv, wk);
            a->n_windows--;
            if (sessions(a)) {
                session_forget(a, key, sl_load_be64(wk.p + wk.len - 8));
            }
        }
        free(d.k);
    }
    return err;
}

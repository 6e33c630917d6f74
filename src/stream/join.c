/* join.c -- tables and windowed stream-stream joins over a task's stores (rules in join.h).
 *
 * Store layout:
 *   table:  'T' key -> ts i64 | value
 *   window: 'L' key or 'R' key -> entries, oldest first: ts i64 | matched u8 | len u32 | value
 * ('M' belongs to the task: its watermark.) A key's buffer on one side is one store value, so a
 * checkpoint writes one changelog record per key and side changed. The expiry queue holds, for
 * every buffer, an entry due at its earliest record's ts + within + grace; an entry whose buffer
 * has since got an earlier record (and so a new entry) is stale and skipped when popped. */
#include "join.h"

#include <string.h>

#include "stream/dueq.h"

#define ENT_HDR 13 /* ts, matched, len */

static int64_t sat_add(int64_t a, int64_t b) {
    if (b > 0 && a > INT64_MAX - b) {
        return INT64_MAX;
    }
    if (b < 0 && a < INT64_MIN - b) {
        return INT64_MIN;
    }
    return a + b;
}

/* ---- tables ---- */

static uint8_t *prefixed(uint8_t tag, sl_bytes_t key, size_t *len) {
    uint8_t *p = sl_xmalloc(key.len + 1);
    p[0] = tag;
    if (key.len) {
        memcpy(p + 1, key.p, key.len);
    }
    *len = key.len + 1;
    return p;
}

void sl_table_apply(sl_kv_t *kv, sl_bytes_t key, sl_bytes_t value, int64_t ts) {
    if (!key.p) {
        return;
    }
    size_t kl;
    uint8_t *k = prefixed('T', key, &kl);
    if (!value.p) {
        (void)sl_kv_del(kv, (sl_bytes_t){k, kl});
    } else {
        uint8_t *v = sl_xmalloc(value.len + 8);
        sl_store_be64(v, (uint64_t)ts);
        if (value.len) {
            memcpy(v + 8, value.p, value.len);
        }
        sl_kv_put(kv, (sl_bytes_t){k, kl}, (sl_bytes_t){v, value.len + 8});
        free(v);
    }
    free(k);
}

bool sl_table_get(sl_kv_t *kv, sl_bytes_t key, sl_bytes_t *value, int64_t *ts) {
    if (!key.p) {
        return false;
    }
    uint8_t small[256];
    size_t kl = key.len + 1;
    uint8_t *k = kl <= sizeof small ? small : sl_xmalloc(kl);
    k[0] = 'T';
    if (key.len) {
        memcpy(k + 1, key.p, key.len);
    }
    sl_bytes_t v;
    bool found = sl_kv_get(kv, (sl_bytes_t){k, kl}, &v) && v.len >= 8;
    if (k != small) {
        free(k);
    }
    if (found) {
        *ts = (int64_t)sl_load_be64(v.p);
        *value = (sl_bytes_t){v.p + 8, v.len - 8};
    }
    return found;
}

/* ---- windowed joins ---- */

struct sl_wjoin {
    sl_wjoin_kind_t kind;
    int64_t within, grace;
    sl_wjoin_ops_t ops;
    sl_kv_t *kv;
    sl_dueq_t due; /* when each key is due */
    size_t buffered;
};

/* One entry of a buffer, viewing the buffer's bytes. */
typedef struct ent {
    int64_t ts;
    bool matched;
    sl_bytes_t value;
    size_t at; /* offset of the entry in the buffer */
} ent_t;

/* The entry at *off in buf[0..len); false at the end or on a malformed tail. */
static bool ent_next(const uint8_t *buf, size_t len, size_t *off, ent_t *e) {
    if (*off + ENT_HDR > len) {
        return false;
    }
    const uint8_t *p = buf + *off;
    uint32_t n = sl_load_be32(p + 9);
    if (n > len - *off - ENT_HDR) {
        return false;
    }
    e->ts = (int64_t)sl_load_be64(p);
    e->matched = p[8] != 0;
    e->value = (sl_bytes_t){p + ENT_HDR, n};
    e->at = *off;
    *off += ENT_HDR + n;
    return true;
}

sl_wjoin_t *sl_wjoin_new(sl_wjoin_kind_t kind, int64_t within_ms, int64_t grace_ms,
                         const sl_wjoin_ops_t *ops, sl_kv_t *store, const char **why) {
    if (within_ms < 0 || grace_ms < 0) {
        *why = "the join window and grace cannot be negative";
        return NULL;
    }
    if (kind != SL_WJOIN_INNER && kind != SL_WJOIN_LEFT && kind != SL_WJOIN_OUTER) {
        *why = "a windowed join is inner, left or outer";
        return NULL;
    }
    if (!ops->emit || !ops->late) {
        *why = "emit and late are required";
        return NULL;
    }
    sl_wjoin_t *j = sl_xcalloc(1, sizeof *j);
    j->kind = kind;
    j->within = within_ms;
    j->grace = grace_ms;
    j->ops = *ops;
    j->kv = store;
    sl_wjoin_rebuild(j);
    return j;
}

void sl_wjoin_free(sl_wjoin_t *j) {
    if (!j) {
        return;
    }
    sl_dueq_free(&j->due);
    free(j);
}

size_t sl_wjoin_buffered(const sl_wjoin_t *j) {
    return j->buffered;
}

static int64_t expiry(const sl_wjoin_t *j, int64_t ts) {
    return sat_add(sat_add(ts, j->within), j->grace);
}

/* The earliest expiry in a buffer and its number of entries. */
static int64_t buffer_due(const sl_wjoin_t *j, sl_bytes_t v, size_t *n) {
    int64_t due = INT64_MAX;
    size_t off = 0;
    ent_t e;
    *n = 0;
    while (ent_next(v.p, v.len, &off, &e)) {
        due = SL_MIN(due, expiry(j, e.ts));
        (*n)++;
    }
    return due;
}

typedef struct rebuild {
    sl_wjoin_t *j;
} rebuild_t;

static void rebuild_one(sl_bytes_t key, const sl_bytes_t *val, void *arg) {
    sl_wjoin_t *j = ((rebuild_t *)arg)->j;
    if (key.len < 1 || (key.p[0] != 'L' && key.p[0] != 'R')) {
        return;
    }
    size_t n;
    int64_t due = buffer_due(j, *val, &n);
    if (n) {
        sl_dueq_push(&j->due, due, key);
        j->buffered += n;
    }
}

void sl_wjoin_rebuild(sl_wjoin_t *j) {
    sl_dueq_clear(&j->due);
    j->buffered = 0;
    rebuild_t r = {j};
    sl_kv_each(j->kv, rebuild_one, &r);
}

/* A copy of the buffer under k (empty when there is none); the caller frees p. */
static sl_bytes_t load_copy(const sl_wjoin_t *j, sl_bytes_t k) {
    sl_bytes_t v;
    if (!sl_kv_get(j->kv, k, &v) || v.len == 0) {
        return (sl_bytes_t){NULL, 0};
    }
    uint8_t *p = sl_xmalloc(v.len);
    memcpy(p, v.p, v.len);
    return (sl_bytes_t){p, v.len};
}

static sl_err_t emit_pair(sl_wjoin_t *j, int side, sl_bytes_t key, sl_bytes_t mine, int64_t ts,
                          const ent_t *other) {
    if (side == 0) {
        return j->ops.emit(key, &mine, ts, &other->value, other->ts, j->ops.user);
    }
    return j->ops.emit(key, &other->value, other->ts, &mine, ts, j->ops.user);
}

sl_err_t sl_wjoin_add(sl_wjoin_t *j, int side, sl_bytes_t key, sl_bytes_t value, int64_t ts,
                      int64_t wm) {
    if (wm >= sat_add(ts, j->grace)) {
        return j->ops.late(side, key, value, ts, wm, j->ops.user);
    }
    size_t kl;
    uint8_t *mk = prefixed(side == 0 ? 'L' : 'R', key, &kl);
    uint8_t *ok = prefixed(side == 0 ? 'R' : 'L', key, &kl);
    sl_bytes_t mine_k = {mk, kl}, other_k = {ok, kl};
    /* Join with the other side's buffer, marking what matched. */
    sl_err_t err = SL_OK;
    bool matched = false, marked = false;
    sl_bytes_t other = load_copy(j, other_k);
    size_t off = 0;
    ent_t e;
    while (ent_next(other.p, other.len, &off, &e)) {
        int64_t d = e.ts > ts ? e.ts - ts : ts - e.ts;
        if (d < 0 || d > j->within) { /* d < 0: the difference overflowed */
            continue;
        }
        matched = true;
        if (!e.matched) {
            ((uint8_t *)other.p)[e.at + 8] = 1;
            marked = true;
        }
        sl_err_t eerr = emit_pair(j, side, key, value, ts, &e);
        if (err == SL_OK) {
            err = eerr;
        }
    }
    if (marked) {
        sl_kv_put(j->kv, other_k, other);
    }
    free((void *)other.p);
    /* Buffer the record. */
    sl_bytes_t cur;
    size_t n_before = 0;
    int64_t due_before = INT64_MAX;
    size_t cur_len = 0;
    if (sl_kv_get(j->kv, mine_k, &cur)) {
        due_before = buffer_due(j, cur, &n_before);
        cur_len = cur.len;
    }
    size_t nl = cur_len + ENT_HDR + value.len;
    uint8_t *buf = sl_xmalloc(nl);
    if (cur_len) {
        memcpy(buf, cur.p, cur_len);
    }
    uint8_t *p = buf + cur_len;
    sl_store_be64(p, (uint64_t)ts);
    p[8] = matched;
    sl_store_be32(p + 9, (uint32_t)value.len);
    if (value.len) {
        memcpy(p + ENT_HDR, value.p, value.len);
    }
    sl_kv_put(j->kv, mine_k, (sl_bytes_t){buf, nl});
    free(buf);
    j->buffered++;
    int64_t due = expiry(j, ts);
    if (n_before == 0 || due < due_before) {
        sl_dueq_push(&j->due, due, mine_k);
    }
    free(mk);
    free(ok);
    return err;
}

/* Whether an unmatched record of `side` is emitted alone when it expires. */
static bool emits_alone(const sl_wjoin_t *j, int side) {
    return side == 0 ? j->kind != SL_WJOIN_INNER : j->kind == SL_WJOIN_OUTER;
}

/* Expires what wm allows in the buffer under k; pushes its next due time. */
static sl_err_t expire(sl_wjoin_t *j, sl_bytes_t k, int64_t wm) {
    sl_bytes_t v = load_copy(j, k);
    int side = k.p[0] == 'L' ? 0 : 1;
    sl_bytes_t key = {k.p + 1, k.len - 1};
    uint8_t *keep = sl_xmalloc(v.len ? v.len : 1);
    size_t kept = 0, n_kept = 0, off = 0;
    int64_t next = INT64_MAX;
    sl_err_t err = SL_OK;
    ent_t e;
    while (ent_next(v.p, v.len, &off, &e)) {
        int64_t at = expiry(j, e.ts);
        if (at > wm) {
            memcpy(keep + kept, v.p + e.at, ENT_HDR + e.value.len);
            kept += ENT_HDR + e.value.len;
            n_kept++;
            next = SL_MIN(next, at);
            continue;
        }
        j->buffered--;
        if (!e.matched && emits_alone(j, side)) {
            sl_err_t eerr = side == 0 ? j->ops.emit(key, &e.value, e.ts, NULL, 0, j->ops.user)
                                      : j->ops.emit(key, NULL, 0, &e.value, e.ts, j->ops.user);
            if (err == SL_OK) {
                err = eerr;
            }
        }
    }
    if (n_kept) {
        sl_kv_put(j->kv, k, (sl_bytes_t){keep, kept});
        sl_dueq_push(&j->due, next, k);
    } else if (v.len) {
        (void)sl_kv_del(j->kv, k);
    }
    free(keep);
    free((void *)v.p);
    return err;
}

sl_err_t sl_wjoin_advance(sl_wjoin_t *j, int64_t wm) {
    sl_err_t err = SL_OK;
    while (sl_dueq_due(&j->due, wm)) {
        sl_due_t d = sl_dueq_pop(&j->due);
        sl_bytes_t k = {d.k, d.klen}, v;
        size_t n = 0;
        bool current = sl_kv_get(j->kv, k, &v) && buffer_due(j, v, &n) == d.at && n > 0;
        if (current) { /* else stale: the buffer has an entry at its real due time */
            sl_err_t e = expire(j, k, wm);
            if (err == SL_OK) {
                err = e;
            }
        }
        free(d.k);
    }
    return err;
}

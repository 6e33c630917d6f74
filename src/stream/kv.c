/* kv.c -- keyed state with a commit/abort log (see kv.h).
 *
 * Each key has at most one entry in the table. A key deleted since the commit keeps a tombstone
 * entry (flag `deleted`) until sl_kv_commit, so "was it already changed in this transaction?" is a
 * field of the entry, never a second lookup. The change log holds, per changed key, the entry it
 * had at the commit (`old`, NULL when it did not exist) and its current entry (`cur`); committed
 * entries are never modified in place, a change allocates a new one. */
#include "kv.h"

#include <string.h>

typedef struct entry {
    uint64_t hash;
    int32_t change; /* index in the change log, -1 when unchanged since the commit */
    bool deleted;
    uint32_t klen, vlen;
    uint8_t data[]; /* key then value */
} entry_t;

typedef struct change {
    entry_t *old; /* committed image; NULL: the key did not exist */
    entry_t *cur; /* current entry (a tombstone when deleted) */
} change_t;

struct sl_kv {
    entry_t **slots;
    size_t cap, used; /* used counts tombstone entries too */
    size_t count;     /* live keys */
    size_t bytes;     /* entry allocations, table and log */
    change_t *log;
    size_t n_log, cap_log;
};

static uint64_t hash_bytes(sl_bytes_t k) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < k.len; i++) {
        h = (h ^ k.p[i]) * 1099511628211ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static size_t entry_size(const entry_t *e) {
    return sizeof *e + e->klen + e->vlen;
}

static entry_t *entry_new(sl_kv_t *kv, uint64_t hash, sl_bytes_t key, const sl_bytes_t *val) {
    SL_ASSERT(key.len <= UINT32_MAX && (!val || val->len <= UINT32_MAX));
    size_t vlen = val ? val->len : 0;
    entry_t *e = sl_xmalloc(sizeof *e + key.len + vlen);
    e->hash = hash;
    e->change = -1;
    e->deleted = val == NULL;
    e->klen = (uint32_t)key.len;
    e->vlen = (uint32_t)vlen;
    if (key.len) {
        memcpy(e->data, key.p, key.len);
    }
    if (vlen) {
        memcpy(e->data + key.len, val->p, vlen);
    }
    kv->bytes += entry_size(e);
    return e;
}

static void entry_free(sl_kv_t *kv, entry_t *e) {
    if (e) {
        kv->bytes -= entry_size(e);
        free(e);
    }
}

static bool entry_is(const entry_t *e, uint64_t hash, sl_bytes_t key) {
    return e->hash == hash && e->klen == key.len && (!key.len || !memcmp(e->data, key.p, key.len));
}

sl_kv_t *sl_kv_new(void) {
    sl_kv_t *kv = sl_xcalloc(1, sizeof *kv);
    kv->cap = 16;
    kv->slots = sl_xcalloc(kv->cap, sizeof *kv->slots);
    kv->bytes = sizeof *kv + kv->cap * sizeof *kv->slots;
    return kv;
}

void sl_kv_free(sl_kv_t *kv) {
    if (!kv) {
        return;
    }
    for (size_t i = 0; i < kv->n_log; i++) {
        if (kv->log[i].old) {
            free(kv->log[i].old); /* committed copies are outside the table */
        }
    }
    for (size_t i = 0; i < kv->cap; i++) {
        free(kv->slots[i]);
    }
    free(kv->slots);
    free(kv->log);
    free(kv);
}

/* The slot holding key, or the empty slot where it would go. */
static size_t find_slot(const sl_kv_t *kv, uint64_t hash, sl_bytes_t key) {
    size_t mask = kv->cap - 1;
    size_t i = (size_t)hash & mask;
    while (kv->slots[i] && !entry_is(kv->slots[i], hash, key)) {
        i = (i + 1) & mask;
    }
    return i;
}

static void grow(sl_kv_t *kv) {
    size_t ncap = kv->cap * 2;
    entry_t **ns = sl_xcalloc(ncap, sizeof *ns);
    for (size_t i = 0; i < kv->cap; i++) {
        entry_t *e = kv->slots[i];
        if (e) {
            size_t j = (size_t)e->hash & (ncap - 1);
            while (ns[j]) {
                j = (j + 1) & (ncap - 1);
            }
            ns[j] = e;
        }
    }
    free(kv->slots);
    kv->bytes += (ncap - kv->cap) * sizeof *ns;
    kv->slots = ns;
    kv->cap = ncap;
}

/* Empties slot i and shifts later members of its probe run back (no tombstone slots). */
static void remove_slot(sl_kv_t *kv, size_t i) {
    size_t mask = kv->cap - 1;
    kv->slots[i] = NULL;
    kv->used--;
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        entry_t *e = kv->slots[j];
        if (!e) {
            return;
        }
        size_t home = (size_t)e->hash & mask;
        /* e may move to the hole at i unless its home lies cyclically in (i, j]. */
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            kv->slots[i] = e;
            kv->slots[j] = NULL;
            i = j;
        }
    }
}

bool sl_kv_get(const sl_kv_t *kv, sl_bytes_t key, sl_bytes_t *val) {
    entry_t *e = kv->slots[find_slot(kv, hash_bytes(key), key)];
    if (!e || e->deleted) {
        return false;
    }
    val->p = e->data + e->klen;
    val->len = e->vlen;
    return true;
}

/* Puts `n` (a new entry for key, live or a tombstone) in place of what slot i holds, recording
 * the change the first time the key changes in this transaction. */
static void log_push(sl_kv_t *kv, entry_t *old, entry_t *n) {
    if (kv->n_log == kv->cap_log) {
        size_t ncap = kv->cap_log ? kv->cap_log * 2 : 16;
        kv->log = sl_xrealloc(kv->log, ncap * sizeof *kv->log);
        kv->bytes += (ncap - kv->cap_log) * sizeof *kv->log;
        kv->cap_log = ncap;
    }
    SL_ASSERT(kv->n_log < INT32_MAX);
    n->change = (int32_t)kv->n_log;
    kv->log[kv->n_log++] = (change_t){old, n};
}

static void replace(sl_kv_t *kv, size_t i, entry_t *n) {
    entry_t *e = kv->slots[i];
    if (!e) {
        log_push(kv, NULL, n);
        kv->used++;
    } else if (e->change < 0) {
        log_push(kv, e, n); /* e is kept as the committed copy */
    } else {
        n->change = e->change;
        kv->log[e->change].cur = n;
    }
    kv->slots[i] = n;
    if (!n->deleted && (!e || e->deleted)) {
        kv->count++;
    } else if (n->deleted && e && !e->deleted) {
        kv->count--;
    }
    if (e && n->change >= 0 && kv->log[n->change].old != e) {
        entry_free(kv, e); /* an uncommitted version nobody needs */
    }
}

void sl_kv_put(sl_kv_t *kv, sl_bytes_t key, sl_bytes_t val) {
    if ((kv->used + 1) * 10 > kv->cap * 7) {
        grow(kv);
    }
    uint64_t h = hash_bytes(key);
    entry_t *n = entry_new(kv, h, key, &val); /* copies first: key/val may view the old entry */
    replace(kv, find_slot(kv, h, key), n);
}

bool sl_kv_del(sl_kv_t *kv, sl_bytes_t key) {
    uint64_t h = hash_bytes(key);
    size_t i = find_slot(kv, h, key);
    entry_t *e = kv->slots[i];
    if (!e || e->deleted) {
        return false;
    }
    replace(kv, i, entry_new(kv, h, key, NULL));
    return true;
}

size_t sl_kv_count(const sl_kv_t *kv) {
    return kv->count;
}

size_t sl_kv_bytes(const sl_kv_t *kv) {
    return kv->bytes;
}

static sl_bytes_t key_of(const entry_t *e) {
    return (sl_bytes_t){e->data, e->klen};
}

void sl_kv_each_changed(const sl_kv_t *kv, sl_kv_each_fn *fn, void *arg) {
    for (size_t i = 0; i < kv->n_log; i++) {
        const entry_t *c = kv->log[i].cur;
        sl_bytes_t v = {c->data + c->klen, c->vlen};
        fn(key_of(c), c->deleted ? NULL : &v, arg);
    }
}

size_t sl_kv_changed_count(const sl_kv_t *kv) {
    return kv->n_log;
}

void sl_kv_commit(sl_kv_t *kv) {
    for (size_t i = 0; i < kv->n_log; i++) {
        change_t *c = &kv->log[i];
        entry_free(kv, c->old);
        c->cur->change = -1;
        if (c->cur->deleted) {
            remove_slot(kv, find_slot(kv, c->cur->hash, key_of(c->cur)));
            entry_free(kv, c->cur);
        }
    }
    kv->n_log = 0;
}

void sl_kv_abort(sl_kv_t *kv) {
    for (size_t i = kv->n_log; i-- > 0;) {
        change_t *c = &kv->log[i];
        size_t s = find_slot(kv, c->cur->hash, key_of(c->cur));
        SL_ASSERT(kv->slots[s] == c->cur);
        if (!c->cur->deleted) {
            kv->count--;
        }
        if (c->old) {
            kv->slots[s] = c->old;
            if (!c->old->deleted) {
                kv->count++;
            }
        } else {
            remove_slot(kv, s);
        }
        entry_free(kv, c->cur);
    }
    kv->n_log = 0;
}

void sl_kv_each(const sl_kv_t *kv, sl_kv_each_fn *fn, void *arg) {
    for (size_t i = 0; i < kv->cap; i++) {
        const entry_t *e = kv->slots[i];
        if (e && !e->deleted) {
            sl_bytes_t v = {e->data + e->klen, e->vlen};
            fn(key_of(e), &v, arg);
        }
    }
}

/* kv.c -- keyed state with a commit/abort log (see kv.h).
 *
 * Each key has at most one entry in the table. A key deleted since the commit keeps a tombstone
 * entry (flag `deleted`) until sl_kv_commit, so "was it already changed in this transaction?" is a
 * field of the entry, never a second lookup. The change log holds, per changed key, the entry it
 * had at the commit (`old`, NULL when it did not exist) and its current entry (`cur`); committed
 * entries are never modified in place, a change allocates a new one. */
#include "kv.h"

#include <errno.h>
#include <rocksdb/c.h>
#include <stdio.h>
#include <string.h>

#include "common/os.h"

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
    /* Disk stores: the committed image lives in RocksDB; the table caches it (clean entries)
     * and holds the changes since the commit. */
    rocksdb_t *db;
    rocksdb_options_t *opts;
    rocksdb_readoptions_t *ro;
    rocksdb_writeoptions_t *wo;
    rocksdb_cache_t *block_cache;
    rocksdb_block_based_table_options_t *table_opts;
    size_t cache_max;            /* clean entries are dropped at a commit past this */
    int64_t covered, cover_next; /* the changelog offset the committed image covers; next one */
    char err[SL_ERRLEN];
};

/* Keys of a disk store's own records: a zero byte first, which no engine key starts with. */
static const sl_bytes_t COVER_KEY = {(const uint8_t *)"\0cover", 6};
static const sl_bytes_t COUNT_KEY = {(const uint8_t *)"\0count", 6};

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
    if (kv->db) {
        rocksdb_close(kv->db);
    }
    if (kv->opts) {
        rocksdb_options_destroy(kv->opts);
        rocksdb_block_based_options_destroy(kv->table_opts);
        rocksdb_cache_destroy(kv->block_cache);
        rocksdb_readoptions_destroy(kv->ro);
        rocksdb_writeoptions_destroy(kv->wo);
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

/* Disk stores: a key missing from the table is read from RocksDB into the table as a clean
 * entry (the committed image), so that changes to it are logged against that image. Returns the
 * key's slot either way. */
static size_t load(sl_kv_t *kv, uint64_t hash, sl_bytes_t key) {
    size_t i = find_slot(kv, hash, key);
    if (kv->slots[i] || !kv->db) {
        return i;
    }
    size_t vlen = 0;
    char *err = NULL;
    char *v = rocksdb_get(kv->db, kv->ro, (const char *)key.p, key.len, &vlen, &err);
    if (err) {
        snprintf(kv->err, sizeof kv->err, "read: %s", err); /* reported by the next commit */
        rocksdb_free(err);
        return i;
    }
    if (!v) {
        return i;
    }
    if ((kv->used + 1) * 10 > kv->cap * 7) {
        grow(kv);
        i = find_slot(kv, hash, key);
    }
    kv->slots[i] = entry_new(kv, hash, key, &(sl_bytes_t){(const uint8_t *)v, vlen});
    kv->used++;
    rocksdb_free(v);
    return i;
}

bool sl_kv_get(sl_kv_t *kv, sl_bytes_t key, sl_bytes_t *val) {
    size_t i = load(kv, hash_bytes(key), key); /* first: it may grow the table */
    entry_t *e = kv->slots[i];
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
    replace(kv, load(kv, h, key), n);
}

uint8_t *sl_kv_modify(sl_kv_t *kv, sl_bytes_t key, size_t vlen) {
    uint64_t h = hash_bytes(key);
    size_t i = load(kv, h, key);
    entry_t *e = kv->slots[i];
    if (!e || e->deleted || e->vlen != vlen) {
        return NULL;
    }
    if (e->change < 0) {
        /* The committed version: it stays as the abort's copy, the caller writes a new one. */
        sl_bytes_t v = {e->data + e->klen, e->vlen};
        entry_t *n = entry_new(kv, h, (sl_bytes_t){e->data, e->klen}, &v);
        replace(kv, i, n);
        e = n;
    }
    return e->data + e->klen; /* an uncommitted version, already listed as changed */
}

bool sl_kv_del(sl_kv_t *kv, sl_bytes_t key) {
    uint64_t h = hash_bytes(key);
    size_t i = load(kv, h, key);
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

/* Disk stores: the changes, the live-key count and the covered changelog offset in one atomic
 * RocksDB write. Not synced: a process crash keeps the OS's copy, and a power cut leaves an
 * earlier consistent image whose covered offset makes the restore replay what it lacks. */
static sl_err_t write_disk(sl_kv_t *kv) {
    if (kv->err[0]) {
        return SL_ERR_IO; /* a read failed since the last commit */
    }
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    for (size_t i = 0; i < kv->n_log; i++) {
        const entry_t *c = kv->log[i].cur;
        if (c->deleted) {
            rocksdb_writebatch_delete(wb, (const char *)c->data, c->klen);
        } else {
            rocksdb_writebatch_put(wb, (const char *)c->data, c->klen,
                                   (const char *)c->data + c->klen, c->vlen);
        }
    }
    uint8_t b[8];
    sl_store_be64(b, (uint64_t)kv->count);
    rocksdb_writebatch_put(wb, (const char *)COUNT_KEY.p, COUNT_KEY.len, (const char *)b, 8);
    if (kv->cover_next >= 0) {
        sl_store_be64(b, (uint64_t)kv->cover_next);
        rocksdb_writebatch_put(wb, (const char *)COVER_KEY.p, COVER_KEY.len, (const char *)b, 8);
    }
    char *err = NULL;
    rocksdb_write(kv->db, kv->wo, wb, &err);
    rocksdb_writebatch_destroy(wb);
    if (err) {
        snprintf(kv->err, sizeof kv->err, "write: %s", err);
        rocksdb_free(err);
        return SL_ERR_IO;
    }
    if (kv->cover_next >= 0) {
        kv->covered = kv->cover_next;
    }
    return SL_OK;
}

/* Disk stores past their cache budget drop every cached entry (all clean after a commit). */
static void drop_cache(sl_kv_t *kv) {
    for (size_t i = 0; i < kv->cap; i++) {
        entry_free(kv, kv->slots[i]);
        kv->slots[i] = NULL;
    }
    kv->used = 0;
}

sl_err_t sl_kv_commit(sl_kv_t *kv) {
    if (kv->db && write_disk(kv) != SL_OK) {
        return SL_ERR_IO;
    }
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
    if (kv->db && kv->bytes > kv->cache_max) {
        drop_cache(kv);
    }
    return SL_OK;
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

/* Disk stores: RocksDB's image with the table's changes over it. */
static void each_disk(sl_kv_t *kv, sl_kv_each_fn *fn, void *arg) {
    rocksdb_iterator_t *it = rocksdb_create_iterator(kv->db, kv->ro);
    for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t kl, vl;
        const char *k = rocksdb_iter_key(it, &kl);
        const char *v = rocksdb_iter_value(it, &vl);
        if (kl && k[0] == 0) {
            continue; /* the store's own records */
        }
        sl_bytes_t key = {(const uint8_t *)k, kl}, val = {(const uint8_t *)v, vl};
        const entry_t *e = kv->slots[find_slot(kv, hash_bytes(key), key)];
        if (e && e->change >= 0) {
            continue; /* changed since the commit: listed from the table below */
        }
        fn(key, &val, arg);
    }
    rocksdb_iter_destroy(it);
    for (size_t i = 0; i < kv->n_log; i++) {
        const entry_t *c = kv->log[i].cur;
        if (!c->deleted) {
            sl_bytes_t v = {c->data + c->klen, c->vlen};
            fn(key_of(c), &v, arg);
        }
    }
}

void sl_kv_each(sl_kv_t *kv, sl_kv_each_fn *fn, void *arg) {
    if (kv->db) {
        each_disk(kv, fn, arg);
        return;
    }
    for (size_t i = 0; i < kv->cap; i++) {
        const entry_t *e = kv->slots[i];
        if (e && !e->deleted) {
            sl_bytes_t v = {e->data + e->klen, e->vlen};
            fn(key_of(e), &v, arg);
        }
    }
}

/* ---- disk stores (RocksDB) ---- */

static int64_t load_i64(sl_kv_t *kv, sl_bytes_t key, int64_t dflt) {
    size_t n = 0;
    char *err = NULL;
    char *v = rocksdb_get(kv->db, kv->ro, (const char *)key.p, key.len, &n, &err);
    int64_t r = v && n == 8 ? (int64_t)sl_load_be64((const uint8_t *)v) : dflt;
    rocksdb_free(v);
    rocksdb_free(err);
    return r;
}

sl_kv_t *sl_kv_open(const char *dir, size_t cache_bytes, char *errbuf, size_t errlen) {
    if (sl_os_mkdirs(dir) != 0) {
        snprintf(errbuf, errlen, "state directory %s: %s", dir, strerror(errno));
        return NULL;
    }
    sl_kv_t *kv = sl_kv_new();
    kv->cache_max = cache_bytes;
    kv->cover_next = -1;
    /* Memory stays bounded whatever the state's size: small memtables, a small block cache
     * (index and filter blocks charged to it), bloom filters so a missing key costs no read. */
    kv->opts = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(kv->opts, 1);
    rocksdb_options_set_write_buffer_size(kv->opts, 4 << 20);
    rocksdb_options_set_max_write_buffer_number(kv->opts, 2);
    rocksdb_options_set_max_open_files(kv->opts, 64);
    rocksdb_options_set_compression(kv->opts, rocksdb_lz4_compression);
    kv->block_cache = rocksdb_cache_create_lru(8 << 20);
    kv->table_opts = rocksdb_block_based_options_create();
    rocksdb_block_based_options_set_block_cache(kv->table_opts, kv->block_cache);
    rocksdb_block_based_options_set_cache_index_and_filter_blocks(kv->table_opts, 1);
    rocksdb_block_based_options_set_filter_policy(kv->table_opts,
                                                  rocksdb_filterpolicy_create_bloom(10));
    rocksdb_options_set_block_based_table_factory(kv->opts, kv->table_opts);
    kv->ro = rocksdb_readoptions_create();
    kv->wo = rocksdb_writeoptions_create();
    char *err = NULL;
    kv->db = rocksdb_open(kv->opts, dir, &err);
    if (!kv->db) {
        snprintf(errbuf, errlen, "state store %s: %s", dir, err ? err : "cannot open");
        rocksdb_free(err);
        sl_kv_free(kv);
        return NULL;
    }
    kv->covered = load_i64(kv, COVER_KEY, -1);
    kv->count = (size_t)load_i64(kv, COUNT_KEY, 0);
    return kv;
}

bool sl_kv_on_disk(const sl_kv_t *kv) {
    return kv->db != NULL;
}

int64_t sl_kv_covered(const sl_kv_t *kv) {
    return kv->db ? kv->covered : -1;
}

void sl_kv_cover(sl_kv_t *kv, int64_t next_offset) {
    kv->cover_next = next_offset;
}

const char *sl_kv_error(const sl_kv_t *kv) {
    return kv->err[0] ? kv->err : NULL;
}

sl_err_t sl_kv_wipe(sl_kv_t *kv) {
    sl_kv_abort(kv);
    if (!kv->db) {
        drop_cache(kv);
        kv->count = 0;
        return SL_OK;
    }
    drop_cache(kv);
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    rocksdb_iterator_t *it = rocksdb_create_iterator(kv->db, kv->ro);
    for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t kl;
        const char *k = rocksdb_iter_key(it, &kl);
        rocksdb_writebatch_delete(wb, k, kl);
    }
    rocksdb_iter_destroy(it);
    char *err = NULL;
    rocksdb_write(kv->db, kv->wo, wb, &err);
    rocksdb_writebatch_destroy(wb);
    if (err) {
        snprintf(kv->err, sizeof kv->err, "wipe: %s", err);
        rocksdb_free(err);
        return SL_ERR_IO;
    }
    kv->count = 0;
    kv->covered = kv->cover_next = -1;
    return SL_OK;
}

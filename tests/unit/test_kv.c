/* test_kv.c -- the keyed state store against a reference model over random puts, in-place
 * changes, deletes, commits and aborts: lookups, counts, the changed-key list a checkpoint writes
 * to the changelog, and abort restoring the committed image exactly; memory accounting back to its
 * floor. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "stream/kv.h"

#define NKEYS 300

typedef struct model {
    bool has[NKEYS];
    int val[NKEYS];
} model_t;

static sl_bytes_t key_of(int k, char *buf) {
    int n = snprintf(buf, 16, "k%d", k);
    return (sl_bytes_t){(const uint8_t *)buf, (size_t)n};
}

static bool same(sl_kv_t *kv, const model_t *m) {
    size_t live = 0;
    for (int k = 0; k < NKEYS; k++) {
        char b[16];
        sl_bytes_t v;
        bool found = sl_kv_get(kv, key_of(k, b), &v);
        if (found != m->has[k]) {
            return false;
        }
        if (found) {
            live++;
            if (v.len != sizeof(int) || memcmp(v.p, &m->val[k], sizeof(int))) {
                return false;
            }
        }
    }
    return live == sl_kv_count(kv);
}

typedef struct changed {
    int n;
    bool seen[NKEYS];
    const model_t *cur;
    bool ok;
} changed_t;

static void on_changed(sl_bytes_t key, const sl_bytes_t *val, void *arg) {
    changed_t *c = arg;
    int k = 0;
    for (size_t i = 1; i < key.len; i++) { /* "k<n>", not NUL-terminated */
        k = k * 10 + (key.p[i] - '0');
    }
    if (k < 0 || k >= NKEYS || c->seen[k]) {
        c->ok = false; /* listed twice */
        return;
    }
    c->seen[k] = true;
    c->n++;
    if ((val != NULL) != c->cur->has[k] ||
        (val && memcmp(val->p, &c->cur->val[k], sizeof(int)) != 0)) {
        c->ok = false;
    }
}

/* Up to `most` random puts (3 in 8), in-place changes (3 in 8) and deletes on kv and the model;
 * touched (may be NULL) marks the keys changed. false when a delete's or a change's answer
 * disagrees with the model. */
static bool random_ops(sl_kv_t *kv, model_t *cur, int most, bool *touched) {
    int ops = (int)(sl_test_rand() % (uint64_t)most);
    for (int i = 0; i < ops; i++) {
        int k = (int)(sl_test_rand() % NKEYS);
        char b[16];
        if (sl_test_rand() % 4 == 0) {
            if (sl_kv_del(kv, key_of(k, b)) != cur->has[k]) {
                return false;
            }
            if (cur->has[k] && touched) {
                touched[k] = true;
            }
            cur->has[k] = false;
        } else if (sl_test_rand() % 2 == 0) {
            /* In place: only a live key of the same length gives a view, and only then does the
             * key count as changed. */
            int v = (int)sl_test_rand();
            if (sl_kv_modify(kv, key_of(k, b), sizeof v + 1) != NULL) {
                return false;
            }
            uint8_t *p = sl_kv_modify(kv, key_of(k, b), sizeof v);
            if ((p != NULL) != cur->has[k]) {
                return false;
            }
            if (p) {
                memcpy(p, &v, sizeof v);
                cur->val[k] = v;
                if (touched) {
                    touched[k] = true;
                }
            }
        } else {
            int v = (int)sl_test_rand();
            sl_kv_put(kv, key_of(k, b), (sl_bytes_t){(const uint8_t *)&v, sizeof v});
            cur->has[k] = true;
            cur->val[k] = v;
            if (touched) {
                touched[k] = true;
            }
        }
    }
    return true;
}

TEST(random_ops_against_model) {
    sl_kv_t *kv = sl_kv_new();
    size_t floor_bytes = sl_kv_bytes(kv);
    model_t committed = {0}, cur = {0};
    bool touched[NKEYS] = {0};
    for (int round = 0; round < 400; round++) {
        CHECK(random_ops(kv, &cur, 200, touched));
        CHECK(same(kv, &cur));
        changed_t c = {.cur = &cur, .ok = true};
        sl_kv_each_changed(kv, on_changed, &c);
        CHECK(c.ok);
        for (int k = 0; k < NKEYS; k++) {
            CHECK_EQ_INT(c.seen[k], touched[k]); /* exactly the keys changed, once each */
        }
        CHECK_EQ_INT(sl_kv_changed_count(kv), c.n);
        if (sl_test_rand() % 3 == 0) {
            sl_kv_abort(kv);
            cur = committed;
        } else {
            CHECK(sl_kv_commit(kv) == SL_OK);
            committed = cur;
        }
        memset(touched, 0, sizeof touched);
        CHECK(same(kv, &cur));
        CHECK_EQ_INT(sl_kv_changed_count(kv), 0);
    }
    /* Delete everything and commit: memory goes back to what the table itself costs. */
    for (int k = 0; k < NKEYS; k++) {
        char b[16];
        (void)sl_kv_del(kv, key_of(k, b));
    }
    CHECK(sl_kv_commit(kv) == SL_OK);
    CHECK_EQ_INT(sl_kv_count(kv), 0);
    size_t empty = 0;
    for (int cycle = 0; cycle < 2; cycle++) {
        for (int k = 0; k < NKEYS; k++) {
            char b[16];
            sl_kv_put(kv, key_of(k, b), (sl_bytes_t){(const uint8_t *)"12345678", 8});
        }
        CHECK(sl_kv_commit(kv) == SL_OK);
        CHECK(sl_kv_bytes(kv) >= floor_bytes + NKEYS * 8);
        for (int k = 0; k < NKEYS; k++) {
            char b[16];
            CHECK(sl_kv_del(kv, key_of(k, b)));
        }
        CHECK(sl_kv_commit(kv) == SL_OK);
        if (cycle == 0) {
            empty = sl_kv_bytes(kv); /* table and log grown to their size for this load */
        }
    }
    CHECK_EQ_INT(sl_kv_bytes(kv), empty); /* every entry and committed copy accounted and freed */
    sl_kv_free(kv);
}

TEST(put_from_own_value_and_empty_keys) {
    sl_kv_t *kv = sl_kv_new();
    sl_kv_put(kv, (sl_bytes_t){(const uint8_t *)"", 0}, (sl_bytes_t){(const uint8_t *)"v1", 2});
    sl_bytes_t v;
    CHECK(sl_kv_get(kv, (sl_bytes_t){NULL, 0}, &v) && v.len == 2);
    /* A value viewed from the store, written back under another key and the same key. */
    sl_kv_put(kv, (sl_bytes_t){(const uint8_t *)"a", 1}, v);
    CHECK(sl_kv_get(kv, (sl_bytes_t){(const uint8_t *)"a", 1}, &v));
    sl_kv_put(kv, (sl_bytes_t){(const uint8_t *)"a", 1}, (sl_bytes_t){v.p, 1});
    CHECK(sl_kv_get(kv, (sl_bytes_t){(const uint8_t *)"a", 1}, &v) && v.len == 1 && v.p[0] == 'v');
    CHECK(sl_kv_commit(kv) == SL_OK);
    CHECK_EQ_INT(sl_kv_count(kv), 2);
    sl_kv_free(kv);
}

/* ---- disk stores (RocksDB) ---- */

static void tmp_dir(char *out, size_t cap) {
    snprintf(out, cap, "/tmp/sl-test-kv-XXXXXX");
    if (!mkdtemp(out)) {
        out[0] = 0;
    }
}

static void rm_dir(const char *dir) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "  could not remove %s\n", dir);
    }
}

/* The same random puts, deletes, commits and aborts as the memory store, with a cache far
 * smaller than the state (entries are dropped and read back from disk), reopening the store
 * now and then: after a reopen it holds exactly the last committed image and its covered offset. */
TEST(disk_store_random_ops_and_reopen) {
    char dir[64], err[256];
    tmp_dir(dir, sizeof dir);
    CHECK(dir[0]);
    sl_kv_t *kv = sl_kv_open(dir, 512, err, sizeof err);
    CHECK(kv != NULL && sl_kv_on_disk(kv));
    CHECK_EQ_INT(sl_kv_covered(kv), -1);
    model_t committed = {0}, cur = {0};
    int64_t cover = -1;
    for (int round = 0; round < 300; round++) {
        CHECK(random_ops(kv, &cur, 100, NULL));
        CHECK(same(kv, &cur));
        if (sl_test_rand() % 3 == 0) {
            sl_kv_abort(kv);
            cur = committed;
        } else {
            sl_kv_cover(kv, ++cover);
            CHECK(sl_kv_commit(kv) == SL_OK);
            committed = cur;
        }
        CHECK(same(kv, &cur));
        if (round % 25 == 24) {
            sl_kv_put(kv, (sl_bytes_t){(const uint8_t *)"k0", 2}, (sl_bytes_t){NULL, 0});
            sl_kv_free(kv); /* uncommitted change: gone with the process */
            kv = sl_kv_open(dir, 512, err, sizeof err);
            CHECK(kv != NULL);
            CHECK_EQ_INT(sl_kv_covered(kv), cover);
            cur = committed;
            CHECK(same(kv, &committed));
        }
    }
    CHECK(sl_kv_wipe(kv) == SL_OK);
    CHECK_EQ_INT(sl_kv_count(kv), 0);
    CHECK_EQ_INT(sl_kv_covered(kv), -1);
    sl_kv_free(kv);
    kv = sl_kv_open(dir, 512, err, sizeof err);
    CHECK(kv != NULL && sl_kv_count(kv) == 0 && sl_kv_covered(kv) == -1);
    model_t empty = {0};
    CHECK(same(kv, &empty));
    sl_kv_free(kv);
    rm_dir(dir);
}

typedef struct walk {
    int n;
    bool bad;
} walk_t;

static void on_walk(sl_bytes_t key, const sl_bytes_t *val, void *arg) {
    walk_t *w = arg;
    w->n++;
    /* keys "k<n>" with the value 2n+1 (odd n) or 3n (changed, even n) */
    int k = 0;
    for (size_t i = 1; i < key.len; i++) {
        k = k * 10 + (key.p[i] - '0');
    }
    int want = k % 2 ? 2 * k + 1 : 3 * k, got;
    if (!val || val->len != sizeof got || (memcpy(&got, val->p, sizeof got), got != want) ||
        k % 4 == 0) {
        w->bad = true; /* multiples of 4 were deleted */
    }
}

/* State much larger than the cache: memory stays at the cache budget plus the table while the
 * disk holds everything; a full walk merges the disk image with uncommitted changes. */
TEST(disk_store_larger_than_memory) {
    char dir[64], err[256];
    tmp_dir(dir, sizeof dir);
    CHECK(dir[0]);
    const size_t cache = 64 << 10;
    sl_kv_t *kv = sl_kv_open(dir, cache, err, sizeof err);
    CHECK(kv != NULL);
    enum { N = 20000 };
    uint8_t big[100] = {0};
    size_t peak = 0;
    for (int k = 0; k < N; k++) {
        char b[16];
        big[0] = (uint8_t)k;
        sl_kv_put(kv, key_of(k, b), (sl_bytes_t){big, sizeof big});
        if (k % 1000 == 999) {
            CHECK(sl_kv_commit(kv) == SL_OK);
            peak = SL_MAX(peak, sl_kv_bytes(kv));
        }
    }
    CHECK(peak < cache + (64 << 10)); /* cache + table, while the state is ~2.5 MB */
    CHECK_EQ_INT(sl_kv_count(kv), N);
    /* Rewrite: odd keys 2k+1 (committed), even keys 3k (uncommitted), multiples of 4 deleted. */
    for (int k = 0; k < N; k++) {
        char b[16];
        int v = 2 * k + 1;
        if (k % 2) {
            sl_kv_put(kv, key_of(k, b), (sl_bytes_t){(const uint8_t *)&v, sizeof v});
        }
    }
    CHECK(sl_kv_commit(kv) == SL_OK);
    for (int k = 0; k < N; k += 2) {
        char b[16];
        int v = 3 * k;
        if (k % 4) {
            sl_kv_put(kv, key_of(k, b), (sl_bytes_t){(const uint8_t *)&v, sizeof v});
        } else {
            CHECK(sl_kv_del(kv, key_of(k, b)));
        }
    }
    walk_t w = {0, false};
    sl_kv_each(kv, on_walk, &w);
    CHECK(!w.bad);
    CHECK_EQ_INT(w.n, N - N / 4);
    CHECK_EQ_INT(sl_kv_count(kv), N - N / 4);
    sl_kv_abort(kv);
    CHECK_EQ_INT(sl_kv_count(kv), N);
    sl_kv_free(kv);
    rm_dir(dir);
}

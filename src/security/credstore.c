/* credstore.c -- SCRAM credentials by user: a flat array of users, two slots each. */
#include "credstore.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

typedef struct entry {
    char *user;
    bool has[SL_SCRAM_N];
    sl_scram_cred_t cred[SL_SCRAM_N];
} entry_t;

struct sl_credstore {
    entry_t *v;
    size_t n, cap;
};

sl_credstore_t *sl_credstore_new(void) {
    return sl_xcalloc(1, sizeof(sl_credstore_t));
}

void sl_credstore_free(sl_credstore_t *st) {
    if (!st) {
        return;
    }
    for (size_t i = 0; i < st->n; i++) {
        free(st->v[i].user);
    }
    if (st->v) {
        OPENSSL_cleanse(st->v, st->cap * sizeof *st->v);
    }
    free(st->v);
    free(st);
}

static entry_t *find(const sl_credstore_t *st, const char *user) {
    for (size_t i = 0; i < st->n; i++) {
        if (!strcmp(st->v[i].user, user)) {
            return &st->v[i];
        }
    }
    return NULL;
}

void sl_credstore_put(sl_credstore_t *st, const char *user, sl_scram_mech_t m,
                      const sl_scram_cred_t *cred) {
    entry_t *e = find(st, user);
    if (!e) {
        if (st->n == st->cap) {
            st->cap = st->cap ? st->cap * 2 : 8;
            st->v = sl_xrealloc(st->v, st->cap * sizeof *st->v);
        }
        e = &st->v[st->n++];
        memset(e, 0, sizeof *e);
        e->user = sl_xstrdup(user);
    }
    e->has[m] = true;
    e->cred[m] = *cred;
}

bool sl_credstore_delete(sl_credstore_t *st, const char *user, sl_scram_mech_t m) {
    entry_t *e = find(st, user);
    if (!e || !e->has[m]) {
        return false;
    }
    e->has[m] = false;
    OPENSSL_cleanse(&e->cred[m], sizeof e->cred[m]);
    for (int k = 0; k < SL_SCRAM_N; k++) {
        if (e->has[k]) {
            return true;
        }
    }
    free(e->user);
    size_t i = (size_t)(e - st->v);
    memmove(e, e + 1, (st->n - i - 1) * sizeof *e);
    st->n--;
    return true;
}

bool sl_credstore_get(const sl_credstore_t *st, const char *user, sl_scram_mech_t m,
                      sl_scram_cred_t *out) {
    const entry_t *e = find(st, user);
    if (!e || !e->has[m]) {
        return false;
    }
    *out = e->cred[m];
    return true;
}

size_t sl_credstore_users(const sl_credstore_t *st) {
    return st->n;
}

const char *sl_credstore_user(const sl_credstore_t *st, size_t i) {
    return st->v[i].user;
}

bool sl_credstore_user_has(const sl_credstore_t *st, size_t i, sl_scram_mech_t m,
                           int32_t *iterations) {
    if (!st->v[i].has[m]) {
        return false;
    }
    *iterations = st->v[i].cred[m].iterations;
    return true;
}

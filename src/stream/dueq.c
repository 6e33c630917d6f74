/* dueq.c -- the due-time queue (dueq.h). */
#include "dueq.h"

#include <stdlib.h>
#include <string.h>

void sl_dueq_push(sl_dueq_t *q, int64_t at, sl_bytes_t k) {
    if (q->n == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 64;
        q->v = sl_xrealloc(q->v, q->cap * sizeof *q->v);
    }
    sl_due_t d = {at, sl_xmalloc(k.len ? k.len : 1), k.len};
    if (k.len) {
        memcpy(d.k, k.p, k.len);
    }
    size_t i = q->n++;
    while (i > 0 && q->v[(i - 1) / 2].at > d.at) {
        q->v[i] = q->v[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    q->v[i] = d;
}

sl_due_t sl_dueq_pop(sl_dueq_t *q) {
    SL_ASSERT(q->n > 0);
    sl_due_t top = q->v[0];
    sl_due_t last = q->v[--q->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        int64_t best = last.at;
        if (l < q->n && q->v[l].at < best) {
            m = l;
            best = q->v[l].at;
        }
        if (l + 1 < q->n && q->v[l + 1].at < best) {
            m = l + 1;
        }
        if (m == i) {
            break;
        }
        q->v[i] = q->v[m];
        i = m;
    }
    if (q->n) {
        q->v[i] = last;
    }
    return top;
}

void sl_dueq_clear(sl_dueq_t *q) {
    for (size_t i = 0; i < q->n; i++) {
        free(q->v[i].k);
    }
    q->n = 0;
}

void sl_dueq_free(sl_dueq_t *q) {
    sl_dueq_clear(q);
    free(q->v);
    q->v = NULL;
    q->cap = 0;
}

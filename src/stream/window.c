/* window.c -- window assignment, panes and session merging (see window.h for the conventions). */
#include "window.h"

#include <string.h>

#include "common/util.h"

sl_err_t sl_win_check(sl_win_spec_t *w, const char **why) {
    *why = NULL;
    switch (w->kind) {
    case SL_WIN_TUMBLING:
        if (w->advance_ms == 0) {
            w->advance_ms = w->size_ms;
        }
        if (w->advance_ms != w->size_ms) {
            *why = "a tumbling window advances by its size";
            return SL_ERR_INVAL;
        }
        /* fallthrough */
    case SL_WIN_HOPPING:
        if (w->size_ms <= 0 || w->advance_ms <= 0) {
            *why = "window size and advance must be positive";
            return SL_ERR_INVAL;
        }
        if (w->advance_ms > w->size_ms) {
            *why = "a hopping window cannot advance by more than its size (records would be lost)";
            return SL_ERR_INVAL;
        }
        if (w->offset_ms < 0 || w->offset_ms >= w->advance_ms) {
            *why = "window offset must be in [0, advance)";
            return SL_ERR_INVAL;
        }
        if ((w->size_ms + w->advance_ms - 1) / w->advance_ms > SL_WIN_MAX_PER_RECORD) {
            *why = "size/advance is above 1024 windows per record";
            return SL_ERR_INVAL;
        }
        return SL_OK;
    case SL_WIN_SESSION:
        if (w->gap_ms <= 0) {
            *why = "session gap must be positive";
            return SL_ERR_INVAL;
        }
        return SL_OK;
    }
    *why = "unknown window kind";
    return SL_ERR_INVAL;
}

size_t sl_win_assign(const sl_win_spec_t *w, int64_t ts, int64_t *starts, size_t cap) {
    SL_ASSERT(w->kind == SL_WIN_TUMBLING || w->kind == SL_WIN_HOPPING);
    /* The newest window holding ts starts at the aligned slot of ts; older ones every advance
     * before it, while they still reach past ts. */
    int64_t last = sl_win_align(ts, w->advance_ms, w->offset_ms);
    int64_t first = last;
    while (first - w->advance_ms + w->size_ms > ts) {
        first -= w->advance_ms;
    }
    size_t n = 0;
    for (int64_t s = first; s <= last && n < cap; s += w->advance_ms) {
        starts[n++] = s;
    }
    return n;
}

static int64_t gcd64(int64_t a, int64_t b) {
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

int64_t sl_win_pane_ms(const sl_win_spec_t *w) {
    return gcd64(w->size_ms, w->advance_ms);
}

/* ---- sessions ---- */

static void list_insert_at(sl_session_list_t *l, size_t at, sl_session_t s) {
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4;
        l->v = sl_xrealloc(l->v, l->cap * sizeof *l->v);
    }
    memmove(&l->v[at + 1], &l->v[at], (l->n - at) * sizeof *l->v);
    l->v[at] = s;
    l->n++;
}

static void list_remove_at(sl_session_list_t *l, size_t at) {
    memmove(&l->v[at], &l->v[at + 1], (l->n - at - 1) * sizeof *l->v);
    l->n--;
}

void sl_session_insert(sl_session_list_t *l, int64_t ts, int64_t gap, uint64_t new_slot,
                       sl_session_merge_t *out) {
    memset(out, 0, sizeof *out);
    /* i = the first session that starts after ts (binary search over the sorted starts). */
    size_t lo = 0, hi = l->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (l->v[mid].start <= ts) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    size_t i = lo;
    /* Sessions are more than `gap` apart, so only the neighbours on each side can take ts. */
    bool left = i > 0 && ts <= l->v[i - 1].end + gap;
    bool right = i < l->n && l->v[i].start - gap <= ts;
    if (left && right) {
        sl_session_t *a = &l->v[i - 1];
        out->absorbed = l->v[i];
        out->bridged = true;
        a->end = SL_MAX(a->end, l->v[i].end);
        list_remove_at(l, i);
        out->at = i - 1;
    } else if (left) {
        sl_session_t *a = &l->v[i - 1];
        a->end = SL_MAX(a->end, ts);
        out->at = i - 1;
    } else if (right) {
        sl_session_t *b = &l->v[i];
        b->start = SL_MIN(b->start, ts);
        out->at = i;
    } else {
        list_insert_at(l, i, (sl_session_t){ts, ts, new_slot});
        out->at = i;
        out->created = true;
    }
}

size_t sl_session_expire(sl_session_list_t *l, int64_t wm, int64_t gap, int64_t retention,
                         void (*fn)(const sl_session_t *s, void *arg), void *arg) {
    /* Ends grow with starts (sessions never overlap), so the closed ones are a prefix. */
    size_t k = 0;
    while (k < l->n && l->v[k].end + gap + retention <= wm) {
        if (fn) {
            fn(&l->v[k], arg);
        }
        k++;
    }
    memmove(l->v, l->v + k, (l->n - k) * sizeof *l->v);
    l->n -= k;
    return k;
}

void sl_session_list_free(sl_session_list_t *l) {
    free(l->v);
    memset(l, 0, sizeof *l);
}

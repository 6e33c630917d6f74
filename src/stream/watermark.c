/* watermark.c -- per-input watermarks, idleness and the task minimum (rules in watermark.h). */
#include "watermark.h"

#include <string.h>

#include "common/util.h"

#define WM_VERSION 1

void sl_wm_init(sl_wm_t *t, size_t n, int64_t delay_ms, int64_t idle_ms, uint64_t now_ms) {
    memset(t, 0, sizeof *t);
    t->in = sl_xcalloc(n ? n : 1, sizeof *t->in);
    t->n = n;
    t->delay_ms = delay_ms < 0 ? 0 : delay_ms;
    t->idle_ms = idle_ms < 0 ? 0 : idle_ms;
    t->current = SL_WM_NONE;
    for (size_t i = 0; i < n; i++) {
        t->in[i].max_ts = SL_WM_NONE;
        t->in[i].wm = SL_WM_NONE;
        t->in[i].last_ms = now_ms;
    }
}

void sl_wm_free(sl_wm_t *t) {
    free(t->in);
    memset(t, 0, sizeof *t);
}

size_t sl_wm_add(sl_wm_t *t, uint64_t now_ms) {
    t->in = sl_xrealloc(t->in, (t->n + 1) * sizeof *t->in);
    sl_wm_input_t *in = &t->in[t->n];
    memset(in, 0, sizeof *in);
    in->max_ts = SL_WM_NONE;
    in->wm = SL_WM_NONE;
    in->last_ms = now_ms;
    return t->n++;
}

/* max_ts - delay - 1 without overflow at the edges of int64. */
static int64_t wm_of(int64_t max_ts, int64_t delay) {
    if (max_ts == SL_WM_NONE || max_ts < INT64_MIN + delay + 1) {
        return SL_WM_NONE;
    }
    return max_ts - delay - 1;
}

void sl_wm_record(sl_wm_t *t, size_t i, int64_t ts, uint64_t now_ms) {
    SL_ASSERT(i < t->n);
    sl_wm_input_t *in = &t->in[i];
    in->last_ms = now_ms;
    in->caught_up = false;
    in->idle = false;
    if (ts > in->max_ts) {
        in->max_ts = ts;
        in->wm = SL_MAX(in->wm, wm_of(ts, t->delay_ms));
    }
}

/* The task's watermark rises to the minimum over the inputs that are not idle, if any. */
static void fold(sl_wm_t *t) {
    int64_t low = INT64_MAX;
    bool any = false;
    for (size_t i = 0; i < t->n; i++) {
        if (!t->in[i].idle) {
            any = true;
            low = SL_MIN(low, t->in[i].wm);
        }
    }
    if (any && low > t->current) {
        t->current = low;
    }
}

void sl_wm_marker(sl_wm_t *t, size_t i, int64_t wm, bool idle, uint64_t now_ms) {
    SL_ASSERT(i < t->n);
    sl_wm_input_t *in = &t->in[i];
    in->wm = SL_MAX(in->wm, wm);
    if (idle && !in->idle) {
        /* Going idle with the watermark the marker carries: that watermark still counts, as it
         * would have had the task ticked before the marker. Markers read as a backlog (a
         * takeover replaying a repartition topic) bring the last watermark of every upstream
         * task and then its idle marker in one batch; without this the task would find them
         * all idle and keep its old watermark for good. */
        fold(t);
    }
    in->idle = idle;
    in->caught_up = idle;
    in->last_ms = now_ms;
}

void sl_wm_caught_up(sl_wm_t *t, size_t i) {
    SL_ASSERT(i < t->n);
    t->in[i].caught_up = true;
}

int64_t sl_wm_advance(sl_wm_t *t, uint64_t now_ms) {
    for (size_t i = 0; i < t->n; i++) {
        sl_wm_input_t *in = &t->in[i];
        if (t->idle_ms > 0 && in->caught_up && now_ms >= in->last_ms + (uint64_t)t->idle_ms) {
            in->idle = true;
        }
    }
    fold(t);
    return t->current;
}

void sl_wm_resume(sl_wm_t *t, uint64_t now_ms) {
    for (size_t i = 0; i < t->n; i++) {
        t->in[i].last_ms = now_ms;
        t->in[i].caught_up = false;
        t->in[i].idle = false;
    }
}

bool sl_wm_all_idle(const sl_wm_t *t) {
    for (size_t i = 0; i < t->n; i++) {
        if (!t->in[i].idle) {
            return false;
        }
    }
    return t->n > 0;
}

/* ---- encoding: u8 version, u32 n, i64 current, n x (i64 wm, i64 max_ts) ---- */

size_t sl_wm_encoded_size(const sl_wm_t *t) {
    return 1 + 4 + 8 + t->n * 16;
}

size_t sl_wm_encode(const sl_wm_t *t, uint8_t *out, size_t cap) {
    size_t need = sl_wm_encoded_size(t);
    if (cap < need || t->n > UINT32_MAX) {
        return 0;
    }
    uint8_t *p = out;
    *p++ = WM_VERSION;
    sl_store_be32(p, (uint32_t)t->n);
    p += 4;
    sl_store_be64(p, (uint64_t)t->current);
    p += 8;
    for (size_t i = 0; i < t->n; i++) {
        sl_store_be64(p, (uint64_t)t->in[i].wm);
        sl_store_be64(p + 8, (uint64_t)t->in[i].max_ts);
        p += 16;
    }
    return need;
}

/* Checks an encoding and restores the task's watermark from it; *n_out: its input count. */
static sl_err_t restore_current(sl_wm_t *t, const uint8_t *p, size_t len, uint32_t *n_out) {
    if (len < 13 || p[0] != WM_VERSION) {
        return SL_ERR_CORRUPT;
    }
    uint32_t n = sl_load_be32(p + 1);
    if ((len - 13) / 16 < n || len != 13 + (size_t)n * 16) {
        return SL_ERR_CORRUPT;
    }
    int64_t current = (int64_t)sl_load_be64(p + 5);
    t->current = SL_MAX(t->current, current);
    *n_out = n;
    return SL_OK;
}

sl_err_t sl_wm_restore_current(sl_wm_t *t, const uint8_t *p, size_t len) {
    uint32_t n;
    return restore_current(t, p, len, &n);
}

sl_err_t sl_wm_restore(sl_wm_t *t, const uint8_t *p, size_t len) {
    uint32_t n;
    if (restore_current(t, p, len, &n) != SL_OK) {
        return SL_ERR_CORRUPT;
    }
    if (n != t->n) {
        return SL_OK;
    }
    for (size_t i = 0; i < n; i++) {
        const uint8_t *q = p + 13 + i * 16;
        t->in[i].wm = SL_MAX(t->in[i].wm, (int64_t)sl_load_be64(q));
        t->in[i].max_ts = SL_MAX(t->in[i].max_ts, (int64_t)sl_load_be64(q + 8));
    }
    return SL_OK;
}

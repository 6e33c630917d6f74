/* pct.c -- APPROX_PERCENTILE's sketch: a fixed-size, mergeable log-bucket histogram (the idea of
 * DDSketch, Masson et al., VLDB 2019; written here from the idea, not from its code).
 *
 * A value v != 0 falls in bucket k = ceil(log_g |v|) with g = (1 + a) / (1 - a), a = 1%, and the
 * bucket is read back as 2 g^k / (g + 1) (with v's sign): within a relative 1% of every value it
 * holds. Positive and negative values have a store each, of SL_SQL_PCT_BUCKETS consecutive
 * buckets: a factor g^1024 (about 7e8) between the smallest and the largest magnitude of one
 * sign; zeros are counted apart. When one sign's values span more buckets than that, the smallest
 * magnitudes are folded into the smallest bucket kept: the percentiles of the larger magnitudes
 * keep the 1% bound, those of the folded values lose it (a positive one reads too high, a negative
 * one too low). Two sketches merge exactly (the counts add), so partial results merge into the
 * sketch one task would have made.
 *
 * State (SL_SQL_PCT_BYTES): int64 n (values counted; where every aggregate keeps its count),
 * int64 zeros, then per store (positive, negative) int32 lo (the bucket of its counts[0]), kmin,
 * kmax (its lowest and highest non-empty bucket; kmin > kmax when empty), 4 unused bytes, then
 * uint32 counts[SL_SQL_PCT_BUCKETS] of the positive store and of the negative one. */
#include <math.h>
#include <string.h>

#include "sql/sql_int.h"

#define PCT_ALPHA 0.01
#define N_B       SL_SQL_PCT_BUCKETS

typedef struct pct_store {
    int32_t lo, kmin, kmax, unused;
} pct_store_t;
typedef struct pct_hdr {
    int64_t n, zeros;
    pct_store_t s[2]; /* 0: positive values, 1: negative ones (by magnitude) */
} pct_hdr_t;

_Static_assert(sizeof(pct_hdr_t) + 2 * N_B * sizeof(uint32_t) == SL_SQL_PCT_BYTES,
               "SL_SQL_PCT_BYTES");

static double gamma_(void) {
    return (1 + PCT_ALPHA) / (1 - PCT_ALPHA);
}

static int32_t mag_key(double m) {
    return (int32_t)ceil(log(m) / log(gamma_()));
}

static double mag_of_key(int32_t k) {
    return 2 * exp(k * log(gamma_())) / (gamma_() + 1);
}

static uint32_t *counts(uint8_t *st, int sign) {
    return (uint32_t *)(void *)(st + sizeof(pct_hdr_t)) + (size_t)sign * N_B;
}
static const uint32_t *ccounts(const uint8_t *st, int sign) {
    return (const uint32_t *)(const void *)(st + sizeof(pct_hdr_t)) + (size_t)sign * N_B;
}

static uint32_t sat_add(uint32_t a, uint32_t b) {
    return a > UINT32_MAX - b ? UINT32_MAX : a + b;
}

/* Moves a store's window so that counts[0] is bucket lo; buckets below it fold into it. The
 * caller makes sure kmax < lo + N_B. */
static void rebase(uint32_t *c, pct_store_t *s, int32_t lo) {
    uint32_t tmp[N_B];
    memset(tmp, 0, sizeof tmp);
    for (int32_t k = s->kmin; k <= s->kmax; k++) {
        int32_t to = (k < lo ? lo : k) - lo;
        tmp[to] = sat_add(tmp[to], c[k - s->lo]);
    }
    memcpy(c, tmp, sizeof tmp);
    s->lo = lo;
    if (s->kmin < lo) {
        s->kmin = lo;
    }
}

/* An all-zero state is an empty sketch: marks its stores empty (kmin > kmax). */
static void init_if_empty(uint8_t *st) {
    pct_hdr_t h;
    memcpy(&h, st, sizeof h);
    if (h.n == 0 && h.s[0].kmin <= h.s[0].kmax) {
        memset(st, 0, SL_SQL_PCT_BYTES);
        memset(&h, 0, sizeof h);
        h.s[0].kmin = h.s[1].kmin = 1;
        memcpy(st, &h, sizeof h);
    }
}

/* Adds cnt values in bucket key of store `sign`; false (nothing counted) when that bucket's
 * count would pass 2^32 - 1, unless saturate (then it stays there). */
static bool add_key(uint8_t *st, int sign, int32_t key, uint32_t cnt, bool saturate) {
    init_if_empty(st);
    pct_hdr_t h;
    memcpy(&h, st, sizeof h);
    pct_store_t *s = &h.s[sign];
    uint32_t *c = counts(st, sign);
    if (s->kmin > s->kmax) { /* an empty store: room on both sides of the first key */
        s->lo = key - N_B / 2;
        s->kmin = s->kmax = key;
    } else {
        int32_t low = key < s->kmin ? key : s->kmin, high = key > s->kmax ? key : s->kmax;
        if (low < s->lo || high >= s->lo + N_B) {
            /* keep the largest magnitudes: room below for a new low key, else above */
            rebase(c, s, high - low < N_B && key < s->lo ? low : high - N_B + 1);
        }
        if (key < s->lo) {
            key = s->lo; /* folded into the smallest bucket kept */
        }
        if (key < s->kmin) {
            s->kmin = key;
        }
        if (key > s->kmax) {
            s->kmax = key;
        }
    }
    uint32_t *b = &c[key - s->lo];
    if (*b > UINT32_MAX - cnt && !saturate) {
        memcpy(st, &h, sizeof h); /* a rebase may have moved the window: keep it consistent */
        return false;
    }
    *b = sat_add(*b, cnt);
    h.n += cnt;
    memcpy(st, &h, sizeof h);
    return true;
}

bool sl_sql_pct_add(uint8_t *st, double v) {
    if (!isfinite(v)) {
        return false;
    }
    if (v == 0) {
        init_if_empty(st);
        pct_hdr_t h;
        memcpy(&h, st, sizeof h);
        h.n++;
        h.zeros++;
        memcpy(st, &h, sizeof h);
        return true;
    }
    return add_key(st, v < 0, mag_key(fabs(v)), 1, false);
}

void sl_sql_pct_merge(uint8_t *into, const uint8_t *from) {
    pct_hdr_t f;
    memcpy(&f, from, sizeof f);
    if (f.n == 0) {
        return;
    }
    for (int sign = 0; sign < 2; sign++) {
        const pct_store_t *s = &f.s[sign];
        const uint32_t *c = ccounts(from, sign);
        /* the largest magnitude first: the window settles where the merged values need it */
        for (int32_t k = s->kmax; k >= s->kmin; k--) {
            if (c[k - s->lo]) {
                (void)add_key(into, sign, k, c[k - s->lo], true);
            }
        }
    }
    init_if_empty(into);
    pct_hdr_t h;
    memcpy(&h, into, sizeof h);
    h.n += f.zeros;
    h.zeros += f.zeros;
    memcpy(into, &h, sizeof h);
}

double sl_sql_pct_value(const uint8_t *st, double p) {
    pct_hdr_t h;
    memcpy(&h, st, sizeof h);
    double rank = p * (double)(h.n - 1); /* 0-based: the value of rank floor(p (n - 1)) */
    double cum = 0;
    const pct_store_t *neg = &h.s[1];
    const uint32_t *c = ccounts(st, 1);
    for (int32_t k = neg->kmax; k >= neg->kmin; k--) { /* the most negative first */
        cum += c[k - neg->lo];
        if (cum > rank) {
            return -mag_of_key(k);
        }
    }
    cum += (double)h.zeros;
    if (cum > rank) {
        return 0;
    }
    const pct_store_t *pos = &h.s[0];
    c = ccounts(st, 0);
    for (int32_t k = pos->kmin; k <= pos->kmax; k++) {
        cum += c[k - pos->lo];
        if (cum > rank) {
            return mag_of_key(k);
        }
    }
    return pos->kmin <= pos->kmax ? mag_of_key(pos->kmax) : 0;
}

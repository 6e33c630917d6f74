/* hist.c -- log-linear histogram: values below 2^SUB_BITS are exact; above, each power-of-two
 * range is split into 2^SUB_BITS linear buckets, giving a relative error under 2^-SUB_BITS
 * (0.1% with 10 bits). Range 1 .. 2^40; fixed memory (~300 KiB), O(1) record. */
#include "hist.h"

#include <string.h>

#include "util.h"

#define SUB_BITS  10
#define SUB       (1u << SUB_BITS)
#define MAX_EXP   40
#define N_BUCKETS ((MAX_EXP - SUB_BITS + 2) * (SUB / 2) + SUB)

struct sl_hist {
    uint64_t count, min, max;
    double sum;
    uint64_t buckets[N_BUCKETS];
};

static size_t bucket_of(uint64_t v) {
    if (v >= (1ull << MAX_EXP)) {
        return N_BUCKETS - 1;
    }
    if (v < SUB) {
        return (size_t)v;
    }
    /* v in [2^msb, 2^(msb+1)): keep the top SUB_BITS bits (sub in [SUB/2, SUB)). */
    int msb = 63 - __builtin_clzll(v);
    size_t shift = (size_t)(msb - SUB_BITS + 1);
    size_t sub = (size_t)(v >> shift);
    return shift * (SUB / 2) + sub;
}

/* Upper edge (inclusive) of bucket b. */
static uint64_t upper_of(size_t b) {
    if (b < SUB) {
        return b;
    }
    size_t shift = (b - SUB / 2) / (SUB / 2);
    size_t sub = b - shift * (SUB / 2);
    return (((uint64_t)sub + 1) << shift) - 1;
}

sl_hist_t *sl_hist_new(void) {
    sl_hist_t *h = sl_xcalloc(1, sizeof *h);
    h->min = UINT64_MAX;
    return h;
}

void sl_hist_free(sl_hist_t *h) {
    free(h);
}

void sl_hist_reset(sl_hist_t *h) {
    memset(h, 0, sizeof *h);
    h->min = UINT64_MAX;
}

void sl_hist_record(sl_hist_t *h, uint64_t v) {
    h->buckets[bucket_of(v)]++;
    h->count++;
    h->sum += (double)v;
    if (v < h->min) {
        h->min = v;
    }
    if (v > h->max) {
        h->max = v;
    }
}

void sl_hist_merge(sl_hist_t *dst, const sl_hist_t *src) {
    for (size_t i = 0; i < N_BUCKETS; i++) {
        dst->buckets[i] += src->buckets[i];
    }
    dst->count += src->count;
    dst->sum += src->sum;
    if (src->min < dst->min) {
        dst->min = src->min;
    }
    if (src->max > dst->max) {
        dst->max = src->max;
    }
}

uint64_t sl_hist_count(const sl_hist_t *h) {
    return h->count;
}

uint64_t sl_hist_min(const sl_hist_t *h) {
    return h->count ? h->min : 0;
}

uint64_t sl_hist_max(const sl_hist_t *h) {
    return h->max;
}

double sl_hist_mean(const sl_hist_t *h) {
    return h->count ? h->sum / (double)h->count : 0.0;
}

uint64_t sl_hist_quantile(const sl_hist_t *h, double q) {
    if (!h->count) {
        return 0;
    }
    if (q <= 0) {
        return h->min;
    }
    uint64_t rank = (uint64_t)(q * (double)h->count + 0.5);
    if (rank < 1) {
        rank = 1;
    }
    if (rank > h->count) {
        rank = h->count;
    }
    uint64_t seen = 0;
    for (size_t i = 0; i < N_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= rank) {
            uint64_t u = upper_of(i);
            return u > h->max ? h->max : u;
        }
    }
    return h->max;
}

uint64_t sl_hist_count_le(const sl_hist_t *h, uint64_t v) {
    size_t last = bucket_of(v);
    uint64_t n = 0;
    for (size_t i = 0; i <= last; i++) {
        n += h->buckets[i];
    }
    /* The last bucket may hold values above v; callers use bucket-aligned edges. */
    return n;
}

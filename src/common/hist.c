/* hist.c -- log-linear histogram in the style of HdrHistogram, 3 significant decimal digits.
 *
 * Values below SUB (2^11 = 2048) each have their own bucket, so they are exact. Above that, every
 * power-of-two range [2^m, 2^(m+1)) is split into HALF (1024) equal buckets of width 2^(m-10):
 *
 *   bucket(v) = v                          for v < SUB
 *             = shift * HALF + (v >> shift) with shift = msb(v) - SUB_BITS + 1, otherwise
 *
 * (v >> shift) is in [HALF, SUB), so consecutive ranges tile the bucket index without gaps. A
 * bucket's width is at most 1/HALF of its lower edge, so reporting the upper edge is off by less
 * than 1/1024 = 0.098%: the "3 digits" of HdrHistogram, which also uses 2048 sub-buckets.
 * Range 0 .. 2^40-1 (about 12.7 days in microseconds); larger values land in the top bucket.
 * Fixed memory: 31,744 counters (248 KiB). Record is O(1); quantile and count_le scan. */
#include "hist.h"

#include <string.h>

#include "util.h"

#define SUB_BITS  11
#define SUB       (1u << SUB_BITS)
#define HALF      (SUB / 2)
#define MAX_EXP   40 /* values >= 2^MAX_EXP are clamped */
#define N_BUCKETS ((size_t)(MAX_EXP - SUB_BITS) * HALF + SUB)

struct sl_hist {
    uint64_t count, min, max;
    double sum; /* for the mean only; exactness is not needed */
    uint64_t buckets[N_BUCKETS];
};

static size_t bucket_of(uint64_t v) {
    return sl_loglin_bucket(v, SUB_BITS, MAX_EXP);
}

static uint64_t upper_of(size_t b) {
    return sl_loglin_upper(b, SUB_BITS);
}

sl_hist_t *sl_hist_new(void) {
    sl_hist_t *h = sl_xmalloc(sizeof *h);
    sl_hist_reset(h);
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

void sl_hist_record_n(sl_hist_t *h, uint64_t v, uint64_t n) {
    if (!n) {
        return;
    }
    h->buckets[bucket_of(v)] += n;
    h->count += n;
    h->sum += (double)v * (double)n;
    h->min = SL_MIN(h->min, v);
    h->max = SL_MAX(h->max, v);
}

void sl_hist_merge(sl_hist_t *dst, const sl_hist_t *src) {
    for (size_t i = 0; i < N_BUCKETS; i++) {
        dst->buckets[i] += src->buckets[i];
    }
    dst->count += src->count;
    dst->sum += src->sum;
    dst->min = SL_MIN(dst->min, src->min); /* an empty histogram's min is UINT64_MAX */
    dst->max = SL_MAX(dst->max, src->max);
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

/* The value of rank ceil(q * count), as HdrHistogram and most percentile definitions use. The
 * upper edge of a bucket can exceed every value in it, so it is capped by the true max; the top
 * bucket also holds clamped values, so it answers with the max itself. */
uint64_t sl_hist_quantile(const sl_hist_t *h, double q) {
    if (!h->count) {
        return 0;
    }
    if (!(q > 0)) { /* also NaN */
        return h->min;
    }
    if (q >= 1) {
        return h->max;
    }
    double r = q * (double)h->count;
    uint64_t rank = (uint64_t)r;
    if ((double)rank < r) {
        rank++;
    }
    rank = SL_MAX(rank, (uint64_t)1);
    rank = SL_MIN(rank, h->count);
    uint64_t seen = 0;
    for (size_t i = 0; i < N_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= rank) {
            return i == N_BUCKETS - 1 ? h->max : SL_MIN(upper_of(i), h->max);
        }
    }
    return h->max;
}

/* Counts whole buckets up to the one holding v. That is exact when v < 2048 or v is a bucket's
 * upper edge; otherwise it may include values above v, by less than 0.1% of v. */
uint64_t sl_hist_count_le(const sl_hist_t *h, uint64_t v) {
    if (v >= h->max) {
        return h->count;
    }
    size_t last = bucket_of(v);
    uint64_t n = 0;
    for (size_t i = 0; i <= last; i++) {
        n += h->buckets[i];
    }
    return n;
}

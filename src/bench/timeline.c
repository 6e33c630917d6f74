/* timeline.c -- per-second latency histograms (see timeline.h).
 *
 * Bucketing is hist.c's with fewer sub-buckets: values below SUB (128 us) are exact; above, each
 * power-of-two range [2^m, 2^(m+1)) is split into HALF (64) equal buckets, so a bucket's upper
 * edge is within 1/64 of its values. Range 0 .. 2^36 us (19 hours); larger values are clamped
 * into the top bucket. 1,984 32-bit counters = 7.75 KiB per second: a 10-minute run needs
 * 4.6 MiB, and only the seconds that receive records are ever touched.
 * Counters are 32-bit: a second would need 4 billion receipts to wrap. */
#include "bench/timeline.h"

#include <stdatomic.h>
#include <stdlib.h>

#include "common/hist.h"
#include "common/util.h"

#define SUB_BITS  7
#define SUB       (1u << SUB_BITS)
#define HALF      (SUB / 2)
#define MAX_EXP   36
#define N_BUCKETS ((size_t)(MAX_EXP - SUB_BITS) * HALF + SUB)

struct sl_timeline {
    int64_t n_seconds;
    atomic_uint *counts; /* n_seconds * N_BUCKETS */
};

static size_t bucket_of(uint64_t v) {
    return sl_loglin_bucket(v, SUB_BITS, MAX_EXP);
}

static uint64_t upper_of(size_t b) {
    return sl_loglin_upper(b, SUB_BITS);
}

sl_timeline_t *sl_timeline_new(int64_t n_seconds) {
    sl_timeline_t *tl = sl_xcalloc(1, sizeof *tl);
    tl->n_seconds = n_seconds > 0 ? n_seconds : 0;
    tl->counts = sl_xcalloc((size_t)tl->n_seconds * N_BUCKETS + 1, sizeof *tl->counts);
    return tl;
}

void sl_timeline_free(sl_timeline_t *tl) {
    if (tl) {
        free(tl->counts);
        free(tl);
    }
}

int64_t sl_timeline_seconds(const sl_timeline_t *tl) {
    return tl->n_seconds;
}

void sl_timeline_record(sl_timeline_t *tl, int64_t sec, uint64_t latency_us) {
    if (sec < 0 || sec >= tl->n_seconds) {
        return;
    }
    atomic_fetch_add_explicit(&tl->counts[(size_t)sec * N_BUCKETS + bucket_of(latency_us)], 1,
                              memory_order_relaxed);
}

uint64_t sl_timeline_count(const sl_timeline_t *tl, int64_t sec) {
    if (sec < 0 || sec >= tl->n_seconds) {
        return 0;
    }
    uint64_t n = 0;
    for (size_t i = 0; i < N_BUCKETS; i++) {
        n += atomic_load_explicit(&tl->counts[(size_t)sec * N_BUCKETS + i], memory_order_relaxed);
    }
    return n;
}

uint64_t sl_timeline_quantile(const sl_timeline_t *tl, int64_t sec, double q) {
    uint64_t n = sl_timeline_count(tl, sec);
    if (n == 0) {
        return 0;
    }
    double r = q * (double)n;
    uint64_t rank = (uint64_t)r;
    if ((double)rank < r) {
        rank++;
    }
    rank = SL_MAX(rank, (uint64_t)1);
    rank = SL_MIN(rank, n);
    uint64_t seen = 0;
    const atomic_uint *c = &tl->counts[(size_t)sec * N_BUCKETS];
    for (size_t i = 0; i < N_BUCKETS; i++) {
        seen += atomic_load_explicit(&c[i], memory_order_relaxed);
        if (seen >= rank) {
            return upper_of(i);
        }
    }
    return upper_of(N_BUCKETS - 1);
}

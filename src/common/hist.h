/* hist.h -- a log-linear latency histogram (HDR-style: 3 significant digits of precision over
 * 1 .. 2^40), fixed memory, O(1) record. Used by /metrics and by the benchmarks. */
#ifndef SL_HIST_H
#define SL_HIST_H

#include <stddef.h>
#include <stdint.h>

typedef struct sl_hist sl_hist_t;

/* Log-linear bucketing shared by every histogram here: values below 2^sub_bits have their own
 * bucket; above, each power-of-two range is split into 2^(sub_bits-1) equal buckets; values at or
 * above 2^max_exp land in the top bucket, (max_exp - sub_bits) * 2^(sub_bits-1) + 2^sub_bits - 1.
 */
static inline size_t sl_loglin_bucket(uint64_t v, unsigned sub_bits, unsigned max_exp) {
    size_t sub = (size_t)1 << sub_bits, half = sub / 2;
    if (v < sub) {
        return (size_t)v;
    }
    if (v >> max_exp) {
        return (size_t)(max_exp - sub_bits) * half + sub - 1;
    }
    unsigned shift = (unsigned)(63 - __builtin_clzll(v)) - sub_bits + 1;
    return (size_t)shift * half + (size_t)(v >> shift);
}

/* Largest value that falls in bucket b. */
static inline uint64_t sl_loglin_upper(size_t b, unsigned sub_bits) {
    size_t sub = (size_t)1 << sub_bits, half = sub / 2;
    if (b < sub) {
        return b;
    }
    unsigned shift = (unsigned)(b / half) - 1;
    uint64_t s = b - (size_t)shift * half;
    return ((s + 1) << shift) - 1;
}

sl_hist_t *sl_hist_new(void);
void sl_hist_free(sl_hist_t *h);
void sl_hist_reset(sl_hist_t *h);
/* Records one value (any unit; callers say which in the metric name). Values past the range are
 * clamped into the top bucket. */
void sl_hist_record(sl_hist_t *h, uint64_t v);
/* Records `n` values equal to v at once (n == 0: nothing). */
void sl_hist_record_n(sl_hist_t *h, uint64_t v, uint64_t n);
/* Adds every count of `src` into `dst`. */
void sl_hist_merge(sl_hist_t *dst, const sl_hist_t *src);
uint64_t sl_hist_count(const sl_hist_t *h);
uint64_t sl_hist_min(const sl_hist_t *h);
uint64_t sl_hist_max(const sl_hist_t *h);
double sl_hist_mean(const sl_hist_t *h);
/* Value at quantile q in [0,1] (upper edge of the bucket holding it; within 0.1%). 0 if empty. */
uint64_t sl_hist_quantile(const sl_hist_t *h, double q);
/* Number of recorded values <= v (for Prometheus cumulative buckets). */
uint64_t sl_hist_count_le(const sl_hist_t *h, uint64_t v);

#endif

/* hist.h -- a log-linear latency histogram (HDR-style: 3 significant digits of precision over
 * 1 .. 2^40), fixed memory, O(1) record. Used by /metrics and by the benchmarks. */
#ifndef SL_HIST_H
#define SL_HIST_H

#include <stdint.h>

typedef struct sl_hist sl_hist_t;

sl_hist_t *sl_hist_new(void);
void sl_hist_free(sl_hist_t *h);
void sl_hist_reset(sl_hist_t *h);
/* Records one value (any unit; callers say which in the metric name). Values past the range are
 * clamped into the top bucket. */
void sl_hist_record(sl_hist_t *h, uint64_t v);
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

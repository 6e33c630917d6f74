/* timeline.h -- per-second latency for the benchmark's JSON timeline: one small log-linear
 * histogram per second of the run (by receipt time), so a report can show p99 second by second
 * and a recovery analysis can tell when the tail is back to its steady value. Coarser than
 * common/hist.h (1.6% instead of 0.1%) to stay at 8 KiB per second. */
#ifndef SL_TIMELINE_H
#define SL_TIMELINE_H

#include <stdint.h>

typedef struct sl_timeline sl_timeline_t;

/* A timeline of `n_seconds` empty seconds. The caller owns it; sl_timeline_free(NULL) is a no-op.
 * Memory is calloc'd, so seconds never recorded into cost no resident pages. */
sl_timeline_t *sl_timeline_new(int64_t n_seconds);
void sl_timeline_free(sl_timeline_t *tl);
int64_t sl_timeline_seconds(const sl_timeline_t *tl);
/* Records one latency (microseconds) into second `sec`; seconds outside [0, n) are ignored.
 * Thread: any; concurrent calls are safe (relaxed atomics) and cost one atomic add each. */
void sl_timeline_record(sl_timeline_t *tl, int64_t sec, uint64_t latency_us);
/* Values recorded into second `sec` (0 outside the range). Thread: after the recorders stop. */
uint64_t sl_timeline_count(const sl_timeline_t *tl, int64_t sec);
/* Latency in microseconds at quantile q in (0, 1] of second `sec`: the upper edge of the bucket
 * holding rank ceil(q * count), within 1.6% above the true value. 0 when the second is empty.
 * Thread: after the recorders stop. */
uint64_t sl_timeline_quantile(const sl_timeline_t *tl, int64_t sec, double q);

#endif

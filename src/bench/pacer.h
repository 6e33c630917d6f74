/* pacer.h -- open-loop pacing: record i of a producer is due at start + i / rate, whatever
 * happened to the records before it, so a stalled system shows up as latency measured from the
 * intended time instead of as a silently lower send rate (no coordinated omission). A burst
 * multiplies the rate by `factor` during [at_s, at_s + len_s). */
#ifndef SL_PACER_H
#define SL_PACER_H

#include <stdint.h>

typedef struct sl_pacer {
    int64_t start_ns;
    double rate; /* records per second; 0 = as fast as possible */
    double burst_factor;
    double burst_at_s, burst_len_s;
} sl_pacer_t;

/* Intended send time (ns, same clock as start_ns) of record `i`. */
int64_t sl_pacer_due(const sl_pacer_t *p, uint64_t i);
/* Number of records due by time `t_ns` (the inverse of sl_pacer_due). */
uint64_t sl_pacer_count_by(const sl_pacer_t *p, int64_t t_ns);

#endif

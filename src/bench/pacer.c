/* pacer.c -- open-loop schedule arithmetic (see pacer.h). With a burst, the schedule is piecewise
 * linear: base rate before the burst, rate * factor during it, base rate after. */
#include "pacer.h"

#include <math.h>

static double burst_records(const sl_pacer_t *p) {
    return p->rate * p->burst_factor * p->burst_len_s;
}

int64_t sl_pacer_due(const sl_pacer_t *p, uint64_t i) {
    if (p->rate <= 0) {
        return p->start_ns;
    }
    double n = (double)i;
    double t;
    double before = p->rate * p->burst_at_s;
    if (p->burst_factor <= 1 || p->burst_len_s <= 0 || n < before) {
        t = n / p->rate;
    } else if (n < before + burst_records(p)) {
        t = p->burst_at_s + (n - before) / (p->rate * p->burst_factor);
    } else {
        t = p->burst_at_s + p->burst_len_s + (n - before - burst_records(p)) / p->rate;
    }
    return p->start_ns + (int64_t)llround(t * 1e9);
}

uint64_t sl_pacer_count_by(const sl_pacer_t *p, int64_t t_ns) {
    if (p->rate <= 0) {
        return UINT64_MAX;
    }
    if (t_ns < p->start_ns) {
        return 0;
    }
    double t = (double)(t_ns - p->start_ns) / 1e9;
    double n;
    if (p->burst_factor <= 1 || p->burst_len_s <= 0 || t < p->burst_at_s) {
        n = t * p->rate;
    } else if (t < p->burst_at_s + p->burst_len_s) {
        n = p->burst_at_s * p->rate + (t - p->burst_at_s) * p->rate * p->burst_factor;
    } else {
        n = p->burst_at_s * p->rate + burst_records(p) +
            (t - p->burst_at_s - p->burst_len_s) * p->rate;
    }
    /* record 0 is due at t = 0; the epsilon absorbs the rounding of sl_pacer_due to whole ns */
    return (uint64_t)floor(n + 1e-6) + 1;
}

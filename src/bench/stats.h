/* stats.h -- the arithmetic behind the benchmark reports: mean with a 95% confidence interval over
 * repeated runs (Student t, since a report repeats a run 3-5 times), and the recovery time after
 * a server is killed under load, from the per-second timeline of a `sluice bench --json` report.
 * Pure functions; no allocation that outlives a call. */
#ifndef SL_BENCH_STATS_H
#define SL_BENCH_STATS_H

#include <stdint.h>

/* Two-sided 95% critical value of Student's t with `df` degrees of freedom: exact table values for
 * df 1..30, then t ~ 1.96 + 2.37/df (within 0.003 of the true value). NaN for df < 1. */
double sl_stats_t95(int64_t df);

typedef struct sl_stats_summary {
    int64_t n;       /* finite values among the inputs (NaN marks a failed run and is skipped) */
    double mean, sd; /* sd: sample standard deviation (n - 1); 0 when n < 2 */
    double ci95;     /* half-width of the 95% confidence interval of the mean; 0 when n < 2 */
    double median;   /* of the finite values */
    double min, max; /* NaN when n == 0, as are mean and median */
} sl_stats_summary_t;

/* Summarizes `v[0..n)`; the caller keeps `v` (it is not modified). */
sl_stats_summary_t sl_stats_summarize(const double *v, int64_t n);

typedef struct sl_stats_recovery {
    double steady_rate;    /* mean of rate[] over the steady seconds */
    double steady_p99;     /* median of p99[] over the steady seconds (same unit as p99[]) */
    double steady_p99_max; /* the highest of them: the ceiling of the band is 1 + tol times it */
    int64_t back_at;       /* first second of the first in-band window at or after `from`; -1 if
                              none, or if the steady seconds hold no data */
} sl_stats_recovery_t;

/* Finds when a run is back to its steady state after a disturbance at second `from`.
 * rate[s] is what was received in second s, p99[s] that second's 99th-percentile latency (NaN if
 * nothing arrived). Steady = the seconds [steady_from, steady_to). The band: a rate within `tol`
 * (0.10 = 10%) of the steady mean, above or below (a backlog being drained is not steady), and a
 * p99 at most (1 + tol) times the highest steady per-second p99 (in steady state a per-second p99
 * already varies by more than 10% from second to second, so the band is the steady seconds' own
 * range widened by tol; a lower tail is fine). Recovered at the first s >= from where second s is
 * in band and so is the window of `window` seconds starting at s: every second's rate, and the
 * median of their p99 values, so that one good second inside a disturbance does not count and
 * one noisy second after it does not hide the recovery. Windows must fit in n. */
sl_stats_recovery_t sl_stats_recovery(const double *rate, const double *p99, int64_t n,
                                      int64_t steady_from, int64_t steady_to, int64_t from,
                                      int64_t window, double tol);

#endif

/* stats.c -- confidence intervals and recovery time for the benchmark reports (see stats.h).
 *
 * The t table is the standard one (two-sided 0.05); past df 30 the first term of the Cornish-Fisher
 * expansion, z + (z^3 + z) / (4 df) with z = 1.96, is within 0.003 of it (df 40: 2.019 vs 2.021,
 * df 60: 1.999 vs 2.000, df 120: 1.980 vs 1.980). */
#include "bench/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

static const double t95_table[31] = {
    NAN,   12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179,  2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080,
    2.074, 2.069,  2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
};

double sl_stats_t95(int64_t df) {
    if (df < 1) {
        return NAN;
    }
    if (df < (int64_t)SL_ARRAY_LEN(t95_table)) {
        return t95_table[df];
    }
    return 1.96 + 2.37 / (double)df;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of the finite values of v[0..n); NaN if there are none. */
static double median_of(const double *v, int64_t n) {
    double *s = sl_xmalloc((size_t)(n > 0 ? n : 1) * sizeof *s);
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++) {
        if (isfinite(v[i])) {
            s[m++] = v[i];
        }
    }
    qsort(s, (size_t)m, sizeof *s, cmp_double);
    double med = m == 0 ? NAN : m % 2 ? s[m / 2] : (s[m / 2 - 1] + s[m / 2]) / 2;
    free(s);
    return med;
}

sl_stats_summary_t sl_stats_summarize(const double *v, int64_t n) {
    sl_stats_summary_t s = {0, NAN, 0, 0, NAN, NAN, NAN};
    double sum = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(v[i])) {
            continue;
        }
        s.min = s.n == 0 ? v[i] : SL_MIN(s.min, v[i]);
        s.max = s.n == 0 ? v[i] : SL_MAX(s.max, v[i]);
        sum += v[i];
        s.n++;
    }
    if (s.n == 0) {
        return s;
    }
    s.mean = sum / (double)s.n;
    s.median = median_of(v, n);
    if (s.n > 1) {
        double ss = 0;
        for (int64_t i = 0; i < n; i++) {
            if (isfinite(v[i])) {
                ss += (v[i] - s.mean) * (v[i] - s.mean);
            }
        }
        s.sd = sqrt(ss / (double)(s.n - 1));
        s.ci95 = sl_stats_t95(s.n - 1) * s.sd / sqrt((double)s.n);
    }
    return s;
}

sl_stats_recovery_t sl_stats_recovery(const double *rate, const double *p99, int64_t n,
                                      int64_t steady_from, int64_t steady_to, int64_t from,
                                      int64_t window, double tol) {
    sl_stats_recovery_t r = {NAN, NAN, NAN, -1};
    steady_from = SL_MAX(steady_from, (int64_t)0);
    steady_to = SL_MIN(steady_to, n);
    if (steady_to <= steady_from || window < 1) {
        return r;
    }
    double sum = 0;
    for (int64_t s = steady_from; s < steady_to; s++) {
        sum += rate[s];
        if (isfinite(p99[s]) && !(p99[s] <= r.steady_p99_max)) { /* NaN max: first value */
            r.steady_p99_max = p99[s];
        }
    }
    r.steady_rate = sum / (double)(steady_to - steady_from);
    r.steady_p99 = median_of(p99 + steady_from, steady_to - steady_from);
    if (!(r.steady_rate > 0) || !isfinite(r.steady_p99)) {
        return r;
    }
    double ceiling = (1 + tol) * r.steady_p99_max;
    for (int64_t s = SL_MAX(from, (int64_t)0); s + window <= n; s++) {
        int64_t k = 0;
        while (k < window && fabs(rate[s + k] - r.steady_rate) <= tol * r.steady_rate) {
            k++;
        }
        /* p99[s] <= ceiling is false for NaN (a second without records). */
        if (k == window && p99[s] <= ceiling && median_of(p99 + s, window) <= ceiling) {
            r.back_at = s;
            return r;
        }
    }
    return r;
}

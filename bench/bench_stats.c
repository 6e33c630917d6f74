/* bench_stats.c -- the numbers behind bench/run-compare's tables, from `sluice bench --json`
 * reports (and any flat JSON file of numbers the script writes beside them):
 *
 *   bench_stats summary KEY FILE...   "n mean ci95 median min max sum" of KEY over the files
 *   bench_stats cell KEY FILE...      "mean ± ci95" for a table cell (the value alone for one run,
 *                                     "?" if no file has KEY); the 95% interval is Student t
 *   bench_stats recovery FILE KILL_UNIX_S WARMUP_S
 *                                     steady state before a kill and the time until throughput and
 *                                     p99 are back within 10% of it (src/bench/stats.h), as
 *                                     key=value pairs
 *
 * The JSON is ours (src/bench/run.c), so a value is found as the text after "KEY": and an array
 * as the numbers after "KEY":[ (null = no data, NaN here). A missing key reads as NaN, which the
 * summaries skip: a failed run leaves its cell to the runs that worked. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/stats.h"
#include "common/util.h"

static char *slurp(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) {
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *s = sl_xmalloc(cap);
    for (size_t n; (n = fread(s + len, 1, cap - len - 1, f)) > 0;) {
        len += n;
        if (len + 1 == cap) {
            cap *= 2;
            s = sl_xrealloc(s, cap);
        }
    }
    s[len] = 0;
    fclose(f);
    return s;
}

/* The text right after "KEY": in json, or NULL. */
static const char *find_key(const char *json, const char *key) {
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = json ? strstr(json, pat) : NULL;
    return p ? p + strlen(pat) : NULL;
}

static double number_at(const char *json, const char *key) {
    const char *p = find_key(json, key);
    char *end;
    double v = p ? strtod(p, &end) : NAN;
    return p && end != p ? v : NAN;
}

/* Parses the array after "KEY":[ into a new array of *n doubles (null -> NaN). */
static double *array_at(const char *json, const char *key, int64_t *n) {
    const char *p = find_key(json, key);
    *n = 0;
    if (!p || *p != '[') {
        return NULL;
    }
    size_t cap = 64;
    double *v = sl_xmalloc(cap * sizeof *v);
    for (p++; *p && *p != ']';) {
        double x = NAN;
        if (!strncmp(p, "null", 4)) {
            p += 4;
        } else {
            char *end;
            x = strtod(p, &end);
            if (end == p) {
                break;
            }
            p = end;
        }
        if ((size_t)*n == cap) {
            cap *= 2;
            v = sl_xrealloc(v, cap * sizeof *v);
        }
        v[(*n)++] = x;
        if (*p == ',') {
            p++;
        }
    }
    return v;
}

static sl_stats_summary_t summarize_files(const char *key, int n_files, char **files) {
    double *v = sl_xmalloc((size_t)(n_files > 0 ? n_files : 1) * sizeof *v);
    for (int i = 0; i < n_files; i++) {
        char *json = slurp(files[i]);
        v[i] = number_at(json, key);
        free(json);
    }
    sl_stats_summary_t s = sl_stats_summarize(v, n_files);
    free(v);
    return s;
}

/* Decimals for 3 significant digits (at least 0): 1234 -> 0, 12.3 -> 1, 0.123 -> 3. */
static int decimals_for(double x) {
    double a = fabs(x);
    return a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3;
}

static int cmd_recovery(const char *path, double kill_unix, int64_t warmup_s) {
    char *json = slurp(path);
    if (!json) {
        fprintf(stderr, "bench_stats: cannot read %s\n", path);
        return 1;
    }
    int64_t n_rate, n_p99;
    double *rate = array_at(json, "per_second", &n_rate);
    double *p99 = array_at(json, "p99_per_second", &n_p99);
    double start_unix = number_at(json, "start_unix");
    double duration_s = number_at(json, "duration_s");
    free(json);
    /* Only the seconds in which the producers were sending; the last array entry is the tail. */
    int64_t n = SL_MIN(n_rate, n_p99);
    if (isfinite(duration_s)) {
        n = SL_MIN(n, warmup_s + (int64_t)duration_s);
    }
    int rc = 1;
    if (rate && p99 && isfinite(start_unix) && n > 0) {
        double kill_at = kill_unix - start_unix;
        int64_t kill_sec = (int64_t)floor(kill_at);
        sl_stats_recovery_t r =
            sl_stats_recovery(rate, p99, n, warmup_s, kill_sec, kill_sec, 3, 0.10);
        printf("steady_rate=%.0f steady_p99_ms=%.3f steady_p99_max_ms=%.3f kill_at_s=%.2f",
               r.steady_rate, r.steady_p99, r.steady_p99_max, kill_at);
        if (r.back_at >= 0) {
            printf(" back_after_s=%.1f\n", SL_MAX((double)r.back_at - kill_at, 0.0));
        } else {
            printf(" back_after_s=never\n");
        }
        rc = 0;
    } else {
        fprintf(stderr, "bench_stats: %s has no per-second timeline\n", path);
    }
    free(rate);
    free(p99);
    return rc;
}

int main(int argc, char **argv) {
    if (argc >= 3 && !strcmp(argv[1], "summary")) {
        sl_stats_summary_t s = summarize_files(argv[2], argc - 3, argv + 3);
        printf("%lld %.6g %.6g %.6g %.6g %.6g %.0f\n", (long long)s.n, s.mean, s.ci95, s.median,
               s.min, s.max, s.n ? s.mean * (double)s.n : 0.0);
        return 0;
    }
    if (argc >= 3 && !strcmp(argv[1], "cell")) {
        sl_stats_summary_t s = summarize_files(argv[2], argc - 3, argv + 3);
        int d = decimals_for(s.mean);
        if (s.n == 0) {
            printf("?\n");
        } else if (s.n == 1) {
            printf("%.*f\n", d, s.mean);
        } else {
            printf("%.*f ± %.*f\n", d, s.mean, d, s.ci95);
        }
        return 0;
    }
    if (argc == 5 && !strcmp(argv[1], "recovery")) {
        return cmd_recovery(argv[2], atof(argv[3]), atoll(argv[4]));
    }
    fprintf(stderr, "usage: bench_stats summary|cell KEY FILE... | recovery FILE KILL_UNIX_S "
                    "WARMUP_S\n");
    return 2;
}

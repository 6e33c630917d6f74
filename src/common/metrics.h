/* metrics.h -- the process's metric registry, rendered in Prometheus text format (0.0.4).
 *
 * Static series (counters, gauges, histograms) are created once and updated on the hot path with
 * no allocation. Series that come and go (per partition, per group) are produced at scrape time by
 * collectors. Thread: the registry belongs to the broker's loop thread; the admin HTTP server runs
 * in that same loop, so no locking is needed. */
#ifndef SL_METRICS_H
#define SL_METRICS_H

#include <stdint.h>

#include "buf.h"
#include "hist.h"

typedef struct sl_counter sl_counter_t;
typedef struct sl_gauge sl_gauge_t;
typedef struct sl_histo sl_histo_t;
typedef struct sl_metrics_out sl_metrics_out_t;

/* Each returns the series for (name, labels), creating it on first use; the same pointer comes
 * back for the same pair. `labels` is Prometheus label text without braces (`api="Produce"`) or
 * "" for none. `help` is used for the family's HELP line the first time the family is seen. */
sl_counter_t *sl_metrics_counter(const char *name, const char *labels, const char *help);
sl_gauge_t *sl_metrics_gauge(const char *name, const char *labels, const char *help);
/* A histogram of durations in seconds (Prometheus convention), recorded in microseconds. */
sl_histo_t *sl_metrics_histogram(const char *name, const char *labels, const char *help);

/* Removes a series that belongs to something gone (a deleted partition's): it leaves /metrics and
 * its memory is freed; the pointer must not be used again. NULL is ignored. */
void sl_metrics_counter_remove(sl_counter_t *c);

void sl_counter_add(sl_counter_t *c, uint64_t n);
void sl_gauge_set(sl_gauge_t *g, double v);
void sl_gauge_add(sl_gauge_t *g, double d);
void sl_histo_observe_us(sl_histo_t *h, uint64_t us);

/* A collector emits dynamic series at scrape time through sl_metrics_emit. */
typedef void sl_metrics_collect_fn(sl_metrics_out_t *out, void *opaque);
void sl_metrics_add_collector(sl_metrics_collect_fn *fn, void *opaque);
void sl_metrics_remove_collector(sl_metrics_collect_fn *fn, void *opaque);
/* type is "gauge" or "counter". */
void sl_metrics_emit(sl_metrics_out_t *out, const char *name, const char *type, const char *help,
                     const char *labels, double value);

/* A histogram series at scrape time, from an sl_hist_t of microseconds (another thread's copy,
 * say), rendered with the same second bounds as sl_metrics_histogram. */
void sl_metrics_emit_hist(sl_metrics_out_t *out, const char *name, const char *help,
                          const char *labels, const sl_hist_t *h_us);

/* Appends the whole exposition to `out`. */
void sl_metrics_render(sl_buf_t *out);
/* Frees every series and collector (tests, shutdown). */
void sl_metrics_reset(void);

#endif

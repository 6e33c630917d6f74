/* metrics.c -- the metric registry and its Prometheus text rendering (format 0.0.4).
 *
 * Families keep insertion order; each has a name, a type, a help text and a list of series
 * (label text + value). Histograms keep fixed cumulative buckets in seconds, chosen for request
 * and fsync latencies (100 us .. 10 s). Collectors append dynamic series at scrape time; those
 * are grouped by family name when rendered so each family gets one HELP/TYPE header. */
#include "metrics.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

static const double bucket_s[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                  0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
#define N_BUCKETS (sizeof bucket_s / sizeof bucket_s[0])

typedef enum kind { K_COUNTER, K_GAUGE, K_HISTO } kind_t;

typedef struct series {
    struct series *next;
    char *labels;
    uint64_t count; /* counter value, or histogram count */
    double value;   /* gauge value, or histogram sum in seconds */
    uint64_t buckets[N_BUCKETS];
} series_t;

typedef struct family {
    struct family *next;
    char *name;
    char *help;
    kind_t kind;
    series_t *series, *tail;
} family_t;

struct sl_counter {
    series_t s;
};
struct sl_gauge {
    series_t s;
};
struct sl_histo {
    series_t s;
};

typedef struct collector {
    struct collector *next;
    sl_metrics_collect_fn *fn;
    void *opaque;
} collector_t;

static family_t *families, *families_tail;
static collector_t *collectors;

static family_t *family(const char *name, kind_t kind, const char *help) {
    for (family_t *f = families; f; f = f->next) {
        if (!strcmp(f->name, name)) {
            SL_ASSERT(f->kind == kind);
            return f;
        }
    }
    family_t *f = sl_xcalloc(1, sizeof *f);
    f->name = sl_xstrdup(name);
    f->help = sl_xstrdup(help ? help : "");
    f->kind = kind;
    if (families_tail) {
        families_tail->next = f;
    } else {
        families = f;
    }
    families_tail = f;
    return f;
}

static series_t *series(const char *name, kind_t kind, const char *labels, const char *help) {
    family_t *f = family(name, kind, help);
    for (series_t *s = f->series; s; s = s->next) {
        if (!strcmp(s->labels, labels ? labels : "")) {
            return s;
        }
    }
    series_t *s = sl_xcalloc(1, sizeof(struct sl_histo));
    s->labels = sl_xstrdup(labels ? labels : "");
    if (f->tail) {
        f->tail->next = s;
    } else {
        f->series = s;
    }
    f->tail = s;
    return s;
}

sl_counter_t *sl_metrics_counter(const char *name, const char *labels, const char *help) {
    return (sl_counter_t *)series(name, K_COUNTER, labels, help);
}

sl_gauge_t *sl_metrics_gauge(const char *name, const char *labels, const char *help) {
    return (sl_gauge_t *)series(name, K_GAUGE, labels, help);
}

sl_histo_t *sl_metrics_histogram(const char *name, const char *labels, const char *help) {
    return (sl_histo_t *)series(name, K_HISTO, labels, help);
}

void sl_counter_add(sl_counter_t *c, uint64_t n) {
    c->s.count += n;
}

void sl_gauge_set(sl_gauge_t *g, double v) {
    g->s.value = v;
}

void sl_gauge_add(sl_gauge_t *g, double d) {
    g->s.value += d;
}

void sl_histo_observe_us(sl_histo_t *h, uint64_t us) {
    double s = (double)us / 1e6;
    h->s.count++;
    h->s.value += s;
    for (size_t i = 0; i < N_BUCKETS; i++) {
        if (s <= bucket_s[i]) {
            h->s.buckets[i]++;
            break;
        }
    }
}

void sl_metrics_add_collector(sl_metrics_collect_fn *fn, void *opaque) {
    collector_t *c = sl_xcalloc(1, sizeof *c);
    c->fn = fn;
    c->opaque = opaque;
    c->next = collectors;
    collectors = c;
}

void sl_metrics_remove_collector(sl_metrics_collect_fn *fn, void *opaque) {
    for (collector_t **pp = &collectors; *pp; pp = &(*pp)->next) {
        if ((*pp)->fn == fn && (*pp)->opaque == opaque) {
            collector_t *c = *pp;
            *pp = c->next;
            free(c);
            return;
        }
    }
}

/* Dynamic series collected at scrape time. */
typedef struct dyn {
    char *name, *type, *help, *labels;
    double value;
    size_t seq;
} dyn_t;

static int cmp_dyn(const void *a, const void *b) {
    const dyn_t *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->seq < y->seq ? -1 : x->seq > y->seq);
}

struct sl_metrics_out {
    dyn_t *items;
    size_t n, cap;
};

void sl_metrics_emit(sl_metrics_out_t *out, const char *name, const char *type, const char *help,
                     const char *labels, double value) {
    if (out->n == out->cap) {
        out->cap = out->cap ? out->cap * 2 : 64;
        out->items = sl_xrealloc(out->items, out->cap * sizeof *out->items);
    }
    dyn_t *d = &out->items[out->n++];
    d->name = sl_xstrdup(name);
    d->type = sl_xstrdup(type);
    d->help = sl_xstrdup(help ? help : "");
    d->labels = sl_xstrdup(labels ? labels : "");
    d->value = value;
}

static void appendf(sl_buf_t *out, const char *fmt, ...) SL_PRINTF(2, 3);
static void appendf(sl_buf_t *out, const char *fmt, ...) {
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    sl_buf_append(out, tmp, SL_MIN((size_t)n, sizeof tmp - 1));
}

static void labels_with(sl_buf_t *out, const char *name, const char *suffix, const char *labels,
                        const char *extra) {
    appendf(out, "%s%s", name, suffix);
    if (*labels || extra) {
        appendf(out, "{%s%s%s}", labels, *labels && extra ? "," : "", extra ? extra : "");
    }
}

static void render_value(sl_buf_t *out, double v) {
    if (v == (double)(int64_t)v && v < 9e15 && v > -9e15) {
        appendf(out, " %lld\n", (long long)v);
    } else {
        appendf(out, " %.9g\n", v);
    }
}

void sl_metrics_render(sl_buf_t *out) {
    static const char *types[] = {"counter", "gauge", "histogram"};
    for (family_t *f = families; f; f = f->next) {
        appendf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, types[f->kind]);
        for (series_t *s = f->series; s; s = s->next) {
            if (f->kind == K_HISTO) {
                uint64_t cum = 0;
                for (size_t i = 0; i < N_BUCKETS; i++) {
                    cum += s->buckets[i];
                    char le[48];
                    snprintf(le, sizeof le, "le=\"%g\"", bucket_s[i]);
                    labels_with(out, f->name, "_bucket", s->labels, le);
                    render_value(out, (double)cum);
                }
                labels_with(out, f->name, "_bucket", s->labels, "le=\"+Inf\"");
                render_value(out, (double)s->count);
                labels_with(out, f->name, "_sum", s->labels, NULL);
                appendf(out, " %.9g\n", s->value);
                labels_with(out, f->name, "_count", s->labels, NULL);
                render_value(out, (double)s->count);
            } else {
                labels_with(out, f->name, "", s->labels, NULL);
                render_value(out, f->kind == K_COUNTER ? (double)s->count : s->value);
            }
        }
    }
    sl_metrics_out_t dyn = {0};
    for (collector_t *c = collectors; c; c = c->next) {
        c->fn(&dyn, c->opaque);
    }
    /* Group by family name (stable: series keep their emission order within a family). */
    for (size_t i = 0; i < dyn.n; i++) {
        dyn.items[i].seq = i;
    }
    if (dyn.n > 1) {
        qsort(dyn.items, dyn.n, sizeof *dyn.items, cmp_dyn);
    }
    for (size_t i = 0; i < dyn.n; i++) {
        if (i == 0 || strcmp(dyn.items[i].name, dyn.items[i - 1].name) != 0) {
            appendf(out, "# HELP %s %s\n# TYPE %s %s\n", dyn.items[i].name, dyn.items[i].help,
                    dyn.items[i].name, dyn.items[i].type);
        }
        labels_with(out, dyn.items[i].name, "", dyn.items[i].labels, NULL);
        render_value(out, dyn.items[i].value);
    }
    for (size_t i = 0; i < dyn.n; i++) {
        free(dyn.items[i].name);
        free(dyn.items[i].type);
        free(dyn.items[i].help);
        free(dyn.items[i].labels);
    }
    free(dyn.items);
}

void sl_metrics_reset(void) {
    family_t *f = families;
    while (f) {
        family_t *nf = f->next;
        series_t *s = f->series;
        while (s) {
            series_t *ns = s->next;
            free(s->labels);
            free(s);
            s = ns;
        }
        free(f->name);
        free(f->help);
        free(f);
        f = nf;
    }
    families = families_tail = NULL;
    while (collectors) {
        collector_t *c = collectors;
        collectors = c->next;
        free(c);
    }
}

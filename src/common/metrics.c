/* metrics.c -- the metric registry and its Prometheus text rendering (exposition format 0.0.4).
 *
 * A family (name, type, help) holds series, one per label text; families and series render in
 * the order they were first registered. Updating a series is a plain add or store: no lookup, no
 * allocation, no lock (the registry belongs to the loop thread, see metrics.h).
 *
 * Histograms count durations in integer microseconds against fixed bucket bounds, so a value on
 * a bound (exactly 100 us) always lands in that bound's bucket, with no float rounding; `_sum` is
 * kept in microseconds too and printed as exact decimal seconds. The bounds (100 us .. 10 s)
 * cover request latencies from a cached Metadata answer up to a stuck fsync.
 *
 * Collectors run at scrape time and emit samples in any order. Rendering groups them by name:
 * a name that is also a registered family is printed inside that family (so one HELP/TYPE
 * header), other names form families in order of first emission, and samples keep their emission
 * order within a family. */
#include "metrics.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "hist.h"
#include "util.h"

static const uint64_t bound_us[] = {100,     250,     500,     1000,    2500,   5000,
                                    10000,   25000,   50000,   100000,  250000, 500000,
                                    1000000, 2500000, 5000000, 10000000};
static const char *const bound_le[] = {"0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005",
                                       "0.01",   "0.025",   "0.05",   "0.1",   "0.25",   "0.5",
                                       "1",      "2.5",     "5",      "10"};
#define N_BOUNDS SL_ARRAY_LEN(bound_us)
_Static_assert(SL_ARRAY_LEN(bound_us) == SL_ARRAY_LEN(bound_le), "bucket tables differ");

typedef enum kind { K_COUNTER, K_GAUGE, K_HISTO } kind_t;
static const char *const kind_name[] = {"counter", "gauge", "histogram"};

struct family;
typedef struct series {
    struct series *next, *prev;
    struct series *hnext; /* chain in the family's hash table */
    struct family *family;
    char *labels; /* "" for none */
} series_t;

/* Each starts with its series_t, so a series_t * of the family's kind converts to it. */
struct sl_counter {
    series_t s;
    uint64_t value;
};
struct sl_gauge {
    series_t s;
    double value;
};
struct sl_histo {
    series_t s;
    uint64_t count, sum_us;
    uint64_t buckets[N_BOUNDS]; /* per bucket, not cumulative; past the last bound: count only */
};

typedef struct family {
    struct family *next;
    char *name, *help;
    kind_t kind;
    size_t index; /* position in registration order */
    series_t *series, *tail;
    /* Series by label text, so registering the n-th one (a partition's, say) is not a scan of
     * n-1: 20,000 partitions used to cost seconds of strcmp. */
    series_t **tab;
    size_t tab_size, n_series;
} family_t;

typedef struct collector {
    struct collector *next;
    sl_metrics_collect_fn *fn;
    void *opaque;
} collector_t;

static family_t *families, *families_tail;
static size_t n_families;
static collector_t *collectors, *collectors_tail;

static family_t *family_find(const char *name) {
    for (family_t *f = families; f; f = f->next) {
        if (!strcmp(f->name, name)) {
            return f;
        }
    }
    return NULL;
}

static uint64_t hash_labels(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    }
    return h;
}

static void tab_add(family_t *f, series_t *s) {
    if (f->n_series + 1 > f->tab_size / 2) {
        size_t n = f->tab_size ? f->tab_size * 2 : 16;
        series_t **tab = sl_xcalloc(n, sizeof *tab);
        for (series_t *x = f->series; x; x = x->next) {
            size_t h = hash_labels(x->labels) % n;
            x->hnext = tab[h];
            tab[h] = x;
        }
        free(f->tab);
        f->tab = tab;
        f->tab_size = n;
    }
    size_t h = hash_labels(s->labels) % f->tab_size;
    s->hnext = f->tab[h];
    f->tab[h] = s;
    f->n_series++;
}

static series_t *series_get(const char *name, kind_t kind, const char *labels, const char *help) {
    labels = labels ? labels : "";
    family_t *f = family_find(name);
    if (!f) {
        f = sl_xcalloc(1, sizeof *f);
        f->name = sl_xstrdup(name);
        f->help = sl_xstrdup(help ? help : "");
        f->kind = kind;
        f->index = n_families++;
        if (families_tail) {
            families_tail->next = f;
        } else {
            families = f;
        }
        families_tail = f;
    }
    SL_ASSERT(f->kind == kind); /* one name, one type: a programming error otherwise */
    if (f->tab_size) {
        for (series_t *s = f->tab[hash_labels(labels) % f->tab_size]; s; s = s->hnext) {
            if (!strcmp(s->labels, labels)) {
                return s;
            }
        }
    }
    static const size_t size[] = {sizeof(sl_counter_t), sizeof(sl_gauge_t), sizeof(sl_histo_t)};
    series_t *s = sl_xcalloc(1, size[kind]);
    s->labels = sl_xstrdup(labels);
    s->family = f;
    tab_add(f, s); /* before linking: a rehash walks the list */
    s->prev = f->tail;
    if (f->tail) {
        f->tail->next = s;
    } else {
        f->series = s;
    }
    f->tail = s;
    return s;
}

/* Unlinks a series from its family (list and hash chain) and frees it: O(chain length). */
static void series_remove(series_t *s) {
    if (!s) {
        return;
    }
    family_t *f = s->family;
    series_t **pp = &f->tab[hash_labels(s->labels) % f->tab_size];
    while (*pp != s) {
        pp = &(*pp)->hnext;
    }
    *pp = s->hnext;
    f->n_series--;
    if (s->prev) {
        s->prev->next = s->next;
    } else {
        f->series = s->next;
    }
    if (s->next) {
        s->next->prev = s->prev;
    } else {
        f->tail = s->prev;
    }
    free(s->labels);
    free(s);
}

void sl_metrics_counter_remove(sl_counter_t *c) {
    series_remove(c ? &c->s : NULL);
}

sl_counter_t *sl_metrics_counter(const char *name, const char *labels, const char *help) {
    return (sl_counter_t *)series_get(name, K_COUNTER, labels, help);
}

sl_gauge_t *sl_metrics_gauge(const char *name, const char *labels, const char *help) {
    return (sl_gauge_t *)series_get(name, K_GAUGE, labels, help);
}

sl_histo_t *sl_metrics_histogram(const char *name, const char *labels, const char *help) {
    return (sl_histo_t *)series_get(name, K_HISTO, labels, help);
}

void sl_counter_add(sl_counter_t *c, uint64_t n) {
    c->value += n;
}

void sl_gauge_set(sl_gauge_t *g, double v) {
    g->value = v;
}

void sl_gauge_add(sl_gauge_t *g, double d) {
    g->value += d;
}

void sl_histo_observe_us(sl_histo_t *h, uint64_t us) {
    h->count++;
    h->sum_us += us;
    for (size_t i = 0; i < N_BOUNDS; i++) {
        if (us <= bound_us[i]) {
            h->buckets[i]++;
            return;
        }
    }
}

void sl_metrics_add_collector(sl_metrics_collect_fn *fn, void *opaque) {
    collector_t *c = sl_xcalloc(1, sizeof *c);
    c->fn = fn;
    c->opaque = opaque;
    if (collectors_tail) {
        collectors_tail->next = c;
    } else {
        collectors = c;
    }
    collectors_tail = c;
}

void sl_metrics_remove_collector(sl_metrics_collect_fn *fn, void *opaque) {
    collector_t *prev = NULL;
    for (collector_t *c = collectors; c; prev = c, c = c->next) {
        if (c->fn == fn && c->opaque == opaque) {
            if (prev) {
                prev->next = c->next;
            } else {
                collectors = c->next;
            }
            if (collectors_tail == c) {
                collectors_tail = prev;
            }
            free(c);
            return;
        }
    }
}

/* ---- scrape-time samples ---- */

typedef struct sample {
    char *name, *help, *labels;
    bool counter;
    double value;
    sl_histo_t *histo; /* a histogram sample (sl_metrics_emit_hist): its counts; else NULL */
    size_t seq;        /* emission order */
    size_t rank; /* family index for registered names, n_families + first seq of the name else */
} sample_t;

struct sl_metrics_out {
    sample_t *items;
    size_t n, cap;
};

void sl_metrics_emit(sl_metrics_out_t *out, const char *name, const char *type, const char *help,
                     const char *labels, double value) {
    if (out->n == out->cap) {
        out->cap = out->cap ? out->cap * 2 : 64;
        out->items = sl_xrealloc(out->items, out->cap * sizeof *out->items);
    }
    sample_t *s = &out->items[out->n];
    s->name = sl_xstrdup(name);
    s->help = sl_xstrdup(help ? help : "");
    s->labels = sl_xstrdup(labels ? labels : "");
    s->counter = type && !strcmp(type, "counter");
    s->value = value;
    s->histo = NULL;
    s->seq = out->n++;
    s->rank = 0;
}

/* The counts at the fixed bounds are read off the log-linear histogram with sl_hist_count_le:
 * every bound is below 2^21 us, where a bucket is at most 1/1024 of its value wide, so a count
 * may include values above the bound by less than 0.1% of it. */
void sl_metrics_emit_hist(sl_metrics_out_t *out, const char *name, const char *help,
                          const char *labels, const sl_hist_t *h_us) {
    sl_metrics_emit(out, name, "histogram", help, labels, 0);
    sl_histo_t *x = sl_xcalloc(1, sizeof *x);
    uint64_t below = 0;
    for (size_t i = 0; i < N_BOUNDS; i++) {
        uint64_t le = sl_hist_count_le(h_us, bound_us[i]);
        x->buckets[i] = le - below; /* per bucket, as sl_histo_observe_us keeps them */
        below = le;
    }
    x->count = sl_hist_count(h_us);
    x->sum_us = (uint64_t)(sl_hist_mean(h_us) * (double)x->count + 0.5);
    out->items[out->n - 1].histo = x;
}

static int cmp_name_seq(const void *a, const void *b) {
    const sample_t *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

static int cmp_rank_seq(const void *a, const void *b) {
    const sample_t *x = a, *y = b;
    if (x->rank != y->rank) {
        return (x->rank > y->rank) - (x->rank < y->rank);
    }
    return (x->seq > y->seq) - (x->seq < y->seq);
}

/* Orders samples for rendering: see the file comment. Two sorts instead of a hash table: the
 * first finds each name's first emission, the second puts the groups in their final order. */
static void order_samples(sl_metrics_out_t *out) {
    if (!out->n) {
        return; /* qsort's base may not be NULL */
    }
    qsort(out->items, out->n, sizeof *out->items, cmp_name_seq);
    for (size_t i = 0; i < out->n;) {
        size_t j = i + 1;
        while (j < out->n && !strcmp(out->items[j].name, out->items[i].name)) {
            j++;
        }
        family_t *f = family_find(out->items[i].name);
        size_t rank = f ? f->index : n_families + out->items[i].seq;
        for (size_t k = i; k < j; k++) {
            out->items[k].rank = rank;
        }
        i = j;
    }
    qsort(out->items, out->n, sizeof *out->items, cmp_rank_seq);
}

/* ---- text rendering ---- */

static void appendf(sl_buf_t *out, const char *fmt, ...) SL_PRINTF(2, 3);
static void appendf(sl_buf_t *out, const char *fmt, ...) {
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n > 0) {
        sl_buf_reserve(out, (size_t)n + 1);
        vsnprintf((char *)out->data + out->len, (size_t)n + 1, fmt, ap2);
        out->len += (size_t)n;
    }
    va_end(ap2);
}

/* HELP text escapes backslash and newline (the format's only two escapes there). A family
 * without help text gets no HELP line rather than an empty one. */
static void header(sl_buf_t *out, const char *name, const char *type, const char *help) {
    if (!*help) {
        appendf(out, "# TYPE %s %s\n", name, type);
        return;
    }
    appendf(out, "# HELP %s ", name);
    for (const char *p = help; *p; p++) {
        if (*p == '\\') {
            sl_buf_append(out, "\\\\", 2);
        } else if (*p == '\n') {
            sl_buf_append(out, "\\n", 2);
        } else {
            sl_buf_append(out, p, 1);
        }
    }
    appendf(out, "\n# TYPE %s %s\n", name, type);
}

/* name{labels,extra} -- either part may be empty. */
static void sample_name(sl_buf_t *out, const char *name, const char *suffix, const char *labels,
                        const char *extra) {
    appendf(out, "%s%s", name, suffix);
    if (*labels || *extra) {
        appendf(out, "{%s%s%s}", labels, *labels && *extra ? "," : "", extra);
    }
}

/* Shortest text that reads back as the same double; integers without exponent or point. */
static void append_double(sl_buf_t *out, double v) {
    if (isnan(v)) {
        appendf(out, "NaN");
    } else if (isinf(v)) {
        appendf(out, v > 0 ? "+Inf" : "-Inf");
    } else if (v == floor(v) && fabs(v) < 1e15) {
        appendf(out, "%.0f", v);
    } else {
        char tmp[32];
        snprintf(tmp, sizeof tmp, "%.15g", v);
        if (strtod(tmp, NULL) != v) {
            snprintf(tmp, sizeof tmp, "%.17g", v);
        }
        appendf(out, "%s", tmp);
    }
}

/* Microseconds as exact decimal seconds: 1500 -> "0.0015". */
static void append_us_as_s(sl_buf_t *out, uint64_t us) {
    uint64_t frac = us % 1000000;
    if (!frac) {
        appendf(out, "%" PRIu64, us / 1000000);
        return;
    }
    int digits = 6;
    while (frac % 10 == 0) {
        frac /= 10;
        digits--;
    }
    appendf(out, "%" PRIu64 ".%0*" PRIu64, us / 1000000, digits, frac);
}

static void render_histo_as(sl_buf_t *out, const char *name, const char *labels,
                            const sl_histo_t *h) {
    uint64_t cum = 0;
    char le[32];
    for (size_t i = 0; i < N_BOUNDS; i++) {
        cum += h->buckets[i];
        snprintf(le, sizeof le, "le=\"%s\"", bound_le[i]);
        sample_name(out, name, "_bucket", labels, le);
        appendf(out, " %" PRIu64 "\n", cum);
    }
    sample_name(out, name, "_bucket", labels, "le=\"+Inf\"");
    appendf(out, " %" PRIu64 "\n", h->count);
    sample_name(out, name, "_sum", labels, "");
    sl_buf_append(out, " ", 1);
    append_us_as_s(out, h->sum_us);
    sl_buf_append(out, "\n", 1);
    sample_name(out, name, "_count", labels, "");
    appendf(out, " %" PRIu64 "\n", h->count);
}

static void render_histo(sl_buf_t *out, const char *name, const sl_histo_t *h) {
    render_histo_as(out, name, h->s.labels, h);
}

static void render_sample(sl_buf_t *out, const sample_t *s) {
    sample_name(out, s->name, "", s->labels, "");
    sl_buf_append(out, " ", 1);
    append_double(out, s->value);
    sl_buf_append(out, "\n", 1);
}

void sl_metrics_render(sl_buf_t *out) {
    sl_metrics_out_t dyn = {0};
    for (collector_t *c = collectors; c; c = c->next) {
        c->fn(&dyn, c->opaque);
    }
    order_samples(&dyn);

    size_t next = 0; /* first sample not rendered yet; ranks ascend */
    for (family_t *f = families; f; f = f->next) {
        header(out, f->name, kind_name[f->kind], f->help);
        for (series_t *s = f->series; s; s = s->next) {
            switch (f->kind) {
            case K_COUNTER:
                sample_name(out, f->name, "", s->labels, "");
                appendf(out, " %" PRIu64 "\n", ((const sl_counter_t *)s)->value);
                break;
            case K_GAUGE:
                sample_name(out, f->name, "", s->labels, "");
                sl_buf_append(out, " ", 1);
                append_double(out, ((const sl_gauge_t *)s)->value);
                sl_buf_append(out, "\n", 1);
                break;
            case K_HISTO:
                render_histo(out, f->name, (const sl_histo_t *)s);
                break;
            }
        }
        for (; next < dyn.n && dyn.items[next].rank == f->index; next++) {
            /* A plain sample inside a histogram family would be malformed, and a histogram in
             * another family too: both are dropped. */
            const sample_t *d = &dyn.items[next];
            if (f->kind == K_HISTO && d->histo) {
                render_histo_as(out, f->name, d->labels, d->histo);
            } else if (f->kind != K_HISTO && !d->histo) {
                render_sample(out, d);
            }
        }
    }
    bool family_histo = false; /* the type of the family being rendered: its first sample's */
    for (size_t i = next; i < dyn.n; i++) {
        const sample_t *s = &dyn.items[i];
        if (i == next || s->rank != dyn.items[i - 1].rank) {
            family_histo = s->histo != NULL;
            header(out, s->name,
                   s->histo     ? "histogram"
                   : s->counter ? "counter"
                                : "gauge",
                   s->help);
        }
        if (s->histo && family_histo) {
            render_histo_as(out, s->name, s->labels, s->histo);
        } else if (!s->histo && !family_histo) {
            render_sample(out, s); /* samples of the other kind are dropped */
        }
    }

    for (size_t i = 0; i < dyn.n; i++) {
        free(dyn.items[i].histo);
        free(dyn.items[i].name);
        free(dyn.items[i].help);
        free(dyn.items[i].labels);
    }
    free(dyn.items);
}

void sl_metrics_reset(void) {
    for (family_t *f = families, *nf; f; f = nf) {
        nf = f->next;
        for (series_t *s = f->series, *ns; s; s = ns) {
            ns = s->next;
            free(s->labels);
            free(s);
        }
        free(f->tab);
        free(f->name);
        free(f->help);
        free(f);
    }
    families = families_tail = NULL;
    n_families = 0;
    for (collector_t *c = collectors, *nc; c; c = nc) {
        nc = c->next;
        free(c);
    }
    collectors = collectors_tail = NULL;
}

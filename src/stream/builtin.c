/* builtin.c -- the ready-made aggregates (count, sum, min, max, avg, distinct count) and reduce
 * (stream.h), built on sl_stream_agg_t like any user aggregate.
 *
 * Numbers: a record's number is its value as decimal text, or a top-level JSON field. Integers
 * that fit int64 stay exact (sums too, until one would overflow: then the sum goes on in
 * double); anything else is a finite double. Results are decimal text.
 *
 * Distinct count keeps the K smallest 64-bit hashes of the values seen (k-minimum values): exact
 * while fewer than K distinct values arrived, and beyond that the estimate (K - 1) / h_K scaled to
 * the hash space, whose relative error is about 1 / sqrt(K - 2) (~6% at K = 256). Sessions merge
 * by the union of the two hash sets. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream/graph.h"

#define DISTINCT_K 256

typedef struct builtin_conf {
    sl_stream_builtin_t kind;
    char *field; /* NULL: the record's value */
} builtin_conf_t;

typedef struct num {
    int64_t i;
    double d;
    uint8_t is_int;
} num_t;

/* All state structs are plain bytes (no pointers): they go to the changelog. */
typedef struct sum_state {
    uint64_t n;
    num_t sum; /* is_int until a non-integer or an overflow */
} sum_state_t;

typedef struct ext_state { /* min, max */
    uint8_t have;
    num_t v;
} ext_state_t;

typedef struct distinct_state {
    uint32_t n; /* hashes kept, ascending */
    uint64_t h[DISTINCT_K];
} distinct_state_t;

typedef struct reduce_conf {
    sl_stream_reduce_fn *fn;
    void *user;
    size_t max;
} reduce_conf_t;

typedef struct reduce_state {
    uint32_t len;
    uint8_t have;
    uint8_t bytes[]; /* reduce_conf_t.max */
} reduce_state_t;

/* ---- numbers ---- */

static sl_err_t parse_num(const uint8_t *p, size_t n, num_t *out) {
    char buf[64];
    if (!p || n == 0 || n >= sizeof buf) {
        return SL_ERR_INVAL;
    }
    memcpy(buf, p, n);
    buf[n] = 0;
    char *end;
    errno = 0;
    long long i = strtoll(buf, &end, 10);
    if (!*end && errno == 0) {
        *out = (num_t){i, (double)i, 1};
        return SL_OK;
    }
    double d = strtod(buf, &end);
    if (*end || !isfinite(d)) {
        return SL_ERR_INVAL;
    }
    *out = (num_t){0, d, 0};
    return SL_OK;
}

/* The bytes a built-in aggregates for `rec`: the JSON field's text or the record's value. */
static sl_err_t input_of(sl_stream_ctx_t *ctx, const builtin_conf_t *c, const sl_stream_rec_t *rec,
                         sl_bytes_t *out) {
    if (!c->field) {
        *out = rec->value;
        return out->p ? SL_OK : sl_stream_fail(ctx, "the record has no value");
    }
    sl_err_t err = sl_stream_json_get(ctx, rec->value, c->field, out);
    if (err == SL_ERR_NOTFOUND) {
        return sl_stream_fail(ctx, "field '%s' is missing", c->field);
    }
    if (err != SL_OK) {
        return sl_stream_fail(ctx, "field '%s': the value is not a JSON object with it", c->field);
    }
    return SL_OK;
}

static sl_err_t num_of(sl_stream_ctx_t *ctx, const builtin_conf_t *c, const sl_stream_rec_t *rec,
                       num_t *out) {
    sl_bytes_t b;
    sl_err_t err = input_of(ctx, c, rec, &b);
    if (err != SL_OK) {
        return err;
    }
    if (parse_num(b.p, b.len, out) != SL_OK) {
        return sl_stream_fail(ctx, "%s%s%s is not a number", c->field ? "field '" : "the value",
                              c->field ? c->field : "", c->field ? "'" : "");
    }
    return SL_OK;
}

static void num_add(num_t *into, const num_t *x) {
    int64_t r;
    if (into->is_int && x->is_int && !__builtin_add_overflow(into->i, x->i, &r)) {
        into->i = r;
        into->d = (double)r;
        return;
    }
    into->d = (into->is_int ? (double)into->i : into->d) + (x->is_int ? (double)x->i : x->d);
    into->is_int = 0;
}

static int num_cmp(const num_t *a, const num_t *b) {
    if (a->is_int && b->is_int) {
        return (a->i > b->i) - (a->i < b->i);
    }
    return (a->d > b->d) - (a->d < b->d);
}

static sl_err_t emit_text(sl_stream_ctx_t *ctx, const char *fmt, ...) SL_PRINTF(2, 3);
static sl_err_t emit_text(sl_stream_ctx_t *ctx, const char *fmt, ...) {
    char *out = sl_stream_scratch(ctx, 64);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, 64, fmt, ap);
    va_end(ap);
    return sl_stream_emit(ctx, sl_stream_ctx_key(ctx),
                          (sl_bytes_t){(const uint8_t *)out, (size_t)SL_MIN(n, 63)});
}

static sl_err_t emit_num(sl_stream_ctx_t *ctx, const num_t *v) {
    return v->is_int ? emit_text(ctx, "%" PRId64, v->i) : emit_text(ctx, "%.17g", v->d);
}

/* ---- count, sum, avg ---- */

static sl_err_t count_step(sl_stream_ctx_t *ctx, void *state, const sl_stream_rec_t *rec,
                           void *user) {
    (void)ctx, (void)rec, (void)user;
    ((sum_state_t *)state)->n++;
    return SL_OK;
}

static sl_err_t sum_step(sl_stream_ctx_t *ctx, void *state, const sl_stream_rec_t *rec,
                         void *user) {
    sum_state_t *s = state;
    num_t x;
    sl_err_t err = num_of(ctx, user, rec, &x);
    if (err != SL_OK) {
        return err;
    }
    if (s->n++ == 0) {
        s->sum = x;
    } else {
        num_add(&s->sum, &x);
    }
    return SL_OK;
}

static void sum_merge(void *into, const void *from, void *user) {
    (void)user;
    sum_state_t *a = into;
    const sum_state_t *b = from;
    if (b->n == 0) {
        return;
    }
    if (a->n == 0) {
        a->sum = b->sum;
    } else {
        num_add(&a->sum, &b->sum);
    }
    a->n += b->n;
}

static sl_err_t count_result(sl_stream_ctx_t *ctx, const void *state, void *user) {
    (void)user;
    return emit_text(ctx, "%" PRIu64, ((const sum_state_t *)state)->n);
}

static sl_err_t sum_result(sl_stream_ctx_t *ctx, const void *state, void *user) {
    (void)user;
    return emit_num(ctx, &((const sum_state_t *)state)->sum);
}

static sl_err_t avg_result(sl_stream_ctx_t *ctx, const void *state, void *user) {
    (void)user;
    const sum_state_t *s = state;
    double sum = s->sum.is_int ? (double)s->sum.i : s->sum.d;
    return emit_text(ctx, "%.17g", s->n ? sum / (double)s->n : 0.0);
}

/* ---- min, max ---- */

static sl_err_t ext_step(sl_stream_ctx_t *ctx, void *state, const sl_stream_rec_t *rec,
                         void *user) {
    const builtin_conf_t *c = user;
    ext_state_t *s = state;
    num_t x;
    sl_err_t err = num_of(ctx, c, rec, &x);
    if (err != SL_OK) {
        return err;
    }
    int cmp = num_cmp(&x, &s->v);
    if (!s->have || (c->kind == SL_STREAM_MIN ? cmp < 0 : cmp > 0)) {
        s->v = x;
        s->have = 1;
    }
    return SL_OK;
}

static void ext_merge(void *into, const void *from, void *user) {
    const builtin_conf_t *c = user;
    ext_state_t *a = into;
    const ext_state_t *b = from;
    int cmp = num_cmp(&b->v, &a->v);
    if (b->have && (!a->have || (c->kind == SL_STREAM_MIN ? cmp < 0 : cmp > 0))) {
        *a = *b;
    }
}

static sl_err_t ext_result(sl_stream_ctx_t *ctx, const void *state, void *user) {
    (void)user;
    return emit_num(ctx, &((const ext_state_t *)state)->v);
}

/* ---- distinct count ---- */

static uint64_t hash64(sl_bytes_t b) {
    uint64_t h = 0x9e3779b97f4a7c15ull ^ b.len;
    for (size_t i = 0; i < b.len; i++) {
        h = (h ^ b.p[i]) * 0x100000001b3ull;
        h ^= h >> 29;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

/* Adds h to the K smallest kept (ascending), unless it is there or larger than all K. */
static void distinct_add(distinct_state_t *s, uint64_t h) {
    uint32_t lo = 0, hi = s->n;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (s->h[mid] < h) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if ((lo < s->n && s->h[lo] == h) || lo == DISTINCT_K) {
        return;
    }
    uint32_t n = s->n < DISTINCT_K ? s->n : DISTINCT_K - 1; /* the largest drops out when full */
    memmove(&s->h[lo + 1], &s->h[lo], (n - lo) * sizeof s->h[0]);
    s->h[lo] = h;
    s->n = n + 1;
}

static sl_err_t distinct_step(sl_stream_ctx_t *ctx, void *state, const sl_stream_rec_t *rec,
                              void *user) {
    sl_bytes_t b;
    sl_err_t err = input_of(ctx, user, rec, &b);
    if (err == SL_OK) {
        distinct_add(state, hash64(b));
    }
    return err;
}

static void distinct_merge(void *into, const void *from, void *user) {
    (void)user;
    const distinct_state_t *b = from;
    for (uint32_t i = 0; i < b->n; i++) {
        distinct_add(into, b->h[i]);
    }
}

static sl_err_t distinct_result(sl_stream_ctx_t *ctx, const void *state, void *user) {
    (void)user;
    const distinct_state_t *s = state;
    if (s->n < DISTINCT_K) {
        return emit_text(ctx, "%" PRIu32, s->n);
    }
    /* (K - 1) / (h_K / 2^64): the density of the K smallest hashes in the hash space. */
    double frac = ((double)s->h[DISTINCT_K - 1] + 1.0) / 18446744073709551616.0;
    return emit_text(ctx, "%.0f", (DISTINCT_K - 1) / frac);
}

/* ---- the builder side ---- */

static void conf_free(void *p) {
    builtin_conf_t *c = p;
    free(c->field);
    free(c);
}

sl_stream_agg_t sl_stream_builtin(sl_stream_builder_t *b, sl_stream_builtin_t kind,
                                  const char *field) {
    builtin_conf_t *c = sl_xcalloc(1, sizeof *c);
    c->kind = kind;
    c->field = field ? sl_xstrdup(field) : NULL;
    sl_stream_own(b, c, conf_free);
    sl_stream_agg_t a = {0};
    a.user = c;
    switch (kind) {
    case SL_STREAM_COUNT:
        a = (sl_stream_agg_t){sizeof(sum_state_t), count_step, sum_merge, count_result, c};
        break;
    case SL_STREAM_SUM:
        a = (sl_stream_agg_t){sizeof(sum_state_t), sum_step, sum_merge, sum_result, c};
        break;
    case SL_STREAM_AVG:
        a = (sl_stream_agg_t){sizeof(sum_state_t), sum_step, sum_merge, avg_result, c};
        break;
    case SL_STREAM_MIN:
    case SL_STREAM_MAX:
        a = (sl_stream_agg_t){sizeof(ext_state_t), ext_step, ext_merge, ext_result, c};
        break;
    case SL_STREAM_COUNT_DISTINCT:
        a = (sl_stream_agg_t){sizeof(distinct_state_t), distinct_step, distinct_merge,
                              distinct_result, c};
        break;
    }
    if (!a.step) {
        sl_graph_fail(b, "unknown built-in aggregate %d", (int)kind);
    }
    return a;
}

/* ---- reduce ---- */

static sl_err_t reduce_step(sl_stream_ctx_t *ctx, void *state, const sl_stream_rec_t *rec,
                            void *user) {
    const reduce_conf_t *c = user;
    reduce_state_t *s = state;
    if (!s->have) {
        if (rec->value.len > c->max) {
            return sl_stream_fail(ctx, "value of %zu bytes exceeds the reduce's %zu",
                                  rec->value.len, c->max);
        }
        if (rec->value.len) {
            memcpy(s->bytes, rec->value.p, rec->value.len);
        }
        s->len = (uint32_t)rec->value.len;
        s->have = 1;
        return SL_OK;
    }
    uint8_t *out = sl_stream_scratch(ctx, c->max);
    size_t n = 0;
    sl_err_t err = c->fn((sl_bytes_t){s->bytes, s->len}, rec->value, c->user, out, c->max, &n);
    if (err != SL_OK) {
        return err;
    }
    if (n > c->max) {
        return sl_stream_fail(ctx, "reduced value of %zu bytes exceeds %zu", n, c->max);
    }
    memcpy(s->bytes, out, n);
    s->len = (uint32_t)n;
    return SL_OK;
}

/* Sessions merge with the reducer itself (it is associative by contract, as Kafka Streams'). A
 * reducer failing here keeps `into` as it is. */
static void reduce_merge(void *into, const void *from, void *user) {
    const reduce_conf_t *c = user;
    reduce_state_t *a = into;
    const reduce_state_t *b = from;
    if (!b->have) {
        return;
    }
    if (!a->have) {
        memcpy(a, b, sizeof *a + b->len);
        return;
    }
    uint8_t *out = sl_xmalloc(c->max ? c->max : 1);
    size_t n = 0;
    if (c->fn((sl_bytes_t){a->bytes, a->len}, (sl_bytes_t){b->bytes, b->len}, c->user, out, c->max,
              &n) == SL_OK &&
        n <= c->max) {
        memcpy(a->bytes, out, n);
        a->len = (uint32_t)n;
    }
    free(out);
}

static sl_err_t reduce_result(sl_stream_ctx_t *ctx, const void *state, void *user) {
    (void)user;
    const reduce_state_t *s = state;
    return sl_stream_emit(ctx, sl_stream_ctx_key(ctx), (sl_bytes_t){s->bytes, s->len});
}

sl_stream_node_t *sl_stream_reduce(sl_stream_node_t *in, const char *name,
                                   const sl_stream_window_t *w, sl_stream_reduce_fn *fn, void *user,
                                   size_t max_bytes) {
    reduce_conf_t *c = sl_xcalloc(1, sizeof *c);
    c->fn = fn;
    c->user = user;
    c->max = max_bytes;
    sl_stream_own(in->b, c, free);
    sl_stream_agg_t a = {sizeof(reduce_state_t) + max_bytes, reduce_step, reduce_merge,
                         reduce_result, c};
    if (!fn || max_bytes == 0 || max_bytes > SL_STREAM_REDUCE_MAX) {
        sl_graph_fail(in->b, "reduce '%s' needs a function and 1..%u bytes for its value",
                      name ? name : "", SL_STREAM_REDUCE_MAX);
    }
    return sl_stream_aggregate(in, name, w, &a);
}

/* compile.c -- a checked query to stream-engine nodes, and the catalog file.
 *
 * Plain query:   source(topic, event time from the timestamp column) -> map(WHERE, SELECT) -> sink
 * Grouped query: source -> map(WHERE; key = GROUP BY values, value = aggregate arguments, both in
 *                a compact binary form) -> rekey (repartition by that key) -> aggregate(window,
 *                one fixed-size state per group) -> result(HAVING, SELECT) -> sink
 * Join:          source -> [rekey by the ON column] -> join <- [rekey] <- source or table; the
 *                joiner decodes both records into one row of the query's slots and runs WHERE and
 *                SELECT (or the grouped query's prepare step, then rekey -> aggregate as above)
 * The JSON document is decoded once per record, in the source's event-time callback, into only the
 * slots the query uses (jscan.c: one validating pass, no tree); the map reuses that row (a
 * per-thread cache checked against the record). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "sql/sql_int.h"

typedef struct tls {
    const sl_sql_plan_t *plan; /* the cached row's source and record */
    const uint8_t *vp;
    size_t vlen;
    int64_t offset;
    int32_t partition;
    bool ok;               /* the row decoded */
    const char *why;       /* why not */
    sl_sql_scratch_t dmem; /* the row's unescaped strings (the others view the record) */
    sl_sql_val_t *row;     /* input slots, then post slots */
    size_t cap;
    sl_sql_jval_t *raw; /* each top-level key's value text (NULL: the row is no document's) */
    sl_sql_jval_t *raw_buf;
    size_t raw_cap;
    sl_sql_scratch_t mem;
    sl_sql_out_t out, key;
    const sl_sql_query_t *prep_q; /* the query whose prep/prep_keep hold this row's step input */
    bool prep_keep;               /* the row passed its WHERE */
    sl_sql_out_t prep;            /* its aggregate arguments (binary form) */
    sl_sql_out_t subdoc;          /* a subquery's row being read (a copy: see row_of) */
} tls_t;

static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
static __thread tls_t *tls_mine; /* the key's value, without a call per record */

static void tls_free(void *p) {
    tls_t *t = p;
    tls_mine = NULL; /* runs on the exiting thread */
    sl_sql_scratch_fini(&t->dmem);
    free(t->row);
    free(t->raw_buf);
    sl_sql_scratch_fini(&t->mem);
    sl_sql_out_free(&t->out);
    sl_sql_out_free(&t->key);
    sl_sql_out_free(&t->prep);
    sl_sql_out_free(&t->subdoc);
    free(t);
}
static void tls_init(void) {
    (void)pthread_key_create(&tls_key, tls_free);
}
static tls_t *tls_get(size_t slots) {
    tls_t *t = tls_mine;
    if (!t) {
        (void)pthread_once(&tls_once, tls_init);
        t = tls_mine = sl_xcalloc(1, sizeof *t);
        (void)pthread_setspecific(tls_key, t); /* for its destructor at thread exit */
    }
    if (slots > t->cap) {
        t->cap = slots * 2;
        t->row = sl_xrealloc(t->row, t->cap * sizeof *t->row);
    }
    return t;
}

/* The decoded row of rec: decodes unless this thread just did it for the same record (the
 * source's event-time callback decodes, every query's map then reuses the row). */
static tls_t *row_of(const sl_sql_plan_t *plan, const sl_stream_rec_t *rec) {
    tls_t *t = tls_get(plan->n_paths + 1);
    if (plan->sub) {
        /* A subquery's row is its result step's t->out, which this thread's next steps write
         * over (and which the next row reuses at the same address): decoded from a copy, never
         * from the cache. */
        sl_sql_scratch_reset(&t->dmem);
        sl_sql_scratch_reset(&t->mem);
        t->prep_q = NULL;
        t->plan = NULL;
        t->raw = NULL;
        t->subdoc.len = 0;
        sl_sql_out_raw(&t->subdoc, (const char *)rec->value.p, rec->value.len);
        const sl_sql_query_t *in = plan->sub_q;
        t = tls_get(plan->n_paths + in->n_out + 1);
        sl_sql_val_t *vals = t->row + plan->n_paths; /* the row's columns, then the slots */
        const uint8_t *p = (const uint8_t *)t->subdoc.p, *end = p + t->subdoc.len;
        t->ok = rec->value.p != NULL;
        for (size_t i = 0; t->ok && i < in->n_out; i++) {
            t->ok = sl_sql_dec_val(&p, end, in->out[i]->type, &vals[i]);
        }
        for (size_t i = 0; t->ok && i < plan->n_paths; i++) {
            t->row[i] = vals[plan->sub_col[i]];
        }
        t->why = "malformed subquery row";
        return t;
    }
    if (t->plan == plan && t->vp == rec->value.p && t->vlen == rec->value.len &&
        t->offset == rec->offset && t->partition == rec->partition) {
        return t;
    }
    sl_sql_scratch_reset(&t->dmem);
    sl_sql_scratch_reset(&t->mem);
    t->prep_q = NULL;
    t->plan = plan;
    t->vp = rec->value.p;
    t->vlen = rec->value.len;
    t->offset = rec->offset;
    t->partition = rec->partition;
    if (plan->dec->n_keys > t->raw_cap) {
        t->raw_cap = plan->dec->n_keys * 2;
        t->raw_buf = sl_xrealloc(t->raw_buf, t->raw_cap * sizeof *t->raw_buf);
    }
    t->raw = t->raw_buf;
    t->ok = sl_sql_decode_with(plan->dec, (const char *)rec->value.p, rec->value.len, &t->dmem,
                               t->row, t->raw, &t->why);
    return t;
}

static sl_err_t ts_fn(const sl_stream_rec_t *rec, void *user, int64_t *ts) {
    const sl_sql_plan_t *plan = user;
    tls_t *t = row_of(plan, rec);
    if (!t->ok || t->row[plan->ts_slot].null) {
        return SL_ERR_INVAL; /* dead-lettered: no JSON object or no event time */
    }
    *ts = t->row[plan->ts_slot].i;
    return SL_OK;
}

static sl_err_t eval_fail(sl_stream_ctx_t *ctx, const sl_sql_eval_t *ev) {
    return sl_stream_fail(ctx, "sql: line %d, column %d: %s", ev->err_line, ev->err_col, ev->err);
}

/* WHERE over the decoded row: 1 keep, 0 drop, -1 error (returned in *err). */
static int where(sl_stream_ctx_t *ctx, const sl_sql_query_t *q, tls_t *t, sl_err_t *err) {
    if (!t->ok) {
        *err = sl_stream_fail(ctx, "sql: %s", t->why);
        return -1;
    }
    if (!q->where) {
        return 1;
    }
    sl_sql_eval_t ev = {.row = t->row, .mem = &t->mem};
    sl_sql_val_t v;
    if (!sl_sql_eval(&ev, q->where, &v)) {
        *err = eval_fail(ctx, &ev);
        return -1;
    }
    return !v.null && v.i;
}

/* The key (index into the document's scanned values) of output column i of q when it is a
 * top-level column of q's input passed through unchanged, else -1. Key indexes stay valid as
 * statements add slots (a decoder numbers its keys in the order of its paths, which only grow). */
static int passed_key(const sl_sql_query_t *q, size_t i) {
    const sl_sql_expr_t *e = q->out[i];
    if (q->grouped || q->join || !q->plan || q->plan->sub || e->kind != SQ_E_SLOT) {
        return -1;
    }
    return sl_sql_path_top(&q->plan->paths[e->slot]) ? q->plan->dec->key_of[e->slot] : -1;
}

/* The output row as a JSON object into t->out; false on an evaluation error. raw: the scanned
 * values of q's input document (NULL: the row is not one, as a join's or a window's): a column
 * passed through is copied from there when its text is the one sl_sql_out_json would write, and
 * columns that sit in the document as they do in the output (`,"name":value` one after the
 * other, q0's case) are copied as one run. */
static bool project(sl_stream_ctx_t *ctx, const sl_sql_query_t *q, tls_t *t,
                    const sl_sql_jval_t *raw, sl_err_t *err) {
    sl_sql_eval_t ev = {.row = t->row, .mem = &t->mem}; /* input slots, or post slots */
    const char *run = NULL, *run_end = NULL;            /* document text still to copy */
    t->out.len = 0;
    sl_sql_out_raw(&t->out, "{", 1);
    for (size_t i = 0; i < q->n_out; i++) {
        const sl_sql_out_t *k = &q->out_keys[i];
        int rk = raw ? q->out_pass[i] : -1;
        if (rk >= 0 && sl_sql_json_raw_ok(q->out[i]->type.base, &raw[rk])) {
            const sl_sql_jval_t *j = &raw[rk];
            if (run && j->p - run_end == (ptrdiff_t)k->len && sl_short_eq(run_end, k->p, k->len)) {
                run_end = j->p + j->n; /* the key and value follow the run in the document */
                continue;
            }
            if (run) {
                sl_sql_out_raw(&t->out, run, (size_t)(run_end - run));
            }
            sl_sql_out_raw(&t->out, k->p + (i == 0), k->len - (i == 0)); /* no comma first */
            run = j->p;
            run_end = j->p + j->n;
            continue;
        }
        if (run) {
            sl_sql_out_raw(&t->out, run, (size_t)(run_end - run));
            run = NULL;
        }
        sl_sql_out_raw(&t->out, k->p + (i == 0), k->len - (i == 0));
        if (rk >= 0) {
            int slot = q->out[i]->slot; /* decoded now if the scan left it for raw */
            if (q->plan->dec->lazy[slot] &&
                !sl_sql_decode_slot(q->plan->dec, (size_t)slot, raw, &t->dmem, &t->row[slot])) {
                *err = sl_stream_fail(ctx, "sql: a field's JSON type does not match its "
                                           "declared column type");
                return false;
            }
        }
        sl_sql_val_t v;
        if (!sl_sql_eval(&ev, q->out[i], &v)) {
            *err = eval_fail(ctx, &ev);
            return false;
        }
        sl_sql_out_json(&t->out, q->out[i]->type, &v);
    }
    if (run) {
        sl_sql_out_raw(&t->out, run, (size_t)(run_end - run));
    }
    sl_sql_out_raw(&t->out, "}", 1);
    return true;
}

/* WHERE and SELECT over t's row (raw: see project): the output record under `key`. */
static sl_err_t select_row(sl_stream_ctx_t *ctx, const sl_sql_query_t *q, tls_t *t,
                           const sl_sql_jval_t *raw, sl_bytes_t key) {
    sl_err_t err = SL_OK;
    int keep = where(ctx, q, t, &err);
    if (keep <= 0) {
        return keep < 0 ? err : SL_OK;
    }
    if (!project(ctx, q, t, raw, &err)) {
        return err;
    }
    return sl_stream_emit(ctx, key, (sl_bytes_t){(const uint8_t *)t->out.p, t->out.len});
}

static sl_err_t select_fn(sl_stream_ctx_t *ctx, const sl_stream_rec_t *rec, void *user) {
    const sl_sql_query_t *q = user;
    tls_t *t = row_of(q->plan, rec);
    return select_row(ctx, q, t, t->raw, rec->key);
}

/* WHERE over t's row, then the group key and aggregate arguments in binary form. */
static sl_err_t prepare_row(sl_stream_ctx_t *ctx, const sl_sql_query_t *q, tls_t *t) {
    sl_err_t err = SL_OK;
    int keep = where(ctx, q, t, &err);
    if (keep <= 0) {
        return keep < 0 ? err : SL_OK;
    }
    sl_sql_eval_t ev = {.row = t->row, .mem = &t->mem};
    t->key.len = 0;
    t->out.len = 0;
    sl_sql_out_raw(&t->key, "k", 1); /* never empty: an empty key is still a key */
    for (size_t i = 0; i < q->n_keys; i++) {
        sl_sql_val_t v;
        if (!sl_sql_eval(&ev, q->keys[i], &v)) {
            return eval_fail(ctx, &ev);
        }
        sl_sql_enc_val(&t->key, q->key_types[i], &v);
    }
    for (size_t i = 0; i < q->n_aggs; i++) {
        sl_sql_val_t v = {0};
        if (q->aggs[i].arg && !sl_sql_eval(&ev, q->aggs[i].arg, &v)) {
            return eval_fail(ctx, &ev);
        }
        sl_sql_enc_val(&t->out, q->aggs[i].arg ? q->aggs[i].arg->type : (sl_sql_type_t){0}, &v);
    }
    sl_bytes_t key = {(const uint8_t *)t->key.p, t->key.len};
    sl_bytes_t val = {(const uint8_t *)t->out.p, t->out.len};
    if (q->wtime_slot >= 0) { /* a window over a join: the row's time is its time column's */
        const sl_sql_val_t *w = &t->row[q->wtime_slot];
        if (w->null) {
            return sl_stream_fail(ctx, "sql: the window's time column is NULL");
        }
        return sl_stream_emit_at(ctx, w->i, key, val);
    }
    return sl_stream_emit(ctx, key, val);
}

static sl_err_t prepare_fn(sl_stream_ctx_t *ctx, const sl_stream_rec_t *rec, void *user) {
    const sl_sql_query_t *q = user;
    return prepare_row(ctx, q, row_of(q->plan, rec));
}

/* ---- joins: each side keyed by its ON column's text, then the joiner builds one row ---- */
typedef struct side {
    const sl_sql_query_t *q;
    int k; /* 0 left, 1 right */
} side_t;

/* A join side's new key: the text of its ON column (sl_sql_out_text; a NULL value is a null key,
 * which matches nothing). */
static sl_err_t side_key_fn(sl_stream_ctx_t *ctx, const sl_stream_rec_t *rec, void *user,
                            sl_bytes_t *key) {
    const side_t *sd = user;
    const sl_sql_query_t *q = sd->q;
    tls_t *t = row_of(q->side_plan[sd->k], rec);
    if (!t->ok) {
        return sl_stream_fail(ctx, "sql: %s", t->why);
    }
    int slot = q->key_slot[sd->k];
    const sl_sql_val_t *v = &t->row[q->side_map[slot]];
    if (v->null) {
        *key = (sl_bytes_t){NULL, 0};
        return SL_OK;
    }
    t->key.len = 0;
    sl_sql_out_text(&t->key, q->paths[slot].type, v);
    *key = (sl_bytes_t){(const uint8_t *)(t->key.p ? t->key.p : ""), t->key.len};
    return SL_OK;
}

/* Both records decoded into one row of the query's slots (a missing side's slots are NULL), then
 * WHERE and SELECT, or the grouped query's prepare step. Each side is decoded afresh: a windowed
 * join's buffered records are not the record the thread last decoded. */
static sl_err_t join_fn(sl_stream_ctx_t *ctx, const sl_stream_rec_t *left,
                        const sl_stream_rec_t *right, void *user) {
    const sl_sql_query_t *q = user;
    size_t n = q->n_paths;
    sl_sql_val_t *row = sl_stream_scratch(ctx, (n + 1) * sizeof *row);
    const sl_stream_rec_t *recs[2] = {left, right};
    sl_sql_scratch_t dmem[2] = {{0}, {0}}; /* each side's unescaped strings */
    sl_err_t err = SL_OK;
    for (int k = 0; k < 2 && err == SL_OK; k++) {
        if (!recs[k] || !recs[k]->value.p) {
            for (size_t i = 0; i < n; i++) {
                if (q->paths[i].side == k) {
                    row[i] = (sl_sql_val_t){.null = true};
                }
            }
            continue;
        }
        tls_get(0)->plan = NULL; /* no cached row */
        tls_t *t = row_of(q->side_plan[k], recs[k]);
        if (!t->ok) {
            err = sl_stream_fail(ctx, "sql: %s", t->why);
        }
        for (size_t i = 0; err == SL_OK && i < n; i++) {
            if (q->paths[i].side == k) {
                row[i] = t->row[q->side_map[i]];
            }
        }
        dmem[k] = t->dmem; /* the row's strings may be there: kept until the row is done */
        t->dmem = (sl_sql_scratch_t){0};
        t->plan = NULL;
    }
    if (err == SL_OK) {
        tls_t *t = tls_get(n + 1);
        t->plan = NULL;
        if (n) {
            memcpy(t->row, row, n * sizeof *row);
        }
        t->ok = true;
        err = q->grouped ? prepare_row(ctx, q, t)
                         : select_row(ctx, q, t, NULL, sl_stream_ctx_key(ctx));
    }
    sl_sql_scratch_fini(&dmem[0]);
    sl_sql_scratch_fini(&dmem[1]);
    return err;
}

/* A join side's WHERE conjuncts (slots of the side's plan): the records that pass, under their
 * new key (side_key_fn's), for the rekey that follows; the others stop here. */
static sl_err_t side_where_fn(sl_stream_ctx_t *ctx, const sl_stream_rec_t *rec, void *user) {
    const side_t *sd = user;
    const sl_sql_query_t *q = sd->q;
    tls_t *t = row_of(q->side_plan[sd->k], rec);
    if (!t->ok) {
        return sl_stream_fail(ctx, "sql: %s", t->why);
    }
    sl_sql_eval_t ev = {.row = t->row, .mem = &t->mem};
    sl_sql_val_t v;
    if (!sl_sql_eval(&ev, q->side_where[sd->k], &v)) {
        return eval_fail(ctx, &ev);
    }
    if (v.null || !v.i) {
        return SL_OK;
    }
    sl_bytes_t key;
    sl_err_t err = side_key_fn(ctx, rec, user, &key);
    return err != SL_OK ? err : sl_stream_emit(ctx, key, rec->value);
}

static sl_err_t same_key(sl_stream_ctx_t *ctx, const sl_stream_rec_t *rec, void *user,
                         sl_bytes_t *key) {
    (void)ctx, (void)user;
    *key = rec->key;
    return SL_OK;
}

/* ---- aggregate state: per aggregate {int64 n; int64 or double acc} or a distinct set ---- */
typedef struct acc {
    int64_t n;
    union {
        int64_t i;
        double d;
    } v;
} acc_t;

static void hash128(sl_sql_type_t t, const sl_sql_val_t *v, uint64_t h[2]) {
    if (t.base != SQ_VARCHAR) { /* numbers are kept exactly */
        uint64_t x;
        if (t.base == SQ_DOUBLE) {
            memcpy(&x, &v->d, 8);
        } else {
            x = (uint64_t)v->i;
        }
        h[0] = x;
        h[1] = 0x5a5a5a5a5a5a5a5aull;
        return;
    }
    uint64_t a = 0xcbf29ce484222325ull, b = 0x84222325cbf29ce4ull;
    for (size_t i = 0; i < v->n; i++) { /* two independent FNV-1a style mixes */
        a = (a ^ (uint8_t)v->s[i]) * 0x100000001b3ull;
        b = (b ^ (uint8_t)v->s[i]) * 0x9e3779b97f4a7c15ull;
        b ^= b >> 29;
    }
    h[0] = a ^ (uint64_t)v->n;
    h[1] = b;
}

static bool distinct_add(uint8_t *st, const uint64_t h[2]) {
    int64_t n;
    memcpy(&n, st, 8);
    uint64_t *set = (uint64_t *)(void *)(st + 8);
    for (int64_t i = 0; i < n; i++) {
        if (set[2 * i] == h[0] && set[2 * i + 1] == h[1]) {
            return true;
        }
    }
    if (n == SL_SQL_DISTINCT_MAX) {
        return false;
    }
    set[2 * n] = h[0];
    set[2 * n + 1] = h[1];
    n++;
    memcpy(st, &n, 8);
    return true;
}

static bool acc_add(sl_sql_eval_t *ev, const sl_sql_agg_t *ag, acc_t *a, const sl_sql_val_t *v) {
    sl_sql_type_t t = ag->arg->type;
    bool dbl = t.base == SQ_DOUBLE;
    switch (ag->kind) {
    case SQ_AGG_SUM:
        if (dbl) {
            a->v.d += v->d;
        } else if (__builtin_add_overflow(a->v.i, v->i, &a->v.i)) {
            ev->err = "SUM overflow";
            return false;
        }
        break;
    case SQ_AGG_AVG:
        a->v.d += dbl                    ? v->d
                  : t.base == SQ_DECIMAL ? (double)v->i / pow(10, t.scale)
                                         : (double)v->i;
        break;
    case SQ_AGG_MIN:
    case SQ_AGG_MAX: {
        bool less = dbl ? v->d < a->v.d : v->i < a->v.i;
        bool more = dbl ? v->d > a->v.d : v->i > a->v.i;
        if (!a->n || (ag->kind == SQ_AGG_MIN ? less : more)) {
            if (dbl) {
                a->v.d = v->d;
            } else {
                a->v.i = v->i;
            }
        }
        break;
    }
    default:
        break;
    }
    a->n++;
    return true;
}

/* Adds one row's aggregate arguments (binary form, [p, end)) to the aggregates' state. `own`:
 * the arguments were encoded in this process for this step (prep_row), so they cannot be
 * malformed; a record from a repartition topic can. */
static sl_err_t accumulate(sl_stream_ctx_t *ctx, const sl_sql_query_t *q, uint8_t *state,
                           const uint8_t *p, const uint8_t *end, bool own) {
    /* Updates a copy: a record that fails (an overflow, a full distinct set, a malformed
     * argument) changes nothing. Arguments of our own to aggregates that cannot fail update the
     * state itself: nothing can stop them halfway. */
    uint8_t *work = state;
    if (!own || !q->acc_in_place) {
        work = sl_stream_scratch(ctx, q->state_bytes ? q->state_bytes : 8);
        memcpy(work, state, q->state_bytes);
    }
    for (size_t i = 0; i < q->n_aggs; i++) {
        const sl_sql_agg_t *ag = &q->aggs[i];
        sl_sql_val_t v;
        if (!sl_sql_dec_val(&p, end, ag->arg ? ag->arg->type : (sl_sql_type_t){0}, &v)) {
            return sl_stream_fail(ctx, "sql: malformed repartition record");
        }
        uint8_t *st = work + ag->off;
        acc_t a;
        memcpy(&a, st, sizeof a);
        if (ag->kind == SQ_AGG_COUNT_STAR) {
            a.n++;
        } else if (v.null) {
            continue; /* aggregates skip NULLs */
        } else if (ag->kind == SQ_AGG_COUNT) {
            a.n++;
        } else if (ag->kind == SQ_AGG_COUNT_DISTINCT) {
            uint64_t h[2];
            hash128(ag->arg->type, &v, h);
            if (!distinct_add(st, h)) {
                return sl_stream_fail(ctx,
                                      "sql: COUNT(DISTINCT) keeps at most %d values per "
                                      "group and window",
                                      SL_SQL_DISTINCT_MAX);
            }
            continue;
        } else if (ag->kind == SQ_AGG_PERCENTILE_CONT) {
            sl_sql_type_t t = ag->arg->type;
            double x = t.base == SQ_DOUBLE    ? v.d
                       : t.base == SQ_DECIMAL ? (double)v.i / pow(10, t.scale)
                                              : (double)v.i;
            if (!isfinite(x) || a.n < 0 || a.n >= SL_SQL_PCTC_MAX) {
                return isfinite(x)
                           ? sl_stream_fail(ctx,
                                            "sql: PERCENTILE_CONT keeps at most %d values "
                                            "per group and window",
                                            SL_SQL_PCTC_MAX)
                           : sl_stream_fail(ctx, "sql: PERCENTILE_CONT of a non-finite number");
            }
            memcpy(st + 8 + 8 * a.n, &x, 8);
            a.n++;
            memcpy(st, &a.n, 8);
            continue;
        } else if (ag->kind == SQ_AGG_PERCENTILE) {
            sl_sql_type_t t = ag->arg->type;
            double x = t.base == SQ_DOUBLE    ? v.d
                       : t.base == SQ_DECIMAL ? (double)v.i / pow(10, t.scale)
                                              : (double)v.i;
            if (!sl_sql_pct_add(st, x)) {
                return sl_stream_fail(ctx, "sql: APPROX_PERCENTILE of %s",
                                      isfinite(x) ? "more than 2^32-1 values in one bucket"
                                                  : "a non-finite number");
            }
            continue;
        } else {
            sl_sql_eval_t ev = {0};
            if (!acc_add(&ev, ag, &a, &v)) {
                return sl_stream_fail(ctx, "sql: %s", ev.err);
            }
        }
        memcpy(st, &a, sizeof a);
    }
    if (work != state) {
        memcpy(state, work, q->state_bytes);
    }
    return SL_OK;
}

static sl_err_t step_fn(sl_stream_ctx_t *ctx, void *state, const sl_stream_rec_t *rec, void *user) {
    const sl_sql_query_t *q = user;
    return accumulate(ctx, q, state, rec->value.p, rec->value.p + rec->value.len, false);
}

/* Merges the aggregates' state `from` into `into`; false when an integer SUM overflowed (it
 * wraps). */
static bool merge_aggs(const sl_sql_query_t *q, uint8_t *into, const uint8_t *from) {
    bool ok = true;
    for (size_t i = 0; i < q->n_aggs; i++) {
        const sl_sql_agg_t *ag = &q->aggs[i];
        uint8_t *a8 = (uint8_t *)into + ag->off;
        const uint8_t *b8 = (const uint8_t *)from + ag->off;
        if (ag->kind == SQ_AGG_COUNT_DISTINCT) {
            int64_t n;
            memcpy(&n, b8, 8);
            for (int64_t k = 0; k < n; k++) {
                uint64_t h[2];
                memcpy(h, b8 + 8 + 16 * k, 16);
                (void)distinct_add(a8, h); /* past the bound the union keeps the first values */
            }
            continue;
        }
        if (ag->kind == SQ_AGG_PERCENTILE) {
            sl_sql_pct_merge(a8, b8);
            continue;
        }
        if (ag->kind == SQ_AGG_PERCENTILE_CONT) { /* the values of both; -1: too many */
            int64_t na, nb;
            memcpy(&na, a8, 8);
            memcpy(&nb, b8, 8);
            if (na < 0 || nb < 0 || na + nb > SL_SQL_PCTC_MAX) {
                na = -1;
                ok = false;
            } else {
                memcpy(a8 + 8 + 8 * na, b8 + 8, (size_t)nb * 8);
                na += nb;
            }
            memcpy(a8, &na, 8);
            continue;
        }
        acc_t a, b;
        memcpy(&a, a8, sizeof a);
        memcpy(&b, b8, sizeof b);
        bool dbl = ag->arg && ag->arg->type.base == SQ_DOUBLE;
        if (b.n) {
            switch (ag->kind) {
            case SQ_AGG_SUM:
                if (dbl) {
                    a.v.d += b.v.d;
                } else if (__builtin_add_overflow(a.v.i, b.v.i, &a.v.i)) {
                    ok = false;
                }
                break;
            case SQ_AGG_AVG:
                a.v.d += b.v.d;
                break;
            case SQ_AGG_MIN:
            case SQ_AGG_MAX: {
                bool take =
                    !a.n || (ag->kind == SQ_AGG_MIN ? (dbl ? b.v.d < a.v.d : b.v.i < a.v.i)
                                                    : (dbl ? b.v.d > a.v.d : b.v.i > a.v.i));
                if (take) {
                    a.v = b.v;
                }
                break;
            }
            default:
                break;
            }
            a.n += b.n;
        }
        memcpy(a8, &a, sizeof a);
    }
    return ok;
}

static void merge_fn(void *into, const void *from, void *user) {
    (void)merge_aggs(user, into, from); /* a session merge cannot fail: an overflowed SUM wraps */
}

/* The group key as the record key's text (a query grouped by its stream's key column). */
static bool key_of_text(sl_bytes_t k, sl_sql_type_t t, sl_sql_val_t *v) {
    *v = (sl_sql_val_t){0};
    if (t.base == SQ_VARCHAR) {
        v->s = k.p ? (const char *)k.p : "";
        v->n = k.len;
        return true;
    }
    char b[32];
    if (!k.p || k.len == 0 || k.len >= sizeof b) {
        return false;
    }
    memcpy(b, k.p, k.len);
    b[k.len] = 0;
    char *e;
    v->i = strtoll(b, &e, 10);
    return !*e;
}

static int cmp_dbl(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* PERCENTILE_CONT: the value at rank p (n - 1) among the n values at st + 8 (0-based), between
 * the two nearest ranks by linear interpolation (as PostgreSQL's and Flink's); sorts a copy. */
static double pct_cont(sl_stream_ctx_t *ctx, const uint8_t *st, int64_t n, double p) {
    double *x = sl_stream_scratch(ctx, (size_t)n * sizeof *x);
    memcpy(x, st + 8, (size_t)n * sizeof *x);
    qsort(x, (size_t)n, sizeof *x, cmp_dbl);
    double r = p * (double)(n - 1), lo = floor(r);
    size_t i = (size_t)lo, j = i + 1 < (size_t)n ? i + 1 : i;
    return r == lo ? x[i] : x[i] + (r - lo) * (x[j] - x[i]);
}

/* APPROX_PERCENTILE's estimate x in its result type (the argument's): integers and DECIMALs
 * rounded, and kept within the type (an estimate may pass its largest value by 1%). */
static void pct_value(const sl_sql_agg_t *ag, double x, sl_sql_val_t *v) {
    sl_sql_type_t t = ag->type;
    if (t.base == SQ_DOUBLE) {
        v->d = x;
        return;
    }
    double max = t.base == SQ_INT      ? (double)INT32_MAX
                 : t.base == SQ_BIGINT ? 9.2e18
                                       : pow(10, t.prec) - 1;
    double r = round(t.base == SQ_DECIMAL ? x * pow(10, t.scale) : x);
    v->i = (int64_t)(r > max ? max : r < -max ? -max : r);
}

/* HAVING and SELECT over a group's aggregates (`state`, at the checker's offsets) in window
 * [ws, we); the group key from the context's key: binary (after the GROUP BY re-key), or the
 * record key's text (text_key: grouped straight off the source). */
static sl_err_t result_row(sl_stream_ctx_t *ctx, const sl_sql_query_t *q, const uint8_t *state,
                           int64_t ws, int64_t we, bool text_key) {
    tls_t *t = tls_get(q->n_post + 1);
    t->plan = NULL; /* the row is overwritten: not a cached input row any more */
    sl_sql_scratch_reset(&t->mem);
    sl_sql_val_t *post = t->row;
    sl_bytes_t k = sl_stream_ctx_key(ctx);
    const uint8_t *p = k.p + (k.len ? 1 : 0), *end = k.p + k.len;
    for (size_t i = 0; i < q->n_keys; i++) {
        if (text_key ? !key_of_text(k, q->key_types[i], &post[i])
                     : (!k.p || !sl_sql_dec_val(&p, end, q->key_types[i], &post[i]))) {
            return sl_stream_fail(ctx, "sql: malformed group key");
        }
    }
    for (size_t i = 0; i < q->n_aggs; i++) {
        const sl_sql_agg_t *ag = &q->aggs[i];
        const uint8_t *st = state + ag->off;
        acc_t a;
        memcpy(&a, st, sizeof a);
        sl_sql_val_t *v = &post[q->n_keys + i];
        *v = (sl_sql_val_t){0};
        switch (ag->kind) {
        case SQ_AGG_COUNT_STAR:
        case SQ_AGG_COUNT:
        case SQ_AGG_COUNT_DISTINCT:
            v->i = a.n;
            break;
        case SQ_AGG_AVG:
            v->null = !a.n;
            v->d = a.n ? a.v.d / (double)a.n : 0;
            break;
        case SQ_AGG_PERCENTILE_CONT:
            if (a.n < 0) {
                return sl_stream_fail(ctx,
                                      "sql: PERCENTILE_CONT keeps at most %d values per group "
                                      "and window",
                                      SL_SQL_PCTC_MAX);
            }
            v->null = !a.n;
            v->d = a.n ? pct_cont(ctx, st, a.n, ag->pct) : 0;
            break;
        case SQ_AGG_PERCENTILE:
            v->null = !a.n;
            if (a.n) {
                pct_value(ag, sl_sql_pct_value(st, ag->pct), v);
            }
            break;
        default:
            v->null = !a.n;
            v->i = a.v.i;
            v->d = a.v.d;
        }
    }
    post[q->ws_slot] = (sl_sql_val_t){.i = ws};
    post[q->we_slot] = (sl_sql_val_t){.i = we};
    if (q->having) {
        sl_sql_eval_t ev = {.row = post, .mem = &t->mem};
        sl_sql_val_t v;
        if (!sl_sql_eval(&ev, q->having, &v)) {
            return eval_fail(ctx, &ev);
        }
        if (v.null || !v.i) {
            return SL_OK;
        }
    }
    sl_err_t err = SL_OK;
    if (q->sub_out) { /* for the outer query, in this pipeline: values, not JSON */
        sl_sql_eval_t ev = {.row = post, .mem = &t->mem};
        t->out.len = 0;
        for (size_t i = 0; i < q->n_out; i++) {
            sl_sql_val_t v;
            if (!sl_sql_eval(&ev, q->out[i], &v)) {
                return eval_fail(ctx, &ev);
            }
            sl_sql_enc_val(&t->out, q->out[i]->type, &v);
        }
    } else if (!project(ctx, q, t, NULL, &err)) {
        return err;
    }
    /* The output key: the GROUP BY value as text, several as a JSON array. */
    t->key.len = 0;
    if (q->n_keys == 1) {
        sl_sql_out_text(&t->key, q->key_types[0], &post[0]);
    } else if (q->n_keys > 1) {
        sl_sql_out_raw(&t->key, "[", 1);
        for (size_t i = 0; i < q->n_keys; i++) {
            if (i) {
                sl_sql_out_raw(&t->key, ",", 1);
            }
            sl_sql_out_json(&t->key, q->key_types[i], &post[i]);
        }
        sl_sql_out_raw(&t->key, "]", 1);
    }
    return sl_stream_emit(ctx,
                          (sl_bytes_t){(const uint8_t *)(t->key.p ? t->key.p : ""), t->key.len},
                          (sl_bytes_t){(const uint8_t *)t->out.p, t->out.len});
}

static sl_err_t result_fn(sl_stream_ctx_t *ctx, const void *state, void *user) {
    int64_t ws, we;
    sl_stream_window_bounds(ctx, &ws, &we);
    return result_row(ctx, user, state, ws, we, false);
}

/* ---- grouping without re-partitioning every row ----
 * GROUP_BY_SOURCE_KEY: the query groups by its stream's `key` column alone, so the rows of a
 *   group are in one input partition already: the aggregate reads the source (grouped by the
 *   record key, which each row's key column must equal: a row whose does not is an error).
 * GROUP_PARTIAL: no GROUP BY key, only a window, and aggregates that merge (COUNT, SUM, MIN, MAX,
 *   AVG): each task aggregates per record key and window first, then only those partial results
 *   cross the repartition topic, to one task that merges them (as examples/nexmark.c's q7).
 *   Planned when the stream declares its key (records per key and window are then likely many);
 *   an integer SUM that overflows only in the merge fails the partial result there.
 * Both need a time window (tumbling or hopping) that emits once, at its end: the aggregate also
 * sees the rows its WHERE drops (it reads the source), and a window where none passed emits
 * nothing, which an EMIT CHANGES result per record cannot honour. State: a header (rows passed;
 * the window of a partial result), then the aggregates' state. */
enum { GROUP_REKEY = 0, GROUP_BY_SOURCE_KEY, GROUP_PARTIAL };
#define HDR 24 /* int64 rows, window start, window end */

static int group_mode(const sl_sql_query_t *q) {
    const sl_sql_stream_t *src = q->src;
    if (!q->grouped || q->join || src->table || !src->key || q->emit == SQ_EMIT_CHANGES ||
        (q->wkind != SQ_W_TUMBLE && q->wkind != SQ_W_HOP)) {
        return GROUP_REKEY;
    }
    if (q->n_keys == 1 && q->keys[0]->kind == SQ_E_SLOT) {
        const sl_sql_path_t *p = &(q->plan ? q->plan->paths : q->paths)[q->keys[0]->slot];
        sl_sql_base_t t = p->type.base;
        if (sl_sql_path_top(p) && !strcmp(p->steps[0], src->key) &&
            (t == SQ_INT || t == SQ_BIGINT || t == SQ_VARCHAR)) {
            return GROUP_BY_SOURCE_KEY;
        }
    }
    if (q->n_keys) {
        return GROUP_REKEY;
    }
    for (size_t i = 0; i < q->n_aggs; i++) {
        if (q->aggs[i].kind == SQ_AGG_COUNT_DISTINCT ||
            q->aggs[i].kind == SQ_AGG_PERCENTILE_CONT) { /* bounded sets: no partials */
            return GROUP_REKEY;
        }
    }
    return GROUP_PARTIAL;
}

/* A source row's step input, computed once per record (a hopping window steps it once per
 * window): its WHERE, and when kept, the aggregate arguments into t->prep; for a query grouped
 * by the record key, the key column's text must be the record key. */
static sl_err_t prep_row(sl_stream_ctx_t *ctx, const sl_sql_query_t *q, tls_t *t,
                         const sl_stream_rec_t *rec) {
    sl_err_t err = SL_OK;
    int keep = where(ctx, q, t, &err);
    if (keep < 0) {
        return err;
    }
    sl_sql_eval_t ev = {.row = t->row, .mem = &t->mem};
    t->prep.len = 0;
    for (size_t i = 0; keep && i < q->n_keys; i++) { /* GROUP_BY_SOURCE_KEY: one key column */
        sl_sql_val_t v;
        if (!sl_sql_eval(&ev, q->keys[i], &v)) {
            return eval_fail(ctx, &ev);
        }
        t->key.len = 0;
        if (!v.null) {
            sl_sql_out_text(&t->key, q->key_types[i], &v);
        }
        sl_bytes_t k = rec->key;
        if (v.null || k.len != t->key.len || (k.len && memcmp(k.p, t->key.p, k.len))) {
            return sl_stream_fail(ctx,
                                  "sql: the record key is not the text of the stream's key "
                                  "column '%s' (the query groups by it without a repartition)",
                                  q->src->key);
        }
    }
    for (size_t i = 0; keep && i < q->n_aggs; i++) {
        sl_sql_val_t v = {0};
        if (q->aggs[i].arg && !sl_sql_eval(&ev, q->aggs[i].arg, &v)) {
            return eval_fail(ctx, &ev);
        }
        sl_sql_enc_val(&t->prep, q->aggs[i].arg ? q->aggs[i].arg->type : (sl_sql_type_t){0}, &v);
    }
    t->prep_q = q;
    t->prep_keep = keep;
    return SL_OK;
}

/* The step of an aggregate that reads the source: the row (decoded by the source's event-time
 * callback) through WHERE into the group's aggregates. */
static sl_err_t source_step(sl_stream_ctx_t *ctx, void *state, const sl_stream_rec_t *rec,
                            void *user) {
    const sl_sql_query_t *q = user;
    tls_t *t = row_of(q->plan, rec);
    if (t->prep_q != q) {
        sl_err_t err = prep_row(ctx, q, t, rec);
        if (err != SL_OK) {
            return err;
        }
    }
    if (!t->prep_keep) {
        return SL_OK;
    }
    sl_err_t err = SL_OK;
    if (q->count_only) { /* COUNT(*) alone (q5's count per auction): increments */
        for (size_t i = 0; i < q->n_aggs; i++) {
            uint8_t *st = (uint8_t *)state + HDR + q->aggs[i].off;
            int64_t n;
            memcpy(&n, st, 8);
            n++;
            memcpy(st, &n, 8);
        }
    } else {
        const uint8_t *p = (const uint8_t *)t->prep.p;
        err = accumulate(ctx, q, (uint8_t *)state + HDR, p, p + t->prep.len, true);
    }
    if (err == SL_OK) {
        int64_t rows;
        memcpy(&rows, state, 8);
        rows++;
        memcpy(state, &rows, 8);
    }
    return err;
}

static void hdr_merge(void *into, const void *from, void *user) {
    int64_t a, b;
    memcpy(&a, into, 8);
    memcpy(&b, from, 8);
    a += b;
    memcpy(into, &a, 8);
    merge_fn((uint8_t *)into + HDR, (const uint8_t *)from + HDR, user);
}

static sl_err_t source_result(sl_stream_ctx_t *ctx, const void *state, void *user) {
    const sl_sql_query_t *q = user;
    int64_t rows, ws, we;
    memcpy(&rows, state, 8);
    if (!rows) {
        return SL_OK; /* no row of this key and window passed WHERE */
    }
    sl_stream_window_bounds(ctx, &ws, &we);
    return result_row(ctx, q, (const uint8_t *)state + HDR, ws, we, true);
}

/* A partial result: [rows, window start, window end] then the aggregates' state, keyed "k" (no
 * GROUP BY key: every partial result of a window meets in one task). */
static sl_err_t partial_result(sl_stream_ctx_t *ctx, const void *state, void *user) {
    const sl_sql_query_t *q = user;
    int64_t h[3];
    memcpy(&h[0], state, 8);
    if (!h[0]) {
        return SL_OK;
    }
    sl_stream_window_bounds(ctx, &h[1], &h[2]);
    size_t n = HDR + q->state_bytes;
    uint8_t *v = sl_stream_scratch(ctx, n);
    memcpy(v, h, HDR);
    memcpy(v + HDR, (const uint8_t *)state + HDR, q->state_bytes);
    return sl_stream_emit(ctx, (sl_bytes_t){(const uint8_t *)"k", 1}, (sl_bytes_t){v, n});
}

/* The merging step: one partial result into the window's total. */
static sl_err_t final_step(sl_stream_ctx_t *ctx, void *state, const sl_stream_rec_t *rec,
                           void *user) {
    const sl_sql_query_t *q = user;
    size_t n = HDR + q->state_bytes;
    if (rec->value.len != n) {
        return sl_stream_fail(ctx, "sql: malformed partial aggregate");
    }
    uint8_t *work = sl_stream_scratch(ctx, n);
    memcpy(work, state, n);
    int64_t a[3], b[3];
    memcpy(a, work, HDR);
    memcpy(b, rec->value.p, HDR);
    a[0] += b[0];
    a[1] = b[1];
    a[2] = b[2];
    memcpy(work, a, HDR);
    if (!merge_aggs(q, work + HDR, rec->value.p + HDR)) {
        return sl_stream_fail(ctx, "sql: SUM overflow");
    }
    memcpy(state, work, n);
    return SL_OK;
}

static sl_err_t final_result(sl_stream_ctx_t *ctx, const void *state, void *user) {
    int64_t h[3];
    memcpy(h, state, HDR);
    if (!h[0]) {
        return SL_OK;
    }
    return result_row(ctx, user, (const uint8_t *)state + HDR, h[1], h[2], false);
}

/* ---- sources shared by the queries of one builder ---- */
static sl_sql_plan_t *plans; /* building is single-threaded */

static void plan_free(void *p) {
    sl_sql_plan_t *pl = p;
    for (sl_sql_plan_t **q = &plans; *q; q = &(*q)->next) {
        if (*q == pl) {
            *q = pl->next;
            break;
        }
    }
    if (pl->dec) {
        sl_sql_decoder_fini(pl->dec);
        free(pl->dec);
    }
    free(pl->paths);
    free(pl->read);
    free(pl->sub_col);
    free(pl);
}

static int plan_slot(sl_sql_plan_t *pl, const sl_sql_path_t *p) {
    for (size_t i = 0; i < pl->n_paths; i++) {
        const sl_sql_path_t *o = &pl->paths[i];
        bool same = o->n == p->n && o->cardinality == p->cardinality &&
                    o->type.base == p->type.base && o->type.scale == p->type.scale;
        for (int k = 0; same && k < p->n; k++) {
            same = (o->steps[k] && p->steps[k])
                       ? !strcmp(o->steps[k], p->steps[k])
                       : (!o->steps[k] && !p->steps[k] && o->idx[k] == p->idx[k]);
        }
        if (same) {
            return (int)i;
        }
    }
    if (pl->n_paths == pl->cap) {
        pl->cap = pl->cap ? pl->cap * 2 : 8;
        pl->paths = sl_xrealloc(pl->paths, pl->cap * sizeof *pl->paths);
        pl->read = sl_xrealloc(pl->read, pl->cap * sizeof *pl->read);
    }
    pl->read[pl->n_paths] = false;
    pl->paths[pl->n_paths] = *p;
    return (int)pl->n_paths++;
}

static void remap(sl_sql_expr_t *e, const int *map) {
    if (!e) {
        return;
    }
    if (e->kind == SQ_E_SLOT) {
        e->slot = map[e->slot];
        return;
    }
    for (size_t i = 0; i < e->n_args; i++) {
        remap(e->args[i], map);
    }
    remap(e->a, map);
    remap(e->b, map);
}

/* The source (or table) node of stream src in b, made on first use: one per topic, decoding the
 * union of the slots of the queries that read it; event time from its timestamp column. */
static sl_sql_plan_t *plan_of(sl_stream_builder_t *b, const sl_sql_stream_t *src) {
    sl_sql_plan_t *pl = plans;
    while (pl && (pl->b != b || strcmp(pl->topic, src->topic) || pl->table != src->table)) {
        pl = pl->next;
    }
    if (pl) {
        return pl;
    }
    pl = sl_stream_own(b, sl_xcalloc(1, sizeof *pl), plan_free);
    pl->b = b;
    pl->topic = src->topic;
    pl->table = src->table;
    pl->def = src;
    pl->ts_slot = -1;
    pl->next = plans;
    plans = pl;
    sl_stream_source_opts_t so = {.watermark_delay_ms = src->watermark_delay_ms,
                                  .idle_ms = src->idle_ms};
    if (src->timestamp) { /* decodes the row once; event time from the timestamp column */
        sl_sql_path_t p = {.n = 1};
        p.steps[0] = src->timestamp;
        for (const sl_sql_col_t *col = src->cols; col; col = col->next) {
            if (!strcmp(col->name, src->timestamp)) {
                p.type = col->type;
            }
        }
        pl->ts_slot = plan_slot(pl, &p);
        pl->read[pl->ts_slot] = true;
        so.ts_fn = ts_fn;
        so.ts_user = pl;
    }
    pl->node =
        src->table ? sl_stream_table(b, src->topic, &so) : sl_stream_source(b, src->topic, &so);
    return pl;
}

/* The plan of a subquery's rows (stream `v`, made by the checker) in b: its node is the
 * subquery's result node `in`, given when it is made (NULL afterwards: found). */
static sl_sql_plan_t *sub_plan_of(sl_stream_builder_t *b, const sl_sql_stream_t *v,
                                  sl_stream_node_t *in) {
    for (sl_sql_plan_t *pl = plans; pl; pl = pl->next) {
        if (pl->b == b && pl->sub && pl->def == v) {
            return pl;
        }
    }
    sl_sql_plan_t *pl = sl_stream_own(b, sl_xcalloc(1, sizeof *pl), plan_free);
    pl->b = b;
    pl->topic = ""; /* no topic: never shared with a source */
    pl->sub = true;
    pl->def = v;
    pl->ts_slot = -1;
    pl->node = in;
    pl->next = plans;
    plans = pl;
    return pl;
}

/* Whether streams a and b may share one source node: the same event-time rules. */
static bool same_time_rules(const sl_sql_stream_t *a, const sl_sql_stream_t *b) {
    return a->watermark_delay_ms == b->watermark_delay_ms && a->idle_ms == b->idle_ms &&
           (a->timestamp && b->timestamp ? !strcmp(a->timestamp, b->timestamp)
                                         : a->timestamp == b->timestamp);
}

/* Refuses a relation of q whose topic already has a source node in b (another query's, or the
 * other side of q's join) made with other event-time rules: one node reads a topic once. */
static bool time_rules_ok(sl_stream_builder_t *b, const sl_sql_query_t *q, char *err,
                          size_t errlen) {
    if (q->sub) {
        return true; /* reads no topic (its subquery was checked when compiled) */
    }
    for (int k = 0; k < (q->join ? 2 : 1); k++) {
        const sl_sql_stream_t *r = k ? q->rsrc : q->src;
        const sl_sql_stream_t *other = NULL;
        for (const sl_sql_plan_t *pl = plans; pl && !other; pl = pl->next) {
            if (pl->b == b && !strcmp(pl->topic, r->topic) && pl->table == r->table) {
                other = pl->def;
            }
        }
        if (k == 1 && !other && !strcmp(q->src->topic, r->topic) && q->src->table == r->table) {
            other = q->src;
        }
        if (other && !same_time_rules(other, r)) {
            snprintf(err, errlen,
                     "'%s' and '%s' read topic '%s' with different timestamp, watermark_delay "
                     "or idle_timeout options; one source reads a topic once, so they must agree",
                     other->name, r->name, r->topic);
            return false;
        }
    }
    return true;
}

/* Notes the slots e reads in pl->read. */
static void mark_read(sl_sql_plan_t *pl, const sl_sql_expr_t *e) {
    if (!e) {
        return;
    }
    if (e->kind == SQ_E_SLOT) {
        pl->read[e->slot] = true;
        return;
    }
    for (size_t i = 0; i < e->n_args; i++) {
        mark_read(pl, e->args[i]);
    }
    mark_read(pl, e->a);
    mark_read(pl, e->b);
}

/* The source of q's stream in b with q's input slots renumbered into it. */
static sl_stream_node_t *source_of(sl_stream_builder_t *b, sl_sql_query_t *q) {
    sl_sql_plan_t *pl = q->sub ? sub_plan_of(b, q->src, NULL) : plan_of(b, q->src);
    if (q->plan != pl) {
        int *map = sl_xcalloc(q->n_paths + 1, sizeof *map);
        for (size_t i = 0; i < q->n_paths; i++) {
            map[i] = plan_slot(pl, &q->paths[i]);
        }
        remap(q->where, map);
        for (size_t i = 0; i < q->n_keys; i++) {
            remap(q->keys[i], map);
        }
        for (size_t i = 0; i < q->n_aggs; i++) {
            remap(q->aggs[i].arg, map);
        }
        for (size_t i = 0; !q->grouped && i < q->n_out; i++) {
            remap(q->out[i], map);
        }
        free(map);
        q->plan = pl;
    }
    /* What reads the slots: only a plain SELECT's pass-through columns may stay undecoded. */
    pl->read_all |= q->grouped || q->join || q->sub || pl->table || pl->sub;
    mark_read(pl, q->where);
    for (size_t i = 0; i < q->n_keys; i++) {
        mark_read(pl, q->keys[i]);
    }
    for (size_t i = 0; i < q->n_aggs; i++) {
        mark_read(pl, q->aggs[i].arg);
    }
    for (size_t i = 0; !q->grouped && i < q->n_out; i++) {
        const sl_sql_expr_t *e = q->out[i];
        if (e->kind != SQ_E_SLOT || !sl_sql_path_top(&pl->paths[e->slot])) {
            mark_read(pl, e);
        }
    }
    return pl->node;
}

static void free_p(void *p);
static const char *node_name(sl_stream_builder_t *b, const char *name, const char *what);
static sl_err_t same_key(sl_stream_ctx_t *ctx, const sl_stream_rec_t *rec, void *user,
                         sl_bytes_t *key);

/* A join: each side's source (re-keyed by its ON column unless that is its record key) into the
 * join node, whose callback runs WHERE and SELECT (or a grouped query's prepare step). The
 * query's slots stay its own; side_map says where each one is in its side's decoded row. */
static sl_stream_node_t *join_of(sl_stream_builder_t *b, sl_sql_query_t *q, const char *base) {
    sl_stream_node_t *in[2];
    for (int k = 0; k < 2; k++) {
        const sl_sql_stream_t *r = k ? q->rsrc : q->src;
        q->side_plan[k] = plan_of(b, r);
        q->side_plan[k]->read_all = true; /* the joiner copies each side's whole row */
    }
    q->side_map = sl_stream_own(b, sl_xcalloc(q->n_paths + 1, sizeof *q->side_map), free_p);
    for (size_t i = 0; i < q->n_paths; i++) {
        q->side_map[i] = plan_slot(q->side_plan[q->paths[i].side], &q->paths[i]);
    }
    for (int k = 0; k < 2; k++) {
        in[k] = q->side_plan[k]->node;
        if (!q->rekey[k]) {
            continue;
        }
        side_t *sd = sl_stream_own(b, sl_xcalloc(1, sizeof *sd), free_p);
        sd->q = q;
        sd->k = k;
        sl_stream_key_fn *key_fn = side_key_fn;
        if (q->side_where[k]) { /* filter and key in one map; the rekey keeps that key */
            remap(q->side_where[k], q->side_map);
            in[k] = sl_stream_map(in[k], node_name(b, base, k ? "join-right-where" : "join-where"),
                                  side_where_fn, sd);
            key_fn = same_key;
        }
        in[k] = sl_stream_rekey(in[k], node_name(b, base, k ? "join-right-key" : "join-key"),
                                key_fn, sd);
    }
    q->plan = q->side_plan[0];
    const char *name = node_name(b, base, "join");
    if (q->rsrc->table) {
        return sl_stream_join_table(in[0], in[1], name, join_fn, q,
                                    (sl_stream_join_kind_t)q->join->kind);
    }
    sl_stream_node_t *n = sl_stream_join_window(in[0], in[1], name, q->within_ms, q->grace_ms,
                                                join_fn, q, (sl_stream_join_kind_t)q->join->kind);
    if (q->src->late_topic) {
        sl_stream_late_topic(n, q->src->late_topic);
    }
    return n;
}

/* (Re)makes the decoders of b's sources: a query compiled into b may have added slots (and
 * moved their paths). */
static void plans_ready(sl_stream_builder_t *b) {
    for (sl_sql_plan_t *pl = plans; pl; pl = pl->next) {
        if (pl->b != b) {
            continue;
        }
        if (pl->sub) { /* each slot: the subquery's output column of its name */
            pl->sub_col = sl_xrealloc(pl->sub_col, (pl->n_paths + 1) * sizeof *pl->sub_col);
            for (size_t i = 0; i < pl->n_paths; i++) {
                pl->sub_col[i] = 0;
                for (size_t k = 0; k < pl->sub_q->n_out; k++) {
                    if (!strcmp(pl->sub_q->out_names[k], pl->paths[i].steps[0])) {
                        pl->sub_col[i] = (int)k;
                    }
                }
            }
        }
        if (!pl->dec) {
            pl->dec = sl_xcalloc(1, sizeof *pl->dec);
        } else {
            sl_sql_decoder_fini(pl->dec);
        }
        sl_sql_decoder_init(pl->dec, pl->paths, pl->n_paths);
        for (size_t i = 0; i < pl->n_paths; i++) {
            pl->dec->lazy[i] = !pl->read_all && !pl->read[i] && sl_sql_path_top(&pl->paths[i]);
        }
    }
}

/* The window of a grouped query (tumbling or hopping when grouped off the source). */
static sl_stream_window_t window_of(const sl_sql_query_t *q) {
    sl_stream_window_t w = {.emit_changes = q->emit == SQ_EMIT_CHANGES};
    switch (q->wkind) {
    case SQ_W_TUMBLE:
        w.kind = SL_STREAM_TUMBLING;
        w.size_ms = w.advance_ms = q->size_ms;
        break;
    case SQ_W_HOP:
        w.kind = SL_STREAM_HOPPING;
        w.size_ms = q->size_ms;
        w.advance_ms = q->slide_ms;
        break;
    case SQ_W_SESSION:
        w.kind = SL_STREAM_SESSION;
        w.gap_ms = q->gap_ms;
        break;
    case SQ_W_NONE:
        break;
    }
    return w;
}

/* A grouped query aggregating straight off its source (group_mode): one aggregate keyed by the
 * record key, then for GROUP_PARTIAL the partial results re-keyed to one task and merged there,
 * in a tumbling window that holds exactly one of the query's windows (a partial result carries
 * end - 1 and its own bounds; hopping windows end one slide apart). */
static sl_stream_node_t *grouped_off_source(sl_stream_builder_t *b, sl_sql_query_t *q,
                                            const char *base, int mode) {
    sl_stream_window_t w = window_of(q);
    sl_stream_agg_t agg = {.state_bytes = HDR + q->state_bytes,
                           .step = source_step,
                           .merge = hdr_merge,
                           .result = mode == GROUP_PARTIAL ? partial_result : source_result,
                           .user = q};
    sl_stream_node_t *n = sl_stream_aggregate(
        source_of(b, q), node_name(b, base, mode == GROUP_PARTIAL ? "partial" : "aggregate"), &w,
        &agg);
    if (q->src->late_topic) {
        sl_stream_late_topic(n, q->src->late_topic);
    }
    if (mode == GROUP_PARTIAL) {
        n = sl_stream_rekey(n, node_name(b, base, "group-by"), same_key, q);
        sl_stream_window_t fw = {.kind = SL_STREAM_TUMBLING,
                                 .size_ms = q->wkind == SQ_W_HOP ? q->slide_ms : q->size_ms};
        fw.advance_ms = fw.size_ms;
        sl_stream_agg_t fin = {.state_bytes = HDR + q->state_bytes,
                               .step = final_step,
                               .merge = NULL,
                               .result = final_result,
                               .user = q};
        n = sl_stream_aggregate(n, node_name(b, base, "aggregate"), &fw, &fin);
    }
    return n;
}

typedef struct row_sink {
    sl_sql_row_fn *fn;
    void *user;
} row_sink_t;

static sl_err_t row_sink_fn(sl_stream_ctx_t *ctx, const sl_stream_rec_t *rec, void *user) {
    const row_sink_t *s = user;
    if (rec->value.p) {
        s->fn((const char *)rec->value.p, rec->value.len, s->user);
    }
    return sl_stream_emit(ctx, rec->key, rec->value);
}

static void free_p(void *p) {
    free(p);
}

static const char *node_name(sl_stream_builder_t *b, const char *name, const char *what) {
    size_t n = strlen(name) + strlen(what) + 8;
    char *s = sl_stream_own(b, sl_xmalloc(n), free_p);
    snprintf(s, n, "%s-%s", name, what);
    return s;
}

/* The output's JSON keys of q, escaped once. */
static void out_keys_init(sl_sql_stmt_t *s, sl_sql_query_t *q) {
    if (q->out_keys) {
        return;
    }
    q->out_keys = sl_sql_alloc(&s->pool, (q->n_out + 1) * sizeof *q->out_keys);
    for (size_t i = 0; i < q->n_out; i++) {
        sl_sql_out_t o = {0};
        sl_sql_val_t name = {.s = q->out_names[i], .n = strlen(q->out_names[i])};
        sl_sql_out_raw(&o, ",", 1);
        sl_sql_out_json(&o, (sl_sql_type_t){.base = SQ_VARCHAR}, &name);
        sl_sql_out_raw(&o, ":", 1);
        q->out_keys[i].p = sl_sql_strndup(&s->pool, o.p, o.len);
        q->out_keys[i].len = o.len;
        sl_sql_out_free(&o);
    }
}

/* The aggregates' step shortcuts (accumulate, source_step). */
static void agg_flags(sl_sql_query_t *q) {
    q->count_only = q->n_aggs > 0;
    q->acc_in_place = true;
    for (size_t i = 0; i < q->n_aggs; i++) {
        const sl_sql_agg_t *ag = &q->aggs[i];
        q->count_only &= ag->kind == SQ_AGG_COUNT_STAR;
        bool can_fail = ag->kind == SQ_AGG_COUNT_DISTINCT || ag->kind == SQ_AGG_PERCENTILE ||
                        ag->kind == SQ_AGG_PERCENTILE_CONT ||
                        (ag->kind == SQ_AGG_SUM && ag->arg->type.base != SQ_DOUBLE);
        q->acc_in_place &= !can_fail;
    }
}

/* q's nodes in b, up to the one whose records are its output rows (NULL with err set). A query
 * over a subquery first builds the subquery's (nodes named `<base>-sub-...`), whose result rows
 * (JSON) become its input, in the same pipeline. */
static sl_stream_node_t *query_node(sl_sql_stmt_t *s, sl_sql_query_t *q, sl_stream_builder_t *b,
                                    const char *base, char *err, size_t errlen) {
    const sl_sql_stream_t *src = q->src;
    out_keys_init(s, q);
    agg_flags(q);
    if (!time_rules_ok(b, q, err, errlen)) {
        return NULL;
    }
    if (q->sub) {
        sl_stream_node_t *in = query_node(s, q->sub, b, node_name(b, base, "sub"), err, errlen);
        if (!in) {
            return NULL;
        }
        sl_sql_plan_t *pl = sub_plan_of(b, q->src, in);
        pl->sub_q = q->sub;
        q->sub->sub_out = true;
    }
    sl_stream_node_t *n;
    int mode = GROUP_REKEY;
    if (q->grouped && !q->join) {
        (void)source_of(b, q); /* the slots are the source's from here on */
        mode = group_mode(q);
    }
    if (mode != GROUP_REKEY) {
        n = grouped_off_source(b, q, base, mode);
    } else if (q->join) {
        n = join_of(b, q, base);
    } else if (!q->grouped) {
        n = sl_stream_map(source_of(b, q), node_name(b, base, "select"), select_fn, q);
    } else {
        n = sl_stream_map(source_of(b, q), node_name(b, base, "prepare"), prepare_fn, q);
    }
    if (q->grouped && mode == GROUP_REKEY) {
        n = sl_stream_rekey(n, node_name(b, base, "group-by"), same_key, q);
        /* Over a join, the windows wait for the join's GRACE too: a joined row may come that
         * much behind the join's watermark; over a subquery, for its window (grace_ms). */
        sl_stream_window_t w = window_of(q);
        w.grace_ms = q->sub || (q->join && !q->rsrc->table) ? q->grace_ms : 0;
        sl_stream_agg_t agg = {.state_bytes = q->state_bytes ? q->state_bytes : 8,
                               .step = step_fn,
                               .merge = merge_fn,
                               .result = result_fn,
                               .user = q};
        n = sl_stream_aggregate(n, node_name(b, base, "aggregate"),
                                q->wkind == SQ_W_NONE ? NULL : &w, &agg);
        if (src->late_topic && q->wkind != SQ_W_NONE) {
            sl_stream_late_topic(n, src->late_topic);
        }
    }
    return n;
}

sl_err_t sl_sql_compile(sl_sql_stmt_t *s, sl_stream_builder_t *b, sl_sql_row_fn *row_fn,
                        void *row_user, const char *out_topic, char *err, size_t errlen) {
    sl_sql_query_t *q = s->q;
    if (!q) {
        snprintf(err, errlen, "not a query");
        return SL_ERR_INVAL;
    }
    if (q->plan && q->plan->b != b) {
        snprintf(err, errlen, "a statement compiles into one pipeline only");
        return SL_ERR_INVAL;
    }
    /* Node names (and so internal topics) come from the target stream, or "select". */
    const char *base = s->name ? s->name : "select";
    sl_stream_node_t *n = query_node(s, q, b, base, err, errlen);
    if (!n) {
        plans_ready(b);
        return SL_ERR_INVAL;
    }
    plans_ready(b); /* before any error return: no decoder may be left over stale paths */
    q->out_pass = sl_sql_alloc(&s->pool, (q->n_out + 1) * sizeof *q->out_pass);
    for (size_t i = 0; i < q->n_out; i++) {
        q->out_pass[i] = passed_key(q, i);
    }
    if (q->sink_topic) {
        sl_stream_to(n, q->sink_topic);
    } else {
        if (row_fn) {
            row_sink_t *rs = sl_stream_own(b, sl_xcalloc(1, sizeof *rs), free_p);
            rs->fn = row_fn;
            rs->user = row_user;
            n = sl_stream_map(n, node_name(b, base, "print"), row_sink_fn, rs);
        }
        if (!out_topic) {
            snprintf(err, errlen, "a SELECT needs an output topic");
            return SL_ERR_INVAL;
        }
        sl_stream_to(n, out_topic);
    }
    const char *e = sl_stream_graph_check(b);
    if (e) {
        snprintf(err, errlen, "%s", e);
        return SL_ERR_INVAL;
    }
    return SL_OK;
}

/* One relation's source line of EXPLAIN: the slots of side `side` it decodes. */
static void explain_source(const sl_sql_query_t *q, const sl_sql_stream_t *r, int side, FILE *f) {
    size_t n = 0;
    for (size_t i = 0; i < q->n_paths; i++) {
        n += q->paths[i].side == side;
    }
    fprintf(f, "%s %s (topic '%s', json; %zu slot%s decoded: ", r->table ? "table  " : "source ",
            r->name, r->topic, n, n == 1 ? "" : "s");
    for (size_t i = 0, k = 0; i < q->n_paths; i++) {
        const sl_sql_path_t *p = &q->paths[i];
        if (p->side != side) {
            continue;
        }
        fprintf(f, "%s%s", k++ ? ", " : "", p->cardinality ? "cardinality(" : "");
        for (int j = 0; j < p->n; j++) {
            if (p->steps[j]) {
                fprintf(f, "%s%s", j ? "." : "", p->steps[j]);
            } else {
                fprintf(f, "[%lld]", (long long)p->idx[j] + 1);
            }
        }
        fprintf(f, "%s", p->cardinality ? ")" : "");
    }
    fprintf(f, "; event time %s%s%s, watermark delay %lld ms)\n",
            r->timestamp ? "column '" : "record time", r->timestamp ? r->timestamp : "",
            r->timestamp ? "'" : "", (long long)r->watermark_delay_ms);
}

static void explain_join(const sl_sql_query_t *q, const char *base, FILE *f) {
    static const char *kinds[] = {"", "inner", "left", "full outer"};
    for (int k = 0; k < 2; k++) {
        const sl_sql_stream_t *r = k ? q->rsrc : q->src;
        const sl_sql_path_t *kp = &q->paths[q->key_slot[k]];
        explain_source(q, r, k, f);
        if (q->side_where[k]) {
            fprintf(f, "  map   %s-%s (WHERE on %s's columns, before the join)\n", base,
                    k ? "join-right-where" : "join-where", q->alias[k]);
        }
        if (q->rekey[k]) {
            fprintf(f, "  rekey %s-%s (repartition topic; key = %s.%s)\n", base,
                    k ? "join-right-key" : "join-key", q->alias[k], kp->steps[0]);
        } else {
            fprintf(f, "  (keyed by %s.%s already)\n", q->alias[k], kp->steps[0]);
        }
    }
    if (q->rsrc->table) {
        fprintf(f, "  join  %s-join (stream-table, %s)\n", base, kinds[q->join->kind]);
    } else {
        fprintf(f, "  join  %s-join (windowed, %s, within %lld ms, grace %lld ms)\n", base,
                kinds[q->join->kind], (long long)q->within_ms, (long long)q->grace_ms);
    }
}

/* q's nodes, as query_node makes them (without the sink). */
static void explain_query(const sl_sql_query_t *q, const char *base, FILE *f) {
    if (q->sub) {
        char sb[256];
        snprintf(sb, sizeof sb, "%s-sub", base);
        explain_query(q->sub, sb, f);
        fprintf(f,
                "  (subquery %s: its result rows are the input of the query below, in this "
                "pipeline; %zu column%s decoded)\n",
                q->src->name, q->n_paths, q->n_paths == 1 ? "" : "s");
    } else if (q->join) {
        explain_join(q, base, f);
    } else {
        explain_source(q, q->src, 0, f);
    }
    if (q->join && !q->grouped) {
        fprintf(f, "  (join) %s%zu output columns\n", q->where ? "WHERE, " : "", q->n_out);
    } else if (!q->grouped) {
        fprintf(f, "  map   %s-select (%s%zu output columns)\n", base, q->where ? "WHERE, " : "",
                q->n_out);
    } else {
        static const char *wk[] = {"running (no window)", "tumbling", "hopping", "session"};
        int mode = group_mode(q);
        if (mode == GROUP_REKEY) {
            fprintf(f, "  %s %s-prepare (%s%zu key%s, %zu aggregate argument%s)\n",
                    q->join ? "(join)" : "map  ", base, q->where ? "WHERE, " : "", q->n_keys,
                    q->n_keys == 1 ? "" : "s", q->n_aggs, q->n_aggs == 1 ? "" : "s");
            fprintf(f, "  rekey %s-group-by (repartition topic)\n", base);
        } else if (mode == GROUP_BY_SOURCE_KEY) {
            fprintf(f, "  (keyed by %s already: no repartition; WHERE in the aggregate's step)\n",
                    q->src->key);
        } else {
            fprintf(f,
                    "  aggregate %s-partial (pre-aggregation per record key and window: %s%zu "
                    "aggregate argument%s)\n",
                    base, q->where ? "WHERE, " : "", q->n_aggs, q->n_aggs == 1 ? "" : "s");
            fprintf(f, "  rekey %s-group-by (repartition topic: partial results only)\n", base);
        }
        fprintf(f, "  aggregate %s-aggregate (%s%s", base, mode == GROUP_PARTIAL ? "merging, " : "",
                wk[q->wkind]);
        if (q->wkind == SQ_W_TUMBLE || q->wkind == SQ_W_HOP) {
            fprintf(f, " size %lld ms", (long long)q->size_ms);
        }
        if (q->wkind == SQ_W_HOP) {
            fprintf(f, " slide %lld ms", (long long)q->slide_ms);
        }
        if (q->wkind == SQ_W_SESSION) {
            fprintf(f, " gap %lld ms", (long long)q->gap_ms);
        }
        if (q->wtime_slot >= 0) {
            const sl_sql_path_t *tp = &q->paths[q->wtime_slot];
            fprintf(f, " on %s.%s, grace %lld ms", q->alias[tp->side], tp->steps[0],
                    (long long)(q->rsrc && q->rsrc->table ? 0 : q->grace_ms));
        }
        fprintf(f, ", emit %s, %zu aggregate%s, %zu state bytes per group%s)\n",
                q->emit == SQ_EMIT_CHANGES || q->wkind == SQ_W_NONE ? "changes" : "final",
                q->n_aggs, q->n_aggs == 1 ? "" : "s", q->state_bytes, q->having ? ", HAVING" : "");
    }
}

void sl_sql_explain(const sl_sql_stmt_t *s, FILE *f) {
    const sl_sql_query_t *q = s->q;
    if (!q) {
        return;
    }
    explain_query(q, s->name ? s->name : "select", f);
    if (q->sink_topic) {
        fprintf(f, "  sink  topic '%s'\n", q->sink_topic);
    } else {
        fprintf(f, "  map   select-print (rows to the shell)\n  sink  a temporary topic\n");
    }
}

size_t sl_sql_columns(const sl_sql_stmt_t *s, const char *const **names) {
    if (!s->q) {
        *names = NULL;
        return 0;
    }
    *names = s->q->out_names;
    return s->q->n_out;
}

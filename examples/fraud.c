/* fraud.c -- a fraud-style rule: alert when a payment is far above the payer's running average.
 *
 *   sluice run build/examples/fraud.so --app-id fraud
 *       [-- INPUT OUTPUT WINDOW_MS FACTOR MIN_COUNT]
 *
 * INPUT (default "payments") holds JSON objects {"user": "...", "ts": <epoch ms>, "amount": A}
 * (A a number or a decimal string, top level or in a "body" object: the demo workload's
 * transactions qualify, `make run`, topic "demo"; records without an amount are ignored). Per
 * user, in tumbling event-time windows of WINDOW_MS (default 60000), each payment is compared
 * with the average of the user's earlier payments in the window: when at least MIN_COUNT
 * (default 3) came before and the amount exceeds FACTOR (default 3) times their average, an
 * alert goes to OUTPUT (default "fraud-alerts"), keyed by user:
 *   {"user":"...","ts":T,"amount":A,"average":AVG,"count":N,"window":START}
 * (N payments before this one). A user's payments are compared in the order they reach the
 * user's task (offset order: produce a user's payments to one partition, e.g. keyed by user). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_scan.h"
#include "stream/stream.h"

sl_err_t sl_stream_job(sl_stream_builder_t *b, int argc, char **argv);

typedef struct rule {
    double factor;
    long long min_count;
} rule_t;

typedef struct running { /* goes to the changelog: no pointers */
    long long n;         /* payments so far in the window */
    double sum;
    int alert; /* the payment just added raised an alert */
    double amount, average;
    long long ts;
} running_t;

static sl_err_t event_time(const sl_stream_rec_t *rec, void *user, int64_t *ts) {
    (void)user;
    js_field_t f[1] = {{"ts"}};
    return js_fields(js_doc(rec->value), f, 1) == 1 && js_i64(f[0].val, ts) ? SL_OK : SL_ERR_INVAL;
}

static sl_err_t by_user(sl_stream_ctx_t *ctx, const sl_stream_rec_t *rec, void *user,
                        sl_bytes_t *key) {
    (void)user;
    js_field_t f[1] = {{"user"}};
    if (js_fields(js_doc(rec->value), f, 1) != 1 || !f[0].str || f[0].val.len == 0) {
        return sl_stream_fail(ctx, "an event without a user");
    }
    *key = f[0].val;
    return SL_OK;
}

/* The amount at the top level or in "body"; false when there is none. */
static bool amount_of(sl_bytes_t doc, double *out) {
    js_field_t f[2] = {{"amount"}, {"body"}};
    if (js_fields(doc, f, 2) < 1) {
        return false;
    }
    if (f[0].val.p) {
        return js_f64(f[0].val, out);
    }
    js_field_t g[1] = {{"amount"}};
    return f[1].val.p && !f[1].str && js_fields(f[1].val, g, 1) == 1 && js_f64(g[0].val, out);
}

static sl_err_t step(sl_stream_ctx_t *ctx, void *state, const sl_stream_rec_t *rec, void *user) {
    (void)ctx;
    const rule_t *r = user;
    running_t *s = state;
    double amount;
    s->alert = 0;
    if (!amount_of(js_doc(rec->value), &amount)) {
        return SL_OK;
    }
    if (s->n >= r->min_count && amount > r->factor * (s->sum / (double)s->n)) {
        s->alert = 1;
        s->amount = amount;
        s->average = s->sum / (double)s->n;
        s->ts = rec->ts_ms;
    }
    s->n++;
    s->sum += amount;
    return SL_OK;
}

/* Called after every update (emit_changes): speaks only when that update raised an alert. */
static sl_err_t result(sl_stream_ctx_t *ctx, const void *state, void *user) {
    (void)user;
    const running_t *s = state;
    if (!s->alert) {
        return SL_OK;
    }
    int64_t start, end;
    sl_stream_window_bounds(ctx, &start, &end);
    sl_bytes_t k = sl_stream_ctx_key(ctx);
    size_t cap = k.len + 192;
    char *out = sl_stream_scratch(ctx, cap);
    int n = snprintf(out, cap,
                     "{\"user\":\"%.*s\",\"ts\":%lld,\"amount\":%.2f,\"average\":%.2f,"
                     "\"count\":%lld,\"window\":%lld}",
                     (int)k.len, (const char *)k.p, s->ts, s->amount, s->average, s->n - 1,
                     (long long)start);
    return sl_stream_emit(ctx, k, (sl_bytes_t){(const uint8_t *)out, (size_t)n});
}

static void free_ptr(void *p) {
    free(p);
}

sl_err_t sl_stream_job(sl_stream_builder_t *b, int argc, char **argv) {
    const char *in = argc > 1 ? argv[1] : "payments";
    const char *out = argc > 2 ? argv[2] : "fraud-alerts";
    rule_t *r = sl_stream_own(b, malloc(sizeof *r), free_ptr);
    r->factor = argc > 4 ? atof(argv[4]) : 3.0;
    r->min_count = argc > 5 ? atoll(argv[5]) : 3;
    if (r->factor <= 0 || r->min_count < 1) {
        fprintf(stderr, "fraud.so: FACTOR must be > 0 and MIN_COUNT >= 1\n");
        return SL_ERR_INVAL;
    }
    sl_stream_agg_t agg = {sizeof(running_t), step, NULL, result, r};
    sl_stream_window_t w = {.kind = SL_STREAM_TUMBLING,
                            .size_ms = argc > 3 ? atoll(argv[3]) : 60000,
                            .emit_changes = true};
    sl_stream_source_opts_t src = {
        .ts_fn = event_time, .watermark_delay_ms = 2000, .idle_ms = 5000};
    sl_stream_node_t *users =
        sl_stream_rekey(sl_stream_source(b, in, &src), "by-user", by_user, NULL);
    sl_stream_to(sl_stream_aggregate(users, "running-average", &w, &agg), out);
    return SL_OK;
}

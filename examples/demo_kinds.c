/* demo_kinds.c -- the pipeline `make run` starts: per-kind event counts and bytes of the demo
 * workload in tumbling event-time windows, final results only.
 *
 *   sluice run build/examples/demo_kinds.so --app-id demo-kinds [-- INPUT OUTPUT SIZE_MS]
 *
 * INPUT (default "demo") holds `sluice bench --payload ...` records: the bench header, then JSON
 * {"ts":...,"user":...,"body":{"kind":"chat|transaction|iot",...}}. Event time is "ts", with 2 s
 * of bounded disorder; windows are SIZE_MS wide (default 10000) and fire once, 1 s after the
 * watermark passes their end. Each result is {"kind":"...","start":...,"end":...,"count":...,
 * "bytes":...} keyed by kind in OUTPUT (default "demo-kinds"). Before the re-key each record
 * shrinks to its kind and size, so the repartition topic carries a few bytes per event instead
 * of the event. Records without ts or kind go to the dead-letter topic <app>-dlq. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_scan.h"
#include "stream/stream.h"

sl_err_t sl_stream_job(sl_stream_builder_t *b, int argc, char **argv);

static sl_err_t event_time(const sl_stream_rec_t *rec, void *user, int64_t *ts) {
    (void)user;
    js_field_t f[1] = {{"ts"}};
    return js_fields(js_doc(rec->value), f, 1) == 1 && js_i64(f[0].val, ts) ? SL_OK : SL_ERR_INVAL;
}

/* (kind, record size) keyed by kind. */
static sl_err_t kind_and_size(sl_stream_ctx_t *ctx, const sl_stream_rec_t *rec, void *user) {
    (void)user;
    js_field_t f[1] = {{"body"}}, g[1] = {{"kind"}};
    if (js_fields(js_doc(rec->value), f, 1) != 1 || f[0].str || js_fields(f[0].val, g, 1) != 1 ||
        !g[0].str || g[0].val.len == 0) {
        return sl_stream_fail(ctx, "an event without body.kind");
    }
    char *size = sl_stream_scratch(ctx, 24);
    int n = snprintf(size, 24, "%zu", rec->value.len);
    return sl_stream_emit(ctx, g[0].val, (sl_bytes_t){(const uint8_t *)size, (size_t)n});
}

typedef struct tally {
    long long n, bytes;
} tally_t;

static sl_err_t step(sl_stream_ctx_t *ctx, void *state, const sl_stream_rec_t *rec, void *user) {
    (void)ctx, (void)user;
    tally_t *t = state;
    int64_t size = 0;
    t->n++;
    t->bytes += js_i64(rec->value, &size) ? size : 0;
    return SL_OK;
}

static sl_err_t result(sl_stream_ctx_t *ctx, const void *state, void *user) {
    (void)user;
    const tally_t *t = state;
    int64_t start, end;
    sl_stream_window_bounds(ctx, &start, &end);
    sl_bytes_t k = sl_stream_ctx_key(ctx);
    size_t cap = k.len + 160;
    char *out = sl_stream_scratch(ctx, cap);
    int n = snprintf(
        out, cap, "{\"kind\":\"%.*s\",\"start\":%lld,\"end\":%lld,\"count\":%lld,\"bytes\":%lld}",
        (int)k.len, (const char *)k.p, (long long)start, (long long)end, t->n, t->bytes);
    return sl_stream_emit(ctx, k, (sl_bytes_t){(const uint8_t *)out, (size_t)n});
}

sl_err_t sl_stream_job(sl_stream_builder_t *b, int argc, char **argv) {
    const char *in = argc > 1 ? argv[1] : "demo";
    const char *out = argc > 2 ? argv[2] : "demo-kinds";
    static const sl_stream_agg_t tally = {sizeof(tally_t), step, NULL, result, NULL};
    sl_stream_window_t w = {
        .kind = SL_STREAM_TUMBLING, .size_ms = argc > 3 ? atoll(argv[3]) : 10000, .grace_ms = 1000};
    sl_stream_source_opts_t src = {
        .ts_fn = event_time, .watermark_delay_ms = 2000, .idle_ms = 5000};
    sl_stream_node_t *kinds =
        sl_stream_map(sl_stream_source(b, in, &src), "kind-and-size", kind_and_size, NULL);
    sl_stream_node_t *by_kind = sl_stream_rekey(kinds, "by-kind", NULL, NULL);
    sl_stream_to(sl_stream_aggregate(by_kind, "per-kind", &w, &tally), out);
    return SL_OK;
}

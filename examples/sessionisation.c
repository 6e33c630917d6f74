/* sessionisation.c -- user sessions: per user, runs of events no more than GAP_MS apart.
 *
 *   sluice run build/examples/sessionisation.so --app-id sess
 *       [-- INPUT OUTPUT GAP_MS GRACE_MS DELAY_MS]
 *
 * INPUT (default "events") holds JSON objects {"user": "...", "ts": <epoch ms>, ...}, such as the
 * demo workload's records (`make run`, topic "demo"; the bench header is skipped). Event time is
 * the "ts" field with DELAY_MS (default 2000) of bounded disorder. A session window closes GAP_MS
 * (default 30000) after its last event, and its one final result goes out GRACE_MS (default 1000)
 * later: {"user":"...","start":FIRST_TS,"end":LAST_TS,"count":N}, keyed by user, in OUTPUT
 * (default "sessions"). Two sessions that a late-arriving event bridges merge into one before
 * they fire. Records later than that go to OUTPUT-late; records without user or ts go to the
 * dead-letter topic <app>-dlq. */
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

typedef struct count {
    long long n;
} count_t;

static sl_err_t step(sl_stream_ctx_t *ctx, void *state, const sl_stream_rec_t *rec, void *user) {
    (void)ctx, (void)rec, (void)user;
    ((count_t *)state)->n++;
    return SL_OK;
}

static void merge(void *into, const void *from, void *user) {
    (void)user;
    ((count_t *)into)->n += ((const count_t *)from)->n;
}

static sl_err_t result(sl_stream_ctx_t *ctx, const void *state, void *user) {
    (void)user;
    int64_t first, last;
    sl_stream_window_bounds(ctx, &first, &last);
    sl_bytes_t k = sl_stream_ctx_key(ctx);
    size_t cap = k.len + 128;
    char *out = sl_stream_scratch(ctx, cap);
    int n = snprintf(out, cap, "{\"user\":\"%.*s\",\"start\":%lld,\"end\":%lld,\"count\":%lld}",
                     (int)k.len, (const char *)k.p, (long long)first, (long long)last,
                     ((const count_t *)state)->n);
    return sl_stream_emit(ctx, k, (sl_bytes_t){(const uint8_t *)out, (size_t)n});
}

static void free_str(void *p) {
    free(p);
}

sl_err_t sl_stream_job(sl_stream_builder_t *b, int argc, char **argv) {
    const char *in = argc > 1 ? argv[1] : "events";
    const char *out = argc > 2 ? argv[2] : "sessions";
    static const sl_stream_agg_t count = {sizeof(count_t), step, merge, result, NULL};
    sl_stream_window_t w = {.kind = SL_STREAM_SESSION,
                            .gap_ms = argc > 3 ? atoll(argv[3]) : 30000,
                            .grace_ms = argc > 4 ? atoll(argv[4]) : 1000};
    sl_stream_source_opts_t src = {.ts_fn = event_time,
                                   .watermark_delay_ms = argc > 5 ? atoll(argv[5]) : 2000,
                                   .idle_ms = 5000};
    size_t n = strlen(out) + 6;
    char *late = sl_stream_own(b, malloc(n), free_str);
    snprintf(late, n, "%s-late", out);
    sl_stream_node_t *users =
        sl_stream_rekey(sl_stream_source(b, in, &src), "by-user", by_user, NULL);
    sl_stream_node_t *sessions = sl_stream_aggregate(users, "sessions", &w, &count);
    sl_stream_late_topic(sessions, late);
    sl_stream_to(sessions, out);
    return SL_OK;
}

/* user_windows.c -- per-user event counts in tumbling event-time windows, final results only.
 *
 *   sluice run build/examples/user_windows.so --app-id uw
 *       [-- INPUT OUTPUT SIZE_MS GRACE_MS DELAY_MS IDLE_MS]
 *
 * INPUT (default "events") is a topic, a comma-separated list of topics, or a pattern ("^" then a
 * regular expression the whole topic name matches, as librdkafka's subscriptions: "^events-.*"
 * also reads the matching topics created while the job runs). It holds JSON objects {"user": "...", "ts": <epoch ms>, ...}. Event time
 * is the "ts" field, with DELAY_MS (default 2000) of bounded disorder; windows are SIZE_MS wide
 * (default 10000) and fire once, GRACE_MS (default 1000) after they end; an input partition
 * quiet for IDLE_MS (default 5000) once caught up stops holding the windows back. Each result is
 * {"user":"...","start":...,"end":...,"count":...} keyed by user in OUTPUT (default
 * "user-counts"); records later than that go to OUTPUT-late with the reason in their headers, and
 * records without a user or ts go to the dead-letter topic <app>-dlq. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream/stream.h"

sl_err_t sl_stream_job(sl_stream_builder_t *b, int argc, char **argv);

static sl_err_t event_time(const sl_stream_rec_t *rec, void *user, int64_t *ts) {
    (void)user;
    return sl_stream_json_i64(rec->value, "ts", ts);
}

static sl_err_t by_user(sl_stream_ctx_t *ctx, const sl_stream_rec_t *rec, void *user,
                        sl_bytes_t *key) {
    (void)user;
    return sl_stream_json_get(ctx, rec->value, "user", key);
}

typedef struct count {
    long long n;
} count_t;

static sl_err_t step(sl_stream_ctx_t *ctx, void *state, const sl_stream_rec_t *rec, void *user) {
    (void)ctx, (void)rec, (void)user;
    ((count_t *)state)->n++;
    return SL_OK;
}

static sl_err_t result(sl_stream_ctx_t *ctx, const void *state, void *user) {
    (void)user;
    int64_t start, end;
    sl_stream_window_bounds(ctx, &start, &end);
    sl_bytes_t k = sl_stream_ctx_key(ctx);
    size_t cap = k.len + 128;
    char *out = sl_stream_scratch(ctx, cap);
    int n = snprintf(out, cap, "{\"user\":\"%.*s\",\"start\":%lld,\"end\":%lld,\"count\":%lld}",
                     (int)k.len, (const char *)k.p, (long long)start, (long long)end,
                     ((const count_t *)state)->n);
    return sl_stream_emit(ctx, k, (sl_bytes_t){(const uint8_t *)out, (size_t)n});
}


static void free_str(void *p) {
    free(p);
}

/* The source over INPUT: one topic, a list "a,b,c" or a pattern "^regex". */
static sl_stream_node_t *input(sl_stream_builder_t *b, const char *in,
                               const sl_stream_source_opts_t *src) {
    if (in[0] == '^') {
        return sl_stream_source_pattern(b, in + 1, src);
    }
    size_t n = 1;
    for (const char *p = in; *p; p++) {
        n += *p == ',';
    }
    char *copy = sl_stream_own(b, strdup(in), free_str);
    const char **topics = sl_stream_own(b, calloc(n, sizeof *topics), free_str);
    if (!copy || !topics) {
        return sl_stream_source(b, in, src); /* out of memory: as one topic */
    }
    char *save = NULL;
    n = 0;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        topics[n++] = t;
    }
    return sl_stream_source_topics(b, topics, n, src);
}

sl_err_t sl_stream_job(sl_stream_builder_t *b, int argc, char **argv) {
    const char *in = argc > 1 ? argv[1] : "events";
    const char *out = argc > 2 ? argv[2] : "user-counts";
    static const sl_stream_agg_t count = {sizeof(count_t), step, NULL, result, NULL};
    sl_stream_window_t w = {.kind = SL_STREAM_TUMBLING,
                            .size_ms = argc > 3 ? atoll(argv[3]) : 10000,
                            .grace_ms = argc > 4 ? atoll(argv[4]) : 1000};
    sl_stream_source_opts_t src = {.ts_fn = event_time,
                                   .watermark_delay_ms = argc > 5 ? atoll(argv[5]) : 2000,
                                   .idle_ms = argc > 6 ? atoll(argv[6]) : 5000};
    size_t n = strlen(out) + 6;
    char *late = sl_stream_own(b, malloc(n), free_str);
    snprintf(late, n, "%s-late", out);
    sl_stream_node_t *users = sl_stream_rekey(input(b, in, &src), "by-user", by_user, NULL);
    sl_stream_node_t *counts = sl_stream_aggregate(users, "per-user", &w, &count);
    sl_stream_late_topic(counts, late);
    sl_stream_to(counts, out);
    return SL_OK;
}

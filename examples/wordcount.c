/* wordcount.c -- the classic: lines of text in, a running count per word out.
 *
 *   sluice run build/examples/wordcount.so --app-id wc [-- INPUT OUTPUT]
 *
 * Reads INPUT (default "text"), splits each line on spaces, re-keys by word (through the
 * repartition topic wc-by-word-repartition, so each word's count lives in one task) and writes
 * "word -> count" updates to OUTPUT (default "word-counts"), exactly once. */
#include <stdio.h>
#include <string.h>

#include "stream/stream.h"

sl_err_t sl_stream_job(sl_stream_builder_t *b, int argc, char **argv);

static sl_err_t split(sl_stream_ctx_t *ctx, const sl_stream_rec_t *rec, void *user) {
    (void)user;
    const uint8_t *p = rec->value.p, *end = p ? p + rec->value.len : p;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) {
            p++;
        }
        sl_bytes_t w = {p, 0};
        while (p < end && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            p++;
            w.len++;
        }
        if (w.len) {
            sl_err_t err = sl_stream_emit(ctx, w, w);
            if (err != SL_OK) {
                return err;
            }
        }
    }
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

static sl_err_t result(sl_stream_ctx_t *ctx, const void *state, void *user) {
    (void)user;
    char *out = sl_stream_scratch(ctx, 24);
    int n = snprintf(out, 24, "%lld", ((const count_t *)state)->n);
    return sl_stream_emit(ctx, sl_stream_ctx_key(ctx), (sl_bytes_t){(const uint8_t *)out, (size_t)n});
}

sl_err_t sl_stream_job(sl_stream_builder_t *b, int argc, char **argv) {
    const char *in = argc > 1 ? argv[1] : "text";
    const char *out = argc > 2 ? argv[2] : "word-counts";
    static const sl_stream_agg_t count = {sizeof(count_t), step, NULL, result, NULL};
    sl_stream_node_t *words = sl_stream_map(sl_stream_source(b, in, NULL), "split", split, NULL);
    sl_stream_node_t *by_word = sl_stream_rekey(words, "by-word", NULL, NULL);
    sl_stream_to(sl_stream_aggregate(by_word, "counts", NULL, &count), out);
    return SL_OK;
}

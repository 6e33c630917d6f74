/* click_join.c -- ad impressions joined with their clicks (a windowed stream-stream outer join).
 *
 *   sluice run build/examples/click_join.so --app-id cj
 *       [-- IMPRESSIONS CLICKS OUTPUT WITHIN_MS GRACE_MS DELAY_MS [rekey]]
 *
 * IMPRESSIONS (default "impressions") and CLICKS (default "clicks") hold JSON objects
 * {"id":"...","ts":<epoch ms>,...} keyed by ad id, with the same partition count. An impression
 * and a click of the same ad at most WITHIN_MS apart (default 10000) match; each pair gives
 * {"ad":"...","impression":"<id>","click":"<id>"} keyed by ad in OUTPUT (default "ad-clicks"),
 * and an impression or click that matched nothing gives its record alone ("click":null or
 * "impression":null) once the watermark passes its time + WITHIN_MS + GRACE_MS (default 1000).
 * Event time is "ts", with DELAY_MS (default 2000) of bounded disorder; records later than the
 * grace go to OUTPUT-late. With "rekey", the records are keyed by anything and carry the ad id in
 * an "ad" field: both sides are re-keyed by it through repartition topics into the joining task,
 * and their topics need not be co-partitioned. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream/stream.h"

sl_err_t sl_stream_job(sl_stream_builder_t *b, int argc, char **argv);

static sl_err_t event_time(const sl_stream_rec_t *rec, void *user, int64_t *ts) {
    (void)user;
    return sl_stream_json_i64(rec->value, "ts", ts);
}

/* Writes ,"name":"<id>" or ,"name":null for one side; ids are plain ([A-Za-z0-9._-]). */
static sl_err_t side(sl_stream_ctx_t *ctx, const sl_stream_rec_t *rec, const char *name, char *out,
                     size_t cap, size_t *n) {
    sl_bytes_t id = {NULL, 0};
    if (rec) {
        sl_err_t err = sl_stream_json_get(ctx, rec->value, "id", &id);
        if (err != SL_OK) {
            return err;
        }
        for (size_t i = 0; i < id.len; i++) {
            if (id.p[i] == '"' || id.p[i] == '\\' || id.p[i] < 0x20) {
                return sl_stream_fail(ctx, "an id with characters that need escaping");
            }
        }
    }
    int w = id.p ? snprintf(out + *n, cap - *n, ",\"%s\":\"%.*s\"", name, (int)id.len,
                            (const char *)id.p)
                 : snprintf(out + *n, cap - *n, ",\"%s\":null", name);
    *n += (size_t)w;
    return SL_OK;
}

static sl_err_t pair(sl_stream_ctx_t *ctx, const sl_stream_rec_t *imp, const sl_stream_rec_t *clk,
                     void *user) {
    (void)user;
    sl_bytes_t ad = sl_stream_ctx_key(ctx);
    for (size_t i = 0; i < ad.len; i++) {
        if (ad.p[i] == '"' || ad.p[i] == '\\' || ad.p[i] < 0x20) {
            return sl_stream_fail(ctx, "an ad key with characters that need escaping");
        }
    }
    size_t cap = ad.len + (imp ? imp->value.len : 0) + (clk ? clk->value.len : 0) + 64;
    char *out = sl_stream_scratch(ctx, cap);
    size_t n = (size_t)snprintf(out, cap, "{\"ad\":\"%.*s\"", (int)ad.len, (const char *)ad.p);
    sl_err_t err = side(ctx, imp, "impression", out, cap, &n);
    if (err == SL_OK) {
        err = side(ctx, clk, "click", out, cap, &n);
    }
    if (err != SL_OK) {
        return err;
    }
    out[n++] = '}';
    return sl_stream_emit(ctx, ad, (sl_bytes_t){(const uint8_t *)out, n});
}

static void free_str(void *p) {
    free(p);
}

static sl_err_t by_ad(sl_stream_ctx_t *ctx, const sl_stream_rec_t *rec, void *user,
                      sl_bytes_t *key) {
    (void)user;
    return sl_stream_json_get(ctx, rec->value, "ad", key);
}

sl_err_t sl_stream_job(sl_stream_builder_t *b, int argc, char **argv) {
    const char *imps = argc > 1 ? argv[1] : "impressions";
    const char *clicks = argc > 2 ? argv[2] : "clicks";
    const char *out = argc > 3 ? argv[3] : "ad-clicks";
    int64_t within = argc > 4 ? atoll(argv[4]) : 10000;
    int64_t grace = argc > 5 ? atoll(argv[5]) : 1000;
    sl_stream_source_opts_t src = {.ts_fn = event_time,
                                   .watermark_delay_ms = argc > 6 ? atoll(argv[6]) : 2000};
    size_t n = strlen(out) + 6;
    char *late = sl_stream_own(b, malloc(n), free_str);
    snprintf(late, n, "%s-late", out);
    sl_stream_node_t *l = sl_stream_source(b, imps, &src), *r = sl_stream_source(b, clicks, &src);
    if (argc > 7 && !strcmp(argv[7], "rekey")) {
        l = sl_stream_rekey(l, "imp-by-ad", by_ad, NULL);
        r = sl_stream_rekey(r, "click-by-ad", by_ad, NULL);
    }
    sl_stream_node_t *j =
        sl_stream_join_window(l, r, "imp-click", within, grace, pair, NULL, SL_STREAM_JOIN_OUTER);
    sl_stream_late_topic(j, late);
    sl_stream_to(j, out);
    return SL_OK;
}

/* enrichment.c -- the demo's events enriched with a user-profile table (a stream-table left join).
 *
 *   sluice run build/examples/enrichment.so --app-id enrich [-- EVENTS PROFILES OUTPUT [keyed]]
 *
 * EVENTS (default "demo", what `make run` produces) holds JSON objects {"ts":...,"id":"...",
 * "user":"uK",...}, possibly after sluice bench's 24-byte binary header. PROFILES (default
 * "user-profiles", ideally cleanup.policy=compact) holds the latest profile of each user: key the
 * user id ("uK"), value a JSON object, a null value deletes it. Events are re-keyed by "user" (so
 * the repartition topic is co-partitioned with PROFILES) and joined with the profile their user
 * has at that point; OUTPUT (default "demo-enriched") gets, keyed by user,
 *   {"user":"uK","id":"...","ts":...,"profile":{...}}     or "profile":null without a profile.
 * Event time is the "ts" field. Events without a user or ts go to the dead-letter topic. With
 * "keyed", EVENTS is taken as keyed by user already (and partitioned like PROFILES): no rekey. */
#include <stdio.h>
#include <string.h>

#include "stream/stream.h"

sl_err_t sl_stream_job(sl_stream_builder_t *b, int argc, char **argv);

/* The JSON object in a record: past sluice bench's 24-byte binary header ("SLB1" ...), whose
 * bytes may hold anything, '{' included; otherwise the record as it is. */
static sl_bytes_t json_of(sl_bytes_t v) {
    if (v.p && v.len >= 24 && !memcmp(v.p, "SLB1", 4)) {
        return (sl_bytes_t){v.p + 24, v.len - 24};
    }
    return v;
}

static sl_err_t event_time(const sl_stream_rec_t *rec, void *user, int64_t *ts) {
    (void)user;
    return sl_stream_json_i64(json_of(rec->value), "ts", ts);
}

static sl_err_t by_user(sl_stream_ctx_t *ctx, const sl_stream_rec_t *rec, void *user,
                        sl_bytes_t *key) {
    (void)user;
    return sl_stream_json_get(ctx, json_of(rec->value), "user", key);
}

/* Appends s[0..n) to out as a JSON string's characters (escaping quotes, backslashes and
 * control characters); returns the new length. out has room for 6 * n more bytes. */
static size_t put_escaped(char *out, size_t at, const uint8_t *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\') {
            out[at++] = '\\';
            out[at++] = (char)s[i];
        } else if (s[i] < 0x20) {
            at += (size_t)snprintf(out + at, 7, "\\u%04x", s[i]);
        } else {
            out[at++] = (char)s[i];
        }
    }
    return at;
}

static sl_err_t enrich(sl_stream_ctx_t *ctx, const sl_stream_rec_t *event,
                       const sl_stream_rec_t *profile, void *user) {
    (void)user;
    sl_bytes_t doc = json_of(event->value), id = {(const uint8_t *)"", 0};
    sl_err_t err = sl_stream_json_get(ctx, doc, "id", &id);
    if (err != SL_OK && err != SL_ERR_NOTFOUND) {
        return err;
    }
    sl_bytes_t key = sl_stream_ctx_key(ctx);
    /* A profile is stored as it came; one that is not a JSON object is passed on as a string. */
    sl_bytes_t prof = profile ? profile->value : (sl_bytes_t){NULL, 0};
    bool object = prof.p && prof.len && prof.p[0] == '{';
    size_t cap = 64 + 6 * (key.len + id.len + prof.len) + 24;
    char *out = sl_stream_scratch(ctx, cap);
    size_t n = (size_t)snprintf(out, cap, "{\"user\":\"");
    n = put_escaped(out, n, key.p, key.len);
    n += (size_t)snprintf(out + n, cap - n, "\",\"id\":\"");
    n = put_escaped(out, n, id.p, id.len);
    n += (size_t)snprintf(out + n, cap - n, "\",\"ts\":%lld,\"profile\":", (long long)event->ts_ms);
    if (!prof.p) {
        n += (size_t)snprintf(out + n, cap - n, "null");
    } else if (object) {
        memcpy(out + n, prof.p, prof.len);
        n += prof.len;
    } else {
        out[n++] = '"';
        n = put_escaped(out, n, prof.p, prof.len);
        out[n++] = '"';
    }
    out[n++] = '}';
    return sl_stream_emit(ctx, key, (sl_bytes_t){(const uint8_t *)out, n});
}

sl_err_t sl_stream_job(sl_stream_builder_t *b, int argc, char **argv) {
    const char *events = argc > 1 ? argv[1] : "demo";
    const char *profiles = argc > 2 ? argv[2] : "user-profiles";
    const char *out = argc > 3 ? argv[3] : "demo-enriched";
    sl_stream_source_opts_t src = {.ts_fn = event_time, .idle_ms = 5000};
    sl_stream_node_t *by = sl_stream_source(b, events, &src);
    if (argc <= 4 || strcmp(argv[4], "keyed") != 0) {
        by = sl_stream_rekey(by, "by-user", by_user, NULL);
    }
    sl_stream_node_t *users = sl_stream_table(b, profiles, NULL);
    sl_stream_to(sl_stream_join_table(by, users, "enrich", enrich, NULL, SL_STREAM_JOIN_LEFT), out);
    return SL_OK;
}

/* webhook.c -- the webhook sink: records POSTed as JSON to one URL, at least once.
 *
 * A batch of one record is sent as the record's value; a larger one as a JSON array of the values
 * (a value that is not JSON goes in as a JSON string). Headers name the first record:
 * X-Sluice-Topic, X-Sluice-Partition, X-Sluice-Offset, and X-Sluice-Count.
 * Answers: 2xx delivered; 408, 429, 5xx, timeouts and connection errors retried with exponential
 * backoff and full jitter (a Retry-After of N seconds is waited instead, up to retry_after_max);
 * any other status is final and the records are dead-lettered (reason http_4xx), as they are when
 * max_retries attempts have failed (reason retries_exhausted). A circuit breaker guards the
 * endpoint: while it is open no request is sent and the partitions stay paused; attempts it holds
 * back do not count as retries. Offsets are committed after delivery only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "sink/webhook.h"

static size_t on_body(char *ptr, size_t size, size_t n, void *opaque) {
    (void)ptr;
    (void)opaque;
    return size * n; /* the answer's body is not used */
}

/* Reads "Retry-After: N" (seconds); an HTTP date is ignored (the backoff applies). */
static size_t on_header(char *buf, size_t size, size_t n, void *opaque) {
    sl_webhook_sink_t *w = opaque;
    size_t len = size * n;
    static const char name[] = "retry-after:";
    if (len > sizeof name && !strncasecmp(buf, name, sizeof name - 1)) {
        char tmp[32];
        size_t vl = len - (sizeof name - 1);
        if (vl >= sizeof tmp) {
            vl = sizeof tmp - 1;
        }
        memcpy(tmp, buf + sizeof name - 1, vl);
        tmp[vl] = '\0';
        char *end;
        long v = strtol(tmp, &end, 10);
        while (*end == ' ' || *end == '\r' || *end == '\n') {
            end++;
        }
        if (!*end && v >= 0) {
            w->retry_after_ms = (int64_t)v * 1000;
        }
    }
    return len;
}

/* Appends `m`'s value to `body` as JSON. */
static void append_value(sl_webhook_sink_t *w, const rd_kafka_message_t *m) {
    json_error_t jerr;
    json_t *j = m->payload ? json_loadb(m->payload, m->len, JSON_DECODE_ANY, &jerr) : NULL;
    if (j) {
        json_decref(j);
        sl_wbuf_add(&w->body, m->payload, m->len);
        return;
    }
    json_t *str = m->payload ? json_stringn_nocheck(m->payload, m->len) : json_null();
    char *enc = json_dumps(str, JSON_ENCODE_ANY | JSON_COMPACT);
    json_decref(str);
    if (enc) {
        sl_wbuf_add(&w->body, enc, strlen(enc));
        free(enc);
    } else {
        sl_wbuf_add(&w->body, "null", 4);
    }
}

void sl_wbuf_add(sl_wbuf_t *b, const void *p, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1) {
            cap *= 2;
        }
        b->data = realloc(b->data, cap);
        if (!b->data) {
            abort();
        }
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

/* One POST. Returns the HTTP status, or 0 for a transport error (timeout, refused). */
static long post(sl_webhook_sink_t *w, rd_kafka_message_t **recs, int n) {
    if (!w->curl) {
        w->curl = curl_easy_init();
        if (!w->curl) {
            return 0;
        }
    }
    CURL *c = w->curl;
    struct curl_slist *hdrs = NULL;
    char h[320];
    hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    snprintf(h, sizeof h, "X-Sluice-Topic: %s", rd_kafka_topic_name(recs[0]->rkt));
    hdrs = curl_slist_append(hdrs, h);
    snprintf(h, sizeof h, "X-Sluice-Partition: %d", (int)recs[0]->partition);
    hdrs = curl_slist_append(hdrs, h);
    snprintf(h, sizeof h, "X-Sluice-Offset: %lld", (long long)recs[0]->offset);
    hdrs = curl_slist_append(hdrs, h);
    snprintf(h, sizeof h, "X-Sluice-Count: %d", n);
    hdrs = curl_slist_append(hdrs, h);
    w->retry_after_ms = -1;
    curl_easy_setopt(c, CURLOPT_URL, w->url);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, w->body.data);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)w->body.len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)w->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)w->timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, w);
    CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(hdrs);
    long status = 0;
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    } else {
        snprintf(w->last_error, sizeof w->last_error, "%s", curl_easy_strerror(rc));
    }
    return status;
}

bool sl_webhook_retryable(long status) {
    return status == 0 || status == 408 || status == 429 || status >= 500;
}

static bool dead_letter_all(sl_sink_t *s, rd_kafka_message_t **recs, int n, const char *reason,
                            const char *detail) {
    for (int i = 0; i < n; i++) {
        sl_sink_dead_letter(s, recs[i], reason, detail);
    }
    return sl_sink_dlq_flush(s);
}

static bool wh_deliver(void *self, sl_sink_t *s, rd_kafka_message_t **recs, int n) {
    sl_webhook_sink_t *w = self;
    sl_sink_stats_t *st = sl_sink_stats(s);
    w->body.len = 0;
    if (n > 1 || w->always_array) {
        sl_wbuf_add(&w->body, "[", 1);
    }
    for (int i = 0; i < n; i++) {
        if (i) {
            sl_wbuf_add(&w->body, ",", 1);
        }
        append_value(w, recs[i]);
    }
    if (n > 1 || w->always_array) {
        sl_wbuf_add(&w->body, "]", 1);
    }
    for (int attempt = 0;;) {
        int64_t hold = sl_breaker_wait_ms(&w->breaker, sl_sink_now_ms());
        atomic_store(&st->breaker_state, w->breaker.state);
        if (hold > 0) {
            if (!sl_sink_wait(s, hold)) {
                return false;
            }
            continue;
        }
        long status = post(w, recs, n);
        if (status >= 200 && status < 300) {
            sl_breaker_record(&w->breaker, true, sl_sink_now_ms());
            atomic_store(&st->breaker_state, w->breaker.state);
            atomic_fetch_add(&st->delivered, n);
            return true;
        }
        char detail[300];
        if (status) {
            snprintf(detail, sizeof detail, "HTTP %ld from %s", status, w->url);
        } else {
            snprintf(detail, sizeof detail, "%s: %s", w->url, w->last_error);
        }
        if (!sl_webhook_retryable(status)) {
            /* The endpoint answered: it is up, the records are what it refuses. */
            sl_breaker_record(&w->breaker, true, sl_sink_now_ms());
            atomic_store(&st->breaker_state, w->breaker.state);
            while (!dead_letter_all(s, recs, n, "http_4xx", detail)) {
                if (!sl_sink_wait(s, 1000)) {
                    return false;
                }
            }
            return true;
        }
        sl_breaker_record(&w->breaker, false, sl_sink_now_ms());
        atomic_store(&st->breaker_state, w->breaker.state);
        atomic_store(&st->breaker_opens, w->breaker.opens);
        if (++attempt > w->max_retries) {
            while (!dead_letter_all(s, recs, n, "retries_exhausted", detail)) {
                if (!sl_sink_wait(s, 1000)) {
                    return false;
                }
            }
            return true;
        }
        atomic_fetch_add(&st->retried, 1);
        int64_t delay =
            w->retry_after_ms >= 0
                ? (w->retry_after_ms < w->retry_after_max_ms ? w->retry_after_ms
                                                             : w->retry_after_max_ms)
                : sl_backoff_ms(w->backoff_ms, w->backoff_max_ms, attempt - 1, (uint64_t)random());
        if (!sl_sink_wait(s, delay)) {
            return false;
        }
    }
}

const sl_sink_backend_t sl_webhook_backend = {
    .name = "webhook", .assign = NULL, .deliver = wh_deliver, .commit_sync = true};

void sl_webhook_sink_fini(sl_webhook_sink_t *w) {
    if (w->curl) {
        curl_easy_cleanup(w->curl);
        w->curl = NULL;
    }
    free(w->body.data);
    w->body = (sl_wbuf_t){0};
}

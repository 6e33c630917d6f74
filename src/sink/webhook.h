/* webhook.h -- the webhook sink backend (webhook.c). */
#ifndef SL_SINK_WEBHOOK_H
#define SL_SINK_WEBHOOK_H

#include "sink/sink.h"

/* A growing byte buffer, always NUL-terminated. */
typedef struct sl_wbuf {
    char *data;
    size_t len, cap;
} sl_wbuf_t;
void sl_wbuf_add(sl_wbuf_t *b, const void *p, size_t n);

typedef struct sl_webhook_sink {
    const char *url;
    bool always_array;          /* --batch given: a JSON array even for one record */
    int max_retries;            /* failed attempts retried before dead-lettering */
    int64_t timeout_ms;         /* per request */
    int64_t backoff_ms;         /* first backoff ceiling */
    int64_t backoff_max_ms;     /* largest backoff ceiling */
    int64_t retry_after_max_ms; /* longest Retry-After honoured */
    sl_breaker_t breaker;
    /* state */
    void *curl; /* CURL *, kept for keep-alive */
    sl_wbuf_t body;
    int64_t retry_after_ms; /* from the last answer, -1 if none */
    char last_error[256];
} sl_webhook_sink_t;

extern const sl_sink_backend_t sl_webhook_backend;
/* True for the answers worth retrying: 0 (no answer: timeout, refused), 408, 429 and 5xx. */
bool sl_webhook_retryable(long status);
void sl_webhook_sink_fini(sl_webhook_sink_t *w);

#endif

/* admin.h -- the admin HTTP endpoints, served by http.h inside the broker's loop:
 *   GET /health   200 "ok\n" while the process answers (and hooks->healthy says so), else 503
 *   GET /ready    200 "ready\n" when hooks->ready says so (or there is no hook), else 503
 *   GET /metrics  Prometheus text 0.0.4: the sl_metrics registry plus process metrics
 * HEAD is accepted wherever GET is; other methods get 405, other paths 404. */
#ifndef SL_ADMIN_H
#define SL_ADMIN_H

#include <stdbool.h>

#include "net/loop.h"

typedef struct sl_admin sl_admin_t;

typedef struct sl_admin_hooks {
    bool (*ready)(void *opaque); /* /ready answers 200 when true, 503 otherwise; may be NULL */
    void *opaque;
    bool (*healthy)(void *opaque); /* /health answers 503 when false; NULL: always 200 */
} sl_admin_hooks_t;

/* Serves the endpoints on host:port inside `loop` (host and port as for sl_http_start; port 0
 * picks a free one). `hooks` is copied. NULL on failure with the reason in `err` (SL_ERRLEN
 * bytes). Thread: the loop's. */
sl_admin_t *sl_admin_start(sl_loop_t *loop, const char *host, int port,
                           const sl_admin_hooks_t *hooks, char *err);
/* The port actually bound. Thread: the loop's. */
int sl_admin_port(const sl_admin_t *admin);
/* Stops serving and frees; NULL is a no-op. Thread: the loop's. */
void sl_admin_stop(sl_admin_t *admin);

#endif

/* http.h -- HTTP/1.1 serving on libmicrohttpd, driven by sluice's own event loop (no extra
 * thread): the daemon's epoll fd is watched by the loop and MHD_run is called when it is ready.
 * Shared by the admin endpoints and, later, the gateway. Thread: the loop's thread. */
#ifndef SL_HTTP_H
#define SL_HTTP_H

#include <stddef.h>

#include "common/buf.h"
#include "net/loop.h"

#define SL_HTTP_MAX_BODY (1u << 20)

typedef struct sl_http sl_http_t;

typedef struct sl_http_request {
    const char *method;
    const char *path;
    const char *body; /* NULL when empty */
    size_t body_len;
} sl_http_request_t;

typedef struct sl_http_response {
    int status;
    const char *content_type; /* static string */
    sl_buf_t body;            /* filled by the handler; freed by the server */
} sl_http_response_t;

typedef void sl_http_handler_fn(const sl_http_request_t *req, sl_http_response_t *resp,
                                void *opaque);

/* Listens on host:port (port 0: any free port) and serves every request through `fn`.
 * NULL on failure with the reason in `err` (SL_ERRLEN bytes). */
sl_http_t *sl_http_start(sl_loop_t *loop, const char *host, int port, sl_http_handler_fn *fn,
                         void *opaque, char *err);
/* The port actually bound. */
int sl_http_port(const sl_http_t *http);
/* Stops serving and frees. NULL is a no-op. */
void sl_http_stop(sl_http_t *http);

#endif

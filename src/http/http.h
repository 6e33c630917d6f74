/* http.h -- HTTP/1.1 serving on libmicrohttpd, driven by sluice's own event loop (no extra
 * thread): the daemon's epoll fd is watched by the loop, MHD_run is called when it is readable
 * and when MHD's own timeout (idle connections) expires. Shared by the admin endpoints and, later,
 * the gateway. Thread: everything here runs on, and must be called from, the loop's thread. */
#ifndef SL_HTTP_H
#define SL_HTTP_H

#include <stddef.h>

#include "common/buf.h"
#include "net/loop.h"

#define SL_HTTP_MAX_BODY  (1u << 20) /* larger request bodies are answered 413 */
#define SL_HTTP_MAX_CONNS 256u       /* concurrent connections; more are refused at accept */
#define SL_HTTP_IDLE_S    30u        /* a connection idle this long is closed */

typedef struct sl_http sl_http_t;

/* Borrowed for the duration of the handler call only. */
typedef struct sl_http_request {
    const char *method; /* "GET", "POST", ... */
    const char *path;   /* percent-decoded, without the query */
    const char *query;  /* raw text after '?', not decoded; NULL when the URL has no '?' */
    const char *body;   /* NULL when empty; not NUL-terminated */
    size_t body_len;
} sl_http_request_t;

typedef struct sl_http_response {
    int status;               /* 200 unless the handler says otherwise */
    const char *content_type; /* static string; "text/plain; charset=utf-8" by default */
    const char *allow;        /* static string for the Allow header (set it with 405), or NULL */
    sl_buf_t body;            /* filled by the handler; the server takes and frees it */
} sl_http_response_t;

/* Answers one request synchronously by filling `resp`. Must not call sl_http_stop. */
typedef void sl_http_handler_fn(const sl_http_request_t *req, sl_http_response_t *resp,
                                void *opaque);

/* Listens on host:port and serves every request through `fn(req, resp, opaque)` inside `loop`.
 * `host` is a dotted IPv4 address, "localhost" (127.0.0.1), or "0.0.0.0"/""/NULL for every
 * interface; names are not resolved, so start-up never waits on DNS. Port 0 picks a free port
 * (see sl_http_port). Returns NULL on failure with the reason in `err` (SL_ERRLEN bytes).
 * Thread: the loop's. */
sl_http_t *sl_http_start(sl_loop_t *loop, const char *host, int port, sl_http_handler_fn *fn,
                         void *opaque, char *err);
/* The port actually bound. Thread: the loop's. */
int sl_http_port(const sl_http_t *http);
/* Closes the listener and every connection (requests in progress are dropped) and frees `http`.
 * NULL is a no-op. Thread: the loop's, outside any handler of this server. */
void sl_http_stop(sl_http_t *http);

#endif

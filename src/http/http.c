/* http.c -- libmicrohttpd inside the event loop (see http.h). Request bodies are collected up to
 * SL_HTTP_MAX_BODY (413 beyond) before the handler runs; the handler answers synchronously. */
#include "http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "common/log.h"
#include "common/util.h"

#define TICK_MS 500 /* connection timeouts are checked at this period */

struct sl_http {
    sl_loop_t *loop;
    struct MHD_Daemon *mhd;
    int epfd;
    int port;
    uint64_t timer;
    sl_http_handler_fn *fn;
    void *opaque;
};

typedef struct pending {
    sl_buf_t body;
    bool too_big;
} pending_t;

static enum MHD_Result send_buf(struct MHD_Connection *c, int status, const char *type,
                                const void *p, size_t n) {
    struct MHD_Response *r =
        MHD_create_response_from_buffer(n, (void *)(uintptr_t)p, MHD_RESPMEM_MUST_COPY);
    if (!r) {
        return MHD_NO;
    }
    if (type) {
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    }
    enum MHD_Result rc = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls) {
    (void)version;
    sl_http_t *http = cls;
    pending_t *pd = *con_cls;
    if (!pd) {
        pd = sl_xcalloc(1, sizeof *pd);
        *con_cls = pd;
        return MHD_YES;
    }
    if (*upload_size) {
        if (pd->body.len + *upload_size > SL_HTTP_MAX_BODY) {
            pd->too_big = true;
        } else {
            sl_buf_append(&pd->body, upload_data, *upload_size);
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (pd->too_big) {
        static const char msg[] = "request body too large\n";
        return send_buf(c, 413, "text/plain", msg, sizeof msg - 1);
    }
    sl_http_request_t req = {method, url, pd->body.len ? (const char *)pd->body.data : NULL,
                             pd->body.len};
    sl_http_response_t resp = {200, "text/plain; charset=utf-8", {0}};
    http->fn(&req, &resp, http->opaque);
    enum MHD_Result rc = send_buf(c, resp.status, resp.content_type, resp.body.data, resp.body.len);
    sl_buf_fini(&resp.body);
    return rc;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)cls;
    (void)c;
    (void)toe;
    pending_t *pd = *con_cls;
    if (pd) {
        sl_buf_fini(&pd->body);
        free(pd);
        *con_cls = NULL;
    }
}

static void on_ready(sl_loop_t *loop, int fd, void *data, unsigned events) {
    (void)loop;
    (void)fd;
    (void)events;
    sl_http_t *http = data;
    MHD_run(http->mhd);
}

static void on_tick(sl_loop_t *loop, uint64_t id, void *data) {
    (void)id;
    sl_http_t *http = data;
    MHD_run(http->mhd);
    http->timer = sl_loop_timer(loop, TICK_MS, on_tick, http);
}

sl_http_t *sl_http_start(sl_loop_t *loop, const char *host, int port, sl_http_handler_fn *fn,
                         void *opaque, char *err) {
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    char pbuf[8];
    snprintf(pbuf, sizeof pbuf, "%d", port);
    int grc = getaddrinfo(host && *host ? host : NULL, pbuf, &hints, &res);
    if (grc != 0) {
        snprintf(err, SL_ERRLEN, "admin listener %s: %s", host, gai_strerror(grc));
        return NULL;
    }
    struct sockaddr_in sin;
    memcpy(&sin, res->ai_addr, sizeof sin);
    freeaddrinfo(res);
    sl_http_t *http = sl_xcalloc(1, sizeof *http);
    http->loop = loop;
    http->fn = fn;
    http->opaque = opaque;
    http->mhd = MHD_start_daemon(
        MHD_USE_EPOLL, (uint16_t)port, NULL, NULL, on_request, http, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&sin, MHD_OPTION_NOTIFY_COMPLETED, on_completed, http,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)256, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1, MHD_OPTION_END);
    if (!http->mhd) {
        snprintf(err, SL_ERRLEN, "admin listener %s:%d: cannot start HTTP server", host, port);
        free(http);
        return NULL;
    }
    const union MHD_DaemonInfo *ei = MHD_get_daemon_info(http->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    const union MHD_DaemonInfo *li = MHD_get_daemon_info(http->mhd, MHD_DAEMON_INFO_LISTEN_FD);
    http->epfd = ei ? ei->epoll_fd : -1;
    struct sockaddr_in bound;
    socklen_t blen = sizeof bound;
    http->port = port;
    if (li && getsockname(li->listen_fd, (struct sockaddr *)&bound, &blen) == 0) {
        http->port = ntohs(bound.sin_port);
    }
    if (http->epfd < 0 || sl_loop_watch(loop, http->epfd, SL_EV_READ, on_ready, http) != SL_OK) {
        snprintf(err, SL_ERRLEN, "admin listener: no epoll fd from libmicrohttpd");
        MHD_stop_daemon(http->mhd);
        free(http);
        return NULL;
    }
    http->timer = sl_loop_timer(loop, TICK_MS, on_tick, http);
    return http;
}

int sl_http_port(const sl_http_t *http) {
    return http->port;
}

void sl_http_stop(sl_http_t *http) {
    if (!http) {
        return;
    }
    sl_loop_unwatch(http->loop, http->epfd);
    sl_loop_cancel(http->loop, http->timer);
    MHD_stop_daemon(http->mhd);
    free(http);
}

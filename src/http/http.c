/* http.c -- libmicrohttpd inside sluice's event loop (see http.h).
 *
 * MHD runs with MHD_USE_EPOLL and no thread of its own. Its epoll fd becomes readable when the
 * listener or any connection has work; the loop watches that fd and calls MHD_run. After every
 * run, MHD_get_timeout says when MHD must run again even without socket events:
 *   - never (MHD_NO): nothing to do;
 *   - 0 ms: it holds work no socket event will announce (its sockets are edge-triggered and it
 *     reads at most one buffer per connection per run, so a large upload takes many runs). A
 *     write to our own eventfd makes the loop come back on its next iteration, after serving
 *     everything else that is ready, so a big upload neither spins nor starves other sockets;
 *   - t ms: an idle connection times out then; one loop timer covers it (see schedule).
 *
 * One request, as MHD drives on_request:
 *   on_uri        request line parsed: allocate the request state, keep the raw query
 *   on_request #1 headers parsed, body not read: a Content-Length over the cap is answered 413
 *                 right away (MHD then skips the body and closes the connection)
 *   on_request #k a piece of body: append; past the cap, drop it and remember to answer 413
 *   on_request #n body complete (upload_size == 0): 413, or call the handler and queue its answer
 *   on_completed  request finished or connection closed: free the request state
 * MHD accepts a response only before the body or after all of it, so a chunked body that passes
 * the cap is read to its end and dropped; once SL_HTTP_MAX_DRAIN bytes in all have arrived, the
 * connection is closed without an answer instead. Memory per request never exceeds the cap. */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/util.h"

#define SL_HTTP_MAX_DRAIN (4 * (size_t)SL_HTTP_MAX_BODY) /* see the file comment */
#define TIMER_MAX_MS      3600000u /* MHD's timeouts are seconds to minutes; bounds the arithmetic */

struct sl_http {
    sl_loop_t *loop;
    struct MHD_Daemon *mhd;
    int epfd; /* MHD's, watched by the loop */
    int port;
    int kick_fd;             /* eventfd: readable when MHD asked to run again at once */
    bool kicked;             /* kick_fd holds an unread count */
    uint64_t timer;          /* the one pending loop timer, or 0 */
    uint64_t timer_deadline; /* its deadline on the monotonic clock, in ms */
    sl_http_handler_fn *fn;
    void *opaque;
    char last_msg[160]; /* MHD's latest log message, for the start-up error */
};

typedef struct req_state {
    char *query;    /* raw query, or NULL */
    sl_buf_t body;  /* bytes received so far, at most SL_HTTP_MAX_BODY */
    size_t dropped; /* body bytes read and thrown away after the cap was passed */
    bool headers_seen;
    bool too_large; /* the body passed the cap: answer 413 once it ends */
    bool answered;  /* a response is queued already */
} req_state_t;

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
    sl_http_t *http = cls;
    vsnprintf(http->last_msg, sizeof http->last_msg, fmt, ap);
    size_t n = strlen(http->last_msg);
    while (n && (http->last_msg[n - 1] == '\n' || http->last_msg[n - 1] == '\r')) {
        http->last_msg[--n] = '\0';
    }
    /* Per-connection complaints (malformed requests, resets) come from peers: debug only. */
    sl_log(SL_LOG_DEBUG, "http", "msg=\"%s\"", http->last_msg);
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c) {
    (void)cls;
    (void)c;
    req_state_t *rq = sl_xcalloc(1, sizeof *rq);
    const char *q = strchr(uri, '?');
    if (q) {
        rq->query = sl_xstrdup(q + 1);
    }
    return rq;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)cls;
    (void)c;
    (void)toe;
    req_state_t *rq = *con_cls;
    if (rq) {
        free(rq->query);
        sl_buf_fini(&rq->body);
        free(rq);
        *con_cls = NULL;
    }
}

/* Queues a response. The body's memory goes to MHD (freed with free() once sent). */
static enum MHD_Result respond(struct MHD_Connection *c, int status, const char *type,
                               const char *allow, sl_buf_t *body) {
    struct MHD_Response *r;
    if (body->len) {
        r = MHD_create_response_from_buffer(body->len, body->data, MHD_RESPMEM_MUST_FREE);
        if (r) {
            *body = (sl_buf_t){0};
        }
    } else {
        r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    }
    sl_buf_fini(body);
    if (!r) {
        return MHD_NO; /* MHD closes the connection */
    }
    if (type) {
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    }
    if (allow) {
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    }
    enum MHD_Result rc =
        MHD_queue_response(c, (unsigned)(status >= 100 && status <= 999 ? status : 500), r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result refuse_too_large(struct MHD_Connection *c, req_state_t *rq) {
    static const char msg[] = "request body too large\n";
    rq->answered = true;
    sl_buf_t body = {0};
    sl_buf_append(&body, msg, sizeof msg - 1);
    return respond(c, MHD_HTTP_CONTENT_TOO_LARGE, "text/plain; charset=utf-8", NULL, &body);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls) {
    (void)version;
    sl_http_t *http = cls;
    req_state_t *rq = *con_cls;
    if (!rq) { /* on_uri always runs first; this only guards a change in MHD */
        rq = *con_cls = on_uri(NULL, url, c);
    }
    if (!rq->headers_seen) {
        rq->headers_seen = true;
        const char *cl =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > SL_HTTP_MAX_BODY) {
            return refuse_too_large(c, rq);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (rq->answered) {
            return MHD_YES;
        }
        if (rq->too_large) {
            rq->dropped += n;
            return rq->dropped > SL_HTTP_MAX_DRAIN ? MHD_NO : MHD_YES;
        }
        if (n > SL_HTTP_MAX_BODY - rq->body.len) {
            rq->too_large = true;
            rq->dropped = rq->body.len + n;
            sl_buf_fini(&rq->body);
            return MHD_YES;
        }
        sl_buf_append(&rq->body, upload_data, n);
        return MHD_YES;
    }
    if (rq->answered) {
        return MHD_YES;
    }
    if (rq->too_large) {
        return refuse_too_large(c, rq);
    }
    rq->answered = true;
    sl_http_request_t req = {
        .method = method,
        .path = url,
        .query = rq->query,
        .body = rq->body.len ? (const char *)rq->body.data : NULL,
        .body_len = rq->body.len,
    };
    sl_http_response_t resp = {.status = 200, .content_type = "text/plain; charset=utf-8"};
    http->fn(&req, &resp, http->opaque);
    return respond(c, resp.status, resp.content_type, resp.allow, &resp.body);
}

static void on_timer(sl_loop_t *loop, uint64_t id, void *data);

/* Runs MHD, then arranges its next run. At most one timer is pending. A pending timer already due
 * earlier than MHD asks is kept: firing early only costs an MHD_run that finds nothing, while
 * cancelling and re-adding on every socket event would churn the loop's timer heap. */
static void run(sl_http_t *http) {
    MHD_run(http->mhd);
    MHD_UNSIGNED_LONG_LONG t;
    if (MHD_get_timeout(http->mhd, &t) != MHD_YES) {
        return;
    }
    if (t == 0) {
        if (!http->kicked) {
            uint64_t one = 1;
            http->kicked = write(http->kick_fd, &one, sizeof one) == (ssize_t)sizeof one;
        }
        if (http->kicked) {
            return;
        }
        t = 1; /* eventfd write failed (cannot really happen): poll instead */
    }
    uint64_t ms = SL_MIN((uint64_t)t, (uint64_t)TIMER_MAX_MS);
    uint64_t deadline = sl_mono_ms() + ms;
    if (http->timer && http->timer_deadline <= deadline) {
        return;
    }
    sl_loop_cancel(http->loop, http->timer);
    http->timer = sl_loop_timer(http->loop, ms, on_timer, http);
    http->timer_deadline = deadline;
}

static void on_timer(sl_loop_t *loop, uint64_t id, void *data) {
    (void)loop;
    (void)id;
    sl_http_t *http = data;
    http->timer = 0;
    run(http);
}

static void on_ready(sl_loop_t *loop, int fd, void *data, unsigned events) {
    (void)loop;
    (void)fd;
    (void)events;
    run(data);
}

static void on_kick(sl_loop_t *loop, int fd, void *data, unsigned events) {
    (void)loop;
    (void)events;
    sl_http_t *http = data;
    uint64_t n;
    ssize_t r = read(fd, &n, sizeof n); /* EAGAIN only if nothing was pending: harmless */
    (void)r;
    http->kicked = false;
    run(http);
}

static bool parse_host(const char *host, struct in_addr *out) {
    if (!host || !*host || !strcmp(host, "0.0.0.0")) {
        out->s_addr = htonl(INADDR_ANY);
        return true;
    }
    if (!strcmp(host, "localhost")) {
        out->s_addr = htonl(INADDR_LOOPBACK);
        return true;
    }
    return inet_pton(AF_INET, host, out) == 1;
}

sl_http_t *sl_http_start(sl_loop_t *loop, const char *host, int port, sl_http_handler_fn *fn,
                         void *opaque, char *err) {
    const char *shown = host && *host ? host : "0.0.0.0";
    struct sockaddr_in sin = {.sin_family = AF_INET};
    if (!parse_host(host, &sin.sin_addr)) {
        snprintf(err, SL_ERRLEN, "http listener %s: not an IPv4 address or localhost", shown);
        return NULL;
    }
    if (port < 0 || port > 65535) {
        snprintf(err, SL_ERRLEN, "http listener %s:%d: port out of range", shown, port);
        return NULL;
    }
    sin.sin_port = htons((uint16_t)port);

    sl_http_t *http = sl_xcalloc(1, sizeof *http);
    http->loop = loop;
    http->fn = fn;
    http->opaque = opaque;
    http->epfd = -1;
    http->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (http->kick_fd < 0) {
        snprintf(err, SL_ERRLEN, "http listener %s:%d: eventfd: %s", shown, port, strerror(errno));
        free(http);
        return NULL;
    }
    /* The logger goes first so that start-up failures reach last_msg (MHD's advice). No
     * MHD_OPTION_LISTENING_ADDRESS_REUSE: it means SO_REUSEPORT, which would let a second
     * broker share the port; MHD's default SO_REUSEADDR already allows a quick restart. */
    http->mhd = MHD_start_daemon(
        MHD_USE_EPOLL | MHD_USE_ERROR_LOG, (uint16_t)port, NULL, NULL, on_request, http,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, http, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, http, MHD_OPTION_NOTIFY_COMPLETED, on_completed, http,
        MHD_OPTION_CONNECTION_LIMIT, SL_HTTP_MAX_CONNS, MHD_OPTION_CONNECTION_TIMEOUT,
        SL_HTTP_IDLE_S, MHD_OPTION_END);
    if (!http->mhd) {
        snprintf(err, SL_ERRLEN, "http listener %s:%d: %s", shown, port,
                 http->last_msg[0] ? http->last_msg : "libmicrohttpd could not start");
        goto fail;
    }
    const union MHD_DaemonInfo *ei = MHD_get_daemon_info(http->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    const union MHD_DaemonInfo *li = MHD_get_daemon_info(http->mhd, MHD_DAEMON_INFO_LISTEN_FD);
    struct sockaddr_in bound;
    socklen_t blen = sizeof bound;
    if (!ei || !li || getsockname(li->listen_fd, (struct sockaddr *)&bound, &blen) != 0) {
        snprintf(err, SL_ERRLEN, "http listener %s:%d: no epoll or listen fd from libmicrohttpd",
                 shown, port);
        goto fail;
    }
    http->port = ntohs(bound.sin_port);
    http->epfd = ei->epoll_fd;
    if (sl_loop_watch(loop, http->kick_fd, SL_EV_READ, on_kick, http) != SL_OK) {
        snprintf(err, SL_ERRLEN, "http listener %s:%d: cannot watch the eventfd", shown, port);
        goto fail;
    }
    if (sl_loop_watch(loop, http->epfd, SL_EV_READ, on_ready, http) != SL_OK) {
        snprintf(err, SL_ERRLEN, "http listener %s:%d: cannot watch the epoll fd", shown, port);
        sl_loop_unwatch(loop, http->kick_fd);
        goto fail;
    }
    return http;

fail:
    if (http->mhd) {
        MHD_stop_daemon(http->mhd);
    }
    close(http->kick_fd);
    free(http);
    return NULL;
}

int sl_http_port(const sl_http_t *http) {
    return http->port;
}

void sl_http_stop(sl_http_t *http) {
    if (!http) {
        return;
    }
    sl_loop_unwatch(http->loop, http->epfd);
    sl_loop_unwatch(http->loop, http->kick_fd);
    sl_loop_cancel(http->loop, http->timer);
    MHD_stop_daemon(http->mhd); /* runs on_completed for open requests; closes epfd */
    close(http->kick_fd);
    free(http);
}

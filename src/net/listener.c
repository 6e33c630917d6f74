/* listener.c -- TCP listen socket, accept4 loop, per-socket options (non-blocking, no Nagle).
 *
 * At max.connections, or out of descriptors (EMFILE/ENFILE) or kernel memory, where accept4 fails
 * while the socket stays readable (a level-triggered loop would spin on it), the listener stops
 * watching for ACCEPT_PAUSE_MS and logs once per episode (nginx disables accept events the same
 * way). Clients meanwhile wait in the kernel's accept queue. The default max.connections leaves
 * descriptors free below the limit, so segment files and the admin endpoint still open.
 * Before pausing at max.connections it evicts a connection that has sat on a half-sent frame (or
 * said nothing) for EVICT_MIN_AGE_MS (sl_conn_evict_one): thousands of slowloris connections
 * then give way to new clients one by one, while a client that sends a request promptly is not
 * a candidate. An address over max.connections.per.ip (or its override) has its new connection
 * closed at once, as Kafka does. */
#include "listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/metrics.h"
#include "common/util.h"
#include "net/iplimit.h"

#define LISTEN_BACKLOG  65535 /* the kernel caps it at net.core.somaxconn */
#define ACCEPT_PAUSE_MS 100
#define WARN_EVERY_MS   10000 /* at most one pause warning this often */
#define EVICT_MIN_AGE_MS                                                                           \
    1000 /* a connection this long on a half frame (or silent) can be evicted */
#define MAX_OVERRIDES 64

struct sl_listener {
    sl_loop_t *loop;
    int fd;
    int port;
    sl_conn_hooks_t hooks;
    bool paused;  /* not watched until resume_timer fires */
    bool starved; /* paused since the last successful accept */
    bool warned;  /* ... and said so */
    uint64_t resume_timer;
    uint64_t last_warn_ms;
    size_t max_conns; /* 0 = no limit */
    size_t max_per_ip;
    sl_ip_override_t overrides[MAX_OVERRIDES];
    size_t n_overrides;
    uint64_t per_ip_warn_ms;
    sl_counter_t *m_per_ip;
    sl_admit_fn *admit; /* connection_creation_rate (broker/quota.c), or NULL */
    void *admit_opaque;
    uint64_t admit_warn_ms;
    sl_counter_t *m_rate;
};

sl_err_t sl_parse_hostport(const char *s, char *host, size_t host_len, int *port) {
    const char *colon = strrchr(s, ':');
    if (!colon) {
        return SL_ERR_INVAL;
    }
    size_t n = (size_t)(colon - s);
    if (n >= host_len) {
        return SL_ERR_INVAL;
    }
    memcpy(host, s, n);
    host[n] = '\0';
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || p < 0 || p > 65535) {
        return SL_ERR_INVAL;
    }
    *port = (int)p;
    return SL_OK;
}

static void on_accept(sl_loop_t *loop, int fd, void *data, unsigned events);

static void on_resume(sl_loop_t *loop, uint64_t id, void *data) {
    (void)id;
    sl_listener_t *lst = data;
    if (sl_loop_watch(loop, lst->fd, SL_EV_READ, on_accept, lst) != SL_OK) {
        lst->resume_timer = sl_loop_timer(loop, ACCEPT_PAUSE_MS, on_resume, lst);
        return;
    }
    lst->paused = false;
}

/* err: an errno, or 0 at max.connections. */
static void pause_accepting(sl_listener_t *lst, int err) {
    uint64_t now = sl_loop_now_ms(lst->loop);
    if (!lst->starved && (!lst->last_warn_ms || now - lst->last_warn_ms >= WARN_EVERY_MS)) {
        sl_log(SL_LOG_WARN, "net",
               "op=accept err=\"%s\" connections=%zu msg=\"pausing accepts, retrying every %d ms\"",
               err ? strerror(err) : "max.connections reached", sl_conn_count(), ACCEPT_PAUSE_MS);
        lst->warned = true;
        lst->last_warn_ms = now;
    }
    lst->starved = true;
    sl_loop_unwatch(lst->loop, lst->fd);
    lst->paused = true;
    lst->resume_timer = sl_loop_timer(lst->loop, ACCEPT_PAUSE_MS, on_resume, lst);
}

static size_t limit_for(const sl_listener_t *lst, const char *ip) {
    for (size_t i = 0; i < lst->n_overrides; i++) {
        if (!strcmp(lst->overrides[i].ip, ip)) {
            return lst->overrides[i].max;
        }
    }
    return lst->max_per_ip;
}

/* Whether `ip` may open one more connection; logs a refusal at most every WARN_EVERY_MS. */
static bool per_ip_allowed(sl_listener_t *lst, const char *ip) {
    size_t limit = limit_for(lst, ip);
    if (sl_ip_count(ip) < limit) {
        return true;
    }
    if (!lst->m_per_ip) {
        lst->m_per_ip = sl_metrics_counter("sluice_connections_rejected_total", "",
                                           "Connections closed at accept: the address was at "
                                           "max.connections.per.ip");
    }
    sl_counter_add(lst->m_per_ip, 1);
    uint64_t now = sl_loop_now_ms(lst->loop);
    if (!lst->per_ip_warn_ms || now - lst->per_ip_warn_ms >= WARN_EVERY_MS) {
        lst->per_ip_warn_ms = now;
        sl_log(SL_LOG_WARN, "net",
               "op=accept peer=%s limit=%zu msg=\"max.connections.per.ip "
               "reached, closing new connections from this address\"",
               ip, limit);
    }
    return false;
}

void sl_listener_set_admit(sl_listener_t *lst, sl_admit_fn *fn, void *opaque) {
    lst->admit = fn;
    lst->admit_opaque = opaque;
}

/* Whether the admit hook lets `ip` connect now; logs a refusal at most every WARN_EVERY_MS. */
static bool rate_allowed(sl_listener_t *lst, const char *ip) {
    if (!lst->admit || lst->admit(ip, lst->admit_opaque)) {
        return true;
    }
    if (!lst->m_rate) {
        lst->m_rate = sl_metrics_counter("sluice_connections_rate_rejected_total", "",
                                         "Connections closed at accept: the address was over "
                                         "its connection_creation_rate quota");
    }
    sl_counter_add(lst->m_rate, 1);
    uint64_t now = sl_loop_now_ms(lst->loop);
    if (!lst->admit_warn_ms || now - lst->admit_warn_ms >= WARN_EVERY_MS) {
        lst->admit_warn_ms = now;
        sl_log(SL_LOG_WARN, "net",
               "op=accept peer=%s msg=\"connection_creation_rate quota exceeded, closing new "
               "connections from this address\"",
               ip);
    }
    return false;
}

static void on_accept(sl_loop_t *loop, int fd, void *data, unsigned events) {
    (void)events;
    sl_listener_t *lst = data;
    for (int i = 0; i < 256; i++) {
        if (lst->max_conns && sl_conn_count() >= lst->max_conns &&
            !sl_conn_evict_one(EVICT_MIN_AGE_MS)) {
            pause_accepting(lst, 0);
            return;
        }
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int cfd = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) {
                continue;
            }
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                pause_accepting(lst, errno);
            } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
                sl_log(SL_LOG_WARN, "net", "op=accept err=\"%s\"", strerror(errno));
            }
            return;
        }
        if (lst->warned) {
            sl_log(SL_LOG_INFO, "net", "op=accept connections=%zu msg=\"accepting again\"",
                   sl_conn_count());
        }
        lst->starved = lst->warned = false;
        int one = 1;
        (void)setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        char peer[64] = "?";
        char hbuf[48] = "?", sbuf[8];
        if (getnameinfo((struct sockaddr *)&ss, sl, hbuf, sizeof hbuf, sbuf, sizeof sbuf,
                        NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
            snprintf(peer, sizeof peer, "%s:%s", hbuf, sbuf);
        }
        if (!per_ip_allowed(lst, hbuf) || !rate_allowed(lst, hbuf)) {
            close(cfd);
            continue;
        }
        sl_conn_t *conn = sl_conn_new(loop, cfd, &lst->hooks, peer);
        if (conn) {
            sl_conn_set_ipcount(conn, sl_ip_acquire(hbuf));
        }
    }
}

sl_listener_t *sl_listener_new(sl_loop_t *loop, const char *host, int port,
                               const sl_conn_hooks_t *hooks, char *err) {
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char pbuf[8];
    snprintf(pbuf, sizeof pbuf, "%d", port);
    int rc = getaddrinfo(host && *host ? host : NULL, pbuf, &hints, &res);
    if (rc != 0) {
        snprintf(err, SL_ERRLEN, "resolve %s: %s", host, gai_strerror(rc));
        return NULL;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, SL_ERRLEN, "socket: %s", strerror(errno));
        freeaddrinfo(res);
        return NULL;
    }
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
        snprintf(err, SL_ERRLEN, "listen on %s:%d: %s", host, port, strerror(errno));
        close(fd);
        freeaddrinfo(res);
        return NULL;
    }
    freeaddrinfo(res);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int bound = port;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    }
    sl_listener_t *lst = sl_xcalloc(1, sizeof *lst);
    lst->loop = loop;
    lst->fd = fd;
    lst->port = bound;
    lst->hooks = *hooks;
    lst->max_per_ip = SIZE_MAX;
    if (sl_loop_watch(loop, fd, SL_EV_READ, on_accept, lst) != SL_OK) {
        snprintf(err, SL_ERRLEN, "cannot watch listener");
        close(fd);
        free(lst);
        return NULL;
    }
    return lst;
}

void sl_listener_set_max_conns(sl_listener_t *lst, size_t max) {
    lst->max_conns = max;
}

sl_err_t sl_listener_set_ip_limits(sl_listener_t *lst, size_t max_per_ip, const char *overrides,
                                   char *err) {
    lst->max_per_ip = max_per_ip;
    return sl_ip_parse_overrides(overrides, lst->overrides, MAX_OVERRIDES, &lst->n_overrides, err);
}

int sl_listener_port(const sl_listener_t *lst) {
    return lst->port;
}

void sl_listener_free(sl_listener_t *lst) {
    if (!lst) {
        return;
    }
    if (lst->paused) {
        sl_loop_cancel(lst->loop, lst->resume_timer);
    }
    sl_loop_unwatch(lst->loop, lst->fd);
    close(lst->fd);
    free(lst);
}

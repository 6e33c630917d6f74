/* listener.c -- TCP listen socket, accept4 loop, per-socket options (non-blocking, no Nagle). */
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
#include "common/util.h"

struct sl_listener {
    sl_loop_t *loop;
    int fd;
    int port;
    sl_conn_hooks_t hooks;
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

static void on_accept(sl_loop_t *loop, int fd, void *data, unsigned events) {
    (void)events;
    sl_listener_t *lst = data;
    for (int i = 0; i < 256; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int cfd = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                /* EMFILE and friends: log (rate is bounded by the loop) and retry later. */
                sl_log(SL_LOG_WARN, "net", "op=accept err=\"%s\"", strerror(errno));
            }
            return;
        }
        int one = 1;
        (void)setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        char peer[64] = "?";
        char hbuf[48], sbuf[8];
        if (getnameinfo((struct sockaddr *)&ss, sl, hbuf, sizeof hbuf, sbuf, sizeof sbuf,
                        NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
            snprintf(peer, sizeof peer, "%s:%s", hbuf, sbuf);
        }
        (void)sl_conn_new(loop, cfd, &lst->hooks, peer);
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
    if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 1024) < 0) {
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
    if (sl_loop_watch(loop, fd, SL_EV_READ, on_accept, lst) != SL_OK) {
        snprintf(err, SL_ERRLEN, "cannot watch listener");
        close(fd);
        free(lst);
        return NULL;
    }
    return lst;
}

int sl_listener_port(const sl_listener_t *lst) {
    return lst->port;
}

void sl_listener_free(sl_listener_t *lst) {
    if (!lst) {
        return;
    }
    sl_loop_unwatch(lst->loop, lst->fd);
    close(lst->fd);
    free(lst);
}

/* sock.c -- blocking client sockets with timeouts (see sock.h). */
#include "sock.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

int sl_sock_dial(const char *host, int port, int connect_ms, int io_ms, char *err, size_t errlen) {
    char portstr[16];
    char dummy[1];
    if (!err) {
        err = dummy;
        errlen = sizeof dummy;
    }
    snprintf(portstr, sizeof portstr, "%d", port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    if (getaddrinfo(host, portstr, &hints, &ai) != 0 || !ai) {
        snprintf(err, errlen, "cannot resolve %s", host);
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        freeaddrinfo(ai);
        return -1;
    }
    /* Non-blocking connect, so that an address that drops SYNs costs connect_ms, not the
     * kernel's minutes of retries. */
    int r = connect(fd, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    struct pollfd pfd = {fd, POLLOUT, 0};
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if ((r < 0 && errno != EINPROGRESS) ||
        (r < 0 && (poll(&pfd, 1, connect_ms) != 1 ||
                   getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr))) {
        snprintf(err, errlen, "connect %s:%d: %s", host, port,
                 strerror(soerr   ? soerr
                          : errno ? errno
                                  : ETIMEDOUT));
        close(fd);
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    struct timeval tv = {io_ms / 1000, (io_ms % 1000) * 1000};
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0) {
        snprintf(err, errlen, "socket options: %s", strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

bool sl_sock_write_all(int fd, const void *p, size_t n) {
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t k = write(fd, b, n);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k <= 0) {
            return false;
        }
        b += k;
        n -= (size_t)k;
    }
    return true;
}

bool sl_sock_read_all(int fd, void *p, size_t n) {
    uint8_t *b = p;
    while (n > 0) {
        ssize_t k = read(fd, b, n);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k <= 0) {
            return false;
        }
        b += k;
        n -= (size_t)k;
    }
    return true;
}

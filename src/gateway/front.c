/* front.c -- the gateway's listener. It accepts every connection itself and gives each a thread
 * that decides the protocol:
 *   - plain TCP: the first bytes are peeked; the HTTP/2 connection preface ("PRI * HTTP/2.0...",
 *     h2c with prior knowledge) goes to h2.c, anything else is handed as is to MHD
 *     (MHD_add_connection), which serves HTTP/1.1 and WebSocket upgrades on its own thread;
 *   - TLS (ssl.certificate.location set): OpenSSL terminates it here (the server context from
 *     security/tls.c, plus ALPN). "h2" goes to h2.c; anything else is HTTP/1.1: the decrypted
 *     bytes are pumped both ways between the TLS socket and one end of a socket pair whose other
 *     end MHD serves. A verified client certificate's CN is kept by the MHD-side descriptor so
 *     the handlers can use it as the principal (sl_gw_front_peer_cn).
 * Every thread polls in slices of POLL_MS and ends when the gateway stops. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/util.h"
#include "gateway/gw_int.h"
#include "security/tls.h"

#define POLL_MS      200
#define HANDSHAKE_MS 10000 /* TLS handshake or the first bytes of a plain connection */
#define MAX_THREADS  1024  /* connection threads (sniffing, TLS pumps, HTTP/2); more are refused */
#define PUMP_BUF     16384

static const char h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

typedef struct peer {
    int fd; /* MHD's end of the socket pair */
    uint64_t id;
    char cn[256];
} peer_t;

struct sl_gw_front {
    sl_gw_t *gw;
    int lfd, port;
    SSL_CTX *ctx; /* NULL: plain TCP */
    pthread_t acceptor;
    bool acceptor_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int n_threads;
    peer_t *peers;
    int n_peers, cap_peers;
    uint64_t next_id;
};

typedef struct conn_arg {
    sl_gw_front_t *f;
    int fd;
    struct sockaddr_storage addr;
    socklen_t alen;
} conn_arg_t;

ssize_t sl_gw_io_read(int fd, SSL *ssl, void *buf, size_t cap, short *want) {
    *want = POLLIN;
    if (!ssl) {
        ssize_t n = recv(fd, buf, cap, MSG_DONTWAIT);
        if (n > 0) {
            return n;
        }
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : -1;
    }
    size_t got = 0;
    ERR_clear_error();
    int rc = SSL_read_ex(ssl, buf, cap, &got);
    if (rc == 1) {
        return (ssize_t)got;
    }
    int e = SSL_get_error(ssl, rc);
    if (e == SSL_ERROR_WANT_READ) {
        return 0;
    }
    if (e == SSL_ERROR_WANT_WRITE) {
        *want = POLLOUT;
        return 0;
    }
    return -1;
}

ssize_t sl_gw_io_write(int fd, SSL *ssl, const void *buf, size_t len, short *want) {
    *want = POLLOUT;
    if (!ssl) {
        ssize_t n = send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            return n;
        }
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : -1;
    }
    size_t put = 0;
    ERR_clear_error();
    int rc = SSL_write_ex(ssl, buf, len, &put);
    if (rc == 1) {
        return (ssize_t)put;
    }
    int e = SSL_get_error(ssl, rc);
    if (e == SSL_ERROR_WANT_WRITE) {
        return 0;
    }
    if (e == SSL_ERROR_WANT_READ) {
        *want = POLLIN;
        return 0;
    }
    return -1;
}

static void set_nonblock(int fd) {
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) {
        (void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    }
}

bool sl_gw_front_peer_cn(sl_gw_front_t *f, int fd, char *cn, size_t cap) {
    bool found = false;
    pthread_mutex_lock(&f->mu);
    for (int i = 0; i < f->n_peers; i++) {
        if (f->peers[i].fd == fd) {
            snprintf(cn, cap, "%s", f->peers[i].cn);
            found = true;
        }
    }
    pthread_mutex_unlock(&f->mu);
    return found;
}

/* Remembers `cn` for MHD's descriptor `fd` (replacing a stale entry of a reused descriptor);
 * returns the entry's id for peer_del. */
static uint64_t peer_add(sl_gw_front_t *f, int fd, const char *cn) {
    pthread_mutex_lock(&f->mu);
    uint64_t id = ++f->next_id;
    int i = 0;
    while (i < f->n_peers && f->peers[i].fd != fd) {
        i++;
    }
    if (i == f->n_peers) {
        if (f->n_peers == f->cap_peers) {
            f->cap_peers = f->cap_peers ? 2 * f->cap_peers : 16;
            f->peers = sl_xrealloc(f->peers, (size_t)f->cap_peers * sizeof *f->peers);
        }
        f->n_peers++;
    }
    f->peers[i].fd = fd;
    f->peers[i].id = id;
    snprintf(f->peers[i].cn, sizeof f->peers[i].cn, "%s", cn);
    pthread_mutex_unlock(&f->mu);
    return id;
}

static void peer_del(sl_gw_front_t *f, uint64_t id) {
    pthread_mutex_lock(&f->mu);
    for (int i = 0; i < f->n_peers; i++) {
        if (f->peers[i].id == id) {
            f->peers[i] = f->peers[--f->n_peers];
            break;
        }
    }
    pthread_mutex_unlock(&f->mu);
}

typedef struct pbuf {
    uint8_t d[PUMP_BUF];
    size_t off, len;
} pbuf_t;

/* Moves bytes between the TLS connection and MHD's socket pair until either side closes (the
 * other side's pending bytes are delivered first) or the gateway stops. */
static void pump(sl_gw_t *gw, int fd, SSL *ssl, int mfd) {
    pbuf_t *up = sl_xcalloc(1, sizeof *up), *down = sl_xcalloc(1, sizeof *down);
    bool client_eof = false, mhd_eof = false;
    while (sl_gw_running(gw)) {
        short rwant = 0, wwant = 0, w;
        while (!client_eof && up->len < PUMP_BUF) {
            ssize_t n = sl_gw_io_read(fd, ssl, up->d + up->len, PUMP_BUF - up->len, &w);
            if (n > 0) {
                up->len += (size_t)n;
            } else {
                client_eof = n < 0;
                rwant = n < 0 ? 0 : w;
                break;
            }
        }
        while (up->off < up->len) {
            ssize_t n = send(mfd, up->d + up->off, up->len - up->off, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n > 0) {
                up->off += (size_t)n;
            } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                break;
            } else {
                goto out; /* MHD closed its end */
            }
        }
        if (up->off == up->len) {
            up->off = up->len = 0;
        }
        while (!mhd_eof && down->len < PUMP_BUF) {
            ssize_t n = recv(mfd, down->d + down->len, PUMP_BUF - down->len, MSG_DONTWAIT);
            if (n > 0) {
                down->len += (size_t)n;
            } else {
                mhd_eof = n == 0 || (errno != EAGAIN && errno != EINTR);
                break;
            }
        }
        while (down->off < down->len) {
            ssize_t n = sl_gw_io_write(fd, ssl, down->d + down->off, down->len - down->off, &w);
            if (n > 0) {
                down->off += (size_t)n;
            } else if (n < 0) {
                goto out;
            } else {
                wwant = w;
                break;
            }
        }
        if (down->off == down->len) {
            down->off = down->len = 0;
        }
        if ((mhd_eof && !down->len) || (client_eof && !up->len)) {
            break;
        }
        struct pollfd pf[2] = {
            {.fd = fd, .events = (short)(rwant | wwant)},
            {.fd = mfd,
             .events = (short)((up->len ? POLLOUT : 0) |
                               (!mhd_eof && down->len < PUMP_BUF ? POLLIN : 0))}};
        if (poll(pf, 2, POLL_MS) < 0 && errno != EINTR) {
            break;
        }
    }
out:
    if (mhd_eof && !client_eof) {
        (void)SSL_shutdown(ssl);
    }
    free(up);
    free(down);
}

/* The subject CN of a certificate the handshake verified, or "" (no certificate). */
static void peer_cn(SSL *ssl, char *cn, size_t cap) {
    cn[0] = '\0';
    X509 *cert = SSL_get1_peer_certificate(ssl);
    if (cert && SSL_get_verify_result(ssl) == X509_V_OK) {
        int n =
            X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, (int)cap);
        if (n < 0) {
            cn[0] = '\0';
        }
    }
    X509_free(cert);
}

/* Waits for `events` on fd until the deadline; false on timeout, error or a stop. */
static bool wait_fd(sl_gw_t *gw, int fd, short events, uint64_t deadline) {
    while (sl_gw_running(gw) && sl_mono_ms() < deadline) {
        struct pollfd pf = {.fd = fd, .events = events};
        int n = poll(&pf, 1, POLL_MS);
        if (n > 0) {
            return true;
        }
        if (n < 0 && errno != EINTR) {
            return false;
        }
    }
    return false;
}

static void serve_tls(sl_gw_front_t *f, conn_arg_t *a) {
    sl_gw_t *gw = f->gw;
    SSL *ssl = SSL_new(f->ctx);
    if (!ssl || !SSL_set_fd(ssl, a->fd)) {
        SSL_free(ssl);
        close(a->fd);
        return;
    }
    set_nonblock(a->fd);
    uint64_t deadline = sl_mono_ms() + HANDSHAKE_MS;
    for (;;) {
        ERR_clear_error();
        int rc = SSL_accept(ssl);
        if (rc == 1) {
            break;
        }
        int e = SSL_get_error(ssl, rc);
        if ((e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) ||
            !wait_fd(gw, a->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) {
            unsigned long le = ERR_peek_error();
            sl_log(SL_LOG_DEBUG, "gateway", "tls handshake failed: %s",
                   le ? ERR_reason_error_string(le) : "timeout or closed");
            SSL_free(ssl);
            close(a->fd);
            return;
        }
    }
    char cn[256];
    peer_cn(ssl, cn, sizeof cn);
    const unsigned char *proto = NULL;
    unsigned plen = 0;
    SSL_get0_alpn_selected(ssl, &proto, &plen);
    if (plen == 2 && !memcmp(proto, "h2", 2)) {
        sl_gw_h2_serve(gw, a->fd, ssl, cn[0] ? cn : NULL);
    } else {
        int sp[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0) {
            uint64_t id = cn[0] ? peer_add(f, sp[1], cn) : 0;
            /* MHD owns sp[1] from here (it closes it, even on failure). */
            if (MHD_add_connection(gw->mhd, sp[1], (struct sockaddr *)&a->addr, a->alen) ==
                MHD_YES) {
                pump(gw, a->fd, ssl, sp[0]);
            }
            close(sp[0]);
            if (id) {
                peer_del(f, id);
            }
        }
    }
    SSL_free(ssl);
    close(a->fd);
}

static void serve_plain(sl_gw_front_t *f, conn_arg_t *a) {
    sl_gw_t *gw = f->gw;
    uint64_t deadline = sl_mono_ms() + HANDSHAKE_MS;
    char head[sizeof h2_preface - 1];
    for (;;) {
        ssize_t n = recv(a->fd, head, sizeof head, MSG_PEEK | MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            close(a->fd);
            return;
        }
        if (n > 0 && memcmp(head, h2_preface, (size_t)n)) {
            break; /* not the preface: HTTP/1.1 */
        }
        if (n == (ssize_t)sizeof head) {
            set_nonblock(a->fd);
            sl_gw_h2_serve(gw, a->fd, NULL, NULL);
            close(a->fd);
            return;
        }
        if (!wait_fd(gw, a->fd, POLLIN, deadline)) {
            close(a->fd);
            return;
        }
    }
    (void)MHD_add_connection(gw->mhd, a->fd, (struct sockaddr *)&a->addr, a->alen);
}

static void *conn_main(void *arg) {
    conn_arg_t *a = arg;
    sl_gw_front_t *f = a->f;
    if (f->ctx) {
        serve_tls(f, a);
    } else {
        serve_plain(f, a);
    }
    free(a);
    pthread_mutex_lock(&f->mu);
    f->n_threads--;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

static void *accept_main(void *arg) {
    sl_gw_front_t *f = arg;
    while (sl_gw_running(f->gw)) {
        struct pollfd pf = {.fd = f->lfd, .events = POLLIN};
        if (poll(&pf, 1, POLL_MS) <= 0) {
            continue;
        }
        conn_arg_t *a = sl_xcalloc(1, sizeof *a);
        a->alen = sizeof a->addr;
        a->fd = accept4(f->lfd, (struct sockaddr *)&a->addr, &a->alen, SOCK_CLOEXEC);
        if (a->fd < 0) {
            free(a);
            if (errno == EMFILE || errno == ENFILE) {
                usleep(50 * 1000);
            }
            continue;
        }
        int one = 1;
        (void)setsockopt(a->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        a->f = f;
        pthread_mutex_lock(&f->mu);
        bool room = f->n_threads < MAX_THREADS;
        f->n_threads += room;
        pthread_mutex_unlock(&f->mu);
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        if (!room || pthread_create(&t, &at, conn_main, a)) {
            close(a->fd);
            free(a);
            if (room) {
                pthread_mutex_lock(&f->mu);
                f->n_threads--;
                pthread_cond_broadcast(&f->cv);
                pthread_mutex_unlock(&f->mu);
            }
        }
        pthread_attr_destroy(&at);
    }
    return NULL;
}

/* ALPN: h2 when the client offers it, else HTTP/1.1 (no ALPN answer is also HTTP/1.1). */
static int on_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                   const unsigned char *in, unsigned int inlen, void *arg) {
    (void)ssl;
    (void)arg;
    static const unsigned char ours[] = "\x02h2\x08http/1.1";
    unsigned char *sel = NULL;
    if (SSL_select_next_proto(&sel, outlen, ours, sizeof ours - 1, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED) {
        return SSL_TLSEXT_ERR_NOACK;
    }
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

sl_gw_front_t *sl_gw_front_start(sl_gw_t *gw, const char *host, int port, char *err) {
    const sl_gw_settings_t *s = &gw->start;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (!host || !*host || !strcmp(host, "0.0.0.0")) {
        sin.sin_addr.s_addr = htonl(INADDR_ANY);
    } else if (!strcmp(host, "localhost")) {
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    } else if (inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
        snprintf(err, SL_ERRLEN, "listen address %s: not an IPv4 address or localhost", host);
        return NULL;
    }
    SSL_CTX *ctx = NULL;
    if (s->ssl_cert[0] || s->ssl_key[0]) {
        if (strcmp(s->ssl_client_auth, "none") && strcmp(s->ssl_client_auth, "requested") &&
            strcmp(s->ssl_client_auth, "required")) {
            snprintf(err, SL_ERRLEN, "ssl.client.auth: expected none, requested or required");
            return NULL;
        }
        sl_tls_conf_t tc = {.cert_file = s->ssl_cert,
                            .key_file = s->ssl_key,
                            .key_password = s->ssl_key_password,
                            .ca_file = s->ssl_ca,
                            .client_auth = s->ssl_client_auth};
        char why[SL_ERRLEN];
        ctx = sl_tls_server_ctx(&tc, why);
        if (!ctx) {
            snprintf(err, SL_ERRLEN, "gateway TLS: %s", why);
            return NULL;
        }
        SSL_CTX_set_alpn_select_cb(ctx, on_alpn, NULL);
        SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    }
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (lfd >= 0) {
        (void)setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    }
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin, sizeof sin) || listen(lfd, 512)) {
        snprintf(err, SL_ERRLEN, "cannot listen on %s:%d: %s", host ? host : "0.0.0.0", port,
                 strerror(errno));
        if (lfd >= 0) {
            close(lfd);
        }
        sl_tls_ctx_free(ctx);
        return NULL;
    }
    socklen_t sl = sizeof sin;
    (void)getsockname(lfd, (struct sockaddr *)&sin, &sl);
    sl_gw_front_t *f = sl_xcalloc(1, sizeof *f);
    f->gw = gw;
    f->lfd = lfd;
    f->port = ntohs(sin.sin_port);
    f->ctx = ctx;
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    if (pthread_create(&f->acceptor, NULL, accept_main, f)) {
        snprintf(err, SL_ERRLEN, "cannot start the accept thread");
        sl_gw_front_free(f);
        return NULL;
    }
    f->acceptor_started = true;
    return f;
}

int sl_gw_front_port(const sl_gw_front_t *f) {
    return f->port;
}

void sl_gw_front_stop(sl_gw_front_t *f) {
    if (f->acceptor_started) {
        pthread_join(f->acceptor, NULL); /* it sees sl_gw_running() turn false */
        f->acceptor_started = false;
    }
    if (f->lfd >= 0) {
        close(f->lfd);
        f->lfd = -1;
    }
    /* Every connection thread ends within a poll slice, or once its handlers return (each
     * bounded: produce.timeout.ms, a consumer poll's timeout). */
    pthread_mutex_lock(&f->mu);
    while (f->n_threads > 0) {
        pthread_cond_wait(&f->cv, &f->mu);
    }
    pthread_mutex_unlock(&f->mu);
}

void sl_gw_front_free(sl_gw_front_t *f) {
    if (!f) {
        return;
    }
    sl_gw_front_stop(f);
    sl_tls_ctx_free(f->ctx);
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    free(f->peers);
    free(f);
}

/* h2.c -- HTTP/2 on the gateway (h2 over TLS chosen by ALPN, h2c with prior knowledge), with
 * libnghttp2 doing the framing, HPACK and flow control on front.c's socket.
 *
 * One thread owns the connection and its nghttp2 session. A stream whose request is complete
 * (END_STREAM) is served by a worker of the connection's pool (threads kept WORKER_IDLE_MS
 * after their last stream, one more started when none is idle) through sl_gw_serve, the same
 * routing, authentication, rate limits, breaker and handlers as HTTP/1.1; a produce blocks only its
 * worker, so other streams of the connection go on. A finished worker submits and sends its
 * answer itself under the session lock (smu), without a hand-off to the connection thread, and
 * wakes that thread (a pipe) only when the socket would not take it all. A stream the client
 * resets while its worker runs is freed when the worker ends. At most MAX_STREAMS run at once
 * (SETTINGS_MAX_CONCURRENT_STREAMS); request bodies over max.request.bytes are answered 413.
 * WebSocket streams need HTTP/1.1 (no RFC 8441 here). */
#include <errno.h>
#include <fcntl.h>
#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/util.h"
#include "gateway/gw_int.h"

#define MAX_STREAMS      100
#define MAX_HEADERS      64
#define MAX_HEADER_BYTES 65536 /* names and values of one request; more is answered 400 */
#define IDLE_MS          60000 /* a connection with no stream and no frame for this long is closed */
#define POLL_MS          200
#define WORKER_IDLE_MS   2000 /* a pool worker with nothing to do this long ends */

typedef struct h2_conn h2_conn_t;

typedef struct h2_stream {
    h2_conn_t *c;
    int32_t id;
    char *method, *path;
    sl_gw_kv_t hdr[MAX_HEADERS];
    int nhdr;
    size_t hdr_bytes;
    sl_buf_t body;
    bool too_large, bad;
    bool running, closed; /* a worker serves it / nghttp2 closed it (or the connection ends) */
    sl_gw_resp_t resp;
    size_t sent;
    struct h2_stream *next;   /* all streams of the connection nghttp2 has not closed */
    struct h2_stream *next_q; /* the pool's queue */
} h2_stream_t;

struct h2_conn {
    sl_gw_t *gw;
    int fd;
    SSL *ssl;
    const char *peer_cn;
    nghttp2_session *s;
    short send_want;        /* poll event the last blocked write waits for, or 0 */
    size_t limit;           /* max.request.bytes at the connection's start */
    int wake[2];            /* a worker writes a byte when the socket would not take its answer */
    pthread_mutex_t smu;    /* the nghttp2 session, `all` and send_want: one thread at a time */
    pthread_mutex_t mu;     /* running, closed, the pool */
    pthread_cond_t cv;      /* a worker ended */
    pthread_cond_t work_cv; /* a stream was queued, or the connection ends */
    int workers, idle, nqueued;
    bool ending;
    h2_stream_t *queue, *qtail;
    h2_stream_t *all;
};

static void stream_free(h2_stream_t *st) {
    free(st->method);
    free(st->path);
    for (int i = 0; i < st->nhdr; i++) {
        free((char *)st->hdr[i].name);
        free((char *)st->hdr[i].value);
    }
    sl_buf_fini(&st->body);
    sl_buf_fini(&st->resp.body);
    free(st);
}

static void stream_unlink(h2_conn_t *c, h2_stream_t *st) {
    for (h2_stream_t **pp = &c->all; *pp; pp = &(*pp)->next) {
        if (*pp == st) {
            *pp = st->next;
            return;
        }
    }
}

static int hexval(int ch) {
    if (ch >= '0' && ch <= '9') {
        return ch - '0';
    }
    if (ch >= 'a' && ch <= 'f') {
        return ch - 'a' + 10;
    }
    if (ch >= 'A' && ch <= 'F') {
        return ch - 'A' + 10;
    }
    return -1;
}

/* Percent-decodes s in place ('+' is a space, as in forms and MHD). */
static void url_decode(char *s) {
    char *w = s;
    for (const char *r = s; *r; r++) {
        if (*r == '%' && hexval(r[1]) >= 0 && hexval(r[2]) >= 0) {
            *w++ = (char)(hexval(r[1]) * 16 + hexval(r[2]));
            r += 2;
        } else {
            *w++ = *r == '+' ? ' ' : *r;
        }
    }
    *w = '\0';
}

static ssize_t read_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                         nghttp2_data_source *src, void *user) {
    (void)s;
    (void)id;
    (void)user;
    h2_stream_t *st = src->ptr;
    size_t n = SL_MIN(len, st->resp.body.len - st->sent);
    memcpy(buf, st->resp.body.data + st->sent, n);
    st->sent += n;
    if (st->sent == st->resp.body.len) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    }
    return (ssize_t)n;
}

static nghttp2_nv nv(const char *name, const char *value) {
    return (nghttp2_nv){(uint8_t *)name, (uint8_t *)value, strlen(name), strlen(value),
                        NGHTTP2_NV_FLAG_NONE};
}

/* Submits the stream's answer (headers copied by nghttp2; the body read from st->resp). Under
 * the session lock. */
static void submit_answer(h2_conn_t *c, h2_stream_t *st) {
    sl_gw_resp_t *r = &st->resp;
    if (r->upgrade) { /* cannot happen: sl_gw_ws refuses requests without a connection */
        MHD_destroy_response(r->upgrade);
        r->upgrade = NULL;
        sl_gw_error(r, 500, 50001, "no upgrade over HTTP/2");
    }
    char status[8], clen[24], ra[24];
    snprintf(status, sizeof status, "%d", r->status);
    snprintf(clen, sizeof clen, "%zu", r->body.len);
    nghttp2_nv h[4] = {nv(":status", status), nv("content-length", clen)};
    size_t nh = 2;
    if (r->content_type) {
        h[nh++] = nv("content-type", r->content_type);
    }
    if (r->retry_after_s) {
        snprintf(ra, sizeof ra, "%llu", (unsigned long long)r->retry_after_s);
        h[nh++] = nv("retry-after", ra);
    }
    nghttp2_data_provider dp = {.source.ptr = st, .read_callback = read_body};
    nghttp2_submit_response(c->s, st->id, h, nh, r->body.len ? &dp : NULL);
}

/* Serves one stream whose request is complete and sends its answer. */
static void serve_stream(h2_stream_t *st) {
    h2_conn_t *c = st->c;
    sl_gw_resp_t *r = &st->resp;
    r->status = 200;
    if (st->bad || !st->method || !st->path) {
        sl_gw_error(r, 400, 400, "malformed HTTP/2 request");
    } else if (st->too_large) {
        sl_gw_error(r, 413, 41301, "request body larger than max.request.bytes (%zu)", c->limit);
    } else {
        /* Query arguments: split a copy of the path after '?'. */
        sl_gw_kv_t args[16];
        int narg = 0;
        char *query = strchr(st->path, '?');
        char *qcopy = query ? sl_xstrdup(query + 1) : NULL;
        for (char *save = NULL, *kv = qcopy ? strtok_r(qcopy, "&", &save) : NULL;
             kv && narg < (int)(sizeof args / sizeof args[0]); kv = strtok_r(NULL, "&", &save)) {
            char *eq = strchr(kv, '=');
            if (eq) {
                *eq = '\0';
                url_decode(eq + 1);
            }
            url_decode(kv);
            args[narg++] = (sl_gw_kv_t){kv, eq ? eq + 1 : ""};
        }
        sl_gw_req_t q = {.gw = c->gw,
                         .method = st->method,
                         .hdr = st->hdr,
                         .nhdr = st->nhdr,
                         .arg = args,
                         .narg = narg,
                         .peer_cn = c->peer_cn,
                         .body = st->body.len ? (const char *)st->body.data : NULL,
                         .body_len = st->body.len};
        sl_gw_serve(&q, st->path, r);
        free(qcopy);
    }
    /* Answer from this thread (no hand-off to the connection thread): under the session lock,
     * submit and send what the socket takes now; the connection thread is woken only when the
     * socket would block. The stream may be freed by on_close inside the send. */
    pthread_mutex_lock(&c->smu);
    pthread_mutex_lock(&c->mu);
    st->running = false;
    bool closed = st->closed;
    pthread_mutex_unlock(&c->mu);
    if (closed) {
        stream_free(st); /* the client reset it: nobody wants the answer */
    } else {
        submit_answer(c, st);
        c->send_want = 0;
        if (nghttp2_session_send(c->s) || c->send_want) {
            ssize_t w = write(c->wake[1], "x", 1);
            (void)w;
        }
    }
    pthread_mutex_unlock(&c->smu);
}

/* A worker of the connection's pool: serves queued streams, and ends after WORKER_IDLE_MS
 * without one or when the connection ends (queued streams are then dropped unserved). */
static void *worker_main(void *arg) {
    h2_conn_t *c = arg;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        if (c->ending) {
            while (c->queue) {
                h2_stream_t *st = c->queue;
                c->queue = st->next_q;
                stream_free(st); /* marked closed and unlinked by the teardown */
            }
            c->nqueued = 0;
            break;
        }
        if (!c->queue) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += WORKER_IDLE_MS / 1000;
            c->idle++;
            int rc = pthread_cond_timedwait(&c->work_cv, &c->mu, &ts);
            c->idle--;
            if (rc == ETIMEDOUT && !c->queue && !c->ending) {
                break;
            }
            continue;
        }
        h2_stream_t *st = c->queue;
        c->queue = st->next_q;
        if (!c->queue) {
            c->qtail = NULL;
        }
        c->nqueued--;
        pthread_mutex_unlock(&c->mu);
        serve_stream(st);
        pthread_mutex_lock(&c->mu);
    }
    c->workers--;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

/* Queues a complete request for the pool, starting a worker when none is idle for it. */
static void start_worker(h2_conn_t *c, h2_stream_t *st) {
    if (st->running) {
        return;
    }
    st->running = true;
    pthread_mutex_lock(&c->mu);
    st->next_q = NULL;
    if (c->qtail) {
        c->qtail->next_q = st;
    } else {
        c->queue = st;
    }
    c->qtail = st;
    c->nqueued++;
    bool spawn = c->idle < c->nqueued && c->workers < MAX_STREAMS;
    c->workers += spawn;
    pthread_cond_signal(&c->work_cv);
    pthread_mutex_unlock(&c->mu);
    if (!spawn) {
        return;
    }
    pthread_t t;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &at, worker_main, c)) {
        pthread_mutex_lock(&c->mu);
        c->workers--; /* a running worker will take the stream; with none, it waits for one */
        pthread_mutex_unlock(&c->mu);
    }
    pthread_attr_destroy(&at);
}

static ssize_t on_send(nghttp2_session *s, const uint8_t *data, size_t len, int flags, void *user) {
    (void)s;
    (void)flags;
    h2_conn_t *c = user;
    short want;
    ssize_t n = sl_gw_io_write(c->fd, c->ssl, data, len, &want);
    if (n > 0) {
        return n;
    }
    if (n == 0) {
        c->send_want = want;
        return NGHTTP2_ERR_WOULDBLOCK;
    }
    return NGHTTP2_ERR_CALLBACK_FAILURE;
}

static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *fr, void *user) {
    h2_conn_t *c = user;
    if (fr->hd.type != NGHTTP2_HEADERS || fr->headers.cat != NGHTTP2_HCAT_REQUEST) {
        return 0;
    }
    h2_stream_t *st = sl_xcalloc(1, sizeof *st);
    st->c = c;
    st->id = fr->hd.stream_id;
    st->next = c->all;
    c->all = st;
    nghttp2_session_set_stream_user_data(s, st->id, st);
    return 0;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *fr, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user) {
    (void)flags;
    (void)user;
    h2_stream_t *st = nghttp2_session_get_stream_user_data(s, fr->hd.stream_id);
    if (!st || fr->hd.type != NGHTTP2_HEADERS || st->bad) {
        return 0;
    }
    st->hdr_bytes += namelen + valuelen;
    if (st->hdr_bytes > MAX_HEADER_BYTES) {
        st->bad = true; /* answered 400 once the request ends; nothing more is kept */
        return 0;
    }
    if (namelen == 7 && !memcmp(name, ":method", 7)) {
        free(st->method);
        st->method = sl_xstrndup((const char *)value, valuelen);
    } else if (namelen == 5 && !memcmp(name, ":path", 5)) {
        free(st->path);
        st->path = sl_xstrndup((const char *)value, valuelen);
    } else if (namelen && name[0] == ':') {
        /* :scheme, :authority: not used by the routes */
    } else if (st->nhdr < MAX_HEADERS) {
        st->hdr[st->nhdr].name = sl_xstrndup((const char *)name, namelen);
        st->hdr[st->nhdr].value = sl_xstrndup((const char *)value, valuelen);
        st->nhdr++;
    } else {
        st->bad = true;
    }
    return 0;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
                   void *user) {
    (void)flags;
    h2_conn_t *c = user;
    h2_stream_t *st = nghttp2_session_get_stream_user_data(s, id);
    if (!st || st->too_large) {
        return 0;
    }
    if (len > c->limit - st->body.len) {
        st->too_large = true; /* answered 413 at the end; the rest is dropped */
        sl_buf_fini(&st->body);
        return 0;
    }
    sl_buf_append(&st->body, data, len);
    return 0;
}

static int on_frame(nghttp2_session *s, const nghttp2_frame *fr, void *user) {
    h2_conn_t *c = user;
    if ((fr->hd.type == NGHTTP2_HEADERS || fr->hd.type == NGHTTP2_DATA) &&
        (fr->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
        h2_stream_t *st = nghttp2_session_get_stream_user_data(s, fr->hd.stream_id);
        if (st) {
            start_worker(c, st);
        }
    }
    return 0;
}

static int on_close(nghttp2_session *s, int32_t id, uint32_t code, void *user) {
    (void)code;
    h2_conn_t *c = user;
    h2_stream_t *st = nghttp2_session_get_stream_user_data(s, id);
    if (!st) {
        return 0;
    }
    nghttp2_session_set_stream_user_data(s, id, NULL);
    stream_unlink(c, st);
    pthread_mutex_lock(&c->mu);
    bool busy = st->running;
    st->closed = true;
    pthread_mutex_unlock(&c->mu);
    if (!busy) {
        stream_free(st);
    }
    return 0;
}

void sl_gw_h2_serve(sl_gw_t *gw, int fd, SSL *ssl, const char *peer_cn) {
    h2_conn_t c = {.gw = gw, .fd = fd, .ssl = ssl, .peer_cn = peer_cn};
    if (pipe2(c.wake, O_NONBLOCK | O_CLOEXEC)) {
        return;
    }
    pthread_mutex_init(&c.mu, NULL);
    pthread_mutex_init(&c.smu, NULL);
    pthread_cond_init(&c.cv, NULL);
    pthread_cond_init(&c.work_cv, NULL);
    pthread_mutex_lock(&gw->pol_mu); /* the limit at the start; reloads apply to new connections */
    c.limit = (size_t)gw->policy->s.max_request_bytes;
    pthread_mutex_unlock(&gw->pol_mu);

    nghttp2_session_callbacks *cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_send_callback(cb, on_send);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
    int rv = nghttp2_session_server_new(&c.s, cb, &c);
    nghttp2_session_callbacks_del(cb);
    if (rv) {
        goto out;
    }
    nghttp2_settings_entry set[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, MAX_STREAMS}};
    nghttp2_submit_settings(c.s, NGHTTP2_FLAG_NONE, set, 1);
    uint64_t last = sl_mono_ms();
    uint8_t buf[16384];
    bool done = false;
    while (!done && sl_gw_running(gw)) {
        char drain[64];
        while (read(c.wake[0], drain, sizeof drain) > 0) {
        }
        short rwant = POLLIN;
        pthread_mutex_lock(&c.smu);
        for (;;) {
            ssize_t n = sl_gw_io_read(fd, ssl, buf, sizeof buf, &rwant);
            if (n == 0) {
                break;
            }
            if (n < 0 || nghttp2_session_mem_recv(c.s, buf, (size_t)n) < 0) {
                done = true;
                break;
            }
            last = sl_mono_ms();
        }
        c.send_want = 0;
        done = done || nghttp2_session_send(c.s) != 0;
        short swant = c.send_want;
        pthread_mutex_lock(&c.mu);
        int busy = c.workers;
        pthread_mutex_unlock(&c.mu);
        if (!nghttp2_session_want_read(c.s) && !nghttp2_session_want_write(c.s) && !busy) {
            done = true;
        }
        if (!done && !busy && !c.all && sl_mono_ms() - last > IDLE_MS) {
            nghttp2_session_terminate_session(c.s, NGHTTP2_NO_ERROR);
            (void)nghttp2_session_send(c.s);
            done = true;
        }
        pthread_mutex_unlock(&c.smu);
        if (done) {
            break;
        }
        struct pollfd pf[2] = {{.fd = fd, .events = (short)(rwant | swant)},
                               {.fd = c.wake[0], .events = POLLIN}};
        if (poll(pf, 2, POLL_MS) < 0 && errno != EINTR) {
            break;
        }
    }
out:
    /* Workers still out finish (each is bounded) and free their own streams. */
    pthread_mutex_lock(&c.smu);
    pthread_mutex_lock(&c.mu);
    for (h2_stream_t **pp = &c.all; *pp;) {
        h2_stream_t *st = *pp;
        if (st->running) {
            st->closed = true;
            *pp = st->next;
        } else {
            pp = &st->next;
        }
    }
    pthread_mutex_unlock(&c.smu);
    c.ending = true;
    pthread_cond_broadcast(&c.work_cv);
    while (c.workers > 0) {
        pthread_cond_wait(&c.cv, &c.mu);
    }
    pthread_mutex_unlock(&c.mu);
    nghttp2_session_del(c.s);
    for (h2_stream_t *st = c.all, *next; st; st = next) {
        next = st->next;
        stream_free(st);
    }
    close(c.wake[0]);
    close(c.wake[1]);
    pthread_cond_destroy(&c.cv);
    pthread_cond_destroy(&c.work_cv);
    pthread_mutex_destroy(&c.mu);
    pthread_mutex_destroy(&c.smu);
}

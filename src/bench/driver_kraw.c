/* driver_kraw.c -- `sluice bench --connections N`: N producer connections from one process.
 *
 * Setup (once, before the pacer starts): create the topic (kafka driver), raise RLIMIT_NOFILE,
 * then connect N non-blocking sockets with at most `window` connects outstanding at a time, so the
 * broker's listen backlog is never overrun. Against a loopback broker, connection i is bound to
 * source address 127.0.0.(2 + i / per_source) before connect(); per_source is 20,000 or 40% of
 * the ephemeral port range (ip_local_port_range), whichever is smaller: 11,292 with Linux's
 * default 32768-60999, so 50,000 connections use 127.0.0.2 to 127.0.0.6. IP_BIND_ADDRESS_NO_PORT
 * leaves the port to connect(), which only needs the 4-tuple to be unique. Connections are split
 * into one slice per producer thread; each slice has its own epoll set and is only touched by its
 * producer thread.
 *
 * Sending: the pacer in run.c stays the source of timing. send() picks the slice's next live
 * connection (round-robin), appends the record to that connection's open request (its partition
 * rotates per request) and, while fewer than MAX_INFLIGHT requests are unanswered, finishes the
 * request and writes it at once; otherwise records accumulate into the next request until a
 * response frees a slot (or the request reaches MAX_REQ_BYTES). Responses arrive in request order
 * and are matched to the oldest unanswered correlation id.
 *
 * Accounting: a record is acknowledged by a response with error code 0 (acks=0: once its request
 * is fully written). A record answered with an error, or queued or in flight on a connection that
 * closes (or still unanswered when the producer closes after DRAIN_MS), is counted as failed;
 * nothing is dropped silently. */
#include "driver_kraw.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench/kreq.h"
#include "common/clock.h"
#include "common/os.h"
#include "common/util.h"
#include "net/fdlimit.h"
#include "net/listener.h"

#define PER_SOURCE      20000         /* at most this many connections per source address */
#define MAX_WINDOW      2000          /* connects outstanding at once */
#define CONNECT_TIMEOUT 10000         /* ms for one connect() to complete */
#define MAX_INFLIGHT    5             /* unanswered requests before records are batched */
#define RING            16            /* hard bound on unanswered requests per connection */
#define MAX_REQ_BYTES   (512 * 1024)  /* under the broker's message.max.bytes (1 MiB) */
#define MAX_RESP_BYTES  (1024 * 1024) /* a Produce response for one partition is ~50 bytes */
#define DRAIN_MS        10000         /* close_producer waits this long for answers */
#define TIMEOUT_MS      30000         /* Produce timeout_ms (acks=all) */
#define FD_RESERVE      64            /* descriptors besides connections and consumers */
#define FD_PER_CONSUMER 16            /* a librdkafka consumer: sockets, wake-up fds */
#define CLIENT_ID       "sluice-bench"
#define N_EVENTS        256

typedef enum kstate { K_IDLE, K_CONNECTING, K_UP, K_DEAD } kstate_t;

typedef struct kconn {
    int fd;
    uint8_t state;      /* kstate_t */
    bool want_out;      /* EPOLLOUT is armed */
    uint8_t n_ring;     /* unanswered requests */
    uint8_t ring_at;    /* oldest of them in ring[] */
    int32_t next_corr;  /* correlation id of the next request; the oldest is next_corr - n_ring */
    int32_t ring[RING]; /* records per unanswered request, oldest at ring_at */
    uint32_t next_part;
    int64_t unwritten; /* acks=0: records in `out` not yet written */
    sl_kreq_t req;     /* the open request: records not yet sent */
    sl_buf_t out;      /* finished requests not yet written; freed when drained */
    size_t out_off;
    sl_buf_t in; /* a partial response; freed when empty */
    struct slice *slice;
} kconn_t;

typedef struct slice {
    int epfd;
    kconn_t *conns;
    int n;
    int next;            /* round-robin cursor */
    int64_t acked;       /* since the last flush() */
    int64_t outstanding; /* records sent and neither acknowledged nor failed */
    uint8_t scratch[65536];
    struct epoll_event ev[N_EVENTS];
} slice_t;

static struct pool {
    slice_t *slices;
    int n_slices;
    kconn_t *conns;
    int n;
    atomic_int open_slices;
    char topic[SL_CONF_STR_MAX];
    int16_t acks;
    int32_t partitions;
} * pool;

static struct {
    atomic_llong wanted, up, connect_failed, connect_ns, closed, acked, failed;
    atomic_int first_error, n_sources, reported;
} stats;

sl_kraw_stats_t sl_kraw_stats(void) {
    sl_kraw_stats_t s = {
        atomic_load(&stats.wanted),         atomic_load(&stats.up),
        atomic_load(&stats.connect_failed), (double)atomic_load(&stats.connect_ns) / 1e9,
        atomic_load(&stats.closed),         atomic_load(&stats.acked),
        atomic_load(&stats.failed),         atomic_load(&stats.first_error),
        atomic_load(&stats.n_sources),
    };
    return s;
}

void sl_kraw_report(FILE *f, bool json) {
    sl_kraw_stats_t s = sl_kraw_stats();
    if (json) {
        fprintf(f,
                ",\"connections\":{\"wanted\":%lld,\"up\":%lld,\"connect_failed\":%lld,"
                "\"connect_s\":%.3f,\"source_addresses\":%d,\"closed\":%lld,"
                "\"records_acked\":%lld,\"records_failed\":%lld,\"first_error\":%d}",
                (long long)s.wanted, (long long)s.up, (long long)s.connect_failed, s.connect_s,
                s.n_sources, (long long)s.closed, (long long)s.acked, (long long)s.failed,
                s.first_error);
        return;
    }
    fprintf(f,
            "connections %lld up %lld failed %lld connect %.3f s over %d source addresses; "
            "closed during the run %lld; records acked %lld failed %lld",
            (long long)s.wanted, (long long)s.up, (long long)s.connect_failed, s.connect_s,
            s.n_sources, (long long)s.closed, (long long)s.acked, (long long)s.failed);
    if (s.first_error) {
        fprintf(f, " (first error %d %s)", s.first_error, sl_err_str(s.first_error));
    }
    fprintf(f, "\n");
}

/* ---- one connection ---- */

static void add_failed(slice_t *s, int64_t n) {
    if (n > 0) {
        atomic_fetch_add(&stats.failed, n);
        s->outstanding -= n;
    }
}

static void add_acked(slice_t *s, int64_t n) {
    atomic_fetch_add(&stats.acked, n);
    s->acked += n;
    s->outstanding -= n;
}

/* Closes `k`; every record it still holds is counted as failed. `why` NULL: an orderly close
 * with nothing outstanding. */
static void kill_conn(kconn_t *k, const char *why) {
    if (k->state == K_DEAD) {
        return;
    }
    slice_t *s = k->slice;
    int64_t lost = k->req.n + k->unwritten;
    for (int i = 0; i < k->n_ring; i++) {
        lost += k->ring[(k->ring_at + i) % RING];
    }
    add_failed(s, lost);
    if (why) {
        atomic_fetch_add(&stats.closed, 1);
        if (atomic_fetch_add(&stats.reported, 1) < 5) {
            fprintf(stderr, "sluice: bench: connection %d closed: %s (%lld records failed)\n",
                    (int)(k - pool->conns), why, (long long)lost);
        }
    }
    if (k->fd >= 0) {
        close(k->fd); /* also leaves the epoll set */
        k->fd = -1;
    }
    sl_buf_fini(&k->req.buf);
    sl_buf_fini(&k->out);
    sl_buf_fini(&k->in);
    k->req.n = 0;
    k->n_ring = 0;
    k->unwritten = 0;
    k->state = K_DEAD;
}

static void arm(kconn_t *k, bool want_out) {
    if (k->want_out == want_out || k->state != K_UP) {
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.ptr = k};
    if (epoll_ctl(k->slice->epfd, EPOLL_CTL_MOD, k->fd, &ev) < 0) {
        kill_conn(k, strerror(errno));
        return;
    }
    k->want_out = want_out;
}

static void write_out(kconn_t *k) {
    while (k->state == K_UP && k->out_off < k->out.len) {
        ssize_t w = send(k->fd, k->out.data + k->out_off, k->out.len - k->out_off, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                arm(k, true);
                return;
            }
            kill_conn(k, strerror(errno));
            return;
        }
        k->out_off += (size_t)w;
    }
    if (k->state != K_UP) {
        return;
    }
    sl_buf_fini(&k->out);
    k->out_off = 0;
    if (k->unwritten) {
        add_acked(k->slice, k->unwritten);
        k->unwritten = 0;
    }
    arm(k, false);
}

/* Finishes the open request and queues it behind any unwritten ones (callers keep
 * n_ring < RING). */
static void issue(kconn_t *k) {
    int32_t n = k->req.n;
    sl_kreq_finish(&k->req, k->next_corr++);
    if (pool->acks == 0) {
        k->unwritten += n;
    } else {
        SL_ASSERT(k->n_ring < RING);
        k->ring[(k->ring_at + k->n_ring) % RING] = n;
        k->n_ring++;
    }
    if (k->out_off == k->out.len) {
        sl_buf_t done = k->out;
        k->out = k->req.buf;
        k->req.buf = done;
        sl_buf_fini(&k->req.buf);
        k->out_off = 0;
    } else {
        sl_buf_append(&k->out, k->req.buf.data, k->req.buf.len);
        sl_buf_fini(&k->req.buf);
    }
    k->req.n = 0;
    write_out(k);
}

static void open_request(kconn_t *k, size_t klen, size_t vlen) {
    sl_buf_reserve(&k->req.buf, 160 + strlen(pool->topic) + klen + vlen);
    int32_t part = (int32_t)(k->next_part++ % (uint32_t)pool->partitions);
    sl_kreq_begin(&k->req, CLIENT_ID, pool->acks, TIMEOUT_MS, pool->topic, part);
}

/* One response frame: matched to the oldest unanswered request. */
static void on_response(kconn_t *k, const uint8_t *p, size_t len) {
    int32_t corr;
    int16_t ec;
    if (k->n_ring == 0) {
        kill_conn(k, "response to no request");
        return;
    }
    int32_t want = k->next_corr - (int32_t)k->n_ring;
    if (sl_kresp_decode(p, len, &corr, &ec) != SL_OK || corr != want) {
        kill_conn(k, corr != want ? "response out of order" : "malformed response");
        return;
    }
    int32_t n = k->ring[k->ring_at];
    k->ring_at = (uint8_t)((k->ring_at + 1) % RING);
    k->n_ring--;
    if (ec == 0) {
        add_acked(k->slice, n);
    } else {
        int expected = 0;
        atomic_compare_exchange_strong(&stats.first_error, &expected, ec);
        add_failed(k->slice, n);
    }
}

static void read_in(kconn_t *k) {
    slice_t *s = k->slice;
    for (;;) {
        ssize_t r = recv(k->fd, s->scratch, sizeof s->scratch, 0);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                kill_conn(k, strerror(errno));
            }
            break;
        }
        if (r == 0) {
            kill_conn(k, "closed by the broker");
            return;
        }
        sl_buf_append(&k->in, s->scratch, (size_t)r);
        size_t pos = 0;
        while (k->state == K_UP && k->in.len - pos >= 4) {
            uint32_t size = sl_load_be32(k->in.data + pos);
            if (size < 4 || size > MAX_RESP_BYTES) {
                kill_conn(k, "bad response size");
                return;
            }
            if (k->in.len - pos - 4 < size) {
                break;
            }
            on_response(k, k->in.data + pos + 4, size);
            pos += 4 + size;
        }
        if (k->state != K_UP) {
            return;
        }
        sl_buf_consume(&k->in, pos);
        if ((size_t)r < sizeof s->scratch) {
            break;
        }
    }
    if (k->state != K_UP) {
        return;
    }
    if (k->in.len == 0) {
        sl_buf_fini(&k->in);
    }
    if (k->req.n > 0 && k->n_ring < MAX_INFLIGHT) {
        issue(k);
    }
}

/* ---- the pool: setup, connect in waves ---- */

static int read_port_range(void) {
    int lo = 0, hi = 0;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f) {
        if (fscanf(f, "%d %d", &lo, &hi) != 2) {
            lo = hi = 0;
        }
        fclose(f);
    }
    return hi > lo ? hi - lo + 1 : 0;
}

static int read_somaxconn(void) {
    long v = sl_os_read_long("/proc/sys/net/core/somaxconn", 0);
    return v > 0 && v < INT32_MAX ? (int)v : 128;
}

/* Starts connect() on `k`; returns 0, or an errno (the connection is then dead). */
static int start_connect(kconn_t *k, const struct sockaddr_in *dst, uint32_t src, int setup_ep) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return errno;
    }
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (src) {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(src)};
        (void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
            int e = errno;
            close(fd);
            return e;
        }
    }
    if (connect(fd, (const struct sockaddr *)dst, sizeof *dst) < 0 && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        return e;
    }
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = k};
    if (epoll_ctl(setup_ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        int e = errno;
        close(fd);
        return e;
    }
    k->fd = fd;
    k->state = K_CONNECTING;
    return 0;
}

static void connect_failed(kconn_t *k, int e, char *first, size_t first_len) {
    if (k->fd >= 0) {
        close(k->fd);
        k->fd = -1;
    }
    k->state = K_DEAD;
    atomic_fetch_add(&stats.connect_failed, 1);
    if (!first[0]) {
        snprintf(first, first_len, "connection %d: %s", (int)(k - pool->conns),
                 e ? strerror(e) : "connect timed out");
    }
}

/* Connected (or not): moves `k` from the setup epoll set to its slice's. */
static void connect_done(kconn_t *k, int setup_ep, char *first, size_t first_len) {
    int e = 0;
    socklen_t el = sizeof e;
    if (getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0) {
        e = errno;
    }
    (void)epoll_ctl(setup_ep, EPOLL_CTL_DEL, k->fd, NULL);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = k};
    if (!e && epoll_ctl(k->slice->epfd, EPOLL_CTL_ADD, k->fd, &ev) < 0) {
        e = errno;
    }
    if (e) {
        connect_failed(k, e, first, first_len);
        return;
    }
    k->state = K_UP;
    atomic_fetch_add(&stats.up, 1);
}

static void connect_all(const struct sockaddr_in *dst, bool spread, char *first, size_t first_len) {
    int setup_ep = epoll_create1(EPOLL_CLOEXEC);
    if (setup_ep < 0) {
        snprintf(first, first_len, "epoll_create: %s", strerror(errno));
        return;
    }
    int window = SL_MIN(MAX_WINDOW, SL_MAX(16, read_somaxconn() / 2));
    int per_source = PER_SOURCE;
    int range = read_port_range();
    if (range > 0) {
        /* connect() takes even ports first and scans all of them before trying an odd one: past
         * half the range every connect walks thousands of ports (19,000 connections from one
         * address took 5 s instead of 0.4 s). Stay at 80% of the even ports. */
        per_source = SL_MIN(per_source, SL_MAX(1, range * 2 / 5));
    }
    int64_t *started = sl_xcalloc((size_t)pool->n, sizeof *started);
    int next = 0, oldest = 0, connecting = 0;
    uint64_t t0 = sl_mono_ns();
    struct epoll_event ev[N_EVENTS];
    if (spread) {
        atomic_store(&stats.n_sources, (pool->n + per_source - 1) / per_source);
    }
    while (next < pool->n || connecting > 0) {
        while (connecting < window && next < pool->n) {
            kconn_t *k = &pool->conns[next];
            uint32_t src = spread ? (127u << 24) + 2u + (uint32_t)(next / per_source) : 0;
            int e = start_connect(k, dst, src, setup_ep);
            if (e) {
                connect_failed(k, e, first, first_len);
            } else {
                started[next] = (int64_t)sl_mono_ms();
                connecting++;
            }
            next++;
        }
        int n = epoll_wait(setup_ep, ev, N_EVENTS, 50);
        for (int i = 0; i < n; i++) {
            connect_done(ev[i].data.ptr, setup_ep, first, first_len);
            connecting--;
        }
        int64_t now = (int64_t)sl_mono_ms();
        for (; oldest < next; oldest++) {
            kconn_t *k = &pool->conns[oldest];
            if (k->state == K_CONNECTING) {
                if (now - started[oldest] < CONNECT_TIMEOUT) {
                    break;
                }
                connect_failed(k, 0, first, first_len);
                connecting--;
            }
        }
    }
    atomic_store(&stats.connect_ns, (long long)(sl_mono_ns() - t0));
    free(started);
    close(setup_ep);
}

static sl_err_t resolve(const char *brokers, struct sockaddr_in *dst, char *err) {
    char first[SL_CONF_STR_MAX], host[256];
    int port;
    snprintf(first, sizeof first, "%s", brokers);
    first[strcspn(first, ",")] = '\0';
    if (sl_parse_hostport(first, host, sizeof host, &port) != SL_OK) {
        snprintf(err, SL_ERRLEN, "--connections: broker must be HOST:PORT, got '%s'", first);
        return SL_ERR_INVAL;
    }
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0) {
        snprintf(err, SL_ERRLEN, "--connections: resolve %s: %s", host, gai_strerror(rc));
        return SL_ERR_INVAL;
    }
    *dst = *(struct sockaddr_in *)res->ai_addr;
    dst->sin_port = htons((uint16_t)port);
    freeaddrinfo(res);
    return SL_OK;
}

static sl_err_t kr_setup(const sl_bench_conf_t *c, char *err) {
    int n = (int)c->connections, np = (int)c->producers;
    if (n < np) {
        snprintf(err, SL_ERRLEN, "--connections %d is fewer than --producers %d", n, np);
        return SL_ERR_INVAL;
    }
    int16_t acks = !strcmp(c->acks, "all") || !strcmp(c->acks, "-1") ? -1
                   : !strcmp(c->acks, "0")                           ? 0
                   : !strcmp(c->acks, "1")                           ? 1
                                                                     : 2;
    if (acks == 2) {
        snprintf(err, SL_ERRLEN, "acks must be 0, 1 or all, got '%s'", c->acks);
        return SL_ERR_INVAL;
    }
    struct sockaddr_in dst;
    if (resolve(c->brokers, &dst, err) != SL_OK) {
        return SL_ERR_INVAL;
    }
    long hard = 0, want = (long)n + FD_RESERVE + FD_PER_CONSUMER * (long)c->consumers;
    long have = sl_fdlimit_raise(want, &hard);
    if (have < want) {
        snprintf(err, SL_ERRLEN,
                 "--connections %d needs about %ld open files, but RLIMIT_NOFILE is %ld "
                 "(hard limit %ld): raise the hard limit (ulimit -Hn, prlimit --nofile, "
                 "LimitNOFILE=) or use fewer connections",
                 n, want, have, hard);
        return SL_ERR_LIMIT;
    }
    sl_err_t rc = sl_bench_driver_kafka.setup(c, err);
    if (rc != SL_OK) {
        return rc;
    }
    pool = sl_xcalloc(1, sizeof *pool);
    pool->n = n;
    pool->conns = sl_xcalloc((size_t)n, sizeof *pool->conns);
    pool->n_slices = np;
    pool->slices = sl_xcalloc((size_t)np, sizeof *pool->slices);
    atomic_store(&pool->open_slices, np);
    snprintf(pool->topic, sizeof pool->topic, "%s", c->topic);
    pool->acks = acks;
    pool->partitions = (int32_t)c->partitions;
    for (int i = 0; i < np; i++) {
        slice_t *s = &pool->slices[i];
        int lo = (int)((int64_t)n * i / np), hi = (int)((int64_t)n * (i + 1) / np);
        s->conns = pool->conns + lo;
        s->n = hi - lo;
        s->epfd = epoll_create1(EPOLL_CLOEXEC);
        for (int j = lo; j < hi; j++) {
            pool->conns[j].fd = -1;
            pool->conns[j].slice = s;
            pool->conns[j].next_part = j;
        }
    }
    atomic_store(&stats.wanted, n);
    bool loopback = (ntohl(dst.sin_addr.s_addr) >> 24) == 127;
    char first[SL_ERRLEN] = "";
    connect_all(&dst, loopback, first, sizeof first);
    sl_kraw_stats_t st = sl_kraw_stats();
    if (st.up < n) {
        fprintf(stderr, "sluice: bench: %lld of %d connections up in %.2f s; first failure: %s\n",
                (long long)st.up, n, st.connect_s, first);
    }
    for (int i = 0; i < np; i++) {
        slice_t *s = &pool->slices[i];
        int live = 0;
        for (int j = 0; j < s->n; j++) {
            live += s->conns[j].state == K_UP;
        }
        if (s->epfd < 0 || live == 0) {
            snprintf(err, SL_ERRLEN, "producer %d has no connection up (%s)", i,
                     first[0] ? first : "epoll_create failed");
            return SL_ERR_IO;
        }
    }
    return SL_OK;
}

/* ---- the driver interface, per producer thread ---- */

static void *kr_open_producer(const sl_bench_conf_t *c, int index, char *err) {
    (void)c;
    if (!pool || index >= pool->n_slices) {
        snprintf(err, SL_ERRLEN, "no connection pool for producer %d", index);
        return NULL;
    }
    return &pool->slices[index];
}

static sl_err_t kr_send(void *h, const void *key, size_t klen, const void *val, size_t vlen) {
    slice_t *s = h;
    kconn_t *k = NULL;
    for (int tries = 0; tries < s->n && !k; tries++) {
        kconn_t *cand = &s->conns[s->next];
        s->next = s->next + 1 == s->n ? 0 : s->next + 1;
        /* A full open request goes out on its own while the ring has room; past that (the
         * broker has stopped answering) the request just grows, and the broker's verdict on its
         * size is counted like any other answer. */
        if (cand->state == K_UP && cand->req.n > 0 && cand->n_ring < RING &&
            sl_kreq_size_with(&cand->req, klen, vlen) > MAX_REQ_BYTES) {
            issue(cand);
        }
        if (cand->state == K_UP) {
            k = cand;
            if (k->req.n == 0) {
                open_request(k, klen, vlen);
            }
        }
    }
    if (!k) {
        if (atomic_fetch_add(&stats.reported, 1) < 5) {
            fprintf(stderr, "sluice: bench: every connection of this producer has closed\n");
        }
        return SL_ERR_IO;
    }
    sl_kreq_add(&k->req, sl_wall_ms(), key, klen, val, vlen);
    s->outstanding++;
    if (k->n_ring < MAX_INFLIGHT) {
        issue(k);
    }
    return SL_OK;
}

static void poll_slice(slice_t *s, int timeout_ms) {
    for (int round = 0; round < 16; round++) {
        int n = epoll_wait(s->epfd, s->ev, N_EVENTS, round ? 0 : timeout_ms);
        for (int i = 0; i < n; i++) {
            kconn_t *k = s->ev[i].data.ptr;
            uint32_t e = s->ev[i].events;
            if (k->state == K_UP && (e & EPOLLOUT)) {
                write_out(k);
            }
            if (k->state == K_UP && (e & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
                read_in(k);
            }
        }
        if (n < N_EVENTS) {
            break;
        }
    }
}

static int64_t kr_flush(void *h, int timeout_ms) {
    slice_t *s = h;
    poll_slice(s, s->outstanding > 0 ? timeout_ms : 0);
    int64_t n = s->acked;
    s->acked = 0;
    return n;
}

static void kr_close_producer(void *h) {
    slice_t *s = h;
    uint64_t deadline = sl_mono_ms() + DRAIN_MS;
    while (s->outstanding > 0 && sl_mono_ms() < deadline) {
        poll_slice(s, 100);
    }
    for (int j = 0; j < s->n; j++) {
        kconn_t *k = &s->conns[j];
        bool busy = k->req.n || k->n_ring || k->unwritten;
        kill_conn(k, busy ? "unanswered when the producer closed" : NULL);
    }
    close(s->epfd);
    if (atomic_fetch_sub(&pool->open_slices, 1) == 1) {
        free(pool->slices);
        free(pool->conns);
        free(pool);
        pool = NULL;
    }
}

/* Consumers and topic creation: the kafka driver's, so loss and latency are measured as always. */
static void *kr_open_consumer(const sl_bench_conf_t *c, int index, char *err) {
    return sl_bench_driver_kafka.open_consumer(c, index, err);
}

static int kr_receive(void *h, int timeout_ms, void (*fn)(void *, const void *, size_t),
                      void *arg) {
    return sl_bench_driver_kafka.receive(h, timeout_ms, fn, arg);
}

static void kr_close_consumer(void *h) {
    sl_bench_driver_kafka.close_consumer(h);
}

const sl_bench_driver_t sl_bench_driver_kraw = {
    "kafka",           kr_setup,         kr_open_producer, kr_send,           kr_flush,
    kr_close_producer, kr_open_consumer, kr_receive,       kr_close_consumer,
};

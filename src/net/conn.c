/* conn.c -- connection state machine, framing, ordered pipelined responses, zero-copy output.
 *
 *   READING ──(queued output > high water, too many requests in flight, throttled, or the
 *              broker's queued output over half of queued.max.request.bytes, or input plus
 *              output over all of it, while this one holds output)──► PAUSED
 *   PAUSED  ──(own output below half the high water, in-flight below limit, and the broker back
 *              under three quarters of those marks if they paused it)──► READING
 *   any     ──(peer hung up, I/O error, bad frame, idle or partial-request timeout, evicted at
 *              max.connections, sl_conn_close)──► CLOSED ──(reap)──► freed
 *
 * Output memory is counted at what it costs on the heap (malloc_usable_size of the slot, its
 * chunk array and every memory chunk, plus the allocator's header), not in payload bytes: a
 * 60-byte error response costs ~450 bytes, and counting payload let 50 slow fetchers hold 1.9 GB
 * under a 16 MiB-per-connection limit. When output that was queued leaves (sent or dropped) in a
 * large amount and little is left, the heap is trimmed (malloc_trim) so RSS follows; glibc would
 * keep it otherwise (not while output stays queued: a trim of a large heap stalls the loop).
 * Fairness: each connection handles at most WORK_BUDGET_REQS requests or WORK_BUDGET_BYTES of
 * request bytes per loop iteration (always at least one request). A connection with more buffered
 * waits on `pending` for the next iteration, and reads nothing more meanwhile (its socket fills
 * and TCP pushes back on the sender), so a flooding client cannot delay the others' requests by
 * more than one share each.
 * Timeouts (one timer for all, at the earliest deadline): a connection with no bytes read or
 * written for connections.max.idle.ms is closed (lru, in activity order), and so is one that
 * started a frame and did not finish it within connections.max.partial.request.ms (partials, in
 * start order). At max.connections the listener evicts the oldest such connection to admit a new
 * one (sl_conn_evict_one), so slowloris connections cannot lock clients out.
 *
 * Framing: int32 size then the request. A size below the smallest request header (10 bytes) or
 * above socket.request.max.bytes closes the connection after one log line; nothing is allocated
 * from an unchecked size. EINTR and EAGAIN are handled here and nowhere else.
 * Output: a FIFO of response slots, each a list of chunks (memory, or a file range sent with
 * sendfile). Only a prefix of ready slots is written, so responses leave in request order.
 * Input memory: a connection holds an input buffer only while it has unprocessed bytes. A drained
 * read buffer goes back to one spare that the next read on any connection borrows (Redis's
 * reusable query buffer), so idle connections hold none: tens of thousands of mostly idle
 * producers cost no more input memory than one busy one.
 * TLS (a listener with hooks.tls): the same machine over an OpenSSL session on the non-blocking
 * socket. The handshake runs from readiness events (a WANT_WRITE watches for writability) and
 * counts as a frame in progress, so a silent or trickling handshake is closed by
 * connections.max.idle.ms or connections.max.partial.request.ms like a slowloris frame; garbage or
 * a plaintext client fails the handshake and closes at once. OpenSSL reads ahead (one read(2)
 * for many records); whatever it still holds when reading stops is drained into the input buffer
 * (tls_drain), so no request waits behind a socket epoll sees as empty. Output is
 * copied into records of at most 16 KiB: memory chunks are gathered, file ranges are pread (no
 * sendfile: without kernel TLS the kernel cannot encrypt, so a fetch over TLS costs one copy and
 * the cipher). A write that OpenSSL asked to retry is retried with the same leading bytes, as it
 * requires (SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER lets the staging buffer be refilled). */
#include "conn.h"

#include <errno.h>
#include <malloc.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/util.h"
#include "net/iplimit.h"

#define MIN_REQUEST_BYTES     10    /* api_key + api_version + correlation_id + client_id length */
#define READ_CHUNK_BYTES      65536 /* per read(2) */
#define READ_BUDGET_BYTES     (1u << 20) /* per readiness event, for fairness between sockets */
#define SMALL_REMAINDER_BYTES 1024 /* a partial request this small gets a buffer of its size */
#define WORK_BUDGET_REQS      SL_CONN_WORK_BUDGET_REQS
#define WORK_BUDGET_BYTES     SL_CONN_WORK_BUDGET_BYTES
#define MEM_PAUSE_MIN                                                                              \
    (64u << 10) /* over the broker budget, connections with this much                              \
                   queued output stop reading */
#define TRIM_MAX_BYTES                                                                             \
    (32u << 20) /* trim the heap once this much output left (or a quarter                          \
                   of the broker budget, if smaller) */
#define TRIM_EVERY_MS    1000
#define ALLOC_HEADER     sizeof(size_t) /* glibc's chunk header, beyond the usable size */
#define TLS_RECORD_BYTES 16384          /* plaintext bytes per TLS record (per SSL_write) */

typedef struct chunk {
    sl_buf_t mem; /* used when fd < 0 */
    int fd;
    off_t off;
    size_t len;  /* file bytes left to send */
    size_t sent; /* memory bytes already sent */
} chunk_t;

struct sl_resp {
    sl_resp_t *next;
    sl_conn_t *conn; /* NULL once orphaned */
    chunk_t *chunks;
    size_t n_chunks, cap_chunks;
    size_t size;     /* total bytes, prefix included */
    size_t mem_cost; /* heap bytes it holds, counted once ready */
    size_t cur;      /* chunk being sent */
    bool ready;
};

typedef enum conn_state { CONN_READING, CONN_PAUSED, CONN_CLOSED } conn_state_t;

struct clist;
typedef struct link {
    sl_conn_t *prev, *next;
    struct clist *on; /* the list it is on, NULL if none */
} link_t;

/* An intrusive doubly-linked list of connections through the link at `off`. */
typedef struct clist {
    sl_conn_t *head, *tail;
    size_t off;
    size_t n;
} clist_t;

struct sl_conn {
    link_t lru_link;     /* every open connection, least recently active first */
    link_t partial_link; /* on partials while a frame is half received */
    link_t pend_link;    /* on pending (or pending_work) while requests wait in `in` */
    link_t mem_link;     /* on mem_waiters while paused by the broker-wide budget */
    sl_conn_t *next_closed;
    sl_loop_t *loop;
    sl_ipcount_t *ip; /* max.connections.per.ip count, given back at close */
    uint64_t last_active_ms;
    uint64_t partial_since_ms;
    uint64_t budget_iter; /* loop iteration the budget below belongs to */
    size_t budget_reqs, budget_bytes;
    int fd;
    uint64_t id;
    conn_state_t state;
    sl_conn_hooks_t hooks;
    char peer[64];
    sl_buf_t in;
    sl_resp_t *head, *tail; /* response slots in request order */
    size_t n_inflight;
    size_t out_bytes; /* bytes of ready slots not yet sent */
    size_t out_mem;   /* heap bytes those slots hold */
    bool want_write;
    bool throttled; /* muted until throttle_timer fires (KIP-219) */
    uint64_t throttle_timer;
    SSL *ssl;        /* NULL on a plaintext listener */
    bool tls_ready;  /* handshake done */
    char *subject;   /* verified client certificate subject, or NULL */
    void *session;   /* the owner's (sl_conn_set_session) */
    bool lingering;  /* sl_conn_close_after_flush: no more reading, close once sent */
    bool raw_frames; /* frames need not hold a request header (sl_conn_set_raw_frames) */
    char linger_why[128];
};

static clist_t lru = {NULL, NULL, offsetof(sl_conn_t, lru_link), 0};
static clist_t partials = {NULL, NULL, offsetof(sl_conn_t, partial_link), 0};
static clist_t pending = {NULL, NULL, offsetof(sl_conn_t, pend_link), 0};
static clist_t pending_work = {NULL, NULL, offsetof(sl_conn_t, pend_link), 0};
static clist_t mem_waiters = {NULL, NULL, offsetof(sl_conn_t, mem_link), 0};
static sl_conn_t *closed_conns;
static size_t queued_bytes;
static size_t queued_mem;      /* heap bytes of queued output (out_mem summed) */
static size_t queued_mem_peak; /* highest queued_mem since the last trim */
static uint64_t last_trim_ms;
static uint64_t idle_ms, partial_ms; /* 0: no such timeout */
static sl_loop_t *sweep_loop;
static uint64_t sweep_timer; /* 0 while not armed */
static uint64_t sweep_at;    /* its deadline */
static size_t in_bytes;      /* input buffer capacity across connections (the spare not counted) */
static sl_buf_t spare_in;    /* a drained read buffer, lent to the next connection that reads */
static size_t memory_budget = SIZE_MAX;
static uint64_t next_id = 1;

static void on_io(sl_loop_t *loop, int fd, void *data, unsigned events);
static void linger_check(sl_conn_t *conn);

static link_t *lnk(const clist_t *l, sl_conn_t *c) {
    return (link_t *)(void *)((char *)c + l->off);
}

static bool cl_on(const clist_t *l, sl_conn_t *c) {
    return lnk(l, c)->on == l;
}

static void cl_push(clist_t *l, sl_conn_t *c) {
    link_t *k = lnk(l, c);
    SL_ASSERT(!k->on);
    k->on = l;
    k->next = NULL;
    k->prev = l->tail;
    if (l->tail) {
        lnk(l, l->tail)->next = c;
    } else {
        l->head = c;
    }
    l->tail = c;
    l->n++;
}

static void cl_remove(clist_t *l, sl_conn_t *c) {
    link_t *k = lnk(l, c);
    if (k->on != l) {
        return;
    }
    if (k->prev) {
        lnk(l, k->prev)->next = k->next;
    } else {
        l->head = k->next;
    }
    if (k->next) {
        lnk(l, k->next)->prev = k->prev;
    } else {
        l->tail = k->prev;
    }
    k->on = NULL;
    k->prev = k->next = NULL;
    l->n--;
}

/* Closes counted by reason, logged at most once a second per reason (an attack closes
 * thousands). */
typedef enum close_kind { CLOSE_IDLE, CLOSE_PARTIAL, CLOSE_EVICTED, N_CLOSE_KINDS } close_kind_t;

static void close_counted(sl_conn_t *conn, close_kind_t kind) {
    static const char *const label[N_CLOSE_KINDS] = {"reason=\"idle\"", "reason=\"partial\"",
                                                     "reason=\"evicted\""};
    static const char *const why[N_CLOSE_KINDS] = {
        "no traffic for connections.max.idle.ms",
        "request not completed within connections.max.partial.request.ms",
        "evicted at max.connections to admit a new connection"};
    static sl_counter_t *m[N_CLOSE_KINDS];
    static uint64_t logged_ms[N_CLOSE_KINDS], unlogged[N_CLOSE_KINDS];
    if (!m[kind]) {
        m[kind] = sl_metrics_counter("sluice_connections_closed_total", label[kind],
                                     "Connections closed by the broker for idling, an unfinished "
                                     "request, or to make room at max.connections");
    }
    sl_counter_add(m[kind], 1);
    uint64_t now = sl_mono_ms();
    if (logged_ms[kind] && now - logged_ms[kind] < 1000) {
        unlogged[kind]++;
        sl_conn_close(conn, NULL);
        return;
    }
    char text[160];
    snprintf(text, sizeof text, "%s (%llu more since the last such line)", why[kind],
             (unsigned long long)unlogged[kind]);
    logged_ms[kind] = now;
    unlogged[kind] = 0;
    sl_conn_close(conn, text);
}

static void on_sweep(sl_loop_t *loop, uint64_t id, void *data);

/* Arms the one timeout timer at the earliest deadline of the two lists' heads (each list gains
 * entries only at its tail, with later deadlines), moving it if it was armed for later. */
static void arm_sweep(sl_loop_t *loop) {
    uint64_t next = UINT64_MAX;
    if (idle_ms && lru.head) {
        next = lru.head->last_active_ms + idle_ms;
    }
    if (partial_ms && partials.head) {
        next = SL_MIN(next, partials.head->partial_since_ms + partial_ms);
    }
    if (next == UINT64_MAX || (sweep_timer && sweep_at <= next)) {
        return;
    }
    if (sweep_timer) {
        sl_loop_cancel(sweep_loop, sweep_timer);
    }
    uint64_t now = sl_mono_ms();
    sweep_loop = loop;
    sweep_at = next;
    sweep_timer = sl_loop_timer(loop, next > now ? next - now : 0, on_sweep, NULL);
}

static void on_sweep(sl_loop_t *loop, uint64_t id, void *data) {
    (void)id;
    (void)data;
    sweep_timer = 0;
    uint64_t now = sl_mono_ms();
    while (partial_ms && partials.head && partials.head->partial_since_ms + partial_ms <= now) {
        close_counted(partials.head, CLOSE_PARTIAL);
    }
    while (idle_ms && lru.head && lru.head->last_active_ms + idle_ms <= now) {
        close_counted(lru.head, CLOSE_IDLE);
    }
    arm_sweep(loop);
}

/* Bytes moved: the connection becomes the most recently active. */
static void touch(sl_conn_t *conn) {
    conn->last_active_ms = sl_loop_now_ms(conn->loop);
    if (lru.tail != conn) {
        cl_remove(&lru, conn);
        cl_push(&lru, conn);
    }
    arm_sweep(conn->loop);
}

/* Whether the first buffered frame is incomplete (its size was checked by process_frames). A TLS
 * handshake still running counts as one. */
static bool frame_partial(const sl_conn_t *conn) {
    if (conn->ssl && !conn->tls_ready) {
        return true;
    }
    if (conn->in.len == 0) {
        return false;
    }
    return conn->in.len < 4 || conn->in.len - 4 < (size_t)sl_load_be32(conn->in.data);
}

/* Keeps `partials` true after input changed; `new_frame`: a frame completed, so a partial one
 * now buffered is a new frame with its own deadline. A paused connection is not reading, so its
 * half frame is not the client's fault: the clock starts again when it resumes. */
static void track_partial(sl_conn_t *conn, bool new_frame) {
    if (conn->state != CONN_READING || !frame_partial(conn)) {
        cl_remove(&partials, conn);
        return;
    }
    if (new_frame) {
        cl_remove(&partials, conn);
    }
    if (!cl_on(&partials, conn)) {
        conn->partial_since_ms = sl_loop_now_ms(conn->loop);
        cl_push(&partials, conn);
        arm_sweep(conn->loop);
    }
}

static bool memory_over(void) {
    return in_bytes + queued_mem > memory_budget;
}

/* Queued output may take half the budget (or what input leaves of it): slow readers alone then
 * never push the broker over the budget, which would throttle every producer. */
static bool output_over(void) {
    return queued_mem > memory_budget / 2 || memory_over();
}

/* Below the low marks (three quarters of each) connections paused by them read again. */
static bool output_low(void) {
    return queued_mem <= memory_budget / 8 * 3 && in_bytes + queued_mem <= memory_budget / 4 * 3;
}

/* A new iteration gives the connection a fresh share of work: the iteration's total split among
 * the connections that had work left over from the last one (plus one for a newcomer), between a
 * floor and the per-connection cap. Fifty clients pipelining without end thus cost an iteration
 * about SL_CONN_WORK_TOTAL_REQS requests, not fifty full shares, and a new request waits for at
 * most that. */
static size_t busy_conns; /* connections with requests left over at the last iteration's end */

static void budget_refresh(sl_conn_t *conn) {
    uint64_t it = sl_loop_iteration(conn->loop);
    if (conn->budget_iter != it) {
        size_t share = SL_CONN_WORK_TOTAL_REQS / (busy_conns + 1);
        size_t bytes = SL_CONN_WORK_TOTAL_BYTES / (busy_conns + 1);
        conn->budget_iter = it;
        conn->budget_reqs = SL_MAX(SL_MIN(share, WORK_BUDGET_REQS), SL_CONN_WORK_MIN_REQS);
        conn->budget_bytes = SL_MAX(SL_MIN(bytes, WORK_BUDGET_BYTES), SL_CONN_WORK_MIN_BYTES);
    }
}

static bool budget_spent(sl_conn_t *conn) {
    budget_refresh(conn);
    return conn->budget_reqs == 0 || conn->budget_bytes == 0;
}

/* Takes one request of `len` bytes from this iteration's share; false when it is used up. */
static bool budget_take(sl_conn_t *conn, size_t len) {
    if (budget_spent(conn)) {
        return false;
    }
    conn->budget_reqs--;
    conn->budget_bytes -= SL_MIN(conn->budget_bytes, len);
    return true;
}

/* Requests are waiting in the input buffer: handle them from the before-sleep phase (or the next
 * read event), never from inside the caller, which may itself be a request handler. */
static void pend(sl_conn_t *conn) {
    if (!cl_on(&pending, conn) && !cl_on(&pending_work, conn)) {
        cl_push(&pending, conn);
    }
}

static void update_watch(sl_conn_t *conn) {
    if (conn->state == CONN_CLOSED) {
        return;
    }
    unsigned ev = (conn->state == CONN_READING && !conn->lingering ? SL_EV_READ : 0) |
                  (conn->want_write ? SL_EV_WRITE : 0);
    if (sl_loop_modify(conn->loop, conn->fd, ev) != SL_OK) {
        sl_conn_close(conn, "epoll_ctl failed");
    }
}

static void check_pressure(sl_conn_t *conn) {
    if (conn->state == CONN_CLOSED) {
        return;
    }
    size_t high = conn->hooks.out_high_bytes;
    bool own_over = conn->out_bytes > high || conn->out_mem > high ||
                    conn->n_inflight >= conn->hooks.max_inflight || conn->throttled;
    bool own_under = conn->out_bytes <= high / 2 && conn->out_mem <= high / 2 &&
                     conn->n_inflight < conn->hooks.max_inflight && !conn->throttled;
    bool hog = conn->out_mem >= MEM_PAUSE_MIN;
    if (conn->state == CONN_READING && (own_over || (hog && output_over()))) {
        conn->state = CONN_PAUSED;
        if (!own_over) {
            cl_push(&mem_waiters, conn);
        }
        update_watch(conn);
        track_partial(conn, false);
    } else if (conn->state == CONN_PAUSED && own_under &&
               (!cl_on(&mem_waiters, conn) || !hog || output_low())) {
        cl_remove(&mem_waiters, conn);
        conn->state = CONN_READING;
        update_watch(conn);
        if (conn->in.len >= 4) {
            pend(conn);
        }
        track_partial(conn, false);
    }
}

sl_conn_t *sl_conn_new(sl_loop_t *loop, int fd, const sl_conn_hooks_t *hooks, const char *peer) {
    sl_conn_t *conn = sl_xcalloc(1, sizeof *conn);
    conn->loop = loop;
    conn->fd = fd;
    conn->id = next_id++;
    conn->hooks = *hooks;
    snprintf(conn->peer, sizeof conn->peer, "%s", peer ? peer : "?");
    if (hooks->tls) {
        conn->ssl = SSL_new(hooks->tls);
        if (!conn->ssl || SSL_set_fd(conn->ssl, fd) != 1) {
            sl_log(SL_LOG_WARN, "net", "peer=%s msg=\"cannot start a TLS session\"", conn->peer);
            SSL_free(conn->ssl);
            close(fd);
            free(conn);
            return NULL;
        }
        SSL_set_accept_state(conn->ssl);
    }
    if (sl_loop_watch(loop, fd, SL_EV_READ, on_io, conn) != SL_OK) {
        SSL_free(conn->ssl);
        close(fd);
        free(conn);
        return NULL;
    }
    conn->last_active_ms = sl_loop_now_ms(loop);
    cl_push(&lru, conn);
    arm_sweep(loop);
    track_partial(conn, false); /* a TLS handshake has its partial-request deadline */
    return conn;
}

static void chunk_fini(chunk_t *ch) {
    if (ch->fd >= 0) {
        close(ch->fd);
    }
    sl_buf_fini(&ch->mem);
}

static void resp_free(sl_resp_t *resp) {
    for (size_t i = 0; i < resp->n_chunks; i++) {
        chunk_fini(&resp->chunks[i]);
    }
    free(resp->chunks);
    free(resp);
}

void sl_conn_close(sl_conn_t *conn, const char *why) {
    if (conn->state == CONN_CLOSED) {
        return;
    }
    cl_remove(&pending, conn);
    cl_remove(&pending_work, conn);
    cl_remove(&partials, conn);
    cl_remove(&mem_waiters, conn);
    cl_remove(&lru, conn);
    sl_ip_release(conn->ip);
    conn->ip = NULL;
    if (why) {
        sl_log(SL_LOG_INFO, "net", "conn=%llu peer=%s closed reason=\"%s\"",
               (unsigned long long)conn->id, conn->peer, why);
    }
    conn->state = CONN_CLOSED;
    sl_loop_unwatch(conn->loop, conn->fd);
    if (conn->throttled) {
        sl_loop_cancel(conn->loop, conn->throttle_timer);
        conn->throttled = false;
    }
    in_bytes -= conn->in.cap;
    if (conn->hooks.on_close) {
        conn->hooks.on_close(conn, conn->hooks.opaque);
    }
    /* Ready slots die with the connection; unready ones belong to whoever will finish them. */
    sl_resp_t *r = conn->head;
    while (r) {
        sl_resp_t *next = r->next;
        if (r->ready) {
            queued_mem -= r->mem_cost;
            resp_free(r);
        } else {
            r->conn = NULL;
            r->next = NULL;
        }
        r = next;
    }
    queued_bytes -= conn->out_bytes;
    conn->out_bytes = 0;
    conn->out_mem = 0;
    conn->head = conn->tail = NULL;
    conn->next_closed = closed_conns;
    closed_conns = conn;
}

static void process_frames(sl_conn_t *conn);

/* Gives the heap back to the kernel after a large amount of queued output has left. */
/* Gives the heap back once queued output has mostly left (fallen by `min` from its peak to a
 * quarter of `min`): trimming costs tens of milliseconds over a large fragmented heap, so it is
 * not done while slow readers keep output queued, only once they are gone. */
static void maybe_trim(void) {
    size_t min = SL_MAX(SL_MIN((size_t)TRIM_MAX_BYTES, memory_budget / 4), (size_t)1 << 20);
    if (queued_mem_peak < queued_mem + min || queued_mem > min / 4) {
        return;
    }
    uint64_t now = sl_mono_ms();
    if (last_trim_ms && now - last_trim_ms < TRIM_EVERY_MS) {
        return;
    }
    last_trim_ms = now;
    queued_mem_peak = queued_mem;
    (void)malloc_trim(0);
}

void sl_conn_reap(void) {
    /* Requests left buffered (unpaused, or over the share of an earlier iteration): one share
     * each. Those still over go back on `pending` for the next iteration, which must not wait. */
    busy_conns = pending.n;
    while (pending.head) {
        sl_conn_t *conn = pending.head;
        cl_remove(&pending, conn);
        cl_push(&pending_work, conn);
    }
    while (pending_work.head) {
        sl_conn_t *conn = pending_work.head;
        cl_remove(&pending_work, conn);
        if (conn->state == CONN_READING) {
            process_frames(conn);
        }
    }
    if (pending.head) {
        sl_loop_no_wait(pending.head->loop);
    }
    /* Connections paused by the broker-wide budget read again once it is back under its low
     * mark (their own limits still apply). */
    if (mem_waiters.head && output_low()) {
        while (mem_waiters.head) {
            sl_conn_t *conn = mem_waiters.head;
            cl_remove(&mem_waiters, conn);
            check_pressure(conn);
        }
    }
    maybe_trim();
    while (closed_conns) {
        sl_conn_t *conn = closed_conns;
        closed_conns = conn->next_closed;
        SSL_free(conn->ssl);
        free(conn->subject);
        close(conn->fd);
        sl_buf_fini(&conn->in); /* already subtracted from in_bytes at close */
        free(conn);
    }
}

void sl_conn_close_all(void) {
    while (lru.head) {
        sl_conn_close(lru.head, NULL);
    }
    sl_conn_reap();
    sl_buf_fini(&spare_in);
    if (sweep_timer) {
        sl_loop_cancel(sweep_loop, sweep_timer);
        sweep_timer = 0;
    }
}

void sl_conn_set_timeouts(uint64_t idle, uint64_t partial) {
    idle_ms = idle;
    partial_ms = partial;
}

void sl_conn_set_ipcount(sl_conn_t *conn, sl_ipcount_t *owned) {
    sl_ip_release(conn->ip);
    conn->ip = owned;
}

bool sl_conn_evict_one(uint64_t min_age_ms) {
    uint64_t now = sl_mono_ms();
    sl_conn_t *c = partials.head;
    if (c && now - c->partial_since_ms >= min_age_ms) {
        close_counted(c, CLOSE_EVICTED);
        return true;
    }
    c = lru.head;
    if (c && now - c->last_active_ms >= min_age_ms && c->n_inflight == 0 && !c->head &&
        c->in.len == 0) {
        close_counted(c, CLOSE_EVICTED);
        return true;
    }
    return false;
}

void sl_conn_close_after_flush(sl_conn_t *conn, const char *why) {
    if (conn->state == CONN_CLOSED || conn->lingering) {
        return;
    }
    conn->lingering = true;
    snprintf(conn->linger_why, sizeof conn->linger_why, "%s", why ? why : "");
    cl_remove(&pending, conn);
    cl_remove(&pending_work, conn);
    cl_remove(&partials, conn);
    update_watch(conn);
    linger_check(conn);
}

void sl_conn_set_raw_frames(sl_conn_t *conn, bool raw) {
    conn->raw_frames = raw;
}

const void *sl_conn_listener(const sl_conn_t *conn) {
    return conn->hooks.listener;
}

void *sl_conn_session(const sl_conn_t *conn) {
    return conn->session;
}

void sl_conn_set_session(sl_conn_t *conn, void *session) {
    conn->session = session;
}

bool sl_conn_tls(const sl_conn_t *conn) {
    return conn->ssl != NULL;
}

const char *sl_conn_tls_subject(const sl_conn_t *conn) {
    return conn->subject ? conn->subject : "";
}

uint64_t sl_conn_id(const sl_conn_t *conn) {
    return conn->id;
}

const char *sl_conn_peer(const sl_conn_t *conn) {
    return conn->peer;
}

bool sl_conn_closed(const sl_conn_t *conn) {
    return conn->state == CONN_CLOSED;
}

size_t sl_conn_count(void) {
    return lru.n;
}

size_t sl_conn_partial_count(void) {
    return partials.n;
}

size_t sl_conn_queued_memory(void) {
    return queued_mem;
}

size_t sl_conn_queued_bytes(void) {
    return queued_bytes;
}

size_t sl_conn_input_bytes(void) {
    return in_bytes;
}

void sl_conn_set_memory_budget(size_t bytes) {
    memory_budget = bytes;
}

bool sl_conn_memory_pressure(void) {
    return memory_over();
}

static void on_unthrottle(sl_loop_t *loop, uint64_t id, void *data) {
    (void)loop;
    (void)id;
    sl_conn_t *conn = data;
    conn->throttled = false;
    check_pressure(conn);
}

void sl_conn_throttle(sl_conn_t *conn, uint32_t ms) {
    if (conn->state == CONN_CLOSED || conn->throttled) {
        return;
    }
    conn->throttled = true;
    conn->throttle_timer = sl_loop_timer(conn->loop, ms, on_unthrottle, conn);
    check_pressure(conn);
}

/* ---- responses ---- */

static chunk_t *add_chunk(sl_resp_t *resp) {
    if (resp->n_chunks == resp->cap_chunks) {
        resp->cap_chunks = resp->cap_chunks ? resp->cap_chunks * 2 : 2;
        resp->chunks = sl_xrealloc(resp->chunks, resp->cap_chunks * sizeof *resp->chunks);
    }
    chunk_t *ch = &resp->chunks[resp->n_chunks++];
    memset(ch, 0, sizeof *ch);
    ch->fd = -1;
    return ch;
}

sl_resp_t *sl_conn_resp_new(sl_conn_t *conn) {
    sl_resp_t *resp = sl_xcalloc(1, sizeof *resp);
    chunk_t *ch = add_chunk(resp);
    static const uint8_t zero[4];
    sl_buf_append(&ch->mem, zero, 4);
    if (conn->state == CONN_CLOSED) {
        return resp; /* orphan from birth; finish/discard frees it */
    }
    resp->conn = conn;
    if (conn->tail) {
        conn->tail->next = resp;
    } else {
        conn->head = resp;
    }
    conn->tail = resp;
    conn->n_inflight++;
    check_pressure(conn);
    return resp;
}

sl_buf_t *sl_resp_buf(sl_resp_t *resp) {
    chunk_t *last = &resp->chunks[resp->n_chunks - 1];
    if (last->fd >= 0) {
        last = add_chunk(resp);
    }
    return &last->mem;
}

void sl_resp_add_file(sl_resp_t *resp, int fd_owned, off_t off, size_t len) {
    chunk_t *ch = add_chunk(resp);
    ch->fd = fd_owned;
    ch->off = off;
    ch->len = len;
}

size_t sl_resp_size(const sl_resp_t *resp) {
    size_t n = 0;
    for (size_t i = 0; i < resp->n_chunks; i++) {
        n += resp->chunks[i].fd >= 0 ? resp->chunks[i].len : resp->chunks[i].mem.len;
    }
    return n;
}

sl_conn_t *sl_resp_conn(const sl_resp_t *resp) {
    return resp->conn;
}

static void flush_out(sl_conn_t *conn);

static size_t alloc_cost(void *p) {
    return p ? malloc_usable_size(p) + ALLOC_HEADER : 0;
}

/* What a slot really holds on the heap: itself, its chunk array, its memory chunks. */
static size_t resp_mem_cost(sl_resp_t *resp) {
    size_t n = alloc_cost(resp) + alloc_cost(resp->chunks);
    for (size_t i = 0; i < resp->n_chunks; i++) {
        n += alloc_cost(resp->chunks[i].mem.data);
    }
    return n;
}

static void unlink_head(sl_conn_t *conn) {
    sl_resp_t *r = conn->head;
    conn->head = r->next;
    if (!conn->head) {
        conn->tail = NULL;
    }
}

void sl_resp_finish(sl_resp_t *resp) {
    SL_ASSERT(!resp->ready);
    resp->size = sl_resp_size(resp);
    sl_store_be32(resp->chunks[0].mem.data, (uint32_t)(resp->size - 4));
    sl_conn_t *conn = resp->conn;
    if (!conn) {
        resp_free(resp);
        return;
    }
    resp->ready = true;
    resp->mem_cost = resp_mem_cost(resp);
    conn->n_inflight--;
    conn->out_bytes += resp->size;
    queued_bytes += resp->size;
    conn->out_mem += resp->mem_cost;
    queued_mem += resp->mem_cost;
    queued_mem_peak = SL_MAX(queued_mem_peak, queued_mem);
    if (conn->head == resp) {
        flush_out(conn);
    }
    check_pressure(conn);
}

void sl_resp_discard(sl_resp_t *resp) {
    sl_conn_t *conn = resp->conn;
    if (!conn) {
        resp_free(resp);
        return;
    }
    /* Unlink wherever it sits; the FIFO is short (bounded by max_inflight). */
    sl_resp_t **pp = &conn->head, *prev = NULL;
    while (*pp && *pp != resp) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    SL_ASSERT(*pp == resp);
    *pp = resp->next;
    if (conn->tail == resp) {
        conn->tail = prev;
    }
    conn->n_inflight--;
    resp_free(resp);
    if (conn->head && conn->head->ready) {
        flush_out(conn);
    }
    check_pressure(conn);
    linger_check(conn);
}

/* Maps an OpenSSL result to the read/write convention: bytes, 0 at a clean end, or -1 with errno
 * (EAGAIN when OpenSSL waits for the socket either way, EPROTO for a TLS failure, logged). */
static ssize_t tls_result(sl_conn_t *conn, int r, const char *op) {
    if (r > 0) {
        return r;
    }
    int e = SSL_get_error(conn->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        errno = EAGAIN;
        return -1;
    }
    if (e == SSL_ERROR_ZERO_RETURN) {
        return 0;
    }
    if (e == SSL_ERROR_SYSCALL && errno != 0) {
        ERR_clear_error();
        return -1;
    }
    unsigned long code = ERR_get_error();
    char text[160];
    ERR_error_string_n(code, text, sizeof text);
    ERR_clear_error();
    sl_log(SL_LOG_INFO, "net", "conn=%llu peer=%s op=%s tls_err=\"%s\"",
           (unsigned long long)conn->id, conn->peer, op, code ? text : "unexpected EOF");
    errno = EPROTO;
    return -1;
}

/* The staging buffer of TLS output (the loop's thread only). */
static uint8_t tls_stage[TLS_RECORD_BYTES];

/* writev over TLS: the vectors' leading bytes (up to one record) copied and written as one
 * record. Returns the bytes taken, or -1 with errno. */
static ssize_t tls_writev(sl_conn_t *conn, const struct iovec *iov, int n_iov) {
    size_t n = 0;
    for (int i = 0; i < n_iov && n < sizeof tls_stage; i++) {
        size_t take = SL_MIN(iov[i].iov_len, sizeof tls_stage - n);
        memcpy(tls_stage + n, iov[i].iov_base, take);
        n += take;
    }
    ERR_clear_error();
    return tls_result(conn, SSL_write(conn->ssl, tls_stage, (int)n), "write");
}

/* sendfile over TLS: pread into the staging buffer and write one record; advances *off by what
 * was taken, as sendfile does. */
static ssize_t tls_sendfile(sl_conn_t *conn, int fd, off_t *off, size_t len) {
    ssize_t r;
    do {
        r = pread(fd, tls_stage, SL_MIN(len, sizeof tls_stage), *off);
    } while (r < 0 && errno == EINTR);
    if (r <= 0) {
        return r;
    }
    ERR_clear_error();
    ssize_t w = tls_result(conn, SSL_write(conn->ssl, tls_stage, (int)r), "write");
    if (w > 0) {
        *off += w;
    }
    return w;
}

/* Closes a lingering connection once every response slot has been sent. */
static void linger_check(sl_conn_t *conn) {
    if (conn->lingering && conn->state != CONN_CLOSED && !conn->head) {
        sl_conn_close(conn, conn->linger_why[0] ? conn->linger_why : NULL);
    }
}

/* Writes as much of the ready prefix as the socket takes. Memory chunks of consecutive slots are
 * gathered into one writev; file chunks go out with sendfile. */
static void flush_out(sl_conn_t *conn) {
    if (conn->ssl && !conn->tls_ready) {
        return; /* output waits for the handshake */
    }
    while (conn->state != CONN_CLOSED && conn->head && conn->head->ready) {
        struct iovec iov[64];
        int n_iov = 0;
        size_t gathered = 0;
        sl_resp_t *r = conn->head;
        size_t ci = r->cur;
        /* Gather memory chunks until a file chunk or 64 vectors. */
        while (r && r->ready && n_iov < 64) {
            if (ci >= r->n_chunks) {
                r = r->next;
                ci = 0;
                continue;
            }
            chunk_t *ch = &r->chunks[ci];
            if (ch->fd >= 0) {
                break;
            }
            if (ch->mem.len > ch->sent) {
                iov[n_iov].iov_base = ch->mem.data + ch->sent;
                iov[n_iov].iov_len = ch->mem.len - ch->sent;
                gathered += iov[n_iov].iov_len;
                n_iov++;
            }
            ci++;
        }
        ssize_t w;
        if (n_iov > 0) {
            w = conn->ssl ? tls_writev(conn, iov, n_iov) : writev(conn->fd, iov, n_iov);
        } else {
            chunk_t *ch = &conn->head->chunks[conn->head->cur];
            if (ch->fd < 0 || ch->len == 0) {
                /* An empty memory chunk or drained file range: advance. */
                if (ch->fd >= 0) {
                    close(ch->fd);
                    ch->fd = -1;
                    ch->len = 0;
                }
                w = 0;
            } else {
                w = conn->ssl ? tls_sendfile(conn, ch->fd, &ch->off, ch->len)
                              : sendfile(conn->fd, ch->fd, &ch->off, ch->len);
                if (w == 0) {
                    /* The file shrank under us (truncation); nothing valid can follow. */
                    sl_conn_close(conn, "segment shrank during sendfile");
                    return;
                }
            }
        }
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (!conn->want_write) {
                    conn->want_write = true;
                    update_watch(conn);
                }
                return;
            }
            sl_conn_close(conn, errno == EPIPE || errno == ECONNRESET || errno == EPROTO
                                    ? NULL
                                    : strerror(errno));
            return;
        }
        /* Account the bytes written against the chunks, freeing completed slots. */
        size_t left = (size_t)w;
        conn->out_bytes -= left;
        queued_bytes -= left;
        if (w > 0) {
            touch(conn);
        }
        for (;;) {
            sl_resp_t *h = conn->head;
            if (!h || !h->ready) {
                break;
            }
            if (h->cur >= h->n_chunks) {
                unlink_head(conn);
                conn->out_mem -= h->mem_cost;
                queued_mem -= h->mem_cost;
                resp_free(h);
                continue;
            }
            chunk_t *ch = &h->chunks[h->cur];
            if (ch->fd >= 0) {
                if (n_iov == 0) {
                    /* sendfile advanced ch->off itself; only the length is ours to update. */
                    ch->len -= left;
                    left = 0;
                }
                if (ch->len == 0) {
                    h->cur++;
                    continue;
                }
                break;
            }
            size_t avail = ch->mem.len - ch->sent;
            size_t take = SL_MIN(avail, left);
            ch->sent += take;
            left -= take;
            if (ch->sent == ch->mem.len) {
                h->cur++;
                continue;
            }
            break;
        }
        /* A short writev means the socket is full; over TLS a write takes one record by design,
         * so only EAGAIN (above) means that. */
        if (n_iov > 0 && (size_t)w < gathered && !conn->ssl) {
            if (!conn->want_write) {
                conn->want_write = true;
                update_watch(conn);
            }
            return;
        }
    }
    if (conn->want_write && conn->state != CONN_CLOSED) {
        conn->want_write = false;
        update_watch(conn);
    }
    linger_check(conn);
}

/* ---- input ---- */

/* Grows the input buffer, keeping the broker-wide count of input memory. An empty connection
 * borrows the spare buffer first. */
static void in_reserve(sl_conn_t *conn, size_t extra) {
    if (conn->in.cap == 0 && spare_in.cap) {
        conn->in = spare_in;
        spare_in = (sl_buf_t){0};
        in_bytes += conn->in.cap;
    }
    size_t before = conn->in.cap;
    sl_buf_reserve(&conn->in, extra);
    in_bytes += conn->in.cap - before;
}

/* Once drained, the buffer leaves the connection: it becomes the spare if that is free and the
 * buffer is read-sized, else it is freed (one grown for a large request is not kept). */
static void in_release(sl_conn_t *conn) {
    if (conn->in.len != 0 || conn->in.cap == 0) {
        return;
    }
    in_bytes -= conn->in.cap;
    if (!spare_in.cap && conn->in.cap <= 2 * READ_CHUNK_BYTES) {
        spare_in = conn->in;
        conn->in = (sl_buf_t){0};
    } else {
        sl_buf_fini(&conn->in);
    }
}

/* After reading stops for now: an empty buffer is released, and a small remainder (half a header,
 * the start of a request) moves to a buffer of its own size, so a connection that stalls in the
 * middle of a request holds a few hundred bytes, not a 64 KiB read chunk (19,800 slowloris
 * connections held 1.3 GB of buffers, counted against queued.max.request.bytes, which then
 * throttled every producer). */
static void in_settle(sl_conn_t *conn) {
    if (conn->in.len == 0) {
        in_release(conn);
        return;
    }
    if (conn->in.len > SMALL_REMAINDER_BYTES || conn->in.cap <= 4 * SMALL_REMAINDER_BYTES) {
        return;
    }
    sl_buf_t small = {0};
    sl_buf_append(&small, conn->in.data, conn->in.len);
    conn->in.len = 0;
    in_release(conn);
    conn->in = small;
    in_bytes += small.cap;
}

static void process_frames(sl_conn_t *conn) {
    size_t pos = 0;
    bool deferred = false;
    while (conn->state == CONN_READING && !conn->lingering && conn->in.len - pos >= 4) {
        int32_t size = (int32_t)sl_load_be32(conn->in.data + pos);
        int min_frame = conn->raw_frames ? 0 : MIN_REQUEST_BYTES;
        if (size < min_frame || (size_t)size > conn->hooks.max_frame_bytes) {
            char why[96];
            snprintf(why, sizeof why, "frame size %d outside [%d, %zu]", size, min_frame,
                     conn->hooks.max_frame_bytes);
            sl_conn_close(conn, why);
            return;
        }
        if (conn->in.len - pos - 4 < (size_t)size) {
            /* Room for the rest, but never more than what has arrived (or one read chunk): a
             * declared size alone reserves nothing, so 4 bytes cannot pin 100 MB. */
            size_t have = conn->in.len - pos;
            in_reserve(conn,
                       SL_MIN((size_t)size + 4 - have, SL_MAX(have, (size_t)READ_CHUNK_BYTES)));
            break;
        }
        if (!budget_take(conn, (size_t)size + 4)) {
            deferred = true; /* this iteration's share is used: the rest waits for the next */
            break;
        }
        const uint8_t *frame = conn->in.data + pos + 4;
        pos += 4 + (size_t)size;
        if (conn->hooks.on_frame(conn, frame, (size_t)size, conn->hooks.opaque) != SL_OK) {
            sl_conn_close(conn, "bad request");
            return;
        }
        /* Once paused, the rest stays in the buffer until output drains. */
    }
    if (conn->state == CONN_CLOSED) {
        return;
    }
    if (pos > 0) {
        sl_buf_consume(&conn->in, pos);
        in_release(conn);
    }
    if (deferred) {
        pend(conn);
        sl_loop_no_wait(conn->loop);
    }
    track_partial(conn, pos > 0);
}

/* With read-ahead OpenSSL may hold bytes the socket no longer shows to epoll: when reading
 * stops (budget, pause) they move into the input buffer, at most one read-ahead buffer's worth,
 * so nothing waits for a readiness event that will not come. */
static void tls_drain(sl_conn_t *conn) {
    bool got = false;
    while (conn->state != CONN_CLOSED && SSL_has_pending(conn->ssl)) {
        in_reserve(conn, TLS_RECORD_BYTES + 256);
        size_t room = conn->in.cap - conn->in.len;
        ERR_clear_error();
        int r = SSL_read(conn->ssl, conn->in.data + conn->in.len, (int)room);
        if (r <= 0) {
            int e = SSL_get_error(conn->ssl, r);
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
                (void)tls_result(conn, r, "read");
                sl_conn_close(conn, NULL);
                return;
            }
            ERR_clear_error();
            break;
        }
        conn->in.len += (size_t)r;
        got = true;
    }
    if (got && conn->state == CONN_READING) {
        process_frames(conn);
    }
}

static void do_read(sl_conn_t *conn) {
    /* Requests buffered earlier (over a past share, or from before a pause) come first. */
    if (conn->in.len >= 4) {
        process_frames(conn);
    }
    size_t budget = READ_BUDGET_BYTES;
    while (conn->state == CONN_READING && budget > 0 && !budget_spent(conn)) {
        in_reserve(conn, READ_CHUNK_BYTES);
        size_t room = conn->in.cap - conn->in.len;
        ssize_t r;
        if (conn->ssl) {
            ERR_clear_error();
            r = tls_result(conn, SSL_read(conn->ssl, conn->in.data + conn->in.len, (int)room),
                           "read");
        } else {
            r = read(conn->fd, conn->in.data + conn->in.len, room);
        }
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                break;
            }
            sl_conn_close(conn, errno == ECONNRESET || errno == EPROTO ? NULL : strerror(errno));
            return;
        }
        if (r == 0) {
            sl_conn_close(conn, NULL);
            return;
        }
        conn->in.len += (size_t)r;
        budget -= SL_MIN(budget, (size_t)r);
        touch(conn);
        process_frames(conn);
        if ((size_t)r < room && !conn->ssl) {
            break; /* over TLS a read returns one record: read on until WANT_READ */
        }
    }
    if (conn->ssl && conn->state != CONN_CLOSED) {
        tls_drain(conn);
    }
    if (conn->state != CONN_CLOSED) {
        in_settle(conn); /* nothing read (a wake-up without data) leaves the buffer too */
    }
}

/* Records the verified client certificate's subject (RFC 2253). */
static void tls_take_subject(sl_conn_t *conn) {
    X509 *cert = SSL_get1_peer_certificate(conn->ssl);
    if (!cert || SSL_get_verify_result(conn->ssl) != X509_V_OK) {
        X509_free(cert);
        return;
    }
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio && X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0) {
        char *text = NULL;
        long n = BIO_get_mem_data(bio, &text);
        if (n > 0 && n < 1024) {
            conn->subject = sl_xcalloc(1, (size_t)n + 1);
            memcpy(conn->subject, text, (size_t)n);
        }
    }
    BIO_free(bio);
    X509_free(cert);
}

/* Advances the TLS handshake; true once it is done (frames may flow). A failure closes. */
static bool tls_handshake(sl_conn_t *conn) {
    ERR_clear_error();
    int r = SSL_do_handshake(conn->ssl);
    if (r == 1) {
        conn->tls_ready = true;
        tls_take_subject(conn);
        touch(conn);
        track_partial(conn, true);
        if (conn->want_write) {
            conn->want_write = false;
            update_watch(conn);
        }
        return true;
    }
    int e = SSL_get_error(conn->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        bool ww = e == SSL_ERROR_WANT_WRITE;
        touch(conn);
        if (ww != conn->want_write) {
            conn->want_write = ww;
            update_watch(conn);
        }
        return false;
    }
    unsigned long code = ERR_get_error();
    char text[200];
    if (code) {
        ERR_error_string_n(code, text, sizeof text);
    } else {
        snprintf(text, sizeof text, "%s", e == SSL_ERROR_SYSCALL ? "peer closed" : "failed");
    }
    ERR_clear_error();
    char why[240];
    snprintf(why, sizeof why, "TLS handshake failed: %s", text);
    sl_conn_close(conn, why);
    return false;
}

static void on_io(sl_loop_t *loop, int fd, void *data, unsigned events) {
    (void)loop;
    (void)fd;
    sl_conn_t *conn = data;
    if (conn->ssl && !conn->tls_ready) {
        if (!tls_handshake(conn)) {
            return;
        }
        events |= SL_EV_READ; /* application data may have come with the last flight */
    }
    if (events & SL_EV_WRITE) {
        flush_out(conn);
        check_pressure(conn);
    }
    if ((events & (SL_EV_READ | SL_EV_ERROR)) && conn->state == CONN_READING && !conn->lingering) {
        do_read(conn);
    } else if ((events & SL_EV_ERROR) && conn->state != CONN_CLOSED) {
        sl_conn_close(conn, NULL);
    }
}

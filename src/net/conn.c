/* conn.c -- connection state machine, framing, ordered pipelined responses, zero-copy output.
 *
 *   READING ──(queued output > high water, or too many requests in flight)──► PAUSED
 *   PAUSED  ──(output drained below half the high water and in-flight below limit)──► READING
 *   any     ──(peer hung up, I/O error, bad frame, sl_conn_close)──► CLOSED ──(reap)──► freed
 *
 * Framing: int32 size then the request. A size below the smallest request header (10 bytes) or
 * above socket.request.max.bytes closes the connection after one log line; nothing is allocated
 * from an unchecked size. EINTR and EAGAIN are handled here and nowhere else.
 * Output: a FIFO of response slots, each a list of chunks (memory, or a file range sent with
 * sendfile). Only a prefix of ready slots is written, so responses leave in request order.
 * Input memory: a connection holds an input buffer only while it has unprocessed bytes. A drained
 * read buffer goes back to one spare that the next read on any connection borrows (Redis's
 * reusable query buffer), so idle connections hold none: tens of thousands of mostly idle
 * producers cost no more input memory than one busy one. */
#include "conn.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

#define MIN_REQUEST_BYTES 10         /* api_key + api_version + correlation_id + client_id length */
#define READ_CHUNK_BYTES  65536      /* per read(2) */
#define READ_BUDGET_BYTES (1u << 20) /* per readiness event, for fairness between sockets */

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
    size_t size; /* total bytes, prefix included */
    size_t cur;  /* chunk being sent */
    bool ready;
};

typedef enum conn_state { CONN_READING, CONN_PAUSED, CONN_CLOSED } conn_state_t;

struct sl_conn {
    sl_conn_t *next_all, *prev_all; /* every open connection */
    sl_conn_t *next_closed;
    sl_conn_t *next_resume; /* on resume_conns while resume_queued */
    bool resume_queued;
    sl_loop_t *loop;
    int fd;
    uint64_t id;
    conn_state_t state;
    sl_conn_hooks_t hooks;
    char peer[64];
    sl_buf_t in;
    sl_resp_t *head, *tail; /* response slots in request order */
    size_t n_inflight;
    size_t out_bytes; /* bytes of ready slots not yet sent */
    bool want_write;
    bool throttled; /* muted until throttle_timer fires (KIP-219) */
    uint64_t throttle_timer;
};

static sl_conn_t *all_conns;
static sl_conn_t *closed_conns;
static sl_conn_t *resume_conns; /* unpaused with requests still buffered */
static size_t n_conns;
static size_t queued_bytes;
static size_t in_bytes;   /* input buffer capacity across connections (the spare not counted) */
static sl_buf_t spare_in; /* a drained read buffer, lent to the next connection that reads */
static size_t memory_budget = SIZE_MAX;
static uint64_t next_id = 1;

static void on_io(sl_loop_t *loop, int fd, void *data, unsigned events);

static void update_watch(sl_conn_t *conn) {
    if (conn->state == CONN_CLOSED) {
        return;
    }
    unsigned ev =
        (conn->state == CONN_READING ? SL_EV_READ : 0) | (conn->want_write ? SL_EV_WRITE : 0);
    if (sl_loop_modify(conn->loop, conn->fd, ev) != SL_OK) {
        sl_conn_close(conn, "epoll_ctl failed");
    }
}

static void check_pressure(sl_conn_t *conn) {
    if (conn->state == CONN_CLOSED) {
        return;
    }
    bool over = conn->out_bytes > conn->hooks.out_high_bytes ||
                conn->n_inflight >= conn->hooks.max_inflight || conn->throttled;
    bool under = conn->out_bytes <= conn->hooks.out_high_bytes / 2 &&
                 conn->n_inflight < conn->hooks.max_inflight && !conn->throttled;
    if (conn->state == CONN_READING && over) {
        conn->state = CONN_PAUSED;
        update_watch(conn);
    } else if (conn->state == CONN_PAUSED && under) {
        conn->state = CONN_READING;
        update_watch(conn);
        /* Requests left in the input buffer are handled from the before-sleep phase, never from
         * inside the call that unpaused us (which may itself be a request handler). */
        if (conn->in.len >= 4 && !conn->resume_queued) {
            conn->resume_queued = true;
            conn->next_resume = resume_conns;
            resume_conns = conn;
        }
    }
}

sl_conn_t *sl_conn_new(sl_loop_t *loop, int fd, const sl_conn_hooks_t *hooks, const char *peer) {
    sl_conn_t *conn = sl_xcalloc(1, sizeof *conn);
    conn->loop = loop;
    conn->fd = fd;
    conn->id = next_id++;
    conn->hooks = *hooks;
    snprintf(conn->peer, sizeof conn->peer, "%s", peer ? peer : "?");
    if (sl_loop_watch(loop, fd, SL_EV_READ, on_io, conn) != SL_OK) {
        close(fd);
        free(conn);
        return NULL;
    }
    conn->next_all = all_conns;
    if (all_conns) {
        all_conns->prev_all = conn;
    }
    all_conns = conn;
    n_conns++;
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
    if (conn->resume_queued) {
        sl_conn_t **pp = &resume_conns;
        while (*pp != conn) {
            pp = &(*pp)->next_resume;
        }
        *pp = conn->next_resume;
        conn->resume_queued = false;
    }
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
            resp_free(r);
        } else {
            r->conn = NULL;
            r->next = NULL;
        }
        r = next;
    }
    queued_bytes -= conn->out_bytes;
    conn->out_bytes = 0;
    conn->head = conn->tail = NULL;
    if (conn->prev_all) {
        conn->prev_all->next_all = conn->next_all;
    } else {
        all_conns = conn->next_all;
    }
    if (conn->next_all) {
        conn->next_all->prev_all = conn->prev_all;
    }
    n_conns--;
    conn->next_closed = closed_conns;
    closed_conns = conn;
}

static void process_frames(sl_conn_t *conn);

void sl_conn_reap(void) {
    while (resume_conns) {
        sl_conn_t *conn = resume_conns;
        resume_conns = conn->next_resume;
        conn->resume_queued = false;
        if (conn->state == CONN_READING) {
            process_frames(conn);
        }
    }
    while (closed_conns) {
        sl_conn_t *conn = closed_conns;
        closed_conns = conn->next_closed;
        close(conn->fd);
        sl_buf_fini(&conn->in); /* already subtracted from in_bytes at close */
        free(conn);
    }
}

void sl_conn_close_all(void) {
    while (all_conns) {
        sl_conn_close(all_conns, NULL);
    }
    sl_conn_reap();
    sl_buf_fini(&spare_in);
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
    return n_conns;
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
    return in_bytes + queued_bytes > memory_budget;
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
    conn->n_inflight--;
    conn->out_bytes += resp->size;
    queued_bytes += resp->size;
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
}

/* Writes as much of the ready prefix as the socket takes. Memory chunks of consecutive slots are
 * gathered into one writev; file chunks go out with sendfile. */
static void flush_out(sl_conn_t *conn) {
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
            w = writev(conn->fd, iov, n_iov);
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
                w = sendfile(conn->fd, ch->fd, &ch->off, ch->len);
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
            sl_conn_close(conn, errno == EPIPE || errno == ECONNRESET ? NULL : strerror(errno));
            return;
        }
        /* Account the bytes written against the chunks, freeing completed slots. */
        size_t left = (size_t)w;
        conn->out_bytes -= left;
        queued_bytes -= left;
        for (;;) {
            sl_resp_t *h = conn->head;
            if (!h || !h->ready) {
                break;
            }
            if (h->cur >= h->n_chunks) {
                unlink_head(conn);
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
        if (n_iov > 0 && (size_t)w < gathered) {
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

static void process_frames(sl_conn_t *conn) {
    size_t pos = 0;
    while (conn->state != CONN_CLOSED && conn->in.len - pos >= 4) {
        int32_t size = (int32_t)sl_load_be32(conn->in.data + pos);
        if (size < MIN_REQUEST_BYTES || (size_t)size > conn->hooks.max_frame_bytes) {
            char why[96];
            snprintf(why, sizeof why, "frame size %d outside [%d, %zu]", size, MIN_REQUEST_BYTES,
                     conn->hooks.max_frame_bytes);
            sl_conn_close(conn, why);
            return;
        }
        if (conn->in.len - pos - 4 < (size_t)size) {
            in_reserve(conn, (size_t)size + 4 - (conn->in.len - pos));
            break;
        }
        const uint8_t *frame = conn->in.data + pos + 4;
        pos += 4 + (size_t)size;
        if (conn->hooks.on_frame(conn, frame, (size_t)size, conn->hooks.opaque) != SL_OK) {
            sl_conn_close(conn, "bad request");
            return;
        }
        if (conn->state == CONN_PAUSED) {
            break; /* leave the rest in the buffer until output drains */
        }
    }
    if (conn->state != CONN_CLOSED && pos > 0) {
        sl_buf_consume(&conn->in, pos);
        in_release(conn);
    }
}

static void do_read(sl_conn_t *conn) {
    size_t budget = READ_BUDGET_BYTES;
    while (conn->state == CONN_READING && budget > 0) {
        in_reserve(conn, READ_CHUNK_BYTES);
        size_t room = conn->in.cap - conn->in.len;
        ssize_t r = read(conn->fd, conn->in.data + conn->in.len, room);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                break;
            }
            sl_conn_close(conn, errno == ECONNRESET ? NULL : strerror(errno));
            return;
        }
        if (r == 0) {
            sl_conn_close(conn, NULL);
            return;
        }
        conn->in.len += (size_t)r;
        budget -= SL_MIN(budget, (size_t)r);
        process_frames(conn);
        if ((size_t)r < room) {
            break;
        }
    }
    if (conn->state != CONN_CLOSED) {
        in_release(conn); /* nothing read (a wake-up without data) leaves the buffer too */
    }
}

static void on_io(sl_loop_t *loop, int fd, void *data, unsigned events) {
    (void)loop;
    (void)fd;
    sl_conn_t *conn = data;
    if (events & SL_EV_WRITE) {
        flush_out(conn);
        check_pressure(conn);
    }
    if ((events & (SL_EV_READ | SL_EV_ERROR)) && conn->state == CONN_READING) {
        do_read(conn);
    } else if ((events & SL_EV_ERROR) && conn->state != CONN_CLOSED) {
        sl_conn_close(conn, NULL);
    }
}

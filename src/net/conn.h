/* conn.h -- one client connection: framing, pipelined responses in request order, zero-copy
 * output, and read backpressure.
 *
 * Responses: every request reserves a response slot (sl_conn_resp_new) in arrival order. A slot is
 * filled now or later (long-poll fetch, acks=all produce) and sent only once every slot before it
 * has been sent. A slot outlives its connection if the connection closes first: its owner still
 * calls sl_resp_finish or sl_resp_discard, which then just frees it.
 * Thread: the shard loop that accepted the connection. */
#ifndef SL_CONN_H
#define SL_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/buf.h"
#include "common/err.h"
#include "net/iplimit.h"
#include "net/loop.h"

/* Per loop iteration, a connection has at most this many requests, or this many request bytes,
 * handled (always at least one request); the rest waits for the next iteration. */
#define SL_CONN_WORK_BUDGET_REQS  64
#define SL_CONN_WORK_BUDGET_BYTES (256u << 10)
/* What one iteration handles in all, shared among the busy connections (conn.c, budget_refresh),
 * each share at least the minimum. */
#define SL_CONN_WORK_TOTAL_REQS  512
#define SL_CONN_WORK_TOTAL_BYTES (4u << 20)
#define SL_CONN_WORK_MIN_REQS    4
#define SL_CONN_WORK_MIN_BYTES   (16u << 10)

typedef struct sl_conn sl_conn_t;
typedef struct sl_resp sl_resp_t;
struct ssl_ctx_st; /* OpenSSL's SSL_CTX */

typedef struct sl_conn_hooks {
    /* One complete frame (the bytes after the 4-byte size), valid only during the call. Return
     * SL_OK, or an error to close the connection (the hook has logged why). */
    sl_err_t (*on_frame)(sl_conn_t *conn, const uint8_t *frame, size_t len, void *opaque);
    /* Called once when the connection is closed (before it is freed). */
    void (*on_close)(sl_conn_t *conn, void *opaque);
    void *opaque;
    size_t max_frame_bytes; /* socket.request.max.bytes */
    size_t out_high_bytes;  /* stop reading above this much queued output */
    size_t max_inflight;    /* stop reading with this many unanswered requests */
    struct ssl_ctx_st *tls; /* TLS server context for this listener's connections, or NULL */
    const void *listener;   /* the owner's description of the listener (sl_conn_listener) */
} sl_conn_hooks_t;

/* Takes ownership of the connected, non-blocking socket `fd` and starts reading. NULL on failure
 * (fd closed). `peer` is copied for log lines. */
sl_conn_t *sl_conn_new(sl_loop_t *loop, int fd, const sl_conn_hooks_t *hooks, const char *peer);
/* Marks the connection closed: unwatched and shut at once, freed in sl_conn_reap. Queued slots
 * are orphaned. Idempotent. `why` is logged at INFO (NULL: silent, e.g. peer hung up). */
void sl_conn_close(sl_conn_t *conn, const char *why);
/* Handles requests left buffered by connections that were paused and then resumed, then frees
 * connections closed since the last call. Call from a before-sleep hook. */
void sl_conn_reap(void);
/* Closes and frees every open connection (shutdown). */
void sl_conn_close_all(void);

/* Stops reading, sends every response slot (those still unfinished once finished), then closes
 * (a failed authentication: the client reads its error before the connection goes). `why` is
 * logged at INFO when it closes. */
void sl_conn_close_after_flush(sl_conn_t *conn, const char *why);

/* While `raw`, frames of any size from 0 up are delivered (not only those that can hold a
 * request header): the raw SASL tokens that follow a SaslHandshake v0. */
void sl_conn_set_raw_frames(sl_conn_t *conn, bool raw);
/* The hooks' `listener` of the listener that accepted the connection. */
const void *sl_conn_listener(const sl_conn_t *conn);
/* The owner's per-connection state (the broker's SASL session), NULL until set. The owner frees
 * it in on_close. */
void *sl_conn_session(const sl_conn_t *conn);
void sl_conn_set_session(sl_conn_t *conn, void *session);
/* Whether the connection runs over TLS. Frames are delivered only after its handshake is done. */
bool sl_conn_tls(const sl_conn_t *conn);
/* The subject of the client certificate verified in the TLS handshake (RFC 2253, as Kafka's
 * X500Principal prints it: "CN=client,O=org"), or "" when there was none. */
const char *sl_conn_tls_subject(const sl_conn_t *conn);

uint64_t sl_conn_id(const sl_conn_t *conn);
const char *sl_conn_peer(const sl_conn_t *conn);
bool sl_conn_closed(const sl_conn_t *conn);
/* Number of open connections. */
size_t sl_conn_count(void);
/* Bytes currently queued for output across all connections. */
size_t sl_conn_queued_bytes(void);
/* Heap bytes those queued responses hold (allocation overhead included); this, not the payload,
 * is what connection.output.high.bytes and queued.max.request.bytes bound. */
size_t sl_conn_queued_memory(void);
/* Connections holding a frame they started and have not finished. */
size_t sl_conn_partial_count(void);

/* Bytes of input buffers across all connections. */
size_t sl_conn_input_bytes(void);
/* Sets the broker-wide memory budget for input plus queued output (queued.max.request.bytes). */
void sl_conn_set_memory_budget(size_t bytes);
/* Whether input plus queued output is over the budget. */
bool sl_conn_memory_pressure(void);
/* Closes connections with no bytes read or written for `idle_ms` (connections.max.idle.ms), and
 * connections that started a frame and did not finish it within `partial_ms`
 * (connections.max.partial.request.ms); 0 disables either. Applies to every connection. */
void sl_conn_set_timeouts(uint64_t idle_ms, uint64_t partial_ms);
/* Makes room for one new connection at max.connections by closing the one that most looks like
 * an attack: the oldest with a frame unfinished for at least `min_age_ms`, else the least
 * recently active one, if silent that long with nothing in flight. Returns whether it closed one.
 */
bool sl_conn_evict_one(uint64_t min_age_ms);
/* Attaches the per-address count taken for this connection; it is given back at close. */
void sl_conn_set_ipcount(sl_conn_t *conn, sl_ipcount_t *owned);
/* Stops reading from `conn` for `ms` milliseconds (the client is told the same time in
 * throttle_time_ms, as KIP-219 brokers do). Its pending responses still go out. */
void sl_conn_throttle(sl_conn_t *conn, uint32_t ms);

/* Reserves the next response slot. Its buffer starts with a 4-byte size placeholder. */
sl_resp_t *sl_conn_resp_new(sl_conn_t *conn);
/* The memory buffer to encode into (after any file ranges added so far). */
sl_buf_t *sl_resp_buf(sl_resp_t *resp);
/* Appends `len` bytes of file `fd_owned` from `off`, sent with sendfile. Takes the fd. */
void sl_resp_add_file(sl_resp_t *resp, int fd_owned, off_t off, size_t len);
/* Total bytes so far, size prefix included. */
size_t sl_resp_size(const sl_resp_t *resp);
/* Patches the size prefix and queues the slot for sending (or frees it if orphaned). */
void sl_resp_finish(sl_resp_t *resp);
/* Drops the slot without a response (acks=0 produce). */
void sl_resp_discard(sl_resp_t *resp);
/* The connection of a slot, or NULL if it has closed. */
sl_conn_t *sl_resp_conn(const sl_resp_t *resp);

#endif

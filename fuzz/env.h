/* env.h -- what the libFuzzer targets share: a simulated clock, an in-process broker on a
 * throw-away data directory, client connections over socketpairs, and the check that responses
 * come back once each, in request order.
 *
 * The clock: env.c defines sl_mono_ns, sl_mono_ms and sl_wall_ms itself, so the static link
 * never pulls src/common/clock.o and every part of the broker (timers, session deadlines,
 * transaction timeouts, record timestamps) sees time that moves only when a harness calls
 * fz_advance. Runs are reproducible, and an hour of rebalance timeouts takes microseconds.
 * Thread: the fuzzer's thread (the fsync workers only read the clock). */
#ifndef FUZZ_ENV_H
#define FUZZ_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/broker.h"

/* Aborts with a message: a broken harness invariant is a finding, as a sanitizer report is. */
#define FZ_CHECK(cond, ...)                                                                        \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                                       \
        }                                                                                          \
    } while (0)
void fz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 4, 5)));

/* ---- the simulated clock ---- */
/* Moves the clock forward by `ms`, then fires the broker's due timers. */
void fz_advance(sl_broker_t *b, uint64_t ms);

/* ---- the broker ---- */
/* Starts a broker on a fresh data directory (under /dev/shm when it exists), listening on
 * 127.0.0.1:0 with no admin listener. `sets` are extra key=value settings, NULL-terminated.
 * Aborts if it cannot start. */
sl_broker_t *fz_broker_start(const char *const *sets);
/* Closes every connection, frees the broker and deletes its data directory. */
void fz_broker_stop(sl_broker_t *b);
/* What one loop iteration's before-sleep phase does, made synchronous: every pending sync is
 * done and answered, parked fetches re-checked (all expired when `expire_fetches`), closed
 * connections reaped. */
void fz_settle(sl_broker_t *b, bool expire_fetches);

/* ---- clients ---- */
#define FZ_MAX_PENDING 4096

/* Called for each response frame read back (after the correlation id has been checked):
 * `api_key`/`api_version`/`tag` are those given to fz_client_send, `body` the bytes after the
 * response header's correlation id. */
typedef void fz_resp_fn(void *opaque, int16_t api_key, int16_t api_version, int tag,
                        const uint8_t *body, size_t len);

typedef struct fz_pending {
    int32_t corr;
    int16_t api_key, api_version;
    int tag;
    bool answered_maybe; /* no response expected for sure (acks=0 produce, unparsable frames) */
    bool never_answered; /* a produce whose acks reads 0: its answer never comes, so a later
                            request with the same correlation id owns a response carrying it */
} fz_pending_t;

typedef struct fz_client {
    sl_conn_t *conn; /* NULL once closed */
    int peer;        /* our end of the socketpair, -1 once closed */
    fz_pending_t pending[FZ_MAX_PENDING];
    size_t n_pending;
    uint8_t *in;
    size_t in_len, in_cap;
    bool strict; /* every request must be answered, in order (scripted traffic) */
    fz_resp_fn *on_resp;
    void *opaque;
} fz_client_t;

/* Connects a client to the broker. */
void fz_client_open(fz_client_t *c, sl_broker_t *b, bool strict, fz_resp_fn *on_resp, void *opaque);
/* Hands one request frame (header + body, no size prefix) to the broker as the connection's read
 * path would, and records what answer is expected. Returns false if the broker closed the
 * connection (malformed request). */
bool fz_client_send(fz_client_t *c, sl_broker_t *b, const uint8_t *frame, size_t len, int tag);
/* Reads every response available and checks each against the pending requests. */
void fz_client_drain(fz_client_t *c);
/* Whether the broker still holds the connection open. */
bool fz_client_alive(const fz_client_t *c);
/* Closes the client's end (the broker sees the hang-up as the loop would report it). */
void fz_client_close(fz_client_t *c);

#endif

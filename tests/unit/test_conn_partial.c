/* test_conn_partial.c -- issue 4 (slowloris): a connection stalled in the middle of a request
 * holds a buffer the size of what it sent, not a 64 KiB read chunk, and a declared frame size
 * alone reserves nothing. Before, 19,800 half-header connections held 1.3 GB of input buffers,
 * counted against queued.max.request.bytes (every producer was then throttled), and one 4-byte
 * size of 100 MB reserved 100 MB. Local socketpairs, no network. */
#include <sys/socket.h>
#include <unistd.h>

#include "common/util.h"
#include "harness.h"
#include "net/conn.h"
#include "net/loop.h"

#define N_CONNS 100

static int iterations;

static sl_err_t on_frame(sl_conn_t *conn, const uint8_t *f, size_t len, void *opaque) {
    (void)conn;
    (void)f;
    (void)len;
    (void)opaque;
    return SL_OK;
}

static void reap(sl_loop_t *loop, void *data) {
    (void)loop;
    (void)data;
    sl_conn_reap();
    iterations++;
}

/* Every socket is readable from the start, so the first iterations have read them all. */
static void stop(sl_loop_t *loop, uint64_t id, void *data) {
    (void)id;
    (void)data;
    sl_loop_stop(loop);
}

TEST(stalled_half_requests_hold_small_buffers) {
    sl_loop_t *loop = sl_loop_new();
    CHECK(loop != NULL);
    sl_loop_before_sleep(loop, reap, NULL);
    sl_conn_hooks_t hooks = {on_frame, NULL, NULL, 100000000, 1 << 20, 100};
    int peer[N_CONNS + 1];
    /* Half a header: size 30, then 3 of its 30 bytes. */
    static const uint8_t half[7] = {0, 0, 0, 30, 0, 18, 0};
    for (int i = 0; i < N_CONNS; i++) {
        int sv[2];
        CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
        CHECK(sl_conn_new(loop, sv[0], &hooks, "slowloris") != NULL);
        peer[i] = sv[1];
        CHECK(write(peer[i], half, sizeof half) == (ssize_t)sizeof half);
    }
    /* A declared 100 MB request (allowed by the frame limit) of which 10 bytes arrive. */
    uint8_t big[14] = {0};
    sl_store_be32(big, 100000000);
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
    CHECK(sl_conn_new(loop, sv[0], &hooks, "declared-big") != NULL);
    peer[N_CONNS] = sv[1];
    CHECK(write(peer[N_CONNS], big, sizeof big) == (ssize_t)sizeof big);
    (void)sl_loop_timer(loop, 100, stop, NULL);
    CHECK(sl_loop_run(loop) == SL_OK);
    CHECK(iterations > 0);
    CHECK_EQ_INT(sl_conn_count(), N_CONNS + 1);
    CHECK_EQ_INT(sl_conn_partial_count(), N_CONNS + 1);
    /* Each keeps a buffer of a few hundred bytes: 101 of them well under 101 KiB in all. */
    CHECK(sl_conn_input_bytes() <= (N_CONNS + 1) * 1024);
    sl_conn_close_all();
    CHECK_EQ_INT(sl_conn_input_bytes(), 0);
    for (int i = 0; i <= N_CONNS; i++) {
        close(peer[i]);
    }
    sl_loop_free(loop);
}

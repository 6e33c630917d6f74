/* test_conn_input.c -- connection input memory at rest: once its requests are handled, an idle
 * connection holds no input buffer (before, each kept a 64 KiB read chunk: 50,000 idle producers
 * held 3.2 GB and put the broker over queued.max.request.bytes, throttling everyone), while a
 * partial frame keeps its bytes until the rest arrives. Local socketpairs, no network. */
#include <sys/socket.h>
#include <unistd.h>

#include "common/util.h"
#include "harness.h"
#include "net/conn.h"
#include "net/loop.h"

#define N_CONNS 200
#define BIG     300000 /* a frame larger than one 64 KiB read chunk */

/* A minimal request frame: size 10, then 10 bytes. */
static const uint8_t frame[14] = {0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 1, 0, 0};

static int frames;
static int peer[N_CONNS];
static int phase;
static size_t input_at[4]; /* sl_conn_input_bytes() at the end of each phase */
static int frames_at[4];
static uint8_t *big;
static size_t big_off;

static sl_err_t on_frame(sl_conn_t *conn, const uint8_t *f, size_t len, void *opaque) {
    (void)conn;
    (void)f;
    (void)len;
    (void)opaque;
    frames++;
    return SL_OK;
}

static void write_big(void) {
    while (big_off < BIG + 4) {
        ssize_t w = write(peer[9], big + big_off, BIG + 4 - big_off);
        if (w <= 0) {
            return; /* socket full: the loop reads, the next iteration writes more */
        }
        big_off += (size_t)w;
    }
}

/* The test's script, one step per loop iteration once the frames of a phase are all in:
 *   0: one frame on every connection          -> nothing stays buffered
 *   1: half a frame on #7, a whole one on #8  -> #7 keeps its half
 *   2: the rest of #7's frame                  -> nothing stays buffered
 *   3: a 300 KB frame on #9                    -> its grown buffer is not kept */
static void step(sl_loop_t *loop, void *data) {
    (void)data;
    static const int want[4] = {N_CONNS, N_CONNS + 1, N_CONNS + 2, N_CONNS + 3};
    if (phase == 3) {
        write_big();
    }
    if (frames < want[phase]) {
        return;
    }
    input_at[phase] = sl_conn_input_bytes();
    frames_at[phase] = frames;
    switch (phase++) {
    case 0:
        (void)!write(peer[7], frame, 6);
        (void)!write(peer[8], frame, sizeof frame);
        break;
    case 1:
        (void)!write(peer[7], frame + 6, sizeof frame - 6);
        break;
    case 2:
        big = sl_xcalloc(1, BIG + 4);
        sl_store_be32(big, BIG);
        write_big();
        break;
    default:
        sl_loop_stop(loop);
    }
}

static void give_up(sl_loop_t *loop, uint64_t id, void *data) {
    (void)id;
    (void)data;
    sl_loop_stop(loop); /* a hang would otherwise never end the test */
}

TEST(idle_connections_hold_no_input_buffer) {
    sl_loop_t *loop = sl_loop_new();
    CHECK(loop != NULL);
    sl_loop_before_sleep(loop, step, NULL);
    sl_conn_hooks_t hooks = {on_frame, NULL, NULL, 1 << 20, 1 << 20, 100};
    for (int i = 0; i < N_CONNS; i++) {
        int sv[2];
        CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
        CHECK(sl_conn_new(loop, sv[0], &hooks, "test") != NULL);
        peer[i] = sv[1];
        CHECK(write(peer[i], frame, sizeof frame) == (ssize_t)sizeof frame);
    }
    (void)sl_loop_timer(loop, 10000, give_up, NULL);
    CHECK(sl_loop_run(loop) == SL_OK);
    CHECK_EQ_INT(phase, 4);
    CHECK_EQ_INT(sl_conn_count(), N_CONNS);
    CHECK_EQ_INT(frames_at[0], N_CONNS);
    CHECK_EQ_INT(input_at[0], 0);
    CHECK(input_at[1] > 0);
    CHECK_EQ_INT(input_at[2], 0);
    CHECK_EQ_INT(frames_at[3], N_CONNS + 3);
    CHECK_EQ_INT(input_at[3], 0);
    free(big);
    sl_conn_close_all();
    for (int i = 0; i < N_CONNS; i++) {
        close(peer[i]);
    }
    sl_loop_free(loop);
}

/* test_conn_fair.c -- issue 7 (a produce flood slowed every other client ~85x): one connection
 * with a thousand pipelined requests gets at most one share of the loop per iteration
 * (SL_CONN_WORK_BUDGET_REQS requests or SL_CONN_WORK_BUDGET_BYTES bytes), so a request arriving
 * at the same time on another connection is handled in the first iteration, not after the whole
 * flood; the flood's requests are all still handled, in order. Local socketpairs, no network. */
#include <sys/socket.h>
#include <unistd.h>

#include "common/util.h"
#include "harness.h"
#include "net/conn.h"
#include "net/loop.h"

#define N_FLOOD    1000
#define BIG_FRAMES 6
#define BIG_BYTES  (100u << 10) /* six of these are over the byte share of one iteration */

static sl_loop_t *loop;
static sl_conn_t *flood_conn;
static int handled, flood_handled, probe_iter, max_per_iter, out_of_order, want;
static uint64_t cur_iter, first_iter;
static uint64_t iteration = 1; /* counted by the before-sleep hook */
static int in_cur_iter;
static int32_t last_corr;

/* A frame: size, api_key 18, version 0, correlation id `corr`, client_id length 0, padding. */
static size_t put_frame(uint8_t *p, int32_t corr, size_t body) {
    size_t size = 10 + body;
    memset(p, 0, 4 + size);
    sl_store_be32(p, (uint32_t)size);
    p[5] = 18;
    sl_store_be32(p + 8, (uint32_t)corr);
    return 4 + size;
}

static sl_err_t on_frame(sl_conn_t *conn, const uint8_t *f, size_t len, void *opaque) {
    (void)len;
    (void)opaque;
    handled++;
    uint64_t it = iteration;
    if (!first_iter) {
        first_iter = it;
    }
    if (conn != flood_conn) {
        probe_iter = (int)it;
        return SL_OK;
    }
    flood_handled++;
    if (it != cur_iter) {
        cur_iter = it;
        in_cur_iter = 0;
    }
    in_cur_iter++;
    max_per_iter = SL_MAX(max_per_iter, in_cur_iter);
    int32_t corr = (int32_t)sl_load_be32(f + 4);
    if (corr != last_corr + 1) {
        out_of_order++;
    }
    last_corr = corr;
    return SL_OK;
}

/* What the broker's before-sleep phase does for connections (wait.c). */
static void stop_when_done(sl_loop_t *l, void *data) {
    (void)data;
    sl_conn_reap();
    iteration++;
    if (handled == want) {
        sl_loop_stop(l);
    }
}

static void give_up(sl_loop_t *l, uint64_t id, void *data) {
    (void)id;
    (void)data;
    sl_loop_stop(l); /* a hang would otherwise never end the test */
}

static void reset(void) {
    handled = flood_handled = probe_iter = max_per_iter = out_of_order = in_cur_iter = 0;
    cur_iter = first_iter = 0;
    last_corr = 0;
}

TEST(a_flooding_connection_gets_one_share_per_iteration) {
    reset();
    loop = sl_loop_new();
    CHECK(loop != NULL);
    sl_loop_before_sleep(loop, stop_when_done, NULL);
    sl_conn_hooks_t hooks = {on_frame, NULL, NULL, 1 << 20, 1 << 30, 1000000};
    int fl[2], pr[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fl) == 0);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pr) == 0);
    static uint8_t flood[N_FLOOD * 14];
    size_t n = 0;
    for (int i = 1; i <= N_FLOOD; i++) {
        n += put_frame(flood + n, i, 0);
    }
    CHECK(write(fl[1], flood, n) == (ssize_t)n);
    uint8_t one[14];
    CHECK(write(pr[1], one, put_frame(one, 1, 0)) == 14);
    flood_conn = sl_conn_new(loop, fl[0], &hooks, "flood");
    CHECK(flood_conn != NULL);
    CHECK(sl_conn_new(loop, pr[0], &hooks, "probe") != NULL);
    want = N_FLOOD + 1;
    (void)sl_loop_timer(loop, 10000, give_up, NULL);
    CHECK(sl_loop_run(loop) == SL_OK);
    CHECK_EQ_INT(flood_handled, N_FLOOD);
    CHECK_EQ_INT(out_of_order, 0);
    CHECK(max_per_iter <= SL_CONN_WORK_BUDGET_REQS);
    /* In the first iteration that handled anything, not behind the thousand requests. */
    CHECK_EQ_INT(probe_iter, first_iter);
    sl_conn_close_all();
    close(fl[1]);
    close(pr[1]);
    sl_loop_free(loop);
}

TEST(large_requests_are_shared_by_bytes) {
    reset();
    loop = sl_loop_new();
    CHECK(loop != NULL);
    sl_loop_before_sleep(loop, stop_when_done, NULL);
    sl_conn_hooks_t hooks = {on_frame, NULL, NULL, 1 << 20, 1 << 30, 1000000};
    int fl[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fl) == 0);
    int sz = 4 << 20;
    (void)setsockopt(fl[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    (void)setsockopt(fl[0], SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    uint8_t *big = sl_xcalloc(BIG_FRAMES, 14 + BIG_BYTES);
    size_t n = 0;
    for (int i = 1; i <= BIG_FRAMES; i++) {
        n += put_frame(big + n, i, BIG_BYTES);
    }
    flood_conn = sl_conn_new(loop, fl[0], &hooks, "flood");
    CHECK(flood_conn != NULL);
    size_t off = 0;
    want = BIG_FRAMES;
    (void)sl_loop_timer(loop, 10000, give_up, NULL);
    /* Write what the socket takes; the loop drains it between writes. */
    while (off < n) {
        ssize_t w = write(fl[1], big + off, n - off);
        if (w > 0) {
            off += (size_t)w;
        } else {
            break;
        }
    }
    CHECK(off == n); /* 600 KB fits the enlarged socket buffer */
    CHECK(sl_loop_run(loop) == SL_OK);
    CHECK_EQ_INT(flood_handled, BIG_FRAMES);
    CHECK_EQ_INT(out_of_order, 0);
    /* 256 KiB a share: the third 100 KiB request starts a share, so no iteration takes more. */
    CHECK(max_per_iter <= 3);
    free(big);
    sl_conn_close_all();
    close(fl[1]);
    sl_loop_free(loop);
}

/* Counts every request per iteration, whatever connection it came on. */
static int total_in_iter, max_total_later;
static uint64_t total_iter;
static sl_err_t on_frame_total(sl_conn_t *conn, const uint8_t *f, size_t len, void *opaque) {
    (void)conn, (void)f, (void)len, (void)opaque;
    handled++;
    if (iteration != total_iter) {
        total_iter = iteration;
        total_in_iter = 0;
    }
    total_in_iter++;
    if (first_iter == 0) {
        first_iter = iteration;
    }
    if (iteration > first_iter) { /* from the second iteration on, the busy ones are known */
        max_total_later = SL_MAX(max_total_later, total_in_iter);
    }
    return SL_OK;
}

/* Forty connections flooding at once share one iteration's total instead of taking a full share
 * each, so an iteration (what any other request may wait for) stays bounded as floods add up. */
TEST(many_flooding_connections_share_the_iteration) {
    reset();
    max_total_later = 0;
    total_iter = 0;
    loop = sl_loop_new();
    CHECK(loop != NULL);
    sl_loop_before_sleep(loop, stop_when_done, NULL);
    sl_conn_hooks_t hooks = {on_frame_total, NULL, NULL, 1 << 20, 1 << 30, 1000000};
    enum { CONNS = 40, EACH = 300 };
    static int peers[CONNS];
    static uint8_t frames[EACH * 14];
    size_t n = 0;
    for (int i = 1; i <= EACH; i++) {
        n += put_frame(frames + n, i, 0);
    }
    for (int c = 0; c < CONNS; c++) {
        int sv[2];
        CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
        CHECK(write(sv[1], frames, n) == (ssize_t)n);
        CHECK(sl_conn_new(loop, sv[0], &hooks, "flood") != NULL);
        peers[c] = sv[1];
    }
    want = CONNS * EACH;
    (void)sl_loop_timer(loop, 10000, give_up, NULL);
    CHECK(sl_loop_run(loop) == SL_OK);
    CHECK_EQ_INT(handled, want);
    CHECK(max_total_later > 0);
    CHECK(max_total_later <= SL_CONN_WORK_TOTAL_REQS); /* not 40 x 64 = 2,560 */
    sl_conn_close_all();
    for (int c = 0; c < CONNS; c++) {
        close(peers[c]);
    }
    sl_loop_free(loop);
}

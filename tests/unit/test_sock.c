/* test_sock.c -- the blocking client socket helpers (common/sock.h) that the replica fetchers
 * and sl_cluster_call share: dial, whole writes and reads, their errors and timeouts. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/sock.h"
#include "harness.h"

/* A listening socket on a free loopback port; its port in *port. */
static int listener(int *port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t n = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 4) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &n) < 0) {
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define BIG (1u << 20) /* more than the loopback socket buffers hold: writes are partial */

typedef struct {
    int fd;
    const uint8_t *p;
    bool ok;
} writer_t;

static void *write_big(void *arg) {
    writer_t *w = arg;
    w->ok = sl_sock_write_all(w->fd, w->p, BIG);
    close(w->fd);
    return NULL;
}

TEST(dial_connects_and_moves_whole_buffers_both_ways) {
    int port = 0, lfd = listener(&port);
    CHECK(lfd >= 0);
    char err[128] = "";
    int fd = sl_sock_dial("127.0.0.1", port, 2000, 5000, err, sizeof err);
    CHECK(fd >= 0);
    int sfd = accept(lfd, NULL, NULL);
    CHECK(sfd >= 0);
    uint8_t *out = malloc(BIG), *in = malloc(BIG + 1);
    CHECK(out && in);
    for (size_t i = 0; i < BIG; i++) {
        out[i] = (uint8_t)(i * 31 + (i >> 12));
    }
    writer_t w = {sfd, out, false};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, write_big, &w) == 0);
    bool got = sl_sock_read_all(fd, in, BIG);
    /* the writer closed its end: one byte more is end of stream, not a success */
    bool more = sl_sock_read_all(fd, in + BIG, 1);
    pthread_join(th, NULL);
    bool same = memcmp(in, out, BIG) == 0;
    free(out);
    free(in);
    close(fd);
    close(lfd);
    CHECK(w.ok);
    CHECK(got);
    CHECK(same);
    CHECK(!more);
}

TEST(dial_to_a_closed_port_fails_with_the_reason) {
    int port = 0, lfd = listener(&port);
    CHECK(lfd >= 0);
    close(lfd); /* nothing listens there now: the connection is refused */
    char err[128] = "";
    int fd = sl_sock_dial("127.0.0.1", port, 2000, 5000, err, sizeof err);
    CHECK_EQ_INT(fd, -1);
    char want[64];
    snprintf(want, sizeof want, "connect 127.0.0.1:%d: ", port);
    CHECK(strncmp(err, want, strlen(want)) == 0);
}

TEST(a_silent_peer_times_the_read_out) {
    int port = 0, lfd = listener(&port);
    CHECK(lfd >= 0);
    int fd = sl_sock_dial("127.0.0.1", port, 2000, 300, NULL, 0);
    CHECK(fd >= 0);
    int sfd = accept(lfd, NULL, NULL);
    CHECK(sfd >= 0);
    uint8_t b[8];
    double t0 = now_s();
    bool got = sl_sock_read_all(fd, b, sizeof b);
    double took = now_s() - t0;
    close(fd);
    close(sfd);
    close(lfd);
    CHECK(!got);
    CHECK(took >= 0.25);
    CHECK(took < 30);
}

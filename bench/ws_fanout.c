/* ws_fanout.c -- the gateway's WebSocket fan-out figure: CONNS WebSocket clients stream one
 * topic (`/ws/topics/TOPIC?format=string`, live) from `sluice gateway` while a librdkafka
 * producer writes RATE records/s to it. Each record's value is "SEQ SENT_US pad...", SENT_US the
 * wall clock when it was handed to the producer; a client frame's delivery latency is its
 * arrival time minus SENT_US. Records of the first WARMUP seconds are not counted (the streams'
 * consumers start at "latest" once their connection is up), then SECONDS are measured and DRAIN
 * seconds more are read for late deliveries.
 *   ws_fanout -g GW_HOST:PORT -b BROKERS -t TOPIC -n CONNS -r RATE -d SECONDS [-w WARMUP]
 *             [-s SIZE] [-k API_KEY]
 * Prints one line: connections held (handshake 101 and still open at the end), refused,
 * records produced in the window, frames delivered of expected (held x produced), delivered
 * frames/s, and the latency p50/p99/max in ms. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_util.h"
#include "common/hist.h"

#define BUF_CAP (256 * 1024) /* per connection: a frame larger than this is an error */

typedef struct client {
    int fd;
    bool open;
    size_t len;
    uint8_t *buf;
} client_t;

static const char *gw_host = "127.0.0.1", *brokers = "127.0.0.1:9092", *topic = "ws-fanout";
static const char *api_key;
static int gw_port = 8080, conns = 100, rate = 100, seconds = 10, warmup = 3, size = 64;
static atomic_long win_first = -1, win_last = -1; /* sequence numbers produced in the window */
static atomic_int producing = 1;

static int64_t wall_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Connects and sends the handshake; returns the fd once the answer's head is read and is 101,
 * else -1 (the status, or 0 when the connection was closed, in *status). */
static int ws_connect(int *status) {
    *status = 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)gw_port)};
    inet_pton(AF_INET, gw_host, &sin.sin_addr);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof sin)) {
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "GET /ws/topics/%s?format=string HTTP/1.1\r\nHost: %s:%d\r\n"
                     "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                     "%s%s%s\r\n",
                     topic, gw_host, gw_port, api_key ? "X-API-Key: " : "", api_key ? api_key : "",
                     api_key ? "\r\n" : "");
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    /* Read the head one byte at a time: the stream's frames may follow it at once. */
    char head[4096];
    size_t h = 0;
    while (h + 1 < sizeof head) {
        ssize_t r = read(fd, head + h, 1);
        if (r <= 0) {
            close(fd);
            return -1;
        }
        h++;
        if (h >= 4 && !memcmp(head + h - 4, "\r\n\r\n", 4)) {
            break;
        }
    }
    head[h] = '\0';
    if (sscanf(head, "HTTP/1.1 %d", status) != 1 || *status != 101) {
        close(fd);
        return -1;
    }
    return fd;
}

static void *producer_main(void *arg) {
    rd_kafka_t *rk = arg;
    char *val = malloc((size_t)size + 64);
    double t0 = now_s(), period = 1.0 / rate;
    long seq = 0;
    for (;;) {
        double at = t0 + (double)seq * period, now = now_s();
        if (at > now) {
            struct timespec ts = {(time_t)(at - now),
                                  (long)((at - now - (double)(time_t)(at - now)) * 1e9)};
            nanosleep(&ts, NULL);
        }
        double el = now_s() - t0;
        if (el >= warmup + seconds) {
            break;
        }
        bool in_window = el >= warmup;
        int n = snprintf(val, 64, "%ld %lld ", seq, (long long)wall_us());
        while (n < size) {
            val[n++] = 'x';
        }
        if (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE(val, (size_t)n),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (in_window) {
                if (win_first < 0) {
                    win_first = seq;
                }
                win_last = seq;
            }
        } else {
            fprintf(stderr, "produce failed at %ld\n", seq);
        }
        rd_kafka_poll(rk, 0);
        seq++;
    }
    rd_kafka_flush(rk, 10000);
    free(val);
    producing = 0;
    return NULL;
}

/* Parses complete frames in c->buf: text frames count when their record is in the window. */
static bool frames(client_t *c, sl_hist_t *lat, long *delivered) {
    size_t off = 0;
    while (c->len - off >= 2) {
        const uint8_t *p = c->buf + off;
        int op = p[0] & 0x0f;
        uint64_t plen = p[1] & 0x7f;
        size_t hdr = 2;
        if (plen == 126) {
            if (c->len - off < 4) {
                break;
            }
            plen = (uint64_t)p[2] << 8 | p[3];
            hdr = 4;
        } else if (plen == 127) {
            if (c->len - off < 10) {
                break;
            }
            plen = 0;
            for (int i = 0; i < 8; i++) {
                plen = plen << 8 | p[2 + i];
            }
            hdr = 10;
        }
        if (plen > BUF_CAP - 16) {
            return false;
        }
        if (c->len - off < hdr + plen) {
            break;
        }
        if (op == 8) {
            return false; /* the gateway closed the stream */
        }
        if (op == 1) {
            const char *s = (const char *)p + hdr;
            const char *v = memmem(s, plen, "\"value\":\"", 9);
            long seq;
            long long sent;
            /* Nothing is produced after the window: in it = at or after its first record. */
            if (v && sscanf(v + 9, "%ld %lld", &seq, &sent) == 2 && win_first >= 0 &&
                seq >= win_first) {
                int64_t d = wall_us() - sent;
                sl_hist_record(lat, d > 0 ? (uint64_t)d : 0);
                (*delivered)++;
            }
        }
        off += hdr + plen;
    }
    memmove(c->buf, c->buf + off, c->len - off);
    c->len -= off;
    return true;
}

int main(int argc, char **argv) {
    int o;
    while ((o = getopt(argc, argv, "g:b:t:n:r:d:w:s:k:")) != -1) {
        switch (o) {
        case 'g': {
            static char host[256];
            snprintf(host, sizeof host, "%s", optarg);
            char *colon = strrchr(host, ':');
            if (!colon) {
                fprintf(stderr, "-g HOST:PORT\n");
                return 2;
            }
            *colon = '\0';
            gw_host = host;
            gw_port = atoi(colon + 1);
            break;
        }
        case 'b':
            brokers = optarg;
            break;
        case 't':
            topic = optarg;
            break;
        case 'n':
            conns = atoi(optarg);
            break;
        case 'r':
            rate = atoi(optarg);
            break;
        case 'd':
            seconds = atoi(optarg);
            break;
        case 'w':
            warmup = atoi(optarg);
            break;
        case 's':
            size = atoi(optarg);
            break;
        case 'k':
            api_key = optarg;
            break;
        default:
            fprintf(stderr, "usage: ws_fanout -g HOST:PORT -b BROKERS -t TOPIC -n CONNS -r RATE "
                            "-d SECONDS [-w WARMUP] [-s SIZE] [-k API_KEY]\n");
            return 2;
        }
    }
    if (conns < 1 || rate < 1 || seconds < 1 || warmup < 0 || size < 32 || size > 65536) {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    client_t *cl = calloc((size_t)conns, sizeof *cl);
    int held = 0, refused = 0, ep = epoll_create1(0);
    double tc = now_s();
    for (int i = 0; i < conns; i++) {
        int status;
        cl[i].fd = ws_connect(&status);
        if (cl[i].fd < 0) {
            refused++;
            continue;
        }
        fcntl(cl[i].fd, F_SETFL, fcntl(cl[i].fd, F_GETFL) | O_NONBLOCK);
        cl[i].open = true;
        cl[i].buf = malloc(BUF_CAP);
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, cl[i].fd, &ev);
        held++;
    }
    fprintf(stderr, "ws_fanout: %d connections up, %d refused, in %.1f s\n", held, refused,
            now_s() - tc);

    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    conf_set(conf, "bootstrap.servers", brokers);
    conf_set(conf, "linger.ms", "0");
    conf_set(conf, "acks", "1");
    char err[256];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "producer: %s\n", err);
        return 1;
    }
    pthread_t pt;
    pthread_create(&pt, NULL, producer_main, rk);

    sl_hist_t *lat = sl_hist_new();
    long delivered = 0;
    double drain_end = 0;
    struct epoll_event evs[256];
    for (;;) {
        if (!producing && drain_end == 0) {
            drain_end = now_s() + 3.0;
        }
        if (drain_end && now_s() >= drain_end) {
            break;
        }
        int n = epoll_wait(ep, evs, 256, 100);
        for (int e = 0; e < n; e++) {
            client_t *c = &cl[evs[e].data.u32];
            for (;;) {
                ssize_t r = read(c->fd, c->buf + c->len, BUF_CAP - c->len);
                if (r > 0) {
                    c->len += (size_t)r;
                    if (!frames(c, lat, &delivered)) {
                        r = 0;
                    } else {
                        continue;
                    }
                }
                if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
                    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                    close(c->fd);
                    c->fd = -1;
                    c->open = false;
                }
                break;
            }
        }
    }
    pthread_join(pt, NULL);
    int still = 0;
    for (int i = 0; i < conns; i++) {
        still += cl[i].open;
        if (cl[i].fd >= 0) {
            close(cl[i].fd);
        }
        free(cl[i].buf);
    }
    long produced = win_first >= 0 ? win_last - win_first + 1 : 0;
    long expected = produced * still;
    printf("conns %d held %d refused %d produced %ld (%d/s x %d s) delivered %ld of %ld (%.2f%%) "
           "frames/s %.0f latency p50 %.2f ms p99 %.2f ms max %.2f ms\n",
           conns, still, refused, produced, rate, seconds, delivered, expected,
           expected ? 100.0 * (double)delivered / (double)expected : 0.0,
           (double)delivered / seconds, (double)sl_hist_quantile(lat, 0.50) / 1000.0,
           (double)sl_hist_quantile(lat, 0.99) / 1000.0, (double)sl_hist_max(lat) / 1000.0);
    sl_hist_free(lat);
    rd_kafka_destroy(rk);
    free(cl);
    close(ep);
    return 0;
}

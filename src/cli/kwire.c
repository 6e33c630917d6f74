/* kwire.c -- the Kafka protocol spoken directly, for the few requests librdkafka 2.0 has no call
 * for (see cli.h): a blocking socket, one request at a time, the codec's bounds-checked readers.
 * Requests use header v1 (v0 APIs) or v2 (flexible APIs). */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli/cli.h"

#define MAX_FRAME (16 << 20)

static void set_timeouts(int fd, int ms) {
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

int sl_cli_dial(const char *host, int port) {
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
    int gai = getaddrinfo(host, ps, &hints, &ai);
    if (gai) {
        fprintf(stderr, "sluice: %s:%d: %s\n", host, port, gai_strerror(gai));
        return -1;
    }
    int fd = socket(ai->ai_family, ai->ai_socktype, 0);
    if (fd >= 0) {
        set_timeouts(fd, SL_CLI_CONNECT_MS); /* Linux's connect() honours SO_SNDTIMEO */
    }
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        fprintf(stderr, "sluice: cannot connect to %s:%d: %m\n", host, port);
        if (fd >= 0) {
            close(fd);
        }
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    set_timeouts(fd, SL_CLI_TIMEOUT_MS);
    return fd;
}

int sl_cli_dial_first(const char *brokers, const char *cmd) {
    char hp[256];
    snprintf(hp, sizeof hp, "%s", brokers);
    hp[strcspn(hp, ",")] = '\0';
    char *colon = strrchr(hp, ':');
    if (!colon) {
        sl_cli_error(cmd, "expected -b HOST:PORT");
        return -1;
    }
    *colon = '\0';
    return sl_cli_dial(hp, atoi(colon + 1));
}

static bool io_all(int fd, void *p, size_t n, bool wr) {
    uint8_t *b = p;
    while (n > 0) {
        ssize_t k = wr ? send(fd, b, n, MSG_NOSIGNAL) : recv(fd, b, n, 0);
        if (k <= 0) {
            return false;
        }
        b += k;
        n -= (size_t)k;
    }
    return true;
}

void sl_cli_req_begin(sl_writer_t *w, int16_t api, int16_t ver, bool flex) {
    sl_wr_i32(w, 0);
    sl_wr_i16(w, api);
    sl_wr_i16(w, ver);
    sl_wr_i32(w, 1); /* correlation id: one request per connection at a time */
    sl_wr_strz(w, false, "sluice-cli");
    sl_wr_tags(w, flex);
}

bool sl_cli_roundtrip(int fd, sl_buf_t *buf, bool flex, sl_buf_t *resp, sl_reader_t *rd) {
    sl_writer_t w = {buf};
    sl_wr_patch_i32(&w, 0, (int32_t)(buf->len - 4));
    uint8_t szb[4];
    if (!io_all(fd, buf->data, buf->len, true) || !io_all(fd, szb, 4, false)) {
        sl_cli_error("request", "the broker closed the connection or did not answer");
        return false;
    }
    uint32_t sz = (uint32_t)szb[0] << 24 | (uint32_t)szb[1] << 16 | (uint32_t)szb[2] << 8 | szb[3];
    if (sz < 4 || sz > MAX_FRAME) {
        sl_cli_error("response", "bad frame size");
        return false;
    }
    sl_buf_reserve(resp, sz);
    if (!io_all(fd, resp->data, sz, false)) {
        sl_cli_error("response", "truncated");
        return false;
    }
    resp->len = sz;
    *rd = sl_reader_init(resp->data, sz);
    if (sl_rd_i32(rd) != 1) {
        sl_cli_error("response", "unexpected correlation id");
        return false;
    }
    sl_rd_tags(rd, flex);
    return rd->err == SL_OK;
}

int sl_cli_has_api(rd_kafka_t *rk, int16_t api) {
    const struct rd_kafka_metadata *md = sl_cli_metadata(rk);
    if (!md) {
        return -1;
    }
    int has = md->broker_cnt > 0 ? 1 : 0;
    for (int b = 0; b < md->broker_cnt && has == 1; b++) {
        int fd = sl_cli_dial(md->brokers[b].host, md->brokers[b].port);
        if (fd < 0) {
            has = -1;
            break;
        }
        sl_buf_t req = {0}, resp = {0};
        sl_writer_t w = {&req};
        sl_cli_req_begin(&w, 18, 0, false); /* ApiVersions v0: no body */
        sl_reader_t rd;
        if (!sl_cli_roundtrip(fd, &req, false, &resp, &rd)) {
            has = -1;
        } else {
            int16_t ec = sl_rd_i16(&rd);
            int32_t n = sl_rd_count(&rd, false, 6);
            bool found = false;
            for (int32_t i = 0; i < n && !rd.err; i++) {
                int16_t key = sl_rd_i16(&rd);
                sl_rd_i16(&rd);
                sl_rd_i16(&rd);
                found |= key == api;
            }
            if (rd.err || ec) {
                sl_cli_error("ApiVersions", rd.err ? "malformed response"
                                                   : rd_kafka_err2str((rd_kafka_resp_err_t)ec));
                has = -1;
            } else {
                has = found;
            }
        }
        sl_buf_fini(&req);
        sl_buf_fini(&resp);
        close(fd);
    }
    rd_kafka_metadata_destroy(md);
    return has;
}

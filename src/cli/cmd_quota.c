/* cmd_quota.c -- `sluice quota set|describe`: client quotas through AlterClientQuotas (49) and
 * DescribeClientQuotas (48), version 0, on a plain socket (librdkafka has no client-quota API).
 * Works against any Kafka broker that serves these APIs (2.6+).
 *
 *   sluice quota set ENTITY [--producer-byte-rate N] [--consumer-byte-rate N]
 *                           [--request-percentage P] [--connection-creation-rate N]
 *                           [--delete KEY]... [--validate-only]
 *   sluice quota describe [ENTITY filter] [--strict]
 * ENTITY: --user NAME | --user-default, --client-id NAME | --client-id-default,
 *         --ip ADDR | --ip-default. For describe, a name matches exactly, -default matches the
 *         default entity, and --any-user / --any-client-id / --any-ip match any.
 * describe prints one line per entity: `user=NAME client-id=<default> producer_byte_rate=N`. */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/buf.h"
#include "common/codec.h"
#include "common/util.h"

#define IO_TIMEOUT_S 15
#define MAX_FRAME    (64u << 20)

static void usage(FILE *f) {
    fprintf(f, "usage: sluice quota set ENTITY [--producer-byte-rate N] [--consumer-byte-rate N]\n"
               "                        [--request-percentage P] [--connection-creation-rate N]\n"
               "                        [--delete KEY]... [--validate-only]\n"
               "       sluice quota describe [ENTITY filter] [--strict]\n"
               "ENTITY: --user NAME | --user-default, --client-id NAME | --client-id-default,\n"
               "        --ip ADDR | --ip-default (describe also: --any-user, --any-client-id, "
               "--any-ip)\n"
               "KEY: producer_byte_rate, consumer_byte_rate, request_percentage,\n"
               "     connection_creation_rate (ip entities only)\n"
               "options: -b HOST:PORT (default 127.0.0.1:9092)\n");
}

/* One entity component: type, and how it was given (0 a name, 1 the default, 2 any). */
typedef struct comp {
    const char *type;
    int how;
    const char *name;
} comp_t;

typedef struct quota_op {
    const char *key;
    double value;
    bool remove;
} quota_op_t;

static int connect_to(const char *brokers) {
    char hostport[256];
    snprintf(hostport, sizeof hostport, "%s", brokers);
    char *comma = strchr(hostport, ',');
    if (comma) {
        *comma = '\0';
    }
    char *colon = strrchr(hostport, ':');
    if (!colon) {
        sl_cli_error("quota", "expected -b HOST:PORT");
        return -1;
    }
    *colon = '\0';
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(hostport, colon + 1, &hints, &res);
    if (rc != 0) {
        sl_cli_error("quota", gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) < 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) {
        sl_cli_error("quota: connect", strerror(errno));
        return -1;
    }
    struct timeval tv = {IO_TIMEOUT_S, 0};
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return fd;
}

static bool io_all(int fd, void *p, size_t n, bool wr) {
    uint8_t *b = p;
    while (n) {
        ssize_t k = wr ? send(fd, b, n, MSG_NOSIGNAL) : recv(fd, b, n, 0);
        if (k <= 0) {
            if (k < 0 && errno == EINTR) {
                continue;
            }
            return false;
        }
        b += k;
        n -= (size_t)k;
    }
    return true;
}

/* Sends the request in `req` (size placeholder first) and reads the response frame into `resp`
 * (after the correlation id). */
static bool round_trip(int fd, sl_buf_t *req, sl_buf_t *resp) {
    sl_writer_t wr = {req};
    sl_wr_patch_i32(&wr, 0, (int32_t)(req->len - 4));
    uint8_t hdr[4];
    if (!io_all(fd, req->data, req->len, true) || !io_all(fd, hdr, 4, false)) {
        sl_cli_error("quota", "no answer from the broker");
        return false;
    }
    uint32_t n = sl_load_be32(hdr);
    if (n < 4 || n > MAX_FRAME) {
        sl_cli_error("quota", "bad response size");
        return false;
    }
    sl_buf_reserve(resp, n);
    if (!io_all(fd, resp->data, n, false)) {
        sl_cli_error("quota", "truncated response");
        return false;
    }
    resp->len = n;
    return true;
}

static void begin(sl_writer_t *wr, int16_t api_key) {
    sl_wr_i32(wr, 0);
    sl_wr_i16(wr, api_key);
    sl_wr_i16(wr, 0); /* version 0: no flexible encodings */
    sl_wr_i32(wr, 1);
    sl_wr_strz(wr, false, "sluice-cli");
}

static void wr_f64(sl_writer_t *wr, double d) {
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    sl_wr_i64(wr, (int64_t)bits);
}

static double rd_f64(sl_reader_t *rd) {
    uint64_t bits = (uint64_t)sl_rd_i64(rd);
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

static void print_entity(sl_reader_t *rd) {
    int32_t n = sl_rd_count(rd, false, 4);
    for (int32_t i = 0; i < n && !rd->err; i++) {
        sl_str_t t = sl_rd_str(rd, false), name = sl_rd_str(rd, false);
        printf("%s%.*s=%.*s", i ? " " : "", (int)t.len, t.p ? t.p : "", name.p ? (int)name.len : 9,
               name.p ? name.p : "<default>");
    }
}

static int quota_set(int fd, const comp_t *comps, int n_comps, const quota_op_t *ops, int n_ops,
                     bool validate_only) {
    sl_buf_t req = {0}, resp = {0};
    sl_writer_t wr = {&req};
    begin(&wr, 49);
    sl_wr_i32(&wr, 1);
    sl_wr_i32(&wr, n_comps);
    for (int i = 0; i < n_comps; i++) {
        sl_wr_strz(&wr, false, comps[i].type);
        sl_wr_strz(&wr, false, comps[i].how == 0 ? comps[i].name : NULL);
    }
    sl_wr_i32(&wr, n_ops);
    for (int i = 0; i < n_ops; i++) {
        sl_wr_strz(&wr, false, ops[i].key);
        wr_f64(&wr, ops[i].value);
        sl_wr_bool(&wr, ops[i].remove);
    }
    sl_wr_bool(&wr, validate_only);
    int rc = 1;
    if (round_trip(fd, &req, &resp)) {
        sl_reader_t rd = sl_reader_init(resp.data, resp.len);
        (void)sl_rd_i32(&rd); /* correlation id */
        (void)sl_rd_i32(&rd); /* throttle_time_ms */
        int32_t n = sl_rd_count(&rd, false, 4);
        int16_t err = n == 1 ? sl_rd_i16(&rd) : -1;
        sl_str_t msg = sl_rd_str(&rd, false);
        if (rd.err || n != 1) {
            sl_cli_error("quota", "malformed response");
        } else if (err) {
            fprintf(stderr, "sluice: quota: error %d: %.*s\n", err, (int)msg.len,
                    msg.p ? msg.p : "");
        } else {
            rc = 0;
        }
    }
    sl_buf_fini(&req);
    sl_buf_fini(&resp);
    return rc;
}

static int quota_describe(int fd, const comp_t *comps, int n_comps, bool strict) {
    sl_buf_t req = {0}, resp = {0};
    sl_writer_t wr = {&req};
    begin(&wr, 48);
    sl_wr_i32(&wr, n_comps);
    for (int i = 0; i < n_comps; i++) {
        sl_wr_strz(&wr, false, comps[i].type);
        sl_wr_i8(&wr, (int8_t)comps[i].how);
        sl_wr_strz(&wr, false, comps[i].how == 0 ? comps[i].name : NULL);
    }
    sl_wr_bool(&wr, strict);
    int rc = 1;
    if (round_trip(fd, &req, &resp)) {
        sl_reader_t rd = sl_reader_init(resp.data, resp.len);
        (void)sl_rd_i32(&rd);
        (void)sl_rd_i32(&rd);
        int16_t err = sl_rd_i16(&rd);
        sl_str_t msg = sl_rd_str(&rd, false);
        if (err && !rd.err) {
            fprintf(stderr, "sluice: quota: error %d: %.*s\n", err, (int)msg.len,
                    msg.p ? msg.p : "");
        } else {
            int32_t n = sl_rd_count(&rd, false, 8);
            for (int32_t i = 0; i < n && !rd.err; i++) {
                print_entity(&rd);
                int32_t nv = sl_rd_count(&rd, false, 10);
                for (int32_t j = 0; j < nv && !rd.err; j++) {
                    sl_str_t k = sl_rd_str(&rd, false);
                    double v = rd_f64(&rd);
                    printf(" %.*s=%.17g", (int)k.len, k.p ? k.p : "", v);
                }
                printf("\n");
            }
            if (rd.err) {
                sl_cli_error("quota", "malformed response");
            } else {
                rc = 0;
            }
        }
    }
    sl_buf_fini(&req);
    sl_buf_fini(&resp);
    return rc;
}

static bool parse_num(const char *s, double *out) {
    char *end;
    errno = 0;
    *out = strtod(s, &end);
    return *s && !*end && errno == 0;
}

int sl_cmd_quota(int argc, char **argv) {
    enum {
        O_USER = 256,
        O_USER_DEF,
        O_USER_ANY,
        O_CLIENT,
        O_CLIENT_DEF,
        O_CLIENT_ANY,
        O_IP,
        O_IP_DEF,
        O_IP_ANY,
        O_PBR,
        O_CBR,
        O_RP,
        O_CCR,
        O_DELETE,
        O_VALIDATE,
        O_STRICT
    };
    static const struct option longopts[] = {
        {"user", required_argument, 0, O_USER},
        {"user-default", no_argument, 0, O_USER_DEF},
        {"any-user", no_argument, 0, O_USER_ANY},
        {"client-id", required_argument, 0, O_CLIENT},
        {"client-id-default", no_argument, 0, O_CLIENT_DEF},
        {"any-client-id", no_argument, 0, O_CLIENT_ANY},
        {"ip", required_argument, 0, O_IP},
        {"ip-default", no_argument, 0, O_IP_DEF},
        {"any-ip", no_argument, 0, O_IP_ANY},
        {"producer-byte-rate", required_argument, 0, O_PBR},
        {"consumer-byte-rate", required_argument, 0, O_CBR},
        {"request-percentage", required_argument, 0, O_RP},
        {"connection-creation-rate", required_argument, 0, O_CCR},
        {"delete", required_argument, 0, O_DELETE},
        {"validate-only", no_argument, 0, O_VALIDATE},
        {"strict", no_argument, 0, O_STRICT},
        {"brokers", required_argument, 0, 'b'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    static const char *const types[] = {"user", "client-id", "ip"};
    static const char *const keys[] = {"producer_byte_rate", "consumer_byte_rate",
                                       "request_percentage", "connection_creation_rate"};
    const char *brokers = "127.0.0.1:9092";
    comp_t comps[3];
    int n_comps = 0;
    quota_op_t ops[16];
    int n_ops = 0;
    bool validate_only = false, strict = false;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "b:h", longopts, NULL)) != -1) {
        if (opt >= O_USER && opt <= O_IP_ANY) {
            int t = (opt - O_USER) / 3, how = (opt - O_USER) % 3;
            if (n_comps == 3) {
                usage(stderr);
                return 2;
            }
            comps[n_comps++] = (comp_t){types[t], how, how == 0 ? optarg : NULL};
        } else if (opt >= O_PBR && opt <= O_DELETE) {
            if (n_ops == (int)SL_ARRAY_LEN(ops)) {
                usage(stderr);
                return 2;
            }
            quota_op_t *o = &ops[n_ops++];
            *o = (quota_op_t){opt == O_DELETE ? optarg : keys[opt - O_PBR], 0, opt == O_DELETE};
            if (!o->remove && !parse_num(optarg, &o->value)) {
                sl_cli_error("quota", "expected a number");
                return 2;
            }
        } else if (opt == O_VALIDATE) {
            validate_only = true;
        } else if (opt == O_STRICT) {
            strict = true;
        } else if (opt == 'b') {
            brokers = optarg;
        } else if (opt == 'h') {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (optind + 1 != argc) {
        usage(stderr);
        return 2;
    }
    const char *sub = argv[optind];
    bool set = !strcmp(sub, "set");
    if (!set && strcmp(sub, "describe")) {
        usage(stderr);
        return 2;
    }
    for (int i = 0; i < n_comps; i++) {
        if (set && comps[i].how == 2) {
            sl_cli_error("quota", "set needs a name or -default, not --any-*");
            return 2;
        }
    }
    if (set && (n_comps == 0 || n_ops == 0)) {
        sl_cli_error("quota", "set needs an entity and at least one quota or --delete");
        return 2;
    }
    int fd = connect_to(brokers);
    if (fd < 0) {
        return 1;
    }
    int rc = set ? quota_set(fd, comps, n_comps, ops, n_ops, validate_only)
                 : quota_describe(fd, comps, n_comps, strict);
    close(fd);
    return rc;
}

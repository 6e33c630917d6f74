/* env.c -- the simulated clock, the broker's lifecycle on a temporary data directory, and
 * socketpair clients whose responses are checked against their requests (see env.h). */
#include "env.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/conf.h"
#include "common/log.h"

void fz_fail(const char *file, int line, const char *cond, const char *fmt, ...) {
    fprintf(stderr, "fuzz invariant broken at %s:%d: %s: ", file, line, cond);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

/* ---- the simulated clock: replaces src/common/clock.c in the fuzz binaries ---- */

#define START_NS     1000000000000ull /* an arbitrary non-zero monotonic origin */
#define WALL_BASE_MS 1767225600000ll  /* 2026-01-01T00:00:00Z */

static _Atomic uint64_t now_ns = START_NS;

uint64_t sl_mono_ns(void) {
    return atomic_load_explicit(&now_ns, memory_order_relaxed);
}

uint64_t sl_mono_ms(void) {
    return sl_mono_ns() / 1000000ull;
}

int64_t sl_wall_ms(void) {
    return WALL_BASE_MS + (int64_t)(sl_mono_ms() - START_NS / 1000000ull);
}

void fz_advance(sl_broker_t *b, uint64_t ms) {
    atomic_fetch_add_explicit(&now_ns, ms * 1000000ull, memory_order_relaxed);
    sl_loop_run_due(b->loop);
}

/* ---- the broker ---- */

static char data_dir[256];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

/* Caps the descriptors (hard limit too: the broker raises its soft limit to the hard one) at
 * FUZZ_NOFILE, default 2048. A CreateTopics for 50,000 partitions then meets EMFILE within a
 * second instead of opening files for 20 s (robustness.md, defect 2), which keeps every input
 * fast and sends the fuzzer down the descriptor-exhaustion paths. */
static void cap_descriptors(void) {
    const char *env = getenv("FUZZ_NOFILE");
    rlim_t want = env && atol(env) > 0 ? (rlim_t)atol(env) : 2048;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
        (rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want)) {
        rl.rlim_max = want;
        rl.rlim_cur = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > want ? want : rl.rlim_cur;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
}

sl_broker_t *fz_broker_start(const char *const *sets) {
    cap_descriptors();
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(data_dir, sizeof data_dir, "%s/sluice-fuzz-XXXXXX", base);
    FZ_CHECK(mkdtemp(data_dir) != NULL, "mkdtemp %s: %s", data_dir, strerror(errno));
    sl_broker_conf_t conf;
    sl_conf_defaults(sl_broker_conf_defs, sl_broker_conf_n_defs, &conf);
    const char *level = getenv("FUZZ_LOG_LEVEL");
    const char *fixed[] = {"listeners=127.0.0.1:0", "admin.listen=none", "log.sync.threads=1",
                           "num.partitions=2", NULL};
    const char *const *lists[] = {fixed, sets};
    for (size_t l = 0; l < 2; l++) {
        for (size_t i = 0; lists[l] && lists[l][i]; i++) {
            char err[SL_ERRLEN] = "";
            FZ_CHECK(sl_conf_set_kv(sl_broker_conf_defs, sl_broker_conf_n_defs, &conf, lists[l][i],
                                    err) == SL_OK,
                     "%s: %s", lists[l][i], err);
        }
    }
    snprintf(conf.data_dir, sizeof conf.data_dir, "%s", data_dir);
    snprintf(conf.log_level, sizeof conf.log_level, "%s", level ? level : "error");
    char err[SL_ERRLEN] = "";
    sl_broker_t *b = sl_broker_new(&conf, err);
    FZ_CHECK(b != NULL, "broker: %s", err);
    return b;
}

/* sl_broker_new keeps its data-directory lock open for the life of the process (a daemon runs
 * one broker) and sl_broker_free does not close it: close it here, or each broker started in
 * this process would cost a descriptor. */
static void close_lock_fd(void) {
    char lock[sizeof data_dir + 8];
    snprintf(lock, sizeof lock, "%s/.lock", data_dir);
    DIR *d = opendir("/proc/self/fd");
    if (!d) {
        return;
    }
    int self = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int fd = atoi(e->d_name);
        char link[64], target[sizeof lock + 16];
        snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (fd != self && n == (ssize_t)strlen(lock) && memcmp(target, lock, (size_t)n) == 0) {
            close(fd);
        }
    }
    closedir(d);
}

void fz_broker_stop(sl_broker_t *b) {
    sl_broker_flush(b);
    sl_fetch_recheck(b, true);
    sl_conn_close_all();
    sl_broker_free(b);
    close_lock_fd();
    (void)nftw(data_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void fz_settle(sl_broker_t *b, bool expire_fetches) {
    sl_broker_flush(b);
    sl_fetch_recheck(b, expire_fetches);
    sl_broker_before_sleep(b->loop, b);
    while (sl_topicwork_pending(b)) { /* topics created or deleted in slices (topicwork.c) */
        sl_topicwork_run(b->loop, b);
    }
}

/* ---- clients ---- */

void fz_client_open(fz_client_t *c, sl_broker_t *b, bool strict, fz_resp_fn *on_resp,
                    void *opaque) {
    int sv[2];
    FZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0,
             "socketpair: %s", strerror(errno));
    /* Room for every response a burst of requests gets before the harness reads them. */
    int sz = 4 << 20;
    (void)setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    (void)setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    sl_conn_hooks_t hooks = {
        .on_frame = sl_broker_on_frame,
        .on_close = sl_broker_on_close,
        .opaque = b,
        .max_frame_bytes = (size_t)b->conf.socket_request_max_bytes,
        .out_high_bytes = (size_t)b->conf.connection_out_high_bytes,
        .max_inflight = (size_t)b->conf.max_inflight_requests,
    };
    c->n_pending = 0;
    c->in_len = 0;
    c->strict = strict;
    c->on_resp = on_resp;
    c->opaque = opaque;
    c->peer = sv[0];
    c->conn = sl_conn_new(b->loop, sv[1], &hooks, "127.0.0.1:fuzz");
    FZ_CHECK(c->conn != NULL, "sl_conn_new failed");
}

bool fz_client_alive(const fz_client_t *c) {
    return c->conn != NULL;
}

static int16_t be16(const uint8_t *p) {
    return (int16_t)((uint16_t)p[0] << 8 | p[1]);
}

static int32_t be32(const uint8_t *p) {
    return (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
}

/* An unsigned varint at *pos (at most 5 bytes); false past `len`. */
static bool read_uvarint(const uint8_t *p, size_t len, size_t *pos, uint32_t *out) {
    uint32_t v = 0;
    for (int i = 0; i < 5 && *pos < len; i++) {
        uint8_t b = p[(*pos)++];
        v |= (uint32_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false;
}

/* The acks of a Produce request frame, or INT32_MIN when the frame is too mangled to say (the
 * broker then refuses it or answers; either way silence is allowed). Knowing acks tells an
 * unanswered acks=0 produce from one whose answer must come, which matters when a fuzzed stream
 * repeats a correlation id. */
static int32_t produce_acks(const uint8_t *frame, size_t len) {
    int16_t version = be16(frame + 2);
    bool flex = version >= 9;
    size_t pos = 8;
    if (pos + 2 > len) {
        return INT32_MIN;
    }
    int16_t cid = be16(frame + pos);
    pos += 2 + (size_t)(cid > 0 ? cid : 0);
    uint32_t n, v;
    if (flex) { /* request header v2: tagged fields */
        if (!read_uvarint(frame, len, &pos, &n)) {
            return INT32_MIN;
        }
        for (uint32_t i = 0; i < n; i++) {
            if (!read_uvarint(frame, len, &pos, &v) || !read_uvarint(frame, len, &pos, &v) ||
                v > len - pos) {
                return INT32_MIN;
            }
            pos += v;
        }
    }
    if (version >= 3) { /* transactional_id */
        if (flex) {
            if (!read_uvarint(frame, len, &pos, &v)) {
                return INT32_MIN;
            }
            pos += v > 0 ? v - 1 : 0;
        } else {
            if (pos + 2 > len) {
                return INT32_MIN;
            }
            int16_t tl = be16(frame + pos);
            pos += 2 + (size_t)(tl > 0 ? tl : 0);
        }
    }
    return pos + 2 <= len ? be16(frame + pos) : INT32_MIN;
}

bool fz_client_send(fz_client_t *c, sl_broker_t *b, const uint8_t *frame, size_t len, int tag) {
    fz_client_drain(c); /* the broker may have closed it (idle, partial request, eviction) */
    if (!c->conn) {
        return false;
    }
    /* conn.c's framing rules, which come before the frame handler. */
    if (len < 10 || len > (size_t)b->conf.socket_request_max_bytes) {
        fz_client_close(c);
        return false;
    }
    FZ_CHECK(c->n_pending < FZ_MAX_PENDING, "more than %d requests unanswered", FZ_MAX_PENDING);
    fz_pending_t *p = &c->pending[c->n_pending++];
    p->api_key = be16(frame);
    p->api_version = be16(frame + 2);
    p->corr = be32(frame + 4);
    p->tag = tag;
    /* Only a produce with acks=0 legitimately goes unanswered; one whose acks cannot be read
     * (a mangled frame) may go either way in the non-strict (raw frame) harness. */
    if (!c->strict && p->api_key == 0) {
        int32_t acks = produce_acks(frame, len);
        p->answered_maybe = acks == 0 || acks == INT32_MIN;
        p->never_answered = acks == 0;
    } else {
        p->answered_maybe = p->never_answered = false;
    }
    sl_err_t rc = sl_broker_on_frame(c->conn, frame, len, b);
    if (rc != SL_OK) {
        c->n_pending--; /* refused: no response, the connection goes */
        fz_client_drain(c);
        if (c->conn) {
            sl_conn_close(c->conn, NULL);
            c->conn = NULL;
        }
        if (c->peer >= 0) {
            close(c->peer);
            c->peer = -1;
        }
        return false;
    }
    return true;
}

static void on_response(fz_client_t *c, const uint8_t *frame, size_t len) {
    FZ_CHECK(len >= 4, "response frame of %zu bytes", len);
    int32_t corr = be32(frame);
    size_t i = 0;
    if (c->strict) {
        FZ_CHECK(c->n_pending > 0, "response corr=%d to no request", corr);
        FZ_CHECK(c->pending[0].corr == corr, "response corr=%d, expected corr=%d (api %d)", corr,
                 c->pending[0].corr, c->pending[0].api_key);
    } else {
        /* Skip requests that may go unanswered; the first one that must be answered is this. */
        while (i < c->n_pending && (c->pending[i].never_answered ||
                                    (c->pending[i].corr != corr && c->pending[i].answered_maybe))) {
            i++;
        }
        FZ_CHECK(i < c->n_pending && c->pending[i].corr == corr,
                 "response corr=%d out of order or unrequested (%zu pending)", corr, c->n_pending);
    }
    fz_pending_t p = c->pending[i];
    memmove(c->pending, c->pending + i + 1, (c->n_pending - i - 1) * sizeof *c->pending);
    c->n_pending -= i + 1;
    if (c->on_resp) {
        c->on_resp(c->opaque, p.api_key, p.api_version, p.tag, frame + 4, len - 4);
    }
}

void fz_client_drain(fz_client_t *c) {
    if (c->peer < 0) {
        return;
    }
    bool hung_up = false;
    for (;;) {
        if (c->in_cap - c->in_len < 65536) {
            c->in_cap = c->in_cap ? c->in_cap * 2 : 65536;
            c->in = realloc(c->in, c->in_cap);
            FZ_CHECK(c->in != NULL, "out of memory");
        }
        ssize_t r = read(c->peer, c->in + c->in_len, c->in_cap - c->in_len);
        if (r <= 0) {
            hung_up = r == 0;
            break;
        }
        c->in_len += (size_t)r;
    }
    size_t pos = 0;
    while (c->in_len - pos >= 4) {
        int32_t size = be32(c->in + pos);
        FZ_CHECK(size >= 4, "response size %d", size);
        if (c->in_len - pos - 4 < (size_t)size) {
            break;
        }
        on_response(c, c->in + pos + 4, (size_t)size);
        pos += 4 + (size_t)size;
    }
    memmove(c->in, c->in + pos, c->in_len - pos);
    c->in_len -= pos;
    if (hung_up) {
        /* The broker closed its end (the connection is, or soon will be, freed by its reaper):
         * never touch it again, and expect no more answers on it. */
        c->conn = NULL;
        c->n_pending = 0;
        close(c->peer);
        c->peer = -1;
        c->in_len = 0;
    }
}

void fz_client_close(fz_client_t *c) {
    fz_client_drain(c);
    if (c->conn) {
        sl_conn_close(c->conn, NULL); /* what the loop does on a hang-up */
        c->conn = NULL;
    }
    if (c->peer >= 0) {
        close(c->peer);
        c->peer = -1;
    }
    c->n_pending = 0;
    c->in_len = 0;
}

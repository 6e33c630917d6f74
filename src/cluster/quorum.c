/* quorum.c -- libraft on a thread of its own: start-up, proposals, the FSM hooks, status.
 *
 * Why libraft's own uv I/O and TCP transport rather than a raft_io on the broker's epoll loop:
 * they are the tested part of libraft 0.15 (segment files, snapshots, the wire format), and a
 * thread keeps every Raft fsync off the broker's loop. The price is libuv and one thread;
 * cowsql's raft_step would let a later version drop both.
 *
 * Ownership: everything in `struct sl_quorum` below `mu` is the Raft thread's, except the
 * proposal queue, the status copy and `stopping`, which `mu` guards. */
#include "quorum.h"

#include <errno.h>
#include <pthread.h>
#include <raft.h>
#include <raft/uv.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <uv.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/util.h"

#define STATUS_REFRESH_MS 20

typedef struct prop {
    struct raft_apply req; /* req.data points back here */
    struct prop *next;
    sl_quorum_t *owner;
    uint8_t *cmd;
    size_t len;
    bool done, abandoned;
    sl_err_t rc;
} prop_t;

struct sl_quorum {
    uv_loop_t loop;
    struct raft_uv_transport transport;
    struct raft_io io;
    struct raft_fsm fsm;
    struct raft raft;
    uv_async_t wake;
    uv_timer_t tick;
    pthread_t thread;
    bool thread_started;
    sl_quorum_hooks_t hooks;
    uint64_t id;
    int last_role;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    prop_t *queue; /* proposals not yet handed to libraft */
    bool stopping;
    sl_quorum_status_t st;
};

/* FNV-1a 64 over `p`, continuing from `h`. */
static uint64_t fnv1a(uint64_t h, const void *p, size_t n) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

void sl_quorum_cluster_id(const sl_quorum_voter_t *voters, size_t n, char *out) {
    /* Two FNV-1a lanes with different seeds over "id@address;" in id order: 128 bits. An
     * identifier, not a secret: it only has to be equal on every member and differ between
     * quorums. */
    uint64_t h[2] = {0xcbf29ce484222325ULL, 0x84222325cbf29ce4ULL};
    uint64_t last = 0;
    for (size_t k = 0; k < n; k++) {
        const sl_quorum_voter_t *next = NULL;
        for (size_t i = 0; i < n; i++) {
            if (voters[i].id > last && (!next || voters[i].id < next->id)) {
                next = &voters[i];
            }
        }
        if (!next) {
            break;
        }
        char item[160];
        int len =
            snprintf(item, sizeof item, "%llu@%s;", (unsigned long long)next->id, next->address);
        for (int lane = 0; lane < 2; lane++) {
            h[lane] = fnv1a(h[lane], item, (size_t)len);
        }
        last = next->id;
    }
    uint8_t raw[16];
    for (int i = 0; i < 8; i++) {
        raw[i] = (uint8_t)(h[0] >> (56 - 8 * i));
        raw[8 + i] = (uint8_t)(h[1] >> (56 - 8 * i));
    }
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < sizeof raw; i += 3) {
        uint32_t v = (uint32_t)raw[i] << 16;
        size_t left = sizeof raw - i;
        v |= left > 1 ? (uint32_t)raw[i + 1] << 8 : 0;
        v |= left > 2 ? raw[i + 2] : 0;
        out[o++] = b64[(v >> 18) & 63];
        out[o++] = b64[(v >> 12) & 63];
        if (left > 1) {
            out[o++] = b64[(v >> 6) & 63];
        }
        if (left > 2) {
            out[o++] = b64[v & 63];
        }
    }
    out[o] = '\0';
}

sl_err_t sl_quorum_parse_voters(const char *spec, sl_quorum_voter_t *out, size_t max, size_t *n,
                                char *err) {
    *n = 0;
    const char *p = spec;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *at = memchr(p, '@', len);
        if (!at || at == p || *n == max) {
            snprintf(err, SL_ERRLEN,
                     *n == max ? "controller.quorum.voters: at most %zu voters"
                               : "controller.quorum.voters: expected ID@HOST:PORT[,...]",
                     max);
            return SL_ERR_INVAL;
        }
        char num[24];
        size_t nl = (size_t)(at - p);
        if (nl >= sizeof num) {
            snprintf(err, SL_ERRLEN, "controller.quorum.voters: bad node id");
            return SL_ERR_INVAL;
        }
        memcpy(num, p, nl);
        num[nl] = 0;
        char *e;
        errno = 0;
        unsigned long long id = strtoull(num, &e, 10);
        size_t al = len - nl - 1;
        const char *colon = memchr(at + 1, ':', al);
        if (*e || errno || id == 0 || id > INT32_MAX || al == 0 || al >= sizeof out->address ||
            !colon) {
            snprintf(err, SL_ERRLEN,
                     "controller.quorum.voters: '%.*s' is not ID@HOST:PORT with ID >= 1", (int)len,
                     p);
            return SL_ERR_INVAL;
        }
        for (size_t i = 0; i < *n; i++) {
            if (out[i].id == id) {
                snprintf(err, SL_ERRLEN, "controller.quorum.voters: node %llu listed twice", id);
                return SL_ERR_INVAL;
            }
        }
        out[*n].id = id;
        memcpy(out[*n].address, at + 1, al);
        out[*n].address[al] = 0;
        (*n)++;
        p += len;
        if (*p == ',') {
            p++;
        }
    }
    if (*n == 0) {
        snprintf(err, SL_ERRLEN, "controller.quorum.voters: empty");
        return SL_ERR_INVAL;
    }
    return SL_OK;
}

/* ---- FSM hooks (Raft thread) ---- */

/* An entry is the command's length (4 bytes, big-endian), then the command, zero-padded to a
 * multiple of 8 bytes: libraft 0.15's uv storage reloads entries padded to 8 bytes, and a
 * segment whose entries were not multiples of 8 failed to load after a snapshot install (seen
 * in the restart test: "read preamble: short read"). */
static size_t pad8(size_t n) {
    return (n + 7) & ~(size_t)7;
}

static int fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result) {
    sl_quorum_t *q = fsm->data;
    *result = NULL;
    const uint8_t *p = buf->base;
    if (buf->len < 4 || sl_load_be32(p) > buf->len - 4) {
        /* Not ours: skipped the same way on every node. */
        sl_log(SL_LOG_ERROR, "cluster", "msg=\"raft entry without a valid length\" bytes=%zu",
               buf->len);
        return 0;
    }
    q->hooks.apply(q->hooks.opaque, p + 4, sl_load_be32(p));
    return 0;
}

static int fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs) {
    sl_quorum_t *q = fsm->data;
    sl_buf_t out = {0};
    uint8_t len[4] = {0};
    sl_buf_append(&out, len, 4);
    q->hooks.snapshot(q->hooks.opaque, &out);
    sl_store_be32(out.data, (uint32_t)(out.len - 4));
    static const uint8_t zeros[8];
    sl_buf_append(&out, zeros, pad8(out.len) - out.len);
    struct raft_buffer *b = raft_malloc(sizeof *b);
    void *base = raft_malloc(out.len);
    if (!b || !base) {
        raft_free(b);
        raft_free(base);
        sl_buf_fini(&out);
        return RAFT_NOMEM;
    }
    memcpy(base, out.data, out.len);
    b->base = base;
    b->len = out.len;
    sl_buf_fini(&out);
    *bufs = b;
    *n_bufs = 1;
    return 0;
}

/* Version 2: raft leaves the buffers to us once the snapshot is written. */
static int fsm_snapshot_finalize(struct raft_fsm *fsm, struct raft_buffer *bufs[],
                                 unsigned *n_bufs) {
    (void)fsm;
    for (unsigned i = 0; i < *n_bufs; i++) {
        raft_free((*bufs)[i].base);
    }
    raft_free(*bufs);
    *bufs = NULL;
    *n_bufs = 0;
    return 0;
}

/* On success the FSM owns buf->base (libraft frees only the snapshot around it). A snapshot is
 * framed like an entry (length, then the state). */
static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf) {
    sl_quorum_t *q = fsm->data;
    const uint8_t *p = buf->base;
    if (buf->len < 4 || sl_load_be32(p) > buf->len - 4 ||
        q->hooks.restore(q->hooks.opaque, p + 4, sl_load_be32(p)) != SL_OK) {
        return RAFT_CORRUPT;
    }
    raft_free(buf->base);
    return 0;
}

/* ---- proposals ---- */

static void complete(sl_quorum_t *q, prop_t *p, sl_err_t rc) {
    pthread_mutex_lock(&q->mu);
    if (p->abandoned) {
        free(p->cmd);
        free(p);
    } else {
        p->done = true;
        p->rc = rc;
        pthread_cond_broadcast(&q->cv);
    }
    pthread_mutex_unlock(&q->mu);
}

static void on_applied(struct raft_apply *req, int status, void *result) {
    (void)result;
    prop_t *p = req->data;
    complete(p->owner, p,
             status == 0                                                 ? SL_OK
             : status == RAFT_NOTLEADER || status == RAFT_LEADERSHIPLOST ? SL_ERR_NOTFOUND
                                                                         : SL_ERR_IO);
}

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Under mu, on the Raft thread: the leader's view of every voter (libraft's progress array runs
 * parallel to its configuration); times carry over between refreshes while this node leads. */
static void refresh_progress(sl_quorum_t *q, int role) {
    if (role != RAFT_LEADER || !q->raft.leader_state.progress) {
        q->st.n_progress = 0;
        return;
    }
    int64_t now = wall_ms();
    raft_index last = raft_last_index(&q->raft);
    const struct raft_configuration *conf = &q->raft.configuration;
    sl_quorum_progress_t old[SL_QUORUM_MAX_VOTERS];
    size_t n_old = q->st.n_progress;
    memcpy(old, q->st.progress, n_old * sizeof *old);
    size_t n = 0;
    for (unsigned i = 0; i < conf->n && n < SL_QUORUM_MAX_VOTERS; i++) {
        const struct raft_progress *pr = &q->raft.leader_state.progress[i];
        sl_quorum_progress_t *out = &q->st.progress[n++];
        *out = (sl_quorum_progress_t){conf->servers[i].id, pr->match_index, -1, -1};
        for (size_t k = 0; k < n_old; k++) {
            if (old[k].id == out->id) {
                out->last_contact_ms = old[k].last_contact_ms;
                out->caught_up_ms = old[k].caught_up_ms;
            }
        }
        bool self = conf->servers[i].id == q->id;
        if (self) {
            out->match_index = last;
        }
        if (self || pr->recent_recv) {
            out->last_contact_ms = now;
        }
        if (out->match_index >= last) {
            out->caught_up_ms = now;
        }
    }
    q->st.n_progress = n;
}

static void refresh_status(sl_quorum_t *q) {
    raft_id leader = 0;
    const char *addr = NULL;
    raft_leader(&q->raft, &leader, &addr);
    int role = raft_state(&q->raft);
    pthread_mutex_lock(&q->mu);
    q->st.role = role;
    q->st.leader_id = leader;
    q->st.last_index = raft_last_index(&q->raft);
    q->st.applied_index = raft_last_applied(&q->raft);
    q->st.term = q->raft.current_term;
    q->st.commit_index = q->raft.commit_index;
    if (role == RAFT_FOLLOWER && leader != 0) {
        /* libraft restarts a follower's election timer (its own io clock) on every
         * AppendEntries from its leader (and on nothing later from anyone else while it follows
         * that leader). Measured as an age and taken from the monotonic clock read now, after
         * the loop's cached time, the contact can only come out late: safe for a fence. */
        raft_time io_now = q->raft.io->time(q->raft.io);
        raft_time start = q->raft.election_timer_start;
        uint64_t age = io_now > start ? (uint64_t)(io_now - start) : 0;
        uint64_t mono = sl_mono_ms();
        q->st.prev_leader_id = leader;
        q->st.prev_leader_contact_ms = mono > age ? mono - age : 0;
    }
    refresh_progress(q, role);
    pthread_mutex_unlock(&q->mu);
    if (role != q->last_role) {
        static const char *names[] = {"unavailable", "follower", "candidate", "leader"};
        sl_log(SL_LOG_INFO, "cluster", "node=%llu role=%s leader=%llu term=%llu",
               (unsigned long long)q->id, role >= 0 && role < 4 ? names[role] : "?",
               (unsigned long long)leader, (unsigned long long)q->raft.current_term);
        q->last_role = role;
    }
}

static void on_tick(uv_timer_t *t) {
    refresh_status(t->data);
}

static void on_handle_closed(uv_handle_t *h) {
    (void)h;
}

static void on_raft_closed(struct raft *r) {
    sl_quorum_t *q = r->data;
    raft_uv_close(&q->io);
    raft_uv_tcp_close(&q->transport);
    uv_close((uv_handle_t *)&q->wake, on_handle_closed);
    uv_close((uv_handle_t *)&q->tick, on_handle_closed);
}

static void on_wake(uv_async_t *a) {
    sl_quorum_t *q = a->data;
    pthread_mutex_lock(&q->mu);
    prop_t *list = q->queue;
    q->queue = NULL;
    bool stopping = q->stopping;
    pthread_mutex_unlock(&q->mu);
    while (list) {
        prop_t *p = list;
        list = p->next;
        if (stopping || raft_state(&q->raft) != RAFT_LEADER) {
            complete(q, p, stopping ? SL_ERR_IO : SL_ERR_NOTFOUND);
            continue;
        }
        size_t padded = pad8(p->len + 4);
        struct raft_buffer buf = {raft_calloc(1, padded), padded};
        if (!buf.base) {
            complete(q, p, SL_ERR_IO);
            continue;
        }
        sl_store_be32(buf.base, (uint32_t)p->len);
        memcpy((uint8_t *)buf.base + 4, p->cmd, p->len);
        p->req.data = p;
        p->owner = q;
        int rv = raft_apply(&q->raft, &p->req, &buf, 1, on_applied);
        if (rv != 0) {
            raft_free(buf.base);
            complete(q, p, rv == RAFT_NOTLEADER ? SL_ERR_NOTFOUND : SL_ERR_IO);
        }
    }
    if (stopping && !uv_is_closing((uv_handle_t *)&q->wake)) {
        uv_timer_stop(&q->tick);
        raft_close(&q->raft, on_raft_closed);
    }
}

static void *run(void *arg) {
    sl_quorum_t *q = arg;
    uv_run(&q->loop, UV_RUN_DEFAULT);
    return NULL;
}

sl_err_t sl_quorum_propose(sl_quorum_t *q, const uint8_t *cmd, size_t len, uint64_t timeout_ms) {
    prop_t *p = sl_xcalloc(1, sizeof *p);
    p->cmd = sl_xmalloc(len ? len : 1);
    memcpy(p->cmd, cmd, len);
    p->len = len;
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += (time_t)(timeout_ms / 1000);
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&q->mu);
    if (q->stopping) {
        pthread_mutex_unlock(&q->mu);
        free(p->cmd);
        free(p);
        return SL_ERR_IO;
    }
    p->next = q->queue;
    q->queue = p;
    uv_async_send(&q->wake);
    while (!p->done) {
        if (pthread_cond_timedwait(&q->cv, &q->mu, &dl) == ETIMEDOUT) {
            break;
        }
    }
    sl_err_t rc;
    if (p->done) {
        rc = p->rc;
        free(p->cmd);
        free(p);
    } else {
        p->abandoned = true; /* freed by whoever completes it */
        rc = SL_AGAIN;
    }
    pthread_mutex_unlock(&q->mu);
    return rc;
}

void sl_quorum_status(sl_quorum_t *q, sl_quorum_status_t *st) {
    pthread_mutex_lock(&q->mu);
    *st = q->st;
    pthread_mutex_unlock(&q->mu);
}

sl_quorum_t *sl_quorum_start(uint64_t id, const sl_quorum_voter_t *voters, size_t n_voters,
                             const char *dir, const sl_quorum_opts_t *opts,
                             const sl_quorum_hooks_t *hooks, char *err) {
    const char *self = NULL;
    for (size_t i = 0; i < n_voters; i++) {
        if (voters[i].id == id) {
            self = voters[i].address;
        }
    }
    if (!self) {
        snprintf(err, SL_ERRLEN,
                 "node.id %llu is not in controller.quorum.voters (every node of this version is "
                 "a voter)",
                 (unsigned long long)id);
        return NULL;
    }
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        snprintf(err, SL_ERRLEN, "mkdir %s: %s", dir, strerror(errno));
        return NULL;
    }
    sl_quorum_t *q = sl_xcalloc(1, sizeof *q);
    q->hooks = *hooks;
    q->id = id;
    q->last_role = -1;
    pthread_mutex_init(&q->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cv, &ca);
    pthread_condattr_destroy(&ca);
    q->st.n_voters = n_voters;
    memcpy(q->st.voters, voters, n_voters * sizeof *voters);
    q->fsm = (struct raft_fsm){.version = 2,
                               .data = q,
                               .apply = fsm_apply,
                               .snapshot = fsm_snapshot,
                               .restore = fsm_restore,
                               .snapshot_finalize = fsm_snapshot_finalize};
    int rv;
    struct raft_configuration conf;
    raft_configuration_init(&conf);
    if ((rv = uv_loop_init(&q->loop)) != 0) {
        snprintf(err, SL_ERRLEN, "libuv: %s", uv_strerror(rv));
        goto fail_loop;
    }
    if ((rv = raft_uv_tcp_init(&q->transport, &q->loop)) != 0 ||
        (rv = raft_uv_init(&q->io, &q->loop, dir, &q->transport)) != 0 ||
        (rv = raft_init(&q->raft, &q->io, &q->fsm, id, self)) != 0) {
        snprintf(err, SL_ERRLEN, "raft init (%s): %s", dir, raft_strerror(rv));
        goto fail;
    }
    q->raft.data = q;
    for (size_t i = 0; i < n_voters; i++) {
        if ((rv = raft_configuration_add(&conf, voters[i].id, voters[i].address, RAFT_VOTER)) !=
            0) {
            snprintf(err, SL_ERRLEN, "raft configuration: %s", raft_strerror(rv));
            goto fail;
        }
    }
    /* Every voter bootstraps the same configuration; a node with state already says so. */
    rv = raft_bootstrap(&q->raft, &conf);
    if (rv != 0 && rv != RAFT_CANTBOOTSTRAP) {
        snprintf(err, SL_ERRLEN, "raft bootstrap: %s", raft_strerror(rv));
        goto fail;
    }
    unsigned et = opts->election_timeout_ms ? opts->election_timeout_ms : 1000;
    raft_set_election_timeout(&q->raft, et);
    raft_set_heartbeat_timeout(&q->raft, SL_MAX(et / 10, 10u));
    raft_set_pre_vote(&q->raft, true);
    unsigned se = opts->snapshot_entries ? opts->snapshot_entries : 1024;
    raft_set_snapshot_threshold(&q->raft, se);
    raft_set_snapshot_trailing(&q->raft, SL_MAX(se / 2, 1u));
    raft_uv_set_connect_retry_delay(&q->io, 100);
    if ((rv = raft_start(&q->raft)) != 0) {
        snprintf(err, SL_ERRLEN, "raft start (%s): %s: %s", dir, raft_strerror(rv),
                 raft_errmsg(&q->raft));
        goto fail;
    }
    raft_configuration_close(&conf);
    uv_async_init(&q->loop, &q->wake, on_wake);
    q->wake.data = q;
    uv_timer_init(&q->loop, &q->tick);
    q->tick.data = q;
    uv_timer_start(&q->tick, on_tick, 0, STATUS_REFRESH_MS);
    if (pthread_create(&q->thread, NULL, run, q) != 0) {
        snprintf(err, SL_ERRLEN, "cannot start the raft thread");
        /* The loop never ran: close libraft by running the loop here until it has closed. */
        q->stopping = true;
        on_wake(&q->wake);
        uv_run(&q->loop, UV_RUN_DEFAULT);
        uv_loop_close(&q->loop);
        free(q);
        return NULL;
    }
    q->thread_started = true;
    sl_log(SL_LOG_INFO, "cluster", "node=%llu raft=%s voters=%zu dir=%s", (unsigned long long)id,
           self, n_voters, dir);
    return q;
fail:
    /* libraft objects half set up: leaking them is safer than closing what never opened; the
     * process exits on this path (the broker refuses to start). */
    raft_configuration_close(&conf);
    return NULL;
fail_loop:
    raft_configuration_close(&conf);
    free(q);
    return NULL;
}

void sl_quorum_stop(sl_quorum_t *q) {
    if (!q) {
        return;
    }
    pthread_mutex_lock(&q->mu);
    q->stopping = true;
    pthread_mutex_unlock(&q->mu);
    uv_async_send(&q->wake);
    if (q->thread_started) {
        pthread_join(q->thread, NULL);
    }
    uv_loop_close(&q->loop);
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
    free(q);
}

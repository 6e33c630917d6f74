/* cluster.c -- the broker's side of the controller quorum (see cluster.h).
 *
 * Threads and what they own:
 *   loop thread   the topic table; proposes changes (blocking, bounded by PROPOSE_TIMEOUT_MS:
 *                 metadata changes are rare) and applies committed commands from `pending`.
 *   Raft thread   libraft (quorum.c); applies commands to the image and queues them for the
 *                 loop, waking it through an eventfd.
 *   heartbeat     registers this broker, renews its lease, and on the quorum leader fences
 *                 brokers whose lease ran out.
 * `mu` guards pending, seen and stopping; the image has its own lock.
 *
 * A proposal made on this node is applied by the proposing code itself (topics.c) before the
 * committed copy reaches the loop; every live apply is idempotent, so that copy changes nothing.
 * Two brokers creating the same topic at once both commit: the first create in the log wins
 * everywhere (mstate.c), and the other proposer reads that from the image before it adds the
 * topic to its table (create_outcome), so it never keeps a copy the cluster does not have.
 * Producer ids come from striped blocks handed out only once committed (pidblocks.h). */
#include "cluster.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "broker/interbroker.h"
#include "broker/mstate.h"
#include "broker/replica.h"
#include "broker/txn_markers.h"
#include "cluster/quorum.h"
#include "common/clock.h"
#include "common/codec.h"
#include "common/log.h"
#include "common/os.h"
#include "common/sock.h"
#include "common/util.h"
#include "net/listener.h"
#include "proto/kerr.h"
#include "security/peer.h"

#define PROPOSE_TIMEOUT_MS 5000
#define SEC_WARN_MS        10000 /* a refused inter-broker connection is logged this often */
#define RETRY_MS           50
#define MAX_RESP_BYTES     (16u << 20)

typedef struct item {
    struct item *next;
    bool snapshot; /* a restored snapshot: the whole image, not one command */
    size_t len;
    uint8_t data[];
} item_t;

/* A connection kept open by the one thread that uses it (the heartbeat thread's, to the quorum
 * leader): a heartbeat every broker.heartbeat.interval.ms would otherwise pay a TLS handshake
 * and a SASL exchange each time. Closed after any failure; the caller's retry dials again. */
typedef struct conn {
    sl_peer_t p;
    char host[256];
    int port;
} conn_t;

typedef struct seen {
    int32_t id;
    uint64_t ms; /* monotonic time it was last heard from */
} seen_t;

struct sl_cluster {
    sl_broker_t *b;
    sl_quorum_t *q;
    sl_mstate_t *ms;
    sl_quorum_voter_t voters[SL_QUORUM_MAX_VOTERS];
    size_t n_voters;
    int32_t node;
    char adv[600];      /* this broker's registration address (sl_mbroker_addr's form) */
    sl_peer_sec_t *sec; /* how to reach other brokers' inter-broker listener (read-only) */
    uint64_t warned_ms; /* under mu: when a refused call to the quorum leader was last logged */
    conn_t hb_conn;     /* heartbeat thread only; used when keep_conn */
    bool keep_conn;     /* the inter-broker listener has TLS or SASL: connections are dear */
    int efd;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    item_t *head, *tail;
    seen_t seen[SL_MSTATE_MAX_BROKERS];
    size_t n_seen;
    item_t *out_head, *out_tail; /* commands queued by sl_cluster_propose_async */
    bool registered;             /* this incarnation's registration committed */
    uint8_t incarnation[16];     /* random per start; carried in its registration record */
    bool caught_up;              /* loop thread: that record applied here (so is all before it) */
    bool leaving;                /* controlled shutdown: fenced on purpose, do not register */
    bool stopping;
    _Atomic uint64_t lease_from; /* monotonic ms: start of the last proof of standing (0: none) */
    pthread_t hb;
    bool hb_started;
    char propose_id[32]; /* the id a quorum leader proposes when none is committed */
    bool id_committed;   /* b->cluster_id is the committed one (loop thread) */
};

/* ---- Raft thread: the state machine ---- */

static void enqueue(sl_cluster_t *c, const uint8_t *p, size_t len, bool snapshot) {
    item_t *it = sl_xmalloc(sizeof *it + len + 1);
    it->next = NULL;
    it->snapshot = snapshot;
    it->len = len;
    memcpy(it->data, p, len);
    pthread_mutex_lock(&c->mu);
    if (c->tail) {
        c->tail->next = it;
    } else {
        c->head = it;
    }
    c->tail = it;
    pthread_mutex_unlock(&c->mu);
    uint64_t one = 1;
    if (write(c->efd, &one, sizeof one) < 0 && errno != EAGAIN) {
        sl_log(SL_LOG_ERROR, "cluster", "msg=\"eventfd write: %s\"", strerror(errno));
    }
}

static void fsm_apply(void *opaque, const uint8_t *cmd, size_t len) {
    sl_cluster_t *c = opaque;
    if (len == 0) {
        return; /* the quorum leader's lease probe (renew_own_lease): no records */
    }
    if (sl_mstate_apply(c->ms, cmd, len) != SL_OK) {
        /* Every node skips the same undecodable tail: the images stay equal. */
        sl_log(SL_LOG_ERROR, "cluster", "msg=\"committed command does not decode\" bytes=%zu", len);
    }
    enqueue(c, cmd, len, false);
}

static void fsm_snapshot(void *opaque, sl_buf_t *out) {
    sl_cluster_t *c = opaque;
    sl_mstate_snapshot(c->ms, out);
}

static sl_err_t fsm_restore(void *opaque, const uint8_t *p, size_t len) {
    sl_cluster_t *c = opaque;
    sl_err_t rc = sl_mstate_restore(c->ms, p, len);
    if (rc == SL_OK) {
        enqueue(c, p, len, true);
    }
    return rc;
}

/* ---- loop thread: the topic table follows the log ---- */

static void adopt_committed_id(sl_broker_t *b);

static void live_apply(const sl_meta_rec_t *rec, void *opaque) {
    sl_broker_t *b = opaque;
    sl_cluster_t *c = b->cluster;
    sl_topics_apply_live(b, rec);
    if (rec->type == SL_META_CLUSTER_ID) {
        adopt_committed_id(b);
    }
    if (!c->caught_up && rec->type == SL_META_BROKER_REG && rec->value == c->node &&
        !memcmp(rec->id, c->incarnation, sizeof c->incarnation)) {
        /* This start's own registration: every record committed before it (the topics this
         * broker had before a restart included) is now applied here. */
        c->caught_up = true;
        sl_log(SL_LOG_INFO, "cluster", "node=%d msg=\"metadata caught up with the quorum\"",
               (int)c->node);
    }
}

typedef struct names {
    char **v;
    size_t n;
} names_t;

static void collect_name(const sl_meta_rec_t *rec, void *opaque) {
    names_t *nm = opaque;
    if (rec->type == SL_META_TOPIC_CREATE) {
        nm->v = sl_xrealloc(nm->v, (nm->n + 1) * sizeof *nm->v);
        nm->v[nm->n++] = sl_xstrdup(rec->name);
    }
}

typedef struct sweep {
    names_t *keep;
    sl_topic_t **drop;
    size_t n_drop;
} sweep_t;

static void find_stale(sl_topic_t *t, void *opaque) {
    sweep_t *sw = opaque;
    for (size_t i = 0; i < sw->keep->n; i++) {
        if (!strcmp(sw->keep->v[i], t->name)) {
            return;
        }
    }
    sw->drop = sl_xrealloc(sw->drop, (sw->n_drop + 1) * sizeof *sw->drop);
    sw->drop[sw->n_drop++] = t;
}

/* A snapshot replaces the state: topics it lacks were deleted while this node was away. */
static void apply_snapshot(sl_broker_t *b, const uint8_t *p, size_t len) {
    names_t keep = {0};
    if (sl_meta_each(p, len, collect_name, &keep) != SL_OK ||
        sl_meta_each(p, len, live_apply, b) != SL_OK) {
        sl_log(SL_LOG_ERROR, "cluster", "msg=\"snapshot does not decode\"");
    }
    /* A snapshot taken after this start's registration committed holds it without its
     * incarnation: being at the snapshot's index is being caught up. */
    pthread_mutex_lock(&b->cluster->mu);
    if (b->cluster->registered) {
        b->cluster->caught_up = true;
    }
    pthread_mutex_unlock(&b->cluster->mu);
    sweep_t sw = {&keep, NULL, 0};
    sl_topics_each(b, find_stale, &sw);
    for (size_t i = 0; i < sw.n_drop; i++) {
        sl_log(SL_LOG_INFO, "cluster", "topic=%s msg=\"not in the snapshot: deleting\"",
               sw.drop[i]->name);
        sl_topic_drop(b, sw.drop[i]);
    }
    free(sw.drop);
    for (size_t i = 0; i < keep.n; i++) {
        free(keep.v[i]);
    }
    free(keep.v);
}

static void on_committed(sl_loop_t *loop, int fd, void *data, unsigned events) {
    (void)loop;
    (void)events;
    sl_broker_t *b = data;
    sl_cluster_t *c = b->cluster;
    uint64_t n;
    if (read(fd, &n, sizeof n) < 0 && errno != EAGAIN) {
        sl_log(SL_LOG_ERROR, "cluster", "msg=\"eventfd read: %s\"", strerror(errno));
    }
    pthread_mutex_lock(&c->mu);
    item_t *list = c->head;
    c->head = c->tail = NULL;
    pthread_mutex_unlock(&c->mu);
    while (list) {
        item_t *it = list;
        list = it->next;
        if (it->snapshot) {
            apply_snapshot(b, it->data, it->len);
        } else if (sl_meta_each(it->data, it->len, live_apply, b) != SL_OK) {
            sl_log(SL_LOG_ERROR, "cluster", "msg=\"committed command does not decode\"");
        }
        free(it);
    }
    sl_replica_refresh(b); /* leaders, epochs and ISRs may have changed */
}

/* ---- talking to the quorum leader ---- */

/* One request on `k`, dialled (again) when it is closed or connected elsewhere; every read
 * and write of this call bounded by timeout_ms. */
static sl_err_t call_on(conn_t *k, const sl_peer_sec_t *sec, const char *host, int port,
                        const uint8_t *body, size_t len, sl_buf_t *resp, int timeout_ms,
                        char *err) {
    if (k->p.fd >= 0 && (strcmp(k->host, host) != 0 || k->port != port)) {
        sl_peer_close(&k->p);
    }
    sl_err_t rc = SL_OK;
    if (k->p.fd < 0) {
        rc = sl_peer_dial(&k->p, sec, host, port, timeout_ms, timeout_ms, err);
        if (rc != SL_OK) {
            return rc;
        }
        snprintf(k->host, sizeof k->host, "%s", host);
        k->port = port;
    } else if (!sl_peer_set_timeout(&k->p, timeout_ms)) {
        rc = SL_ERR_IO;
        snprintf(err, SL_ERRLEN, "%s:%d: socket options: %s", host, port, strerror(errno));
    }
    char why[SL_ERRLEN];
    if (rc == SL_OK) {
        rc = sl_peer_call(&k->p, SL_CLUSTER_API_KEY, 0, body, len, resp, MAX_RESP_BYTES, why);
        if (rc != SL_OK) {
            snprintf(err, SL_ERRLEN, "%s:%d: %.200s", host, port, why);
        }
    }
    if (rc != SL_OK) {
        sl_peer_close(&k->p);
    }
    return rc;
}

sl_err_t sl_cluster_call(const sl_peer_sec_t *sec, const char *host, int port, const uint8_t *body,
                         size_t len, sl_buf_t *resp, int timeout_ms, char *err) {
    conn_t k = {.p = sl_peer_init("sluice-cluster")};
    sl_err_t rc = call_on(&k, sec, host, port, body, len, resp, timeout_ms, err);
    sl_peer_close(&k.p);
    return rc;
}

const sl_peer_sec_t *sl_cluster_sec(sl_broker_t *b) {
    return b->cluster ? b->cluster->sec : NULL;
}

static void sleep_ms(unsigned ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Sends one request to the quorum leader (known from libraft, reached at the inter-broker
 * address it registered), on `k` if given (kept open), else on a connection of its own.
 * KERR_* from the leader, or -1 when it could not be reached. */
static int call_leader(sl_cluster_t *c, uint64_t leader, const sl_buf_t *body, int timeout_ms,
                       conn_t *k) {
    sl_mbroker_t lb;
    if (!sl_mstate_broker(c->ms, (int32_t)leader, &lb) || !lb.ib_port) {
        return -1; /* the leader has not registered yet: try again shortly */
    }
    sl_buf_t resp = {0};
    char err[SL_ERRLEN];
    int code = -1;
    /* A plaintext cluster dials for every call, as it always has. */
    sl_err_t rc = k && c->keep_conn ? call_on(k, c->sec, lb.ib_host, lb.ib_port, body->data,
                                              body->len, &resp, timeout_ms, err)
                                    : sl_cluster_call(c->sec, lb.ib_host, lb.ib_port, body->data,
                                                      body->len, &resp, timeout_ms, err);
    if (rc == SL_OK) {
        sl_reader_t rd = sl_reader_init(resp.data, resp.len);
        int16_t e = sl_rd_i16(&rd);
        code = rd.err ? -1 : e;
    } else if (rc == SL_ERR_INVAL) {
        /* TLS or SASL refused: no retry helps until the configuration is fixed, so say it where
         * an operator looks (at most every SEC_WARN_MS). */
        uint64_t now = sl_mono_ms();
        pthread_mutex_lock(&c->mu);
        bool say = !c->warned_ms || now - c->warned_ms >= SEC_WARN_MS;
        c->warned_ms = say ? now : c->warned_ms;
        pthread_mutex_unlock(&c->mu);
        if (say) {
            sl_log(SL_LOG_WARN, "cluster",
                   "leader=%llu security=\"%s\" err=\"%s\" msg=\"inter-broker connection to the "
                   "quorum leader refused: cannot register or propose\"",
                   (unsigned long long)leader, sl_peer_sec_describe(c->sec), err);
        }
    } else {
        sl_log(SL_LOG_DEBUG, "cluster", "leader=%llu msg=\"%s\"", (unsigned long long)leader, err);
    }
    sl_buf_fini(&resp);
    return code;
}

/* Commits a command through whichever node leads, retrying across elections for up to
 * timeout_ms. SL_OK once committed; SL_AGAIN when no leader took it in time; SL_ERR_IO when
 * the leader refused it. */
static sl_err_t submit(sl_cluster_t *c, const uint8_t *cmd, size_t len, uint64_t timeout_ms,
                       conn_t *k) {
    uint64_t deadline = sl_mono_ms() + timeout_ms;
    sl_buf_t body = {0};
    sl_writer_t wr = {&body};
    sl_wr_i8(&wr, SL_CLUSTER_OP_PROPOSE);
    sl_wr_i32(&wr, c->node);
    sl_wr_i32(&wr, (int32_t)len);
    sl_wr_raw(&wr, cmd, len);
    sl_err_t rc = SL_AGAIN;
    for (;;) {
        uint64_t now = sl_mono_ms();
        if (now >= deadline) {
            break;
        }
        sl_quorum_status_t st;
        sl_quorum_status(c->q, &st);
        if (st.role == 3 /* RAFT_LEADER */) {
            rc = sl_quorum_propose(c->q, cmd, len, deadline - now);
            if (rc != SL_ERR_NOTFOUND) {
                break; /* committed, timed out, or refused */
            }
            rc = SL_AGAIN;
        } else if (st.leader_id) {
            int code = call_leader(c, st.leader_id, &body, (int)(deadline - now), k);
            if (code == KERR_NONE) {
                rc = SL_OK;
                break;
            }
            if (code > 0 && code != KERR_NOT_CONTROLLER && code != KERR_REQUEST_TIMED_OUT) {
                rc = SL_ERR_IO;
                break;
            }
        }
        pthread_mutex_lock(&c->mu);
        bool stopping = c->stopping;
        pthread_mutex_unlock(&c->mu);
        if (stopping) {
            break;
        }
        sleep_ms(RETRY_MS);
    }
    sl_buf_fini(&body);
    return rc;
}

/* ---- proposals from the broker (loop thread) ---- */

/* default.replication.factor, whose -1 means 3 in a cluster. */
static int32_t default_rf(const sl_broker_t *b) {
    return b->conf.default_replication_factor > 0 ? (int32_t)b->conf.default_replication_factor : 3;
}

typedef struct peek {
    sl_meta_type_t type;
    char name[256];
    int32_t partitions;
    int64_t value;
    uint8_t id[16];
} peek_t;

static void peek_rec(const sl_meta_rec_t *rec, void *opaque) {
    peek_t *pk = opaque;
    pk->type = rec->type;
    snprintf(pk->name, sizeof pk->name, "%s", rec->name ? rec->name : "");
    pk->partitions = rec->partitions;
    pk->value = rec->value;
    memcpy(pk->id, rec->id, sizeof pk->id);
}

/* After this node's create of a topic committed: SL_OK if the name is this create's, or
 * SL_ERR_EXISTS if another broker's create of it came first in the log (this one is ignored
 * everywhere, mstate.c), read from the image once this node's Raft thread has applied the name
 * (shortly after the commit); SL_AGAIN if it has not within PROPOSE_TIMEOUT_MS. */
static sl_err_t create_outcome(sl_cluster_t *c, const peek_t *pk) {
    uint64_t deadline = sl_mono_ms() + PROPOSE_TIMEOUT_MS;
    uint8_t id[16];
    while (!sl_mstate_topic_id(c->ms, pk->name, id)) {
        if (sl_mono_ms() >= deadline) {
            return SL_AGAIN;
        }
        sleep_ms(2);
    }
    return memcmp(id, pk->id, sizeof id) ? SL_ERR_EXISTS : SL_OK;
}

/* After this node's new partitions committed: SL_OK if the image took them, SL_ERR_EXISTS if
 * the count had changed from their base first (they were ignored everywhere, mstate.c), read
 * once this node's image has left the base; SL_AGAIN if it has not within PROPOSE_TIMEOUT_MS.
 * (A further change committed before this node applied the first can make a success look
 * lost: the client's retry then finds the count it asked for.) */
static sl_err_t partitions_outcome(sl_cluster_t *c, const peek_t *pk) {
    uint64_t deadline = sl_mono_ms() + PROPOSE_TIMEOUT_MS;
    int32_t n;
    while ((n = sl_mstate_partitions(c->ms, pk->name)) == pk->value) {
        if (sl_mono_ms() >= deadline) {
            return SL_AGAIN;
        }
        sleep_ms(2);
    }
    return n == pk->partitions ? SL_OK : SL_ERR_EXISTS;
}

/* The metadata log's append in cluster mode: a new topic or new partitions carry their
 * placement in the same command, so no node ever sees one without the other. */
static sl_err_t propose_rec(const uint8_t *rec, size_t len, void *opaque) {
    sl_cluster_t *c = opaque;
    sl_broker_t *b = c->b;
    sl_buf_t cmd = {0};
    sl_buf_append(&cmd, rec, len);
    peek_t pk = {0};
    if (sl_meta_each(rec, len, peek_rec, &pk) != SL_OK) {
        sl_buf_fini(&cmd);
        return SL_ERR_INVAL;
    }
    if (pk.type == SL_META_TOPIC_CREATE || pk.type == SL_META_PARTITIONS) {
        int32_t first = 0;
        int32_t rf = b->create_rf > 0 ? b->create_rf : default_rf(b);
        if (pk.type == SL_META_PARTITIONS) {
            sl_topic_t *t = sl_topic_find(b, (sl_str_t){pk.name, strlen(pk.name)});
            sl_meta_assign_t a0;
            first = pk.value > 0 ? (int32_t)pk.value : t ? t->n_partitions : 0; /* the base */
            if (sl_mstate_assign(c->ms, pk.name, 0, &a0) && a0.n_replicas > 0) {
                rf = a0.n_replicas;
            }
        }
        int32_t count = pk.partitions - first, live = 0;
        if (count < 0) {
            count = 0;
        }
        sl_meta_assign_t *as = sl_xcalloc((size_t)count + 1, sizeof *as);
        if (sl_mstate_place(c->ms, first, count, rf, as, &live) != SL_OK) {
            /* fewer live brokers than replicas (raced with a fence): take what is live */
            rf = SL_MAX(1, live);
            if (live == 0 || sl_mstate_place(c->ms, first, count, rf, as, &live) != SL_OK) {
                for (int32_t i = 0; i < count; i++) {
                    as[i] = (sl_meta_assign_t){.leader = c->node, .n_replicas = 1};
                    as[i].replicas[0] = c->node;
                }
            }
        }
        sl_meta_rec_t pl = {.type = SL_META_PLACEMENT,
                            .name = pk.name,
                            .partitions = first,
                            .assign = as,
                            .n_assign = (size_t)count};
        sl_meta_encode(&pl, &cmd);
        free(as);
    }
    sl_err_t rc = submit(c, cmd.data, cmd.len, PROPOSE_TIMEOUT_MS, NULL);
    if (rc != SL_OK) {
        sl_log(SL_LOG_WARN, "cluster", "type=%d msg=\"metadata change not committed: %s\"",
               (int)pk.type, rc == SL_AGAIN ? "no quorum leader in time" : "refused");
    } else if (pk.type == SL_META_TOPIC_CREATE && (rc = create_outcome(c, &pk)) != SL_OK) {
        /* Not this node's topic (yet): it comes from the log like any other (live_apply). */
        sl_log(SL_LOG_INFO, "cluster", "topic=%s msg=\"%s\"", pk.name,
               rc == SL_ERR_EXISTS ? "created first by another broker"
                                   : "create committed but not applied here in time");
    } else if (pk.type == SL_META_PARTITIONS && pk.value > 0 &&
               (rc = partitions_outcome(c, &pk)) != SL_OK) {
        sl_log(SL_LOG_INFO, "cluster", "topic=%s partitions=%d msg=\"%s\"", pk.name,
               (int)pk.partitions,
               rc == SL_ERR_EXISTS ? "partition count changed first by another broker"
                                   : "partitions committed but not applied here in time");
    }
    sl_buf_fini(&cmd);
    return rc;
}

/* ---- leases (heartbeat thread; `seen` is read and written under mu) ---- */

static void mark_seen_locked(sl_cluster_t *c, int32_t id, uint64_t now) {
    for (size_t i = 0; i < c->n_seen; i++) {
        if (c->seen[i].id == id) {
            c->seen[i].ms = now;
            return;
        }
    }
    if (c->n_seen < SL_MSTATE_MAX_BROKERS) {
        c->seen[c->n_seen++] = (seen_t){id, now};
    }
}

static void mark_seen(sl_cluster_t *c, int32_t id) {
    pthread_mutex_lock(&c->mu);
    mark_seen_locked(c, id, sl_mono_ms());
    pthread_mutex_unlock(&c->mu);
}

static uint64_t last_seen(sl_cluster_t *c, int32_t id, uint64_t now) {
    pthread_mutex_lock(&c->mu);
    uint64_t t = 0;
    bool found = false;
    for (size_t i = 0; i < c->n_seen; i++) {
        if (c->seen[i].id == id) {
            t = c->seen[i].ms;
            found = true;
        }
    }
    if (!found) {
        mark_seen_locked(c, id, now); /* first look: the lease starts now */
        t = now;
    }
    pthread_mutex_unlock(&c->mu);
    return t;
}

/* The predecessor's lease. A node newly elected quorum leader has heard from no broker yet
 * and starts every lease afresh, except its predecessor's (the last leader it followed), whose
 * session it starts from the last AppendEntries it took from it (or a later heartbeat):
 * prev_contact. That predecessor renewed its own lease only by commits (renew_own_lease), each
 * from the start T of a proposal that then committed; a committed entry is in this node's log,
 * and while this node still followed the predecessor it took that entry from it, so T comes
 * before prev_contact. Fencing a session after prev_contact is therefore no earlier than a
 * session after T, as for any broker: its lease (LEASE_SHARE of the session from T) has lapsed,
 * and the fifth of the session kept back covers clocks and the loop's cached time. Without
 * this, killing the quorum leader cost the election plus a whole session from it; with it, the
 * session runs from the kill, mostly during the election. */
static void seed_predecessor(sl_cluster_t *c, uint64_t prev_id, uint64_t prev_contact,
                             uint64_t now) {
    if (prev_id == 0 || prev_id == (uint64_t)c->node || prev_id > INT32_MAX || prev_contact == 0) {
        return;
    }
    int32_t id = (int32_t)prev_id;
    uint64_t t = SL_MIN(prev_contact, now);
    pthread_mutex_lock(&c->mu);
    mark_seen_locked(c, id, t);
    pthread_mutex_unlock(&c->mu);
    sl_log(SL_LOG_INFO, "cluster",
           "node=%d silent_ms=%llu msg=\"predecessor's session counted from its last contact\"",
           (int)id, (unsigned long long)(now - t));
}

static sl_err_t submit_rec(sl_cluster_t *c, const sl_meta_rec_t *rec, uint64_t timeout_ms,
                           conn_t *k) {
    sl_buf_t buf = {0};
    sl_meta_encode(rec, &buf);
    sl_err_t rc = submit(c, buf.data, buf.len, timeout_ms, k);
    sl_buf_fini(&buf);
    return rc;
}

/* ---- this broker's own lease (heartbeat thread writes, loop thread reads) ----
 *
 * A leader must stop serving once the quorum may have fenced it and elected another: a paused
 * or cut-off leader that resumes would otherwise answer reads from its stale log until it
 * applies the records that moved its partitions (consumers past its log end were told
 * OFFSET_OUT_OF_RANGE and reset). The quorum fences a broker no earlier than a session after
 * it last heard from it, and a new quorum leader only a session after it was elected. So a
 * request that started at T and was answered by the quorum leader proves the broker is not
 * fenced before T + session: for a heartbeat, the leader marked it seen after T; for the quorum
 * leader itself, an entry proposed after T committed, so no other leader was elected before a
 * majority acknowledged it. The lease runs from the latest such T for LEASE_SHARE of the
 * session, the rest covering the 20 ms staleness of the Raft status and scheduling delays. */
#define LEASE_SHARE(session) ((session) - (session) / 5)

static void lease_renewed(sl_cluster_t *c, uint64_t from) {
    uint64_t cur = atomic_load(&c->lease_from);
    while (from > cur && !atomic_compare_exchange_weak(&c->lease_from, &cur, from)) {
    }
}

bool sl_cluster_lease_ok(sl_broker_t *b) {
    sl_cluster_t *c = b->cluster;
    if (!c) {
        return true;
    }
    uint64_t from = atomic_load(&c->lease_from);
    uint64_t session = (uint64_t)b->conf.broker_session_timeout_ms;
    return from != 0 && sl_mono_ms() - from < LEASE_SHARE(session);
}

/* The quorum leader renews its own lease by committing an empty entry (applied as nothing),
 * once a third of the lease has run: every entry is synced on a majority of the voters. */
static void renew_own_lease(sl_cluster_t *c, uint64_t timeout_ms) {
    uint64_t t = sl_mono_ms();
    uint64_t from = atomic_load(&c->lease_from);
    uint64_t session = (uint64_t)c->b->conf.broker_session_timeout_ms;
    if (from && t - from < LEASE_SHARE(session) / 3) {
        return;
    }
    if (sl_quorum_propose(c->q, (const uint8_t *)"", 0, timeout_ms) == SL_OK) {
        lease_renewed(c, t);
    }
}

static void *heartbeat_main(void *arg) {
    sl_cluster_t *c = arg;
    const sl_broker_conf_t *conf = &c->b->conf;
    uint64_t interval = (uint64_t)conf->broker_heartbeat_interval_ms;
    uint64_t session = (uint64_t)conf->broker_session_timeout_ms;
    uint64_t lease = LEASE_SHARE(session);
    bool was_leader = false, had_lease = false;
    int hb_code = 0; /* the last heartbeat's answer (-1: no answer) */
    uint64_t last_tick = 0;
    for (;;) {
        pthread_mutex_lock(&c->mu);
        bool stopping = c->stopping;
        pthread_mutex_unlock(&c->mu);
        if (stopping) {
            break;
        }
        /* A thread that did not run for a whole session (SIGSTOP, a stalled machine) has not
         * heard the heartbeats sent meanwhile: its silences say nothing about the others. */
        uint64_t tick = sl_mono_ms();
        bool stalled = last_tick && tick - last_tick > session;
        last_tick = tick;
        sl_quorum_status_t st;
        sl_quorum_status(c->q, &st);
        bool leader = st.role == 3;
        sl_mbroker_t me;
        char addr[600] = "";
        if (sl_mstate_broker(c->ms, c->node, &me)) {
            sl_mbroker_addr(&me, addr, sizeof addr);
        }
        pthread_mutex_lock(&c->mu);
        bool registered = c->registered, leaving = c->leaving;
        pthread_mutex_unlock(&c->mu);
        if (leaving) {
            /* Controlled shutdown fenced this broker: it neither registers nor heartbeats. */
        } else if (st.leader_id &&
                   (!registered || !addr[0] || me.fenced || strcmp(addr, c->adv) != 0)) {
            /* Every incarnation registers once: what it led moves to an in-sync replica (its
             * unsynced tail may be gone), and it follows until it leads again (mstate.c). */
            sl_meta_rec_t rec = {.type = SL_META_BROKER_REG, .name = c->adv, .value = c->node};
            memcpy(rec.id, c->incarnation, sizeof rec.id);
            uint64_t t = sl_mono_ms();
            if (submit_rec(c, &rec, session, &c->hb_conn) == SL_OK) {
                lease_renewed(c, t); /* committed by the quorum leader after t */
                sl_log(SL_LOG_INFO, "cluster", "node=%d address=%s msg=\"registered\"",
                       (int)c->node, c->adv);
                pthread_mutex_lock(&c->mu);
                c->registered = true;
                pthread_mutex_unlock(&c->mu);
                uint64_t one = 1; /* the loop refreshes roles once the record is applied */
                if (write(c->efd, &one, sizeof one) < 0 && errno != EAGAIN) {
                    sl_log(SL_LOG_ERROR, "cluster", "msg=\"eventfd write: %s\"", strerror(errno));
                }
            }
        } else if (!leader && st.leader_id) {
            sl_buf_t body = {0};
            sl_writer_t wr = {&body};
            sl_wr_i8(&wr, SL_CLUSTER_OP_HEARTBEAT);
            sl_wr_i32(&wr, c->node);
            /* A slow answer still renews the lease from tick: wait up to half of it (a quorum
             * leader whose loop is busy answers late, not never). */
            hb_code = call_leader(c, st.leader_id, &body, (int)SL_MAX(interval * 2, lease / 2),
                                  &c->hb_conn);
            if (hb_code == KERR_NONE) {
                lease_renewed(c, tick); /* the leader heard from us after tick */
            }
            sl_buf_fini(&body);
        }
        if (leader) {
            uint64_t now = sl_mono_ms();
            if (!was_leader || stalled || now - tick > session) {
                /* A new leader has heard from nobody yet, nor has a leader that was stalled
                 * (a resumed one would fence live brokers through its successor): every lease
                 * restarts now, but for the predecessor's (seed_predecessor). */
                uint64_t prev_seen = 0;
                pthread_mutex_lock(&c->mu);
                for (size_t i = 0; i < c->n_seen; i++) {
                    if ((uint64_t)c->seen[i].id == st.prev_leader_id) {
                        prev_seen = c->seen[i].ms;
                    }
                }
                c->n_seen = 0;
                pthread_mutex_unlock(&c->mu);
                if (!was_leader && !stalled) {
                    /* a heartbeat it answered here before (later is safer) */
                    seed_predecessor(c, st.prev_leader_id,
                                     SL_MAX(st.prev_leader_contact_ms, prev_seen), now);
                }
            }
            mark_seen(c, c->node);
            char committed_id[sizeof c->propose_id];
            if (!sl_mstate_cluster_id(c->ms, committed_id, sizeof committed_id)) {
                sl_meta_rec_t rec = {.type = SL_META_CLUSTER_ID, .name = c->propose_id};
                if (submit_rec(c, &rec, session, &c->hb_conn) == SL_OK) {
                    sl_log(SL_LOG_INFO, "cluster", "cluster_id=%s msg=\"cluster id proposed\"",
                           c->propose_id);
                }
            }
            if (!stalled) {
                renew_own_lease(c, SL_MAX(interval * 2, lease / 2));
            }
            sl_mbroker_t bs[SL_MSTATE_MAX_BROKERS];
            size_t n = SL_MIN(sl_mstate_brokers(c->ms, bs, SL_MSTATE_MAX_BROKERS),
                              (size_t)SL_MSTATE_MAX_BROKERS);
            for (size_t i = 0; i < n; i++) {
                if (bs[i].fenced || bs[i].id == c->node) {
                    continue;
                }
                uint64_t t = last_seen(c, bs[i].id, now);
                if (t < now && now - t > session) { /* t may be newer than now */
                    sl_meta_rec_t rec = {
                        .type = SL_META_BROKER_FENCE, .name = "", .value = bs[i].id};
                    if (submit_rec(c, &rec, session, &c->hb_conn) == SL_OK) {
                        sl_log(SL_LOG_WARN, "cluster",
                               "node=%d silent_ms=%llu msg=\"lease expired: fenced\"",
                               (int)bs[i].id, (unsigned long long)(now - t));
                    }
                }
            }
        }
        was_leader = leader;
        bool lease_ok = sl_cluster_lease_ok(c->b);
        if (lease_ok != had_lease) {
            uint64_t from = atomic_load(&c->lease_from);
            sl_log(lease_ok ? SL_LOG_INFO : SL_LOG_WARN, "cluster",
                   "node=%d quorum_leader=%llu last_heartbeat=%d age_ms=%llu msg=\"%s\"",
                   (int)c->node, (unsigned long long)st.leader_id, hb_code,
                   (unsigned long long)(from ? sl_mono_ms() - from : 0),
                   lease_ok ? "lease held: serving as leader"
                            : "lease lapsed: not serving as leader until it is renewed");
            had_lease = lease_ok;
        }
        for (;;) {
            pthread_mutex_lock(&c->mu);
            item_t *it = c->out_head;
            if (it) {
                c->out_head = it->next;
                if (!c->out_head) {
                    c->out_tail = NULL;
                }
            }
            pthread_mutex_unlock(&c->mu);
            if (!it) {
                break;
            }
            if (submit(c, it->data, it->len, interval * 2, &c->hb_conn) != SL_OK) {
                sl_log(SL_LOG_WARN, "cluster", "msg=\"queued metadata change not committed\"");
            }
            free(it);
        }
        struct timespec dl;
        clock_gettime(CLOCK_MONOTONIC, &dl);
        dl.tv_sec += (time_t)(interval / 1000);
        dl.tv_nsec += (long)(interval % 1000) * 1000000L;
        if (dl.tv_nsec >= 1000000000L) {
            dl.tv_sec++;
            dl.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&c->mu);
        if (!c->stopping && !c->out_head) {
            pthread_cond_timedwait(&c->cv, &c->mu, &dl);
        }
        pthread_mutex_unlock(&c->mu);
    }
    sl_peer_close(&c->hb_conn.p);
    return NULL;
}

/* ---- start and stop ---- */

/* The cluster id every member reports (clients such as librdkafka warn when brokers of one
 * cluster name different ids) is a metadata record, SL_META_CLUSTER_ID: the first quorum leader
 * proposes the id it started with, derived from the voters (sl_quorum_cluster_id), and every
 * member adopts what committed and keeps it in meta.properties, marked as committed. Until then
 * a member reports the derived id, which is the same on members given the same voter list. */
#define COMMITTED_MARK "cluster.id.committed=true"

static sl_err_t write_cluster_id(sl_broker_t *b, const char *id, bool committed, char *err) {
    if (strcmp(id, b->cluster_id) != 0 && b->cluster_id[0]) {
        sl_log(SL_LOG_INFO, "cluster", "old=%s new=%s msg=\"cluster id taken from the %s\"",
               b->cluster_id, id, committed ? "metadata log" : "voters");
    }
    snprintf(b->cluster_id, sizeof b->cluster_id, "%s", id);
    char path[4096], text[160];
    snprintf(path, sizeof path, "%s/meta.properties", b->conf.data_dir);
    int n = snprintf(text, sizeof text, "version=1\ncluster.id=%s\nnode.id=%lld\n%s", id,
                     (long long)b->conf.node_id, committed ? COMMITTED_MARK "\n" : "");
    if (sl_os_write_file_atomic(path, text, (size_t)n) < 0) {
        snprintf(err, SL_ERRLEN, "write %s: %s", path, strerror(errno));
        return SL_ERR_IO;
    }
    return SL_OK;
}

/* At start: the committed id meta.properties holds, else the one derived from the voters (it
 * replaces the random id of a data directory that served as a single node). */
static sl_err_t init_cluster_id(sl_broker_t *b, sl_cluster_t *c, char *err) {
    char path[4096], line[256];
    snprintf(path, sizeof path, "%s/meta.properties", b->conf.data_dir);
    FILE *f = fopen(path, "r");
    bool committed = false;
    while (f && fgets(line, sizeof line, f)) {
        committed |= !strncmp(line, COMMITTED_MARK, strlen(COMMITTED_MARK));
    }
    if (f) {
        fclose(f);
    }
    if (committed && b->cluster_id[0]) {
        c->id_committed = true;
    } else {
        char id[SL_QUORUM_CLUSTER_ID_LEN + 1];
        sl_quorum_cluster_id(c->voters, c->n_voters, id);
        if (strcmp(id, b->cluster_id) != 0 && write_cluster_id(b, id, false, err) != SL_OK) {
            return SL_ERR_IO;
        }
    }
    snprintf(c->propose_id, sizeof c->propose_id, "%s", b->cluster_id);
    return SL_OK;
}

/* Loop thread, after a CLUSTER_ID record or a snapshot: adopt the committed id. */
static void adopt_committed_id(sl_broker_t *b) {
    sl_cluster_t *c = b->cluster;
    char id[sizeof c->propose_id], err[SL_ERRLEN];
    if (!sl_mstate_cluster_id(c->ms, id, sizeof id) ||
        (c->id_committed && !strcmp(id, b->cluster_id))) {
        return;
    }
    if (write_cluster_id(b, id, true, err) != SL_OK) {
        sl_log(SL_LOG_ERROR, "cluster", "msg=\"%s\"", err); /* kept in memory; next start retries */
    }
    c->id_committed = true;
}

sl_err_t sl_cluster_init(sl_broker_t *b, char *err) {
    if (b->conf.node_id < 1) {
        snprintf(err, SL_ERRLEN, "controller.quorum.voters needs node.id >= 1");
        return SL_ERR_INVAL;
    }
    if (b->conf.broker_heartbeat_interval_ms * 2 >
        (int64_t)LEASE_SHARE((uint64_t)b->conf.broker_session_timeout_ms)) {
        /* Two heartbeats must fit in a lease, or a healthy leader would stop serving. */
        snprintf(err, SL_ERRLEN,
                 "broker.heartbeat.interval.ms (%lld) must be at most 2/5 of "
                 "broker.session.timeout.ms (%lld)",
                 (long long)b->conf.broker_heartbeat_interval_ms,
                 (long long)b->conf.broker_session_timeout_ms);
        return SL_ERR_INVAL;
    }
    sl_cluster_t *c = sl_xcalloc(1, sizeof *c);
    c->hb_conn.p = sl_peer_init("sluice-cluster");
    c->b = b;
    c->node = (int32_t)b->conf.node_id;
    c->efd = -1;
    if (getrandom(c->incarnation, sizeof c->incarnation, 0) != (ssize_t)sizeof c->incarnation) {
        uint64_t t = sl_mono_ns() ^ ((uint64_t)getpid() << 32); /* never all zero */
        memcpy(c->incarnation, &t, sizeof t);
        c->incarnation[15] = 1;
    }
    if (sl_quorum_parse_voters(b->conf.controller_quorum_voters, c->voters, SL_QUORUM_MAX_VOTERS,
                               &c->n_voters, err) != SL_OK) {
        free(c);
        return SL_ERR_INVAL;
    }
    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);
    c->ms = sl_mstate_new();
    b->cluster = c;
    if (init_cluster_id(b, c, err) != SL_OK) {
        return SL_ERR_IO;
    }
    return sl_topics_load_cluster(b, sl_metalog_new_proposer(propose_rec, c));
}

sl_err_t sl_cluster_start(sl_broker_t *b, char *err) {
    sl_cluster_t *c = b->cluster;
    c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (c->efd < 0 || sl_loop_watch(b->loop, c->efd, SL_EV_READ, on_committed, b) != SL_OK) {
        snprintf(err, SL_ERRLEN, "cluster: cannot watch an eventfd");
        return SL_ERR_IO;
    }
    /* The inter-broker listener (interbroker.h): registered after the clients' address when
     * it is another listener, and how this broker speaks to the others' (TLS, SASL). */
    sl_ib_conf_t *ic = sl_xmalloc(sizeof *ic);
    char why[SL_ERRLEN];
    if (sl_ib_conf_build(&b->conf, b->listeners, b->n_listeners, ic, why) != SL_OK ||
        !(c->sec = sl_peer_sec_new(&ic->sec, why))) {
        snprintf(err, SL_ERRLEN, "%s", why);
        explicit_bzero(ic, sizeof *ic);
        free(ic);
        return SL_ERR_INVAL;
    }
    const sl_blistener_t *ib = &b->listeners[ic->listener];
    c->keep_conn = ic->sec.tls || ic->sec.sasl;
    explicit_bzero(ic, sizeof *ic); /* it held the password */
    free(ic);
    sl_mbroker_t self = {0};
    snprintf(self.host, sizeof self.host, "%s", b->listeners[0].adv_host);
    self.port = b->listeners[0].adv_port;
    snprintf(self.ib_host, sizeof self.ib_host, "%s", ib->adv_host);
    self.ib_port = ib->adv_port;
    sl_mbroker_addr(&self, c->adv, sizeof c->adv);
    sl_log(SL_LOG_INFO, "cluster", "listener=%s security=\"%s\" msg=\"inter-broker listener\"",
           ib->name, sl_peer_sec_describe(c->sec));
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/__raft", b->conf.data_dir);
    sl_quorum_opts_t opts = {(unsigned)b->conf.controller_election_timeout_ms,
                             (unsigned)b->conf.metadata_snapshot_entries};
    sl_quorum_hooks_t hooks = {fsm_apply, fsm_snapshot, fsm_restore, c};
    c->q = sl_quorum_start((uint64_t)c->node, c->voters, c->n_voters, dir, &opts, &hooks, err);
    if (!c->q) {
        return SL_ERR_IO;
    }
    if (pthread_create(&c->hb, NULL, heartbeat_main, c) != 0) {
        snprintf(err, SL_ERRLEN, "cluster: cannot start the heartbeat thread");
        return SL_ERR_IO;
    }
    c->hb_started = true;
    return SL_OK;
}

void sl_cluster_leave(sl_broker_t *b) {
    sl_cluster_t *c = b->cluster;
    if (!c || !b->conf.controlled_shutdown_enable || b->conf.controlled_shutdown_timeout_ms <= 0 ||
        !sl_cluster_registered(b)) {
        return;
    }
    uint64_t t0 = sl_mono_ms();
    uint64_t deadline = t0 + (uint64_t)b->conf.controlled_shutdown_timeout_ms;
    pthread_mutex_lock(&c->mu);
    c->leaving = true;
    pthread_mutex_unlock(&c->mu);
    /* The record a lease expiry commits: every partition this broker leads gets the first live
     * in-sync replica as leader (epoch + 1), and this broker leaves every ISR it is not the
     * last member of (mstate.c). Acknowledged acks=all records are on every ISR member's
     * disk, so the new leader has them all. */
    sl_meta_rec_t rec = {.type = SL_META_BROKER_FENCE, .name = "", .value = c->node};
    sl_err_t rc = submit_rec(c, &rec, (uint64_t)b->conf.controlled_shutdown_timeout_ms, NULL);
    sl_mbroker_t me = {0};
    while (rc == SL_OK && sl_mono_ms() < deadline &&
           !(sl_mstate_broker(c->ms, c->node, &me) && me.fenced)) {
        sleep_ms(5); /* committed on the leader: applied here shortly after */
    }
    bool moved = rc == SL_OK && me.fenced;
    sl_quorum_status_t st;
    sl_quorum_status(c->q, &st);
    if (moved && st.role == 3 /* RAFT_LEADER */) {
        /* The record is committed on a majority, but a voter outside it learns that from this
         * node's next heartbeats (a tenth of the election timeout apart): leave time for two,
         * or its brokers' Metadata would name this broker until the next quorum leader. */
        sleep_ms((unsigned)SL_MIN(b->conf.controller_election_timeout_ms / 5, 1000));
    }
    if (moved) {
        /* The loop is stopped: apply the queued commands (roles refresh: this broker leads
         * nothing now, and requests parked on it answer NOT_LEADER_OR_FOLLOWER). */
        on_committed(b->loop, c->efd, b, 0);
    }
    sl_log(moved ? SL_LOG_INFO : SL_LOG_WARN, "cluster", "node=%d ms=%llu msg=\"%s\"", (int)c->node,
           (unsigned long long)(sl_mono_ms() - t0),
           moved ? "controlled shutdown: leadership moved"
                 : "controlled shutdown: the quorum did not commit the move in time");
}

void sl_cluster_stop(sl_broker_t *b) {
    sl_cluster_t *c = b->cluster;
    if (!c) {
        return;
    }
    sl_replica_stop(b);
    pthread_mutex_lock(&c->mu);
    c->stopping = true;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    if (c->hb_started) {
        pthread_join(c->hb, NULL);
    }
    sl_quorum_stop(c->q);
    if (c->efd >= 0) {
        sl_loop_unwatch(b->loop, c->efd);
        close(c->efd);
    }
    while (c->head) {
        item_t *it = c->head;
        c->head = it->next;
        free(it);
    }
    while (c->out_head) {
        item_t *it = c->out_head;
        c->out_head = it->next;
        free(it);
    }
    sl_mstate_free(c->ms);
    sl_peer_sec_free(c->sec);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c);
    b->cluster = NULL;
}

/* ---- the private API (loop thread) ---- */

typedef struct offl {
    json_t *arr;
} offl_t;

static void add_offline(const char *topic, int32_t partition, const sl_meta_assign_t *a,
                        void *opaque) {
    offl_t *o = opaque;
    json_array_append_new(o->arr, json_pack("{s:s, s:i, s:i}", "topic", topic, "partition",
                                            (int)partition, "leader", (int)a->leader));
}

/* The quorum leader's view of voter `id` (log end, last contact, caught up), when this node
 * leads: a follower does not know it (DescribeQuorum asks the leader). */
static void add_progress(json_t *v, const sl_quorum_status_t *st, uint64_t id) {
    for (size_t i = 0; i < st->n_progress; i++) {
        const sl_quorum_progress_t *pr = &st->progress[i];
        if (pr->id == id) {
            json_object_set_new(v, "log_end", json_integer((json_int_t)pr->match_index));
            json_object_set_new(v, "last_contact_ms", json_integer(pr->last_contact_ms));
            json_object_set_new(v, "caught_up_ms", json_integer(pr->caught_up_ms));
        }
    }
}

static json_t *status_json(sl_cluster_t *c) {
    sl_quorum_status_t st;
    sl_quorum_status(c->q, &st);
    static const char *roles[] = {"unavailable", "follower", "candidate", "leader"};
    json_t *voters = json_array();
    for (size_t i = 0; i < st.n_voters; i++) {
        json_t *v =
            json_pack("{s:i, s:s}", "id", (int)st.voters[i].id, "address", st.voters[i].address);
        add_progress(v, &st, st.voters[i].id);
        json_array_append_new(voters, v);
    }
    json_t *brokers = json_array();
    sl_mbroker_t bs[SL_MSTATE_MAX_BROKERS];
    size_t n =
        SL_MIN(sl_mstate_brokers(c->ms, bs, SL_MSTATE_MAX_BROKERS), (size_t)SL_MSTATE_MAX_BROKERS);
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(brokers, json_pack("{s:i, s:s, s:i, s:b}", "id", (int)bs[i].id,
                                                 "host", bs[i].host, "port", (int)bs[i].port,
                                                 "alive", !bs[i].fenced));
    }
    offl_t o = {json_array()};
    sl_mstate_each_offline(c->ms, add_offline, &o);
    json_t *j = json_pack("{s:i, s:{s:i, s:s, s:I, s:I, s:o}, s:o, s:o}", "node", (int)c->node,
                          "quorum", "leader", (int)st.leader_id, "role",
                          st.role >= 0 && st.role < 4 ? roles[st.role] : "?", "last_index",
                          (json_int_t)st.last_index, "applied_index", (json_int_t)st.applied_index,
                          "voters", voters, "brokers", brokers, "offline_partitions", o.arr);
    json_t *q = json_object_get(j, "quorum");
    json_object_set_new(q, "term", json_integer((json_int_t)st.term));
    json_object_set_new(q, "commit_index", json_integer((json_int_t)st.commit_index));
    if (st.n_progress > 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        json_object_set_new(q, "now_ms",
                            json_integer((json_int_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000));
    }
    return j;
}

/* OP_QUORUM's answer: error_code, then leader, term, commit index, count and per voter id,
 * match index, last contact and caught-up times (wall-clock ms). Only the leader knows them. */
static void write_quorum(sl_writer_t *wr, bool leader, const sl_quorum_status_t *st) {
    if (!leader || st->n_progress == 0) {
        sl_wr_i16(wr, KERR_NOT_CONTROLLER);
        return;
    }
    sl_wr_i16(wr, KERR_NONE);
    sl_wr_i32(wr, (int32_t)st->leader_id);
    sl_wr_i64(wr, (int64_t)st->term);
    sl_wr_i64(wr, (int64_t)st->commit_index);
    sl_wr_i32(wr, (int32_t)st->n_progress);
    for (size_t i = 0; i < st->n_progress; i++) {
        sl_wr_i32(wr, (int32_t)st->progress[i].id);
        sl_wr_i64(wr, (int64_t)st->progress[i].match_index);
        sl_wr_i64(wr, st->progress[i].last_contact_ms);
        sl_wr_i64(wr, st->progress[i].caught_up_ms);
    }
}

sl_err_t sl_cluster_handle(sl_req_t *req) {
    sl_cluster_t *c = req->broker->cluster;
    sl_reader_t *rd = &req->rd;
    sl_writer_t *wr = &req->wr;
    int8_t op = sl_rd_i8(rd);
    int32_t from = sl_rd_i32(rd);
    if (rd->err) {
        return rd->err;
    }
    if (!c) {
        sl_wr_i16(wr, KERR_NOT_CONTROLLER);
        return SL_OK;
    }
    /* With an authorizer, brokers' own requests need CLUSTER_ACTION on the cluster (as Kafka's
     * inter-broker APIs do) and a status query DESCRIBE. */
    int8_t need = op == SL_CLUSTER_OP_STATUS ? SL_ACL_DESCRIBE : SL_ACL_CLUSTER_ACTION;
    if (!sl_req_allowed_cluster(req, need)) {
        sl_log(SL_LOG_WARN, "auth",
               "conn=%llu peer=%s principal=\"User:%s\" op=%d err=CLUSTER_AUTHORIZATION_FAILED "
               "msg=\"cluster request refused\"",
               (unsigned long long)sl_conn_id(req->conn), sl_conn_peer(req->conn),
               sl_req_principal(req), op);
        sl_wr_i16(wr, KERR_CLUSTER_AUTHORIZATION_FAILED);
        return SL_OK;
    }
    sl_quorum_status_t st;
    sl_quorum_status(c->q, &st);
    bool leader = st.role == 3;
    if (leader && from > 0) {
        mark_seen(c, from);
    }
    switch (op) {
    case SL_CLUSTER_OP_PROPOSE: {
        sl_bytes_t cmd = sl_rd_bytes(rd, false);
        if (rd->err || !cmd.p) {
            return SL_ERR_INVAL;
        }
        if (!leader) {
            sl_wr_i16(wr, KERR_NOT_CONTROLLER);
            return SL_OK;
        }
        sl_err_t rc = sl_quorum_propose(c->q, cmd.p, cmd.len, PROPOSE_TIMEOUT_MS);
        sl_wr_i16(wr, rc == SL_OK             ? KERR_NONE
                      : rc == SL_ERR_NOTFOUND ? KERR_NOT_CONTROLLER
                      : rc == SL_AGAIN        ? KERR_REQUEST_TIMED_OUT
                                              : KERR_UNKNOWN_SERVER_ERROR);
        return SL_OK;
    }
    case SL_CLUSTER_OP_EPOCH_END: {
        int32_t n = sl_rd_array_len(rd, false, 10);
        if (rd->err) {
            return rd->err;
        }
        sl_wr_i16(wr, KERR_NONE);
        sl_wr_i32(wr, n);
        for (int32_t i = 0; i < n; i++) {
            sl_str_t topic = sl_rd_str(rd, false);
            int32_t index = sl_rd_i32(rd);
            int32_t epoch = sl_rd_i32(rd);
            if (rd->err) {
                return rd->err;
            }
            sl_partition_t *p = sl_partition_get(req->broker, topic, index);
            int32_t e_out = -1;
            int64_t end = -1;
            int16_t err =
                p ? sl_replica_epoch_end(p, epoch, &e_out, &end) : KERR_UNKNOWN_TOPIC_OR_PARTITION;
            sl_wr_str(wr, false, topic);
            sl_wr_i32(wr, index);
            sl_wr_i16(wr, err);
            sl_wr_i32(wr, e_out);
            sl_wr_i64(wr, end);
        }
        return SL_OK;
    }
    case SL_CLUSTER_OP_TXN_MARKER:
        return sl_markers_handle(req);
    case SL_CLUSTER_OP_HEARTBEAT: {
        /* A fenced broker must register again before its heartbeats renew its lease. */
        sl_mbroker_t from_b;
        bool fenced = from > 0 && sl_mstate_broker(c->ms, from, &from_b) && from_b.fenced;
        sl_wr_i16(wr, !leader ? KERR_NOT_CONTROLLER : fenced ? KERR_STALE_BROKER_EPOCH : KERR_NONE);
        return SL_OK;
    }
    case SL_CLUSTER_OP_QUORUM:
        write_quorum(wr, leader, &st);
        return SL_OK;
    case SL_CLUSTER_OP_STATUS: {
        json_t *j = status_json(c);
        char *s = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        sl_wr_i16(wr, KERR_NONE);
        sl_wr_i32(wr, (int32_t)strlen(s));
        sl_wr_raw(wr, s, strlen(s));
        free(s);
        return SL_OK;
    }
    default:
        return SL_ERR_INVAL;
    }
}

/* ---- what Metadata and CreateTopics ask ---- */

int sl_cluster_check_rf(sl_broker_t *b, int32_t rf, char *msg) {
    int32_t live = sl_mstate_live(b->cluster->ms);
    if (rf == -1) {
        rf = default_rf(b);
    }
    if (rf < 1 || rf > live || rf > SL_META_MAX_REPLICAS) {
        snprintf(msg, SL_ERRLEN, "Replication factor: %d larger than available brokers: %d.",
                 (int)rf, (int)live);
        return KERR_INVALID_REPLICATION_FACTOR;
    }
    return KERR_NONE;
}

int32_t sl_cluster_controller(sl_broker_t *b) {
    sl_quorum_status_t st;
    sl_quorum_status(b->cluster->q, &st);
    return st.leader_id ? (int32_t)st.leader_id : -1;
}

void sl_cluster_write_brokers(sl_broker_t *b, sl_writer_t *wr, bool flex, int16_t v) {
    sl_mbroker_t bs[SL_MSTATE_MAX_BROKERS];
    size_t n = SL_MIN(sl_mstate_brokers(b->cluster->ms, bs, SL_MSTATE_MAX_BROKERS),
                      (size_t)SL_MSTATE_MAX_BROKERS);
    int32_t live = 0;
    for (size_t i = 0; i < n; i++) {
        live += !bs[i].fenced;
    }
    if (live == 0) {
        /* Nobody registered yet (no quorum leader so far): this broker alone. */
        sl_wr_array_len(wr, flex, 1);
        sl_wr_i32(wr, (int32_t)b->conf.node_id);
        sl_wr_strz(wr, flex, b->listeners[0].adv_host);
        sl_wr_i32(wr, b->listeners[0].adv_port);
        if (v >= 1) {
            sl_wr_strz(wr, flex, NULL);
        }
        sl_wr_tags(wr, flex);
        return;
    }
    sl_wr_array_len(wr, flex, live);
    for (size_t i = 0; i < n; i++) {
        if (bs[i].fenced) {
            continue;
        }
        sl_wr_i32(wr, bs[i].id);
        sl_wr_strz(wr, flex, bs[i].host);
        sl_wr_i32(wr, bs[i].port);
        if (v >= 1) {
            sl_wr_strz(wr, flex, NULL); /* rack */
        }
        sl_wr_tags(wr, flex);
    }
}

bool sl_cluster_partition(sl_broker_t *b, const char *topic, int32_t partition, sl_meta_assign_t *a,
                          bool *leader_live, int32_t *offline, int32_t *n_offline) {
    sl_cluster_t *c = b->cluster;
    *leader_live = false;
    *n_offline = 0;
    if (!sl_mstate_assign(c->ms, topic, partition, a)) {
        return false;
    }
    for (int32_t r = 0; r < a->n_replicas; r++) {
        sl_mbroker_t rb;
        bool up = sl_mstate_broker(c->ms, a->replicas[r], &rb) && !rb.fenced;
        if (!up) {
            offline[(*n_offline)++] = a->replicas[r];
        } else if (a->replicas[r] == a->leader) {
            *leader_live = true;
        }
    }
    return true;
}

/* ---- what the replicas ask (replica.c) ---- */

bool sl_cluster_caught_up(sl_broker_t *b) {
    return b->cluster->caught_up;
}

bool sl_cluster_registered(sl_broker_t *b) {
    sl_cluster_t *c = b->cluster;
    pthread_mutex_lock(&c->mu);
    bool r = c->registered;
    pthread_mutex_unlock(&c->mu);
    return r;
}

size_t sl_cluster_brokers(sl_broker_t *b, sl_mbroker_t *out, size_t max) {
    return SL_MIN(sl_mstate_brokers(b->cluster->ms, out, max), max);
}

void sl_cluster_propose_async(sl_broker_t *b, const uint8_t *cmd, size_t len) {
    sl_cluster_t *c = b->cluster;
    item_t *it = sl_xmalloc(sizeof *it + len + 1);
    it->next = NULL;
    it->snapshot = false;
    it->len = len;
    memcpy(it->data, cmd, len);
    pthread_mutex_lock(&c->mu);
    if (c->out_tail) {
        c->out_tail->next = it;
    } else {
        c->out_head = it;
    }
    c->out_tail = it;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

/* ---- operator APIs (handle_ops.c) ---- */

sl_mstate_t *sl_cluster_image(sl_broker_t *b) {
    return b->cluster->ms;
}

sl_err_t sl_cluster_propose(sl_broker_t *b, const uint8_t *cmd, size_t len) {
    return submit(b->cluster, cmd, len, PROPOSE_TIMEOUT_MS, NULL);
}

int16_t sl_cluster_quorum(sl_broker_t *b, sl_quorum_status_t *st) {
    sl_cluster_t *c = b->cluster;
    sl_quorum_status(c->q, st);
    if (st->role == 3 /* RAFT_LEADER */ && st->n_progress > 0) {
        return KERR_NONE;
    }
    sl_mbroker_t lb;
    if (!st->leader_id || !sl_mstate_broker(c->ms, (int32_t)st->leader_id, &lb) || !lb.ib_port) {
        return KERR_NOT_LEADER_OR_FOLLOWER;
    }
    uint8_t body[5];
    sl_buf_t req = {0}, resp = {0};
    sl_writer_t wr = {&req};
    sl_wr_i8(&wr, SL_CLUSTER_OP_QUORUM);
    sl_wr_i32(&wr, c->node);
    memcpy(body, req.data, sizeof body);
    sl_buf_fini(&req);
    char err[SL_ERRLEN];
    int16_t code = KERR_NOT_LEADER_OR_FOLLOWER;
    if (sl_cluster_call(c->sec, lb.ib_host, lb.ib_port, body, sizeof body, &resp, 2000, err) ==
        SL_OK) {
        sl_reader_t rd = sl_reader_init(resp.data, resp.len);
        int16_t e = sl_rd_i16(&rd);
        int32_t leader = sl_rd_i32(&rd);
        int64_t term = sl_rd_i64(&rd), commit = sl_rd_i64(&rd);
        int32_t n = sl_rd_array_len(&rd, false, 28);
        if (!rd.err && e == KERR_NONE && n >= 0 && n <= SL_QUORUM_MAX_VOTERS) {
            st->n_progress = 0;
            for (int32_t i = 0; i < n && !rd.err; i++) {
                sl_quorum_progress_t *pr = &st->progress[st->n_progress++];
                pr->id = (uint64_t)sl_rd_i32(&rd);
                pr->match_index = (uint64_t)sl_rd_i64(&rd);
                pr->last_contact_ms = sl_rd_i64(&rd);
                pr->caught_up_ms = sl_rd_i64(&rd);
            }
            if (!rd.err) {
                st->leader_id = (uint64_t)leader;
                st->term = (uint64_t)term;
                st->commit_index = (uint64_t)commit;
                code = KERR_NONE;
            } else {
                st->n_progress = 0;
            }
        }
    } else {
        sl_log(SL_LOG_DEBUG, "cluster", "msg=\"quorum status from the leader: %s\"", err);
    }
    sl_buf_fini(&resp);
    return code;
}

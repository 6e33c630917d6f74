/* replica.c -- replicated partitions: leader bookkeeping and the replica fetchers (replica.h).
 *
 * Fetchers. One per leader broker this broker follows anything on, each with a thread that
 * owns one connection to that leader's inter-broker listener (with its TLS and SASL, as
 * sl_cluster_sec says) and does nothing but send the request the
 * loop prepared and hand the response back (through `efd`). Everything else happens on the
 * loop: building the next request, appending what came back, truncating, and deciding when the
 * next fetch may go, which is only once every partition of that fetcher is durable up to its
 * end, so the fetch_offset the leader reads is a durable end. A fetcher's state moves
 * IDLE -> SENT (the thread works) -> DONE (the loop reads the response) -> IDLE under `mu`.
 * Fetchers are never freed before shutdown: a broker follows at most a few dozen leaders. */
#include "broker/replica.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "broker/cluster.h"
#include "broker/mstate.h"
#include "common/clock.h"
#include "common/codec.h"
#include "common/log.h"
#include "common/sock.h"
#include "common/util.h"
#include "proto/apis.h"
#include "proto/kerr.h"
#include "security/peer.h"
#include "storage/batch.h"
#include "txn/pstate.h"

#define FETCH_MAX_WAIT_MS  500
#define FETCH_MAX_BYTES    (8 << 20)
#define FETCH_PART_BYTES   (1 << 20)
#define RETRY_MS           100
#define ISR_RETRY_MS       2000
#define SHRINK_CHECK_MS    250
#define CONNECT_TIMEOUT_MS 2000
#define IO_TIMEOUT_MS      5000
#define MAX_RESP_BYTES     (64u << 20)
#define FETCH_VERSION      4
#define SEC_WARN_MS        10000 /* a refused connection to a leader is logged this often */
#define REFUSED_BACKOFF_MS 1000  /* and tried again after this (whole seconds) */

enum { F_IDLE, F_SENT, F_DONE };
enum { K_FETCH, K_EPOCH };

typedef struct fetcher {
    struct fetcher *next;
    struct sl_replicator *rp;
    int32_t leader;
    pthread_t th;
    /* under rp->mu */
    int state;
    int kind;
    char host[256];
    int port;
    sl_buf_t req, resp; /* body to send; body received (after the correlation id) */
    bool ok;
    /* thread only */
    sl_peer_t peer;
    char conn_host[256];
    int conn_port;
    uint64_t warned_ms; /* when a refused connection (TLS, SASL) was last logged */
    /* loop only */
    uint64_t retry_at_ms;
} fetcher_t;

typedef struct sl_replicator {
    sl_broker_t *b;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int efd;
    bool stopping;
    fetcher_t *fetchers;
    uint64_t next_shrink_ms;
    /* Loop only. Fetchers are looked at (which walks the partitions) only after something that
     * can make one ready: roles refreshed, a response, a follower's sync, a retry timer. */
    bool kick;
    bool roles_changed; /* a fetcher may be needed for a new leader */
} sl_replicator_t;

/* ---- pure helpers ---- */

static bool has_id(const int32_t *ids, int32_t n, int32_t id) {
    for (int32_t i = 0; i < n; i++) {
        if (ids[i] == id) {
            return true;
        }
    }
    return false;
}

int64_t sl_repl_compute_hw(int64_t leader_leo, int64_t old_hw, const sl_meta_assign_t *a,
                           int32_t self, const sl_repl_follower_t *fol, int32_t n_fol) {
    int64_t hw = leader_leo;
    for (int32_t i = 0; i < a->n_isr; i++) {
        if (a->isr[i] == self) {
            continue;
        }
        const sl_repl_follower_t *f = NULL;
        for (int32_t j = 0; j < n_fol; j++) {
            if (fol[j].id == a->isr[i]) {
                f = &fol[j];
            }
        }
        if (!f || f->leo < 0) {
            return SL_MIN(old_hw, leader_leo); /* not heard from this epoch: hold */
        }
        hw = SL_MIN(hw, f->leo);
    }
    return SL_MIN(SL_MAX(hw, old_hw), leader_leo);
}

void sl_repl_epoch_end(const sl_repl_epoch_t *ep, size_t n_ep, int64_t leo, int32_t epoch,
                       int32_t *epoch_out, int64_t *end_out) {
    size_t i = n_ep;
    while (i > 0 && ep[i - 1].epoch > epoch) {
        i--;
    }
    if (i == 0) {
        /* Every epoch here is newer: nothing of the asker's can be trusted past our start. */
        *epoch_out = -1;
        *end_out = n_ep ? ep[0].start : leo;
        return;
    }
    *epoch_out = ep[i - 1].epoch;
    *end_out = i < n_ep ? ep[i].start : leo;
}

int64_t sl_repl_truncate_point(const sl_repl_epoch_t *ep, size_t n_ep, int64_t leo,
                               int32_t leader_epoch, int64_t leader_end) {
    /* Our own end of the leader's epoch: where our first later epoch starts. */
    int64_t own_end = leo;
    for (size_t i = 0; i < n_ep; i++) {
        if (ep[i].epoch > leader_epoch) {
            own_end = ep[i].start;
            break;
        }
    }
    int64_t cut = SL_MIN(leo, own_end);
    if (leader_end >= 0) {
        cut = SL_MIN(cut, leader_end);
    }
    return cut < 0 ? 0 : cut;
}

/* ---- per-partition state ---- */

static int32_t self_id(const sl_broker_t *b) {
    return (int32_t)b->conf.node_id;
}

static void ep_push(sl_replica_t *r, int32_t epoch, int64_t start) {
    if (epoch < 0 || (r->n_ep > 0 && r->ep[r->n_ep - 1].epoch >= epoch)) {
        return;
    }
    if (r->n_ep == r->cap_ep) {
        r->cap_ep = r->cap_ep ? r->cap_ep * 2 : 8;
        r->ep = sl_xrealloc(r->ep, r->cap_ep * sizeof *r->ep);
    }
    r->ep[r->n_ep++] = (sl_repl_epoch_t){epoch, start};
}

static void ep_cut(sl_replica_t *r, int64_t end) {
    while (r->n_ep > 0 && r->ep[r->n_ep - 1].start >= end) {
        r->n_ep--;
    }
}

static bool visit_epoch(const sl_batch_info_t *info, int control, void *opaque) {
    (void)control;
    ep_push(opaque, info->leader_epoch, info->base_offset);
    return true;
}

void sl_replica_part_free(sl_partition_t *p) {
    if (p && p->repl) {
        free(p->repl->ep);
        free(p->repl);
        p->repl = NULL;
    }
}

int32_t sl_replica_min_isr(const sl_topic_t *t, const sl_replica_t *r) {
    for (size_t i = 0; i < t->n_configs; i++) {
        if (!strcmp(t->configs[i].key, "min.insync.replicas")) {
            return (int32_t)t->conf.min_insync_replicas;
        }
    }
    return SL_MIN(2, r ? r->a.n_replicas : 1);
}

void sl_repl_maximal_isr(const sl_replica_t *r, sl_meta_assign_t *out) {
    *out = r->a;
    for (int32_t i = 0; i < r->n_pend_isr; i++) {
        if (!has_id(out->isr, out->n_isr, r->pend_isr[i]) && out->n_isr < SL_META_MAX_REPLICAS) {
            out->isr[out->n_isr++] = r->pend_isr[i];
        }
    }
}

static void update_hw(sl_broker_t *b, sl_partition_t *p) {
    sl_replica_t *r = p->repl;
    if (!r || !r->leading) {
        return;
    }
    sl_meta_assign_t isr;
    sl_repl_maximal_isr(r, &isr);
    int64_t hw =
        sl_repl_compute_hw(sl_plog_end_offset(p->plog), r->hw, &isr, self_id(b), r->fol, r->n_fol);
    if (hw != r->hw) {
        r->hw = hw;
        b->data_arrived = true; /* parked consumer fetches may have something now */
    }
}

/* Proposes a new ISR for a partition this broker leads (the quorum applies it only if the
 * epoch is still current). */
static void propose_isr(sl_broker_t *b, sl_partition_t *p, const int32_t *isr, int32_t n) {
    sl_replica_t *r = p->repl;
    uint64_t now = sl_mono_ms();
    if (r->isr_sent_ms && now - r->isr_sent_ms < ISR_RETRY_MS) {
        return;
    }
    r->isr_sent_ms = now;
    memcpy(r->pend_isr, isr, (size_t)n * sizeof *isr);
    r->n_pend_isr = n;
    sl_meta_assign_t a = {.leader = self_id(b), .epoch = r->a.epoch, .n_replicas = n};
    memcpy(a.replicas, isr, (size_t)n * sizeof *isr);
    sl_meta_rec_t rec = {.type = SL_META_ISR,
                         .name = p->topic->name,
                         .partitions = p->index,
                         .value = r->a.epoch,
                         .assign = &a,
                         .n_assign = 1};
    sl_buf_t cmd = {0};
    sl_meta_encode(&rec, &cmd);
    sl_log(SL_LOG_INFO, "replica",
           "topic=%s partition=%d epoch=%d isr_size=%d msg=\"ISR change proposed\"", p->topic->name,
           p->index, (int)r->a.epoch, (int)n);
    sl_cluster_propose_async(b, cmd.data, cmd.len);
    sl_buf_fini(&cmd);
}

typedef struct refresh_ctx {
    sl_broker_t *b;
    bool ready;
    uint64_t now;
} refresh_ctx_t;

/* A partition placed on other brokers only (a reassignment moved it away, or this broker was
 * away while it did) keeps no copy here: its log is cut back to its start, as Kafka's
 * StopReplica deletes it. Only once this broker has replayed the committed metadata, so a
 * stale image never removes a copy it still needs. */
static void drop_removed_copy(sl_broker_t *b, sl_partition_t *p, const sl_meta_assign_t *a) {
    int64_t start = sl_plog_start_offset(p->plog), end = sl_plog_end_offset(p->plog);
    if (a->n_replicas < 1 || has_id(a->replicas, a->n_replicas, self_id(b)) || end <= start ||
        sl_plog_offline(p->plog) || !sl_cluster_caught_up(b)) {
        return;
    }
    if (sl_plog_truncate(p->plog, start) != SL_OK) {
        sl_log(SL_LOG_ERROR, "replica", "topic=%s partition=%d msg=\"removed copy not deleted\"",
               p->topic->name, p->index);
        return;
    }
    sl_pstate_truncate(p->pstate, start);
    p->repl->n_ep = 0;
    p->repl->hw = start;
    sl_log(SL_LOG_INFO, "replica",
           "topic=%s partition=%d records=%lld msg=\"not a replica any more: copy deleted\"",
           p->topic->name, p->index, (long long)(end - start));
}

static void refresh_topic(sl_topic_t *t, void *opaque) {
    refresh_ctx_t *c = opaque;
    sl_broker_t *b = c->b;
    int32_t me = self_id(b);
    for (int32_t i = 0; i < t->n_partitions; i++) {
        sl_partition_t *p = t->parts[i];
        sl_meta_assign_t a;
        bool live;
        int32_t off[SL_META_MAX_REPLICAS], n_off;
        if (!sl_cluster_partition(b, t->name, i, &a, &live, off, &n_off)) {
            a = (sl_meta_assign_t){.leader = -1, .epoch = -1};
        }
        sl_replica_t *r = p->repl;
        if (!r) {
            r = p->repl = sl_xcalloc(1, sizeof *r);
            r->a = (sl_meta_assign_t){.leader = -1, .epoch = -1};
            r->hw = sl_plog_start_offset(p->plog);
            if (!sl_plog_offline(p->plog) &&
                sl_plog_walk_from(p->plog, sl_plog_start_offset(p->plog), visit_epoch, r) !=
                    SL_OK) {
                sl_log(SL_LOG_ERROR, "replica", "topic=%s partition=%d msg=\"epochs not read\"",
                       t->name, i);
            }
        }
        bool changed = a.epoch != r->a.epoch || a.leader != r->a.leader;
        bool lead = c->ready && a.leader == me;
        bool follow =
            c->ready && a.leader >= 0 && a.leader != me && has_id(a.replicas, a.n_replicas, me);
        if (changed || lead != r->leading || follow != r->following) {
            r->n_fol = 0;
            for (int32_t k = 0; k < a.n_replicas; k++) {
                if (a.replicas[k] != me) {
                    r->fol[r->n_fol++] =
                        (sl_repl_follower_t){a.replicas[k], -1, (int64_t)c->now, 0, 0};
                }
            }
            r->need_epoch_check = follow;
            sl_log(SL_LOG_INFO, "replica", "topic=%s partition=%d leader=%d epoch=%d role=%s",
                   t->name, i, (int)a.leader, (int)a.epoch,
                   lead     ? "leader"
                   : follow ? "follower"
                            : "none");
        }
        if (a.n_isr != r->a.n_isr || memcmp(a.isr, r->a.isr, sizeof a.isr)) {
            r->isr_sent_ms = 0; /* the change we proposed (or another) is in */
            r->n_pend_isr = 0;
        }
        if (changed) {
            r->n_pend_isr = 0; /* proposed under another epoch: the quorum ignores it */
        }
        r->a = a;
        r->leading = lead;
        r->following = follow;
        update_hw(b, p);
        if (c->ready) {
            drop_removed_copy(b, p, &a);
        }
    }
}

static sl_replicator_t *replicator(sl_broker_t *b);

void sl_replica_refresh(sl_broker_t *b) {
    refresh_ctx_t c = {b, sl_cluster_registered(b), sl_mono_ms()};
    sl_topics_each(b, refresh_topic, &c);
    sl_replicator_t *rp = replicator(b);
    rp->kick = rp->roles_changed = true;
}

void sl_replica_synced(sl_broker_t *b, sl_partition_t *p) {
    if (p->repl && p->repl->following && b->replicator) {
        b->replicator->kick = true;
    }
}

/* ---- the leader's side ---- */

/* Whether this broker may answer a client's read as the partition's leader: it leads it in
 * the image it has applied, and its lease has not lapsed (a resumed or cut-off leader's image
 * may be stale, and its log behind the new leader's). Writes need no lease: a leader cut off
 * from its followers cannot acknowledge acks=all, and acks=1 may be lost on failover anyway. */
static bool serving(sl_broker_t *b, const sl_replica_t *r) {
    return r && r->leading && sl_cluster_lease_ok(b);
}

int16_t sl_replica_produce_check(sl_broker_t *b, sl_topic_t *t, sl_partition_t *p, int16_t acks) {
    if (!b->cluster) {
        return KERR_NONE;
    }
    sl_replica_t *r = p->repl;
    if (!r || !r->leading) {
        return KERR_NOT_LEADER_OR_FOLLOWER;
    }
    if (acks == -1 && r->a.n_isr < sl_replica_min_isr(t, r)) {
        return KERR_NOT_ENOUGH_REPLICAS;
    }
    return KERR_NONE;
}

void sl_replica_stamp(sl_partition_t *p, uint8_t *records, size_t len) {
    if (!p->repl) {
        return;
    }
    size_t pos = 0;
    while (pos + SL_BATCH_LOG_OVERHEAD + 4 <= len) {
        sl_store_be32(records + pos + 12, (uint32_t)p->repl->a.epoch);
        pos += (size_t)sl_load_be32(records + pos + 8) + SL_BATCH_LOG_OVERHEAD;
    }
}

void sl_replica_appended(sl_broker_t *b, sl_partition_t *p, int64_t base) {
    if (!p->repl) {
        return;
    }
    ep_push(p->repl, p->repl->a.epoch, base);
    update_hw(b, p);
}

bool sl_replica_acked(sl_broker_t *b, sl_partition_t *p, int64_t end, int *err) {
    sl_replica_t *r = p->repl;
    *err = KERR_NONE;
    if (!b->cluster) {
        return true;
    }
    if (!r || !r->leading) {
        *err = KERR_NOT_LEADER_OR_FOLLOWER;
        return true;
    }
    if (r->hw >= end) {
        return true;
    }
    if (r->a.n_isr < sl_replica_min_isr(p->topic, r)) {
        *err = KERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND;
        return true;
    }
    return false;
}

int64_t sl_replica_hw(const sl_partition_t *p) {
    return p->repl ? SL_MIN(p->repl->hw, sl_plog_end_offset(p->plog)) : sl_plog_end_offset(p->plog);
}

/* The first offset of the leader's current epoch (its LEO when nothing was written in it). */
static int64_t epoch_start(const sl_partition_t *p) {
    const sl_replica_t *r = p->repl;
    if (r->n_ep > 0 && r->ep[r->n_ep - 1].epoch == r->a.epoch) {
        return r->ep[r->n_ep - 1].start;
    }
    return sl_plog_end_offset(p->plog);
}

int16_t sl_replica_fetch_check(sl_broker_t *b, sl_partition_t *p, int32_t replica_id,
                               int64_t fetch_offset) {
    if (!b->cluster) {
        return KERR_NONE;
    }
    sl_replica_t *r = p->repl;
    if (!r || !r->leading) {
        return KERR_NOT_LEADER_OR_FOLLOWER;
    }
    if (replica_id < 0) {
        return serving(b, r) ? KERR_NONE : KERR_NOT_LEADER_OR_FOLLOWER;
    }
    sl_repl_follower_t *f = NULL;
    for (int32_t i = 0; i < r->n_fol; i++) {
        if (r->fol[i].id == replica_id) {
            f = &r->fol[i];
        }
    }
    int64_t leo = sl_plog_end_offset(p->plog);
    if (!f) {
        return KERR_NOT_LEADER_OR_FOLLOWER; /* not a replica of this partition */
    }
    if (fetch_offset < 0 || fetch_offset > leo) {
        return KERR_OFFSET_OUT_OF_RANGE; /* it must truncate first */
    }
    /* Caught up: at our end now, or at the end we had when we answered its previous fetch
     * (under steady load a follower is never exactly at the end: Kafka's rule). */
    uint64_t now = sl_mono_ms();
    if (fetch_offset >= leo) {
        f->caught_up_ms = (int64_t)now;
    } else if (f->leo >= 0 && fetch_offset >= f->prev_leo && f->prev_ms > f->caught_up_ms) {
        f->caught_up_ms = f->prev_ms;
    }
    f->leo = fetch_offset;
    f->prev_leo = leo;
    f->prev_ms = (int64_t)now;
    update_hw(b, p);
    if (!has_id(r->a.isr, r->a.n_isr, replica_id) && fetch_offset >= r->hw &&
        fetch_offset >= epoch_start(p) && r->a.n_isr < SL_META_MAX_REPLICAS) {
        int32_t isr[SL_META_MAX_REPLICAS];
        memcpy(isr, r->a.isr, sizeof isr);
        isr[r->a.n_isr] = replica_id;
        propose_isr(b, p, isr, r->a.n_isr + 1);
    }
    return KERR_NONE;
}

int16_t sl_replica_epoch_end(sl_partition_t *p, int32_t epoch, int32_t *epoch_out,
                             int64_t *end_out) {
    sl_replica_t *r = p->repl;
    if (!r || !r->leading) {
        return KERR_NOT_LEADER_OR_FOLLOWER;
    }
    sl_repl_epoch_end(r->ep, r->n_ep, sl_plog_end_offset(p->plog), epoch, epoch_out, end_out);
    return KERR_NONE;
}

int16_t sl_replica_epoch_check(const sl_partition_t *p, int32_t current_leader_epoch) {
    const sl_replica_t *r = p->repl;
    if (!r || current_leader_epoch < 0 || current_leader_epoch == r->a.epoch) {
        return KERR_NONE;
    }
    return current_leader_epoch < r->a.epoch ? KERR_FENCED_LEADER_EPOCH : KERR_UNKNOWN_LEADER_EPOCH;
}

int16_t sl_replica_client_epoch_end(sl_broker_t *b, sl_partition_t *p, int32_t epoch,
                                    int32_t *epoch_out, int64_t *end_out) {
    *epoch_out = -1;
    *end_out = -1;
    if (b->cluster && !serving(b, p->repl)) {
        return KERR_NOT_LEADER_OR_FOLLOWER;
    }
    if (epoch < 0) {
        return KERR_NONE;
    }
    if (!p->repl) {
        /* A single node reports leader epoch 0 (Metadata): its whole log is that epoch. */
        if (epoch == 0) {
            *epoch_out = 0;
            *end_out = sl_plog_end_offset(p->plog);
        }
        return KERR_NONE;
    }
    return sl_replica_epoch_end(p, epoch, epoch_out, end_out);
}

typedef struct shrink_ctx {
    sl_broker_t *b;
    uint64_t now;
} shrink_ctx_t;

static void shrink_topic(sl_topic_t *t, void *opaque) {
    shrink_ctx_t *c = opaque;
    uint64_t lag = (uint64_t)c->b->conf.replica_lag_time_max_ms;
    int32_t me = self_id(c->b);
    for (int32_t i = 0; i < t->n_partitions; i++) {
        sl_partition_t *p = t->parts[i];
        sl_replica_t *r = p->repl;
        if (!r || !r->leading) {
            continue;
        }
        int32_t keep[SL_META_MAX_REPLICAS], n = 0;
        for (int32_t k = 0; k < r->a.n_isr; k++) {
            int32_t id = r->a.isr[k];
            bool late = false;
            for (int32_t j = 0; j < r->n_fol && id != me; j++) {
                late |=
                    r->fol[j].id == id && (int64_t)c->now - r->fol[j].caught_up_ms > (int64_t)lag;
            }
            if (!late) {
                keep[n++] = id;
            }
        }
        if (n < r->a.n_isr) {
            propose_isr(c->b, p, keep, n);
        }
    }
}

/* ---- fetcher threads ---- */

/* One request on the fetcher's connection (opened or re-opened as needed, with the
 * inter-broker listener's TLS and SASL). A connection the leader refuses (certificate, SASL
 * credentials) is logged at WARN, at most every SEC_WARN_MS: until the configuration is fixed
 * this replica cannot fetch, and the leader drops it from the ISR after replica.lag.time.max.ms. */
static bool exchange(fetcher_t *f, int16_t key, int16_t version, const char *host, int port,
                     const sl_buf_t *body, sl_buf_t *resp) {
    if (f->peer.fd >= 0 && (strcmp(host, f->conn_host) != 0 || port != f->conn_port)) {
        sl_peer_close(&f->peer);
    }
    if (f->peer.fd < 0) {
        const sl_peer_sec_t *sec = sl_cluster_sec(f->rp->b);
        char err[SL_ERRLEN];
        sl_err_t rc =
            sl_peer_dial(&f->peer, sec, host, port, CONNECT_TIMEOUT_MS, IO_TIMEOUT_MS, err);
        if (rc != SL_OK) {
            uint64_t now = sl_mono_ms();
            if (rc == SL_ERR_INVAL && (!f->warned_ms || now - f->warned_ms >= SEC_WARN_MS)) {
                f->warned_ms = now;
                sl_log(SL_LOG_WARN, "replica",
                       "leader=%d security=\"%s\" err=\"%s\" msg=\"inter-broker connection "
                       "refused: cannot replicate from this leader\"",
                       (int)f->leader, sl_peer_sec_describe(sec), err);
            } else if (rc != SL_ERR_INVAL) {
                sl_log(SL_LOG_DEBUG, "replica", "leader=%d err=\"%s\"", (int)f->leader, err);
            }
            if (rc == SL_ERR_INVAL) {
                /* Back off (Kafka's reconnect.backoff): each refused attempt costs both brokers a
                 * handshake and the leader its failed-authentication delay. */
                struct timespec ts = {REFUSED_BACKOFF_MS / 1000, 0};
                nanosleep(&ts, NULL);
            }
            return false;
        }
        snprintf(f->conn_host, sizeof f->conn_host, "%s", host);
        f->conn_port = port;
    }
    if (sl_peer_call(&f->peer, key, version, body->data, body->len, resp, MAX_RESP_BYTES, NULL) !=
        SL_OK) {
        resp->len = 0;
        sl_peer_close(&f->peer);
        return false;
    }
    return true;
}

static void *fetcher_main(void *arg) {
    fetcher_t *f = arg;
    sl_replicator_t *rp = f->rp;
    sl_buf_t body = {0}, resp = {0};
    for (;;) {
        pthread_mutex_lock(&rp->mu);
        while (f->state != F_SENT && !rp->stopping) {
            pthread_cond_wait(&rp->cv, &rp->mu);
        }
        if (rp->stopping) {
            pthread_mutex_unlock(&rp->mu);
            break;
        }
        body.len = 0;
        sl_buf_append(&body, f->req.data, f->req.len);
        char host[256];
        snprintf(host, sizeof host, "%s", f->host);
        int port = f->port;
        int kind = f->kind;
        pthread_mutex_unlock(&rp->mu);
        bool ok = kind == K_FETCH
                      ? exchange(f, SL_API_Fetch, FETCH_VERSION, host, port, &body, &resp)
                      : exchange(f, SL_CLUSTER_API_KEY, 0, host, port, &body, &resp);
        pthread_mutex_lock(&rp->mu);
        f->resp.len = 0;
        sl_buf_append(&f->resp, resp.data, resp.len);
        f->ok = ok;
        f->state = F_DONE;
        pthread_mutex_unlock(&rp->mu);
        uint64_t one = 1;
        if (write(rp->efd, &one, sizeof one) < 0 && errno != EAGAIN) {
            sl_log(SL_LOG_ERROR, "replica", "msg=\"eventfd write: %s\"", strerror(errno));
        }
    }
    sl_peer_close(&f->peer);
    sl_buf_fini(&body);
    sl_buf_fini(&resp);
    return NULL;
}

static void on_efd(sl_loop_t *loop, int fd, void *data, unsigned events) {
    (void)loop;
    (void)events;
    sl_replicator_t *rp = data;
    rp->kick = true;
    uint64_t n;
    if (read(fd, &n, sizeof n) < 0 && errno != EAGAIN) {
        sl_log(SL_LOG_ERROR, "replica", "msg=\"eventfd read: %s\"", strerror(errno));
    }
    /* The work happens in before-sleep (sl_replica_poll). */
}

static void on_retry(sl_loop_t *loop, uint64_t id, void *data) {
    (void)loop;
    (void)id;
    sl_broker_t *b = data;
    if (b->replicator) {
        b->replicator->kick = true; /* before-sleep polls */
    }
}

static sl_replicator_t *replicator(sl_broker_t *b) {
    if (b->replicator) {
        return b->replicator;
    }
    sl_replicator_t *rp = sl_xcalloc(1, sizeof *rp);
    rp->b = b;
    pthread_mutex_init(&rp->mu, NULL);
    pthread_cond_init(&rp->cv, NULL);
    rp->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (rp->efd < 0 || sl_loop_watch(b->loop, rp->efd, SL_EV_READ, on_efd, rp) != SL_OK) {
        sl_log(SL_LOG_ERROR, "replica", "msg=\"cannot watch an eventfd\"");
    }
    b->replicator = rp;
    return rp;
}

static fetcher_t *fetcher_for(sl_replicator_t *rp, int32_t leader) {
    for (fetcher_t *f = rp->fetchers; f; f = f->next) {
        if (f->leader == leader) {
            return f;
        }
    }
    fetcher_t *f = sl_xcalloc(1, sizeof *f);
    f->rp = rp;
    f->leader = leader;
    f->peer = sl_peer_init("sluice-replica-fetcher");
    if (pthread_create(&f->th, NULL, fetcher_main, f) != 0) {
        sl_log(SL_LOG_ERROR, "replica", "leader=%d msg=\"cannot start a fetcher thread\"",
               (int)leader);
        free(f);
        return NULL;
    }
    f->next = rp->fetchers;
    rp->fetchers = f;
    sl_log(SL_LOG_INFO, "replica", "leader=%d msg=\"fetcher started\"", (int)leader);
    return f;
}

/* ---- the loop's side of fetching ---- */

typedef struct build_ctx {
    sl_broker_t *b;
    int32_t leader;
    bool any;       /* a partition is followed on this leader */
    bool not_ready; /* one of them is still syncing or has data not durable yet */
    bool epochs;    /* building the epoch query (else the fetch) */
    int32_t n;
    sl_writer_t *wr;
} build_ctx_t;

static bool followed(const sl_partition_t *p, int32_t leader) {
    return p->repl && p->repl->following && p->repl->a.leader == leader && !sl_plog_failed(p->plog);
}

static bool needs_check(const sl_partition_t *p) {
    return p->repl->need_epoch_check && sl_plog_end_offset(p->plog) > sl_plog_start_offset(p->plog);
}

static void scan_topic(sl_topic_t *t, void *opaque) {
    build_ctx_t *c = opaque;
    for (int32_t i = 0; i < t->n_partitions; i++) {
        sl_partition_t *p = t->parts[i];
        if (!followed(p, c->leader)) {
            continue;
        }
        c->any = true;
        if (p->dirty || p->sync_inflight ||
            sl_plog_durable_offset(p->plog) < sl_plog_end_offset(p->plog)) {
            c->not_ready = true;
        }
        c->epochs |= needs_check(p);
    }
}

static void write_topic(sl_topic_t *t, void *opaque) {
    build_ctx_t *c = opaque;
    for (int32_t i = 0; i < t->n_partitions; i++) {
        sl_partition_t *p = t->parts[i];
        if (!followed(p, c->leader)) {
            continue;
        }
        if (c->epochs) {
            if (!needs_check(p)) {
                continue;
            }
            sl_wr_strz(c->wr, false, t->name);
            sl_wr_i32(c->wr, i);
            sl_wr_i32(c->wr, p->repl->n_ep ? p->repl->ep[p->repl->n_ep - 1].epoch : -1);
        } else {
            p->repl->need_epoch_check = false; /* an empty log has nothing to cut */
            sl_wr_strz(c->wr, false, t->name); /* one topic entry per partition */
            sl_wr_i32(c->wr, 1);
            sl_wr_i32(c->wr, i);
            sl_wr_i64(c->wr, sl_plog_end_offset(p->plog));
            sl_wr_i32(c->wr, FETCH_PART_BYTES);
        }
        c->n++;
    }
}

/* Builds the fetcher's next request into f->req (under rp->mu held by the caller); false when
 * it has nothing to send now. */
static bool build_next(sl_broker_t *b, fetcher_t *f) {
    build_ctx_t c = {.b = b, .leader = f->leader};
    sl_topics_each(b, scan_topic, &c);
    if (!c.any || c.not_ready) {
        return false;
    }
    f->req.len = 0;
    sl_writer_t wr = {&f->req};
    c.wr = &wr;
    size_t count_at;
    if (c.epochs) {
        f->kind = K_EPOCH;
        sl_wr_i8(&wr, SL_CLUSTER_OP_EPOCH_END);
        sl_wr_i32(&wr, self_id(b));
        count_at = sl_wr_i32(&wr, 0);
    } else {
        f->kind = K_FETCH;
        sl_wr_i32(&wr, self_id(b)); /* replica_id */
        sl_wr_i32(&wr, FETCH_MAX_WAIT_MS);
        sl_wr_i32(&wr, 1); /* min_bytes */
        sl_wr_i32(&wr, FETCH_MAX_BYTES);
        sl_wr_i8(&wr, 0); /* isolation_level */
        count_at = sl_wr_i32(&wr, 0);
    }
    sl_topics_each(b, write_topic, &c);
    sl_wr_patch_i32(&wr, count_at, c.n);
    return c.n > 0;
}

static sl_partition_t *resp_part(sl_broker_t *b, fetcher_t *f, sl_str_t topic, int32_t index) {
    sl_partition_t *p = sl_partition_get(b, topic, index);
    return p && followed(p, f->leader) ? p : NULL;
}

static bool visit_new(const sl_batch_info_t *info, void *opaque) {
    ep_push(opaque, info->leader_epoch, info->base_offset);
    return true;
}

/* Appends one partition's fetched batches; false if they did not fit (the next fetch asks
 * again from our end). */
static bool take_records(sl_broker_t *b, sl_partition_t *p, uint8_t *rec, size_t len,
                         int64_t leader_hw) {
    sl_replica_t *r = p->repl;
    size_t whole = 0;
    while (whole < len) {
        sl_batch_info_t info;
        if (sl_batch_parse(rec + whole, len - whole, false, &info) != SL_OK) {
            break; /* a partial batch at the end: fetched again next time */
        }
        whole += info.total_bytes;
    }
    if (whole > 0) {
        sl_err_t rc = sl_plog_append_replica(p->plog, rec, whole, sl_wall_ms());
        if (rc != SL_OK) {
            sl_log(SL_LOG_WARN, "replica",
                   "topic=%s partition=%d err=\"%s\" msg=\"fetched data not appended\"",
                   p->topic->name, p->index, sl_err_str(rc));
            r->need_epoch_check = true;
            return false;
        }
        size_t pos = 0;
        while (pos < whole) {
            sl_batch_info_t info;
            SL_ASSERT(sl_batch_parse(rec + pos, whole - pos, false, &info) == SL_OK);
            (void)visit_new(&info, r);
            if (info.producer_id >= 0) {
                /* Producer state follows the leader's, so that as leader this replica
                 * answers an idempotent producer's retry as a duplicate, knows the
                 * transactions open here (their markers, the LSO) and the aborted ones. */
                int control = (info.attributes & SL_BATCH_ATTR_CONTROL)
                                  ? sl_batch_control_type(rec + pos, whole - pos)
                                  : -1;
                sl_pstate_replay(p->pstate, &info, control);
            }
            pos += info.total_bytes;
        }
        sl_counter_add(p->m_bytes_in, whole);
        sl_broker_mark_dirty(b, p); /* the group commit syncs it before our next fetch */
    }
    r->hw = SL_MIN(leader_hw, sl_plog_end_offset(p->plog));
    return true;
}

static bool handle_fetch_resp(sl_broker_t *b, fetcher_t *f) {
    sl_reader_t rd = sl_reader_init(f->resp.data, f->resp.len);
    (void)sl_rd_i32(&rd); /* throttle_time_ms */
    int32_t nt = sl_rd_array_len(&rd, false, 4);
    bool clean = true;
    for (int32_t ti = 0; ti < nt && !rd.err; ti++) {
        sl_str_t topic = sl_rd_str(&rd, false);
        int32_t np = sl_rd_array_len(&rd, false, 30);
        for (int32_t pi = 0; pi < np && !rd.err; pi++) {
            int32_t index = sl_rd_i32(&rd);
            int16_t err = sl_rd_i16(&rd);
            int64_t hw = sl_rd_i64(&rd);
            (void)sl_rd_i64(&rd); /* last_stable_offset */
            int32_t na = sl_rd_i32(&rd);
            for (int32_t k = 0; k < na && !rd.err; k++) {
                (void)sl_rd_i64(&rd);
                (void)sl_rd_i64(&rd);
            }
            sl_bytes_t rec = sl_rd_bytes(&rd, false);
            if (rd.err) {
                break;
            }
            sl_partition_t *p = resp_part(b, f, topic, index);
            if (!p) {
                continue;
            }
            if (err != KERR_NONE) {
                clean = false;
                if (err == KERR_OFFSET_OUT_OF_RANGE) {
                    p->repl->need_epoch_check = true;
                }
                continue;
            }
            if (rec.p && rec.len > 0) {
                clean &= take_records(b, p, (uint8_t *)(uintptr_t)rec.p, rec.len, hw);
            } else {
                p->repl->hw = SL_MIN(hw, sl_plog_end_offset(p->plog));
            }
        }
    }
    return clean && !rd.err;
}

static bool handle_epoch_resp(sl_broker_t *b, fetcher_t *f) {
    sl_reader_t rd = sl_reader_init(f->resp.data, f->resp.len);
    int16_t top = sl_rd_i16(&rd);
    int32_t n = sl_rd_array_len(&rd, false, 20);
    if (rd.err || top != KERR_NONE) {
        return false;
    }
    bool clean = true;
    for (int32_t i = 0; i < n && !rd.err; i++) {
        sl_str_t topic = sl_rd_str(&rd, false);
        int32_t index = sl_rd_i32(&rd);
        int16_t err = sl_rd_i16(&rd);
        int32_t epoch = sl_rd_i32(&rd);
        int64_t end = sl_rd_i64(&rd);
        sl_partition_t *p = rd.err ? NULL : resp_part(b, f, topic, index);
        if (!p) {
            continue;
        }
        sl_replica_t *r = p->repl;
        if (err != KERR_NONE) {
            clean = false;
            continue;
        }
        if (p->dirty || p->sync_inflight) {
            clean = false; /* asked again once the sync is done */
            continue;
        }
        int64_t leo = sl_plog_end_offset(p->plog);
        int64_t cut = sl_repl_truncate_point(r->ep, r->n_ep, leo, epoch, end);
        cut = SL_MAX(cut, sl_plog_start_offset(p->plog));
        if (cut < leo) {
            sl_err_t rc = sl_plog_truncate(p->plog, cut);
            sl_log(rc == SL_OK ? SL_LOG_WARN : SL_LOG_ERROR, "replica",
                   "topic=%s partition=%d from=%lld to=%lld leader_epoch=%d err=\"%s\" "
                   "msg=\"diverged tail truncated\"",
                   p->topic->name, p->index, (long long)leo, (long long)cut, (int)epoch,
                   sl_err_str(rc));
            if (rc != SL_OK) {
                clean = false;
                continue;
            }
            sl_pstate_truncate(p->pstate, cut);
            ep_cut(r, cut);
        }
        r->hw = SL_MIN(r->hw, sl_plog_end_offset(p->plog));
        r->need_epoch_check = false;
    }
    return clean && !rd.err;
}

void sl_replica_poll(sl_broker_t *b) {
    if (!b->cluster) {
        return;
    }
    sl_replicator_t *rp = replicator(b);
    uint64_t now = sl_mono_ms();
    if (now >= rp->next_shrink_ms) {
        rp->next_shrink_ms = now + SHRINK_CHECK_MS;
        shrink_ctx_t sc = {b, now};
        sl_topics_each(b, shrink_topic, &sc);
    }
    if (!rp->kick) {
        return;
    }
    rp->kick = false;
    /* Leaders this broker follows anything on get a fetcher. */
    sl_mbroker_t bs[SL_MSTATE_MAX_BROKERS];
    size_t nb = sl_cluster_brokers(b, bs, SL_MSTATE_MAX_BROKERS);
    for (size_t i = 0; i < nb && rp->roles_changed; i++) {
        if (bs[i].id == self_id(b)) {
            continue;
        }
        build_ctx_t c = {.b = b, .leader = bs[i].id};
        bool have = false;
        for (fetcher_t *f = rp->fetchers; f; f = f->next) {
            have |= f->leader == bs[i].id;
        }
        if (!have) {
            sl_topics_each(b, scan_topic, &c);
            if (c.any) {
                (void)fetcher_for(rp, bs[i].id);
            }
        }
    }
    for (fetcher_t *f = rp->fetchers; f; f = f->next) {
        pthread_mutex_lock(&rp->mu);
        int state = f->state;
        pthread_mutex_unlock(&rp->mu);
        if (state == F_SENT) {
            continue;
        }
        if (state == F_DONE) {
            /* The thread does not touch resp until the state goes back to SENT. */
            bool ok =
                f->ok && (f->kind == K_FETCH ? handle_fetch_resp(b, f) : handle_epoch_resp(b, f));
            if (!ok) {
                f->retry_at_ms = now + RETRY_MS;
                (void)sl_loop_timer(b->loop, RETRY_MS, on_retry, b);
            }
            pthread_mutex_lock(&rp->mu);
            f->state = F_IDLE;
            pthread_mutex_unlock(&rp->mu);
        }
        if (now < f->retry_at_ms) {
            (void)sl_loop_timer(b->loop, f->retry_at_ms - now, on_retry, b); /* kicks again */
            continue;
        }
        sl_mbroker_t lb;
        bool addr = false;
        for (size_t i = 0; i < nb; i++) {
            if (bs[i].id == f->leader && !bs[i].fenced) {
                lb = bs[i];
                addr = true;
            }
        }
        if (!addr) {
            continue;
        }
        pthread_mutex_lock(&rp->mu);
        if (build_next(b, f)) {
            snprintf(f->host, sizeof f->host, "%s", lb.ib_host);
            f->port = lb.ib_port;
            f->state = F_SENT;
            pthread_cond_broadcast(&rp->cv);
        }
        pthread_mutex_unlock(&rp->mu);
    }
    rp->roles_changed = false;
}

void sl_replica_stop(sl_broker_t *b) {
    sl_replicator_t *rp = b->replicator;
    if (!rp) {
        return;
    }
    pthread_mutex_lock(&rp->mu);
    rp->stopping = true;
    pthread_cond_broadcast(&rp->cv);
    pthread_mutex_unlock(&rp->mu);
    /* A thread inside a fetch returns within the leader's max wait or the I/O timeout. */
    while (rp->fetchers) {
        fetcher_t *f = rp->fetchers;
        rp->fetchers = f->next;
        pthread_join(f->th, NULL);
        sl_buf_fini(&f->req);
        sl_buf_fini(&f->resp);
        free(f);
    }
    if (rp->efd >= 0) {
        sl_loop_unwatch(b->loop, rp->efd);
        close(rp->efd);
    }
    pthread_mutex_destroy(&rp->mu);
    pthread_cond_destroy(&rp->cv);
    free(rp);
    b->replicator = NULL;
}

/* wait.c -- group commit and parked requests.
 *
 * Group commit: a produce with acks=all appends, marks its partitions dirty and parks with, per
 * partition, the end offset its data reaches. In the loop's before-sleep phase every dirty
 * partition without a sync in flight gets one fdatasync submitted to the fsync worker (fsyncq.c),
 * which covers every append made so far; the loop keeps reading and appending meanwhile. When a
 * sync completes, the partition's durable offset advances and every parked request whose
 * writes are all durable is answered. A failed sync makes the partition FAILED: the requests
 * waiting on it get KAFKA_STORAGE_ERROR. So a reply never leaves before its data is on disk, and
 * one fdatasync serves every producer that appended before it started. In a cluster a produce
 * also waits for its followers and is bounded by its timeout_ms: what is not acknowledged by
 * then is answered REQUEST_TIMED_OUT (Kafka's behaviour; the data may still be replicated).
 *
 * The record files of the coordinators (committed offsets, transaction state) are synced the
 * same way by a second worker, so neither an OffsetCommit nor a transaction's decision ever
 * blocks the loop on fdatasync: OffsetCommit and InitProducerId wait for a position of their
 * file, EndTxn for its transaction to complete (decision durable, then markers and offsets).
 *
 * Long-poll fetch: a fetch that found fewer than min_bytes parks with a copy of its frame. When an
 * append happens, before-sleep re-runs parked fetches; a timer answers at max_wait_ms. */
#include "broker/wait.h"

#include <string.h>

#include "broker/offsets_topic.h"
#include "broker/replica.h"
#include "broker/txn_topic.h"
#include "common/clock.h"
#include "common/log.h"
#include "group/coordinator.h"
#include "proto/kerr.h"
#include "storage/fsyncq.h"
#include "storage/reclog.h"
#include "txn/txn_coord.h"

typedef enum { W_PART, W_LOG, W_TXN } wait_kind_t;

typedef struct wait_cond {
    wait_kind_t kind;
    sl_partition_t *p; /* W_PART */
    sl_reclog_t *log;  /* W_LOG */
    char *txn_id;      /* W_TXN (owned); with pid */
    int64_t pid;
    int64_t end; /* W_PART: offsets below this; W_LOG: position */
    size_t err_at, base_at;
} wait_cond_t;

struct sl_durable_wait {
    sl_durable_wait_t *next;
    sl_req_t *req;
    wait_cond_t *conds;
    size_t n, cap;
    int32_t timeout_ms; /* -1: none */
    uint64_t deadline;  /* monotonic ms, 0: none */
    uint64_t timer;     /* its loop timer, cancelled once answered */
};

struct sl_fetch_wait {
    sl_fetch_wait_t *next;
    sl_req_t *req;
    uint8_t *frame; /* owned copy; req->rd points into it */
    size_t frame_len;
    size_t body_off;
    uint64_t timer;
};

sl_durable_wait_t *sl_durable_wait_new(sl_req_t *req) {
    sl_durable_wait_t *pw = sl_xcalloc(1, sizeof *pw);
    pw->req = req;
    pw->timeout_ms = -1;
    return pw;
}

void sl_durable_wait_set_timeout(sl_durable_wait_t *pw, int32_t timeout_ms) {
    pw->timeout_ms = timeout_ms;
}

static wait_cond_t *add_cond(sl_durable_wait_t *pw, wait_kind_t kind, size_t err_at) {
    if (pw->n == pw->cap) {
        pw->cap = pw->cap ? pw->cap * 2 : 4;
        pw->conds = sl_xrealloc(pw->conds, pw->cap * sizeof *pw->conds);
    }
    wait_cond_t *c = &pw->conds[pw->n++];
    *c = (wait_cond_t){.kind = kind, .err_at = err_at, .base_at = SIZE_MAX};
    return c;
}

void sl_durable_wait_add_part(sl_durable_wait_t *pw, sl_partition_t *p, int64_t end_offset,
                              size_t err_at, size_t base_at) {
    wait_cond_t *c = add_cond(pw, W_PART, err_at);
    c->p = p;
    c->end = end_offset;
    c->base_at = base_at;
}

void sl_durable_wait_add_log(sl_durable_wait_t *pw, sl_reclog_t *log, uint64_t pos, size_t err_at) {
    wait_cond_t *c = add_cond(pw, W_LOG, err_at);
    c->log = log;
    c->end = (int64_t)pos;
}

void sl_durable_wait_add_txn(sl_durable_wait_t *pw, const sl_txn_t *t, size_t err_at) {
    wait_cond_t *c = add_cond(pw, W_TXN, err_at);
    c->txn_id = sl_xstrdup(t->id);
    c->pid = t->pid;
}

void sl_durable_wait_cancel(sl_durable_wait_t *pw) {
    if (!pw) {
        return;
    }
    for (size_t i = 0; i < pw->n; i++) {
        free(pw->conds[i].txn_id);
    }
    free(pw->conds);
    free(pw);
}

static void answer_waits(sl_broker_t *b);

static void on_wait_deadline(sl_loop_t *loop, uint64_t id, void *data) {
    (void)loop;
    sl_broker_t *b = data;
    /* The timer's clock can run a little ahead of the deadline read at park time: its own wait
     * is due now, whatever the clock says. */
    for (sl_durable_wait_t *pw = b->durable_waits; pw; pw = pw->next) {
        if (pw->timer == id) {
            pw->deadline = 1;
            pw->timer = 0;
        }
    }
    answer_waits(b);
}

void sl_durable_waits_expire_all(sl_broker_t *b) {
    for (sl_durable_wait_t *pw = b->durable_waits; pw; pw = pw->next) {
        pw->deadline = 1;
    }
    answer_waits(b);
}

sl_err_t sl_durable_wait_park(sl_broker_t *b, sl_durable_wait_t *pw) {
    if (pw->timeout_ms >= 0) {
        pw->deadline = sl_mono_ms() + (uint64_t)pw->timeout_ms;
        pw->timer = sl_loop_timer(b->loop, (uint64_t)pw->timeout_ms, on_wait_deadline, b);
    }
    pw->next = b->durable_waits;
    b->durable_waits = pw;
    return SL_AGAIN;
}

void sl_broker_mark_dirty(sl_broker_t *b, sl_partition_t *p) {
    if (!p->dirty) {
        p->dirty = true;
        p->next_dirty = b->dirty;
        b->dirty = p;
    }
}

/* Submits one sync per dirty partition that has none running, and one per coordinator file
 * that has a sync wanted and none running. */
static void submit_syncs(sl_broker_t *b) {
    sl_partition_t **pp = &b->dirty;
    while (*pp) {
        sl_partition_t *p = *pp;
        if (p->sync_inflight) {
            pp = &p->next_dirty; /* stays dirty: resubmitted when the running sync completes */
            continue;
        }
        int fd, dir_fds[2];
        int64_t target;
        sl_err_t rc = sl_plog_sync_begin(p->plog, &fd, dir_fds, &target);
        if (rc == SL_AGAIN) {
            pp = &p->next_dirty; /* out of descriptors: stays dirty, retried next iteration */
            continue;
        }
        *pp = p->next_dirty;
        p->dirty = false;
        p->next_dirty = NULL;
        if (rc == SL_OK && fd >= 0) {
            p->sync_inflight = true;
            p->sync_target = target;
            sl_fsyncq_submit_dirs(b->fsyncq, fd, dir_fds, p);
        }
    }
    sl_reclog_t *logs[] = {b->coord ? sl_coord_log(b->coord) : NULL,
                           b->txn ? sl_txn_coord_log(b->txn) : NULL};
    for (size_t i = 0; i < sizeof logs / sizeof logs[0]; i++) {
        int fd;
        if (logs[i] && sl_reclog_sync_begin(logs[i], &fd)) {
            sl_fsyncq_submit(b->logsyncq, fd, logs[i]);
        }
    }
}

/* Whether a condition holds (or can no longer hold: *err is then its error code). */
static bool cond_ready(sl_broker_t *b, const wait_cond_t *c, int *err) {
    *err = KERR_NONE;
    switch (c->kind) {
    case W_PART:
        if (sl_plog_durable_offset(c->p->plog) >= c->end) {
            /* On disk here; in a cluster also on every in-sync replica's (replica.h). */
            bool ready = sl_replica_acked(b, c->p, c->end, err);
            if (*err == KERR_NOT_LEADER_OR_FOLLOWER &&
                (!strcmp(c->p->topic->name, SL_OFFSETS_TOPIC) ||
                 !strcmp(c->p->topic->name, SL_TXN_TOPIC))) {
                *err = KERR_NOT_COORDINATOR; /* a coordinator's record: the clients' code */
            } else if (*err == KERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND &&
                       !strcmp(c->p->topic->name, SL_TXN_TOPIC)) {
                *err = KERR_COORDINATOR_NOT_AVAILABLE; /* as Kafka's coordinator: retriable */
            }
            return ready;
        }
        *err = KERR_KAFKA_STORAGE_ERROR;
        return sl_plog_failed(c->p->plog);
    case W_LOG:
        if (sl_reclog_durable(c->log, (uint64_t)c->end)) {
            return true;
        }
        *err = KERR_KAFKA_STORAGE_ERROR;
        return sl_reclog_failed(c->log);
    case W_TXN:
    default: {
        sl_str_t id = {c->txn_id, strlen(c->txn_id)};
        const sl_txn_t *t = sl_txn_get(b->txn, id);
        if (!t && b->cluster) {
            /* Its partition moved to another coordinator, which completes the transaction: the
             * producer asks that one again. */
            *err = KERR_NOT_COORDINATOR;
            return true;
        }
        if (!t || t->pid != c->pid || !sl_txn_prepared(t)) {
            *err = t && t->pid == c->pid ? t->apply_err : KERR_NONE;
            return true;
        }
        *err = KERR_KAFKA_STORAGE_ERROR;
        if (sl_reclog_failed(sl_txn_coord_log(b->txn)) ||
            (t->offsets_pos && sl_reclog_failed(sl_coord_log(b->coord)))) {
            return true; /* it cannot complete until a restart */
        }
        for (size_t i = 0; i < t->n_parts; i++) {
            sl_partition_t *p =
                t->parts[i].marker >= 0
                    ? sl_partition_get(b, (sl_str_t){t->parts[i].topic, strlen(t->parts[i].topic)},
                                       t->parts[i].partition)
                    : NULL;
            if (p && sl_plog_failed(p->plog)) {
                return true;
            }
        }
        return false;
    }
    }
}

/* Answers every parked request whose conditions all hold (or have failed), and those past
 * their deadline: what is not acknowledged by then is REQUEST_TIMED_OUT. */
static void answer_waits(sl_broker_t *b) {
    sl_durable_wait_t **pp = &b->durable_waits;
    uint64_t now = sl_mono_ms();
    while (*pp) {
        sl_durable_wait_t *pw = *pp;
        bool ready = true;
        int err;
        for (size_t i = 0; i < pw->n && ready; i++) {
            ready = cond_ready(b, &pw->conds[i], &err);
        }
        bool expired = pw->deadline && now >= pw->deadline;
        if (!ready && !expired) {
            pp = &pw->next;
            continue;
        }
        *pp = pw->next;
        if (pw->timer) {
            sl_loop_cancel(b->loop, pw->timer);
        }
        sl_req_t *req = pw->req;
        sl_buf_t *buf = req->wr.buf;
        for (size_t i = 0; i < pw->n; i++) {
            const wait_cond_t *c = &pw->conds[i];
            if (!cond_ready(b, c, &err)) {
                err = KERR_REQUEST_TIMED_OUT;
            }
            if (err) {
                sl_store_be16(buf->data + c->err_at, (uint16_t)err);
                if (c->base_at != SIZE_MAX) {
                    sl_store_be64(buf->data + c->base_at, (uint64_t)-1);
                }
            }
        }
        sl_req_finish(req);
        free(req);
        sl_durable_wait_cancel(pw);
    }
}

void sl_broker_sync_done(void *token, int rc, uint64_t duration_us, void *opaque) {
    sl_broker_t *b = opaque;
    sl_partition_t *p = token;
    sl_histo_observe_us(b->m_fsync, duration_us);
    p->sync_inflight = false;
    sl_replica_synced(b, p); /* a follower's next fetch may go */
    if (sl_plog_sync_end(p->plog, p->sync_target, rc) != SL_OK) {
        sl_log(SL_LOG_ERROR, "storage", "topic=%s partition=%d op=sync err=\"%s\"", p->topic->name,
               p->index, sl_err_str(rc));
    }
}

void sl_broker_log_sync_done(void *token, int rc, uint64_t duration_us, void *opaque) {
    (void)duration_us;
    (void)opaque;
    sl_reclog_sync_end(token, rc);
}

/* After syncs completed: transactions move on (markers of durable decisions, completions), then
 * the requests waiting on any of it are answered. */
static void after_syncs(sl_broker_t *b) {
    if (b->txn) {
        sl_txn_coord_poll(b->txn, sl_wall_ms());
    }
    answer_waits(b);
}

void sl_broker_on_fsync(sl_loop_t *loop, int fd, void *data, unsigned events) {
    (void)loop;
    (void)fd;
    (void)events;
    sl_broker_t *b = data;
    /* Either worker's eventfd: polling both costs a read each and keeps one path. */
    sl_fsyncq_poll(b->fsyncq);
    sl_fsyncq_poll(b->logsyncq);
    after_syncs(b);
}

void sl_broker_flush(sl_broker_t *b) {
    /* Coordinator files first: a decision made durable here writes markers to flush below. */
    if ((b->txn && sl_txn_coord_flush(b->txn, sl_wall_ms()) != SL_OK) ||
        (b->coord && sl_reclog_sync(sl_coord_log(b->coord)) != SL_OK)) {
        sl_log(SL_LOG_ERROR, "storage", "msg=\"coordinator files not synced\"");
    }
    while (b->dirty) {
        submit_syncs(b);
        sl_fsyncq_drain(b->fsyncq);
    }
    sl_fsyncq_drain(b->fsyncq);
    sl_fsyncq_drain(b->logsyncq);
    after_syncs(b);
}

/* ---- fetch waits ---- */

static void fetch_wait_free(sl_fetch_wait_t *fw) {
    free(fw->frame);
    free(fw->req);
    free(fw);
}

static void unlink_fw(sl_broker_t *b, sl_fetch_wait_t *fw) {
    sl_fetch_wait_t **pp = &b->fetch_waits;
    while (*pp && *pp != fw) {
        pp = &(*pp)->next;
    }
    if (*pp) {
        *pp = fw->next;
    }
}

static void rewind_req(sl_fetch_wait_t *fw) {
    fw->req->rd = sl_reader_init(fw->frame, fw->frame_len);
    fw->req->rd.p += fw->body_off;
}

static void on_fetch_timeout(sl_loop_t *loop, uint64_t id, void *data) {
    (void)loop;
    (void)id;
    sl_fetch_wait_t *fw = data;
    sl_broker_t *b = fw->req->broker;
    unlink_fw(b, fw);
    rewind_req(fw);
    (void)sl_fetch_run(fw->req, true);
    sl_req_finish(fw->req);
    fetch_wait_free(fw);
}

sl_err_t sl_fetch_wait_park(sl_broker_t *b, sl_req_t *req, uint64_t max_wait_ms) {
    sl_fetch_wait_t *fw = sl_xcalloc(1, sizeof *fw);
    /* Copy the whole frame so the views decoded on re-runs stay valid. */
    size_t len = (size_t)(req->rd.end - req->rd.start);
    fw->frame = sl_xmalloc(len);
    memcpy(fw->frame, req->rd.start, len);
    fw->frame_len = len;
    fw->body_off = req->body_off;
    fw->req = req;
    rewind_req(fw);
    fw->timer = sl_loop_timer(b->loop, max_wait_ms, on_fetch_timeout, fw);
    fw->next = b->fetch_waits;
    b->fetch_waits = fw;
    return SL_AGAIN;
}

void sl_fetch_recheck(sl_broker_t *b, bool expire_all) {
    sl_fetch_wait_t **pp = &b->fetch_waits;
    while (*pp) {
        sl_fetch_wait_t *fw = *pp;
        rewind_req(fw);
        if (sl_fetch_run(fw->req, expire_all)) {
            *pp = fw->next;
            sl_loop_cancel(b->loop, fw->timer);
            sl_req_finish(fw->req);
            fetch_wait_free(fw);
        } else {
            pp = &fw->next;
        }
    }
}

void sl_fetch_waits_drop_conn(sl_broker_t *b, sl_conn_t *conn) {
    sl_fetch_wait_t **pp = &b->fetch_waits;
    while (*pp) {
        sl_fetch_wait_t *fw = *pp;
        if (fw->req->conn == conn) {
            *pp = fw->next;
            sl_loop_cancel(b->loop, fw->timer);
            sl_resp_discard(fw->req->resp);
            fetch_wait_free(fw);
        } else {
            pp = &fw->next;
        }
    }
}

void sl_broker_before_sleep(sl_loop_t *loop, void *data) {
    (void)loop;
    sl_broker_t *b = data;
    submit_syncs(b);
    sl_replica_poll(b);        /* cluster: may append fetched data */
    sl_otopic_poll(b);         /* cluster: creates and loads the offsets partitions */
    sl_broker_pid_prefetch(b); /* cluster: the next producer-id block, ahead of need */
    if (b->cluster && b->txn) {
        sl_ttopic_poll(b); /* creates, loads and unloads the transaction-state partitions */
        sl_txn_coord_poll(b->txn, sl_wall_ms()); /* decisions replicated, markers landed */
    }
    if (b->dirty) {
        /* Synced now, not at the next wake-up: a follower's next fetch waits for this sync, and
         * on a broker that nothing else wakes (it serves no clients) the loop would sleep until
         * its next timer, up to a minute, with the fetcher stopped. */
        submit_syncs(b);
    }
    if (b->durable_waits) {
        answer_waits(b); /* those made durable by flush.messages or a roll */
    }
    if (b->data_arrived) {
        b->data_arrived = false;
        sl_fetch_recheck(b, false);
    }
    sl_conn_reap();
}

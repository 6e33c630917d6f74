/* txn_markers.c -- transaction markers for partitions led anywhere in the cluster
 * (txn_markers.h).
 *
 * Jobs live in one list under a mutex. The loop adds them and drops those the worker marked
 * done when the coordinator asks; the worker only reads a job's fixed fields and its own
 * progress (wait_end, next_ms) and sets `done` last, so a job is never freed under it. Every
 * marker goes through the worker, also one for a partition this broker leads (it then calls its
 * own listener): one path, at the price of a loopback round trip. */
#include "broker/txn_markers.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "broker/cluster.h"
#include "broker/mstate.h"
#include "broker/offsets_topic.h"
#include "broker/replica.h"
#include "common/clock.h"
#include "common/codec.h"
#include "common/log.h"
#include "proto/kerr.h"
#include "storage/batch.h"
#include "txn/pstate.h"

#define CALL_TIMEOUT_MS 5000
#define RETRY_MS        200 /* after a failed call or with no live leader */
#define RECHECK_MS      5   /* asking again whether a written marker is replicated */

typedef struct job {
    struct job *next;
    uint64_t id;
    char *topic;
    int32_t partition;
    int64_t pid;
    int16_t epoch;
    int8_t type;
    int64_t wait_end; /* worker: what the leader said the marker lies below, or -1 */
    uint64_t next_ms; /* worker: not before this (monotonic) */
    bool done;        /* set by the worker, last */
} job_t;

struct sl_txn_markers {
    sl_broker_t *b;
    pthread_t th;
    bool started, stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job_t *head;
    uint64_t next_id;
    int efd; /* the worker wakes the loop when a job is done */
};

/* ---- the worker ---- */

/* One TXN_MARKER call for `j` to the partition's current leader: 1 done, 0 not yet (asked
 * again soon), -1 failed (asked again later, from scratch). */
static int call_leader(struct sl_txn_markers *m, job_t *j) {
    sl_broker_t *b = m->b;
    sl_meta_assign_t a;
    bool live;
    int32_t off[SL_META_MAX_REPLICAS], n_off;
    if (!sl_cluster_partition(b, j->topic, j->partition, &a, &live, off, &n_off)) {
        return 1; /* the topic is gone: nothing left to mark */
    }
    if (a.leader < 0 || !live) {
        return -1;
    }
    sl_mbroker_t bs[SL_MSTATE_MAX_BROKERS];
    size_t nb = SL_MIN(sl_cluster_brokers(b, bs, SL_MSTATE_MAX_BROKERS), SL_MSTATE_MAX_BROKERS);
    const sl_mbroker_t *to = NULL;
    for (size_t i = 0; i < nb && !to; i++) {
        to = bs[i].id == a.leader && !bs[i].fenced ? &bs[i] : NULL;
    }
    if (!to) {
        return -1;
    }
    sl_buf_t body = {0}, resp = {0};
    sl_writer_t wr = {&body};
    sl_wr_i8(&wr, SL_CLUSTER_OP_TXN_MARKER);
    sl_wr_i32(&wr, (int32_t)b->conf.node_id);
    sl_wr_strz(&wr, false, j->topic);
    sl_wr_i32(&wr, j->partition);
    sl_wr_i64(&wr, j->pid);
    sl_wr_i16(&wr, j->epoch);
    sl_wr_i8(&wr, j->type);
    sl_wr_i64(&wr, j->wait_end);
    char err[SL_ERRLEN] = "";
    int result = -1;
    if (sl_cluster_call(sl_cluster_sec(b), to->ib_host, to->ib_port, body.data, body.len, &resp,
                        CALL_TIMEOUT_MS, err) == SL_OK) {
        sl_reader_t rd = sl_reader_init(resp.data, resp.len);
        int16_t code = sl_rd_i16(&rd);
        int64_t wait_end = code == KERR_NONE ? sl_rd_i64(&rd) : -1;
        int8_t done = code == KERR_NONE ? sl_rd_i8(&rd) : 0;
        if (!rd.err && code == KERR_NONE) {
            j->wait_end = wait_end;
            result = done ? 1 : 0;
        } else {
            snprintf(err, sizeof err, "error %d", rd.err ? -1 : code);
        }
    }
    if (result < 0) {
        sl_log(SL_LOG_DEBUG, "txn",
               "topic=%s partition=%d leader=%d err=\"%s\" msg=\"marker "
               "not written yet: retried\"",
               j->topic, j->partition, (int)a.leader, err);
        j->wait_end = -1; /* a new leader may not have what the old one wrote */
    }
    sl_buf_fini(&body);
    sl_buf_fini(&resp);
    return result;
}

static void *worker(void *arg) {
    struct sl_txn_markers *m = arg;
    pthread_mutex_lock(&m->mu);
    while (!m->stop) {
        uint64_t now = sl_mono_ms(), wake = UINT64_MAX;
        job_t *j = m->head;
        while (j && (j->done || j->next_ms > now)) {
            if (!j->done) {
                wake = SL_MIN(wake, j->next_ms);
            }
            j = j->next;
        }
        if (!j) {
            if (wake == UINT64_MAX) {
                pthread_cond_wait(&m->cv, &m->mu);
            } else {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                uint64_t ms = wake - now;
                ts.tv_sec += (time_t)(ms / 1000);
                ts.tv_nsec += (long)(ms % 1000) * 1000000L;
                if (ts.tv_nsec >= 1000000000L) {
                    ts.tv_sec++;
                    ts.tv_nsec -= 1000000000L;
                }
                pthread_cond_timedwait(&m->cv, &m->mu, &ts);
            }
            continue;
        }
        pthread_mutex_unlock(&m->mu);
        int rc = call_leader(m, j); /* j stays: only done jobs are freed */
        pthread_mutex_lock(&m->mu);
        if (rc > 0) {
            j->done = true;
            uint64_t one = 1;
            if (write(m->efd, &one, sizeof one) < 0) {
                /* the loop still sees it at its next turn */
            }
        } else {
            j->next_ms = sl_mono_ms() + (rc == 0 ? RECHECK_MS : RETRY_MS);
        }
    }
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

static void on_wake(sl_loop_t *loop, int fd, void *data, unsigned events) {
    (void)loop;
    (void)events;
    (void)data;
    uint64_t n;
    if (read(fd, &n, sizeof n) < 0) {
        return; /* EAGAIN: another read took it */
    }
    /* before_sleep (wait.c) moves the transactions on and answers what waited for them */
}

sl_err_t sl_markers_start(sl_broker_t *b, char *err) {
    struct sl_txn_markers *m = sl_xcalloc(1, sizeof *m);
    m->b = b;
    m->next_id = 1;
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    m->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    b->markers = m;
    if (m->efd < 0 || sl_loop_watch(b->loop, m->efd, SL_EV_READ, on_wake, b) != SL_OK) {
        snprintf(err, SL_ERRLEN, "marker worker: eventfd: %s", strerror(errno));
        return SL_ERR_IO;
    }
    if (pthread_create(&m->th, NULL, worker, m) != 0) {
        snprintf(err, SL_ERRLEN, "marker worker: cannot start a thread");
        return SL_ERR_IO;
    }
    m->started = true;
    return SL_OK;
}

void sl_markers_stop(sl_broker_t *b) {
    struct sl_txn_markers *m = b->markers;
    if (!m) {
        return;
    }
    if (m->started) {
        pthread_mutex_lock(&m->mu);
        m->stop = true;
        pthread_cond_broadcast(&m->cv);
        pthread_mutex_unlock(&m->mu);
        pthread_join(m->th, NULL);
    }
    while (m->head) {
        job_t *j = m->head;
        m->head = j->next;
        free(j->topic);
        free(j);
    }
    if (m->efd >= 0) {
        sl_loop_unwatch(b->loop, m->efd);
        close(m->efd);
    }
    pthread_mutex_destroy(&m->mu);
    pthread_cond_destroy(&m->cv);
    free(m);
    b->markers = NULL;
}

int64_t sl_markers_add(sl_broker_t *b, const char *topic, int32_t partition, int64_t pid,
                       int16_t epoch, int type) {
    struct sl_txn_markers *m = b->markers;
    if (!m) {
        return SL_MARKER_TOKEN_BASE; /* stopped (shutdown): never done, a new leader redoes it */
    }
    job_t *j = sl_xcalloc(1, sizeof *j);
    j->topic = sl_str_dupz((sl_str_t){topic, strlen(topic)});
    j->partition = partition;
    j->pid = pid;
    j->epoch = epoch;
    j->type = (int8_t)type;
    j->wait_end = -1;
    pthread_mutex_lock(&m->mu);
    j->id = m->next_id++;
    j->next = m->head;
    m->head = j;
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
    return SL_MARKER_TOKEN_BASE + (int64_t)j->id;
}

bool sl_markers_done(sl_broker_t *b, int64_t token) {
    struct sl_txn_markers *m = b->markers;
    if (!m) {
        return false; /* stopped: nothing completes now; the next coordinator finishes it */
    }
    if (token < SL_MARKER_TOKEN_BASE) {
        return true;
    }
    uint64_t id = (uint64_t)(token - SL_MARKER_TOKEN_BASE);
    bool done = true;
    pthread_mutex_lock(&m->mu);
    for (job_t **pp = &m->head; *pp; pp = &(*pp)->next) {
        job_t *j = *pp;
        if (j->id == id) {
            done = j->done;
            if (done) {
                *pp = j->next;
                free(j->topic);
                free(j);
            }
            break;
        }
    }
    pthread_mutex_unlock(&m->mu);
    return done;
}

/* ---- the leader's side ---- */

sl_err_t sl_markers_handle(sl_req_t *req) {
    sl_broker_t *b = req->broker;
    sl_reader_t *rd = &req->rd;
    sl_str_t topic = sl_rd_str(rd, false);
    int32_t index = sl_rd_i32(rd);
    int64_t pid = sl_rd_i64(rd);
    int16_t epoch = sl_rd_i16(rd);
    int8_t type = sl_rd_i8(rd);
    int64_t wait_end = sl_rd_i64(rd);
    if (rd->err || !topic.p || (type != SL_CONTROL_COMMIT && type != SL_CONTROL_ABORT)) {
        return rd->err ? rd->err : SL_ERR_INVAL;
    }
    sl_partition_t *p = sl_partition_get(b, topic, index);
    int16_t err = KERR_NONE;
    if (!p) {
        err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
    } else if (!p->repl || !p->repl->leading) {
        err = KERR_NOT_LEADER_OR_FOLLOWER;
    } else if (sl_plog_failed(p->plog)) {
        err = KERR_KAFKA_STORAGE_ERROR;
    } else if (!sl_otopic_loaded(b, p)) {
        err = KERR_COORDINATOR_LOAD_IN_PROGRESS; /* asked again */
    } else if (sl_pstate_txn_first(p->pstate, pid) >= 0) {
        int64_t off = -1;
        if (sl_partition_write_marker(b, p, pid, epoch, type, &off) != SL_OK) {
            err = KERR_KAFKA_STORAGE_ERROR;
        } else {
            wait_end = off + 1;
        }
    } else if (wait_end < 0) {
        /* Nothing open: a marker written by an earlier call (its answer lost) is below the
         * log end, so everything up to it must be replicated. */
        wait_end = sl_plog_end_offset(p->plog);
    }
    sl_wr_i16(&req->wr, err);
    if (err == KERR_NONE) {
        int aerr = KERR_NONE;
        bool done = sl_pstate_txn_first(p->pstate, pid) < 0 &&
                    sl_plog_durable_offset(p->plog) >= wait_end &&
                    sl_replica_acked(b, p, wait_end, &aerr) && aerr == KERR_NONE;
        sl_wr_i64(&req->wr, wait_end);
        sl_wr_i8(&req->wr, done ? 1 : 0);
    }
    return SL_OK;
}

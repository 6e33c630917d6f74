/* runtime.c -- lanes that run tasks on librdkafka, with checkpoints as transactions (runtime.h).
 *
 * Lane loop: poll a bounded batch, run each record through its task, tick watermarks every
 * 100 ms, and every commit.interval.ms run the checkpoint:
 *   1. the changelog records of every task's changed state (partition = the task's partition);
 *   2. exactly-once: the tasks' own positions (commit_pos.h) join the transaction with the
 *      group metadata (KIP-447 fencing), then commit; at-least-once: flush, then commit them;
 *   3. success: the tasks' state becomes committed; an abortable error: abort, roll the tasks'
 *      state back, rewind the inputs to the committed offsets, begin again; fatal (fenced): stop.
 * Rebalance callbacks run on the lane thread (inside poll): revoke = checkpoint then drop the
 * tasks, lost = abort then drop, assign = create the tasks, restore their state from the
 * changelogs (read_committed, to the end of each partition), then start fetching. Rebalances are
 * eager ("range"): every rebalance revokes the whole assignment (a checkpoint) and fetching starts
 * again from the committed offsets. Not cooperative-sticky: librdkafka 2.0.2 drops the fetched
 * but undelivered records of a partition kept through an incremental rebalance and fetches on
 * past them (docs/stream.md, "Rebalances"). Checkpoints commit each task's own next offset.
 * A task with several inputs (a join) queues their records and runs them oldest first, holding
 * back while an input that is not caught up is empty (up to max.task.idle.ms); its checkpoint
 * commits each input's position before its first queued record. With num.standby.replicas, an
 * instance keeps a copy of each stateful task it does not run, on the task's keeper lane
 * (RocksDB stores in a directory of the lane's own), fed from their changelogs between poll
 * batches; an assigned task takes its copy over and restores only the changelog's tail. */
#include "runtime.h"

#include <dirent.h>
#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/os.h"
#include "stream/commit_iv.h"
#include "stream/commit_pos.h"
#include "stream/graph.h"
#include "stream/metrics.h"

#define MAX_STORES    16
#define POLL_BATCH    500
#define TICK_MS       100
#define CLOCK_EVERY   64 /* records per clock read: about 0.1-0.2 ms of work at full speed */
#define MAX_ROOTS_ALL 64
/* The consumer's prefetch (queued.max.messages.kbytes). librdkafka 2.0.2 stops fetching a
 * partition while its queue holds this much and looks again only when its broker thread next
 * wakes (up to about a second later), so a small prefetch leaves the lane idle between refills:
 * at 4096 the lane read Nexmark at about 40 k events/s wall, at 16384 at 2.5 times that (the
 * lane is then busy, and the fixed cost per checkpoint is shared by more records). Still a
 * bound: librdkafka's own default is 65536. */
#define PREFETCH_KB "16384"

/* Topic handles a lane keeps (its sinks, repartition, changelog, late and dead-letter topics);
 * a record to a topic beyond these takes a handle of its own, as producing by name does. */
#define MAX_LANE_TOPICS 32

typedef struct root {
    char topic[256]; /* empty for a source over several topics (multi) */
    bool multi;
    const sl_stream_node_t *node;
    int st;
    size_t input; /* index among the sub-topology's roots */
    int32_t partitions;
} root_t;

/* One input's records waiting for their turn (tasks with several inputs). */
typedef struct inq {
    rd_kafka_message_t **m;
    int64_t *ts;     /* the record's event time, for the order */
    uint64_t *since; /* when it was queued (monotonic ms) */
    size_t head, n, cap;
    bool eof; /* caught up: the end of the partition came after the last record */
} inq_t;

typedef struct slot {
    int st;
    char topic[256]; /* a task of a source over several topics: its topic; else empty */
    int32_t partition;
    sl_stream_task_t *task;
    size_t n_in; /* inputs; more than one: queued in q[] */
    inq_t *q;
    char in[256]; /* one input: its topic */
    int64_t next; /* one input: the offset after the last record taken from it, where the task
                   * resumes and what a checkpoint commits; -1: none taken since assigned */
    /* A task taken over from a standby: per store (sl_stream_task_stores order), the changelog
     * offset its copy covers, where its restore starts; -1 there: from the beginning. */
    bool warm;
    int64_t warm_next[MAX_STORES];
} slot_t;

/* A standby (num.standby.replicas): a copy of a task this lane does not own, kept warm by
 * reading its changelogs (read_committed) with the lane's restorer between restores. */
typedef struct standby {
    int st;
    int32_t partition;
    sl_stream_task_t *task;
    const char *stores[MAX_STORES];
    size_t n_stores;
    int64_t next[MAX_STORES]; /* per store: the changelog offset after the last record applied */
    bool applied;             /* records applied since the copy's last commit */
} standby_t;

/* The next offset of a changelog partition this lane wrote in the current checkpoint, from the
 * delivery reports: what the stores' disk images cover once the checkpoint commits. */
typedef struct cl_mark {
    char topic[256];
    int32_t partition;
    int64_t next;
} cl_mark_t;

typedef struct lane {
    sl_stream_t *s;
    int idx;
    pthread_t th;
    rd_kafka_t *c, *p, *restorer;
    slot_t *slots;
    size_t n_slots;
    bool in_txn;
    atomic_bool delivery_failed;
    uint64_t last_commit, last_tick;
    sl_stream_task_stats_t gone; /* totals of tasks already dropped */
    uint64_t commits;
    cl_mark_t *marks;
    size_t n_marks;
    standby_t *sb; /* standbys (num.standby.replicas) */
    size_t n_sb;
    char *sb_root;                    /* <state dir>/standby-<lane>: the standbys' disk stores */
    sl_stream_standby_row_t *sb_rows; /* scratch for publishing */
    size_t cap_sb_rows;
    bool sb_pending; /* standby records may have been applied since the last commit of them */
    char err[SL_ERRLEN];
    /* Operations (metrics, adaptive interval, backpressure): see the sections below. */
    sl_stream_lane_metrics_t m;
    int commit_iv_ms;              /* the interval until the next checkpoint */
    uint64_t ckpt_records;         /* input records since the last checkpoint */
    bool paused;                   /* backpressure paused the lane's inputs */
    bool dirty;                    /* consumed or produced since the last checkpoint */
    sl_stream_task_row_t *rows;    /* scratch for publishing */
    sl_stream_lag_row_t *lag_rows; /* scratch for publishing */
    size_t cap_rows, cap_lag;
    /* The lane's wall clock (epoch ms), read once per CLOCK_EVERY records (clock.h): the receive
     * and emit times of records, and what tasks read for emit times (task.h: wall_ms). */
    int64_t wall_ms;
    unsigned clock_left; /* records until the next read */
    /* Producer topic handles of the topics this lane wrote, by name: producev by name looks the
     * topic up under librdkafka's lock and takes and drops a reference on every record. */
    struct lane_topic {
        char *name;
        rd_kafka_topic_t *rkt;
    } topics[MAX_LANE_TOPICS];
    size_t n_topics;
} lane_t;

struct sl_stream {
    sl_stream_builder_t *b;
    sl_stream_run_conf_t conf;
    char app_id[200], instance_id[100];
    char *state_dir; /* <state.dir>/<app>/<instance>: this instance's disk stores */
    root_t roots[MAX_ROOTS_ALL];
    size_t n_roots;
    int32_t *st_partitions; /* per sub-topology */
    int32_t
        *st_tasks; /* per sub-topology: tasks (a multi-topic source: one per topic's partition) */
    lane_t *lanes;
    int n_lanes;
    atomic_int stop;
    atomic_int failed;
    pthread_mutex_t mu; /* errmsg */
    char errmsg[SL_ERRLEN];
};

static void set_error(sl_stream_t *s, const char *fmt, ...) SL_PRINTF(2, 3);
static void set_error(sl_stream_t *s, const char *fmt, ...) {
    pthread_mutex_lock(&s->mu);
    if (!s->errmsg[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(s->errmsg, sizeof s->errmsg, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&s->mu);
    atomic_store(&s->failed, 1);
    atomic_store(&s->stop, 1);
}

/* ---- configuration ---- */

/* A fresh copy of the caller's client settings (bootstrap.servers, -X ...) for one more client. */
static rd_kafka_conf_t *base_conf(sl_stream_t *s, char *errstr, size_t n) {
    if (s->conf.client) {
        return rd_kafka_conf_dup(s->conf.client);
    }
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    if (rd_kafka_conf_set(c, "bootstrap.servers", "127.0.0.1:9092", errstr, n) !=
        RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(c);
        return NULL;
    }
    return c;
}

static bool set(rd_kafka_conf_t *c, const char *k, const char *v, char *errstr, size_t n) {
    return rd_kafka_conf_set(c, k, v, errstr, n) == RD_KAFKA_CONF_OK;
}

/* ---- topics ---- */

static void topic_of_root(const sl_stream_t *s, const sl_stream_node_t *n, char *out, size_t cap) {
    if (n->kind == SL_NODE_SOURCE || n->kind == SL_NODE_TABLE) {
        snprintf(out, cap, "%s", n->topic);
    } else {
        snprintf(out, cap, "%s-%s-repartition", s->app_id, n->name);
    }
}

/* Topics a source over a pattern never reads: "__" topics, this job's internal topics (its
 * repartition and changelog topics) and every topic it writes. */
static bool excluded(const sl_stream_t *s, const char *topic) {
    size_t an = strlen(s->app_id), tn = strlen(topic);
    if (!strncmp(topic, "__", 2)) {
        return true;
    }
    if (tn > an && !strncmp(topic, s->app_id, an) && topic[an] == '-') {
        static const char *const internal[] = {"-repartition", "-changelog", "-late", "-dlq"};
        for (size_t i = 0; i < SL_ARRAY_LEN(internal); i++) {
            size_t k = strlen(internal[i]);
            if (tn > k && !strcmp(topic + tn - k, internal[i])) {
                return true;
            }
        }
    }
    if (s->conf.dead_letter && !strcmp(topic, s->conf.dead_letter)) {
        return true;
    }
    for (size_t i = 0; i < s->b->n_nodes; i++) {
        const sl_stream_node_t *n = s->b->nodes[i];
        if ((n->kind == SL_NODE_SINK && !strcmp(n->topic, topic)) ||
            (n->late_topic && !strcmp(n->late_topic, topic))) {
            return true;
        }
    }
    return false;
}

/* A source over several topics: its tasks are the partitions of every topic it reads now, and its
 * sub-topology's partition count (what a repartition topic after it gets) the largest. Every
 * listed topic must exist; a pattern must match one at least. */
static sl_err_t plan_multi(sl_stream_t *s, const sl_stream_node_t *nd,
                           const rd_kafka_metadata_t *md, char *errstr, size_t n) {
    int32_t most = 0, tasks = 0;
    for (int t = 0; t < md->topic_cnt; t++) {
        const rd_kafka_metadata_topic_t *mt = &md->topics[t];
        if (!mt->err && mt->partition_cnt > 0 && sl_graph_source_reads(nd, mt->topic) &&
            (!nd->re || !excluded(s, mt->topic))) {
            most = SL_MAX(most, mt->partition_cnt);
            tasks += mt->partition_cnt;
        }
    }
    for (size_t i = 0; i < nd->n_topics; i++) {
        bool found = false;
        for (int t = 0; t < md->topic_cnt && !found; t++) {
            found = !md->topics[t].err && md->topics[t].partition_cnt > 0 &&
                    !strcmp(md->topics[t].topic, nd->topics[i]);
        }
        if (!found) {
            snprintf(errstr, n, "source topic '%s' does not exist", nd->topics[i]);
            return SL_ERR_NOTFOUND;
        }
    }
    if (most == 0) {
        snprintf(errstr, n,
                 "no topic matches the source pattern '%s' yet (one at least must exist when the "
                 "job starts: it sizes the repartition topics)",
                 nd->topic);
        return SL_ERR_NOTFOUND;
    }
    s->st_partitions[nd->subtopology] = most;
    s->st_tasks[nd->subtopology] = tasks;
    return SL_OK;
}

/* Partition counts: a source's own; a rekey's sub-topology, its upstream one's. Nodes are walked
 * in declaration order, so the upstream one is always known by then. */
static sl_err_t plan_partitions(sl_stream_t *s, rd_kafka_t *rk, char *errstr, size_t n) {
    const rd_kafka_metadata_t *md;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, &md, 10000);
    if (err) {
        snprintf(errstr, n, "metadata: %s", rd_kafka_err2str(err));
        return SL_ERR_IO;
    }
    sl_stream_builder_t *b = s->b;
    s->st_partitions = sl_xcalloc((size_t)b->n_subtopologies, sizeof *s->st_partitions);
    s->st_tasks = sl_xcalloc((size_t)b->n_subtopologies, sizeof *s->st_tasks);
    sl_err_t rc = SL_OK;
    for (size_t i = 0; i < b->n_nodes && rc == SL_OK; i++) {
        sl_stream_node_t *nd = b->nodes[i];
        if (sl_graph_multi_topic(nd)) {
            rc = plan_multi(s, nd, md, errstr, n);
        } else if (nd->kind == SL_NODE_SOURCE || nd->kind == SL_NODE_TABLE) {
            int32_t parts = 0, *stp = &s->st_partitions[nd->subtopology];
            for (int t = 0; t < md->topic_cnt; t++) {
                if (!strcmp(md->topics[t].topic, nd->topic) && !md->topics[t].err) {
                    parts = md->topics[t].partition_cnt;
                }
            }
            if (parts <= 0) {
                snprintf(errstr, n, "%s topic '%s' does not exist",
                         nd->kind == SL_NODE_TABLE ? "table" : "source", nd->topic);
                rc = SL_ERR_NOTFOUND;
            } else if (*stp && *stp != parts) {
                /* A join looks a key up in the task of its partition number: both inputs must
                 * spread their keys over the same number of partitions. */
                snprintf(errstr, n,
                         "the inputs of a join are not co-partitioned: topic '%s' has %d "
                         "partitions, the other inputs of its sub-topology %d (give them the "
                         "same partition count, or rekey one side)",
                         nd->topic, (int)parts, (int)*stp);
                rc = SL_ERR_INVAL;
            }
            *stp = parts;
        }
    }
    /* A repartition topic takes its sub-topology's count when a source or table fixes it (so it
     * is co-partitioned with them), else its upstream's. Declaration order: upstream first. */
    for (size_t i = 0; i < b->n_nodes && rc == SL_OK; i++) {
        sl_stream_node_t *nd = b->nodes[i];
        if (nd->kind == SL_NODE_REKEY && s->st_partitions[nd->subtopology] == 0) {
            s->st_partitions[nd->subtopology] = s->st_partitions[nd->parent->subtopology];
        }
    }
    for (int st = 0; st < b->n_subtopologies; st++) {
        if (s->st_tasks[st] == 0) {
            s->st_tasks[st] = s->st_partitions[st];
        }
    }
    rd_kafka_metadata_destroy(md);
    return rc;
}

static sl_err_t create_topics(sl_stream_t *s, rd_kafka_t *rk, char *errstr, size_t n) {
    sl_stream_builder_t *b = s->b;
    rd_kafka_NewTopic_t *nt[128];
    size_t k = 0;
    char e[256];
    for (size_t i = 0; i < b->n_nodes && k < SL_ARRAY_LEN(nt); i++) {
        sl_stream_node_t *nd = b->nodes[i];
        char name[512];
        if (nd->kind == SL_NODE_REKEY) {
            snprintf(name, sizeof name, "%s-%s-repartition", s->app_id, nd->name);
        } else if (nd->kind == SL_NODE_AGG || nd->kind == SL_NODE_TABLE ||
                   nd->kind == SL_NODE_JOIN_WINDOW) {
            snprintf(name, sizeof name, "%s-%s-changelog", s->app_id, nd->name);
        } else {
            continue;
        }
        nt[k] = rd_kafka_NewTopic_new(name, s->st_partitions[nd->subtopology], -1, e, sizeof e);
        if (!nt[k]) {
            snprintf(errstr, n, "topic %s: %s", name, e);
            for (size_t j = 0; j < k; j++) {
                rd_kafka_NewTopic_destroy(nt[j]);
            }
            return SL_ERR_INVAL;
        }
        if (nd->kind != SL_NODE_REKEY) {
            /* The changelog is the durable copy of the state: compacted (the latest value per
             * key stays), never deleted by time. */
            (void)rd_kafka_NewTopic_set_config(nt[k], "cleanup.policy", "compact");
        }
        k++;
    }
    if (k == 0) {
        return SL_OK;
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, nt, k, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    sl_err_t rc = SL_OK;
    const rd_kafka_CreateTopics_result_t *res = ev ? rd_kafka_event_CreateTopics_result(ev) : NULL;
    if (!res) {
        snprintf(errstr, n, "creating internal topics: %s",
                 ev ? rd_kafka_event_error_string(ev) : "timed out");
        rc = SL_ERR_IO;
    } else {
        size_t cnt;
        const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &cnt);
        for (size_t i = 0; i < cnt; i++) {
            rd_kafka_resp_err_t te = rd_kafka_topic_result_error(tr[i]);
            if (te && te != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                snprintf(errstr, n, "creating %s: %s", rd_kafka_topic_result_name(tr[i]),
                         rd_kafka_topic_result_error_string(tr[i]));
                rc = SL_ERR_IO;
            }
        }
    }
    if (ev) {
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(q);
    for (size_t j = 0; j < k; j++) {
        rd_kafka_NewTopic_destroy(nt[j]);
    }
    return rc;
}

/* ---- producing ---- */

/* Delivery reports of changelog records carry this opaque (cl_mark_t). */
static char changelog_tag;

/* The lane producer's handle of `topic`, made on first use; NULL when the lane keeps
 * MAX_LANE_TOPICS already (the caller then takes a handle for this record only, as producing by
 * name does) or librdkafka refuses the name. */
static rd_kafka_topic_t *topic_handle(lane_t *l, const char *topic) {
    for (size_t i = 0; i < l->n_topics; i++) {
        if (!strcmp(l->topics[i].name, topic)) {
            return l->topics[i].rkt;
        }
    }
    if (l->n_topics == MAX_LANE_TOPICS) {
        return NULL;
    }
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(l->p, topic, NULL);
    if (rkt) {
        l->topics[l->n_topics++] = (struct lane_topic){sl_xstrdup(topic), rkt};
    }
    return rkt;
}

static sl_err_t produce(lane_t *l, const char *topic, int32_t partition, sl_bytes_t key,
                        sl_bytes_t value, int64_t ts, const sl_stream_hdr_t *h, size_t nh,
                        void *msg_opaque) {
    rd_kafka_headers_t *hdrs = nh ? rd_kafka_headers_new(nh) : NULL;
    for (size_t i = 0; i < nh; i++) {
        (void)rd_kafka_header_add(hdrs, h[i].name, -1, h[i].value.p, (ssize_t)h[i].value.len);
    }
    rd_kafka_topic_t *own = NULL, *rkt = topic_handle(l, topic);
    if (!rkt && !(rkt = own = rd_kafka_topic_new(l->p, topic, NULL))) {
        if (hdrs) {
            rd_kafka_headers_destroy(hdrs);
        }
        snprintf(l->err, sizeof l->err, "produce to %s: %s", topic,
                 rd_kafka_err2str(rd_kafka_last_error()));
        return SL_ERR_IO;
    }
    rd_kafka_resp_err_t err;
    for (;;) {
        err = rd_kafka_producev(l->p, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(partition),
                                RD_KAFKA_V_KEY((void *)key.p, key.p ? key.len : 0),
                                RD_KAFKA_V_VALUE((void *)value.p, value.p ? value.len : 0),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_TIMESTAMP(ts > 0 ? ts : 0), RD_KAFKA_V_HEADERS(hdrs),
                                RD_KAFKA_V_OPAQUE(msg_opaque), RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            break;
        }
        rd_kafka_poll(l->p, 10); /* the producer queue is the backpressure: wait for room */
    }
    if (own) {
        rd_kafka_topic_destroy(own);
    }
    if (err) {
        if (hdrs) {
            rd_kafka_headers_destroy(hdrs);
        }
        snprintf(l->err, sizeof l->err, "produce to %s: %s", topic, rd_kafka_err2str(err));
        return SL_ERR_IO;
    }
    return SL_OK;
}

static sl_err_t task_write(void *opaque, const char *topic, int32_t partition, sl_bytes_t key,
                           sl_bytes_t value, int64_t ts, const sl_stream_hdr_t *h, size_t nh,
                           const sl_stream_stage_t *stage) {
    lane_t *l = opaque;
    sl_err_t rc = produce(l, topic, partition < 0 ? RD_KAFKA_PARTITION_UA : partition, key, value,
                          ts, h, nh, NULL);
    l->dirty = true;
    if (rc == SL_OK && stage) {
        sl_stream_metrics_output(&l->m, stage);
    }
    return rc;
}

/* A watermark marker (task.h) instead of a record: SL_OK and its fields (the upstream task's id
 * into task[0..cap)), else SL_ERR_NOTFOUND. */
static sl_err_t marker_of(const rd_kafka_message_t *m, char *task, size_t cap, int64_t *wm,
                          bool *idle) {
    rd_kafka_headers_t *h = NULL;
    if (m->key || m->payload || rd_kafka_message_headers(m, &h) || !h) {
        return SL_ERR_NOTFOUND;
    }
    const void *v[3];
    size_t n[3];
    const char *names[3] = {SL_STREAM_HDR_WM_TASK, SL_STREAM_HDR_WM, SL_STREAM_HDR_WM_IDLE};
    for (int i = 0; i < 3; i++) {
        size_t max = i == 0 ? cap - 1 : 23;
        if (rd_kafka_header_get_last(h, names[i], &v[i], &n[i]) || n[i] == 0 || n[i] > max) {
            return SL_ERR_NOTFOUND;
        }
    }
    char buf[24];
    memcpy(task, v[0], n[0]);
    task[n[0]] = 0;
    memcpy(buf, v[1], n[1]);
    buf[n[1]] = 0;
    *wm = strtoll(buf, NULL, 10);
    *idle = n[2] == 1 && *(const char *)v[2] == '1';
    return SL_OK;
}

static cl_mark_t *mark_of(lane_t *l, const char *topic, int32_t partition) {
    for (size_t i = 0; i < l->n_marks; i++) {
        if (l->marks[i].partition == partition && !strcmp(l->marks[i].topic, topic)) {
            return &l->marks[i];
        }
    }
    return NULL;
}

/* Runs on the lane thread (inside rd_kafka_poll, flush or commit_transaction). */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    lane_t *l = opaque;
    if (m->err) {
        atomic_store(&l->delivery_failed, true);
        return;
    }
    if (m->_private != &changelog_tag || m->offset < 0) {
        return;
    }
    const char *topic = rd_kafka_topic_name(m->rkt);
    cl_mark_t *mk = mark_of(l, topic, m->partition);
    if (!mk) {
        l->marks = sl_xrealloc(l->marks, (l->n_marks + 1) * sizeof *l->marks);
        mk = &l->marks[l->n_marks++];
        snprintf(mk->topic, sizeof mk->topic, "%s", topic);
        mk->partition = m->partition;
        mk->next = -1;
    }
    mk->next = SL_MAX(mk->next, m->offset + 1);
}

/* ---- tasks ---- */

/* The input `topic` belongs to: a root named after it, else a source over several topics that
 * reads it; NULL when the job does not read it. */
static const root_t *root_of(const sl_stream_t *s, const char *topic) {
    for (size_t i = 0; i < s->n_roots; i++) {
        if (!s->roots[i].multi && !strcmp(s->roots[i].topic, topic)) {
            return &s->roots[i];
        }
    }
    for (size_t i = 0; i < s->n_roots; i++) {
        if (s->roots[i].multi && sl_graph_source_reads(s->roots[i].node, topic) &&
            (!s->roots[i].node->re || !excluded(s, topic))) {
            return &s->roots[i];
        }
    }
    return NULL;
}

/* The task of (r's sub-topology, partition), and of `topic` when r reads several topics. */
static slot_t *slot_of(lane_t *l, const root_t *r, const char *topic, int32_t partition) {
    for (size_t i = 0; i < l->n_slots; i++) {
        slot_t *sl = &l->slots[i];
        if (sl->st == r->st && sl->partition == partition &&
            (!r->multi || !strcmp(sl->topic, topic))) {
            return sl;
        }
    }
    return NULL;
}

/* The task reading (topic, partition), or NULL. */
static slot_t *slot_by_tp(lane_t *l, const char *topic, int32_t partition) {
    const root_t *r = root_of(l->s, topic);
    return r ? slot_of(l, r, topic, partition) : NULL;
}

/* The changelog partition of one store of one task. */
static void changelog_name(const lane_t *l, const char *store, char *out, size_t cap) {
    snprintf(out, cap, "%s-%s-changelog", l->s->app_id, store);
}

/* The (task, store) a changelog partition restores. */
typedef struct restore_target {
    sl_stream_task_t *task;
    const char *store;
} restore_target_t;

/* Adds the records of the changelog partitions about to be restored to the lane's
 * restore_records_to_restore (high - low watermark per partition: an upper bound, as compacted
 * or aborted records are not delivered). One round trip per partition, at assignment only. */
static void restore_size(lane_t *l, const rd_kafka_topic_partition_list_t *parts) {
    for (int i = 0; i < parts->cnt; i++) {
        int64_t lo = 0, hi = 0;
        if (!rd_kafka_query_watermark_offsets(l->restorer, parts->elems[i].topic,
                                              parts->elems[i].partition, &lo, &hi, 5000) &&
            hi > lo) {
            atomic_fetch_add(&l->m.to_restore, (uint64_t)(hi - lo));
        }
    }
}

/* Where a store's restore starts: the beginning of its changelog partition, or where its disk
 * image stops covering it. An image that claims more than the changelog holds, or that the
 * changelog's start has passed, belongs to another incarnation of the topic: it is wiped.
 * RD_KAFKA_OFFSET_INVALID (reason in l->err) when the store cannot be used. */
static int64_t restore_from(lane_t *l, const restore_target_t *rt) {
    int64_t covered = sl_stream_task_store_covered(rt->task, rt->store);
    if (covered < 0) {
        return RD_KAFKA_OFFSET_BEGINNING;
    }
    char t[512];
    changelog_name(l, rt->store, t, sizeof t);
    int32_t part = sl_stream_task_partition(rt->task);
    int64_t lo = -1, hi = -1;
    rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(l->restorer, t, part, &lo, &hi, 10000);
    if (err) {
        snprintf(l->err, sizeof l->err, "restore: offsets of %s/%d: %s", t, (int)part,
                 rd_kafka_err2str(err));
        return RD_KAFKA_OFFSET_INVALID;
    }
    if (covered <= hi && covered >= lo) {
        return covered;
    }
    sl_log(SL_LOG_WARN, "stream",
           "lane=%d store=%s partition=%d msg=\"local state covers offset %lld but the changelog "
           "holds %lld..%lld: wiped, restoring from the changelog\"",
           l->idx, rt->store, (int)part, (long long)covered, (long long)lo, (long long)hi);
    if (sl_stream_task_store_wipe(rt->task, rt->store) != SL_OK) {
        snprintf(l->err, sizeof l->err, "restore: %s", sl_stream_task_error(rt->task));
        return RD_KAFKA_OFFSET_INVALID;
    }
    return RD_KAFKA_OFFSET_BEGINNING;
}

/* Restores the tasks in slots[from..l->n_slots) together: every changelog partition of their
 * stores is read to its end (committed records only) from where its disk image stops, in one
 * assignment, so a rebalance that brings several tasks waits for the slowest partition once,
 * not for each in turn. SL_OK with *complete false when the job was asked to stop before every
 * partition reached its end: the tasks then hold part of their state and must not run (nor
 * checkpoint: their changelog would get values counted from a partial image). */
static sl_err_t restore(lane_t *l, size_t from, bool *complete) {
    *complete = false;
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(4);
    /* Each changelog partition's element points at the (task, store) its records go to. */
    restore_target_t *targets = sl_xcalloc((l->n_slots - from) * MAX_STORES + 1, sizeof *targets);
    size_t n_targets = 0;
    int local = 0; /* partitions resumed from a local disk image */
    int warm = 0;  /* partitions resumed from a standby's copy */
    for (size_t k = from; k < l->n_slots; k++) {
        const char *stores[MAX_STORES];
        size_t n = sl_stream_task_stores(l->slots[k].task, stores, MAX_STORES);
        for (size_t i = 0; i < n && i < MAX_STORES; i++) {
            char t[512];
            changelog_name(l, stores[i], t, sizeof t);
            restore_target_t *rt = &targets[n_targets++];
            rt->task = l->slots[k].task;
            rt->store = stores[i];
            rd_kafka_topic_partition_t *tp =
                rd_kafka_topic_partition_list_add(parts, t, l->slots[k].partition);
            const slot_t *sk = &l->slots[k];
            bool from_sb = sk->warm && sk->warm_next[i] >= 0;
            tp->offset = from_sb ? sk->warm_next[i] : restore_from(l, rt);
            tp->opaque = rt;
            local += tp->offset >= 0 && !from_sb;
            warm += from_sb;
            if (tp->offset == RD_KAFKA_OFFSET_INVALID) {
                rd_kafka_topic_partition_list_destroy(parts);
                free(targets);
                return SL_ERR_IO;
            }
        }
    }
    restore_size(l, parts);
    if (parts->cnt) {
        sl_log(SL_LOG_INFO, "stream", "lane=%d tasks=%zu partitions=%d msg=\"restoring\"", l->idx,
               l->n_slots - from, parts->cnt);
    }
    rd_kafka_resp_err_t err = parts->cnt ? rd_kafka_assign(l->restorer, parts) : 0;
    int at_end = 0;
    bool failed = false;
    uint64_t records = 0, t0 = sl_mono_ms();
    while (!err && !failed && at_end < parts->cnt && !atomic_load(&l->s->stop)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(l->restorer, 100);
        if (!m) {
            continue;
        }
        const char *topic = m->rkt ? rd_kafka_topic_name(m->rkt) : "";
        rd_kafka_topic_partition_t *tp =
            rd_kafka_topic_partition_list_find(parts, topic, m->partition);
        if (!tp) {
            rd_kafka_message_destroy(m); /* left over from an earlier restore */
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (tp->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                tp->err = RD_KAFKA_RESP_ERR__PARTITION_EOF; /* marks it done */
                at_end++;
            }
        } else if (m->err) {
            sl_log(SL_LOG_WARN, "stream", "lane=%d msg=\"restore: %s\"", l->idx,
                   rd_kafka_message_errstr(m));
        } else {
            restore_target_t *rt = tp->opaque;
            sl_bytes_t v = {m->payload, m->len};
            if (sl_stream_task_restore(rt->task, rt->store, (sl_bytes_t){m->key, m->key_len},
                                       m->payload ? &v : NULL, m->offset) != SL_OK) {
                snprintf(l->err, sizeof l->err, "restore: %s", sl_stream_task_error(rt->task));
                failed = true;
            }
            records++;
            atomic_fetch_add(&l->m.restored, 1);
        }
        rd_kafka_message_destroy(m);
    }
    if (parts->cnt) {
        (void)rd_kafka_assign(l->restorer, NULL);
    }
    int n_parts = parts->cnt;
    rd_kafka_topic_partition_list_destroy(parts);
    free(targets);
    if (err) {
        snprintf(l->err, sizeof l->err, "restore: %s", rd_kafka_err2str(err));
        return SL_ERR_IO;
    }
    if (failed) {
        return SL_ERR_IO;
    }
    if (at_end < n_parts) {
        return SL_OK; /* stopped: incomplete */
    }
    *complete = true;
    for (size_t k = from; k < l->n_slots; k++) {
        if (sl_stream_task_restored(l->slots[k].task) != SL_OK) {
            snprintf(l->err, sizeof l->err, "restore: %s", sl_stream_task_error(l->slots[k].task));
            return SL_ERR_IO;
        }
    }
    if (n_parts) {
        sl_log(SL_LOG_INFO, "stream",
               "lane=%d tasks=%zu msg=\"restored %llu changelog records from %d partitions "
               "(%d resumed from local state, %d from a standby) in %llu ms\"",
               l->idx, l->n_slots - from, (unsigned long long)records, n_parts, local, warm,
               (unsigned long long)(sl_mono_ms() - t0));
    }
    return SL_OK;
}

static void add_stats(sl_stream_task_stats_t *into, const sl_stream_task_stats_t *s) {
    into->in += s->in;
    into->out += s->out;
    into->late += s->late;
    into->dead_lettered += s->dead_lettered;
    into->skipped += s->skipped;
}

/* Drops the queued records of a task (they are fetched again from the committed offsets). */
static void clear_queues(slot_t *sl) {
    for (size_t i = 0; i < sl->n_in && sl->q; i++) {
        inq_t *q = &sl->q[i];
        for (size_t k = q->head; k < q->n; k++) {
            rd_kafka_message_destroy(q->m[k]);
        }
        q->head = q->n = 0;
        q->eof = false;
    }
}

/* Removes slot i, whose task is gone already (freed, or kept as a standby). */
static void slot_remove(lane_t *l, size_t i) {
    clear_queues(&l->slots[i]);
    for (size_t k = 0; k < l->slots[i].n_in && l->slots[i].q; k++) {
        free(l->slots[i].q[k].m);
        free(l->slots[i].q[k].ts);
        free(l->slots[i].q[k].since);
    }
    free(l->slots[i].q);
    l->slots[i] = l->slots[--l->n_slots];
}

static void drop_task(lane_t *l, size_t i) {
    add_stats(&l->gone, sl_stream_task_stats(l->slots[i].task));
    sl_stream_task_free(l->slots[i].task);
    slot_remove(l, i);
}

/* ---- checkpoints ---- */

/* The changelog walk of one task in a checkpoint. The store's topic name is formatted once per
 * store and the records carry the checkpoint's time, read once: a checkpoint of a windowed task
 * writes one record per window touched, tens of thousands at full speed. */
typedef struct changelog_walk {
    lane_t *l;
    slot_t *sl;
    sl_err_t rc;
    int64_t now;     /* the records' timestamp */
    char store[256]; /* the store `topic` is for ("" before the first record) */
    char topic[512];
} changelog_walk_t;

static void changelog_one(const char *store, sl_bytes_t key, const sl_bytes_t *val, void *arg) {
    changelog_walk_t *w = arg;
    if (w->rc != SL_OK) {
        return;
    }
    if (strcmp(w->store, store) != 0) {
        snprintf(w->store, sizeof w->store, "%s", store);
        snprintf(w->topic, sizeof w->topic, "%s-%s-changelog", w->l->s->app_id, store);
    }
    w->rc = produce(w->l, w->topic, w->sl->partition, key, val ? *val : (sl_bytes_t){NULL, 0},
                    w->now, NULL, 0, &changelog_tag);
}

/* The checkpoint committed: each store's disk image will cover its changelog up to the last
 * record this checkpoint wrote, then the tasks' state becomes the committed image. */
static sl_err_t commit_tasks(lane_t *l) {
    for (size_t i = 0; i < l->n_slots; i++) {
        const char *stores[MAX_STORES];
        size_t n = sl_stream_task_stores(l->slots[i].task, stores, MAX_STORES);
        for (size_t k = 0; k < n && k < MAX_STORES; k++) {
            char t[512];
            changelog_name(l, stores[k], t, sizeof t);
            const cl_mark_t *mk = mark_of(l, t, l->slots[i].partition);
            if (mk && mk->next >= 0) {
                sl_stream_task_store_cover(l->slots[i].task, stores[k], mk->next);
            }
        }
        if (sl_stream_task_commit(l->slots[i].task) != SL_OK) {
            snprintf(l->err, sizeof l->err, "task %d_%d: %s", l->slots[i].st,
                     (int)l->slots[i].partition, sl_stream_task_error(l->slots[i].task));
            l->n_marks = 0;
            return SL_ERR_IO;
        }
    }
    l->n_marks = 0;
    l->commits++;
    return SL_OK;
}

/* Back to the last committed offsets (the beginning where nothing was committed). */
static void rewind_inputs(lane_t *l) {
    rd_kafka_topic_partition_list_t *a = NULL;
    if (rd_kafka_assignment(l->c, &a) || !a) {
        return;
    }
    if (a->cnt > 0 && !rd_kafka_committed(l->c, a, 10000)) {
        for (int i = 0; i < a->cnt; i++) {
            if (a->elems[i].offset < 0) {
                a->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
            }
        }
        rd_kafka_error_t *e = rd_kafka_seek_partitions(l->c, a, -1);
        if (e) {
            rd_kafka_error_destroy(e);
        }
        for (int i = 0; i < a->cnt; i++) {
            slot_t *sl = slot_by_tp(l, a->elems[i].topic, a->elems[i].partition);
            if (sl) {
                sl->next = a->elems[i].offset >= 0 ? a->elems[i].offset : -1;
            }
        }
    }
    rd_kafka_topic_partition_list_destroy(a);
}

static sl_err_t begin(lane_t *l) {
    if (l->s->conf.at_least_once || l->in_txn) {
        return SL_OK;
    }
    rd_kafka_error_t *e = rd_kafka_begin_transaction(l->p);
    if (e) {
        snprintf(l->err, sizeof l->err, "begin transaction: %s", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        return SL_ERR_IO;
    }
    l->in_txn = true;
    return SL_OK;
}

static void abort_all(lane_t *l) {
    if (l->in_txn) {
        rd_kafka_error_t *e = rd_kafka_abort_transaction(l->p, -1);
        if (e) {
            sl_log(SL_LOG_WARN, "stream", "lane=%d msg=\"abort: %s\"", l->idx,
                   rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        }
        l->in_txn = false;
    }
    for (size_t i = 0; i < l->n_slots; i++) {
        sl_stream_task_abort(l->slots[i].task);
        clear_queues(&l->slots[i]);
    }
    sl_stream_metrics_aborted(&l->m); /* its outputs will never be seen */
}

/* The offsets a checkpoint commits (commit_pos.h): a task with one input, its own next offset,
 * and nothing for a partition it took no record from since the assignment, whatever the
 * consumer's position says; a queued record is not processed yet, so its input's offset is the
 * first queued; a task with several inputs, the consumer's position otherwise. Entries left
 * without an offset are removed: their committed offsets stay. */
static void commit_positions(lane_t *l, rd_kafka_topic_partition_list_t *pos) {
    for (int i = pos->cnt - 1; i >= 0; i--) {
        rd_kafka_topic_partition_t *tp = &pos->elems[i];
        slot_t *sl = slot_by_tp(l, tp->topic, tp->partition);
        int64_t queued = -1;
        for (size_t k = 0; sl && k < sl->n_in && sl->q; k++) {
            inq_t *q = &sl->q[k];
            if (q->head < q->n && q->m[q->head]->partition == tp->partition &&
                !strcmp(rd_kafka_topic_name(q->m[q->head]->rkt), tp->topic)) {
                queued = q->m[q->head]->offset;
            }
        }
        int64_t off = sl ? sl_commit_pos(sl->n_in == 1, sl->next, queued, tp->offset) : -1;
        if (off >= 0) {
            tp->offset = off;
        } else {
            rd_kafka_topic_partition_list_del_by_idx(pos, i);
        }
    }
    l->n_marks = 0;
}

/* One checkpoint. SL_OK when committed or when an abortable failure was rolled back (the inputs
 * replay); an error only when the lane must stop. */
static sl_err_t checkpoint_run(lane_t *l) {
    l->last_commit = sl_mono_ms();
    sl_err_t rc = SL_OK;
    int64_t now = sl_wall_ms();
    for (size_t i = 0; i < l->n_slots && rc == SL_OK; i++) {
        changelog_walk_t w = {.l = l, .sl = &l->slots[i], .rc = SL_OK, .now = now};
        sl_stream_task_prepare_checkpoint(l->slots[i].task);
        sl_stream_task_each_changed(l->slots[i].task, changelog_one, &w);
        rc = w.rc;
    }
    if (rc != SL_OK) {
        return rc;
    }
    rd_kafka_topic_partition_list_t *pos = NULL;
    if (rd_kafka_assignment(l->c, &pos) || !pos) {
        return SL_OK;
    }
    (void)rd_kafka_position(l->c, pos);
    commit_positions(l, pos);
    rd_kafka_error_t *e = NULL;
    if (l->s->conf.at_least_once) {
        rd_kafka_flush(l->p, -1);
        if (atomic_exchange(&l->delivery_failed, false)) {
            snprintf(l->err, sizeof l->err, "an output record was not delivered");
            rd_kafka_topic_partition_list_destroy(pos);
            return SL_ERR_IO;
        }
        rd_kafka_resp_err_t err = pos->cnt ? rd_kafka_commit(l->c, pos, 0) : 0;
        rd_kafka_topic_partition_list_destroy(pos);
        if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
            sl_log(SL_LOG_WARN, "stream", "lane=%d msg=\"commit: %s\"", l->idx,
                   rd_kafka_err2str(err));
        }
        return commit_tasks(l);
    }
    if (!l->in_txn) {
        rd_kafka_topic_partition_list_destroy(pos);
        return begin(l);
    }
    if (pos->cnt > 0) { /* none: no task took a record since the assignment */
        rd_kafka_consumer_group_metadata_t *md = rd_kafka_consumer_group_metadata(l->c);
        e = rd_kafka_send_offsets_to_transaction(l->p, pos, md, -1);
        rd_kafka_consumer_group_metadata_destroy(md);
    }
    rd_kafka_topic_partition_list_destroy(pos);
    for (int tries = 0; !e || rd_kafka_error_is_retriable(e); tries++) {
        if (e) {
            rd_kafka_error_destroy(e);
            e = NULL;
        }
        e = rd_kafka_commit_transaction(l->p, -1);
        if (!e || tries > 10) {
            break;
        }
    }
    if (!e) {
        l->in_txn = false;
        return commit_tasks(l) == SL_OK ? begin(l) : SL_ERR_IO;
    }
    if (rd_kafka_error_txn_requires_abort(e)) {
        sl_log(SL_LOG_WARN, "stream", "lane=%d msg=\"checkpoint aborted: %s; replaying\"", l->idx,
               rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        abort_all(l);
        rewind_inputs(l);
        return begin(l);
    }
    snprintf(l->err, sizeof l->err, "checkpoint: %s", rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
    return SL_ERR_IO;
}

/* ---- operations: checkpoint accounting, the adaptive interval, backpressure, metrics ---- */

/* A checkpoint with its accounting: the commit latency and the outputs' commit wait, the next
 * interval (commit_iv.h: from the records it covered and how long it took), and the in-flight
 * counts, which fall to zero whether it committed or aborted (an abort rewinds the inputs, so
 * those records come again and are counted again). */
static sl_err_t checkpoint(lane_t *l) {
    uint64_t t0 = sl_mono_ns(), before = l->commits;
    sl_err_t rc = checkpoint_run(l);
    uint64_t txn_us = (sl_mono_ns() - t0) / 1000;
    if (l->commits != before) {
        sl_stream_metrics_committed(&l->m, sl_wall_ms(), txn_us);
    }
    const sl_stream_run_conf_t *c = &l->s->conf;
    sl_commit_iv_t rule = {c->commit_interval_min_ms, c->commit_interval_max_ms,
                           (uint64_t)c->commit_interval_light_records};
    l->commit_iv_ms = sl_commit_iv_next(&rule, l->commit_iv_ms, l->ckpt_records, txn_us / 1000);
    atomic_store(&l->m.commit_interval_ms, l->commit_iv_ms);
    l->ckpt_records = 0;
    l->dirty = false;
    atomic_store(&l->m.inflight_records, 0);
    atomic_store(&l->m.inflight_bytes, 0);
    return rc;
}

/* The interval's checkpoint. An idle lane (nothing consumed or produced since the last one) has
 * nothing to commit and skips the transaction, which counts as a light checkpoint for the
 * adaptive rule; checkpoints on revocation and at stop are never skipped. */
static sl_err_t checkpoint_due(lane_t *l) {
    if (l->dirty) {
        return checkpoint(l);
    }
    const sl_stream_run_conf_t *c = &l->s->conf;
    sl_commit_iv_t rule = {c->commit_interval_min_ms, c->commit_interval_max_ms,
                           (uint64_t)c->commit_interval_light_records};
    l->commit_iv_ms = sl_commit_iv_next(&rule, l->commit_iv_ms, 0, 0);
    atomic_store(&l->m.commit_interval_ms, l->commit_iv_ms);
    l->last_commit = sl_mono_ms();
    return SL_OK;
}

/* How long the lane's first poll of a batch may wait for input: until the next tick or the next
 * checkpoint, whichever comes first, so a short (adaptive) interval is kept when input is light
 * rather than stretched to the tick. */
static int poll_wait_ms(const lane_t *l) {
    uint64_t now = sl_mono_ms(), due = l->last_commit + (uint64_t)l->commit_iv_ms;
    uint64_t left = due > now ? due - now : 0;
    return (int)SL_MIN(left, (uint64_t)TICK_MS);
}

/* Pauses (pause = true) or resumes every partition assigned to the lane's consumer. Paused
 * partitions stop fetching and their prefetched records are dropped (librdkafka refetches from
 * the position on resume), so nothing more enters the lane until it resumes. */
static void pause_inputs(lane_t *l, bool pause) {
    rd_kafka_topic_partition_list_t *a = NULL;
    if (rd_kafka_assignment(l->c, &a) || !a) {
        return;
    }
    if (a->cnt) {
        (void)(pause ? rd_kafka_pause_partitions(l->c, a) : rd_kafka_resume_partitions(l->c, a));
    }
    atomic_store(&l->m.paused_partitions, pause ? a->cnt : 0);
    rd_kafka_topic_partition_list_destroy(a);
}

/* Backpressure, after each poll batch (never inside a librdkafka callback). In flight = input
 * records (and their bytes) processed since the last checkpoint, whose outputs are not committed
 * yet; the producer's queue holds outputs not yet acknowledged. When either passes its high mark
 * (inflight.max.records / inflight.max.bytes, or as many records queued in the producer) the lane
 * pauses its inputs. Paused, it waits for the producer's queue to fall below half the mark (the
 * loop keeps serving delivery reports); then, since only a checkpoint settles in-flight records,
 * it checkpoints at once if they are above half their marks, rather than wait for the interval,
 * and resumes. */
static sl_err_t backpressure(lane_t *l) {
    const sl_stream_run_conf_t *c = &l->s->conf;
    uint64_t recs = atomic_load(&l->m.inflight_records);
    uint64_t bytes = atomic_load(&l->m.inflight_bytes);
    uint64_t queued = (uint64_t)SL_MAX(rd_kafka_outq_len(l->p), 0);
    uint64_t max_r = (uint64_t)c->inflight_max_records, max_b = (uint64_t)c->inflight_max_bytes;
    atomic_store(&l->m.producer_queue, (int)queued);
    if (!l->paused && (recs >= max_r || bytes >= max_b || queued >= max_r)) {
        l->paused = true;
        atomic_fetch_add(&l->m.pauses, 1);
        pause_inputs(l, true);
    }
    if (!l->paused || queued >= max_r / 2) {
        return SL_OK;
    }
    if (recs >= max_r / 2 || bytes >= max_b / 2) {
        sl_err_t rc = checkpoint(l);
        if (rc != SL_OK) {
            return rc;
        }
    }
    l->paused = false;
    pause_inputs(l, false);
    return SL_OK;
}

/* Publishes the lane's tasks (counters, watermark, state size) and the lag of its assigned
 * input partitions for /metrics: the high watermark librdkafka last saw in a fetch response minus
 * the position (no request is sent). Partitions without a position yet are left out. */
static void publish_metrics(lane_t *l) {
    if (l->n_slots > l->cap_rows) {
        l->cap_rows = l->n_slots;
        l->rows = sl_xrealloc(l->rows, l->cap_rows * sizeof *l->rows);
    }
    for (size_t i = 0; i < l->n_slots; i++) {
        sl_stream_task_row_t *r = &l->rows[i];
        r->st = l->slots[i].st;
        r->partition = l->slots[i].partition;
        snprintf(r->topic, sizeof r->topic, "%s", l->slots[i].topic);
        r->stats = *sl_stream_task_stats(l->slots[i].task);
        r->watermark = sl_stream_task_watermark(l->slots[i].task);
        size_t entries = 0, bytes = 0;
        sl_stream_task_state_size(l->slots[i].task, &entries, &bytes);
        r->state_entries = entries;
        r->state_bytes = bytes;
    }
    size_t n_lag = 0;
    rd_kafka_topic_partition_list_t *a = NULL;
    if (!rd_kafka_assignment(l->c, &a) && a) {
        (void)rd_kafka_position(l->c, a);
        if ((size_t)a->cnt > l->cap_lag) {
            l->cap_lag = (size_t)a->cnt;
            l->lag_rows = sl_xrealloc(l->lag_rows, l->cap_lag * sizeof *l->lag_rows);
        }
        for (int i = 0; i < a->cnt; i++) {
            int64_t lo = -1, hi = -1;
            if (a->elems[i].offset < 0 ||
                rd_kafka_get_watermark_offsets(l->c, a->elems[i].topic, a->elems[i].partition, &lo,
                                               &hi) ||
                hi < 0) {
                continue;
            }
            sl_stream_lag_row_t *r = &l->lag_rows[n_lag++];
            snprintf(r->topic, sizeof r->topic, "%s", a->elems[i].topic);
            r->partition = a->elems[i].partition;
            r->lag = SL_MAX(hi - a->elems[i].offset, (int64_t)0);
        }
        rd_kafka_topic_partition_list_destroy(a);
    }
    sl_stream_metrics_publish(&l->m, l->rows, l->n_slots, l->lag_rows, n_lag);
}

/* ---- standbys (num.standby.replicas) ---- */

/* The configuration of the lane's tasks: `topic` names a task of a source over several topics
 * (NULL: numbered by partition), `state_dir` is the root of its RocksDB stores (task.h). */
static sl_stream_task_conf_t task_conf(lane_t *l, const char *topic, const char *state_dir) {
    const sl_stream_t *s = l->s;
    return (sl_stream_task_conf_t){s->app_id,
                                   s->conf.dead_letter,
                                   s->conf.on_error,
                                   task_write,
                                   l,
                                   s->st_partitions,
                                   state_dir,
                                   s->conf.cache_bytes,
                                   s->conf.default_backend,
                                   s->st_tasks,
                                   topic,
                                   &l->wall_ms};
}

/* Whether sub-topology st's tasks can have standbys: it keeps state (aggregates, windowed or
 * not, tables, windowed joins; in memory or in RocksDB), and its tasks are numbered by partition
 * (not a source over several topics). A windowed task's copy holds its windows and watermark
 * (the changelog carries both, task.c); a takeover rebuilds the firing queues from them, as a
 * restore does. */
static bool standby_able(const sl_stream_t *s, int st) {
    bool stateful = false;
    for (size_t i = 0; i < s->b->n_nodes; i++) {
        const sl_stream_node_t *n = s->b->nodes[i];
        if (n->subtopology != st) {
            continue;
        }
        if ((n->kind == SL_NODE_SOURCE || n->kind == SL_NODE_TABLE) && sl_graph_multi_topic(n)) {
            return false;
        }
        stateful |=
            n->kind == SL_NODE_AGG || n->kind == SL_NODE_TABLE || n->kind == SL_NODE_JOIN_WINDOW;
    }
    return stateful;
}

/* Moves task (st, partition)'s RocksDB directory (<root>/<st>_<partition>, task.h) from under
 * root `from` to under root `to`, replacing what was there: one rename inside the state
 * directory. The stores must be closed. False (logged) when it could not be moved, or there was
 * none: the caller then cannot tell what `to` holds. */
static bool task_dir_move(int st, int32_t partition, const char *from, const char *to) {
    char src[1024], dst[1024];
    if ((size_t)snprintf(src, sizeof src, "%s/%d_%d", from, st, (int)partition) >= sizeof src ||
        (size_t)snprintf(dst, sizeof dst, "%s/%d_%d", to, st, (int)partition) >= sizeof dst) {
        return false;
    }
    struct stat sb;
    if (stat(src, &sb) != 0 || sl_os_mkdirs(to) != 0 || sl_os_rmtree(dst) != 0 ||
        rename(src, dst) != 0) {
        sl_log(SL_LOG_WARN, "stream", "msg=\"state: moving %s to %s: %s\"", src, dst,
               strerror(errno));
        return false;
    }
    return true;
}

/* Removes the lane's standby directory of task (st, partition). */
static void standby_wipe_dir(const lane_t *l, int st, int32_t partition) {
    char d[1024];
    if ((size_t)snprintf(d, sizeof d, "%s/%d_%d", l->sb_root, st, (int)partition) < sizeof d &&
        sl_os_rmtree(d) != 0) {
        sl_log(SL_LOG_WARN, "stream", "lane=%d msg=\"standbys: removing %s failed\"", l->idx, d);
    }
}

static standby_t *standby_of(lane_t *l, int st, int32_t partition) {
    for (size_t i = 0; i < l->n_sb; i++) {
        if (l->sb[i].st == st && l->sb[i].partition == partition) {
            return &l->sb[i];
        }
    }
    return NULL;
}

/* Drops standby i. `wipe`: its RocksDB directory too (a copy that failed); at a stop it stays,
 * and the next start resumes the copy from the offsets its image covers. */
static void standby_drop(lane_t *l, size_t i, bool wipe) {
    standby_t *b = &l->sb[i];
    bool disk = sl_stream_task_on_disk(b->task);
    add_stats(&l->gone, sl_stream_task_stats(b->task)); /* what it ran while active */
    sl_stream_task_free(b->task);
    if (wipe && disk) {
        standby_wipe_dir(l, b->st, b->partition);
    }
    l->sb[i] = l->sb[--l->n_sb];
}

/* Takes the standby of (st, partition), if any, into slot sl: its task becomes the slot's, and
 * the slot's restore starts where the copy stops. A copy in memory is the task itself, its idle
 * clocks started afresh (task.h: sl_stream_task_resume); a copy in RocksDB is closed, its
 * directory moved under the active tasks' root, and opened there by a new task made with `tc`
 * (the restore then rebuilds its windows and watermark from the image). False when there is no
 * copy or its directory could not be moved (the caller makes a task that restores cold). */
static bool standby_take(lane_t *l, slot_t *sl, const sl_stream_task_conf_t *tc) {
    standby_t *b = standby_of(l, sl->st, sl->partition);
    if (!b) {
        return false;
    }
    standby_t copy = *b;
    l->sb[b - l->sb] = l->sb[--l->n_sb];
    if (sl_stream_task_on_disk(copy.task)) {
        add_stats(&l->gone, sl_stream_task_stats(copy.task));
        sl_stream_task_free(copy.task);
        if (!task_dir_move(copy.st, copy.partition, l->sb_root, l->s->state_dir)) {
            standby_wipe_dir(l, copy.st, copy.partition);
            return false;
        }
        copy.task =
            sl_stream_task_new(l->s->b, copy.st, copy.partition, tc, (uint64_t)sl_wall_ms());
    } else {
        sl_stream_task_resume(copy.task, (uint64_t)sl_wall_ms());
    }
    sl->task = copy.task;
    sl->warm = true;
    for (size_t i = 0; i < MAX_STORES; i++) {
        sl->warm_next[i] = i < copy.n_stores ? copy.next[i] : -1;
    }
    return true;
}

/* A revoked task whose checkpoint just committed stays as a standby: its state is the committed
 * image, and its changelog partitions end with that checkpoint (this lane was their only writer),
 * so the copy starts at their ends. A task with RocksDB stores is closed and its directory moved
 * under the lane's standby root, where a copy opens it again (another lane of this instance may
 * be assigned the task next, and opens the active tasks' directory). A task with several inputs
 * (a join) is kept the same way: its queued records were not run, and the checkpoint committed
 * each input's position before them, so they are fetched again. True when the slot is gone:
 * kept as a standby, or closed when its copy could not be opened; false (the caller drops the
 * task) when it cannot be kept. */
static bool slot_to_standby(lane_t *l, size_t i) {
    slot_t *sl = &l->slots[i];
    if (!standby_able(l->s, sl->st)) {
        return false;
    }
    standby_t b = {sl->st, sl->partition, sl->task, {0}, 0, {0}, false};
    b.n_stores = SL_MIN(sl_stream_task_stores(sl->task, b.stores, MAX_STORES), MAX_STORES);
    for (size_t k = 0; k < b.n_stores; k++) {
        char t[512];
        int64_t lo = -1, hi = -1;
        changelog_name(l, b.stores[k], t, sizeof t);
        if (rd_kafka_query_watermark_offsets(l->restorer, t, sl->partition, &lo, &hi, 5000) ||
            hi < 0) {
            return false;
        }
        b.next[k] = hi;
    }
    if (sl_stream_task_on_disk(sl->task)) {
        add_stats(&l->gone, sl_stream_task_stats(sl->task));
        sl_stream_task_free(sl->task);
        b.task = NULL;
        if (task_dir_move(sl->st, sl->partition, l->s->state_dir, l->sb_root)) {
            sl_stream_task_conf_t tc = task_conf(l, NULL, l->sb_root);
            b.task =
                sl_stream_task_new(l->s->b, sl->st, sl->partition, &tc, (uint64_t)sl_wall_ms());
            if (sl_stream_task_error(b.task)) {
                sl_stream_task_free(b.task);
                b.task = NULL;
                standby_wipe_dir(l, sl->st, sl->partition);
            }
        }
        if (!b.task) {
            slot_remove(l, i);
            return true;
        }
    }
    l->sb = sl_xrealloc(l->sb, (l->n_sb + 1) * sizeof *l->sb);
    l->sb[l->n_sb++] = b;
    slot_remove(l, i);
    return true;
}

/* The lane of this instance that keeps the copy of task (st, partition): one per instance, so
 * an instance's standby memory is one copy of the tasks it does not run, whatever its lanes. */
static int standby_keeper(const sl_stream_t *s, int st, int32_t partition) {
    return (int)(((uint32_t)st * 7u + (uint32_t)partition) % (uint32_t)s->n_lanes);
}

/* After an assignment: a standby for every standby-able task the lane keeps (standby_keeper) and
 * does not own (Kafka Streams places num.standby.replicas copies on other clients; the group
 * protocol here carries no placement, so every other instance keeps one copy, which suits jobs
 * of a few instances), and the restorer reads their changelogs from where each copy stops: a new
 * copy in memory from the beginning, one in RocksDB from where the image left in the lane's
 * standby directory (by an earlier run) covers, when the changelog still holds that offset
 * (restore_from). Copies this lane kept of tasks it revoked and does not keep are dropped: the
 * assignment they could have served is taken. */
static void standby_sync(lane_t *l) {
    sl_stream_t *s = l->s;
    sl_stream_task_conf_t tc = task_conf(l, NULL, l->sb_root);
    for (size_t i = l->n_sb; i-- > 0;) {
        if (standby_keeper(s, l->sb[i].st, l->sb[i].partition) != l->idx) {
            standby_drop(l, i, true);
        }
    }
    for (int st = 0; st < s->b->n_subtopologies; st++) {
        if (!standby_able(s, st)) {
            continue;
        }
        for (int32_t p = 0; p < s->st_partitions[st]; p++) {
            bool owned = false;
            for (size_t k = 0; k < l->n_slots && !owned; k++) {
                owned = l->slots[k].st == st && l->slots[k].partition == p;
            }
            if (owned || standby_keeper(s, st, p) != l->idx || standby_of(l, st, p)) {
                continue;
            }
            sl_stream_task_t *t = sl_stream_task_new(s->b, st, p, &tc, (uint64_t)sl_wall_ms());
            standby_t b = {st, p, t, {0}, 0, {0}, false};
            b.n_stores = SL_MIN(sl_stream_task_stores(t, b.stores, MAX_STORES), MAX_STORES);
            bool ok = !sl_stream_task_error(t);
            for (size_t i = 0; i < b.n_stores && ok; i++) {
                restore_target_t rt = {t, b.stores[i]};
                int64_t from = restore_from(l, &rt);
                ok = from != RD_KAFKA_OFFSET_INVALID;
                b.next[i] = from >= 0 ? from : -1;
            }
            if (!ok) {
                bool disk = sl_stream_task_on_disk(t);
                sl_stream_task_free(t);
                if (disk) {
                    standby_wipe_dir(l, st, p);
                }
                continue;
            }
            l->sb = sl_xrealloc(l->sb, (l->n_sb + 1) * sizeof *l->sb);
            l->sb[l->n_sb++] = b;
        }
    }
    if (l->n_sb == 0) {
        return;
    }
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new((int)l->n_sb);
    for (size_t k = 0; k < l->n_sb; k++) {
        for (size_t i = 0; i < l->sb[k].n_stores; i++) {
            char t[512];
            changelog_name(l, l->sb[k].stores[i], t, sizeof t);
            rd_kafka_topic_partition_list_add(parts, t, l->sb[k].partition)->offset =
                l->sb[k].next[i] >= 0 ? l->sb[k].next[i] : RD_KAFKA_OFFSET_BEGINNING;
        }
    }
    if (rd_kafka_assign(l->restorer, parts)) {
        sl_log(SL_LOG_WARN, "stream", "lane=%d msg=\"standbys: assign failed\"", l->idx);
    }
    rd_kafka_topic_partition_list_destroy(parts);
}

/* Applies what the restorer has of the standbys' changelogs (no wait), at most one poll batch,
 * and makes it the copies' committed image (a RocksDB copy writes it, with the offset it
 * covers). */
static void standby_poll(lane_t *l) {
    for (int n = 0; n < POLL_BATCH; n++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(l->restorer, 0);
        if (!m) {
            break;
        }
        const char *topic = m->rkt ? rd_kafka_topic_name(m->rkt) : "";
        standby_t *b = NULL;
        size_t si = 0;
        for (size_t k = 0; k < l->n_sb && !b; k++) {
            for (size_t i = 0; i < l->sb[k].n_stores && !b; i++) {
                char t[512];
                changelog_name(l, l->sb[k].stores[i], t, sizeof t);
                if (l->sb[k].partition == m->partition && !strcmp(t, topic)) {
                    b = &l->sb[k];
                    si = i;
                }
            }
        }
        if (b && !m->err) {
            sl_bytes_t v = {m->payload, m->len};
            if (sl_stream_task_restore(b->task, b->stores[si], (sl_bytes_t){m->key, m->key_len},
                                       m->payload ? &v : NULL, m->offset) == SL_OK) {
                b->next[si] = m->offset + 1;
                b->applied = true;
                l->sb_pending = true;
            } else {
                /* A copy that cannot take a record is dropped (a later sync starts it again). */
                standby_drop(l, (size_t)(b - l->sb), true);
            }
        } else if (b && m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF && m->offset > b->next[si]) {
            b->next[si] = m->offset; /* past control records: the tail starts here */
        }
        rd_kafka_message_destroy(m);
    }
    if (l->sb_pending) {
        for (size_t k = l->n_sb; k-- > 0;) {
            if (!l->sb[k].applied) {
                continue;
            }
            l->sb[k].applied = false;
            if (sl_stream_task_commit(l->sb[k].task) != SL_OK) {
                standby_drop(l, k, true);
            }
        }
        l->sb_pending = false;
    }
}

/* Publishes each standby's lag for /metrics: per changelog partition of its stores, the high
 * watermark the restorer last saw in a fetch (no request is sent) minus the copy's position
 * (the low watermark while it has none), summed over its stores. A copy with a partition whose
 * high watermark is not known yet is left out. */
static void publish_standbys(lane_t *l) {
    if (l->n_sb > l->cap_sb_rows) {
        l->cap_sb_rows = l->n_sb;
        l->sb_rows = sl_xrealloc(l->sb_rows, l->cap_sb_rows * sizeof *l->sb_rows);
    }
    size_t n = 0;
    for (size_t k = 0; k < l->n_sb; k++) {
        const standby_t *b = &l->sb[k];
        int64_t lag = 0;
        bool known = true;
        for (size_t i = 0; i < b->n_stores && known; i++) {
            char t[512];
            int64_t lo = -1, hi = -1;
            changelog_name(l, b->stores[i], t, sizeof t);
            known =
                !rd_kafka_get_watermark_offsets(l->restorer, t, b->partition, &lo, &hi) && hi >= 0;
            int64_t at = b->next[i] >= 0 ? b->next[i] : SL_MAX(lo, (int64_t)0);
            lag += SL_MAX(hi - at, (int64_t)0);
        }
        if (known) {
            l->sb_rows[n++] = (sl_stream_standby_row_t){b->st, b->partition, lag};
        }
    }
    sl_stream_metrics_publish_standbys(&l->m, l->sb_rows, n);
}

/* Standby directories of lanes this run does not have (fewer lanes than before), or all of them
 * without standbys: nothing would resume from them, so they are removed at the start. */
static void standby_dirs_prune(const sl_stream_t *s) {
    DIR *d = opendir(s->state_dir);
    if (!d) {
        return;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        int k = -1, used = 0;
        if (sscanf(de->d_name, "standby-%d%n", &k, &used) != 1 || de->d_name[used] ||
            (s->conf.standby_replicas > 0 && k >= 0 && k < s->n_lanes)) {
            continue;
        }
        char p[1024];
        if ((size_t)snprintf(p, sizeof p, "%s/%s", s->state_dir, de->d_name) < sizeof p &&
            sl_os_rmtree(p) != 0) {
            sl_log(SL_LOG_WARN, "stream", "msg=\"standbys: removing %s failed\"", p);
        }
    }
    closedir(d);
}

/* ---- rebalances ---- */

/* The partitions of `parts` the job reads (a pattern subscription also brings, say, the job's
 * own topics when they match; they are never assigned). */
static rd_kafka_topic_partition_list_t *ours(const sl_stream_t *s,
                                             const rd_kafka_topic_partition_list_t *parts) {
    rd_kafka_topic_partition_list_t *mine = rd_kafka_topic_partition_list_new(parts->cnt);
    for (int i = 0; i < parts->cnt; i++) {
        if (root_of(s, parts->elems[i].topic)) {
            rd_kafka_topic_partition_list_add(mine, parts->elems[i].topic,
                                              parts->elems[i].partition);
        }
    }
    return mine;
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *all, void *opaque) {
    lane_t *l = opaque;
    sl_stream_t *s = l->s;
    rd_kafka_topic_partition_list_t *parts = ours(s, all);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        size_t from = l->n_slots;
        for (int i = 0; i < parts->cnt; i++) {
            const char *topic = parts->elems[i].topic;
            const root_t *r = root_of(s, topic);
            if (!r || slot_of(l, r, topic, parts->elems[i].partition)) {
                continue;
            }
            sl_stream_task_conf_t tc = task_conf(l, r->multi ? topic : NULL, s->state_dir);
            l->slots = sl_xrealloc(l->slots, (l->n_slots + 1) * sizeof *l->slots);
            slot_t *sl = &l->slots[l->n_slots++];
            sl->st = r->st;
            snprintf(sl->topic, sizeof sl->topic, "%s", r->multi ? topic : "");
            sl->partition = parts->elems[i].partition;
            sl->warm = false;
            if (!standby_take(l, sl, &tc)) {
                sl->task =
                    sl_stream_task_new(s->b, r->st, sl->partition, &tc, (uint64_t)sl_wall_ms());
            }
            sl_stream_node_t *roots[16];
            sl->n_in = sl_graph_roots(s->b, r->st, roots, 16);
            sl->q = sl->n_in > 1 ? sl_xcalloc(sl->n_in, sizeof *sl->q) : NULL;
            snprintf(sl->in, sizeof sl->in, "%s", topic);
            sl->next = -1;
            if (sl_stream_task_error(sl->task)) {
                set_error(s, "lane %d: task %d_%d: %s", l->idx, sl->st, (int)sl->partition,
                          sl_stream_task_error(sl->task));
            }
        }
        atomic_store(&l->m.restoring, true);
        bool complete = false;
        if (restore(l, from, &complete) != SL_OK) {
            set_error(s, "lane %d: %s", l->idx, l->err);
        }
        atomic_store(&l->m.restoring, false);
        if (!complete && !atomic_load(&s->failed)) {
            /* Stopped mid-restore: the new tasks' state is partial. Running them, even for the
             * records this poll still returns, and checkpointing at the stop would write values
             * counted from that partial image to their changelogs, which the next owner restores
             * (counts went back and records were lost). They go unassigned: their offsets and
             * state stay as last committed. */
            size_t dropped = l->n_slots - from;
            while (l->n_slots > from) {
                drop_task(l, l->n_slots - 1);
            }
            sl_log(SL_LOG_INFO, "stream",
                   "lane=%d tasks=%zu msg=\"stopped while restoring: tasks dropped unassigned\"",
                   l->idx, dropped);
            atomic_store(&l->m.joined, true);
            rd_kafka_topic_partition_list_destroy(parts);
            return;
        }
        rd_kafka_resp_err_t ae = rd_kafka_assign(rk, parts); /* eager: the whole assignment */
        if (s->conf.standby_replicas > 0) {
            standby_sync(l);
        }
        if (ae) {
            set_error(s, "lane %d: assign: %s", l->idx, rd_kafka_err2str(ae));
        } else if (l->paused && parts->cnt) {
            (void)rd_kafka_pause_partitions(rk, parts); /* backpressure holds new ones too */
            atomic_fetch_add(&l->m.paused_partitions, parts->cnt);
        }
        atomic_store(&l->m.joined, true);
        rd_kafka_topic_partition_list_destroy(parts);
        return;
    }
    /* Revoked: keep what was done (commit) unless the partitions were lost to another owner. */
    bool kept = false; /* committed: the tasks' state is their changelogs' image */
    if (rd_kafka_assignment_lost(rk)) {
        abort_all(l);
    } else if (checkpoint(l) != SL_OK) {
        set_error(s, "lane %d: %s", l->idx, l->err);
    } else {
        kept = l->in_txn || s->conf.at_least_once; /* committed and began the next one */
    }
    for (int i = 0; i < parts->cnt; i++) {
        const char *topic = parts->elems[i].topic;
        const root_t *r = root_of(s, topic);
        slot_t *sl = r ? slot_of(l, r, topic, parts->elems[i].partition) : NULL;
        size_t at = sl ? (size_t)(sl - l->slots) : 0;
        if (sl && !(kept && s->conf.standby_replicas > 0 && !atomic_load(&s->stop) &&
                    slot_to_standby(l, at))) {
            drop_task(l, at);
        }
    }
    (void)rd_kafka_assign(rk, NULL); /* eager: the whole assignment goes */
    if (!atomic_load(&s->stop) && begin(l) != SL_OK) {
        set_error(s, "lane %d: %s", l->idx, l->err);
    }
    rd_kafka_topic_partition_list_destroy(parts);
}

/* ---- the lane ---- */

/* Reads the wall clock into l->wall_ms now (`force`) or when CLOCK_EVERY records have passed
 * since the last read. Stage times are then at most that stale, and a record costs no read. */
static void lane_clock(lane_t *l, bool force) {
    if (force || l->clock_left == 0) {
        l->wall_ms = sl_wall_ms();
        l->clock_left = CLOCK_EVERY;
    }
    l->clock_left--;
}

static void run_message(lane_t *l, slot_t *sl, const root_t *r, rd_kafka_message_t *m) {
    const char *topic = rd_kafka_topic_name(m->rkt);
    if (m->err) {
        sl_log(SL_LOG_WARN, "stream", "lane=%d msg=\"consume: %s\"", l->idx,
               rd_kafka_message_errstr(m));
        return;
    }
    char up[320];
    int64_t wm;
    bool idle;
    if (marker_of(m, up, sizeof up, &wm, &idle) == SL_OK) {
        sl_stream_task_marker(sl->task, r->input, up, wm, idle, (uint64_t)l->wall_ms);
        return;
    }
    l->ckpt_records++;
    atomic_fetch_add(&l->m.inflight_records, 1);
    atomic_fetch_add(&l->m.inflight_bytes, m->len + m->key_len);
    rd_kafka_timestamp_type_t tt;
    int64_t ts = rd_kafka_message_timestamp(m, &tt);
    sl_stream_rec_t rec = {
        {m->key, m->key_len}, {m->payload, m->len}, ts, topic, m->partition, m->offset};
    if (!m->key) {
        rec.key = (sl_bytes_t){NULL, 0};
    }
    if (!m->payload) {
        rec.value = (sl_bytes_t){NULL, 0};
    }
    if (sl_stream_task_process(sl->task, r->input, &rec, (uint64_t)l->wall_ms) != SL_OK) {
        set_error(l->s, "lane %d: task %d_%d stopped at %s/%d@%lld%s%s", l->idx, sl->st,
                  sl->partition, topic, (int)m->partition, (long long)m->offset,
                  l->err[0] ? ": " : "", l->err);
    }
}

/* The event time a queued record is ordered by: the source's time rule when it is a field
 * (unreadable: the record's timestamp, and the task dead-letters it in its turn). */
static int64_t order_ts(const root_t *r, const rd_kafka_message_t *m) {
    rd_kafka_timestamp_type_t tt;
    int64_t ts = rd_kafka_message_timestamp(m, &tt);
    const sl_stream_node_t *n = r->node;
    if ((n->kind == SL_NODE_SOURCE || n->kind == SL_NODE_TABLE) && n->src.ts_fn) {
        sl_stream_rec_t rec = {
            {m->key, m->key_len}, {m->payload, m->len}, ts, r->topic, m->partition, m->offset};
        int64_t v;
        if (n->src.ts_fn(&rec, n->src.ts_user, &v) == SL_OK) {
            ts = v;
        }
    }
    return ts;
}

static void enqueue(inq_t *q, rd_kafka_message_t *m, int64_t ts) {
    if (q->head == q->n) {
        q->head = q->n = 0;
    }
    if (q->n == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 64;
        q->m = sl_xrealloc(q->m, q->cap * sizeof *q->m);
        q->ts = sl_xrealloc(q->ts, q->cap * sizeof *q->ts);
        q->since = sl_xrealloc(q->since, q->cap * sizeof *q->since);
    }
    q->m[q->n] = m;
    q->ts[q->n] = ts;
    q->since[q->n++] = sl_mono_ms();
    q->eof = false;
}

/* Runs a multi-input task's queued records, the oldest event time first, while no input that is
 * empty could still bring an older one (it is caught up), or the oldest has waited
 * max.task.idle.ms, or `force`. */
static void drain(lane_t *l, slot_t *sl, bool force) {
    const sl_stream_t *s = l->s;
    while (!atomic_load(&s->stop)) {
        size_t best = SIZE_MAX;
        bool waiting = false;
        for (size_t i = 0; i < sl->n_in; i++) {
            inq_t *q = &sl->q[i];
            if (q->head == q->n) {
                waiting |= !q->eof;
            } else if (best == SIZE_MAX || q->ts[q->head] < sl->q[best].ts[sl->q[best].head]) {
                best = i;
            }
        }
        if (best == SIZE_MAX) {
            return;
        }
        inq_t *q = &sl->q[best];
        if (waiting && !force &&
            sl_mono_ms() - q->since[q->head] < (uint64_t)s->conf.max_task_idle_ms) {
            return;
        }
        rd_kafka_message_t *m = q->m[q->head++];
        const root_t *r = root_of(s, rd_kafka_topic_name(m->rkt));
        lane_clock(l, false);
        run_message(l, sl, r, m);
        rd_kafka_message_destroy(m);
        if (q->head == q->n && q->eof) {
            sl_stream_task_caught_up(sl->task, r->input);
        }
    }
}

/* Takes one consumed message: runs it, or queues it (true: the queue owns it now). */
static bool process(lane_t *l, rd_kafka_message_t *m) {
    if (!m->err) {
        l->dirty = true; /* a position moved: a checkpoint has offsets to commit */
    }
    const char *topic = rd_kafka_topic_name(m->rkt);
    const root_t *r = root_of(l->s, topic);
    slot_t *sl = r ? slot_of(l, r, topic, m->partition) : NULL;
    if (!sl) {
        return false;
    }
    if (!m->err) {
        sl->next = m->offset + 1;
    }
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        if (sl->n_in == 1 && m->offset > sl->next) {
            /* Every record below the end was delivered in order before this event, so what lies
             * between the last one taken and the end is control records (a transactional input's
             * markers) or aborted ones: the task's position moves past them, or its group would
             * show a lag of one per partition for good (Kafka's consumers commit their position).
             */
            sl->next = m->offset;
            l->dirty = true;
        }
        if (sl->q && sl->q[r->input].head < sl->q[r->input].n) {
            sl->q[r->input].eof = true; /* caught up once its queue is run */
            return false;
        }
        if (sl->q) {
            sl->q[r->input].eof = true;
        }
        sl_stream_task_caught_up(sl->task, r->input);
        return false;
    }
    if (sl->q && !m->err && r->input < sl->n_in) {
        enqueue(&sl->q[r->input], m, order_ts(r, m));
        return true;
    }
    run_message(l, sl, r, m);
    return false;
}

static void *lane_main(void *arg) {
    lane_t *l = arg;
    sl_stream_t *s = l->s;
    if (begin(l) != SL_OK) {
        set_error(s, "lane %d: %s", l->idx, l->err);
    }
    atomic_store(&l->m.running, true);
    while (!atomic_load(&s->stop)) {
        int wait_ms = poll_wait_ms(l);
        lane_clock(l, true); /* for what a rebalance inside the poll emits */
        for (int i = 0; i < POLL_BATCH && !atomic_load(&s->stop); i++) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(l->c, i == 0 ? wait_ms : 0);
            if (!m) {
                break;
            }
            lane_clock(l, i == 0); /* after a wait the cached time is stale */
            if (!process(l, m)) {
                rd_kafka_message_destroy(m);
            }
        }
        for (size_t i = 0; i < l->n_slots; i++) {
            if (l->slots[i].q) {
                drain(l, &l->slots[i], false);
            }
        }
        rd_kafka_poll(l->p, 0);
        if (l->n_sb) {
            standby_poll(l);
        }
        uint64_t now = sl_mono_ms();
        if (now - l->last_tick >= TICK_MS) {
            l->last_tick = now;
            lane_clock(l, true);
            for (size_t i = 0; i < l->n_slots; i++) {
                if (sl_stream_task_tick(l->slots[i].task, (uint64_t)l->wall_ms) != SL_OK) {
                    set_error(s, "lane %d: %s", l->idx, l->err);
                }
            }
            publish_metrics(l);
            publish_standbys(l);
        }
        if (now - l->last_commit >= (uint64_t)l->commit_iv_ms && !atomic_load(&s->failed) &&
            checkpoint_due(l) != SL_OK) {
            set_error(s, "lane %d: %s", l->idx, l->err);
        }
        if (!atomic_load(&s->failed) && backpressure(l) != SL_OK) {
            set_error(s, "lane %d: %s", l->idx, l->err);
        }
    }
    atomic_store(&l->m.running, false);
    if (!atomic_load(&s->failed) && checkpoint(l) != SL_OK) {
        set_error(s, "lane %d: %s", l->idx, l->err);
    }
    if (atomic_load(&s->failed)) {
        abort_all(l);
    }
    (void)rd_kafka_consumer_close(l->c);
    return NULL;
}

/* True when no node of the job keeps state: it writes no changelog, so its producer needs
 * delivery reports only for failures (on_delivery reads successes only for changelog marks). */
static bool stateless(const sl_stream_t *s) {
    for (size_t i = 0; i < s->b->n_nodes; i++) {
        switch (s->b->nodes[i]->kind) {
        case SL_NODE_SOURCE:
        case SL_NODE_MAP:
        case SL_NODE_BRANCH:
        case SL_NODE_PASS:
        case SL_NODE_REKEY:
        case SL_NODE_SINK:
            break;
        default:
            return false;
        }
    }
    return true;
}

static sl_err_t lane_open(sl_stream_t *s, lane_t *l, char *errstr, size_t n) {
    char v[512];
    rd_kafka_conf_t *cc = base_conf(s, errstr, n);
    if (!cc) {
        return SL_ERR_INVAL;
    }
    rd_kafka_conf_set_opaque(cc, l);
    rd_kafka_conf_set_rebalance_cb(cc, on_rebalance);
    bool ok = set(cc, "group.id", s->app_id, errstr, n) &&
              set(cc, "enable.auto.commit", "false", errstr, n) &&
              set(cc, "isolation.level", "read_committed", errstr, n) &&
              set(cc, "auto.offset.reset", "earliest", errstr, n) &&
              set(cc, "enable.partition.eof", "true", errstr, n) &&
              set(cc, "partition.assignment.strategy", "range", errstr, n) &&
              set(cc, "queued.max.messages.kbytes", PREFETCH_KB, errstr, n);
    if (ok && s->conf.group_instance_id && *s->conf.group_instance_id) {
        /* Static membership (KIP-345), one member per lane as Kafka Streams names its threads'. */
        snprintf(v, sizeof v, "%s-%d", s->conf.group_instance_id, l->idx);
        ok = set(cc, "group.instance.id", v, errstr, n);
    }
    if (!ok || !(l->c = rd_kafka_new(RD_KAFKA_CONSUMER, cc, errstr, n))) {
        if (!ok) {
            rd_kafka_conf_destroy(cc);
        }
        return SL_ERR_INVAL;
    }
    rd_kafka_poll_set_consumer(l->c);
    rd_kafka_conf_t *pc = base_conf(s, errstr, n);
    if (!pc) {
        return SL_ERR_INVAL;
    }
    rd_kafka_conf_set_opaque(pc, l);
    rd_kafka_conf_set_dr_msg_cb(pc, on_delivery);
    snprintf(v, sizeof v, "%s-%s-%d", s->app_id, s->instance_id, l->idx);
    /* Successful deliveries of a stateless job's outputs are not reported: librdkafka then frees
     * them on its broker thread instead of queueing every one to this lane. Exactly once, outputs
     * are visible only when their checkpoint commits, and commit_transaction flushes, which
     * overrides linger.ms (librdkafka >= 1.8): lingering longer costs no latency there and fills
     * batches (q0: 10-20% less CPU per event at 50 ms than at 5, docs/benchmarks.md). At least
     * once, outputs are visible as soon as written: 5 ms. */
    ok = set(pc, "linger.ms", s->conf.at_least_once ? "5" : "50", errstr, n) &&
         set(pc, "partitioner", "murmur2_random", errstr, n) &&
         set(pc, "delivery.report.only.error", stateless(s) ? "true" : "false", errstr, n) &&
         (s->conf.at_least_once ? set(pc, "enable.idempotence", "true", errstr, n)
                                : set(pc, "transactional.id", v, errstr, n) &&
                                      set(pc, "transaction.timeout.ms", "30000", errstr, n));
    if (!ok || !(l->p = rd_kafka_new(RD_KAFKA_PRODUCER, pc, errstr, n))) {
        if (!ok) {
            rd_kafka_conf_destroy(pc);
        }
        return SL_ERR_INVAL;
    }
    if (!s->conf.at_least_once) {
        /* Fences an older incarnation and settles its open transaction before anything is read. */
        rd_kafka_error_t *e = rd_kafka_init_transactions(l->p, 60000);
        if (e) {
            snprintf(errstr, n, "init transactions: %s", rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
            return SL_ERR_IO;
        }
    }
    rd_kafka_conf_t *rc = base_conf(s, errstr, n);
    if (!rc) {
        return SL_ERR_INVAL;
    }
    snprintf(v, sizeof v, "%s-restore", s->app_id);
    ok = set(rc, "group.id", v, errstr, n) && set(rc, "enable.auto.commit", "false", errstr, n) &&
         set(rc, "isolation.level", "read_committed", errstr, n) &&
         set(rc, "enable.partition.eof", "true", errstr, n) &&
         set(rc, "auto.offset.reset", "earliest", errstr, n) &&
         set(rc, "fetch.wait.max.ms", "10", errstr, n);
    if (!ok || !(l->restorer = rd_kafka_new(RD_KAFKA_CONSUMER, rc, errstr, n))) {
        if (!ok) {
            rd_kafka_conf_destroy(rc);
        }
        return SL_ERR_INVAL;
    }
    rd_kafka_poll_set_consumer(l->restorer);
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new((int)s->n_roots);
    for (size_t i = 0; i < s->n_roots; i++) {
        const sl_stream_node_t *nd = s->roots[i].node;
        if (!s->roots[i].multi) {
            rd_kafka_topic_partition_list_add(topics, s->roots[i].topic, RD_KAFKA_PARTITION_UA);
        } else if (nd->re) {
            /* librdkafka's regex subscription ("^..."), anchored as graph.c compiled it */
            size_t cap = strlen(nd->topic) + 5;
            char *re = sl_xmalloc(cap);
            snprintf(re, cap, "^(%s)$", nd->topic);
            rd_kafka_topic_partition_list_add(topics, re, RD_KAFKA_PARTITION_UA);
            free(re);
        }
        for (size_t k = 0; k < nd->n_topics; k++) {
            rd_kafka_topic_partition_list_add(topics, nd->topics[k], RD_KAFKA_PARTITION_UA);
        }
    }
    rd_kafka_resp_err_t err = rd_kafka_subscribe(l->c, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (err) {
        snprintf(errstr, n, "subscribe: %s", rd_kafka_err2str(err));
        return SL_ERR_IO;
    }
    return SL_OK;
}

/* A closed lane has no tasks and no partitions left to report. */
static void publish_metrics_none(lane_t *l) {
    sl_stream_metrics_publish(&l->m, NULL, 0, NULL, 0);
    sl_stream_metrics_publish_standbys(&l->m, NULL, 0);
}

static void lane_close(lane_t *l) {
    while (l->n_slots) {
        drop_task(l, l->n_slots - 1);
    }
    while (l->n_sb) {
        standby_drop(l, l->n_sb - 1, false); /* their disk stores stay: the next start resumes */
    }
    free(l->sb);
    free(l->slots);
    free(l->marks);
    if (l->restorer) {
        (void)rd_kafka_consumer_close(l->restorer);
        rd_kafka_destroy(l->restorer);
    }
    if (l->c) {
        rd_kafka_destroy(l->c);
    }
    if (l->p) {
        rd_kafka_flush(l->p, 5000);
        for (size_t i = 0; i < l->n_topics; i++) {
            rd_kafka_topic_destroy(l->topics[i].rkt);
            free(l->topics[i].name);
        }
        l->n_topics = 0;
        rd_kafka_destroy(l->p);
    }
    l->slots = NULL;
    l->restorer = l->c = l->p = NULL;
    publish_metrics_none(l);
}

/* ---- the job ---- */

/* Fills the zeros of a run configuration with the defaults (runtime.h). */
static void conf_defaults(sl_stream_run_conf_t *c) {
    c->lanes = c->lanes > 0 ? c->lanes : 1;
    c->commit_interval_ms = c->commit_interval_ms > 0 ? c->commit_interval_ms : 100;
    if (!c->commit_interval_adaptive) {
        c->commit_interval_min_ms = c->commit_interval_max_ms = c->commit_interval_ms;
    } else {
        c->commit_interval_min_ms = c->commit_interval_min_ms > 0 ? c->commit_interval_min_ms : 20;
        c->commit_interval_max_ms =
            SL_MAX(c->commit_interval_max_ms > 0 ? c->commit_interval_max_ms : 1000,
                   c->commit_interval_min_ms);
    }
    c->commit_interval_light_records =
        c->commit_interval_light_records > 0 ? c->commit_interval_light_records : 1000;
    c->inflight_max_records = c->inflight_max_records > 0 ? c->inflight_max_records : 100000;
    c->inflight_max_bytes = c->inflight_max_bytes > 0 ? c->inflight_max_bytes : 64ll << 20;
}

/* Whether the topic (or a listed topic) of the root just added is read by an earlier root. A
 * pattern overlapping another input is left to the user: a named topic wins over a pattern. */
static bool read_twice(const sl_stream_t *s, const root_t *r) {
    for (size_t i = 0; i + 1 < s->n_roots; i++) {
        const root_t *o = &s->roots[i];
        if (!r->multi && !o->multi && !strcmp(r->topic, o->topic)) {
            return true;
        }
        for (size_t k = 0; r->multi && k < r->node->n_topics; k++) {
            if (o->multi ? sl_graph_source_reads(o->node, r->node->topics[k]) && !o->node->re
                         : !strcmp(o->topic, r->node->topics[k])) {
                return true;
            }
        }
        for (size_t k = 0; !r->multi && o->multi && !o->node->re && k < o->node->n_topics; k++) {
            if (!strcmp(o->node->topics[k], r->topic)) {
                return true;
            }
        }
    }
    return false;
}

sl_stream_t *sl_stream_new(sl_stream_builder_t *b, const sl_stream_run_conf_t *conf, char *errstr,
                           size_t errstr_size) {
    const char *gerr = sl_stream_graph_check(b);
    if (gerr) {
        snprintf(errstr, errstr_size, "%s", gerr);
        return NULL;
    }
    if (!conf->app_id || !*conf->app_id || strlen(conf->app_id) >= 200) {
        snprintf(errstr, errstr_size, "application.id is required (at most 199 characters)");
        return NULL;
    }
    sl_stream_t *s = sl_xcalloc(1, sizeof *s);
    s->b = b;
    s->conf = *conf;
    s->conf.lanes = conf->lanes > 0 ? conf->lanes : 1;
    conf_defaults(&s->conf);
    snprintf(s->app_id, sizeof s->app_id, "%s", conf->app_id);
    snprintf(s->instance_id, sizeof s->instance_id, "%s",
             conf->instance_id && *conf->instance_id ? conf->instance_id : "0");
    s->conf.cache_bytes = conf->cache_bytes ? conf->cache_bytes : SL_STREAM_CACHE_DEFAULT;
    const char *sd = conf->state_dir && *conf->state_dir ? conf->state_dir : SL_STREAM_STATE_DIR;
    size_t sdn = strlen(sd) + strlen(s->app_id) + strlen(s->instance_id) + 3;
    s->state_dir = sl_xmalloc(sdn);
    snprintf(s->state_dir, sdn, "%s/%s/%s", sd, s->app_id, s->instance_id);
    pthread_mutex_init(&s->mu, NULL);
    /* Lanes exist from here on (idle until sl_stream_run), so /metrics and /ready can read them
     * from another thread at any time. */
    s->n_lanes = s->conf.lanes;
    s->lanes = sl_xcalloc((size_t)s->n_lanes, sizeof *s->lanes);
    for (int i = 0; i < s->n_lanes; i++) {
        s->lanes[i].s = s;
        s->lanes[i].idx = i;
        s->lanes[i].commit_iv_ms = s->conf.commit_interval_ms;
        size_t rn = strlen(s->state_dir) + 32;
        s->lanes[i].sb_root = sl_xmalloc(rn);
        snprintf(s->lanes[i].sb_root, rn, "%s/standby-%d", s->state_dir, i);
        sl_stream_lane_metrics_init(&s->lanes[i].m, i);
        atomic_store(&s->lanes[i].m.commit_interval_ms, s->conf.commit_interval_ms);
    }
    for (int st = 0; st < b->n_subtopologies; st++) {
        sl_stream_node_t *roots[16];
        size_t n = sl_graph_roots(b, st, roots, 16);
        if (n == 0 || n > 16) {
            snprintf(errstr, errstr_size, "sub-topology %d reads %zu inputs (1 to 16)", st, n);
            sl_stream_free(s);
            return NULL;
        }
        for (size_t i = 0; i < n; i++) {
            if (s->n_roots == MAX_ROOTS_ALL) {
                snprintf(errstr, errstr_size, "more than %d inputs", MAX_ROOTS_ALL);
                sl_stream_free(s);
                return NULL;
            }
            root_t *r = &s->roots[s->n_roots++];
            r->multi = sl_graph_multi_topic(roots[i]);
            if (!r->multi) {
                topic_of_root(s, roots[i], r->topic, sizeof r->topic);
            }
            r->node = roots[i];
            r->st = st;
            r->input = i;
            if (read_twice(s, r)) {
                snprintf(errstr, errstr_size, "topic '%s' is read twice", r->topic);
                sl_stream_free(s);
                return NULL;
            }
        }
    }
    return s;
}

sl_err_t sl_stream_run(sl_stream_t *s) {
    char errstr[512];
    /* Every output costs librdkafka a few small allocations, freed on another thread than the
     * one that made them; glibc's fast bins then make malloc consolidate them again and again
     * (about 5% of q0's samples in malloc_consolidate alone). Without fast bins the per-thread
     * caches still serve small chunks: q0 used 12-27% less CPU per event in a side-by-side run
     * (docs/benchmarks.md). And the consumer takes a fresh buffer of up to megabytes for every
     * fetch response: with glibc's adaptive thresholds these came from mmap or from a heap
     * trimmed soon after each free, so the kernel faulted in and zeroed fresh pages again and
     * again (about 4% of q1's CPU); fixed thresholds keep freed heap for reuse (an arena holds at
     * most what it already peaked at). Process-wide, and left alone when the user tuned it. */
    const char *tun = getenv("GLIBC_TUNABLES");
    if (!tun || !strstr(tun, "mxfast")) {
        (void)mallopt(M_MXFAST, 0);
    }
    if (!tun || !strstr(tun, "threshold")) {
        (void)mallopt(M_MMAP_THRESHOLD, 32 << 20);
        (void)mallopt(M_TRIM_THRESHOLD, 64 << 20);
    }
    rd_kafka_conf_t *ac = base_conf(s, errstr, sizeof errstr);
    rd_kafka_t *admin = ac ? rd_kafka_new(RD_KAFKA_PRODUCER, ac, errstr, sizeof errstr) : NULL;
    if (!admin) {
        set_error(s, "%s", errstr);
        return SL_ERR_INVAL;
    }
    sl_err_t rc = plan_partitions(s, admin, errstr, sizeof errstr);
    if (rc == SL_OK) {
        rc = create_topics(s, admin, errstr, sizeof errstr);
    }
    rd_kafka_destroy(admin);
    if (rc != SL_OK) {
        set_error(s, "%s", errstr);
        return rc;
    }
    standby_dirs_prune(s);
    int started = 0;
    for (int i = 0; i < s->n_lanes && rc == SL_OK; i++) {
        lane_t *l = &s->lanes[i];
        if (lane_open(s, l, errstr, sizeof errstr) != SL_OK) {
            set_error(s, "lane %d: %s", i, errstr);
            rc = SL_ERR_IO;
        } else if (pthread_create(&l->th, NULL, lane_main, l) == 0) {
            started++;
        }
    }
    sl_log(SL_LOG_INFO, "stream", "app=%s instance=%s lanes=%d guarantee=%s msg=\"running\"",
           s->app_id, s->instance_id, started,
           s->conf.at_least_once ? "at_least_once" : "exactly_once_v2");
    for (int i = 0; i < started; i++) {
        pthread_join(s->lanes[i].th, NULL);
    }
    for (int i = 0; i < s->n_lanes; i++) {
        lane_close(&s->lanes[i]);
    }
    return atomic_load(&s->failed) ? SL_ERR_IO : SL_OK;
}

void sl_stream_stop(sl_stream_t *s) {
    atomic_store(&s->stop, 1);
}

const char *sl_stream_errmsg(const sl_stream_t *s) {
    return s->errmsg;
}

void sl_stream_totals(const sl_stream_t *s, sl_stream_task_stats_t *out, uint64_t *commits) {
    memset(out, 0, sizeof *out);
    *commits = 0;
    for (int i = 0; i < s->n_lanes; i++) {
        add_stats(out, &s->lanes[i].gone);
        *commits += s->lanes[i].commits;
    }
}

uint64_t sl_stream_stage_quantile_us(sl_stream_t *s, int stage, double q) {
    sl_hist_t *h = sl_hist_new();
    for (int i = 0; i < s->n_lanes; i++) {
        sl_stream_lane_metrics_t *m = &s->lanes[i].m;
        pthread_mutex_lock(&m->mu);
        sl_hist_merge(h, stage < SL_N_STAGES ? m->stage[stage] : m->commit);
        pthread_mutex_unlock(&m->mu);
    }
    uint64_t v = sl_hist_quantile(h, q);
    sl_hist_free(h);
    return v;
}

bool sl_stream_healthy(sl_stream_t *s) {
    if (atomic_load(&s->failed)) {
        return false;
    }
    for (int i = 0; i < s->n_lanes; i++) {
        if (!atomic_load(&s->lanes[i].m.running)) {
            return false;
        }
    }
    return s->n_lanes > 0;
}

bool sl_stream_ready(sl_stream_t *s) {
    if (!sl_stream_healthy(s)) {
        return false;
    }
    for (int i = 0; i < s->n_lanes; i++) {
        if (!atomic_load(&s->lanes[i].m.joined) || atomic_load(&s->lanes[i].m.restoring)) {
            return false;
        }
    }
    return true;
}

void sl_stream_collect(sl_metrics_out_t *out, void *opaque) {
    sl_stream_t *s = opaque;
    int64_t now = sl_wall_ms();
    for (int i = 0; i < s->n_lanes; i++) {
        sl_stream_metrics_collect(out, s->app_id, &s->lanes[i].m, now);
    }
    char lb[256];
    snprintf(lb, sizeof lb, "app_id=\"%s\"", s->app_id);
    sl_metrics_emit(out, "sluice_stream_ready", "gauge",
                    "1 when every lane runs and has restored its tasks (as /ready).", lb,
                    sl_stream_ready(s) ? 1 : 0);
}

void sl_stream_free(sl_stream_t *s) {
    if (!s) {
        return;
    }
    for (int i = 0; i < s->n_lanes; i++) {
        sl_stream_lane_metrics_free(&s->lanes[i].m);
        free(s->lanes[i].rows);
        free(s->lanes[i].lag_rows);
        free(s->lanes[i].sb_rows);
        free(s->lanes[i].sb_root);
    }
    free(s->lanes);
    free(s->st_partitions);
    free(s->st_tasks);
    free(s->state_dir);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

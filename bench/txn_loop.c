/* txn_loop.c -- a consume-transform-produce loop, with and without Kafka transactions.
 *
 *   txn_loop --bootstrap HOST:PORT --in TOPIC --out TOPIC [--partitions N] [--rate MSG/S]
 *            [--size B] [--duration S] [--warmup S] [--mode txn|plain] [--commit-ms MS]
 *            [--json FILE] [--group G] [--txn-id ID] [--max-inflight N] [--init-timeout-ms MS]
 *
 * Three threads, each with its own librdkafka handles:
 *  - feeder: an idempotent acks=all producer (linger.ms=1) writing --size byte records into --in,
 *    round robin over its partitions. Open loop at --rate: record i is due at start + i/rate and
 *    carries that intended send time (CLOCK_REALTIME ns, 8 bytes big-endian) followed by its
 *    sequence number (8 bytes) and lower-case padding, so a stalled feeder or loop cannot hide its
 *    own delay. --rate 0 feeds as fast as possible, bounded by the producer queue and by at most
 *    --max-inflight records fed but not yet seen downstream.
 *  - loop: a consumer of --in (group --group, enable.auto.commit=false) and a producer that
 *    writes every record, padding upper-cased, to the same partition number of --out.
 *    txn mode: transactional.id set; a transaction begins before the first record after a commit,
 *    and every --commit-ms the consumer's positions go to rd_kafka_send_offsets_to_transaction()
 *    and the transaction is committed. An abortable error aborts it and rewinds the consumer to
 *    its committed offsets; a fatal or unclassified error stops the program (exit 1).
 *    plain mode: idempotent acks=all producer; every --commit-ms the producer is flushed, then the
 *    consumer's positions are committed synchronously (at-least-once).
 *  - downstream: a read_committed consumer of --out (assigned at the current end of every
 *    partition) that measures latency = arrival (CLOCK_REALTIME) - intended send time.
 *
 * The measured window is [start + warmup, start + warmup + duration). Latency covers the records
 * whose intended send time falls in it (each counted once, after the loop has drained them);
 * throughput is the number of records arriving downstream inside the window, divided by its
 * length. Prints one line of key=value pairs; --json writes the same figures as one object. */
#include <ctype.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "bench_util.h"
#include "common/hist.h"
#include "common/util.h"

#define HDR_BYTES   16 /* intended send time, then sequence number */
#define MAX_SEQ     (1ULL << 33)
#define TXN_RETRIES 5

static struct {
    const char *bootstrap, *in, *out, *json, *group, *txn_id;
    bool txn;
    int partitions, size, commit_ms, init_timeout_ms;
    double rate, duration, warmup;
    long max_inflight;
} opt = {.bootstrap = "127.0.0.1:9092",
         .group = "txn-bench",
         .txn_id = "txn-bench-loop",
         .partitions = 4,
         .size = 512,
         .commit_ms = 100,
         .init_timeout_ms = 30000,
         .rate = 20000,
         .duration = 10,
         .warmup = 2,
         .max_inflight = 500000};

static int in_parts, out_parts;
static int64_t start_rt, start_mono; /* feeder clock origin (set before it runs) */
static _Atomic int64_t win_lo = INT64_MAX, win_hi = INT64_MAX; /* measured window, realtime ns */
static atomic_int stop_feed, stop_loop, stop_down, loop_failed, loop_assigned;
static atomic_long fed_total, fed_window, feed_failed;
static atomic_long down_received, down_unique, down_dup, down_measured, down_in_window;
static atomic_long commits, aborts;
static sl_hist_t *hist; /* microseconds; written by the downstream thread only */

static int64_t rt_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_ns(int64_t ns) {
    struct timespec ts = {(time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL)};
    nanosleep(&ts, NULL);
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
    (void)opaque;
    if (err != RD_KAFKA_RESP_ERR__FATAL) {
        fprintf(stderr, "txn_loop: %s: %s\n", rd_kafka_name(rk), reason);
        return;
    }
    char why[512];
    rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, why, sizeof why);
    fprintf(stderr, "txn_loop: FATAL: %s: %s: %s\n", rd_kafka_name(rk), rd_kafka_err2name(orig),
            why);
    atomic_store(&loop_failed, 1);
}

static rd_kafka_conf_t *base_conf(void) {
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    conf_set(c, "bootstrap.servers", opt.bootstrap);
    rd_kafka_conf_set_error_cb(c, on_error);
    return c;
}

static rd_kafka_t *new_handle(rd_kafka_type_t type, rd_kafka_conf_t *conf) {
    char err[256];
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "txn_loop: rd_kafka_new: %s\n", err);
        exit(1);
    }
    return rk;
}

/* ---- topics ----------------------------------------------------------------------------- */

/* Creates --in and --out with --partitions partitions unless they exist, then returns their
 * partition counts from metadata. Exits on any other error. */
static void ensure_topics(void) {
    rd_kafka_t *rk = new_handle(RD_KAFKA_PRODUCER, base_conf());
    const char *names[2] = {opt.in, opt.out};
    rd_kafka_NewTopic_t *nt[2];
    char err[256];
    for (int i = 0; i < 2; i++) {
        nt[i] = rd_kafka_NewTopic_new(names[i], opt.partitions, 1, err, sizeof err);
        if (!nt[i]) {
            fprintf(stderr, "txn_loop: topic %s: %s\n", names[i], err);
            exit(2);
        }
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, nt, 2, NULL, q);
    rd_kafka_NewTopic_destroy_array(nt, 2);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 15000);
    const rd_kafka_CreateTopics_result_t *res = ev ? rd_kafka_event_CreateTopics_result(ev) : NULL;
    if (!res) {
        fprintf(stderr, "txn_loop: CreateTopics: %s\n",
                ev ? rd_kafka_event_error_string(ev) : "no answer in 15 s");
        exit(1);
    }
    size_t n;
    const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &n);
    for (size_t i = 0; i < n; i++) {
        rd_kafka_resp_err_t e = rd_kafka_topic_result_error(tr[i]);
        if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            fprintf(stderr, "txn_loop: create %s: %s\n", rd_kafka_topic_result_name(tr[i]),
                    rd_kafka_topic_result_error_string(tr[i]));
            exit(1);
        }
    }
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);

    int *counts[2] = {&in_parts, &out_parts};
    for (int i = 0; i < 2; i++) {
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, names[i], NULL);
        for (int tries = 0; *counts[i] <= 0 && tries < 100; tries++) {
            const struct rd_kafka_metadata *md;
            if (rd_kafka_metadata(rk, 0, rkt, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
                if (md->topic_cnt == 1 && !md->topics[0].err) {
                    *counts[i] = md->topics[0].partition_cnt;
                }
                rd_kafka_metadata_destroy(md);
            }
            if (*counts[i] <= 0) {
                sleep_ns(100000000);
            }
        }
        rd_kafka_topic_destroy(rkt);
        if (*counts[i] <= 0) {
            fprintf(stderr, "txn_loop: topic %s has no partitions in metadata\n", names[i]);
            exit(1);
        }
    }
    rd_kafka_destroy(rk);
}

/* ---- feeder ----------------------------------------------------------------------------- */

static void feeder_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    (void)opaque;
    if (m->err && atomic_fetch_add(&feed_failed, 1) < 5) {
        fprintf(stderr, "txn_loop: feeder delivery: %s\n", rd_kafka_err2str(m->err));
    }
}

static void *feeder(void *arg) {
    (void)arg;
    rd_kafka_conf_t *conf = base_conf();
    conf_set(conf, "enable.idempotence", "true");
    conf_set(conf, "acks", "all");
    conf_set(conf, "linger.ms", "1");
    conf_set(conf, "queue.buffering.max.messages", "100000");
    rd_kafka_conf_set_dr_msg_cb(conf, feeder_dr);
    rd_kafka_t *rk = new_handle(RD_KAFKA_PRODUCER, conf);
    uint8_t *buf = sl_xmalloc((size_t)opt.size);
    for (int i = HDR_BYTES; i < opt.size; i++) {
        buf[i] = (uint8_t)('a' + i % 26);
    }
    const int64_t lo = atomic_load(&win_lo), hi = atomic_load(&win_hi);
    const long total = opt.rate > 0 ? (long)(opt.rate * (opt.warmup + opt.duration)) : -1;
    for (long i = 0; total < 0 || i < total; i++) {
        if (atomic_load(&stop_feed)) {
            break;
        }
        int64_t intended;
        if (opt.rate > 0) {
            int64_t off = (int64_t)((double)i * 1e9 / opt.rate);
            int64_t ahead = start_mono + off - now_ns();
            if (ahead > 0) {
                rd_kafka_poll(rk, 0);
                sleep_ns(ahead); /* no spinning: a late wake-up is charged to the latency */
            }
            intended = start_rt + off;
        } else {
            while (atomic_load(&fed_total) - atomic_load(&down_unique) > opt.max_inflight &&
                   !atomic_load(&stop_feed)) {
                rd_kafka_poll(rk, 1);
            }
            intended = rt_ns();
            if (intended >= hi) {
                break;
            }
        }
        sl_store_be64(buf, (uint64_t)intended);
        sl_store_be64(buf + 8, (uint64_t)i);
        rd_kafka_resp_err_t err;
        while ((err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(opt.in),
                                        RD_KAFKA_V_PARTITION((int32_t)(i % in_parts)),
                                        RD_KAFKA_V_VALUE(buf, (size_t)opt.size),
                                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                        RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(rk, 1);
        }
        if (err) {
            fprintf(stderr, "txn_loop: feeder produce: %s\n", rd_kafka_err2str(err));
            atomic_fetch_add(&feed_failed, 1);
            break;
        }
        atomic_fetch_add(&fed_total, 1);
        if (intended >= lo && intended < hi) {
            atomic_fetch_add(&fed_window, 1);
        }
        rd_kafka_poll(rk, 0);
    }
    if (rd_kafka_flush(rk, 30000)) {
        fprintf(stderr, "txn_loop: feeder: records still queued after 30 s\n");
    }
    free(buf);
    rd_kafka_destroy(rk);
    return NULL;
}

/* ---- downstream ------------------------------------------------------------------------- */

static void *downstream(void *arg) {
    (void)arg;
    rd_kafka_conf_t *conf = base_conf();
    char group[256];
    snprintf(group, sizeof group, "%s-downstream", opt.group);
    conf_set(conf, "group.id", group); /* unused (assign, no commits); consumer_poll needs one */
    conf_set(conf, "enable.auto.commit", "false");
    conf_set(conf, "isolation.level", "read_committed");
    conf_set(conf, "fetch.wait.max.ms", "100");
    conf_set(conf, "fetch.error.backoff.ms", "10");
    rd_kafka_t *rk = new_handle(RD_KAFKA_CONSUMER, conf);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *tpl = rd_kafka_topic_partition_list_new(out_parts);
    for (int p = 0; p < out_parts; p++) {
        int64_t low, high;
        rd_kafka_resp_err_t err =
            rd_kafka_query_watermark_offsets(rk, opt.out, p, &low, &high, 10000);
        if (err) {
            fprintf(stderr, "txn_loop: watermarks of %s [%d]: %s\n", opt.out, p,
                    rd_kafka_err2str(err));
            exit(1);
        }
        rd_kafka_topic_partition_list_add(tpl, opt.out, p)->offset = high;
    }
    rd_kafka_assign(rk, tpl);
    rd_kafka_topic_partition_list_destroy(tpl);

    uint8_t *seen = NULL; /* one bit per sequence number */
    size_t seen_bytes = 0;
    while (!atomic_load(&stop_down)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 50);
        if (!m) {
            continue;
        }
        if (m->err) {
            fprintf(stderr, "txn_loop: downstream: %s\n", rd_kafka_message_errstr(m));
        } else if (m->len >= HDR_BYTES) {
            int64_t now = rt_ns();
            int64_t intended = (int64_t)sl_load_be64(m->payload);
            uint64_t seq = sl_load_be64((const uint8_t *)m->payload + 8);
            int64_t lo = atomic_load(&win_lo), hi = atomic_load(&win_hi);
            atomic_fetch_add(&down_received, 1);
            if (now >= lo && now < hi) {
                atomic_fetch_add(&down_in_window, 1);
            }
            if (seq < MAX_SEQ) {
                if (seq / 8 >= seen_bytes) {
                    size_t nb = SL_MAX(seen_bytes * 2, (size_t)(seq / 8) + 4096);
                    seen = sl_xrealloc(seen, nb);
                    memset(seen + seen_bytes, 0, nb - seen_bytes);
                    seen_bytes = nb;
                }
                uint8_t bit = (uint8_t)(1u << (seq % 8));
                if (seen[seq / 8] & bit) {
                    atomic_fetch_add(&down_dup, 1);
                } else {
                    seen[seq / 8] |= bit;
                    if (intended >= lo && intended < hi) {
                        sl_hist_record(hist,
                                       now > intended ? (uint64_t)(now - intended) / 1000 : 0);
                        atomic_fetch_add(&down_measured, 1);
                    }
                    atomic_fetch_add(&down_unique, 1);
                }
            }
        }
        rd_kafka_message_destroy(m);
    }
    free(seen);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return NULL;
}

/* ---- the loop --------------------------------------------------------------------------- */

typedef struct loop {
    rd_kafka_t *c, *p;
    bool in_txn;    /* txn mode: begun and not yet committed or aborted */
    long dirty;     /* records produced since the last commit */
    long dr_failed; /* plain mode: delivery failures not yet handled */
    uint8_t *buf;
    size_t cap;
} loop_t;

/* Reports an unrecoverable error and stops the loop. Takes ownership of `error` (may be NULL). */
static bool loop_fail(const char *what, rd_kafka_error_t *error, const char *detail) {
    if (error) {
        fprintf(stderr, "txn_loop: FATAL: %s: %s: %s\n", what, rd_kafka_error_name(error),
                rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    } else {
        fprintf(stderr, "txn_loop: FATAL: %s: %s\n", what, detail);
    }
    atomic_store(&loop_failed, 1);
    return false;
}

static void loop_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    loop_t *l = opaque;
    if (m->err && opt.txn &&
        (m->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE || m->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT)) {
        return; /* an abort purges what was not yet delivered: expected */
    }
    if (m->err) {
        if (l->dr_failed++ < 5) {
            fprintf(stderr, "txn_loop: loop delivery: %s\n", rd_kafka_err2str(m->err));
        }
    }
}

/* The consumer's positions for its current assignment, valid offsets only (NULL if none). */
static rd_kafka_topic_partition_list_t *positions(loop_t *l) {
    rd_kafka_topic_partition_list_t *asg = NULL;
    if (rd_kafka_assignment(l->c, &asg) || !asg) {
        return NULL;
    }
    rd_kafka_topic_partition_list_t *out = NULL;
    if (asg->cnt > 0 && !rd_kafka_position(l->c, asg)) {
        out = rd_kafka_topic_partition_list_new(asg->cnt);
        for (int i = 0; i < asg->cnt; i++) {
            if (asg->elems[i].offset >= 0) {
                rd_kafka_topic_partition_list_add(out, asg->elems[i].topic, asg->elems[i].partition)
                    ->offset = asg->elems[i].offset;
            }
        }
        if (out->cnt == 0) {
            rd_kafka_topic_partition_list_destroy(out);
            out = NULL;
        }
    }
    rd_kafka_topic_partition_list_destroy(asg);
    return out;
}

/* Seeks the consumer back to the group's committed offsets (beginning where none). */
static bool rewind_consumer(loop_t *l) {
    rd_kafka_topic_partition_list_t *asg = NULL;
    if (rd_kafka_assignment(l->c, &asg) || !asg) {
        return true;
    }
    bool ok = true;
    if (asg->cnt > 0) {
        rd_kafka_resp_err_t err = rd_kafka_committed(l->c, asg, 10000);
        if (err) {
            ok = loop_fail("committed offsets for the rewind", NULL, rd_kafka_err2str(err));
        } else {
            for (int i = 0; i < asg->cnt; i++) {
                if (asg->elems[i].offset < 0) {
                    asg->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
                }
            }
            rd_kafka_error_t *error = rd_kafka_seek_partitions(l->c, asg, -1);
            if (error) {
                ok = loop_fail("seek to the committed offsets", error, NULL);
            }
            for (int i = 0; ok && i < asg->cnt; i++) {
                if (asg->elems[i].err) {
                    ok = loop_fail("seek to the committed offsets", NULL,
                                   rd_kafka_err2str(asg->elems[i].err));
                }
            }
        }
    }
    rd_kafka_topic_partition_list_destroy(asg);
    return ok;
}

/* Aborts the current transaction; with `rewind`, the consumer restarts from the committed
 * offsets so that the aborted records are processed again. */
static bool txn_abort(loop_t *l, bool rewind) {
    for (int tries = 0;; tries++) {
        rd_kafka_error_t *error = rd_kafka_abort_transaction(l->p, -1);
        if (!error) {
            break;
        }
        if (rd_kafka_error_is_retriable(error) && !rd_kafka_error_is_fatal(error) &&
            tries < TXN_RETRIES) {
            fprintf(stderr, "txn_loop: abort_transaction: %s (retrying)\n",
                    rd_kafka_error_string(error));
            rd_kafka_error_destroy(error);
            continue;
        }
        return loop_fail("abort_transaction", error, NULL);
    }
    l->in_txn = false;
    l->dirty = 0;
    atomic_fetch_add(&aborts, 1);
    return rewind ? rewind_consumer(l) : true;
}

/* Handles an error of a transactional call: true when the transaction was aborted (and the
 * consumer rewound) and the loop may go on, false when the program must stop. */
static bool txn_error(loop_t *l, const char *what, rd_kafka_error_t *error) {
    if (rd_kafka_error_txn_requires_abort(error)) {
        fprintf(stderr, "txn_loop: %s: %s: %s: aborting the transaction\n", what,
                rd_kafka_error_name(error), rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        return txn_abort(l, true);
    }
    return loop_fail(what, error, NULL); /* fatal, or neither abortable nor retriable */
}

static bool txn_begin(loop_t *l) {
    rd_kafka_error_t *error = rd_kafka_begin_transaction(l->p);
    if (error) {
        return loop_fail("begin_transaction", error, NULL);
    }
    l->in_txn = true;
    return true;
}

/* Sends the consumer's positions into the transaction and commits it. */
static bool txn_commit(loop_t *l) {
    if (!l->in_txn) {
        return true;
    }
    rd_kafka_topic_partition_list_t *offsets = positions(l);
    if (!offsets) { /* the assignment is gone (or was never consumed): nothing to commit to */
        fprintf(stderr, "txn_loop: no consumer positions to commit: aborting the transaction\n");
        return txn_abort(l, false);
    }
    rd_kafka_consumer_group_metadata_t *cgmd = rd_kafka_consumer_group_metadata(l->c);
    rd_kafka_error_t *error;
    for (int tries = 0;; tries++) {
        error = rd_kafka_send_offsets_to_transaction(l->p, offsets, cgmd, -1);
        if (!error || rd_kafka_error_txn_requires_abort(error) || rd_kafka_error_is_fatal(error) ||
            !rd_kafka_error_is_retriable(error) || tries >= TXN_RETRIES) {
            break;
        }
        fprintf(stderr, "txn_loop: send_offsets_to_transaction: %s (retrying)\n",
                rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    }
    rd_kafka_consumer_group_metadata_destroy(cgmd);
    rd_kafka_topic_partition_list_destroy(offsets);
    if (error) {
        return txn_error(l, "send_offsets_to_transaction", error);
    }
    for (int tries = 0;; tries++) {
        error = rd_kafka_commit_transaction(l->p, -1);
        if (!error) {
            break;
        }
        if (!rd_kafka_error_txn_requires_abort(error) && !rd_kafka_error_is_fatal(error) &&
            rd_kafka_error_is_retriable(error) && tries < TXN_RETRIES) {
            fprintf(stderr, "txn_loop: commit_transaction: %s (retrying)\n",
                    rd_kafka_error_string(error));
            rd_kafka_error_destroy(error);
            continue;
        }
        return txn_error(l, "commit_transaction", error);
    }
    l->in_txn = false;
    l->dirty = 0;
    atomic_fetch_add(&commits, 1);
    return true;
}

/* At-least-once: every record produced so far is acknowledged before the offsets past it are
 * committed. A failed delivery rewinds to the committed offsets instead. */
static bool plain_commit(loop_t *l) {
    if (!l->dirty) {
        return true;
    }
    if (rd_kafka_flush(l->p, 60000)) {
        return loop_fail("flush", NULL, "records still unacknowledged after 60 s");
    }
    l->dirty = 0;
    if (l->dr_failed) {
        fprintf(stderr, "txn_loop: %ld deliveries failed: rewinding to the committed offsets\n",
                l->dr_failed);
        l->dr_failed = 0;
        return rewind_consumer(l);
    }
    rd_kafka_topic_partition_list_t *offsets = positions(l);
    if (!offsets) {
        return true;
    }
    rd_kafka_resp_err_t err = rd_kafka_commit(l->c, offsets, 0);
    rd_kafka_topic_partition_list_destroy(offsets);
    if (err) { /* e.g. a rebalance: the records since the last commit are processed again */
        fprintf(stderr, "txn_loop: commit: %s\n", rd_kafka_err2str(err));
    } else {
        atomic_fetch_add(&commits, 1);
    }
    return true;
}

static bool loop_commit(loop_t *l) {
    return opt.txn ? txn_commit(l) : plain_commit(l);
}

static void loop_rebalance(rd_kafka_t *c, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t *parts, void *opaque) {
    loop_t *l = opaque;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        rd_kafka_assign(c, parts);
        atomic_store(&loop_assigned, parts->cnt);
        return;
    }
    /* Revoked: finish the work on these partitions before another member takes them. */
    if (!atomic_load(&loop_failed)) {
        if (!rd_kafka_assignment_lost(c)) {
            loop_commit(l);
        } else if (opt.txn && l->in_txn) {
            txn_abort(l, false);
        }
    }
    rd_kafka_assign(c, NULL);
    atomic_store(&loop_assigned, 0);
}

static bool loop_setup(loop_t *l) {
    rd_kafka_conf_t *conf = base_conf();
    conf_set(conf, "linger.ms", "1");
    if (opt.txn) {
        conf_set(conf, "transactional.id", opt.txn_id);
    } else {
        conf_set(conf, "enable.idempotence", "true");
        conf_set(conf, "acks", "all");
    }
    rd_kafka_conf_set_dr_msg_cb(conf, loop_dr);
    rd_kafka_conf_set_opaque(conf, l);
    l->p = new_handle(RD_KAFKA_PRODUCER, conf);
    if (opt.txn) {
        int64_t deadline = now_ns() + (int64_t)opt.init_timeout_ms * 1000000;
        for (;;) {
            int left_ms = (int)((deadline - now_ns()) / 1000000);
            rd_kafka_error_t *error = rd_kafka_init_transactions(l->p, SL_MAX(left_ms, 1));
            if (!error) {
                break;
            }
            if (rd_kafka_error_is_retriable(error) && !rd_kafka_error_is_fatal(error) &&
                now_ns() < deadline) {
                rd_kafka_error_destroy(error);
                sleep_ns(100000000);
                continue;
            }
            return loop_fail("init_transactions", error, NULL);
        }
    }
    conf = base_conf();
    conf_set(conf, "group.id", opt.group);
    conf_set(conf, "enable.auto.commit", "false");
    conf_set(conf, "auto.offset.reset", "earliest");
    conf_set(conf, "fetch.wait.max.ms", "100");
    conf_set(conf, "fetch.error.backoff.ms", "10");
    rd_kafka_conf_set_rebalance_cb(conf, loop_rebalance);
    rd_kafka_conf_set_opaque(conf, l);
    l->c = new_handle(RD_KAFKA_CONSUMER, conf);
    rd_kafka_poll_set_consumer(l->c);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, opt.in, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(l->c, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (err) {
        return loop_fail("subscribe", NULL, rd_kafka_err2str(err));
    }
    return true;
}

/* One input record: transform and produce it (inside a transaction in txn mode). */
static bool loop_process(loop_t *l, const rd_kafka_message_t *m) {
    if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            fprintf(stderr, "txn_loop: loop consumer: %s\n", rd_kafka_message_errstr(m));
        }
        return true;
    }
    if (opt.txn && !l->in_txn && !txn_begin(l)) {
        return false;
    }
    if (m->len > l->cap) {
        l->cap = m->len;
        l->buf = sl_xrealloc(l->buf, l->cap);
    }
    if (m->len) {
        memcpy(l->buf, m->payload, m->len);
    }
    for (size_t i = HDR_BYTES; i < m->len; i++) {
        l->buf[i] = (uint8_t)toupper(l->buf[i]);
    }
    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            l->p, RD_KAFKA_V_TOPIC(opt.out), RD_KAFKA_V_PARTITION(m->partition % out_parts),
            RD_KAFKA_V_KEY(m->key, m->key_len), RD_KAFKA_V_VALUE(l->buf, m->len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (!err) {
            break;
        }
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(l->p, 10);
            continue;
        }
        if (opt.txn && err != RD_KAFKA_RESP_ERR__FATAL) {
            /* The transaction failed (abortable state): abort it; the rewind brings this
             * record back. */
            fprintf(stderr, "txn_loop: produce: %s: aborting the transaction\n",
                    rd_kafka_err2str(err));
            return txn_abort(l, true);
        }
        char why[512];
        if (err == RD_KAFKA_RESP_ERR__FATAL) {
            rd_kafka_fatal_error(l->p, why, sizeof why);
        } else {
            snprintf(why, sizeof why, "%s", rd_kafka_err2str(err));
        }
        return loop_fail("produce", NULL, why);
    }
    l->dirty++;
    return true;
}

static void *loop_run(void *arg) {
    loop_t *l = arg;
    if (loop_setup(l)) {
        const int64_t every = (int64_t)opt.commit_ms * 1000000;
        int64_t next_commit = now_ns() + every;
        while (!atomic_load(&stop_loop) && !atomic_load(&loop_failed)) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(l->c, 5);
            if (m) {
                bool ok = loop_process(l, m);
                rd_kafka_message_destroy(m);
                if (!ok) {
                    break;
                }
            }
            rd_kafka_poll(l->p, 0);
            int64_t now = now_ns();
            if (now >= next_commit) {
                next_commit = now + every;
                if (!loop_commit(l)) {
                    break;
                }
            }
        }
        if (!atomic_load(&loop_failed)) {
            loop_commit(l);
        }
    }
    if (l->c) {
        rd_kafka_consumer_close(l->c); /* revokes: commits what is left unless failed */
        rd_kafka_destroy(l->c);
    }
    if (l->p) {
        if (opt.txn && l->in_txn && !atomic_load(&loop_failed)) {
            txn_abort(l, false);
        }
        rd_kafka_flush(l->p, 10000);
        rd_kafka_destroy(l->p);
    }
    free(l->buf);
    return NULL;
}

/* ---- main ------------------------------------------------------------------------------- */

static void usage(void) {
    fprintf(stderr,
            "usage: txn_loop --bootstrap HOST:PORT --in TOPIC --out TOPIC [--partitions N]\n"
            "         [--rate MSG/S (0: as fast as possible)] [--size B] [--duration S]\n"
            "         [--warmup S] [--mode txn|plain] [--commit-ms MS] [--json FILE]\n"
            "         [--group G] [--txn-id ID] [--max-inflight N] [--init-timeout-ms MS]\n");
    exit(2);
}

static double num(const char *name, const char *s, double min) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || v < min) {
        fprintf(stderr, "txn_loop: --%s: bad value '%s'\n", name, s);
        exit(2);
    }
    return v;
}

static void parse_args(int argc, char **argv) {
    static const struct option longopts[] = {
        {"bootstrap", required_argument, NULL, 'b'},
        {"in", required_argument, NULL, 'i'},
        {"out", required_argument, NULL, 'o'},
        {"partitions", required_argument, NULL, 'p'},
        {"rate", required_argument, NULL, 'r'},
        {"size", required_argument, NULL, 's'},
        {"duration", required_argument, NULL, 'd'},
        {"warmup", required_argument, NULL, 'w'},
        {"mode", required_argument, NULL, 'm'},
        {"commit-ms", required_argument, NULL, 'c'},
        {"json", required_argument, NULL, 'j'},
        {"group", required_argument, NULL, 'g'},
        {"txn-id", required_argument, NULL, 't'},
        {"max-inflight", required_argument, NULL, 'M'},
        {"init-timeout-ms", required_argument, NULL, 'I'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'b':
            opt.bootstrap = optarg;
            break;
        case 'i':
            opt.in = optarg;
            break;
        case 'o':
            opt.out = optarg;
            break;
        case 'p':
            opt.partitions = (int)num("partitions", optarg, 1);
            break;
        case 'r':
            opt.rate = num("rate", optarg, 0);
            break;
        case 's':
            opt.size = (int)num("size", optarg, HDR_BYTES);
            break;
        case 'd':
            opt.duration = num("duration", optarg, 0.1);
            break;
        case 'w':
            opt.warmup = num("warmup", optarg, 0);
            break;
        case 'm':
            if (strcmp(optarg, "txn") && strcmp(optarg, "plain")) {
                usage();
            }
            opt.txn = !strcmp(optarg, "txn");
            break;
        case 'c':
            opt.commit_ms = (int)num("commit-ms", optarg, 1);
            break;
        case 'j':
            opt.json = optarg;
            break;
        case 'g':
            opt.group = optarg;
            break;
        case 't':
            opt.txn_id = optarg;
            break;
        case 'M':
            opt.max_inflight = (long)num("max-inflight", optarg, 1);
            break;
        case 'I':
            opt.init_timeout_ms = (int)num("init-timeout-ms", optarg, 1);
            break;
        default:
            usage();
        }
    }
    if (optind != argc || !opt.in || !opt.out || !strcmp(opt.in, opt.out)) {
        usage();
    }
}

int main(int argc, char **argv) {
    parse_args(argc, argv);
    ensure_topics();
    if (in_parts != opt.partitions || out_parts != opt.partitions) {
        fprintf(stderr, "txn_loop: note: %s has %d partitions, %s has %d\n", opt.in, in_parts,
                opt.out, out_parts);
    }
    hist = sl_hist_new();
    loop_t loop = {0};
    pthread_t down_th, loop_th, feed_th;
    pthread_create(&down_th, NULL, downstream, NULL);
    pthread_create(&loop_th, NULL, loop_run, &loop);

    /* The feeder starts once the loop owns every input partition. */
    int64_t give_up = now_ns() + 60000000000LL + (int64_t)opt.init_timeout_ms * 1000000;
    while (atomic_load(&loop_assigned) < in_parts && !atomic_load(&loop_failed) &&
           now_ns() < give_up) {
        sleep_ns(10000000);
    }
    bool ok = !atomic_load(&loop_failed) && atomic_load(&loop_assigned) >= in_parts;
    if (!ok && !atomic_load(&loop_failed)) {
        fprintf(stderr, "txn_loop: the loop consumer was not assigned all of %s in time\n", opt.in);
    }
    double fed_s = 0;
    if (ok) {
        sleep_ns(200000000); /* let both consumers resolve their start offsets */
        start_mono = now_ns();
        start_rt = rt_ns();
        atomic_store(&win_hi, start_rt + (int64_t)((opt.warmup + opt.duration) * 1e9));
        atomic_store(&win_lo, start_rt + (int64_t)(opt.warmup * 1e9));
        pthread_create(&feed_th, NULL, feeder, NULL);
        /* Stop feeding early if the loop fails; otherwise the feeder ends with the window. */
        while (!atomic_load(&loop_failed) && rt_ns() < atomic_load(&win_hi)) {
            sleep_ns(10000000);
        }
        if (atomic_load(&loop_failed)) {
            atomic_store(&stop_feed, 1);
        }
        pthread_join(feed_th, NULL);
        fed_s = (double)(now_ns() - start_mono) / 1e9;
        /* Drain: wait for every measured record, or until nothing arrives for a while. */
        const int64_t idle_max = SL_MAX(10000000000LL, 3LL * opt.commit_ms * 1000000);
        long last = -1;
        int64_t last_change = now_ns();
        while (!atomic_load(&loop_failed) &&
               atomic_load(&down_measured) < atomic_load(&fed_window)) {
            long got = atomic_load(&down_unique);
            if (got != last) {
                last = got;
                last_change = now_ns();
            } else if (now_ns() - last_change > idle_max) {
                fprintf(stderr, "txn_loop: nothing arrived downstream for %.0f s; giving up\n",
                        (double)idle_max / 1e9);
                break;
            }
            sleep_ns(10000000);
        }
    }
    atomic_store(&stop_loop, 1);
    pthread_join(loop_th, NULL);
    atomic_store(&stop_down, 1);
    pthread_join(down_th, NULL);
    ok = ok && !atomic_load(&loop_failed);

    const char *mode = opt.txn ? "txn" : "plain";
    double tput = (double)atomic_load(&down_in_window) / opt.duration;
    double q[4] = {(double)sl_hist_quantile(hist, 0.50) / 1000,
                   (double)sl_hist_quantile(hist, 0.95) / 1000,
                   (double)sl_hist_quantile(hist, 0.99) / 1000, (double)sl_hist_max(hist) / 1000};
    long fed = atomic_load(&fed_total), unique = atomic_load(&down_unique);
    long undelivered = fed - atomic_load(&feed_failed) - unique;
    char rate_s[32] = "max";
    if (opt.rate > 0) {
        snprintf(rate_s, sizeof rate_s, "%.0f", opt.rate);
    }
    printf("mode=%s commit_ms=%d rate=%s size=%d partitions=%d throughput=%.0f p50_ms=%.2f "
           "p95_ms=%.2f p99_ms=%.2f max_ms=%.2f commits=%ld aborts=%ld fed=%ld fed_per_s=%.0f "
           "measured=%lu received=%ld duplicates=%ld undelivered=%ld%s\n",
           mode, opt.commit_ms, rate_s, opt.size, in_parts, tput, q[0], q[1], q[2], q[3],
           atomic_load(&commits), atomic_load(&aborts), fed, fed_s > 0 ? (double)fed / fed_s : 0,
           (unsigned long)sl_hist_count(hist), atomic_load(&down_received), atomic_load(&down_dup),
           undelivered > 0 ? undelivered : 0, ok ? "" : " FAILED");
    fflush(stdout);
    if (opt.json) {
        FILE *f = fopen(opt.json, "w");
        if (!f) {
            perror(opt.json);
            ok = false;
        } else {
            fprintf(f,
                    "{\"mode\": \"%s\", \"commit_ms\": %d, \"rate\": %.0f, \"size\": %d, "
                    "\"partitions\": %d, \"duration_s\": %g, \"warmup_s\": %g, "
                    "\"throughput_msg_s\": %.1f, \"p50_ms\": %.3f, \"p95_ms\": %.3f, "
                    "\"p99_ms\": %.3f, \"max_ms\": %.3f, \"mean_ms\": %.3f, \"commits\": %ld, "
                    "\"aborts\": %ld, \"fed\": %ld, \"measured\": %lu, \"received\": %ld, "
                    "\"duplicates\": %ld, \"undelivered\": %ld, \"ok\": %s}\n",
                    mode, opt.commit_ms, opt.rate, opt.size, in_parts, opt.duration, opt.warmup,
                    tput, q[0], q[1], q[2], q[3], sl_hist_mean(hist) / 1000, atomic_load(&commits),
                    atomic_load(&aborts), fed, (unsigned long)sl_hist_count(hist),
                    atomic_load(&down_received), atomic_load(&down_dup),
                    undelivered > 0 ? undelivered : 0, ok ? "true" : "false");
            if (fclose(f)) {
                perror(opt.json);
                ok = false;
            }
        }
    }
    sl_hist_free(hist);
    rd_kafka_wait_destroyed(5000);
    return ok ? 0 : 1;
}

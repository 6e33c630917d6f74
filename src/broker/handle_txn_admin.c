/* handle_txn_admin.c -- the transaction tooling of KIP-664 (what kafka-transactions.sh uses to
 * find and inspect hanging transactions).
 *
 * ListTransactions v0-1 (flexible): state_filters [string], producer_id_filters [int64],
 *   duration_filter (v1+, ms; -1: any) -> throttle, error, unknown_state_filters [string],
 *   transaction_states {transactional_id, producer_id, transaction_state}
 * DescribeTransactions v0 (flexible): transactional_ids [string] -> throttle, transaction_states
 *   {error, transactional_id, transaction_state, transaction_timeout_ms,
 *    transaction_start_time_ms, producer_id, producer_epoch (int16, unlike DescribeProducers'
 *    int32), topics {name, partitions}}
 * DescribeProducers v0 (flexible): topics {name, partition_indexes} -> throttle, topics {name,
 *   partitions {partition_index, error, error_message, active_producers {producer_id,
 *   producer_epoch (int32), last_sequence, last_timestamp, coordinator_epoch,
 *   current_txn_start_offset}}}
 *
 * States are named as Kafka names them (Empty, Ongoing, PrepareCommit, PrepareAbort,
 * CompleteCommit, CompleteAbort). A transaction's partitions are those it added, less (once it
 * is decided) those whose marker is written. The broker keeps no per-producer timestamps, so
 * last_timestamp is -1, and coordinator_epoch is -1 (one coordinator, no epochs). */
#include <string.h>

#include "broker/broker.h"
#include "common/clock.h"
#include "proto/kerr.h"
#include "txn/pstate.h"
#include "txn/txn_coord.h"

#define N_STATES 6

static bool open_state(sl_txn_state_t s) {
    return s == SL_TXN_ONGOING || s == SL_TXN_PREPARE_COMMIT || s == SL_TXN_PREPARE_ABORT;
}

/* ---- ListTransactions ---- */

typedef struct list_filter {
    bool any_state, states[N_STATES];
    const uint8_t *pids; /* big-endian int64s in the request */
    int32_t n_pids;
    int64_t min_duration_ms; /* -1: any */
    int64_t now_ms;
} list_filter_t;

static bool listed(const list_filter_t *f, const sl_txn_t *t) {
    if (!f->any_state && !f->states[t->state]) {
        return false;
    }
    if (f->n_pids) {
        bool hit = false;
        for (int32_t i = 0; i < f->n_pids && !hit; i++) {
            hit = (int64_t)sl_load_be64(f->pids + 8 * i) == t->pid;
        }
        if (!hit) {
            return false;
        }
    }
    return f->min_duration_ms < 0 ||
           (open_state(t->state) && f->now_ms - t->start_ms >= f->min_duration_ms);
}

static int state_of(sl_str_t name) {
    for (int s = 0; s < N_STATES; s++) {
        if (sl_str_eqz(name, sl_txn_state_name((sl_txn_state_t)s))) {
            return s;
        }
    }
    return -1;
}

SL_HANDLER(ListTransactions) {
    sl_broker_t *b = req->broker;
    sl_reader_t *rd = &req->rd;
    sl_writer_t *wr = &req->wr;
    list_filter_t f = {.any_state = true, .min_duration_ms = -1, .now_ms = sl_wall_ms()};
    int32_t n_states = sl_rd_count(rd, true, 1);
    sl_reader_t states = *rd;
    int32_t n_unknown = 0;
    for (int32_t i = 0; i < n_states && !rd->err; i++) {
        int s = state_of(sl_rd_str(rd, true));
        f.any_state = false;
        if (s >= 0) {
            f.states[s] = true;
        } else {
            n_unknown++;
        }
    }
    f.n_pids = sl_rd_count(rd, true, 8);
    f.pids = rd->p;
    for (int32_t i = 0; i < f.n_pids && !rd->err; i++) {
        (void)sl_rd_i64(rd);
    }
    if (req->api_version >= 1) {
        f.min_duration_ms = sl_rd_i64(rd);
    }
    sl_rd_tags(rd, true);
    if (rd->err) {
        return rd->err;
    }
    sl_wr_i32(wr, 0);
    sl_wr_i16(wr, KERR_NONE);
    /* Filters naming no state we know are echoed back (Kafka's unknown_state_filters). */
    sl_wr_array_len(wr, true, n_unknown);
    for (int32_t i = 0; i < n_states; i++) {
        sl_str_t name = sl_rd_str(&states, true);
        if (state_of(name) < 0) {
            sl_wr_str(wr, true, name);
        }
    }
    /* Kafka's rule: only the transactional ids the principal may DESCRIBE. */
    size_t n = sl_txn_count(b->txn);
    bool *show = sl_xcalloc(n + 1, sizeof *show);
    int32_t n_listed = 0;
    for (size_t i = 0; i < n; i++) {
        const sl_txn_t *t = sl_txn_at(b->txn, i);
        show[i] =
            listed(&f, t) && sl_req_allowed(req, SL_RES_TRANSACTIONAL_ID,
                                            (sl_str_t){t->id, strlen(t->id)}, SL_ACL_DESCRIBE);
        n_listed += show[i];
    }
    sl_wr_array_len(wr, true, n_listed);
    for (size_t i = 0; i < n; i++) {
        const sl_txn_t *t = sl_txn_at(b->txn, i);
        if (show[i]) {
            sl_wr_strz(wr, true, t->id);
            sl_wr_i64(wr, t->pid);
            sl_wr_strz(wr, true, sl_txn_state_name(t->state));
            sl_wr_tags(wr, true);
        }
    }
    free(show);
    sl_wr_tags(wr, true);
    return SL_OK;
}

/* ---- DescribeTransactions ---- */

/* Whether part i of t is still part of the transaction (added, and no marker written yet). */
static bool pending_part(const sl_txn_t *t, size_t i) {
    return open_state(t->state) && t->parts[i].marker < 0;
}

/* Whether part i is the first pending part of its topic. */
static bool first_of_topic(const sl_txn_t *t, size_t i) {
    for (size_t k = 0; k < i; k++) {
        if (pending_part(t, k) && !strcmp(t->parts[k].topic, t->parts[i].topic)) {
            return false;
        }
    }
    return true;
}

static void write_topics(sl_writer_t *wr, const sl_txn_t *t) {
    int32_t n_topics = 0;
    for (size_t i = 0; i < t->n_parts; i++) {
        n_topics += pending_part(t, i) && first_of_topic(t, i);
    }
    sl_wr_array_len(wr, true, n_topics);
    for (size_t i = 0; i < t->n_parts; i++) {
        if (!pending_part(t, i) || !first_of_topic(t, i)) {
            continue;
        }
        int32_t n = 0;
        for (size_t k = i; k < t->n_parts; k++) {
            n += pending_part(t, k) && !strcmp(t->parts[k].topic, t->parts[i].topic);
        }
        sl_wr_strz(wr, true, t->parts[i].topic);
        sl_wr_array_len(wr, true, n);
        for (size_t k = i; k < t->n_parts; k++) {
            if (pending_part(t, k) && !strcmp(t->parts[k].topic, t->parts[i].topic)) {
                sl_wr_i32(wr, t->parts[k].partition);
            }
        }
        sl_wr_tags(wr, true);
    }
}

SL_HANDLER(DescribeTransactions) {
    sl_broker_t *b = req->broker;
    sl_reader_t *rd = &req->rd;
    sl_writer_t *wr = &req->wr;
    int32_t n = sl_rd_count(rd, true, 1);
    sl_reader_t ids = *rd;
    for (int32_t i = 0; i < n && !rd->err; i++) {
        (void)sl_rd_str(rd, true);
    }
    sl_rd_tags(rd, true);
    if (rd->err) {
        return rd->err;
    }
    sl_wr_i32(wr, 0);
    sl_wr_array_len(wr, true, n);
    for (int32_t i = 0; i < n; i++) {
        sl_str_t id = sl_rd_str(&ids, true);
        bool denied = !sl_req_allowed(req, SL_RES_TRANSACTIONAL_ID, id, SL_ACL_DESCRIBE);
        const sl_txn_t *t = id.p && !denied ? sl_txn_get(b->txn, id) : NULL;
        sl_wr_i16(wr, denied ? KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED
                      : t    ? KERR_NONE
                             : KERR_TRANSACTIONAL_ID_NOT_FOUND);
        sl_wr_str(wr, true, id.p ? id : (sl_str_t){"", 0});
        sl_wr_strz(wr, true, t ? sl_txn_state_name(t->state) : "");
        sl_wr_i32(wr, t ? t->timeout_ms : 0);
        sl_wr_i64(wr, t && open_state(t->state) ? t->start_ms : -1);
        sl_wr_i64(wr, t ? t->pid : -1);
        sl_wr_i16(wr, t ? (int16_t)t->epoch : -1);
        if (t) {
            write_topics(wr, t);
        } else {
            sl_wr_array_len(wr, true, 0);
        }
        sl_wr_tags(wr, true);
    }
    sl_wr_tags(wr, true);
    return SL_OK;
}

/* ---- DescribeProducers ---- */

static void count_producer(int64_t pid, int16_t epoch, int32_t last_seq, int64_t txn_first,
                           void *opaque) {
    (void)pid;
    (void)epoch;
    (void)last_seq;
    (void)txn_first;
    (*(int32_t *)opaque)++;
}

static void write_producer(int64_t pid, int16_t epoch, int32_t last_seq, int64_t txn_first,
                           void *opaque) {
    sl_writer_t *wr = opaque;
    sl_wr_i64(wr, pid);
    sl_wr_i32(wr, epoch);
    sl_wr_i32(wr, last_seq);
    sl_wr_i64(wr, -1); /* last_timestamp: not tracked */
    sl_wr_i32(wr, -1); /* coordinator_epoch */
    sl_wr_i64(wr, txn_first);
    sl_wr_tags(wr, true);
}

SL_HANDLER(DescribeProducers) {
    sl_broker_t *b = req->broker;
    sl_reader_t *rd = &req->rd;
    sl_writer_t *wr = &req->wr;
    int32_t n_topics = sl_rd_count(rd, true, 2);
    sl_reader_t again = *rd;
    for (int32_t i = 0; i < n_topics && !rd->err; i++) {
        (void)sl_rd_str(rd, true);
        int32_t n = sl_rd_count(rd, true, 4);
        for (int32_t k = 0; k < n && !rd->err; k++) {
            (void)sl_rd_i32(rd);
        }
        sl_rd_tags(rd, true);
    }
    sl_rd_tags(rd, true);
    if (rd->err) {
        return rd->err;
    }
    sl_wr_i32(wr, 0);
    sl_wr_array_len(wr, true, n_topics);
    for (int32_t i = 0; i < n_topics; i++) {
        sl_str_t name = sl_rd_str(&again, true);
        int32_t n = sl_rd_count(&again, true, 4);
        sl_wr_str(wr, true, name.p ? name : (sl_str_t){"", 0});
        sl_wr_array_len(wr, true, n);
        for (int32_t k = 0; k < n; k++) {
            int32_t index = sl_rd_i32(&again);
            bool denied = !sl_req_allowed(req, SL_RES_TOPIC, name, SL_ACL_READ);
            sl_partition_t *p = name.p && !denied ? sl_partition_get(b, name, index) : NULL;
            sl_wr_i32(wr, index);
            sl_wr_i16(wr, denied ? KERR_TOPIC_AUTHORIZATION_FAILED
                          : p    ? KERR_NONE
                                 : KERR_UNKNOWN_TOPIC_OR_PARTITION);
            sl_wr_strz(wr, true, NULL); /* error_message */
            int32_t n_prod = 0;
            if (p) {
                sl_pstate_each(p->pstate, count_producer, &n_prod);
            }
            sl_wr_array_len(wr, true, n_prod);
            if (p) {
                sl_pstate_each(p->pstate, write_producer, wr);
            }
            sl_wr_tags(wr, true);
        }
        sl_rd_tags(&again, true);
        sl_wr_tags(wr, true);
    }
    sl_wr_tags(wr, true);
    return SL_OK;
}

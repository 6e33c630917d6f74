/* offsets_topic.c -- a cluster's committed offsets in __consumer_offsets (offsets_topic.h), on
 * the internal-topic machinery of itopic.c.
 *
 * Each record of the topic is one offset change: key group, topic, partition; value the
 * replicated form of group/offset_store.c's record. One batch per OffsetCommit request, without
 * a producer id; TxnOffsetCommit's is a transactional batch of the producer, whose changes are
 * held (pending) until the transaction's marker in the partition commits or drops them, both
 * when the coordinator appends them and when a new leader loads them. */
#include "broker/offsets_topic.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "group/coordinator.h"
#include "group/offset_store.h"
#include "proto/kerr.h"
#include "storage/batch.h"

/* A transactional offset change not yet committed or aborted by its marker. */
typedef struct pending {
    int32_t index; /* offsets partition */
    int64_t pid;
    sl_buf_t value; /* the record's value (group/offset_store.h's replicated form) */
} pending_t;

typedef struct sl_otopic {
    sl_itopic_t it;
    pending_t *pending;
    size_t n_pending, cap_pending;
} sl_otopic_t;

static void forget(sl_broker_t *b, sl_itopic_match_t *m);
static void load_record(sl_broker_t *b, int32_t index, const sl_batch_info_t *info, int64_t offset,
                        sl_bytes_t value);
static void load_marker(sl_broker_t *b, int32_t index, int64_t pid, int type);

static const sl_itopic_ops_t ops = {
    .name = SL_OFFSETS_TOPIC,
    .fac = "group",
    .what = "offsets",
    .forget = forget,
    .record = load_record,
    .marker = load_marker,
};

static sl_otopic_t *state(sl_broker_t *b) {
    if (!b->otopic) {
        b->otopic = sl_xcalloc(1, sizeof *b->otopic);
        sl_itopic_init(&b->otopic->it, &ops);
    }
    return b->otopic;
}

int16_t sl_otopic_check(sl_broker_t *b, sl_str_t group) {
    return sl_itopic_check(b, &state(b)->it, group);
}

int16_t sl_otopic_coordinator(sl_broker_t *b, sl_str_t group, int32_t *node, char *host,
                              size_t host_len, int32_t *port) {
    return sl_itopic_coordinator(b, &state(b)->it, group, node, host, host_len, port);
}

int16_t sl_otopic_writable(sl_broker_t *b, sl_str_t group) {
    return sl_itopic_writable(b, &state(b)->it, group);
}

/* ---- transactional changes ---- */

static void pending_add(sl_broker_t *b, int32_t index, int64_t pid, const uint8_t *v, size_t len) {
    sl_otopic_t *ot = state(b);
    if (ot->n_pending == ot->cap_pending) {
        ot->cap_pending = ot->cap_pending ? ot->cap_pending * 2 : 16;
        ot->pending = sl_xrealloc(ot->pending, ot->cap_pending * sizeof *ot->pending);
    }
    pending_t *e = &ot->pending[ot->n_pending++];
    e->index = index;
    e->pid = pid;
    e->value = (sl_buf_t){0};
    sl_buf_append(&e->value, v, len);
}

/* Applies (commit) or drops the pending changes of pid in partition `index`, in their order;
 * pid -1 drops every change of the partition. */
static void pending_end(sl_broker_t *b, int32_t index, int64_t pid, bool commit) {
    sl_otopic_t *ot = state(b);
    sl_offset_replay_t rp;
    sl_coord_replay_fns(b->coord, &rp);
    size_t keep = 0;
    for (size_t i = 0; i < ot->n_pending; i++) {
        pending_t *e = &ot->pending[i];
        if (e->index != index || (pid >= 0 && e->pid != pid)) {
            ot->pending[keep++] = *e;
            continue;
        }
        if (commit && sl_offset_rec_apply(&rp, e->value.data, e->value.len) != SL_OK) {
            sl_log(SL_LOG_WARN, "group", "partition=%d msg=\"transactional offset skipped\"",
                   index);
        }
        sl_buf_fini(&e->value);
    }
    ot->n_pending = keep;
}

bool sl_otopic_pending(sl_broker_t *b, sl_str_t group, sl_str_t topic, int32_t partition) {
    sl_otopic_t *ot = b->otopic;
    sl_partition_t *p = ot ? sl_itopic_part(b, &ot->it, group) : NULL;
    if (!p) {
        return false;
    }
    int32_t index = p->index;
    sl_buf_t key = {0};
    char *g = sl_str_dupz(group), *tn = sl_str_dupz(topic);
    sl_offset_rec_key(&key, g, tn, partition);
    bool found = false;
    for (size_t i = 0; i < ot->n_pending && !found; i++) {
        /* After its type byte, the value starts with the key's fields. */
        const pending_t *e = &ot->pending[i];
        found = e->index == index && e->value.len >= key.len + 1 &&
                !memcmp(e->value.data + 1, key.data, key.len);
    }
    sl_buf_fini(&key);
    free(g);
    free(tn);
    return found;
}

bool sl_otopic_loaded(sl_broker_t *b, sl_partition_t *p) {
    if (!b->cluster || strcmp(p->topic->name, SL_OFFSETS_TOPIC)) {
        return true;
    }
    return sl_itopic_loaded(&state(b)->it, p);
}

void sl_otopic_marker(sl_broker_t *b, sl_partition_t *p, int64_t pid, int type) {
    if (b->cluster && !strcmp(p->topic->name, SL_OFFSETS_TOPIC)) {
        pending_end(b, p->index, pid, type == SL_CONTROL_COMMIT);
    }
}

/* ---- writing ---- */

typedef struct hold_ctx {
    sl_broker_t *b;
    int32_t index;
    int64_t pid;
} hold_ctx_t;

static void hold(void *opaque, int32_t delta, sl_bytes_t value) {
    const hold_ctx_t *h = opaque;
    (void)delta;
    pending_add(h->b, h->index, h->pid, value.p, value.len);
}

int16_t sl_otopic_append_txn(sl_broker_t *b, sl_str_t group, sl_itopic_batch_t *bt, int64_t pid,
                             int16_t epoch, sl_partition_t **p_out, int64_t *end_out) {
    int16_t err = sl_itopic_append(b, &state(b)->it, group, bt, pid, epoch, p_out, end_out);
    if (err == KERR_NONE && bt->n > 0) {
        /* Held until the transaction's marker in this partition commits or drops them. */
        hold_ctx_t h = {b, (*p_out)->index, pid};
        sl_itopic_each_value(bt->recs.data, bt->recs.len, bt->n, hold, &h);
    }
    return err;
}

int16_t sl_otopic_append(sl_broker_t *b, sl_str_t group, sl_itopic_batch_t *bt,
                         sl_partition_t **p_out, int64_t *end_out) {
    return sl_itopic_append(b, &state(b)->it, group, bt, -1, -1, p_out, end_out);
}

/* ---- loading (itopic.c's callbacks) ---- */

/* What this broker held for the partition's groups may be stale or never replicated. */
static void forget(sl_broker_t *b, sl_itopic_match_t *m) {
    sl_coord_forget_offsets(b->coord, sl_itopic_in_partition, m);
    pending_end(b, m->index, -1, false);
}

/* A record of a transactional batch is held until its marker; others are applied. */
static void load_record(sl_broker_t *b, int32_t index, const sl_batch_info_t *info, int64_t offset,
                        sl_bytes_t value) {
    if ((info->attributes & SL_BATCH_ATTR_TRANSACTIONAL) && info->producer_id >= 0) {
        pending_add(b, index, info->producer_id, value.p, value.len);
        return;
    }
    sl_offset_replay_t rp;
    sl_coord_replay_fns(b->coord, &rp);
    if (sl_offset_rec_apply(&rp, value.p, value.len) != SL_OK) {
        sl_log(SL_LOG_WARN, "group", "partition=%d offset=%lld msg=\"offsets record skipped\"",
               index, (long long)offset);
    }
}

static void load_marker(sl_broker_t *b, int32_t index, int64_t pid, int type) {
    pending_end(b, index, pid, type == SL_CONTROL_COMMIT);
}

void sl_otopic_poll(sl_broker_t *b) {
    if (b->cluster) {
        sl_itopic_poll(b, &state(b)->it, (int32_t)b->conf.offsets_topic_num_partitions,
                       b->conf.offsets_topic_replication_factor);
    }
}

void sl_otopic_free(sl_broker_t *b) {
    if (b->otopic) {
        for (size_t i = 0; i < b->otopic->n_pending; i++) {
            sl_buf_fini(&b->otopic->pending[i].value);
        }
        free(b->otopic->pending);
        sl_itopic_fini(&b->otopic->it);
        free(b->otopic);
        b->otopic = NULL;
    }
}

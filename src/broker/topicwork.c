/* topicwork.c -- topic creation and deletion a slice per loop iteration (issue 14).
 *
 * Opening the partitions of a 5,000-partition topic (a few path lookups each) or moving the
 * directories of a deleted one to the trash (a rename each) took 0.3-0.7 s of the event loop in
 * one go: every other client waited that long. Single-node CreateTopics and DeleteTopics now
 * hand that work here, and each loop iteration does SL_TOPICWORK_SLICE partitions of the oldest
 * job, after the iteration's I/O, so other connections are served in between.
 *
 * Creation: the topic is in no table while its partitions open (Produce, Fetch and Metadata do
 * not see it) but its name is taken (another create of it gets TOPIC_ALREADY_EXISTS) and its
 * partitions count against max.partitions from the start. Once all are open it is recorded in
 * the metadata log and enters the table, as sl_topic_create does, and the waiting request is
 * answered (handle_admin.c). Nothing is recorded before that, so a crash or a shutdown midway
 * leaves no trace in the metadata (the unborn partitions made no files).
 *
 * Deletion: the deletion is recorded and the topic leaves the table first (DeleteTopics is
 * answered then, as Kafka's deletion is asynchronous); its partitions close and their
 * directories move to the trash here, from the last partition down. A crash midway leaves
 * directories a later topic of the name removes before it opens its own (as before); a create
 * of the name while its deletion is under way finishes the deletion inline first
 * (sl_topicwork_settle), so the new topic never sees the old one's files. */
#include <string.h>

#include "broker/broker.h"
#include "common/log.h"
#include "proto/kerr.h"

typedef struct tw_job {
    struct tw_job *next;
    sl_topic_t *t;
    bool deleting;
    sl_topicwork_done_fn *done;
    void *opaque;
} tw_job_t;

struct sl_topicwork {
    tw_job_t *head, *tail;
};

static void push(sl_broker_t *b, tw_job_t *j) {
    if (!b->topicwork) {
        b->topicwork = sl_xcalloc(1, sizeof *b->topicwork);
    }
    struct sl_topicwork *w = b->topicwork;
    if (w->tail) {
        w->tail->next = j;
    } else {
        w->head = j;
    }
    w->tail = j;
    sl_loop_no_wait(b->loop); /* the first slice runs in this iteration's before-sleep phase */
}

static void unlink_job(struct sl_topicwork *w, tw_job_t *j) {
    tw_job_t **pp = &w->head, *prev = NULL;
    while (*pp != j) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    *pp = j->next;
    if (w->tail == j) {
        w->tail = prev;
    }
    free(j);
}

void sl_topicwork_create(sl_broker_t *b, sl_topic_t *t, sl_topicwork_done_fn *done, void *opaque) {
    tw_job_t *j = sl_xcalloc(1, sizeof *j);
    j->t = t;
    j->done = done;
    j->opaque = opaque;
    b->n_partitions_pending += t->create_target - t->n_partitions;
    push(b, j);
}

void sl_topicwork_drop(sl_broker_t *b, sl_topic_t *t) {
    tw_job_t *j = sl_xcalloc(1, sizeof *j);
    j->t = t;
    j->deleting = true;
    push(b, j);
}

static tw_job_t *find(const sl_broker_t *b, sl_str_t name, bool deleting) {
    for (tw_job_t *j = b->topicwork ? b->topicwork->head : NULL; j; j = j->next) {
        if (j->deleting == deleting && sl_str_eqz(name, j->t->name)) {
            return j;
        }
    }
    return NULL;
}

bool sl_topicwork_creating(const sl_broker_t *b, sl_str_t name) {
    return find(b, name, false) != NULL;
}

void sl_topicwork_settle(sl_broker_t *b, sl_str_t name) {
    tw_job_t *j;
    while ((j = find(b, name, true))) {
        (void)sl_topic_drop_slice(b, j->t, INT32_MAX);
        unlink_job(b->topicwork, j);
    }
}

/* One slice of a creation; true when the job is over (reported and freed). */
static bool create_slice(sl_broker_t *b, tw_job_t *j, int32_t max) {
    sl_topic_t *t = j->t;
    int32_t from = t->n_partitions;
    int32_t upto = t->create_target - from > max ? from + max : t->create_target;
    char err[SL_ERRLEN] = "";
    int rc = sl_topic_create_step(b, t, upto, err);
    if (rc != KERR_NONE) { /* the topic is freed: nothing was recorded */
        b->n_partitions_pending -= t->create_target - from;
    } else {
        b->n_partitions_pending -= upto - from;
        if (upto < t->create_target) {
            return false;
        }
        rc = sl_topic_create_finish(b, t, err);
    }
    sl_topicwork_done_fn *done = j->done;
    void *opaque = j->opaque;
    unlink_job(b->topicwork, j);
    done(b, opaque, rc, err);
    return true;
}

bool sl_topicwork_pending(const sl_broker_t *b) {
    return b->topicwork && b->topicwork->head;
}

void sl_topicwork_run(sl_loop_t *loop, void *data) {
    sl_broker_t *b = data;
    tw_job_t *j = b->topicwork ? b->topicwork->head : NULL;
    if (!j) {
        return;
    }
    if (j->deleting) {
        if (sl_topic_drop_slice(b, j->t, SL_TOPICWORK_SLICE) == 0) {
            unlink_job(b->topicwork, j);
        }
    } else {
        (void)create_slice(b, j, SL_TOPICWORK_SLICE);
    }
    if (b->topicwork->head) {
        sl_loop_no_wait(loop); /* more next iteration, after its I/O */
    }
}

void sl_topicwork_stop(sl_broker_t *b) {
    if (!b->topicwork) {
        return;
    }
    while (b->topicwork->head) {
        tw_job_t *j = b->topicwork->head;
        if (j->deleting) {
            (void)sl_topic_drop_slice(b, j->t, INT32_MAX);
            unlink_job(b->topicwork, j);
            continue;
        }
        sl_topic_t *t = j->t;
        sl_log(SL_LOG_INFO, "broker", "topic=%s msg=\"creation abandoned at shutdown\"", t->name);
        b->n_partitions_pending -= t->create_target - t->n_partitions;
        sl_topic_create_abort(b, t);
        sl_topicwork_done_fn *done = j->done;
        void *opaque = j->opaque;
        unlink_job(b->topicwork, j);
        done(b, opaque, KERR_KAFKA_STORAGE_ERROR, "The broker is shutting down");
    }
    free(b->topicwork);
    b->topicwork = NULL;
}

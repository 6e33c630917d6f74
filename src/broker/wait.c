/* wait.c -- group commit and parked requests.
 *
 * Group commit: a produce with acks=all appends, marks its partitions dirty and parks with, per
 * partition, the end offset its data reaches. In the loop's before-sleep phase every dirty
 * partition without a sync in flight gets one fdatasync submitted to the fsync worker (fsyncq.c),
 * which covers every append made so far; the loop keeps reading and appending meanwhile. When a
 * sync completes, the partition's durable offset advances and every parked produce whose
 * partitions are all durable up to their offsets is answered. A failed sync makes the partition
 * FAILED: the produces waiting on it get KAFKA_STORAGE_ERROR. So a reply never leaves before its
 * data is on disk, and one fdatasync serves every producer that appended before it started.
 *
 * Long-poll fetch: a fetch that found fewer than min_bytes parks with a copy of its frame. When an
 * append happens, before-sleep re-runs parked fetches; a timer answers at max_wait_ms. */
#include "broker/wait.h"

#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "proto/kerr.h"
#include "storage/fsyncq.h"
#include "txn/txn_coord.h"

typedef struct pw_part {
    sl_partition_t *p;
    int64_t end_offset;
    size_t err_at, base_at;
} pw_part_t;

struct sl_produce_wait {
    sl_produce_wait_t *next;
    sl_req_t *req;
    pw_part_t *parts;
    size_t n, cap;
};

struct sl_fetch_wait {
    sl_fetch_wait_t *next;
    sl_req_t *req;
    uint8_t *frame; /* owned copy; req->rd points into it */
    size_t frame_len;
    size_t body_off;
    uint64_t timer;
};

sl_produce_wait_t *sl_produce_wait_new(sl_req_t *req) {
    sl_produce_wait_t *pw = sl_xcalloc(1, sizeof *pw);
    pw->req = req;
    return pw;
}

void sl_produce_wait_add(sl_produce_wait_t *pw, sl_partition_t *p, int64_t end_offset,
                         size_t err_at, size_t base_at) {
    if (pw->n == pw->cap) {
        pw->cap = pw->cap ? pw->cap * 2 : 4;
        pw->parts = sl_xrealloc(pw->parts, pw->cap * sizeof *pw->parts);
    }
    pw->parts[pw->n++] = (pw_part_t){p, end_offset, err_at, base_at};
}

void sl_produce_wait_cancel(sl_produce_wait_t *pw) {
    if (!pw) {
        return;
    }
    free(pw->parts);
    free(pw);
}

sl_err_t sl_produce_wait_park(sl_broker_t *b, sl_produce_wait_t *pw) {
    pw->next = b->produce_waits;
    b->produce_waits = pw;
    return SL_AGAIN;
}

void sl_broker_mark_dirty(sl_broker_t *b, sl_partition_t *p) {
    if (!p->dirty) {
        p->dirty = true;
        p->next_dirty = b->dirty;
        b->dirty = p;
    }
}

/* Submits one sync per dirty partition that has none running. */
static void submit_syncs(sl_broker_t *b) {
    sl_partition_t **pp = &b->dirty;
    while (*pp) {
        sl_partition_t *p = *pp;
        if (p->sync_inflight) {
            pp = &p->next_dirty; /* stays dirty: resubmitted when the running sync completes */
            continue;
        }
        *pp = p->next_dirty;
        p->dirty = false;
        p->next_dirty = NULL;
        int fd;
        int64_t target;
        if (sl_plog_sync_begin(p->plog, &fd, &target) == SL_OK && fd >= 0) {
            p->sync_inflight = true;
            p->sync_target = target;
            sl_fsyncq_submit(b->fsyncq, fd, p);
        }
    }
}

/* Answers every parked produce whose partitions are durable (or failed). */
static void answer_produces(sl_broker_t *b) {
    sl_produce_wait_t **pp = &b->produce_waits;
    while (*pp) {
        sl_produce_wait_t *pw = *pp;
        bool ready = true;
        for (size_t i = 0; i < pw->n && ready; i++) {
            sl_plog_t *plog = pw->parts[i].p->plog;
            ready = sl_plog_durable_offset(plog) >= pw->parts[i].end_offset || sl_plog_failed(plog);
        }
        if (!ready) {
            pp = &pw->next;
            continue;
        }
        *pp = pw->next;
        sl_req_t *req = pw->req;
        sl_buf_t *buf = req->wr.buf;
        for (size_t i = 0; i < pw->n; i++) {
            sl_plog_t *plog = pw->parts[i].p->plog;
            if (sl_plog_durable_offset(plog) < pw->parts[i].end_offset) {
                sl_store_be16(buf->data + pw->parts[i].err_at, KERR_KAFKA_STORAGE_ERROR);
                if (pw->parts[i].base_at != SIZE_MAX) {
                    sl_store_be64(buf->data + pw->parts[i].base_at, (uint64_t)-1);
                }
            }
        }
        sl_req_finish(req);
        free(req);
        sl_produce_wait_cancel(pw);
    }
}

void sl_broker_sync_done(void *token, int rc, uint64_t duration_us, void *opaque) {
    sl_broker_t *b = opaque;
    sl_partition_t *p = token;
    sl_histo_observe_us(b->m_fsync, duration_us);
    p->sync_inflight = false;
    if (sl_plog_sync_end(p->plog, p->sync_target, rc) != SL_OK) {
        sl_log(SL_LOG_ERROR, "storage", "topic=%s partition=%d op=sync err=\"%s\"", p->topic->name,
               p->index, sl_err_str(rc));
    }
}

void sl_broker_on_fsync(sl_loop_t *loop, int fd, void *data, unsigned events) {
    (void)loop;
    (void)fd;
    (void)events;
    sl_broker_t *b = data;
    sl_fsyncq_poll(b->fsyncq);
    answer_produces(b);
    sl_txn_coord_poll(b->txn, sl_wall_ms()); /* transactions whose markers are now durable */
}

void sl_broker_flush(sl_broker_t *b) {
    while (b->dirty) {
        submit_syncs(b);
        sl_fsyncq_drain(b->fsyncq);
    }
    sl_fsyncq_drain(b->fsyncq);
    answer_produces(b);
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
    if (b->dirty) {
        submit_syncs(b);
    }
    if (b->produce_waits) {
        answer_produces(b); /* those made durable by flush.messages or a roll */
    }
    if (b->data_arrived) {
        b->data_arrived = false;
        sl_fetch_recheck(b, false);
    }
    sl_conn_reap();
}

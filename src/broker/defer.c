/* defer.c -- Produce requests that wait for fresh partitions' files (issue 14).
 *
 * A partition's files are created at its first append. Created on the event loop, that cost a
 * few milliseconds per partition on a busy disk: a producer's first request into 1,000 fresh
 * partitions held every other client for seconds. Now, before a Produce request is handled, the
 * partitions it writes whose files do not exist yet are handed to the file-creation worker
 * (storage/mkfiles.h) and the request waits, as a copy of its frame; when the files exist it is
 * handled as if it had just arrived. Requests of a connection stay in order: once one of its
 * requests waits, every later one from that connection waits behind it (responses are in
 * request order anyway, and an idempotent producer's batches must be appended in order). A
 * connection with more than DEFER_MAX_PER_CONN waiting requests is closed; when the waiting
 * frames of all connections pass DEFER_MAX_BYTES, new requests create their files inline, as
 * before. Other requests (and appends of other kinds: transaction markers, replication) create
 * files inline. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/broker.h"
#include "common/log.h"
#include "common/util.h"
#include "security/acl.h"
#include "storage/mkfiles.h"

#define DEFER_MAX_PER_CONN 1024
#define DEFER_MAX_BYTES    (64u << 20)

typedef struct sl_deferred {
    struct sl_deferred *next;
    sl_conn_t *conn;
    uint8_t *frame;
    size_t len;
} deferred_t;

typedef struct mk_token {
    char *topic;
    int32_t index;
} mk_token_t;

bool sl_defer_blocked(const sl_broker_t *b, const sl_conn_t *conn) {
    for (const deferred_t *d = b->deferred; d; d = d->next) {
        if (d->conn == conn) {
            return true;
        }
    }
    return false;
}

bool sl_defer_push(sl_broker_t *b, sl_conn_t *conn, const uint8_t *frame, size_t len) {
    int n = 0;
    for (const deferred_t *d = b->deferred; d; d = d->next) {
        n += d->conn == conn;
    }
    if (n >= DEFER_MAX_PER_CONN) {
        return false;
    }
    deferred_t *d = sl_xcalloc(1, sizeof *d);
    d->conn = conn;
    d->frame = sl_xmalloc(len + 1);
    memcpy(d->frame, frame, len);
    d->len = len;
    if (b->deferred_tail) {
        b->deferred_tail->next = d;
    } else {
        b->deferred = d;
    }
    b->deferred_tail = d;
    b->deferred_bytes += len;
    return true;
}

static void unlink_at(sl_broker_t *b, deferred_t **pp, deferred_t *prev) {
    deferred_t *d = *pp;
    *pp = d->next;
    if (b->deferred_tail == d) {
        b->deferred_tail = prev;
    }
    b->deferred_bytes -= d->len;
    free(d->frame);
    free(d);
}

void sl_defer_drop_conn(sl_broker_t *b, const sl_conn_t *conn) {
    deferred_t **pp = &b->deferred, *prev = NULL;
    while (*pp) {
        if ((*pp)->conn == conn) {
            unlink_at(b, pp, prev);
        } else {
            prev = *pp;
            pp = &(*pp)->next;
        }
    }
}

/* Hands the partition's file creation to the worker unless a job for it is running. */
static void make_files(sl_broker_t *b, sl_partition_t *p, const char *path) {
    if (p->files_pending) {
        return;
    }
    SL_ASSERT(!p->files_failed);
    mk_token_t *tok = sl_xcalloc(1, sizeof *tok);
    tok->topic = sl_xstrdup(p->topic->name);
    tok->index = p->index;
    p->files_pending = true;
    sl_mkfiles_submit(b->mkfiles, path, tok);
}

bool sl_defer_produce_needs_files(sl_broker_t *b, const sl_req_t *req) {
    if (!b->mkfiles || b->deferred_bytes >= DEFER_MAX_BYTES) {
        return false;
    }
    sl_reader_t rd = req->rd; /* a copy: the handler reads the body again */
    bool flex = req->flex;
    (void)sl_rd_str(&rd, flex); /* transactional_id */
    (void)sl_rd_i16(&rd);       /* acks */
    (void)sl_rd_i32(&rd);       /* timeout_ms */
    int32_t n_topics = sl_rd_array_len(&rd, flex, 4);
    bool waits = false;
    for (int32_t ti = 0; ti < n_topics && !rd.err; ti++) {
        sl_str_t name = sl_rd_str(&rd, flex);
        int32_t n_parts = sl_rd_array_len(&rd, flex, 8);
        sl_topic_t *t = rd.err ? NULL : sl_topic_find(b, name);
        if (t && !sl_req_allowed(req, SL_RES_TOPIC, name, SL_ACL_WRITE)) {
            t = NULL; /* refused anyway: nothing to create */
        }
        for (int32_t pi = 0; pi < n_parts && !rd.err; pi++) {
            int32_t index = sl_rd_i32(&rd);
            (void)sl_rd_bytes(&rd, flex);
            sl_rd_tags(&rd, flex);
            sl_partition_t *p = t && index >= 0 && index < t->n_partitions ? t->parts[index] : NULL;
            /* After a failed creation the append creates them itself (and reports it). */
            const char *path =
                p && !p->files_failed && !rd.err ? sl_plog_unborn_path(p->plog) : NULL;
            if (path) {
                make_files(b, p, path);
                waits = true;
            }
        }
        sl_rd_tags(&rd, flex);
    }
    /* A malformed body is the handler's to answer (it closes the connection). */
    return waits && !rd.err;
}

static void files_done(const char *log_path, void *token, int err, void *opaque) {
    sl_broker_t *b = opaque;
    mk_token_t *tok = token;
    sl_topic_t *t = sl_topic_find(b, (sl_str_t){tok->topic, strlen(tok->topic)});
    sl_partition_t *p = t && tok->index < t->n_partitions ? t->parts[tok->index] : NULL;
    if (p) {
        p->files_pending = false;
        p->files_failed = err != 0;
        if (err) {
            /* The append creates them inline and reports the failure as it always did. */
            sl_log(SL_LOG_WARN, "storage", "file=%s op=create err=\"%s\"", log_path, strerror(err));
        } else {
            (void)sl_plog_files_made(p->plog, log_path);
        }
    }
    free(tok->topic);
    free(tok);
}

/* Handles, in order, the waiting requests whose connection has no earlier request still
 * waiting; one that needs more files waits again, in its place (and so does the rest of its
 * connection). */
static void retry(sl_broker_t *b) {
    sl_conn_t *blocked[64];
    size_t n_blocked = 0;
    deferred_t **pp = &b->deferred, *prev = NULL;
    while (*pp) {
        deferred_t *d = *pp;
        bool skip = n_blocked == sizeof blocked / sizeof blocked[0];
        for (size_t i = 0; i < n_blocked; i++) {
            skip = skip || blocked[i] == d->conn;
        }
        if (skip) {
            prev = d;
            pp = &d->next;
            continue;
        }
        /* Taken off the list first: handling it may close the connection (which drops the
         * connection's entries). */
        sl_conn_t *conn = d->conn;
        uint8_t *frame = d->frame;
        size_t len = d->len;
        d->frame = NULL;
        unlink_at(b, pp, prev);
        sl_err_t rc = sl_broker_handle_frame(b, conn, frame, len, true);
        if (rc == SL_AGAIN) {
            /* Still waiting (nothing ran): back in its place, the list unchanged meanwhile. */
            d = sl_xcalloc(1, sizeof *d);
            d->conn = conn;
            d->frame = frame;
            d->len = len;
            d->next = *pp;
            *pp = d;
            if (!d->next) {
                b->deferred_tail = d;
            }
            b->deferred_bytes += len;
            blocked[n_blocked++] = conn;
            prev = d;
            pp = &d->next;
            continue;
        }
        free(frame);
        if (rc != SL_OK) {
            sl_conn_close(conn, "malformed request");
        }
        /* The list may have changed under us: start over from the head (handled entries are
         * gone, blocked connections are skipped). */
        pp = &b->deferred;
        prev = NULL;
    }
}

static void on_mkfiles(sl_loop_t *loop, int fd, void *data, unsigned events) {
    (void)loop;
    (void)fd;
    (void)events;
    sl_broker_t *b = data;
    sl_mkfiles_poll(b->mkfiles);
    retry(b);
}

sl_err_t sl_defer_start(sl_broker_t *b) {
    b->mkfiles = sl_mkfiles_new(files_done, b);
    if (!b->mkfiles) {
        return SL_ERR_IO;
    }
    if (sl_loop_watch(b->loop, sl_mkfiles_fd(b->mkfiles), SL_EV_READ, on_mkfiles, b) != SL_OK) {
        sl_mkfiles_free(b->mkfiles);
        b->mkfiles = NULL;
        return SL_ERR_IO;
    }
    return SL_OK;
}

void sl_defer_stop(sl_broker_t *b) {
    while (b->deferred) {
        unlink_at(b, &b->deferred, NULL);
    }
    b->deferred_tail = NULL;
    if (b->mkfiles) {
        while (sl_mkfiles_outstanding(b->mkfiles) > 0) { /* their tokens are freed as reported */
            sl_mkfiles_poll(b->mkfiles);
            usleep(1000);
        }
        sl_loop_unwatch(b->loop, sl_mkfiles_fd(b->mkfiles));
        sl_mkfiles_free(b->mkfiles);
        b->mkfiles = NULL;
    }
}

/* test_reclog.c -- the coordinators' record file: replay, torn tails, and the positions that
 * let a sync worker make appends durable off the loop (want / begin / end), across compaction
 * and a failed fdatasync. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "storage/reclog.h"
#include "storage_util.h"

typedef struct seen {
    int n;
    char last[32];
} seen_t;

static sl_err_t count(void *opaque, const uint8_t *p, size_t len) {
    seen_t *s = opaque;
    s->n++;
    snprintf(s->last, sizeof s->last, "%.*s", (int)len, (const char *)p);
    return SL_OK;
}

static sl_err_t put(sl_reclog_t *rl, const char *text) {
    sl_buf_t buf = {0};
    sl_writer_t wr = sl_reclog_begin(&buf);
    sl_wr_raw(&wr, text, strlen(text));
    return sl_reclog_append(rl, &buf);
}

static sl_reclog_t *open_log(const char *dir, seen_t *s) {
    char path[4200], err[SL_ERRLEN];
    snprintf(path, sizeof path, "%s/x.log", dir);
    memset(s, 0, sizeof *s);
    return sl_reclog_open(path, count, s, err);
}

/* What the broker's worker does with a sync it was handed. */
static int worker_sync(int fd) {
    int rc = fdatasync(fd) == 0 ? SL_OK : SL_ERR_IO;
    close(fd);
    return rc;
}

TEST(replays_records_and_cuts_a_torn_tail) {
    char *dir = tmpdir();
    seen_t s;
    sl_reclog_t *rl = open_log(dir, &s);
    CHECK(rl != NULL);
    CHECK_EQ_INT(put(rl, "one"), SL_OK);
    CHECK_EQ_INT(put(rl, "two"), SL_OK);
    int64_t good = sl_reclog_size(rl);
    CHECK_EQ_INT(put(rl, "three"), SL_OK);
    sl_reclog_close(rl);
    char path[4200];
    snprintf(path, sizeof path, "%s/x.log", dir);
    CHECK_EQ_INT(truncate(path, good + 10), 0); /* the third record half written */
    rl = open_log(dir, &s);
    CHECK_EQ_INT(s.n, 2);
    CHECK(!strcmp(s.last, "two"));
    CHECK_EQ_INT(sl_reclog_size(rl), good);
    sl_reclog_close(rl);
    sl_os_rmtree(dir);
    free(dir);
}

static sl_err_t emit_none(sl_reclog_t *fresh, void *opaque) {
    (void)fresh;
    (void)opaque;
    return SL_OK; /* the owner's live state is empty */
}

TEST(positions_become_durable_only_through_a_sync) {
    char *dir = tmpdir();
    seen_t s;
    sl_reclog_t *rl = open_log(dir, &s);
    int fd;
    CHECK(!sl_reclog_sync_begin(rl, &fd)); /* nothing wanted */
    CHECK_EQ_INT(put(rl, "a"), SL_OK);
    CHECK(!sl_reclog_sync_begin(rl, &fd)); /* appended, but nobody waits for it */
    uint64_t pos = sl_reclog_want_sync(rl);
    CHECK(pos > 0 && !sl_reclog_durable(rl, pos));
    CHECK(sl_reclog_sync_begin(rl, &fd));
    CHECK(!sl_reclog_sync_begin(rl, &fd)); /* one at a time */
    CHECK_EQ_INT(put(rl, "b"), SL_OK);     /* appended while the sync runs */
    uint64_t pos2 = sl_reclog_want_sync(rl);
    sl_reclog_sync_end(rl, worker_sync(fd));
    CHECK(sl_reclog_durable(rl, pos));
    CHECK(!sl_reclog_durable(rl, pos2)); /* the running sync did not cover it */
    CHECK(sl_reclog_sync_begin(rl, &fd));
    sl_reclog_sync_end(rl, worker_sync(fd));
    CHECK(sl_reclog_durable(rl, pos2));
    /* Compaction rewrites the file; positions stay where they were and stay durable. */
    CHECK_EQ_INT(put(rl, "c"), SL_OK);
    uint64_t pos3 = sl_reclog_want_sync(rl);
    CHECK(sl_reclog_sync_begin(rl, &fd)); /* in flight across the compaction */
    CHECK_EQ_INT(sl_reclog_compact(rl, emit_none, NULL), SL_OK);
    CHECK(sl_reclog_durable(rl, pos3));
    sl_reclog_sync_end(rl, worker_sync(fd));
    CHECK(sl_reclog_durable(rl, pos3));
    CHECK_EQ_INT(put(rl, "d"), SL_OK);
    uint64_t pos4 = sl_reclog_want_sync(rl);
    CHECK(pos4 > pos3 && !sl_reclog_durable(rl, pos4));
    sl_reclog_close(rl); /* syncs */
    rl = open_log(dir, &s);
    CHECK_EQ_INT(s.n, 1); /* the compaction kept nothing (empty emit), then "d" */
    CHECK(!strcmp(s.last, "d"));
    sl_reclog_close(rl);
    sl_os_rmtree(dir);
    free(dir);
}

static int failing_fdatasync(int fd) {
    (void)fd;
    errno = EIO;
    return -1;
}

TEST(a_failed_sync_fails_the_waiters_and_every_later_append) {
    char *dir = tmpdir();
    seen_t s;
    sl_reclog_t *rl = open_log(dir, &s);
    int fd;
    CHECK_EQ_INT(put(rl, "a"), SL_OK);
    uint64_t pos = sl_reclog_want_sync(rl);
    CHECK(sl_reclog_sync_begin(rl, &fd));
    close(fd);
    sl_reclog_sync_end(rl, SL_ERR_IO); /* the worker's fdatasync failed */
    CHECK(sl_reclog_failed(rl));
    CHECK(!sl_reclog_durable(rl, pos));
    CHECK(put(rl, "b") != SL_OK);
    CHECK(sl_reclog_sync(rl) != SL_OK);
    CHECK(!sl_reclog_sync_begin(rl, &fd));
    sl_reclog_close(rl);
    /* The blocking sync fails the log the same way. */
    rl = open_log(dir, &s);
    CHECK_EQ_INT(put(rl, "c"), SL_OK);
    sl_os.fdatasync = failing_fdatasync;
    CHECK_EQ_INT(sl_reclog_sync(rl), SL_ERR_IO);
    sl_os_reset();
    CHECK(sl_reclog_failed(rl));
    CHECK(put(rl, "d") != SL_OK);
    sl_reclog_close(rl);
    sl_os_rmtree(dir);
    free(dir);
}

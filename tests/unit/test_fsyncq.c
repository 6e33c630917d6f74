/* test_fsyncq.c -- the fdatasync worker: completions are reported once each, in order, with the
 * error of a failed sync; drain waits for everything. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/os.h"
#include "harness.h"
#include "storage/fsyncq.h"

typedef struct seen {
    int n;
    intptr_t tokens[16];
    int rcs[16];
} seen_t;

static void on_done(void *token, int rc, uint64_t us, void *opaque) {
    (void)us;
    seen_t *s = opaque;
    if (s->n < 16) {
        s->tokens[s->n] = (intptr_t)token;
        s->rcs[s->n] = rc;
    }
    s->n++;
}

static int failing_fdatasync(int fd) {
    (void)fd;
    errno = ENOSPC;
    return -1;
}

static int tmpfile_fd(void) {
    char path[] = "/tmp/sluice-fsyncq-XXXXXX";
    int fd = mkstemp(path);
    unlink(path);
    return fd;
}

TEST(every_submission_is_reported_in_order) {
    seen_t s = {0};
    sl_fsyncq_t *q = sl_fsyncq_new(on_done, &s);
    CHECK(q != NULL);
    int fd = tmpfile_fd();
    CHECK(fd >= 0);
    for (intptr_t i = 1; i <= 10; i++) {
        CHECK(write(fd, "x", 1) == 1);
        sl_fsyncq_submit(q, dup(fd), (void *)i);
    }
    sl_fsyncq_drain(q);
    CHECK_EQ_INT(s.n, 10);
    for (int i = 0; i < 10; i++) {
        CHECK_EQ_INT(s.tokens[i], i + 1);
        CHECK_EQ_INT(s.rcs[i], SL_OK);
    }
    close(fd);
    sl_fsyncq_free(q);
}

TEST(failed_sync_reports_the_error) {
    seen_t s = {0};
    sl_fsyncq_t *q = sl_fsyncq_new(on_done, &s);
    sl_os.fdatasync = failing_fdatasync;
    sl_fsyncq_submit(q, tmpfile_fd(), (void *)7);
    sl_fsyncq_drain(q);
    sl_os_reset();
    CHECK_EQ_INT(s.n, 1);
    CHECK_EQ_INT(s.rcs[0], SL_ERR_NOSPACE);
    sl_fsyncq_free(q);
}

TEST(free_drains_pending_work) {
    seen_t s = {0};
    sl_fsyncq_t *q = sl_fsyncq_new(on_done, &s);
    for (int i = 0; i < 5; i++) {
        sl_fsyncq_submit(q, tmpfile_fd(), (void *)(intptr_t)i);
    }
    sl_fsyncq_free(q);
    CHECK_EQ_INT(s.n, 5);
}

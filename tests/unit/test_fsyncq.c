/* test_fsyncq.c -- the fdatasync worker: completions are reported once each, in order, with the
 * error of a failed sync; drain waits for everything. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
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
    sl_fsyncq_t *q = sl_fsyncq_new(on_done, &s, 1);
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
    sl_fsyncq_t *q = sl_fsyncq_new(on_done, &s, 1);
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
    sl_fsyncq_t *q = sl_fsyncq_new(on_done, &s, 1);
    for (int i = 0; i < 5; i++) {
        sl_fsyncq_submit(q, tmpfile_fd(), (void *)(intptr_t)i);
    }
    sl_fsyncq_free(q);
    CHECK_EQ_INT(s.n, 5);
}

/* A fake fdatasync that waits (up to 5 s) until another sync is running beside it, and records
 * how many ran at once: with several workers, syncs of different files overlap. */
static pthread_mutex_t fake_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t fake_cv = PTHREAD_COND_INITIALIZER;
static int fake_running, fake_max;

static int overlapping_fdatasync(int fd) {
    (void)fd;
    pthread_mutex_lock(&fake_mu);
    fake_running++;
    fake_max = fake_running > fake_max ? fake_running : fake_max;
    pthread_cond_broadcast(&fake_cv);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    while (fake_max < 2 && pthread_cond_timedwait(&fake_cv, &fake_mu, &until) == 0) {
    }
    fake_running--;
    pthread_mutex_unlock(&fake_mu);
    return 0;
}

TEST(several_workers_sync_in_parallel_and_report_each_sync_when_done) {
    seen_t s = {0};
    sl_fsyncq_t *q = sl_fsyncq_new(on_done, &s, 4);
    CHECK(q != NULL);
    fake_running = fake_max = 0;
    sl_os.fdatasync = overlapping_fdatasync;
    for (intptr_t i = 1; i <= 4; i++) {
        sl_fsyncq_submit(q, tmpfile_fd(), (void *)i);
    }
    sl_fsyncq_drain(q);
    sl_os_reset();
    CHECK(fake_max >= 2);
    CHECK_EQ_INT(s.n, 4);
    int sum = 0;
    for (int i = 0; i < 4; i++) {
        sum += (int)s.tokens[i];
        CHECK_EQ_INT(s.rcs[i], SL_OK);
    }
    CHECK_EQ_INT(sum, 1 + 2 + 3 + 4); /* each once, in whatever order they finished */
    sl_fsyncq_free(q);
}

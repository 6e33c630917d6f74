/* fsyncq.c -- the fdatasync workers (see fsyncq.h), on a worker pool (common/workpool.h): each
 * job syncs its fd and then its directories, and is reported as soon as it finishes, so a slow
 * sync does not hold back the others. Jobs run in parallel across workers: the caller keeps at
 * most one sync per file in flight (the broker does, per partition and per record file). */
#include "fsyncq.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/os.h"
#include "common/util.h"
#include "common/workpool.h"

typedef struct job {
    sl_work_t work; /* first: the pool's handle */
    sl_fsyncq_t *q;
    int fd;
    int dir_fds[2]; /* fsync'ed after fd when not -1 */
    void *token;
    int rc;
    uint64_t us;
} job_t;

struct sl_fsyncq {
    sl_workpool_t *pool;
    sl_fsync_done_fn *fn;
    void *opaque;
};

static void run(sl_work_t *w) {
    job_t *j = (job_t *)w;
    uint64_t t0 = sl_mono_ns();
    int r = sl_os.fdatasync(j->fd);
    const char *op = "fdatasync";
    for (int k = 0; k < 2 && r == 0; k++) {
        if (j->dir_fds[k] >= 0) {
            r = sl_os.fsync(j->dir_fds[k]);
            op = "fsync-dir";
        }
    }
    j->rc = r == 0 ? SL_OK : errno == ENOSPC ? SL_ERR_NOSPACE : SL_ERR_IO;
    if (r != 0) {
        sl_log(SL_LOG_ERROR, "storage", "op=%s fd=%d err=\"%s\"", op, j->fd, strerror(errno));
    }
    j->us = (sl_mono_ns() - t0) / 1000;
    sl_os.close(j->fd);
    for (int k = 0; k < 2; k++) {
        if (j->dir_fds[k] >= 0) {
            sl_os.close(j->dir_fds[k]);
        }
    }
}

/* Every job runs: the queue is drained before its pool is freed. */
static void done(sl_work_t *w, bool ran) {
    job_t *j = (job_t *)w;
    SL_ASSERT(ran);
    j->q->fn(j->token, j->rc, j->us, j->q->opaque);
    free(j);
}

sl_fsyncq_t *sl_fsyncq_new(sl_fsync_done_fn *done_fn, void *opaque, int workers) {
    sl_fsyncq_t *q = sl_xcalloc(1, sizeof *q);
    q->fn = done_fn;
    q->opaque = opaque;
    q->pool = sl_workpool_new("fsync", SL_MAX(1, SL_MIN(workers, SL_FSYNCQ_MAX_WORKERS)));
    if (!q->pool) {
        free(q);
        return NULL;
    }
    return q;
}

int sl_fsyncq_fd(const sl_fsyncq_t *q) {
    return sl_workpool_fd(q->pool);
}

void sl_fsyncq_submit(sl_fsyncq_t *q, int fd_owned, void *token) {
    sl_fsyncq_submit_dirs(q, fd_owned, (const int[2]){-1, -1}, token);
}

void sl_fsyncq_submit_dirs(sl_fsyncq_t *q, int fd_owned, const int dir_fds_owned[2], void *token) {
    job_t *j = sl_xcalloc(1, sizeof *j);
    j->work.run = run;
    j->work.done = done;
    j->q = q;
    j->fd = fd_owned;
    j->dir_fds[0] = dir_fds_owned[0];
    j->dir_fds[1] = dir_fds_owned[1];
    j->token = token;
    sl_workpool_submit(q->pool, &j->work);
}

void sl_fsyncq_poll(sl_fsyncq_t *q) {
    sl_workpool_poll(q->pool);
}

void sl_fsyncq_drain(sl_fsyncq_t *q) {
    sl_workpool_drain(q->pool);
}

void sl_fsyncq_free(sl_fsyncq_t *q) {
    if (!q) {
        return;
    }
    sl_workpool_drain(q->pool);
    sl_workpool_free(q->pool);
    free(q);
}

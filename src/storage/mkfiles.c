/* mkfiles.c -- the workers that create fresh segments' files (see mkfiles.h), on a worker pool
 * (common/workpool.h) of MKFILES_THREADS threads: creations in different directories proceed in
 * parallel on the file system, and each is reported as soon as it is done. */
#include "mkfiles.h"

#include <errno.h>
#include <stdbool.h>

#include "common/util.h"
#include "common/workpool.h"
#include "storage/segment.h"

typedef struct job {
    sl_work_t work; /* first: the pool's handle */
    sl_mkfiles_t *q;
    char *path;
    void *token;
    int err;
} job_t;

#define MKFILES_THREADS 4

struct sl_mkfiles {
    sl_workpool_t *pool;
    bool stopping; /* being freed: no more reports */
    sl_mkfiles_done_fn *fn;
    void *opaque;
};

static void run(sl_work_t *w) {
    job_t *j = (job_t *)w;
    j->err = sl_segment_make_files(j->path) == 0 ? 0 : errno;
}

/* A job not run (the queue freed before it started) is dropped without a report. */
static void done(sl_work_t *w, bool ran) {
    job_t *j = (job_t *)w;
    if (ran && !j->q->stopping) {
        j->q->fn(j->path, j->token, j->err, j->q->opaque);
    }
    free(j->path);
    free(j);
}

sl_mkfiles_t *sl_mkfiles_new(sl_mkfiles_done_fn *done_fn, void *opaque) {
    sl_mkfiles_t *q = sl_xcalloc(1, sizeof *q);
    q->fn = done_fn;
    q->opaque = opaque;
    q->pool = sl_workpool_new("mkfiles", MKFILES_THREADS);
    if (!q->pool) {
        free(q);
        return NULL;
    }
    return q;
}

int sl_mkfiles_fd(const sl_mkfiles_t *q) {
    return sl_workpool_fd(q->pool);
}

void sl_mkfiles_submit(sl_mkfiles_t *q, const char *log_path, void *token) {
    job_t *j = sl_xcalloc(1, sizeof *j);
    j->work.run = run;
    j->work.done = done;
    j->q = q;
    j->path = sl_xstrdup(log_path);
    j->token = token;
    sl_workpool_submit(q->pool, &j->work);
}

void sl_mkfiles_poll(sl_mkfiles_t *q) {
    sl_workpool_poll(q->pool);
}

int sl_mkfiles_outstanding(const sl_mkfiles_t *q) {
    return (int)sl_workpool_outstanding(q->pool);
}

void sl_mkfiles_free(sl_mkfiles_t *q) {
    if (!q) {
        return;
    }
    q->stopping = true; /* the jobs that finish are freed unreported */
    sl_workpool_free(q->pool);
    free(q);
}

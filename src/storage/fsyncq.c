/* fsyncq.c -- the fdatasync workers (see fsyncq.h).
 *
 * Two lists under one mutex: `queued` (submitted, not started) and `done` (finished, not yet
 * reported). Each worker takes one job at a time, syncs its fd, appends the result to done and
 * writes the eventfd, so a sync is reported as soon as it finishes and a slow one does not hold
 * back the others. Jobs run in parallel across workers: the caller keeps at most one sync per
 * file in flight (the broker does, per partition and per record file). */
#include "fsyncq.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/os.h"
#include "common/util.h"

typedef struct job {
    struct job *next;
    int fd;
    int dir_fds[2]; /* fsync'ed after fd when not -1 */
    void *token;
    int rc;
    uint64_t us;
} job_t;

struct sl_fsyncq {
    pthread_t threads[SL_FSYNCQ_MAX_WORKERS];
    int n_threads;
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* queued non-empty or stopping */
    pthread_cond_t idle_cv; /* a batch finished */
    job_t *queued, *queued_tail;
    job_t *done, *done_tail;
    size_t outstanding; /* submitted and not yet reported */
    bool stop;
    int efd;
    sl_fsync_done_fn *fn;
    void *opaque;
};

static void *worker(void *arg) {
    sl_fsyncq_t *q = arg;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (!q->queued && !q->stop) {
            pthread_cond_wait(&q->cv, &q->mu);
        }
        if (!q->queued && q->stop) {
            break;
        }
        job_t *j = q->queued;
        q->queued = j->next;
        if (!q->queued) {
            q->queued_tail = NULL;
        }
        j->next = NULL;
        pthread_mutex_unlock(&q->mu);
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
        pthread_mutex_lock(&q->mu);
        if (q->done_tail) {
            q->done_tail->next = j;
        } else {
            q->done = j;
        }
        q->done_tail = j;
        uint64_t one = 1;
        ssize_t w = write(q->efd, &one, sizeof one);
        (void)w;
        pthread_cond_broadcast(&q->idle_cv);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

sl_fsyncq_t *sl_fsyncq_new(sl_fsync_done_fn *done, void *opaque, int workers) {
    sl_fsyncq_t *q = sl_xcalloc(1, sizeof *q);
    q->fn = done;
    q->opaque = opaque;
    q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (q->efd < 0) {
        sl_log(SL_LOG_ERROR, "storage", "op=eventfd err=\"%s\"", strerror(errno));
        free(q);
        return NULL;
    }
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    pthread_cond_init(&q->idle_cv, NULL);
    workers = SL_MAX(1, SL_MIN(workers, SL_FSYNCQ_MAX_WORKERS));
    for (; q->n_threads < workers; q->n_threads++) {
        if (pthread_create(&q->threads[q->n_threads], NULL, worker, q) != 0) {
            sl_log(SL_LOG_ERROR, "storage", "op=pthread_create msg=\"no fsync worker\"");
            if (q->n_threads == 0) {
                close(q->efd);
                free(q);
                return NULL;
            }
            break; /* fewer workers, still correct */
        }
    }
    return q;
}

int sl_fsyncq_fd(const sl_fsyncq_t *q) {
    return q->efd;
}

void sl_fsyncq_submit(sl_fsyncq_t *q, int fd_owned, void *token) {
    sl_fsyncq_submit_dirs(q, fd_owned, (const int[2]){-1, -1}, token);
}

void sl_fsyncq_submit_dirs(sl_fsyncq_t *q, int fd_owned, const int dir_fds_owned[2], void *token) {
    job_t *j = sl_xcalloc(1, sizeof *j);
    j->fd = fd_owned;
    j->dir_fds[0] = dir_fds_owned[0];
    j->dir_fds[1] = dir_fds_owned[1];
    j->token = token;
    pthread_mutex_lock(&q->mu);
    if (q->queued_tail) {
        q->queued_tail->next = j;
    } else {
        q->queued = j;
    }
    q->queued_tail = j;
    q->outstanding++;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

void sl_fsyncq_poll(sl_fsyncq_t *q) {
    uint64_t v;
    ssize_t r = read(q->efd, &v, sizeof v);
    (void)r;
    pthread_mutex_lock(&q->mu);
    job_t *list = q->done;
    q->done = q->done_tail = NULL;
    pthread_mutex_unlock(&q->mu);
    while (list) {
        job_t *next = list->next;
        q->outstanding--;
        q->fn(list->token, list->rc, list->us, q->opaque);
        free(list);
        list = next;
    }
}

void sl_fsyncq_drain(sl_fsyncq_t *q) {
    while (q->outstanding > 0) {
        pthread_mutex_lock(&q->mu);
        while (!q->done) {
            pthread_cond_wait(&q->idle_cv, &q->mu);
        }
        pthread_mutex_unlock(&q->mu);
        sl_fsyncq_poll(q);
    }
}

void sl_fsyncq_free(sl_fsyncq_t *q) {
    if (!q) {
        return;
    }
    sl_fsyncq_drain(q);
    pthread_mutex_lock(&q->mu);
    q->stop = true;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    for (int i = 0; i < q->n_threads; i++) {
        pthread_join(q->threads[i], NULL);
    }
    close(q->efd);
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
    pthread_cond_destroy(&q->idle_cv);
    free(q);
}

/* workpool.c -- worker threads with completions for the loop (see workpool.h).
 *
 * Two lists under one mutex: `queued` (submitted, not started) and `done` (finished, not yet
 * reported). Each worker takes one job at a time, runs it unlocked, appends it to done, writes
 * the eventfd and wakes anyone waiting for a job to finish. */
#include "workpool.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

struct sl_workpool {
    const char *what;
    pthread_t threads[SL_WORKPOOL_MAX_THREADS];
    int n_threads;
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* queued non-empty, or stopping */
    pthread_cond_t done_cv; /* a job finished */
    sl_work_t *queued, *queued_tail;
    sl_work_t *done, *done_tail;
    size_t outstanding; /* submitted and not yet reported (the loop thread's) */
    bool stop;
    int efd;
};

static void push(sl_work_t **head, sl_work_t **tail, sl_work_t *w) {
    w->next = NULL;
    if (*tail) {
        (*tail)->next = w;
    } else {
        *head = w;
    }
    *tail = w;
}

static void *worker(void *arg) {
    sl_workpool_t *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->queued && !p->stop) {
            pthread_cond_wait(&p->cv, &p->mu);
        }
        if (p->stop) {
            break;
        }
        sl_work_t *w = p->queued;
        p->queued = w->next;
        if (!p->queued) {
            p->queued_tail = NULL;
        }
        w->started = true;
        pthread_mutex_unlock(&p->mu);
        w->run(w);
        pthread_mutex_lock(&p->mu);
        w->finished = true;
        push(&p->done, &p->done_tail, w);
        uint64_t one = 1;
        ssize_t r = write(p->efd, &one, sizeof one);
        (void)r;
        pthread_cond_broadcast(&p->done_cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

sl_workpool_t *sl_workpool_new(const char *what, int threads) {
    sl_workpool_t *p = sl_xcalloc(1, sizeof *p);
    p->what = what;
    p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->efd < 0) {
        sl_log(SL_LOG_ERROR, "storage", "op=eventfd pool=%s err=\"%s\"", what, strerror(errno));
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    threads = SL_MAX(1, SL_MIN(threads, SL_WORKPOOL_MAX_THREADS));
    while (p->n_threads < threads &&
           pthread_create(&p->threads[p->n_threads], NULL, worker, p) == 0) {
        p->n_threads++;
    }
    if (p->n_threads == 0) {
        sl_log(SL_LOG_ERROR, "storage", "op=pthread_create pool=%s msg=\"no worker\"", what);
        close(p->efd);
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cv);
        pthread_cond_destroy(&p->done_cv);
        free(p);
        return NULL;
    }
    return p; /* fewer workers than asked is still correct */
}

int sl_workpool_fd(const sl_workpool_t *p) {
    return p->efd;
}

void sl_workpool_submit(sl_workpool_t *p, sl_work_t *w) {
    w->started = w->finished = false;
    pthread_mutex_lock(&p->mu);
    push(&p->queued, &p->queued_tail, w);
    p->outstanding++;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* Reports every job of `list` with `ran`. */
static void report(sl_workpool_t *p, sl_work_t *list, bool ran) {
    while (list) {
        sl_work_t *next = list->next;
        p->outstanding--;
        list->done(list, ran);
        list = next;
    }
}

void sl_workpool_poll(sl_workpool_t *p) {
    uint64_t v;
    ssize_t r = read(p->efd, &v, sizeof v);
    (void)r;
    pthread_mutex_lock(&p->mu);
    sl_work_t *list = p->done;
    p->done = p->done_tail = NULL;
    pthread_mutex_unlock(&p->mu);
    report(p, list, true);
}

bool sl_workpool_cancel(sl_workpool_t *p, sl_work_t *w) {
    bool taken = false;
    pthread_mutex_lock(&p->mu);
    if (!w->started) {
        sl_work_t *prev = NULL;
        for (sl_work_t *q = p->queued; q; prev = q, q = q->next) {
            if (q == w) {
                if (prev) {
                    prev->next = w->next;
                } else {
                    p->queued = w->next;
                }
                if (p->queued_tail == w) {
                    p->queued_tail = prev;
                }
                w->next = NULL;
                taken = true;
                break;
            }
        }
    }
    pthread_mutex_unlock(&p->mu);
    if (taken) {
        p->outstanding--;
    }
    return taken;
}

void sl_workpool_wait(sl_workpool_t *p, const sl_work_t *w) {
    pthread_mutex_lock(&p->mu);
    while (!w->finished) {
        pthread_cond_wait(&p->done_cv, &p->mu);
    }
    pthread_mutex_unlock(&p->mu);
}

void sl_workpool_drain(sl_workpool_t *p) {
    while (p->outstanding > 0) {
        pthread_mutex_lock(&p->mu);
        while (!p->done) {
            pthread_cond_wait(&p->done_cv, &p->mu);
        }
        pthread_mutex_unlock(&p->mu);
        sl_workpool_poll(p);
    }
}

size_t sl_workpool_outstanding(const sl_workpool_t *p) {
    return p->outstanding;
}

void sl_workpool_free(sl_workpool_t *p) {
    if (!p) {
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n_threads; i++) {
        pthread_join(p->threads[i], NULL);
    }
    report(p, p->done, true);
    report(p, p->queued, false);
    close(p->efd);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    pthread_cond_destroy(&p->done_cv);
    free(p);
}

/* mkfiles.c -- the worker that creates fresh segments' files (see mkfiles.h).
 *
 * Two lists under one mutex, as in fsyncq.c: `queued` (not started) and `done` (not yet
 * reported); each of MKFILES_THREADS workers takes one job at a time and writes the eventfd
 * after each (creations in different directories proceed in parallel on the file system). */
#include "mkfiles.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "storage/segment.h"

typedef struct job {
    struct job *next;
    char *path;
    void *token;
    int err;
} job_t;

#define MKFILES_THREADS 4

struct sl_mkfiles {
    pthread_t threads[MKFILES_THREADS];
    int n_threads;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job_t *queued, *queued_tail;
    job_t *done, *done_tail;
    int outstanding;
    bool stop;
    int efd;
    sl_mkfiles_done_fn *fn;
    void *opaque;
};

static void push(job_t **head, job_t **tail, job_t *j) {
    j->next = NULL;
    if (*tail) {
        (*tail)->next = j;
    } else {
        *head = j;
    }
    *tail = j;
}

static void *worker(void *arg) {
    sl_mkfiles_t *q = arg;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (!q->queued && !q->stop) {
            pthread_cond_wait(&q->cv, &q->mu);
        }
        if (q->stop) {
            break;
        }
        job_t *j = q->queued;
        q->queued = j->next;
        if (!q->queued) {
            q->queued_tail = NULL;
        }
        pthread_mutex_unlock(&q->mu);
        j->err = sl_segment_make_files(j->path) == 0 ? 0 : errno;
        pthread_mutex_lock(&q->mu);
        push(&q->done, &q->done_tail, j);
        uint64_t one = 1;
        ssize_t w = write(q->efd, &one, sizeof one);
        (void)w;
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

sl_mkfiles_t *sl_mkfiles_new(sl_mkfiles_done_fn *done, void *opaque) {
    sl_mkfiles_t *q = sl_xcalloc(1, sizeof *q);
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
    while (q->n_threads < MKFILES_THREADS &&
           pthread_create(&q->threads[q->n_threads], NULL, worker, q) == 0) {
        q->n_threads++;
    }
    if (q->n_threads == 0) {
        sl_log(SL_LOG_ERROR, "storage", "op=pthread_create msg=\"no file-creation worker\"");
        close(q->efd);
        pthread_mutex_destroy(&q->mu);
        pthread_cond_destroy(&q->cv);
        free(q);
        return NULL;
    }
    return q;
}

int sl_mkfiles_fd(const sl_mkfiles_t *q) {
    return q->efd;
}

void sl_mkfiles_submit(sl_mkfiles_t *q, const char *log_path, void *token) {
    job_t *j = sl_xcalloc(1, sizeof *j);
    j->path = sl_xstrdup(log_path);
    j->token = token;
    pthread_mutex_lock(&q->mu);
    push(&q->queued, &q->queued_tail, j);
    q->outstanding++;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

void sl_mkfiles_poll(sl_mkfiles_t *q) {
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
        q->fn(list->path, list->token, list->err, q->opaque);
        free(list->path);
        free(list);
        list = next;
    }
}

int sl_mkfiles_outstanding(const sl_mkfiles_t *q) {
    return q->outstanding;
}

static void free_list(job_t *j) {
    while (j) {
        job_t *next = j->next;
        free(j->path);
        free(j);
        j = next;
    }
}

void sl_mkfiles_free(sl_mkfiles_t *q) {
    if (!q) {
        return;
    }
    pthread_mutex_lock(&q->mu);
    q->stop = true;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    for (int i = 0; i < q->n_threads; i++) {
        pthread_join(q->threads[i], NULL);
    }
    free_list(q->queued);
    free_list(q->done);
    close(q->efd);
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
    free(q);
}

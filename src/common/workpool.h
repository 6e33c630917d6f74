/* workpool.h -- a few worker threads running jobs off the event loop, with completions reported
 * back on the loop thread (fsync, file creation, descriptor closing: the blocking file-system
 * calls the loop must not make itself).
 *
 * A job is a struct the caller embeds an sl_work_t in (first member or container_of): `run` is
 * called on a worker, `done` later on the loop thread from sl_workpool_poll (with ran = true), or
 * from sl_workpool_free for a job that never started (ran = false); `done` owns the job from then
 * on. Jobs start in submission order; with several workers they finish in any order, and each is
 * reported as soon as it finishes. The eventfd becomes readable whenever a job finished.
 * Thread: everything here from the loop (owner) thread only, except `run`, on a worker. */
#ifndef SL_WORKPOOL_H
#define SL_WORKPOOL_H

#include <stdbool.h>
#include <stddef.h>

typedef struct sl_work sl_work_t;
typedef void sl_work_run_fn(sl_work_t *w);
typedef void sl_work_done_fn(sl_work_t *w, bool ran);

struct sl_work {
    sl_work_run_fn *run;   /* set by the submitter */
    sl_work_done_fn *done; /* set by the submitter */
    sl_work_t *next;       /* the pool's */
    bool started;          /* the pool's (under its mutex) */
    bool finished;         /* the pool's (under its mutex) */
};

typedef struct sl_workpool sl_workpool_t;

#define SL_WORKPOOL_MAX_THREADS 16
/* Starts `threads` workers (clamped to 1..SL_WORKPOOL_MAX_THREADS; fewer if some cannot be
 * created). `what` names the pool in log lines (a string literal). NULL when no worker could be
 * started or no eventfd made (logged). */
sl_workpool_t *sl_workpool_new(const char *what, int threads);
/* The eventfd to watch for readability; call sl_workpool_poll when it is readable. */
int sl_workpool_fd(const sl_workpool_t *p);
/* Queues `w` (its run and done set); the pool holds it until its done is called. */
void sl_workpool_submit(sl_workpool_t *p, sl_work_t *w);
/* Calls done(w, true) for every finished job, in finishing order. */
void sl_workpool_poll(sl_workpool_t *p);
/* Takes back `w` if no worker has started it: true, and it is the caller's again (its done is
 * never called). False when it has started (or finished): it will be reported as usual. */
bool sl_workpool_cancel(sl_workpool_t *p, sl_work_t *w);
/* Blocks until `w` (submitted, not yet reported) has finished running; reports nothing. */
void sl_workpool_wait(sl_workpool_t *p, const sl_work_t *w);
/* Blocks until every submitted job has finished, and reports them all. */
void sl_workpool_drain(sl_workpool_t *p);
/* Jobs submitted and not yet reported. */
size_t sl_workpool_outstanding(const sl_workpool_t *p);
/* Waits for the running jobs, stops the workers, reports the finished jobs (ran = true) and the
 * queued ones (ran = false), and frees. Drain first to run everything. NULL is a no-op. */
void sl_workpool_free(sl_workpool_t *p);

#endif

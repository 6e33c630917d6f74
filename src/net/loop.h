/* loop.h -- the event loop of one shard: epoll readiness, timers from a heap, before-sleep hooks.
 *
 * One iteration: epoll_wait (timeout = nearest timer), dispatch I/O callbacks, run expired timers,
 * then the before-sleep hooks (group commit, flushing sockets, reaping closed connections).
 * Thread: a loop and everything registered with it belong to the one thread that runs it. */
#ifndef SL_LOOP_H
#define SL_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define SL_EV_READ  1u
#define SL_EV_WRITE 2u
#define SL_EV_ERROR 4u /* EPOLLERR or EPOLLHUP; always reported */

typedef struct sl_loop sl_loop_t;
typedef void sl_io_fn(sl_loop_t *loop, int fd, void *data, unsigned events);
typedef void sl_timer_fn(sl_loop_t *loop, uint64_t id, void *data);
typedef void sl_idle_fn(sl_loop_t *loop, void *data);

/* Creates a loop; NULL if epoll could not be created (errno is logged). */
sl_loop_t *sl_loop_new(void);
void sl_loop_free(sl_loop_t *loop);

/* Watches `fd` for `events` (SL_EV_READ|SL_EV_WRITE), replacing any earlier watch of it. The
 * callback receives `data`. Level-triggered. */
SL_MUST_USE sl_err_t sl_loop_watch(sl_loop_t *loop, int fd, unsigned events, sl_io_fn *fn,
                                   void *data);
/* Changes the events of an already-watched fd. */
SL_MUST_USE sl_err_t sl_loop_modify(sl_loop_t *loop, int fd, unsigned events);
/* Stops watching; events for `fd` already fetched in this iteration are dropped. */
void sl_loop_unwatch(sl_loop_t *loop, int fd);

/* One-shot timer after `after_ms`; returns an id (never 0) for sl_loop_cancel. */
uint64_t sl_loop_timer(sl_loop_t *loop, uint64_t after_ms, sl_timer_fn *fn, void *data);
/* Cancels a pending timer in O(log n); unknown, fired or already cancelled ids are ignored. */
void sl_loop_cancel(sl_loop_t *loop, uint64_t id);
/* Number of pending timers. */
size_t sl_loop_timer_count(const sl_loop_t *loop);
/* Refreshes sl_loop_now_ms and fires every timer due by the monotonic clock, as the timer phase
 * of one iteration does (timers a callback adds that are already due fire too). For code that
 * drives a loop's owner without sl_loop_run: the fuzz harnesses (fuzz/, with a simulated clock)
 * and tests. Never call it from inside sl_loop_run. */
void sl_loop_run_due(sl_loop_t *loop);

/* Adds a hook run once per iteration after I/O and timers, in registration order. */
void sl_loop_before_sleep(sl_loop_t *loop, sl_idle_fn *fn, void *data);

/* Runs until sl_loop_stop. Returns SL_OK, or SL_ERR_IO if epoll_wait failed. */
SL_MUST_USE sl_err_t sl_loop_run(sl_loop_t *loop);
/* Asks the loop to return after the current iteration. Async-signal-safe when called through
 * sl_loop_stop_from_signal. */
void sl_loop_stop(sl_loop_t *loop);
/* Wakes the loop from another thread or a signal handler (eventfd write) and asks it to stop. */
void sl_loop_stop_from_signal(sl_loop_t *loop);
/* Makes the next epoll_wait return at once: a before-sleep hook left work for the next iteration
 * (a connection that used its share of this one, conn.c). Cleared at every iteration. */
void sl_loop_no_wait(sl_loop_t *loop);
/* Number of the current iteration (starts at 1, grows by one per epoll_wait); per-iteration work
 * budgets compare it to know when a new share begins. */
uint64_t sl_loop_iteration(const sl_loop_t *loop);
/* Milliseconds of the monotonic clock at the start of the current iteration (cached). */
uint64_t sl_loop_now_ms(const sl_loop_t *loop);
/* Whether sl_loop_stop has been asked. */
bool sl_loop_stopping(const sl_loop_t *loop);

#endif

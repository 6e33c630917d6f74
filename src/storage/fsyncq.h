/* fsyncq.h -- group commit off the event loop: worker threads run fdatasync for partitions
 * while the loop keeps reading and appending; completions come back through an eventfd, each as
 * soon as its sync finishes (not in submission order when there are several workers).
 *
 * The loop submits (fd, token) pairs; the fd is a dup owned by the queue (closed after the sync),
 * so a segment rolled or deleted meanwhile is still synced safely. Thread: submit, poll and
 * drain from the loop thread only; the worker touches nothing but its own queue. */
#ifndef SL_FSYNCQ_H
#define SL_FSYNCQ_H

#include <stdint.h>

#include "common/err.h"

typedef struct sl_fsyncq sl_fsyncq_t;
/* Called on the loop thread for each finished sync: rc is SL_OK, SL_ERR_IO or SL_ERR_NOSPACE. */
typedef void sl_fsync_done_fn(void *token, int rc, uint64_t duration_us, void *opaque);

#define SL_FSYNCQ_MAX_WORKERS 16
/* Starts `workers` threads (1..SL_FSYNCQ_MAX_WORKERS): syncs of different files run in parallel,
 * which a disk with a deep queue (NVMe, network volumes) serves faster than one after another.
 * NULL on failure (errno logged). */
sl_fsyncq_t *sl_fsyncq_new(sl_fsync_done_fn *done, void *opaque, int workers);
/* The eventfd to watch for readability; call sl_fsyncq_poll when it is readable. */
int sl_fsyncq_fd(const sl_fsyncq_t *q);
/* Queues an fdatasync of `fd_owned` (taken) reporting `token` when done. */
void sl_fsyncq_submit(sl_fsyncq_t *q, int fd_owned, void *token);
/* The same, and after the fdatasync an fsync of each of `dir_fds_owned` that is not -1 (taken:
 * directories whose new entries the sync must make durable); rc reports the first failure. */
void sl_fsyncq_submit_dirs(sl_fsyncq_t *q, int fd_owned, const int dir_fds_owned[2], void *token);
/* Runs the done callback for every finished sync. */
void sl_fsyncq_poll(sl_fsyncq_t *q);
/* Blocks until every submitted sync has finished and been reported. */
void sl_fsyncq_drain(sl_fsyncq_t *q);
/* Drains, stops the worker and frees. NULL is a no-op. */
void sl_fsyncq_free(sl_fsyncq_t *q);

#endif

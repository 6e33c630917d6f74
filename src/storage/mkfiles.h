/* mkfiles.h -- creating fresh segments' files off the event loop (issue 14).
 *
 * A partition's files are made at its first append (lazy files); on a busy disk creating a
 * directory and three files takes milliseconds (2.6 ms measured under load), so the first writes
 * into thousands of fresh partitions held the loop for seconds. The broker hands those
 * creations to this worker and answers the request once the files exist. A job only creates
 * what is missing (an existing file is kept as it is) and syncs nothing: the entries are synced
 * with the segment's first sync (segment.h, dir_unsynced).
 * Thread: submit, poll and free from the loop thread; the workers touch only their queue. */
#ifndef SL_MKFILES_H
#define SL_MKFILES_H

typedef struct sl_mkfiles sl_mkfiles_t;
/* Called on the loop thread for each finished job: err is 0 or an errno. */
typedef void sl_mkfiles_done_fn(const char *log_path, void *token, int err, void *opaque);

/* Starts the workers (four threads); NULL on failure (logged). */
sl_mkfiles_t *sl_mkfiles_new(sl_mkfiles_done_fn *done, void *opaque);
/* The eventfd to watch for readability; call sl_mkfiles_poll when it is readable. */
int sl_mkfiles_fd(const sl_mkfiles_t *q);
/* Queues the creation of the directory and files of the segment whose .log is `log_path`
 * (copied), reporting `token` when done. */
void sl_mkfiles_submit(sl_mkfiles_t *q, const char *log_path, void *token);
/* Runs the done callback for every finished job. */
void sl_mkfiles_poll(sl_mkfiles_t *q);
/* Jobs submitted and not yet reported. */
int sl_mkfiles_outstanding(const sl_mkfiles_t *q);
/* Waits for the running jobs, reports none of them, stops the worker and frees. NULL: no-op. */
void sl_mkfiles_free(sl_mkfiles_t *q);

#endif

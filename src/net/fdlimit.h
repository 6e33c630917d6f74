/* fdlimit.h -- the per-process open-file limit (RLIMIT_NOFILE), which bounds how many sockets a
 * broker or a benchmark client can hold: one descriptor per connection. */
#ifndef SL_FDLIMIT_H
#define SL_FDLIMIT_H

/* Raises the soft RLIMIT_NOFILE to the hard limit, or to `want` when that is higher and the
 * process may raise the hard limit too (CAP_SYS_RESOURCE; capped by fs.nr_open). Never lowers it.
 * Returns the soft limit now in force; `hard_out` (may be NULL) gets the hard limit.
 * Thread: any (the limit is process-wide). */
long sl_fdlimit_raise(long want, long *hard_out);

#endif

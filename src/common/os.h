/* os.h -- the seam between sluice and the file-system calls that storage makes.
 *
 * Every storage system call goes through `sl_os`, a table of function pointers, as SQLite's
 * os_unix.c does, so tests can replace an entry to inject EIO or ENOSPC at the N-th call.
 * Production code never changes the table. */
#ifndef SL_OS_H
#define SL_OS_H

#include <sys/types.h>

typedef struct sl_os_calls {
    int (*open)(const char *path, int flags, mode_t mode);
    int (*close)(int fd);
    ssize_t (*pwrite)(int fd, const void *buf, size_t n, off_t off);
    ssize_t (*pread)(int fd, void *buf, size_t n, off_t off);
    ssize_t (*write)(int fd, const void *buf, size_t n);
    int (*fdatasync)(int fd);
    int (*fsync)(int fd);
    int (*ftruncate)(int fd, off_t len);
    int (*rename)(const char *from, const char *to);
    int (*unlink)(const char *path);
    int (*dup)(int fd); /* close-on-exec, like every descriptor opened here */
} sl_os_calls_t;

extern sl_os_calls_t sl_os;

/* Restores the real system calls (tests call this after injecting faults). */
void sl_os_reset(void);

/* Writes all `n` bytes at `off`, retrying short writes and EINTR. Returns 0, or -1 with errno. */
int sl_os_pwrite_all(int fd, const void *buf, size_t n, off_t off);
/* Reads up to `n` bytes at `off`, retrying EINTR and short reads until EOF. Returns bytes read or
 * -1. */
ssize_t sl_os_pread_all(int fd, void *buf, size_t n, off_t off);
/* Writes `n` bytes to `path` through a temp file, fsync and rename (atomic replace). 0 or -1. */
int sl_os_write_file_atomic(const char *path, const void *buf, size_t n);
/* fsyncs the directory holding `path` so a create/rename/unlink in it is durable. 0 or -1. */
int sl_os_fsync_dir(const char *dir);
/* The first integer in a small text file such as /proc/sys/net/core/somaxconn, or `dflt` when the
 * file cannot be read or holds no integer. */
long sl_os_read_long(const char *path, long dflt);
/* fsyncs the directory that holds `path` (its entry there becomes durable). 0 or -1. */
int sl_os_fsync_parent(const char *path);
/* Closes fd on a background thread (the last close of an unlinked file waits for its pages under
 * writeback); inline when the queue is full. sl_os_close_drain waits until every queued close
 * is done (a close that is running may still be finishing). */
void sl_os_close_later(int fd);
void sl_os_close_drain(void);
/* mkdir -p; each directory it creates is made durable in its parent. 0 or -1. */
int sl_os_mkdirs(const char *path);
/* rm -rf of a directory tree. 0 or -1. */
int sl_os_rmtree(const char *path);

#endif

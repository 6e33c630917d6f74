/* os.c -- the replaceable system-call table and small file helpers built on it. */
#include "os.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int real_open(const char *path, int flags, mode_t mode) {
    return open(path, flags | O_CLOEXEC, mode);
}

static int real_dup(int fd) {
    return fcntl(fd, F_DUPFD_CLOEXEC, 0);
}

static const sl_os_calls_t real_calls = {
    real_open, close, pwrite, pread, write, fdatasync, fsync, ftruncate, rename, unlink, real_dup,
};

sl_os_calls_t sl_os = {
    real_open, close, pwrite, pread, write, fdatasync, fsync, ftruncate, rename, unlink, real_dup,
};

void sl_os_reset(void) {
    sl_os = real_calls;
}

int sl_os_pwrite_all(int fd, const void *buf, size_t n, off_t off) {
    const char *p = buf;
    while (n > 0) {
        ssize_t w = sl_os.pwrite(fd, p, n, off);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        if (w == 0) {
            errno = EIO;
            return -1;
        }
        p += w;
        n -= (size_t)w;
        off += w;
    }
    return 0;
}

ssize_t sl_os_pread_all(int fd, void *buf, size_t n, off_t off) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = sl_os.pread(fd, (char *)buf + got, n - got, off + (off_t)got);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        if (r == 0) {
            break;
        }
        got += (size_t)r;
    }
    return (ssize_t)got;
}

int sl_os_fsync_dir(const char *dir) {
    int fd = sl_os.open(dir, O_RDONLY | O_DIRECTORY, 0);
    if (fd < 0) {
        return -1;
    }
    int rc = sl_os.fsync(fd);
    int saved = errno;
    sl_os.close(fd);
    errno = saved;
    return rc;
}

int sl_os_write_file_atomic(const char *path, const void *buf, size_t n) {
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = sl_os.open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        return -1;
    }
    if (sl_os_pwrite_all(fd, buf, n, 0) < 0 || sl_os.fsync(fd) < 0) {
        int saved = errno;
        sl_os.close(fd);
        sl_os.unlink(tmp);
        errno = saved;
        return -1;
    }
    sl_os.close(fd);
    if (sl_os.rename(tmp, path) < 0) {
        return -1;
    }
    return sl_os_fsync_parent(path);
}

int sl_os_fsync_parent(const char *path) {
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) {
        return sl_os_fsync_dir(".");
    }
    *slash = '\0';
    return sl_os_fsync_dir(dir[0] ? dir : "/");
}

/* Creates one directory; a new one is made durable in its parent (POSIX wants the parent's fsync
 * for a new entry; ext4's journal happens to keep it, other file systems need not). */
static int mkdir_durable(const char *path) {
    if (mkdir(path, 0755) < 0) {
        return errno == EEXIST ? 0 : -1;
    }
    return sl_os_fsync_parent(path);
}

int sl_os_mkdirs(const char *path) {
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir_durable(tmp) < 0) {
                return -1;
            }
            *p = '/';
        }
    }
    return mkdir_durable(tmp);
}

int sl_os_rmtree(const char *path) {
    DIR *d = opendir(path);
    if (!d) {
        return errno == ENOENT ? 0 : -1;
    }
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) {
            continue;
        }
        char sub[PATH_MAX];
        snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
        struct stat st;
        if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode)) {
            rc |= sl_os_rmtree(sub);
        } else if (sl_os.unlink(sub) < 0) {
            rc = -1;
        }
    }
    closedir(d);
    if (rmdir(path) < 0) {
        rc = -1;
    }
    return rc;
}

long sl_os_read_long(const char *path, long dflt) {
    long v = dflt;
    FILE *f = fopen(path, "r");
    if (f) {
        if (fscanf(f, "%ld", &v) != 1) {
            v = dflt;
        }
        fclose(f);
    }
    return v;
}

/* ---- closing off the caller's thread ----
 * The last close of an unlinked file frees its page cache, and pages still under writeback make
 * it wait for the disk: 25-40 ms per 64 MiB segment under a write flood, on the event loop. One
 * background thread takes those closes; a full queue falls back to closing inline. */
#define CLOSER_MAX 1024

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int fds[CLOSER_MAX];
    size_t head, n;
    bool started;
} closer = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}, 0, 0, false};

static void *closer_main(void *arg) {
    (void)arg;
    pthread_mutex_lock(&closer.mu);
    for (;;) {
        while (closer.n == 0) {
            pthread_cond_wait(&closer.cv, &closer.mu);
        }
        int fd = closer.fds[closer.head];
        closer.head = (closer.head + 1) % CLOSER_MAX;
        closer.n--;
        pthread_mutex_unlock(&closer.mu);
        sl_os.close(fd);
        pthread_mutex_lock(&closer.mu);
        pthread_cond_broadcast(&closer.cv); /* sl_os_close_drain may wait for an empty queue */
    }
    return NULL;
}

void sl_os_close_later(int fd) {
    if (fd < 0) {
        return;
    }
    pthread_mutex_lock(&closer.mu);
    if (!closer.started) {
        pthread_t th;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        closer.started = pthread_create(&th, &at, closer_main, NULL) == 0;
        pthread_attr_destroy(&at);
    }
    bool queued = closer.started && closer.n < CLOSER_MAX;
    if (queued) {
        closer.fds[(closer.head + closer.n) % CLOSER_MAX] = fd;
        closer.n++;
        pthread_cond_broadcast(&closer.cv);
    }
    pthread_mutex_unlock(&closer.mu);
    if (!queued) {
        sl_os.close(fd);
    }
}

void sl_os_close_drain(void) {
    pthread_mutex_lock(&closer.mu);
    while (closer.n > 0) {
        pthread_cond_wait(&closer.cv, &closer.mu);
    }
    pthread_mutex_unlock(&closer.mu);
}

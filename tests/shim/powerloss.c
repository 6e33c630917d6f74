/* powerloss.c -- an LD_PRELOAD shim that records what a power cut would keep.
 *
 * Preloaded into the broker (tests/integration/test_powerloss.sh, bench/run-faults), it watches
 * every file-system call the broker makes under POWERLOSS_ROOT and appends one line per event to
 * the journal POWERLOSS_JOURNAL (before-images of overwritten bytes go to POWERLOSS_JOURNAL.blob).
 * After the broker is killed, tests/integration/powerloss_apply.py replays the journal and
 * rewrites the directory to the state a power cut at that moment would leave:
 *
 *   - a file keeps only the bytes it held when its last successful fsync/fdatasync STARTED (the
 *     size then, and the content then: later writes inside that range are undone from their
 *     before-images, which the shim saves before every write or truncate that touches bytes a
 *     sync may have made durable);
 *   - a new directory entry (open O_CREAT that created the file, mkdir, rename) counts only once
 *     an fsync of its directory started after it (POSIX; the apply step's "ext4" model instead
 *     lets any later sync commit every earlier entry, as ext4's single journal does);
 *   - a file replaced by rename comes back with its synced content when the rename is not
 *     durable (the shim snapshots the replaced file first, up to POWERLOSS_UNDO_MAX bytes).
 *
 * Not covered: unlink and rmdir count as durable at once (a real disk could bring the file back);
 * writes through mmap, writev/pwritev, openat/renameat and hard links are not seen (the broker uses
 * none of them on data files); a before-image larger than POWERLOSS_UNDO_MAX (default 64 MiB) is
 * recorded as lost and the apply step reports it. Torn sectors inside a synced range and reordered
 * writes inside an unsynced range are not emulated: an unsynced tail is dropped whole.
 *
 * POWERLOSS_CRASH_AT_SYNC=N kills the process with SIGKILL when its N-th sync of a file or
 * directory under the root begins, which makes a crash point reproducible.
 * Thread: any; one mutex orders every recorded call, so each write falls wholly before or after
 * the start of a sync. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

typedef struct node {
    dev_t dev;
    ino_t ino;
    unsigned gen;     /* bumped each time the inode number is created anew */
    char kind;        /* 'f' or 'd' */
    off_t undo_limit; /* bytes below this may be durable: save them before changing them */
    int used;
} node_t;

static struct {
    int on;
    pthread_mutex_t mu;
    char root[PATH_MAX];
    size_t root_len;
    int jfd, bfd;      /* journal and blob, opened with the real open */
    off_t blob_off;    /* next free byte in the blob */
    unsigned long seq; /* event counter; every journal line carries one */
    long syncs, crash_at;
    off_t undo_max;
    node_t *nodes;
    size_t cap, count;
    int (*open)(const char *, int, ...);
    int (*close)(int);
    ssize_t (*write)(int, const void *, size_t);
    ssize_t (*pwrite)(int, const void *, size_t, off_t);
    ssize_t (*pread)(int, void *, size_t, off_t);
    int (*fsync)(int);
    int (*fdatasync)(int);
    int (*ftruncate)(int, off_t);
    int (*rename)(const char *, const char *);
    int (*unlink)(const char *);
    int (*rmdir)(const char *);
    int (*mkdir)(const char *, mode_t);
} pl = {.mu = PTHREAD_MUTEX_INITIALIZER, .jfd = -1, .bfd = -1};

static void *real(const char *name) {
    void *f = dlsym(RTLD_NEXT, name);
    if (!f) {
        fprintf(stderr, "powerloss: no %s\n", name);
        abort();
    }
    return f;
}

static void load_real(void) {
    if (pl.write) {
        return;
    }
    pl.open = real("open");
    pl.close = real("close");
    pl.write = real("write");
    pl.pwrite = real("pwrite");
    pl.pread = real("pread");
    pl.fsync = real("fsync");
    pl.fdatasync = real("fdatasync");
    pl.ftruncate = real("ftruncate");
    pl.rename = real("rename");
    pl.unlink = real("unlink");
    pl.rmdir = real("rmdir");
    pl.mkdir = real("mkdir");
}

/* Appends one line to the journal. Called with the mutex held. A journal that cannot be written
 * makes every later verdict meaningless, so that aborts. */
__attribute__((format(printf, 1, 2))) static void jlog(const char *fmt, ...) {
    char line[PATH_MAX * 2 + 256];
    int n = snprintf(line, sizeof line, "%lu ", ++pl.seq);
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof line - 1) {
        fprintf(stderr, "powerloss: journal line too long\n");
        abort();
    }
    line[n++] = '\n';
    if (pl.write(pl.jfd, line, (size_t)n) != n) {
        perror("powerloss: journal write");
        abort();
    }
}

static node_t *find(dev_t dev, ino_t ino, int add) {
    if (pl.count * 2 >= pl.cap) {
        size_t old = pl.cap;
        node_t *o = pl.nodes;
        pl.cap = old ? old * 2 : 4096;
        pl.nodes = calloc(pl.cap, sizeof *pl.nodes);
        if (!pl.nodes) {
            abort();
        }
        pl.count = 0;
        for (size_t i = 0; i < old; i++) {
            if (o[i].used) {
                *find(o[i].dev, o[i].ino, 1) = o[i];
            }
        }
        free(o);
    }
    size_t h = ((size_t)ino * 0x9E3779B97F4A7C15u ^ (size_t)dev) & (pl.cap - 1);
    while (pl.nodes[h].used) {
        if (pl.nodes[h].ino == ino && pl.nodes[h].dev == dev) {
            return &pl.nodes[h];
        }
        h = (h + 1) & (pl.cap - 1);
    }
    if (!add) {
        return NULL;
    }
    pl.nodes[h].used = 1;
    pl.nodes[h].dev = dev;
    pl.nodes[h].ino = ino;
    pl.count++;
    return &pl.nodes[h];
}

/* The node an open descriptor refers to, or NULL when it is not a tracked file or directory. */
static node_t *fd_node(int fd) {
    struct stat st;
    if (fstat(fd, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))) {
        return NULL;
    }
    return find(st.st_dev, st.st_ino, 0);
}

/* Splits `path` into its parent's absolute real path and its last component, and says whether
 * the parent is the root or lies below it. Called with the mutex held. */
static int under_root(const char *path, char *parent, char *name) {
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) {
        return 0;
    }
    char *slash = strrchr(tmp, '/');
    const char *dir = ".", *last = tmp;
    if (slash) {
        *slash = '\0';
        dir = tmp[0] ? tmp : "/";
        last = slash + 1;
    }
    size_t len = strlen(last);
    if (len > NAME_MAX) {
        return 0;
    }
    memcpy(name, last, len + 1);
    if (!realpath(dir, parent)) {
        return 0;
    }
    return !strncmp(parent, pl.root, pl.root_len) &&
           (parent[pl.root_len] == '\0' || parent[pl.root_len] == '/');
}

static node_t *path_node(const char *path, struct stat *st) {
    if (lstat(path, st) < 0 || !(S_ISREG(st->st_mode) || S_ISDIR(st->st_mode))) {
        return NULL;
    }
    return find(st->st_dev, st->st_ino, 0);
}

/* Registers a freshly created inode as a new generation and journals its directory entry. */
static void created(const struct stat *st, const char *parent, const char *name) {
    struct stat dst;
    if (stat(parent, &dst) < 0) {
        return;
    }
    node_t *d = find(dst.st_dev, dst.st_ino, 0);
    node_t *n = find(st->st_dev, st->st_ino, 1);
    n->gen++;
    n->kind = S_ISDIR(st->st_mode) ? 'd' : 'f';
    n->undo_limit = 0;
    if (d) {
        jlog("C %lu %u %lu %u %s %c", (unsigned long)n->ino, n->gen, (unsigned long)d->ino, d->gen,
             name, n->kind);
    }
}

/* Copies `len` bytes at `off` of `fd` into the blob and journals them as the before-image of that
 * range of `n` (a `lost` line when they exceed POWERLOSS_UNDO_MAX). Mutex held. */
static void save_range(node_t *n, int fd, off_t off, off_t len) {
    if (len <= 0) {
        return;
    }
    if (len > pl.undo_max) {
        jlog("U %lu %u %lld %lld lost", (unsigned long)n->ino, n->gen, (long long)off,
             (long long)len);
        return;
    }
    char *buf = malloc((size_t)len);
    if (!buf) {
        abort();
    }
    ssize_t got = 0;
    while (got < len) {
        ssize_t r = pl.pread(fd, buf + got, (size_t)(len - got), off + got);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            break; /* past the end: the range held fewer bytes */
        }
        got += r;
    }
    off_t at = pl.blob_off;
    if (got > 0 && pl.write(pl.bfd, buf, (size_t)got) != got) {
        perror("powerloss: blob write");
        abort();
    }
    free(buf);
    pl.blob_off += got;
    jlog("U %lu %u %lld %lld %lld", (unsigned long)n->ino, n->gen, (long long)off, (long long)got,
         (long long)at);
}

/* Before a write of `len` bytes at `off` (or a truncation to `off` when len < 0): saves the part
 * of the range that a sync may already have made durable. Mutex held. */
static void before_change(int fd, off_t off, off_t len) {
    node_t *n = fd_node(fd);
    if (!n || n->kind != 'f' || off >= n->undo_limit) {
        return;
    }
    off_t end = n->undo_limit;
    if (len >= 0 && off + len < end) {
        end = off + len;
    }
    save_range(n, fd, off, end - off);
}

static int walk_one(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    (void)ftw;
    if (type != FTW_F && type != FTW_D) {
        return 0;
    }
    if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode)) {
        return 0;
    }
    node_t *n = find(st->st_dev, st->st_ino, 1);
    n->kind = S_ISDIR(st->st_mode) ? 'd' : 'f';
    n->undo_limit = S_ISREG(st->st_mode) ? st->st_size : 0;
    const char *rel = path[pl.root_len] ? path + pl.root_len + 1 : ".";
    jlog("E %lu %u %c %lld %s", (unsigned long)n->ino, n->gen, n->kind, (long long)st->st_size,
         rel);
    return 0;
}

/* Reads the environment, opens the journal and records every file already under the root as
 * durable (the state a previous apply step left). Without POWERLOSS_ROOT the shim only forwards. */
__attribute__((constructor)) static void pl_init(void) {
    load_real();
    const char *root = getenv("POWERLOSS_ROOT");
    const char *journal = getenv("POWERLOSS_JOURNAL");
    if (!root || !journal) {
        return;
    }
    if (!realpath(root, pl.root)) {
        fprintf(stderr, "powerloss: POWERLOSS_ROOT %s: %s\n", root, strerror(errno));
        abort();
    }
    pl.root_len = strlen(pl.root);
    char blob[PATH_MAX];
    snprintf(blob, sizeof blob, "%s.blob", journal);
    pl.jfd = pl.open(journal, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    pl.bfd = pl.open(blob, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (pl.jfd < 0 || pl.bfd < 0) {
        fprintf(stderr, "powerloss: journal %s: %s\n", journal, strerror(errno));
        abort();
    }
    const char *s = getenv("POWERLOSS_CRASH_AT_SYNC");
    pl.crash_at = s ? atol(s) : 0;
    s = getenv("POWERLOSS_UNDO_MAX");
    pl.undo_max = s ? atoll(s) : (off_t)64 << 20;
    pthread_mutex_lock(&pl.mu);
    jlog("H root %s", pl.root);
    if (nftw(pl.root, walk_one, 64, FTW_PHYS) != 0) {
        fprintf(stderr, "powerloss: walk %s failed\n", pl.root);
        abort();
    }
    pl.on = 1;
    pthread_mutex_unlock(&pl.mu);
}

static int do_open(const char *path, int flags, mode_t mode) {
    load_real();
    if (!pl.on) {
        return pl.open(path, flags, mode);
    }
    char parent[PATH_MAX], name[NAME_MAX + 1];
    pthread_mutex_lock(&pl.mu);
    int tracked = under_root(path, parent, name);
    struct stat st;
    int existed = tracked && lstat(path, &st) == 0;
    if (tracked && existed && (flags & O_TRUNC) && (flags & O_ACCMODE) != O_RDONLY) {
        node_t *n = path_node(path, &st);
        if (n && n->kind == 'f' && n->undo_limit > 0) {
            int rfd = pl.open(path, O_RDONLY | O_CLOEXEC, 0);
            if (rfd >= 0) {
                save_range(n, rfd, 0, st.st_size < n->undo_limit ? st.st_size : n->undo_limit);
                pl.close(rfd);
            }
        }
    }
    int fd = pl.open(path, flags, mode);
    int saved = errno;
    if (fd >= 0 && tracked && !existed && fstat(fd, &st) == 0) {
        created(&st, parent, name);
    }
    pthread_mutex_unlock(&pl.mu);
    errno = saved;
    return fd;
}

int open(const char *path, int flags, ...) {
    mode_t mode = 0;
    if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    return do_open(path, flags, mode);
}

int open64(const char *path, int flags, ...) {
    mode_t mode = 0;
    if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    return do_open(path, flags, mode);
}

static ssize_t do_pwrite(int fd, const void *buf, size_t n, off_t off) {
    load_real();
    if (!pl.on) {
        return pl.pwrite(fd, buf, n, off);
    }
    pthread_mutex_lock(&pl.mu);
    before_change(fd, off, (off_t)n);
    ssize_t w = pl.pwrite(fd, buf, n, off);
    int saved = errno;
    pthread_mutex_unlock(&pl.mu);
    errno = saved;
    return w;
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) {
    return do_pwrite(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off) {
    return do_pwrite(fd, buf, n, off);
}

ssize_t write(int fd, const void *buf, size_t n) {
    load_real();
    if (!pl.on || fd <= 2) {
        return pl.write(fd, buf, n);
    }
    pthread_mutex_lock(&pl.mu);
    node_t *nd = fd_node(fd);
    if (nd && nd->kind == 'f') {
        off_t off = lseek(fd, 0, SEEK_CUR);
        if (fcntl(fd, F_GETFL) & O_APPEND) {
            struct stat st;
            off = fstat(fd, &st) == 0 ? st.st_size : off;
        }
        if (off >= 0) {
            before_change(fd, off, (off_t)n);
        }
    }
    ssize_t w = pl.write(fd, buf, n);
    int saved = errno;
    pthread_mutex_unlock(&pl.mu);
    errno = saved;
    return w;
}

static int do_ftruncate(int fd, off_t len) {
    load_real();
    if (!pl.on) {
        return pl.ftruncate(fd, len);
    }
    pthread_mutex_lock(&pl.mu);
    before_change(fd, len, -1);
    int rc = pl.ftruncate(fd, len);
    int saved = errno;
    pthread_mutex_unlock(&pl.mu);
    errno = saved;
    return rc;
}

int ftruncate(int fd, off_t len) {
    return do_ftruncate(fd, len);
}

int ftruncate64(int fd, off_t len) {
    return do_ftruncate(fd, len);
}

/* Both syncs: note the sequence number and size at the start, then journal the success. A failed
 * sync proves nothing and leaves no S/D line. */
static int do_sync(int fd, int (*fn)(int), const char *what) {
    pthread_mutex_lock(&pl.mu);
    struct stat st;
    node_t *n = NULL;
    if (fstat(fd, &st) == 0 && (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))) {
        n = find(st.st_dev, st.st_ino, 0);
    }
    if (!n) {
        pthread_mutex_unlock(&pl.mu);
        return fn(fd);
    }
    unsigned long start = ++pl.seq;
    if (n->kind == 'f' && st.st_size > n->undo_limit) {
        n->undo_limit = st.st_size;
    }
    node_t snap = *n;
    if (pl.crash_at > 0 && ++pl.syncs == pl.crash_at) {
        jlog("K %s %lu %u", what, (unsigned long)n->ino, n->gen);
        kill(getpid(), SIGKILL);
    }
    pthread_mutex_unlock(&pl.mu);
    int rc = fn(fd);
    int saved = errno;
    if (rc == 0) {
        pthread_mutex_lock(&pl.mu);
        if (snap.kind == 'd') {
            jlog("D %lu %u %lu", (unsigned long)snap.ino, snap.gen, start);
        } else {
            jlog("S %lu %u %lu %lld", (unsigned long)snap.ino, snap.gen, start,
                 (long long)st.st_size);
        }
        pthread_mutex_unlock(&pl.mu);
    }
    errno = saved;
    return rc;
}

int fsync(int fd) {
    load_real();
    return pl.on ? do_sync(fd, pl.fsync, "fsync") : pl.fsync(fd);
}

int fdatasync(int fd) {
    load_real();
    return pl.on ? do_sync(fd, pl.fdatasync, "fdatasync") : pl.fdatasync(fd);
}

int rename(const char *from, const char *to) {
    load_real();
    if (!pl.on) {
        return pl.rename(from, to);
    }
    char fparent[PATH_MAX], fname[NAME_MAX + 1], tparent[PATH_MAX], tname[NAME_MAX + 1];
    pthread_mutex_lock(&pl.mu);
    int ft = under_root(from, fparent, fname), tt = under_root(to, tparent, tname);
    struct stat fst, tst, fdst, tdst;
    node_t *src = ft ? path_node(from, &fst) : NULL;
    node_t *victim = tt ? path_node(to, &tst) : NULL;
    node_t *fd_dir = ft && stat(fparent, &fdst) == 0 ? find(fdst.st_dev, fdst.st_ino, 0) : NULL;
    node_t *td_dir = tt && stat(tparent, &tdst) == 0 ? find(tdst.st_dev, tdst.st_ino, 0) : NULL;
    long long vsize = -1, vblob = -1;
    if (victim && victim->kind == 'f' && victim != src) {
        /* The replaced file's bytes, for a power cut that undoes this rename. */
        if (tst.st_size > pl.undo_max) {
            vsize = -2;
        } else {
            int rfd = pl.open(to, O_RDONLY | O_CLOEXEC, 0);
            if (rfd >= 0) {
                off_t before = pl.blob_off;
                char buf[65536];
                ssize_t r;
                while ((r = read(rfd, buf, sizeof buf)) > 0) {
                    if (pl.write(pl.bfd, buf, (size_t)r) != r) {
                        abort();
                    }
                    pl.blob_off += r;
                }
                pl.close(rfd);
                vblob = before;
                vsize = pl.blob_off - before;
            }
        }
    }
    int rc = pl.rename(from, to);
    int saved = errno;
    if (rc == 0 && src && fd_dir && td_dir) {
        jlog("R %lu %u %s %lu %u %s %lu %u %lu %u %lld %lld", (unsigned long)fd_dir->ino,
             fd_dir->gen, fname, (unsigned long)td_dir->ino, td_dir->gen, tname,
             (unsigned long)src->ino, src->gen, victim ? (unsigned long)victim->ino : 0UL,
             victim ? victim->gen : 0U, vsize, vblob);
    } else if (rc == 0 && (ft || tt)) {
        jlog("W rename-untracked %s %s", from, to);
    }
    pthread_mutex_unlock(&pl.mu);
    errno = saved;
    return rc;
}

static int do_remove(const char *path, int (*fn)(const char *)) {
    load_real();
    if (!pl.on) {
        return fn(path);
    }
    char parent[PATH_MAX], name[NAME_MAX + 1];
    pthread_mutex_lock(&pl.mu);
    struct stat dst;
    int tracked = under_root(path, parent, name);
    node_t *d = tracked && stat(parent, &dst) == 0 ? find(dst.st_dev, dst.st_ino, 0) : NULL;
    int rc = fn(path);
    int saved = errno;
    if (rc == 0 && d) {
        jlog("X %lu %u %s", (unsigned long)d->ino, d->gen, name);
    }
    pthread_mutex_unlock(&pl.mu);
    errno = saved;
    return rc;
}

int unlink(const char *path) {
    load_real();
    return do_remove(path, pl.unlink);
}

int rmdir(const char *path) {
    load_real();
    return do_remove(path, pl.rmdir);
}

int mkdir(const char *path, mode_t mode) {
    load_real();
    if (!pl.on) {
        return pl.mkdir(path, mode);
    }
    char parent[PATH_MAX], name[NAME_MAX + 1];
    pthread_mutex_lock(&pl.mu);
    int tracked = under_root(path, parent, name);
    int rc = pl.mkdir(path, mode);
    int saved = errno;
    struct stat st;
    if (rc == 0 && tracked && lstat(path, &st) == 0) {
        created(&st, parent, name);
    }
    pthread_mutex_unlock(&pl.mu);
    errno = saved;
    return rc;
}

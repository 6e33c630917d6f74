/* segment.c -- one segment: <base:020>.log, .index, .timeindex.
 *
 *   .index      entries of 8 bytes:  rel_offset i32 | position i32   (big-endian)
 *   .timeindex  entries of 12 bytes: timestamp i64  | rel_offset i32 (big-endian)
 *
 * Indexes are sparse (one entry per index.interval.bytes of log) and derivable: they are written
 * with the log but trusted only for segments closed cleanly or rolled (and synced). On load, an
 * entry that is not increasing or points past the log ends the index; the walk in
 * sl_segment_recover then rebuilds what is missing from the log itself.
 * Recovery reads the log in 4 MiB chunks, so a 1 GiB segment costs 256 reads, not one per batch. */
#include "segment.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/os.h"
#include "common/util.h"
#include "common/workpool.h"
#include "storage/batch.h"

#define CHUNK_BYTES (4u << 20)

static void sibling(const sl_segment_t *seg, const char *ext, char *out, size_t n) {
    size_t len = strlen(seg->path) - 4; /* strip ".log" */
    snprintf(out, n, "%.*s%s", (int)len, seg->path, ext);
}

/* An eviction's sync and close, run by a worker: the descriptors are the segment's no longer
 * (it counts as closed in the pool) but come back to it if it is acquired before the worker
 * started (evict_settle). */
typedef struct sl_evict {
    sl_work_t work;               /* first: the pool's handle */
    int fd, ifd, tfd;             /* taken from the segment */
    int err;                      /* errno of a failed fdatasync; 0 (the worker's) */
    sl_segment_t *seg;            /* NULL once the segment was retired (the loop's) */
    struct sl_evict *prev, *next; /* in `pool.evictions`, oldest first (the loop's) */
} evict_t;

#define EVICT_THREADS 2

/* The descriptor pool: open segments, most recently used at the head, and the evictions whose
 * sync and close are pending (at most `max` of them: each still holds three descriptors). */
static struct {
    sl_segment_t *head, *tail;
    size_t n, max;
    sl_workpool_t *workers; /* started at the first dirty eviction; NULL: sync inline */
    bool no_workers;        /* they could not be started: sync inline from then on */
    evict_t *evictions, *evictions_tail;
    size_t n_evictions;
} pool = {NULL, NULL, 0, 1024, NULL, false, NULL, NULL, 0};

bool sl_errno_transient(int e) {
    return e == EMFILE || e == ENFILE || e == ENOMEM;
}

static void pool_unlink(sl_segment_t *seg) {
    if (seg->lru_prev) {
        seg->lru_prev->lru_next = seg->lru_next;
    } else {
        pool.head = seg->lru_next;
    }
    if (seg->lru_next) {
        seg->lru_next->lru_prev = seg->lru_prev;
    } else {
        pool.tail = seg->lru_prev;
    }
    seg->lru_prev = seg->lru_next = NULL;
}

static void pool_push_head(sl_segment_t *seg) {
    seg->lru_prev = NULL;
    seg->lru_next = pool.head;
    if (pool.head) {
        pool.head->lru_prev = seg;
    } else {
        pool.tail = seg;
    }
    pool.head = seg;
}

static bool is_open(const sl_segment_t *seg) {
    return seg->fd >= 0;
}

static void close_fds(sl_segment_t *seg) {
    if (seg->fd >= 0) {
        sl_os.close(seg->fd);
    }
    if (seg->ifd >= 0) {
        sl_os.close(seg->ifd);
    }
    if (seg->tfd >= 0) {
        sl_os.close(seg->tfd);
    }
    if (is_open(seg)) {
        pool_unlink(seg);
        pool.n--;
    }
    seg->fd = seg->ifd = seg->tfd = -1;
}

/* On a worker: fdatasync the .log (the indexes are derivable), then close all three. */
static void evict_run(sl_work_t *w) {
    evict_t *e = (evict_t *)w;
    if (sl_os.fdatasync(e->fd) < 0) {
        e->err = errno;
        sl_log(SL_LOG_ERROR, "storage", "fd=%d op=fdatasync err=\"%s\" msg=\"at eviction\"", e->fd,
               strerror(errno));
    }
    sl_os.close(e->fd);
    sl_os.close(e->ifd);
    sl_os.close(e->tfd);
}

static void evict_unlist(evict_t *e) {
    if (e->prev) {
        e->prev->next = e->next;
    } else {
        pool.evictions = e->next;
    }
    if (e->next) {
        e->next->prev = e->prev;
    } else {
        pool.evictions_tail = e->prev;
    }
    pool.n_evictions--;
}

/* On the loop (from sl_workpool_poll): the sync's result goes to its segment. Every eviction
 * runs: the workers are never freed. */
static void evict_done(sl_work_t *w, bool ran) {
    evict_t *e = (evict_t *)w;
    (void)ran;
    if (e->seg) {
        if (e->err && !e->seg->sync_errno) {
            e->seg->sync_errno = e->err;
        }
        e->seg->evicting = NULL;
    }
    evict_unlist(e);
    free(e);
}

/* Reports the evictions that finished, without waiting. */
static void evict_poll(void) {
    if (pool.workers && pool.n_evictions > 0) {
        sl_workpool_poll(pool.workers);
    }
}

/* Hands a dirty, open segment's descriptors to a worker to sync and close; the segment leaves the
 * pool now. False (nothing changed) when there are no workers. */
static bool evict_async(sl_segment_t *seg) {
    if (!pool.workers && !pool.no_workers) {
        pool.workers = sl_workpool_new("evict", EVICT_THREADS);
        pool.no_workers = !pool.workers;
    }
    if (!pool.workers) {
        return false;
    }
    while (pool.n_evictions >= pool.max) {
        /* The disk is behind: wait for the oldest, so pending descriptors stay bounded. */
        sl_workpool_wait(pool.workers, &pool.evictions->work);
        sl_workpool_poll(pool.workers);
    }
    evict_t *e = sl_xcalloc(1, sizeof *e);
    e->work.run = evict_run;
    e->work.done = evict_done;
    e->fd = seg->fd;
    e->ifd = seg->ifd;
    e->tfd = seg->tfd;
    e->seg = seg;
    e->prev = pool.evictions_tail;
    if (pool.evictions_tail) {
        pool.evictions_tail->next = e;
    } else {
        pool.evictions = e;
    }
    pool.evictions_tail = e;
    pool.n_evictions++;
    pool_unlink(seg);
    pool.n--;
    seg->fd = seg->ifd = seg->tfd = -1;
    seg->evicting = e;
    sl_workpool_submit(pool.workers, &e->work);
    return true;
}

/* Settles a pending eviction of `seg` before its files are used or closed again. If no worker
 * has started on it, its descriptors come back (still open, nothing synced: the segment stays
 * dirty) and true is returned; the caller puts the segment back in the pool. Otherwise waits for
 * the sync (its error, if any, lands in sync_errno) and returns false: the files are closed. */
static bool evict_settle(sl_segment_t *seg) {
    evict_t *e = seg->evicting;
    if (sl_workpool_cancel(pool.workers, &e->work)) {
        seg->fd = e->fd;
        seg->ifd = e->ifd;
        seg->tfd = e->tfd;
        seg->evicting = NULL;
        evict_unlist(e);
        free(e);
        return true;
    }
    sl_workpool_wait(pool.workers, &e->work);
    sl_workpool_poll(pool.workers);
    SL_ASSERT(!seg->evicting);
    return false;
}

/* Closes least recently used segments, never `keep`, until the pool fits. A dirty one is synced
 * first, so no write-back error is lost with its descriptor (fsyncgate): by a worker, or inline
 * when there is none; if an inline sync fails it stays open with the error noted for its owner
 * (a worker's failure is noted when it is reported). */
static void pool_evict(const sl_segment_t *keep) {
    evict_poll();
    sl_segment_t *v = pool.tail;
    while (pool.n > pool.max && v) {
        sl_segment_t *prev = v->lru_prev;
        if (v != keep && !v->sync_errno) {
            if (v->dirty && evict_async(v)) {
                /* its descriptors are the worker's now */
            } else if (v->dirty && sl_os.fdatasync(v->fd) < 0) {
                v->sync_errno = errno;
                sl_log(SL_LOG_ERROR, "storage",
                       "file=%s op=fdatasync err=\"%s\" msg=\"at eviction\"", v->path,
                       strerror(errno));
            } else {
                close_fds(v);
            }
        }
        v = prev;
    }
}

int sl_segment_settle(sl_segment_t *seg) {
    if (seg->evicting && evict_settle(seg)) {
        pool.n++; /* its descriptors are back: open again, most recently used */
        pool_push_head(seg);
        pool_evict(seg);
    }
    return seg->sync_errno;
}

size_t sl_segment_evictions_pending(void) {
    return pool.n_evictions;
}

void sl_segment_evictions_drain(void) {
    if (pool.workers) {
        sl_workpool_drain(pool.workers);
    }
}

void sl_segment_set_open_max(size_t n) {
    pool.max = n < 2 ? 2 : n;
}

size_t sl_segment_open_count(void) {
    return pool.n;
}

/* The directory of the segment whose .log is `path` (its partition's) and that directory's
 * parent, into `d` and `parent` (either "." when the path has no slash there). */
static void path_dirs(const char *path, char *d, char *parent, size_t n) {
    snprintf(d, n, "%s", path);
    char *slash = strrchr(d, '/');
    if (!slash) {
        snprintf(d, n, ".");
    } else {
        *slash = '\0';
    }
    snprintf(parent, n, "%s", d);
    slash = strrchr(parent, '/');
    if (!slash || !strcmp(d, ".")) {
        snprintf(parent, n, ".");
    } else {
        *slash = '\0';
    }
}

static void seg_dirs(const sl_segment_t *seg, char *d, char *parent, size_t n) {
    path_dirs(seg->path, d, parent, n);
}

/* Makes the directory of the segment whose .log is `path` (a partition's first segment may come
 * before its directory). Only one mkdir when the parent exists, and no fsync: the entries are
 * synced with the segment's first sync (dir_unsynced). -1 with errno. */
static int path_mkdir(const char *path) {
    char d[4096], parent[4096];
    path_dirs(path, d, parent, sizeof d);
    if (mkdir(d, 0755) == 0 || errno == EEXIST) {
        return 0;
    }
    return errno == ENOENT ? sl_os_mkdirs(d) : -1;
}

static int seg_mkdir(const sl_segment_t *seg) {
    return path_mkdir(seg->path);
}

int sl_segment_make_files(const char *log_path) {
    if (path_mkdir(log_path) < 0) {
        return -1;
    }
    size_t len = strlen(log_path);
    if (len < 4 || strcmp(log_path + len - 4, ".log") != 0) {
        errno = EINVAL;
        return -1;
    }
    static const char *const exts[] = {".log", ".index", ".timeindex"};
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        char p[4096];
        snprintf(p, sizeof p, "%.*s%s", (int)(len - 4), log_path, exts[i]);
        int fd = sl_os.open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            return -1;
        }
        sl_os.close(fd);
    }
    return 0;
}

bool sl_segment_files_made(sl_segment_t *seg) {
    if (!seg->unborn || access(seg->path, F_OK) != 0) {
        return false;
    }
    seg->unborn = false;
    seg->dir_unsynced = true;
    return true;
}

/* fsyncs the segment's directory and its parent, so the files created in it (and the directory
 * itself) survive a crash. -1 with errno. */
static int seg_sync_dirs(sl_segment_t *seg) {
    char d[4096], parent[4096];
    seg_dirs(seg, d, parent, sizeof d);
    if (sl_os_fsync_dir(d) < 0 || sl_os_fsync_dir(parent) < 0) {
        sl_log(SL_LOG_ERROR, "storage", "file=%s op=fsync-dir err=\"%s\"", seg->path,
               strerror(errno));
        return -1;
    }
    seg->dir_unsynced = false;
    return 0;
}

int sl_segment_dir_fds(const sl_segment_t *seg, int out[2]) {
    out[0] = out[1] = -1;
    if (!seg->dir_unsynced) {
        return 0;
    }
    char d[4096], parent[4096];
    seg_dirs(seg, d, parent, sizeof d);
    out[0] = sl_os.open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    out[1] = out[0] >= 0 ? sl_os.open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0) : -1;
    if (out[1] < 0) {
        int saved = errno;
        if (out[0] >= 0) {
            sl_os.close(out[0]);
        }
        out[0] = -1;
        errno = saved;
        return -1;
    }
    return 0;
}

/* Opens the three files; with `create` the .log is created (directory first) and the segment
 * marked dir_unsynced. -1 with errno. */
static int open_fds(sl_segment_t *seg, bool create) {
    char p[4096];
    if (create && seg_mkdir(seg) < 0) {
        sl_log(SL_LOG_ERROR, "storage", "file=%s op=mkdir err=\"%s\"", seg->path, strerror(errno));
        return -1;
    }
    pool.n++; /* counted first: the eviction below makes room for these three */
    pool_push_head(seg);
    pool_evict(seg);
    seg->fd = sl_os.open(seg->path, O_RDWR | (create ? O_CREAT : 0), 0644);
    sibling(seg, ".index", p, sizeof p);
    seg->ifd = seg->fd >= 0 ? sl_os.open(p, O_RDWR | O_CREAT, 0644) : -1;
    sibling(seg, ".timeindex", p, sizeof p);
    seg->tfd = seg->ifd >= 0 ? sl_os.open(p, O_RDWR | O_CREAT, 0644) : -1;
    if (seg->tfd < 0) {
        int saved = errno;
        /* Out of descriptors is the caller's "try again", not a storage error. */
        sl_log(sl_errno_transient(saved) ? SL_LOG_WARN : SL_LOG_ERROR, "storage",
               "file=%s op=open err=\"%s\"", seg->path, strerror(saved));
        if (seg->fd >= 0) {
            sl_os.close(seg->fd);
        }
        if (seg->ifd >= 0) {
            sl_os.close(seg->ifd);
        }
        seg->fd = seg->ifd = -1;
        pool_unlink(seg);
        pool.n--;
        errno = saved;
        return -1;
    }
    if (create) {
        seg->dir_unsynced = true;
    }
    return 0;
}

sl_err_t sl_segment_acquire(sl_segment_t *seg) {
    if (seg->evicting) {
        (void)sl_segment_settle(seg);
        if (is_open(seg)) {
            return SL_OK; /* its descriptors came back, most recently used */
        }
        if (seg->sync_errno) {
            /* Its eviction's sync failed, learnt just now: the owner checked sync_errno before
             * this call, and a sync on a fresh descriptor would succeed over the lost
             * write-back. Fails this once; the owner sees sync_errno from then on. */
            errno = seg->sync_errno;
            return SL_ERR_IO;
        }
    }
    if (is_open(seg)) {
        if (pool.head != seg) {
            pool_unlink(seg);
            pool_push_head(seg);
        }
        return SL_OK;
    }
    if (open_fds(seg, seg->unborn) < 0) {
        return SL_ERR_IO;
    }
    seg->unborn = false;
    return SL_OK;
}

sl_segment_t *sl_segment_open(const char *dir, int64_t base, bool create) {
    sl_segment_t *seg = sl_xcalloc(1, sizeof *seg);
    seg->base = seg->next = base;
    seg->max_ts = -1;
    seg->max_ts_offset = -1;
    seg->cleaned_ms = -1;
    seg->fd = seg->ifd = seg->tfd = -1;
    char path[4096];
    snprintf(path, sizeof path, "%s/%020" PRId64 ".log", dir, base);
    seg->path = sl_xstrdup(path);
    if (create) {
        seg->unborn = true;
        return seg;
    }
    if (open_fds(seg, false) < 0) {
        int saved = errno;
        sl_segment_close(seg);
        errno = saved;
        return NULL;
    }
    struct stat st;
    if (fstat(seg->fd, &st) == 0) {
        seg->size = st.st_size;
    }
    return seg;
}

void sl_segment_close(sl_segment_t *seg) {
    if (!seg) {
        return;
    }
    if (seg->evicting && evict_settle(seg)) {
        pool.n++; /* back in the pool, to be closed like any open segment */
        pool_push_head(seg);
    }
    close_fds(seg);
    free(seg->idx);
    free(seg->tidx);
    free(seg->path);
    free(seg);
}

void sl_segment_delete(sl_segment_t *seg) {
    char p[4096];
    sl_os.unlink(seg->path);
    sibling(seg, ".index", p, sizeof p);
    sl_os.unlink(p);
    sibling(seg, ".timeindex", p, sizeof p);
    sl_os.unlink(p);
    sl_segment_retire(seg);
}

void sl_segment_retire(sl_segment_t *seg) {
    /* The files are gone from the directory; their last close frees the page cache, which waits
     * for pages under writeback: not on the caller's (the event loop's) time. */
    if (seg->evicting) {
        /* The files are gone too: the worker's sync is wasted but harmless; its result has no
         * segment to go to. */
        seg->evicting->seg = NULL;
        seg->evicting = NULL;
    }
    if (is_open(seg)) {
        sl_os_close_later(seg->fd);
        sl_os_close_later(seg->ifd);
        sl_os_close_later(seg->tfd);
        pool_unlink(seg);
        pool.n--;
        seg->fd = seg->ifd = seg->tfd = -1;
    }
    sl_segment_close(seg);
}

static void push_idx(sl_segment_t *seg, int32_t rel, int32_t pos, bool write) {
    if (seg->n_idx == seg->cap_idx) {
        seg->cap_idx = seg->cap_idx ? seg->cap_idx * 2 : 64;
        seg->idx = sl_xrealloc(seg->idx, seg->cap_idx * sizeof *seg->idx);
    }
    seg->idx[seg->n_idx] = (sl_idx_entry_t){rel, pos};
    if (write) {
        uint8_t b[8];
        sl_store_be32(b, (uint32_t)rel);
        sl_store_be32(b + 4, (uint32_t)pos);
        /* Index writes may fail without harm: the index is rebuilt from the log when needed. */
        (void)sl_os_pwrite_all(seg->ifd, b, 8, (off_t)(seg->n_idx * 8));
    }
    seg->n_idx++;
}

static void push_tidx(sl_segment_t *seg, int64_t ts, int32_t rel, bool write) {
    if (seg->n_tidx == seg->cap_tidx) {
        seg->cap_tidx = seg->cap_tidx ? seg->cap_tidx * 2 : 64;
        seg->tidx = sl_xrealloc(seg->tidx, seg->cap_tidx * sizeof *seg->tidx);
    }
    seg->tidx[seg->n_tidx] = (sl_tidx_entry_t){ts, rel};
    if (write) {
        uint8_t b[12];
        sl_store_be64(b, (uint64_t)ts);
        sl_store_be32(b + 8, (uint32_t)rel);
        (void)sl_os_pwrite_all(seg->tfd, b, 12, (off_t)(seg->n_tidx * 12));
    }
    seg->n_tidx++;
}

static sl_err_t read_file(int fd, uint8_t **out, size_t *len) {
    struct stat st;
    if (fstat(fd, &st) < 0) {
        return SL_ERR_IO;
    }
    *len = (size_t)st.st_size;
    *out = sl_xmalloc(*len ? *len : 1);
    if (sl_os_pread_all(fd, *out, *len, 0) != (ssize_t)*len) {
        free(*out);
        return SL_ERR_IO;
    }
    return SL_OK;
}

sl_err_t sl_segment_load_indexes(sl_segment_t *seg) {
    uint8_t *buf;
    size_t len;
    seg->n_idx = seg->n_tidx = 0;
    if (sl_segment_acquire(seg) != SL_OK) {
        return SL_ERR_IO;
    }
    if (read_file(seg->ifd, &buf, &len) != SL_OK) {
        return SL_ERR_IO;
    }
    for (size_t i = 0; i + 8 <= len; i += 8) {
        int32_t rel = (int32_t)sl_load_be32(buf + i), pos = (int32_t)sl_load_be32(buf + i + 4);
        bool ok = rel >= 0 && pos >= 0 && pos < seg->size &&
                  (seg->n_idx == 0 ||
                   (rel > seg->idx[seg->n_idx - 1].rel && pos > seg->idx[seg->n_idx - 1].pos));
        if (!ok) {
            break;
        }
        push_idx(seg, rel, pos, false);
    }
    free(buf);
    if (sl_os.ftruncate(seg->ifd, (off_t)(seg->n_idx * 8)) < 0) {
        return SL_ERR_IO;
    }
    if (read_file(seg->tfd, &buf, &len) != SL_OK) {
        return SL_ERR_IO;
    }
    int32_t max_rel = seg->n_idx ? seg->idx[seg->n_idx - 1].rel : 0;
    for (size_t i = 0; i + 12 <= len; i += 12) {
        int64_t ts = (int64_t)sl_load_be64(buf + i);
        int32_t rel = (int32_t)sl_load_be32(buf + i + 8);
        bool ok = rel >= 0 && rel <= max_rel &&
                  (seg->n_tidx == 0 ||
                   (ts >= seg->tidx[seg->n_tidx - 1].ts && rel >= seg->tidx[seg->n_tidx - 1].rel));
        if (!ok) {
            break;
        }
        push_tidx(seg, ts, rel, false);
    }
    free(buf);
    if (sl_os.ftruncate(seg->tfd, (off_t)(seg->n_tidx * 12)) < 0) {
        return SL_ERR_IO;
    }
    return SL_OK;
}

void sl_segment_index_batch(sl_segment_t *seg, int64_t base_offset, int64_t last_offset,
                            int64_t max_ts, int64_t pos, int64_t batch_bytes, int32_t interval,
                            bool force) {
    int32_t rel = (int32_t)(base_offset - seg->base);
    /* The index files are written only while open; an entry missing on disk costs a longer
     * walk at recovery, nothing else. */
    bool files = is_open(seg);
    bool ts_grew = max_ts > seg->max_ts;
    if (ts_grew) {
        seg->max_ts = max_ts;
        seg->max_ts_offset = last_offset;
    }
    if (force || seg->n_idx == 0 || seg->bytes_since_idx >= interval) {
        if (seg->n_idx == 0 || rel > seg->idx[seg->n_idx - 1].rel) {
            push_idx(seg, rel, (int32_t)pos, files);
        }
        if (seg->max_ts >= 0 && (seg->n_tidx == 0 || seg->max_ts > seg->tidx[seg->n_tidx - 1].ts)) {
            push_tidx(seg, seg->max_ts, rel, files);
        }
        seg->bytes_since_idx = 0;
    }
    seg->bytes_since_idx += batch_bytes;
    seg->next = last_offset + 1;
}

sl_err_t sl_segment_recover(sl_segment_t *seg, bool full, int32_t interval, int64_t *cut_out) {
    int64_t pos = 0;
    *cut_out = 0;
    if (sl_segment_acquire(seg) != SL_OK) {
        return SL_ERR_IO;
    }
    if (full) {
        seg->n_idx = seg->n_tidx = 0;
        seg->max_ts = seg->max_ts_offset = -1;
        if (sl_os.ftruncate(seg->ifd, 0) < 0 || sl_os.ftruncate(seg->tfd, 0) < 0) {
            return SL_ERR_IO;
        }
    } else if (seg->n_idx > 0) {
        /* Resume after the last indexed batch; it becomes the first one re-walked. */
        pos = seg->idx[seg->n_idx - 1].pos;
        seg->n_idx--;
        if (sl_os.ftruncate(seg->ifd, (off_t)(seg->n_idx * 8)) < 0) {
            return SL_ERR_IO;
        }
        if (seg->n_tidx > 0) {
            seg->max_ts = seg->tidx[seg->n_tidx - 1].ts;
            seg->max_ts_offset = seg->base + seg->tidx[seg->n_tidx - 1].rel;
        }
    }
    seg->next = seg->base;
    uint8_t *chunk = sl_xmalloc(CHUNK_BYTES);
    size_t have = 0;
    int64_t chunk_pos = pos;
    seg->bytes_since_idx = interval; /* the first batch walked gets an entry */
    sl_err_t rc = SL_OK;
    bool first = true;
    while (pos < seg->size) {
        size_t off = (size_t)(pos - chunk_pos);
        if (off + SL_BATCH_LOG_OVERHEAD > have ||
            off + SL_BATCH_LOG_OVERHEAD + sl_load_be32(chunk + off + 8) > have) {
            /* Refill from `pos`; a batch larger than the chunk gets its own buffer. */
            size_t want = CHUNK_BYTES;
            uint8_t hdr[12];
            if (sl_os_pread_all(seg->fd, hdr, 12, pos) == 12) {
                size_t need = (size_t)SL_BATCH_LOG_OVERHEAD + (size_t)sl_load_be32(hdr + 8);
                if (need > want && (int64_t)need <= seg->size - pos) {
                    want = need;
                    chunk = sl_xrealloc(chunk, want);
                }
            }
            ssize_t r = sl_os_pread_all(seg->fd, chunk, want, pos);
            if (r < 0) {
                rc = SL_ERR_IO;
                break;
            }
            have = (size_t)r;
            chunk_pos = pos;
            off = 0;
        }
        sl_batch_info_t info;
        sl_err_t prc = sl_batch_parse(chunk + off, have - off, full, &info);
        /* A compacted segment has gaps between batches (cleaner.h): offsets only increase. */
        if (prc != SL_OK || info.base_offset < seg->base ||
            (!first && info.base_offset < seg->next) ||
            info.base_offset + info.last_offset_delta - seg->base > INT32_MAX) {
            if (!full) {
                /* A clean log must parse; if it does not, fall back to the full check. */
                free(chunk);
                return sl_segment_recover(seg, true, interval, cut_out);
            }
            break;
        }
        if (first && !full && seg->n_idx == 0 && info.base_offset != seg->base) {
            free(chunk);
            return sl_segment_recover(seg, true, interval, cut_out);
        }
        first = false;
        sl_segment_index_batch(seg, info.base_offset, info.base_offset + info.last_offset_delta,
                               info.max_timestamp, pos, (int64_t)info.total_bytes, interval, false);
        pos += (int64_t)info.total_bytes;
    }
    free(chunk);
    if (rc != SL_OK) {
        return rc;
    }
    if (pos < seg->size) {
        *cut_out = seg->size - pos;
        sl_log(SL_LOG_WARN, "storage",
               "file=%s op=truncate at=%" PRId64 " cut=%" PRId64 " msg=\"torn or corrupt tail\"",
               seg->path, pos, seg->size - pos);
        if (sl_os.ftruncate(seg->fd, pos) < 0 || sl_os.fdatasync(seg->fd) < 0) {
            sl_log(SL_LOG_ERROR, "storage", "file=%s op=truncate err=\"%s\"", seg->path,
                   strerror(errno));
            return SL_ERR_IO;
        }
        seg->size = pos;
    }
    return SL_OK;
}

sl_err_t sl_segment_rewrite_indexes(sl_segment_t *seg) {
    if (sl_segment_acquire(seg) != SL_OK) {
        return SL_ERR_IO;
    }
    uint8_t b[12];
    for (size_t i = 0; i < seg->n_idx; i++) {
        sl_store_be32(b, (uint32_t)seg->idx[i].rel);
        sl_store_be32(b + 4, (uint32_t)seg->idx[i].pos);
        if (sl_os_pwrite_all(seg->ifd, b, 8, (off_t)(i * 8)) < 0) {
            return SL_ERR_IO;
        }
    }
    for (size_t i = 0; i < seg->n_tidx; i++) {
        sl_store_be64(b, (uint64_t)seg->tidx[i].ts);
        sl_store_be32(b + 8, (uint32_t)seg->tidx[i].rel);
        if (sl_os_pwrite_all(seg->tfd, b, 12, (off_t)(i * 12)) < 0) {
            return SL_ERR_IO;
        }
    }
    if (sl_os.ftruncate(seg->ifd, (off_t)(seg->n_idx * 8)) < 0 ||
        sl_os.ftruncate(seg->tfd, (off_t)(seg->n_tidx * 12)) < 0) {
        return SL_ERR_IO;
    }
    return SL_OK;
}

int64_t sl_segment_lookup(const sl_segment_t *seg, int64_t offset) {
    int64_t rel = offset - seg->base;
    size_t lo = 0, hi = seg->n_idx;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (seg->idx[mid].rel <= rel) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo == 0 ? 0 : seg->idx[lo - 1].pos;
}

int64_t sl_segment_lookup_time(const sl_segment_t *seg, int64_t ts) {
    size_t lo = 0, hi = seg->n_tidx;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (seg->tidx[mid].ts < ts) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (lo == 0) {
        return 0;
    }
    /* tidx[lo-1].ts < ts: every batch up to and including that one has maxTimestamp < ts. */
    return sl_segment_lookup(seg, seg->base + seg->tidx[lo - 1].rel);
}

int sl_segment_sync(sl_segment_t *seg) {
    if (seg->sync_errno) {
        errno = seg->sync_errno;
        return -1;
    }
    if (!is_open(seg) && !seg->dirty) {
        /* closed clean: synced when it was evicted (its directory entries perhaps not) */
        return seg->dir_unsynced ? seg_sync_dirs(seg) : 0;
    }
    if (sl_segment_acquire(seg) != SL_OK || sl_os.fdatasync(seg->fd) < 0) {
        return -1;
    }
    (void)sl_os.fdatasync(seg->ifd);
    (void)sl_os.fdatasync(seg->tfd);
    return seg->dir_unsynced ? seg_sync_dirs(seg) : 0;
}

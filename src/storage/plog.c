/* plog.c -- the partition log: segments in offset order, appends, reads, retention, recovery.
 * The format and invariants are in plog.h; the per-segment files are in segment.c.
 *
 * State: OPEN ──(write/sync/truncate failure)──► FAILED (sticky; appends refused; reads still
 * served from what is on disk) ──(close + open: recovery re-scans)──► OPEN.
 * A log FAILED by a full disk (ENOSPC, EDQUOT) also comes back by itself: sl_plog_tick re-checks
 * it every SL_PLOG_RECHECK_MS once the file system has room again (see recheck_full below). An
 * I/O error (EIO) stays FAILED until a reopen: after a failed fdatasync the kernel may have
 * dropped the data and cleared the error, so only a re-scan is trusted (fsyncgate). */
#include "plog.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/os.h"
#include "common/util.h"
#include "storage/batch.h"
#include "storage/cleaner.h"
#include "storage/segment.h"

#define CLEAN_MARKER "clean-shutdown"
/* Which segments were compacted, when first, and how many tombstones they kept: lines of
 * "<base> <first clean, wall ms> <tombstones>". Advisory: written without a sync after every
 * clean; a missing or unreadable one only makes the next clean treat segments as dirty (and keep
 * their tombstones for a fresh delete.retention.ms). */
#define CLEAN_CHECKPOINT "cleaner-checkpoint"
#define START_FILE       "log-start-offset"
#define SCAN_CHUNK       65536

struct sl_plog {
    char *dir;
    sl_plog_conf_t conf;
    sl_segment_t **segs; /* oldest first; the last is active */
    size_t n_segs, cap_segs;
    int64_t start;            /* log start offset */
    int64_t durable;          /* every offset below is synced */
    int64_t unsynced_records; /* appended since the last sync */
    /* Bytes ever appended, and how many of them a sync covered: the difference is what a roll
     * (or a crash of the machine) would have to write back. */
    int64_t appended_bytes, synced_bytes, sync_bytes_target;
    int64_t sync_dirs_base; /* base of the segment whose directories a running sync covers, or -1 */
    int64_t first_unsynced_ms; /* wall clock of the oldest unsynced append, or -1 */
    bool failed;
    int fail_err;
    int fail_errno;          /* errno that made it FAILED */
    bool offline;            /* could not be opened: a placeholder that never touches the disk */
    int64_t last_recheck_ms; /* wall clock of the last recovery attempt of a full disk */
    uint8_t *scan; /* SCAN_CHUNK bytes for reads and time searches; allocated at first use */
    sl_clean_job_t *clean_job; /* the compaction running on this log's segments, or NULL */
};

void sl_plog_conf_default(sl_plog_conf_t *conf) {
    conf->segment_bytes = 1073741824;
    conf->roll_ms = 604800000;
    conf->retention_ms = 604800000;
    conf->retention_bytes = -1;
    conf->index_interval_bytes = 4096;
    conf->flush_messages = INT64_MAX;
    conf->flush_ms = INT64_MAX;
    conf->log_append_time = false;
    conf->cleanup_delete = true;
    conf->cleanup_compact = false;
    conf->min_cleanable_dirty_ratio = 0.5;
    conf->delete_retention_ms = 86400000;
    conf->min_compaction_lag_ms = 0;
    conf->max_compaction_lag_ms = INT64_MAX;
}

static size_t find_seg(const sl_plog_t *plog, int64_t offset);

static sl_segment_t *active(const sl_plog_t *plog) {
    return plog->segs[plog->n_segs - 1];
}

static void push_seg(sl_plog_t *plog, sl_segment_t *seg) {
    if (plog->n_segs == plog->cap_segs) {
        plog->cap_segs = plog->cap_segs ? plog->cap_segs * 2 : 8;
        plog->segs = sl_xrealloc(plog->segs, plog->cap_segs * sizeof *plog->segs);
    }
    plog->segs[plog->n_segs++] = seg;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* A failed write or sync: the log becomes FAILED. Running out of descriptors or memory (EMFILE,
 * ENFILE, ENOMEM from open or dup) is not a disk failure: the operation is refused and may be
 * retried, and the log stays OPEN. */
static sl_err_t fail(sl_plog_t *plog, const char *op) {
    int e = errno;
    if (sl_errno_transient(e)) {
        sl_log(SL_LOG_WARN, "storage", "dir=%s op=%s err=\"%s\" msg=\"will retry\"", plog->dir, op,
               strerror(e));
        return SL_ERR_IO;
    }
    plog->failed = true;
    plog->fail_errno = e;
    plog->fail_err = e == ENOSPC || e == EDQUOT ? SL_ERR_NOSPACE : SL_ERR_IO;
    sl_log(SL_LOG_ERROR, "storage", "dir=%s op=%s err=\"%s\" msg=\"partition is now FAILED\"",
           plog->dir, op, strerror(e));
    return plog->fail_err;
}

static void read_clean_checkpoint(sl_plog_t *plog);
/* The log start offset kept by sl_plog_delete_records, or -1 when there is none (or it does not
 * parse: then the first segment's base is the start, as before any DeleteRecords). */
static int64_t read_start_file(const char *dir) {
    char path[4200];
    snprintf(path, sizeof path, "%s/" START_FILE, dir);
    FILE *f = fopen(path, "r");
    long long v = -1;
    if (f) {
        if (fscanf(f, "%lld", &v) != 1 || v < 0) {
            v = -1;
        }
        fclose(f);
    }
    return v;
}

sl_err_t sl_plog_open(const char *dir, const sl_plog_conf_t *conf, int64_t now_ms, sl_plog_t **out,
                      char *err) {
    /* A missing directory is an empty log: it is made with the first segment's files. */
    DIR *d = opendir(dir);
    if (!d && errno != ENOENT) {
        snprintf(err, SL_ERRLEN, "opendir %s: %s", dir, strerror(errno));
        return SL_ERR_IO;
    }
    int64_t *bases = NULL;
    size_t n = 0, cap = 0;
    char **leftovers = NULL; /* copies of an interrupted compaction (cleaner.h) */
    size_t n_left = 0;
    struct dirent *de;
    while (d && (de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len > 8 && !strcmp(de->d_name + len - 8, ".cleaned")) {
            leftovers = sl_xrealloc(leftovers, (n_left + 1) * sizeof *leftovers);
            leftovers[n_left++] = sl_xstrdup(de->d_name);
        }
        if (len == 24 && !strcmp(de->d_name + 20, ".log")) {
            char *end;
            long long v = strtoll(de->d_name, &end, 10);
            if (end == de->d_name + 20 && v >= 0) {
                if (n == cap) {
                    cap = cap ? cap * 2 : 16;
                    bases = sl_xrealloc(bases, cap * sizeof *bases);
                }
                bases[n++] = v;
            }
        }
    }
    if (d) {
        closedir(d);
    }
    for (size_t i = 0; i < n_left; i++) {
        char p[4200];
        snprintf(p, sizeof p, "%s/%s", dir, leftovers[i]);
        (void)sl_os.unlink(p);
        free(leftovers[i]);
    }
    if (n_left > 0) {
        sl_log(SL_LOG_INFO, "storage",
               "dir=%s op=unlink files=%zu msg=\"copies of an interrupted clean\"", dir, n_left);
    }
    free(leftovers);
    if (n > 1) {
        qsort(bases, n, sizeof *bases, cmp_i64);
    }

    sl_plog_t *plog = sl_xcalloc(1, sizeof *plog);
    plog->sync_dirs_base = -1;
    plog->dir = sl_xstrdup(dir);
    plog->conf = *conf;
    plog->first_unsynced_ms = -1;
    char marker[4200];
    snprintf(marker, sizeof marker, "%s/" CLEAN_MARKER, dir);
    bool clean = access(marker, F_OK) == 0;
    sl_err_t rc = SL_OK;
    for (size_t i = 0; i < n; i++) {
        sl_segment_t *seg = sl_segment_open(dir, bases[i], false);
        if (!seg) {
            snprintf(err, SL_ERRLEN, "open segment %" PRId64 " in %s: %s", bases[i], dir,
                     strerror(errno));
            rc = SL_ERR_IO;
            break;
        }
        push_seg(plog, seg);
        if (sl_segment_load_indexes(seg) != SL_OK) {
            snprintf(err, SL_ERRLEN, "read indexes of %s: %s", seg->path, strerror(errno));
            rc = SL_ERR_IO;
            break;
        }
        bool last = i + 1 == n;
        int64_t cut = 0;
        if (!last) {
            /* Synced at roll: trust it. Its end is the next segment's base. A compaction
             * interrupted between unlinking the indexes and renaming the new ones in left it
             * without an offset index: rebuild both from the log. */
            if (seg->size > 0 && seg->n_idx == 0) {
                rc = sl_segment_recover(seg, true, conf->index_interval_bytes, &cut);
                if (rc != SL_OK) {
                    snprintf(err, SL_ERRLEN, "reindex %s: %s", seg->path, strerror(errno));
                    break;
                }
            }
            seg->next = bases[i + 1];
            if (seg->n_tidx > 0) {
                seg->max_ts = seg->tidx[seg->n_tidx - 1].ts;
                seg->max_ts_offset = seg->next - 1;
            }
            continue;
        }
        rc = sl_segment_recover(seg, !clean, conf->index_interval_bytes, &cut);
        if (rc != SL_OK) {
            snprintf(err, SL_ERRLEN, "recover %s: %s", seg->path, strerror(errno));
            break;
        }
    }
    free(bases);
    if (rc == SL_OK && plog->n_segs == 0) {
        sl_segment_t *seg = sl_segment_open(dir, 0, true);
        if (!seg) {
            snprintf(err, SL_ERRLEN, "create segment in %s: %s", dir, strerror(errno));
            rc = SL_ERR_IO;
        } else {
            push_seg(plog, seg); /* its files come with the first append */
        }
    }
    if (rc == SL_OK && clean) {
        /* Remove the marker durably before any append, or a crash could leave a log that claims
         * to be clean with an unchecked tail. */
        if (sl_os.unlink(marker) < 0 || sl_os_fsync_dir(dir) < 0) {
            snprintf(err, SL_ERRLEN, "remove %s: %s", marker, strerror(errno));
            rc = SL_ERR_IO;
        }
    }
    if (rc != SL_OK) {
        plog->failed = true; /* no marker on close */
        sl_plog_close(plog);
        return rc;
    }
    plog->start = SL_MIN(SL_MAX(plog->segs[0]->base, read_start_file(dir)), active(plog)->next);
    plog->durable = active(plog)->next;
    read_clean_checkpoint(plog);
    if (active(plog)->created_ms == 0) {
        active(plog)->created_ms = now_ms;
    }
    *out = plog;
    return SL_OK;
}

sl_plog_t *sl_plog_open_offline(const char *dir, const sl_plog_conf_t *conf) {
    sl_plog_t *plog = sl_xcalloc(1, sizeof *plog);
    plog->sync_dirs_base = -1;
    plog->dir = sl_xstrdup(dir);
    plog->conf = *conf;
    plog->first_unsynced_ms = -1;
    plog->offline = true;
    plog->failed = true;
    plog->fail_errno = EIO;
    plog->fail_err = SL_ERR_IO;
    push_seg(plog, sl_segment_open(dir, 0, true)); /* unborn: never created */
    return plog;
}

bool sl_plog_offline(const sl_plog_t *plog) {
    return plog->offline;
}

void sl_plog_close(sl_plog_t *plog) {
    if (!plog) {
        return;
    }
    bool ok = !plog->failed;
    if (plog->clean_job) {
        sl_clean_job_cancel(plog->clean_job);
        plog->clean_job->plog = NULL; /* freed when it comes back */
    }
    /* A log never written has no files to vouch for (and a clean start needs no marker). */
    bool unwritten = plog->n_segs == 1 && plog->segs[0]->unborn;
    for (size_t i = 0; i < plog->n_segs; i++) {
        if (ok && i + 1 == plog->n_segs && sl_segment_sync(plog->segs[i]) < 0) {
            ok = false;
        }
        sl_segment_close(plog->segs[i]);
    }
    if (ok && plog->n_segs > 0 && !unwritten) {
        char marker[4200];
        snprintf(marker, sizeof marker, "%s/" CLEAN_MARKER, plog->dir);
        int fd = sl_os.open(marker, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            sl_os.close(fd);
            (void)sl_os_fsync_dir(plog->dir);
        }
    }
    free(plog->segs);
    free(plog->scan);
    free(plog->dir);
    free(plog);
}

void sl_plog_discard(sl_plog_t *plog) {
    if (!plog) {
        return;
    }
    for (size_t i = 0; i < plog->n_segs; i++) {
        sl_segment_close(plog->segs[i]);
    }
    free(plog->segs);
    free(plog->scan);
    free(plog->dir);
    free(plog);
}

void sl_plog_set_conf(sl_plog_t *plog, const sl_plog_conf_t *conf) {
    plog->conf = *conf;
}

/* Syncs the active segment and starts a new one at the end offset. */
static sl_err_t roll(sl_plog_t *plog, int64_t now_ms) {
    sl_segment_t *cur = active(plog);
    if (sl_segment_sync(cur) < 0) {
        return fail(plog, "sync-on-roll");
    }
    cur->dirty = false;
    plog->durable = cur->next;
    plog->synced_bytes = plog->appended_bytes;
    sl_segment_t *seg = sl_segment_open(plog->dir, cur->next, true);
    if (!seg) {
        return fail(plog, "roll");
    }
    seg->created_ms = now_ms;
    push_seg(plog, seg);
    return SL_OK;
}

static sl_err_t append(sl_plog_t *plog, uint8_t *batches, size_t len, int64_t now_ms,
                       int64_t *base_offset_out, bool verbatim);

sl_err_t sl_plog_append(sl_plog_t *plog, uint8_t *batches, size_t len, int64_t now_ms,
                        int64_t *base_offset_out) {
    return append(plog, batches, len, now_ms, base_offset_out, false);
}

sl_err_t sl_plog_append_replica(sl_plog_t *plog, uint8_t *batches, size_t len, int64_t now_ms) {
    if (plog->failed) {
        return SL_ERR_INVAL;
    }
    int64_t next = active(plog)->next;
    size_t pos = 0;
    while (pos < len) {
        sl_batch_info_t info;
        if (sl_batch_parse(batches + pos, len - pos, true, &info) != SL_OK ||
            info.base_offset != next) {
            return SL_ERR_CORRUPT;
        }
        next += (int64_t)info.last_offset_delta + 1;
        pos += info.total_bytes;
    }
    int64_t base;
    return len ? append(plog, batches, len, now_ms, &base, true) : SL_OK;
}

static sl_err_t append(sl_plog_t *plog, uint8_t *batches, size_t len, int64_t now_ms,
                       int64_t *base_offset_out, bool verbatim) {
    if (plog->failed) {
        return SL_ERR_INVAL;
    }
    sl_segment_t *seg = active(plog);
    if (seg->size > 0 && (seg->size + (int64_t)len > plog->conf.segment_bytes ||
                          now_ms - seg->created_ms >= plog->conf.roll_ms)) {
        sl_err_t rc = roll(plog, now_ms);
        if (rc != SL_OK) {
            return rc;
        }
        seg = active(plog);
    }
    if (seg->size + (int64_t)len > INT32_MAX) {
        return SL_ERR_LIMIT;
    }
    if (seg->sync_errno) {
        errno = seg->sync_errno;
        return fail(plog, "fdatasync");
    }
    if (sl_segment_acquire(seg) != SL_OK) {
        return fail(plog, "open");
    }
    /* Assign offsets in place; remember the index work to do once the write succeeded. */
    int64_t next = seg->next;
    size_t pos = 0;
    int64_t n_records = 0;
    while (pos < len) {
        uint8_t *p = batches + pos;
        size_t total = (size_t)sl_load_be32(p + 8) + SL_BATCH_LOG_OVERHEAD;
        SL_ASSERT(total <= len - pos);
        sl_batch_set_base_offset(p, next);
        if (plog->conf.log_append_time && !verbatim) {
            sl_batch_set_log_append_time(p, total, now_ms);
        }
        next += (int64_t)sl_load_be32(p + 23) + 1;
        n_records += (int32_t)sl_load_be32(p + 57);
        pos += total;
    }
    if (sl_os_pwrite_all(seg->fd, batches, len, seg->size) < 0) {
        sl_err_t rc = fail(plog, "append");
        /* Cut whatever part landed, so no half batch sits past the end. */
        (void)sl_os.ftruncate(seg->fd, seg->size);
        return rc;
    }
    seg->dirty = true;
    *base_offset_out = seg->next;
    pos = 0;
    while (pos < len) {
        sl_batch_info_t info;
        sl_err_t rc = sl_batch_parse(batches + pos, len - pos, false, &info);
        SL_ASSERT(rc == SL_OK);
        sl_segment_index_batch(seg, info.base_offset, info.base_offset + info.last_offset_delta,
                               info.max_timestamp, seg->size + (int64_t)pos,
                               (int64_t)info.total_bytes, plog->conf.index_interval_bytes, false);
        pos += info.total_bytes;
    }
    if (seg->created_ms == 0) {
        seg->created_ms = now_ms;
    }
    seg->size += (int64_t)len;
    plog->appended_bytes += (int64_t)len;
    plog->unsynced_records += n_records;
    if (plog->first_unsynced_ms < 0) {
        plog->first_unsynced_ms = now_ms;
    }
    if (plog->unsynced_records >= plog->conf.flush_messages) {
        return sl_plog_sync(plog);
    }
    return SL_OK;
}

sl_err_t sl_plog_sync(sl_plog_t *plog) {
    if (plog->failed) {
        return plog->fail_err;
    }
    if (plog->durable == active(plog)->next) {
        return SL_OK;
    }
    if (sl_segment_sync(active(plog)) < 0) {
        return fail(plog, "fdatasync");
    }
    active(plog)->dirty = false;
    plog->durable = active(plog)->next;
    plog->synced_bytes = plog->appended_bytes;
    plog->unsynced_records = 0;
    plog->first_unsynced_ms = -1;
    return SL_OK;
}

const char *sl_plog_unborn_path(const sl_plog_t *plog) {
    const sl_segment_t *seg = active(plog);
    return !plog->failed && seg->unborn ? seg->path : NULL;
}

bool sl_plog_files_made(sl_plog_t *plog, const char *log_path) {
    sl_segment_t *seg = active(plog);
    return !strcmp(seg->path, log_path) && sl_segment_files_made(seg);
}

bool sl_plog_writeback_due(const sl_plog_t *plog) {
    return !plog->failed && plog->appended_bytes - plog->synced_bytes >= SL_PLOG_WRITEBACK_BYTES;
}

sl_err_t sl_plog_sync_begin(sl_plog_t *plog, int *fd_out, int dir_fds_out[2], int64_t *target_out) {
    *fd_out = -1;
    dir_fds_out[0] = dir_fds_out[1] = -1;
    *target_out = plog->durable;
    if (plog->failed) {
        return plog->fail_err;
    }
    sl_segment_t *seg = active(plog);
    if (plog->durable >= seg->next) {
        return SL_OK;
    }
    if (seg->sync_errno) {
        errno = seg->sync_errno;
        return fail(plog, "fdatasync");
    }
    int fd = sl_segment_acquire(seg) == SL_OK ? sl_os.dup(seg->fd) : -1;
    if (fd >= 0 && sl_segment_dir_fds(seg, dir_fds_out) < 0) {
        int saved = errno;
        sl_os.close(fd);
        fd = -1;
        errno = saved;
    }
    if (fd < 0) {
        /* Out of descriptors: not a disk failure; the caller retries later. */
        sl_err_t rc = fail(plog, "dup");
        return plog->failed ? rc : SL_AGAIN;
    }
    *fd_out = fd;
    plog->sync_dirs_base = dir_fds_out[0] >= 0 ? seg->base : -1;
    *target_out = seg->next;
    plog->sync_bytes_target = plog->appended_bytes;
    return SL_OK;
}

sl_err_t sl_plog_sync_end(sl_plog_t *plog, int64_t target, int rc) {
    if (rc != SL_OK) {
        if (!plog->failed) {
            errno = rc == SL_ERR_NOSPACE ? ENOSPC : EIO;
            return fail(plog, "fdatasync");
        }
        return plog->fail_err;
    }
    int evict_errno = sl_segment_settle(active(plog));
    if (evict_errno && !plog->failed) {
        /* An eviction's fdatasync on the same open file may have taken the write-back error
         * this sync then did not see (segment.h, sl_segment_settle). */
        errno = evict_errno;
        return fail(plog, "fdatasync");
    }
    if (target > plog->durable) {
        plog->durable = target;
    }
    if (plog->sync_dirs_base >= 0 && active(plog)->base == plog->sync_dirs_base) {
        active(plog)->dir_unsynced = false; /* (a rolled one was synced whole at the roll) */
    }
    plog->sync_dirs_base = -1;
    if (plog->sync_bytes_target > plog->synced_bytes) {
        plog->synced_bytes = plog->sync_bytes_target;
    }
    if (plog->durable >= active(plog)->next) {
        plog->unsynced_records = 0;
        plog->first_unsynced_ms = -1;
        active(plog)->dirty = false;
    }
    return plog->failed ? plog->fail_err : SL_OK;
}

/* Whether the file system holding the log has at least SL_PLOG_RECHECK_FREE_BYTES free. */
static bool has_room(const sl_plog_t *plog) {
    struct statvfs st;
    if (statvfs(plog->dir, &st) < 0) {
        return false;
    }
    return (uint64_t)st.f_bavail * st.f_frsize >= SL_PLOG_RECHECK_FREE_BYTES;
}

/* Tries to bring a log FAILED by a full disk back: cuts anything past the last good append,
 * writes the unsynced tail of the active segment again from what the page cache holds (a failed
 * write-back may have left it clean in memory but not on disk), checks every batch of it
 * (CRC included), writes the in-memory indexes again, and fdatasyncs. Only when all of that
 * succeeded is the log OPEN again, with every offset appended so far durable. The offsets are
 * those the log already had, so nothing acknowledged moves or goes. */
static void recheck_full(sl_plog_t *plog, int64_t now_ms) {
    plog->last_recheck_ms = now_ms;
    if (!has_room(plog)) {
        return;
    }
    sl_segment_t *seg = active(plog);
    int64_t unsynced = plog->appended_bytes - plog->synced_bytes;
    int64_t from = unsynced < seg->size ? seg->size - unsynced : 0;
    size_t len = (size_t)(seg->size - from);
    uint8_t *tail = sl_xmalloc(len ? len : 1);
    const char *op = "recheck";
    errno = 0;
    bool ok = sl_segment_acquire(seg) == SL_OK && sl_os.ftruncate(seg->fd, seg->size) == 0 &&
              sl_os_pread_all(seg->fd, tail, len, from) == (ssize_t)len;
    for (size_t pos = 0; ok && pos < len;) {
        sl_batch_info_t info;
        if (sl_batch_parse(tail + pos, len - pos, true, &info) != SL_OK) {
            op = "verify";
            ok = false;
            break;
        }
        pos += info.total_bytes;
    }
    ok = ok && sl_os_pwrite_all(seg->fd, tail, len, from) == 0 &&
         sl_segment_rewrite_indexes(seg) == SL_OK && sl_os.fdatasync(seg->fd) == 0 &&
         sl_os_fsync_dir(plog->dir) == 0;
    free(tail);
    if (!ok) {
        if (!strcmp(op, "verify")) {
            /* The tail is not what was appended: only a reopen (re-scan) can settle it. */
            plog->fail_errno = EIO;
            plog->fail_err = SL_ERR_IO;
            sl_log(SL_LOG_ERROR, "storage",
                   "dir=%s op=verify msg=\"unsynced tail unreadable after a full disk; the "
                   "partition stays FAILED until a restart\"",
                   plog->dir);
        }
        return; /* still full (or out of descriptors): tried again later */
    }
    seg->dirty = false;
    seg->sync_errno = 0;
    plog->failed = false;
    plog->fail_errno = 0;
    plog->durable = seg->next;
    plog->synced_bytes = plog->appended_bytes;
    plog->unsynced_records = 0;
    plog->first_unsynced_ms = -1;
    sl_log(SL_LOG_INFO, "storage",
           "dir=%s end=%" PRId64 " msg=\"disk has room again; partition is OPEN\"", plog->dir,
           seg->next);
}

bool sl_plog_failed_by_full_disk(const sl_plog_t *plog) {
    return plog->failed && (plog->fail_errno == ENOSPC || plog->fail_errno == EDQUOT);
}

int sl_plog_tick(sl_plog_t *plog, int64_t now_ms) {
    if (sl_plog_failed_by_full_disk(plog) && now_ms - plog->last_recheck_ms >= SL_PLOG_RECHECK_MS) {
        recheck_full(plog, now_ms);
    }
    if (!plog->failed && plog->first_unsynced_ms >= 0 &&
        now_ms - plog->first_unsynced_ms >= plog->conf.flush_ms) {
        sl_err_t rc = sl_plog_sync(plog);
        if (rc != SL_OK) {
            return rc;
        }
    }
    sl_segment_t *seg = active(plog);
    if (!plog->failed && seg->size > 0 && now_ms - seg->created_ms >= plog->conf.roll_ms) {
        sl_err_t rc = roll(plog, now_ms);
        if (rc != SL_OK) {
            return rc;
        }
    }
    /* Retention: whole segments, oldest first, never the active one. */
    int deleted = 0;
    int64_t total = sl_plog_size_bytes(plog);
    while (plog->conf.cleanup_delete && plog->n_segs > 1) {
        sl_segment_t *old = plog->segs[0];
        bool by_time = plog->conf.retention_ms >= 0 && old->max_ts >= 0 &&
                       now_ms - old->max_ts > plog->conf.retention_ms;
        bool by_size =
            plog->conf.retention_bytes >= 0 && total - old->size >= plog->conf.retention_bytes;
        if (!by_time && !by_size) {
            break;
        }
        total -= old->size;
        memmove(plog->segs, plog->segs + 1, (plog->n_segs - 1) * sizeof *plog->segs);
        plog->n_segs--;
        plog->start = SL_MAX(plog->start, plog->segs[0]->base);
        sl_log(SL_LOG_INFO, "storage", "file=%s op=delete reason=%s", old->path,
               by_time ? "retention.ms" : "retention.bytes");
        sl_segment_delete(old);
        deleted++;
    }
    return deleted;
}

int64_t sl_plog_start_offset(const sl_plog_t *plog) {
    return plog->start;
}

sl_err_t sl_plog_delete_records(sl_plog_t *plog, int64_t offset) {
    if (plog->offline) {
        return SL_ERR_IO;
    }
    if (offset > sl_plog_end_offset(plog)) {
        return SL_ERR_LIMIT;
    }
    if (offset <= plog->start) {
        return SL_OK;
    }
    char path[4200], text[32];
    snprintf(path, sizeof path, "%s/" START_FILE, plog->dir);
    int n = snprintf(text, sizeof text, "%" PRId64 "\n", offset);
    if (sl_os_write_file_atomic(path, text, (size_t)n) < 0) {
        sl_log(SL_LOG_ERROR, "storage", "file=%s op=write err=\"%s\"", path, strerror(errno));
        return SL_ERR_IO;
    }
    plog->start = offset;
    /* Segments wholly below the new start go; the active one always stays. */
    while (plog->n_segs > 1 && plog->segs[1]->base <= offset) {
        sl_segment_t *old = plog->segs[0];
        memmove(plog->segs, plog->segs + 1, (plog->n_segs - 1) * sizeof *plog->segs);
        plog->n_segs--;
        sl_log(SL_LOG_INFO, "storage", "file=%s op=delete reason=delete-records", old->path);
        sl_segment_delete(old);
    }
    return SL_OK;
}

int64_t sl_plog_end_offset(const sl_plog_t *plog) {
    return active(plog)->next;
}

int64_t sl_plog_durable_offset(const sl_plog_t *plog) {
    return plog->durable;
}

bool sl_plog_failed(const sl_plog_t *plog) {
    return plog->failed;
}

int64_t sl_plog_size_bytes(const sl_plog_t *plog) {
    int64_t n = 0;
    for (size_t i = 0; i < plog->n_segs; i++) {
        n += plog->segs[i]->size;
    }
    return n;
}

int sl_plog_segment_count(const sl_plog_t *plog) {
    return (int)plog->n_segs;
}

/* The segment holding `offset` (largest base <= offset). */
static size_t find_seg(const sl_plog_t *plog, int64_t offset) {
    size_t lo = 0, hi = plog->n_segs;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (plog->segs[mid]->base <= offset) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo == 0 ? 0 : lo - 1;
}

/* Walks batch headers of `seg` from `pos`, reading SCAN_CHUNK bytes at a time. For each batch it
 * calls `visit`, which returns false to stop. Returns SL_OK or SL_ERR_IO. */
typedef bool visit_fn(const sl_batch_info_t *info, int64_t pos, void *opaque);

static sl_err_t walk(sl_plog_t *plog, sl_segment_t *seg, int64_t pos, visit_fn *visit,
                     void *opaque) {
    if (pos < seg->size && sl_segment_acquire(seg) != SL_OK) {
        return SL_ERR_IO;
    }
    if (!plog->scan) {
        plog->scan = sl_xmalloc(SCAN_CHUNK);
    }
    while (pos < seg->size) {
        ssize_t r = sl_os_pread_all(seg->fd, plog->scan, SCAN_CHUNK, pos);
        if (r < 0) {
            return SL_ERR_IO;
        }
        size_t off = 0;
        while (off + SL_BATCH_HEADER_BYTES <= (size_t)r && pos + (int64_t)off < seg->size) {
            sl_batch_info_t info;
            /* Header only: bytes past the chunk belong to the batch body. */
            int32_t blen = (int32_t)sl_load_be32(plog->scan + off + 8);
            uint8_t hdr[SL_BATCH_HEADER_BYTES];
            memcpy(hdr, plog->scan + off, sizeof hdr);
            sl_store_be32(hdr + 8, SL_BATCH_HEADER_BYTES - SL_BATCH_LOG_OVERHEAD);
            if (blen < SL_BATCH_HEADER_BYTES - SL_BATCH_LOG_OVERHEAD ||
                sl_batch_parse(hdr, sizeof hdr, false, &info) != SL_OK) {
                return SL_ERR_CORRUPT;
            }
            info.batch_length = blen;
            info.total_bytes = (size_t)blen + SL_BATCH_LOG_OVERHEAD;
            if (!visit(&info, pos + (int64_t)off, opaque)) {
                return SL_OK;
            }
            off += info.total_bytes;
        }
        if (off == 0) {
            return SL_OK; /* fewer than a header's bytes left: end of segment */
        }
        pos += (int64_t)off;
    }
    return SL_OK;
}

typedef struct read_ctx {
    int64_t offset, limit;
    size_t max_bytes;
    int64_t start_pos, end_pos;
    int64_t first_offset;
} read_ctx_t;

static bool visit_read(const sl_batch_info_t *info, int64_t pos, void *opaque) {
    read_ctx_t *c = opaque;
    int64_t last = info->base_offset + info->last_offset_delta;
    if (c->start_pos < 0) {
        if (last < c->offset) {
            return true; /* before the wanted offset */
        }
        if (info->base_offset >= c->limit) {
            return false;
        }
        c->start_pos = pos;
        c->end_pos = pos + (int64_t)info->total_bytes;
        c->first_offset = info->base_offset;
        return true;
    }
    if (info->base_offset >= c->limit ||
        (size_t)(pos + (int64_t)info->total_bytes - c->start_pos) > c->max_bytes) {
        return false;
    }
    c->end_pos = pos + (int64_t)info->total_bytes;
    return true;
}

sl_err_t sl_plog_read(sl_plog_t *plog, int64_t offset, int64_t limit_offset, size_t max_bytes,
                      sl_plog_slice_t *slice) {
    memset(slice, 0, sizeof *slice);
    slice->fd = -1;
    if (plog->offline) {
        return SL_ERR_IO;
    }
    int64_t end = sl_plog_end_offset(plog);
    if (offset < plog->start || offset > end) {
        return SL_ERR_LIMIT;
    }
    if (offset >= limit_offset || offset == end) {
        return SL_OK;
    }
    for (size_t i = find_seg(plog, offset); i < plog->n_segs; i++) {
        sl_segment_t *seg = plog->segs[i];
        read_ctx_t c = {offset, limit_offset, max_bytes, -1, -1, -1};
        int64_t from = seg->base <= offset ? sl_segment_lookup(seg, offset) : 0;
        sl_err_t rc = walk(plog, seg, from, visit_read, &c);
        if (rc != SL_OK) {
            sl_log(SL_LOG_ERROR, "storage", "file=%s op=read offset=%" PRId64 " err=\"%s\"",
                   seg->path, offset, sl_err_str(rc));
            return SL_ERR_IO;
        }
        if (c.start_pos >= 0) {
            slice->fd = sl_segment_acquire(seg) == SL_OK ? sl_os.dup(seg->fd) : -1;
            if (slice->fd < 0) {
                return SL_ERR_IO;
            }
            slice->pos = c.start_pos;
            slice->len = (size_t)(c.end_pos - c.start_pos);
            slice->first_offset = c.first_offset;
            return SL_OK;
        }
        /* Nothing at or after `offset` here (e.g. a segment ending in it); try the next. */
    }
    return SL_OK;
}

/* The time search in one segment: batches are walked from the time index's hint; the first one
 * that can hold a match (a record at or after `min_offset`, maxTimestamp >= ts) is read whole and
 * its records decoded. A batch whose only matches lie below `min_offset` is passed over. */
typedef struct time_ctx {
    sl_plog_t *plog;
    sl_segment_t *seg;
    sl_decomp_t *d;
    size_t max_decompressed;
    int64_t ts, min_offset;
    int64_t offset, found_ts;
    sl_err_t rc;
} time_ctx_t;

static bool visit_time(const sl_batch_info_t *info, int64_t pos, void *opaque) {
    time_ctx_t *c = opaque;
    if (info->max_timestamp < c->ts ||
        info->base_offset + info->last_offset_delta < c->min_offset) {
        return true;
    }
    if ((int64_t)info->total_bytes > c->seg->size - pos) {
        sl_log(SL_LOG_ERROR, "storage",
               "file=%s op=time-search pos=%" PRId64 " msg=\"batch runs past the segment\"",
               c->seg->path, pos);
        c->rc = SL_ERR_IO;
        return false;
    }
    uint8_t *buf = sl_xmalloc(info->total_bytes);
    sl_batch_info_t full;
    if (sl_os_pread_all(c->seg->fd, buf, info->total_bytes, pos) != (ssize_t)info->total_bytes ||
        sl_batch_parse(buf, info->total_bytes, false, &full) != SL_OK ||
        sl_batch_find_record_time(buf, &full, c->d, c->max_decompressed, c->min_offset, c->ts,
                                  &c->offset, &c->found_ts) != SL_OK) {
        sl_log(SL_LOG_ERROR, "storage",
               "file=%s op=time-search pos=%" PRId64 " msg=\"batch unreadable\"", c->seg->path,
               pos);
        c->rc = SL_ERR_IO;
    }
    free(buf);
    return c->rc == SL_OK && c->offset < 0;
}

static sl_err_t time_search(sl_plog_t *plog, sl_segment_t *seg, time_ctx_t *c) {
    c->plog = plog;
    c->seg = seg;
    c->offset = c->found_ts = -1;
    c->rc = SL_OK;
    sl_err_t rc = walk(plog, seg, sl_segment_lookup_time(seg, c->ts), visit_time, c);
    return rc != SL_OK ? SL_ERR_IO : c->rc;
}

sl_err_t sl_plog_offset_for_time(sl_plog_t *plog, int64_t ts, sl_decomp_t *d,
                                 size_t max_decompressed, int64_t *offset_out,
                                 int64_t *timestamp_out) {
    *offset_out = *timestamp_out = -1;
    if (plog->offline) {
        return SL_ERR_IO;
    }
    for (size_t i = find_seg(plog, plog->start); i < plog->n_segs; i++) {
        sl_segment_t *seg = plog->segs[i];
        if (seg->max_ts < ts) {
            continue;
        }
        time_ctx_t c = {
            .d = d, .max_decompressed = max_decompressed, .ts = ts, .min_offset = plog->start};
        if (time_search(plog, seg, &c) != SL_OK) {
            return SL_ERR_IO;
        }
        if (c.offset >= 0) {
            *offset_out = c.offset;
            *timestamp_out = c.found_ts;
            return SL_OK;
        }
    }
    return SL_OK;
}

sl_err_t sl_plog_max_timestamp(sl_plog_t *plog, sl_decomp_t *d, size_t max_decompressed,
                               int64_t *ts_out, int64_t *offset_out) {
    *ts_out = *offset_out = -1;
    if (plog->offline) {
        return SL_ERR_IO;
    }
    /* The earliest segment with the largest maxTimestamp, then its first record carrying it.
     * Only the segment holding the log start offset can have records below it (DeleteRecords);
     * if its maximum lies only there, it is left out and the search runs once more. */
    sl_segment_t *skip = NULL;
    for (int round = 0; round < 2; round++) {
        sl_segment_t *best = NULL;
        for (size_t i = find_seg(plog, plog->start); i < plog->n_segs; i++) {
            sl_segment_t *seg = plog->segs[i];
            if (seg != skip && seg->max_ts >= 0 && (!best || seg->max_ts > best->max_ts)) {
                best = seg;
            }
        }
        if (!best) {
            return SL_OK;
        }
        time_ctx_t c = {.d = d,
                        .max_decompressed = max_decompressed,
                        .ts = best->max_ts,
                        .min_offset = plog->start};
        if (time_search(plog, best, &c) != SL_OK) {
            return SL_ERR_IO;
        }
        if (c.offset >= 0) {
            *ts_out = c.found_ts;
            *offset_out = c.offset;
            return SL_OK;
        }
        skip = best;
    }
    return SL_OK;
}

/* Walks for sl_plog_walk_tail / sl_plog_walk_from: batches whose last offset is below `from`
 * are skipped; a control batch's marker type is read from its record. */
typedef struct pub_ctx {
    sl_segment_t *seg;
    int64_t from;
    sl_plog_visit_fn *fn;
    void *opaque;
    bool stopped;
} pub_ctx_t;

static bool visit_pub(const sl_batch_info_t *info, int64_t pos, void *opaque) {
    pub_ctx_t *c = opaque;
    if (info->base_offset + info->last_offset_delta < c->from) {
        return true;
    }
    int control = -1;
    if (info->attributes & SL_BATCH_ATTR_CONTROL) {
        uint8_t buf[256];
        size_t n = info->total_bytes < sizeof buf ? info->total_bytes : sizeof buf;
        if (sl_os_pread_all(c->seg->fd, buf, n, pos) == (ssize_t)n) {
            control = sl_batch_control_type(buf, n);
        }
    }
    if (!c->fn(info, control, c->opaque)) {
        c->stopped = true;
        return false;
    }
    return true;
}

static sl_err_t walk_segs(sl_plog_t *plog, size_t first, pub_ctx_t *c) {
    for (size_t i = first; i < plog->n_segs && !c->stopped; i++) {
        c->seg = plog->segs[i];
        sl_err_t rc = walk(plog, plog->segs[i], 0, visit_pub, c);
        if (rc != SL_OK) {
            return rc;
        }
    }
    return SL_OK;
}

sl_err_t sl_plog_walk_tail(sl_plog_t *plog, int n_segments, sl_plog_visit_fn *fn, void *opaque) {
    pub_ctx_t c = {NULL, INT64_MIN, fn, opaque, false};
    return walk_segs(plog,
                     plog->n_segs > (size_t)n_segments ? plog->n_segs - (size_t)n_segments : 0, &c);
}

sl_err_t sl_plog_walk_from(sl_plog_t *plog, int64_t offset, sl_plog_visit_fn *fn, void *opaque) {
    pub_ctx_t c = {NULL, offset, fn, opaque, false};
    return walk_segs(plog, find_seg(plog, offset), &c);
}

typedef struct cut_ctx {
    int64_t offset;
    int64_t pos; /* byte position of the batch starting at `offset`, or -1 */
} cut_ctx_t;

static bool visit_cut(const sl_batch_info_t *info, int64_t pos, void *opaque) {
    cut_ctx_t *c = opaque;
    if (info->base_offset >= c->offset) {
        c->pos = info->base_offset == c->offset ? pos : -1;
        return false;
    }
    return true;
}

sl_err_t sl_plog_truncate(sl_plog_t *plog, int64_t offset) {
    if (plog->offline || plog->failed) {
        return SL_ERR_IO;
    }
    if (offset >= active(plog)->next) {
        return SL_OK;
    }
    if (offset < plog->start) {
        return SL_ERR_LIMIT;
    }
    size_t at = find_seg(plog, offset);
    sl_segment_t *seg = plog->segs[at];
    cut_ctx_t c = {offset, -1};
    if (offset == seg->base) {
        c.pos = 0;
    } else {
        sl_err_t rc = walk(plog, seg, sl_segment_lookup(seg, offset), visit_cut, &c);
        if (rc != SL_OK) {
            return rc;
        }
    }
    if (c.pos < 0) {
        return SL_ERR_INVAL; /* not a batch boundary */
    }
    /* Whole segments past it go, newest first, and the one starting at it unless it is the
     * first (which stays, emptied). */
    size_t keep = c.pos == 0 && at > 0 ? at : at + 1;
    while (plog->n_segs > keep) {
        sl_segment_t *old = active(plog);
        plog->n_segs--;
        sl_log(SL_LOG_INFO, "storage", "file=%s op=delete reason=truncate offset=%" PRId64,
               old->path, offset);
        sl_segment_delete(old);
    }
    seg = active(plog);
    if (seg->next <= offset) {
        c.pos = seg->size; /* the previous segment ends exactly there */
    }
    if (c.pos < seg->size) {
        int64_t cut = 0;
        if (sl_segment_acquire(seg) != SL_OK || sl_os.ftruncate(seg->fd, (off_t)c.pos) < 0) {
            return fail(plog, "truncate");
        }
        seg->size = c.pos;
        if (sl_segment_recover(seg, true, plog->conf.index_interval_bytes, &cut) != SL_OK ||
            sl_segment_sync(seg) < 0) {
            return fail(plog, "truncate");
        }
        seg->dirty = false;
    }
    seg->next = offset;
    plog->durable = offset; /* the cut segment was synced above, the ones before it at roll */
    plog->synced_bytes = plog->appended_bytes;
    plog->unsynced_records = 0;
    plog->first_unsynced_ms = -1;
    return SL_OK;
}

sl_err_t sl_plog_remove_dir(const char *dir) {
    return sl_os_rmtree(dir) == 0 ? SL_OK : SL_ERR_IO;
}

void sl_plog_set_open_segments_max(size_t n) {
    sl_segment_set_open_max(n);
}

size_t sl_plog_open_segments(void) {
    return sl_segment_open_count();
}

/* ---- compaction ---- */

static void read_clean_checkpoint(sl_plog_t *plog) {
    char p[4200];
    snprintf(p, sizeof p, "%s/" CLEAN_CHECKPOINT, plog->dir);
    FILE *f = fopen(p, "re");
    if (!f) {
        return;
    }
    long long base, ms, tombs;
    while (fscanf(f, "%lld %lld %lld", &base, &ms, &tombs) == 3) {
        size_t i = find_seg(plog, base);
        /* Never the last segment: a clean never takes the one a start treats as active. */
        if (i + 1 < plog->n_segs && plog->segs[i]->base == base && ms >= 0 && tombs >= 0) {
            plog->segs[i]->cleaned_ms = ms;
            plog->segs[i]->tombstones = tombs;
        }
    }
    fclose(f);
}

static void write_clean_checkpoint(sl_plog_t *plog) {
    sl_buf_t b = {0};
    for (size_t i = 0; i < plog->n_segs; i++) {
        const sl_segment_t *seg = plog->segs[i];
        if (seg->cleaned_ms >= 0) {
            char line[96];
            int n = snprintf(line, sizeof line, "%" PRId64 " %" PRId64 " %" PRId64 "\n", seg->base,
                             seg->cleaned_ms, seg->tombstones);
            sl_buf_append(&b, line, (size_t)n);
        }
    }
    char p[4200], tmp[4300];
    snprintf(p, sizeof p, "%s/" CLEAN_CHECKPOINT, plog->dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", p);
    int fd = sl_os.open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || sl_os_pwrite_all(fd, b.data, b.len, 0) < 0 || sl_os.rename(tmp, p) < 0) {
        sl_log(SL_LOG_WARN, "storage", "file=%s op=write err=\"%s\"", p, strerror(errno));
    }
    if (fd >= 0) {
        sl_os.close(fd);
    }
    sl_buf_fini(&b);
}

sl_clean_job_t *sl_plog_clean_prepare(sl_plog_t *plog, int64_t now_ms) {
    if (!plog->conf.cleanup_compact || plog->failed || plog->offline || plog->clean_job) {
        return NULL;
    }
    size_t end = plog->n_segs - 1; /* never the active segment */
    if (active(plog)->unborn && end > 0) {
        end--; /* with no active file, a restart takes this one for the active segment */
    }
    int64_t total = 0, dirty = 0;
    bool due = false;
    for (size_t i = 0; i < end; i++) {
        sl_segment_t *seg = plog->segs[i];
        if (plog->conf.min_compaction_lag_ms > 0 &&
            seg->max_ts > now_ms - plog->conf.min_compaction_lag_ms) {
            end = i; /* holds records younger than min.compaction.lag.ms */
            break;
        }
        total += seg->size;
        if (seg->cleaned_ms < 0) {
            dirty += seg->size;
            int64_t first_ts = seg->n_tidx > 0 ? seg->tidx[0].ts : seg->max_ts;
            if (plog->conf.max_compaction_lag_ms < INT64_MAX && first_ts >= 0 &&
                now_ms - first_ts >= plog->conf.max_compaction_lag_ms) {
                due = true;
            }
        } else if (seg->tombstones > 0 &&
                   now_ms - seg->cleaned_ms >= plog->conf.delete_retention_ms) {
            due = true;
        }
    }
    if (end == 0) {
        return NULL;
    }
    if (dirty > 0 && (double)dirty >= plog->conf.min_cleanable_dirty_ratio * (double)total) {
        due = true;
    }
    if (!due) {
        return NULL;
    }
    sl_clean_job_t *job = sl_xcalloc(1, sizeof *job);
    job->segs = sl_xcalloc(end, sizeof *job->segs);
    job->n_segs = end;
    for (size_t i = 0; i < end; i++) {
        sl_segment_t *seg = plog->segs[i];
        sl_clean_seg_t *cs = &job->segs[i];
        cs->seg = seg;
        cs->base = seg->base;
        cs->next = seg->next;
        cs->path = sl_xstrdup(seg->path);
        cs->cleaned_ms = seg->cleaned_ms;
    }
    job->now_ms = now_ms;
    job->delete_retention_ms = plog->conf.delete_retention_ms;
    job->index_interval_bytes = plog->conf.index_interval_bytes;
    job->rc = SL_ERR_INVAL; /* until it has run */
    job->plog = plog;
    plog->clean_job = job;
    return job;
}

/* The index in plog->segs of the segment starting at `base`, or -1. */
static ssize_t seg_index(const sl_plog_t *plog, int64_t base) {
    size_t i = find_seg(plog, base);
    return i < plog->n_segs && plog->segs[i]->base == base ? (ssize_t)i : -1;
}

/* The names of segment `seg`'s index files (`idx`, `tidx`) and of its copy's three files. */
typedef struct swap_names {
    char idx[4200], tidx[4200], cidx[4200], ctidx[4200], clog[4200];
} swap_names_t;

static void swap_names(const sl_segment_t *seg, swap_names_t *n) {
    size_t stem = strlen(seg->path) - 4;
    snprintf(n->idx, sizeof n->idx, "%.*s.index", (int)stem, seg->path);
    snprintf(n->tidx, sizeof n->tidx, "%.*s.timeindex", (int)stem, seg->path);
    sl_clean_copy_path(seg->path, ".index", n->cidx, sizeof n->cidx);
    sl_clean_copy_path(seg->path, ".timeindex", n->ctidx, sizeof n->ctidx);
    sl_clean_copy_path(seg->path, ".log", n->clog, sizeof n->clog);
}

/* Steps 2-3 of the swap (plog.h; step 1 was the cleaner's) for the segments at `at[0..n)`: the
 * renames for all of them, then the reopens. No directory sync here: the event loop does not
 * wait for one. */
static sl_err_t swap_in(sl_plog_t *plog, const size_t *at, size_t n) {
    swap_names_t nm;
    for (size_t k = 0; k < n; k++) {
        sl_segment_t *old = plog->segs[at[k]];
        swap_names(old, &nm);
        if (sl_os.rename(nm.ctidx, nm.tidx) < 0 || sl_os.rename(nm.clog, old->path) < 0 ||
            sl_os.rename(nm.cidx, nm.idx) < 0) {
            return fail(plog, "clean-rename");
        }
    }
    for (size_t k = 0; k < n; k++) {
        sl_segment_t *old = plog->segs[at[k]];
        sl_segment_t *seg = sl_segment_open(plog->dir, old->base, false);
        if (!seg) {
            return fail(plog, "clean-open");
        }
        if (sl_segment_load_indexes(seg) != SL_OK) {
            sl_segment_close(seg);
            return fail(plog, "clean-load-index");
        }
        seg->next = old->next;
        seg->max_ts = old->max_ts;
        seg->max_ts_offset = old->max_ts_offset;
        seg->created_ms = old->created_ms;
        seg->cleaned_ms = old->cleaned_ms;
        plog->segs[at[k]] = seg;
        sl_segment_retire(old);
    }
    return SL_OK;
}

void sl_plog_clean_finish(sl_plog_t *plog, sl_clean_job_t *job) {
    uint64_t t0 = sl_mono_ns();
    plog->clean_job = NULL;
    if (job->rc != SL_OK) {
        if (job->rc != SL_ERR_INVAL) {
            sl_log(SL_LOG_ERROR, "storage", "dir=%s op=clean err=\"%s\" msg=\"not compacted\"",
                   plog->dir, sl_err_str(job->rc));
        }
        for (size_t k = 0; k < job->n_segs; k++) {
            sl_clean_remove_copies(&job->segs[k]);
        }
        sl_clean_job_free(job);
        return;
    }
    int64_t before = 0, after = 0;
    size_t *at = sl_xmalloc((job->n_segs + 1) * sizeof *at), n_at = 0;
    for (size_t k = 0; k < job->n_segs; k++) {
        sl_clean_seg_t *cs = &job->segs[k];
        ssize_t i = seg_index(plog, cs->base);
        if (i < 0 || !cs->done) {
            sl_clean_remove_copies(cs); /* deleted meanwhile, or not reached */
            cs->done = false;
            continue;
        }
        if (cs->rewritten) {
            at[n_at++] = (size_t)i;
        }
    }
    if (plog->failed || swap_in(plog, at, n_at) != SL_OK) {
        for (size_t k = 0; k < job->n_segs; k++) {
            sl_clean_remove_copies(&job->segs[k]);
        }
        free(at);
        sl_clean_job_free(job);
        return;
    }
    free(at);
    for (size_t k = 0; k < job->n_segs; k++) {
        sl_clean_seg_t *cs = &job->segs[k];
        ssize_t i = cs->done ? seg_index(plog, cs->base) : -1;
        if (i < 0) {
            continue;
        }
        sl_segment_t *seg = plog->segs[i];
        if (seg->cleaned_ms < 0) {
            seg->cleaned_ms = job->now_ms;
        }
        seg->tombstones = cs->tombstones;
        before += cs->old_size;
        after += cs->new_size;
    }
    int emptied = 0;
    /* Empty segments go, but the first (it holds the log start offset) and the active one, and
     * the one a restart would take for the active one. */
    for (size_t i = 1; i + 1 < plog->n_segs && !plog->failed;) {
        sl_segment_t *seg = plog->segs[i];
        bool last_on_disk = active(plog)->unborn && i + 2 == plog->n_segs;
        if (seg->size > 0 || seg->cleaned_ms < 0 || last_on_disk) {
            i++;
            continue;
        }
        plog->segs[i - 1]->next = seg->next;
        memmove(plog->segs + i, plog->segs + i + 1, (plog->n_segs - i - 1) * sizeof *plog->segs);
        plog->n_segs--;
        sl_segment_delete(seg);
        emptied++;
    }
    write_clean_checkpoint(plog);
    sl_log(SL_LOG_INFO, "storage",
           "dir=%s op=clean segments=%zu emptied=%d bytes_before=%" PRId64 " bytes_after=%" PRId64
           " duration_ms=%" PRIu64 " swap_ms=%.1f",
           plog->dir, job->n_segs, emptied, before, after, job->duration_us / 1000,
           (double)(sl_mono_ns() - t0) / 1e6);
    sl_clean_job_free(job);
}

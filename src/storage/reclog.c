/* reclog.c -- append-only file of CRC'd records (see reclog.h). */
#include "storage/reclog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/crc32c.h"
#include "common/log.h"
#include "common/os.h"
#include "storage/segment.h"

#define MAX_RECORD_BYTES (64u << 20)

struct sl_reclog {
    int fd;
    off_t size;
    /* Logical positions: bytes ever appended (compaction does not move them back). */
    uint64_t end, durable, wanted, sync_target;
    bool sync_inflight;
    bool failed; /* a sync failed: nothing appended since is trusted (fsyncgate) */
    char path[4096];
};

sl_writer_t sl_reclog_begin(sl_buf_t *buf) {
    sl_writer_t wr = {buf};
    sl_wr_i32(&wr, 0);
    sl_wr_i32(&wr, 0);
    return wr;
}

sl_err_t sl_reclog_append(sl_reclog_t *rl, sl_buf_t *buf) {
    if (rl->failed) {
        sl_buf_fini(buf);
        return SL_ERR_IO;
    }
    size_t body = buf->len - 8;
    sl_store_be32(buf->data, (uint32_t)body);
    sl_store_be32(buf->data + 4, sl_crc32c(0, buf->data + 8, body));
    if (sl_os_pwrite_all(rl->fd, buf->data, buf->len, rl->size) < 0) {
        sl_err_t rc = errno == ENOSPC ? SL_ERR_NOSPACE : SL_ERR_IO;
        sl_log(SL_LOG_ERROR, "storage", "file=%s op=append err=\"%s\"", rl->path, strerror(errno));
        if (sl_os.ftruncate(rl->fd, rl->size) < 0) {
            sl_log(SL_LOG_ERROR, "storage", "file=%s op=truncate err=\"%s\"", rl->path,
                   strerror(errno));
        }
        sl_buf_fini(buf);
        return rc;
    }
    rl->size += (off_t)buf->len;
    rl->end += buf->len;
    sl_buf_fini(buf);
    return SL_OK;
}

static void sync_failed(sl_reclog_t *rl, int err) {
    sl_log(SL_LOG_ERROR, "storage", "file=%s op=fdatasync err=\"%s\"", rl->path, strerror(err));
    rl->failed = true;
}

sl_err_t sl_reclog_sync(sl_reclog_t *rl) {
    if (rl->failed) {
        return SL_ERR_IO;
    }
    if (rl->durable == rl->end) {
        return SL_OK;
    }
    if (sl_os.fdatasync(rl->fd) < 0) {
        int err = errno;
        sync_failed(rl, err);
        return err == ENOSPC ? SL_ERR_NOSPACE : SL_ERR_IO;
    }
    rl->durable = rl->end;
    return SL_OK;
}

uint64_t sl_reclog_want_sync(sl_reclog_t *rl) {
    rl->wanted = rl->end;
    return rl->end;
}

bool sl_reclog_sync_begin(sl_reclog_t *rl, int *fd_out) {
    if (rl->failed || rl->sync_inflight || rl->wanted <= rl->durable) {
        return false;
    }
    int fd = sl_os.dup(rl->fd);
    if (fd < 0) {
        if (!sl_errno_transient(errno)) {
            sync_failed(rl, errno);
        }
        return false; /* out of descriptors: still wanted, so the next call tries again */
    }
    rl->sync_inflight = true;
    rl->sync_target = rl->end;
    *fd_out = fd;
    return true;
}

void sl_reclog_sync_end(sl_reclog_t *rl, int rc) {
    rl->sync_inflight = false;
    if (rc != SL_OK) {
        sync_failed(rl, rc == SL_ERR_NOSPACE ? ENOSPC : EIO);
    } else if (rl->sync_target > rl->durable) {
        rl->durable = rl->sync_target;
    }
}

bool sl_reclog_durable(const sl_reclog_t *rl, uint64_t pos) {
    return rl->durable >= pos;
}

bool sl_reclog_failed(const sl_reclog_t *rl) {
    return rl->failed;
}

int64_t sl_reclog_size(const sl_reclog_t *rl) {
    return (int64_t)rl->size;
}

sl_reclog_t *sl_reclog_open(const char *path, sl_reclog_replay_fn *replay, void *opaque,
                            char *err) {
    sl_reclog_t *rl = sl_xcalloc(1, sizeof *rl);
    snprintf(rl->path, sizeof rl->path, "%s", path);
    rl->fd = sl_os.open(rl->path, O_RDWR | O_CREAT, 0644);
    struct stat st;
    /* An empty file may be new: its directory entry must be durable before it holds data. */
    if (rl->fd < 0 || fstat(rl->fd, &st) < 0 ||
        (st.st_size == 0 && sl_os_fsync_parent(rl->path) < 0)) {
        snprintf(err, SL_ERRLEN, "open %s: %s", rl->path, strerror(errno));
        if (rl->fd >= 0) {
            sl_os.close(rl->fd);
        }
        free(rl);
        return NULL;
    }
    /* Read the whole file at once: its owner compacts it, so it stays small. */
    size_t len = (size_t)st.st_size;
    uint8_t *data = sl_xmalloc(len ? len : 1);
    ssize_t got = sl_os_pread_all(rl->fd, data, len, 0);
    size_t pos = 0;
    while (got == (ssize_t)len && pos + 8 <= len) {
        uint32_t n = sl_load_be32(data + pos), crc = sl_load_be32(data + pos + 4);
        if (n == 0 || n > MAX_RECORD_BYTES || pos + 8 + n > len ||
            sl_crc32c(0, data + pos + 8, n) != crc) {
            break;
        }
        if (replay(opaque, data + pos + 8, n) != SL_OK) {
            break;
        }
        pos += 8 + n;
    }
    free(data);
    if (pos != len) {
        sl_log(SL_LOG_WARN, "storage", "file=%s op=truncate from=%zu to=%zu msg=\"torn tail\"",
               rl->path, len, pos);
        if (sl_os.ftruncate(rl->fd, (off_t)pos) < 0 || sl_os.fdatasync(rl->fd) < 0) {
            snprintf(err, SL_ERRLEN, "truncate %s: %s", rl->path, strerror(errno));
            sl_os.close(rl->fd);
            free(rl);
            return NULL;
        }
    }
    rl->size = (off_t)pos;
    return rl;
}

void sl_reclog_close(sl_reclog_t *rl) {
    if (!rl) {
        return;
    }
    if (sl_reclog_sync(rl) != SL_OK) {
        sl_log(SL_LOG_ERROR, "storage", "file=%s msg=\"not synced at close\"", rl->path);
    }
    sl_os.close(rl->fd);
    free(rl);
}

sl_err_t sl_reclog_compact(sl_reclog_t *rl, sl_reclog_emit_fn *emit, void *opaque) {
    if (rl->failed) {
        return SL_ERR_IO;
    }
    sl_reclog_t fresh = {0};
    snprintf(fresh.path, sizeof fresh.path, "%s.compact", rl->path);
    fresh.fd = sl_os.open(fresh.path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fresh.fd < 0) {
        return SL_ERR_IO;
    }
    sl_err_t rc = emit(&fresh, opaque);
    if (rc == SL_OK && sl_os.fsync(fresh.fd) < 0) {
        rc = SL_ERR_IO;
    }
    if (rc == SL_OK && sl_os.rename(fresh.path, rl->path) < 0) {
        rc = SL_ERR_IO;
    }
    if (rc != SL_OK) {
        sl_os.close(fresh.fd);
        sl_os.unlink(fresh.path);
        return rc;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", rl->path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        (void)sl_os_fsync_dir(dir);
    }
    sl_os.close(rl->fd);
    rl->fd = fresh.fd;
    rl->size = fresh.size;
    rl->durable = rl->end; /* the fresh file holds the live state of every append, synced */
    return SL_OK;
}

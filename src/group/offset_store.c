/* offset_store.c -- the committed-offsets log (see offset_store.h).
 *
 *   OFFSET  SIZE  FIELD
 *        0     4  length   bytes of type + payload (big-endian)
 *        4     4  crc      CRC-32C of type + payload
 *        8     1  type     1 offset, 2 offset delete, 3 group, 4 group delete
 *        9     …  payload  group (string); then for 1/2: topic (string), partition (int32);
 *                          for 1: offset (int64), leader epoch (int32), metadata (nullable
 *                          string), commit time (int64); for 3: blob (bytes)
 * Replay stops at the first record that fails its length or CRC check and truncates there. */
#include "offset_store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/codec.h"
#include "common/crc32c.h"
#include "common/log.h"
#include "common/os.h"

#define MAX_RECORD_BYTES (64u << 20)

enum { REC_OFFSET = 1, REC_OFFSET_DEL = 2, REC_GROUP = 3, REC_GROUP_DEL = 4 };

struct sl_offset_store {
    int fd;
    off_t size;
    char path[4096];
    bool dirty;
};

static sl_err_t append(sl_offset_store_t *os, sl_buf_t *rec) {
    size_t body = rec->len - 8;
    sl_store_be32(rec->data, (uint32_t)body);
    sl_store_be32(rec->data + 4, sl_crc32c(0, rec->data + 8, body));
    if (sl_os_pwrite_all(os->fd, rec->data, rec->len, os->size) < 0) {
        sl_err_t rc = errno == ENOSPC ? SL_ERR_NOSPACE : SL_ERR_IO;
        sl_log(SL_LOG_ERROR, "storage", "file=%s op=append err=\"%s\"", os->path, strerror(errno));
        if (sl_os.ftruncate(os->fd, os->size) < 0) {
            sl_log(SL_LOG_ERROR, "storage", "file=%s op=truncate err=\"%s\"", os->path,
                   strerror(errno));
        }
        sl_buf_fini(rec);
        return rc;
    }
    os->size += (off_t)rec->len;
    os->dirty = true;
    sl_buf_fini(rec);
    return SL_OK;
}

static sl_writer_t begin(sl_buf_t *buf, int type, const char *group) {
    sl_writer_t wr = {buf};
    sl_wr_i32(&wr, 0);
    sl_wr_i32(&wr, 0);
    sl_wr_i8(&wr, (int8_t)type);
    sl_wr_strz(&wr, false, group);
    return wr;
}

sl_err_t sl_offset_store_put(sl_offset_store_t *os, const char *group, const char *topic,
                             int32_t partition, const sl_committed_t *c) {
    sl_buf_t buf = {0};
    sl_writer_t wr = begin(&buf, REC_OFFSET, group);
    sl_wr_strz(&wr, false, topic);
    sl_wr_i32(&wr, partition);
    sl_wr_i64(&wr, c->offset);
    sl_wr_i32(&wr, c->leader_epoch);
    sl_wr_strz(&wr, false, c->metadata);
    sl_wr_i64(&wr, c->commit_ms);
    return append(os, &buf);
}

sl_err_t sl_offset_store_del(sl_offset_store_t *os, const char *group, const char *topic,
                             int32_t partition) {
    sl_buf_t buf = {0};
    sl_writer_t wr = begin(&buf, REC_OFFSET_DEL, group);
    sl_wr_strz(&wr, false, topic);
    sl_wr_i32(&wr, partition);
    return append(os, &buf);
}

sl_err_t sl_offset_store_group(sl_offset_store_t *os, const char *group, const uint8_t *blob,
                               size_t len) {
    sl_buf_t buf = {0};
    sl_writer_t wr = begin(&buf, REC_GROUP, group);
    sl_bytes_t b = {blob ? blob : (const uint8_t *)"", len};
    sl_wr_bytes(&wr, false, b);
    return append(os, &buf);
}

sl_err_t sl_offset_store_group_del(sl_offset_store_t *os, const char *group) {
    sl_buf_t buf = {0};
    (void)begin(&buf, REC_GROUP_DEL, group);
    return append(os, &buf);
}

sl_err_t sl_offset_store_sync(sl_offset_store_t *os) {
    if (!os->dirty) {
        return SL_OK;
    }
    if (sl_os.fdatasync(os->fd) < 0) {
        sl_log(SL_LOG_ERROR, "storage", "file=%s op=fdatasync err=\"%s\"", os->path,
               strerror(errno));
        return errno == ENOSPC ? SL_ERR_NOSPACE : SL_ERR_IO;
    }
    os->dirty = false;
    return SL_OK;
}

int64_t sl_offset_store_size(const sl_offset_store_t *os) {
    return (int64_t)os->size;
}

static sl_err_t replay_one(const uint8_t *p, size_t n, const sl_offset_replay_t *r) {
    sl_reader_t rd = sl_reader_init(p, n);
    int type = sl_rd_i8(&rd);
    sl_str_t g = sl_rd_str(&rd, false);
    if (rd.err) {
        return SL_ERR_CORRUPT;
    }
    char *group = sl_str_dupz(g);
    sl_err_t rc = SL_OK;
    if (type == REC_OFFSET || type == REC_OFFSET_DEL) {
        sl_str_t t = sl_rd_str(&rd, false);
        int32_t part = sl_rd_i32(&rd);
        sl_committed_t c = {-1, -1, NULL, 0};
        sl_str_t md = {NULL, 0};
        if (type == REC_OFFSET) {
            c.offset = sl_rd_i64(&rd);
            c.leader_epoch = sl_rd_i32(&rd);
            md = sl_rd_str(&rd, false);
            c.commit_ms = sl_rd_i64(&rd);
        }
        if (rd.err) {
            rc = SL_ERR_CORRUPT;
        } else {
            char *topic = sl_str_dupz(t);
            c.metadata = md.p ? sl_str_dupz(md) : NULL;
            if (type == REC_OFFSET) {
                r->offset(r->opaque, group, topic, part, &c);
            } else {
                r->offset_delete(r->opaque, group, topic, part);
            }
            free(c.metadata);
            free(topic);
        }
    } else if (type == REC_GROUP) {
        sl_bytes_t blob = sl_rd_bytes(&rd, false);
        if (rd.err) {
            rc = SL_ERR_CORRUPT;
        } else {
            r->group(r->opaque, group, blob.p, blob.len);
        }
    } else if (type == REC_GROUP_DEL) {
        r->group_delete(r->opaque, group);
    } else {
        rc = SL_ERR_CORRUPT;
    }
    free(group);
    return rc;
}

sl_offset_store_t *sl_offset_store_open(const char *dir, const sl_offset_replay_t *replay,
                                        char *err) {
    sl_offset_store_t *os = sl_xcalloc(1, sizeof *os);
    snprintf(os->path, sizeof os->path, "%s/__consumer_offsets.log", dir);
    os->fd = sl_os.open(os->path, O_RDWR | O_CREAT, 0644);
    struct stat st;
    if (os->fd < 0 || fstat(os->fd, &st) < 0) {
        snprintf(err, SL_ERRLEN, "open %s: %s", os->path, strerror(errno));
        if (os->fd >= 0) {
            sl_os.close(os->fd);
        }
        free(os);
        return NULL;
    }
    /* Read the whole file at once: it is compacted, so it stays small. */
    size_t len = (size_t)st.st_size;
    uint8_t *data = sl_xmalloc(len ? len : 1);
    ssize_t got = sl_os_pread_all(os->fd, data, len, 0);
    size_t pos = 0;
    while (got == (ssize_t)len && pos + 8 <= len) {
        uint32_t n = sl_load_be32(data + pos), crc = sl_load_be32(data + pos + 4);
        if (n == 0 || n > MAX_RECORD_BYTES || pos + 8 + n > len ||
            sl_crc32c(0, data + pos + 8, n) != crc) {
            break;
        }
        if (replay_one(data + pos + 8, n, replay) != SL_OK) {
            break;
        }
        pos += 8 + n;
    }
    free(data);
    if (pos != len) {
        sl_log(SL_LOG_WARN, "storage", "file=%s op=truncate from=%zu to=%zu msg=\"torn tail\"",
               os->path, len, pos);
        if (sl_os.ftruncate(os->fd, (off_t)pos) < 0 || sl_os.fdatasync(os->fd) < 0) {
            snprintf(err, SL_ERRLEN, "truncate %s: %s", os->path, strerror(errno));
            sl_os.close(os->fd);
            free(os);
            return NULL;
        }
    }
    os->size = (off_t)pos;
    return os;
}

void sl_offset_store_close(sl_offset_store_t *os) {
    if (!os) {
        return;
    }
    if (sl_offset_store_sync(os) != SL_OK) {
        sl_log(SL_LOG_ERROR, "storage", "file=%s msg=\"offsets not synced at close\"", os->path);
    }
    sl_os.close(os->fd);
    free(os);
}

sl_err_t sl_offset_store_compact(sl_offset_store_t *os, sl_offset_snapshot_fn *emit, void *opaque) {
    sl_offset_store_t fresh = {0};
    snprintf(fresh.path, sizeof fresh.path, "%s.compact", os->path);
    fresh.fd = sl_os.open(fresh.path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fresh.fd < 0) {
        return SL_ERR_IO;
    }
    sl_err_t rc = emit(&fresh, opaque);
    if (rc == SL_OK && sl_os.fsync(fresh.fd) < 0) {
        rc = SL_ERR_IO;
    }
    if (rc == SL_OK && sl_os.rename(fresh.path, os->path) < 0) {
        rc = SL_ERR_IO;
    }
    if (rc != SL_OK) {
        sl_os.close(fresh.fd);
        sl_os.unlink(fresh.path);
        return rc;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", os->path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        (void)sl_os_fsync_dir(dir);
    }
    sl_os.close(os->fd);
    os->fd = fresh.fd;
    os->size = fresh.size;
    os->dirty = false;
    return SL_OK;
}

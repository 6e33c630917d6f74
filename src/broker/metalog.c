/* metalog.c -- durable metadata records.
 *
 * File <data-dir>/__metadata.log, records back to back:
 *   OFFSET  SIZE  FIELD
 *        0     4  length   bytes of type + payload (big-endian)
 *        4     4  crc      CRC-32C of type + payload
 *        8     1  type     sl_meta_type_t
 *        9     …  payload  name (string), id (16 bytes), partitions (int32),
 *                          config count (int32), then key, value (nullable strings); a
 *                          producer-id block record (type 5) ends with its limit (int64); a
 *                          client-quota record (type 6) keeps its entity and values in the
 *                          configs (handle_quota.c); broker records (types 8, 9) end with
 *                          the node id (int64); a placement record (type 10) ends with a
 *                          count (int32), then per partition leader, epoch (int32), replica
 *                          count (int32) and replicas (int32 each)
 * Replay stops at the first record whose length or CRC does not check out (a crash mid-append),
 * and the file is truncated there; every record before it was synced when it was written. */
#include "metalog.h"

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

#define MAX_RECORD_BYTES (16u << 20)

struct sl_metalog {
    sl_meta_propose_fn *propose; /* cluster mode: no file */
    void *propose_opaque;
    int fd;
    off_t size;
    char path[4096];
};

static bool has_value(sl_meta_type_t t) {
    return t == SL_META_PID_BLOCK || t == SL_META_BROKER_REG || t == SL_META_BROKER_FENCE ||
           t == SL_META_ISR || t == SL_META_ELECT;
}

static bool has_assign(sl_meta_type_t t) {
    return t == SL_META_PLACEMENT || t == SL_META_ISR || t == SL_META_REASSIGN;
}

void sl_meta_encode(const sl_meta_rec_t *rec, sl_buf_t *out) {
    sl_writer_t wr = {out};
    size_t at = sl_wr_i32(&wr, 0);
    sl_wr_i32(&wr, 0);
    sl_wr_i8(&wr, (int8_t)rec->type);
    sl_wr_strz(&wr, false, rec->name);
    sl_wr_uuid(&wr, rec->id);
    sl_wr_i32(&wr, rec->partitions);
    sl_wr_i32(&wr, (int32_t)rec->n_configs);
    for (size_t i = 0; i < rec->n_configs; i++) {
        sl_wr_strz(&wr, false, rec->configs[i].key);
        sl_wr_strz(&wr, false, rec->configs[i].value);
    }
    if (has_value(rec->type) || rec->type == SL_META_PARTITIONS) {
        sl_wr_i64(&wr, rec->value);
    }
    if (has_assign(rec->type)) {
        sl_wr_i32(&wr, (int32_t)rec->n_assign);
        for (size_t i = 0; i < rec->n_assign; i++) {
            const sl_meta_assign_t *a = &rec->assign[i];
            sl_wr_i32(&wr, a->leader);
            sl_wr_i32(&wr, a->epoch);
            sl_wr_i32(&wr, a->n_replicas);
            for (int32_t r = 0; r < a->n_replicas; r++) {
                sl_wr_i32(&wr, a->replicas[r]);
            }
        }
    }
    size_t body = sl_wr_pos(&wr) - at - 8;
    sl_wr_patch_i32(&wr, at, (int32_t)body);
    sl_wr_patch_i32(&wr, at + 4, (int32_t)sl_crc32c(0, out->data + at + 8, body));
}

/* Decodes one record body; strings and the assignment are copied (freed by the caller: kv,
 * name and *assign_out). */
static sl_err_t decode(const uint8_t *p, size_t n, sl_meta_rec_t *rec, sl_kv_t **kv_out,
                       char **name_out, sl_meta_assign_t **assign_out) {
    sl_reader_t rd = sl_reader_init(p, n);
    rec->type = (sl_meta_type_t)sl_rd_i8(&rd);
    sl_str_t name = sl_rd_str(&rd, false);
    sl_rd_uuid(&rd, rec->id);
    rec->partitions = sl_rd_i32(&rd);
    int32_t nc = sl_rd_array_len(&rd, false, 4);
    if (rd.err || nc < 0) {
        return SL_ERR_CORRUPT;
    }
    sl_kv_t *kv = sl_xcalloc((size_t)nc + 1, sizeof *kv);
    for (int32_t i = 0; i < nc; i++) {
        sl_str_t k = sl_rd_str(&rd, false), v = sl_rd_str(&rd, false);
        kv[i].key = sl_str_dupz(k);
        kv[i].value = v.p ? sl_str_dupz(v) : NULL;
    }
    if (has_value(rec->type)) {
        rec->value = sl_rd_i64(&rd);
    } else if (rec->type == SL_META_PARTITIONS && !rd.err && rd.p < rd.end) {
        rec->value = sl_rd_i64(&rd); /* the base count; records before it came have none (0) */
    }
    if (has_assign(rec->type)) {
        int32_t na = sl_rd_array_len(&rd, false, 12);
        if (!rd.err && na >= 0) {
            sl_meta_assign_t *as = sl_xcalloc((size_t)na + 1, sizeof *as);
            for (int32_t i = 0; i < na && !rd.err; i++) {
                as[i].leader = sl_rd_i32(&rd);
                as[i].epoch = sl_rd_i32(&rd);
                as[i].n_replicas = sl_rd_i32(&rd);
                if (as[i].n_replicas < 0 || as[i].n_replicas > SL_META_MAX_REPLICAS) {
                    rd.err = SL_ERR_CORRUPT;
                    break;
                }
                for (int32_t r = 0; r < as[i].n_replicas; r++) {
                    as[i].replicas[r] = sl_rd_i32(&rd);
                }
            }
            rec->assign = as;
            rec->n_assign = (size_t)na;
            *assign_out = as;
        } else {
            rd.err = SL_ERR_CORRUPT;
        }
    }
    *name_out = sl_str_dupz(name);
    rec->name = *name_out;
    rec->configs = kv;
    rec->n_configs = (size_t)nc;
    *kv_out = kv;
    return rd.err ? SL_ERR_CORRUPT : SL_OK;
}

/* Decodes one record body and applies it; SL_ERR_CORRUPT if it does not decode. */
static sl_err_t decode_apply(const uint8_t *p, size_t n, sl_meta_apply_fn *apply, void *opaque) {
    sl_meta_rec_t rec = {0};
    sl_kv_t *kv = NULL;
    char *name = NULL;
    sl_meta_assign_t *as = NULL;
    sl_err_t rc = decode(p, n, &rec, &kv, &name, &as);
    if (rc == SL_OK) {
        apply(&rec, opaque);
    }
    sl_kv_list_free(kv, rec.n_configs);
    free(name);
    free(as);
    return rc;
}

sl_err_t sl_meta_each(const uint8_t *p, size_t n, sl_meta_apply_fn *apply, void *opaque) {
    size_t pos = 0;
    while (pos < n) {
        if (n - pos < 8) {
            return SL_ERR_CORRUPT;
        }
        uint32_t len = sl_load_be32(p + pos), crc = sl_load_be32(p + pos + 4);
        if (len == 0 || len > MAX_RECORD_BYTES || len > n - pos - 8 ||
            sl_crc32c(0, p + pos + 8, len) != crc) {
            return SL_ERR_CORRUPT;
        }
        if (decode_apply(p + pos + 8, len, apply, opaque) != SL_OK) {
            return SL_ERR_CORRUPT;
        }
        pos += 8 + (size_t)len;
    }
    return SL_OK;
}

sl_metalog_t *sl_metalog_new_proposer(sl_meta_propose_fn *propose, void *opaque) {
    sl_metalog_t *ml = sl_xcalloc(1, sizeof *ml);
    ml->propose = propose;
    ml->propose_opaque = opaque;
    ml->fd = -1;
    return ml;
}

sl_metalog_t *sl_metalog_open(const char *dir, sl_meta_apply_fn *apply, void *opaque, char *err) {
    sl_metalog_t *ml = sl_xcalloc(1, sizeof *ml);
    snprintf(ml->path, sizeof ml->path, "%s/__metadata.log", dir);
    ml->fd = sl_os.open(ml->path, O_RDWR | O_CREAT, 0644);
    if (ml->fd < 0) {
        snprintf(err, SL_ERRLEN, "open %s: %s", ml->path, strerror(errno));
        free(ml);
        return NULL;
    }
    struct stat st;
    if (fstat(ml->fd, &st) < 0 || (st.st_size == 0 && sl_os_fsync_parent(ml->path) < 0)) {
        /* an empty file may be new: its directory entry must be durable before it holds data */
        snprintf(err, SL_ERRLEN, "stat %s: %s", ml->path, strerror(errno));
        sl_os.close(ml->fd);
        free(ml);
        return NULL;
    }
    off_t pos = 0;
    uint8_t hdr[8];
    sl_buf_t body = {0};
    while (pos + 8 <= st.st_size) {
        if (sl_os_pread_all(ml->fd, hdr, 8, pos) != 8) {
            break;
        }
        uint32_t len = sl_load_be32(hdr), crc = sl_load_be32(hdr + 4);
        if (len == 0 || len > MAX_RECORD_BYTES || pos + 8 + (off_t)len > st.st_size) {
            break;
        }
        body.len = 0;
        sl_buf_reserve(&body, len);
        if (sl_os_pread_all(ml->fd, body.data, len, pos + 8) != (ssize_t)len ||
            sl_crc32c(0, body.data, len) != crc) {
            break;
        }
        if (decode_apply(body.data, len, apply, opaque) != SL_OK) {
            break;
        }
        pos += 8 + (off_t)len;
    }
    sl_buf_fini(&body);
    if (pos != st.st_size) {
        sl_log(SL_LOG_WARN, "storage", "file=%s op=truncate from=%lld to=%lld msg=\"torn tail\"",
               ml->path, (long long)st.st_size, (long long)pos);
        if (sl_os.ftruncate(ml->fd, pos) < 0 || sl_os.fdatasync(ml->fd) < 0) {
            snprintf(err, SL_ERRLEN, "truncate %s: %s", ml->path, strerror(errno));
            sl_os.close(ml->fd);
            free(ml);
            return NULL;
        }
    }
    ml->size = pos;
    return ml;
}

sl_err_t sl_metalog_append(sl_metalog_t *ml, const sl_meta_rec_t *rec) {
    sl_buf_t buf = {0};
    sl_meta_encode(rec, &buf);
    sl_err_t rc = SL_OK;
    if (ml->propose) {
        rc = ml->propose(buf.data, buf.len, ml->propose_opaque);
        sl_buf_fini(&buf);
        return rc;
    }
    if (sl_os_pwrite_all(ml->fd, buf.data, buf.len, ml->size) < 0 || sl_os.fdatasync(ml->fd) < 0) {
        rc = errno == ENOSPC ? SL_ERR_NOSPACE : SL_ERR_IO;
        sl_log(SL_LOG_ERROR, "storage", "file=%s op=append err=\"%s\"", ml->path, strerror(errno));
        /* Cut back whatever part was written, so replay never sees a half record as valid. */
        if (sl_os.ftruncate(ml->fd, ml->size) < 0) {
            sl_log(SL_LOG_ERROR, "storage", "file=%s op=truncate err=\"%s\"", ml->path,
                   strerror(errno));
        }
    } else {
        ml->size += (off_t)buf.len;
    }
    sl_buf_fini(&buf);
    return rc;
}

void sl_metalog_close(sl_metalog_t *ml) {
    if (!ml) {
        return;
    }
    if (ml->fd >= 0) {
        sl_os.close(ml->fd);
    }
    free(ml);
}

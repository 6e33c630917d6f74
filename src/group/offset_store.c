/* offset_store.c -- the committed-offsets log (see offset_store.h).
 *
 *   OFFSET  SIZE  FIELD
 *        0     4  length   bytes of type + payload (big-endian)
 *        4     4  crc      CRC-32C of type + payload
 *        8     1  type     1 offset, 2 offset delete, 3 group, 4 group delete
 *        9     …  payload  group (string); then for 1/2: topic (string), partition (int32);
 *                          for 1: offset (int64), leader epoch (int32), metadata (nullable
 *                          string), commit time (int64); for 3: blob (bytes)
 * Framing, replay and compaction are storage/reclog.c's. */
#include "offset_store.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/codec.h"
#include "storage/reclog.h"

enum { REC_OFFSET = 1, REC_OFFSET_DEL = 2, REC_GROUP = 3, REC_GROUP_DEL = 4 };

struct sl_offset_store {
    sl_reclog_t *rl;
    const sl_offset_replay_t *replay;
};

static sl_err_t append(sl_offset_store_t *os, sl_buf_t *rec) {
    return sl_reclog_append(os->rl, rec);
}

static sl_writer_t begin(sl_buf_t *buf, int type, const char *group) {
    sl_writer_t wr = sl_reclog_begin(buf);
    sl_wr_i8(&wr, (int8_t)type);
    sl_wr_strz(&wr, false, group);
    return wr;
}

/* The fields of a type-1 record after the group. */
static void wr_offset(sl_writer_t *wr, const char *topic, int32_t partition,
                      const sl_committed_t *c) {
    sl_wr_strz(wr, false, topic);
    sl_wr_i32(wr, partition);
    sl_wr_i64(wr, c->offset);
    sl_wr_i32(wr, c->leader_epoch);
    sl_wr_str(wr, false, (sl_str_t){c->metadata, c->metadata_len});
    sl_wr_i64(wr, c->commit_ms);
}

sl_err_t sl_offset_store_put(sl_offset_store_t *os, const char *group, const char *topic,
                             int32_t partition, const sl_committed_t *c) {
    sl_buf_t buf = {0};
    sl_writer_t wr = begin(&buf, REC_OFFSET, group);
    wr_offset(&wr, topic, partition, c);
    return append(os, &buf);
}

void sl_offset_rec_key(sl_buf_t *out, const char *group, const char *topic, int32_t partition) {
    sl_writer_t wr = {out};
    sl_wr_strz(&wr, false, group);
    sl_wr_strz(&wr, false, topic);
    sl_wr_i32(&wr, partition);
}

void sl_offset_rec_put(sl_buf_t *out, const char *group, const char *topic, int32_t partition,
                       const sl_committed_t *c) {
    sl_writer_t wr = {out};
    sl_wr_i8(&wr, REC_OFFSET);
    sl_wr_strz(&wr, false, group);
    wr_offset(&wr, topic, partition, c);
}

void sl_offset_rec_del(sl_buf_t *out, const char *group, const char *topic, int32_t partition) {
    sl_writer_t wr = {out};
    sl_wr_i8(&wr, REC_OFFSET_DEL);
    sl_wr_strz(&wr, false, group);
    sl_wr_strz(&wr, false, topic);
    sl_wr_i32(&wr, partition);
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
    return sl_reclog_sync(os->rl);
}

sl_reclog_t *sl_offset_store_log(sl_offset_store_t *os) {
    return os->rl;
}

int64_t sl_offset_store_size(const sl_offset_store_t *os) {
    return sl_reclog_size(os->rl);
}

static sl_err_t replay_one(void *opaque, const uint8_t *p, size_t n) {
    const sl_offset_replay_t *r = opaque;
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
        sl_committed_t c = {-1, -1, NULL, 0, 0};
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
            c.metadata_len = md.len;
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

sl_err_t sl_offset_rec_apply(const sl_offset_replay_t *replay, const uint8_t *p, size_t n) {
    return replay_one((void *)replay, p, n);
}

sl_offset_store_t *sl_offset_store_open(const char *dir, const sl_offset_replay_t *replay,
                                        char *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/__consumer_offsets.log", dir);
    sl_reclog_t *rl = sl_reclog_open(path, replay_one, (void *)replay, err);
    if (!rl) {
        return NULL;
    }
    sl_offset_store_t *os = sl_xcalloc(1, sizeof *os);
    os->rl = rl;
    return os;
}

void sl_offset_store_close(sl_offset_store_t *os) {
    if (!os) {
        return;
    }
    sl_reclog_close(os->rl);
    free(os);
}

typedef struct compact_ctx {
    sl_offset_snapshot_fn *emit;
    void *opaque;
} compact_ctx_t;

static sl_err_t emit_fresh(sl_reclog_t *fresh, void *opaque) {
    compact_ctx_t *cx = opaque;
    sl_offset_store_t tmp = {fresh, NULL};
    return cx->emit(&tmp, cx->opaque);
}

sl_err_t sl_offset_store_compact(sl_offset_store_t *os, sl_offset_snapshot_fn *emit, void *opaque) {
    compact_ctx_t cx = {emit, opaque};
    return sl_reclog_compact(os->rl, emit_fresh, &cx);
}

/* batch.c -- RecordBatch v2 header checks and in-place rewrites (format table in batch.h).
 * The broker never re-encodes records: it checks the header and CRC, then patches the fields
 * outside the CRC (baseOffset) or, for LogAppendTime, the timestamps plus the CRC itself. */
#include "batch.h"

#include "common/codec.h"
#include "common/crc32c.h"
#include "common/util.h"
#include "proto/kerr.h"

#define CRC_START 21

sl_err_t sl_batch_parse(const uint8_t *p, size_t len, bool check_crc, sl_batch_info_t *info) {
    if (len < SL_BATCH_LOG_OVERHEAD) {
        return SL_ERR_TRUNC;
    }
    int32_t batch_length = (int32_t)sl_load_be32(p + 8);
    if (batch_length < SL_BATCH_HEADER_BYTES - SL_BATCH_LOG_OVERHEAD) {
        return SL_ERR_INVAL;
    }
    size_t total = (size_t)batch_length + SL_BATCH_LOG_OVERHEAD;
    if (len < 17) {
        return SL_ERR_TRUNC;
    }
    if (p[16] != 2) {
        return SL_ERR_INVAL;
    }
    if (len < total) {
        return SL_ERR_TRUNC;
    }
    info->base_offset = (int64_t)sl_load_be64(p);
    info->batch_length = batch_length;
    info->leader_epoch = (int32_t)sl_load_be32(p + 12);
    info->total_bytes = total;
    info->attributes = (int16_t)sl_load_be16(p + 21);
    info->last_offset_delta = (int32_t)sl_load_be32(p + 23);
    info->base_timestamp = (int64_t)sl_load_be64(p + 27);
    info->max_timestamp = (int64_t)sl_load_be64(p + 35);
    info->producer_id = (int64_t)sl_load_be64(p + 43);
    info->producer_epoch = (int16_t)sl_load_be16(p + 51);
    info->base_sequence = (int32_t)sl_load_be32(p + 53);
    info->record_count = (int32_t)sl_load_be32(p + 57);
    if (info->record_count < 0 || info->last_offset_delta < 0 ||
        (info->record_count > 0 && info->last_offset_delta < info->record_count - 1)) {
        return SL_ERR_INVAL;
    }
    if (check_crc) {
        uint32_t want = sl_load_be32(p + 17);
        if (sl_crc32c(0, p + CRC_START, total - CRC_START) != want) {
            return SL_ERR_CORRUPT;
        }
    }
    return SL_OK;
}

/* A record's smallest encoding: length, attributes, timestamp delta, offset delta, key length,
 * value length, header count, one byte each. */
#define RECORD_MIN_BYTES 7

/* A bounds-checked cursor for the record walk. It stands beside sl_reader_t because this walk
 * runs for every record produced (docs/benchmarks.md, "Record-batch checks"): one-byte varints,
 * by far the most common, take an inline path. `bad` is sticky; reads after it return 0. */
typedef struct walk {
    const uint8_t *p, *end;
    bool bad;
} walk_t;

/* A zigzag varint of at most `max_bytes` bytes (5 for varint, 10 for varlong). */
static inline int64_t walk_var(walk_t *w, int max_bytes) {
    if (w->p < w->end && *w->p < 0x80) {
        uint64_t u = *w->p++;
        return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
    }
    uint64_t u = 0;
    for (int i = 0; i < max_bytes; i++) {
        if (w->p >= w->end) {
            break;
        }
        uint8_t b = *w->p++;
        u |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            if (max_bytes == 5 && u > UINT32_MAX) {
                break;
            }
            return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
        }
    }
    w->bad = true;
    w->p = w->end;
    return 0;
}

/* Reads a key or value length and skips its bytes: -1 (null) or 0..left; below `min` or past the
 * end is bad. */
static inline void walk_field(walk_t *w, int64_t min) {
    int64_t n = walk_var(w, 5);
    if (n < min || n > w->end - w->p) {
        w->bad = true;
        w->p = w->end;
    } else if (n > 0) {
        w->p += n;
    }
}

/* One record whose body (after the length varint) is the whole of `r`, the `i`-th of its batch. */
static bool check_record(walk_t *r, int32_t i) {
    r->p++; /* attributes, unused in v2 (the body has at least RECORD_MIN_BYTES - 1) */
    (void)walk_var(r, 10); /* timestamp delta */
    if (walk_var(r, 5) != i) {
        return false; /* offset deltas run 0, 1, 2, ... */
    }
    walk_field(r, -1); /* key */
    walk_field(r, -1); /* value */
    int64_t n_headers = walk_var(r, 5);
    if (n_headers < 0 || n_headers > (r->end - r->p) / 2) {
        return false; /* a header takes at least two bytes */
    }
    for (int64_t h = 0; h < n_headers && !r->bad; h++) {
        walk_field(r, 0);  /* header key: never null */
        walk_field(r, -1); /* header value */
    }
    return !r->bad && r->p == r->end;
}

/* The records of a batch, `len` bytes at `p` (uncompressed). */
static bool check_record_set(const uint8_t *p, size_t len, int32_t count) {
    if ((size_t)count > len / RECORD_MIN_BYTES) {
        return false;
    }
    walk_t w = {p, p + len, false};
    for (int32_t i = 0; i < count; i++) {
        int64_t body = walk_var(&w, 5);
        if (w.bad || body < RECORD_MIN_BYTES - 1 || body > w.end - w.p) {
            return false;
        }
        walk_t r = {w.p, w.p + body, false};
        w.p += body;
        if (!check_record(&r, i)) {
            return false;
        }
    }
    return w.p == w.end;
}

int sl_batch_check_records(const uint8_t *p, const sl_batch_info_t *info, sl_decomp_t *d,
                           size_t max_decompressed) {
    int codec = info->attributes & SL_BATCH_ATTR_CODEC_MASK;
    if (!sl_codec_known(codec)) {
        return KERR_UNSUPPORTED_COMPRESSION_TYPE;
    }
    if (info->record_count < 1 || info->last_offset_delta != info->record_count - 1) {
        return KERR_INVALID_RECORD;
    }
    const uint8_t *rec = p + SL_BATCH_HEADER_BYTES;
    size_t len = info->total_bytes - SL_BATCH_HEADER_BYTES;
    if (codec != SL_CODEC_NONE) {
        sl_err_t rc = sl_decomp_run(d, codec, rec, len, max_decompressed);
        if (rc == SL_ERR_LIMIT) {
            return KERR_MESSAGE_TOO_LARGE;
        }
        if (rc != SL_OK) {
            return KERR_CORRUPT_MESSAGE;
        }
        rec = d->out.data;
        len = d->out.len;
    }
    return check_record_set(rec, len, info->record_count) ? KERR_NONE : KERR_INVALID_RECORD;
}

int32_t sl_batch_keyless_records(const uint8_t *recs, size_t len, int32_t count, int32_t *idx,
                                 int32_t cap) {
    walk_t w = {recs, recs + len, false};
    int32_t n = 0;
    for (int32_t i = 0; i < count; i++) {
        int64_t body = walk_var(&w, 5);
        if (w.bad || body < RECORD_MIN_BYTES - 1 || body > w.end - w.p) {
            return -1;
        }
        walk_t r = {w.p + 1, w.p + body, false}; /* past the attributes */
        w.p += body;
        (void)walk_var(&r, 10); /* timestamp delta */
        (void)walk_var(&r, 5);  /* offset delta */
        int64_t key_len = walk_var(&r, 5);
        if (r.bad) {
            return -1;
        }
        if (key_len < 0) { /* a null key */
            if (n < cap) {
                idx[n] = i;
            }
            n++;
        }
    }
    return n;
}

sl_err_t sl_batch_find_record_time(const uint8_t *p, const sl_batch_info_t *info, sl_decomp_t *d,
                                   size_t max_decompressed, int64_t min_offset, int64_t ts,
                                   int64_t *offset_out, int64_t *timestamp_out) {
    *offset_out = *timestamp_out = -1;
    int codec = info->attributes & SL_BATCH_ATTR_CODEC_MASK;
    if (info->attributes & SL_BATCH_ATTR_LOG_APPEND_TIME) {
        /* Every record's timestamp is the batch's: the first record at min_offset or later. */
        int64_t first = SL_MAX(info->base_offset, min_offset);
        if (info->max_timestamp >= ts && info->record_count > 0 &&
            first <= info->base_offset + info->last_offset_delta) {
            *offset_out = first;
            *timestamp_out = info->max_timestamp;
        }
        return SL_OK;
    }
    const uint8_t *rec = p + SL_BATCH_HEADER_BYTES;
    size_t len = info->total_bytes - SL_BATCH_HEADER_BYTES;
    if (codec != SL_CODEC_NONE) {
        if (sl_decomp_run(d, codec, rec, len, max_decompressed) != SL_OK) {
            return SL_ERR_CORRUPT;
        }
        rec = d->out.data;
        len = d->out.len;
    }
    walk_t w = {rec, rec + len, false};
    for (int32_t i = 0; i < info->record_count; i++) {
        int64_t body = walk_var(&w, 5);
        if (w.bad || body < RECORD_MIN_BYTES - 1 || body > w.end - w.p) {
            return SL_ERR_CORRUPT;
        }
        walk_t r = {w.p, w.p + body, false};
        w.p += body;
        r.p++; /* attributes */
        int64_t rec_ts = (int64_t)((uint64_t)info->base_timestamp + (uint64_t)walk_var(&r, 10));
        int64_t rec_off = info->base_offset + walk_var(&r, 5);
        if (r.bad) {
            return SL_ERR_CORRUPT;
        }
        if (rec_off >= min_offset && rec_ts >= ts) {
            *offset_out = rec_off;
            *timestamp_out = rec_ts;
            return SL_OK;
        }
    }
    return SL_OK;
}

void sl_batch_set_base_offset(uint8_t *p, int64_t base_offset) {
    sl_store_be64(p, (uint64_t)base_offset);
}

void sl_batch_set_log_append_time(uint8_t *p, size_t total_bytes, int64_t ts) {
    uint16_t attr = sl_load_be16(p + 21);
    sl_store_be16(p + 21, (uint16_t)(attr | SL_BATCH_ATTR_LOG_APPEND_TIME));
    sl_store_be64(p + 27, (uint64_t)ts);
    sl_store_be64(p + 35, (uint64_t)ts);
    sl_store_be32(p + 17, sl_crc32c(0, p + CRC_START, total_bytes - CRC_START));
}

/* A control batch: one record whose key is (version 0, type) and whose value is (version 0,
 * coordinator epoch), no compression, attributes transactional | control. */
void sl_batch_build_control(sl_buf_t *out, int64_t producer_id, int16_t producer_epoch,
                            int16_t type, int32_t coordinator_epoch, int64_t ts) {
    sl_writer_t wr = {out};
    size_t at = sl_wr_pos(&wr);
    sl_wr_i64(&wr, 0); /* baseOffset: assigned at append */
    size_t len_at = sl_wr_i32(&wr, 0);
    sl_wr_i32(&wr, -1); /* partitionLeaderEpoch */
    sl_wr_i8(&wr, 2);
    size_t crc_at = sl_wr_i32(&wr, 0);
    sl_wr_i16(&wr, SL_BATCH_ATTR_TRANSACTIONAL | SL_BATCH_ATTR_CONTROL);
    sl_wr_i32(&wr, 0); /* lastOffsetDelta */
    sl_wr_i64(&wr, ts);
    sl_wr_i64(&wr, ts);
    sl_wr_i64(&wr, producer_id);
    sl_wr_i16(&wr, producer_epoch);
    sl_wr_i32(&wr, -1); /* baseSequence */
    sl_wr_i32(&wr, 1);  /* recordCount */
    /* The record: attributes, timestamp delta, offset delta, key (4 bytes), value (6 bytes),
     * no headers; its length is the bytes after the length varint. */
    sl_wr_varint(&wr, 1 + 1 + 1 + 1 + 4 + 1 + 6 + 1);
    sl_wr_i8(&wr, 0);
    sl_wr_varint(&wr, 0);
    sl_wr_varint(&wr, 0);
    sl_wr_varint(&wr, 4);
    sl_wr_i16(&wr, 0);
    sl_wr_i16(&wr, type);
    sl_wr_varint(&wr, 6);
    sl_wr_i16(&wr, 0);
    sl_wr_i32(&wr, coordinator_epoch);
    sl_wr_varint(&wr, 0);
    size_t end = sl_wr_pos(&wr);
    sl_wr_patch_i32(&wr, len_at, (int32_t)(end - at - SL_BATCH_LOG_OVERHEAD));
    sl_wr_patch_i32(&wr, crc_at,
                    (int32_t)sl_crc32c(0, out->data + at + CRC_START, end - at - CRC_START));
}

int sl_batch_control_type(const uint8_t *p, size_t len) {
    sl_batch_info_t info;
    if (sl_batch_parse(p, len, false, &info) != SL_OK ||
        !(info.attributes & SL_BATCH_ATTR_CONTROL) ||
        (info.attributes & SL_BATCH_ATTR_CODEC_MASK) || info.record_count < 1) {
        return -1;
    }
    sl_reader_t rd =
        sl_reader_init(p + SL_BATCH_HEADER_BYTES, info.total_bytes - SL_BATCH_HEADER_BYTES);
    (void)sl_rd_varint(&rd); /* record length */
    (void)sl_rd_i8(&rd);     /* attributes */
    (void)sl_rd_varint(&rd); /* timestamp delta */
    (void)sl_rd_varint(&rd); /* offset delta */
    int32_t key_len = sl_rd_varint(&rd);
    (void)sl_rd_i16(&rd); /* key version */
    int16_t type = sl_rd_i16(&rd);
    if (rd.err || key_len < 4 || (type != SL_CONTROL_ABORT && type != SL_CONTROL_COMMIT)) {
        return -1;
    }
    return type;
}

/* codec.c -- Kafka primitive types, bounds-checked. See codec.h for the reader's contract. */
#include "codec.h"

#include <string.h>

static inline bool need(sl_reader_t *rd, size_t n) {
    if (rd->err) {
        return false;
    }
    if ((size_t)(rd->end - rd->p) < n) {
        sl_rd_fail(rd, SL_ERR_TRUNC);
        return false;
    }
    return true;
}

int8_t sl_rd_i8(sl_reader_t *rd) {
    if (!need(rd, 1)) {
        return 0;
    }
    return (int8_t)*rd->p++;
}

int16_t sl_rd_i16(sl_reader_t *rd) {
    if (!need(rd, 2)) {
        return 0;
    }
    uint16_t v = sl_load_be16(rd->p);
    rd->p += 2;
    return (int16_t)v;
}

int32_t sl_rd_i32(sl_reader_t *rd) {
    if (!need(rd, 4)) {
        return 0;
    }
    uint32_t v = sl_load_be32(rd->p);
    rd->p += 4;
    return (int32_t)v;
}

int64_t sl_rd_i64(sl_reader_t *rd) {
    if (!need(rd, 8)) {
        return 0;
    }
    uint64_t v = sl_load_be64(rd->p);
    rd->p += 8;
    return (int64_t)v;
}

static uint64_t rd_uvar(sl_reader_t *rd, unsigned max_bytes) {
    uint64_t v = 0;
    for (unsigned i = 0; i < max_bytes; i++) {
        if (!need(rd, 1)) {
            return 0;
        }
        uint8_t b = *rd->p++;
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            return v;
        }
    }
    sl_rd_fail(rd, SL_ERR_INVAL);
    return 0;
}

uint32_t sl_rd_uvarint(sl_reader_t *rd) {
    uint64_t v = rd_uvar(rd, 5);
    if (v > UINT32_MAX) {
        return (uint32_t)sl_rd_fail(rd, SL_ERR_INVAL);
    }
    return (uint32_t)v;
}

uint64_t sl_rd_uvarlong(sl_reader_t *rd) {
    return rd_uvar(rd, 10);
}

int32_t sl_rd_varint(sl_reader_t *rd) {
    uint32_t u = sl_rd_uvarint(rd);
    return (int32_t)((u >> 1) ^ (~(u & 1) + 1));
}

int64_t sl_rd_varlong(sl_reader_t *rd) {
    uint64_t u = sl_rd_uvarlong(rd);
    return (int64_t)((u >> 1) ^ (~(u & 1) + 1));
}

bool sl_rd_bool(sl_reader_t *rd) {
    return sl_rd_i8(rd) != 0;
}

sl_bytes_t sl_rd_raw(sl_reader_t *rd, size_t n) {
    sl_bytes_t b = {NULL, 0};
    if (!need(rd, n)) {
        return b;
    }
    b.p = rd->p;
    b.len = n;
    rd->p += n;
    return b;
}

void sl_rd_uuid(sl_reader_t *rd, uint8_t out[16]) {
    sl_bytes_t b = sl_rd_raw(rd, 16);
    if (b.p) {
        memcpy(out, b.p, 16);
    } else {
        memset(out, 0, 16);
    }
}

/* Reads a length prefix: -1 means null; anything else must fit in what is left. */
static int64_t rd_len(sl_reader_t *rd, bool flex, bool wide) {
    int64_t n;
    if (flex) {
        n = (int64_t)sl_rd_uvarint(rd) - 1;
    } else {
        n = wide ? sl_rd_i32(rd) : sl_rd_i16(rd);
    }
    if (rd->err) {
        return -2;
    }
    if (n < -1) {
        sl_rd_fail(rd, SL_ERR_INVAL);
        return -2;
    }
    if (n > (int64_t)(rd->end - rd->p)) {
        sl_rd_fail(rd, SL_ERR_TRUNC);
        return -2;
    }
    return n;
}

sl_str_t sl_rd_str(sl_reader_t *rd, bool flex) {
    sl_str_t s = {NULL, 0};
    int64_t n = rd_len(rd, flex, false);
    if (n < 0) {
        return s;
    }
    s.p = (const char *)rd->p;
    s.len = (size_t)n;
    rd->p += n;
    return s;
}

sl_bytes_t sl_rd_bytes(sl_reader_t *rd, bool flex) {
    sl_bytes_t b = {NULL, 0};
    int64_t n = rd_len(rd, flex, true);
    if (n < 0) {
        return b;
    }
    b.p = rd->p;
    b.len = (size_t)n;
    rd->p += n;
    return b;
}

int32_t sl_rd_array_len(sl_reader_t *rd, bool flex, size_t min_elem_bytes) {
    int64_t n = flex ? (int64_t)sl_rd_uvarint(rd) - 1 : sl_rd_i32(rd);
    if (rd->err) {
        return 0;
    }
    if (n < -1) {
        return sl_rd_fail(rd, SL_ERR_INVAL);
    }
    if (n > 0 && min_elem_bytes > 0 && (uint64_t)n > (size_t)(rd->end - rd->p) / min_elem_bytes) {
        return sl_rd_fail(rd, SL_ERR_INVAL);
    }
    return (int32_t)n;
}

void sl_rd_tags(sl_reader_t *rd, bool flex) {
    if (!flex) {
        return;
    }
    uint32_t n = sl_rd_uvarint(rd);
    for (uint32_t i = 0; i < n && !rd->err; i++) {
        (void)sl_rd_uvarint(rd); /* tag */
        uint32_t size = sl_rd_uvarint(rd);
        (void)sl_rd_raw(rd, size);
    }
}

size_t sl_wr_raw(sl_writer_t *wr, const void *p, size_t n) {
    size_t at = wr->buf->len;
    sl_buf_append(wr->buf, p, n);
    return at;
}

size_t sl_wr_i8(sl_writer_t *wr, int8_t v) {
    uint8_t b = (uint8_t)v;
    return sl_wr_raw(wr, &b, 1);
}

size_t sl_wr_i16(sl_writer_t *wr, int16_t v) {
    uint8_t b[2];
    sl_store_be16(b, (uint16_t)v);
    return sl_wr_raw(wr, b, 2);
}

size_t sl_wr_i32(sl_writer_t *wr, int32_t v) {
    uint8_t b[4];
    sl_store_be32(b, (uint32_t)v);
    return sl_wr_raw(wr, b, 4);
}

size_t sl_wr_i64(sl_writer_t *wr, int64_t v) {
    uint8_t b[8];
    sl_store_be64(b, (uint64_t)v);
    return sl_wr_raw(wr, b, 8);
}

size_t sl_wr_uvarint(sl_writer_t *wr, uint64_t v) {
    uint8_t b[10];
    size_t n = 0;
    while (v >= 0x80) {
        b[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    b[n++] = (uint8_t)v;
    return sl_wr_raw(wr, b, n);
}

size_t sl_wr_varint(sl_writer_t *wr, int64_t v) {
    return sl_wr_uvarint(wr, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

size_t sl_wr_bool(sl_writer_t *wr, bool v) {
    return sl_wr_i8(wr, v ? 1 : 0);
}

size_t sl_wr_uuid(sl_writer_t *wr, const uint8_t v[16]) {
    return sl_wr_raw(wr, v, 16);
}

size_t sl_wr_str(sl_writer_t *wr, bool flex, sl_str_t s) {
    size_t at = sl_wr_pos(wr);
    if (flex) {
        sl_wr_uvarint(wr, s.p ? s.len + 1 : 0);
    } else {
        sl_wr_i16(wr, s.p ? (int16_t)s.len : -1);
    }
    if (s.p) {
        sl_wr_raw(wr, s.p, s.len);
    }
    return at;
}

size_t sl_wr_strz(sl_writer_t *wr, bool flex, const char *z) {
    sl_str_t s = {z, z ? strlen(z) : 0};
    return sl_wr_str(wr, flex, s);
}

size_t sl_wr_bytes(sl_writer_t *wr, bool flex, sl_bytes_t b) {
    size_t at = sl_wr_pos(wr);
    if (flex) {
        sl_wr_uvarint(wr, b.p ? b.len + 1 : 0);
    } else {
        sl_wr_i32(wr, b.p ? (int32_t)b.len : -1);
    }
    if (b.p) {
        sl_wr_raw(wr, b.p, b.len);
    }
    return at;
}

size_t sl_wr_array_len(sl_writer_t *wr, bool flex, int32_t n) {
    if (flex) {
        return sl_wr_uvarint(wr, n < 0 ? 0 : (uint64_t)n + 1);
    }
    return sl_wr_i32(wr, n);
}

void sl_wr_tags(sl_writer_t *wr, bool flex) {
    if (flex) {
        sl_wr_uvarint(wr, 0);
    }
}

void sl_wr_patch_i32(sl_writer_t *wr, size_t at, int32_t v) {
    SL_ASSERT(at + 4 <= wr->buf->len);
    sl_store_be32(wr->buf->data + at, (uint32_t)v);
}

size_t sl_uvarint_size(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* codec.h -- the only code that touches raw Kafka bytes.
 *
 * Reader: bounds-checked, with a sticky error. Once a read fails, every later read returns 0 (or an
 * empty view) and `rd->err` keeps the first failure, so a decoder reads its fields in schema order
 * and checks `rd->err` once at the end, or before a value drives a loop or an allocation.
 * Writer: appends to a growable sl_buf_t; lengths and counts are written as placeholders and
 * patched. The `flex` argument selects the flexible (KIP-482) encodings: compact strings, bytes and
 * arrays (unsigned varint length + 1, 0 = null). */
#ifndef SL_CODEC_H
#define SL_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "util.h"

typedef struct sl_reader {
    const uint8_t *p, *end; /* next byte; one past the last */
    const uint8_t *start;   /* first byte, for offsets in error messages */
    sl_err_t err;           /* first failure; once set, every read returns 0 */
} sl_reader_t;

static inline sl_reader_t sl_reader_init(const uint8_t *p, size_t len) {
    sl_reader_t rd = {p, p + len, p, SL_OK};
    return rd;
}
static inline size_t sl_rd_left(const sl_reader_t *rd) {
    return rd->err ? 0 : (size_t)(rd->end - rd->p);
}
static inline size_t sl_rd_pos(const sl_reader_t *rd) {
    return (size_t)(rd->p - rd->start);
}
/* Records the first failure; returns 0 so a failing read can `return sl_rd_fail(...)`. */
static inline int sl_rd_fail(sl_reader_t *rd, sl_err_t err) {
    if (!rd->err) {
        rd->err = err;
    }
    return 0;
}

int8_t sl_rd_i8(sl_reader_t *rd);
int16_t sl_rd_i16(sl_reader_t *rd);
int32_t sl_rd_i32(sl_reader_t *rd);
int64_t sl_rd_i64(sl_reader_t *rd);
uint32_t sl_rd_uvarint(sl_reader_t *rd);  /* rejected after 5 bytes */
uint64_t sl_rd_uvarlong(sl_reader_t *rd); /* rejected after 10 bytes */
int32_t sl_rd_varint(sl_reader_t *rd);    /* zigzag */
int64_t sl_rd_varlong(sl_reader_t *rd);   /* zigzag */
bool sl_rd_bool(sl_reader_t *rd);
/* Borrows `n` raw bytes. */
sl_bytes_t sl_rd_raw(sl_reader_t *rd, size_t n);
void sl_rd_uuid(sl_reader_t *rd, uint8_t out[16]);
/* String (int16 length or compact); null strings come back with p == NULL. */
sl_str_t sl_rd_str(sl_reader_t *rd, bool flex);
/* Bytes (int32 length or compact); null comes back with p == NULL. */
sl_bytes_t sl_rd_bytes(sl_reader_t *rd, bool flex);
/* Array count (int32 or compact). -1 means null. Fails unless count <= remaining / min_elem_bytes,
 * so a short frame cannot claim billions of elements. */
int32_t sl_rd_array_len(sl_reader_t *rd, bool flex, size_t min_elem_bytes);
/* Like sl_rd_array_len, for arrays where null means the same as empty: returns 0 for null. */
static inline int32_t sl_rd_count(sl_reader_t *rd, bool flex, size_t min_elem_bytes) {
    int32_t n = sl_rd_array_len(rd, flex, min_elem_bytes);
    return n < 0 ? 0 : n;
}
/* Skips a tagged-field section (flex only; a no-op otherwise). */
void sl_rd_tags(sl_reader_t *rd, bool flex);

typedef struct sl_writer {
    sl_buf_t *buf;
} sl_writer_t;

static inline size_t sl_wr_pos(const sl_writer_t *wr) {
    return wr->buf->len;
}
/* Each writer returns the offset at which its value starts, for later patching. */
size_t sl_wr_i8(sl_writer_t *wr, int8_t v);
size_t sl_wr_i16(sl_writer_t *wr, int16_t v);
size_t sl_wr_i32(sl_writer_t *wr, int32_t v);
size_t sl_wr_i64(sl_writer_t *wr, int64_t v);
size_t sl_wr_uvarint(sl_writer_t *wr, uint64_t v);
size_t sl_wr_varint(sl_writer_t *wr, int64_t v); /* zigzag */
size_t sl_wr_bool(sl_writer_t *wr, bool v);
size_t sl_wr_raw(sl_writer_t *wr, const void *p, size_t n);
size_t sl_wr_uuid(sl_writer_t *wr, const uint8_t v[16]);
size_t sl_wr_str(sl_writer_t *wr, bool flex, sl_str_t s);     /* p == NULL writes null */
size_t sl_wr_strz(sl_writer_t *wr, bool flex, const char *z); /* NULL writes null */
size_t sl_wr_bytes(sl_writer_t *wr, bool flex, sl_bytes_t b);
/* Array count; -1 writes null. For unknown counts use sl_wr_i32 and patch (non-flex only). */
size_t sl_wr_array_len(sl_writer_t *wr, bool flex, int32_t n);
/* An empty tagged-field section (flex only). */
void sl_wr_tags(sl_writer_t *wr, bool flex);
void sl_wr_patch_i32(sl_writer_t *wr, size_t at, int32_t v);

/* Size in bytes of the unsigned varint encoding of v. */
size_t sl_uvarint_size(uint64_t v);

#endif

/* buf.c -- growable byte buffer. Growth doubles, so appends are amortised O(1). */
#include "buf.h"

#include <string.h>

#include "util.h"

void sl_buf_reserve(sl_buf_t *buf, size_t extra) {
    if (buf->cap - buf->len >= extra) {
        return;
    }
    size_t cap = buf->cap ? buf->cap : 256;
    while (cap - buf->len < extra) {
        cap *= 2;
    }
    buf->data = sl_xrealloc(buf->data, cap);
    buf->cap = cap;
}

void sl_buf_append(sl_buf_t *buf, const void *p, size_t n) {
    if (n == 0) {
        return;
    }
    sl_buf_reserve(buf, n);
    memcpy(buf->data + buf->len, p, n);
    buf->len += n;
}

void sl_buf_consume(sl_buf_t *buf, size_t n) {
    SL_ASSERT(n <= buf->len);
    memmove(buf->data, buf->data + n, buf->len - n);
    buf->len -= n;
}

void sl_buf_fini(sl_buf_t *buf) {
    free(buf->data);
    buf->data = NULL;
    buf->len = buf->cap = 0;
}

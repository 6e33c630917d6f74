/* buf.h -- a growable byte buffer (owned memory) used by writers and connection queues. */
#ifndef SL_BUF_H
#define SL_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct sl_buf {
    uint8_t *data;
    size_t len; /* bytes in use */
    size_t cap; /* bytes allocated */
} sl_buf_t;

/* Ensures room for `extra` more bytes; may move `data`. Thread: owner. */
void sl_buf_reserve(sl_buf_t *buf, size_t extra);
/* Appends `n` bytes. */
void sl_buf_append(sl_buf_t *buf, const void *p, size_t n);
/* Drops the first `n` bytes, moving the rest to the front. */
void sl_buf_consume(sl_buf_t *buf, size_t n);
/* Releases the memory; the buffer is empty and reusable afterwards. */
void sl_buf_fini(sl_buf_t *buf);

#endif

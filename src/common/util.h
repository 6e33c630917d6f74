/* util.h -- allocation that never returns NULL, byte views, assertions, small helpers. */
#ifndef SL_UTIL_H
#define SL_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "err.h"

/* Allocation failure aborts (as in Redis and librdkafka): callers never check for NULL.
 * Limits are enforced before allocating, by budgets, never by hoping malloc fails. */
void *sl_xmalloc(size_t n);
void *sl_xcalloc(size_t count, size_t n);
void *sl_xrealloc(void *p, size_t n);
char *sl_xstrdup(const char *s);
char *sl_xstrndup(const char *s, size_t n);

/* A borrowed, never NUL-terminated view into a buffer someone else owns. */
typedef struct sl_bytes {
    const uint8_t *p;
    size_t len;
} sl_bytes_t;
typedef struct sl_str {
    const char *p;
    size_t len; /* p == NULL means a null string on the wire */
} sl_str_t;

static inline int sl_str_eq(sl_str_t a, sl_str_t b) {
    return a.len == b.len && (a.len == 0 || __builtin_memcmp(a.p, b.p, a.len) == 0);
}
static inline int sl_str_eqz(sl_str_t a, const char *z) {
    size_t n = __builtin_strlen(z);
    return a.p && a.len == n && __builtin_memcmp(a.p, z, n) == 0;
}
/* Whether the n bytes at a and b are equal; for the short runs of names and keys, where a call
 * to memcmp costs more than the compare: words that overlap at the end, never a read past n. */
static inline bool sl_short_eq(const void *a, const void *b, size_t n) {
    const unsigned char *x = a, *y = b;
    uint64_t u, v;
    uint32_t s, t;
    if (n >= 8) {
        for (size_t i = 0; i + 8 < n; i += 8) {
            __builtin_memcpy(&u, x + i, 8);
            __builtin_memcpy(&v, y + i, 8);
            if (u != v) {
                return false;
            }
        }
        __builtin_memcpy(&u, x + n - 8, 8);
        __builtin_memcpy(&v, y + n - 8, 8);
        return u == v;
    }
    if (n >= 4) {
        __builtin_memcpy(&s, x, 4);
        __builtin_memcpy(&t, y, 4);
        uint32_t s2, t2;
        __builtin_memcpy(&s2, x + n - 4, 4);
        __builtin_memcpy(&t2, y + n - 4, 4);
        return s == t && s2 == t2;
    }
    return n == 0 || (x[0] == y[0] && x[n / 2] == y[n / 2] && x[n - 1] == y[n - 1]);
}
/* Returns a NUL-terminated heap copy of `s` (empty string for a null view). Caller frees. */
char *sl_str_dupz(sl_str_t s);

void sl_assert_fail(const char *expr, const char *file, int line) __attribute__((noreturn));
/* Guards internal invariants; stays on in release builds. Input must never reach it. */
#define SL_ASSERT(c) ((c) ? (void)0 : sl_assert_fail(#c, __FILE__, __LINE__))

#define SL_MIN(a, b)    ((a) < (b) ? (a) : (b))
#define SL_MAX(a, b)    ((a) > (b) ? (a) : (b))
#define SL_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Big-endian load/store for fixed on-disk and on-wire headers (byte by byte, no host order). */
static inline uint32_t sl_load_be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}
static inline uint64_t sl_load_be64(const uint8_t *p) {
    return (uint64_t)sl_load_be32(p) << 32 | sl_load_be32(p + 4);
}
static inline uint16_t sl_load_be16(const uint8_t *p) {
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}
static inline void sl_store_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline void sl_store_be64(uint8_t *p, uint64_t v) {
    sl_store_be32(p, (uint32_t)(v >> 32));
    sl_store_be32(p + 4, (uint32_t)v);
}
static inline void sl_store_be16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

#endif

/* util.c -- aborting allocators, assertion failure, and the error-name table. */
#include "util.h"

#include <stdio.h>
#include <string.h>

static void oom(size_t n) {
    fprintf(stderr, "sluice: out of memory allocating %zu bytes\n", n);
    abort();
}

void *sl_xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        oom(n);
    }
    return p;
}

void *sl_xcalloc(size_t count, size_t n) {
    void *p = calloc(count ? count : 1, n ? n : 1);
    if (!p) {
        oom(count * n);
    }
    return p;
}

void *sl_xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        oom(n);
    }
    return q;
}

char *sl_xstrdup(const char *s) {
    return sl_xstrndup(s, strlen(s));
}

char *sl_xstrndup(const char *s, size_t n) {
    char *d = sl_xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *sl_str_dupz(sl_str_t s) {
    return s.p ? sl_xstrndup(s.p, s.len) : sl_xstrdup("");
}

void sl_assert_fail(const char *expr, const char *file, int line) {
    fprintf(stderr, "sluice: assertion failed: %s (%s:%d)\n", expr, file, line);
    abort();
}

const char *sl_err_str(int err) {
    switch (err) {
    case SL_OK:
        return "ok";
    case SL_AGAIN:
        return "again";
    case SL_ERR_TRUNC:
        return "truncated input";
    case SL_ERR_INVAL:
        return "invalid input";
    case SL_ERR_LIMIT:
        return "limit exceeded";
    case SL_ERR_CORRUPT:
        return "corrupt data";
    case SL_ERR_IO:
        return "I/O error";
    case SL_ERR_NOSPACE:
        return "no space left on device";
    case SL_ERR_EXISTS:
        return "already exists";
    case SL_ERR_NOTFOUND:
        return "not found";
    default:
        break;
    }
    return err > 0 ? "kafka error" : "unknown error";
}

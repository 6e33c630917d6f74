/* json_scan.h -- one-pass field lookup in a JSON object, for the example pipelines.
 *
 * sl_stream_json_get parses the whole document with Jansson on every call (allocations and all),
 * which costs more than the rest of a stateless pipeline; these helpers walk the object's bytes
 * once, in place, and hand back the raw text of the wanted top-level fields. A value is a string
 * (the bytes between the quotes, escapes left as written), a number or literal (its text), or a
 * nested object or array (the whole text, brackets included, which js_fields can walk in turn).
 * Every read is bounds-checked; anything that is not a well-formed object gives -1.
 *
 * Records of `sluice bench`'s demo workload (`make run`) start with the harness's 24-byte binary
 * header ("SLB1" ...): js_doc skips it, so the examples read the demo topic as well as plain JSON.
 * Header-only (static functions): each example is one shared library. */
#ifndef EXAMPLES_JSON_SCAN_H
#define EXAMPLES_JSON_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "stream/stream.h"

typedef struct js_field {
    const char *name; /* in: the field's name */
    sl_bytes_t val;   /* out: its raw text; p == NULL when the field is absent */
    bool str;         /* out: the value was a string (val excludes the quotes) */
} js_field_t;

#define JS_MAX_DEPTH 32
#define JS_LEN_CACHE 16 /* js_fields measures this many wanted names once per call */

/* The JSON part of a record value: past the bench harness's header when there is one. */
static inline sl_bytes_t js_doc(sl_bytes_t v) {
    if (v.p && v.len > 24 && memcmp(v.p, "SLB1", 4) == 0) {
        return (sl_bytes_t){v.p + 24, v.len - 24};
    }
    return v;
}

static inline size_t js_ws(const uint8_t *p, size_t i, size_t n) {
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r')) {
        i++;
    }
    return i;
}

/* Index just past the string whose opening quote is at p[i], or 0 when it is unterminated. A
 * quote closes the string unless an odd run of backslashes stands before it (each pair is one
 * escaped backslash); memchr finds the quotes, which is several times faster than a byte loop
 * over long strings such as Nexmark's padding. */
static inline size_t js_str_end(const uint8_t *p, size_t i, size_t n) {
    size_t start = i + 1;
    for (i = start; i < n;) {
        const uint8_t *q = memchr(p + i, '"', n - i);
        if (!q) {
            return 0;
        }
        size_t at = (size_t)(q - p), bs = 0;
        while (at - bs > start && p[at - bs - 1] == '\\') {
            bs++;
        }
        if (bs % 2 == 0) {
            return at + 1;
        }
        i = at + 1;
    }
    return 0;
}

/* Index just past the value starting at p[i] (after white space), or 0 when it is malformed. */
static inline size_t js_value_end(const uint8_t *p, size_t i, size_t n) {
    if (i >= n) {
        return 0;
    }
    if (p[i] == '"') {
        return js_str_end(p, i, n);
    }
    if (p[i] == '{' || p[i] == '[') {
        int depth = 0;
        while (i < n) {
            if (p[i] == '"') {
                i = js_str_end(p, i, n);
                if (!i) {
                    return 0;
                }
                continue;
            }
            if (p[i] == '{' || p[i] == '[') {
                if (++depth > JS_MAX_DEPTH) {
                    return 0;
                }
            } else if (p[i] == '}' || p[i] == ']') {
                if (--depth == 0) {
                    return i + 1;
                }
            }
            i++;
        }
        return 0;
    }
    size_t s = i;
    while (i < n && p[i] != ',' && p[i] != '}' && p[i] != ']' && p[i] != ' ' && p[i] != '\t' &&
           p[i] != '\n' && p[i] != '\r') {
        i++;
    }
    return i > s ? i : 0;
}

/* Fills f[0..nf) from the object `doc`. Returns the number of fields found, or -1 when doc is
 * not a well-formed object. The first occurrence of a repeated name wins. */
static inline int js_fields(sl_bytes_t doc, js_field_t *f, size_t nf) {
    const uint8_t *p = doc.p;
    size_t n = doc.len, i, found = 0;
    size_t lens[JS_LEN_CACHE]; /* strlen of the first wanted names, once per document */
    for (size_t k = 0; k < nf; k++) {
        f[k].val = (sl_bytes_t){NULL, 0};
        f[k].str = false;
        if (k < JS_LEN_CACHE) {
            lens[k] = strlen(f[k].name);
        }
    }
    if (!p) {
        return -1;
    }
    i = js_ws(p, 0, n);
    if (i >= n || p[i] != '{') {
        return -1;
    }
    i = js_ws(p, i + 1, n);
    if (i < n && p[i] == '}') {
        return 0;
    }
    for (;;) {
        if (i >= n || p[i] != '"') {
            return -1;
        }
        size_t ke = js_str_end(p, i, n);
        if (!ke) {
            return -1;
        }
        const uint8_t *name = p + i + 1;
        size_t name_len = ke - i - 2;
        i = js_ws(p, ke, n);
        if (i >= n || p[i] != ':') {
            return -1;
        }
        i = js_ws(p, i + 1, n);
        size_t ve = js_value_end(p, i, n);
        if (!ve) {
            return -1;
        }
        for (size_t k = 0; k < nf; k++) {
            if (!f[k].val.p && (k < JS_LEN_CACHE ? lens[k] : strlen(f[k].name)) == name_len &&
                memcmp(f[k].name, name, name_len) == 0) {
                f[k].str = p[i] == '"';
                f[k].val =
                    f[k].str ? (sl_bytes_t){p + i + 1, ve - i - 2} : (sl_bytes_t){p + i, ve - i};
                found++;
                break;
            }
        }
        i = js_ws(p, ve, n);
        if (i < n && p[i] == ',') {
            i = js_ws(p, i + 1, n);
            continue;
        }
        if (i < n && p[i] == '}') {
            return (int)found;
        }
        return -1;
    }
}

/* A decimal integer (optionally in a string's text), or false. */
static inline bool js_i64(sl_bytes_t v, int64_t *out) {
    size_t i = 0;
    bool neg = false;
    uint64_t x = 0;
    if (!v.p || !v.len) {
        return false;
    }
    if (v.p[0] == '-') {
        neg = true;
        i = 1;
    }
    if (i == v.len) {
        return false;
    }
    for (; i < v.len; i++) {
        if (v.p[i] < '0' || v.p[i] > '9' || x > (UINT64_C(1) << 62) / 10) {
            return false;
        }
        x = x * 10 + (uint64_t)(v.p[i] - '0');
    }
    *out = neg ? -(int64_t)x : (int64_t)x;
    return true;
}

/* A decimal number "123", "-4.5", "12.50" (no exponent), or false. */
static inline bool js_f64(sl_bytes_t v, double *out) {
    size_t i = 0;
    double x = 0, scale = 1;
    bool neg = false, dot = false, digits = false;
    if (!v.p) {
        return false;
    }
    if (i < v.len && v.p[i] == '-') {
        neg = true;
        i++;
    }
    for (; i < v.len; i++) {
        if (v.p[i] == '.' && !dot) {
            dot = true;
        } else if (v.p[i] >= '0' && v.p[i] <= '9') {
            digits = true;
            x = x * 10 + (v.p[i] - '0');
            if (dot) {
                scale *= 10;
            }
        } else {
            return false;
        }
    }
    if (!digits) {
        return false;
    }
    *out = (neg ? -x : x) / scale;
    return true;
}

#endif

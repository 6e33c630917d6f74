/* jscan.c -- a validating JSON scanner that allocates nothing: the SQL decoder's way into a
 * record (eval.c). One pass over the document checks it as strictly as Jansson's json_loadb with
 * no flags does (the engine dead-letters exactly the records it did when it parsed them into a
 * Jansson tree) and notes where the top-level members the query uses start and end; only those
 * values are converted later, nested paths are looked up inside their member's text.
 *
 * What counts as valid (Jansson 2.14): one object or array with only whitespace (space, tab, CR,
 * LF) around it; strings without raw control characters, in valid UTF-8 (no overlong forms, no
 * surrogates, nothing above U+10FFFF), with the escapes \" \\ \/ \b \f \n \r \t \uXXXX, where a
 * \u escape is not U+0000 and surrogates come in high-low pairs; numbers as RFC 8259 spells them,
 * an integer (no fraction, no exponent) within int64 and a real that does not overflow a double;
 * at most 2048 nested values (a scalar inside counts as one). Duplicate keys are allowed: the last
 * one wins, as in Jansson. One quirk is kept too: Jansson loses a NUL byte that directly follows
 * a number or a literal (it reads one byte past those, and putting a NUL back empties its
 * buffer), so `{"a":1\0}` is valid to it, and to this scanner (found by fuzz/fuzz_sqljson.c). */
#include <errno.h>
#include <stddef.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "sql/sql_int.h"

#define JS_MAX_DEPTH 2048 /* Jansson's JSON_PARSER_MAX_DEPTH */

typedef const unsigned char *cur_t;

static inline cur_t skip_ws(cur_t p, cur_t e) {
    while (p < e && *p <= ' ' && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) {
        p++;
    }
    return p;
}

static int hexval(unsigned char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The four hex digits at p (p + 4 <= e checked by the caller), or -1. */
static int32_t hex4(cur_t p) {
    int32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(p[i]);
        if (h < 0) {
            return -1;
        }
        v = v << 4 | h;
    }
    return v;
}

/* The length of the valid UTF-8 sequence (2..4 bytes) starting with lead byte p[0] >= 0x80, or
 * 0 when it is not one. */
static size_t utf8_len(cur_t p, cur_t e) {
    unsigned char c = p[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF; /* the allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        lo = c == 0xE0 ? 0xA0 : 0x80; /* no overlong forms */
        hi = c == 0xED ? 0x9F : 0xBF; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF; /* nothing above U+10FFFF */
    } else {
        return 0;
    }
    if ((size_t)(e - p) < n || p[1] < lo || p[1] > hi) {
        return 0;
    }
    for (size_t i = 2; i < n; i++) {
        if (p[i] < 0x80 || p[i] > 0xBF) {
            return 0;
        }
    }
    return n;
}

/* One escape at p (just after the backslash): its length, or 0 when invalid. */
static size_t escape_len(cur_t p, cur_t e) {
    if (p >= e) {
        return 0;
    }
    switch (*p) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
        return 1;
    case 'u':
        break;
    default:
        return 0;
    }
    int32_t v = e - p >= 5 ? hex4(p + 1) : -1;
    if (v <= 0 || (v >= 0xDC00 && v <= 0xDFFF)) { /* invalid, U+0000, or a lone low surrogate */
        return 0;
    }
    if (v < 0xD800 || v > 0xDBFF) {
        return 5;
    }
    /* a high surrogate: a low one must follow */
    if (e - p < 11 || p[5] != '\\' || p[6] != 'u') {
        return 0;
    }
    int32_t w = hex4(p + 7);
    return w >= 0xDC00 && w <= 0xDFFF ? 11 : 0;
}

/* How many bytes at p (at least 16 available) are plain: not a quote, a backslash, a control
 * character or a non-ASCII byte. */
static size_t plain16(cur_t p) {
#ifdef __SSE2__
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i special = _mm_or_si128(
        _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')), _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))),
        _mm_cmplt_epi8(x, _mm_set1_epi8(0x20))); /* signed: bytes >= 0x80 are below 0x20 too */
    unsigned m = (unsigned)_mm_movemask_epi8(special);
    return m ? (size_t)__builtin_ctz(m) : 16;
#else
    for (size_t i = 0; i < 16; i++) {
        if (p[i] == '"' || p[i] == '\\' || p[i] < 0x20 || p[i] >= 0x80) {
            return i;
        }
    }
    return 16;
#endif
}

/* A string starting after its opening quote: the position just after the closing quote, or NULL
 * when invalid. *esc says whether it has escapes. Plain ASCII goes 16 bytes at a time. */
static inline cur_t scan_string(cur_t p, cur_t e, bool *esc) {
    *esc = false;
    for (;;) {
        while (e - p >= 16) {
            size_t n = plain16(p);
            p += n;
            if (n < 16) {
                break;
            }
        }
        while (p < e && *p != '"' && *p != '\\' && *p >= 0x20 && *p < 0x80) {
            p++;
        }
        if (p >= e) {
            return NULL;
        }
        unsigned char c = *p;
        if (c == '"') {
            return p + 1;
        }
        if (c == '\\') {
            size_t n = escape_len(p + 1, e);
            if (!n) {
                return NULL;
            }
            *esc = true;
            p += 1 + n;
        } else if (c < 0x20) {
            return NULL;
        } else if (c < 0x80) {
            p++;
        } else {
            size_t n = utf8_len(p, e);
            if (!n) {
                return NULL;
            }
            p += n;
        }
    }
}

/* Whether the real number text [s, e) overflows a double (strtod says ERANGE with +-HUGE_VAL). */
static bool real_overflows(cur_t s, cur_t e) {
    char small[128];
    size_t n = (size_t)(e - s);
    char *b = n < sizeof small ? small : sl_xmalloc(n + 1);
    memcpy(b, s, n);
    b[n] = 0;
    errno = 0;
    double d = strtod(b, NULL);
    bool over = errno == ERANGE && (d > 1.0 || d < -1.0);
    if (b != small) {
        free(b);
    }
    return over;
}

/* Whether the integer text [s, e) (an optional '-' and digits) fits an int64. */
static bool int_in_range(cur_t s, cur_t e) {
    bool neg = *s == '-';
    s += neg;
    if (e - s < 19) {
        return true;
    }
    if (e - s > 19) {
        return false;
    }
    static const char max[] = "9223372036854775807", min[] = "9223372036854775808";
    return memcmp(s, neg ? min : max, 19) <= 0;
}

/* A number at p: the position after it, or NULL when invalid. *real: it has a fraction or an
 * exponent. */
static cur_t scan_number(cur_t p, cur_t e, bool *real) {
    cur_t s = p;
    *real = false;
    /* the common case first: a short integer without a sign */
    if (p < e && *p >= '1' && *p <= '9') {
        cur_t q = p + 1;
        while (q < e && *q >= '0' && *q <= '9') {
            q++;
        }
        if (q - p < 19 && (q == e || (*q != '.' && (*q | 0x20) != 'e'))) {
            return q;
        }
    }
    if (p < e && *p == '-') {
        p++;
    }
    if (p >= e) {
        return NULL;
    }
    if (*p == '0') {
        p++;
        if (p < e && *p >= '0' && *p <= '9') {
            return NULL;
        }
    } else if (*p >= '1' && *p <= '9') {
        while (p < e && *p >= '0' && *p <= '9') {
            p++;
        }
    } else {
        return NULL;
    }
    cur_t int_end = p;
    if (p < e && *p == '.') {
        p++;
        if (p >= e || *p < '0' || *p > '9') {
            return NULL;
        }
        while (p < e && *p >= '0' && *p <= '9') {
            p++;
        }
        *real = true;
    }
    bool expo = false;
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-')) {
            p++;
        }
        if (p >= e || *p < '0' || *p > '9') {
            return NULL;
        }
        while (p < e && *p >= '0' && *p <= '9') {
            p++;
        }
        *real = expo = true;
    }
    if (!*real) {
        return int_in_range(s, p) ? p : NULL;
    }
    /* Without an exponent, fewer than 300 integer digits cannot overflow. */
    if ((expo || int_end - s > 300) && real_overflows(s, p)) {
        return NULL;
    }
    return p;
}

static cur_t scan_literal(cur_t p, cur_t e) {
    static const char *const lits[] = {"true", "false", "null"};
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(lits[i]);
        if ((size_t)(e - p) >= n && !memcmp(p, lits[i], n)) {
            p += n;
            /* Jansson reads a word of letters: "truex" is one invalid token */
            bool letter = p < e && ((*p | 0x20) >= 'a' && (*p | 0x20) <= 'z');
            return letter ? NULL : p;
        }
    }
    return NULL;
}

/* Whether the escaped key text [k, k + n) (between its quotes) reads as want[0..wn). */
static bool key_eq_escaped(cur_t k, size_t n, const char *want, size_t wn) {
    char buf[4];
    size_t at = 0;
    cur_t e = k + n;
    while (k < e) {
        size_t len = 1;
        if (*k != '\\') {
            buf[0] = (char)*k++;
        } else {
            uint32_t cp;
            size_t el = escape_len(k + 1, e);
            if (k[1] != 'u') {
                static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
                buf[0] = to[strchr(from, k[1]) - from];
            } else {
                cp = (uint32_t)hex4(k + 2);
                if (el == 11) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t)hex4(k + 8) - 0xDC00);
                }
                len = sl_sql_utf8_put(cp, buf);
            }
            k += 1 + el;
        }
        if (at + len > wn || memcmp(want + at, buf, len)) {
            return false;
        }
        at += len;
    }
    return at == wn;
}

size_t sl_sql_utf8_put(uint32_t cp, char *out) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* The key of a top-level member (ks: its text between the quotes, kn bytes; kesc: it has
 * escapes): the index of the wanted key it reads as, or -1. lens: bit n set when some wanted key
 * has n bytes (63: 63 or more). */
static int match_key(cur_t ks, size_t kn, bool kesc, const char *const *keys,
                     const size_t *key_lens, size_t n_keys, uint64_t lens) {
    if (!kesc && !(lens >> (kn < 63 ? kn : 63) & 1)) {
        return -1;
    }
    for (size_t i = 0; i < n_keys; i++) {
        if (kesc) {
            if (key_eq_escaped(ks, kn, keys[i], key_lens[i])) {
                return (int)i;
            }
            continue;
        }
        if (kn != key_lens[i]) {
            continue;
        }
        if (sl_short_eq(ks, keys[i], kn)) {
            return (int)i;
        }
    }
    return -1;
}

/* The string, number or literal at p (p < e): the position just after it, or NULL when it is
 * invalid. *flags: its SL_SQL_JV_* flags; *word: a number or a literal (past which Jansson loses
 * a NUL byte). */
static inline cur_t scan_scalar(cur_t p, cur_t e, uint8_t *flags, bool *word) {
    bool esc, real;
    *word = *p != '"';
    if (*p == '"') {
        p = scan_string(p + 1, e, &esc);
        *flags = SL_SQL_JV_KNOWN | (esc ? SL_SQL_JV_ESC : 0);
        return p;
    }
    *flags = SL_SQL_JV_KNOWN;
    if (*p == 't' || *p == 'f' || *p == 'n') {
        return scan_literal(p, e);
    }
    p = scan_number(p, e, &real);
    *flags |= real ? SL_SQL_JV_REAL : 0;
    return p;
}

/* Checks the object or array at p (p < e), a member of the top-level object (so at nesting
 * level 2): the position just after it, or NULL when it is invalid. Iterative, with a bit per
 * open container (object or array), for Jansson's 2048 levels. */
static cur_t scan_container(cur_t p, cur_t e) {
    uint8_t in_obj[JS_MAX_DEPTH / 8];
    int depth = 1; /* open containers, the top-level object included */
    for (;;) {
        /* a value at p, at depth + 1 */
        p = skip_ws(p, e);
        if (p >= e || depth >= JS_MAX_DEPTH) {
            return NULL;
        }
        bool obj = false, word = false;
        uint8_t flags;
        switch (*p) {
        case '{':
        case '[':
            obj = *p == '{';
            if (obj) {
                in_obj[depth / 8] |= (uint8_t)(1u << (depth % 8));
            } else {
                in_obj[depth / 8] &= (uint8_t) ~(1u << (depth % 8));
            }
            depth++;
            p = skip_ws(p + 1, e);
            if (p < e && *p == (obj ? '}' : ']')) { /* empty */
                depth--;
                p++;
                break;
            }
            if (obj) {
                goto member;
            }
            continue; /* its first element */
        default:
            p = scan_scalar(p, e, &flags, &word);
        }
        if (!p) {
            return NULL;
        }
        /* after a value: ',' and the next one, or the end of its container (itself a value) */
        for (;;) {
            if (word && p < e && *p == 0) {
                p++; /* Jansson's quirk: the NUL byte it reads past a number or literal is lost */
            }
            word = false;
            if (depth == 1) {
                return p; /* the member's value is complete */
            }
            p = skip_ws(p, e);
            if (p >= e) {
                return NULL;
            }
            obj = in_obj[(depth - 1) / 8] >> ((depth - 1) % 8) & 1;
            if (*p == ',') {
                p++;
                break;
            }
            if (*p != (obj ? '}' : ']')) {
                return NULL;
            }
            p++;
            depth--;
        }
        if (!obj) {
            continue; /* the next element */
        }
    member:
        /* a member: "key" ':' then its value */
        p = skip_ws(p, e);
        if (p >= e || *p != '"') {
            return NULL;
        }
        bool kesc;
        p = scan_string(p + 1, e, &kesc);
        if (!p) {
            return NULL;
        }
        p = skip_ws(p, e);
        if (p >= e || *p != ':') {
            return NULL;
        }
        p++;
    }
}

bool sl_sql_json_scan(const char *doc, size_t len, const char *const *keys, const size_t *key_lens,
                      size_t n_keys, sl_sql_jval_t *vals) {
    for (size_t i = 0; i < n_keys; i++) {
        vals[i] = (sl_sql_jval_t){NULL, 0, 0};
    }
    if (!doc) {
        return false;
    }
    cur_t e = (cur_t)doc + len, p = skip_ws((cur_t)doc, e);
    if (p >= e || *p != '{') {
        return false; /* valid JSON or not, it is not an object */
    }
    uint64_t lens = 0;
    for (size_t i = 0; i < n_keys; i++) {
        lens |= 1ull << (key_lens[i] < 63 ? key_lens[i] : 63);
    }
    p = skip_ws(p + 1, e);
    if (p < e && *p == '}') {
        return skip_ws(p + 1, e) == e; /* {} */
    }
    /* the top-level object's members, flat: the common record has scalars only */
    for (;;) {
        if (p >= e || *p != '"') {
            return false;
        }
        cur_t ks = p + 1;
        bool kesc;
        p = scan_string(ks, e, &kesc);
        if (!p) {
            return false;
        }
        int want = match_key(ks, (size_t)(p - 1 - ks), kesc, keys, key_lens, n_keys, lens);
        p = skip_ws(p, e);
        if (p >= e || *p != ':') {
            return false;
        }
        p = skip_ws(p + 1, e);
        if (p >= e) {
            return false;
        }
        cur_t vs = p;
        bool word = false;
        uint8_t vflags = 0; /* of a scalar (a container: none) */
        if (*p == '{' || *p == '[') {
            p = scan_container(p, e);
        } else {
            p = scan_scalar(p, e, &vflags, &word);
        }
        if (!p) {
            return false;
        }
        if (want >= 0) { /* the last one wins */
            vals[want] = (sl_sql_jval_t){(const char *)vs, (size_t)(p - vs), vflags};
        }
        if (word && p < e && *p == 0) {
            p++; /* Jansson's quirk: the NUL byte it reads past a number or literal is lost */
        }
        p = skip_ws(p, e);
        if (p < e && *p == ',') {
            p = skip_ws(p + 1, e);
            continue;
        }
        if (p < e && *p == '}') {
            return skip_ws(p + 1, e) == e;
        }
        return false;
    }
}

/* ---- inside values the scan has checked: no validation left to do ---- */

/* The end of the (valid) string whose opening quote is at p. */
static cur_t skip_string(cur_t p, cur_t e) {
    for (p++;;) {
        cur_t q = memchr(p, '"', (size_t)(e - p));
        size_t bs = 0; /* an odd run of backslashes before it escapes it */
        while (q - bs > p && q[-1 - (ptrdiff_t)bs] == '\\') {
            bs++;
        }
        if (!(bs & 1)) {
            return q + 1;
        }
        p = q + 1;
    }
}

/* The end of the (valid) value at p. */
static cur_t skip_value(cur_t p, cur_t e) {
    if (*p == '"') {
        return skip_string(p, e);
    }
    if (*p != '{' && *p != '[') {
        while (p < e && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n' &&
               *p != '\r' && *p != '\t' && *p != 0) {
            p++;
        }
        return p;
    }
    int depth = 0;
    for (; p < e; p++) {
        if (*p == '"') {
            p = skip_string(p, e) - 1;
        } else if (*p == '{' || *p == '[') {
            depth++;
        } else if ((*p == '}' || *p == ']') && --depth == 0) {
            return p + 1;
        }
    }
    return e;
}

bool sl_sql_json_member(sl_sql_jval_t v, const char *key, size_t kn, sl_sql_jval_t *out) {
    cur_t p = (cur_t)v.p, e = p + v.n;
    bool found = false;
    if (!v.p || !v.n || *p != '{') {
        return false;
    }
    p = skip_ws(p + 1, e);
    while (p < e && *p == '"') {
        cur_t ks = p + 1;
        bool esc = false;
        for (p = ks; *p != '"'; p++) {
            esc |= *p == '\\';
            p += *p == '\\';
        }
        size_t n = (size_t)(p - ks);
        bool hit = esc ? key_eq_escaped(ks, n, key, kn) : (n == kn && !memcmp(ks, key, n));
        p = skip_ws(skip_ws(p + 1, e) + 1, e); /* past '"', ':' */
        cur_t vs = p;
        p = skip_value(p, e);
        cur_t ve = p;
        p += p < e && *p == 0; /* the NUL Jansson skips after a scalar (see sl_sql_json_scan) */
        if (hit) {             /* the last one wins */
            *out = (sl_sql_jval_t){(const char *)vs, (size_t)(ve - vs), 0};
            found = true;
        }
        p = skip_ws(p, e);
        p = p < e && *p == ',' ? skip_ws(p + 1, e) : e;
    }
    return found;
}

/* Walks the elements of array v, stopping at the idx-th (into *out; idx < 0: walks them all);
 * the number of elements walked, or -1 when v is not an array. */
static int64_t elements(sl_sql_jval_t v, int64_t idx, sl_sql_jval_t *out) {
    cur_t p = (cur_t)v.p, e = p + v.n;
    if (!v.p || !v.n || *p != '[') {
        return -1;
    }
    p = skip_ws(p + 1, e);
    int64_t n = 0;
    while (p < e && *p != ']') {
        cur_t vs = p;
        p = skip_value(p, e);
        if (n == idx) {
            *out = (sl_sql_jval_t){(const char *)vs, (size_t)(p - vs), 0};
            return n + 1;
        }
        p += p < e && *p == 0; /* the NUL Jansson skips after a scalar */
        n++;
        p = skip_ws(p, e);
        p = p < e && *p == ',' ? skip_ws(p + 1, e) : e;
    }
    return n;
}

bool sl_sql_json_element(sl_sql_jval_t v, int64_t idx, sl_sql_jval_t *out) {
    return idx >= 0 && elements(v, idx, out) > idx;
}

int64_t sl_sql_json_count(sl_sql_jval_t v) {
    sl_sql_jval_t unused;
    return elements(v, -1, &unused);
}

const char *sl_sql_json_string(sl_sql_jval_t v, sl_sql_scratch_t *mem, size_t *n) {
    cur_t s = (cur_t)v.p + 1, e = (cur_t)v.p + v.n - 1; /* between the quotes */
    if ((v.flags & SL_SQL_JV_KNOWN) ? !(v.flags & SL_SQL_JV_ESC)
                                    : !memchr(s, '\\', (size_t)(e - s))) {
        *n = (size_t)(e - s);
        return (const char *)s;
    }
    char *out = sl_sql_scratch_get(mem, (size_t)(e - s) + 1), *o = out; /* never longer */
    while (s < e) {
        if (*s != '\\') {
            *o++ = (char)*s++;
            continue;
        }
        size_t el = escape_len(s + 1, e);
        if (s[1] != 'u') {
            static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
            *o++ = to[strchr(from, s[1]) - from];
        } else {
            uint32_t cp = (uint32_t)hex4(s + 2);
            if (el == 11) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t)hex4(s + 8) - 0xDC00);
            }
            o += sl_sql_utf8_put(cp, o);
        }
        s += 1 + el;
    }
    *n = (size_t)(o - out);
    return out;
}

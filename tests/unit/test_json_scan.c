/* test_json_scan.c -- the examples' in-place JSON field scanner (examples/json_scan.h): string
 * ends found with memchr agree with a byte-by-byte reading of the escapes, and field lookup
 * matches names by length and bytes however many names are wanted. */
#include "../../examples/json_scan.h"

#include <stdlib.h>

#include "common/util.h"
#include "harness.h"

/* The reference: walk the string byte by byte, a backslash escaping the byte after it. */
static size_t ref_str_end(const uint8_t *p, size_t i, size_t n) {
    for (i++; i < n; i++) {
        if (p[i] == '\\') {
            i++;
        } else if (p[i] == '"') {
            return i + 1;
        }
    }
    return 0;
}

static size_t end_of(const char *s) {
    return js_str_end((const uint8_t *)s, 0, strlen(s));
}

TEST(json_str_end_reads_escapes) {
    CHECK_EQ_INT(end_of("\"\""), 2);
    CHECK_EQ_INT(end_of("\"abc\" tail"), 5);
    CHECK_EQ_INT(end_of("\"a\\\"b\""), 6);   /* "a\"b": the escaped quote is inside */
    CHECK_EQ_INT(end_of("\"a\\\\\"b\""), 5); /* "a\\": an escaped backslash, then the end */
    CHECK_EQ_INT(end_of("\"\\\\\\\"\""), 6); /* "\\\"": three backslashes escape the quote */
    CHECK_EQ_INT(end_of("\"\\\"x"), 0);      /* unterminated */
    CHECK_EQ_INT(end_of("\"abc"), 0);        /* unterminated */
    CHECK_EQ_INT(end_of("\"abc\\"), 0);      /* a trailing backslash */
    /* The opening quote is never counted as a backslash run's end, nor are bytes before it. */
    const uint8_t q[] = "\\\\\"\"";
    CHECK_EQ_INT(js_str_end(q, 2, 4), 4);
}

TEST(json_str_end_agrees_with_a_byte_loop) {
    static const char alphabet[] = {'a', '\\', '"', 'b'};
    uint8_t buf[64];
    srand(7);
    for (int round = 0; round < 200000; round++) {
        size_t n = 1 + (size_t)(rand() % (int)sizeof buf);
        buf[0] = '"';
        for (size_t i = 1; i < n; i++) {
            buf[i] = (uint8_t)alphabet[rand() % 4];
        }
        size_t want = ref_str_end(buf, 0, n), got = js_str_end(buf, 0, n);
        if (want != got) {
            fprintf(stderr, "  %.*s: want %zu, got %zu\n", (int)n, (const char *)buf, want, got);
        }
        CHECK_EQ_INT(got, want);
    }
}

TEST(json_fields_match_names_past_the_length_cache) {
    char doc[1024], *p = doc;
    js_field_t f[JS_LEN_CACHE + 4];
    char names[JS_LEN_CACHE + 4][16];
    p += sprintf(p, "{\"pad\":\"x\\\"y\"");
    for (size_t k = 0; k < SL_ARRAY_LEN(f); k++) {
        snprintf(names[k], sizeof names[k], "f%zu", k);
        f[k].name = names[k];
        p += sprintf(p, ",\"%s\":%zu", names[k], k * 10);
    }
    p += sprintf(p, ",\"f1x\":\"no\"}");
    sl_bytes_t d = {(const uint8_t *)doc, (size_t)(p - doc)};
    CHECK_EQ_INT(js_fields(d, f, SL_ARRAY_LEN(f)), (int)SL_ARRAY_LEN(f));
    for (size_t k = 0; k < SL_ARRAY_LEN(f); k++) {
        int64_t v;
        CHECK(js_i64(f[k].val, &v) && v == (int64_t)k * 10);
    }
    js_field_t pad = {.name = "pad"};
    CHECK_EQ_INT(js_fields(d, &pad, 1), 1);
    CHECK(pad.str && pad.val.len == 4 && !memcmp(pad.val.p, "x\\\"y", 4));
}

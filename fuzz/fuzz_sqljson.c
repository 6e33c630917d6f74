/* fuzz_sqljson.c -- libFuzzer target: the SQL decoder's JSON scanner (src/sql/jscan.c) against
 * Jansson, which it replaced.
 *
 * Input: any bytes, taken as one record value. The scanner must accept exactly the documents
 * Jansson's json_loadb (no flags) parses into an object, so that the same records go to the
 * dead-letter topic as before; for an accepted one, each top-level member it reports must be
 * Jansson's (present or absent alike; a string's unescaped characters equal; any other value's
 * text reads back as an equal JSON value), and the nested lookups stay inside it. The seeds
 * (fuzz/corpus/fuzz_sqljson/) are Nexmark events and documents with escapes, nesting and edge
 * numbers. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "env.h"
#include "sql/sql_int.h"

static const char *const keys[] = {"event_type", "auction", "price", "s", "a", "o", ""};
#define N_KEYS (sizeof keys / sizeof keys[0])

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t lens[N_KEYS];
    for (size_t i = 0; i < N_KEYS; i++) {
        lens[i] = strlen(keys[i]);
    }
    sl_sql_jval_t vals[N_KEYS];
    bool got = sl_sql_json_scan((const char *)data, size, keys, lens, N_KEYS, vals);
    json_t *root = json_loadb((const char *)data, size, 0, NULL);
    bool want = root && json_is_object(root);
    FZ_CHECK(got == want, "scan says %d, Jansson %d", got, want);
    for (size_t i = 0; got && i < N_KEYS; i++) {
        json_t *v = json_object_get(root, keys[i]);
        FZ_CHECK((v != NULL) == (vals[i].p != NULL), "member '%s' found by one side only", keys[i]);
        if (!v) {
            continue;
        }
        FZ_CHECK(vals[i].p >= (const char *)data &&
                     vals[i].p + vals[i].n <= (const char *)data + size,
                 "member '%s' outside the input", keys[i]);
        if (json_is_string(v)) {
            sl_sql_scratch_t mem = {0};
            size_t n;
            const char *s = sl_sql_json_string(vals[i], &mem, &n);
            bool same = n == json_string_length(v) && !memcmp(s, json_string_value(v), n);
            sl_sql_scratch_fini(&mem);
            FZ_CHECK(same, "string '%s' differs", keys[i]);
        } else {
            json_t *again = json_loadb(vals[i].p, vals[i].n, JSON_DECODE_ANY, NULL);
            bool same = again && json_equal(again, v);
            json_decref(again);
            FZ_CHECK(same, "value of '%s' differs", keys[i]);
        }
        sl_sql_jval_t inner;
        int64_t count = sl_sql_json_count(vals[i]);
        FZ_CHECK(count == (json_is_array(v) ? (int64_t)json_array_size(v) : -1), "array length");
        if (count > 0) {
            FZ_CHECK(sl_sql_json_element(vals[i], count - 1, &inner), "last element");
            json_t *last = json_loadb(inner.p, inner.n, JSON_DECODE_ANY, NULL);
            bool same = last && json_equal(last, json_array_get(v, (size_t)count - 1));
            json_decref(last);
            FZ_CHECK(same, "last element differs");
        }
        if (json_is_object(v) && sl_sql_json_member(vals[i], "a", 1, &inner)) {
            json_t *m = json_loadb(inner.p, inner.n, JSON_DECODE_ANY, NULL);
            bool same = m && json_equal(m, json_object_get(v, "a"));
            json_decref(m);
            FZ_CHECK(same, "nested member differs");
        }
    }
    json_decref(root);
    return 0;
}

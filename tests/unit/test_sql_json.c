/* test_sql_json.c -- the SQL decoder's JSON scanner (src/sql/jscan.c) against Jansson, which it
 * replaced: the same documents are valid (malformed, truncated, bad escapes, bad UTF-8, deep
 * nesting, huge numbers; also thousands of random mutations of a record), the same values come
 * out (escapes, duplicate keys: the last wins), and the decoder turns them into the same slots. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "sql/sql_int.h"

/* What the decoder used to do: Jansson's json_loadb with no flags, and an object at the top. */
static bool jansson_ok(const char *doc, size_t len) {
    json_t *j = json_loadb(doc, len, 0, NULL);
    bool ok = j && json_is_object(j);
    json_decref(j);
    return ok;
}

static bool scan_ok(const char *doc, size_t len) {
    return sl_sql_json_scan(doc, len, NULL, NULL, 0, NULL);
}

static const char *const docs[] = {
    /* valid */
    "{}",
    " \t\r\n{ } \n",
    "{\"a\":1}",
    "{\"a\":-0,\"b\":0.5,\"c\":-1.25e+10,\"d\":1E-3,\"e\":9223372036854775807}",
    "{\"a\":-9223372036854775808}",
    "{\"a\":1e308,\"b\":1e-400,\"c\":0.0000000000000000000000000001}",
    "{\"a\":true,\"b\":false,\"c\":null,\"d\":[],\"e\":{},\"f\":[1,[2,[3]],{\"g\":\"h\"}]}",
    "{\"s\":\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\uD83D\\uDE00 \\u20AC\"}",
    "{\"s\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \x7f\"}",
    "{\"a\":1,\"a\":2}",
    "{\"\":\"\"}",
    /* invalid */
    "",
    "   ",
    "[1,2]",
    "\"s\"",
    "1",
    "{",
    "{\"a\"",
    "{\"a\":",
    "{\"a\":1",
    "{\"a\":1,}",
    "{,}",
    "{\"a\" 1}",
    "{\"a\":1 \"b\":2}",
    "{a:1}",
    "{'a':1}",
    "{\"a\":[1,]}",
    "{\"a\":[1 2]}",
    "{\"a\":[}",
    "{\"a\":{]}",
    "{\"a\":1}}",
    "{\"a\":1} x",
    "{\"a\":1}{}",
    "{\"a\":01}",
    "{\"a\":-}",
    "{\"a\":+1}",
    "{\"a\":1.}",
    "{\"a\":.5}",
    "{\"a\":1e}",
    "{\"a\":1e+}",
    "{\"a\":0x10}",
    "{\"a\":9223372036854775808}",
    "{\"a\":-9223372036854775809}",
    "{\"a\":123456789012345678901234567890}",
    "{\"a\":1e309}",
    "{\"a\":-1e400}",
    "{\"a\":tru}",
    "{\"a\":truex}",
    "{\"a\":nul}",
    "{\"a\":NULL}",
    "{\"a\":True}",
    "{\"s\":\"abc}",
    "{\"s\":\"\\x\"}",
    "{\"s\":\"\\u12\"}",
    "{\"s\":\"\\u12G4\"}",
    "{\"s\":\"\\u0000\"}",
    "{\"s\\u0000\":1}",
    "{\"s\":\"\\uD800\"}",
    "{\"s\":\"\\uD800x\"}",
    "{\"s\":\"\\uD800\\u0041\"}",
    "{\"s\":\"\\uDC00\"}",
    "{\"s\":\"tab\there\"}",
    "{\"s\":\"nl\nhere\"}",
    "{\"s\":\"\x80\"}",
    "{\"s\":\"\xc0\xaf\"}",
    "{\"s\":\"\xc3\"}",
    "{\"s\":\"\xe0\x80\xaf\"}",
    "{\"s\":\"\xed\xa0\x80\"}",
    "{\"s\":\"\xf4\x90\x80\x80\"}",
    "{\"s\":\"\xf5\x80\x80\x80\"}",
    "{\"s\":\"\xff\"}",
    "\xef\xbb\xbf{}",
};

TEST(sql_json_scan_accepts_what_jansson_accepts) {
    for (size_t i = 0; i < SL_ARRAY_LEN(docs); i++) {
        size_t n = strlen(docs[i]);
        bool want = jansson_ok(docs[i], n), got = scan_ok(docs[i], n);
        if (want != got) {
            fprintf(stderr, "  doc %zu `%s`: jansson %d, scan %d\n", i, docs[i], want, got);
        }
        CHECK(want == got);
    }
    /* a NUL byte inside the buffer, and a document cut anywhere */
    CHECK(!scan_ok("{\"a\":1}\0", 8) && !jansson_ok("{\"a\":1}\0", 8));
    CHECK(!scan_ok("{\"a\":\"\0\"}", 8) && !jansson_ok("{\"a\":\"\0\"}", 8));
    /* Jansson loses one NUL right after a number or literal (fuzz_sqljson found it): so do we */
    static const struct {
        const char *d;
        size_t n;
    } nul[] = {
        {"{\"a\":[1,2\0]}", 13},  {"{\"a\":true\0,\"b\":1}", 19}, {"{\"a\":1\0\0}", 9},
        {"{\"a\":1 \0}", 9},      {"{\"a\":[1]\0}", 10},          {"{\"a\":\"x\"\0}", 10},
        {"{\"a\":-1.5e3\0}", 13}, {"{\"a\":{\"b\":null\0}}", 16},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(nul); i++) {
        bool want = jansson_ok(nul[i].d, nul[i].n), got = scan_ok(nul[i].d, nul[i].n);
        if (want != got) {
            fprintf(stderr, "  NUL case %zu: jansson %d, scan %d\n", i, want, got);
        }
        CHECK(want == got);
    }
    const char *keys[] = {"a"};
    size_t kl[] = {1};
    sl_sql_jval_t v[1];
    CHECK(sl_sql_json_scan("{\"a\":12\0}", 9, keys, kl, 1, v) && v[0].n == 2); /* not the NUL */
    const char *full = "{\"a\":[1,{\"b\":\"c\\u00e9\"}],\"d\":-1.5e3,\"e\":true}";
    for (size_t n = 0; n < strlen(full); n++) {
        CHECK(!scan_ok(full, n) && !jansson_ok(full, n));
    }
}

/* depth: Jansson takes 2048 nested values, a scalar inside counting as one */
static char *nested(int arrays, const char *inner) {
    size_t n = 2 * (size_t)arrays + strlen(inner) + 16;
    char *d = malloc(n), *p = d;
    p += sprintf(p, "{\"a\":");
    for (int i = 0; i < arrays; i++) {
        *p++ = '[';
    }
    p += sprintf(p, "%s", inner);
    for (int i = 0; i < arrays; i++) {
        *p++ = ']';
    }
    sprintf(p, "}");
    return d;
}

TEST(sql_json_scan_deep_nesting_as_jansson) {
    int cases[][2] = {{2046, 1}, {2047, 0}, {2047, 1}, {2048, 0}, {5000, 0}};
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        char *d = nested(cases[i][0], cases[i][1] ? "1" : "");
        bool want = jansson_ok(d, strlen(d)), got = scan_ok(d, strlen(d));
        free(d);
        if (want != got) {
            fprintf(stderr, "  %d arrays%s: jansson %d, scan %d\n", cases[i][0],
                    cases[i][1] ? " around a scalar" : "", want, got);
        }
        CHECK(want == got);
    }
}

/* Random byte edits of a record with every kind of value: both say valid or both say invalid;
 * when valid, the top-level values found are Jansson's. */
TEST(sql_json_scan_random_mutations_agree_with_jansson) {
    const char *base = "{\"event_type\":2,\"auction\":1001,\"price\":-12.5e2,\"s\":\"a\\\"b\\u00e9"
                       "\\uD83D\\uDE00\xc3\xa9\",\"nested\":{\"x\":[1,2,{\"y\":null}],\"z\":\"}\"},"
                       "\"ok\":true,\"n\":null,\"arr\":[[],{},\"]\"],\"auction\":7}";
    const char *keys[] = {"auction", "s", "nested", "ok", "n", "price"};
    size_t lens[6];
    for (int k = 0; k < 6; k++) {
        lens[k] = strlen(keys[k]);
    }
    static const char alphabet[] = "{}[]\",:\\0123456789-+.eEtrufalsn u\x80\xc3\xa9";
    size_t blen = strlen(base);
    char doc[512];
    int valid = 0;
    for (int it = 0; it < 20000; it++) {
        memcpy(doc, base, blen);
        size_t n = blen;
        int edits = 1 + (int)(sl_test_rand() % 3);
        for (int k = 0; k < edits; k++) {
            size_t at = (size_t)(sl_test_rand() % n);
            char c = alphabet[sl_test_rand() % (sizeof alphabet - 1)];
            switch (sl_test_rand() % 4) {
            case 0: /* replace */
                doc[at] = c;
                break;
            case 1: /* insert */
                memmove(doc + at + 1, doc + at, n - at);
                doc[at] = c;
                n++;
                break;
            case 2: /* delete */
                memmove(doc + at, doc + at + 1, n - at - 1);
                n--;
                break;
            default: /* truncate */
                n = at + 1;
            }
        }
        sl_sql_jval_t vals[6];
        bool got = sl_sql_json_scan(doc, n, keys, lens, 6, vals);
        json_t *j = json_loadb(doc, n, 0, NULL);
        bool want = j && json_is_object(j);
        if (want != got) {
            fprintf(stderr, "  mutation %d `%.*s`: jansson %d, scan %d\n", it, (int)n, doc, want,
                    got);
        }
        CHECK(want == got);
        for (int k = 0; got && k < 6; k++) {
            json_t *v = json_object_get(j, keys[k]);
            CHECK((v == NULL) == (vals[k].p == NULL));
            if (v && json_is_string(v)) {
                sl_sql_scratch_t mem = {0};
                size_t sn;
                const char *s = sl_sql_json_string(vals[k], &mem, &sn);
                bool same = sn == json_string_length(v) && !memcmp(s, json_string_value(v), sn);
                sl_sql_scratch_fini(&mem);
                CHECK(same);
            } else if (v && json_is_integer(v)) {
                CHECK(strtoll(vals[k].p, NULL, 10) == json_integer_value(v));
            } else if (v) { /* the text of the value reads back as the same JSON */
                json_t *again = json_loadb(vals[k].p, vals[k].n, JSON_DECODE_ANY, NULL);
                bool same = again && json_equal(again, v);
                json_decref(again);
                CHECK(same);
            }
        }
        valid += got;
        json_decref(j);
    }
    CHECK(valid > 100); /* the edits leave enough documents valid to compare their values */
}

/* The decoder end to end: escapes, duplicate keys, nested paths, arrays, huge numbers. */
static const char *ddl = "CREATE STREAM ev (\"user\" VARCHAR, qty INT, big BIGINT, amount DOUBLE,"
                         " price DECIMAL(10,2), ts TIMESTAMP, geo ROW(city VARCHAR, zip INT),"
                         " tags ARRAY<VARCHAR>, \"dateTime\" BIGINT, flag BOOLEAN)"
                         " WITH (topic='events', timestamp='ts')";

/* `SELECT expr AS v FROM ev` in catalog c (NULL with err set when refused). */
static sl_sql_stmt_t *select1(sl_sql_catalog_t *c, const char *expr, char *err, size_t errlen) {
    char sql[256];
    sl_sql_stmts_free(sl_sql_parse(c, ddl, err, errlen));
    snprintf(sql, sizeof sql, "SELECT %s AS v FROM ev", expr);
    return sl_sql_parse(c, sql, err, errlen);
}

/* Decodes doc for `SELECT expr AS v FROM ev` and writes v as JSON text (or "decode: why"). */
static void decode1(const char *expr, const char *doc, char *out, size_t len) {
    sl_sql_catalog_t *c = sl_sql_catalog_new();
    char err[SL_ERRLEN];
    sl_sql_stmt_t *s = select1(c, expr, err, sizeof err);
    if (!s) {
        snprintf(out, len, "check: %s", err);
        sl_sql_catalog_free(c);
        return;
    }
    sl_sql_val_t row[16];
    sl_sql_scratch_t mem = {0}, dmem = {0};
    const char *why = NULL;
    if (!sl_sql_decode(s->q->paths, s->q->n_paths, doc, strlen(doc), &dmem, row, &why)) {
        snprintf(out, len, "decode: %s", why);
    } else {
        sl_sql_eval_t ev = {.row = row, .mem = &mem};
        sl_sql_val_t v;
        if (!sl_sql_eval(&ev, s->q->out[0], &v)) {
            snprintf(out, len, "error: %s", ev.err);
        } else {
            sl_sql_out_t o = {0};
            sl_sql_out_json(&o, s->q->out[0]->type, &v);
            snprintf(out, len, "%s", o.p);
            sl_sql_out_free(&o);
        }
    }
    sl_sql_scratch_fini(&mem);
    sl_sql_scratch_fini(&dmem);
    sl_sql_stmts_free(s);
    sl_sql_catalog_free(c);
}

static const struct {
    const char *expr, *doc, *want;
} dec[] = {
    {"\"user\"", "{\"user\":\"a\\\"b\\\\c\\/d\\n\"}", "\"a\\\"b\\\\c/d\\u000a\""},
    {"\"user\"", "{\"user\":\"caf\\u00e9 \\uD83D\\uDE00\"}", "\"caf\xc3\xa9 \xf0\x9f\x98\x80\""},
    {"length(\"user\")", "{\"user\":\"\\u20ac\\u20ac\"}", "2"},
    {"\"user\"", /* escapes past the first 16 bytes */
     "{\"user\":"
     "\"0123456789abcdefghij\\\"klmnopqrstuvwxyz\\u0001ABCDEFGHIJKLMNOPQRSTUVW\xc3\xa9\"}",
     "\"0123456789abcdefghij\\\"klmnopqrstuvwxyz\\u0001ABCDEFGHIJKLMNOPQRSTUVW\xc3\xa9\""},
    {"\"user\"", "{\"us\\u0065r\":\"escaped key\"}", "\"escaped key\""},
    {"qty", "{\"qty\":1,\"qty\":2}", "2"}, /* the last one wins */
    {"geo.city", "{\"geo\":{\"city\":\"A\",\"city\":\"B\"}}", "\"B\""},
    {"geo.city", "{\"geo\":{\"c\":\"}\",\"city\":\"O\\u0073lo\"}}", "\"Oslo\""},
    {"geo['zip'] + 1", "{\"geo\":{\"zip\":149,\"city\":[1]}}", "150"},
    {"geo.city", "{\"geo\":[1,2]}", "null"},
    {"geo.city", "{\"geo\":\"Oslo\"}", "null"},
    {"tags[2]", "{\"tags\":[\"a\",\"b,]\\\"\",\"c\"]}", "\"b,]\\\"\""},
    {"tags[4]", "{\"tags\":[\"a\",\"b\",\"c\"]}", "null"},
    {"CARDINALITY(tags)", "{\"tags\":[[1,2],{\"a\":[]},\"]\"]}", "3"},
    {"CARDINALITY(tags)", "{\"tags\":[]}", "0"},
    {"CARDINALITY(tags)", "{\"tags\":{}}", "null"},
    {"big", "{\"big\":9223372036854775807}", "9223372036854775807"},
    {"big", "{\"big\":-9223372036854775808}", "-9223372036854775808"},
    {"big", "{\"big\":9223372036854775808}", "decode: the value is not a JSON object"},
    {"big", "{\"big\":1.0}", "decode: a field's JSON type does not match its declared column type"},
    {"qty", "{\"qty\":2147483648}",
     "decode: a field's JSON type does not match its declared column type"},
    {"amount", "{\"amount\":1e308}", "1e+308"},
    {"amount", "{\"amount\":12}", "12"},
    {"amount", "{\"amount\":1e309}", "decode: the value is not a JSON object"},
    {"amount", "{\"amount\":\"1\"}",
     "decode: a field's JSON type does not match its declared column type"},
    {"price", "{\"price\":\"19.99\"}", "19.99"},
    {"price", "{\"price\":19.994}", "19.99"},
    {"price", "{\"price\":7}", "7.00"},
    {"ts", "{\"ts\":\"2024-02-29 12:00:00\"}", "1709208000000"},
    {"ts", "{\"ts\":1700000000123}", "1700000000123"},
    {"\"dateTime\"", "{\"dateTime\":5,\"datetime\":6}", "5"},
    {"qty", "{\"other\":{\"qty\":5}}", "null"}, /* only top-level members are columns */
    {"qty", "{\"qty\":null}", "null"},
    {"qty", "{\"qty\":3", "decode: the value is not a JSON object"},
    {"qty", "{\"qty\":3,\"s\":\"\\uD800\"}", "decode: the value is not a JSON object"},
    {"big", "{\"big\":-0}", "0"},
    {"big", "{\"big\":-42,\"x\":1}", "-42"},
    {"flag", "{\"flag\":false}", "false"},
    {"flag", "{\"flag\":true}", "true"},
    {"\"user\"", "{\"user\":\"plain \xc3\xa9 text\"}", "\"plain \xc3\xa9 text\""},
    {"\"user\"", "{\"user\":null}", "null"},
    {"\"user\"", "{\"user\":7}",
     "decode: a field's JSON type does not match its declared column type"},
};

TEST(sql_decode_values_as_before) {
    for (size_t i = 0; i < SL_ARRAY_LEN(dec); i++) {
        char got[256];
        decode1(dec[i].expr, dec[i].doc, got, sizeof got);
        if (strcmp(got, dec[i].want)) {
            fprintf(stderr, "  %s over %s\n    got:  %s\n    want: %s\n", dec[i].expr, dec[i].doc,
                    got, dec[i].want);
        }
        CHECK(!strcmp(got, dec[i].want));
    }
}

/* A column passed through unchanged is copied from the document (sl_sql_json_raw_ok) only
 * where that is the text sl_sql_out_json writes: over the table above, every bare top-level
 * column either copies exactly the decoded value's output or declines (and is decoded). Left
 * undecoded by the scan (lazy), it is refused exactly when decoding refuses it and decodes
 * later (sl_sql_decode_slot) to the same value. */
TEST(sql_passthrough_copies_only_what_out_json_writes) {
    int copied = 0, declined = 0;
    for (size_t i = 0; i < SL_ARRAY_LEN(dec); i++) {
        sl_sql_catalog_t *c = sl_sql_catalog_new();
        char err[SL_ERRLEN];
        sl_sql_stmt_t *s = select1(c, dec[i].expr, err, sizeof err);
        CHECK(s != NULL);
        const sl_sql_expr_t *e = s->q->out[0];
        if (e->kind == SQ_E_SLOT && sl_sql_path_top(&s->q->paths[e->slot])) {
            sl_sql_decoder_t d;
            sl_sql_decoder_init(&d, s->q->paths, s->q->n_paths);
            sl_sql_val_t row[16];
            sl_sql_jval_t raw[16];
            sl_sql_scratch_t dmem = {0};
            const char *why;
            const char *doc = dec[i].doc;
            /* lazily (the column only passed through): the same verdict, the same value later */
            d.lazy[e->slot] = true;
            sl_sql_val_t lrow[16], lv;
            bool lazy_ok = sl_sql_decode_with(&d, doc, strlen(doc), &dmem, lrow, raw, &why);
            if (lazy_ok) {
                CHECK(sl_sql_decode_slot(&d, (size_t)e->slot, raw, &dmem, &lv));
                sl_sql_out_t o = {0};
                sl_sql_out_json(&o, e->type, &lv);
                CHECK(!strcmp(o.p, dec[i].want));
                sl_sql_out_free(&o);
            }
            d.lazy[e->slot] = false;
            CHECK(lazy_ok == !strstr(dec[i].want, "decode: "));
            if (sl_sql_decode_with(&d, doc, strlen(doc), &dmem, row, raw, &why)) {
                sl_sql_out_t o = {0};
                const sl_sql_jval_t *j = &raw[d.key_of[e->slot]];
                if (sl_sql_json_raw_ok(e->type.base, j)) {
                    sl_sql_out_raw(&o, j->p, j->n);
                    if (strcmp(o.p, dec[i].want)) {
                        fprintf(stderr, "  %s over %s\n    copied: %s\n    want:   %s\n",
                                dec[i].expr, doc, o.p, dec[i].want);
                    }
                    CHECK(!strcmp(o.p, dec[i].want));
                    copied++;
                } else {
                    CHECK(o.len == 0);
                    declined++;
                }
                sl_sql_out_free(&o);
            }
            sl_sql_scratch_fini(&dmem);
            sl_sql_decoder_fini(&d);
        }
        sl_sql_stmts_free(s);
        sl_sql_catalog_free(c);
    }
    CHECK(copied >= 10);  /* plain strings, integers, booleans, nulls, absent members */
    CHECK(declined >= 6); /* escapes, -0, DOUBLE, DECIMAL, TIMESTAMP text */
}

/* sl_short_eq (common/util.h), the scanner's key compare: every length up to 40, equal buffers,
 * and a difference at each position, in buffers that end exactly where the bytes compared do
 * (ASan sees any read past them). */
TEST(short_eq_sees_every_byte_and_reads_no_further) {
    for (size_t n = 0; n <= 40; n++) {
        unsigned char *a = malloc(n + !n), *b = malloc(n + !n); /* exactly n */
        for (size_t i = 0; i < n; i++) {
            a[i] = b[i] = (unsigned char)(sl_test_rand() | 1);
        }
        CHECK(sl_short_eq(a, b, n));
        for (size_t i = 0; i < n; i++) {
            b[i] ^= 0x80;
            CHECK(!sl_short_eq(a, b, n));
            b[i] ^= 0x80;
        }
        free(a);
        free(b);
    }
}

/* DOUBLE output: what printf gives ("%.15g" when it reads back as the same double, else
 * "%.17g"), also where the output skips printf (decimal-looking values). */
static void printf_double(double d, char *b, size_t n) {
    snprintf(b, n, "%.15g", d);
    if (strtod(b, NULL) != d) {
        snprintf(b, n, "%.17g", d);
    }
}

TEST(sql_double_output_is_printfs) {
    double fixed[] = {0.0,   -0.0,     1.0,
                      -1.0,  0.1,      0.908 * 2573,
                      1e15,  1e15 - 1, 999999999999999.9,
                      1e-4,  9.99e-5,  123456.789,
                      1e300, 5e-324,   0.3,
                      2.5,   -2.5,     1e14 + 0.5,
                      4.35,  100.0,    1234567890123.45};
    sl_sql_out_t o = {0};
    char want[64];
    for (int i = 0; i < 200000; i++) {
        double d;
        if (i < (int)SL_ARRAY_LEN(fixed)) {
            d = fixed[i];
        } else if (i % 3 == 0) { /* a decimal with a few digits */
            int64_t m = (int64_t)(sl_test_rand() % 100000000000ull) - 50000000000ll;
            d = (double)m / (double)(1ull << (sl_test_rand() % 4)) /
                (double)(uint64_t[]){1, 10, 100, 1000, 10000, 1000000}[sl_test_rand() % 6];
        } else if (i % 3 == 1) { /* a price x 0.908 */
            d = 0.908 * (double)(sl_test_rand() % 10000000);
        } else { /* any finite double */
            uint64_t bits = sl_test_rand();
            memcpy(&d, &bits, 8);
            if (!isfinite(d)) {
                continue;
            }
        }
        printf_double(d, want, sizeof want);
        o.len = 0;
        sl_sql_out_text(&o, (sl_sql_type_t){.base = SQ_DOUBLE}, &(sl_sql_val_t){.d = d});
        if (strcmp(o.p, want)) {
            fprintf(stderr, "  %.17g: got %s, printf %s\n", d, o.p, want);
        }
        CHECK(!strcmp(o.p, want));
    }
    sl_sql_out_free(&o);
}

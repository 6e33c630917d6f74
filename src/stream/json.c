/* json.c -- top-level JSON fields of records for pipelines (stream.h), on Jansson. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream/stream.h"

/* Parses doc (not NUL-terminated) and finds field; the caller decrefs *root. */
static sl_err_t lookup(sl_bytes_t doc, const char *field, json_t **root, json_t **val) {
    *root = NULL;
    if (!doc.p) {
        return SL_ERR_INVAL;
    }
    *root = json_loadb((const char *)doc.p, doc.len, JSON_DECODE_ANY, NULL);
    if (!*root || !json_is_object(*root)) {
        return SL_ERR_INVAL;
    }
    *val = json_object_get(*root, field);
    return *val ? SL_OK : SL_ERR_NOTFOUND;
}

sl_err_t sl_stream_json_get(sl_stream_ctx_t *ctx, sl_bytes_t doc, const char *field,
                            sl_bytes_t *out) {
    json_t *root, *v;
    sl_err_t err = lookup(doc, field, &root, &v);
    if (err == SL_OK) {
        char num[64];
        const char *s = NULL;
        size_t n = 0;
        if (json_is_string(v)) {
            s = json_string_value(v);
            n = json_string_length(v);
        } else if (json_is_integer(v)) {
            n = (size_t)snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
            s = num;
        } else if (json_is_real(v)) {
            n = (size_t)snprintf(num, sizeof num, "%.17g", json_real_value(v));
            s = num;
        } else if (json_is_boolean(v)) {
            s = json_is_true(v) ? "true" : "false";
            n = strlen(s);
        } else if (json_is_null(v)) {
            s = "null";
            n = 4;
        } else {
            err = SL_ERR_INVAL;
        }
        if (s) {
            uint8_t *copy = sl_stream_scratch(ctx, n + 1);
            memcpy(copy, s, n);
            *out = (sl_bytes_t){copy, n};
        }
    }
    json_decref(root);
    return err;
}

sl_err_t sl_stream_json_i64(sl_bytes_t doc, const char *field, int64_t *out) {
    json_t *root, *v;
    sl_err_t err = lookup(doc, field, &root, &v);
    if (err == SL_OK) {
        if (json_is_integer(v)) {
            *out = (int64_t)json_integer_value(v);
        } else if (json_is_string(v)) {
            char *end;
            const char *s = json_string_value(v);
            long long x = strtoll(s, &end, 10);
            err = *s && !*end ? SL_OK : SL_ERR_INVAL;
            *out = x;
        } else {
            err = SL_ERR_INVAL;
        }
    }
    json_decref(root);
    return err;
}

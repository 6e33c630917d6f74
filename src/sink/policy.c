/* policy.c -- the pure parts of the sinks: backoff with full jitter, the circuit breaker, column
 * mappings and the JSON-to-column checks. No I/O, so the unit tests cover them exactly. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sink/sink.h"

int64_t sl_backoff_ms(int64_t base_ms, int64_t cap_ms, int attempt, uint64_t rnd) {
    if (base_ms < 1) {
        base_ms = 1;
    }
    if (cap_ms < base_ms) {
        cap_ms = base_ms;
    }
    int64_t ceil = base_ms;
    for (int i = 0; i < attempt && ceil < cap_ms; i++) {
        ceil *= 2; /* stops at or just past cap_ms: no overflow */
    }
    if (ceil > cap_ms) {
        ceil = cap_ms;
    }
    return (int64_t)(rnd % (uint64_t)(ceil + 1));
}

void sl_breaker_init(sl_breaker_t *b, int threshold, int64_t cooldown_ms) {
    memset(b, 0, sizeof *b);
    b->threshold = threshold < 1 ? 1 : threshold;
    b->cooldown_ms = cooldown_ms < 0 ? 0 : cooldown_ms;
    b->state = SL_BREAKER_CLOSED;
}

int64_t sl_breaker_wait_ms(sl_breaker_t *b, int64_t now) {
    if (b->state != SL_BREAKER_OPEN) {
        return 0;
    }
    int64_t left = b->opened_at + b->cooldown_ms - now;
    if (left > 0) {
        return left;
    }
    b->state = SL_BREAKER_HALF_OPEN;
    return 0;
}

void sl_breaker_record(sl_breaker_t *b, bool ok, int64_t now) {
    if (ok) {
        b->state = SL_BREAKER_CLOSED;
        b->failures = 0;
        return;
    }
    b->failures++;
    if (b->state == SL_BREAKER_HALF_OPEN ||
        (b->state == SL_BREAKER_CLOSED && b->failures >= b->threshold)) {
        b->state = SL_BREAKER_OPEN;
        b->opened_at = now;
        b->opens++;
    }
}

void sl_sink_map_free(sl_sink_map_t *m) {
    for (int i = 0; i < m->n; i++) {
        free(m->col[i]);
        free(m->path[i]);
    }
    m->n = 0;
}

bool sl_sink_map_parse(sl_sink_map_t *m, const char *spec, char *err) {
    memset(m, 0, sizeof *m);
    const char *p = spec ? spec : "";
    if (!*p) {
        snprintf(err, 256, "empty mapping (expected col=field,...)");
        return false;
    }
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (!eq || eq == p || eq + 1 == p + len) {
            snprintf(err, 256, "bad mapping entry '%.*s' (expected col=field)", (int)len, p);
            sl_sink_map_free(m);
            return false;
        }
        if (m->n == (int)(sizeof m->col / sizeof m->col[0])) {
            snprintf(err, 256, "more than 64 mapped columns");
            sl_sink_map_free(m);
            return false;
        }
        char *col = strndup(p, (size_t)(eq - p));
        for (int i = 0; i < m->n; i++) {
            if (!strcmp(m->col[i], col)) {
                snprintf(err, 256, "column '%s' mapped twice", col);
                free(col);
                sl_sink_map_free(m);
                return false;
            }
        }
        m->col[m->n] = col;
        m->path[m->n++] = strndup(eq + 1, (size_t)(p + len - eq - 1));
        p += len;
        if (*p == ',') {
            p++;
            if (!*p) {
                snprintf(err, 256, "mapping ends with ','");
                sl_sink_map_free(m);
                return false;
            }
        }
    }
    return true;
}

json_t *sl_sink_json_path(json_t *root, const char *path) {
    json_t *cur = root;
    const char *p = path;
    while (cur && *p) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        if (!json_is_object(cur)) {
            return NULL;
        }
        cur = json_object_getn(cur, p, len);
        p += len;
        if (*p == '.') {
            p++;
        }
    }
    return cur;
}

int sl_sink_col_kind(const char *t) {
    if (!strcmp(t, "smallint") || !strcmp(t, "integer") || !strcmp(t, "bigint")) {
        return SL_COL_INT;
    }
    if (!strcmp(t, "real") || !strcmp(t, "double precision") || !strncmp(t, "numeric", 7)) {
        return SL_COL_NUM;
    }
    if (!strcmp(t, "boolean")) {
        return SL_COL_BOOL;
    }
    if (!strcmp(t, "json") || !strcmp(t, "jsonb")) {
        return SL_COL_JSON;
    }
    return SL_COL_TEXT; /* text, varchar, timestamps, uuid...: PostgreSQL parses the text */
}

static const char *json_kind(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

bool sl_sink_render(const json_t *v, int kind, char **out, char *err) {
    char buf[64];
    *out = NULL;
    if (json_is_null(v)) {
        return true;
    }
    switch (kind) {
    case SL_COL_INT:
        if (json_is_integer(v)) {
            snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
            *out = strdup(buf);
            return true;
        }
        break;
    case SL_COL_NUM:
        if (json_is_integer(v)) {
            snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
            *out = strdup(buf);
            return true;
        }
        if (json_is_real(v) && isfinite(json_real_value(v))) {
            snprintf(buf, sizeof buf, "%.17g", json_real_value(v));
            *out = strdup(buf);
            return true;
        }
        break;
    case SL_COL_BOOL:
        if (json_is_boolean(v)) {
            *out = strdup(json_is_true(v) ? "t" : "f");
            return true;
        }
        break;
    case SL_COL_JSON:
        *out = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        return *out != NULL;
    default:
        if (json_is_string(v)) {
            *out = strndup(json_string_value(v), json_string_length(v));
        } else {
            *out = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        }
        return *out != NULL;
    }
    static const char *names[] = {"text", "integer", "numeric", "boolean", "json"};
    snprintf(err, 256, "%s does not fit a %s column", json_kind(v), names[kind]);
    return false;
}

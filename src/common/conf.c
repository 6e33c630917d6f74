/* conf.c -- parsing and range-checking of table-driven configuration (see conf.h). */
#include "conf.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "util.h"

const sl_conf_def_t *sl_conf_find(const sl_conf_def_t *defs, size_t n, const char *key) {
    for (size_t i = 0; i < n; i++) {
        if (strcmp(defs[i].name, key) == 0) {
            return &defs[i];
        }
    }
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(defs[i].name);
        if (defs[i].type == SL_CONF_PREFIX && strlen(key) > len &&
            !strncmp(defs[i].name, key, len)) {
            return &defs[i];
        }
    }
    return NULL;
}

/* Whether map key `a` (len bytes) names `b`: case-insensitive up to the first '.', then exact. */
static bool map_key_eq(const char *a, size_t len, const char *b) {
    if (strlen(b) != len) {
        return false;
    }
    const char *dot = memchr(a, '.', len);
    size_t head = dot ? (size_t)(dot - a) : len;
    return !strncasecmp(a, b, head) && !memcmp(a + head, b + head, len - head);
}

const char *sl_conf_map_get(const char *field, const char *rest, char *out, size_t cap) {
    const char *found = NULL;
    size_t found_len = 0;
    for (const char *line = field; *line;) {
        const char *nl = strchr(line, '\n');
        const char *eq = memchr(line, '=', (size_t)(nl - line));
        if (eq && map_key_eq(line, (size_t)(eq - line), rest)) {
            found = eq + 1;
            found_len = (size_t)(nl - eq - 1);
        }
        line = nl + 1;
    }
    if (!found) {
        return NULL;
    }
    snprintf(out, cap, "%.*s", (int)found_len, found);
    return out;
}

static sl_err_t apply(const sl_conf_def_t *d, const char *key, void *target, const char *value,
                      char *err) {
    char *field = (char *)target + d->offset;
    switch (d->type) {
    case SL_CONF_INT: {
        char *end;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        while (*end && isspace((unsigned char)*end)) {
            end++;
        }
        if (errno || end == value || *end) {
            snprintf(err, SL_ERRLEN, "%s: not an integer: '%s'", d->name, value);
            return SL_ERR_INVAL;
        }
        int64_t mult = d->multiplier ? d->multiplier : 1;
        if (v < d->min || v > d->max) {
            snprintf(err, SL_ERRLEN, "%s: %lld is outside [%" PRId64 ", %" PRId64 "]", d->name, v,
                     d->min, d->max);
            return SL_ERR_INVAL;
        }
        int64_t out;
        if (__builtin_mul_overflow((int64_t)v, mult, &out)) {
            out = v < 0 ? INT64_MIN : INT64_MAX;
        }
        *(int64_t *)(void *)field = out;
        return SL_OK;
    }
    case SL_CONF_BOOL:
        if (!strcasecmp(value, "true")) {
            *(bool *)(void *)field = true;
        } else if (!strcasecmp(value, "false")) {
            *(bool *)(void *)field = false;
        } else {
            snprintf(err, SL_ERRLEN, "%s: expected true or false, got '%s'", d->name, value);
            return SL_ERR_INVAL;
        }
        return SL_OK;
    case SL_CONF_STR:
        if (strlen(value) >= SL_CONF_STR_MAX) {
            snprintf(err, SL_ERRLEN, "%s: value too long", d->name);
            return SL_ERR_INVAL;
        }
        snprintf(field, SL_CONF_STR_MAX, "%s", value);
        return SL_OK;
    case SL_CONF_IGNORED:
        sl_log(SL_LOG_WARN, "conf", "key=%s msg=\"accepted for compatibility, ignored\"", d->name);
        return SL_OK;
    case SL_CONF_PREFIX: {
        size_t used = strlen(field), need = strlen(key) - strlen(d->name) + strlen(value) + 2;
        if (strlen(key) <= strlen(d->name)) {
            snprintf(err, SL_ERRLEN, "%s: a key goes after the prefix (%s<...>)", key, d->name);
            return SL_ERR_INVAL;
        }
        if (strlen(value) >= SL_CONF_STR_MAX || strchr(value, '\n') || strchr(key, '=') ||
            used + need >= SL_CONF_MAP_MAX) {
            snprintf(err, SL_ERRLEN, "%s: value too long, or too many %s* keys", key, d->name);
            return SL_ERR_INVAL;
        }
        snprintf(field + used, SL_CONF_MAP_MAX - used, "%s=%s\n", key + strlen(d->name), value);
        return SL_OK;
    }
    }
    return SL_ERR_INVAL;
}

void sl_conf_defaults(const sl_conf_def_t *defs, size_t n, void *target) {
    char err[SL_ERRLEN];
    for (size_t i = 0; i < n; i++) {
        if (defs[i].type == SL_CONF_PREFIX) {
            *((char *)target + defs[i].offset) = '\0';
        } else if (defs[i].def && defs[i].type != SL_CONF_IGNORED) {
            sl_err_t rc = apply(&defs[i], defs[i].name, target, defs[i].def, err);
            SL_ASSERT(rc == SL_OK);
        }
    }
}

sl_err_t sl_conf_set(const sl_conf_def_t *defs, size_t n, void *target, const char *key,
                     const char *value, char *err) {
    const sl_conf_def_t *d = sl_conf_find(defs, n, key);
    if (!d) {
        snprintf(err, SL_ERRLEN, "unknown configuration key '%s'", key);
        return SL_ERR_NOTFOUND;
    }
    return apply(d, key, target, value, err);
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) {
        s++;
    }
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) {
        *--e = '\0';
    }
    return s;
}

sl_err_t sl_conf_set_kv(const sl_conf_def_t *defs, size_t n, void *target, const char *kv,
                        char *err) {
    char line[1024];
    if (strlen(kv) >= sizeof line) {
        snprintf(err, SL_ERRLEN, "setting too long");
        return SL_ERR_INVAL;
    }
    snprintf(line, sizeof line, "%s", kv);
    char *sep = strpbrk(line, "=:");
    if (!sep) {
        snprintf(err, SL_ERRLEN, "expected key=value, got '%s'", kv);
        return SL_ERR_INVAL;
    }
    *sep = '\0';
    return sl_conf_set(defs, n, target, trim(line), trim(sep + 1), err);
}

sl_err_t sl_conf_load_file(const sl_conf_def_t *defs, size_t n, void *target, const char *path,
                           char *err) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, SL_ERRLEN, "%s: %s", path, strerror(errno));
        return SL_ERR_IO;
    }
    char line[1024];
    int lineno = 0;
    sl_err_t rc = SL_OK;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#' || *s == '!') {
            continue;
        }
        char sub[SL_ERRLEN];
        rc = sl_conf_set_kv(defs, n, target, s, sub);
        if (rc != SL_OK) {
            snprintf(err, SL_ERRLEN, "%s:%d: %.200s", path, lineno, sub);
            break;
        }
    }
    fclose(f);
    return rc;
}

void sl_conf_format(const sl_conf_def_t *d, const void *target, char *out) {
    const char *field = (const char *)target + d->offset;
    switch (d->type) {
    case SL_CONF_INT: {
        int64_t v = *(const int64_t *)(const void *)field;
        int64_t mult = d->multiplier ? d->multiplier : 1;
        snprintf(out, SL_CONF_STR_MAX, "%" PRId64, v == INT64_MAX ? v : v / mult);
        return;
    }
    case SL_CONF_BOOL:
        snprintf(out, SL_CONF_STR_MAX, "%s", *(const bool *)(const void *)field ? "true" : "false");
        return;
    case SL_CONF_STR:
        snprintf(out, SL_CONF_STR_MAX, "%s", field);
        return;
    case SL_CONF_IGNORED:
        snprintf(out, SL_CONF_STR_MAX, "%s", d->def ? d->def : "");
        return;
    case SL_CONF_PREFIX: /* "k=v,k=v" (truncated to what fits) */
        snprintf(out, SL_CONF_STR_MAX, "%s", field);
        for (char *c = out; *c; c++) {
            *c = *c == '\n' && c[1] ? ',' : *c == '\n' ? '\0' : *c;
        }
        return;
    }
}

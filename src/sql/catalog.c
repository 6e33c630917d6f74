/* catalog.c -- the stream catalog shared by `sluice sql` and `sluice run FILE.sql`: a text file of
 * CREATE STREAM statements (default ./sluice-catalog.sql, or SLUICE_SQL_CATALOG), re-parsed on
 * load. A file rather than a compacted topic because the broker has no log compaction yet, and a
 * file is readable, diffable and editable by hand. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "sql/sql_int.h"

sl_sql_catalog_t *sl_sql_catalog_new(void) {
    return sl_xcalloc(1, sizeof(sl_sql_catalog_t));
}

void sl_sql_catalog_free(sl_sql_catalog_t *c) {
    if (c) {
        sl_sql_pool_free(&c->pool);
        free(c);
    }
}

/* Reads a whole file; NULL with errno set. */
static char *slurp(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) {
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *buf = sl_xmalloc(cap);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 2) {
            cap *= 2;
            buf = sl_xrealloc(buf, cap);
        }
    }
    buf[len] = 0;
    fclose(f);
    return buf;
}

sl_err_t sl_sql_catalog_load(sl_sql_catalog_t *c, const char *path, char *err, size_t errlen) {
    char *text = slurp(path);
    if (!text) {
        if (errno == ENOENT) {
            return SL_OK;
        }
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return SL_ERR_IO;
    }
    char e[SL_ERRLEN];
    sl_sql_stmt_t *s = sl_sql_parse(c, text, e, sizeof e);
    free(text);
    if (!s && strcmp(e, "no statement")) {
        snprintf(err, errlen, "%s: %s", path, e);
        return SL_ERR_INVAL;
    }
    sl_sql_stmts_free(s); /* the streams were copied into the catalog */
    return SL_OK;
}

sl_err_t sl_sql_catalog_append(const char *path, const char *stmt_text, char *err, size_t errlen) {
    FILE *f = fopen(path, "a");
    if (!f || fprintf(f, "%s;\n", stmt_text) < 0 || fclose(f) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return SL_ERR_IO;
    }
    return SL_OK;
}

sl_err_t sl_sql_catalog_save(const sl_sql_catalog_t *c, const char *path, char *err,
                             size_t errlen) {
    size_t n = strlen(path) + 8;
    char *tmp = sl_xmalloc(n);
    snprintf(tmp, n, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    bool ok = f != NULL;
    for (const sl_sql_stream_t *s = c->streams; ok && s; s = s->next) {
        ok = fprintf(f, "%s;\n", s->text) >= 0;
    }
    if (f && fclose(f) != 0) {
        ok = false;
    }
    if (ok && rename(tmp, path) != 0) {
        ok = false;
    }
    if (!ok) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        (void)unlink(tmp);
    }
    free(tmp);
    return ok ? SL_OK : SL_ERR_IO;
}

void sl_sql_show_streams(const sl_sql_catalog_t *c, FILE *f) {
    fprintf(f, "%-24s %-24s %-12s %s\n", "name", "topic", "timestamp", "kind");
    for (const sl_sql_stream_t *s = c->streams; s; s = s->next) {
        fprintf(f, "%-24s %-24s %-12s %s\n", s->name, s->topic, s->timestamp ? s->timestamp : "-",
                s->table ? "table" : "stream");
    }
}

sl_err_t sl_sql_describe(const sl_sql_catalog_t *c, const char *name, FILE *f) {
    const sl_sql_stream_t *s = sl_sql_find_stream(c, name);
    if (!s) {
        return SL_ERR_NOTFOUND;
    }
    fprintf(f, "%s %s: topic '%s', format json", s->table ? "table" : "stream", s->name, s->topic);
    if (s->key) {
        fprintf(f, ", %s %s", s->table ? "primary key" : "key", s->key);
    }
    if (s->timestamp) {
        fprintf(f, ", timestamp %s, watermark_delay %lld ms", s->timestamp,
                (long long)s->watermark_delay_ms);
    }
    if (s->idle_ms) {
        fprintf(f, ", idle_timeout %lld ms", (long long)s->idle_ms);
    }
    if (s->late_topic) {
        fprintf(f, ", late_topic '%s'", s->late_topic);
    }
    fprintf(f, "\n");
    for (const sl_sql_col_t *col = s->cols; col; col = col->next) {
        char b[256];
        fprintf(f, "  %-20s %s\n", col->name, sl_sql_type_str(col->type, b, sizeof b));
    }
    return SL_OK;
}

sl_err_t sl_sql_build_file(sl_stream_builder_t *b, const char *path, const char *catalog_path,
                           sl_sql_stmt_t **owned, char *err, size_t errlen) {
    *owned = NULL;
    char *text = slurp(path);
    if (!text) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return SL_ERR_IO;
    }
    sl_sql_catalog_t *c = sl_sql_catalog_new();
    char e[SL_ERRLEN];
    sl_err_t rc = catalog_path ? sl_sql_catalog_load(c, catalog_path, err, errlen) : SL_OK;
    sl_sql_stmt_t *list = NULL;
    if (rc == SL_OK && !(list = sl_sql_parse(c, text, e, sizeof e))) {
        snprintf(err, errlen, "%s: %s", path, e);
        rc = SL_ERR_INVAL;
    }
    size_t queries = 0;
    for (sl_sql_stmt_t *s = list; rc == SL_OK && s; s = s->next) {
        if (s->kind == SL_SQL_INSERT || s->kind == SL_SQL_CREATE_AS) {
            rc = sl_sql_compile(s, b, NULL, NULL, NULL, e, sizeof e);
            if (rc != SL_OK) {
                snprintf(err, errlen, "%s: line %d: %s", path, s->line, e);
            }
            queries++;
        } else if (s->kind != SL_SQL_CREATE_STREAM) {
            snprintf(err, errlen,
                     "%s: line %d, column %d: only CREATE STREAM, INSERT INTO ... SELECT and "
                     "CREATE STREAM ... AS SELECT run under `sluice run` (SELECT is for `sluice "
                     "sql`)",
                     path, s->line, s->col);
            rc = SL_ERR_INVAL;
        }
    }
    if (rc == SL_OK && !queries) {
        snprintf(err, errlen, "%s: no persistent query (INSERT INTO or CREATE STREAM ... AS)",
                 path);
        rc = SL_ERR_INVAL;
    }
    free(text);
    /* The compiled queries point at the catalog's streams: it lives as long as the list. */
    if (rc != SL_OK) {
        sl_sql_stmts_free(list);
        sl_sql_catalog_free(c);
        return rc;
    }
    list->catalog = c; /* freed with the list */
    *owned = list;
    return SL_OK;
}

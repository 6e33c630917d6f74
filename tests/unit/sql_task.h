/* sql_task.h -- for unit tests of SQL queries run in stream tasks (no broker): parse a DDL and a
 * query, explain and compile the query's last statement into a stream graph. */
#ifndef SL_TEST_SQL_TASK_H
#define SL_TEST_SQL_TASK_H

#include <stdbool.h>
#include <stdio.h>

#include "sql/sql_int.h"
#include "stream/graph.h"

typedef struct q {
    sl_sql_catalog_t *c;
    sl_sql_stmt_t *list, *s; /* every statement; the last one, compiled */
    sl_stream_builder_t *b;
    char plan[1024]; /* its EXPLAIN */
} q_t;

/* Parses `ddl` then `sql`, explains and compiles the last statement into q->b (output topic
 * names prefixed "tmp-out"). False, the error printed, on any failure; unbuild either way. */
static inline bool build_sql(q_t *q, const char *ddl, const char *sql) {
    char err[SL_ERRLEN], text[2048];
    *q = (q_t){.c = sl_sql_catalog_new()};
    snprintf(text, sizeof text, "%s%s", ddl, sql);
    q->list = sl_sql_parse(q->c, text, err, sizeof err);
    if (!q->list) {
        fprintf(stderr, "  %s\n", err);
        return false;
    }
    for (q->s = q->list; q->s->next; q->s = q->s->next) {
    }
    FILE *f = fmemopen(q->plan, sizeof q->plan, "w");
    sl_sql_explain(q->s, f);
    fclose(f);
    q->b = sl_stream_builder_new();
    if (sl_sql_compile(q->s, q->b, NULL, NULL, "tmp-out", err, sizeof err) != SL_OK) {
        fprintf(stderr, "  %s\n", err);
        return false;
    }
    return true;
}

static inline void unbuild(q_t *q) {
    sl_stream_builder_free(q->b);
    sl_sql_stmts_free(q->list);
    sl_sql_catalog_free(q->c);
}

#endif

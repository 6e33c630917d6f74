/* sql.h -- sluice's streaming SQL: statements over JSON topics compiled to the stream engine.
 *
 * A script is parsed (lemon grammar, hand-written lexer), checked against a catalog of streams and
 * tables (column types, every column and function resolved, errors with line and column), and each
 * persistent query (INSERT INTO ... SELECT, CREATE STREAM ... AS SELECT) compiles to nodes of an
 * sl_stream_builder_t: the same engine, runtime options and exactly-once as C pipelines.
 * docs/sql.md describes the language. Thread: building is single-threaded; the compiled nodes'
 * callbacks only read the compiled query, so tasks run them in parallel. */
#ifndef SL_SQL_H
#define SL_SQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "common/err.h"
#include "stream/stream.h"

typedef struct sl_sql_catalog sl_sql_catalog_t;
typedef struct sl_sql_stmt sl_sql_stmt_t;

typedef enum sl_sql_stmt_kind {
    SL_SQL_CREATE_STREAM = 1, /* CREATE STREAM s (cols) WITH (...) */
    SL_SQL_CREATE_AS,         /* CREATE STREAM s WITH (...) AS SELECT ...: persistent */
    SL_SQL_INSERT,            /* INSERT INTO s SELECT ...: persistent */
    SL_SQL_SELECT,            /* a transient query (the shell) */
    SL_SQL_EXPLAIN,
    SL_SQL_SHOW_STREAMS,
    SL_SQL_DESCRIBE,
    SL_SQL_DROP_STREAM
} sl_sql_stmt_kind_t;

sl_sql_catalog_t *sl_sql_catalog_new(void);
void sl_sql_catalog_free(sl_sql_catalog_t *c);
/* Loads the CREATE STREAM statements of the file at path into c (a missing file is an empty
 * catalog). SL_OK, or an error with "path:line:col: message" in err. */
SL_MUST_USE sl_err_t sl_sql_catalog_load(sl_sql_catalog_t *c, const char *path, char *err,
                                         size_t errlen);
/* Appends one statement's text to the catalog file (creating it); SL_ERR_IO with err set. */
SL_MUST_USE sl_err_t sl_sql_catalog_append(const char *path, const char *stmt_text, char *err,
                                           size_t errlen);
/* Rewrites the catalog file from the streams in c (after DROP STREAM). */
SL_MUST_USE sl_err_t sl_sql_catalog_save(const sl_sql_catalog_t *c, const char *path, char *err,
                                         size_t errlen);
/* SHOW STREAMS / DESCRIBE s, printed to f. DESCRIBE of an unknown stream: SL_ERR_NOTFOUND. */
void sl_sql_show_streams(const sl_sql_catalog_t *c, FILE *f);
SL_MUST_USE sl_err_t sl_sql_describe(const sl_sql_catalog_t *c, const char *name, FILE *f);

/* Parses and checks `text` (one or more statements separated by ';'). Each CREATE STREAM is
 * added to c as it is met, so later statements see it. On error: NULL, with "line L, column C:
 * message" in err; nothing after the failing statement is added. The caller frees the list
 * with sl_sql_stmts_free. */
sl_sql_stmt_t *sl_sql_parse(sl_sql_catalog_t *c, const char *text, char *err, size_t errlen);
void sl_sql_stmts_free(sl_sql_stmt_t *list);
sl_sql_stmt_t *sl_sql_stmt_next(const sl_sql_stmt_t *s);
sl_sql_stmt_kind_t sl_sql_stmt_kind(const sl_sql_stmt_t *s);
const char *sl_sql_stmt_name(const sl_sql_stmt_t *s); /* the stream a statement names, or NULL */
const char *sl_sql_stmt_text(const sl_sql_stmt_t *s); /* the statement's source text */
bool sl_sql_stmt_is_table(const sl_sql_stmt_t *s);    /* a CREATE TABLE (kind CREATE_STREAM) */

/* Adds the nodes of a query statement (SELECT, INSERT, CREATE AS) to b. The output goes to the
 * target stream's topic; a plain SELECT's goes through a map node calling row_fn (if not NULL)
 * with each output row as a JSON object, then to out_topic (the engine wants every path to end
 * in a sink). The statement must outlive b (its compiled form is owned by the statement list).
 * SL_OK or SL_ERR_INVAL with err set. */
typedef void sl_sql_row_fn(const char *json, size_t len, void *user);
SL_MUST_USE sl_err_t sl_sql_compile(sl_sql_stmt_t *s, sl_stream_builder_t *b, sl_sql_row_fn *row_fn,
                                    void *row_user, const char *out_topic, char *err,
                                    size_t errlen);
/* The operator graph of a query statement, one node a line (EXPLAIN). */
void sl_sql_explain(const sl_sql_stmt_t *s, FILE *f);
/* The output column names of a query statement (the shell's table header): n_out, names. */
size_t sl_sql_columns(const sl_sql_stmt_t *s, const char *const **names);

/* `sluice run FILE.sql`: reads the file, loads the catalog file (may be NULL), and compiles every
 * persistent query into b. SL_OK, or an error in err (`file:line:col: message`). The returned
 * statement list (in *owned) must outlive b; free it with sl_sql_stmts_free after the builder. */
SL_MUST_USE sl_err_t sl_sql_build_file(sl_stream_builder_t *b, const char *path,
                                       const char *catalog_path, sl_sql_stmt_t **owned, char *err,
                                       size_t errlen);

#endif

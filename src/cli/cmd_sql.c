/* cmd_sql.c -- `sluice sql`: an interactive SQL shell (libedit: line editing, history in
 * ~/.sluice_sql_history). Statements end with ';'. CREATE STREAM / TABLE and DROP change the
 * catalog file shared with `sluice run FILE.sql`; SHOW STREAMS, DESCRIBE s and EXPLAIN SELECT
 * print; a SELECT runs as a transient query (a throwaway application id, at-least-once, reading its
 * input from the beginning) and prints its rows live as a table until Ctrl-C, which stops it and
 * returns to the prompt. quit, exit or Ctrl-D leave. */
#include <editline/readline.h>
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/util.h"
#include "sql/sql.h"
#include "stream/runtime.h"

static void usage(FILE *f) {
    fprintf(f, "usage: sluice sql [-b HOST:PORT] [-X key=value] [--catalog FILE] [-e STATEMENTS]\n"
               "An interactive streaming SQL shell (docs/sql.md). Statements end with ';'.\n"
               "  --catalog FILE   the stream catalog shared with `sluice run FILE.sql`\n"
               "                   (default $SLUICE_SQL_CATALOG, else ./sluice-catalog.sql)\n"
               "  -e STATEMENTS    run these statements instead of reading the terminal\n"
               "  SHOW STREAMS; DESCRIBE s; EXPLAIN SELECT ...; SELECT ... EMIT CHANGES;\n"
               "  CREATE STREAM ...; CREATE TABLE ...; DROP STREAM s; DROP TABLE t;\n"
               "  quit (or Ctrl-D). Ctrl-C stops a query.\n");
}

typedef struct shell {
    sl_sql_catalog_t *cat;
    const char *catalog_path;
    rd_kafka_conf_t *client;
    const char *const *cols;
    size_t n_cols;
    pthread_mutex_t out_lock;
    unsigned long rows;
    int queries;
} shell_t;

static sl_stream_t *volatile running;
static volatile sig_atomic_t interrupted;

static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
    sl_stream_t *s = running;
    if (s) {
        sl_stream_stop(s);
    }
}

#define COLW 18

static void print_cell(const char *s, size_t n) {
    if (n > COLW) {
        printf("| %.*s~ ", COLW - 1, s);
    } else {
        printf("| %-*.*s ", COLW, (int)n, s);
    }
}

static void print_rule(size_t n) {
    for (size_t i = 0; i < n; i++) {
        printf("+");
        for (int k = 0; k < COLW + 2; k++) {
            putchar('-');
        }
    }
    printf("+\n");
}

/* A row of the running query (thread: a lane): one table line. */
static void print_row(const char *json, size_t len, void *user) {
    shell_t *sh = user;
    json_t *o = json_loadb(json, len, 0, NULL);
    pthread_mutex_lock(&sh->out_lock);
    for (size_t i = 0; i < sh->n_cols; i++) {
        json_t *v = o ? json_object_get(o, sh->cols[i]) : NULL;
        char *txt = NULL;
        if (v && json_is_string(v)) {
            print_cell(json_string_value(v), json_string_length(v));
        } else if (v && (txt = json_dumps(v, JSON_ENCODE_ANY))) {
            print_cell(txt, strlen(txt));
        } else {
            print_cell("NULL", 4);
        }
        free(txt);
    }
    printf("|\n");
    fflush(stdout);
    sh->rows++;
    pthread_mutex_unlock(&sh->out_lock);
    json_decref(o);
}

static void *run_thread(void *p) {
    sl_stream_t *s = p;
    sl_err_t err = sl_stream_run(s);
    if (err != SL_OK) {
        fprintf(stderr, "sluice: query: %s\n", sl_stream_errmsg(s));
    }
    return NULL;
}

/* Runs a SELECT until Ctrl-C (or a fatal error). */
static void run_select(shell_t *sh, sl_sql_stmt_t *s) {
    char app[96], out[128], err[512];
    snprintf(app, sizeof app, "sluice-sql-%ld-%d", (long)getpid(), ++sh->queries);
    snprintf(out, sizeof out, "%s-out", app);
    sl_stream_builder_t *b = sl_stream_builder_new();
    if (sl_sql_compile(s, b, print_row, sh, out, err, sizeof err) != SL_OK) {
        fprintf(stderr, "sluice: %s\n", err);
        sl_stream_builder_free(b);
        return;
    }
    sl_stream_run_conf_t rc = {.client = sh->client,
                               .app_id = app,
                               .at_least_once = true,
                               .commit_interval_ms = 200,
                               .on_error = SL_STREAM_ON_ERROR_SKIP};
    sl_stream_t *st = sl_stream_new(b, &rc, err, sizeof err);
    if (!st) {
        fprintf(stderr, "sluice: %s\n", err);
        sl_stream_builder_free(b);
        return;
    }
    sh->n_cols = sl_sql_columns(s, &sh->cols);
    print_rule(sh->n_cols);
    for (size_t i = 0; i < sh->n_cols; i++) {
        print_cell(sh->cols[i], strlen(sh->cols[i]));
    }
    printf("|\n");
    print_rule(sh->n_cols);
    printf("(Ctrl-C stops the query)\n");
    fflush(stdout);
    sh->rows = 0;
    interrupted = 0;
    running = st;
    pthread_t th;
    if (pthread_create(&th, NULL, run_thread, st) != 0) {
        fprintf(stderr, "sluice: cannot start the query thread\n");
    } else {
        pthread_join(th, NULL);
    }
    running = NULL;
    printf("query stopped: %lu row%s\n", sh->rows, sh->rows == 1 ? "" : "s");
    fflush(stdout);
    sl_stream_free(st);
    sl_stream_builder_free(b);
}

/* Executes the statements of one input; returns false on an error. */
static bool execute(shell_t *sh, const char *text) {
    char err[SL_ERRLEN];
    sl_sql_stmt_t *list = sl_sql_parse(sh->cat, text, err, sizeof err);
    if (!list) {
        if (strcmp(err, "no statement")) {
            fprintf(stderr, "sluice: %s\n", err);
        }
        return false;
    }
    bool ok = true, reload = false;
    for (sl_sql_stmt_t *s = list; s && ok; s = sl_sql_stmt_next(s)) {
        switch (sl_sql_stmt_kind(s)) {
        case SL_SQL_CREATE_STREAM:
            if (sl_sql_catalog_append(sh->catalog_path, sl_sql_stmt_text(s), err, sizeof err) !=
                SL_OK) {
                fprintf(stderr, "sluice: catalog: %s\n", err);
                ok = false;
                reload = true;
            } else {
                printf("%s %s created\n", sl_sql_stmt_is_table(s) ? "table" : "stream",
                       sl_sql_stmt_name(s));
            }
            break;
        case SL_SQL_DROP_STREAM:
            if (sl_sql_catalog_save(sh->cat, sh->catalog_path, err, sizeof err) != SL_OK) {
                fprintf(stderr, "sluice: catalog: %s\n", err);
                ok = false;
            } else {
                printf("stream %s dropped\n", sl_sql_stmt_name(s));
            }
            break;
        case SL_SQL_SHOW_STREAMS:
            sl_sql_show_streams(sh->cat, stdout);
            break;
        case SL_SQL_DESCRIBE:
            if (sl_sql_describe(sh->cat, sl_sql_stmt_name(s), stdout) != SL_OK) {
                ok = false; /* dropped earlier in the same input */
            }
            break;
        case SL_SQL_EXPLAIN:
            sl_sql_explain(s, stdout);
            break;
        case SL_SQL_SELECT:
            run_select(sh, s);
            break;
        case SL_SQL_INSERT:
        case SL_SQL_CREATE_AS:
            fprintf(stderr, "sluice: persistent queries run with `sluice run FILE.sql --app-id ID` "
                            "(the shell runs SELECT)\n");
            reload = true; /* CREATE ... AS was added to the catalog in memory only: undo */
            ok = false;
            break;
        }
        fflush(stdout);
    }
    sl_sql_stmts_free(list);
    if (reload) {
        sl_sql_catalog_free(sh->cat);
        sh->cat = sl_sql_catalog_new();
        if (sl_sql_catalog_load(sh->cat, sh->catalog_path, err, sizeof err) != SL_OK) {
            fprintf(stderr, "sluice: %s\n", err);
        }
    }
    return ok;
}

static bool complete_stmt(const char *buf) {
    size_t n = strlen(buf);
    while (n && (buf[n - 1] == ' ' || buf[n - 1] == '\t' || buf[n - 1] == '\n')) {
        n--;
    }
    return n && buf[n - 1] == ';';
}

static int repl(shell_t *sh) {
    char hist[4096] = "";
    const char *home = getenv("HOME");
    if (home) {
        snprintf(hist, sizeof hist, "%s/.sluice_sql_history", home);
        read_history(hist);
    }
    char *buf = NULL;
    size_t len = 0;
    for (;;) {
        interrupted = 0;
        char *line = readline(len ? "     -> " : "sluice> ");
        if (!line && interrupted) { /* Ctrl-C at the prompt: drop the statement typed so far */
            len = 0;
            printf("\n");
            continue;
        }
        if (!line) { /* Ctrl-D */
            printf("\n");
            break;
        }
        const char *t = line;
        while (*t == ' ' || *t == '\t') {
            t++;
        }
        if (!len && (!strncasecmp(t, "quit", 4) || !strncasecmp(t, "exit", 4)) &&
            (t[4] == 0 || t[4] == ';' || t[4] == ' ')) {
            free(line);
            break;
        }
        size_t ln = strlen(line);
        buf = sl_xrealloc(buf, len + ln + 2);
        memcpy(buf + len, line, ln);
        len += ln;
        buf[len++] = '\n';
        buf[len] = 0;
        free(line);
        if (!complete_stmt(buf)) {
            continue;
        }
        buf[len - 1] = 0;
        add_history(buf);
        (void)execute(sh, buf);
        len = 0;
    }
    free(buf);
    if (hist[0]) {
        write_history(hist);
    }
    return 0;
}

int sl_cmd_sql(int argc, char **argv) {
    static const struct option opts[] = {
        {"brokers", required_argument, 0, 'b'},
        {"catalog", required_argument, 0, 'c'},
        {"execute", required_argument, 0, 'e'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    sl_client_opts_t co = {0};
    const char *catalog = getenv("SLUICE_SQL_CATALOG"), *exec = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "b:X:c:e:h", opts, NULL)) != -1) {
        if (sl_client_opt(&co, c, optarg)) {
            continue;
        }
        switch (c) {
        case 'c':
            catalog = optarg;
            break;
        case 'e':
            exec = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return 2;
    }
    shell_t sh = {.catalog_path = catalog ? catalog : "sluice-catalog.sql"};
    pthread_mutex_init(&sh.out_lock, NULL);
    sh.client = sl_client_conf(&co);
    if (!sh.client) {
        return 2;
    }
    sh.cat = sl_sql_catalog_new();
    char err[SL_ERRLEN];
    int rc = 0;
    if (sl_sql_catalog_load(sh.cat, sh.catalog_path, err, sizeof err) != SL_OK) {
        fprintf(stderr, "sluice: %s\n", err);
        rc = 1;
    } else {
        struct sigaction sa = {0};
        sa.sa_handler = on_sigint;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        rc = exec ? (execute(&sh, exec) ? 0 : 1) : repl(&sh);
    }
    sl_sql_catalog_free(sh.cat);
    rd_kafka_conf_destroy(sh.client);
    pthread_mutex_destroy(&sh.out_lock);
    return rc;
}

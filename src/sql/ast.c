/* ast.c -- the parser's driver and the AST constructors its actions call; statement lists. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"
#include "sql/grammar.h"
#include "sql/sql_int.h"

/* lemon's interface (grammar.c) */
void *sl_sql_parserAlloc(void *(*malloc_fn)(size_t));
void sl_sql_parser(void *p, int tok, sl_sql_token_t t, sl_sql_parse_t *ps);
void sl_sql_parserFree(void *p, void (*free_fn)(void *));

typedef struct blk {
    struct blk *next;
    max_align_t data[];
} blk_t;

void *sl_sql_alloc(sl_sql_pool_t *p, size_t n) {
    blk_t *b = sl_xcalloc(1, sizeof *b + n);
    b->next = p->head;
    p->head = b;
    return b->data;
}

char *sl_sql_strndup(sl_sql_pool_t *p, const char *s, size_t n) {
    char *d = sl_sql_alloc(p, n + 1);
    memcpy(d, s, n);
    return d;
}

void sl_sql_pool_free(sl_sql_pool_t *p) {
    for (blk_t *b = p->head, *nx; b; b = nx) {
        nx = b->next;
        free(b);
    }
    p->head = NULL;
}

sl_sql_expr_t *sl_sql_expr_new(sl_sql_parse_t *ps, sl_sql_ek_t k, sl_sql_token_t at) {
    sl_sql_expr_t *e = sl_sql_alloc(ps->pool, sizeof *e);
    e->kind = k;
    e->line = at.line;
    e->col = at.col;
    e->agg = -1;
    return e;
}

sl_sql_expr_t *sl_sql_bin(sl_sql_parse_t *ps, int op, sl_sql_expr_t *a, sl_sql_expr_t *b) {
    sl_sql_expr_t *e = sl_sql_expr_new(ps, SQ_E_BIN, (sl_sql_token_t){0});
    e->op = op;
    e->a = a;
    e->b = b;
    e->line = a->line;
    e->col = a->col;
    return e;
}

sl_sql_expr_t *sl_sql_un(sl_sql_parse_t *ps, int op, sl_sql_expr_t *a, sl_sql_token_t at) {
    sl_sql_expr_t *e = sl_sql_expr_new(ps, SQ_E_UN, at);
    e->op = op;
    e->a = a;
    if (!at.line) {
        e->line = a->line;
        e->col = a->col;
    }
    return e;
}

sl_sql_expr_t *sl_sql_lit_num(sl_sql_parse_t *ps, sl_sql_token_t t) {
    sl_sql_expr_t *e = sl_sql_expr_new(ps, SQ_E_LIT, t);
    char buf[64];
    if (t.n >= sizeof buf) {
        sl_sql_errorf(ps, t.line, t.col, "number too long");
        return e;
    }
    memcpy(buf, t.p, t.n);
    buf[t.n] = 0;
    bool integral = !strpbrk(buf, ".eE");
    errno = 0;
    if (integral) {
        long long v = strtoll(buf, NULL, 10);
        if (errno == ERANGE) {
            sl_sql_errorf(ps, t.line, t.col, "integer literal out of range (BIGINT)");
        }
        e->type.base = v >= INT32_MIN && v <= INT32_MAX ? SQ_INT : SQ_BIGINT;
        e->val.i = v;
        return e;
    }
    /* A point and no exponent: an exact DECIMAL(p,s) as in standard SQL and Flink (0.908 is
     * DECIMAL(3,3)), when it has at most 18 digits; with an exponent, or longer: DOUBLE. */
    const char *dot = strchr(buf, '.');
    if (dot && !strpbrk(buf, "eE")) {
        int64_t v = 0;
        size_t digits = 0, scale = strlen(dot + 1);
        for (const char *c = buf; *c; c++) {
            if (*c != '.' && (digits || *c != '0' || c > dot)) { /* leading zeroes do not count */
                digits++;
                v = digits <= 18 ? v * 10 + (*c - '0') : v;
            }
        }
        if (digits <= 18 && scale <= 18) {
            digits = digits > scale ? digits : scale;
            e->type = (sl_sql_type_t){.base = SQ_DECIMAL,
                                      .prec = (uint8_t)(digits ? digits : 1),
                                      .scale = (uint8_t)scale};
            e->val.i = v;
            return e;
        }
    }
    e->type.base = SQ_DOUBLE;
    e->val.d = strtod(buf, NULL);
    return e;
}

char *sl_sql_string(sl_sql_parse_t *ps, sl_sql_token_t t) {
    char *d = sl_sql_alloc(ps->pool, t.n);
    size_t k = 0;
    for (size_t i = 1; i + 1 < t.n; i++) {
        d[k++] = t.p[i];
        if (t.p[i] == t.p[0]) {
            i++; /* a doubled quote */
        }
    }
    d[k] = 0;
    return d;
}

sl_sql_expr_t *sl_sql_lit_str(sl_sql_parse_t *ps, sl_sql_token_t t) {
    sl_sql_expr_t *e = sl_sql_expr_new(ps, SQ_E_LIT, t);
    e->type.base = SQ_VARCHAR;
    e->val.s = sl_sql_string(ps, t);
    e->val.n = strlen(e->val.s);
    return e;
}

sl_sql_expr_t *sl_sql_lit_interval(sl_sql_parse_t *ps, sl_sql_token_t at, sl_sql_token_t v,
                                   sl_sql_token_t unit) {
    static const struct {
        const char *name;
        int64_t ms;
    } units[] = {{"millisecond", 1},
                 {"second", 1000},
                 {"minute", 60000},
                 {"hour", 3600000},
                 {"day", 86400000LL}};
    sl_sql_expr_t *e = sl_sql_expr_new(ps, SQ_E_LIT, at);
    e->type.base = SQ_INTERVAL;
    const char *s = sl_sql_string(ps, v);
    char *end;
    errno = 0;
    long long n = strtoll(s, &end, 10);
    if (!*s || *end || errno || n < 0 || n > 1000000000LL) {
        sl_sql_errorf(ps, v.line, v.col, "an INTERVAL needs a whole number, as '10'");
        return e;
    }
    for (size_t i = 0; i < SL_ARRAY_LEN(units); i++) {
        size_t l = strlen(units[i].name);
        if ((unit.n == l || (unit.n == l + 1 && (unit.p[l] == 's' || unit.p[l] == 'S'))) &&
            !strncasecmp(unit.p, units[i].name, l)) {
            e->val.i = n * units[i].ms;
            return e;
        }
    }
    sl_sql_errorf(ps, unit.line, unit.col,
                  "unknown INTERVAL unit '%.*s', expected MILLISECOND, SECOND, MINUTE, HOUR or DAY",
                  (int)unit.n, unit.p);
    return e;
}

sl_sql_expr_t *sl_sql_lit_timestamp(sl_sql_parse_t *ps, sl_sql_token_t at, sl_sql_token_t v) {
    sl_sql_expr_t *e = sl_sql_expr_new(ps, SQ_E_LIT, at);
    e->type.base = SQ_TIMESTAMP;
    const char *s = sl_sql_string(ps, v);
    if (!sl_sql_parse_ts(s, strlen(s), &e->val.i)) {
        sl_sql_errorf(ps, v.line, v.col,
                      "malformed TIMESTAMP literal, expected 'YYYY-MM-DD HH:MM:SS[.fff]'");
    }
    return e;
}

sl_sql_elist_t *sl_sql_elist(sl_sql_parse_t *ps, sl_sql_elist_t *list, sl_sql_expr_t *e) {
    sl_sql_elist_t *n = sl_sql_alloc(ps->pool, sizeof *n);
    n->e = e;
    sl_sql_elist_t **t = &list;
    while (*t) {
        t = &(*t)->next;
    }
    *t = n;
    return list;
}

sl_sql_expr_t *sl_sql_call(sl_sql_parse_t *ps, sl_sql_token_t name, sl_sql_elist_t *args) {
    sl_sql_expr_t *e = sl_sql_expr_new(ps, SQ_E_CALL, name);
    e->name = sl_sql_ident(ps, name);
    for (sl_sql_elist_t *l = args; l; l = l->next) {
        e->n_args++;
    }
    e->args = sl_sql_alloc(ps->pool, (e->n_args + 1) * sizeof *e->args);
    size_t i = 0;
    for (sl_sql_elist_t *l = args; l; l = l->next) {
        e->args[i++] = l->e;
    }
    return e;
}

const char *sl_sql_ident(sl_sql_parse_t *ps, sl_sql_token_t t) {
    if (t.n >= 2 && t.p[0] == '"') {
        return sl_sql_string(ps, t);
    }
    char *d = sl_sql_strndup(ps->pool, t.p, t.n);
    for (char *c = d; *c; c++) {
        *c = (char)tolower((unsigned char)*c);
    }
    return d;
}

int sl_sql_int_tok(sl_sql_parse_t *ps, sl_sql_token_t t) {
    long v = strtol(t.p, NULL, 10);
    if (v < 0 || v > 1000) {
        sl_sql_errorf(ps, t.line, t.col, "type parameter out of range");
        return 0;
    }
    return (int)v;
}

/* a1: the first parameter (-1: none; -2: a ROW field list; -3: ARRAY<...>), a2: the second. */
sl_sql_type_t sl_sql_type_named(sl_sql_parse_t *ps, sl_sql_token_t t, int a1, int a2) {
    static const struct {
        const char *name;
        sl_sql_base_t base;
    } names[] = {{"boolean", SQ_BOOL},    {"int", SQ_INT},        {"integer", SQ_INT},
                 {"bigint", SQ_BIGINT},   {"double", SQ_DOUBLE},  {"decimal", SQ_DECIMAL},
                 {"varchar", SQ_VARCHAR}, {"string", SQ_VARCHAR}, {"timestamp", SQ_TIMESTAMP},
                 {"row", SQ_ROW},         {"array", SQ_ARRAY}};
    sl_sql_type_t ty = {0};
    for (size_t i = 0; i < SL_ARRAY_LEN(names); i++) {
        if (strlen(names[i].name) == t.n && !strncasecmp(names[i].name, t.p, t.n)) {
            ty.base = names[i].base;
        }
    }
    bool ok = ty.base != SQ_NULLT;
    if (ty.base == SQ_ROW) {
        ok = a1 == -2;
    } else if (ty.base == SQ_ARRAY) {
        ok = a1 == -3;
    } else if (ty.base == SQ_DECIMAL) {
        int p = a1 < 0 ? 18 : a1, s = a2 < 0 ? 0 : a2;
        ok = a1 >= -1 && p >= 1 && p <= 18 && s <= p;
        ty.prec = (uint8_t)p;
        ty.scale = (uint8_t)s;
        if (!ok) {
            sl_sql_errorf(ps, t.line, t.col, "DECIMAL(p,s) needs 1 <= p <= 18 and s <= p");
            return ty;
        }
    } else if (ty.base == SQ_VARCHAR || ty.base == SQ_TIMESTAMP) {
        ok = a1 >= -1 && a2 == -1; /* VARCHAR(n), TIMESTAMP(3): the parameter is accepted */
    } else {
        ok = ok && a1 == -1;
    }
    if (!ok) {
        sl_sql_errorf(ps, t.line, t.col,
                      "unknown type '%.*s', expected BOOLEAN, INT, BIGINT, DOUBLE, DECIMAL(p,s), "
                      "VARCHAR, TIMESTAMP, ROW(...) or ARRAY<...>",
                      (int)t.n, t.p);
    }
    return ty;
}

sl_sql_stmt_t *sl_sql_stmt_begin(sl_sql_parse_t *ps, sl_sql_stmt_kind_t k, sl_sql_token_t at) {
    sl_sql_stmt_t *s = ps->cur;
    s->kind = k;
    if (at.line) {
        s->line = at.line;
        s->col = at.col;
    }
    return s;
}

sl_sql_query_t *sl_sql_query_new(sl_sql_parse_t *ps, sl_sql_item_t *items, sl_sql_from_t *from,
                                 sl_sql_expr_t *where, sl_sql_elist_t *group, sl_sql_expr_t *having,
                                 sl_sql_emit_t emit) {
    sl_sql_query_t *q = sl_sql_alloc(ps->pool, sizeof *q);
    q->items = items;
    q->from = from->rel[0].name;
    q->from_line = from->rel[0].line;
    q->from_col = from->rel[0].col;
    q->join = from->n == 2 ? from : NULL;
    q->sub = from->rel[0].sub;
    q->alias[0] = from->rel[0].alias ? from->rel[0].alias : from->rel[0].name;
    q->within_ms = -1;
    q->where = where;
    q->group = group;
    q->having = having;
    q->emit = emit;
    q->ts_slot = -1;
    q->wtime_slot = -1;
    q->ws_slot = q->we_slot = -1;
    return q;
}

void sl_sql_stmts_free(sl_sql_stmt_t *list) {
    while (list) {
        sl_sql_stmt_t *nx = list->next;
        sl_sql_catalog_free(list->catalog);
        sl_sql_pool_t pool = list->pool;
        sl_sql_pool_free(&pool); /* the statement itself lives in its own pool */
        list = nx;
    }
}

sl_sql_stmt_t *sl_sql_stmt_next(const sl_sql_stmt_t *s) {
    return s->next;
}
sl_sql_stmt_kind_t sl_sql_stmt_kind(const sl_sql_stmt_t *s) {
    return s->kind;
}
const char *sl_sql_stmt_name(const sl_sql_stmt_t *s) {
    return s->name;
}
const char *sl_sql_stmt_text(const sl_sql_stmt_t *s) {
    return s->text;
}
bool sl_sql_stmt_is_table(const sl_sql_stmt_t *s) {
    return s->table;
}

/* Starts a new statement (its own pool) at the current token. */
static void new_stmt(sl_sql_parse_t *ps, const sl_sql_token_t *t) {
    sl_sql_pool_t pool = {0};
    sl_sql_stmt_t *s = sl_sql_alloc(&pool, sizeof *s);
    s->pool = pool;
    s->line = t->line;
    s->col = t->col;
    ps->cur = s;
    ps->pool = &s->pool;
    ps->stmt_start = (size_t)(t->p - ps->text);
}

/* Ends the statement at byte `end`: checks it, links it, and (CREATE STREAM) adds it to c. */
static void end_stmt(sl_sql_catalog_t *c, sl_sql_parse_t *ps, size_t end) {
    sl_sql_stmt_t *s = ps->cur;
    ps->cur = NULL;
    if (!s) {
        return;
    }
    /* The pool pointer moves when the struct is linked: keep it in the struct (blocks chain). */
    size_t n = end - ps->stmt_start;
    while (n && isspace((unsigned char)ps->text[ps->stmt_start + n - 1])) {
        n--;
    }
    if (!s->kind || ps->failed) {
        sl_sql_pool_t pool = s->pool;
        sl_sql_pool_free(&pool);
        return;
    }
    s->text = sl_sql_strndup(&s->pool, ps->text + ps->stmt_start, n);
    *ps->tail = s;
    ps->tail = &s->next;
    if (sl_sql_check_stmt(c, s, ps->err, ps->errlen) != SL_OK) {
        ps->failed = true;
    }
}

sl_sql_stmt_t *sl_sql_parse(sl_sql_catalog_t *c, const char *text, char *err, size_t errlen) {
    sl_sql_parse_t ps = {.text = text, .err = err, .errlen = errlen, .tok_line = 1, .tok_col = 1};
    ps.tail = &ps.stmts;
    err[0] = 0;
    void *parser = sl_sql_parserAlloc(malloc);
    size_t pos = 0;
    sl_sql_token_t t;
    int code;
    do {
        code = sl_sql_lex(&ps, &pos, &t);
        if (code < 0) {
            break;
        }
        if (!ps.cur && code != TK_SEMI && code != 0) {
            new_stmt(&ps, &t);
        }
        if (code == TK_SEMI || code == 0) {
            /* Let the parser reduce the statement before it is checked. */
            sl_sql_parser(parser, code, t, &ps);
            end_stmt(c, &ps, (size_t)(t.p - text));
        } else {
            sl_sql_parser(parser, code, t, &ps);
        }
    } while (code > 0 && !ps.failed);
    sl_sql_parserFree(parser, free);
    if (ps.cur) {
        sl_sql_pool_t pool = ps.cur->pool;
        sl_sql_pool_free(&pool);
    }
    if (ps.failed || code < 0) {
        if (!err[0]) {
            snprintf(err, errlen, "syntax error");
        }
        sl_sql_stmts_free(ps.stmts);
        return NULL;
    }
    if (!ps.stmts) {
        snprintf(err, errlen, "no statement");
    }
    return ps.stmts;
}

int64_t sl_sql_duration_ms(const char *s) {
    char *end;
    errno = 0;
    long long n = strtoll(s, &end, 10);
    if (end == s || errno || n < 0) {
        return -1;
    }
    long long mult = !strcmp(end, "") || !strcmp(end, "ms") ? 1
                     : !strcmp(end, "s")                    ? 1000
                     : !strcmp(end, "m")                    ? 60000
                     : !strcmp(end, "h")                    ? 3600000
                                                            : -1;
    if (mult < 0 || n > INT64_MAX / mult / 1000) {
        return -1;
    }
    return n * mult;
}

/* check.c -- name resolution and typing. Runs once per statement before anything runs: every
 * column becomes a slot (a JSON path decoded once per record), every function an id, every
 * aggregate a state offset; unknown names, type mismatches and unsupported forms are refused
 * with the line and column where they start. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sql/sql_int.h"

typedef struct chk {
    sl_sql_catalog_t *cat;
    sl_sql_stmt_t *st;
    sl_sql_query_t *q;
    char *err;
    size_t errlen;
    bool failed;
    bool post;                   /* resolving over the aggregate's output (keys, aggs, window) */
    int depth;                   /* of check_expr: bounds every later recursion over the tree */
    sl_sql_expr_t **raw_keys;    /* GROUP BY keys as written, to match SELECT expressions */
    sl_sql_expr_t *raw_aggs[64]; /* aggregate calls as written: the same call shares a state */
} chk_t;

static bool fail(chk_t *c, int line, int col, const char *fmt, ...) SL_PRINTF(4, 5);
static bool fail(chk_t *c, int line, int col, const char *fmt, ...) {
    if (c->failed) {
        return false;
    }
    c->failed = true;
    int n = snprintf(c->err, c->errlen, "line %d, column %d: ", line, col);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < c->errlen) {
        vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
    }
    va_end(ap);
    return false;
}

const char *sl_sql_type_str(sl_sql_type_t t, char *buf, size_t len) {
    static const char *names[] = {"NULL",    "BOOLEAN",   "INT",      "BIGINT", "DOUBLE", "DECIMAL",
                                  "VARCHAR", "TIMESTAMP", "INTERVAL", "ROW",    "ARRAY"};
    if (t.base == SQ_DECIMAL) {
        snprintf(buf, len, "DECIMAL(%d,%d)", t.prec, t.scale);
    } else if (t.base == SQ_ARRAY && t.elem) {
        char e[64];
        snprintf(buf, len, "ARRAY<%s>", sl_sql_type_str(*t.elem, e, sizeof e));
    } else if (t.base == SQ_ROW) {
        size_t at = (size_t)snprintf(buf, len, "ROW(");
        for (const sl_sql_col_t *f = t.field; f && at < len; f = f->next) {
            char e[64];
            at += (size_t)snprintf(buf + at, len - at, "%s %s%s", f->name,
                                   sl_sql_type_str(f->type, e, sizeof e), f->next ? ", " : ")");
        }
    } else {
        snprintf(buf, len, "%s", names[t.base]);
    }
    return buf;
}

static bool is_num(sl_sql_base_t b) {
    return b == SQ_INT || b == SQ_BIGINT || b == SQ_DOUBLE || b == SQ_DECIMAL;
}
static bool is_int(sl_sql_base_t b) {
    return b == SQ_INT || b == SQ_BIGINT;
}
static bool is_scalar(sl_sql_base_t b) {
    return b != SQ_ROW && b != SQ_ARRAY && b != SQ_INTERVAL;
}

/* The common type of two numeric (or NULL) types. */
static sl_sql_type_t num_common(sl_sql_type_t a, sl_sql_type_t b) {
    if (a.base == SQ_NULLT) {
        return b;
    }
    if (b.base == SQ_NULLT) {
        return a;
    }
    if (a.base == SQ_DOUBLE || b.base == SQ_DOUBLE) {
        return (sl_sql_type_t){.base = SQ_DOUBLE};
    }
    if (a.base == SQ_DECIMAL || b.base == SQ_DECIMAL) {
        int s = a.scale > b.scale ? a.scale : b.scale;
        return (sl_sql_type_t){.base = SQ_DECIMAL, .prec = 18, .scale = (uint8_t)s};
    }
    if (a.base == SQ_BIGINT || b.base == SQ_BIGINT) {
        return (sl_sql_type_t){.base = SQ_BIGINT};
    }
    return (sl_sql_type_t){.base = SQ_INT};
}

/* Whether values of a and b can be compared or unified; *out is the common type. */
static bool unify(sl_sql_type_t a, sl_sql_type_t b, sl_sql_type_t *out) {
    if (a.base == SQ_NULLT || b.base == SQ_NULLT || (is_num(a.base) && is_num(b.base))) {
        *out = a.base == SQ_NULLT ? b : b.base == SQ_NULLT ? a : num_common(a, b);
        return true;
    }
    *out = a;
    return a.base == b.base && is_scalar(a.base);
}

static const char *tstr(sl_sql_type_t t) {
    static __thread char buf[4][128];
    static __thread int k;
    k = (k + 1) % 4;
    return sl_sql_type_str(t, buf[k], sizeof buf[k]);
}

/* ---- input slots: JSON paths ---- */

static int path_slot(chk_t *c, const sl_sql_path_t *p) {
    sl_sql_query_t *q = c->q;
    for (size_t i = 0; i < q->n_paths; i++) {
        const sl_sql_path_t *o = &q->paths[i];
        bool same = o->n == p->n && o->cardinality == p->cardinality && o->side == p->side;
        for (int k = 0; same && k < p->n; k++) {
            same = (o->steps[k] && p->steps[k])
                       ? !strcmp(o->steps[k], p->steps[k])
                       : (!o->steps[k] && !p->steps[k] && o->idx[k] == p->idx[k]);
        }
        if (same) {
            return (int)i;
        }
    }
    sl_sql_path_t *np = sl_sql_alloc(&c->st->pool, (q->n_paths + 1) * sizeof *np);
    if (q->n_paths) {
        memcpy(np, q->paths, q->n_paths * sizeof *np);
    }
    np[q->n_paths] = *p;
    q->paths = np;
    return (int)q->n_paths++;
}

static const sl_sql_col_t *find_col(const sl_sql_col_t *cols, const char *name);

/* The relation (0 left, 1 right) that `name` (an alias or a relation's name) denotes, or -1. */
static int relation_named(const sl_sql_query_t *q, const char *name) {
    for (int k = 0; k < (q->join ? 2 : 1); k++) {
        const sl_sql_stream_t *r = k ? q->rsrc : q->src;
        if (!strcmp(name, q->alias[k]) || (!strcmp(name, r->name) && !q->join)) {
            return k;
        }
    }
    return -1;
}

/* A path of column `col` of relation `side`. */
static bool col_path(chk_t *c, const sl_sql_expr_t *e, int side, sl_sql_path_t *p) {
    const sl_sql_stream_t *r = side ? c->q->rsrc : c->q->src;
    const sl_sql_col_t *col = find_col(r->cols, e->name);
    if (!col) {
        return fail(c, e->line, e->col, "unknown column '%s' in %s '%s'", e->name,
                    r->table ? "table" : "stream", r->name);
    }
    *p = (sl_sql_path_t){.n = 1, .type = col->type, .side = side};
    p->steps[0] = col->name;
    return true;
}

/* Resolves a column/field/index chain into a path; false (error set) if it is not one. In a
 * join, a bare column must belong to one side only; `alias.column` names the side. */
static bool as_path(chk_t *c, sl_sql_expr_t *e, sl_sql_path_t *p) {
    sl_sql_query_t *q = c->q;
    if (e->kind == SQ_E_COL) {
        if (!q->join) {
            return col_path(c, e, 0, p);
        }
        bool l = find_col(q->src->cols, e->name) != NULL;
        bool r = find_col(q->rsrc->cols, e->name) != NULL;
        if (l && r) {
            return fail(c, e->line, e->col,
                        "column '%s' is ambiguous: both '%s' and '%s' have it (write %s.%s)",
                        e->name, q->alias[0], q->alias[1], q->alias[0], e->name);
        }
        if (!l && !r) {
            return fail(c, e->line, e->col, "unknown column '%s' in '%s' or '%s'", e->name,
                        q->alias[0], q->alias[1]);
        }
        return col_path(c, e, r ? 1 : 0, p);
    }
    if (e->kind == SQ_E_FIELD && e->a->kind == SQ_E_COL && relation_named(q, e->a->name) >= 0) {
        sl_sql_expr_t col = *e; /* relation.column */
        col.kind = SQ_E_COL;
        return col_path(c, &col, relation_named(q, e->a->name), p);
    }
    if (e->kind != SQ_E_FIELD && e->kind != SQ_E_INDEX) {
        return fail(c, e->line, e->col, "expected a column");
    }
    if (!as_path(c, e->a, p)) {
        return false;
    }
    if (p->n == (int)SL_ARRAY_LEN(p->steps)) {
        return fail(c, e->line, e->col, "path nested too deeply");
    }
    const char *field = e->name;
    if (e->kind == SQ_E_INDEX) {
        sl_sql_expr_t *i = e->b;
        if (i->kind == SQ_E_LIT && i->type.base == SQ_VARCHAR && p->type.base == SQ_ROW) {
            field = i->val.s;
        } else if (p->type.base == SQ_ARRAY) {
            if (i->kind != SQ_E_LIT || !is_int(i->type.base) || i->val.i < 1) {
                return fail(c, i->line, i->col,
                            "an array index must be an integer literal from 1 (SQL arrays start "
                            "at 1)");
            }
            p->steps[p->n] = NULL;
            p->idx[p->n++] = i->val.i - 1;
            p->type = *p->type.elem;
            return true;
        } else {
            return fail(c, i->line, i->col,
                        "[...] needs an ARRAY column with an integer literal "
                        "or a ROW column with a string literal");
        }
    }
    if (p->type.base != SQ_ROW) {
        return fail(c, e->line, e->col, "'%s' is not a ROW, it has no field '%s'", p->steps[0],
                    field);
    }
    for (const sl_sql_col_t *f = p->type.field; f; f = f->next) {
        if (!strcmp(f->name, field)) {
            p->steps[p->n++] = f->name;
            p->type = f->type;
            return true;
        }
    }
    return fail(c, e->line, e->col, "ROW has no field '%s'", field);
}

static bool to_slot(chk_t *c, sl_sql_expr_t *e, const sl_sql_path_t *p) {
    if (!is_scalar(p->type.base) && !p->cardinality) {
        return fail(c, e->line, e->col,
                    "a %s value cannot be used here; use its fields or elements",
                    p->type.base == SQ_ROW ? "ROW" : "ARRAY");
    }
    int slot = path_slot(c, p);
    e->kind = SQ_E_SLOT;
    e->slot = slot;
    e->type = p->cardinality ? (sl_sql_type_t){.base = SQ_INT} : p->type;
    return true;
}

/* ---- functions ---- */

static const struct {
    const char *name;
    int id, min, max;
} funcs[] = {
    {"upper", SQ_F_UPPER, 1, 1},
    {"lower", SQ_F_LOWER, 1, 1},
    {"substring", SQ_F_SUBSTRING, 2, 3},
    {"substr", SQ_F_SUBSTRING, 2, 3},
    {"concat", SQ_F_CONCAT, 1, 16},
    {"length", SQ_F_LENGTH, 1, 1},
    {"char_length", SQ_F_LENGTH, 1, 1},
    {"trim", SQ_F_TRIM, 1, 1},
    {"coalesce", SQ_F_COALESCE, 1, 16},
    {"abs", SQ_F_ABS, 1, 1},
    {"to_timestamp_ltz", SQ_F_TO_TIMESTAMP_LTZ, 1, 2},
    {"unix_timestamp", SQ_F_UNIX_TIMESTAMP, 1, 1},
    {"from_unixtime", SQ_F_FROM_UNIXTIME, 1, 1},
    {"cardinality", SQ_F_CARDINALITY, 1, 1},
};

static bool is_agg_name(const char *n) {
    return !strcmp(n, "count") || !strcmp(n, "sum") || !strcmp(n, "min") || !strcmp(n, "max") ||
           !strcmp(n, "avg") || !strcmp(n, "approx_percentile") || !strcmp(n, "percentile_cont");
}
static bool is_window_name(const char *n) {
    return !strcmp(n, "tumble") || !strcmp(n, "hop") || !strcmp(n, "session");
}

static bool check_expr(chk_t *c, sl_sql_expr_t *e);

/* A function argument's type check: `fname expects what, got T` at the argument. */
static bool need_arg(chk_t *c, const char *fname, const sl_sql_expr_t *e, bool ok,
                     const char *what) {
    return ok || fail(c, e->line, e->col, "%s expects %s, got %s", fname, what, tstr(e->type));
}
#define need(c, e, ok, what) need_arg(c, fname, e, ok, what)

static bool check_call(chk_t *c, sl_sql_expr_t *e) {
    if (is_window_name(e->name)) {
        return fail(c, e->line, e->col, "%s(...) belongs in GROUP BY", e->name);
    }
    int id = 0;
    for (size_t i = 0; i < SL_ARRAY_LEN(funcs); i++) {
        if (!strcmp(funcs[i].name, e->name)) {
            id = funcs[i].id;
            if ((int)e->n_args < funcs[i].min || (int)e->n_args > funcs[i].max || e->star ||
                e->distinct) {
                return fail(c, e->line, e->col, "wrong arguments for %s: expected %d%s%d", e->name,
                            funcs[i].min, funcs[i].max > funcs[i].min ? " to " : " = ",
                            funcs[i].max);
            }
        }
    }
    if (!id) {
        return fail(c, e->line, e->col, "unknown function '%s'", e->name);
    }
    e->op = id;
    if (id == SQ_F_CARDINALITY && !c->post) {
        sl_sql_path_t p;
        if (!as_path(c, e->args[0], &p)) {
            return false;
        }
        if (p.type.base != SQ_ARRAY) {
            return fail(c, e->line, e->col, "CARDINALITY expects an ARRAY column");
        }
        p.cardinality = true;
        return to_slot(c, e, &p);
    } else if (id == SQ_F_CARDINALITY) {
        return fail(c, e->line, e->col, "CARDINALITY of an ARRAY must be a GROUP BY key here");
    }
    for (size_t i = 0; i < e->n_args; i++) {
        if (!check_expr(c, e->args[i])) {
            return false;
        }
    }
    sl_sql_expr_t *a = e->args[0];
    sl_sql_base_t ab = a->type.base;
    const char *fname = e->name;
    bool str = ab == SQ_VARCHAR || ab == SQ_NULLT;
    switch (id) {
    case SQ_F_UPPER:
    case SQ_F_LOWER:
    case SQ_F_TRIM:
        e->type.base = SQ_VARCHAR;
        return need(c, a, str, "VARCHAR");
    case SQ_F_LENGTH:
        e->type.base = SQ_INT;
        return need(c, a, str, "VARCHAR");
    case SQ_F_SUBSTRING:
        e->type.base = SQ_VARCHAR;
        for (size_t i = 1; i < e->n_args; i++) {
            if (!need(c, e->args[i], is_int(e->args[i]->type.base), "an integer")) {
                return false;
            }
        }
        return need(c, a, str, "VARCHAR");
    case SQ_F_CONCAT:
        e->type.base = SQ_VARCHAR;
        for (size_t i = 0; i < e->n_args; i++) {
            sl_sql_base_t b = e->args[i]->type.base;
            if (!need(c, e->args[i], b == SQ_VARCHAR || b == SQ_NULLT, "VARCHAR")) {
                return false;
            }
        }
        return true;
    case SQ_F_COALESCE: {
        sl_sql_type_t t = {0};
        for (size_t i = 0; i < e->n_args; i++) {
            if (!unify(t, e->args[i]->type, &t)) {
                return fail(c, e->args[i]->line, e->args[i]->col,
                            "COALESCE arguments must have one type: %s and %s", tstr(t),
                            tstr(e->args[i]->type));
            }
        }
        e->type = t;
        return true;
    }
    case SQ_F_ABS:
        e->type = a->type;
        return need(c, a, is_num(ab) || ab == SQ_NULLT, "a number");
    case SQ_F_TO_TIMESTAMP_LTZ:
        e->type.base = SQ_TIMESTAMP;
        if (e->n_args == 2 && (e->args[1]->kind != SQ_E_LIT || !is_int(e->args[1]->type.base) ||
                               (e->args[1]->val.i != 0 && e->args[1]->val.i != 3))) {
            return fail(c, e->args[1]->line, e->args[1]->col,
                        "TO_TIMESTAMP_LTZ precision must be 0 (seconds) or 3 (milliseconds)");
        }
        return need(c, a, is_int(ab) || ab == SQ_NULLT, "an integer");
    case SQ_F_UNIX_TIMESTAMP:
        e->type.base = SQ_BIGINT;
        return need(c, a, ab == SQ_TIMESTAMP || ab == SQ_NULLT, "TIMESTAMP");
    case SQ_F_FROM_UNIXTIME:
        e->type.base = SQ_VARCHAR;
        return need(c, a, is_int(ab) || ab == SQ_NULLT, "an integer");
    default:
        return fail(c, e->line, e->col, "unsupported function '%s'", e->name);
    }
}

static bool cast_ok(sl_sql_base_t from, sl_sql_base_t to) {
    if (from == SQ_NULLT || from == to || to == SQ_VARCHAR || from == SQ_VARCHAR) {
        return is_scalar(to);
    }
    if (is_num(from) && is_num(to)) {
        return true;
    }
    if ((from == SQ_BOOL && is_int(to)) || (is_int(from) && to == SQ_BOOL)) {
        return true;
    }
    return (from == SQ_TIMESTAMP && to == SQ_BIGINT) || (is_int(from) && to == SQ_TIMESTAMP);
}

/* Aggregates, keys and window bounds in grouped queries: the expression becomes a post slot. */
static bool post_leaf(chk_t *c, sl_sql_expr_t *e, bool *done);

#define SL_SQL_MAX_DEPTH 200

static bool check_expr_at(chk_t *c, sl_sql_expr_t *e);
static bool check_expr(chk_t *c, sl_sql_expr_t *e) {
    if (++c->depth > SL_SQL_MAX_DEPTH) {
        c->depth--;
        return fail(c, e->line, e->col, "expression nested too deeply (more than %d levels)",
                    SL_SQL_MAX_DEPTH);
    }
    bool ok = check_expr_at(c, e);
    c->depth--;
    return ok;
}

static bool check_expr_at(chk_t *c, sl_sql_expr_t *e) {
    if (c->post) {
        bool done = false;
        if (!post_leaf(c, e, &done) || done) {
            return !c->failed;
        }
    }
    switch (e->kind) {
    case SQ_E_SLOT:
        return true;
    case SQ_E_LIT:
        return true;
    case SQ_E_COL:
    case SQ_E_FIELD:
    case SQ_E_INDEX: {
        if (c->post) {
            return fail(c, e->line, e->col,
                        "'%s' must be in GROUP BY or inside an aggregate function",
                        e->name ? e->name : "expression");
        }
        sl_sql_path_t p;
        return as_path(c, e, &p) && to_slot(c, e, &p);
    }
    case SQ_E_CALL:
        if (is_agg_name(e->name)) {
            return fail(c, e->line, e->col, "aggregate %s(...) is not allowed %s", e->name,
                        c->q->grouped ? "inside another aggregate" : "here");
        }
        return check_call(c, e);
    case SQ_E_CAST:
        if (!check_expr(c, e->a)) {
            return false;
        }
        if (!cast_ok(e->a->type.base, e->type.base)) {
            return fail(c, e->line, e->col, "cannot CAST %s to %s", tstr(e->a->type),
                        tstr(e->type));
        }
        return true;
    case SQ_E_UN:
        if (!check_expr(c, e->a)) {
            return false;
        }
        if (e->op == SQ_OP_NOT) {
            e->type.base = SQ_BOOL;
            return e->a->type.base == SQ_BOOL || e->a->type.base == SQ_NULLT ||
                   fail(c, e->a->line, e->a->col, "NOT expects BOOLEAN, got %s", tstr(e->a->type));
        }
        if (e->op == SQ_OP_NEG) {
            e->type = e->a->type;
            return is_num(e->a->type.base) || e->a->type.base == SQ_NULLT ||
                   fail(c, e->line, e->col, "unary minus expects a number, got %s",
                        tstr(e->a->type));
        }
        e->type.base = SQ_BOOL; /* IS [NOT] NULL */
        return true;
    case SQ_E_BIN: {
        if (!check_expr(c, e->a) || !check_expr(c, e->b)) {
            return false;
        }
        sl_sql_type_t a = e->a->type, b = e->b->type, t;
        static const char *ops[] = {"",  "+",  "-", "*",  "/",   "%",  "||",  "=", "<>",
                                    "<", "<=", ">", ">=", "AND", "OR", "NOT", "-"};
        switch (e->op) {
        case SQ_OP_AND:
        case SQ_OP_OR:
            e->type.base = SQ_BOOL;
            if ((a.base != SQ_BOOL && a.base != SQ_NULLT) ||
                (b.base != SQ_BOOL && b.base != SQ_NULLT)) {
                return fail(c, e->line, e->col, "%s expects BOOLEAN operands, got %s and %s",
                            ops[e->op], tstr(a), tstr(b));
            }
            return true;
        case SQ_OP_CONCAT:
            e->type.base = SQ_VARCHAR;
            if ((a.base != SQ_VARCHAR && a.base != SQ_NULLT) ||
                (b.base != SQ_VARCHAR && b.base != SQ_NULLT)) {
                return fail(c, e->line, e->col,
                            "|| expects VARCHAR operands, got %s and %s (use CAST)", tstr(a),
                            tstr(b));
            }
            return true;
        case SQ_OP_EQ:
        case SQ_OP_NE:
        case SQ_OP_LT:
        case SQ_OP_LE:
        case SQ_OP_GT:
        case SQ_OP_GE:
            e->type.base = SQ_BOOL;
            if (!unify(a, b, &t)) {
                return fail(c, e->line, e->col, "cannot compare %s with %s", tstr(a), tstr(b));
            }
            return true;
        default:
            break;
        }
        /* arithmetic */
        if ((a.base == SQ_TIMESTAMP && b.base == SQ_INTERVAL &&
             (e->op == SQ_OP_ADD || e->op == SQ_OP_SUB)) ||
            (a.base == SQ_INTERVAL && b.base == SQ_TIMESTAMP && e->op == SQ_OP_ADD)) {
            e->type.base = SQ_TIMESTAMP;
            return true;
        }
        if (!(is_num(a.base) || a.base == SQ_NULLT) || !(is_num(b.base) || b.base == SQ_NULLT)) {
            return fail(c, e->line, e->col, "%s expects numbers, got %s and %s", ops[e->op],
                        tstr(a), tstr(b));
        }
        t = num_common(a, b);
        if (t.base == SQ_NULLT) {
            t.base = SQ_INT;
        }
        if (e->op == SQ_OP_DIV && t.base == SQ_DECIMAL) {
            t = (sl_sql_type_t){.base = SQ_DOUBLE};
        } else if (e->op == SQ_OP_MUL && t.base == SQ_DECIMAL) {
            int s = (a.base == SQ_DECIMAL ? a.scale : 0) + (b.base == SQ_DECIMAL ? b.scale : 0);
            if (s > 18) {
                return fail(c, e->line, e->col, "DECIMAL product scale %d exceeds 18", s);
            }
            t.scale = (uint8_t)s;
        } else if (e->op == SQ_OP_MOD && !is_int(t.base)) {
            return fail(c, e->line, e->col, "%% expects integers, got %s and %s", tstr(a), tstr(b));
        }
        e->type = t;
        return true;
    }
    case SQ_E_CASE: {
        sl_sql_type_t t = {0};
        if (e->a && !check_expr(c, e->a)) {
            return false;
        }
        for (size_t i = 0; i < e->n_args; i++) {
            sl_sql_expr_t *x = e->args[i];
            if (!check_expr(c, x)) {
                return false;
            }
            if (i % 2 == 0) { /* WHEN */
                sl_sql_type_t u;
                if (e->a ? !unify(e->a->type, x->type, &u)
                         : (x->type.base != SQ_BOOL && x->type.base != SQ_NULLT)) {
                    return fail(c, x->line, x->col, "WHEN expects %s, got %s",
                                e->a ? tstr(e->a->type) : "BOOLEAN", tstr(x->type));
                }
            } else if (!unify(t, x->type, &t)) {
                return fail(c, x->line, x->col, "CASE results must have one type: %s and %s",
                            tstr(t), tstr(x->type));
            }
        }
        if (e->b) {
            if (!check_expr(c, e->b)) {
                return false;
            }
            if (!unify(t, e->b->type, &t)) {
                return fail(c, e->b->line, e->b->col, "CASE results must have one type: %s and %s",
                            tstr(t), tstr(e->b->type));
            }
        }
        e->type = t;
        return true;
    }
    }
    return fail(c, e->line, e->col, "unsupported expression");
}

/* Structural equality of two unchecked expressions (a SELECT expression against a key). */
static bool same_expr(const sl_sql_expr_t *a, const sl_sql_expr_t *b) {
    if (!a || !b) {
        return a == b;
    }
    if (a->kind != b->kind || a->op != b->op || a->n_args != b->n_args ||
        (a->name == NULL) != (b->name == NULL) || (a->name && strcmp(a->name, b->name)) ||
        a->type.base != b->type.base || a->val.null != b->val.null || a->val.i != b->val.i ||
        a->val.d != b->val.d || a->val.n != b->val.n ||
        (a->val.n && memcmp(a->val.s, b->val.s, a->val.n))) {
        return false;
    }
    for (size_t i = 0; i < a->n_args; i++) {
        if (!same_expr(a->args[i], b->args[i])) {
            return false;
        }
    }
    return same_expr(a->a, b->a) && same_expr(a->b, b->b);
}

static sl_sql_expr_t *clone_expr(sl_sql_pool_t *p, const sl_sql_expr_t *e) {
    if (!e) {
        return NULL;
    }
    sl_sql_expr_t *n = sl_sql_alloc(p, sizeof *n);
    *n = *e;
    n->a = clone_expr(p, e->a);
    n->b = clone_expr(p, e->b);
    if (e->n_args) {
        n->args = sl_sql_alloc(p, e->n_args * sizeof *n->args);
        for (size_t i = 0; i < e->n_args; i++) {
            n->args[i] = clone_expr(p, e->args[i]);
        }
    }
    return n;
}

/* APPROX_PERCENTILE's second argument: a number literal in [0, 1]. */
static bool pct_literal(chk_t *c, const sl_sql_expr_t *a, const char *fn, double *p) {
    sl_sql_base_t b = a->type.base;
    bool lit = a->kind == SQ_E_LIT && !a->val.null &&
               (b == SQ_INT || b == SQ_BIGINT || b == SQ_DOUBLE || b == SQ_DECIMAL);
    *p = !lit ? -1 : b == SQ_DOUBLE ? a->val.d : (double)a->val.i;
    if (lit && b == SQ_DECIMAL) { /* 0.99 is DECIMAL(2,2): 99 scaled by 10^-2 */
        double scale = 1;
        for (int i = 0; i < a->type.scale; i++) {
            scale *= 10;
        }
        *p /= scale;
    }
    if (!lit || !(*p >= 0 && *p <= 1)) {
        return fail(c, a->line, a->col, "%s's percentile must be a number literal from 0 to 1", fn);
    }
    return true;
}

static bool post_leaf(chk_t *c, sl_sql_expr_t *e, bool *done) {
    sl_sql_query_t *q = c->q;
    for (size_t k = 0; k < q->n_keys; k++) {
        if (same_expr(e, c->raw_keys[k])) {
            e->kind = SQ_E_SLOT;
            e->slot = (int)k;
            e->type = q->key_types[k];
            *done = true;
            return true;
        }
    }
    if (e->kind == SQ_E_COL &&
        (!strcmp(e->name, "window_start") || !strcmp(e->name, "window_end"))) {
        if (q->wkind == SQ_W_NONE) {
            return fail(c, e->line, e->col, "%s needs a TUMBLE, HOP or SESSION window in GROUP BY",
                        e->name);
        }
        e->kind = SQ_E_SLOT;
        e->agg = e->name[7] == 's' ? -2 : -3; /* the slot is numbered in fix_agg_slots */
        e->type.base = SQ_TIMESTAMP;
        *done = true;
        return true;
    }
    if (e->kind != SQ_E_CALL || !is_agg_name(e->name)) {
        return true;
    }
    for (size_t i = 0; i < q->n_aggs && i < SL_ARRAY_LEN(c->raw_aggs); i++) {
        if (same_expr(e, c->raw_aggs[i]) && e->star == c->raw_aggs[i]->star &&
            e->distinct == c->raw_aggs[i]->distinct) {
            e->kind = SQ_E_SLOT;
            e->agg = (int)i;
            e->type = q->aggs[i].type;
            *done = true;
            return true;
        }
    }
    if (q->n_aggs == SL_ARRAY_LEN(c->raw_aggs)) {
        return fail(c, e->line, e->col, "too many aggregates (at most %zu)",
                    SL_ARRAY_LEN(c->raw_aggs));
    }
    c->raw_aggs[q->n_aggs] = clone_expr(&c->st->pool, e);
    sl_sql_agg_t ag = {0};
    const char *n = e->name;
    if (e->star) {
        if (strcmp(n, "count")) {
            return fail(c, e->line, e->col, "only COUNT takes *");
        }
        ag.kind = SQ_AGG_COUNT_STAR;
    } else {
        bool cont = !strcmp(n, "percentile_cont");
        if (cont && !e->ordered) {
            return fail(c, e->line, e->col,
                        "PERCENTILE_CONT takes the percentile, then WITHIN GROUP (ORDER BY value)");
        }
        bool pct = !strcmp(n, "approx_percentile") || cont;
        if (pct && e->n_args != 2) {
            return fail(c, e->line, e->col,
                        "APPROX_PERCENTILE takes two arguments: a number and a percentile");
        }
        if (!pct && e->n_args != 1) {
            return fail(c, e->line, e->col, "%s takes one argument", n);
        }
        if (pct &&
            !pct_literal(c, e->args[1], cont ? "PERCENTILE_CONT" : "APPROX_PERCENTILE", &ag.pct)) {
            return false;
        }
        c->post = false; /* the argument is over the input columns */
        bool ok = check_expr(c, e->args[0]);
        c->post = true;
        if (!ok) {
            return false;
        }
        ag.arg = e->args[0];
        sl_sql_type_t t = ag.arg->type;
        if (e->distinct) {
            if (strcmp(n, "count")) {
                return fail(c, e->line, e->col, "DISTINCT is supported in COUNT only");
            }
            ag.kind = SQ_AGG_COUNT_DISTINCT;
        } else if (pct) {
            ag.kind = cont ? SQ_AGG_PERCENTILE_CONT : SQ_AGG_PERCENTILE;
            if (!is_num(t.base)) {
                return fail(c, ag.arg->line, ag.arg->col, "%s expects a number, got %s",
                            cont ? "PERCENTILE_CONT" : "APPROX_PERCENTILE", tstr(t));
            }
        } else if (!strcmp(n, "count")) {
            ag.kind = SQ_AGG_COUNT;
        } else if (!strcmp(n, "avg")) {
            ag.kind = SQ_AGG_AVG;
            if (!is_num(t.base)) {
                return fail(c, e->line, e->col, "AVG expects a number, got %s", tstr(t));
            }
        } else if (!strcmp(n, "sum")) {
            ag.kind = SQ_AGG_SUM;
            if (!is_num(t.base)) {
                return fail(c, e->line, e->col, "SUM expects a number, got %s", tstr(t));
            }
        } else {
            ag.kind = !strcmp(n, "min") ? SQ_AGG_MIN : SQ_AGG_MAX;
            if (!is_num(t.base) && t.base != SQ_TIMESTAMP && t.base != SQ_BOOL) {
                return fail(c, e->line, e->col, "%s expects a number or TIMESTAMP, got %s", n,
                            tstr(t));
            }
        }
    }
    switch (ag.kind) {
    case SQ_AGG_COUNT_STAR:
    case SQ_AGG_COUNT:
    case SQ_AGG_COUNT_DISTINCT:
        ag.type.base = SQ_BIGINT;
        break;
    case SQ_AGG_AVG:
    case SQ_AGG_PERCENTILE_CONT: /* interpolated: a DOUBLE, as in PostgreSQL and Flink */
        ag.type.base = SQ_DOUBLE;
        break;
    case SQ_AGG_SUM:
        ag.type = ag.arg->type;
        if (is_int(ag.type.base)) {
            ag.type.base = SQ_BIGINT;
        } else if (ag.type.base == SQ_DECIMAL) {
            ag.type.prec = 18;
        }
        break;
    case SQ_AGG_MIN:
    case SQ_AGG_MAX:
    case SQ_AGG_PERCENTILE: /* the estimate rounded into the argument's type */
        ag.type = ag.arg->type;
        break;
    }
    size_t bytes = ag.kind == SQ_AGG_COUNT_DISTINCT    ? 8 + SL_SQL_DISTINCT_MAX * 16
                   : ag.kind == SQ_AGG_PERCENTILE      ? SL_SQL_PCT_BYTES
                   : ag.kind == SQ_AGG_PERCENTILE_CONT ? 8 + SL_SQL_PCTC_MAX * 8
                                                       : 16;
    ag.off = q->state_bytes;
    q->state_bytes += bytes;
    sl_sql_agg_t *na = sl_sql_alloc(&c->st->pool, (q->n_aggs + 1) * sizeof *na);
    if (q->n_aggs) {
        memcpy(na, q->aggs, q->n_aggs * sizeof *na);
    }
    na[q->n_aggs] = ag;
    q->aggs = na;
    e->kind = SQ_E_SLOT;
    e->agg = (int)q->n_aggs++;
    e->slot = -1; /* fixed below, once the number of keys is final */
    e->type = ag.type;
    *done = true;
    return true;
}

static bool has_agg(const sl_sql_expr_t *e) {
    if (!e) {
        return false;
    }
    if (e->kind == SQ_E_CALL && is_agg_name(e->name)) {
        return true;
    }
    for (size_t i = 0; i < e->n_args; i++) {
        if (has_agg(e->args[i])) {
            return true;
        }
    }
    return has_agg(e->a) || has_agg(e->b);
}

static void fix_agg_slots(sl_sql_query_t *q, sl_sql_expr_t *e) {
    if (!e) {
        return;
    }
    if (e->kind == SQ_E_SLOT && e->agg != -1) {
        e->slot = e->agg >= 0 ? (int)q->n_keys + e->agg : e->agg == -2 ? q->ws_slot : q->we_slot;
        return;
    }
    for (size_t i = 0; i < e->n_args; i++) {
        fix_agg_slots(q, e->args[i]);
    }
    fix_agg_slots(q, e->a);
    fix_agg_slots(q, e->b);
}

static bool interval_arg(chk_t *c, const sl_sql_expr_t *call, size_t i, int64_t *ms) {
    const sl_sql_expr_t *a = call->args[i];
    if (a->kind != SQ_E_LIT || a->type.base != SQ_INTERVAL || a->val.i <= 0) {
        return fail(c, a->line, a->col,
                    "%s expects a positive INTERVAL literal here, as "
                    "INTERVAL '10' SECOND",
                    call->name);
    }
    *ms = a->val.i;
    return true;
}

/* The name of the subquery's output column that is its window_start (end: window_end), or NULL
 * when it outputs none. */
static const char *sub_bound(const sl_sql_query_t *in, bool end) {
    for (size_t i = 0; i < in->n_out; i++) {
        const sl_sql_expr_t *e = in->out[i];
        if (e->kind == SQ_E_SLOT && e->slot == (end ? in->we_slot : in->ws_slot)) {
            return in->out_names[i];
        }
    }
    return NULL;
}

static bool check_window(chk_t *c, sl_sql_expr_t *w) {
    sl_sql_query_t *q = c->q;
    if (q->wkind != SQ_W_NONE) {
        return fail(c, w->line, w->col, "only one window per GROUP BY");
    }
    size_t want = !strcmp(w->name, "hop") ? 3 : 2;
    if (w->n_args != want) {
        return fail(c, w->line, w->col, "%s expects %zu arguments: the time column and %s", w->name,
                    want, want == 3 ? "slide, size" : "an INTERVAL");
    }
    sl_sql_expr_t *t = w->args[0];
    if (q->join) { /* any time column of either side: the joined row's event time becomes it */
        if (!strcmp(w->name, "session")) {
            return fail(c, w->line, w->col,
                        "a window over a JOIN's output is TUMBLE or HOP (SESSION is not "
                        "supported there)");
        }
        if (t->kind != SQ_E_COL && t->kind != SQ_E_FIELD) {
            return fail(c, t->line, t->col,
                        "the window's time column must be a column of one side of the JOIN");
        }
        if (!check_expr(c, t)) {
            return false;
        }
        sl_sql_base_t tb = t->type.base;
        if (t->kind != SQ_E_SLOT || q->paths[t->slot].cardinality ||
            (tb != SQ_TIMESTAMP && tb != SQ_BIGINT && tb != SQ_INT)) {
            return fail(c, t->line, t->col,
                        "the window's time column must be a TIMESTAMP or BIGINT (epoch ms) "
                        "column, got %s",
                        tstr(t->type));
        }
        q->wtime_slot = t->slot;
    } else if (q->sub) { /* the subquery's window_start or window_end column */
        if (!strcmp(w->name, "session")) {
            return fail(c, w->line, w->col,
                        "a window over a subquery is TUMBLE or HOP (SESSION is not supported "
                        "there)");
        }
        const char *ws = sub_bound(q->sub, false), *we = sub_bound(q->sub, true);
        bool col = t->kind == SQ_E_COL || t->kind == SQ_E_FIELD;
        if (col && !check_expr(c, t)) {
            return false;
        }
        if (!col || t->kind != SQ_E_SLOT || q->paths[t->slot].n != 1 ||
            ((!ws || strcmp(q->paths[t->slot].steps[0], ws)) &&
             (!we || strcmp(q->paths[t->slot].steps[0], we)))) {
            return fail(c, t->line, t->col,
                        "the window's time column must be the subquery's window_start or "
                        "window_end column (select it in the subquery)");
        }
        /* A subquery row comes out when its window ends: on its window_start it counts as on
         * time until the watermark passes start + size. */
        q->wtime_slot = t->slot;
        q->grace_ms = ws && !strcmp(q->paths[t->slot].steps[0], ws) ? q->sub->size_ms : 0;
    } else if (t->kind != SQ_E_COL || !q->src->timestamp || strcmp(t->name, q->src->timestamp)) {
        return fail(c, t->line, t->col,
                    "the window's time column must be the stream's timestamp column%s%s%s",
                    q->src->timestamp ? " '"
                                      : " (the stream declares none: WITH (timestamp='col'))",
                    q->src->timestamp ? q->src->timestamp : "", q->src->timestamp ? "'" : "");
    }
    if (!strcmp(w->name, "tumble")) {
        q->wkind = SQ_W_TUMBLE;
        return interval_arg(c, w, 1, &q->size_ms);
    }
    if (!strcmp(w->name, "session")) {
        q->wkind = SQ_W_SESSION;
        return interval_arg(c, w, 1, &q->gap_ms);
    }
    q->wkind = SQ_W_HOP;
    if (!interval_arg(c, w, 1, &q->slide_ms) || !interval_arg(c, w, 2, &q->size_ms)) {
        return false;
    }
    return q->slide_ms <= q->size_ms ||
           fail(c, w->line, w->col, "HOP's slide must not exceed its size");
}

static const char *out_name(chk_t *c, const sl_sql_expr_t *e, size_t i) {
    if (e->kind == SQ_E_COL || e->kind == SQ_E_FIELD || e->kind == SQ_E_CALL) {
        return e->name;
    }
    char buf[32];
    snprintf(buf, sizeof buf, "expr%zu", i + 1);
    return sl_sql_strndup(&c->st->pool, buf, strlen(buf));
}

/* Whether join keys of types a and b meet: the key is the value's text (sl_sql_out_text), so
 * equal values must print the same: integers with integers, otherwise the same type (DOUBLE is
 * refused: 1.0 and 1 are equal but print differently). */
static bool key_types_meet(sl_sql_type_t a, sl_sql_type_t b) {
    if (a.base == SQ_DOUBLE || b.base == SQ_DOUBLE) {
        return false;
    }
    if (is_int(a.base) && is_int(b.base)) {
        return true;
    }
    return a.base == b.base && is_scalar(a.base) && (a.base != SQ_DECIMAL || a.scale == b.scale);
}

/* A non-negative INTERVAL literal (WITHIN, GRACE); -1 with the error set otherwise. */
static int64_t join_interval(chk_t *c, const sl_sql_expr_t *e, const char *what) {
    if (e->kind != SQ_E_LIT || e->type.base != SQ_INTERVAL || e->val.i < 0) {
        fail(c, e->line, e->col, "%s expects an INTERVAL literal, as INTERVAL '5' SECOND", what);
        return -1;
    }
    return e->val.i;
}

/* The right relation, the join form and the ON condition: `a.k = b.k`, one column of each side;
 * a table only by its PRIMARY KEY; key types that print alike. */
static bool check_join(chk_t *c) {
    sl_sql_query_t *q = c->q;
    sl_sql_from_t *j = q->join;
    const sl_sql_rel_t *rr = &j->rel[1];
    q->rsrc = sl_sql_find_stream(c->cat, rr->name);
    if (!q->rsrc) {
        return fail(c, rr->line, rr->col, "unknown stream or table '%s'", rr->name);
    }
    q->alias[1] = rr->alias ? rr->alias : rr->name;
    if (!strcmp(q->alias[0], q->alias[1])) {
        return fail(c, rr->line, rr->col,
                    "both sides of the JOIN are named '%s': give one an alias", q->alias[0]);
    }
    if (q->src->table) {
        return fail(c, q->from_line, q->from_col,
                    "the left side of a JOIN must be a stream ('%s' is a table)", q->src->name);
    }
    if (q->rsrc->table) {
        if (j->within) {
            return fail(c, j->w_line, j->w_col,
                        "WITHIN is for stream-stream joins ('%s' is a table)", q->rsrc->name);
        }
        if (j->kind == SL_STREAM_JOIN_OUTER) {
            return fail(c, j->line, j->col,
                        "a stream-table JOIN is INNER or LEFT (a table update emits nothing)");
        }
    } else {
        if (!j->within) {
            return fail(c, j->line, j->col,
                        "a stream-stream JOIN needs WITHIN INTERVAL '...' <unit> before ON");
        }
        if ((q->within_ms = join_interval(c, j->within, "WITHIN")) < 0 ||
            (j->grace && (q->grace_ms = join_interval(c, j->grace, "GRACE")) < 0)) {
            return false;
        }
    }
    sl_sql_expr_t *on = j->on;
    if (on->kind != SQ_E_BIN || on->op != SQ_OP_EQ) {
        return fail(c, on->line, on->col,
                    "ON must be one equality of a column of each side, as a.k = b.k");
    }
    sl_sql_expr_t *ops[2] = {on->a, on->b};
    int side[2];
    for (int i = 0; i < 2; i++) {
        if (!check_expr(c, ops[i])) {
            return false;
        }
        if (ops[i]->kind != SQ_E_SLOT || q->paths[ops[i]->slot].cardinality) {
            return fail(c, ops[i]->line, ops[i]->col,
                        "ON compares columns: a column of each side, as a.k = b.k");
        }
        side[i] = q->paths[ops[i]->slot].side;
    }
    if (side[0] == side[1]) {
        return fail(c, on->line, on->col, "ON must compare a column of '%s' with one of '%s'",
                    q->alias[0], q->alias[1]);
    }
    for (int i = 0; i < 2; i++) {
        q->key_slot[side[i]] = ops[i]->slot;
    }
    if (!key_types_meet(ops[0]->type, ops[1]->type)) {
        return fail(c, on->line, on->col,
                    "join keys of different types: %s and %s (integers, or the same type, not "
                    "DOUBLE)",
                    tstr(ops[0]->type), tstr(ops[1]->type));
    }
    for (int k = 0; k < 2; k++) {
        const sl_sql_stream_t *r = k ? q->rsrc : q->src;
        const sl_sql_path_t *kp = &q->paths[q->key_slot[k]];
        bool is_key = r->key && kp->n == 1 && !strcmp(kp->steps[0], r->key);
        if (r->table && !is_key) {
            const sl_sql_expr_t *op = ops[side[0] == k ? 0 : 1];
            return fail(c, op->line, op->col,
                        "table '%s' joins on its PRIMARY KEY '%s' only, not on '%s'", r->name,
                        r->key, kp->steps[kp->n - 1] ? kp->steps[kp->n - 1] : "an element");
        }
        q->rekey[k] = !is_key;
    }
    if (!q->rsrc->table && !q->rekey[0] && !q->rekey[1] && !strcmp(q->src->topic, q->rsrc->topic)) {
        return fail(c, on->line, on->col,
                    "both sides read topic '%s' and are keyed by their record key: a record "
                    "would join itself; join on a column that is not the record key",
                    q->src->topic);
    }
    return true;
}

/* The relations (bit 0 left, bit 1 right) whose columns e uses. */
static unsigned sides_of(const sl_sql_query_t *q, const sl_sql_expr_t *e) {
    if (!e) {
        return 0;
    }
    if (e->kind == SQ_E_SLOT) {
        return 1u << q->paths[e->slot].side;
    }
    unsigned m = sides_of(q, e->a) | sides_of(q, e->b);
    for (size_t i = 0; i < e->n_args; i++) {
        m |= sides_of(q, e->args[i]);
    }
    return m;
}

static sl_sql_expr_t *and_of(chk_t *c, sl_sql_expr_t *a, sl_sql_expr_t *b) {
    if (!a || !b) {
        return a ? a : b;
    }
    sl_sql_expr_t *e = sl_sql_alloc(&c->st->pool, sizeof *e);
    e->kind = SQ_E_BIN;
    e->op = SQ_OP_AND;
    e->line = a->line;
    e->col = a->col;
    e->type = (sl_sql_type_t){.base = SQ_BOOL};
    e->agg = -1;
    e->a = a;
    e->b = b;
    return e;
}

/* Splits a checked WHERE of a join at its top-level ANDs: a conjunct over the columns of one
 * side only moves to q->side_where[side] (run on that side before the join, so records that
 * cannot pass never cross a repartition topic or wait in the join), the rest stays in q->where.
 * Only for a re-keyed stream side whose rows are never NULL-extended: both sides of an INNER join,
 * the left side of a LEFT join; a FULL OUTER join keeps its WHERE whole. The result is the same
 * rows: such a conjunct is FALSE or NULL for every joined row made from a record failing it. */
static void push_down(chk_t *c, sl_sql_expr_t *e, sl_sql_expr_t **keep) {
    sl_sql_query_t *q = c->q;
    if (e->kind == SQ_E_BIN && e->op == SQ_OP_AND) {
        push_down(c, e->a, keep);
        push_down(c, e->b, keep);
        return;
    }
    unsigned m = sides_of(q, e);
    int k = m == 1 ? 0 : m == 2 ? 1 : -1;
    bool ok =
        k >= 0 && q->rekey[k] && !(k ? q->rsrc : q->src)->table &&
        (q->join->kind == SL_STREAM_JOIN_INNER || (q->join->kind == SL_STREAM_JOIN_LEFT && !k));
    if (ok) {
        q->side_where[k] = and_of(c, q->side_where[k], e);
    } else {
        *keep = and_of(c, *keep, e);
    }
}

static bool check_query(chk_t *c);

/* FROM (SELECT ...) AS alias: checks the subquery, which must be a GROUP BY with a TUMBLE or HOP
 * window emitting once per window, and makes q's relation a stream of its output columns. */
static bool check_sub(chk_t *c) {
    sl_sql_query_t *q = c->q, *in = q->sub;
    chk_t ic = {.cat = c->cat, .st = c->st, .q = in, .err = c->err, .errlen = c->errlen};
    ic.depth = c->depth;
    if (!check_query(&ic)) {
        c->failed = true;
        return false;
    }
    if (!in->grouped || (in->wkind != SQ_W_TUMBLE && in->wkind != SQ_W_HOP) ||
        in->emit == SQ_EMIT_CHANGES) {
        return fail(c, q->from_line, q->from_col,
                    "a subquery in FROM must be a GROUP BY with a TUMBLE or HOP window that emits "
                    "once per window (not EMIT CHANGES)");
    }
    if (in->sub) {
        return fail(c, in->from_line, in->from_col, "subqueries in FROM do not nest (yet)");
    }
    sl_sql_stream_t *v = sl_sql_alloc(&c->st->pool, sizeof *v);
    v->name = q->alias[0];
    v->format = "json";
    sl_sql_col_t **tail = &v->cols;
    for (size_t i = 0; i < in->n_out; i++) {
        if (in->out[i]->type.base == SQ_NULLT) {
            return fail(c, in->out[i]->line, in->out[i]->col,
                        "a subquery's column needs a type: CAST(NULL AS type)");
        }
        sl_sql_col_t *col = sl_sql_alloc(&c->st->pool, sizeof *col);
        col->name = in->out_names[i];
        col->type = in->out[i]->type;
        *tail = col;
        tail = &col->next;
    }
    q->src = v;
    return true;
}

static bool check_query(chk_t *c) {
    sl_sql_query_t *q = c->q;
    if (q->join && (q->join->rel[0].sub || q->join->rel[1].sub)) {
        const sl_sql_rel_t *r = &q->join->rel[q->join->rel[0].sub ? 0 : 1];
        return fail(c, r->line, r->col, "a subquery in FROM cannot be joined (yet)");
    }
    if (q->sub) {
        if (!check_sub(c)) {
            return false;
        }
    } else {
        q->src = sl_sql_find_stream(c->cat, q->from);
    }
    if (!q->src) {
        return fail(c, q->from_line, q->from_col, "unknown stream '%s'", q->from);
    }
    if (!q->join && q->src->table) {
        return fail(c, q->from_line, q->from_col,
                    "'%s' is a table: it can only be joined (FROM stream JOIN %s ON ...)",
                    q->src->name, q->src->name);
    }
    if (q->join && !check_join(c)) {
        return false;
    }
    if (q->src->timestamp && !q->join) {
        sl_sql_path_t p = {.n = 1};
        p.steps[0] = q->src->timestamp;
        for (const sl_sql_col_t *col = q->src->cols; col; col = col->next) {
            if (!strcmp(col->name, q->src->timestamp)) {
                p.type = col->type;
            }
        }
        q->ts_slot = path_slot(c, &p);
    }
    if (q->where) {
        if (has_agg(q->where)) {
            return fail(c, q->where->line, q->where->col,
                        "aggregates are not allowed in WHERE (use HAVING)");
        }
        if (!check_expr(c, q->where)) {
            return false;
        }
        if (q->where->type.base != SQ_BOOL && q->where->type.base != SQ_NULLT) {
            return fail(c, q->where->line, q->where->col, "WHERE expects BOOLEAN, got %s",
                        tstr(q->where->type));
        }
        if (q->join) {
            sl_sql_expr_t *keep = NULL;
            push_down(c, q->where, &keep);
            q->where = keep;
        }
    }
    bool any_agg = has_agg(q->having);
    for (sl_sql_item_t *it = q->items; it; it = it->next) {
        any_agg = any_agg || has_agg(it->e);
    }
    q->grouped = q->group || any_agg;
    if (!q->grouped) {
        if (q->having) {
            return fail(c, q->having->line, q->having->col,
                        "HAVING needs GROUP BY or an aggregate");
        }
        if (q->emit == SQ_EMIT_FINAL) {
            return fail(c, q->from_line, q->from_col, "EMIT FINAL needs a windowed GROUP BY");
        }
    } else {
        size_t nk = 0;
        for (sl_sql_elist_t *l = q->group; l; l = l->next) {
            nk++;
        }
        q->keys = sl_sql_alloc(&c->st->pool, (nk + 1) * sizeof *q->keys);
        q->key_types = sl_sql_alloc(&c->st->pool, (nk + 1) * sizeof *q->key_types);
        c->raw_keys = sl_sql_alloc(&c->st->pool, (nk + 1) * sizeof *c->raw_keys);
        for (sl_sql_elist_t *l = q->group; l; l = l->next) {
            sl_sql_expr_t *k = l->e;
            if (k->kind == SQ_E_CALL && is_window_name(k->name)) {
                if (!check_window(c, k)) {
                    return false;
                }
                continue;
            }
            if (has_agg(k)) {
                return fail(c, k->line, k->col, "aggregates are not allowed in GROUP BY");
            }
            c->raw_keys[q->n_keys] = clone_expr(&c->st->pool, k);
            if (!check_expr(c, k)) {
                return false;
            }
            q->keys[q->n_keys] = k;
            q->key_types[q->n_keys++] = k->type;
        }
        if (q->emit == SQ_EMIT_FINAL && q->wkind == SQ_W_NONE) {
            return fail(c, q->from_line, q->from_col, "EMIT FINAL needs a window in GROUP BY");
        }
        c->post = true;
    }
    size_t n = 0;
    for (sl_sql_item_t *it = q->items; it; it = it->next) {
        if (!it->e) {
            if (q->grouped) {
                return fail(c, it->line, it->col, "SELECT * is not allowed with GROUP BY");
            }
            for (const sl_sql_col_t *col = q->src->cols; col; col = col->next) {
                n++;
            }
            for (const sl_sql_col_t *col = q->join ? q->rsrc->cols : NULL; col; col = col->next) {
                n++;
            }
        } else {
            n++;
        }
    }
    q->out = sl_sql_alloc(&c->st->pool, (n + 1) * sizeof *q->out);
    q->out_names = sl_sql_alloc(&c->st->pool, (n + 1) * sizeof *q->out_names);
    for (sl_sql_item_t *it = q->items; it; it = it->next) {
        if (!it->e) { /* each side's scalar columns; a join's as alias.column */
            for (int k = 0; k < (q->join ? 2 : 1); k++) {
                const sl_sql_stream_t *r = k ? q->rsrc : q->src;
                for (const sl_sql_col_t *col = r->cols; col; col = col->next) {
                    if (!is_scalar(col->type.base)) {
                        continue; /* ROW and ARRAY columns are selected by their fields */
                    }
                    sl_sql_expr_t *e = sl_sql_alloc(&c->st->pool, sizeof *e);
                    e->kind = SQ_E_COL;
                    e->name = col->name;
                    e->line = it->line;
                    e->col = it->col;
                    e->agg = -1;
                    if (q->join) {
                        sl_sql_expr_t *rel = sl_sql_alloc(&c->st->pool, sizeof *rel);
                        *rel = *e;
                        rel->name = q->alias[k];
                        e->kind = SQ_E_FIELD;
                        e->a = rel;
                    }
                    for (size_t o = 0; o < q->n_out; o++) {
                        if (!strcmp(q->out_names[o], col->name)) {
                            return fail(c, it->line, it->col,
                                        "SELECT * gives two columns named '%s': list the "
                                        "columns, with AS",
                                        col->name);
                        }
                    }
                    if (!check_expr(c, e)) {
                        return false;
                    }
                    q->out_names[q->n_out] = col->name;
                    q->out[q->n_out++] = e;
                }
            }
            continue;
        }
        const char *name = it->alias ? it->alias : out_name(c, it->e, q->n_out);
        if (!check_expr(c, it->e)) {
            return false;
        }
        if (!is_scalar(it->e->type.base) && it->e->type.base != SQ_NULLT) {
            return fail(c, it->line, it->col, "cannot output a %s value", tstr(it->e->type));
        }
        for (size_t k = 0; k < q->n_out; k++) {
            if (!strcmp(q->out_names[k], name)) {
                return fail(c, it->line, it->col, "duplicate output column '%s' (use AS)", name);
            }
        }
        q->out_names[q->n_out] = name;
        q->out[q->n_out++] = it->e;
    }
    if (q->having) {
        if (!check_expr(c, q->having)) {
            return false;
        }
        if (q->having->type.base != SQ_BOOL && q->having->type.base != SQ_NULLT) {
            return fail(c, q->having->line, q->having->col, "HAVING expects BOOLEAN, got %s",
                        tstr(q->having->type));
        }
    }
    if (q->grouped) {
        q->ws_slot = (int)(q->n_keys + q->n_aggs);
        q->we_slot = q->ws_slot + 1;
        q->n_post = q->n_keys + q->n_aggs + 2;
        /* window bounds referenced before the aggregates were counted: renumber */
        for (size_t i = 0; i < q->n_out; i++) {
            fix_agg_slots(q, q->out[i]);
        }
        fix_agg_slots(q, q->having);
    }
    return true;
}

const sl_sql_stream_t *sl_sql_find_stream(const sl_sql_catalog_t *c, const char *name) {
    for (const sl_sql_stream_t *s = c->streams; s; s = s->next) {
        if (!strcmp(s->name, name)) {
            return s;
        }
    }
    return NULL;
}

static sl_sql_col_t *copy_cols(sl_sql_pool_t *p, const sl_sql_col_t *cols);
static sl_sql_type_t copy_type(sl_sql_pool_t *p, sl_sql_type_t t) {
    if (t.field) {
        t.field = copy_cols(p, t.field);
    }
    if (t.elem) {
        sl_sql_type_t *e = sl_sql_alloc(p, sizeof *e);
        *e = copy_type(p, *t.elem);
        t.elem = e;
    }
    return t;
}
static sl_sql_col_t *copy_cols(sl_sql_pool_t *p, const sl_sql_col_t *cols) {
    sl_sql_col_t *head = NULL, **tail = &head;
    for (const sl_sql_col_t *c = cols; c; c = c->next) {
        sl_sql_col_t *n = sl_sql_alloc(p, sizeof *n);
        n->name = sl_sql_strndup(p, c->name, strlen(c->name));
        n->type = copy_type(p, c->type);
        *tail = n;
        tail = &n->next;
    }
    return head;
}

static const sl_sql_col_t *find_col(const sl_sql_col_t *cols, const char *name) {
    for (; cols; cols = cols->next) {
        if (!strcmp(cols->name, name)) {
            return cols;
        }
    }
    return NULL;
}

static char *pdup(sl_sql_pool_t *p, const char *s) {
    return s ? sl_sql_strndup(p, s, strlen(s)) : NULL;
}

/* Builds the catalog entry of a CREATE STREAM (cols given, or the query's outputs). */
static bool define_stream(chk_t *c, sl_sql_stmt_t *s, const sl_sql_col_t *cols) {
    sl_sql_catalog_t *cat = c->cat;
    const sl_sql_stream_t *old = sl_sql_find_stream(cat, s->name);
    if (old) {
        if (old->text && s->text && !strcmp(old->text, s->text)) {
            return true; /* the same definition again (a script and the catalog) */
        }
        return fail(c, s->line, s->col, "stream '%s' already exists (DROP STREAM it first)",
                    s->name);
    }
    sl_sql_stream_t st = {.name = s->name, .topic = s->name, .format = "json"};
    for (const sl_sql_col_t *a = cols; a; a = a->next) {
        if (find_col(a->next, a->name)) {
            return fail(c, s->line, s->col, "duplicate column '%s'", a->name);
        }
    }
    for (const sl_sql_opt_t *o = s->opts; o; o = o->next) {
        const char *k = o->key;
        if (!strcmp(k, "topic") || !strcmp(k, "kafka_topic")) {
            st.topic = o->val;
        } else if (!strcmp(k, "format") || !strcmp(k, "value_format")) {
            if (strcasecmp(o->val, "json")) {
                return fail(c, o->line, o->col, "unsupported format '%s' (only 'json')", o->val);
            }
        } else if (!strcmp(k, "key") || !strcmp(k, "timestamp")) {
            const sl_sql_col_t *col = find_col(cols, o->val);
            if (!col) {
                return fail(c, o->line, o->col, "%s: unknown column '%s'", k, o->val);
            }
            if (k[0] == 't' && col->type.base != SQ_TIMESTAMP && col->type.base != SQ_BIGINT) {
                return fail(c, o->line, o->col,
                            "timestamp column '%s' must be TIMESTAMP or BIGINT (epoch ms)", o->val);
            }
            *(k[0] == 'k' ? &st.key : &st.timestamp) = col->name;
        } else if (!strcmp(k, "watermark_delay") || !strcmp(k, "idle_timeout")) {
            int64_t ms = sl_sql_duration_ms(o->val);
            if (ms < 0) {
                return fail(c, o->line, o->col, "%s: expected a duration as '5s', '250ms', '2m'",
                            k);
            }
            *(k[0] == 'w' ? &st.watermark_delay_ms : &st.idle_ms) = ms;
        } else if (!strcmp(k, "late_topic")) {
            st.late_topic = o->val;
        } else {
            return fail(c, o->line, o->col,
                        "unknown option '%s' (topic, format, key, timestamp, watermark_delay, "
                        "idle_timeout, late_topic)",
                        k);
        }
    }
    if (!st.topic[0]) {
        return fail(c, s->line, s->col, "empty topic name");
    }
    if (s->table) { /* the record key is the PRIMARY KEY column's text */
        const sl_sql_col_t *pk = find_col(cols, s->pk);
        if (!pk) {
            return fail(c, s->pk_line, s->pk_col, "PRIMARY KEY: unknown column '%s'", s->pk);
        }
        if (!is_scalar(pk->type.base) || pk->type.base == SQ_DOUBLE) {
            return fail(c, s->pk_line, s->pk_col,
                        "PRIMARY KEY '%s' is %s: a key is a string, integer, DECIMAL, BOOLEAN or "
                        "TIMESTAMP column",
                        s->pk, tstr(pk->type));
        }
        if (st.key && strcmp(st.key, pk->name)) {
            return fail(c, s->pk_line, s->pk_col,
                        "the key option ('%s') and the PRIMARY KEY ('%s') differ", st.key,
                        pk->name);
        }
        if (st.late_topic) {
            return fail(c, s->line, s->col, "a table has no late_topic (it has no windows)");
        }
        st.key = pk->name;
        st.table = true;
    }
    sl_sql_pool_t *p = &cat->pool;
    sl_sql_stream_t *n = sl_sql_alloc(p, sizeof *n);
    *n = st;
    n->name = pdup(p, st.name);
    n->cols = copy_cols(p, cols);
    n->topic = pdup(p, st.topic);
    n->format = "json";
    n->key = st.key ? find_col(n->cols, st.key)->name : NULL;
    n->timestamp = st.timestamp ? find_col(n->cols, st.timestamp)->name : NULL;
    n->late_topic = pdup(p, st.late_topic);
    n->text = pdup(p, s->text);
    sl_sql_stream_t **t = &cat->streams;
    while (*t) {
        t = &(*t)->next;
    }
    *t = n;
    return true;
}

sl_err_t sl_sql_check_stmt(sl_sql_catalog_t *cat, sl_sql_stmt_t *s, char *err, size_t errlen) {
    chk_t c = {.cat = cat, .st = s, .q = s->q, .err = err, .errlen = errlen};
    bool ok = true;
    switch (s->kind) {
    case SL_SQL_CREATE_STREAM:
        ok = define_stream(&c, s, s->cols);
        break;
    case SL_SQL_SELECT:
    case SL_SQL_EXPLAIN:
        ok = check_query(&c);
        break;
    case SL_SQL_INSERT: {
        const sl_sql_stream_t *t = sl_sql_find_stream(cat, s->name);
        if (!t) {
            ok = fail(&c, s->line, s->col, "unknown stream '%s'", s->name);
            break;
        }
        if (t->table) {
            ok = fail(&c, s->line, s->col,
                      "'%s' is a table: INSERT INTO writes streams (produce to its topic instead)",
                      s->name);
            break;
        }
        if (!(ok = check_query(&c))) {
            break;
        }
        for (size_t i = 0; i < s->q->n_out && ok; i++) {
            const sl_sql_col_t *col = find_col(t->cols, s->q->out_names[i]);
            sl_sql_type_t u;
            if (!col) {
                ok = fail(&c, s->q->out[i]->line, s->q->out[i]->col,
                          "stream '%s' has no column '%s'", t->name, s->q->out_names[i]);
            } else if (!unify(col->type, s->q->out[i]->type, &u)) {
                ok = fail(&c, s->q->out[i]->line, s->q->out[i]->col,
                          "column '%s' of '%s' is %s, the query gives %s", col->name, t->name,
                          tstr(col->type), tstr(s->q->out[i]->type));
            }
        }
        s->q->sink_topic = t->topic;
        break;
    }
    case SL_SQL_CREATE_AS: {
        if (!(ok = check_query(&c))) {
            break;
        }
        sl_sql_col_t *cols = NULL, **tail = &cols;
        for (size_t i = 0; i < s->q->n_out; i++) {
            sl_sql_col_t *col = sl_sql_alloc(&s->pool, sizeof *col);
            col->name = s->q->out_names[i];
            col->type = s->q->out[i]->type;
            if (col->type.base == SQ_NULLT) {
                col->type.base = SQ_VARCHAR;
            }
            *tail = col;
            tail = &col->next;
        }
        if ((ok = define_stream(&c, s, cols))) {
            s->q->sink_topic = sl_sql_find_stream(cat, s->name)->topic;
        }
        break;
    }
    case SL_SQL_DESCRIBE:
        ok = sl_sql_find_stream(cat, s->name) ||
             fail(&c, s->line, s->col, "unknown stream '%s'", s->name);
        break;
    case SL_SQL_DROP_STREAM: {
        sl_sql_stream_t **p = &cat->streams;
        while (*p && strcmp((*p)->name, s->name)) {
            p = &(*p)->next;
        }
        if (!*p) {
            ok = fail(&c, s->line, s->col, "unknown stream '%s'", s->name);
        } else {
            *p = (*p)->next; /* its memory stays in the catalog's pool */
        }
        break;
    }
    case SL_SQL_SHOW_STREAMS:
        break;
    }
    return ok ? SL_OK : SL_ERR_INVAL;
}

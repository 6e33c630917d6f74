/* eval.c -- evaluating checked expressions over a row of slots, decoding a JSON record into the
 * slots a query uses, and encoding values (JSON output, a compact binary form for repartition
 * topics). Semantics (docs/sql.md): NULL propagates through operators and functions (AND/OR use
 * three-valued logic, COALESCE and IS NULL look at it); integer overflow, division by zero and a
 * failed CAST are run-time errors of the record (it goes to the dead-letter topic). */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "common/util.h"
#include "sql/sql_int.h"

/* ---- scratch ---- */
struct sl_sql_scratch_old {
    struct sl_sql_scratch_old *next;
    char *buf;
};

char *sl_sql_scratch_get(sl_sql_scratch_t *s, size_t n) {
    if (s->len + n > s->cap) {
        if (s->buf && s->len) { /* strings already handed out stay valid until the reset */
            struct sl_sql_scratch_old *o = sl_xmalloc(sizeof *o);
            o->buf = s->buf;
            o->next = s->old;
            s->old = o;
        } else {
            free(s->buf);
        }
        s->cap = n > 4096 ? n * 2 : 8192;
        s->buf = sl_xmalloc(s->cap);
        s->len = 0;
    }
    char *p = s->buf + s->len;
    s->len += (n + 7) & ~(size_t)7;
    if (s->len > s->cap) {
        s->len = s->cap;
    }
    return p;
}

void sl_sql_scratch_reset(sl_sql_scratch_t *s) {
    while (s->old) {
        struct sl_sql_scratch_old *o = s->old;
        s->old = o->next;
        free(o->buf);
        free(o);
    }
    s->len = 0;
}

void sl_sql_scratch_fini(sl_sql_scratch_t *s) {
    sl_sql_scratch_reset(s);
    free(s->buf);
    *s = (sl_sql_scratch_t){0};
}

/* ---- numbers ---- */
static const int64_t p10[19] = {1LL,
                                10LL,
                                100LL,
                                1000LL,
                                10000LL,
                                100000LL,
                                1000000LL,
                                10000000LL,
                                100000000LL,
                                1000000000LL,
                                10000000000LL,
                                100000000000LL,
                                1000000000000LL,
                                10000000000000LL,
                                100000000000000LL,
                                1000000000000000LL,
                                10000000000000000LL,
                                100000000000000000LL,
                                1000000000000000000LL};

static double to_double(sl_sql_type_t t, const sl_sql_val_t *v) {
    switch (t.base) {
    case SQ_DOUBLE:
        return v->d;
    case SQ_DECIMAL:
        return (double)v->i / (double)p10[t.scale];
    default:
        return (double)v->i;
    }
}

static bool fail(sl_sql_eval_t *ev, const sl_sql_expr_t *e, const char *msg) {
    ev->err = msg;
    ev->err_line = e->line;
    ev->err_col = e->col;
    return false;
}

/* v (of type t) as a DECIMAL with `scale`; false on overflow. Doubles are rounded. */
static bool to_scaled(sl_sql_type_t t, const sl_sql_val_t *v, int scale, int64_t *out) {
    if (t.base == SQ_DOUBLE) {
        double d = nearbyint(v->d * (double)p10[scale]);
        if (!(d > -9.2e18 && d < 9.2e18)) {
            return false;
        }
        *out = (int64_t)d;
        return true;
    }
    int from = t.base == SQ_DECIMAL ? t.scale : 0;
    if (from > scale) {
        *out = v->i / p10[from - scale];
        return true;
    }
    return !__builtin_mul_overflow(v->i, p10[scale - from], out);
}

static bool int_fits(sl_sql_type_t t, int64_t x) {
    return t.base != SQ_INT || (x >= INT32_MIN && x <= INT32_MAX);
}

static bool arith(sl_sql_eval_t *ev, const sl_sql_expr_t *e, const sl_sql_val_t *a,
                  const sl_sql_val_t *b, sl_sql_val_t *out) {
    sl_sql_type_t ta = e->a->type, tb = e->b->type, t = e->type;
    if (t.base == SQ_TIMESTAMP) { /* timestamp +- interval */
        int64_t x = ta.base == SQ_TIMESTAMP ? a->i : b->i,
                d = ta.base == SQ_TIMESTAMP ? b->i : a->i;
        if (e->op == SQ_OP_SUB) {
            d = -d;
        }
        return !__builtin_add_overflow(x, d, &out->i) || fail(ev, e, "TIMESTAMP overflow");
    }
    if (t.base == SQ_DOUBLE) {
        double x = to_double(ta, a), y = to_double(tb, b);
        switch (e->op) {
        case SQ_OP_ADD:
            out->d = x + y;
            break;
        case SQ_OP_SUB:
            out->d = x - y;
            break;
        case SQ_OP_MUL:
            out->d = x * y;
            break;
        default:
            if (y == 0) {
                return fail(ev, e, "division by zero");
            }
            out->d = x / y;
        }
        return isfinite(out->d) || fail(ev, e, "DOUBLE overflow");
    }
    int64_t x, y;
    bool ovf;
    if (t.base == SQ_DECIMAL && e->op == SQ_OP_MUL) {
        x = a->i; /* scales add up: no rescaling */
        y = b->i;
        ovf = __builtin_mul_overflow(x, y, &out->i);
        return !ovf || fail(ev, e, "DECIMAL overflow");
    }
    int scale = t.base == SQ_DECIMAL ? t.scale : 0;
    if (!to_scaled(ta, a, scale, &x) || !to_scaled(tb, b, scale, &y)) {
        return fail(ev, e, "DECIMAL overflow");
    }
    switch (e->op) {
    case SQ_OP_ADD:
        ovf = __builtin_add_overflow(x, y, &out->i);
        break;
    case SQ_OP_SUB:
        ovf = __builtin_sub_overflow(x, y, &out->i);
        break;
    case SQ_OP_MUL:
        ovf = __builtin_mul_overflow(x, y, &out->i);
        break;
    default:
        if (y == 0) {
            return fail(ev, e, "division by zero");
        }
        if (x == INT64_MIN && y == -1) {
            ovf = true;
            break;
        }
        out->i = e->op == SQ_OP_DIV ? x / y : x % y;
        ovf = false;
    }
    if (ovf || !int_fits(t, out->i)) {
        return fail(ev, e, t.base == SQ_INT ? "INT overflow" : "BIGINT overflow");
    }
    return true;
}

/* -1, 0, 1 comparing a (type ta) with b (type tb); the checker made them comparable. */
static int cmp(sl_sql_type_t ta, const sl_sql_val_t *a, sl_sql_type_t tb, const sl_sql_val_t *b) {
    if (ta.base == SQ_VARCHAR) {
        size_t n = a->n < b->n ? a->n : b->n;
        int r = memcmp(a->s, b->s, n);
        return r ? (r < 0 ? -1 : 1) : (a->n > b->n) - (a->n < b->n);
    }
    if (ta.base == SQ_DOUBLE || tb.base == SQ_DOUBLE) {
        double x = to_double(ta, a), y = to_double(tb, b);
        return (x > y) - (x < y);
    }
    if (ta.base == SQ_DECIMAL || tb.base == SQ_DECIMAL) {
        int s = ta.scale > tb.scale ? ta.scale : tb.scale;
        int64_t x, y;
        if (!to_scaled(ta, a, s, &x) || !to_scaled(tb, b, s, &y)) {
            double dx = to_double(ta, a), dy = to_double(tb, b);
            return (dx > dy) - (dx < dy);
        }
        return (x > y) - (x < y);
    }
    return (a->i > b->i) - (a->i < b->i);
}

/* ---- timestamps (UTC, proleptic Gregorian) ---- */
static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

bool sl_sql_parse_ts(const char *s, size_t n, int64_t *ms) {
    char b[40];
    if (n < 10 || n >= sizeof b) {
        return false;
    }
    memcpy(b, s, n);
    b[n] = 0;
    int y, mo, d, h = 0, mi = 0, sec = 0, used = 0;
    if (sscanf(b, "%4d-%2d-%2d%n", &y, &mo, &d, &used) != 3 || used != 10) {
        return false;
    }
    const char *p = b + 10;
    int64_t frac = 0;
    if (*p == ' ' || *p == 'T') {
        int u2 = 0;
        if (sscanf(p + 1, "%2d:%2d:%2d%n", &h, &mi, &sec, &u2) != 3 || u2 != 8) {
            return false;
        }
        p += 9;
        if (*p == '.') {
            int k = 0;
            for (p++; isdigit((unsigned char)*p); p++, k++) {
                if (k < 3) {
                    frac = frac * 10 + (*p - '0');
                }
            }
            if (k == 0) {
                return false;
            }
            for (; k < 3; k++) {
                frac *= 10;
            }
        }
    }
    if (*p == 'Z') {
        p++;
    }
    if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) {
        return false;
    }
    *ms = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60000LL + sec * 1000LL + frac;
    return true;
}

size_t sl_sql_format_ts(int64_t ms, char *buf, size_t len) {
    int64_t days = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
    int64_t rem = ms - days * 86400000;
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400, doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp + (mp < 10 ? 3 : -9);
    y += m <= 2;
    int n = snprintf(buf, len, "%04" PRId64 "-%02" PRId64 "-%02" PRId64 " %02d:%02d:%02d.%03d", y,
                     m, d, (int)(rem / 3600000), (int)(rem / 60000 % 60), (int)(rem / 1000 % 60),
                     (int)(rem % 1000));
    return n < 0 ? 0 : (size_t)n;
}

/* ---- casts ---- */
static void text_of(sl_sql_eval_t *ev, sl_sql_type_t t, const sl_sql_val_t *v, sl_sql_val_t *out) {
    sl_sql_out_t o = {0};
    sl_sql_out_text(&o, t, v);
    char *p = sl_sql_scratch_get(ev->mem, o.len + 1);
    memcpy(p, o.p, o.len);
    out->s = p;
    out->n = o.len;
    sl_sql_out_free(&o);
}

static bool parse_num(const char *s, size_t n, sl_sql_type_t to, sl_sql_val_t *out) {
    char b[64];
    while (n && isspace((unsigned char)*s)) {
        s++, n--;
    }
    while (n && isspace((unsigned char)s[n - 1])) {
        n--;
    }
    if (!n || n >= sizeof b) {
        return false;
    }
    memcpy(b, s, n);
    b[n] = 0;
    char *end;
    errno = 0;
    if (to.base == SQ_INT || to.base == SQ_BIGINT || to.base == SQ_TIMESTAMP) {
        long long x = strtoll(b, &end, 10);
        out->i = x;
        return !*end && !errno && int_fits(to, x);
    }
    double d = strtod(b, &end);
    if (*end || errno || !isfinite(d)) {
        return false;
    }
    if (to.base == SQ_DOUBLE) {
        out->d = d;
        return true;
    }
    return to_scaled((sl_sql_type_t){.base = SQ_DOUBLE}, &(sl_sql_val_t){.d = d}, to.scale,
                     &out->i);
}

static bool do_cast(sl_sql_eval_t *ev, const sl_sql_expr_t *e, const sl_sql_val_t *v,
                    sl_sql_val_t *out) {
    sl_sql_type_t from = e->a->type, to = e->type;
    *out = (sl_sql_val_t){0};
    if (from.base == to.base && to.base != SQ_DECIMAL) {
        *out = *v;
        return true;
    }
    if (to.base == SQ_VARCHAR) {
        text_of(ev, from, v, out);
        return true;
    }
    if (from.base == SQ_VARCHAR) {
        if (to.base == SQ_BOOL) {
            if (v->n == 4 && !strncasecmp(v->s, "true", 4)) {
                out->i = 1;
            } else if (!(v->n == 5 && !strncasecmp(v->s, "false", 5))) {
                return fail(ev, e, "CAST failed: not a BOOLEAN");
            }
            return true;
        }
        if (to.base == SQ_TIMESTAMP) {
            return sl_sql_parse_ts(v->s, v->n, &out->i) ||
                   fail(ev, e, "CAST failed: not a TIMESTAMP");
        }
        return parse_num(v->s, v->n, to, out) ||
               fail(ev, e, "CAST failed: not a number of that type");
    }
    switch (to.base) {
    case SQ_BOOL:
        out->i = from.base == SQ_BOOL ? v->i : v->i != 0;
        return true;
    case SQ_DOUBLE:
        out->d = to_double(from, v);
        return true;
    case SQ_DECIMAL:
        return to_scaled(from, v, to.scale, &out->i) || fail(ev, e, "CAST overflow");
    case SQ_INT:
    case SQ_BIGINT:
    case SQ_TIMESTAMP:
        if (from.base == SQ_DOUBLE) {
            double d = trunc(v->d);
            if (!(d > -9.2e18 && d < 9.2e18)) {
                return fail(ev, e, "CAST overflow");
            }
            out->i = (int64_t)d;
        } else if (from.base == SQ_DECIMAL) {
            out->i = v->i / p10[from.scale];
        } else {
            out->i = v->i;
        }
        return int_fits(to, out->i) || fail(ev, e, "CAST overflow");
    default:
        return fail(ev, e, "unsupported CAST");
    }
}

/* Converts *v, the value of `from`, to the type of `to` (a CASE or COALESCE result of a wider
 * common type than this branch). */
static bool coerce(sl_sql_eval_t *ev, const sl_sql_expr_t *from, const sl_sql_expr_t *to,
                   sl_sql_val_t *v) {
    if (v->null || from->type.base == SQ_NULLT ||
        (from->type.base == to->type.base && from->type.scale == to->type.scale)) {
        return true;
    }
    sl_sql_expr_t c = {.kind = SQ_E_CAST,
                       .a = (sl_sql_expr_t *)from,
                       .type = to->type,
                       .line = to->line,
                       .col = to->col};
    sl_sql_val_t x = *v;
    return do_cast(ev, &c, &x, v);
}

/* ---- functions ---- */
static bool call(sl_sql_eval_t *ev, const sl_sql_expr_t *e, sl_sql_val_t *out) {
    sl_sql_val_t a[16];
    if (e->op == SQ_F_COALESCE) {
        for (size_t i = 0; i < e->n_args; i++) {
            if (!sl_sql_eval(ev, e->args[i], out)) {
                return false;
            }
            if (!out->null) {
                return coerce(ev, e->args[i], e, out);
            }
        }
        *out = (sl_sql_val_t){.null = true};
        return true;
    }
    for (size_t i = 0; i < e->n_args && i < 16; i++) {
        if (!sl_sql_eval(ev, e->args[i], &a[i])) {
            return false;
        }
        if (a[i].null) {
            *out = (sl_sql_val_t){.null = true};
            return true;
        }
    }
    *out = (sl_sql_val_t){0};
    switch (e->op) {
    case SQ_F_UPPER:
    case SQ_F_LOWER: {
        char *p = sl_sql_scratch_get(ev->mem, a[0].n + 1);
        for (size_t i = 0; i < a[0].n; i++) {
            unsigned char c = (unsigned char)a[0].s[i];
            p[i] = (char)(e->op == SQ_F_UPPER ? toupper(c) : tolower(c));
        }
        out->s = p;
        out->n = a[0].n;
        return true;
    }
    case SQ_F_TRIM: {
        const char *s = a[0].s;
        size_t n = a[0].n;
        while (n && *s == ' ') {
            s++, n--;
        }
        while (n && s[n - 1] == ' ') {
            n--;
        }
        out->s = s;
        out->n = n;
        return true;
    }
    case SQ_F_LENGTH: { /* characters: UTF-8 lead bytes */
        int64_t k = 0;
        for (size_t i = 0; i < a[0].n; i++) {
            k += ((unsigned char)a[0].s[i] & 0xC0) != 0x80;
        }
        out->i = k;
        return true;
    }
    case SQ_F_SUBSTRING: { /* 1-based start, optional length; in bytes */
        int64_t start = a[1].i, len = e->n_args > 2 ? a[2].i : INT64_MAX;
        if (len < 0) {
            return fail(ev, e, "SUBSTRING length must not be negative");
        }
        int64_t from = start < 1 ? 0 : start - 1;
        int64_t to = start < 1 ? (len == INT64_MAX ? INT64_MAX : start - 1 + len)
                               : (len > INT64_MAX - from ? INT64_MAX : from + len);
        if (to > (int64_t)a[0].n) {
            to = (int64_t)a[0].n;
        }
        if (from > (int64_t)a[0].n || to <= from) {
            out->s = "";
            return true;
        }
        out->s = a[0].s + from;
        out->n = (size_t)(to - from);
        return true;
    }
    case SQ_F_CONCAT: {
        size_t n = 0;
        for (size_t i = 0; i < e->n_args; i++) {
            n += a[i].n;
        }
        char *p = sl_sql_scratch_get(ev->mem, n + 1);
        out->s = p;
        out->n = n;
        for (size_t i = 0; i < e->n_args; i++) {
            memcpy(p, a[i].s, a[i].n);
            p += a[i].n;
        }
        return true;
    }
    case SQ_F_ABS:
        if (e->type.base == SQ_DOUBLE) {
            out->d = fabs(a[0].d);
            return true;
        }
        if (a[0].i == INT64_MIN || !int_fits(e->type, -a[0].i)) {
            return fail(ev, e, "ABS overflow");
        }
        out->i = a[0].i < 0 ? -a[0].i : a[0].i;
        return true;
    case SQ_F_TO_TIMESTAMP_LTZ:
        if (e->n_args > 1 && a[1].i == 0) {
            return !__builtin_mul_overflow(a[0].i, 1000, &out->i) ||
                   fail(ev, e, "TIMESTAMP overflow");
        }
        out->i = a[0].i;
        return true;
    case SQ_F_UNIX_TIMESTAMP:
        out->i = a[0].i >= 0 ? a[0].i / 1000 : -((-a[0].i + 999) / 1000);
        return true;
    case SQ_F_FROM_UNIXTIME: {
        char *p = sl_sql_scratch_get(ev->mem, 40);
        int64_t ms;
        if (__builtin_mul_overflow(a[0].i, 1000, &ms)) {
            return fail(ev, e, "TIMESTAMP overflow");
        }
        out->s = p;
        out->n = sl_sql_format_ts(ms, p, 40) - 4; /* seconds: drop ".000" */
        return true;
    }
    default:
        return fail(ev, e, "unsupported function");
    }
}

bool sl_sql_eval(sl_sql_eval_t *ev, const sl_sql_expr_t *e, sl_sql_val_t *out) {
    sl_sql_val_t a, b;
    switch (e->kind) {
    case SQ_E_SLOT:
        *out = ev->row[e->slot];
        return true;
    case SQ_E_LIT:
        *out = e->val;
        return true;
    case SQ_E_UN:
        if (!sl_sql_eval(ev, e->a, &a)) {
            return false;
        }
        *out = (sl_sql_val_t){0};
        switch (e->op) {
        case SQ_OP_ISNULL:
            out->i = a.null;
            return true;
        case SQ_OP_NOTNULL:
            out->i = !a.null;
            return true;
        case SQ_OP_NOT:
            out->null = a.null;
            out->i = !a.i;
            return true;
        default: /* NEG */
            if (a.null) {
                out->null = true;
            } else if (e->type.base == SQ_DOUBLE) {
                out->d = -a.d;
            } else if (a.i == INT64_MIN || !int_fits(e->type, -a.i)) {
                return fail(ev, e, "overflow in unary minus");
            } else {
                out->i = -a.i;
            }
            return true;
        }
    case SQ_E_BIN:
        if (!sl_sql_eval(ev, e->a, &a)) {
            return false;
        }
        if (e->op == SQ_OP_AND || e->op == SQ_OP_OR) {
            bool stop = e->op == SQ_OP_AND ? (!a.null && !a.i) : (!a.null && a.i);
            if (stop) { /* FALSE AND x, TRUE OR x */
                *out = (sl_sql_val_t){.i = e->op == SQ_OP_OR};
                return true;
            }
            if (!sl_sql_eval(ev, e->b, &b)) {
                return false;
            }
            bool bstop = e->op == SQ_OP_AND ? (!b.null && !b.i) : (!b.null && b.i);
            *out = (sl_sql_val_t){0};
            if (bstop) {
                out->i = e->op == SQ_OP_OR;
            } else if (a.null || b.null) {
                out->null = true;
            } else {
                out->i = e->op == SQ_OP_AND;
            }
            return true;
        }
        if (!sl_sql_eval(ev, e->b, &b)) {
            return false;
        }
        *out = (sl_sql_val_t){0};
        if (a.null || b.null) {
            out->null = true;
            return true;
        }
        switch (e->op) {
        case SQ_OP_CONCAT: {
            char *p = sl_sql_scratch_get(ev->mem, a.n + b.n + 1);
            memcpy(p, a.s, a.n);
            memcpy(p + a.n, b.s, b.n);
            out->s = p;
            out->n = a.n + b.n;
            return true;
        }
        case SQ_OP_EQ:
        case SQ_OP_NE:
        case SQ_OP_LT:
        case SQ_OP_LE:
        case SQ_OP_GT:
        case SQ_OP_GE: {
            int r = cmp(e->a->type, &a, e->b->type, &b);
            out->i = e->op == SQ_OP_EQ   ? r == 0
                     : e->op == SQ_OP_NE ? r != 0
                     : e->op == SQ_OP_LT ? r < 0
                     : e->op == SQ_OP_LE ? r <= 0
                     : e->op == SQ_OP_GT ? r > 0
                                         : r >= 0;
            return true;
        }
        default:
            return arith(ev, e, &a, &b, out);
        }
    case SQ_E_CASE:
        if (e->a && !sl_sql_eval(ev, e->a, &a)) {
            return false;
        }
        for (size_t i = 0; i + 1 < e->n_args; i += 2) {
            if (!sl_sql_eval(ev, e->args[i], &b)) {
                return false;
            }
            bool hit = e->a ? (!a.null && !b.null && cmp(e->a->type, &a, e->args[i]->type, &b) == 0)
                            : (!b.null && b.i);
            if (hit) {
                return sl_sql_eval(ev, e->args[i + 1], out) && coerce(ev, e->args[i + 1], e, out);
            }
        }
        if (!e->b) {
            *out = (sl_sql_val_t){.null = true};
            return true;
        }
        return sl_sql_eval(ev, e->b, out) && coerce(ev, e->b, e, out);
    case SQ_E_CAST:
        if (!sl_sql_eval(ev, e->a, &a)) {
            return false;
        }
        if (a.null) {
            *out = a;
            return true;
        }
        return do_cast(ev, e, &a, out);
    case SQ_E_CALL:
        return call(ev, e, out);
    default:
        return fail(ev, e, "unresolved expression");
    }
}

/* ---- output ---- */
static void reserve(sl_sql_out_t *o, size_t n) {
    if (o->len + n + 1 > o->cap) {
        o->cap = (o->len + n + 1) * 2 < 256 ? 256 : (o->len + n + 1) * 2;
        o->p = sl_xrealloc(o->p, o->cap);
    }
}

void sl_sql_out_raw(sl_sql_out_t *o, const char *s, size_t n) {
    reserve(o, n);
    if (n) {
        memcpy(o->p + o->len, s, n);
    }
    o->len += n;
    o->p[o->len] = 0;
}

void sl_sql_out_free(sl_sql_out_t *o) {
    free(o->p);
    *o = (sl_sql_out_t){0};
}

/* x / 10^scale in decimal, `scale` digits after the point (none for 0): the text printf's
 * "%lld" gives for scale 0, without printf. */
static void out_decimal(sl_sql_out_t *o, int scale, int64_t x) {
    char b[48], *p = b + sizeof b;
    uint64_t u = x < 0 ? (uint64_t)0 - (uint64_t)x : (uint64_t)x;
    for (int i = 0; i < scale; i++, u /= 10) {
        *--p = (char)('0' + u % 10);
    }
    if (scale) {
        *--p = '.';
    }
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (x < 0) {
        *--p = '-';
    }
    sl_sql_out_raw(o, p, (size_t)(b + sizeof b - p));
}

/* d as printf's "%.15g" prints it, when that is the fixed-point form of a decimal with at most
 * 15 significant digits that reads back as d (most doubles that come from decimal data): the
 * fewest decimals k for which round(d * 10^k) / 10^k == d. Such a decimal is d rounded to 15
 * significant digits (a double is closer to it than half that grid's spacing), so the text is
 * printf's. 1: written; 0: there is no such decimal, so "%.15g" would not read back either;
 * -1: outside that range (printf's exponent form, zero, inf, nan). */
static int out_short_double(sl_sql_out_t *o, double d) {
    double a = fabs(d);
    if (!(a >= 1e-4 && a < 1e15)) {
        return -1;
    }
    for (int k = 0; k <= 18; k++) {
        double scale = (double)p10[k], m = nearbyint(a * scale);
        if (m >= 1e15) {
            return 0;
        }
        if (m / scale == a) {
            out_decimal(o, k, d < 0 ? -(int64_t)m : (int64_t)m);
            return 1;
        }
    }
    return 0; /* 18 decimals hold every 15-digit decimal from 1e-4 up */
}

void sl_sql_out_text(sl_sql_out_t *o, sl_sql_type_t t, const sl_sql_val_t *v) {
    char b[48];
    int n = 0;
    if (v->null) {
        sl_sql_out_raw(o, "NULL", 4);
        return;
    }
    switch (t.base) {
    case SQ_VARCHAR:
        sl_sql_out_raw(o, v->s, v->n);
        return;
    case SQ_BOOL:
        n = snprintf(b, sizeof b, "%s", v->i ? "true" : "false");
        break;
    case SQ_DOUBLE: /* the shortest form that reads back as the same double */
        switch (out_short_double(o, v->d)) {
        case 1:
            return;
        case 0:
            n = snprintf(b, sizeof b, "%.17g", v->d);
            break;
        default:
            n = snprintf(b, sizeof b, "%.15g", v->d);
            if (strtod(b, NULL) != v->d) {
                n = snprintf(b, sizeof b, "%.17g", v->d);
            }
        }
        break;
    case SQ_DECIMAL:
        out_decimal(o, t.scale, v->i);
        return;
    case SQ_TIMESTAMP:
        n = (int)sl_sql_format_ts(v->i, b, sizeof b);
        break;
    default:
        out_decimal(o, 0, v->i);
        return;
    }
    sl_sql_out_raw(o, b, (size_t)n);
}

/* How many bytes at s (n of them) a JSON string holds as they are: up to the first quote,
 * backslash or control character. 16 at a time where SSE2 is. */
static size_t json_plain(const char *s, size_t n) {
    size_t i = 0;
#ifdef __SSE2__
    for (; n - i >= 16; i += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        __m128i ctl = _mm_cmpeq_epi8(_mm_max_epu8(x, _mm_set1_epi8(0x1F)), _mm_set1_epi8(0x1F));
        __m128i bad = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')),
                                                _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))),
                                   ctl);
        unsigned m = (unsigned)_mm_movemask_epi8(bad);
        if (m) {
            return i + (size_t)__builtin_ctz(m);
        }
    }
#endif
    for (; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\' || c < 0x20) {
            break;
        }
    }
    return i;
}

void sl_sql_out_json(sl_sql_out_t *o, sl_sql_type_t t, const sl_sql_val_t *v) {
    char b[48];
    if (v->null) {
        sl_sql_out_raw(o, "null", 4);
    } else if (t.base == SQ_VARCHAR) {
        reserve(o, v->n + 2);
        o->p[o->len++] = '"';
        size_t run = 0; /* characters that need no escape, copied together */
        for (size_t i = 0; (i += json_plain(v->s + i, v->n - i)) < v->n; i++) {
            unsigned char c = (unsigned char)v->s[i];
            sl_sql_out_raw(o, v->s + run, i - run);
            run = i + 1;
            if (c == '"' || c == '\\') {
                b[0] = '\\';
                b[1] = (char)c;
                sl_sql_out_raw(o, b, 2);
            } else {
                int n = snprintf(b, sizeof b, "\\u%04x", c);
                sl_sql_out_raw(o, b, (size_t)n);
            }
        }
        sl_sql_out_raw(o, v->s + run, v->n - run);
        sl_sql_out_raw(o, "\"", 1);
    } else if (t.base == SQ_TIMESTAMP) { /* epoch milliseconds */
        out_decimal(o, 0, v->i);
    } else {
        sl_sql_out_text(o, t, v);
    }
}

/* ---- binary form: [null byte][8-byte value | 4-byte length + bytes] ---- */
void sl_sql_enc_val(sl_sql_out_t *o, sl_sql_type_t t, const sl_sql_val_t *v) {
    uint8_t b[9];
    b[0] = v->null;
    if (v->null) {
        sl_sql_out_raw(o, (const char *)b, 1);
        return;
    }
    if (t.base == SQ_VARCHAR) {
        uint32_t n = (uint32_t)v->n;
        for (int i = 0; i < 4; i++) {
            b[1 + i] = (uint8_t)(n >> (24 - 8 * i));
        }
        sl_sql_out_raw(o, (const char *)b, 5);
        sl_sql_out_raw(o, v->s, v->n);
        return;
    }
    uint64_t x;
    if (t.base == SQ_DOUBLE) {
        memcpy(&x, &v->d, 8);
    } else {
        x = (uint64_t)v->i;
    }
    for (int i = 0; i < 8; i++) {
        b[1 + i] = (uint8_t)(x >> (56 - 8 * i));
    }
    sl_sql_out_raw(o, (const char *)b, 9);
}

bool sl_sql_dec_val(const uint8_t **p, const uint8_t *end, sl_sql_type_t t, sl_sql_val_t *v) {
    const uint8_t *q = *p;
    *v = (sl_sql_val_t){0};
    if (end - q < 1) {
        return false;
    }
    if (*q++) {
        v->null = true;
        *p = q;
        return true;
    }
    if (t.base == SQ_VARCHAR) {
        if (end - q < 4) {
            return false;
        }
        uint32_t n = (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | q[3];
        q += 4;
        if ((size_t)(end - q) < n) {
            return false;
        }
        v->s = (const char *)q;
        v->n = n;
        *p = q + n;
        return true;
    }
    if (end - q < 8) {
        return false;
    }
    uint64_t x = 0;
    for (int i = 0; i < 8; i++) {
        x = x << 8 | q[i];
    }
    if (t.base == SQ_DOUBLE) {
        memcpy(&v->d, &x, 8);
    } else {
        v->i = (int64_t)x;
    }
    *p = q + 8;
    return true;
}

/* ---- JSON input (jscan.c finds the values; here they become typed slots) ---- */

/* A number token's kind: 1 an integer (no fraction or exponent), 2 a real, 0 not a number. */
static int num_kind(const sl_sql_jval_t *j) {
    char c = j->p[0];
    if (c != '-' && (c < '0' || c > '9')) {
        return 0;
    }
    if (j->flags & SL_SQL_JV_KNOWN) {
        return j->flags & SL_SQL_JV_REAL ? 2 : 1;
    }
    for (size_t i = 1; i < j->n; i++) {
        if (j->p[i] == '.' || j->p[i] == 'e' || j->p[i] == 'E') {
            return 2;
        }
    }
    return 1;
}

/* An integer token the scan checked (within int64). */
static int64_t int_of(const sl_sql_jval_t *j) {
    bool neg = j->p[0] == '-';
    uint64_t u = 0;
    for (size_t i = neg; i < j->n; i++) {
        u = u * 10 + (uint64_t)(j->p[i] - '0');
    }
    return neg ? (int64_t)(0 - u) : (int64_t)u;
}

static double real_of(const sl_sql_jval_t *j) {
    char b[64];
    if (j->n < sizeof b) {
        memcpy(b, j->p, j->n);
        b[j->n] = 0;
        return strtod(b, NULL);
    }
    char *h = sl_xmalloc(j->n + 1);
    memcpy(h, j->p, j->n);
    h[j->n] = 0;
    double d = strtod(h, NULL);
    free(h);
    return d;
}

/* The value j (absent: p NULL) as type t; false when its JSON type does not fit t. */
static bool from_json(const sl_sql_jval_t *j, sl_sql_type_t t, sl_sql_scratch_t *mem,
                      sl_sql_val_t *v) {
    *v = (sl_sql_val_t){0};
    if (!j->p || (j->p[0] == 'n')) { /* absent, or null */
        v->null = true;
        return true;
    }
    char c = j->p[0];
    int num = num_kind(j);
    switch (t.base) {
    case SQ_BOOL:
        v->i = c == 't';
        return c == 't' || c == 'f';
    case SQ_INT:
    case SQ_BIGINT:
        if (num != 1) {
            return false;
        }
        v->i = int_of(j);
        return int_fits(t, v->i);
    case SQ_DOUBLE:
        v->d = num == 1 ? (double)int_of(j) : num == 2 ? real_of(j) : 0;
        return num != 0;
    case SQ_DECIMAL:
        if (num == 1) {
            return !__builtin_mul_overflow(int_of(j), p10[t.scale], &v->i);
        }
        if (c == '"') {
            size_t n;
            const char *s = sl_sql_json_string(*j, mem, &n);
            return parse_num(s, n, t, v);
        }
        return num == 2 && to_scaled((sl_sql_type_t){.base = SQ_DOUBLE},
                                     &(sl_sql_val_t){.d = real_of(j)}, t.scale, &v->i);
    case SQ_VARCHAR:
        if (c != '"') {
            return false;
        }
        v->s = sl_sql_json_string(*j, mem, &v->n);
        return true;
    case SQ_TIMESTAMP: /* epoch milliseconds, or 'YYYY-MM-DD HH:MM:SS[.fff]' */
        if (num == 1) {
            v->i = int_of(j);
            return true;
        }
        if (c == '"') {
            size_t n;
            const char *s = sl_sql_json_string(*j, mem, &n);
            return sl_sql_parse_ts(s, n, &v->i);
        }
        return false;
    default:
        return false;
    }
}

void sl_sql_decoder_init(sl_sql_decoder_t *d, const sl_sql_path_t *paths, size_t n_paths) {
    *d = (sl_sql_decoder_t){.paths = paths, .n_paths = n_paths};
    d->keys = sl_xcalloc(n_paths + 1, sizeof *d->keys);
    d->key_lens = sl_xcalloc(n_paths + 1, sizeof *d->key_lens);
    d->key_of = sl_xcalloc(n_paths + 1, sizeof *d->key_of);
    d->lazy = sl_xcalloc(n_paths + 1, sizeof *d->lazy);
    for (size_t i = 0; i < n_paths; i++) {
        const char *k = paths[i].n > 0 ? paths[i].steps[0] : NULL;
        d->key_of[i] = -1;
        if (!k) {
            continue; /* a path starts with a field name; anything else decodes as absent */
        }
        size_t j = 0;
        while (j < d->n_keys && strcmp(d->keys[j], k)) {
            j++;
        }
        if (j == d->n_keys) {
            d->keys[j] = k;
            d->key_lens[j] = strlen(k);
            d->n_keys++;
        }
        d->key_of[i] = (int)j;
    }
}

void sl_sql_decoder_fini(sl_sql_decoder_t *d) {
    free(d->keys);
    free(d->key_lens);
    free(d->key_of);
    free(d->lazy);
    *d = (sl_sql_decoder_t){0};
}

/* `sluice bench` records (the `make run` demo's topic) carry a 24-byte binary header starting
 * "SLB1" before their JSON (src/bench/payload.h; sql/ does not include bench/ headers). */
#define BENCH_HDR_LEN 24

/* Whether from_json accepts j as type t, known without converting it (false: only converting
 * tells, or it does not). */
static bool type_known_ok(const sl_sql_jval_t *j, sl_sql_type_t t) {
    if (!j->p || j->p[0] == 'n') {
        return true; /* absent, or null */
    }
    char c = j->p[0];
    switch (t.base) {
    case SQ_BOOL:
        return c == 't' || c == 'f';
    case SQ_BIGINT:
    case SQ_TIMESTAMP:
        return num_kind(j) == 1; /* the scan checked that an integer fits 64 bits */
    case SQ_DOUBLE:
        return num_kind(j) != 0;
    case SQ_VARCHAR:
        return c == '"';
    default:
        return false; /* INT's range, DECIMAL's scale and text: converting tells */
    }
}

/* Slot i from the scanned top-level values (sl_sql_decode_slot; inline for the per-record loop). */
static inline bool decode_path(const sl_sql_decoder_t *d, size_t i, const sl_sql_jval_t *top,
                               sl_sql_scratch_t *mem, sl_sql_val_t *v) {
    const sl_sql_path_t *p = &d->paths[i];
    if (sl_sql_path_top(p)) { /* no walk */
        return from_json(&top[d->key_of[i]], p->type, mem, v);
    }
    static const sl_sql_jval_t absent = {NULL, 0, 0};
    const sl_sql_jval_t *j = d->key_of[i] >= 0 ? &top[d->key_of[i]] : &absent;
    sl_sql_jval_t inner; /* a nested path's value */
    for (int k = 1; j->p && k < p->n; k++) {
        sl_sql_jval_t next = absent;
        if (p->steps[k] ? !sl_sql_json_member(*j, p->steps[k], strlen(p->steps[k]), &next)
                        : !sl_sql_json_element(*j, p->idx[k], &next)) {
            next = absent;
        }
        inner = next;
        j = &inner;
    }
    if (p->cardinality) {
        int64_t n = j->p ? sl_sql_json_count(*j) : -1;
        *v = (sl_sql_val_t){.null = n < 0, .i = n < 0 ? 0 : n};
        return true;
    }
    return from_json(j, p->type, mem, v);
}

bool sl_sql_decode_slot(const sl_sql_decoder_t *d, size_t i, const sl_sql_jval_t *top,
                        sl_sql_scratch_t *mem, sl_sql_val_t *v) {
    return decode_path(d, i, top, mem, v);
}

bool sl_sql_decode_with(const sl_sql_decoder_t *d, const char *doc, size_t len,
                        sl_sql_scratch_t *mem, sl_sql_val_t *row, sl_sql_jval_t *raw,
                        const char **why) {
    sl_sql_jval_t small[16], *top = raw ? raw : small;
    if (!raw && d->n_keys > 16) {
        top = sl_xcalloc(d->n_keys, sizeof *top);
    }
    if (doc && len > BENCH_HDR_LEN && memcmp(doc, "SLB1", 4) == 0) {
        doc += BENCH_HDR_LEN, len -= BENCH_HDR_LEN;
    }
    bool ok = sl_sql_json_scan(doc, len, d->keys, d->key_lens, d->n_keys, top);
    if (!ok) {
        *why = "the value is not a JSON object";
    }
    for (size_t i = 0; ok && i < d->n_paths; i++) {
        if (raw && d->lazy[i] && type_known_ok(&top[d->key_of[i]], d->paths[i].type)) {
            row[i] = (sl_sql_val_t){.null = true}; /* read from raw, or by sl_sql_decode_slot */
            continue;
        }
        if (!decode_path(d, i, top, mem, &row[i])) {
            *why = "a field's JSON type does not match its declared column type";
            ok = false;
        }
    }
    if (top != small && top != raw) {
        free(top);
    }
    return ok;
}

bool sl_sql_decode(const sl_sql_path_t *paths, size_t n_paths, const char *doc, size_t len,
                   sl_sql_scratch_t *mem, sl_sql_val_t *row, const char **why) {
    sl_sql_decoder_t d;
    sl_sql_decoder_init(&d, paths, n_paths);
    bool ok = sl_sql_decode_with(&d, doc, len, mem, row, NULL, why);
    sl_sql_decoder_fini(&d);
    return ok;
}

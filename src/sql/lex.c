/* lex.c -- the SQL lexer: keywords (case-insensitive), names ("quoted" keep their case), numbers,
 * '...' strings ('' is a quote), operators, -- and block comments; every token has its line and
 * column (1-based) for error messages. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sql/grammar.h"
#include "sql/sql_int.h"

static const struct {
    const char *word;
    int tok;
} keywords[] = {
    {"and", TK_AND},
    {"as", TK_AS},
    {"by", TK_BY},
    {"case", TK_CASE},
    {"cast", TK_CAST},
    {"changes", TK_CHANGES},
    {"create", TK_CREATE},
    {"describe", TK_DESCRIBE},
    {"distinct", TK_DISTINCT},
    {"drop", TK_DROP},
    {"else", TK_ELSE},
    {"emit", TK_EMIT},
    {"end", TK_END},
    {"explain", TK_EXPLAIN},
    {"false", TK_FALSE},
    {"final", TK_FINAL},
    {"from", TK_FROM},
    {"full", TK_FULL},
    {"grace", TK_GRACE},
    {"group", TK_GROUP},
    {"having", TK_HAVING},
    {"inner", TK_INNER},
    {"insert", TK_INSERT},
    {"interval", TK_INTERVAL},
    {"into", TK_INTO},
    {"is", TK_IS},
    {"join", TK_JOIN},
    {"key", TK_KEY},
    {"left", TK_LEFT},
    {"not", TK_NOT},
    {"null", TK_NULL},
    {"on", TK_ON},
    {"or", TK_OR},
    {"order", TK_ORDER},
    {"outer", TK_OUTER},
    {"primary", TK_PRIMARY},
    {"select", TK_SELECT},
    {"show", TK_SHOW},
    {"stream", TK_STREAM},
    {"streams", TK_STREAMS},
    {"table", TK_TABLE},
    {"then", TK_THEN},
    {"timestamp", TK_TIMESTAMP},
    {"true", TK_TRUE},
    {"when", TK_WHEN},
    {"where", TK_WHERE},
    {"with", TK_WITH},
    {"within", TK_WITHIN},
};

void sl_sql_errorf(sl_sql_parse_t *ps, int line, int col, const char *fmt, ...) {
    if (ps->failed) {
        return; /* the first error is the one worth reading */
    }
    ps->failed = true;
    int n = line ? snprintf(ps->err, ps->errlen, "line %d, column %d: ", line, col) : 0;
    if (n < 0 || (size_t)n >= ps->errlen) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

/* Advances over whitespace and comments, keeping line/col. */
static void skip_space(sl_sql_parse_t *ps, size_t *pos, int *line, int *col) {
    const char *t = ps->text;
    for (;;) {
        char c = t[*pos];
        if (c == '\n') {
            (*pos)++, (*line)++, *col = 1;
        } else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
            (*pos)++, (*col)++;
        } else if (c == '-' && t[*pos + 1] == '-') {
            while (t[*pos] && t[*pos] != '\n') {
                (*pos)++, (*col)++;
            }
        } else if (c == '/' && t[*pos + 1] == '*') {
            (*pos) += 2, (*col) += 2;
            while (t[*pos] && !(t[*pos] == '*' && t[*pos + 1] == '/')) {
                if (t[*pos] == '\n') {
                    (*line)++, *col = 0;
                }
                (*pos)++, (*col)++;
            }
            if (t[*pos]) {
                (*pos) += 2, (*col) += 2;
            }
        } else {
            return;
        }
    }
}

int sl_sql_lex(sl_sql_parse_t *ps, size_t *pos, sl_sql_token_t *tok) {
    const char *t = ps->text;
    int line = ps->tok_line, col = ps->tok_col; /* where *pos is */
    skip_space(ps, pos, &line, &col);
    size_t s = *pos;
    tok->p = t + s;
    tok->line = line;
    tok->col = col;
    char c = t[s];
    int code = -1;
    size_t n = 1;
    if (!c) {
        tok->n = 0;
        ps->tok_line = line, ps->tok_col = col;
        return 0;
    }
    if (isalpha((unsigned char)c) || c == '_') {
        while (isalnum((unsigned char)t[s + n]) || t[s + n] == '_') {
            n++;
        }
        code = TK_ID;
        for (size_t i = 0; i < SL_ARRAY_LEN(keywords); i++) {
            if (strlen(keywords[i].word) == n && !strncasecmp(keywords[i].word, t + s, n)) {
                code = keywords[i].tok;
                break;
            }
        }
        if (code == TK_WITHIN) { /* WITHIN GROUP: one token (a join's WITHIN takes an interval) */
            size_t g = n;
            while (isspace((unsigned char)t[s + g])) {
                g++;
            }
            if (!strncasecmp(t + s + g, "group", 5) && !isalnum((unsigned char)t[s + g + 5]) &&
                t[s + g + 5] != '_') {
                code = TK_WITHIN_GROUP;
                n = g + 5;
            }
        }
    } else if (isdigit((unsigned char)c) || (c == '.' && isdigit((unsigned char)t[s + 1]))) {
        code = TK_INTEGER;
        while (isdigit((unsigned char)t[s + n])) {
            n++;
        }
        if (t[s + n] == '.' || c == '.') {
            code = TK_NUMBER;
            n += c != '.';
            while (isdigit((unsigned char)t[s + n])) {
                n++;
            }
        }
        if ((t[s + n] == 'e' || t[s + n] == 'E') &&
            (isdigit((unsigned char)t[s + n + 1]) ||
             ((t[s + n + 1] == '-' || t[s + n + 1] == '+') &&
              isdigit((unsigned char)t[s + n + 2])))) {
            code = TK_NUMBER;
            n += 2;
            while (isdigit((unsigned char)t[s + n])) {
                n++;
            }
        }
        if (isalpha((unsigned char)t[s + n]) || t[s + n] == '_') {
            sl_sql_errorf(ps, line, col, "malformed number '%.*s'", (int)n + 1, t + s);
            return -1;
        }
    } else if (c == '\'' || c == '"') {
        for (;;) {
            if (!t[s + n] || t[s + n] == '\n') {
                sl_sql_errorf(ps, line, col, "unterminated %s",
                              c == '\'' ? "string" : "quoted name");
                return -1;
            }
            if (t[s + n] == c) {
                if (t[s + n + 1] == c) {
                    n += 2;
                    continue;
                }
                n++;
                break;
            }
            n++;
        }
        code = c == '\'' ? TK_STRING : TK_ID;
    } else {
        char d = t[s + 1];
        switch (c) {
        case '(':
            code = TK_LP;
            break;
        case ')':
            code = TK_RP;
            break;
        case '[':
            code = TK_LB;
            break;
        case ']':
            code = TK_RB;
            break;
        case ',':
            code = TK_COMMA;
            break;
        case ';':
            code = TK_SEMI;
            break;
        case '.':
            code = TK_DOT;
            break;
        case '+':
            code = TK_PLUS;
            break;
        case '-':
            code = TK_MINUS;
            break;
        case '*':
            code = TK_STAR;
            break;
        case '/':
            code = TK_SLASH;
            break;
        case '%':
            code = TK_PERCENT;
            break;
        case '=':
            code = TK_EQ;
            n = d == '=' ? 2 : 1;
            break;
        case '|':
            if (d == '|') {
                code = TK_CONCAT, n = 2;
            }
            break;
        case '!':
            if (d == '=') {
                code = TK_NE, n = 2;
            }
            break;
        case '<':
            code = d == '=' ? TK_LE : d == '>' ? TK_NE : TK_LT;
            n = d == '=' || d == '>' ? 2 : 1;
            break;
        case '>':
            code = d == '=' ? TK_GE : TK_GT;
            n = d == '=' ? 2 : 1;
            break;
        default:
            break;
        }
        if (code < 0) {
            sl_sql_errorf(ps, line, col, "unexpected character '%c'",
                          isprint((unsigned char)c) ? c : '?');
            return -1;
        }
    }
    tok->n = n;
    *pos = s + n;
    ps->tok_line = line;
    ps->tok_col = col + (int)n;
    return code;
}

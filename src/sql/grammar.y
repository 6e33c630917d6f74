/* grammar.y -- sluice's streaming SQL grammar (lemon). make generates build/gen/sql/grammar.c and
 * grammar.h from it. Actions only build the AST (ast.c); names and types are checked later
 * (check.c). docs/sql.md describes each form. */
%name sl_sql_parser
%token_prefix TK_
%token_type {sl_sql_token_t}
%extra_argument {sl_sql_parse_t *ps}
%include {
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include "sql/sql_int.h"
struct yyParser;
static void sl_sql_expected(struct yyParser *p, char *buf, size_t len);
}
%code {
/* What the parser could have taken in its current state, for the error message: the tokens
 * with a shift action there (default reductions make this a close, not exact, list). */
static const char *tok_label(int t) {
    switch (t) {
    case TK_ID: return "a name";
    case TK_STRING: return "a string";
    case TK_INTEGER: return "an integer";
    case TK_NUMBER: return "a number";
    case TK_LP: return "'('";
    case TK_RP: return "')'";
    case TK_LB: return "'['";
    case TK_RB: return "']'";
    case TK_COMMA: return "','";
    case TK_SEMI: return "';'";
    case TK_DOT: return "'.'";
    case TK_EQ: return "'='";
    case TK_STAR: return "'*'";
    case TK_UMINUS: return NULL;
    default: return yyTokenName[t];
    }
}
static void sl_sql_expected(struct yyParser *p, char *buf, size_t len) {
    size_t at = 0, n = 0;
    buf[0] = 0;
    for (int t = 1; t < YYNTOKEN; t++) {
        YYACTIONTYPE act = yy_find_shift_action((YYCODETYPE)t, p->yytos->stateno);
        const char *l = tok_label(t);
        if (act == YY_ERROR_ACTION || act > YY_MAX_SHIFTREDUCE || !l || at + 32 >= len) {
            continue;
        }
        at += (size_t)snprintf(buf + at, len - at, "%s%s", n++ ? ", " : "", l);
    }
    if (n == 0) {
        snprintf(buf, len, "end of statement");
    }
}
}
%syntax_error {
    (void)yymajor;
    if (!ps->failed) {
        char exp[256];
        sl_sql_expected(yypParser, exp, sizeof exp);
        sl_sql_errorf(ps, TOKEN.line, TOKEN.col, "syntax error at %s%.*s%s, expected %s",
                      TOKEN.n ? "'" : "", TOKEN.n ? (int)TOKEN.n : 13,
                      TOKEN.n ? TOKEN.p : "end of input", TOKEN.n ? "'" : "", exp);
    }
}
%parse_failure { ps->failed = true; }
%stack_overflow { sl_sql_errorf(ps, ps->tok_line, ps->tok_col, "statement nested too deeply"); }
%stack_size 200

/* Words of the join syntax are keywords only where the grammar expects them: elsewhere (a column
 * named key or left, WITH (key = 'k')) they are names. */
%fallback ID KEY PRIMARY TABLE LEFT FULL INNER OUTER WITHIN GRACE ORDER.

%left OR.
%left AND.
%right NOT.
%left IS.
%left EQ NE LT LE GT GE.
%left CONCAT.
%left PLUS MINUS.
%left STAR SLASH PERCENT.
%right UMINUS.
%left DOT LB.

%type expr {sl_sql_expr_t *}
%type exprlist {sl_sql_elist_t *}
%type args {sl_sql_elist_t *}
%type whens {sl_sql_elist_t *}
%type where_opt {sl_sql_expr_t *}
%type having_opt {sl_sql_expr_t *}
%type group_opt {sl_sql_elist_t *}
%type else_opt {sl_sql_expr_t *}
%type items {sl_sql_item_t *}
%type item {sl_sql_item_t *}
%type select {sl_sql_query_t *}
%type emit_opt {int}
%type type {sl_sql_type_t}
%type cols {sl_sql_col_t *}
%type col {sl_sql_col_t *}
%type opts {sl_sql_opt_t *}
%type opt {sl_sql_opt_t *}
%type with_opt {sl_sql_opt_t *}
%type name {sl_sql_token_t}
%type from {sl_sql_from_t *}
%type rel {sl_sql_rel_t}
%type jkind {int}
%type within_opt {sl_sql_from_t *}

script ::= stmts.
stmts ::= stmt.
stmts ::= stmts SEMI stmt.

stmt ::= .
stmt ::= CREATE(A) STREAM name(N) LP cols(C) RP with_opt(W). {
    sl_sql_stmt_t *s = sl_sql_stmt_begin(ps, SL_SQL_CREATE_STREAM, A);
    s->name = sl_sql_ident(ps, N); s->cols = C; s->opts = W;
}
stmt ::= CREATE(A) STREAM name(N) with_opt(W) AS select(Q). {
    sl_sql_stmt_t *s = sl_sql_stmt_begin(ps, SL_SQL_CREATE_AS, A);
    s->name = sl_sql_ident(ps, N); s->opts = W; s->q = Q;
}
stmt ::= CREATE(A) TABLE name(N) LP cols(C) COMMA PRIMARY KEY LP name(K) RP RP with_opt(W). {
    sl_sql_stmt_t *s = sl_sql_stmt_begin(ps, SL_SQL_CREATE_STREAM, A);
    s->name = sl_sql_ident(ps, N); s->cols = C; s->opts = W;
    s->table = true; s->pk = sl_sql_ident(ps, K); s->pk_line = K.line; s->pk_col = K.col;
}
stmt ::= INSERT(A) INTO name(N) select(Q). {
    sl_sql_stmt_t *s = sl_sql_stmt_begin(ps, SL_SQL_INSERT, A);
    s->name = sl_sql_ident(ps, N); s->q = Q;
}
stmt ::= select(Q). {
    sl_sql_stmt_t *s = sl_sql_stmt_begin(ps, SL_SQL_SELECT, (sl_sql_token_t){0}); s->q = Q;
}
stmt ::= EXPLAIN(A) select(Q). {
    sl_sql_stmt_t *s = sl_sql_stmt_begin(ps, SL_SQL_EXPLAIN, A); s->q = Q;
}
stmt ::= SHOW(A) STREAMS. { (void)sl_sql_stmt_begin(ps, SL_SQL_SHOW_STREAMS, A); }
stmt ::= DESCRIBE(A) name(N). {
    sl_sql_stmt_t *s = sl_sql_stmt_begin(ps, SL_SQL_DESCRIBE, A); s->name = sl_sql_ident(ps, N);
}
stmt ::= DROP(A) STREAM name(N). {
    sl_sql_stmt_t *s = sl_sql_stmt_begin(ps, SL_SQL_DROP_STREAM, A); s->name = sl_sql_ident(ps, N);
}
stmt ::= DROP(A) TABLE name(N). {
    sl_sql_stmt_t *s = sl_sql_stmt_begin(ps, SL_SQL_DROP_STREAM, A); s->name = sl_sql_ident(ps, N);
}

name(A) ::= ID(B). { A = B; }

cols(A) ::= col(B). { A = B; }
cols(A) ::= cols(B) COMMA col(C). { sl_sql_col_t **t = &B; while (*t) t = &(*t)->next; *t = C; A = B; }
col(A) ::= name(N) type(T). {
    A = sl_sql_alloc(ps->pool, sizeof *A); A->name = sl_sql_ident(ps, N); A->type = T;
}

type(A) ::= ID(N). { A = sl_sql_type_named(ps, N, -1, -1); }
type(A) ::= TIMESTAMP(N). { A = sl_sql_type_named(ps, N, -1, -1); }
type(A) ::= TIMESTAMP(N) LP INTEGER(P) RP. { A = sl_sql_type_named(ps, N, sl_sql_int_tok(ps, P), -1); }
type(A) ::= ID(N) LP INTEGER(P) RP. { A = sl_sql_type_named(ps, N, sl_sql_int_tok(ps, P), -1); }
type(A) ::= ID(N) LP INTEGER(P) COMMA INTEGER(S) RP. {
    A = sl_sql_type_named(ps, N, sl_sql_int_tok(ps, P), sl_sql_int_tok(ps, S));
}
type(A) ::= ID(N) LP cols(C) RP. {
    A = sl_sql_type_named(ps, N, -2, -1); A.field = C;
}
type(A) ::= ID(N) LT type(E) GT. {
    A = sl_sql_type_named(ps, N, -3, -1);
    sl_sql_type_t *e = sl_sql_alloc(ps->pool, sizeof *e); *e = E; A.elem = e;
    if (E.base == SQ_ROW || E.base == SQ_ARRAY) sl_sql_errorf(ps, N.line, N.col, "ARRAY elements must be scalars");
}

with_opt(A) ::= . { A = NULL; }
with_opt(A) ::= WITH LP opts(B) RP. { A = B; }
opts(A) ::= opt(B). { A = B; }
opts(A) ::= opts(B) COMMA opt(C). { sl_sql_opt_t **t = &B; while (*t) t = &(*t)->next; *t = C; A = B; }
opt(A) ::= ID(K) EQ STRING(V). {
    A = sl_sql_alloc(ps->pool, sizeof *A); A->key = sl_sql_ident(ps, K); A->val = sl_sql_string(ps, V);
    A->line = K.line; A->col = K.col;
}
opt(A) ::= TIMESTAMP(K) EQ STRING(V). {
    A = sl_sql_alloc(ps->pool, sizeof *A); A->key = "timestamp"; A->val = sl_sql_string(ps, V);
    A->line = K.line; A->col = K.col;
}

select(A) ::= SELECT items(I) FROM from(F) where_opt(W) group_opt(G) having_opt(H) emit_opt(E). {
    A = sl_sql_query_new(ps, I, F, W, G, H, (sl_sql_emit_t)E);
}
from(A) ::= rel(R). { A = sl_sql_alloc(ps->pool, sizeof *A); A->rel[0] = R; A->n = 1; }
from(A) ::= rel(L) jkind(K) JOIN(J) rel(R) within_opt(W) ON expr(E). {
    A = W ? W : sl_sql_alloc(ps->pool, sizeof *A);
    A->rel[0] = L; A->rel[1] = R; A->n = 2; A->kind = K; A->on = E; A->line = J.line; A->col = J.col;
}
rel(A) ::= name(N). { A = (sl_sql_rel_t){sl_sql_ident(ps, N), NULL, N.line, N.col}; }
rel(A) ::= name(N) ID(X). { A = (sl_sql_rel_t){sl_sql_ident(ps, N), sl_sql_ident(ps, X), N.line, N.col}; }
rel(A) ::= name(N) AS ID(X). { A = (sl_sql_rel_t){sl_sql_ident(ps, N), sl_sql_ident(ps, X), N.line, N.col}; }
rel(A) ::= LP(P) select(Q) RP ID(X). {
    A = (sl_sql_rel_t){sl_sql_ident(ps, X), sl_sql_ident(ps, X), P.line, P.col}; A.sub = Q;
}
rel(A) ::= LP(P) select(Q) RP AS ID(X). {
    A = (sl_sql_rel_t){sl_sql_ident(ps, X), sl_sql_ident(ps, X), P.line, P.col}; A.sub = Q;
}
jkind(A) ::= . { A = SL_STREAM_JOIN_INNER; }
jkind(A) ::= INNER. { A = SL_STREAM_JOIN_INNER; }
jkind(A) ::= LEFT. { A = SL_STREAM_JOIN_LEFT; }
jkind(A) ::= LEFT OUTER. { A = SL_STREAM_JOIN_LEFT; }
jkind(A) ::= FULL. { A = SL_STREAM_JOIN_OUTER; }
jkind(A) ::= FULL OUTER. { A = SL_STREAM_JOIN_OUTER; }
within_opt(A) ::= . { A = NULL; }
within_opt(A) ::= WITHIN(T) expr(E). {
    A = sl_sql_alloc(ps->pool, sizeof *A); A->within = E; A->w_line = T.line; A->w_col = T.col;
}
within_opt(A) ::= WITHIN(T) expr(E) GRACE expr(G). {
    A = sl_sql_alloc(ps->pool, sizeof *A); A->within = E; A->grace = G; A->w_line = T.line; A->w_col = T.col;
}
items(A) ::= item(B). { A = B; }
items(A) ::= items(B) COMMA item(C). { sl_sql_item_t **t = &B; while (*t) t = &(*t)->next; *t = C; A = B; }
item(A) ::= STAR(S). { A = sl_sql_alloc(ps->pool, sizeof *A); A->line = S.line; A->col = S.col; }
item(A) ::= expr(E). { A = sl_sql_alloc(ps->pool, sizeof *A); A->e = E; A->line = E->line; A->col = E->col; }
item(A) ::= expr(E) AS name(N). {
    A = sl_sql_alloc(ps->pool, sizeof *A); A->e = E; A->alias = sl_sql_ident(ps, N);
    A->line = E->line; A->col = E->col;
}
where_opt(A) ::= . { A = NULL; }
where_opt(A) ::= WHERE expr(E). { A = E; }
group_opt(A) ::= . { A = NULL; }
group_opt(A) ::= GROUP BY exprlist(L). { A = L; }
having_opt(A) ::= . { A = NULL; }
having_opt(A) ::= HAVING expr(E). { A = E; }
emit_opt(A) ::= . { A = SQ_EMIT_DEFAULT; }
emit_opt(A) ::= EMIT CHANGES. { A = SQ_EMIT_CHANGES; }
emit_opt(A) ::= EMIT FINAL. { A = SQ_EMIT_FINAL; }

exprlist(A) ::= expr(E). { A = sl_sql_elist(ps, NULL, E); }
exprlist(A) ::= exprlist(L) COMMA expr(E). { A = sl_sql_elist(ps, L, E); }

expr(A) ::= LP expr(B) RP. { A = B; }
expr(A) ::= ID(N). { A = sl_sql_expr_new(ps, SQ_E_COL, N); A->name = sl_sql_ident(ps, N); }
expr(A) ::= expr(B) DOT ID(N). {
    A = sl_sql_expr_new(ps, SQ_E_FIELD, N); A->a = B; A->name = sl_sql_ident(ps, N);
    A->line = B->line; A->col = B->col;
}
expr(A) ::= expr(B) LB expr(I) RB. {
    A = sl_sql_expr_new(ps, SQ_E_INDEX, (sl_sql_token_t){0}); A->a = B; A->b = I;
    A->line = B->line; A->col = B->col;
}
expr(A) ::= INTEGER(T). { A = sl_sql_lit_num(ps, T); }
expr(A) ::= NUMBER(T). { A = sl_sql_lit_num(ps, T); }
expr(A) ::= STRING(T). { A = sl_sql_lit_str(ps, T); }
expr(A) ::= TRUE(T). { A = sl_sql_expr_new(ps, SQ_E_LIT, T); A->type.base = SQ_BOOL; A->val.i = 1; }
expr(A) ::= FALSE(T). { A = sl_sql_expr_new(ps, SQ_E_LIT, T); A->type.base = SQ_BOOL; }
expr(A) ::= NULL(T). { A = sl_sql_expr_new(ps, SQ_E_LIT, T); A->val.null = true; }
expr(A) ::= INTERVAL(T) STRING(V) ID(U). { A = sl_sql_lit_interval(ps, T, V, U); }
expr(A) ::= TIMESTAMP(T) STRING(V). { A = sl_sql_lit_timestamp(ps, T, V); }
expr(A) ::= ID(N) LP RP. { A = sl_sql_call(ps, N, NULL); }
expr(A) ::= ID(N) LP args(L) RP. { A = sl_sql_call(ps, N, L); }
expr(A) ::= ID(N) LP STAR RP. { A = sl_sql_call(ps, N, NULL); A->star = true; }
expr(A) ::= ID(N) LP DISTINCT expr(E) RP. { A = sl_sql_call(ps, N, sl_sql_elist(ps, NULL, E)); A->distinct = true; }
/* PERCENTILE_CONT(p) WITHIN GROUP (ORDER BY x): the call of args [x, p] (APPROX_PERCENTILE's). */
expr(A) ::= ID(N) LP args(L) RP WITHIN_GROUP(W) LP ORDER BY expr(X) RP. {
    A = sl_sql_call(ps, N, sl_sql_elist(ps, sl_sql_elist(ps, NULL, X), L->e));
    A->ordered = true;
    if (strcmp(A->name, "percentile_cont")) {
        sl_sql_errorf(ps, W.line, W.col, "WITHIN GROUP is supported for PERCENTILE_CONT only");
    } else if (L->next) {
        sl_sql_errorf(ps, N.line, N.col, "PERCENTILE_CONT takes one argument: the percentile");
    }
}
args(A) ::= expr(E). { A = sl_sql_elist(ps, NULL, E); }
args(A) ::= args(L) COMMA expr(E). { A = sl_sql_elist(ps, L, E); }
expr(A) ::= CAST(T) LP expr(E) AS type(Y) RP. { A = sl_sql_expr_new(ps, SQ_E_CAST, T); A->a = E; A->type = Y; }
expr(A) ::= CASE(T) whens(W) else_opt(E) END. {
    A = sl_sql_call(ps, T, W); A->kind = SQ_E_CASE; A->name = NULL; A->b = E;
}
expr(A) ::= CASE(T) expr(X) whens(W) else_opt(E) END. {
    A = sl_sql_call(ps, T, W); A->kind = SQ_E_CASE; A->name = NULL; A->a = X; A->b = E;
}
whens(A) ::= WHEN expr(C) THEN expr(V). { A = sl_sql_elist(ps, sl_sql_elist(ps, NULL, C), V); }
whens(A) ::= whens(L) WHEN expr(C) THEN expr(V). { A = sl_sql_elist(ps, sl_sql_elist(ps, L, C), V); }
else_opt(A) ::= . { A = NULL; }
else_opt(A) ::= ELSE expr(E). { A = E; }

expr(A) ::= expr(B) OR expr(C). { A = sl_sql_bin(ps, SQ_OP_OR, B, C); }
expr(A) ::= expr(B) AND expr(C). { A = sl_sql_bin(ps, SQ_OP_AND, B, C); }
expr(A) ::= NOT(T) expr(B). { A = sl_sql_un(ps, SQ_OP_NOT, B, T); }
expr(A) ::= expr(B) IS NULL. { A = sl_sql_un(ps, SQ_OP_ISNULL, B, (sl_sql_token_t){0}); }
expr(A) ::= expr(B) IS NOT NULL. { A = sl_sql_un(ps, SQ_OP_NOTNULL, B, (sl_sql_token_t){0}); }
expr(A) ::= expr(B) EQ expr(C). { A = sl_sql_bin(ps, SQ_OP_EQ, B, C); }
expr(A) ::= expr(B) NE expr(C). { A = sl_sql_bin(ps, SQ_OP_NE, B, C); }
expr(A) ::= expr(B) LT expr(C). { A = sl_sql_bin(ps, SQ_OP_LT, B, C); }
expr(A) ::= expr(B) LE expr(C). { A = sl_sql_bin(ps, SQ_OP_LE, B, C); }
expr(A) ::= expr(B) GT expr(C). { A = sl_sql_bin(ps, SQ_OP_GT, B, C); }
expr(A) ::= expr(B) GE expr(C). { A = sl_sql_bin(ps, SQ_OP_GE, B, C); }
expr(A) ::= expr(B) CONCAT expr(C). { A = sl_sql_bin(ps, SQ_OP_CONCAT, B, C); }
expr(A) ::= expr(B) PLUS expr(C). { A = sl_sql_bin(ps, SQ_OP_ADD, B, C); }
expr(A) ::= expr(B) MINUS expr(C). { A = sl_sql_bin(ps, SQ_OP_SUB, B, C); }
expr(A) ::= expr(B) STAR expr(C). { A = sl_sql_bin(ps, SQ_OP_MUL, B, C); }
expr(A) ::= expr(B) SLASH expr(C). { A = sl_sql_bin(ps, SQ_OP_DIV, B, C); }
expr(A) ::= expr(B) PERCENT expr(C). { A = sl_sql_bin(ps, SQ_OP_MOD, B, C); }
expr(A) ::= MINUS(T) expr(B). [UMINUS] { A = sl_sql_un(ps, SQ_OP_NEG, B, T); }

/* sql_int.h -- the SQL front end's internals: tokens, AST, types, values and compiled queries.
 *
 * Flow: lex.c turns text into tokens; grammar.y (lemon) builds the AST (sl_sql_expr_t,
 * sl_sql_query_t) through the constructors in ast.c; check.c resolves names against the catalog,
 * types every expression and turns column references into slots; eval.c evaluates a checked
 * expression over a row of slots (no name lookups at run time); compile.c builds the engine
 * graph. Everything a statement allocates lives in its pool and goes with it. */
#ifndef SL_SQL_INT_H
#define SL_SQL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sql/sql.h"

typedef struct sl_sql_out sl_sql_out_t; /* an output buffer (eval.c) */

/* ---- memory: a pool of blocks freed together ---- */
typedef struct sl_sql_pool {
    void *head; /* chain of allocations */
} sl_sql_pool_t;
void *sl_sql_alloc(sl_sql_pool_t *p, size_t n); /* zeroed; aborts on OOM */
char *sl_sql_strndup(sl_sql_pool_t *p, const char *s, size_t n);
void sl_sql_pool_free(sl_sql_pool_t *p);

/* ---- types ---- */
typedef enum sl_sql_base {
    SQ_NULLT = 0, /* the type of a bare NULL literal: fits any type */
    SQ_BOOL,
    SQ_INT,
    SQ_BIGINT,
    SQ_DOUBLE,
    SQ_DECIMAL,
    SQ_VARCHAR,
    SQ_TIMESTAMP,
    SQ_INTERVAL, /* literals only: milliseconds */
    SQ_ROW,
    SQ_ARRAY
} sl_sql_base_t;

typedef struct sl_sql_col sl_sql_col_t;
typedef struct sl_sql_type {
    sl_sql_base_t base;
    uint8_t prec, scale;            /* DECIMAL(p,s): values are int64 scaled by 10^s, p <= 18 */
    const sl_sql_col_t *field;      /* ROW: its fields (a list) */
    const struct sl_sql_type *elem; /* ARRAY: element type (a scalar) */
} sl_sql_type_t;

struct sl_sql_col { /* a column of a stream, or a field of a ROW */
    const char *name;
    sl_sql_type_t type;
    sl_sql_col_t *next;
};

/* ---- values: the type is known statically, so a value carries no tag ---- */
typedef struct sl_sql_val {
    bool null;
    int64_t i;     /* BOOL, INT, BIGINT, DECIMAL (scaled), TIMESTAMP (epoch ms), INTERVAL (ms) */
    double d;      /* DOUBLE */
    const char *s; /* VARCHAR: bytes, not NUL-terminated */
    size_t n;
} sl_sql_val_t;

/* Per-record memory for strings made while evaluating; reset once per record. */
typedef struct sl_sql_scratch {
    char *buf;
    size_t len, cap;
    struct sl_sql_scratch_old *old; /* blocks outgrown during this record */
} sl_sql_scratch_t;
char *sl_sql_scratch_get(sl_sql_scratch_t *s, size_t n);
void sl_sql_scratch_reset(sl_sql_scratch_t *s);
void sl_sql_scratch_fini(sl_sql_scratch_t *s);

/* ---- AST ---- */
typedef enum sl_sql_ek {
    SQ_E_COL = 1, /* name */
    SQ_E_FIELD,   /* a.name (a['name']) */
    SQ_E_INDEX,   /* a[b] */
    SQ_E_LIT,     /* literal: type + val */
    SQ_E_BIN,     /* a op b */
    SQ_E_UN,      /* op a: NOT, unary minus, IS NULL, IS NOT NULL */
    SQ_E_CASE,    /* CASE [a] WHEN args[2k] THEN args[2k+1] ... ELSE b END */
    SQ_E_CAST,    /* CAST(a AS cast) */
    SQ_E_CALL,    /* name(args) (star: f(*); distinct: f(DISTINCT x)) */
    SQ_E_SLOT,    /* after checking: a value of the row (slot) */
} sl_sql_ek_t;

/* Operators: token codes are not used, so the grammar and eval share these. */
enum {
    SQ_OP_ADD = 1,
    SQ_OP_SUB,
    SQ_OP_MUL,
    SQ_OP_DIV,
    SQ_OP_MOD,
    SQ_OP_CONCAT,
    SQ_OP_EQ,
    SQ_OP_NE,
    SQ_OP_LT,
    SQ_OP_LE,
    SQ_OP_GT,
    SQ_OP_GE,
    SQ_OP_AND,
    SQ_OP_OR,
    SQ_OP_NOT,
    SQ_OP_NEG,
    SQ_OP_ISNULL,
    SQ_OP_NOTNULL,
};

typedef struct sl_sql_expr sl_sql_expr_t;
struct sl_sql_expr {
    sl_sql_ek_t kind;
    int op;             /* SQ_OP_* for BIN/UN; function id for CALL after checking */
    int line, col;      /* where it starts, for errors */
    const char *name;   /* COL / FIELD / CALL */
    sl_sql_type_t type; /* LIT and CAST target before checking; every node's type after */
    sl_sql_val_t val;   /* LIT */
    sl_sql_expr_t *a, *b;
    sl_sql_expr_t **args;
    size_t n_args;
    bool star, distinct;
    bool ordered; /* f(p) WITHIN GROUP (ORDER BY x): args are [x, p] */
    int slot;     /* SLOT */
    int agg;      /* an aggregate call after checking: its index in the query's aggregates */
};

typedef struct sl_sql_item { /* SELECT list entry */
    sl_sql_expr_t *e;        /* NULL: `*` */
    const char *alias;
    int line, col;
    struct sl_sql_item *next;
} sl_sql_item_t;

typedef struct sl_sql_opt { /* WITH (k = 'v') */
    const char *key, *val;
    int line, col;
    struct sl_sql_opt *next;
} sl_sql_opt_t;

typedef struct sl_sql_elist {
    sl_sql_expr_t *e;
    struct sl_sql_elist *next;
} sl_sql_elist_t;

typedef enum sl_sql_emit { SQ_EMIT_DEFAULT = 0, SQ_EMIT_CHANGES, SQ_EMIT_FINAL } sl_sql_emit_t;

typedef struct sl_sql_query sl_sql_query_t;

/* FROM: one stream, or two relations joined (parsed form). */
typedef struct sl_sql_rel {
    const char *name, *alias; /* a subquery: both its alias */
    int line, col;
    sl_sql_query_t *sub; /* FROM (SELECT ...) AS alias */
} sl_sql_rel_t;
typedef struct sl_sql_from {
    sl_sql_rel_t rel[2];
    int n;                        /* 1, or 2 for a join */
    int kind;                     /* sl_stream_join_kind_t */
    sl_sql_expr_t *on;            /* ON a.k = b.k */
    sl_sql_expr_t *within;        /* WITHIN INTERVAL ...: a windowed stream-stream join */
    sl_sql_expr_t *grace;         /* GRACE INTERVAL ... */
    int line, col, w_line, w_col; /* JOIN, WITHIN */
} sl_sql_from_t;

/* ---- statements ---- */
typedef struct sl_sql_stream { /* a catalog entry */
    const char *name;
    sl_sql_col_t *cols;
    const char *topic, *format, *key, *timestamp, *late_topic;
    bool table; /* CREATE TABLE: the latest value per key; `key` is the PRIMARY KEY column */
    int64_t watermark_delay_ms, idle_ms;
    char *text; /* the CREATE STREAM statement (the catalog file keeps it) */
    struct sl_sql_stream *next;
} sl_sql_stream_t;

struct sl_sql_catalog {
    sl_sql_pool_t pool;
    sl_sql_stream_t *streams;
};

struct sl_sql_stmt {
    sl_sql_stmt_kind_t kind;
    int line, col;
    const char *name;   /* CREATE / INSERT target, DESCRIBE / DROP */
    sl_sql_col_t *cols; /* CREATE STREAM */
    sl_sql_opt_t *opts; /* WITH */
    sl_sql_query_t *q;  /* SELECT part */
    bool table;         /* CREATE TABLE (kind SL_SQL_CREATE_STREAM) */
    const char *pk;     /* its PRIMARY KEY column */
    int pk_line, pk_col;
    const char *text; /* source text of the statement */
    sl_sql_pool_t pool;
    sl_sql_catalog_t *catalog; /* owned by the first statement of a sl_sql_build_file list */
    struct sl_sql_stmt *next;
};

/* The parser's state (lemon %extra_argument). */
typedef struct sl_sql_parse {
    sl_sql_pool_t *pool; /* the current statement's pool */
    sl_sql_stmt_t *stmts, **tail;
    sl_sql_stmt_t *cur; /* the statement being built */
    const char *text;
    char *err;
    size_t errlen;
    bool failed;
    int tok_line, tok_col; /* the current token, for errors */
    size_t stmt_start;     /* byte offset where the current statement starts */
} sl_sql_parse_t;

typedef struct sl_sql_token {
    const char *p;
    size_t n;
    int line, col;
} sl_sql_token_t;

/* lex.c: the next token at *pos: its code (a grammar.h TK_ value), 0 at the end, -1 on an error
 * (message in ps). */
int sl_sql_lex(sl_sql_parse_t *ps, size_t *pos, sl_sql_token_t *tok);
void sl_sql_errorf(sl_sql_parse_t *ps, int line, int col, const char *fmt, ...) SL_PRINTF(4, 5);

/* ast.c: constructors the grammar calls. */
sl_sql_expr_t *sl_sql_expr_new(sl_sql_parse_t *ps, sl_sql_ek_t k, sl_sql_token_t at);
sl_sql_expr_t *sl_sql_bin(sl_sql_parse_t *ps, int op, sl_sql_expr_t *a, sl_sql_expr_t *b);
sl_sql_expr_t *sl_sql_un(sl_sql_parse_t *ps, int op, sl_sql_expr_t *a, sl_sql_token_t at);
sl_sql_expr_t *sl_sql_lit_num(sl_sql_parse_t *ps, sl_sql_token_t t);
sl_sql_expr_t *sl_sql_lit_str(sl_sql_parse_t *ps, sl_sql_token_t t);
sl_sql_expr_t *sl_sql_lit_interval(sl_sql_parse_t *ps, sl_sql_token_t at, sl_sql_token_t v,
                                   sl_sql_token_t unit);
sl_sql_expr_t *sl_sql_lit_timestamp(sl_sql_parse_t *ps, sl_sql_token_t at, sl_sql_token_t v);
sl_sql_expr_t *sl_sql_call(sl_sql_parse_t *ps, sl_sql_token_t name, sl_sql_elist_t *args);
sl_sql_elist_t *sl_sql_elist(sl_sql_parse_t *ps, sl_sql_elist_t *list, sl_sql_expr_t *e);
const char *sl_sql_ident(sl_sql_parse_t *ps, sl_sql_token_t t); /* unquoted, lower-cased */
char *sl_sql_string(sl_sql_parse_t *ps, sl_sql_token_t t);      /* a '...' literal's text */
sl_sql_type_t sl_sql_type_named(sl_sql_parse_t *ps, sl_sql_token_t t, int a1, int a2);
int sl_sql_int_tok(sl_sql_parse_t *ps, sl_sql_token_t t);
sl_sql_stmt_t *sl_sql_stmt_begin(sl_sql_parse_t *ps, sl_sql_stmt_kind_t k, sl_sql_token_t at);
sl_sql_query_t *sl_sql_query_new(sl_sql_parse_t *ps, sl_sql_item_t *items, sl_sql_from_t *from,
                                 sl_sql_expr_t *where, sl_sql_elist_t *group, sl_sql_expr_t *having,
                                 sl_sql_emit_t emit);

/* check.c: resolves and types a statement's query against the catalog (filling its compiled
 * form); SL_ERR_INVAL with "line L, column C: ..." in err. */
SL_MUST_USE sl_err_t sl_sql_check_stmt(sl_sql_catalog_t *c, sl_sql_stmt_t *s, char *err,
                                       size_t errlen);
const sl_sql_stream_t *sl_sql_find_stream(const sl_sql_catalog_t *c, const char *name);
const char *sl_sql_type_str(sl_sql_type_t t, char *buf, size_t len);
/* Parses a duration option ('5s', '250ms', '2m', '1h', or bare milliseconds); -1 if invalid. */
int64_t sl_sql_duration_ms(const char *s);

/* ---- the compiled query ---- */
typedef struct sl_sql_path { /* where a slot's value comes from in the JSON document */
    const char *steps[8];    /* field names; NULL entries are array indexes (idx) */
    int64_t idx[8];
    int n;
    bool cardinality; /* the length of the array at the path instead */
    int side;         /* a join's side: 0 the left relation, 1 the right one */
    sl_sql_type_t type;
} sl_sql_path_t;

/* A top-level column: its value is a member of the record's object, found by the scan itself. */
static inline bool sl_sql_path_top(const sl_sql_path_t *p) {
    return p->n == 1 && !p->cardinality && p->steps[0];
}

typedef enum sl_sql_agg_kind {
    SQ_AGG_COUNT_STAR = 1,
    SQ_AGG_COUNT,
    SQ_AGG_SUM,
    SQ_AGG_MIN,
    SQ_AGG_MAX,
    SQ_AGG_AVG,
    SQ_AGG_COUNT_DISTINCT,
    SQ_AGG_PERCENTILE,     /* APPROX_PERCENTILE(x, p): pct.c's sketch */
    SQ_AGG_PERCENTILE_CONT /* PERCENTILE_CONT(p) WITHIN GROUP (ORDER BY x): exact, the values */
} sl_sql_agg_kind_t;

#define SL_SQL_DISTINCT_MAX 256 /* values one COUNT(DISTINCT) keeps per group and window */
#define SL_SQL_PCTC_MAX     512 /* values one PERCENTILE_CONT keeps per group and window */

/* pct.c: APPROX_PERCENTILE's sketch (a fixed-size, mergeable log histogram; 1% relative error,
 * see there). SL_SQL_PCT_BYTES of zeroes are an empty sketch. */
#define SL_SQL_PCT_BUCKETS 1024
#define SL_SQL_PCT_BYTES   (48 + 2 * SL_SQL_PCT_BUCKETS * 4)
/* Adds v; false (nothing changed) when v is not finite or its bucket's count is full (2^32-1). */
bool sl_sql_pct_add(uint8_t *st, double v);
/* Adds every count of `from` into `into` (a full bucket stays full). */
void sl_sql_pct_merge(uint8_t *into, const uint8_t *from);
/* The estimate of the value of rank floor(p (n - 1)) (0-based) of the n values added; n > 0. */
double sl_sql_pct_value(const uint8_t *st, double p);

typedef struct sl_sql_agg {
    sl_sql_agg_kind_t kind;
    double pct;         /* APPROX_PERCENTILE's p, in [0, 1] */
    sl_sql_expr_t *arg; /* over the input slots; NULL for COUNT(*) */
    sl_sql_type_t type; /* the result's type */
    size_t off;         /* offset of its state in the group's state */
} sl_sql_agg_t;

typedef enum sl_sql_wkind { SQ_W_NONE = 0, SQ_W_TUMBLE, SQ_W_HOP, SQ_W_SESSION } sl_sql_wkind_t;

/* One source per topic in a builder: the queries reading it share its node and decode, once per
 * record, the union of the slots they use. */
typedef struct sl_sql_plan {
    sl_stream_builder_t *b;
    const char *topic;
    sl_stream_node_t *node;
    sl_sql_path_t *paths;
    size_t n_paths, cap;
    int ts_slot;
    bool table;                       /* the node is an sl_stream_table */
    bool sub;                         /* the node is a subquery's result: rows made in-process, each
                                       * output column in binary form (sl_sql_enc_val), not JSON */
    const struct sl_sql_query *sub_q; /* that subquery */
    int *sub_col;                     /* path -> the subquery's output column it reads */
    const sl_sql_stream_t *def;       /* the stream whose time rules the node took */
    struct sl_sql_decoder *dec;       /* over paths, made again whenever a query adds slots */
    bool *read;                       /* path -> some expression reads its value (not only a
                                       * SELECT passing the column through: see project) */
    bool read_all;                    /* every slot is read (joins, windows, tables) */
    struct sl_sql_plan *next;
} sl_sql_plan_t;

struct sl_sql_query {
    sl_sql_item_t *items;
    const char *from;
    int from_line, from_col;
    sl_sql_expr_t *where, *having;
    sl_sql_elist_t *group;
    sl_sql_emit_t emit;
    sl_sql_from_t *join; /* a join (from->n == 2), else NULL */
    sl_sql_query_t *sub; /* FROM (SELECT ...) AS alias: the subquery (a windowed GROUP BY) whose
                          * output rows this query reads; src is then a stream made of its
                          * output columns, named after the alias, with no topic */
    /* filled by check.c */
    const sl_sql_stream_t *src;
    const sl_sql_stream_t *rsrc;  /* a join's right relation (src is the left one) */
    const char *alias[2];         /* the names the relations go by (alias, else the name) */
    int key_slot[2];              /* a join: the slots of the ON columns of each side */
    int64_t within_ms, grace_ms;  /* a windowed join (within_ms >= 0), else within_ms = -1 */
    bool rekey[2];                /* a join side re-keyed by its ON column (not its record key) */
    sl_sql_expr_t *side_where[2]; /* a join: WHERE conjuncts over one re-keyed side only, run
                                   * on that side before the join (NULL: none) */
    int wtime_slot;               /* a window over a join: the input slot of its time column */
    sl_sql_path_t *paths;         /* input slots, decoded from each record */
    size_t n_paths;
    sl_sql_expr_t **out; /* output expressions (over input slots, or post slots when grouped) */
    const char **out_names;
    sl_sql_out_t *out_keys; /* set when compiled: each output's JSON key text `,"name":` */
    int *out_pass;          /* set when compiled: each output's key in its plan's decoder when
                             * it is a top-level input column passed through, else -1 */
    size_t n_out;
    bool grouped;
    bool sub_out;         /* a subquery's: result rows are its output values in binary form */
    sl_sql_expr_t **keys; /* GROUP BY key expressions over input slots (window call excluded) */
    sl_sql_type_t *key_types;
    size_t n_keys;
    sl_sql_agg_t *aggs;
    size_t n_aggs;
    size_t state_bytes;
    bool count_only;   /* set when compiled: every aggregate is COUNT(*) (a step is increments) */
    bool acc_in_place; /* set when compiled: no aggregate's step can fail (no copy to undo) */
    sl_sql_wkind_t wkind;
    int64_t size_ms, slide_ms, gap_ms;
    int ws_slot, we_slot; /* post slots of window_start / window_end */
    size_t n_post;        /* post slots: keys, then aggregates, then window bounds */
    int ts_slot;          /* the input slot of the stream's timestamp column, or -1 */
    const char *sink_topic;
    sl_sql_plan_t *plan;         /* set when compiled: input slots index plan->paths */
    sl_sql_plan_t *side_plan[2]; /* a join: each side's source (or table) */
    int *side_map;               /* a join: input slot -> its side plan's slot */
};

/* jscan.c: JSON without a tree. A value is its text in the document (p NULL: absent). */
typedef struct sl_sql_jval {
    const char *p;
    size_t n;
    uint8_t flags; /* SL_SQL_JV_*: what the scan learnt of a top-level member's value */
} sl_sql_jval_t;
#define SL_SQL_JV_KNOWN 1 /* the flags below are known: ESC for a string, REAL for a number */
#define SL_SQL_JV_ESC   2 /* a string with escapes */
#define SL_SQL_JV_REAL  4 /* a number with a fraction or an exponent */
/* Checks that doc is one valid JSON object (as strictly as Jansson's json_loadb) and sets
 * vals[i] to the value of its top-level member keys[i] (key_lens[i] bytes; the last one when a
 * key repeats; p NULL when absent). false when doc is not a valid JSON object. */
bool sl_sql_json_scan(const char *doc, size_t len, const char *const *keys, const size_t *key_lens,
                      size_t n_keys, sl_sql_jval_t *vals);
/* Inside a value the scan checked: member `key` of an object (false: not an object, or no such
 * member), element idx of an array (false: not an array, or too short), the length of an array
 * (-1: not an array), a string token's characters (unescaped into mem when it has escapes, else
 * a view of the document). */
bool sl_sql_json_member(sl_sql_jval_t v, const char *key, size_t kn, sl_sql_jval_t *out);
bool sl_sql_json_element(sl_sql_jval_t v, int64_t idx, sl_sql_jval_t *out);
int64_t sl_sql_json_count(sl_sql_jval_t v);
const char *sl_sql_json_string(sl_sql_jval_t v, sl_sql_scratch_t *mem, size_t *n);
size_t sl_sql_utf8_put(uint32_t cp, char *out); /* cp as UTF-8 into out (4 bytes); its length */

/* eval.c */
typedef struct sl_sql_eval {
    const sl_sql_val_t *row; /* the slots */
    sl_sql_scratch_t *mem;
    const char *err; /* set when evaluation fails (overflow, division by zero, bad cast) */
    int err_line, err_col;
} sl_sql_eval_t;
/* Evaluates e; false with ev->err set on a run-time error. */
bool sl_sql_eval(sl_sql_eval_t *ev, const sl_sql_expr_t *e, sl_sql_val_t *out);
/* How to decode a list of slots: their distinct top-level keys, found in one scan. Built once
 * per list of paths (sl_sql_decoder_init; the paths must outlive it). */
typedef struct sl_sql_decoder {
    const sl_sql_path_t *paths;
    size_t n_paths;
    const char **keys; /* distinct first steps */
    size_t *key_lens;
    size_t n_keys;
    int *key_of; /* path -> its key (-1: a path with no steps) */
    bool *lazy;  /* path -> a top-level column only ever copied from raw (sl_sql_json_raw_ok):
                  * when raw is wanted, its type is checked but its slot is left NULL until
                  * sl_sql_decode_slot (all false after sl_sql_decoder_init) */
} sl_sql_decoder_t;
void sl_sql_decoder_init(sl_sql_decoder_t *d, const sl_sql_path_t *paths, size_t n_paths);
void sl_sql_decoder_fini(sl_sql_decoder_t *d);
/* Decodes the input slots from one JSON document into row (n_paths values); strings view the
 * document, or mem when they had escapes. A document that starts with the 24-byte `sluice
 * bench` header ("SLB1") is read from byte 24. raw (NULL: not wanted; else n_keys entries) gets
 * the text of each top-level key's value (see sl_sql_json_raw_ok). false: not a valid JSON
 * object, or a value of the wrong type (message in *why). */
bool sl_sql_decode_with(const sl_sql_decoder_t *d, const char *doc, size_t len,
                        sl_sql_scratch_t *mem, sl_sql_val_t *row, sl_sql_jval_t *raw,
                        const char **why);
/* Decodes slot i from the scanned top-level values (a lazy slot, when raw will not do). */
bool sl_sql_decode_slot(const sl_sql_decoder_t *d, size_t i, const sl_sql_jval_t *top,
                        sl_sql_scratch_t *mem, sl_sql_val_t *v);
/* The same with a decoder made for the call (tests, tools). */
bool sl_sql_decode(const sl_sql_path_t *paths, size_t n_paths, const char *doc, size_t len,
                   sl_sql_scratch_t *mem, sl_sql_val_t *row, const char **why);
/* Appends v (of type t) as JSON text to mem's buffer via the append callback. */
struct sl_sql_out {
    char *p;
    size_t len, cap;
};
void sl_sql_out_json(sl_sql_out_t *o, sl_sql_type_t t, const sl_sql_val_t *v);
void sl_sql_out_text(sl_sql_out_t *o, sl_sql_type_t t, const sl_sql_val_t *v); /* unquoted */
void sl_sql_out_raw(sl_sql_out_t *o, const char *s, size_t n);
/* Whether the scanned text j of a top-level value of type t is byte for byte what
 * sl_sql_out_json writes for its decoded value (a string without escapes, an integer other than
 * -0, a boolean, null): a column passed through unchanged is then copied, not decoded and
 * written again. Inline: asked for every such column of every row. */
static inline bool sl_sql_json_raw_ok(sl_sql_base_t t, const sl_sql_jval_t *j) {
    if (!j->p || !j->n || !(j->flags & SL_SQL_JV_KNOWN)) {
        return false;
    }
    char c = j->p[0];
    switch (t) {
    case SQ_VARCHAR: /* no escapes: no quote, backslash or control character inside either */
        return c == 'n' || (c == '"' && !(j->flags & SL_SQL_JV_ESC));
    case SQ_INT:
    case SQ_BIGINT:
    case SQ_TIMESTAMP: /* an integer: JSON has no leading zeroes, so only -0 reads otherwise */
        return c == 'n' || ((c == '-' || (c >= '0' && c <= '9')) && !(j->flags & SL_SQL_JV_REAL) &&
                            !(j->n == 2 && c == '-' && j->p[1] == '0'));
    case SQ_BOOL:
        return c == 't' || c == 'f' || c == 'n';
    default:
        return c == 'n';
    }
}
void sl_sql_out_free(sl_sql_out_t *o);
/* Compact binary encoding of typed values (repartition keys and values). */
void sl_sql_enc_val(sl_sql_out_t *o, sl_sql_type_t t, const sl_sql_val_t *v);
bool sl_sql_dec_val(const uint8_t **p, const uint8_t *end, sl_sql_type_t t, sl_sql_val_t *v);
/* Timestamps: parse 'YYYY-MM-DD[ T]HH:MM:SS[.fff][Z]' as UTC, and format. */
bool sl_sql_parse_ts(const char *s, size_t n, int64_t *ms);
size_t sl_sql_format_ts(int64_t ms, char *buf, size_t len);

/* Function ids for checked CALL nodes. */
enum {
    SQ_F_UPPER = 1,
    SQ_F_LOWER,
    SQ_F_SUBSTRING,
    SQ_F_CONCAT,
    SQ_F_LENGTH,
    SQ_F_TRIM,
    SQ_F_COALESCE,
    SQ_F_ABS,
    SQ_F_TO_TIMESTAMP_LTZ,
    SQ_F_UNIX_TIMESTAMP,
    SQ_F_FROM_UNIXTIME,
    SQ_F_CARDINALITY,
};

#endif

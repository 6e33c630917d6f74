/* test_sql.c -- the SQL front end: parser and checker errors (message and position), expression
 * evaluation against a table of cases (NULL semantics, CASE, CAST, string and time functions,
 * overflow and division by zero), JSON decoding of nested fields and arrays, and the graphs
 * queries compile to. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "sql/sql_int.h"

static const char *ddl =
    "CREATE STREAM ev (user VARCHAR, kind VARCHAR, amount DOUBLE, qty INT, big BIGINT,\n"
    "  price DECIMAL(10,2), ok BOOLEAN, ts TIMESTAMP, geo ROW(city VARCHAR, zip INT),\n"
    "  tags ARRAY<VARCHAR>)\n"
    "  WITH (topic='events', timestamp='ts', watermark_delay='2s', late_topic='ev_late');\n"
    "CREATE TABLE users (uid VARCHAR, name VARCHAR, tier INT, PRIMARY KEY (uid))\n"
    "  WITH (topic='users');\n"
    "CREATE STREAM clicks (user VARCHAR, ad BIGINT, ts BIGINT, cost DOUBLE)\n"
    "  WITH (topic='clicks', timestamp='ts')";

static sl_sql_catalog_t *catalog(void) {
    sl_sql_catalog_t *c = sl_sql_catalog_new();
    char err[SL_ERRLEN];
    sl_sql_stmt_t *s = sl_sql_parse(c, ddl, err, sizeof err);
    if (!s) {
        fprintf(stderr, "ddl: %s\n", err);
        abort();
    }
    sl_sql_stmts_free(s);
    return c;
}

/* Each bad statement and the start of its error: line, column and message. */
static const struct {
    const char *sql, *err;
} bad[] = {
    {"SELEC user FROM ev", "line 1, column 1: syntax error at 'SELEC'"},
    {"SELECT user FROM", "line 1, column 17: syntax error at end of input, expected a name"},
    {"SELECT user,, kind FROM ev", "line 1, column 13: syntax error at ','"},
    {"SELECT nope FROM ev", "line 1, column 8: unknown column 'nope' in stream 'ev'"},
    {"SELECT user FROM nowhere", "line 1, column 18: unknown stream 'nowhere'"},
    {"SELECT user\nFROM ev WHERE qty + 'x' > 1",
     "line 2, column 15: + expects numbers, got INT and VARCHAR"},
    {"SELECT user FROM ev WHERE qty", "line 1, column 27: WHERE expects BOOLEAN, got INT"},
    {"SELECT upper(qty) FROM ev", "line 1, column 14: upper expects VARCHAR, got INT"},
    {"SELECT frob(qty) FROM ev", "line 1, column 8: unknown function 'frob'"},
    {"SELECT user, count(*) FROM ev GROUP BY kind", "line 1, column 8: 'user' must be in GROUP BY"},
    {"SELECT kind FROM ev WHERE count(*) > 1",
     "line 1, column 27: aggregates are not allowed in WHERE"},
    {"SELECT kind, count(*) FROM ev GROUP BY kind, TUMBLE(amount, INTERVAL '10' SECOND)",
     "line 1, column 53: the window's time column must be the stream's timestamp column 'ts'"},
    {"SELECT kind, count(*) FROM ev GROUP BY kind, TUMBLE(ts, 10)",
     "line 1, column 57: tumble expects a positive INTERVAL literal"},
    {"SELECT kind, count(*) FROM ev GROUP BY kind EMIT FINAL", "EMIT FINAL needs a window"},
    {"SELECT geo.town FROM ev", "line 1, column 8: ROW has no field 'town'"},
    {"SELECT tags[0] FROM ev",
     "line 1, column 13: an array index must be an integer literal from 1"},
    {"SELECT geo FROM ev", "line 1, column 8: a ROW value cannot be used here"},
    {"SELECT CAST(ok AS TIMESTAMP) FROM ev", "line 1, column 8: cannot CAST BOOLEAN to TIMESTAMP"},
    {"SELECT qty AS a, kind AS a FROM ev", "line 1, column 18: duplicate output column 'a'"},
    {"SELECT 'abc FROM ev", "line 1, column 8: unterminated string"},
    {"SELECT qty FROM ev WHERE ts > INTERVAL '5' FORTNIGHT",
     "line 1, column 44: unknown INTERVAL unit"},
    {"SELECT x FROM ev WHERE ts > TIMESTAMP '2024-13-01 00:00:00'",
     "line 1, column 39: malformed TIMESTAMP literal"},
    {"CREATE STREAM s2 (a INT) WITH (topic='t', colour='red')",
     "line 1, column 43: unknown option 'colour'"},
    {"CREATE STREAM s2 (a FLOAT8) WITH (topic='t')", "line 1, column 21: unknown type 'FLOAT8'"},
    {"CREATE STREAM s2 (a INT) WITH (timestamp='a')",
     "line 1, column 32: timestamp column 'a' must be TIMESTAMP or BIGINT"},
    {"CREATE STREAM ev (a INT)", "line 1, column 1: stream 'ev' already exists"},
    {"INSERT INTO nowhere SELECT qty FROM ev", "line 1, column 1: unknown stream 'nowhere'"},
    {"SELECT CASE WHEN qty THEN 1 END FROM ev", "line 1, column 18: WHEN expects BOOLEAN, got INT"},
    {"SELECT CASE WHEN ok THEN 1 ELSE 'x' END FROM ev",
     "line 1, column 33: CASE results must have one type"},
    {"SELECT kind, sum(kind) FROM ev GROUP BY kind",
     "line 1, column 14: SUM expects a number, got VARCHAR"},
    {"SELECT kind, count(DISTINCT kind), min(count(*)) FROM ev GROUP BY kind",
     "line 1, column 40: aggregate count(...) is not allowed inside another aggregate"},
    {"SELECT * , count(*) FROM ev", "line 1, column 8: SELECT * is not allowed with GROUP BY"},
    /* subqueries in FROM */
    {"SELECT n FROM (SELECT kind, COUNT(*) AS n FROM ev GROUP BY kind) AS c",
     "line 1, column 15: a subquery in FROM must be a GROUP BY with a TUMBLE or HOP window"},
    {"SELECT n FROM (SELECT kind, COUNT(*) AS n FROM ev GROUP BY kind, "
     "TUMBLE(ts, INTERVAL '10' SECOND) EMIT CHANGES) AS c",
     "line 1, column 15: a subquery in FROM must be a GROUP BY with a TUMBLE or HOP window"},
    {"SELECT COUNT(*) FROM (SELECT kind, window_start AS ws, COUNT(*) AS n FROM ev "
     "GROUP BY kind, TUMBLE(ts, INTERVAL '10' SECOND)) AS c GROUP BY TUMBLE(n, INTERVAL '1' "
     "MINUTE)",
     "line 1, column 148: the window's time column must be the subquery's window_start or "
     "window_end column"},
    {"SELECT COUNT(*) FROM (SELECT kind, COUNT(*) AS n FROM ev "
     "GROUP BY kind, TUMBLE(ts, INTERVAL '10' SECOND)) c GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)",
     "line 1, column 125: unknown column 'ts' in stream 'c'"},
    {"SELECT c.nope FROM (SELECT kind, COUNT(*) AS n FROM ev "
     "GROUP BY kind, TUMBLE(ts, INTERVAL '10' SECOND)) c",
     "line 1, column 8: unknown column 'nope' in stream 'c'"},
    {"SELECT n FROM (SELECT kind,\n SUM(nope) AS s, COUNT(*) AS n FROM ev "
     "GROUP BY kind, TUMBLE(ts, INTERVAL '10' SECOND)) c",
     "line 2, column 6: unknown column 'nope' in stream 'ev'"},
    {"SELECT n FROM (SELECT kind, COUNT(*) AS n FROM ev "
     "GROUP BY kind, TUMBLE(ts, INTERVAL '10' SECOND))",
     "syntax error at end of input, expected"},
    {"SELECT e.qty FROM ev e JOIN (SELECT user, COUNT(*) AS n FROM ev "
     "GROUP BY user, TUMBLE(ts, INTERVAL '10' SECOND)) c WITHIN INTERVAL '1' SECOND "
     "ON e.user = c.user",
     "line 1, column 29: a subquery in FROM cannot be joined (yet)"},
    {"SELECT COUNT(*) FROM (SELECT kind, window_start AS ws, COUNT(*) AS n FROM ev "
     "GROUP BY kind, TUMBLE(ts, INTERVAL '10' SECOND)) AS c GROUP BY SESSION(ws, INTERVAL '1' "
     "MINUTE)",
     "line 1, column 141: a window over a subquery is TUMBLE or HOP"},
    /* APPROX_PERCENTILE */
    {"SELECT kind, approx_percentile(kind, 0.5) FROM ev GROUP BY kind",
     "line 1, column 32: APPROX_PERCENTILE expects a number, got VARCHAR"},
    {"SELECT kind, approx_percentile(qty) FROM ev GROUP BY kind",
     "line 1, column 14: APPROX_PERCENTILE takes two arguments: a number and a percentile"},
    {"SELECT kind,\n approx_percentile(qty, 1.5) FROM ev GROUP BY kind",
     "line 2, column 25: APPROX_PERCENTILE's percentile must be a number literal from 0 to 1"},
    {"SELECT kind, approx_percentile(qty, big) FROM ev GROUP BY kind",
     "line 1, column 37: APPROX_PERCENTILE's percentile must be a number literal from 0 to 1"},
    {"SELECT approx_percentile(qty, 0.5) FROM ev WHERE approx_percentile(qty, 0.5) > 1",
     "line 1, column 50: aggregates are not allowed in WHERE"},
    {"SELECT kind, approx_percentile(max(qty), 0.5) FROM ev GROUP BY kind",
     "line 1, column 32: aggregate max(...) is not allowed inside another aggregate"},
    {"SELECT qty FROM ev; SELECT nope FROM ev", "line 1, column 28: unknown column 'nope'"},
    /* tables and joins */
    {"CREATE TABLE t2 (a INT, b INT, PRIMARY KEY (c))",
     "line 1, column 45: PRIMARY KEY: unknown column 'c'"},
    {"CREATE TABLE t2 (a DOUBLE, PRIMARY KEY (a))", "line 1, column 41: PRIMARY KEY 'a' is DOUBLE"},
    {"CREATE TABLE t2 (a INT, b INT, PRIMARY KEY (a)) WITH (key='b')",
     "the key option ('b') and the PRIMARY KEY ('a') differ"},
    {"SELECT name FROM users", "line 1, column 18: 'users' is a table: it can only be joined"},
    {"INSERT INTO users SELECT user AS uid FROM ev",
     "line 1, column 1: 'users' is a table: INSERT INTO writes streams"},
    {"SELECT e.qty FROM ev e JOIN nowhere n ON e.user = n.user",
     "line 1, column 29: unknown stream or table 'nowhere'"},
    {"SELECT e.qty FROM ev e JOIN users u ON e.user = u.name",
     "line 1, column 49: table 'users' joins on its PRIMARY KEY 'uid' only, not on 'name'"},
    {"SELECT e.qty FROM ev e JOIN users u ON e.qty = u.uid",
     "line 1, column 40: join keys of different types: INT and VARCHAR"},
    {"SELECT e.qty FROM ev e JOIN clicks c WITHIN INTERVAL '1' SECOND ON e.amount = c.cost",
     "line 1, column 68: join keys of different types: DOUBLE and DOUBLE"},
    {"SELECT user FROM ev e JOIN clicks c WITHIN INTERVAL '1' SECOND ON e.user = c.user",
     "line 1, column 8: column 'user' is ambiguous: both 'e' and 'c' have it (write e.user)"},
    {"SELECT e.nope FROM ev e JOIN users u ON e.user = u.uid",
     "line 1, column 8: unknown column 'nope' in stream 'ev'"},
    {"SELECT u.nope FROM ev e JOIN users u ON e.user = u.uid",
     "line 1, column 8: unknown column 'nope' in table 'users'"},
    {"SELECT e.qty FROM ev e JOIN clicks c ON e.user = c.user",
     "line 1, column 24: a stream-stream JOIN needs WITHIN"},
    {"SELECT e.qty FROM ev e JOIN users u WITHIN INTERVAL '1' SECOND ON e.user = u.uid",
     "line 1, column 37: WITHIN is for stream-stream joins"},
    {"SELECT e.qty FROM ev e JOIN clicks c WITHIN 5 ON e.user = c.user",
     "line 1, column 45: WITHIN expects an INTERVAL literal"},
    {"SELECT e.qty FROM ev e FULL OUTER JOIN users u ON e.user = u.uid",
     "line 1, column 35: a stream-table JOIN is INNER or LEFT"},
    {"SELECT e.qty FROM users u JOIN ev e ON e.user = u.uid",
     "line 1, column 19: the left side of a JOIN must be a stream"},
    {"SELECT e.qty FROM ev e JOIN users e ON e.user = e.uid",
     "line 1, column 29: both sides of the JOIN are named 'e'"},
    {"SELECT e.qty FROM ev e JOIN users u ON e.user = e.kind",
     "line 1, column 40: ON must compare a column of 'e' with one of 'u'"},
    {"SELECT e.qty FROM ev e JOIN users u ON e.user = u.uid AND e.qty > 1",
     "line 1, column 40: ON must be one equality"},
    {"SELECT e.qty FROM ev e JOIN users u ON upper(e.user) = u.uid",
     "line 1, column 40: ON compares columns"},
    {"SELECT count(*) FROM ev e JOIN users u ON e.user = u.uid "
     "GROUP BY SESSION(e.ts, INTERVAL '1' SECOND)",
     "line 1, column 67: a window over a JOIN's output is TUMBLE or HOP"},
    {"SELECT count(*) FROM ev e JOIN users u ON e.user = u.uid "
     "GROUP BY TUMBLE(e.user, INTERVAL '1' SECOND)",
     "line 1, column 74: the window's time column must be a TIMESTAMP or BIGINT (epoch ms) "
     "column, got VARCHAR"},
    {"SELECT count(*) FROM ev e JOIN users u ON e.user = u.uid "
     "GROUP BY TUMBLE(e.ts + INTERVAL '1' SECOND, INTERVAL '1' SECOND)",
     "line 1, column 74: the window's time column must be a column of one side of the JOIN"},
    {"SELECT count(*) FROM ev e JOIN users u ON e.user = u.uid "
     "GROUP BY TUMBLE(u.nope, INTERVAL '1' SECOND)",
     "line 1, column 74: unknown column 'nope' in table 'users'"},
    {"SELECT * FROM ev e JOIN clicks c WITHIN INTERVAL '1' SECOND ON e.user = c.user",
     "line 1, column 8: SELECT * gives two columns named 'user'"},
    {"CREATE STREAM kd (a INT, b INT) WITH (topic='kd', key='a');\n"
     "SELECT x.b FROM kd x JOIN kd y WITHIN INTERVAL '1' SECOND ON x.a = y.a",
     "line 2, column 62: both sides read topic 'kd' and are keyed by their record key"},
    {"SELECT e.qty FROM ev e LEFT JOIN users u e.user = u.uid",
     "line 1, column 42: syntax error at 'e'"},
};

TEST(sql_deep_expressions_are_refused_not_recursed) {
    static char sql[100000];
    size_t at = (size_t)snprintf(sql, sizeof sql, "SELECT qty");
    for (int i = 0; i < 20000; i++) {
        at += (size_t)snprintf(sql + at, sizeof sql - at, " + 1");
    }
    snprintf(sql + at, sizeof sql - at, " AS v FROM ev");
    sl_sql_catalog_t *c = catalog();
    char err[SL_ERRLEN];
    sl_sql_stmt_t *s = sl_sql_parse(c, sql, err, sizeof err);
    sl_sql_stmts_free(s);
    sl_sql_catalog_free(c);
    CHECK(!s);
    CHECK(strstr(err, "line 1, column 8: expression nested too deeply") != NULL);
    c = catalog();
    s = sl_sql_parse(c,
                     "SELECT ((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((("
                     "((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((("
                     "(((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((1",
                     err, sizeof err);
    sl_sql_stmts_free(s);
    sl_sql_catalog_free(c);
    CHECK(!s);
    CHECK(strstr(err, "statement nested too deeply") != NULL);
}

TEST(sql_bad_statements_name_line_column_and_reason) {
    for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++) {
        sl_sql_catalog_t *c = catalog();
        char err[SL_ERRLEN];
        sl_sql_stmt_t *s = sl_sql_parse(c, bad[i].sql, err, sizeof err);
        if (s || !strstr(err, bad[i].err)) {
            fprintf(stderr, "  %s\n    got:  %s\n    want: %s\n", bad[i].sql,
                    s ? "(accepted)" : err, bad[i].err);
        }
        sl_sql_stmts_free(s);
        sl_sql_catalog_free(c);
        CHECK(!s);
        CHECK(strstr(err, bad[i].err) != NULL);
    }
}

static const char *doc =
    "{\"user\":\"Ann\",\"kind\":\"  buy \",\"amount\":12.5,\"qty\":3,\"big\":9223372036854775807,"
    "\"price\":\"19.99\",\"ok\":true,\"ts\":1700000000123,\"geo\":{\"city\":\"Oslo\",\"zip\":150},"
    "\"tags\":[\"a\",\"bb\"],\"nul\":null}";

/* Evaluates `expr` over doc; the JSON text of the result, or "error: <message>". */
static void eval1(const char *expr, char *out, size_t len) {
    sl_sql_catalog_t *c = catalog();
    char sql[512], err[SL_ERRLEN];
    snprintf(sql, sizeof sql, "SELECT %s AS v FROM ev", expr);
    sl_sql_stmt_t *s = sl_sql_parse(c, sql, err, sizeof err);
    if (!s) {
        snprintf(out, len, "check: %s", err);
        sl_sql_catalog_free(c);
        return;
    }
    sl_sql_val_t row[32];
    sl_sql_scratch_t mem = {0};
    const char *why = NULL;
    if (!sl_sql_decode(s->q->paths, s->q->n_paths, doc, strlen(doc), &mem, row, &why)) {
        snprintf(out, len, "decode: %s", why);
    } else {
        sl_sql_eval_t ev = {.row = row, .mem = &mem};
        sl_sql_val_t v;
        if (!sl_sql_eval(&ev, s->q->out[0], &v)) {
            snprintf(out, len, "error: %s", ev.err);
        } else {
            sl_sql_out_t o = {0};
            sl_sql_out_json(&o, s->q->out[0]->type, &v);
            snprintf(out, len, "%s", o.p);
            sl_sql_out_free(&o);
        }
    }
    sl_sql_scratch_fini(&mem);
    sl_sql_stmts_free(s);
    sl_sql_catalog_free(c);
}

static const struct {
    const char *expr, *want;
} cases[] = {
    /* arithmetic and types */
    {"qty + 1", "4"},
    {"qty * amount", "37.5"},
    {"qty / 2", "1"},
    {"qty % 2", "1"},
    {"amount / 4", "3.125"},
    {"price + 1", "20.99"},
    {"price * 2", "39.98"},
    {"price * price", "399.6001"},
    {"-qty", "-3"},
    {"big + 1", "error: BIGINT overflow"},
    {"qty * 1000000000", "error: INT overflow"},
    {"qty / 0", "error: division by zero"},
    {"amount / 0", "error: division by zero"},
    {"2147483647 + 1", "error: INT overflow"},
    /* NULL semantics */
    {"qty + NULL", "null"},
    {"NULL = NULL", "null"},
    {"NULL AND FALSE", "false"},
    {"NULL AND TRUE", "null"},
    {"NULL OR TRUE", "true"},
    {"NOT (qty > NULL)", "null"},
    {"geo.city IS NULL", "false"},
    {"NULL IS NULL", "true"},
    {"COALESCE(NULL, qty, 7)", "3"},
    {"COALESCE(NULL, amount, qty)", "12.5"},
    {"COALESCE(NULL, qty, amount)", "3"},
    {"upper(NULL)", "null"},
    /* comparisons */
    {"qty = 3.0", "true"},
    {"price > 19.98", "true"},
    {"user < 'Bob'", "true"},
    {"ts > TIMESTAMP '2023-11-14 22:13:20'", "true"},
    {"ok AND qty >= 3", "true"},
    /* CASE */
    {"CASE WHEN qty > 2 THEN 'many' ELSE 'few' END", "\"many\""},
    {"CASE qty WHEN 1 THEN 'one' WHEN 3 THEN 'three' END", "\"three\""},
    {"CASE WHEN qty > 5 THEN 'x' END", "null"},
    {"CASE WHEN ok THEN qty ELSE amount END", "3"},
    {"CASE WHEN ok THEN 1 ELSE 2.5 END", "1.0"}, /* 2.5 is DECIMAL(2,1) */
    /* a literal with a point is an exact DECIMAL (standard SQL, Flink); an exponent: DOUBLE */
    {"0.1 + 0.2", "0.3"},
    {"0.908 * qty", "2.724"},
    {"qty * 1.50", "4.50"},
    {"007.250", "7.250"},
    {"-1.25 * 2", "-2.50"},
    {"0.5 * amount", "6.25"}, /* DECIMAL with DOUBLE: DOUBLE */
    {"2e3 + 0.5", "2000.5"},
    {"1234567890.123456789", "1234567890.1234567"}, /* 19 digits: DOUBLE */
    /* CAST */
    {"CAST(qty AS VARCHAR)", "\"3\""},
    {"CAST('42' AS INT) + 1", "43"},
    {"CAST('4x' AS INT)", "error: CAST failed: not a number of that type"},
    {"CAST(amount AS INT)", "12"},
    {"CAST(amount AS DECIMAL(8,1))", "12.5"},
    {"CAST(price AS DOUBLE)", "19.99"},
    {"CAST('true' AS BOOLEAN)", "true"},
    {"CAST(ts AS BIGINT)", "1700000000123"},
    {"CAST(ts AS VARCHAR)", "\"2023-11-14 22:13:20.123\""},
    {"CAST('2024-02-29 12:00:00' AS TIMESTAMP)", "1709208000000"},
    /* strings */
    {"upper(user) || '!'", "\"ANN!\""},
    {"lower(user)", "\"ann\""},
    {"trim(kind)", "\"buy\""},
    {"length(user)", "3"},
    {"substring(user, 2)", "\"nn\""},
    {"substring(user, 1, 2)", "\"An\""},
    {"substring(user, 9)", "\"\""},
    {"concat(user, '-', geo.city)", "\"Ann-Oslo\""},
    {"user || NULL", "null"},
    /* time */
    {"UNIX_TIMESTAMP(ts)", "1700000000"},
    {"TO_TIMESTAMP_LTZ(1700000000, 0)", "1700000000000"},
    {"TO_TIMESTAMP_LTZ(big - big + 5, 3)", "5"},
    {"FROM_UNIXTIME(86400)", "\"1970-01-02 00:00:00\""},
    {"ts + INTERVAL '1' MINUTE", "1700000060123"},
    {"ts - INTERVAL '2' SECOND", "1700000000123" /* replaced below */},
    /* nested JSON and arrays */
    {"geo.zip + 1", "151"},
    {"geo['city']", "\"Oslo\""},
    {"ev.geo.city", "\"Oslo\""},
    {"tags[2]", "\"bb\""},
    {"tags[3]", "null"},
    {"CARDINALITY(tags)", "2"},
};

TEST(sql_expression_cases) {
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        char got[256];
        eval1(cases[i].expr, got, sizeof got);
        const char *want = cases[i].want;
        if (!strcmp(cases[i].expr, "ts - INTERVAL '2' SECOND")) {
            want = "1699999998123";
        }
        if (strcmp(got, want)) {
            fprintf(stderr, "  %s\n    got:  %s\n    want: %s\n", cases[i].expr, got, want);
        }
        CHECK(!strcmp(got, want));
    }
}

TEST(sql_decode_refuses_mistyped_fields) {
    sl_sql_catalog_t *c = catalog();
    char err[SL_ERRLEN];
    sl_sql_stmt_t *s = sl_sql_parse(c, "SELECT qty FROM ev", err, sizeof err);
    CHECK(s != NULL);
    sl_sql_val_t row[8];
    sl_sql_scratch_t mem = {0};
    const char *why = NULL;
    const char *d1 = "{\"qty\":\"three\",\"ts\":1}", *d2 = "[1,2]", *d3 = "{\"ts\":5}";
    bool ok1 = sl_sql_decode(s->q->paths, s->q->n_paths, d1, strlen(d1), &mem, row, &why);
    bool ok2 = sl_sql_decode(s->q->paths, s->q->n_paths, d2, strlen(d2), &mem, row, &why);
    bool ok3 = sl_sql_decode(s->q->paths, s->q->n_paths, d3, strlen(d3), &mem, row, &why);
    CHECK(s->q->n_paths == 2); /* qty and the timestamp: nothing else is decoded */
    sl_sql_stmts_free(s);
    sl_sql_catalog_free(c);
    CHECK(!ok1 && !ok2);
    CHECK(ok3 && row[1].null && row[0].i == 5); /* a missing field is NULL */
}

/* `make run`'s SQL query reads the demo topic: `sluice bench` records, a 24-byte binary header
 * ("SLB1", producer, sequence, send time) and then the JSON object. */
TEST(sql_decode_skips_the_bench_header) {
    sl_sql_catalog_t *c = catalog();
    char err[SL_ERRLEN], rec[64] = "SLB1\x01\x02\x03\x04\x05\x06\x07\x08{\x0a\x0b\x0c";
    const char *json = "{\"qty\":7,\"ts\":9}";
    memcpy(rec + 24, json, strlen(json));
    size_t n = 24 + strlen(json);
    sl_sql_stmt_t *s = sl_sql_parse(c, "SELECT qty FROM ev", err, sizeof err);
    CHECK(s != NULL);
    sl_sql_val_t row[8];
    sl_sql_scratch_t mem = {0};
    const char *why = NULL;
    bool ok = sl_sql_decode(s->q->paths, s->q->n_paths, rec, n, &mem, row, &why);
    bool shifted = sl_sql_decode(s->q->paths, s->q->n_paths, rec + 1, n - 1, &mem, row, &why);
    sl_sql_stmts_free(s);
    sl_sql_catalog_free(c);
    CHECK(ok && !row[1].null && row[1].i == 7 && row[0].i == 9); /* slot 0 is ts */
    CHECK(!shifted); /* anything else that is not JSON still fails the record */
}

static void explain(const char *sql, char *out, size_t len) {
    sl_sql_catalog_t *c = catalog();
    char err[SL_ERRLEN];
    sl_sql_stmt_t *s = sl_sql_parse(c, sql, err, sizeof err);
    out[0] = 0;
    if (!s) {
        snprintf(out, len, "error: %s", err);
    } else {
        FILE *f = fmemopen(out, len, "w");
        sl_sql_explain(s, f);
        fclose(f);
        sl_stream_builder_t *b = sl_stream_builder_new();
        char e2[SL_ERRLEN];
        if (sl_sql_compile(s, b, NULL, NULL, "tmp-out", e2, sizeof e2) != SL_OK) {
            snprintf(out, len, "compile: %s", e2);
        }
        sl_stream_builder_free(b);
    }
    sl_sql_stmts_free(s);
    sl_sql_catalog_free(c);
}

TEST(sql_compiled_graphs) {
    char g[1024];
    explain("CREATE STREAM big_buys WITH (topic='bb') AS SELECT user, amount * 2 AS a FROM ev "
            "WHERE amount > 10",
            g, sizeof g);
    CHECK(strstr(g, "source  ev (topic 'events', json; 3 slots decoded: ts, amount, user;"));
    CHECK(strstr(g, "map   big_buys-select (WHERE, 2 output columns)"));
    CHECK(strstr(g, "sink  topic 'bb'"));
    CHECK(!strstr(g, "rekey"));
    explain("CREATE STREAM per_kind WITH (topic='pk') AS SELECT kind, window_start, count(*) AS n, "
            "sum(price) AS total, count(DISTINCT user) AS users FROM ev GROUP BY kind, "
            "TUMBLE(ts, INTERVAL '10' SECOND) HAVING count(*) > 1",
            g, sizeof g);
    CHECK(strstr(g, "map   per_kind-prepare (1 key, 3 aggregate arguments)"));
    CHECK(strstr(g, "rekey per_kind-group-by"));
    CHECK(strstr(g, "aggregate per_kind-aggregate (tumbling size 10000 ms, emit final, 3 "
                    "aggregates, 4136 state bytes per group, HAVING)"));
    explain("CREATE STREAM s3 WITH (topic='s3') AS SELECT user, count(*) AS n FROM ev GROUP BY "
            "user, HOP(ts, INTERVAL '5' SECOND, INTERVAL '20' SECOND) EMIT CHANGES",
            g, sizeof g);
    CHECK(strstr(g, "(hopping size 20000 ms slide 5000 ms, emit changes"));
    explain(
        "CREATE STREAM s4 WITH (topic='s4') AS SELECT user, window_end, max(amount) AS m FROM ev "
        "GROUP BY user, SESSION(ts, INTERVAL '30' SECOND)",
        g, sizeof g);
    CHECK(strstr(g, "(session gap 30000 ms, emit final"));
}

/* ---- compiled queries run through stream tasks (no broker) ---- */
#include "stream/graph.h"
#include "stream/task.h"

typedef struct rec_out {
    char topic[64];
    uint8_t key[64], value[256];
    size_t klen, vlen;
    bool null_value;
    int64_t ts;
    char error[160]; /* the sluice.error header of a dead-lettered record */
} rec_out_t;

static rec_out_t ROUT[1024];
static int N_ROUT;

static sl_err_t collect(void *opaque, const char *topic, int32_t partition, sl_bytes_t key,
                        sl_bytes_t value, int64_t ts, const sl_stream_hdr_t *h, size_t nh,
                        const sl_stream_stage_t *stage) {
    (void)opaque, (void)partition, (void)stage;
    if (N_ROUT == (int)SL_ARRAY_LEN(ROUT)) {
        return SL_ERR_IO;
    }
    rec_out_t *o = &ROUT[N_ROUT++];
    memset(o, 0, sizeof *o);
    snprintf(o->topic, sizeof o->topic, "%s", topic);
    o->klen = key.len < sizeof o->key ? key.len : sizeof o->key;
    if (key.p) {
        memcpy(o->key, key.p, o->klen);
    }
    o->vlen = value.len < sizeof o->value - 1 ? value.len : sizeof o->value - 1;
    if (value.p) {
        memcpy(o->value, value.p, o->vlen);
    }
    o->null_value = !value.p;
    o->ts = ts;
    for (size_t i = 0; i < nh; i++) {
        if (!strcmp(h[i].name, "sluice.error")) {
            snprintf(o->error, sizeof o->error, "%.*s", (int)h[i].value.len,
                     (const char *)h[i].value.p);
        }
    }
    return SL_OK;
}

static sl_stream_task_conf_t TCONF = {"app", NULL, SL_STREAM_ON_ERROR_DEAD_LETTER, collect, NULL};

/* Compiles `sql` (after the ddl) into a new builder; the statements in *list. */
static sl_stream_builder_t *compiled(sl_sql_catalog_t *c, const char *sql, sl_sql_stmt_t **list) {
    char err[SL_ERRLEN];
    *list = sl_sql_parse(c, sql, err, sizeof err);
    if (!*list) {
        fprintf(stderr, "  %s\n", err);
        return NULL;
    }
    sl_stream_builder_t *b = sl_stream_builder_new();
    sl_sql_stmt_t *s = *list;
    while (s->next) {
        s = s->next;
    }
    if (sl_sql_compile(s, b, NULL, NULL, "tmp-out", err, sizeof err) != SL_OK) {
        fprintf(stderr, "  %s\n", err);
        sl_stream_builder_free(b);
        return NULL;
    }
    return b;
}

static sl_stream_rec_t jrec(const char *json, int64_t off) {
    return (sl_stream_rec_t){{NULL, 0}, {(const uint8_t *)json, strlen(json)}, 0, "events", 0, off};
}

static int count_topic(const char *topic) {
    int n = 0;
    for (int i = 0; i < N_ROUT; i++) {
        n += !strcmp(ROUT[i].topic, topic);
    }
    return n;
}

static const rec_out_t *find_value(const char *topic, const char *value) {
    for (int i = 0; i < N_ROUT; i++) {
        if (!strcmp(ROUT[i].topic, topic) && !strcmp((const char *)ROUT[i].value, value)) {
            return &ROUT[i];
        }
    }
    return NULL;
}

TEST(sql_select_runs_where_and_projection_in_a_task) {
    N_ROUT = 0;
    sl_sql_catalog_t *c = catalog();
    sl_sql_stmt_t *list;
    sl_stream_builder_t *b =
        compiled(c,
                 "CREATE STREAM out1 WITH (topic='o1') AS SELECT upper(user) AS u, qty * 2 AS q2, "
                 "geo.city AS city FROM ev WHERE qty > 1 AND ok",
                 &list);
    CHECK(b != NULL);
    sl_stream_task_t *t = sl_stream_task_new(b, 0, 0, &TCONF, 0);
    const char *in[] = {
        "{\"user\":\"ann\",\"qty\":3,\"ok\":true,\"ts\":10,\"geo\":{\"city\":\"Oslo\"}}",
        "{\"user\":\"bob\",\"qty\":1,\"ok\":true,\"ts\":11}",
        "{\"user\":\"cy\",\"qty\":5,\"ok\":null,\"ts\":12}",
        "{\"user\":\"di\",\"qty\":\"x\",\"ok\":true,\"ts\":13}",
        "{\"user\":\"ed\",\"qty\":2147483647,\"ok\":true,\"ts\":14}",
        "not json",
    };
    for (int i = 0; i < 6; i++) {
        sl_stream_rec_t r = jrec(in[i], i);
        CHECK(sl_stream_task_process(t, 0, &r, 0) == SL_OK);
    }
    CHECK_EQ_INT(count_topic("o1"), 1);
    const rec_out_t *o = find_value("o1", "{\"u\":\"ANN\",\"q2\":6,\"city\":\"Oslo\"}");
    CHECK(o != NULL);
    CHECK_EQ_INT(o->ts, 10);                 /* event time from the timestamp column */
    CHECK_EQ_INT(count_topic("app-dlq"), 3); /* mistyped qty, INT overflow, not JSON */
    bool overflow = false;
    for (int i = 0; i < N_ROUT; i++) {
        overflow = overflow || strstr(ROUT[i].error, "sql: line 1, column 66: INT overflow");
    }
    CHECK(overflow);
    sl_stream_task_free(t);
    sl_stream_builder_free(b);
    sl_sql_stmts_free(list);
    sl_sql_catalog_free(c);
}

/* Columns passed through unchanged are copied from the record where the text is the same, else
 * decoded (escapes, -0, a DOUBLE); a mistyped one still dead-letters the record. */
TEST(sql_pass_through_columns_copy_or_decode_in_a_task) {
    N_ROUT = 0;
    sl_sql_catalog_t *c = catalog();
    sl_sql_stmt_t *list;
    sl_stream_builder_t *b = compiled(c,
                                      "CREATE STREAM out2 WITH (topic='o2') AS SELECT user, big, "
                                      "kind, amount FROM ev WHERE qty > 0",
                                      &list);
    CHECK(b != NULL);
    sl_stream_task_t *t = sl_stream_task_new(b, 0, 0, &TCONF, 0);
    const char *in[] = {
        "{\"user\":\"ann\",\"big\":-0,\"kind\":\"a\\\"b\",\"amount\":1.50,\"qty\":1,\"ts\":1}",
        "{\"user\":\"bo\\u0062\",\"big\":12,\"kind\":null,\"amount\":2,\"qty\":1,\"ts\":2}",
        "{\"user\":7,\"big\":1,\"qty\":1,\"ts\":3}",
        "{\"user\":\"x\",\"big\":1.5,\"qty\":1,\"ts\":4}",
        "{\"user\":\"cy\",\"qty\":1,\"ts\":5}",
        /* in the output's order: user, big and kind copied as one run */
        "{\"qty\":1,\"user\":\"u\",\"big\":5,\"kind\":\"k\",\"amount\":1,\"ts\":6}",
        /* white space, and a repeated key (the last one wins): copied column by column */
        "{\"qty\":1, \"user\" : \"w\",\"big\":1,\"big\":7,\"kind\":\"\\u006b\",\"ts\":7}",
    };
    for (int i = 0; i < 7; i++) {
        sl_stream_rec_t r = jrec(in[i], i);
        CHECK(sl_stream_task_process(t, 0, &r, 0) == SL_OK);
    }
    CHECK_EQ_INT(count_topic("o2"), 5);
    CHECK(find_value("o2", "{\"user\":\"u\",\"big\":5,\"kind\":\"k\",\"amount\":1}"));
    CHECK(find_value("o2", "{\"user\":\"w\",\"big\":7,\"kind\":\"k\",\"amount\":null}"));
    CHECK(find_value("o2", "{\"user\":\"ann\",\"big\":0,\"kind\":\"a\\\"b\",\"amount\":1.5}"));
    CHECK(find_value("o2", "{\"user\":\"bob\",\"big\":12,\"kind\":null,\"amount\":2}"));
    CHECK(find_value("o2", "{\"user\":\"cy\",\"big\":null,\"kind\":null,\"amount\":null}"));
    CHECK_EQ_INT(count_topic("app-dlq"), 2); /* user 7, big 1.5 */
    sl_stream_task_free(t);
    sl_stream_builder_free(b);
    sl_sql_stmts_free(list);
    sl_sql_catalog_free(c);
}

/* Feeds what task t0 wrote to `topic` (from index `from`) to task t1. */
static void feed(sl_stream_task_t *t1, const char *topic, int from, int *failed) {
    int end = N_ROUT;
    for (int i = from; i < end; i++) {
        if (!strcmp(ROUT[i].topic, topic) && !ROUT[i].null_value) {
            sl_stream_rec_t r = {{ROUT[i].key, ROUT[i].klen},
                                 {ROUT[i].value, ROUT[i].vlen},
                                 ROUT[i].ts,
                                 topic,
                                 0,
                                 i};
            if (sl_stream_task_process(t1, 0, &r, 0) != SL_OK ||
                sl_stream_task_tick(t1, 0) != SL_OK) {
                *failed = 1;
            }
        }
    }
}

TEST(sql_windowed_group_by_runs_in_tasks) {
    N_ROUT = 0;
    sl_sql_catalog_t *c = catalog();
    sl_sql_stmt_t *list;
    sl_stream_builder_t *b = compiled(
        c,
        "CREATE STREAM agg WITH (topic='agg-out') AS SELECT user, window_start, window_end, "
        "COUNT(*) AS n, SUM(qty) AS q, COUNT(DISTINCT kind) AS kinds, AVG(amount) AS a, "
        "MAX(price) AS p FROM ev GROUP BY user, TUMBLE(ts, INTERVAL '10' SECOND) "
        "HAVING COUNT(*) > 1",
        &list);
    CHECK(b != NULL);
    sl_stream_task_t *t0 = sl_stream_task_new(b, 0, 0, &TCONF, 0);
    sl_stream_task_t *t1 = sl_stream_task_new(b, 1, 0, &TCONF, 0);
    const char *in[] = {
        "{\"user\":\"ann\",\"qty\":3,\"kind\":\"a\",\"amount\":1.5,\"price\":\"2.50\",\"ts\":1000}",
        "{\"user\":\"ann\",\"qty\":4,\"kind\":\"b\",\"amount\":2.5,\"price\":9.1,\"ts\":2000}",
        "{\"user\":\"ann\",\"kind\":\"a\",\"ts\":3000}",
        "{\"user\":\"bob\",\"qty\":1,\"kind\":\"a\",\"ts\":4000}",
        "{\"user\":\"ann\",\"qty\":9,\"kind\":\"c\",\"ts\":15000}",
        "{\"user\":\"zed\",\"qty\":1,\"ts\":40000}", /* moves the watermark past both windows */
    };
    for (int i = 0; i < 6; i++) {
        sl_stream_rec_t r = jrec(in[i], i);
        CHECK(sl_stream_task_process(t0, 0, &r, 0) == SL_OK);
    }
    int failed = 0;
    feed(t1, "app-agg-group-by-repartition", 0, &failed);
    CHECK(!failed);
    /* [0,10s) of ann: 3 rows (one without qty: SUM skips it, COUNT(*) does not); bob's single
     * row and ann's [10s,20s) single row fail HAVING. */
    CHECK_EQ_INT(count_topic("agg-out"), 1);
    const rec_out_t *o = find_value("agg-out", "{\"user\":\"ann\",\"window_start\":0,"
                                               "\"window_end\":10000,\"n\":3,\"q\":7,\"kinds\":2,"
                                               "\"a\":2,\"p\":9.10}");
    if (!o) {
        for (int i = 0; i < N_ROUT; i++) {
            if (!strcmp(ROUT[i].topic, "agg-out")) {
                fprintf(stderr, "  got %s\n", ROUT[i].value);
            }
        }
    }
    CHECK(o != NULL);
    CHECK(o->klen == 3 && !memcmp(o->key, "ann", 3)); /* keyed by the GROUP BY value */
    sl_stream_task_free(t0);
    sl_stream_task_free(t1);
    sl_stream_builder_free(b);
    sl_sql_stmts_free(list);
    sl_sql_catalog_free(c);
}

TEST(sql_count_distinct_is_bounded_and_a_failing_record_changes_nothing) {
    N_ROUT = 0;
    sl_sql_catalog_t *c = catalog();
    sl_sql_stmt_t *list;
    sl_stream_builder_t *b =
        compiled(c,
                 "CREATE STREAM d WITH (topic='d-out') AS SELECT user, COUNT(*) AS n, "
                 "COUNT(DISTINCT qty) AS dq FROM ev GROUP BY user, TUMBLE(ts, INTERVAL '1' HOUR)",
                 &list);
    CHECK(b != NULL);
    sl_stream_task_t *t0 = sl_stream_task_new(b, 0, 0, &TCONF, 0);
    sl_stream_task_t *t1 = sl_stream_task_new(b, 1, 0, &TCONF, 0);
    static char docs[SL_SQL_DISTINCT_MAX + 3][96];
    for (int i = 0; i < SL_SQL_DISTINCT_MAX + 3; i++) {
        /* 257 distinct values, then one seen before, then one that moves the watermark */
        int qty = i < SL_SQL_DISTINCT_MAX + 1 ? i : 5;
        long long ts = i < SL_SQL_DISTINCT_MAX + 2 ? 1000 + i : 10000000;
        snprintf(docs[i], sizeof docs[i], "{\"user\":\"%s\",\"qty\":%d,\"ts\":%lld}",
                 i < SL_SQL_DISTINCT_MAX + 2 ? "ann" : "zed", qty, ts);
        sl_stream_rec_t r = jrec(docs[i], i);
        CHECK(sl_stream_task_process(t0, 0, &r, 0) == SL_OK);
    }
    int failed = 0;
    feed(t1, "app-d-group-by-repartition", 0, &failed);
    CHECK(!failed);
    CHECK(find_value("d-out", "{\"user\":\"ann\",\"n\":257,\"dq\":256}") != NULL);
    int dlq = 0;
    for (int i = 0; i < N_ROUT; i++) {
        if (!strcmp(ROUT[i].topic, "app-dlq")) {
            dlq++;
            CHECK(strstr(ROUT[i].error, "COUNT(DISTINCT) keeps at most 256 values") != NULL);
        }
    }
    CHECK_EQ_INT(dlq, 1);
    sl_stream_task_free(t0);
    sl_stream_task_free(t1);
    sl_stream_builder_free(b);
    sl_sql_stmts_free(list);
    sl_sql_catalog_free(c);
}

TEST(sql_join_graphs) {
    char g[2048];
    explain(
        "CREATE STREAM enriched WITH (topic='en') AS SELECT e.user, u.name, tier, qty FROM ev e "
        "LEFT JOIN users u ON e.user = u.uid WHERE qty > 0",
        g, sizeof g);
    CHECK(strstr(g, "source  ev (topic 'events', json; 2 slots decoded: user, qty;"));
    CHECK(strstr(g, "rekey enriched-join-key (repartition topic; key = e.user)"));
    CHECK(strstr(g, "table   users (topic 'users', json; 3 slots decoded: uid, name, tier;"));
    CHECK(strstr(g, "(keyed by u.uid already)"));
    CHECK(strstr(g, "join  enriched-join (stream-table, left)"));
    /* WHERE over the preserved side of a LEFT join runs before the join */
    CHECK(strstr(g, "map   enriched-join-where (WHERE on e's columns, before the join)"));
    CHECK(strstr(g, "(join) 4 output columns"));
    CHECK(strstr(g, "sink  topic 'en'"));
    explain(
        "CREATE STREAM pairs WITH (topic='pr') AS SELECT e.user, c.ad FROM ev e FULL OUTER JOIN "
        "clicks c WITHIN INTERVAL '2' SECOND GRACE INTERVAL '500' MILLISECOND "
        "ON e.user = c.user",
        g, sizeof g);
    CHECK(strstr(g, "rekey pairs-join-key (repartition topic; key = e.user)"));
    CHECK(strstr(g, "rekey pairs-join-right-key (repartition topic; key = c.user)"));
    CHECK(strstr(g, "join  pairs-join (windowed, full outer, within 2000 ms, grace 500 ms)"));
    /* Only conditions on a side whose rows are never NULL-extended run before the join. */
    explain("CREATE STREAM lj WITH (topic='lj') AS SELECT e.qty FROM ev e LEFT JOIN clicks c "
            "WITHIN INTERVAL '2' SECOND ON e.user = c.user WHERE c.ad > 1 AND e.qty > 0",
            g, sizeof g);
    CHECK(strstr(g, "map   lj-join-where (WHERE on e's columns, before the join)"));
    CHECK(!strstr(g, "lj-join-right-where"));
    CHECK(strstr(g, "(join) WHERE, 1 output columns"));
    explain("CREATE STREAM fj WITH (topic='fj') AS SELECT e.qty FROM ev e FULL JOIN clicks c "
            "WITHIN INTERVAL '2' SECOND ON e.user = c.user WHERE c.ad > 1 AND e.qty > 0",
            g, sizeof g);
    CHECK(!strstr(g, "join-where") && !strstr(g, "join-right-where"));
    CHECK(strstr(g, "(join) WHERE, 1 output columns"));
    explain("CREATE STREAM ij WITH (topic='ij') AS SELECT e.qty FROM ev e JOIN clicks c "
            "WITHIN INTERVAL '2' SECOND ON e.user = c.user WHERE c.ad > 1 AND e.qty > 0 "
            "AND (e.qty > c.ad OR c.ad IS NULL)",
            g, sizeof g);
    CHECK(strstr(g, "map   ij-join-where (WHERE on e's columns, before the join)"));
    CHECK(strstr(g, "map   ij-join-right-where (WHERE on c's columns, before the join)"));
    CHECK(strstr(g, "(join) WHERE, 1 output columns")); /* the condition on both sides stays */
    explain("CREATE STREAM per_tier WITH (topic='pt') AS SELECT u.tier, count(*) AS n, "
            "sum(e.qty) AS q FROM ev e JOIN users u ON e.user = u.uid GROUP BY u.tier",
            g, sizeof g);
    CHECK(strstr(g, "join  per_tier-join (stream-table, inner)"));
    CHECK(strstr(g, "(join) per_tier-prepare (1 key, 2 aggregate arguments)"));
    CHECK(strstr(g, "rekey per_tier-group-by"));
    CHECK(strstr(g, "aggregate per_tier-aggregate (running (no window)"));
}

/* The index of the root of sub-topology st that is `kind` (and reads `topic` if not NULL). */
static int root_of(sl_stream_builder_t *b, int st, sl_node_kind_t kind, const char *topic) {
    sl_stream_node_t *roots[8];
    size_t n = sl_graph_roots(b, st, roots, 8);
    for (size_t i = 0; i < n && i < 8; i++) {
        if (roots[i]->kind == kind &&
            (!topic || (roots[i]->topic && !strcmp(roots[i]->topic, topic)))) {
            return (int)i;
        }
    }
    return -1;
}

/* Feeds what earlier tasks wrote to `topic` (from index `from`) to input `input` of t1. */
static void feed_in(sl_stream_task_t *t1, size_t input, const char *topic, int from, int to,
                    int *failed) {
    for (int i = from; i < to; i++) {
        if (!strcmp(ROUT[i].topic, topic)) {
            sl_stream_rec_t r = {{ROUT[i].klen ? ROUT[i].key : (const uint8_t *)"", ROUT[i].klen},
                                 {ROUT[i].value, ROUT[i].vlen},
                                 ROUT[i].ts,
                                 topic,
                                 0,
                                 i};
            if (sl_stream_task_process(t1, input, &r, 0) != SL_OK) {
                *failed = 1;
            }
        }
    }
}

static void dump(const char *topic) {
    for (int i = 0; i < N_ROUT; i++) {
        if (!strcmp(ROUT[i].topic, topic)) {
            fprintf(stderr, "  %s: %.*s = %s\n", topic, (int)ROUT[i].klen, ROUT[i].key,
                    ROUT[i].value);
        }
    }
}

TEST(sql_stream_table_left_join_runs_in_tasks) {
    N_ROUT = 0;
    sl_sql_catalog_t *c = catalog();
    sl_sql_stmt_t *list;
    sl_stream_builder_t *b = compiled(
        c,
        "CREATE STREAM en WITH (topic='en') AS SELECT e.user, u.name, tier * 10 AS t10, qty "
        "FROM ev AS e LEFT JOIN users AS u ON e.user = u.uid WHERE qty > 0",
        &list);
    CHECK(b != NULL);
    CHECK_EQ_INT(b->n_subtopologies, 2);
    sl_stream_task_t *t0 = sl_stream_task_new(b, 0, 0, &TCONF, 0);
    sl_stream_task_t *t1 = sl_stream_task_new(b, 1, 0, &TCONF, 0);
    int tab = root_of(b, 1, SL_NODE_TABLE, "users"), rk = root_of(b, 1, SL_NODE_REKEY, NULL);
    CHECK(tab >= 0 && rk >= 0);
    sl_stream_rec_t u = {{(const uint8_t *)"ann", 3},
                         {(const uint8_t *)"{\"uid\":\"ann\",\"name\":\"Ann\",\"tier\":2}", 35},
                         1,
                         "users",
                         0,
                         0};
    CHECK(sl_stream_task_process(t1, (size_t)tab, &u, 0) == SL_OK);
    const char *in[] = {
        "{\"user\":\"ann\",\"qty\":3,\"ts\":10}", "{\"user\":\"bob\",\"qty\":1,\"ts\":11}",
        "{\"user\":\"ann\",\"qty\":0,\"ts\":12}", /* WHERE drops it before the join */
        "{\"qty\":4,\"ts\":13}",                  /* a NULL key matches nothing */
    };
    for (int i = 0; i < 4; i++) {
        sl_stream_rec_t r = jrec(in[i], i);
        CHECK(sl_stream_task_process(t0, 0, &r, 0) == SL_OK);
    }
    CHECK_EQ_INT(count_topic("app-en-join-key-repartition"), 3);
    int failed = 0;
    feed_in(t1, (size_t)rk, "app-en-join-key-repartition", 0, N_ROUT, &failed);
    CHECK(!failed);
    if (count_topic("en") != 3) {
        dump("en");
    }
    CHECK_EQ_INT(count_topic("en"), 3);
    const rec_out_t *o =
        find_value("en", "{\"user\":\"ann\",\"name\":\"Ann\",\"t10\":20,\"qty\":3}");
    CHECK(o != NULL);
    CHECK(o && o->klen == 3 && !memcmp(o->key, "ann", 3)); /* keyed by the join key */
    CHECK(find_value("en", "{\"user\":\"bob\",\"name\":null,\"t10\":null,\"qty\":1}") != NULL);
    CHECK(find_value("en", "{\"user\":null,\"name\":null,\"t10\":null,\"qty\":4}") != NULL);
    sl_stream_task_free(t0);
    sl_stream_task_free(t1);
    sl_stream_builder_free(b);
    sl_sql_stmts_free(list);
    sl_sql_catalog_free(c);
}

TEST(sql_windowed_outer_join_runs_in_tasks) {
    N_ROUT = 0;
    sl_sql_catalog_t *c = catalog();
    sl_sql_stmt_t *list;
    sl_stream_builder_t *b =
        compiled(c,
                 "CREATE STREAM pr WITH (topic='pr') AS SELECT e.user AS eu, c.user AS cu, e.qty, "
                 "c.ad FROM ev e FULL OUTER JOIN clicks c WITHIN INTERVAL '1' SECOND "
                 "ON e.user = c.user",
                 &list);
    CHECK(b != NULL);
    CHECK_EQ_INT(b->n_subtopologies, 3);
    int st_ev = -1, st_cl = -1, st_j = -1;
    for (int st = 0; st < b->n_subtopologies; st++) {
        if (root_of(b, st, SL_NODE_SOURCE, "events") >= 0) {
            st_ev = st;
        } else if (root_of(b, st, SL_NODE_SOURCE, "clicks") >= 0) {
            st_cl = st;
        } else {
            st_j = st;
        }
    }
    CHECK(st_ev >= 0 && st_cl >= 0 && st_j >= 0);
    sl_stream_task_t *te = sl_stream_task_new(b, st_ev, 0, &TCONF, 0);
    sl_stream_task_t *tc = sl_stream_task_new(b, st_cl, 0, &TCONF, 0);
    sl_stream_task_t *tj = sl_stream_task_new(b, st_j, 0, &TCONF, 0);
    const char *evs[] = {"{\"user\":\"ann\",\"qty\":1,\"ts\":\"1970-01-01 00:00:01\"}",
                         "{\"user\":\"bob\",\"qty\":2,\"ts\":1500}",
                         "{\"user\":\"zed\",\"qty\":9,\"ts\":60000}"};
    const char *cls[] = {"{\"user\":\"ann\",\"ad\":7,\"ts\":1800}", /* within 1s of ann's 1000 */
                         "{\"user\":\"bob\",\"ad\":8,\"ts\":2600}", /* 1100 ms after bob's: no */
                         "{\"user\":\"zed\",\"ad\":9,\"ts\":60000}"};
    for (int i = 0; i < 3; i++) {
        sl_stream_rec_t r = jrec(evs[i], i);
        CHECK(sl_stream_task_process(te, 0, &r, 0) == SL_OK);
        r = jrec(cls[i], i);
        r.topic = "clicks";
        CHECK(sl_stream_task_process(tc, 0, &r, 0) == SL_OK);
    }
    int failed = 0, end = N_ROUT;
    int lin = root_of(b, st_j, SL_NODE_REKEY, NULL);
    sl_stream_node_t *roots[4];
    sl_graph_roots(b, st_j, roots, 4);
    size_t left = strstr(roots[lin]->name, "right") ? 1 - (size_t)lin : (size_t)lin;
    feed_in(tj, left, "app-pr-join-key-repartition", 0, end, &failed);
    feed_in(tj, 1 - left, "app-pr-join-right-key-repartition", 0, end, &failed);
    CHECK(!failed);
    CHECK(sl_stream_task_tick(tj, 0) == SL_OK);
    if (count_topic("pr") != 4) {
        dump("pr");
    }
    CHECK_EQ_INT(count_topic("pr"), 4); /* ann+ann, bob alone, bob's click alone; zed pair */
    CHECK(find_value("pr", "{\"eu\":\"ann\",\"cu\":\"ann\",\"qty\":1,\"ad\":7}") != NULL);
    CHECK(find_value("pr", "{\"eu\":\"bob\",\"cu\":null,\"qty\":2,\"ad\":null}") != NULL);
    CHECK(find_value("pr", "{\"eu\":null,\"cu\":\"bob\",\"qty\":null,\"ad\":8}") != NULL);
    CHECK(find_value("pr", "{\"eu\":\"zed\",\"cu\":\"zed\",\"qty\":9,\"ad\":9}") != NULL);
    sl_stream_task_free(te);
    sl_stream_task_free(tc);
    sl_stream_task_free(tj);
    sl_stream_builder_free(b);
    sl_sql_stmts_free(list);
    sl_sql_catalog_free(c);
}

TEST(sql_group_by_over_a_join_runs_in_tasks) {
    N_ROUT = 0;
    sl_sql_catalog_t *c = catalog();
    sl_sql_stmt_t *list;
    sl_stream_builder_t *b =
        compiled(c,
                 "CREATE STREAM per_tier WITH (topic='pt') AS SELECT u.tier, COUNT(*) AS n, "
                 "SUM(e.qty) AS q FROM ev e JOIN users u ON e.user = u.uid GROUP BY u.tier",
                 &list);
    CHECK(b != NULL);
    CHECK_EQ_INT(b->n_subtopologies, 3); /* events; the join; the aggregate */
    sl_stream_task_t *t0 = sl_stream_task_new(b, 0, 0, &TCONF, 0);
    sl_stream_task_t *t1 = sl_stream_task_new(b, 1, 0, &TCONF, 0);
    sl_stream_task_t *t2 = sl_stream_task_new(b, 2, 0, &TCONF, 0);
    int tab = root_of(b, 1, SL_NODE_TABLE, "users"), rk = root_of(b, 1, SL_NODE_REKEY, NULL);
    CHECK(tab >= 0 && rk >= 0);
    const char *users[][2] = {
        {"ann", "{\"tier\":1}"}, {"bob", "{\"tier\":2}"}, {"cy", "{\"tier\":1}"}};
    for (int i = 0; i < 3; i++) {
        sl_stream_rec_t u = {{(const uint8_t *)users[i][0], strlen(users[i][0])},
                             {(const uint8_t *)users[i][1], strlen(users[i][1])},
                             1,
                             "users",
                             0,
                             i};
        CHECK(sl_stream_task_process(t1, (size_t)tab, &u, 0) == SL_OK);
    }
    const char *in[] = {
        "{\"user\":\"ann\",\"qty\":3,\"ts\":10}", "{\"user\":\"bob\",\"qty\":1,\"ts\":11}",
        "{\"user\":\"cy\",\"qty\":5,\"ts\":12}",
        "{\"user\":\"dan\",\"qty\":7,\"ts\":13}"}; /* no row: the inner join drops it */
    for (int i = 0; i < 4; i++) {
        sl_stream_rec_t r = jrec(in[i], i);
        CHECK(sl_stream_task_process(t0, 0, &r, 0) == SL_OK);
    }
    int failed = 0, end = N_ROUT;
    feed_in(t1, (size_t)rk, "app-per_tier-join-key-repartition", 0, end, &failed);
    feed_in(t2, 0, "app-per_tier-group-by-repartition", end, N_ROUT, &failed);
    CHECK(!failed);
    if (count_topic("pt") != 3) {
        dump("pt");
    }
    CHECK_EQ_INT(count_topic("pt"), 3); /* a running aggregate: a result per update */
    CHECK(find_value("pt", "{\"tier\":1,\"n\":2,\"q\":8}") != NULL);
    CHECK(find_value("pt", "{\"tier\":2,\"n\":1,\"q\":1}") != NULL);
    sl_stream_task_free(t0);
    sl_stream_task_free(t1);
    sl_stream_task_free(t2);
    sl_stream_builder_free(b);
    sl_sql_stmts_free(list);
    sl_sql_catalog_free(c);
}

TEST(sql_window_over_a_windowed_join_runs_in_tasks) {
    /* A self-join of one topic (two streams over it), WHERE split between the sides, and a
     * tumbling window over the joined rows on the right side's time column. */
    N_ROUT = 0;
    sl_sql_catalog_t *c = catalog();
    sl_sql_stmt_t *list;
    sl_stream_builder_t *b = compiled(
        c,
        "CREATE STREAM buys (user VARCHAR, ad BIGINT, ts BIGINT, cost DOUBLE)\n"
        "  WITH (topic='clicks', timestamp='ts');\n"
        "CREATE STREAM wj WITH (topic='wj') AS SELECT c.user, window_start AS ws, COUNT(*) AS n, "
        "MAX(v.cost) AS top FROM clicks c JOIN buys v WITHIN INTERVAL '1' SECOND "
        "GRACE INTERVAL '2' SECOND ON c.user = v.user WHERE c.ad = 1 AND v.ad = 2 AND "
        "c.ts <= v.ts GROUP BY c.user, TUMBLE(v.ts, INTERVAL '10' SECOND)",
        &list);
    CHECK(b != NULL);
    if (!b) {
        sl_sql_catalog_free(c);
        return;
    }
    CHECK_EQ_INT(b->n_subtopologies, 3); /* clicks; the join; the aggregate */
    char g[2048];
    FILE *f = fmemopen(g, sizeof g, "w");
    sl_sql_explain(sl_sql_stmt_next(list), f);
    fclose(f);
    CHECK(strstr(g, "map   wj-join-where (WHERE on c's columns, before the join)"));
    CHECK(strstr(g, "map   wj-join-right-where (WHERE on v's columns, before the join)"));
    CHECK(strstr(g, "(join) wj-prepare (WHERE, 1 key, 2 aggregate arguments)"));
    CHECK(strstr(g, "tumbling size 10000 ms on v.ts, grace 2000 ms"));
    int st_src = -1, st_j = -1;
    for (int st = 0; st < b->n_subtopologies; st++) {
        sl_stream_node_t *r[4];
        if (root_of(b, st, SL_NODE_SOURCE, "clicks") >= 0) {
            st_src = st;
        } else if (sl_graph_roots(b, st, r, 4) == 2) {
            st_j = st; /* the join reads two repartition topics, the aggregate one */
        }
    }
    CHECK(st_src >= 0 && st_j >= 0);
    sl_stream_task_t *ts = sl_stream_task_new(b, st_src, 0, &TCONF, 0);
    sl_stream_task_t *tj = sl_stream_task_new(b, st_j, 0, &TCONF, 0);
    const char *in[] = {
        "{\"user\":\"ann\",\"ad\":1,\"ts\":1000}",              /* a click (left) */
        "{\"user\":\"ann\",\"ad\":2,\"ts\":1500,\"cost\":2.5}", /* a buy (right): pair */
        "{\"user\":\"ann\",\"ad\":2,\"ts\":12500,\"cost\":9}",  /* too far from the click */
        "{\"user\":\"bob\",\"ad\":3,\"ts\":1600}",              /* neither side */
        "{\"user\":\"bob\",\"ad\":1,\"ts\":2000}",              /* a click, no buy */
    };
    for (int i = 0; i < 5; i++) {
        sl_stream_rec_t r = jrec(in[i], i);
        r.topic = "clicks";
        CHECK(sl_stream_task_process(ts, 0, &r, 0) == SL_OK);
    }
    /* Each record goes to the side(s) whose WHERE it passes, keyed by user, only there. */
    CHECK_EQ_INT(count_topic("app-wj-join-key-repartition"), 2);
    CHECK_EQ_INT(count_topic("app-wj-join-right-key-repartition"), 2);
    int failed = 0, end = N_ROUT;
    int lin = root_of(b, st_j, SL_NODE_REKEY, NULL);
    sl_stream_node_t *roots[4];
    sl_graph_roots(b, st_j, roots, 4);
    size_t left = strstr(roots[lin]->name, "right") ? 1 - (size_t)lin : (size_t)lin;
    feed_in(tj, left, "app-wj-join-key-repartition", 0, end, &failed);
    feed_in(tj, 1 - left, "app-wj-join-right-key-repartition", 0, end, &failed);
    CHECK(!failed);
    /* One joined row, ann's click and buy, to the aggregate at the buy's time (the window's
     * time column), not the join's. */
    CHECK_EQ_INT(count_topic("app-wj-group-by-repartition"), 1);
    for (int i = end; i < N_ROUT; i++) {
        if (!strcmp(ROUT[i].topic, "app-wj-group-by-repartition")) {
            CHECK_EQ_INT(ROUT[i].ts, 1500);
        }
    }
    sl_stream_task_free(ts);
    sl_stream_task_free(tj);
    sl_stream_builder_free(b);
    sl_sql_stmts_free(list);
    sl_sql_catalog_free(c);
}

TEST(sql_streams_over_one_topic_share_its_time_rules) {
    /* One source node reads a topic: two streams over it must agree on event time, in one query
     * (a join of both) or across the queries of a pipeline. */
    const char *srcs[] = {
        "CREATE STREAM b2 (user VARCHAR, ad BIGINT, at BIGINT) WITH (topic='clicks', "
        "timestamp='at');\n"
        "SELECT c.ad FROM clicks c JOIN b2 v WITHIN INTERVAL '1' SECOND ON c.user = v.user",
        "CREATE STREAM b2 (user VARCHAR, ad BIGINT, ts BIGINT) WITH (topic='clicks', "
        "timestamp='ts', watermark_delay='1s');\n"
        "SELECT c.ad FROM b2 c JOIN clicks v WITHIN INTERVAL '1' SECOND ON c.user = v.user",
    };
    const char *want[] = {"'clicks' and 'b2' read topic 'clicks' with different timestamp",
                          "'b2' and 'clicks' read topic 'clicks' with different timestamp"};
    for (size_t i = 0; i < SL_ARRAY_LEN(srcs); i++) {
        sl_sql_catalog_t *c = catalog();
        char err[SL_ERRLEN] = "";
        sl_sql_stmt_t *list = sl_sql_parse(c, srcs[i], err, sizeof err);
        CHECK(list != NULL);
        sl_stream_builder_t *b = sl_stream_builder_new();
        CHECK(list && sl_sql_compile(sl_sql_stmt_next(list), b, NULL, NULL, "o", err, sizeof err) ==
                          SL_ERR_INVAL);
        if (!strstr(err, want[i])) {
            fprintf(stderr, "  got: %s\n", err);
        }
        CHECK(strstr(err, want[i]) != NULL);
        sl_stream_builder_free(b);
        sl_sql_stmts_free(list);
        sl_sql_catalog_free(c);
    }
    /* Across queries: the second query's stream disagrees with the source the first one made. */
    sl_sql_catalog_t *c = catalog();
    char err[SL_ERRLEN] = "";
    sl_sql_stmt_t *list =
        sl_sql_parse(c,
                     "CREATE STREAM b2 (user VARCHAR, ad BIGINT) WITH (topic='clicks');\n"
                     "SELECT ad FROM clicks; SELECT ad FROM b2",
                     err, sizeof err);
    CHECK(list != NULL);
    sl_stream_builder_t *b = sl_stream_builder_new();
    const sl_sql_stmt_t *q1 = list ? sl_sql_stmt_next(list) : NULL;
    CHECK(q1 && sl_sql_compile((sl_sql_stmt_t *)q1, b, NULL, NULL, "o1", err, sizeof err) == SL_OK);
    CHECK(q1 && sl_sql_compile(sl_sql_stmt_next(q1), b, NULL, NULL, "o2", err, sizeof err) ==
                    SL_ERR_INVAL);
    CHECK(strstr(err, "'clicks' and 'b2' read topic 'clicks'") != NULL);
    sl_stream_builder_free(b);
    sl_sql_stmts_free(list);
    sl_sql_catalog_free(c);
}

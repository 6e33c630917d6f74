/* test_sql_pct.c -- APPROX_PERCENTILE: the sketch's error bound (1% relative) against exact
 * percentiles, merging partial sketches, values over a range wider than the sketch keeps, and the
 * aggregate end to end in stream tasks (grouped straight off the source, and pre-aggregated per
 * record key before the merge); PERCENTILE_CONT (exact, interpolated) against a reference
 * computed here, its bound, and its parser errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "sql/sql_int.h"
#include "sql_task.h"
#include "stream/graph.h"
#include "stream/task.h"

static int cmp_dbl(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Every estimate within 1% (plus rounding) of the exact value of rank floor(p (n - 1)). */
static bool within_bound(const uint8_t *st, double *v, size_t n) {
    static const double ps[] = {0, 0.01, 0.25, 0.5, 0.9, 0.99, 0.999, 1};
    qsort(v, n, sizeof *v, cmp_dbl);
    for (size_t i = 0; i < SL_ARRAY_LEN(ps); i++) {
        double exact = v[(size_t)floor(ps[i] * (double)(n - 1))];
        double est = sl_sql_pct_value(st, ps[i]);
        if (fabs(est - exact) > 0.01 * fabs(exact) + 1e-12) {
            fprintf(stderr, "  p%g: estimate %.17g, exact %.17g\n", ps[i] * 100, est, exact);
            return false;
        }
    }
    return true;
}

TEST(sql_pct_sketch_is_within_one_percent) {
    static uint8_t st[SL_SQL_PCT_BYTES];
    static double v[20000];
    /* 1..20000 in a shuffled order */
    memset(st, 0, sizeof st);
    for (size_t i = 0; i < SL_ARRAY_LEN(v); i++) {
        v[i] = (double)((i * 7919) % SL_ARRAY_LEN(v) + 1);
        CHECK(sl_sql_pct_add(st, v[i]));
    }
    CHECK(within_bound(st, v, SL_ARRAY_LEN(v)));
    /* a heavy tail: exp of a uniform over [0, 12] (values 1 .. 160,000) */
    memset(st, 0, sizeof st);
    srand(7);
    for (size_t i = 0; i < SL_ARRAY_LEN(v); i++) {
        v[i] = exp(12.0 * rand() / RAND_MAX);
        CHECK(sl_sql_pct_add(st, v[i]));
    }
    CHECK(within_bound(st, v, SL_ARRAY_LEN(v)));
    /* negative, zero and positive values */
    memset(st, 0, sizeof st);
    for (size_t i = 0; i < 2001; i++) {
        v[i] = (double)i - 1000;
        CHECK(sl_sql_pct_add(st, v[i]));
    }
    CHECK(within_bound(st, v, 2001));
    /* one value */
    memset(st, 0, sizeof st);
    CHECK(sl_sql_pct_add(st, 42.5));
    CHECK(fabs(sl_sql_pct_value(st, 0.99) - 42.5) < 0.43);
    CHECK(!sl_sql_pct_add(st, INFINITY) && !sl_sql_pct_add(st, NAN));
}

/* Wider than the sketch's window (1e-9 .. 1e9, while it keeps a factor of about 7e8): the small
 * values fold into its smallest bucket, the percentiles of the large ones keep their bound. */
TEST(sql_pct_sketch_keeps_high_percentiles_over_a_wide_range) {
    static uint8_t st[SL_SQL_PCT_BYTES];
    static double v[1000];
    memset(st, 0, sizeof st);
    for (size_t i = 0; i < SL_ARRAY_LEN(v); i++) {
        v[i] = pow(10, -9 + 18.0 * (double)((i * 37) % 1000) / 999);
        CHECK(sl_sql_pct_add(st, v[i]));
    }
    qsort(v, SL_ARRAY_LEN(v), sizeof *v, cmp_dbl);
    static const double ps[] = {0.6, 0.9, 0.99, 1};
    for (size_t i = 0; i < SL_ARRAY_LEN(ps); i++) {
        double est = sl_sql_pct_value(st, ps[i]), exact = v[(size_t)floor(ps[i] * 999)];
        CHECK(fabs(est - exact) <= 0.01 * exact);
    }
    double lo = sl_sql_pct_value(st, 0);
    CHECK(lo > v[0] && lo < v[600]); /* folded: too high, yet below the kept range */
}

/* Two sketches merged give the estimates of one sketch of all the values. */
TEST(sql_pct_sketches_merge) {
    static uint8_t a[SL_SQL_PCT_BYTES], b[SL_SQL_PCT_BYTES], all[SL_SQL_PCT_BYTES];
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    memset(all, 0, sizeof all);
    for (int i = 0; i < 5000; i++) {
        double x = (i % 2) ? 1000.0 + i : 0.5 + i / 100.0; /* the halves cover different ranges */
        CHECK(sl_sql_pct_add((i % 2) ? b : a, x));
        CHECK(sl_sql_pct_add(all, x));
    }
    sl_sql_pct_merge(a, b);
    int64_t na, nall;
    memcpy(&na, a, 8);
    memcpy(&nall, all, 8);
    CHECK_EQ_INT(na, nall);
    for (double p = 0; p <= 1; p += 0.05) {
        CHECK(sl_sql_pct_value(a, p) == sl_sql_pct_value(all, p));
    }
    sl_sql_pct_merge(a, (uint8_t[SL_SQL_PCT_BYTES]){0}); /* an empty sketch changes nothing */
    CHECK(sl_sql_pct_value(a, 0.9) == sl_sql_pct_value(all, 0.9));
}

/* ---- end to end in stream tasks ---- */

typedef struct out {
    char topic[64], key[64];
    char value[SL_SQL_PCT_BYTES * 2 + 256];
    size_t vlen, klen;
    int64_t ts;
} out_t;
static out_t OUT[64];
static int N_OUT;

static sl_err_t collect(void *opaque, const char *topic, int32_t partition, sl_bytes_t key,
                        sl_bytes_t value, int64_t ts, const sl_stream_hdr_t *h, size_t nh,
                        const sl_stream_stage_t *stage) {
    (void)opaque, (void)partition, (void)h, (void)nh, (void)stage;
    if (N_OUT == (int)SL_ARRAY_LEN(OUT) || value.len >= sizeof OUT[0].value) {
        return SL_ERR_IO;
    }
    out_t *o = &OUT[N_OUT++];
    snprintf(o->topic, sizeof o->topic, "%s", topic);
    snprintf(o->key, sizeof o->key, "%.*s", (int)key.len, key.p ? (const char *)key.p : "");
    o->klen = key.len < sizeof o->key ? key.len : 0;
    memcpy(o->key, key.p ? key.p : (const uint8_t *)"", o->klen); /* binary keys whole */
    o->key[o->klen] = 0;
    memcpy(o->value, value.p ? value.p : (const uint8_t *)"", value.len);
    o->value[value.len] = 0;
    o->vlen = value.len;
    o->ts = ts;
    return SL_OK;
}

static sl_stream_task_conf_t TCONF = {"app", NULL, SL_STREAM_ON_ERROR_DEAD_LETTER, collect, NULL};

static const char *ddl = "CREATE STREAM kv (\"user\" VARCHAR, qty INT, price DECIMAL(8,2), "
                         "ts BIGINT) WITH (topic='kv', key='user', timestamp='ts');\n";

/* Parses the ddl and `sql`, explains and compiles the last statement (sql_task.h). */
static bool build(q_t *q, const char *sql) {
    return build_sql(q, ddl, sql);
}

static sl_err_t put(sl_stream_task_t *t, const char *key, int qty, int64_t ts, int64_t off) {
    char json[128];
    snprintf(json, sizeof json, "{\"user\":\"%s\",\"qty\":%d,\"price\":%d.25,\"ts\":%lld}", key,
             qty, qty, (long long)ts);
    sl_stream_rec_t r = {{(const uint8_t *)key, strlen(key)},
                         {(const uint8_t *)json, strlen(json)},
                         0,
                         "kv",
                         0,
                         off};
    return sl_stream_task_process(t, 0, &r, 0);
}

static const char *find_q(const char *topic, const char *key, const char *part, bool quiet) {
    for (int i = 0; i < N_OUT; i++) {
        if (!strcmp(OUT[i].topic, topic) && !strcmp(OUT[i].key, key) &&
            strstr(OUT[i].value, part)) {
            return OUT[i].value;
        }
    }
    if (quiet) {
        return NULL;
    }
    fprintf(stderr, "  no %s record %s with %s among:\n", topic, key, part);
    for (int i = 0; i < N_OUT; i++) {
        fprintf(stderr, "    %s %s %.200s\n", OUT[i].topic, OUT[i].key, OUT[i].value);
    }
    return NULL;
}

static const char *find(const char *topic, const char *key, const char *part) {
    return find_q(topic, key, part, false);
}

static double field(const char *json, const char *name) {
    char k[64];
    snprintf(k, sizeof k, "\"%s\":", name);
    const char *p = json ? strstr(json, k) : NULL;
    return p ? strtod(p + strlen(k), NULL) : NAN;
}

/* Grouped by the key column off the source: ann's qty 1..200 in [0,10s), bob's 1000..1099. */
TEST(sql_approx_percentile_per_group_and_window) {
    N_OUT = 0;
    q_t q;
    CHECK(build(&q, "CREATE STREAM o WITH (topic='o') AS SELECT \"user\", window_start, "
                    "COUNT(*) AS n, APPROX_PERCENTILE(qty, 0.99) AS p99, "
                    "APPROX_PERCENTILE(qty, 0.5) AS p50, APPROX_PERCENTILE(price, 0.99) AS pp99 "
                    "FROM kv GROUP BY \"user\", TUMBLE(ts, INTERVAL '10' SECOND) "
                    "HAVING APPROX_PERCENTILE(qty, 0.5) > 10"));
    CHECK(strstr(q.plan, "(keyed by user already: no repartition"));
    sl_stream_task_t *t = sl_stream_task_new(q.b, 0, 0, &TCONF, 0);
    CHECK(t != NULL);
    int64_t off = 0;
    for (int i = 0; i < 200; i++) {
        CHECK(put(t, "ann", 1 + (i * 73) % 200, i * 10, off++) == SL_OK);
        if (i < 100) {
            CHECK(put(t, "bob", 1000 + i, i * 10, off++) == SL_OK);
        }
    }
    CHECK(put(t, "cy", 5, 1000, off++) == SL_OK);   /* p50 5: HAVING drops it */
    CHECK(put(t, "zed", 1, 30000, off++) == SL_OK); /* the watermark past [0,10s) */
    CHECK(sl_stream_task_tick(t, 0) == SL_OK);
    const char *ann = find("o", "ann", "\"n\":200");
    const char *bob = find("o", "bob", "\"n\":100");
    CHECK(ann && bob);
    CHECK(!find_q("o", "cy", "\"n\"", true));
    /* exact: ann's rank floor(0.99 * 199) = 197 is 198, rank 99 is 100; bob's 1098 and 1049 */
    CHECK(fabs(field(ann, "p99") - 198) <= 2 && fabs(field(ann, "p50") - 100) <= 1);
    CHECK(fabs(field(bob, "p99") - 1098) <= 11 && fabs(field(bob, "p50") - 1049) <= 11);
    /* the DECIMAL(8,2) argument: a DECIMAL result with its 2 decimals (198.25 exact) */
    double pp = field(ann, "pp99");
    CHECK(fabs(pp - 198.25) <= 1.99 && fabs(pp * 100 - round(pp * 100)) < 1e-6);
    CHECK(field(ann, "p99") == round(field(ann, "p99"))); /* an INT argument: an INT result */
    sl_stream_task_free(t);
    unbuild(&q);
}

/* Only a window: per record key and window first (two tasks), then the sketches merge. */
TEST(sql_approx_percentile_pre_aggregates_and_merges) {
    N_OUT = 0;
    q_t q;
    CHECK(build(&q, "CREATE STREAM o WITH (topic='o') AS SELECT window_start, COUNT(*) AS n, "
                    "APPROX_PERCENTILE(CAST(qty AS DOUBLE), 0.9) AS p90 FROM kv "
                    "GROUP BY TUMBLE(ts, INTERVAL '10' SECOND)"));
    CHECK(strstr(q.plan, "aggregate o-partial (pre-aggregation per record key and window"));
    sl_stream_task_t *t0 = sl_stream_task_new(q.b, 0, 0, &TCONF, 0);
    sl_stream_task_t *t1 = sl_stream_task_new(q.b, 0, 1, &TCONF, 0);
    sl_stream_task_t *fin = sl_stream_task_new(q.b, 1, 0, &TCONF, 0);
    CHECK(t0 && t1 && fin);
    int64_t off = 0;
    for (int i = 1; i <= 1000; i++) { /* 1..500 on one task, 501..1000 on the other */
        CHECK(put(i <= 500 ? t0 : t1, i <= 500 ? "ann" : "bob", i, i, off++) == SL_OK);
    }
    CHECK(put(t0, "ann", 1, 40000, off++) == SL_OK);
    CHECK(put(t1, "bob", 1, 40000, off++) == SL_OK);
    CHECK(sl_stream_task_tick(t0, 0) == SL_OK && sl_stream_task_tick(t1, 0) == SL_OK);
    const char *rp = "app-o-group-by-repartition";
    int n = N_OUT, partials = 0;
    for (int i = 0; i < n; i++) {
        if (!strcmp(OUT[i].topic, rp)) {
            partials++;
            sl_stream_rec_t r = {{(const uint8_t *)OUT[i].key, strlen(OUT[i].key)},
                                 {(const uint8_t *)OUT[i].value, OUT[i].vlen},
                                 OUT[i].ts,
                                 rp,
                                 0,
                                 i};
            CHECK(sl_stream_task_process(fin, 0, &r, 0) == SL_OK);
        }
    }
    CHECK_EQ_INT(partials, 2);
    int64_t h[3] = {1, 30000, 40000};
    static uint8_t late[24 + 2 * SL_SQL_PCT_BYTES];
    memset(late, 0, sizeof late);
    memcpy(late, h, sizeof h);
    sl_stream_rec_t r = {
        {(const uint8_t *)"k", 1}, {late, 24 + q.s->q->state_bytes}, 39999, rp, 0, 99};
    CHECK(sl_stream_task_process(fin, 0, &r, 0) == SL_OK);
    CHECK(sl_stream_task_tick(fin, 0) == SL_OK);
    const char *row = find("o", "", "\"window_start\":0,\"n\":1000");
    CHECK(row != NULL);
    CHECK(fabs(field(row, "p90") - 900) <= 9); /* rank floor(0.9 * 999) = 899: the value 900 */
    sl_stream_task_free(t0);
    sl_stream_task_free(t1);
    sl_stream_task_free(fin);
    unbuild(&q);
}

/* ---- PERCENTILE_CONT: exact, interpolated between the two nearest ranks ---- */

/* The reference: PostgreSQL's definition, over a sorted copy of v. */
static double cont_ref(const double *v, size_t n, double p) {
    double *s = malloc(n * sizeof *s);
    memcpy(s, v, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_dbl);
    double r = p * (double)(n - 1);
    size_t lo = (size_t)floor(r), hi = (size_t)ceil(r);
    double x = s[lo] + (r - (double)lo) * (s[hi] - s[lo]);
    free(s);
    return x;
}

TEST(sql_percentile_cont_interpolates_per_group_and_window) {
    N_OUT = 0;
    q_t q;
    CHECK(build(&q, "CREATE STREAM o WITH (topic='o') AS SELECT \"user\", window_start, "
                    "COUNT(*) AS n, PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY qty) AS p50, "
                    "percentile_cont(0.9) within  group (order by qty) AS p90, "
                    "PERCENTILE_CONT(0.33) WITHIN GROUP (ORDER BY price) AS pp33, "
                    "PERCENTILE_CONT(1) WITHIN GROUP (ORDER BY qty * 2) AS top "
                    "FROM kv GROUP BY \"user\", TUMBLE(ts, INTERVAL '10' SECOND) "
                    "HAVING PERCENTILE_CONT(0) WITHIN GROUP (ORDER BY qty) < 1000"));
    sl_stream_task_t *t = sl_stream_task_new(q.b, 0, 0, &TCONF, 0);
    CHECK(t != NULL);
    double qty[300], price[300];
    int64_t off = 0;
    size_t n = 0;
    for (int i = 0; i < 300; i++) { /* ann: a shuffle of 300 values with repeats, in [0, 10s) */
        int v = 1 + (i * 37) % 150 + (i % 7 == 0 ? 500 : 0);
        qty[n] = v;
        price[n++] = v + 0.25; /* put's price: qty.25 */
        CHECK(put(t, "ann", v, i * 10, off++) == SL_OK);
    }
    CHECK(put(t, "cy", 42, 500, off++) == SL_OK);    /* one value: every percentile is it */
    CHECK(put(t, "bob", 2000, 600, off++) == SL_OK); /* HAVING drops it */
    CHECK(put(t, "zed", 1, 30000, off++) == SL_OK);  /* the watermark past [0,10s) */
    CHECK(sl_stream_task_tick(t, 0) == SL_OK);
    const char *ann = find("o", "ann", "\"n\":300");
    const char *cy = find("o", "cy", "\"n\":1");
    CHECK(ann && cy);
    CHECK(!find_q("o", "bob", "\"n\"", true));
    double dq[300];
    for (size_t i = 0; i < n; i++) {
        dq[i] = 2 * qty[i];
    }
    CHECK(fabs(field(ann, "p50") - cont_ref(qty, n, 0.5)) < 1e-9);
    CHECK(fabs(field(ann, "p90") - cont_ref(qty, n, 0.9)) < 1e-9);
    CHECK(fabs(field(ann, "pp33") - cont_ref(price, n, 0.33)) < 1e-9);
    CHECK(fabs(field(ann, "top") - cont_ref(dq, n, 1)) < 1e-9);
    CHECK(field(ann, "p90") != round(field(ann, "p90"))); /* rank 269.1: between two values */
    CHECK(field(cy, "p50") == 42 && field(cy, "p90") == 42 && field(cy, "pp33") == 42.25);
    /* PostgreSQL's percentile_cont(0.25) of 1, 2, 3, 4 is 1.75 */
    double four[] = {4, 2, 1, 3};
    CHECK(cont_ref(four, 4, 0.25) == 1.75);
    sl_stream_task_free(t);
    unbuild(&q);
}

/* A group keeps at most SL_SQL_PCTC_MAX values: the record past it fails, with the reason. */
TEST(sql_percentile_cont_state_is_bounded) {
    N_OUT = 0;
    q_t q;
    CHECK(build(&q, "CREATE STREAM o WITH (topic='o') AS SELECT \"user\", "
                    "PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY qty) AS p50 "
                    "FROM kv GROUP BY \"user\", TUMBLE(ts, INTERVAL '10' SECOND)"));
    CHECK(q.s->q->state_bytes >= 8 + SL_SQL_PCTC_MAX * 8);
    sl_stream_task_t *t = sl_stream_task_new(q.b, 0, 0, &TCONF, 0);
    CHECK(t != NULL);
    for (int i = 0; i < SL_SQL_PCTC_MAX; i++) {
        CHECK(put(t, "ann", i, i, i) == SL_OK);
    }
    int before = N_OUT;
    sl_err_t err = put(t, "ann", 7, 5000, SL_SQL_PCTC_MAX);
    /* dead-lettered (this task's policy) or failed: either way not added */
    bool dead = false;
    for (int i = before; i < N_OUT; i++) {
        dead |= strstr(OUT[i].topic, "dead") || strstr(OUT[i].topic, "dlq");
    }
    CHECK(err != SL_OK || dead);
    CHECK(put(t, "zed", 1, 30000, SL_SQL_PCTC_MAX + 1) == SL_OK);
    CHECK(sl_stream_task_tick(t, 0) == SL_OK);
    const char *ann = find("o", "ann", "\"p50\":");
    CHECK(ann && field(ann, "p50") == (SL_SQL_PCTC_MAX - 1) / 2.0);
    sl_stream_task_free(t);
    unbuild(&q);
}

static bool refused(const char *sql, const char *what) {
    char err[SL_ERRLEN], text[2048];
    sl_sql_catalog_t *c = sl_sql_catalog_new();
    snprintf(text, sizeof text, "%s%s", ddl, sql);
    sl_sql_stmt_t *s = sl_sql_parse(c, text, err, sizeof err);
    bool ok = !s && strstr(err, what) && strstr(err, "line 2, column ");
    if (!ok) {
        fprintf(stderr, "  %s: %s\n", sql, s ? "accepted" : err);
    }
    sl_sql_stmts_free(s);
    sl_sql_catalog_free(c);
    return ok;
}

TEST(sql_percentile_cont_errors) {
    const char *g = " FROM kv GROUP BY \"user\", TUMBLE(ts, INTERVAL '1' SECOND)";
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT PERCENTILE_CONT(0.5) AS p%s", g);
    CHECK(refused(sql, "PERCENTILE_CONT takes the percentile, then WITHIN GROUP (ORDER BY"));
    snprintf(sql, sizeof sql, "SELECT MAX(qty) WITHIN GROUP (ORDER BY qty) AS p%s", g);
    CHECK(refused(sql, "WITHIN GROUP is supported for PERCENTILE_CONT only"));
    snprintf(sql, sizeof sql, "SELECT PERCENTILE_CONT(0.5, 0.1) WITHIN GROUP (ORDER BY qty) AS p%s",
             g);
    CHECK(refused(sql, "PERCENTILE_CONT takes one argument: the percentile"));
    snprintf(sql, sizeof sql, "SELECT PERCENTILE_CONT(1.5) WITHIN GROUP (ORDER BY qty) AS p%s", g);
    CHECK(refused(sql, "PERCENTILE_CONT's percentile must be a number literal from 0 to 1"));
    snprintf(sql, sizeof sql, "SELECT PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY \"user\") AS p%s",
             g);
    CHECK(refused(sql, "PERCENTILE_CONT expects a number, got VARCHAR"));
    snprintf(sql, sizeof sql, "SELECT PERCENTILE_CONT(0.5) WITHIN GROUP (qty) AS p%s", g);
    CHECK(refused(sql, "expected"));
    /* ORDER stays a name elsewhere */
    char err[SL_ERRLEN];
    sl_sql_catalog_t *c = sl_sql_catalog_new();
    sl_sql_stmt_t *s = sl_sql_parse(
        c, "CREATE STREAM x (\"order\" INT, within INT) WITH (topic='x');", err, sizeof err);
    CHECK(s != NULL);
    sl_sql_stmts_free(s);
    sl_sql_catalog_free(c);
}

/* Session windows merge their values: two sessions bridged by a third record become one, whose
 * percentile is over all three (through the GROUP BY repartition: the merge path). */
TEST(sql_percentile_cont_merges_sessions) {
    N_OUT = 0;
    q_t q;
    CHECK(build(&q, "CREATE STREAM o WITH (topic='o') AS SELECT \"user\", COUNT(*) AS n, "
                    "PERCENTILE_CONT(0.25) WITHIN GROUP (ORDER BY qty) AS p25 "
                    "FROM kv GROUP BY \"user\", SESSION(ts, INTERVAL '1' SECOND)"));
    sl_stream_task_t *t0 = sl_stream_task_new(q.b, 0, 0, &TCONF, 0);
    sl_stream_task_t *agg = sl_stream_task_new(q.b, 1, 0, &TCONF, 0);
    CHECK(t0 && agg);
    CHECK(put(t0, "ann", 30, 0, 0) == SL_OK);
    CHECK(put(t0, "ann", 10, 1600, 1) == SL_OK); /* two sessions: [0] and [1600] */
    CHECK(put(t0, "ann", 20, 800, 2) == SL_OK);  /* bridges them */
    CHECK(put(t0, "zed", 1, 60000, 3) == SL_OK); /* the watermark past them */
    const char *rp = "app-o-group-by-repartition";
    int n = N_OUT, fed = 0;
    for (int i = 0; i < n; i++) {
        if (!strcmp(OUT[i].topic, rp)) {
            sl_stream_rec_t r = {{(const uint8_t *)OUT[i].key, OUT[i].klen},
                                 {(const uint8_t *)OUT[i].value, OUT[i].vlen},
                                 OUT[i].ts,
                                 rp,
                                 0,
                                 fed++};
            CHECK(sl_stream_task_process(agg, 0, &r, 0) == SL_OK);
        }
    }
    CHECK_EQ_INT(fed, 4);
    CHECK(sl_stream_task_tick(agg, 0) == SL_OK);
    const char *ann = find("o", "ann", "\"n\":3");
    double three[] = {30, 10, 20};
    CHECK(ann && field(ann, "p25") == cont_ref(three, 3, 0.25) && field(ann, "p25") == 15);
    sl_stream_task_free(t0);
    sl_stream_task_free(agg);
    unbuild(&q);
}

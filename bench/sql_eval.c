/* sql_eval.c -- what one record costs a SQL query on one core: the query's decode of the slots it
 * uses (jscan.c's validating scan, no tree), its WHERE and its projection to a JSON output row (the
 * work of the map node that `sluice run QUERY.sql` runs per record; the engine's own per-record
 * costs are not included), against a Jansson parse of the same record alone (what the decoder
 * used to start with).
 *
 *   build/bench/sql_eval [RECORDS]      (make bench-sql)
 *
 * Prints ns per record for Jansson's parse alone and for scan + decode + eval + output. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sql/sql_int.h"

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* One query over one record, n times: prints the Jansson parse and the SQL path per record. */
static int run(const char *name, const char *ddl, const char *doc, long n) {
    sl_sql_catalog_t *c = sl_sql_catalog_new();
    char err[SL_ERRLEN];
    sl_sql_stmt_t *list = sl_sql_parse(c, ddl, err, sizeof err);
    if (!list) {
        fprintf(stderr, "sql_eval: %s\n", err);
        return 1;
    }
    sl_sql_query_t *q = list->next->q;
    size_t len = strlen(doc);
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        json_t *r = json_loadb(doc, len, 0, NULL);
        json_decref(r);
    }
    double parse = (now_s() - t0) / (double)n * 1e9;
    sl_sql_val_t row[16];
    sl_sql_scratch_t mem = {0}, dmem = {0};
    sl_sql_decoder_t dec;
    sl_sql_decoder_init(&dec, q->paths, q->n_paths);
    sl_sql_out_t out = {0};
    t0 = now_s();
    for (long i = 0; i < n; i++) {
        const char *why;
        sl_sql_scratch_reset(&mem);
        sl_sql_scratch_reset(&dmem);
        if (!sl_sql_decode_with(&dec, doc, len, &dmem, row, NULL, &why)) {
            fprintf(stderr, "sql_eval: %s\n", why);
            return 1;
        }
        sl_sql_eval_t ev = {.row = row, .mem = &mem};
        sl_sql_val_t v;
        if (q->where && (!sl_sql_eval(&ev, q->where, &v) || v.null || !v.i)) {
            fprintf(stderr, "sql_eval: WHERE failed\n");
            return 1;
        }
        out.len = 0;
        sl_sql_out_raw(&out, "{", 1);
        for (size_t k = 0; k < q->n_out; k++) {
            if (!sl_sql_eval(&ev, q->out[k], &v)) {
                return 1;
            }
            sl_sql_out_raw(&out, k ? ",\"" : "\"", k ? 2 : 1);
            sl_sql_out_raw(&out, q->out_names[k], strlen(q->out_names[k]));
            sl_sql_out_raw(&out, "\":", 2);
            sl_sql_out_json(&out, q->out[k]->type, &v);
        }
        sl_sql_out_raw(&out, "}", 1);
    }
    double all = (now_s() - t0) / (double)n * 1e9;
    printf("%s: record %zu bytes, %zu slots decoded, output %s\n", name, len, q->n_paths, out.p);
    printf("  jansson parse only (the decoder before jscan.c): %.0f ns/record\n", parse);
    printf("  scan+decode+WHERE+project (jscan.c):         %.0f ns/record\n", all);
    sl_sql_out_free(&out);
    sl_sql_scratch_fini(&mem);
    sl_sql_scratch_fini(&dmem);
    sl_sql_decoder_fini(&dec);
    sl_sql_stmts_free(list);
    sl_sql_catalog_free(c);
    return 0;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    static const char *tx_ddl =
        "CREATE STREAM tx (ts TIMESTAMP, id VARCHAR, user VARCHAR, meta VARCHAR,"
        " body ROW(kind VARCHAR, txn VARCHAR, amount DECIMAL(12,2), currency VARCHAR,"
        " status VARCHAR)) WITH (topic='tx', timestamp='ts');\n"
        "SELECT user, UPPER(body.currency) AS cur, body.amount * 2 AS twice,"
        " CASE WHEN body.amount > 500 THEN 'big' ELSE 'small' END AS size"
        " FROM tx WHERE body.kind = 'transaction' AND body.status <> 'failed'";
    static const char *tx =
        "{\"ts\":1700000000123,\"id\":\"3-1234567\",\"user\":\"u4711\",\"meta\":\"src=web;"
        "region=eu-west;ab=b;ver=7\",\"body\":{\"kind\":\"transaction\",\"txn\":\"tx-"
        "9f8e7d6c5b4a3921\",\"from\":\"acct-00004711\",\"to\":\"acct-12345678\",\"amount\":"
        "\"742.17\",\"currency\":\"eur\",\"status\":\"settled\",\"lines\":[]}}";
    /* a bid of `sluice bench --nexmark` and bench/nexmark's q1 */
#define BID_DDL                                                                                    \
    "CREATE STREAM bid (event_type INT, auction BIGINT, bidder BIGINT, price BIGINT,"              \
    " channel VARCHAR, url VARCHAR, \"dateTime\" BIGINT, extra VARCHAR)"                           \
    " WITH (topic='nexmark', timestamp='dateTime');\n"
    static const char *q1_ddl = BID_DDL "SELECT auction, bidder, 0.908 * price AS price,"
                                        " \"dateTime\", extra FROM bid WHERE event_type = 2";
    static const char *bid =
        "{\"event_type\":2,\"auction\":1007,\"bidder\":1042,\"price\":2573,\"channel\":\"Google\","
        "\"url\":\"https://www.nexmark.com/pfx/item.htm\",\"dateTime\":1795804178632,\"extra\":"
        "\"yyaqqbbdbdcfgvzvxxkdllwnmtaakwmmsztwpfzcnfgydjuulolicqrksvkpldyyhhp\"}";
    return run("transaction", tx_ddl, tx, n) || run("nexmark bid, q1", q1_ddl, bid, n);
}

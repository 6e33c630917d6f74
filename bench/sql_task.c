/* sql_task.c -- what a Nexmark record costs a stream task, SQL against C, with no broker and no
 * client library: the same generated events (`sluice bench --nexmark`'s generator) go through a
 * task built from bench/nexmark/qN.sql and through one built from the C version
 * (build/examples/nexmark.so, loaded as `sluice run` loads it), whose output records are copied
 * as a producer copies them. This is the part of `bench/run-sql-vs-c`'s ratio that the engine
 * and the SQL compiler decide; the client library's and the kernel's share of each event is the
 * same for both, so it only moves the end-to-end ratio towards 1.
 *
 *   build/bench/sql_task [EVENTS] [ROUNDS] [QUERY...]   (make bench-sql; default 200000 5 q0 q1 q2)
 *
 * Prints, per query, the best round's ns per event for C and SQL and the median of the rounds'
 * SQL / C ratios of events per second (C and SQL alternate within each round). */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/nexmark.h"
#include "sql/sql.h"
#include "stream/graph.h"
#include "stream/task.h"

typedef sl_err_t job_fn(sl_stream_builder_t *b, int argc, char **argv);

static size_t out_n;
static char out_copy[SL_NEXMARK_MAX_BYTES * 2];

/* The task's output: copied, as librdkafka copies a produced value. */
static sl_err_t sink(void *opaque, const char *topic, int32_t partition, sl_bytes_t key,
                     sl_bytes_t value, int64_t ts, const sl_stream_hdr_t *h, size_t nh,
                     const sl_stream_stage_t *stage) {
    (void)opaque, (void)topic, (void)partition, (void)key, (void)ts, (void)h, (void)nh;
    (void)stage;
    if (value.p && value.len <= sizeof out_copy) {
        memcpy(out_copy, value.p, value.len);
    }
    out_n++;
    return SL_OK;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Seconds to run every event through a task of b (offsets from `base`, so no row is cached). */
static double run(sl_stream_builder_t *b, const sl_stream_rec_t *ev, size_t n, int64_t base) {
    sl_stream_task_conf_t conf = {"bench", NULL, SL_STREAM_ON_ERROR_DEAD_LETTER, sink, NULL};
    sl_stream_task_t *t = sl_stream_task_new(b, 0, 0, &conf, 0);
    double t0 = now_s();
    for (size_t i = 0; i < n; i++) {
        sl_stream_rec_t r = ev[i];
        r.offset = base + (int64_t)i;
        if (sl_stream_task_process(t, 0, &r, 0) != SL_OK) {
            fprintf(stderr, "sql_task: the task failed at event %zu\n", i);
            exit(1);
        }
    }
    double dt = now_s() - t0;
    sl_stream_task_free(t);
    return dt;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 200000;
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    static char *def_q[] = {"q0", "q1", "q2"};
    char **qs = argc > 3 ? argv + 3 : def_q;
    int nq = argc > 3 ? argc - 3 : 3;
    if (!n || rounds < 1 || rounds > 99) {
        fprintf(stderr, "usage: sql_task [EVENTS] [ROUNDS 1-99] [QUERY...]\n");
        return 2;
    }
    /* the library beside this binary's build directory: build/bench/sql_task -> build/examples */
    char so[4096];
    snprintf(so, sizeof so, "%.4000s", argv[0]);
    char *slash = strrchr(so, '/');
    snprintf(slash ? slash + 1 : so, sizeof so - (size_t)(slash ? slash + 1 - so : 0),
             "../examples/nexmark.so");
    void *lib = dlopen(so, RTLD_NOW);
    job_fn *job = lib ? (job_fn *)dlsym(lib, "sl_stream_job") : NULL;
    if (!job) {
        fprintf(stderr, "sql_task: %s\n", dlerror());
        return 1;
    }
    sl_nexmark_gen_t g = {.seed = 42, .base_ms = 1700000000000, .event_rate = 100000};
    sl_stream_rec_t *ev = calloc(n, sizeof *ev);
    char *text = malloc(n * SL_NEXMARK_MAX_BYTES);
    if (!ev || !text) {
        return 1;
    }
    size_t bytes = 0; /* back to back, as in a fetched batch */
    for (size_t i = 0; i < n; i++) {
        sl_nexmark_event_t e;
        char *p = text + bytes;
        sl_nexmark_event(&g, i, p, SL_NEXMARK_MAX_BYTES, &e);
        ev[i] =
            (sl_stream_rec_t){{NULL, 0}, {(const uint8_t *)p, e.len}, e.date_time, "nexmark", 0, 0};
        bytes += e.len;
    }
    printf("%zu Nexmark events (%zu bytes on average), %d rounds, C and SQL alternating\n\n", n,
           bytes / n, rounds);
    printf("| query | C ns/event (best) | SQL ns/event (best) | SQL / C per round (median) |\n");
    printf("|---|---|---|---|\n");
    int64_t base = 0;
    for (int k = 0; k < nq; k++) {
        char path[256], err[SL_ERRLEN];
        snprintf(path, sizeof path, "bench/nexmark/%s.sql", qs[k]);
        sl_stream_builder_t *bs = sl_stream_builder_new(), *bc = sl_stream_builder_new();
        sl_sql_stmt_t *list; /* as `sluice run qN.sql` builds it */
        char *jargv[] = {"nexmark.so", qs[k], "nexmark", "out", NULL};
        if (sl_sql_build_file(bs, path, NULL, &list, err, sizeof err) != SL_OK) {
            fprintf(stderr, "sql_task: %s\n", err);
            return 1;
        }
        if (job(bc, 4, jargv) != SL_OK || sl_stream_graph_check(bc)) {
            fprintf(stderr, "sql_task: nexmark.so %s would not build\n", qs[k]);
            return 1;
        }
        double best_c = 1e9, best_s = 1e9, ratio[99];
        size_t outs[2] = {0, 0};
        for (int r = 0; r < rounds; r++) {
            out_n = 0;
            double tc = run(bc, ev, n, base += (int64_t)n);
            outs[0] = out_n;
            out_n = 0;
            double ts = run(bs, ev, n, base += (int64_t)n);
            outs[1] = out_n;
            best_c = tc < best_c ? tc : best_c;
            best_s = ts < best_s ? ts : best_s;
            ratio[r] = tc / ts;
        }
        qsort(ratio, (size_t)rounds, sizeof *ratio, cmp_d);
        printf("| %s | %.0f | %.0f | %.2f |\n", qs[k], best_c / (double)n * 1e9,
               best_s / (double)n * 1e9, ratio[rounds / 2]);
        if (outs[0] != outs[1]) {
            fprintf(stderr, "sql_task: %s: C wrote %zu records, SQL %zu\n", qs[k], outs[0],
                    outs[1]);
            return 1;
        }
        sl_stream_builder_free(bs);
        sl_stream_builder_free(bc);
        sl_sql_stmts_free(list); /* and its catalog */
    }
    free(ev);
    free(text);
    return 0;
}

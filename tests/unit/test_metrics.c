/* test_metrics.c -- the registry rendered as Prometheus text 0.0.4, compared byte for byte. */
#include <math.h>
#include <stdlib.h>

#include "common/metrics.h"
#include "harness.h"

static void collect_a(sl_metrics_out_t *out, void *opaque) {
    (void)opaque;
    sl_metrics_emit(out, "sl_part_bytes", "gauge", "Bytes per partition.", "p=\"0\"", 10);
    sl_metrics_emit(out, "sl_conns", "gauge", "Connections by listener.", "listener=\"admin\"", 1);
    sl_metrics_emit(out, "sl_part_bytes", "gauge", "Bytes per partition.", "p=\"1\"", 20);
}

static void collect_b(sl_metrics_out_t *out, void *opaque) {
    int *calls = opaque;
    (*calls)++;
    sl_metrics_emit(out, "sl_groups", "counter", "Groups.", "", 2);
    sl_metrics_emit(out, "sl_part_bytes", "gauge", "Bytes per partition.", "p=\"2\"", 30);
}

/* Renders into a NUL-terminated heap string. */
static char *render(void) {
    sl_buf_t b = {0};
    sl_metrics_render(&b);
    sl_buf_append(&b, "", 1);
    return (char *)b.data;
}

static int same_text(const char *got, const char *want) {
    if (!strcmp(got, want)) {
        return 1;
    }
    size_t i = 0;
    while (got[i] && got[i] == want[i]) {
        i++;
    }
    fprintf(stderr, "  text differs at byte %zu:\n--- got:\n%s\n--- want:\n%s\n", i, got + i,
            want + i);
    return 0;
}

static const char expected[] = "# HELP sl_req_total Requests handled.\n"
                               "# TYPE sl_req_total counter\n"
                               "sl_req_total{api=\"Produce\"} 9007199254740993\n"
                               "sl_req_total{api=\"Fetch\"} 0\n"
                               "# HELP sl_conns Open connections.\\nPer listener \\\\ total\n"
                               "# TYPE sl_conns gauge\n"
                               "sl_conns 2.5\n"
                               "sl_conns{listener=\"admin\"} 1\n"
                               "# TYPE sl_ratio gauge\n"
                               "sl_ratio{x=\"a\"} 0.1\n"
                               "sl_ratio{x=\"b\"} -3\n"
                               "sl_ratio{x=\"c\"} NaN\n"
                               "sl_ratio{x=\"d\"} 1e+20\n"
                               "sl_ratio{x=\"e\"} +Inf\n"
                               "# HELP sl_lat_seconds Request latency.\n"
                               "# TYPE sl_lat_seconds histogram\n"
                               "sl_lat_seconds_bucket{le=\"0.0001\"} 1\n"
                               "sl_lat_seconds_bucket{le=\"0.00025\"} 2\n"
                               "sl_lat_seconds_bucket{le=\"0.0005\"} 2\n"
                               "sl_lat_seconds_bucket{le=\"0.001\"} 2\n"
                               "sl_lat_seconds_bucket{le=\"0.0025\"} 3\n"
                               "sl_lat_seconds_bucket{le=\"0.005\"} 3\n"
                               "sl_lat_seconds_bucket{le=\"0.01\"} 3\n"
                               "sl_lat_seconds_bucket{le=\"0.025\"} 3\n"
                               "sl_lat_seconds_bucket{le=\"0.05\"} 3\n"
                               "sl_lat_seconds_bucket{le=\"0.1\"} 3\n"
                               "sl_lat_seconds_bucket{le=\"0.25\"} 3\n"
                               "sl_lat_seconds_bucket{le=\"0.5\"} 3\n"
                               "sl_lat_seconds_bucket{le=\"1\"} 3\n"
                               "sl_lat_seconds_bucket{le=\"2.5\"} 3\n"
                               "sl_lat_seconds_bucket{le=\"5\"} 3\n"
                               "sl_lat_seconds_bucket{le=\"10\"} 3\n"
                               "sl_lat_seconds_bucket{le=\"+Inf\"} 4\n"
                               "sl_lat_seconds_sum 20.001701\n"
                               "sl_lat_seconds_count 4\n"
                               "sl_lat_seconds_bucket{api=\"Fetch\",le=\"0.0001\"} 1\n"
                               "sl_lat_seconds_bucket{api=\"Fetch\",le=\"0.00025\"} 1\n"
                               "sl_lat_seconds_bucket{api=\"Fetch\",le=\"0.0005\"} 1\n"
                               "sl_lat_seconds_bucket{api=\"Fetch\",le=\"0.001\"} 1\n"
                               "sl_lat_seconds_bucket{api=\"Fetch\",le=\"0.0025\"} 1\n"
                               "sl_lat_seconds_bucket{api=\"Fetch\",le=\"0.005\"} 1\n"
                               "sl_lat_seconds_bucket{api=\"Fetch\",le=\"0.01\"} 1\n"
                               "sl_lat_seconds_bucket{api=\"Fetch\",le=\"0.025\"} 1\n"
                               "sl_lat_seconds_bucket{api=\"Fetch\",le=\"0.05\"} 1\n"
                               "sl_lat_seconds_bucket{api=\"Fetch\",le=\"0.1\"} 1\n"
                               "sl_lat_seconds_bucket{api=\"Fetch\",le=\"0.25\"} 1\n"
                               "sl_lat_seconds_bucket{api=\"Fetch\",le=\"0.5\"} 1\n"
                               "sl_lat_seconds_bucket{api=\"Fetch\",le=\"1\"} 1\n"
                               "sl_lat_seconds_bucket{api=\"Fetch\",le=\"2.5\"} 1\n"
                               "sl_lat_seconds_bucket{api=\"Fetch\",le=\"5\"} 1\n"
                               "sl_lat_seconds_bucket{api=\"Fetch\",le=\"10\"} 1\n"
                               "sl_lat_seconds_bucket{api=\"Fetch\",le=\"+Inf\"} 1\n"
                               "sl_lat_seconds_sum{api=\"Fetch\"} 0\n"
                               "sl_lat_seconds_count{api=\"Fetch\"} 1\n"
                               "# HELP sl_part_bytes Bytes per partition.\n"
                               "# TYPE sl_part_bytes gauge\n"
                               "sl_part_bytes{p=\"0\"} 10\n"
                               "sl_part_bytes{p=\"1\"} 20\n"
                               "sl_part_bytes{p=\"2\"} 30\n"
                               "# HELP sl_groups Groups.\n"
                               "# TYPE sl_groups counter\n"
                               "sl_groups 2\n";

TEST(render_exact) {
    int calls_b = 0;
    sl_counter_t *produce =
        sl_metrics_counter("sl_req_total", "api=\"Produce\"", "Requests handled.");
    sl_counter_t *fetch = sl_metrics_counter("sl_req_total", "api=\"Fetch\"", "later help ignored");
    CHECK(sl_metrics_counter("sl_req_total", "api=\"Produce\"", NULL) == produce);
    CHECK(fetch != produce);
    sl_counter_add(produce, 1);
    sl_counter_add(produce, 9007199254740992ull); /* 2^53 + 1: counters stay exact integers */

    sl_gauge_t *conns =
        sl_metrics_gauge("sl_conns", NULL, "Open connections.\nPer listener \\ total");
    sl_gauge_set(conns, 2);
    sl_gauge_add(conns, 0.5);
    sl_gauge_set(sl_metrics_gauge("sl_ratio", "x=\"a\"", NULL), 0.1);
    sl_gauge_set(sl_metrics_gauge("sl_ratio", "x=\"b\"", ""), -3);
    sl_gauge_set(sl_metrics_gauge("sl_ratio", "x=\"c\"", ""), NAN);
    sl_gauge_set(sl_metrics_gauge("sl_ratio", "x=\"d\"", ""), 1e20);
    sl_gauge_set(sl_metrics_gauge("sl_ratio", "x=\"e\"", ""), INFINITY);

    sl_histo_t *lat = sl_metrics_histogram("sl_lat_seconds", "", "Request latency.");
    sl_histo_observe_us(lat, 100);      /* exactly on the first bound: le="0.0001" */
    sl_histo_observe_us(lat, 101);      /* just past it */
    sl_histo_observe_us(lat, 1500);     /* le="0.0025" */
    sl_histo_observe_us(lat, 20000000); /* past 10 s: +Inf only */
    sl_histo_observe_us(sl_metrics_histogram("sl_lat_seconds", "api=\"Fetch\"", NULL), 0);

    sl_metrics_add_collector(collect_a, NULL);
    sl_metrics_add_collector(collect_b, &calls_b);
    char *text = render();
    CHECK(same_text(text, expected));
    free(text);
    CHECK_EQ_INT(calls_b, 1);

    /* Without collector b its samples disappear, and nothing else changes. */
    sl_metrics_remove_collector(collect_b, &calls_b);
    text = render();
    CHECK(strstr(text, "sl_groups") == NULL);
    CHECK(strstr(text, "sl_part_bytes{p=\"2\"}") == NULL);
    size_t n = strlen(text);
    CHECK(n > 0 && text[n - 1] == '\n');
    free(text);
    CHECK_EQ_INT(calls_b, 1);

    sl_metrics_reset();
    text = render();
    CHECK_EQ_INT(strlen(text), 0);
    free(text);
}

TEST(sum_is_exact_seconds) {
    sl_histo_t *h = sl_metrics_histogram("sl_d_seconds", "", "d");
    for (int i = 0; i < 3; i++) {
        sl_histo_observe_us(h, 1000001); /* 1.000001 s: float seconds would drift */
    }
    sl_histo_observe_us(h, 3);
    char *text = render();
    CHECK(strstr(text, "\nsl_d_seconds_sum 3.000006\nsl_d_seconds_count 4\n") != NULL);
    CHECK(strstr(text, "sl_d_seconds_bucket{le=\"0.0001\"} 1\n") != NULL);
    CHECK(strstr(text, "sl_d_seconds_bucket{le=\"2.5\"} 4\n") != NULL);
    free(text);
    sl_metrics_reset();
}

/* Only collectors: families in order of first emission, one header each. */
TEST(collectors_only) {
    sl_metrics_add_collector(collect_a, NULL);
    char *text = render();
    CHECK(same_text(text, "# HELP sl_part_bytes Bytes per partition.\n"
                          "# TYPE sl_part_bytes gauge\n"
                          "sl_part_bytes{p=\"0\"} 10\n"
                          "sl_part_bytes{p=\"1\"} 20\n"
                          "# HELP sl_conns Connections by listener.\n"
                          "# TYPE sl_conns gauge\n"
                          "sl_conns{listener=\"admin\"} 1\n"));
    free(text);
    sl_metrics_reset();
}

/* A deleted partition's series leave the exposition; the others keep their order and values,
 * and the same labels registered again start from zero. Many removals stay cheap. */
TEST(counter_remove) {
    sl_counter_t *c[3];
    const char *labels[3] = {"p=\"0\"", "p=\"1\"", "p=\"2\""};
    for (int i = 0; i < 3; i++) {
        c[i] = sl_metrics_counter("sl_in", labels[i], "In.");
        sl_counter_add(c[i], (uint64_t)(i + 1));
    }
    sl_metrics_counter_remove(c[1]);
    char *text = render();
    CHECK(same_text(text, "# HELP sl_in In.\n"
                          "# TYPE sl_in counter\n"
                          "sl_in{p=\"0\"} 1\n"
                          "sl_in{p=\"2\"} 3\n"));
    free(text);
    sl_metrics_counter_remove(c[0]); /* head */
    sl_metrics_counter_remove(c[2]); /* tail */
    sl_metrics_counter_remove(NULL);
    sl_counter_t *again = sl_metrics_counter("sl_in", labels[1], "In.");
    sl_counter_add(again, 5);
    text = render();
    CHECK(same_text(text, "# HELP sl_in In.\n"
                          "# TYPE sl_in counter\n"
                          "sl_in{p=\"1\"} 5\n"));
    free(text);
    /* 20,000 series registered and removed in reverse: no quadratic walk, nothing left. */
    static sl_counter_t *many[20000];
    for (int i = 0; i < 20000; i++) {
        char l[32];
        snprintf(l, sizeof l, "p=\"%d\"", i);
        many[i] = sl_metrics_counter("sl_many", l, "Many.");
    }
    for (int i = 19999; i >= 0; i--) {
        sl_metrics_counter_remove(many[i]);
    }
    sl_metrics_counter_remove(again);
    text = render();
    CHECK(!strstr(text, "sl_many{") && !strstr(text, "sl_in{"));
    free(text);
    sl_metrics_reset();
}

/* A collector's histogram (from an sl_hist_t of microseconds): cumulative buckets at the fixed
 * second bounds, sum and count, one header for its family; a gauge under the same name is
 * dropped rather than rendered into a histogram family. */
static void collect_hist(sl_metrics_out_t *out, void *opaque) {
    sl_metrics_emit_hist(out, "sl_lat_seconds", "Latency.", "lane=\"0\"", opaque);
    sl_metrics_emit(out, "sl_lat_seconds", "gauge", "Latency.", "lane=\"9\"", 1);
    sl_metrics_emit_hist(out, "sl_lat_seconds", "Latency.", "lane=\"1\"", opaque);
}

TEST(collector_histogram) {
    sl_hist_t *h = sl_hist_new();
    sl_hist_record(h, 100);       /* exactly on the first bound */
    sl_hist_record_n(h, 3000, 2); /* in (2.5 ms, 5 ms] */
    sl_hist_record(h, 20000000);  /* past the last bound: +Inf only */
    sl_metrics_add_collector(collect_hist, h);
    char *text = render();
    CHECK(strstr(text, "# HELP sl_lat_seconds Latency.\n# TYPE sl_lat_seconds histogram\n"
                       "sl_lat_seconds_bucket{lane=\"0\",le=\"0.0001\"} 1\n") == text);
    CHECK(strstr(text, "sl_lat_seconds_bucket{lane=\"0\",le=\"0.0025\"} 1\n") != NULL);
    CHECK(strstr(text, "sl_lat_seconds_bucket{lane=\"0\",le=\"0.005\"} 3\n") != NULL);
    CHECK(strstr(text, "sl_lat_seconds_bucket{lane=\"0\",le=\"10\"} 3\n") != NULL);
    CHECK(strstr(text, "sl_lat_seconds_bucket{lane=\"0\",le=\"+Inf\"} 4\n") != NULL);
    CHECK(strstr(text, "sl_lat_seconds_sum{lane=\"0\"} 20.0061\n"
                       "sl_lat_seconds_count{lane=\"0\"} 4\n") != NULL);
    CHECK(strstr(text, "sl_lat_seconds_count{lane=\"1\"} 4\n") != NULL);
    CHECK(strstr(text, "lane=\"9\"") == NULL);
    const char *type = strstr(text, "# TYPE");
    CHECK(type && !strstr(type + 1, "# TYPE")); /* one family header */
    free(text);
    sl_metrics_reset();
    sl_hist_free(h);
}

/* test_stream_lane_metrics.c -- the stream engine's lane series as /metrics renders them: the
 * lag of each standby copy, and a copy gone (taken over or dropped) leaving the exposition. */
#include <stdlib.h>

#include "common/metrics.h"
#include "harness.h"
#include "stream/metrics.h"

static void collect_lane(sl_metrics_out_t *out, void *opaque) {
    sl_stream_metrics_collect(out, "app", opaque, 0);
}

/* Renders into a NUL-terminated heap string. */
static char *render(void) {
    sl_buf_t b = {0};
    sl_metrics_render(&b);
    sl_buf_append(&b, "", 1);
    return (char *)b.data;
}

TEST(standby_lag_per_copy) {
    sl_stream_lane_metrics_t m;
    sl_stream_lane_metrics_init(&m, 1);
    sl_stream_standby_row_t rows[] = {{1, 0, 0}, {1, 3, 42}};
    sl_stream_metrics_publish_standbys(&m, rows, 2);
    sl_metrics_add_collector(collect_lane, &m);
    char *text = render();
    CHECK(strstr(text, "# TYPE sluice_stream_standby_lag_records gauge\n") != NULL);
    CHECK(strstr(text, "sluice_stream_standby_lag_records{app_id=\"app\",lane=\"1\",task=\"1_0\"} "
                       "0\n") != NULL);
    CHECK(strstr(text, "sluice_stream_standby_lag_records{app_id=\"app\",lane=\"1\",task=\"1_3\"} "
                       "42\n") != NULL);
    free(text);
    sl_stream_metrics_publish_standbys(&m, rows, 1); /* 1_3 taken over */
    text = render();
    CHECK(strstr(text, "task=\"1_0\"} 0\n") != NULL);
    CHECK(strstr(text, "task=\"1_3\"") == NULL);
    free(text);
    sl_metrics_reset();
    sl_stream_lane_metrics_free(&m);
}

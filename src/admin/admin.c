/* admin.c -- the admin endpoints (admin.h) as one sl_http handler.
 *
 * /metrics appends three process series after the registry's own, read at scrape time:
 *   process_resident_memory_bytes  /proc/self/stat field 24 (rss, pages) * page size
 *   process_cpu_seconds_total      /proc/self/stat fields 14 + 15 (utime + stime, clock ticks)
 *   sluice_memory_in_use_bytes     mallinfo2(): heap bytes in use, arenas plus mmapped blocks
 * The first two follow the names of Prometheus's standard process collector, so stock dashboards
 * work. When /proc cannot be read the two are left out rather than reported as 0. */
#include "admin.h"

#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/metrics.h"
#include "common/util.h"
#include "http/http.h"

struct sl_admin {
    sl_http_t *http;
    sl_admin_hooks_t hooks;
};

static void reply(sl_http_response_t *resp, int status, const char *text) {
    resp->status = status;
    sl_buf_append(&resp->body, text, strlen(text));
}

static void appendf(sl_buf_t *out, const char *fmt, ...) SL_PRINTF(2, 3);
static void appendf(sl_buf_t *out, const char *fmt, ...) {
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > 0) {
        sl_buf_append(out, line, SL_MIN((size_t)n, sizeof line - 1));
    }
}

/* Reads utime, stime and rss from /proc/self/stat. The command name (field 2) is in parentheses
 * and may contain spaces or ')', so parsing starts after the last ')'. */
static bool read_proc_stat(unsigned long long *ticks, unsigned long long *rss_pages) {
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f) {
        return false;
    }
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p) {
        return false;
    }
    unsigned long long utime = 0, stime = 0;
    long long rss = -1;
    int field = 2; /* the ')' ends field 2 */
    for (char *s = p + 1; *s && field < 24;) {
        while (*s == ' ') {
            s++;
        }
        field++;
        char *end = s;
        if (field == 14) {
            utime = strtoull(s, &end, 10);
        } else if (field == 15) {
            stime = strtoull(s, &end, 10);
        } else if (field == 24) {
            rss = strtoll(s, &end, 10);
        }
        while (*end && *end != ' ') {
            end++;
        }
        s = end;
    }
    if (field < 24 || rss < 0) {
        return false;
    }
    *ticks = utime + stime;
    *rss_pages = (unsigned long long)rss;
    return true;
}

static void process_metrics(sl_buf_t *out) {
    unsigned long long ticks, rss_pages;
    if (read_proc_stat(&ticks, &rss_pages)) {
        long page = sysconf(_SC_PAGESIZE), hz = sysconf(_SC_CLK_TCK);
        appendf(out,
                "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
                "# TYPE process_resident_memory_bytes gauge\n"
                "process_resident_memory_bytes %llu\n",
                rss_pages * (unsigned long long)(page > 0 ? page : 4096));
        appendf(out,
                "# HELP process_cpu_seconds_total Total user and system CPU time spent in "
                "seconds.\n"
                "# TYPE process_cpu_seconds_total counter\n"
                "process_cpu_seconds_total %.2f\n",
                (double)ticks / (double)(hz > 0 ? hz : 100));
    }
    struct mallinfo2 mi = mallinfo2();
    appendf(out,
            "# HELP sluice_memory_in_use_bytes Heap bytes allocated and in use (malloc).\n"
            "# TYPE sluice_memory_in_use_bytes gauge\n"
            "sluice_memory_in_use_bytes %zu\n",
            mi.uordblks + mi.hblkhd);
}

static void handle(const sl_http_request_t *req, sl_http_response_t *resp, void *opaque) {
    sl_admin_t *admin = opaque;
    enum { HEALTH, READY, METRICS, NONE } route = NONE;
    if (!strcmp(req->path, "/health")) {
        route = HEALTH;
    } else if (!strcmp(req->path, "/ready")) {
        route = READY;
    } else if (!strcmp(req->path, "/metrics")) {
        route = METRICS;
    }
    if (route == NONE) {
        reply(resp, 404, "not found\n");
        return;
    }
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        resp->allow = "GET, HEAD";
        reply(resp, 405, "method not allowed\n");
        return;
    }
    switch (route) {
    case HEALTH:
        if (admin->hooks.healthy && !admin->hooks.healthy(admin->hooks.opaque)) {
            reply(resp, 503, "unhealthy\n");
        } else {
            reply(resp, 200, "ok\n");
        }
        break;
    case READY:
        if (admin->hooks.ready && !admin->hooks.ready(admin->hooks.opaque)) {
            reply(resp, 503, "not ready\n");
        } else {
            reply(resp, 200, "ready\n");
        }
        break;
    case METRICS:
        resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
        sl_metrics_render(&resp->body);
        process_metrics(&resp->body);
        break;
    case NONE:
        break;
    }
}

sl_admin_t *sl_admin_start(sl_loop_t *loop, const char *host, int port,
                           const sl_admin_hooks_t *hooks, char *err) {
    sl_admin_t *admin = sl_xcalloc(1, sizeof *admin);
    if (hooks) {
        admin->hooks = *hooks;
    }
    admin->http = sl_http_start(loop, host, port, handle, admin, err);
    if (!admin->http) {
        free(admin);
        return NULL;
    }
    return admin;
}

int sl_admin_port(const sl_admin_t *admin) {
    return sl_http_port(admin->http);
}

void sl_admin_stop(sl_admin_t *admin) {
    if (!admin) {
        return;
    }
    sl_http_stop(admin->http);
    free(admin);
}

/* admin.c -- /health (the process answers), /ready (the broker serves clients), /metrics
 * (every registered metric plus process CPU, resident memory and heap in use). */
#include "admin.h"

#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/metrics.h"
#include "common/util.h"
#include "http/http.h"

struct sl_admin {
    sl_http_t *http;
    sl_admin_hooks_t hooks;
};

static void text(sl_http_response_t *resp, int status, const char *s) {
    resp->status = status;
    sl_buf_append(&resp->body, s, strlen(s));
}

static void process_metrics(sl_buf_t *out) {
    char line[256];
    long page = sysconf(_SC_PAGESIZE), ticks = sysconf(_SC_CLK_TCK);
    unsigned long long rss_pages = 0, utime = 0, stime = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        unsigned long long size;
        if (fscanf(f, "%llu %llu", &size, &rss_pages) != 2) {
            rss_pages = 0;
        }
        fclose(f);
    }
    f = fopen("/proc/self/stat", "r");
    if (f) {
        char buf[1024];
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = '\0';
        fclose(f);
        const char *p = strrchr(buf, ')'); /* the command name may contain spaces */
        if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
                        &stime) != 2) {
            utime = stime = 0;
        }
    }
    struct mallinfo2 mi = mallinfo2();
    int n = snprintf(line, sizeof line,
                     "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
                     "# TYPE process_resident_memory_bytes gauge\n"
                     "process_resident_memory_bytes %llu\n",
                     rss_pages * (unsigned long long)page);
    sl_buf_append(out, line, (size_t)n);
    n = snprintf(line, sizeof line,
                 "# HELP process_cpu_seconds_total Total user and system CPU time in seconds.\n"
                 "# TYPE process_cpu_seconds_total counter\n"
                 "process_cpu_seconds_total %.2f\n",
                 (double)(utime + stime) / (double)(ticks > 0 ? ticks : 100));
    sl_buf_append(out, line, (size_t)n);
    n = snprintf(line, sizeof line,
                 "# HELP sluice_memory_in_use_bytes Heap bytes allocated and in use.\n"
                 "# TYPE sluice_memory_in_use_bytes gauge\n"
                 "sluice_memory_in_use_bytes %zu\n",
                 mi.uordblks + mi.hblkhd);
    sl_buf_append(out, line, (size_t)n);
}

static void handle(const sl_http_request_t *req, sl_http_response_t *resp, void *opaque) {
    sl_admin_t *admin = opaque;
    bool get = !strcmp(req->method, "GET") || !strcmp(req->method, "HEAD");
    if (!strcmp(req->path, "/health")) {
        get ? text(resp, 200, "ok\n") : text(resp, 405, "method not allowed\n");
    } else if (!strcmp(req->path, "/ready")) {
        if (!get) {
            text(resp, 405, "method not allowed\n");
        } else if (admin->hooks.ready && !admin->hooks.ready(admin->hooks.opaque)) {
            text(resp, 503, "not ready\n");
        } else {
            text(resp, 200, "ready\n");
        }
    } else if (!strcmp(req->path, "/metrics")) {
        if (!get) {
            text(resp, 405, "method not allowed\n");
            return;
        }
        resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
        sl_metrics_render(&resp->body);
        process_metrics(&resp->body);
    } else {
        text(resp, 404, "not found\n");
    }
}

sl_admin_t *sl_admin_start(sl_loop_t *loop, const char *host, int port,
                           const sl_admin_hooks_t *hooks, char *err) {
    sl_admin_t *admin = sl_xcalloc(1, sizeof *admin);
    admin->hooks = *hooks;
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

/* cmd_run.c -- `sluice run PIPELINE.so`: loads a pipeline (a shared library defining
 * sl_stream_job), builds it and runs it against any Kafka cluster until SIGINT/SIGTERM.
 * `sluice run QUERY.sql` compiles the file's persistent SQL queries (src/sql) instead. */
#include <dlfcn.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admin/admin.h"
#include "cli/cli.h"
#include "common/log.h"
#include "common/metrics.h"
#include "net/listener.h"
#include "net/loop.h"
#include "sql/sql.h"
#include "stream/metrics.h"
#include "stream/runtime.h"

/* What a pipeline library defines: declares its graph on b; argv holds the arguments after
 * `--` on the command line (argv[0] is the library path). */
typedef sl_err_t sl_stream_job_fn(sl_stream_builder_t *b, int argc, char **argv);

/* A .sql file's job: its statements, compiled into b, live until the builder is freed. */
static sl_sql_stmt_t *sql_stmts;
static sl_err_t sql_job(sl_stream_builder_t *b, int argc, char **argv) {
    (void)argc;
    char err[SL_ERRLEN];
    sl_err_t rc =
        sl_sql_build_file(b, argv[0], getenv("SLUICE_SQL_CATALOG"), &sql_stmts, err, sizeof err);
    if (rc != SL_OK) {
        fprintf(stderr, "sluice: %s\n", err);
    }
    return rc;
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: sluice run PIPELINE.so|QUERY.sql --app-id ID [options] [-- pipeline args]\n"
            "Runs a stream pipeline (a shared library defining sl_stream_job; see examples/, or\n"
            "a SQL file of persistent queries, docs/sql.md; catalog: $SLUICE_SQL_CATALOG)\n"
            "against any Kafka cluster, exactly once by default. Scale out by starting more\n"
            "instances with the same --app-id (and distinct --instance-id).\n"
            "  --app-id ID        application.id: consumer group and internal topic prefix\n"
            "  --instance-id ID   stable id of this instance (transactional ids; default 0)\n"
            "  --threads N        lanes (threads), each a consumer + transactional producer\n"
            "  --state-dir DIR    state.dir: RocksDB stores (default /tmp/sluice-streams)\n"
            "  --admin HOST:PORT  serve /metrics, /health, /ready (admin.listen; port 0: any)\n"
            "  --set key=value    processing.guarantee=exactly_once_v2|at_least_once,\n"
            "                     commit.interval.ms=N (fixed), or commit.interval.mode=\n"
            "                     adaptive (the default) within commit.interval.min.ms=20\n"
            "                     and commit.interval.max.ms=1000, inflight.max.records=\n"
            "                     100000, inflight.max.bytes=67108864, admin.listen=H:P,\n"
            "                     on.error=dead-letter|skip|fail, dead.letter.topic=<app>-dlq,\n"
            "                     max.task.idle.ms=0, default.dsl.store=in_memory|rocksDB\n"
            "                     (stores that do not choose), statestore.cache.max.bytes=\n"
            "                     10485760 (per RocksDB store), group.instance.id=ID (static\n"
            "                     membership: lanes join as ID-<lane>), num.standby.replicas=\n"
            "                     0|1 (warm copies of the tasks other instances run)\n"
            "options: -b HOST:PORT (default 127.0.0.1:9092), -X librdkafka.key=value\n");
}

static sl_stream_t *running;
static void on_sig(int sig) {
    (void)sig;
    if (running) {
        sl_stream_stop(running);
    }
}

/* A positive integer setting; -1 with a message otherwise. */
static int positive(const char *key, const char *v, long long *out) {
    char *end;
    long long x = strtoll(v, &end, 10);
    if (end == v || *end || x <= 0 || x > (1ll << 40)) {
        sl_cli_error(key, "must be a positive integer");
        return -1;
    }
    *out = x;
    return 0;
}

/* What --set decided about the interval, resolved after every setting is read. */
typedef struct run_opts {
    bool interval_set, mode_set;
    const char *admin;
} run_opts_t;

static int apply_set(sl_stream_run_conf_t *rc, run_opts_t *ro, const char *kv) {
    const char *eq = strchr(kv, '=');
    if (!eq) {
        sl_cli_error("--set", "expected key=value");
        return -1;
    }
    size_t kl = (size_t)(eq - kv);
    const char *v = eq + 1;
    if (kl == 20 && !strncmp(kv, "processing.guarantee", kl)) {
        if (!strcmp(v, "at_least_once")) {
            rc->at_least_once = true;
        } else if (!strcmp(v, "exactly_once_v2") || !strcmp(v, "exactly_once")) {
            rc->at_least_once = false;
        } else {
            sl_cli_error("processing.guarantee", "exactly_once_v2 or at_least_once");
            return -1;
        }
    } else if (kl == 18 && !strncmp(kv, "commit.interval.ms", kl)) {
        long long x;
        if (positive("commit.interval.ms", v, &x) != 0 || x > INT32_MAX) {
            return -1;
        }
        rc->commit_interval_ms = (int)x;
        ro->interval_set = true;
    } else if (kl == 20 && !strncmp(kv, "commit.interval.mode", kl)) {
        if (strcmp(v, "adaptive") != 0 && strcmp(v, "fixed") != 0) {
            sl_cli_error("commit.interval.mode", "adaptive or fixed");
            return -1;
        }
        rc->commit_interval_adaptive = !strcmp(v, "adaptive");
        ro->mode_set = true;
    } else if ((kl == 22 && !strncmp(kv, "commit.interval.min.ms", kl)) ||
               (kl == 22 && !strncmp(kv, "commit.interval.max.ms", kl))) {
        long long x;
        if (positive("commit.interval.min.ms/max.ms", v, &x) != 0 || x > INT32_MAX) {
            return -1;
        }
        *(kv[20] == 'i' ? &rc->commit_interval_min_ms : &rc->commit_interval_max_ms) = (int)x;
    } else if (kl == 20 && !strncmp(kv, "inflight.max.records", kl)) {
        return positive("inflight.max.records", v, &rc->inflight_max_records);
    } else if (kl == 18 && !strncmp(kv, "inflight.max.bytes", kl)) {
        return positive("inflight.max.bytes", v, &rc->inflight_max_bytes);
    } else if (kl == 12 && !strncmp(kv, "admin.listen", kl)) {
        ro->admin = v;
    } else if (kl == 8 && !strncmp(kv, "on.error", kl)) {
        if (!strcmp(v, "dead-letter")) {
            rc->on_error = SL_STREAM_ON_ERROR_DEAD_LETTER;
        } else if (!strcmp(v, "skip")) {
            rc->on_error = SL_STREAM_ON_ERROR_SKIP;
        } else if (!strcmp(v, "fail")) {
            rc->on_error = SL_STREAM_ON_ERROR_FAIL;
        } else {
            sl_cli_error("on.error", "dead-letter, skip or fail");
            return -1;
        }
    } else if (kl == 16 && !strncmp(kv, "max.task.idle.ms", kl)) {
        rc->max_task_idle_ms = atoi(v);
        if (rc->max_task_idle_ms < 0) {
            sl_cli_error("max.task.idle.ms", "must be 0 or a positive number of milliseconds");
            return -1;
        }
    } else if (kl == 17 && !strncmp(kv, "group.instance.id", kl)) {
        if (!*v || strlen(v) > 200) {
            sl_cli_error("group.instance.id", "1 to 200 characters");
            return -1;
        }
        rc->group_instance_id = v;
    } else if (kl == 20 && !strncmp(kv, "num.standby.replicas", kl)) {
        if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0) {
            sl_cli_error("num.standby.replicas", "0 or 1 (each instance keeps one copy of every "
                                                 "stateful task it does not run)");
            return -1;
        }
        rc->standby_replicas = atoi(v);
    } else if (kl == 17 && !strncmp(kv, "dead.letter.topic", kl)) {
        rc->dead_letter = v;
    } else if (kl == 17 && !strncmp(kv, "default.dsl.store", kl)) {
        if (!strcasecmp(v, "rocksdb")) {
            rc->default_backend = SL_STREAM_ROCKSDB;
        } else if (!strcmp(v, "in_memory")) {
            rc->default_backend = SL_STREAM_MEMORY;
        } else {
            sl_cli_error("default.dsl.store", "in_memory or rocksDB");
            return -1;
        }
    } else if (kl == 26 && !strncmp(kv, "statestore.cache.max.bytes", kl)) {
        char *end;
        unsigned long long n = strtoull(v, &end, 10);
        if (!*v || *end || n == 0 || n > (1ull << 40)) {
            sl_cli_error("statestore.cache.max.bytes", "a positive number of bytes");
            return -1;
        }
        rc->cache_bytes = (size_t)n;
    } else {
        fprintf(stderr, "sluice: --set: unknown setting '%.*s'\n", (int)kl, kv);
        return -1;
    }
    return 0;
}

/* The admin HTTP endpoints of a job: their own event loop on a thread of their own, so a scrape
 * never waits for a lane (the lanes publish what /metrics reads, stream/metrics.h). */
typedef struct admin {
    sl_loop_t *loop;
    sl_admin_t *admin;
    pthread_t th;
    bool started;
} admin_t;

static void *admin_main(void *arg) {
    admin_t *a = arg;
    if (sl_loop_run(a->loop) != SL_OK) {
        sl_log(SL_LOG_WARN, "run", "msg=\"admin loop stopped on an error\"");
    }
    return NULL;
}

static bool job_ready(void *opaque) {
    return sl_stream_ready(opaque);
}

static bool job_healthy(void *opaque) {
    return sl_stream_healthy(opaque);
}

/* Starts serving on `where` (HOST:PORT); 0, or -1 with a message. The loop and the registry are
 * set up here, before the loop's thread starts, and owned by that thread from then on. */
static int admin_start(admin_t *a, const char *where, sl_stream_t *s) {
    char host[256], err[SL_ERRLEN];
    int port;
    if (sl_parse_hostport(where, host, sizeof host, &port) != SL_OK) {
        sl_cli_error("--admin", "expected HOST:PORT");
        return -1;
    }
    if (!(a->loop = sl_loop_new())) {
        sl_cli_error("--admin", "cannot create the event loop");
        return -1;
    }
    sl_admin_hooks_t hooks = {job_ready, s, job_healthy};
    if (!(a->admin = sl_admin_start(a->loop, host, port, &hooks, err))) {
        sl_cli_error("--admin", err);
        sl_loop_free(a->loop);
        a->loop = NULL;
        return -1;
    }
    sl_metrics_add_collector(sl_stream_collect, s);
    /* Tests and scripts read the bound port from here (port 0 picks a free one). */
    fprintf(stderr, "sluice run: admin listening on %s:%d\n", host, sl_admin_port(a->admin));
    if (pthread_create(&a->th, NULL, admin_main, a) != 0) {
        sl_cli_error("--admin", "cannot start the admin thread");
        sl_metrics_remove_collector(sl_stream_collect, s);
        sl_admin_stop(a->admin);
        sl_loop_free(a->loop);
        a->loop = NULL;
        return -1;
    }
    a->started = true;
    return 0;
}

static void admin_stop(admin_t *a) {
    if (!a->started) {
        return;
    }
    sl_loop_stop_from_signal(a->loop);
    pthread_join(a->th, NULL);
    sl_admin_stop(a->admin);
    sl_metrics_reset();
    sl_loop_free(a->loop);
    a->started = false;
}

int sl_cmd_run(int argc, char **argv) {
    static const struct option opts[] = {
        {"brokers", required_argument, 0, 'b'},
        {"app-id", required_argument, 0, 'a'},
        {"instance-id", required_argument, 0, 'i'},
        {"threads", required_argument, 0, 't'},
        {"state-dir", required_argument, 0, 'd'},
        {"set", required_argument, 0, 's'},
        {"admin", required_argument, 0, 'A'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    sl_client_opts_t co = {0};
    sl_stream_run_conf_t rc = {0};
    run_opts_t ro = {0};
    const char *sets[32];
    int n_sets = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "b:X:a:i:t:s:A:h", opts, NULL)) != -1) {
        if (sl_client_opt(&co, c, optarg)) {
            continue;
        }
        switch (c) {
        case 'a':
            rc.app_id = optarg;
            break;
        case 'i':
            rc.instance_id = optarg;
            break;
        case 't':
            rc.lanes = atoi(optarg);
            break;
        case 'd':
            rc.state_dir = optarg;
            break;
        case 'A':
            ro.admin = optarg;
            break;
        case 's':
            if (n_sets == (int)SL_ARRAY_LEN(sets)) {
                sl_cli_error("--set", "too many settings");
                return 2;
            }
            sets[n_sets++] = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind >= argc || !rc.app_id) {
        usage(stderr);
        return 2;
    }
    for (int i = 0; i < n_sets; i++) {
        if (apply_set(&rc, &ro, sets[i]) != 0) {
            return 2;
        }
    }
    /* An explicit commit.interval.ms is kept fixed unless the mode says adaptive (then it is the
     * starting value); without it the interval adapts. */
    if (!ro.mode_set) {
        rc.commit_interval_adaptive = !ro.interval_set;
    }
    if (rc.commit_interval_min_ms && rc.commit_interval_max_ms &&
        rc.commit_interval_min_ms > rc.commit_interval_max_ms) {
        sl_cli_error("commit.interval.min.ms", "must not exceed commit.interval.max.ms");
        return 2;
    }
    const char *path = argv[optind];
    size_t plen = strlen(path);
    bool sql = plen > 4 && !strcmp(path + plen - 4, ".sql");
    void *lib = sql ? NULL : dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!sql && !lib) {
        sl_cli_error(path, dlerror());
        return 1;
    }
    sl_stream_job_fn *job =
        sql ? sql_job : (sl_stream_job_fn *)(uintptr_t)dlsym(lib, "sl_stream_job");
    if (!job) {
        sl_cli_error(path, "no sl_stream_job function");
        dlclose(lib);
        return 1;
    }
    rd_kafka_conf_t *client = sl_client_conf(&co); /* -b and -X, as the other commands */
    if (!client) {
        if (lib) {
            dlclose(lib);
        }
        return 2;
    }
    rc.client = client;
    sl_stream_builder_t *b = sl_stream_builder_new();
    /* The pipeline's own arguments: those after the library path (past an optional "--"). */
    int pargc = argc - optind;
    char **pargv = argv + optind;
    int rcode = 1;
    char errstr[512];
    if (job(b, pargc, pargv) != SL_OK) {
        sl_cli_error(path, "sl_stream_job failed");
    } else if (!(running = sl_stream_new(b, &rc, errstr, sizeof errstr))) {
        sl_cli_error(path, errstr);
    } else {
        struct sigaction sa = {0};
        sa.sa_handler = on_sig;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        admin_t adm = {0};
        if (ro.admin && admin_start(&adm, ro.admin, running) != 0) {
            sl_stream_free(running);
            running = NULL;
            sl_stream_builder_free(b);
            rd_kafka_conf_destroy(client);
            dlclose(lib);
            return 1;
        }
        sl_err_t err = sl_stream_run(running);
        admin_stop(&adm);
        sl_stream_task_stats_t st;
        uint64_t commits;
        sl_stream_totals(running, &st, &commits);
        fprintf(stderr,
                "sluice run: in=%llu out=%llu late=%llu dead_lettered=%llu skipped=%llu "
                "checkpoints=%llu\n",
                (unsigned long long)st.in, (unsigned long long)st.out, (unsigned long long)st.late,
                (unsigned long long)st.dead_lettered, (unsigned long long)st.skipped,
                (unsigned long long)commits);
        /* Latency p50/p99 per stage (ms): what /metrics has, for runs without --admin. */
        fprintf(stderr, "sluice run: latency ms p50/p99");
        static const char *const stage[] = {"produce_broker", "process", "commit_wait", "commit"};
        for (int i = 0; i <= SL_N_STAGES; i++) {
            fprintf(stderr, " %s=%.1f/%.1f", stage[i],
                    (double)sl_stream_stage_quantile_us(running, i, 0.5) / 1000.0,
                    (double)sl_stream_stage_quantile_us(running, i, 0.99) / 1000.0);
        }
        fprintf(stderr, "\n");
        if (err != SL_OK) {
            sl_cli_error("run", sl_stream_errmsg(running));
        } else {
            rcode = 0;
        }
        sl_stream_t *s = running;
        running = NULL;
        sl_stream_free(s);
    }
    sl_stream_builder_free(b);
    sl_sql_stmts_free(sql_stmts);
    sql_stmts = NULL;
    rd_kafka_conf_destroy(client);
    if (lib) {
        dlclose(lib);
    }
    return rcode;
}

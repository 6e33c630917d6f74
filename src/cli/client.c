/* client.c -- options, configuration, connection check and helpers shared by the
 * librdkafka-based commands. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"

int sl_client_opt(sl_client_opts_t *o, int opt, const char *arg) {
    if (opt == 'b') {
        o->brokers = arg;
        return 1;
    }
    if (opt == 'X') {
        if (o->n_props < (int)(sizeof o->props / sizeof o->props[0])) {
            o->props[o->n_props++] = arg;
        }
        return 1;
    }
    return 0;
}

const char *sl_client_brokers(const sl_client_opts_t *o) {
    if (o->brokers) {
        return o->brokers;
    }
    const char *env = getenv("SLUICE_BROKERS");
    return env && *env ? env : SL_CLI_DEFAULT_BROKERS;
}

void sl_cli_error(const char *what, const char *why) {
    fprintf(stderr, "sluice: %s: %s\n", what, why);
}

static bool set(rd_kafka_conf_t *conf, const char *k, const char *v) {
    char errstr[512];
    if (rd_kafka_conf_set(conf, k, v, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
        sl_cli_error(k, errstr);
        return false;
    }
    return true;
}

/* -X overrides, applied last so they win over anything the command set. */
static bool apply_props(rd_kafka_conf_t *conf, const sl_client_opts_t *o) {
    for (int i = 0; i < o->n_props; i++) {
        char kv[1024];
        snprintf(kv, sizeof kv, "%s", o->props[i]);
        char *eq = strchr(kv, '=');
        if (!eq) {
            sl_cli_error("-X", "expected key=value");
            return false;
        }
        *eq = '\0';
        if (!set(conf, kv, eq + 1)) {
            return false;
        }
    }
    return true;
}

rd_kafka_conf_t *sl_client_conf(const sl_client_opts_t *o) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (!set(conf, "bootstrap.servers", sl_client_brokers(o)) || !apply_props(conf, o)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return conf;
}

/* The last client-level error librdkafka reported, and whether every broker was down then. One
 * client per CLI process, so file-level state is enough. */
static char last_error[512];
static volatile int all_down;

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
    (void)rk;
    (void)opaque;
    /* Keep the first cause (e.g. "Connection refused") rather than the summary after it. */
    if (!last_error[0] || err != RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
        snprintf(last_error, sizeof last_error, "%s", reason);
    }
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || err == RD_KAFKA_RESP_ERR__RESOLVE ||
        err == RD_KAFKA_RESP_ERR__AUTHENTICATION) {
        all_down = 1;
    }
}

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    (void)rk;
    if (getenv("SLUICE_DEBUG")) {
        fprintf(stderr, "librdkafka %d %s: %s\n", level, fac, buf);
    }
}

rd_kafka_conf_t *sl_cli_conf(const sl_client_opts_t *o) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_conf_set_log_cb(conf, on_log);
    if (!set(conf, "bootstrap.servers", sl_client_brokers(o)) ||
        !set(conf, "allow.auto.create.topics", "false") || !apply_props(conf, o)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return conf;
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

rd_kafka_t *sl_cli_new(const sl_client_opts_t *o, rd_kafka_type_t type, rd_kafka_conf_t *conf) {
    char errstr[512];
    rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof errstr);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        sl_cli_error("client", errstr);
        return NULL;
    }
    /* A brokers-only metadata request in short slices, so that "every broker is down" (refused,
     * unresolvable) ends the wait at once instead of at the timeout. */
    int64_t deadline = now_ms() + SL_CLI_CONNECT_MS;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__TIMED_OUT;
    while (now_ms() < deadline) {
        const struct rd_kafka_metadata *md;
        err = rd_kafka_metadata(rk, 0, NULL, &md, 250);
        if (!err) {
            rd_kafka_metadata_destroy(md);
            all_down = 0;
            return rk;
        }
        rd_kafka_poll(rk, 0); /* serves on_error */
        if (all_down) {
            break;
        }
    }
    fprintf(stderr, "sluice: cannot reach the broker at %s: %s\n", sl_client_brokers(o),
            last_error[0] ? last_error : rd_kafka_err2str(err));
    fprintf(stderr, "sluice: is it running? (set the address with -b HOST:PORT or "
                    "SLUICE_BROKERS)\n");
    rd_kafka_destroy(rk);
    return NULL;
}

bool sl_cli_parse_i64(const char *what, const char *s, int64_t min, int64_t max, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || end == s) {
        fprintf(stderr, "sluice: %s: not an integer: '%s'\n", what, s);
        return false;
    }
    if (errno == ERANGE || v < min || v > max) {
        fprintf(stderr, "sluice: %s: %s is outside [%lld, %lld]\n", what, s, (long long)min,
                (long long)max);
        return false;
    }
    *out = v;
    return true;
}

rd_kafka_event_t *sl_cli_wait(rd_kafka_queue_t *q, rd_kafka_event_type_t type) {
    int64_t deadline = now_ms() + SL_CLI_TIMEOUT_MS;
    for (;;) {
        int64_t left = deadline - now_ms();
        rd_kafka_event_t *ev = left > 0 ? rd_kafka_queue_poll(q, (int)left) : NULL;
        if (!ev) {
            sl_cli_error("admin", "timed out waiting for the broker");
            return NULL;
        }
        if (rd_kafka_event_type(ev) == type) {
            if (rd_kafka_event_error(ev)) {
                sl_cli_error("admin", rd_kafka_event_error_string(ev));
                rd_kafka_event_destroy(ev);
                return NULL;
            }
            return ev;
        }
        rd_kafka_event_destroy(ev);
    }
}

const struct rd_kafka_metadata *sl_cli_metadata(rd_kafka_t *rk) {
    const struct rd_kafka_metadata *md;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, &md, SL_CLI_TIMEOUT_MS);
    if (err) {
        sl_cli_error("metadata", rd_kafka_err2str(err));
        return NULL;
    }
    return md;
}

const struct rd_kafka_metadata_topic *sl_cli_find_topic(const struct rd_kafka_metadata *md,
                                                        const char *name) {
    for (int i = 0; i < md->topic_cnt; i++) {
        if (!strcmp(md->topics[i].topic, name)) {
            return &md->topics[i];
        }
    }
    fprintf(stderr, "sluice: topic %s does not exist\n", name);
    return NULL;
}

int sl_cli_partition_count(rd_kafka_t *rk, const char *topic) {
    const struct rd_kafka_metadata *md = sl_cli_metadata(rk);
    if (!md) {
        return -1;
    }
    const struct rd_kafka_metadata_topic *t = sl_cli_find_topic(md, topic);
    int n = t ? t->partition_cnt : -1;
    rd_kafka_metadata_destroy(md);
    return n;
}

void sl_cli_print_json(json_t *j) {
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (s) {
        puts(s);
        free(s);
    }
    json_decref(j);
}

int sl_cli_listing_opts(int argc, char **argv, sl_client_opts_t *co, bool *json,
                        void (*usage)(FILE *f)) {
    static const struct option opts[] = {
        {"brokers", required_argument, 0, 'b'},
        {"json", no_argument, 0, 'j'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "b:X:h", opts, NULL)) != -1) {
        if (sl_client_opt(co, c, optarg)) {
            continue;
        }
        if (c == 'j') {
            *json = true;
        } else if (c == 'h') {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    return -1;
}

/* runner.c -- the consumer-group loop shared by every sink (see sink.h), its dead-letter
 * producer, its pause-while-waiting rule and its /metrics endpoint (libmicrohttpd, own thread). */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sink/sink.h"

struct sl_sink {
    const sl_sink_config_t *cfg;
    const sl_sink_backend_t *be;
    void *self;
    rd_kafka_t *rk;  /* consumer */
    rd_kafka_t *dlq; /* producer for dead letters */
    char dlq_topic[256];
    sl_sink_stats_t st;
    rd_kafka_message_t **batch; /* records polled while the batch was being filled */
    int n_batch;
    rd_kafka_message_t **held; /* records polled while waiting: next batch */
    int n_held, cap_held;
    uint64_t epoch;       /* bumped by every revoke */
    uint64_t batch_epoch; /* epoch when the current batch began */
    bool paused;
    atomic_int dlq_failed;
    int exit_rc; /* 1 after sl_sink_fail */
};

static volatile sig_atomic_t stopping;
static void on_signal(int sig) {
    (void)sig;
    stopping = 1;
}

int64_t sl_sink_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sl_sink_fail(sl_sink_t *s, const char *why) {
    fprintf(stderr, "sluice: sink: %s\n", why);
    s->exit_rc = 1;
    stopping = 1;
}

sl_sink_stats_t *sl_sink_stats(sl_sink_t *s) {
    return &s->st;
}

const sl_sink_config_t *sl_sink_config(const sl_sink_t *s) {
    return s->cfg;
}

bool sl_sink_live(const sl_sink_t *s) {
    return !stopping && s->epoch == s->batch_epoch;
}

static void drop_all(rd_kafka_message_t **v, int *n) {
    for (int i = 0; i < *n; i++) {
        rd_kafka_message_destroy(v[i]);
    }
    *n = 0;
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque) {
    sl_sink_t *s = opaque;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        if (s->be->assign) {
            s->be->assign(s->self, s, parts);
        }
        rd_kafka_assign(rk, parts);
        atomic_store(&s->st.assigned, parts->cnt);
        fprintf(stderr, "sluice sink: assigned %d partition(s)\n", parts->cnt);
        return;
    }
    /* Revoked (eager protocol: all of them). Records not yet delivered belong to the next owner,
     * who starts from the committed or stored offset. */
    s->epoch++;
    drop_all(s->held, &s->n_held);
    s->paused = false;
    if (s->be->commit_sync) {
        rd_kafka_commit(rk, NULL, 0); /* what was stored: delivered records only */
    }
    rd_kafka_assign(rk, NULL);
    atomic_store(&s->st.assigned, 0);
    fprintf(stderr, "sluice sink: partitions revoked\n");
}

static void set_paused(sl_sink_t *s, bool pause) {
    if (s->paused == pause) {
        return;
    }
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(s->rk, &parts) == RD_KAFKA_RESP_ERR_NO_ERROR && parts) {
        if (pause) {
            rd_kafka_pause_partitions(s->rk, parts);
        } else {
            rd_kafka_resume_partitions(s->rk, parts);
        }
        rd_kafka_topic_partition_list_destroy(parts);
    }
    s->paused = pause;
}

static void hold(sl_sink_t *s, rd_kafka_message_t *m) {
    if (s->n_held == s->cap_held) {
        s->cap_held = s->cap_held ? s->cap_held * 2 : 64;
        s->held = realloc(s->held, sizeof *s->held * (size_t)s->cap_held);
        if (!s->held) {
            abort();
        }
    }
    s->held[s->n_held++] = m;
}

/* One consumer poll; a record goes to `into` (the batch) or, while waiting, to the held list. An
 * error event is logged and dropped. */
static void poll_one(sl_sink_t *s, int timeout_ms, bool waiting) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(s->rk, timeout_ms);
    if (!m) {
        return;
    }
    if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            fprintf(stderr, "sluice sink: consumer: %s\n", rd_kafka_message_errstr(m));
        }
        rd_kafka_message_destroy(m);
        return;
    }
    if (waiting || s->n_batch >= s->cfg->batch_max) {
        hold(s, m);
    } else {
        s->batch[s->n_batch++] = m;
    }
}

bool sl_sink_wait(sl_sink_t *s, int64_t ms) {
    set_paused(s, true);
    int64_t end = sl_sink_now_ms() + ms;
    while (sl_sink_live(s)) {
        int64_t left = end - sl_sink_now_ms();
        if (left <= 0) {
            return true;
        }
        poll_one(s, left > 100 ? 100 : (int)left, true);
    }
    return false;
}

void sl_sink_dead_letter(sl_sink_t *s, const rd_kafka_message_t *m, const char *reason,
                         const char *detail) {
    char part[16], off[24];
    snprintf(part, sizeof part, "%d", (int)m->partition);
    snprintf(off, sizeof off, "%lld", (long long)m->offset);
    const char *topic = rd_kafka_topic_name(m->rkt);
    rd_kafka_resp_err_t err = rd_kafka_producev(
        s->dlq, RD_KAFKA_V_TOPIC(s->dlq_topic), RD_KAFKA_V_KEY(m->key, m->key_len),
        RD_KAFKA_V_VALUE(m->payload, m->len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_HEADER("dlq.reason", reason, -1), RD_KAFKA_V_HEADER("dlq.error", detail, -1),
        RD_KAFKA_V_HEADER("dlq.topic", topic, -1), RD_KAFKA_V_HEADER("dlq.partition", part, -1),
        RD_KAFKA_V_HEADER("dlq.offset", off, -1), RD_KAFKA_V_END);
    if (err) {
        fprintf(stderr, "sluice sink: dead letter: %s\n", rd_kafka_err2str(err));
        atomic_store(&s->dlq_failed, 1);
        return;
    }
    atomic_fetch_add(&s->st.dead_lettered, 1);
}

static void on_dlq_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    sl_sink_t *s = opaque;
    if (m->err) {
        fprintf(stderr, "sluice sink: dead letter not written: %s\n", rd_kafka_err2str(m->err));
        atomic_store(&s->dlq_failed, 1);
    }
}

bool sl_sink_dlq_flush(sl_sink_t *s) {
    while (rd_kafka_outq_len(s->dlq) > 0) {
        if (!sl_sink_live(s)) {
            return false;
        }
        rd_kafka_flush(s->dlq, 100);
        poll_one(s, 0, true); /* keep the group alive */
    }
    bool ok = !atomic_exchange(&s->dlq_failed, 0);
    return ok;
}

/* The sum over assigned partitions of (cached high watermark - position). */
static void update_lag(sl_sink_t *s) {
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(s->rk, &parts) || !parts) {
        return;
    }
    rd_kafka_position(s->rk, parts);
    long long lag = 0;
    for (int i = 0; i < parts->cnt; i++) {
        int64_t lo, hi;
        rd_kafka_topic_partition_t *p = &parts->elems[i];
        if (rd_kafka_get_watermark_offsets(s->rk, p->topic, p->partition, &lo, &hi) == 0 &&
            hi >= 0 && p->offset >= 0 && hi > p->offset) {
            lag += hi - p->offset;
        }
    }
    rd_kafka_topic_partition_list_destroy(parts);
    atomic_store(&s->st.lag, lag);
}

static enum MHD_Result serve(void *cls, struct MHD_Connection *c, const char *url,
                             const char *method, const char *version, const char *data,
                             size_t *data_len, void **ptr) {
    (void)version;
    (void)data;
    (void)data_len;
    (void)ptr;
    sl_sink_t *s = cls;
    char body[2048];
    unsigned code = MHD_HTTP_OK;
    if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
        code = MHD_HTTP_METHOD_NOT_ALLOWED;
        snprintf(body, sizeof body, "method not allowed\n");
    } else if (!strcmp(url, "/health")) {
        snprintf(body, sizeof body, "ok\n");
    } else if (!strcmp(url, "/metrics")) {
        sl_sink_stats_t *st = &s->st;
        snprintf(body, sizeof body,
                 "# TYPE sluice_sink_delivered_total counter\nsluice_sink_delivered_total %lld\n"
                 "# TYPE sluice_sink_retried_total counter\nsluice_sink_retried_total %lld\n"
                 "# TYPE sluice_sink_dead_lettered_total counter\n"
                 "sluice_sink_dead_lettered_total %lld\n"
                 "# TYPE sluice_sink_skipped_total counter\nsluice_sink_skipped_total %lld\n"
                 "# TYPE sluice_sink_batches_total counter\nsluice_sink_batches_total %lld\n"
                 "# TYPE sluice_sink_lag gauge\nsluice_sink_lag %lld\n"
                 "# TYPE sluice_sink_breaker_state gauge\n"
                 "# HELP sluice_sink_breaker_state 0 closed, 1 open, 2 half-open\n"
                 "sluice_sink_breaker_state %d\n"
                 "# TYPE sluice_sink_breaker_opens_total counter\n"
                 "sluice_sink_breaker_opens_total %lld\n"
                 "# TYPE sluice_sink_assigned_partitions gauge\n"
                 "sluice_sink_assigned_partitions %d\n",
                 atomic_load(&st->delivered), atomic_load(&st->retried),
                 atomic_load(&st->dead_lettered), atomic_load(&st->skipped),
                 atomic_load(&st->batches), atomic_load(&st->lag), atomic_load(&st->breaker_state),
                 atomic_load(&st->breaker_opens), atomic_load(&st->assigned));
    } else {
        code = MHD_HTTP_NOT_FOUND;
        snprintf(body, sizeof body, "not found\n");
    }
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4");
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

static struct MHD_Daemon *admin_start(sl_sink_t *s, const char *hostport) {
    char host[128];
    const char *colon = strrchr(hostport, ':');
    if (!colon || colon == hostport || (size_t)(colon - hostport) >= sizeof host) {
        fprintf(stderr, "sluice: --admin: expected HOST:PORT, got '%s'\n", hostport);
        return NULL;
    }
    snprintf(host, sizeof host, "%.*s", (int)(colon - hostport), hostport);
    char *end;
    long port = strtol(colon + 1, &end, 10);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (*end || port < 0 || port > 65535 || inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        fprintf(stderr, "sluice: --admin: expected IPv4-HOST:PORT, got '%s'\n", hostport);
        return NULL;
    }
    struct MHD_Daemon *d =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, (uint16_t)port, NULL, NULL, serve, s,
                         MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "sluice: --admin: cannot listen on %s: %s\n", hostport, strerror(errno));
    }
    return d;
}

/* librdkafka's own lines: warnings and worse, except CONFWARN (-X is given to the consumer and
 * the producer alike, so each warns about the other's keys); everything with SLUICE_DEBUG=1. */
static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    (void)rk;
    if (getenv("SLUICE_DEBUG") || (level <= 4 && strcmp(fac, "CONFWARN"))) {
        fprintf(stderr, "librdkafka %d %s: %s\n", level, fac, buf);
    }
}

static bool conf_set(rd_kafka_conf_t *c, const char *k, const char *v) {
    char errstr[256];
    if (rd_kafka_conf_set(c, k, v, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "sluice: %s: %s\n", k, errstr);
        return false;
    }
    return true;
}

/* Stores next offsets for the batch (and commits them when the backend relies on the group). */
static void store_offsets(sl_sink_t *s) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(s->n_batch);
    for (int i = 0; i < s->n_batch; i++) {
        rd_kafka_message_t *m = s->batch[i];
        rd_kafka_topic_partition_t *p =
            rd_kafka_topic_partition_list_find(l, rd_kafka_topic_name(m->rkt), m->partition);
        if (!p) {
            p = rd_kafka_topic_partition_list_add(l, rd_kafka_topic_name(m->rkt), m->partition);
        }
        if (m->offset + 1 > p->offset) {
            p->offset = m->offset + 1;
        }
    }
    rd_kafka_offsets_store(s->rk, l);
    rd_kafka_commit(s->rk, l, 1); /* async: a hint for postgres, the truth for webhook */
    rd_kafka_topic_partition_list_destroy(l);
}

int sl_sink_run(const sl_sink_config_t *cfg, rd_kafka_conf_t *conf, const sl_sink_backend_t *be,
                void *self) {
    sl_sink_t *s = calloc(1, sizeof *s);
    s->cfg = cfg;
    s->be = be;
    s->self = self;
    snprintf(s->dlq_topic, sizeof s->dlq_topic, "%s", cfg->dlq_topic ? cfg->dlq_topic : "");
    if (!cfg->dlq_topic) {
        snprintf(s->dlq_topic, sizeof s->dlq_topic, "%s.dlq", cfg->topic);
    }
    s->batch = calloc((size_t)cfg->batch_max, sizeof *s->batch);
    int rc = 1;
    struct MHD_Daemon *admin = NULL;
    char errstr[512];

    rd_kafka_conf_set_log_cb(conf, on_log);
    rd_kafka_conf_t *pconf = rd_kafka_conf_dup(conf);
    rd_kafka_conf_set_opaque(pconf, s);
    rd_kafka_conf_set_dr_msg_cb(pconf, on_dlq_delivery);
    if (!conf_set(pconf, "enable.idempotence", "true")) {
        rd_kafka_conf_destroy(pconf);
        rd_kafka_conf_destroy(conf);
        goto out;
    }
    s->dlq = rd_kafka_new(RD_KAFKA_PRODUCER, pconf, errstr, sizeof errstr);
    if (!s->dlq) {
        fprintf(stderr, "sluice: dead-letter producer: %s\n", errstr);
        rd_kafka_conf_destroy(pconf);
        rd_kafka_conf_destroy(conf);
        goto out;
    }

    rd_kafka_conf_set_opaque(conf, s);
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    /* Offsets are stored only after delivery; -X may still override anything here except
     * the rebalance callback. */
    if (!conf_set(conf, "group.id", cfg->group) || !conf_set(conf, "enable.auto.commit", "false") ||
        !conf_set(conf, "enable.auto.offset.store", "false") ||
        !conf_set(conf, "auto.offset.reset", "earliest") ||
        !conf_set(conf, "queued.max.messages.kbytes", "4096")) {
        rd_kafka_conf_destroy(conf);
        goto out;
    }
    s->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!s->rk) {
        fprintf(stderr, "sluice: consumer: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        goto out;
    }
    rd_kafka_poll_set_consumer(s->rk);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, cfg->topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(s->rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (err) {
        fprintf(stderr, "sluice: subscribe %s: %s\n", cfg->topic, rd_kafka_err2str(err));
        goto out;
    }
    if (cfg->admin && !(admin = admin_start(s, cfg->admin))) {
        goto out;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    fprintf(stderr, "sluice sink: %s: topic %s, group %s, dead letters to %s\n", be->name,
            cfg->topic, cfg->group, s->dlq_topic);

    int64_t next_stats = sl_sink_now_ms() + 1000, next_log = sl_sink_now_ms() + cfg->log_every_ms;
    while (!stopping) {
        /* Fill the batch: held records first, then the consumer, until full or lingered. */
        s->batch_epoch = s->epoch;
        int take = s->n_held < cfg->batch_max ? s->n_held : cfg->batch_max;
        if (take > 0) {
            memcpy(s->batch, s->held, sizeof *s->batch * (size_t)take);
            memmove(s->held, s->held + take, sizeof *s->held * (size_t)(s->n_held - take));
            s->n_held -= take;
        }
        s->n_batch = take;
        set_paused(s, false);
        int64_t deadline = -1;
        while (!stopping && s->n_batch < cfg->batch_max && s->epoch == s->batch_epoch) {
            int64_t now = sl_sink_now_ms();
            if (s->n_batch > 0 && deadline < 0) {
                deadline = now + cfg->linger_ms;
            }
            if (deadline >= 0 && now >= deadline) {
                break;
            }
            poll_one(s, deadline >= 0 ? (int)(deadline - now) : 100, false);
            if (s->n_batch == 0 && now >= next_stats) {
                break; /* idle: go update the lag */
            }
        }
        if (s->n_batch > 0 && s->epoch == s->batch_epoch && !stopping) {
            if (be->deliver(self, s, s->batch, s->n_batch)) {
                store_offsets(s);
                atomic_fetch_add(&s->st.batches, 1);
            }
        }
        drop_all(s->batch, &s->n_batch);
        int64_t now = sl_sink_now_ms();
        if (now >= next_stats) {
            update_lag(s);
            next_stats = now + 1000;
        }
        if (cfg->log_every_ms > 0 && now >= next_log) {
            fprintf(stderr,
                    "sluice sink: delivered=%lld retried=%lld dead_lettered=%lld skipped=%lld "
                    "lag=%lld breaker=%d\n",
                    atomic_load(&s->st.delivered), atomic_load(&s->st.retried),
                    atomic_load(&s->st.dead_lettered), atomic_load(&s->st.skipped),
                    atomic_load(&s->st.lag), atomic_load(&s->st.breaker_state));
            next_log = now + cfg->log_every_ms;
        }
    }
    fprintf(stderr, "sluice sink: stopping (delivered=%lld dead_lettered=%lld)\n",
            atomic_load(&s->st.delivered), atomic_load(&s->st.dead_lettered));
    rc = s->exit_rc;
out:
    if (admin) {
        MHD_stop_daemon(admin);
    }
    drop_all(s->held, &s->n_held);
    drop_all(s->batch, &s->n_batch);
    if (s->rk) {
        rd_kafka_consumer_close(s->rk);
        rd_kafka_destroy(s->rk);
    }
    if (s->dlq) {
        rd_kafka_flush(s->dlq, 5000);
        rd_kafka_destroy(s->dlq);
    }
    free(s->held);
    free(s->batch);
    free(s);
    return rc;
}

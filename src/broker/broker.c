/* broker.c -- wiring: configuration, data directory, listeners, the loop, shutdown.
 *
 * Start-up: lock the data directory, read or create meta.properties (cluster id), replay the
 * metadata log and open every partition (recovering unclean tails), bind the Kafka listener and
 * the admin HTTP listener, write the port file, then run the loop.
 * Shutdown (SIGTERM/SIGINT): stop accepting, answer what is in flight, sync and close every
 * partition cleanly (the clean-shutdown markers make the next start skip recovery). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <unistd.h>

#include "admin/admin.h"
#include "broker/broker.h"
#include "broker/cluster.h"
#include "broker/dynconf.h"
#include "broker/offsets_topic.h"
#include "broker/quota.h"
#include "broker/txn_markers.h"
#include "broker/txn_topic.h"
#include "broker/wait.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/os.h"
#include "group/cgroup.h"
#include "group/coordinator.h"
#include "net/conn.h"
#include "net/fdlimit.h"
#include "security/tls.h"
#include "storage/cleaner.h"
#include "storage/fsyncq.h"
#include "storage/plog.h"
#include "txn/pstate.h"
#include "txn/txn_coord.h"

#define TICK_MS              1000
#define QUOTA_SENSOR_IDLE_MS 3600000 /* a client's quota rate is dropped after an idle hour */
#define FD_RESERVE           256 /* descriptors kept free of connections by the default max.connections */

static sl_loop_t *signal_loop;

static void on_signal(int sig) {
    (void)sig;
    if (signal_loop) {
        sl_loop_stop_from_signal(signal_loop);
    }
}

static bool is_ready(void *opaque) {
    sl_broker_t *b = opaque;
    return b->ready && !sl_loop_stopping(b->loop);
}

/* Reads <data>/meta.properties for cluster.id, or creates it. */
static sl_err_t load_cluster_id(sl_broker_t *b, char *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/meta.properties", b->conf.data_dir);
    FILE *f = fopen(path, "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f)) {
            if (!strncmp(line, "cluster.id=", 11)) {
                snprintf(b->cluster_id, sizeof b->cluster_id, "%.22s", line + 11);
                b->cluster_id[strcspn(b->cluster_id, "\r\n")] = '\0';
            }
        }
        fclose(f);
        if (b->cluster_id[0]) {
            return SL_OK;
        }
    }
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint8_t rnd[22];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        for (size_t i = 0; i < sizeof rnd; i++) {
            rnd[i] = (uint8_t)(sl_mono_ns() >> (i % 8));
        }
    }
    for (size_t i = 0; i < sizeof rnd; i++) {
        b->cluster_id[i] = alphabet[rnd[i] & 63];
    }
    b->cluster_id[sizeof rnd] = '\0';
    char text[128];
    int n = snprintf(text, sizeof text, "version=1\ncluster.id=%s\nnode.id=%lld\n", b->cluster_id,
                     (long long)b->conf.node_id);
    if (sl_os_write_file_atomic(path, text, (size_t)n) < 0) {
        snprintf(err, SL_ERRLEN, "write %s: %s", path, strerror(errno));
        return SL_ERR_IO;
    }
    return SL_OK;
}

static void on_tick(sl_loop_t *loop, uint64_t id, void *data);

typedef struct tick_ctx {
    sl_broker_t *b;
    int64_t now;
    bool clean; /* look for partitions to compact (every log.cleaner.backoff.ms) */
} tick_ctx_t;

static void tick_each(sl_topic_t *t, void *opaque) {
    tick_ctx_t *c = opaque;
    for (int32_t i = 0; i < t->n_partitions; i++) {
        sl_partition_t *p = t->parts[i];
        int rc = sl_plog_tick(p->plog, c->now);
        if (rc < 0) {
            sl_log(SL_LOG_ERROR, "storage", "topic=%s partition=%d op=tick err=\"%s\"", t->name, i,
                   sl_err_str(rc));
        }
        struct sl_clean_job *job = c->clean ? sl_plog_clean_prepare(p->plog, c->now) : NULL;
        if (job) {
            sl_cleaner_submit(c->b->cleaner, job);
        }
        /* A new segment (or one fewer): snapshot producer state, so a restart replays only the
         * active segment. */
        if (sl_plog_segment_count(p->plog) != p->snapshot_segs &&
            (sl_pstate_count(p->pstate) || sl_pstate_aborted_count(p->pstate))) {
            sl_partition_snapshot(c->b, p);
        }
    }
}

static void on_tick(sl_loop_t *loop, uint64_t id, void *data) {
    (void)id;
    sl_broker_t *b = data;
    int64_t now = sl_wall_ms();
    tick_ctx_t tc = {b, now, false};
    if (b->cleaner) {
        (void)sl_cleaner_poll(b->cleaner); /* finished cleans are swapped in here */
        if (now >= b->next_clean_check_ms) {
            tc.clean = true;
            b->next_clean_check_ms = now + b->conf.cleaner_backoff_ms;
        }
    }
    sl_topics_each(b, tick_each, &tc);
    ++b->ticks;
    uint64_t every = (uint64_t)(b->conf.transaction_abort_interval_ms + TICK_MS - 1) / TICK_MS;
    if (b->ticks % (every ? every : 1) == 0) {
        (void)sl_txn_coord_tick(b->txn, now, b->conf.transactional_id_expiration_ms);
    }
    (void)sl_cg_tick(b->cgroups, (int64_t)sl_mono_ms());
    if (b->ticks % 60 == 0) {
        (void)sl_coord_expire_offsets(b->coord, now);
        sl_quotas_expire(b->quotas, sl_mono_ns(), QUOTA_SENSOR_IDLE_MS);
    }
    sl_coord_maybe_compact(b->coord);
    b->tick_timer = sl_loop_timer(loop, TICK_MS, on_tick, b);
}

static void collect_partitions_each(sl_topic_t *t, void *opaque) {
    sl_metrics_out_t *out = opaque;
    for (int32_t i = 0; i < t->n_partitions; i++) {
        char labels[512];
        snprintf(labels, sizeof labels, "topic=\"%s\",partition=\"%d\"", t->name, i);
        sl_plog_t *plog = t->parts[i]->plog;
        sl_metrics_emit(out, "sluice_log_end_offset", "gauge",
                        "Next offset to be assigned, per partition", labels,
                        (double)sl_plog_end_offset(plog));
        sl_metrics_emit(out, "sluice_log_start_offset", "gauge",
                        "First offset still stored, per partition", labels,
                        (double)sl_plog_start_offset(plog));
        sl_metrics_emit(out, "sluice_log_size_bytes", "gauge", "Bytes on disk, per partition",
                        labels, (double)sl_plog_size_bytes(plog));
        sl_metrics_emit(out, "sluice_lso_lag", "gauge",
                        "High watermark minus last stable offset (records held back from "
                        "read_committed consumers by open transactions), per partition",
                        labels, (double)(sl_plog_end_offset(plog) - sl_partition_lso(t->parts[i])));
    }
}

typedef struct lag_ctx {
    sl_broker_t *b;
    sl_metrics_out_t *out;
} lag_ctx_t;

/* Consumer lag = log end offset - committed offset, per group and partition (the autoscaler
 * reads this). */
static void collect_group(sl_group_t *g, void *opaque) {
    lag_ctx_t *c = opaque;
    for (size_t i = 0; i < g->n_offsets; i++) {
        const sl_offset_entry_t *e = &g->offsets[i];
        sl_str_t t = {e->topic, strlen(e->topic)};
        sl_partition_t *p = sl_partition_get(c->b, t, e->partition);
        char labels[768];
        snprintf(labels, sizeof labels, "group=\"%s\",topic=\"%s\",partition=\"%d\"", g->id,
                 e->topic, e->partition);
        sl_metrics_emit(c->out, "sluice_consumer_group_committed_offset", "gauge",
                        "Committed offset, per group and partition", labels, (double)e->c.offset);
        if (p) {
            int64_t lag = sl_plog_end_offset(p->plog) - e->c.offset;
            sl_metrics_emit(c->out, "sluice_consumer_group_lag", "gauge",
                            "Log end offset minus committed offset, per group and partition",
                            labels, (double)(lag < 0 ? 0 : lag));
        }
    }
    if (sl_cg_find(c->b->cgroups, (sl_str_t){g->id, strlen(g->id)})) {
        return; /* a consumer-protocol group's members are counted by collect_cgroup */
    }
    char labels[300];
    snprintf(labels, sizeof labels, "group=\"%s\"", g->id);
    sl_metrics_emit(c->out, "sluice_consumer_group_members", "gauge", "Members, per group", labels,
                    (double)g->n_members);
}

static void collect_cgroup(sl_cgroup_t *g, void *opaque) {
    lag_ctx_t *c = opaque;
    char labels[300];
    snprintf(labels, sizeof labels, "group=\"%s\"", g->id);
    sl_metrics_emit(c->out, "sluice_consumer_group_members", "gauge", "Members, per group", labels,
                    (double)g->n_members);
}

static void collect(sl_metrics_out_t *out, void *opaque) {
    sl_broker_t *b = opaque;
    lag_ctx_t lc = {b, out};
    sl_coord_each(b->coord, collect_group, &lc);
    sl_cg_each(b->cgroups, collect_cgroup, &lc);
    sl_metrics_emit(out, "sluice_transactions_open", "gauge",
                    "Transactions begun and not yet complete", "",
                    (double)sl_txn_open_count(b->txn));
    sl_metrics_emit(out, "sluice_transactional_ids", "gauge", "Transactional ids known", "",
                    (double)sl_txn_count(b->txn));
    sl_metrics_emit(out, "sluice_connections", "gauge", "Open Kafka-protocol connections", "",
                    (double)sl_conn_count());
    sl_metrics_emit(out, "sluice_output_queued_bytes", "gauge",
                    "Response bytes queued across connections", "", (double)sl_conn_queued_bytes());
    sl_metrics_emit(out, "sluice_output_queued_memory_bytes", "gauge",
                    "Heap bytes held by queued responses, allocation overhead included (bounded "
                    "by connection.output.high.bytes and queued.max.request.bytes)",
                    "", (double)sl_conn_queued_memory());
    sl_metrics_emit(out, "sluice_connections_partial", "gauge",
                    "Connections in the middle of sending a request", "",
                    (double)sl_conn_partial_count());
    sl_metrics_emit(out, "sluice_input_buffered_bytes", "gauge",
                    "Request bytes buffered across connections", "", (double)sl_conn_input_bytes());
    sl_metrics_emit(out, "sluice_topics", "gauge", "Topics", "", (double)b->n_topics);
    sl_topics_each(b, collect_partitions_each, out);
}

/* The listener's admit hook: connection_creation_rate per address. */
static bool admit_conn(const char *ip, void *opaque) {
    sl_broker_t *b = opaque;
    return sl_quota_conn_admit(b->quotas, ip, sl_mono_ns());
}

static void close_listeners(sl_broker_t *b) {
    for (size_t i = 0; i < b->n_listeners; i++) {
        sl_listener_free(b->listeners[i].lst);
        b->listeners[i].lst = NULL;
    }
}

/* kafka= the first listener's port, then kafka.NAME= each listener's (NAME is its protocol
 * unless listener.security.protocol.map names it), then admin=. */
static void write_port_file(sl_broker_t *b, const char *path, char *err) {
    char text[1024];
    int n = snprintf(text, sizeof text, "kafka=%d\n", b->listeners[0].port);
    for (size_t i = 0; i < b->n_listeners; i++) {
        n += snprintf(text + n, sizeof text - (size_t)n, "kafka.%s=%d\n", b->listeners[i].name,
                      b->listeners[i].port);
    }
    n += snprintf(text + n, sizeof text - (size_t)n, "admin=%d\n", b->admin_port);
    if (sl_os_write_file_atomic(path, text, (size_t)n) < 0) {
        snprintf(err, SL_ERRLEN, "write %s: %s", path, strerror(errno));
    }
}

sl_broker_t *sl_broker_new(const sl_broker_conf_t *conf, char *err) {
    sl_broker_t *b = sl_xcalloc(1, sizeof *b);
    b->conf = *conf;
    int lvl = sl_log_parse_level(conf->log_level);
    if (lvl < 0) {
        snprintf(err, SL_ERRLEN, "log.level: unknown level '%s'", conf->log_level);
        free(b);
        return NULL;
    }
    sl_log_level = lvl;
    /* One descriptor per connection, segment and index: take the hard limit before opening any. */
    long nofile_hard = 0, nofile = sl_fdlimit_raise(0, &nofile_hard);
    sl_topic_conf_t tc;
    if (sl_topic_conf_build(&b->conf, NULL, 0, &tc, err) != SL_OK) {
        free(b);
        return NULL;
    }
    if (sl_os_mkdirs(conf->data_dir) < 0) {
        snprintf(err, SL_ERRLEN, "create %s: %s", conf->data_dir, strerror(errno));
        free(b);
        return NULL;
    }
    /* One broker per data directory: a second one would corrupt the logs. */
    char lock[4096];
    snprintf(lock, sizeof lock, "%s/.lock", conf->data_dir);
    int lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lfd < 0 || flock(lfd, LOCK_EX | LOCK_NB) < 0) {
        snprintf(err, SL_ERRLEN, "data directory %s is in use by another broker", conf->data_dir);
        if (lfd >= 0) {
            close(lfd);
        }
        free(b);
        return NULL;
    }
    b->loop = sl_loop_new();
    sl_decomp_init(&b->decomp);
    b->m_fsync = sl_metrics_histogram("sluice_fsync_duration_seconds", "",
                                      "Group-commit fdatasync latency per partition");
    b->m_bytes_out =
        sl_metrics_counter("sluice_fetch_bytes_total", "", "Record bytes sent to fetchers");
    b->m_duplicates = sl_metrics_counter("sluice_duplicate_batches_total", "",
                                         "Idempotent-producer retries answered without a write");
    b->m_txn_commits = sl_metrics_counter("sluice_transactions_committed_total", "",
                                          "Transactions committed (markers durable)");
    b->m_txn_aborts = sl_metrics_counter("sluice_transactions_aborted_total", "",
                                         "Transactions aborted (by producers or timeouts)");
    b->m_txn_commit_latency =
        sl_metrics_histogram("sluice_transaction_commit_seconds", "",
                             "EndTxn(commit) to markers durable in every partition");
    b->m_throttled = sl_metrics_counter("sluice_throttled_produce_requests_total", "",
                                        "Produce requests answered with throttle_time_ms > 0");
    b->m_quota_throttled =
        sl_metrics_counter("sluice_quota_throttled_total", "quota=\"producer_byte_rate\"",
                           "Responses throttled by a client quota");
    b->m_quota_throttled_fetch =
        sl_metrics_counter("sluice_quota_throttled_total", "quota=\"consumer_byte_rate\"",
                           "Responses throttled by a client quota");
    b->m_quota_throttled_request =
        sl_metrics_counter("sluice_quota_throttled_total", "quota=\"request_percentage\"",
                           "Responses throttled by a client quota");
    b->quotas = sl_quotas_new(
        (int)conf->quota_window_num, (uint64_t)conf->quota_window_size_s * 1000,
        conf->quota_producer_default == INT64_MAX ? 0 : (double)conf->quota_producer_default,
        conf->quota_consumer_default == INT64_MAX ? 0 : (double)conf->quota_consumer_default);
    if (conf->queued_max_request_bytes >= 0) {
        sl_conn_set_memory_budget((size_t)conf->queued_max_request_bytes);
    }
    if (!b->loop || load_cluster_id(b, err) != SL_OK) {
        goto fail;
    }
    b->fsyncq = sl_fsyncq_new(sl_broker_sync_done, b, (int)conf->sync_threads);
    b->logsyncq = sl_fsyncq_new(sl_broker_log_sync_done, b, 1);
    if (!b->fsyncq || !b->logsyncq ||
        sl_loop_watch(b->loop, sl_fsyncq_fd(b->fsyncq), SL_EV_READ, sl_broker_on_fsync, b) !=
            SL_OK ||
        sl_loop_watch(b->loop, sl_fsyncq_fd(b->logsyncq), SL_EV_READ, sl_broker_on_fsync, b) !=
            SL_OK) {
        snprintf(err, SL_ERRLEN, "cannot start the fsync workers");
        goto fail;
    }
    if (sl_defer_start(b) != SL_OK) {
        snprintf(err, SL_ERRLEN, "cannot start the file-creation worker");
        goto fail;
    }
    if (conf->cleaner_enable && !(b->cleaner = sl_cleaner_new((int)conf->cleaner_threads))) {
        snprintf(err, SL_ERRLEN, "cannot start the log cleaner threads");
        goto fail;
    }
    /* Descriptors for segment files: a pool of nofile/16 segments (3 files each, 8..4096), the
     * rest for connections; a partition costs a descriptor only while its segment is in the pool
     * or a sync of it runs. */
    long open_segs = SL_MAX(8, SL_MIN(nofile / 16, 4096));
    sl_plog_set_open_segments_max((size_t)open_segs);
    b->partition_limit =
        conf->max_partitions ? conf->max_partitions : SL_MAX(1000, SL_MIN(nofile, 100000));
    uint64_t t0 = sl_mono_ns();
    sl_broker_acl_start(b);
    sl_pidblocks_init(&b->pids, conf->node_id);
    /* A cluster member's topics come from the quorum's log once it starts (cluster.c). */
    if ((conf->controller_quorum_voters[0] ? sl_cluster_init(b, err) : sl_topics_load(b, err)) !=
        SL_OK) {
        goto fail;
    }
    b->next_pid = b->pid_block_end; /* ids of an unfinished block are never reused */
    sl_coord_conf_t cc = {conf->group_min_session_timeout_ms, conf->group_max_session_timeout_ms,
                          conf->group_initial_rebalance_delay_ms, conf->offsets_retention_ms};
    extern const sl_coord_hooks_t sl_group_hooks;
    b->coord = sl_coord_new(b->loop, conf->data_dir, &cc, &sl_group_hooks, err);
    if (!b->coord || sl_broker_txn_start(b, err) != SL_OK ||
        sl_broker_cgroups_start(b, err) != SL_OK) {
        goto fail;
    }
    sl_log(SL_LOG_INFO, "broker", "data_dir=%s topics=%zu load_ms=%.1f", conf->data_dir,
           b->n_topics, (double)(sl_mono_ns() - t0) / 1e6);

    if (sl_listeners_parse_map(conf->listen, conf->advertised_listeners,
                               conf->listener_protocol_map, b->listeners, &b->n_listeners,
                               err) != SL_OK ||
        sl_listeners_check_props(conf->listener_props, b->listeners, b->n_listeners, err) !=
            SL_OK) {
        goto fail;
    }
    /* Stop accepting FD_RESERVE short of the limit, so that segment rolls, new topics and the
     * admin endpoint can still open files with every connection taken. */
    long max_conns = conf->max_connections ? (long)conf->max_connections
                                           : SL_MAX(nofile - FD_RESERVE - 3 * open_segs, 16);
    for (size_t i = 0; i < b->n_listeners; i++) {
        sl_blistener_t *l = &b->listeners[i];
        if (sl_secproto_tls(l->proto)) {
            /* Each key from listener.name.<name>.<key> if set there, else the global one. */
            const char *props = conf->listener_props;
            char v[5][SL_CONF_STR_MAX];
            sl_tls_conf_t tlsc = {
                sl_listener_conf(props, l, "ssl.certificate.location",
                                 conf->ssl_certificate_location, v[0]),
                sl_listener_conf(props, l, "ssl.key.location", conf->ssl_key_location, v[1]),
                sl_listener_conf(props, l, "ssl.key.password", conf->ssl_key_password, v[2]),
                sl_listener_conf(props, l, "ssl.ca.location", conf->ssl_ca_location, v[3]),
                sl_listener_conf(props, l, "ssl.client.auth", conf->ssl_client_auth, v[4]),
            };
            char sub[SL_ERRLEN];
            if (!(l->tls = sl_tls_server_ctx(&tlsc, sub))) {
                snprintf(err, SL_ERRLEN, "listener %s: %s", l->name, sub);
                goto fail;
            }
        }
        sl_conn_hooks_t hooks = {
            .on_frame = sl_broker_on_frame,
            .on_close = sl_broker_on_close,
            .opaque = b,
            .max_frame_bytes = (size_t)conf->socket_request_max_bytes,
            .out_high_bytes = (size_t)conf->connection_out_high_bytes,
            .max_inflight = (size_t)conf->max_inflight_requests,
            .tls = l->tls,
            .listener = l,
        };
        l->lst = sl_listener_new(b->loop, l->host, l->port, &hooks, err);
        if (!l->lst) {
            goto fail;
        }
        sl_listener_set_max_conns(l->lst, (size_t)max_conns);
        if (sl_listener_set_ip_limits(l->lst, (size_t)conf->max_connections_per_ip,
                                      conf->max_connections_per_ip_overrides, err) != SL_OK) {
            goto fail;
        }
        sl_listener_set_admit(l->lst, admit_conn, b);
        /* Advertise what clients can reach: the configured address, else the bound one. */
        l->port = sl_listener_port(l->lst);
        if (!l->adv_given) {
            snprintf(l->adv_host, sizeof l->adv_host, "%s",
                     !*l->host || !strcmp(l->host, "0.0.0.0") || !strcmp(l->host, "::")
                         ? "127.0.0.1"
                         : l->host);
            l->adv_port = l->port;
        }
    }
    if (sl_broker_sasl_start(b, err) != SL_OK) {
        goto fail;
    }
    sl_conn_set_timeouts((uint64_t)conf->connections_max_idle_ms,
                         (uint64_t)conf->connections_max_partial_request_ms);
    sl_log(SL_LOG_INFO, "broker", "nofile=%ld hard=%ld max_connections=%ld", nofile, nofile_hard,
           max_conns);
    sl_log(SL_LOG_INFO, "broker",
           "open_segments_max=%ld max_partitions=%" PRId64 " partitions=%" PRId64, open_segs,
           b->partition_limit, b->n_partitions_total);
    if (b->cluster && sl_cluster_start(b, err) != SL_OK) {
        goto fail;
    }
    if (conf->admin_listen[0] && strcmp(conf->admin_listen, "none") != 0) {
        char ahost[256];
        int aport;
        if (sl_parse_hostport(conf->admin_listen, ahost, sizeof ahost, &aport) != SL_OK) {
            snprintf(err, SL_ERRLEN, "admin.listen: expected HOST:PORT, got '%s'",
                     conf->admin_listen);
            goto fail;
        }
        sl_admin_hooks_t ah = {is_ready, b};
        b->admin = sl_admin_start(b->loop, ahost, aport, &ah, err);
        if (!b->admin) {
            goto fail;
        }
        b->admin_port = sl_admin_port(b->admin);
    }
    sl_metrics_add_collector(collect, b);
    sl_loop_before_sleep(b->loop, sl_broker_before_sleep, b);
    sl_loop_before_sleep(b->loop, sl_topicwork_run, b);
    b->tick_timer = sl_loop_timer(b->loop, TICK_MS, on_tick, b);
    return b;
fail:
    sl_broker_free(b);
    return NULL;
}

sl_err_t sl_broker_run(sl_broker_t *b) {
    signal_loop = b->loop;
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    b->ready = true;
    for (size_t i = 0; i < b->n_listeners; i++) {
        const sl_blistener_t *l = &b->listeners[i];
        sl_log(SL_LOG_INFO, "broker",
               "listening kafka=%s://%s:%d advertised=%s:%d admin_port=%d cluster=%s%s%s", l->name,
               l->host, l->port, l->adv_host, l->adv_port, b->admin_port, b->cluster_id,
               strcmp(l->name, sl_secproto_name(l->proto)) ? " protocol=" : "",
               strcmp(l->name, sl_secproto_name(l->proto)) ? sl_secproto_name(l->proto) : "");
    }
    sl_err_t rc = sl_loop_run(b->loop);
    sl_log(SL_LOG_INFO, "broker", "msg=\"shutting down\"");
    sl_cluster_leave(b); /* a cluster member hands its leaderships over first */
    /* Stop accepting, answer what waits (acks=all syncs, parked fetches), flush, close. */
    close_listeners(b);
    sl_broker_flush(b);
    sl_durable_waits_expire_all(b); /* a cluster's, waiting on replicas */
    sl_fetch_recheck(b, true);
    sl_conn_close_all();
    signal_loop = NULL;
    return rc;
}

void sl_broker_free(sl_broker_t *b) {
    if (!b) {
        return;
    }
    sl_metrics_remove_collector(collect, b);
    if (b->admin) {
        sl_admin_stop(b->admin);
    }
    close_listeners(b);
    sl_conn_close_all();
    sl_markers_stop(b); /* its worker reads the cluster's image */
    sl_cluster_stop(b);
    for (size_t i = 0; i < b->n_listeners; i++) {
        sl_tls_ctx_free(b->listeners[i].tls);
        b->listeners[i].tls = NULL;
    }
    sl_broker_sasl_stop(b);
    if (b->fsyncq && b->logsyncq) {
        sl_broker_flush(b);
    }
    sl_defer_stop(b);
    if (b->fsyncq) {
        sl_loop_unwatch(b->loop, sl_fsyncq_fd(b->fsyncq));
        sl_fsyncq_free(b->fsyncq);
    }
    if (b->logsyncq) {
        sl_loop_unwatch(b->loop, sl_fsyncq_fd(b->logsyncq));
        sl_fsyncq_free(b->logsyncq);
    }
    sl_txn_coord_free(b->txn);
    sl_cgroups_free(b->cgroups);
    sl_coord_free(b->coord);
    sl_otopic_free(b);
    sl_ttopic_free(b);
    sl_cleaner_free(b->cleaner); /* a clean running now is waited for and swapped in */
    sl_topics_close(b);
    sl_dynconf_free(b);
    sl_loop_free(b->loop);
    sl_decomp_fini(&b->decomp);
    sl_quotas_free(b->quotas);
    sl_broker_acl_stop(b);
    free(b);
}

/* Exposed for the CLI: writes the port file after start-up. */
void sl_broker_write_port_file(sl_broker_t *b, const char *path, char *err);
void sl_broker_write_port_file(sl_broker_t *b, const char *path, char *err) {
    write_port_file(b, path, err);
}

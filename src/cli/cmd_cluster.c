/* cmd_cluster.c -- `sluice cluster info|health|config|logdirs|status`: what the cluster's
 * metadata, the broker's DescribeConfigs and each broker's DescribeLogDirs say (reassign and
 * elect-leaders: cmd_cluster_ops.c). health exits 1 when the cluster is not healthy (a partition
 * without a leader or with an error), so scripts can wait on it. status asks a sluice broker for
 * its view of the controller quorum (brokers, Raft leader and log, offline partitions) over the
 * brokers' private request (broker/cluster.h); it exits 1 when the quorum has no leader. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "broker/cluster.h"
#include "cli/cli.h"
#include "common/codec.h"
#include "net/listener.h"
#include "security/peer.h"

static void usage(FILE *f) {
    fprintf(f, "usage: sluice cluster info [--json]      brokers, controller, cluster id, topics\n"
               "       sluice cluster health [--json]    exit 0 only if every partition has a "
               "leader\n"
               "       sluice cluster config [--json]    the broker's configuration\n"
               "       sluice cluster config --set key=value ... --delete key ... [--broker ID] "
               "[--dry-run]\n"
               "                                         change dynamic broker configs: "
               "cluster-wide\n"
               "                                         defaults, or one broker's with --broker\n"
               "       sluice cluster logdirs [--json]   each broker's log directory: disk "
               "use per topic\n"
               "       sluice cluster status [--json]    a sluice cluster's brokers, quorum and "
               "offline partitions\n"
               "       sluice cluster reassign TOPIC:PARTITION --replicas ID,... [--wait] | "
               "--cancel\n"
               "       sluice cluster reassign --list [TOPIC:PARTITION]\n"
               "       sluice cluster elect-leaders [--election-type preferred|unclean] "
               "(--topic T --partition P | --all-topic-partitions)\n"
               "                                         (sluice cluster reassign --help for "
               "more)\n"
               "options: -b HOST:PORT (default $SLUICE_BROKERS, else 127.0.0.1:9092), "
               "-X librdkafka.key=value\n");
}

static int cluster_info(rd_kafka_t *rk, bool json) {
    const struct rd_kafka_metadata *md = sl_cli_metadata(rk);
    if (!md) {
        return 1;
    }
    char *id = rd_kafka_clusterid(rk, SL_CLI_TIMEOUT_MS);
    int32_t ctrl = rd_kafka_controllerid(rk, SL_CLI_TIMEOUT_MS);
    long parts = 0;
    for (int i = 0; i < md->topic_cnt; i++) {
        parts += md->topics[i].partition_cnt;
    }
    json_t *jb = json_array();
    if (!json) {
        printf("cluster %s, controller %d\n", id ? id : "(none)", (int)ctrl);
        printf("brokers:\n");
    }
    for (int i = 0; i < md->broker_cnt; i++) {
        if (json) {
            json_array_append_new(jb, json_pack("{s:i, s:s, s:i}", "id", md->brokers[i].id, "host",
                                                md->brokers[i].host, "port", md->brokers[i].port));
        } else {
            printf("  %d %s:%d%s\n", md->brokers[i].id, md->brokers[i].host, md->brokers[i].port,
                   md->brokers[i].id == ctrl ? "  (controller)" : "");
        }
    }
    if (json) {
        sl_cli_print_json(json_pack("{s:s?, s:i, s:o, s:i, s:i}", "cluster_id", id, "controller",
                                    (int)ctrl, "brokers", jb, "topics", md->topic_cnt, "partitions",
                                    (int)parts));
    } else {
        json_decref(jb);
        printf("topics: %d, partitions: %ld\n", md->topic_cnt, parts);
    }
    free(id);
    rd_kafka_metadata_destroy(md);
    return 0;
}

static int cluster_health(rd_kafka_t *rk, bool json) {
    const struct rd_kafka_metadata *md = sl_cli_metadata(rk);
    if (!md) {
        return 1;
    }
    long leaderless = 0, errored = 0, under = 0;
    json_t *bad = json_array();
    for (int i = 0; i < md->topic_cnt; i++) {
        const struct rd_kafka_metadata_topic *t = &md->topics[i];
        if (t->err) {
            errored++;
            json_array_append_new(
                bad, json_pack("{s:s, s:s}", "topic", t->topic, "error", rd_kafka_err2str(t->err)));
        }
        for (int p = 0; p < t->partition_cnt; p++) {
            const struct rd_kafka_metadata_partition *mp = &t->partitions[p];
            if (mp->leader < 0 || mp->err) {
                leaderless += mp->leader < 0;
                errored += mp->err != 0;
                json_array_append_new(bad, json_pack("{s:s, s:i, s:i, s:s}", "topic", t->topic,
                                                     "partition", mp->id, "leader", mp->leader,
                                                     "error", rd_kafka_err2str(mp->err)));
            }
            under += mp->isr_cnt < mp->replica_cnt;
        }
    }
    bool healthy = leaderless == 0 && errored == 0 && md->broker_cnt > 0;
    if (json) {
        sl_cli_print_json(json_pack("{s:b, s:i, s:I, s:I, s:I, s:o}", "healthy", healthy, "brokers",
                                    md->broker_cnt, "leaderless_partitions", (json_int_t)leaderless,
                                    "under_replicated_partitions", (json_int_t)under, "errored",
                                    (json_int_t)errored, "problems", bad));
    } else {
        printf("healthy: %s\nbrokers: %d\nleaderless partitions: %ld\n"
               "under-replicated partitions: %ld\npartitions or topics with errors: %ld\n",
               healthy ? "true" : "false", md->broker_cnt, leaderless, under, errored);
        for (size_t i = 0; i < json_array_size(bad); i++) {
            json_t *b = json_array_get(bad, i);
            printf("  %s partition %lld: %s\n", json_string_value(json_object_get(b, "topic")),
                   (long long)json_integer_value(json_object_get(b, "partition")),
                   json_string_value(json_object_get(b, "error")));
        }
        json_decref(bad);
    }
    rd_kafka_metadata_destroy(md);
    return healthy ? 0 : 1;
}

static int cluster_config(rd_kafka_t *rk, bool json) {
    const struct rd_kafka_metadata *md = sl_cli_metadata(rk);
    if (!md) {
        return 1;
    }
    if (md->broker_cnt < 1) {
        sl_cli_error("cluster config", "the cluster reported no broker");
        rd_kafka_metadata_destroy(md);
        return 1;
    }
    char id[16];
    snprintf(id, sizeof id, "%d", md->brokers[0].id);
    rd_kafka_metadata_destroy(md);
    json_t *obj = json ? json_object() : NULL;
    int rc = sl_cli_print_configs(rk, RD_KAFKA_RESOURCE_BROKER, id, obj);
    if (obj && !rc) {
        sl_cli_print_json(obj);
    } else if (obj) {
        json_decref(obj);
    }
    return rc;
}

/* One broker's DescribeLogDirs (v4: every topic, the directory's total and usable bytes), added
 * to `out` as {broker, dir, total_bytes, usable_bytes, topics: [{topic, partitions, bytes,
 * sizes: [...]}]}. Returns 0, or 1 after printing why. */
static int logdirs_of(const struct rd_kafka_metadata_broker *mb, json_t *out) {
    int fd = sl_cli_dial(mb->host, mb->port);
    if (fd < 0) {
        return 1;
    }
    sl_buf_t req = {0}, resp = {0};
    sl_writer_t w = {&req};
    sl_cli_req_begin(&w, 35, 4, true);
    sl_wr_array_len(&w, true, -1); /* topics: null = all */
    sl_wr_tags(&w, true);
    sl_reader_t rd;
    int rc = 0;
    if (!sl_cli_roundtrip(fd, &req, true, &resp, &rd)) {
        rc = 1;
        goto done;
    }
    sl_rd_i32(&rd); /* throttle */
    int16_t ec = sl_rd_i16(&rd);
    int32_t ndirs = sl_rd_count(&rd, true, 8);
    for (int32_t d = 0; d < ndirs && !rd.err; d++) {
        int16_t dec = sl_rd_i16(&rd);
        sl_str_t dir = sl_rd_str(&rd, true);
        json_t *topics = json_array();
        int32_t nt = sl_rd_count(&rd, true, 2);
        for (int32_t t = 0; t < nt && !rd.err; t++) {
            sl_str_t name = sl_rd_str(&rd, true);
            json_t *sizes = json_array();
            json_int_t sum = 0;
            int32_t np = sl_rd_count(&rd, true, 22);
            for (int32_t p = 0; p < np && !rd.err; p++) {
                int32_t index = sl_rd_i32(&rd);
                int64_t size = sl_rd_i64(&rd);
                sl_rd_i64(&rd); /* offset_lag */
                sl_rd_i8(&rd);  /* is_future_key */
                sl_rd_tags(&rd, true);
                sum += size;
                json_array_append_new(
                    sizes, json_pack("{s:i, s:I}", "partition", index, "bytes", (json_int_t)size));
            }
            sl_rd_tags(&rd, true);
            json_array_append_new(topics, json_pack("{s:s%, s:I, s:I, s:o}", "topic",
                                                    name.p ? name.p : "", name.len, "partitions",
                                                    (json_int_t)np, "bytes", sum, "sizes", sizes));
        }
        int64_t total = sl_rd_i64(&rd), usable = sl_rd_i64(&rd);
        sl_rd_tags(&rd, true);
        json_array_append_new(out,
                              json_pack("{s:i, s:s%, s:s?, s:I, s:I, s:o}", "broker", mb->id, "dir",
                                        dir.p ? dir.p : "", dir.len, "error",
                                        dec ? rd_kafka_err2str((rd_kafka_resp_err_t)dec) : NULL,
                                        "total_bytes", (json_int_t)total, "usable_bytes",
                                        (json_int_t)usable, "topics", topics));
    }
    sl_rd_tags(&rd, true);
    if (rd.err || sl_rd_left(&rd)) {
        sl_cli_error("DescribeLogDirs", "malformed response");
        rc = 1;
    } else if (ec) {
        fprintf(stderr, "sluice: cluster logdirs: broker %d: %s\n", mb->id,
                rd_kafka_err2str((rd_kafka_resp_err_t)ec));
        rc = 1;
    }
done:
    close(fd);
    sl_buf_fini(&req);
    sl_buf_fini(&resp);
    return rc;
}

static int cluster_logdirs(rd_kafka_t *rk, bool json) {
    const struct rd_kafka_metadata *md = sl_cli_metadata(rk);
    if (!md) {
        return 1;
    }
    json_t *all = json_array();
    int rc = 0;
    for (int b = 0; b < md->broker_cnt && !rc; b++) {
        rc = logdirs_of(&md->brokers[b], all);
    }
    rd_kafka_metadata_destroy(md);
    if (rc) {
        json_decref(all);
        return rc;
    }
    if (json) {
        sl_cli_print_json(all);
        return 0;
    }
    size_t i, j;
    json_t *d, *t;
    json_array_foreach(all, i, d) {
        json_t *topics = json_object_get(d, "topics");
        json_int_t used = 0;
        json_array_foreach(topics, j, t) {
            used += json_integer_value(json_object_get(t, "bytes"));
        }
        const char *err = json_string_value(json_object_get(d, "error"));
        printf("broker %d %s: %lld bytes in %zu topics; disk %lld bytes, %lld usable%s%s\n",
               (int)json_integer_value(json_object_get(d, "broker")),
               json_string_value(json_object_get(d, "dir")), (long long)used,
               json_array_size(topics),
               (long long)json_integer_value(json_object_get(d, "total_bytes")),
               (long long)json_integer_value(json_object_get(d, "usable_bytes")),
               err ? "; error: " : "", err ? err : "");
        json_array_foreach(topics, j, t) {
            printf("  %-40s %6lld partitions %14lld bytes\n",
                   json_string_value(json_object_get(t, "topic")),
                   (long long)json_integer_value(json_object_get(t, "partitions")),
                   (long long)json_integer_value(json_object_get(t, "bytes")));
        }
    }
    json_decref(all);
    return 0;
}

#define MAX_ALTER 64

typedef struct alter {
    const char *sets[MAX_ALTER], *dels[MAX_ALTER];
    int n_sets, n_dels;
    int32_t broker; /* -1: the cluster-wide default (resource name "") */
    bool dry_run;
} alter_t;

/* IncrementalAlterConfigs (API 44 v1) of the BROKER resource: SET for each --set, DELETE for
 * each --delete, only those keys (librdkafka 2.0.2 has no IncrementalAlterConfigs, so the
 * request is written here). Sent to the broker named by --broker, else to the first one; a
 * cluster-wide default goes through the metadata log to every broker. */
static int cluster_config_alter(rd_kafka_t *rk, const alter_t *a) {
    for (int i = 0; i < a->n_sets; i++) {
        if (!strchr(a->sets[i], '=') || a->sets[i][0] == '=') {
            sl_cli_error("--set", "expected key=value");
            return 2;
        }
    }
    const struct rd_kafka_metadata *md = sl_cli_metadata(rk);
    if (!md) {
        return 1;
    }
    const struct rd_kafka_metadata_broker *mb = NULL;
    for (int i = 0; i < md->broker_cnt && !mb; i++) {
        if (a->broker < 0 || md->brokers[i].id == a->broker) {
            mb = &md->brokers[i];
        }
    }
    if (!mb) {
        fprintf(stderr, "sluice: cluster config: broker %d is not in the cluster\n",
                (int)a->broker);
        rd_kafka_metadata_destroy(md);
        return 1;
    }
    int fd = sl_cli_dial(mb->host, mb->port);
    rd_kafka_metadata_destroy(md);
    if (fd < 0) {
        return 1;
    }
    char name[16] = "";
    if (a->broker >= 0) {
        snprintf(name, sizeof name, "%d", (int)a->broker);
    }
    sl_buf_t req = {0}, resp = {0};
    sl_writer_t w = {&req};
    sl_cli_req_begin(&w, 44, 1, true);
    sl_wr_array_len(&w, true, 1);
    sl_wr_i8(&w, 4); /* BROKER */
    sl_wr_strz(&w, true, name);
    sl_wr_array_len(&w, true, a->n_sets + a->n_dels);
    for (int i = 0; i < a->n_sets; i++) {
        const char *eq = strchr(a->sets[i], '=');
        sl_wr_str(&w, true, (sl_str_t){a->sets[i], (size_t)(eq - a->sets[i])});
        sl_wr_i8(&w, 0); /* SET */
        sl_wr_strz(&w, true, eq + 1);
        sl_wr_tags(&w, true);
        printf("%.*s -> %s\n", (int)(eq - a->sets[i]), a->sets[i], eq + 1);
    }
    for (int i = 0; i < a->n_dels; i++) {
        sl_wr_strz(&w, true, a->dels[i]);
        sl_wr_i8(&w, 1); /* DELETE */
        sl_wr_strz(&w, true, NULL);
        sl_wr_tags(&w, true);
        printf("%s -> (default)\n", a->dels[i]);
    }
    sl_wr_tags(&w, true);
    sl_wr_i8(&w, a->dry_run);
    sl_wr_tags(&w, true);
    sl_reader_t rd;
    int rc = 1;
    if (sl_cli_roundtrip(fd, &req, true, &resp, &rd)) {
        sl_rd_i32(&rd); /* throttle */
        int32_t n = sl_rd_count(&rd, true, 6);
        int16_t ec = n == 1 ? sl_rd_i16(&rd) : -1;
        sl_str_t msg = n == 1 ? sl_rd_str(&rd, true) : (sl_str_t){0};
        if (rd.err || n != 1) {
            sl_cli_error("IncrementalAlterConfigs", "malformed response");
        } else if (ec) {
            fprintf(stderr, "sluice: cluster config: %.*s\n", msg.p ? (int)msg.len : -1,
                    msg.p ? msg.p : rd_kafka_err2str((rd_kafka_resp_err_t)ec));
        } else {
            printf(a->dry_run       ? "dry run: valid, nothing changed\n"
                   : a->broker >= 0 ? "altered the configs of broker %s\n"
                                    : "altered the cluster-wide default configs%s\n",
                   name);
            rc = 0;
        }
    }
    close(fd);
    sl_buf_fini(&req);
    sl_buf_fini(&resp);
    return rc;
}

/* The -X value of `key` (librdkafka's name), or `dflt`. */
static const char *prop(const sl_client_opts_t *co, const char *key, const char *dflt) {
    size_t n = strlen(key);
    const char *v = dflt;
    for (int i = 0; i < co->n_props; i++) {
        if (!strncmp(co->props[i], key, n) && co->props[i][n] == '=') {
            v = co->props[i] + n + 1;
        }
    }
    return v;
}

/* The status call speaks the broker's private API itself, so it takes the client security
 * settings librdkafka would (-X security.protocol, sasl.*, ssl.*) and secures its connection
 * the way a broker does (security/peer.h). NULL with *bad set after printing why. */
static sl_peer_sec_t *status_security(const sl_client_opts_t *co, bool *bad) {
    const char *proto = prop(co, "security.protocol", "plaintext");
    bool tls = !strcasecmp(proto, "ssl") || !strcasecmp(proto, "sasl_ssl");
    bool sasl = !strcasecmp(proto, "sasl_plaintext") || !strcasecmp(proto, "sasl_ssl");
    *bad = false;
    if (!tls && !sasl) {
        if (strcasecmp(proto, "plaintext") != 0) {
            fprintf(stderr, "sluice: cluster status: unknown security.protocol '%s'\n", proto);
            *bad = true;
        }
        return NULL;
    }
    const char *alg = prop(co, "ssl.endpoint.identification.algorithm", "https");
    sl_peer_sec_conf_t c = {
        .tls = tls,
        .ca_file = prop(co, "ssl.ca.location", ""),
        .cert_file = prop(co, "ssl.certificate.location", ""),
        .key_file = prop(co, "ssl.key.location", ""),
        .key_password = prop(co, "ssl.key.password", ""),
        .verify_host = !strcasecmp(alg, "https"),
        .sasl = sasl,
        .mechanism = prop(co, "sasl.mechanism", prop(co, "sasl.mechanisms", "PLAIN")),
        .username = prop(co, "sasl.username", ""),
        .password = prop(co, "sasl.password", ""),
    };
    char err[SL_ERRLEN];
    sl_peer_sec_t *sec = sl_peer_sec_new(&c, err);
    if (!sec) {
        fprintf(stderr, "sluice: cluster status: %s\n", err);
        *bad = true;
    }
    return sec;
}

/* Asks the first bootstrap broker for its cluster status (a JSON document). */
static int cluster_status(const sl_client_opts_t *co, bool as_json) {
    char first[256], host[256], err[SL_ERRLEN];
    snprintf(first, sizeof first, "%s", sl_client_brokers(co));
    first[strcspn(first, ",")] = 0;
    int port;
    if (sl_parse_hostport(first, host, sizeof host, &port) != SL_OK) {
        fprintf(stderr, "sluice: cluster status: expected HOST:PORT, got '%s'\n", first);
        return 2;
    }
    uint8_t body[5];
    sl_buf_t req = {0}, resp = {0};
    sl_writer_t wr = {&req};
    sl_wr_i8(&wr, SL_CLUSTER_OP_STATUS);
    sl_wr_i32(&wr, -1);
    memcpy(body, req.data, sizeof body);
    sl_buf_fini(&req);
    bool bad;
    sl_peer_sec_t *sec = status_security(co, &bad);
    if (bad) {
        return 2;
    }
    sl_err_t rc =
        sl_cluster_call(sec, host, port, body, sizeof body, &resp, SL_CLI_TIMEOUT_MS, err);
    sl_peer_sec_free(sec);
    if (rc != SL_OK) {
        fprintf(stderr, "sluice: cluster status: %s\n", err);
        sl_buf_fini(&resp);
        return 1;
    }
    sl_reader_t rd = sl_reader_init(resp.data, resp.len);
    int16_t code = sl_rd_i16(&rd);
    sl_bytes_t doc = sl_rd_bytes(&rd, false);
    json_t *j =
        !rd.err && code == 0 && doc.p ? json_loadb((const char *)doc.p, doc.len, 0, NULL) : NULL;
    sl_buf_fini(&resp);
    if (!j) {
        fprintf(stderr, "sluice: cluster status: %s\n",
                code ? "the broker is not in a cluster (no controller.quorum.voters)"
                     : "malformed answer");
        return 1;
    }
    json_t *q = json_object_get(j, "quorum");
    int leader = (int)json_integer_value(json_object_get(q, "leader"));
    if (as_json) {
        sl_cli_print_json(json_incref(j));
    } else {
        printf("quorum: leader %d (asked node %d, %s), last index %lld, applied %lld\n", leader,
               (int)json_integer_value(json_object_get(j, "node")),
               json_string_value(json_object_get(q, "role")),
               (long long)json_integer_value(json_object_get(q, "last_index")),
               (long long)json_integer_value(json_object_get(q, "applied_index")));
        size_t i;
        json_t *v;
        if (json_object_get(q, "term")) {
            printf("term (leader epoch) %lld, commit index (high watermark) %lld\n",
                   (long long)json_integer_value(json_object_get(q, "term")),
                   (long long)json_integer_value(json_object_get(q, "commit_index")));
        }
        printf("voters:\n");
        json_array_foreach(json_object_get(q, "voters"), i, v) {
            int id = (int)json_integer_value(json_object_get(v, "id"));
            printf("  %d %s%s", id, json_string_value(json_object_get(v, "address")),
                   id == leader ? "  (leader)" : "");
            if (json_object_get(v, "log_end")) {
                long long now = (long long)json_integer_value(json_object_get(q, "now_ms"));
                long long seen =
                    (long long)json_integer_value(json_object_get(v, "last_contact_ms"));
                long long caught =
                    (long long)json_integer_value(json_object_get(v, "caught_up_ms"));
                printf("  log end %lld",
                       (long long)json_integer_value(json_object_get(v, "log_end")));
                if (seen > 0) {
                    printf(", heard %lld ms ago", now - seen);
                }
                if (caught > 0) {
                    printf(", caught up %lld ms ago", now - caught);
                }
            }
            printf("\n");
        }
        printf("brokers:\n");
        json_array_foreach(json_object_get(j, "brokers"), i, v) {
            printf("  %d %s:%d %s\n", (int)json_integer_value(json_object_get(v, "id")),
                   json_string_value(json_object_get(v, "host")),
                   (int)json_integer_value(json_object_get(v, "port")),
                   json_is_true(json_object_get(v, "alive")) ? "alive" : "OFFLINE (fenced)");
        }
        json_t *off = json_object_get(j, "offline_partitions");
        printf("partitions with an offline leader: %zu\n", json_array_size(off));
        json_array_foreach(off, i, v) {
            printf("  %s-%d (leader %d)\n", json_string_value(json_object_get(v, "topic")),
                   (int)json_integer_value(json_object_get(v, "partition")),
                   (int)json_integer_value(json_object_get(v, "leader")));
        }
    }
    json_decref(j);
    return leader > 0 ? 0 : 1;
}

int sl_cmd_cluster(int argc, char **argv) {
    static const struct option opts[] = {
        {"brokers", required_argument, 0, 'b'}, {"json", no_argument, 0, 'j'},
        {"help", no_argument, 0, 'h'},          {"set", required_argument, 0, 'S'},
        {"delete", required_argument, 0, 'D'},  {"broker", required_argument, 0, 'B'},
        {"dry-run", no_argument, 0, 'n'},       {0, 0, 0, 0},
    };
    sl_client_opts_t co = {0};
    if (argc >= 2 && (!strcmp(argv[1], "reassign") || !strcmp(argv[1], "elect-leaders"))) {
        return sl_cmd_cluster_ops(sl_client_brokers(&co), argc - 1, argv + 1);
    }
    bool json = false;
    alter_t a = {.broker = -1};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "b:X:h", opts, NULL)) != -1) {
        if (sl_client_opt(&co, c, optarg)) {
            continue;
        }
        int64_t id;
        if (c == 'j') {
            json = true;
        } else if (c == 'h') {
            usage(stdout);
            return 0;
        } else if ((c == 'S' && a.n_sets < MAX_ALTER) || (c == 'D' && a.n_dels < MAX_ALTER)) {
            if (c == 'S') {
                a.sets[a.n_sets++] = optarg;
            } else {
                a.dels[a.n_dels++] = optarg;
            }
        } else if (c == 'B' && sl_cli_parse_i64("--broker", optarg, 0, INT32_MAX, &id)) {
            a.broker = (int32_t)id;
        } else if (c == 'n') {
            a.dry_run = true;
        } else {
            if (c != 'B') {
                usage(stderr);
            }
            return 2;
        }
    }
    if (optind + 1 != argc) {
        usage(stderr);
        return 2;
    }
    const char *verb = argv[optind];
    bool altering = a.n_sets || a.n_dels;
    if ((altering || a.dry_run || a.broker >= 0) && (strcmp(verb, "config") || !altering)) {
        sl_cli_error("cluster", "--set, --delete, --broker and --dry-run go with `cluster "
                                "config` and need at least one --set or --delete");
        return 2;
    }
    if (!strcmp(verb, "status")) {
        return cluster_status(&co, json);
    }
    if (strcmp(verb, "info") && strcmp(verb, "health") && strcmp(verb, "config") &&
        strcmp(verb, "logdirs")) {
        fprintf(stderr, "sluice: cluster: unknown subcommand '%s'\n", verb);
        usage(stderr);
        return 2;
    }
    rd_kafka_conf_t *conf = sl_cli_conf(&co);
    if (!conf) {
        return 2;
    }
    rd_kafka_t *rk = sl_cli_new(&co, RD_KAFKA_PRODUCER, conf);
    if (!rk) {
        return 1;
    }
    int rc = !strcmp(verb, "info")     ? cluster_info(rk, json)
             : !strcmp(verb, "health") ? cluster_health(rk, json)
             : altering                ? cluster_config_alter(rk, &a)
             : !strcmp(verb, "config") ? cluster_config(rk, json)
                                       : cluster_logdirs(rk, json);
    rd_kafka_destroy(rk);
    return rc;
}

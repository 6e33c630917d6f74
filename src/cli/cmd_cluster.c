/* cmd_cluster.c -- `sluice cluster info|health|config|status`: what the cluster's metadata and
 * the broker's DescribeConfigs say (reassign and elect-leaders: cmd_cluster_ops.c). health exits 1
 * when the cluster is not healthy (a partition without a leader or with an error), so scripts can
 * wait on it. status asks a sluice broker for its view of the controller quorum (brokers, Raft
 * leader and log, offline partitions) over the brokers' private request (broker/cluster.h); it
 * exits 1 when the quorum has no leader. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/cluster.h"
#include "cli/cli.h"
#include "common/codec.h"
#include "net/listener.h"

static void usage(FILE *f) {
    fprintf(f, "usage: sluice cluster info [--json]      brokers, controller, cluster id, topics\n"
               "       sluice cluster health [--json]    exit 0 only if every partition has a "
               "leader\n"
               "       sluice cluster config [--json]    the broker's configuration\n"
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
    if (sl_cluster_call(host, port, body, sizeof body, &resp, SL_CLI_TIMEOUT_MS, err) != SL_OK) {
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
    sl_client_opts_t co = {0};
    if (argc >= 2 && (!strcmp(argv[1], "reassign") || !strcmp(argv[1], "elect-leaders"))) {
        return sl_cmd_cluster_ops(sl_client_brokers(&co), argc - 1, argv + 1);
    }
    bool json = false;
    int early = sl_cli_listing_opts(argc, argv, &co, &json, usage);
    if (early >= 0) {
        return early;
    }
    if (optind + 1 != argc) {
        usage(stderr);
        return 2;
    }
    const char *verb = argv[optind];
    if (!strcmp(verb, "status")) {
        return cluster_status(&co, json);
    }
    if (strcmp(verb, "info") && strcmp(verb, "health") && strcmp(verb, "config")) {
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
                                       : cluster_config(rk, json);
    rd_kafka_destroy(rk);
    return rc;
}

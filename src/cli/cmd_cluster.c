/* cmd_cluster.c -- `sluice cluster info|health|config`: what the cluster's metadata and the
 * broker's DescribeConfigs say. health exits 1 when the cluster is not healthy (a partition
 * without a leader or with an error), so scripts can wait on it. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static void usage(FILE *f) {
    fprintf(f, "usage: sluice cluster info [--json]      brokers, controller, cluster id, topics\n"
               "       sluice cluster health [--json]    exit 0 only if every partition has a "
               "leader\n"
               "       sluice cluster config [--json]    the broker's configuration\n"
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

int sl_cmd_cluster(int argc, char **argv) {
    static const struct option opts[] = {
        {"brokers", required_argument, 0, 'b'},
        {"json", no_argument, 0, 'j'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    sl_client_opts_t co = {0};
    bool json = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "b:X:h", opts, NULL)) != -1) {
        if (sl_client_opt(&co, c, optarg)) {
            continue;
        }
        if (c == 'j') {
            json = true;
        } else if (c == 'h') {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (optind + 1 != argc) {
        usage(stderr);
        return 2;
    }
    const char *verb = argv[optind];
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

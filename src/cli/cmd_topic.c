/* cmd_topic.c -- `sluice topic create|list|describe|delete` through the Kafka Admin API. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define TIMEOUT_MS 15000

static void usage(FILE *f) {
    fprintf(f,
            "usage: sluice topic create NAME [-p PARTITIONS] [-r REPLICATION] [-c key=value ...]\n"
            "       sluice topic list\n"
            "       sluice topic describe NAME\n"
            "       sluice topic delete NAME\n"
            "options: -b HOST:PORT (default 127.0.0.1:9092), -X librdkafka.key=value\n");
}

/* Waits for an admin result event of `type`; NULL (error printed) on timeout. */
static rd_kafka_event_t *wait_result(rd_kafka_queue_t *q, rd_kafka_event_type_t type) {
    for (;;) {
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, TIMEOUT_MS);
        if (!ev) {
            sl_cli_error("admin", "timed out waiting for the broker");
            return NULL;
        }
        if (rd_kafka_event_type(ev) == type) {
            return ev;
        }
        rd_kafka_event_destroy(ev);
    }
}

static int topic_create(rd_kafka_t *rk, const char *name, int partitions, int rf, char **configs,
                        int n_configs) {
    char errstr[512];
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(name, partitions, rf, errstr, sizeof errstr);
    if (!nt) {
        sl_cli_error("create", errstr);
        return 2;
    }
    for (int i = 0; i < n_configs; i++) {
        char *eq = strchr(configs[i], '=');
        if (!eq) {
            sl_cli_error("-c", "expected key=value");
            rd_kafka_NewTopic_destroy(nt);
            return 2;
        }
        *eq = '\0';
        rd_kafka_NewTopic_set_config(nt, configs[i], eq + 1);
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_event_t *ev = wait_result(q, RD_KAFKA_EVENT_CREATETOPICS_RESULT);
    int rc = 1;
    if (ev) {
        size_t n;
        const rd_kafka_topic_result_t **res =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
        if (rd_kafka_event_error(ev)) {
            sl_cli_error("create", rd_kafka_event_error_string(ev));
        } else if (n == 1 && rd_kafka_topic_result_error(res[0])) {
            sl_cli_error(name, rd_kafka_topic_result_error_string(res[0])
                                   ? rd_kafka_topic_result_error_string(res[0])
                                   : rd_kafka_err2str(rd_kafka_topic_result_error(res[0])));
        } else {
            printf("created %s\n", name);
            rc = 0;
        }
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(q);
    return rc;
}

static int topic_delete(rd_kafka_t *rk, const char *name) {
    rd_kafka_DeleteTopic_t *dt = rd_kafka_DeleteTopic_new(name);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_DeleteTopics(rk, &dt, 1, NULL, q);
    rd_kafka_DeleteTopic_destroy(dt);
    rd_kafka_event_t *ev = wait_result(q, RD_KAFKA_EVENT_DELETETOPICS_RESULT);
    int rc = 1;
    if (ev) {
        size_t n;
        const rd_kafka_topic_result_t **res =
            rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &n);
        if (rd_kafka_event_error(ev)) {
            sl_cli_error("delete", rd_kafka_event_error_string(ev));
        } else if (n == 1 && rd_kafka_topic_result_error(res[0])) {
            sl_cli_error(name, rd_kafka_err2str(rd_kafka_topic_result_error(res[0])));
        } else {
            printf("deleted %s\n", name);
            rc = 0;
        }
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(q);
    return rc;
}

static int topic_list_or_describe(rd_kafka_t *rk, const char *name) {
    const struct rd_kafka_metadata *md;
    rd_kafka_topic_t *rkt = name ? rd_kafka_topic_new(rk, name, NULL) : NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, rkt ? 0 : 1, rkt, &md, TIMEOUT_MS);
    if (rkt) {
        rd_kafka_topic_destroy(rkt);
    }
    if (err) {
        sl_cli_error("metadata", rd_kafka_err2str(err));
        return 1;
    }
    int rc = 0;
    for (int i = 0; i < md->topic_cnt; i++) {
        const struct rd_kafka_metadata_topic *t = &md->topics[i];
        if (!name) {
            printf("%s\t%d partitions\n", t->topic, t->partition_cnt);
            continue;
        }
        if (t->err) {
            sl_cli_error(t->topic, rd_kafka_err2str(t->err));
            rc = 1;
            continue;
        }
        printf("topic %s: %d partitions\n", t->topic, t->partition_cnt);
        for (int p = 0; p < t->partition_cnt; p++) {
            printf("  partition %d: leader %d, replicas %d, isr %d\n", t->partitions[p].id,
                   t->partitions[p].leader, t->partitions[p].replica_cnt, t->partitions[p].isr_cnt);
        }
    }
    rd_kafka_metadata_destroy(md);
    if (!name || rc) {
        return rc;
    }
    /* Configs through DescribeConfigs. */
    rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, name);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_DescribeConfigs(rk, &res, 1, NULL, q);
    rd_kafka_ConfigResource_destroy(res);
    rd_kafka_event_t *ev = wait_result(q, RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT);
    if (ev) {
        size_t n;
        const rd_kafka_ConfigResource_t **rs = rd_kafka_DescribeConfigs_result_resources(
            rd_kafka_event_DescribeConfigs_result(ev), &n);
        if (rd_kafka_event_error(ev) || n != 1 || rd_kafka_ConfigResource_error(rs[0])) {
            sl_cli_error("describe configs", rd_kafka_event_error(ev)
                                                 ? rd_kafka_event_error_string(ev)
                                                 : "broker returned an error");
            rc = 1;
        } else {
            size_t nc;
            const rd_kafka_ConfigEntry_t **ce = rd_kafka_ConfigResource_configs(rs[0], &nc);
            printf("configs:\n");
            for (size_t i = 0; i < nc; i++) {
                printf("  %s=%s%s\n", rd_kafka_ConfigEntry_name(ce[i]),
                       rd_kafka_ConfigEntry_value(ce[i]) ? rd_kafka_ConfigEntry_value(ce[i]) : "",
                       rd_kafka_ConfigEntry_is_default(ce[i]) ? "" : "  (set)");
            }
        }
        rd_kafka_event_destroy(ev);
    } else {
        rc = 1;
    }
    rd_kafka_queue_destroy(q);
    return rc;
}

int sl_cmd_topic(int argc, char **argv) {
    static const struct option opts[] = {
        {"brokers", required_argument, 0, 'b'},
        {"partitions", required_argument, 0, 'p'},
        {"replication", required_argument, 0, 'r'},
        {"config", required_argument, 0, 'c'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    sl_client_opts_t co = {0};
    int partitions = -1, rf = -1, n_configs = 0;
    char *configs[64];
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "b:X:p:r:c:h", opts, NULL)) != -1) {
        if (sl_client_opt(&co, c, optarg)) {
            continue;
        }
        switch (c) {
        case 'p':
            partitions = atoi(optarg);
            break;
        case 'r':
            rf = atoi(optarg);
            break;
        case 'c':
            if (n_configs < 64) {
                configs[n_configs++] = optarg;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    const char *verb = argv[optind];
    const char *name = optind + 1 < argc ? argv[optind + 1] : NULL;
    bool needs_name = strcmp(verb, "list") != 0;
    if ((needs_name && !name) || (strcmp(verb, "create") && strcmp(verb, "list") &&
                                  strcmp(verb, "describe") && strcmp(verb, "delete"))) {
        usage(stderr);
        return 2;
    }
    rd_kafka_conf_t *conf = sl_client_conf(&co);
    if (!conf) {
        return 2;
    }
    char errstr[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        sl_cli_error("client", errstr);
        return 1;
    }
    int rc;
    if (!strcmp(verb, "create")) {
        rc = topic_create(rk, name, partitions, rf, configs, n_configs);
    } else if (!strcmp(verb, "delete")) {
        rc = topic_delete(rk, name);
    } else {
        rc = topic_list_or_describe(rk, needs_name ? name : NULL);
    }
    rd_kafka_destroy(rk);
    return rc;
}

/* cmd_group.c -- `sluice group list|describe|lag|reset-offsets` through the Kafka Admin API, so
 * it works against any Kafka cluster. Lag = log end offset - committed offset, per partition. */
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define TIMEOUT_MS 15000

static void usage(FILE *f) {
    fprintf(f, "usage: sluice group list\n"
               "       sluice group describe GROUP\n"
               "       sluice group lag GROUP\n"
               "       sluice group reset-offsets GROUP -t TOPIC "
               "(--to-earliest | --to-latest | --to-offset N)\n"
               "reset-offsets needs the group to have no active members.\n"
               "options: -b HOST:PORT (default 127.0.0.1:9092), -X librdkafka.key=value\n");
}

static rd_kafka_event_t *wait_event(rd_kafka_queue_t *q, rd_kafka_event_type_t type) {
    for (;;) {
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, TIMEOUT_MS);
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

static int group_list(rd_kafka_t *rk, rd_kafka_queue_t *q) {
    rd_kafka_ListConsumerGroups(rk, NULL, q);
    rd_kafka_event_t *ev = wait_event(q, RD_KAFKA_EVENT_LISTCONSUMERGROUPS_RESULT);
    if (!ev) {
        return 1;
    }
    const rd_kafka_ListConsumerGroups_result_t *res = rd_kafka_event_ListConsumerGroups_result(ev);
    size_t n;
    const rd_kafka_ConsumerGroupListing_t **gl = rd_kafka_ListConsumerGroups_result_valid(res, &n);
    for (size_t i = 0; i < n; i++) {
        printf("%s\t%s\n", rd_kafka_ConsumerGroupListing_group_id(gl[i]),
               rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupListing_state(gl[i])));
    }
    rd_kafka_event_destroy(ev);
    return 0;
}

static int group_describe(rd_kafka_t *rk, rd_kafka_queue_t *q, const char *group) {
    const char *groups[] = {group};
    rd_kafka_DescribeConsumerGroups(rk, groups, 1, NULL, q);
    rd_kafka_event_t *ev = wait_event(q, RD_KAFKA_EVENT_DESCRIBECONSUMERGROUPS_RESULT);
    if (!ev) {
        return 1;
    }
    size_t n;
    const rd_kafka_ConsumerGroupDescription_t **gd = rd_kafka_DescribeConsumerGroups_result_groups(
        rd_kafka_event_DescribeConsumerGroups_result(ev), &n);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        const rd_kafka_error_t *err = rd_kafka_ConsumerGroupDescription_error(gd[i]);
        if (err) {
            sl_cli_error(group, rd_kafka_error_string(err));
            rc = 1;
            continue;
        }
        size_t nm = rd_kafka_ConsumerGroupDescription_member_count(gd[i]);
        printf("group %s: state %s, assignor %s, %zu members\n",
               rd_kafka_ConsumerGroupDescription_group_id(gd[i]),
               rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupDescription_state(gd[i])),
               rd_kafka_ConsumerGroupDescription_partition_assignor(gd[i]), nm);
        for (size_t k = 0; k < nm; k++) {
            const rd_kafka_MemberDescription_t *m =
                rd_kafka_ConsumerGroupDescription_member(gd[i], k);
            const rd_kafka_topic_partition_list_t *tp =
                rd_kafka_MemberAssignment_partitions(rd_kafka_MemberDescription_assignment(m));
            printf("  %s (client %s, host %s%s%s):", rd_kafka_MemberDescription_consumer_id(m),
                   rd_kafka_MemberDescription_client_id(m), rd_kafka_MemberDescription_host(m),
                   rd_kafka_MemberDescription_group_instance_id(m) ? ", instance " : "",
                   rd_kafka_MemberDescription_group_instance_id(m)
                       ? rd_kafka_MemberDescription_group_instance_id(m)
                       : "");
            for (int p = 0; tp && p < tp->cnt; p++) {
                printf(" %s-%d", tp->elems[p].topic, tp->elems[p].partition);
            }
            printf("\n");
        }
    }
    rd_kafka_event_destroy(ev);
    return rc;
}

/* Committed offsets of a group (all partitions it has committed), or NULL. */
static rd_kafka_topic_partition_list_t *committed(rd_kafka_t *rk, rd_kafka_queue_t *q,
                                                  const char *group) {
    rd_kafka_ListConsumerGroupOffsets_t *req = rd_kafka_ListConsumerGroupOffsets_new(group, NULL);
    rd_kafka_ListConsumerGroupOffsets(rk, &req, 1, NULL, q);
    rd_kafka_ListConsumerGroupOffsets_destroy(req);
    rd_kafka_event_t *ev = wait_event(q, RD_KAFKA_EVENT_LISTCONSUMERGROUPOFFSETS_RESULT);
    if (!ev) {
        return NULL;
    }
    size_t n;
    const rd_kafka_group_result_t **gr = rd_kafka_ListConsumerGroupOffsets_result_groups(
        rd_kafka_event_ListConsumerGroupOffsets_result(ev), &n);
    rd_kafka_topic_partition_list_t *out = NULL;
    if (n == 1 && !rd_kafka_group_result_error(gr[0])) {
        out = rd_kafka_topic_partition_list_copy(rd_kafka_group_result_partitions(gr[0]));
    } else if (n == 1) {
        sl_cli_error(group, rd_kafka_error_string(rd_kafka_group_result_error(gr[0])));
    }
    rd_kafka_event_destroy(ev);
    return out;
}

static int group_lag(rd_kafka_t *rk, rd_kafka_queue_t *q, const char *group) {
    rd_kafka_topic_partition_list_t *tp = committed(rk, q, group);
    if (!tp) {
        return 1;
    }
    int64_t total = 0;
    printf("%-32s %9s %14s %14s %10s\n", "TOPIC", "PARTITION", "COMMITTED", "LOG-END", "LAG");
    for (int i = 0; i < tp->cnt; i++) {
        int64_t lo, hi;
        rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
            rk, tp->elems[i].topic, tp->elems[i].partition, &lo, &hi, TIMEOUT_MS);
        if (err) {
            sl_cli_error(tp->elems[i].topic, rd_kafka_err2str(err));
            continue;
        }
        int64_t c = tp->elems[i].offset;
        int64_t lag = c < 0 ? hi - lo : hi - c;
        total += lag;
        printf("%-32s %9d %14" PRId64 " %14" PRId64 " %10" PRId64 "\n", tp->elems[i].topic,
               tp->elems[i].partition, c, hi, lag);
    }
    printf("total lag %" PRId64 "\n", total);
    rd_kafka_topic_partition_list_destroy(tp);
    return 0;
}

static int group_reset(rd_kafka_t *rk, rd_kafka_queue_t *q, const char *group, const char *topic,
                       int64_t to) {
    const struct rd_kafka_metadata *md;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, TIMEOUT_MS);
    rd_kafka_topic_destroy(rkt);
    if (err || md->topic_cnt != 1 || md->topics[0].err) {
        sl_cli_error(topic, rd_kafka_err2str(err ? err : md->topics[0].err));
        return 1;
    }
    int n = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(n);
    for (int p = 0; p < n; p++) {
        int64_t lo, hi, off = to;
        if (to < 0 && rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, TIMEOUT_MS) == 0) {
            off = to == -2 ? lo : hi;
        }
        rd_kafka_topic_partition_list_add(tp, topic, p)->offset = off;
    }
    rd_kafka_AlterConsumerGroupOffsets_t *req = rd_kafka_AlterConsumerGroupOffsets_new(group, tp);
    rd_kafka_topic_partition_list_destroy(tp);
    rd_kafka_AlterConsumerGroupOffsets(rk, &req, 1, NULL, q);
    rd_kafka_AlterConsumerGroupOffsets_destroy(req);
    rd_kafka_event_t *ev = wait_event(q, RD_KAFKA_EVENT_ALTERCONSUMERGROUPOFFSETS_RESULT);
    if (!ev) {
        return 1;
    }
    size_t ng;
    const rd_kafka_group_result_t **gr = rd_kafka_AlterConsumerGroupOffsets_result_groups(
        rd_kafka_event_AlterConsumerGroupOffsets_result(ev), &ng);
    int rc = 0;
    const rd_kafka_topic_partition_list_t *res =
        ng == 1 ? rd_kafka_group_result_partitions(gr[0]) : NULL;
    if (ng != 1 || rd_kafka_group_result_error(gr[0])) {
        sl_cli_error(group, ng == 1 ? rd_kafka_error_string(rd_kafka_group_result_error(gr[0]))
                                    : "no result");
        rc = 1;
    }
    for (int i = 0; res && i < res->cnt; i++) {
        if (res->elems[i].err) {
            sl_cli_error(group, rd_kafka_err2str(res->elems[i].err));
            rc = 1;
            break;
        }
        printf("%s-%d -> %" PRId64 "\n", res->elems[i].topic, res->elems[i].partition,
               res->elems[i].offset);
    }
    rd_kafka_event_destroy(ev);
    return rc;
}

int sl_cmd_group(int argc, char **argv) {
    static const struct option opts[] = {
        {"brokers", required_argument, 0, 'b'},
        {"topic", required_argument, 0, 't'},
        {"to-earliest", no_argument, 0, 'E'},
        {"to-latest", no_argument, 0, 'L'},
        {"to-offset", required_argument, 0, 'O'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    sl_client_opts_t co = {0};
    const char *topic = NULL;
    int64_t to = INT64_MIN;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "b:X:t:h", opts, NULL)) != -1) {
        if (sl_client_opt(&co, c, optarg)) {
            continue;
        }
        switch (c) {
        case 't':
            topic = optarg;
            break;
        case 'E':
            to = -2;
            break;
        case 'L':
            to = -1;
            break;
        case 'O':
            to = atoll(optarg);
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
    const char *group = optind + 1 < argc ? argv[optind + 1] : NULL;
    bool list = !strcmp(verb, "list");
    bool reset = !strcmp(verb, "reset-offsets");
    if ((!list && !group) || (reset && (!topic || to == INT64_MIN)) ||
        (!list && !reset && strcmp(verb, "describe") && strcmp(verb, "lag"))) {
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
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    int rc;
    if (list) {
        rc = group_list(rk, q);
    } else if (!strcmp(verb, "describe")) {
        rc = group_describe(rk, q, group);
    } else if (!strcmp(verb, "lag")) {
        rc = group_lag(rk, q, group);
    } else {
        rc = group_reset(rk, q, group, topic, to);
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    return rc;
}

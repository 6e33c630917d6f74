/* cmd_group.c -- `sluice group list|describe|lag|seek|reset-offsets|delete` through the Kafka
 * Admin API, so it works against any Kafka cluster. Lag = log end offset - committed offset, per
 * partition. A group that does not exist is an error for describe, lag and delete. seek and
 * reset-offsets move committed offsets (to earliest, latest, an offset, a timestamp or by a
 * shift) and, like delete, refuse while the group has members and take --dry-run. */
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define MAX_TOPICS 64

static void usage(FILE *f) {
    fprintf(f,
            "usage: sluice group list [--json]\n"
            "       sluice group describe GROUP [--json]\n"
            "       sluice group lag GROUP [--json]\n"
            "       sluice group seek GROUP --to WHERE [-t TOPIC ...] [--dry-run]\n"
            "       sluice group reset-offsets GROUP -t TOPIC (--to-earliest | --to-latest |\n"
            "                   --to-offset N | --to-timestamp MS | --shift-by N) [--dry-run]\n"
            "       sluice group delete GROUP [--dry-run]\n"
            "seek WHERE: earliest (or start), latest (or end), an OFFSET, @MS (the first record\n"
            "at or after a Unix timestamp in ms), or +N / -N (shift the committed offsets).\n"
            "Without -t, seek moves every topic the group has committed offsets for.\n"
            "Offsets are clamped to each partition's [start, end]. seek, reset-offsets and delete\n"
            "need the group to have no active members; --dry-run prints the change only.\n"
            "options: -b HOST:PORT (default $SLUICE_BROKERS, else 127.0.0.1:9092), "
            "-X librdkafka.key=value\n");
}

enum { TO_NONE, TO_EARLIEST, TO_LATEST, TO_OFFSET, TO_TIMESTAMP, TO_SHIFT };

typedef struct gargs {
    int to;
    int64_t value;
    const char *topics[MAX_TOPICS];
    int n_topics;
    bool dry_run, json;
} gargs_t;

/* Parses a seek target: earliest|start|latest|end|N|@MS|+N|-N. */
static bool parse_to(const char *s, gargs_t *a) {
    if (!strcmp(s, "earliest") || !strcmp(s, "start") || !strcmp(s, "beginning")) {
        a->to = TO_EARLIEST;
        return true;
    }
    if (!strcmp(s, "latest") || !strcmp(s, "end")) {
        a->to = TO_LATEST;
        return true;
    }
    if (s[0] == '@') {
        a->to = TO_TIMESTAMP;
        return sl_cli_parse_i64("--to @timestamp", s + 1, 0, INT64_MAX, &a->value);
    }
    if (s[0] == '+' || s[0] == '-') {
        a->to = TO_SHIFT;
        return sl_cli_parse_i64("--to (shift)", s, -INT64_MAX, INT64_MAX, &a->value);
    }
    a->to = TO_OFFSET;
    return sl_cli_parse_i64("--to", s, 0, INT64_MAX, &a->value);
}

/* Describes one group; the result event (caller destroys) and the description, or NULL. */
static rd_kafka_event_t *describe(rd_kafka_t *rk, rd_kafka_queue_t *q, const char *group,
                                  const rd_kafka_ConsumerGroupDescription_t **out) {
    const char *groups[] = {group};
    rd_kafka_DescribeConsumerGroups(rk, groups, 1, NULL, q);
    rd_kafka_event_t *ev = sl_cli_wait(q, RD_KAFKA_EVENT_DESCRIBECONSUMERGROUPS_RESULT);
    if (!ev) {
        return NULL;
    }
    size_t n;
    const rd_kafka_ConsumerGroupDescription_t **gd = rd_kafka_DescribeConsumerGroups_result_groups(
        rd_kafka_event_DescribeConsumerGroups_result(ev), &n);
    const rd_kafka_error_t *err = n == 1 ? rd_kafka_ConsumerGroupDescription_error(gd[0]) : NULL;
    if (n != 1 || err) {
        sl_cli_error(group, err ? rd_kafka_error_string(err) : "no result");
        rd_kafka_event_destroy(ev);
        return NULL;
    }
    *out = gd[0];
    return ev;
}

/* A group "exists" once it has members or committed offsets; the broker describes any other
 * name as Dead with no members. */
static bool is_dead(const rd_kafka_ConsumerGroupDescription_t *d) {
    return rd_kafka_ConsumerGroupDescription_state(d) == RD_KAFKA_CONSUMER_GROUP_STATE_DEAD &&
           rd_kafka_ConsumerGroupDescription_member_count(d) == 0;
}

/* 0 if the group has no members; 1 (error printed) if it has, or cannot be described. */
static int require_no_members(rd_kafka_t *rk, rd_kafka_queue_t *q, const char *group) {
    const rd_kafka_ConsumerGroupDescription_t *d;
    rd_kafka_event_t *ev = describe(rk, q, group, &d);
    if (!ev) {
        return 1;
    }
    size_t nm = rd_kafka_ConsumerGroupDescription_member_count(d);
    rd_kafka_event_destroy(ev);
    if (nm > 0) {
        fprintf(stderr, "sluice: group %s has %zu active member%s; stop its consumers first\n",
                group, nm, nm == 1 ? "" : "s");
        return 1;
    }
    return 0;
}

static int group_list(rd_kafka_t *rk, rd_kafka_queue_t *q, bool json) {
    rd_kafka_ListConsumerGroups(rk, NULL, q);
    rd_kafka_event_t *ev = sl_cli_wait(q, RD_KAFKA_EVENT_LISTCONSUMERGROUPS_RESULT);
    if (!ev) {
        return 1;
    }
    size_t n;
    const rd_kafka_ConsumerGroupListing_t **gl =
        rd_kafka_ListConsumerGroups_result_valid(rd_kafka_event_ListConsumerGroups_result(ev), &n);
    /* ListGroups before v4 carries no state: DescribeGroups has the real one. */
    const char **ids = calloc(n ? n : 1, sizeof *ids);
    for (size_t i = 0; i < n; i++) {
        ids[i] = rd_kafka_ConsumerGroupListing_group_id(gl[i]);
    }
    rd_kafka_event_t *dev = NULL;
    const rd_kafka_ConsumerGroupDescription_t **gd = NULL;
    size_t nd = 0;
    if (n) {
        rd_kafka_DescribeConsumerGroups(rk, ids, n, NULL, q);
        dev = sl_cli_wait(q, RD_KAFKA_EVENT_DESCRIBECONSUMERGROUPS_RESULT);
        if (dev) {
            gd = rd_kafka_DescribeConsumerGroups_result_groups(
                rd_kafka_event_DescribeConsumerGroups_result(dev), &nd);
        }
    }
    json_t *arr = json ? json_array() : NULL;
    for (size_t i = 0; i < n; i++) {
        const char *state = "Unknown";
        long members = -1;
        for (size_t k = 0; k < nd; k++) {
            if (!strcmp(rd_kafka_ConsumerGroupDescription_group_id(gd[k]), ids[i]) &&
                !rd_kafka_ConsumerGroupDescription_error(gd[k])) {
                state = rd_kafka_consumer_group_state_name(
                    rd_kafka_ConsumerGroupDescription_state(gd[k]));
                members = (long)rd_kafka_ConsumerGroupDescription_member_count(gd[k]);
            }
        }
        if (arr) {
            json_array_append_new(arr, json_pack("{s:s, s:s, s:i}", "group", ids[i], "state", state,
                                                 "members", (int)members));
        } else {
            printf("%s\t%s\t%ld member%s\n", ids[i], state, members, members == 1 ? "" : "s");
        }
    }
    if (arr) {
        sl_cli_print_json(arr);
    }
    free(ids);
    if (dev) {
        rd_kafka_event_destroy(dev);
    }
    rd_kafka_event_destroy(ev);
    return 0;
}

static int group_describe(rd_kafka_t *rk, rd_kafka_queue_t *q, const char *group, bool json) {
    const rd_kafka_ConsumerGroupDescription_t *d;
    rd_kafka_event_t *ev = describe(rk, q, group, &d);
    if (!ev) {
        return 1;
    }
    if (is_dead(d)) {
        fprintf(stderr, "sluice: group %s does not exist\n", group);
        rd_kafka_event_destroy(ev);
        return 1;
    }
    size_t nm = rd_kafka_ConsumerGroupDescription_member_count(d);
    const char *state =
        rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupDescription_state(d));
    const char *assignor = rd_kafka_ConsumerGroupDescription_partition_assignor(d);
    json_t *jm = json_array();
    if (!json) {
        printf("group %s: state %s, assignor %s, %zu member%s\n", group, state,
               assignor ? assignor : "", nm, nm == 1 ? "" : "s");
    }
    for (size_t k = 0; k < nm; k++) {
        const rd_kafka_MemberDescription_t *m = rd_kafka_ConsumerGroupDescription_member(d, k);
        const rd_kafka_topic_partition_list_t *tp =
            rd_kafka_MemberAssignment_partitions(rd_kafka_MemberDescription_assignment(m));
        const char *inst = rd_kafka_MemberDescription_group_instance_id(m);
        json_t *ja = json_array();
        if (!json) {
            printf("  %s (client %s, host %s%s%s):", rd_kafka_MemberDescription_consumer_id(m),
                   rd_kafka_MemberDescription_client_id(m), rd_kafka_MemberDescription_host(m),
                   inst ? ", instance " : "", inst ? inst : "");
        }
        for (int p = 0; tp && p < tp->cnt; p++) {
            if (json) {
                json_array_append_new(ja, json_pack("{s:s, s:i}", "topic", tp->elems[p].topic,
                                                    "partition", tp->elems[p].partition));
            } else {
                printf(" %s-%d", tp->elems[p].topic, tp->elems[p].partition);
            }
        }
        if (json) {
            json_array_append_new(jm,
                                  json_pack("{s:s, s:s, s:s, s:s?, s:o}", "member_id",
                                            rd_kafka_MemberDescription_consumer_id(m), "client_id",
                                            rd_kafka_MemberDescription_client_id(m), "host",
                                            rd_kafka_MemberDescription_host(m), "instance_id", inst,
                                            "assignment", ja));
        } else {
            json_decref(ja);
            printf("\n");
        }
    }
    if (json) {
        sl_cli_print_json(json_pack("{s:s, s:s, s:s, s:o}", "group", group, "state", state,
                                    "assignor", assignor ? assignor : "", "members", jm));
    } else {
        json_decref(jm);
    }
    rd_kafka_event_destroy(ev);
    return 0;
}

/* Committed offsets of a group (all partitions it has committed), or NULL (error printed). */
static rd_kafka_topic_partition_list_t *committed(rd_kafka_t *rk, rd_kafka_queue_t *q,
                                                  const char *group) {
    rd_kafka_ListConsumerGroupOffsets_t *req = rd_kafka_ListConsumerGroupOffsets_new(group, NULL);
    rd_kafka_ListConsumerGroupOffsets(rk, &req, 1, NULL, q);
    rd_kafka_ListConsumerGroupOffsets_destroy(req);
    rd_kafka_event_t *ev = sl_cli_wait(q, RD_KAFKA_EVENT_LISTCONSUMERGROUPOFFSETS_RESULT);
    if (!ev) {
        return NULL;
    }
    size_t n;
    const rd_kafka_group_result_t **gr = rd_kafka_ListConsumerGroupOffsets_result_groups(
        rd_kafka_event_ListConsumerGroupOffsets_result(ev), &n);
    rd_kafka_topic_partition_list_t *out = NULL;
    if (n == 1 && !rd_kafka_group_result_error(gr[0])) {
        out = rd_kafka_topic_partition_list_copy(rd_kafka_group_result_partitions(gr[0]));
    } else {
        sl_cli_error(group, n == 1 ? rd_kafka_error_string(rd_kafka_group_result_error(gr[0]))
                                   : "no result");
    }
    rd_kafka_event_destroy(ev);
    return out;
}

static int group_lag(rd_kafka_t *rk, rd_kafka_queue_t *q, const char *group, bool json) {
    const rd_kafka_ConsumerGroupDescription_t *d;
    rd_kafka_event_t *dev = describe(rk, q, group, &d);
    if (!dev) {
        return 1;
    }
    bool dead = is_dead(d);
    rd_kafka_event_destroy(dev);
    rd_kafka_topic_partition_list_t *tp = committed(rk, q, group);
    if (!tp) {
        return 1;
    }
    if (dead && tp->cnt == 0) {
        fprintf(stderr, "sluice: group %s does not exist\n", group);
        rd_kafka_topic_partition_list_destroy(tp);
        return 1;
    }
    int64_t total = 0;
    int rc = 0;
    json_t *arr = json ? json_array() : NULL;
    if (!json) {
        printf("%-32s %9s %14s %14s %10s\n", "TOPIC", "PARTITION", "COMMITTED", "LOG-END", "LAG");
    }
    for (int i = 0; i < tp->cnt; i++) {
        int64_t lo, hi;
        rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
            rk, tp->elems[i].topic, tp->elems[i].partition, &lo, &hi, SL_CLI_TIMEOUT_MS);
        if (err) {
            sl_cli_error(tp->elems[i].topic, rd_kafka_err2str(err));
            rc = 1;
            continue;
        }
        int64_t c = tp->elems[i].offset;
        int64_t lag = c < 0 ? hi - lo : hi - c;
        total += lag;
        if (arr) {
            json_array_append_new(
                arr, json_pack("{s:s, s:i, s:I, s:I, s:I}", "topic", tp->elems[i].topic,
                               "partition", tp->elems[i].partition, "committed", (json_int_t)c,
                               "log_end", (json_int_t)hi, "lag", (json_int_t)lag));
        } else {
            printf("%-32s %9d %14" PRId64 " %14" PRId64 " %10" PRId64 "\n", tp->elems[i].topic,
                   tp->elems[i].partition, c, hi, lag);
        }
    }
    if (arr) {
        sl_cli_print_json(json_pack("{s:s, s:o, s:I}", "group", group, "partitions", arr,
                                    "total_lag", (json_int_t)total));
    } else {
        printf("total lag %" PRId64 "\n", total);
    }
    rd_kafka_topic_partition_list_destroy(tp);
    return rc;
}

static int64_t clamp(int64_t v, int64_t lo, int64_t hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

/* The committed offset of topic/partition in `cur`, or -1. */
static int64_t committed_of(const rd_kafka_topic_partition_list_t *cur, const char *topic,
                            int32_t p) {
    for (int i = 0; cur && i < cur->cnt; i++) {
        if (cur->elems[i].partition == p && !strcmp(cur->elems[i].topic, topic)) {
            return cur->elems[i].offset;
        }
    }
    return -1;
}

/* Computes the new offsets of every partition of the chosen topics (all committed topics when
 * none was named), prints "TOPIC PARTITION OLD -> NEW" and, unless --dry-run, commits them. */
static int group_seek(rd_kafka_t *rk, rd_kafka_queue_t *q, const char *group, gargs_t *a) {
    if (require_no_members(rk, q, group)) {
        return 1;
    }
    rd_kafka_topic_partition_list_t *cur = committed(rk, q, group);
    if (!cur) {
        return 1;
    }
    if (a->n_topics == 0) {
        for (int i = 0; i < cur->cnt && a->n_topics < MAX_TOPICS; i++) {
            bool seen = false;
            for (int k = 0; k < a->n_topics; k++) {
                seen |= !strcmp(a->topics[k], cur->elems[i].topic);
            }
            if (!seen) {
                a->topics[a->n_topics++] = cur->elems[i].topic;
            }
        }
        if (a->n_topics == 0) {
            fprintf(stderr, "sluice: group %s has no committed offsets; name topics with -t\n",
                    group);
            rd_kafka_topic_partition_list_destroy(cur);
            return 1;
        }
    }
    const struct rd_kafka_metadata *md = sl_cli_metadata(rk);
    if (!md) {
        rd_kafka_topic_partition_list_destroy(cur);
        return 1;
    }
    int rc = 0;
    rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(16);
    for (int k = 0; k < a->n_topics && !rc; k++) {
        const struct rd_kafka_metadata_topic *t = sl_cli_find_topic(md, a->topics[k]);
        if (!t) {
            rc = 1;
            break;
        }
        for (int p = 0; p < t->partition_cnt; p++) {
            rd_kafka_topic_partition_list_add(tp, t->topic, t->partitions[p].id)->offset = a->value;
        }
    }
    rd_kafka_metadata_destroy(md);
    if (!rc && a->to == TO_TIMESTAMP) {
        rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(rk, tp, SL_CLI_TIMEOUT_MS);
        if (err) {
            sl_cli_error("offsets for timestamp", rd_kafka_err2str(err));
            rc = 1;
        }
        for (int i = 0; !rc && i < tp->cnt; i++) {
            if (tp->elems[i].err) {
                fprintf(stderr, "sluice: %s-%d: %s\n", tp->elems[i].topic, tp->elems[i].partition,
                        rd_kafka_err2str(tp->elems[i].err));
                rc = 1;
            }
        }
    }
    if (!rc) {
        printf("%-32s %9s %14s %14s\n", "TOPIC", "PARTITION", "OLD", "NEW");
    }
    for (int i = 0; !rc && i < tp->cnt; i++) {
        rd_kafka_topic_partition_t *e = &tp->elems[i];
        int64_t lo, hi;
        rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(rk, e->topic, e->partition, &lo,
                                                                   &hi, SL_CLI_TIMEOUT_MS);
        if (err) {
            sl_cli_error(e->topic, rd_kafka_err2str(err));
            rc = 1;
            break;
        }
        int64_t old = committed_of(cur, e->topic, e->partition), to = hi;
        switch (a->to) {
        case TO_EARLIEST:
            to = lo;
            break;
        case TO_LATEST:
            to = hi;
            break;
        case TO_OFFSET:
            to = clamp(a->value, lo, hi);
            break;
        case TO_TIMESTAMP: /* -1: no record at or after the timestamp, so the end */
            to = e->offset < 0 ? hi : clamp(e->offset, lo, hi);
            break;
        default: /* TO_SHIFT from the committed offset (from the start when none) */
            to = clamp((old < 0 ? lo : old) + a->value, lo, hi);
            break;
        }
        e->offset = to;
        char otxt[32];
        snprintf(otxt, sizeof otxt, old < 0 ? "-" : "%" PRId64, old);
        printf("%-32s %9d %14s %14" PRId64 "\n", e->topic, e->partition, otxt, to);
    }
    rd_kafka_topic_partition_list_destroy(cur);
    if (rc || a->dry_run) {
        if (!rc) {
            printf("dry run: nothing changed\n");
        }
        rd_kafka_topic_partition_list_destroy(tp);
        return rc;
    }
    rd_kafka_AlterConsumerGroupOffsets_t *req = rd_kafka_AlterConsumerGroupOffsets_new(group, tp);
    rd_kafka_topic_partition_list_destroy(tp);
    rd_kafka_AlterConsumerGroupOffsets(rk, &req, 1, NULL, q);
    rd_kafka_AlterConsumerGroupOffsets_destroy(req);
    rd_kafka_event_t *ev = sl_cli_wait(q, RD_KAFKA_EVENT_ALTERCONSUMERGROUPOFFSETS_RESULT);
    if (!ev) {
        return 1;
    }
    size_t ng;
    const rd_kafka_group_result_t **gr = rd_kafka_AlterConsumerGroupOffsets_result_groups(
        rd_kafka_event_AlterConsumerGroupOffsets_result(ev), &ng);
    const rd_kafka_topic_partition_list_t *res =
        ng == 1 ? rd_kafka_group_result_partitions(gr[0]) : NULL;
    if (ng != 1 || rd_kafka_group_result_error(gr[0])) {
        sl_cli_error(group, ng == 1 ? rd_kafka_error_string(rd_kafka_group_result_error(gr[0]))
                                    : "no result");
        rc = 1;
    }
    for (int i = 0; res && i < res->cnt; i++) {
        if (res->elems[i].err) {
            fprintf(stderr, "sluice: %s-%d: %s\n", res->elems[i].topic, res->elems[i].partition,
                    res->elems[i].err == RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID
                        ? "the group has active members; stop its consumers first"
                        : rd_kafka_err2str(res->elems[i].err));
            rc = 1;
        }
    }
    rd_kafka_event_destroy(ev);
    return rc;
}

static int group_delete(rd_kafka_t *rk, rd_kafka_queue_t *q, const char *group, bool dry_run) {
    const rd_kafka_ConsumerGroupDescription_t *d;
    rd_kafka_event_t *dev = describe(rk, q, group, &d);
    if (!dev) {
        return 1;
    }
    bool dead = is_dead(d);
    rd_kafka_event_destroy(dev);
    if (dead) {
        rd_kafka_topic_partition_list_t *cur = committed(rk, q, group);
        int n = cur ? cur->cnt : 0;
        if (cur) {
            rd_kafka_topic_partition_list_destroy(cur);
        }
        if (n == 0) {
            fprintf(stderr, "sluice: group %s does not exist\n", group);
            return 1;
        }
    }
    if (require_no_members(rk, q, group)) {
        return 1;
    }
    if (dry_run) {
        printf("would delete group %s\n", group);
        return 0;
    }
    rd_kafka_DeleteGroup_t *dg = rd_kafka_DeleteGroup_new(group);
    rd_kafka_DeleteGroups(rk, &dg, 1, NULL, q);
    rd_kafka_DeleteGroup_destroy(dg);
    rd_kafka_event_t *ev = sl_cli_wait(q, RD_KAFKA_EVENT_DELETEGROUPS_RESULT);
    if (!ev) {
        return 1;
    }
    size_t n;
    const rd_kafka_group_result_t **gr =
        rd_kafka_DeleteGroups_result_groups(rd_kafka_event_DeleteGroups_result(ev), &n);
    int rc = 0;
    if (n != 1 || rd_kafka_group_result_error(gr[0])) {
        sl_cli_error(group, n == 1 ? rd_kafka_error_string(rd_kafka_group_result_error(gr[0]))
                                   : "no result");
        rc = 1;
    } else {
        printf("deleted group %s\n", group);
    }
    rd_kafka_event_destroy(ev);
    return rc;
}

int sl_cmd_group(int argc, char **argv) {
    static const struct option opts[] = {
        {"brokers", required_argument, 0, 'b'},
        {"topic", required_argument, 0, 't'},
        {"topics", required_argument, 0, 't'},
        {"to", required_argument, 0, 'T'},
        {"to-earliest", no_argument, 0, 'E'},
        {"to-latest", no_argument, 0, 'L'},
        {"to-offset", required_argument, 0, 'O'},
        {"to-timestamp", required_argument, 0, 'M'},
        {"shift-by", required_argument, 0, 'S'},
        {"dry-run", no_argument, 0, 'd'},
        {"json", no_argument, 0, 'j'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    sl_client_opts_t co = {0};
    gargs_t a = {.to = TO_NONE};
    int c, n_to = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "b:X:t:h", opts, NULL)) != -1) {
        if (sl_client_opt(&co, c, optarg)) {
            continue;
        }
        bool ok = true;
        switch (c) {
        case 't':
            if (a.n_topics >= MAX_TOPICS) {
                sl_cli_error("-t", "too many topics");
                return 2;
            }
            a.topics[a.n_topics++] = optarg;
            break;
        case 'T':
            ok = parse_to(optarg, &a);
            n_to++;
            break;
        case 'E':
        case 'L':
            a.to = c == 'E' ? TO_EARLIEST : TO_LATEST;
            n_to++;
            break;
        case 'O':
            a.to = TO_OFFSET;
            ok = sl_cli_parse_i64("--to-offset", optarg, 0, INT64_MAX, &a.value);
            n_to++;
            break;
        case 'M':
            a.to = TO_TIMESTAMP;
            ok = sl_cli_parse_i64("--to-timestamp", optarg, 0, INT64_MAX, &a.value);
            n_to++;
            break;
        case 'S':
            a.to = TO_SHIFT;
            ok = sl_cli_parse_i64("--shift-by", optarg, -INT64_MAX, INT64_MAX, &a.value);
            n_to++;
            break;
        case 'd':
            a.dry_run = true;
            break;
        case 'j':
            a.json = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
        if (!ok) {
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
    bool seek = !strcmp(verb, "seek") || !strcmp(verb, "reset-offsets");
    if (!list && !seek && strcmp(verb, "describe") && strcmp(verb, "lag") &&
        strcmp(verb, "delete")) {
        fprintf(stderr, "sluice: group: unknown subcommand '%s'\n", verb);
        usage(stderr);
        return 2;
    }
    const char *why = NULL;
    if (!list && !group) {
        why = "give the group name";
    } else if (optind + (list ? 1 : 2) < argc) {
        why = "too many arguments";
    } else if (seek && n_to != 1) {
        why = "give exactly one target (--to, --to-earliest, --to-latest, --to-offset, "
              "--to-timestamp or --shift-by)";
    } else if (!strcmp(verb, "reset-offsets") && a.n_topics == 0) {
        why = "reset-offsets needs -t TOPIC (seek without -t moves every committed topic)";
    }
    if (why) {
        fprintf(stderr, "sluice: group %s: %s\n", verb, why);
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
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    int rc;
    if (list) {
        rc = group_list(rk, q, a.json);
    } else if (!strcmp(verb, "describe")) {
        rc = group_describe(rk, q, group, a.json);
    } else if (!strcmp(verb, "lag")) {
        rc = group_lag(rk, q, group, a.json);
    } else if (!strcmp(verb, "delete")) {
        rc = group_delete(rk, q, group, a.dry_run);
    } else {
        rc = group_seek(rk, q, group, &a);
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    return rc;
}

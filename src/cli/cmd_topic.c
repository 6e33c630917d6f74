/* cmd_topic.c -- `sluice topic create|list|describe|delete|alter-config|add-partitions|
 * trim-prefix` through the Kafka Admin API. Nothing here creates a topic implicitly: a topic that
 * does not exist is an error (exit 1). Destructive verbs take --dry-run, which prints what would
 * change and changes nothing. */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define MAX_ITEMS 64

static void usage(FILE *f) {
    fprintf(
        f,
        "usage: sluice topic create NAME [-p PARTITIONS] [-r REPLICATION] [-c key=value ...]\n"
        "       sluice topic list [--json]\n"
        "       sluice topic describe NAME [--json]\n"
        "       sluice topic delete NAME [--dry-run]\n"
        "       sluice topic alter-config NAME [--set key=value ...] [--delete key ...] "
        "[--dry-run]\n"
        "       sluice topic add-partitions NAME -n COUNT [--dry-run]\n"
        "       sluice topic trim-prefix NAME -o OFFSET [-p PARTITION] [--dry-run]\n"
        "alter-config keeps the topic's other overrides; --delete returns a key to its default.\n"
        "add-partitions adds COUNT partitions. trim-prefix deletes the records before OFFSET\n"
        "(DeleteRecords) in PARTITION or in every partition; OFFSET 'end' empties them.\n"
        "A topic that does not exist is an error (exit 1); topics are never created implicitly.\n"
        "options: -b HOST:PORT (default $SLUICE_BROKERS, else 127.0.0.1:9092), "
        "-X librdkafka.key=value\n");
}

typedef struct targs {
    int64_t partitions, rf, count, partition;
    const char *offset;
    char *configs[MAX_ITEMS];
    int n_configs;
    char *sets[MAX_ITEMS];
    int n_sets;
    const char *dels[MAX_ITEMS];
    int n_dels;
    bool json, dry_run;
} targs_t;

static const char *topic_err(const rd_kafka_topic_result_t *r) {
    const char *s = rd_kafka_topic_result_error_string(r);
    return s && *s ? s : rd_kafka_err2str(rd_kafka_topic_result_error(r));
}

static int topic_create(rd_kafka_t *rk, const char *name, targs_t *a) {
    char errstr[512];
    rd_kafka_NewTopic_t *nt =
        rd_kafka_NewTopic_new(name, (int)a->partitions, (int)a->rf, errstr, sizeof errstr);
    if (!nt) {
        sl_cli_error("create", errstr);
        return 2;
    }
    for (int i = 0; i < a->n_configs; i++) {
        char *eq = strchr(a->configs[i], '=');
        if (!eq) {
            sl_cli_error("-c", "expected key=value");
            rd_kafka_NewTopic_destroy(nt);
            return 2;
        }
        *eq = '\0';
        rd_kafka_NewTopic_set_config(nt, a->configs[i], eq + 1);
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_event_t *ev = sl_cli_wait(q, RD_KAFKA_EVENT_CREATETOPICS_RESULT);
    int rc = 1;
    if (ev) {
        size_t n;
        const rd_kafka_topic_result_t **res =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
        if (n == 1 && rd_kafka_topic_result_error(res[0])) {
            sl_cli_error(name, topic_err(res[0]));
        } else {
            printf("created %s\n", name);
            rc = 0;
        }
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(q);
    return rc;
}

static int topic_delete(rd_kafka_t *rk, const char *name, bool dry_run) {
    int np = sl_cli_partition_count(rk, name);
    if (np < 0) {
        return 1;
    }
    if (dry_run) {
        printf("would delete %s (%d partition%s)\n", name, np, np == 1 ? "" : "s");
        return 0;
    }
    rd_kafka_DeleteTopic_t *dt = rd_kafka_DeleteTopic_new(name);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_DeleteTopics(rk, &dt, 1, NULL, q);
    rd_kafka_DeleteTopic_destroy(dt);
    rd_kafka_event_t *ev = sl_cli_wait(q, RD_KAFKA_EVENT_DELETETOPICS_RESULT);
    int rc = 1;
    if (ev) {
        size_t n;
        const rd_kafka_topic_result_t **res =
            rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &n);
        if (n == 1 && rd_kafka_topic_result_error(res[0])) {
            sl_cli_error(name, topic_err(res[0]));
        } else {
            printf("deleted %s\n", name);
            rc = 0;
        }
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(q);
    return rc;
}

static int topic_list(rd_kafka_t *rk, bool json) {
    const struct rd_kafka_metadata *md = sl_cli_metadata(rk);
    if (!md) {
        return 1;
    }
    json_t *arr = json ? json_array() : NULL;
    for (int i = 0; i < md->topic_cnt; i++) {
        const struct rd_kafka_metadata_topic *t = &md->topics[i];
        if (arr) {
            json_array_append_new(
                arr, json_pack("{s:s, s:i}", "name", t->topic, "partitions", t->partition_cnt));
        } else {
            printf("%s\t%d partition%s\n", t->topic, t->partition_cnt,
                   t->partition_cnt == 1 ? "" : "s");
        }
    }
    rd_kafka_metadata_destroy(md);
    if (arr) {
        sl_cli_print_json(arr);
    }
    return 0;
}

/* DescribeConfigs of one topic; the result event (caller destroys) and its entries, or NULL. */
static rd_kafka_event_t *describe_configs(rd_kafka_t *rk, rd_kafka_ResourceType_t type,
                                          const char *name, const rd_kafka_ConfigEntry_t ***ce,
                                          size_t *nc) {
    rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(type, name);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_DescribeConfigs(rk, &res, 1, NULL, q);
    rd_kafka_ConfigResource_destroy(res);
    rd_kafka_event_t *ev = sl_cli_wait(q, RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT);
    rd_kafka_queue_destroy(q);
    if (!ev) {
        return NULL;
    }
    size_t n;
    const rd_kafka_ConfigResource_t **rs =
        rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &n);
    if (n != 1 || rd_kafka_ConfigResource_error(rs[0])) {
        sl_cli_error("describe configs", n == 1 && rd_kafka_ConfigResource_error_string(rs[0])
                                             ? rd_kafka_ConfigResource_error_string(rs[0])
                                             : "broker returned an error");
        rd_kafka_event_destroy(ev);
        return NULL;
    }
    *ce = (const rd_kafka_ConfigEntry_t **)rd_kafka_ConfigResource_configs(rs[0], nc);
    return ev;
}

int sl_cli_print_configs(rd_kafka_t *rk, rd_kafka_ResourceType_t type, const char *name,
                         json_t *obj) {
    const rd_kafka_ConfigEntry_t **ce;
    size_t nc;
    rd_kafka_event_t *ev = describe_configs(rk, type, name, &ce, &nc);
    if (!ev) {
        return 1;
    }
    if (!obj) {
        printf("configs:\n");
    }
    for (size_t i = 0; i < nc; i++) {
        const char *v = rd_kafka_ConfigEntry_value(ce[i]);
        if (obj) {
            json_object_set_new(obj, rd_kafka_ConfigEntry_name(ce[i]), json_string(v ? v : ""));
        } else {
            printf("  %s=%s%s\n", rd_kafka_ConfigEntry_name(ce[i]), v ? v : "",
                   rd_kafka_ConfigEntry_is_default(ce[i]) ? "" : "  (set)");
        }
    }
    rd_kafka_event_destroy(ev);
    return 0;
}

static int topic_describe(rd_kafka_t *rk, const char *name, bool json) {
    const struct rd_kafka_metadata *md = sl_cli_metadata(rk);
    if (!md) {
        return 1;
    }
    const struct rd_kafka_metadata_topic *t = sl_cli_find_topic(md, name);
    if (!t) {
        rd_kafka_metadata_destroy(md);
        return 1;
    }
    if (t->err) {
        sl_cli_error(name, rd_kafka_err2str(t->err));
        rd_kafka_metadata_destroy(md);
        return 1;
    }
    json_t *jt = json ? json_object() : NULL, *jparts = json ? json_array() : NULL;
    if (!jt) {
        printf("topic %s: %d partition%s\n", name, t->partition_cnt,
               t->partition_cnt == 1 ? "" : "s");
    }
    int rc = 0;
    for (int p = 0; p < t->partition_cnt; p++) {
        const struct rd_kafka_metadata_partition *mp = &t->partitions[p];
        int64_t lo = -1, hi = -1;
        rd_kafka_resp_err_t err =
            rd_kafka_query_watermark_offsets(rk, name, mp->id, &lo, &hi, SL_CLI_TIMEOUT_MS);
        if (err) {
            sl_cli_error(name, rd_kafka_err2str(err));
            rc = 1;
        }
        json_t *reps = json_array(), *isrs = json_array();
        char rtxt[256] = "", itxt[256] = "";
        for (int r = 0; r < mp->replica_cnt; r++) {
            json_array_append_new(reps, json_integer(mp->replicas[r]));
            size_t l = strlen(rtxt);
            snprintf(rtxt + l, sizeof rtxt - l, "%s%d", r ? "," : "", mp->replicas[r]);
        }
        for (int r = 0; r < mp->isr_cnt; r++) {
            json_array_append_new(isrs, json_integer(mp->isrs[r]));
            size_t l = strlen(itxt);
            snprintf(itxt + l, sizeof itxt - l, "%s%d", r ? "," : "", mp->isrs[r]);
        }
        if (jparts) {
            json_array_append_new(jparts, json_pack("{s:i, s:i, s:o, s:o, s:I, s:I}", "partition",
                                                    mp->id, "leader", mp->leader, "replicas", reps,
                                                    "isr", isrs, "start_offset", (json_int_t)lo,
                                                    "end_offset", (json_int_t)hi));
        } else {
            json_decref(reps);
            json_decref(isrs);
            printf("  partition %d: leader %d, replicas [%s], isr [%s], offsets %" PRId64
                   "..%" PRId64 "\n",
                   mp->id, mp->leader, rtxt, itxt, lo, hi);
        }
    }
    rd_kafka_metadata_destroy(md);
    json_t *jc = jt ? json_object() : NULL;
    rc |= sl_cli_print_configs(rk, RD_KAFKA_RESOURCE_TOPIC, name, jc);
    if (jt) {
        json_object_set_new(jt, "name", json_string(name));
        json_object_set_new(jt, "partitions", jparts);
        json_object_set_new(jt, "configs", jc);
        sl_cli_print_json(jt);
    }
    return rc;
}

/* AlterConfigs (API 33) replaces all of a topic's overrides, so the current overrides are read
 * first and the new set is the old one with the --set keys changed and the --delete keys left
 * out. --dry-run prints the changes and sends the request with validate_only, so the broker
 * still checks the values. */
static int topic_alter_config(rd_kafka_t *rk, const char *name, targs_t *a) {
    if (a->n_sets == 0 && a->n_dels == 0) {
        sl_cli_error("alter-config", "nothing to change: give --set key=value or --delete key");
        return 2;
    }
    for (int i = 0; i < a->n_sets; i++) {
        if (!strchr(a->sets[i], '=') || a->sets[i][0] == '=') {
            sl_cli_error("--set", "expected key=value");
            return 2;
        }
    }
    if (sl_cli_partition_count(rk, name) < 0) {
        return 1;
    }
    const rd_kafka_ConfigEntry_t **ce;
    size_t nc;
    rd_kafka_event_t *dev = describe_configs(rk, RD_KAFKA_RESOURCE_TOPIC, name, &ce, &nc);
    if (!dev) {
        return 1;
    }
    rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, name);
    int rc = 0;
    for (int i = 0; i < a->n_dels; i++) {
        bool known = false;
        for (size_t k = 0; k < nc; k++) {
            known |= !strcmp(rd_kafka_ConfigEntry_name(ce[k]), a->dels[i]);
        }
        if (!known) {
            fprintf(stderr, "sluice: --delete: %s is not a config of topic %s\n", a->dels[i], name);
            rc = 1;
        }
    }
    for (size_t k = 0; k < nc && !rc; k++) {
        const char *key = rd_kafka_ConfigEntry_name(ce[k]);
        const char *old = rd_kafka_ConfigEntry_value(ce[k]);
        bool is_set =
            rd_kafka_ConfigEntry_source(ce[k]) == RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG;
        const char *nv = NULL;
        bool del = false;
        for (int i = 0; i < a->n_sets; i++) {
            size_t kl = (size_t)(strchr(a->sets[i], '=') - a->sets[i]);
            if (strlen(key) == kl && !strncmp(a->sets[i], key, kl)) {
                nv = a->sets[i] + kl + 1;
            }
        }
        for (int i = 0; i < a->n_dels; i++) {
            del |= !strcmp(a->dels[i], key);
        }
        if (nv) {
            rd_kafka_ConfigResource_set_config(res, key, nv);
            printf("%s: %s -> %s\n", key, old ? old : "", nv);
        } else if (del) {
            printf("%s: %s -> (default)\n", key, old ? old : "");
        } else if (is_set) {
            rd_kafka_ConfigResource_set_config(res, key, old);
        }
    }
    /* Keys the broker did not describe: sent as given, so the broker names the unknown key. */
    for (int i = 0; i < a->n_sets && !rc; i++) {
        size_t kl = (size_t)(strchr(a->sets[i], '=') - a->sets[i]);
        bool known = false;
        for (size_t k = 0; k < nc; k++) {
            const char *key = rd_kafka_ConfigEntry_name(ce[k]);
            known |= strlen(key) == kl && !strncmp(a->sets[i], key, kl);
        }
        if (!known) {
            char key[256];
            snprintf(key, sizeof key, "%.*s", (int)kl, a->sets[i]);
            rd_kafka_ConfigResource_set_config(res, key, a->sets[i] + kl + 1);
            printf("%s: (unknown) -> %s\n", key, a->sets[i] + kl + 1);
        }
    }
    rd_kafka_event_destroy(dev);
    if (rc) {
        rd_kafka_ConfigResource_destroy(res);
        return rc;
    }
    rd_kafka_AdminOptions_t *ao = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_ALTERCONFIGS);
    char errstr[256];
    if (a->dry_run) {
        rd_kafka_AdminOptions_set_validate_only(ao, 1, errstr, sizeof errstr);
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AlterConfigs(rk, &res, 1, ao, q);
    rd_kafka_ConfigResource_destroy(res);
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_event_t *ev = sl_cli_wait(q, RD_KAFKA_EVENT_ALTERCONFIGS_RESULT);
    rc = 1;
    if (ev) {
        size_t n;
        const rd_kafka_ConfigResource_t **rs =
            rd_kafka_AlterConfigs_result_resources(rd_kafka_event_AlterConfigs_result(ev), &n);
        if (n == 1 && rd_kafka_ConfigResource_error(rs[0])) {
            sl_cli_error(name, rd_kafka_ConfigResource_error_string(rs[0])
                                   ? rd_kafka_ConfigResource_error_string(rs[0])
                                   : rd_kafka_err2str(rd_kafka_ConfigResource_error(rs[0])));
        } else {
            printf(a->dry_run ? "dry run: valid, nothing changed\n" : "altered %s\n", name);
            rc = 0;
        }
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(q);
    return rc;
}

static int topic_add_partitions(rd_kafka_t *rk, const char *name, targs_t *a) {
    if (a->count < 1) {
        sl_cli_error("add-partitions", "give the number of partitions to add with -n COUNT");
        return 2;
    }
    int np = sl_cli_partition_count(rk, name);
    if (np < 0) {
        return 1;
    }
    int64_t total = np + a->count;
    printf("%s: %d -> %" PRId64 " partitions\n", name, np, total);
    if (a->dry_run) {
        return 0;
    }
    char errstr[512];
    rd_kafka_NewPartitions_t *npt =
        rd_kafka_NewPartitions_new(name, (size_t)total, errstr, sizeof errstr);
    if (!npt) {
        sl_cli_error("add-partitions", errstr);
        return 2;
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreatePartitions(rk, &npt, 1, NULL, q);
    rd_kafka_NewPartitions_destroy(npt);
    rd_kafka_event_t *ev = sl_cli_wait(q, RD_KAFKA_EVENT_CREATEPARTITIONS_RESULT);
    int rc = 1;
    if (ev) {
        size_t n;
        const rd_kafka_topic_result_t **res =
            rd_kafka_CreatePartitions_result_topics(rd_kafka_event_CreatePartitions_result(ev), &n);
        if (n == 1 && rd_kafka_topic_result_error(res[0])) {
            sl_cli_error(name, topic_err(res[0]));
        } else {
            rc = 0;
        }
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(q);
    return rc;
}

static int topic_trim_prefix(rd_kafka_t *rk, const char *name, targs_t *a) {
    int64_t off = RD_KAFKA_OFFSET_END;
    if (!a->offset) {
        sl_cli_error("trim-prefix", "give the new start offset with -o OFFSET (or -o end)");
        return 2;
    }
    if (strcmp(a->offset, "end") && !sl_cli_parse_i64("-o", a->offset, 0, INT64_MAX, &off)) {
        return 2;
    }
    int np = sl_cli_partition_count(rk, name);
    if (np < 0) {
        return 1;
    }
    if (a->partition >= np) {
        fprintf(stderr, "sluice: topic %s has no partition %" PRId64 "\n", name, a->partition);
        return 1;
    }
    rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(np);
    for (int p = 0; p < np; p++) {
        if (a->partition >= 0 && p != a->partition) {
            continue;
        }
        int64_t lo, hi;
        rd_kafka_resp_err_t err =
            rd_kafka_query_watermark_offsets(rk, name, p, &lo, &hi, SL_CLI_TIMEOUT_MS);
        if (err) {
            sl_cli_error(name, rd_kafka_err2str(err));
            rd_kafka_topic_partition_list_destroy(tp);
            return 1;
        }
        int64_t to = off == RD_KAFKA_OFFSET_END ? hi : off;
        if (to > hi) {
            fprintf(stderr,
                    "sluice: %s-%d: offset %" PRId64 " is past the end of the partition (%" PRId64
                    ")\n",
                    name, p, to, hi);
            rd_kafka_topic_partition_list_destroy(tp);
            return 1;
        }
        printf("%s-%d: start %" PRId64 " -> %" PRId64 "%s\n", name, p, lo, to > lo ? to : lo,
               to > lo ? "" : " (unchanged)");
        rd_kafka_topic_partition_list_add(tp, name, p)->offset = off;
    }
    if (a->dry_run) {
        rd_kafka_topic_partition_list_destroy(tp);
        return 0;
    }
    /* Asked first: librdkafka 2.0.2's DeleteRecords against a broker without the API fails
     * with a bare "not supported" (and leaks its request). */
    int has = sl_cli_has_api(rk, 21);
    if (has != 1) {
        if (has == 0) {
            sl_cli_error(name, "the broker lacks DeleteRecords (API 21)");
        }
        rd_kafka_topic_partition_list_destroy(tp);
        return 1;
    }
    rd_kafka_DeleteRecords_t *dr = rd_kafka_DeleteRecords_new(tp);
    rd_kafka_topic_partition_list_destroy(tp);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_DeleteRecords(rk, &dr, 1, NULL, q);
    rd_kafka_DeleteRecords_destroy(dr);
    rd_kafka_event_t *ev = sl_cli_wait(q, RD_KAFKA_EVENT_DELETERECORDS_RESULT);
    int rc = 1;
    if (ev) {
        const rd_kafka_topic_partition_list_t *res =
            rd_kafka_DeleteRecords_result_offsets(rd_kafka_event_DeleteRecords_result(ev));
        rc = 0;
        for (int i = 0; res && i < res->cnt; i++) {
            if (res->elems[i].err) {
                fprintf(stderr, "sluice: %s-%d: %s\n", res->elems[i].topic, res->elems[i].partition,
                        res->elems[i].err == RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE
                            ? "the broker lacks DeleteRecords (API 21)"
                            : rd_kafka_err2str(res->elems[i].err));
                rc = 1;
            }
        }
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(q);
    return rc;
}

int sl_cmd_topic(int argc, char **argv) {
    static const struct option opts[] = {
        {"brokers", required_argument, 0, 'b'},
        {"partitions", required_argument, 0, 'p'},
        {"partition", required_argument, 0, 'p'},
        {"replication", required_argument, 0, 'r'},
        {"config", required_argument, 0, 'c'},
        {"num", required_argument, 0, 'n'},
        {"offset", required_argument, 0, 'o'},
        {"set", required_argument, 0, 'S'},
        {"delete", required_argument, 0, 'D'},
        {"dry-run", no_argument, 0, 'd'},
        {"json", no_argument, 0, 'j'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    sl_client_opts_t co = {0};
    targs_t a = {.partitions = -1, .rf = -1, .count = 0, .partition = -1};
    const char *p_arg = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "b:X:p:r:c:n:o:h", opts, NULL)) != -1) {
        if (sl_client_opt(&co, c, optarg)) {
            continue;
        }
        switch (c) {
        case 'p':
            p_arg = optarg;
            break;
        case 'r':
            if (!sl_cli_parse_i64("-r", optarg, 1, INT16_MAX, &a.rf)) {
                return 2;
            }
            break;
        case 'n':
            if (!sl_cli_parse_i64("-n", optarg, 1, 100000, &a.count)) {
                return 2;
            }
            break;
        case 'o':
            a.offset = optarg;
            break;
        case 'c':
        case 'S':
        case 'D':
            if ((c == 'c' ? a.n_configs : c == 'S' ? a.n_sets : a.n_dels) >= MAX_ITEMS) {
                sl_cli_error("topic", "too many settings");
                return 2;
            }
            if (c == 'c') {
                a.configs[a.n_configs++] = optarg;
            } else if (c == 'S') {
                a.sets[a.n_sets++] = optarg;
            } else {
                a.dels[a.n_dels++] = optarg;
            }
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
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    const char *verb = argv[optind];
    const char *name = optind + 1 < argc ? argv[optind + 1] : NULL;
    static const char *verbs[] = {"create",         "list",        "describe",    "delete",
                                  "add-partitions", "trim-prefix", "alter-config"};
    bool known = false;
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
        known |= !strcmp(verb, verbs[i]);
    }
    if (!known) {
        fprintf(stderr, "sluice: topic: unknown subcommand '%s'\n", verb);
        usage(stderr);
        return 2;
    }
    bool list = !strcmp(verb, "list");
    if ((!list && !name) || optind + (list ? 1 : 2) < argc) {
        fprintf(stderr, "sluice: topic %s: %s\n", verb,
                !list && !name ? "give the topic name" : "too many arguments");
        usage(stderr);
        return 2;
    }
    if (p_arg) {
        bool create = !strcmp(verb, "create");
        if (!sl_cli_parse_i64("-p", p_arg, create ? 1 : 0, create ? 100000 : INT32_MAX,
                              create ? &a.partitions : &a.partition)) {
            return 2;
        }
    }
    rd_kafka_conf_t *conf = sl_cli_conf(&co);
    if (!conf) {
        return 2;
    }
    rd_kafka_t *rk = sl_cli_new(&co, RD_KAFKA_PRODUCER, conf);
    if (!rk) {
        return 1;
    }
    int rc;
    if (!strcmp(verb, "create")) {
        rc = topic_create(rk, name, &a);
    } else if (!strcmp(verb, "delete")) {
        rc = topic_delete(rk, name, a.dry_run);
    } else if (list) {
        rc = topic_list(rk, a.json);
    } else if (!strcmp(verb, "describe")) {
        rc = topic_describe(rk, name, a.json);
    } else if (!strcmp(verb, "alter-config")) {
        rc = topic_alter_config(rk, name, &a);
    } else if (!strcmp(verb, "add-partitions")) {
        rc = topic_add_partitions(rk, name, &a);
    } else {
        rc = topic_trim_prefix(rk, name, &a);
    }
    rd_kafka_destroy(rk);
    return rc;
}

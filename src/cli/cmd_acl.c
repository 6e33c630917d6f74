/* cmd_acl.c -- `sluice acl add|list|remove`: Kafka ACLs through librdkafka's admin API
 * (CreateAcls, DescribeAcls, DeleteAcls), so it works against any Kafka cluster too.
 *
 *   sluice acl add    allow|deny PRINCIPAL OPERATION RESOURCE [HOST]
 *   sluice acl list   [RESOURCE [PRINCIPAL]]
 *   sluice acl remove allow|deny|any PRINCIPAL|any OPERATION|any RESOURCE [HOST|any]
 *
 * RESOURCE is cluster, topic:NAME or group:NAME (librdkafka 2.0 has no TRANSACTIONAL_ID
 * resource type: such ACLs are made with any other Kafka admin client); a NAME ending in '*'
 * (other than "*" alone, Kafka's wildcard) is a PREFIXED pattern of what comes before the '*'.
 * OPERATION is Kafka's name (read, write, describe, ..., all), case-insensitive. HOST defaults
 * to "*". `list` and `remove` match patterns exactly as written; `list` without a resource
 * lists every ACL. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "security/acl.h"

static void usage(FILE *f) {
    fprintf(f, "usage: sluice acl add allow|deny PRINCIPAL OPERATION RESOURCE [HOST]\n"
               "       sluice acl list [RESOURCE [PRINCIPAL]] [--json]\n"
               "       sluice acl remove allow|deny|any PRINCIPAL|any OPERATION|any RESOURCE "
               "[HOST|any]\n"
               "PRINCIPAL: User:NAME or User:* (everyone). OPERATION: all, read, write, create, "
               "delete, alter, describe, cluster_action, describe_configs, alter_configs, "
               "idempotent_write.\n"
               "RESOURCE: cluster, topic:NAME, group:NAME; NAME '*' is every "
               "resource of the type, NAME* (a trailing star) every name starting with NAME "
               "(PREFIXED). HOST: an address, default *.\n"
               "e.g. sluice acl add allow User:alice read topic:orders\n"
               "     sluice acl add deny User:eve write 'topic:secret.*'\n"
               "options: -b HOST:PORT (default $SLUICE_BROKERS, else 127.0.0.1:9092), "
               "-X librdkafka.key=value (e.g. -X security.protocol=sasl_plaintext)\n");
}

typedef struct res {
    rd_kafka_ResourceType_t type;
    rd_kafka_ResourcePatternType_t pattern;
    char name[512];
} res_t;

/* Parses RESOURCE; false (error printed) if it is not one. */
static bool parse_resource(const char *s, res_t *r) {
    static const struct {
        const char *prefix;
        rd_kafka_ResourceType_t type;
    } kinds[] = {{"topic:", RD_KAFKA_RESOURCE_TOPIC}, {"group:", RD_KAFKA_RESOURCE_GROUP}};
    if (!strncasecmp(s, "transactional-id:", 17)) {
        /* librdkafka 2.0's AclBinding has no TRANSACTIONAL_ID resource type (it came in 2.x
         * later); Kafka's kafka-acls.sh or kafka-python's KafkaAdminClient can make these. */
        fprintf(stderr, "sluice: acl: transactional-id ACLs need a newer librdkafka than this "
                        "build's; use kafka-acls.sh or kafka-python's KafkaAdminClient\n");
        return false;
    }
    r->pattern = RD_KAFKA_RESOURCE_PATTERN_LITERAL;
    if (!strcasecmp(s, "cluster")) {
        r->type = RD_KAFKA_RESOURCE_BROKER; /* librdkafka's name for Kafka's CLUSTER (4) */
        snprintf(r->name, sizeof r->name, "%s", SL_ACL_CLUSTER_NAME);
        return true;
    }
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        size_t n = strlen(kinds[i].prefix);
        if (!strncasecmp(s, kinds[i].prefix, n) && s[n]) {
            r->type = kinds[i].type;
            snprintf(r->name, sizeof r->name, "%s", s + n);
            size_t len = strlen(r->name);
            if (len > 1 && r->name[len - 1] == '*') {
                r->name[len - 1] = '\0';
                r->pattern = RD_KAFKA_RESOURCE_PATTERN_PREFIXED;
            }
            return true;
        }
    }
    fprintf(stderr, "sluice: acl: '%s' is not a resource (cluster, topic:NAME, group:NAME)\n", s);
    return false;
}

/* Parses OPERATION (or "any" when any_ok); -1 (error printed) if it is not one. */
static int parse_op(const char *s, bool any_ok) {
    int op = sl_acl_op_parse(s);
    if (op == SL_ACL_ANY && !any_ok) {
        op = -1;
    }
    if (op < SL_ACL_ANY) {
        fprintf(stderr, "sluice: acl: unknown operation '%s'\n", s);
    }
    return op < SL_ACL_ANY ? -1 : op;
}

static int parse_perm(const char *s, bool any_ok) {
    int p = sl_acl_perm_parse(s);
    if ((p == SL_PERM_ANY && !any_ok) || p < SL_PERM_ANY) {
        fprintf(stderr, "sluice: acl: '%s' must be allow or deny%s\n", s, any_ok ? " or any" : "");
        return -1;
    }
    return p;
}

static const char *any_null(const char *s) {
    return s && strcasecmp(s, "any") ? s : NULL;
}

static rd_kafka_queue_t *start(rd_kafka_t *rk, rd_kafka_admin_op_t op,
                               rd_kafka_AdminOptions_t **ao) {
    *ao = rd_kafka_AdminOptions_new(rk, op);
    char err[256];
    rd_kafka_AdminOptions_set_request_timeout(*ao, 10000, err, sizeof err);
    return rd_kafka_queue_new(rk);
}

static int acl_add(rd_kafka_t *rk, char **a, int n) {
    res_t r;
    int perm = parse_perm(a[0], false), op = parse_op(a[2], false);
    if (perm < 0 || op < 0 || !parse_resource(a[3], &r)) {
        return 2;
    }
    char err[512];
    rd_kafka_AclBinding_t *b = rd_kafka_AclBinding_new(
        r.type, r.name, r.pattern, a[1], n > 4 ? a[4] : "*", (rd_kafka_AclOperation_t)op,
        (rd_kafka_AclPermissionType_t)perm, err, sizeof err);
    if (!b) {
        sl_cli_error("acl add", err);
        return 2;
    }
    rd_kafka_AdminOptions_t *ao;
    rd_kafka_queue_t *q = start(rk, RD_KAFKA_ADMIN_OP_CREATEACLS, &ao);
    rd_kafka_CreateAcls(rk, &b, 1, ao, q);
    rd_kafka_event_t *ev = sl_cli_wait(q, RD_KAFKA_EVENT_CREATEACLS_RESULT);
    int rc = 1;
    if (ev) {
        size_t cnt = 0;
        const rd_kafka_acl_result_t **res =
            rd_kafka_CreateAcls_result_acls(rd_kafka_event_CreateAcls_result(ev), &cnt);
        const rd_kafka_error_t *e = cnt == 1 ? rd_kafka_acl_result_error(res[0]) : NULL;
        if (cnt != 1) {
            sl_cli_error("acl add", "malformed response");
        } else if (e) {
            sl_cli_error("acl add", rd_kafka_error_string(e));
        } else {
            rc = 0;
        }
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_AclBinding_destroy(b);
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_queue_destroy(q);
    return rc;
}

static json_t *binding_json(const rd_kafka_AclBinding_t *b) {
    return json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "resource_type",
        rd_kafka_ResourceType_name(rd_kafka_AclBinding_restype(b)), "name",
        rd_kafka_AclBinding_name(b), "pattern_type",
        rd_kafka_ResourcePatternType_name(rd_kafka_AclBinding_resource_pattern_type(b)),
        "principal", rd_kafka_AclBinding_principal(b), "host", rd_kafka_AclBinding_host(b),
        "operation", rd_kafka_AclOperation_name(rd_kafka_AclBinding_operation(b)),
        "permission_type", rd_kafka_AclPermissionType_name(rd_kafka_AclBinding_permission_type(b)));
}

/* One line per binding: PERMISSION PRINCIPAL OPERATION RESOURCE HOST, in the form `add` takes. */
static void print_binding(json_t *o) {
    const char *type = json_string_value(json_object_get(o, "resource_type"));
    const char *name = json_string_value(json_object_get(o, "name"));
    bool prefixed = !strcasecmp(json_string_value(json_object_get(o, "pattern_type")), "PREFIXED");
    char res[600];
    if (!strcasecmp(type, "CLUSTER")) {
        snprintf(res, sizeof res, "cluster");
    } else {
        snprintf(res, sizeof res, "%s:%s%s",
                 !strcasecmp(type, "TRANSACTIONAL_ID") ? "transactional-id"
                 : !strcasecmp(type, "GROUP")          ? "group"
                                                       : "topic",
                 name, prefixed ? "*" : "");
    }
    char perm[16], op[32];
    snprintf(perm, sizeof perm, "%s", json_string_value(json_object_get(o, "permission_type")));
    snprintf(op, sizeof op, "%s", json_string_value(json_object_get(o, "operation")));
    for (char *p = perm; *p; p++) {
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    }
    for (char *p = op; *p; p++) {
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    }
    printf("%s %s %s %s %s\n", perm, json_string_value(json_object_get(o, "principal")), op, res,
           json_string_value(json_object_get(o, "host")));
}

static int acl_list(rd_kafka_t *rk, char **a, int n, bool json) {
    res_t r = {RD_KAFKA_RESOURCE_ANY, RD_KAFKA_RESOURCE_PATTERN_ANY, ""};
    if (n > 0 && !parse_resource(a[0], &r)) {
        return 2;
    }
    char err[512];
    rd_kafka_AclBindingFilter_t *f = rd_kafka_AclBindingFilter_new(
        r.type, n > 0 ? r.name : NULL, r.pattern, n > 1 ? any_null(a[1]) : NULL, NULL,
        RD_KAFKA_ACL_OPERATION_ANY, RD_KAFKA_ACL_PERMISSION_TYPE_ANY, err, sizeof err);
    if (!f) {
        sl_cli_error("acl list", err);
        return 2;
    }
    rd_kafka_AdminOptions_t *ao;
    rd_kafka_queue_t *q = start(rk, RD_KAFKA_ADMIN_OP_DESCRIBEACLS, &ao);
    rd_kafka_DescribeAcls(rk, f, ao, q);
    rd_kafka_event_t *ev = sl_cli_wait(q, RD_KAFKA_EVENT_DESCRIBEACLS_RESULT);
    int rc = 1;
    if (ev) {
        size_t cnt = 0;
        const rd_kafka_AclBinding_t **bs =
            rd_kafka_DescribeAcls_result_acls(rd_kafka_event_DescribeAcls_result(ev), &cnt);
        json_t *arr = json_array();
        for (size_t i = 0; i < cnt; i++) {
            json_array_append_new(arr, binding_json(bs[i]));
        }
        if (json) {
            sl_cli_print_json(json_incref(arr));
        } else {
            for (size_t i = 0; i < json_array_size(arr); i++) {
                print_binding(json_array_get(arr, i));
            }
        }
        json_decref(arr);
        rd_kafka_event_destroy(ev);
        rc = 0;
    }
    rd_kafka_AclBinding_destroy(f);
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_queue_destroy(q);
    return rc;
}

static int acl_remove(rd_kafka_t *rk, char **a, int n) {
    res_t r;
    int perm = parse_perm(a[0], true), op = parse_op(a[2], true);
    if (perm < 0 || op < 0 || !parse_resource(a[3], &r)) {
        return 2;
    }
    char err[512];
    rd_kafka_AclBindingFilter_t *f = rd_kafka_AclBindingFilter_new(
        r.type, r.name, r.pattern, any_null(a[1]), n > 4 ? any_null(a[4]) : NULL,
        (rd_kafka_AclOperation_t)op, (rd_kafka_AclPermissionType_t)perm, err, sizeof err);
    if (!f) {
        sl_cli_error("acl remove", err);
        return 2;
    }
    rd_kafka_AdminOptions_t *ao;
    rd_kafka_queue_t *q = start(rk, RD_KAFKA_ADMIN_OP_DELETEACLS, &ao);
    rd_kafka_DeleteAcls(rk, &f, 1, ao, q);
    rd_kafka_event_t *ev = sl_cli_wait(q, RD_KAFKA_EVENT_DELETEACLS_RESULT);
    int rc = 1;
    if (ev) {
        size_t cnt = 0, nm = 0;
        const rd_kafka_DeleteAcls_result_response_t **rs =
            rd_kafka_DeleteAcls_result_responses(rd_kafka_event_DeleteAcls_result(ev), &cnt);
        const rd_kafka_error_t *e =
            cnt == 1 ? rd_kafka_DeleteAcls_result_response_error(rs[0]) : NULL;
        if (cnt != 1) {
            sl_cli_error("acl remove", "malformed response");
        } else if (e) {
            sl_cli_error("acl remove", rd_kafka_error_string(e));
        } else {
            const rd_kafka_AclBinding_t **bs =
                rd_kafka_DeleteAcls_result_response_matching_acls(rs[0], &nm);
            for (size_t i = 0; i < nm; i++) {
                json_t *o = binding_json(bs[i]);
                printf("removed: ");
                print_binding(o);
                json_decref(o);
            }
            if (nm == 0) {
                fprintf(stderr, "sluice: acl remove: no ACL matched\n");
            }
            rc = nm ? 0 : 1;
        }
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_AclBinding_destroy(f);
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_queue_destroy(q);
    return rc;
}

int sl_cmd_acl(int argc, char **argv) {
    sl_client_opts_t co = {0};
    bool json = false;
    int early = sl_cli_listing_opts(argc, argv, &co, &json, usage);
    if (early >= 0) {
        return early;
    }
    const char *verb = optind < argc ? argv[optind] : "";
    char **args = argv + optind + 1;
    int n = argc - optind - 1;
    bool add = !strcmp(verb, "add"), list = !strcmp(verb, "list"),
         rm = !strcmp(verb, "remove") || !strcmp(verb, "delete");
    if ((add && (n < 4 || n > 5)) || (list && n > 2) || (rm && (n < 4 || n > 5)) ||
        (!add && !list && !rm)) {
        if (!add && !list && !rm && *verb) {
            fprintf(stderr, "sluice: acl: unknown subcommand '%s'\n", verb);
        }
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
    int rc = add    ? acl_add(rk, args, n)
             : list ? acl_list(rk, args, n, json)
                    : acl_remove(rk, args, n);
    rd_kafka_destroy(rk);
    return rc;
}

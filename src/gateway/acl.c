/* acl.c -- the brokers' ACLs as the gateway's permissions (see acl.h): a cache of the TOPIC and
 * GROUP bindings from DescribeAcls, refreshed when older than acl.cache.ms, and Kafka's decision
 * rules over it. */
#include "gateway/acl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

void sl_gw_acls_init(sl_gw_acls_t *a) {
    memset(a, 0, sizeof *a);
    pthread_mutex_init(&a->mu, NULL);
}

static void entries_free(sl_gw_acl_entry_t *e, int n) {
    for (int i = 0; i < n; i++) {
        free(e[i].name);
        free(e[i].principal);
        free(e[i].host);
    }
    free(e);
}

void sl_gw_acls_fini(sl_gw_acls_t *a) {
    entries_free(a->e, a->n);
    a->e = NULL;
    a->n = 0;
    pthread_mutex_destroy(&a->mu);
}

/* Does the binding's resource pattern cover `name`? */
static bool applies(const sl_gw_acl_entry_t *x, rd_kafka_ResourceType_t restype, const char *name) {
    if (x->restype != restype) {
        return false;
    }
    if (x->prefixed) {
        return !strncmp(name, x->name, strlen(x->name));
    }
    return !strcmp(x->name, "*") || !strcmp(x->name, name);
}

static bool principal_matches(const char *acl_principal, const char *principal) {
    if (strncmp(acl_principal, "User:", 5)) {
        return false;
    }
    const char *who = acl_principal + 5;
    return !strcmp(who, "*") || !strcmp(who, principal);
}

/* Does an ALLOW of `granted` allow `op`? ALL allows everything; READ, WRITE, DELETE and ALTER
 * imply DESCRIBE, ALTER_CONFIGS implies DESCRIBE_CONFIGS. */
static bool allow_covers(rd_kafka_AclOperation_t granted, rd_kafka_AclOperation_t op) {
    if (granted == op || granted == RD_KAFKA_ACL_OPERATION_ALL) {
        return true;
    }
    if (op == RD_KAFKA_ACL_OPERATION_DESCRIBE) {
        return granted == RD_KAFKA_ACL_OPERATION_READ || granted == RD_KAFKA_ACL_OPERATION_WRITE ||
               granted == RD_KAFKA_ACL_OPERATION_DELETE || granted == RD_KAFKA_ACL_OPERATION_ALTER;
    }
    return op == RD_KAFKA_ACL_OPERATION_DESCRIBE_CONFIGS &&
           granted == RD_KAFKA_ACL_OPERATION_ALTER_CONFIGS;
}

bool sl_gw_acl_decide(const sl_gw_acl_entry_t *e, int n, const char *principal,
                      rd_kafka_ResourceType_t restype, const char *name,
                      rd_kafka_AclOperation_t op) {
    bool allowed = false;
    for (int i = 0; i < n; i++) {
        const sl_gw_acl_entry_t *x = &e[i];
        if (!applies(x, restype, name) || !principal_matches(x->principal, principal)) {
            continue;
        }
        if (x->deny) {
            if (x->op == op || x->op == RD_KAFKA_ACL_OPERATION_ALL) {
                return false; /* deny wins, whatever the host */
            }
        } else if (!strcmp(x->host, "*") && allow_covers(x->op, op)) {
            allowed = true;
        }
    }
    return allowed;
}

/* Asks the brokers for every binding and keeps the TOPIC and GROUP ones in a->e. Called with
 * a->mu held. */
static bool fetch(sl_gw_acls_t *a, rd_kafka_t *rk, int64_t timeout_ms, char *why) {
    char errstr[512];
    rd_kafka_AclBindingFilter_t *f = rd_kafka_AclBindingFilter_new(
        RD_KAFKA_RESOURCE_ANY, NULL, RD_KAFKA_RESOURCE_PATTERN_ANY, NULL, NULL,
        RD_KAFKA_ACL_OPERATION_ANY, RD_KAFKA_ACL_PERMISSION_TYPE_ANY, errstr, sizeof errstr);
    if (!f) {
        snprintf(why, SL_ERRLEN, "DescribeAcls filter: %s", errstr);
        return false;
    }
    rd_kafka_AdminOptions_t *opt = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBEACLS);
    rd_kafka_AdminOptions_set_request_timeout(opt, (int)timeout_ms, errstr, sizeof errstr);
    rd_kafka_queue_t *qu = rd_kafka_queue_new(rk);
    rd_kafka_DescribeAcls(rk, f, opt, qu);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(qu, (int)timeout_ms + 1000);
    bool ok = false;
    const rd_kafka_DescribeAcls_result_t *res = ev ? rd_kafka_event_DescribeAcls_result(ev) : NULL;
    if (!ev) {
        snprintf(why, SL_ERRLEN, "the brokers did not answer DescribeAcls");
    } else if (rd_kafka_event_error(ev)) {
        snprintf(why, SL_ERRLEN, "DescribeAcls: %s", rd_kafka_event_error_string(ev));
    } else if (!res) {
        snprintf(why, SL_ERRLEN, "DescribeAcls: unexpected answer");
    } else {
        size_t cnt = 0;
        const rd_kafka_AclBinding_t **b = rd_kafka_DescribeAcls_result_acls(res, &cnt);
        sl_gw_acl_entry_t *e = sl_xcalloc(cnt ? cnt : 1, sizeof *e);
        int n = 0;
        for (size_t i = 0; i < cnt; i++) {
            rd_kafka_ResourceType_t rt = rd_kafka_AclBinding_restype(b[i]);
            rd_kafka_ResourcePatternType_t pt = rd_kafka_AclBinding_resource_pattern_type(b[i]);
            if ((rt != RD_KAFKA_RESOURCE_TOPIC && rt != RD_KAFKA_RESOURCE_GROUP) ||
                (pt != RD_KAFKA_RESOURCE_PATTERN_LITERAL &&
                 pt != RD_KAFKA_RESOURCE_PATTERN_PREFIXED)) {
                continue;
            }
            const char *nm = rd_kafka_AclBinding_name(b[i]);
            const char *pr = rd_kafka_AclBinding_principal(b[i]);
            const char *ho = rd_kafka_AclBinding_host(b[i]);
            e[n] = (sl_gw_acl_entry_t){
                .restype = rt,
                .prefixed = pt == RD_KAFKA_RESOURCE_PATTERN_PREFIXED,
                .deny =
                    rd_kafka_AclBinding_permission_type(b[i]) != RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW,
                .op = rd_kafka_AclBinding_operation(b[i]),
                .name = sl_xstrdup(nm ? nm : ""),
                .principal = sl_xstrdup(pr ? pr : ""),
                .host = sl_xstrdup(ho ? ho : "*"),
            };
            n++;
        }
        /* librdkafka (2.0 to 2.15 at least) drops DescribeAcls' error code: SECURITY_DISABLED
         * (no authorizer) and CLUSTER_AUTHORIZATION_FAILED (the gateway may not describe ACLs)
         * come back as an empty answer, which refuses everything. Say so once per change. */
        if (n == 0 && (!a->have || a->n > 0)) {
            sl_log(SL_LOG_WARN, "gateway",
                   "msg=\"the brokers returned no topic or group ACLs: every request is refused; "
                   "if that is not expected, check that the brokers have an authorizer and that "
                   "the gateway's principal may DESCRIBE the cluster\"");
        }
        entries_free(a->e, a->n);
        a->e = e;
        a->n = n;
        a->have = true;
        a->at_ms = sl_mono_ms();
        ok = true;
    }
    if (ev) {
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(qu);
    rd_kafka_AdminOptions_destroy(opt);
    rd_kafka_AclBinding_destroy(f);
    return ok;
}

int sl_gw_acl_check(sl_gw_acls_t *a, rd_kafka_t *rk, int64_t ttl_ms, int64_t timeout_ms,
                    const char *principal, rd_kafka_ResourceType_t restype, const char *name,
                    rd_kafka_AclOperation_t op, char *why) {
    pthread_mutex_lock(&a->mu);
    int rc = 1;
    if (!a->have || sl_mono_ms() - a->at_ms >= (uint64_t)ttl_ms) {
        a->fetches++;
        if (!fetch(a, rk, timeout_ms, why)) {
            a->fetch_errors++;
            a->have = false; /* fail closed: no decision on an answer older than ttl_ms */
            rc = -1;
        }
    }
    if (rc == 1) {
        rc = sl_gw_acl_decide(a->e, a->n, principal, restype, name, op) ? 1 : 0;
    }
    pthread_mutex_unlock(&a->mu);
    return rc;
}

/* acl.h -- permissions from the brokers' ACLs (authorization=acl): the gateway asks the brokers
 * for their ACL bindings (DescribeAcls, as the gateway's own principal, which needs DESCRIBE on
 * the cluster), keeps them for acl.cache.ms, and decides each request with Kafka's rules for
 * User:<principal>. A change on the brokers is therefore seen within acl.cache.ms.
 *
 * Rules (Kafka's StandardAuthorizer, docs/security.md): the ACLs that apply to a resource are the
 * LITERAL ones naming it, the LITERAL "*" ones and the PREFIXED ones whose name starts its name;
 * of those, the ones for User:<principal> or User:* count. A counting DENY of the operation or
 * ALL refuses (deny wins); else a counting ALLOW of the operation, ALL, or (for DESCRIBE) READ,
 * WRITE, DELETE or ALTER allows; else refused. Hosts: the brokers match an ACL's host against the
 * client's address, and the gateway's clients are not the brokers' clients, so a DENY counts
 * whatever its host (the safe side) and an ALLOW only with host "*".
 * Not seen through the Kafka protocol, so not followed: the brokers' super.users and
 * allow.everyone.if.no.acl.found (a principal needs ACLs of its own).
 * librdkafka drops DescribeAcls' top-level error code, so brokers without an authorizer, or that
 * refuse the gateway's DESCRIBE on the cluster, look like brokers without ACLs: everything is
 * refused (the safe side) and a warning is logged.
 * Thread: any; the cache is under its own mutex (one refresh at a time, others wait for it). */
#ifndef SL_GW_ACL_H
#define SL_GW_ACL_H

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct sl_gw_acl_entry {
    rd_kafka_ResourceType_t restype; /* TOPIC or GROUP (others are not kept) */
    bool prefixed;                   /* PREFIXED pattern, else LITERAL */
    bool deny;                       /* DENY, else ALLOW */
    rd_kafka_AclOperation_t op;
    char *name, *principal, *host;
} sl_gw_acl_entry_t;

typedef struct sl_gw_acls {
    pthread_mutex_t mu;
    sl_gw_acl_entry_t *e; /* the last answer, under mu */
    int n;
    bool have;                      /* e holds an answer */
    uint64_t at_ms;                 /* when it came (monotonic) */
    uint64_t fetches, fetch_errors; /* metrics */
} sl_gw_acls_t;

void sl_gw_acls_init(sl_gw_acls_t *a);
void sl_gw_acls_fini(sl_gw_acls_t *a);

/* Kafka's decision over the bindings e[0..n) for `principal` (a name without "User:") doing `op`
 * on the resource (restype, name). Pure: the unit tests call it. */
bool sl_gw_acl_decide(const sl_gw_acl_entry_t *e, int n, const char *principal,
                      rd_kafka_ResourceType_t restype, const char *name,
                      rd_kafka_AclOperation_t op);

/* Decides with the cached bindings, first asking the brokers (through `rk`, waiting at most
 * timeout_ms) when the cache is older than ttl_ms. 1 allowed, 0 refused, -1 when the brokers did
 * not answer DescribeAcls (the reason in why, SL_ERRLEN bytes): the caller fails closed. */
int sl_gw_acl_check(sl_gw_acls_t *a, rd_kafka_t *rk, int64_t ttl_ms, int64_t timeout_ms,
                    const char *principal, rd_kafka_ResourceType_t restype, const char *name,
                    rd_kafka_AclOperation_t op, char *why);

#endif

/* acl.h -- the authorizer: Kafka's ACL bindings, their filters, and the allow/deny decision.
 *
 * A binding is (resource type, resource name, pattern type, principal, host, operation,
 * permission) with Kafka's codes (AclOperation, ResourceType, PatternType, AclPermissionType).
 * The decision follows Kafka's StandardAuthorizer:
 *   1. a super user (super.users) is allowed everything;
 *   2. the bindings that apply to a resource are the LITERAL ones naming it, the LITERAL ones
 *      named "*", and the PREFIXED ones whose name starts the resource's name;
 *   3. of those, a binding counts for the request when its principal is the request's or
 *      "User:*" and its host is the client's address or "*";
 *   4. a counting DENY whose operation is the requested one or ALL denies (deny wins);
 *   5. else a counting ALLOW whose operation is the requested one, ALL, or one that implies it
 *      (READ, WRITE, DELETE, ALTER imply DESCRIBE; ALTER_CONFIGS implies DESCRIBE_CONFIGS)
 *      allows;
 *   6. a resource no binding applies to at all (whatever its principal) is allowed when
 *      allow.everyone.if.no.acl.found is set, denied otherwise.
 * Lookups are a binary search over the literal bindings sorted by (type, name) plus a scan of
 * the prefixed ones of that type sorting before the name; the index is rebuilt at the first
 * decision after a change (changes are rare, and a replay of many adds sorts once).
 *
 * Thread: the loop thread owns the store (as it owns the topic table). */
#ifndef SL_ACL_H
#define SL_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/aclops.h"

enum {
    SL_RES_ANY = 1,
    SL_RES_TOPIC = 2,
    SL_RES_GROUP = 3,
    SL_RES_CLUSTER = 4,
    SL_RES_TRANSACTIONAL_ID = 5,
    SL_RES_DELEGATION_TOKEN = 6,
};
enum {
    SL_PAT_ANY = 1,
    SL_PAT_MATCH = 2,
    SL_PAT_LITERAL = 3,
    SL_PAT_PREFIXED = 4,
};
enum {
    SL_PERM_ANY = 1,
    SL_PERM_DENY = 2,
    SL_PERM_ALLOW = 3,
};

/* The name of the one cluster resource, as Kafka spells it. */
#define SL_ACL_CLUSTER_NAME "kafka-cluster"

typedef struct sl_acl_binding {
    int8_t res_type;
    int8_t pattern;
    int8_t op;
    int8_t perm;
    const char *res_name;
    const char *principal; /* "User:alice" or "User:*" */
    const char *host;      /* "*" or an address */
} sl_acl_binding_t;

/* A filter (DescribeAcls, DeleteAcls): ANY codes and NULL strings match everything; pattern
 * MATCH with a name matches the bindings that apply to that resource (rule 2 above). */
typedef sl_acl_binding_t sl_acl_filter_t;

typedef struct sl_acls sl_acls_t;

sl_acls_t *sl_acls_new(void);
void sl_acls_free(sl_acls_t *a);
/* Drops every binding (a cluster snapshot replaces them). */
void sl_acls_clear(sl_acls_t *a);
/* super.users: "User:a;User:b" (spaces around names ignored). */
void sl_acls_set_super_users(sl_acls_t *a, const char *list);
void sl_acls_set_allow_everyone(sl_acls_t *a, bool allow);

/* Why a binding cannot be created (Kafka's INVALID_REQUEST cases), or NULL if it can. */
const char *sl_acl_invalid(const sl_acl_binding_t *b);
/* Why a filter cannot be used, or NULL if it can. */
const char *sl_acl_filter_invalid(const sl_acl_filter_t *f);
/* Adds a copy of a valid binding; false if an identical one is there already (no change). */
bool sl_acls_add(sl_acls_t *a, const sl_acl_binding_t *b);
/* Removes the binding identical to `b`; false if there is none. */
bool sl_acls_remove(sl_acls_t *a, const sl_acl_binding_t *b);
/* Whether filter `f` matches binding `b`. */
bool sl_acl_filter_matches(const sl_acl_filter_t *f, const sl_acl_binding_t *b);
/* The bindings in the order they were added; the pointers stay valid until the next change. */
size_t sl_acls_count(const sl_acls_t *a);
const sl_acl_binding_t *sl_acls_get(const sl_acls_t *a, size_t i);

/* The decision above for `principal` ("User:name") connecting from `host` (an address) doing
 * `op` on the resource (`name` of `len` bytes; SL_ACL_CLUSTER_NAME for the cluster). */
bool sl_acls_authorize(sl_acls_t *a, const char *principal, const char *host, int8_t res_type,
                       const char *name, size_t len, int8_t op);

/* Whether `principal` may do `op` on some resource of `res_type` (Kafka's
 * authorizeByResourceType, used by InitProducerId: WRITE on any topic): a super user; or an
 * ALLOW binding of that type granting `op` to it whose resource no DENY of `op` (or ALL) for it
 * covers (a DENY on literal "*" covers every resource); or, with allow.everyone.if.no.acl.found,
 * no binding of that type at all. */
bool sl_acls_authorize_any(sl_acls_t *a, const char *principal, const char *host, int8_t res_type,
                           int8_t op);

/* Kafka's names for the codes ("TOPIC", "PREFIXED", "READ", "ALLOW"), and back: -1 if unknown
 * (case-insensitive). */
const char *sl_acl_res_name(int8_t t);
const char *sl_acl_pattern_name(int8_t p);
const char *sl_acl_op_name(int8_t op);
const char *sl_acl_perm_name(int8_t p);
int sl_acl_res_parse(const char *s);
int sl_acl_pattern_parse(const char *s);
int sl_acl_op_parse(const char *s);
int sl_acl_perm_parse(const char *s);

#endif

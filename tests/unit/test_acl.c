/* test_acl.c -- the authorizer's decisions (src/security/acl.c): literal, prefixed and wildcard
 * resources, wildcard principal and host, deny wins, implied operations, super users,
 * allow.everyone.if.no.acl.found, and the filters DescribeAcls and DeleteAcls use. */
#include <string.h>

#include "harness.h"
#include "security/acl.h"

static sl_acl_binding_t bind(int8_t type, const char *name, int8_t pat, const char *principal,
                             const char *host, int8_t op, int8_t perm) {
    return (sl_acl_binding_t){type, pat, op, perm, name, principal, host};
}

static bool can(sl_acls_t *a, const char *who, const char *host, int8_t type, const char *name,
                int8_t op) {
    return sl_acls_authorize(a, who, host, type, name, strlen(name), op);
}

TEST(acl_literal_allow_only_that_principal_topic_and_operation) {
    sl_acls_t *a = sl_acls_new();
    sl_acl_binding_t b =
        bind(SL_RES_TOPIC, "orders", SL_PAT_LITERAL, "User:alice", "*", SL_ACL_READ, SL_PERM_ALLOW);
    CHECK(sl_acls_add(a, &b));
    CHECK(!sl_acls_add(a, &b)); /* identical: no change */
    CHECK_EQ_INT(sl_acls_count(a), 1);
    CHECK(can(a, "User:alice", "127.0.0.1", SL_RES_TOPIC, "orders", SL_ACL_READ));
    CHECK(!can(a, "User:alice", "127.0.0.1", SL_RES_TOPIC, "orders", SL_ACL_WRITE));
    CHECK(!can(a, "User:bob", "127.0.0.1", SL_RES_TOPIC, "orders", SL_ACL_READ));
    CHECK(!can(a, "User:alice", "127.0.0.1", SL_RES_TOPIC, "orders2", SL_ACL_READ));
    CHECK(!can(a, "User:alice", "127.0.0.1", SL_RES_GROUP, "orders", SL_ACL_READ));
    /* no binding on "other" and allow.everyone off: denied */
    CHECK(!can(a, "User:alice", "127.0.0.1", SL_RES_TOPIC, "other", SL_ACL_READ));
    sl_acls_free(a);
}

TEST(acl_prefixed_and_wildcard_resource) {
    sl_acls_t *a = sl_acls_new();
    sl_acl_binding_t p = bind(SL_RES_TOPIC, "logs.", SL_PAT_PREFIXED, "User:alice", "*",
                              SL_ACL_WRITE, SL_PERM_ALLOW);
    sl_acl_binding_t w =
        bind(SL_RES_GROUP, "*", SL_PAT_LITERAL, "User:bob", "*", SL_ACL_READ, SL_PERM_ALLOW);
    CHECK(sl_acls_add(a, &p) && sl_acls_add(a, &w));
    CHECK(can(a, "User:alice", "h", SL_RES_TOPIC, "logs.app", SL_ACL_WRITE));
    CHECK(can(a, "User:alice", "h", SL_RES_TOPIC, "logs.", SL_ACL_WRITE));
    CHECK(!can(a, "User:alice", "h", SL_RES_TOPIC, "logs", SL_ACL_WRITE));
    CHECK(!can(a, "User:alice", "h", SL_RES_TOPIC, "xlogs.app", SL_ACL_WRITE));
    CHECK(can(a, "User:bob", "h", SL_RES_GROUP, "any-group", SL_ACL_READ));
    CHECK(!can(a, "User:bob", "h", SL_RES_TOPIC, "any-group", SL_ACL_READ));
    sl_acls_free(a);
}

TEST(acl_wildcard_principal_and_host) {
    sl_acls_t *a = sl_acls_new();
    sl_acl_binding_t b =
        bind(SL_RES_TOPIC, "t", SL_PAT_LITERAL, "User:*", "10.0.0.1", SL_ACL_READ, SL_PERM_ALLOW);
    CHECK(sl_acls_add(a, &b));
    CHECK(can(a, "User:anyone", "10.0.0.1", SL_RES_TOPIC, "t", SL_ACL_READ));
    CHECK(!can(a, "User:anyone", "10.0.0.2", SL_RES_TOPIC, "t", SL_ACL_READ));
    sl_acls_free(a);
}

TEST(acl_deny_wins_over_allow) {
    sl_acls_t *a = sl_acls_new();
    sl_acl_binding_t allow =
        bind(SL_RES_TOPIC, "*", SL_PAT_LITERAL, "User:*", "*", SL_ACL_ALL, SL_PERM_ALLOW);
    sl_acl_binding_t deny =
        bind(SL_RES_TOPIC, "secret", SL_PAT_PREFIXED, "User:eve", "*", SL_ACL_READ, SL_PERM_DENY);
    CHECK(sl_acls_add(a, &allow) && sl_acls_add(a, &deny));
    CHECK(!can(a, "User:eve", "h", SL_RES_TOPIC, "secret-plans", SL_ACL_READ));
    CHECK(can(a, "User:eve", "h", SL_RES_TOPIC, "secret-plans", SL_ACL_WRITE));
    /* a DENY of READ does not deny DESCRIBE (implication is for ALLOW only, as in Kafka) */
    CHECK(can(a, "User:eve", "h", SL_RES_TOPIC, "secret-plans", SL_ACL_DESCRIBE));
    CHECK(can(a, "User:bob", "h", SL_RES_TOPIC, "secret-plans", SL_ACL_READ));
    sl_acl_binding_t deny_all = bind(SL_RES_TOPIC, "secret-plans", SL_PAT_LITERAL, "User:bob", "*",
                                     SL_ACL_ALL, SL_PERM_DENY);
    CHECK(sl_acls_add(a, &deny_all));
    CHECK(!can(a, "User:bob", "h", SL_RES_TOPIC, "secret-plans", SL_ACL_DESCRIBE));
    CHECK(sl_acls_remove(a, &deny_all));
    CHECK(!sl_acls_remove(a, &deny_all));
    CHECK(can(a, "User:bob", "h", SL_RES_TOPIC, "secret-plans", SL_ACL_DESCRIBE));
    sl_acls_free(a);
}

TEST(acl_implied_operations) {
    sl_acls_t *a = sl_acls_new();
    int8_t describers[] = {SL_ACL_READ, SL_ACL_WRITE, SL_ACL_DELETE, SL_ACL_ALTER};
    for (size_t i = 0; i < 4; i++) {
        char name[8] = "t0";
        name[1] = (char)('0' + i);
        sl_acl_binding_t b =
            bind(SL_RES_TOPIC, name, SL_PAT_LITERAL, "User:u", "*", describers[i], SL_PERM_ALLOW);
        CHECK(sl_acls_add(a, &b));
        CHECK(can(a, "User:u", "h", SL_RES_TOPIC, name, SL_ACL_DESCRIBE));
        CHECK(!can(a, "User:u", "h", SL_RES_TOPIC, name, SL_ACL_CREATE));
    }
    sl_acl_binding_t c = bind(SL_RES_TOPIC, "cfg", SL_PAT_LITERAL, "User:u", "*",
                              SL_ACL_ALTER_CONFIGS, SL_PERM_ALLOW);
    CHECK(sl_acls_add(a, &c));
    CHECK(can(a, "User:u", "h", SL_RES_TOPIC, "cfg", SL_ACL_DESCRIBE_CONFIGS));
    CHECK(!can(a, "User:u", "h", SL_RES_TOPIC, "cfg", SL_ACL_DESCRIBE));
    /* DESCRIBE implies nothing */
    sl_acl_binding_t d =
        bind(SL_RES_TOPIC, "d", SL_PAT_LITERAL, "User:u", "*", SL_ACL_DESCRIBE, SL_PERM_ALLOW);
    CHECK(sl_acls_add(a, &d));
    CHECK(!can(a, "User:u", "h", SL_RES_TOPIC, "d", SL_ACL_READ));
    sl_acls_free(a);
}

TEST(acl_super_users_and_allow_everyone) {
    sl_acls_t *a = sl_acls_new();
    sl_acls_set_super_users(a, "User:admin; User:ops ");
    CHECK(can(a, "User:admin", "h", SL_RES_CLUSTER, SL_ACL_CLUSTER_NAME, SL_ACL_ALTER));
    CHECK(can(a, "User:ops", "h", SL_RES_TOPIC, "t", SL_ACL_DELETE));
    CHECK(!can(a, "User:op", "h", SL_RES_TOPIC, "t", SL_ACL_DELETE));
    sl_acls_set_allow_everyone(a, true);
    CHECK(can(a, "User:anyone", "h", SL_RES_TOPIC, "t", SL_ACL_DELETE));
    /* once any binding names the resource, allow.everyone no longer applies to it */
    sl_acl_binding_t b =
        bind(SL_RES_TOPIC, "t", SL_PAT_LITERAL, "User:alice", "*", SL_ACL_READ, SL_PERM_ALLOW);
    CHECK(sl_acls_add(a, &b));
    CHECK(!can(a, "User:anyone", "h", SL_RES_TOPIC, "t", SL_ACL_READ));
    CHECK(can(a, "User:anyone", "h", SL_RES_TOPIC, "u", SL_ACL_READ));
    /* a deny for everyone on a super user's resource still lets the super user in */
    sl_acl_binding_t d =
        bind(SL_RES_TOPIC, "t", SL_PAT_LITERAL, "User:*", "*", SL_ACL_ALL, SL_PERM_DENY);
    CHECK(sl_acls_add(a, &d));
    CHECK(can(a, "User:admin", "h", SL_RES_TOPIC, "t", SL_ACL_READ));
    CHECK(!can(a, "User:alice", "h", SL_RES_TOPIC, "t", SL_ACL_READ));
    sl_acls_free(a);
}

TEST(acl_validation) {
    sl_acl_binding_t ok =
        bind(SL_RES_TOPIC, "t", SL_PAT_PREFIXED, "User:a", "*", SL_ACL_READ, SL_PERM_ALLOW);
    CHECK(!sl_acl_invalid(&ok));
    sl_acl_binding_t b = ok;
    b.res_type = SL_RES_DELEGATION_TOKEN;
    CHECK(sl_acl_invalid(&b));
    b = ok, b.pattern = SL_PAT_MATCH;
    CHECK(sl_acl_invalid(&b));
    b = ok, b.principal = "Group:x";
    CHECK(sl_acl_invalid(&b));
    b = ok, b.op = SL_ACL_ANY;
    CHECK(sl_acl_invalid(&b));
    b = ok, b.perm = SL_PERM_ANY;
    CHECK(sl_acl_invalid(&b));
    b = ok, b.res_type = SL_RES_CLUSTER;
    CHECK(sl_acl_invalid(&b));
    b.res_name = SL_ACL_CLUSTER_NAME, b.pattern = SL_PAT_LITERAL;
    CHECK(!sl_acl_invalid(&b));
}

TEST(acl_filters) {
    sl_acl_binding_t lit =
        bind(SL_RES_TOPIC, "orders", SL_PAT_LITERAL, "User:a", "*", SL_ACL_READ, SL_PERM_ALLOW);
    sl_acl_binding_t pre =
        bind(SL_RES_TOPIC, "ord", SL_PAT_PREFIXED, "User:b", "*", SL_ACL_WRITE, SL_PERM_DENY);
    sl_acl_binding_t star =
        bind(SL_RES_TOPIC, "*", SL_PAT_LITERAL, "User:c", "*", SL_ACL_ALL, SL_PERM_ALLOW);
    sl_acl_filter_t any = {SL_RES_ANY, SL_PAT_ANY, SL_ACL_ANY, SL_PERM_ANY, NULL, NULL, NULL};
    CHECK(sl_acl_filter_matches(&any, &lit) && sl_acl_filter_matches(&any, &pre));
    sl_acl_filter_t match = any;
    match.pattern = SL_PAT_MATCH, match.res_name = "orders";
    CHECK(sl_acl_filter_matches(&match, &lit));
    CHECK(sl_acl_filter_matches(&match, &pre));
    CHECK(sl_acl_filter_matches(&match, &star));
    sl_acl_filter_t exact = any;
    exact.res_name = "orders";
    CHECK(sl_acl_filter_matches(&exact, &lit));
    CHECK(!sl_acl_filter_matches(&exact, &pre));
    sl_acl_filter_t prefixed = any;
    prefixed.pattern = SL_PAT_PREFIXED;
    CHECK(!sl_acl_filter_matches(&prefixed, &lit) && sl_acl_filter_matches(&prefixed, &pre));
    sl_acl_filter_t who = any;
    who.principal = "User:b", who.perm = SL_PERM_DENY, who.op = SL_ACL_WRITE;
    CHECK(!sl_acl_filter_matches(&who, &lit) && sl_acl_filter_matches(&who, &pre));
    CHECK_EQ_INT(sl_acl_op_parse("idempotent_write"), SL_ACL_IDEMPOTENT_WRITE);
    CHECK_EQ_INT(sl_acl_res_parse("TRANSACTIONAL_ID"), SL_RES_TRANSACTIONAL_ID);
    CHECK(!strcmp(sl_acl_op_name(SL_ACL_DESCRIBE_CONFIGS), "DESCRIBE_CONFIGS"));
}

/* InitProducerId without a transactional id: WRITE on some topic suffices (Kafka 3), unless a
 * DENY covers the resource the ALLOW names. */
TEST(acl_authorize_any_resource_of_a_type) {
    sl_acls_t *a = sl_acls_new();
    CHECK(!sl_acls_authorize_any(a, "User:u", "h", SL_RES_TOPIC, SL_ACL_WRITE));
    sl_acl_binding_t w =
        bind(SL_RES_TOPIC, "logs.", SL_PAT_PREFIXED, "User:u", "*", SL_ACL_WRITE, SL_PERM_ALLOW);
    CHECK(sl_acls_add(a, &w));
    CHECK(sl_acls_authorize_any(a, "User:u", "h", SL_RES_TOPIC, SL_ACL_WRITE));
    CHECK(!sl_acls_authorize_any(a, "User:v", "h", SL_RES_TOPIC, SL_ACL_WRITE));
    CHECK(!sl_acls_authorize_any(a, "User:u", "h", SL_RES_GROUP, SL_ACL_WRITE));
    /* a literal deny inside the prefix does not cover it; a shorter prefixed deny does */
    sl_acl_binding_t d1 =
        bind(SL_RES_TOPIC, "logs.x", SL_PAT_LITERAL, "User:u", "*", SL_ACL_WRITE, SL_PERM_DENY);
    CHECK(sl_acls_add(a, &d1));
    CHECK(sl_acls_authorize_any(a, "User:u", "h", SL_RES_TOPIC, SL_ACL_WRITE));
    sl_acl_binding_t d2 =
        bind(SL_RES_TOPIC, "log", SL_PAT_PREFIXED, "User:*", "*", SL_ACL_ALL, SL_PERM_DENY);
    CHECK(sl_acls_add(a, &d2));
    CHECK(!sl_acls_authorize_any(a, "User:u", "h", SL_RES_TOPIC, SL_ACL_WRITE));
    sl_acls_set_super_users(a, "User:root");
    CHECK(sl_acls_authorize_any(a, "User:root", "h", SL_RES_TOPIC, SL_ACL_WRITE));
    sl_acls_free(a);
}

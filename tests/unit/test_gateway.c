/* test_gateway.c -- the gateway's pure parts: base64, token buckets, the circuit breaker's
 * transitions, Kafka's ACL decision (authorization=acl), and the policy file with API keys,
 * permissions and JWT checks (HS256 tokens made
 * here with libjwt; RS256 is covered by tests/integration/test_gateway_auth.sh). */
#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway/acl.h"
#include "gateway/b64.h"
#include "gateway/breaker.h"
#include "gateway/policy.h"
#include "gateway/rate.h"
#include "harness.h"

static bool b64_round(const char *in, size_t n, const char *want) {
    sl_buf_t e = {0}, d = {0};
    sl_gw_b64_encode(&e, in, n);
    bool ok = e.len == strlen(want) && (e.len == 0 || !memcmp(e.data, want, e.len)) &&
              sl_gw_b64_decode(&d, (const char *)e.data, e.len) && d.len == n &&
              (n == 0 || !memcmp(d.data, in, n));
    sl_buf_fini(&e);
    sl_buf_fini(&d);
    return ok;
}

TEST(b64_known_vectors) {
    CHECK(b64_round("", 0, ""));
    CHECK(b64_round("f", 1, "Zg=="));
    CHECK(b64_round("fo", 2, "Zm8="));
    CHECK(b64_round("foo", 3, "Zm9v"));
    CHECK(b64_round("foobar", 6, "Zm9vYmFy"));
    CHECK(b64_round("\0\xff\x10", 3, "AP8Q"));
}

TEST(b64_rejects_malformed) {
    const char *bad[] = {"Zg=", "Zg=a", "Z===", "Zm9v!A==", "=Zg=", "Zg==Zg=="};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sl_buf_t d = {0};
        bool ok = sl_gw_b64_decode(&d, bad[i], strlen(bad[i]));
        sl_buf_fini(&d);
        CHECK(!ok);
    }
}

TEST(bucket_burst_then_rate) {
    sl_gw_bucket_t b;
    sl_gw_bucket_init(&b, 10, 3, 1000);
    CHECK_EQ_INT(sl_gw_bucket_take(&b, 1000), 0);
    CHECK_EQ_INT(sl_gw_bucket_take(&b, 1000), 0);
    CHECK_EQ_INT(sl_gw_bucket_take(&b, 1000), 0);
    CHECK_EQ_INT(sl_gw_bucket_take(&b, 1000), 100); /* 10/s: one token per 100 ms */
    CHECK_EQ_INT(sl_gw_bucket_take(&b, 1050), 50);
    CHECK_EQ_INT(sl_gw_bucket_take(&b, 1100), 0);
    CHECK(sl_gw_bucket_take(&b, 900) > 0); /* the clock stepping back refills nothing */
    CHECK_EQ_INT(sl_gw_bucket_take(&b, 100000), 0);
    sl_gw_bucket_init(&b, 0, 0, 0); /* unlimited */
    for (int i = 0; i < 1000; i++) {
        CHECK_EQ_INT(sl_gw_bucket_take(&b, 0), 0);
    }
}

TEST(bucket_admits_the_rate_over_time) {
    sl_gw_bucket_t b;
    sl_gw_bucket_init(&b, 50, 1, 0);
    int admitted = 0;
    for (uint64_t t = 0; t < 10000; t++) { /* 1000 tries/s for 10 s */
        admitted += sl_gw_bucket_take(&b, t) == 0;
    }
    CHECK(admitted >= 495 && admitted <= 505);
}

TEST(breaker_opens_on_failures_within_window) {
    sl_gw_breaker_t br;
    sl_gw_breaker_init(&br, 3, 1000, 0, 500);
    bool probe;
    CHECK(sl_gw_breaker_admit(&br, 0, &probe) && !probe);
    sl_gw_breaker_done(&br, 0, false, false, 1);
    sl_gw_breaker_done(&br, 100, false, false, 1);
    sl_gw_breaker_done(&br, 1500, false, false, 1); /* the first fell out of the window */
    CHECK_EQ_INT(sl_gw_breaker_state(&br), SL_GW_BR_CLOSED);
    sl_gw_breaker_done(&br, 1600, false, false, 1); /* 100, 1500, 1600: still too spread */
    CHECK_EQ_INT(sl_gw_breaker_state(&br), SL_GW_BR_CLOSED);
    sl_gw_breaker_done(&br, 1700, false, false, 1); /* 1500, 1600, 1700: three in the window */
    CHECK_EQ_INT(sl_gw_breaker_state(&br), SL_GW_BR_OPEN);
    CHECK(!sl_gw_breaker_admit(&br, 1800, &probe));
    CHECK_EQ_INT(br.rejected, 1);
    /* open_ms later: one probe, the rest still refused */
    CHECK(sl_gw_breaker_admit(&br, 2200, &probe) && probe);
    CHECK_EQ_INT(sl_gw_breaker_state(&br), SL_GW_BR_HALF_OPEN);
    bool p2;
    CHECK(!sl_gw_breaker_admit(&br, 2200, &p2));
    sl_gw_breaker_done(&br, 2300, true, false, 1); /* probe failed: open again */
    CHECK_EQ_INT(sl_gw_breaker_state(&br), SL_GW_BR_OPEN);
    CHECK(!sl_gw_breaker_admit(&br, 2700, &probe));
    CHECK(sl_gw_breaker_admit(&br, 2800, &probe) && probe);
    sl_gw_breaker_done(&br, 2810, true, true, 10);
    CHECK_EQ_INT(sl_gw_breaker_state(&br), SL_GW_BR_CLOSED);
    CHECK_EQ_INT(br.transitions[SL_GW_BR_CLOSED][SL_GW_BR_OPEN], 1);
    CHECK_EQ_INT(br.transitions[SL_GW_BR_OPEN][SL_GW_BR_HALF_OPEN], 2);
    CHECK_EQ_INT(br.transitions[SL_GW_BR_HALF_OPEN][SL_GW_BR_OPEN], 1);
    CHECK_EQ_INT(br.transitions[SL_GW_BR_HALF_OPEN][SL_GW_BR_CLOSED], 1);
    /* closed again with a clean slate: two new failures do not open it */
    sl_gw_breaker_done(&br, 2820, false, false, 1);
    sl_gw_breaker_done(&br, 2830, false, false, 1);
    CHECK_EQ_INT(sl_gw_breaker_state(&br), SL_GW_BR_CLOSED);
    sl_gw_breaker_fini(&br);
}

TEST(breaker_slow_calls_trip_and_release_frees_probe) {
    sl_gw_breaker_t br;
    sl_gw_breaker_init(&br, 2, 1000, 200, 100);
    bool probe;
    sl_gw_breaker_done(&br, 10, false, true, 250); /* "ok" but slow */
    sl_gw_breaker_done(&br, 20, false, true, 199);
    CHECK_EQ_INT(sl_gw_breaker_state(&br), SL_GW_BR_CLOSED);
    sl_gw_breaker_done(&br, 30, false, true, 300);
    CHECK_EQ_INT(sl_gw_breaker_state(&br), SL_GW_BR_OPEN);
    CHECK(sl_gw_breaker_admit(&br, 200, &probe) && probe);
    sl_gw_breaker_release(&br, true); /* a client error: the next request probes instead */
    CHECK(sl_gw_breaker_admit(&br, 201, &probe) && probe);
    sl_gw_breaker_done(&br, 202, true, true, 1);
    CHECK_EQ_INT(sl_gw_breaker_state(&br), SL_GW_BR_CLOSED);
    sl_gw_breaker_trip(&br, 300);
    CHECK_EQ_INT(sl_gw_breaker_state(&br), SL_GW_BR_OPEN);
    sl_gw_breaker_fini(&br);
}

static const char *write_conf(const char *text) {
    static char path[64];
    snprintf(path, sizeof path, "/tmp/sl-gw-test-%d.properties", (int)getpid());
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

#define SECRET "0123456789abcdef0123456789abcdef"
static const char conf_text[] = "key.k-alice=alice\n"
                                "key.k-bob=bob\n"
                                "principal.alice.topics=orders, metrics-*\n"
                                "principal.alice.operations=produce,consume\n"
                                "principal.alice.rate=2\n"
                                "principal.bob.topics=*\n"
                                "principal.bob.operations=consume\n"
                                "principal.svc.topics=orders\n"
                                "principal.svc.operations=produce\n"
                                "jwt.hs256.secret=" SECRET "\n"
                                "jwt.audience=sluice\n"
                                "max.request.bytes=1000\n";

TEST(policy_keys_and_permissions) {
    char err[SL_ERRLEN];
    sl_gw_policy_t *p = sl_gw_policy_load(write_conf(conf_text), err);
    CHECK(p);
    CHECK(p->auth_required);
    CHECK_EQ_INT(p->s.max_request_bytes, 1000);
    int status = 0;
    char why[SL_ERRLEN];
    CHECK(!sl_gw_authenticate(p, NULL, NULL, 0, &status, why));
    CHECK_EQ_INT(status, 401);
    CHECK(!sl_gw_authenticate(p, "k-alic", NULL, 0, &status, why));
    CHECK(!sl_gw_authenticate(p, "k-alicee", NULL, 0, &status, why));
    CHECK(!sl_gw_authenticate(p, NULL, "Basic abc", 0, &status, why));
    sl_gw_principal_t *a = sl_gw_authenticate(p, "k-alice", NULL, 0, &status, why);
    CHECK(a && !strcmp(a->name, "alice"));
    CHECK(sl_gw_authenticate(p, NULL, "Bearer k-bob", 0, &status, why) ==
          sl_gw_authenticate(p, "k-bob", NULL, 0, &status, why));
    CHECK(sl_gw_authorize(a, SL_GW_OP_PRODUCE, "orders"));
    CHECK(sl_gw_authorize(a, SL_GW_OP_CONSUME, "metrics-cpu"));
    CHECK(!sl_gw_authorize(a, SL_GW_OP_PRODUCE, "orders2"));
    CHECK(!sl_gw_authorize(a, SL_GW_OP_PRODUCE, "metric"));
    sl_gw_principal_t *b = sl_gw_authenticate(p, "k-bob", NULL, 0, &status, why);
    CHECK(sl_gw_authorize(b, SL_GW_OP_CONSUME, "anything"));
    CHECK(!sl_gw_authorize(b, SL_GW_OP_PRODUCE, "anything"));
    /* alice: 2/s, burst 2 */
    CHECK_EQ_INT(sl_gw_rate_take(p, a, SL_GW_ROUTE_PRODUCE, 0), 0);
    CHECK_EQ_INT(sl_gw_rate_take(p, a, SL_GW_ROUTE_PRODUCE, 0), 0);
    CHECK_EQ_INT(sl_gw_rate_take(p, a, SL_GW_ROUTE_PRODUCE, 0), 500);
    CHECK_EQ_INT(a->admitted, 2);
    CHECK_EQ_INT(a->limited, 1);
    sl_gw_policy_free(p);
    unlink(write_conf(""));
}

TEST(policy_rejects_bad_files) {
    char err[SL_ERRLEN];
    const char *bad[] = {"no.such.key=1\n",
                         "max.request.bytes=0\n",
                         "principal.x.operations=write\n",
                         "principal.x.rate=-1\n",
                         "key.k=\n",
                         "principal.x.colour=red\n",
                         "just a line\n",
                         "jwt.rs256.public.key.file=/nonexistent/key.pem\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sl_gw_policy_t *p = sl_gw_policy_load(write_conf(bad[i]), err);
        if (p) {
            fprintf(stderr, "  accepted: %s", bad[i]);
        }
        CHECK(!p);
        CHECK(strstr(err, ":1:") || strstr(err, "/nonexistent"));
    }
    sl_gw_policy_t *p = sl_gw_policy_load(NULL, err); /* no file: open, anonymous */
    CHECK(p && !p->auth_required);
    int status;
    char why[SL_ERRLEN];
    sl_gw_principal_t *anon = sl_gw_authenticate(p, NULL, NULL, 0, &status, why);
    CHECK(anon && sl_gw_authorize(anon, SL_GW_OP_PRODUCE, "t"));
    sl_gw_policy_free(p);
    unlink(write_conf(""));
}

/* An HS256 token with the given claims, signed with `key` (or unsigned when key is NULL). */
static char *token(const char *key, const char *sub, long exp, const char *aud) {
    jwt_t *j;
    jwt_new(&j);
    if (sub) {
        jwt_add_grant(j, "sub", sub);
    }
    if (exp) {
        jwt_add_grant_int(j, "exp", exp);
    }
    if (aud) {
        jwt_add_grant(j, "aud", aud);
    }
    if (key) {
        jwt_set_alg(j, JWT_ALG_HS256, (const unsigned char *)key, (int)strlen(key));
    }
    char *s = jwt_encode_str(j);
    jwt_free(j);
    char *out = malloc(strlen(s) + 8);
    sprintf(out, "Bearer %s", s);
    free(s);
    return out;
}

static int auth_status(sl_gw_policy_t *p, char *authz, const char **name) {
    int status = 200;
    static char why[SL_ERRLEN];
    sl_gw_principal_t *pr = sl_gw_authenticate(p, NULL, authz, 1000, &status, why);
    *name = pr ? pr->name : why;
    free(authz);
    return pr ? 200 : status;
}

TEST(policy_jwt_hs256) {
    char err[SL_ERRLEN];
    sl_gw_policy_t *p = sl_gw_policy_load(write_conf(conf_text), err);
    CHECK(p);
    const char *name;
    CHECK_EQ_INT(auth_status(p, token(SECRET, "svc", 2000, "sluice"), &name), 200);
    CHECK(!strcmp(name, "svc"));
    CHECK_EQ_INT(auth_status(p, token(SECRET, "svc", 999, "sluice"), &name), 401); /* expired */
    CHECK(strstr(name, "expired"));
    CHECK_EQ_INT(auth_status(p, token(SECRET, "svc", 0, "sluice"), &name), 401); /* no exp */
    CHECK_EQ_INT(auth_status(p, token(SECRET, "svc", 2000, "other"), &name), 401);
    CHECK(strstr(name, "audience"));
    CHECK_EQ_INT(
        auth_status(p, token("wrong-secret-wrong-secret-wrong!!", "svc", 2000, "sluice"), &name),
        401);
    CHECK_EQ_INT(auth_status(p, token(NULL, "svc", 2000, "sluice"), &name), 401); /* alg none */
    CHECK_EQ_INT(auth_status(p, token(SECRET, "mallory", 2000, "sluice"), &name), 403);
    /* a tampered payload: claims changed after signing */
    char *t = token(SECRET, "svc", 2000, "sluice");
    char *dot = strchr(t, '.');
    dot[2] = dot[2] == 'A' ? 'B' : 'A';
    CHECK_EQ_INT(auth_status(p, t, &name), 401);
    CHECK_EQ_INT(auth_status(p, strdup("Bearer a.b.c"), &name), 401);
    sl_gw_policy_free(p);
    unlink(write_conf(""));
}

#define T     RD_KAFKA_RESOURCE_TOPIC
#define G     RD_KAFKA_RESOURCE_GROUP
#define OP(x) RD_KAFKA_ACL_OPERATION_##x
/* An ACL binding: ALLOW unless deny; PREFIXED when prefixed. */
static sl_gw_acl_entry_t ace(rd_kafka_ResourceType_t rt, const char *name, bool prefixed,
                             const char *who, const char *host, rd_kafka_AclOperation_t op,
                             bool deny) {
    return (sl_gw_acl_entry_t){rt, prefixed, deny, op, (char *)name, (char *)who, (char *)host};
}

TEST(acl_decide_follows_kafka_rules) {
    sl_gw_acl_entry_t e[] = {
        ace(T, "orders", false, "User:alice", "*", OP(WRITE), false),
        ace(T, "logs.", true, "User:alice", "*", OP(READ), false),
        ace(G, "ga", false, "User:alice", "*", OP(READ), false),
        ace(T, "*", false, "User:carol", "*", OP(ALL), false),
        ace(T, "payroll", false, "User:carol", "*", OP(WRITE), true),
        ace(T, "pub", false, "User:*", "*", OP(READ), false),
        ace(T, "pub", false, "User:eve", "10.0.0.9", OP(READ), true),     /* deny: any host */
        ace(T, "lan", false, "User:alice", "10.0.0.9", OP(WRITE), false), /* allow: "*" only */
        ace(T, "orders", false, "alice", "*", OP(READ), false), /* no "User:": never matches */
    };
    int n = (int)(sizeof e / sizeof e[0]);
    CHECK(sl_gw_acl_decide(e, n, "alice", T, "orders", OP(WRITE)));
    CHECK(!sl_gw_acl_decide(e, n, "alice", T, "orders", OP(READ)));
    CHECK(sl_gw_acl_decide(e, n, "alice", T, "orders", OP(DESCRIBE))); /* WRITE implies it */
    CHECK(!sl_gw_acl_decide(e, n, "alice", T, "orders2", OP(WRITE)));
    CHECK(!sl_gw_acl_decide(e, n, "alice", T, "payroll", OP(WRITE)));
    CHECK(sl_gw_acl_decide(e, n, "alice", T, "logs.app", OP(READ)));
    CHECK(!sl_gw_acl_decide(e, n, "alice", T, "logs", OP(READ)));
    CHECK(sl_gw_acl_decide(e, n, "alice", G, "ga", OP(READ)));
    CHECK(!sl_gw_acl_decide(e, n, "alice", T, "ga", OP(READ))); /* a group is not a topic */
    CHECK(!sl_gw_acl_decide(e, n, "bob", T, "orders", OP(WRITE)));
    CHECK(sl_gw_acl_decide(e, n, "carol", T, "anything", OP(WRITE)));
    CHECK(sl_gw_acl_decide(e, n, "carol", T, "payroll", OP(READ)));
    CHECK(!sl_gw_acl_decide(e, n, "carol", T, "payroll", OP(WRITE))); /* deny wins */
    CHECK(sl_gw_acl_decide(e, n, "bob", T, "pub", OP(READ)));         /* User:* */
    CHECK(!sl_gw_acl_decide(e, n, "eve", T, "pub", OP(READ)));
    CHECK(!sl_gw_acl_decide(e, n, "alice", T, "lan", OP(WRITE)));
    CHECK(!sl_gw_acl_decide(e, 0, "alice", T, "orders", OP(WRITE)));
    /* Principal names are compared whole. */
    CHECK(!sl_gw_acl_decide(e, n, "alic", T, "orders", OP(WRITE)));
    CHECK(!sl_gw_acl_decide(e, n, "alicex", T, "orders", OP(WRITE)));
}
#undef T
#undef G
#undef OP

TEST(policy_acl_mode) {
    char err[SL_ERRLEN];
    sl_gw_policy_t *p = sl_gw_policy_load(
        write_conf("authorization=acl\nacl.cache.ms=250\nkey.k-alice=alice\n"
                   "jwt.hs256.secret=" SECRET "\njwt.audience=sluice\nprincipal.alice.rate=5\n"),
        err);
    CHECK(p);
    CHECK(p->acl);
    CHECK_EQ_INT(p->s.acl_cache_ms, 250);
    int status = 0;
    char why[SL_ERRLEN];
    sl_gw_principal_t *a = sl_gw_authenticate(p, "k-alice", NULL, 0, &status, why);
    CHECK(a && !strcmp(a->name, "alice") && a->rate == 5);
    /* A valid token naming a principal the file does not list: its ACLs decide, so it is one. */
    const char *name;
    CHECK_EQ_INT(auth_status(p, token(SECRET, "mallory", 2000, "sluice"), &name), 200);
    CHECK(!strcmp(name, "mallory"));
    sl_gw_principal_t *m1 = p->dyn;
    CHECK_EQ_INT(auth_status(p, token(SECRET, "mallory", 2000, "sluice"), &name), 200);
    CHECK(p->dyn == m1 && p->n_dyn == 1); /* made once */
    CHECK(sl_gw_authenticate_cert(p, "dave", &status, why) != NULL);
    CHECK_EQ_INT(p->n_dyn, 2);
    CHECK_EQ_INT(auth_status(p, token(SECRET, "mallory", 999, "sluice"), &name), 401);
    /* A name that would break /metrics labels is refused, not made. */
    CHECK_EQ_INT(auth_status(p, token(SECRET, "a\"b", 2000, "sluice"), &name), 403);
    CHECK(!sl_gw_authenticate_cert(p, "x\ny", &status, why));
    CHECK_EQ_INT(p->n_dyn, 2);
    sl_gw_policy_free(p);
    /* The file's own permissions are refused with the ACLs; an unknown mode is refused. */
    CHECK(!sl_gw_policy_load(write_conf("authorization=acl\nprincipal.x.topics=t\n"), err));
    CHECK(strstr(err, "authorization=acl"));
    CHECK(
        !sl_gw_policy_load(write_conf("authorization=acl\nprincipal.x.operations=produce\n"), err));
    CHECK(!sl_gw_policy_load(write_conf("authorization=acls\n"), err));
    /* Without credentials, Kafka's anonymous principal. */
    p = sl_gw_policy_load(write_conf("authorization=acl\n"), err);
    CHECK(p && !p->auth_required);
    CHECK(!strcmp(sl_gw_authenticate(p, NULL, NULL, 0, &status, why)->name, "ANONYMOUS"));
    sl_gw_policy_free(p);
    unlink(write_conf(""));
}

/* test_oauth.c -- OAUTHBEARER: the RFC 7628 client message parser and JWT validation (HS256
 * tokens signed here with libjwt; RS256 and ES256 are covered by test_sasl_oauth.sh). */
#include <jwt.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "security/oauth.h"

#define NOW 1800000000LL

static const char secret[] = "0123456789abcdef0123456789abcdef";

static sl_oauth_t *make(const char *aud, const char *iss, const char *claim) {
    char err[SL_ERRLEN];
    sl_oauth_conf_t c = {"", secret, 30, aud, iss, claim};
    return sl_oauth_new(&c, err);
}

/* An HS256 token with the given claims (exp relative to NOW; 0: none), signed with `key`. */
static char *token(const char *key, const char *sub, long exp_rel, const char *aud,
                   const char *iss) {
    jwt_t *j = NULL;
    jwt_new(&j);
    if (sub) {
        jwt_add_grant(j, "sub", sub);
    }
    if (exp_rel) {
        jwt_add_grant_int(j, "exp", (long)NOW + exp_rel);
    }
    if (aud) {
        jwt_add_grant(j, "aud", aud);
    }
    if (iss) {
        jwt_add_grant(j, "iss", iss);
    }
    jwt_set_alg(j, key ? JWT_ALG_HS256 : JWT_ALG_NONE, (const unsigned char *)key,
                key ? (int)strlen(key) : 0);
    char *out = jwt_encode_str(j);
    jwt_free(j);
    return out;
}

static sl_err_t verify(sl_oauth_t *o, const char *tok, char *who, char *why) {
    int64_t exp;
    return sl_oauth_verify(o, tok, strlen(tok), NOW, who, 64, &exp, why, 160);
}

TEST(oauth_client_message) {
    const char *t;
    size_t n;
    static const char ok[] = "n,,\x01"
                             "auth=Bearer abc.def.ghi\x01\x01";
    CHECK(sl_oauth_parse_client_msg((const uint8_t *)ok, sizeof ok - 1, &t, &n) == SL_OK);
    CHECK(n == 11 && !memcmp(t, "abc.def.ghi", 11));
    /* librdkafka sends extensions after the token; an authzid is allowed. */
    static const char ext[] = "n,a=alice,\x01"
                              "auth=bearer x.y.z\x01"
                              "traceId=123\x01\x01";
    CHECK(sl_oauth_parse_client_msg((const uint8_t *)ext, sizeof ext - 1, &t, &n) == SL_OK);
    CHECK(n == 5 && !memcmp(t, "x.y.z", 5));
    static const char *const bad[] = {
        "",
        "n,,",
        "p=tls-unique,,\x01"
        "auth=Bearer a\x01\x01", /* channel binding */
        "n,,\x01"
        "auth=Bearer a\x01", /* unterminated */
        "n,,\x01"
        "auth=Basic a\x01\x01", /* not Bearer */
        "n,,\x01"
        "auth=Bearer \x01\x01", /* empty token */
        "n,,\x01"
        "x=1\x01\x01", /* no auth */
        "n,,\x01"
        "auth=Bearer a\x01"
        "auth=Bearer b\x01\x01", /* twice */
        "n,,\x01"
        "=v\x01\x01", /* empty key */
        "n,b,\x01"
        "auth=Bearer a\x01\x01", /* bad authzid */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(sl_oauth_parse_client_msg((const uint8_t *)bad[i], strlen(bad[i]), &t, &n) != SL_OK);
    }
    /* Every truncation of a good message is refused. */
    for (size_t len = 0; len < sizeof ok - 1; len++) {
        CHECK(sl_oauth_parse_client_msg((const uint8_t *)ok, len, &t, &n) != SL_OK);
    }
}

TEST(oauth_accepts_valid_hs256) {
    sl_oauth_t *o = make("kafka", "https://idp", "sub");
    CHECK(o);
    char *t = token(secret, "alice", 600, "kafka", "https://idp");
    char who[64] = "", why[160] = "";
    int64_t exp = 0;
    CHECK(sl_oauth_verify(o, t, strlen(t), NOW, who, sizeof who, &exp, why, sizeof why) == SL_OK);
    CHECK(!strcmp(who, "alice"));
    CHECK(exp == NOW + 600);
    free(t);
    sl_oauth_free(o);
}

TEST(oauth_refuses_bad_tokens) {
    sl_oauth_t *o = make("kafka,other", "https://idp", "sub");
    char who[64], why[160];
    struct {
        char *tok;
        const char *reason;
    } cases[] = {
        {token(secret, "alice", -31, "kafka", "https://idp"), "expired"},
        {token("another-secret-another-secret-xx", "alice", 600, "kafka", "https://idp"),
         "signature"},
        {token(secret, "alice", 600, "somebody", "https://idp"), "audience"},
        {token(secret, "alice", 600, "kafka", "https://evil"), "issuer"},
        {token(secret, "alice", 0, "kafka", "https://idp"), "no exp"},
        {token(secret, NULL, 600, "kafka", "https://idp"), "sub"},
        {token(secret, "ali\nce", 600, "kafka", "https://idp"), "control"},
        {token(NULL, "alice", 600, "kafka", "https://idp"), "not accepted"},
        {strdup("not-a-jwt"), "malformed"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK(cases[i].tok);
        why[0] = '\0';
        CHECK(verify(o, cases[i].tok, who, why) != SL_OK);
        if (!strstr(why, cases[i].reason)) {
            fprintf(stderr, "  case %zu: why=\"%s\", expected \"%s\"\n", i, why, cases[i].reason);
            CHECK(0);
        }
        free(cases[i].tok);
    }
    /* Within the skew an expired token still passes; a second audience in the list matches. */
    char *t = token(secret, "bob", -29, "other", "https://idp");
    CHECK(verify(o, t, who, why) == SL_OK && !strcmp(who, "bob"));
    free(t);
    sl_oauth_free(o);
}

TEST(oauth_other_claim_and_config_errors) {
    char err[SL_ERRLEN];
    sl_oauth_conf_t none = {"", "", 30, "", "", "sub"};
    CHECK(!sl_oauth_new(&none, err) && strstr(err, "sasl.oauthbearer"));
    sl_oauth_conf_t missing = {"/nonexistent/key.pem", "", 30, "", "", "sub"};
    CHECK(!sl_oauth_new(&missing, err) && strstr(err, "cannot open"));
    sl_oauth_t *o = make("", "", "iss"); /* principal from another claim */
    char *t = token(secret, "alice", 60, NULL, "svc-a");
    char who[64], why[160];
    CHECK(verify(o, t, who, why) == SL_OK && !strcmp(who, "svc-a"));
    free(t);
    /* A token signed with the configured HMAC secret but claiming RS256 is refused, as is a
     * token whose alg the configuration has no key for. */
    t = token(secret, "alice", 60, NULL, "x");
    char *dot = strchr(t, '.');
    CHECK(dot);
    static const char rs_hdr[] = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9"; /* {"alg":"RS256",...} */
    size_t tail = strlen(dot);
    char forged[2048];
    CHECK(sizeof rs_hdr - 1 + tail < sizeof forged);
    memcpy(forged, rs_hdr, sizeof rs_hdr - 1);
    memcpy(forged + sizeof rs_hdr - 1, dot, tail + 1);
    CHECK(verify(o, forged, who, why) != SL_OK && strstr(why, "RS256"));
    free(t);
    sl_oauth_free(o);
}

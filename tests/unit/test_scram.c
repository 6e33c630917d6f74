/* test_scram.c -- SCRAM (RFC 5802/7677): the RFC 7677 SCRAM-SHA-256 exchange replayed byte for
 * byte, librdkafka's nonce form accepted, wrong proofs, unknown users and malformed messages
 * refused with the right outcome; PLAIN's check against a stored credential; base64; the
 * credential store; and the listeners syntax. */
#include <stdlib.h>
#include <string.h>

#include "broker/config.h"
#include "broker/listeners.h"
#include "harness.h"
#include "security/credstore.h"
#include "security/scram.h"

/* RFC 7677 section 3: user "user", password "pencil". */
#define RFC_SALT   "W22ZaJ0SNY7soEsUEjb6gQ=="
#define RFC_CNONCE "rOprNGfwEbeRWgbNEkqO"
#define RFC_SNONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define RFC_FIRST  "n,,n=user,r=" RFC_CNONCE
#define RFC_SFIRST "r=" RFC_CNONCE RFC_SNONCE ",s=" RFC_SALT ",i=4096"
#define RFC_FINAL                                                                                  \
    "c=biws,r=" RFC_CNONCE RFC_SNONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define RFC_SFINAL "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

static bool make_cred(sl_scram_mech_t m, const char *pw, sl_scram_cred_t *c) {
    uint8_t salt[64], salted[SL_SCRAM_MAX_HASH];
    long n = sl_b64_decode(RFC_SALT, strlen(RFC_SALT), salt, sizeof salt);
    return n == 16 &&
           sl_scram_salted_password(m, pw, strlen(pw), salt, (size_t)n, 4096, salted) == SL_OK &&
           sl_scram_cred_from_salted(m, salted, salt, (size_t)n, 4096, c) == SL_OK;
}

static bool lookup(void *opaque, const char *user, sl_scram_mech_t m, sl_scram_cred_t *out) {
    (void)m;
    if (strcmp(user, "user") != 0) {
        return false;
    }
    *out = *(const sl_scram_cred_t *)opaque;
    return true;
}

static sl_scram_rc_t step(sl_scram_server_t *s, const char *msg, sl_scram_cred_t *c, char *out) {
    size_t n;
    char why[128];
    return sl_scram_server_step(s, (const uint8_t *)msg, strlen(msg), lookup, c, out, 512, &n, why,
                                sizeof why);
}

TEST(rfc7677_exchange) {
    sl_scram_cred_t c;
    CHECK(make_cred(SL_SCRAM_SHA256, "pencil", &c));
    sl_scram_server_t s;
    sl_scram_server_init(&s, SL_SCRAM_SHA256);
    s.fixed_nonce = RFC_SNONCE;
    char out[512];
    CHECK(step(&s, RFC_FIRST, &c, out) == SL_SCRAM_CONTINUE);
    CHECK(!strcmp(out, RFC_SFIRST));
    CHECK(!strcmp(s.user, "user"));
    CHECK(step(&s, RFC_FINAL, &c, out) == SL_SCRAM_DONE);
    CHECK(!strcmp(out, RFC_SFINAL));
    /* Done: another message is out of turn. */
    CHECK(step(&s, RFC_FINAL, &c, out) == SL_SCRAM_BAD);
    sl_scram_server_fini(&s);
}

TEST(wrong_password_and_tampered_proof_fail) {
    sl_scram_cred_t c;
    CHECK(make_cred(SL_SCRAM_SHA256, "not-pencil", &c));
    sl_scram_server_t s;
    sl_scram_server_init(&s, SL_SCRAM_SHA256);
    s.fixed_nonce = RFC_SNONCE;
    char out[512];
    CHECK(step(&s, RFC_FIRST, &c, out) == SL_SCRAM_CONTINUE);
    CHECK(step(&s, RFC_FINAL, &c, out) == SL_SCRAM_FAIL);
    sl_scram_server_fini(&s);
    CHECK(make_cred(SL_SCRAM_SHA256, "pencil", &c));
    sl_scram_server_init(&s, SL_SCRAM_SHA256);
    s.fixed_nonce = RFC_SNONCE;
    CHECK(step(&s, RFC_FIRST, &c, out) == SL_SCRAM_CONTINUE);
    char bad[] = RFC_FINAL;
    bad[strlen(bad) - 3] ^= 1; /* one bit of the proof */
    sl_scram_rc_t rc = step(&s, bad, &c, out);
    CHECK(rc == SL_SCRAM_FAIL || rc == SL_SCRAM_BAD);
    sl_scram_server_fini(&s);
}

TEST(librdkafka_nonce_form_accepted_wrong_nonce_refused) {
    /* librdkafka 2.0 sends its nonce before the whole server nonce; Kafka accepts any nonce
     * ending with the server's. The proof then covers the message as sent. */
    sl_scram_cred_t c;
    CHECK(make_cred(SL_SCRAM_SHA256, "pencil", &c));
    sl_scram_server_t s;
    sl_scram_server_init(&s, SL_SCRAM_SHA256);
    s.fixed_nonce = RFC_SNONCE;
    char out[512];
    CHECK(step(&s, RFC_FIRST, &c, out) == SL_SCRAM_CONTINUE);
    CHECK(step(&s, "c=biws,r=" RFC_CNONCE "x,p=AAAA", &c, out) == SL_SCRAM_BAD);
    sl_scram_server_fini(&s);
    sl_scram_server_init(&s, SL_SCRAM_SHA256);
    s.fixed_nonce = RFC_SNONCE;
    CHECK(step(&s, RFC_FIRST, &c, out) == SL_SCRAM_CONTINUE);
    /* Right nonce suffix, but the proof was made for the RFC's message: fails, not malformed. */
    CHECK(step(&s,
               "c=biws,r=" RFC_CNONCE RFC_CNONCE RFC_SNONCE
               ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
               &c, out) == SL_SCRAM_FAIL);
    sl_scram_server_fini(&s);
}

TEST(unknown_user_and_malformed_messages) {
    sl_scram_cred_t c;
    CHECK(make_cred(SL_SCRAM_SHA512, "pencil", &c));
    static const char *const bad_first[] = {
        "",
        "n,,",
        "p=tls-unique,,n=user,r=abc",
        "n,,r=abc,n=user",
        "n,,n=us=er,r=abc",
        "n,,n=,r=abc",
        "n,,n=user,r=",
        "n,,n=user,r=a,b",
        "n,a=other,n=user,r=abc",
        "x,,n=user,r=abc",
    };
    char out[512];
    for (size_t i = 0; i < sizeof bad_first / sizeof *bad_first; i++) {
        sl_scram_server_t s;
        sl_scram_server_init(&s, SL_SCRAM_SHA512);
        sl_scram_rc_t rc = step(&s, bad_first[i], &c, out);
        if (rc != SL_SCRAM_BAD) {
            fprintf(stderr, "  case %zu: %s\n", i, bad_first[i]);
        }
        CHECK(rc == SL_SCRAM_BAD);
        sl_scram_server_fini(&s);
    }
    sl_scram_server_t s;
    sl_scram_server_init(&s, SL_SCRAM_SHA512);
    CHECK(step(&s, "n,,n=nobody,r=abc", &c, out) == SL_SCRAM_FAIL);
    sl_scram_server_fini(&s);
    sl_scram_server_init(&s, SL_SCRAM_SHA512);
    CHECK(step(&s, "n,,n=user,r=abc,tokenauth=true", &c, out) == SL_SCRAM_FAIL);
    sl_scram_server_fini(&s);
    /* "=2C" and "=3D" decode; the authzid may repeat the user. */
    sl_scram_server_init(&s, SL_SCRAM_SHA512);
    CHECK(step(&s, "n,a=user,n=user,r=abc", &c, out) == SL_SCRAM_CONTINUE);
    CHECK(step(&s, "c=biws,r=abc,p=AAAA", &c, out) == SL_SCRAM_BAD); /* gs2 header differs */
    sl_scram_server_fini(&s);
    static const char *const bad_final[] = {"", "r=x", "c=biws", "c=biws,r=abc", "c=bad,r=abc,p=A"};
    for (size_t i = 0; i < sizeof bad_final / sizeof *bad_final; i++) {
        sl_scram_server_init(&s, SL_SCRAM_SHA512);
        CHECK(step(&s, "n,,n=user,r=abc", &c, out) == SL_SCRAM_CONTINUE);
        CHECK(step(&s, bad_final[i], &c, out) == SL_SCRAM_BAD);
        sl_scram_server_fini(&s);
    }
}

TEST(plain_password_check_against_stored_credential) {
    sl_scram_cred_t c;
    CHECK(make_cred(SL_SCRAM_SHA512, "pencil", &c));
    CHECK(sl_scram_check_password(SL_SCRAM_SHA512, &c, "pencil", 6));
    CHECK(!sl_scram_check_password(SL_SCRAM_SHA512, &c, "pencil", 5));
    CHECK(!sl_scram_check_password(SL_SCRAM_SHA512, &c, "Pencil", 6));
}

TEST(base64_round_trip_and_bad_input) {
    uint8_t in[37], out[64];
    for (size_t i = 0; i < sizeof in; i++) {
        in[i] = (uint8_t)(i * 37 + 5);
    }
    for (size_t n = 0; n <= sizeof in; n++) {
        char text[80];
        size_t tl = sl_b64_encode(in, n, text, sizeof text);
        CHECK(tl == 4 * ((n + 2) / 3));
        CHECK(sl_b64_decode(text, tl, out, sizeof out) == (long)n);
        CHECK(!memcmp(in, out, n));
    }
    CHECK(sl_b64_decode("abc", 3, out, sizeof out) < 0);
    CHECK(sl_b64_decode("a*c=", 4, out, sizeof out) < 0);
    CHECK(sl_b64_decode("AAAAAAAA", 8, out, 3) < 0); /* more than the room */
}

TEST(credstore_put_get_delete) {
    sl_credstore_t *st = sl_credstore_new();
    sl_scram_cred_t c, got;
    CHECK(make_cred(SL_SCRAM_SHA256, "pw", &c));
    sl_credstore_put(st, "alice", SL_SCRAM_SHA256, &c);
    sl_credstore_put(st, "alice", SL_SCRAM_SHA512, &c);
    sl_credstore_put(st, "bob", SL_SCRAM_SHA512, &c);
    CHECK_EQ_INT(sl_credstore_users(st), 2);
    CHECK(sl_credstore_get(st, "alice", SL_SCRAM_SHA256, &got));
    CHECK(!memcmp(got.stored_key, c.stored_key, 32));
    CHECK(!sl_credstore_get(st, "bob", SL_SCRAM_SHA256, &got));
    CHECK(!sl_credstore_delete(st, "bob", SL_SCRAM_SHA256));
    CHECK(sl_credstore_delete(st, "alice", SL_SCRAM_SHA256));
    CHECK_EQ_INT(sl_credstore_users(st), 2);
    CHECK(sl_credstore_delete(st, "alice", SL_SCRAM_SHA512));
    CHECK_EQ_INT(sl_credstore_users(st), 1);
    CHECK(!strcmp(sl_credstore_user(st, 0), "bob"));
    int32_t it = 0;
    CHECK(sl_credstore_user_has(st, 0, SL_SCRAM_SHA512, &it) && it == 4096);
    sl_credstore_free(st);
}

TEST(listeners_syntax) {
    sl_blistener_t l[SL_MAX_LISTENERS];
    size_t n;
    char err[SL_ERRLEN];
    CHECK(sl_listeners_parse("127.0.0.1:9092", "", l, &n, err) == SL_OK);
    CHECK(n == 1 && l[0].proto == SL_SEC_PLAINTEXT && l[0].port == 9092 && !l[0].adv_given);
    CHECK(sl_listeners_parse("PLAINTEXT://:9092,SSL://127.0.0.1:9093,SASL_SSL://[::1]:0", "", l, &n,
                             err) != SL_OK ||
          n == 3);
    CHECK(sl_listeners_parse("PLAINTEXT://:9092,SSL://127.0.0.1:9093,SASL_PLAINTEXT://h:1,"
                             "SASL_SSL://h:2",
                             "SSL://ssl.example:19093,PLAINTEXT://plain.example:19092", l, &n,
                             err) == SL_OK);
    CHECK(n == 4 && l[1].proto == SL_SEC_SSL && !strcmp(l[1].host, "127.0.0.1"));
    CHECK(l[1].adv_given && !strcmp(l[1].adv_host, "ssl.example") && l[1].adv_port == 19093);
    CHECK(l[0].adv_given && l[0].adv_port == 19092 && !l[2].adv_given);
    CHECK(sl_secproto_sasl(l[3].proto) && sl_secproto_tls(l[3].proto));
    CHECK(sl_listeners_parse("PLAINTEXT://a:1,PLAINTEXT://b:2", "", l, &n, err) != SL_OK);
    CHECK(strstr(err, "twice"));
    CHECK(sl_listeners_parse("TLS://a:1", "", l, &n, err) != SL_OK);
    CHECK(sl_listeners_parse("", "", l, &n, err) != SL_OK);
    CHECK(sl_listeners_parse("a:1,,b:2", "", l, &n, err) != SL_OK);
    CHECK(sl_listeners_parse("SSL://a:1", "SASL_SSL://x:2", l, &n, err) != SL_OK);
    CHECK(sl_listeners_parse("SSL://a:x", "", l, &n, err) != SL_OK);
    /* A bare advertised address names the first listener (the old single-listener form). */
    CHECK(sl_listeners_parse("SSL://a:1", "x:5", l, &n, err) == SL_OK);
    CHECK(l[0].adv_given && l[0].adv_port == 5);
}

TEST(listeners_named_and_per_listener_keys) {
    sl_blistener_t l[SL_MAX_LISTENERS];
    size_t n;
    char err[SL_ERRLEN];
    CHECK(sl_listeners_parse_map("internal://a:1,EXTERNAL://b:2,SASL_SSL://c:3", "external://x:9",
                                 "INTERNAL:SSL,External:SASL_PLAINTEXT", l, &n, err) == SL_OK);
    CHECK(n == 3 && !strcmp(l[0].name, "INTERNAL") && l[0].proto == SL_SEC_SSL);
    CHECK(!strcmp(l[1].name, "EXTERNAL") && l[1].proto == SL_SEC_SASL_PLAINTEXT);
    CHECK(l[1].adv_given && l[1].adv_port == 9 && !l[0].adv_given);
    CHECK(l[2].proto == SL_SEC_SASL_SSL && !strcmp(l[2].name, "SASL_SSL"));
    /* Two listeners of one protocol under different names; a name twice is refused. */
    CHECK(sl_listeners_parse_map("A://a:1,B://b:2", "", "A:SSL,B:SSL", l, &n, err) == SL_OK);
    CHECK(sl_listeners_parse_map("A://a:1,a://b:2", "", "A:SSL", l, &n, err) != SL_OK);
    CHECK(sl_listeners_parse_map("C://a:1", "", "A:SSL", l, &n, err) != SL_OK);
    CHECK(strstr(err, "C is neither a protocol"));
    CHECK(sl_listeners_parse_map("A://a:1", "", "A:TLS", l, &n, err) != SL_OK);
    CHECK(sl_listeners_parse_map("A B://a:1", "", "", l, &n, err) != SL_OK);

    /* listener.name.<name>.<key>: the listener name in any case, the last value wins. */
    sl_broker_conf_t c;
    sl_conf_defaults(sl_broker_conf_defs, sl_broker_conf_n_defs, &c);
    CHECK(c.listener_props[0] == '\0');
    CHECK(sl_conf_set_kv(sl_broker_conf_defs, sl_broker_conf_n_defs, &c,
                         "listener.name.b.ssl.client.auth=required", err) == SL_OK);
    CHECK(sl_conf_set_kv(sl_broker_conf_defs, sl_broker_conf_n_defs, &c,
                         "listener.name.B.ssl.client.auth=requested", err) == SL_OK);
    char buf[SL_CONF_STR_MAX];
    CHECK(sl_listeners_parse_map("A://a:1,B://b:2", "", "A:SSL,B:SSL", l, &n, err) == SL_OK);
    CHECK(!strcmp(sl_listener_conf(c.listener_props, &l[1], "ssl.client.auth", "none", buf),
                  "requested"));
    CHECK(
        !strcmp(sl_listener_conf(c.listener_props, &l[0], "ssl.client.auth", "none", buf), "none"));
    CHECK(sl_listeners_check_props(c.listener_props, l, n, err) == SL_OK);
    CHECK(sl_conf_set_kv(sl_broker_conf_defs, sl_broker_conf_n_defs, &c,
                         "listener.name.b.ssl.Client.auth=x", err) == SL_OK);
    CHECK(sl_listeners_check_props(c.listener_props, l, n, err) != SL_OK);
    CHECK(strstr(err, "not a per-listener key"));
    CHECK(sl_conf_set_kv(sl_broker_conf_defs, sl_broker_conf_n_defs, &c, "listener.name.=x", err) !=
          SL_OK);
}

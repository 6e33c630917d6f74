/* test_interbroker.c -- inter-broker security (issue 11): the broker's keys
 * (inter.broker.listener.name, sasl.mechanism.inter.broker.protocol, the listener's
 * <mechanism>.sasl.jaas.config, ssl.endpoint.identification.algorithm) turn into the client
 * side a broker speaks to its peers, or a start-up error naming the key; the JAAS entry parses
 * as Kafka's does; the SCRAM client reproduces RFC 7677's exchange and completes one with
 * sluice's own server for both hashes, and catches a server that does not know the password; a
 * registration carries the inter-broker address next to the clients' and round-trips through
 * a snapshot. */
#include <stdlib.h>
#include <string.h>

#include "broker/config.h"
#include "broker/interbroker.h"
#include "broker/listeners.h"
#include "broker/metalog.h"
#include "broker/mstate.h"
#include "harness.h"
#include "security/peer.h"
#include "security/scram.h"
#include "security/scram_client.h"

/* ---- JAAS ---- */

TEST(jaas_parses_kafka_forms) {
    char u[64], p[64], err[SL_ERRLEN];
    CHECK(sl_jaas_parse("org.apache.kafka.common.security.plain.PlainLoginModule required "
                        "username=\"broker\" password=\"s3cr et\";",
                        u, sizeof u, p, sizeof p, err) == SL_OK);
    CHECK(!strcmp(u, "broker") && !strcmp(p, "s3cr et"));
    /* Bare values, other options ignored, escapes inside quotes, spaces and newlines. */
    CHECK(sl_jaas_parse("  org.apache.kafka.common.security.scram.ScramLoginModule Required\n"
                        " tokenauth=false username=admin password=\"a\\\"b\\\\c\" ;  ",
                        u, sizeof u, p, sizeof p, err) == SL_OK);
    CHECK(!strcmp(u, "admin") && !strcmp(p, "a\"b\\c"));
    /* An empty password is a password (PLAIN allows it). */
    CHECK(sl_jaas_parse("M required username=\"x\" password=\"\";", u, sizeof u, p, sizeof p,
                        err) == SL_OK);
    CHECK(!strcmp(u, "x") && !strcmp(p, ""));
}

TEST(jaas_refuses_malformed_entries) {
    static const char *const bad[] = {
        "",
        "M",
        "M required",                                            /* no ';' */
        "M always username=\"a\" password=\"b\";",               /* not a flag */
        "M required username=\"a\";",                            /* no password */
        "M required password=\"b\";",                            /* no username */
        "M required username=\"\" password=\"b\";",              /* empty user */
        "M required username=\"a password=\"b\";",               /* unclosed quote */
        "M required username \"a\" password=\"b\";",             /* no '=' */
        "M required username=\"a\" password=\"b\"",              /* no ';' */
        "M required username=\"a\" password=\"b\"; N required;", /* two modules */
    };
    char u[64], p[64], err[SL_ERRLEN];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        if (sl_jaas_parse(bad[i], u, sizeof u, p, sizeof p, err) == SL_OK) {
            fprintf(stderr, "  accepted: %s\n", bad[i]);
            CHECK(0);
        }
        CHECK(err[0] != '\0');
    }
    /* A password longer than the buffer is refused, not cut. */
    CHECK(sl_jaas_parse("M required username=\"a\" password=\"0123456789\";", u, sizeof u, p, 8,
                        err) != SL_OK);
}

/* ---- the broker's keys ---- */

typedef struct setup {
    sl_broker_conf_t c;
    sl_blistener_t l[SL_MAX_LISTENERS];
    size_t n;
} setup_t;

static bool conf(setup_t *s, const char *listeners, const char *const *kv) {
    char err[SL_ERRLEN];
    sl_conf_defaults(sl_broker_conf_defs, sl_broker_conf_n_defs, &s->c);
    for (; kv && *kv; kv++) {
        if (sl_conf_set_kv(sl_broker_conf_defs, sl_broker_conf_n_defs, &s->c, *kv, err) != SL_OK) {
            fprintf(stderr, "  %s: %s\n", *kv, err);
            return false;
        }
    }
    return sl_listeners_parse_map(listeners, "", s->c.listener_protocol_map, s->l, &s->n, err) ==
               SL_OK &&
           sl_listeners_check_props(s->c.listener_props, s->l, s->n, err) == SL_OK;
}

#define JAAS_SCRAM                                                                                 \
    "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"broker\" "        \
    "password=\"b-secret\";"

TEST(ib_default_is_the_first_listener_in_plaintext) {
    static setup_t s;
    CHECK(conf(&s, "PLAINTEXT://127.0.0.1:1,SASL_SSL://127.0.0.1:2", NULL));
    static sl_ib_conf_t ic;
    char err[SL_ERRLEN];
    CHECK(sl_ib_conf_build(&s.c, s.l, s.n, &ic, err) == SL_OK);
    CHECK_EQ_INT(ic.listener, 0);
    CHECK(!ic.sec.tls && !ic.sec.sasl);
}

TEST(ib_sasl_ssl_listener_by_name_with_scram) {
    static setup_t s;
    static const char *const kv[] = {
        "inter.broker.listener.name=internal",
        "listener.security.protocol.map=INTERNAL:SASL_SSL,EXTERNAL:SASL_SSL",
        "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512",
        "ssl.ca.location=/ca.pem",
        "ssl.certificate.location=/broker.pem",
        "ssl.key.location=/broker.key",
        "listener.name.internal.ssl.ca.location=/internal-ca.pem",
        "listener.name.internal.scram-sha-512.sasl.jaas.config=" JAAS_SCRAM,
        NULL};
    CHECK(conf(&s, "EXTERNAL://127.0.0.1:1,INTERNAL://127.0.0.1:2", kv));
    static sl_ib_conf_t ic;
    char err[SL_ERRLEN];
    CHECK(sl_ib_conf_build(&s.c, s.l, s.n, &ic, err) == SL_OK);
    CHECK_EQ_INT(ic.listener, 1);
    CHECK(ic.sec.tls && ic.sec.sasl && ic.sec.verify_host);
    CHECK(!strcmp(ic.sec.ca_file, "/internal-ca.pem")); /* the listener's own wins */
    CHECK(!strcmp(ic.sec.cert_file, "/broker.pem") && !strcmp(ic.sec.key_file, "/broker.key"));
    CHECK(!strcmp(ic.sec.mechanism, "SCRAM-SHA-512"));
    CHECK(!strcmp(ic.sec.username, "broker") && !strcmp(ic.sec.password, "b-secret"));
    /* Host checking off, as Kafka's empty ssl.endpoint.identification.algorithm. */
    CHECK(sl_conf_set_kv(sl_broker_conf_defs, sl_broker_conf_n_defs, &s.c,
                         "ssl.endpoint.identification.algorithm=", err) == SL_OK);
    CHECK(sl_ib_conf_build(&s.c, s.l, s.n, &ic, err) == SL_OK);
    CHECK(!ic.sec.verify_host);
    CHECK(sl_conf_set_kv(sl_broker_conf_defs, sl_broker_conf_n_defs, &s.c,
                         "listener.name.internal.ssl.endpoint.identification.algorithm=HTTPS",
                         err) == SL_OK);
    CHECK(sl_ib_conf_build(&s.c, s.l, s.n, &ic, err) == SL_OK);
    CHECK(ic.sec.verify_host);
}

/* Each broken configuration fails with an error naming what to fix. */
static bool refused(const char *listeners, const char *const *kv, const char *want) {
    static setup_t s;
    static sl_ib_conf_t ic;
    char err[SL_ERRLEN] = "";
    if (!conf(&s, listeners, kv)) {
        return false;
    }
    if (sl_ib_conf_build(&s.c, s.l, s.n, &ic, err) == SL_OK) {
        fprintf(stderr, "  accepted (wanted '%s')\n", want);
        return false;
    }
    if (!strstr(err, want)) {
        fprintf(stderr, "  error '%s' lacks '%s'\n", err, want);
        return false;
    }
    return true;
}

TEST(ib_configuration_errors_name_the_key) {
    static const char *const unknown[] = {"inter.broker.listener.name=INTERNAL", NULL};
    CHECK(refused("PLAINTEXT://h:1", unknown, "inter.broker.listener.name: no listener named"));
    static const char *const no_jaas[] = {"inter.broker.listener.name=SASL_SSL", NULL};
    CHECK(refused("PLAINTEXT://h:1,SASL_SSL://h:2", no_jaas,
                  "listener.name.sasl_ssl.plain.sasl.jaas.config"));
    static const char *const oauth[] = {"sasl.mechanism.inter.broker.protocol=OAUTHBEARER", NULL};
    CHECK(refused("SASL_PLAINTEXT://h:1", oauth, "sasl.mechanism.inter.broker.protocol"));
    static const char *const not_enabled[] = {
        "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-256",
        "listener.name.sasl_plaintext.sasl.enabled.mechanisms=PLAIN",
        "listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=" JAAS_SCRAM, NULL};
    CHECK(refused("SASL_PLAINTEXT://h:1", not_enabled, "not in the sasl.enabled.mechanisms"));
    static const char *const bad_jaas[] = {
        "listener.name.sasl_plaintext.plain.sasl.jaas.config=M required username=\"a\";", NULL};
    CHECK(refused("SASL_PLAINTEXT://h:1", bad_jaas,
                  "listener.name.sasl_plaintext.plain.sasl.jaas.config: needs username"));
    static const char *const bad_alg[] = {"ssl.endpoint.identification.algorithm=ldap", NULL};
    CHECK(refused("SSL://h:1", bad_alg, "ssl.endpoint.identification.algorithm"));
}

TEST(ib_jaas_key_is_a_per_listener_key) {
    static setup_t s;
    static const char *const kv[] = {"listener.name.sasl_ssl.gssapi.sasl.jaas.config=x", NULL};
    char err[SL_ERRLEN];
    sl_conf_defaults(sl_broker_conf_defs, sl_broker_conf_n_defs, &s.c);
    CHECK(sl_conf_set_kv(sl_broker_conf_defs, sl_broker_conf_n_defs, &s.c, kv[0], err) == SL_OK);
    CHECK(sl_listeners_parse("SASL_SSL://h:1", "", s.l, &s.n, err) == SL_OK);
    CHECK(sl_listeners_check_props(s.c.listener_props, s.l, s.n, err) != SL_OK);
    CHECK(strstr(err, "<mechanism>.sasl.jaas.config"));
}

TEST(peer_sec_refuses_what_a_broker_cannot_speak) {
    char err[SL_ERRLEN];
    sl_peer_sec_conf_t c = {.sasl = true, .mechanism = "GSSAPI", .username = "u", .password = "p"};
    CHECK(sl_peer_sec_new(&c, err) == NULL);
    CHECK(strstr(err, "GSSAPI"));
    c.mechanism = "PLAIN";
    c.username = "";
    CHECK(sl_peer_sec_new(&c, err) == NULL);
    c.username = "u";
    sl_peer_sec_t *s = sl_peer_sec_new(&c, err);
    CHECK(s != NULL);
    CHECK(!strcmp(sl_peer_sec_describe(s), "plaintext, SASL PLAIN as u"));
    sl_peer_sec_free(s);
    sl_peer_sec_conf_t t = {.tls = true, .ca_file = "/nonexistent/ca.pem"};
    CHECK(sl_peer_sec_new(&t, err) == NULL);
    CHECK(strstr(err, "ssl.ca.location"));
}

/* ---- the SCRAM client ---- */

/* RFC 7677 section 3: user "user", password "pencil". */
#define RFC_CNONCE "rOprNGfwEbeRWgbNEkqO"
#define RFC_SFIRST                                                                                 \
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
#define RFC_FINAL                                                                                  \
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMH" \
    "gsqmmiz7AndVQ="
#define RFC_SFINAL "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

TEST(scram_client_reproduces_rfc7677) {
    sl_scram_client_t c;
    char out[512], why[128];
    size_t n;
    CHECK(sl_scram_client_first(&c, SL_SCRAM_SHA256, "user", RFC_CNONCE, out, sizeof out, &n) ==
          SL_OK);
    CHECK(!strcmp(out, "n,,n=user,r=" RFC_CNONCE) && n == strlen(out));
    CHECK(sl_scram_client_final(&c, "pencil", (const uint8_t *)RFC_SFIRST, strlen(RFC_SFIRST), out,
                                sizeof out, &n, why, sizeof why) == SL_OK);
    CHECK(!strcmp(out, RFC_FINAL));
    CHECK(sl_scram_client_verify(&c, (const uint8_t *)RFC_SFINAL, strlen(RFC_SFINAL), why,
                                 sizeof why) == SL_OK);
    /* A server that does not know the password cannot forge server-final. */
    char forged[] = RFC_SFINAL;
    forged[5] ^= 1;
    CHECK(sl_scram_client_verify(&c, (const uint8_t *)forged, strlen(forged), why, sizeof why) !=
          SL_OK);
    CHECK(strstr(why, "signature"));
}

TEST(scram_client_refuses_bad_server_first) {
    static const char *const bad[] = {
        "r=someoneelse,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",          /* not our nonce */
        "r=" RFC_CNONCE ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",       /* not extended */
        "r=" RFC_CNONCE "x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=100",       /* too few iterations */
        "r=" RFC_CNONCE "x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=999999999", /* too many */
        "r=" RFC_CNONCE "x,s=!!!,i=4096",                           /* bad salt */
        "r=" RFC_CNONCE "x,i=4096",                                 /* no salt */
        "e=invalid-proof",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sl_scram_client_t c;
        char out[512], why[128] = "";
        size_t n;
        CHECK(sl_scram_client_first(&c, SL_SCRAM_SHA256, "user", RFC_CNONCE, out, sizeof out, &n) ==
              SL_OK);
        if (sl_scram_client_final(&c, "pencil", (const uint8_t *)bad[i], strlen(bad[i]), out,
                                  sizeof out, &n, why, sizeof why) == SL_OK) {
            fprintf(stderr, "  accepted: %s\n", bad[i]);
            CHECK(0);
        }
        CHECK(why[0] != '\0');
    }
}

static bool lookup(void *opaque, const char *user, sl_scram_mech_t m, sl_scram_cred_t *out) {
    (void)m;
    if (strcmp(user, "bro,ker=1") != 0) {
        return false;
    }
    *out = *(const sl_scram_cred_t *)opaque;
    return true;
}

/* One whole exchange of our client with our server; true when both sides accept. */
static bool exchange(sl_scram_mech_t m, const char *stored_pw, const char *client_pw) {
    uint8_t salt[16] = "0123456789abcdef", salted[SL_SCRAM_MAX_HASH];
    sl_scram_cred_t cred;
    if (sl_scram_salted_password(m, stored_pw, strlen(stored_pw), salt, sizeof salt, 4096,
                                 salted) != SL_OK ||
        sl_scram_cred_from_salted(m, salted, salt, sizeof salt, 4096, &cred) != SL_OK) {
        return false;
    }
    sl_scram_client_t c;
    sl_scram_server_t s;
    sl_scram_server_init(&s, m);
    char a[512], b[512], why[128];
    size_t an, bn;
    bool ok = sl_scram_client_first(&c, m, "bro,ker=1", NULL, a, sizeof a, &an) == SL_OK &&
              sl_scram_server_step(&s, (const uint8_t *)a, an, lookup, &cred, b, sizeof b, &bn, why,
                                   sizeof why) == SL_SCRAM_CONTINUE &&
              sl_scram_client_final(&c, client_pw, (const uint8_t *)b, bn, a, sizeof a, &an, why,
                                    sizeof why) == SL_OK &&
              sl_scram_server_step(&s, (const uint8_t *)a, an, lookup, &cred, b, sizeof b, &bn, why,
                                   sizeof why) == SL_SCRAM_DONE &&
              sl_scram_client_verify(&c, (const uint8_t *)b, bn, why, sizeof why) == SL_OK;
    sl_scram_server_fini(&s);
    return ok;
}

TEST(scram_client_against_our_server) {
    CHECK(exchange(SL_SCRAM_SHA256, "b-secret", "b-secret"));
    CHECK(exchange(SL_SCRAM_SHA512, "b-secret", "b-secret"));
    CHECK(!exchange(SL_SCRAM_SHA256, "b-secret", "wrong"));
    CHECK(!exchange(SL_SCRAM_SHA512, "b-secret", "wrong"));
}

/* ---- registration addresses ---- */

TEST(registration_carries_the_inter_broker_address) {
    sl_mbroker_t b = {0};
    char addr[600];
    CHECK(sl_mbroker_parse_addr(&b, "10.0.0.1:9092"));
    CHECK(!strcmp(b.host, "10.0.0.1") && b.port == 9092);
    CHECK(!strcmp(b.ib_host, "10.0.0.1") && b.ib_port == 9092); /* the same unless told apart */
    sl_mbroker_addr(&b, addr, sizeof addr);
    CHECK(!strcmp(addr, "10.0.0.1:9092")); /* plaintext clusters register exactly as before */
    CHECK(sl_mbroker_parse_addr(&b, "public.example:9092,10.0.0.1:9093"));
    CHECK(!strcmp(b.host, "public.example") && b.port == 9092);
    CHECK(!strcmp(b.ib_host, "10.0.0.1") && b.ib_port == 9093);
    sl_mbroker_addr(&b, addr, sizeof addr);
    CHECK(!strcmp(addr, "public.example:9092,10.0.0.1:9093"));
    CHECK(!sl_mbroker_parse_addr(&b, "h:1,nope"));
    CHECK(!sl_mbroker_parse_addr(&b, "nope"));
    CHECK(b.port == 9092 && b.ib_port == 9093); /* unchanged */

    /* Through the state machine and a snapshot: the second address survives. */
    sl_mstate_t *ms = sl_mstate_new(), *ms2 = sl_mstate_new();
    sl_buf_t cmd = {0}, snap = {0};
    sl_meta_rec_t rec = {.type = SL_META_BROKER_REG, .name = "c:1,i:2", .value = 7};
    sl_meta_encode(&rec, &cmd);
    CHECK(sl_mstate_apply(ms, cmd.data, cmd.len) == SL_OK);
    sl_mstate_snapshot(ms, &snap);
    CHECK(sl_mstate_restore(ms2, snap.data, snap.len) == SL_OK);
    sl_mbroker_t got;
    CHECK(sl_mstate_broker(ms2, 7, &got));
    CHECK(!strcmp(got.host, "c") && got.port == 1 && !strcmp(got.ib_host, "i") && got.ib_port == 2);
    sl_buf_fini(&cmd);
    sl_buf_fini(&snap);
    sl_mstate_free(ms);
    sl_mstate_free(ms2);
}

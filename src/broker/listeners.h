/* listeners.h -- the broker's Kafka listeners (`listeners`, `advertised.listeners`,
 * `listener.security.protocol.map`, `listener.name.<name>.*`): each has a name (its protocol's
 * unless mapped), a security protocol, its own TLS and SASL settings, and the address Metadata
 * and FindCoordinator give its clients. */
#ifndef SL_BROKER_LISTENERS_H
#define SL_BROKER_LISTENERS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/conf.h"
#include "common/err.h"

struct sl_listener;

typedef enum sl_secproto {
    SL_SEC_PLAINTEXT,
    SL_SEC_SSL,
    SL_SEC_SASL_PLAINTEXT,
    SL_SEC_SASL_SSL,
    SL_SEC_N
} sl_secproto_t;

#define SL_MAX_LISTENERS     8
#define SL_LISTENER_NAME_MAX 32

typedef struct sl_blistener {
    char name[SL_LISTENER_NAME_MAX]; /* upper case: "SASL_SSL", "INTERNAL" */
    sl_secproto_t proto;
    char host[SL_CONF_STR_MAX]; /* to bind ("" all addresses) */
    int port;                   /* to bind (0: any), then the bound one */
    char adv_host[SL_CONF_STR_MAX];
    int adv_port; /* 0 until known: the bound port */
    bool adv_given;
    struct sl_listener *lst;
    struct ssl_ctx_st *tls; /* SSL and SASL_SSL */
    unsigned sasl_mechs;    /* SASL listeners: enabled mechanisms (bits of sl_sasl_mech_t) */
} sl_blistener_t;

/* Kafka's name of a protocol ("SASL_SSL"). */
const char *sl_secproto_name(sl_secproto_t p);
/* Whether the protocol runs over TLS, and whether it asks for SASL. */
bool sl_secproto_tls(sl_secproto_t p);
bool sl_secproto_sasl(sl_secproto_t p);

/* Parses `listeners` (NAME://HOST:PORT,...; a bare HOST:PORT is PLAINTEXT) and
 * `advertised.listeners` (same form, matched to listeners by name; a bare HOST:PORT advertises
 * the first listener) into out[0..*n). A NAME is a protocol (PLAINTEXT, SSL, SASL_PLAINTEXT,
 * SASL_SSL) or is mapped to one by `protocol_map` ("NAME:PROTOCOL,...", Kafka's
 * listener.security.protocol.map); names compare case-insensitively and each is used once.
 * SL_ERR_INVAL with the reason in `err`. */
SL_MUST_USE sl_err_t sl_listeners_parse_map(const char *listeners, const char *advertised,
                                            const char *protocol_map, sl_blistener_t *out,
                                            size_t *n, char *err);
/* sl_listeners_parse_map without a protocol map: names are protocols. */
SL_MUST_USE sl_err_t sl_listeners_parse(const char *listeners, const char *advertised,
                                        sl_blistener_t *out, size_t *n, char *err);

/* Checks the per-listener keys in `props` (the listener.name. map: "<name>.<key>=value" lines):
 * each must name a listener in l[0..n) and a key that can be set per listener (ssl.*, the
 * sasl.enabled.mechanisms). SL_ERR_INVAL naming the key otherwise. */
SL_MUST_USE sl_err_t sl_listeners_check_props(const char *props, const sl_blistener_t *l, size_t n,
                                              char *err);
/* The value of `key` for listener `l`: listener.name.<name>.<key> if set, else `global`. The
 * result points into buf (SL_CONF_STR_MAX bytes) or is `global`. */
const char *sl_listener_conf(const char *props, const sl_blistener_t *l, const char *key,
                             const char *global, char *buf);

#endif

/* listeners.h -- the broker's Kafka listeners (`listeners`, `advertised.listeners`): one per
 * security protocol, each with the address Metadata and FindCoordinator give its clients. */
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

#define SL_MAX_LISTENERS SL_SEC_N

typedef struct sl_blistener {
    sl_secproto_t proto;
    char host[SL_CONF_STR_MAX]; /* to bind ("" all addresses) */
    int port;                   /* to bind (0: any), then the bound one */
    char adv_host[SL_CONF_STR_MAX];
    int adv_port; /* 0 until known: the bound port */
    bool adv_given;
    struct sl_listener *lst;
    struct ssl_ctx_st *tls; /* SSL and SASL_SSL */
} sl_blistener_t;

/* Kafka's name of a protocol ("SASL_SSL"). */
const char *sl_secproto_name(sl_secproto_t p);
/* Whether the protocol runs over TLS, and whether it asks for SASL. */
bool sl_secproto_tls(sl_secproto_t p);
bool sl_secproto_sasl(sl_secproto_t p);

/* Parses `listeners` (PROTO://HOST:PORT,...; a bare HOST:PORT is PLAINTEXT) and
 * `advertised.listeners` (same form, matched to listeners by protocol; a bare HOST:PORT
 * advertises the first listener) into out[0..*n). Each protocol at most once. SL_ERR_INVAL with
 * the reason in `err`. */
SL_MUST_USE sl_err_t sl_listeners_parse(const char *listeners, const char *advertised,
                                        sl_blistener_t *out, size_t *n, char *err);

#endif

/* interbroker.h -- which listener the brokers of a cluster use to talk to each other and how
 * they secure it, from Kafka's keys: `inter.broker.listener.name` (default: the first listener),
 * that listener's TLS settings as a client (ssl.ca.location to verify the peer, the listener's
 * own certificate for mTLS, ssl.endpoint.identification.algorithm), and for a SASL listener
 * `sasl.mechanism.inter.broker.protocol` with the broker's own credentials in
 * `listener.name.<name>.<mechanism>.sasl.jaas.config`, as in Kafka:
 *   listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=
 *       org.apache.kafka.common.security.scram.ScramLoginModule required
 *       username="broker" password="broker-secret";
 * Pure parsing, no files opened: sl_peer_sec_new (security/peer.h) loads them. */
#ifndef SL_INTERBROKER_H
#define SL_INTERBROKER_H

#include <stddef.h>

#include "broker/config.h"
#include "broker/listeners.h"
#include "common/conf.h"
#include "common/err.h"
#include "security/peer.h"

typedef struct sl_ib_conf {
    int listener;           /* index of the inter-broker listener in the broker's listeners */
    sl_peer_sec_conf_t sec; /* points into the buffers below: do not copy the struct */
    char ca[SL_CONF_STR_MAX], cert[SL_CONF_STR_MAX], key[SL_CONF_STR_MAX],
        key_password[SL_CONF_STR_MAX], mechanism[32], user[SL_CONF_STR_MAX],
        password[SL_CONF_STR_MAX];
} sl_ib_conf_t;

/* Fills `out` from the broker's configuration and its parsed listeners l[0..n). SL_ERR_INVAL
 * with the reason (naming the key) in err when inter.broker.listener.name names no listener,
 * the mechanism is not one a broker can use as a client or is not enabled on that listener, the
 * JAAS entry is missing or malformed, or ssl.endpoint.identification.algorithm is neither
 * "https" nor empty. */
SL_MUST_USE sl_err_t sl_ib_conf_build(const sl_broker_conf_t *conf, const sl_blistener_t *l,
                                      size_t n, sl_ib_conf_t *out, char *err);

/* Parses one JAAS login module entry, `Module Flag key="value" ... ;` (Kafka's sasl.jaas.config:
 * values quoted with '"' and '\' escapes, or bare tokens), for its username and password
 * options (user_cap / pass_cap bytes). SL_ERR_INVAL with the reason in err (SL_ERRLEN) for a
 * malformed entry, more than one module, or a missing username or password. */
SL_MUST_USE sl_err_t sl_jaas_parse(const char *jaas, char *user, size_t user_cap, char *pass,
                                   size_t pass_cap, char *err);

#endif

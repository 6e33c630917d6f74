/* gateway.h -- `sluice gateway`: an HTTP front door to any Kafka-protocol cluster, through
 * librdkafka only (never broker/ internals). REST Proxy v3 produce, v2-style consumer instances,
 * API keys and JWT, token-bucket rate limits, a circuit breaker, Prometheus /metrics.
 * docs/gateway.md is the user's guide. */
#ifndef SL_GATEWAY_H
#define SL_GATEWAY_H

#include "common/err.h"

typedef struct sl_gw sl_gw_t;

typedef struct sl_gw_opts {
    const char *host;        /* listen address (IPv4 dotted or "localhost"); NULL = 0.0.0.0 */
    int port;                /* 0 = any free port (see sl_gw_port) */
    const char *brokers;     /* bootstrap.servers */
    const char *config_path; /* the policy file (policy.h), or NULL */
    const char **props;      /* librdkafka "key=value" overrides for every client */
    int n_props;
} sl_gw_opts_t;

/* Loads the configuration, creates the producer and starts serving on MHD's threads (one per
 * connection: a produce blocks its thread until the acknowledgement). NULL with the reason in
 * `err` (SL_ERRLEN bytes) on failure. */
sl_gw_t *sl_gw_start(const sl_gw_opts_t *o, char *err);
int sl_gw_port(const sl_gw_t *gw);
/* Re-reads the configuration file. On an error the running policy stays and `err` says why. */
SL_MUST_USE sl_err_t sl_gw_reload(sl_gw_t *gw, char *err);
/* Stops serving, deletes every consumer instance, flushes and frees. */
void sl_gw_stop(sl_gw_t *gw);

#endif

/* iplimit.h -- connections per client address (max.connections.per.ip and its overrides).
 *
 * A table of open-connection counts keyed by the peer's numeric address: the listener asks
 * whether one more connection from an address is allowed and takes a count for it, the
 * connection gives the count back when it closes. Thread: the shard loop. */
#ifndef SL_IPLIMIT_H
#define SL_IPLIMIT_H

#include <stddef.h>

#include "common/err.h"

typedef struct sl_ipcount sl_ipcount_t;

/* One override of max.connections.per.ip: numeric address and its own limit. */
typedef struct sl_ip_override {
    char ip[64];
    size_t max;
} sl_ip_override_t;

/* Parses Kafka's max.connections.per.ip.overrides ("ADDR:N,ADDR:N", the last colon separates, so
 * IPv6 addresses work; empty = none) into `out` (at most `cap` entries). Returns SL_OK, or
 * SL_ERR_INVAL with the reason in `err` (SL_ERRLEN bytes). */
SL_MUST_USE sl_err_t sl_ip_parse_overrides(const char *s, sl_ip_override_t *out, size_t cap,
                                           size_t *n_out, char *err);
/* Open connections from `ip` now (0 if none). */
size_t sl_ip_count(const char *ip);
/* Counts one more connection from `ip`; the result goes to sl_ip_release when it closes. */
sl_ipcount_t *sl_ip_acquire(const char *ip);
/* Gives back one count taken by sl_ip_acquire; NULL is a no-op. */
void sl_ip_release(sl_ipcount_t *ent);

#endif

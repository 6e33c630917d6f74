/* quota.h -- client quotas, Kafka's model: configured values per entity, sliding-window rates per
 * quota entity, and the throttle time that brings a client back under its quota (KIP-13, KIP-124,
 * KIP-219, KIP-612).
 *
 * Entities: a user (the connection's principal; ANONYMOUS until SASL lands), a client-id, or a
 * user and client-id together; any name may be the entity type's default (a NULL name). Per-IP
 * entities (type `ip`) carry only connection_creation_rate. A client's quota is the first entity
 * that sets the key, in Kafka's order:
 *   user+client-id, user+default client-id, user, default user+client-id,
 *   default user+default client-id, default user, client-id, default client-id,
 * then the broker's quota.producer.default / quota.consumer.default (as a default client-id).
 * Clients share a rate when they resolve to the same entity: a default entity gives every user (or
 * client-id) its own rate, as in Kafka.
 * Thread: the shard loop (no locks). */
#ifndef SL_QUOTA_H
#define SL_QUOTA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

#define SL_QUOTA_MAX_SAMPLES 64          /* largest quota.window.num */
#define SL_QUOTA_PRINCIPAL   "ANONYMOUS" /* every connection's user until SASL */

typedef enum sl_quota_key {
    SL_QK_PRODUCER_BYTE_RATE,       /* bytes/s of Produce requests */
    SL_QK_CONSUMER_BYTE_RATE,       /* bytes/s of Fetch responses */
    SL_QK_REQUEST_PERCENTAGE,       /* % of one loop thread's time spent on the client */
    SL_QK_CONNECTION_CREATION_RATE, /* new connections/s from one address (ip entities only) */
    SL_QK_N
} sl_quota_key_t;

typedef enum sl_quota_etype { SL_QE_USER, SL_QE_CLIENT, SL_QE_IP, SL_QE_N } sl_quota_etype_t;

/* An entity: which types it names, and each name (NULL: that type's default). */
typedef struct sl_quota_entity {
    bool has[SL_QE_N];
    const char *name[SL_QE_N];
} sl_quota_entity_t;

/* Kafka's SampledStat Rate: `n` samples of `window_ns` each; the rate is the sum of the samples
 * over the time they cover, at least n-1 windows (so a new client is not judged on one burst). */
typedef struct sl_rate {
    int n, cur;
    uint64_t window_ns;
    uint64_t start_ns[SL_QUOTA_MAX_SAMPLES];
    double val[SL_QUOTA_MAX_SAMPLES];
} sl_rate_t;

void sl_rate_init(sl_rate_t *r, int samples, uint64_t window_ns);
void sl_rate_record(sl_rate_t *r, double v, uint64_t now_ns);
/* Units per second over the window ending at `now_ns`. */
double sl_rate_measure(sl_rate_t *r, uint64_t now_ns);
/* The time the rate is measured over, ns (Kafka's Rate.windowSize). */
uint64_t sl_rate_window_ns(sl_rate_t *r, uint64_t now_ns);
/* Kafka's QuotaUtils.throttleTime: how long a client measured at `rate` over `window_ns` must
 * pause so that its rate falls back to `bound`; 0 when not over, at most `max_ms`. */
uint32_t sl_quota_throttle_ms(double rate, double bound, uint64_t window_ns, uint32_t max_ms);

const char *sl_quota_key_name(sl_quota_key_t k);
/* The key named `name`, or -1. */
int sl_quota_key_find(sl_str_t name);
const char *sl_quota_etype_name(sl_quota_etype_t t);
int sl_quota_etype_find(sl_str_t name);

typedef struct sl_quotas sl_quotas_t;

/* `samples` x `window_ms` is the measuring window (quota.window.num, quota.window.size.seconds);
 * the defaults are bytes/s for clients with no configured quota (<= 0: none). */
sl_quotas_t *sl_quotas_new(int samples, uint64_t window_ms, double producer_default,
                           double consumer_default);
void sl_quotas_free(sl_quotas_t *q);

/* Checks an entity (known types, no type twice, ip alone) and, if `key` is not NULL, one
 * operation on it (known key, allowed for the entity, and unless `remove`, a value Kafka accepts:
 * positive, whole for the rates). Returns 0, KERR_INVALID_REQUEST for a bad entity or key, or
 * KERR_INVALID_CONFIG for a bad value, with a message in `err` (SL_ERRLEN bytes). */
int sl_quota_check_entity(const sl_quota_entity_t *e, char *err);
int sl_quota_check_op(const sl_quota_entity_t *e, sl_str_t key, double value, bool remove,
                      char *err);

/* The values configured on exactly `e`: bit k of the result is set when key k is, with its value
 * in vals[k]. */
unsigned sl_quotas_get(const sl_quotas_t *q, const sl_quota_entity_t *e, double vals[SL_QK_N]);
/* Replaces the values of exactly `e` (mask 0 removes the entity). */
void sl_quotas_put(sl_quotas_t *q, const sl_quota_entity_t *e, unsigned mask,
                   const double vals[SL_QK_N]);
/* Calls fn for every configured entity, in unspecified order. */
void sl_quotas_each(const sl_quotas_t *q,
                    void (*fn)(const sl_quota_entity_t *e, unsigned mask, const double *vals,
                               void *opaque),
                    void *opaque);

/* Records `amount` (bytes, or ns of loop time for SL_QK_REQUEST_PERCENTAGE) for the client
 * (user, client_id) against its quota for `key`, and returns the throttle time in ms the client
 * has earned (0: within its quota, or no quota applies). */
uint32_t sl_quota_record(sl_quotas_t *q, const char *user, sl_str_t client_id, sl_quota_key_t key,
                         double amount, uint64_t now_ns);
/* Where a response of API `api_key` at `version` carries throttle_time_ms: its offset from the
 * start of the body, SL_THROTTLE_LAST when it is the body's last field (Produce, before the
 * tagged fields of flexible versions), or -1 when the version has none (or ApiVersions, whose
 * throttle follows a variable-length array). From Kafka's message schemas. */
#define SL_THROTTLE_LAST (-2)
int sl_throttle_field_at(int16_t api_key, int16_t version);
/* Counts one new connection from `ip` and says whether it stays under the address's
 * connection_creation_rate (false: close it). Always true when no ip quota applies. */
bool sl_quota_conn_admit(sl_quotas_t *q, const char *ip, uint64_t now_ns);
/* Frees rates not used for `idle_ms` (call now and then). */
void sl_quotas_expire(sl_quotas_t *q, uint64_t now_ns, uint64_t idle_ms);
/* Rates currently tracked (tests, metrics). */
size_t sl_quotas_n_sensors(const sl_quotas_t *q);

#endif

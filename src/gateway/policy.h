/* policy.h -- the gateway's configuration file: settings, API keys, JWT verification, per-key
 * permissions and rate limits. A policy is built whole from the file and never changed after;
 * SIGHUP builds a new one and swaps it in (sl_gw_policy_get/put keep the old one alive until the
 * last request using it ends). Only the token buckets change in place, under `mu`.
 *
 * File format: Java-style properties (key=value, # comments). Fixed keys are in the table in
 * policy.c (docs/gateway.md lists them); per-key and per-principal entries are:
 *   key.<api-key>=<principal>
 *   principal.<name>.topics=orders,metrics-*   ("*" = every topic; "p*" = prefix p)
 *   principal.<name>.operations=produce,consume
 *   principal.<name>.rate=<requests/s>   principal.<name>.burst=<requests>
 * Thread: any; a policy is shared read-only between request threads. */
#ifndef SL_GW_POLICY_H
#define SL_GW_POLICY_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/conf.h"
#include "common/err.h"
#include "gateway/rate.h"

#define SL_GW_OP_PRODUCE 1u
#define SL_GW_OP_CONSUME 2u

typedef enum sl_gw_route { SL_GW_ROUTE_PRODUCE, SL_GW_ROUTE_CONSUME, SL_GW_N_ROUTES } sl_gw_route_t;

/* Settings from the fixed keys. Those marked (start) are read once at start-up; a reload keeps
 * the running values. */
typedef struct sl_gw_settings {
    int64_t max_request_bytes;  /* request bodies above this get 413 */
    int64_t produce_timeout_ms; /* (start) librdkafka message.timeout.ms */
    int64_t breaker_threshold;  /* (start) */
    int64_t breaker_window_ms;  /* (start) */
    int64_t breaker_slow_ms;    /* (start) */
    int64_t breaker_open_ms;    /* (start) */
    int64_t consumer_idle_ms;   /* (start) consumer.instance.timeout.ms */
    int64_t route_rate[SL_GW_N_ROUTES], route_burst[SL_GW_N_ROUTES];
    int64_t default_rate, default_burst; /* per key when its principal sets none; 0 = unlimited */
    char jwt_secret[SL_CONF_STR_MAX];    /* HS256 secret; empty = HS256 tokens refused */
    char jwt_key_file[SL_CONF_STR_MAX];  /* RS256 public key (PEM); empty = RS256 refused */
    char jwt_audience[SL_CONF_STR_MAX];  /* required "aud"; empty = not checked */
    char jwt_claim[SL_CONF_STR_MAX];     /* claim naming the principal, "sub" by default */
    char ssl_cert[SL_CONF_STR_MAX];      /* (start) listener certificate; empty = no TLS */
    char ssl_key[SL_CONF_STR_MAX];       /* (start) its private key */
    char ssl_key_password[SL_CONF_STR_MAX]; /* (start) */
    char ssl_ca[SL_CONF_STR_MAX];           /* (start) CAs for client certificates */
    char ssl_client_auth[SL_CONF_STR_MAX];  /* (start) none, requested, required */
    char authorization[SL_CONF_STR_MAX];    /* "policy" (this file) or "acl" (the brokers' ACLs) */
    int64_t acl_cache_ms;                   /* how long DescribeAcls answers are used */
} sl_gw_settings_t;

typedef struct sl_gw_principal {
    char *name;
    char **topics; /* patterns */
    int n_topics;
    unsigned ops;        /* SL_GW_OP_* */
    int64_t rate, burst; /* -1 = the defaults */
    sl_gw_bucket_t bucket;
    uint64_t admitted, limited;   /* metrics, under the policy's mu */
    struct sl_gw_principal *next; /* authorization=acl: principals named only by a token or CN */
} sl_gw_principal_t;

typedef struct sl_gw_key {
    char *key;
    int principal; /* index into principals */
} sl_gw_key_t;

typedef struct sl_gw_policy {
    sl_gw_settings_t s;
    sl_gw_principal_t *principals;
    int n_principals;
    sl_gw_key_t *keys;
    int n_keys;
    char *rsa_pem;          /* contents of jwt_key_file */
    bool auth_required;     /* any key or JWT setting present */
    bool acl;               /* authorization=acl: permissions from the brokers' ACLs */
    sl_gw_principal_t *dyn; /* authorization=acl: principals made on first use, under mu */
    int n_dyn;
    sl_gw_principal_t anonymous; /* used when !auth_required: every topic and operation */
    sl_gw_bucket_t route_bucket[SL_GW_N_ROUTES];
    pthread_mutex_t mu; /* buckets and the counters */
    int refs;           /* under the registry's lock (see gateway.c) */
} sl_gw_policy_t;

/* Settings' defaults, and the table of fixed keys (for docs/--help). */
void sl_gw_settings_defaults(sl_gw_settings_t *s);
extern const sl_conf_def_t sl_gw_conf_defs[];
extern const size_t sl_gw_conf_ndefs;

/* Builds a policy from `path` (NULL: defaults only, no authentication). NULL with the reason in
 * `err` (SL_ERRLEN bytes, naming file and line) on any unknown key, bad value or unreadable key
 * file. */
sl_gw_policy_t *sl_gw_policy_load(const char *path, char *err);
void sl_gw_policy_free(sl_gw_policy_t *p);

/* At most this many principals are made on first use (authorization=acl: a valid token or
 * client certificate names a principal the file does not list); past it such requests get 403. */
#define SL_GW_MAX_DYN_PRINCIPALS 10000

/* Who is asking. `api_key` is the X-API-Key header, `authz` the Authorization header (either may
 * be NULL). Returns the principal, or NULL with an HTTP status (401 for no or bad credentials,
 * 403 for a valid identity the policy does not know; with authorization=acl every valid identity
 * is a principal, whose ACLs decide) and a reason in `why` (SL_ERRLEN bytes). */
sl_gw_principal_t *sl_gw_authenticate(sl_gw_policy_t *p, const char *api_key, const char *authz,
                                      int64_t now_s, int *status, char *why);
/* The principal of a verified client certificate whose subject CN is `cn` (mutual TLS, used when
 * the request carries no API key or token): the principal of that name, or NULL with 403 when
 * the policy has none. With no credentials configured at all, anonymous. */
sl_gw_principal_t *sl_gw_authenticate_cert(sl_gw_policy_t *p, const char *cn, int *status,
                                           char *why);
/* authorization=policy: may `pr` do `op` on `topic`? (gateway.c's sl_gw_may covers both modes.) */
bool sl_gw_authorize(const sl_gw_principal_t *pr, unsigned op, const char *topic);
/* Takes a token from the principal's bucket and the route's. 0 when admitted, else the ms to
 * wait before retrying (for Retry-After). */
uint64_t sl_gw_rate_take(sl_gw_policy_t *p, sl_gw_principal_t *pr, sl_gw_route_t route,
                         uint64_t now_ms);

#endif

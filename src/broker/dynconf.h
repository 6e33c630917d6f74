/* dynconf.h -- dynamic broker configs: AlterConfigs and IncrementalAlterConfigs on a BROKER
 * resource, kept in the metadata log (SL_META_BROKER_CONFIGS) and applied over the static
 * configuration (properties file and --set flags).
 *
 * Two scopes, as Kafka has: the cluster-wide default (resource name "") and this broker (its
 * node id); this broker's value wins. A dynamic key is either one sluice applies (the log.*
 * defaults of topics, message.max.bytes, compression.type, log.message.timestamp.type,
 * log.cleanup.policy: every
 * topic without its own override follows at once) or a Kafka dynamic broker key sluice has no
 * use for (SASL, SSL, thread counts, replication throttles, ...): accepted, kept, reported, with
 * no effect. Any other key is refused. Thread: the broker's. */
#ifndef SL_DYNCONF_H
#define SL_DYNCONF_H

#include <stdbool.h>
#include <stddef.h>

#include "broker/config.h"

struct sl_broker;
struct sl_meta_rec;

enum { SL_DYN_DEFAULT = 0, SL_DYN_BROKER = 1 };

typedef struct sl_dynconf {
    sl_broker_conf_t static_conf; /* the configuration before any dynamic value */
    sl_kv_t *kv[2];               /* overrides per scope (owned) */
    size_t n[2];
} sl_dynconf_t;

/* Whether `key` may be set dynamically; *applied_out says whether sluice acts on it. */
bool sl_dynconf_key_ok(const char *key, bool *applied_out);
/* The scope a BROKER resource name designates: SL_DYN_DEFAULT for "", SL_DYN_BROKER for this
 * broker's id, -1 for anything else. */
int sl_dynconf_scope(const struct sl_broker *b, const char *name, size_t len);
/* The override of `key` in `scope`, or NULL. */
const char *sl_dynconf_get(const struct sl_broker *b, int scope, const char *key);
/* Replaces the overrides of `scope` with `kv` (n pairs): checks every key and value (a bad one
 * gives KERR_INVALID_CONFIG and a message in err, SL_ERRLEN bytes), then, unless validate_only,
 * writes them to the metadata log and applies them. Returns a Kafka error code. */
int sl_dynconf_set(struct sl_broker *b, int scope, const sl_kv_t *kv, size_t n, bool validate_only,
                   char *err);
/* Metadata-log replay of a SL_META_BROKER_CONFIGS record. */
void sl_dynconf_replay(struct sl_broker *b, const struct sl_meta_rec *rec);
void sl_dynconf_free(struct sl_broker *b);

#endif

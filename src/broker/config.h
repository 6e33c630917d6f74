/* config.h -- the broker's configuration (Kafka property names) and per-topic configuration. */
#ifndef SL_BROKER_CONFIG_H
#define SL_BROKER_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "common/conf.h"
#include "storage/plog.h"

typedef struct sl_broker_conf {
    char data_dir[SL_CONF_STR_MAX];
    char listen[SL_CONF_STR_MAX];
    char admin_listen[SL_CONF_STR_MAX];
    char advertised_listeners[SL_CONF_STR_MAX];
    char log_level[SL_CONF_STR_MAX];
    int64_t node_id;
    int64_t num_partitions;
    bool auto_create_topics;
    int64_t default_replication_factor;
    int64_t replica_lag_time_max_ms;
    int64_t segment_bytes;
    int64_t roll_ms;
    int64_t retention_ms;
    int64_t retention_bytes;
    int64_t retention_check_ms;
    int64_t index_interval_bytes;
    int64_t flush_messages;
    int64_t flush_ms;
    int64_t message_max_bytes;
    int64_t message_max_decompressed_bytes; /* cap on a compressed batch's records, decoded */
    int64_t socket_request_max_bytes;
    int64_t queued_max_request_bytes;
    int64_t sync_threads; /* log.sync.threads: partition fdatasync workers */
    int64_t connection_out_high_bytes;
    int64_t max_inflight_requests;
    int64_t max_connections; /* 0: the open-file limit minus a reserve */
    int64_t max_partitions;  /* 0: derived from the open-file limit */
    int64_t max_connections_per_ip;
    char max_connections_per_ip_overrides[SL_CONF_STR_MAX];
    int64_t connections_max_idle_ms;            /* 0: never */
    int64_t connections_max_partial_request_ms; /* 0: never */
    char timestamp_type[SL_CONF_STR_MAX];
    char cleanup_policy[SL_CONF_STR_MAX];
    bool cleaner_enable;                               /* log.cleaner.enable */
    int64_t cleaner_threads;                           /* log.cleaner.threads */
    int64_t cleaner_backoff_ms;                        /* log.cleaner.backoff.ms */
    char cleaner_min_cleanable_ratio[SL_CONF_STR_MAX]; /* log.cleaner.min.cleanable.ratio */
    int64_t cleaner_delete_retention_ms;
    int64_t cleaner_min_compaction_lag_ms;
    int64_t cleaner_max_compaction_lag_ms;
    char compression_type[SL_CONF_STR_MAX];
    int64_t group_min_session_timeout_ms;
    int64_t group_max_session_timeout_ms;
    int64_t group_initial_rebalance_delay_ms;
    int64_t group_consumer_session_timeout_ms; /* KIP-848 consumer groups */
    int64_t group_consumer_heartbeat_interval_ms;
    int64_t group_consumer_max_size;
    char group_consumer_assignors[SL_CONF_STR_MAX];
    int64_t offsets_retention_ms;
    int64_t offsets_topic_replication_factor; /* cluster: RF of __consumer_offsets */
    int64_t offsets_topic_num_partitions;     /* cluster: its partitions */
    int64_t txn_topic_replication_factor;     /* cluster: RF of __transaction_state */
    int64_t txn_topic_num_partitions;         /* cluster: its partitions */
    int64_t transaction_max_timeout_ms;
    int64_t transactional_id_expiration_ms;
    int64_t transaction_abort_interval_ms;
    int64_t quota_producer_default; /* bytes/s per client-id, INT64_MAX: none */
    int64_t quota_consumer_default;
    int64_t quota_window_num;
    int64_t quota_window_size_s;
    char controller_quorum_voters[SL_CONF_STR_MAX]; /* "": single node (cluster.c) */
    int64_t controller_election_timeout_ms;
    int64_t broker_heartbeat_interval_ms;
    int64_t broker_session_timeout_ms;
    int64_t metadata_snapshot_entries;
    bool controlled_shutdown_enable;                /* SIGTERM moves leadership first (cluster.c) */
    int64_t controlled_shutdown_timeout_ms;         /* bound on that move */
    char listener_protocol_map[SL_CONF_STR_MAX];    /* listener.security.protocol.map */
    char listener_props[SL_CONF_MAP_MAX];           /* listener.name.<name>.<key>=value lines */
    char ssl_key_location[SL_CONF_STR_MAX];         /* PEM private key of SSL listeners */
    char ssl_key_password[SL_CONF_STR_MAX];         /* its passphrase, if encrypted */
    char ssl_certificate_location[SL_CONF_STR_MAX]; /* PEM certificate chain */
    char ssl_ca_location[SL_CONF_STR_MAX];          /* CAs that sign client certificates */
    char ssl_client_auth[SL_CONF_STR_MAX];          /* none, requested, required */
    char sasl_enabled_mechanisms[SL_CONF_STR_MAX];  /* PLAIN,SCRAM-SHA-256,SCRAM-SHA-512 */
    int64_t reauth_ms;            /* connections.max.reauth.ms, 0: sessions never expire */
    int64_t auth_failed_delay_ms; /* connection.failed.authentication.delay.ms */
    char oauth_public_key[SL_CONF_STR_MAX];      /* sasl.oauthbearer.public.key.location (PEM) */
    char oauth_secret[SL_CONF_STR_MAX];          /* sasl.oauthbearer.secret (HS256) */
    int64_t oauth_clock_skew_s;                  /* sasl.oauthbearer.clock.skew.seconds */
    char oauth_audience[SL_CONF_STR_MAX];        /* sasl.oauthbearer.expected.audience */
    char oauth_issuer[SL_CONF_STR_MAX];          /* sasl.oauthbearer.expected.issuer */
    char oauth_sub_claim[SL_CONF_STR_MAX];       /* sasl.oauthbearer.sub.claim.name */
    char authorizer_class_name[SL_CONF_STR_MAX]; /* non-empty: ACLs are enforced (acl.h) */
    char super_users[SL_CONF_STR_MAX];           /* User:a;User:b */
    char inter_broker_listener_name[SL_CONF_STR_MAX];            /* "": the first listener */
    char sasl_mechanism_inter_broker_protocol[SL_CONF_STR_MAX];  /* PLAIN, SCRAM-SHA-256/512 */
    char ssl_endpoint_identification_algorithm[SL_CONF_STR_MAX]; /* "https" or "" */
    bool allow_everyone_if_no_acl; /* allow.everyone.if.no.acl.found */
} sl_broker_conf_t;

extern const sl_conf_def_t sl_broker_conf_defs[];
extern const size_t sl_broker_conf_n_defs;

/* Per-topic settings: broker defaults overridden by the topic's own configs. */
typedef struct sl_topic_conf {
    int64_t retention_ms;
    int64_t retention_bytes;
    int64_t segment_bytes;
    int64_t segment_ms;
    int64_t max_message_bytes;
    int64_t flush_messages;
    int64_t flush_ms;
    int64_t index_interval_bytes;
    int64_t min_insync_replicas;
    char cleanup_policy[SL_CONF_STR_MAX];
    char min_cleanable_dirty_ratio[SL_CONF_STR_MAX]; /* a number in [0, 1] */
    int64_t delete_retention_ms;
    int64_t min_compaction_lag_ms;
    int64_t max_compaction_lag_ms;
    char timestamp_type[SL_CONF_STR_MAX];
    char compression_type[SL_CONF_STR_MAX];
} sl_topic_conf_t;

extern const sl_conf_def_t sl_topic_conf_defs[];
extern const size_t sl_topic_conf_n_defs;

/* A topic config override (name=value, owned strings). */
typedef struct sl_kv {
    char *key;
    char *value;
} sl_kv_t;

/* A deep copy of n overrides (n + 1 entries, the last zeroed); sl_kv_list_free frees one. */
sl_kv_t *sl_kv_list_dup(const sl_kv_t *kv, size_t n);
void sl_kv_list_free(sl_kv_t *kv, size_t n);

/* Fills `tc` from the broker defaults, then applies `n` overrides. Returns SL_OK, or SL_ERR_INVAL /
 * SL_ERR_NOTFOUND for a bad override, described in `err`. */
SL_MUST_USE sl_err_t sl_topic_conf_build(const sl_broker_conf_t *bc, const sl_kv_t *kv, size_t n,
                                         sl_topic_conf_t *tc, char *err);
/* The storage settings a topic's partitions use. */
void sl_topic_conf_to_plog(const sl_topic_conf_t *tc, sl_plog_conf_t *pc);

#endif

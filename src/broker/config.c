/* config.c -- configuration tables: the broker's keys and the per-topic keys, Kafka's names. */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

#define B(f) offsetof(sl_broker_conf_t, f)
#define T(f) offsetof(sl_topic_conf_t, f)
#define LMAX INT64_MAX
#define HOUR 3600000

/* Kafka's "never" for flush intervals is Long.MAX_VALUE; we keep it as INT64_MAX. */
const sl_conf_def_t sl_broker_conf_defs[] = {
    {"data.dir", SL_CONF_STR, "./data", 0, 0, B(data_dir), 0, "Directory holding all logs"},
    {"listeners", SL_CONF_STR, "127.0.0.1:9092", 0, 0, B(listen), 0,
     "Kafka protocol listeners, comma-separated NAME://HOST:PORT with NAME a protocol "
     "(PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL) or a name listener.security.protocol.map maps to "
     "one (a bare HOST:PORT is PLAINTEXT); each name once"},
    {"listener.security.protocol.map", SL_CONF_STR, "", 0, 0, B(listener_protocol_map), 0,
     "NAME:PROTOCOL,... for listeners with names of their own (listeners=INTERNAL://...); a "
     "listener named after a protocol needs no entry"},
    {"listener.name.", SL_CONF_PREFIX, NULL, 0, 0, B(listener_props), 0,
     "listener.name.<name>.ssl.* and .sasl.enabled.mechanisms: per-listener values of those "
     "keys, overriding the global ones for that listener; .<mechanism>.sasl.jaas.config: the "
     "broker's own credentials on the inter-broker listener"},
    {"admin.listen", SL_CONF_STR, "127.0.0.1:9644", 0, 0, B(admin_listen), 0,
     "Admin HTTP listener HOST:PORT (health, readiness, metrics)"},
    {"advertised.listeners", SL_CONF_STR, "", 0, 0, B(advertised_listeners), 0,
     "NAME://HOST:PORT,... clients are told to use, per listener (default: the bound "
     "address of each)"},
    {"ssl.key.location", SL_CONF_STR, "", 0, 0, B(ssl_key_location), 0,
     "PEM private key of the SSL and SASL_SSL listeners"},
    {"ssl.key.password", SL_CONF_STR, "", 0, 0, B(ssl_key_password), 0,
     "Passphrase of ssl.key.location, if it is encrypted"},
    {"ssl.certificate.location", SL_CONF_STR, "", 0, 0, B(ssl_certificate_location), 0,
     "PEM certificate (chain) of the SSL and SASL_SSL listeners"},
    {"ssl.ca.location", SL_CONF_STR, "", 0, 0, B(ssl_ca_location), 0,
     "PEM file of the CAs that sign client certificates"},
    {"ssl.client.auth", SL_CONF_STR, "none", 0, 0, B(ssl_client_auth), 0,
     "Client certificates: none, requested (verified if sent) or required; a verified "
     "certificate's subject is the principal on an SSL listener (User:CN=...)"},
    {"sasl.enabled.mechanisms", SL_CONF_STR, "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512", 0, 0,
     B(sasl_enabled_mechanisms), 0,
     "SASL mechanisms offered on SASL listeners (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, "
     "OAUTHBEARER)"},
    {"sasl.oauthbearer.public.key.location", SL_CONF_STR, "", 0, 0, B(oauth_public_key), 0,
     "OAUTHBEARER: PEM public key (RSA or EC) that signs the JWTs (RS256/384/512, ES256/384/512); "
     "a file standing in for Kafka's sasl.oauthbearer.jwks.endpoint.url"},
    {"sasl.oauthbearer.secret", SL_CONF_STR, "", 0, 0, B(oauth_secret), 0,
     "OAUTHBEARER: shared secret of HS256-signed JWTs (sluice; Kafka has no such key)"},
    {"sasl.oauthbearer.clock.skew.seconds", SL_CONF_INT, "30", 0, 3600, B(oauth_clock_skew_s), 0,
     "OAUTHBEARER: clock difference tolerated when checking exp, nbf and iat"},
    {"sasl.oauthbearer.expected.audience", SL_CONF_STR, "", 0, 0, B(oauth_audience), 0,
     "OAUTHBEARER: comma-separated audiences, one of which the token's aud must name (empty: "
     "not checked)"},
    {"sasl.oauthbearer.expected.issuer", SL_CONF_STR, "", 0, 0, B(oauth_issuer), 0,
     "OAUTHBEARER: the token's iss must equal this (empty: not checked)"},
    {"sasl.oauthbearer.sub.claim.name", SL_CONF_STR, "sub", 0, 0, B(oauth_sub_claim), 0,
     "OAUTHBEARER: the claim that names the principal"},
    {"connections.max.reauth.ms", SL_CONF_INT, "0", 0, INT32_MAX, B(reauth_ms), 0,
     "SASL sessions expire after this (KIP-368): the client must re-authenticate, else its next "
     "request closes the connection; 0 = never"},
    {"connection.failed.authentication.delay.ms", SL_CONF_INT, "100", 0, 60000,
     B(auth_failed_delay_ms), 0,
     "Delay before a failed authentication is answered and its connection closed"},
    {"authorizer.class.name", SL_CONF_STR, "", 0, 0, B(authorizer_class_name), 0,
     "Any non-empty value (e.g. org.apache.kafka.metadata.authorizer.StandardAuthorizer) turns "
     "ACL authorization on; empty: every request is allowed"},
    {"super.users", SL_CONF_STR, "", 0, 0, B(super_users), 0,
     "Principals allowed everything whatever the ACLs say, e.g. User:admin;User:ops"},
    {"inter.broker.listener.name", SL_CONF_STR, "", 0, 0, B(inter_broker_listener_name), 0,
     "Cluster: the listener brokers register for each other and use for replica fetches and "
     "calls to the quorum leader, with its TLS and SASL (empty: the first listener)"},
    {"sasl.mechanism.inter.broker.protocol", SL_CONF_STR, "PLAIN", 0, 0,
     B(sasl_mechanism_inter_broker_protocol), 0,
     "Cluster: the SASL mechanism a broker authenticates with on a SASL inter-broker listener "
     "(PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), with the credentials of "
     "listener.name.<name>.<mechanism>.sasl.jaas.config"},
    {"ssl.endpoint.identification.algorithm", SL_CONF_STR, "https", 0, 0,
     B(ssl_endpoint_identification_algorithm), 0,
     "Cluster, TLS inter-broker listener: https checks that a peer broker's certificate names the "
     "host or address it is dialled at; empty: the CA check only"},
    {"allow.everyone.if.no.acl.found", SL_CONF_BOOL, "false", 0, 0, B(allow_everyone_if_no_acl), 0,
     "With authorization on, allow a request on a resource that no ACL names"},
    {"log.level", SL_CONF_STR, "info", 0, 0, B(log_level), 0, "error, warn, info or debug"},
    {"node.id", SL_CONF_INT, "0", 0, INT32_MAX, B(node_id), 0, "This broker's id"},
    {"broker.id", SL_CONF_INT, NULL, 0, INT32_MAX, B(node_id), 0, "Alias of node.id"},
    {"num.partitions", SL_CONF_INT, "1", 1, 100000, B(num_partitions), 0,
     "Partitions of auto-created topics and of CreateTopics with -1"},
    {"auto.create.topics.enable", SL_CONF_BOOL, "true", 0, 0, B(auto_create_topics), 0,
     "Create unknown topics on Metadata requests that allow it"},
    {"default.replication.factor", SL_CONF_INT, "-1", -1, 16, B(default_replication_factor), 0,
     "Replication factor of topics created without one; -1: 1 on a single node, 3 in a "
     "cluster (refused with fewer live brokers, as Kafka does)"},
    {"replica.lag.time.max.ms", SL_CONF_INT, "30000", 1, LMAX, B(replica_lag_time_max_ms), 0,
     "Cluster: a follower not caught up with its leader for this long leaves the ISR"},
    {"log.segment.bytes", SL_CONF_INT, "1073741824", 14, INT32_MAX, B(segment_bytes), 0,
     "Size at which a new segment starts"},
    {"log.roll.ms", SL_CONF_INT, "604800000", 1, LMAX, B(roll_ms), 0,
     "Age at which a new segment starts"},
    {"log.roll.hours", SL_CONF_INT, NULL, 1, INT32_MAX, B(roll_ms), HOUR, "log.roll.ms in hours"},
    {"log.retention.ms", SL_CONF_INT, "604800000", -1, LMAX, B(retention_ms), 0,
     "Delete segments older than this (-1: never)"},
    {"log.retention.minutes", SL_CONF_INT, NULL, -1, INT32_MAX, B(retention_ms), 60000,
     "log.retention.ms in minutes"},
    {"log.retention.hours", SL_CONF_INT, NULL, -1, INT32_MAX, B(retention_ms), HOUR,
     "log.retention.ms in hours"},
    {"log.retention.bytes", SL_CONF_INT, "-1", -1, LMAX, B(retention_bytes), 0,
     "Delete old segments beyond this size per partition (-1: no limit)"},
    {"log.retention.check.interval.ms", SL_CONF_INT, "300000", 1, LMAX, B(retention_check_ms), 0,
     "How often retention and time-based rolls run"},
    {"log.index.interval.bytes", SL_CONF_INT, "4096", 0, INT32_MAX, B(index_interval_bytes), 0,
     "Bytes between offset index entries"},
    {"log.flush.interval.messages", SL_CONF_INT, "9223372036854775807", 1, LMAX, B(flush_messages),
     0, "fdatasync after this many records even for acks=0/1"},
    {"log.flush.interval.ms", SL_CONF_INT, "9223372036854775807", 0, LMAX, B(flush_ms), 0,
     "fdatasync data older than this even for acks=0/1"},
    {"log.sync.threads", SL_CONF_INT, "4", 1, 16, B(sync_threads), 0,
     "Threads running partition fdatasyncs in parallel (sluice; more for deep-queue disks)"},
    {"message.max.bytes", SL_CONF_INT, "1048588", 0, INT32_MAX, B(message_max_bytes), 0,
     "Largest record batch accepted"},
    {"message.max.decompressed.bytes", SL_CONF_INT, "67108864", 1024, INT32_MAX,
     B(message_max_decompressed_bytes), 0,
     "Largest a compressed batch may decompress to (sluice; at least the topic's "
     "max.message.bytes); larger is refused with MESSAGE_TOO_LARGE"},
    {"socket.request.max.bytes", SL_CONF_INT, "104857600", 64, INT32_MAX,
     B(socket_request_max_bytes), 0, "Largest request frame; larger ones close the connection"},
    {"queued.max.request.bytes", SL_CONF_INT, "536870912", -1, LMAX, B(queued_max_request_bytes), 0,
     "Request bytes plus response memory buffered across connections before producers are "
     "throttled and connections holding responses stop being read"},
    {"connection.output.high.bytes", SL_CONF_INT, "16777216", 4096, LMAX,
     B(connection_out_high_bytes), 0,
     "Stop reading a connection with this much queued output (payload, and heap bytes it holds)"},
    {"connection.max.inflight.requests", SL_CONF_INT, "1000", 1, 1000000, B(max_inflight_requests),
     0, "Stop reading a connection with this many requests pending"},
    {"max.connections", SL_CONF_INT, "0", 0, INT32_MAX, B(max_connections), 0,
     "Stop accepting at this many Kafka connections (0: the open-file limit minus 256 and the "
     "segment pool's descriptors); at the cap, a connection idle or on a half-sent request for 1 s "
     "is closed to admit a new one"},
    {"max.partitions", SL_CONF_INT, "0", 0, 100000, B(max_partitions), 0,
     "Partitions this broker holds, all topics; CreateTopics/CreatePartitions over it get "
     "POLICY_VIOLATION (0: the open-file limit, at least 1000)"},
    {"max.connections.per.ip", SL_CONF_INT, "2147483647", 0, INT32_MAX, B(max_connections_per_ip),
     0, "Connections allowed from one address; more are closed at accept"},
    {"max.connections.per.ip.overrides", SL_CONF_STR, "", 0, 0, B(max_connections_per_ip_overrides),
     0, "Per-address exceptions to max.connections.per.ip: ADDR:N,ADDR:N (numeric addresses)"},
    {"connections.max.idle.ms", SL_CONF_INT, "600000", 0, LMAX, B(connections_max_idle_ms), 0,
     "Close connections with no bytes read or written for this long (0: never)"},
    {"connections.max.partial.request.ms", SL_CONF_INT, "30000", 0, LMAX,
     B(connections_max_partial_request_ms), 0,
     "Close a connection that started a request and did not finish sending it within this long "
     "(sluice; 0: never)"},
    {"log.message.timestamp.type", SL_CONF_STR, "CreateTime", 0, 0, B(timestamp_type), 0,
     "CreateTime or LogAppendTime"},
    {"log.cleanup.policy", SL_CONF_STR, "delete", 0, 0, B(cleanup_policy), 0,
     "Default cleanup.policy of topics: delete, compact or compact,delete"},
    {"log.cleaner.enable", SL_CONF_BOOL, "true", 0, 0, B(cleaner_enable), 0,
     "Run the log cleaner, which compacts topics with cleanup.policy=compact"},
    {"log.cleaner.threads", SL_CONF_INT, "1", 1, 16, B(cleaner_threads), 0,
     "Threads compacting logs (never the event loop)"},
    {"log.cleaner.backoff.ms", SL_CONF_INT, "15000", 1, LMAX, B(cleaner_backoff_ms), 0,
     "How often compacted partitions are checked for a clean (rounded up to 1 s)"},
    {"log.cleaner.min.cleanable.ratio", SL_CONF_STR, "0.5", 0, 0, B(cleaner_min_cleanable_ratio), 0,
     "Default min.cleanable.dirty.ratio of topics"},
    {"log.cleaner.delete.retention.ms", SL_CONF_INT, "86400000", 0, LMAX,
     B(cleaner_delete_retention_ms), 0, "Default delete.retention.ms of topics"},
    {"log.cleaner.min.compaction.lag.ms", SL_CONF_INT, "0", 0, LMAX,
     B(cleaner_min_compaction_lag_ms), 0, "Default min.compaction.lag.ms of topics"},
    {"log.cleaner.max.compaction.lag.ms", SL_CONF_INT, "9223372036854775807", 1, LMAX,
     B(cleaner_max_compaction_lag_ms), 0, "Default max.compaction.lag.ms of topics"},
    {"compression.type", SL_CONF_STR, "producer", 0, 0, B(compression_type), 0,
     "Stored as sent by the producer"},
    {"log.dirs", SL_CONF_STR, NULL, 0, 0, B(data_dir), 0, "Alias of data.dir (one directory)"},
    {"zookeeper.connect", SL_CONF_IGNORED, "", 0, 0, 0, 0, "Ignored"},
    {"num.network.threads", SL_CONF_IGNORED, "", 0, 0, 0, 0, "Ignored"},
    {"num.io.threads", SL_CONF_IGNORED, "", 0, 0, 0, 0, "Ignored"},
    {"offsets.topic.replication.factor", SL_CONF_INT, "3", 1, 16,
     B(offsets_topic_replication_factor), 0,
     "Cluster: replicas of __consumer_offsets, capped at the number of voters; it is created "
     "once that many brokers are live"},
    {"offsets.topic.num.partitions", SL_CONF_INT, "8", 1, 1000, B(offsets_topic_num_partitions), 0,
     "Cluster: partitions of __consumer_offsets (Kafka's 50; sluice's default is smaller)"},
    {"transaction.state.log.replication.factor", SL_CONF_INT, "3", 1, 16,
     B(txn_topic_replication_factor), 0,
     "Cluster: replicas of __transaction_state, capped at the number of voters; it is created "
     "once that many brokers are live"},
    {"transaction.state.log.num.partitions", SL_CONF_INT, "8", 1, 1000, B(txn_topic_num_partitions),
     0, "Cluster: partitions of __transaction_state (Kafka's 50; sluice's default is smaller)"},
    {"group.min.session.timeout.ms", SL_CONF_INT, "6000", 1, INT32_MAX,
     B(group_min_session_timeout_ms), 0, "Smallest session.timeout.ms a consumer may ask for"},
    {"group.max.session.timeout.ms", SL_CONF_INT, "1800000", 1, INT32_MAX,
     B(group_max_session_timeout_ms), 0, "Largest session.timeout.ms a consumer may ask for"},
    {"group.initial.rebalance.delay.ms", SL_CONF_INT, "3000", 0, INT32_MAX,
     B(group_initial_rebalance_delay_ms), 0,
     "How long a new group waits for more members before its first rebalance (Kafka's 3000; "
     "`make run` and the tests use 0)"},
    {"group.consumer.session.timeout.ms", SL_CONF_INT, "45000", 1, INT32_MAX,
     B(group_consumer_session_timeout_ms), 0,
     "Consumer-protocol (KIP-848) members are removed after this long without a heartbeat"},
    {"group.consumer.heartbeat.interval.ms", SL_CONF_INT, "5000", 1, INT32_MAX,
     B(group_consumer_heartbeat_interval_ms), 0,
     "Heartbeat interval handed to consumer-protocol (KIP-848) members"},
    {"group.consumer.max.size", SL_CONF_INT, "2147483647", 1, INT32_MAX, B(group_consumer_max_size),
     0, "Most members of one consumer-protocol group"},
    {"group.consumer.assignors", SL_CONF_STR, "uniform,range", 0, 0, B(group_consumer_assignors), 0,
     "Server-side assignors of consumer-protocol groups (uniform, range); the first is the "
     "default"},
    {"offsets.retention.minutes", SL_CONF_INT, "10080", 1, INT32_MAX, B(offsets_retention_ms),
     60000, "Offsets of groups without members expire this long after their last commit"},
    {"transaction.max.timeout.ms", SL_CONF_INT, "900000", 1, INT32_MAX,
     B(transaction_max_timeout_ms), 0, "Largest transaction.timeout.ms a producer may ask for"},
    {"transactional.id.expiration.ms", SL_CONF_INT, "604800000", 1, INT32_MAX,
     B(transactional_id_expiration_ms), 0,
     "A transactional id with no transaction for this long is forgotten"},
    {"transaction.abort.timed.out.transaction.cleanup.interval.ms", SL_CONF_INT, "10000", 1,
     INT32_MAX, B(transaction_abort_interval_ms), 0,
     "How often transactions past their timeout are looked for and aborted (rounded up to 1 s)"},
    {"quota.producer.default", SL_CONF_INT, "9223372036854775807", 1, LMAX,
     B(quota_producer_default), 0,
     "Produce bytes/s allowed per client-id with no quota of its own (deprecated in Kafka, kept "
     "for simplicity; AlterClientQuotas entities take precedence)"},
    {"quota.consumer.default", SL_CONF_INT, "9223372036854775807", 1, LMAX,
     B(quota_consumer_default), 0,
     "Fetch bytes/s allowed per client-id with no quota of its own (as quota.producer.default)"},
    {"quota.window.num", SL_CONF_INT, "11", 2, 64, B(quota_window_num), 0,
     "Samples a client's quota rate is measured over"},
    {"quota.window.size.seconds", SL_CONF_INT, "1", 1, 3600, B(quota_window_size_s), 0,
     "Length of one quota sample"},
    {"controller.quorum.voters", SL_CONF_STR, "", 0, 0, B(controller_quorum_voters), 0,
     "Cluster mode: the Raft metadata quorum, ID@HOST:PORT,... (every listed node is a voter; "
     "node.id must be one of them). Empty: a single broker"},
    {"controller.quorum.election.timeout.ms", SL_CONF_INT, "500", 50, 60000,
     B(controller_election_timeout_ms), 0,
     "Cluster mode: a follower that hears no leader for this long (randomised up to twice it) "
     "starts an election"},
    {"broker.heartbeat.interval.ms", SL_CONF_INT, "200", 10, 60000, B(broker_heartbeat_interval_ms),
     0, "Cluster mode: how often a broker renews its lease with the controller"},
    {"broker.session.timeout.ms", SL_CONF_INT, "1500", 100, 600000, B(broker_session_timeout_ms), 0,
     "Cluster mode: a broker not heard from for this long is fenced (offline in metadata)"},
    {"controlled.shutdown.enable", SL_CONF_BOOL, "true", 0, 0, B(controlled_shutdown_enable), 0,
     "Cluster mode: on SIGTERM, move leadership of this broker's partitions to other in-sync "
     "replicas through the quorum before exiting"},
    {"controlled.shutdown.timeout.ms", SL_CONF_INT, "5000", 0, 600000,
     B(controlled_shutdown_timeout_ms), 0,
     "Cluster mode: how long a controlled shutdown waits for the quorum to commit the move "
     "(sluice; Kafka counts retries)"},
    {"metadata.snapshot.entries", SL_CONF_INT, "1024", 4, 10000000, B(metadata_snapshot_entries), 0,
     "Cluster mode: the quorum snapshots its metadata and compacts its log every this many "
     "entries (sluice; Kafka counts bytes)"},
};
const size_t sl_broker_conf_n_defs = sizeof sl_broker_conf_defs / sizeof sl_broker_conf_defs[0];

/* Defaults here are placeholders: sl_topic_conf_build starts from the broker's values. */
const sl_conf_def_t sl_topic_conf_defs[] = {
    {"retention.ms", SL_CONF_INT, "-1", -1, LMAX, T(retention_ms), 0, "log.retention.ms"},
    {"retention.bytes", SL_CONF_INT, "-1", -1, LMAX, T(retention_bytes), 0, "log.retention.bytes"},
    {"segment.bytes", SL_CONF_INT, "1073741824", 14, INT32_MAX, T(segment_bytes), 0,
     "log.segment.bytes"},
    {"segment.ms", SL_CONF_INT, "604800000", 1, LMAX, T(segment_ms), 0, "log.roll.ms"},
    {"max.message.bytes", SL_CONF_INT, "1048588", 0, INT32_MAX, T(max_message_bytes), 0,
     "message.max.bytes"},
    {"flush.messages", SL_CONF_INT, "9223372036854775807", 1, LMAX, T(flush_messages), 0,
     "log.flush.interval.messages"},
    {"flush.ms", SL_CONF_INT, "9223372036854775807", 0, LMAX, T(flush_ms), 0,
     "log.flush.interval.ms"},
    {"index.interval.bytes", SL_CONF_INT, "4096", 0, INT32_MAX, T(index_interval_bytes), 0,
     "log.index.interval.bytes"},
    {"min.insync.replicas", SL_CONF_INT, "1", 1, 16, T(min_insync_replicas), 0,
     "acks=all needs this many in-sync replicas (cluster: min(2, replicas) unless set on the "
     "topic; single node: 1)"},
    {"cleanup.policy", SL_CONF_STR, "delete", 0, 0, T(cleanup_policy), 0,
     "log.cleanup.policy: delete, compact or compact,delete"},
    {"min.cleanable.dirty.ratio", SL_CONF_STR, "0.5", 0, 0, T(min_cleanable_dirty_ratio), 0,
     "log.cleaner.min.cleanable.ratio: compact when this share of the closed segments' bytes "
     "was never cleaned (0..1)"},
    {"delete.retention.ms", SL_CONF_INT, "86400000", 0, LMAX, T(delete_retention_ms), 0,
     "log.cleaner.delete.retention.ms: how long a tombstone stays after its segment was "
     "first compacted"},
    {"min.compaction.lag.ms", SL_CONF_INT, "0", 0, LMAX, T(min_compaction_lag_ms), 0,
     "log.cleaner.min.compaction.lag.ms: segments holding newer records are not compacted"},
    {"max.compaction.lag.ms", SL_CONF_INT, "9223372036854775807", 1, LMAX, T(max_compaction_lag_ms),
     0, "log.cleaner.max.compaction.lag.ms: a segment waits at most this long for a clean"},
    {"message.timestamp.type", SL_CONF_STR, "CreateTime", 0, 0, T(timestamp_type), 0,
     "CreateTime or LogAppendTime"},
    {"compression.type", SL_CONF_STR, "producer", 0, 0, T(compression_type), 0,
     "producer (stored as sent)"},
    /* Kafka topic configs sluice accepts, keeps and reports (DescribeConfigs: the override or
     * Kafka's default) without acting on them; the help text says why. The compaction keys
     * (delete.retention.ms, min.cleanable.dirty.ratio, min/max.compaction.lag.ms) come with
     * compaction. */
    {"compression.gzip.level", SL_CONF_IGNORED, "-1", 0, 0, 0, 0,
     "no effect: batches are stored as the producer compressed them"},
    {"compression.lz4.level", SL_CONF_IGNORED, "9", 0, 0, 0, 0,
     "no effect: batches are stored as the producer compressed them"},
    {"compression.zstd.level", SL_CONF_IGNORED, "3", 0, 0, 0, 0,
     "no effect: batches are stored as the producer compressed them"},
    {"file.delete.delay.ms", SL_CONF_IGNORED, "60000", 0, 0, 0, 0,
     "no effect: segments are unlinked at once (open readers keep their descriptor)"},
    {"follower.replication.throttled.replicas", SL_CONF_IGNORED, "", 0, 0, 0, 0,
     "no effect: no replication yet"},
    {"leader.replication.throttled.replicas", SL_CONF_IGNORED, "", 0, 0, 0, 0,
     "no effect: no replication yet"},
    {"local.retention.bytes", SL_CONF_IGNORED, "-2", 0, 0, 0, 0, "no effect: no tiered storage"},
    {"local.retention.ms", SL_CONF_IGNORED, "-2", 0, 0, 0, 0, "no effect: no tiered storage"},
    {"remote.storage.enable", SL_CONF_IGNORED, "false", 0, 0, 0, 0, "no effect: no tiered storage"},
    {"remote.log.copy.disable", SL_CONF_IGNORED, "false", 0, 0, 0, 0,
     "no effect: no tiered storage"},
    {"remote.log.delete.on.disable", SL_CONF_IGNORED, "false", 0, 0, 0, 0,
     "no effect: no tiered storage"},
    {"message.downconversion.enable", SL_CONF_IGNORED, "true", 0, 0, 0, 0,
     "no effect: records are served as stored (RecordBatch v2); no down-conversion"},
    {"message.timestamp.after.max.ms", SL_CONF_IGNORED, "9223372036854775807", 0, 0, 0, 0,
     "not enforced: every record timestamp is accepted"},
    {"message.timestamp.before.max.ms", SL_CONF_IGNORED, "9223372036854775807", 0, 0, 0, 0,
     "not enforced: every record timestamp is accepted"},
    {"message.timestamp.difference.max.ms", SL_CONF_IGNORED, "9223372036854775807", 0, 0, 0, 0,
     "not enforced: every record timestamp is accepted"},
    {"preallocate", SL_CONF_IGNORED, "false", 0, 0, 0, 0,
     "no effect: segment files grow as they are written"},
    {"segment.index.bytes", SL_CONF_IGNORED, "10485760", 0, 0, 0, 0,
     "no effect: index files grow with their entries (one per index.interval.bytes)"},
    {"segment.jitter.ms", SL_CONF_IGNORED, "0", 0, 0, 0, 0,
     "no effect: segments roll exactly at segment.ms"},
    {"unclean.leader.election.enable", SL_CONF_IGNORED, "false", 0, 0, 0, 0,
     "read by ElectLeaders UNCLEAN only (it may then elect an out-of-sync replica); automatic "
     "failover never elects one"},
};
const size_t sl_topic_conf_n_defs = sizeof sl_topic_conf_defs / sizeof sl_topic_conf_defs[0];

/* cleanup.policy: a comma-separated list of delete and compact (spaces allowed), not empty. */
static sl_err_t parse_policy(const char *v, bool *del, bool *compact, char *err) {
    *del = *compact = false;
    const char *p = v;
    for (;;) {
        while (*p == ' ') {
            p++;
        }
        size_t n = strcspn(p, ", ");
        if (n == 6 && !strncmp(p, "delete", 6)) {
            *del = true;
        } else if (n == 7 && !strncmp(p, "compact", 7)) {
            *compact = true;
        } else {
            snprintf(err, SL_ERRLEN, "cleanup.policy: unsupported value '%s'", v);
            return SL_ERR_INVAL;
        }
        p += n;
        while (*p == ' ') {
            p++;
        }
        if (!*p) {
            return SL_OK;
        }
        if (*p++ != ',') {
            snprintf(err, SL_ERRLEN, "cleanup.policy: unsupported value '%s'", v);
            return SL_ERR_INVAL;
        }
    }
}

/* A ratio in [0, 1]. */
static sl_err_t parse_ratio(const char *key, const char *v, double *out, char *err) {
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || !(d >= 0.0 && d <= 1.0)) {
        snprintf(err, SL_ERRLEN, "%s: '%s' is not a number from 0 to 1", key, v);
        return SL_ERR_INVAL;
    }
    *out = d;
    return SL_OK;
}

static sl_err_t check_enum(const char *key, const char *v, const char *const *ok, char *err) {
    for (; *ok; ok++) {
        if (!strcmp(v, *ok)) {
            return SL_OK;
        }
    }
    snprintf(err, SL_ERRLEN, "%s: unsupported value '%s'", key, v);
    return SL_ERR_INVAL;
}

sl_err_t sl_topic_conf_build(const sl_broker_conf_t *bc, const sl_kv_t *kv, size_t n,
                             sl_topic_conf_t *tc, char *err) {
    memset(tc, 0, sizeof *tc);
    tc->retention_ms = bc->retention_ms;
    tc->retention_bytes = bc->retention_bytes;
    tc->segment_bytes = bc->segment_bytes;
    tc->segment_ms = bc->roll_ms;
    tc->max_message_bytes = bc->message_max_bytes;
    tc->flush_messages = bc->flush_messages;
    tc->flush_ms = bc->flush_ms;
    tc->index_interval_bytes = bc->index_interval_bytes;
    tc->min_insync_replicas = 1;
    snprintf(tc->cleanup_policy, sizeof tc->cleanup_policy, "%s", bc->cleanup_policy);
    snprintf(tc->min_cleanable_dirty_ratio, sizeof tc->min_cleanable_dirty_ratio, "%s",
             bc->cleaner_min_cleanable_ratio);
    tc->delete_retention_ms = bc->cleaner_delete_retention_ms;
    tc->min_compaction_lag_ms = bc->cleaner_min_compaction_lag_ms;
    tc->max_compaction_lag_ms = bc->cleaner_max_compaction_lag_ms;
    snprintf(tc->timestamp_type, sizeof tc->timestamp_type, "%s", bc->timestamp_type);
    snprintf(tc->compression_type, sizeof tc->compression_type, "%s", bc->compression_type);
    for (size_t i = 0; i < n; i++) {
        sl_err_t rc =
            sl_conf_set(sl_topic_conf_defs, sl_topic_conf_n_defs, tc, kv[i].key, kv[i].value, err);
        if (rc != SL_OK) {
            return rc;
        }
    }
    static const char *const ts_types[] = {"CreateTime", "LogAppendTime", NULL};
    static const char *const codecs[] = {"producer", "uncompressed", "gzip", "snappy",
                                         "lz4",      "zstd",         NULL};
    sl_err_t rc = check_enum("message.timestamp.type", tc->timestamp_type, ts_types, err);
    if (rc == SL_OK) {
        bool del, compact;
        rc = parse_policy(tc->cleanup_policy, &del, &compact, err);
    }
    double ratio;
    if (rc == SL_OK) {
        rc = parse_ratio("min.cleanable.dirty.ratio", tc->min_cleanable_dirty_ratio, &ratio, err);
    }
    if (rc == SL_OK) {
        rc = check_enum("compression.type", tc->compression_type, codecs, err);
    }
    return rc;
}

void sl_topic_conf_to_plog(const sl_topic_conf_t *tc, sl_plog_conf_t *pc) {
    sl_plog_conf_default(pc);
    pc->segment_bytes = tc->segment_bytes;
    pc->roll_ms = tc->segment_ms;
    pc->retention_ms = tc->retention_ms;
    pc->retention_bytes = tc->retention_bytes;
    pc->index_interval_bytes = (int32_t)tc->index_interval_bytes;
    pc->flush_messages = tc->flush_messages;
    pc->flush_ms = tc->flush_ms;
    pc->log_append_time = !strcmp(tc->timestamp_type, "LogAppendTime");
    char err[SL_ERRLEN];
    if (parse_policy(tc->cleanup_policy, &pc->cleanup_delete, &pc->cleanup_compact, err) != SL_OK) {
        pc->cleanup_delete = true; /* checked by sl_topic_conf_build: not reached */
    }
    if (parse_ratio("", tc->min_cleanable_dirty_ratio, &pc->min_cleanable_dirty_ratio, err) !=
        SL_OK) {
        pc->min_cleanable_dirty_ratio = 0.5;
    }
    pc->delete_retention_ms = tc->delete_retention_ms;
    pc->min_compaction_lag_ms = tc->min_compaction_lag_ms;
    pc->max_compaction_lag_ms = tc->max_compaction_lag_ms;
}

sl_kv_t *sl_kv_list_dup(const sl_kv_t *kv, size_t n) {
    sl_kv_t *out = sl_xcalloc(n + 1, sizeof *out);
    for (size_t i = 0; i < n; i++) {
        out[i].key = sl_xstrdup(kv[i].key);
        out[i].value = kv[i].value ? sl_xstrdup(kv[i].value) : NULL;
    }
    return out;
}

void sl_kv_list_free(sl_kv_t *kv, size_t n) {
    for (size_t i = 0; kv && i < n; i++) {
        free(kv[i].key);
        free(kv[i].value);
    }
    free(kv);
}

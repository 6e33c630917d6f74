/* broker.h -- the broker's state shared by its request handlers (src/broker/handle_*.c).
 *
 * One shard for now: a single loop thread owns every topic, partition and connection, so nothing
 * here is locked. The types are laid out so a later shard split moves partitions, not handlers. */
#ifndef SL_BROKER_H
#define SL_BROKER_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/config.h"
#include "broker/listeners.h"
#include "broker/pidblocks.h"
#include "broker/quota.h"
#include "common/arena.h"
#include "common/codec.h"
#include "common/metrics.h"
#include "net/conn.h"
#include "net/listener.h"
#include "net/loop.h"
#include "security/acl.h"
#include "storage/compress.h"
#include "storage/plog.h"

typedef struct sl_broker sl_broker_t;
typedef struct sl_topic sl_topic_t;
typedef struct sl_fetch_wait sl_fetch_wait_t;
typedef struct sl_durable_wait sl_durable_wait_t;

typedef struct sl_partition {
    sl_topic_t *topic;
    int32_t index;
    sl_plog_t *plog;
    struct sl_partition *next_dirty; /* on broker->dirty while `dirty` */
    bool dirty;                      /* appended since the last group commit was submitted */
    bool sync_inflight;              /* a sync is running on the fsync worker */
    int64_t sync_target;             /* offset that running sync makes durable */
    bool files_pending;              /* its fresh files are being made off the loop (defer.c) */
    bool files_failed;               /* that failed: its next append creates them inline */
    sl_counter_t *m_bytes_in;
    sl_counter_t *m_records_in;
    struct sl_pstate *pstate; /* producers' last batches and open transactions (txn/pstate.c) */
    int64_t snapshot_offset;  /* offset of the last producer-state snapshot, or -1 */
    int snapshot_segs;        /* segment count when it was taken (a roll triggers the next) */
    struct sl_replica *repl;  /* cluster: leader, epoch, ISR, HW (replica.h); NULL otherwise */
} sl_partition_t;

struct sl_topic {
    sl_topic_t *next; /* hash chain */
    char *name;
    uint8_t id[16];
    int32_t n_partitions;
    sl_partition_t **parts;
    sl_kv_t *configs; /* overrides, owned */
    size_t n_configs;
    sl_topic_conf_t conf;  /* effective */
    int32_t create_target; /* partitions it is created with (while being created) */
};

/* A request being handled: the decoded header, the body reader and the response slot. */
typedef struct sl_req {
    sl_broker_t *broker;
    sl_conn_t *conn;
    int16_t api_key;
    int16_t api_version;
    int32_t correlation_id;
    sl_str_t client_id;
    bool flex;       /* flexible version: compact encodings and tagged fields */
    sl_reader_t rd;  /* positioned at the request body */
    size_t body_off; /* offset of the body in the frame, for re-running parked requests */
    sl_resp_t *resp;
    sl_writer_t wr; /* into the response slot, after the response header */
    uint64_t start_ns;
    size_t body_at;       /* offset of the response body in wr's buffer */
    uint32_t throttle_ms; /* request_percentage throttle, reported in throttle_time_ms */
} sl_req_t;

struct sl_broker {
    sl_broker_conf_t conf;
    sl_loop_t *loop;
    sl_blistener_t listeners[SL_MAX_LISTENERS]; /* `listeners`, in the order given */
    size_t n_listeners;
    void *admin; /* sl_admin_t */
    int admin_port;
    char cluster_id[32];
    sl_topic_t **topic_tab; /* hash table of topics by name */
    size_t topic_tab_size, n_topics;
    int64_t n_partitions_total;     /* partitions open, all topics */
    int64_t partition_limit;        /* max.partitions, or derived from the open-file limit */
    int64_t n_partitions_pending;   /* of creations still opening them (topicwork.c) */
    struct sl_topicwork *topicwork; /* creations and deletions in slices (topicwork.c) */
    struct sl_ct_wait *ct_waits;    /* CreateTopics requests waiting for them */
    void *metalog;                  /* sl_metalog_t */
    void *fsyncq;                   /* sl_fsyncq_t: the group-commit worker */
    void *logsyncq;                 /* sl_fsyncq_t: syncs of the coordinators' files */
    void *mkfiles;                  /* sl_mkfiles_t: fresh partitions' files (defer.c) */
    struct sl_deferred *deferred, *deferred_tail; /* Produce requests waiting for them */
    size_t deferred_bytes;
    void *cleaner;                    /* sl_cleaner_t: log compaction threads, or NULL */
    int64_t next_clean_check_ms;      /* wall clock of the next look for partitions to compact */
    struct sl_coord *coord;           /* the group coordinator (group/coordinator.c) */
    struct sl_otopic *otopic;         /* cluster: offsets partitions (offsets_topic.c) */
    struct sl_ttopic *ttopic;         /* cluster: transaction-state partitions (txn_topic.c) */
    struct sl_txn_markers *markers;   /* cluster: markers for other brokers (txn_markers.c) */
    struct sl_txn_coord *txn;         /* the transaction coordinator (txn/txn_coord.c) */
    struct sl_cgroups *cgroups;       /* KIP-848 consumer groups (group/cgroup.c) */
    sl_partition_t *dirty;            /* partitions needing a group-commit sync */
    sl_durable_wait_t *durable_waits; /* requests answered once their writes are durable */
    sl_fetch_wait_t *fetch_waits;     /* parked long-poll fetches */
    bool data_arrived;                /* an append happened since fetches were last re-checked */
    uint64_t tick_timer;
    uint64_t ticks;        /* seconds since start, for work done every minute */
    int64_t next_pid;      /* next producer id to hand out */
    int64_t pid_block_end; /* ids below this are reserved in the metadata log */
    sl_pidblocks_t pids;   /* cluster: this broker's producer-id blocks (pidblocks.h) */
    bool ready;
    sl_decomp_t decomp; /* Produce's decompression scratch (storage/compress.h) */
    sl_histo_t *m_fsync;
    sl_counter_t *m_bytes_out;
    sl_counter_t *m_throttled;
    struct sl_quotas *quotas;                /* client quotas (quota.c) */
    sl_counter_t *m_quota_throttled;         /* requests throttled by producer_byte_rate, */
    sl_counter_t *m_quota_throttled_fetch;   /* consumer_byte_rate, */
    sl_counter_t *m_quota_throttled_request; /* request_percentage */
    sl_counter_t *m_duplicates;
    sl_counter_t *m_txn_commits;
    sl_counter_t *m_txn_aborts;
    sl_histo_t *m_txn_commit_latency;
    struct sl_dynconf *dynconf; /* dynamic broker configs, NULL until one is set (dynconf.h) */
    uint64_t trash_seq;         /* names in <data-dir>/.deleted (trash.c) */
    struct sl_cluster *cluster; /* the controller quorum, NULL for a single broker (cluster.c) */
    int32_t create_rf;          /* replication factor of the topic being created (cluster) */
    struct sl_replicator *replicator; /* cluster: the replica fetchers (replica.c) */
    struct sl_credstore *creds;       /* SCRAM credentials from the metadata log (handle_sasl.c) */
    unsigned sasl_mechs;              /* sasl.enabled.mechanisms, bits of sl_sasl_mech_t */
    struct sl_oauth *oauth;           /* OAUTHBEARER token validator, NULL unless enabled */
    struct sl_acls *acls;             /* ACL bindings from the metadata log (handle_acl.c) */
    bool authz; /* authorizer.class.name set: requests are checked against acls */
};

/* SASL mechanisms (bit positions in sasl_mechs). */
typedef enum sl_sasl_mech {
    SL_SASL_PLAIN,
    SL_SASL_SCRAM_SHA256,
    SL_SASL_SCRAM_SHA512,
    SL_SASL_OAUTHBEARER,
    SL_SASL_N
} sl_sasl_mech_t;

typedef enum sl_sess_state {
    SL_SESS_START,         /* SASL listener: only ApiVersions and SaslHandshake allowed */
    SL_SESS_HANDSHAKEN,    /* mechanism chosen: SaslAuthenticate expected */
    SL_SESS_EXCHANGE,      /* a SCRAM exchange under way */
    SL_SESS_AUTHENTICATED, /* every API allowed; a SaslHandshake starts re-authentication */
    SL_SESS_FAILED,        /* answered with a failure, closing */
} sl_sess_state_t;

/* What the broker keeps per connection on a SASL listener, or on an SSL listener whose client
 * presented a verified certificate: the authentication state and the principal. Hung on the
 * connection (sl_conn_session), freed at close. */
typedef struct sl_session {
    sl_sess_state_t state;
    sl_sasl_mech_t mech;
    bool reauth;                   /* the exchange re-authenticates an authenticated session */
    bool raw;                      /* after SaslHandshake v0: tokens come as bare frames */
    uint64_t expires_ms;           /* monotonic ms the SASL session ends, 0: never */
    int64_t lifetime_ms;           /* session_lifetime_ms told to the client, 0: unbounded */
    struct sl_scram_server *scram; /* during a SCRAM exchange */
    char principal[264];           /* user name (without "User:"), "" until authenticated */
} sl_session_t;

/* The user a request's quotas (and later ACLs) are looked up by: the connection's principal
 * name without Kafka's "User:" type, i.e. the SASL user, the client certificate's subject on an
 * SSL listener ("CN=client,O=org"), else ANONYMOUS. */
static inline const char *sl_req_principal(const sl_req_t *req) {
    const sl_session_t *s = req->conn ? (const sl_session_t *)sl_conn_session(req->conn) : NULL;
    return s && s->principal[0] ? s->principal : "ANONYMOUS";
}

/* The listener the request's connection came in on: Metadata and FindCoordinator give its
 * advertised address, so a client stays on the protocol it chose. */
static inline const sl_blistener_t *sl_req_listener(const sl_req_t *req) {
    const sl_blistener_t *l = req->conn ? sl_conn_listener(req->conn) : NULL;
    return l ? l : &req->broker->listeners[0];
}

/* ---- topics (topics.c) ---- */
sl_topic_t *sl_topic_find(sl_broker_t *b, sl_str_t name);
/* Whether `name` is a legal topic name (Kafka's rules: [a-zA-Z0-9._-], 1..249, not . or ..). */
bool sl_topic_name_valid(sl_str_t name);
/* Creates a topic (partitions opened, then durably recorded in the metadata log; nothing is
 * recorded unless all of them opened). Returns SL_OK, a Kafka error code (TOPIC_ALREADY_EXISTS,
 * INVALID_CONFIG, POLICY_VIOLATION over max.partitions, ...), with a message in `err`. */
int sl_topic_create(sl_broker_t *b, sl_str_t name, int32_t n_partitions, const sl_kv_t *configs,
                    size_t n_configs, bool validate_only, char *err);
/* sl_topic_create in parts, for creation a slice at a time (topicwork.c). _begin validates as
 * sl_topic_create does and returns KERR_NONE with *out, a topic in no table whose
 * create_target partitions are to be opened (*out NULL for validate_only); _step opens its
 * partitions up to `upto` (on failure the topic is freed and KAFKA_STORAGE_ERROR returned);
 * _finish records it once all are open and puts it in the table (on failure it is freed);
 * _abort frees it unrecorded. */
int sl_topic_create_begin(sl_broker_t *b, sl_str_t name, int32_t n_partitions,
                          const sl_kv_t *configs, size_t n_configs, bool validate_only,
                          sl_topic_t **out, char *err);
int sl_topic_create_step(sl_broker_t *b, sl_topic_t *t, int32_t upto, char *err);
int sl_topic_create_finish(sl_broker_t *b, sl_topic_t *t, char *err);
void sl_topic_create_abort(sl_broker_t *b, sl_topic_t *t);
/* Records a topic's deletion and takes it out of the table; a single broker closes its
 * partitions and moves their directories to the trash a slice per loop iteration afterwards
 * (topicwork.c), a cluster member at once. KERR_NONE or KAFKA_STORAGE_ERROR. */
int sl_topic_delete(sl_broker_t *b, sl_topic_t *t);
/* Closes the last `max` partitions of a deleted topic (in no table) and moves their directories
 * to the trash; returns how many are left, and frees the topic when none is. */
int32_t sl_topic_drop_slice(sl_broker_t *b, sl_topic_t *t, int32_t max);
int sl_topic_add_partitions(sl_broker_t *b, sl_topic_t *t, int32_t new_total, bool validate_only,
                            char *err);
/* Replaces a topic's config overrides. */
int sl_topic_set_configs(sl_broker_t *b, sl_topic_t *t, const sl_kv_t *configs, size_t n,
                         bool validate_only, char *err);
/* Replays the metadata log and opens every partition. */
SL_MUST_USE sl_err_t sl_topics_load(sl_broker_t *b, char *err);
/* Cluster mode: the table starts empty and fills from the quorum's committed records; appends go
 * to `metalog` (a proposer, metalog.h). */
SL_MUST_USE sl_err_t sl_topics_load_cluster(sl_broker_t *b, void *metalog);
struct sl_meta_rec;
/* Cluster mode: applies one committed record to the live table (idempotent; cluster.c). */
void sl_topics_apply_live(sl_broker_t *b, const struct sl_meta_rec *rec);
/* Cluster mode: removes a topic a restored snapshot no longer has. */
void sl_topic_drop(sl_broker_t *b, sl_topic_t *t);
void sl_topics_close(sl_broker_t *b);
/* Calls fn for every topic in unspecified order. */
void sl_topics_each(sl_broker_t *b, void (*fn)(sl_topic_t *t, void *opaque), void *opaque);
sl_partition_t *sl_partition_get(sl_broker_t *b, sl_str_t topic, int32_t index);
/* Syncs the partition and writes its producer-state snapshot (after a roll, and at close). */
void sl_partition_snapshot(sl_broker_t *b, sl_partition_t *p);
/* The last stable offset: the first offset of the oldest open transaction, or the end. */
int64_t sl_partition_lso(const sl_partition_t *p);
/* Appends a transaction marker for `pid` and marks the partition for the group commit; returns
 * the marker's offset in *offset_out. SL_OK or the log's error. */
SL_MUST_USE sl_err_t sl_partition_write_marker(sl_broker_t *b, sl_partition_t *p, int64_t pid,
                                               int16_t epoch, int type, int64_t *offset_out);

/* ---- topic creation and deletion a slice per loop iteration (topicwork.c) ---- */
/* Partitions opened, or closed and moved to the trash, per loop iteration. */
#define SL_TOPICWORK_SLICE 100
/* CreateTopics creates a topic of at least this many partitions in slices (single node). */
#define SL_TOPICWORK_MIN 500
/* Called with the outcome of a creation handed to sl_topicwork_create (KERR_NONE: in the table;
 * `msg` the error's message otherwise). */
typedef void sl_topicwork_done_fn(sl_broker_t *b, void *opaque, int err, const char *msg);
/* Opens the partitions of `t` (from sl_topic_create_begin) a slice per iteration, then records
 * it; the name counts as taken meanwhile. */
void sl_topicwork_create(sl_broker_t *b, sl_topic_t *t, sl_topicwork_done_fn *done, void *opaque);
/* Drops a deleted topic (out of the table) a slice per iteration. */
void sl_topicwork_drop(sl_broker_t *b, sl_topic_t *t);
/* Whether a creation of `name` is under way. */
bool sl_topicwork_creating(const sl_broker_t *b, sl_str_t name);
/* Finishes, inline, the deletion of an earlier topic named `name` if one is under way. */
void sl_topicwork_settle(sl_broker_t *b, sl_str_t name);
/* Whether creations or deletions are under way. */
bool sl_topicwork_pending(const sl_broker_t *b);
/* Once per loop iteration: one slice of the oldest work. */
void sl_topicwork_run(sl_loop_t *loop, void *data);
/* Shutdown: deletions finish inline, creations are abandoned (reported as failed). */
void sl_topicwork_stop(sl_broker_t *b);
/* A connection closed: its waiting CreateTopics requests are dropped (handle_admin.c). */
void sl_admin_drop_conn(sl_broker_t *b, const sl_conn_t *conn);

/* ---- deleted partitions, removed off the loop (trash.c) ---- */
/* Removes trash left by an earlier run (.deleted, .deleted.<n>) on background threads. */
void sl_trash_start(sl_broker_t *b);
/* Renames the partition directory `dir` into <data-dir>/.deleted; true when it is out of the way
 * (moved, or never created), false when it could not be moved (remove it inline then). */
bool sl_trash_move(sl_broker_t *b, const char *dir);
/* Hands what sl_trash_move collected to a thread that removes it. */
void sl_trash_empty(sl_broker_t *b);

/* ---- durability and waiting (wait.c) ---- */
/* Marks a partition as needing the group-commit sync in this iteration's before-sleep phase. */
void sl_broker_mark_dirty(sl_broker_t *b, sl_partition_t *p);
/* Before-sleep: submits syncs of dirty partitions, answers acks=all produces whose data is now
 * durable, re-checks parked fetches, reaps connections. */
void sl_broker_before_sleep(sl_loop_t *loop, void *data);
/* Syncs every dirty partition and waits for it (topic deletion, shutdown), answering every
 * waiting acks=all produce. */
void sl_broker_flush(sl_broker_t *b);
/* An fsync worker's eventfd is readable. */
void sl_broker_on_fsync(sl_loop_t *loop, int fd, void *data, unsigned events);
/* The coordinator-file sync worker's completion callback. */
void sl_broker_log_sync_done(void *token, int rc, uint64_t duration_us, void *opaque);
/* The fsync worker's completion callback (sl_fsync_done_fn). */
void sl_broker_sync_done(void *token, int rc, uint64_t duration_us, void *opaque);

/* ---- request dispatch (dispatch.c) ---- */
sl_err_t sl_broker_on_frame(sl_conn_t *conn, const uint8_t *frame, size_t len, void *opaque);
/* Handles one request frame of `conn` now (on_frame, once no earlier request of the connection
 * waits). A Produce request writing to a partition whose files do not exist yet has them made
 * off the loop (defer.c) and waits: with `retrying` it is left as it is and SL_AGAIN returned
 * (its caller keeps the frame); otherwise it is queued. SL_ERR_INVAL: close the connection. */
sl_err_t sl_broker_handle_frame(sl_broker_t *b, sl_conn_t *conn, const uint8_t *frame, size_t len,
                                bool retrying);
/* defer.c: Produce requests waiting for fresh partitions' files. */
sl_err_t sl_defer_start(sl_broker_t *b);
void sl_defer_stop(sl_broker_t *b);
bool sl_defer_blocked(const sl_broker_t *b, const sl_conn_t *conn);
/* Queues a copy of the frame; false (nothing queued) past the per-connection limit. */
bool sl_defer_push(sl_broker_t *b, sl_conn_t *conn, const uint8_t *frame, size_t len);
/* Has the files made of every partition the Produce request `req` writes that has none yet
 * (unless too much already waits); true if there was one. */
bool sl_defer_produce_needs_files(sl_broker_t *b, const sl_req_t *req);
void sl_defer_drop_conn(sl_broker_t *b, const sl_conn_t *conn);
void sl_broker_on_close(sl_conn_t *conn, void *opaque);
/* Finishes a response: records latency metrics and queues the slot. */
void sl_req_finish(sl_req_t *req);

/* ---- handlers, one per API (handle_*.c). Each decodes req->rd and writes the body into req->wr;
 * returning non-OK closes the connection (malformed request). A handler that answers later takes
 * ownership of the request (returns SL_AGAIN). */
#define SL_HANDLER(name) sl_err_t sl_handle_##name(sl_req_t *req)
SL_HANDLER(Produce);
SL_HANDLER(Fetch);
SL_HANDLER(ListOffsets);
SL_HANDLER(OffsetForLeaderEpoch);
SL_HANDLER(Metadata);
SL_HANDLER(ApiVersions);
SL_HANDLER(CreateTopics);
SL_HANDLER(DeleteTopics);
SL_HANDLER(DescribeConfigs);
SL_HANDLER(AlterConfigs);
SL_HANDLER(CreatePartitions);
SL_HANDLER(FindCoordinator);
SL_HANDLER(JoinGroup);
SL_HANDLER(SyncGroup);
SL_HANDLER(Heartbeat);
SL_HANDLER(LeaveGroup);
SL_HANDLER(OffsetCommit);
SL_HANDLER(OffsetFetch);
SL_HANDLER(ListGroups);
SL_HANDLER(DescribeGroups);
SL_HANDLER(DeleteGroups);
SL_HANDLER(OffsetDelete);
SL_HANDLER(InitProducerId);
SL_HANDLER(AddPartitionsToTxn);
SL_HANDLER(AddOffsetsToTxn);
SL_HANDLER(EndTxn);
SL_HANDLER(TxnOffsetCommit);
SL_HANDLER(DescribeProducers);
SL_HANDLER(DescribeTransactions);
SL_HANDLER(ListTransactions);
SL_HANDLER(DeleteRecords);
SL_HANDLER(DescribeLogDirs);
SL_HANDLER(IncrementalAlterConfigs);
SL_HANDLER(DescribeClientQuotas);
SL_HANDLER(AlterClientQuotas);
SL_HANDLER(DescribeCluster);
/* operator APIs of a cluster (handle_ops.c) */
SL_HANDLER(ElectLeaders);
SL_HANDLER(AlterPartitionReassignments);
SL_HANDLER(ListPartitionReassignments);
SL_HANDLER(DescribeQuorum);

/* ---- SASL and SCRAM credentials (handle_sasl.c) ---- */
/* Checks sasl.enabled.mechanisms. SL_ERR_INVAL with the reason in `err`. */
SL_MUST_USE sl_err_t sl_broker_sasl_start(sl_broker_t *b, char *err);
void sl_broker_sasl_stop(sl_broker_t *b);
/* Runs before every request's handler: sets up the connection's session, and on a SASL listener
 * lets only ApiVersions, SaslHandshake and SaslAuthenticate through before authentication. False:
 * the request must not be handled and the connection closes (logged here). */
bool sl_broker_sasl_gate(sl_req_t *req);
/* A bare SASL token frame after SaslHandshake v0 (session->raw), answered with a bare token.
 * Returns what on_frame returns. */
sl_err_t sl_broker_sasl_raw(sl_broker_t *b, sl_conn_t *conn, const uint8_t *frame, size_t len);
/* Frees the connection's session (on close). */
void sl_broker_sasl_drop(sl_conn_t *conn);
/* Replays one SL_META_SCRAM record into b->creds. */
void sl_sasl_apply_meta(sl_broker_t *b, const char *user, const sl_kv_t *kv, size_t n);
SL_HANDLER(SaslHandshake);
SL_HANDLER(SaslAuthenticate);
SL_HANDLER(DescribeUserScramCredentials);
SL_HANDLER(AlterUserScramCredentials);

/* ---- ACLs (handle_acl.c) ---- */
/* Replays one SL_META_ACL record into b->acls (created on first use). */
void sl_acl_apply_meta(sl_broker_t *b, const char *res_name, const sl_kv_t *kv, size_t n);
/* Sets up b->acls and b->authz from the config (before the metadata log is replayed). */
void sl_broker_acl_start(sl_broker_t *b);
void sl_broker_acl_stop(sl_broker_t *b);
/* Whether the request's principal, from its client's address, may do `op` (SL_ACL_*) on the
 * resource `res_type` (SL_RES_*) named `name`: always true with authorization off; a denial is
 * logged at DEBUG (facility acl). */
bool sl_req_allowed(const sl_req_t *req, int8_t res_type, sl_str_t name, int8_t op);
/* The same for the cluster resource. */
bool sl_req_allowed_cluster(const sl_req_t *req, int8_t op);
/* Whether the principal may do `op` on some resource of the type (sl_acls_authorize_any). */
bool sl_req_allowed_any(const sl_req_t *req, int8_t res_type, int8_t op);
/* The operations of `all` (a bit set of aclops.h) the request's principal may do on the
 * resource, for the *_authorized_operations fields: all of them with authorization off. */
int32_t sl_req_allowed_ops(const sl_req_t *req, int8_t res_type, sl_str_t name, int32_t all);
SL_HANDLER(CreateAcls);
SL_HANDLER(DescribeAcls);
SL_HANDLER(DeleteAcls);

/* ---- client quotas (handle_quota.c) ---- */
/* Replays one SL_META_QUOTA record's configs (entity and values) into b->quotas. */
void sl_quota_apply_meta(sl_broker_t *b, const sl_kv_t *kv, size_t n);
SL_HANDLER(ConsumerGroupHeartbeat);
SL_HANDLER(ConsumerGroupDescribe);
/* The topic with this id, or NULL (a linear scan; handle_cgroup.c). */
sl_topic_t *sl_topic_find_id(sl_broker_t *b, const uint8_t id[16]);
/* Starts the consumer-protocol groups (handle_cgroup.c). */
SL_MUST_USE sl_err_t sl_broker_cgroups_start(sl_broker_t *b, char *err);

/* ---- producers and transactions (handle_txn.c) ---- */
/* A new producer id from the durably reserved block: 0 or a Kafka error. */
int sl_broker_alloc_pid(sl_broker_t *b, int64_t *pid_out);

/* Cluster: proposes this broker's next producer-id block when one is due (pidblocks.h); called
 * before every sleep of the loop, and cheap when nothing is due. No-op on a single node. */
void sl_broker_pid_prefetch(sl_broker_t *b);
/* Opens the transaction coordinator and recovers: transactions left prepared are completed,
 * open ones aborted, and partitions' open transactions unknown to it aborted. */
SL_MUST_USE sl_err_t sl_broker_txn_start(sl_broker_t *b, char *err);

/* Fetch waits are freed when their connection closes. */
void sl_fetch_waits_drop_conn(sl_broker_t *b, sl_conn_t *conn);
void sl_fetch_recheck(sl_broker_t *b, bool expire_all);
/* At shutdown: answers every acks=all wait still parked (REQUEST_TIMED_OUT for what is not
 * durable: in a cluster, replication stops with the broker), so none is left unanswered. */
void sl_durable_waits_expire_all(sl_broker_t *b);

/* Lifecycle (broker.c). */
sl_broker_t *sl_broker_new(const sl_broker_conf_t *conf, char *err);
SL_MUST_USE sl_err_t sl_broker_run(sl_broker_t *b);
void sl_broker_free(sl_broker_t *b);

#endif

/* cluster.h -- a broker in a cluster: the controller quorum's hooks into the broker.
 *
 * With controller.quorum.voters set, the broker's metadata log is the Raft log (quorum.c): a
 * change is proposed to the quorum leader (forwarded over the leader's Kafka listener when this
 * node is not it) and applied by every node in log order, to the image (mstate.c) on the Raft
 * thread and to the broker's topic table on the loop thread. A heartbeat thread keeps this
 * broker registered and its lease renewed; the quorum leader fences brokers it stops hearing
 * from. Without quorum flags none of this exists and the broker works as a single node. */
#ifndef SL_CLUSTER_H
#define SL_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/broker.h"
#include "broker/metalog.h"
#include "common/buf.h"
#include "common/err.h"

/* Requests between sluice brokers (and from `sluice cluster status`) on the Kafka listener. The
 * key is far outside Kafka's range and never advertised in ApiVersions.
 *   request body:  op (int8), node_id (int32; -1 from tools), then for PROPOSE the command
 *                  (int32 length + bytes)
 *   response body: error_code (int16), then for STATUS a JSON document (int32 length + bytes) */
#define SL_CLUSTER_API_KEY 9000

typedef struct sl_cluster sl_cluster_t;
/* EPOCH_END (replica.h): after op and node_id, count (int32) then per partition topic (string),
 * partition (int32), leader epoch (int32); the response after error_code: count (int32) then
 * per partition topic, partition, error_code (int16), epoch (int32), end offset (int64). */
enum {
    SL_CLUSTER_OP_PROPOSE = 1,
    SL_CLUSTER_OP_HEARTBEAT = 2,
    SL_CLUSTER_OP_STATUS = 3,
    SL_CLUSTER_OP_EPOCH_END = 4,
    SL_CLUSTER_OP_TXN_MARKER = 5, /* txn_markers.h */
    SL_CLUSTER_OP_QUORUM = 6      /* the quorum leader's progress (sl_cluster_quorum) */
};

/* Cluster mode is on when controller.quorum.voters is set. Sets up the proposing metadata log
 * and the empty image (call instead of sl_topics_load). */
SL_MUST_USE sl_err_t sl_cluster_init(sl_broker_t *b, char *err);
/* Starts the quorum and the heartbeat thread (after the listener: registrations carry the
 * advertised address). */
SL_MUST_USE sl_err_t sl_cluster_start(sl_broker_t *b, char *err);
/* Controlled shutdown (the loop has stopped, SIGTERM): asks the quorum to move leadership of
 * every partition this broker leads to another in-sync replica and waits, at most
 * controlled.shutdown.timeout.ms, until the move is committed and applied here; the broker no
 * longer registers or heartbeats. Nothing happens without a cluster, with
 * controlled.shutdown.enable=false, or before this broker registered. */
void sl_cluster_leave(sl_broker_t *b);
/* Stops the heartbeat thread and the quorum. NULL cluster is ignored. */
void sl_cluster_stop(sl_broker_t *b);

/* Loop thread: whether this broker has applied every metadata record committed before it
 * started (its own registration of this start came back through the log). Until then its topic
 * table may lack topics the cluster has, and topics are not created here (a topic made now
 * would replace one not yet replayed, files included). */
bool sl_cluster_caught_up(sl_broker_t *b);

/* The private API (dispatch.c): writes the response body after the header. */
SL_MUST_USE sl_err_t sl_cluster_handle(sl_req_t *req);

/* CreateTopics: KERR_NONE if `rf` replicas can be placed now, else INVALID_REPLICATION_FACTOR
 * with a message. -1 means 1. */
int sl_cluster_check_rf(sl_broker_t *b, int32_t rf, char *msg);
/* Metadata: the current quorum leader, or -1. */
int32_t sl_cluster_controller(sl_broker_t *b);
/* Metadata: writes the brokers array (live registered brokers; this one alone until any has
 * registered). */
void sl_cluster_write_brokers(sl_broker_t *b, sl_writer_t *wr, bool flex, int16_t v);
/* Metadata: the placement of a partition and whether its leader holds a live lease. */
bool sl_cluster_partition(sl_broker_t *b, const char *topic, int32_t partition, sl_meta_assign_t *a,
                          bool *leader_live, int32_t *offline, int32_t *n_offline);

/* Any thread: whether this broker can be sure the quorum has not fenced it (always true on a
 * single node). A leader whose lease may have lapsed (paused, cut off from the quorum leader)
 * answers clients' reads with NOT_LEADER_OR_FOLLOWER instead of serving them from a log another
 * leader may have moved past; see "this broker's own lease" in cluster.c. */
bool sl_cluster_lease_ok(sl_broker_t *b);

/* Whether this broker's registration of this incarnation has committed: until then it neither
 * leads nor follows anything (a restarted broker must not serve with its old epochs). */
bool sl_cluster_registered(sl_broker_t *b);
/* Copies up to `max` registered brokers; returns how many there are. */
struct sl_mbroker;
size_t sl_cluster_brokers(sl_broker_t *b, struct sl_mbroker *out, size_t max);
/* Queues a command (framed metadata records) for the heartbeat thread to commit through the
 * quorum leader, without blocking the loop; it is dropped if it does not commit in time (the
 * caller proposes again when it still wants it). */
void sl_cluster_propose_async(sl_broker_t *b, const uint8_t *cmd, size_t len);

/* Operator APIs (handle_ops.c): the metadata image, and one command (framed metadata records)
 * committed through the quorum leader, blocking the loop for at most PROPOSE_TIMEOUT_MS (5 s).
 * SL_OK once committed; SL_AGAIN when no leader took it in time; SL_ERR_IO when refused. */
struct sl_mstate *sl_cluster_image(sl_broker_t *b);
SL_MUST_USE sl_err_t sl_cluster_propose(sl_broker_t *b, const uint8_t *cmd, size_t len);
/* DescribeQuorum: the quorum as its leader sees it (leader, term, commit index, each voter's
 * progress), asked of the leader over the private API (op QUORUM, at most 2 s on the loop) when
 * this node does not lead. KERR_NONE, or NOT_LEADER_OR_FOLLOWER when no leader answered. */
struct sl_quorum_status;
int16_t sl_cluster_quorum(sl_broker_t *b, struct sl_quorum_status *st);

/* One blocking request to a broker's Kafka listener, secured as `sec` says (NULL: plain TCP;
 * brokers pass sl_cluster_sec): `body` after a request header for SL_CLUSTER_API_KEY; the
 * response body (after the correlation id) goes into `resp`. SL_OK; SL_ERR_IO (connect,
 * timeout, short read) or SL_ERR_INVAL (TLS or SASL refused) with the reason in err. For
 * brokers and the CLI. */
struct sl_peer_sec;
SL_MUST_USE sl_err_t sl_cluster_call(const struct sl_peer_sec *sec, const char *host, int port,
                                     const uint8_t *body, size_t len, sl_buf_t *resp,
                                     int timeout_ms, char *err);
/* How this broker reaches the other brokers' inter-broker listener (TLS, SASL; interbroker.h),
 * set by sl_cluster_start and read-only until sl_cluster_stop; NULL without a cluster. Any
 * thread. */
const struct sl_peer_sec *sl_cluster_sec(sl_broker_t *b);

#endif

/* txn_markers.h -- a cluster's transaction markers, written by each partition's leader.
 *
 * The coordinator of a transaction decides; the COMMIT/ABORT markers go into the partitions it
 * touched, whose leaders may be other brokers (Kafka's WriteTxnMarkers). Here a marker is a job
 * for one worker thread: it finds the partition's leader in the metadata image and sends it the
 * sluice-internal op TXN_MARKER (cluster.h) until that leader reports the marker written and
 * replicated (its high watermark past it) or nothing of the transaction left open there; a
 * failed or refused call (connection, leadership moved) is retried on the current leader, as
 * Kafka's coordinator retries markers until they land. The coordinator polls a job's token (in
 * place of a marker's offset) until it is done. The leader's side is sl_markers_handle.
 * Thread: the loop thread, except the worker. */
#ifndef SL_TXN_MARKERS_H
#define SL_TXN_MARKERS_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/broker.h"

/* Tokens stand where the coordinator keeps a marker's offset: at and above this value. */
#define SL_MARKER_TOKEN_BASE ((int64_t)1 << 62)

/* Starts the worker (cluster mode). */
SL_MUST_USE sl_err_t sl_markers_start(sl_broker_t *b, char *err);
void sl_markers_stop(sl_broker_t *b);
/* Queues the marker of pid/epoch (`type` SL_CONTROL_COMMIT/ABORT) for topic/partition and
 * returns its token. After sl_markers_stop a token that is never done (shutdown: the
 * transaction stays prepared, and the partition's next leader writes its markers). */
int64_t sl_markers_add(sl_broker_t *b, const char *topic, int32_t partition, int64_t pid,
                       int16_t epoch, int type);
/* Whether the job of `token` is done (an unknown token is: done jobs are dropped when seen;
 * nothing is after sl_markers_stop). */
bool sl_markers_done(sl_broker_t *b, int64_t token);

/* The leader's side of TXN_MARKER (cluster.c, after op and node_id): topic (string), partition
 * (int32), producer id (int64), epoch (int16), type (int8), wait_end (int64, -1 at first) ->
 * error_code (int16), wait_end (int64: the offset below which the marker lies), done (int8:
 * nothing of the transaction open here and everything below wait_end on every in-sync
 * replica). Writes the marker when the partition has the transaction open. */
SL_MUST_USE sl_err_t sl_markers_handle(sl_req_t *req);

#endif

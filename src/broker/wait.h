/* wait.h -- requests that answer later: requests waiting for their writes to become durable
 * (acks=all produces, OffsetCommit, InitProducerId, EndTxn), and long-poll fetches waiting for
 * data or their max_wait_ms. */
#ifndef SL_WAIT_H
#define SL_WAIT_H

#include <stddef.h>

#include "broker/broker.h"
#include "storage/reclog.h"
#include "txn/txn_coord.h"

/* Creates a wait that will own `req` once parked. */
sl_durable_wait_t *sl_durable_wait_new(sl_req_t *req);
/* Records that the partition response at these response-buffer offsets waits until offsets
 * below `end_offset` of `p` are durable; if `p` fails first, its error code becomes
 * KAFKA_STORAGE_ERROR and its base offset -1 (base_at SIZE_MAX: the response has none). */
void sl_durable_wait_add_part(sl_durable_wait_t *pw, sl_partition_t *p, int64_t end_offset,
                              size_t err_at, size_t base_at);
/* Waits until `log` is durable up to `pos` (from sl_reclog_want_sync); KAFKA_STORAGE_ERROR at
 * err_at if the log fails first. */
void sl_durable_wait_add_log(sl_durable_wait_t *pw, sl_reclog_t *log, uint64_t pos, size_t err_at);
/* Waits until transaction `t` (prepared) completes; its t->apply_err, or KAFKA_STORAGE_ERROR if
 * the transaction log, the offsets log it commits to or a partition it writes a marker to fails
 * first, goes to err_at. */
void sl_durable_wait_add_txn(sl_durable_wait_t *pw, const sl_txn_t *t, size_t err_at);
/* Frees a wait that was never parked (the request stays with the caller). NULL is a no-op. */
/* Bounds the wait (Produce's timeout_ms, cluster mode): a partition not acknowledged
 * timeout_ms after parking is answered with REQUEST_TIMED_OUT (its data may still be replicated
 * and kept: it is not acknowledged, as in Kafka). Negative means no bound. */
void sl_durable_wait_set_timeout(sl_durable_wait_t *pw, int32_t timeout_ms);
void sl_durable_wait_cancel(sl_durable_wait_t *pw);
/* Hands the request to the wait list; it is answered once everything it waits for holds
 * (usually one fdatasync later). Returns SL_AGAIN (the dispatcher no longer owns the request). */
sl_err_t sl_durable_wait_park(sl_broker_t *b, sl_durable_wait_t *pw);

/* Parks a fetch: copies the request frame so it can be re-run when data arrives or at
 * `deadline_ms`. Takes `req`. Returns SL_AGAIN. */
sl_err_t sl_fetch_wait_park(sl_broker_t *b, sl_req_t *req, uint64_t max_wait_ms);
/* Runs the fetch in `req` (defined in handle_fetch.c). With `final`, always answers; otherwise
 * answers only if min_bytes is met, and returns false without touching the response if not. */
bool sl_fetch_run(sl_req_t *req, bool final);

#endif

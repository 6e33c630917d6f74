/* handle_txn.c -- InitProducerId for idempotent producers.
 *
 * InitProducerId v0-1: transactional_id (nullable), transaction_timeout_ms -> throttle_time_ms,
 * error_code, producer_id, producer_epoch.
 * Producer ids come from blocks reserved durably in the metadata log (SL_META_PID_BLOCK), so an
 * id is never handed out twice, even across a crash. Transactional ids are refused with
 * COORDINATOR_NOT_AVAILABLE until the transaction coordinator exists (FindCoordinator for
 * transactions is refused too), so a transactional producer fails clearly at its start. */
#include "broker/broker.h"
#include "broker/metalog.h"
#include "common/log.h"
#include "proto/kerr.h"

#define PID_BLOCK 1000

SL_HANDLER(InitProducerId) {
    sl_broker_t *b = req->broker;
    sl_reader_t *rd = &req->rd;
    sl_str_t txn_id = sl_rd_str(rd, false);
    (void)sl_rd_i32(rd); /* transaction_timeout_ms */
    if (rd->err) {
        return rd->err;
    }
    int16_t err = KERR_NONE;
    int64_t pid = -1;
    if (txn_id.p) {
        err = KERR_COORDINATOR_NOT_AVAILABLE;
    } else {
        if (b->next_pid >= b->pid_block_end) {
            sl_meta_rec_t rec = {SL_META_PID_BLOCK,           "", {0}, 0, NULL, 0,
                                 b->pid_block_end + PID_BLOCK};
            if (sl_metalog_append(b->metalog, &rec) != SL_OK) {
                err = KERR_COORDINATOR_NOT_AVAILABLE;
            } else {
                b->pid_block_end += PID_BLOCK;
            }
        }
        if (!err) {
            pid = b->next_pid++;
        }
    }
    sl_wr_i32(&req->wr, 0);
    sl_wr_i16(&req->wr, err);
    sl_wr_i64(&req->wr, pid);
    sl_wr_i16(&req->wr, err ? -1 : 0);
    return SL_OK;
}

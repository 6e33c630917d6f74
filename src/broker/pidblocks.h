/* pidblocks.h -- a cluster member's producer-id blocks: ids are handed out only from a block
 * whose reservation the metadata quorum has committed.
 *
 * A broker reserves SL_PID_BLOCK ids at a time by proposing a SL_META_PID_BLOCK record (its
 * value: the block's end). Blocks are striped by node id (block k belongs to node
 * k % SL_PID_STRIDE) and a new one starts above every block committed so far, so two brokers
 * never reserve the same ids. An id is handed out only once its block's record has come back
 * committed: a broker that crashed between its proposal and the commit would otherwise find no
 * trace of the block after a restart and hand the same ids out again (the fault benchmark saw
 * producer id 0 given to two live producers after every broker was killed at once). The next
 * block is proposed while half of the current one is left, so an InitProducerId rarely waits.
 * Pure logic (no I/O): the broker proposes what sl_pidblocks_want names and reports what the
 * quorum commits (handle_txn.c, topics.c). */
#ifndef SL_BROKER_PIDBLOCKS_H
#define SL_BROKER_PIDBLOCKS_H

#include <stdbool.h>
#include <stdint.h>

#define SL_PID_BLOCK  1000
#define SL_PID_STRIDE 1024
#define SL_PID_PENDING_MS                                                                          \
    5000 /* a proposal not seen committed by then is given up (ids skipped)                        \
          */

typedef struct sl_pidblocks {
    int32_t node;          /* this broker's stripe: node % SL_PID_STRIDE */
    int64_t next, end;     /* ids [next, end) are this broker's to hand out */
    int64_t ready_end;     /* a committed block of this broker's not started yet; 0 none */
    int64_t pending_end;   /* a block proposed and not seen committed; 0 none */
    uint64_t pending_ms;   /* when it was proposed (monotonic ms) */
    int64_t committed_end; /* every committed block, anyone's, ends at or below this */
} sl_pidblocks_t;

void sl_pidblocks_init(sl_pidblocks_t *pb, int32_t node);

/* The end of the block to propose now, or 0 when none is due (one is pending or ready, or more
 * than half of the current block is left). */
int64_t sl_pidblocks_want(const sl_pidblocks_t *pb, uint64_t now_ms);

/* The block ending at `end` (from sl_pidblocks_want) was proposed at now_ms. */
void sl_pidblocks_proposed(sl_pidblocks_t *pb, int64_t end, uint64_t now_ms);

/* A SL_META_PID_BLOCK record ending at `end` was committed (this broker's or another's). */
void sl_pidblocks_committed(sl_pidblocks_t *pb, int64_t end);

/* Takes the next id into *pid; false when no committed block of this broker's has one left
 * (the caller answers a retriable error and proposes, see sl_pidblocks_want). */
bool sl_pidblocks_take(sl_pidblocks_t *pb, int64_t *pid);

#endif

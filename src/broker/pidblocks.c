/* pidblocks.c -- a cluster member's producer-id blocks (pidblocks.h). */
#include "broker/pidblocks.h"

#include <string.h>

#include "common/util.h"

void sl_pidblocks_init(sl_pidblocks_t *pb, int32_t node) {
    memset(pb, 0, sizeof *pb);
    pb->node = node < 0 ? 0 : node;
}

int64_t sl_pidblocks_want(const sl_pidblocks_t *pb, uint64_t now_ms) {
    if (pb->ready_end) {
        return 0;
    }
    if (pb->pending_end && now_ms - pb->pending_ms < SL_PID_PENDING_MS) {
        return 0;
    }
    if (pb->end - pb->next > SL_PID_BLOCK / 2) {
        return 0;
    }
    /* Above everything committed, in use or proposed (a proposal given up may still commit). */
    int64_t base = SL_MAX(pb->committed_end, SL_MAX(pb->end, pb->pending_end));
    int64_t k = (base + SL_PID_BLOCK - 1) / SL_PID_BLOCK;
    int64_t want = pb->node % SL_PID_STRIDE;
    k += ((want - k % SL_PID_STRIDE) + SL_PID_STRIDE) % SL_PID_STRIDE;
    return (k + 1) * SL_PID_BLOCK;
}

void sl_pidblocks_proposed(sl_pidblocks_t *pb, int64_t end, uint64_t now_ms) {
    pb->pending_end = end;
    pb->pending_ms = now_ms;
}

void sl_pidblocks_committed(sl_pidblocks_t *pb, int64_t end) {
    pb->committed_end = SL_MAX(pb->committed_end, end);
    if (pb->pending_end && end == pb->pending_end) {
        pb->ready_end = end;
        pb->pending_end = 0;
    }
}

bool sl_pidblocks_take(sl_pidblocks_t *pb, int64_t *pid) {
    if (pb->next >= pb->end && pb->ready_end) {
        pb->next = pb->ready_end - SL_PID_BLOCK;
        pb->end = pb->ready_end;
        pb->ready_end = 0;
    }
    if (pb->next >= pb->end) {
        return false;
    }
    *pid = pb->next++;
    return true;
}

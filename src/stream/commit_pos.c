/* commit_pos.c -- which offset a checkpoint commits for an input partition (commit_pos.h). */
#include "commit_pos.h"

int64_t sl_commit_pos(bool one_input, int64_t own, int64_t queued, int64_t consumer) {
    if (queued >= 0) {
        return queued; /* the first record not processed yet */
    }
    if (one_input) {
        return own >= 0 ? own : -1;
    }
    return consumer >= 0 ? consumer : -1;
}

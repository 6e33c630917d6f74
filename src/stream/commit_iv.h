/* commit_iv.h -- the adaptive commit (checkpoint) interval of a lane.
 *
 * After every checkpoint the lane feeds in how many input records it covered and how long its
 * transaction took; the rule (commit_iv.c) answers the next interval, within [min_ms, max_ms]:
 *   heavy  txn_ms * 4 >= interval (the commit is a quarter of the cycle or more): double it, so
 *          fixed per-transaction costs are shared by more records;
 *   light  records < light_records and txn_ms * 4 < interval / 2 (few records: latency matters,
 *          and at half the interval the commit stays below the heavy mark): halve it;
 *   else   keep it.
 * Heavy wins over light: a slow commit is never made more frequent. A fixed interval (the user
 * set commit.interval.ms) has min_ms == max_ms, so it never moves. Pure arithmetic: no clock. */
#ifndef SL_STREAM_COMMIT_IV_H
#define SL_STREAM_COMMIT_IV_H

#include <stdint.h>

typedef struct sl_commit_iv {
    int min_ms, max_ms;     /* bounds; equal for a fixed interval */
    uint64_t light_records; /* fewer input records than this per checkpoint is light load */
} sl_commit_iv_t;

/* The interval after a checkpoint that ran `cur_ms` after the previous one's start, covered
 * `records` input records and whose transaction took `txn_ms`. The result is within the bounds
 * even when cur_ms is not. */
int sl_commit_iv_next(const sl_commit_iv_t *c, int cur_ms, uint64_t records, uint64_t txn_ms);

#endif

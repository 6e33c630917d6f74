/* commit_pos.h -- the offset a checkpoint commits for one input partition of a task.
 *
 * A task's committed offset must be where its own processing stands, never a position the
 * consumer reports for records the task did not take: a lane that took a repartition partition
 * over after a kill -9 and a static restart committed the consumer's position (4,039: just past
 * the dead instance's abort marker) for a partition it had taken no record from, and the 149
 * committed records between the previous owner's offset (2,511) and that marker were never
 * counted (docs/stream.md, "Static membership"). Pure: no librdkafka. */
#ifndef SL_STREAM_COMMIT_POS_H
#define SL_STREAM_COMMIT_POS_H

#include <stdbool.h>
#include <stdint.h>

/* The offset to commit for an input partition, or -1: commit nothing for it (its committed
 * offset stays as the previous checkpoint or owner left it).
 *   one_input  the task reads one input (its next offset is tracked by the lane);
 *   own        one input: the offset after the last record the task took, or the partition's end
 *              when only markers followed it; -1 when it took nothing since the assignment;
 *   queued     the offset of the partition's first queued, unprocessed record, or -1;
 *   consumer   the consumer's position for it (-1001 or any negative: none), used only for the
 *              inputs of a task with several inputs, which the lane does not track one by one. */
int64_t sl_commit_pos(bool one_input, int64_t own, int64_t queued, int64_t consumer);

#endif

/* pstate.h -- idempotent-producer state of one partition: per producer id, its epoch and the
 * sequence ranges and offsets of its last 5 batches (Kafka's max.in.flight for idempotence), so a
 * retried batch is answered with its original offsets instead of being written twice.
 * Thread: the partition's owner (the loop thread). */
#ifndef SL_PSTATE_H
#define SL_PSTATE_H

#include <stddef.h>
#include <stdint.h>

#define SL_PSTATE_WINDOW 5

typedef struct sl_pstate sl_pstate_t;

typedef enum sl_seq_verdict {
    SL_SEQ_OK,        /* append it */
    SL_SEQ_DUPLICATE, /* already stored: answer with the original offsets */
    SL_SEQ_OUT_OF_ORDER,
    SL_SEQ_FENCED /* older epoch */
} sl_seq_verdict_t;

sl_pstate_t *sl_pstate_new(void);
void sl_pstate_free(sl_pstate_t *ps);

/* Judges a batch of producer `pid`/`epoch` carrying sequences [first_seq, last_seq]. For a
 * duplicate, *base_out and *last_out get the offsets it was stored at. */
sl_seq_verdict_t sl_pstate_check(const sl_pstate_t *ps, int64_t pid, int16_t epoch,
                                 int32_t first_seq, int32_t last_seq, int64_t *base_out,
                                 int64_t *last_out);
/* Records a stored batch (after the append, or while replaying the log at start-up). */
void sl_pstate_update(sl_pstate_t *ps, int64_t pid, int16_t epoch, int32_t first_seq,
                      int32_t last_seq, int64_t base_offset, int64_t last_offset);
/* Number of producers tracked. */
size_t sl_pstate_count(const sl_pstate_t *ps);

#endif

/* seqtrack.h -- loss and duplicate accounting from per-producer sequence numbers. Every record a
 * benchmark sends carries (producer, seq); receivers mark them here; at the end, a sequence sent
 * but never seen is lost and one seen twice is duplicated. Thread-safe (one mutex). */
#ifndef SL_SEQTRACK_H
#define SL_SEQTRACK_H

#include <stdint.h>

typedef struct sl_seqtrack sl_seqtrack_t;

sl_seqtrack_t *sl_seqtrack_new(int n_producers);
void sl_seqtrack_free(sl_seqtrack_t *st);
/* Records that `producer` sent sequences [0, n) in total (call at the end). */
void sl_seqtrack_sent(sl_seqtrack_t *st, int producer, uint64_t n);
/* Marks one received record; returns 1 if it was a duplicate, 0 if new, -1 if out of range. */
int sl_seqtrack_seen(sl_seqtrack_t *st, int producer, uint64_t seq);

typedef struct sl_seq_totals {
    uint64_t sent, received, lost, duplicated;
} sl_seq_totals_t;
sl_seq_totals_t sl_seqtrack_totals(sl_seqtrack_t *st);

#endif

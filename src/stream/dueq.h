/* dueq.h -- a queue of keys due at a time: a binary min-heap on `at`, each entry owning a copy of
 * its key. Windowed aggregates fire windows from it and windowed joins expire buffered records;
 * both pop while the head is due (at <= watermark). Thread: the owner's. */
#ifndef SL_STREAM_DUEQ_H
#define SL_STREAM_DUEQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

typedef struct sl_due {
    int64_t at;
    uint8_t *k; /* the key, owned by the entry (free it after sl_dueq_pop) */
    size_t klen;
} sl_due_t;

typedef struct sl_dueq {
    sl_due_t *v;
    size_t n, cap;
} sl_dueq_t;

/* Adds a copy of key k, due at `at`. */
void sl_dueq_push(sl_dueq_t *q, int64_t at, sl_bytes_t k);
/* Removes and returns the earliest entry; q must not be empty. The caller frees its key. */
sl_due_t sl_dueq_pop(sl_dueq_t *q);
/* Whether the earliest entry is due at `now` (false when empty). */
static inline bool sl_dueq_due(const sl_dueq_t *q, int64_t now) {
    return q->n && q->v[0].at <= now;
}
/* Empties the queue (keys freed); sl_dueq_free also releases its array. */
void sl_dueq_clear(sl_dueq_t *q);
void sl_dueq_free(sl_dueq_t *q);

#endif

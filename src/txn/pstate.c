/* pstate.c -- per-partition idempotent producer state (see pstate.h): an open-addressing hash
 * from producer id to its epoch and a ring of its last SL_PSTATE_WINDOW batches.
 *
 * Sequence rules (Kafka's): within an epoch, a batch must start right after the last one
 * (sequences wrap at INT32_MAX); a batch equal to one of the last five is a duplicate; a newer
 * epoch restarts at sequence 0; an older epoch is fenced. A producer id with no state here (new,
 * or whose batches were all written before the log's replayed tail) is accepted at any sequence. */
#include "pstate.h"

#include <string.h>

#include "common/util.h"

typedef struct pbatch {
    int32_t first_seq, last_seq;
    int64_t base, last;
} pbatch_t;

typedef struct pentry {
    int64_t pid; /* -1: empty slot */
    int16_t epoch;
    int n;    /* batches in the ring */
    int head; /* index of the newest */
    pbatch_t ring[SL_PSTATE_WINDOW];
} pentry_t;

struct sl_pstate {
    pentry_t *slots;
    size_t cap, count;
};

sl_pstate_t *sl_pstate_new(void) {
    sl_pstate_t *ps = sl_xcalloc(1, sizeof *ps);
    return ps;
}

void sl_pstate_free(sl_pstate_t *ps) {
    if (ps) {
        free(ps->slots);
        free(ps);
    }
}

size_t sl_pstate_count(const sl_pstate_t *ps) {
    return ps->count;
}

static size_t slot_of(int64_t pid, size_t cap) {
    uint64_t h = (uint64_t)pid * 0x9e3779b97f4a7c15ull;
    return (size_t)(h >> 17) & (cap - 1);
}

static pentry_t *find(const sl_pstate_t *ps, int64_t pid) {
    if (!ps->cap) {
        return NULL;
    }
    for (size_t i = slot_of(pid, ps->cap);; i = (i + 1) & (ps->cap - 1)) {
        if (ps->slots[i].pid == pid) {
            return &ps->slots[i];
        }
        if (ps->slots[i].pid == -1) {
            return NULL;
        }
    }
}

static pentry_t *insert(sl_pstate_t *ps, int64_t pid) {
    if ((ps->count + 1) * 2 > ps->cap) {
        size_t ncap = ps->cap ? ps->cap * 2 : 16;
        pentry_t *old = ps->slots;
        size_t ocap = ps->cap;
        ps->slots = sl_xmalloc(ncap * sizeof *ps->slots);
        for (size_t i = 0; i < ncap; i++) {
            ps->slots[i].pid = -1;
        }
        ps->cap = ncap;
        for (size_t i = 0; i < ocap; i++) {
            if (old[i].pid != -1) {
                size_t k = slot_of(old[i].pid, ncap);
                while (ps->slots[k].pid != -1) {
                    k = (k + 1) & (ncap - 1);
                }
                ps->slots[k] = old[i];
            }
        }
        free(old);
    }
    size_t k = slot_of(pid, ps->cap);
    while (ps->slots[k].pid != -1) {
        k = (k + 1) & (ps->cap - 1);
    }
    memset(&ps->slots[k], 0, sizeof ps->slots[k]);
    ps->slots[k].pid = pid;
    ps->count++;
    return &ps->slots[k];
}

static int32_t next_seq(int32_t s) {
    return s == INT32_MAX ? 0 : s + 1;
}

sl_seq_verdict_t sl_pstate_check(const sl_pstate_t *ps, int64_t pid, int16_t epoch,
                                 int32_t first_seq, int32_t last_seq, int64_t *base_out,
                                 int64_t *last_out) {
    const pentry_t *e = find(ps, pid);
    if (!e || e->n == 0) {
        return SL_SEQ_OK;
    }
    if (epoch < e->epoch) {
        return SL_SEQ_FENCED;
    }
    if (epoch > e->epoch) {
        return first_seq == 0 ? SL_SEQ_OK : SL_SEQ_OUT_OF_ORDER;
    }
    for (int i = 0; i < e->n; i++) {
        const pbatch_t *b = &e->ring[(e->head - i + SL_PSTATE_WINDOW) % SL_PSTATE_WINDOW];
        if (b->first_seq == first_seq && b->last_seq == last_seq) {
            *base_out = b->base;
            *last_out = b->last;
            return SL_SEQ_DUPLICATE;
        }
    }
    return first_seq == next_seq(e->ring[e->head].last_seq) ? SL_SEQ_OK : SL_SEQ_OUT_OF_ORDER;
}

void sl_pstate_update(sl_pstate_t *ps, int64_t pid, int16_t epoch, int32_t first_seq,
                      int32_t last_seq, int64_t base_offset, int64_t last_offset) {
    pentry_t *e = find(ps, pid);
    if (!e) {
        e = insert(ps, pid);
    }
    if (epoch != e->epoch || e->n == 0) {
        e->epoch = epoch;
        e->n = 0;
        e->head = SL_PSTATE_WINDOW - 1;
    }
    e->head = (e->head + 1) % SL_PSTATE_WINDOW;
    e->ring[e->head] = (pbatch_t){first_seq, last_seq, base_offset, last_offset};
    if (e->n < SL_PSTATE_WINDOW) {
        e->n++;
    }
}

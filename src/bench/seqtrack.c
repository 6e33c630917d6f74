/* seqtrack.c -- per-producer bitmaps of received sequence numbers (see seqtrack.h). Bitmaps grow
 * by doubling as higher sequences arrive; memory is one bit per record sent. */
#include "seqtrack.h"

#include <pthread.h>
#include <string.h>

#include "common/util.h"

typedef struct pbits {
    uint64_t *words;
    uint64_t n_words;
    uint64_t sent;
    uint64_t received, dups;
} pbits_t;

struct sl_seqtrack {
    pthread_mutex_t mu;
    int n;
    pbits_t *p;
};

#define MAX_SEQ (1ull << 36) /* 64 G records per producer: far beyond any run */

sl_seqtrack_t *sl_seqtrack_new(int n_producers) {
    sl_seqtrack_t *st = sl_xcalloc(1, sizeof *st);
    pthread_mutex_init(&st->mu, NULL);
    st->n = n_producers;
    st->p = sl_xcalloc((size_t)n_producers + 1, sizeof *st->p);
    return st;
}

void sl_seqtrack_free(sl_seqtrack_t *st) {
    if (!st) {
        return;
    }
    for (int i = 0; i < st->n; i++) {
        free(st->p[i].words);
    }
    free(st->p);
    pthread_mutex_destroy(&st->mu);
    free(st);
}

void sl_seqtrack_sent(sl_seqtrack_t *st, int producer, uint64_t n) {
    pthread_mutex_lock(&st->mu);
    if (producer >= 0 && producer < st->n) {
        st->p[producer].sent = n;
    }
    pthread_mutex_unlock(&st->mu);
}

int sl_seqtrack_seen(sl_seqtrack_t *st, int producer, uint64_t seq) {
    if (producer < 0 || producer >= st->n || seq >= MAX_SEQ) {
        return -1;
    }
    pthread_mutex_lock(&st->mu);
    pbits_t *b = &st->p[producer];
    uint64_t w = seq / 64;
    if (w >= b->n_words) {
        uint64_t n = b->n_words ? b->n_words : 1024;
        while (n <= w) {
            n *= 2;
        }
        b->words = sl_xrealloc(b->words, n * sizeof *b->words);
        memset(b->words + b->n_words, 0, (n - b->n_words) * sizeof *b->words);
        b->n_words = n;
    }
    uint64_t bit = 1ull << (seq % 64);
    int dup = (b->words[w] & bit) != 0;
    b->words[w] |= bit;
    if (dup) {
        b->dups++;
    } else {
        b->received++;
    }
    pthread_mutex_unlock(&st->mu);
    return dup;
}

sl_seq_totals_t sl_seqtrack_totals(sl_seqtrack_t *st) {
    sl_seq_totals_t t = {0, 0, 0, 0};
    pthread_mutex_lock(&st->mu);
    for (int i = 0; i < st->n; i++) {
        pbits_t *b = &st->p[i];
        uint64_t got_below = 0;
        for (uint64_t s = 0; s < b->sent; s += 64) {
            uint64_t w = s / 64;
            uint64_t word = w < b->n_words ? b->words[w] : 0;
            uint64_t span = b->sent - s < 64 ? b->sent - s : 64;
            uint64_t mask = span == 64 ? ~0ull : ((1ull << span) - 1);
            got_below += (uint64_t)__builtin_popcountll(word & mask);
        }
        t.sent += b->sent;
        t.received += b->received;
        t.lost += b->sent - got_below;
        t.duplicated += b->dups;
    }
    pthread_mutex_unlock(&st->mu);
    return t;
}

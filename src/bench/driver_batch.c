/* driver_batch.c -- the design's baseline: records land in a table and become visible to
 * consumers only at the next periodic synchronisation (every batch.sync.ms), as a batch ETL
 * pipeline would deliver them. In-process, so it measures the batching delay itself. */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "bench/bench.h"
#include "common/clock.h"
#include "common/util.h"

typedef struct row {
    uint8_t *data;
    size_t len;
} row_t;

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    row_t *rows;
    size_t n, cap;
    size_t visible; /* rows below this index have been synchronised */
    uint64_t sync_ms;
    uint64_t last_sync_ms;
    int consumers;
} tbl = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER};

typedef struct bcons {
    size_t next;
    int index;
} bcons_t;

static sl_err_t b_setup(const sl_bench_conf_t *c, char *err) {
    (void)err;
    pthread_mutex_lock(&tbl.mu);
    for (size_t i = 0; i < tbl.n; i++) {
        free(tbl.rows[i].data);
    }
    tbl.n = tbl.visible = 0;
    tbl.sync_ms = (uint64_t)c->batch_sync_ms;
    tbl.last_sync_ms = sl_mono_ms();
    tbl.consumers = (int)c->consumers;
    pthread_mutex_unlock(&tbl.mu);
    return SL_OK;
}

static void *b_open_producer(const sl_bench_conf_t *c, int index, char *err) {
    (void)c;
    (void)err;
    return (void *)(intptr_t)(index + 1);
}

static sl_err_t b_send(void *h, const void *key, size_t klen, const void *val, size_t vlen) {
    (void)h;
    (void)key;
    (void)klen;
    uint8_t *copy = sl_xmalloc(vlen);
    memcpy(copy, val, vlen);
    pthread_mutex_lock(&tbl.mu);
    if (tbl.n == tbl.cap) {
        tbl.cap = tbl.cap ? tbl.cap * 2 : 4096;
        tbl.rows = sl_xrealloc(tbl.rows, tbl.cap * sizeof *tbl.rows);
    }
    tbl.rows[tbl.n++] = (row_t){copy, vlen};
    pthread_mutex_unlock(&tbl.mu);
    return SL_OK;
}

static int64_t b_flush(void *h, int timeout_ms) {
    (void)h;
    (void)timeout_ms;
    return 0; /* a table insert is its own acknowledgement; counted by the runner as sent */
}

static void b_close_producer(void *h) {
    (void)h;
}

static void *b_open_consumer(const sl_bench_conf_t *c, int index, char *err) {
    (void)c;
    (void)err;
    bcons_t *bc = sl_xcalloc(1, sizeof *bc);
    bc->index = index;
    return bc;
}

/* The synchronisation: whoever notices the period has passed publishes everything inserted. */
static void maybe_sync(void) {
    uint64_t now = sl_mono_ms();
    if (now - tbl.last_sync_ms >= tbl.sync_ms) {
        tbl.visible = tbl.n;
        tbl.last_sync_ms = now - (now - tbl.last_sync_ms) % tbl.sync_ms;
        pthread_cond_broadcast(&tbl.cv);
    }
}

static int b_receive(void *h, int timeout_ms, void (*fn)(void *, const void *, size_t), void *arg) {
    bcons_t *bc = h;
    pthread_mutex_lock(&tbl.mu);
    maybe_sync();
    if (bc->next >= tbl.visible) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        long ms = SL_MIN(timeout_ms, 5);
        ts.tv_nsec += ms * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&tbl.cv, &tbl.mu, &ts);
        maybe_sync();
    }
    int n = 0;
    /* Consumers split the rows: consumer i takes rows with index % consumers == i. */
    while (bc->next < tbl.visible) {
        size_t i = bc->next++;
        if ((int)(i % (size_t)tbl.consumers) == bc->index) {
            row_t r = tbl.rows[i];
            pthread_mutex_unlock(&tbl.mu);
            fn(arg, r.data, r.len);
            pthread_mutex_lock(&tbl.mu);
            n++;
        }
    }
    pthread_mutex_unlock(&tbl.mu);
    return n;
}

static void b_close_consumer(void *h) {
    free(h);
}

const sl_bench_driver_t sl_bench_driver_batch = {
    "batch",          b_setup,         b_open_producer, b_send,           b_flush,
    b_close_producer, b_open_consumer, b_receive,       b_close_consumer,
};

__attribute__((destructor)) static void b_free_table(void) {
    for (size_t i = 0; i < tbl.n; i++) {
        free(tbl.rows[i].data);
    }
    free(tbl.rows);
}

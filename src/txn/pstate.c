/* pstate.c -- per-partition idempotent producer state (see pstate.h): an open-addressing hash
 * from producer id to its epoch and a ring of its last SL_PSTATE_WINDOW batches.
 *
 * Sequence rules (Kafka's): within an epoch, a batch must start right after the last one
 * (sequences wrap at INT32_MAX); a batch equal to one of the last five is a duplicate; a newer
 * epoch restarts at sequence 0; an older epoch is fenced. A producer id with no state here (new,
 * or whose batches were all written before the log's replayed tail) is accepted at any sequence.
 *
 * Snapshot file (big-endian):
 *   "SLPS" version(int32 = 1) offset(int64) n_producers(int32)
 *     { pid(int64) epoch(int16) txn_first(int64) n(int32) { first_seq last_seq (int32) base last
 *       (int64) } x n, oldest first } x n_producers
 *   n_aborted(int32) { pid first last (int64) } x n_aborted
 *   crc(uint32): CRC-32C of everything before it */
#include "pstate.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/buf.h"
#include "common/codec.h"
#include "common/crc32c.h"
#include "common/log.h"
#include "common/os.h"
#include "common/util.h"
#include "storage/batch.h"

#define SNAPSHOT_MAGIC   0x534c5053u /* "SLPS" */
#define SNAPSHOT_VERSION 1

typedef struct pbatch {
    int32_t first_seq, last_seq;
    int64_t base, last;
} pbatch_t;

typedef struct pentry {
    int64_t pid; /* -1: empty slot */
    int16_t epoch;
    int n;             /* batches in the ring */
    int head;          /* index of the newest */
    int64_t txn_first; /* first offset of the open transaction, or -1 */
    /* The last transaction ended here: its first offset and its marker's (-1: none known; not
     * in snapshots), so that a truncation that removes the marker opens it again. */
    int64_t ended_first, ended_at;
    pbatch_t ring[SL_PSTATE_WINDOW];
} pentry_t;

struct sl_pstate {
    pentry_t *slots;
    size_t cap, count;
    size_t n_open;
    int64_t first_unstable;    /* smallest txn_first, or -1 */
    sl_aborted_txn_t *aborted; /* by marker offset */
    size_t n_aborted, cap_aborted;
};

sl_pstate_t *sl_pstate_new(void) {
    sl_pstate_t *ps = sl_xcalloc(1, sizeof *ps);
    ps->first_unstable = -1;
    return ps;
}

void sl_pstate_free(sl_pstate_t *ps) {
    if (ps) {
        free(ps->slots);
        free(ps->aborted);
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
    ps->slots[k].txn_first = -1;
    ps->slots[k].ended_first = ps->slots[k].ended_at = -1;
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
    if (!e) {
        return SL_SEQ_OK;
    }
    if (epoch < e->epoch) {
        return SL_SEQ_FENCED;
    }
    if (e->n == 0) {
        return SL_SEQ_OK;
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

int sl_pstate_epoch(const sl_pstate_t *ps, int64_t pid) {
    const pentry_t *e = find(ps, pid);
    return e ? e->epoch : -1;
}

/* ---- transactions ---- */

void sl_pstate_txn_begin(sl_pstate_t *ps, int64_t pid, int16_t epoch, int64_t offset) {
    pentry_t *e = find(ps, pid);
    if (!e) {
        e = insert(ps, pid);
        e->epoch = epoch;
    }
    if (e->txn_first >= 0) {
        return;
    }
    e->txn_first = offset;
    ps->n_open++;
    if (ps->first_unstable < 0 || offset < ps->first_unstable) {
        ps->first_unstable = offset;
    }
}

int64_t sl_pstate_txn_first(const sl_pstate_t *ps, int64_t pid) {
    const pentry_t *e = find(ps, pid);
    return e ? e->txn_first : -1;
}

/* n_open and first_unstable from the entries. */
static void recount_open(sl_pstate_t *ps) {
    ps->n_open = 0;
    ps->first_unstable = -1;
    for (size_t i = 0; i < ps->cap; i++) {
        int64_t f = ps->slots[i].pid >= 0 ? ps->slots[i].txn_first : -1;
        if (f >= 0) {
            ps->n_open++;
            if (ps->first_unstable < 0 || f < ps->first_unstable) {
                ps->first_unstable = f;
            }
        }
    }
}

void sl_pstate_txn_end(sl_pstate_t *ps, int64_t pid, int16_t epoch, int type, int64_t offset) {
    pentry_t *e = find(ps, pid);
    if (!e) {
        e = insert(ps, pid);
        e->epoch = epoch;
    }
    if (epoch > e->epoch) {
        e->epoch = epoch; /* a bumped epoch: the next batch starts at sequence 0 */
        e->n = 0;
    }
    if (e->txn_first < 0) {
        return; /* nothing of this producer here since its last marker */
    }
    if (type == SL_CONTROL_ABORT) {
        if (ps->n_aborted == ps->cap_aborted) {
            ps->cap_aborted = ps->cap_aborted ? ps->cap_aborted * 2 : 8;
            ps->aborted = sl_xrealloc(ps->aborted, ps->cap_aborted * sizeof *ps->aborted);
        }
        ps->aborted[ps->n_aborted++] = (sl_aborted_txn_t){pid, e->txn_first, offset};
    }
    int64_t first = e->txn_first;
    e->txn_first = -1;
    e->ended_first = first;
    e->ended_at = offset;
    ps->n_open--;
    if (first == ps->first_unstable) {
        recount_open(ps);
    }
}

int64_t sl_pstate_first_unstable(const sl_pstate_t *ps) {
    return ps->first_unstable;
}

void sl_pstate_each_open(const sl_pstate_t *ps,
                         void (*fn)(int64_t pid, int16_t epoch, int64_t first, void *opaque),
                         void *opaque) {
    for (size_t i = 0; i < ps->cap && ps->n_open; i++) {
        const pentry_t *e = &ps->slots[i];
        if (e->pid >= 0 && e->txn_first >= 0) {
            fn(e->pid, e->epoch, e->txn_first, opaque);
        }
    }
}

void sl_pstate_each(const sl_pstate_t *ps, sl_pstate_each_fn *fn, void *opaque) {
    for (size_t i = 0; i < ps->cap; i++) {
        const pentry_t *e = &ps->slots[i];
        if (e->pid >= 0) {
            fn(e->pid, e->epoch, e->n ? e->ring[e->head].last_seq : -1, e->txn_first, opaque);
        }
    }
}

void sl_pstate_aborted(const sl_pstate_t *ps, int64_t from, int64_t to,
                       void (*fn)(const sl_aborted_txn_t *a, void *opaque), void *opaque) {
    /* Sorted by marker offset: skip those that ended before `from`. */
    size_t lo = 0, hi = ps->n_aborted;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (ps->aborted[mid].last < from) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    for (size_t i = lo; i < ps->n_aborted; i++) {
        if (ps->aborted[i].first < to) {
            fn(&ps->aborted[i], opaque);
        }
    }
}

size_t sl_pstate_aborted_count(const sl_pstate_t *ps) {
    return ps->n_aborted;
}

void sl_pstate_trim(sl_pstate_t *ps, int64_t log_start) {
    size_t k = 0;
    while (k < ps->n_aborted && ps->aborted[k].last < log_start) {
        k++;
    }
    if (k) {
        memmove(ps->aborted, ps->aborted + k, (ps->n_aborted - k) * sizeof *ps->aborted);
        ps->n_aborted -= k;
    }
}

void sl_pstate_truncate(sl_pstate_t *ps, int64_t cut) {
    for (size_t i = 0; i < ps->cap; i++) {
        pentry_t *e = &ps->slots[i];
        if (e->pid < 0) {
            continue;
        }
        /* The newest batches are at the head: drop those at or past the cut. */
        while (e->n > 0 && e->ring[e->head].base >= cut) {
            e->head = (e->head + SL_PSTATE_WINDOW - 1) % SL_PSTATE_WINDOW;
            e->n--;
        }
        if (e->txn_first >= cut) {
            e->txn_first = -1; /* begun in the removed tail */
        }
        if (e->txn_first < 0 && e->ended_at >= cut && e->ended_first >= 0 && e->ended_first < cut) {
            e->txn_first = e->ended_first; /* its marker was removed: open again */
        }
        if (e->ended_at >= cut) {
            e->ended_first = e->ended_at = -1;
        }
    }
    size_t n = ps->n_aborted;
    while (n > 0 && ps->aborted[n - 1].last >= cut) {
        n--; /* markers removed (by marker offset, so the newest are last) */
    }
    ps->n_aborted = n;
    recount_open(ps);
}

void sl_pstate_replay(sl_pstate_t *ps, const sl_batch_info_t *info, int control) {
    if (info->producer_id < 0) {
        return;
    }
    if (info->attributes & SL_BATCH_ATTR_CONTROL) {
        if (control >= 0) {
            sl_pstate_txn_end(ps, info->producer_id, info->producer_epoch, control,
                              info->base_offset);
        }
        return;
    }
    if (info->base_sequence >= 0) {
        int32_t last_seq = (int32_t)(((int64_t)info->base_sequence + info->last_offset_delta) %
                                     ((int64_t)INT32_MAX + 1));
        sl_pstate_update(ps, info->producer_id, info->producer_epoch, info->base_sequence, last_seq,
                         info->base_offset, info->base_offset + info->last_offset_delta);
    }
    if (info->attributes & SL_BATCH_ATTR_TRANSACTIONAL) {
        sl_pstate_txn_begin(ps, info->producer_id, info->producer_epoch, info->base_offset);
    }
}

/* ---- snapshots ---- */

sl_err_t sl_pstate_save(const sl_pstate_t *ps, const char *dir, int64_t offset) {
    sl_buf_t buf = {0};
    sl_writer_t wr = {&buf};
    sl_wr_i32(&wr, (int32_t)SNAPSHOT_MAGIC);
    sl_wr_i32(&wr, SNAPSHOT_VERSION);
    sl_wr_i64(&wr, offset);
    sl_wr_i32(&wr, (int32_t)ps->count);
    for (size_t i = 0; i < ps->cap; i++) {
        const pentry_t *e = &ps->slots[i];
        if (e->pid < 0) {
            continue;
        }
        sl_wr_i64(&wr, e->pid);
        sl_wr_i16(&wr, e->epoch);
        sl_wr_i64(&wr, e->txn_first);
        sl_wr_i32(&wr, e->n);
        for (int k = e->n - 1; k >= 0; k--) {
            const pbatch_t *b = &e->ring[(e->head - k + SL_PSTATE_WINDOW) % SL_PSTATE_WINDOW];
            sl_wr_i32(&wr, b->first_seq);
            sl_wr_i32(&wr, b->last_seq);
            sl_wr_i64(&wr, b->base);
            sl_wr_i64(&wr, b->last);
        }
    }
    sl_wr_i32(&wr, (int32_t)ps->n_aborted);
    for (size_t i = 0; i < ps->n_aborted; i++) {
        sl_wr_i64(&wr, ps->aborted[i].pid);
        sl_wr_i64(&wr, ps->aborted[i].first);
        sl_wr_i64(&wr, ps->aborted[i].last);
    }
    sl_wr_i32(&wr, (int32_t)sl_crc32c(0, buf.data, buf.len));
    char path[4096];
    snprintf(path, sizeof path, "%s/producer.snapshot", dir);
    sl_err_t rc = SL_OK;
    if (sl_os_write_file_atomic(path, buf.data, buf.len) < 0) {
        sl_log(SL_LOG_WARN, "storage", "file=%s op=snapshot err=\"%s\"", path, strerror(errno));
        rc = SL_ERR_IO;
    }
    sl_buf_fini(&buf);
    return rc;
}

sl_pstate_t *sl_pstate_load(const char *dir, int64_t *offset_out) {
    char path[4096];
    snprintf(path, sizeof path, "%s/producer.snapshot", dir);
    int fd = sl_os.open(path, O_RDONLY, 0);
    struct stat st;
    if (fd < 0) {
        return NULL;
    }
    if (fstat(fd, &st) < 0 || st.st_size < 24 || st.st_size > (1 << 30)) {
        sl_os.close(fd);
        return NULL;
    }
    size_t len = (size_t)st.st_size;
    uint8_t *data = sl_xmalloc(len);
    ssize_t got = sl_os_pread_all(fd, data, len, 0);
    sl_os.close(fd);
    if (got != (ssize_t)len || sl_crc32c(0, data, len - 4) != sl_load_be32(data + len - 4)) {
        free(data);
        return NULL;
    }
    sl_reader_t rd = sl_reader_init(data, len - 4);
    sl_pstate_t *ps = NULL;
    if ((uint32_t)sl_rd_i32(&rd) != SNAPSHOT_MAGIC || sl_rd_i32(&rd) != SNAPSHOT_VERSION) {
        free(data);
        return NULL;
    }
    ps = sl_pstate_new();
    int64_t offset = sl_rd_i64(&rd);
    int32_t n = sl_rd_i32(&rd);
    for (int32_t i = 0; i < n && !rd.err; i++) {
        int64_t pid = sl_rd_i64(&rd);
        int16_t epoch = sl_rd_i16(&rd);
        int64_t txn_first = sl_rd_i64(&rd);
        int32_t nb = sl_rd_i32(&rd);
        if (rd.err || pid < 0 || nb < 0 || nb > SL_PSTATE_WINDOW || find(ps, pid)) {
            rd.err = SL_ERR_CORRUPT;
            break;
        }
        pentry_t *e = insert(ps, pid);
        e->epoch = epoch;
        for (int32_t k = 0; k < nb; k++) {
            int32_t fs = sl_rd_i32(&rd), ls = sl_rd_i32(&rd);
            int64_t base = sl_rd_i64(&rd), last = sl_rd_i64(&rd);
            sl_pstate_update(ps, pid, epoch, fs, ls, base, last);
        }
        if (txn_first >= 0) {
            sl_pstate_txn_begin(ps, pid, epoch, txn_first);
        }
    }
    int32_t na = sl_rd_i32(&rd);
    for (int32_t i = 0; i < na && !rd.err; i++) {
        sl_aborted_txn_t a;
        a.pid = sl_rd_i64(&rd);
        a.first = sl_rd_i64(&rd);
        a.last = sl_rd_i64(&rd);
        if (ps->n_aborted == ps->cap_aborted) {
            ps->cap_aborted = ps->cap_aborted ? ps->cap_aborted * 2 : 8;
            ps->aborted = sl_xrealloc(ps->aborted, ps->cap_aborted * sizeof *ps->aborted);
        }
        ps->aborted[ps->n_aborted++] = a;
    }
    bool ok = !rd.err && na >= 0 && sl_rd_left(&rd) == 0;
    free(data);
    if (!ok) {
        sl_pstate_free(ps);
        return NULL;
    }
    *offset_out = offset;
    return ps;
}

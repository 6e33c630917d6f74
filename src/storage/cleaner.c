/* cleaner.c -- log compaction: the clean of one job's segments, and the cleaner threads.
 * What a clean keeps is in cleaner.h; the swap of the copies is plog.c's (sl_plog_clean_finish).
 *
 * A job is three walks over its segments, each batch CRC-checked as it is read:
 *   1. headers: which transactions committed or aborted (their markers), and each producer id's
 *      last batch;
 *   2. the dirty segments' records: key -> latest offset (committed and non-transactional
 *      records only), until the map holds map_max_bytes;
 *   3. every segment up to where the map stopped: the filter, writing a copy only from the first
 *      batch that changes (the unchanged prefix is copied as bytes), with the copy's indexes
 *      built as it goes. A segment with nothing to drop is left alone.
 * Keys are compared whole (never by hash alone), so a collision can never drop a live record. */
#include "cleaner.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/codec.h"
#include "common/crc32c.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/os.h"
#include "common/util.h"
#include "storage/batch.h"
#include "storage/compress.h"
#include "storage/plog.h"
#include "storage/segment.h"

#define READ_CHUNK       (1u << 20)
#define DECOMP_CAP       ((size_t)256 << 20) /* a stored batch decompresses to at most this */
#define CRC_START        21
#define RECORD_MIN_BYTES 7

/* ---- key -> latest offset ---- */
typedef struct kslot {
    uint64_t h; /* 0: empty */
    int64_t offset;
    size_t koff;
    uint32_t klen;
} kslot_t;

typedef struct kmap {
    kslot_t *slots;
    size_t cap, n; /* cap: a power of two */
    sl_buf_t keys;
} kmap_t;

static uint64_t hash_key(const uint8_t *k, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ k[i]) * 1099511628211ull;
    }
    h ^= h >> 29;
    return h | 1;
}

static size_t kmap_bytes(const kmap_t *m) {
    return m->cap * sizeof(kslot_t) + m->keys.cap;
}

static kslot_t *kmap_find(const kmap_t *m, const uint8_t *k, size_t n, uint64_t h) {
    if (!m->cap) {
        return NULL;
    }
    for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        kslot_t *s = &m->slots[i];
        if (!s->h) {
            return s;
        }
        if (s->h == h && s->klen == n && !memcmp(m->keys.data + s->koff, k, n)) {
            return s;
        }
    }
}

static void kmap_grow(kmap_t *m) {
    size_t cap = m->cap ? m->cap * 2 : 1024;
    kslot_t *old = m->slots;
    size_t old_cap = m->cap;
    m->slots = sl_xcalloc(cap, sizeof *m->slots);
    m->cap = cap;
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i].h) {
            size_t j = old[i].h & (cap - 1);
            while (m->slots[j].h) {
                j = (j + 1) & (cap - 1);
            }
            m->slots[j] = old[i];
        }
    }
    free(old);
}

static void kmap_put(kmap_t *m, const uint8_t *k, size_t n, int64_t offset) {
    if ((m->n + 1) * 4 > m->cap * 3) {
        kmap_grow(m);
    }
    uint64_t h = hash_key(k, n);
    kslot_t *s = kmap_find(m, k, n, h);
    if (s->h) {
        if (offset > s->offset) {
            s->offset = offset;
        }
        return;
    }
    s->h = h;
    s->offset = offset;
    s->koff = m->keys.len;
    s->klen = (uint32_t)n;
    sl_buf_append(&m->keys, k, n);
    m->n++;
}

/* The latest offset of key `k`, or -1 if the map has none. */
static int64_t kmap_get(const kmap_t *m, const uint8_t *k, size_t n) {
    kslot_t *s = kmap_find(m, k, n, hash_key(k, n));
    return s && s->h ? s->offset : -1;
}

static void kmap_fini(kmap_t *m) {
    free(m->slots);
    sl_buf_fini(&m->keys);
    memset(m, 0, sizeof *m);
}

/* ---- producer id -> int64 ---- */
typedef struct pslot {
    int64_t pid; /* -1: empty */
    int64_t v;
} pslot_t;

typedef struct pmap {
    pslot_t *slots;
    size_t cap, n;
} pmap_t;

static pslot_t *pmap_slot(pmap_t *m, int64_t pid, bool add) {
    if (add && (m->n + 1) * 2 > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        pslot_t *old = m->slots;
        size_t old_cap = m->cap;
        m->slots = sl_xmalloc(cap * sizeof *m->slots);
        for (size_t i = 0; i < cap; i++) {
            m->slots[i].pid = -1;
        }
        m->cap = cap;
        m->n = 0;
        for (size_t i = 0; i < old_cap; i++) {
            if (old[i].pid >= 0) {
                *pmap_slot(m, old[i].pid, true) = old[i];
            }
        }
        free(old);
    }
    if (!m->cap) {
        return NULL;
    }
    uint64_t h = (uint64_t)pid * 0x9E3779B97F4A7C15ull;
    for (size_t i = (h >> 20) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        pslot_t *s = &m->slots[i];
        if (s->pid == pid) {
            return s;
        }
        if (s->pid < 0) {
            if (!add) {
                return NULL;
            }
            s->pid = pid;
            s->v = -1;
            m->n++;
            return s;
        }
    }
}

/* ---- transactions seen in the job's segments ---- */
enum { TXN_OPEN = 0, TXN_COMMIT = 1, TXN_ABORT = 2 };

typedef struct txn_batch {
    int64_t base;
    int64_t prev; /* index of the same producer's previous undecided batch, or -1 */
    int state;
} txn_batch_t;

/* ---- reading a segment batch by batch ---- */
typedef struct seg_rd {
    int fd;
    int64_t size;
    uint8_t *buf;
    size_t cap, have, off;
    int64_t buf_pos; /* file position of buf[0] */
} seg_rd_t;

static sl_err_t rd_fill(seg_rd_t *r, int64_t at, size_t need) {
    size_t want = need > READ_CHUNK ? need : READ_CHUNK;
    if ((int64_t)want > r->size - at) {
        want = (size_t)(r->size - at);
    }
    if (want < need) {
        return SL_ERR_CORRUPT; /* a batch runs past the end of a closed segment */
    }
    if (r->cap < want) {
        r->buf = sl_xrealloc(r->buf, want);
        r->cap = want;
    }
    ssize_t n = sl_os_pread_all(r->fd, r->buf, want, at);
    if (n < (ssize_t)need) {
        return SL_ERR_IO;
    }
    r->have = (size_t)n;
    r->off = 0;
    r->buf_pos = at;
    return SL_OK;
}

/* The next batch: 1 with *p (valid until the next call), *info and its file position *pos; 0 at
 * the end; a negative sl_err_t for a batch that is unreadable or fails its CRC. */
static int rd_next(seg_rd_t *r, const uint8_t **p, sl_batch_info_t *info, int64_t *pos) {
    int64_t at = r->buf_pos + (int64_t)r->off;
    if (at >= r->size) {
        return 0;
    }
    sl_err_t rc;
    if (r->have - r->off < SL_BATCH_LOG_OVERHEAD &&
        (rc = rd_fill(r, at, SL_BATCH_LOG_OVERHEAD)) != SL_OK) {
        return rc;
    }
    size_t total = (size_t)sl_load_be32(r->buf + r->off + 8) + SL_BATCH_LOG_OVERHEAD;
    if (total < SL_BATCH_HEADER_BYTES || total > INT32_MAX) {
        return SL_ERR_CORRUPT;
    }
    if (r->have - r->off < total && (rc = rd_fill(r, at, total)) != SL_OK) {
        return rc;
    }
    rc = sl_batch_parse(r->buf + r->off, r->have - r->off, true, info);
    if (rc != SL_OK) {
        return rc;
    }
    *p = r->buf + r->off;
    *pos = at;
    r->off += total;
    return 1;
}

static sl_err_t rd_open(seg_rd_t *r, const char *path) {
    memset(r, 0, sizeof *r);
    r->fd = sl_os.open(path, O_RDONLY, 0);
    struct stat st;
    if (r->fd < 0 || fstat(r->fd, &st) < 0) {
        return SL_ERR_IO;
    }
    r->size = st.st_size;
    return SL_OK;
}

static void rd_close(seg_rd_t *r) {
    if (r->fd >= 0) {
        sl_os.close(r->fd);
    }
    free(r->buf);
    r->fd = -1;
    r->buf = NULL;
}

/* ---- one record at a time ---- */
typedef struct rec {
    const uint8_t *start, *end; /* the whole record, length varint included */
    int32_t offset_delta;
    const uint8_t *key; /* NULL: no key */
    int32_t key_len;
    bool tombstone; /* null value */
} rec_t;

/* Reads the next record of `rd` into `r`; false if the bytes are not a record. */
static bool next_rec(sl_reader_t *rd, rec_t *r) {
    r->start = rd->p;
    int32_t body = sl_rd_varint(rd);
    if (rd->err || body < RECORD_MIN_BYTES - 1 || (size_t)body > sl_rd_left(rd)) {
        return false;
    }
    r->end = rd->p + body;
    sl_reader_t b = sl_reader_init(rd->p, (size_t)body);
    rd->p = r->end;
    (void)sl_rd_i8(&b);      /* attributes */
    (void)sl_rd_varlong(&b); /* timestamp delta */
    r->offset_delta = sl_rd_varint(&b);
    r->key_len = sl_rd_varint(&b);
    if (b.err || r->key_len < -1 || (r->key_len > 0 && (size_t)r->key_len > sl_rd_left(&b))) {
        return false;
    }
    r->key = r->key_len >= 0 ? b.p : NULL;
    if (r->key_len > 0) {
        b.p += r->key_len;
    }
    int32_t value_len = sl_rd_varint(&b);
    r->tombstone = value_len < 0;
    return !b.err && r->offset_delta >= 0;
}

/* ---- the clean ---- */
typedef struct clean {
    sl_clean_job_t *job;
    kmap_t keys;
    pmap_t last_batch; /* producer id -> base offset of its last batch */
    pmap_t undecided;  /* producer id -> index of its last undecided transactional batch */
    txn_batch_t *txns;
    size_t n_txns, cap_txns;
    sl_decomp_t decomp;
    sl_buf_t recs, out; /* a filtered batch's records, and the batch rebuilt */
} clean_t;

static const txn_batch_t *find_txn(const clean_t *c, int64_t base) {
    size_t lo = 0, hi = c->n_txns;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c->txns[mid].base < base) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < c->n_txns && c->txns[lo].base == base ? &c->txns[lo] : NULL;
}

/* Walk 1 for one batch. */
static void note_header(clean_t *c, const uint8_t *p, const sl_batch_info_t *info) {
    if (info->producer_id >= 0) {
        pmap_slot(&c->last_batch, info->producer_id, true)->v = info->base_offset;
    }
    if (!(info->attributes & SL_BATCH_ATTR_TRANSACTIONAL)) {
        return;
    }
    pslot_t *u = pmap_slot(&c->undecided, info->producer_id, true);
    if (info->attributes & SL_BATCH_ATTR_CONTROL) {
        int type = sl_batch_control_type(p, info->total_bytes);
        if (type != SL_CONTROL_COMMIT && type != SL_CONTROL_ABORT) {
            return; /* not a marker we can read: its transaction stays undecided (kept whole) */
        }
        for (int64_t i = u->v; i >= 0; i = c->txns[i].prev) {
            c->txns[i].state = type == SL_CONTROL_COMMIT ? TXN_COMMIT : TXN_ABORT;
        }
        u->v = -1;
        return;
    }
    if (c->n_txns == c->cap_txns) {
        c->cap_txns = c->cap_txns ? c->cap_txns * 2 : 64;
        c->txns = sl_xrealloc(c->txns, c->cap_txns * sizeof *c->txns);
    }
    c->txns[c->n_txns] = (txn_batch_t){info->base_offset, u->v, TXN_OPEN};
    u->v = (int64_t)c->n_txns++;
}

/* The records of a batch, decompressed into c->decomp when needed. */
static sl_err_t batch_records(clean_t *c, const uint8_t *p, const sl_batch_info_t *info,
                              const uint8_t **recs, size_t *len) {
    int codec = info->attributes & SL_BATCH_ATTR_CODEC_MASK;
    *recs = p + SL_BATCH_HEADER_BYTES;
    *len = info->total_bytes - SL_BATCH_HEADER_BYTES;
    if (codec == SL_CODEC_NONE) {
        return SL_OK;
    }
    sl_err_t rc = sl_decomp_run(&c->decomp, codec, *recs, *len, DECOMP_CAP);
    *recs = c->decomp.out.data;
    *len = c->decomp.out.len;
    return rc;
}

/* How walk 3 treats a batch. */
enum { KEEP, DROP, FILTER };

static int batch_fate(const clean_t *c, const sl_batch_info_t *info) {
    if (info->attributes & SL_BATCH_ATTR_CONTROL) {
        return KEEP;
    }
    if (info->attributes & SL_BATCH_ATTR_TRANSACTIONAL) {
        const txn_batch_t *t = find_txn(c, info->base_offset);
        if (!t || t->state == TXN_OPEN) {
            return KEEP;
        }
        if (t->state == TXN_ABORT) {
            return DROP;
        }
    }
    if (info->producer_id >= 0) {
        pslot_t *s = pmap_slot((pmap_t *)&c->last_batch, info->producer_id, false);
        if (s && s->v == info->base_offset) {
            return KEEP;
        }
    }
    return FILTER;
}

/* Walk 2 for one batch: its keys into the map. */
static sl_err_t map_batch(clean_t *c, const uint8_t *p, const sl_batch_info_t *info) {
    if (info->attributes & SL_BATCH_ATTR_CONTROL) {
        return SL_OK;
    }
    if (info->attributes & SL_BATCH_ATTR_TRANSACTIONAL) {
        const txn_batch_t *t = find_txn(c, info->base_offset);
        if (!t || t->state != TXN_COMMIT) {
            return SL_OK;
        }
    }
    const uint8_t *recs;
    size_t len;
    sl_err_t rc = batch_records(c, p, info, &recs, &len);
    if (rc != SL_OK) {
        return rc;
    }
    sl_reader_t rd = sl_reader_init(recs, len);
    for (int32_t i = 0; i < info->record_count; i++) {
        rec_t r;
        if (!next_rec(&rd, &r)) {
            return SL_ERR_CORRUPT;
        }
        if (r.key) {
            kmap_put(&c->keys, r.key, (size_t)r.key_len, info->base_offset + r.offset_delta);
        }
    }
    return SL_OK;
}

/* Walk 3 for one FILTER batch: KEEP (every record stays), DROP (none does) or FILTER with the
 * rebuilt batch in c->out; a negative sl_err_t if the records cannot be read or recompressed. */
static int filter_batch(clean_t *c, sl_clean_seg_t *cs, const uint8_t *p,
                        const sl_batch_info_t *info) {
    const uint8_t *recs;
    size_t len;
    sl_err_t rc = batch_records(c, p, info, &recs, &len);
    if (rc != SL_OK) {
        return rc;
    }
    bool tombstones_expire =
        cs->cleaned_ms >= 0 && c->job->now_ms - cs->cleaned_ms >= c->job->delete_retention_ms;
    c->recs.len = 0;
    int32_t kept = 0;
    int64_t tombstones = 0;
    sl_reader_t rd = sl_reader_init(recs, len);
    for (int32_t i = 0; i < info->record_count; i++) {
        rec_t r;
        if (!next_rec(&rd, &r)) {
            return SL_ERR_CORRUPT;
        }
        bool keep = true;
        if (r.key) {
            int64_t latest = kmap_get(&c->keys, r.key, (size_t)r.key_len);
            keep = latest < 0 || latest <= info->base_offset + r.offset_delta;
            if (keep && r.tombstone) {
                keep = !tombstones_expire;
                tombstones += keep;
            }
        }
        if (keep) {
            sl_buf_append(&c->recs, r.start, (size_t)(r.end - r.start));
            kept++;
        }
    }
    cs->records_gone += info->record_count - kept;
    cs->tombstones += tombstones;
    if (kept == info->record_count) {
        return KEEP;
    }
    if (kept == 0) {
        return DROP;
    }
    c->out.len = 0;
    sl_buf_append(&c->out, p, SL_BATCH_HEADER_BYTES);
    int codec = info->attributes & SL_BATCH_ATTR_CODEC_MASK;
    if (codec == SL_CODEC_NONE) {
        sl_buf_append(&c->out, c->recs.data, c->recs.len);
    } else if ((rc = sl_comp_run(codec, c->recs.data, c->recs.len, &c->out)) != SL_OK) {
        return rc;
    }
    sl_store_be32(c->out.data + 8, (uint32_t)(c->out.len - SL_BATCH_LOG_OVERHEAD));
    sl_store_be32(c->out.data + 57, (uint32_t)kept);
    sl_store_be32(c->out.data + 17, sl_crc32c(0, c->out.data + CRC_START, c->out.len - CRC_START));
    return FILTER;
}

void sl_clean_copy_path(const char *log_path, const char *ext, char *out, size_t n) {
    size_t len = strlen(log_path);
    len = len >= 4 ? len - 4 : len; /* strip ".log" */
    snprintf(out, n, "%.*s%s.cleaned", (int)len, log_path, ext);
}

void sl_clean_remove_copies(const sl_clean_seg_t *cs) {
    static const char *const exts[] = {".log", ".index", ".timeindex"};
    for (size_t i = 0; i < 3; i++) {
        char p[4200];
        sl_clean_copy_path(cs->path, exts[i], p, sizeof p);
        (void)sl_os.unlink(p);
    }
}

/* Creates (truncating) a copy's file, unless the job was cancelled: -1 then, or on failure. */
static int create_copy(sl_clean_job_t *job, const char *path) {
    if (job->files_mu) {
        pthread_mutex_lock(job->files_mu);
    }
    int fd = atomic_load(&job->cancelled) ? -1 : sl_os.open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (job->files_mu) {
        pthread_mutex_unlock(job->files_mu);
    }
    return fd;
}

void sl_clean_job_cancel(sl_clean_job_t *job) {
    if (job->files_mu) {
        pthread_mutex_lock(job->files_mu);
    }
    atomic_store(&job->cancelled, true);
    if (job->files_mu) {
        pthread_mutex_unlock(job->files_mu);
    }
}

/* Writes the copy's two index files from the entries built in `ix`, and syncs them. */
static sl_err_t write_indexes(sl_clean_job_t *job, const sl_clean_seg_t *cs,
                              const sl_segment_t *ix) {
    sl_buf_t b = {0};
    char p[4200];
    sl_err_t rc = SL_OK;
    for (int f = 0; f < 2 && rc == SL_OK; f++) {
        b.len = 0;
        if (f == 0) {
            for (size_t i = 0; i < ix->n_idx; i++) {
                uint8_t e[8];
                sl_store_be32(e, (uint32_t)ix->idx[i].rel);
                sl_store_be32(e + 4, (uint32_t)ix->idx[i].pos);
                sl_buf_append(&b, e, sizeof e);
            }
        } else {
            for (size_t i = 0; i < ix->n_tidx; i++) {
                uint8_t e[12];
                sl_store_be64(e, (uint64_t)ix->tidx[i].ts);
                sl_store_be32(e + 8, (uint32_t)ix->tidx[i].rel);
                sl_buf_append(&b, e, sizeof e);
            }
        }
        sl_clean_copy_path(cs->path, f == 0 ? ".index" : ".timeindex", p, sizeof p);
        int fd = create_copy(job, p);
        if (fd < 0 || sl_os_pwrite_all(fd, b.data, b.len, 0) < 0 || sl_os.fdatasync(fd) < 0) {
            rc = SL_ERR_IO;
        }
        if (fd >= 0) {
            sl_os.close(fd);
        }
    }
    sl_buf_fini(&b);
    return rc;
}

/* Copies bytes [0, n) of `in` to `out`. */
static sl_err_t copy_prefix(int in, int out, int64_t n) {
    uint8_t *buf = sl_xmalloc(READ_CHUNK);
    sl_err_t rc = SL_OK;
    for (int64_t pos = 0; pos < n && rc == SL_OK;) {
        size_t want = n - pos < READ_CHUNK ? (size_t)(n - pos) : READ_CHUNK;
        if (sl_os_pread_all(in, buf, want, pos) != (ssize_t)want ||
            sl_os_pwrite_all(out, buf, want, pos) < 0) {
            rc = SL_ERR_IO;
        }
        pos += (int64_t)want;
    }
    free(buf);
    return rc;
}

/* Walk 3 for one segment. */
static sl_err_t clean_segment(clean_t *c, sl_clean_seg_t *cs) {
    seg_rd_t r;
    sl_err_t rc = rd_open(&r, cs->path);
    sl_segment_t ix; /* in-memory indexes of the copy (no files: sl_segment_index_batch only) */
    memset(&ix, 0, sizeof ix);
    ix.base = ix.next = cs->base;
    ix.max_ts = ix.max_ts_offset = -1;
    ix.fd = ix.ifd = ix.tfd = -1;
    int out = -1;
    int64_t written = 0;
    cs->old_size = r.size;
    cs->tombstones = 0;
    const uint8_t *p;
    sl_batch_info_t info;
    int64_t pos;
    int n;
    while (rc == SL_OK && (n = rd_next(&r, &p, &info, &pos)) != 0) {
        if (n < 0 || atomic_load_explicit(&c->job->cancelled, memory_order_relaxed)) {
            rc = n < 0 ? (sl_err_t)n : SL_ERR_INVAL;
            break;
        }
        int fate = batch_fate(c, &info);
        if (fate == FILTER) {
            int f = filter_batch(c, cs, p, &info);
            if (f < 0) {
                rc = (sl_err_t)f;
                break;
            }
            fate = f;
        } else if (fate == DROP) {
            cs->records_gone += info.record_count;
        }
        if (fate == KEEP && out < 0) {
            written = pos + (int64_t)info.total_bytes; /* the unchanged prefix grows */
        } else {
            if (out < 0) {
                char cp[4200];
                sl_clean_copy_path(cs->path, ".log", cp, sizeof cp);
                out = create_copy(c->job, cp);
                if (out < 0 || copy_prefix(r.fd, out, pos) != SL_OK) {
                    rc = SL_ERR_IO;
                    break;
                }
                written = pos;
            }
            if (fate == DROP) {
                continue;
            }
            const uint8_t *b = fate == KEEP ? p : c->out.data;
            size_t blen = fate == KEEP ? info.total_bytes : c->out.len;
            if (sl_os_pwrite_all(out, b, blen, written) < 0) {
                rc = SL_ERR_IO;
                break;
            }
            pos = written;
            written += (int64_t)blen;
            info.total_bytes = blen;
        }
        sl_segment_index_batch(&ix, info.base_offset, info.base_offset + info.last_offset_delta,
                               info.max_timestamp, pos, (int64_t)info.total_bytes,
                               c->job->index_interval_bytes, false);
    }
    c->job->bytes_read += r.size;
    if (rc == SL_OK && out >= 0) {
        if (sl_os.fdatasync(out) < 0 || write_indexes(c->job, cs, &ix) != SL_OK) {
            rc = SL_ERR_IO;
        }
    }
    if (out >= 0) {
        sl_os.close(out);
    }
    if (rc == SL_OK) {
        cs->done = true;
        cs->rewritten = out >= 0;
        cs->new_size = out >= 0 ? written : r.size;
    }
    rd_close(&r);
    free(ix.idx);
    free(ix.tidx);
    return rc;
}

/* Step 1 of the swap (plog.h), done here so the event loop does not wait for the directory
 * sync: unlinks the old index files of every segment with a copy, then syncs the directory. The
 * log keeps using its in-memory indexes (and descriptors); a start-up before the swap rebuilds
 * them from the old log. Nothing is unlinked once the job is cancelled. */
static sl_err_t drop_old_indexes(sl_clean_job_t *job) {
    bool any = false;
    for (size_t i = 0; i < job->n_segs; i++) {
        const sl_clean_seg_t *cs = &job->segs[i];
        if (!cs->rewritten) {
            continue;
        }
        char p[4200];
        size_t stem = strlen(cs->path) - 4;
        if (job->files_mu) {
            pthread_mutex_lock(job->files_mu);
        }
        bool cancelled = atomic_load(&job->cancelled);
        for (int f = 0; f < 2 && !cancelled; f++) {
            snprintf(p, sizeof p, "%.*s%s", (int)stem, cs->path, f ? ".timeindex" : ".index");
            (void)sl_os.unlink(p);
        }
        if (job->files_mu) {
            pthread_mutex_unlock(job->files_mu);
        }
        if (cancelled) {
            return SL_ERR_INVAL;
        }
        any = true;
    }
    if (!any) {
        return SL_OK;
    }
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", job->segs[0].path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
    }
    return sl_os_fsync_dir(slash ? dir : ".") == 0 ? SL_OK : SL_ERR_IO;
}

/* Walks every batch of `cs` with `fn` (walks 1 and 2). */
static sl_err_t walk_segment(clean_t *c, const sl_clean_seg_t *cs, bool map) {
    seg_rd_t r;
    sl_err_t rc = rd_open(&r, cs->path);
    const uint8_t *p;
    sl_batch_info_t info;
    int64_t pos;
    int n;
    while (rc == SL_OK && (n = rd_next(&r, &p, &info, &pos)) != 0) {
        if (n < 0) {
            rc = (sl_err_t)n;
        } else if (atomic_load_explicit(&c->job->cancelled, memory_order_relaxed)) {
            rc = SL_ERR_INVAL;
        } else if (map) {
            rc = map_batch(c, p, &info);
        } else {
            note_header(c, p, &info);
        }
    }
    rd_close(&r);
    return rc;
}

sl_err_t sl_clean_run(sl_clean_job_t *job) {
    uint64_t t0 = sl_mono_ns();
    clean_t c;
    memset(&c, 0, sizeof c);
    c.job = job;
    sl_decomp_init(&c.decomp);
    size_t map_max = job->map_max_bytes ? job->map_max_bytes : SL_CLEAN_MAP_MAX_BYTES;
    sl_err_t rc = SL_OK;
    for (size_t i = 0; i < job->n_segs && rc == SL_OK; i++) {
        rc = walk_segment(&c, &job->segs[i], false);
    }
    /* The map covers the dirty segments up to where it fills; cleaning stops there. */
    size_t end = job->n_segs;
    bool mapped = false;
    for (size_t i = 0; i < job->n_segs && rc == SL_OK; i++) {
        if (job->segs[i].cleaned_ms >= 0) {
            continue;
        }
        if (mapped && kmap_bytes(&c.keys) >= map_max) {
            end = i;
            break;
        }
        rc = walk_segment(&c, &job->segs[i], true);
        mapped = true;
    }
    for (size_t i = 0; i < end && rc == SL_OK; i++) {
        rc = clean_segment(&c, &job->segs[i]);
    }
    if (rc == SL_OK) {
        rc = drop_old_indexes(job);
    }
    if (rc != SL_OK) {
        for (size_t i = 0; i < job->n_segs; i++) {
            /* A cancelled job's directory may be gone, or be another log's by now. */
            if (!atomic_load(&job->cancelled)) {
                sl_clean_remove_copies(&job->segs[i]);
            }
            job->segs[i].done = job->segs[i].rewritten = false;
        }
    }
    kmap_fini(&c.keys);
    free(c.last_batch.slots);
    free(c.undecided.slots);
    free(c.txns);
    sl_decomp_fini(&c.decomp);
    sl_buf_fini(&c.recs);
    sl_buf_fini(&c.out);
    job->rc = rc;
    job->duration_us = (sl_mono_ns() - t0) / 1000;
    return rc;
}

void sl_clean_job_free(sl_clean_job_t *job) {
    if (!job) {
        return;
    }
    for (size_t i = 0; i < job->n_segs; i++) {
        free(job->segs[i].path);
    }
    free(job->segs);
    free(job);
}

/* ---- the pool ---- */
#define MAX_THREADS 16

struct sl_cleaner {
    pthread_mutex_t mu;       /* the queues, `running` and `stop` */
    pthread_mutex_t files_mu; /* jobs' file creation against their cancellation */
    pthread_cond_t cv;
    sl_clean_job_t *queue, *queue_tail; /* to run, FIFO */
    sl_clean_job_t *done;               /* run, to hand back */
    bool stop;
    pthread_t threads[MAX_THREADS];
    sl_clean_job_t *running[MAX_THREADS]; /* the job each thread runs, or NULL */
    int n_threads;
    sl_counter_t *m_runs, *m_bytes, *m_records;
    sl_gauge_t *m_last;
};

typedef struct thread_arg {
    sl_cleaner_t *c;
    int i;
} thread_arg_t;

static void *cleaner_main(void *arg) {
    sl_cleaner_t *c = ((thread_arg_t *)arg)->c;
    int me = ((thread_arg_t *)arg)->i;
    free(arg);
    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (!c->stop && !c->queue) {
            pthread_cond_wait(&c->cv, &c->mu);
        }
        if (c->stop) {
            break;
        }
        sl_clean_job_t *job = c->queue;
        c->queue = job->next;
        if (!c->queue) {
            c->queue_tail = NULL;
        }
        c->running[me] = job;
        pthread_mutex_unlock(&c->mu);
        (void)sl_clean_run(job);
        pthread_mutex_lock(&c->mu);
        c->running[me] = NULL;
        job->next = c->done;
        c->done = job;
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

sl_cleaner_t *sl_cleaner_new(int threads) {
    sl_cleaner_t *c = sl_xcalloc(1, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    pthread_mutex_init(&c->files_mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    threads = threads < 1 ? 1 : threads > MAX_THREADS ? MAX_THREADS : threads;
    for (int i = 0; i < threads; i++) {
        thread_arg_t *ta = sl_xmalloc(sizeof *ta);
        *ta = (thread_arg_t){c, i};
        int e = pthread_create(&c->threads[i], NULL, cleaner_main, ta);
        if (e != 0) {
            free(ta);
            sl_log(SL_LOG_ERROR, "cleaner", "op=pthread_create err=\"%s\"", strerror(e));
            sl_cleaner_free(c);
            return NULL;
        }
        c->n_threads++;
    }
    c->m_runs = sl_metrics_counter("sluice_log_cleaner_runs_total", "",
                                   "Log cleaner jobs finished (cleanup.policy=compact)");
    c->m_bytes = sl_metrics_counter("sluice_log_cleaner_bytes_cleaned_total", "",
                                    "Bytes of segments read and compacted by the log cleaner");
    c->m_records = sl_metrics_counter("sluice_log_cleaner_records_removed_total", "",
                                      "Records removed by the log cleaner (superseded, aborted or "
                                      "expired tombstones)");
    c->m_last = sl_metrics_gauge("sluice_log_cleaner_last_duration_seconds", "",
                                 "Duration of the last log cleaner job");
    return c;
}

void sl_cleaner_submit(sl_cleaner_t *c, sl_clean_job_t *job) {
    job->next = NULL;
    job->files_mu = &c->files_mu;
    pthread_mutex_lock(&c->mu);
    if (c->queue_tail) {
        c->queue_tail->next = job;
    } else {
        c->queue = job;
    }
    c->queue_tail = job;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static void hand_back(sl_cleaner_t *c, sl_clean_job_t *job) {
    if (job->rc == SL_OK && c->m_runs) {
        int64_t gone = 0;
        for (size_t i = 0; i < job->n_segs; i++) {
            gone += job->segs[i].records_gone;
        }
        sl_counter_add(c->m_runs, 1);
        sl_counter_add(c->m_bytes, (uint64_t)job->bytes_read);
        sl_counter_add(c->m_records, (uint64_t)gone);
        sl_gauge_set(c->m_last, (double)job->duration_us / 1e6);
    }
    if (job->plog) {
        sl_plog_clean_finish(job->plog, job);
        return;
    }
    sl_clean_job_free(job); /* cancelled when its log closed: see sl_clean_job_cancel */
}

int sl_cleaner_poll(sl_cleaner_t *c) {
    pthread_mutex_lock(&c->mu);
    sl_clean_job_t *list = c->done;
    c->done = NULL;
    pthread_mutex_unlock(&c->mu);
    int n = 0;
    while (list) {
        sl_clean_job_t *next = list->next;
        hand_back(c, list);
        list = next;
        n++;
    }
    return n;
}

void sl_cleaner_free(sl_cleaner_t *c) {
    if (!c) {
        return;
    }
    pthread_mutex_lock(&c->mu);
    c->stop = true;
    for (int i = 0; i < c->n_threads; i++) {
        if (c->running[i]) {
            sl_clean_job_cancel(c->running[i]); /* shutdown does not wait for a long clean */
        }
    }
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    for (int i = 0; i < c->n_threads; i++) {
        pthread_join(c->threads[i], NULL);
    }
    (void)sl_cleaner_poll(c);
    while (c->queue) {
        sl_clean_job_t *job = c->queue;
        c->queue = job->next;
        job->rc = SL_ERR_INVAL; /* never run */
        hand_back(c, job);
    }
    pthread_mutex_destroy(&c->mu);
    pthread_mutex_destroy(&c->files_mu);
    pthread_cond_destroy(&c->cv);
    free(c);
}

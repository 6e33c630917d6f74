/* test_cleaner.c -- log compaction on a real partition log in a temp dir: the latest value per
 * key stays at its offset, tombstones stay for delete.retention.ms and then go, compressed and
 * transactional batches, and what a crash in the middle of a swap leaves. */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "storage/cleaner.h"
#include "storage/compress.h"
#include "storage_util.h"

/* Appends one batch of `n` records to `out`: record j has key keys[j] and value vals[j] (NULL: a
 * tombstone), compressed with `codec`, from producer `pid` (-1: none), transactional if `txn`. */
static void keyed_batch(sl_buf_t *out, int n, const char *const *keys, const char *const *vals,
                        int64_t ts, int codec, int64_t pid, bool txn) {
    sl_buf_t recs = {0};
    sl_writer_t rw = {&recs};
    for (int i = 0; i < n; i++) {
        sl_buf_t one = {0};
        sl_writer_t w = {&one};
        sl_wr_i8(&w, 0);
        sl_wr_varint(&w, i); /* timestamp delta */
        sl_wr_varint(&w, i); /* offset delta */
        sl_wr_varint(&w, (int64_t)strlen(keys[i]));
        sl_wr_raw(&w, keys[i], strlen(keys[i]));
        if (vals[i]) {
            sl_wr_varint(&w, (int64_t)strlen(vals[i]));
            sl_wr_raw(&w, vals[i], strlen(vals[i]));
        } else {
            sl_wr_varint(&w, -1);
        }
        sl_wr_varint(&w, 0);
        sl_wr_varint(&rw, (int64_t)one.len);
        sl_wr_raw(&rw, one.data, one.len);
        sl_buf_fini(&one);
    }
    size_t start = out->len;
    sl_writer_t wr = {out};
    sl_wr_i64(&wr, 0);
    size_t len_at = sl_wr_i32(&wr, 0);
    sl_wr_i32(&wr, 0);
    sl_wr_i8(&wr, 2);
    size_t crc_at = sl_wr_i32(&wr, 0);
    sl_wr_i16(&wr, (int16_t)(codec | (txn ? SL_BATCH_ATTR_TRANSACTIONAL : 0)));
    sl_wr_i32(&wr, n - 1);
    sl_wr_i64(&wr, ts);
    sl_wr_i64(&wr, ts + n - 1);
    sl_wr_i64(&wr, pid);
    sl_wr_i16(&wr, (int16_t)(pid >= 0 ? 0 : -1));
    sl_wr_i32(&wr, -1);
    sl_wr_i32(&wr, n);
    if (codec == SL_CODEC_NONE) {
        sl_wr_raw(&wr, recs.data, recs.len);
    } else {
        sl_err_t rc = sl_comp_run(codec, recs.data, recs.len, out);
        SL_ASSERT(rc == SL_OK);
    }
    sl_buf_fini(&recs);
    sl_wr_patch_i32(&wr, len_at, (int32_t)(out->len - start - 12));
    sl_wr_patch_i32(&wr, crc_at,
                    (int32_t)sl_crc32c(0, out->data + crc_at + 4, out->len - crc_at - 4));
}

static sl_err_t put1(sl_plog_t *plog, const char *key, const char *val, int64_t now) {
    sl_buf_t b = {0};
    keyed_batch(&b, 1, &key, &val, now, SL_CODEC_NONE, -1, false);
    int64_t base;
    sl_err_t rc = sl_plog_append(plog, b.data, b.len, now, &base);
    sl_buf_fini(&b);
    return rc;
}

typedef struct seen {
    int64_t offset;
    char key[16];
    char val[16]; /* "" with tomb */
    bool tomb;
} seen_t;

/* Reads the whole log through sl_plog_read, checking every batch's CRC, into `out` (at most
 * `max`); returns the number of records, or -1 on a bad batch or offsets not increasing. */
static int read_all(sl_plog_t *plog, seen_t *out, int max) {
    int n = 0;
    int64_t off = sl_plog_start_offset(plog), end = sl_plog_end_offset(plog), last = -1;
    sl_decomp_t d;
    sl_decomp_init(&d);
    while (off < end) {
        sl_plog_slice_t s;
        if (sl_plog_read(plog, off, end, 1 << 20, &s) != SL_OK) {
            return -1;
        }
        if (s.len == 0) {
            break;
        }
        uint8_t *buf = malloc(s.len);
        if (pread(s.fd, buf, s.len, s.pos) != (ssize_t)s.len) {
            return -1;
        }
        close(s.fd);
        for (size_t pos = 0; pos < s.len;) {
            sl_batch_info_t info;
            if (sl_batch_parse(buf + pos, s.len - pos, true, &info) != SL_OK) {
                return -1;
            }
            const uint8_t *recs = buf + pos + SL_BATCH_HEADER_BYTES;
            size_t len = info.total_bytes - SL_BATCH_HEADER_BYTES;
            int codec = info.attributes & SL_BATCH_ATTR_CODEC_MASK;
            if (codec && sl_decomp_run(&d, codec, recs, len, 1 << 24) != SL_OK) {
                return -1;
            }
            if (codec) {
                recs = d.out.data;
                len = d.out.len;
            }
            sl_reader_t rd = sl_reader_init(recs, len);
            for (int32_t i = 0; i < info.record_count && !(info.attributes & SL_BATCH_ATTR_CONTROL);
                 i++) {
                (void)sl_rd_varint(&rd);
                (void)sl_rd_i8(&rd);
                (void)sl_rd_varlong(&rd);
                int64_t o = info.base_offset + sl_rd_varint(&rd);
                int32_t kl = sl_rd_varint(&rd);
                seen_t *e = &out[n < max ? n : max - 1];
                memset(e, 0, sizeof *e);
                if (kl > 0 && kl < 16 && (size_t)kl <= sl_rd_left(&rd)) {
                    memcpy(e->key, rd.p, (size_t)kl);
                    rd.p += kl;
                }
                int32_t vl = sl_rd_varint(&rd);
                e->tomb = vl < 0;
                if (vl > 0 && vl < 16 && (size_t)vl <= sl_rd_left(&rd)) {
                    memcpy(e->val, rd.p, (size_t)vl);
                    rd.p += vl;
                }
                (void)sl_rd_varint(&rd); /* headers */
                e->offset = o;
                if (rd.err || o <= last || o > info.base_offset + info.last_offset_delta) {
                    return -1;
                }
                last = o;
                n++;
            }
            pos += info.total_bytes;
        }
        off = last + 1 > off ? last + 1 : off + 1;
        free(buf);
    }
    sl_decomp_fini(&d);
    return n;
}

/* Runs one clean as the broker does, synchronously; returns the offset the job's segments end at
 * (everything below was cleaned), or -1 if none was due. */
static int64_t clean_now(sl_plog_t *plog, int64_t now) {
    sl_clean_job_t *job = sl_plog_clean_prepare(plog, now);
    if (!job) {
        return -1;
    }
    int64_t upto = job->segs[job->n_segs - 1].next;
    if (sl_clean_run(job) != SL_OK) {
        upto = -2;
    }
    sl_plog_clean_finish(plog, job);
    return upto;
}

static sl_plog_conf_t compact_conf(void) {
    sl_plog_conf_t c = small_conf();
    c.segment_bytes = 1024;
    c.cleanup_compact = true;
    c.cleanup_delete = false;
    c.min_cleanable_dirty_ratio = 0.0;
    c.delete_retention_ms = 1000;
    return c;
}

#define N_REC 300
#define N_KEY 5

TEST(cleaner_keeps_last_value_per_key_at_its_offset) {
    char *dir = tmpdir();
    sl_plog_conf_t conf = compact_conf();
    sl_plog_t *plog;
    char err[SL_ERRLEN];
    CHECK_EQ_INT(sl_plog_open(dir, &conf, 1000, &plog, err), SL_OK);
    for (int i = 0; i < N_REC; i++) {
        char k[16], v[16];
        snprintf(k, sizeof k, "k%d", i % N_KEY);
        snprintf(v, sizeof v, "%d", i);
        CHECK_EQ_INT(put1(plog, k, v, 1000), SL_OK);
    }
    int64_t size_before = sl_plog_size_bytes(plog);
    int64_t upto = clean_now(plog, 2000);
    CHECK(upto > 100);
    CHECK(sl_plog_size_bytes(plog) < size_before);
    CHECK_EQ_INT(sl_plog_end_offset(plog), N_REC);
    CHECK_EQ_INT(sl_plog_start_offset(plog), 0);
    static seen_t got[N_REC];
    int n = read_all(plog, got, N_REC);
    CHECK(n > 0);
    /* Below `upto`: one record per key, the last one below `upto`, at its own offset (value i
     * was written at offset i). At and past it: everything, untouched. */
    int per_key[N_KEY] = {0};
    int tail = 0;
    for (int i = 0; i < n; i++) {
        CHECK_EQ_INT(atoi(got[i].val), got[i].offset);
        int k = atoi(got[i].key + 1);
        if (got[i].offset < upto) {
            per_key[k]++;
            CHECK(got[i].offset + N_KEY >= upto); /* no later version below upto */
        } else {
            tail++;
        }
    }
    for (int k = 0; k < N_KEY; k++) {
        CHECK_EQ_INT(per_key[k], 1);
    }
    CHECK_EQ_INT(tail, N_REC - upto);
    /* A fetch at a compacted-away offset gets the next batch, not OFFSET_OUT_OF_RANGE. */
    sl_plog_slice_t s;
    CHECK_EQ_INT(sl_plog_read(plog, 1, N_REC, 1 << 20, &s), SL_OK);
    CHECK(s.len > 0);
    CHECK(s.first_offset >= upto - N_KEY);
    close(s.fd);
    /* The same after a reopen (indexes loaded from the swapped-in files). */
    sl_plog_close(plog);
    CHECK_EQ_INT(sl_plog_open(dir, &conf, 3000, &plog, err), SL_OK);
    CHECK_EQ_INT(read_all(plog, got, N_REC), n);
    CHECK_EQ_INT(sl_plog_end_offset(plog), N_REC);
    CHECK_EQ_INT(put1(plog, "k0", "300", 3000), SL_OK); /* offsets go on from the end */
    sl_plog_close(plog);
    sl_os_rmtree(dir);
    free(dir);
}

TEST(cleaner_tombstones_stay_for_delete_retention_then_go) {
    char *dir = tmpdir();
    sl_plog_conf_t conf = compact_conf();
    sl_plog_t *plog;
    char err[SL_ERRLEN];
    CHECK_EQ_INT(sl_plog_open(dir, &conf, 1000, &plog, err), SL_OK);
    for (int i = 0; i < 60; i++) {
        char k[16], v[16];
        snprintf(k, sizeof k, "k%d", i % N_KEY);
        snprintf(v, sizeof v, "%d", i);
        CHECK_EQ_INT(put1(plog, k, v, 1000), SL_OK);
    }
    CHECK_EQ_INT(put1(plog, "k1", NULL, 1000), SL_OK); /* offset 60 */
    for (int i = 61; i < 200; i++) {
        char k[16], v[16];
        snprintf(k, sizeof k, "k%d", (i % 4) == 1 ? 0 : i % 4); /* never k1 again */
        snprintf(v, sizeof v, "%d", i);
        CHECK_EQ_INT(put1(plog, k, v, 1000), SL_OK);
    }
    static seen_t got[200];
    CHECK(clean_now(plog, 10000) > 60);
    int n = read_all(plog, got, 200);
    int k1 = 0;
    for (int i = 0; i < n; i++) {
        if (!strcmp(got[i].key, "k1")) {
            k1++;
            CHECK(got[i].tomb); /* the older values are gone, the tombstone is not */
            CHECK_EQ_INT(got[i].offset, 60);
        }
    }
    CHECK_EQ_INT(k1, 1);
    /* A restart keeps what was cleaned and when (the cleaner checkpoint): no clean is due for
     * segments cleaned before, and the tombstone's clock is not reset. */
    sl_plog_close(plog);
    CHECK_EQ_INT(sl_plog_open(dir, &conf, 10200, &plog, err), SL_OK);
    /* Within delete.retention.ms (1 s) of the first clean: nothing is due, it stays. */
    CHECK_EQ_INT(clean_now(plog, 10500), -1);
    /* Past it: a clean is due for the tombstone alone, and removes it. */
    CHECK(clean_now(plog, 11000) > 60);
    n = read_all(plog, got, 200);
    CHECK(n > 0);
    for (int i = 0; i < n; i++) {
        CHECK(strcmp(got[i].key, "k1") != 0);
    }
    sl_plog_close(plog);
    sl_os_rmtree(dir);
    free(dir);
}

TEST(cleaner_compressed_batches_are_filtered_and_recompressed) {
    for (int codec = SL_CODEC_GZIP; codec <= SL_CODEC_ZSTD; codec++) {
        char *dir = tmpdir();
        sl_plog_conf_t conf = compact_conf();
        conf.segment_bytes = 2048;
        sl_plog_t *plog;
        char err[SL_ERRLEN];
        CHECK_EQ_INT(sl_plog_open(dir, &conf, 1000, &plog, err), SL_OK);
        /* 40 batches of 10 records over 7 keys: batches straddle versions of a key. */
        for (int b = 0; b < 40; b++) {
            char kb[10][16], vb[10][16];
            const char *keys[10], *vals[10];
            for (int j = 0; j < 10; j++) {
                int i = b * 10 + j;
                snprintf(kb[j], 16, "k%d", i % 7);
                snprintf(vb[j], 16, "%d", i);
                keys[j] = kb[j];
                vals[j] = vb[j];
            }
            sl_buf_t buf = {0};
            keyed_batch(&buf, 10, keys, vals, 1000, codec, -1, false);
            int64_t base;
            CHECK_EQ_INT(sl_plog_append(plog, buf.data, buf.len, 1000, &base), SL_OK);
            sl_buf_fini(&buf);
        }
        int64_t upto = clean_now(plog, 2000);
        CHECK(upto >= 100);
        static seen_t got[400];
        int n = read_all(plog, got, 400); /* CRCs checked, payloads decompressed */
        CHECK(n > 0 && n < 400);
        int per_key[7] = {0};
        for (int i = 0; i < n; i++) {
            CHECK_EQ_INT(atoi(got[i].val), got[i].offset);
            if (got[i].offset < upto) {
                per_key[atoi(got[i].key + 1)]++;
            }
        }
        for (int k = 0; k < 7; k++) {
            CHECK_EQ_INT(per_key[k], 1);
        }
        sl_plog_close(plog);
        sl_os_rmtree(dir);
        free(dir);
    }
}

TEST(cleaner_drops_aborted_keeps_markers_and_open_transactions) {
    char *dir = tmpdir();
    sl_plog_conf_t conf = compact_conf();
    sl_plog_t *plog;
    char err[SL_ERRLEN];
    CHECK_EQ_INT(sl_plog_open(dir, &conf, 1000, &plog, err), SL_OK);
    const char *k = "k0";
    int64_t base;
    const char *v0 = "0";
    CHECK_EQ_INT(put1(plog, k, v0, 1000), SL_OK); /* offset 0: committed value */
    sl_buf_t b = {0};
    const char *v1 = "1";
    keyed_batch(&b, 1, &k, &v1, 1000, SL_CODEC_NONE, 7, true); /* offset 1: pid 7, aborted */
    CHECK_EQ_INT(sl_plog_append(plog, b.data, b.len, 1000, &base), SL_OK);
    b.len = 0;
    sl_batch_build_control(&b, 7, 0, SL_CONTROL_ABORT, 0, 1000); /* offset 2 */
    CHECK_EQ_INT(sl_plog_append(plog, b.data, b.len, 1000, &base), SL_OK);
    b.len = 0;
    const char *v3 = "3";
    keyed_batch(&b, 1, &k, &v3, 1000, SL_CODEC_NONE, 8, true); /* offset 3: pid 8, never ended */
    CHECK_EQ_INT(sl_plog_append(plog, b.data, b.len, 1000, &base), SL_OK);
    sl_buf_fini(&b);
    for (int i = 4; i < 100; i++) {
        char v[16];
        snprintf(v, sizeof v, "%d", i);
        CHECK_EQ_INT(put1(plog, "other", v, 1000), SL_OK);
    }
    CHECK(clean_now(plog, 2000) > 4);
    static seen_t got[100];
    int n = read_all(plog, got, 100);
    CHECK(n > 2);
    /* The aborted value is gone, so the committed one before it stays; the open transaction's
     * record stays; the abort marker is kept (read_all skips control records). */
    CHECK_EQ_INT(got[0].offset, 0);
    CHECK_EQ_INT(got[1].offset, 3);
    sl_plog_slice_t s;
    CHECK_EQ_INT(sl_plog_read(plog, 1, 100, 1, &s), SL_OK);
    CHECK_EQ_INT(s.first_offset, 2); /* the marker */
    close(s.fd);
    sl_plog_close(plog);
    sl_os_rmtree(dir);
    free(dir);
}

static bool exists(const char *dir, const char *name) {
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

static int count_copies(const char *dir) {
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        n += strstr(de->d_name, ".cleaned") != NULL;
    }
    if (d) {
        closedir(d);
    }
    return n;
}

TEST(cleaner_crash_mid_swap_leaves_a_valid_log) {
    char *dir = tmpdir();
    sl_plog_conf_t conf = compact_conf();
    sl_plog_t *plog;
    char err[SL_ERRLEN];
    CHECK_EQ_INT(sl_plog_open(dir, &conf, 1000, &plog, err), SL_OK);
    for (int i = 0; i < N_REC; i++) {
        char k[16], v[16];
        snprintf(k, sizeof k, "k%d", i % N_KEY);
        snprintf(v, sizeof v, "%d", i);
        CHECK_EQ_INT(put1(plog, k, v, 1000), SL_OK);
    }
    static seen_t before[N_REC], after[N_REC];
    int n_before = read_all(plog, before, N_REC);
    CHECK_EQ_INT(n_before, N_REC);
    /* Crash 1: the copies are written and the old indexes unlinked (step 1, the cleaner's), the
     * swap never happens. The reopen removes the copies and rebuilds the indexes from the old
     * logs: every record is still there. */
    sl_clean_job_t *job = sl_plog_clean_prepare(plog, 2000);
    CHECK(job != NULL);
    CHECK_EQ_INT(sl_clean_run(job), SL_OK);
    CHECK(job->segs[0].rewritten);
    CHECK(exists(dir, "00000000000000000000.log.cleaned"));
    CHECK(!exists(dir, "00000000000000000000.index"));
    sl_plog_close(plog);
    sl_clean_job_free(job);
    CHECK_EQ_INT(sl_plog_open(dir, &conf, 2500, &plog, err), SL_OK);
    CHECK_EQ_INT(count_copies(dir), 0);
    CHECK_EQ_INT(read_all(plog, after, N_REC), N_REC);
    for (int i = 0; i < N_REC; i++) {
        CHECK_EQ_INT(after[i].offset, before[i].offset);
    }
    /* Crash 2: the swap of the first segment stops after its log was renamed in, before its
     * offset index was. */
    job = sl_plog_clean_prepare(plog, 2600);
    CHECK(job != NULL);
    CHECK_EQ_INT(sl_clean_run(job), SL_OK);
    CHECK(job->segs[0].rewritten);
    char a[4200], c[4200];
    snprintf(a, sizeof a, "%s/00000000000000000000.timeindex", dir);
    snprintf(c, sizeof c, "%s/00000000000000000000.timeindex.cleaned", dir);
    CHECK_EQ_INT(rename(c, a), 0);
    snprintf(a, sizeof a, "%s/00000000000000000000.log", dir);
    snprintf(c, sizeof c, "%s/00000000000000000000.log.cleaned", dir);
    CHECK_EQ_INT(rename(c, a), 0);
    sl_plog_close(plog); /* (its clean-shutdown marker only vouches for the active segment) */
    sl_clean_job_free(job);
    CHECK_EQ_INT(sl_plog_open(dir, &conf, 3000, &plog, err), SL_OK);
    /* The leftover copies are gone, the index was rebuilt from the new log, and every record
     * read is one that was written, at its offset; the other segments are as they were. */
    CHECK(!exists(dir, "00000000000000000000.index.cleaned"));
    CHECK(!exists(dir, "00000000000000000000.log.cleaned"));
    int n = read_all(plog, after, N_REC);
    CHECK(n > 0 && n < n_before);
    for (int i = 0; i < n; i++) {
        CHECK_EQ_INT(atoi(after[i].val), after[i].offset);
    }
    CHECK_EQ_INT(sl_plog_end_offset(plog), N_REC);
    /* And the log still cleans. */
    CHECK(clean_now(plog, 4000) > 0);
    sl_plog_close(plog);
    sl_os_rmtree(dir);
    free(dir);
}

TEST(cleaner_leaves_delete_policy_logs_and_the_active_segment_alone) {
    char *dir = tmpdir();
    sl_plog_conf_t conf = compact_conf();
    conf.cleanup_compact = false;
    sl_plog_t *plog;
    char err[SL_ERRLEN];
    CHECK_EQ_INT(sl_plog_open(dir, &conf, 1000, &plog, err), SL_OK);
    for (int i = 0; i < 50; i++) {
        CHECK_EQ_INT(put1(plog, "k", "v", 1000), SL_OK);
    }
    CHECK(sl_plog_clean_prepare(plog, 2000) == NULL);
    conf.cleanup_compact = true;
    conf.segment_bytes = 1 << 20; /* one segment: the active one */
    sl_plog_close(plog);
    sl_os_rmtree(dir);
    CHECK_EQ_INT(sl_plog_open(dir, &conf, 1000, &plog, err), SL_OK);
    for (int i = 0; i < 50; i++) {
        CHECK_EQ_INT(put1(plog, "k", "v", 1000), SL_OK);
    }
    CHECK(sl_plog_clean_prepare(plog, 2000) == NULL);
    sl_plog_close(plog);
    sl_os_rmtree(dir);
    free(dir);
}

static sl_plog_t *filled_log(const char *dir, int64_t now) {
    sl_plog_conf_t conf = compact_conf();
    sl_plog_t *plog;
    char err[SL_ERRLEN];
    if (sl_plog_open(dir, &conf, now, &plog, err) != SL_OK) {
        return NULL;
    }
    for (int i = 0; i < N_REC; i++) {
        char k[16], v[16];
        snprintf(k, sizeof k, "k%d", i % N_KEY);
        snprintf(v, sizeof v, "%d", i);
        if (put1(plog, k, v, now) != SL_OK) {
            sl_plog_close(plog);
            return NULL;
        }
    }
    return plog;
}

TEST(cleaner_cancelled_job_creates_nothing_and_swaps_nothing) {
    char *dir = tmpdir();
    sl_plog_t *plog = filled_log(dir, 1000);
    CHECK(plog != NULL);
    int64_t size = sl_plog_size_bytes(plog);
    sl_clean_job_t *job = sl_plog_clean_prepare(plog, 2000);
    CHECK(job != NULL);
    CHECK(sl_plog_clean_prepare(plog, 2000) == NULL); /* one job per log at a time */
    sl_clean_job_cancel(job);
    CHECK_EQ_INT(sl_clean_run(job), SL_ERR_INVAL);
    CHECK_EQ_INT(count_copies(dir), 0);
    sl_plog_clean_finish(plog, job);
    CHECK_EQ_INT(sl_plog_size_bytes(plog), size);
    static seen_t got[N_REC];
    CHECK_EQ_INT(read_all(plog, got, N_REC), N_REC);
    /* A log closed while its job runs: the job is cancelled and only freed when it comes back. */
    job = sl_plog_clean_prepare(plog, 2000);
    CHECK(job != NULL);
    sl_plog_close(plog);
    CHECK(atomic_load(&job->cancelled));
    CHECK(job->plog == NULL);
    CHECK_EQ_INT(sl_clean_run(job), SL_ERR_INVAL);
    CHECK_EQ_INT(count_copies(dir), 0);
    sl_clean_job_free(job);
    sl_os_rmtree(dir);
    free(dir);
}

TEST(cleaner_pool_runs_jobs_off_the_calling_thread) {
    char *dir = tmpdir();
    sl_plog_t *plog = filled_log(dir, 1000);
    CHECK(plog != NULL);
    int64_t size = sl_plog_size_bytes(plog);
    sl_cleaner_t *c = sl_cleaner_new(2);
    CHECK(c != NULL);
    sl_clean_job_t *job = sl_plog_clean_prepare(plog, 2000);
    CHECK(job != NULL);
    sl_cleaner_submit(c, job);
    int done = 0;
    for (int i = 0; i < 2000 && !done; i++) { /* up to 20 s on a loaded machine */
        done = sl_cleaner_poll(c);
        if (!done) {
            usleep(10000);
        }
    }
    CHECK_EQ_INT(done, 1);
    CHECK(sl_plog_size_bytes(plog) < size);
    /* A job still queued or running at sl_cleaner_free comes back to its log, unswapped. */
    CHECK_EQ_INT(put1(plog, "k0", "x", 1000), SL_OK);
    job = sl_plog_clean_prepare(plog, 10000);
    if (job) {
        sl_cleaner_submit(c, job);
    }
    sl_cleaner_free(c);
    CHECK_EQ_INT(count_copies(dir), 0);
    /* The log took its job back: it can have another (freed here without running). */
    for (int i = 0; i < 20; i++) {
        CHECK_EQ_INT(put1(plog, "k1", "y", 1000), SL_OK);
    }
    job = sl_plog_clean_prepare(plog, 10000);
    CHECK(job != NULL);
    sl_plog_clean_finish(plog, job);
    sl_plog_close(plog);
    sl_os_rmtree(dir);
    free(dir);
}

TEST(cleaner_due_rules_dirty_ratio_and_compaction_lags) {
    char *dir = tmpdir();
    sl_plog_t *plog = filled_log(dir, 1000); /* records stamped 1000 */
    CHECK(plog != NULL);
    sl_plog_conf_t conf = compact_conf();
    /* min.compaction.lag.ms: segments with records younger than it wait. */
    conf.min_compaction_lag_ms = 5000;
    sl_plog_set_conf(plog, &conf);
    CHECK(sl_plog_clean_prepare(plog, 3000) == NULL);
    CHECK(clean_now(plog, 7000) > 0);
    /* Everything closed is clean now; a little new dirt is under a 0.9 ratio: not due. */
    conf.min_compaction_lag_ms = 0;
    conf.min_cleanable_dirty_ratio = 0.9;
    sl_plog_set_conf(plog, &conf);
    for (int i = 0; i < 40; i++) {
        CHECK_EQ_INT(put1(plog, "k1", "z", 8000), SL_OK);
    }
    CHECK(sl_plog_clean_prepare(plog, 9000) == NULL);
    /* max.compaction.lag.ms: the oldest dirty record waited long enough: due anyway. */
    conf.max_compaction_lag_ms = 60000;
    sl_plog_set_conf(plog, &conf);
    CHECK(sl_plog_clean_prepare(plog, 9000) == NULL);
    CHECK(clean_now(plog, 8000 + 60000) > 0);
    /* cleanup.policy=delete: never. */
    conf.cleanup_compact = false;
    sl_plog_set_conf(plog, &conf);
    for (int i = 0; i < 40; i++) {
        CHECK_EQ_INT(put1(plog, "k2", "z", 9000), SL_OK);
    }
    CHECK(sl_plog_clean_prepare(plog, 1000000) == NULL);
    sl_plog_close(plog);
    sl_os_rmtree(dir);
    free(dir);
}

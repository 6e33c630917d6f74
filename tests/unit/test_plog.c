/* test_plog.c -- the partition log: appends, rolls, reads, time lookups, retention, reopen. */
#include <unistd.h>

#include "harness.h"
#include "storage/compress.h"
#include "storage_util.h"

/* Closes what sl_plog_sync_begin handed out for directories (fsync'ed first, as a worker would). */
static void close_dirs(int dirs[2]) {
    for (int k = 0; k < 2; k++) {
        if (dirs[k] >= 0) {
            (void)fsync(dirs[k]);
            close(dirs[k]);
        }
    }
}

TEST(append_assigns_dense_offsets_and_rolls_segments) {
    char *dir = tmpdir();
    sl_plog_conf_t conf = small_conf();
    sl_plog_t *plog;
    char err[SL_ERRLEN];
    CHECK_EQ_INT(sl_plog_open(dir, &conf, 1000, &plog, err), SL_OK);
    int64_t first = -1;
    CHECK_EQ_INT(append_batches(plog, 100, 10, 5000, 1000, &first), SL_OK);
    CHECK_EQ_INT(first, 0);
    CHECK_EQ_INT(sl_plog_end_offset(plog), 1000);
    CHECK(sl_plog_segment_count(plog) > 3); /* 4 KiB segments */
    CHECK_EQ_INT(sl_plog_sync(plog), SL_OK);
    CHECK_EQ_INT(sl_plog_durable_offset(plog), 1000);
    /* Every offset is found, including ones inside a batch and at segment starts. */
    for (int64_t off = 0; off < 1000; off += 7) {
        sl_plog_slice_t s;
        CHECK_EQ_INT(sl_plog_read(plog, off, 1000, 1, &s), SL_OK);
        CHECK(s.len > 0);
        int64_t base = slice_first_base(&s);
        CHECK(base <= off && off < base + 10);
        CHECK_EQ_INT(s.first_offset, base);
        close(s.fd);
    }
    sl_plog_slice_t s;
    CHECK_EQ_INT(sl_plog_read(plog, 1000, 1000, 4096, &s), SL_OK);
    CHECK_EQ_INT(s.len, 0);
    CHECK_EQ_INT(sl_plog_read(plog, 1001, 1001, 4096, &s), SL_ERR_LIMIT);
    /* The limit offset (high watermark) is respected. */
    CHECK_EQ_INT(sl_plog_read(plog, 0, 5, 1 << 20, &s), SL_OK);
    CHECK(s.len > 0);
    close(s.fd);
    sl_plog_close(plog);
    sl_os_rmtree(dir);
    free(dir);
}

TEST(read_respects_max_bytes_but_returns_first_batch_whole) {
    char *dir = tmpdir();
    sl_plog_conf_t conf = small_conf();
    conf.segment_bytes = 1 << 20;
    sl_plog_t *plog;
    char err[SL_ERRLEN];
    CHECK_EQ_INT(sl_plog_open(dir, &conf, 1, &plog, err), SL_OK);
    CHECK_EQ_INT(append_batches(plog, 20, 10, 1, 1, NULL), SL_OK);
    sl_plog_slice_t one, many;
    CHECK_EQ_INT(sl_plog_read(plog, 0, 200, 1, &one), SL_OK);
    CHECK_EQ_INT(sl_plog_read(plog, 0, 200, 1 << 20, &many), SL_OK);
    CHECK(one.len > 0 && many.len > one.len);
    CHECK_EQ_INT(many.len % one.len, 0); /* equal-sized batches, whole ones only */
    close(one.fd);
    close(many.fd);
    sl_plog_close(plog);
    sl_os_rmtree(dir);
    free(dir);
}

TEST(offset_for_time_and_max_timestamp) {
    char *dir = tmpdir();
    sl_plog_conf_t conf = small_conf();
    sl_plog_t *plog;
    char err[SL_ERRLEN];
    CHECK_EQ_INT(sl_plog_open(dir, &conf, 1, &plog, err), SL_OK);
    CHECK_EQ_INT(append_batches(plog, 50, 10, 10000, 1, NULL), SL_OK); /* ts 10000..10499 */
    int64_t off, ts;
    sl_decomp_t d;
    sl_decomp_init(&d);
    CHECK_EQ_INT(sl_plog_offset_for_time(plog, 0, &d, 1 << 20, &off, &ts), SL_OK);
    CHECK_EQ_INT(off, 0);
    CHECK_EQ_INT(sl_plog_offset_for_time(plog, 10255, &d, 1 << 20, &off, &ts), SL_OK);
    CHECK_EQ_INT(off, 255); /* the record, inside the batch holding ts 10250..10259 */
    CHECK_EQ_INT(ts, 10255);
    CHECK_EQ_INT(sl_plog_offset_for_time(plog, 99999, &d, 1 << 20, &off, &ts), SL_OK);
    CHECK_EQ_INT(off, -1);
    CHECK_EQ_INT(sl_plog_max_timestamp(plog, &d, 1 << 20, &ts, &off), SL_OK);
    CHECK_EQ_INT(ts, 10499);
    CHECK_EQ_INT(off, 499);
    sl_decomp_fini(&d);
    sl_plog_close(plog);
    sl_os_rmtree(dir);
    free(dir);
}

TEST(retention_by_size_and_by_time) {
    char *dir = tmpdir();
    sl_plog_conf_t conf = small_conf();
    sl_plog_t *plog;
    char err[SL_ERRLEN];
    CHECK_EQ_INT(sl_plog_open(dir, &conf, 1, &plog, err), SL_OK);
    CHECK_EQ_INT(append_batches(plog, 100, 10, 1000, 1, NULL), SL_OK);
    int segs = sl_plog_segment_count(plog);
    conf.retention_bytes = 8192;
    sl_plog_set_conf(plog, &conf);
    int deleted = sl_plog_tick(plog, 2);
    CHECK(deleted > 0);
    CHECK_EQ_INT(sl_plog_segment_count(plog), segs - deleted);
    CHECK(sl_plog_size_bytes(plog) - 4096 < 8192);
    int64_t start = sl_plog_start_offset(plog);
    CHECK(start > 0);
    sl_plog_slice_t s;
    CHECK_EQ_INT(sl_plog_read(plog, start - 1, 1000, 100, &s), SL_ERR_LIMIT);
    CHECK_EQ_INT(sl_plog_read(plog, start, 1000, 100, &s), SL_OK);
    CHECK_EQ_INT(slice_first_base(&s), start);
    close(s.fd);
    /* Time: everything but the active segment is older than 1 s at now = 1,000,000. */
    conf.retention_bytes = -1;
    conf.retention_ms = 1000;
    sl_plog_set_conf(plog, &conf);
    CHECK(sl_plog_tick(plog, 1000000) > 0);
    CHECK_EQ_INT(sl_plog_segment_count(plog), 1);
    CHECK_EQ_INT(sl_plog_end_offset(plog), 1000);
    sl_plog_close(plog);
    sl_os_rmtree(dir);
    free(dir);
}

TEST(reopen_clean_and_unclean_give_the_same_log) {
    char *dir = tmpdir();
    sl_plog_conf_t conf = small_conf();
    sl_plog_t *plog;
    char err[SL_ERRLEN];
    CHECK_EQ_INT(sl_plog_open(dir, &conf, 1, &plog, err), SL_OK);
    CHECK_EQ_INT(append_batches(plog, 37, 9, 1, 1, NULL), SL_OK);
    sl_plog_close(plog);
    char marker[512];
    snprintf(marker, sizeof marker, "%s/clean-shutdown", dir);
    CHECK(access(marker, F_OK) == 0);
    CHECK_EQ_INT(sl_plog_open(dir, &conf, 2, &plog, err), SL_OK);
    CHECK(access(marker, F_OK) != 0); /* removed while open */
    CHECK_EQ_INT(sl_plog_end_offset(plog), 333);
    CHECK_EQ_INT(append_batches(plog, 3, 9, 1, 2, NULL), SL_OK);
    CHECK_EQ_INT(sl_plog_sync(plog), SL_OK);
    /* Simulate a crash: drop the handle without the marker by reopening a second copy. */
    sl_plog_t *crashed = plog;
    (void)crashed;
    unlink(marker);
    sl_plog_t *again;
    CHECK_EQ_INT(sl_plog_open(dir, &conf, 3, &again, err), SL_OK);
    CHECK_EQ_INT(sl_plog_end_offset(again), 360);
    sl_plog_slice_t s;
    CHECK_EQ_INT(sl_plog_read(again, 355, 360, 100, &s), SL_OK);
    CHECK_EQ_INT(slice_first_base(&s), 351);
    close(s.fd);
    sl_plog_close(again);
    sl_plog_close(plog);
    sl_os_rmtree(dir);
    free(dir);
}

/* librdkafka's 0081 fixture: three records in one batch with timestamps +100, +400, +250. By time
 * each target is answered by the first record that reaches it; the max-timestamp lookup (KIP-734)
 * answers the record holding +400, not the batch's last offset. */
TEST(time_lookups_resolve_records_inside_a_batch) {
    char *dir = tmpdir();
    sl_plog_conf_t conf = small_conf();
    conf.segment_bytes = 1 << 20;
    sl_plog_t *plog;
    char err[SL_ERRLEN];
    CHECK_EQ_INT(sl_plog_open(dir, &conf, 1, &plog, err), SL_OK);
    const int64_t base = 1700000000000;
    const int64_t delta[3] = {100, 400, 250};
    sl_buf_t b = {0};
    batchgen_times(&b, 3, base, delta);
    int64_t first;
    CHECK_EQ_INT(sl_plog_append(plog, b.data, b.len, 1, &first), SL_OK);
    sl_buf_fini(&b);
    sl_decomp_t d;
    sl_decomp_init(&d);
    const int64_t target[5] = {50, 150, 300, 400, 401};
    const int64_t want[5] = {0, 1, 1, 1, -1};
    for (int i = 0; i < 5; i++) {
        int64_t off, ts;
        CHECK_EQ_INT(sl_plog_offset_for_time(plog, base + target[i], &d, 1 << 20, &off, &ts),
                     SL_OK);
        CHECK_EQ_INT(off, want[i]);
    }
    int64_t off, ts;
    CHECK_EQ_INT(sl_plog_max_timestamp(plog, &d, 1 << 20, &ts, &off), SL_OK);
    CHECK_EQ_INT(ts, base + 400);
    CHECK_EQ_INT(off, 1);
    /* The same after a reopen, when the segment's maximum comes from the indexes. */
    sl_plog_close(plog);
    CHECK_EQ_INT(sl_plog_open(dir, &conf, 1, &plog, err), SL_OK);
    CHECK_EQ_INT(sl_plog_max_timestamp(plog, &d, 1 << 20, &ts, &off), SL_OK);
    CHECK_EQ_INT(off, 1);
    sl_decomp_fini(&d);
    sl_plog_close(plog);
    sl_os_rmtree(dir);
    free(dir);
}

TEST(log_append_time_topics_stamp_batches) {
    char *dir = tmpdir();
    sl_plog_conf_t conf = small_conf();
    conf.log_append_time = true;
    sl_plog_t *plog;
    char err[SL_ERRLEN];
    CHECK_EQ_INT(sl_plog_open(dir, &conf, 1, &plog, err), SL_OK);
    CHECK_EQ_INT(append_batches(plog, 1, 3, 5, 777777, NULL), SL_OK);
    int64_t ts, off;
    sl_decomp_t d;
    sl_decomp_init(&d);
    CHECK_EQ_INT(sl_plog_max_timestamp(plog, &d, 1 << 20, &ts, &off), SL_OK);
    sl_decomp_fini(&d);
    CHECK_EQ_INT(ts, 777777);
    CHECK_EQ_INT(off, 0); /* LogAppendTime: every record carries it; the first one answers */
    sl_plog_slice_t s;
    CHECK_EQ_INT(sl_plog_read(plog, 0, 3, 4096, &s), SL_OK);
    uint8_t *buf = sl_xmalloc(s.len);
    CHECK(pread(s.fd, buf, s.len, s.pos) == (ssize_t)s.len);
    sl_batch_info_t info;
    CHECK_EQ_INT(sl_batch_parse(buf, s.len, true, &info), SL_OK);
    CHECK(info.attributes & SL_BATCH_ATTR_LOG_APPEND_TIME);
    free(buf);
    close(s.fd);
    sl_plog_close(plog);
    sl_os_rmtree(dir);
    free(dir);
}

TEST(flush_messages_and_flush_ms_sync_by_themselves) {
    char *dir = tmpdir();
    sl_plog_conf_t conf = small_conf();
    conf.segment_bytes = 1 << 20;
    conf.flush_messages = 10;
    conf.flush_ms = 500;
    sl_plog_t *plog;
    char err[SL_ERRLEN];
    CHECK_EQ_INT(sl_plog_open(dir, &conf, 1000, &plog, err), SL_OK);
    CHECK_EQ_INT(append_batches(plog, 1, 4, 1, 1000, NULL), SL_OK);
    CHECK_EQ_INT(sl_plog_durable_offset(plog), 0); /* 4 < flush.messages */
    CHECK_EQ_INT(append_batches(plog, 2, 4, 1, 1000, NULL), SL_OK);
    CHECK_EQ_INT(sl_plog_durable_offset(plog), 12); /* 12 >= 10: synced on append */
    CHECK_EQ_INT(append_batches(plog, 1, 4, 1, 1100, NULL), SL_OK);
    CHECK_EQ_INT(sl_plog_tick(plog, 1200), 0);
    CHECK_EQ_INT(sl_plog_durable_offset(plog), 12); /* 100 ms old < flush.ms */
    CHECK_EQ_INT(sl_plog_tick(plog, 1700), 0);
    CHECK_EQ_INT(sl_plog_durable_offset(plog), 16);
    /* The asynchronous path: begin hands out the target, end makes it durable. */
    CHECK_EQ_INT(append_batches(plog, 1, 4, 1, 1800, NULL), SL_OK);
    int fd;
    int64_t target;
    int dirs[2];
    CHECK_EQ_INT(sl_plog_sync_begin(plog, &fd, dirs, &target), SL_OK);
    CHECK(fd >= 0);
    CHECK_EQ_INT(target, 20);
    CHECK_EQ_INT(fdatasync(fd), 0);
    close(fd);
    close_dirs(dirs);
    CHECK_EQ_INT(sl_plog_sync_end(plog, target, SL_OK), SL_OK);
    CHECK_EQ_INT(sl_plog_durable_offset(plog), 20);
    CHECK_EQ_INT(sl_plog_sync_begin(plog, &fd, dirs, &target), SL_OK);
    CHECK_EQ_INT(fd, -1); /* nothing left to sync */
    CHECK(sl_plog_sync_end(plog, 24, SL_ERR_IO) != SL_OK);
    CHECK(sl_plog_failed(plog));
    sl_plog_close(plog);
    sl_os_rmtree(dir);
    free(dir);
}

TEST(writeback_is_due_after_enough_unsynced_bytes) {
    char *dir = tmpdir();
    sl_plog_conf_t conf = small_conf();
    conf.segment_bytes = 64 << 20;
    sl_plog_t *plog;
    char err[SL_ERRLEN];
    CHECK_EQ_INT(sl_plog_open(dir, &conf, 1000, &plog, err), SL_OK);
    sl_buf_t b = {0};
    batchgen(&b, 2000, 1); /* about 20 KB */
    int64_t base;
    int appends = 0;
    while (!sl_plog_writeback_due(plog) && appends < 10000) {
        sl_buf_t copy = {0};
        sl_buf_append(&copy, b.data, b.len);
        CHECK_EQ_INT(sl_plog_append(plog, copy.data, copy.len, 1000, &base), SL_OK);
        sl_buf_fini(&copy);
        appends++;
    }
    /* Due once SL_PLOG_WRITEBACK_BYTES are unsynced, not before. */
    CHECK_EQ_INT((int64_t)appends, (SL_PLOG_WRITEBACK_BYTES + (int64_t)b.len - 1) / (int64_t)b.len);
    int fd;
    int64_t target;
    int dirs[2];
    CHECK_EQ_INT(sl_plog_sync_begin(plog, &fd, dirs, &target), SL_OK);
    CHECK(fd >= 0);
    CHECK_EQ_INT(fdatasync(fd), 0);
    close(fd);
    close_dirs(dirs);
    CHECK(sl_plog_writeback_due(plog)); /* the sync has not reported yet */
    CHECK_EQ_INT(sl_plog_sync_end(plog, target, SL_OK), SL_OK);
    CHECK(!sl_plog_writeback_due(plog));
    sl_buf_fini(&b);
    sl_plog_close(plog);
    sl_os_rmtree(dir);
    free(dir);
}

/* DeleteRecords: the log start offset moves up (never down), reads below it are out of range,
 * segments wholly below it are deleted, time lookups skip the records below it, and a reopen
 * keeps it. */
TEST(delete_records_moves_the_log_start_offset_durably) {
    char *dir = tmpdir();
    sl_plog_conf_t conf = small_conf();
    sl_plog_t *plog;
    char err[SL_ERRLEN];
    CHECK_EQ_INT(sl_plog_open(dir, &conf, 1, &plog, err), SL_OK);
    CHECK_EQ_INT(append_batches(plog, 100, 10, 5000, 1, NULL), SL_OK); /* ts 5000..5999 */
    int segs = sl_plog_segment_count(plog);
    CHECK(segs > 3);
    CHECK_EQ_INT(sl_plog_delete_records(plog, 1001), SL_ERR_LIMIT);
    CHECK_EQ_INT(sl_plog_delete_records(plog, 555), SL_OK);
    CHECK_EQ_INT(sl_plog_start_offset(plog), 555);
    CHECK(sl_plog_segment_count(plog) < segs);
    CHECK_EQ_INT(sl_plog_delete_records(plog, 100), SL_OK); /* below: no change */
    CHECK_EQ_INT(sl_plog_start_offset(plog), 555);
    sl_plog_slice_t s;
    CHECK_EQ_INT(sl_plog_read(plog, 554, 1000, 4096, &s), SL_ERR_LIMIT);
    CHECK_EQ_INT(sl_plog_read(plog, 555, 1000, 4096, &s), SL_OK);
    CHECK(s.len > 0);
    close(s.fd);
    sl_decomp_t d;
    sl_decomp_init(&d);
    int64_t off, ts;
    CHECK_EQ_INT(sl_plog_offset_for_time(plog, 0, &d, 1 << 20, &off, &ts), SL_OK);
    CHECK_EQ_INT(off, 555);
    CHECK_EQ_INT(ts, 5555);
    sl_plog_close(plog);
    CHECK_EQ_INT(sl_plog_open(dir, &conf, 1, &plog, err), SL_OK);
    CHECK_EQ_INT(sl_plog_start_offset(plog), 555);
    CHECK_EQ_INT(sl_plog_end_offset(plog), 1000);
    CHECK_EQ_INT(sl_plog_delete_records(plog, 1000), SL_OK); /* everything */
    CHECK_EQ_INT(sl_plog_max_timestamp(plog, &d, 1 << 20, &ts, &off), SL_OK);
    CHECK_EQ_INT(off, -1);
    sl_decomp_fini(&d);
    sl_plog_close(plog);
    sl_os_rmtree(dir);
    free(dir);
}

/* The first append to a fresh partition (issue 14) creates its directory and files but syncs no
 * directory: three directory fsyncs per partition stalled the event loop for seconds when a
 * producer first wrote to thousands of fresh partitions. The entries become durable with the
 * partition's first sync instead: inline (sl_plog_sync), or handed out with the asynchronous one.
 */
static int fsyncs;
static int (*real_fsync)(int);
static int counting_fsync(int fd) {
    fsyncs++;
    return real_fsync(fd);
}

TEST(first_append_syncs_no_directory_the_first_sync_does) {
    char *root = tmpdir();
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/t-0", root);
    sl_plog_conf_t conf = small_conf();
    conf.segment_bytes = 1 << 20;
    sl_plog_t *plog;
    char err[SL_ERRLEN];
    CHECK_EQ_INT(sl_plog_open(dir, &conf, 1000, &plog, err), SL_OK);
    real_fsync = sl_os.fsync;
    sl_os.fsync = counting_fsync;
    fsyncs = 0;
    CHECK_EQ_INT(append_batches(plog, 1, 4, 1, 1000, NULL), SL_OK);
    CHECK_EQ_INT(fsyncs, 0);
    CHECK(access(dir, F_OK) == 0);
    /* The asynchronous sync hands out the directory and its parent, once. */
    int fd, dirs[2];
    int64_t target;
    CHECK_EQ_INT(sl_plog_sync_begin(plog, &fd, dirs, &target), SL_OK);
    CHECK(fd >= 0 && dirs[0] >= 0 && dirs[1] >= 0);
    CHECK_EQ_INT(fdatasync(fd), 0);
    close(fd);
    close_dirs(dirs);
    CHECK_EQ_INT(sl_plog_sync_end(plog, target, SL_OK), SL_OK);
    CHECK_EQ_INT(append_batches(plog, 1, 4, 1, 1001, NULL), SL_OK);
    CHECK_EQ_INT(sl_plog_sync_begin(plog, &fd, dirs, &target), SL_OK);
    CHECK(fd >= 0);
    CHECK_EQ_INT(dirs[0], -1);
    CHECK_EQ_INT(dirs[1], -1);
    close(fd);
    CHECK_EQ_INT(sl_plog_sync_end(plog, target, SL_OK), SL_OK);
    sl_plog_close(plog);
    /* The inline sync of a fresh log syncs both directories itself. */
    snprintf(dir, sizeof dir, "%s/t-1", root);
    CHECK_EQ_INT(sl_plog_open(dir, &conf, 1000, &plog, err), SL_OK);
    CHECK_EQ_INT(append_batches(plog, 1, 4, 1, 1000, NULL), SL_OK);
    fsyncs = 0;
    CHECK_EQ_INT(sl_plog_sync(plog), SL_OK);
    CHECK_EQ_INT(fsyncs, 2);
    fsyncs = 0;
    CHECK_EQ_INT(append_batches(plog, 1, 4, 1, 1001, NULL), SL_OK);
    CHECK_EQ_INT(sl_plog_sync(plog), SL_OK);
    CHECK_EQ_INT(fsyncs, 0);
    sl_os.fsync = real_fsync;
    sl_plog_close(plog);
    sl_os_rmtree(root);
    free(root);
}

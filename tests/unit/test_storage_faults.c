/* test_storage_faults.c -- EIO and ENOSPC injected through the system-call table: no crash, the
 * log turns FAILED and refuses appends, and nothing synced is lost after reopening. */
#include <errno.h>
#include <unistd.h>

#include "harness.h"
#include "storage_util.h"

static int fail_after; /* calls left before the fault */
static int fault_errno;

static ssize_t faulty_pwrite(int fd, const void *buf, size_t n, off_t off) {
    if (fail_after-- <= 0) {
        errno = fault_errno;
        /* Land half of it, as a real short write before ENOSPC would. */
        ssize_t w = pwrite(fd, buf, n / 2, off);
        (void)w;
        errno = fault_errno;
        return -1;
    }
    return pwrite(fd, buf, n, off);
}

static int faulty_fdatasync(int fd) {
    if (fail_after-- <= 0) {
        errno = fault_errno;
        return -1;
    }
    return fdatasync(fd);
}

static void run_case(int *sl_failed_, bool in_sync, int err_no) {
    char *dir = tmpdir();
    sl_plog_conf_t conf = small_conf();
    conf.segment_bytes = 1 << 20;
    sl_plog_t *plog;
    char err[SL_ERRLEN];
    CHECK_EQ_INT(sl_plog_open(dir, &conf, 1, &plog, err), SL_OK);
    CHECK_EQ_INT(append_batches(plog, 10, 4, 1, 1, NULL), SL_OK);
    CHECK_EQ_INT(sl_plog_sync(plog), SL_OK); /* 40 records acknowledged as durable */
    fault_errno = err_no;
    if (in_sync) {
        fail_after = 0;
        sl_os.fdatasync = faulty_fdatasync;
        CHECK_EQ_INT(append_batches(plog, 2, 4, 1, 1, NULL), SL_OK);
        sl_err_t rc = sl_plog_sync(plog);
        CHECK(rc == (err_no == ENOSPC ? SL_ERR_NOSPACE : SL_ERR_IO));
    } else {
        fail_after = 1; /* the second pwrite of the next appends */
        sl_os.pwrite = faulty_pwrite;
        sl_err_t rc = append_batches(plog, 3, 4, 1, 1, NULL);
        CHECK(rc == (err_no == ENOSPC ? SL_ERR_NOSPACE : SL_ERR_IO));
    }
    CHECK(sl_plog_failed(plog));
    sl_os_reset();
    /* Sticky: refuses further appends and syncs even though the disk is fine again. */
    CHECK(append_batches(plog, 1, 4, 1, 1, NULL) != SL_OK);
    CHECK(sl_plog_sync(plog) != SL_OK);
    int64_t durable = sl_plog_durable_offset(plog);
    CHECK_EQ_INT(durable, 40);
    sl_plog_close(plog); /* no clean marker for a FAILED log */
    CHECK_EQ_INT(sl_plog_open(dir, &conf, 2, &plog, err), SL_OK);
    CHECK(sl_plog_end_offset(plog) >= 40);
    for (int64_t off = 0; off < 40; off += 4) {
        sl_plog_slice_t s;
        CHECK_EQ_INT(sl_plog_read(plog, off, 40, 1, &s), SL_OK);
        CHECK_EQ_INT(slice_first_base(&s), off);
        close(s.fd);
    }
    CHECK(!sl_plog_failed(plog));
    CHECK_EQ_INT(append_batches(plog, 1, 4, 1, 3, NULL), SL_OK);
    sl_plog_close(plog);
    sl_os_rmtree(dir);
    free(dir);
}

/* Closes what sl_plog_sync_begin handed out for directories (fsync'ed first, as a worker would). */
static void close_dirs(int dirs[2]) {
    for (int k = 0; k < 2; k++) {
        if (dirs[k] >= 0) {
            (void)fsync(dirs[k]);
            close(dirs[k]);
        }
    }
}

TEST(eio_on_write) {
    run_case(sl_failed_, false, EIO);
}

TEST(enospc_on_write) {
    run_case(sl_failed_, false, ENOSPC);
}

TEST(eio_on_fdatasync) {
    run_case(sl_failed_, true, EIO);
}

TEST(enospc_on_fdatasync) {
    run_case(sl_failed_, true, ENOSPC);
}

/* Reads every batch of `per` records from 0 to `end`: each is where it was appended. */
static bool all_readable(sl_plog_t *plog, int64_t end, int per) {
    for (int64_t off = 0; off < end; off += per) {
        sl_plog_slice_t s;
        if (sl_plog_read(plog, off, end, 1, &s) != SL_OK || s.fd < 0) {
            return false;
        }
        bool ok = slice_first_base(&s) == off;
        close(s.fd);
        if (!ok) {
            return false;
        }
    }
    return true;
}

/* Issue 6: FAILED by a full disk, then space is freed: the log re-checks itself in sl_plog_tick
 * and takes appends again, every offset it had (the synced ones and the acks=1 ones that were
 * only in the page cache) is still there and durable, with no restart. */
static void full_disk_then_room(int *sl_failed_, bool in_sync) {
    char *dir = tmpdir();
    sl_plog_conf_t conf = small_conf();
    conf.segment_bytes = 1 << 20;
    sl_plog_t *plog;
    char err[SL_ERRLEN];
    CHECK_EQ_INT(sl_plog_open(dir, &conf, 1, &plog, err), SL_OK);
    CHECK_EQ_INT(append_batches(plog, 10, 4, 1, 1, NULL), SL_OK);
    CHECK_EQ_INT(sl_plog_sync(plog), SL_OK);                     /* 0..39 durable */
    CHECK_EQ_INT(append_batches(plog, 2, 4, 1, 1, NULL), SL_OK); /* 40..47 acks=1 */
    fault_errno = ENOSPC;
    fail_after = 0;
    if (in_sync) {
        int fd;
        int64_t target;
        int dirs[2];
        CHECK_EQ_INT(sl_plog_sync_begin(plog, &fd, dirs, &target), SL_OK);
        close(fd);
        close_dirs(dirs);
        CHECK_EQ_INT(sl_plog_sync_end(plog, target, SL_ERR_NOSPACE), SL_ERR_NOSPACE);
    } else {
        sl_os.pwrite = faulty_pwrite;
        CHECK_EQ_INT(append_batches(plog, 1, 4, 1, 1, NULL), SL_ERR_NOSPACE);
    }
    CHECK(sl_plog_failed(plog));
    CHECK(sl_plog_failed_by_full_disk(plog));
    /* Still full: the re-check's own sync fails, the log stays FAILED. */
    sl_os.fdatasync = faulty_fdatasync;
    fail_after = 0;
    CHECK(sl_plog_tick(plog, 10000) >= 0);
    CHECK(sl_plog_failed(plog));
    sl_os_reset();
    CHECK(sl_plog_tick(plog, 10000 + SL_PLOG_RECHECK_MS - 1) >= 0); /* not yet due */
    CHECK(sl_plog_failed(plog));
    CHECK(sl_plog_tick(plog, 10000 + SL_PLOG_RECHECK_MS) >= 0); /* room again */
    CHECK(!sl_plog_failed(plog));
    CHECK_EQ_INT(sl_plog_end_offset(plog), 48);
    CHECK_EQ_INT(sl_plog_durable_offset(plog), 48);
    int64_t first = -1;
    CHECK_EQ_INT(append_batches(plog, 1, 4, 1, 2, &first), SL_OK);
    CHECK_EQ_INT(first, 48);
    CHECK_EQ_INT(sl_plog_sync(plog), SL_OK);
    CHECK(all_readable(plog, 52, 4));
    sl_plog_close(plog);
    CHECK_EQ_INT(sl_plog_open(dir, &conf, 3, &plog, err), SL_OK);
    CHECK_EQ_INT(sl_plog_end_offset(plog), 52);
    CHECK(all_readable(plog, 52, 4));
    sl_plog_close(plog);
    sl_os_rmtree(dir);
    free(dir);
}

TEST(enospc_on_write_recovers_when_space_is_freed) {
    full_disk_then_room(sl_failed_, false);
}

TEST(enospc_on_fdatasync_recovers_when_space_is_freed) {
    full_disk_then_room(sl_failed_, true);
}

TEST(eio_stays_failed_after_tick) {
    char *dir = tmpdir();
    sl_plog_conf_t conf = small_conf();
    sl_plog_t *plog;
    char err[SL_ERRLEN];
    CHECK_EQ_INT(sl_plog_open(dir, &conf, 1, &plog, err), SL_OK);
    CHECK_EQ_INT(append_batches(plog, 2, 4, 1, 1, NULL), SL_OK);
    fault_errno = EIO;
    fail_after = 0;
    sl_os.fdatasync = faulty_fdatasync;
    CHECK_EQ_INT(sl_plog_sync(plog), SL_ERR_IO);
    sl_os_reset();
    CHECK(!sl_plog_failed_by_full_disk(plog));
    CHECK(sl_plog_tick(plog, 10000) >= 0);
    CHECK(sl_plog_tick(plog, 10000 + 10 * SL_PLOG_RECHECK_MS) >= 0);
    CHECK(sl_plog_failed(plog));
    sl_plog_close(plog);
    sl_os_rmtree(dir);
    free(dir);
}

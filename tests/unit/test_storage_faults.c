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

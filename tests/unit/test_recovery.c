/* test_recovery.c -- crash recovery on copies of real segments: torn tails, bad CRCs, garbage,
 * empty files. Each case writes a log, damages a copy of its active segment, reopens, and checks
 * the truncation point and that what remains reads back. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "storage_util.h"

/* Writes 20 batches of 5 records into one segment, closes uncleanly (no marker). Returns the
 * byte size of one batch. */
static size_t make_log(const char *dir, int64_t *end_out) {
    sl_plog_conf_t conf = small_conf();
    conf.segment_bytes = 1 << 20;
    sl_plog_t *plog;
    char err[SL_ERRLEN];
    if (sl_plog_open(dir, &conf, 1, &plog, err) != SL_OK) {
        return 0;
    }
    if (append_batches(plog, 20, 5, 100, 1, NULL) != SL_OK) {
        return 0;
    }
    *end_out = sl_plog_end_offset(plog);
    sl_plog_close(plog);
    char marker[512];
    snprintf(marker, sizeof marker, "%s/clean-shutdown", dir);
    unlink(marker); /* as after kill -9 */
    sl_buf_t b = {0};
    size_t n = batchgen(&b, 5, 100);
    sl_buf_fini(&b);
    return n;
}

static off_t seg_size(const char *dir) {
    char p[512];
    snprintf(p, sizeof p, "%s/00000000000000000000.log", dir);
    struct stat st;
    return stat(p, &st) == 0 ? st.st_size : -1;
}

static int seg_fd(const char *dir) {
    char p[512];
    snprintf(p, sizeof p, "%s/00000000000000000000.log", dir);
    return open(p, O_RDWR);
}

static int64_t reopen_end(const char *dir) {
    sl_plog_conf_t conf = small_conf();
    conf.segment_bytes = 1 << 20;
    sl_plog_t *plog;
    char err[SL_ERRLEN];
    if (sl_plog_open(dir, &conf, 2, &plog, err) != SL_OK) {
        return -2;
    }
    int64_t end = sl_plog_end_offset(plog);
    /* Everything left must read back, batch by batch. */
    for (int64_t off = 0; off < end; off += 5) {
        sl_plog_slice_t s;
        if (sl_plog_read(plog, off, end, 1, &s) != SL_OK || s.len == 0) {
            sl_plog_close(plog);
            return -3;
        }
        close(s.fd);
    }
    /* And the log accepts new appends right after the cut. */
    int64_t base;
    if (append_batches(plog, 1, 5, 1, 2, &base) != SL_OK || base != end) {
        sl_plog_close(plog);
        return -4;
    }
    sl_plog_close(plog);
    return end;
}

TEST(torn_tail_is_truncated_at_the_last_whole_batch) {
    char *dir = tmpdir();
    int64_t end;
    size_t bsize = make_log(dir, &end);
    CHECK(bsize > 0);
    CHECK_EQ_INT(end, 100);
    int fd = seg_fd(dir);
    CHECK(ftruncate(fd, (off_t)(bsize * 17 + bsize / 2)) == 0); /* half of batch 18 */
    close(fd);
    CHECK_EQ_INT(reopen_end(dir), 85);
    sl_os_rmtree(dir);
    free(dir);
}

TEST(bad_crc_in_the_middle_truncates_there) {
    char *dir = tmpdir();
    int64_t end;
    size_t bsize = make_log(dir, &end);
    int fd = seg_fd(dir);
    uint8_t byte;
    off_t at = (off_t)(bsize * 10 + bsize - 2); /* inside batch 11's records */
    CHECK(pread(fd, &byte, 1, at) == 1);
    byte ^= 0xff;
    CHECK(pwrite(fd, &byte, 1, at) == 1);
    close(fd);
    CHECK_EQ_INT(reopen_end(dir), 50);
    CHECK_EQ_INT(seg_size(dir), (off_t)(bsize * 11)); /* 10 batches + the one appended */
    sl_os_rmtree(dir);
    free(dir);
}

TEST(garbage_after_the_last_batch_is_cut) {
    char *dir = tmpdir();
    int64_t end;
    size_t bsize = make_log(dir, &end);
    int fd = seg_fd(dir);
    uint8_t junk[300];
    for (size_t i = 0; i < sizeof junk; i++) {
        junk[i] = (uint8_t)(i * 37 + 11);
    }
    CHECK(pwrite(fd, junk, sizeof junk, (off_t)(bsize * 20)) == (ssize_t)sizeof junk);
    close(fd);
    CHECK_EQ_INT(reopen_end(dir), 100);
    sl_os_rmtree(dir);
    free(dir);
}

TEST(zeroed_tail_as_after_a_power_loss) {
    char *dir = tmpdir();
    int64_t end;
    size_t bsize = make_log(dir, &end);
    int fd = seg_fd(dir);
    uint8_t zeros[4096] = {0};
    CHECK(pwrite(fd, zeros, sizeof zeros, (off_t)(bsize * 19)) == (ssize_t)sizeof zeros);
    close(fd);
    CHECK_EQ_INT(reopen_end(dir), 95);
    sl_os_rmtree(dir);
    free(dir);
}

TEST(empty_segment_file_opens_empty) {
    char *dir = tmpdir();
    int64_t end;
    (void)make_log(dir, &end);
    int fd = seg_fd(dir);
    CHECK(ftruncate(fd, 0) == 0);
    close(fd);
    CHECK_EQ_INT(reopen_end(dir), 0);
    sl_os_rmtree(dir);
    free(dir);
}

TEST(corrupt_index_file_is_rebuilt) {
    char *dir = tmpdir();
    int64_t end;
    (void)make_log(dir, &end);
    char p[512];
    snprintf(p, sizeof p, "%s/00000000000000000000.index", dir);
    int fd = open(p, O_RDWR);
    uint8_t junk[64];
    memset(junk, 0x7f, sizeof junk);
    CHECK(pwrite(fd, junk, sizeof junk, 0) == (ssize_t)sizeof junk);
    close(fd);
    CHECK_EQ_INT(reopen_end(dir), 100);
    sl_os_rmtree(dir);
    free(dir);
}

/* test_fdpool.c -- partition logs under a small RLIMIT_NOFILE (issue 2): segment descriptors are
 * pooled, so many more partitions than descriptors open, take appends and serve reads; running
 * out of descriptors for a sync (EMFILE on dup) is "try again", never a FAILED log. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/os.h"
#include "harness.h"
#include "storage/reclog.h"
#include "storage/segment.h"
#include "storage_util.h"

#define NOFILE_LIMIT 64
#define N_LOGS       100 /* 300 segment files: more than four times the limit */

static struct rlimit saved_limit;

static void limit_nofile(rlim_t n) {
    getrlimit(RLIMIT_NOFILE, &saved_limit);
    struct rlimit rl = {n, saved_limit.rlim_max};
    setrlimit(RLIMIT_NOFILE, &rl);
}

static void restore_nofile(void) {
    setrlimit(RLIMIT_NOFILE, &saved_limit);
}

/* Takes every free descriptor (dups of /dev/null); returns how many, their fds in `fds`. */
static int exhaust_fds(int *fds, int cap) {
    int n = 0;
    int base = open("/dev/null", O_RDONLY);
    if (base < 0) {
        return 0;
    }
    fds[n++] = base;
    while (n < cap) {
        int fd = dup(base);
        if (fd < 0) {
            break;
        }
        fds[n++] = fd;
    }
    return n;
}

static void release_fds(int *fds, int n) {
    for (int i = 0; i < n; i++) {
        close(fds[i]);
    }
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

TEST(many_partitions_fit_a_small_nofile) {
    limit_nofile(NOFILE_LIMIT);
    sl_segment_set_open_max(8);
    char *root = tmpdir();
    sl_plog_conf_t conf = small_conf();
    sl_plog_t *logs[N_LOGS] = {0};
    char err[SL_ERRLEN];
    int opened = 0;
    for (int i = 0; i < N_LOGS; i++) {
        char dir[512];
        snprintf(dir, sizeof dir, "%s/p-%d", root, i);
        if (sl_plog_open(dir, &conf, 1, &logs[i], err) != SL_OK) {
            fprintf(stderr, "  open %d: %s\n", i, err);
            break;
        }
        opened++;
    }
    int failed_at = -1;
    for (int round = 0; round < 2 && opened == N_LOGS; round++) {
        for (int i = 0; i < N_LOGS && failed_at < 0; i++) {
            /* Enough to roll segments: segment_bytes is 4096. */
            if (append_batches(logs[i], 3, 10, 1, 1, NULL) != SL_OK ||
                sl_plog_sync(logs[i]) != SL_OK) {
                failed_at = i;
            }
        }
    }
    size_t open_now = sl_segment_open_count();
    int bad_reads = 0;
    for (int i = 0; i < opened && failed_at < 0; i++) {
        for (int64_t off = 0; off < 60; off += 10) {
            sl_plog_slice_t s;
            if (sl_plog_read(logs[i], off, 60, 1, &s) != SL_OK || slice_first_base(&s) != off) {
                bad_reads++;
            }
            if (s.fd >= 0) {
                close(s.fd);
            }
        }
        if (sl_plog_failed(logs[i])) {
            bad_reads++;
        }
    }
    for (int i = 0; i < opened; i++) {
        sl_plog_close(logs[i]);
    }
    /* Reopen (recovery reads each log) under the same limit. */
    int reopened = 0;
    for (int i = 0; i < opened; i++) {
        char dir[512];
        snprintf(dir, sizeof dir, "%s/p-%d", root, i);
        if (sl_plog_open(dir, &conf, 2, &logs[i], err) == SL_OK) {
            reopened += sl_plog_end_offset(logs[i]) == 60;
            sl_plog_close(logs[i]);
        }
    }
    restore_nofile();
    sl_segment_set_open_max(1024);
    sl_os_rmtree(root);
    free(root);
    CHECK_EQ_INT(opened, N_LOGS);
    CHECK_EQ_INT(failed_at, -1);
    CHECK(open_now <= 8);
    CHECK_EQ_INT(bad_reads, 0);
    CHECK_EQ_INT(reopened, N_LOGS);
}

TEST(emfile_on_dup_is_not_a_failed_sync) {
    char *dir = tmpdir();
    sl_plog_conf_t conf = small_conf();
    conf.segment_bytes = 1 << 20;
    sl_plog_t *plog;
    char err[SL_ERRLEN];
    CHECK_EQ_INT(sl_plog_open(dir, &conf, 1, &plog, err), SL_OK);
    CHECK_EQ_INT(append_batches(plog, 4, 5, 1, 1, NULL), SL_OK);
    limit_nofile(NOFILE_LIMIT);
    int fds[NOFILE_LIMIT];
    int n = exhaust_fds(fds, NOFILE_LIMIT);
    int fd = -1;
    int64_t target = -1;
    int dirs[2];
    sl_err_t rc = sl_plog_sync_begin(plog, &fd, dirs, &target);
    bool failed_while_out = sl_plog_failed(plog);
    release_fds(fds, n);
    restore_nofile();
    CHECK(n > 0);
    CHECK_EQ_INT(rc, SL_AGAIN);
    CHECK(!failed_while_out);
    CHECK_EQ_INT(fd, -1);
    /* Descriptors are back: the retry syncs, and the appends are durable. */
    CHECK_EQ_INT(sl_plog_sync_begin(plog, &fd, dirs, &target), SL_OK);
    CHECK(fd >= 0);
    CHECK_EQ_INT(target, 20);
    CHECK_EQ_INT(fdatasync(fd), 0);
    close(fd);
    close_dirs(dirs);
    CHECK_EQ_INT(sl_plog_sync_end(plog, target, SL_OK), SL_OK);
    CHECK_EQ_INT(sl_plog_durable_offset(plog), 20);
    CHECK_EQ_INT(append_batches(plog, 1, 5, 1, 1, NULL), SL_OK);
    sl_plog_close(plog);
    sl_os_rmtree(dir);
    free(dir);
}

static sl_err_t no_replay(void *opaque, const uint8_t *p, size_t len) {
    (void)opaque;
    (void)p;
    (void)len;
    return SL_OK;
}

TEST(emfile_on_reclog_dup_retries) {
    char *dir = tmpdir();
    char path[512], err[SL_ERRLEN];
    snprintf(path, sizeof path, "%s/x.log", dir);
    sl_reclog_t *rl = sl_reclog_open(path, no_replay, NULL, err);
    CHECK(rl != NULL);
    sl_buf_t buf = {0};
    sl_writer_t wr = sl_reclog_begin(&buf);
    sl_wr_i32(&wr, 42);
    CHECK_EQ_INT(sl_reclog_append(rl, &buf), SL_OK);
    uint64_t pos = sl_reclog_want_sync(rl);
    limit_nofile(NOFILE_LIMIT);
    int fds[NOFILE_LIMIT];
    int n = exhaust_fds(fds, NOFILE_LIMIT);
    int fd = -1;
    bool began = sl_reclog_sync_begin(rl, &fd);
    release_fds(fds, n);
    restore_nofile();
    CHECK(!began);
    CHECK(!sl_reclog_failed(rl));
    CHECK(sl_reclog_sync_begin(rl, &fd));
    CHECK_EQ_INT(fdatasync(fd), 0);
    close(fd);
    sl_reclog_sync_end(rl, SL_OK);
    CHECK(sl_reclog_durable(rl, pos));
    sl_reclog_close(rl);
    sl_os_rmtree(dir);
    free(dir);
}

static int fdatasync_calls, fdatasync_fail_at = -1;

static int counting_fdatasync(int fd) {
    if (fdatasync_calls++ == fdatasync_fail_at) {
        errno = EIO;
        return -1;
    }
    return fdatasync(fd);
}

/* A segment with unsynced appends is synced before the pool closes its files; if that sync
 * fails, the error is not lost with the descriptor: its log turns FAILED at its next sync. */
TEST(eviction_syncs_dirty_segments_and_keeps_their_errors) {
    sl_segment_set_open_max(2);
    char *root = tmpdir();
    sl_plog_conf_t conf = small_conf();
    conf.segment_bytes = 1 << 20;
    sl_plog_t *logs[3];
    char err[SL_ERRLEN], dir[512];
    for (int i = 0; i < 3; i++) {
        snprintf(dir, sizeof dir, "%s/p-%d", root, i);
        CHECK_EQ_INT(sl_plog_open(dir, &conf, 1, &logs[i], err), SL_OK);
    }
    sl_os.fdatasync = counting_fdatasync;
    fdatasync_calls = 0;
    CHECK_EQ_INT(append_batches(logs[0], 2, 5, 1, 1, NULL), SL_OK);
    CHECK_EQ_INT(append_batches(logs[1], 2, 5, 1, 1, NULL), SL_OK);
    int before = fdatasync_calls;
    CHECK_EQ_INT(append_batches(logs[2], 2, 5, 1, 1, NULL), SL_OK); /* evicts logs[0]'s */
    sl_segment_evictions_drain();
    CHECK_EQ_INT(fdatasync_calls, before + 1);
    CHECK(sl_segment_open_count() <= 2);
    /* logs[0] reads back through a reopened descriptor; that evicts logs[1]'s, whose sync fails. */
    fdatasync_fail_at = fdatasync_calls;
    sl_plog_slice_t s;
    CHECK_EQ_INT(sl_plog_read(logs[0], 5, 10, 1, &s), SL_OK);
    CHECK_EQ_INT(slice_first_base(&s), 5);
    close(s.fd);
    sl_segment_evictions_drain();
    fdatasync_fail_at = -1;
    sl_os_reset();
    CHECK(!sl_plog_failed(logs[1]));
    CHECK_EQ_INT(sl_plog_sync(logs[1]), SL_ERR_IO); /* the eviction's error, not a fresh 0 */
    CHECK(sl_plog_failed(logs[1]));
    CHECK_EQ_INT(sl_plog_sync(logs[0]), SL_OK);
    CHECK_EQ_INT(sl_plog_sync(logs[2]), SL_OK);
    CHECK_EQ_INT(sl_plog_durable_offset(logs[0]), 10);
    for (int i = 0; i < 3; i++) {
        sl_plog_close(logs[i]);
    }
    sl_segment_set_open_max(1024);
    sl_os_rmtree(root);
    free(root);
}

/* Eviction syncs run on a worker (issue 14): the evicting thread (the event loop) neither syncs
 * nor waits, a reacquire waits for a sync that is running and sees its error, and a reacquire
 * before the worker started takes the descriptors back unsynced. */
static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static pthread_t evicting_thread;
static int syncs_on_evicting, syncs_elsewhere, syncs_blocked;
static bool gate_closed, released, fail_gated;

/* Counts where it runs; off the evicting thread, holds at the gate while it is closed (and then
 * fails with EIO when fail_gated). */
static int gated_fdatasync(int fd) {
    pthread_mutex_lock(&gate_mu);
    if (pthread_equal(pthread_self(), evicting_thread)) {
        syncs_on_evicting++;
        pthread_mutex_unlock(&gate_mu);
        return fdatasync(fd);
    }
    syncs_elsewhere++;
    syncs_blocked++;
    pthread_cond_broadcast(&gate_cv);
    while (gate_closed) {
        pthread_cond_wait(&gate_cv, &gate_mu);
    }
    syncs_blocked--;
    bool fail = fail_gated;
    pthread_mutex_unlock(&gate_mu);
    if (fail) {
        errno = EIO;
        return -1;
    }
    return fdatasync(fd);
}

static void gate_reset(bool closed, bool fail) {
    pthread_mutex_lock(&gate_mu);
    syncs_on_evicting = syncs_elsewhere = syncs_blocked = 0;
    gate_closed = closed;
    released = false;
    fail_gated = fail;
    pthread_mutex_unlock(&gate_mu);
    evicting_thread = pthread_self();
    sl_os.fdatasync = gated_fdatasync;
}

static void gate_wait_blocked(int n) {
    pthread_mutex_lock(&gate_mu);
    while (syncs_blocked < n) {
        pthread_cond_wait(&gate_cv, &gate_mu);
    }
    pthread_mutex_unlock(&gate_mu);
}

static void gate_open(void) {
    pthread_mutex_lock(&gate_mu);
    gate_closed = false;
    released = true;
    pthread_cond_broadcast(&gate_cv);
    pthread_mutex_unlock(&gate_mu);
}

/* Opens the gate after a moment, from another thread (the evicting one is blocked by then). */
static void *open_gate_later(void *arg) {
    (void)arg;
    usleep(50000);
    gate_open();
    return NULL;
}

static bool gate_released(void) {
    pthread_mutex_lock(&gate_mu);
    bool r = released;
    pthread_mutex_unlock(&gate_mu);
    return r;
}

/* `n` logs of one segment each, in `root`, with a pool of `max` segments (and so at most `max`
 * evictions pending). */
static void open_logs(const char *root, sl_plog_t **logs, int n, size_t max) {
    sl_plog_conf_t conf = small_conf();
    conf.segment_bytes = 1 << 20;
    char err[SL_ERRLEN], dir[512];
    sl_segment_set_open_max(max);
    for (int i = 0; i < n; i++) {
        snprintf(dir, sizeof dir, "%s/p-%d", root, i);
        logs[i] = NULL;
        if (sl_plog_open(dir, &conf, 1, &logs[i], err) != SL_OK) {
            fprintf(stderr, "  open %s: %s\n", dir, err);
        }
    }
}

static void close_logs(char *root, sl_plog_t **logs, int n) {
    gate_open();
    sl_segment_evictions_drain();
    sl_os_reset();
    for (int i = 0; i < n; i++) {
        sl_plog_close(logs[i]);
    }
    sl_segment_set_open_max(1024);
    sl_os_rmtree(root);
    free(root);
}

TEST(eviction_sync_runs_off_the_evicting_thread) {
    char *root = tmpdir();
    sl_plog_t *logs[3];
    open_logs(root, logs, 3, 2);
    CHECK(logs[2] != NULL);
    CHECK_EQ_INT(append_batches(logs[0], 2, 5, 1, 1, NULL), SL_OK);
    CHECK_EQ_INT(append_batches(logs[1], 2, 5, 1, 1, NULL), SL_OK);
    gate_reset(true, false);
    /* Evicts logs[0]'s dirty segment; returns while its sync is held at the gate. */
    CHECK_EQ_INT(append_batches(logs[2], 2, 5, 1, 1, NULL), SL_OK);
    CHECK_EQ_INT(syncs_on_evicting, 0);
    CHECK_EQ_INT(sl_segment_evictions_pending(), 1);
    CHECK(sl_segment_open_count() <= 2);
    gate_wait_blocked(1);
    gate_open();
    sl_segment_evictions_drain();
    CHECK_EQ_INT(sl_segment_evictions_pending(), 0);
    CHECK_EQ_INT(syncs_elsewhere, 1);
    CHECK_EQ_INT(syncs_on_evicting, 0);
    /* Its records read back through a reopened descriptor and sync as usual. */
    sl_plog_slice_t s;
    CHECK_EQ_INT(sl_plog_read(logs[0], 5, 10, 1, &s), SL_OK);
    CHECK_EQ_INT(slice_first_base(&s), 5);
    close(s.fd);
    CHECK_EQ_INT(sl_plog_sync(logs[0]), SL_OK);
    CHECK_EQ_INT(sl_plog_durable_offset(logs[0]), 10);
    close_logs(root, logs, 3);
}

TEST(reacquire_waits_for_a_running_eviction_sync_and_keeps_its_error) {
    char *root = tmpdir();
    sl_plog_t *logs[3];
    open_logs(root, logs, 3, 2);
    CHECK(logs[2] != NULL);
    CHECK_EQ_INT(append_batches(logs[0], 2, 5, 1, 1, NULL), SL_OK);
    CHECK_EQ_INT(append_batches(logs[1], 2, 5, 1, 1, NULL), SL_OK);
    gate_reset(true, true);
    CHECK_EQ_INT(append_batches(logs[2], 2, 5, 1, 1, NULL), SL_OK); /* evicts logs[0]'s */
    CHECK_EQ_INT(sl_segment_evictions_pending(), 1);
    gate_wait_blocked(1); /* a worker is inside that sync */
    pthread_t opener;
    CHECK(pthread_create(&opener, NULL, open_gate_later, NULL) == 0);
    /* The sync of logs[0] must wait for the running one and fail with it: a fresh descriptor's
     * fdatasync would report 0 over the lost write-back and make offsets 0-9 "durable". */
    sl_err_t rc = sl_plog_sync(logs[0]);
    bool waited = gate_released();
    pthread_join(opener, NULL);
    CHECK(waited);
    CHECK_EQ_INT(rc, SL_ERR_IO);
    CHECK(sl_plog_failed(logs[0]));
    CHECK_EQ_INT(sl_plog_durable_offset(logs[0]), 0);
    CHECK_EQ_INT(syncs_on_evicting, 0);
    close_logs(root, logs, 3);
}

/* An acks=all sync runs on a dup of the segment's descriptor, which shares the open file with
 * the eviction's: if the eviction's fdatasync took the write-back error, the other reports 0.
 * Its completion must wait for the eviction's result and fail with it, not make offsets durable. */
TEST(sync_end_waits_for_a_failing_eviction_of_the_same_file) {
    char *root = tmpdir();
    sl_plog_t *logs[3];
    open_logs(root, logs, 3, 2);
    CHECK(logs[2] != NULL);
    CHECK_EQ_INT(append_batches(logs[0], 2, 5, 1, 1, NULL), SL_OK);
    int fd = -1, dirs[2];
    int64_t target = -1;
    CHECK_EQ_INT(sl_plog_sync_begin(logs[0], &fd, dirs, &target), SL_OK);
    CHECK(fd >= 0);
    CHECK_EQ_INT(append_batches(logs[1], 2, 5, 1, 1, NULL), SL_OK);
    gate_reset(true, true);
    CHECK_EQ_INT(append_batches(logs[2], 2, 5, 1, 1, NULL), SL_OK); /* evicts logs[0]'s */
    CHECK_EQ_INT(sl_segment_evictions_pending(), 1);
    gate_wait_blocked(1);
    /* The "fsync worker"'s sync of the dup: 0, the error having gone to the eviction's. */
    CHECK_EQ_INT(fdatasync(fd), 0);
    close(fd);
    close_dirs(dirs);
    pthread_t opener;
    CHECK(pthread_create(&opener, NULL, open_gate_later, NULL) == 0);
    sl_err_t rc = sl_plog_sync_end(logs[0], target, SL_OK);
    bool waited = gate_released();
    pthread_join(opener, NULL);
    CHECK(waited);
    CHECK_EQ_INT(rc, SL_ERR_IO);
    CHECK(sl_plog_failed(logs[0]));
    CHECK_EQ_INT(sl_plog_durable_offset(logs[0]), 0);
    close_logs(root, logs, 3);
}

TEST(reacquire_before_the_worker_starts_takes_the_descriptors_back) {
    char *root = tmpdir();
    sl_plog_t *logs[6];
    open_logs(root, logs, 6, 3);
    CHECK(logs[5] != NULL);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(append_batches(logs[i], 2, 5, 1, 1, NULL), SL_OK);
    }
    gate_reset(true, false);
    /* Both workers held at the gate, by the evictions of logs[0]'s and logs[1]'s segments. */
    CHECK_EQ_INT(append_batches(logs[3], 2, 5, 1, 1, NULL), SL_OK);
    CHECK_EQ_INT(append_batches(logs[4], 2, 5, 1, 1, NULL), SL_OK);
    CHECK_EQ_INT(sl_segment_evictions_pending(), 2);
    gate_wait_blocked(2);
    /* Evicts logs[2]'s, whose sync waits in the queue. */
    CHECK_EQ_INT(append_batches(logs[5], 2, 5, 1, 1, NULL), SL_OK);
    CHECK_EQ_INT(sl_segment_evictions_pending(), 3);
    /* logs[2] again before a worker took it: its own descriptors back, no sync, no wait (its
     * return evicts logs[3]'s, queued too). */
    CHECK_EQ_INT(append_batches(logs[2], 1, 5, 1, 1, NULL), SL_OK);
    CHECK(!gate_released());
    CHECK_EQ_INT(sl_segment_evictions_pending(), 3);
    gate_open();
    sl_segment_evictions_drain();
    CHECK_EQ_INT(syncs_on_evicting, 0);
    CHECK_EQ_INT(syncs_elsewhere, 3); /* logs[0], [1] and [3]: not logs[2]'s */
    CHECK_EQ_INT(sl_plog_sync(logs[2]), SL_OK);
    CHECK_EQ_INT(sl_plog_durable_offset(logs[2]), 15);
    sl_plog_slice_t s;
    CHECK_EQ_INT(sl_plog_read(logs[2], 10, 15, 1, &s), SL_OK);
    CHECK_EQ_INT(slice_first_base(&s), 10);
    close(s.fd);
    close_logs(root, logs, 6);
}

/* The last close of a deleted segment frees its page cache and can wait for the disk; it runs on
 * the background closer, never on the thread that deletes (the event loop), and every descriptor
 * is closed in the end. */
#include <pthread.h>
#include <stdatomic.h>

#include "common/os.h"

static pthread_t deleter;
static atomic_int closes_on_deleter, closes_elsewhere;

static int watched_close(int fd) {
    if (pthread_equal(pthread_self(), deleter)) {
        atomic_fetch_add(&closes_on_deleter, 1);
    } else {
        atomic_fetch_add(&closes_elsewhere, 1);
    }
    return close(fd);
}

static int open_fd_count(void) {
    int n = 0;
    for (int fd = 0; fd < 4096; fd++) {
        n += fcntl(fd, F_GETFD) != -1;
    }
    return n;
}

TEST(deleted_segments_close_off_the_deleting_thread) {
    char dir[] = "/tmp/sluice-closer-XXXXXX";
    CHECK(mkdtemp(dir));
    int before = open_fd_count();
    sl_segment_t *segs[8];
    for (int i = 0; i < 8; i++) {
        segs[i] = sl_segment_open(dir, i * 100, true);
        CHECK(segs[i] != NULL);
        CHECK(sl_segment_acquire(segs[i]) == SL_OK); /* its files exist and are open */
    }
    deleter = pthread_self();
    sl_os.close = watched_close;
    for (int i = 0; i < 8; i++) {
        sl_segment_delete(segs[i]);
    }
    sl_os_close_drain();
    usleep(20000); /* the close that was running when the queue emptied */
    sl_os_reset();
    CHECK_EQ_INT(atomic_load(&closes_on_deleter), 0);
    CHECK_EQ_INT(atomic_load(&closes_elsewhere), 24); /* .log, .index, .timeindex each */
    CHECK_EQ_INT(open_fd_count(), before);
    sl_os_rmtree(dir);
}

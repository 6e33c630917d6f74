/* test_plog_replica.c -- what a follower does to its log: verbatim appends of its leader's
 * batches and truncation of a diverged tail (KIP-101), across segments and a reopen. */
#include <unistd.h>

#include "harness.h"
#include "storage_util.h"

/* One batch of `per` records at `base`, stamped with leader epoch `epoch`, CRC valid. */
static void leader_batch(sl_buf_t *b, int per, int64_t base, int32_t epoch) {
    b->len = 0;
    batchgen(b, per, 1000 + base);
    sl_batch_set_base_offset(b->data, base);
    sl_store_be32(b->data + 12, (uint32_t)epoch);
}

TEST(replica_append_keeps_offsets_and_epochs_and_refuses_gaps) {
    char *dir = tmpdir();
    sl_plog_conf_t conf = small_conf();
    conf.log_append_time = true; /* a follower must not restamp the leader's timestamps */
    sl_plog_t *plog;
    char err[SL_ERRLEN];
    CHECK_EQ_INT(sl_plog_open(dir, &conf, 1, &plog, err), SL_OK);
    sl_buf_t b = {0};
    leader_batch(&b, 10, 0, 7);
    uint8_t copy[64];
    memcpy(copy, b.data, sizeof copy);
    CHECK_EQ_INT(sl_plog_append_replica(plog, b.data, b.len, 99999), SL_OK);
    CHECK_EQ_INT(memcmp(copy, b.data, sizeof copy), 0);
    CHECK_EQ_INT(sl_plog_end_offset(plog), 10);
    leader_batch(&b, 5, 11, 7); /* a gap: 10 is missing */
    CHECK_EQ_INT(sl_plog_append_replica(plog, b.data, b.len, 1), SL_ERR_CORRUPT);
    leader_batch(&b, 5, 10, 7);
    b.data[b.len - 1] ^= 1; /* a bad CRC */
    CHECK_EQ_INT(sl_plog_append_replica(plog, b.data, b.len, 1), SL_ERR_CORRUPT);
    CHECK_EQ_INT(sl_plog_end_offset(plog), 10);
    sl_plog_slice_t s;
    CHECK_EQ_INT(sl_plog_read(plog, 0, 10, 1 << 20, &s), SL_OK);
    uint8_t hdr[61];
    CHECK_EQ_INT(pread(s.fd, hdr, sizeof hdr, s.pos), (ssize_t)sizeof hdr);
    CHECK_EQ_INT(memcmp(hdr, copy, sizeof hdr), 0); /* verbatim on disk */
    close(s.fd);
    sl_buf_fini(&b);
    sl_plog_close(plog);
    sl_os_rmtree(dir);
    free(dir);
}

TEST(truncate_cuts_across_segments_and_survives_reopen) {
    char *dir = tmpdir();
    sl_plog_conf_t conf = small_conf();
    sl_plog_t *plog;
    char err[SL_ERRLEN];
    CHECK_EQ_INT(sl_plog_open(dir, &conf, 1, &plog, err), SL_OK);
    CHECK_EQ_INT(append_batches(plog, 100, 10, 5000, 1, NULL), SL_OK);
    CHECK(sl_plog_segment_count(plog) > 3);
    int segs = sl_plog_segment_count(plog);
    CHECK_EQ_INT(sl_plog_truncate(plog, 1000), SL_OK);       /* at the end: nothing */
    CHECK_EQ_INT(sl_plog_truncate(plog, 455), SL_ERR_INVAL); /* inside a batch */
    CHECK_EQ_INT(sl_plog_end_offset(plog), 1000);
    CHECK_EQ_INT(sl_plog_truncate(plog, 450), SL_OK);
    CHECK_EQ_INT(sl_plog_end_offset(plog), 450);
    CHECK_EQ_INT(sl_plog_durable_offset(plog), 450);
    CHECK(sl_plog_segment_count(plog) < segs);
    sl_plog_slice_t s;
    CHECK_EQ_INT(sl_plog_read(plog, 451, 2000, 4096, &s), SL_ERR_LIMIT);
    CHECK_EQ_INT(sl_plog_read(plog, 440, 2000, 1 << 20, &s), SL_OK);
    CHECK_EQ_INT(slice_first_base(&s), 440);
    close(s.fd);
    /* Appends continue from the cut, and a reopen (unclean: no close) sees the same log. */
    int64_t base = -1;
    CHECK_EQ_INT(append_batches(plog, 3, 10, 9000, 1, &base), SL_OK);
    CHECK_EQ_INT(base, 450);
    CHECK_EQ_INT(sl_plog_sync(plog), SL_OK);
    sl_plog_t *again;
    CHECK_EQ_INT(sl_plog_open(dir, &conf, 1, &again, err), SL_OK);
    CHECK_EQ_INT(sl_plog_end_offset(again), 480);
    CHECK_EQ_INT(sl_plog_read(again, 455, 2000, 1, &s), SL_OK);
    CHECK_EQ_INT(slice_first_base(&s), 450);
    close(s.fd);
    sl_plog_discard(again);
    /* Back to the very start. */
    CHECK_EQ_INT(sl_plog_truncate(plog, 0), SL_OK);
    CHECK_EQ_INT(sl_plog_end_offset(plog), 0);
    CHECK_EQ_INT(sl_plog_segment_count(plog), 1);
    CHECK_EQ_INT(append_batches(plog, 1, 10, 1, 1, &base), SL_OK);
    CHECK_EQ_INT(base, 0);
    sl_plog_close(plog);
    sl_os_rmtree(dir);
    free(dir);
}

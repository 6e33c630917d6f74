/* storage_util.h -- helpers shared by the storage tests: temp dirs and appending test batches. */
#ifndef SL_STORAGE_UTIL_H
#define SL_STORAGE_UTIL_H

#include <stdlib.h>
#include <unistd.h>

#include "batchgen.h"
#include "common/os.h"
#include "storage/batch.h"
#include "storage/plog.h"

static inline char *tmpdir(void) {
    char *d = sl_xstrdup("/tmp/sluice-unit-XXXXXX");
    return mkdtemp(d);
}

static inline sl_plog_conf_t small_conf(void) {
    sl_plog_conf_t c;
    sl_plog_conf_default(&c);
    c.segment_bytes = 4096;
    c.index_interval_bytes = 256;
    c.retention_ms = -1;
    return c;
}

/* Appends `n_batches` batches of `per` records; returns the first base offset. */
static inline sl_err_t append_batches(sl_plog_t *plog, int n_batches, int per, int64_t ts,
                                      int64_t now, int64_t *first) {
    for (int i = 0; i < n_batches; i++) {
        sl_buf_t b = {0};
        batchgen(&b, per, ts + i * per);
        int64_t base;
        sl_err_t rc = sl_plog_append(plog, b.data, b.len, now, &base);
        sl_buf_fini(&b);
        if (rc != SL_OK) {
            return rc;
        }
        if (i == 0 && first) {
            *first = base;
        }
    }
    return SL_OK;
}

/* Reads the batch header at the start of a slice. */
static inline int64_t slice_first_base(const sl_plog_slice_t *s) {
    uint8_t hdr[8];
    if (pread(s->fd, hdr, 8, s->pos) != 8) {
        return -1;
    }
    return (int64_t)sl_load_be64(hdr);
}

#endif

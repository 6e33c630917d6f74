/* fuzz_batch.c -- libFuzzer target: RecordBatch v2 parsing and validation (src/storage/batch.c).
 *
 * Input: one flags byte, then record batches back to back, as in a Produce request's records
 * field or a segment file. Flags bit 0: before checking a batch, write the CRC-32C its bytes
 * should have, so that mutations reach the checks behind the CRC instead of stopping at it.
 * The seeds (fuzz/corpus/fuzz_batch/) are the batches real clients sent with every codec,
 * transactional and control batches among them.
 *
 * Every batch goes through each entry of `checks` below. Each entry states what must hold
 * (beyond "no sanitizer report"): a header that parses describes bytes inside the input, a
 * LogAppendTime rewrite leaves a batch whose CRC checks, a control batch built from fields
 * round-trips through sl_batch_control_type, and the produce-path record check
 * (sl_batch_check_records: decompression under a cap, record framing) answers one of its codes
 * without reading or writing past the batch or the cap. */
#include <stdlib.h>
#include <string.h>

#include "common/crc32c.h"
#include "common/util.h"
#include "env.h"
#include "proto/kerr.h"
#include "storage/batch.h"
#include "storage/compress.h"

#define CRC_START 21

typedef void check_fn(const uint8_t *p, size_t len, const sl_batch_info_t *info, bool parsed);

/* The header parse is self-consistent and never claims bytes beyond the input. */
static void check_header(const uint8_t *p, size_t len, const sl_batch_info_t *info, bool parsed) {
    (void)p;
    if (parsed) {
        FZ_CHECK(info->total_bytes <= len && info->total_bytes >= SL_BATCH_HEADER_BYTES,
                 "parsed batch of %zu bytes in %zu", info->total_bytes, len);
        FZ_CHECK(info->record_count >= 0, "record count %d", info->record_count);
    }
}

/* The transaction-marker reader (which skips the CRC, as recovery does) accepts only batches
 * whose header parses. */
static void check_control(const uint8_t *p, size_t len, const sl_batch_info_t *info, bool parsed) {
    (void)info;
    (void)parsed;
    int type = sl_batch_control_type(p, len);
    sl_batch_info_t hdr;
    bool header_ok = sl_batch_parse(p, len, false, &hdr) == SL_OK;
    FZ_CHECK(type == -1 || (header_ok && (type == SL_CONTROL_ABORT || type == SL_CONTROL_COMMIT)),
             "control type %d (header parses: %d)", type, header_ok);
}

/* LogAppendTime topics rewrite timestamps and the CRC in place: the result must check. */
static void check_log_append_time(const uint8_t *p, size_t len, const sl_batch_info_t *info,
                                  bool parsed) {
    (void)len;
    if (!parsed) {
        return;
    }
    uint8_t *copy = malloc(info->total_bytes);
    FZ_CHECK(copy != NULL, "out of memory");
    memcpy(copy, p, info->total_bytes);
    sl_batch_set_log_append_time(copy, info->total_bytes, 1767225600123);
    sl_batch_set_base_offset(copy, 42);
    sl_batch_info_t again;
    FZ_CHECK(sl_batch_parse(copy, info->total_bytes, true, &again) == SL_OK,
             "batch rewritten for LogAppendTime fails its CRC");
    FZ_CHECK(again.base_offset == 42 && again.max_timestamp == 1767225600123 &&
                 (again.attributes & SL_BATCH_ATTR_LOG_APPEND_TIME),
             "rewritten fields not read back");
    free(copy);
}

/* What Produce runs on every batch: codecs, bounded decompression, records. A small cap (1 MiB)
 * makes decompression bombs reachable; the decoder is reused across inputs, as in the broker. */
static void check_records(const uint8_t *p, size_t len, const sl_batch_info_t *info, bool parsed) {
    static sl_decomp_t d;
    static bool init;
    (void)len;
    if (!parsed) {
        return;
    }
    if (!init) {
        sl_decomp_init(&d);
        init = true;
    }
    d.out.len = 0; /* what a previous input left there (an uncompressed batch leaves it alone) */
    int err = sl_batch_check_records(p, info, &d, 1 << 20);
    FZ_CHECK(err == KERR_NONE || err == KERR_UNSUPPORTED_COMPRESSION_TYPE ||
                 err == KERR_CORRUPT_MESSAGE || err == KERR_MESSAGE_TOO_LARGE ||
                 err == KERR_INVALID_RECORD,
             "unexpected record check result %d", err);
    /* The decoder proves a payload too large by reaching cap + 1 bytes, and goes no further; a
     * payload that is also corrupt may be refused for that instead. Never accepted past the cap. */
    FZ_CHECK(d.out.len <= (1 << 20) + 1, "decompressed %zu bytes past the 1 MiB cap", d.out.len);
    FZ_CHECK(d.out.len <= 1 << 20 || err != KERR_NONE,
             "%zu bytes decompressed past the cap, yet accepted", d.out.len);
}

static check_fn *const checks[] = {
    check_header,
    check_control,
    check_log_append_time,
    check_records,
};

/* A control batch built from input bytes round-trips. */
static void check_build_control(const uint8_t *data, size_t size) {
    if (size < 16) {
        return;
    }
    int64_t pid = (int64_t)sl_load_be64(data);
    int16_t epoch = (int16_t)sl_load_be16(data + 8);
    int16_t type = data[10] & 1;
    int32_t coord_epoch = (int32_t)sl_load_be32(data + 11);
    sl_buf_t out = {0};
    sl_batch_build_control(&out, pid, epoch, type, coord_epoch, 1767225600000);
    sl_batch_info_t info;
    FZ_CHECK(sl_batch_parse(out.data, out.len, true, &info) == SL_OK, "built control batch");
    FZ_CHECK(info.producer_id == pid && info.producer_epoch == epoch, "built control fields");
    FZ_CHECK(sl_batch_control_type(out.data, out.len) == type, "built control type");
    sl_buf_fini(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) {
        return 0;
    }
    bool fix_crc = data[0] & 1;
    check_build_control(data + 1, size - 1);
    /* A private copy: the checks may rewrite it, and the CRC fix-up writes to it. */
    uint8_t *buf = malloc(size - 1 ? size - 1 : 1);
    FZ_CHECK(buf != NULL, "out of memory");
    memcpy(buf, data + 1, size - 1);
    size_t pos = 0, len = size - 1;
    while (pos < len) {
        uint8_t *p = buf + pos;
        size_t left = len - pos;
        if (fix_crc && left >= SL_BATCH_HEADER_BYTES) {
            size_t total = (size_t)(int32_t)sl_load_be32(p + 8) + SL_BATCH_LOG_OVERHEAD;
            if (total >= SL_BATCH_HEADER_BYTES && total <= left) {
                sl_store_be32(p + 17, sl_crc32c(0, p + CRC_START, total - CRC_START));
            }
        }
        sl_batch_info_t info;
        memset(&info, 0, sizeof info);
        sl_err_t rc = sl_batch_parse(p, left, true, &info);
        sl_batch_info_t nocrc;
        sl_err_t rc2 = sl_batch_parse(p, left, false, &nocrc);
        FZ_CHECK(rc != SL_OK || rc2 == SL_OK, "passes with the CRC check, fails without");
        bool parsed = rc == SL_OK;
        for (size_t i = 0; i < SL_ARRAY_LEN(checks); i++) {
            checks[i](p, left, &info, parsed);
        }
        if (rc2 != SL_OK) {
            break; /* a reader cannot know where the next batch starts */
        }
        pos += nocrc.total_bytes;
    }
    free(buf);
    return 0;
}

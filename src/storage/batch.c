/* batch.c -- RecordBatch v2 header checks and in-place rewrites (format table in batch.h).
 * The broker never re-encodes records: it checks the header and CRC, then patches the fields
 * outside the CRC (baseOffset) or, for LogAppendTime, the timestamps plus the CRC itself. */
#include "batch.h"

#include "common/crc32c.h"
#include "common/util.h"

#define CRC_START 21

sl_err_t sl_batch_parse(const uint8_t *p, size_t len, bool check_crc, sl_batch_info_t *info) {
    if (len < SL_BATCH_LOG_OVERHEAD) {
        return SL_ERR_TRUNC;
    }
    int32_t batch_length = (int32_t)sl_load_be32(p + 8);
    if (batch_length < SL_BATCH_HEADER_BYTES - SL_BATCH_LOG_OVERHEAD) {
        return SL_ERR_INVAL;
    }
    size_t total = (size_t)batch_length + SL_BATCH_LOG_OVERHEAD;
    if (len < 17) {
        return SL_ERR_TRUNC;
    }
    if (p[16] != 2) {
        return SL_ERR_INVAL;
    }
    if (len < total) {
        return SL_ERR_TRUNC;
    }
    info->base_offset = (int64_t)sl_load_be64(p);
    info->batch_length = batch_length;
    info->total_bytes = total;
    info->attributes = (int16_t)sl_load_be16(p + 21);
    info->last_offset_delta = (int32_t)sl_load_be32(p + 23);
    info->base_timestamp = (int64_t)sl_load_be64(p + 27);
    info->max_timestamp = (int64_t)sl_load_be64(p + 35);
    info->producer_id = (int64_t)sl_load_be64(p + 43);
    info->producer_epoch = (int16_t)sl_load_be16(p + 51);
    info->base_sequence = (int32_t)sl_load_be32(p + 53);
    info->record_count = (int32_t)sl_load_be32(p + 57);
    if (info->record_count < 0 || info->last_offset_delta < 0 ||
        (info->record_count > 0 && info->last_offset_delta < info->record_count - 1)) {
        return SL_ERR_INVAL;
    }
    if (check_crc) {
        uint32_t want = sl_load_be32(p + 17);
        if (sl_crc32c(0, p + CRC_START, total - CRC_START) != want) {
            return SL_ERR_CORRUPT;
        }
    }
    return SL_OK;
}

void sl_batch_set_base_offset(uint8_t *p, int64_t base_offset) {
    sl_store_be64(p, (uint64_t)base_offset);
}

void sl_batch_set_log_append_time(uint8_t *p, size_t total_bytes, int64_t ts) {
    uint16_t attr = sl_load_be16(p + 21);
    sl_store_be16(p + 21, (uint16_t)(attr | SL_BATCH_ATTR_LOG_APPEND_TIME));
    sl_store_be64(p + 27, (uint64_t)ts);
    sl_store_be64(p + 35, (uint64_t)ts);
    sl_store_be32(p + 17, sl_crc32c(0, p + CRC_START, total_bytes - CRC_START));
}

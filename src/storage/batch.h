/* batch.h -- RecordBatch v2 (magic 2) header checks, as stored on disk and sent on the wire.
 *
 *   OFFSET  SIZE  FIELD                  notes
 *        0     8  baseOffset             assigned by the broker; outside the CRC
 *        8     4  batchLength            bytes after this field
 *       12     4  partitionLeaderEpoch   outside the CRC
 *       16     1  magic                  2
 *       17     4  crc                    CRC-32C of bytes 21..end
 *       21     2  attributes             bits 0-2 codec, 3 timestamp type, 4 transactional, 5
 * control 23     4  lastOffsetDelta 27     8  baseTimestamp 35     8  maxTimestamp 43     8
 * producerId 51     2  producerEpoch 53     4  baseSequence 57     4  recordCount 61     …  records
 * (one compressed block when codec != none)
 */
#ifndef SL_BATCH_H
#define SL_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "storage/compress.h"

#define SL_BATCH_HEADER_BYTES 61
#define SL_BATCH_LOG_OVERHEAD 12 /* baseOffset + batchLength */

#define SL_BATCH_ATTR_CODEC_MASK      0x07
#define SL_BATCH_ATTR_LOG_APPEND_TIME 0x08
#define SL_BATCH_ATTR_TRANSACTIONAL   0x10
#define SL_BATCH_ATTR_CONTROL         0x20

typedef struct sl_batch_info {
    int64_t base_offset;
    int32_t batch_length; /* bytes after the batchLength field */
    int32_t leader_epoch; /* partitionLeaderEpoch: the leader's epoch when it appended */
    size_t total_bytes;   /* batch_length + 12 */
    int16_t attributes;
    int32_t last_offset_delta;
    int64_t base_timestamp;
    int64_t max_timestamp;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    int32_t record_count;
} sl_batch_info_t;

/* Parses and checks the batch header at `p` (up to `len` bytes available): magic 2, a batchLength
 * that fits in `len`, at least the header size, record count >= 0 and consistent with
 * lastOffsetDelta, and, when `check_crc`, the CRC-32C. Fills `info`.
 * Returns SL_OK, SL_ERR_TRUNC (fewer bytes than the batch claims: a torn tail on disk),
 * SL_ERR_INVAL (wrong magic or impossible fields) or SL_ERR_CORRUPT (CRC mismatch).
 * Thread: any. */
SL_MUST_USE sl_err_t sl_batch_parse(const uint8_t *p, size_t len, bool check_crc,
                                    sl_batch_info_t *info);

/* Checks what a consumer will decode from a batch that sl_batch_parse accepted (`p`, `info`), as
 * Kafka's broker does before it appends: the codec is one of Kafka's (attributes & 7 <= 4); a
 * compressed payload decompresses (into `d`'s buffer, at most `max_decompressed` bytes); and the
 * records fill the (decompressed) payload exactly: recordCount records, each a varint length that
 * its fields use up exactly (attributes, timestamp delta, offset delta, key and value of length -1
 * or in bounds, header count and headers with a non-negative key length), offset deltas 0, 1, ...
 * in order, and lastOffsetDelta == recordCount - 1 (so an empty batch is refused, as Kafka does).
 * An uncompressed batch is only read, never copied.
 * Returns a Kafka error code: KERR_NONE, KERR_UNSUPPORTED_COMPRESSION_TYPE (codec 5-7),
 * KERR_CORRUPT_MESSAGE (the payload is not valid data for its codec), KERR_MESSAGE_TOO_LARGE (it
 * decompresses to more than `max_decompressed` bytes: a decompression bomb, or a batch the
 * producer should split) or KERR_INVALID_RECORD (record framing, count or offsets wrong).
 * Thread: the owner of `d`. */
int sl_batch_check_records(const uint8_t *p, const sl_batch_info_t *info, sl_decomp_t *d,
                           size_t max_decompressed);

/* The records among the `count` in `recs` (`len` bytes, decompressed, already checked by
 * sl_batch_check_records) that have no key: topics with cleanup.policy=compact refuse them, as
 * Kafka does, naming each one in the Produce response (KIP-467). Writes the indexes (0 = the
 * batch's first record) of the first `cap` of them to `idx` (which may be NULL when `cap` is 0)
 * and returns how many there are in all, or -1 when the records do not decode. Thread: any. */
int32_t sl_batch_keyless_records(const uint8_t *recs, size_t len, int32_t count, int32_t *idx,
                                 int32_t cap);
/* The first record of a batch that sl_batch_parse accepted (`p`, `info`, the whole batch in
 * memory) whose offset is at least `min_offset` and whose timestamp is at least `ts`: writes its
 * offset and timestamp, or -1 for both when the batch has none. Records of a LogAppendTime batch
 * all carry the batch's maxTimestamp, as Kafka reads them. A compressed payload is decompressed
 * into `d` (at most `max_decompressed` bytes). Returns SL_OK, or SL_ERR_CORRUPT for a payload or
 * record framing that does not decode (the log holds only checked batches, so that is damage).
 * Thread: the owner of `d`. */
SL_MUST_USE sl_err_t sl_batch_find_record_time(const uint8_t *p, const sl_batch_info_t *info,
                                               sl_decomp_t *d, size_t max_decompressed,
                                               int64_t min_offset, int64_t ts, int64_t *offset_out,
                                               int64_t *timestamp_out);

/* Writes baseOffset into a batch's header in place. */
void sl_batch_set_base_offset(uint8_t *p, int64_t base_offset);
/* For LogAppendTime topics: sets the timestamp-type bit, baseTimestamp and maxTimestamp to `ts`
 * and recomputes the CRC (the clients check it). */
void sl_batch_set_log_append_time(uint8_t *p, size_t total_bytes, int64_t ts);

/* Control records (transaction markers). */
#define SL_CONTROL_ABORT  0
#define SL_CONTROL_COMMIT 1

/* Appends a control batch (one marker record of `type`) to `out`, base offset 0. */
void sl_batch_build_control(sl_buf_t *out, int64_t producer_id, int16_t producer_epoch,
                            int16_t type, int32_t coordinator_epoch, int64_t ts);
/* The marker type (SL_CONTROL_ABORT / SL_CONTROL_COMMIT) of the control batch at `p` (`len`
 * bytes available), or -1 if it is not a well-formed control batch. */
int sl_batch_control_type(const uint8_t *p, size_t len);

#endif

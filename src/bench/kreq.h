/* kreq.h -- the Kafka bytes of the many-connection producer (driver_kraw.c): one Produce v7
 * request carrying one uncompressed RecordBatch v2 for one partition, built record by record in
 * place, and the decoding of its response.
 *
 * Request frame (big-endian; v7 is the last version before flexible encodings):
 *   int32 size | int16 api_key 0 | int16 api_version 7 | int32 correlation_id | string client_id
 *   nullable string transactional_id (null) | int16 acks | int32 timeout_ms
 *   [topics: string name [partitions: int32 index | bytes records]]   (one topic, one partition)
 * The records are one RecordBatch v2 (layout in storage/batch.h): magic 2, CRC-32C over the bytes
 * from attributes to the end, producerId -1 (not idempotent), each record
 *   varint length | int8 attributes | varlong timestampDelta | varint offsetDelta
 *   varint keyLength | key | varint valueLength | value | varint headerCount 0
 * Response v7: int32 correlation_id | [topics: string name [partitions: int32 index
 *   int16 error_code | int64 base_offset | int64 log_append_time | int64 log_start_offset]]
 *   int32 throttle_time_ms.
 * Thread: any (no shared state). */
#ifndef SL_KREQ_H
#define SL_KREQ_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

#define SL_KREQ_API_VERSION 7

typedef struct sl_kreq {
    sl_buf_t buf;      /* the frame being built (size prefix included) */
    int32_t n;         /* records so far */
    int64_t base_ts;   /* timestamp of record 0, ms */
    int64_t max_ts;    /* largest timestamp */
    size_t corr_at;    /* offsets of fields patched by sl_kreq_finish */
    size_t records_at; /* the records' int32 byte length */
} sl_kreq_t;

/* Starts a request for `topic`/`partition` in `q` (whose buffer must be empty). */
void sl_kreq_begin(sl_kreq_t *q, const char *client_id, int16_t acks, int32_t timeout_ms,
                   const char *topic, int32_t partition);
/* Appends one record with timestamp `ts_ms` (not before the first record's). */
void sl_kreq_add(sl_kreq_t *q, int64_t ts_ms, const void *key, size_t klen, const void *val,
                 size_t vlen);
/* Completes the frame: correlation id, sizes, batch header and CRC. The frame is q->buf. */
void sl_kreq_finish(sl_kreq_t *q, int32_t correlation_id);
/* Bytes the frame would have after one more record of these sizes. */
size_t sl_kreq_size_with(const sl_kreq_t *q, size_t klen, size_t vlen);

/* Decodes a Produce v7 response (the bytes after the size prefix): its correlation id and the
 * first non-zero partition error code (0 when every partition succeeded; a response with no
 * partition at all is reported as SL_ERR_INVAL). Returns SL_OK or SL_ERR_TRUNC/SL_ERR_INVAL. */
SL_MUST_USE sl_err_t sl_kresp_decode(const uint8_t *p, size_t len, int32_t *correlation_id,
                                     int16_t *error_code);

#endif

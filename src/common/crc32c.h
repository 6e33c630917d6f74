/* crc32c.h -- CRC-32C (Castagnoli), the checksum of Kafka RecordBatch v2. */
#ifndef SL_CRC32C_H
#define SL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extends `crc` (0 to start) over `n` bytes. Uses SSE4.2 when the CPU has it. Thread: any. */
uint32_t sl_crc32c(uint32_t crc, const void *p, size_t n);

#endif

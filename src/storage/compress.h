/* compress.h -- bounded decompression of record-batch payloads (Kafka codecs 1-4), for checking
 * what producers send, and compression for the log cleaner (storage/cleaner.c), which rewrites a
 * compressed batch it filtered with the batch's own codec. Appends are stored as received.
 *
 *   codec  format (as Kafka clients write it)
 *       1  gzip (RFC 1952; concatenated members allowed), zlib's inflate
 *       2  snappy: the xerial snappy-java framing (magic 0x82 "SNAPPY" 0, version, compat, then
 *          blocks of [int32 BE length][raw snappy]) or one plain raw snappy block (librdkafka
 *          accepts both), libsnappy
 *       3  lz4: the LZ4 frame format (one or more frames), liblz4's lz4frame
 *       4  zstd: one or more zstd frames, libzstd's streaming decoder
 *
 * Output never grows past the caller's cap: the decoders stream into a bounded buffer and stop as
 * soon as one more byte would pass it, so a decompression bomb costs at most `cap` bytes of memory
 * and the time to produce them. */
#ifndef SL_COMPRESS_H
#define SL_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

#define SL_CODEC_NONE   0
#define SL_CODEC_GZIP   1
#define SL_CODEC_SNAPPY 2
#define SL_CODEC_LZ4    3
#define SL_CODEC_ZSTD   4

/* Decoder state reused across batches: the output buffer keeps its memory (up to a limit, see
 * sl_decomp_run), and the gzip/lz4/zstd contexts are created once and reset per payload, so the
 * steady state allocates nothing. Owned by one thread. */
typedef struct sl_decomp {
    sl_buf_t out; /* the last payload's decompressed bytes (out.len of them) */
    void *zs;     /* z_stream, created on first gzip use */
    void *lz4;    /* LZ4F_dctx */
    void *zstd;   /* ZSTD_DCtx */
} sl_decomp_t;

void sl_decomp_init(sl_decomp_t *d);
/* Frees the buffer and every context; `d` may be initialised again afterwards. */
void sl_decomp_fini(sl_decomp_t *d);

/* Whether `codec` (attributes & 7) is one of Kafka's codecs, none included. */
static inline int sl_codec_known(int codec) {
    return codec >= SL_CODEC_NONE && codec <= SL_CODEC_ZSTD;
}

/* Decompresses `len` bytes at `in`, compressed with `codec` (1-4), into d->out (replacing what was
 * there), producing at most `cap` bytes. Returns SL_OK (d->out.len bytes), SL_ERR_LIMIT (the
 * output would pass `cap`: a decompression bomb, or a batch larger than allowed), SL_ERR_CORRUPT
 * (not valid data for the codec: bad header or checksum, truncated, trailing bytes) or
 * SL_ERR_INVAL (codec is not 1-4). Thread: the owner of `d`. */
SL_MUST_USE sl_err_t sl_decomp_run(sl_decomp_t *d, int codec, const uint8_t *in, size_t len,
                                   size_t cap);

/* Compresses `len` bytes at `in` with `codec` (1-4) onto the end of `out`, in the format Kafka's
 * clients read: gzip (one member), snappy in the xerial framing (32 KiB blocks), an LZ4 frame with
 * independent 64 KiB blocks, one zstd frame (level 3). Returns SL_OK, SL_ERR_INVAL (codec is not
 * 1-4) or SL_ERR_IO (the library failed: out of memory). Thread: any. */
SL_MUST_USE sl_err_t sl_comp_run(int codec, const uint8_t *in, size_t len, sl_buf_t *out);

#endif

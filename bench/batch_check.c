/* batch_check.c -- what the produce-path record-batch checks cost, per codec, without a broker:
 * builds a batch of about BATCH bytes of records (payload "x": one repeated byte, as producer_perf
 * sends; or "mix": the design's JSON events from src/bench/payload.c), compresses it with each
 * codec's library encoder at its default level, then times sl_batch_parse with its CRC-32C (what
 * produce already paid) and sl_batch_check_records (decompression plus the record walk).
 *   batch_check [-s SIZE] [-b BATCH] [-p x|mix] [-r REPEAT]
 * Prints per codec: compressed size, ns per record and uncompressed MB/s of each step. */
#include <getopt.h>
#include <lz4frame.h>
#include <snappy-c.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "bench/payload.h"
#include "bench_util.h"
#include "common/buf.h"
#include "common/codec.h"
#include "common/crc32c.h"
#include "common/util.h"
#include "proto/kerr.h"
#include "storage/batch.h"

static void encode(sl_buf_t *out, int codec, const sl_buf_t *in) {
    out->len = 0;
    size_t n = 0;
    if (codec == SL_CODEC_GZIP) {
        z_stream zs = {0};
        deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
        sl_buf_reserve(out, deflateBound(&zs, in->len));
        zs.next_in = in->data;
        zs.avail_in = (uInt)in->len;
        zs.next_out = out->data;
        zs.avail_out = (uInt)out->cap;
        SL_ASSERT(deflate(&zs, Z_FINISH) == Z_STREAM_END);
        n = zs.total_out;
        deflateEnd(&zs);
    } else if (codec == SL_CODEC_SNAPPY) {
        n = snappy_max_compressed_length(in->len);
        sl_buf_reserve(out, n);
        SL_ASSERT(snappy_compress((const char *)in->data, in->len, (char *)out->data, &n) ==
                  SNAPPY_OK);
    } else if (codec == SL_CODEC_LZ4) {
        sl_buf_reserve(out, LZ4F_compressFrameBound(in->len, NULL));
        n = LZ4F_compressFrame(out->data, out->cap, in->data, in->len, NULL);
        SL_ASSERT(!LZ4F_isError(n));
    } else if (codec == SL_CODEC_ZSTD) {
        sl_buf_reserve(out, ZSTD_compressBound(in->len));
        n = ZSTD_compress(out->data, out->cap, in->data, in->len, ZSTD_CLEVEL_DEFAULT);
        SL_ASSERT(!ZSTD_isError(n));
    } else {
        sl_buf_append(out, in->data, in->len);
        n = in->len;
    }
    out->len = n;
}

static void wrap(sl_buf_t *out, const sl_buf_t *payload, int codec, int32_t count) {
    sl_writer_t wr = {out};
    out->len = 0;
    sl_wr_i64(&wr, 0);
    size_t len_at = sl_wr_i32(&wr, 0);
    sl_wr_i32(&wr, -1);
    sl_wr_i8(&wr, 2);
    size_t crc_at = sl_wr_i32(&wr, 0);
    sl_wr_i16(&wr, (int16_t)codec);
    sl_wr_i32(&wr, count - 1);
    sl_wr_i64(&wr, 1);
    sl_wr_i64(&wr, 1);
    sl_wr_i64(&wr, -1);
    sl_wr_i16(&wr, -1);
    sl_wr_i32(&wr, -1);
    sl_wr_i32(&wr, count);
    sl_wr_raw(&wr, payload->data, payload->len);
    sl_wr_patch_i32(&wr, len_at, (int32_t)(out->len - 12));
    sl_wr_patch_i32(&wr, crc_at, (int32_t)sl_crc32c(0, out->data + 21, out->len - 21));
}

int main(int argc, char **argv) {
    int size = 100, batch = 1000000, repeat = 200, c;
    const char *kind = "x";
    while ((c = getopt(argc, argv, "s:b:p:r:")) != -1) {
        switch (c) {
        case 's':
            size = atoi(optarg);
            break;
        case 'b':
            batch = atoi(optarg);
            break;
        case 'p':
            kind = optarg;
            break;
        case 'r':
            repeat = atoi(optarg);
            break;
        default:
            return 2;
        }
    }
    bool mix = !strcmp(kind, "mix");
    if (size < 1 || batch < size || (mix && size < SL_PAYLOAD_MIN)) {
        fprintf(stderr, "batch_check: need 1 <= SIZE <= BATCH (SIZE >= %d for mix)\n",
                SL_PAYLOAD_MIN);
        return 2;
    }
    sl_payload_spec_t spec;
    char err[SL_ERRLEN];
    sl_payload_gen_t *gen = NULL;
    if (mix) {
        if (sl_payload_spec_init(&spec, "mix", "", size, 0, "0", 1, err) != SL_OK) {
            fprintf(stderr, "batch_check: %s\n", err);
            return 2;
        }
        gen = sl_payload_gen_new(&spec, 0);
    }
    uint8_t *val = sl_xmalloc((size_t)size);
    memset(val, 'x', (size_t)size);
    sl_buf_t recs = {0};
    sl_writer_t rw = {&recs};
    int32_t n = 0;
    while (recs.len + (size_t)size + 16 <= (size_t)batch) {
        const uint8_t *v = val;
        if (gen) {
            sl_payload_next(gen, (uint64_t)n, 1700000000000 + n, (uint64_t)n % 1000, NULL);
            v = sl_payload_buf(gen);
        }
        sl_buf_t one = {0};
        sl_writer_t w = {&one};
        sl_wr_i8(&w, 0);
        sl_wr_varint(&w, n); /* timestamp delta */
        sl_wr_varint(&w, n); /* offset delta */
        sl_wr_varint(&w, -1);
        sl_wr_varint(&w, size);
        sl_wr_raw(&w, v, (size_t)size);
        sl_wr_varint(&w, 0);
        sl_wr_varint(&rw, (int64_t)one.len);
        sl_wr_raw(&rw, one.data, one.len);
        sl_buf_fini(&one);
        n++;
    }
    printf("%d records of %d B (payload %s), %zu B uncompressed, %d repeats\n", n, size, kind,
           recs.len, repeat);
    printf("%-7s %10s %8s %16s %22s\n", "codec", "batch B", "ratio", "CRC ns/rec",
           "check ns/rec (MB/s)");
    sl_decomp_t d;
    sl_decomp_init(&d);
    const char *names[] = {"none", "gzip", "snappy", "lz4", "zstd"};
    sl_buf_t z = {0}, b = {0};
    for (int codec = SL_CODEC_NONE; codec <= SL_CODEC_ZSTD; codec++) {
        encode(&z, codec, &recs);
        wrap(&b, &z, codec, n);
        sl_batch_info_t info;
        int64_t t0 = now_ns();
        for (int i = 0; i < repeat; i++) {
            SL_ASSERT(sl_batch_parse(b.data, b.len, true, &info) == SL_OK);
        }
        int64_t t1 = now_ns();
        for (int i = 0; i < repeat; i++) {
            SL_ASSERT(sl_batch_check_records(b.data, &info, &d, 64u << 20) == KERR_NONE);
        }
        int64_t t2 = now_ns();
        double per = (double)repeat * n;
        printf("%-7s %10zu %7.1fx %16.1f %12.1f (%6.0f)\n", names[codec], b.len,
               (double)recs.len / (double)z.len, (double)(t1 - t0) / per, (double)(t2 - t1) / per,
               (double)recs.len * repeat / ((double)(t2 - t1) / 1e9) / 1e6);
    }
    sl_decomp_fini(&d);
    sl_buf_fini(&z);
    sl_buf_fini(&b);
    sl_buf_fini(&recs);
    sl_payload_gen_free(gen);
    free(val);
    return 0;
}

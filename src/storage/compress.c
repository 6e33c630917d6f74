/* compress.c -- bounded decompression for record-batch checks (formats in compress.h).
 *
 * Every decoder writes into d->out through room(), which grows the buffer toward `limit` = cap + 1
 * bytes and refuses past it: reaching cap + 1 bytes proves the payload is larger than allowed,
 * without ever holding more. */
#include "compress.h"

#include <lz4frame.h>
#include <snappy-c.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "common/util.h"

#define GROW_MIN      (64 * 1024)
#define KEEP_MAX      (16u * 1024 * 1024) /* a larger buffer is released before the next payload */
#define ZSTD_WLOG_MIN 10                  /* zstd's smallest window (ZSTD_WINDOWLOG_ABSOLUTEMIN) */
#define ZSTD_WLOG_MAX 27                  /* zstd's default decoder limit (128 MiB) */

static const uint8_t xerial_magic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
#define XERIAL_HEADER 16 /* magic, int32 version, int32 compatible version */

void sl_decomp_init(sl_decomp_t *d) {
    memset(d, 0, sizeof *d);
}

void sl_decomp_fini(sl_decomp_t *d) {
    sl_buf_fini(&d->out);
    if (d->zs) {
        inflateEnd(d->zs);
        free(d->zs);
    }
    if (d->lz4) {
        LZ4F_freeDecompressionContext(d->lz4);
    }
    ZSTD_freeDCtx(d->zstd); /* NULL is a no-op */
    memset(d, 0, sizeof *d);
}

/* Bytes that may be written at the end of d->out without passing `limit`, after growing the buffer
 * if it is full. 0 means the output has reached `limit`. */
static size_t room(sl_decomp_t *d, size_t limit) {
    sl_buf_t *o = &d->out;
    if (o->len >= limit) {
        return 0;
    }
    if (o->cap == o->len) {
        size_t want = o->len < GROW_MIN ? GROW_MIN : o->len;
        sl_buf_reserve(o, want < limit - o->len ? want : limit - o->len);
    }
    size_t end = o->cap < limit ? o->cap : limit;
    return end - o->len;
}

static sl_err_t run_gzip(sl_decomp_t *d, const uint8_t *in, size_t len, size_t limit) {
    z_stream *zs = d->zs;
    if (!zs) {
        zs = sl_xcalloc(1, sizeof *zs);
        int rc =
            inflateInit2(zs, 16 + MAX_WBITS); /* gzip wrapper only, as Kafka's GZIPInputStream */
        SL_ASSERT(rc == Z_OK);                /* fails only without memory */
        d->zs = zs;
    } else {
        inflateReset(zs);
    }
    if (len > UINT32_MAX) {
        return SL_ERR_LIMIT;
    }
    zs->next_in = (Bytef *)(uintptr_t)in;
    zs->avail_in = (uInt)len;
    for (;;) {
        size_t avail = room(d, limit);
        if (avail == 0) {
            return SL_ERR_LIMIT;
        }
        if (avail > UINT32_MAX) {
            avail = UINT32_MAX;
        }
        zs->next_out = d->out.data + d->out.len;
        zs->avail_out = (uInt)avail;
        int rc = inflate(zs, Z_NO_FLUSH);
        d->out.len += avail - zs->avail_out;
        if (rc == Z_STREAM_END) {
            if (zs->avail_in == 0) {
                return SL_OK;
            }
            inflateReset(zs); /* another gzip member follows */
        } else if (rc == Z_BUF_ERROR && zs->avail_out > 0) {
            return SL_ERR_CORRUPT; /* the input ended inside a member */
        } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
            return SL_ERR_CORRUPT; /* bad header, data or checksum */
        }
    }
}

static sl_err_t run_zstd(sl_decomp_t *d, const uint8_t *in, size_t len, size_t limit) {
    if (!d->zstd) {
        d->zstd = ZSTD_createDCtx();
        SL_ASSERT(d->zstd);
    }
    ZSTD_DCtx *z = d->zstd;
    ZSTD_DCtx_reset(z, ZSTD_reset_session_only);
    /* No window needs to be larger than the output allowed: refuse frames that would make the
     * decoder allocate more. */
    int wlog = ZSTD_WLOG_MIN;
    while (wlog < ZSTD_WLOG_MAX && ((size_t)1 << wlog) < limit) {
        wlog++;
    }
    ZSTD_DCtx_setParameter(z, ZSTD_d_windowLogMax, wlog);
    ZSTD_inBuffer ib = {in, len, 0};
    size_t hint = 1; /* nonzero: a frame is unfinished */
    while (ib.pos < ib.size || hint != 0) {
        size_t avail = room(d, limit);
        if (avail == 0) {
            return SL_ERR_LIMIT;
        }
        ZSTD_outBuffer ob = {d->out.data + d->out.len, avail, 0};
        hint = ZSTD_decompressStream(z, &ob, &ib);
        d->out.len += ob.pos;
        if (ZSTD_isError(hint)) {
            return SL_ERR_CORRUPT;
        }
        if (hint != 0 && ib.pos == ib.size && ob.pos < ob.size) {
            return SL_ERR_CORRUPT; /* wants more input: truncated frame */
        }
    }
    return SL_OK;
}

static sl_err_t run_lz4(sl_decomp_t *d, const uint8_t *in, size_t len, size_t limit) {
    if (!d->lz4) {
        LZ4F_dctx *c = NULL;
        LZ4F_errorCode_t rc = LZ4F_createDecompressionContext(&c, LZ4F_VERSION);
        SL_ASSERT(!LZ4F_isError(rc));
        d->lz4 = c;
    } else {
        LZ4F_resetDecompressionContext(d->lz4);
    }
    size_t pos = 0, hint = 1; /* nonzero: a frame is unfinished */
    while (pos < len || hint != 0) {
        size_t avail = room(d, limit);
        if (avail == 0) {
            return SL_ERR_LIMIT;
        }
        size_t dst = avail, src = len - pos;
        hint = LZ4F_decompress(d->lz4, d->out.data + d->out.len, &dst, in + pos, &src, NULL);
        if (LZ4F_isError(hint)) {
            return SL_ERR_CORRUPT;
        }
        pos += src;
        d->out.len += dst;
        if (hint != 0 && pos == len && dst < avail) {
            return SL_ERR_CORRUPT; /* wants more input: truncated frame */
        }
    }
    return SL_OK;
}

/* One raw snappy block, appended to d->out. */
static sl_err_t snappy_block(sl_decomp_t *d, const uint8_t *in, size_t len, size_t limit) {
    size_t n;
    if (snappy_uncompressed_length((const char *)in, len, &n) != SNAPPY_OK) {
        return SL_ERR_CORRUPT;
    }
    if (n >= limit - d->out.len) {
        return SL_ERR_LIMIT;
    }
    sl_buf_reserve(&d->out, n);
    size_t got = n;
    if (snappy_uncompress((const char *)in, len, (char *)d->out.data + d->out.len, &got) !=
            SNAPPY_OK ||
        got != n) {
        return SL_ERR_CORRUPT;
    }
    d->out.len += n;
    return SL_OK;
}

static sl_err_t run_snappy(sl_decomp_t *d, const uint8_t *in, size_t len, size_t limit) {
    if (len < XERIAL_HEADER || memcmp(in, xerial_magic, sizeof xerial_magic) != 0) {
        return snappy_block(d, in, len, limit); /* plain raw snappy, as librdkafka accepts */
    }
    size_t pos = XERIAL_HEADER;
    while (pos < len) {
        if (len - pos < 4) {
            return SL_ERR_CORRUPT;
        }
        size_t n = sl_load_be32(in + pos);
        pos += 4;
        if (n > len - pos) {
            return SL_ERR_CORRUPT;
        }
        sl_err_t rc = snappy_block(d, in + pos, n, limit);
        if (rc != SL_OK) {
            return rc;
        }
        pos += n;
    }
    return SL_OK;
}

sl_err_t sl_decomp_run(sl_decomp_t *d, int codec, const uint8_t *in, size_t len, size_t cap) {
    if (d->out.cap > KEEP_MAX) {
        sl_buf_fini(&d->out); /* one large batch does not pin its memory for good */
    }
    d->out.len = 0;
    size_t limit = cap < SIZE_MAX ? cap + 1 : cap;
    sl_err_t rc;
    switch (codec) {
    case SL_CODEC_GZIP:
        rc = run_gzip(d, in, len, limit);
        break;
    case SL_CODEC_SNAPPY:
        rc = run_snappy(d, in, len, limit);
        break;
    case SL_CODEC_LZ4:
        rc = run_lz4(d, in, len, limit);
        break;
    case SL_CODEC_ZSTD:
        rc = run_zstd(d, in, len, limit);
        break;
    default:
        return SL_ERR_INVAL;
    }
    if (rc == SL_OK && d->out.len > cap) {
        rc = SL_ERR_LIMIT;
    }
    return rc;
}

static sl_err_t comp_gzip(const uint8_t *in, size_t len, sl_buf_t *out) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (len > UINT32_MAX || deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8,
                                         Z_DEFAULT_STRATEGY) != Z_OK) {
        return SL_ERR_IO;
    }
    size_t bound = deflateBound(&zs, (uLong)len);
    sl_buf_reserve(out, bound);
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)len;
    zs.next_out = out->data + out->len;
    zs.avail_out = (uInt)bound;
    int rc = deflate(&zs, Z_FINISH);
    out->len += bound - zs.avail_out;
    deflateEnd(&zs);
    return rc == Z_STREAM_END ? SL_OK : SL_ERR_IO;
}

#define XERIAL_BLOCK (32 * 1024)

static sl_err_t comp_snappy(const uint8_t *in, size_t len, sl_buf_t *out) {
    uint8_t hdr[XERIAL_HEADER];
    memcpy(hdr, xerial_magic, sizeof xerial_magic);
    sl_store_be32(hdr + 8, 1);  /* version */
    sl_store_be32(hdr + 12, 1); /* compatible version */
    sl_buf_append(out, hdr, sizeof hdr);
    for (size_t pos = 0; pos < len;) {
        size_t n = len - pos < XERIAL_BLOCK ? len - pos : XERIAL_BLOCK;
        size_t max = snappy_max_compressed_length(n);
        sl_buf_reserve(out, 4 + max);
        size_t got = max;
        if (snappy_compress((const char *)in + pos, n, (char *)out->data + out->len + 4, &got) !=
            SNAPPY_OK) {
            return SL_ERR_IO;
        }
        sl_store_be32(out->data + out->len, (uint32_t)got);
        out->len += 4 + got;
        pos += n;
    }
    return SL_OK;
}

static sl_err_t comp_lz4(const uint8_t *in, size_t len, sl_buf_t *out) {
    LZ4F_preferences_t prefs;
    memset(&prefs, 0, sizeof prefs);
    prefs.frameInfo.blockSizeID = LZ4F_max64KB;
    prefs.frameInfo.blockMode = LZ4F_blockIndependent; /* what Kafka's Java reader supports */
    size_t bound = LZ4F_compressFrameBound(len, &prefs);
    sl_buf_reserve(out, bound);
    size_t n = LZ4F_compressFrame(out->data + out->len, bound, in, len, &prefs);
    if (LZ4F_isError(n)) {
        return SL_ERR_IO;
    }
    out->len += n;
    return SL_OK;
}

static sl_err_t comp_zstd(const uint8_t *in, size_t len, sl_buf_t *out) {
    size_t bound = ZSTD_compressBound(len);
    sl_buf_reserve(out, bound);
    size_t n = ZSTD_compress(out->data + out->len, bound, in, len, 3);
    if (ZSTD_isError(n)) {
        return SL_ERR_IO;
    }
    out->len += n;
    return SL_OK;
}

sl_err_t sl_comp_run(int codec, const uint8_t *in, size_t len, sl_buf_t *out) {
    switch (codec) {
    case SL_CODEC_GZIP:
        return comp_gzip(in, len, out);
    case SL_CODEC_SNAPPY:
        return comp_snappy(in, len, out);
    case SL_CODEC_LZ4:
        return comp_lz4(in, len, out);
    case SL_CODEC_ZSTD:
        return comp_zstd(in, len, out);
    default:
        return SL_ERR_INVAL;
    }
}

/* err.h -- sluice's one error type.
 *
 * Negative values are internal conditions; 0 is success; positive values are Kafka protocol error
 * codes (proto/kerr.h) that travel to clients unchanged. Functions that can fail return sl_err_t
 * and are marked SL_MUST_USE. */
#ifndef SL_ERR_H
#define SL_ERR_H

#define SL_MUST_USE     __attribute__((warn_unused_result))
#define SL_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define SL_UNUSED       __attribute__((unused))

typedef enum sl_err {
    SL_OK = 0,
    SL_AGAIN = -1,       /* not an error: need more bytes, or would block */
    SL_ERR_TRUNC = -2,   /* input ended early */
    SL_ERR_INVAL = -3,   /* input is malformed or out of range */
    SL_ERR_LIMIT = -4,   /* a configured bound would be exceeded */
    SL_ERR_CORRUPT = -5, /* on-disk data failed a check (CRC, range) */
    SL_ERR_IO = -6,      /* system call failed; errno was logged where it happened */
    SL_ERR_NOSPACE = -7, /* disk full */
    SL_ERR_EXISTS = -8,  /* the thing to create is already there */
    SL_ERR_NOTFOUND = -9 /* the thing asked for is not there */
} sl_err_t;

#define SL_ERRLEN 256

/* Returns a static, human-readable name for `err` (internal or Kafka). Thread: any. */
const char *sl_err_str(int err);

#endif
